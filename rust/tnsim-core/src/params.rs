//! Configuration of cores and neurons (SPEC.md sections 1-2) and its validation.

use crate::error::{Error, Result};

pub const AXONS: usize = 256;
pub const NEURONS: usize = 256;
pub const AXON_TYPES: usize = 4;
/// Cores per chip along each side.
pub const CHIP_SIDE: u32 = 64;
/// Scheduler slots (delays are 1..=15, so 16 slots suffice).
pub const SLOTS: usize = 16;

/// Membrane potential bounds: a signed 20-bit value.
pub const V_MIN: i32 = -(1 << 19);
pub const V_MAX: i32 = (1 << 19) - 1;
/// Largest threshold, negative threshold and |reset value|: 2^18 - 1.
pub const THRESHOLD_MAX: i32 = (1 << 18) - 1;
pub const MASK_BITS_MAX: u8 = 18;
pub const WEIGHT_MAX: i32 = 255;
pub const LEAK_MAX: i32 = 255;
pub const DELAY_MIN: u8 = 1;
pub const DELAY_MAX: u8 = 15;
/// Relative offsets are 9-bit signed.
pub const OFFSET_MIN: i32 = -256;
pub const OFFSET_MAX: i32 = 255;
/// Highest host output port (a tnsim limit, so output rasters stay a sane size).
pub const OUTPUT_PORT_MAX: i64 = 65_535;
/// Most chips along one side of a system (a tnsim limit; coordinates stay well inside u32).
pub const CHIPS_PER_SIDE_MAX: u32 = 256;

/// Reset behaviour after a spike (gamma of SPEC.md section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ResetMode {
    /// V <- R (and V <- -R at the negative threshold).
    #[default]
    Normal = 0,
    /// V <- V - threshold (and V <- V + negative threshold).
    Linear = 1,
    /// V unchanged; capped by the non-reset ceiling.
    NonReset = 2,
}

impl ResetMode {
    pub fn from_i64(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::Normal),
            1 => Some(Self::Linear),
            2 => Some(Self::NonReset),
            _ => None,
        }
    }
}

/// Parameters of one neuron, exactly the fields of SPEC.md section 2 plus its target.
///
/// Target fields are stored as given (so a configuration reads back unchanged); `target_axon`
/// of -1 means no axon target and `output_port` of -1 no output port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeuronParams {
    pub weights: [i32; AXON_TYPES],
    pub stochastic_weights: [bool; AXON_TYPES],
    pub leak: i32,
    pub stochastic_leak: bool,
    pub leak_reversal: bool,
    pub threshold: i32,
    pub negative_threshold: i32,
    pub threshold_mask_bits: u8,
    pub reset_value: i32,
    pub reset_mode: ResetMode,
    pub negative_saturation: bool,
    pub initial_potential: i32,
    pub target_dx: i32,
    pub target_dy: i32,
    pub target_axon: i32,
    pub target_delay: u8,
    pub output_port: i64,
}

impl Default for NeuronParams {
    /// The defaults of the Python `Neurons` class: a silent neuron with threshold 1.
    fn default() -> Self {
        Self {
            weights: [0; AXON_TYPES],
            stochastic_weights: [false; AXON_TYPES],
            leak: 0,
            stochastic_leak: false,
            leak_reversal: false,
            threshold: 1,
            negative_threshold: 0,
            threshold_mask_bits: 0,
            reset_value: 0,
            reset_mode: ResetMode::Normal,
            negative_saturation: true,
            initial_potential: 0,
            target_dx: 0,
            target_dy: 0,
            target_axon: -1,
            target_delay: 1,
            output_port: -1,
        }
    }
}

impl NeuronParams {
    /// True when the neuron never draws a random number (SPEC.md section 4).
    pub fn is_deterministic(&self) -> bool {
        !self.stochastic_leak && self.threshold_mask_bits == 0 && !self.stochastic_weights.iter().any(|&b| b)
    }

    pub fn has_axon_target(&self) -> bool {
        self.target_axon >= 0
    }
}

/// Raw integer values of one neuron's fields, in the order of [`NEURON_FIELDS`], as they come
/// from a user (Python int64 arrays). Converted to [`NeuronParams`] with range checks.
pub type RawNeuron = [i64; RAW_NEURON_LEN];
/// Number of i64 values of a raw neuron: 4 weights + 4 stochastic flags + 15 scalars.
pub const RAW_NEURON_LEN: usize = 23;

/// Field names and ranges, in raw order; `weights` and `stochastic_weights` take 4 slots each.
pub const NEURON_FIELDS: [(&str, i64, i64); 17] = [
    ("weights", -WEIGHT_MAX as i64, WEIGHT_MAX as i64),
    ("stochastic_weights", 0, 1),
    ("leak", -LEAK_MAX as i64, LEAK_MAX as i64),
    ("stochastic_leak", 0, 1),
    ("leak_reversal", 0, 1),
    ("threshold", 0, THRESHOLD_MAX as i64),
    ("negative_threshold", 0, THRESHOLD_MAX as i64),
    ("threshold_mask_bits", 0, MASK_BITS_MAX as i64),
    ("reset_value", -THRESHOLD_MAX as i64, THRESHOLD_MAX as i64),
    ("reset_mode", 0, 2),
    ("negative_saturation", 0, 1),
    ("initial_potential", V_MIN as i64, V_MAX as i64),
    ("target_dx", OFFSET_MIN as i64, OFFSET_MAX as i64),
    ("target_dy", OFFSET_MIN as i64, OFFSET_MAX as i64),
    ("target_axon", -1, AXONS as i64 - 1),
    ("target_delay", DELAY_MIN as i64, DELAY_MAX as i64),
    ("output_port", -1, OUTPUT_PORT_MAX),
];

impl NeuronParams {
    /// Check every field of a raw neuron against SPEC.md section 2 and build the parameters.
    pub fn from_raw(raw: &RawNeuron, core: (u32, u32), neuron: usize) -> Result<Self> {
        let mut pos = 0;
        for (field, min, max) in NEURON_FIELDS {
            let width = if field == "weights" || field == "stochastic_weights" { AXON_TYPES } else { 1 };
            for &value in &raw[pos..pos + width] {
                if value < min || value > max {
                    return Err(Error::OutOfRange {
                        x: core.0,
                        y: core.1,
                        neuron: Some(neuron),
                        field,
                        value,
                        min,
                        max,
                    });
                }
            }
            pos += width;
        }
        let p = Self {
            weights: [raw[0] as i32, raw[1] as i32, raw[2] as i32, raw[3] as i32],
            stochastic_weights: [raw[4] != 0, raw[5] != 0, raw[6] != 0, raw[7] != 0],
            leak: raw[8] as i32,
            stochastic_leak: raw[9] != 0,
            leak_reversal: raw[10] != 0,
            threshold: raw[11] as i32,
            negative_threshold: raw[12] as i32,
            threshold_mask_bits: raw[13] as u8,
            reset_value: raw[14] as i32,
            reset_mode: ResetMode::from_i64(raw[15]).expect("range-checked above"),
            negative_saturation: raw[16] != 0,
            initial_potential: raw[17] as i32,
            target_dx: raw[18] as i32,
            target_dy: raw[19] as i32,
            target_axon: raw[20] as i32,
            target_delay: raw[21] as u8,
            output_port: raw[22],
        };
        if p.target_axon >= 0 && p.output_port >= 0 {
            return Err(Error::Config(format!(
                "core ({}, {}) neuron {neuron}: field 'output_port' = {} set together with \
                 'target_axon' = {}: a neuron has one target, an axon or an output port",
                core.0, core.1, p.output_port, p.target_axon
            )));
        }
        Ok(p)
    }

    /// The inverse of [`NeuronParams::from_raw`].
    pub fn to_raw(&self) -> RawNeuron {
        let mut r = [0i64; RAW_NEURON_LEN];
        for g in 0..AXON_TYPES {
            r[g] = self.weights[g] as i64;
            r[4 + g] = self.stochastic_weights[g] as i64;
        }
        r[8] = self.leak as i64;
        r[9] = self.stochastic_leak as i64;
        r[10] = self.leak_reversal as i64;
        r[11] = self.threshold as i64;
        r[12] = self.negative_threshold as i64;
        r[13] = self.threshold_mask_bits as i64;
        r[14] = self.reset_value as i64;
        r[15] = self.reset_mode as i64;
        r[16] = self.negative_saturation as i64;
        r[17] = self.initial_potential as i64;
        r[18] = self.target_dx as i64;
        r[19] = self.target_dy as i64;
        r[20] = self.target_axon as i64;
        r[21] = self.target_delay as i64;
        r[22] = self.output_port;
        r
    }
}

/// The configuration of one core: crossbar, axon types, 256 neurons and the PRNG seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// `rows[i]` holds axon i's crossbar row: bit j set when axon i connects to neuron j.
    pub rows: Box<[[u64; 4]; AXONS]>,
    pub axon_types: [u8; AXONS],
    pub neurons: Box<[NeuronParams; NEURONS]>,
    pub seed: u32,
}

impl CoreConfig {
    /// A core with no connections and default neurons.
    pub fn empty(seed: u32) -> Self {
        Self {
            rows: Box::new([[0; 4]; AXONS]),
            axon_types: [0; AXONS],
            neurons: Box::new([NeuronParams::default(); NEURONS]),
            seed,
        }
    }

    /// Crossbar bit `w[axon][neuron]`.
    pub fn connected(&self, axon: usize, neuron: usize) -> bool {
        self.rows[axon][neuron / 64] >> (neuron % 64) & 1 == 1
    }

    pub fn set_connected(&mut self, axon: usize, neuron: usize, on: bool) {
        let bit = 1u64 << (neuron % 64);
        if on {
            self.rows[axon][neuron / 64] |= bit;
        } else {
            self.rows[axon][neuron / 64] &= !bit;
        }
    }

    /// Build from a row-major (axon, neuron) crossbar, per-axon types and raw neurons,
    /// checking every value.
    pub fn from_parts(
        core: (u32, u32),
        crossbar_axon_major: &[bool],
        axon_types: &[i64],
        neurons: &[RawNeuron],
        seed: i64,
    ) -> Result<Self> {
        let (x, y) = core;
        if crossbar_axon_major.len() != AXONS * NEURONS {
            return Err(Error::Config(format!(
                "core ({x}, {y}): field 'crossbar' has {} entries, expected {AXONS} x {NEURONS}",
                crossbar_axon_major.len()
            )));
        }
        if axon_types.len() != AXONS {
            return Err(Error::Config(format!(
                "core ({x}, {y}): field 'axon_types' has {} entries, expected {AXONS}",
                axon_types.len()
            )));
        }
        if neurons.len() != NEURONS {
            return Err(Error::Config(format!(
                "core ({x}, {y}): field 'neurons' has {} neurons, expected {NEURONS}",
                neurons.len()
            )));
        }
        if !(0..=u32::MAX as i64).contains(&seed) {
            return Err(Error::OutOfRange {
                x,
                y,
                neuron: None,
                field: "seed",
                value: seed,
                min: 0,
                max: u32::MAX as i64,
            });
        }
        let mut cfg = Self::empty(seed as u32);
        for (i, &t) in axon_types.iter().enumerate() {
            if !(0..AXON_TYPES as i64).contains(&t) {
                return Err(Error::AxonOutOfRange { x, y, axon: i, field: "axon_types", value: t, min: 0, max: 3 });
            }
            cfg.axon_types[i] = t as u8;
        }
        for (row, bools) in cfg.rows.iter_mut().zip(crossbar_axon_major.chunks_exact(NEURONS)) {
            for (word, chunk) in row.iter_mut().zip(bools.chunks_exact(64)) {
                *word = chunk.iter().enumerate().fold(0u64, |w, (b, &on)| w | (on as u64) << b);
            }
        }
        for (j, raw) in neurons.iter().enumerate() {
            cfg.neurons[j] = NeuronParams::from_raw(raw, core, j)?;
        }
        Ok(cfg)
    }

    /// Check every value against SPEC.md section 2 (a config built field by field, not
    /// through [`CoreConfig::from_parts`], is checked here when it is added to a network).
    pub fn check(&self, core: (u32, u32)) -> Result<()> {
        for (i, &t) in self.axon_types.iter().enumerate() {
            if t as usize >= AXON_TYPES {
                return Err(Error::AxonOutOfRange {
                    x: core.0,
                    y: core.1,
                    axon: i,
                    field: "axon_types",
                    value: t as i64,
                    min: 0,
                    max: 3,
                });
            }
        }
        for (j, n) in self.neurons.iter().enumerate() {
            NeuronParams::from_raw(&n.to_raw(), core, j)?;
        }
        Ok(())
    }

    /// The crossbar as a row-major (axon, neuron) bool array.
    pub fn crossbar_axon_major(&self) -> Vec<bool> {
        let mut out = vec![false; AXONS * NEURONS];
        for i in 0..AXONS {
            for j in 0..NEURONS {
                out[i * NEURONS + j] = self.connected(i, j);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip_of_default() {
        let p = NeuronParams::default();
        assert_eq!(NeuronParams::from_raw(&p.to_raw(), (0, 0), 0).unwrap(), p);
    }

    #[test]
    fn out_of_range_names_the_field() {
        let mut raw = NeuronParams::default().to_raw();
        raw[21] = 16; // target_delay
        let err = NeuronParams::from_raw(&raw, (3, 4), 7).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("core (3, 4)") && msg.contains("neuron 7") && msg.contains("target_delay"), "{msg}");
    }

    #[test]
    fn axon_target_and_port_conflict() {
        let mut raw = NeuronParams::default().to_raw();
        raw[20] = 5;
        raw[22] = 0;
        assert!(NeuronParams::from_raw(&raw, (0, 0), 0).unwrap_err().to_string().contains("output_port"));
    }
}
