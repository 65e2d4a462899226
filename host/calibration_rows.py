"""Calibration rows of the circuit life, heparin dosing, the LPS challenge and
daily-session hemoperfusion (the sections host/calibration.py adds last)."""

from __future__ import annotations

from typing import Any

import numpy as np

from host import circuit, clot_calibration, cohort, endotoxemia, heparin
from host.calrow import Row, row


def _rows_heparin_predictions(rows: list[Row], plots: dict[str, Any]) -> None:
    """Heparin figures no parameter was fitted to."""
    hl70 = heparin.bolus_half_life_min(70.0)
    rows.append(row("Heparin half-life after 70 U/kg (patients with venous thromboembolism)",
                    "Hirsh 1976, Circulation 53:691 (63 +/- 15 min)", 63.0, hl70, "min", 48.0, 78.0,
                    "+/- 1 SD as published", "prediction"))
    c = 0.0
    for _ in range(48 * 60):  # 18 U/kg/h for 48 h, 1-min steps, 70 kg
        c = float(heparin.step(c, 18.0 * 70.0 / 60.0, float(heparin.volume_ml(70.0)), 1.0))
    rows.append(row("aPTT after 48 h of 18 U/kg/h (the Raschke starting rate)",
                    "Raschke, Ann Intern Med 1993 (the start lands in the 46-70 s no-change band)", "46-70",
                    float(heparin.aptt_s(c)), "s", 46.0, 70.0, "the nomogram's no-change band", "prediction"))
    daily = heparin.steady_dose_u_kg_h(70.0) * 70.0 * 24.0
    rows.append(row("Daily heparin holding aPTT 70 s in 70 kg (not heparin resistance)",
                    "Levine, Arch Intern Med 1994 (resistance: > 35,000 U/24 h)", "< 35000", daily, "U/day",
                    0.0, 35000.0, "below the resistance threshold", "prediction"))
    _rows_heparin_courses(rows, plots)


# Brunet, Am J Kidney Dis 2008;51:789: 35 patients on maintenance haemodialysis,
# 25 IU/kg/h for the first hour, 12.5 IU/kg/h for the next two, none in the
# last hour of a 4-h session; anti-Xa over 10 h.  The abstract gives medians
# only; the band is +/-24% (assumption: the between-patient SD/mean of the
# bolus half-life in Hirsh 1976, 15/63 min, stands in for the missing spread).
DIALYSIS_REGIMEN = ((0.0, 25.0), (60.0, 12.5), (180.0, 0.0))
_BRUNET = "Brunet, Am J Kidney Dis 2008 (25 / 12.5 / 12.5 / 0 IU/kg/h; median anti-Xa, 35 patients)"
_SPREAD = 0.24


def _rows_heparin_courses(rows: list[Row], plots: dict[str, Any]) -> None:
    """Heparin over time after a loading dose: nothing in these was fitted."""
    t, c = heparin.course(0.0, DIALYSIS_REGIMEN, 330.0)
    plots["heparin_dialysis"] = (t, c)

    def at(minutes: float) -> float:
        return float(np.interp(minutes, t, c))

    why = f"+/-{100 * _SPREAD:g}% (assumption: medians only; Hirsh 1976's between-patient spread)"
    for label, minutes, pub in (("peak at 1 h", 60.0, 0.55), ("at 4 h, end of session", 240.0, 0.25)):
        rows.append(row(f"Heparin, dialysis regimen: {label}", _BRUNET, pub, at(minutes), "IU/mL",
                        pub * (1 - _SPREAD), pub * (1 + _SPREAD), why, "prediction"))
    rows.append(row("Heparin, dialysis regimen: 90 min after the session", _BRUNET + " (< 0.1)", "< 0.1",
                    at(330.0), "IU/mL", 0.0, 0.1, "below 0.1 as published", "prediction"))
    stop = int(np.searchsorted(t, 180.0))
    half = float(t[stop + int(np.argmax(c[stop:] <= 0.5 * c[stop]))] - t[stop])  # first time at half
    rows.append(row("Heparin, dialysis regimen: half-life once the infusion stops", _BRUNET + " (terminal half-life 54 min)",
                    54.0, half, "min", 54.0 * (1 - _SPREAD), 54.0 * (1 + _SPREAD), why, "prediction"))
    # Raschke 1993, weight-based arm: 80 U/kg, then 18 U/kg/h; aPTT every 6 h.
    _, w = heparin.course(80.0, ((0.0, 18.0),), 24.0 * 60.0, dt_min=0.5)
    low = float(heparin.aptt_s(w[6 * 120:].min()))
    rows.append(row("80 U/kg then 18 U/kg/h: lowest aPTT from the 6-h check to 24 h",
                    "Raschke, Ann Intern Med 1993 (60 of 62 above 1.5 x control within 24 h)", "> 1.5 x control",
                    low, "s", 1.5 * heparin.BASELINE_APTT_S, 200.0,
                    "above 1.5 x the model's control aPTT; 200 s is the lab's reporting limit (assumption)",
                    "prediction"))


def _rows_circuit_life(rows: list[Row], plots: dict[str, Any]) -> None:
    """Circuit life: fits (RICH, clot share, HepZero) and a held-out figure."""
    p = circuit.ClotParams()
    rng = np.random.default_rng(0)
    n = 20000
    z, u = rng.standard_normal(n), 1.0 - rng.random(n)
    hep, clotted = clot_calibration.lives(p.aptt_ref_s, 250.0, z, u, clot_calibration.CRRT_MAX_H)  # CRRT: Qb ~250 (assumption; any flow above 50 is the same)
    none, _ = clot_calibration.lives(heparin.BASELINE_APTT_S, 250.0, z, np.ones(n), clot_calibration.CRRT_MAX_H)
    plots["lives"] = (hep, none)
    fit = "L_ref and the non-clotting hazard (circuit.ClotParams; clot_calibration.fit_clot), with the share row"
    rows.append(row(f"Median circuit life, systemic heparin at aPTT {p.aptt_ref_s:g} s ({n} circuits)",
                    "RICH, JAMA 2020 (26 h abstract, 27 h key points)", "26-27", float(np.median(hep)), "h",
                    25.0, 28.0, "26-27 h +/- 1 h (no CI in domain.md)", "fit", fit))
    share = float(np.mean(clotted[hep < clot_calibration.CRRT_MAX_H]))
    rows.append(row("Share of circuit failures due to clotting (heparin arm)", "domain.md section 4 (~63%)", 63.0,
                    100.0 * share, "%", 58.0, 68.0, "+/-5 points (assumption for '~')", "fit", fit))
    ok4 = float(np.mean(clot_calibration.clot_hours(heparin.BASELINE_APTT_S, 250.0, z) > clot_calibration.HEPZERO_HOURS))
    rows.append(row("Circuits without anticoagulant free of clotting at 4 h (patients who clot normally)",
                    "HepZero control arm, Kidney Int 2014 (half of 127; BMC Nephrol 2014;15:104)", 50.0, 100.0 * ok4,
                    "%", 41.3, 58.7, "95% binomial CI for 50% of 127", "fit", "heparin exponent g (circuit.ClotParams)"))
    # Tan 2000: CVVH in patients not at high bleeding risk, ~716 U/h heparin into
    # the line before the filter (mean), 70 kg, Qb 200 (assumptions), 72-h cap.
    c = _steady_conc(716.0 / 70.0)
    circ = c + 716.0 / 60.0 / (200.0 * 0.7)
    tan, _ = clot_calibration.lives(float(heparin.aptt_s(circ)), 200.0, z, u, clot_calibration.CRRT_MAX_H)
    rows.append(row("Mean filter life, low-dose pre-filter heparin (~716 U/h)",
                    "Tan, Intensive Care Med 2000 (controls: 19.5 h, 95% CI 14.2-23.8)", 19.5, float(np.mean(tan)),
                    "h", 14.2, 23.8, "the published 95% CI", "prediction"))
    plots["trials"] = {f"aPTT {a:g} s": clot_calibration.cartridge_trial(a) for a in (30.0, 70.0)}


def clot_clal(aptt: float, flow: float, z: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lives of CRRT circuits (72-h cap) at a constant aPTT."""
    return clot_calibration.lives(aptt, flow, z, u, clot_calibration.CRRT_MAX_H)


def _steady_conc(dose_u_kg_h: float) -> float:
    """Steady plasma heparin on a constant infusion (IU/mL), by bisection."""
    lo, hi = 0.0, 3.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if heparin.steady_dose_u_kg_h(float(heparin.aptt_s(mid))) < dose_u_kg_h else (lo, mid)
    return 0.5 * (lo + hi)


def _rows_lps(rows: list[Row], plots: dict[str, Any]) -> None:
    """Human endotoxaemia (Copeland 2005) and CytoSorb in it (Jansen 2023)."""
    c = endotoxemia.simulate(endotoxemia.COPELAND)
    t = c["t_h"]
    i_pk = int(np.argmax(c["IL-6"]))
    i2, i6 = int(np.searchsorted(t, 2.0)), int(np.searchsorted(t, 6.0))
    src = "Copeland, Clin Diagn Lab Immunol 2005 (2 ng/kg)"
    fit = "LPS transit rate and drive per ng/kg (endotoxemia.LpsParams), with the other Copeland fit row"
    rows.append(row("LPS 2 ng/kg: IL-6 at 2 h", src + " (~1,000 pg/mL)", 1000.0, c["IL-6"][i2], "pg/mL",
                    700.0, 1300.0, "+/-30% (assumption for 'about')", "fit", fit))
    rows.append(row("LPS 2 ng/kg: time of the IL-6 peak", src + " (peak at 2 h; samples 1, 2, 4 h)", 2.0, t[i_pk],
                    "h", 1.5, 3.0, "between the neighbouring samples", "fit", fit))
    rows.append(row("LPS 2 ng/kg: IL-6 at 6 h, share of the 2-h level", src + " (back to baseline by 4-6 h)",
                    "baseline", 100.0 * c["IL-6"][i6] / c["IL-6"][i2], "%", 0.0, 5.0,
                    "< 5% of the peak (reading of 'back to baseline')", "prediction"))
    j = int(np.argmax(c["TNF-a"]))
    rows.append(row("LPS 2 ng/kg: time of the TNF-a peak", src + " (peak at 2 h)", 2.0, t[j], "h", 1.0, 3.0,
                    "between the neighbouring samples", "prediction"))
    rows.append(row("LPS 2 ng/kg: TNF-a at 6 h, share of its peak", src + " (back to baseline by 4-6 h)",
                    "baseline", 100.0 * (c["TNF-a"][i6] - c["TNF-a"][0]) / (c["TNF-a"][j] - c["TNF-a"][0]), "%",
                    0.0, 5.0, "< 5% of the peak (reading of 'back to baseline')", "prediction"))
    eff = endotoxemia.effect_vs_control(endotoxemia.JANSEN)
    plots["jansen"] = eff
    for name, pub in (("IL-6", 71.0), ("TNF-a", 58.0), ("IL-10", 26.0)):
        rows.append(row(f"CytoSorb in human endotoxaemia: {name} reduction vs control (AUC 0-8 h, Qb 200)",
                        "Jansen, Crit Care 2023", pub, eff[name], "%", pub - 20.0, pub + 20.0,
                        "+/-20 points (assumption: CIs not in domain.md)", "prediction"))


def _rows_schaedler(rows: list[Row], plots: dict[str, Any]) -> None:
    """Schaedler 2017: 6 h/day for up to 7 days, IL-6 not different from control."""
    res = cohort.run_cohort(n=400, days=7.0, dt_s=60.0, seed=3, hours_per_day=6.0, blood_ml_min=200.0)
    red = 1.0 - res["treated"]["il6_auc"] / res["untreated"]["il6_auc"]
    rows.append(row("IL-6 AUC reduction, CytoSorb 6 h/day for 7 days (cohort median, Qb 200)",
                    "Schaedler, PLoS One 2017 (no IL-6 difference vs control, 97 patients)", "no difference",
                    100.0 * float(np.median(red)), "%", 0.0, 10.0,
                    "< 10% (assumption: what 97 patients could not tell from none)", "prediction"))


SECTIONS = (_rows_heparin_predictions, _rows_circuit_life, _rows_lps, _rows_schaedler)
