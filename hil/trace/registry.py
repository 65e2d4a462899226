"""The requirement registry: ``requirements/*.yaml`` read and checked.

Each file holds ``requirements`` (id, text, source, function, optional
alarm, safety_critical) and ``hazards`` (id, hazard, cause, control, the
requirements that implement the control). Every mistake is a
:class:`RegistryError` naming the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hil.scenario.source import ScenarioError, Y, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS_DIR = ROOT / "requirements"
ID_PATTERN = re.compile(r"^SR-[A-Z0-9]+-[0-9]+$")
HAZARD_PATTERN = re.compile(r"^HAZ-[A-Z0-9-]+$")

_REQ_KEYS = {"id": True, "text": True, "source": True, "function": True, "alarm": False,
             "safety_critical": True}
_HAZ_KEYS = {"id": True, "hazard": True, "cause": True, "control": True, "requirements": True}


class RegistryError(ScenarioError):
    """A requirements file that cannot be used (``file:line: reason``)."""


@dataclass(frozen=True)
class Requirement:
    """One software requirement."""

    id: str
    text: str
    source: str
    function: str
    safety_critical: bool
    alarm: str | None = None
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Hazard:
    """One hazard, its cause and the risk control the firmware implements."""

    id: str
    hazard: str
    cause: str
    control: str
    requirements: tuple[str, ...]
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Registry:
    """All requirements (in file order) and hazards."""

    requirements: tuple[Requirement, ...]
    hazards: tuple[Hazard, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(r.id for r in self.requirements)

    def get(self, rid: str) -> Requirement:
        return next(r for r in self.requirements if r.id == rid)


def _fields(y: Y, keys: dict[str, bool], what: str, path: str) -> dict[str, Y]:
    if not isinstance(y.value, dict):
        raise RegistryError(path, y.line, f"{what} must be a mapping")
    for k in y.value:
        if k not in keys:
            raise RegistryError(path, y.key_lines[k], f"unknown key '{k}' in {what}; "
                                f"known: {', '.join(sorted(keys))}")
    for k, required in keys.items():
        if required and k not in y.value:
            raise RegistryError(path, y.line, f"{what} is missing the required key '{k}'")
    return y.value


def _text(y: Y, what: str, path: str) -> str:
    if not isinstance(y.value, str) or not y.value.strip():
        raise RegistryError(path, y.line, f"{what} must be non-empty text")
    return " ".join(y.value.split())


def _list(root: dict[str, Y], key: str, path: str) -> list[Y]:
    if key not in root:
        return []
    if not isinstance(root[key].value, list):
        raise RegistryError(path, root[key].line, f"'{key}' must be a list")
    return root[key].value


def _requirement(y: Y, path: str, alarms: tuple[str, ...]) -> Requirement:
    m = _fields(y, _REQ_KEYS, "a requirement", path)
    rid = _text(m["id"], "id", path)
    if not ID_PATTERN.match(rid):
        raise RegistryError(path, m["id"].line, f"requirement id '{rid}' must look like SR-AREA-1")
    if not isinstance(m["safety_critical"].value, bool):
        raise RegistryError(path, m["safety_critical"].line, f"{rid}: safety_critical must be true or false")
    alarm = None
    if "alarm" in m:
        alarm = _text(m["alarm"], f"{rid}: alarm", path)
        if alarm not in alarms:
            raise RegistryError(path, m["alarm"].line, f"{rid}: unknown alarm '{alarm}'; "
                                f"known: {', '.join(alarms)}")
    return Requirement(rid, _text(m["text"], f"{rid}: text", path),
                       _text(m["source"], f"{rid}: source", path),
                       _text(m["function"], f"{rid}: function", path), m["safety_critical"].value, alarm,
                       path, y.line)


def _hazard(y: Y, path: str) -> tuple[Hazard, list[Y]]:
    m = _fields(y, _HAZ_KEYS, "a hazard", path)
    hid = _text(m["id"], "hazard id", path)
    if not HAZARD_PATTERN.match(hid):
        raise RegistryError(path, m["id"].line, f"hazard id '{hid}' must look like HAZ-NAME")
    if not isinstance(m["requirements"].value, list) or not m["requirements"].value:
        raise RegistryError(path, m["requirements"].line, f"{hid}: requirements must be a non-empty list")
    reqs = m["requirements"].value
    h = Hazard(hid, _text(m["hazard"], f"{hid}: hazard", path), _text(m["cause"], f"{hid}: cause", path),
               _text(m["control"], f"{hid}: control", path),
               tuple(_text(r, f"{hid}: requirement", path) for r in reqs), path, y.line)
    return h, reqs


def load_registry(folder: Path | str = REQUIREMENTS_DIR) -> Registry:
    """Read every ``*.yaml`` in ``folder`` (sorted by name) into one registry.

    Raises:
        RegistryError: a malformed file, a duplicate id, or a hazard naming
            an unknown requirement; the message names the file and the line.
    """
    from hil.scenario.model import ALARM_NAMES

    reqs: list[Requirement] = []
    hazards: list[Hazard] = []
    seen: dict[str, str] = {}
    refs: list[tuple[str, Y, str]] = []
    files = sorted(Path(folder).glob("*.yaml"))
    if not files:
        raise RegistryError(str(folder), 0, "no requirements file (*.yaml) in this folder")
    for f in files:
        path = _rel(f)
        root = parse_yaml(f.read_text(encoding="utf-8"), path)
        top = _fields(root, {"requirements": False, "hazards": False}, "a requirements file", path)
        for item in _list(top, "requirements", path):
            r = _requirement(item, path, ALARM_NAMES)
            if r.id in seen:
                raise RegistryError(path, item.line,
                                    f"requirement {r.id} is defined twice (also {seen[r.id]})")
            seen[r.id] = f"{path}:{item.line}"
            reqs.append(r)
        for item in _list(top, "hazards", path):
            h, ys = _hazard(item, path)
            if h.id in seen:
                raise RegistryError(path, item.line, f"hazard {h.id} is defined twice (also {seen[h.id]})")
            seen[h.id] = f"{path}:{item.line}"
            hazards.append(h)
            refs += [(rid, y, path) for rid, y in zip(h.requirements, ys)]
    ids = {r.id for r in reqs}
    for rid, y, path in refs:
        if rid not in ids:
            raise RegistryError(path, y.line, f"hazard control names unknown requirement '{rid}'")
    return Registry(tuple(reqs), tuple(hazards))


@lru_cache(maxsize=4)
def _cached(folder: str, stamp: tuple[tuple[str, float], ...]) -> Registry:
    return load_registry(folder)


def default_registry(folder: Path | str = REQUIREMENTS_DIR) -> Registry:
    """The registry of ``folder``, read again only when one of its files changed."""
    stamp = tuple((str(p), p.stat().st_mtime) for p in sorted(Path(folder).glob("*.yaml")))
    return _cached(str(folder), stamp)


def check_ids(ids: list[tuple[str, int]], path: str, registry: Registry | None = None) -> tuple[str, ...]:
    """Check requirement ids named by a test or scenario (each with its line).

    Raises:
        RegistryError: an unknown id, naming ``path`` and its line.
    """
    reg = registry or default_registry()
    known = reg.ids
    for rid, line in ids:
        if rid not in known:
            close = sorted(k for k in known if k.rsplit("-", 1)[0] == rid.rsplit("-", 1)[0])
            hint = f"; known in that area: {', '.join(close)}" if close else ""
            raise RegistryError(path, line, f"unknown requirement id '{rid}' in verifies{hint} "
                                f"(requirements are in {_rel(REQUIREMENTS_DIR)}/)")
    return tuple(rid for rid, _ in ids)


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)
