"""Heparin kinetics and aPTT."""

from __future__ import annotations

import pytest

from host import heparin

# Hirsh (CHEST): ~30 / 60 / 150 min after 25 / 100 / 400 U/kg.  Tolerance 10%.
@pytest.mark.parametrize("dose,expected", [(25.0, 30.0), (100.0, 60.0), (400.0, 150.0)])
def test_half_life_grows_with_dose(dose: float, expected: float) -> None:
    assert heparin.bolus_half_life_min(dose) == pytest.approx(expected, rel=0.10)


def test_half_life_monotonic() -> None:
    hl = [heparin.bolus_half_life_min(d) for d in (25.0, 50.0, 100.0, 200.0, 400.0)]
    assert all(b > a for a, b in zip(hl, hl[1:]))


# Calibration table; tolerance 5%.
@pytest.mark.parametrize("conc,aptt", [(0.1, 38.4), (0.2, 55.0), (0.3, 74.5), (0.4, 99.0)])
def test_aptt_table(conc: float, aptt: float) -> None:
    assert heparin.aptt_s(conc) == pytest.approx(aptt, rel=0.05)


def test_aptt_inverse_and_baseline() -> None:
    assert heparin.conc_for_aptt(heparin.aptt_s(0.27)) == pytest.approx(0.27)
    assert 25.0 < heparin.aptt_s(0.0) < 35.0


def test_volume_is_plasma() -> None:
    assert heparin.volume_ml(70.0) == pytest.approx(2800.0)  # 0.04 L/kg


def test_usual_doses_reach_the_60_80_target() -> None:
    doses = [heparin.steady_dose_u_kg_h(a) for a in (60.0, 80.0)]
    assert 14.0 < doses[0] < doses[1] < 21.0
    assert heparin.steady_dose_u_kg_h(70.0) * 70.0 * 24.0 < 35000.0  # not heparin resistance


def test_line_holds_heparin_without_flow() -> None:
    assert heparin.line_delivery(100.0, 0.0, True, 1.0) == 0.0
    assert heparin.line_delivery(100.0, 200.0, False, 1.0) == 0.0
    assert heparin.line_delivery(100.0, 200.0, True, 1.0) == pytest.approx(100.0 * (1.0 - 2.718281828 ** -1.0))


def test_course_of_a_bolus_halves_at_its_half_life() -> None:
    t, c = heparin.course(100.0, (), 180.0, dt_min=0.05)
    assert c[0] == pytest.approx(100.0 / 40.0)  # U/kg into 40 mL/kg
    assert all(b < a for a, b in zip(c, c[1:]))  # no infusion: it only falls
    half = t[int((c <= 0.5 * c[0]).argmax())]
    assert half == pytest.approx(heparin.bolus_half_life_min(100.0), abs=0.1)


def test_course_of_an_infusion_reaches_its_steady_aptt() -> None:
    rate = heparin.steady_dose_u_kg_h(70.0)
    t, c = heparin.course(0.0, ((0.0, rate),), 48.0 * 60.0, dt_min=1.0)
    assert c[0] == 0.0 and c[-1] == pytest.approx(heparin.conc_for_aptt(70.0), rel=0.01)
    # the rate changes when the schedule says: stopped at 24 h, it falls from there
    _, d = heparin.course(0.0, ((0.0, rate), (24.0 * 60.0, 0.0)), 48.0 * 60.0, dt_min=1.0)
    assert d[24 * 60] == c[24 * 60] and d[24 * 60 + 60] < 0.5 * c[24 * 60]
