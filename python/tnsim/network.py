"""Networks of TrueNorth cores: build them from numpy arrays, read them back, save and load.

A :class:`Network` is configuration only (no run-time state); it is checked value by value as
cores are added, and its targets are checked when a :class:`tnsim.Simulator` is built from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from .neurons import AXONS_PER_CORE, NEURON_FIELDS, NEURONS_PER_CORE, Neurons, as_field_array

Coord = Tuple[int, int]


def _raw_layout() -> List[Tuple[str, int]]:
    layout = list(_core.neuron_fields())
    assert [name for name, _ in layout] == list(NEURON_FIELDS), "Neurons fields out of step with the engine"
    return layout


_RAW_LAYOUT = _raw_layout()


def _neurons_to_raw(neurons: Neurons) -> np.ndarray:
    cols = []
    for name, width in _RAW_LAYOUT:
        arr = getattr(neurons, name).astype(np.int64)
        cols.append(arr.reshape(NEURONS_PER_CORE, width))
    return np.ascontiguousarray(np.concatenate(cols, axis=1))


def _raw_to_neurons(raw: np.ndarray) -> Neurons:
    values: Dict[str, Any] = {}
    pos = 0
    for name, width in _RAW_LAYOUT:
        block = raw[:, pos:pos + width]
        values[name] = block if width > 1 else block[:, 0]
        pos += width
    return Neurons(**values)


def _as_coord(xy: Any, what: str = "core") -> Coord:
    try:
        x, y = xy
    except (TypeError, ValueError):
        raise TypeError(f"{what} position must be a pair (x, y), got {xy!r}") from None
    for name, v in (("x", x), ("y", y)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{what} position {name} must be an integer, got {v!r}")
    return int(x), int(y)


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _fits_i64(*values: int) -> bool:
    """Whether every value fits the engine's int64 arguments (else pyo3 raises OverflowError)."""
    return all(_I64_MIN <= v <= _I64_MAX for v in values)


def _bool_crossbar(crossbar: Any, where: str) -> np.ndarray:
    arr = np.asarray(crossbar)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.bool_) or np.issubdtype(arr.dtype, np.integer)
                                   or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{where}: field 'crossbar' must be a bool or 0/1 array, got dtype {arr.dtype}")
    if arr.shape != (AXONS_PER_CORE, NEURONS_PER_CORE):
        raise _core.ConfigError(
            f"{where}: field 'crossbar' has shape {arr.shape}, expected "
            f"({AXONS_PER_CORE} axons, {NEURONS_PER_CORE} neurons)")
    if not np.issubdtype(arr.dtype, np.bool_):
        bad = ~np.isin(arr, (0, 1))
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise _core.ConfigError(f"{where}: field 'crossbar' axon {i} neuron {j} = {arr[i, j]}, expected 0 or 1")
    return np.ascontiguousarray(arr, dtype=bool)


@dataclass(frozen=True)
class CoreConfig:
    """A core's configuration as read back from a network.

    Attributes:
        crossbar: ``(256 axons, 256 neurons)`` bool, ``crossbar[i, j]`` connects axon i to neuron j.
        axon_types: ``(256,)`` int64, the type 0..3 of each axon.
        neurons: the 256 neurons' parameters.
        seed: the core's PRNG seed.
    """

    crossbar: np.ndarray
    axon_types: np.ndarray
    neurons: Neurons
    seed: int


class Network:
    """Cores on a grid of ``chips = (cx, cy)`` chips of 64 x 64 cores.

    Args:
        chips: chips along x and y; cores have x in ``[0, 64 cx)`` and y in ``[0, 64 cy)``.
        output_ports: number of host output ports; by default 1 + the largest port used.
    """

    def __init__(self, chips: Tuple[int, int] = (1, 1), output_ports: Optional[int] = None) -> None:
        cx, cy = _as_coord(chips, "chips")
        if output_ports is not None and (isinstance(output_ports, bool) or not isinstance(output_ports, (int, np.integer))):
            raise TypeError(f"output_ports must be an integer or None, got {output_ports!r}")
        if not _fits_i64(cx, cy):
            raise _core.ConfigError(f"network: chips = ({cx}, {cy}) is out of range (at least 1 chip per side)")
        if output_ports is not None and not _fits_i64(int(output_ports)):
            raise _core.ConfigError(f"network: output_ports = {output_ports} is out of range")
        self._inner = _core.Network((cx, cy), None if output_ports is None else int(output_ports))

    @classmethod
    def _wrap(cls, inner: "_core.Network") -> "Network":
        net = cls.__new__(cls)
        net._inner = inner
        return net

    # --- building -------------------------------------------------------------------------

    def add_core(self, xy: Tuple[int, int], crossbar: Any, axon_types: Any = 0,
                 neurons: Optional[Neurons] = None, seed: int = 1) -> None:
        """Configure the core at ``xy``.

        Args:
            xy: the core's (x, y) position on the grid.
            crossbar: ``(256 axons, 256 neurons)`` bool (or 0/1) array.
            axon_types: ``(256,)`` ints 0..3, or one int for all axons.
            neurons: a :class:`tnsim.Neurons`; default ``Neurons()`` (silent neurons).
            seed: the core's PRNG seed, 0..2^32-1.

        Raises:
            ConfigError: a value out of range (the message names core, neuron and field), a
                position off the grid, or a duplicate core. TypeError: a wrong type.
        """
        x, y = _as_coord(xy)
        where = f"core ({x}, {y})"
        if not _fits_i64(x, y):
            gx, gy = self.grid
            raise _core.ConfigError(f"{where}: position is off the grid of {self.chips[0]}x{self.chips[1]} chips "
                                    f"(x in 0..{gx}, y in 0..{gy})")
        cb = _bool_crossbar(crossbar, where)
        try:
            types = as_field_array("axon_types", axon_types, (), False, count=AXONS_PER_CORE, index_name="axon")
        except ValueError as e:
            raise _core.ConfigError(f"{where}: {str(e).replace('Neurons field', 'field', 1)}") from None
        if neurons is None:
            neurons = Neurons()
        if not isinstance(neurons, Neurons):
            raise TypeError(f"{where}: neurons must be a tnsim.Neurons, got {type(neurons).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{where}: seed must be an integer, got {seed!r}")
        if not _fits_i64(int(seed)):
            raise _core.ConfigError(f"{where}: field 'seed' = {seed} is out of range 0..={2**32 - 1}")
        self._inner.add_core(x, y, cb, np.ascontiguousarray(types), _neurons_to_raw(neurons), int(seed))

    # --- reading back ---------------------------------------------------------------------

    @property
    def chips(self) -> Tuple[int, int]:
        return tuple(self._inner.chips)  # type: ignore[return-value]

    @property
    def grid(self) -> Tuple[int, int]:
        """Grid size in cores, (64 cx, 64 cy)."""
        cx, cy = self.chips
        return 64 * cx, 64 * cy

    @property
    def output_ports(self) -> int:
        """Number of host output ports (as set, else 1 + the largest port used)."""
        return int(self._inner.output_ports)

    @property
    def num_cores(self) -> int:
        return int(self._inner.num_cores)

    def coordinates(self) -> List[Coord]:
        """Positions of the configured cores, sorted by x, then y."""
        return [tuple(c) for c in self._inner.coordinates()]  # type: ignore[misc]

    def __contains__(self, xy: object) -> bool:
        try:
            x, y = _as_coord(xy)
        except TypeError:
            return False
        return _fits_i64(x, y) and self._inner.core(x, y) is not None

    def __len__(self) -> int:
        return self.num_cores

    def core(self, xy: Tuple[int, int]) -> CoreConfig:
        """The configuration of the core at ``xy`` (KeyError when none is configured)."""
        x, y = _as_coord(xy)
        got = self._inner.core(x, y) if _fits_i64(x, y) else None
        if got is None:
            raise KeyError(f"no core is configured at ({x}, {y})")
        cb, types, raw, seed = got
        return CoreConfig(crossbar=cb, axon_types=types, neurons=_raw_to_neurons(raw), seed=int(seed))

    @property
    def metadata(self) -> Dict[str, Any]:
        """JSON-serialisable metadata saved with the network (e.g. a deployment's class map)."""
        text = self._inner.metadata
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError as e:
            raise _core.FormatError(f"network metadata is not valid JSON: {e}") from None

    @metadata.setter
    def metadata(self, value: Dict[str, Any]) -> None:
        self._inner.metadata = json.dumps(value, sort_keys=True)

    def validate(self) -> None:
        """Check that every axon target lands on a configured core (ConfigError if not)."""
        self._inner.validate()

    # --- files ----------------------------------------------------------------------------

    def save(self, path: "os.PathLike[str] | str") -> None:
        """Write the network to ``path`` in the native format (docs/file-format.md), atomically."""
        self._inner.save(os.fspath(path))

    def to_bytes(self) -> bytes:
        return bytes(self._inner.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Network":
        try:
            raw = bytes(memoryview(data))  # bytes-like only: bytes(5) would be five zero bytes
        except TypeError:
            raise TypeError(f"from_bytes needs a bytes-like object, got {type(data).__name__}") from None
        return cls._wrap(_core.Network.from_bytes(raw))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return bool(self._inner == other._inner)

    def __repr__(self) -> str:
        return f"Network(chips={self.chips}, cores={self.num_cores}, output_ports={self.output_ports})"


def load(path: "os.PathLike[str] | str") -> Network:
    """Read a network saved with :meth:`Network.save` (FormatError if corrupt or of another version)."""
    return Network._wrap(_core.Network.load(os.fspath(path)))


