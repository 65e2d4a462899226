"""Arithmetic helpers that accept either a Python float or a numpy array.

The physiology is written once and runs both on plain floats (one patient, fast
in CPython) and on arrays of shape (N,) (a cohort).  Only ``+ - * /`` and the
helpers below are used, so both paths give bit-identical numbers.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Num = Union[float, FloatArray]


def exp(x: Num) -> Num:
    """Exponential of a float or an array.

    Args:
        x: Float or array.

    Returns:
        ``math.exp`` of a float, ``numpy.exp`` of an array.
    """
    if isinstance(x, np.ndarray):
        return np.exp(x)
    return math.exp(x)


def log(x: Num) -> Num:
    """Natural logarithm of a float or an array.

    Args:
        x: Positive float or array.

    Returns:
        ``math.log`` of a float, ``numpy.log`` of an array.
    """
    if isinstance(x, np.ndarray):
        return np.log(x)
    return math.log(x)


def pos(x: Num) -> Num:
    """Clip at zero from below.

    Args:
        x: Float or array.

    Returns:
        ``max(x, 0)`` elementwise.
    """
    if isinstance(x, np.ndarray):
        return np.maximum(x, 0.0)
    return x if x > 0.0 else 0.0
