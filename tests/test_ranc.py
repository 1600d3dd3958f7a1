"""RANC import (docs/ranc.md): exact mapping, hand-derived rasters, errors, the output file.

RANC files are built by hand (fuzz_ranc.py's builders). Rasters are checked three ways: against
expectations derived by hand in the comments, against :func:`ranc_model` - a literal model of
RANC's neuron and timing written from RANC.md alone (32-bit potential, no saturation, RANC's
comparisons), independent of SPEC.md - and against the NumPy reference model of SPEC.md.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tnsim
from compare import assert_same_results
from fuzz_ranc import (  # noqa: F401  (the fuzz tests are collected here)
    ranc_config,
    ranc_core,
    ranc_doc,
    ranc_neuron,
    ranc_packet,
    seed_document,
    test_fuzz_ranc_mutated_configs,
    test_fuzz_ranc_mutated_documents,
    test_fuzz_ranc_mutated_documents_reset_type_1,
    test_fuzz_ranc_mutated_text,
    test_fuzz_ranc_output_mutations,
    test_fuzz_ranc_output_random_bytes,
    test_fuzz_ranc_random_bytes,
    test_fuzz_ranc_random_json,
)
from tnsim import io as tio
from tnsim.reference import ReferenceSimulator


# --- a literal model of RANC, from RANC.md -------------------------------------------------------


def ranc_model(doc: Dict[str, Any], cfg: Optional[Dict[str, Any]], ticks: int
               ) -> Tuple[np.ndarray, List[Dict[Tuple[int, int], List[int]]]]:
    """RANC's behaviour per RANC.md: returns the output raster (tnsim ticks 0..ticks-1) and the
    potentials of every listed core's listed neurons after each tick."""
    reset_type = (cfg or {}).get("neuron_reset_type", 0)
    bus = tuple(doc["output_bus"]["coordinates"])
    raster = np.zeros((ticks, doc["output_bus"]["num_outputs"]), dtype=bool)
    cores = {tuple(c["coordinates"]): c for c in doc["cores"]}
    v = {xy: [n["current_potential"] for n in c["neurons"]] for xy, c in cores.items()}
    pending: Dict[int, set] = defaultdict(set)  # tick -> {(x, y, axon)} to integrate then
    for t, packets in enumerate(doc.get("packets", [])):
        for p in packets:
            pending[t + p["destination_tick"]].add((*p["destination_core"], p["destination_axon"]))
    history = []
    for t in range(ticks):
        active = pending.pop(t, set())
        for (x, y), c in cores.items():
            for j, n in enumerate(c["neurons"]):
                pot = v[(x, y)][j]
                for i, bit in enumerate(c["connections"][j]):
                    if bit and (x, y, i) in active:
                        g = c["axons"][i] if i < len(c["axons"]) else 0
                        pot += n["weights"][g] if g < len(n["weights"]) else 0
                pot += n["leak"]
                if pot >= n["positive_threshold"]:
                    pot = n["reset_potential"] if n["reset_mode"] == 0 else pot - n["positive_threshold"]
                    dx, dy = n["destination_core_offset"]
                    if (x + dx, y + dy) == bus:
                        raster[t, n["destination_axon"]] = True  # the bus ignores delays
                    else:
                        pending[t + n["destination_tick"] + 1].add((x + dx, y + dy, n["destination_axon"]))
                elif pot < n["negative_threshold"] or (reset_type == 1 and pot == n["negative_threshold"]):
                    pot = -n["reset_potential"] if n["reset_mode"] == 0 else pot - n["negative_threshold"]
                assert -(2**31) <= pot < 2**31
                v[(x, y)][j] = pot
        history.append({xy: list(p) for xy, p in v.items()})
    return raster, history


def run_engine(doc, cfg, ticks: int, reference: bool = False):
    net, inputs = tio.read_ranc(doc, cfg)
    inputs = inputs[inputs[:, 0] < ticks]
    sim = ReferenceSimulator(net) if reference else tnsim.Simulator(net, threads=1)
    return net, sim, sim.run(ticks, inputs)


def potentials_by_tick(doc, cfg, ticks: int, reference: bool = False):
    """Run one tick at a time; the listed neurons' potentials after each tick, as ranc_model."""
    net, inputs = tio.read_ranc(doc, cfg)
    sim = ReferenceSimulator(net) if reference else tnsim.Simulator(net, threads=1)
    out = []
    for t in range(ticks):
        sim.run(1, inputs[inputs[:, 0] == t])
        out.append({tuple(c["coordinates"]): sim.potentials(tuple(c["coordinates"]))[:len(c["neurons"])].tolist()
                    for c in doc["cores"]})
    return out


def outputs(raster: np.ndarray) -> List[Tuple[int, int]]:
    """(tick, output) of every output spike."""
    return [tuple(int(v) for v in rc) for rc in np.argwhere(raster)]


# --- hand-derived rasters ---------------------------------------------------------------------


@pytest.mark.parametrize("reference", [False, True], ids=["engine", "reference"])
def test_leak_to_the_output_bus(reference):
    # positive_threshold 3, leak +1: V = 1, 2, 3 -> spike (reset to 0) at tick 2, then every 3 ticks.
    doc = ranc_doc([ranc_core((0, 0), [ranc_neuron(leak=1, positive_threshold=3, destination_core_offset=[1, 0],
                                                   destination_axon=2, destination_tick=7)])],
                   bus=(1, 0), num_outputs=3)
    _, _, res = run_engine(doc, ranc_config(2, 1), 12, reference)
    assert outputs(res.output_spikes) == [(2, 2), (5, 2), (8, 2), (11, 2)]  # the bus ignores delays
    assert res.output_spikes.shape == (12, 3)


def delay_chain() -> Dict[str, Any]:
    """Core A (0, 0): neuron j (j = 0..14) listens to axon j and sends to core B (1, 0) axon j
    with destination_tick j. Core B neuron j listens to axon j and sends to output j of the bus
    at (2, 0). A packet at tick 0 drives every A neuron; packets[3] drives B axon 15 + j... with
    destination_tick j, and B neuron 15 + j sends to output 15 + j."""
    a = ranc_core((0, 0), [ranc_neuron(destination_core_offset=[1, 0], destination_axon=j, destination_tick=j)
                           for j in range(15)], synapses=[(j, j) for j in range(15)])
    b = ranc_core((1, 0), [ranc_neuron(destination_core_offset=[1, 0], destination_axon=j, destination_tick=j % 15)
                           for j in range(30)], synapses=[(j, j) for j in range(30)])
    packets: List[List[Dict[str, Any]]] = [[ranc_packet((0, 0), j) for j in range(15)], [], [],
                                           [ranc_packet((1, 0), 15 + j, j) for j in range(15)]]
    return ranc_doc([a, b], bus=(2, 0), num_outputs=30, packets=packets)


@pytest.mark.parametrize("reference", [False, True], ids=["engine", "reference"])
def test_every_destination_tick(reference):
    doc = delay_chain()
    _, _, res = run_engine(doc, ranc_config(3, 1), 20, reference)
    # A neuron j spikes at tick 0; destination_tick j = delay j + 1, so B neuron j integrates and
    # spikes at tick j + 1 (output j). A packet in packets[3] with destination_tick j reaches B
    # axon 15 + j at tick 3 + j, and B neuron 15 + j spikes then (output 15 + j).
    expected = sorted([(j + 1, j) for j in range(15)] + [(3 + j, 15 + j) for j in range(15)])
    assert outputs(res.output_spikes) == expected
    assert res.counter_totals()["spikes"] == 45  # 15 in A, 30 in B
    assert res.counter_totals()["output_spikes"] == 30
    raster, _ = ranc_model(doc, ranc_config(3, 1), 20)
    np.testing.assert_array_equal(res.output_spikes, raster)


def test_inputs_follow_packets():
    doc = delay_chain()
    net, inputs = tio.read_ranc(doc, ranc_config(3, 1))
    expected = sorted([(0, 0, 0, j) for j in range(15)] + [(3 + j, 1, 0, 15 + j) for j in range(15)])
    assert inputs.tolist() == [list(r) for r in expected]
    assert inputs.dtype == np.int64


# Potentials after each tick, derived by hand. Each neuron has only a leak (no input).
#   leak -3, negative_threshold -5, reset_potential 2, absolute reset:
#     '<'  (type 0): -3, -6 < -5 -> -2, -5 (not < -5), -8 -> -2, -5, -8 -> -2
#     '<=' (type 1): -3, -6 -> -2, -5 <= -5 -> -2, -5 -> -2, ...
#   leak -3, negative_threshold -5, linear reset (type 0 only): V < -5 -> V - (-5):
#     -3, -6 -> -1, -4, -7 -> -2, -5, -8 -> -3
#   leak +2, positive_threshold 5, linear reset: 2, 4, 6 -> 1 (spike), 3, 5 -> 0 (spike), 2
#   leak +2, positive_threshold 5, reset_potential -1, absolute: 2, 4, 6 -> -1 (spike), 1, 3, 5 -> -1
NEG_ABS = ranc_neuron(leak=-3, negative_threshold=-5, reset_potential=2)
NEG_LIN = ranc_neuron(leak=-3, negative_threshold=-5, reset_mode=1)
POS_LIN = ranc_neuron(leak=2, positive_threshold=5, reset_mode=1, destination_core_offset=[0, 1], destination_axon=0)
POS_ABS = ranc_neuron(leak=2, positive_threshold=5, reset_potential=-1, negative_threshold=-9,
                      destination_core_offset=[0, 1], destination_axon=1)


@pytest.mark.parametrize("reference", [False, True], ids=["engine", "reference"])
def test_reset_modes_and_negative_threshold_reset_type_0(reference):
    doc = ranc_doc([ranc_core((0, 0), [NEG_ABS, NEG_LIN, POS_LIN, POS_ABS])], bus=(0, 1), num_outputs=2)
    cfg = ranc_config(1, 2, reset_type=0)
    got = [p[(0, 0)] for p in potentials_by_tick(doc, cfg, 6, reference)]
    assert [g[0] for g in got] == [-3, -2, -5, -2, -5, -2]
    assert [g[1] for g in got] == [-3, -1, -4, -2, -5, -3]
    assert [g[2] for g in got] == [2, 4, 1, 3, 0, 2]
    assert [g[3] for g in got] == [2, 4, -1, 1, 3, -1]
    _, history = ranc_model(doc, cfg, 6)
    assert [h[(0, 0)] for h in history] == got
    _, _, res = run_engine(doc, cfg, 6, reference)
    assert outputs(res.output_spikes) == [(2, 0), (2, 1), (4, 0), (5, 1)]


@pytest.mark.parametrize("reference", [False, True], ids=["engine", "reference"])
def test_negative_threshold_reset_type_1(reference):
    doc = ranc_doc([ranc_core((0, 0), [NEG_ABS, POS_ABS])], bus=(0, 1), num_outputs=2)
    cfg = ranc_config(1, 2, reset_type=1)
    got = [p[(0, 0)] for p in potentials_by_tick(doc, cfg, 6, reference)]
    assert [g[0] for g in got] == [-3, -2, -2, -2, -2, -2]
    assert [g[1] for g in got] == [2, 4, -1, 1, 3, -1]
    _, history = ranc_model(doc, cfg, 6)
    assert [h[(0, 0)] for h in history] == got
    net, _ = tio.read_ranc(doc, cfg)
    # V <= -5 is V < -4: beta = -negative_threshold - 1.
    assert net.core((0, 0)).neurons.negative_threshold[:2].tolist() == [4, 8]


def test_mapping_of_every_field():
    n = ranc_neuron(reset_potential=-7, weights=[3, -2, 255], leak=-4, positive_threshold=2**18 - 1,
                    negative_threshold=-(2**18 - 1), destination_core_offset=[1, -1], destination_axon=200,
                    destination_tick=14, current_potential=-(2**19), reset_mode=1)
    doc = ranc_doc([ranc_core((1, 1), [ranc_neuron(), n], synapses=[(0, 1), (5, 1), (9, 0)], axons=[2, 0, 1])],
                   bus=(0, 0), num_outputs=1)
    net, _ = tio.read_ranc(doc, ranc_config(4, 4))
    core = net.core((1, 1))
    f = {k: v[1] for k, v in core.neurons.as_dict().items()}
    assert f["weights"].tolist() == [3, -2, 255, 0]
    assert not f["stochastic_weights"].any() and not f["stochastic_leak"] and not f["leak_reversal"]
    assert (f["leak"], f["threshold"], f["negative_threshold"]) == (-4, 2**18 - 1, 2**18 - 1)
    assert (f["threshold_mask_bits"], f["reset_value"], f["reset_mode"]) == (0, -7, 1)
    assert not f["negative_saturation"]  # kappa = 0: RANC resets, never clamps
    assert f["initial_potential"] == -(2**19)
    assert (f["target_dx"], f["target_dy"], f["target_axon"], f["target_delay"], f["output_port"]) == (1, -1, 200, 15, -1)
    assert core.axon_types[:4].tolist() == [2, 0, 1, 0] and not core.axon_types[3:].any()
    assert np.argwhere(core.crossbar).tolist() == [[0, 1], [5, 1], [9, 0]]
    # Neurons beyond the list are RANC's default neuron: silent, no target.
    rest = core.neurons
    assert (rest.target_axon[2:] == -1).all() and (rest.output_port[2:] == -1).all()
    assert (rest.threshold[2:] == 1).all() and not rest.weights[2:].any()
    assert sorted(net.coordinates()) == [(1, 1), (2, 0)]  # (2, 0): the unlisted target


def test_output_bus_neurons_get_ports():
    doc = ranc_doc([ranc_core((0, 0), [ranc_neuron(destination_core_offset=[0, 2], destination_axon=k) for k in range(4)])],
                   bus=(0, 2), num_outputs=6)
    net, _ = tio.read_ranc(doc, ranc_config(1, 3))
    neurons = net.core((0, 0)).neurons
    assert neurons.output_port[:4].tolist() == [0, 1, 2, 3]
    assert (neurons.target_axon[:4] == -1).all()
    assert net.output_ports == 6
    assert net.metadata == {"ranc": {"grid": [1, 3], "output_bus": [0, 2], "num_outputs": 6, "neuron_reset_type": 0}}
    assert net.coordinates() == [(0, 0)]  # the bus position is not a core


def test_empty_cores_only_where_targeted():
    a = ranc_core((0, 0), [ranc_neuron(destination_core_offset=[1, 1], destination_axon=9)])
    doc = ranc_doc([a], bus=(2, 2), num_outputs=1, packets=[[ranc_packet((2, 0), 4)]])
    net, inputs = tio.read_ranc(doc, ranc_config(3, 3))
    assert net.coordinates() == [(0, 0), (1, 1), (2, 0)]
    empty = net.core((1, 1))
    assert not empty.crossbar.any() and (empty.neurons.target_axon == -1).all()
    assert (empty.neurons.output_port == -1).all()
    # A spike sent to an empty core vanishes there: nothing ever fires.
    res = tnsim.run(net, 10, inputs)
    assert res.counter_totals()["spikes"] == 0


def test_grid_without_config_and_chips():
    doc = ranc_doc([ranc_core((3, 1), [ranc_neuron(destination_core_offset=[1, 1], destination_axon=0)])],
                   bus=(0, 0), num_outputs=1)
    net, _ = tio.read_ranc(doc)
    assert net.metadata["ranc"]["grid"] == [5, 3]
    assert net.chips == (1, 1)
    # A 65 x 1 grid needs two chips; a spike from x = 63 to x = 64 crosses a chip boundary.
    a = ranc_core((63, 0), [ranc_neuron(destination_core_offset=[1, 0], destination_axon=0)], synapses=[(0, 0)])
    b = ranc_core((64, 0), [ranc_neuron(destination_core_offset=[-64, 0], destination_axon=0)], synapses=[(0, 0)])
    doc = ranc_doc([a, b], bus=(0, 0), num_outputs=1, packets=[[ranc_packet((63, 0), 0)]])
    net, inputs = tio.read_ranc(doc, ranc_config(65, 1))
    assert net.chips == (2, 1)
    res = tnsim.run(net, 3, inputs)
    totals = res.counter_totals()
    assert (totals["spikes"], totals["output_spikes"], totals["hops"], totals["chip_crossings"]) == (2, 1, 1, 1)
    assert outputs(res.output_spikes) == [(1, 0)]


def test_short_rows_default_to_zero_and_extra_connection_rows_are_ignored():
    core = ranc_core((0, 0), [ranc_neuron(weights=[5], positive_threshold=5, destination_core_offset=[0, 1])],
                     synapses=[(3, 0)])
    core["connections"].append([1, 1, 1])  # a row for a neuron that is not listed: RANC never reads it
    core["connections"].append("anything")
    doc = ranc_doc([core], bus=(0, 1), num_outputs=1, packets=[[ranc_packet((0, 0), 3)], [ranc_packet((0, 0), 2)]])
    net, inputs = tio.read_ranc(doc, ranc_config(1, 2))
    assert net.core((0, 0)).crossbar[:, 1:].sum() == 0
    res = tnsim.run(net, 3, inputs)
    assert outputs(res.output_spikes) == [(0, 0)]  # axon 3 is type 0 (axons list is empty), weight 5


def test_smaller_cores():
    cfg = ranc_config(2, 1, num_neurons=16, num_axons=8, num_weights=2)
    doc = ranc_doc([ranc_core((0, 0), [ranc_neuron(weights=[1, 2], destination_core_offset=[1, 0], destination_axon=0)],
                              synapses=[(7, 0)], axons=[1] * 8)], bus=(1, 0), num_outputs=1,
                   packets=[[ranc_packet((0, 0), 7)]])
    net, inputs = tio.read_ranc(doc, cfg)
    res = tnsim.run(net, 2, inputs)
    assert outputs(res.output_spikes) == [(0, 0)]


# --- random networks: engine = RANC model ---------------------------------------------------


def random_ranc(seed: int, reset_type: int) -> Tuple[Dict[str, Any], Dict[str, Any], int]:
    """Three cores on a 3 x 2 grid (bus at (2, 1)), small values (no 20-bit overflow)."""
    rng = np.random.default_rng(seed)
    positions = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1)]
    listed = positions[:3]
    cores = []
    for xy in listed:
        n_neurons, n_axons = int(rng.integers(1, 24)), int(rng.integers(1, 24))
        neurons = []
        for _ in range(n_neurons):
            mode = int(rng.integers(0, 2)) if reset_type == 0 else 0
            tgt = positions[int(rng.integers(0, len(positions)))] if rng.random() < 0.7 else (2, 1)
            neurons.append(ranc_neuron(
                reset_potential=int(rng.integers(-20, 21)), weights=rng.integers(-8, 12, size=int(rng.integers(0, 5))).tolist(),
                leak=int(rng.integers(-3, 3)), positive_threshold=int(rng.integers(0, 30)),
                negative_threshold=int(rng.integers(-30, 1 - reset_type)),
                destination_core_offset=[tgt[0] - xy[0], tgt[1] - xy[1]],
                destination_axon=int(rng.integers(0, 4 if tgt == (2, 1) else 24)),
                destination_tick=int(rng.integers(0, 15)), current_potential=int(rng.integers(-10, 10)), reset_mode=mode))
        rows = (rng.random((n_neurons, n_axons)) < 0.3).astype(int).tolist()
        cores.append({"coordinates": list(xy), "axons": rng.integers(0, 4, size=int(rng.integers(0, n_axons + 1))).tolist(),
                      "neurons": neurons, "connections": rows})
    packets = [[ranc_packet(listed[int(rng.integers(0, 3))], int(rng.integers(0, 24)), int(rng.integers(0, 15)))
                for _ in range(int(rng.integers(0, 6)))] for _ in range(int(rng.integers(0, 30)))]
    return ranc_doc(cores, bus=(2, 1), num_outputs=4, packets=packets), ranc_config(3, 2, reset_type), 40


@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 1]))
def test_random_networks_match_the_ranc_model(seed, reset_type):
    doc, cfg, ticks = random_ranc(seed, reset_type)
    raster, history = ranc_model(doc, cfg, ticks)
    _, sim, res = run_engine(doc, cfg, ticks)
    np.testing.assert_array_equal(res.output_spikes, raster)
    for c in doc["cores"]:
        xy = tuple(c["coordinates"])
        assert sim.potentials(xy)[:len(c["neurons"])].tolist() == history[-1][xy]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_network_engine_equals_reference(seed):
    doc, cfg, ticks = random_ranc(seed, seed % 2)
    _, _, res = run_engine(doc, cfg, ticks)
    _, _, ref = run_engine(doc, cfg, ticks, reference=True)
    assert_same_results(res, ref)
    raster, _ = ranc_model(doc, cfg, ticks)
    np.testing.assert_array_equal(res.output_spikes, raster)


# --- input forms ------------------------------------------------------------------------------


def test_input_forms(tmp_path):
    doc, cfg = seed_document()
    expected_net, expected_inputs = tio.read_ranc(doc, cfg)
    text, cfg_text = json.dumps(doc), json.dumps(cfg)
    (tmp_path / "in.json").write_text(text)
    (tmp_path / "cfg.json").write_bytes(b"\xef\xbb\xbf" + cfg_text.encode())  # with a byte-order mark
    forms = [(tmp_path / "in.json", tmp_path / "cfg.json"), (str(tmp_path / "in.json"), str(tmp_path / "cfg.json")),
             (text, cfg_text), (text.encode(), cfg_text.encode()), ("\ufeff  " + text, cfg), (doc, cfg_text)]
    for src, conf in forms:
        net, inputs = tio.read_ranc(src, conf)
        assert net == expected_net
        np.testing.assert_array_equal(inputs, expected_inputs)
    with pytest.raises(TypeError, match="path, JSON text or a dict"):
        tio.read_ranc(object())
    with pytest.raises(FileNotFoundError):
        tio.read_ranc(str(tmp_path / "missing.json"))


def test_max_bytes(tmp_path):
    doc, cfg = seed_document()
    (tmp_path / "in.json").write_text(json.dumps(doc))
    with pytest.raises(tnsim.FormatError, match="larger than the limit of 100 bytes"):
        tio.read_ranc(tmp_path / "in.json", cfg, max_bytes=100)
    with pytest.raises(tnsim.FormatError, match="larger than the limit"):
        tio.read_ranc(json.dumps(doc), max_bytes=100)


# --- errors: every value SPEC.md cannot represent, every malformed document -----------------


def _neuron_error(field: str, value: Any, reset_type: int = 0, **others: Any):
    def make():
        n = ranc_neuron(destination_core_offset=[1, 0], **others)
        n[field] = value
        doc = ranc_doc([ranc_core((1, 2), [ranc_neuron(negative_threshold=-1), n])], bus=(0, 0), num_outputs=2)
        return doc, ranc_config(3, 3, reset_type)
    return make


NEURON_ERRORS = [
    ("weights", [0, 256], 0, {}, "'weights[1]' = 256 is out of range -255..=255"),
    ("weights", [0, 0, 0, 0, 0], 0, {}, "'weights' has 5 entries, more than num_weights = 4"),
    ("leak", -256, 0, {}, "'leak' = -256 is out of range -255..=255"),
    ("positive_threshold", 2**18, 0, {}, "'positive_threshold' = 262144 is out of range 0..=262143"),
    ("positive_threshold", -1, 0, {}, "'positive_threshold' = -1 is out of range"),
    ("negative_threshold", 1, 0, {}, "'negative_threshold' = 1 is out of range -262143..=0"),
    ("negative_threshold", -(2**18), 0, {}, "'negative_threshold' = -262144 is out of range -262143..=0"),
    ("negative_threshold", 0, 1, {}, "'negative_threshold' = 0 is out of range -262144..=-1"),
    ("reset_mode", 1, 1, {"negative_threshold": -3}, "'reset_mode' = 1 cannot be mapped exactly with neuron_reset_type 1"),
    ("reset_mode", 2, 0, {}, "'reset_mode' = 2 is out of range 0..=1"),
    ("reset_potential", 2**18, 0, {}, "'reset_potential' = 262144 is out of range"),
    ("current_potential", 2**19, 0, {}, "'current_potential' = 524288 is out of range -524288..=524287"),
    ("destination_tick", 15, 0, {}, "'destination_tick' = 15 is refused: RANC accepts it but silently drops"),
    ("destination_tick", 16, 0, {}, "'destination_tick' = 16 is out of range 0..=14"),
    ("destination_tick", -1, 0, {}, "'destination_tick' = -1 is out of range 0..=14"),
    ("destination_axon", 256, 0, {}, "'destination_axon' = 256 is out of range 0..=255"),
    ("destination_axon", -1, 0, {}, "'destination_axon' = -1 is out of range 0..=255"),
    ("destination_core_offset", [5, 0], 0, {}, "target core (6, 2) = (1, 2) + destination_core_offset [5, 0]: "
                                                "position (6, 2) is off the RANC grid of 3 x 3 cores"),
    ("destination_core_offset", [-2, 0], 0, {}, "target core (-1, 2) = (1, 2) + destination_core_offset [-2, 0]: "
                                                 "position (-1, 2) is off the RANC grid (negative coordinate)"),
]


@pytest.mark.parametrize("field,value,reset_type,others,message", NEURON_ERRORS,
                         ids=[f"{e[0]}={e[1]}/type{e[2]}" for e in NEURON_ERRORS])
def test_neuron_values_out_of_range(field, value, reset_type, others, message):
    doc, cfg = _neuron_error(field, value, reset_type, **others)()
    with pytest.raises(tnsim.ConfigError, match=re.escape("core (1, 2) neuron 1: ") + ".*" + re.escape(message)):
        tio.read_ranc(doc, cfg)


def test_output_bus_axon_out_of_range():
    doc = ranc_doc([ranc_core((0, 0), [ranc_neuron(destination_core_offset=[0, 1], destination_axon=3)])],
                   bus=(0, 1), num_outputs=3)
    with pytest.raises(tnsim.ConfigError, match=r"core \(0, 0\) neuron 0: field 'destination_axon' = 3 is out of "
                                                r"range 0..=2 \(the output bus at \(0, 1\) has num_outputs = 3\)"):
        tio.read_ranc(doc)


def _doc_error(edit):
    doc, cfg = seed_document()
    edit(doc, cfg)
    return doc, cfg


DOC_ERRORS = [
    # (edit, exception, message)
    (lambda d, c: d.pop("cores"), tnsim.FormatError, "RANC input: missing key 'cores'"),
    (lambda d, c: d.pop("output_bus"), tnsim.FormatError, "missing key 'output_bus'"),
    (lambda d, c: d["output_bus"].pop("num_outputs"), tnsim.FormatError, "output_bus: missing key 'num_outputs'"),
    (lambda d, c: d["output_bus"].update(num_outputs=-1), tnsim.ConfigError, "'num_outputs' = -1 is out of range"),
    (lambda d, c: d["output_bus"].update(num_outputs=10**9), tnsim.ConfigError, "'num_outputs' = 1000000000 is out"),
    (lambda d, c: d["output_bus"].update(coordinates=[3, 0]), tnsim.ConfigError, r"output_bus: coordinates: position \(3, 0\) is off the RANC grid"),
    (lambda d, c: d["cores"][0].pop("axons"), tnsim.FormatError, r"cores\[0\]: missing key 'axons'"),
    (lambda d, c: d["cores"][0].update(coordinates=[0]), tnsim.FormatError, "'coordinates' must be a list of two integers"),
    (lambda d, c: d["cores"][0].update(coordinates=[0, 5]), tnsim.ConfigError, r"core \(0, 5\): coordinates: position \(0, 5\) is off"),
    (lambda d, c: d["cores"][0].update(coordinates=[2, 1]), tnsim.ConfigError, "at the output bus position"),
    (lambda d, c: d["cores"][1].update(coordinates=[0, 0]), tnsim.ConfigError, r"core \(0, 0\): listed twice"),
    (lambda d, c: d["cores"][0]["neurons"][1].pop("leak"), tnsim.FormatError, r"core \(0, 0\) neuron 1: missing key 'leak'"),
    (lambda d, c: d["cores"][0]["neurons"][1].update(leak=1.5), tnsim.FormatError, "'leak' must be an integer, got number 1.5"),
    (lambda d, c: d["cores"][0]["neurons"][1].update(leak=2.0), tnsim.FormatError, "'leak' must be an integer, got number 2.0"),
    (lambda d, c: d["cores"][0]["neurons"][1].update(leak=True), tnsim.FormatError, "'leak' must be an integer, got boolean true"),
    (lambda d, c: d["cores"][0]["neurons"][1].update(leak="1"), tnsim.FormatError, "'leak' must be an integer, got string '1'"),
    (lambda d, c: d["cores"][0]["neurons"][1].update(weights=[1, None]), tnsim.FormatError, r"'weights\[1\]' must be an integer, got null"),
    (lambda d, c: (d["cores"][0]["neurons"].append(5), d["cores"][0]["connections"].append([])), tnsim.FormatError,
     r"core \(0, 0\) neuron 3: expected a JSON object, got integer 5"),
    (lambda d, c: d["cores"][0]["connections"][1].__setitem__(0, 2), tnsim.ConfigError, r"neuron 1: field 'connections' axon 0 = 2, expected 0 or 1"),
    (lambda d, c: d["cores"][0]["connections"].pop(), tnsim.FormatError, r"core \(0, 0\) neuron 2: missing its row of 'connections'"),
    (lambda d, c: d["cores"][0]["connections"][0].extend([0] * 254), tnsim.ConfigError, r"neuron 0: field 'connections' has 257 entries, more than num_axons = 256"),
    (lambda d, c: d["cores"][0]["axons"].append(4), tnsim.ConfigError, r"core \(0, 0\): field 'axons\[3\]' = 4 is out of range 0..=3"),
    (lambda d, c: d["cores"][0]["axons"].extend([0] * 254), tnsim.ConfigError, "'axons' has 257 entries, more than num_axons"),
    (lambda d, c: d["cores"][0]["neurons"].extend([ranc_neuron()] * 254), tnsim.ConfigError, "'neurons' has 257 entries, more than num_neurons"),
    (lambda d, c: d["packets"][0][0].update(destination_tick=15), tnsim.ConfigError, r"packets\[0\]\[0\]: field 'destination_tick' = 15 is refused"),
    (lambda d, c: d["packets"][2][0].update(destination_axon=256), tnsim.ConfigError, r"packets\[2\]\[0\]: field 'destination_axon' = 256"),
    (lambda d, c: d["packets"][2][0].update(destination_core=[2, 1]), tnsim.ConfigError, "is the output bus position"),
    (lambda d, c: d["packets"][2][0].update(destination_core=[-1, 0]), tnsim.ConfigError, "negative coordinate"),
    (lambda d, c: d["packets"][2][0].update(destination_core=[3, 0]), tnsim.ConfigError, r"packets\[2\]\[0\]: destination_core \[3, 0\]: position \(3, 0\) is off"),
    (lambda d, c: d["packets"][2].append([]), tnsim.FormatError, r"packets\[2\]\[1\]: expected a JSON object"),
    (lambda d, c: d.update(packets={}), tnsim.FormatError, "field 'packets' must be a list"),
    (lambda d, c: c.pop("num_cores_x"), tnsim.FormatError, "RANC config: missing key 'num_cores_x'"),
    (lambda d, c: c.update(num_weights=5), tnsim.ConfigError, "'num_weights' = 5 is out of range 1..=4"),
    (lambda d, c: c.update(num_axons=512), tnsim.ConfigError, "'num_axons' = 512 is out of range 1..=256"),
    (lambda d, c: c.update(num_neurons=0), tnsim.ConfigError, "'num_neurons' = 0 is out of range 1..=256"),
    (lambda d, c: c.update(max_tick_offset=8), tnsim.ConfigError, "'max_tick_offset' = 8 cannot be mapped exactly"),
    (lambda d, c: c.update(neuron_reset_type=2), tnsim.ConfigError, "'neuron_reset_type' = 2 is out of range 0..=1"),
    (lambda d, c: c.update(num_cores_x=10**6), tnsim.ConfigError, "'num_cores_x' = 1000000 is out of range"),
    (lambda d, c: c.update(num_axons=3), tnsim.ConfigError, r"core \(0, 0\) neuron 0: field 'destination_axon' = 3 is out of range 0..=2"),
]


@pytest.mark.parametrize("edit,exc,message", DOC_ERRORS, ids=[str(i) for i in range(len(DOC_ERRORS))])
def test_document_errors(edit, exc, message):
    doc, cfg = _doc_error(edit)
    with pytest.raises(exc, match=message):
        tio.read_ranc(doc, cfg)


MALFORMED = [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"[]", "expected a JSON object, got a list of 0 items"),
    (b"null", "expected a JSON object, got null"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b"{\"cores\": [], \"cores\": []}", "key 'cores' appears twice"),
    (b"{\"a\": NaN}", "NaN is not valid JSON"),
    (b"{\"a\": -Infinity}", "-Infinity is not valid JSON"),
    (b"{\"a\": " + b"9" * 5000 + b"}", "integer literal of 5000 digits is too long"),
    (b"{\"a\": " + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    (b"{\"output_bus\": {\"coordinates\": [0, 0], \"num_outputs\": 1e400}, \"cores\": []}", "'num_outputs' must be an integer, got number inf"),
]


@pytest.mark.parametrize("text,message", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_json(text, message):
    with pytest.raises(tnsim.FormatError, match=message):
        tio.read_ranc(text)


def test_seed_document():
    # The fuzzers' seed: two listed cores, an empty core at (0, 1) (targeted by core (0, 0)
    # neuron 2), neurons of both cores on the output bus at (2, 1).
    doc, cfg = seed_document()
    net, inputs = tio.read_ranc(doc, cfg)
    assert net.coordinates() == [(0, 0), (0, 1), (1, 0)]
    assert net.core((0, 0)).neurons.output_port[:3].tolist() == [-1, 1, -1]
    assert net.core((1, 0)).neurons.output_port[0] == 0
    assert inputs.tolist() == [[0, 0, 0, 0], [3, 0, 0, 2], [3, 1, 0, 3]]
    raster, _ = ranc_model(doc, cfg, 30)
    np.testing.assert_array_equal(tnsim.run(net, 30, inputs).output_spikes, raster)
    assert raster.any()


# --- RANC's output file -----------------------------------------------------------------------


def test_write_ranc_output_layout(tmp_path):
    raster = np.array([[0, 1, 0], [2, 0, 1]])  # counts: nonzero is a spike
    tio.write_ranc_output(tmp_path / "out.txt", raster)
    assert (tmp_path / "out.txt").read_bytes() == b"\xef\xbb\xbf0 0 0 \n0 1 0 \n1 0 1 \n"
    np.testing.assert_array_equal(tio.read_ranc_output(tmp_path / "out.txt"), raster != 0)
    tio.write_ranc_output(tmp_path / "none.txt", np.zeros((2, 0), dtype=bool))
    assert (tmp_path / "none.txt").read_bytes() == b"\xef\xbb\xbf\n\n\n"
    assert tio.read_ranc_output(tmp_path / "none.txt").shape == (2, 0)


@given(st.integers(0, 30), st.integers(0, 12), st.integers(0, 2**32 - 1))
def test_ranc_output_round_trip(ticks, outputs_, seed):
    import tempfile

    raster = np.random.default_rng(seed).random((ticks, outputs_)) < 0.3
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.txt"
        tio.write_ranc_output(path, raster)
        np.testing.assert_array_equal(tio.read_ranc_output(path), raster)
        assert len(path.read_bytes().split(b"\n")) == ticks + 2


def test_read_ranc_output_variants_and_errors(tmp_path):
    p = tmp_path / "out.txt"
    p.write_bytes(b"0 0 \r\n1 0 \r\n0 1")  # no BOM, CRLF, no final newline
    assert tio.read_ranc_output(p).tolist() == [[True, False], [False, True]]
    for data, message in [(b"", "no lines"), (b"0 1 \n", "line 1 .* is not all zeros"),
                          (b"0 0 \n0 2 \n", "line 2: value b'2' is not 0 or 1"),
                          (b"0 0 \n0 \n", "line 2 has 1 values, line 1 has 2")]:
        p.write_bytes(data)
        with pytest.raises(tnsim.FormatError, match=message):
            tio.read_ranc_output(p)
    with pytest.raises(ValueError, match="shape"):
        tio.write_ranc_output(p, np.zeros(3))
    with pytest.raises(TypeError, match="dtype"):
        tio.write_ranc_output(p, np.zeros((3, 2)))
