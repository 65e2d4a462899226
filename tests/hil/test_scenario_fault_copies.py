"""Library scenarios that must tell a faulty firmware from the real one: each
runs on a copy of the firmware with the fault its requirement guards
against, and must fail exactly where it should.

- ``heparin_only_into_flowing_blood`` (SR-HEP-5): a copy that releases a
  bolus whatever the flow pools it in the standing line.
- ``power_cut_inside_storage_write`` (SR-PERS-1): a copy whose storage is
  not atomic (a write cut short lands in the record itself) reads back a
  torn record. The ``power_cut_in_write`` step uses the ``make powercut``
  machinery (a board started with a cut file, the campaign's
  :class:`~hil.board.virtual.CutBench` below the link); the loop restarts
  the board that killed itself.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from hil.board.firmware import FIRMWARE_DIR
from hil.board.providers import Board
from hil.board.virtual import VirtualBoard
from hil.run.cutboard import CutPowerBoard
from hil.run.runner import RunOptions, ScenarioResult, run_scenario
from hil.scenario import ScenarioError, load, loads

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
# The controller's rule: the bolus total goes out only while blood flows.
HELD = "bolus = self.hep.bolus_total if st == _RUNNING and pump > 0 else self.out_bolus"
# FileStorage.write_torn: what a cut leaves, in the temporary file only.
TORN_TO_TMP = 'with open(self._path(name) + ".tmp", "wb") as f:\n            f.write(data[:n])'


class _Copy:
    """Provider of virtual boards (armed for a cut) running the firmware from ``src``."""

    def __init__(self, src: Path) -> None:
        self.src = src

    def start(self) -> Board:
        tmp = Path(tempfile.mkdtemp(prefix="hil-copy-test-"))
        vb = VirtualBoard("virtual", compiled=False, cut_file=tmp / "cut")
        vb.firmware_dir = self.src
        vb.start()
        return CutPowerBoard(vb, tmp)


def _run_on_copy(tmp_path: Path, scenario: str, module: str, old: str, new: str) -> ScenarioResult:
    """Run a library scenario on a copy of the firmware with ``old`` replaced
    by ``new`` in ``module``."""
    fw = tmp_path / "firmware"
    shutil.copytree(FIRMWARE_DIR, fw, ignore=shutil.ignore_patterns("__pycache__"))
    path = fw / module
    text = path.read_text()
    assert old in text, f"{module} changed: update this test"
    path.write_text(text.replace(old, new))
    return run_scenario(load(LIBRARY / scenario), RunOptions(provider=_Copy(fw)))


@pytest.mark.verifies("SR-HEP-5")
def test_a_bolus_released_into_the_standing_line_fails_the_scenario(tmp_path: Path) -> None:
    r = _run_on_copy(tmp_path, "heparin_only_into_flowing_blood.yaml", "controller.py",
                     HELD, "bolus = self.hep.bolus_total")
    assert r.outcome == "fail", r.failure_messages()
    assert {c.name for c in r.verdict.failures} == {
        "bolus_held_while_paused", "line_without_bolus_while_paused"}, r.failure_messages()
    line = next(c for c in r.verdict.failures if c.name == "line_without_bolus_while_paused")
    assert line.value is not None and line.value > 2000   # the 2800 U bolus pooled in the line


@pytest.mark.verifies("SR-PERS-1")
def test_a_storage_that_is_not_atomic_fails_the_scenario(tmp_path: Path) -> None:
    r = _run_on_copy(tmp_path, "power_cut_inside_storage_write.yaml", "storage.py",
                     TORN_TO_TMP, TORN_TO_TMP.replace(' + ".tmp"', ""))
    assert r.outcome == "fail", r.failure_messages()
    failed = {c.name for c in r.verdict.failures}
    # A torn record is ignored: the board boots as a fresh one, no therapy
    # to restore, its cartridge time gone.
    assert {"record_read_back", "state safe within 71 s after step:cut"} <= failed, failed
    lost = next(c for c in r.verdict.failures if c.name == "record_read_back")
    assert lost.value is not None and lost.value > 1000


def test_a_cut_in_a_write_is_recorded_with_its_write_and_its_time_off() -> None:
    r = run_scenario(load(LIBRARY / "power_cut_inside_storage_write.yaml"))
    assert r.outcome == "pass", r.failure_messages()
    boots = [e for e in r.timeline.events if e["type"] == "boot"]
    assert [b["cut_in_write"]["written"] for b in boots] == [40, 0]
    assert all(b["cut_in_write"]["name"] in ("therapy.json", "alarms.json") for b in boots)
    # Unpowered for the step's 30 s, then 10 s: the trace's state is 'off' then.
    assert [b - a for a, b in r.timeline.off_windows] == [300, 100]


def test_power_cut_in_write_arguments_are_checked_when_read() -> None:
    wrong = {"{written: 101}": "step 1 'power_cut_in_write' written (bytes of the write on the flash) "
                               "must be 0..100, not 101",
             "{bytes: 5}": "unknown key 'bytes' in step 1 'power_cut_in_write'"}
    for arg, words in wrong.items():
        try:
            loads(f"duration: 1 h\nsteps:\n  - at: 60\n    power_cut_in_write: {arg}\n", "c.yaml")
        except ScenarioError as e:
            assert str(e).startswith("c.yaml:4: ") and words in str(e), str(e)
        else:
            raise AssertionError(f"power_cut_in_write: {arg} was accepted")
