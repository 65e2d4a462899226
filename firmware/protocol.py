# Protocol v1 framing (docs/protocol.md): header, CRC-8 of the header,
# payload, CRC-32 of header and payload. Layouts of the fixed payloads.

try:
    from binascii import crc32
except ImportError:  # a port built without it
    crc32 = None

SOF = 0xA5
VERSION = 1
HEADER_LEN = 8
TRAILER_LEN = 4
MAX_PAYLOAD = 4096
MAX_SAMPLES = 400          # control periods per STEP frame
SAMPLE_CHANNELS = 5        # p_access, p_pre, p_return, q_blood, flags
STEP_HEAD = 8              # tick0 u32, n u16, flags u16
# STEP flags. AHEAD: the host wrote this frame before it had the reply to
# the one before, on the assumption that the board would run that frame to
# its end without a change; the board refuses it (N_AHEAD) otherwise.
STEP_AHEAD = 1
SAMPLE_BYTES = SAMPLE_CHANNELS * 2
# The longest frame a host may send: a STEP with MAX_SAMPLES samples.
MAX_FRAME = HEADER_LEN + STEP_HEAD + MAX_SAMPLES * SAMPLE_BYTES + TRAILER_LEN
# A frame whose bytes stop coming for this long is given up (a byte at
# 115,200 baud takes 0.09 ms; USB and a pty deliver a whole frame at once).
FRAME_TIMEOUT_MS = 200

# Frame types, host -> board; a reply has the same type | 0x80.
T_HELLO = 0x01
T_STATUS = 0x02
T_DIAG = 0x03
T_LOG = 0x04               # the alarm log, as JSON
T_STEP = 0x10
T_CMD = 0x20
REPLY = 0x80
T_NAK = 0x7F
T_BOOT = 0x7E              # board -> host, unsolicited, once at every boot

# NAK reasons
N_HEADER = 1    # reserved: a header with a wrong check byte is skipped, never answered
N_CRC = 2       # frame CRC-32 wrong
N_VERSION = 3   # protocol version not supported
N_TYPE = 4      # unknown frame type
N_LENGTH = 5    # payload length impossible for the type
N_TICK = 6      # STEP does not continue from the board's tick
N_PAYLOAD = 7   # payload fields invalid
N_MODE = 8      # frame type not served by this HAL
N_AHEAD = 9     # STEP sent ahead, but the frame before did not run to its end unchanged

# Status block carried by every STEP/CMD/STATUS reply.
STATUS_FMT = "<IBBBBHHHHIIIIHH"
STATUS_LEN = 36
REPLY_HEAD_FMT = "<HBB"     # consumed (STEP) or code|result<<8 (CMD), n_events, reserved
REPLY_HEAD_LEN = 4
EVENT_FMT = "<IBBhi"
EVENT_LEN = 12
CMD_FMT = "<BBHi"           # code, reserved, reserved, argument
CMD_LEN = 8
NAK_FMT = "<BB"             # reason, type of the refused frame
# The longest STEP, CMD or STATUS reply: a full event queue (the
# controller's 32 events) after the status block.
PREV_REPLY_MAX = HEADER_LEN + REPLY_HEAD_LEN + STATUS_LEN + 32 * EVENT_LEN + TRAILER_LEN

# Status flags
F_CLAMP_OPEN = 1
F_AUDIBLE = 2
F_HEPARIN_HOLD = 4


def _crc8_table():
    t = bytearray(256)
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        t[i] = c
    return bytes(t)


_CRC8 = _crc8_table()


def crc8(buf, n, off=0):
    # CRC-8/SMBUS (poly 0x07, init 0) of the n bytes of buf from off.
    c = 0
    t = _CRC8
    for i in range(off, off + n):
        c = t[c ^ buf[i]]
    return c


if crc32 is None:
    def crc32(data, crc=0):
        # Bitwise CRC-32/ISO-HDLC, only for ports without binascii.crc32.
        crc ^= 0xFFFFFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
        return crc ^ 0xFFFFFFFF


def put_header(buf, ftype, seq, length):
    buf[0] = SOF
    buf[1] = VERSION
    buf[2] = ftype
    buf[3] = seq & 0xFF
    buf[4] = length & 0xFF
    buf[5] = length >> 8
    buf[6] = 0
    buf[7] = crc8(buf, 7)


def max_payload(ftype):
    # Largest payload a host frame of this type may carry, or -1 if unknown.
    if ftype == T_STEP:
        return STEP_HEAD + MAX_SAMPLES * SAMPLE_CHANNELS * 2
    if ftype == T_CMD:
        return CMD_LEN
    if ftype == T_HELLO or ftype == T_STATUS or ftype == T_DIAG or ftype == T_LOG:
        return 0
    return -1


def length_ok(ftype, n):
    # Is n the payload length of a host frame of this type? 1 yes, 0 no,
    # -1 the type is unknown. Decided from the header alone: HELLO, STATUS,
    # DIAG and LOG carry nothing, CMD exactly CMD_LEN bytes, STEP its head
    # and 1..MAX_SAMPLES whole samples.
    if ftype == T_STEP:
        k = n - STEP_HEAD
        return 1 if k > 0 and k <= MAX_SAMPLES * SAMPLE_BYTES and k % SAMPLE_BYTES == 0 else 0
    limit = max_payload(ftype)
    if limit < 0:
        return -1
    return 1 if n == limit else 0
