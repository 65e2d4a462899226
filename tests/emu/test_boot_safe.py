"""Outputs safe first: from the moment the emulated Pico gets power until the
controller announces itself, the clamp, pump and heparin pins are never
driven high, and main.py drives them low (boot_safe) before it sets up the
PWM, the link and everything else."""

from __future__ import annotations

from pathlib import Path

from hil.board.pico_emu import NS, Emulator, load_config
from hil.transport import frames
from hil.transport.frames import FrameParser

C = frames.C


def boot_log(flash: Path) -> tuple[list[list], int, dict]:
    """Pin changes from power-on to the BOOT notice, and the notice's time."""
    pins = load_config("pico-emu")["pins"]
    watched = [pins[k] for k in ("clamp_open", "pump_pwm", "heparin_step", "heparin_enable")]
    emu = Emulator(flash)
    emu.start(power=False)
    try:
        emu.command(log=watched)
        emu.command(power=True)
        parser = FrameParser()
        boot = None
        while boot is None and emu.t_ns < 10 * NS:
            emu.run(emu.t_ns + NS, stop_bytes=1)
            t = emu.t_ns
            for f in parser.feed(emu.take()):
                if f.ftype == frames.P.T_BOOT:
                    boot = (t, f)
        assert boot is not None, "no BOOT notice within 10 s"
        log = emu.command(read={"log": True})["log"]
    finally:
        emu.stop()
    import json

    return log, boot[0], json.loads(boot[1].payload)


def test_outputs_are_driven_safe_before_anything_else(flash_copy: Path) -> None:
    pins = load_config("pico-emu")["pins"]
    log, t_boot, notice = boot_log(flash_copy)
    assert notice["cause"] == 0
    by_pin: dict[int, list[list]] = {}
    for entry in log:
        by_pin.setdefault(entry[1], []).append(entry)
    # Never driven high, never a PWM duty above 0, until the controller is up.
    for t, pin, level, duty in log:
        assert level != 1, f"GPIO {pin} driven high at {t / 1e6:.3f} ms, before the first command"
        assert not duty, f"GPIO {pin} given PWM duty {duty} at {t / 1e6:.3f} ms"
    # Each output becomes a driven low before the PWM is set up or the link speaks.
    driven_low = {pin: min(t for t, p, level, _ in entries if level == 0)
                  for pin, entries in by_pin.items() if any(e[2] == 0 for e in entries)}
    outputs = [pins[k] for k in ("clamp_open", "pump_pwm", "heparin_step", "heparin_enable")]
    assert set(outputs) <= set(driven_low), f"not driven low before BOOT: {set(outputs) - set(driven_low)}"
    pwm_setup = min(t for t, pin, level, duty in log if duty is not None)
    safe_at = max(driven_low[p] for p in outputs)
    assert safe_at < pwm_setup < t_boot
    # The clamp first: it is the first pin boot_safe drives.
    assert driven_low[pins["clamp_open"]] == min(driven_low.values())
    assert safe_at < 0.6 * t_boot      # early in the boot, not at its end
