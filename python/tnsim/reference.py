"""Plain NumPy reference model of SPEC.md sections 1-6 (version 1).

This module is written from SPEC.md alone, independently of the Rust engine, so that the two can
be compared bit for bit. It favours being obviously right over being fast; it has two ways of
evaluating a core's tick, which must agree exactly:

- ``vectorized=False``: a literal transcription of SPEC.md section 3, neuron by neuron, axon by
  axon, one Python integer at a time. Slow (a full core costs tens of milliseconds a tick), but
  it can be checked against the SPEC text line by line.
- ``vectorized=True`` (the default): the same arithmetic on arrays of the 256 neurons at once.
  It relies on two facts that make vectorising exact:

  1. The number of PRNG draws a neuron makes in a tick does not depend on any value, only on
     which synaptic events are stochastic, on c and on M (SPEC section 4). So the draws of the
     whole core for the tick can be generated first, in order, and handed out by position:
     neuron j's draws start after those of neurons 0..j-1; within neuron j come its stochastic
     synaptic events in axon order, then the leak draw (c = 1), then the threshold draw (M > 0).
  2. Synaptic integration saturates after every event, but if a neuron's running sum can never
     leave [V_MIN, V_MAX] (V plus all its positive contributions <= V_MAX, and V plus all its
     negative contributions >= V_MIN) no saturation happens and the result is V plus the sum.
     Neurons for which that is not guaranteed are integrated event by event.

Use :class:`ReferenceSimulator` like :class:`tnsim.Simulator`, or :func:`run` for one call.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .results import COUNTER_NAMES, RunResult

#: Range of the membrane potential, a signed 20-bit value (SPEC section 2).
V_MIN = -(1 << 19)
V_MAX = (1 << 19) - 1
#: Scheduler slots per core (delays are 1..15 ticks).
SLOTS = 16
NEURONS = 256
AXONS = 256
#: Cores per chip side (a chip is 64 x 64 cores).
CHIP_SIDE = 64
#: A seed of 0 would lock xorshift at 0; SPEC section 4 replaces it with this value.
ZERO_SEED_REPLACEMENT = 0x9E3779B9

_U32 = 0xFFFFFFFF
_RHO_MASK = 0xFF  # an 8-bit rho is a draw's low 8 bits
_RHO_T_MASK = (1 << 18) - 1  # rho_T is a draw's low 18 bits (before the 2^M - 1 mask)


def sat(v: int) -> int:
    """Saturate a potential to [V_MIN, V_MAX] (SPEC section 2)."""
    return V_MIN if v < V_MIN else V_MAX if v > V_MAX else v


def sgn(v: int) -> int:
    """Sign of v, with sgn(0) = 0."""
    return (v > 0) - (v < 0)


def xorshift32(x: int) -> int:
    """One step of the per-core generator (SPEC section 4); returns the new state = the draw."""
    x ^= (x << 13) & _U32
    x ^= x >> 17
    x ^= (x << 5) & _U32
    return x


def initial_prng_state(seed: int) -> int:
    seed = int(seed) & _U32
    return ZERO_SEED_REPLACEMENT if seed == 0 else seed


def _sat_array(v: np.ndarray) -> np.ndarray:
    return np.clip(v, V_MIN, V_MAX)


class _Core:
    """Configuration and state of one configured core."""

    def __init__(self, xy: Tuple[int, int], core) -> None:
        self.x, self.y = int(xy[0]), int(xy[1])
        self.crossbar = np.array(core.crossbar, dtype=bool).reshape(AXONS, NEURONS)
        self.axon_types = np.array(core.axon_types, dtype=np.int64).reshape(AXONS)
        n = core.neurons
        self.s = np.array(n.weights, dtype=np.int64)                # (256, 4) s[G]
        self.b = np.array(n.stochastic_weights, dtype=bool)        # (256, 4) b[G]
        self.lam = np.array(n.leak, dtype=np.int64)
        self.c = np.array(n.stochastic_leak, dtype=bool)
        self.eps = np.array(n.leak_reversal, dtype=bool)
        self.alpha = np.array(n.threshold, dtype=np.int64)
        self.beta = np.array(n.negative_threshold, dtype=np.int64)
        self.m = np.array(n.threshold_mask_bits, dtype=np.int64)
        self.r = np.array(n.reset_value, dtype=np.int64)
        self.gamma = np.array(n.reset_mode, dtype=np.int64)
        self.kappa = np.array(n.negative_saturation, dtype=bool)
        self.dx = np.array(n.target_dx, dtype=np.int64)
        self.dy = np.array(n.target_dy, dtype=np.int64)
        self.axon = np.array(n.target_axon, dtype=np.int64)
        self.delay = np.array(n.target_delay, dtype=np.int64)
        self.port = np.array(n.output_port, dtype=np.int64)
        self.mask = (np.int64(1) << self.m) - 1                     # 2^M - 1

        self.v = np.array(n.initial_potential, dtype=np.int64).copy()
        self.sched = np.zeros((SLOTS, AXONS), dtype=bool)
        self.prng = initial_prng_state(core.seed)

        # Python-int copies of the parameters for the literal (scalar) evaluation.
        self._lists: Optional[Dict[str, Any]] = None
        # How often an addition hit a bound (vectorised path only): lets tests check that
        # random networks really exercise saturation.
        self.saturations = {"low": 0, "high": 0}

    def _count_saturation(self, unclipped) -> None:
        self.saturations["low"] += int(np.count_nonzero(np.asarray(unclipped) < V_MIN))
        self.saturations["high"] += int(np.count_nonzero(np.asarray(unclipped) > V_MAX))

    def draw(self) -> int:
        self.prng = xorshift32(self.prng)
        return self.prng

    def draws(self, count: int) -> np.ndarray:
        """The next ``count`` draws, in order (xorshift32 inlined: this loop is the hot spot)."""
        out = []
        x = self.prng
        for _ in range(count):
            x ^= (x << 13) & _U32
            x ^= x >> 17
            x ^= (x << 5) & _U32
            out.append(x)
        self.prng = x
        return np.array(out, dtype=np.int64)

    # -- one tick, literal version -------------------------------------------------------

    def step_scalar(self, slot: int) -> Tuple[np.ndarray, int, int]:
        """SPEC section 3 transcribed line by line. Returns (spiked neurons, events, stochastic events)."""
        if self._lists is None:
            self._lists = {name: getattr(self, name).tolist() for name in (
                "s", "b", "lam", "c", "eps", "alpha", "beta", "m", "r", "gamma", "kappa")}
        p = self._lists
        active = [int(i) for i in np.flatnonzero(self.sched[slot])]
        rows = {i: self.crossbar[i].tolist() for i in active}
        types = {i: int(self.axon_types[i]) for i in active}
        v_all = self.v.tolist()
        spiked: List[int] = []
        events = stochastic_events = 0
        for j in range(NEURONS):
            v = v_all[j]
            # 1. synaptic integration, axons in ascending order
            for i in active:
                if not rows[i][j]:
                    continue
                events += 1
                g = types[i]
                weight = p["s"][j][g]
                if p["b"][j][g]:
                    stochastic_events += 1
                    rho = self.draw() & _RHO_MASK
                    if abs(weight) >= rho:
                        v = sat(v + sgn(weight))
                else:
                    v = sat(v + weight)
            # 2. leak
            lam, eps = p["lam"][j], p["eps"][j]
            omega = sgn(v) if eps else 1
            before_leak = v
            if p["c"][j]:
                rho = self.draw() & _RHO_MASK
                if abs(lam) >= rho:
                    v = sat(v + omega * sgn(lam))
            else:
                v = sat(v + omega * lam)
            if eps and ((before_leak > 0 and v < 0) or (before_leak < 0 and v > 0)):
                v = 0  # anti-ringing
            # 3. threshold noise
            m = p["m"][j]
            eta = ((self.draw() & _RHO_T_MASK) & ((1 << m) - 1)) if m > 0 else 0
            # 4. positive threshold
            alpha, beta, r, gamma = p["alpha"][j], p["beta"][j], p["r"][j], p["gamma"][j]
            if v >= alpha + eta:
                spiked.append(j)
                if gamma == 0:
                    v = r
                elif gamma == 1:
                    # Cannot leave the range (v >= alpha + eta >= 0); sat() kept as the engine does.
                    v = sat(v - (alpha + eta))
            # 5. negative threshold, only if it did not spike
            elif p["kappa"][j]:
                if v < -beta:
                    v = -beta
            elif v < -(beta + eta):
                if gamma == 0:
                    v = -r
                elif gamma == 1:
                    # Cannot leave the range (the result is in (v, 0)); sat() kept as the engine does.
                    v = sat(v + (beta + eta))
            # 6. non-reset ceiling
            if gamma == 2:
                v = min(v, alpha + ((1 << m) - 1))
            v_all[j] = v
        self.v = np.array(v_all, dtype=np.int64)
        return np.array(spiked, dtype=np.int64), events, stochastic_events

    # -- one tick, vectorised over the 256 neurons ---------------------------------------

    def step_vectorized(self, slot: int) -> Tuple[np.ndarray, int, int]:
        """The same tick as :meth:`step_scalar`, computed on arrays (see the module docstring)."""
        active = np.flatnonzero(self.sched[slot])                  # axons, ascending
        ev = self.crossbar[active]                                 # (na, 256) synaptic events
        g = self.axon_types[active]                                # (na,) G_i
        w = self.s[:, g].T                                         # (na, 256) s[G_i] of neuron j
        st = ev & self.b[:, g].T                                   # stochastic events

        # Draws of this tick, in SPEC order, handed out by position (fact 1 of the docstring).
        n_syn_draws = st.sum(axis=0)
        has_th_draw = self.m > 0
        n_draws = n_syn_draws + self.c + has_th_draw
        first = np.cumsum(n_draws) - n_draws                        # neuron j's first draw
        total = int(n_draws.sum())
        pool = np.zeros(total + 1, dtype=np.int64)                  # pool[total]: unused filler
        pool[:total] = self.draws(total)
        rank = np.cumsum(st, axis=0) - 1                            # k-th stochastic event of j
        syn_rho = pool[np.where(st, first + rank, total)] & _RHO_MASK
        leak_rho = pool[np.where(self.c, first + n_syn_draws, total)] & _RHO_MASK
        rho_t = pool[np.where(has_th_draw, first + n_syn_draws + self.c, total)] & _RHO_T_MASK

        # 1. synaptic integration: contribution of each event (0 where nothing is added).
        contrib = np.where(st, np.where(np.abs(w) >= syn_rho, np.sign(w), 0), np.where(ev, w, 0))
        v0 = self.v
        v = v0 + contrib.sum(axis=0)
        may_saturate = ((v0 + np.where(contrib > 0, contrib, 0).sum(axis=0) > V_MAX)
                        | (v0 + np.where(contrib < 0, contrib, 0).sum(axis=0) < V_MIN))
        for j in np.flatnonzero(may_saturate):
            x = int(v0[j])
            column = contrib[:, j]
            # Zero contributions are skipped: sat(x + 0) = x since x is always in range.
            for add in column[column != 0].tolist():
                self._count_saturation(x + add)
                x = sat(x + add)
            v[j] = x

        # 2. leak, then anti-ringing
        omega = np.where(self.eps, np.sign(v), 1)
        leak_add = np.where(self.c, np.where(np.abs(self.lam) >= leak_rho, omega * np.sign(self.lam), 0),
                            omega * self.lam)
        self._count_saturation(v + leak_add)
        after = _sat_array(v + leak_add)
        flipped = ((v > 0) & (after < 0)) | ((v < 0) & (after > 0))
        v = np.where(self.eps & flipped, 0, after)

        # 3. threshold noise
        eta = np.where(has_th_draw, rho_t & self.mask, 0)

        # 4. positive threshold. gamma = 1 cannot leave the range; sat() as the engine does.
        pos = self.alpha + eta
        spike = v >= pos
        v = np.where(spike & (self.gamma == 0), self.r, v)
        v = np.where(spike & (self.gamma == 1), _sat_array(v - pos), v)

        # 5. negative threshold (only neurons that did not spike)
        neg = self.beta + eta
        clamp = ~spike & self.kappa & (v < -self.beta)
        v = np.where(clamp, -self.beta, v)
        bounce = ~spike & ~self.kappa & (v < -neg)
        v = np.where(bounce & (self.gamma == 0), -self.r, v)
        v = np.where(bounce & (self.gamma == 1), _sat_array(v + neg), v)

        # 6. non-reset ceiling
        v = np.where(self.gamma == 2, np.minimum(v, self.alpha + self.mask), v)

        self.v = v.astype(np.int64)
        return np.flatnonzero(spike), int(ev.sum()), int(st.sum())


class ReferenceSimulator:
    """Tick-by-tick simulation of a network, per SPEC.md sections 1-6.

    Args:
        net: a validated network (``tnsim.Network`` or anything with the same read interface:
            ``chips``, ``output_ports``, ``coordinates()``, ``core(xy)``).
        vectorized: False evaluates every neuron with the literal per-neuron loop; both settings
            give identical results (the tests check that), True is much faster.

    Attributes:
        tick: the next tick to run (starts at 0).
    """

    def __init__(self, net, *, vectorized: bool = True) -> None:
        self.chips = tuple(int(c) for c in net.chips)
        self.n_ports = int(net.output_ports)
        coords = sorted((int(x), int(y)) for x, y in net.coordinates())
        self._cores: Dict[Tuple[int, int], _Core] = {xy: _Core(xy, net.core(xy)) for xy in coords}
        self._order = [self._cores[xy] for xy in coords]
        self._vectorized = vectorized
        self.tick = 0

    def saturations(self) -> Dict[str, int]:
        """Additions that hit V_MIN ("low") or V_MAX ("high") so far (vectorised evaluation only)."""
        return {k: sum(c.saturations[k] for c in self._order) for k in ("low", "high")}

    def potentials(self, xy) -> np.ndarray:
        """Current membrane potentials (256,) int64 of the core at ``xy``."""
        return self._cores[(int(xy[0]), int(xy[1]))].v.copy()

    def run(self, ticks: int, inputs=None, record_spikes: bool = True) -> RunResult:
        """Run ``ticks`` ticks from :attr:`tick`; ``inputs`` rows are (tick, x, y, axon), absolute ticks."""
        ticks = int(ticks)
        start = self.tick
        by_tick: Dict[int, List[Tuple[int, int, int]]] = {}
        if inputs is not None:
            for t, x, y, a in np.asarray(inputs, dtype=np.int64).reshape(-1, 4).tolist():
                by_tick.setdefault(t, []).append((x, y, a))

        counts = np.zeros((ticks, self.n_ports), dtype=np.int32)
        counters = {name: np.zeros(ticks, dtype=np.int64) for name in COUNTER_NAMES}
        recorded: List[np.ndarray] = []

        for row in range(ticks):
            t = start + row
            slot = t % SLOTS
            # Host inputs of tick t are written when tick t comes (SPEC section 5).
            for x, y, a in by_tick.get(t, ()):
                self._cores[(x, y)].sched[slot, a] = True

            # Phase 1: every core computes from its current slot (cores are independent).
            fired = []
            for core in self._order:
                if self._vectorized:
                    spiked, events, stochastic = core.step_vectorized(slot)
                else:
                    spiked, events, stochastic = core.step_scalar(slot)
                counters["synaptic_events"][row] += events
                counters["stochastic_synaptic_events"][row] += stochastic
                counters["spikes"][row] += spiked.size
                counters["active_cores"][row] += int(events > 0 or spiked.size > 0)
                fired.append((core, spiked))
            counters["neuron_updates"][row] = NEURONS * len(self._order)

            # Phase 2: deliver every spike of tick t (delay >= 1 never hits slot t mod 16).
            for core, spiked in fired:
                if record_spikes and spiked.size:
                    rec = np.empty((spiked.size, 4), dtype=np.int64)
                    rec[:, 0], rec[:, 1], rec[:, 2], rec[:, 3] = t, core.x, core.y, spiked
                    recorded.append(rec)
                to_axon = spiked[core.axon[spiked] >= 0]
                if to_axon.size:
                    dx, dy = core.dx[to_axon], core.dy[to_axon]
                    tx, ty = core.x + dx, core.y + dy
                    slots = (t + core.delay[to_axon]) % SLOTS
                    axons = core.axon[to_axon]
                    for target in set(zip(tx.tolist(), ty.tolist())):
                        sel = (tx == target[0]) & (ty == target[1])
                        self._cores[target].sched[slots[sel], axons[sel]] = True  # OR
                    counters["spikes_delivered"][row] += to_axon.size
                    counters["hops"][row] += int((np.abs(dx) + np.abs(dy)).sum())
                    # Dimension-ordered path (x, then y) on a regular grid of chips: it
                    # crosses every chip column boundary between the two x's, then every
                    # chip row boundary between the two y's.
                    counters["chip_crossings"][row] += int(
                        (np.abs(core.x // CHIP_SIDE - tx // CHIP_SIDE)
                         + np.abs(core.y // CHIP_SIDE - ty // CHIP_SIDE)).sum())
                to_port = spiked[(core.axon[spiked] < 0) & (core.port[spiked] >= 0)]
                np.add.at(counts[row], core.port[to_port], 1)
                counters["output_spikes"][row] += to_port.size

            # Phase 3: clear the slot just used and advance.
            for core in self._order:
                core.sched[slot] = False
            self.tick = t + 1

        spikes = None
        if record_spikes:
            spikes = np.concatenate(recorded) if recorded else np.zeros((0, 4), dtype=np.int64)
            spikes = spikes[np.lexsort(spikes.T[::-1])]
        return RunResult(start_tick=start, ticks=ticks, output_spikes=counts > 0,
                         output_counts=counts, spikes=spikes, counters=counters)


def run(net, ticks: int, inputs=None, record_spikes: bool = True) -> RunResult:
    """Simulate ``net`` from tick 0 for ``ticks`` ticks with the reference model."""
    return ReferenceSimulator(net).run(ticks, inputs=inputs, record_spikes=record_spikes)
