"""Transducers: true values to int16 readings, with injectable faults.

Channels (``SENSOR_CHANNELS``): three pressures in 0.1 mmHg, the clamp-on
blood-flow reading in 0.1 mL/min (0..32767) and a flags word (bit 0 = air).
"""

from __future__ import annotations

from dataclasses import dataclass
SENSOR_CHANNELS = ("p_access", "p_pre", "p_return", "q_blood", "flags")
PRESSURE_CHANNELS = ("p_access", "p_pre", "p_return")
SCALE = 10.0  # counts per mmHg and per mL/min
INT16_MIN = -32768
INT16_MAX = 32767
FLAG_AIR = 1
FAULT_KINDS = ("stuck", "drift", "noise", "range")


@dataclass(frozen=True)
class SensorParams:
    """Transducer noise (standard deviations)."""

    pressure_noise_mmhg: float = 0.5  # assumption: disposable transducer + ADC noise
    flow_noise_ml_min: float = 2.0  # assumption: ultrasonic clamp-on sensor noise


@dataclass(frozen=True)
class SensorFault:
    """A fault on one channel.

    Attributes:
        kind: ``"stuck"``: reading held at ``value`` (physical units; for the
            flags channel the raw word).  ``"drift"``: offset growing by
            ``value`` physical units per second from the tick the plant first
            sees the fault.  ``"noise"``: extra Gaussian noise with SD ``value``.
            ``"range"``: reading pinned at the int16 rail (+32767 if value >= 0,
            else -32768), as with a broken transducer wire.
        value: Parameter of the fault, see ``kind``.
    """

    kind: str
    value: float = 0.0

    def __post_init__(self) -> None:
        """Reject unknown fault kinds."""
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown sensor fault kind {self.kind!r}")


def to_counts(value: float, lo: int = INT16_MIN, hi: int = INT16_MAX) -> int:
    """Quantise a physical value to counts of 0.1 unit, clipped.

    Args:
        value: Physical value (mmHg or mL/min).
        lo: Lowest count.
        hi: Highest count.

    Returns:
        The count.
    """
    c = round(value * SCALE)
    return hi if c > hi else lo if c < lo else c


def faulted(channel: str, fault: SensorFault, phys: float, raw: int, elapsed_s: float, z: float) -> int:
    """Reading of a channel under a fault.

    Args:
        channel: Channel name.
        fault: The fault.
        phys: Healthy reading in physical units (with normal noise), or the raw
            flags word for the flags channel.
        raw: Healthy reading in counts.
        elapsed_s: Seconds since the fault was first applied (drift).
        z: Standard normal draw for this channel and tick (noise).

    Returns:
        The faulted reading in counts.
    """
    lo = 0 if channel == "q_blood" else INT16_MIN
    if channel == "flags":
        if fault.kind == "stuck":
            return int(fault.value)
        if fault.kind == "range":
            return -1
        return raw
    if fault.kind == "stuck":
        return to_counts(fault.value, lo)
    if fault.kind == "drift":
        return to_counts(phys + fault.value * elapsed_s, lo)
    if fault.kind == "noise":
        return to_counts(phys + fault.value * z, lo)
    return INT16_MAX if fault.value >= 0 else INT16_MIN


def air_flag(air_ticks_remaining: int) -> int:
    """Flags word for the air detector.

    Args:
        air_ticks_remaining: Remaining ticks of the injected air episode.

    Returns:
        ``FLAG_AIR`` while air passes, else 0.
    """
    return FLAG_AIR if air_ticks_remaining > 0 else 0
