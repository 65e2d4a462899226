"""Requirements traceability: the registry, what verifies what, the matrix
and its strict gate (hil/trace)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from hil.scenario import load
from hil.scenario.model import ALARM_NAMES
from hil.trace import __main__ as cli
from hil.trace.matrix import build, library_results, strict_failures
from hil.trace.registry import ROOT, RegistryError, load_registry
from hil.trace.render import matrix_html, requirements_md
from hil.trace.results import Result, hello_of, read_junit, with_records

REG = load_registry()
# The virtual board runs the sim HAL, where link supervision is off (docs/firmware.md,
# "Link supervision"): host_link_lost is verified by tests on a board on its own clock.
NOT_ON_THE_VIRTUAL_BOARD = {"host_link_lost"}


def test_every_firmware_alarm_has_a_requirement_and_every_hazard_a_control() -> None:
    covered = {r.alarm for r in REG.requirements if r.alarm}
    assert set(ALARM_NAMES) <= covered, set(ALARM_NAMES) - covered
    assert all(h.requirements and set(h.requirements) <= REG.ids for h in REG.hazards)
    controlled = {rid for h in REG.hazards for rid in h.requirements}
    critical = {r.id for r in REG.requirements if r.safety_critical}
    assert critical <= controlled, critical - controlled


def test_every_protective_requirement_has_a_scenario_in_the_library() -> None:
    lib = cli.scenario_library()
    assert all(v for _, v in lib.values()), [n for n, (_, v) in lib.items() if not v]
    in_library = {rid for _, ids in lib.values() for rid in ids}
    missing = [r.id for r in REG.requirements
               if r.alarm and r.alarm not in NOT_ON_THE_VIRTUAL_BOARD and r.id not in in_library]
    assert not missing


def test_docs_requirements_md_is_rendered_from_the_registry() -> None:
    text = (ROOT / "docs" / "requirements.md").read_text(encoding="utf-8")
    assert text == requirements_md(REG), "run: python -m hil.trace --docs"


def _write(folder: Path, text: str, name: str = "r.yaml") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


REQ = ("  - id: SR-A-1\n    text: t\n    source: s\n    function: f\n    safety_critical: true\n")


@pytest.mark.parametrize("body, line, reason", [
    ("requirements:\n" + REQ + REQ, 7, "SR-A-1 is defined twice"),
    ("requirements:\n" + REQ + "hazards:\n  - {id: HAZ-X, hazard: h, cause: c, control: k,\n"
     "     requirements: [SR-A-1, SR-B-2]}\n", 9, "unknown requirement 'SR-B-2'"),
    ("requirements:\n  - id: A1\n    text: t\n    source: s\n    function: f\n    safety_critical: true\n",
     2, "must look like SR-AREA-1"),
    ("requirements:\n" + REQ.replace("true", "yes please"), 6, "safety_critical must be true or false"),
    ("requirements:\n" + REQ + "    alarm: smoke\n", 7, "unknown alarm 'smoke'"),
    ("requirements:\n" + REQ + "    owner: me\n", 7, "unknown key 'owner'"),
])
def test_a_malformed_registry_names_file_and_line(tmp_path: Path, body: str, line: int, reason: str) -> None:
    with pytest.raises(RegistryError) as e:
        load_registry(_write(tmp_path / "req", body))
    assert e.value.line == line and reason in e.value.reason and e.value.path.endswith("r.yaml")


def _junit(path: Path, cases: list[tuple[str, str, str, str]], record: Path | None = None) -> Path:
    """JUnit XML as pytest writes it: (classname, name, verifies, outcome) per
    case; scenarios name ``record`` as their JSON record."""
    body = []
    for cls, name, verifies, outcome in cases:
        kind = "scenario" if cls.startswith("scenarios.") else "test"
        tail = {"passed": "", "failed": "<failure message='boom'>x</failure>",
                "skipped": "<skipped message='no board'/>"}[outcome]
        rec = (f"<property name='record' value={quoteattr(str(record))}/>"
               if kind == "scenario" and record else "")
        body.append(f"<testcase classname={quoteattr(cls)} name={quoteattr(name)} time='0.1'><properties>"
                    f"<property name='verifies' value={quoteattr(verifies)}/>{rec}"
                    f"<property name='trace_kind' value='{kind}'/></properties>{tail}</testcase>")
    path.write_text("<?xml version='1.0'?><testsuites><testsuite name='t'>" + "".join(body)
                    + "</testsuite></testsuites>")
    return path


def test_the_matrix_puts_gaps_first_and_the_gate_fails_on_critical_ones(tmp_path: Path) -> None:
    reg = load_registry(_write(tmp_path / "req", "requirements:\n" + REQ + REQ.replace("A-1", "B-1")
                               + REQ.replace("A-1", "C-1").replace("true", "false")
                               + "hazards:\n  - {id: HAZ-X, hazard: h, cause: c, control: k, "
                               "requirements: [SR-A-1, SR-B-1]}\n"))
    record = tmp_path / "s1.json"
    record.write_text(json.dumps({"outcome": "pass", "options": {"port": "virtual"},
                                  "firmware": {"board": "virtual", "build": "abc123def456"}}))
    junit = _junit(tmp_path / "j.xml", [
        ("tests.hil.test_closed_loop", "test_air", "SR-A-1", "passed"),
        ("tests.hil.test_closed_loop", "test_b", "SR-B-1", "failed"),
        ("tests.hil.test_closed_loop", "test_b", "", "passed"),       # a teardown after the call
        ("tests.hil.test_closed_loop", "test_plain", "", "passed"),
        ("scenarios.s1.yaml", "s1", "SR-A-1", "passed"),
    ], record)
    results = with_records(read_junit(junit))
    assert {r.name: r.outcome for r in results}["tests/hil/test_closed_loop.py::test_b"] == "failed"
    assert hello_of(results)["build"] == "abc123def456"
    results = library_results(results, {"s2": ("scenarios/s2.yaml", ("SR-C-1",))})
    m = build(reg, results, {"firmware_version": "9.9.9", "build": "abc123def456"}, "j.xml")
    status = {r["id"]: r["status"] for r in m["requirements"]}
    assert status == {"SR-A-1": "passed", "SR-B-1": "failed", "SR-C-1": "not passed"}
    assert [r["id"] for r in m["requirements"]] == ["SR-B-1", "SR-C-1", "SR-A-1"]   # gaps first
    assert m["requirements"][2]["passed_on_virtual_board"] is True
    assert m["gaps"]["requirements_without_passing_test"] == ["SR-B-1", "SR-C-1"]
    assert m["gaps"]["tests_verifying_nothing"] == ["tests/hil/test_closed_loop.py::test_plain"]
    assert m["hazards"][0]["status"] == "gap"
    assert strict_failures(m) == ["SR-B-1"]                     # SR-C-1 is not safety-critical
    page = matrix_html(m)
    assert "abc123def456" in page and "9.9.9" in page.split("</h1>")[0]
    assert page.index("Gaps") < page.index("<h2>Requirements")
    assert page.index("SR-B-1") < page.index("<tr id='SR-A-1'>")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Only this plugin: the test is about it, not about the others installed.
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_strict_cli_passes_only_when_every_critical_requirement_has_a_passing_test(tmp_path: Path) -> None:
    critical = [r.id for r in REG.requirements if r.safety_critical]
    cases = [("tests.t", f"test_{i}", rid, "passed") for i, rid in enumerate(critical)]
    good = _junit(tmp_path / "good.xml", cases)
    bad = _junit(tmp_path / "bad.xml", cases[:-1] + [("tests.t", "test_last", critical[-1], "skipped")])
    out = tmp_path / "trace"
    assert cli.main(["--junit", str(good), "--out", str(out), "--strict", "--records", str(tmp_path)]) == 0
    m = json.loads((out / "matrix.json").read_text())
    assert m["gaps"]["safety_critical_without_passing_test"] == []
    assert m["build"]["firmware_version"] and (out / "matrix.html").is_file()
    assert cli.main(["--junit", str(bad), "--out", str(out), "--strict", "--records", str(tmp_path)]) == 1
    assert cli.main(["--junit", str(bad), "--out", str(out), "--records", str(tmp_path)]) == 0
    assert cli.main(["--junit", str(tmp_path / "none.xml"), "--out", str(out)]) == 2


def test_pytest_marker_ids_are_checked_at_collection_and_reach_the_junit(tmp_path: Path) -> None:
    (tmp_path / "test_m.py").write_text(
        "import pytest\n\n\n@pytest.mark.verifies('SR-AIR-1')\ndef test_ok():\n    assert 1 + 1 == 2\n")
    junit = tmp_path / "j.xml"
    opts = ["-m", "pytest", "-p", "hil.trace.pytest_plugin", "-o", "addopts=", "-p", "no:cacheprovider",
            "-q", f"--junitxml={junit}", "--rootdir", str(tmp_path)]
    proc = _run([*opts, "test_m.py"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "requirements trace" in proc.stdout
    (r,) = read_junit(junit)
    assert (r.verifies, r.outcome, r.kind) == (("SR-AIR-1",), "passed", "test")
    (tmp_path / "test_bad.py").write_text(
        "import pytest\n\n\n@pytest.mark.verifies('SR-AIR-1', 'SR-NOPE-1')\ndef test_x():\n    pass\n")
    proc = _run([*opts, "test_bad.py"], tmp_path)
    assert proc.returncode == 4
    assert "test_bad.py:4: unknown requirement id 'SR-NOPE-1'" in proc.stdout + proc.stderr
    # A module that also runs in the MicroPython VM names its ids in VERIFIES.
    (tmp_path / "test_v.py").write_text(
        'VERIFIES = {\n    "test_y": ("SR-AIR-1",),\n    "test_z": ("SR-AIR-7",),\n}\n\n\n'
        "def test_y():\n    pass\n\n\ndef test_z():\n    pass\n")
    proc = _run([*opts, "test_v.py"], tmp_path)
    assert proc.returncode == 4
    assert "test_v.py:3: unknown requirement id 'SR-AIR-7'" in proc.stdout + proc.stderr
    (tmp_path / "test_v.py").write_text('VERIFIES = {\n    "test_gone": ("SR-AIR-1",),\n}\n\n\n'
                                        "def test_y():\n    pass\n")
    proc = _run([*opts, "test_v.py"], tmp_path)
    assert proc.returncode == 4 and "test_v.py:2: VERIFIES names 'test_gone'" in proc.stdout + proc.stderr


def test_library_scenarios_carry_their_ids_into_not_run_entries() -> None:
    sc = load("scenarios/air_in_return_line.yaml")
    assert "SR-AIR-1" in sc.verifies
    rs = library_results([], {sc.name: (sc.path, sc.verifies)})
    assert rs == [Result("scenario", sc.name, sc.path, "not run", sc.verifies)]
