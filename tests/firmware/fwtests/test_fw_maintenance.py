# The maintenance path (CMD_MAINTENANCE, maintenance.py): refused while a
# therapy is under way and on the virtual board, accepted in idle on a Pico
# with the flag stored before the answer and the reset after it; the flag
# acts on one boot only.

import os
import struct
import sys

import codes as C
import maintenance
import protocol as P
from check import IS_MICROPYTHON, board_config
from controller import Controller
from framebuild import cmd_frame
from link import Link
from persist import Persistence
from service import Service
from memstorage import MemoryStorage
from storage import FileStorage
from test_fw_link import Pipe, parse_frames


def _service(data=b""):
    cfg = board_config()
    pipe = Pipe(data)
    ctl = Controller(cfg)
    svc = Service(ctl, Link(pipe, pipe), cfg, "rp2", Persistence(MemoryStorage(), ctl))
    return svc, pipe


def _results(pipe):
    out = []
    for ftype, _seq, payload in parse_frames(pipe.out.getvalue()):
        assert ftype == P.T_CMD | P.REPLY
        head, _n, _r = struct.unpack_from(P.REPLY_HEAD_FMT, payload, 0)
        state = struct.unpack_from(P.STATUS_FMT, payload, P.REPLY_HEAD_LEN)[1]
        out.append((head & 0xFF, head >> 8, state))
    return out


def test_refused_in_every_state_but_idle_and_nothing_is_stored():
    for state in (C.PRIMING, C.READY, C.RUNNING, C.PAUSED, C.EXCHANGE, C.COMPLETE, C.SAFE):
        svc, pipe = _service()
        svc.ctl.state = state
        resets = []
        result = maintenance.handle(svc, 7, "rp2", lambda: resets.append(1))
        assert result == C.E_STATE, state
        assert _results(pipe) == [(C.CMD_MAINTENANCE, C.E_STATE, state)]
        assert resets == []
        assert svc.persist.storage.read(maintenance.FLAG) is None


def test_accepted_in_idle_the_flag_is_stored_before_the_answer_and_the_reset_after():
    svc, pipe = _service()
    seen = []

    def reset():
        # At the reset: the answer has gone out and the flag is stored.
        seen.append((_results(pipe), svc.persist.storage.read(maintenance.FLAG)))

    assert maintenance.handle(svc, 9, "rp2", reset) == C.OK
    assert seen == [([(C.CMD_MAINTENANCE, C.OK, C.IDLE)], b"1")]


def test_the_virtual_board_refuses_it_through_the_dispatch():
    # The unix port has no REPL to return to: E_UNSUPPORTED, on the wire.
    svc, pipe = _service(cmd_frame(3, C.CMD_MAINTENANCE, 0))
    ftype, seq, n = svc.link.recv()
    svc.serve(ftype, seq, n, None, svc.persist.save)
    assert sys.platform != "rp2"
    assert _results(pipe) == [(C.CMD_MAINTENANCE, C.E_UNSUPPORTED, C.IDLE)]
    assert svc.persist.storage.read(maintenance.FLAG) is None


def test_a_storage_failure_refuses_with_a_condition():
    svc, _pipe = _service()

    def broken(name, data):
        raise OSError(28)

    svc.persist.storage.write_atomic = broken
    assert maintenance.request(svc, "rp2") == C.E_CONDITION


def test_the_flag_acts_on_one_boot_only():
    storage = MemoryStorage()
    assert maintenance.take(storage) is False
    svc, _pipe = _service()
    svc.persist.storage = storage
    assert maintenance.request(svc, "rp2") == C.OK
    assert maintenance.take(storage) is True
    assert maintenance.take(storage) is False


def test_app_boot_takes_the_flag_from_the_flash_once():
    import app
    import micropython
    try:
        os.mkdir("out")
    except OSError:
        pass   # there already
    root = "out/fwtest-maintenance-" + sys.implementation.name
    FileStorage(root).write_atomic(maintenance.FLAG, b"1")
    assert maintenance.FLAG in os.listdir(root)
    calls = []
    if not IS_MICROPYTHON:
        # CPython's stand-in micropython module has no kbd_intr: record it.
        micropython.kbd_intr = calls.append
    try:
        assert app._maintenance(["--flash", root]) is True
        assert app._maintenance(["--flash", root]) is False
    finally:
        if not IS_MICROPYTHON:
            del micropython.kbd_intr
        os.rmdir(root)
    assert calls == ([] if IS_MICROPYTHON else [3])
