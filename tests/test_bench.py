"""The benchmark module's workloads are what they claim (benchmarks measure; these check)."""

import numpy as np
import pytest

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


def test_memory_floor_measures_and_names_bad_sizes():
    from tnsim._core import memory_floor

    assert 0 < memory_floor(1, 1, core_ticks=20_000) < 1e6
    for chips, threads, what in [(0, 1, "chips = 0"), (65, 1, "chips = 65"), (1, 0, "threads = 0")]:
        with pytest.raises(tnsim.InputError, match=what):
            memory_floor(chips, threads, core_ticks=1)


def test_floor_table_pairs_engine_and_floor_rows_by_size():
    rows = [{"name": "chip", "threads": 2, "cores": 4096, "ns_per_core_tick": 200.0},
            {"name": "chip", "threads": 1, "cores": 4096, "ns_per_core_tick": 370.0},
            {"name": "scale 4x4 chips", "threads": 2, "cores": 65536, "ns_per_core_tick": 280.0}]
    floor = [{"chips": 1, "threads": 2, "ns_per_core_tick": 100.0},
             {"chips": 16, "threads": 2, "ns_per_core_tick": 140.0}]
    lines = []
    bench._print_floor(rows, floor, lines.append)
    table = [line.split() for line in lines[3:]]
    assert table == [["1", "200.0", "100.0", "100.0", "1.00", "1.00"],
                     ["16", "280.0", "140.0", "140.0", "1.40", "1.40"]]


def test_networks_measured_in_turns_report_median_rounds_and_ratios_per_round():
    small, _ = bench.feedforward_workload(copies=1)
    larger, _ = bench.feedforward_workload(copies=2)
    rows, ratios = bench.measure_in_turns([("small", small), ("larger", larger)], threads=1, rounds=3,
                                          segment_s=0.01, warmup=2)
    assert [m.name for m in rows] == ["small", "larger"] and [m.cores for m in rows] == [5, 10]
    assert all(m.ticks >= 5 and m.seconds > 0 for m in rows)
    assert len(ratios) == 3 and all(len(r) == 2 and r[0] == 1.0 and r[1] > 0 for r in ratios)
    with pytest.raises(ValueError, match="rounds = 0"):
        bench.measure_in_turns([("small", small)], threads=1, rounds=0)


def test_floor_table_prints_the_range_of_ratios_over_rounds():
    rows = [{"name": "scale 1x1 chips", "threads": 2, "cores": 4096, "ns_per_core_tick": 200.0},
            {"name": "scale 4x4 chips", "threads": 2, "cores": 65536, "ns_per_core_tick": 260.0}]
    floor = [{"chips": 1, "threads": 2, "ns_per_core_tick": 100.0},
             {"chips": 16, "threads": 2, "ns_per_core_tick": 140.0}]
    lines = []
    bench._print_floor(rows, floor, lines.append, [[1.0, 1.25], [1.0, 1.35], [1.0, 1.3]])
    table = [line.split() for line in lines[3:]]
    assert table == [["1", "200.0", "100.0", "100.0", "1.00", "1.00", "1.00-1.00"],
                     ["16", "260.0", "140.0", "120.0", "1.30", "1.40", "1.25-1.35"]]


def test_bench_refuses_a_report_path_it_cannot_write_before_measuring(tmp_path):
    for path, what in [(tmp_path / "missing" / "b.json", "does not exist"), (tmp_path, "is a folder")]:
        with pytest.raises(tnsim.InputError, match=what):
            bench.main(out_json=str(path))  # raises at once: no benchmark runs


def test_feedforward_input_lines_equal_the_input_rows():
    net, _ = bench.feedforward_workload(copies=3)
    images = np.random.default_rng(1).random((12, 1024)) < 0.3
    by_rows = tnsim.Simulator(net).run(13, bench.feedforward_inputs(3, images), record_spikes=True)
    sim = tnsim.Simulator(net)
    sim.set_input_lines(*bench.feedforward_lines(3))
    by_lines = sim.run_lines(13, np.column_stack(np.nonzero(images)), record_spikes=True)
    assert by_rows.output_spikes.any()
    assert np.array_equal(by_rows.output_spikes, by_lines.output_spikes)
    assert np.array_equal(by_rows.spikes, by_lines.spikes)
