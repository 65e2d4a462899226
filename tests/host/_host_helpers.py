"""Actuator settings shared by the plant-model tests."""

from __future__ import annotations

from host.plant import Actuators

RUNNING = Actuators(pump_ml_min=200.0, clamp_open=True, heparin_u_h=1260.0, heparin_bolus_u=5600.0)
STOPPED = Actuators(pump_ml_min=0.0, clamp_open=False, heparin_u_h=0.0, heparin_bolus_u=0.0)
