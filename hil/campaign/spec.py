"""Campaign files: what to cross, read from YAML and expanded into run specs.

A campaign file (docs/campaigns.md) names firmware configurations and one
or more groups of runs. A group has a kind:

- ``scenarios``: scenarios x seeds x patients x firmware configurations;
- ``trial``: a virtual trial's arms x patients (:mod:`hil.trial`);
- ``linkfault``: the link-fault campaign's blocks, per seed;
- ``powercut``: the power-cut campaign, one run per seed.

Expansion gives *run specs*: plain JSON-able dicts that, with the firmware
configuration they name, fix a run's result. A run's id is a digest of its
spec (including the digest of its firmware and of its scenario text), so a
campaign started again recognises the runs it has already done, and a
changed scenario or firmware is run again.

Errors name the file and line (:class:`CampaignError`), and nothing runs
until the whole file has been read.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.campaign.groups import GROUP_READERS
from hil.scenario import ScenarioError, Y, parse_yaml
from hil.scenario.reader import _Reader

KINDS = ("scenarios", "trial", "linkfault", "powercut")
MAX_RUNS = 1_000_000
MAX_SEEDS = 100_000
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}\Z")


class CampaignError(ScenarioError):
    """A campaign file that cannot be run; the message names the file and line."""


@dataclass
class Group:
    """One group of a campaign file, as read (before expansion)."""

    kind: str
    line: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Campaign:
    """A campaign file, read and checked."""

    name: str
    path: str
    firmware: dict[str, str]          # name -> arm spec text (hil.trial.arms syntax)
    groups: list[Group]
    text: str = ""

    def firmware_used(self) -> list[str]:
        """The firmware configurations some group runs, in order of first use."""
        seen: list[str] = []
        for g in self.groups:
            for name in g.options.get("firmware", []):
                if name not in seen:
                    seen.append(name)
        return seen


def run_id(spec: dict[str, Any]) -> str:
    """A run's id: the first 16 hex digits of the SHA-256 of its canonical JSON spec."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _CampaignReader(_Reader):
    """The scenario reader's checks (numbers, texts, durations, patients), raising CampaignError."""

    def err(self, line: int, reason: str) -> CampaignError:
        return CampaignError(self.path, line, reason)

    def name(self, y: Y, what: str) -> str:
        v = self.text(y, what)
        if not _NAME.match(v):
            raise self.err(y.line, f"{what} {v!r}: use a letter, then up to 63 letters, digits, '_' or '-'")
        return v

    def integer(self, m: dict[str, Y], key: str, lo: int, hi: int, default: int) -> int:
        """``m[key]``, an integer in lo..hi, or ``default`` when absent."""
        return int(self.number(m[key], key, lo, hi, integer=True)) if key in m else default

    def seeds(self, y: Y) -> list[int]:
        """``[1, 2, 3]``, ``7`` or ``{from: 1, count: 100}``."""
        if isinstance(y.value, dict):
            m = self.mapping(y, "seeds", ("from", "count"), required=("count",))
            start = self.integer(m, "from", 0, 2 ** 31 - 1, 1)
            count = int(self.number(m["count"], "seeds count", 1, MAX_SEEDS, integer=True))
            if start + count > 2 ** 31:
                raise self.err(y.line, f"seeds from {start} count {count} go past 2^31 - 1")
            return list(range(start, start + count))
        items = y.value if isinstance(y.value, list) else [y]
        if not items:
            raise self.err(y.line, "seeds is empty")
        seeds = [int(self.number(s, "seed", 0, 2 ** 31 - 1, integer=True)) for s in items]
        if len(set(seeds)) != len(seeds):
            raise self.err(y.line, "a seed appears twice in seeds")
        return seeds

    def names(self, y: Y, what: str) -> list[str]:
        items = y.value if isinstance(y.value, list) else [y]
        if not items:
            raise self.err(y.line, f"{what} is empty")
        out = [self.text(s, what) for s in items]
        if len(set(out)) != len(out):
            raise self.err(y.line, f"a name appears twice in {what}")
        return out

    def firmware_refs(self, y: Y, known: dict[str, str]) -> list[str]:
        names = self.names(y, "firmware")
        for n in names:
            if n not in known:
                raise self.err(y.line, f"unknown firmware configuration {n!r}; known: {', '.join(known)}")
        return names

    def group(self, y: Y, known: dict[str, str]) -> Group:
        if not isinstance(y.value, dict) or "kind" not in y.value:
            raise self.err(y.line, f"a group of runs must be a mapping with a 'kind' ({', '.join(KINDS)})")
        kind = self.text(y.value["kind"], "group kind", KINDS)
        return Group(kind, y.line, GROUP_READERS[kind](self, y, known))


def loads(text: str, path: str = "<campaign>") -> Campaign:
    """Read and check a campaign file's text."""
    from hil.trial.arms import BUILTIN, ArmError, parse_spec

    r = _CampaignReader(path)
    try:
        root = parse_yaml(text, path)
    except ScenarioError as e:
        raise CampaignError(e.path, e.line, e.reason) from None
    m = r.mapping(root, "the campaign", ("campaign", "description", "firmware", "groups"),
                  required=("campaign", "groups"))
    name = r.name(m["campaign"], "campaign name")
    firmware = dict(BUILTIN)
    if "firmware" in m:
        fm = r.mapping(m["firmware"], "firmware", {k: None for k in m["firmware"].value or {}})
        for key, val in fm.items():
            if key in BUILTIN:
                raise r.err(m["firmware"].key_lines[key], f"firmware {key!r} is built in ({BUILTIN[key]})")
            try:
                parse_spec(key, r.text(val, f"firmware {key}"))
            except ArmError as e:
                raise r.err(val.line, str(e)) from None
            firmware[key] = val.value
    g = m["groups"]
    if not isinstance(g.value, list) or not g.value:
        raise r.err(g.line, "groups must be a non-empty list of groups of runs")
    return Campaign(name, path, firmware, [r.group(x, firmware) for x in g.value], text)


def load_file(path: str | Path) -> Campaign:
    """Read a campaign file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise CampaignError(str(path), 0, f"cannot read the campaign file: {e.strerror or e}") from None
    return loads(text, str(path))


__all__ = ["KINDS", "Campaign", "CampaignError", "Group", "load_file", "loads", "run_id"]
