"""The verdicts of a test run, as the matrix reads them: from pytest's
JUnit XML (the ``verifies`` and ``record`` properties the plugins put on
each test case) and from the scenario runs' JSON records."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Outcomes, best first; a requirement counts as verified only by "passed".
OUTCOMES = ("passed", "failed", "error", "skipped", "not run")


class JUnitError(ValueError):
    """A JUnit file that is missing or cannot be read (message names it)."""


@dataclass(frozen=True)
class Result:
    """One test or scenario of the run.

    ``kind`` is ``scenario`` (a scenario file) or ``test`` (a Python test);
    ``name`` the scenario's name or the test's ``file::name``; ``board`` the
    board config the scenario ran, as its HELLO named it, and ``virtual``
    whether it ran on the virtual board rather than on a port (both from
    the record).
    """

    kind: str
    name: str
    file: str
    outcome: str
    verifies: tuple[str, ...] = ()
    record: str | None = None
    board: str | None = None
    message: str = ""
    virtual: bool = False


def _outcome(case: ET.Element) -> tuple[str, str]:
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        el = case.find(tag)
        if el is not None:
            return outcome, (el.get("message") or "").strip()[:300]
    return "passed", ""


def _worse(a: str, b: str) -> str:
    """Of two outcomes of one test (call and teardown), the one that decides."""
    rank = {"error": 0, "failed": 1, "skipped": 2, "passed": 3, "not run": 4}
    return a if rank[a] <= rank[b] else b


def read_junit(path: Path | str) -> list[Result]:
    """The test cases of a JUnit XML file, one :class:`Result` each.

    Raises:
        JUnitError: the file is missing or not JUnit XML.
    """
    p = Path(path)
    if not p.is_file():
        raise JUnitError(f"{p}: no JUnit XML here; run `make test` first (it writes out/junit.xml)")
    try:
        tree = ET.parse(p)
    except ET.ParseError as e:
        raise JUnitError(f"{p}: not JUnit XML: {e}") from None
    out: dict[str, Result] = {}
    for case in tree.iter("testcase"):
        props = {pr.get("name", ""): pr.get("value", "") for pr in case.iter("property")}
        cls, name = case.get("classname", ""), case.get("name", "")
        outcome, message = _outcome(case)
        kind = props.get("trace_kind") or ("scenario" if "record" in props else "test")
        file = props.get("trace_file") or _file_of(cls)
        key = name if kind == "scenario" else props.get("trace_name") or f"{file}::{_test_name(cls, name)}"
        r = Result(kind, key, file, outcome, tuple(props.get("verifies", "").split()),
                   props.get("record") or None, message=message)
        if key in out:      # the same test reported twice (a teardown error after the call)
            r = replace(out[key], outcome=_worse(out[key].outcome, outcome),
                        message=message or out[key].message)
        out[key] = r
    return list(out.values())


def _file_of(classname: str) -> str:
    """``tests.hil.test_x.TestY`` -> ``tests/hil/test_x.py`` (best effort)."""
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        cand = "/".join(parts[:i]) + ".py"
        if (ROOT / cand).is_file():
            return cand
    return "/".join(parts)


def _test_name(classname: str, name: str) -> str:
    file = _file_of(classname)
    inner = classname.split(".")[len(file[:-3].split("/")):] if file.endswith(".py") else []
    return "::".join([*inner, name])


def read_record(path: str | Path) -> dict[str, Any] | None:
    """A scenario run's JSON record, or None if it is missing or unreadable."""
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def with_records(results: list[Result], records_dir: Path | str | None = None) -> list[Result]:
    """Fill in each scenario's board from its record (named by the JUnit
    ``record`` property, else ``records_dir/<name>.json``); a record whose
    outcome disagrees with JUnit is noted in the message."""
    out = []
    for r in results:
        if r.kind != "scenario":
            out.append(r)
            continue
        path = r.record or (str(Path(records_dir) / f"{r.name}.json") if records_dir else None)
        rec = read_record(path) if path else None
        if rec is None:
            out.append(r)
            continue
        hello = rec.get("firmware") or {}
        note = r.message
        rec_outcome = {"pass": "passed", "fail": "failed", "skip": "skipped"}.get(rec.get("outcome", ""))
        if rec_outcome and rec_outcome != r.outcome and r.outcome in ("passed", "failed"):
            note = (note + "; " if note else "") + f"record says {rec.get('outcome')}"
        out.append(replace(r, record=path, board=hello.get("board"), message=note,
                           virtual=(rec.get("options") or {}).get("port") == "virtual"))
    return out


def hello_of(results: list[Result]) -> dict[str, Any]:
    """The firmware identity (HELLO) of the first scenario record of the run."""
    for r in results:
        if r.kind == "scenario" and r.record:
            rec = read_record(r.record)
            if rec and rec.get("firmware"):
                return dict(rec["firmware"])
    return {}
