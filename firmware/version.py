# Firmware version, reported in the HELLO reply.
FIRMWARE_VERSION = "0.1.0"
