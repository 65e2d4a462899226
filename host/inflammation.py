"""Inflammation driver: the four-state acute inflammatory response model.

Reynolds A. et al., "A reduced mathematical model of the acute inflammatory
response I", J Theor Biol 2006.  States: pathogen ``P``, activated phagocytes
``N`` (N*), tissue damage ``D`` and anti-inflammatory mediator ``CA``.  Time in
hours; the states are dimensionless.  Parameter values are those used by the
Pulse physiology engine (domain.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from host.numeric import Num, pos


@dataclass(frozen=True)
class ReynoldsParams:
    """Rate constants of the Reynolds 2006 model (per hour unless noted)."""

    k_pm: float = 0.6
    k_mp: float = 0.01
    s_m: float = 0.005
    mu_m: float = 0.002
    p_inf: float = 20.0
    k_pn: float = 1.8
    k_np: float = 0.1
    k_nn: float = 0.01
    s_nr: float = 0.08
    mu_nr: float = 0.12
    mu_n: float = 0.05
    k_nd: float = 0.02
    k_dn: float = 0.35
    x_dn: float = 0.06
    mu_d: float = 0.02
    c_inf: float = 0.28
    s_c: float = 0.0125
    k_cn: float = 0.04
    k_cnd: float = 48.0
    mu_c: float = 0.1

    @property
    def ca_baseline(self) -> float:
        """Resting level of CA, ``s_c / mu_c`` (0.125)."""
        return self.s_c / self.mu_c


@dataclass(frozen=True)
class ReynoldsState:
    """State of the driver; each field is a float or an (N,) array."""

    p: Num
    n: Num
    d: Num
    ca: Num


def initial_state(p0: Num, params: ReynoldsParams = ReynoldsParams()) -> ReynoldsState:
    """State at infection onset: pathogen load ``p0``, no activation, resting CA.

    Args:
        p0: Initial pathogen load (domain.md: 1.0-1.5).
        params: Model constants.

    Returns:
        The onset state.
    """
    zero = p0 * 0.0
    return ReynoldsState(p=p0, n=zero, d=zero, ca=zero + params.ca_baseline)


def suppression(s: ReynoldsState, params: ReynoldsParams) -> Num:
    """Anti-inflammatory damping factor ``1 / (1 + (CA/C_inf)^2)``.

    Args:
        s: Current state.
        params: Model constants.

    Returns:
        Factor in (0, 1] that multiplies every pro-inflammatory signal.
    """
    r = s.ca / params.c_inf
    return 1.0 / (1.0 + r * r)


# What a state signals to the phagocytes: the anti-inflammatory damping and
# the damped activation signal (see :func:`signals`).  A plain tuple: it is
# made at every step of the plant.
Signals = Tuple[Num, Num]


def signals(s: ReynoldsState, params: ReynoldsParams = ReynoldsParams()) -> Signals:
    """The damping factor and the activation signal ``R = f(k_nn N* + k_np P + k_nd D)``.

    Both the cytokine drive (:func:`pro_drive`) and the driver's own step use
    them; a caller that needs both computes them once and passes them to
    :func:`step` (the same numbers either way).

    Args:
        s: Current state.
        params: Model constants.

    Returns:
        ``(sup, r)``.
    """
    q = params
    sup = suppression(s, q)
    return sup, (q.k_nn * s.n + q.k_np * s.p + q.k_nd * s.d) * sup


def pro_drive(s: ReynoldsState, params: ReynoldsParams = ReynoldsParams()) -> Num:
    """Cytokine drive: the phagocytes' activation signal
    ``R = f(k_nn N* + k_np P + k_nd D)``, damped by CA.

    Cytokines are released by phagocytes while they are stimulated by
    pathogen (PAMPs) and damage (DAMPs), so the drive is Reynolds' activation
    input R rather than the activated-phagocyte level N*, which decays with a
    14-h half-life (mu_n 0.05/h) and would keep IL-6 up for days after the
    pathogen is killed (assumption of form; with it the course under
    antimicrobials falls within a day as PMC6219151 reports).

    Args:
        s: Current state.
        params: Model constants.

    Returns:
        Dimensionless drive (about 0.30 twelve hours into severe sepsis).
    """
    return signals(s, params)[1]


def anti_drive(s: ReynoldsState, params: ReynoldsParams = ReynoldsParams()) -> Num:
    """Anti-inflammatory (IL-10) drive: CA above its resting level.

    Args:
        s: Current state.
        params: Model constants.

    Returns:
        ``CA - s_c/mu_c``, the part of CA raised by the infection (>= 0 in practice).
    """
    return s.ca - params.ca_baseline


def step(s: ReynoldsState, k_pg: Num, dt_h: float,
         params: ReynoldsParams = ReynoldsParams(), kill_per_h: Num = 0.0,
         sig: Optional[Signals] = None) -> ReynoldsState:
    """Advance the driver by one explicit Euler step.

    Args:
        s: Current state.
        k_pg: Pathogen growth rate per hour (0.25 mild ... 0.65 severe).
        dt_h: Step in hours (the plant uses 1 s = 1/3600 h).
        params: Model constants.
        kill_per_h: Pathogen kill rate of antimicrobial therapy (per hour;
            0 before it starts): standard care, ``- kill * P`` in dP/dt.
        sig: :func:`signals` of ``s`` if the caller has them already.

    Returns:
        The new state.
    """
    q = params
    sup, r = sig if sig is not None else signals(s, q)
    f_n = s.n * sup
    f_n2 = f_n * f_n
    f_n6 = f_n2 * f_n2 * f_n2
    x_dn2 = q.x_dn * q.x_dn
    x_dn6 = x_dn2 * x_dn2 * x_dn2
    x_c = (s.n + q.k_cnd * s.d) * sup
    dp = (k_pg * s.p * (1.0 - s.p / q.p_inf)
          - q.k_pm * q.s_m * s.p / (q.mu_m + q.k_mp * s.p)
          - q.k_pn * f_n * s.p - kill_per_h * s.p)
    dn = q.s_nr * r / (q.mu_nr + r) - q.mu_n * s.n
    dd = q.k_dn * f_n6 / (x_dn6 + f_n6) - q.mu_d * s.d
    dca = q.s_c + q.k_cn * x_c / (1.0 + x_c) - q.mu_c * s.ca
    return ReynoldsState(p=pos(s.p + dt_h * dp), n=s.n + dt_h * dn, d=s.d + dt_h * dd, ca=s.ca + dt_h * dca)
