"""Recordings of a run's serial traffic: the recorder, the recording link
that writes one, and the replay link whose far end is one (what
:func:`hil.run.replay.replay` runs a scenario against).

A recording holds, in one gzip'd JSON-lines file:

* a header: the scenario's text and file name, the seed, the options that
  shape the frames (STEP batch size, trace interval, link timeout), the
  firmware's HELLO;
* every call the host's protocol client made on its link, in order, with
  the virtual tick: each write (the exact frame bytes the host sent) and
  each read (the exact bytes the board's side gave back, empty when the
  read timed out), and each reopening of the port;
* a footer: the outcome, a digest of the run's time line, and the checks.

Versions: 1, and 2 from record format 3 on (its footer's checks quote
alarm values in physical units). The digest of the time line is taken
over its entries as record format 2 wrote them (:func:`timeline_digest`),
so it does not change with the record format, and a recording of either
version replays.

Replay runs the same scenario through the same harness code (plant,
scripted operator, steps, closed loop, expectations) with the board
replaced by the recording: each read returns what the board answered
then, and each frame the host now writes must equal, byte for byte, the
frame it wrote then. No board, no MicroPython and no serial port are
involved. A replay that gets through proves the host side reproduces the
run exactly (every sensor sample sent, every command, every resend);
the first frame that differs is reported with its tick and fields, which
is where to look when a change of the plant or the harness alters a run.
The run's verdict and time line are then compared with the recorded ones.

Recording is taken between the client and the fault-injecting link, so
damaged, lost and delayed frames are replayed as the host saw them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from hil.output.events import period_of, to_format2
from hil.transport import contract, frames
from hil.transport.link import Link

FORMAT = "hil-recording"
VERSION = 2
READS = (1, 2)      # the versions read_recording (and so replay) takes
P = frames.P


class ReplayMismatch(AssertionError):
    """The replayed host did something other than the recorded one."""


def timeline_digest(events: list[dict[str, Any]], period_s: float | None = None) -> str:
    """A digest of a run's time line (its events, in order), each entry as
    record format 2 wrote it (:func:`hil.output.events.to_format2`): the
    same run has the same digest whatever the record format.

    Args:
        events: the time line's entries (each with ``t_s`` and ``tick``).
        period_s: the control period; default: found from the entries.
    """
    period = period_s if period_s is not None else period_of(events)
    canonical = [to_format2(e, period) for e in events]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


class Recorder:
    """Writes a recording as the run goes.

    Args:
        path: the file (``.rec.jsonl.gz``).
        header: what defines the run.
    """

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._f: IO[str] = gzip.open(path, "wt", encoding="utf-8", compresslevel=3)
        self._f.write(json.dumps({"format": FORMAT, "version": VERSION, **header}) + "\n")
        self.tick: Callable[[], int] = lambda: 0
        self.writes = 0
        self.reads = 0

    def entry(self, kind: str, data: bytes = b"") -> None:
        self._f.write(json.dumps([kind, self.tick(), base64.b64encode(data).decode()]) + "\n")

    def note(self, obj: dict[str, Any]) -> None:
        """A line of information (e.g. the HELLO) that replay does not act on."""
        self._f.write(json.dumps({"note": obj}) + "\n")

    def close(self, footer: dict[str, Any]) -> None:
        self._f.write(json.dumps({"footer": footer}, default=str) + "\n")
        self._f.close()


class RecordingLink(Link):
    """Passes calls to another link and records them."""

    def __init__(self, inner: Link, recorder: Recorder) -> None:
        self.inner = inner
        self.rec = recorder
        self.name = inner.name

    def write(self, data: bytes) -> None:
        self.rec.entry("w", data)
        self.rec.writes += 1
        self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        data = self.inner.read(max_bytes, timeout_s)
        self.rec.entry("r", data)
        self.rec.reads += 1
        return data

    def close(self) -> None:
        self.inner.close()


def read_recording(path: Path) -> tuple[dict[str, Any], Iterator[list[Any]], Callable[[], dict[str, Any]]]:
    """Open a recording: its header, an iterator over its link entries, and
    a function that returns the footer once the entries are consumed."""
    f = gzip.open(path, "rt", encoding="utf-8")
    try:
        header = json.loads(f.readline())
    except (OSError, json.JSONDecodeError, EOFError) as e:
        raise ValueError(f"{path}: not a recording ({e})") from None
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a recording (format {header.get('format')!r})")
    if header.get("version") not in READS:
        raise ValueError(f"{path}: recording version {header.get('version')}, this tool reads "
                         f"{', '.join(map(str, READS))}")
    footer: dict[str, Any] = {}

    def entries() -> Iterator[list[Any]]:
        for line in f:
            obj = json.loads(line)
            if isinstance(obj, list):
                yield obj
            elif "footer" in obj:
                footer.update(obj["footer"])
        f.close()

    return header, entries(), lambda: footer


def _describe(data: bytes) -> str:
    if len(data) >= 8 and data[0] == P.SOF:
        return f"type 0x{data[2]:02x} seq {data[3]} length {data[4] | data[5] << 8}"
    return f"{len(data)} bytes"


def _first_difference(a: bytes, b: bytes) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            break
    else:
        i = min(len(a), len(b))
    where = f"byte {i}"
    head = P.HEADER_LEN + P.STEP_HEAD
    if len(a) > head and a[2] == P.T_STEP and head <= i < len(a) - P.TRAILER_LEN:
        k, ch = divmod(i - head, frames.SAMPLE_BYTES)
        where += f" (STEP sample {k}, channel {contract.SENSOR_CHANNELS[ch // 2]})"
    return where


class ReplayLink(Link):
    """A link whose far end is a recording.

    Args:
        entries: the recording's link entries, in order.
    """

    name = "recording"

    def __init__(self, entries: Iterator[list[Any]]) -> None:
        self._it = entries
        self._next: list[Any] | None = None
        self.position = 0
        self.writes = 0

    def _peek(self) -> list[Any] | None:
        if self._next is None:
            self._next = next(self._it, None)
        return self._next

    def _pop(self, want: str, what: str) -> list[Any]:
        e = self._peek()
        if e is None:
            raise ReplayMismatch(f"the recording ended, but the host {what}")
        if e[0] != want:
            kinds = {"w": "sent a frame", "r": "read from the board", "o": "reopened the port"}
            raise ReplayMismatch(f"at entry {self.position} (tick {e[1]}) the recorded host "
                                 f"{kinds.get(e[0], e[0])}, but this one {what}")
        self._next = None
        self.position += 1
        return e

    def write(self, data: bytes) -> None:
        e = self._pop("w", f"sent {_describe(data)}")
        want = base64.b64decode(e[2])
        if data != want:
            raise ReplayMismatch(
                f"frame {self.writes + 1} (entry {self.position - 1}, virtual tick {e[1]}) differs: "
                f"recorded {_describe(want)}, computed {_describe(data)}; first difference at "
                f"{_first_difference(want, data)}")
        self.writes += 1

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        e = self._pop("r", "read from the board")
        data = base64.b64decode(e[2])
        if not data:
            # The recorded read timed out. If the host then gave up waiting
            # (it sent something next), make the time pass as it did.
            nxt = self._peek()
            if nxt is not None and nxt[0] != "r":
                time.sleep(max(0.0, timeout_s))
        if len(data) > max_bytes:
            raise ReplayMismatch(f"the host read at most {max_bytes} bytes; the recording has {len(data)}")
        return data

    def reopen(self) -> None:
        self._pop("o", "reopened the port")

    def close(self) -> None:
        pass

    def finished(self) -> bool:
        return self._peek() is None
