"""The result of a run: host outputs, recorded spikes and per-tick counters.

Shared by the Rust-backed :class:`tnsim.Simulator` and the NumPy reference model
(:mod:`tnsim.reference`), so the two can be compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

#: Names of the per-tick counters (SPEC.md section 6), in the order the engine reports them.
#:
#: - ``synaptic_events``: (active axon, connected neuron) pairs integrated (step 1).
#: - ``stochastic_synaptic_events``: the subset of those on stochastic synapses.
#: - ``spikes``: neuron spikes emitted, whatever the target.
#: - ``spikes_delivered``: spikes written into a target core's scheduler (axon targets).
#: - ``output_spikes``: spikes sent to a host output port.
#: - ``hops``: mesh hops of delivered spikes, |dx| + |dy| each.
#: - ``chip_crossings``: chip boundaries crossed by delivered spikes (x first, then y).
#: - ``neuron_updates``: 256 per configured core per tick.
#: - ``active_cores``: cores with at least one synaptic event or spike in the tick.
COUNTER_NAMES = (
    "synaptic_events",
    "stochastic_synaptic_events",
    "spikes",
    "spikes_delivered",
    "output_spikes",
    "hops",
    "chip_crossings",
    "neuron_updates",
    "active_cores",
)


@dataclass
class RunResult:
    """What one call of ``run(ticks, ...)`` produced.

    Attributes:
        start_tick: the absolute tick of the first row of ``output_spikes``.
        ticks: how many ticks were run.
        output_spikes: ``(ticks, n_ports)`` bool; row r is tick ``start_tick + r``.
        output_counts: ``(ticks, n_ports)`` int32: how many spikes reached each port in a
            tick (several neurons may share a port; ``output_spikes`` is ``output_counts > 0``).
        spikes: ``(n, 4)`` int64 rows ``(tick, x, y, neuron)`` sorted by all four, or
            ``None`` when the run was made with ``record_spikes=False``.
        counters: counter name -> ``(ticks,)`` int64 array, names as in ``COUNTER_NAMES``.
    """

    start_tick: int
    ticks: int
    output_spikes: np.ndarray
    output_counts: np.ndarray
    spikes: Optional[np.ndarray]
    counters: Dict[str, np.ndarray] = field(default_factory=dict)

    def counter_totals(self) -> Dict[str, int]:
        """Each counter summed over the run's ticks."""
        return {name: int(values.sum()) for name, values in self.counters.items()}
