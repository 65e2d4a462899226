# The rp2 HAL's logic with a stand-in machine module (MicroPython VM only:
# it uses MicroPython's time functions). Real pins are for the bench.

import io
import json

import codes as C
from check import IS_MICROPYTHON


def _board():
    import machine
    from controller import Controller
    from link import Link
    from persist import Persistence
    from service import Service
    from storage import MemoryStorage
    from hal.rp2 import Rp2Board
    with open("board-configs/pico.json") as f:
        cfg = json.load(f)
    Rp2Board.boot_safe(cfg)
    ctl = Controller(cfg)
    stream = io.BytesIO()
    # No host frames in these tests: the stream never has a byte waiting.
    link = Link(stream, stream, lambda ms: False, one_byte=True)
    persist = Persistence(MemoryStorage(), ctl)
    svc = Service(ctl, link, cfg, "rp2", persist)
    board = Rp2Board(ctl, link, svc, cfg, persist)
    return machine, cfg, ctl, board


def test_boot_drives_pump_clamp_and_heparin_low():
    if not IS_MICROPYTHON:
        return
    machine, cfg, ctl, board = _board()
    pins = cfg["pins"]
    for name in ("clamp_open", "pump_pwm", "heparin_step", "heparin_enable"):
        assert machine.pins[pins[name]].level == 0, name
    assert machine.wdt and machine.wdt[-1].timeout == cfg["watchdog_ms"]


def test_readings_and_outputs_follow_the_calibration():
    if not IS_MICROPYTHON:
        return
    machine, cfg, ctl, board = _board()
    pins = cfg["pins"]
    cal = cfg["calibration"]["pressure"]
    # Access transducer at offset + 1000 counts: 1000 * gain / den in 0.1 mmHg.
    machine.adcs[pins["p_access_adc"]].raw = cal["access"][0] + 1000
    assert board.read_pressure(0) == 1000 * cal["access"][1] // cal["den"]
    ctl.command(C.CMD_SET_WEIGHT, 700)
    ctl.command(C.CMD_PRIME, 0)
    board.time_scale = 1
    board.runner.next_t = 0
    board.cycle()
    pump = machine.pwms[pins["pump_pwm"]]
    num, den = cfg["calibration"]["pump_duty_per_flow"]
    assert ctl.out_pump > 0
    assert pump.duty == ctl.out_pump * num // den
    assert machine.pins[pins["clamp_open"]].level == 1
    assert machine.wdt[-1].fed == 1
    # The flow sensor's pulses become the flow reading of the next period.
    flow = machine.pins[pins["flow_pulse"]]
    for _ in range(15):
        flow.handler(flow)
    board.cycle()
    assert board.flow.last_pulses == 15


def test_bolus_runs_at_3600_u_per_hour_until_given():
    if not IS_MICROPYTHON:
        return
    machine, cfg, ctl, board = _board()
    ctl.command(C.CMD_SET_WEIGHT, 700)
    ctl.command(C.CMD_PRIME, 0)
    ctl.state = C.READY
    ctl.command(C.CMD_HEPARIN_START, 0)   # 1,400 U bolus, 1,260 U/h
    cycles = 0
    while board.syringe.bolus_done_mu < ctl.out_bolus * 1000 or cycles == 0:
        board.runner.next_t = 0
        board.cycle()
        cycles += 1
    # 1,400 U at 3,600 U/h is 1,400 s: 14,000 periods of 100 ms.
    assert cycles == 14000
    board.runner.next_t = 0
    board.cycle()
    assert board.syringe.rate == ctl.out_hep == 12600
