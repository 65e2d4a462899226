"""docs/firmware.md stays true to the code: the state diagram is the
transition table, and the alarm table lists every alarm with its priority."""

from __future__ import annotations

import re
from pathlib import Path

from hil.board.firmware import firmware_module

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "firmware.md").read_text()


def test_state_diagram_is_the_transition_table() -> None:
    states = firmware_module("states")
    names = firmware_module("names")
    internal = {states.T_PRIMED: "primed", states.T_CARTRIDGE_DUE: "24 h of flow",
                states.T_LAST_CARTRIDGE: "24 h of flow, 7th cartridge",
                states.T_HIGH_ALARM: "high alarm"}
    table = states.TRANSITIONS   # flat: (from, trigger, to) three ints a row
    assert len(table) % 3 == 0
    want = {(names.STATE_NAMES[f], names.STATE_NAMES[t], internal.get(g) or names.CMD_NAMES[g])
            for f, g, t in zip(table[0::3], table[1::3], table[2::3])}
    block = DOC.split("```mermaid", 1)[1].split("```", 1)[0]
    got = set()
    for line in block.splitlines():
        m = re.match(r"\s*(\w+) --> (\w+) : (.+)$", line)
        if m:
            got.add((m.group(1), m.group(2), m.group(3).strip()))
    assert got == want


def test_alarm_table_lists_every_alarm_with_its_priority() -> None:
    names = firmware_module("names")
    ctl = firmware_module("controller")
    for aid in range(1, len(names.ALARM_NAMES)):
        name = names.ALARM_NAMES[aid]
        prio = names.PRIO_NAMES[ctl.PRIORITIES[aid]]
        assert re.search(rf"\| {aid} \| {name} \| {prio} \|", DOC), name
