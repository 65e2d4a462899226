"""The aPTT laboratory draw."""

from __future__ import annotations

from dataclasses import dataclass

from host.noise import STREAM_LAB, normal_single


@dataclass(frozen=True)
class LabParams:
    """Laboratory constants."""

    # assumption: analytical CV of a clotting-time assay around 5%.
    aptt_cv: float = 0.05
    # assumption: ~45 min from draw to result in an ICU laboratory.  The plant
    # returns the value at once; the harness delays its delivery by this much.
    turnaround_s: float = 45.0 * 60.0
    # assumption: analysers report clotting times up to about 200 s ("> 200 s"
    # above); the log-linear aPTT fit is in any case extrapolated beyond 0.4 IU/mL.
    report_max_s: float = 200.0


def measure_aptt(true_aptt_s: float, seed: int, tick: int, p: LabParams = LabParams()) -> float:
    """Laboratory-measured aPTT.

    Args:
        true_aptt_s: True aPTT at the moment of the draw (s).
        seed: Run seed.
        tick: Plant tick of the draw (the noise is a function of seed and tick).
        p: Laboratory constants.

    Returns:
        Measured aPTT in seconds, rounded to 0.1 s as a laboratory reports it
        and capped at the reporting limit.
    """
    z = normal_single(seed, STREAM_LAB, tick)
    value = min(max(true_aptt_s * (1.0 + p.aptt_cv * z), 5.0), p.report_max_s)
    return round(value, 1)
