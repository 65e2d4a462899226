"""The groups of a campaign file, kind by kind: how each is read (checked,
with the line of each fault) and how it expands into run specs.

A reader takes the campaign reader (:mod:`hil.campaign.spec`), the group's
located YAML and the known firmware configurations, and returns the
group's options; an expander takes those options and the digest of each
firmware configuration and returns the group's run specs, in a fixed
order. Specs hold only JSON values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hil.board.firmware import ROOT
from hil.scenario import ScenarioError, Y, discover, load

# Scenario patient keys (docs/scenarios.md) -> the Patient fields they set.
PATIENT_FIELDS = {"weight_kg": "weight_kg", "severity": "k_pg", "cytokine_gain": "cytokine_gain",
                  "hours_since_diagnosis": "hours_since_onset"}
WORKING_TREE = "table"   # the firmware configuration of the reliability kinds (the shipped one)


def _opt(r: Any, y: Y, allowed: tuple[str, ...]) -> dict[str, Y]:
    return r.mapping(y, f"group of kind {y.value['kind'].value}", ("kind", *allowed))


def _shown(path: Path) -> str:
    """A scenario file as a run spec names it: relative to the checkout when
    inside it (so that run ids do not depend on where the checkout is), else absolute."""
    p = path.resolve()
    try:
        return p.relative_to(ROOT).as_posix()
    except ValueError:
        return str(p)


def resolve(file: str) -> Path:
    """The file a run spec names, on this machine."""
    p = Path(file)
    return p if p.is_absolute() else ROOT / p


def scenario_files(r: Any, y: Y) -> list[str]:
    """The files a group's ``scenarios`` names (library names, files or folders), each loaded to check it."""
    names = r.names(y, "scenarios")
    try:
        files = [_shown(p) for p in discover(names, root=ROOT)]
        for f in files:
            load(resolve(f))
    except ScenarioError as e:
        raise r.err(y.line, f"scenarios: {e}") from None
    if len(set(files)) != len(files):
        raise r.err(y.line, "a scenario appears twice in scenarios")
    return files


def _patients(r: Any, y: Y) -> list[dict[str, float]]:
    items = y.value if isinstance(y.value, list) else None
    if not items:
        raise r.err(y.line, "patients must be a non-empty list of patient mappings ({} keeps the scenario's)")
    out: list[dict[str, float]] = []
    for item in items:
        p = r.patient(item)
        given = item.value if isinstance(item.value, dict) else {}
        out.append({PATIENT_FIELDS[k]: getattr(p, PATIENT_FIELDS[k]) for k in given})
    return out


def read_scenarios(r: Any, y: Y, known: dict[str, str]) -> dict[str, Any]:
    m = _opt(r, y, ("scenarios", "seeds", "patients", "firmware", "duration"))
    if "scenarios" not in m:
        raise r.err(y.line, "a group of kind scenarios needs 'scenarios' (library names, files or folders)")
    return {"scenarios": scenario_files(r, m["scenarios"]),
            "seeds": r.seeds(m["seeds"]) if "seeds" in m else None,
            "patients": _patients(r, m["patients"]) if "patients" in m else [{}],
            "firmware": r.firmware_refs(m["firmware"], known) if "firmware" in m else [WORKING_TREE],
            "duration_s": r.duration(m["duration"], "duration") if "duration" in m else None}


def read_trial(r: Any, y: Y, known: dict[str, str]) -> dict[str, Any]:
    from hil.trial.trial import MAX_HOURS, MAX_PATIENTS

    m = _opt(r, y, ("arms", "patients", "hours", "seed", "flow_ml_min"))
    arms = r.firmware_refs(m["arms"], known) if "arms" in m else ["table", "none"]
    patients = r.integer(m, "patients", 1, MAX_PATIENTS, 16)
    return {"firmware": arms, "patients": patients,
            "hours": float(r.number(m["hours"], "hours", 0.01, MAX_HOURS)) if "hours" in m else 48.0,
            "seed": r.integer(m, "seed", 0, 2 ** 31 - 1 - patients, 1),
            "flow_ml_min": r.integer(m, "flow_ml_min", 150, 500, 200)}


def read_linkfault(r: Any, y: Y, known: dict[str, str]) -> dict[str, Any]:
    m = _opt(r, y, ("runs", "block_size", "seeds", "timeout_s"))
    return {"firmware": [WORKING_TREE],
            "runs": r.integer(m, "runs", 1, 1_000_000, 1000),
            "block_size": r.integer(m, "block_size", 1, 10_000, 100),
            "seeds": r.seeds(m["seeds"]) if "seeds" in m else [1],
            "timeout_s": float(r.number(m["timeout_s"], "timeout_s", 0.01, 10)) if "timeout_s" in m else 0.1}


def read_powercut(r: Any, y: Y, known: dict[str, str]) -> dict[str, Any]:
    m = _opt(r, y, ("trials", "seeds"))
    return {"firmware": [WORKING_TREE],
            "trials": r.integer(m, "trials", 1, 100_000, 200),
            "seeds": r.seeds(m["seeds"]) if "seeds" in m else [1]}


GROUP_READERS: dict[str, Callable[[Any, Y, dict[str, str]], dict[str, Any]]] = {
    "scenarios": read_scenarios, "trial": read_trial, "linkfault": read_linkfault, "powercut": read_powercut}


# -- expansion -------------------------------------------------------------------------------------


def expand_scenarios(g: dict[str, Any], digests: dict[str, str]) -> list[dict[str, Any]]:
    specs = []
    for f in g["scenarios"]:
        sc = load(resolve(f))
        for seed in g["seeds"] or [sc.seed]:
            for patient in g["patients"]:
                for fw in g["firmware"]:
                    specs.append({"kind": "scenario", "scenario": sc.name, "file": f,
                                  "scenario_sha256": sc.sha256, "seed": seed, "patient": patient,
                                  "firmware": fw, "firmware_sha256": digests[fw],
                                  "duration_s": g["duration_s"]})
    return specs


def expand_trial(g: dict[str, Any], digests: dict[str, str]) -> list[dict[str, Any]]:
    return [{"kind": "trial", "arm": arm, "firmware": arm, "firmware_sha256": digests[arm], "index": i,
             "seed": g["seed"] + i, "hours": g["hours"], "flow_ml_min": g["flow_ml_min"]}
            for i in range(g["patients"]) for arm in g["firmware"]]


def expand_linkfault(g: dict[str, Any], digests: dict[str, str]) -> list[dict[str, Any]]:
    specs = []
    size = g["block_size"]
    for seed in g["seeds"]:
        for b in range((g["runs"] + size - 1) // size):
            specs.append({"kind": "linkfault", "seed": seed, "block": b, "block_size": size,
                          "runs": [b * size, min(g["runs"], (b + 1) * size)], "timeout_s": g["timeout_s"],
                          "firmware": WORKING_TREE, "firmware_sha256": digests[WORKING_TREE]})
    return specs


def expand_powercut(g: dict[str, Any], digests: dict[str, str]) -> list[dict[str, Any]]:
    return [{"kind": "powercut", "seed": seed, "trials": g["trials"], "firmware": WORKING_TREE,
             "firmware_sha256": digests[WORKING_TREE]} for seed in g["seeds"]]


EXPANDERS: dict[str, Callable[[dict[str, Any], dict[str, str]], list[dict[str, Any]]]] = {
    "scenarios": expand_scenarios, "trial": expand_trial, "linkfault": expand_linkfault,
    "powercut": expand_powercut}


__all__ = ["EXPANDERS", "GROUP_READERS", "PATIENT_FIELDS", "WORKING_TREE", "resolve", "scenario_files"]
