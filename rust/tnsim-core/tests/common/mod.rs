//! Shared support for the tnsim-core integration tests.
//!
//! - [`Scenario`] and [`scenario`]: a proptest strategy for random networks of 1-6 cores that
//!   exercise every neuron mode, with random host inputs over the run;
//! - [`reference_run`]: an independent, deliberately naive reading of SPEC.md sections 3-6
//!   (unbounded per-tick schedule instead of a 16-slot ring, one draw at a time, no fast path),
//!   used as an oracle;
//! - [`RefRng`]: a hand-written xorshift32 (SPEC.md section 4) for hand derivations;
//! - small builders and runners for unit tests.
//!
//! Constants are restated here from SPEC.md on purpose (not imported from the engine), so a
//! wrong engine constant cannot make a test agree with it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use tnsim_core::{
    CoreConfig, Counters, EvalMode, InputSpike, Isa, Network, NeuronParams, ResetMode, RunOutput, Simulator,
    SpikeRecord,
};

// ---------------------------------------------------------------------------------------------
// SPEC.md constants.

/// SPEC.md section 2: V is a signed 20-bit value.
pub const V_MIN: i32 = -(1 << 19);
pub const V_MAX: i32 = (1 << 19) - 1;
/// Largest threshold / negative threshold / |reset value|: 2^18 - 1.
pub const THR_MAX: i32 = (1 << 18) - 1;
pub const CHIP: u32 = 64;

// ---------------------------------------------------------------------------------------------
// Proptest configuration.

/// A proptest config with `default_cases` cases, unless `PROPTEST_CASES` says otherwise (so CI
/// can raise the counts without a code change).
pub fn proptest_config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default_cases);
    ProptestConfig { cases, max_shrink_iters: 256, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Random numbers.

/// The SPEC.md section 4 generator, written out again: xorshift32 13/17/5, zero seed replaced.
#[derive(Debug, Clone, Copy)]
pub struct RefRng(pub u32);

impl RefRng {
    pub fn new(seed: u32) -> Self {
        RefRng(if seed == 0 { 0x9E37_79B9 } else { seed })
    }
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    /// An 8-bit rho: the low 8 bits of a draw.
    pub fn rho(&mut self) -> i32 {
        (self.next() & 0xFF) as i32
    }
    /// rho_T: the low 18 bits of a draw.
    pub fn rho_t(&mut self) -> i32 {
        (self.next() & 0x3_FFFF) as i32
    }
}

/// SplitMix64, used only to expand a proptest seed into a large network deterministically.
#[derive(Debug, Clone)]
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// The random-network strategy.

/// The small, shrinkable choices behind a [`Scenario`]; the bulk (crossbars, parameters,
/// inputs) is expanded from `seed`. A failing case prints only these, and rebuilding the
/// scenario from them reproduces it exactly.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    /// 0: 1x1 chips, 1: 2x1, 2: 1x2, 3: 2x2.
    pub layout: usize,
    pub cores: usize,
    pub ticks: u64,
    /// Index into [`INPUT_MODES`].
    pub input_mode: usize,
    pub seed: u64,
}

/// How host inputs are spread over the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputMode {
    /// This fraction of all (tick, core, axon) triples, uniformly.
    Rate(f64),
    /// A few ticks with a handful of inputs each, silence in between (quiet cores wake up).
    Bursts,
}

pub const INPUT_MODES: [InputMode; 5] =
    [InputMode::Rate(0.0), InputMode::Rate(0.004), InputMode::Rate(0.03), InputMode::Rate(0.12), InputMode::Bursts];

/// A random network with its host inputs.
#[derive(Clone)]
pub struct Scenario {
    pub knobs: Knobs,
    pub chips: (i64, i64),
    pub output_ports: Option<i64>,
    /// Cores in the order they are added to the network.
    pub cores: Vec<((u32, u32), CoreConfig)>,
    /// The [`CoreStyle`] each core was built with (same order as `cores`).
    pub styles: Vec<CoreStyle>,
    pub inputs: Vec<InputSpike>,
    pub ticks: u64,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The full network is megabytes of text; the knobs rebuild it.
        write!(
            f,
            "Scenario {{ knobs: {:?}, chips: {:?}, cores at {:?}, styles {:?}, {} inputs, {} ticks }} \
             (rebuild with Scenario::generate(knobs))",
            self.knobs,
            self.chips,
            self.cores.iter().map(|c| c.0).collect::<Vec<_>>(),
            self.styles,
            self.inputs.len(),
            self.ticks
        )
    }
}

/// The strategy: 1-6 cores on 1x1, 2x1, 1x2 or 2x2 chips, 1-40 ticks, five input modes.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    sized_scenario(1..=6, 1..=40)
}

/// Enough cores (9-24) that the simulator really splits a tick over several threads (it
/// hands out cores in batches of at least 8), over fewer ticks.
pub fn many_core_scenario() -> impl Strategy<Value = Scenario> {
    sized_scenario(9..=24, 1..=16)
}

pub fn sized_scenario(
    cores: std::ops::RangeInclusive<usize>,
    ticks: std::ops::RangeInclusive<u64>,
) -> impl Strategy<Value = Scenario> {
    (0..4usize, cores, ticks, 0..INPUT_MODES.len(), any::<u64>()).prop_map(
        |(layout, cores, ticks, input_mode, seed)| Scenario::generate(Knobs { layout, cores, ticks, input_mode, seed }),
    )
}

/// How a core's neurons are drawn. The engine groups neurons by their *dynamics* (every
/// parameter but weights, V0 and target) and has special paths for a core whose neurons share
/// one deterministic dynamics, for 8-bit and coded weights, and for cores that went quiet;
/// the styles make sure each of those happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreStyle {
    /// Every neuron's dynamics drawn independently.
    Mixed,
    /// All 256 neurons share one dynamics (stochastic or not).
    Uniform,
    /// Neurons pick from a palette of 2-4 dynamics.
    Palette,
    /// One deterministic dynamics with no leak (or a decaying reversed leak) and potentials
    /// between the thresholds: the core settles and stops changing until an input comes.
    Settling,
    /// Per-neuron leak, thresholds and reset value under one set of kernel flags (leak
    /// reversal, reset mode, negative saturation), as deployed classifiers have; some neurons
    /// may draw (with flags of their own). Half the time the neurons pick from a palette of
    /// 2-40 dynamics before their flags are shared.
    SharedFlags,
}

/// Per-core mixing probabilities, so that some cores are dense and some sparse, some
/// stochastic and some deterministic.
struct CoreProfile {
    density: f64,
    stochastic_weight: f64,
    stochastic_leak: f64,
    threshold_noise: f64,
    /// All weights in -128..=127 (the engine then stores them in 8 bits).
    narrow_weights: bool,
    /// Each type's weights drawn from a palette of 1-4 values (the engine then codes them in
    /// 2 bits), sometimes 5; a neuron that a type does not reach may have any weight of it.
    weight_palette: bool,
    /// Initial potentials within 16 bits (with dynamics that keep them there, the engine then
    /// stores the core's potentials in 16 bits).
    small_potentials: bool,
}

impl Scenario {
    pub fn generate(knobs: Knobs) -> Scenario {
        let mut g = Gen::new(knobs.seed);
        let chips: (i64, i64) = [(1, 1), (2, 1), (1, 2), (2, 2)][knobs.layout];
        // Positions next to chip edges (x or y = 63/64) and grid edges, so routes cross chips.
        let axis = |n: i64| -> Vec<u32> {
            let mut v = vec![0, 1, 31, 62, 63];
            if n == 2 {
                v.extend([64, 65, 100, 126, 127]);
            }
            v
        };
        let (xs, ys) = (axis(chips.0), axis(chips.1));
        let n_cores = knobs.cores.min(xs.len() * ys.len());
        let mut positions: Vec<(u32, u32)> = Vec::new();
        while positions.len() < n_cores {
            let p = (g.pick(&xs), g.pick(&ys));
            if !positions.contains(&p) {
                positions.push(p);
            }
        }
        let used_ports = g.range(1, 8) as u32;
        let output_ports = if g.chance(0.3) { Some(used_ports as i64 + g.range(0, 3)) } else { None };
        let grid = (chips.0 as u32 * CHIP, chips.1 as u32 * CHIP);

        let mut cores = Vec::new();
        let mut styles = Vec::new();
        for &me in &positions {
            let style = g.pick(&[
                CoreStyle::Mixed,
                CoreStyle::Uniform,
                CoreStyle::Palette,
                CoreStyle::Settling,
                CoreStyle::SharedFlags,
            ]);
            let profile = CoreProfile {
                density: g.pick(&[0.0, 0.02, 0.1, 0.3, 0.7, 1.0]),
                stochastic_weight: g.pick(&[0.0, 0.0, 0.1, 0.5]),
                stochastic_leak: g.pick(&[0.0, 0.0, 0.1, 0.5]),
                threshold_noise: g.pick(&[0.0, 0.0, 0.2, 0.6]),
                narrow_weights: g.chance(0.3),
                weight_palette: g.chance(0.3),
                small_potentials: g.chance(0.3),
            };
            let seed = if g.chance(0.1) { 0 } else { g.next_u64() as u32 };
            let mut cfg = CoreConfig::empty(seed);
            let types_mode = g.below(3);
            for i in 0..256 {
                cfg.axon_types[i] = match types_mode {
                    0 => 0,
                    1 => g.below(4) as u8,
                    _ => (i / 64) as u8,
                };
            }
            for j in 0..256 {
                for i in 0..256 {
                    if g.chance(profile.density) {
                        cfg.set_connected(i, j, true);
                    }
                }
            }
            let palette: Vec<NeuronParams> = match style {
                // A palette of up to 40 dynamics, so that the engine's lookups by table size
                // (up to 16, up to 32, more) all happen; or every neuron's own.
                CoreStyle::SharedFlags if g.chance(0.5) => {
                    (0..g.range(2, 40)).map(|_| random_dynamics(&mut g, &profile)).collect()
                }
                CoreStyle::Mixed | CoreStyle::SharedFlags => Vec::new(),
                CoreStyle::Uniform => vec![random_dynamics(&mut g, &profile)],
                CoreStyle::Palette => (0..g.range(2, 4)).map(|_| random_dynamics(&mut g, &profile)).collect(),
                CoreStyle::Settling => vec![settling_dynamics(&mut g)],
            };
            let flags = random_dynamics(&mut g, &profile);
            // Some of the numbers shared by every neuron that takes the shared flags (a trained
            // classifier's cores share all but the leak), the others per neuron: the engine
            // looks up only the numbers that differ.
            let share: [bool; 4] =
                if style == CoreStyle::SharedFlags { std::array::from_fn(|_| g.chance(0.5)) } else { [false; 4] };
            for j in 0..256 {
                let mut n = if palette.is_empty() { random_dynamics(&mut g, &profile) } else { g.pick(&palette) };
                let draws = n.stochastic_leak || n.threshold_mask_bits > 0 || n.stochastic_weights.iter().any(|&b| b);
                if style == CoreStyle::SharedFlags && (!draws || g.chance(0.5)) {
                    n.leak_reversal = flags.leak_reversal;
                    n.reset_mode = flags.reset_mode;
                    n.negative_saturation = flags.negative_saturation;
                    if share[0] {
                        n.leak = flags.leak;
                    }
                    if share[1] {
                        n.threshold = flags.threshold;
                    }
                    if share[2] {
                        n.negative_threshold = flags.negative_threshold;
                    }
                    if share[3] {
                        n.reset_value = flags.reset_value;
                    }
                }
                random_weights(&mut g, &mut n, profile.narrow_weights || style == CoreStyle::Settling);
                n.initial_potential = if style == CoreStyle::Settling {
                    // Between the thresholds: no threshold acts until an input comes.
                    g.range(-(n.negative_threshold as i64), n.threshold as i64 - 1) as i32
                } else if profile.small_potentials {
                    match g.below(4) {
                        0 | 1 => 0,
                        2 => g.range(-100, 100) as i32,
                        _ => g.pick(&[-32_768, 32_767]),
                    }
                } else {
                    random_potential(&mut g)
                };
                random_target(&mut g, &mut n, me, &positions, used_ports, grid);
                cfg.neurons[j] = n;
            }
            if profile.weight_palette {
                palette_weights(&mut g, &mut cfg);
            }
            cores.push((me, cfg));
            styles.push(style);
        }

        let mut inputs = Vec::new();
        let mut push = |g: &mut Gen, t: u64| {
            let (x, y) = positions[g.below(positions.len() as u64) as usize];
            inputs.push(InputSpike { tick: t as i64, x: x as i64, y: y as i64, axon: g.below(256) as i64 });
        };
        match INPUT_MODES[knobs.input_mode] {
            InputMode::Rate(rate) => {
                let n = (rate * knobs.ticks as f64 * n_cores as f64 * 256.0).round() as usize;
                for _ in 0..n {
                    let t = g.below(knobs.ticks);
                    push(&mut g, t);
                }
            }
            InputMode::Bursts => {
                for _ in 0..g.range(1, 3) {
                    let t = g.below(knobs.ticks);
                    for _ in 0..g.range(1, 20) {
                        push(&mut g, t);
                    }
                }
            }
        }
        // Exact duplicates (OR semantics).
        for k in 0..inputs.len().min(8) {
            if g.chance(0.5) {
                inputs.push(inputs[k]);
            }
        }
        Scenario { knobs, chips, output_ports, cores, styles, inputs, ticks: knobs.ticks }
    }

    /// The network with cores added in `self.cores` order.
    pub fn network(&self) -> Network {
        self.network_in_order(&(0..self.cores.len()).collect::<Vec<_>>())
    }

    /// The network with cores added in the order given by `order` (indices into `self.cores`).
    pub fn network_in_order(&self, order: &[usize]) -> Network {
        let mut net = Network::new(self.chips, self.output_ports).expect("valid chips");
        net.metadata = format!("{{\"seed\": {}}}", self.knobs.seed);
        for &k in order {
            let ((x, y), cfg) = &self.cores[k];
            net.add_core(*x as i64, *y as i64, cfg.clone()).expect("valid core");
        }
        net
    }
}

/// A neuron's dynamics: every parameter except weights, initial potential and target.
fn random_dynamics(g: &mut Gen, p: &CoreProfile) -> NeuronParams {
    let mut n = NeuronParams::default();
    for b in n.stochastic_weights.iter_mut() {
        *b = g.chance(p.stochastic_weight);
    }
    n.leak = match g.below(10) {
        0..=4 => 0,
        5..=6 => g.pick(&[-255, 255, -1, 1]),
        _ => g.range(-255, 255) as i32,
    };
    n.stochastic_leak = g.chance(p.stochastic_leak);
    n.leak_reversal = g.chance(0.25);
    let threshold = |g: &mut Gen| -> i32 {
        match g.below(10) {
            0..=3 => g.range(0, 64) as i32,
            4..=6 => g.range(0, 1024) as i32,
            // Sometimes the largest thresholds under which a core's potentials still fit 16
            // bits, or the smallest over.
            7..=8 if g.chance(0.25) => g.pick(&[32_767, 32_768, 32_769]),
            7..=8 => g.range(0, THR_MAX as i64) as i32,
            _ => g.pick(&[0, 1, THR_MAX]),
        }
    };
    n.threshold = threshold(g);
    n.negative_threshold = threshold(g);
    n.threshold_mask_bits = if g.chance(p.threshold_noise) { g.range(0, 18) as u8 } else { 0 };
    n.reset_value = match g.below(10) {
        0..=4 => 0,
        5..=7 => g.range(-100, 100) as i32,
        _ => {
            let any = g.range(-THR_MAX as i64, THR_MAX as i64) as i32;
            g.pick(&[-THR_MAX, THR_MAX, any])
        }
    };
    n.reset_mode = g.pick(&[ResetMode::Normal, ResetMode::Linear, ResetMode::NonReset]);
    n.negative_saturation = g.chance(0.5);
    n
}

/// Deterministic dynamics under which a core settles: no leak, or a small leak toward 0
/// (leak reversal), thresholds of at most 64.
fn settling_dynamics(g: &mut Gen) -> NeuronParams {
    let reversed = g.chance(0.3);
    NeuronParams {
        leak: if reversed { -g.range(1, 3) as i32 } else { 0 },
        leak_reversal: reversed,
        threshold: g.range(1, 64) as i32,
        negative_threshold: g.range(0, 64) as i32,
        reset_value: g.range(-10, 10) as i32,
        reset_mode: g.pick(&[ResetMode::Normal, ResetMode::Linear, ResetMode::NonReset]),
        negative_saturation: g.chance(0.5),
        ..NeuronParams::default()
    }
}

fn palette_weights(g: &mut Gen, cfg: &mut CoreConfig) {
    let palettes: Vec<Vec<i32>> = (0..4)
        .map(|_| {
            let values = if g.chance(0.1) { 5 } else { g.range(1, 4) };
            (0..values).map(|_| if g.chance(0.3) { g.pick(&[-128, 127]) } else { g.range(-4, 4) as i32 }).collect()
        })
        .collect();
    let mut reached = [[false; 256]; 4];
    for i in 0..256 {
        for j in 0..256 {
            reached[cfg.axon_types[i] as usize][j] |= cfg.connected(i, j);
        }
    }
    for j in 0..256 {
        for t in 0..4 {
            cfg.neurons[j].weights[t] =
                if reached[t][j] || g.chance(0.5) { g.pick(&palettes[t]) } else { g.range(-255, 255) as i32 };
        }
    }
}

fn random_weights(g: &mut Gen, n: &mut NeuronParams, narrow: bool) {
    for w in n.weights.iter_mut() {
        *w = match (narrow, g.below(10)) {
            (false, 0..=2) => g.pick(&[-255, 255]),
            (true, 0..=2) => g.pick(&[-128, 127]),
            (_, 3) => 0,
            (false, _) => g.range(-255, 255) as i32,
            (true, _) => g.range(-128, 127) as i32,
        };
    }
}

fn random_potential(g: &mut Gen) -> i32 {
    match g.below(20) {
        0..=7 => 0,
        8..=11 => g.range(-100, 100) as i32,
        12..=14 => V_MAX - g.range(0, 600) as i32,
        15..=17 => V_MIN + g.range(0, 600) as i32,
        _ => g.range(V_MIN as i64, V_MAX as i64) as i32,
    }
}

fn random_target(
    g: &mut Gen,
    n: &mut NeuronParams,
    me: (u32, u32),
    positions: &[(u32, u32)],
    ports: u32,
    grid: (u32, u32),
) {
    match g.below(20) {
        // An axon target on a configured core (possibly this one).
        0..=7 => {
            let (tx, ty) = positions[g.below(positions.len() as u64) as usize];
            n.target_dx = tx as i32 - me.0 as i32;
            n.target_dy = ty as i32 - me.1 as i32;
            // Half the targets go to a few axons, so deliveries collide (OR).
            n.target_axon = if g.chance(0.5) { g.range(0, 7) as i32 } else { g.range(0, 255) as i32 };
            n.target_delay = g.range(1, 15) as u8;
        }
        // A host output port.
        8..=12 => n.output_port = g.range(0, ports as i64 - 1),
        // No target, with the other target fields left at defaults...
        13..=16 => {}
        // ...or set to junk that SPEC.md says is ignored (here: pointing off the grid).
        _ => {
            n.target_dx = (grid.0 as i32 - me.0 as i32).min(255);
            n.target_dy = -(me.1 as i32) - 1;
            n.target_delay = g.range(1, 15) as u8;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running the engine.

/// Final potentials of every core, in (x, y) order.
pub type Potentials = Vec<((u32, u32), [i32; 256])>;

pub fn potentials(sim: &Simulator, net: &Network) -> Potentials {
    net.coordinates().map(|(x, y)| ((x, y), sim.potentials(x as i64, y as i64).expect("configured core"))).collect()
}

/// Every instruction set the engine can dispatch to; `Simulator::set_isa` narrows one the
/// CPU lacks to the widest it has.
pub const ISAS: [Isa; 3] = [Isa::Baseline, Isa::Avx2, Isa::Avx512];

/// Build a simulator, run once, return the output and final potentials.
pub fn run_engine(
    net: &Network,
    threads: usize,
    mode: EvalMode,
    ticks: u64,
    inputs: &[InputSpike],
    record: bool,
) -> (RunOutput, Potentials) {
    run_engine_isa(net, threads, mode, None, ticks, inputs, record)
}

/// [`run_engine`] with the instruction set forced (None: the simulator's default).
pub fn run_engine_isa(
    net: &Network,
    threads: usize,
    mode: EvalMode,
    isa: Option<Isa>,
    ticks: u64,
    inputs: &[InputSpike],
    record: bool,
) -> (RunOutput, Potentials) {
    let mut sim = Simulator::new(net, threads).expect("valid network");
    sim.set_eval_mode(mode);
    if let Some(isa) = isa {
        sim.set_isa(isa);
    }
    let out = sim.run(ticks, inputs, record).expect("valid run");
    (out, potentials(&sim, net))
}

/// A readable description of the first difference between two runs, or None.
pub fn diff_runs(a: &(RunOutput, Potentials), b: &(RunOutput, Potentials)) -> Option<String> {
    let ((ra, pa), (rb, pb)) = (a, b);
    if (ra.start_tick, ra.ticks, ra.output_ports) != (rb.start_tick, rb.ticks, rb.output_ports) {
        return Some(format!(
            "(start_tick, ticks, output_ports): {:?} vs {:?}",
            (ra.start_tick, ra.ticks, ra.output_ports),
            (rb.start_tick, rb.ticks, rb.output_ports)
        ));
    }
    for (t, (ca, cb)) in ra.counters.iter().zip(&rb.counters).enumerate() {
        if ca != cb {
            return Some(format!("counters of tick {}: {ca:?} vs {cb:?}", ra.start_tick + t as u64));
        }
    }
    if ra.counters.len() != rb.counters.len() {
        return Some(format!("counter rows: {} vs {}", ra.counters.len(), rb.counters.len()));
    }
    if ra.output_counts != rb.output_counts {
        let k = ra.output_counts.iter().zip(&rb.output_counts).position(|(x, y)| x != y);
        return Some(format!("output_counts differ (first index {k:?}, ports {})", ra.output_ports));
    }
    match (&ra.spikes, &rb.spikes) {
        (Some(sa), Some(sb)) if sa != sb => {
            let k = sa.iter().zip(sb).position(|(x, y)| x != y).unwrap_or(sa.len().min(sb.len()));
            return Some(format!(
                "spikes differ at row {k}: {:?} vs {:?} ({} vs {} rows)",
                sa.get(k),
                sb.get(k),
                sa.len(),
                sb.len()
            ));
        }
        (Some(_), None) | (None, Some(_)) => return Some("one run recorded spikes, the other not".into()),
        _ => {}
    }
    if ra != rb {
        return Some("RunOutput differs".into());
    }
    for ((ca, va), (cb, vb)) in pa.iter().zip(pb) {
        if ca != cb {
            return Some(format!("core lists differ: {ca:?} vs {cb:?}"));
        }
        if let Some(j) = (0..256).find(|&j| va[j] != vb[j]) {
            return Some(format!("final potential of core {ca:?} neuron {j}: {} vs {}", va[j], vb[j]));
        }
    }
    if pa.len() != pb.len() {
        return Some("different number of cores".into());
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The reference model (oracle).

fn sat(v: i64) -> i32 {
    v.clamp(V_MIN as i64, V_MAX as i64) as i32
}

/// One neuron's update in one tick, SPEC.md section 3 steps 1-6, read literally.
/// `events`: the active, connected axons in ascending order. Returns (new V, spiked).
pub fn ref_neuron_update(
    n: &NeuronParams,
    v0: i32,
    events: &[usize],
    types: &[u8; 256],
    rng: &mut RefRng,
) -> (i32, bool) {
    let mut v = v0;
    // 1. Synaptic integration, saturating after every event.
    for &i in events {
        let g = types[i] as usize;
        let s = n.weights[g];
        if n.stochastic_weights[g] {
            let rho = rng.rho();
            if s.abs() >= rho {
                v = sat(v as i64 + s.signum() as i64);
            }
        } else {
            v = sat(v as i64 + s as i64);
        }
    }
    // 2. Leak; Omega from V after step 1.
    let omega: i32 = if n.leak_reversal { v.signum() } else { 1 };
    let before = v;
    if n.stochastic_leak {
        let rho = rng.rho();
        if n.leak.abs() >= rho {
            v = sat(v as i64 + (omega * n.leak.signum()) as i64);
        }
    } else {
        v = sat(v as i64 + (omega * n.leak) as i64);
    }
    if n.leak_reversal && ((before > 0 && v < 0) || (before < 0 && v > 0)) {
        v = 0; // anti-ringing
    }
    // 3. Threshold noise.
    let mask: i64 = (1i64 << n.threshold_mask_bits) - 1;
    let eta: i64 = if n.threshold_mask_bits > 0 { rng.rho_t() as i64 & mask } else { 0 };
    // 4. Positive threshold.
    let alpha = n.threshold as i64;
    let beta = n.negative_threshold as i64;
    let spiked = v as i64 >= alpha + eta;
    if spiked {
        match n.reset_mode {
            ResetMode::Normal => v = n.reset_value,
            ResetMode::Linear => v = sat(v as i64 - (alpha + eta)),
            ResetMode::NonReset => {}
        }
    } else if n.negative_saturation {
        // 5. Negative threshold, kappa = 1: clamp.
        if (v as i64) < -beta {
            v = -(beta as i32);
        }
    } else if (v as i64) < -(beta + eta) {
        // 5. Negative threshold, kappa = 0: bounce.
        match n.reset_mode {
            ResetMode::Normal => v = -n.reset_value,
            ResetMode::Linear => v = sat(v as i64 + beta + eta),
            ResetMode::NonReset => {}
        }
    }
    // 6. Non-reset ceiling.
    if n.reset_mode == ResetMode::NonReset {
        v = (v as i64).min(alpha + mask) as i32;
    }
    (v, spiked)
}

/// Chip boundaries crossed by a dimension-ordered route (x first, then y), walked one hop at
/// a time.
pub fn walk_chip_crossings(from: (u32, u32), to: (u32, u32)) -> u64 {
    let (mut x, mut y) = (from.0 as i64, from.1 as i64);
    let mut n = 0;
    while x != to.0 as i64 {
        let nx = x + (to.0 as i64 - x).signum();
        n += (x.div_euclid(CHIP as i64) != nx.div_euclid(CHIP as i64)) as u64;
        x = nx;
    }
    while y != to.1 as i64 {
        let ny = y + (to.1 as i64 - y).signum();
        n += (y.div_euclid(CHIP as i64) != ny.div_euclid(CHIP as i64)) as u64;
        y = ny;
    }
    n
}

/// Output ports per SPEC.md section 5: explicit, else 1 + the largest port any neuron uses.
pub fn ref_output_ports(net: &Network) -> u32 {
    net.explicit_output_ports().unwrap_or_else(|| {
        let mut m: i64 = -1;
        for (_, c) in net.cores() {
            for n in c.neurons.iter() {
                if n.target_axon < 0 {
                    m = m.max(n.output_port);
                }
            }
        }
        (m + 1) as u32
    })
}

/// Run the reference model for `ticks` ticks from tick 0. Returns what the engine's `run`
/// with spike recording should return, and the final potentials.
pub fn reference_run(net: &Network, ticks: u64, inputs: &[InputSpike]) -> (RunOutput, Potentials) {
    let cores: Vec<((u32, u32), &CoreConfig)> = net.cores().map(|(&xy, c)| (xy, c)).collect();
    let index: HashMap<(u32, u32), usize> = cores.iter().enumerate().map(|(k, c)| (c.0, k)).collect();
    let ports = ref_output_ports(net);
    let mut v: Vec<[i32; 256]> =
        cores.iter().map(|(_, c)| std::array::from_fn(|j| c.neurons[j].initial_potential)).collect();
    let mut rng: Vec<RefRng> = cores.iter().map(|(_, c)| RefRng::new(c.seed)).collect();
    // Unbounded schedule: (tick, core) -> active axons. No ring buffer.
    let mut pending: HashMap<(u64, usize), [bool; 256]> = HashMap::new();
    for s in inputs {
        let k = index[&(s.x as u32, s.y as u32)];
        pending.entry((s.tick as u64, k)).or_insert([false; 256])[s.axon as usize] = true;
    }
    let mut out = RunOutput {
        start_tick: 0,
        ticks,
        output_ports: ports,
        output_counts: vec![0; ticks as usize * ports as usize],
        spikes: Some(Vec::new()),
        counters: Vec::new(),
    };
    for t in 0..ticks {
        let mut c = Counters::default();
        let mut deliveries = Vec::new();
        for (k, &((x, y), cfg)) in cores.iter().enumerate() {
            let active = pending.remove(&(t, k)).unwrap_or([false; 256]);
            let active_list: Vec<usize> = (0..256).filter(|&i| active[i]).collect();
            let (mut syn, mut spk) = (0u64, 0u64);
            c.neuron_updates += 256;
            for j in 0..256 {
                let n = &cfg.neurons[j];
                let events: Vec<usize> = active_list.iter().copied().filter(|&i| cfg.connected(i, j)).collect();
                syn += events.len() as u64;
                c.stochastic_synaptic_events +=
                    events.iter().filter(|&&i| n.stochastic_weights[cfg.axon_types[i] as usize]).count() as u64;
                let (nv, spiked) = ref_neuron_update(n, v[k][j], &events, &cfg.axon_types, &mut rng[k]);
                v[k][j] = nv;
                if !spiked {
                    continue;
                }
                spk += 1;
                out.spikes.as_mut().unwrap().push(SpikeRecord { tick: t, x, y, neuron: j as u16 });
                if n.target_axon >= 0 {
                    let to = ((x as i64 + n.target_dx as i64) as u32, (y as i64 + n.target_dy as i64) as u32);
                    deliveries.push((t + n.target_delay as u64, index[&to], n.target_axon as usize));
                    c.spikes_delivered += 1;
                    c.hops += (n.target_dx.unsigned_abs() + n.target_dy.unsigned_abs()) as u64;
                    c.chip_crossings += walk_chip_crossings((x, y), to);
                } else if n.output_port >= 0 {
                    c.output_spikes += 1;
                    out.output_counts[t as usize * ports as usize + n.output_port as usize] += 1;
                }
            }
            c.synaptic_events += syn;
            c.spikes += spk;
            c.active_cores += (syn > 0 || spk > 0) as u64;
        }
        for (at, k, a) in deliveries {
            pending.entry((at, k)).or_insert([false; 256])[a] = true;
        }
        out.counters.push(c);
    }
    let pots = cores.iter().enumerate().map(|(k, c)| (c.0, v[k])).collect();
    (out, pots)
}

// ---------------------------------------------------------------------------------------------
// Unit-test builders.

/// A quiet deterministic neuron: threshold 1, V stays 0, no target (the engine default).
pub fn quiet() -> NeuronParams {
    NeuronParams::default()
}

/// A neuron with a large threshold and negative floor, so it just integrates.
pub fn integrator() -> NeuronParams {
    NeuronParams { threshold: THR_MAX, negative_threshold: THR_MAX, ..NeuronParams::default() }
}

/// An empty core with `seed`, then set up by `f`.
pub fn core_with(seed: u32, f: impl FnOnce(&mut CoreConfig)) -> CoreConfig {
    let mut cfg = CoreConfig::empty(seed);
    f(&mut cfg);
    cfg
}

/// A network of one 1x1 chip with one core at (0, 0), seed 1, set up by `f`.
pub fn one_core(f: impl FnOnce(&mut CoreConfig)) -> Network {
    let mut net = Network::new((1, 1), None).unwrap();
    net.add_core(0, 0, core_with(1, f)).unwrap();
    net
}

pub fn input(tick: i64, x: i64, y: i64, axon: i64) -> InputSpike {
    InputSpike { tick, x, y, axon }
}

/// Run `net` serially in both eval modes and, in Fast mode, with every instruction set;
/// check they all agree and return the Fast result with the default instruction set.
pub fn run_checked(net: &Network, ticks: u64, inputs: &[InputSpike]) -> (RunOutput, Potentials) {
    let fast = run_engine(net, 1, EvalMode::Fast, ticks, inputs, true);
    let seq = run_engine(net, 1, EvalMode::Sequential, ticks, inputs, true);
    if let Some(d) = diff_runs(&fast, &seq) {
        panic!("Fast and Sequential disagree: {d}");
    }
    for isa in ISAS {
        let other = run_engine_isa(net, 1, EvalMode::Fast, Some(isa), ticks, inputs, true);
        if let Some(d) = diff_runs(&fast, &other) {
            panic!("Fast with the default instruction set and with {isa:?} disagree: {d}");
        }
    }
    fast
}

/// Run one tick at a time and return V[neuron] after each tick, for the listed neurons of
/// core (0, 0), plus all recorded spikes.
pub fn trace(net: &Network, ticks: u64, inputs: &[InputSpike], neurons: &[usize]) -> (Vec<Vec<i32>>, Vec<SpikeRecord>) {
    let mut sim = Simulator::new(net, 1).unwrap();
    let mut rows = vec![Vec::new(); neurons.len()];
    let mut spikes = Vec::new();
    for t in 0..ticks {
        let now: Vec<InputSpike> = inputs.iter().copied().filter(|s| s.tick == t as i64).collect();
        let out = sim.run(1, &now, true).unwrap();
        spikes.extend(out.spikes.unwrap());
        let v = sim.potentials(0, 0).unwrap();
        for (r, &j) in rows.iter_mut().zip(neurons) {
            r.push(v[j]);
        }
    }
    (rows, spikes)
}

/// Ticks at which neuron `j` of core `xy` spiked.
pub fn spike_ticks(spikes: &[SpikeRecord], xy: (u32, u32), j: u16) -> Vec<u64> {
    spikes.iter().filter(|s| (s.x, s.y) == xy && s.neuron == j).map(|s| s.tick).collect()
}

/// Group recorded spikes by tick.
pub fn by_tick(spikes: &[SpikeRecord]) -> BTreeMap<u64, Vec<SpikeRecord>> {
    let mut m: BTreeMap<u64, Vec<SpikeRecord>> = BTreeMap::new();
    for s in spikes {
        m.entry(s.tick).or_default().push(*s);
    }
    m
}
