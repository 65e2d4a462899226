"""Replay a recording offline (``python -m hil replay``).

A recording (:mod:`hil.output.recording`) holds the scenario's text, the options
that shape the frames and every call the host's protocol client made on its
link. :func:`replay` runs the same scenario through the same harness code
(plant, scripted operator, steps, closed loop, expectations) with the board
replaced by the recording (:class:`~hil.board.providers.ReplayBoards`): each read
returns what the board answered then, and each frame the host now writes
must equal, byte for byte, the frame it wrote then. The first frame that
differs is reported with its tick and fields; the run's verdict and time
line are then compared with the recorded ones.

The recording pieces live in :mod:`hil.output.recording` (and are importable from
here as before); this module only drives a replay, through
:func:`hil.run.runner.run_scenario`, which never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hil.output.recording import (FORMAT, VERSION, Recorder, RecordingLink, ReplayLink, ReplayMismatch,
                           read_recording, timeline_digest)
from hil.run.runner import RunOptions, run_scenario
from hil.scenario import loads

__all__ = ["FORMAT", "VERSION", "Recorder", "RecordingLink", "ReplayLink", "ReplayMismatch",
           "read_recording", "replay", "timeline_digest"]


def replay(path: Path, progress: Callable[[float, float], None] | None = None) -> dict[str, Any]:
    """Replay a recording; raise :class:`ReplayMismatch` at the first difference.

    Returns:
        A summary: scenario, frames checked, recorded and replayed outcome.
    """
    header, entries, footer = read_recording(Path(path))
    sc_info = header["scenario"]
    sc = loads(sc_info["text"], sc_info["path"])
    opts = RunOptions(**header["options"])
    opts.progress = progress
    link = ReplayLink(entries)
    t0 = time.perf_counter()
    result = run_scenario(sc, opts, replay_link=link)
    if not link.finished():
        e = link._peek()
        raise ReplayMismatch(f"the replayed run ended at entry {link.position}, the recording goes on "
                             f"(next: {e[0] if e else '?'} at tick {e[1] if e else '?'})")
    rec = footer()
    digest = timeline_digest(result.timeline.events)
    if rec.get("timeline_digest") != digest:
        raise ReplayMismatch("every frame matched, but the time line differs from the recorded one")
    if rec.get("outcome") != result.outcome:
        raise ReplayMismatch(f"recorded outcome {rec.get('outcome')}, replayed {result.outcome}")
    return {"scenario": sc.name, "frames_checked": link.writes, "entries": link.position,
            "outcome": result.outcome, "recorded_outcome": rec.get("outcome"),
            "virtual_s": result.virtual_s, "wall_s": round(time.perf_counter() - t0, 3),
            "timeline_digest": digest}
