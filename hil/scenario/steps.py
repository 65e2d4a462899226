"""Reading a scenario's steps (``at:`` and one action each), by the
arguments each action declares in :mod:`hil.scenario.actions`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hil.scenario.actions import ACTIONS, RESULTS, Action, Arg
from hil.scenario.model import Step, When
from hil.scenario.source import Y


class _StepReader:
    """Mixin of the reader: steps."""

    path: str
    step_ids: set[str]
    log_steps: list[str]

    def steps(self, y: Y, index: int) -> list[Step]:
        """One written step: the step, or with ``repeat: {times: N, every: T}``
        N copies of it T apart, sharing its id (``step:<id>#k`` is the kth)."""
        first = self.step(y, index)
        rep = y.value.get("repeat") if isinstance(y.value, dict) else None
        if rep is None:
            return [first]
        w = f"step {index} repeat"
        m = self.mapping(rep, w, ("times", "every"), ("times", "every"))
        times = int(self.number(m["times"], f"{w} times", 2, 1000, integer=True))
        every = self.duration(m["every"], f"{w} every")
        if every <= 0:
            raise self.err(m["every"].line, f"{w} every must be more than 0")
        return [replace(first, at=When(first.at.anchor, first.at.plus_s + k * every)) for k in range(times)]

    def step(self, y: Y, index: int) -> Step:
        m = self.mapping(y, f"step {index}", ("at", "id", "expect_result", "repeat", *ACTIONS), ("at",))
        action = ACTIONS[self.exactly_one(y, f"step {index}", "action", tuple(ACTIONS), m)]
        at = self.when(m["at"], f"step {index} 'at'")
        sid = self.text(m["id"], "step id") if "id" in m else f"{action.name}{index}"
        if sid in self.step_ids:
            raise self.err(m["id"].line if "id" in m else y.line, f"step id '{sid}' is used twice")
        args = self.step_args(action, m[action.name], f"step {index} '{action.name}'")
        expect_result = None
        if "expect_result" in m:
            if not action.answers:
                answered = ", ".join(a for a in ACTIONS if ACTIONS[a].answers)
                raise self.err(m["expect_result"].line, f"expect_result applies to operator commands only "
                               f"(the steps the board answers: {answered}), not to '{action.name}'")
            expect_result = self.text(m["expect_result"], "command result", RESULTS)
        self.step_ids.add(sid)
        if action.name == "alarm_log":
            self.log_steps.append(sid)
        return Step(at=at, action=action.name, args=args, id=sid, line=y.line, expect_result=expect_result)

    def step_args(self, action: Action, v: Y, w: str) -> dict[str, Any]:
        """The step's arguments as ``action`` declares them (``w``: the step, for errors)."""
        if action.value is not None:
            return self._kept(action.value, "value", self.arg(v, action.value, w))
        s = self.mapping(v, w, (*action.fields, *action.one_of),
                         tuple(k for k, a in action.fields.items() if a.default is None and not a.only_with))
        out: dict[str, Any] = {}
        kind = None
        if action.one_of:
            kind = self.exactly_one(v, w, "of these keys", tuple(action.one_of), s)
            out[action.kind] = kind
            a = action.one_of[kind]
            out.update(self._kept(a, "value", self.arg(s[kind], a, f"{w} {kind}")))
        for k, a in action.fields.items():
            if a.only_with and kind not in a.only_with:
                if k in s:
                    other = action.one_of[kind]
                    raise self.err(s[k].line, f"{w}: '{k}' goes with {' or '.join(a.only_with)} only; the "
                                   f"{other.what} of '{kind}' is its value ({kind}: N)")
                continue
            out.update(self._kept(a, k, self.arg(s[k], a, f"{w} {k}") if k in s else a.default))
        return out

    @staticmethod
    def _kept(a: Arg, key: str, value: Any) -> dict[str, Any]:
        key = key if a.key is None else a.key
        return {key: value} if key else {}

    def arg(self, y: Y, a: Arg, where: str) -> Any:
        """One typed argument (``where``: the step and the key, for errors)."""
        what = f"{where} ({', '.join(x for x in (a.what, a.unit) if x)})" if a.what or a.unit else where
        if a.type == "duration":
            return self.duration(y, what)
        if a.type == "flag":
            if not self.flag(y, what):
                raise self.err(y.line, f"{where}: write 'true' to do it, or leave the step out")
            return True
        if a.choices:
            v = self.text(y, what)
            if v not in a.choices:
                raise self.err(y.line, f"{where}: unknown {a.what} '{v}'; known: {', '.join(a.choices)}")
            return a.choices[v] if isinstance(a.choices, dict) else v
        n = self.number(y, what, a.lo, a.hi, integer=a.type == "integer")
        return int(n) if a.type == "integer" else float(n)
