# The service layer: HELLO's identity and settings, and the test-mode reset
# (CMD_TEST_RESET): refused outside test mode and while therapy is being
# delivered, else answered first, then the stored therapy is erased.

import json
import struct

import codes as C
import protocol as P
from check import board_config
from controller import Controller
from framebuild import cmd_frame, frame
from link import Link
from persist import Persistence
from service import Service
from version import config_digest
from memstorage import MemoryStorage
from test_fw_link import Pipe, parse_frames


def _service(data, **cfg_over):
    cfg = board_config()
    for k in cfg_over:
        cfg[k] = cfg_over[k]
    pipe = Pipe(data)
    ctl = Controller(cfg)
    link = Link(pipe, pipe)
    persist = Persistence(MemoryStorage(), ctl)
    svc = Service(ctl, link, cfg, "sim", persist)
    restarts = []
    svc.restart = lambda: restarts.append(persist.storage.read("therapy.json"))
    return svc, pipe, restarts


def _serve(svc, n):
    for _ in range(n):
        ftype, seq, length = svc.link.recv()
        svc.serve(ftype, seq, length, None, svc.persist.save)


def _results(pipe):
    out = []
    for ftype, _seq, payload in parse_frames(pipe.out.getvalue()):
        if ftype == P.T_CMD | P.REPLY:
            head = struct.unpack_from(P.REPLY_HEAD_FMT, payload, 0)[0]
            out.append((head & 0xFF, head >> 8))
    return out


def test_hello_names_the_settings_and_the_config_digest():
    svc, pipe, _ = _service(frame(P.T_HELLO, 1, b""), anticoagulation="raschke")
    _serve(svc, 1)
    (ftype, _seq, payload), = parse_frames(pipe.out.getvalue())
    hello = json.loads(payload)
    assert ftype == P.T_HELLO | P.REPLY
    assert hello["settings"]["anticoagulation"] == "raschke"
    assert hello["settings"]["max_cartridges"] == 7
    assert hello["tick"] == 0 and hello["state"] == C.IDLE
    assert len(hello["config"]) == 16 and hello["config"] != config_digest(board_config())
    assert "micropython" in hello and "machine" in hello and "build" in hello


def test_config_digest_ignores_comments_and_key_order():
    cfg = board_config()
    a = config_digest(cfg)
    cfg["_about"] = "a comment"
    assert config_digest(cfg) == a
    cfg["period_ms"] = 50
    assert config_digest(cfg) != a


def test_reset_is_refused_outside_test_mode():
    svc, pipe, restarts = _service(cmd_frame(1, C.CMD_TEST_RESET, 0), test_mode=False)
    _serve(svc, 1)
    assert _results(pipe) == [(C.CMD_TEST_RESET, C.E_TEST_ONLY)]
    assert restarts == []


def test_reset_is_refused_while_priming_and_allowed_once_stopped():
    data = (cmd_frame(1, C.CMD_SET_WEIGHT, 700) + cmd_frame(2, C.CMD_PRIME, 0)
            + cmd_frame(3, C.CMD_TEST_RESET, 0) + cmd_frame(4, C.CMD_STOP, 0)
            + cmd_frame(5, C.CMD_TEST_RESET, 0))
    svc, pipe, restarts = _service(data)
    _serve(svc, 5)
    assert _results(pipe) == [(C.CMD_SET_WEIGHT, C.OK), (C.CMD_PRIME, C.OK),
                              (C.CMD_TEST_RESET, C.E_STATE), (C.CMD_STOP, C.OK),
                              (C.CMD_TEST_RESET, C.OK)]
    # The reply went out before the restart, with the therapy still stored.
    assert len(restarts) == 1 and restarts[0] is not None


def test_the_real_restart_erases_the_stored_therapy():
    svc, _pipe, _ = _service(cmd_frame(1, C.CMD_SET_WEIGHT, 700))
    _serve(svc, 1)
    assert svc.persist.storage.read("therapy.json") is not None
    try:
        svc._restart()
    except SystemExit as e:
        assert e.args[0] == 75
    else:
        raise AssertionError("no restart")
    assert svc.persist.storage.read("therapy.json") is None
