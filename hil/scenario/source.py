"""Scenario sources: errors naming ``file:line``, YAML values that keep
their line, and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml


# -- errors --------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that cannot be used.

    Attributes:
        path: the file (as given).
        line: 1-based line of the offending node (0 if unknown).
        reason: what is wrong.
    """

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


# -- located YAML values ---------------------------------------------------------


@dataclass
class Y:
    """A YAML value with the line it came from (1-based)."""

    value: Any          # dict[str, Y] | list[Y] | scalar
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


_SCALARS = yaml.constructor.SafeConstructor()


def _located(node: yaml.Node, path: str) -> Y:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Y] = {}
        lines: dict[str, int] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise ScenarioError(path, k.start_mark.line + 1, "a key must be a plain name")
            key = str(k.value)
            if key in out:
                raise ScenarioError(path, k.start_mark.line + 1, f"key '{key}' appears twice")
            out[key] = _located(v, path)
            lines[key] = k.start_mark.line + 1
        return Y(out, line, lines)
    if isinstance(node, yaml.SequenceNode):
        return Y([_located(v, path) for v in node.value], line)
    return Y(_SCALARS.construct_object(node, deep=True), line)


def parse_yaml(text: str, path: str) -> Y:
    """Parse YAML text into located values; syntax errors name the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ScenarioError(path, line, f"not valid YAML: {e.problem or e}") from None
    if node is None:
        raise ScenarioError(path, 1, "the file is empty")
    return _located(node, path)


# -- durations and times ---------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DUR = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]+)?\s*$")


def parse_duration(value: Any) -> float | None:
    """``90``, ``"90 s"``, ``"1.5 min"``, ``"2 h"``, ``"100 ms"`` -> seconds, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        m = _DUR.match(value)
        if m and (m.group(2) is None or m.group(2) in _UNITS):
            return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    return None




def _kind(v: Any) -> str:
    return "a list" if isinstance(v, list) else "a mapping" if isinstance(v, dict) else _show(v)


def _show(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return f"{str(v).lower()}"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return repr(v) if isinstance(v, str) else str(v)
