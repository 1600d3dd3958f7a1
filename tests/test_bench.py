"""The benchmark module's workloads are what they claim (benchmarks measure; these check)."""

import numpy as np

import tnsim
from tnsim import bench


def test_feedforward_engine_equals_matrix_products():
    out = bench.compare_feedforward(copies=2, images=60, log=lambda _: None)
    assert out["cores"] == 10 and out["images"] == 60  # equality itself is asserted inside


def test_feedforward_neurons_are_memoryless():
    net, _ = bench.feedforward_workload(copies=1)
    sim = tnsim.Simulator(net)
    images = np.random.default_rng(0).random((20, 1024)) < 0.3
    sim.run(21, bench.feedforward_inputs(1, images))
    for xy in net.coordinates():
        assert not sim.potentials(xy).any()  # SPEC section 8: V is 0 after every tick


def test_measure_reports_honest_rates():
    net, _ = bench.feedforward_workload(copies=1)
    m = bench.measure("ff", net, ticks=30, threads=1, warmup=0)
    assert m.cores == 5 and m.ticks == 30 and m.seconds > 0
    assert 0 <= m.firing_rate <= 1 and m.bytes_per_core > 8192  # the crossbar alone is 8 KiB
