//! One core's run-time state and its tick (SPEC.md section 3).
//!
//! [`CoreState::tick`] is the only place where neurons are updated. It has two ways of doing
//! step 1 (synaptic integration), chosen per neuron and tick, with identical results:
//! - the *sequential* path walks the active, connected axons in ascending order, drawing for
//!   stochastic synapses and saturating after every event, exactly as SPEC.md reads;
//! - the *popcount* path, for a neuron whose synapses are deterministic and whose potential
//!   cannot reach a saturation bound during integration, counts events per axon type with
//!   AND + popcount and adds `sum(count[G] * s[G])` at once. With no bound reachable, every
//!   partial sum of the sequential path lies between `V + negative part` and
//!   `V + positive part`, so saturation never triggers and the order of additions is moot.
//!
//! [`EvalMode::Sequential`] forces the first path everywhere; it is the plain path that the
//! fast one is tested against.

use crate::counters::Counters;
use crate::params::{CoreConfig, NeuronParams, ResetMode, AXONS, AXON_TYPES, NEURONS, SLOTS, V_MAX, V_MIN};
use crate::prng::Xorshift32;

/// How step 1 is evaluated. Results are identical; only speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvalMode {
    /// Popcount where provably exact, sequential elsewhere.
    #[default]
    Fast,
    /// Sequential everywhere (the plain reading of SPEC.md).
    Sequential,
}

/// Where a neuron's spikes go, resolved to a core index when the simulator is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    None,
    Axon { core: u32, axon: u8, delay: u8, hops: u32, chip_crossings: u32 },
    Output { port: u32 },
}

/// A spike on its way into a target core's scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub core: u32,
    pub axon: u8,
    pub slot: u8,
}

/// What one core produced in its last tick (buffers are reused between ticks).
#[derive(Debug, Default, Clone)]
pub struct TickOutput {
    pub deliveries: Vec<Delivery>,
    pub output_ports: Vec<u32>,
    /// Neurons that spiked, ascending (only filled when spikes are recorded).
    pub fired: Vec<u8>,
    pub counters: Counters,
}

#[inline(always)]
fn sat(v: i32) -> i32 {
    v.clamp(V_MIN, V_MAX)
}

#[inline(always)]
fn and4(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    [a[0] & b[0], a[1] & b[1], a[2] & b[2], a[3] & b[3]]
}

#[inline(always)]
fn popcount4(a: &[u64; 4]) -> u32 {
    a[0].count_ones() + a[1].count_ones() + a[2].count_ones() + a[3].count_ones()
}

/// A core while it runs: configuration laid out for speed, potentials, scheduler and PRNG.
#[derive(Debug, Clone)]
pub struct CoreState {
    pub x: u32,
    pub y: u32,
    columns: Box<[[u64; 4]; NEURONS]>,
    /// `type_masks[G]`: bit i set when axon i has type G.
    type_masks: [[u64; 4]; AXON_TYPES],
    axon_types: [u8; AXONS],
    neurons: Box<[NeuronParams; NEURONS]>,
    routes: Box<[Route; NEURONS]>,
    /// Membrane potentials.
    pub potentials: Box<[i32; NEURONS]>,
    /// The scheduler: slot t mod 16 holds the axons to integrate at tick t.
    pub scheduler: [[u64; 4]; SLOTS],
    pub prng: Xorshift32,
    pub out: TickOutput,
}

impl CoreState {
    pub fn new(x: u32, y: u32, cfg: &CoreConfig, routes: Box<[Route; NEURONS]>) -> Self {
        let mut type_masks = [[0u64; 4]; AXON_TYPES];
        for (i, &t) in cfg.axon_types.iter().enumerate() {
            type_masks[t as usize][i / 64] |= 1 << (i % 64);
        }
        let mut potentials = Box::new([0i32; NEURONS]);
        for (v, n) in potentials.iter_mut().zip(cfg.neurons.iter()) {
            *v = n.initial_potential;
        }
        Self {
            x,
            y,
            columns: cfg.columns.clone(),
            type_masks,
            axon_types: cfg.axon_types,
            neurons: cfg.neurons.clone(),
            routes,
            potentials,
            scheduler: [[0; 4]; SLOTS],
            prng: Xorshift32::new(cfg.seed),
            out: TickOutput::default(),
        }
    }

    /// Set an axon's bit in the slot of tick `tick` (OR: a bit already set stays set).
    #[inline]
    pub fn schedule(&mut self, slot: usize, axon: usize) {
        self.scheduler[slot][axon / 64] |= 1 << (axon % 64);
    }

    /// Run tick `t` of this core: update all 256 neurons from slot `t mod 16`, collect the
    /// spikes in `self.out`, then clear the slot. Consumes one tick of simulated time.
    pub fn tick(&mut self, t: u64, record_spikes: bool, mode: EvalMode) {
        let slot = (t % SLOTS as u64) as usize;
        let active = self.scheduler[slot];
        let any_active = active != [0; 4];
        let out = &mut self.out;
        out.deliveries.clear();
        out.output_ports.clear();
        out.fired.clear();
        let mut c = Counters { neuron_updates: NEURONS as u64, ..Counters::default() };
        let mut prng = self.prng;

        for j in 0..NEURONS {
            let n = &self.neurons[j];
            let mut v = self.potentials[j];

            // 1. Synaptic integration.
            if any_active {
                let events = and4(&self.columns[j], &active);
                if events != [0; 4] {
                    let stochastic = n.stochastic_weights;
                    let mut counts = [0i32; AXON_TYPES];
                    for g in 0..AXON_TYPES {
                        counts[g] = popcount4(&and4(&events, &self.type_masks[g])) as i32;
                        c.synaptic_events += counts[g] as u64;
                        if stochastic[g] {
                            c.stochastic_synaptic_events += counts[g] as u64;
                        }
                    }
                    let mut done = false;
                    if mode == EvalMode::Fast && !stochastic.iter().any(|&b| b) {
                        let (mut pos, mut neg) = (0i32, 0i32);
                        for (&count, &weight) in counts.iter().zip(&n.weights) {
                            let d = count * weight;
                            if d > 0 {
                                pos += d;
                            } else {
                                neg += d;
                            }
                        }
                        if v + pos <= V_MAX && v + neg >= V_MIN {
                            v += pos + neg;
                            done = true;
                        }
                    }
                    if !done {
                        v = integrate_sequential(v, n, &events, &self.axon_types, &mut prng);
                    }
                }
            }

            // 2. Leak (with leak reversal and anti-ringing).
            let omega = if n.leak_reversal { v.signum() } else { 1 };
            let before = v;
            if n.stochastic_leak {
                let rho = prng.draw_u8();
                if n.leak.abs() >= rho {
                    v = sat(v + omega * n.leak.signum());
                }
            } else {
                v = sat(v + omega * n.leak);
            }
            if n.leak_reversal && ((before > 0 && v < 0) || (before < 0 && v > 0)) {
                v = 0;
            }

            // 3. Threshold noise.
            let mask = (1i32 << n.threshold_mask_bits) - 1;
            let eta = if n.threshold_mask_bits > 0 { (prng.next_u32() & 0x3_FFFF) as i32 & mask } else { 0 };

            // 4. Positive threshold; 5. negative threshold (only without a spike).
            let spiked = v >= n.threshold + eta;
            if spiked {
                match n.reset_mode {
                    ResetMode::Normal => v = n.reset_value,
                    ResetMode::Linear => v = sat(v - (n.threshold + eta)),
                    ResetMode::NonReset => {}
                }
            } else if n.negative_saturation {
                if v < -n.negative_threshold {
                    v = -n.negative_threshold;
                }
            } else if v < -(n.negative_threshold + eta) {
                match n.reset_mode {
                    ResetMode::Normal => v = -n.reset_value,
                    ResetMode::Linear => v = sat(v + n.negative_threshold + eta),
                    ResetMode::NonReset => {}
                }
            }

            // 6. Non-reset ceiling.
            if n.reset_mode == ResetMode::NonReset {
                v = v.min(n.threshold + mask);
            }
            self.potentials[j] = v;

            // 7. Send the spike.
            if spiked {
                c.spikes += 1;
                if record_spikes {
                    out.fired.push(j as u8);
                }
                match self.routes[j] {
                    Route::None => {}
                    Route::Axon { core, axon, delay, hops, chip_crossings } => {
                        out.deliveries.push(Delivery { core, axon, slot: ((t + delay as u64) % SLOTS as u64) as u8 });
                        c.spikes_delivered += 1;
                        c.hops += hops as u64;
                        c.chip_crossings += chip_crossings as u64;
                    }
                    Route::Output { port } => {
                        out.output_ports.push(port);
                        c.output_spikes += 1;
                    }
                }
            }
        }

        c.active_cores = (c.synaptic_events > 0 || c.spikes > 0) as u64;
        out.counters = c;
        self.prng = prng;
        self.scheduler[slot] = [0; 4];
    }
}

/// Step 1 as SPEC.md reads: events in ascending axon order, a draw per stochastic event,
/// saturation after each addition.
#[inline(never)]
fn integrate_sequential(mut v: i32, n: &NeuronParams, events: &[u64; 4], types: &[u8; AXONS], prng: &mut Xorshift32) -> i32 {
    for (k, &word) in events.iter().enumerate() {
        let mut w = word;
        while w != 0 {
            let i = k * 64 + w.trailing_zeros() as usize;
            w &= w - 1;
            let g = types[i] as usize;
            let s = n.weights[g];
            if n.stochastic_weights[g] {
                let rho = prng.draw_u8();
                if s.abs() >= rho {
                    v = sat(v + s.signum());
                }
            } else {
                v = sat(v + s);
            }
        }
    }
    v
}
