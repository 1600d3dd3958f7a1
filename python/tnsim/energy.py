"""Energy estimate from the run counters (SPEC.md section 7): an estimate, not a measurement.

    E = cores x ticks x e_static + synaptic_events x e_syn + spikes x e_spike
        + hops x e_hop + chip_crossings x e_chip

Sources and derivation of the default constants (docs/energy.md has the same, with the
arithmetic):

- Anchor 1 (Akopyan et al., IEEE TCAD 2015): a TrueNorth chip (4096 cores) draws about 42 mW at
  0 Hz, 0.70 V: static power about 10.25 uW per core, i.e. ``e_static`` = 10.25 nJ per core per
  1 ms tick (the real-time tick).
- Anchor 2 (Merolla et al., Science 2014; Akopyan 2015): a full chip with every neuron firing at
  20 Hz and 128 active synapses per neuron draws about 65 mW at 0.75 V (46 GSOPS/W), about
  72 mW at 0.775 V: 1,048,576 neurons x 20 Hz x 128 = 2.68e9 synaptic events per second, so
  about 24 to 27 pJ per synaptic event all included ("26 pJ").
- The dynamic part at anchor 2 is 65 - 42 = 23 mW. It is split between spikes and synaptic
  events: ``e_spike`` = 100 pJ per spike emitted is an **assumption** (the papers do not give it;
  it covers the neuron's spike, packet injection and the target scheduler's write), i.e.
  20.97e6 spikes/s x 100 pJ = 2.1 mW, and the rest gives ``e_syn`` = (23 - 2.1) mW / 2.68e9 /s
  = 7.8 pJ per synaptic event. The model then reproduces anchor 2: 42 + 20.9 + 2.1 = 65 mW.
- ``e_hop`` = 0.5 pJ per mesh hop and ``e_chip`` = 1 nJ per chip-boundary crossing are
  **assumptions** (unpublished): a hop is small against a synaptic event (anchor 2's networks
  are taken as local, so hops are not subtracted from the dynamic power above), a chip crossing
  (serialised off-chip link) is large.

Override any constant: ``estimate(totals, cores, ticks, constants={"e_hop": 1e-12})`` or pass an
:class:`EnergyConstants`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Dict, Mapping, Optional, Union

#: Anchors (SPEC.md section 7), in SI units.
ANCHOR_CORES_PER_CHIP = 4096
ANCHOR_NEURONS_PER_CHIP = 4096 * 256
ANCHOR_STATIC_W = 42e-3  # full chip at 0 Hz, 0.70 V (Akopyan 2015)
ANCHOR_ACTIVE_W = 65e-3  # full chip at 20 Hz, 128 synapses per neuron, 0.75 V (Merolla 2014)
ANCHOR_RATE_HZ = 20.0
ANCHOR_SYNAPSES = 128
#: The tick of a real-time TrueNorth system.
TICK_SECONDS = 1e-3

#: Assumed (unpublished) energies, joules.
ASSUMED_E_SPIKE = 100e-12
ASSUMED_E_HOP = 0.5e-12
ASSUMED_E_CHIP = 1e-9

_ANCHOR_SPIKES_PER_S = ANCHOR_NEURONS_PER_CHIP * ANCHOR_RATE_HZ
_ANCHOR_EVENTS_PER_S = _ANCHOR_SPIKES_PER_S * ANCHOR_SYNAPSES


@dataclass(frozen=True)
class EnergyConstants:
    """Constants of the SPEC.md section 7 model, in joules (see the module docstring).

    Attributes:
        e_static: per configured core per tick (static power x tick length).
        e_syn: per synaptic event (SPEC section 6 counter ``synaptic_events``).
        e_spike: per spike emitted (counter ``spikes``).
        e_hop: per mesh hop of a delivered spike (counter ``hops``).
        e_chip: per chip boundary crossed (counter ``chip_crossings``).
        tick_seconds: length of a tick, for the mean power (1 ms: real time).
    """

    e_static: float = ANCHOR_STATIC_W / ANCHOR_CORES_PER_CHIP * TICK_SECONDS
    e_syn: float = (ANCHOR_ACTIVE_W - ANCHOR_STATIC_W - _ANCHOR_SPIKES_PER_S * ASSUMED_E_SPIKE) / _ANCHOR_EVENTS_PER_S
    e_spike: float = ASSUMED_E_SPIKE
    e_hop: float = ASSUMED_E_HOP
    e_chip: float = ASSUMED_E_CHIP
    tick_seconds: float = TICK_SECONDS


#: The default constants.
DEFAULT_CONSTANTS = EnergyConstants()

#: Counter name -> (constant, result key) for the event terms.
_TERMS = (("synaptic_events", "e_syn", "synaptic_j"), ("spikes", "e_spike", "spike_j"),
          ("hops", "e_hop", "hop_j"), ("chip_crossings", "e_chip", "chip_j"))


def _constants(constants: Union[None, EnergyConstants, Mapping[str, float]]) -> EnergyConstants:
    if constants is None:
        return DEFAULT_CONSTANTS
    if isinstance(constants, EnergyConstants):
        return constants
    if isinstance(constants, Mapping):
        known = {f.name for f in fields(EnergyConstants)}
        unknown = sorted(set(constants) - known)
        if unknown:
            raise ValueError(f"unknown energy constants {unknown}; known: {sorted(known)}")
        return replace(DEFAULT_CONSTANTS, **{k: float(v) for k, v in constants.items()})
    raise TypeError(f"constants must be None, an EnergyConstants or a mapping, got {type(constants).__name__}")


def estimate(counters_totals: Mapping[str, Any], cores: int, ticks: int,
             constants: Union[None, EnergyConstants, Mapping[str, float]] = None) -> Dict[str, float]:
    """Estimate the energy of a run from its counter totals.

    Args:
        counters_totals: counter name -> total (e.g. ``RunResult.counter_totals()``); needs
            ``synaptic_events``, ``spikes``, ``hops`` and ``chip_crossings``.
        cores: configured cores (``network.num_cores``).
        ticks: ticks run.
        constants: None (the defaults), an :class:`EnergyConstants`, or a mapping of the
            constants to override.

    Returns:
        ``static_j``, ``synaptic_j``, ``spike_j``, ``hop_j``, ``chip_j`` (joules per term),
        ``total_j``, ``seconds`` (ticks x tick_seconds) and ``mean_power_w`` (0 for 0 ticks).

    Raises:
        KeyError: a counter is missing. ValueError: an unknown constant.
    """
    c = _constants(constants)
    for name, _, _ in _TERMS:
        if name not in counters_totals:
            raise KeyError(f"counter totals lack {name!r} (needed by the energy model)")
    out: Dict[str, float] = {"static_j": float(cores) * float(ticks) * c.e_static}
    for name, const, key in _TERMS:
        out[key] = float(counters_totals[name]) * getattr(c, const)
    out["total_j"] = sum(out.values())
    out["seconds"] = float(ticks) * c.tick_seconds
    out["mean_power_w"] = out["total_j"] / out["seconds"] if out["seconds"] > 0 else 0.0
    return out


def describe(constants: Optional[EnergyConstants] = None) -> Dict[str, float]:
    """The constants as a dict (for printing or saving next to results)."""
    return asdict(constants or DEFAULT_CONSTANTS)
