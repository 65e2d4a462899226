"""The traceability matrix: each requirement with what verifies it and
the last verdicts, each hazard with its controls, and the gaps first.

:func:`build` is pure: a registry, the run's results and the scenario
library in, a JSON-ready dict out. :func:`strict_failures` is what CI
fails on: a safety-critical requirement without a passing verifying test.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from hil.trace.registry import Registry, Requirement
from hil.trace.results import Result

MATRIX_VERSION = 1


def library_results(results: list[Result], library: dict[str, tuple[str, tuple[str, ...]]]) -> list[Result]:
    """``results`` plus a ``not run`` entry for each library scenario the run
    lacks. ``library`` maps a scenario name to its file and ``verifies``;
    a run's scenario without ``verifies`` of its own takes the library's."""
    ran = {r.name for r in results if r.kind == "scenario"}
    out = []
    for r in results:
        if r.kind == "scenario" and not r.verifies and r.name in library:
            r = replace(r, verifies=library[r.name][1])
        out.append(r)
    for name, (file, verifies) in sorted(library.items()):
        if name not in ran:
            out.append(Result("scenario", name, file, "not run", verifies))
    return out


def _status(verifiers: list[Result]) -> str:
    outcomes = {v.outcome for v in verifiers}
    if not verifiers:
        return "no verifying test"
    if outcomes & {"failed", "error"}:
        return "failed"
    if "passed" in outcomes:
        return "passed"
    return "not passed"


def _entry(v: Result) -> dict[str, Any]:
    e = {"name": v.name, "file": v.file, "outcome": v.outcome}
    if v.kind == "scenario":
        e.update(record=v.record, board=v.board, virtual_board=v.virtual)
    if v.message:
        e["message"] = v.message
    return e


def _requirement(req: Requirement, verifiers: list[Result]) -> dict[str, Any]:
    scenarios = [v for v in verifiers if v.kind == "scenario"]
    on_virtual = any(v.outcome == "passed" and v.virtual for v in scenarios)
    d = {k: v for k, v in asdict(req).items() if k not in ("file", "line")}
    d.update(defined_at=f"{req.file}:{req.line}", status=_status(verifiers),
             passed_on_virtual_board=on_virtual,
             scenarios=[_entry(v) for v in scenarios],
             tests=[_entry(v) for v in verifiers if v.kind == "test"])
    return d


def build(registry: Registry, results: list[Result], identity: dict[str, Any] | None = None,
          source: str = "") -> dict[str, Any]:
    """The matrix of ``results`` against ``registry`` (see the module doc).

    Args:
        registry: requirements and hazards.
        results: the run's tests and scenarios (with the library's unrun ones).
        identity: build hash, firmware version and where they came from.
        source: where the verdicts were read (the JUnit file).
    """
    by_req: dict[str, list[Result]] = {r.id: [] for r in registry.requirements}
    for res in results:
        for rid in res.verifies:
            by_req.setdefault(rid, []).append(res)
    reqs = [_requirement(r, by_req[r.id]) for r in registry.requirements]
    status = {r["id"]: r["status"] for r in reqs}
    unverified = [r["id"] for r in reqs if r["status"] == "no verifying test"]
    not_passing = [r["id"] for r in reqs if r["status"] in ("failed", "not passed")]
    no_scenario = [r["id"] for r in reqs if not r["passed_on_virtual_board"]]
    nothing = [_entry(res) | {"kind": res.kind} for res in results if not res.verifies]
    gaps = {
        "safety_critical_without_passing_test": strict_failures_of(reqs),
        "requirements_without_verifying_test": unverified,
        "requirements_without_passing_test": not_passing,
        "requirements_without_passing_scenario_on_virtual_board": no_scenario,
        "scenarios_verifying_nothing": [e["name"] for e in nothing if e["kind"] == "scenario"],
        "tests_verifying_nothing": [e["name"] for e in nothing if e["kind"] == "test"],
    }
    gap_ids = set(unverified) | set(not_passing) | set(no_scenario)
    reqs.sort(key=lambda r: (r["id"] not in gap_ids, not r["safety_critical"]))
    hazards = [{**{k: v for k, v in asdict(h).items() if k not in ("file", "line", "requirements")},
                "controls": [{"id": rid, "status": status[rid]} for rid in h.requirements],
                "status": "passed" if all(status[rid] == "passed" for rid in h.requirements) else "gap"}
               for h in registry.hazards]
    counts = {o: sum(1 for r in results if r.outcome == o) for o in ("passed", "failed", "error",
                                                                    "skipped", "not run")}
    return {
        "matrix_version": MATRIX_VERSION,
        "build": identity or {},
        "source": source,
        "summary": {"requirements": len(reqs),
                    "safety_critical": sum(1 for r in reqs if r["safety_critical"]),
                    "passed": sum(1 for r in reqs if r["status"] == "passed"),
                    "hazards": len(hazards),
                    "hazards_with_gaps": sum(1 for h in hazards if h["status"] != "passed"),
                    "scenarios": sum(1 for r in results if r.kind == "scenario"),
                    "tests": sum(1 for r in results if r.kind == "test"), "outcomes": counts},
        "gaps": gaps,
        "requirements": reqs,
        "hazards": hazards,
    }


def strict_failures_of(reqs: list[dict[str, Any]]) -> list[str]:
    """Ids of safety-critical requirements with no passing verifying test."""
    return [r["id"] for r in reqs if r["safety_critical"]
            and not any(v["outcome"] == "passed" for v in r["scenarios"] + r["tests"])]


def strict_failures(matrix: dict[str, Any]) -> list[str]:
    """What ``--strict`` (CI) fails on, from a built matrix."""
    return strict_failures_of(matrix["requirements"])
