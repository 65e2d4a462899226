"""Codes from one source: every firmware module (firmware/**/*.py) that
compiles a code of codes.py into a private constant (``_AL_AIR = const(1)``)
must give it codes.py's value. Scans the source text, so it sees every
module, including those only a Pico loads (hal/rp2.py, devices/) and
constants that MicroPython compiles away.

Rules:
- ``_NAME = const(N)``: NAME (without the leading underscore) is looked up in
  codes.py; if it is there, N must be its value.
- a trailing comment ``# codes.OTHER`` names the code explicitly (for a
  constant named differently); OTHER must exist and have the value N.
- a private constant with a code prefix (AL_, EV_, CMD_, E_, PRIO_, RESET_,
  FLAG_, and the state names) that is not in codes.py is a typo: it fails.
- the one agreed mapping beyond codes.py: ``_T_NAME`` is the state table's
  internal event ``states.T_NAME`` (firmware/states.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from hil.board.firmware import firmware_module

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
CONST = re.compile(r"^\s*_([A-Z][A-Z0-9_]*)\s*=\s*const\(\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*\)"
                   r"\s*(?:#.*?\bcodes\.([A-Z][A-Z0-9_]*))?")
CODE_PREFIXES = ("AL_", "EV_", "CMD_", "E_", "PRIO_", "RESET_", "FLAG_", "T_")


def _codes() -> dict[str, int]:
    # codes.py, and the state table's internal events (states.T_*), which
    # the controller compiles in as _T_* the same way.
    C = firmware_module("codes")
    S = firmware_module("states")
    out = {k: v for k, v in vars(C).items() if k.isupper() and isinstance(v, int)}
    out.update((k, v) for k, v in vars(S).items() if k.startswith("T_") and isinstance(v, int))
    return out


def _scan(root: Path = FIRMWARE) -> tuple[list[str], int]:
    codes = _codes()
    states = {k for k, v in codes.items() if "_" not in k}   # IDLE, PRIMING, ...
    errors = []
    checked = 0
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts or path.name == "codes.py":
            continue
        rel = path.relative_to(root.parent)
        for no, line in enumerate(path.read_text().splitlines(), 1):
            m = CONST.match(line)
            if not m:
                continue
            name, value, named = m.group(1), int(m.group(2), 0), m.group(3)
            key = named or name
            if key in codes:
                checked += 1
                if codes[key] != value:
                    errors.append(f"{rel}:{no}: _{name} = {value}, codes.{key} = {codes[key]}")
            elif named or name.startswith(CODE_PREFIXES) or name in states:
                errors.append(f"{rel}:{no}: _{name} looks like a code but codes.{key} does not exist")
    return errors, checked


def _unused(root: Path = FIRMWARE) -> list[str]:
    # Private constants that their module never names again.
    out = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text()
        for no, line in enumerate(text.splitlines(), 1):
            m = CONST.match(line)
            if m and len(re.findall(rf"\b_{m.group(1)}\b", text)) < 2:
                out.append(f"{path.relative_to(root.parent)}:{no}: _{m.group(1)}")
    return out


def test_every_private_code_constant_in_every_module_matches_codes() -> None:
    errors, checked = _scan()
    assert not errors, "\n".join(errors)
    # controller, alarms, states, persist, app, the HALs: well over 60.
    assert checked > 80


def test_the_scan_catches_wrong_values_and_unknown_codes(tmp_path: Path) -> None:
    fw = tmp_path / "firmware"
    (fw / "hal").mkdir(parents=True)
    (fw / "good.py").write_text("_AL_AIR = const(1)\n_RESET_FAULT = const(2)   # codes.RESET_FAULT\n"
                                "_U16 = const(65535)\n")
    (fw / "hal" / "bad.py").write_text("x = 1\n_AL_AIR = const(2)\n_EV_NOPE = const(3)\n"
                                       "_FAULT = const(1)  # codes.RESET_FAULT\n")
    errors, checked = _scan(fw)
    assert checked == 4
    assert errors == [
        "firmware/hal/bad.py:2: _AL_AIR = 2, codes.AL_AIR = 1",
        "firmware/hal/bad.py:3: _EV_NOPE looks like a code but codes.EV_NOPE does not exist",
        "firmware/hal/bad.py:4: _FAULT = 1, codes.RESET_FAULT = 2",
    ]


def test_each_module_keeps_only_the_constants_it_uses() -> None:
    unused = _unused()
    assert not unused, "\n".join(unused)


def test_const_comes_from_micropython_with_one_stand_in_for_cpython() -> None:
    # No module carries its own fallback; under CPython the stand-in serves.
    for path in sorted(FIRMWARE.rglob("*.py")):
        text = path.read_text()
        assert "def const" not in text, path
        if "const(" in text:
            assert "from micropython import const" in text, path
    stand_in = ROOT / "hil" / "fakepico" / "micropython.py"
    assert "def const(x)" in stand_in.read_text()


def test_the_unused_check_finds_a_constant_never_used(tmp_path: Path) -> None:
    fw = tmp_path / "firmware"
    fw.mkdir()
    (fw / "m.py").write_text("_AL_AIR = const(1)\n_AL_CLOT = const(8)\n_AL_AIRX = 2\n"
                             "x = _AL_CLOT\n")
    assert _unused(fw) == ["firmware/m.py:1: _AL_AIR"]
