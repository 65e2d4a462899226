"""Reading a scenario's steps (``at:`` and one action each)."""

from __future__ import annotations

from typing import Any

from hil.scenario.model import (
    SENSOR_CHANNELS, SENSOR_KINDS, DIRECTIONS, Step, OPERATOR_ACTIONS, STEP_ACTIONS, COMMANDS,
    RESULTS)
from hil.scenario.source import Y


class _StepReader:
    """Mixin of the reader: steps."""

    path: str
    step_ids: set[str]

    def step(self, y: Y, index: int) -> Step:
        m = self.mapping(y, f"step {index}", ("at", "id", "expect_result") + STEP_ACTIONS, ("at",))
        actions = [k for k in m if k in STEP_ACTIONS]
        if len(actions) != 1:
            raise self.err(y.line, f"step {index} must have exactly one action "
                           f"({', '.join(STEP_ACTIONS)}), it has {len(actions) or 'none'}"
                           + (f": {', '.join(actions)}" if actions else ""))
        action = actions[0]
        at = self.when(m["at"], f"step {index} 'at'")
        sid = self.text(m["id"], "step id") if "id" in m else f"{action}{index}"
        if sid in self.step_ids:
            raise self.err(m["id"].line if "id" in m else y.line, f"step id '{sid}' is used twice")
        args = self.step_args(action, m[action], m)
        expect_result = None
        if "expect_result" in m:
            if action not in OPERATOR_ACTIONS and action != "hang":
                raise self.err(m["expect_result"].line, "expect_result applies to operator commands only")
            expect_result = self.text(m["expect_result"], "command result", RESULTS)
        self.step_ids.add(sid)
        return Step(at=at, action=action, args=args, id=sid, line=y.line, expect_result=expect_result)

    def step_args(self, action: str, v: Y, m: dict[str, Y]) -> dict[str, Any]:
        w = f"step '{action}'"
        if action == "clotting":
            return {"value": float(self.number(v, f"{w} (extra clot growth factor)", 0, 10000))}
        if action == "access_occlusion":
            return {"value": float(self.number(v, f"{w} (fraction of the line blocked)", 0, 1))}
        if action == "air":
            return {"value": self.duration(v, f"{w} (seconds of air at the detector)")}
        if action == "sensor":
            s = self.mapping(v, w, ("channel", "clear") + SENSOR_KINDS, ("channel",))
            ch = self.text(s["channel"], "sensor channel", SENSOR_CHANNELS)
            kinds = [k for k in s if k in SENSOR_KINDS or k == "clear"]
            if len(kinds) != 1:
                raise self.err(v.line, f"{w} needs exactly one of {', '.join(SENSOR_KINDS)} or clear")
            kind = kinds[0]
            if kind == "clear":
                self.flag(s["clear"], f"{w} clear")
                return {"channel": ch, "kind": "clear"}
            if kind == "range":
                side = self.text(s["range"], f"{w} range", ("high", "low"))
                return {"channel": ch, "kind": "range", "value": 1.0 if side == "high" else -1.0}
            what = {"stuck": "held reading", "drift": "drift per second", "noise": "extra noise SD"}[kind]
            return {"channel": ch, "kind": kind, "value": float(self.number(s[kind], f"{w} {kind} ({what})"))}
        if action == "clear_faults":
            self.flag(v, w)
            return {}
        if action == "link":
            s = self.mapping(v, w, ("corrupt", "drop", "delay", "noise", "frames", "direction"))
            kinds = [k for k in s if k in ("corrupt", "drop", "delay", "noise")]
            if len(kinds) != 1:
                raise self.err(v.line, f"{w} needs exactly one of corrupt, drop, delay or noise")
            kind = kinds[0]
            direction = self.text(s["direction"], "link direction", DIRECTIONS) if "direction" in s else "both"
            if kind == "delay":
                d = self.duration(s["delay"], f"{w} delay")
                n = int(self.number(s["frames"], f"{w} frames", 1, 1000, integer=True)) if "frames" in s else 1
                return {"fault": "delay", "delay_s": d, "frames": n, "direction": direction}
            if "frames" in s:
                raise self.err(s["frames"].line, f"{w}: give the number of frames as the value of '{kind}'")
            what = "number of bytes" if kind == "noise" else "number of frames"
            n = int(self.number(s[kind], f"{w} {kind} ({what})", 1, 1000, integer=True))
            return {"fault": kind, "frames": n, "direction": direction}
        if action == "disconnect":
            return {"value": self.duration(v, f"{w} (virtual seconds without the link)")}
        if action == "power_cut":
            return {"value": self.duration(v, f"{w} (virtual seconds without power)")}
        if action == "hang":
            return {"value": self.duration(v, f"{w} (virtual seconds the control task stalls)")}
        if action == "aptt":
            return {"value": float(self.number(v, f"{w} (seconds)", 10, 200))}
        if action == "set_flow":
            return {"value": int(self.number(v, f"{w} (mL/min)", integer=True))}
        if action == "command":
            s = self.mapping(v, w, ("name", "arg"), ("name",))
            name = self.text(s["name"], "command", COMMANDS)
            arg = int(self.number(s["arg"], f"{w} arg", integer=True)) if "arg" in s else 0
            return {"name": name, "arg": arg}
        # acknowledge, audio_pause, pause, resume, start, stop, confirm_exchange
        if not self.flag(v, w):
            raise self.err(v.line, f"{w}: write 'true' to do it, or leave the step out")
        return {}
