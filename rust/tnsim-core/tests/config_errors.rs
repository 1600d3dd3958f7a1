//! Configuration errors (SPEC.md sections 1, 2 and 5; docs/semantics.md section 10): every
//! out-of-range field is an `Error::OutOfRange` naming the field (never clipped or wrapped),
//! and bad positions, duplicates, targets and target/port conflicts are `Error::Config`.

#![allow(clippy::needless_range_loop)] // index loops read like the SPEC's sums

mod common;

use common::*;
use tnsim_core::params::RawNeuron;
use tnsim_core::{CoreConfig, Error, Network, NeuronParams, Simulator};

/// The raw neuron layout with SPEC.md section 2's ranges, restated independently of the
/// engine's table: (raw index, field name, min, max). `output_port`'s 65535 is tnsim's limit.
const FIELDS: [(usize, &str, i64, i64); 23] = [
    (0, "weights", -255, 255),
    (1, "weights", -255, 255),
    (2, "weights", -255, 255),
    (3, "weights", -255, 255),
    (4, "stochastic_weights", 0, 1),
    (5, "stochastic_weights", 0, 1),
    (6, "stochastic_weights", 0, 1),
    (7, "stochastic_weights", 0, 1),
    (8, "leak", -255, 255),
    (9, "stochastic_leak", 0, 1),
    (10, "leak_reversal", 0, 1),
    (11, "threshold", 0, (1 << 18) - 1),
    (12, "negative_threshold", 0, (1 << 18) - 1),
    (13, "threshold_mask_bits", 0, 18),
    (14, "reset_value", -((1 << 18) - 1), (1 << 18) - 1),
    (15, "reset_mode", 0, 2),
    (16, "negative_saturation", 0, 1),
    (17, "initial_potential", -(1 << 19), (1 << 19) - 1),
    (18, "target_dx", -256, 255),
    (19, "target_dy", -256, 255),
    (20, "target_axon", -1, 255),
    (21, "target_delay", 1, 15),
    (22, "output_port", -1, 65_535),
];

fn default_raw() -> RawNeuron {
    NeuronParams::default().to_raw()
}

/// Build core (3, 4) whose neuron 17 is `raw` (the others default).
fn build(raw: RawNeuron) -> tnsim_core::Result<CoreConfig> {
    let mut neurons = vec![default_raw(); 256];
    neurons[17] = raw;
    CoreConfig::from_parts((3, 4), &vec![false; 256 * 256], &[0; 256], &neurons, 1)
}

#[test]
fn every_out_of_range_neuron_field_is_named() {
    for (idx, field, min, max) in FIELDS {
        for value in [min - 1, max + 1, i64::MIN, i64::MAX] {
            let mut raw = default_raw();
            raw[idx] = value;
            let err = build(raw).unwrap_err();
            match &err {
                Error::OutOfRange { x: 3, y: 4, neuron: Some(17), field: f, value: v, min: lo, max: hi } => {
                    assert_eq!((*f, *v, *lo, *hi), (field, value, min, max), "raw[{idx}] = {value}");
                }
                other => panic!("raw[{idx}] ({field}) = {value}: expected OutOfRange, got {other:?}"),
            }
            let msg = err.to_string();
            assert!(msg.contains(field) && msg.contains("core (3, 4)") && msg.contains("neuron 17"), "{msg}");
        }
    }
}

#[test]
fn every_neuron_field_accepts_its_bounds() {
    for (idx, field, min, max) in FIELDS {
        for value in [min, max] {
            let mut raw = default_raw();
            raw[idx] = value;
            let cfg = build(raw).unwrap_or_else(|e| panic!("{field} = {value} rejected: {e}"));
            // Stored as given, never clipped.
            assert_eq!(cfg.neurons[17].to_raw()[idx], value, "{field}");
        }
    }
}

#[test]
fn seed_range() {
    let neurons = vec![default_raw(); 256];
    let xbar = vec![false; 256 * 256];
    for bad in [-1, 1i64 << 32, i64::MIN] {
        match CoreConfig::from_parts((1, 2), &xbar, &[0; 256], &neurons, bad).unwrap_err() {
            Error::OutOfRange { field: "seed", value, neuron: None, .. } => assert_eq!(value, bad),
            other => panic!("seed {bad}: {other:?}"),
        }
    }
    for good in [0, u32::MAX as i64] {
        assert_eq!(CoreConfig::from_parts((1, 2), &xbar, &[0; 256], &neurons, good).unwrap().seed as i64, good);
    }
}

#[test]
fn axon_type_range() {
    let neurons = vec![default_raw(); 256];
    for bad in [-1, 4, i64::MAX] {
        let mut types = [0i64; 256];
        types[200] = bad;
        match CoreConfig::from_parts((0, 0), &vec![false; 256 * 256], &types, &neurons, 1).unwrap_err() {
            Error::AxonOutOfRange { axon: 200, field: "axon_types", value, .. } => assert_eq!(value, bad),
            other => panic!("axon type {bad}: {other:?}"),
        }
    }
}

#[test]
fn wrong_shapes_are_config_errors() {
    let neurons = vec![default_raw(); 256];
    let xbar = vec![false; 256 * 256];
    let cases = [
        ("crossbar", CoreConfig::from_parts((0, 0), &xbar[1..], &[0; 256], &neurons, 1)),
        ("axon_types", CoreConfig::from_parts((0, 0), &xbar, &[0; 255], &neurons, 1)),
        ("neurons", CoreConfig::from_parts((0, 0), &xbar, &[0; 256], &neurons[..255], 1)),
    ];
    for (field, r) in cases {
        match r {
            Err(Error::Config(msg)) => assert!(msg.contains(field), "{msg}"),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn crossbar_from_parts_is_axon_major() {
    // Entry (axon i, neuron j) of the row-major crossbar lands at w[i][j].
    let mut xbar = vec![false; 256 * 256];
    xbar[7 * 256 + 200] = true;
    let cfg = CoreConfig::from_parts((0, 0), &xbar, &[0; 256], &vec![default_raw(); 256], 1).unwrap();
    assert!(cfg.connected(7, 200) && !cfg.connected(200, 7));
    assert_eq!(cfg.crossbar_axon_major(), xbar);
}

#[test]
fn axon_target_with_output_port_is_a_conflict() {
    let mut raw = default_raw();
    raw[20] = 5; // target_axon
    raw[22] = 0; // output_port
    match build(raw).unwrap_err() {
        Error::Config(msg) => assert!(msg.contains("output_port") && msg.contains("target_axon"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn chips_and_output_port_counts() {
    for chips in [(0, 1), (1, 0), (-1, 1), (257, 1), (1, 257)] {
        assert!(matches!(Network::new(chips, None), Err(Error::Config(_))), "chips {chips:?}");
    }
    assert_eq!(Network::new((256, 256), None).unwrap().grid(), (256 * 64, 256 * 64));
    for ports in [-1, 65_537, i64::MIN] {
        assert!(matches!(Network::new((1, 1), Some(ports)), Err(Error::Config(_))), "ports {ports}");
    }
    for ports in [0, 65_536] {
        assert!(Network::new((1, 1), Some(ports)).is_ok());
    }
}

#[test]
fn positions_off_the_grid_and_duplicates() {
    let mut net = Network::new((2, 1), None).unwrap();
    for (x, y) in [(128, 0), (0, 64), (-1, 0), (0, -1), (i64::MAX, 0)] {
        match net.add_core(x, y, CoreConfig::empty(1)) {
            Err(Error::Config(msg)) => assert!(msg.contains("off the grid"), "({x}, {y}): {msg}"),
            other => panic!("({x}, {y}): {other:?}"),
        }
    }
    net.add_core(127, 63, CoreConfig::empty(1)).unwrap();
    match net.add_core(127, 63, CoreConfig::empty(2)) {
        Err(Error::Config(msg)) => assert!(msg.contains("duplicate"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.num_cores(), 1);
    assert_eq!(net.core(127, 63).unwrap().seed, 1, "the duplicate must not replace the first core");
}

#[test]
fn output_port_beyond_an_explicit_count() {
    let mut net = Network::new((1, 1), Some(2)).unwrap();
    let cfg = core_with(1, |c| c.neurons[9].output_port = 2);
    match net.add_core(0, 0, cfg) {
        Err(Error::Config(msg)) => assert!(msg.contains("output_port") && msg.contains("neuron 9"), "{msg}"),
        other => panic!("{other:?}"),
    }
    net.add_core(0, 0, core_with(1, |c| c.neurons[9].output_port = 1)).unwrap();
}

/// A network with cores at `at`, where neuron 4 of the first core targets (dx, dy).
fn targeting(chips: (i64, i64), at: &[(i64, i64)], dx: i32, dy: i32) -> Network {
    let mut net = Network::new(chips, None).unwrap();
    for (k, &(x, y)) in at.iter().enumerate() {
        let cfg = core_with(1, |c| {
            if k == 0 {
                c.neurons[4] = NeuronParams { target_dx: dx, target_dy: dy, target_axon: 0, ..quiet() };
            }
        });
        net.add_core(x, y, cfg).unwrap();
    }
    net
}

#[test]
fn targets_off_the_grid_or_on_empty_positions() {
    let bad = [
        ("off the grid", targeting((1, 1), &[(0, 0)], -1, 0)),
        ("off the grid", targeting((1, 1), &[(0, 0)], 0, -1)),
        ("off the grid", targeting((1, 1), &[(63, 0)], 1, 0)),
        ("off the grid", targeting((2, 1), &[(127, 63)], 0, 1)),
        ("off the grid", targeting((1, 1), &[(0, 0)], 255, 255)),
        ("empty position", targeting((1, 1), &[(0, 0)], 1, 0)),
        ("empty position", targeting((2, 1), &[(63, 0), (65, 0)], 1, 0)),
        ("empty position", targeting((2, 2), &[(0, 0), (64, 64)], 64, 63)),
    ];
    for (what, net) in bad {
        for r in [net.validate().map(|_| ()), Simulator::new(&net, 1).map(|_| ())] {
            match r {
                Err(Error::Config(msg)) => {
                    assert!(msg.contains(what) && msg.contains("neuron 4") && msg.contains("target"), "{msg}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }
    // The same targets are fine when the core is there, across chips too.
    assert!(Simulator::new(&targeting((2, 1), &[(63, 0), (64, 0)], 1, 0), 1).is_ok());
    assert!(Simulator::new(&targeting((2, 2), &[(0, 0), (64, 63)], 64, 63), 1).is_ok());
}

#[test]
fn target_fields_without_an_axon_target_are_ignored() {
    // SPEC.md section 1: the other target fields of a neuron without an axon target are
    // ignored, so an off-grid (dx, dy) is no error there, with or without an output port.
    let net = one_core(|c| {
        c.neurons[0] = NeuronParams { target_dx: 255, target_dy: -256, target_delay: 15, ..quiet() };
        c.neurons[1] =
            NeuronParams { target_dx: -256, target_dy: 255, output_port: 0, initial_potential: 1, ..quiet() };
    });
    let mut sim = Simulator::new(&net, 1).unwrap();
    let out = sim.run(2, &[], true).unwrap();
    assert_eq!(out.output_counts, vec![1, 0]);
    assert_eq!(out.counters[0].hops, 0);
}

/// SPEC.md section 2: "A value out of its range is an error at configuration time, never
/// silently clipped or wrapped"; DESIGN.md: "Bad input never panics". `CoreConfig`'s fields
/// are public, so a Rust caller can build a core without `from_parts`; `Network::add_core`
/// (or at the latest `Simulator::new`) must then still reject out-of-range values instead of
/// panicking or misreading them.
#[test]
fn hand_built_out_of_range_cores_are_rejected_not_run() {
    type Setup = fn(&mut CoreConfig);
    let cases: [(&str, Setup); 9] = [
        ("target_delay = 0", |c| c.neurons[0] = NeuronParams { target_axon: 0, target_delay: 0, ..quiet() }),
        ("target_delay = 16", |c| c.neurons[0] = NeuronParams { target_axon: 0, target_delay: 16, ..quiet() }),
        ("axon_types = 4", |c| c.axon_types[0] = 4),
        ("threshold_mask_bits = 40", |c| c.neurons[0].threshold_mask_bits = 40),
        ("weights = 1000", |c| c.neurons[0].weights[0] = 1000),
        ("initial_potential = i32::MAX", |c| c.neurons[0].initial_potential = i32::MAX),
        ("threshold = -5", |c| c.neurons[0].threshold = -5),
        ("target_axon = 300", |c| c.neurons[0] = NeuronParams { target_axon: 300, ..quiet() }),
        ("target_axon and output_port", |c| c.neurons[0] = NeuronParams { target_axon: 0, output_port: 0, ..quiet() }),
    ];
    let mut failures = Vec::new();
    for (what, setup) in cases {
        let outcome = std::panic::catch_unwind(|| {
            let mut net = Network::new((1, 1), None).unwrap();
            if net.add_core(0, 0, core_with(1, setup)).is_err() {
                return Ok(());
            }
            match Simulator::new(&net, 1) {
                Err(_) => Ok(()),
                Ok(mut sim) => Err(match sim.run(20, &[], false) {
                    Ok(_) => "accepted and ran".to_string(),
                    Err(e) => format!("accepted, then run failed: {e}"),
                }),
            }
        });
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(how)) => failures.push(format!("{what}: {how}")),
            Err(_) => failures.push(format!("{what}: panicked")),
        }
    }
    assert!(failures.is_empty(), "out-of-range hand-built cores not rejected:\n  {}", failures.join("\n  "));
}
