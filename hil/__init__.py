"""Hardware-in-the-loop harness for the hemoadsorption controller.

Runs the firmware on a virtual board (the MicroPython unix port on a
pseudo-terminal) or on a real Pico over a serial port, and closes the loop
with the plant models of :mod:`host` in virtual time.
"""
