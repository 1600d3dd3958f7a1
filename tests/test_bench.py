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
                     ["16", "280.0", "140.0", "140.0", "1.40", "1.40", "1.40"]]


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
                     ["16", "260.0", "140.0", "120.0", "1.30", "1.40", "1.30", "1.25-1.35"]]


def test_floor_table_gives_each_size_against_the_one_before_and_the_in_cache_size():
    # Ratio columns in the order of the names: one chip first, the in-cache size last.
    names = ["scale 1x1 chips", "scale 4x4 chips", "scale 8x4 chips", "scale 16x16 cores"]
    rows = [{"name": "scale 1x1 chips", "threads": 2, "cores": 4096, "ns_per_core_tick": 200.0,
             "bytes_per_core": 11240.0},
            {"name": "scale 4x4 chips", "threads": 2, "cores": 65536, "ns_per_core_tick": 260.0,
             "bytes_per_core": 11240.0},
            {"name": "scale 8x4 chips", "threads": 2, "cores": 131072, "ns_per_core_tick": 265.2,
             "bytes_per_core": 11240.0},
            {"name": "scale 16x16 cores", "threads": 2, "cores": 256, "ns_per_core_tick": 190.0,
             "bytes_per_core": 11240.0}]
    floor = [{"chips": 1, "threads": 2, "ns_per_core_tick": 100.0},
             {"chips": 16, "threads": 2, "ns_per_core_tick": 140.0},
             {"chips": 32, "threads": 2, "ns_per_core_tick": 142.0}]
    lines = []
    rounds = [[1.0, 1.3, 1.32, 0.9], [1.0, 1.25, 1.3, 0.96]]
    bench._print_floor(rows, floor, lines.append, rounds, names)
    table = [line.split() for line in lines[3:6]]
    assert table == [["1", "200.0", "100.0", "100.0", "1.00", "1.00", "1.00-1.00"],
                     ["16", "260.0", "140.0", "120.0", "1.30", "1.40", "1.30", "1.25-1.30"],
                     ["32", "265.2", "142.0", "123.2", "1.33", "1.42", "1.02", "1.30-1.32"]]
    assert lines[6].split() == ["256", "cores,", "state", "in", "cache", "(2.9", "MB):",
                                "engine", "190.0", "ns,", "0.95", "times", "one", "chip", "0.90-0.96"]


def test_chip_workload_in_a_block_and_far_targets_within_a_routes_reach():
    net = bench.chip_workload((1, 1), block=4)
    assert net.num_cores == 16 and sorted(net.coordinates()) == [(x, y) for x in range(4) for y in range(4)]
    for xy in net.coordinates():
        n = net.core(xy).neurons
        assert all(0 <= xy[0] + dx < 4 and 0 <= xy[1] + dy < 4 for dx, dy in zip(n.target_dx, n.target_dy))
    for bad in [dict(chips=(2, 1), block=4), dict(block=0), dict(block=65), dict(block=4, active_cores=2)]:
        with pytest.raises(ValueError, match="block"):
            bench.chip_workload(**bad)
    rng = np.random.default_rng(0)
    # Up to 4 chips along an axis, the whole axis; beyond, within -256..255 of the source.
    assert set(bench._far(rng, 5, 256, 20_000)) == set(range(256))
    for at in (0, 300, 511):
        far = bench._far(rng, at, 512, 20_000)
        assert far.min() == max(0, at - 256) and far.max() == min(511, at + 255)


def test_chip_workload_spreads_thresholds_into_dynamics_of_their_own():
    net = bench.chip_workload((1, 1), block=2, stochastic=True, threshold_spread=4)
    for xy in net.coordinates():
        thresholds = np.asarray(net.core(xy).neurons.threshold)
        assert set(np.unique(thresholds)) == set(range(21, 30)), xy  # 25 +- 4: nine dynamics
    plain = bench.chip_workload((1, 1), block=2, stochastic=True)
    assert all(np.all(np.asarray(plain.core(xy).neurons.threshold) == 25) for xy in plain.coordinates())
    res = tnsim.Simulator(net).run(5)
    assert res.counter_totals()["neuron_updates"] == 5 * 4 * 256
    for bad in (-1, 25):
        with pytest.raises(ValueError, match="threshold_spread"):
            bench.chip_workload((1, 1), block=2, threshold_spread=bad)


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


def test_cli_bench_passes_large_on(monkeypatch):
    from tnsim import cli

    seen = {}
    monkeypatch.setattr(bench, "main", lambda **kw: seen.update(kw) or 0)
    args = cli.build_parser().parse_args(["bench", "--large", "--quick"])
    assert args.func(args) == 0 and seen == {"out_json": None, "quick": True, "large": True}


def test_targets_summary_says_met_or_not_from_the_rows():
    def row(name, cores, ns, ticks_per_s=0.0, bytes_per_core=10_708.0):
        return {"name": name, "threads": 2, "cores": cores, "ns_per_core_tick": ns, "ticks_per_s": ticks_per_s,
                "bytes_per_core": bytes_per_core}
    report = {"threads": 2,
              "rows": [row("chip", 4096, 132.0, ticks_per_s=1_847.0), row("chip", 4096, 257.0) | {"threads": 1},
                       row("chip stochastic", 4096, 550.0, ticks_per_s=443.6),
                       row("chip 64 active", 4096, 13.2),
                       row("scale 1x1 chips", 4096, 130.0), row("scale 4x4 chips", 65_536, 149.5),
                       row("scale 16x16 cores", 256, 128.0)],
              "memory_floor": [{"chips": 1, "threads": 2, "ns_per_core_tick": 35.0},
                               {"chips": 16, "threads": 2, "ns_per_core_tick": 70.0}]}
    lines = []
    bench._print_targets(report, lines.append)
    assert lines[:2] == ["", "targets (docs/performance.md):"]
    assert lines[2:] == [
        "  met       full chip at real time: 1,847 ticks/s on 2 threads (>= 1,000)",
        "  met       16 chips, state per core: 65,536 cores, 10,708 bytes per core (<= 12,288)",
        "  NOT MET   time per tick linear in cores: 16 chips 1.15 times one chip's per core-tick "
        "(<= 1.05; memory floor 2.00 times)",
        "  reported  quiet cores: 13.2 ns per core-tick, 64 of 4096 cores driven (0.10 of all driven)",
        "  reported  stochastic chip: 444 ticks/s",
    ]
    # Slower than real time, over the state limit, linear: each verdict follows its number.
    report["rows"][0]["ticks_per_s"] = 999.0
    report["rows"][5].update(ns_per_core_tick=133.0, bytes_per_core=12_289.0)
    lines = []
    bench._print_targets(report, lines.append)
    assert [line.split()[0] for line in lines[2:5]] == ["NOT", "NOT", "met"]
    # With rounds, every round decides: all above, all within, or some each way.
    report["scale_names"] = ["scale 1x1 chips", "scale 4x4 chips", "scale 16x16 cores"]
    for rounds, verdict in [([1.12, 1.15, 1.16], "NOT MET"), ([0.99, 1.02, 1.04], "met"),
                            ([0.94, 0.98, 1.16], "unclear")]:
        report["scale_ratio_rounds"] = [[1.0, r, 1.0] for r in rounds]
        lines = []
        bench._print_targets(report, lines.append)
        assert lines[4].startswith(f"  {verdict}") and f"rounds {min(rounds):.2f}-{max(rounds):.2f}" in lines[4]
    # The size in cache slower than one chip: other work on the machine, whatever the rounds say.
    report["scale_ratio_rounds"] = [[1.0, 0.95, 1.0], [1.0, 0.97, 1.12]]
    lines = []
    bench._print_targets(report, lines.append)
    assert lines[4].startswith("  unclear") and "size in cache ran up to 1.12 times one chip" in lines[4]
