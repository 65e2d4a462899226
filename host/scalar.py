"""Specialised scalar paths of the plant's slow step (one patient, plain floats).

Why this module exists: the plant (``host.plant``) runs one physiology step
per virtual second, beside the firmware, in the closed loop; there the
generic functions, written once for floats and (N,) arrays alike, spend most
of their time on dispatch (``numeric.exp`` / ``pos`` checking for an array),
on attribute look-ups of parameter records, on hashing frozen dataclasses
(``cartridge.clearances_at`` shares equal sorptions through a dict) and on
building the intermediate records.  The classes here bind the constants once
and do the rest on plain floats; the physiology state is a flat tuple of
floats (no records built each second), and the cartridge's flow term is
remembered for the flow of the step before.

What they must equal: every result is bit for bit the generic function's
(``physiology.step``, ``inflammation.pro_drive`` / ``anti_drive``,
``CartridgeState.perfuse``, ``heparin.step`` / ``line_delivery`` /
``aptt_s``, ``circuit.clot_rate_per_h`` / ``coefficients``): the same
operations, in the same order, on the same values.  Only values that do not
change are computed ahead (a product of two constants, a property such as
``ReynoldsParams.ca_baseline``), and the one-patient case of a branch is
taken once (for example ``anti is pro`` in ``cytokines.step``).
``tests/host/test_scalar.py`` checks the equality on random inputs; change a
generic function and its twin here together.
"""

from __future__ import annotations

import math
from typing import Tuple

from host import circuit, heparin, physiology
from host.cartridge import INF, AdsorberParams, CartridgeState
from host.cytokines import CytokineState, Removal
from host.inflammation import ReynoldsState


# A physiology state as the plant keeps it: a flat tuple of floats, in this order.
FLAT_FIELDS = ("p", "n", "d", "ca", "il6", "tnf", "tnf_p", "il1b", "il1b_p", "il10", "endo", "t_h")
Flat = Tuple[float, ...]


def flatten(s: physiology.PhysiologyState) -> Flat:
    """A physiology state as a flat tuple (``FLAT_FIELDS``)."""
    d, c = s.driver, s.cyto
    return (d.p, d.n, d.d, d.ca, c.il6, c.tnf, c.tnf_p, c.il1b, c.il1b_p, c.il10, s.endo, s.t_h)


def unflatten(v: Flat) -> physiology.PhysiologyState:
    """The physiology state of a flat tuple (``FLAT_FIELDS``)."""
    p, n, d, ca, il6, tnf, tnf_p, il1b, il1b_p, il10, endo, t_h = v
    cyto = CytokineState(il6=il6, tnf=tnf, tnf_p=tnf_p, il1b=il1b, il1b_p=il1b_p, il10=il10)
    driver = ReynoldsState(p=p, n=n, d=d, ca=ca)
    return physiology.PhysiologyState(driver=driver, cyto=cyto, endo=endo, t_h=t_h)


class ScalarPhysiology:
    """:func:`host.physiology.step` for one patient with a fixed step, on a
    flat state (:func:`flatten`).

    Args:
        inputs: The patient's inputs (``physiology.patient_inputs``: floats).
        dt_s: Step (s).
    """

    def __init__(self, inputs: physiology.PatientArrays, dt_s: float) -> None:
        q = physiology.REYNOLDS
        c = physiology.CYTOKINES
        r = inputs.rates
        self.dt_min = dt_s / 60.0
        self.dt_h = dt_s / 3600.0
        self.gain, self.k_pg = inputs.gain, inputs.k_pg
        self.abx_kill, self.abx_start = inputs.abx_kill_per_h, inputs.abx_start_h
        x_dn2 = q.x_dn * q.x_dn
        self.reynolds = (q.c_inf, q.k_nn, q.k_np, q.k_nd, q.p_inf, q.k_pm * q.s_m, q.mu_m, q.k_mp,
                         q.k_pn, q.s_nr, q.mu_nr, q.mu_n, q.k_dn, x_dn2 * x_dn2 * x_dn2, q.mu_d, q.k_cnd,
                         q.s_c, q.k_cn, q.mu_c)
        self.il6 = (r.il6_k, r.il6_v, c.il6_production.basal, c.il6_production.gain)
        self.tnf = (r.tnf_k10, r.tnf_k10 + r.tnf_k12, r.tnf_k12, r.tnf_k21, r.tnf_v,
                    c.tnf_production.basal, c.tnf_production.gain)
        self.il1b = (r.il1b_k10, r.il1b_k10 + r.il1b_k12, r.il1b_k12, r.il1b_k21, r.il1b_v,
                     c.il1b_production.basal, c.il1b_production.gain)
        self.il10 = (r.il10_k, r.il10_v, c.il10_production.basal, c.il10_production.gain)
        self.endo = (physiology.ENDOTOXIN.k_el_per_min, physiology.ENDOTOXIN.gain_eu_ml)
        self.ca_baseline = q.ca_baseline

    def drives(self, v: Flat) -> tuple[float, float]:
        """``(inflammation.pro_drive(driver), inflammation.anti_drive(driver))``
        of a flat state (the first before the patient's cytokine gain).

        Args:
            v: The state (flat).

        Returns:
            The activation signal R and CA above its resting level.
        """
        c_inf, k_nn, k_np, k_nd = self.reynolds[:4]
        p, n, d, ca = v[:4]
        rr = ca / c_inf
        sup = 1.0 / (1.0 + rr * rr)
        return (k_nn * n + k_np * p + k_nd * d) * sup, ca - self.ca_baseline

    def step(self, v: Flat, cl: Removal) -> Flat:
        """One step: ``flatten(physiology.step(unflatten(v), inputs, cl, dt_s))``, the same numbers.

        Args:
            v: Current state (flat).
            cl: Adsorber clearances (mL/min), any tuple in ``Removal`` order.

        Returns:
            The new state (flat).
        """
        (c_inf, k_nn, k_np, k_nd, p_inf, kpm_sm, mu_m, k_mp, k_pn, s_nr, mu_nr, mu_n, k_dn, x_dn6, mu_d,
         k_cnd, s_c, k_cn, mu_c) = self.reynolds
        p, n, d, ca, il6, tnf, tnf_p, il1b, il1b_p, il10, e, t_h = v
        cl_il6, cl_tnf, cl_il1b, cl_il10, cl_endo = cl
        # inflammation.signals
        rr = ca / c_inf
        sup = 1.0 / (1.0 + rr * rr)
        r = (k_nn * n + k_np * p + k_nd * d) * sup
        # cytokines.step with IL-10 driven by the pro drive itself (numeric.pos)
        pro = r * self.gain
        pro = pro if pro > 0.0 else 0.0
        dt = self.dt_min
        k, vol, basal, gain = self.il6
        il6_1 = il6 + dt * (k * (basal + gain * pro - il6) - cl_il6 * il6 / vol)
        k10, k1012, k12, k21, vol, basal, gain = self.tnf
        tnf_1 = tnf + dt * (k10 * (basal + gain * pro) - k1012 * tnf + k21 * tnf_p - cl_tnf * tnf / vol)
        tnf_p1 = tnf_p + dt * (k12 * tnf - k21 * tnf_p)
        k10, k1012, k12, k21, vol, basal, gain = self.il1b
        il1b_1 = il1b + dt * (k10 * (basal + gain * pro) - k1012 * il1b + k21 * il1b_p - cl_il1b * il1b / vol)
        il1b_p1 = il1b_p + dt * (k12 * il1b - k21 * il1b_p)
        k, vol, basal, gain = self.il10
        il10_1 = il10 + dt * (k * (basal + gain * pro - il10) - cl_il10 * il10 / vol)
        # endotoxin.step
        k_el, g_e = self.endo
        e1 = e + dt * (k_el * (g_e * p - e) - cl_endo * e / self.il6[1])
        # inflammation.step with the signals above
        kill = self.abx_kill * (t_h >= self.abx_start)
        f_n = n * sup
        f_n2 = f_n * f_n
        f_n6 = f_n2 * f_n2 * f_n2
        x_c = (n + k_cnd * d) * sup
        dp = (self.k_pg * p * (1.0 - p / p_inf) - kpm_sm * p / (mu_m + k_mp * p) - k_pn * f_n * p - kill * p)
        dn = s_nr * r / (mu_nr + r) - mu_n * n
        dd = k_dn * f_n6 / (x_dn6 + f_n6) - mu_d * d
        dca = s_c + k_cn * x_c / (1.0 + x_c) - mu_c * ca
        dt_h = self.dt_h
        p1 = p + dt_h * dp
        return (p1 if p1 > 0.0 else 0.0, n + dt_h * dn, d + dt_h * dd, ca + dt_h * dca,
                il6_1, tnf_1, tnf_p1, il1b_1, il1b_p1, il10_1, e1, t_h + dt_h)


class ScalarCartridge:
    """:meth:`host.cartridge.CartridgeState.perfuse` for one adsorber type.

    Which sorptions are equal (their clearances are then the same numbers)
    and which are 0 is found once here instead of at every step.

    Args:
        a: Adsorber constants.
    """

    def __init__(self, a: AdsorberParams) -> None:
        self.flow_exponent, self.flow_ref = a.flow_exponent, a.flow_ref_ml_min
        # Distinct non-zero cytokine sorptions: (k_inf, k0 - k_inf, v_half);
        # for each cytokine the index of its sorption, or -1 for none.
        distinct: list = []
        self.which: list[int] = []
        for s in (a.il6, a.tnf, a.il1b, a.il10):
            if s.k0_ml_min == 0.0:
                self.which.append(-1)
                continue
            if s not in distinct:
                distinct.append(s)
            self.which.append(distinct.index(s))
        self.sorptions = [(s.k_inf_ml_min, s.k0_ml_min - s.k_inf_ml_min, s.v_half_l) for s in distinct]
        self._f, self._f_at = 0.0, math.nan  # the last flow term and its plasma flow
        e = a.endotoxin
        self.endo = None if e.k0_ml_min == 0.0 else (e.k_inf_ml_min, e.k0_ml_min - e.k_inf_ml_min, e.v_half_l,
                                                      e.m_half)

    def ntu_factor(self, qp: float) -> float:
        """``cartridge.ntu_factor(qp, a)``."""
        beta = self.flow_exponent
        if beta == 0.0:
            return 1.0 / qp
        if beta == 1.0:
            return self.flow_ref / (qp * qp)
        return (self.flow_ref / qp) ** beta / qp

    def perfuse(self, cart: CartridgeState, qp: float, endotoxin_eu_ml: float, dt_s: float) -> list[float]:
        """``cart.perfuse(qp, endotoxin_eu_ml, dt_s, a)``: the clearances at the
        present load, then the load they add.

        Args:
            cart: The fitted cartridge (updated).
            qp: Plasma flow (mL/min, > 0).
            endotoxin_eu_ml: Plasma endotoxin (EU/mL).
            dt_s: Step (s).

        Returns:
            The clearances (mL/min of plasma) in ``Removal`` order, a plain list.
        """
        if qp != self._f_at:  # the flow term at the flow of the step before, or anew
            self._f, self._f_at = self.ntu_factor(qp), qp
        f = self._f
        processed = cart.processed_l
        exp = math.exp
        found = [qp * (1.0 - exp(-(k_inf + dk / (1.0 + processed / v_half)) * f))
                 for k_inf, dk, v_half in self.sorptions]
        zero = 0.0 * f
        cl = [zero if i < 0 else found[i] for i in self.which]
        if self.endo is None:
            cl.append(zero)
        else:
            k_inf, dk, v_half, m_half = self.endo
            load = 1.0 + processed / v_half
            if m_half != INF:
                load = load + cart.bound_endo / m_half
            cl.append(qp * (1.0 - exp(-(k_inf + dk / load) * f)))
        cart.extraction_il6 = cl[0] / qp
        cart.clearance_il6 = cl[0]
        cart.clearance_endo = cl[4]
        cart.processed_l = processed + qp * dt_s / 60000.0
        if cl[4]:
            cart.bound_endo += cl[4] * endotoxin_eu_ml * dt_s / 60.0
        return cl


class ScalarHeparin:
    """Heparin kinetics, the line and the aPTT of ``host.heparin`` at its
    default constants, on floats.

    Args:
        vol_ml: The patient's distribution volume (mL).
        dt_min: Step (min).
    """

    def __init__(self, vol_ml: float, dt_min: float) -> None:
        p = heparin.HeparinParams()
        self.vol_ml, self.dt_min = vol_ml, dt_min
        self.vmax, self.km, self.k_lin = p.vmax_u_ml_min, p.km_u_ml, p.k_lin_per_min
        self.aptt_zero, self.aptt_slope = p.aptt_zero_s, p.aptt_slope_per_u_ml
        self.line_volume = p.line_volume_ml

    def line_delivery(self, line_u: float, flow_ml_min: float, to_patient: bool) -> float:
        """``heparin.line_delivery(line_u, flow_ml_min, to_patient, dt_min)``."""
        if not to_patient or flow_ml_min <= 0.0 or line_u <= 0.0:
            return 0.0
        return line_u * (1.0 - math.exp(-flow_ml_min * self.dt_min / self.line_volume))

    def step(self, conc: float, infused_u: float) -> float:
        """``heparin.step(conc, infused_u, vol_ml, dt_min)``."""
        c = (conc - self.dt_min * (self.vmax * conc / (self.km + conc) + self.k_lin * conc)
             + infused_u / self.vol_ml)
        return c if c > 0.0 else 0.0

    def aptt_s(self, conc: float) -> float:
        """``heparin.aptt_s(conc)``."""
        return self.aptt_zero * math.exp(self.aptt_slope * conc)


class ScalarClot:
    """``circuit.clot_rate_per_h`` for one device, on floats, and the
    pressure coefficients after the clot has grown.

    Args:
        p: Clot constants.
        h: Hydraulic constants.
    """

    def __init__(self, p: circuit.ClotParams, h: circuit.HydraulicParams) -> None:
        self.blood_drop = 1.0 * h.cartridge_drop_mmhg  # circuit.coefficients' visc * drop with blood
        self.aptt_ref, self.g = p.aptt_ref_s, p.heparin_exponent
        self.stasis_extra, self.stasis_flow = p.stasis_multiplier - 1.0, p.stasis_flow_ml_min
        self.base_rate = p.base_rate_per_h

    def rate_per_h(self, aptt_s: float, q_ml_min: float, factor: float, boost: float) -> float:
        """``circuit.clot_rate_per_h(aptt_s, q_ml_min, factor, boost, p)``."""
        hep = (self.aptt_ref / aptt_s) ** self.g
        still = 1.0 - q_ml_min / self.stasis_flow
        stasis = 1.0 + self.stasis_extra * (still if still > 0.0 else 0.0)
        return self.base_rate * factor * hep * stasis * (1.0 + boost)

    def coefficients(self, c: circuit.Coefficients, clot_fraction: float) -> circuit.Coefficients:
        """``circuit.coefficients(clot_fraction, occlusion, True, h)`` when ``c``
        holds the coefficients of that occlusion with blood: the access and
        return drops are those of ``c``, only the cartridge's is new."""
        free = 1.0 - clot_fraction
        return circuit.Coefficients(c.access, c.ret, self.blood_drop * (1.0 / (free * free)))
