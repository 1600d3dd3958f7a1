"""RANC files built by hand, and fuzzing of the RANC readers.

The first half builds valid RANC input and config documents (used by test_ranc.py and
test_cli_run.py). The second half fuzzes :func:`tnsim.io.read_ranc` and the RANC output-file
reader with random and mutated documents, JSON text and bytes: every outcome must be a network
(that then runs) or a ``tnsim.TnsimError`` with a message, never another exception or a hang.

The fuzz tests are collected through test_ranc.py. Their number of examples follows the
hypothesis profile (tests/conftest.py: dev 25, ci 300 per test); ``TNSIM_FUZZ_EXAMPLES=N`` raises
it. A long run (docs/ranc.md, "Robustness"):

    TNSIM_FUZZ_EXAMPLES=20000 python -m pytest tests/fuzz_ranc.py -p no:cacheprovider -q
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tnsim
from tnsim import io as tio

# --- valid documents -------------------------------------------------------------------------


def ranc_neuron(**overrides: Any) -> Dict[str, Any]:
    """A RANC neuron object: weights [1, 0, 0, 0], threshold 1, everything else 0, then ``overrides``."""
    n = {"reset_potential": 0, "weights": [1, 0, 0, 0], "leak": 0, "positive_threshold": 1,
         "negative_threshold": 0, "destination_core_offset": [0, 0], "destination_axon": 0,
         "destination_tick": 0, "current_potential": 0, "reset_mode": 0}
    n.update(overrides)
    return n


def ranc_core(xy: Tuple[int, int], neurons: Sequence[Dict[str, Any]],
              synapses: Iterable[Tuple[int, int]] = (), axons: Optional[List[int]] = None,
              width: int = 0) -> Dict[str, Any]:
    """A RANC core object; ``synapses`` are (axon, neuron) pairs; each neuron's connection row is
    as long as needed (at least ``width``)."""
    pairs = list(synapses)
    length = max([width] + [a + 1 for a, _ in pairs])
    rows = [[0] * length for _ in neurons]
    for a, j in pairs:
        rows[j][a] = 1
    return {"coordinates": list(xy), "axons": list(axons or []), "neurons": list(neurons), "connections": rows}


def ranc_packet(xy: Tuple[int, int], axon: int, tick: int = 0) -> Dict[str, Any]:
    return {"destination_core": list(xy), "destination_axon": axon, "destination_tick": tick}


def ranc_doc(cores: Sequence[Dict[str, Any]], bus: Tuple[int, int], num_outputs: int,
             packets: Sequence[Sequence[Dict[str, Any]]] = ()) -> Dict[str, Any]:
    return {"packets": [list(p) for p in packets], "output_bus": {"coordinates": list(bus), "num_outputs": num_outputs},
            "cores": list(cores)}


def ranc_config(nx: int, ny: int, reset_type: int = 0, **overrides: Any) -> Dict[str, Any]:
    """A RANC config as RANC ships it (with the trace keys, which tnsim ignores)."""
    cfg = {"num_neurons": 256, "num_axons": 256, "num_cores_x": nx, "num_cores_y": ny, "num_weights": 4,
           "max_tick_offset": 16, "neuron_reset_type": reset_type, "neuron_block_trace_verbosity": 0,
           "core_controller_trace_verbosity": 0, "scheduler_trace_verbosity": 0}
    cfg.update(overrides)
    return cfg


def seed_document() -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """A small valid network touching every part of the format: two cores, the output bus,
    packets, short axon and connection rows, both reset modes, a target on an unlisted core."""
    a = ranc_core((0, 0), [
        ranc_neuron(destination_core_offset=[1, 0], destination_axon=3, destination_tick=2),
        ranc_neuron(weights=[2, -1], leak=-1, positive_threshold=3, negative_threshold=-4, reset_mode=1,
                    destination_core_offset=[2, 1], destination_axon=1),
        ranc_neuron(reset_potential=5, current_potential=-2, destination_core_offset=[0, 1], destination_axon=0),
    ], synapses=[(0, 0), (1, 1), (2, 1), (2, 2)], axons=[0, 1, 0])
    b = ranc_core((1, 0), [ranc_neuron(destination_core_offset=[1, 1], destination_axon=0, destination_tick=14)],
                  synapses=[(3, 0)], width=5)
    doc = ranc_doc([a, b], bus=(2, 1), num_outputs=2,
                   packets=[[ranc_packet((0, 0), 0), ranc_packet((0, 0), 2, 3)], [], [ranc_packet((1, 0), 3, 1)]])
    return doc, ranc_config(3, 2)


# --- the fuzz harness ------------------------------------------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("TNSIM_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(test):
    """More examples when TNSIM_FUZZ_EXAMPLES is set; otherwise the profile's."""
    extra = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    if FUZZ_EXAMPLES:
        return settings(max_examples=FUZZ_EXAMPLES, **extra)(test)
    return settings(**extra)(test)


def read_or_reject(doc: Any, cfg: Any = None) -> None:
    """read_ranc: a network that then runs, or a TnsimError with a message; nothing else."""
    try:
        net, inputs = tio.read_ranc(doc, cfg)
    except tnsim.TnsimError as e:
        assert str(e)
        return
    assert isinstance(net, tnsim.Network)
    assert inputs.dtype == np.int64 and inputs.ndim == 2 and inputs.shape[1] == 4
    ticks = 20
    res = tnsim.Simulator(net, threads=1).run(ticks, inputs[inputs[:, 0] < ticks])
    assert res.output_spikes.shape == (ticks, net.output_ports)


INTERESTING_INTS = [0, 1, -1, 2, 3, 4, 14, 15, 16, 63, 64, 255, 256, -255, -256, -257, 2**18 - 1, 2**18,
                    -(2**18), -(2**18) - 1, 2**19 - 1, 2**19, -(2**19), -(2**19) - 1, 2**31, -(2**31) - 1,
                    2**32, 2**63, -(2**63) - 1, 2**64, 10**30, 65535, 65536, 65537]

scalars = (st.none() | st.booleans() | st.sampled_from(INTERESTING_INTS) | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
#: Values that look like what a RANC field holds, to get past the type checks to the range checks.
plausible = (st.sampled_from(INTERESTING_INTS) | st.integers(-20, 20)
             | st.lists(st.sampled_from(INTERESTING_INTS) | st.integers(-3, 3), max_size=5)
             | json_values)


def _containers(node: Any, path: Tuple = ()) -> List[Tuple]:
    """Paths of every list and dict inside ``node``."""
    out = []
    if isinstance(node, (list, dict)):
        out.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            out.extend(_containers(v, path + (k,)))
    return out


def _at(node: Any, path: Tuple) -> Any:
    for k in path:
        node = node[k]
    return node


@st.composite
def mutated(draw, base: Any) -> Any:
    """``base`` with 1..4 random edits: replace a value, delete a key or item, add a key, append,
    duplicate or truncate a list."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        paths = _containers(doc)
        if not paths:
            return draw(json_values)
        node = _at(doc, draw(st.sampled_from(paths)))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "append", "dup", "truncate"]))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if op == "replace" and keys:
            node[draw(st.sampled_from(keys))] = draw(plausible)
        elif op == "delete" and keys:
            del node[draw(st.sampled_from(keys))]
        elif op == "add" and isinstance(node, dict):
            node[draw(st.sampled_from(["extra", "neurons", "axons", "packets", "coordinates", "num_outputs"]))] = draw(plausible)
        elif op == "append" and isinstance(node, list):
            node.append(copy.deepcopy(node[-1]) if node and draw(st.booleans()) else draw(plausible))
        elif op == "dup" and isinstance(node, list) and node:
            node.extend(copy.deepcopy(node[:draw(st.integers(1, len(node)))]))
        elif op == "truncate" and isinstance(node, list):
            del node[draw(st.integers(0, len(node))):]
    return doc


SEED_DOC, SEED_CONFIG = seed_document()
SEED_TEXT = json.dumps(SEED_DOC).encode()


@fuzz_settings
@given(mutated(SEED_DOC))
def test_fuzz_ranc_mutated_documents(doc):
    read_or_reject(doc, SEED_CONFIG)


@fuzz_settings
@given(mutated(SEED_DOC), st.booleans())
def test_fuzz_ranc_mutated_documents_reset_type_1(doc, with_grid):
    cfg = ranc_config(3, 2, reset_type=1) if with_grid else None
    read_or_reject(doc, cfg)


@fuzz_settings
@given(mutated(SEED_CONFIG))
def test_fuzz_ranc_mutated_configs(cfg):
    read_or_reject(SEED_DOC, cfg)


@fuzz_settings
@given(json_values, json_values | st.none())
def test_fuzz_ranc_random_json(doc, cfg):
    # A str is a path for read_ranc; give random strings as JSON text instead.
    doc, cfg = (json.dumps(v).encode() if isinstance(v, str) else v for v in (doc, cfg))
    read_or_reject(doc, cfg)
    read_or_reject(SEED_DOC, cfg)


@fuzz_settings
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, len(SEED_TEXT)), st.booleans())
def test_fuzz_ranc_mutated_text(edits, cut, truncate):
    data = bytearray(SEED_TEXT)
    for where, value in edits:
        data[int(where * len(data))] = value
    if truncate:
        data = data[:cut]
    read_or_reject(bytes(data), SEED_CONFIG)
    read_or_reject(SEED_DOC, bytes(data))


@fuzz_settings
@given(st.binary(max_size=300))
def test_fuzz_ranc_random_bytes(data):
    read_or_reject(data)
    read_or_reject(b"{" + data)


# RANC output files (the reader used to diff against RANC runs).

RANC_OUTPUT = b"\xef\xbb\xbf0 0 0 \n0 1 0 \n1 1 0 \n0 0 1 \n"


def _output_or_reject(data: bytes) -> None:
    try:
        raster = tio._parse_ranc_output(data, "fuzz")
    except tnsim.FormatError as e:
        assert str(e)
        return
    assert raster.dtype == bool and raster.ndim == 2


@fuzz_settings
@given(st.binary(max_size=200))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\n\n\n")
def test_fuzz_ranc_output_random_bytes(data):
    _output_or_reject(data)


@fuzz_settings
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(b"01 \n\r\xef2x")), min_size=1,
                max_size=6), st.integers(0, len(RANC_OUTPUT)))
def test_fuzz_ranc_output_mutations(edits, cut):
    data = bytearray(RANC_OUTPUT)
    for where, value in edits:
        data[int(where * len(data))] = value
    _output_or_reject(bytes(data))
    _output_or_reject(bytes(data[:cut]))
