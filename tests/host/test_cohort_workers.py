"""A cohort split over worker processes gives the one-process numbers bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from host import cohort, cohort_pool


def _arrays(res: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """Every array of a ``run_cohort`` result, by a dotted key (patients' fields too)."""
    out: dict[str, np.ndarray] = {}
    for key, val in res.items():
        name = prefix + key
        if isinstance(val, np.ndarray):
            out[name] = val
        elif isinstance(val, dict):
            out.update(_arrays(val, name + "."))
        elif isinstance(val, cohort.CohortPatients):
            out.update({f"{name}.{k}": v for k, v in vars(val).items() if isinstance(v, np.ndarray)})
    return out


def _assert_identical(one: dict[str, Any], many: dict[str, Any]) -> None:
    a, b = _arrays(one), _arrays(many)
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].shape == b[key].shape, key
        assert np.array_equal(a[key], b[key]), key
    scalars = {k for k, v in one.items() if not isinstance(v, (np.ndarray, dict, cohort.CohortPatients))}
    assert {k: one[k] for k in scalars} == {k: many[k] for k in scalars}


def test_two_workers_bit_identical_with_trajectories() -> None:
    # Shuffled starts, so the chunks are cut in start order and the results
    # go back to the caller's order; recorded every 10 min.
    kw: dict[str, Any] = dict(n=240, days=2.0, dt_s=60.0, seed=11, hours_per_day=6.0, record_every_s=600.0)
    one = cohort.run_cohort(workers=1, **kw)
    two = cohort.run_cohort(workers=2, **kw)
    assert one["traj"]["treated"]["IL-6"].shape == (one["t_s"].shape[0], 240)
    assert not np.array_equal(one["treated"]["il6_auc"], one["untreated"]["il6_auc"])
    _assert_identical(one, two)


def test_three_workers_bit_identical_metrics() -> None:
    kw: dict[str, Any] = dict(n=300, days=1.5, dt_s=60.0, seed=4)
    _assert_identical(cohort.run_cohort(workers=1, **kw), cohort.run_cohort(workers=3, **kw))


def test_workers_rejected_when_not_positive_integer() -> None:
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers"):
            cohort.run_cohort(n=5, days=0.1, workers=bad)  # type: ignore[arg-type]


def test_default_workers_by_cohort_work() -> None:
    least = cohort_pool.MIN_PARALLEL_PATIENT_STEPS
    assert cohort_pool.resolve_workers(None, 5000, least - 1) == 1
    assert cohort_pool.resolve_workers(None, 5000, least) == cohort_pool.available_cores()
    assert cohort_pool.resolve_workers(8, 3, 0.0) == 3


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_split_contiguous_covers_each_patient_once(parts: int) -> None:
    cost = np.random.default_rng(parts).uniform(1.0, 5.0, 7)
    slices = cohort_pool.split_contiguous(cost, parts)
    assert len(slices) == parts
    assert [i for sl in slices for i in range(sl.start, sl.stop)] == list(range(7))
    assert all(sl.stop > sl.start for sl in slices)
