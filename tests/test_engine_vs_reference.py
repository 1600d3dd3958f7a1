"""Property tests: the Rust engine equals the NumPy reference bit for bit.

On random networks of 1-6 cores over 50-300 ticks that exercise every neuron mode, saturation at
both bounds, all delays, multi-chip routes and host inputs and outputs (see randnet.py). Run
many examples with TNSIM_HYPOTHESIS_PROFILE=ci.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

import tnsim
from tnsim.reference import ReferenceSimulator

from compare import assert_same_potentials, assert_same_results, concat_results
from randnet import build, knobs


@given(knobs())
def test_engine_equals_reference(k):
    note(repr(k))
    net, inputs = build(k)
    engine = tnsim.Simulator(net)
    ref = ReferenceSimulator(net)
    assert_same_results(engine.run(k.ticks, inputs), ref.run(k.ticks, inputs), "engine vs reference")
    assert_same_potentials(engine, ref, net.coordinates(), "engine vs reference")


def test_weight_palettes_make_cores_with_and_without_coded_weights():
    """With palettes, some cores' types reach at most 4 weights each (the engine codes those
    in 2 bits) and some reach more (8-bit table); a check on the generator."""
    from randnet import Knobs

    codable = []
    for seed in range(4):
        k = Knobs(seed=seed, n_cores=6, chips=(1, 1), ticks=1, crossbar_density=0.15,
                  stochastic_synapses=0.0, stochastic_leak=0.0, leak_reversal=0.0, threshold_noise=0.0,
                  axon_target=0.5, output_target=0.0, big_values=0.1, input_rate=0.0, weight_palette=1.0)
        net, _ = build(k)
        for xy in net.coordinates():
            core = net.core(xy)
            weights = np.asarray(core.neurons.weights)
            reached = [np.asarray(core.crossbar)[np.asarray(core.axon_types) == g].any(axis=0) for g in range(4)]
            codable.append(all(len(set(weights[reached[g], g].tolist())) <= 4 for g in range(4)))
    assert any(codable) and not all(codable), codable


@given(knobs(max_cores=4, min_ticks=20, max_ticks=120))
def test_sequential_path_equals_fast_path_and_reference(k):
    note(repr(k))
    net, inputs = build(k)
    fast = tnsim.Simulator(net, threads=2)
    plain = tnsim.Simulator(net, threads=1)
    plain.eval_mode = "sequential"
    ref = ReferenceSimulator(net)
    r_fast, r_plain = fast.run(k.ticks, inputs), plain.run(k.ticks, inputs)
    assert_same_results(r_fast, r_plain, "fast vs sequential")
    assert_same_results(r_plain, ref.run(k.ticks, inputs), "sequential vs reference")
    assert_same_potentials(fast, plain, net.coordinates(), "fast vs sequential")


@settings(max_examples=10)
@given(knobs(max_cores=2, min_ticks=5, max_ticks=25))
def test_vectorised_reference_equals_literal_reference(k):
    """The reference's vectorised evaluation equals its literal, neuron-by-neuron one."""
    note(repr(k))
    net, inputs = build(k)
    vec, lit = ReferenceSimulator(net, vectorized=True), ReferenceSimulator(net, vectorized=False)
    assert_same_results(vec.run(k.ticks, inputs), lit.run(k.ticks, inputs), "vectorised vs literal")
    assert_same_potentials(vec, lit, net.coordinates(), "vectorised vs literal")


@given(knobs(max_cores=4, min_ticks=20, max_ticks=150), st.data())
def test_split_runs_equal_one_run(k, data):
    """Several run calls (inputs given to the call that covers their tick) equal one long run."""
    note(repr(k))
    net, inputs = build(k)
    cuts = sorted(data.draw(st.lists(st.integers(0, k.ticks), max_size=4), label="cuts"))
    bounds = [0, *cuts, k.ticks]
    whole = tnsim.Simulator(net).run(k.ticks, inputs)
    sim = tnsim.Simulator(net)
    ref = ReferenceSimulator(net)
    parts, ref_parts = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        chunk = inputs[(inputs[:, 0] >= lo) & (inputs[:, 0] < hi)]
        parts.append(sim.run(hi - lo, chunk))
        ref_parts.append(ref.run(hi - lo, chunk))
    assert_same_results(concat_results(parts), whole, "split vs whole")
    assert_same_results(concat_results(ref_parts), whole, "reference split vs engine whole")
    assert_same_potentials(sim, ref, net.coordinates(), "split engine vs split reference")


@given(knobs(max_cores=6, min_ticks=20, max_ticks=100))
def test_thread_count_does_not_change_results(k):
    net, inputs = build(k)
    results = [tnsim.Simulator(net, threads=t).run(k.ticks, inputs) for t in (1, 2, 3)]
    for r in results[1:]:
        assert_same_results(results[0], r, "threads")


def test_random_networks_reach_every_corner():
    """The generator really produces what the properties claim to cover (a check on the test)."""
    from randnet import Knobs

    k = Knobs(seed=7, n_cores=4, chips=(2, 2), ticks=200, crossbar_density=0.15,
              stochastic_synapses=0.3, stochastic_leak=0.3, leak_reversal=0.3, threshold_noise=0.3,
              axon_target=0.9, output_target=0.5, big_values=0.5, input_rate=0.1)
    net, inputs = build(k)
    ref = ReferenceSimulator(net)
    res = ref.run(k.ticks, inputs)
    tot = res.counter_totals()
    assert tot["stochastic_synaptic_events"] > 0 and tot["spikes_delivered"] > 0
    assert tot["chip_crossings"] > 0 and tot["output_spikes"] > 0
    sat = ref.saturations()
    assert sat["low"] > 0 and sat["high"] > 0, sat
    modes = np.concatenate([net.core(xy).neurons.reset_mode for xy in net.coordinates()])
    assert set(modes.tolist()) == {0, 1, 2}
    delays = np.concatenate([net.core(xy).neurons.target_delay for xy in net.coordinates()])
    assert set(delays.tolist()) == set(range(1, 16))


@given(knobs(max_cores=4, min_ticks=20, max_ticks=120))
def test_instruction_sets_agree(k):
    """The tick compiled for each instruction set the CPU has gives the same results."""
    note(repr(k))
    net, inputs = build(k)
    results = {}
    for isa in ("baseline", "avx2", "avx512"):
        sim = tnsim.Simulator(net, threads=1)
        sim.isa = isa
        results[sim.isa] = sim.run(k.ticks, inputs)  # an ISA the CPU lacks falls back
    first = results.pop("baseline")
    for isa, res in results.items():
        assert_same_results(first, res, f"baseline vs {isa}")


@given(knobs(max_cores=4, min_ticks=10, max_ticks=80), st.data())
def test_batch_runs_equal_separate_runs(k, data):
    """run_batch gives, for every item, what a separate run from the same state gives."""
    note(repr(k))
    net, inputs = build(k)
    warm = data.draw(st.integers(0, 20), label="warm")
    sim = tnsim.Simulator(net)
    sim.run(warm)  # batch items start from a non-initial state
    rng = np.random.default_rng(k.seed)
    batch = []
    for _ in range(data.draw(st.integers(1, 5), label="items")):
        rows = inputs[rng.random(len(inputs)) < 0.5].copy()
        rows[:, 0] += warm
        batch.append(rows)
    results = sim.run_batch(k.ticks, batch, record_spikes=True)
    assert sim.tick == warm  # the simulator itself does not advance
    for item, res in zip(batch, results):
        alone = tnsim.Simulator(net, threads=1)
        alone.run(warm)
        assert_same_results(res, alone.run(k.ticks, item), "batch item vs separate run")


def test_batch_errors_name_the_item():
    net, inputs = build(__import__("randnet").Knobs(
        seed=1, n_cores=1, chips=(1, 1), ticks=10, crossbar_density=0.1, stochastic_synapses=0.0,
        stochastic_leak=0.0, leak_reversal=0.0, threshold_noise=0.0, axon_target=0.5, output_target=0.5,
        big_values=0.0, input_rate=0.1))
    sim = tnsim.Simulator(net)
    bad = inputs.copy()
    bad[0, 0] = 99  # beyond the run
    import pytest

    with pytest.raises(tnsim.InputError, match="batch item 1"):
        sim.run_batch(10, [inputs, bad])
