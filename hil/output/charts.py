"""The report's figure: one renderer for the demo's report and a scenario
run's, so a clinician reads both the same way (docs/reports.md).

One figure, its panels stacked on one time axis in hours (ticks every 6,
12, 24 or 48 h on a long run; finer on a short one), top to bottom:

1. plasma cytokines (IL-6, TNF-a, IL-1b, IL-10; log axis, pg/mL), treated,
   and for the demo the same patient untreated (dashed);
2. anticoagulation: the patient's aPTT (s) with the board's target band,
   the lab results entered, and on a second axis the heparin infusion
   (U/h) with each bolus marked and labelled in units;
3. the circuit's three pressures (mmHg) with the board's alarm limits
   (dashed, in the colour of their pressure);
4. blood flow (mL/min): measured, and the pump's commanded rate;
5. the event line: each alarm named with its priority (IEC 60601-1-8
   colours), cartridge exchanges, safe-state entries.

Each alarm is also a faint vertical line through every panel, so what it
did to the pressures, the flow and the anticoagulation lines up with it.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hil.output.clinical import APTT_HIGH_S, BoardFacts, boluses
from hil.output.events import ALARM_LABELS

CYTOKINES = (("IL-6", "tab:red"), ("TNF-a", "tab:orange"), ("IL-1b", "tab:purple"), ("IL-10", "tab:blue"))
PRESSURES = (("p_access_mmhg", "Access (arterial line) pressure", "tab:orange", ("access_low_mmhg",)),
             ("p_pre_mmhg", "Pre-cartridge pressure", "tab:red", ("pre_high_mmhg",)),
             ("p_return_mmhg", "Return (venous line) pressure", "tab:blue",
              ("return_low_mmhg", "return_high_mmhg")))
LIMIT_WORDS = {"access_low_mmhg": "access low", "pre_high_mmhg": "pre-cartridge high",
               "return_low_mmhg": "return low", "return_high_mmhg": "return high"}
# IEC 60601-1-8 alarm colours: high red, medium yellow, low cyan.
PRIORITY_COLOURS = {"high": "#d62728", "medium": "#e6b800", "low": "#17becf"}
TICK_STEPS_H = (0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0)


@dataclass
class ReportData:
    """What the figure draws: the plant's trace (``cols``: column name ->
    values, with ``t_s``), the run's time line, its end, the board's facts,
    and for the demo the untreated arm (``{"t_s": ..., "IL-6": ...}``)."""

    cols: dict[str, np.ndarray]
    events: list[dict[str, Any]]
    end_s: float
    facts: BoardFacts = field(default_factory=BoardFacts)
    untreated: dict[str, Any] | None = None


def tick_step_h(hours: float) -> float:
    """Hours between ticks: the smallest step that gives at most 9 ticks
    after 0 h, from 6, 12, 24 and 48 h on a run of a day or more (so a 48 h
    run is ticked at 6, 12, 24 and 48 h), and 3 h or less on a shorter one."""
    for step in TICK_STEPS_H:
        if hours / step <= 9:
            return step
    return TICK_STEPS_H[-1] * float(np.ceil(hours / (9 * TICK_STEPS_H[-1])))


def stack_levels(spans: list[tuple[float, float]]) -> list[int]:
    """A level (0, 1, 2, ...) per label, given the span (from, to) each
    takes on the time axis, so that labels whose spans overlap stand one
    above the other."""
    placed: list[tuple[float, float, int]] = []
    for a, b in spans:
        busy = {lvl for pa, pb, lvl in placed if a < pb and pa < b}
        placed.append((a, b, min(set(range(len(busy) + 1)) - busy)))
    return [lvl for _, _, lvl in placed]


def _label_spans(xs: list[float], end_h: float, width: float = 0.22) -> list[tuple[float, float]]:
    """The span of a label at each x, a ``width`` of the axis wide: to the
    right of x, or to its left in the last 30% of the axis (where it is
    drawn right-aligned)."""
    w = width * max(end_h, 1e-6)
    return [(x - w, x) if x > 0.7 * end_h else (x, x + w) for x in xs]


def _time_axis(ax: Any, end_h: float) -> None:
    step = tick_step_h(end_h)
    ax.set_xticks(np.arange(0, end_h + 1e-9, step))
    ax.set_xlim(0, max(end_h, step))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:g} h")
    ax.set_xlabel("time since the start of the run (h)")


def _cytokines(ax: Any, d: ReportData, th: np.ndarray) -> None:
    un = d.untreated
    for name, colour in CYTOKINES:
        if name not in d.cols:
            continue
        ax.plot(th, np.maximum(d.cols[name], 1e-3), color=colour, lw=1.6, label=f"{name}, treated")
        if un is not None and name in un:
            ax.plot(np.asarray(un["t_s"], dtype=float) / 3600.0, np.maximum(np.asarray(un[name]), 1e-3),
                    color=colour, lw=1.0, ls="--", label=f"{name}, same patient untreated")
    ax.set_yscale("log")
    ax.set_ylabel("plasma level (pg/mL)")
    ax.set_title("Plasma cytokines", loc="left", fontsize=11)


def _anticoagulation(ax: Any, d: ReportData, th: np.ndarray) -> None:
    target = d.facts.target_s
    if target is not None:
        ax.axhspan(*target, color="tab:green", alpha=0.15,
                   label=f"aPTT target {target[0]:g}-{target[1]:g} s ({d.facts.table})")
    ax.axhline(APTT_HIGH_S, color="tab:red", lw=0.8, ls=":", label=f"aPTT {APTT_HIGH_S:g} s")
    if "aptt_s" in d.cols:
        ax.plot(th, d.cols["aptt_s"], color="tab:green", lw=1.4, label="patient's aPTT (model)")
    lab = [e for e in d.events if e.get("type") == "aptt_entered"]
    ax.plot([e["t_s"] / 3600 for e in lab], [e["aptt_s"] for e in lab], "o", color="darkgreen",
            ms=5, label="aPTT result entered (lab)")
    # Right after a bolus the model's aPTT is far above any lab's range;
    # the axis stops at 200 s to keep the target readable.
    ax.set_ylim(0, 200)
    ax.set_ylabel("aPTT (s)")
    ax2 = ax.twinx()
    if "heparin_u_h" in d.cols:
        ax2.step(th, d.cols["heparin_u_h"], where="post", color="tab:purple", lw=1.2,
                 label="heparin infusion (U/h)")
    bol = boluses(d.events)
    top = max(float(np.max(d.cols["heparin_u_h"])) if "heparin_u_h" in d.cols and len(th) else 0.0, 100.0)
    ax2.set_ylim(0, top * 1.45)
    words = {"device": "device bolus", "iv": "IV bolus (nurse)"}
    end_h = d.end_s / 3600.0
    levels = stack_levels(_label_spans([t / 3600 for t, _, _ in bol], end_h, 0.15))
    for (t, u, by), level in zip(bol, levels):
        x = t / 3600
        ax2.plot(x, top * 1.1, "v" if by == "device" else "D", color="tab:purple", ms=7)
        ax2.annotate(f"{words[by]} {u:,.0f} U", (x, top * (1.13 + 0.1 * (level % 3))), fontsize=7,
                     color="tab:purple", ha="right" if x > 0.7 * end_h else "left", va="bottom")
    for by in sorted({by for _, _, by in bol}):
        n = sum(1 for b in bol if b[2] == by)
        ax2.plot([], [], "v" if by == "device" else "D", color="tab:purple", label=f"heparin {words[by]} ({n})")
    ax2.set_ylabel("heparin (U/h)", color="tab:purple")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=8)
    ax.set_title("Anticoagulation", loc="left", fontsize=11)


def _pressures(ax: Any, d: ReportData, th: np.ndarray) -> None:
    for col, words, colour, limits in PRESSURES:
        if col in d.cols:
            ax.plot(th, d.cols[col], color=colour, lw=1.2, label=words)
        for key in limits:
            if key in d.facts.limits:
                v = d.facts.limits[key]
                ax.axhline(v, color=colour, lw=1.0, ls="--",
                           label=f"alarm limit, {LIMIT_WORDS[key]} ({v:g} mmHg)")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("pressure (mmHg)")
    ax.set_title("Circuit pressures and their alarm limits", loc="left", fontsize=11)


def _flow(ax: Any, d: ReportData, th: np.ndarray) -> None:
    if "q_blood_ml_min" in d.cols:
        ax.plot(th, d.cols["q_blood_ml_min"], color="tab:red", lw=1.2, label="blood flow, measured")
    if "pump_ml_min" in d.cols:
        ax.step(th, d.cols["pump_ml_min"], where="post", color="black", lw=0.8, label="pump rate, commanded")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("blood flow (mL/min)")
    ax.set_title("Blood flow", loc="left", fontsize=11)


def _event_line(ax: Any, d: ReportData) -> list[float]:
    """Alarms by name and priority, exchanges and safe-state entries; returns
    the alarms' times (h) for the vertical lines."""
    alarms = [e for e in d.events if e.get("type") == "alarm"]
    levels = stack_levels(_label_spans([e["t_s"] / 3600 for e in alarms], d.end_s / 3600.0))
    for e, level in zip(alarms, levels):
        colour = PRIORITY_COLOURS.get(e.get("priority", ""), "gray")
        x = e["t_s"] / 3600
        ax.plot(x, 2, "v", color=colour, ms=9, mec="black", mew=0.5)
        ax.annotate(f"{ALARM_LABELS.get(e['alarm'], e['alarm'])} ({e.get('priority')})",
                    (x, 2.3 + 0.42 * (level % 6)), fontsize=7, va="bottom", color="black",
                    ha="right" if x > 0.7 * d.end_s / 3600 else "left")
    for e in d.events:
        x = e["t_s"] / 3600
        if e.get("type") == "cartridge_exchange":
            ax.plot(x, 1, "s", color="tab:green", ms=7)
            ax.annotate(f"cartridge {e.get('cartridge', '')}", (x, 1.2), fontsize=7, ha="center")
        elif e.get("type") == "state" and e.get("to") == "safe":
            ax.plot(x, 0, "X", color="#d62728", ms=7)
    ax.set_yticks([0, 1, 2], ["safe state", "cartridge", "alarms"])
    ax.set_ylim(-0.6, 5.1)
    for prio, colour in PRIORITY_COLOURS.items():
        ax.plot([], [], "v", color=colour, mec="black", mew=0.5, label=f"{prio} priority alarm")
    ax.plot([], [], "s", color="tab:green", label="cartridge exchanged")
    ax.plot([], [], "X", color="#d62728", label="safe state entered")
    ax.legend(loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=8)
    ax.set_title("Events", loc="left", fontsize=11)
    return [e["t_s"] / 3600 for e in alarms]


def draw(d: ReportData) -> Any:
    """The figure (a matplotlib ``Figure``; close it with
    ``matplotlib.pyplot.close``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    th = np.asarray(d.cols["t_s"], dtype=float) / 3600.0
    fig, axes = plt.subplots(5, 1, figsize=(15, 15.5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 3, 2.6, 1.8, 2.2]})
    _cytokines(axes[0], d, th)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=8)
    _anticoagulation(axes[1], d, th)
    _pressures(axes[2], d, th)
    axes[2].legend(loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=8)
    _flow(axes[3], d, th)
    axes[3].legend(loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=8)
    alarm_h = _event_line(axes[4], d)
    for ax in axes:
        ax.grid(True, axis="x", color="#ddd", lw=0.6)
        for x in alarm_h:
            ax.axvline(x, color="#d62728", lw=0.6, alpha=0.35)
        ax.tick_params(labelbottom=True)
    _time_axis(axes[4], d.end_s / 3600.0)
    for ax in axes[:-1]:
        ax.set_xlabel("")
    # Fixed margins (no "tight" box: that draws the figure twice); the
    # legends sit in the right quarter.
    fig.subplots_adjust(left=0.06, right=0.72, top=0.98, bottom=0.04, hspace=0.3)
    return fig


def figure_png(d: ReportData, dpi: int = 80) -> str:
    """The figure as a base64 PNG."""
    import matplotlib.pyplot as plt

    fig = draw(d)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


__all__ = ["ReportData", "draw", "figure_png", "stack_levels", "tick_step_h"]
