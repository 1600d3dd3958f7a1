//! The native file format (docs/file-format.md): round trips, the header layout, and corrupt
//! input, which must always give an `Err` (an `Error::Format`), never a panic.

#![allow(clippy::needless_range_loop)] // index loops read like the SPEC's sums

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use proptest::prelude::*;
use tnsim_core::format::{self, crc32, network_from_bytes, network_to_bytes};
use tnsim_core::{Error, EvalMode, Network, NeuronParams, ResetMode};

const HEADER: usize = 8 + 4 + 8;
const CORE_RECORD: usize = 18_700;
const NEURON_RECORD: usize = 40;

/// A small network: one core at (1, 2) of a 1x1 system, 3 explicit output ports, UTF-8
/// metadata, and neurons with negative and extreme values in every field.
fn small_network() -> Network {
    let mut net = Network::new((1, 1), Some(3)).unwrap();
    net.metadata = "{\"name\": \"petit réseau\", \"µ\": 1}".into();
    let cfg = core_with(0xDEAD_BEEF, |c| {
        for i in 0..256 {
            c.axon_types[i] = (i * 7 % 4) as u8;
        }
        for (i, j) in [(0, 0), (255, 255), (63, 64), (64, 63), (128, 1), (1, 128)] {
            c.set_connected(i, j, true);
        }
        c.neurons[0] = NeuronParams {
            weights: [-255, 255, 0, -1],
            stochastic_weights: [true, false, true, false],
            leak: -255,
            stochastic_leak: true,
            leak_reversal: true,
            threshold: THR_MAX,
            negative_threshold: 0,
            threshold_mask_bits: 18,
            reset_value: -THR_MAX,
            reset_mode: ResetMode::NonReset,
            negative_saturation: false,
            initial_potential: V_MIN,
            target_dx: -1,
            target_dy: -2,
            target_axon: 255,
            target_delay: 15,
            output_port: -1,
        };
        c.neurons[1] =
            NeuronParams { initial_potential: V_MAX, output_port: 2, reset_mode: ResetMode::Linear, ..quiet() };
        c.neurons[255] =
            NeuronParams { target_dx: 255, target_dy: -256, target_delay: 1, reset_value: THR_MAX, ..quiet() };
    });
    net.add_core(1, 2, cfg).unwrap();
    net
}

/// Parse, turning a panic into a test failure that names `what`.
fn parse(bytes: &[u8], what: &str) -> tnsim_core::Result<Network> {
    match catch_unwind(AssertUnwindSafe(|| network_from_bytes(bytes))) {
        Ok(r) => r,
        Err(_) => panic!("network_from_bytes panicked on {what}"),
    }
}

/// Replace the trailing CRC so that the payload checks out again.
fn fix_crc(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = crc32(&bytes[HEADER..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn crc32_is_the_ieee_one() {
    // The standard check value of CRC-32/ISO-HDLC (zlib's crc32).
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn header_layout() {
    let net = small_network();
    let bytes = network_to_bytes(&net);
    assert_eq!(&bytes[..8], b"TNSIMNET");
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 1);
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - HEADER - 4);
    let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(crc, crc32(&bytes[HEADER..bytes.len() - 4]));
    // Payload: chips 1, 1; ports 3; metadata; 1 core of 18,700 bytes.
    let p = &bytes[HEADER..];
    assert_eq!(&p[..16], &[1, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    let meta = net.metadata.len();
    assert_eq!(u32::from_le_bytes(p[16..20].try_into().unwrap()) as usize, meta);
    assert_eq!(&p[20..20 + meta], net.metadata.as_bytes());
    assert_eq!(u32::from_le_bytes(p[20 + meta..24 + meta].try_into().unwrap()), 1);
    assert_eq!(len, 24 + meta + CORE_RECORD);
    // The core record starts with x, y, seed.
    let c = &p[24 + meta..];
    assert_eq!(&c[..12], &[1, 0, 0, 0, 2, 0, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE]);
}

#[test]
fn crossbar_layout_is_as_documented() {
    // docs/file-format.md: the crossbar is 256 rows of [u64; 4], row i for axon i, bit j of
    // word j / 64 set when axon i connects to neuron j. small_network connects (axon, neuron)
    // (0, 0), (255, 255), (63, 64), (64, 63), (128, 1), (1, 128) and nothing else.
    let net = small_network();
    let bytes = network_to_bytes(&net);
    let start = HEADER + 24 + net.metadata.len() + 12 + 256;
    let xbar = &bytes[start..start + 256 * 32];
    let bit = |i: usize, j: usize| xbar[i * 32 + (j / 64) * 8 + (j % 64) / 8] >> (j % 8) & 1 == 1;
    let mut set = 0;
    for i in 0..256 {
        for j in 0..256 {
            assert_eq!(bit(i, j), net.core(1, 2).unwrap().connected(i, j), "axon {i}, neuron {j}");
            set += bit(i, j) as usize;
        }
    }
    assert_eq!(set, 6);
    assert!(bit(63, 64) && !bit(64, 64));
}

#[test]
fn round_trip_small_and_empty() {
    for net in [small_network(), Network::new((3, 2), None).unwrap()] {
        let bytes = network_to_bytes(&net);
        let back = network_from_bytes(&bytes).unwrap();
        assert_eq!(back, net);
        assert_eq!(network_to_bytes(&back), bytes);
    }
}

#[test]
fn save_and_load_through_a_file() {
    let dir = std::env::temp_dir().join(format!("tnsim-format-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.tnsim");
    let net = small_network();
    format::save_network(&net, &path).unwrap();
    assert_eq!(format::load_network(&path).unwrap(), net);
    // Overwrite in place; no temporary file is left behind.
    let empty = Network::new((1, 1), None).unwrap();
    format::save_network(&empty, &path).unwrap();
    assert_eq!(format::load_network(&path).unwrap(), empty);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("net.tnsim")]);
    // A missing file is an I/O error.
    assert!(matches!(format::load_network(&dir.join("missing.tnsim")), Err(Error::Io { .. })));
    // A file that is not a network: the message names the file.
    let other = dir.join("notes.txt");
    std::fs::write(&other, b"not a network at all").unwrap();
    for err in [format::load_network(&other).unwrap_err(), format::load_state(&other).unwrap_err()] {
        assert!(
            matches!(&err, Error::Format(m) if m.starts_with(&format!("{}: not a tnsim", other.display()))),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(proptest_config(16))]

    /// Random networks survive the round trip, and so do their runs.
    #[test]
    fn round_trip_random_networks(s in scenario()) {
        let net = s.network();
        let bytes = network_to_bytes(&net);
        let back = network_from_bytes(&bytes).unwrap();
        prop_assert!(back == net);
        prop_assert!(network_to_bytes(&back) == bytes);
        let a = run_engine(&net, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        let b = run_engine(&back, 1, EvalMode::Fast, s.ticks, &s.inputs, true);
        prop_assert!(diff_runs(&a, &b).is_none());
    }
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = network_to_bytes(&small_network());
    for len in 0..bytes.len() {
        match parse(&bytes[..len], &format!("a prefix of {len} bytes")) {
            Err(Error::Format(_)) => {}
            other => panic!("prefix of {len} bytes: {:?}", other.map(|_| "Ok")),
        }
    }
    // And trailing bytes.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(parse(&longer, "a trailing byte"), Err(Error::Format(_))));
}

#[test]
fn every_flipped_byte_is_an_error() {
    let bytes = network_to_bytes(&small_network());
    for mask in [0x01u8, 0xFF] {
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            match parse(&bad, &format!("byte {i} ^ {mask:#x}")) {
                Err(Error::Format(_)) => {}
                other => panic!("byte {i} ^ {mask:#x}: {:?}", other.map(|_| "Ok")),
            }
        }
    }
}

#[test]
fn flipped_bytes_behind_a_valid_checksum_never_panic() {
    // With the CRC fixed up, the parser's own checks are all that stand between a corrupt
    // payload and the engine: every result must be an Err, or a network that round-trips.
    let bytes = network_to_bytes(&small_network());
    let payload_end = bytes.len() - 4;
    // Every byte of the payload header, the core's position, seed and axon types and its
    // first three neuron records (where a flip can make a value invalid), then every 13th
    // byte (the crossbar takes any value).
    let meta = small_network().metadata.len();
    let xbar = HEADER + 24 + meta + 12 + 256;
    let neurons = xbar + 256 * 32;
    let dense = |i: usize| i < xbar || (neurons..neurons + 3 * NEURON_RECORD).contains(&i);
    let positions: Vec<usize> = (HEADER..payload_end).filter(|&i| dense(i) || i % 13 == 0).collect();
    let (mut ok, mut err) = (0, 0);
    for &i in &positions {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            fix_crc(&mut bad);
            match parse(&bad, &format!("payload byte {i} ^ {mask:#x} with a fixed CRC")) {
                Ok(net) => {
                    ok += 1;
                    assert_eq!(network_from_bytes(&network_to_bytes(&net)).unwrap(), net);
                }
                Err(_) => err += 1,
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}

/// The payload offset of field `offset` of neuron `j` of the first core of `small_network`.
fn neuron_field(j: usize, offset: usize) -> usize {
    HEADER + 24 + small_network().metadata.len() + 12 + 256 + 256 * 32 + j * NEURON_RECORD + offset
}

#[test]
fn out_of_range_values_in_a_file_are_format_errors_naming_the_field() {
    let bytes = network_to_bytes(&small_network());
    // (offset in the neuron record, little-endian bytes to write, field name)
    let cases: &[(usize, &[u8], &str)] = &[
        (0, &256i16.to_le_bytes(), "weights"),
        (6, &(-256i16).to_le_bytes(), "weights"),
        (9, &256i16.to_le_bytes(), "leak"),
        (11, &(1i32 << 18).to_le_bytes(), "threshold"),
        (15, &(-1i32).to_le_bytes(), "negative_threshold"),
        (19, &[19], "threshold_mask_bits"),
        (20, &(1i32 << 18).to_le_bytes(), "reset_value"),
        (24, &[3], "reset_mode"),
        (25, &(1i32 << 19).to_le_bytes(), "initial_potential"),
        (29, &256i16.to_le_bytes(), "target_dx"),
        (31, &(-257i16).to_le_bytes(), "target_dy"),
        (33, &256i16.to_le_bytes(), "target_axon"),
        (35, &[0], "target_delay"),
        (35, &[16], "target_delay"),
        (36, &(65_536i32).to_le_bytes(), "output_port"),
    ];
    for &(off, value, field) in cases {
        let mut bad = bytes.clone();
        let at = neuron_field(2, off);
        bad[at..at + value.len()].copy_from_slice(value);
        fix_crc(&mut bad);
        match parse(&bad, field) {
            Err(Error::Format(msg)) => assert!(msg.contains(field) && msg.contains("neuron 2"), "{field}: {msg}"),
            other => panic!("{field}: {:?}", other.map(|_| "Ok")),
        }
    }
    // Flag bit 7 is reserved.
    let mut bad = bytes.clone();
    bad[neuron_field(2, 8)] |= 0x80;
    fix_crc(&mut bad);
    assert!(matches!(parse(&bad, "flag bit 7"), Err(Error::Format(_))));
    // An axon type of 4.
    let mut bad = bytes.clone();
    bad[HEADER + 24 + small_network().metadata.len() + 12 + 9] = 4;
    fix_crc(&mut bad);
    match parse(&bad, "axon type 4") {
        Err(Error::Format(msg)) => assert!(msg.contains("axon_types"), "{msg}"),
        other => panic!("{:?}", other.map(|_| "Ok")),
    }
}

#[test]
fn bad_header_values_behind_a_valid_checksum_are_format_errors() {
    // docs/file-format.md: "any problem is a tnsim.FormatError". Payload offsets: chips_x 0,
    // chips_y 4, output_ports 8, metadata_len 16, metadata 20, core_count 20 + meta.
    let bytes = network_to_bytes(&small_network());
    let meta = small_network().metadata.len();
    let p = HEADER;
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        ("chips_x = 0", p, 0u32.to_le_bytes().to_vec()),
        ("chips_y = 257", p + 4, 257u32.to_le_bytes().to_vec()),
        ("output_ports = -2", p + 8, (-2i64).to_le_bytes().to_vec()),
        ("output_ports = 65537", p + 8, 65_537i64.to_le_bytes().to_vec()),
        ("output_ports = 2 (below the port 2 in use)", p + 8, 2i64.to_le_bytes().to_vec()),
        ("metadata_len too large", p + 16, (meta as u32 + 1).to_le_bytes().to_vec()),
        ("metadata_len = u32::MAX", p + 16, u32::MAX.to_le_bytes().to_vec()),
        ("invalid UTF-8 metadata", p + 20, vec![0xFF]),
        ("core_count = 2", p + 20 + meta, 2u32.to_le_bytes().to_vec()),
        ("core_count = 0", p + 20 + meta, 0u32.to_le_bytes().to_vec()),
        ("core_count = u32::MAX", p + 20 + meta, u32::MAX.to_le_bytes().to_vec()),
        ("core x off the grid", p + 24 + meta, 64u32.to_le_bytes().to_vec()),
        ("core y = u32::MAX", p + 28 + meta, u32::MAX.to_le_bytes().to_vec()),
    ];
    let mut failures = Vec::new();
    for (what, at, value) in cases {
        let mut bad = bytes.clone();
        bad[at..at + value.len()].copy_from_slice(&value);
        fix_crc(&mut bad);
        match parse(&bad, what) {
            Err(Error::Format(_)) => {}
            other => failures.push(format!("{what}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "not a Format error:\n{}", failures.join("\n"));
}

#[test]
fn duplicate_cores_in_a_file_are_rejected() {
    // Two copies of the same core record under one header.
    let mut net = Network::new((1, 1), None).unwrap();
    net.add_core(0, 0, core_with(5, |_| {})).unwrap();
    let one = network_to_bytes(&net);
    let record = one[one.len() - 4 - CORE_RECORD..one.len() - 4].to_vec();
    let mut payload = one[HEADER..one.len() - 4 - CORE_RECORD].to_vec();
    let n = payload.len();
    payload[n - 4..].copy_from_slice(&2u32.to_le_bytes());
    payload.extend_from_slice(&record);
    payload.extend_from_slice(&record);
    let mut bytes = one[..12].to_vec();
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&payload);
    bytes.extend_from_slice(&crc32(&payload).to_le_bytes());
    match parse(&bytes, "duplicate cores") {
        Err(Error::Format(msg)) => assert!(msg.contains("duplicate"), "{msg}"),
        other => panic!("{:?}", other.map(|_| "Ok")),
    }
}

#[test]
fn wrong_magic_and_version() {
    let bytes = network_to_bytes(&small_network());
    let mut bad = bytes.clone();
    bad[..8].copy_from_slice(b"TNSIMNEX");
    match parse(&bad, "wrong magic") {
        Err(Error::Format(msg)) => assert!(msg.contains("TNSIMNET"), "{msg}"),
        other => panic!("{:?}", other.map(|_| "Ok")),
    }
    for version in [0u32, 2, u32::MAX] {
        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&version.to_le_bytes());
        match parse(&bad, "wrong version") {
            Err(Error::Format(msg)) => assert!(msg.contains("version") && msg.contains(&version.to_string()), "{msg}"),
            other => panic!("{:?}", other.map(|_| "Ok")),
        }
    }
    // A huge payload length.
    let mut bad = bytes.clone();
    bad[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(parse(&bad, "payload_len = u64::MAX"), Err(Error::Format(_))));
    // Not a file at all.
    for junk in [&b""[..], b"TNSIMNET", b"hello, world, this is not a network file"] {
        assert!(matches!(parse(junk, "junk"), Err(Error::Format(_))));
    }
}
