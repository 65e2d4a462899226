"""A cohort's patients split over processes (host/cohort.py).

The patients of a cohort never interact: every operation of the cohort's step
is element by element over the patient axis, the schedule only says when each
patient starts and ends, and the samples are drawn once, before the split.  So
a cohort can be cut into contiguous chunks of patients, each chunk run on its
own, and the per-patient results joined again, with the same numbers bit for
bit as one run over all of them.

The chunks run in a ``concurrent.futures.ProcessPoolExecutor`` of the standard
library, started with the ``forkserver`` method where the platform has it
(``spawn`` otherwise): no copy of the caller's threads or locks, as a plain
fork would make.  The caller's process runs the first chunk itself while the
workers run the others, so ``workers`` chunks need ``workers - 1`` new
processes.  As with any process pool, a script that runs a large cohort
needs the ``if __name__ == "__main__":`` guard (the workers import the main
module; ``python -m`` entry points are not re-run).  Threads were measured as well and were slower (numpy holds the GIL
for most of each small array operation); see docs/models.md, section 10.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Optional, Sequence

import numpy as np

# Below this much work (patients x steps each patient is stepped, from onset
# to the end of his window) one process is faster than a pool: starting a
# worker (a new process importing numpy and host/) costs 0.7-1.2 s, about as
# much as half of this work.  It is 2,000 patients of a 7-day cohort (a mean
# ~11,600 steps of 1 min each); measured in docs/models.md, section 10.
MIN_PARALLEL_PATIENT_STEPS = 23_000_000


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_workers(workers: Optional[int], n: int, patient_steps: float) -> int:
    """How many chunks to run a cohort of ``n`` patients in.

    Args:
        workers: Requested number of processes; ``None`` picks one per core
            from ``MIN_PARALLEL_PATIENT_STEPS`` of work, 1 below.
        n: Number of patients.
        patient_steps: The cohort's work, the sum over patients of the steps
            each is stepped.

    Returns:
        Between 1 and ``max(1, n)``.

    Raises:
        ValueError: ``workers`` is not a positive integer.
    """
    if workers is None:
        workers = available_cores() if patient_steps >= MIN_PARALLEL_PATIENT_STEPS else 1
    elif isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"run_cohort: workers must be a positive integer or None, got {workers!r}")
    return int(min(int(workers), max(1, n)))


def split_contiguous(cost: np.ndarray, parts: int) -> list[slice]:
    """Cut ``range(len(cost))`` into ``parts`` contiguous slices of about equal total cost.

    Args:
        cost: (n,) non-negative cost per item.
        parts: Number of slices (at most n, at least 1).

    Returns:
        Slices in order, none empty when ``parts <= n``, covering every item once.
    """
    n = int(cost.shape[0])
    cum = np.cumsum(cost, dtype=np.float64)
    total = float(cum[-1]) if n else 0.0
    cuts = np.searchsorted(cum, total * np.arange(1, parts) / parts, side="left") + 1
    # At least one item per slice, cuts increasing.
    cuts = np.clip(cuts, np.arange(1, parts), n - parts + np.arange(1, parts))
    cuts = np.maximum.accumulate(cuts) if cuts.size else cuts
    bounds = [0, *(int(c) for c in cuts), n]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # The server imports numpy and the plant once; each worker is a fork of
    # it.  Not host.cohort itself: ``python -m host.cohort`` runs it as the
    # workers' main module, which must not be imported before.
    ctx.set_forkserver_preload(["__main__", "host.physiology", "host.cohort_device", "host.cohort_summary"])
    return ctx


def map_chunks(fn: Callable[..., Any], chunks: Sequence[Any], *args: Any) -> list[Any]:
    """``[fn(chunk, *args) for chunk in chunks]``, the chunks after the first in worker processes.

    Args:
        fn: A module-level function (it is pickled by name).
        chunks: Its first argument, one per call.
        *args: Its other arguments, the same for every call (pickled).

    Returns:
        The results in the order of ``chunks``.
    """
    # A daemonic process (a multiprocessing or Dask worker) may not start
    # children: there the chunks run one after the other, with the same numbers.
    if len(chunks) <= 1 or multiprocessing.current_process().daemon:
        return [fn(c, *args) for c in chunks]
    with ProcessPoolExecutor(max_workers=len(chunks) - 1, mp_context=_context()) as pool:
        futures = [pool.submit(fn, c, *args) for c in chunks[1:]]
        first = fn(chunks[0], *args)
        return [first, *(f.result() for f in futures)]


def join_chunks(parts: Sequence[Any]) -> Any:
    """Join per-chunk results along the patient axis (the last axis of each array).

    Args:
        parts: Results of the same structure (nested dicts and lists of
            arrays and scalars); arrays are concatenated, anything else is
            taken from the first part.

    Returns:
        The joined structure.
    """
    first = parts[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(parts, axis=-1)
    if isinstance(first, dict):
        return {k: join_chunks([p[k] for p in parts]) for k in first}
    return first
