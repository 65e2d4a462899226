"""The wire contract of protocol v1 in one table: every integer that
crosses the link, with its scale and physical unit (docs/protocol.md,
"Units: the wire contract").

The firmware works in integers (docs/firmware.md): pressure 0.1 mmHg, flow
0.1 mL/min, heparin 0.1 U/h, aPTT 0.1 s, weight 0.1 kg, time in control
periods (ticks). The host converts between those counts and physical
units here and nowhere else: the plant packs its sensor readings with
:data:`SAMPLE`, decoded frames offer physical values computed from
:data:`STATUS` and :data:`EVENTS` (``status.pump_ml_min``,
``event.fields(period_s)``), and commands take their argument through
:func:`command_arg`. Records and reports therefore speak physical units
only, each value's unit named by its key (``rate_u_h``) or beside it
(``value_unit``).

The codes themselves are the firmware's (``firmware/codes.py``, their names
``firmware/names.py``); this module adds what the integers mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hil.board.firmware import firmware_module

C = firmware_module("codes")
P = firmware_module("protocol")
_NAMES = firmware_module("names")

TICKS = "ticks"   # a count of control periods: seconds once multiplied by the period

# Code tables a field's value may be the name of.
NAMES: dict[str, tuple[str, ...]] = {
    "state": _NAMES.STATE_NAMES,
    "alarm": _NAMES.ALARM_NAMES,
    "priority": _NAMES.PRIO_NAMES,
    "reset": _NAMES.RESET_NAMES,
    "command": _NAMES.CMD_NAMES,
    # What an override event (kind 12) confirmed: its code.
    "override": ("none", "aptt_at_start"),
}


@dataclass(frozen=True)
class Quantity:
    """One integer on the wire and what it means.

    Attributes:
        key: its name on the host: a record's key, a physical attribute.
        scale: wire counts per physical unit (10: the wire counts tenths).
        unit: the physical unit (``mmHg``, ``mL/min``, ``U/h``, ``s``, ``kg``,
            ``U``, ``mL``, ``cartridge``, ``state``), ``""`` for a plain
            number; :data:`TICKS` for control periods, which are seconds
            once multiplied by the period.
        names: a code table of :data:`NAMES`: the value is the code's name.
        blank: the field carries nothing (always 0): its value is None.
    """

    key: str
    scale: int = 1
    unit: str = ""
    names: str = ""
    blank: bool = False

    @property
    def physical_unit(self) -> str | None:
        """The unit of :meth:`physical`'s value (None: no value)."""
        if self.blank:
            return None
        return "s" if self.unit == TICKS else (self.unit or None)

    def physical(self, counts: int, period_s: float | None = None) -> Any:
        """The wire value ``counts`` in physical units (a name for a code)."""
        if self.blank:
            return None
        if self.names:
            table = NAMES[self.names]
            return table[counts] if 0 <= counts < len(table) else f"{self.names}{counts}"
        if self.unit == TICKS:
            if period_s is None:
                raise ValueError(f"{self.key} counts control periods: the period is needed")
            return round(counts * period_s, 3)
        return counts / self.scale if self.scale != 1 else counts

    def wire(self, value: Any, period_s: float | None = None) -> int:
        """The wire value of a physical one (the inverse of :meth:`physical`)."""
        if self.blank or value is None:
            return 0
        if self.names and isinstance(value, str):
            table = NAMES[self.names]
            # An unnamed code reads as "<table><code>" (see physical()).
            return table.index(value) if value in table else int(value[len(self.names):])
        if self.unit == TICKS:
            if period_s is None:
                raise ValueError(f"{self.key} counts control periods: the period is needed")
            return round(value / period_s)
        return round(value * self.scale)


# -- STEP samples: one int16 per channel, in this order -----------------------------

SAMPLE: tuple[Quantity, ...] = (
    Quantity("p_access", 10, "mmHg"),
    Quantity("p_pre", 10, "mmHg"),
    Quantity("p_return", 10, "mmHg"),
    Quantity("q_blood", 10, "mL/min"),
    Quantity("flags"),              # bit 0 air detected, bit 15 sample missing
)
SENSOR_CHANNELS: tuple[str, ...] = tuple(q.key for q in SAMPLE)
CHANNEL: dict[str, Quantity] = {q.key: q for q in SAMPLE}
CHANNEL_INDEX: dict[str, int] = {q.key: i for i, q in enumerate(SAMPLE)}
FLAGS = CHANNEL_INDEX["flags"]
Q_BLOOD = CHANNEL_INDEX["q_blood"]
FLAG_AIR: int = C.FLAG_AIR
FLAG_MISSING: int = C.FLAG_MISSING
INT16_MIN = -32768
INT16_MAX = 32767

# -- the status block, field by field in its struct order -----------------------------
# The key of a scaled field is its physical name (status.pump_ml_min); the
# others keep their wire name.

STATUS: dict[str, Quantity] = {
    "tick": Quantity("tick", unit=TICKS),
    "state": Quantity("state", names="state"),
    "cartridge": Quantity("cartridge", unit="cartridge"),
    "top_priority": Quantity("top_priority", names="priority"),
    "flags": Quantity("flags"),                          # P.F_CLAMP_OPEN, F_AUDIBLE, F_HEPARIN_HOLD
    "pump": Quantity("pump_ml_min", 10, "mL/min"),       # commanded
    "flow_set": Quantity("flow_set_ml_min", 10, "mL/min"),
    "heparin": Quantity("heparin_u_h", 10, "U/h"),       # being infused
    "last_aptt": Quantity("last_aptt_s", 10, "s"),
    "bolus_total": Quantity("bolus_total_u", 1, "U"),    # released into the line as boluses
    "cartridge_used": Quantity("cartridge_used_s", unit=TICKS),   # of blood flow
    "active": Quantity("active"),                        # bit per alarm id
    "latched": Quantity("latched"),
    "weight": Quantity("weight_kg", 10, "kg"),
    "events_dropped": Quantity("events_dropped"),
}

# -- events: what code, a and b carry, by kind ----------------------------------------

_ALARM = Quantity("alarm", names="alarm")
_PRIORITY = Quantity("priority", names="priority")
_PRESSURE = Quantity("value", 10, "mmHg")
_FLOW = Quantity("value", 10, "mL/min")
_CARTRIDGE = Quantity("value", unit="cartridge")

# The value an alarm event (kind 2) carries in b, by alarm id: the reading
# that tripped it (firmware/controller.py), in the unit of that reading.
ALARM_VALUE: dict[int, Quantity] = {
    C.AL_AIR: _FLOW,                     # the flow reading when air was seen
    C.AL_ACCESS_LOW: _PRESSURE,
    C.AL_RETURN_HIGH: _PRESSURE,
    C.AL_RETURN_LOW: _PRESSURE,
    C.AL_PRE_HIGH: _PRESSURE,
    C.AL_NO_FLOW: _FLOW,
    C.AL_FLOW_LOW: _FLOW,
    C.AL_CLOT: _PRESSURE,                # the drop across the cartridge, pre - return
    C.AL_STASIS: _FLOW,
    C.AL_EXCHANGE_DUE: _CARTRIDGE,       # the cartridge number
    C.AL_THERAPY_COMPLETE: _CARTRIDGE,
    C.AL_APTT_DUE: Quantity("value", 10, "s"),                    # the last aPTT
    C.AL_POWER_RESTORED: Quantity("value", unit="state", names="state"),   # state before
    C.AL_SENSOR_LOSS: Quantity("value", blank=True),
    C.AL_HOST_LINK_LOST: Quantity("value", unit="s"),             # the board's link timeout
}


@dataclass(frozen=True)
class EventKind:
    """An event kind: the record type it becomes and what its code, a and b
    carry (None: nothing the host records; see docs/protocol.md).

    ``by_code``, for alarm events, gives b's quantity by the event's code;
    the record then names b's unit beside it (``value_unit``).
    """

    record: str
    code: Quantity | None = None
    a: Quantity | None = None
    b: Quantity | None = None
    by_code: dict[int, Quantity] = field(default_factory=dict)

    def b_of(self, code: int) -> Quantity | None:
        return self.by_code.get(code, self.b) if self.by_code else self.b


_STATE_TO = Quantity("to", names="state")
_STATE_FROM = Quantity("from", names="state")
_FLOW_TIME = Quantity("flow_time_s", unit=TICKS)
_CART_NO = Quantity("cartridge", unit="cartridge")

EVENTS: dict[int, EventKind] = {
    # b: the cause (a command code or 0): not recorded.
    C.EV_STATE: EventKind("state", _STATE_TO, _STATE_FROM),
    C.EV_ALARM_ON: EventKind("alarm", _ALARM, _PRIORITY, Quantity("value"), by_code=ALARM_VALUE),
    C.EV_ALARM_OFF: EventKind("alarm_clear", _ALARM, _PRIORITY),
    C.EV_ALARM_ACK: EventKind("alarm_ack", _ALARM, _PRIORITY),
    # a: 1 if the exchange was asked for early: not recorded.
    C.EV_EXCHANGE_DUE: EventKind("cartridge_exchange_due", _CART_NO, None, _FLOW_TIME),
    C.EV_CARTRIDGE: EventKind("cartridge_installed", _CART_NO),
    C.EV_HEPARIN: EventKind("heparin", Quantity("table_row"), Quantity("bolus_u", unit="U"),
                            Quantity("rate_u_h", 10, "U/h")),
    C.EV_APTT: EventKind("aptt_entered", b=Quantity("aptt_s", 10, "s")),
    C.EV_BOOT: EventKind("boot", b=Quantity("cause", names="reset")),
    C.EV_PRIMED: EventKind("primed", b=Quantity("volume_ml", unit="mL")),
    C.EV_AUDIO_PAUSE: EventKind("audio_pause", b=Quantity("length_s", unit=TICKS)),
    C.EV_OVERRIDE: EventKind("override", Quantity("what", names="override"), b=Quantity("aptt_s", 10, "s")),
    C.EV_RESTORED: EventKind("restored", _STATE_FROM, _STATE_TO, _FLOW_TIME),
}

# The record type of each event kind, and back.
EVENT_KIND: dict[str, int] = {k.record: kind for kind, k in EVENTS.items()}


def event_fields(kind: int, code: int, a: int, b: int, period_s: float) -> dict[str, Any]:
    """An event's fields in physical units, keyed as in records (an unknown
    kind gives its raw ``code``, ``a`` and ``b``)."""
    spec = EVENTS.get(kind)
    if spec is None:
        return {"code": code, "a": a, "b": b}
    out: dict[str, Any] = {}
    bq = spec.b_of(code)
    for q, raw in ((spec.code, code), (spec.a, a), (bq, b)):
        if q is not None:
            out[q.key] = q.physical(raw, period_s)
    if spec.by_code and bq is not None:
        out[bq.key + "_unit"] = bq.physical_unit
    return out


def event_wire(rec: dict[str, Any], period_s: float) -> tuple[int, int, int, int]:
    """(kind, code, a, b) of a firmware event's record (the inverse of
    :func:`event_fields`, for a record of a known kind)."""
    kind = EVENT_KIND[rec["type"]]
    spec = EVENTS[kind]
    code = spec.code.wire(rec[spec.code.key]) if spec.code is not None else 0
    a = spec.a.wire(rec[spec.a.key], period_s) if spec.a is not None else 0
    bq = spec.b_of(code)
    b = bq.wire(rec.get(bq.key), period_s) if bq is not None else 0
    return kind, code, a, b


# -- command arguments ----------------------------------------------------------------------

COMMAND_ARG: dict[int, Quantity] = {
    C.CMD_SET_FLOW: Quantity("flow_ml_min", 1, "mL/min"),
    C.CMD_APTT: Quantity("aptt_s", 10, "s"),
    C.CMD_SET_WEIGHT: Quantity("weight_kg", 10, "kg"),
    C.CMD_TEST_HANG: Quantity("hang_s", unit=TICKS),
    C.CMD_TIME_SCALE: Quantity("time_scale"),
}


def command_arg(code: int, value: float, period_s: float | None = None) -> int:
    """The CMD argument for a command's physical argument (``CMD_APTT``,
    72.5 s -> 725); a command without one takes ``int(value)``."""
    q = COMMAND_ARG.get(code)
    return int(value) if q is None else q.wire(value, period_s)


def _check() -> None:
    """The table covers the protocol: a channel per sample word, every
    alarm id, every event kind."""
    assert len(SAMPLE) == P.SAMPLE_CHANNELS, "a Quantity per STEP sample channel"
    assert set(ALARM_VALUE) == set(range(1, C.N_ALARMS)), "an alarm value for every alarm id"
    kinds = {v for k, v in vars(C).items() if k.startswith("EV_")}
    assert set(EVENTS) == kinds, "an EventKind for every event kind"


_check()

__all__ = ["ALARM_VALUE", "CHANNEL", "CHANNEL_INDEX", "COMMAND_ARG", "EVENTS", "EVENT_KIND", "EventKind",
           "FLAGS", "FLAG_AIR", "FLAG_MISSING", "NAMES", "Q_BLOOD", "Quantity", "SAMPLE", "SENSOR_CHANNELS",
           "STATUS", "TICKS", "command_arg", "event_fields", "event_wire"]
