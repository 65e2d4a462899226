"""The plant's next batch, computed while the board runs the current one.

The closed loop is a relay: the plant computes a batch of samples, the
board consumes them, the plant waits for the board's reply to learn its
outputs, and so on. Most replies change nothing (the outputs are the same
and the board took every sample), so the plant can compute the *next*
batch on the same assumption while the board is still busy with this one:
the board runs in its own process (or on its own chip), so the two overlap
on two cores.

A :class:`Batch` computed ahead is used only if, when the loop comes to
the batch, the plant is at the tick the batch starts from, the actuators
are the ones it assumed, and the batch length is the one the loop wants;
otherwise it is dropped and the batch is computed again. So the samples
the board receives are the ones lockstep would have sent, bit for bit.

The plant is left at the current tick while the board's reply is being
handled (observers see it where the run is): the batch ahead is computed,
its end state captured, and the plant rewound. Observers must not change
the plant while the loop is inside ``run_until`` (they plan actions, which
the run carries out between calls, through the horizon); a batch ahead
never crosses a ``run_until`` call.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any


@dataclass
class Batch:
    """Samples of ``n`` periods from plant tick ``tick0`` with ``act``, and
    the plant's state after them."""

    tick0: int
    n: int
    act: object
    out: array
    end_state: Any
    trace_rows: list
    start: Any = None    # the plant's snapshot at tick0, before the batch

    def fits(self, tick: int, n: int, act: object) -> bool:
        """Whether this batch is the one the loop would compute now."""
        return self.tick0 == tick and self.n == n and self.act == act

    def apply(self, plant: Any) -> array:
        """Move the plant to the end of the batch; its samples."""
        plant.restore(self.end_state)
        rows = getattr(plant, "trace_rows", None)
        if rows is not None:
            rows.extend(self.trace_rows)
        return self.out


def ahead(plant: Any, act: object, n: int) -> Batch:
    """Compute the next ``n`` periods with ``act`` and rewind the plant to
    where it was; the batch keeps what the periods produced."""
    start = plant.snapshot()
    tick0 = plant.tick
    rows = getattr(plant, "trace_rows", None)
    n_rows = len(rows) if rows is not None else 0
    out = array("h")
    plant.advance(act, n, out)
    end_state = plant.snapshot()
    new_rows = rows[n_rows:] if rows is not None else []
    plant.restore(start)
    return Batch(tick0, n, act, out, end_state, new_rows, start)
