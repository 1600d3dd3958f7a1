//! Criterion benchmarks of the engine: cost per core-tick of each kind of work, and of the
//! phases of a tick. `cargo bench -p tnsim-core`; the Python `tnsim bench` measures whole-chip
//! throughput against peers.
//!
//! Workloads (one "chip-like" core = density 0.5 crossbar, +-1 weights, deterministic neurons
//! firing about once every 50 ticks, each targeting a random axon of a random core):
//! - `deterministic`: 256 such cores;
//! - `busy`: the deterministic cores firing about once every 12 ticks, so that about 20 axons
//!   are active per core-tick (like a deployed classifier's input layer: the integration by
//!   counts);
//! - `stochastic`: the same with stochastic synapses and leak (the drawing path; also run in
//!   the sequential evaluation mode, the plain path it replaces);
//! - `quiet`: 256 cores that receive nothing and change nothing (skipped);
//! - phases: `compute` (one `CoreState::tick` per core, spikes delivered) against a whole
//!   `Simulator::run` tick (compute + record).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tnsim_core::core::{deliver, Cores, Scheduler, TickContext, TickSink};
use tnsim_core::grid::GridIndex;
use tnsim_core::params::{CoreConfig, NeuronParams, AXONS, NEURONS};
use tnsim_core::{EvalMode, Isa, Network, Simulator};

/// A small xorshift for reproducible workloads (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Deterministic,
    Busy,
    Stochastic,
    Quiet,
}

/// `side x side` cores of the given kind on one chip.
fn network(side: u32, kind: Kind) -> Network {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut net = Network::new((1, 1), None).expect("valid chips");
    for x in 0..side {
        for y in 0..side {
            let mut cfg = CoreConfig::empty(1 + x * side + y);
            if kind != Kind::Quiet {
                for i in 0..AXONS {
                    for j in 0..NEURONS {
                        if rng.below(2) == 0 {
                            cfg.set_connected(i, j, true);
                        }
                    }
                }
            }
            for i in 0..AXONS {
                cfg.axon_types[i] = rng.below(4) as u8;
            }
            for j in 0..NEURONS {
                let stochastic = kind == Kind::Stochastic;
                cfg.neurons[j] = NeuronParams {
                    weights: std::array::from_fn(|_| if rng.below(2) == 0 { -1 } else { 1 }),
                    stochastic_weights: [stochastic; 4],
                    stochastic_leak: stochastic,
                    leak: match kind {
                        Kind::Deterministic | Kind::Busy => 1,
                        Kind::Stochastic => 128,
                        Kind::Quiet => 0,
                    },
                    threshold: match kind {
                        Kind::Stochastic => 25,
                        Kind::Busy => 12,
                        _ => 50,
                    },
                    negative_threshold: 50,
                    initial_potential: match kind {
                        Kind::Quiet => 0,
                        Kind::Busy => rng.below(12) as i32,
                        _ => rng.below(50) as i32,
                    },
                    target_dx: rng.below(side as u64) as i32 - x as i32,
                    target_dy: rng.below(side as u64) as i32 - y as i32,
                    target_axon: rng.below(256) as i32,
                    target_delay: 1 + rng.below(15) as u8,
                    ..NeuronParams::default()
                };
            }
            net.add_core(x as i64, y as i64, cfg).expect("valid core");
        }
    }
    net
}

/// Whole ticks (compute + record) per core-tick, for each workload, serial.
fn per_core_tick(c: &mut Criterion) {
    let side = 16;
    let mut group = c.benchmark_group("core_tick");
    group.throughput(Throughput::Elements((side * side) as u64));
    let kinds = [
        ("deterministic", Kind::Deterministic),
        ("busy", Kind::Busy),
        ("stochastic", Kind::Stochastic),
        ("quiet", Kind::Quiet),
    ];
    for (name, kind) in kinds {
        let net = network(side, kind);
        let mut variants = vec![(Isa::Baseline, EvalMode::Fast), (Isa::best_supported(), EvalMode::Fast)];
        if kind == Kind::Stochastic {
            variants.push((Isa::best_supported(), EvalMode::Sequential));
        }
        for (isa, mode) in variants {
            let mut sim = Simulator::new(&net, 1).expect("valid network");
            sim.set_isa(isa);
            sim.set_eval_mode(mode);
            sim.run(20, &[], false).expect("runs");
            let label =
                if mode == EvalMode::Sequential { format!("{}-sequential", isa.name()) } else { isa.name().into() };
            group.bench_with_input(BenchmarkId::new(name, label), &(), |b, _| {
                b.iter(|| black_box(sim.run(1, &[], false).expect("runs")))
            });
        }
    }
    group.finish();
}

/// The phases of a tick: phase 1 alone (every core's tick, spikes delivered) against a whole
/// `Simulator::run` tick, which adds phase 2 (gathering outputs and counters).
fn phases(c: &mut Criterion) {
    let side = 16;
    let net = network(side, Kind::Deterministic);
    let grid = GridIndex::new(&net);
    let mut cores = Cores::new(net.cores().map(|(&(x, y), cfg)| (x, y, cfg)), Isa::best_supported());
    let schedulers: Vec<Scheduler> = (0..cores.len()).map(|_| Scheduler::default()).collect();
    let mut group = c.benchmark_group("phases");
    group.throughput(Throughput::Elements((side * side) as u64));
    let mut t = 0u64;
    let mut sink = TickSink::default();
    group.bench_function("compute_and_route", |b| {
        b.iter(|| {
            let ctx = TickContext {
                t,
                record_spikes: false,
                mode: EvalMode::Fast,
                lookup: &grid,
                schedulers: &schedulers,
                tables: &cores.tables,
                isa: Isa::best_supported(),
            };
            for (k, core) in cores.states.iter_mut().enumerate() {
                sink.pending.clear();
                core.tick(cores.potentials.core_mut(k), &ctx, &mut sink);
                deliver(&schedulers, &sink.pending);
            }
            t += 1;
        })
    });
    let mut sim = Simulator::new(&net, 1).expect("valid network");
    group.bench_function("whole_tick", |b| b.iter(|| black_box(sim.run(1, &[], false).expect("runs"))));
    group.finish();
}

criterion_group!(benches, per_core_tick, phases);
criterion_main!(benches);
