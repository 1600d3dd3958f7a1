"""Golden tests: hand-derived expectations for small networks (SPEC.md sections 3-6 and 9).

Every test runs on both engines: the NumPy reference model and the Rust engine (skipped only
when ``tnsim._core`` is not built). Expected values are derived by hand in the comments; where
PRNG draws are involved, the test computes them with its own tiny xorshift32 and applies the
SPEC's draw order explicitly.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pytest

from netbuild import axon_types, crossbar, make_neurons, network
from tnsim.reference import ReferenceSimulator
from tnsim.results import COUNTER_NAMES

try:
    import tnsim._core  # noqa: F401  (the compiled engine)
    from tnsim import Simulator as RustSimulator
    HAVE_RUST = True
except ImportError:
    RustSimulator = None
    HAVE_RUST = False

V_MIN, V_MAX = -(1 << 19), (1 << 19) - 1
ALPHA_MAX = (1 << 18) - 1


@pytest.fixture(params=[
    pytest.param("reference", id="reference"),
    pytest.param("rust", id="rust",
                 marks=pytest.mark.skipif(not HAVE_RUST, reason="tnsim._core is not built")),
])
def engine(request):
    """A factory: network -> simulator with ``run`` and ``potentials``."""
    if request.param == "reference":
        return ReferenceSimulator
    return RustSimulator


# --- helpers -----------------------------------------------------------------------------

def xs32(x: int) -> int:
    """xorshift32, written independently of tnsim.reference."""
    x = (x ^ (x << 13)) & 0xFFFFFFFF
    x = x ^ (x >> 17)
    x = (x ^ (x << 5)) & 0xFFFFFFFF
    return x


class Stream:
    """The draws of one core's generator, in order."""

    def __init__(self, seed: int) -> None:
        self.x = seed if seed != 0 else 0x9E3779B9

    def __call__(self) -> int:
        self.x = xs32(self.x)
        return self.x


def one_core(neurons, synapses, types: Optional[Dict[int, int]] = None, seed: int = 1,
             output_ports: Optional[int] = None):
    net = network(chips=(1, 1), output_ports=output_ports)
    net.add_core((0, 0), crossbar=crossbar(synapses), axon_types=axon_types(types),
                 neurons=neurons, seed=seed)
    return net


def every_tick(ticks: Iterable[int], axon: int, xy=(0, 0)) -> List[Tuple[int, int, int, int]]:
    return [(t, xy[0], xy[1], axon) for t in ticks]


def as_inputs(rows) -> Optional[np.ndarray]:
    return np.array(rows, dtype=np.int64).reshape(-1, 4) if len(rows) else None


def spike_ticks(res, neuron: int, xy=(0, 0)) -> List[int]:
    s = res.spikes
    sel = (s[:, 1] == xy[0]) & (s[:, 2] == xy[1]) & (s[:, 3] == neuron)
    return s[sel, 0].tolist()


def trace(engine, net, ticks: int, inputs: Sequence[Tuple[int, int, int, int]],
          neurons: Sequence[int], xy=(0, 0)):
    """Run ``ticks`` ticks one at a time; return (potentials after each tick, spikes).

    Also runs the same network in one call and checks that it produced the same spikes and
    counters: a second ``run`` must continue exactly where the first stopped.
    """
    sim = engine(net)
    potentials = np.zeros((ticks, len(neurons)), dtype=np.int64)
    spikes, counters = [], {name: [] for name in COUNTER_NAMES}
    for t in range(ticks):
        res = sim.run(1, inputs=as_inputs([r for r in inputs if r[0] == t]))
        assert res.start_tick == t and res.ticks == 1
        spikes.append(res.spikes)
        for name in COUNTER_NAMES:
            counters[name].append(res.counters[name])
        potentials[t] = sim.potentials(xy)[list(neurons)]
    spikes = np.concatenate(spikes)
    whole = engine(net).run(ticks, inputs=as_inputs(list(inputs)))
    np.testing.assert_array_equal(whole.spikes, spikes)
    for name in COUNTER_NAMES:
        np.testing.assert_array_equal(whole.counters[name], np.concatenate(counters[name]), err_msg=name)
    return potentials, whole


# --- SPEC section 9 ----------------------------------------------------------------------

def test_tonic_spiking_spec_vector(engine):
    # s = [3,0,0,0], alpha = 32, kappa = 1, gamma = 0, R = 0; one type-0 input every tick.
    # V after tick t: 3, 6, ..., 30, then 33 >= 32 at tick 10 -> spike, V = 0; period 11.
    net = one_core(make_neurons({0: dict(weights=[3, 0, 0, 0], threshold=32)}), [(0, 0)])
    ticks = 50
    v, res = trace(engine, net, ticks, every_tick(range(ticks), axon=0), [0])
    period = [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0]
    assert v[:, 0].tolist() == (period * 5)[:ticks]
    assert spike_ticks(res, 0) == [10, 21, 32, 43]
    assert res.counters["synaptic_events"].tolist() == [1] * ticks
    assert res.counters["active_cores"].tolist() == [1] * ticks
    assert res.counters["neuron_updates"].tolist() == [256] * ticks
    assert res.counters["spikes"].sum() == 4


def test_leak_driven_periods_spec_vector(engine):
    # Neuron 0: alpha = 10, leak +1: V = 1..9, then 10 at tick 9 -> spike, 0; period 10.
    # Neuron 1: alpha = 11, leak +2: V = 2, 4, .., 10, then 12 at tick 5 -> spike, 0; period 6.
    net = one_core(make_neurons({0: dict(threshold=10, leak=1), 1: dict(threshold=11, leak=2)}), [])
    v, res = trace(engine, net, 30, [], [0, 1])
    assert v[:, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] * 3
    assert v[:, 1].tolist() == [2, 4, 6, 8, 10, 0] * 5
    assert spike_ticks(res, 0) == [9, 19, 29]
    assert spike_ticks(res, 1) == [5, 11, 17, 23, 29]
    # Nothing but leaks: no synaptic events, yet the core is active on spike ticks.
    assert res.counters["synaptic_events"].sum() == 0
    active = [int(t in (5, 9, 11, 17, 19, 23, 29)) for t in range(30)]
    assert res.counters["active_cores"].tolist() == active


# --- Cassidy et al. 2013, Table V behaviours (parameter sets constructed for tnsim) --------

def test_class1_excitable(engine):
    # Class 1 excitability: the firing rate grows from zero, gradually, with input strength.
    # Six neurons on the same input (every tick), weights s = 1, 2, 3, 5, 9, 17, leak -1,
    # alpha = 16, linear reset (gamma = 1), clamped at 0 (kappa = 1, beta = 0).
    # Net drive n = s - 1 per tick, so V after tick t is ((t + 1) * n) mod 16 and the neuron
    # spikes when (t + 1) * n is a multiple of 16: n = 0 never; n = 1 every 16 ticks, ...
    weights = [1, 2, 3, 5, 9, 17]
    net = one_core(make_neurons({j: dict(weights=[w, 0, 0, 0]) for j, w in enumerate(weights)},
                                leak=-1, threshold=16, reset_mode=1),
                   [(0, j) for j in range(len(weights))])
    ticks = 64
    v, res = trace(engine, net, ticks, every_tick(range(ticks), axon=0), range(len(weights)))
    for j, w in enumerate(weights):
        n = w - 1
        assert v[:, j].tolist() == [((t + 1) * n) % 16 for t in range(ticks)]
        expected = [t for t in range(ticks) if n > 0 and ((t + 1) * n) % 16 == 0]
        assert spike_ticks(res, j) == expected
    # Spike counts 0, 4, 8, 16, 32, 64: monotone in the input strength, starting from zero.
    assert [len(spike_ticks(res, j)) for j in range(len(weights))] == [0, 4, 8, 16, 32, 64]


def test_spike_frequency_adaptation(engine):
    # Neuron A (0) gets +4 a tick (axon 0, type 0), alpha = 8, reset to 0. Each of its spikes
    # goes (delay 1) to axon 1, type 2, which feeds three adaptation neurons B_k (k = 1, 2, 3)
    # with weight +1, threshold k, non-reset (gamma = 2; ceiling alpha + 0 = k). B_k therefore
    # spikes on every tick once A has spiked k times, and each B_k spike inhibits A (axon 1+k,
    # type 1, weight -1 for A) one tick later. A's net drive drops 4, 3, 2, 1: its
    # inter-spike interval grows.
    #   t0: 4  t1: 8 -> spike, 0            (B1 reaches 1 at t2 and spikes from t2 on)
    #   t2: 4  t3: 4+4-1 = 7  t4: 7+4-1 = 10 -> spike, 0   (B2 reaches 2 at t5)
    #   t5: 0+4-1 = 3  t6: 3+4-2 = 5  t7: 7  t8: 9 -> spike, 0   (B3 reaches 3 at t9)
    #   t9: 0+4-2 = 2  t10: 2+4-3 = 3, then +1 a tick: t15: 8 -> spike, 0
    #   t16: 1 ... t23: 8 -> spike; then every 8 ticks: 31, 39.
    neurons = make_neurons({
        0: dict(weights=[4, -1, 0, 0], threshold=8, target_axon=1, target_delay=1),
        1: dict(weights=[0, 0, 1, 0], threshold=1, reset_mode=2, target_axon=2),
        2: dict(weights=[0, 0, 1, 0], threshold=2, reset_mode=2, target_axon=3),
        3: dict(weights=[0, 0, 1, 0], threshold=3, reset_mode=2, target_axon=4),
    })
    synapses = [(0, 0), (1, 1), (1, 2), (1, 3), (2, 0), (3, 0), (4, 0)]
    net = one_core(neurons, synapses, types={0: 0, 1: 2, 2: 1, 3: 1, 4: 1})
    ticks = 40
    v, res = trace(engine, net, ticks, every_tick(range(ticks), axon=0), [0, 1, 2, 3])
    a = [4, 0, 4, 7, 0, 3, 5, 7, 0, 2, 3, 4, 5, 6, 7, 0] + [1, 2, 3, 4, 5, 6, 7, 0] * 3
    assert v[:, 0].tolist() == a
    assert spike_ticks(res, 0) == [1, 4, 8, 15, 23, 31, 39]
    isi = np.diff(spike_ticks(res, 0)).tolist()
    assert isi == [3, 4, 7, 8, 8, 8]
    assert v[:, 1].tolist() == [0, 0] + [1] * 38
    assert v[:, 2].tolist() == [0, 0, 1, 1, 1] + [2] * 35
    assert v[:, 3].tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2] + [3] * 31
    assert spike_ticks(res, 1) == list(range(2, 40))
    assert spike_ticks(res, 2) == list(range(5, 40))
    assert spike_ticks(res, 3) == list(range(9, 40))


def test_inhibition_induced_spiking(engine):
    # A neuron that rests at 0 and fires only while inhibited. Inhibition -3 a tick (axon 0,
    # type 1) during ticks 10..19. Leak reversal with lambda = -1 pulls V back to 0;
    # kappa = 0, gamma = 0, beta = 8, R = -8: below -8 the potential bounces to -R = +8, which
    # reaches alpha = 4 on the next tick even after the inhibition and the leak, and a spike
    # resets V to R = -8, which is not below -beta, so without inhibition V relaxes to 0.
    #   t0..9: 0 (sgn(0) = 0: no leak)
    #   t10: -3 +1 = -2   t11: -4   t12: -6   t13: -8 (not < -8)
    #   t14: -11 +1 = -10 < -8 -> 8
    #   t15: 8-3 = 5, -1 -> 4 >= 4: spike, -8   t16: -11+1 = -10 -> 8   t17: spike, -8
    #   t18: 8   t19: spike, -8   t20: -8+1 = -7 (no input) ... t27: 0, then 0.
    net = one_core(make_neurons({0: dict(weights=[0, -3, 0, 0], threshold=4, negative_threshold=8,
                                         reset_value=-8, negative_saturation=False,
                                         leak_reversal=True, leak=-1)}),
                   [(0, 0)], types={0: 1})
    v, res = trace(engine, net, 30, every_tick(range(10, 20), axon=0), [0])
    assert v[:, 0].tolist() == ([0] * 10 + [-2, -4, -6, -8, 8, -8, 8, -8, 8, -8]
                                + [-7, -6, -5, -4, -3, -2, -1, 0, 0, 0])
    assert spike_ticks(res, 0) == [15, 17, 19]


# --- PRNG: stochastic synapses, stochastic leak, threshold noise -------------------------

def test_xorshift_helper_is_right():
    # By hand: 1 ^ (1 << 13) = 0x2001; >> 17 is 0; 0x2001 ^ 0x40020 = 0x42021 = 270369.
    assert xs32(1) == 0x42021 == 270369


@pytest.mark.parametrize("seed", [12345, 0])
def test_stochastic_synapse_single_neuron(engine, seed):
    # One neuron, one stochastic synapse of weight 100 driven every tick: each tick it draws
    # rho = low 8 bits and adds sgn(100) = +1 iff 100 >= rho. Seed 0 means 0x9E3779B9.
    net = one_core(make_neurons({0: dict(weights=[100, 0, 0, 0], stochastic_weights=[1, 0, 0, 0],
                                         threshold=ALPHA_MAX)}), [(0, 0)], seed=seed)
    ticks = 40
    v, res = trace(engine, net, ticks, every_tick(range(ticks), axon=0), [0])
    draw, expected, x = Stream(seed), [], 0
    for _ in range(ticks):
        x += 1 if 100 >= (draw() & 0xFF) else 0
        expected.append(x)
    assert v[:, 0].tolist() == expected
    assert 0 < expected[-1] < ticks  # both outcomes happened: the test is not vacuous
    assert res.counters["stochastic_synaptic_events"].tolist() == [1] * ticks


def test_draw_order_across_neurons_events_leak_and_threshold(engine):
    # Draw order (SPEC section 4): neurons ascending; within a neuron, stochastic synaptic
    # events in axon order, then the leak draw (c = 1, even when lambda or Omega is 0), then the
    # threshold draw (M > 0). Deterministic neurons and deterministic synapses draw nothing.
    # Axons 0 and 3 are type 0, axon 1 type 1, axon 2 type 2. Inputs: axons 0, 1, 2 every tick,
    # axon 3 on even ticks.
    #  n0: s = [200, -60, 7, 0], b = [1, 1, 0, 0] on axons 0..3; stochastic leak +50; M = 3.
    #  n1: deterministic, s = [5, 5, 5, 5] on axons 0, 1: +10 a tick, no draws.
    #  n2: s0 = -30 stochastic on axons 0 and 3.
    #  n3: stochastic leak with lambda = 0 (draws, never changes V).
    #  n4: leak reversal, stochastic leak +5 at V = 0: Omega = 0, draws, never changes V.
    #  Thresholds high and negative thresholds deep: nothing spikes or clamps.
    big = dict(threshold=ALPHA_MAX, negative_threshold=ALPHA_MAX)
    neurons = make_neurons({
        0: dict(weights=[200, -60, 7, 0], stochastic_weights=[1, 1, 0, 0], leak=50,
                stochastic_leak=True, threshold_mask_bits=3, **big),
        1: dict(weights=[5, 5, 5, 5], **big),
        2: dict(weights=[-30, 0, 0, 0], stochastic_weights=[1, 0, 0, 0], **big),
        3: dict(stochastic_leak=True, leak=0, **big),
        4: dict(stochastic_leak=True, leak=5, leak_reversal=True, **big),
    })
    synapses = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (0, 2), (3, 2)]
    types = {0: 0, 1: 1, 2: 2, 3: 0}
    net = one_core(neurons, synapses, types=types, seed=987654321)
    ticks = 12
    inputs = [(t, 0, 0, a) for t in range(ticks) for a in (0, 1, 2, 3) if a != 3 or t % 2 == 0]
    v, res = trace(engine, net, ticks, inputs, [0, 1, 2, 3, 4])

    draw = Stream(987654321)
    V = [0, 0, 0, 0, 0]
    expected = []
    for t in range(ticks):
        even = t % 2 == 0
        # n0: axon 0 (stochastic +200), axon 1 (stochastic -60), axon 2 (+7), axon 3 (+200)
        V[0] += 1 if 200 >= draw() & 0xFF else 0
        V[0] -= 1 if 60 >= draw() & 0xFF else 0
        V[0] += 7
        if even:
            V[0] += 1 if 200 >= draw() & 0xFF else 0
        V[0] += 1 if 50 >= draw() & 0xFF else 0   # leak, Omega = 1
        draw()                                     # threshold draw; eta <= 7 changes nothing
        V[1] += 10                                 # n1 draws nothing
        V[2] -= 1 if 30 >= draw() & 0xFF else 0    # axon 0
        if even:
            V[2] -= 1 if 30 >= draw() & 0xFF else 0  # axon 3
        draw()                                     # n3: leak draw, lambda = 0
        draw()                                     # n4: leak draw, Omega = sgn(0) = 0
        expected.append(list(V))
    assert v.tolist() == expected
    evens = np.arange(ticks) % 2 == 0
    assert res.counters["synaptic_events"].tolist() == np.where(evens, 4 + 2 + 2, 3 + 2 + 1).tolist()
    assert res.counters["stochastic_synaptic_events"].tolist() == np.where(evens, 3 + 2, 2 + 1).tolist()


def test_threshold_noise(engine):
    # Three neurons with M = 4 (eta = low 4 bits of one draw each, neurons in order):
    #  n0: leak +3, alpha 20, reset to 0: spikes when V >= 20 + eta.
    #  n1: leak +3, alpha 20, non-reset: spikes when V >= 20 + eta; ceiling 20 + 15 = 35.
    #  n2: leak -3, beta 20, kappa = 0, gamma = 0, R = 5: V < -(20 + eta) -> V = -5.
    net = one_core(make_neurons({
        0: dict(leak=3, threshold=20, threshold_mask_bits=4),
        1: dict(leak=3, threshold=20, threshold_mask_bits=4, reset_mode=2),
        2: dict(leak=-3, threshold=20, threshold_mask_bits=4, negative_threshold=20,
                negative_saturation=False, reset_value=5),
    }), [], seed=2024)
    ticks = 60
    v, res = trace(engine, net, ticks, [], [0, 1, 2])
    draw = Stream(2024)
    V, spikes, expected = [0, 0, 0], [[], []], []
    for t in range(ticks):
        for j in (0, 1):
            V[j] += 3
            eta = draw() & 0x3FFFF & 15
            if V[j] >= 20 + eta:
                spikes[j].append(t)
                V[j] = 0 if j == 0 else V[j]
            if j == 1:
                V[j] = min(V[j], 20 + 15)
        V[2] -= 3
        eta = draw() & 0x3FFFF & 15
        if V[2] < -(20 + eta):
            V[2] = -5
        expected.append(list(V))
    assert v.tolist() == expected
    assert spike_ticks(res, 0) == spikes[0]
    assert spike_ticks(res, 1) == spikes[1]
    assert 35 in v[:, 1]  # the ceiling was reached
    # The noise mattered: without it, n0 would fire every 7 ticks (V = 21 at tick 6, 13, ...).
    assert spikes[0] != list(range(6, ticks, 7))


# --- leak reversal, resets, saturation -----------------------------------------------------

def test_leak_reversal_and_anti_ringing(engine):
    # All: alpha 1000, kappa = 1, beta 100 (neither threshold is reached). No inputs.
    #  n0: eps 1, lambda -5, V0 12: 7, 2, then 2-5 = -3 flips sign -> 0; then sgn(0) = 0: 0.
    #  n1: eps 1, lambda -5, V0 -12: -7, -2, then -2+5 = 3 flips -> 0; 0.
    #  n2: eps 0, lambda -5, V0 12: 7, 2, -3, -8, -13 (no anti-ringing without eps).
    #  n3: eps 1, lambda +2, V0 3: away from 0: 5, 7, 9, 11, 13.
    #  n4: eps 1, lambda +2, V0 -3: -5, -7, -9, -11, -13.
    #  n5: eps 1, lambda -5, V0 0: stays 0.
    #  n6: eps 1, lambda -5, V0 5: 0 (reaching 0 is not a sign change); 0.
    #  n7: eps 1, stochastic leak -255 (|lambda| >= any 8-bit rho), V0 2: 1, 0, 0, 0, 0.
    common = dict(threshold=1000, negative_threshold=100)
    per = {
        0: dict(leak_reversal=True, leak=-5, initial_potential=12),
        1: dict(leak_reversal=True, leak=-5, initial_potential=-12),
        2: dict(leak=-5, initial_potential=12),
        3: dict(leak_reversal=True, leak=2, initial_potential=3),
        4: dict(leak_reversal=True, leak=2, initial_potential=-3),
        5: dict(leak_reversal=True, leak=-5, initial_potential=0),
        6: dict(leak_reversal=True, leak=-5, initial_potential=5),
        7: dict(leak_reversal=True, leak=-255, stochastic_leak=True, initial_potential=2),
    }
    net = one_core(make_neurons(per, **common), [])
    v, _ = trace(engine, net, 5, [], range(8))
    assert v.T.tolist() == [
        [7, 2, 0, 0, 0],
        [-7, -2, 0, 0, 0],
        [7, 2, -3, -8, -13],
        [5, 7, 9, 11, 13],
        [-5, -7, -9, -11, -13],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0],
    ]


def test_reset_modes_and_negative_threshold(engine):
    # Axon 0 (type 0) and axon 1 (type 1) fire every tick; axon 2 (type 0) on ticks 0..4;
    # axon 3 (type 1) on tick 8. Weights [4, -4, 0, 0] for every neuron.
    #  n0 (axon 0): gamma 0, R 3, alpha 10: 4, 8, 12 -> spike 3, 7, 11 -> spike 3, ...
    #  n1 (axon 0): gamma 1, alpha 10: 4, 8, 12-10 = 2, 6, 10-10 = 0, 4, 8, 2, 6, 0.
    #  n2 (axons 2, 3): gamma 2, alpha 10, M 0 (ceiling 10): 4, 8, 12 -> spike, min(12, 10)
    #      = 10, 14 -> 10, 14 -> 10, then 10 >= 10 spikes on every tick with no input,
    #      t8: 10-4 = 6, t9: 6.
    #  n3 (axon 1): kappa 0, gamma 0, beta 5, R 2: -4, -8 < -5 -> -R = -2, -6 -> -2, ...
    #  n4 (axon 1): kappa 0, gamma 1, beta 5: -4, -8+5 = -3, -7+5 = -2, -6+5 = -1,
    #      -5 (not < -5), -9+5 = -4, -3, -2, -1, -5.
    #  n5 (axon 1): kappa 0, gamma 2, beta 5: -4, -8, ..., -40 (unchanged; ceiling 10 unused).
    #  n6 (axon 1): kappa 1, beta 5: -4, -5, -5, ...
    #  n7 (axon 0): gamma 0, R -6, alpha 10, beta 100: 4, 8, 12 -> spike -6, -2, 2, 6,
    #      10 -> spike -6, -2, 2, 6.
    per = {
        0: dict(reset_mode=0, reset_value=3),
        1: dict(reset_mode=1),
        2: dict(reset_mode=2),
        3: dict(negative_saturation=False, reset_mode=0, reset_value=2),
        4: dict(negative_saturation=False, reset_mode=1),
        5: dict(negative_saturation=False, reset_mode=2),
        6: dict(negative_saturation=True),
        7: dict(reset_mode=0, reset_value=-6, negative_threshold=100),
    }
    neurons = make_neurons(per, weights=[4, -4, 0, 0], threshold=10, negative_threshold=5)
    synapses = [(0, 0), (0, 1), (2, 2), (3, 2), (1, 3), (1, 4), (1, 5), (1, 6), (0, 7)]
    net = one_core(neurons, synapses, types={0: 0, 1: 1, 2: 0, 3: 1})
    ticks = 10
    inputs = (every_tick(range(ticks), 0) + every_tick(range(ticks), 1)
              + every_tick(range(5), 2) + every_tick([8], 3))
    v, res = trace(engine, net, ticks, inputs, range(8))
    assert v.T.tolist() == [
        [4, 8, 3, 7, 3, 7, 3, 7, 3, 7],
        [4, 8, 2, 6, 0, 4, 8, 2, 6, 0],
        [4, 8, 10, 10, 10, 10, 10, 10, 6, 6],
        [-4, -2, -2, -2, -2, -2, -2, -2, -2, -2],
        [-4, -3, -2, -1, -5, -4, -3, -2, -1, -5],
        [-4, -8, -12, -16, -20, -24, -28, -32, -36, -40],
        [-4, -5, -5, -5, -5, -5, -5, -5, -5, -5],
        [4, 8, -6, -2, 2, 6, -6, -2, 2, 6],
    ]
    assert spike_ticks(res, 0) == [2, 4, 6, 8]
    assert spike_ticks(res, 1) == [2, 4, 7, 9]
    assert spike_ticks(res, 2) == [2, 3, 4, 5, 6, 7]
    for j in (3, 4, 5, 6):
        assert spike_ticks(res, j) == []  # no spike on the negative side
    assert spike_ticks(res, 7) == [2, 6]


def test_saturation_at_every_addition(engine):
    # Tick 0: axons 0 (type 0) and 1 (type 1) active, integrated in axon order.
    #  n0: s = [255, -255], V0 = 2^19 - 3 = 524285, gamma 1, alpha 2^18 - 1 = 262143:
    #      sat(524285 + 255) = 524287, -255 -> 524032 >= alpha: spike, 524032 - 262143
    #      = 261889 (without per-event saturation it would be 262142). Tick 1: no input, stays.
    #  n1: s = [-255, 255], V0 = -524285, kappa 0, gamma 2, beta 0: sat(-524540) = -524288,
    #      +255 -> -524033; below -beta but gamma 2 leaves it. Tick 1: stays.
    #  n2: V0 = -2^19, leak -1, kappa 0, gamma 2: sat keeps -524288 every tick.
    #  n3: V0 = 2^19 - 1, leak +1, gamma 1: sat(524288) = 524287, spike, 524287 - 262143 =
    #      262144; tick 1: 262145 >= 262143: spike, 2.
    per = {
        0: dict(weights=[255, -255, 0, 0], initial_potential=V_MAX - 2, reset_mode=1),
        1: dict(weights=[-255, 255, 0, 0], initial_potential=V_MIN + 3, reset_mode=2,
                negative_saturation=False),
        2: dict(initial_potential=V_MIN, leak=-1, reset_mode=2, negative_saturation=False),
        3: dict(initial_potential=V_MAX, leak=1, reset_mode=1),
    }
    net = one_core(make_neurons(per, threshold=ALPHA_MAX), [(0, 0), (1, 0), (0, 1), (1, 1)],
                   types={0: 0, 1: 1})
    v, res = trace(engine, net, 2, [(0, 0, 0, 0), (0, 0, 0, 1)], range(4))
    assert v.T.tolist() == [
        [261889, 261889],
        [-524033, -524033],
        [V_MIN, V_MIN],
        [262144, 2],
    ]
    assert spike_ticks(res, 0) == [0]
    assert spike_ticks(res, 3) == [0, 1]


# --- delays, scheduler, routing, host I/O ----------------------------------------------------

def test_delays_1_and_15_and_host_inputs(engine):
    # n0 (axon 0) -> axon 1, delay 1 -> n1 -> axon 2, delay 15 -> n2 -> host port 0.
    # Input at tick 2 (given twice: the bit is ORed, one event), and at tick 20, which shares
    # slot 4 with tick 4 and must not be written early (no spike at tick 4).
    #  n0 spikes at 2 and 20; n1 at 3 and 21; n2 at 3 + 15 = 18 (36 is after the run).
    neurons = make_neurons({
        0: dict(weights=[1, 0, 0, 0], target_axon=1, target_delay=1),
        1: dict(weights=[1, 0, 0, 0], target_axon=2, target_delay=15),
        2: dict(weights=[1, 0, 0, 0], output_port=0),
    })
    net = one_core(neurons, [(0, 0), (1, 1), (2, 2)])
    inputs = np.array([[2, 0, 0, 0], [2, 0, 0, 0], [20, 0, 0, 0]])
    res = engine(net).run(25, inputs=inputs)
    assert res.spikes.tolist() == [[2, 0, 0, 0], [3, 0, 0, 1], [18, 0, 0, 2],
                                   [20, 0, 0, 0], [21, 0, 0, 1]]
    assert res.spikes.dtype == np.int64
    assert res.output_spikes.shape == (25, 1)
    assert np.flatnonzero(res.output_spikes[:, 0]).tolist() == [18]
    events = np.zeros(25, dtype=np.int64)
    events[[2, 3, 18, 20, 21]] = 1
    assert res.counters["synaptic_events"].tolist() == events.tolist()
    delivered = np.zeros(25, dtype=np.int64)
    delivered[[2, 3, 20, 21]] = 1
    assert res.counters["spikes_delivered"].tolist() == delivered.tolist()
    assert res.counters["hops"].sum() == 0 and res.counters["chip_crossings"].sum() == 0


def test_two_chip_route_hops_and_crossings(engine):
    # chips = (2, 1): x in [0, 128). A = (63, 0) on chip 0, B = (64, 5) on chip 1, C = (0, 0).
    #  A.n0 -> (dx 1, dy 5) = B, delay 1: 6 hops, crosses the x = 64 chip boundary once.
    #  B.n0 -> (dx -64, dy -5) = C, delay 3: 69 hops, crosses back once.
    #  C.n0 -> host port 0.
    # Input to A at tick 0: spikes A@0, B@1, C@4.
    net = network(chips=(2, 1))
    a = make_neurons({0: dict(weights=[1, 0, 0, 0], target_dx=1, target_dy=5, target_axon=0)})
    b = make_neurons({0: dict(weights=[1, 0, 0, 0], target_dx=-64, target_dy=-5, target_axon=0,
                              target_delay=3)})
    c = make_neurons({0: dict(weights=[1, 0, 0, 0], output_port=0)})
    for xy, n in (((63, 0), a), ((64, 5), b), ((0, 0), c)):
        net.add_core(xy, crossbar=crossbar([(0, 0)]), axon_types=axon_types(), neurons=n, seed=7)
    res = engine(net).run(6, inputs=np.array([[0, 63, 0, 0]]))
    assert res.spikes.tolist() == [[0, 63, 0, 0], [1, 64, 5, 0], [4, 0, 0, 0]]
    expect = {
        "synaptic_events": [1, 1, 0, 0, 1, 0],
        "stochastic_synaptic_events": [0] * 6,
        "spikes": [1, 1, 0, 0, 1, 0],
        "spikes_delivered": [1, 1, 0, 0, 0, 0],
        "output_spikes": [0, 0, 0, 0, 1, 0],
        "hops": [6, 69, 0, 0, 0, 0],
        "chip_crossings": [1, 1, 0, 0, 0, 0],
        "neuron_updates": [3 * 256] * 6,
        "active_cores": [1, 1, 0, 0, 1, 0],
    }
    assert {name: res.counters[name].tolist() for name in COUNTER_NAMES} == expect
    assert res.output_spikes[:, 0].tolist() == [False, False, False, False, True, False]


def test_route_crossing_chips_in_both_dimensions(engine):
    # chips = (3, 2). (63, 63) -> (dx 65, dy 1) = (128, 64): x goes from chip column 0 to 2
    # (two boundaries), then y from chip row 0 to 1 (one): 3 crossings, 66 hops.
    net = network(chips=(3, 2))
    src = make_neurons({0: dict(weights=[1, 0, 0, 0], target_dx=65, target_dy=1, target_axon=9)})
    dst = make_neurons({0: dict(weights=[1, 0, 0, 0])})
    net.add_core((63, 63), crossbar=crossbar([(0, 0)]), axon_types=axon_types(), neurons=src, seed=1)
    net.add_core((128, 64), crossbar=crossbar([(9, 0)]), axon_types=axon_types(), neurons=dst, seed=1)
    res = engine(net).run(3, inputs=np.array([[0, 63, 63, 0]]))
    assert res.spikes.tolist() == [[0, 63, 63, 0], [1, 128, 64, 0]]
    assert res.counters["hops"].tolist() == [66, 0, 0]
    assert res.counters["chip_crossings"].tolist() == [3, 0, 0]


@pytest.mark.parametrize("ports", [3, None])
def test_host_output_ports(engine, ports):
    # n0 -> port 0, n1 and n2 -> port 2, n3 has no target (counted in spikes only).
    # All fire on the input ticks 1 and 3. With output_ports=None the system has 1 + 2 = 3.
    neurons = make_neurons({0: dict(output_port=0), 1: dict(output_port=2), 2: dict(output_port=2),
                            3: dict()}, weights=[1, 0, 0, 0])
    net = one_core(neurons, [(0, j) for j in range(4)], output_ports=ports)
    res = engine(net).run(5, inputs=np.array([[1, 0, 0, 0], [3, 0, 0, 0]]))
    counts = [[0, 0, 0], [1, 0, 2], [0, 0, 0], [1, 0, 2], [0, 0, 0]]
    assert res.output_counts.tolist() == counts
    assert res.output_spikes.tolist() == (np.array(counts) > 0).tolist()
    assert res.counters["output_spikes"].tolist() == [0, 3, 0, 3, 0]
    assert res.counters["spikes"].tolist() == [0, 4, 0, 4, 0]
    assert res.counters["spikes_delivered"].tolist() == [0] * 5


def test_spike_records_sorted_and_optional(engine):
    # Two cores that spike on the same ticks: rows are sorted by (tick, x, y, neuron).
    net = network(chips=(1, 1))
    for xy in ((5, 1), (2, 3)):
        net.add_core(xy, crossbar=crossbar([]), axon_types=axon_types(),
                     neurons=make_neurons({7: dict(leak=1, threshold=2), 4: dict(leak=1, threshold=2)}),
                     seed=3)
    res = engine(net).run(4)
    assert res.spikes.tolist() == [[1, 2, 3, 4], [1, 2, 3, 7], [1, 5, 1, 4], [1, 5, 1, 7],
                                   [3, 2, 3, 4], [3, 2, 3, 7], [3, 5, 1, 4], [3, 5, 1, 7]]
    sim = engine(net)
    quiet = sim.run(4, record_spikes=False)
    assert quiet.spikes is None
    assert quiet.counters["spikes"].tolist() == [0, 4, 0, 4]
    later = sim.run(2)
    assert later.start_tick == 4 and later.spikes.tolist() == [[5, 2, 3, 4], [5, 2, 3, 7],
                                                               [5, 5, 1, 4], [5, 5, 1, 7]]


# --- the reference model's two evaluation paths agree ----------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_reference_vectorised_matches_literal(seed):
    """The vectorised reference path equals the literal per-neuron transcription of SPEC."""
    rng = np.random.default_rng(seed)
    net = network(chips=(2, 1))
    coords = [(0, 0), (1, 0), (64, 0)]
    for xy in coords:
        k = 256
        fields = dict(
            weights=rng.integers(-255, 256, (k, 4)),
            stochastic_weights=rng.random((k, 4)) < 0.3,
            leak=rng.integers(-255, 256, k),
            stochastic_leak=rng.random(k) < 0.3,
            leak_reversal=rng.random(k) < 0.3,
            threshold=rng.integers(0, 2000, k),
            negative_threshold=rng.integers(0, 2000, k),
            threshold_mask_bits=np.where(rng.random(k) < 0.3, rng.integers(0, 19, k), 0),
            reset_value=rng.integers(-1000, 1000, k),
            reset_mode=rng.integers(0, 3, k),
            negative_saturation=rng.random(k) < 0.5,
            # Some potentials start next to the rails so saturation happens.
            initial_potential=np.where(rng.random(k) < 0.2, rng.choice([V_MIN, V_MAX], k),
                                       rng.integers(-500, 500, k)),
            target_delay=rng.integers(1, 16, k),
            target_axon=rng.integers(0, 256, k),
        )
        # Route each neuron to a random configured core.
        dest = [coords[i] for i in rng.integers(0, len(coords), k)]
        fields["target_dx"] = np.array([d[0] - xy[0] for d in dest])
        fields["target_dy"] = np.array([d[1] - xy[1] for d in dest])
        net.add_core(xy, crossbar=rng.random((256, 256)) < 0.05,
                     axon_types=rng.integers(0, 4, 256), neurons=make_neurons(**fields),
                     seed=int(rng.integers(0, 2**32)))
    ticks = 20
    inputs = np.array([[t, *coords[rng.integers(len(coords))], rng.integers(256)]
                       for t in range(ticks) for _ in range(30)])
    fast, slow = ReferenceSimulator(net), ReferenceSimulator(net, vectorized=False)
    a, b = fast.run(ticks, inputs), slow.run(ticks, inputs)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.output_counts, b.output_counts)
    for name in COUNTER_NAMES:
        np.testing.assert_array_equal(a.counters[name], b.counters[name], err_msg=name)
    for xy in coords:
        np.testing.assert_array_equal(fast.potentials(xy), slow.potentials(xy))
    assert a.counters["spikes"].sum() > 0 and a.counters["stochastic_synaptic_events"].sum() > 0
