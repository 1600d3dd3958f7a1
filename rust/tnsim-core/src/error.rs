//! Typed errors. Every message names what is wrong and where (core, neuron, field, row).

use thiserror::Error;

/// Where in a network a bad value sits, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub core: (u32, u32),
    /// The neuron (or axon, for per-axon fields), when the field is per neuron or per axon.
    pub index: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "core ({}, {})", self.core.0, self.core.1)?;
        if let Some(i) = self.index {
            write!(f, " index {i}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration value out of the range SPEC.md section 2 allows.
    #[error("core ({x}, {y}){}: field '{field}' = {value} is out of range {min}..={max}",
            neuron.map(|n| format!(" neuron {n}")).unwrap_or_default())]
    OutOfRange { x: u32, y: u32, neuron: Option<usize>, field: &'static str, value: i64, min: i64, max: i64 },
    /// A per-axon value out of range.
    #[error("core ({x}, {y}) axon {axon}: field '{field}' = {value} is out of range {min}..={max}")]
    AxonOutOfRange { x: u32, y: u32, axon: usize, field: &'static str, value: i64, min: i64, max: i64 },
    /// Any other invalid configuration (wrong size, conflicting fields, bad target...).
    #[error("{0}")]
    Config(String),
    /// Bad host input or run request.
    #[error("{0}")]
    Input(String),
    /// A corrupt, truncated or wrong-version file.
    #[error("{0}")]
    Format(String),
    /// An I/O failure while reading or writing a file; `errno` is the OS error code, if any.
    #[error("{path}: {message}")]
    Io { path: String, message: String, errno: Option<i32> },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        let message = e.to_string();
        // Drop the " (os error N)" suffix: the code is kept in `errno`.
        let message = message.rsplit_once(" (os error ").map_or(message.clone(), |(head, _)| head.to_string());
        Error::Io { path: path.display().to_string(), message, errno: e.raw_os_error() }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
