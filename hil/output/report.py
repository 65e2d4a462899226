"""Reports of a therapy run (the demo): ``report.json``, ``trace.csv`` and
``report.html``. The page and its figure are the ones a scenario run's
report uses too (:mod:`hil.output.page`, :mod:`hil.output.charts`;
docs/reports.md)."""

from __future__ import annotations

import bisect
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from hil.output.charts import ReportData, figure_png
from hil.output.clinical import BoardFacts, anticoagulation, board_facts
from hil.output.page import ESC, anticoagulation_rows, figures_table, firmware_block, page
from hil.run.therapy import TherapyResult, plan_dict
from hil.transport import frames

C = frames.C
# 2: events in physical units, an alarm's value with its "value_unit"
#    (as scenario records of format 3; hil/output/events.py).
REPORT_VERSION = 2
CYTOKINES = ("IL-6", "TNF-a", "IL-1b", "IL-10")


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
                     "hal": hello.get("hal"), "protocol": hello.get("protocol"),
                     **({"machine": hello["machine"]} if "machine" in hello else {})},
        "plan": plan_dict(result.plan),
        "seed": result.plan.seed,
        "virtual_s": result.virtual_s,
        "aborted": result.aborted,
        "wall_s": round(result.wall_s, 3),
        "speedup": round(result.virtual_s / result.wall_s, 1) if result.wall_s > 0 else None,
        "period_s": result.period_s,
        "link": {"frames": result.frames, "rewinds": result.rewinds, "sent_ahead": result.sent_ahead,
                 "ahead_refused": result.ahead_refused},
        "final_state": C.STATE_NAMES[fs.state],
        "cartridges": {"used": fs.cartridge, "exchanges": len(exchanges),
                       "flow_time_s_by_cartridge": {str(k): round(v * result.period_s, 1)
                                                    for k, v in sorted(result.flow_ticks_by_cartridge.items())}},
        "anticoagulation": {"aptt_s_mean_running": round(float(aptt[len(aptt) // 10:].mean()), 2),
                            **anticoagulation(t, aptt, data[:, cols.index("heparin_u_h")], result.events,
                                              _facts(result).target_s, result.plan.operator.weight_kg,
                                              result.virtual_s),
                            "bolus_total_u": fs.bolus_total_u,
                            "final_rate_u_h": fs.heparin_u_h},
        "alarm_counts": counts,
        "firmware_diag": result.diag,
        "events": result.events,
        "cytokines": cyt,
    }


def report_data(result: TherapyResult, facts: BoardFacts) -> ReportData:
    """The demo's run as the report's figure draws it."""
    cols, data, _ = trace_table(result)
    return ReportData({c: data[:, k] for k, c in enumerate(cols)}, result.events, result.virtual_s,
                      facts, result.untreated)


def write_html(result: TherapyResult, summary: dict[str, Any], path: Path) -> None:
    """A single self-contained page (:mod:`hil.output.page`, docs/reports.md)."""
    facts = _facts(result)
    cyt = summary["cytokines"]
    rows = "".join(
        f"<tr><th>{ESC(n)}</th><td class=num>{v['treated']['start']:,.1f}</td>"
        f"<td class=num>{v['treated']['end']:,.1f}</td><td class=num>{v['untreated']['end']:,.1f}</td>"
        f"<td class=num>{v['end_vs_untreated_pct']}</td></tr>" for n, v in cyt.items())
    cyt_table = ("<h2>Cytokines</h2><table><tr><th>cytokine</th><th>start (pg/mL)</th>"
                 "<th>end, treated (pg/mL)</th><th>end, same patient untreated (pg/mL)</th>"
                 f"<th>treated vs untreated at the end (%)</th></tr>{rows}</table>")
    plan = summary["plan"]
    abort = (f"<p class=bad><b>The run stopped early at {summary['virtual_s'] / 3600:.2f} h:</b> "
             f"{ESC(str(summary['aborted']))}</p>" if summary.get("aborted") else "")
    intro = (f"{abort}<p>A {plan['operator']['weight_kg']:g} kg patient in septic shock, blood flow "
             f"{plan['operator']['flow_ml_min']} mL/min, seed {summary['seed']}: "
             f"{summary['virtual_s'] / 3600:.1f} h of therapy in {summary['wall_s']:.1f} s of wall time "
             f"({summary['speedup']}x real time). Final state: <b>{ESC(summary['final_state'])}</b>; "
             f"cartridges used: {summary['cartridges']['used']}, exchanges: "
             f"{summary['cartridges']['exchanges']}.</p>")
    blocks = [firmware_block(summary["firmware"]), cyt_table,
              figures_table("Anticoagulation", anticoagulation_rows(summary["anticoagulation"]))]
    events = [e for e in summary["events"] if e["type"] != "command"]
    path.write_text(page("Hemoadsorption therapy report", intro, blocks,
                         figure_png(report_data(result, facts)), events))


def _facts(result: TherapyResult) -> BoardFacts:
    return board_facts(result.hello.get("board") or result.plan.board)


def write_all(result: TherapyResult, out_dir: Path) -> dict[str, Any]:
    """Write report.json, trace.csv and report.html into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise(result)
    (out_dir / "report.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_trace_csv(result, out_dir / "trace.csv")
    write_html(result, summary, out_dir / "report.html")
    return summary
