"""The plant's control periods: the per-tick loop and its batched twin.

:class:`Ticks` is a part of :class:`host.plant.Plant` (a base class, so that
the plant's module stays within its size): ``Plant.advance`` sets up the
actuators, then steps the periods with one of two loops.

* :meth:`Ticks._ticks_each` does everything tick by tick: it handles air and
  sensor faults, and short calls (a lockstep run's one period).
* :meth:`Ticks._ticks_batched` is the fast path of healthy runs (no air, no
  sensor fault), where the per-tick Python work cost as much as the
  physiology.  Between two events (a slow step, a trace row) only the pump
  flow moves, and once it has settled (``q + alpha (q_target - q) == q``: it
  stays so until the target changes) a tick is two additions, and a whole
  second's sums are those of the second before.  The readings of the whole
  call are then made with numpy, the flow law's power in Python once per run
  of equal flows.  It must equal :meth:`Ticks._ticks_each` bit for bit: the
  same operations on the same values (numpy rounds each elementwise
  ``+ - *`` exactly as Python does; nothing is fused or reordered);
  tests/host/test_scalar.py compares the two.
"""

from __future__ import annotations

from array import array
from typing import NamedTuple, Optional

import numpy as np

from host import circuit, noise
from host.sensors import CHANNEL_INDEX, FLAG_AIR, FLAGS, faulted, pack, pack_array, words

# From this many periods on, a call with readings takes the batched path
# (numpy's fixed cost per call is larger than the loop's below it).
BATCH_MIN_TICKS = 16


class LoopConstants(NamedTuple):
    """What the stepping loops take from the plant's parameters, fixed for a run."""

    alpha: float            # the pump flow's first-order step toward its target, per period
    slow_every: int         # periods per physiology (slow) step
    trace_every: int        # periods per trace row
    static_mmhg: float      # hydrostatic offset of the pressures
    inv_flow_ref: float     # 1 / the flow of the pressure law's reference (1/(mL/min))
    exponent: float         # the pressure law's flow exponent
    pressure_sd: float      # sensor noise of the pressures (mmHg)
    flow_sd: float          # sensor noise of the flow (mL/min)


class Ticks:
    """The stepping loops of :class:`host.plant.Plant` (see the module docstring)."""

    def _ticks_each(self, n: int, q_base: float, q_target: float, hep_per_tick: float,
                    out: Optional[array]) -> None:
        """Step ``n`` periods one by one, faults included.

        Args:
            n: Periods (> 0).
            q_base: Flow the pump moves before the outlet limit (mL/min).
            q_target: Flow the pump settles to now (mL/min).
            hep_per_tick: Heparin infused per period (U).
            out: Readings are appended here, if given.
        """
        s = self._s
        faults = self.faults
        coef = self._coef
        alpha, slow_every, trace_every, ps, inv_qref, expo, sp, sq = self._const
        c_acc, c_ret, c_cart = coef
        cache = self._noise
        vals = cache.values
        blk_lo = cache.block * noise.BLOCK
        blk_hi = blk_lo + noise.BLOCK
        special = bool(faults.sensor) or faults.air_ticks_remaining > 0
        emit = out is not None
        healthy: list[float] = []  # physical readings of healthy ticks, packed by host.sensors
        q = s.q
        q_acc = s.q_acc
        hep_acc = s.hep_acc_u
        tick = s.tick
        for _ in range(n):
            q += alpha * (q_target - q)
            if q < 1e-3 and q_target == 0.0:
                q = 0.0
            q_acc += q
            hep_acc += hep_per_tick
            tick += 1
            if tick % slow_every == 0:
                q_target = self._second(q, q_acc, hep_acc, tick, q_base, q_target)
                q_acc = 0.0
                hep_acc = 0.0
                c_cart = self._coef.cart
            if emit:
                x = (q * inv_qref) ** expo
                p_ret = ps + c_ret * x
                if tick >= blk_hi or tick < blk_lo:
                    cache.load(tick)
                    vals = cache.values
                    blk_lo = cache.block * noise.BLOCK
                    blk_hi = blk_lo + noise.BLOCK
                j = (tick - blk_lo) * 4
                pa = ps - c_acc * x + sp * vals[j]
                pp = p_ret + c_cart * x + sp * vals[j + 1]
                pr = p_ret + sp * vals[j + 2]
                qr = q + sq * vals[j + 3]
                if special:
                    if healthy:
                        pack(healthy, out)
                        healthy.clear()
                    s.tick = tick
                    out.extend(self._special(tick, words(pa, pp, pr, qr), (pa, pp, pr, qr)))
                    special = bool(faults.sensor) or faults.air_ticks_remaining > 0
                else:
                    healthy += (pa, pp, pr, qr)
            elif faults.air_ticks_remaining > 0:
                faults.air_ticks_remaining -= 1
            if tick % trace_every == 0:
                s.q, s.q_acc, s.hep_acc_u, s.tick = q, q_acc, hep_acc, tick
                self.trace_rows.append(self._row())
        s.q, s.q_acc, s.hep_acc_u, s.tick = q, q_acc, hep_acc, tick
        if healthy:
            pack(healthy, out)

    def _second(self, q: float, q_acc: float, hep_acc: float, tick: int, q_base: float,
                q_target: float) -> float:
        """The slow step at the end of a second of ticks.

        Args:
            q: Flow now (mL/min).
            q_acc: Sum of the flows of the second's ticks.
            hep_acc: Heparin infused over the second (U).
            tick: This tick (a multiple of the slow step).
            q_base: Flow the pump moves before the outlet limit (mL/min).
            q_target: Flow target before the step.

        Returns:
            The flow target after it (the outlet limit moves with the clot).
        """
        s = self._s
        s.q, s.q_acc, s.hep_acc_u, s.tick = q, q_acc, hep_acc, tick
        self._slow_step()
        if q_base > 0.0:
            return min(q_base, circuit.max_outlet_flow(self._coef, self.device.hydraulics))
        return q_target

    def _ticks_batched(self, n: int, q_base: float, q_target: float, hep_per_tick: float,
                       out: Optional[array]) -> None:
        """:meth:`_ticks_each` without air or sensor faults, the same numbers.

        Args:
            n: Periods (> 0; at least ``BATCH_MIN_TICKS`` when ``out`` is given).
            q_base: Flow the pump moves before the outlet limit (mL/min).
            q_target: Flow the pump settles to now (mL/min).
            hep_per_tick: Heparin infused per period (U).
            out: Readings are appended here, if given.
        """
        s = self._s
        const = self._const
        alpha, slow_every, trace_every = const.alpha, const.slow_every, const.trace_every
        c_acc, c_ret, c_cart = self._coef
        emit = out is not None
        qs: list[float] = []  # the flow of each tick (when emitting)
        cs: list[float] = []  # the cartridge's pressure coefficient of each tick
        q, q_acc, hep_acc, tick = s.q, s.q_acc, s.hep_acc_u, s.tick
        first, end = tick + 1, tick + n
        settled = False
        # The sums over a whole second of a settled flow (the same additions
        # each second) are made once per call: (flow, (flow sum, heparin sum)).
        full_q: Optional[float] = None
        full_sums = (0.0, 0.0)
        while tick < end:
            # the ticks up to the next slow step, trace row or the end
            stop = min(end, tick - tick % slow_every + slow_every, tick - tick % trace_every + trace_every)
            k = stop - tick
            if settled:
                if k == slow_every and q_acc == 0.0 and hep_acc == 0.0 and q == full_q:
                    q_acc, hep_acc = full_sums  # a whole second at this flow, summed before
                else:
                    from_zero = k == slow_every and q_acc == 0.0 and hep_acc == 0.0
                    for _ in range(k):
                        q_acc += q
                        hep_acc += hep_per_tick
                    if from_zero:
                        full_q, full_sums = q, (q_acc, hep_acc)
                if emit:
                    qs += [q] * k
            else:
                for _ in range(k):
                    q_new = q + alpha * (q_target - q)
                    if q_new < 1e-3 and q_target == 0.0:
                        q_new = 0.0
                    settled = q_new == q
                    q = q_new
                    q_acc += q
                    hep_acc += hep_per_tick
                    if emit:
                        qs.append(q)
            tick = stop
            if emit:
                cs += [c_cart] * (k - 1)
            if tick % slow_every == 0:
                target = self._second(q, q_acc, hep_acc, tick, q_base, q_target)
                settled = settled and target == q_target
                q_target = target
                q_acc = 0.0
                hep_acc = 0.0
                c_cart = self._coef.cart
            if emit:
                cs.append(c_cart)
            if tick % trace_every == 0:
                s.q, s.q_acc, s.hep_acc_u, s.tick = q, q_acc, hep_acc, tick
                self.trace_rows.append(self._row())
        s.q, s.q_acc, s.hep_acc_u, s.tick = q, q_acc, hep_acc, tick
        if emit:
            self._readings(first, qs, cs, c_acc, c_ret, out)

    def _readings(self, first: int, qs: list[float], cs: list[float], c_acc: float, c_ret: float,
                  out: array) -> None:
        """The healthy readings of consecutive ticks, as :meth:`_ticks_each` makes them.

        Args:
            first: Tick of the first reading.
            qs: Flow of each tick (mL/min).
            cs: Cartridge pressure coefficient of each tick.
            c_acc: Access coefficient (constant over the call).
            c_ret: Return coefficient (constant over the call).
            out: The int16 words are appended here.
        """
        const = self._const
        ps, inv_qref, expo = const.static_mmhg, const.inv_flow_ref, const.exponent
        n = len(qs)
        # the noise terms: sp * z for the pressures, sq * z for the flow
        dev = self._noise.rows(first, n) * self._noise_sd
        # x = (q / q_ref) ** n in Python (math's pow), once per run of equal flows;
        # a flow constant over the call stays a float (numpy broadcasts it)
        q: float | np.ndarray = qs[0]
        if qs.count(q) == n:
            x: float | np.ndarray = (q * inv_qref) ** expo
        else:
            q = np.array(qs)
            starts = np.flatnonzero(np.concatenate(([True], q[1:] != q[:-1])))
            xs = [(v * inv_qref) ** expo for v in q[starts].tolist()]
            x = np.repeat(np.array(xs), np.diff(np.append(starts, n)))
        c_cart = np.array(cs)
        phys = np.empty((4, n))
        p_ret = ps + c_ret * x
        np.add(ps - c_acc * x, dev[:, 0], out=phys[0])
        np.add(p_ret + c_cart * x, dev[:, 1], out=phys[1])
        np.add(p_ret, dev[:, 2], out=phys[2])
        np.add(q, dev[:, 3], out=phys[3])
        pack_array(phys, out)

    def _special(self, tick: int, raw: list[int], phys: tuple[float, float, float, float]) -> list[int]:
        """Readings of one tick when air or sensor faults are active.

        Args:
            tick: Current tick.
            raw: Healthy readings in counts (flags last, 0).
            phys: Healthy readings in physical units (pressures, flow), noise included.

        Returns:
            The five readings to emit.
        """
        f = self.faults
        if f.air_ticks_remaining > 0:
            raw[FLAGS] = FLAG_AIR
            f.air_ticks_remaining -= 1
        if f.sensor:
            off = self._fault_noise.load(tick)
            zs = self._fault_noise.values
            for name, fault in f.sensor.items():
                i = CHANNEL_INDEX[name]
                started = f.drift_start.get(name)
                if started is None or started[0] is not fault:
                    f.drift_start[name] = (fault, tick)
                    started = f.drift_start[name]
                elapsed = (tick - started[1]) * self.period_s
                p = phys[i] if i != FLAGS else float(raw[FLAGS])
                raw[i] = faulted(name, fault, p, raw[i], elapsed, zs[off + (i % FLAGS)])
        return raw
