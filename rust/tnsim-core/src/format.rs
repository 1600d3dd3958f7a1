//! The native network file format (`.tnsim`), version 1. Documented in docs/file-format.md.
//!
//! ```text
//! magic        8 bytes  "TNSIMNET"
//! version      u32      1
//! payload_len  u64      bytes of payload that follow
//! payload      ...      (below)
//! crc32        u32      CRC-32 (IEEE) of the payload
//! ```
//! Payload (all integers little-endian):
//! ```text
//! chips_x u32, chips_y u32, output_ports i64 (-1: implicit), metadata_len u32, metadata (UTF-8)
//! core_count u32, then per core (sorted by x, then y):
//!   x u32, y u32, seed u32, axon_types [u8; 256], crossbar [u64; 4] x 256 (axon i's row,
//!   bit j = neuron j), then 256 neuron records of NEURON_RECORD bytes:
//!   weights i16 x4, flags u8 (bits 0-3 stochastic_weights[G], 4 stochastic_leak,
//!   5 leak_reversal, 6 negative_saturation), leak i16, threshold i32, negative_threshold i32,
//!   threshold_mask_bits u8, reset_value i32, reset_mode u8, initial_potential i32,
//!   target_dx i16, target_dy i16, target_axon i16, target_delay u8, output_port i32
//! ```
//! Every value read is checked exactly as a value given through the API; a file is written to
//! a temporary name and renamed into place, so a crash never leaves a partial file behind.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::network::Network;
use crate::params::{CoreConfig, NeuronParams, AXONS, AXON_TYPES, NEURONS, SLOTS};
use crate::simulator::{CoreSnapshot, SimState};

pub const MAGIC: &[u8; 8] = b"TNSIMNET";
pub const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8;
const NEURON_RECORD: usize = 8 + 1 + 2 + 4 + 4 + 1 + 4 + 1 + 4 + 2 + 2 + 2 + 1 + 4;
const CORE_RECORD: usize = 12 + AXONS + NEURONS * 32 + NEURONS * NEURON_RECORD;
/// Largest metadata accepted (a sanity bound against hostile files).
const METADATA_MAX: usize = 64 << 20;

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Serialise a network to bytes.
pub fn network_to_bytes(net: &Network) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + net.num_cores() * CORE_RECORD + net.metadata.len());
    let (cx, cy) = net.chips();
    p.extend_from_slice(&cx.to_le_bytes());
    p.extend_from_slice(&cy.to_le_bytes());
    p.extend_from_slice(&net.explicit_output_ports().map_or(-1i64, |k| k as i64).to_le_bytes());
    p.extend_from_slice(&(net.metadata.len() as u32).to_le_bytes());
    p.extend_from_slice(net.metadata.as_bytes());
    p.extend_from_slice(&(net.num_cores() as u32).to_le_bytes());
    for (&(x, y), core) in net.cores() {
        for v in [x, y, core.seed] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(&core.axon_types);
        for row in core.rows.iter() {
            for w in row {
                p.extend_from_slice(&w.to_le_bytes());
            }
        }
        for n in core.neurons.iter() {
            for w in n.weights {
                p.extend_from_slice(&(w as i16).to_le_bytes());
            }
            let mut flags = 0u8;
            for g in 0..AXON_TYPES {
                flags |= (n.stochastic_weights[g] as u8) << g;
            }
            flags |= (n.stochastic_leak as u8) << 4 | (n.leak_reversal as u8) << 5 | (n.negative_saturation as u8) << 6;
            p.push(flags);
            p.extend_from_slice(&(n.leak as i16).to_le_bytes());
            p.extend_from_slice(&n.threshold.to_le_bytes());
            p.extend_from_slice(&n.negative_threshold.to_le_bytes());
            p.push(n.threshold_mask_bits);
            p.extend_from_slice(&n.reset_value.to_le_bytes());
            p.push(n.reset_mode as u8);
            p.extend_from_slice(&n.initial_potential.to_le_bytes());
            p.extend_from_slice(&(n.target_dx as i16).to_le_bytes());
            p.extend_from_slice(&(n.target_dy as i16).to_le_bytes());
            p.extend_from_slice(&(n.target_axon as i16).to_le_bytes());
            p.push(n.target_delay);
            p.extend_from_slice(&(n.output_port as i32).to_le_bytes());
        }
    }
    wrap(MAGIC, VERSION, &p)
}

/// A bounds-checked little-endian reader that names what it was reading when data ran out.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.data.len() - self.pos < n {
            return Err(Error::Format(format!(
                "network file is truncated: {what} needs {n} bytes at payload offset {}, {} left",
                self.pos,
                self.data.len() - self.pos
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_le_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
}

/// Parse a network from bytes, checking the header, the checksum and every value.
pub fn network_from_bytes(data: &[u8]) -> Result<Network> {
    let payload = unwrap(data, MAGIC, VERSION, "network")?;
    let mut r = Reader { data: payload, pos: 0 };
    let cx = r.u32("chips_x")?;
    let cy = r.u32("chips_y")?;
    let ports = r.i64("output_ports")?;
    if ports < -1 {
        return Err(Error::Format(format!("network file: output_ports = {ports} is invalid")));
    }
    let mut net = Network::new((cx as i64, cy as i64), (ports >= 0).then_some(ports))
        .map_err(|e| Error::Format(format!("network file: {e}")))?;
    let meta_len = r.u32("metadata length")? as usize;
    if meta_len > METADATA_MAX {
        return Err(Error::Format(format!("network file: metadata of {meta_len} bytes exceeds {METADATA_MAX}")));
    }
    net.metadata = String::from_utf8(r.take(meta_len, "metadata")?.to_vec())
        .map_err(|_| Error::Format("network file: metadata is not valid UTF-8".into()))?;
    let count = r.u32("core count")? as usize;
    if count.saturating_mul(CORE_RECORD) != payload.len() - r.pos {
        return Err(Error::Format(format!(
            "network file: {count} cores need {} bytes, {} are left",
            count.saturating_mul(CORE_RECORD),
            payload.len() - r.pos
        )));
    }
    for _ in 0..count {
        let x = r.u32("core x")?;
        let y = r.u32("core y")?;
        let seed = r.u32("core seed")?;
        let mut cfg = CoreConfig::empty(seed);
        cfg.axon_types.copy_from_slice(r.take(AXONS, "axon_types")?);
        for row in cfg.rows.iter_mut() {
            for word in row.iter_mut() {
                *word = r.u64("crossbar")?;
            }
        }
        for j in 0..NEURONS {
            let mut raw = [0i64; crate::params::RAW_NEURON_LEN];
            for w in raw.iter_mut().take(AXON_TYPES) {
                *w = r.i16("weights")? as i64;
            }
            let flags = r.u8("flags")?;
            if flags & 0x80 != 0 {
                return Err(Error::Format(format!(
                    "network file: core ({x}, {y}) has unknown neuron flag bits {flags:#x}"
                )));
            }
            for g in 0..AXON_TYPES {
                raw[4 + g] = (flags >> g & 1) as i64;
            }
            raw[8] = r.i16("leak")? as i64;
            raw[9] = (flags >> 4 & 1) as i64;
            raw[10] = (flags >> 5 & 1) as i64;
            raw[11] = r.i32("threshold")? as i64;
            raw[12] = r.i32("negative_threshold")? as i64;
            raw[13] = r.u8("threshold_mask_bits")? as i64;
            raw[14] = r.i32("reset_value")? as i64;
            raw[15] = r.u8("reset_mode")? as i64;
            raw[16] = (flags >> 6 & 1) as i64;
            raw[17] = r.i32("initial_potential")? as i64;
            raw[18] = r.i16("target_dx")? as i64;
            raw[19] = r.i16("target_dy")? as i64;
            raw[20] = r.i16("target_axon")? as i64;
            raw[21] = r.u8("target_delay")? as i64;
            raw[22] = r.i32("output_port")? as i64;
            cfg.neurons[j] =
                NeuronParams::from_raw(&raw, (x, y), j).map_err(|e| Error::Format(format!("network file: {e}")))?;
        }
        // `add_core` checks the axon types and the rest, as for any core.
        net.add_core(x as i64, y as i64, cfg).map_err(|e| Error::Format(format!("network file: {e}")))?;
    }
    Ok(net)
}

pub const STATE_MAGIC: &[u8; 8] = b"TNSIMSTA";
pub const STATE_VERSION: u32 = 1;
const SNAPSHOT_RECORD: usize = 12 + NEURONS * 4 + SLOTS * 32;

/// Serialise a simulation state with its network (see docs/file-format.md, "State files").
pub fn state_to_bytes(net: &Network, state: &SimState) -> Vec<u8> {
    let net_bytes = network_to_bytes(net);
    let mut p = Vec::with_capacity(8 + net_bytes.len() + 12 + state.cores.len() * SNAPSHOT_RECORD);
    p.extend_from_slice(&(net_bytes.len() as u64).to_le_bytes());
    p.extend_from_slice(&net_bytes);
    p.extend_from_slice(&state.tick.to_le_bytes());
    p.extend_from_slice(&(state.cores.len() as u32).to_le_bytes());
    for c in &state.cores {
        for v in [c.x, c.y, c.prng] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        for v in c.potentials {
            p.extend_from_slice(&v.to_le_bytes());
        }
        for slot in &c.scheduler {
            for w in slot {
                p.extend_from_slice(&w.to_le_bytes());
            }
        }
    }
    wrap(STATE_MAGIC, STATE_VERSION, &p)
}

/// Parse a state file: its network and the state, every part checked.
pub fn state_from_bytes(data: &[u8]) -> Result<(Network, SimState)> {
    let payload = unwrap(data, STATE_MAGIC, STATE_VERSION, "state")?;
    let mut r = Reader { data: payload, pos: 0 };
    let net_len = r.u64("network length")?;
    if net_len > (payload.len() - r.pos) as u64 {
        return Err(Error::Format(format!("state file: network of {net_len} bytes exceeds the file")));
    }
    let net = network_from_bytes(r.take(net_len as usize, "network")?)?;
    let tick = r.u64("tick")?;
    let count = r.u32("core count")? as usize;
    if count != net.num_cores() || count.saturating_mul(SNAPSHOT_RECORD) != payload.len() - r.pos {
        return Err(Error::Format(format!(
            "state file: {count} core states for a network of {} cores in {} bytes",
            net.num_cores(),
            payload.len() - r.pos
        )));
    }
    let mut cores = Vec::with_capacity(count);
    for _ in 0..count {
        let (x, y, prng) = (r.u32("core x")?, r.u32("core y")?, r.u32("prng")?);
        let mut potentials = [0i32; NEURONS];
        for v in potentials.iter_mut() {
            *v = r.i32("potential")?;
        }
        let mut scheduler = [[0u64; 4]; SLOTS];
        for slot in scheduler.iter_mut() {
            for w in slot.iter_mut() {
                *w = r.u64("scheduler")?;
            }
        }
        cores.push(CoreSnapshot { x, y, potentials, scheduler, prng });
    }
    Ok((net, SimState { tick, cores }))
}

/// Save a simulator's state and network to `path`, atomically.
pub fn save_state(net: &Network, state: &SimState, path: &Path) -> Result<()> {
    write_atomically(path, &state_to_bytes(net, state))
}

pub fn load_state(path: &Path) -> Result<(Network, SimState)> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    state_from_bytes(&data).map_err(|e| in_file(path, e))
}

/// Frame a payload: magic, version, length, payload, CRC-32.
fn wrap(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len() + 4);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out
}

/// Check a frame's magic, version, length and checksum; return the payload.
fn unwrap<'a>(data: &'a [u8], magic: &[u8; 8], version: u32, what: &str) -> Result<&'a [u8]> {
    if data.len() < HEADER || &data[..8] != magic {
        return Err(Error::Format(format!(
            "not a tnsim {what} file (missing the {} magic bytes)",
            String::from_utf8_lossy(magic)
        )));
    }
    let mut h = Reader { data, pos: 8 };
    let found = h.u32("version")?;
    if found != version {
        return Err(Error::Format(format!(
            "{what} file format version {found} is not supported (this tnsim reads version {version})"
        )));
    }
    let len = h.u64("payload length")?;
    if data.len() < HEADER + 4 || len != (data.len() - HEADER - 4) as u64 {
        return Err(Error::Format(format!(
            "{what} file is truncated or has trailing bytes: header says {len} payload bytes, file has {}",
            data.len().saturating_sub(HEADER + 4)
        )));
    }
    let payload = &data[HEADER..HEADER + len as usize];
    let stored = u32::from_le_bytes(data[HEADER + len as usize..].try_into().expect("4 bytes"));
    if crc32(payload) != stored {
        return Err(Error::Format(format!("{what} file is corrupt: checksum mismatch")));
    }
    Ok(payload)
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::io(path, &e);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.display().to_string(),
        message: "not a file path".into(),
        errno: None,
    })?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

pub fn save_network(net: &Network, path: &Path) -> Result<()> {
    write_atomically(path, &network_to_bytes(net))
}

pub fn load_network(path: &Path) -> Result<Network> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    network_from_bytes(&data).map_err(|e| in_file(path, e))
}

/// An error about a file's contents, with the file named in front (the kind is kept: a
/// message that names a core or an I/O error that names the path stays as it is).
fn in_file(path: &Path, e: Error) -> Error {
    let named = |m: String| format!("{}: {m}", path.display());
    match e {
        Error::Format(m) => Error::Format(named(m)),
        Error::Config(m) => Error::Config(named(m)),
        Error::Input(m) => Error::Input(named(m)),
        other => other,
    }
}
