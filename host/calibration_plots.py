"""The plots of the calibration page (``host.calibration``), as base64 PNGs."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from host import heparin


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _label(ax: Any, xlabel: str, ylabel: str) -> None:
    """Axis labels and a small legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def _fig_course(plt: Any, plots: dict[str, Any]) -> tuple[str, str]:
    """Untreated course and cohort baseline IL-6."""
    course = plots["course"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    th = course["t_s"] / 3600.0
    for name in ("IL-6", "TNF-a", "IL-10", "IL-1b"):
        axes[0].semilogy(th, course[name], label=name)
    axes[0].axhspan(500, 3500, color="tab:blue", alpha=0.1, label="IL-6 0.5-3.5 ng/mL (Calandra)")
    axes[0].axhspan(100, 5000, color="tab:orange", alpha=0.07, label="TNF-a 100-5,000")
    _label(axes[0], "hours after onset (untreated, k_pg 0.6)", "pg/mL")
    axes[1].hist(np.log10(plots["cohort_baseline"]), bins=40, color="tab:blue")
    axes[1].axvline(3.0, color="k", ls="--", label="1,000 pg/mL")
    axes[1].set_xlabel("log10 IL-6 at device start (virtual cohort, n=2000)")
    axes[1].legend(fontsize=7)
    return "Untreated course and cohort baseline IL-6", _png(fig)


def _fig_gubensek(plt: Any, plots: dict[str, Any]) -> tuple[str, str]:
    """CytoSorb IL-6 extraction vs Gubensek 2025."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    t = plots["gubensek_t"]
    for qb, e in plots["gubensek"].items():
        ax.plot(t, 100 * e, label=f"Qb {qb:g}")
    ax.errorbar([0.5, 6.0], [26, 10], yerr=[[8, 4], [11, 11]], fmt="ko", label="pooled median (IQR)")
    ax.plot([6, 12], [20, 20], "rs", label="Qb<200 ~20%")
    ax.plot([6], [6], "b^", label="Qb>=200 6%")
    _label(ax, "cartridge age (h)", "IL-6 extraction (%)")
    return "CytoSorb IL-6 extraction vs Gubensek 2025", _png(fig)


def _fig_in_vitro(plt: Any, plots: dict[str, Any]) -> tuple[str, str]:
    """Endotoxin in vitro (Malard 2018) and PMMA IL-6 (Membranes 2022)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, (t, c) in plots["malard"].items():
        axes[0].plot(t, 100 * c, label=name)
    axes[0].plot([120, 120, 120], [100 - 83.4, 100 - 68.0, 106.3], "kx", label="Malard 2 h")
    _label(axes[0], "min", "endotoxin left (%)")
    for area, (t, c) in plots["pmma"].items():
        axes[1].plot(t, 100 * c, label=f"PMMA {area:g} m2")
    axes[1].axhline(30, color="k", ls=":", label="70% fall")
    _label(axes[1], "min", "IL-6 (% of initial)")
    return "Endotoxin in vitro (Malard 2018) and PMMA IL-6 (Membranes 2022)", _png(fig)


def _fig_heparin(plt: Any, plots: dict[str, Any]) -> tuple[str, str]:
    """Heparin."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    d = sorted(plots["heparin_hl"])
    axes[0].plot(d, [plots["heparin_hl"][x] for x in d], "o-", label="model")
    axes[0].plot([25, 100, 400], [30, 60, 150], "ks", label="Hirsh")
    _label(axes[0], "bolus (U/kg)", "apparent half-life (min)")
    cc = np.linspace(0, 0.5, 51)
    axes[1].semilogy(cc, heparin.aptt_s(cc), label="model")
    axes[1].semilogy([0.1, 0.2, 0.3, 0.4], [38.4, 55, 74.5, 99], "ks", label="calibration table")
    _label(axes[1], "heparin (IU/mL)", "aPTT (s)")
    t, c = plots["heparin_dialysis"]
    axes[2].plot(t / 60.0, c, label="model, 25 / 12.5 / 12.5 / 0 IU/kg/h")
    axes[2].plot([1.0, 4.0], [0.55, 0.25], "ks", label="Brunet 2008 (median anti-Xa)")
    axes[2].plot([5.5], [0.1], "kv", label="Brunet 2008: below 0.1")
    _label(axes[2], "hours", "heparin (IU/mL)")
    return "Heparin: bolus half-lives (fitted), the aPTT line (fitted), a dialysis regimen (predicted)", _png(fig)


def _fig_circuit(plt: Any, plots: dict[str, Any]) -> tuple[str, str]:
    """Circuit pressures and circuit life."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    qs = sorted(plots["pressures"])
    p = np.array([plots["pressures"][q] for q in qs])
    for j, (name, lo, hi) in enumerate((("access", -150, -50), ("pre-cartridge", 100, 250), ("return", 50, 150))):
        line, = axes[0].plot(qs, p[:, j], label=name)
        axes[0].fill_between([150, 500], lo, hi, color=line.get_color(), alpha=0.1)
    _label(axes[0], "blood flow (mL/min)", "mmHg")
    hep, none = plots["lives"]
    tt = np.linspace(0, 72, 289)
    axes[1].plot(tt, [np.mean(hep > x) for x in tt], label="heparin, aPTT 52.5 s (RICH arm)")
    axes[1].plot(tt, [np.mean(none > x) for x in tt], label="no anticoagulation (clotting only)")
    axes[1].plot([26.5], [0.5], "ks", label="RICH median 26-27 h")
    axes[1].plot([4], [0.5], "r^", label="HepZero: half clot-free at 4 h")
    _label(axes[1], "hours", "circuits still open")
    return "Circuit pressures and circuit life", _png(fig)


def figures(plots: dict[str, Any]) -> list[tuple[str, str]]:
    """Calibration plots as (title, base64 PNG).

    Args:
        plots: Plot data from :func:`host.calibration.compute`.

    Returns:
        The figures.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return [draw(plt, plots) for draw in (_fig_course, _fig_gubensek, _fig_in_vitro, _fig_heparin, _fig_circuit)]
