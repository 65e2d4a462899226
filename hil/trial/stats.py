"""The trial's statistics, small enough to write out (numpy only, no SciPy):

- :func:`wilson_interval`: the Wilson score interval of a binomial
  proportion (Wilson 1927; Newcombe 1998, method 3), without continuity
  correction. Chosen over Clopper-Pearson because it needs no beta
  quantiles, keeps its nominal coverage better for small n, and behaves
  at 0/n and n/n (the interval is never empty or degenerate).
- :func:`kaplan_meier`: the product-limit estimate of a survival curve with
  right censoring, vectorised; :func:`km_median`: its median.

Conventions (docs/trials.md): at a time where events and censorings tie,
the censored subjects are still at risk (censoring happens just after);
the median is the first event time at which S(t) <= 0.5, None if the curve
never gets there ("not reached").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

# Two-sided 95%: the standard normal quantile at 0.975.
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n``.

    Raises:
        ValueError: n < 1, or successes outside 0..n.
    """
    if isinstance(successes, bool) or isinstance(n, bool) or int(n) != n or int(successes) != successes:
        raise ValueError(f"successes and n must be whole numbers, not {successes!r} and {n!r}")
    if n < 1:
        raise ValueError(f"a proportion needs n >= 1 (n = {n})")
    if not 0 <= successes <= n:
        raise ValueError(f"successes = {successes} is outside 0..{n}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    lo, hi = centre - half, centre + half
    # Exact at the edges (rounding would otherwise leave 1e-17 below 0).
    return (0.0 if successes == 0 else max(0.0, lo), 1.0 if successes == n else min(1.0, hi))


@dataclass(frozen=True)
class Survival:
    """A Kaplan-Meier curve: at each distinct event time ``t``, the number at
    risk just before it, the events at it, and S(t) just after it."""

    t: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    s: np.ndarray
    n: int

    def at(self, when: float) -> float:
        """S(when): the curve is a right-continuous step function, 1 before the first event."""
        i = int(np.searchsorted(self.t, when, side="right"))
        return 1.0 if i == 0 else float(self.s[i - 1])


def kaplan_meier(times: Sequence[float], events: Sequence[bool]) -> Survival:
    """The product-limit estimate S(t) = prod over event times u <= t of (1 - d_u / n_u).

    Args:
        times: each subject's follow-up time (>= 0): to its event, or to its censoring.
        events: True where the time ends in the event, False where it is censored.

    Raises:
        ValueError: lengths differ, or a time is negative or not finite.
    """
    t = np.asarray(times, dtype=float).reshape(-1)
    d = np.asarray(events, dtype=bool).reshape(-1)
    if t.shape != d.shape:
        raise ValueError(f"{t.size} times but {d.size} event flags")
    if t.size and (not np.all(np.isfinite(t)) or np.any(t < 0)):
        raise ValueError("follow-up times must be finite and not negative")
    u, deaths = np.unique(t[d], return_counts=True)
    # At risk at u: every subject whose time is >= u (censored at u included).
    at_risk = t.size - np.searchsorted(np.sort(t), u, side="left")
    s = np.cumprod(1.0 - deaths / at_risk) if u.size else np.empty(0)
    return Survival(t=u, at_risk=at_risk.astype(int), events=deaths.astype(int), s=s, n=int(t.size))


def km_median(curve: Survival) -> float | None:
    """The first event time at which S(t) <= 0.5; None if never (not reached)."""
    hit = np.nonzero(curve.s <= 0.5 + 1e-12)[0]
    return float(curve.t[hit[0]]) if hit.size else None


def intervals_overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two closed intervals [lo, hi] share a point."""
    return max(a[0], b[0]) <= min(a[1], b[1])


__all__ = ["Survival", "Z95", "intervals_overlap", "kaplan_meier", "km_median", "wilson_interval"]
