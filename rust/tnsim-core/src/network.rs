//! A network: the configuration of a system of chips (SPEC.md section 1). No run-time state.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::params::{CoreConfig, CHIPS_PER_SIDE_MAX, CHIP_SIDE, NEURONS, OUTPUT_PORT_MAX};

/// Cores on a grid of `chips.0 x chips.1` chips of 64 x 64 cores, plus the host output ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    chips: (u32, u32),
    explicit_output_ports: Option<u32>,
    /// Free-form metadata (JSON text by convention), saved with the network.
    pub metadata: String,
    /// Configured cores by (x, y); iteration order is x, then y.
    cores: BTreeMap<(u32, u32), CoreConfig>,
}

impl Network {
    pub fn new(chips: (i64, i64), output_ports: Option<i64>) -> Result<Self> {
        for (name, v) in [("chips x", chips.0), ("chips y", chips.1)] {
            if !(1..=CHIPS_PER_SIDE_MAX as i64).contains(&v) {
                return Err(Error::Config(format!("network: {name} = {v} is out of range 1..={CHIPS_PER_SIDE_MAX}")));
            }
        }
        let explicit_output_ports = match output_ports {
            None => None,
            Some(k) if (0..=OUTPUT_PORT_MAX + 1).contains(&k) => Some(k as u32),
            Some(k) => {
                return Err(Error::Config(format!(
                    "network: output_ports = {k} is out of range 0..={}",
                    OUTPUT_PORT_MAX + 1
                )))
            }
        };
        Ok(Self {
            chips: (chips.0 as u32, chips.1 as u32),
            explicit_output_ports,
            metadata: String::new(),
            cores: BTreeMap::new(),
        })
    }

    pub fn chips(&self) -> (u32, u32) {
        self.chips
    }

    /// Grid size in cores: (64 cx, 64 cy).
    pub fn grid(&self) -> (u32, u32) {
        (self.chips.0 * CHIP_SIDE, self.chips.1 * CHIP_SIDE)
    }

    pub fn explicit_output_ports(&self) -> Option<u32> {
        self.explicit_output_ports
    }

    /// Number of host output ports: as set, else 1 + the largest port any neuron uses (0 if none).
    pub fn output_ports(&self) -> u32 {
        self.explicit_output_ports.unwrap_or_else(|| {
            self.cores
                .values()
                .flat_map(|c| c.neurons.iter().map(|n| n.output_port))
                .max()
                .map_or(0, |m| (m + 1) as u32)
        })
    }

    pub fn num_cores(&self) -> usize {
        self.cores.len()
    }

    pub fn coordinates(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.cores.keys().copied()
    }

    pub fn cores(&self) -> impl Iterator<Item = (&(u32, u32), &CoreConfig)> + '_ {
        self.cores.iter()
    }

    pub fn core(&self, x: u32, y: u32) -> Option<&CoreConfig> {
        self.cores.get(&(x, y))
    }

    /// Whether (x, y) lies on the grid.
    pub fn on_grid(&self, x: i64, y: i64) -> bool {
        let (gx, gy) = self.grid();
        (0..gx as i64).contains(&x) && (0..gy as i64).contains(&y)
    }

    /// Add a core at (x, y), checking its values, its position, duplicates and output ports. Targets are checked by
    /// [`Network::validate`], once every core is present.
    pub fn add_core(&mut self, x: i64, y: i64, core: CoreConfig) -> Result<()> {
        if !self.on_grid(x, y) {
            let (gx, gy) = self.grid();
            return Err(Error::Config(format!(
                "core ({x}, {y}): position is off the grid of {}x{} chips (x in 0..{gx}, y in 0..{gy})",
                self.chips.0, self.chips.1
            )));
        }
        let key = (x as u32, y as u32);
        core.check(key)?;
        if self.cores.contains_key(&key) {
            return Err(Error::Config(format!(
                "core ({x}, {y}): a core is already configured at this position (duplicate core)"
            )));
        }
        if let Some(k) = self.explicit_output_ports {
            if let Some((j, n)) = core.neurons.iter().enumerate().find(|(_, n)| n.output_port >= k as i64) {
                return Err(Error::Config(format!(
                    "core ({x}, {y}) neuron {j}: field 'output_port' = {} but the network has {k} output ports",
                    n.output_port
                )));
            }
        }
        self.cores.insert(key, core);
        Ok(())
    }

    /// The target core of neuron `j` of core (x, y), if it has an axon target.
    pub fn target_of(&self, x: u32, y: u32, j: usize) -> Option<(i64, i64)> {
        let n = &self.cores.get(&(x, y))?.neurons[j];
        n.has_axon_target().then(|| (x as i64 + n.target_dx as i64, y as i64 + n.target_dy as i64))
    }

    /// Check that every axon target lands on a configured core of the grid.
    pub fn validate(&self) -> Result<()> {
        for (&(x, y), core) in &self.cores {
            for j in 0..NEURONS {
                let n = &core.neurons[j];
                if !n.has_axon_target() {
                    continue;
                }
                let (tx, ty) = (x as i64 + n.target_dx as i64, y as i64 + n.target_dy as i64);
                if !self.on_grid(tx, ty) {
                    let (gx, gy) = self.grid();
                    return Err(Error::Config(format!(
                        "core ({x}, {y}) neuron {j}: target (target_dx, target_dy) = ({}, {}) points to ({tx}, {ty}), \
                         off the grid (x in 0..{gx}, y in 0..{gy})",
                        n.target_dx, n.target_dy
                    )));
                }
                if !self.cores.contains_key(&(tx as u32, ty as u32)) {
                    return Err(Error::Config(format!(
                        "core ({x}, {y}) neuron {j}: target (target_dx, target_dy) = ({}, {}) points to ({tx}, {ty}), \
                         where no core is configured (empty position)",
                        n.target_dx, n.target_dy
                    )));
                }
            }
        }
        Ok(())
    }
}
