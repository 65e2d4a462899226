"""``hil run --lockstep`` and the plugin's ``--hil-lockstep``: one control
period per STEP frame, and the same run as with batched frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.cli import main

pytest_plugins = ["pytester"]

SHORT = """\
name: short_setup
seed: 4
duration: 4 min
expect:
  - state: priming
    within: 10 s
"""


OTHER = ("timing", "options", "link", "diag")


def _without(rec: dict, *keys: str) -> dict:
    return {k: v for k, v in rec.items() if k not in keys}


def test_run_lockstep_sends_one_period_per_frame(tmp_path: Path) -> None:
    f = tmp_path / "short_setup.yaml"
    f.write_text(SHORT)
    recs = {}
    for name, extra in (("lockstep", ["--lockstep"]), ("batched", [])):
        out = tmp_path / name
        assert main(["run", str(f), "--quiet", "--out", str(out), *extra]) == 0
        recs[name] = json.loads((out / "short_setup.json").read_text())
    lock, batch = recs["lockstep"], recs["batched"]
    assert lock["options"]["max_batch"] == 1 and batch["options"]["max_batch"] == 400
    assert lock["link"]["frames"] >= 2400 > 20 * batch["link"]["frames"]
    # The same run, frame size (and so the board's frame counters) aside.
    assert _without(lock, *OTHER) == _without(batch, *OTHER)
    assert (tmp_path / "lockstep" / "short_setup.trace.csv").read_bytes() == \
        (tmp_path / "batched" / "short_setup.trace.csv").read_bytes()


def test_plugin_lockstep_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "tiny.yaml").write_text(
        SHORT.replace("name: short_setup", "name: tiny").replace("4 min", "30 s"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hil-out=records", "--hil-lockstep")
    result.assert_outcomes(passed=1)
    rec = json.loads((pytester.path / "records" / "tiny.json").read_text())
    assert rec["options"]["max_batch"] == 1 and rec["link"]["frames"] >= 300
