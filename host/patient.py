"""Parameter sets: the patient and the device (with named presets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from host.cartridge import PRESETS, AdsorberParams, CYTOSORB
from host.circuit import ClotParams, HydraulicParams
from host.lab import LabParams
from host.sensors import SensorParams


@dataclass(frozen=True)
class PatientParams:
    """One patient.

    Attributes:
        weight_kg: Body weight (kg).
        hematocrit: Haematocrit fraction (plasma flow and plasma volume).
        k_pg: Pathogen growth rate per hour of the inflammation driver
            (domain.md: 0.25 mild ... 0.65 severe); 0.6 = septic shock.
        p0: Pathogen load at onset (domain.md: 1.0-1.5).
        hours_since_onset: Time from infection onset to the start of the
            simulation (therapy start); the physiology is pre-run over it.
        cytokine_gain: Individual multiplier of the cytokine production per
            unit driver; 1 = population value.  Cohorts draw it (host/cohort.py).
        hours_to_antimicrobials: Standard care: time from onset to the first
            antimicrobial dose (h); ``inf`` for none.
        antimicrobial_kill_per_h: Pathogen kill rate of the antimicrobials (per h).
    """

    weight_kg: float = 70.0
    hematocrit: float = 0.30
    k_pg: float = 0.6
    p0: float = 1.0
    # assumption: therapy starts 12 h after onset (CytoSorb is best started within
    # 24 h of diagnosis).
    hours_since_onset: float = 12.0
    cytokine_gain: float = 1.0
    # assumption: antimicrobials start at ICU admission, which is also when the
    # device starts (12 h after onset by default): standard care in both arms.
    hours_to_antimicrobials: float = 12.0
    # assumption: bactericidal time-kill ~1 log10 per 2.5 h (ln 10 / 2.5 h);
    # the course hardly depends on it (the pathogen is cleared within hours
    # at any rate above ~0.5/h; what remains is the damage-driven part).
    antimicrobial_kill_per_h: float = 0.9


@dataclass(frozen=True)
class DeviceParams:
    """The extracorporeal device and its instruments."""

    adsorber: AdsorberParams = CYTOSORB
    hydraulics: HydraulicParams = field(default_factory=HydraulicParams)
    clot: ClotParams = field(default_factory=ClotParams)
    sensors: SensorParams = field(default_factory=SensorParams)
    lab: LabParams = field(default_factory=LabParams)

    @classmethod
    def preset(cls, name: str) -> "DeviceParams":
        """Device with a named adsorber and default circuit.

        Args:
            name: Adsorber preset name: ``"cytosorb"``, ``"oxiris"``,
                ``"toraymyxin"``, ``"pmma"`` or ``"sham"``.

        Returns:
            The device parameters.

        Raises:
            KeyError: Unknown preset.
        """
        try:
            adsorber = PRESETS[name.lower()]
        except KeyError:
            raise KeyError(f"unknown device preset {name!r}; known: {sorted(PRESETS)}") from None
        return cls(adsorber=adsorber)
