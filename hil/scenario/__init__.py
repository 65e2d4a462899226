"""Scenario files: the YAML format of docs/scenarios.md, read into typed
objects, with every error reported as ``file:line: what is wrong``.

Loading is strict: unknown keys, wrong types, unknown alarms, commands,
faults, sensor channels or anchors, steps out of order and missing
required fields are all errors, and nothing runs until the whole file is
valid. Line numbers come from the YAML node marks, so an error points at
the key or value that is wrong, not at the start of the file.

The package's parts: :mod:`~hil.scenario.source` (errors, located YAML,
durations), :mod:`~hil.scenario.model` (anchors, steps, expectations,
measurements, the scenario, the schema's names),
:mod:`~hil.scenario.actions` (every step action, declared once) and
:mod:`~hil.scenario.quantities` (every measurable quantity, declared once),
:mod:`~hil.scenario.reader` with :mod:`~hil.scenario.steps` and
:mod:`~hil.scenario.checks` (validation). The checks are decided in
:mod:`~hil.scenario.expect` on a :mod:`~hil.scenario.timeline`, the
``alarm_log`` expectation in :mod:`~hil.scenario.alarmlog`. Everything is
importable from ``hil.scenario``.
"""

from __future__ import annotations

from pathlib import Path

from hil.scenario.actions import ACTIONS, COMMANDS, RESULTS, Action, Arg
from hil.scenario.model import *  # noqa: F403 (the schema's names, as before the split)
from hil.scenario.model import C  # noqa: F401
from hil.scenario.model import __all__ as _model_all
from hil.scenario.quantities import QUANTITIES, STATS, Quantity
from hil.scenario.reader import _Reader, _tables  # noqa: F401
from hil.scenario.source import (
    ScenarioError, Y, _kind, _located, _show, parse_duration, parse_yaml)  # noqa: F401


def loads(text: str, path: str = "<scenario>") -> Scenario:
    """Parse and validate scenario text.

    Raises:
        ScenarioError: naming ``path``, the line and what is wrong.
    """
    root = parse_yaml(text, path)
    return _Reader(path).scenario(root, text)


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(str(path), 0, f"cannot read the file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), 0, "the file is not UTF-8 text") from None
    return loads(text, str(path))


def discover(paths: list[str | Path] | None = None, root: Path | None = None) -> list[Path]:
    """Scenario files: the given files, the YAML files in the given folders,
    bare names looked up in the library; by default the whole library."""
    lib = (root / "scenarios") if root is not None else Path("scenarios")
    out: list[Path] = []
    for p in paths or [lib]:
        q = Path(p)
        if q.is_dir():
            out += sorted(x for x in q.iterdir() if x.suffix in (".yaml", ".yml"))
        elif q.exists():
            out.append(q)
        elif (lib / f"{p}.yaml").exists():
            out.append(lib / f"{p}.yaml")
        else:
            raise ScenarioError(str(p), 0, "no such scenario file, folder or library scenario")
    return out


__all__ = [*_model_all, "ACTIONS", "Action", "Arg", "COMMANDS", "QUANTITIES", "Quantity", "RESULTS", "STATS",
           "ScenarioError", "Y", "discover", "load", "loads", "parse_duration", "parse_yaml"]
