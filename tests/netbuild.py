"""Helpers that build small networks for the tests.

:func:`network` returns the real :class:`tnsim.Network` when the package provides it; otherwise a
minimal stand-in with the same construction and read interface, so that the reference model's
tests can run before (or without) the compiled engine. The stand-in does no validation.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from tnsim.neurons import Neurons

try:
    from tnsim import Network as _RealNetwork
except ImportError:
    _RealNetwork = None


class _StandInCore:
    def __init__(self, crossbar, axon_types, neurons: Neurons, seed: int) -> None:
        self.crossbar = np.array(crossbar, dtype=bool)
        self.axon_types = np.array(axon_types, dtype=np.int64)
        self.neurons = neurons.copy()
        self.seed = int(seed)


class StandInNetwork:
    """Duck-typed substitute for ``tnsim.Network`` (construction and read access only)."""

    def __init__(self, chips: Tuple[int, int] = (1, 1), output_ports: Optional[int] = None) -> None:
        self.chips = (int(chips[0]), int(chips[1]))
        self._output_ports = output_ports
        self._cores: Dict[Tuple[int, int], _StandInCore] = {}

    def add_core(self, xy, crossbar, axon_types, neurons: Neurons, seed: int = 0) -> None:
        self._cores[(int(xy[0]), int(xy[1]))] = _StandInCore(crossbar, axon_types, neurons, seed)

    @property
    def output_ports(self) -> int:
        if self._output_ports is not None:
            return int(self._output_ports)
        used = [int(c.neurons.output_port.max()) for c in self._cores.values()]
        return 1 + max(used, default=-1)

    def coordinates(self):
        return sorted(self._cores)

    def core(self, xy):
        return self._cores[(int(xy[0]), int(xy[1]))]


def network(chips: Tuple[int, int] = (1, 1), output_ports: Optional[int] = None):
    """A new empty network: ``tnsim.Network`` if available, else :class:`StandInNetwork`."""
    cls = _RealNetwork if _RealNetwork is not None else StandInNetwork
    return cls(chips=chips, output_ports=output_ports)


def make_neurons(per_neuron: Optional[Dict[int, dict]] = None, **common) -> Neurons:
    """Neurons with ``common`` values for all 256, overridden per neuron by ``per_neuron[j]``."""
    fields = Neurons(**common).as_dict()
    for j, overrides in (per_neuron or {}).items():
        for name, value in overrides.items():
            fields[name][j] = value
    return Neurons(**fields)


def crossbar(synapses: Iterable[Tuple[int, int]]) -> np.ndarray:
    """A (256 axons, 256 neurons) crossbar with w[i][j] = 1 for each (i, j) given."""
    cb = np.zeros((256, 256), dtype=bool)
    for i, j in synapses:
        cb[i, j] = True
    return cb


def axon_types(types: Optional[Dict[int, int]] = None) -> np.ndarray:
    """Axon types: 0 everywhere except ``types[i]`` for the axons given."""
    out = np.zeros(256, dtype=np.int64)
    for i, g in (types or {}).items():
        out[i] = g
    return out
