"""Run records: one JSON file per scenario run, and JUnit XML for CI.

The JSON record is the test record in OpenHTF's sense: what ran (scenario
file and its digest, seed, options), on what (the firmware's identity as
the board reported it in HELLO), what was done and when (steps, with
virtual times and the board's answers), every expectation and measurement
(limits, units, outcome, the virtual time it was decided, what was seen),
and the run's time line of events.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from hil.runner import ScenarioResult

RECORD_VERSION = 1


def record_dict(r: ScenarioResult) -> dict[str, Any]:
    """The JSON record of one run."""
    sc = r.scenario
    tl = r.timeline
    fs = tl.status_at(tl.end_tick) if tl.statuses else None
    return {
        "record_version": RECORD_VERSION,
        "scenario": {"name": sc.name, "file": sc.path, "sha256": sc.sha256, "description": sc.description,
                     "tags": list(sc.tags), "seed": sc.seed, "duration_s": sc.duration_s},
        "outcome": r.outcome,
        "error": r.error,
        "failures": r.failure_messages() if not r.passed else [],
        "firmware": r.hello,
        "options": r.options,
        "host": {"python": platform.python_version(), "platform": platform.platform(),
                 "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")},
        "virtual_s": r.virtual_s,
        "wall_s": r.wall_s,
        "speedup": round(r.virtual_s / r.wall_s) if r.wall_s else None,
        "steps": [d.as_dict(tl.period_s) for d in r.steps],
        "expectations": [c.as_dict() for c in r.verdict.checks if c.kind != "measurement"],
        "measurements": [c.as_dict() for c in r.verdict.checks if c.kind == "measurement"],
        "final_status": None if fs is None else {
            "state": fs.state_name, "cartridge": fs.cartridge, "pump_ml_min": fs.pump / 10,
            "clamp_open": fs.clamp_open, "heparin_u_h": fs.heparin / 10, "last_aptt_s": fs.last_aptt / 10,
            "cartridge_used_s": round(fs.cartridge_used * tl.period_s, 1)},
        "link": r.link,
        "diag": r.diag,
        "recording": r.recording,
        "events": tl.events,
    }


def write_record(r: ScenarioResult, out_dir: Path) -> Path:
    """Write ``<out_dir>/<scenario name>.json``; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{r.scenario.name}.json"
    path.write_text(json.dumps(record_dict(r), indent=1, default=str) + "\n")
    return path


def write_junit(results: list[ScenarioResult], path: Path, suite: str = "hil-scenarios") -> Path:
    """JUnit XML of scenario runs (one test case per scenario, measurements
    as properties)."""
    fails = sum(1 for r in results if r.outcome == "fail")
    errors = sum(1 for r in results if r.outcome == "error")
    skips = sum(1 for r in results if r.outcome == "skip")
    ts = ET.Element("testsuite", name=suite, tests=str(len(results)), failures=str(fails),
                    errors=str(errors), skipped=str(skips),
                    time=f"{sum(r.wall_s for r in results):.3f}")
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname="scenarios", name=r.scenario.name,
                           file=r.scenario.path, time=f"{r.wall_s:.3f}")
        props = ET.SubElement(tc, "properties")
        ET.SubElement(props, "property", name="virtual_s", value=f"{r.virtual_s:g}")
        if r.hello:
            ET.SubElement(props, "property", name="firmware", value=str(r.hello.get("firmware")))
        for c in r.verdict.checks:
            if c.kind == "measurement":
                ET.SubElement(props, "property", name=f"measurement.{c.name}",
                              value=f"{c.value} {c.unit} [{c.outcome}]")
        if r.outcome == "fail":
            msgs = r.failure_messages()
            ET.SubElement(tc, "failure", message=msgs[0] if msgs else "failed").text = "\n".join(msgs)
        elif r.outcome == "error":
            ET.SubElement(tc, "error", message=r.error or "error").text = r.error
        elif r.outcome == "skip":
            ET.SubElement(tc, "skipped", message=r.error or "skipped")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(ts).write(path, encoding="utf-8", xml_declaration=True)
    return path
