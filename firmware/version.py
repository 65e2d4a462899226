# The firmware's identity, reported in the HELLO reply: its version, the
# build it runs (hil/board/build.py writes build_id.py, the content hash of
# the build, into every build; run from source there is none), and the
# digest of the board config it loaded: identity(), called once at boot
# (app.py, service.py).

import json

FIRMWARE_VERSION = "0.1.0"

try:
    from build_id import BUILD
except ImportError:
    BUILD = None


def _feed(h, v):
    # Feed the canonical JSON of a config value to the hash h in small
    # pieces (keys sorted, no spaces, keys that start with "_" left out:
    # they are comments), as the host writes it whole (hil/board/firmware.py
    # config_digest). Piece by piece: a small heap has no room for the
    # whole text. Only at boot.
    if isinstance(v, dict):
        h.update(b"{")
        first = True
        for k in sorted(v):
            if k.startswith("_"):
                continue
            if not first:
                h.update(b",")
            first = False
            h.update(json.dumps(k).encode())
            h.update(b":")
            _feed(h, v[k])
        h.update(b"}")
    elif isinstance(v, (list, tuple)):
        h.update(b"[")
        for i in range(len(v)):
            if i:
                h.update(b",")
            _feed(h, v[i])
        h.update(b"]")
    else:
        h.update(json.dumps(v).encode())


def identity(cfg):
    # (firmware version, build, config digest), for HELLO. Called once at
    # boot; this module lets itself go, as app.py does with board.py: its
    # code costs RAM, and the caller drops its own reference.
    import sys
    sys.modules.pop("version", None)
    sys.modules.pop("build_id", None)
    return FIRMWARE_VERSION, BUILD, config_digest(cfg)


def config_digest(cfg):
    # The first 16 hex digits of the SHA-256 of the canonical config, or
    # None on a port without hashlib.
    try:
        import hashlib
    except ImportError:
        return None
    h = hashlib.sha256()
    _feed(h, cfg)
    d = h.digest()
    return "".join("%02x" % b for b in d[:8])
