"""The telemetry's topic tree, URLs, payloads in physical units, and the
ACL and password files in Mosquitto's formats."""

from __future__ import annotations

import pytest

from hil.telemetry.acl import Acl, filter_covered, hash_password, topic_matches, verify_password
from hil.telemetry.payloads import alarm_payload, event_payload, info_payload, status_payload
from hil.telemetry.topics import BrokerUrl, TelemetryError, Topics, board_id, default_board_id
from hil.transport import frames

C = frames.C
P = frames.P


def _status(**kw) -> frames.Status:
    base = dict(tick=36000, state=C.RUNNING, cartridge=2, top_priority=3, flags=P.F_CLAMP_OPEN | P.F_AUDIBLE,
                pump=2000, flow_set=2500, heparin=12600, last_aptt=725, bolus_total=5600,
                cartridge_used=36000 * 6, active=(1 << C.AL_AIR) | (1 << C.AL_NO_FLOW), latched=1 << C.AL_AIR,
                weight=700, events_dropped=0)
    base.update(kw)
    return frames.Status(**base)


def test_broker_urls() -> None:
    u = BrokerUrl.parse("mqtt://op%40lab:p%3Ass@broker.local:1884")
    assert (u.host, u.port, u.username, u.password, u.tls) == ("broker.local", 1884, "op@lab", "p:ss", False)
    assert u.url() == "mqtt://op@lab:***@broker.local:1884"
    assert BrokerUrl.parse("mqtts://h").port == 8883 and BrokerUrl.parse("mqtt://h").port == 1883
    for bad in ("http://h:1", "mqtt://", "mqtt://h:99999", "mqtt://h/x"):
        with pytest.raises(TelemetryError) as e:
            BrokerUrl.parse(bad)
        assert "--mqtt" in str(e.value)
    with pytest.raises(TelemetryError) as e:
        BrokerUrl.parse("ftp://u:secret@h")
    assert "secret" not in str(e.value)


def test_topics_and_board_ids() -> None:
    t = Topics("bench-3")
    assert (t.status, t.alarms, t.events, t.online, t.cmd, t.result) == (
        "hemosorb/bench-3/status", "hemosorb/bench-3/alarms", "hemosorb/bench-3/events",
        "hemosorb/bench-3/online", "hemosorb/bench-3/cmd", "hemosorb/bench-3/cmd/result")
    assert t.kind("hemosorb/bench-3/cmd/result") == "cmd/result" and t.kind("hemosorb/other/status") is None
    for bad in ("", "a/b", "a+", "#", "x" * 65, "-lead"):
        with pytest.raises(TelemetryError):
            board_id(bad)
    assert default_board_id("/dev/ttyACM0") == "ttyACM0"
    assert default_board_id("pico-emu") == "pico-emu"
    assert default_board_id("///") == "board"


def test_status_in_physical_units() -> None:
    sensors = {"p_access_mmhg": -70.04, "p_pre_mmhg": 127.08, "p_return_mmhg": 69.0, "q_blood_ml_min": 199.96}
    s = status_payload(36000, _status(), 0.1, sensors, 24)
    assert s["t_s"] == 3600.0 and s["state"] == "running"
    assert (s["blood_flow_ml_min"], s["flow_set_ml_min"], s["pump_ml_min"]) == (200.0, 250.0, 200.0)
    assert (s["p_access_mmhg"], s["p_pre_mmhg"], s["p_return_mmhg"]) == (-70.0, 127.1, 69.0)
    assert (s["heparin_u_h"], s["aptt_s"], s["cartridge"]) == (1260.0, 72.5, 2)
    assert s["cartridge_used_h"] == 6.0 and s["cartridge_left_h"] == 18.0
    assert s["alarms"] == ["air_in_line", "no_flow"] and s["latched"] == ["air_in_line"]
    assert s["top_priority"] == "high" and s["clamp_open"] and s["audible"] and not s["heparin_hold"]
    assert s["weight_kg"] == 70.0 and s["bolus_total_u"] == 5600
    # Without a plant (a board on its own clock): no pressures, the pump's rate as the flow.
    s = status_payload(10, _status(last_aptt=0), 0.1, None, None)
    assert s["p_access_mmhg"] is None and s["blood_flow_ml_min"] == 200.0 and s["aptt_s"] is None
    assert s["cartridge_left_h"] is None and s["sensors"] == "none"


def test_alarm_and_event_payloads() -> None:
    raised = frames.Event(tick=1234, kind=C.EV_ALARM_ON, code=C.AL_RETURN_HIGH, a=3, b=3589)
    a = alarm_payload(raised, 0.1)
    assert a == {"id": "return_pressure_high", "code": C.AL_RETURN_HIGH, "label": "Return pressure high",
                 "priority": "high", "active": True, "t_s": 123.4, "value": 358.9, "unit": "mmHg"}
    clear = frames.Event(tick=1300, kind=C.EV_ALARM_OFF, code=C.AL_RETURN_HIGH, a=3, b=0)
    cleared = alarm_payload(clear, 0.1)
    assert cleared["active"] is False and cleared["value"] is None and cleared["t_s"] == 130.0
    esc = alarm_payload(frames.Event(tick=5, kind=C.EV_ALARM_ON, code=C.AL_EXCHANGE_DUE, a=3, b=2), 0.1, True)
    assert esc["escalation"] and esc["value"] == 2 and esc["unit"] == "cartridge"
    e = event_payload(frames.Event(tick=50, kind=C.EV_HEPARIN, code=1, a=1400, b=12600), 0.1)
    assert e == {"t_s": 5.0, "type": "heparin", "table_row": 1, "bolus_u": 1400, "rate_u_h": 1260.0}
    e = event_payload(frames.Event(tick=50, kind=C.EV_STATE, code=C.SAFE, a=C.RUNNING, b=0), 0.1)
    assert e == {"t_s": 5.0, "type": "state", "to": "safe", "from": "running"}
    info = info_payload("b1", {"board": "virtual", "period_ms": 100, "secret": 1},
                        {"limits": {"access_low_mmhg": -250, "return_high_mmhg": 300}, "therapy": {}},
                        ("pause",))
    assert info["firmware"] == {"board": "virtual", "period_ms": 100}
    assert info["limits"]["p_access_mmhg"] == {"low": -250} and info["commands"] == ["pause"]


def test_password_hashes_are_mosquitto_s() -> None:
    # Made by mosquitto_passwd 2.0 for the password "secret".
    known = ("$7$101$HreQo3pIlzF917yb$pekKz0xNGF03kisvMjByh/+lkXc4L0DRg0uYYIVQ7bYRmFAI/gZshTJagZ6Zvg9WD3JDM"
             "RHaTSolK3YzmdGd/Q==")
    assert verify_password("secret", known) and not verify_password("Secret", known)
    h = hash_password("pw")
    assert h.startswith("$7$101$") and verify_password("pw", h) and h != hash_password("pw")
    assert not verify_password("pw", "$6$x$y") and not verify_password("pw", "garbage")


def test_acl_roles_and_matching() -> None:
    acl = Acl.for_roles({"bench": "bench", "op": "operator", "vw": "viewer"})
    assert acl.allows("op", "write", "hemosorb/b1/cmd") and not acl.allows("vw", "write", "hemosorb/b1/cmd")
    assert not acl.allows("op", "write", "hemosorb/b1/status")
    assert acl.allows("bench", "write", "hemosorb/b1/status")
    assert not acl.allows("bench", "write", "hemosorb/b1/cmd")
    assert acl.allows("vw", "read", "hemosorb/b1/status")
    assert not acl.allows(None, "read", "hemosorb/b1/status")
    assert acl.allows_filter("vw", "hemosorb/#") and not acl.allows_filter("vw", "#")
    roles = [acl.role_of(u, "b1") for u in ("bench", "op", "vw", "nobody")]
    assert roles == ["bench", "operator", "viewer", None]
    again = Acl.parse(acl.text())
    assert again.text() == acl.text() and again.role_of("op", "b1") == "operator"
    text = "# comment\nuser a\ntopic read x/#\ntopic deny x/secret\npattern write dev/%u/out\n"
    parsed = Acl.parse(text)
    assert parsed.allows("a", "read", "x/y") and not parsed.allows("a", "read", "x/secret")
    assert parsed.allows("b", "write", "dev/b/out") and not parsed.allows("b", "write", "dev/a/out")
    assert topic_matches("a/+/c", "a/b/c") and not topic_matches("a/+", "a/b/c") and topic_matches("a/#", "a")
    assert filter_covered("a/#", "a/+/c") and not filter_covered("a/+/c", "a/#")
    assert not filter_covered("a/b", "a/+")
