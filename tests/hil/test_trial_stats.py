"""The trial's statistics against hand-computed and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hil.trial.stats import intervals_overlap, kaplan_meier, km_median, wilson_interval
from hil.trial.trial import clot_figures, compare


@pytest.mark.parametrize("x, n, lo, hi", [
    # Newcombe, Stat Med 1998;17:857-872, Table I, method 3 (Wilson score, no correction).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    # Symmetric and edge cases.
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
])
def test_wilson_interval_known_values(x, n, lo, hi):
    got = wilson_interval(x, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)
    assert 0.0 <= got[0] <= x / n <= got[1] <= 1.0


@pytest.mark.parametrize("x, n", [(1, 0), (-1, 5), (6, 5), (1.5, 4), (True, 4)])
def test_wilson_interval_refuses_nonsense(x, n):
    with pytest.raises(ValueError):
        wilson_interval(x, n)


def test_kaplan_meier_hand_example():
    # Times 1, 2, 2+, 3, 4+, 5 (+ censored). By hand:
    #   t=1: 6 at risk, 1 event -> S = 5/6
    #   t=2: 5 at risk (the censored 2 still at risk), 1 event -> S = 5/6 * 4/5 = 2/3
    #   t=3: 3 at risk, 1 event -> S = 2/3 * 2/3 = 4/9   (first S <= 0.5: median 3)
    #   t=5: 1 at risk, 1 event -> S = 0
    curve = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    assert curve.t.tolist() == [1, 2, 3, 5]
    assert curve.at_risk.tolist() == [6, 5, 3, 1]
    assert curve.events.tolist() == [1, 1, 1, 1]
    assert curve.s == pytest.approx([5 / 6, 2 / 3, 4 / 9, 0.0])
    assert km_median(curve) == 3.0
    assert curve.at(0.5) == 1.0
    assert curve.at(2.5) == pytest.approx(2 / 3) and curve.at(4.9) == pytest.approx(4 / 9)


def test_kaplan_meier_ties_and_median_conventions():
    # Two events at once: one factor (1 - 2/4).
    curve = kaplan_meier([2, 2, 3, 4], [True, True, False, False])
    assert curve.s.tolist() == [0.5]
    assert km_median(curve) == 2.0          # S exactly 0.5 counts
    # All censored: S stays 1, the median is not reached.
    none = kaplan_meier([24, 24, 10], [False, False, False])
    assert none.t.size == 0 and km_median(none) is None and none.at(100) == 1.0
    # No censoring: the estimate is the empirical survival.
    times = np.arange(1, 11, dtype=float)
    full = kaplan_meier(times, np.ones(10, bool))
    assert full.s == pytest.approx(1 - np.arange(1, 11) / 10)
    assert km_median(full) == 5.0


@pytest.mark.parametrize("times, events", [([1, 2], [True]), ([-1.0], [True]), ([math.nan], [False])])
def test_kaplan_meier_refuses_nonsense(times, events):
    with pytest.raises(ValueError):
        kaplan_meier(times, events)


def test_intervals_overlap():
    assert intervals_overlap((0.1, 0.4), (0.4, 0.9))
    assert not intervals_overlap((0.1, 0.39), (0.4, 0.9))
    assert intervals_overlap((0.0, 1.0), (0.4, 0.5))


def _patient(first_clotted, circuits):
    return {"first_circuit_clotted": first_clotted, "circuits": circuits}


def _c(flow_h, end):
    return {"flow_h": flow_h, "end": end, "event": end in ("clot_alarm", "early_exchange")}


def test_clot_figures_and_comparison():
    table = [_patient(False, [_c(24.0, "exchange_due"), _c(20.0, "run_end")]) for _ in range(3)]
    table.append(_patient(True, [_c(12.0, "clot_alarm"), _c(24.0, "exchange_due")]))
    table.append(_patient(None, [_c(2.0, "aborted")]))
    f = clot_figures(table)
    assert (f["clotted_before_24h"], f["clotted_before_24h_n"], f["clotted_before_24h_unknown"]) == (1, 4, 1)
    assert f["clotted_before_24h_frac"] == 0.25
    assert f["clotted_before_24h_ci"] == [round(v, 4) for v in wilson_interval(1, 4)]
    assert f["circuits"] == 9 and f["circuit_events"] == 1
    assert f["circuit_ends"]["exchange_due"] == 4 and f["circuit_ends"]["aborted"] == 1
    assert f["circuit_life_median_reached"] is False
    assert f["km"]["survival"] == [pytest.approx(7 / 8, abs=1e-5)]
    none = [_patient(True, [_c(h, "clot_alarm")]) for h in (3.0, 5.0, 8.0, 11.0)]
    g = clot_figures(none)
    assert g["clotted_before_24h_frac"] == 1.0 and g["circuit_life_median_h"] == 5.0
    comp = compare({"table": f, "none": g})
    assert comp["reference"] == "table"
    assert comp["arms"]["none"]["clotted_before_24h_frac_diff"] == 0.75
    # 1/4 -> (0.046, 0.699); 4/4 -> (0.510, 1): these overlap.
    assert comp["arms"]["none"]["clotted_before_24h_ci_overlap"] is True
    assert comp["arms"]["none"]["clots_more_often_clearly"] is False
