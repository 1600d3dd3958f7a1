"""Saved simulator state: a run interrupted and resumed from a file equals one uninterrupted run."""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import tnsim

from compare import assert_same_potentials, assert_same_results, concat_results
from randnet import build, knobs


@given(knobs(max_cores=4, min_ticks=20, max_ticks=120), st.data())
def test_resumed_run_equals_uninterrupted_run(tmp_path_factory, k, data):
    note(repr(k))
    net, inputs = build(k)
    cut = data.draw(st.integers(0, k.ticks), label="cut")
    whole_sim = tnsim.Simulator(net)
    whole = whole_sim.run(k.ticks, inputs)

    first = tnsim.Simulator(net)
    part1 = first.run(cut, inputs[inputs[:, 0] < cut])
    path = tmp_path_factory.mktemp("state") / "sim.tnstate"
    first.save_state(path)
    del first  # the resumed simulator must not depend on the old one

    resumed = tnsim.Simulator.load_state(path)
    assert resumed.tick == cut
    assert resumed.network == net
    part2 = resumed.run(k.ticks - cut, inputs[inputs[:, 0] >= cut])
    assert_same_results(concat_results([part1, part2]), whole, "resumed vs whole")
    assert_same_potentials(resumed, whole_sim, net.coordinates(), "resumed vs whole")


def _small_state(tmp_path):
    from randnet import Knobs

    k = Knobs(seed=3, n_cores=2, chips=(1, 1), ticks=30, crossbar_density=0.1, stochastic_synapses=0.3,
              stochastic_leak=0.3, leak_reversal=0.3, threshold_noise=0.3, axon_target=0.9, output_target=0.5,
              big_values=0.1, input_rate=0.05)
    net, inputs = build(k)
    sim = tnsim.Simulator(net)
    sim.run(k.ticks, inputs)
    path = tmp_path / "s.tnstate"
    sim.save_state(path)
    return sim, path


def test_state_file_round_trips_every_part(tmp_path):
    sim, path = _small_state(tmp_path)
    again = tnsim.Simulator.load_state(path, threads=1)
    assert again.tick == sim.tick and again.threads == 1
    for xy in sim.network.coordinates():
        np.testing.assert_array_equal(again.potentials(xy), sim.potentials(xy))
    # Same future, including PRNG draws and spikes in flight.
    assert_same_results(again.run(40), sim.run(40), "after load")


def test_save_replaces_atomically_and_leaves_no_temporary(tmp_path):
    sim, path = _small_state(tmp_path)
    sim.run(5)
    sim.save_state(path)  # over the existing file
    assert sorted(os.listdir(tmp_path)) == ["s.tnstate"]
    with pytest.raises(OSError):
        sim.save_state(tmp_path / "missing-folder" / "s.tnstate")
    assert sorted(os.listdir(tmp_path)) == ["s.tnstate"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "version", "magic", "empty", "trailing"])
def test_damaged_state_files_are_format_errors(tmp_path, damage):
    _, path = _small_state(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "version":
        data[8:12] = (7).to_bytes(4, "little")
    elif damage == "magic":
        data[:8] = b"TNSIMNET"
    elif damage == "empty":
        data = bytearray()
    else:
        data += b"\0"
    path.write_bytes(bytes(data))
    with pytest.raises(tnsim.FormatError) as e:
        tnsim.Simulator.load_state(path)
    assert "state" in str(e.value)


def test_missing_state_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        tnsim.Simulator.load_state(tmp_path / "nope.tnstate")


@given(st.data())
def test_mutated_state_files_never_crash(tmp_path_factory, data):
    """Random byte changes, truncations and insertions give FormatError or a valid simulator."""
    tmp = tmp_path_factory.mktemp("fuzz")
    _, path = _small_state(tmp)
    blob = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        kind = data.draw(st.sampled_from(["set", "cut", "insert"]), label="kind")
        pos = data.draw(st.integers(0, max(0, len(blob) - 1)), label="pos")
        if kind == "set" and blob:
            blob[pos] = data.draw(st.integers(0, 255), label="byte")
        elif kind == "cut":
            blob = blob[:pos]
        else:
            blob[pos:pos] = data.draw(st.binary(max_size=16), label="bytes")
    if data.draw(st.booleans(), label="reframe") and len(blob) >= 24:
        # Keep the frame valid (length and checksum) so the parser's own checks are reached.
        payload = bytes(blob[20:-4])
        blob = blob[:8] + bytearray((1).to_bytes(4, "little") + len(payload).to_bytes(8, "little")) \
            + bytearray(payload) + bytearray(zlib.crc32(payload).to_bytes(4, "little"))
    path.write_bytes(bytes(blob))
    try:
        tnsim.Simulator.load_state(path)
    except tnsim.FormatError:
        pass
