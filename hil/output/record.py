"""Run records: one JSON file per scenario run, and JUnit XML for CI.

The JSON record is the test record in OpenHTF's sense: what ran (scenario
file and its digest, seed, options), on what (the firmware's identity as
the board reported it in HELLO), what was done and when (steps, with
virtual times and the board's answers), every expectation and measurement
(limits, units, outcome, the virtual time it was decided, what was seen),
and the run's time line of events. Everything that depends on the wall
clock (dates, wall seconds, speed) is in its ``timing`` block: two runs of
the same scenario and seed give records that are byte-identical outside
it.

Next to the record, ``<name>.trace.csv`` holds the plant's trace of the run
(one row per 10 virtual seconds), written like the demo's ``trace.csv``, and
``<name>.html`` its report for people (:mod:`hil.output.runreport`).

Every value in a record is in physical units (the wire contract,
:mod:`hil.transport.contract`). :func:`read_record` reads a record of any
format and gives it in the current one.
"""

from __future__ import annotations

import csv
import json
import platform
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from hil.output.events import from_format2, period_of
from hil.run.runner import ScenarioResult

# 2: wall-clock fields moved into "timing"; "trace" names the trace file.
# 3: physical units throughout: an alarm's value in the unit of its reading,
#    named in "value_unit"; audio_pause, override and restored events by
#    their fields (docs/protocol.md, "Units: the wire contract").
RECORD_VERSION = 3


def trace_name(r: ScenarioResult) -> str | None:
    """File name of the run's trace next to its record (None: no plant trace)."""
    return f"{r.stem}.trace.csv" if r.timeline.trace_rows else None


def record_dict(r: ScenarioResult) -> dict[str, Any]:
    """The JSON record of one run."""
    sc = r.scenario
    tl = r.timeline
    fs = tl.status_at(tl.end_tick) if tl.statuses else None
    # The board's time in its ticks (DIAG tick_us) is a wall-clock figure:
    # it goes with the timing, not with the board's counters.
    diag = dict(r.diag)
    tick_us = diag.pop("tick_us", None)
    return {
        "record_version": RECORD_VERSION,
        "scenario": {"name": sc.name, "file": sc.path, "sha256": sc.sha256, "description": sc.description,
                     "tags": list(sc.tags), "seed": sc.seed, "duration_s": sc.duration_s},
        "outcome": r.outcome,
        "error": r.error,
        "failures": r.failure_messages() if not r.passed else [],
        "firmware": r.hello,
        "options": r.options,
        "host": {"python": platform.python_version(), "platform": platform.platform()},
        "virtual_s": r.virtual_s,
        # What varies from run to run: kept apart so that the rest of the
        # record is a function of the scenario, the seed and the firmware.
        "timing": {"started_at": r.started_at, "finished_at": r.finished_at, "wall_s": r.wall_s,
                   "speedup": round(r.virtual_s / r.wall_s) if r.wall_s else None,
                   "firmware_tick_us": tick_us},
        "steps": [d.as_dict(tl.period_s) for d in r.steps],
        "expectations": [c.as_dict() for c in r.verdict.checks if c.kind != "measurement"],
        "measurements": [c.as_dict() for c in r.verdict.checks if c.kind == "measurement"],
        "final_status": None if fs is None else {
            "state": fs.state_name, "cartridge": fs.cartridge, "pump_ml_min": fs.pump_ml_min,
            "clamp_open": fs.clamp_open, "heparin_u_h": fs.heparin_u_h, "last_aptt_s": fs.last_aptt_s,
            "cartridge_used_s": round(fs.cartridge_used_s(tl.period_s), 1)},
        "link": r.link,
        "diag": diag,
        "recording": r.recording,
        "trace": trace_name(r),
        "events": tl.events,
    }


def upgrade_record(rec: dict[str, Any]) -> dict[str, Any]:
    """A record of any format (1, 2, 3) in the current one.

    Format 1 had the wall-clock fields at the top level (``wall_s``,
    ``speedup``, ``host.finished_at``); format 2 gave alarm values in wire
    counts and some events as raw code, a and b (:mod:`hil.output.events`).

    Raises:
        ValueError: not a record, or of a format newer than this harness's.
    """
    version = rec.get("record_version") if isinstance(rec, dict) else None
    if version not in range(1, RECORD_VERSION + 1):
        raise ValueError(f"record format {version!r}: this harness reads formats 1 to {RECORD_VERSION}")
    out = dict(rec)
    if version == 1:
        host = dict(out.get("host") or {})
        out["timing"] = {"started_at": None, "finished_at": host.pop("finished_at", None),
                         "wall_s": out.pop("wall_s", None), "speedup": out.pop("speedup", None)}
        out["host"] = host
        out.setdefault("trace", None)
    if version < 3:
        events = out.get("events") or []
        period = ((out.get("firmware") or {}).get("period_ms") or 0) / 1000.0 or period_of(events)
        out["events"] = [from_format2(e, period) for e in events]
    out["record_version"] = RECORD_VERSION
    return out


def read_record(path: Path) -> dict[str, Any]:
    """A record file (``<name>.json``) of any format, in the current format."""
    return upgrade_record(json.loads(Path(path).read_text()))


def write_record(r: ScenarioResult, out_dir: Path, html: bool = True) -> Path:
    """Write ``<out_dir>/<stem>.json`` and, for a run with a plant,
    its trace ``<out_dir>/<stem>.trace.csv``, and (``html``) its
    report ``<out_dir>/<stem>.html`` (docs/reports.md); return the
    record's path."""
    from hil.output.runreport import write_run_report

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{r.stem}.json"
    record = record_dict(r)
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    if html:
        tl = r.timeline
        write_run_report(json.loads(json.dumps(record, default=str)), tl.trace_columns, tl.trace_rows,
                         out_dir / f"{r.stem}.html", r.scenario.device.anticoagulation)
    trace = out_dir / f"{r.stem}.trace.csv"
    if trace_name(r) is not None:
        write_trace_csv(r, trace)
    else:
        trace.unlink(missing_ok=True)   # not one of an earlier run
    return path


def report_from_files(record_path: Path, out: Path | None = None) -> Path:
    """Re-render ``<name>.html`` from ``<name>.json`` and the trace CSV its
    ``trace`` names (the state column is left out)."""
    from hil.output.runreport import write_run_report

    record = read_record(record_path)
    columns: list[str] = []
    rows: list[list[float]] = []
    if record.get("trace"):
        with open(Path(record_path).parent / record["trace"], newline="") as f:
            reader = csv.reader(f)
            columns = next(reader)[:-1]
            rows = [[float(v) for v in row[:-1]] for row in reader]
    return write_run_report(record, columns, rows, out or Path(record_path).with_suffix(".html"))


def write_trace_csv(r: ScenarioResult, path: Path) -> None:
    """The plant's trace of a run, one row per trace interval (10 virtual
    seconds by default), with the board's state after that tick (``off``
    while it had no power); byte-identical for the same scenario and seed."""
    from hil.output.report import write_trace

    tl = r.timeline
    t = tl.trace_columns.index("t_s")
    states = [tl.state_name_at(round(row[t] / tl.period_s)) for row in tl.trace_rows]
    write_trace(path, tl.trace_columns, tl.trace_rows, states)


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
