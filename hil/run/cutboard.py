"""A virtual board whose power can fail inside a storage write, for the
scenario step ``power_cut_in_write`` (docs/scenarios.md).

The board is started with a ``cut_file`` (``firmware/cutstorage.py``, as the
``make powercut`` campaign starts it) and its bottom link is the campaign's
:class:`~hil.board.virtual.CutBench`: the step arms the cut for the next
STEP frame, the firmware dies inside that frame's first storage write, and
the bench powers it on again and raises
:class:`~hil.board.virtual.PowerLost`, which the closed loop handles as any
restart in the middle of a frame (the plant rewound to the tick the board
died at, then through the time without power).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hil.board.providers import Board, VirtualBoards, VirtualPortBoard
from hil.board.virtual import CutBench, VirtualBoard
from hil.transport.link import Link


class CutPowerBoard(VirtualPortBoard):
    """A :class:`~hil.board.providers.VirtualPortBoard` whose link is a
    :class:`~hil.board.virtual.CutBench`; :meth:`arm_cut` arms it."""

    def __init__(self, vb: VirtualBoard, tmp: Path) -> None:
        super().__init__(vb)
        self.tmp = tmp
        self.bench: CutBench | None = None

    def connect(self) -> Link:
        self.bench = CutBench(self.virtual)
        return self.bench

    def reconnect(self, link: Link) -> Link:
        link.close()
        return self.connect()

    def arm_cut(self, written: int, off_s: float) -> None:
        """The power fails after ``written`` bytes of the first storage write
        of the next STEP frame, for ``off_s`` virtual seconds."""
        if self.bench is None:
            raise RuntimeError("arm_cut before the board's link is open")
        self.bench.arm_step(written, off_s)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class CutPowerBoards(VirtualBoards):
    """Provider of a fresh :class:`CutPowerBoard` per run; its arguments are
    :class:`~hil.board.providers.VirtualBoards`' (not an emulated Pico)."""

    def start(self) -> Board:
        from hil.board.pico_emu import is_emulated

        if is_emulated(self.config):
            # The emulated Pico's flash is the chip's: no cut to arm there
            # (the run skips the scenario, it has no arm_cut).
            return super().start()
        tmp = Path(tempfile.mkdtemp(prefix="hil-cut-"))
        vb = VirtualBoard(self.config, self.heapsize, log=self.log, heap_stats=self.heap_stats,
                          cut_file=tmp / "cut")
        vb.start()
        return CutPowerBoard(vb, tmp)


__all__ = ["CutPowerBoard", "CutPowerBoards"]
