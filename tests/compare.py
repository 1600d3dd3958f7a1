"""Assertions that two runs (engine, reference, another mode) produced the same results."""

from __future__ import annotations

import numpy as np

from tnsim.results import COUNTER_NAMES, RunResult


def assert_same_results(a: RunResult, b: RunResult, what: str = "") -> None:
    assert a.start_tick == b.start_tick and a.ticks == b.ticks, what
    np.testing.assert_array_equal(a.output_counts, b.output_counts, err_msg=f"{what}: output_counts")
    np.testing.assert_array_equal(a.output_spikes, b.output_spikes, err_msg=f"{what}: output_spikes")
    if a.spikes is None or b.spikes is None:
        assert a.spikes is None and b.spikes is None, what
    else:
        np.testing.assert_array_equal(a.spikes, b.spikes, err_msg=f"{what}: spikes")
    for name in COUNTER_NAMES:
        np.testing.assert_array_equal(a.counters[name], b.counters[name], err_msg=f"{what}: counter {name}")


def assert_same_potentials(sim_a, sim_b, coords, what: str = "") -> None:
    for xy in coords:
        np.testing.assert_array_equal(sim_a.potentials(xy), sim_b.potentials(xy), err_msg=f"{what}: potentials of {xy}")


def concat_results(parts) -> RunResult:
    """Join consecutive runs into one result, as if it had been one run."""
    return RunResult(
        start_tick=parts[0].start_tick,
        ticks=sum(p.ticks for p in parts),
        output_spikes=np.concatenate([p.output_spikes for p in parts]),
        output_counts=np.concatenate([p.output_counts for p in parts]),
        spikes=np.concatenate([p.spikes for p in parts]),
        counters={n: np.concatenate([p.counters[n] for p in parts]) for n in COUNTER_NAMES},
    )
