"""The treated arm's device in a virtual cohort (host/cohort.py), on arrays of
shape (n,): who is on a session, the cartridges' load, the clearances."""

from __future__ import annotations

from typing import Optional

import numpy as np

from host import cartridge, cytokines

# Row order of the per-arm (2, n) arrays of a cohort.
ARMS = ("treated", "untreated")
TREATED, UNTREATED = 0, 1


class CohortDevice:
    """The treated arm's adsorber on (n,) arrays: sessions, cartridge load, removal.

    The blood flow is fixed, so the flow term of the clearances
    (``cartridge.ntu_factor``, a fractional power for CytoSorb) is evaluated
    once (``cartridge.clearances_at``: the same operations as
    ``cartridge.clearances``), and a patient off his session is one whose
    plasma flow is 0: his clearances and what his cartridge takes up come out
    as 0.  The clearances are evaluated only over the span from the first to
    the last patient on a session; with the patients in order of start, as
    host/cohort.py runs them, those not started yet and those done lie outside
    it.

    Args:
        adsorber: Device constants.
        qp: (n,) plasma flow during a session (mL/min).
        dt_s: Step (s).
    """

    def __init__(self, adsorber: cartridge.AdsorberParams, qp: np.ndarray, dt_s: float) -> None:
        n = qp.shape[0]
        self.adsorber = adsorber
        self.qp = qp
        self.dt_s = dt_s
        self.ntu = cartridge.ntu_factor(qp, adsorber)
        self.on = np.zeros(n, dtype=bool)
        self.qp_on = np.zeros(n)  # qp during a session, 0 off it
        self._span: Optional[slice] = slice(0, 0)  # see _on_span
        self.processed_l = np.zeros(n)
        self.bound_endo = np.zeros(n)
        # Clearances (mL/min) per arm: row UNTREATED stays zero, and so does
        # row TREATED off session.
        self._cl = [np.zeros((2, n)) for _ in cartridge.MOLECULES]

    def switch(self, idx: np.ndarray, turn_on: bool) -> None:
        """Start (with a fresh cartridge) or end the session of patients ``idx``."""
        self.on[idx] = turn_on
        self.qp_on[idx] = self.qp[idx] if turn_on else 0.0
        if turn_on:
            self.processed_l[idx] = 0.0
            self.bound_endo[idx] = 0.0
        else:
            for row in self._cl:
                row[TREATED, idx] = 0.0
        self._span = None  # found again before the next removal

    def _on_span(self) -> slice:
        """From the first to the last patient on a session (empty if none is)."""
        if self._span is None:
            n = self.on.shape[0]
            first = int(self.on.argmax())
            self._span = slice(first, n - int(self.on[::-1].argmax())) if self.on[first] else slice(0, 0)
        return self._span

    def removal(self, endo: np.ndarray, first: int = 0) -> cytokines.Removal:
        """Clearances for the next step, then load the cartridges as the plant does.

        Args:
            endo: (2, n - first) plasma endotoxin now (EU/mL) of patients
                ``first`` on.
            first: Patients before it are done (their sessions are over).

        Returns:
            Per-arm clearances of patients ``first`` on; ``NO_REMOVAL`` while
            no patient is on a session.
        """
        sl = self._on_span()
        if sl.stop <= sl.start:
            return cytokines.NO_REMOVAL
        cls = cartridge.clearances_at(self.processed_l[sl], self.bound_endo[sl], self.qp_on[sl], self.ntu[sl],
                                      self.adsorber)
        for row, cl in zip(self._cl, cls):
            row[TREATED, sl] = cl
        self.processed_l[sl] += self.qp_on[sl] * (self.dt_s / 60000.0)
        self.bound_endo[sl] += self._cl[4][TREATED, sl] * endo[TREATED, sl.start - first:sl.stop - first] * (
            self.dt_s / 60.0)
        return cytokines.Removal(*(row[:, first:] for row in self._cl))
