"""The public Python API of DESIGN.md ("The Python API"): names, defaults, shapes and dtypes.

Networks are small (a few cores, a few dozen ticks) and their expected spikes are worked out
by hand from SPEC.md: a neuron with leak 1, threshold a, normal reset to 0 and nothing else
spikes at ticks a-1, 2a-1, 3a-1, ...
"""

from __future__ import annotations

import inspect
import threading
import time

import numpy as np
import pytest

import tnsim

# The defaults of DESIGN.md, in the order of its signature.
DESIGN_DEFAULTS = {
    "weights": 0,
    "stochastic_weights": False,
    "leak": 0,
    "stochastic_leak": False,
    "leak_reversal": False,
    "threshold": 1,
    "negative_threshold": 0,
    "threshold_mask_bits": 0,
    "reset_value": 0,
    "reset_mode": 0,
    "negative_saturation": True,
    "initial_potential": 0,
    "target_dx": 0,
    "target_dy": 0,
    "target_axon": -1,
    "target_delay": 1,
    "output_port": -1,
}
FLAGS = {"stochastic_weights", "stochastic_leak", "leak_reversal", "negative_saturation"}
PER_TYPE = {"weights", "stochastic_weights"}
RANGES = {name: (lo, hi) for name, lo, hi in tnsim._core.neuron_field_ranges()}


def empty_crossbar() -> np.ndarray:
    return np.zeros((256, 256), dtype=bool)


def periodic(thresholds, **kw) -> tnsim.Neurons:
    """Neurons that spike with period ``thresholds[j]`` (first at tick thresholds[j] - 1)."""
    return tnsim.Neurons(leak=1, threshold=thresholds, reset_value=0, reset_mode=0, **kw)


def expected_periodic_spikes(cores, ticks, start=0):
    """Rows (tick, x, y, neuron) of ``periodic`` cores: {(x, y): thresholds}, sorted."""
    rows = [(t, x, y, j)
            for t in range(start, start + ticks)
            for (x, y) in sorted(cores)
            for j, a in enumerate(cores[(x, y)]) if (t + 1) % a == 0]
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def random_neurons(rng: np.random.Generator) -> tnsim.Neurons:
    """Every field random within its range (one target per neuron at most)."""
    values = {}
    for name, (lo, hi) in RANGES.items():
        shape = (256, 4) if name in PER_TYPE else (256,)
        values[name] = rng.integers(lo, hi + 1, size=shape)
        if name in FLAGS:
            values[name] = values[name].astype(bool)
    both = (values["target_axon"] >= 0) & (values["output_port"] >= 0)
    values["output_port"][both] = -1
    return tnsim.Neurons(**values)


def assert_results_equal(a: tnsim.RunResult, b: tnsim.RunResult) -> None:
    assert a.start_tick == b.start_tick and a.ticks == b.ticks
    np.testing.assert_array_equal(a.output_spikes, b.output_spikes)
    np.testing.assert_array_equal(a.output_counts, b.output_counts)
    if a.spikes is None or b.spikes is None:
        assert a.spikes is None and b.spikes is None
    else:
        np.testing.assert_array_equal(a.spikes, b.spikes)
    assert list(a.counters) == list(b.counters)
    for name in a.counters:
        np.testing.assert_array_equal(a.counters[name], b.counters[name], err_msg=name)


def busy_network(seed: int = 3, cores=((0, 0), (1, 0), (0, 1), (2, 2))) -> tnsim.Network:
    """A small recurrent network with stochastic synapses, leaks and thresholds."""
    rng = np.random.default_rng(seed)
    net = tnsim.Network(output_ports=4)
    for k, (x, y) in enumerate(cores):
        tx, ty = cores[(k + 1) % len(cores)]
        neurons = tnsim.Neurons(
            weights=rng.integers(-3, 12, size=(256, 4)),
            stochastic_weights=rng.random((256, 4)) < 0.3,
            leak=rng.integers(-2, 3, size=256),
            stochastic_leak=rng.random(256) < 0.2,
            threshold=rng.integers(1, 40, size=256),
            threshold_mask_bits=rng.integers(0, 4, size=256),
            reset_mode=rng.integers(0, 3, size=256),
            negative_threshold=20,
            target_axon=np.where(np.arange(256) < 200, rng.integers(0, 256, size=256), -1),
            target_dx=tx - x, target_dy=ty - y,
            target_delay=rng.integers(1, 16, size=256),
            output_port=np.where(np.arange(256) < 200, -1, np.arange(256) % 4),
        )
        net.add_core((x, y), rng.random((256, 256)) < 0.1, axon_types=rng.integers(0, 4, size=256),
                     neurons=neurons, seed=int(rng.integers(0, 2**32)))
    return net


def busy_inputs(net: tnsim.Network, ticks: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coords = np.array(net.coordinates())
    n = 40 * ticks
    pick = coords[rng.integers(0, len(coords), size=n)]
    return np.column_stack([rng.integers(0, ticks, size=n), pick, rng.integers(0, 256, size=n)])


# --- package ---------------------------------------------------------------------------------


def test_version_is_a_string():
    assert isinstance(tnsim.__version__, str) and tnsim.__version__
    assert isinstance(tnsim.FORMAT_VERSION, int) and tnsim.FORMAT_VERSION >= 1


def test_public_names():
    for name in ("Network", "Neurons", "Simulator", "RunResult", "load", "run", "reference",
                 "ConfigError", "InputError", "FormatError", "TnsimError", "COUNTER_NAMES"):
        assert hasattr(tnsim, name), name
        assert name in tnsim.__all__


# --- Neurons ----------------------------------------------------------------------------------


def test_neurons_signature_matches_design():
    params = inspect.signature(tnsim.Neurons).parameters
    assert list(params) == list(DESIGN_DEFAULTS)
    assert {k: p.default for k, p in params.items()} == DESIGN_DEFAULTS


def test_neurons_defaults():
    n = tnsim.Neurons()
    fields = n.as_dict()
    assert list(fields) == list(DESIGN_DEFAULTS)
    for name, default in DESIGN_DEFAULTS.items():
        arr = fields[name]
        assert arr.shape == ((256, 4) if name in PER_TYPE else (256,)), name
        assert arr.dtype == (np.bool_ if name in FLAGS else np.int64), name
        assert (arr == default).all(), name


def test_neurons_scalars_and_rows_broadcast():
    n = tnsim.Neurons(weights=[1, -2, 3, -4], stochastic_weights=[True, False, True, False],
                      leak=-7, threshold=np.int16(9), stochastic_leak=1, leak_reversal=np.bool_(True),
                      target_delay=np.array(3))
    assert n.weights.shape == (256, 4) and (n.weights == [1, -2, 3, -4]).all()
    assert n.stochastic_weights.shape == (256, 4) and (n.stochastic_weights == [1, 0, 1, 0]).all()
    assert n.leak.shape == (256,) and (n.leak == -7).all() and n.leak.dtype == np.int64
    assert (n.threshold == 9).all() and n.threshold.dtype == np.int64
    assert n.stochastic_leak.dtype == np.bool_ and n.stochastic_leak.all()
    assert n.leak_reversal.all() and (n.target_delay == 3).all()
    # A scalar per neuron for the per-type fields: a (256, 1) column broadcasts along types.
    m = tnsim.Neurons(weights=np.arange(256)[:, None] % 5)
    assert (m.weights == (np.arange(256) % 5)[:, None]).all()


def test_neurons_copy_their_inputs():
    leak = np.zeros(256, dtype=np.int64)
    n = tnsim.Neurons(leak=leak)
    leak[0] = 5
    assert n.leak[0] == 0
    c = n.copy()
    assert c == n and c is not n
    c.leak[1] = 3
    assert n.leak[1] == 0 and c != n


# --- Network ----------------------------------------------------------------------------------


def test_core_reads_back_exactly_what_was_added():
    rng = np.random.default_rng(11)
    net = tnsim.Network(chips=(2, 1))
    added = {}
    for xy, seed in (((70, 9), 2**32 - 1), ((0, 0), 0), ((5, 63), 123456789)):
        cb = rng.random((256, 256)) < 0.3
        types = rng.integers(0, 4, size=256)
        neurons = random_neurons(rng)
        net.add_core(xy, cb, axon_types=types, neurons=neurons, seed=seed)
        added[xy] = (cb, types, neurons, seed)
    for xy, (cb, types, neurons, seed) in added.items():
        got = net.core(xy)
        assert isinstance(got, tnsim.CoreConfig)
        assert got.crossbar.dtype == np.bool_ and got.crossbar.shape == (256, 256)
        np.testing.assert_array_equal(got.crossbar, cb)
        assert got.axon_types.dtype == np.int64 and got.axon_types.shape == (256,)
        np.testing.assert_array_equal(got.axon_types, types)
        assert got.seed == seed and isinstance(got.seed, int)
        for name, arr in neurons.as_dict().items():
            back = getattr(got.neurons, name)
            assert back.dtype == arr.dtype and back.shape == arr.shape, name
            np.testing.assert_array_equal(back, arr, err_msg=name)
        assert got.neurons == neurons


def test_add_core_defaults():
    net = tnsim.Network()
    cb = empty_crossbar()
    cb[3, 4] = True
    net.add_core((1, 2), crossbar=cb)
    got = net.core((1, 2))
    assert (got.axon_types == 0).all() and got.seed == 1
    assert got.neurons == tnsim.Neurons()
    assert got.crossbar[3, 4] and got.crossbar.sum() == 1
    # 0/1 integers and scalar axon types are accepted.
    net.add_core((2, 2), cb.astype(np.uint8), axon_types=3)
    assert (net.core((2, 2)).axon_types == 3).all()
    np.testing.assert_array_equal(net.core((2, 2)).crossbar, cb)


def test_read_back_is_a_copy():
    net = tnsim.Network()
    cb = empty_crossbar()
    net.add_core((0, 0), cb, neurons=tnsim.Neurons(leak=2))
    cb[0, 0] = True  # changing the caller's array after add_core changes nothing
    got = net.core((0, 0))
    got.crossbar[1, 1] = True
    got.neurons.leak[:] = 9
    again = net.core((0, 0))
    assert not again.crossbar.any() and (again.neurons.leak == 2).all()


def test_coordinates_sorted_and_membership():
    net = tnsim.Network(chips=(2, 2))
    order = [(5, 1), (0, 3), (5, 0), (100, 2), (2, 127), (0, 0)]
    for xy in order:
        net.add_core(xy, empty_crossbar())
    assert net.coordinates() == sorted(order)
    assert all(isinstance(c, tuple) and len(c) == 2 for c in net.coordinates())
    assert len(net) == net.num_cores == len(order)
    assert (5, 1) in net and (1, 5) not in net and "x" not in net and (2**70, 0) not in net
    with pytest.raises(KeyError):
        net.core((1, 5))
    assert net.chips == (2, 2) and net.grid == (128, 128)


def test_output_ports_implicit():
    net = tnsim.Network()
    assert net.output_ports == 0
    net.add_core((0, 0), empty_crossbar())
    assert net.output_ports == 0
    net.add_core((1, 0), empty_crossbar(), neurons=tnsim.Neurons(output_port=np.arange(256) % 5 - 1))
    assert net.output_ports == 4  # ports -1..3 used: 1 + 3
    net.add_core((2, 0), empty_crossbar(), neurons=tnsim.Neurons(output_port=np.r_[np.full(255, -1), 9]))
    assert net.output_ports == 10
    res = tnsim.Simulator(net).run(3)
    assert res.output_spikes.shape == (3, 10) and res.output_counts.shape == (3, 10)


def test_output_ports_explicit():
    net = tnsim.Network(output_ports=7)
    assert net.output_ports == 7
    net.add_core((0, 0), empty_crossbar(), neurons=tnsim.Neurons(output_port=2))
    assert net.output_ports == 7
    sim = tnsim.Simulator(net)
    assert sim.output_ports == 7
    assert sim.run(4).output_spikes.shape == (4, 7)
    assert tnsim.Network(output_ports=0).output_ports == 0


def test_metadata_round_trip(tmp_path):
    net = tnsim.Network()
    assert net.metadata == {}
    meta = {"classes": [3, 1, 4], "name": "five-core ünïcode", "nested": {"a": None, "b": 1.5, "c": True}}
    net.metadata = meta
    assert net.metadata == meta
    assert tnsim.Network.from_bytes(net.to_bytes()).metadata == meta
    net.save(tmp_path / "m.tnsim")
    assert tnsim.load(tmp_path / "m.tnsim").metadata == meta
    net.metadata = {}
    assert net.metadata == {}


def test_network_equality():
    a, b = busy_network(), busy_network()
    assert a == b
    b.metadata = {"x": 1}
    assert a != b
    assert busy_network(seed=4) != a
    assert a != "network"


# --- runs -----------------------------------------------------------------------------------------


def test_spikes_sorted_by_all_four_columns():
    rng = np.random.default_rng(2)
    cores = {xy: rng.integers(1, 6, size=256) for xy in [(2, 1), (0, 3), (0, 1), (1, 0), (63, 63), (1, 1)]}
    net = tnsim.Network()
    for xy in rng.permutation(list(cores)):  # add in a random order
        xy = (int(xy[0]), int(xy[1]))
        net.add_core(xy, empty_crossbar(), neurons=periodic(cores[xy]))
    res = tnsim.Simulator(net).run(12)
    s = res.spikes
    assert s.dtype == np.int64 and s.ndim == 2 and s.shape[1] == 4
    order = np.lexsort(s.T[::-1])  # by tick, then x, y, neuron
    np.testing.assert_array_equal(s, s[order])
    assert len(np.unique(s, axis=0)) == len(s)
    np.testing.assert_array_equal(s, expected_periodic_spikes(cores, 12))
    assert res.counters["spikes"].sum() == len(s)


def test_output_spikes_rows_are_ticks_and_runs_continue():
    # Port k: one neuron of period k + 2; port 0 gets a second neuron of period 2 as well.
    thresholds = np.full(256, 2**18 - 1)
    ports = np.full(256, -1)
    for k in range(3):
        thresholds[10 + k], ports[10 + k] = k + 2, k
    thresholds[20], ports[20] = 2, 0
    net = tnsim.Network()
    net.add_core((4, 4), empty_crossbar(), neurons=periodic(thresholds, output_port=ports))
    sim = tnsim.Simulator(net)
    assert sim.tick == 0
    expected = np.array([[(t + 1) % (k + 2) == 0 for k in range(3)] for t in range(25)])
    first = sim.run(10)
    assert first.start_tick == 0 and first.ticks == 10 and sim.tick == 10
    second = sim.run(15)
    assert second.start_tick == 10 and second.ticks == 15 and sim.tick == 25
    for res in (first, second):
        assert res.output_spikes.shape == (res.ticks, 3) and res.output_spikes.dtype == np.bool_
        assert res.output_counts.shape == (res.ticks, 3) and res.output_counts.dtype == np.int32
        np.testing.assert_array_equal(res.output_spikes, expected[res.start_tick:res.start_tick + res.ticks])
        np.testing.assert_array_equal(res.output_spikes, res.output_counts > 0)
        # Row r is tick start + r: port 0 counts two neurons at its ticks.
        for r in range(res.ticks):
            t = res.start_tick + r
            assert res.output_counts[r, 0] == (2 if (t + 1) % 2 == 0 else 0)
    # Recorded spike ticks are absolute too.
    assert second.spikes[:, 0].min() >= 10 and second.spikes[:, 0].max() <= 24
    np.testing.assert_array_equal(
        np.concatenate([first.spikes, second.spikes]),
        expected_periodic_spikes({(4, 4): thresholds}, 25))


def test_zero_tick_run():
    net = tnsim.Network(output_ports=2)
    net.add_core((0, 0), empty_crossbar())
    sim = tnsim.Simulator(net)
    res = sim.run(0)
    assert res.output_spikes.shape == (0, 2) and res.spikes.shape == (0, 4)
    assert all(v.shape == (0,) for v in res.counters.values()) and sim.tick == 0


def test_split_runs_equal_one_run():
    net = busy_network()
    inputs = busy_inputs(net, 30)
    whole = tnsim.Simulator(net, threads=1).run(30, inputs=inputs)
    sim = tnsim.Simulator(net, threads=1)
    parts = []
    for start, stop in ((0, 7), (7, 8), (8, 8), (8, 30)):
        part = inputs[(inputs[:, 0] >= start) & (inputs[:, 0] < stop)]
        parts.append(sim.run(stop - start, inputs=part))
    assert [p.start_tick for p in parts] == [0, 7, 8, 8]
    np.testing.assert_array_equal(np.concatenate([p.spikes for p in parts]), whole.spikes)
    np.testing.assert_array_equal(np.concatenate([p.output_counts for p in parts]), whole.output_counts)
    for name in tnsim.COUNTER_NAMES:
        np.testing.assert_array_equal(np.concatenate([p.counters[name] for p in parts]), whole.counters[name])
    assert len(whole.spikes) > 100  # the network does something


def test_inputs_forms():
    net = tnsim.Network()
    cb = empty_crossbar()
    cb[5, 0] = True
    net.add_core((0, 0), cb, neurons=tnsim.Neurons(weights=[1, 0, 0, 0]))
    for empty in (None, [], np.zeros((0, 4), dtype=np.int64), ()):
        assert tnsim.Simulator(net).run(3, inputs=empty).spikes.shape == (0, 4)
    for inputs in ([[1, 0, 0, 5]], ((1, 0, 0, 5),), np.array([[1, 0, 0, 5]], dtype=np.int32),
                   np.array([[1, 0, 0, 5], [1, 0, 0, 5]], dtype=np.uint16)):  # duplicates OR
        res = tnsim.Simulator(net).run(3, inputs=inputs)
        np.testing.assert_array_equal(res.spikes, [[1, 0, 0, 0]])
        assert res.counters["synaptic_events"].tolist() == [0, 1, 0]


def test_counters():
    net = busy_network()
    res = tnsim.Simulator(net).run(8, inputs=busy_inputs(net, 8))
    assert tuple(res.counters) == tnsim.COUNTER_NAMES
    for name, values in res.counters.items():
        assert values.shape == (8,) and values.dtype == np.int64, name
    assert (res.counters["neuron_updates"] == 256 * len(net)).all()
    np.testing.assert_array_equal(res.counters["spikes"], np.bincount(res.spikes[:, 0], minlength=8))
    np.testing.assert_array_equal(res.counters["output_spikes"], res.output_counts.sum(axis=1))
    assert res.counter_totals() == {k: int(v.sum()) for k, v in res.counters.items()}


def test_potentials():
    rng = np.random.default_rng(8)
    v0 = rng.integers(-1000, 1000, size=256)
    net = tnsim.Network()
    net.add_core((3, 2), empty_crossbar(),
                 neurons=tnsim.Neurons(initial_potential=v0, leak=2, threshold=2**18 - 1, negative_threshold=2**18 - 1))
    sim = tnsim.Simulator(net)
    p = sim.potentials((3, 2))
    assert p.shape == (256,) and p.dtype == np.int64
    np.testing.assert_array_equal(p, v0)
    sim.run(5)
    np.testing.assert_array_equal(sim.potentials((3, 2)), v0 + 10)
    p[:] = 0  # a copy: the simulator is not changed through it
    np.testing.assert_array_equal(sim.potentials((3, 2)), v0 + 10)


def test_record_spikes_false():
    net = busy_network()
    inputs = busy_inputs(net, 12)
    on = tnsim.Simulator(net).run(12, inputs=inputs, record_spikes=True)
    off = tnsim.Simulator(net).run(12, inputs=inputs, record_spikes=False)
    assert off.spikes is None and on.spikes is not None
    off.spikes = on.spikes
    assert_results_equal(on, off)


def test_threads_do_not_change_results():
    net = busy_network(cores=((0, 0), (1, 0), (0, 1), (2, 2), (5, 7), (63, 0), (9, 9), (0, 63)))
    inputs = busy_inputs(net, 25)
    one = tnsim.Simulator(net, threads=1)
    default = tnsim.Simulator(net)
    assert one.threads == 1 and default.threads == 0
    four = tnsim.Simulator(net, threads=4)
    r1, rd, r4 = (s.run(25, inputs=inputs) for s in (one, default, four))
    assert_results_equal(r1, rd)
    assert_results_equal(r1, r4)
    for xy in net.coordinates():
        np.testing.assert_array_equal(one.potentials(xy), default.potentials(xy))
    # Changing the thread count between runs changes nothing either.
    one.threads, default.threads = 3, 1
    assert_results_equal(one.run(5), default.run(5))


def test_eval_modes_agree():
    net = busy_network()
    inputs = busy_inputs(net, 15)
    fast = tnsim.Simulator(net)
    seq = tnsim.Simulator(net)
    assert fast.eval_mode == "fast"
    seq.eval_mode = "sequential"
    assert seq.eval_mode == "sequential"
    assert_results_equal(fast.run(15, inputs=inputs), seq.run(15, inputs=inputs))


def test_simulator_copies_the_network():
    net = tnsim.Network()
    net.add_core((0, 0), empty_crossbar())
    sim = tnsim.Simulator(net)
    net.add_core((1, 0), empty_crossbar(), neurons=tnsim.Neurons(leak=1))
    res = sim.run(3)
    assert (res.counters["neuron_updates"] == 256).all() and len(res.spikes) == 0


def test_run_function_is_a_one_shot_simulator():
    net = busy_network()
    inputs = busy_inputs(net, 10)
    assert_results_equal(tnsim.run(net, 10, inputs), tnsim.Simulator(net).run(10, inputs))
    assert tnsim.run(net, 10, inputs, record_spikes=False).spikes is None


def test_repr():
    net = busy_network()
    assert "cores=4" in repr(net) and "tick=0" in repr(tnsim.Simulator(net))


# --- the interpreter is released during a run -----------------------------------------------------


def _slow_network() -> tnsim.Network:
    """Eight cores in a ring, every axon active every tick, stochastic synapses (slow path)."""
    net = tnsim.Network()
    for k in range(8):
        net.add_core((k, 0), np.ones((256, 256), dtype=bool), neurons=tnsim.Neurons(
            weights=1, stochastic_weights=True, leak=1, threshold=1,
            target_axon=np.arange(256), target_dx=(k + 1) % 8 - k), seed=k + 1)
    return net


def test_interpreter_released_during_run():
    sim = tnsim.Simulator(_slow_network(), threads=1)
    t = time.perf_counter()
    sim.run(10, record_spikes=False)
    per_tick = max((time.perf_counter() - t) / 10, 1e-6)
    ticks = int(min(max(0.6 / per_tick, 20), 200_000))
    for _attempt in range(4):
        window = {}

        def worker() -> None:
            window["start"] = time.perf_counter()
            sim.run(ticks, record_spikes=False)
            window["end"] = time.perf_counter()

        stamps = []
        th = threading.Thread(target=worker)
        th.start()
        while th.is_alive():
            stamps.append(time.perf_counter())
            sum(range(200))  # pure Python work that needs the interpreter
        th.join()
        start, end = window["start"], window["end"]
        if end - start >= 0.3:
            break
        ticks *= 2  # too fast to tell: run longer
    else:
        pytest.skip("could not make a run last 0.3 s")
    margin = 0.05 * (end - start)
    during = [s for s in stamps if start + margin < s < end - margin]
    # With the interpreter held by the run, this thread could not have run at all meanwhile.
    assert len(during) >= 5, f"only {len(during)} iterations during a {end - start:.2f} s run"
