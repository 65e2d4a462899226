"""Arm specs: parsing (hostile inputs included), arm lists, and the board
configs and firmware folders an arm is given."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from hil.board.firmware import BOARD_CONFIGS, ROOT, firmware_module, load_board_config
from hil.trial.arms import (ArmError, ArmSpec, arm_config, none_table, parse_arm, parse_spec, prepare_arm,
                            select_arms)
from hil.trial.patient import CircuitLog, first_circuit_clotted
from hil.transport import frames

C = frames.C


def test_parse_good_specs():
    assert parse_arm("strict=table:raschke") == ArmSpec("strict", "table:raschke", table="raschke")
    s = parse_arm("old=rev:HEAD~1+table:none")
    assert (s.name, s.rev, s.table, s.board) == ("old", "HEAD~1", "none", None)
    assert parse_arm("p=board:pico").board == "pico"
    assert parse_arm("mine=configs/my board.json").board == "configs/my board.json"
    assert parse_arm(" v2 = rev:v0.1.0 ").rev == "v0.1.0"


@pytest.mark.parametrize("option, says", [
    ("table:none", "NAME=SPEC"),                     # no name
    ("=table:none", "arm name ''"),
    ("x=", "empty spec"),
    ("x=  ", "empty spec"),
    ("../../etc=table:none", "arm name"),            # a name is a folder name: no paths
    ("a/b=table:none", "arm name"),
    ("1st=table:none", "arm name"),
    ("x" * 40 + "=table:none", "arm name"),
    ("table=table:raschke", "built-in arm"),
    ("none=board:virtual", "built-in arm"),
    ("x=foo", "none of table:NAME"),
    ("x=table:", "not a valid table"),
    ("x=table:../../x", "not a valid table"),
    ("x=table:a;rm -rf /", "not a valid table"),
    ("x=rev:", "not a valid rev"),
    ("x=rev:--output=/tmp/x", "must not start with '-'"),
    ("x=rev:-h", "must not start with '-'"),
    ("x=rev:HEAD;ls", "not a valid rev"),
    ("x=rev:a b", "not a valid rev"),
    ("x=rev:a\nb", "not a valid rev"),
    ("x=table:none+table:raschke", "two table parts"),
    ("x=rev:HEAD+rev:HEAD~1", "two rev parts"),
    ("x=a.json+board:pico", "two board parts"),
    ("x=board:", "not a valid board"),
    ("x=board:../x", "not a valid board"),
    ("x=table:none+", "none of table:NAME"),
])
def test_parse_refuses_hostile_specs(option, says):
    with pytest.raises(ArmError, match=None) as e:
        parse_arm(option)
    assert says in str(e.value)


def test_select_arms():
    assert [s.name for s in select_arms(None, [])] == ["table", "none"]
    assert [(s.name, s.table) for s in select_arms("none,table", [])] == [("none", "none"), ("table", None)]
    old = parse_arm("old=rev:HEAD")
    assert [s.name for s in select_arms(None, [old])] == ["table", "old"]
    assert [s.name for s in select_arms("old,none", [old])] == ["old", "none"]


@pytest.mark.parametrize("arms, defined, says", [
    ("table", [], "at least two arms"),
    ("table,,none", [], "empty name"),
    ("table,none,", [], "empty name"),
    ("table,table", [], "named twice"),
    ("table,nosuch", [], "unknown arm 'nosuch'"),
    (None, ["a=table:none", "a=table:raschke"], "defined twice"),
    (",".join(f"a{i}" for i in range(9)), [f"a{i}=table:none" for i in range(9)], "at most 8"),
])
def test_select_arms_refuses(arms, defined, says):
    with pytest.raises(ArmError) as e:
        select_arms(arms, [parse_arm(d) for d in defined])
    assert says in str(e.value)


def test_none_table_gives_no_heparin_and_needs_the_override():
    heparin = firmware_module("heparin")
    base = load_board_config("virtual")
    t = none_table("none", base)
    firmware_module("board").check_table(t)   # what the firmware checks at boot
    assert t["initial_bolus_u_kg"] == 0 and t["initial_rate"] == 0
    assert all(row[1] == 0 and row[2] == 0 and row[3] == 0 for row in t["rows"])
    # The target is the shipped table's: an untreated aPTT (~30 s) is out of it.
    assert t["target"] == list(heparin.TABLES[base["anticoagulation"]]["target"])
    assert t["target"][0] > 400
    # The firmware's own titration never gives anything under it.
    a = heparin.Anticoagulation(t, 100)
    a.weight = 700
    assert a.start(0) == 0 and a.rate == 0 and a.started
    for aptt in (200, 450, 700, 1500):
        a.apply_aptt(1, aptt)
        assert a.rate == 0 and a.bolus_total == 0 and a.infusion(2) == 0


def test_arm_configs_differ_only_in_the_table(tmp_path):
    table = prepare_arm(parse_spec("table", "board:virtual"), tmp_path / "table")
    none = prepare_arm(parse_spec("none", "table:none"), tmp_path / "none")
    a = json.loads(table.config_path.read_text())
    b = json.loads(none.config_path.read_text())
    assert a.pop("anticoagulation") == "cartridge-60-80" and b.pop("anticoagulation")["name"] == "none"
    assert a == b
    assert load_board_config(none.config_path)["anticoagulation"]["initial_rate"] == 0
    assert table.firmware_dir == none.firmware_dir and table.firmware_digest == none.firmware_digest
    assert (table.table, none.table) == ("cartridge-60-80", "none")
    assert table.target_s == none.target_s == (60.0, 80.0)


def test_prepare_refuses_what_cannot_run(tmp_path):
    with pytest.raises(ArmError, match="no anticoagulation table 'nosuch'"):
        prepare_arm(parse_spec("x", "table:nosuch"), tmp_path / "x")
    with pytest.raises(ArmError, match="not found"):
        prepare_arm(parse_spec("x", str(tmp_path / "missing.json")), tmp_path / "x")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ArmError, match="not valid JSON"):
        prepare_arm(parse_spec("x", str(bad)), tmp_path / "x")
    with pytest.raises(ArmError, match="needs a board config with \"hal\": \"sim\""):
        arm_config(parse_spec("x", str(BOARD_CONFIGS / "fake-pico.json")))
    broken = dict(load_board_config("virtual"), anticoagulation={"name": "b", "rows": []})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    # The board config's check refuses it, naming the file.
    with pytest.raises(ArmError, match="broken.json: anticoagulation table: no rows"):
        prepare_arm(parse_spec("x", str(path)), tmp_path / "x")
    if shutil.which("git") and (ROOT / ".git").exists():
        with pytest.raises(ArmError, match="is not a commit"):
            prepare_arm(parse_spec("x", "rev:no-such-branch-xyz"), tmp_path / "x")


@pytest.mark.skipif(not (shutil.which("git") and (ROOT / ".git").exists()), reason="not a git checkout")
def test_rev_arm_builds_firmware_of_that_commit(tmp_path):
    arm = prepare_arm(parse_spec("head", "rev:HEAD"), tmp_path / "head")
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert arm.firmware_source == f"rev {sha}"
    assert (arm.firmware_dir / "main.py").is_file() and (arm.firmware_dir / "controller.mpy").is_file()
    committed = subprocess.run(["git", "-C", str(ROOT), "show", f"{sha}:firmware/controller.py"],
                               capture_output=True, check=True).stdout
    assert (tmp_path / "head" / "firmware-source" / "controller.py").read_bytes() == committed


class _St:
    def __init__(self, cartridge, used):
        self.cartridge, self.cartridge_used = cartridge, used


def test_circuit_log_ends_and_censoring():
    ev = frames.Event
    log = CircuitLog(period_s=0.1)
    h = 36000   # ticks per hour
    feed = [
        (ev(1 * h, C.EV_STATE, C.RUNNING, C.READY, 0), _St(1, 0)),
        (ev(25 * h, C.EV_EXCHANGE_DUE, 1, 0, 24 * h), _St(1, 24 * h)),       # timed: censored at 24 h
        (ev(26 * h, C.EV_STATE, C.RUNNING, C.READY, 0), _St(2, 0)),
        (ev(36 * h, C.EV_ALARM_ON, C.AL_CLOT, 2, 0), _St(2, 10 * h)),           # clot alarm: event at 10 h
        (ev(37 * h, C.EV_EXCHANGE_DUE, 2, 1, 11 * h), _St(2, 11 * h)),        # early, after the alarm
        (ev(38 * h, C.EV_STATE, C.RUNNING, C.READY, 0), _St(3, 0)),
        (ev(40 * h, C.EV_OVERRIDE, 1, 0, 300), _St(3, 2 * h)),
    ]
    for e, st in feed:
        log.on_event(e)
        log.on_status(e.tick, st)
    log.on_status(48 * h, _St(3, 9 * h))
    circuits = log.finish(48 * h, aborted=False, host_flow={})
    assert [(c["cartridge"], c["end"], c["event"], c["flow_h"]) for c in circuits] == [
        (1, "exchange_due", False, 24.0), (2, "clot_alarm", True, 10.0), (3, "run_end", False, 9.0)]
    assert log.overrides == [40.0]
    assert [a[1:] for a in log.alarms] == [("clot_suspected", "medium")]
    assert first_circuit_clotted(circuits, 24.0) is False
    assert first_circuit_clotted(circuits[1:], 24.0) is True
    assert first_circuit_clotted(circuits[2:], 24.0) is None        # censored at 9 h: unknown
    assert first_circuit_clotted([], 24.0) is None
