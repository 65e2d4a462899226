"""The report's clinical figures (time in the aPTT target, heparin per kg and
per day, boluses), the board's facts they use, and the time axis's ticks:
pure logic on constructed traces, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hil.output.charts import stack_levels, tick_step_h
from hil.output.clinical import anticoagulation, board_facts, boluses, weight_of
from hil.output.page import event_row, firmware_block


def _trace(hours: float, every_s: float = 10.0) -> np.ndarray:
    return np.arange(0.0, hours * 3600.0, every_s)


def test_time_in_range_heparin_per_kg_and_day_and_boluses() -> None:
    t = _trace(10.0)
    h = t / 3600.0
    # aPTT 50 s until 3 h, 70 s (in 60-80) until 6 h, 120 s after.
    aptt = np.where(h < 3, 50.0, np.where(h < 6, 70.0, 120.0))
    rate = np.where(h < 1, 0.0, 1260.0)
    events = [{"t_s": 3600.0, "type": "heparin", "table_row": 0, "bolus_u": 1400, "rate_u_h": 1260.0},
              {"t_s": 4 * 3600.0, "type": "heparin", "table_row": 1, "bolus_u": 2800, "rate_u_h": 1260.0},
              {"t_s": 5 * 3600.0, "type": "heparin", "table_row": 2, "bolus_u": 0, "rate_u_h": 1260.0}]
    a = anticoagulation(t, aptt, rate, events, (60.0, 80.0), 70.0, 10 * 3600.0)
    window_h = 10.0 - 1.0                  # first heparin start to the end
    assert a["window_h"] == pytest.approx(window_h)
    assert a["in_range_h"] == pytest.approx(6.0 - 3.0)
    assert a["in_range_fraction"] == pytest.approx(3.0 / window_h, abs=1e-4)
    assert a["above_100_s_h"] == pytest.approx(10.0 - 6.0)
    assert a["above_100_s_fraction"] == pytest.approx(4.0 / window_h, abs=1e-4)
    assert a["infusion_u_h_mean"] == pytest.approx(1260.0)
    assert a["infusion_u_kg_h_mean"] == pytest.approx(1260.0 / 70.0, abs=0.01)
    assert a["infusion_u_day_mean"] == pytest.approx(1260.0 * 24)
    assert a["bolus_count"] == 2 and a["boluses_u"] == 1400 + 2800
    assert a["total_u_day"] == pytest.approx(1260.0 * 24 + 4200 * 24 / window_h, abs=1)
    assert boluses(events) == [(3600.0, 1400.0, "device"), (14400.0, 2800.0, "device")]


def test_figures_a_run_cannot_give_are_none() -> None:
    t = _trace(2.0)
    a = anticoagulation(t, np.full(t.size, 30.0), np.zeros(t.size), [], (60.0, 80.0), None, 7200.0)
    assert a["window_h"] is None and a["in_range_fraction"] is None and a["bolus_count"] == 0
    started = [{"t_s": 0.0, "type": "heparin", "bolus_u": 0, "rate_u_h": 500.0}]
    b = anticoagulation(t, np.full(t.size, 65.0), np.full(t.size, 500.0), started, None, None, 7200.0)
    assert b["in_range_h"] is None and b["infusion_u_kg_h_mean"] is None
    assert b["infusion_u_h_mean"] == pytest.approx(500.0) and b["above_100_s_h"] == 0


def test_board_facts_come_from_the_board_config_and_its_table() -> None:
    v = board_facts("virtual")
    assert v.table == "cartridge-60-80" and v.target_s == (60.0, 80.0)
    assert v.limits["return_high_mmhg"] == 300 and v.limits["access_low_mmhg"] == -250
    r = board_facts("virtual", "raschke")
    assert r.target_s == (46.0, 70.0) and r.limits == v.limits
    assert board_facts("no-such-board").target_s is None and board_facts(None).limits == {}


def test_weight_is_the_last_accepted_set_weight() -> None:
    ev = [{"t_s": 0.0, "type": "command", "command": "set_weight", "arg": 700, "result": "ok"},
          {"t_s": 9.0, "type": "command", "command": "set_weight", "arg": 9000, "result": "out_of_range"}]
    assert weight_of(ev) == 70.0 and weight_of([]) is None


@pytest.mark.parametrize("hours, step", [(0.25, 0.25), (2.0, 0.25), (6.0, 1.0), (24.0, 3.0), (48.0, 6.0),
                                         (168.0, 24.0), (400.0, 48.0)])
def test_time_ticks(hours: float, step: float) -> None:
    assert tick_step_h(hours) == step and hours / step <= 9


def test_event_rows_have_words_values_and_units() -> None:
    row = event_row({"t_s": 9000.0, "type": "alarm", "alarm": "air_in_line", "priority": "high",
                     "value": 198.2, "value_unit": "mL/min"})
    assert ">2.500<" in row and "Air in line" in row
    assert ">high<" in row and ">198.2<" in row and ">mL/min<" in row
    hep = event_row({"t_s": 0.0, "type": "heparin", "table_row": 0, "bolus_u": 1400, "rate_u_h": 1260.0})
    assert ">1,260<" in hep and ">U/h<" in hep and "bolus 1,400 U" in hep
    fw = firmware_block({"firmware_version": "0.1.0", "implementation": "micropython", "version": "1.29.0",
                         "machine": "Raspberry Pi Pico with RP2040", "board": "pico", "hal": "rp2"})
    assert "micropython 1.29.0" in fw and "Raspberry Pi Pico with RP2040" in fw
    assert "machine" not in firmware_block({"firmware_version": "0.1.0"})


def test_the_nurses_iv_loading_dose_is_a_bolus_and_starts_the_window() -> None:
    t = _trace(4.0)
    events = [{"t_s": 1800.0, "type": "heparin_iv", "units": 1400.0, "why": "loading"},
              {"t_s": 3600.0, "type": "heparin", "table_row": 0, "bolus_u": 0, "rate_u_h": 1000.0}]
    rate = np.where(t < 3600.0, 0.0, 1000.0)
    a = anticoagulation(t, np.full(t.size, 70.0), rate, events, (60.0, 80.0), 70.0, 4 * 3600.0)
    assert a["window_h"] == pytest.approx(3.5) and a["in_range_fraction"] == 1.0
    assert a["bolus_count"] == 1 and a["boluses"] == [{"t_s": 1800.0, "u": 1400.0, "by": "iv"}]
    assert a["infusion_u_h_mean"] == pytest.approx(1000.0 * 3.0 / 3.5, abs=0.1)


def test_labels_whose_spans_overlap_stand_one_above_the_other() -> None:
    # Three overlapping spans take levels 0, 1, 2; a span clear of the others starts again at 0.
    assert stack_levels([(0.0, 1.0), (0.5, 1.5), (0.9, 1.9), (5.0, 6.0), (5.2, 6.2)]) == [0, 1, 2, 0, 1]
    assert stack_levels([(0.0, 1.0), (0.5, 1.5), (1.6, 2.6)]) == [0, 1, 0]
    # A level frees up once the span that held it is passed.
    assert stack_levels([(0.0, 1.0), (0.5, 1.5), (1.2, 2.0)]) == [0, 1, 0]
