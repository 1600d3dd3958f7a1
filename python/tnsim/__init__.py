"""tnsim: a hardware-accurate, tick-by-tick simulator of IBM TrueNorth neurosynaptic cores.

Build a :class:`Network` of cores from numpy arrays, run it with a :class:`Simulator`, read
spikes and counters; :mod:`tnsim.reference` is a plain NumPy model of the same semantics
(SPEC.md) that the engine is tested against.
"""

from . import _core
from ._core import ConfigError, FormatError, InputError, TnsimError
from .network import CoreConfig, Network, load
from .neurons import AXON_TYPES, AXONS_PER_CORE, NEURONS_PER_CORE, Neurons
from .results import COUNTER_NAMES, RunResult
from .simulator import Simulator, run

__version__: str = _core.__version__
#: Version of SPEC.md (the semantics) this engine implements.
SPEC_VERSION = 1
#: Version of the native network file format written by :meth:`Network.save`.
FORMAT_VERSION: int = _core.FORMAT_VERSION

from . import reference  # noqa: E402  (imports the names above)
from . import energy, io  # noqa: E402  (energy model; RANC files, spike files)

__all__ = [
    "AXON_TYPES",
    "AXONS_PER_CORE",
    "COUNTER_NAMES",
    "ConfigError",
    "CoreConfig",
    "FORMAT_VERSION",
    "FormatError",
    "InputError",
    "NEURONS_PER_CORE",
    "Network",
    "Neurons",
    "RunResult",
    "SPEC_VERSION",
    "Simulator",
    "TnsimError",
    "__version__",
    "energy",
    "io",
    "load",
    "reference",
    "run",
]
