//! tnsim-core: a bit-exact, tick-by-tick simulator of IBM TrueNorth neurosynaptic cores.
//!
//! The semantics are those of the project's SPEC.md (version 1). Modules:
//! - [`params`]: core and neuron configuration, ranges and their checks;
//! - [`network`]: a network of cores on a grid of chips (configuration only);
//! - [`core`]: one core's run-time state and its tick;
//! - [`potentials`]: the membrane potentials between ticks, in 16 bits where they stay inside;
//! - [`simulator`]: the tick loop over all cores, routing, host inputs and outputs;
//! - [`grid`]: core index by grid position;
//! - [`prng`]: the per-core xorshift32 generator; [`counters`]: event counters;
//! - [`format`](mod@format): the native, versioned network file format;
//! - [`pages`]: backing the run-time state with 2 MiB pages;
//! - [`floor`]: the memory floor of a core-tick (the engine's memory accesses alone).
//!
//! Nothing here knows about Python; the `tnsim-py` crate is a thin binding over it.

pub mod core;
pub mod counters;
pub mod error;
pub mod floor;
pub mod format;
pub mod grid;
pub mod network;
pub mod pages;
pub mod params;
pub mod potentials;
pub mod prng;
pub mod simulator;

pub use crate::core::{EvalMode, Isa};
pub use counters::Counters;
pub use error::{Error, Result};
pub use network::Network;
pub use params::{CoreConfig, NeuronParams, ResetMode};
pub use simulator::{CoreSnapshot, InputSpike, RunOutput, SimState, Simulator, SpikeRecord};
