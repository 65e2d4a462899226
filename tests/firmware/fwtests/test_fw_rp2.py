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
    from memstorage import MemoryStorage
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


def _circuit(machine, cfg):
    # The transducers of a circuit at 200 mL/min: access -100, pre +150,
    # return +100 mmHg through the board's calibration.
    pins = cfg["pins"]
    p = cfg["calibration"]["pressure"]
    for key, ch, mmhg in (("p_access_adc", "access", -100), ("p_pre_adc", "pre", 150),
                          ("p_return_adc", "return", 100)):
        off, gain = p[ch]
        machine.adcs[pins[key]].raw = off + mmhg * 10 * p["den"] // gain


def _period(machine, cfg, board, pulses):
    # One control period with that many flow-sensor pulses in it.
    flow = machine.pins[cfg["pins"]["flow_pulse"]]
    for _ in range(pulses):
        flow.handler(flow)
    board.runner.next_t = 0
    board.cycle()


def test_heparin_goes_only_into_flowing_blood_and_a_restart_repeats_no_bolus():
    if not IS_MICROPYTHON:
        return
    machine, cfg, ctl, board = _board()
    enable = machine.pins[cfg["pins"]["heparin_enable"]]
    _circuit(machine, cfg)
    board.begin()                         # as run() starts: nothing restored
    ctl.command(C.CMD_SET_WEIGHT, 300)
    ctl.command(C.CMD_PRIME, 0)
    ctl.state = C.READY
    ctl.command(C.CMD_HEPARIN_START, 0)   # 30 kg: 540 U/h
    # A 600 U bolus asked for while the line stands (the controller holds
    # it back until blood flows; the syringe must not give it either).
    ctl.hep.bolus_total = ctl.out_bolus = 600
    for _ in range(600):                  # ready: pump off, clamp closed
        _period(machine, cfg, board, 0)
    assert ctl.out_hep == 0 and ctl.out_bolus == 600
    assert enable.level == 0 and board.syringe.doser.steps == 0
    ctl.state = C.RUNNING                 # blood flows
    cycles = 0
    while board.syringe.doser.bolus_done < 600:
        _period(machine, cfg, board, 20)  # 200 pulses/s: 200 mL/min
        cycles += 1
        assert ctl.state == C.RUNNING and enable.level == 1
    # 600 U at 3,600 U/h is 600 s, 6,000 periods; every step of it and of
    # the infusion given (8 steps/U).
    assert cycles == 6000, cycles
    assert board.syringe.doser.steps == 600 * 8 + 5400 * 8 * cycles // 360000, board.syringe.doser.steps
    # A reset: the restored record asked for the same 600 U; none again.
    machine, cfg, ctl, board = _board()
    _circuit(machine, cfg)
    ctl.hep.bolus_total = ctl.out_bolus = 600
    board.begin()
    ctl.state = C.RUNNING
    for _ in range(100):
        _period(machine, cfg, board, 20)
    assert ctl.out_pump > 0 and ctl.out_clamp == 1
    assert board.syringe.doser.steps == 0


def test_a_period_of_sensing_and_actuating_allocates_nothing():
    if not IS_MICROPYTHON:
        return
    from check import heap_growth
    machine, cfg, ctl, board = _board()
    _circuit(machine, cfg)
    board.begin()
    ctl.command(C.CMD_SET_WEIGHT, 700)
    ctl.state = C.READY
    ctl.command(C.CMD_HEPARIN_START, 0)   # a bolus under way: both accumulators run
    ctl.state = C.RUNNING
    flow = machine.pins[cfg["pins"]["flow_pulse"]]

    def period(k):
        n = 0
        while n < 20:
            flow.handler(flow)
            n += 1
        board.sample()
        board.control()

    assert heap_growth(ctl, 2000, period) == 0
    assert ctl.state == C.RUNNING and board.syringe.doser.steps > 0


def test_the_tick_runs_with_the_heap_locked_and_a_fault_releases_it():
    if not IS_MICROPYTHON:
        return
    from test_fw_noalloc import _Probe
    machine, cfg, ctl, board = _board()
    _circuit(machine, cfg)
    probe = _Probe(ctl.tick, 2)   # the second tick allocates
    ctl.tick = probe.tick
    board.sample()
    board.control()
    assert probe.counts == [1, 1]
    bytearray(8)                  # the heap is usable again
    board.sample()
    try:
        board.control()
    except MemoryError:
        pass                      # app.py's fault handler takes it from here
    else:
        raise AssertionError("an allocating tick went through")
    assert probe.counts == [2, 2]
    bytearray(8)                  # released after the fault too
