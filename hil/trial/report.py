"""A trial's outputs: ``trial.json`` (docs/trials.md) and ``trial.html``
(Kaplan-Meier circuit life per arm, clotting before 24 h with its
intervals, aPTT distributions, IL-6 relative AUC, a table per arm and per
patient), the page drawn from the summary alone, PNGs embedded as the
demo's report does."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np



def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")


def _colours(names: list[str]) -> dict[str, str]:
    cycle = ["tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown",
             "tab:pink", "tab:gray"]
    return {n: cycle[i % len(cycle)] for i, n in enumerate(names)}


def _km_plot(ax: Any, summary: dict[str, Any], colours: dict[str, str]) -> None:
    for name, a in summary["arms"].items():
        km = a["km"]
        t = [0.0] + km["t_h"]
        s = [1.0] + km["survival"]
        circuits = [c for p in summary["patients"] if p["arm"] == name for c in p["circuits"]]
        t_end = max([c["flow_h"] for c in circuits] + t)
        median = f"{a['circuit_life_median_h']} h" if a["circuit_life_median_reached"] else "not reached"
        ax.step(t + [t_end], s + [s[-1]], where="post", color=colours[name],
                label=f"{name} (median {median})")
        cens = [c["flow_h"] for c in circuits if not c["event"]]
        if cens:
            idx = np.searchsorted(np.asarray(km["t_h"]), cens, side="right")
            ax.plot(cens, [1.0 if i == 0 else km["survival"][i - 1] for i in idx], "|", ms=10,
                    color=colours[name])
    ax.axhline(0.5, color="black", lw=0.6, ls=":")
    ax.axvline(summary["plan"]["horizon_h"], color="black", lw=0.6, ls="--")
    ax.set_xlim(left=0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("hours of blood flow on the cartridge")
    ax.set_ylabel("circuits not clotted")
    ax.set_title("Circuit life (Kaplan-Meier; | censored)")
    ax.legend(loc="lower left")


def _clot_plot(ax: Any, summary: dict[str, Any], colours: dict[str, str]) -> None:
    for i, (name, a) in enumerate(summary["arms"].items()):
        if a["clotted_before_24h_ci"] is None:
            continue
        p = a["clotted_before_24h_frac"]
        lo, hi = a["clotted_before_24h_ci"]
        ax.errorbar([i], [p], yerr=[[p - lo], [hi - p]], fmt="o", capsize=8, color=colours[name], ms=8)
        ax.annotate(f"{a['clotted_before_24h']}/{a['clotted_before_24h_n']}", (i, p),
                    textcoords="offset points", xytext=(12, 0))
    ax.set_xticks(range(len(summary["arms"])), list(summary["arms"]))
    ax.set_xlim(-0.6, len(summary["arms"]) - 0.4)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("share of patients")
    ax.set_title("First circuit clotted before 24 h (95% Wilson interval)")


def _aptt_plot(ax: Any, summary: dict[str, Any], colours: dict[str, str]) -> None:
    lo, hi = summary["plan"]["aptt_target_s"]
    for name, a in summary["arms"].items():
        h = a["aptt_histogram"]
        edges = np.asarray(h["edges_s"])
        ax.stairs(np.asarray(h["time_frac"]), edges, color=colours[name], lw=1.5, label=name)
    ax.axvspan(lo, hi, color="tab:blue", alpha=0.08, label=f"target {lo:g}-{hi:g} s")
    ax.axvline(100, color="tab:red", lw=0.8, ls="--", label="100 s")
    ax.set_xlabel("true aPTT (s); the last bin holds everything above")
    ax.set_ylabel("share of therapy time")
    ax.set_title("aPTT during therapy")
    ax.legend()


def _il6_plot(ax: Any, summary: dict[str, Any], colours: dict[str, str]) -> None:
    for i, name in enumerate(summary["arms"]):
        vals = [p["il6_auc_rel"] for p in summary["patients"]
                if p["arm"] == name and p["il6_auc_rel"] is not None]
        if not vals:
            continue
        offsets = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
        ax.plot(i + offsets, vals, "o", color=colours[name], alpha=0.6)
        ax.plot([i - 0.25, i + 0.25], [np.mean(vals)] * 2, color="black", lw=2)
    ax.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xticks(range(len(summary["arms"])), list(summary["arms"]))
    ax.set_ylabel("IL-6 AUC, treated / untreated")
    ax.set_title("IL-6 relative AUC per patient (bar: mean)")


def plots(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures as (title, base64 PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = _colours(list(summary["arms"]))
    out: list[tuple[str, str]] = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    _km_plot(ax1, summary, colours)
    _clot_plot(ax2, summary, colours)
    out.append(("Circuit life and clotting before 24 h", _png(fig)))
    plt.close(fig)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    _aptt_plot(ax1, summary, colours)
    _il6_plot(ax2, summary, colours)
    out.append(("Anticoagulation and IL-6", _png(fig)))
    plt.close(fig)
    return out


# Rows of the per-arm table: (label, key, format).
_ROWS = (
    ("patients", "patients", "{}"),
    ("runs cut short", "patients_aborted", "{}"),
    ("cartridges used", "cartridges", "{}"),
    ("first circuit clotted before 24 h", "clotted_before_24h_frac", "{:.3f}"),
    ("  95% interval (Wilson)", "clotted_before_24h_ci", "{}"),
    ("circuits (clotted)", None, None),
    ("median circuit life, h of flow (KM)", "circuit_life_median_h", "{}"),
    ("aPTT in target, share of therapy time", "aptt_in_range_frac", "{:.3f}"),
    ("aPTT above 100 s, share of therapy time", "aptt_above_100_frac", "{:.3f}"),
    ("IL-6 AUC vs untreated (mean)", "il6_auc_rel", "{:.3f}"),
    ("alarms per day", "alarms_per_day", "{:.2f}"),
    ("overrides (logged)", "overrides", "{}"),
    ("heparin bolus, U per patient", "heparin_bolus_u_mean", "{:.0f}"),
    ("heparin infused, U per patient", "heparin_infused_u_mean", "{:.0f}"),
    ("anticoagulation table", "anticoagulation", "{}"),
    ("firmware", None, None),
)


def _cell(a: dict[str, Any], label: str, key: str | None, fmt: str | None) -> str:
    if label.startswith("circuits"):
        return f"{a['circuits']} ({a['circuit_events']})"
    if label == "firmware":
        return html.escape(a["firmware"]["source"] + ", sources " + a["firmware"]["sources_sha256"][:12])
    v = a.get(key) if key else None
    if v is None:
        return "not reached" if key == "circuit_life_median_h" else "-"
    if isinstance(v, list):
        return html.escape("[" + ", ".join(f"{x:.3f}" for x in v) + "]")
    return html.escape(fmt.format(v)) if fmt else html.escape(str(v))


def arm_table(summary: dict[str, Any]) -> str:
    arms = summary["arms"]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in arms)
    body = "".join(f"<tr><td>{html.escape(label)}</td>" + "".join(
        f"<td>{_cell(a, label, key, fmt)}</td>" for a in arms.values()) + "</tr>"
        for label, key, fmt in _ROWS)
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def patient_table(summary: dict[str, Any]) -> str:
    def first(p: dict[str, Any]) -> str:
        c = p["circuits"][0] if p["circuits"] else None
        return "-" if c is None else f"{c['end']} at {c['flow_h']:.1f} h"

    rows = "".join(
        f"<tr><td>{html.escape(p['arm'])}</td><td>{p['index']}</td><td>{p['seed']}</td>"
        f"<td>{p['patient']['weight_kg']:.1f}</td><td>{p['cartridges']}</td><td>{html.escape(first(p))}</td>"
        f"<td>{'-' if p['aptt_in_range_frac'] is None else format(p['aptt_in_range_frac'], '.2f')}</td>"
        f"<td>{'-' if p['il6_auc_rel'] is None else format(p['il6_auc_rel'], '.3f')}</td>"
        f"<td>{len(p['alarms'])}</td><td>{len(p['overrides_h'])}</td>"
        f"<td>{html.escape(p['aborted'] or '')}</td></tr>" for p in summary["patients"])
    return ("<table><tr><th>arm</th><th>patient</th><th>seed</th><th>kg</th><th>cartridges</th>"
            "<th>first circuit</th><th>aPTT in target</th><th>IL-6 AUC rel</th><th>alarms</th>"
            f"<th>overrides</th><th>cut short</th></tr>{rows}</table>")


def write_html(summary: dict[str, Any], path: Path) -> None:
    """A single self-contained page."""
    esc = html.escape
    plan, run = summary["plan"], summary["run"]
    comp = summary["comparison"]
    git = run.get("git") or {}
    def line(name: str, c: dict[str, Any]) -> str:
        diff = c["clotted_before_24h_frac_diff"]
        verdict = {True: "overlap", False: "do not overlap", None: "cannot be compared"}[
            c["clotted_before_24h_ci_overlap"]]
        return (f"<li>{esc(name)} against {esc(comp['reference'])}: clotted before 24 h "
                f"{'-' if diff is None else format(diff, '+.3f')}; 95% intervals {verdict}</li>")

    lines = "".join(line(name, c) for name, c in comp["arms"].items())
    commit = esc(str(git.get("commit", "?"))[:12]) + (" (modified)" if git.get("dirty") else "")
    figs = "".join(f"<h2>{esc(t)}</h2><img alt='{esc(t)}' src='data:image/png;base64,{png}'>"
                   for t, png in plots(summary))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Virtual trial</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>Virtual trial: {esc(' vs '.join(summary['arms']))}</h1>
<p>{plan['patients']} virtual patients per arm (seeds {plan['seeds'][0]}-{plan['seeds'][-1]}, the same
in every arm), {plan['hours']:g} h each, closed loop with the firmware in the MicroPython VM; blood flow
{plan['flow_ml_min']} mL/min, device {esc(plan['device'])}. Wall time {run['wall_s']:.0f} s on
{run['workers']} worker(s). Checkout {commit}.</p>
<ul>{lines}</ul>
{arm_table(summary)}
{figs}
<h2>Patients</h2>
{patient_table(summary)}
</body></html>
"""
    path.write_text(page)


def write_all(summary: dict[str, Any], out_dir: Path) -> None:
    """trial.json and trial.html into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(summary, out_dir / "trial.json")
    write_html(summary, out_dir / "trial.html")


__all__ = ["arm_table", "patient_table", "plots", "write_all", "write_html", "write_json"]
