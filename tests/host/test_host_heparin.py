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


def test_volume() -> None:
    assert heparin.volume_ml(70.0) == pytest.approx(4900.0)


def test_steady_state_nomogram_dose_in_plausible_range() -> None:
    c = 0.0
    for _ in range(24 * 60):
        c = heparin.step(c, 18.0 * 70.0 / 60.0, 4900.0, 1.0)  # 18 U/kg/h, 1 min steps
    assert 0.1 < c < 0.4
    assert 40.0 < heparin.aptt_s(c) < 90.0
