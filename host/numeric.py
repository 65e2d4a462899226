"""Arithmetic helpers that accept either a Python float or a numpy array.

The physiology is written once and runs both on plain floats (one patient, fast
in CPython) and on arrays of shape (N,) (a cohort).  Only ``+ - * /`` and the
helpers below are used, so both paths give bit-identical numbers.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Num = Union[float, FloatArray]


def _float_or_array(name: str, on_float: Callable[[float], float],
                    on_array: Callable[[FloatArray], FloatArray], doc: str) -> Callable[[Num], Num]:
    """One function of a float or an array: ``on_float`` for a float, ``on_array`` for an array.

    Args:
        name: Name of the function made (for its ``__name__`` and ``repr``).
        on_float: The ``math`` version (fast on a Python float).
        on_array: The elementwise ``numpy`` version.
        doc: Docstring of the function made.

    Returns:
        The function of one float or array.
    """
    def apply(x: Num) -> Num:
        if isinstance(x, np.ndarray):
            return on_array(x)
        return on_float(x)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = doc
    return apply


exp = _float_or_array("exp", math.exp, np.exp, """Exponential of a float or an array.

    Args:
        x: Float or array.

    Returns:
        ``math.exp`` of a float, ``numpy.exp`` of an array.
    """)

log = _float_or_array("log", math.log, np.log, """Natural logarithm of a float or an array.

    Args:
        x: Positive float or array.

    Returns:
        ``math.log`` of a float, ``numpy.log`` of an array.
    """)


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
