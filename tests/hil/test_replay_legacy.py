"""Recordings made before the wire contract still replay.

tests/hil/data/legacy_units_v1.rec.jsonl.gz is a recording of version 1,
made by the harness of record format 2 (alarm values in wire counts, the
kinds audio_pause and restored as raw code, a and b), and
legacy_units_record_v2.json the record of that same run. Its time line
holds an air alarm (a flow value), a return pressure alarm (a pressure),
an audio pause, a power cut (power_restored, restored) and blood stasis:
the digest in the recording's footer must be the digest of that time line
in today's format.

A replay also needs the host to send the very frames it sent then: a
change of the plant or the scripted operator makes the replay stop at the
first frame that differs. That is not a matter of formats, so the full
replay is skipped then (with the frame named); the digest check above
does not depend on it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hil.cli import main
from hil.output.events import from_format2, to_format2
from hil.output.recording import READS, VERSION, ReplayMismatch, read_recording, timeline_digest
from hil.run.replay import replay

DATA = Path(__file__).parent / "data"
V1 = DATA / "legacy_units_v1.rec.jsonl.gz"


def test_the_recording_is_of_version_1() -> None:
    header, entries, _ = read_recording(V1)
    assert header["version"] == 1 and 1 in READS and VERSION == 2
    assert header["scenario"]["name"] == "legacy_units"


def test_the_old_digest_is_the_digest_of_the_time_line_in_todays_format() -> None:
    _, entries, footer = read_recording(V1)
    for _ in entries:
        pass
    old = json.loads((DATA / "legacy_units_record_v2.json").read_text())["events"]
    now = [from_format2(e, 0.1) for e in old]
    assert now != old and any(e.get("value_unit") == "mmHg" for e in now)
    assert timeline_digest(now) == timeline_digest(old) == footer()["timeline_digest"]


def test_a_version_1_recording_replays(capsys) -> None:
    try:
        s = replay(V1)
    except ReplayMismatch as e:
        if "differs: recorded type" in str(e):
            pytest.skip(f"the host no longer sends what it sent when the recording was made: {e}")
        raise
    assert s["outcome"] == "pass" == s["recorded_outcome"] and s["frames_checked"] > 50
    assert main(["replay", str(V1), "--quiet"]) == 0
    assert "identical" in capsys.readouterr().out


def test_the_digest_is_taken_in_format_2() -> None:
    events = [
        {"t_s": 411.4, "tick": 4114, "type": "alarm", "alarm": "air_in_line", "priority": "high",
         "value": 201.5, "value_unit": "mL/min"},
        {"t_s": 416.3, "tick": 4163, "type": "audio_pause", "length_s": 120.0},
        {"t_s": 420.0, "tick": 4200, "type": "command", "command": "ack_alarms", "arg": 0, "result": "ok"},
    ]
    old = [
        {"t_s": 411.4, "tick": 4114, "type": "alarm", "alarm": "air_in_line", "priority": "high",
         "value": 2015},
        {"t_s": 416.3, "tick": 4163, "type": "audio_pause", "code": 0, "a": 0, "b": 1200},
        events[2],
    ]
    assert [to_format2(e, 0.1) for e in events] == old
    assert timeline_digest(events) == timeline_digest(old) == timeline_digest(events, 0.1)
    changed = [{**events[0], "value": 201.6}] + events[1:]
    assert timeline_digest(changed) != timeline_digest(events)


def test_a_recording_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    with gzip.open(V1, "rt") as f:
        lines = f.read().splitlines()
    header = json.loads(lines[0])
    header["version"] = 99
    future = tmp_path / "future.rec.jsonl.gz"
    with gzip.open(future, "wt") as f:
        f.write("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    with pytest.raises(ValueError, match="recording version 99, this tool reads 1, 2"):
        read_recording(future)


def test_a_version_1_header_on_todays_traffic_replays(tmp_path: Path) -> None:
    # The same check as above, independent of plant changes: what replay
    # takes from a version 1 recording is its header, traffic and digest.
    from hil.run.runner import RunOptions, run_scenario
    from hil.scenario import loads

    with gzip.open(V1, "rt") as f:
        text = json.loads(f.readline())["scenario"]["text"]
    r = run_scenario(loads(text, "legacy_units.yaml"), RunOptions(record_dir=str(tmp_path)))
    assert r.recording is not None
    with gzip.open(r.recording, "rt") as f:
        lines = f.read().splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2
    header["version"] = 1
    old = tmp_path / "as_v1.rec.jsonl.gz"
    with gzip.open(old, "wt") as f:
        f.write("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    s = replay(old)
    assert s["outcome"] == r.outcome == s["recorded_outcome"] and s["frames_checked"] > 20
