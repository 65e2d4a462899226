"""Reports of a therapy run: ``report.json``, ``trace.csv`` and
``report.html`` (plots of cytokines, anticoagulation, pressures, flow and
the events on a time line)."""

from __future__ import annotations

import base64
import bisect
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from hil.transport import frames
from hil.run.therapy import TherapyResult, plan_dict

C = frames.C
# 2: events in physical units, an alarm's value with its "value_unit"
#    (as scenario records of format 3; hil/output/events.py).
REPORT_VERSION = 2
CYTOKINES = ("IL-6", "TNF-a", "IL-1b", "IL-10")
REPORTED = ("IL-6", "TNF-a", "IL-10")


def _states_at(result: TherapyResult, ticks: np.ndarray) -> list[str]:
    change_ticks = [t for t, _ in result.state_changes]
    out = []
    for t in ticks:
        i = bisect.bisect_right(change_ticks, int(t)) - 1
        out.append(C.STATE_NAMES[result.state_changes[max(i, 0)][1]])
    return out


def trace_table(result: TherapyResult) -> tuple[list[str], np.ndarray, list[str]]:
    """Trace columns, values (rows x columns) and the firmware state per row."""
    cols = list(result.trace_columns)
    data = np.asarray(result.trace_rows, dtype=float).reshape(-1, len(cols))
    ticks = np.rint(data[:, cols.index("t_s")] / result.period_s).astype(np.int64)
    return cols, data, _states_at(result, ticks)


def write_trace(path: Path, columns: list[str] | tuple[str, ...], rows: Any, states: list[str]) -> None:
    """Write a trace: a header of the columns and ``state``, then one line
    per row, each value with 6 significant digits, then the firmware state
    at that row. The same rows give the same bytes (the demo's
    ``trace.csv`` and the trace of a scenario run)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(columns) + ["state"])
        for row, st in zip(rows, states):
            w.writerow([f"{float(v):.6g}" for v in row] + [st])


def write_trace_csv(result: TherapyResult, path: Path) -> None:
    """One row per trace interval; byte-identical for the same plan and seed."""
    cols, data, states = trace_table(result)
    write_trace(path, cols, data.tolist(), states)


def _series_at(t: np.ndarray, y: np.ndarray, at: float) -> float:
    return float(np.interp(at, t, y))


def summarise(result: TherapyResult) -> dict[str, Any]:
    """The content of report.json."""
    cols, data, _ = trace_table(result)
    t = data[:, cols.index("t_s")]
    un = result.untreated
    ut = np.asarray(un["t_s"], dtype=float)
    t_start, t_end = float(t[0]), float(t[-1])
    cyt: dict[str, Any] = {}
    for name in CYTOKINES:
        y = data[:, cols.index(name)]
        uy = np.asarray(un[name], dtype=float)
        tr = {"start": round(float(y[0]), 3), "end": round(float(y[-1]), 3),
              "min": round(float(y.min()), 3), "max": round(float(y.max()), 3)}
        ut_end = _series_at(ut, uy, t_end)
        untr = {"start": round(_series_at(ut, uy, t_start), 3), "end": round(ut_end, 3),
                "min": round(float(uy.min()), 3), "max": round(float(uy.max()), 3)}
        cyt[name] = {"unit": "pg/mL", "treated": tr, "untreated": untr,
                     "end_vs_untreated_pct": round(100.0 * (tr["end"] - ut_end) / ut_end, 2)
                     if ut_end > 0 else None}
    aptt = data[:, cols.index("aptt_s")]
    alarms = [e for e in result.events if e["type"] == "alarm"]
    counts: dict[str, int] = {}
    for e in alarms:
        counts[e["alarm"]] = counts.get(e["alarm"], 0) + 1
    exchanges = [e for e in result.events if e["type"] == "cartridge_exchange"]
    hello = result.hello
    fs = result.final_status
    return {
        "report_version": REPORT_VERSION,
        "firmware": {"implementation": hello.get("implementation"), "version": hello.get("version"),
                     "firmware_version": hello.get("firmware"), "board": hello.get("board"),
                     "hal": hello.get("hal"), "protocol": hello.get("protocol")},
        "plan": plan_dict(result.plan),
        "seed": result.plan.seed,
        "virtual_s": result.virtual_s,
        "aborted": result.aborted,
        "wall_s": round(result.wall_s, 3),
        "speedup": round(result.virtual_s / result.wall_s, 1) if result.wall_s > 0 else None,
        "period_s": result.period_s,
        "link": {"frames": result.frames, "rewinds": result.rewinds},
        "final_state": C.STATE_NAMES[fs.state],
        "cartridges": {"used": fs.cartridge, "exchanges": len(exchanges),
                       "flow_time_s_by_cartridge": {str(k): round(v * result.period_s, 1)
                                                    for k, v in sorted(result.flow_ticks_by_cartridge.items())}},
        "anticoagulation": {"aptt_s_mean_running": round(float(aptt[len(aptt) // 10:].mean()), 2),
                            "bolus_total_u": fs.bolus_total_u,
                            "final_rate_u_h": fs.heparin_u_h},
        "alarm_counts": counts,
        "firmware_diag": result.diag,
        "events": result.events,
        "cytokines": cyt,
    }


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


_EVENT_STYLE = {"alarm": ("tab:red", "v"), "cartridge_exchange": ("tab:green", "s"),
                "cartridge_exchange_due": ("tab:olive", "D"), "aptt_entered": ("tab:blue", "o"),
                "heparin": ("tab:purple", "^"), "state": ("tab:gray", "|")}


def plots(result: TherapyResult) -> list[tuple[str, str]]:
    """Rendered figures as (title, base64 PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols, data, _ = trace_table(result)
    th = data[:, cols.index("t_s")] / 3600.0
    un = result.untreated
    uth = np.asarray(un["t_s"], dtype=float) / 3600.0
    out: list[tuple[str, str]] = []

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    for ax, name in zip(axes, REPORTED):
        ax.plot(uth, un[name], color="tab:gray", label="untreated")
        ax.plot(th, data[:, cols.index(name)], color="tab:red", label="treated")
        ax.set_title(f"{name} (pg/mL)")
        ax.set_xlabel("hours")
        ax.set_yscale("log")
        ax.legend()
    out.append(("Plasma cytokines, treated vs the same patient untreated", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(15, 3.6))
    ax.plot(th, data[:, cols.index("aptt_s")], color="tab:blue", label="aPTT (true)")
    lab = [e for e in result.events if e["type"] == "aptt_entered"]
    ax.plot([e["t_s"] / 3600 for e in lab], [e["aptt_s"] for e in lab], "o", color="navy",
            label="aPTT entered (lab)")
    ax.axhspan(60, 80, color="tab:blue", alpha=0.08, label="target 60-80 s")
    # Right after a bolus the true aPTT is far above what a lab reports
    # (>200 s, unclottable); the axis stops there to keep the range readable.
    ax.set_ylim(0, 200)
    ax.set_ylabel("aPTT (s)")
    ax.set_xlabel("hours")
    ax2 = ax.twinx()
    ax2.step(th, data[:, cols.index("heparin_u_h")], where="post", color="tab:purple", label="heparin")
    ax2.set_ylabel("heparin (U/h)")
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    ax.set_title("Anticoagulation")
    out.append(("aPTT and heparin infusion", _png(fig)))
    plt.close(fig)

    fig, (ax, axq) = plt.subplots(1, 2, figsize=(15, 3.6))
    for name, color in (("p_access_mmhg", "tab:orange"), ("p_pre_mmhg", "tab:red"),
                        ("p_return_mmhg", "tab:blue")):
        ax.plot(th, data[:, cols.index(name)], color=color, label=name.replace("_mmhg", ""))
    ax.set_ylabel("mmHg")
    ax.set_xlabel("hours")
    ax.legend()
    ax.set_title("Circuit pressures")
    axq.plot(th, data[:, cols.index("q_blood_ml_min")], color="tab:red", label="blood flow")
    axq.step(th, data[:, cols.index("pump_ml_min")], where="post", color="black", lw=0.8,
             label="pump command")
    axq.set_ylabel("mL/min")
    axq.set_xlabel("hours")
    axq.legend()
    axq.set_title("Blood flow")
    out.append(("Pressures and blood flow", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(15, 2.6))
    kinds = [k for k in _EVENT_STYLE if any(e["type"] == k for e in result.events)]
    for row, kind in enumerate(kinds):
        color, marker = _EVENT_STYLE[kind]
        ts = [e["t_s"] / 3600 for e in result.events if e["type"] == kind]
        ax.plot(ts, [row] * len(ts), marker, color=color, ms=8, ls="none")
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlabel("hours")
    ax.set_xlim(0, result.virtual_s / 3600)
    ax.set_title("Events")
    out.append(("Events on a time line", _png(fig)))
    plt.close(fig)
    return out


def write_html(result: TherapyResult, summary: dict[str, Any], path: Path) -> None:
    """A single self-contained page."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{v['treated']['start']:.1f}</td><td>{v['treated']['end']:.1f}</td>"
        f"<td>{v['untreated']['end']:.1f}</td><td>{v['end_vs_untreated_pct']}</td></tr>"
        for n, v in summary["cytokines"].items())
    ev_rows = "".join(
        f"<tr><td>{e['t_s'] / 3600:.3f}</td><td>{esc(e['type'])}</td>"
        f"<td>{esc(json.dumps({k: v for k, v in e.items() if k not in ('t_s', 'type')}))}</td></tr>"
        for e in summary["events"] if e["type"] != "command")
    fw = summary["firmware"]
    figs = "".join(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{png}'>"
                   for title, png in plots(result))
    abort = (f"<p style='color:#b00'><b>The run stopped early at {summary['virtual_s'] / 3600:.2f} h:</b> "
             f"{esc(summary['aborted'])}</p>" if summary.get("aborted") else "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hemoadsorption therapy report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:nth-child(2),td:first-child{{text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>Hemoadsorption therapy report</h1>
{abort}
<p>Firmware {esc(str(fw['firmware_version']))} on {esc(str(fw['implementation']))} {esc(str(fw['version']))},
board <b>{esc(str(fw['board']))}</b> ({esc(str(fw['hal']))} HAL), protocol v{fw['protocol']}.
Seed {summary['seed']}. {summary['virtual_s'] / 3600:.1f} h of therapy in {summary['wall_s']:.1f} s of wall time
({summary['speedup']}x real time), {summary['link']['frames']} STEP frames.
Final state: <b>{esc(summary['final_state'])}</b>; cartridges used: {summary['cartridges']['used']}.</p>
<h2>Cytokines (pg/mL)</h2>
<table><tr><th>cytokine</th><th>start</th><th>end, treated</th><th>end, untreated</th><th>treated vs untreated at end (%)</th></tr>{rows}</table>
{figs}
<h2>Events</h2><table><tr><th>hours</th><th>type</th><th>details</th></tr>{ev_rows}</table>
</body></html>
"""
    path.write_text(page)


def write_all(result: TherapyResult, out_dir: Path) -> dict[str, Any]:
    """Write report.json, trace.csv and report.html into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise(result)
    (out_dir / "report.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_trace_csv(result, out_dir / "trace.csv")
    write_html(result, summary, out_dir / "report.html")
    return summary
