"""A scenario's output files are named after its file, not its ``name:``:
a copy of a library scenario under another file name keeps its own record
and recording."""

from __future__ import annotations

import shutil
from pathlib import Path

from hil.run.runner import output_stem
from hil.scenario import load, loads

ROOT = Path(__file__).resolve().parents[2]


def test_a_copy_gets_its_own_stem(tmp_path: Path) -> None:
    original = ROOT / "scenarios" / "air_in_return_line.yaml"
    copy = tmp_path / "air_in_return_line_slow_detector.yaml"
    shutil.copy(original, copy)
    a, b = load(original), load(copy)
    assert a.name == b.name == "air_in_return_line"          # both say the same name:
    assert output_stem(a) == "air_in_return_line"
    assert output_stem(b) == "air_in_return_line_slow_detector"


def test_a_scenario_without_a_file_takes_its_name() -> None:
    text = (ROOT / "scenarios" / "air_in_return_line.yaml").read_text()
    assert output_stem(loads(text, "")) == "air_in_return_line"
    assert output_stem(loads(text, "<string>")) == "air_in_return_line"
