"""Faults injected into the plant (``Plant.faults``).

A fault type is one field of :class:`Faults` with its "no fault" default;
cloning for snapshots, restoring in place and clearing go over every field
alike, so nothing else in the plant needs to learn about a new one. The
harness injects it with one step action (``hil/scenario/actions.py``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields

from host.sensors import SensorFault


@dataclass
class Faults:
    """Injected faults; change them between ``advance`` calls.

    Each fault type is one field with its "no fault" default: :meth:`clone`,
    :meth:`restore` and :meth:`clear` handle every field alike, so a new fault
    type needs only its field (and the plant's use of it).

    Attributes:
        access_occlusion: 0 (none) .. 1 (complete) narrowing of the access line.
        air_ticks_remaining: Ticks for which the air detector still sees air.
        clot_boost: Clot growth rate is multiplied by ``1 + clot_boost``.
        sensor: Per-channel sensor faults.
        drift_start: Bookkeeping: tick at which each drift fault was first applied.
    """

    access_occlusion: float = 0.0
    air_ticks_remaining: int = 0
    clot_boost: float = 0.0
    sensor: dict[str, SensorFault] = field(default_factory=dict)
    drift_start: dict[str, tuple[SensorFault, int]] = field(default_factory=dict)

    def clone(self) -> "Faults":
        """Independent copy: containers are copied, their values (immutable) shared.

        Returns:
            The copy.
        """
        return type(self)(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})

    def restore(self, saved: "Faults") -> None:
        """Take every fault from ``saved``, in place: containers keep their
        identity, so references callers hold (``plant.faults.sensor``) stay valid.

        Args:
            saved: Faults to copy (usually a :meth:`clone`).
        """
        for f in fields(self):
            value = getattr(saved, f.name)
            current = getattr(self, f.name)
            if isinstance(current, dict):
                current.clear()
                current.update(value)
            else:
                setattr(self, f.name, value)

    def clear(self) -> None:
        """Remove every fault."""
        self.restore(type(self)())
