"""One calibration row: a model output against a published figure.

``kind`` says how the row relates to the model's parameters:

* ``identity``: the parameter is the published value, read back (a check of
  the code, not of the model);
* ``fit``: a parameter was fitted to this figure (``fitted_to`` names the
  parameter and the fit); passing says the fit worked;
* ``prediction``: no parameter was fitted to this figure; it is held out, and
  only these rows say whether the model is right.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("identity", "fit", "prediction")


@dataclass
class Row:
    """One calibration row."""

    quantity: str
    source: str
    published: Any
    simulated: float
    tolerance: str
    unit: str
    low: float
    high: float
    kind: str
    fitted_to: str = ""
    passed: bool = False

    def as_json(self) -> dict[str, Any]:
        """The row as written to calibration.json."""
        d = asdict(self)
        d["pass"] = d.pop("passed")
        d["simulated"] = round(float(self.simulated), 4)
        if self.kind != "fit":
            d.pop("fitted_to")
        return d


def row(quantity: str, source: str, published: Any, simulated: float, unit: str,
        low: float, high: float, tolerance: str, kind: str, fitted_to: str = "") -> Row:
    """A row, with its pass flag.

    Args:
        quantity, source, published, simulated, unit: What is compared.
        low, high: The accepted band (the published uncertainty where there is one).
        tolerance: How the band was chosen, in words.
        kind: ``identity``, ``fit`` or ``prediction``.
        fitted_to: For a fit: the parameter(s) fitted to this figure.

    Returns:
        The row.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if kind == "fit" and not fitted_to:
        raise ValueError(f"fit row {quantity!r} must say what was fitted to it")
    sim = float(simulated)
    return Row(quantity, source, published, sim, tolerance, unit, low, high, kind, fitted_to,
               bool(math.isfinite(sim) and low <= sim <= high))


def rel(published: float, frac: float) -> tuple[float, float, str]:
    """Band of +/- ``frac`` around a value."""
    return published * (1.0 - frac), published * (1.0 + frac), f"+/-{100 * frac:g}%"


def headline(rows: list[Row] | list[dict[str, Any]]) -> str:
    """``predictions: X of Y pass`` (fits and identities counted apart)."""
    def get(r: Any, k: str) -> Any:
        return r[k] if isinstance(r, dict) else getattr(r, "passed" if k == "pass" else k)
    pred = [r for r in rows if get(r, "kind") == "prediction"]
    fits = [r for r in rows if get(r, "kind") == "fit"]
    ids = [r for r in rows if get(r, "kind") == "identity"]
    n_ok = sum(bool(get(r, "pass")) for r in pred)
    return (f"predictions: {n_ok} of {len(pred)} pass "
            f"(fits: {sum(bool(get(r, 'pass')) for r in fits)} of {len(fits)}; "
            f"identities: {sum(bool(get(r, 'pass')) for r in ids)} of {len(ids)})")
