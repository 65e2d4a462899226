"""Transducers: true values to int16 readings, with injectable faults.

Channels, their order, scales and units are the wire contract's
(``hil.transport.contract.SAMPLE``, docs/protocol.md): three pressures in
0.1 mmHg, the clamp-on blood-flow reading in 0.1 mL/min (0..32767 here: the
sensor reads no negative flow) and a flags word (bit 0 = air).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from hil.transport.contract import (CHANNEL, CHANNEL_INDEX, FLAG_AIR, FLAGS, INT16_MAX, INT16_MIN,
                                    SENSOR_CHANNELS)

PRESSURE_CHANNELS = ("p_access", "p_pre", "p_return")
# words() and pack() take the channels in this order, flags last.
assert SENSOR_CHANNELS == (*PRESSURE_CHANNELS, "q_blood", "flags"), "sensor channels as in the contract"
assert len({CHANNEL[c].scale for c in PRESSURE_CHANNELS}) == 1, "one scale for the three pressures"
P_SCALE = float(CHANNEL["p_access"].scale)   # counts per mmHg
Q_SCALE = float(CHANNEL["q_blood"].scale)    # counts per mL/min
FAULT_KINDS = ("stuck", "drift", "noise", "range")

__all__ = ["CHANNEL_INDEX", "FAULT_KINDS", "FLAGS", "FLAG_AIR", "INT16_MAX", "INT16_MIN", "PRESSURE_CHANNELS",
           "P_SCALE", "Q_SCALE", "SENSOR_CHANNELS", "SensorFault", "SensorParams", "air_flag", "faulted",
           "pack", "pack_array", "to_counts", "words"]


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


def to_counts(value: float, lo: int = INT16_MIN, hi: int = INT16_MAX, scale: float = P_SCALE) -> int:
    """Quantise a physical value to the wire's counts, clipped.

    Args:
        value: Physical value (mmHg or mL/min).
        lo: Lowest count.
        hi: Highest count.
        scale: Counts per unit: ``P_SCALE`` for a pressure, ``Q_SCALE`` for flow.

    Returns:
        The count.
    """
    c = round(value * scale)
    return hi if c > hi else lo if c < lo else c


def words(p_access: float, p_pre: float, p_return: float, q_blood: float, flags: int = 0,
          _ps: float = P_SCALE, _qs: float = Q_SCALE,
          _lo: int = INT16_MIN, _hi: int = INT16_MAX) -> list[int]:
    """One tick's readings, in ``SENSOR_CHANNELS`` order.

    The same arithmetic as :func:`to_counts` per channel, written out (the
    constants bound as defaults): this runs once per control period in the
    plant's inner loop.

    Args:
        p_access: Access pressure (mmHg).
        p_pre: Pre-cartridge pressure (mmHg).
        p_return: Return pressure (mmHg).
        q_blood: Blood-flow reading (mL/min).
        flags: Flags word (``FLAG_AIR``).

    Returns:
        ``[p_access, p_pre, p_return, q_blood, flags]``: pressures in counts of
        0.1 mmHg clipped to int16, flow in counts of 0.1 mL/min clipped to
        0..32767.
    """
    r0 = round(p_access * _ps)
    r1 = round(p_pre * _ps)
    r2 = round(p_return * _ps)
    r3 = round(q_blood * _qs)
    if r0 < _lo:
        r0 = _lo
    elif r0 > _hi:
        r0 = _hi
    if r1 > _hi:
        r1 = _hi
    elif r1 < _lo:
        r1 = _lo
    if r2 > _hi:
        r2 = _hi
    elif r2 < _lo:
        r2 = _lo
    if r3 < 0:
        r3 = 0
    elif r3 > _hi:
        r3 = _hi
    return [r0, r1, r2, r3, flags]


# From this many ticks on, :func:`pack` quantises with numpy (same numbers:
# ``numpy.rint`` rounds half to even like ``round``).
_NUMPY_MIN_TICKS = 16
_SCALES = np.array([P_SCALE, P_SCALE, P_SCALE, Q_SCALE])[:, None]
_LOWEST = np.array([INT16_MIN, INT16_MIN, INT16_MIN, 0], dtype=np.float64)[:, None]


def pack(phys: list[float], out: array) -> None:
    """Append the readings of healthy ticks (flags 0) to ``out``.

    Args:
        phys: Flat list of ``(p_access, p_pre, p_return, q_blood)`` per tick in
            physical units (mmHg, mL/min), noise included.
        out: int16 array; ``len(SENSOR_CHANNELS)`` words are appended per tick,
            as :func:`words` gives them.
    """
    n = len(phys) // 4
    if n >= _NUMPY_MIN_TICKS:
        pack_array(np.asarray(phys, dtype=np.float64).reshape(n, 4).T, out)
        return
    for i in range(0, 4 * n, 4):
        out.extend(words(phys[i], phys[i + 1], phys[i + 2], phys[i + 3]))


def pack_array(phys: np.ndarray, out: array) -> None:
    """:func:`pack` of a ``(4, n)`` array, one row per channel
    (``p_access, p_pre, p_return, q_blood``) and one column per tick: the
    words :func:`words` gives.

    Args:
        phys: Readings in physical units, noise included.
        out: int16 array the words are appended to.
    """
    n = phys.shape[1]
    a = phys * _SCALES
    np.rint(a, out=a)
    lowest = a.min(axis=1)
    # Readings within range (the usual case) need no clipping; a NaN fails
    # the comparisons too.
    if not (a.max() <= INT16_MAX and (lowest >= _LOWEST[:, 0]).all()):
        if not np.isfinite(a).all():
            for row in phys.T.tolist():
                out.extend(words(*row))
            return
        np.maximum(a, _LOWEST, out=a)
        np.minimum(a, INT16_MAX, out=a)
    w = np.zeros((n, len(SENSOR_CHANNELS)), dtype=np.int16)
    w[:, :4] = a.T
    out.frombytes(w.tobytes())


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
    scale = Q_SCALE if channel == "q_blood" else P_SCALE
    if channel == "flags":
        if fault.kind == "stuck":
            return int(fault.value)
        if fault.kind == "range":
            return -1
        return raw
    if fault.kind == "stuck":
        return to_counts(fault.value, lo, scale=scale)
    if fault.kind == "drift":
        return to_counts(phys + fault.value * elapsed_s, lo, scale=scale)
    if fault.kind == "noise":
        return to_counts(phys + fault.value * z, lo, scale=scale)
    return INT16_MAX if fault.value >= 0 else INT16_MIN


def air_flag(air_ticks_remaining: int) -> int:
    """Flags word for the air detector.

    Args:
        air_ticks_remaining: Remaining ticks of the injected air episode.

    Returns:
        ``FLAG_AIR`` while air passes, else 0.
    """
    return FLAG_AIR if air_ticks_remaining > 0 else 0
