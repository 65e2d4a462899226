# Build host frames inside the firmware tests, with the firmware's own
# primitives (the shared vectors pin those primitives down).

import struct

import protocol as P


def frame(ftype, seq, payload):
    buf = bytearray(P.HEADER_LEN)
    P.put_header(buf, ftype, seq, len(payload))
    body = bytes(buf) + bytes(payload)
    return body + struct.pack("<I", P.crc32(body))


def step_frame(seq, tick0, samples, flags=0):
    payload = struct.pack("<IHH", tick0, len(samples), flags)
    for s in samples:
        payload += struct.pack("<5h", *s)
    return frame(P.T_STEP, seq, payload)


def cmd_frame(seq, code, arg):
    return frame(P.T_CMD, seq, struct.pack(P.CMD_FMT, code, 0, 0, arg))
