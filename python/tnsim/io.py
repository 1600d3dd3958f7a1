"""Files other than the native network format: RANC simulator files and spike files.

RANC (Mack et al., IEEE TCAD 2021) is the open TrueNorth-style toolchain; its simulator reads a
config JSON and an input JSON. :func:`read_ranc` maps them exactly onto SPEC.md (the mapping is
in docs/ranc.md) and refuses, with a :class:`tnsim.ConfigError` naming core, neuron and field,
anything that SPEC.md cannot represent exactly. :func:`write_ranc_output` and
:func:`read_ranc_output` write and read the RANC simulator's output-file layout, so that runs
can be diffed against RANC's own.

Spike files (``.npz`` and a simple text form; docs/spike-files.md) live in
:mod:`tnsim.spikes` and are re-exported here: :func:`save_spikes`, :func:`load_spikes`,
:func:`read_spikes`, :func:`spikes_from_bytes`, :func:`save_result`, :func:`load_result`.

Every reader here treats its input as untrusted: malformed, truncated, oversized or hostile
input is a :class:`tnsim.FormatError` or :class:`tnsim.ConfigError` (both ``ValueError``),
never another exception, a crash or a hang; a file that cannot be opened is an ``OSError``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ._core import ConfigError, FormatError
from .network import Network
from .neurons import AXON_TYPES, AXONS_PER_CORE, NEURONS_PER_CORE, NEURON_FIELDS, Neurons
from .spikes import (
    SPIKE_FORMAT,
    SPIKE_FORMAT_VERSION,
    SpikeFile,
    load_result,
    load_spikes,
    read_spikes,
    save_result,
    save_spikes,
    spikes_from_bytes,
)

__all__ = [
    "RANC_MAX_BYTES",
    "SPIKE_FORMAT",
    "SPIKE_FORMAT_VERSION",
    "SpikeFile",
    "load_result",
    "load_spikes",
    "read_ranc",
    "read_ranc_output",
    "read_spikes",
    "save_result",
    "save_spikes",
    "spikes_from_bytes",
    "write_ranc_output",
]

#: Largest RANC JSON file (or text) read_ranc accepts, in bytes; pass ``max_bytes`` to change.
RANC_MAX_BYTES = 1 << 30
#: Largest RANC output file read_ranc_output accepts, in bytes.
RANC_OUTPUT_MAX_BYTES = 1 << 30

#: Integer literals longer than this are refused while parsing (no SPEC value needs more, and
#: Python's int() of a huge literal is slow): a FormatError, not a hang.
_MAX_INT_DIGITS = 40

_ALPHA_MAX = (1 << 18) - 1  # SPEC section 2: threshold, negative threshold, |reset value|
_V_MIN, _V_MAX = -(1 << 19), (1 << 19) - 1  # SPEC section 2: 20-bit membrane potential
_OFFSET_MIN, _OFFSET_MAX = -256, 255  # SPEC section 1: 9-bit signed target offsets
_MAX_PORTS = 65536  # tnsim: output ports 0..65535
_RANC_DROPPED_TICK = 15  # RANC accepts destination_tick 15 and then drops the spike

#: The RANC config keys that change the semantics; all are required in a config file.
_CONFIG_KEYS = ("num_neurons", "num_axons", "num_cores_x", "num_cores_y", "num_weights",
                "max_tick_offset", "neuron_reset_type")
_NEURON_KEYS = ("reset_potential", "weights", "leak", "positive_threshold", "negative_threshold",
                "destination_core_offset", "destination_axon", "destination_tick",
                "current_potential", "reset_mode")

Source = Union[str, bytes, "os.PathLike[str]", Dict[str, Any]]


# --- JSON loading ----------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """A short description of a JSON value for messages (never the whole of a huge value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value[:24]!r}{'...' if len(value) > 24 else ''}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (int, np.integer)):
        return f"integer {int(value)}"
    return f"a {type(value).__name__}"


def _parse_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise FormatError(f"integer literal of {len(text)} digits is too long (at most {_MAX_INT_DIGITS})")
    return int(text)


def _reject_constant(name: str) -> None:
    raise FormatError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"key {key[:40]!r} appears twice in one object")
        out[key] = value
    return out


def _parse_json_text(text: str, what: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_int=_parse_int,
                          parse_constant=_reject_constant)
    except FormatError as e:
        raise FormatError(f"{what}: {e}") from None
    except RecursionError:
        raise FormatError(f"{what}: JSON nested too deeply") from None
    except ValueError as e:  # json.JSONDecodeError and int() limits
        raise FormatError(f"{what}: not valid JSON: {e}") from None


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FormatError(f"{what}: not UTF-8 text (bad byte at offset {e.start})") from None


def _read_file(path: "os.PathLike[str] | str", what: str, max_bytes: int) -> bytes:
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FormatError(f"{what}: file is larger than the limit of {max_bytes:,} bytes (max_bytes)")
    return data


def _load_json(source: Any, what: str, max_bytes: int) -> Any:
    """Parse ``source``: a parsed value (used as is), JSON text (a str starting with '{' or '[',
    or bytes) or a path (any other str, or a path-like)."""
    if source is None or isinstance(source, (dict, list, bool, int, float)):
        return source  # already parsed (anything but an object is refused by the caller)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise FormatError(f"{what}: text is larger than the limit of {max_bytes:,} bytes (max_bytes)")
        return _parse_json_text(_decode(data, what), what)
    if isinstance(source, str) and source.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        if len(source) > max_bytes:
            raise FormatError(f"{what}: text is larger than the limit of {max_bytes:,} bytes (max_bytes)")
        return _parse_json_text(source.lstrip("\ufeff"), what)
    if isinstance(source, (str, os.PathLike)):
        name = f"{what} {os.fspath(source)}"
        return _parse_json_text(_decode(_read_file(source, name, max_bytes), name), name)
    raise TypeError(f"{what} must be a path, JSON text or a dict, got {type(source).__name__}")


# --- typed access with messages that say where -----------------------------------------------


def _get(obj: Dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise FormatError(f"{where}: missing key {key!r}")
    return obj[key]


def _object(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{where}: expected a JSON object, got {_describe(value)}")
    return value


def _list(value: Any, where: str, field: str) -> list:
    if not isinstance(value, list):
        raise FormatError(f"{where}: field {field!r} must be a list, got {_describe(value)}")
    return value


def _int(value: Any, where: str, field: str) -> int:
    if type(value) is int:  # the common case, first
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise FormatError(f"{where}: field {field!r} must be an integer, got {_describe(value)}")
    return int(value)



def _destination_tick(value, where: str, what: str) -> int:
    """A RANC ``destination_tick``: 0..14 (15 is refused: RANC silently drops it)."""
    d = _int(value, where, "destination_tick")
    if d == _RANC_DROPPED_TICK:
        raise ConfigError(f"{where}: field 'destination_tick' = 15 is refused: RANC accepts it but silently drops "
                          f"the {what}; use 0..=14 (a delay of 1..15 ticks)")
    if not 0 <= d <= 14:
        raise ConfigError(f"{where}: field 'destination_tick' = {d} is out of range 0..=14")
    return d

def _ranged(value: Any, lo: int, hi: int, where: str, field: str, why: str = "") -> int:
    v = _int(value, where, field)
    if not lo <= v <= hi:
        raise ConfigError(f"{where}: field {field!r} = {v} is out of range {lo}..={hi}{why}")
    return v


def _pair(value: Any, where: str, field: str) -> Tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise FormatError(f"{where}: field {field!r} must be a list of two integers, got {_describe(value)}")
    return _int(value[0], where, f"{field}[0]"), _int(value[1], where, f"{field}[1]")


def _int_row(value: Any, length_max: int, where: str, field: str, what: str) -> np.ndarray:
    """A JSON list of at most ``length_max`` integers as int64 (FormatError / ConfigError)."""
    row = _list(value, where, field)
    if len(row) > length_max:
        raise ConfigError(f"{where}: field {field!r} has {len(row)} entries, more than {what} = {length_max}")
    if not row:
        return np.zeros(0, dtype=np.int64)
    if set(map(type, row)) != {int}:
        for i, v in enumerate(row):
            _int(v, where, f"{field}[{i}]")
    try:
        return np.array(row, dtype=np.int64)
    except OverflowError:
        i = next(i for i, v in enumerate(row) if not -(2**63) <= int(v) < 2**63)
        raise ConfigError(f"{where}: field '{field}[{i}]' = {int(row[i])} is out of range") from None


# --- the RANC config --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    num_neurons: int = NEURONS_PER_CORE
    num_axons: int = AXONS_PER_CORE
    num_weights: int = AXON_TYPES
    neuron_reset_type: int = 0
    grid: Optional[Tuple[int, int]] = None  # (num_cores_x, num_cores_y); None: from the input


def _read_config(source: Any, max_bytes: int) -> _Config:
    if source is None:
        return _Config()
    where = "RANC config"
    cfg = _object(_load_json(source, where, max_bytes), where)
    for key in _CONFIG_KEYS:
        _get(cfg, key, where)
    num_neurons = _ranged(cfg["num_neurons"], 1, NEURONS_PER_CORE, where, "num_neurons",
                          f" (a TrueNorth core has {NEURONS_PER_CORE} neurons)")
    num_axons = _ranged(cfg["num_axons"], 1, AXONS_PER_CORE, where, "num_axons",
                        f" (a TrueNorth core has {AXONS_PER_CORE} axons)")
    num_weights = _ranged(cfg["num_weights"], 1, AXON_TYPES, where, "num_weights",
                          f" (SPEC.md has {AXON_TYPES} axon types)")
    max_tick_offset = _int(cfg["max_tick_offset"], where, "max_tick_offset")
    if max_tick_offset != 16:
        raise ConfigError(f"{where}: field 'max_tick_offset' = {max_tick_offset} cannot be mapped exactly: "
                          "tnsim's scheduler has 16 slots (RANC's default max_tick_offset 16)")
    reset_type = _ranged(cfg["neuron_reset_type"], 0, 1, where, "neuron_reset_type",
                         " (0: V < negative_threshold, 1: V <= negative_threshold)")
    nx = _ranged(cfg["num_cores_x"], 1, 64 * 256, where, "num_cores_x", " (at most 256 chips of 64 cores)")
    ny = _ranged(cfg["num_cores_y"], 1, 64 * 256, where, "num_cores_y", " (at most 256 chips of 64 cores)")
    return _Config(num_neurons, num_axons, num_weights, reset_type, (nx, ny))


# --- one RANC core ---------------------------------------------------------------------------


@dataclass
class _Core:
    xy: Tuple[int, int]
    crossbar: np.ndarray
    axon_types: np.ndarray
    fields: Dict[str, np.ndarray]
    targets: List[Tuple[Tuple[int, int], str]]  # (target position, where) of axon targets


def _neuron_fields() -> Dict[str, np.ndarray]:
    """SPEC fields of 256 default neurons: RANC's default neuron (threshold 1, no connections,
    V 0) never fires, and tnsim's defaults behave the same; no target."""
    out: Dict[str, np.ndarray] = {}
    for name, (default, trailing, is_bool) in NEURON_FIELDS.items():
        out[name] = np.full((NEURONS_PER_CORE,) + trailing, default, dtype=bool if is_bool else np.int64)
    out["negative_saturation"][:] = False  # kappa = 0 for RANC neurons (reset, not clamp)
    return out


def _map_neuron(n: Dict[str, Any], j: int, xy: Tuple[int, int], where: str, cfg: _Config,
                bus: Tuple[int, int], num_outputs: int, f: Dict[str, np.ndarray],
                targets: List[Tuple[Tuple[int, int], str]]) -> None:
    """Map RANC neuron ``j`` of core ``xy`` into the field arrays ``f`` (docs/ranc.md)."""
    for key in _NEURON_KEYS:
        _get(n, key, where)
    weights = _int_row(n["weights"], cfg.num_weights, where, "weights", "num_weights")
    for g, w in enumerate(weights.tolist()):
        if not -255 <= w <= 255:
            raise ConfigError(f"{where}: field 'weights[{g}]' = {w} is out of range -255..=255")
    f["weights"][j, :len(weights)] = weights
    f["leak"][j] = _ranged(n["leak"], -255, 255, where, "leak")
    f["threshold"][j] = _ranged(n["positive_threshold"], 0, _ALPHA_MAX, where, "positive_threshold")
    mode = _ranged(n["reset_mode"], 0, 1, where, "reset_mode", " (0: absolute reset, 1: linear reset)")
    f["reset_mode"][j] = mode
    f["reset_value"][j] = _ranged(n["reset_potential"], -_ALPHA_MAX, _ALPHA_MAX, where, "reset_potential")
    f["initial_potential"][j] = _ranged(n["current_potential"], _V_MIN, _V_MAX, where, "current_potential",
                                        " (SPEC.md's 20-bit membrane potential)")
    nt = _int(n["negative_threshold"], where, "negative_threshold")
    if cfg.neuron_reset_type == 0:
        # V < nt  <=>  V < -beta with beta = -nt.
        if not -_ALPHA_MAX <= nt <= 0:
            raise ConfigError(f"{where}: field 'negative_threshold' = {nt} is out of range "
                              f"{-_ALPHA_MAX}..=0 (SPEC.md's negative threshold is -beta, beta in 0..={_ALPHA_MAX})")
        f["negative_threshold"][j] = -nt
    else:
        # V <= nt  <=>  V < nt + 1 = -beta with beta = -nt - 1: exact for the absolute reset
        # (V = -R); the linear reset would add beta = -nt - 1 where RANC subtracts nt.
        if mode == 1:
            raise ConfigError(f"{where}: field 'reset_mode' = 1 cannot be mapped exactly with neuron_reset_type 1 "
                              "(RANC's '<=' comparison with a linear reset: V -= negative_threshold)")
        if not -_ALPHA_MAX - 1 <= nt <= -1:
            raise ConfigError(f"{where}: field 'negative_threshold' = {nt} is out of range {-_ALPHA_MAX - 1}..=-1 "
                              "(neuron_reset_type 1 maps V <= negative_threshold to beta = -negative_threshold - 1)")
        f["negative_threshold"][j] = -nt - 1
    dx, dy = _pair(n["destination_core_offset"], where, "destination_core_offset")
    axon = _int(n["destination_axon"], where, "destination_axon")
    d = _destination_tick(n["destination_tick"], where, "spike")
    target = (xy[0] + dx, xy[1] + dy)
    if target == bus:
        if not 0 <= axon < num_outputs:
            raise ConfigError(f"{where}: field 'destination_axon' = {axon} is out of range 0..={num_outputs - 1} "
                              f"(the output bus at {bus} has num_outputs = {num_outputs})")
        f["output_port"][j] = axon
        return
    if not 0 <= axon < cfg.num_axons:
        raise ConfigError(f"{where}: field 'destination_axon' = {axon} is out of range 0..={cfg.num_axons - 1}")
    if not (_OFFSET_MIN <= dx <= _OFFSET_MAX and _OFFSET_MIN <= dy <= _OFFSET_MAX):
        raise ConfigError(f"{where}: field 'destination_core_offset' = [{dx}, {dy}] is out of range "
                          f"{_OFFSET_MIN}..={_OFFSET_MAX} (SPEC.md's 9-bit signed offsets)")
    f["target_dx"][j], f["target_dy"][j] = dx, dy
    f["target_axon"][j] = axon
    f["target_delay"][j] = d + 1
    targets.append((target, f"{where}: target core {target} = {xy} + destination_core_offset [{dx}, {dy}]"))


def _read_core(core: Any, k: int, cfg: _Config, bus: Tuple[int, int], num_outputs: int) -> _Core:
    where = f"cores[{k}]"
    core = _object(core, where)
    for key in ("coordinates", "axons", "neurons", "connections"):
        _get(core, key, where)
    xy = _pair(core["coordinates"], where, "coordinates")
    where = f"core ({xy[0]}, {xy[1]})"
    types = _int_row(core["axons"], cfg.num_axons, where, "axons", "num_axons")
    bad = np.flatnonzero((types < 0) | (types >= cfg.num_weights))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"{where}: field 'axons[{i}]' = {int(types[i])} is out of range 0..={cfg.num_weights - 1} "
                          "(num_weights axon types)")
    axon_types = np.zeros(AXONS_PER_CORE, dtype=np.int64)
    axon_types[:len(types)] = types
    neurons = _list(core["neurons"], where, "neurons")
    connections = _list(core["connections"], where, "connections")
    if len(neurons) > cfg.num_neurons:
        raise ConfigError(f"{where}: field 'neurons' has {len(neurons)} entries, more than num_neurons = {cfg.num_neurons}")
    if len(connections) > cfg.num_neurons:
        raise ConfigError(f"{where}: field 'connections' has {len(connections)} rows, more than "
                          f"num_neurons = {cfg.num_neurons}")
    if len(connections) < len(neurons):
        raise FormatError(f"{where} neuron {len(connections)}: missing its row of 'connections' "
                          f"({len(neurons)} neurons, {len(connections)} rows of connections)")
    crossbar = np.zeros((AXONS_PER_CORE, NEURONS_PER_CORE), dtype=bool)
    fields = _neuron_fields()
    targets: List[Tuple[Tuple[int, int], str]] = []
    for j, n in enumerate(neurons):
        nwhere = f"{where} neuron {j}"
        row = _int_row(connections[j], cfg.num_axons, nwhere, "connections", "num_axons")
        bad = np.flatnonzero((row != 0) & (row != 1))
        if bad.size:
            i = int(bad[0])
            raise ConfigError(f"{nwhere}: field 'connections' axon {i} = {int(row[i])}, expected 0 or 1")
        crossbar[:len(row), j] = row.astype(bool)
        _map_neuron(_object(n, nwhere), j, xy, nwhere, cfg, bus, num_outputs, fields, targets)
    # Rows of 'connections' beyond the neurons list belong to RANC's default (silent) neurons,
    # which RANC never reads; they are ignored here too.
    return _Core(xy, crossbar, axon_types, fields, targets)


# --- read_ranc -------------------------------------------------------------------------------


def read_ranc(input_json: Source, config_json: Optional[Source] = None, *,
              max_bytes: int = RANC_MAX_BYTES) -> Tuple[Network, np.ndarray]:
    """Read a RANC simulator input (and config) as a tnsim network and host inputs.

    Args:
        input_json: the RANC input: a path (``str`` or path-like), JSON text (a ``str`` whose
            first non-blank character is ``{`` or ``[``, or ``bytes``), or an already parsed ``dict``.
        config_json: the RANC config, in the same forms, or None: ``neuron_reset_type`` 0,
            TrueNorth-sized cores (256 neurons, 256 axons, 4 axon types) and a grid just large
            enough for every position the input uses.
        max_bytes: the largest file or text accepted (default 1 GiB).

    Returns:
        ``(network, inputs)``: a :class:`tnsim.Network` with one core per listed RANC core and an
        empty core for every unlisted grid position that a neuron or packet targets, output
        ports = the output bus's ``num_outputs``; and the packets as an ``(n, 4)`` int64 array
        of rows ``(tick, x, y, axon)`` (``packets[t]`` with ``destination_tick`` d is tick t + d),
        sorted. ``network.metadata["ranc"]`` records the grid and the output bus.

    Raises:
        FormatError: not JSON, a missing key, a wrong type, a file over ``max_bytes``.
        ConfigError: a value out of range or that SPEC.md cannot represent exactly (the message
            names the core, the neuron or packet and the field).
        OSError: a file that cannot be read.

    Results are exact while every membrane potential stays within SPEC.md's 20 bits (RANC's is
    a 32-bit integer without saturation); see docs/ranc.md.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise TypeError(f"max_bytes must be an integer >= 0, got {max_bytes!r}")
    cfg = _read_config(config_json, max_bytes)
    where = "RANC input"
    doc = _object(_load_json(input_json, where, max_bytes), where)
    cores_json = _list(_get(doc, "cores", where), where, "cores")
    packets_json = _list(doc.get("packets", []), where, "packets")
    bus_json = _object(_get(doc, "output_bus", where), "output_bus")
    bus = _pair(_get(bus_json, "coordinates", "output_bus"), "output_bus", "coordinates")
    num_outputs = _ranged(_get(bus_json, "num_outputs", "output_bus"), 0, _MAX_PORTS, "output_bus", "num_outputs")

    # Every position used, with where it comes from, for the grid checks below.
    positions: List[Tuple[Tuple[int, int], str]] = [(bus, "output_bus: coordinates")]
    cores: Dict[Tuple[int, int], _Core] = {}
    for k, core_json in enumerate(cores_json):
        core = _read_core(core_json, k, cfg, bus, num_outputs)
        if core.xy in cores:
            raise ConfigError(f"core {core.xy}: listed twice in 'cores' (cores[{k}])")
        if core.xy == bus:
            raise ConfigError(f"core {core.xy}: listed in 'cores' at the output bus position")
        cores[core.xy] = core
        positions.append((core.xy, f"core {core.xy}: coordinates"))
        positions.extend(core.targets)

    rows: List[Tuple[int, int, int, int]] = []
    for t, tick_packets in enumerate(packets_json):
        for i, p in enumerate(_list(tick_packets, "RANC input", f"packets[{t}]")):
            pwhere = f"packets[{t}][{i}]"
            p = _object(p, pwhere)
            for key in ("destination_core", "destination_axon", "destination_tick"):
                _get(p, key, pwhere)
            xy = _pair(p["destination_core"], pwhere, "destination_core")
            axon = _ranged(p["destination_axon"], 0, cfg.num_axons - 1, pwhere, "destination_axon")
            d = _destination_tick(p["destination_tick"], pwhere, "packet")
            if xy == bus:
                raise ConfigError(f"{pwhere}: field 'destination_core' = {list(xy)} is the output bus position")
            rows.append((t + d, xy[0], xy[1], axon))
            positions.append((xy, f"{pwhere}: destination_core {list(xy)}"))

    # The grid: the config's, else just large enough for every position used.
    for xy, what in positions:
        if xy[0] < 0 or xy[1] < 0:
            raise ConfigError(f"{what}: position {xy} is off the RANC grid (negative coordinate)")
    if cfg.grid is not None:
        nx, ny = cfg.grid
        for xy, what in positions:
            if xy[0] >= nx or xy[1] >= ny:
                raise ConfigError(f"{what}: position {xy} is off the RANC grid of {nx} x {ny} cores "
                                  "(num_cores_x, num_cores_y)")
    else:
        nx = 1 + max(xy[0] for xy, _ in positions)
        ny = 1 + max(xy[1] for xy, _ in positions)
    chips = (math.ceil(nx / 64), math.ceil(ny / 64))
    if max(chips) > 256:
        raise ConfigError(f"RANC input: a grid of {nx} x {ny} cores needs {chips[0]} x {chips[1]} chips, "
                          "more than tnsim's 256 x 256")

    net = Network(chips=chips, output_ports=num_outputs)
    for xy in sorted(cores):
        c = cores[xy]
        net.add_core(xy, crossbar=c.crossbar, axon_types=c.axon_types, neurons=Neurons(**c.fields), seed=1)
    # Unlisted grid positions exist in RANC as cores without connections whose neurons never
    # fire; create those that something targets, so that a spike sent there vanishes there.
    empty = np.zeros((AXONS_PER_CORE, NEURONS_PER_CORE), dtype=bool)
    targeted = {xy for c in cores.values() for xy, _ in c.targets} | {(r[1], r[2]) for r in rows}
    for xy in sorted(targeted - set(cores)):
        net.add_core(xy, crossbar=empty, axon_types=0, neurons=None, seed=1)
    net.metadata = {"ranc": {"grid": [nx, ny], "output_bus": list(bus), "num_outputs": num_outputs,
                             "neuron_reset_type": cfg.neuron_reset_type}}
    net.validate()

    inputs = np.array(rows, dtype=np.int64).reshape(-1, 4)
    if len(inputs):
        inputs = inputs[np.lexsort(inputs.T[::-1])]
    return net, inputs


# --- RANC's output file ----------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"


def write_ranc_output(path: "os.PathLike[str] | str", output_spikes: Any) -> None:
    """Write an output raster in the RANC simulator's output-file layout.

    ``output_spikes`` is ``(T, K)`` (bool or counts; nonzero is a spike) for tnsim ticks
    0..T-1. The file is a UTF-8 byte-order mark, then T + 1 lines of K values ``0``/``1`` each
    followed by a space: line 0 all zeros, line k the outputs of tnsim tick k - 1 (RANC's
    layout: RANC run with ``--ticks T + 1`` writes the same file). To get exactly the file of a
    RANC run with ``--ticks N``, pass the first N - 1 ticks (``tnsim run`` does).
    """
    arr = np.asarray(output_spikes)
    if arr.ndim != 2:
        raise ValueError(f"output_spikes must be a (ticks, outputs) array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.bool_) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"output_spikes must be bool or integers, got dtype {arr.dtype}")
    bits = np.concatenate([np.zeros((1, arr.shape[1]), dtype=bool), arr != 0])
    lines = np.empty((bits.shape[0], 2 * bits.shape[1] + 1), dtype=np.uint8)
    lines[:, 0:-1:2] = np.where(bits, ord("1"), ord("0"))
    lines[:, 1:-1:2] = ord(" ")
    lines[:, -1] = ord("\n")
    with open(path, "wb") as f:
        f.write(_BOM)
        f.write(lines.tobytes())


def read_ranc_output(path: "os.PathLike[str] | str", *, max_bytes: int = RANC_OUTPUT_MAX_BYTES) -> np.ndarray:
    """Read a RANC simulator output file (or one written by :func:`write_ranc_output`).

    Returns ``(T, K)`` bool, row t = tnsim tick t, for a file of T + 1 lines (line 0, which
    RANC always writes as zeros, is checked and dropped). The byte-order mark is optional,
    ``\\r\\n`` line ends are accepted. FormatError for anything else.
    """
    where = f"RANC output {os.fspath(path)}"
    return _parse_ranc_output(_read_file(path, where, max_bytes), where)


def _parse_ranc_output(data: bytes, where: str) -> np.ndarray:
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise FormatError(f"{where}: the file has no lines (RANC writes at least line 0)")
    rows = []
    width = None
    for number, line in enumerate(lines, start=1):
        tokens = line.rstrip(b"\r").split()
        if not set(tokens) <= {b"0", b"1"}:
            bad = next(t for t in tokens if t not in (b"0", b"1"))
            raise FormatError(f"{where}: line {number}: value {bad[:20]!r} is not 0 or 1")
        if width is None:
            width = len(tokens)
        elif len(tokens) != width:
            raise FormatError(f"{where}: line {number} has {len(tokens)} values, line 1 has {width}")
        rows.append(np.frombuffer(b"".join(tokens), dtype=np.uint8) == ord("1"))
    if rows[0].any():
        raise FormatError(f"{where}: line 1 (RANC's tick 0) is not all zeros; not a RANC output file")
    return np.array(rows[1:], dtype=bool).reshape(len(rows) - 1, width or 0)
