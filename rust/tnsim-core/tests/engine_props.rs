//! Property tests of the engine on random networks (see `common::scenario`): every property
//! compares full results, i.e. the whole `RunOutput` (per-tick counters, output counts,
//! recorded spikes) plus the final potentials of every core.
//!
//! Case counts are kept small for a 2-core machine; raise them with `PROPTEST_CASES=...`.
//! A failing case prints its `Knobs`; `Scenario::generate(knobs)` rebuilds it.

#![allow(clippy::needless_range_loop)] // index loops read like the SPEC's sums

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use tnsim_core::{EvalMode, InputSpike, RunOutput, Simulator, SpikeRecord};

/// Default cases per property (the whole file runs in a few seconds at this count).
const CASES: u32 = 96;

proptest! {
    #![proptest_config(proptest_config(CASES))]

    /// The engine agrees with the naive reference model in `common` (an independent reading of
    /// SPEC.md sections 3-6), in both eval modes and with every instruction set (one the CPU
    /// lacks falls back to the widest it has).
    #[test]
    fn engine_matches_reference_model(s in scenario()) {
        let net = s.network();
        let reference = reference_run(&net, s.ticks, &s.inputs);
        for mode in [EvalMode::Fast, EvalMode::Sequential] {
            for isa in ISAS {
                let engine = run_engine_isa(&net, 1, mode, Some(isa), s.ticks, &s.inputs, true);
                if let Some(d) = diff_runs(&engine, &reference) {
                    prop_assert!(false, "{:?}, {:?}: engine vs reference model: {}", mode, isa, d);
                }
            }
        }
    }

    /// EvalMode::Fast (vectorised, idle cores skipped) equals EvalMode::Sequential, with every
    /// instruction set.
    #[test]
    fn fast_equals_sequential(s in scenario()) {
        let net = s.network();
        let seq = run_engine(&net, 1, EvalMode::Sequential, s.ticks, &s.inputs, true);
        for isa in ISAS {
            let fast = run_engine_isa(&net, 1, EvalMode::Fast, Some(isa), s.ticks, &s.inputs, true);
            if let Some(d) = diff_runs(&fast, &seq) {
                prop_assert!(false, "Fast ({:?}) vs Sequential: {}", isa, d);
            }
        }
    }

    /// One thread, two threads and "one per CPU" (0) give identical results, on networks with
    /// enough cores to be split over threads: with the engine's chunks (4 cores or more) and
    /// with chunks of `chunk` cores (several chunks per thread, spikes crossing between chunks
    /// and threads in one tick).
    #[test]
    fn thread_counts_agree(s in many_core_scenario(), chunk in 1..=8usize) {
        let net = s.network();
        let one = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        for threads in [2, 0] {
            let other = run_engine(&net, threads, EvalMode::Fast, s.ticks, &s.inputs, true);
            if let Some(d) = diff_runs(&one, &other) {
                prop_assert!(false, "threads 1 vs {}: {}", threads, d);
            }
            let mut sim = Simulator::new(&net, threads).unwrap();
            sim.set_chunk_cores(Some(chunk)).unwrap();
            let run = sim.run(s.ticks, &s.inputs, true).unwrap();
            if let Some(d) = diff_runs(&one, &(run, potentials(&sim, &net))) {
                prop_assert!(false, "threads 1 vs {} in chunks of {} cores: {}", threads, chunk, d);
            }
        }
        // Switching thread count between runs changes nothing either.
        let mut sim = Simulator::new(&net, 2).unwrap();
        sim.set_chunk_cores(Some(chunk)).unwrap();
        let half = s.ticks / 2;
        let early: Vec<_> = s.inputs.iter().copied().filter(|i| (i.tick as u64) < half).collect();
        let late: Vec<_> = s.inputs.iter().copied().filter(|i| (i.tick as u64) >= half).collect();
        let a = sim.run(half, &early, true).unwrap();
        sim.set_threads(1);
        let b = sim.run(s.ticks - half, &late, true).unwrap();
        let joined = concat(&[a, b]);
        if let Some(d) = diff_runs(&one, &(joined, potentials(&sim, &net))) {
            prop_assert!(false, "threads 2 then 1: {}", d);
        }
    }

    /// A run split into several `run` calls (random split points, zero-length runs included;
    /// inputs partitioned by tick; each part in a random eval mode and instruction set, which
    /// may lay the weights out anew) equals one long run, outputs concatenated.
    #[test]
    fn split_runs_equal_one_run(
        s in scenario(),
        cuts in prop::collection::vec(any::<u16>(), 0..5),
        modes in any::<u8>(),
        isas in any::<u16>(),
    ) {
        let net = s.network();
        let whole = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        let mut points: Vec<u64> = cuts.iter().map(|&c| c as u64 % (s.ticks + 1)).collect();
        points.extend([0, s.ticks]);
        points.sort_unstable();
        let mut sim = Simulator::new(&net, 1).unwrap();
        let mut parts = Vec::new();
        for (k, w) in points.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            // Each part in an eval mode of its own (bit k of `modes`): switching modes between
            // runs must not matter either.
            sim.set_eval_mode(if modes >> k & 1 == 1 { EvalMode::Sequential } else { EvalMode::Fast });
            sim.set_isa(ISAS[(isas >> (2 * k)) as usize % 3]);
            prop_assert_eq!(sim.tick(), a);
            let part: Vec<_> = s.inputs.iter().copied().filter(|i| (a..b).contains(&(i.tick as u64))).collect();
            let out = sim.run(b - a, &part, true).unwrap();
            prop_assert_eq!((out.start_tick, out.ticks), (a, b - a));
            prop_assert_eq!(out.counters.len() as u64, b - a);
            prop_assert_eq!(out.output_counts.len() as u64, (b - a) * out.output_ports as u64);
            parts.push(out);
        }
        prop_assert_eq!(sim.tick(), s.ticks);
        let joined = concat(&parts);
        if let Some(d) = diff_runs(&whole, &(joined, potentials(&sim, &net))) {
            prop_assert!(false, "split at {:?} vs one run: {}", points, d);
        }
    }

    /// Adding the cores in a shuffled order builds the same network and gives identical results.
    #[test]
    fn core_insertion_order_is_irrelevant(s in scenario(), shuffle_seed in any::<u64>()) {
        let mut order: Vec<usize> = (0..s.cores.len()).collect();
        let mut g = Gen::new(shuffle_seed);
        for i in (1..order.len()).rev() {
            order.swap(i, g.below(i as u64 + 1) as usize);
        }
        let net = s.network();
        let shuffled = s.network_in_order(&order);
        prop_assert!(net == shuffled, "networks differ for insertion order {:?}", order);
        let a = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        let b = run_engine(&shuffled, 2, EvalMode::Fast, s.ticks, &s.inputs, true);
        if let Some(d) = diff_runs(&a, &b) {
            prop_assert!(false, "insertion order {:?}: {}", order, d);
        }
    }

    /// Host inputs given as events on input lines (each line a random group of the scenario's
    /// input axons, lines overlapping, some empty) equal the same inputs given row by row,
    /// also when the run is split in two with the lines set once.
    #[test]
    fn input_lines_equal_input_rows(s in scenario(), line_seed in any::<u64>()) {
        let net = s.network();
        let mut g = Gen::new(line_seed);
        // Lines: the scenario's inputs' (x, y, axon) cut into groups, with repeats.
        let mut targets: Vec<(i64, i64, i64)> = Vec::new();
        let mut starts = vec![0i64];
        let n_lines = g.range(1, 12) as usize;
        for _ in 0..n_lines {
            for _ in 0..g.below(6) {
                if let Some(i) = (!s.inputs.is_empty()).then(|| g.below(s.inputs.len() as u64) as usize) {
                    let x = s.inputs[i];
                    targets.push((x.x, x.y, x.axon));
                }
            }
            starts.push(targets.len() as i64);
        }
        let events: Vec<(i64, i64)> =
            (0..g.below(3 * s.ticks + 1)).map(|_| (g.below(s.ticks) as i64, g.below(n_lines as u64) as i64)).collect();
        let rows: Vec<InputSpike> = events
            .iter()
            .flat_map(|&(t, k)| {
                targets[starts[k as usize] as usize..starts[k as usize + 1] as usize]
                    .iter()
                    .map(move |&(x, y, axon)| InputSpike { tick: t, x, y, axon })
            })
            .collect();
        let by_rows = run_engine(&net, 1, EvalMode::Fast, s.ticks, &rows, true);
        let mut sim = Simulator::new(&net, 2).unwrap();
        sim.set_input_lines(&starts, &targets).unwrap();
        prop_assert_eq!(sim.input_line_count(), n_lines);
        let half = s.ticks / 2;
        let (early, late): (Vec<_>, Vec<_>) = events.iter().partition(|e| (e.0 as u64) < half);
        let a = sim.run_lines(half, &early, true).unwrap();
        let b = sim.run_lines(s.ticks - half, &late, true).unwrap();
        if let Some(d) = diff_runs(&by_rows, &(concat(&[a, b]), potentials(&sim, &net))) {
            prop_assert!(false, "input lines vs rows: {}", d);
        }
    }

    /// Recording spikes or not changes nothing but the `spikes` field.
    #[test]
    fn recording_changes_nothing_else(s in scenario()) {
        let net = s.network();
        let (with, pw) = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        let (mut without, po) = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, false);
        prop_assert!(without.spikes.is_none());
        without.spikes = with.spikes.clone();
        if let Some(d) = diff_runs(&(with, pw), &(without, po)) {
            prop_assert!(false, "record vs no record: {}", d);
        }
    }

    /// Spike conservation and no lost spike, checked tick by tick against an expected schedule
    /// computed independently from the recorded spikes and the host inputs:
    /// - spikes == spikes_delivered + output_spikes + spikes of neurons with no target, and the
    ///   recorded spikes of the tick are exactly counters.spikes;
    /// - output_counts of the tick sum to output_spikes, port by port as the spikes say;
    /// - hops and chip crossings match the recorded spikes' routes;
    /// - synaptic (and stochastic synaptic) events equal, summed over cores,
    ///   popcount(expected active axons & crossbar column) over neurons, where a spike at t
    ///   with delay d sets its axon at t + d (OR with inputs and other spikes);
    /// - active cores and neuron updates follow.
    #[test]
    fn spikes_are_conserved_and_delivered(s in scenario()) {
        let net = s.network();
        let (out, _) = run_engine(&net, 2, EvalMode::Fast, s.ticks, &s.inputs, true);
        let spikes = out.spikes.clone().unwrap();
        let ports = out.output_ports as usize;
        prop_assert_eq!(ports as u32, ref_output_ports(&net));
        prop_assert_eq!(spikes.len() as u64, out.counters.iter().map(|c| c.spikes).sum::<u64>());
        let mut sorted = spikes.clone();
        sorted.sort();
        prop_assert!(sorted == spikes, "recorded spikes are not sorted by (tick, x, y, neuron)");

        // Expected schedule: (tick, core) -> active axon bits.
        let mut schedule: HashMap<(u64, (u32, u32)), [u64; 4]> = HashMap::new();
        let mut set = |t: u64, xy: (u32, u32), a: usize| {
            schedule.entry((t, xy)).or_insert([0; 4])[a / 64] |= 1 << (a % 64);
        };
        for i in &s.inputs {
            set(i.tick as u64, (i.x as u32, i.y as u32), i.axon as usize);
        }
        for sp in &spikes {
            let n = &net.core(sp.x, sp.y).unwrap().neurons[sp.neuron as usize];
            if n.target_axon >= 0 {
                let to = ((sp.x as i64 + n.target_dx as i64) as u32, (sp.y as i64 + n.target_dy as i64) as u32);
                prop_assert!(net.core(to.0, to.1).is_some());
                set(sp.tick + n.target_delay as u64, to, n.target_axon as usize);
            }
        }

        // Crossbar columns, through the public accessor: bit i of columns[j] = w[i][j].
        let columns: HashMap<(u32, u32), Vec<[u64; 4]>> = net
            .cores()
            .map(|(&xy, cfg)| {
                let cols = (0..256)
                    .map(|j| {
                        let mut c = [0u64; 4];
                        for i in 0..256 {
                            c[i / 64] |= (cfg.connected(i, j) as u64) << (i % 64);
                        }
                        c
                    })
                    .collect();
                (xy, cols)
            })
            .collect();
        let groups = by_tick(&spikes);
        let none: Vec<SpikeRecord> = Vec::new();
        for t in 0..s.ticks {
            let c = out.counters[t as usize];
            let here = groups.get(&t).unwrap_or(&none);
            let (mut to_axon, mut no_target, mut hops, mut crossings) = (0u64, 0u64, 0u64, 0u64);
            let mut port_counts = vec![0u32; ports];
            for sp in here {
                let n = &net.core(sp.x, sp.y).unwrap().neurons[sp.neuron as usize];
                if n.target_axon >= 0 {
                    to_axon += 1;
                    hops += (n.target_dx.unsigned_abs() + n.target_dy.unsigned_abs()) as u64;
                    let to = ((sp.x as i64 + n.target_dx as i64) as u32, (sp.y as i64 + n.target_dy as i64) as u32);
                    crossings += walk_chip_crossings((sp.x, sp.y), to);
                } else if n.output_port >= 0 {
                    port_counts[n.output_port as usize] += 1;
                } else {
                    no_target += 1;
                }
            }
            let row = &out.output_counts[t as usize * ports..(t as usize + 1) * ports];
            prop_assert_eq!(c.spikes, here.len() as u64, "tick {}: recorded spikes", t);
            prop_assert_eq!(c.spikes, c.spikes_delivered + c.output_spikes + no_target, "tick {}: conservation", t);
            prop_assert_eq!(c.spikes_delivered, to_axon, "tick {}", t);
            prop_assert_eq!(row.iter().map(|&k| k as u64).sum::<u64>(), c.output_spikes, "tick {}", t);
            prop_assert_eq!(row, &port_counts[..], "tick {}: output_counts", t);
            prop_assert_eq!((c.hops, c.chip_crossings), (hops, crossings), "tick {}: hops, crossings", t);

            let (mut syn, mut stoch, mut active_cores) = (0u64, 0u64, 0u64);
            for ((x, y), cfg) in net.cores() {
                let active = schedule.get(&(t, (*x, *y))).copied().unwrap_or([0; 4]);
                let mut type_mask = [[0u64; 4]; 4];
                for i in 0..256 {
                    type_mask[cfg.axon_types[i] as usize][i / 64] |= 1 << (i % 64);
                }
                let columns = &columns[&(*x, *y)];
                let mut core_syn = 0;
                for j in 0..256 {
                    for g in 0..4 {
                        let k: u64 = (0..4).map(|w| (active[w] & columns[j][w] & type_mask[g][w]).count_ones() as u64).sum();
                        core_syn += k;
                        if cfg.neurons[j].stochastic_weights[g] {
                            stoch += k;
                        }
                    }
                }
                syn += core_syn;
                let core_spiked = here.iter().any(|sp| (sp.x, sp.y) == (*x, *y));
                active_cores += (core_syn > 0 || core_spiked) as u64;
            }
            prop_assert_eq!(c.synaptic_events, syn, "tick {}: synaptic events vs expected schedule", t);
            prop_assert_eq!(c.stochastic_synaptic_events, stoch, "tick {}: stochastic synaptic events", t);
            prop_assert_eq!(c.active_cores, active_cores, "tick {}: active cores", t);
            prop_assert_eq!(c.neuron_updates, 256 * net.num_cores() as u64, "tick {}: neuron updates", t);
        }
    }

    /// Potentials stay within [V_MIN, V_MAX] after every tick, and a non-reset neuron's V
    /// never exceeds its ceiling alpha + 2^M - 1 once it has been updated.
    #[test]
    fn potentials_stay_in_bounds(s in scenario()) {
        let net = s.network();
        let mut sim = Simulator::new(&net, 1).unwrap();
        for t in 0..s.ticks {
            let now: Vec<_> = s.inputs.iter().copied().filter(|i| i.tick as u64 == t).collect();
            sim.run(1, &now, false).unwrap();
            for ((x, y), v) in potentials(&sim, &net) {
                let cfg = net.core(x, y).unwrap();
                for j in 0..256 {
                    prop_assert!((V_MIN..=V_MAX).contains(&v[j]), "tick {} core ({}, {}) neuron {}: V = {}", t, x, y, j, v[j]);
                    let n = &cfg.neurons[j];
                    if n.reset_mode == tnsim_core::ResetMode::NonReset {
                        let ceiling = n.threshold + (1 << n.threshold_mask_bits) - 1;
                        prop_assert!(v[j] <= ceiling, "tick {} core ({}, {}) neuron {}: V = {} above ceiling {}", t, x, y, j, v[j], ceiling);
                    }
                }
            }
        }
    }
}

/// Concatenate consecutive run outputs into one, as a single run would have produced it.
fn concat(parts: &[RunOutput]) -> RunOutput {
    let mut out = RunOutput {
        start_tick: parts.first().map_or(0, |p| p.start_tick),
        ticks: 0,
        output_ports: parts.first().map_or(0, |p| p.output_ports),
        output_counts: Vec::new(),
        spikes: Some(Vec::new()),
        counters: Vec::new(),
    };
    for p in parts {
        assert_eq!(p.start_tick, out.start_tick + out.ticks, "parts are not consecutive");
        out.ticks += p.ticks;
        out.output_counts.extend_from_slice(&p.output_counts);
        out.counters.extend_from_slice(&p.counters);
        out.spikes.as_mut().unwrap().extend_from_slice(p.spikes.as_ref().unwrap());
    }
    out
}

/// The generator itself: every knob combination builds a valid network, and the strategy
/// really reaches the corners it claims to (saturation at both bounds, spikes to every kind
/// of target, chip crossings, stochastic draws, every core style, idle cores).
#[test]
fn scenarios_reach_the_interesting_corners() {
    let (mut at_max, mut at_min, mut crossings, mut outputs, mut stoch, mut delivered, mut silent, mut idle) =
        (0, 0, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut styles = std::collections::HashSet::new();
    for seed in 0..16u64 {
        let knobs = Knobs { layout: (seed % 4) as usize, cores: 6, ticks: 20, input_mode: (seed % 5) as usize, seed };
        let s = Scenario::generate(knobs);
        styles.extend(s.styles.iter().copied());
        let net = s.network();
        let (out, pots) = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        for (_, v) in &pots {
            at_max += v.iter().filter(|&&x| x == V_MAX).count();
            at_min += v.iter().filter(|&&x| x == V_MIN).count();
        }
        for c in &out.counters {
            crossings += c.chip_crossings;
            outputs += c.output_spikes;
            stoch += c.stochastic_synaptic_events;
            delivered += c.spikes_delivered;
            silent += c.spikes - c.spikes_delivered - c.output_spikes;
            idle += 6 - c.active_cores;
        }
    }
    assert!(at_max > 0 && at_min > 0, "saturation at V_MAX: {at_max}, at V_MIN: {at_min}");
    assert!(
        crossings > 0 && outputs > 0 && stoch > 0 && delivered > 0 && silent > 0 && idle > 0,
        "crossings {crossings}, outputs {outputs}, stochastic events {stoch}, delivered {delivered}, \
         no-target {silent}, idle core-ticks {idle}"
    );
    assert_eq!(styles.len(), 5, "{styles:?}");
}

/// Chunks of no cores are refused by name; the simulator keeps its chunks.
#[test]
fn chunks_without_cores_are_refused() {
    let s = Scenario::generate(Knobs { layout: 0, cores: 3, ticks: 5, input_mode: 0, seed: 7 });
    let mut sim = Simulator::new(&s.network(), 2).unwrap();
    let err = sim.set_chunk_cores(Some(0)).unwrap_err();
    assert!(err.to_string().contains("chunk_cores = 0"), "{err}");
    assert!(sim.run(5, &s.inputs, false).is_ok());
}
