//! Per-tick event counters (SPEC.md section 6); they feed the energy model.

use std::ops::AddAssign;

/// Counts for one tick (summed over cores) or one core in one tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// (active axon, connected neuron) pairs integrated in step 1.
    pub synaptic_events: u64,
    /// The synaptic events on stochastic synapses.
    pub stochastic_synaptic_events: u64,
    /// Neuron spikes emitted, whatever their target.
    pub spikes: u64,
    /// Spikes written into a target core's scheduler.
    pub spikes_delivered: u64,
    /// Spikes sent to a host output port.
    pub output_spikes: u64,
    /// Mesh hops of delivered spikes (|dx| + |dy| each).
    pub hops: u64,
    /// Chip boundaries crossed by delivered spikes (x first, then y).
    pub chip_crossings: u64,
    /// Neuron updates: 256 per configured core per tick.
    pub neuron_updates: u64,
    /// Cores with at least one synaptic event or spike.
    pub active_cores: u64,
}

impl Counters {
    /// Field names, in the order of [`Counters::as_array`] (the Python side uses the same).
    pub const NAMES: [&'static str; 9] = [
        "synaptic_events",
        "stochastic_synaptic_events",
        "spikes",
        "spikes_delivered",
        "output_spikes",
        "hops",
        "chip_crossings",
        "neuron_updates",
        "active_cores",
    ];

    pub fn as_array(&self) -> [u64; 9] {
        [
            self.synaptic_events,
            self.stochastic_synaptic_events,
            self.spikes,
            self.spikes_delivered,
            self.output_spikes,
            self.hops,
            self.chip_crossings,
            self.neuron_updates,
            self.active_cores,
        ]
    }
}

impl AddAssign for Counters {
    fn add_assign(&mut self, o: Self) {
        self.synaptic_events += o.synaptic_events;
        self.stochastic_synaptic_events += o.stochastic_synaptic_events;
        self.spikes += o.spikes;
        self.spikes_delivered += o.spikes_delivered;
        self.output_spikes += o.output_spikes;
        self.hops += o.hops;
        self.chip_crossings += o.chip_crossings;
        self.neuron_updates += o.neuron_updates;
        self.active_cores += o.active_cores;
    }
}
