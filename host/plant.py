"""The composed plant: patient, heparin, circuit, cartridge, sensors, laboratory.

Multi-rate scheme (period ``period_s``, default 0.1 s):

* every tick (plain float arithmetic): pump-flow response, pressures, sensor
  noise and quantisation, heparin-infusion bookkeeping, air flag;
* every ``PHYSIO_DT_S`` (1 s), on ticks that are multiples of the step count:
  heparin kinetics, aPTT, adsorber loading and removal, cytokines, inflammation
  driver, clot growth.  The slow step uses the mean flow and the heparin units
  infused over the ticks since the previous slow step.

Determinism: all randomness comes from ``host.noise`` addressed by (seed,
stream, index), never from a running generator, and the slow step is anchored
to absolute tick numbers.  A run is therefore a pure function of (parameters,
seed, actuator sequence) however ``advance`` is chunked, and ``snapshot`` /
``restore`` reproduce it bit for bit.
"""

from __future__ import annotations

import copy
from array import array
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from host import cartridge, circuit, cytokines, heparin, lab, noise, physiology, scalar
from host.faults import Faults
from host.patient import DeviceParams, PatientParams
from host.sensors import SENSOR_CHANNELS, SensorFault
from host.ticks import BATCH_MIN_TICKS, LoopConstants, Ticks

__all__ = ["Plant", "Actuators", "Faults", "SensorFault", "SENSOR_CHANNELS", "TRACE_COLUMNS"]

# Positions in the flat physiology state (scalar.FLAT_FIELDS).
IL6, TNF, IL1B, IL10, ENDO = (scalar.FLAT_FIELDS.index(k) for k in ("il6", "tnf", "il1b", "il10", "endo"))

TRACE_COLUMNS = (
    "t_s", "IL-6", "TNF-a", "IL-1b", "IL-10",
    "heparin_u_ml", "aptt_s",
    "q_blood_ml_min", "p_access_mmhg", "p_pre_mmhg", "p_return_mmhg",
    "clot_fraction", "extraction_il6", "cartridge_index", "cartridge_age_h", "plasma_processed_l",
    "pump_ml_min", "heparin_u_h", "connected",
    "drive_pro", "drive_anti",
    "endotoxin_eu_ml", "clearance_il6_ml_min", "clearance_endotoxin_ml_min",
    "heparin_line_u", "aptt_circuit_s",
)


@dataclass(frozen=True)
class Actuators:
    """Firmware outputs, held constant over one ``advance`` call.

    Attributes:
        pump_ml_min: Blood-pump set flow (mL/min).
        clamp_open: Return clamp state; closed stops the flow.
        heparin_u_h: Heparin syringe rate (U/h) into the blood line.
        heparin_bolus_u: Cumulative bolus units the syringe delivered so far
            (monotonic); the increase since the previous step goes into the
            blood line at once.  The line passes heparin to the patient only
            while blood flows to a connected patient (``heparin.line_delivery``).
    """

    pump_ml_min: float = 0.0
    clamp_open: bool = False
    heparin_u_h: float = 0.0
    heparin_bolus_u: float = 0.0


@dataclass
class _State:
    """Everything that changes during a run (the snapshot payload)."""

    tick: int
    phys: scalar.Flat  # physiology state, flat (scalar.FLAT_FIELDS)
    hep_conc: float
    aptt: float
    cart: cartridge.CartridgeState
    q: float = 0.0
    q_acc: float = 0.0
    hep_acc_u: float = 0.0
    last_bolus_u: float = 0.0
    connected: bool = False
    pump_ml_min: float = 0.0
    heparin_u_h: float = 0.0
    line_u: float = 0.0  # heparin in the circuit, not yet in the patient (U)
    circ_conc: float = 0.0  # heparin in the blood in the cartridge (IU/mL)

    def clone(self) -> "_State":
        """Independent copy.  Every field but the cartridge record is an
        immutable value (the physiology state is a tuple of floats),
        and the cartridge record holds only immutable values, so a shallow copy
        of both is complete.

        Returns:
            The copy.
        """
        c = object.__new__(_State)
        c.__dict__.update(self.__dict__)
        c.cart = copy.copy(self.cart)
        return c


class Plant(Ticks):
    """Plant model driven by the firmware's actuator outputs.

    Args:
        patient: Patient parameters.
        device: Device parameters.
        seed: Run seed.
        period_s: Control period (s); must divide the 1 s physiology step.
        trace_every: A trace row is recorded whenever ``tick % trace_every == 0``.
    """

    def __init__(self, patient: PatientParams = PatientParams(), device: Optional[DeviceParams] = None,
                 seed: int = 0, period_s: float = 0.1, trace_every: int = 100) -> None:
        self.patient = patient
        self.device = device if device is not None else DeviceParams.preset("cytosorb")
        self.seed = int(seed)
        self.period_s = float(period_s)
        self.trace_every = int(trace_every)
        slow = int(round(physiology.PHYSIO_DT_S / self.period_s))
        if slow < 1 or abs(slow * self.period_s - physiology.PHYSIO_DT_S) > 1e-9:
            raise ValueError("period_s must divide the physiology step of 1 s")
        if self.trace_every < 1:
            raise ValueError("trace_every must be >= 1")
        self._slow_every = slow
        self._inputs = physiology.patient_inputs(patient)
        self._hep_vol_ml = float(heparin.volume_ml(patient.weight_kg))
        self._clot_mult = float(self.device.adsorber.clot_multiplier)
        self._alpha = circuit.pump_alpha(self.period_s, self.device.hydraulics)
        self._noise = noise.BlockCache(self.seed, noise.STREAM_SENSOR, 4)
        self._fault_noise = noise.BlockCache(self.seed, noise.STREAM_FAULT_NOISE, 4)
        self.faults = Faults()
        self.trace_rows: list[tuple[float, ...]] = []
        self._s = _State(tick=0, phys=scalar.flatten(physiology.start_state(patient)), hep_conc=0.0,
                         aptt=float(heparin.aptt_s(0.0)),
                         cart=cartridge.CartridgeState(clot_factor=self._draw_clot_factor(0)))
        h = self.device.hydraulics
        sens = self.device.sensors
        self._const = LoopConstants(self._alpha, self._slow_every, self.trace_every, h.static_mmhg,
                                    1.0 / h.flow_ref_ml_min, h.exponent, sens.pressure_noise_mmhg,
                                    sens.flow_noise_ml_min)
        # SDs of the sensor noise per channel (the batched tick loop's numpy form of sp and sq)
        self._noise_sd = np.array([sens.pressure_noise_mmhg] * 3 + [sens.flow_noise_ml_min])
        self._coef_occ = 0.0
        self._coef = self._coefficients()
        # The slow step's scalar twins of the generic model functions (host/scalar.py).
        self._phys_step = scalar.ScalarPhysiology(self._inputs, physiology.PHYSIO_DT_S)
        self._cart_step = scalar.ScalarCartridge(self.device.adsorber)
        self._hep_step = scalar.ScalarHeparin(self._hep_vol_ml, physiology.PHYSIO_DT_S / 60.0)
        self._clot_step = scalar.ScalarClot(self.device.clot, self.device.hydraulics)
        self._plasma_fraction = 1.0 - patient.hematocrit
        self._clot_max = self.device.clot.max_fraction

    # ------------------------------------------------------------------ helpers
    @property
    def tick(self) -> int:
        """Control periods stepped since construction."""
        return self._s.tick

    def _draw_clot_factor(self, index: int) -> float:
        """Clot-rate factor of cartridge number ``index`` (counter-based).

        Args:
            index: Cartridge number (0 = first).

        Returns:
            Log-normal factor, median 1.
        """
        z = noise.normal_single(self.seed, noise.STREAM_CLOT_FACTOR, index)
        return circuit.clot_factor(z, self.device.clot)

    def _coefficients(self) -> circuit.Coefficients:
        """Pressure coefficients for the current state and faults (remembers the occlusion used)."""
        self._coef_occ = self.faults.access_occlusion
        return circuit.coefficients(self._s.cart.clot, self._coef_occ, self._s.connected, self.device.hydraulics)

    # ------------------------------------------------------------- the stepping
    def advance(self, act: Actuators, n: int, out: Optional[array] = None) -> None:
        """Step ``n`` control periods with constant actuators.

        Args:
            act: Actuator outputs for these periods.
            n: Number of periods.
            out: If given, ``len(SENSOR_CHANNELS)`` int16 readings are appended per period.
        """
        if n <= 0:
            return
        s = self._s
        faults = self.faults
        s.pump_ml_min = act.pump_ml_min
        s.heparin_u_h = act.heparin_u_h
        self._give_bolus(act.heparin_bolus_u)
        q_base = self._flow_limit(act)
        # The outlet limit moves with the clot, so it is taken again after
        # every slow step: the same value whatever the chunking.
        hyd = self.device.hydraulics
        q_target = min(q_base, circuit.max_outlet_flow(self._coef, hyd)) if q_base > 0.0 else 0.0
        hep_per_tick = act.heparin_u_h * self.period_s / 3600.0
        if faults.sensor or faults.air_ticks_remaining > 0 or (out is not None and n < BATCH_MIN_TICKS):
            self._ticks_each(n, q_base, q_target, hep_per_tick, out)
        else:
            self._ticks_batched(n, q_base, q_target, hep_per_tick, out)

    def _give_bolus(self, bolus: float) -> None:
        """Give the patient the bolus units delivered since the last call.

        Args:
            bolus: Cumulative bolus units (monotonic).
        """
        s = self._s
        if bolus != s.last_bolus_u:
            if bolus > s.last_bolus_u:
                s.line_u += bolus - s.last_bolus_u  # the syringe pushes it into the line
            s.last_bolus_u = bolus

    def _flow_limit(self, act: Actuators) -> float:
        """Flow the pump can move with these actuators and the access occlusion
        (before the outlet limit); brings the pressure coefficients up to date.

        Args:
            act: Actuator outputs.

        Returns:
            Flow (mL/min), 0 when stopped or clamped.
        """
        occlusion = self.faults.access_occlusion
        if occlusion != self._coef_occ:
            self._coef = self._coefficients()
        pump = act.pump_ml_min
        q_base = pump if (act.clamp_open and pump > 0.0) else 0.0
        if q_base > 0.0 and occlusion > 0.0:
            q_base = min(q_base, circuit.max_flow(self._coef, self.device.hydraulics))
        return q_base

    def _slow_step(self) -> None:
        """One physiology step (1 s) using the flow and heparin of the last ticks.

        On the scalar twins of ``host.scalar`` (the same numbers as the generic
        functions: ``physiology.step``, ``CartridgeState.perfuse``,
        ``circuit.clot_rate_per_h``), which cost a fraction of them."""
        s = self._s
        dt_s = physiology.PHYSIO_DT_S
        q_mean = s.q_acc / self._slow_every
        self._heparin_step(q_mean)
        removal = cytokines.NO_REMOVAL
        if s.connected:
            cart = s.cart
            cart.age_s += dt_s
            if q_mean > 1e-6:
                removal = self._cart_step.perfuse(cart, q_mean * self._plasma_fraction, s.phys[ENDO], dt_s)
            else:
                cart.stand()
            faults = self.faults
            rate = self._clot_step.rate_per_h(self._hep_step.aptt_s(s.circ_conc), q_mean, cart.clot_factor,
                                              faults.clot_boost)
            clot = cart.clot + rate * self._clot_mult * dt_s / 3600.0
            max_fraction = self._clot_max
            cart.clot = clot if clot < max_fraction else max_fraction
            if faults.access_occlusion == self._coef_occ:
                # only the cartridge's drop moved
                self._coef = self._clot_step.coefficients(self._coef, cart.clot)
            else:
                self._coef = self._coefficients()
        s.phys = self._phys_step.step(s.phys, removal)

    def _heparin_step(self, q_mean: float) -> None:
        """Syringe -> line -> patient, then the patient's kinetics and the
        heparin of the blood in the cartridge (trapped there while it stands).

        Args:
            q_mean: Mean blood flow over the step (mL/min).
        """
        s = self._s
        hs = self._hep_step
        connected = s.connected
        line = s.line_u + s.hep_acc_u
        delivered = hs.line_delivery(line, q_mean, connected)
        s.line_u = line - delivered
        conc = s.hep_conc = hs.step(s.hep_conc, delivered)
        s.aptt = hs.aptt_s(conc)
        if connected and q_mean > 1e-6:
            # The syringe's heparin mixes into the plasma before the cartridge.
            s.circ_conc = conc + delivered / hs.dt_min / (q_mean * self._plasma_fraction)

    def give_heparin_iv(self, units: float) -> None:
        """A heparin bolus given straight into the patient's vein (by the
        operator, not through the device's line).

        Args:
            units: Units given (>= 0).
        """
        s = self._s
        s.hep_conc += max(units, 0.0) / self._hep_vol_ml
        s.aptt = float(heparin.aptt_s(s.hep_conc))

    # ----------------------------------------------------------- observation
    def observe(self) -> dict[str, float]:
        """Current true values.

        Returns:
            Dict keyed by ``TRACE_COLUMNS``.
        """
        return dict(zip(TRACE_COLUMNS, self._row()))

    def _row(self) -> tuple[float, ...]:
        """Current true values in ``TRACE_COLUMNS`` order."""
        s = self._s
        ph = s.phys
        pro, anti = self._phys_step.drives(ph)  # inflammation.pro_drive and anti_drive
        cart = s.cart
        if self.faults.access_occlusion != self._coef_occ:
            self._coef = self._coefficients()
        p_acc, p_pre, p_ret = circuit.pressures(s.q, self._coef, self.device.hydraulics)
        return (s.tick * self.period_s, ph[IL6], ph[TNF], ph[IL1B], ph[IL10],
                s.hep_conc, s.aptt,
                s.q, p_acc, p_pre, p_ret,
                cart.clot, cart.extraction_il6, cart.index, cart.age_s / 3600.0, cart.processed_l,
                s.pump_ml_min, s.heparin_u_h, 1.0 if s.connected else 0.0,
                pro * self.patient.cytokine_gain, anti,
                ph[ENDO], cart.clearance_il6, cart.clearance_endo,
                s.line_u, self._hep_step.aptt_s(s.circ_conc))

    def true_aptt(self) -> float:
        """True aPTT now (s)."""
        return self._s.aptt

    def draw_aptt(self) -> float:
        """Laboratory aPTT drawn now (s); the noise depends on seed and tick only.

        Returns:
            Measured aPTT (s).  Its delivery delay is ``device.lab.turnaround_s``.
        """
        return lab.measure_aptt(self._s.aptt, self.seed, self._s.tick, self.device.lab)

    # ---------------------------------------------------------------- events
    def connect_patient(self) -> None:
        """Connect the primed circuit to the patient (blood now flows through it).
        The blood entering the cartridge is the patient's; the prime, with any
        heparin the syringe put into it, goes to the patient as blood flows
        (assumption: both lines connected at once, the prime not discarded)."""
        self._s.connected = True
        self._s.circ_conc = self._s.hep_conc
        self._coef = self._coefficients()

    def disconnect_patient(self) -> None:
        """Disconnect the circuit from the patient (end of a session)."""
        self._s.connected = False
        self._coef = self._coefficients()

    def replace_cartridge(self) -> None:
        """Fit a fresh adsorber: no load, no clot, a new clot-rate factor."""
        index = self._s.cart.index + 1
        self._s.cart = cartridge.CartridgeState(index=index, clot_factor=self._draw_clot_factor(index))
        self._coef = self._coefficients()

    # ---------------------------------------------------------- snapshotting
    def snapshot(self) -> Any:
        """Capture the full mutable state.

        Returns:
            An opaque snapshot for :meth:`restore`.
        """
        return (self._s.clone(), self.faults.clone(), len(self.trace_rows))

    def restore(self, snap: Any) -> None:
        """Return to a snapshot; trace rows recorded after it are dropped.

        Args:
            snap: Value returned by :meth:`snapshot` on this plant.
        """
        state, faults, n_rows = snap
        self._s = state.clone()
        self.faults.restore(faults)  # in place: references held by callers stay valid
        del self.trace_rows[n_rows:]
        self._coef = self._coefficients()
