"""Operator commands over MQTT, hostile ones first: every malformed message
is answered with an error that names what is wrong and never reaches the
board; floods are rate-limited; a repeated id is carried out once."""

from __future__ import annotations

import json

import pytest

from hil.telemetry.commands import COMMANDS, CommandDesk, CommandError, TokenBucket, parse
from hil.transport import frames

C = frames.C


def _err(payload: bytes | str) -> CommandError:
    with pytest.raises(CommandError) as e:
        parse(payload.encode() if isinstance(payload, str) else payload)
    return e.value


def test_valid_commands_become_wire_arguments() -> None:
    c = parse(b'{"id": "c-1", "command": "aptt", "value": 72.5, "user": "nurse"}')
    assert (c.id, c.code, c.arg, c.value, c.user) == ("c-1", C.CMD_APTT, 725, 72.5, "nurse")
    c = parse(b'{"id": "c-2", "command": "set_flow", "value": 250}')
    assert (c.code, c.arg) == (C.CMD_SET_FLOW, 250)
    for name in ("ack_alarms", "pause", "resume", "confirm_exchange", "audio_pause"):
        c = parse(json.dumps({"id": "x", "command": name}).encode())
        assert c.code == COMMANDS[name].code and c.arg == 0
    assert parse(b'{"id": "p", "command": "ping"}').code == 0


@pytest.mark.parametrize("payload, code, words", [
    (b"\xff\xfe", "invalid_json", "UTF-8"),
    ("{not json", "invalid_json", "not valid JSON"),
    ('{"id": "a", "command": "aptt", "value": NaN}', "invalid_json", "NaN"),
    ('{"id": "a", "id": "b", "command": "pause"}', "invalid_json", "twice"),
    ("[1, 2]", "not_an_object", "JSON object"),
    ('"pause"', "not_an_object", "JSON object"),
    ('{"command": "pause"}', "missing_id", "id missing"),
    ('{"id": 7, "command": "pause"}', "bad_id", "id 7"),
    ('{"id": "", "command": "pause"}', "bad_id", "1-64"),
    ('{"id": "a/b#", "command": "pause"}', "bad_id", "letters"),
    ('{"id": "a", "command": "pause", "extra": 1}', "unknown_field", "extra"),
    ('{"id": "a"}', "missing_command", "command"),
    ('{"id": "a", "command": 3}', "unknown_command", "one of"),
    ('{"id": "a", "command": "explode"}', "unknown_command", "'explode'"),
    ('{"id": "a", "command": "test_hang", "value": 10}', "unknown_command", "test_hang"),
    ('{"id": "a", "command": "time_scale", "value": 1000}', "unknown_command", "time_scale"),
    ('{"id": "a", "command": "aptt"}', "missing_value", "needs a value in s"),
    ('{"id": "a", "command": "pause", "value": 1}', "unexpected_value", "takes no value"),
    ('{"id": "a", "command": "aptt", "value": "72.5"}', "bad_value", "not str"),
    ('{"id": "a", "command": "aptt", "value": true}', "bad_value", "not bool"),
    ('{"id": "a", "command": "aptt", "value": [70]}', "bad_value", "not list"),
    ('{"id": "a", "command": "set_flow", "value": null}', "bad_value", "not NoneType"),
    ('{"id": "a", "command": "aptt", "value": 1e300}', "out_of_range", "32-bit"),
    ('{"id": "a", "command": "set_flow", "value": -3000000000}', "out_of_range", "32-bit"),
    ('{"id": "a", "command": "pause", "user": 5}', "bad_user", "user"),
    ("{" + '"id": "a", "command": "pause", "user": "' + "x" * 1100 + '"}', "too_large", "1024"),
])
def test_a_malformed_command_is_refused_with_a_reason(payload, code, words) -> None:
    e = _err(payload)
    assert e.code == code
    assert words in str(e)


def test_the_refusal_carries_the_id_when_there_is_one() -> None:
    assert _err('{"id": "c-9", "command": "explode"}').cmd_id == "c-9"
    assert _err('{"command": "pause"}').cmd_id is None


def test_out_of_the_firmware_range_is_the_firmware_s_to_refuse() -> None:
    # Representable, so it goes to the board, whose range check is the authority.
    c = parse(b'{"id": "a", "command": "aptt", "value": 500}')
    assert c.arg == 5000


def test_token_bucket() -> None:
    now = [0.0]
    tb = TokenBucket(burst=3, per_s=2.0, clock=lambda: now[0])
    assert [tb.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert tb.take() and not tb.take()


def test_the_desk_answers_floods_duplicates_and_runs_without_a_hook() -> None:
    now = [0.0]
    desk = CommandDesk(limiter=TokenBucket(burst=2, per_s=1.0, clock=lambda: now[0]))
    # No run thread takes commands: each is answered so, none is queued.
    a = desk.receive(b'{"id": "n1", "command": "pause"}')
    assert a is not None and a["error"] == "no_command_hook" and desk.take() == []
    desk.hook = True
    now[0] += 10
    assert desk.receive(b'{"id": "c1", "command": "pause"}') is None
    assert desk.receive(b'{"id": "c1", "command": "pause"}') is None    # still pending: not queued again
    assert desk.receive(b'{"id": "c2", "command": "resume"}') is None
    flood = [desk.receive(json.dumps({"id": f"f{i}", "command": "pause"}).encode()) for i in range(5)]
    assert all(f is not None and f["error"] == "rate_limited" and f["id"] == f"f{i}"
               for i, f in enumerate(flood))
    queued = desk.take()
    assert [c.id for c in queued] == ["c1", "c2"]
    done = desk.done(queued[0], {"id": "c1", "ok": True})
    # A repeat of a carried-out id gets the same answer again and does not act.
    assert desk.receive(b'{"id": "c1", "command": "pause"}') == done
    assert desk.take() == []
    # Malformed ones are answered at once and never queued.
    bad = desk.receive(b'{"id": "b1", "command": "aptt", "value": "x"}')
    assert bad is not None and bad["ok"] is False and bad["error"] == "bad_value" and bad["id"] == "b1"
    assert desk.take() == []
    ping = desk.receive(b'{"id": "p1", "command": "ping"}')
    now[0] += 10
    ping = desk.receive(b'{"id": "p2", "command": "ping"}')
    assert ping is not None and ping["ok"] and ping["result"] == "pong"
