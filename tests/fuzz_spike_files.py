"""Fuzzing of the spike-file readers (tnsim.spikes, re-exported by tnsim.io).

Random bytes, truncated and mutated ``.npz`` files, npz files of random arrays under the right
and wrong names, mutated text files: every outcome must be a valid :class:`tnsim.io.SpikeFile`
or a ``tnsim.FormatError`` with a message, never another exception, a crash, a hang or a huge
allocation.

Collected through test_spike_files.py; the number of examples follows the hypothesis profile,
``TNSIM_FUZZ_EXAMPLES=N`` raises it. A long run (docs/spike-files.md, "Robustness"):

    TNSIM_FUZZ_EXAMPLES=20000 python -m pytest tests/fuzz_spike_files.py -p no:cacheprovider -q
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import Dict

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tnsim
from tnsim import io as tio

FUZZ_EXAMPLES = int(os.environ.get("TNSIM_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(test):
    """More examples when TNSIM_FUZZ_EXAMPLES is set; otherwise the profile's."""
    extra = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    if FUZZ_EXAMPLES:
        return settings(max_examples=FUZZ_EXAMPLES, **extra)(test)
    return settings(**extra)(test)


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def markers(kind: str, version: int = 1) -> Dict[str, np.ndarray]:
    return {"format": np.array("tnsim-spikes"), "version": np.array(version), "kind": np.array(kind)}


EVENTS = np.array([[0, 1, 2, 3], [4, 0, 0, 255], [9, 63, 64, 17]], dtype=np.int64)
RASTER = np.array([[0, 2], [1, 0], [0, 0]], dtype=np.int32)
SEEDS_NPZ = [
    npz_bytes(inputs=EVENTS, **markers("inputs")),
    npz_bytes(spikes=EVENTS, **markers("spikes")),
    npz_bytes(output_counts=RASTER, start_tick=np.array(5), **markers("raster")),
    npz_bytes(output_counts=RASTER, output_spikes=RASTER > 0, start_tick=np.array(0), spikes=EVENTS,
              counter_spikes=np.arange(3), counter_hops=np.zeros(3, dtype=np.int64), **markers("run")),
]
SEEDS_TEXT = [
    b"# tnsim-spikes 1 kind=inputs rows=3\n# tick x y axon\n0 1 2 3\n4 0 0 255\n9 63 64 17\n",
    b"# tnsim-spikes 1 kind=spikes\n0 1 2 3  # a comment\n\n4 0 0 255\r\n",
    b"# tnsim-spikes 1 kind=raster ticks=3 ports=2 start_tick=5 rows=2\n5 1 2\n6 0 1\n",
]


def check(data: bytes, max_bytes: int = 1 << 24) -> None:
    """Parse ``data``: a valid SpikeFile or a FormatError; nothing else."""
    try:
        sf = tio.spikes_from_bytes(data, max_bytes=max_bytes)
    except tnsim.FormatError as e:
        assert str(e)
        return
    assert sf.kind in ("inputs", "spikes", "raster", "run")
    if sf.kind in ("inputs", "spikes"):
        assert sf.data.dtype == np.int64 and sf.data.ndim == 2 and sf.data.shape[1] == 4
        assert (sf.data[:, :3] >= 0).all() and (sf.data[:, 3] <= 255).all()
    else:
        assert sf.data.dtype == np.int32 and sf.data.ndim == 2 and (sf.data >= 0).all()
        assert sf.start_tick >= 0
    for kind in ("inputs", "spikes", "raster", None):
        try:
            sf.array(kind)
        except tnsim.FormatError:
            pass


mutations = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8)


@fuzz_settings
@given(st.binary(max_size=400))
@example(b"PK\x03\x04")
@example(b"PK\x05\x06" + bytes(18))
@example(b"\x93NUMPY")
@example(b"# tnsim-spikes 1 kind=raster ticks=99999999999 ports=99999999999\n")
@example(b"# tnsim-spikes 1 kind=inputs rows=999999999999999999\n")
def test_fuzz_spikes_random_bytes(data):
    check(data)
    check(b"# tnsim-spikes 1 kind=inputs\n" + data)


@fuzz_settings
@given(st.sampled_from(range(len(SEEDS_NPZ))), mutations)
def test_fuzz_spikes_npz_mutations(seed, muts):
    data = bytearray(SEEDS_NPZ[seed])
    for where, value in muts:
        data[int(where * len(data))] = value
    check(bytes(data))


@fuzz_settings
@given(st.sampled_from(range(len(SEEDS_NPZ))), st.integers(0, 10_000), st.binary(max_size=30))
def test_fuzz_spikes_npz_truncations_and_insertions(seed, cut, extra):
    data = SEEDS_NPZ[seed]
    at = cut % (len(data) + 1)
    check(data[:at])
    check(data[:at] + extra + data[at:])


array_names = st.sampled_from(["inputs", "spikes", "output_counts", "output_spikes", "start_tick", "format",
                               "version", "kind", "counter_spikes", "counter_hops", "other"])
any_arrays = hnp.arrays(
    dtype=st.one_of(hnp.integer_dtypes(endianness="="), hnp.unsigned_integer_dtypes(endianness="="),
                    hnp.floating_dtypes(endianness="="), hnp.boolean_dtypes(), st.just(np.dtype("<U12")),
                    hnp.complex_number_dtypes(), hnp.datetime64_dtypes()),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
marker_values = st.fixed_dictionaries({
    "format": st.sampled_from([np.array("tnsim-spikes"), np.array("other"), np.array(1), np.array(["tnsim-spikes"])]),
    "version": st.sampled_from([np.array(1), np.array(2), np.array(-1), np.array("1"), np.array([1, 1])]),
    "kind": st.sampled_from([np.array(k) for k in ("inputs", "spikes", "raster", "run", "x")] + [np.array(3)]),
})


@fuzz_settings
@given(st.dictionaries(array_names, any_arrays, max_size=5), marker_values, st.booleans())
@example({"output_counts": np.zeros((0, 0), dtype=np.float16)}, {}, False)  # found: float16 vs 2^62 (a warning)
def test_fuzz_spikes_npz_of_random_arrays(arrays, marks, with_markers):
    if with_markers:
        arrays = {**arrays, **marks}
    check(npz_bytes(**arrays))


@fuzz_settings
@given(st.sampled_from(range(len(SEEDS_NPZ))), array_names, any_arrays)
def test_fuzz_spikes_npz_one_array_replaced(seed, name, value):
    with zipfile.ZipFile(io.BytesIO(SEEDS_NPZ[seed])) as zf:
        arrays = {n[:-4]: np.lib.format.read_array(zf.open(n)) for n in zf.namelist()}
    arrays[name] = value
    check(npz_bytes(**arrays))


tokens = st.one_of(st.integers(-3, 300).map(str), st.sampled_from(
    ["", "#", "x", "1.5", "+", "-", "1e3", "0x10", "1_0", "99999999999999999999", "-0", "+7", "NaN", "\u0661",
     "kind=raster", "rows=0", "ticks=2", "ports=1", "start_tick=3", "tnsim-spikes", "2", "\t", "\x00"]))


@fuzz_settings
@given(st.sampled_from(range(len(SEEDS_TEXT))),
       st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete", "duplicate"]), st.floats(0, 1, exclude_max=True),
                          st.floats(0, 1, exclude_max=True), tokens), min_size=1, max_size=5))
def test_fuzz_spikes_text_mutations(seed, edits):
    lines = [line.split(b" ") for line in SEEDS_TEXT[seed].split(b"\n")]
    for op, where, pos, token in edits:
        i = int(where * len(lines))
        if op == "replace" and lines[i]:
            lines[i][int(pos * len(lines[i]))] = token.encode()
        elif op == "insert":
            lines[i].insert(int(pos * (len(lines[i]) + 1)), token.encode())
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, list(lines[i]))
    check(b"\n".join(b" ".join(line) for line in lines))


@fuzz_settings
@given(st.sampled_from(range(len(SEEDS_TEXT))), mutations, st.integers(0, 200))
def test_fuzz_spikes_text_byte_mutations(seed, muts, cut):
    data = bytearray(SEEDS_TEXT[seed])
    for where, value in muts:
        data[int(where * len(data))] = value
    check(bytes(data))
    check(bytes(data[:cut]))
