"""Record and replay: a run's serial traffic and plant inputs are recorded,
and replayed offline (no board, no MicroPython) the host side must
compute exactly the same frames and reach the same verdict."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hil.cli import main
from hil.run.replay import ReplayMismatch, read_recording, replay
from hil.run.runner import RunOptions, run_scenario
from hil.scenario import loads

TEXT = """\
name: replay_me
seed: 9
duration: 75 min
operator:
  lab_turnaround_min: 10
steps:
  - at: {after: running, plus: 1 min}
    link: {drop: 1, direction: to_host}
  - at: {after: running, plus: 2 min}
    link: {corrupt: 1, direction: to_board}
  - id: cut
    at: {after: running, plus: 3 min}
    power_cut: 20 s
  - at: {after: running, plus: 10 min}
    disconnect: 2 s
  - at: {after: running, plus: 15 min}
    air: 0.5 s
expect:
  - alarm: power_restored
    within: 21 s
    after: step:cut
  - alarm: sensor_loss
    within: 11 min
    after: running
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    d = tmp_path_factory.mktemp("rec")
    r = run_scenario(loads(TEXT, "replay_me.yaml"), RunOptions(record_dir=str(d), timeout_s=0.3))
    assert r.outcome == "pass", r.failure_messages()
    assert r.recording is not None
    return Path(r.recording), r


def test_recording_holds_scenario_options_and_traffic(recorded) -> None:
    path, _ = recorded
    header, entries, footer = read_recording(path)
    assert header["scenario"]["text"] == TEXT and header["seed"] == 9
    kinds = [e[0] for e in entries]
    assert kinds.count("o") == 1 and kinds.count("w") > 50 and "r" in kinds
    assert footer()["outcome"] == "pass"


def test_replay_reproduces_the_run_without_a_board(recorded, capsys) -> None:
    path, _ = recorded
    s = replay(path)
    assert s["outcome"] == "pass" and s["frames_checked"] > 50
    assert main(["replay", str(path), "--quiet"]) == 0
    assert "identical" in capsys.readouterr().out


def test_replay_points_at_the_first_frame_that_differs(recorded, tmp_path: Path) -> None:
    path, _ = recorded
    # Another seed: the plant's sensor noise differs, so the first STEP does.
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    header = json.loads(lines[0])
    header["scenario"]["text"] = TEXT.replace("seed: 9", "seed: 10")
    tampered = tmp_path / "tampered.rec.jsonl.gz"
    with gzip.open(tampered, "wt") as f:
        f.write("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    with pytest.raises(ReplayMismatch, match=r"frame \d+ \(entry \d+, virtual tick \d+\) differs: "
                       r"recorded type 0x10 .* first difference at byte \d+ \(STEP sample"):
        replay(tampered)
    assert main(["replay", str(tampered), "--quiet"]) == 1
