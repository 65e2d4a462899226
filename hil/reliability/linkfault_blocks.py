"""Link-fault campaign: blocks of runs, each on one board (a new board after
a run that did not recover); a block is the unit run in a worker process."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hil.transport.client import BoardError
from hil.transport.link import LinkError
from hil.loop.closed import LoopError
from hil.reliability.linkfault_rig import PERIOD_S, Rig, RunResult


def run_block(seed: int, block: int, runs: list[int], timeout_s: float,
              log_dir: Path | None = None, verbose: bool = False) -> dict[str, Any]:
    """Carry out ``runs`` (run indices) on one board; a new board after a
    run that did not recover."""
    t0 = time.perf_counter()
    results: list[RunResult] = []
    armed: Counter[str] = Counter()
    injected: Counter[str] = Counter()
    rig: Rig | None = None
    boards = 0
    virtual_s = 0.0
    errors: list[str] = []

    def retire(rig: Rig) -> float:
        injected.update(_injected(rig.link.injected))
        errors.extend(f"block {block}, set-up: {g}" for g in rig.gaps)
        rig.close()
        return rig.loop.tick * PERIOD_S

    log = log_dir / f"block{block}.firmware.log" if log_dir is not None else None
    if log is not None:
        log.unlink(missing_ok=True)
    try:
        for i in runs:
            if rig is None:
                boards += 1
                try:
                    rig = Rig(seed * 1000 + block * 10 + boards, timeout_s, log)
                except (BoardError, LinkError, LoopError) as e:
                    errors.append(f"block {block}: could not set a board up: {e}")
                    break
            r = rig.run(i, block, seed, timeout_s)
            results.append(r)
            armed[f"{r.kind}/{r.direction}"] += 1
            if r.kind == "disconnect":
                injected["disconnect/both"] += 1
            if verbose or not r.recovered:
                print(f"  run {i} (block {block}) t={r.t_s:.1f} s {r.state}: {r.fault}, probe {r.probe}: "
                      f"{r.frames_damaged} frames damaged, {r.resends} resends; "
                      f"{'recovered' if r.recovered else 'NOT RECOVERED ' + json.dumps(asdict(r))}",
                      flush=True)
            if not r.recovered:
                virtual_s += retire(rig)
                rig = None
    finally:
        if rig is not None:
            virtual_s += retire(rig)
    return {"results": [asdict(r) | {"unsafe": r.unsafe, "recovered": r.recovered} for r in results],
            "armed": dict(armed), "injected": dict(injected), "boards": boards, "errors": errors,
            "virtual_s": virtual_s, "wall_s": time.perf_counter() - t0}


def _injected(entries: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{e['kind']}/{e['direction']}" for e in entries)


def _block_job(args: tuple[Any, ...]) -> dict[str, Any]:
    return run_block(*args)
