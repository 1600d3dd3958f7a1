"""Spike files (docs/spike-files.md): round trips, the text layout, validation, hostile files."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tnsim
from fuzz_spike_files import (  # noqa: F401  (the fuzz tests are collected here)
    EVENTS,
    RASTER,
    markers,
    npz_bytes,
    test_fuzz_spikes_npz_mutations,
    test_fuzz_spikes_npz_of_random_arrays,
    test_fuzz_spikes_npz_one_array_replaced,
    test_fuzz_spikes_npz_truncations_and_insertions,
    test_fuzz_spikes_random_bytes,
    test_fuzz_spikes_text_byte_mutations,
    test_fuzz_spikes_text_mutations,
)
from tnsim import io as tio

# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["npz", "txt", "spikes"])
@pytest.mark.parametrize("kind", ["inputs", "spikes"])
def test_events_round_trip(tmp_path, ext, kind):
    path = tmp_path / f"f.{ext}"
    tio.save_spikes(path, EVENTS, kind)
    sf = tio.read_spikes(path)
    assert sf.kind == kind and sf.data.dtype == np.int64
    np.testing.assert_array_equal(sf.data, EVENTS)
    np.testing.assert_array_equal(tio.load_spikes(str(path), kind), EVENTS)
    tio.save_spikes(path, np.zeros((0, 4), dtype=np.int32), kind)
    assert tio.load_spikes(path).shape == (0, 4)


@pytest.mark.parametrize("ext", ["npz", "txt"])
def test_raster_round_trip(tmp_path, ext):
    path = tmp_path / f"r.{ext}"
    tio.save_spikes(path, RASTER, "raster", start_tick=5)
    sf = tio.read_spikes(path)
    assert (sf.kind, sf.start_tick, sf.data.dtype) == ("raster", 5, np.int32)
    np.testing.assert_array_equal(sf.data, RASTER)
    tio.save_spikes(path, RASTER > 0, "raster")  # bool rasters are counts 0/1
    np.testing.assert_array_equal(tio.load_spikes(path, "raster"), RASTER > 0)
    tio.save_spikes(path, np.zeros((4, 0), dtype=bool), "raster")
    assert tio.load_spikes(path).shape == (4, 0)


def test_save_and_load_result(tmp_path):
    net = tnsim.Network()
    cb = np.zeros((256, 256), dtype=bool)
    cb[0, 0] = cb[1, 1] = True
    net.add_core((0, 0), cb, neurons=tnsim.Neurons(weights=[1, 0, 0, 0], output_port=[0, 1] + [-1] * 254))
    sim = tnsim.Simulator(net)
    sim.run(3)
    res = sim.run(6, [[3, 0, 0, 0], [5, 0, 0, 1], [5, 0, 0, 0]])
    tio.save_result(tmp_path / "run.npz", res)
    back = tio.load_result(tmp_path / "run.npz")
    assert (back.start_tick, back.ticks) == (3, 6)
    for name in ("output_spikes", "output_counts", "spikes"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.counter_totals() == res.counter_totals()
    np.testing.assert_array_equal(tio.load_spikes(tmp_path / "run.npz", "raster"), res.output_counts)
    np.testing.assert_array_equal(tio.load_spikes(tmp_path / "run.npz", "spikes"), res.spikes)
    res.spikes = None
    tio.save_result(tmp_path / "run2.npz", res)
    with pytest.raises(tnsim.FormatError, match="not recorded with spikes"):
        tio.load_spikes(tmp_path / "run2.npz", "spikes")
    with pytest.raises(tnsim.FormatError, match="holds inputs, not a run result"):
        tio.save_spikes(tmp_path / "in.npz", EVENTS)
        tio.load_result(tmp_path / "in.npz")


def test_plain_npz_with_an_inputs_array_is_read(tmp_path):
    # What older `tnsim run --inputs` read, and what np.savez(path, inputs=...) writes.
    np.savez(tmp_path / "plain.npz", inputs=EVENTS.astype(np.int32))
    assert tio.read_spikes(tmp_path / "plain.npz").kind == "inputs"
    np.testing.assert_array_equal(tio.load_spikes(tmp_path / "plain.npz", "inputs"), EVENTS)
    np.savez(tmp_path / "floats.npz", inputs=EVENTS.astype(float))  # integral floats are fine
    np.testing.assert_array_equal(tio.load_spikes(tmp_path / "floats.npz"), EVENTS)


def test_saving_is_atomic_and_keeps_the_name(tmp_path):
    tio.save_spikes(tmp_path / "a.npz", EVENTS)
    tio.save_spikes(tmp_path / "b.spikes", EVENTS)
    tio.save_spikes(tmp_path / "noext", EVENTS, format="npz")  # no ".npz" appended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.spikes", "noext"]
    with pytest.raises(OSError):
        tio.save_spikes(tmp_path / "missing" / "a.npz", EVENTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.spikes", "noext"]


# --- the text layout --------------------------------------------------------------------------


def test_text_layout(tmp_path):
    tio.save_spikes(tmp_path / "in.txt", EVENTS[:2])
    assert (tmp_path / "in.txt").read_text() == (
        "# tnsim-spikes 1 kind=inputs rows=2\n# tick x y axon\n0 1 2 3\n4 0 0 255\n")
    tio.save_spikes(tmp_path / "r.txt", RASTER, "raster", start_tick=5)
    assert (tmp_path / "r.txt").read_text() == (
        "# tnsim-spikes 1 kind=raster ticks=3 ports=2 start_tick=5 rows=2\n# tick port count\n5 1 2\n6 0 1\n")


def test_hand_written_text(tmp_path):
    p = tmp_path / "hand.txt"
    p.write_bytes(b"\xef\xbb\xbf# tnsim-spikes 1 kind=inputs\r\n"
                  b"# written by hand \xc3\xa9\r\n\r\n"
                  b"  +3\t0 0   7  # trailing comment\r\n"
                  b"0 0 0 -0\n"
                  b"#\n")
    np.testing.assert_array_equal(tio.load_spikes(p), [[3, 0, 0, 7], [0, 0, 0, 0]])


TEXT_ERRORS = [
    (b"", "line 1: not a tnsim spike file"),
    (b"0 0 0 0\n", "line 1: not a tnsim spike file"),
    (b"# other 1 kind=inputs\n", "line 1: not a tnsim spike file"),
    (b"# tnsim-spikes 2 kind=inputs\n", "version '2' is not supported"),
    (b"# tnsim-spikes 1\n", "kind must be inputs, spikes or raster"),
    (b"# tnsim-spikes 1 kind=run\n", "kind must be inputs, spikes or raster"),
    (b"# tnsim-spikes 1 kind=inputs colour=red\n", "unknown header field 'colour=red'"),
    (b"# tnsim-spikes 1 kind=inputs rows=1 rows=1\n", "header field 'rows' given twice"),
    (b"# tnsim-spikes 1 kind=inputs ticks=3\n", "header field 'ticks' does not belong to kind=inputs"),
    (b"# tnsim-spikes 1 kind=inputs rows=-1\n", "rows='-1' is not an integer >= 0"),
    (b"# tnsim-spikes 1 kind=inputs rows=999999999999\n", "rows=999999999999 is over the limit"),
    (b"# tnsim-spikes 1 kind=raster ticks=100000000 ports=100000000\n", "over the limit"),
    (b"# tnsim-spikes 1 kind=raster ticks=3\n", "a raster needs the header field ports="),
    (b"# tnsim-spikes 1 kind=inputs rows=3\n0 0 0 0\n1 0 0 0\n", "declares rows=3 but the file holds 2 rows"),
    (b"# tnsim-spikes 1 kind=inputs rows=1\n0 0 0 0\n1 0 0 0\n", "line 3: more rows than the header's rows=1"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 0 0\n\n1 2 3\n", "line 4: expected 4 integers .tick x y axon., got 3"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 0 0\n1 2 x 3\n", "line 3: field 'y': 'x' is not an integer"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 1.5 0\n", "line 2: field 'y': '1.5' is not an integer"),
    (b"# tnsim-spikes 1 kind=inputs\n1_0 0 0 0\n", "line 2: field 'tick': '1_0' is not an integer"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 0 99999999999999999999\n", "field 'axon': '99999999999999999999' is not"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 0 1-2\n", "field 'axon': '1-2' is not an integer"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 0 256\n", "line 2: field 'axon' = 256 is out of range 0..=255"),
    (b"# tnsim-spikes 1 kind=spikes\n0 0 0 0\n\n-1 0 0 3\n", "line 4: field 'tick' = -1 must be >= 0"),
    (b"# tnsim-spikes 1 kind=spikes\n0 0 -3 0\n", "line 2: field 'y' = -3 must be >= 0"),
    (b"# tnsim-spikes 1 kind=inputs\n0 0 0 \xff\n", "line 2: not UTF-8 text"),
    (b"# tnsim-spikes 1 kind=raster ticks=2 ports=2 start_tick=4\n3 0 1\n", "line 2: field 'tick' = 3 is out of the header's ticks 4..=5"),
    (b"# tnsim-spikes 1 kind=raster ticks=2 ports=2\n0 2 1\n", "line 2: field 'port' = 2 is out of range 0..=1"),
    (b"# tnsim-spikes 1 kind=raster ticks=2 ports=2\n0 1 0\n", "line 2: field 'count' = 0 is out of range 1..="),
    (b"# tnsim-spikes 1 kind=raster ticks=2 ports=2\n0 1 1\n1 1 1\n0 1 3\n", "line 4: tick 0 port 1 is listed twice"),
]


@pytest.mark.parametrize("data,message", TEXT_ERRORS, ids=[str(i) for i in range(len(TEXT_ERRORS))])
def test_text_errors(tmp_path, data, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(data)
    with pytest.raises(tnsim.FormatError, match=message):
        tio.load_spikes(p)


def test_kind_mismatch(tmp_path):
    tio.save_spikes(tmp_path / "s.txt", EVENTS, "spikes")
    with pytest.raises(tnsim.FormatError, match="holds spikes, not inputs"):
        tio.load_spikes(tmp_path / "s.txt", "inputs")
    with pytest.raises(ValueError, match="kind must be one of"):
        tio.load_spikes(tmp_path / "s.txt", "potentials")


# --- npz validation and hostile npz files ---------------------------------------------------


def _write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "bad.npz"
    p.write_bytes(data)
    return p


NPZ_ERRORS = [
    (dict(inputs=EVENTS[:, :3], **markers("inputs")), "has shape .3, 3., expected .n, 4. rows"),
    (dict(inputs=EVENTS.astype(float) + 0.5, **markers("inputs")), "row 0: field 'tick' is 0.5, not an integer"),
    (dict(inputs=np.array([[0, 0, 0, np.nan]]), **markers("inputs")), "row 0: field 'axon' is nan .NaN or infinite."),
    (dict(inputs=np.array([[2**63, 0, 0, 0]], dtype=np.uint64), **markers("inputs")), "beyond the int64 range"),
    (dict(inputs=np.array([["a", "b", "c", "d"]]), **markers("inputs")), "must hold integers, got dtype <U1"),
    (dict(inputs=np.array([[0, 0, 0, 300]]), **markers("inputs")), "row 0: field 'axon' = 300 is out of range 0..=255"),
    (dict(spikes=EVENTS, **markers("inputs")), "a inputs file needs an array 'inputs'"),
    (dict(inputs=EVENTS, **markers("inputs", version=2)), "spike file version 2 is not supported"),
    (dict(inputs=EVENTS, **{**markers("inputs"), "kind": np.array("weights")}), "unknown kind 'weights'"),
    (dict(inputs=EVENTS, **{**markers("inputs"), "format": np.array("other")}), "format 'other' is not 'tnsim-spikes'"),
    (dict(inputs=EVENTS, **{**markers("inputs"), "version": np.array([1, 1])}), "'version' must be a single integer"),
    (dict(output_counts=-RASTER, **markers("raster")), "tick row 0 port 1 = -2 is out of range"),
    (dict(output_counts=RASTER[0], **markers("raster")), "has shape .2,., expected .ticks, ports."),
    (dict(output_counts=RASTER, start_tick=np.array(-1), **markers("raster")), "start_tick must be an integer >= 0"),
    (dict(output_counts=RASTER, counter_spikes=np.zeros(2), **markers("run")), "'counter_spikes' has shape .2,., expected .3,."),
    (dict(weights=EVENTS), "not a tnsim spike file: no 'format' marker and no 'inputs' array .arrays: weights."),
]


@pytest.mark.parametrize("arrays,message", NPZ_ERRORS, ids=[str(i) for i in range(len(NPZ_ERRORS))])
def test_npz_errors(tmp_path, arrays, message):
    with pytest.raises(tnsim.FormatError, match=message):
        tio.load_spikes(_write(tmp_path, npz_bytes(**arrays)))


def test_npz_with_pickled_objects_is_refused_without_unpickling(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, inputs=np.array([[0, 0, 0, {"x": 1}]], dtype=object), **markers("inputs"))
    with pytest.raises(tnsim.FormatError, match="holds Python objects .dtype object.; spike files never hold pickles"):
        tio.load_spikes(_write(tmp_path, buf.getvalue()))


def _npy(header: dict, body: bytes = b"") -> bytes:
    text = repr(header).encode()
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body


def _zip(members: dict, compress=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_huge_declared_shape_is_refused_before_allocating(tmp_path):
    # 10^15 x 4 int64 would be 32 PB: the header is checked against the bytes that follow.
    npy = _npy({"descr": "<i8", "fortran_order": False, "shape": (10**15, 4)}, body=bytes(64))
    data = _zip({"inputs.npy": npy, **{f"{k}.npy": _npy_of(v) for k, v in markers("inputs").items()}})
    with pytest.raises(tnsim.FormatError, match=r"header declares shape \(1000000000000000, 4\) of int64 "
                                                r"\(32,000,000,000,000,000 bytes\) but 64 bytes follow"):
        tio.load_spikes(_write(tmp_path, data))


def _npy_of(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    # 8 MB of zeros compress to a few KB; with max_bytes = 1 MB the member is refused unread.
    big = np.zeros((2**18, 4), dtype=np.int64)
    data = npz_bytes(inputs=big, **markers("inputs"))
    assert len(data) < 100_000
    p = _write(tmp_path, data)
    with pytest.raises(tnsim.FormatError, match="array 'inputs' declares 8,388,736 bytes, over the limit of 1,000,000"):
        tio.load_spikes(p, max_bytes=1_000_000)
    assert tio.load_spikes(p).shape == (2**18, 4)
    with pytest.raises(tnsim.FormatError, match="over the limit of 1,000 bytes"):
        tio.load_spikes(p, max_bytes=1_000)


def test_other_hostile_npz_files(tmp_path):
    cases = [
        (_zip({f"a{i}.npy": _npy_of(np.zeros(1)) for i in range(65)}), "65 arrays, more than a spike file has"),
        (_zip({"inputs.pkl": b"\x80\x04."}), "member 'inputs.pkl' is not a .npy array"),
        (_zip({"inputs.npy": b"\x93NUMPY\x09\x00"}), "bad .npy header|not supported"),
        (_zip({"inputs.npy": b"not npy"}), "bad .npy header"),
        (_zip({"inputs.npy": _npy({"descr": "<i8", "fortran_order": False, "shape": (-1, 4)})}), "bad .npy header|bad shape"),
        (_zip({"inputs.npy": _npy({"descr": "O", "fortran_order": False, "shape": (1,)}, b"\x00" * 8)}), "Python objects"),
        (_zip({"inputs.npy": _npy({"descr": [("a", "<i4")], "fortran_order": False, "shape": (1,)}, b"\x00" * 4)}), "unsupported dtype"),
        (npz_bytes(inputs=EVENTS, **markers("inputs"))[:-30], "not a valid npz"),
    ]
    for data, message in cases:
        with pytest.raises(tnsim.FormatError, match=message):
            tio.load_spikes(_write(tmp_path, data))
    # A CRC mismatch (a flipped byte in a stored member) is caught by zipfile.
    data = bytearray(_zip({**{f"{k}.npy": _npy_of(v) for k, v in markers("inputs").items()}, "inputs.npy": _npy_of(EVENTS)}))
    data[data.index(_npy_of(EVENTS)) + 130] ^= 1
    with pytest.raises(tnsim.FormatError, match="cannot be read .corrupt or truncated."):
        tio.load_spikes(_write(tmp_path, bytes(data)))


def test_file_limits_and_missing_files(tmp_path):
    tio.save_spikes(tmp_path / "a.txt", EVENTS)
    with pytest.raises(tnsim.FormatError, match="file is over the limit of 10 bytes"):
        tio.load_spikes(tmp_path / "a.txt", max_bytes=10)
    with pytest.raises(FileNotFoundError):
        tio.load_spikes(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="max_bytes"):
        tio.load_spikes(tmp_path / "a.txt", max_bytes=-1)
    with pytest.raises(TypeError, match="bytes-like"):
        tio.spikes_from_bytes("text")


# --- saving bad data ---------------------------------------------------------------------------


def test_saving_bad_data(tmp_path):
    with pytest.raises(tnsim.InputError, match=r"inputs has shape \(3,\), expected \(n, 4\)"):
        tio.save_spikes(tmp_path / "a.npz", [1, 2, 3])
    with pytest.raises(tnsim.InputError, match="row 1: field 'neuron' = 256 is out of range"):
        tio.save_spikes(tmp_path / "a.npz", [[0, 0, 0, 0], [0, 0, 0, 256]], "spikes")
    with pytest.raises(tnsim.InputError, match="row 0: field 'x' = -1 must be >= 0"):
        tio.save_spikes(tmp_path / "a.txt", [[0, -1, 0, 0]])
    with pytest.raises(TypeError, match="integer array"):
        tio.save_spikes(tmp_path / "a.npz", [["a", "b", "c", "d"]])
    with pytest.raises(ValueError, match="cannot tell the form of"):
        tio.save_spikes(tmp_path / "a.csv", EVENTS)
    with pytest.raises(ValueError, match="kind must be"):
        tio.save_spikes(tmp_path / "a.npz", EVENTS, "run")
    with pytest.raises(tnsim.InputError, match="start_tick must be an integer >= 0"):
        tio.save_spikes(tmp_path / "a.npz", RASTER, "raster", start_tick=-2)
    assert not list(tmp_path.iterdir())


# --- regressions found by the fuzzers ------------------------------------------------------------


def test_regression_float16_arrays(tmp_path):
    # fuzz_spike_files: a float16 array made the int64-range check warn (2^62 overflows float16).
    np.testing.assert_array_equal(tio.spikes_from_bytes(npz_bytes(output_counts=np.zeros((0, 0), np.float16))).data,
                                  np.zeros((0, 0)))
    data = npz_bytes(inputs=np.array([[1, 2, 3, 4]], dtype=np.float16), **markers("inputs"))
    np.testing.assert_array_equal(tio.spikes_from_bytes(data).data, [[1, 2, 3, 4]])
    data = npz_bytes(inputs=np.array([[np.inf, 2, 3, 4]], dtype=np.float16), **markers("inputs"))
    with pytest.raises(tnsim.FormatError, match="NaN or infinite"):
        tio.spikes_from_bytes(data)
