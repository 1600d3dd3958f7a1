"""The native network file (docs/file-format.md): round trips, atomic saves, and fuzzing.

Layout (version 1): magic "TNSIMNET" (8 bytes), version u32, payload length u64, payload,
CRC-32 (IEEE) of the payload u32; all little-endian.
"""

from __future__ import annotations

import functools
import os
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tnsim

HEADER = 20


def empty_crossbar() -> np.ndarray:
    return np.zeros((256, 256), dtype=bool)


def sample_network() -> tnsim.Network:
    """Three cores with varied values: targets between cores, ports, stochastic parts."""
    rng = np.random.default_rng(21)
    net = tnsim.Network(chips=(2, 1), output_ports=3)
    cores = [(0, 0), (1, 0), (64, 5)]
    for k, (x, y) in enumerate(cores):
        tx, ty = cores[(k + 1) % len(cores)]
        net.add_core((x, y), rng.random((256, 256)) < 0.2, axon_types=rng.integers(0, 4, size=256),
                     neurons=tnsim.Neurons(
                         weights=rng.integers(-255, 256, size=(256, 4)),
                         stochastic_weights=rng.random((256, 4)) < 0.5,
                         leak=rng.integers(-5, 6, size=256), stochastic_leak=rng.random(256) < 0.3,
                         leak_reversal=rng.random(256) < 0.3, threshold=rng.integers(1, 60, size=256),
                         negative_threshold=rng.integers(0, 2**18, size=256),
                         threshold_mask_bits=rng.integers(0, 5, size=256),
                         reset_value=rng.integers(-(2**18) + 1, 2**18, size=256),
                         reset_mode=rng.integers(0, 3, size=256),
                         negative_saturation=rng.random(256) < 0.5,
                         initial_potential=rng.integers(-(2**19), 2**19, size=256),
                         target_dx=tx - x, target_dy=ty - y,
                         target_axon=np.where(np.arange(256) < 240, rng.integers(0, 256, size=256), -1),
                         target_delay=rng.integers(1, 16, size=256),
                         output_port=np.where(np.arange(256) < 240, -1, np.arange(256) % 3)),
                     seed=int(rng.integers(0, 2**32)))
    net.metadata = {"name": "sample", "classes": list(range(10))}
    return net


def sample_inputs(ticks: int = 20) -> np.ndarray:
    rng = np.random.default_rng(4)
    cores = np.array([(0, 0), (1, 0), (64, 5)])
    n = 300
    return np.column_stack([rng.integers(0, ticks, n), cores[rng.integers(0, 3, n)], rng.integers(0, 256, n)])


@pytest.fixture(scope="module")
def net() -> tnsim.Network:
    return sample_network()


@functools.lru_cache(maxsize=None)
def small_bytes() -> bytes:
    """A valid one-core file (about 18 KB), for fuzzing (a function, not a fixture, so that
    hypothesis does not print 18 KB with a falsifying example)."""
    n = tnsim.Network(output_ports=2)
    n.add_core((1, 2), np.eye(256, dtype=bool), axon_types=np.arange(256) % 4,
               neurons=tnsim.Neurons(weights=[3, -1, 0, 2], threshold=5, stochastic_leak=True,
                                     output_port=np.arange(256) % 3 - 1), seed=77)
    n.metadata = {"k": "v"}
    return n.to_bytes()


def assert_runs_equal(a: tnsim.Network, b: tnsim.Network, ticks: int = 20) -> None:
    inputs = sample_inputs(ticks)
    ra, rb = tnsim.run(a, ticks, inputs), tnsim.run(b, ticks, inputs)
    np.testing.assert_array_equal(ra.spikes, rb.spikes)
    np.testing.assert_array_equal(ra.output_counts, rb.output_counts)
    for name in tnsim.COUNTER_NAMES:
        np.testing.assert_array_equal(ra.counters[name], rb.counters[name])
    assert len(ra.spikes) > 0


# --- round trips --------------------------------------------------------------------------------


def test_save_load_round_trip(net, tmp_path):
    path = tmp_path / "net.tnsim"
    net.save(path)
    loaded = tnsim.load(path)
    assert loaded == net
    assert loaded.coordinates() == net.coordinates()
    assert loaded.chips == net.chips and loaded.output_ports == net.output_ports == 3
    assert loaded.metadata == net.metadata
    for xy in net.coordinates():
        a, b = net.core(xy), loaded.core(xy)
        np.testing.assert_array_equal(a.crossbar, b.crossbar)
        np.testing.assert_array_equal(a.axon_types, b.axon_types)
        assert a.neurons == b.neurons and a.seed == b.seed
    assert_runs_equal(net, loaded)


def test_save_accepts_str_and_pathlike(net, tmp_path):
    net.save(str(tmp_path / "a.tnsim"))
    net.save(tmp_path / "b.tnsim")
    assert tnsim.load(str(tmp_path / "b.tnsim")) == tnsim.load(tmp_path / "a.tnsim") == net
    assert (tmp_path / "a.tnsim").read_bytes() == (tmp_path / "b.tnsim").read_bytes() == net.to_bytes()


def test_bytes_round_trip(net):
    data = net.to_bytes()
    assert isinstance(data, bytes)
    again = tnsim.Network.from_bytes(data)
    assert again == net and again.to_bytes() == data
    assert net.to_bytes() == data  # deterministic
    assert tnsim.Network.from_bytes(bytearray(data)) == net
    assert tnsim.Network.from_bytes(memoryview(data)) == net
    assert_runs_equal(net, again)


def test_header_layout(net):
    data = net.to_bytes()
    assert data[:8] == b"TNSIMNET"
    assert struct.unpack_from("<I", data, 8)[0] == tnsim.FORMAT_VERSION == 1
    (length,) = struct.unpack_from("<Q", data, 12)
    assert length == len(data) - HEADER - 4
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[HEADER:-4])


@pytest.mark.parametrize("build", ["empty", "implicit_ports", "big_chips"])
def test_round_trip_edge_networks(build):
    if build == "empty":
        n = tnsim.Network()
    elif build == "implicit_ports":
        n = tnsim.Network()
        n.add_core((63, 63), empty_crossbar(), neurons=tnsim.Neurons(output_port=4))
    else:
        n = tnsim.Network(chips=(256, 3))
        n.add_core((256 * 64 - 1, 3 * 64 - 1), np.ones((256, 256), dtype=bool), axon_types=3, seed=2**32 - 1)
    again = tnsim.Network.from_bytes(n.to_bytes())
    assert again == n and again.output_ports == n.output_ports and again.chips == n.chips
    if build == "implicit_ports":
        # "implicit" survives: the port count still follows the neurons.
        assert again.output_ports == 5
        again.add_core((0, 0), empty_crossbar(), neurons=tnsim.Neurons(output_port=6))
        assert again.output_ports == 7


def test_a_run_does_not_change_the_network(net, tmp_path):
    before = net.to_bytes()
    tnsim.Simulator(net).run(10, inputs=sample_inputs(10))
    assert net.to_bytes() == before


# --- atomic saves ---------------------------------------------------------------------------------


def test_save_over_an_existing_file_leaves_no_temporary(net, tmp_path):
    path = tmp_path / "model.tnsim"
    path.write_bytes(b"old contents")
    other = tnsim.Network()
    other.save(path)
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.tnsim"]
    assert path.read_bytes() == net.to_bytes()
    assert tnsim.load(path) == net


def test_save_into_a_missing_folder(net, tmp_path):
    target = tmp_path / "missing" / "model.tnsim"
    with pytest.raises(OSError) as err:
        net.save(target)
    assert isinstance(err.value, FileNotFoundError)
    assert "missing" in str(err.value)
    assert os.listdir(tmp_path) == []


def test_save_onto_a_folder_leaves_nothing(net, tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        net.save(tmp_path / "folder")
    assert sorted(os.listdir(tmp_path)) == ["folder"]
    assert os.listdir(tmp_path / "folder") == []


@pytest.mark.skipif(os.name != "posix" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs a POSIX read-only folder (root ignores permissions)")
def test_save_into_a_read_only_folder(net, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "model.tnsim").write_bytes(b"keep me")
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            net.save(folder / "model.tnsim")
        assert os.listdir(folder) == ["model.tnsim"]
        assert (folder / "model.tnsim").read_bytes() == b"keep me"
    finally:
        folder.chmod(0o755)


# --- fuzzing: a damaged file is a FormatError, never anything else -----------------------------


def _load_or_format_error(data: bytes) -> None:
    """Load ``data``: fine (then it round-trips) or FormatError; any other exception fails."""
    try:
        loaded = tnsim.Network.from_bytes(data)
    except tnsim.FormatError as e:
        assert str(e)
        return
    assert tnsim.Network.from_bytes(loaded.to_bytes()) == loaded
    try:
        loaded.metadata
    except tnsim.FormatError:
        pass


def _fix_crc(data: bytearray) -> bytes:
    if len(data) >= HEADER + 4:
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[HEADER:-4])))
    return bytes(data)


def _fix_length_and_crc(data: bytearray) -> bytes:
    if len(data) >= HEADER + 4:
        data[12:20] = struct.pack("<Q", len(data) - HEADER - 4)
    return _fix_crc(data)


mutations = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8)


@given(mutations)
def test_fuzz_byte_mutations(muts):
    data = bytearray(small_bytes())
    for where, value in muts:
        data[int(where * len(data))] = value
    _load_or_format_error(bytes(data))


@given(mutations, st.booleans())
def test_fuzz_mutations_with_a_valid_checksum(muts, near_start):
    """With the checksum recomputed, so that the checks of the values behind it are reached."""
    data = bytearray(small_bytes())
    span = 120 if near_start else len(data) - HEADER - 4
    for where, value in muts:
        data[HEADER + int(where * span)] = value
    _load_or_format_error(_fix_crc(data))


@given(st.integers(0, 2**15), st.booleans())
def test_fuzz_truncations(cut, fix):
    data = bytearray(small_bytes()[:cut % (len(small_bytes()) + 1)])
    _load_or_format_error(_fix_length_and_crc(data) if fix else bytes(data))


@given(st.floats(0, 1), st.binary(min_size=1, max_size=40), st.booleans())
def test_fuzz_insertions(where, extra, fix):
    at = int(where * len(small_bytes()))
    data = bytearray(small_bytes()[:at] + extra + small_bytes()[at:])
    _load_or_format_error(_fix_length_and_crc(data) if fix else bytes(data))


@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    _load_or_format_error(b"TNSIMNET" + data)
    _load_or_format_error(data)


def test_sweep_mutations():
    """A deterministic sweep that does not depend on the hypothesis profile: every header byte,
    and thousands of checksum-valid mutations of the payload's first fields and first neurons."""
    for pos in range(HEADER):
        for value in (0, 1, 0x7F, 0x80, 0xFF):
            data = bytearray(small_bytes())
            data[pos] = value
            _load_or_format_error(bytes(data))
    rnd = random.Random(1234)
    (meta_len,) = struct.unpack_from("<I", small_bytes(), HEADER + 16)
    # chips, ports, metadata, core count; x, y, seed, axon types, crossbar; 3 neuron records.
    first_neurons = HEADER + 16 + 4 + meta_len + 4 + 12 + 256 + 256 * 32 + 3 * 40
    for _ in range(3000):
        data = bytearray(small_bytes())
        for _ in range(rnd.randint(1, 3)):
            data[rnd.randrange(HEADER, first_neurons)] = rnd.randrange(256)
        _load_or_format_error(_fix_crc(data))
    for cut in range(0, 200):
        _load_or_format_error(_fix_length_and_crc(bytearray(small_bytes()[:cut])))


def test_loading_a_fuzzed_file_from_disk(tmp_path):
    path = Path(tmp_path) / "bad.tnsim"
    data = bytearray(small_bytes())
    data[HEADER] = 0  # chips_x = 0, with a valid checksum
    path.write_bytes(_fix_crc(data))
    with pytest.raises(tnsim.FormatError, match="chips"):
        tnsim.load(path)
