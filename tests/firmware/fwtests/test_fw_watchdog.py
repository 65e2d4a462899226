# The simulated watchdog, and a stalled control task resetting the board.

import codes as C
from check import board_config
from test_fw_link import _board
from framebuild import step_frame, cmd_frame
from watchdog import SimWatchdog

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_stalled_control_task_resets_the_board_after_the_timeout": ("SR-WDT-1",),
}


def test_watchdog_expires_only_after_the_timeout_without_feed():
    w = SimWatchdog(20)
    w.feed(100)
    assert not w.expired(120)
    assert w.expired(121)
    w.feed(121)
    assert not w.expired(130)


def test_hang_is_refused_outside_test_mode():
    from controller import Controller
    cfg = board_config()
    cfg["test_mode"] = False
    assert Controller(cfg).command(C.CMD_TEST_HANG, 50) == C.E_TEST_ONLY


def test_stalled_control_task_resets_the_board_after_the_timeout():
    # Watchdog 2,000 ms = 20 ticks; the task stalls for 100 ticks.
    sample = (-800, 1400, 800, 0, 0)
    data = cmd_frame(1, C.CMD_TEST_HANG, 100) + step_frame(2, 1, [sample] * 60)
    board, pipe = _board(data)
    board.link.recv()
    board.service.handle(0x20, 1, 8)
    board.link.recv()
    try:
        board.step(2, 8 + 600)
        raised = False
    except SystemExit as e:
        raised = True
        assert e.args[0] == 75
    assert raised
    note = board.persist.storage.read("reset.json")
    assert note is not None and b'"tick": 21' in note


def test_healthy_loop_never_resets():
    sample = (-800, 1400, 800, 0, 0)
    board, pipe = _board(step_frame(1, 1, [sample] * 400))
    board.link.recv()
    board.step(1, 8 + 4000)
    assert board.ctl.tick_no == 400
    assert board.persist.storage.read("reset.json") is None
