"""Restarts through the virtual board: a power cut (the firmware process
killed wherever it is) and a watchdog reset (a stalled control task). The
board comes back in the safe state with the same cartridge time, and the
loop carries on in virtual time."""

from __future__ import annotations

from typing import Any

import pytest

from hil.transport import frames
from hil.transport.client import BoardClient
from hil.transport.link import SerialLink
from hil.loop.closed import ClosedLoop
from hil.run.operator import OperatorPlan, ScriptedOperator
from hil.board.virtual import VirtualBoard

C = frames.C


@pytest.fixture
def rig():
    from host.patient import DeviceParams, PatientParams
    from host.plant import Plant

    with VirtualBoard() as board:
        link = SerialLink(board.port)
        client = BoardClient(link, timeout_s=2.0)
        plant = Plant(patient=PatientParams(), device=DeviceParams.preset("cytosorb"), seed=2,
                      period_s=0.1, trace_every=600)
        records: list[dict[str, Any]] = []
        op = ScriptedOperator(OperatorPlan(), 0.1, records.append)
        boots: list[tuple[int, dict[str, Any]]] = []
        loop = ClosedLoop(client, plant, on_event=op.on_event,
                          on_boot=lambda t, n: boots.append((t, n)))
        op.begin(loop)

        def run_to(t_s: float) -> None:
            end = round(t_s / 0.1)
            while loop.tick < end:
                op.run_due()
                loop.run_until(end, op.next_tick)
            op.run_due()

        yield board, loop, run_to, boots
        link.close()


def _running(loop: ClosedLoop) -> bool:
    return loop.status.state == C.RUNNING


def test_power_cut_mid_therapy_comes_back_safe_with_the_same_cartridge_time(rig) -> None:
    board, loop, run_to, boots = rig
    run_to(2 * 3600)
    assert _running(loop)
    used = loop.status.cartridge_used
    bolus = loop.status.bolus_total
    assert used > 3000
    notice = loop.power_cycle(board, off_s=30.0)
    assert notice["cause"] == C.RESET_POWER_ON and notice["restored"]
    s = loop.status
    assert s.state == C.SAFE and s.tick == 0
    assert s.cartridge_used == used and s.cartridge == 1
    assert s.bolus_total == bolus
    assert (s.pump, s.clamp_open, s.heparin) == (0, False, 0)
    assert s.latched & (1 << C.AL_POWER_RESTORED)
    # The scripted operator acknowledges after 2 min and resumes.
    t_cut = loop.tick * 0.1
    run_to(t_cut + 600)
    assert _running(loop)
    assert loop.status.cartridge_used > used
    # Event times stay in virtual time across the restart.
    restored = [e for e in loop.events if e.kind == C.EV_RESTORED]
    assert len(restored) == 1 and abs(restored[0].tick * 0.1 - t_cut) < 0.2


def test_stalled_control_task_is_reset_by_the_watchdog(rig) -> None:
    board, loop, run_to, boots = rig
    run_to(2 * 3600)
    assert _running(loop)
    stall_at = loop.tick
    assert loop.command(C.CMD_TEST_HANG, 100).result == C.OK
    run_to(stall_at * 0.1 + 60)
    # Watchdog 2 s = 20 ticks: the board reset 21 ticks into the stall.
    assert len(boots) == 1
    t_boot, notice = boots[0]
    assert notice["cause"] == C.RESET_WATCHDOG
    assert t_boot == stall_at + 21
    assert board.resets == 1
    assert loop.stats.resets == 1
    assert loop.status.state in (C.SAFE, C.PAUSED, C.RUNNING)
    assert any(e.kind == C.EV_RESTORED for e in loop.events)
