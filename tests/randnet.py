"""Random networks that exercise every neuron mode, for property tests and benchmarks.

Hypothesis draws the *knobs* (how many cores, which features, densities, run length) and a
seed; numpy expands them into full 256 x 256 cores. That keeps examples cheap to generate while
hypothesis still steers towards the corners (every feature on or off, extreme values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from hypothesis import strategies as st

import tnsim

V_MIN, V_MAX = -(1 << 19), (1 << 19) - 1
T_MAX = (1 << 18) - 1


@dataclass(frozen=True)
class Knobs:
    seed: int
    n_cores: int
    chips: Tuple[int, int]
    ticks: int
    crossbar_density: float
    stochastic_synapses: float  # probability that a (neuron, type) synapse is stochastic
    stochastic_leak: float
    leak_reversal: float
    threshold_noise: float
    axon_target: float  # probability that a neuron targets an axon
    output_target: float  # probability that a neuron (without axon target) targets a port
    big_values: float  # probability of extreme parameter values (saturation, big thresholds)
    input_rate: float  # probability that an (axon, tick) of a core gets a host input
    # probability that a core draws each type's weights from a palette of 1-5 values (the
    # engine codes a core's weights in 2 bits when its types reach at most 4 values each)
    weight_palette: float = 0.0


@st.composite
def knobs(draw, max_cores: int = 6, min_ticks: int = 50, max_ticks: int = 300) -> Knobs:
    prob = st.sampled_from([0.0, 0.05, 0.3, 1.0])
    return Knobs(
        seed=draw(st.integers(0, 2**32 - 1)),
        n_cores=draw(st.integers(1, max_cores)),
        chips=draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2)])),
        ticks=draw(st.integers(min_ticks, max_ticks)),
        crossbar_density=draw(st.sampled_from([0.005, 0.03, 0.15, 0.5])),
        stochastic_synapses=draw(prob),
        stochastic_leak=draw(prob),
        leak_reversal=draw(prob),
        threshold_noise=draw(prob),
        axon_target=draw(st.sampled_from([0.0, 0.5, 0.9])),
        output_target=draw(st.sampled_from([0.0, 0.5])),
        big_values=draw(st.sampled_from([0.0, 0.1, 0.5])),
        input_rate=draw(st.sampled_from([0.0, 0.002, 0.02, 0.1])),
        weight_palette=draw(st.sampled_from([0.0, 0.5, 1.0])),
    )


def _positions(rng: np.random.Generator, k: Knobs) -> List[Tuple[int, int]]:
    """Distinct core positions, clustered around chip boundaries when there are several chips."""
    gx, gy = 64 * k.chips[0], 64 * k.chips[1]
    xs = [62, 63, 64, 65] if k.chips[0] > 1 else [0, 1, 2, 63]
    ys = [62, 63, 64, 65] if k.chips[1] > 1 else [0, 1, 2, 63]
    out: List[Tuple[int, int]] = []
    while len(out) < k.n_cores:
        if rng.random() < 0.8:
            p = (int(rng.choice(xs)), int(rng.choice(ys)))
        else:
            p = (int(rng.integers(0, gx)), int(rng.integers(0, gy)))
        if p not in out:
            out.append(p)
    return out


def _values(rng, n, small: Tuple[int, int], full: Tuple[int, int], p_big: float) -> np.ndarray:
    """n ints: mostly from `small`, with probability p_big from `full` or its end points."""
    v = rng.integers(small[0], small[1] + 1, size=n)
    big = rng.random(n) < p_big
    extreme = rng.choice([full[0], full[1]], size=n)
    wide = rng.integers(full[0], full[1] + 1, size=n)
    return np.where(big, np.where(rng.random(n) < 0.5, extreme, wide), v)


def random_neurons(rng: np.random.Generator, k: Knobs, here: Tuple[int, int],
                   positions: List[Tuple[int, int]]) -> tnsim.Neurons:
    n = 256
    pb = k.big_values
    mask_bits = np.where(rng.random(n) < k.threshold_noise, rng.integers(1, 19, size=n), 0)
    # Axon targets point at configured cores (possibly this one); the rest may go to a port.
    has_axon = rng.random(n) < k.axon_target
    tgt = rng.integers(0, len(positions), size=n)
    dx = np.array([positions[t][0] - here[0] for t in tgt])
    dy = np.array([positions[t][1] - here[1] for t in tgt])
    has_port = ~has_axon & (rng.random(n) < k.output_target)
    weights = _values(rng, (n, 4), (-4, 6), (-255, 255), pb)
    if rng.random() < k.weight_palette:
        for g in range(4):
            palette = _values(rng, int(rng.integers(1, 6)), (-4, 6), (-128, 127), pb)
            stray = weights[:, g].copy()
            weights[:, g] = rng.choice(palette, n)
            if rng.random() < 0.2:  # one stray value (it counts only where the type reaches the neuron)
                j = rng.integers(0, n)
                weights[j, g] = stray[j]
    return tnsim.Neurons(
        weights=weights,
        stochastic_weights=rng.random((n, 4)) < k.stochastic_synapses,
        leak=_values(rng, n, (-3, 3), (-255, 255), pb),
        stochastic_leak=rng.random(n) < k.stochastic_leak,
        leak_reversal=rng.random(n) < k.leak_reversal,
        threshold=_values(rng, n, (0, 40), (0, T_MAX), pb),
        negative_threshold=_values(rng, n, (0, 40), (0, T_MAX), pb),
        threshold_mask_bits=mask_bits,
        reset_value=_values(rng, n, (-10, 10), (-T_MAX, T_MAX), pb),
        reset_mode=rng.integers(0, 3, size=n),
        negative_saturation=rng.random(n) < 0.5,
        initial_potential=_values(rng, n, (-50, 50), (V_MIN, V_MAX), pb),
        target_dx=np.where(has_axon, dx, 0),
        target_dy=np.where(has_axon, dy, 0),
        target_axon=np.where(has_axon, rng.integers(0, 256, size=n), -1),
        target_delay=rng.integers(1, 16, size=n),
        output_port=np.where(has_port, rng.integers(0, 8, size=n), -1),
    )


def build(k: Knobs) -> Tuple[tnsim.Network, np.ndarray]:
    """The network and host inputs (rows (tick, x, y, axon), ticks 0..k.ticks-1) of knobs k."""
    rng = np.random.default_rng(k.seed)
    positions = _positions(rng, k)
    net = tnsim.Network(chips=k.chips)
    for xy in positions:
        net.add_core(
            xy,
            crossbar=rng.random((256, 256)) < k.crossbar_density,
            axon_types=rng.integers(0, 4, size=256),
            neurons=random_neurons(rng, k, xy, positions),
            seed=int(rng.integers(0, 2**32)),
        )
    rows = []
    if k.input_rate > 0:
        for (x, y) in positions:
            hits = np.argwhere(rng.random((k.ticks, 256)) < k.input_rate)
            rows.append(np.column_stack([hits[:, 0], np.full(len(hits), x), np.full(len(hits), y), hits[:, 1]]))
    inputs = np.concatenate(rows) if rows else np.zeros((0, 4), dtype=np.int64)
    return net, inputs.astype(np.int64)
