"""Shared fixtures for the plant-model tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from host.patient import DeviceParams, PatientParams  # noqa: E402
from host.plant import Plant  # noqa: E402


@pytest.fixture
def plant() -> Plant:
    """Default patient on a CytoSorb circuit, seed 1, not yet connected."""
    return Plant(patient=PatientParams(weight_kg=70.0), device=DeviceParams.preset("cytosorb"),
                 seed=1, period_s=0.1, trace_every=100)
