"""Simulators keep working in a forked child (PyTorch data loaders and multiprocessing fork).

A thread pool does not survive fork(): the engine rebuilds its pool when it finds itself in a
new process, so a child that runs a simulator made (and already run) by its parent neither hangs
nor differs.
"""

import multiprocessing as mp
import sys

import numpy as np
import pytest

import tnsim

from randnet import Knobs, build

K = Knobs(seed=11, n_cores=6, chips=(2, 1), ticks=60, crossbar_density=0.15, stochastic_synapses=0.3,
          stochastic_leak=0.3, leak_reversal=0.3, threshold_noise=0.3, axon_target=0.9, output_target=0.5,
          big_values=0.1, input_rate=0.05)


def _child(sim, queue):
    res = sim.run(K.ticks)
    queue.put((res.spikes, res.counters["synaptic_events"]))


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_simulator_runs_in_a_forked_child():
    net, inputs = build(K)
    sim = tnsim.Simulator(net, threads=2)
    sim.run(K.ticks, inputs)  # the parent's pool exists now
    twin = tnsim.Simulator(net, threads=1)
    twin.run(K.ticks, inputs)
    want = twin.run(K.ticks)

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(sim, queue))
    child.start()
    spikes, events = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(spikes, want.spikes)
    np.testing.assert_array_equal(events, want.counters["synaptic_events"])
