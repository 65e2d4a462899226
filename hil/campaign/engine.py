"""Runs on Dask distributed: a :class:`distributed.LocalCluster` by default
(one single-threaded worker process per core, each run on its own virtual
board, nothing shared between workers), or an existing cluster given by its
scheduler's address (``tcp://HOST:PORT``).

Dask is used rather than a process pool because the same code then runs on
one machine or on many: the scheduler hands each run to whichever worker is
free, a worker that dies has its runs given to another, and results stream
back as they finish. A task here is a plain function of its arguments
(a run spec and what it names), so any worker can take any run.

Workers of an existing cluster must run this checkout (the same ``hil``
package, firmware and output folder at the same path): the runs read the
prepared firmware configurations and write their recordings there.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

OnResult = Callable[[int, Any], None]
OnError = Callable[[int, BaseException], None]


def default_workers() -> int:
    """One worker per core."""
    return os.cpu_count() or 1


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                warm: Callable[[], Any] | None = None) -> Iterator[Any]:
    """A Dask client: to ``scheduler`` when given, else to a LocalCluster of
    ``workers`` single-threaded worker processes (default one per core).
    ``warm``, if given, runs once on every worker of that LocalCluster
    before the client is handed out, as part of the cluster's start (the
    imports a first run would otherwise pay for)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    n = workers or default_workers()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        if warm is not None:
            client.run(warm)
        yield client


def cluster_workers(client: Any) -> int:
    """How many workers the client's cluster has now."""
    return len(client.scheduler_info(n_workers=-1)["workers"]) if hasattr(client, "scheduler_info") else 0


def dispatch(client: Any, fn: Callable[..., Any], calls: list[tuple[Any, ...]], keys: list[str],
             on_result: OnResult, on_error: OnError | None = None) -> None:
    """Submit ``fn(*call)`` for each call (Dask key ``keys[i]``), and hand
    each result to ``on_result(i, result)`` as it arrives. A call that
    raises goes to ``on_error(i, exc)``, or, without one, cancels the rest
    and raises here."""
    from distributed import as_completed

    futures = [client.submit(fn, *call, key=key, pure=False) for call, key in zip(calls, keys)]
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for fut in as_completed(futures):
            i = index[fut.key]
            if fut.status == "error":
                exc = fut.exception()
                if on_error is None:
                    raise exc
                on_error(i, exc)
            else:
                on_result(i, fut.result())
            fut.release()
    finally:
        client.cancel([f for f in futures if not f.done()])


class ProgressLine:
    """A progress bar of runs with the rate and an estimate of the time left,
    on one terminal line (a line per 5% when the stream is not a terminal)."""

    def __init__(self, total: int, label: str = "campaign", stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.perf_counter()
        self.done = self.failed = 0
        self._last_step = -1

    def __call__(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        step = self.done * 20 // max(1, self.total)
        if not self.tty and step == self._last_step and self.done != self.total:
            return
        self._last_step = step
        self.stream.write(("\r" if self.tty else "") + self.line() + ("" if self.tty else "\n"))
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()

    def line(self) -> str:
        wall = time.perf_counter() - self.t0
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * round(frac * self.width)
        rate = self.done / wall * 60.0 if wall > 0 else 0.0
        left = (self.total - self.done) * wall / self.done if self.done else float("nan")
        eta = "-" if left != left else f"{int(left // 60)}m{int(left % 60):02d}s"
        return (f"{self.label} [{bar:{self.width}}] {self.done}/{self.total} runs, {self.failed} failed, "
                f"{rate:.1f} runs/min, about {eta} left")


__all__ = ["ProgressLine", "cluster_workers", "dask_client", "default_workers", "dispatch"]
