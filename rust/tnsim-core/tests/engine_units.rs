//! Unit tests of the engine against SPEC.md, with the expected values derived by hand in the
//! comments. Every run goes through `run_checked`, which also checks that EvalMode::Fast and
//! EvalMode::Sequential agree.

#![allow(clippy::needless_range_loop)] // index loops read like the SPEC's sums

mod common;

use common::*;
use tnsim_core::{Counters, Error, Network, NeuronParams, ResetMode, Simulator};

use ResetMode::{Linear, NonReset, Normal};

/// A neuron that spikes once, at tick 0 (V0 = 1 >= alpha = 1, then reset to R = 0 and never
/// again), sending to (dx, dy, axon, delay).
fn spike_once_to(dx: i32, dy: i32, axon: i32, delay: u8) -> NeuronParams {
    NeuronParams {
        initial_potential: 1,
        threshold: 1,
        target_dx: dx,
        target_dy: dy,
        target_axon: axon,
        target_delay: delay,
        ..quiet()
    }
}

/// A neuron that spikes in exactly the ticks where at least one of its axons is active:
/// weight 1 on every type, alpha = 1, reset to 0, clamp at 0.
fn receiver() -> NeuronParams {
    NeuronParams { weights: [1; 4], threshold: 1, ..quiet() }
}

// ---------------------------------------------------------------------------------------------
// SPEC.md section 9 vectors.

#[test]
fn spec_9_tonic_spiking_fires_at_10_21_32() {
    // Cassidy Table V (A): s = [3,0,0,0], alpha = 32, kappa = 1, gamma = 0, R = 0, beta = 0,
    // one type-0 axon active every tick.
    let net = one_core(|c| {
        c.set_connected(0, 0, true);
        c.neurons[0] = NeuronParams {
            weights: [3, 0, 0, 0],
            threshold: 32,
            negative_threshold: 0,
            negative_saturation: true,
            reset_mode: Normal,
            reset_value: 0,
            ..quiet()
        };
    });
    let inputs: Vec<_> = (0..45).map(|t| input(t, 0, 0, 0)).collect();
    let (out, _) = run_checked(&net, 45, &inputs);
    // V after tick t is 3 (t + 1) until 3 x 11 = 33 >= 32 at t = 10; reset to 0, and the
    // next 11 ticks repeat it: 21, 32, 43.
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 0), vec![10, 21, 32, 43]);
    let (v, _) = trace(&net, 13, &inputs, &[0]);
    assert_eq!(v[0], vec![3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 3, 6]);
}

#[test]
fn spec_9_leak_driven_periods() {
    // Neuron 0: alpha = 10, leak +1: V after tick t is t + 1, fires at t = 9 (V = 10) and
    // every 10 ticks after the reset to 0.
    // Neuron 1: alpha = 11, leak +2: V = 2 (t + 1) >= 11 first at t = 5 (V = 12), period 6.
    let net = one_core(|c| {
        c.neurons[0] = NeuronParams { threshold: 10, leak: 1, ..quiet() };
        c.neurons[1] = NeuronParams { threshold: 11, leak: 2, ..quiet() };
    });
    let (out, _) = run_checked(&net, 40, &[]);
    let spikes = out.spikes.unwrap();
    assert_eq!(spike_ticks(&spikes, (0, 0), 0), vec![9, 19, 29, 39]);
    assert_eq!(spike_ticks(&spikes, (0, 0), 1), vec![5, 11, 17, 23, 29, 35]);
    // Counters: 256 neuron updates, no synaptic events; the core is active only in spike ticks.
    assert_eq!(out.counters[9], Counters { spikes: 1, neuron_updates: 256, active_cores: 1, ..Counters::default() });
    assert_eq!(out.counters[0], Counters { neuron_updates: 256, ..Counters::default() });
}

#[test]
fn spec_8_memoryless_classifier_neuron() {
    // alpha = 1, gamma = 0, R = 0, kappa = 1, beta = 0, bias as leak: spikes at t iff
    // (sum of inputs at t) + lambda >= 1, and V = 0 after every tick.
    // Axons 0..8 carry weight +2 (type 0), axons 8..16 weight -3 (type 1); bias lambda = -4.
    let net = one_core(|c| {
        for i in 0..16 {
            c.axon_types[i] = if i < 8 { 0 } else { 1 };
            c.set_connected(i, 0, true);
        }
        c.neurons[0] = NeuronParams { weights: [2, -3, 0, 0], leak: -4, threshold: 1, ..quiet() };
    });
    // Tick t: (t % 5) positive and (t % 3) negative axons active.
    let ticks = 30;
    let mut inputs = Vec::new();
    let mut expected = Vec::new();
    for t in 0..ticks {
        let (p, n) = (t % 5, t % 3);
        inputs.extend((0..p).map(|i| input(t, 0, 0, i)));
        inputs.extend((0..n).map(|i| input(t, 0, 0, 8 + i)));
        if 2 * p - 3 * n - 4 >= 1 {
            expected.push(t as u64);
        }
    }
    let (out, _) = run_checked(&net, ticks as u64, &inputs);
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 0), expected);
    assert!(!expected.is_empty());
    let (v, _) = trace(&net, ticks as u64, &inputs, &[0]);
    assert!(v[0].iter().all(|&x| x == 0), "V must be 0 after every tick: {:?}", v[0]);
}

// ---------------------------------------------------------------------------------------------
// Reset modes, kappa, the non-reset ceiling.

#[test]
fn positive_threshold_reset_modes() {
    // alpha = 10, R = 3, leak +4 for all three.
    let net = one_core(|c| {
        for (j, mode) in [Normal, Linear, NonReset].into_iter().enumerate() {
            c.neurons[j] = NeuronParams { threshold: 10, reset_value: 3, leak: 4, reset_mode: mode, ..quiet() };
        }
    });
    let (v, spikes) = trace(&net, 8, &[], &[0, 1, 2]);
    // gamma 0 (to R): 4, 8, 12 -> 3, 7, 11 -> 3, 7, 11 -> 3, 7.
    assert_eq!(v[0], vec![4, 8, 3, 7, 3, 7, 3, 7]);
    assert_eq!(spike_ticks(&spikes, (0, 0), 0), vec![2, 4, 6]);
    // gamma 1 (subtract alpha): 4, 8, 12 -> 2, 6, 10 -> 0, 4, 8, 12 -> 2.
    assert_eq!(v[1], vec![4, 8, 2, 6, 0, 4, 8, 2]);
    assert_eq!(spike_ticks(&spikes, (0, 0), 1), vec![2, 4, 7]);
    // gamma 2 (unchanged, ceiling alpha + 2^0 - 1 = 10): 4, 8, 12 -> 10, 14 -> 10, ...
    assert_eq!(v[2], vec![4, 8, 10, 10, 10, 10, 10, 10]);
    assert_eq!(spike_ticks(&spikes, (0, 0), 2), vec![2, 3, 4, 5, 6, 7]);
}

#[test]
fn negative_threshold_without_saturation_kappa_0() {
    // beta = 10, R = 3, leak -4, kappa = 0, alpha large. No spike on the negative side.
    let net = one_core(|c| {
        for (j, mode) in [Normal, Linear, NonReset].into_iter().enumerate() {
            c.neurons[j] = NeuronParams {
                threshold: THR_MAX,
                negative_threshold: 10,
                negative_saturation: false,
                reset_value: 3,
                leak: -4,
                reset_mode: mode,
                ..quiet()
            };
        }
    });
    let (v, spikes) = trace(&net, 8, &[], &[0, 1, 2]);
    // gamma 0 (to -R): -4, -8, -12 < -10 -> -3, -7, -11 -> -3, ...
    assert_eq!(v[0], vec![-4, -8, -3, -7, -3, -7, -3, -7]);
    // gamma 1 (add beta): -4, -8, -12 -> -2, -6, -10 (not < -10), -14 -> -4, -8, -12 -> -2.
    assert_eq!(v[1], vec![-4, -8, -2, -6, -10, -4, -8, -2]);
    // gamma 2 (unchanged): keeps falling.
    assert_eq!(v[2], vec![-4, -8, -12, -16, -20, -24, -28, -32]);
    assert!(spikes.is_empty());
}

#[test]
fn negative_saturation_kappa_1_clamps_at_minus_beta() {
    // kappa = 1, beta = 10, leak -4, for every reset mode: -4, -8, -12 -> -10, -14 -> -10...
    // Neuron 3: beta = 0 clamps at 0.
    let net = one_core(|c| {
        for (j, mode) in [Normal, Linear, NonReset].into_iter().enumerate() {
            c.neurons[j] = NeuronParams {
                threshold: THR_MAX,
                negative_threshold: 10,
                negative_saturation: true,
                reset_value: 3,
                leak: -4,
                reset_mode: mode,
                ..quiet()
            };
        }
        c.neurons[3] = NeuronParams { leak: -4, negative_threshold: 0, ..quiet() };
    });
    let (v, spikes) = trace(&net, 5, &[], &[0, 1, 2, 3]);
    for row in &v[..3] {
        assert_eq!(row, &vec![-4, -8, -10, -10, -10]);
    }
    assert_eq!(v[3], vec![0; 5]);
    assert!(spikes.is_empty());
}

#[test]
fn non_reset_ceiling_is_alpha_plus_mask() {
    // gamma = 2, alpha = 10, V0 = 100, no leak.
    // Neuron 0, M = 0: V = 100 >= 10 spikes, V unchanged, ceiling 10 + 0 -> 10; every tick.
    // Neuron 1, M = 3: eta <= 7, so V = 100 >= 10 + eta spikes whatever the draw; ceiling is
    // alpha + (2^3 - 1) = 17 (the mask, not the drawn eta); then 17 >= 10 + eta every tick.
    let net = one_core(|c| {
        c.neurons[0] = NeuronParams { reset_mode: NonReset, threshold: 10, initial_potential: 100, ..quiet() };
        c.neurons[1] = NeuronParams {
            reset_mode: NonReset,
            threshold: 10,
            threshold_mask_bits: 3,
            initial_potential: 100,
            ..quiet()
        };
    });
    let (v, spikes) = trace(&net, 6, &[], &[0, 1]);
    assert_eq!(v[0], vec![10; 6]);
    assert_eq!(v[1], vec![17; 6]);
    assert_eq!(spike_ticks(&spikes, (0, 0), 0), (0..6).collect::<Vec<_>>());
    assert_eq!(spike_ticks(&spikes, (0, 0), 1), (0..6).collect::<Vec<_>>());
}

#[test]
fn leak_reversal_and_anti_ringing() {
    // epsilon = 1: Omega = sgn(V after step 1). Threshold 1000 and kappa = 1 with beta = 1000
    // keep the thresholds out of the way.
    let cases: [(i32, i32, &[i32]); 8] = [
        // (lambda, V0, V after ticks 0..4)
        // 3 - 5 = -2 crosses zero -> 0; then Omega = sgn(0) = 0 keeps it at 0.
        (-5, 3, &[0, 0, 0, 0]),
        // Omega = -1: -3 + 5 = 2 crosses zero -> 0.
        (-5, -3, &[0, 0, 0, 0]),
        // Decays toward 0: 12 -> 7 -> 2 -> (-3 crosses) 0 -> 0.
        (-5, 12, &[7, 2, 0, 0]),
        (-5, -12, &[-7, -2, 0, 0]),
        // A positive leak with reversal drives |V| away from 0.
        (5, 3, &[8, 13, 18, 23]),
        (5, -3, &[-8, -13, -18, -23]),
        // V = 0: Omega = 0, nothing moves.
        (-5, 0, &[0, 0, 0, 0]),
        (5, 0, &[0, 0, 0, 0]),
    ];
    let net = one_core(|c| {
        for (j, &(leak, v0, _)) in cases.iter().enumerate() {
            c.neurons[j] = NeuronParams {
                leak,
                leak_reversal: true,
                initial_potential: v0,
                threshold: 1000,
                negative_threshold: 1000,
                ..quiet()
            };
        }
        // Without reversal there is no anti-ringing: 3 - 5 = -2 stays.
        c.neurons[8] =
            NeuronParams { leak: -5, initial_potential: 3, threshold: 1000, negative_threshold: 1000, ..quiet() };
    });
    let (v, spikes) = trace(&net, 4, &[], &(0..9).collect::<Vec<_>>());
    for (j, (_, _, want)) in cases.iter().enumerate() {
        assert_eq!(&v[j][..], *want, "case {j}: {:?}", cases[j]);
    }
    assert_eq!(v[8], vec![-2, -7, -12, -17]);
    assert!(spikes.is_empty());
}

#[test]
fn saturation_at_every_addition_in_axon_order() {
    // Axon 0 is type 0, axon 1 type 1; both active at tick 0 and connected to neurons 0, 1.
    // Neuron 0: s = [+255, -255], V0 = V_MAX - 100. In axon order: sat(V_MAX + 155) = V_MAX,
    // then V_MAX - 255 (without per-step saturation it would be V_MAX - 100). alpha = 2^18-1,
    // gamma = 1: spikes, V = V_MAX - 255 - (2^18 - 1) = 261889.
    // Neuron 1: s = [-255, +255], V0 = V_MIN + 100: V_MIN, then V_MIN + 255. kappa = 0,
    // gamma = 2: below -beta nothing happens. V = V_MIN + 255.
    // Neuron 2: V0 = V_MAX - 10, leak +255 -> V_MAX; gamma = 1: V_MAX - (2^18 - 1) = 262144.
    // Neuron 3: V0 = V_MIN + 10, leak -255 -> V_MIN, kappa = 0, gamma = 2: stays at V_MIN.
    let net = one_core(|c| {
        c.axon_types[1] = 1;
        for j in 0..2 {
            c.set_connected(0, j, true);
            c.set_connected(1, j, true);
        }
        c.neurons[0] = NeuronParams {
            weights: [255, -255, 0, 0],
            initial_potential: V_MAX - 100,
            threshold: THR_MAX,
            reset_mode: Linear,
            ..quiet()
        };
        c.neurons[1] = NeuronParams {
            weights: [-255, 255, 0, 0],
            initial_potential: V_MIN + 100,
            threshold: THR_MAX,
            negative_saturation: false,
            reset_mode: NonReset,
            ..quiet()
        };
        c.neurons[2] = NeuronParams {
            leak: 255,
            initial_potential: V_MAX - 10,
            threshold: THR_MAX,
            reset_mode: Linear,
            ..quiet()
        };
        c.neurons[3] = NeuronParams {
            leak: -255,
            initial_potential: V_MIN + 10,
            threshold: THR_MAX,
            negative_saturation: false,
            reset_mode: NonReset,
            ..quiet()
        };
    });
    let (out, pots) = run_checked(&net, 1, &[input(0, 0, 0, 0), input(0, 0, 0, 1)]);
    let v = pots[0].1;
    assert_eq!(v[0], V_MAX - 255 - THR_MAX);
    assert_eq!(v[0], 261_889);
    assert_eq!(v[1], V_MIN + 255);
    assert_eq!(v[2], 262_144);
    assert_eq!(v[3], V_MIN);
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 0), vec![0]);
    assert_eq!(out.counters[0].synaptic_events, 4);
}

#[test]
fn many_events_saturate_mid_integration() {
    // 200 type-0 axons (+255 each) then 56 type-1 axons (-255 each), all active, V0 = 0.
    // Sequentially: 200 x 255 = 51000 (no bound reached), then -56 x 255 = -14280: 36720.
    // Neuron 1 starts at V_MAX - 1000: the 4th event reaches V_MAX (4 x 255 = 1020), the other
    // 196 stay there, then 56 x -255: V_MAX - 14280 = 510007 (one unsaturated sum would
    // overflow the bound). alpha = 0 with gamma = 1 (subtract 0) lets V read through.
    // Neuron 0 is an integrator (alpha, beta = 2^18 - 1): no threshold acts.
    let net = one_core(|c| {
        for i in 0..256 {
            c.axon_types[i] = if i < 200 { 0 } else { 1 };
            c.set_connected(i, 0, true);
            c.set_connected(i, 1, true);
        }
        c.neurons[0] = NeuronParams { weights: [255, -255, 0, 0], threshold: THR_MAX, ..quiet() };
        c.neurons[1] = NeuronParams {
            weights: [255, -255, 0, 0],
            initial_potential: V_MAX - 1000,
            threshold: 0,
            reset_mode: Linear,
            ..quiet()
        };
    });
    let inputs: Vec<_> = (0..256).map(|i| input(0, 0, 0, i)).collect();
    let (out, pots) = run_checked(&net, 1, &inputs);
    assert_eq!(pots[0].1[0], 36_720);
    assert_eq!(pots[0].1[1], V_MAX - 14_280);
    assert_eq!(out.counters[0].synaptic_events, 512);
}

#[test]
fn integration_by_counts_stops_exactly_where_a_bound_comes_in_reach() {
    // Four active type-0 axons, weight +255 (the core's largest): they can add 4 x 255 = 1020.
    // From V0 = V_MAX - 1020 no partial sum passes V_MAX, so the fast path may count (the sum
    // is V_MAX exactly, then the leak -1: V_MAX - 1); from V_MAX - 1019 the fourth event would
    // pass it and saturates at V_MAX, so counting must not be used (it would give V_MAX + 1,
    // which the leak brings to V_MAX instead of V_MAX - 1). alpha = 0 with linear reset lets V
    // read through. `run_checked` compares every instruction set's fast path with the
    // sequential one.
    for (v0, expected) in [(V_MAX - 1020, V_MAX - 1), (V_MAX - 1019, V_MAX - 1), (V_MAX - 1021, V_MAX - 2)] {
        let net = one_core(|c| {
            for i in 0..4 {
                c.set_connected(i, 0, true);
            }
            c.neurons[0] = NeuronParams {
                weights: [255, 0, 0, 0],
                initial_potential: v0,
                leak: -1,
                threshold: 0,
                reset_mode: Linear,
                ..quiet()
            };
        });
        let inputs: Vec<_> = (0..4).map(|i| input(0, 0, 0, i)).collect();
        let (_, pots) = run_checked(&net, 1, &inputs);
        assert_eq!(pots[0].1[0], expected, "V0 = {v0}");
    }
}

// ---------------------------------------------------------------------------------------------
// Random draws against a hand-run xorshift32.

#[test]
fn zero_seed_uses_the_replacement_state() {
    // Seed 0 becomes 0x9E3779B9. First draw, by hand:
    //   x = 0x9E3779B9; x ^= x << 13 -> 0x710059B9; x ^= x >> 17 -> 0x71006139;
    //   x ^= x << 5 -> 0x510C4619.
    // rho_T = 0x510C4619 & 0x3FFFF = 17945. Neuron 0: M = 18, alpha = 0, gamma = 1, V0 = V_MAX:
    // spikes, V = V_MAX - 17945 = 506342.
    assert_eq!(RefRng::new(0).next(), 0x510C_4619);
    let mut cfg = tnsim_core::CoreConfig::empty(0);
    cfg.neurons[0] =
        NeuronParams { threshold_mask_bits: 18, threshold: 0, reset_mode: Linear, initial_potential: V_MAX, ..quiet() };
    let mut net = Network::new((1, 1), None).unwrap();
    net.add_core(0, 0, cfg).unwrap();
    let (_, pots) = run_checked(&net, 1, &[]);
    assert_eq!(pots[0].1[0], 506_342);
}

#[test]
fn stochastic_draw_order_matches_hand_run_xorshift() {
    // Axons 3, 7, 200 are type 0, axon 10 type 1; all four are active every tick.
    // Draws come neuron by neuron (ascending), within a neuron: synaptic events in axon
    // order, then the leak, then the threshold. Deterministic neurons draw nothing.
    //   n0: deterministic, weight 1 on types 0 and 1, connected to 3, 7, 10, 200: +4/tick.
    //   n1: stochastic type 0 (s = 128) and type 1 (s = 0) on 3, 7, 10, 200: four draws;
    //       +1 iff 128 >= rho, except axon 10: |0| >= rho only for rho = 0 and sgn(0) = 0.
    //   n2: stochastic leak -100: one draw, -1 iff 100 >= rho.
    //   n3: M = 18, alpha = 0, gamma = 1: eta = rho_T; spikes iff V >= eta, then V -= eta.
    //   n4: stochastic type 0 (s = -200) on axon 7 only, stochastic leak +50, M = 5,
    //       alpha = 0, gamma = 1: three draws.
    //   n5: leak reversal with V = 0 (Omega = 0), stochastic leak 7: a draw, no change.
    //   n6: stochastic leak 0: a draw, no change.
    //   n7: like n3, reveals the next draw.
    //   n8..255: deterministic and silent.
    let seed = 12345;
    let net = one_core(|c| {
        c.seed = seed;
        c.axon_types[10] = 1;
        for a in [3, 7, 10, 200] {
            c.set_connected(a, 0, true);
            c.set_connected(a, 1, true);
        }
        c.set_connected(7, 4, true);
        c.neurons[0] = NeuronParams { weights: [1, 1, 0, 0], ..integrator() };
        c.neurons[1] =
            NeuronParams { weights: [128, 0, 0, 0], stochastic_weights: [true, true, false, false], ..integrator() };
        c.neurons[2] = NeuronParams { leak: -100, stochastic_leak: true, ..integrator() };
        let revealer = NeuronParams {
            threshold_mask_bits: 18,
            threshold: 0,
            reset_mode: Linear,
            initial_potential: V_MAX,
            negative_threshold: THR_MAX,
            ..quiet()
        };
        c.neurons[3] = revealer;
        c.neurons[4] = NeuronParams {
            weights: [-200, 0, 0, 0],
            stochastic_weights: [true, false, false, false],
            leak: 50,
            stochastic_leak: true,
            threshold_mask_bits: 5,
            threshold: 0,
            reset_mode: Linear,
            initial_potential: 1000,
            ..quiet()
        };
        c.neurons[5] = NeuronParams { leak: 7, stochastic_leak: true, leak_reversal: true, ..integrator() };
        c.neurons[6] = NeuronParams { leak: 0, stochastic_leak: true, ..integrator() };
        c.neurons[7] = revealer;
    });
    let ticks = 4;
    let mut inputs = Vec::new();
    for t in 0..ticks {
        for a in [3, 7, 10, 200] {
            inputs.push(input(t, 0, 0, a));
        }
    }

    // The hand run.
    let mut r = RefRng::new(seed);
    let mut v = [0, 0, 0, V_MAX, 1000, 0, 0, V_MAX];
    let mut spikes: Vec<Vec<u64>> = vec![Vec::new(); 8];
    let mut rows: Vec<Vec<i32>> = vec![Vec::new(); 8];
    for t in 0..ticks as u64 {
        v[0] += 4;
        for axon in [3, 7, 10, 200] {
            let rho = r.rho();
            if axon != 10 && 128 >= rho {
                v[1] += 1;
            }
        }
        if 100 >= r.rho() {
            v[2] -= 1;
        }
        let eta = r.rho_t();
        if v[3] >= eta {
            v[3] -= eta;
            spikes[3].push(t);
        }
        if 200 >= r.rho() {
            v[4] -= 1;
        }
        if 50 >= r.rho() {
            v[4] += 1;
        }
        let eta = r.rho_t() & 31;
        if v[4] >= eta {
            v[4] -= eta;
            spikes[4].push(t);
        }
        r.next(); // n5
        r.next(); // n6
        let eta = r.rho_t();
        if v[7] >= eta {
            v[7] -= eta;
            spikes[7].push(t);
        }
        for j in 0..8 {
            rows[j].push(v[j]);
        }
    }
    // The first four draws of seed 12345, for the record: 0xC6E5747A, 0x652A09AF, 0xA7E08FA0,
    // 0x748E41EA (rho 122, 175, 160, 234): in tick 0, n1 gets +1 from axon 3 (128 >= 122)
    // only; axon 7 (175) and axon 200 (234) fail, axon 10 has weight 0.
    let mut first = RefRng::new(seed);
    assert_eq!(
        [first.next(), first.next(), first.next(), first.next()],
        [0xC6E5_747A, 0x652A_09AF, 0xA7E0_8FA0, 0x748E_41EA]
    );
    assert_eq!(rows[1][0], 1);

    let (out, _) = run_checked(&net, ticks as u64, &inputs);
    let (trace_v, trace_spikes) = trace(&net, ticks as u64, &inputs, &(0..8).collect::<Vec<_>>());
    for j in 0..8 {
        assert_eq!(trace_v[j], rows[j], "neuron {j}");
        assert_eq!(spike_ticks(&trace_spikes, (0, 0), j as u16), spikes[j], "spikes of neuron {j}");
    }
    assert_eq!(out.spikes.as_ref().unwrap(), &trace_spikes);
    // Events: n0 4 + n1 4 + n4 1 = 9 a tick; stochastic: n1 4 (both types) + n4 1 = 5.
    for c in &out.counters {
        assert_eq!((c.synaptic_events, c.stochastic_synaptic_events), (9, 5));
    }
}

#[test]
fn deterministic_neurons_draw_nothing() {
    // 255 busy deterministic neurons (all axons connected and active, leaks, spikes) before
    // one revealer (M = 18, alpha = 0, gamma = 1, V0 = V_MAX) at neuron 255: it must get the
    // very first draw of the seed, tick after tick.
    let seed = 777;
    let net = one_core(|c| {
        c.seed = seed;
        for j in 0..255 {
            for i in 0..256 {
                c.set_connected(i, j, true);
            }
            c.neurons[j] = NeuronParams {
                weights: [1, -1, 2, 0],
                leak: (j as i32 % 7) - 3,
                threshold: (j as i32) % 50,
                ..quiet()
            };
        }
        for i in 0..256 {
            c.axon_types[i] = (i % 4) as u8;
        }
        c.neurons[255] = NeuronParams {
            threshold_mask_bits: 18,
            threshold: 0,
            reset_mode: Linear,
            initial_potential: V_MAX,
            ..quiet()
        };
    });
    let inputs: Vec<_> = (0..3).flat_map(|t| (0..256).map(move |i| input(t, 0, 0, i))).collect();
    let mut r = RefRng::new(seed);
    let mut want = Vec::new();
    let mut v = V_MAX;
    for _ in 0..3 {
        let eta = r.rho_t();
        if v >= eta {
            v -= eta;
        }
        want.push(v);
    }
    let (got, spikes) = trace(&net, 3, &inputs, &[255]);
    assert_eq!(got[0], want);
    assert!(spikes.len() > 3, "the deterministic neurons should be busy");
    run_checked(&net, 3, &inputs);
}

// ---------------------------------------------------------------------------------------------
// Delays, routing, counters.

#[test]
fn delay_d_delivers_at_t_plus_d() {
    for d in 1..=15u8 {
        // Neuron 0 spikes at tick 0 only, to axon 5 of its own core with delay d; neuron 1
        // listens on axon 5 and spikes in the tick the spike is integrated: t = d.
        let net = one_core(|c| {
            c.neurons[0] = spike_once_to(0, 0, 5, d);
            c.set_connected(5, 1, true);
            c.neurons[1] = receiver();
        });
        let (out, _) = run_checked(&net, 40, &[]);
        let spikes = out.spikes.as_ref().unwrap();
        assert_eq!(spike_ticks(spikes, (0, 0), 0), vec![0], "delay {d}");
        assert_eq!(spike_ticks(spikes, (0, 0), 1), vec![d as u64], "delay {d}");
        for (t, c) in out.counters.iter().enumerate() {
            assert_eq!(c.synaptic_events, (t == d as usize) as u64, "delay {d}, tick {t}");
        }
        assert_eq!(out.counters[0].spikes_delivered, 1);
        assert_eq!(out.counters[0].hops, 0);
    }
}

#[test]
fn delay_15_stream_wraps_the_scheduler() {
    // Neuron 0 spikes every tick (alpha = 0, V = 0 >= 0) with delay 15 to axon 6; neuron 1
    // (listening on 6) spikes every tick from 15 on. Neuron 2 spikes every tick with delay 1
    // to axon 7, neuron 3 spikes from tick 1 on. Slots (t + 15) mod 16 = (t - 1) mod 16 must
    // not be cleared before they are due.
    let net = one_core(|c| {
        c.neurons[0] = NeuronParams { threshold: 0, target_axon: 6, target_delay: 15, ..quiet() };
        c.set_connected(6, 1, true);
        c.neurons[1] = receiver();
        c.neurons[2] = NeuronParams { threshold: 0, target_axon: 7, target_delay: 1, ..quiet() };
        c.set_connected(7, 3, true);
        c.neurons[3] = receiver();
    });
    let (out, _) = run_checked(&net, 50, &[]);
    let spikes = out.spikes.as_ref().unwrap();
    assert_eq!(spike_ticks(spikes, (0, 0), 1), (15..50).collect::<Vec<_>>());
    assert_eq!(spike_ticks(spikes, (0, 0), 3), (1..50).collect::<Vec<_>>());
    assert_eq!(out.counters[15].synaptic_events, 2);
}

#[test]
fn hops_and_chip_crossings() {
    // (chips, from, to, hops = |dx| + |dy|, chip boundaries crossed going x first, then y)
    type Case = ((i64, i64), (u32, u32), (u32, u32), u64, u64);
    let cases: &[Case] = &[
        ((1, 1), (5, 5), (5, 5), 0, 0),
        ((1, 1), (0, 0), (63, 63), 126, 0),
        ((2, 1), (63, 0), (64, 0), 1, 1),
        ((2, 1), (64, 0), (63, 0), 1, 1),
        ((2, 1), (63, 0), (0, 0), 63, 0),
        ((2, 1), (0, 0), (127, 0), 127, 1),
        ((2, 1), (127, 63), (0, 0), 190, 1),
        ((1, 2), (0, 63), (0, 64), 1, 1),
        ((1, 2), (1, 63), (0, 64), 2, 1),
        ((1, 2), (0, 127), (63, 0), 190, 1),
        ((2, 2), (63, 63), (64, 64), 2, 2),
        ((2, 2), (127, 127), (0, 0), 254, 2),
        ((2, 2), (64, 0), (0, 127), 191, 2),
        ((2, 2), (0, 64), (0, 65), 1, 0),
        ((2, 2), (64, 64), (65, 127), 64, 0),
    ];
    for &(chips, from, to, hops, crossings) in cases {
        assert_eq!(walk_chip_crossings(from, to), crossings, "helper, {from:?} -> {to:?}");
        let (dx, dy) = (to.0 as i32 - from.0 as i32, to.1 as i32 - from.1 as i32);
        let mut src = tnsim_core::CoreConfig::empty(1);
        src.neurons[0] = spike_once_to(dx, dy, 9, 1);
        let mut net = Network::new(chips, None).unwrap();
        if from == to {
            src.set_connected(9, 1, true);
            src.neurons[1] = receiver();
            net.add_core(from.0 as i64, from.1 as i64, src).unwrap();
        } else {
            let mut dst = tnsim_core::CoreConfig::empty(2);
            dst.set_connected(9, 1, true);
            dst.neurons[1] = receiver();
            net.add_core(from.0 as i64, from.1 as i64, src).unwrap();
            net.add_core(to.0 as i64, to.1 as i64, dst).unwrap();
        }
        let (out, _) = run_checked(&net, 3, &[]);
        let c0 = out.counters[0];
        let what = format!("{chips:?}: {from:?} -> {to:?}");
        assert_eq!((c0.spikes, c0.spikes_delivered, c0.hops, c0.chip_crossings), (1, 1, hops, crossings), "{what}");
        assert_eq!(c0.active_cores, 1, "{what}");
        assert_eq!(out.counters[1].synaptic_events, 1, "{what}");
        assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), to, 1), vec![1], "{what}");
        assert_eq!(c0.neuron_updates, 256 * net.num_cores() as u64);
    }
}

#[test]
fn output_ports_are_counted_per_tick() {
    // Neuron 0 -> port 2 every tick; neurons 1 and 2 -> port 0 at tick 0 only; neuron 3
    // spikes at tick 0 with no target. Implicit port count: 1 + 2 = 3.
    let net = one_core(|c| {
        c.neurons[0] = NeuronParams { threshold: 0, output_port: 2, ..quiet() };
        c.neurons[1] = NeuronParams { initial_potential: 1, output_port: 0, ..quiet() };
        c.neurons[2] = NeuronParams { initial_potential: 1, output_port: 0, ..quiet() };
        c.neurons[3] = NeuronParams { initial_potential: 1, ..quiet() };
    });
    let (out, _) = run_checked(&net, 3, &[]);
    assert_eq!(out.output_ports, 3);
    assert_eq!(out.output_counts, vec![2, 0, 1, 0, 0, 1, 0, 0, 1]);
    assert_eq!((out.counters[0].spikes, out.counters[0].output_spikes, out.counters[0].spikes_delivered), (4, 3, 0));
    // An explicit port count wins, unused ports stay 0.
    let mut net = Network::new((1, 1), Some(5)).unwrap();
    net.add_core(0, 0, core_with(1, |c| c.neurons[0] = NeuronParams { threshold: 0, output_port: 4, ..quiet() }))
        .unwrap();
    let (out, _) = run_checked(&net, 2, &[]);
    assert_eq!(out.output_counts, vec![0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    // No port at all: 0 ports, empty counts.
    let (out, _) = run_checked(&one_core(|_| {}), 4, &[]);
    assert_eq!((out.output_ports, out.output_counts.len()), (0, 0));
}

#[test]
fn neuron_updates_and_active_cores() {
    // Three cores: (0,0) with an input spike on a connected axon at tick 1, (1,0) with a
    // spiking neuron at tick 0 (no target), (2,0) silent.
    let mut net = Network::new((1, 1), None).unwrap();
    net.add_core(0, 0, core_with(1, |c| c.set_connected(0, 0, true))).unwrap();
    net.add_core(1, 0, core_with(2, |c| c.neurons[0] = NeuronParams { initial_potential: 1, ..quiet() })).unwrap();
    net.add_core(2, 0, core_with(3, |_| {})).unwrap();
    let (out, _) = run_checked(&net, 3, &[input(1, 0, 0, 0)]);
    let active: Vec<u64> = out.counters.iter().map(|c| c.active_cores).collect();
    assert_eq!(active, vec![1, 1, 0]);
    assert!(out.counters.iter().all(|c| c.neuron_updates == 768));
    assert_eq!(out.counters[1].synaptic_events, 1);
}

// ---------------------------------------------------------------------------------------------
// Host inputs.

fn listening_core() -> Network {
    // Neuron 0 listens on axon 0 and spikes in every tick axon 0 is active.
    one_core(|c| {
        c.set_connected(0, 0, true);
        c.neurons[0] = receiver();
    })
}

#[test]
fn input_errors_are_input_errors_and_change_nothing() {
    let net = listening_core();
    let mut sim = Simulator::new(&net, 1).unwrap();
    sim.run(5, &[], false).unwrap();
    let bad = [
        ("past tick", input(3, 0, 0, 0)),
        ("negative tick", input(-1, 0, 0, 0)),
        ("beyond the run (now + ticks)", input(15, 0, 0, 0)),
        ("far beyond the run", input(i64::MAX, 0, 0, 0)),
        ("missing core", input(6, 1, 0, 0)),
        ("negative x", input(6, -1, 0, 0)),
        ("off-grid y", input(6, 0, 64, 0)),
        ("huge x", input(6, i64::MAX, 0, 0)),
        ("axon 256", input(6, 0, 0, 256)),
        ("axon -1", input(6, 0, 0, -1)),
    ];
    for (what, spike) in bad {
        // A good input next to the bad one must not be applied either.
        let err = sim.run(10, &[input(6, 0, 0, 0), spike], true).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{what}: {err:?}");
        assert_eq!(sim.tick(), 5, "{what}: a rejected run must not advance");
    }
    // The simulator still works, and the rejected good input was not kept.
    let out = sim.run(10, &[input(14, 0, 0, 0)], true).unwrap();
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 0), vec![14]);
    // A zero-length run accepts no input at all.
    assert!(matches!(sim.run(0, &[input(15, 0, 0, 0)], false), Err(Error::Input(_))));
    let out = sim.run(0, &[], true).unwrap();
    assert_eq!((out.start_tick, out.ticks, out.counters.len()), (15, 0, 0));
}

#[test]
fn input_line_errors_name_the_row_and_change_nothing() {
    let net = listening_core();
    let mut sim = Simulator::new(&net, 1).unwrap();
    sim.set_input_lines(&[0, 1, 1], &[(0, 0, 0)]).unwrap(); // line 0: axon 0; line 1: nothing
    type Lines = (Vec<i64>, Vec<(i64, i64, i64)>);
    let bad_lines: [(&str, Lines, &str); 6] = [
        ("no starts", (vec![], vec![]), "starts must run from 0"),
        ("starts not from 0", (vec![1, 1], vec![(0, 0, 0)]), "starts must run from 0"),
        ("starts short of the targets", (vec![0, 1], vec![(0, 0, 0), (0, 0, 1)]), "starts must run from 0"),
        ("decreasing starts", (vec![0, 2, 1, 2], vec![(0, 0, 0), (0, 0, 1)]), "starts[2] = 1 is below starts[1] = 2"),
        ("missing core", (vec![0, 2], vec![(0, 0, 0), (1, 0, 0)]), "targets row 1: core (1, 0)"),
        ("axon 256", (vec![0, 1], vec![(0, 0, 256)]), "targets row 0: field 'axon' = 256"),
    ];
    for (what, (starts, targets), expect) in bad_lines {
        let err = sim.set_input_lines(&starts, &targets).unwrap_err();
        assert!(matches!(&err, Error::Input(m) if m.contains(expect)), "{what}: {err:?}");
        assert_eq!(sim.input_line_count(), 2, "{what}: the lines set before must stay");
    }
    sim.run(5, &[], false).unwrap();
    let bad_events = [
        ("past tick", (3, 0), "events row 1: field 'tick' = 3 is already past"),
        ("beyond the run", (15, 0), "events row 1: field 'tick' = 15 is beyond this run"),
        ("line 2", (6, 2), "events row 1: field 'line' = 2 is out of range (2 input lines"),
        ("line -1", (6, -1), "field 'line' = -1"),
    ];
    for (what, event, expect) in bad_events {
        let err = sim.run_lines(10, &[(6, 0), event], true).unwrap_err();
        assert!(matches!(&err, Error::Input(m) if m.contains(expect)), "{what}: {err:?}");
        assert_eq!(sim.tick(), 5, "{what}: a rejected run must not advance");
    }
    // Events on line 0 make neuron 0 spike; line 1 (no axons) does nothing.
    let out = sim.run_lines(10, &[(7, 0), (9, 1), (12, 0)], true).unwrap();
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 0), vec![7, 12]);
    let mut fresh = Simulator::new(&net, 1).unwrap();
    let err = fresh.run_lines(3, &[(0, 0)], false).unwrap_err();
    assert!(matches!(&err, Error::Input(m) if m.contains("(0 input lines are defined)")), "{err:?}");
}

#[test]
fn inputs_far_ahead_are_held_not_written_early() {
    // An input for tick 20 shares slot 4 with tick 4; it must act at 20 only. Same for 35
    // (slot 3) given in a run starting at tick 0.
    let net = listening_core();
    let (out, _) = run_checked(&net, 40, &[input(20, 0, 0, 0), input(35, 0, 0, 0)]);
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 0), vec![20, 35]);
    // Inputs given in any order.
    let (out2, _) = run_checked(&net, 40, &[input(35, 0, 0, 0), input(20, 0, 0, 0)]);
    assert_eq!(out, out2);
}

#[test]
fn duplicate_spikes_on_one_axon_are_ored() {
    // Two identical inputs at tick 2, and at tick 5 an input plus a delivered spike (neuron 1
    // spikes at tick 0 with delay 5 to axon 0): one synaptic event each time, not two.
    let net = one_core(|c| {
        c.set_connected(0, 0, true);
        c.neurons[0] = NeuronParams { weights: [1; 4], ..integrator() };
        c.neurons[1] = spike_once_to(0, 0, 0, 5);
    });
    let (out, pots) = run_checked(&net, 8, &[input(2, 0, 0, 0), input(2, 0, 0, 0), input(5, 0, 0, 0)]);
    let events: Vec<u64> = out.counters.iter().map(|c| c.synaptic_events).collect();
    assert_eq!(events, vec![0, 0, 1, 0, 0, 1, 0, 0]);
    assert_eq!(pots[0].1[0], 2);
}

#[test]
fn instruction_sets_are_clamped_to_the_cpu() {
    // set_isa never selects an instruction set wider than the CPU has.
    let mut sim = Simulator::new(&listening_core(), 1).unwrap();
    let best = tnsim_core::Isa::best_supported();
    let rank = |i: tnsim_core::Isa| ISAS.iter().position(|&x| x == i).unwrap();
    for isa in ISAS {
        sim.set_isa(isa);
        assert_eq!(rank(sim.isa()), rank(isa).min(rank(best)), "asked {isa:?}, best {best:?}");
    }
}

#[test]
fn spec_constants() {
    use tnsim_core::params;
    assert_eq!((params::V_MIN, params::V_MAX), (V_MIN, V_MAX));
    assert_eq!((params::V_MIN, params::V_MAX), (-524_288, 524_287));
    assert_eq!(params::THRESHOLD_MAX, THR_MAX);
    assert_eq!(tnsim_core::prng::ZERO_SEED_REPLACEMENT, 0x9E37_79B9);
}

// ---------------------------------------------------------------------------------------------
// Idle cores and large systems.

#[test]
fn idle_core_wakes_up_on_input_and_on_delivery() {
    // Core A (0, 0): all 256 neurons share one deterministic dynamics (alpha = 5, no leak,
    // clamp at 0), so after tick 0 nothing in it changes until an axon is active (the engine
    // may skip it meanwhile). Weights differ per neuron:
    //   n0: axon 0, weight 5: spikes at the inputs on axon 0, ticks 30 and 47;
    //   n1: axon 1, weight 2: integrates 2 at ticks 31 and 33 -> V = 4 < 5, no spike;
    //   n2: axon 2, weight 5: spikes at 15, when core B's spike of tick 0 (delay 15) arrives;
    //   n3: axon 3, weight 5, target A axon 3 with delay 15: an input at 40 starts a loop
    //       that fires at 40, 55, 70 while the core is otherwise idle.
    // Core B (1, 0): n0 spikes once at tick 0 to A axon 2, delay 15 (dx = -1).
    let a = core_with(1, |c| {
        for (j, (axon, w)) in [(0, 5), (1, 2), (2, 5), (3, 5)].into_iter().enumerate() {
            c.set_connected(axon, j, true);
            c.neurons[j] = NeuronParams { weights: [w, 0, 0, 0], threshold: 5, ..quiet() };
        }
        c.neurons[3].target_axon = 3;
        c.neurons[3].target_delay = 15;
    });
    let b = core_with(2, |c| c.neurons[0] = spike_once_to(-1, 0, 2, 15));
    let mut net = Network::new((1, 1), None).unwrap();
    net.add_core(0, 0, a).unwrap();
    net.add_core(1, 0, b).unwrap();
    let inputs = [input(30, 0, 0, 0), input(47, 0, 0, 0), input(31, 0, 0, 1), input(33, 0, 0, 1), input(40, 0, 0, 3)];
    let (out, pots) = run_checked(&net, 80, &inputs);
    let spikes = out.spikes.as_ref().unwrap();
    assert_eq!(spike_ticks(spikes, (0, 0), 0), vec![30, 47]);
    assert_eq!(spike_ticks(spikes, (0, 0), 1), Vec::<u64>::new());
    assert_eq!(spike_ticks(spikes, (0, 0), 2), vec![15]);
    assert_eq!(spike_ticks(spikes, (0, 0), 3), vec![40, 55, 70]);
    assert_eq!(pots[0].1[1], 4);
    // Tick by tick (a run per tick) gives the same, and so does the reference model.
    let (_, traced) = trace(&net, 80, &inputs, &[]);
    assert_eq!(&traced, spikes);
    assert!(diff_runs(&(out, pots), &reference_run(&net, 80, &inputs)).is_none());
}

#[test]
fn large_sparse_system_with_extreme_offsets() {
    // 256 x 256 chips (16384 x 16384 cores) with cores in opposite corners: the engine's
    // position index cannot be a dense table over their bounding box. Offsets at both ends
    // of the 9-bit range:
    //   (0, 0) n0 -> (255, 0), dx = +255: hops 255, chip columns 0 -> 3: 3 crossings;
    //   (16383, 16383) n0 -> (16127, 16383), dx = -256: hops 256, chip columns 255 -> 251: 4;
    //   (16127, 16383) n1 -> (16127, 16127), dy = -256: hops 256, chip rows 255 -> 251: 4.
    let far = 16_383;
    let mut net = Network::new((256, 256), None).unwrap();
    let listen = |c: &mut tnsim_core::CoreConfig| {
        c.set_connected(9, 5, true);
        c.neurons[5] = receiver();
    };
    net.add_core(0, 0, core_with(1, |c| c.neurons[0] = spike_once_to(255, 0, 9, 1))).unwrap();
    net.add_core(255, 0, core_with(2, listen)).unwrap();
    net.add_core(far, far, core_with(3, |c| c.neurons[0] = spike_once_to(-256, 0, 9, 2))).unwrap();
    net.add_core(
        far - 256,
        far,
        core_with(4, |c| {
            listen(c);
            c.neurons[1] = spike_once_to(0, -256, 9, 3);
        }),
    )
    .unwrap();
    net.add_core(far - 256, far - 256, core_with(5, listen)).unwrap();
    let inputs = [input(4, far, far, 9), input(4, 0, 0, 9)];
    let (out, _) = run_checked(&net, 6, &inputs);
    let c0 = out.counters[0];
    assert_eq!((c0.spikes, c0.spikes_delivered, c0.hops, c0.chip_crossings), (3, 3, 255 + 256 + 256, 3 + 4 + 4));
    let spikes = out.spikes.as_ref().unwrap();
    assert_eq!(spike_ticks(spikes, (255, 0), 5), vec![1]);
    assert_eq!(spike_ticks(spikes, (far as u32 - 256, far as u32), 5), vec![2]);
    assert_eq!(spike_ticks(spikes, (far as u32 - 256, far as u32 - 256), 5), vec![3]);
    // Inputs reach far cores; axon 9 is not connected there, so they are counted nowhere.
    assert_eq!(out.counters[4].synaptic_events, 0);
    assert!(diff_runs(&run_checked(&net, 6, &inputs), &reference_run(&net, 6, &inputs)).is_none());
    // Positions inside the bounding box but without a core are still missing.
    let mut sim = Simulator::new(&net, 1).unwrap();
    assert!(matches!(sim.run(1, &[input(0, 1, 1, 0)], false), Err(Error::Input(_))));
    assert!(matches!(sim.potentials(1, 1), Err(Error::Input(_))));
    assert!(sim.potentials(far, far).is_ok());
}

#[test]
fn empty_network_and_oversized_runs() {
    // A network without cores runs: every counter 0, no ports; inputs have nowhere to go.
    let net = Network::new((2, 2), None).unwrap();
    let mut sim = Simulator::new(&net, 2).unwrap();
    let out = sim.run(5, &[], true).unwrap();
    assert_eq!((out.output_ports, out.counters.len(), out.spikes.as_deref()), (0, 5, Some(&[][..])));
    assert!(out.counters.iter().all(|c| *c == Counters::default()));
    assert!(matches!(sim.run(1, &[input(5, 0, 0, 0)], false), Err(Error::Input(_))));
    // A run whose results could not be allocated is refused up front, not attempted.
    let mut sim = Simulator::new(&listening_core(), 1).unwrap();
    for ticks in [u64::MAX, 1 << 40] {
        assert!(matches!(sim.run(ticks, &[], false), Err(Error::Input(_))), "ticks {ticks}");
        assert_eq!(sim.tick(), 0);
    }
}

#[test]
fn potentials_are_stored_in_16_bits_where_they_stay_inside() {
    // alpha = 50, leak +1, normal reset to 0, clamp at -50: between ticks V lies in -50..=49,
    // so the core's potentials are stored in 16 bits (512 bytes fewer than 32); a linear reset
    // can leave V anywhere, so that core keeps 32 bits; a first potential outside 16 bits too.
    let neuron = NeuronParams { leak: 1, threshold: 50, negative_threshold: 50, ..quiet() };
    let with = |n: NeuronParams, v0: i32| {
        let neurons: Vec<NeuronParams> = (0..256)
            .map(|j| {
                let mut each = n;
                each.initial_potential = if j == 3 { v0 } else { j % 50 };
                each
            })
            .collect();
        one_core(|c| c.neurons.clone_from_slice(&neurons))
    };
    let bytes = |net: &Network| Simulator::new(net, 1).unwrap().memory_bytes();
    let narrow = with(neuron, 7);
    assert_eq!(bytes(&with(NeuronParams { reset_mode: Linear, ..neuron }, 7)), bytes(&narrow) + 512);
    assert_eq!(bytes(&with(neuron, 40_000)), bytes(&narrow) + 512);
    assert_eq!(bytes(&with(neuron, -32_768)), bytes(&narrow), "V0 fits 16 bits");

    // Every neuron's potential after each tick, from the narrow core, is the reference's.
    run_checked(&narrow, 120, &[]);
    let (v, spikes) = trace(&narrow, 60, &[], &[3]);
    assert_eq!(v[0][..4], [8, 9, 10, 11]);
    assert_eq!(spike_ticks(&spikes, (0, 0), 3), vec![42]);

    // Restoring a potential outside 16 bits into the narrow core keeps it exactly (the core is
    // stored in 32 bits from then on), and the next tick fires and resets it.
    let mut sim = Simulator::new(&narrow, 1).unwrap();
    sim.run(5, &[], false).unwrap();
    let mut state = sim.state();
    state.cores[0].potentials[3] = 40_000;
    state.cores[0].potentials[4] = -(1 << 19);
    sim.restore(&state).unwrap();
    assert_eq!(sim.memory_bytes(), bytes(&narrow) + 512);
    assert_eq!(sim.state(), state);
    let out = sim.run(1, &[], true).unwrap();
    assert_eq!(spike_ticks(out.spikes.as_ref().unwrap(), (0, 0), 3), vec![5]);
    let v = sim.potentials(0, 0).unwrap();
    assert_eq!((v[3], v[4]), (0, -50));
    // And a state that fits 16 bits again makes it narrow again.
    state.cores[0].potentials[3] = 0;
    state.cores[0].potentials[4] = 0;
    sim.restore(&state).unwrap();
    assert_eq!(sim.memory_bytes(), bytes(&narrow));
}
