"""The power-cut campaign, short: ten cuts of the virtual board during
therapy, some inside a storage write, with nothing lost; and the checks
themselves, shown to catch a storage that is not atomic."""

from __future__ import annotations

import json
from pathlib import Path

from hil.reliability import powercut
from hil.reliability.powercut import ALARM_LOG, RECORD, compare_logs, parse_record

C = powercut.C
FAILURES = ("corrupt_records", "cartridge_time_errors", "lost_log_entries", "log_errors", "bench_errors")


def test_ten_power_cuts_lose_nothing(tmp_path: Path) -> None:
    fig = powercut.run_campaign(trials=10, seed=7, out=tmp_path)
    assert json.loads((tmp_path / "powercut.json").read_text())["trials"] == 10
    assert fig["aborted"] is None
    assert {k: fig[k] for k in FAILURES} == dict.fromkeys(FAILURES, 0), fig["examples"]
    # The campaign did what it claims: cuts of both kinds, the ones inside
    # a write left a torn temporary file, and the therapy record was among
    # the files cut.
    assert fig["trials"] == 10
    assert fig["cuts_inside_write"] >= 3 and fig["cuts_between_frames"] >= 1
    assert fig["torn_temp_files"] == fig["cuts_inside_write"]
    assert fig["cuts_inside_by_file"][RECORD] >= 1
    states = {t[3] for t in fig["trial_log"]}
    assert "running" in states
    # A cut inside the save at the end of a STEP frame costs at most that
    # frame's blood-flow time (docs/reliability.md): seen here, and bounded.
    assert 0 < fig["cartridge_lag_max_periods"] <= fig["cartridge_lag_bound_periods"]


def _tear_record(flash: Path, index: int) -> None:
    # Trial 1: the record torn in place, as by a storage without the
    # temporary file and rename. (The board then ignores it and boots
    # idle: the therapy is lost, so this is the last trial.)
    if index == 1:
        p = flash / RECORD
        p.write_bytes(p.read_bytes()[:40])


def _lose_log_entry(flash: Path, index: int) -> None:
    # Trial 0: the oldest stored alarm-log entry gone.
    if index == 0:
        p = flash / ALARM_LOG
        p.write_text(json.dumps(json.loads(p.read_text())[1:]))


def test_the_checks_catch_a_storage_that_is_not_atomic(tmp_path: Path) -> None:
    def tamper(flash: Path, index: int) -> None:
        _tear_record(flash, index)
        _lose_log_entry(flash, index)

    fig = powercut.run_campaign(trials=2, seed=7, out=tmp_path, tamper=tamper)
    assert fig["trials"] == 2, fig["aborted"]
    first, second = fig["examples"][0], fig["examples"][1]
    assert first["index"] == 0 and first["lost_log"] == 1
    assert second["index"] == 1 and second["corrupt"] and second["cartridge"]
    assert fig["corrupt_records"] >= 1 and fig["cartridge_time_errors"] >= 1
    assert fig["lost_log_entries"] == 1
    assert powercut.main(["--trials", "0", "--out", str(tmp_path / "none"), "-q"]) == 0


def test_record_and_log_checks() -> None:
    assert parse_record(b'{"v": 1, "state": 3, "cart_')[0] is None
    assert parse_record(None)[0] is None
    restart = [900, C.AL_POWER_RESTORED, 3, 3]
    known = [[10, 1, 3, 0], [20, 7, 2, 1500]]
    # Nothing lost: the stored log, then the restart.
    assert compare_logs(known, known, known + [restart]) == (0, [])
    # The entry being written when the power failed is not held against it;
    # one completed in the cut frame is kept.
    new = [30, 2, 3, -2700]
    assert compare_logs(known, known, known + [restart]) == (0, [])
    assert compare_logs(known, known + [new], known + [new, restart]) == (0, [])
    # An entry stored before the cut and gone after it is counted.
    lost, problems = compare_logs(known, known[1:], known[1:] + [restart])
    assert lost == 1 and problems
    # A full log drops its oldest entry for the restart: not a loss.
    full = [[i, 9, 2, i] for i in range(32)]
    assert compare_logs(full, full, full[1:] + [restart]) == (0, [])


def test_bench_copies_the_campaigns_failure_totals(tmp_path: Path) -> None:
    from hil.bench import add_campaigns

    (tmp_path / "powercut").mkdir()
    (tmp_path / "powercut" / "powercut.json").write_text(json.dumps({"failures": 0}))
    (tmp_path / "linkfault").mkdir()
    (tmp_path / "linkfault" / "linkfault.json").write_text(json.dumps({"failures": 2}))
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bench.json").write_text(json.dumps({"closed_loop_speedup": 1.0}))
    fig = add_campaigns(tmp_path / "bench", tmp_path)
    assert fig["closed_loop_speedup"] == 1.0
    assert (fig["powercut_failures"], fig["linkfault_failures"]) == (0, 2)
    assert fig["fuzz_failures"] is None and fig["fuzz_inputs_per_s"] is None
    assert any("fuzz.json missing" in n for n in fig["campaign_notes"])
    assert json.loads((tmp_path / "bench" / "bench.json").read_text()) == fig
    # fuzz.json keeps one count per kind of failure: bench adds them up.
    (tmp_path / "fuzz").mkdir()
    (tmp_path / "fuzz" / "fuzz.json").write_text(json.dumps({"crashes": 1, "hangs": 2, "inputs_per_s": 900.5}))
    fig = add_campaigns(tmp_path / "bench", tmp_path)
    assert (fig["fuzz_failures"], fig["fuzz_inputs_per_s"], fig["campaign_notes"]) == (3, 900.5, [])
