"""One run of a campaign, on a worker: :func:`execute` takes a run spec (a
JSON-able dict, :mod:`hil.campaign.groups`), the firmware configuration it
names (a prepared :class:`hil.trial.arms.Arm`) and the campaign's output
folder, and returns the run's row of the results table.

A run is a pure function of its spec: it starts its own virtual board, and
its seed fixes the plant, the patient and the faults, so any worker can
take any run and a re-run gives the same row outside its ``timing`` block.
A run never raises for what happens on the board (an error is a row with
outcome ``error``); it raises only when the run cannot be set up.

Row keys: ``run_id``, ``kind``, ``label``, ``firmware``, ``seed``, ``spec``,
``outcome`` (pass, marginal, fail, error, skip), ``failures`` (messages),
``measurements`` (each ``name``, ``quantity``, ``value``, ``unit``,
``outcome``, ``low``, ``high``), ``virtual_s``, ``replay`` (the command that
replays a failed run, or null), ``result`` (what the kind keeps besides)
and ``timing`` (``started_at``, ``wall_s``, ``worker``).
"""

from __future__ import annotations

import datetime as _dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hil.campaign.spec import run_id
from hil.trial.arms import Arm

RECORDINGS = "recordings"


def _worker() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def execute(spec: dict[str, Any], arm: Arm, out_dir: str, batch_ahead: bool = False) -> dict[str, Any]:
    """Run one run spec; return its row (module docstring).

    ``batch_ahead``: whether the run's closed loop computes the plant's next
    batch while the board runs (:func:`hil.loop.closed.batches_ahead`). Off by
    default: a campaign's parallelism is its workers, one per core, so each
    run takes turns with its board on one core; the row is the same either
    way (only its ``timing`` differs)."""
    from hil.loop.closed import batches_ahead

    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    rid = run_id(spec)
    with batches_ahead(batch_ahead):
        row = RUNNERS[spec["kind"]](spec, arm, Path(out_dir), rid)
    row.update({"run_id": rid, "kind": spec["kind"], "firmware": spec["firmware"], "seed": spec["seed"],
                "spec": spec})
    row["timing"] = {"started_at": started, "wall_s": round(time.perf_counter() - t0, 3), "worker": _worker()}
    return row


def _m(name: str, value: Any, unit: str, outcome: str = "pass", quantity: str | None = None,
       low: float | None = None, high: float | None = None) -> dict[str, Any]:
    v = None if value is None else float(value)
    return {"name": name, "quantity": quantity or name, "value": v, "unit": unit, "outcome": outcome,
            "low": low, "high": high}


# -- scenarios -------------------------------------------------------------------------------------


def variant_text(text: str, spec: dict[str, Any], table_from_firmware: bool) -> str:
    """The scenario's text with the run's seed, patient and duration written in
    (and its own anticoagulation table dropped when the firmware configuration
    sets one), so that a recording of the run carries everything a replay needs."""
    from hil.campaign.groups import PATIENT_FIELDS

    doc = yaml.safe_load(text)
    doc["seed"] = spec["seed"]
    if spec.get("duration_s") is not None:
        doc["duration"] = f"{spec['duration_s']:g} s"
    if spec["patient"]:
        key_of = {f: k for k, f in PATIENT_FIELDS.items()}
        patient = dict(doc.get("patient") or {})
        patient.update({key_of[f]: v for f, v in spec["patient"].items()})
        doc["patient"] = patient
    if table_from_firmware and isinstance(doc.get("device"), dict):
        doc["device"].pop("anticoagulation", None)
    return yaml.safe_dump(doc, sort_keys=False)


def run_scenario_spec(spec: dict[str, Any], arm: Arm, out: Path, rid: str) -> dict[str, Any]:
    """A scenario with the run's seed, patient and duration on the firmware
    configuration's board; recorded, the recording kept when the run fails."""
    from hil.output.record import write_record
    from hil.run.runner import RunOptions, ScenarioRun
    from hil.scenario import loads
    from hil.trial.patient import ArmBoards

    class ArmRun(ScenarioRun):
        def _provider(self, port: str | None, tmp: Path) -> Any:
            from hil.run.runner import _board_config

            return ArmBoards(_board_config(self.sc, self.opts, tmp), arm.firmware_dir,
                             log=Path(self.opts.firmware_log) if self.opts.firmware_log else None)

    from hil.campaign.groups import resolve

    text = resolve(spec["file"]).read_text()
    sc = loads(variant_text(text, spec, "table:" in arm.spec), spec["file"])
    rec_dir = out / RECORDINGS / rid
    shutil.rmtree(rec_dir, ignore_errors=True)
    rec_dir.mkdir(parents=True)
    opts = RunOptions(board=str(arm.config_path), record_dir=str(rec_dir),
                      firmware_log=str(rec_dir / "firmware.log"))
    r = ArmRun(sc, opts).run()
    replay = None
    if r.passed or r.outcome == "skip":
        shutil.rmtree(rec_dir, ignore_errors=True)
    else:
        write_record(r, rec_dir)
        replay = f"python -m hil replay {r.recording}" if r.recording else None
    ms = [_m(c.name, c.value, c.unit or "", c.outcome, c.quantity,
             (c.limits or {}).get("low"), (c.limits or {}).get("high"))
          for c in r.verdict.checks if c.kind == "measurement"]
    return {"label": spec["scenario"], "outcome": r.outcome,
            "failures": r.failure_messages() if not r.passed else [], "measurements": ms,
            "virtual_s": r.virtual_s, "replay": replay,
            "result": {"expectations": [{"name": c.name, "kind": c.kind, "outcome": c.outcome,
                                         "decided_t_s": c.decided_t_s}
                                        for c in r.verdict.checks if c.kind != "measurement"],
                       "final_state": (r.timeline.status_at(r.timeline.end_tick).state_name
                                       if r.timeline.statuses else None),
                       "frames": r.link.get("frames"), "firmware": r.hello.get("firmware")}}


# -- trial, link faults, power cuts ----------------------------------------------------------------


def run_trial_spec(spec: dict[str, Any], arm: Arm, out: Path, rid: str) -> dict[str, Any]:
    """One patient of a virtual trial in one arm (:func:`hil.trial.patient.run_patient`)."""
    from hil.trial.patient import PatientTask, run_patient

    task = PatientTask(arm=arm, index=spec["index"], seed=spec["seed"], hours=spec["hours"],
                       flow_ml_min=spec["flow_ml_min"], run_dir=out / "trial-runs" / arm.name)
    p = run_patient(task)
    p.pop("wall_s", None)
    clotted = p["first_circuit_clotted"]
    ms = [_m("first_circuit_clotted", None if clotted is None else int(clotted), "1"),
          _m("aptt_in_range_frac", p["aptt_in_range_frac"], "1"),
          _m("aptt_above_100_frac", p["aptt_above_100_frac"], "1"),
          _m("aptt_mean", p["aptt_mean_s"], "s", quantity="aptt_s"),
          _m("il6_auc_rel", p["il6_auc_rel"], "1"), _m("heparin_infused", p["heparin_infused_u"], "U"),
          _m("cartridges", p["cartridges"], "count"), _m("alarms", len(p["alarms"]), "count")]
    return {"label": f"trial/{arm.name}", "outcome": "error" if p["aborted"] else "pass",
            "failures": [f"run cut short: {p['aborted']}"] if p["aborted"] else [], "measurements": ms,
            "virtual_s": p["virtual_h"] * 3600.0, "replay": None, "result": p}


def run_linkfault_spec(spec: dict[str, Any], arm: Arm, out: Path, rid: str) -> dict[str, Any]:
    """One block of the link-fault campaign (:func:`hil.reliability.linkfault_blocks.run_block`)."""
    from hil.reliability.linkfault_blocks import run_block

    logs = out / "linkfault-logs" / rid
    logs.mkdir(parents=True, exist_ok=True)
    a, b = spec["runs"]
    part = run_block(spec["seed"], spec["block"], list(range(a, b)), spec["timeout_s"], logs)
    results = part["results"]
    bad = [r for r in results if not r["recovered"]]
    failed = len(bad) + len(part["errors"]) + (b - a - len(results))
    fail = "fail" if failed else "pass"
    replay = None
    if bad:
        replay = (f"python -m hil.reliability.linkfault --seed {spec['seed']} --block-size "
                  f"{spec['block_size']} --timeout {spec['timeout_s']} --replay {bad[0]['run']}")
    ms = [_m("runs", len(results), "count"), _m("not_recovered", len(bad), "count", fail, high=0),
          _m("unsafe_outcomes", sum(1 for r in results if r["unsafe"]), "count", fail, high=0),
          _m("frames_damaged", sum(r["frames_damaged"] for r in results), "count"),
          _m("resends", sum(r["resends"] for r in results), "count")]
    return {"label": "linkfault", "outcome": fail, "failures": part["errors"] + [
        f"run {r['run']} not recovered ({r['kind']}/{r['direction']})" for r in bad],
            "measurements": ms, "virtual_s": part["virtual_s"], "replay": replay,
            "result": {k: part[k] for k in ("armed", "injected", "boards")}}


def run_powercut_spec(spec: dict[str, Any], arm: Arm, out: Path, rid: str) -> dict[str, Any]:
    """The power-cut campaign for one seed (:func:`hil.reliability.powercut.run_campaign`)."""
    from hil.reliability.powercut import run_campaign

    f = run_campaign(trials=spec["trials"], seed=spec["seed"], out=out / "powercut" / f"seed-{spec['seed']}")
    fail = "fail" if f["failures"] else "pass"
    ms = [_m("failures", f["failures"], "count", fail, high=0),
          _m("cuts_inside_write", f["cuts_inside_write"], "count"),
          _m("cartridge_lag_max", f["cartridge_lag_max_periods"], "periods")]
    return {"label": "powercut", "outcome": "error" if f["aborted"] else fail,
            "failures": ([f["aborted"]] if f["aborted"] else [])
            + ([f"{f['failures']} power-cut trial(s) failed"] if f["failures"] else []),
            "measurements": ms, "virtual_s": f["virtual_s"], "replay": f["replay"] if f["failures"] else None,
            "result": {k: f[k] for k in ("trials", "cuts_inside_write", "corrupt_records",
                                         "cartridge_time_errors", "bench_errors")}}


RUNNERS: dict[str, Callable[[dict[str, Any], Arm, Path, str], dict[str, Any]]] = {
    "scenario": run_scenario_spec, "trial": run_trial_spec, "linkfault": run_linkfault_spec,
    "powercut": run_powercut_spec}


__all__ = ["RECORDINGS", "RUNNERS", "execute", "variant_text"]
