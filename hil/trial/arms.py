"""A trial's arms: what each runs, from a spec on the command line to a
board config file and a compiled firmware folder on disk.

An arm is a board config (default ``virtual``), optionally with another
anticoagulation table, optionally with the firmware of another git
revision. Specs (``--arm NAME=SPEC``), parts joined by ``+``, at most one
of each kind::

    table:NAME         the default board config with table NAME (firmware/heparin.py
                       TABLES, or ``none``: no bolus, zero rate)
    PATH.json          a board config file (``board:NAME`` for a shipped one)
    rev:GITREV         firmware/ as it was at GITREV (a commit, tag, branch, HEAD~3)

e.g. ``old=rev:v0.1+table:raschke``. Built in: ``table`` (the default
board config as shipped, its own table) and ``none`` (``table:none``).

Table ``none`` is written into the arm's board config (the firmware takes a
table inline as well as by name), so the firmware is the same in both
default arms: with no bolus and a zero rate, no heparin is ever given, the
firmware refuses blood flow on the out-of-target aPTT, and the operator's
confirmed override (event ``override``) starts it.

:func:`parse_arm` and :func:`select_arms` only read text; :func:`prepare_arm`
touches the file system and git.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.board.build import SOURCE_ONLY, compile_firmware, mpy_cross
from hil.board.firmware import (FIRMWARE_DIR, ROOT, ConfigError, board_config_path, firmware_module,
                                load_board_config)

DEFAULT_BOARD = "virtual"
BUILTIN = {"table": "board:virtual", "none": "table:none"}
DEFAULT_ARMS = ("table", "none")
MAX_ARMS = 8
NONE_TABLE = "none"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}\Z")
_TABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}\Z")
_REV = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./^~@{}-]{0,199}\Z")
_BOARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


class ArmError(ValueError):
    """An arm spec or arm list that cannot be run; the message names the arm and the fault."""


@dataclass(frozen=True)
class ArmSpec:
    """An arm as written: its name and the parts of its spec."""

    name: str
    text: str
    board: str | None = None     # board config name or path
    table: str | None = None     # anticoagulation table name
    rev: str | None = None       # git revision of firmware/


@dataclass(frozen=True)
class Arm:
    """An arm ready to run: the files each of its virtual boards is given."""

    name: str
    spec: str
    config_path: Path            # the resolved board config the firmware reads
    firmware_dir: Path           # compiled firmware (.mpy and main.py)
    firmware_source: str         # "working tree" or "rev <sha>"
    firmware_digest: str         # sha256 of the firmware's .py sources
    board: str                   # the config's name (the board's HELLO)
    table: str                   # the anticoagulation table's name
    target_s: tuple[float, float]  # the table's aPTT target, s

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "board_config": _shown(self.config_path), "board": self.board,
                "anticoagulation": self.table, "table_target_aptt_s": list(self.target_s),
                "firmware": {"source": self.firmware_source, "sources_sha256": self.firmware_digest,
                             "build": _shown(self.firmware_dir)}}


def _shown(path: Path) -> str:
    """A path as trial.json shows it: relative to the checkout when inside it."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ArmError(f"arm name {name!r}: use a letter, then up to 31 letters, digits, '_' or '-'")


def parse_spec(name: str, text: str) -> ArmSpec:
    """Parse a spec (``table:none``, ``cfg.json+rev:HEAD~1``, ...) of arm ``name``."""
    _check_name(name)
    if not text.strip():
        raise ArmError(f"arm {name!r}: empty spec (give table:NAME, a board config .json or rev:GITREV)")
    found: dict[str, str] = {}
    for part in text.split("+"):
        part = part.strip()
        if part.startswith("table:"):
            kind, value, pattern = "table", part[6:], _TABLE
        elif part.startswith("rev:"):
            kind, value, pattern = "rev", part[4:], _REV
        elif part.startswith("board:") or part.endswith(".json"):
            kind, value = "board", part[6:] if part.startswith("board:") else part
            pattern = re.compile(r".+\.json\Z", re.S) if value.endswith(".json") else _BOARD_NAME
        else:
            raise ArmError(f"arm {name!r}: {part!r} is none of table:NAME, a board config (.json "
                           "or board:NAME) or rev:GITREV")
        if kind in found:
            raise ArmError(f"arm {name!r}: two {kind} parts ({found[kind]!r} and {value!r}); give one")
        if not pattern.match(value) or any(ord(c) < 32 for c in value):
            raise ArmError(f"arm {name!r}: {kind} {value!r} is not a valid {kind} "
                           + ("(it must not start with '-')" if kind == "rev" else "name"))
        found[kind] = value
    return ArmSpec(name=name, text=text.strip(), **found)


def parse_arm(option: str) -> ArmSpec:
    """Parse ``--arm NAME=SPEC``."""
    name, eq, spec = option.partition("=")
    if not eq:
        raise ArmError(f"--arm {option!r}: expected NAME=SPEC, e.g. old=rev:HEAD~1 or strict=table:raschke")
    name = name.strip()
    if name in BUILTIN:
        raise ArmError(f"--arm {option!r}: {name!r} is a built-in arm ({name}={BUILTIN[name]}); "
                       "choose another name")
    return parse_spec(name, spec)


def select_arms(arms: str | None, defined: list[ArmSpec]) -> list[ArmSpec]:
    """The arms to run, in order: ``arms`` (comma-separated names, built in or
    defined), else ``table`` and the defined ones, else ``table,none``."""
    by_name: dict[str, ArmSpec] = {}
    for s in defined:
        if s.name in by_name:
            raise ArmError(f"arm {s.name!r} is defined twice (--arm)")
        by_name[s.name] = s
    if arms is None:
        names = ["table", *by_name] if by_name else list(DEFAULT_ARMS)
    else:
        names = [n.strip() for n in arms.split(",")]
        if any(not n for n in names):
            raise ArmError(f"--arms {arms!r}: an empty name (write names separated by single commas)")
    out: list[ArmSpec] = []
    for n in names:
        if n in (s.name for s in out):
            raise ArmError(f"--arms: {n!r} is named twice")
        if n in by_name:
            out.append(by_name[n])
        elif n in BUILTIN:
            out.append(parse_spec(n, BUILTIN[n]))
        else:
            known = ", ".join([*BUILTIN, *by_name])
            raise ArmError(f"--arms: unknown arm {n!r} (known: {known}; define one with --arm NAME=SPEC)")
    if len(out) < 2:
        raise ArmError(f"a trial compares at least two arms, got {len(out)} ({', '.join(names)})")
    if len(out) > MAX_ARMS:
        raise ArmError(f"at most {MAX_ARMS} arms, got {len(out)}")
    return out


# -- preparing an arm --------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        p = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)
    except OSError as e:
        raise ArmError(f"git is needed for rev: arms ({e})") from e
    if p.returncode:
        raise ArmError(p.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return p.stdout.decode(errors="replace")


def _extract_rev(name: str, rev: str, dest: Path) -> str:
    """firmware/ at ``rev`` into ``dest``; returns the commit."""
    try:
        sha = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except ArmError as e:
        raise ArmError(f"arm {name!r}: rev:{rev} is not a commit of {ROOT} "
                       f"({e or 'unknown revision'})") from e
    if dest.exists():
        shutil.rmtree(dest)
    for entry in _git("ls-tree", "-r", "-z", sha, "--", "firmware").split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, blob = meta.split()
        rel = Path(path).relative_to("firmware")
        if kind != "blob" or mode not in ("100644", "100755") or ".." in rel.parts:
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(subprocess.run(["git", "-C", str(ROOT), "cat-file", "blob", blob],
                                       capture_output=True, check=True).stdout)
    if not (dest / "main.py").is_file():
        raise ArmError(f"arm {name!r}: rev:{rev} ({sha[:12]}) has no firmware/main.py")
    return sha


def _sources(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def sources_digest(folder: Path) -> str:
    """sha256 over the firmware's .py files (relative paths and contents)."""
    h = hashlib.sha256()
    for rel in _sources(folder):
        h.update(rel.as_posix().encode() + b"\0" + (folder / rel).read_bytes() + b"\0")
    return h.hexdigest()


def compile_folder(src: Path, dest: Path, march: str = "armv6m") -> Path:
    """Compile a firmware folder other than firmware/ as hil.board.build does
    (same layout: .mpy files, main.py kept as source)."""
    if dest.exists():
        shutil.rmtree(dest)
    for rel in _sources(src):
        if rel.name in SOURCE_ONLY and rel.parent == Path("."):
            if rel.name == "main.py":
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(src / rel, dest / rel)
            continue
        out = dest / rel.with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([mpy_cross(), f"-march={march}", "-o", str(out), str(rel)], cwd=src,
                           capture_output=True, text=True)
        if p.returncode:
            raise ArmError(f"mpy-cross failed on {src / rel}: {p.stderr.strip()}")
    return dest


def _table_of(name: str, cfg: dict[str, Any]) -> tuple[str, tuple[float, float]]:
    """The name and aPTT target (s) of the config's table, checked as the firmware checks it."""
    heparin = firmware_module("heparin")
    table = cfg.get("anticoagulation", "cartridge-60-80")
    if isinstance(table, str):
        if table not in heparin.TABLES:
            raise ArmError(f"arm {name!r}: no anticoagulation table {table!r} (firmware/heparin.py has "
                           f"{', '.join(heparin.TABLES)}; the trial adds {NONE_TABLE!r})")
        table = heparin.TABLES[table]
    try:
        firmware_module("board").check_table(table)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ArmError(f"arm {name!r}: its anticoagulation table is malformed: {e}") from e
    lo, hi = table["target"]
    return str(table.get("name", "?")), (lo / 10.0, hi / 10.0)


def none_table(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Table ``none``: no bolus, zero rate, no change on any aPTT; the target
    and re-check times of the config's own table, so that blood flow needs
    the override."""
    heparin = firmware_module("heparin")
    base = cfg.get("anticoagulation", "cartridge-60-80")
    if isinstance(base, str):
        if base not in heparin.TABLES:
            raise ArmError(f"arm {name!r}: its board config names no known table ({base!r})")
        base = heparin.TABLES[base]
    return {"name": NONE_TABLE, "target": list(base["target"]), "initial_bolus_u_kg": 0,
            "initial_rate": 0, "recheck_min": base["recheck_min"],
            "recheck_stable_min": base["recheck_stable_min"],
            # One open-ended row (the firmware's bound for it): no change on any aPTT.
            "rows": [[base["rows"][-1][0], 0, 0, 0]]}


def arm_config(spec: ArmSpec) -> dict[str, Any]:
    """The arm's board config: resolved, checked, its table applied."""
    board = spec.board or DEFAULT_BOARD
    path = board_config_path(board)
    if not path.is_file():
        raise ArmError(f"arm {spec.name!r}: board config {board!r} not found ({path})")
    try:
        cfg = load_board_config(board)
    except ConfigError as e:
        raise ArmError(f"arm {spec.name!r}: {e}") from e
    if cfg.get("hal") != "sim":
        raise ArmError(f"arm {spec.name!r}: board config {board!r} has the {cfg.get('hal')!r} HAL; a trial "
                       "closes the loop with the plant and needs a board config with \"hal\": \"sim\"")
    if spec.table == NONE_TABLE:
        cfg["anticoagulation"] = none_table(spec.name, cfg)
    elif spec.table is not None:
        cfg["anticoagulation"] = spec.table
    return cfg


def prepare_arm(spec: ArmSpec, folder: Path) -> Arm:
    """Write the arm's board config (and for a rev: its firmware) under
    ``folder`` and compile its firmware.

    Raises:
        ArmError: naming the arm and what is wrong.
    """
    cfg = arm_config(spec)
    table, target = _table_of(spec.name, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "board.json"
    config_path.write_text(json.dumps(cfg, indent=1) + "\n")
    if spec.rev is None:
        source, fw = "working tree", compile_firmware()
        digest = sources_digest(FIRMWARE_DIR)
    else:
        src = folder / "firmware-source"
        sha = _extract_rev(spec.name, spec.rev, src)
        source, fw = f"rev {sha}", compile_folder(src, folder / "firmware-build")
        digest = sources_digest(src)
    return Arm(name=spec.name, spec=spec.text, config_path=config_path.resolve(), firmware_dir=fw.resolve(),
               firmware_source=source, firmware_digest=digest, board=str(cfg.get("name")), table=table,
               target_s=target)


__all__ = ["Arm", "ArmError", "ArmSpec", "BUILTIN", "DEFAULT_ARMS", "arm_config", "compile_folder",
           "none_table", "parse_arm", "parse_spec", "prepare_arm", "select_arms", "sources_digest"]
