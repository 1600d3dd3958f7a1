"""Bad input never crashes and is never silently accepted.

One test (parametrised where natural) per class of bad input: every value out of its SPEC.md
section 2 range, wrong shapes and dtypes, NaN, bad targets, bad cores, bad host inputs and
bad files. Each asserts the exception type (a ``ValueError`` subclass, ``TypeError`` for a
wrong type, ``OSError`` for a missing file) and that the message names where the bad value
is: the core ``(x, y)``, the neuron (or axon, or input row) and the field.

A Rust panic would surface as ``pyo3_runtime.PanicException`` (a ``BaseException``), which
none of the ``pytest.raises`` below accepts, so any panic fails the test that triggers it.
"""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np
import pytest

import tnsim
from tnsim import _core
from tnsim.network import _neurons_to_raw

# SPEC.md section 2 (and section 5 for targets), written out here so that a wrong range in
# the engine is caught rather than trusted.
SPEC_RANGES = {
    "weights": (-255, 255),
    "stochastic_weights": (0, 1),
    "leak": (-255, 255),
    "stochastic_leak": (0, 1),
    "leak_reversal": (0, 1),
    "threshold": (0, 2**18 - 1),
    "negative_threshold": (0, 2**18 - 1),
    "threshold_mask_bits": (0, 18),
    "reset_value": (-(2**18 - 1), 2**18 - 1),
    "reset_mode": (0, 2),
    "negative_saturation": (0, 1),
    "initial_potential": (-(2**19), 2**19 - 1),
    "target_dx": (-256, 255),  # 9-bit signed offsets
    "target_dy": (-256, 255),
    "target_axon": (-1, 255),  # -1: no axon target
    "target_delay": (1, 15),
    "output_port": (-1, 65535),  # -1: no port; the upper bound is a tnsim limit
}
BOOL_FIELDS = {"stochastic_weights", "stochastic_leak", "leak_reversal", "negative_saturation"}
INT_FIELDS = [name for name in SPEC_RANGES if name not in BOOL_FIELDS]
PER_TYPE_FIELDS = {"weights", "stochastic_weights"}  # (256, 4): one value per axon type

CORE = (3, 5)
NEURON = 37
AXON_TYPE = 2


def empty_crossbar() -> np.ndarray:
    return np.zeros((256, 256), dtype=bool)


def neurons_with(field: str, value, neuron: int = NEURON, **common) -> tnsim.Neurons:
    """Default neurons (plus ``common``) with ``field`` of one neuron set to ``value``."""
    fields = tnsim.Neurons(**common).as_dict()
    arr = fields[field].astype(np.int64)  # flags too, so that 2 or -1 can be written
    if field in PER_TYPE_FIELDS:
        arr[neuron, AXON_TYPE] = value
    else:
        arr[neuron] = value
    fields[field] = arr
    return tnsim.Neurons(**fields)


def assert_names(err: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(err.value)
    for part in parts:
        assert part in msg, f"{part!r} not named in: {msg}"


def core_str(xy=CORE) -> str:
    return f"core ({xy[0]}, {xy[1]})"


def field_named(msg: str, field: str) -> bool:
    return re.search(rf"\b{re.escape(field)}\b", msg) is not None


# --- the exception classes ---------------------------------------------------------------


def test_exception_hierarchy():
    assert issubclass(tnsim.TnsimError, ValueError)
    for cls in (tnsim.ConfigError, tnsim.InputError, tnsim.FormatError):
        assert issubclass(cls, tnsim.TnsimError)
        assert issubclass(cls, ValueError)
    assert tnsim.ConfigError is _core.ConfigError


# --- ranges of SPEC section 2 --------------------------------------------------------------


def test_engine_ranges_match_spec():
    engine = {name: (lo, hi) for name, lo, hi in _core.neuron_field_ranges()}
    assert engine == SPEC_RANGES
    assert [name for name, _, _ in _core.neuron_field_ranges()] == list(tnsim.Neurons().as_dict())


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_neuron_field_out_of_range(field, side):
    lo, hi = SPEC_RANGES[field]
    value = lo - 1 if side == "below" else hi + 1
    neurons = neurons_with(field, value)  # Neurons holds it; the range is checked at add_core
    net = tnsim.Network()
    with pytest.raises(tnsim.ConfigError) as err:
        net.add_core(CORE, empty_crossbar(), neurons=neurons)
    assert_names(err, core_str(), f"neuron {NEURON}", f"'{field}'", str(value))
    assert CORE not in net


@pytest.mark.parametrize("field", INT_FIELDS)
def test_neuron_field_range_ends_accepted(field):
    """Exactly min and max are valid (a too-narrow engine range is caught here)."""
    lo, hi = SPEC_RANGES[field]
    net = tnsim.Network()
    for k, value in enumerate((lo, hi)):
        net.add_core((k, 0), empty_crossbar(), neurons=neurons_with(field, value))
        got = getattr(net.core((k, 0)).neurons, field)
        assert (got[NEURON, AXON_TYPE] if field in PER_TYPE_FIELDS else got[NEURON]) == value


@pytest.mark.parametrize("field", sorted(BOOL_FIELDS))
@pytest.mark.parametrize("value", [-1, 2])
def test_flag_field_out_of_range(field, value):
    """Flags are caught by Neurons itself (no core yet): ValueError naming field and neuron."""
    with pytest.raises(ValueError) as err:
        neurons_with(field, value)
    assert_names(err, f"'{field}'", f"neuron {NEURON}", str(value))


def _raw_add(raw: np.ndarray, xy=CORE, seed: int = 1, types=None):
    inner = _core.Network((1, 1), None)
    inner.add_core(xy[0], xy[1], empty_crossbar(), np.zeros(256, np.int64) if types is None else types, raw, seed)
    return inner


@pytest.mark.parametrize("field", list(SPEC_RANGES))
@pytest.mark.parametrize("side", ["below", "above"])
def test_engine_checks_every_field(field, side):
    """The engine checks every field itself (the raw layer bypasses Neurons' conversions)."""
    lo, hi = SPEC_RANGES[field]
    value = lo - 1 if side == "below" else hi + 1
    layout = _core.neuron_fields()
    col = 0
    for name, width in layout:
        if name == field:
            break
        col += width
    if field in PER_TYPE_FIELDS:
        col += AXON_TYPE
    raw = _neurons_to_raw(tnsim.Neurons())
    raw[NEURON, col] = value
    with pytest.raises(tnsim.ConfigError) as err:
        _raw_add(raw)
    assert_names(err, core_str(), f"neuron {NEURON}", f"'{field}'", str(value))


def test_raw_layer_checks_shapes_and_types():
    raw = _neurons_to_raw(tnsim.Neurons())
    with pytest.raises(tnsim.ConfigError, match="neurons"):
        _raw_add(raw[:, :-1].copy())
    with pytest.raises(tnsim.ConfigError, match="axon_types"):
        _raw_add(raw, types=np.zeros(255, np.int64))
    with pytest.raises(TypeError):
        _raw_add(raw.astype(np.float64))


# --- the explicit cases of the issue -------------------------------------------------------


@pytest.mark.parametrize("delay", [0, 16])
def test_delay_out_of_range(delay):
    neurons = neurons_with("target_delay", delay, target_axon=0)
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, empty_crossbar(), neurons=neurons)
    assert_names(err, core_str(), f"neuron {NEURON}", "'target_delay'")


def test_target_axon_256():
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, empty_crossbar(), neurons=neurons_with("target_axon", 256))
    assert_names(err, core_str(), f"neuron {NEURON}", "'target_axon'", "256")


@pytest.mark.parametrize("field", ["target_dx", "target_dy"])
@pytest.mark.parametrize("value", [-257, 256])
def test_offset_beyond_9_bits(field, value):
    neurons = neurons_with(field, value, target_axon=0)
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network(chips=(8, 8)).add_core(CORE, empty_crossbar(), neurons=neurons)
    assert_names(err, core_str(), f"neuron {NEURON}", f"'{field}'", str(value))


@pytest.mark.parametrize("value", [4, -1, 255])
def test_axon_type_out_of_range(value):
    types = np.zeros(256, np.int64)
    types[200] = value
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, empty_crossbar(), axon_types=types)
    assert_names(err, core_str(), "axon 200", "'axon_types'", str(value))


@pytest.mark.parametrize("value", [4, -1])
def test_axon_type_scalar_out_of_range(value):
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, empty_crossbar(), axon_types=value)
    assert_names(err, core_str(), "'axon_types'")


def test_axon_types_wrong_shape_dtype_nan():
    net = tnsim.Network()
    with pytest.raises(tnsim.ConfigError) as err:
        net.add_core(CORE, empty_crossbar(), axon_types=np.zeros(255, np.int64))
    assert_names(err, core_str(), "'axon_types'")
    with pytest.raises(TypeError, match="axon_types"):
        net.add_core(CORE, empty_crossbar(), axon_types=np.array(["0"] * 256))
    with pytest.raises(tnsim.ConfigError) as err:
        net.add_core(CORE, empty_crossbar(), axon_types=np.r_[np.zeros(255), np.nan])
    assert_names(err, core_str(), "'axon_types'", "axon 255")
    assert len(net) == 0


@pytest.mark.parametrize("seed", [-1, 2**32, 2**63, 2**70])
def test_seed_out_of_range(seed):
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, empty_crossbar(), seed=seed)
    assert_names(err, core_str(), "'seed'", str(seed))


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_seed_range_ends_accepted(seed):
    net = tnsim.Network()
    net.add_core(CORE, empty_crossbar(), seed=seed)
    assert net.core(CORE).seed == seed


@pytest.mark.parametrize("seed", [1.0, "1", None, True])
def test_seed_wrong_type(seed):
    with pytest.raises(TypeError, match="seed"):
        tnsim.Network().add_core(CORE, empty_crossbar(), seed=seed)


# --- crossbar --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(256, 255), (255, 256), (256,), (256, 256, 1), ()])
def test_crossbar_wrong_shape(shape):
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, np.zeros(shape, dtype=bool))
    assert_names(err, core_str(), "'crossbar'")


@pytest.mark.parametrize("bad", [np.full((256, 256), "0"), np.full((256, 256), None, dtype=object),
                                 np.zeros((256, 256), dtype=complex)])
def test_crossbar_wrong_dtype(bad):
    with pytest.raises(TypeError) as err:
        tnsim.Network().add_core(CORE, bad)
    assert_names(err, core_str(), "'crossbar'")


@pytest.mark.parametrize("value", [2, -1, 0.5, np.nan])
def test_crossbar_not_0_or_1(value):
    cb = np.zeros((256, 256))
    cb[17, NEURON] = value
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, cb)
    assert_names(err, core_str(), "'crossbar'", "axon 17", f"neuron {NEURON}")


# --- values that are not integers -------------------------------------------------------------


@pytest.mark.parametrize("field", list(SPEC_RANGES))
def test_nan_in_neuron_field(field):
    shape = (256, 4) if field in PER_TYPE_FIELDS else (256,)
    arr = np.zeros(shape)
    arr[NEURON] = np.nan
    with pytest.raises(ValueError) as err:
        tnsim.Neurons(**{field: arr})
    assert_names(err, f"'{field}'", f"neuron {NEURON}", "nan")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_in_neuron_field(value):
    with pytest.raises(ValueError, match="'leak'"):
        tnsim.Neurons(leak=value)


@pytest.mark.parametrize("field", ["leak", "threshold", "target_delay", "weights"])
def test_non_integer_float(field):
    shape = (256, 4) if field in PER_TYPE_FIELDS else (256,)
    arr = np.ones(shape)
    arr[NEURON] = 1.5
    with pytest.raises(ValueError) as err:
        tnsim.Neurons(**{field: arr})
    assert_names(err, f"'{field}'", f"neuron {NEURON}", "1.5")


def test_integral_floats_accepted():
    n = tnsim.Neurons(leak=np.full(256, 3.0), weights=[1.0, -2.0, 0.0, 255.0])
    assert n.leak.dtype == np.int64 and (n.leak == 3).all()
    assert (n.weights == [1, -2, 0, 255]).all()


@pytest.mark.parametrize("field", list(SPEC_RANGES))
@pytest.mark.parametrize("shape", [(255,), (257,), (256, 3), (2, 256)])
def test_neuron_field_wrong_shape(field, shape):
    with pytest.raises(ValueError) as err:
        tnsim.Neurons(**{field: np.zeros(shape, dtype=np.int64)})
    assert_names(err, f"'{field}'", "shape")


@pytest.mark.parametrize("value", ["1", ["a"] * 256, None, object(), np.zeros(256, dtype=complex)])
def test_neuron_field_wrong_type(value):
    with pytest.raises(TypeError, match="'threshold'"):
        tnsim.Neurons(threshold=value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70, np.uint64(2**63), 1e30])
def test_neuron_field_beyond_int64(value):
    with pytest.raises(ValueError, match="'leak'"):
        tnsim.Neurons(leak=value)


def test_neurons_must_be_neurons():
    with pytest.raises(TypeError, match="Neurons"):
        tnsim.Network().add_core(CORE, empty_crossbar(), neurons={"leak": 0})


# --- targets (checked when a simulator is built) ----------------------------------------------


def _net_with_target(dx: int, dy: int, chips=(1, 1), others=()) -> tnsim.Network:
    net = tnsim.Network(chips=chips)
    net.add_core(CORE, empty_crossbar(), neurons=_target_neurons(dx, dy))
    for xy in others:
        net.add_core(xy, empty_crossbar())
    return net


def _target_neurons(dx: int, dy: int) -> tnsim.Neurons:
    fields = tnsim.Neurons().as_dict()
    fields["target_axon"][NEURON] = 7
    fields["target_dx"][NEURON] = dx
    fields["target_dy"][NEURON] = dy
    return tnsim.Neurons(**fields)


@pytest.mark.parametrize("dx, dy", [(-4, 0), (0, -6), (61, 0), (0, 59), (255, 255), (-256, -256)])
def test_target_off_the_grid(dx, dy):
    net = _net_with_target(dx, dy)
    for check in (lambda: tnsim.Simulator(net), net.validate):
        with pytest.raises(tnsim.ConfigError) as err:
            check()
        assert_names(err, core_str(), f"neuron {NEURON}", "target_dx", "target_dy", "off the grid",
                     f"({CORE[0] + dx}, {CORE[1] + dy})")


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 1), (-3, -5), (0, 0)])
def test_target_on_an_empty_position(dx, dy):
    net = _net_with_target(dx, dy, others=[(0, 0)] if (dx, dy) != (-3, -5) else [(1, 1)])
    if (dx, dy) == (0, 0):  # a neuron targeting its own core is fine
        tnsim.Simulator(net)
        return
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Simulator(net)
    assert_names(err, core_str(), f"neuron {NEURON}", "target_dx", "target_dy", "no core",
                 f"({CORE[0] + dx}, {CORE[1] + dy})")


def test_target_across_chips_to_a_configured_core_is_fine():
    net = _net_with_target(64, 0, chips=(2, 1), others=[(CORE[0] + 64, CORE[1])])
    tnsim.Simulator(net)


def test_axon_target_and_output_port():
    neurons = neurons_with("output_port", 0, target_axon=-1)
    fields = neurons.as_dict()
    fields["target_axon"][NEURON] = 3
    with pytest.raises(tnsim.ConfigError) as err:
        tnsim.Network().add_core(CORE, empty_crossbar(), neurons=tnsim.Neurons(**fields))
    assert_names(err, core_str(), f"neuron {NEURON}", "'output_port'", "'target_axon'")


# --- cores --------------------------------------------------------------------------------------


def test_duplicate_core():
    net = tnsim.Network()
    net.add_core(CORE, empty_crossbar(), neurons=tnsim.Neurons(leak=5), seed=9)
    before = net.to_bytes()
    with pytest.raises(tnsim.ConfigError) as err:
        net.add_core(CORE, empty_crossbar(), neurons=tnsim.Neurons(leak=7), seed=3)
    assert_names(err, core_str(), "duplicate")
    assert net.to_bytes() == before
    assert (net.core(CORE).neurons.leak == 5).all() and net.core(CORE).seed == 9


@pytest.mark.parametrize("chips, xy", [((1, 1), (64, 0)), ((1, 1), (0, 64)), ((1, 1), (-1, 0)),
                                       ((1, 1), (0, -1)), ((2, 3), (128, 0)), ((2, 3), (0, 192)),
                                       ((1, 1), (2**40, 0)), ((1, 1), (0, -(2**70)))])
def test_core_off_the_grid(chips, xy):
    net = tnsim.Network(chips=chips)
    with pytest.raises(tnsim.ConfigError) as err:
        net.add_core(xy, empty_crossbar())
    assert_names(err, core_str(xy), "off the grid")
    assert len(net) == 0


@pytest.mark.parametrize("xy", [(1.0, 2), ("1", 2), (1,), (1, 2, 3), 5, None, (True, 0)])
def test_core_position_wrong_type(xy):
    with pytest.raises(TypeError):
        tnsim.Network().add_core(xy, empty_crossbar())


@pytest.mark.parametrize("chips", [(0, 1), (1, 0), (-1, 1), (257, 1), (2**70, 1)])
def test_chips_out_of_range(chips):
    with pytest.raises(tnsim.ConfigError, match="chips"):
        tnsim.Network(chips=chips)


@pytest.mark.parametrize("chips", [(1.0, 1), 1, "11", (1, None)])
def test_chips_wrong_type(chips):
    with pytest.raises(TypeError, match="chips"):
        tnsim.Network(chips=chips)


@pytest.mark.parametrize("ports", [-1, 65537, 2**70])
def test_output_ports_out_of_range(ports):
    with pytest.raises(tnsim.ConfigError, match="output_ports"):
        tnsim.Network(output_ports=ports)


@pytest.mark.parametrize("ports", [1.0, "2", True])
def test_output_ports_wrong_type(ports):
    with pytest.raises(TypeError, match="output_ports"):
        tnsim.Network(output_ports=ports)


@pytest.mark.parametrize("ports, port", [(2, 2), (2, 100), (0, 0)])
def test_output_port_beyond_explicit_ports(ports, port):
    net = tnsim.Network(output_ports=ports)
    with pytest.raises(tnsim.ConfigError) as err:
        net.add_core(CORE, empty_crossbar(), neurons=neurons_with("output_port", port))
    assert_names(err, core_str(), f"neuron {NEURON}", "'output_port'", str(port), f"{ports} output ports")
    assert len(net) == 0


def test_port_below_explicit_ports_accepted():
    net = tnsim.Network(output_ports=2)
    net.add_core(CORE, empty_crossbar(), neurons=neurons_with("output_port", 1))
    assert net.output_ports == 2


@pytest.mark.parametrize("bad", ["neuron_value", "flag", "duplicate", "off_grid", "crossbar", "seed",
                                 "axon_types", "conflict", "port_beyond"])
def test_error_leaves_network_unchanged(bad):
    """A failed add_core never leaves a half-added core behind."""
    net = tnsim.Network(output_ports=4)
    net.add_core((0, 0), empty_crossbar(), neurons=tnsim.Neurons(leak=1, output_port=3), seed=5)
    net.metadata = {"k": [1, 2]}
    before = net.to_bytes()
    good = dict(xy=(1, 0), crossbar=empty_crossbar(), axon_types=0, neurons=tnsim.Neurons(), seed=1)
    if bad == "neuron_value":
        good["neurons"] = neurons_with("threshold", 2**18, neuron=255)  # the last neuron
    elif bad == "flag":
        with pytest.raises(ValueError):
            good["neurons"] = neurons_with("stochastic_leak", 2, neuron=255)
        good["neurons"] = tnsim.Neurons(leak=np.r_[np.zeros(255, int), 256])
    elif bad == "duplicate":
        good["xy"] = (0, 0)
    elif bad == "off_grid":
        good["xy"] = (64, 0)
    elif bad == "crossbar":
        good["crossbar"] = np.full((256, 256), 3)
    elif bad == "seed":
        good["seed"] = 2**32
    elif bad == "axon_types":
        good["axon_types"] = np.r_[np.zeros(255, int), 4]
    elif bad == "conflict":
        good["neurons"] = neurons_with("target_axon", 1, neuron=255, output_port=0)
    elif bad == "port_beyond":
        good["neurons"] = neurons_with("output_port", 4, neuron=255)
    with pytest.raises(tnsim.ConfigError):
        net.add_core(**good)
    assert net.to_bytes() == before
    assert net.coordinates() == [(0, 0)] and len(net) == 1 and (1, 0) not in net
    assert net.output_ports == 4
    # ... and the network still works.
    net.add_core((1, 0), empty_crossbar())
    assert net.coordinates() == [(0, 0), (1, 0)]


# --- runs and host inputs -----------------------------------------------------------------------


@pytest.fixture
def sim() -> tnsim.Simulator:
    net = tnsim.Network()
    net.add_core(CORE, empty_crossbar())
    net.add_core((0, 0), empty_crossbar())
    return tnsim.Simulator(net, threads=1)


def test_input_to_a_missing_core(sim):
    with pytest.raises(tnsim.InputError) as err:
        sim.run(5, inputs=[[0, 0, 0, 1], [1, 4, 5, 1]])
    assert_names(err, "row 1", "core (4, 5)", "'x'", "'y'", "not configured")
    with pytest.raises(tnsim.InputError, match=r"core \(-1, 0\)"):
        sim.run(5, inputs=[[0, -1, 0, 1]])
    with pytest.raises(tnsim.InputError, match="not configured"):
        sim.run(5, inputs=[[0, 2**62, 0, 1]])
    assert sim.tick == 0  # a rejected run runs nothing


def test_input_at_a_negative_tick(sim):
    with pytest.raises(tnsim.InputError) as err:
        sim.run(5, inputs=[[-1, *CORE, 0]])
    assert_names(err, "row 0", "'tick'", "-1", "past")
    assert sim.tick == 0


def test_input_at_an_already_past_tick(sim):
    sim.run(10)
    with pytest.raises(tnsim.InputError) as err:
        sim.run(5, inputs=[[10, *CORE, 0], [9, *CORE, 0]])
    assert_names(err, "row 1", "'tick'", "9", "already past", "tick 10")
    assert sim.tick == 10
    sim.run(5, inputs=[[10, *CORE, 0], [14, *CORE, 0]])  # absolute ticks of this run are fine
    assert sim.tick == 15


@pytest.mark.parametrize("tick", [5, 6, 2**40])
def test_input_beyond_the_run(sim, tick):
    with pytest.raises(tnsim.InputError) as err:
        sim.run(5, inputs=[[tick, *CORE, 0]])
    assert_names(err, "row 0", "'tick'", str(tick), "beyond")
    assert sim.tick == 0


def test_input_in_a_zero_tick_run(sim):
    with pytest.raises(tnsim.InputError, match="'tick'"):
        sim.run(0, inputs=[[0, *CORE, 0]])


@pytest.mark.parametrize("axon", [256, -1, 1000])
def test_input_axon_out_of_range(sim, axon):
    with pytest.raises(tnsim.InputError) as err:
        sim.run(5, inputs=[[0, *CORE, axon]])
    assert_names(err, "row 0", "'axon'", str(axon))


@pytest.mark.parametrize("shape", [(3,), (4,), (2, 3), (2, 5), (1, 4, 1)])
def test_inputs_wrong_shape(sim, shape):
    with pytest.raises(tnsim.InputError, match="shape"):
        sim.run(5, inputs=np.zeros(shape, dtype=np.int64))


@pytest.mark.parametrize("value", [np.nan, np.inf, 0.5])
def test_inputs_not_integers(sim, value):
    inputs = np.array([[0, CORE[0], CORE[1], 0], [1, CORE[0], CORE[1], value]])
    with pytest.raises(tnsim.InputError, match="input"):
        sim.run(5, inputs=inputs)


def test_integral_float_inputs_accepted(sim):
    sim.run(5, inputs=np.array([[0.0, CORE[0], CORE[1], 3.0]]))


@pytest.mark.parametrize("inputs", [[["0", "3", "5", "1"]], np.array([[0, 3, 5, None]], dtype=object),
                                    np.zeros((1, 4), dtype=complex)])
def test_inputs_wrong_type(sim, inputs):
    with pytest.raises(TypeError, match="inputs"):
        sim.run(5, inputs=inputs)


@pytest.mark.parametrize("value", [2**63, 2**70])
def test_inputs_beyond_int64(sim, value):
    inputs = np.array([[0, 3, 5, value]], dtype=np.uint64) if value < 2**64 else [[0, 3, 5, value]]
    with pytest.raises(tnsim.InputError, match="int64"):
        sim.run(5, inputs=inputs)


@pytest.mark.parametrize("starts,targets,parts", [
    ([], [], ["starts must run from 0"]),
    ([1, 1], [[*CORE, 0]], ["starts must run from 0"]),
    ([0, 1], [[*CORE, 0], [*CORE, 1]], ["starts must run from 0", "(2)"]),
    ([0, 2, 1, 2], [[*CORE, 0], [*CORE, 1]], ["starts[2] = 1", "below starts[1] = 2"]),
    ([0, 2], [[*CORE, 0], [4, 5, 0]], ["targets row 1", "core (4, 5)", "not configured"]),
    ([0, 1], [[*CORE, 256]], ["targets row 0", "'axon' = 256"]),
    ([0, 1], [[*CORE]], ["targets has shape (1, 2)", "(x, y, axon)"]),
    ([[0, 1]], [[*CORE, 0]], ["starts has shape (1, 2)", "(n,)"]),
    ([0, 1], [[*CORE, 0.5]], ["targets contain non-integer values"]),
])
def test_bad_input_lines(sim, starts, targets, parts):
    sim.set_input_lines([0, 1], [[*CORE, 0]])
    with pytest.raises(tnsim.InputError) as err:
        sim.set_input_lines(starts, targets)
    assert_names(err, *parts)
    assert sim.input_line_count == 1   # the lines set before are kept


def test_bad_input_line_events(sim):
    with pytest.raises(tnsim.InputError, match=r"'line' = 0 is out of range \(0 input lines"):
        sim.run_lines(5, [[0, 0]])
    sim.set_input_lines([0, 1, 3], [[*CORE, 0], [*CORE, 1], [0, 0, 7]])
    for events, parts in [([[0, 0], [1, 2]], ["events row 1", "'line' = 2", "2 input lines"]),
                          ([[0, -1]], ["events row 0", "'line' = -1"]),
                          ([[7, 0]], ["events row 0", "'tick' = 7", "beyond"]),
                          ([[0, 0, 1]], ["events has shape (1, 3)", "(tick, line)"])]:
        with pytest.raises(tnsim.InputError) as err:
            sim.run_lines(5, events)
        assert_names(err, *parts)
        assert sim.tick == 0
    with pytest.raises(TypeError, match="events"):
        sim.run_lines(5, [["0", "1"]])


def test_input_lines_equal_rows():
    rng = np.random.default_rng(3)
    net = tnsim.Network()
    for xy in [(0, 0), (1, 0), (2, 3)]:
        net.add_core(xy, rng.random((256, 256)) < 0.3,
                     neurons=tnsim.Neurons(threshold=2, weights=[1, 1, -1, 1], leak=-1, output_port=np.arange(256)))
    targets = np.array([[x, y, a] for x, y in [(0, 0), (1, 0), (2, 3)] for a in rng.choice(256, 40)])
    starts = np.concatenate([[0], np.sort(rng.integers(0, len(targets), 9)), [len(targets)]])
    events = np.stack([rng.integers(0, 30, 200), rng.integers(0, 10, 200)], 1)
    rows = np.array([[t, *targets[j]] for t, k in events for j in range(starts[k], starts[k + 1])])
    a = tnsim.Simulator(net, threads=1).run(30, rows)
    sim = tnsim.Simulator(net, threads=2)
    sim.set_input_lines(starts, targets)
    assert sim.input_line_count == 10
    b1 = sim.run_lines(12, events[events[:, 0] < 12])
    b2 = sim.run_lines(18, events[events[:, 0] >= 12])
    assert a.output_counts.sum() > 0
    np.testing.assert_array_equal(a.output_counts, np.concatenate([b1.output_counts, b2.output_counts]))
    np.testing.assert_array_equal(a.spikes, np.concatenate([b1.spikes, b2.spikes]))


@pytest.mark.parametrize("ticks", [-1, -(2**70)])
def test_ticks_negative(sim, ticks):
    with pytest.raises(tnsim.InputError, match="ticks"):
        sim.run(ticks)


@pytest.mark.parametrize("ticks", [2**64, 2**62])
def test_ticks_too_large(sim, ticks):
    with pytest.raises(tnsim.InputError, match="ticks"):
        sim.run(ticks)


@pytest.mark.parametrize("ticks", [1.0, "3", None, True])
def test_ticks_wrong_type(sim, ticks):
    with pytest.raises(TypeError, match="ticks"):
        sim.run(ticks)


@pytest.mark.parametrize("xy", [(1, 1), (64, 0), (-1, 0), (2**70, 0)])
def test_potentials_of_a_missing_core(sim, xy):
    with pytest.raises(tnsim.InputError, match=re.escape(f"({xy[0]}, {xy[1]})")):
        sim.potentials(xy)


def test_threads_out_of_range():
    net = tnsim.Network()
    with pytest.raises(tnsim.InputError, match="threads"):
        tnsim.Simulator(net, threads=-1)
    with pytest.raises(TypeError, match="threads"):
        tnsim.Simulator(net, threads=1.5)
    sim = tnsim.Simulator(net)
    with pytest.raises(tnsim.InputError, match="threads"):
        sim.threads = 2**70
    with pytest.raises(ValueError, match="eval_mode"):
        sim.eval_mode = "turbo"


def test_simulator_needs_a_network():
    with pytest.raises(TypeError, match="Network"):
        tnsim.Simulator("net.tnsim")


# --- files ----------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    net = tnsim.Network(output_ports=3)
    net.add_core(CORE, empty_crossbar(), neurons=tnsim.Neurons(output_port=1, leak=2))
    net.metadata = {"classes": [0, 1]}
    path = tmp_path / "model.tnsim"
    net.save(path)
    return path


def _patch(path, offset: int, new: bytes, fix_crc: bool = False) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + len(new)] = new
    if fix_crc:
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[20:-4])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["payload", "crc", "chips"])
def test_corrupt_file(saved, where):
    data = bytearray(saved.read_bytes())
    offset = {"payload": len(data) // 2, "crc": len(data) - 1, "chips": 20}[where]
    _patch(saved, offset, bytes([data[offset] ^ 0x40]))
    with pytest.raises(tnsim.FormatError, match="corrupt|checksum"):
        tnsim.load(saved)


@pytest.mark.parametrize("keep", [0, 7, 8, 12, 19, 20, 100, -5, -1])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(tnsim.FormatError) as err:
        tnsim.load(saved)
    assert re.search("truncated|magic", str(err.value)), str(err.value)


def test_trailing_bytes(saved):
    saved.write_bytes(saved.read_bytes() + b"\0")
    with pytest.raises(tnsim.FormatError, match="trailing"):
        tnsim.load(saved)


@pytest.mark.parametrize("version", [0, 2, 2**32 - 1])
def test_wrong_version(saved, version):
    assert saved.read_bytes()[8:12] == struct.pack("<I", tnsim.FORMAT_VERSION)
    _patch(saved, 8, struct.pack("<I", version))
    with pytest.raises(tnsim.FormatError) as err:
        tnsim.load(saved)
    assert_names(err, "version", str(version))


@pytest.mark.parametrize("magic", [b"TNSIMNEX", b"tnsimnet", b"\0" * 8, b"PK\x03\x04\0\0\0\0"])
def test_wrong_magic(saved, magic):
    _patch(saved, 0, magic)
    with pytest.raises(tnsim.FormatError, match="magic"):
        tnsim.load(saved)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tnsim"
    path.write_bytes(b"")
    with pytest.raises(tnsim.FormatError):
        tnsim.load(path)
    with pytest.raises(tnsim.FormatError):
        tnsim.Network.from_bytes(b"")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        tnsim.load(tmp_path / "nope.tnsim")
    assert "nope.tnsim" in str(err.value)
    with pytest.raises(OSError):
        tnsim.load(tmp_path)  # a folder


# Offsets in a file of one core (docs/file-format.md): header 20 bytes; payload: chips 8,
# output_ports 8, metadata length 4 + metadata, core count 4; then x, y, seed (12), axon types
# (256), crossbar (256 x 32), and 40-byte neuron records.
NEURON_RECORD = 40
RECORD_OFFSETS = {"weights": 0, "leak": 9, "threshold": 11, "reset_mode": 24, "target_delay": 35}


def _core_offset(data: bytes) -> int:
    meta_len = struct.unpack_from("<I", data, 20 + 16)[0]
    return 20 + 16 + 4 + meta_len + 4


@pytest.mark.parametrize("field, value", [("weights", struct.pack("<h", 256)),
                                          ("leak", struct.pack("<h", -256)),
                                          ("threshold", struct.pack("<i", 2**18)),
                                          ("reset_mode", bytes([3])),
                                          ("target_delay", bytes([16]))])
def test_out_of_range_value_in_file(saved, field, value):
    """A value the API would reject is rejected in a file too, with a valid checksum."""
    data = saved.read_bytes()
    base = _core_offset(data)
    offset = base + 12 + 256 + 256 * 32 + NEURON * NEURON_RECORD + RECORD_OFFSETS[field]
    _patch(saved, offset, value, fix_crc=True)
    with pytest.raises(tnsim.FormatError) as err:
        tnsim.load(saved)
    assert_names(err, core_str(), f"neuron {NEURON}", f"'{field}'")


@pytest.mark.parametrize("what, offset, value", [
    ("chips", 20, struct.pack("<I", 0)),
    ("chips", 24, struct.pack("<I", 300)),
    ("output_ports", 28, struct.pack("<q", 2**40)),
    ("output_ports", 28, struct.pack("<q", -2)),
    ("output_ports", 28, struct.pack("<q", 1)),  # smaller than the port a neuron uses
])
def test_bad_header_value_in_file(saved, what, offset, value):
    _patch(saved, offset, value, fix_crc=True)
    with pytest.raises(tnsim.FormatError) as err:
        tnsim.load(saved)
    assert what in str(err.value) or "output_port" in str(err.value)


def test_off_grid_and_duplicate_core_in_file(saved):
    data = saved.read_bytes()
    base = _core_offset(data)
    _patch(saved, base, struct.pack("<I", 64), fix_crc=True)
    with pytest.raises(tnsim.FormatError, match="off the grid"):
        tnsim.load(saved)
    # Two cores at the same position.
    net = tnsim.Network()
    net.add_core((0, 0), empty_crossbar())
    net.add_core((0, 1), empty_crossbar())
    data = bytearray(net.to_bytes())
    second = _core_offset(bytes(data)) + 12 + 256 + 256 * 32 + 256 * NEURON_RECORD
    data[second + 4:second + 8] = struct.pack("<I", 0)
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[20:-4])))
    with pytest.raises(tnsim.FormatError, match="duplicate"):
        tnsim.Network.from_bytes(bytes(data))


def test_metadata_not_json_in_file():
    net = tnsim.Network()
    net._inner.metadata = "{not json"
    loaded = tnsim.Network.from_bytes(net.to_bytes())
    with pytest.raises(tnsim.FormatError, match="metadata"):
        loaded.metadata


def test_metadata_not_utf8_in_file(saved):
    data = saved.read_bytes()
    _patch(saved, 20 + 16 + 4, b"\xff", fix_crc=True)
    assert saved.read_bytes() != data
    with pytest.raises(tnsim.FormatError, match="UTF-8"):
        tnsim.load(saved)


@pytest.mark.parametrize("data", [None, "TNSIMNET", 5])
def test_from_bytes_wrong_type(data):
    with pytest.raises(TypeError):
        tnsim.Network.from_bytes(data)
