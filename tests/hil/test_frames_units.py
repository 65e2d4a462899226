"""The wire contract (hil.transport.contract): one table of every integer
on the link with its scale and unit, and decoded frames in physical units."""

from __future__ import annotations

import json
import struct
from dataclasses import fields
from pathlib import Path

import pytest

from hil.transport import contract, frames

C, P = frames.C, frames.P
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "protocol_v1.json").read_text())


def test_the_contract_covers_the_protocol() -> None:
    assert len(contract.SAMPLE) == P.SAMPLE_CHANNELS and frames.SAMPLE_BYTES == 2 * P.SAMPLE_CHANNELS
    assert contract.SENSOR_CHANNELS == ("p_access", "p_pre", "p_return", "q_blood", "flags")
    assert list(contract.STATUS) == [f.name for f in fields(frames.Status)]
    assert struct.calcsize(P.STATUS_FMT) == P.STATUS_LEN and len(contract.STATUS) == len(P.STATUS_FMT) - 1
    assert set(contract.ALARM_VALUE) == set(range(1, C.N_ALARMS))
    assert set(contract.EVENTS) == {v for k, v in vars(C).items() if k.startswith("EV_")}


def test_host_channels_are_the_contracts() -> None:
    from host import sensors
    from host.plant import SENSOR_CHANNELS

    assert sensors.SENSOR_CHANNELS is contract.SENSOR_CHANNELS is SENSOR_CHANNELS
    assert (sensors.P_SCALE, sensors.Q_SCALE) == (10.0, 10.0)
    assert sensors.words(-250.0, 450.0, 300.0, 200.0) == [-2500, 4500, 3000, 2000, 0]


def test_status_in_physical_units() -> None:
    vec = next(v for v in VECTORS["frames"] if v["name"] == "step_reply_air")
    st = frames.decode_reply(bytes.fromhex(vec["payload"])).status
    assert st.pump_ml_min == st.pump / 10 and st.heparin_u_h == st.heparin / 10
    assert st.last_aptt_s == st.last_aptt / 10 and st.weight_kg == st.weight / 10
    assert st.flow_set_ml_min == st.flow_set / 10 and st.bolus_total_u == st.bolus_total
    s = frames.Status(10, C.RUNNING, 2, 0, 1, 2505, 2500, 1260, 725, 1400, 36000, 0, 0, 705, 0)
    assert (s.pump_ml_min, s.flow_set_ml_min, s.heparin_u_h, s.last_aptt_s) == (250.5, 250.0, 126.0, 72.5)
    assert (s.bolus_total_u, s.weight_kg, s.cartridge_used_s(0.1)) == (1400, 70.5, 3600.0)
    # Physical values are views: the status block's fields stay the wire's.
    assert "pump_ml_min" not in s.__dict__ and list(s.__dict__) == list(contract.STATUS)


@pytest.mark.parametrize("alarm, b, value, unit", [
    (C.AL_ACCESS_LOW, -2512, -251.2, "mmHg"),
    (C.AL_RETURN_HIGH, 3589, 358.9, "mmHg"),
    (C.AL_RETURN_LOW, 150, 15.0, "mmHg"),
    (C.AL_PRE_HIGH, 4531, 453.1, "mmHg"),
    (C.AL_CLOT, 1104, 110.4, "mmHg"),
    (C.AL_AIR, 2015, 201.5, "mL/min"),
    (C.AL_NO_FLOW, 12, 1.2, "mL/min"),
    (C.AL_FLOW_LOW, 1300, 130.0, "mL/min"),
    (C.AL_STASIS, 0, 0.0, "mL/min"),
    (C.AL_EXCHANGE_DUE, 3, 3, "cartridge"),
    (C.AL_THERAPY_COMPLETE, 7, 7, "cartridge"),
    (C.AL_APTT_DUE, 650, 65.0, "s"),
    (C.AL_POWER_RESTORED, C.RUNNING, "running", "state"),
    (C.AL_SENSOR_LOSS, 0, None, None),
    (C.AL_HOST_LINK_LOST, 10, 10, "s"),
])
def test_alarm_values_in_the_unit_of_their_reading(alarm: int, b: int, value: object, unit: object) -> None:
    e = frames.Event(100, C.EV_ALARM_ON, alarm, C.PRIO_HIGH, b)
    assert e.record_type == "alarm"
    want = {"alarm": C.ALARM_NAMES[alarm], "priority": "high", "value": value, "value_unit": unit}
    assert e.fields(0.1) == want


def test_every_event_kind_in_physical_units() -> None:
    f = lambda kind, code=0, a=0, b=0: frames.Event(1, kind, code, a, b).fields(0.1)  # noqa: E731
    assert f(C.EV_STATE, C.SAFE, C.RUNNING, C.CMD_PAUSE) == {"to": "safe", "from": "running"}
    assert f(C.EV_ALARM_OFF, C.AL_AIR, C.PRIO_HIGH) == {"alarm": "air_in_line", "priority": "high"}
    assert f(C.EV_EXCHANGE_DUE, 2, 1, 864000) == {"cartridge": 2, "flow_time_s": 86400.0}
    assert f(C.EV_CARTRIDGE, 3) == {"cartridge": 3}
    assert f(C.EV_HEPARIN, 1, 2800, 1540) == {"table_row": 1, "bolus_u": 2800, "rate_u_h": 154.0}
    assert f(C.EV_APTT, b=725) == {"aptt_s": 72.5}
    assert f(C.EV_BOOT, b=C.RESET_WATCHDOG) == {"cause": "watchdog"}
    assert f(C.EV_PRIMED, b=500) == {"volume_ml": 500}
    assert f(C.EV_AUDIO_PAUSE, b=1200) == {"length_s": 120.0}
    assert f(C.EV_OVERRIDE, 1, 0, 420) == {"what": "aptt_at_start", "aptt_s": 42.0}
    assert f(C.EV_RESTORED, C.RUNNING, C.SAFE, 1329) == {"from": "running", "to": "safe",
                                                          "flow_time_s": 132.9}
    assert f(99, 1, 2, 3) == {"code": 1, "a": 2, "b": 3}
    assert frames.Event(1, 99, 0, 0, 0).record_type == "kind99"


def _b_values(q: contract.Quantity | None) -> list[int]:
    if q is None or q.blank:
        return [0]
    if q.names:
        return list(range(len(contract.NAMES[q.names])))
    return [0, 1, 7, 725, -2512, 864000]


@pytest.mark.parametrize("kind", sorted(contract.EVENTS))
def test_records_go_back_to_the_wire_exactly(kind: int) -> None:
    spec = contract.EVENTS[kind]
    a = 2 if spec.a is not None else 0
    for code in range(0, C.N_ALARMS) if spec.code is not None else [0]:
        for b in _b_values(spec.b_of(code)):
            rec = {"type": spec.record, **contract.event_fields(kind, code, a, b, 0.1)}
            assert contract.event_wire(rec, 0.1) == (kind, code, a, b), rec


def test_unnamed_codes_round_trip() -> None:
    q = contract.Quantity("to", names="state")
    assert q.physical(12) == "state12" and q.wire("state12") == 12 and q.wire("paused") == C.PAUSED


def test_ticks_need_the_period() -> None:
    with pytest.raises(ValueError, match="control periods"):
        contract.EVENTS[C.EV_AUDIO_PAUSE].b.physical(1200)


def test_command_arguments() -> None:
    assert contract.command_arg(C.CMD_APTT, 72.5) == 725
    assert contract.command_arg(C.CMD_SET_WEIGHT, 70.0) == 700
    assert contract.command_arg(C.CMD_SET_FLOW, 250) == 250
    assert contract.command_arg(C.CMD_TEST_HANG, 2.5, 0.1) == 25
    assert contract.command_arg(C.CMD_PRIME, 0) == 0
    vec = next(v for v in VECTORS["frames"] if v["name"].startswith("cmd_aptt"))
    assert frames.cmd_payload(C.CMD_APTT, contract.command_arg(C.CMD_APTT, 72.5)).hex() == vec["payload"]
