//! tnsim._core: the thin PyO3 layer over tnsim-core.
//!
//! Python values are converted to owned Rust data first, the interpreter is released around
//! the pure-Rust work, and every engine error becomes a Python exception in one place
//! ([`to_py_err`]). Friendly argument handling (broadcasting, dtype checks) lives in the
//! Python package; this layer checks shapes again so it is safe to call directly.

use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;

use tnsim_core::format;
use tnsim_core::params::{RawNeuron, AXONS, NEURONS, NEURON_FIELDS, RAW_NEURON_LEN};
use tnsim_core::{CoreConfig, Counters, Error, EvalMode, InputSpike, Isa, Network, RunOutput, Simulator};

create_exception!(_core, TnsimError, PyValueError, "Base class of tnsim's errors (a ValueError).");
create_exception!(_core, ConfigError, TnsimError, "A network configuration value is invalid.");
create_exception!(_core, InputError, TnsimError, "A run request or host input is invalid.");
create_exception!(_core, FormatError, TnsimError, "A file is corrupt, truncated or of an unsupported version.");

/// The one mapping from engine errors to Python exceptions.
fn to_py_err(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::OutOfRange { .. } | Error::AxonOutOfRange { .. } | Error::Config(_) => ConfigError::new_err(msg),
        Error::Input(_) => InputError::new_err(msg),
        Error::Format(_) => FormatError::new_err(msg),
        // OSError(errno, strerror, filename): Python picks the subclass from errno
        // (FileNotFoundError, IsADirectoryError, PermissionError...).
        Error::Io { path, message, errno: Some(code) } => PyOSError::new_err((code, message, path)),
        Error::Io { errno: None, .. } => PyOSError::new_err(msg),
    }
}

/// Errors of reading a network or state file: anything but an I/O failure means the file is bad, so a
/// value the engine rejects while reading (chips, output ports...) is a FormatError too.
fn to_py_file_err(e: Error) -> PyErr {
    match e {
        Error::Io { .. } | Error::Format(_) => to_py_err(e),
        other => FormatError::new_err(format!("file: {other}")),
    }
}

fn check_shape(name: &str, shape: &[usize], expected: &[usize]) -> PyResult<()> {
    if shape != expected {
        return Err(ConfigError::new_err(format!("field '{name}' has shape {shape:?}, expected {expected:?}")));
    }
    Ok(())
}

/// A network configuration (see `tnsim.Network` for the documented wrapper).
#[pyclass(name = "Network", module = "tnsim._core")]
#[derive(Clone)]
pub struct PyNetwork {
    /// Shared with the simulators built from it; `add_core` copies it first if it is shared
    /// (copy on write), so a simulator never sees later changes.
    inner: Arc<Network>,
}

#[pymethods]
impl PyNetwork {
    #[new]
    #[pyo3(signature = (chips, output_ports=None))]
    fn new(chips: (i64, i64), output_ports: Option<i64>) -> PyResult<Self> {
        Ok(Self { inner: Arc::new(Network::new(chips, output_ports).map_err(to_py_err)?) })
    }

    /// Add a core. `crossbar`: (256 axons, 256 neurons) bool; `axon_types`: (256,) int64;
    /// `neurons`: (256, 23) int64 raw neuron rows (field order of `neuron_fields()`).
    fn add_core(
        &mut self,
        x: i64,
        y: i64,
        crossbar: PyReadonlyArray2<'_, bool>,
        axon_types: PyReadonlyArray1<'_, i64>,
        neurons: PyReadonlyArray2<'_, i64>,
        seed: i64,
    ) -> PyResult<()> {
        check_shape("crossbar", crossbar.shape(), &[AXONS, NEURONS])?;
        check_shape("axon_types", axon_types.shape(), &[AXONS])?;
        check_shape("neurons", neurons.shape(), &[NEURONS, RAW_NEURON_LEN])?;
        let cb: Vec<bool> = crossbar.as_array().iter().copied().collect();
        let types: Vec<i64> = axon_types.as_array().iter().copied().collect();
        let nv = neurons.as_array();
        let raws: Vec<RawNeuron> = (0..NEURONS).map(|j| std::array::from_fn(|k| nv[[j, k]])).collect();
        let coord = (x.clamp(0, u32::MAX as i64) as u32, y.clamp(0, u32::MAX as i64) as u32);
        if !self.inner.on_grid(x, y) {
            // Let add_core produce the off-grid message before any value is reported.
            return Arc::make_mut(&mut self.inner).add_core(x, y, CoreConfig::empty(0)).map_err(to_py_err);
        }
        let cfg = CoreConfig::from_parts(coord, &cb, &types, &raws, seed).map_err(to_py_err)?;
        Arc::make_mut(&mut self.inner).add_core(x, y, cfg).map_err(to_py_err)
    }

    /// The configuration of core (x, y): (crossbar, axon_types, neurons (256, 23), seed),
    /// or None when no core is configured there.
    #[allow(clippy::type_complexity)]
    fn core<'py>(
        &self,
        py: Python<'py>,
        x: i64,
        y: i64,
    ) -> PyResult<Option<(Bound<'py, PyArray2<bool>>, Bound<'py, PyArray1<i64>>, Bound<'py, PyArray2<i64>>, u32)>> {
        if x < 0 || y < 0 || x > u32::MAX as i64 || y > u32::MAX as i64 {
            return Ok(None);
        }
        let Some(c) = self.inner.core(x as u32, y as u32) else { return Ok(None) };
        let cb = Array2::from_shape_vec((AXONS, NEURONS), c.crossbar_axon_major()).expect("256 x 256");
        let types = Array1::from_iter(c.axon_types.iter().map(|&t| t as i64));
        let mut nv = Array2::<i64>::zeros((NEURONS, RAW_NEURON_LEN));
        for (j, n) in c.neurons.iter().enumerate() {
            for (k, v) in n.to_raw().into_iter().enumerate() {
                nv[[j, k]] = v;
            }
        }
        Ok(Some((cb.into_pyarray(py), types.into_pyarray(py), nv.into_pyarray(py), c.seed)))
    }

    /// Coordinates of the configured cores, sorted by x, then y.
    fn coordinates(&self) -> Vec<(u32, u32)> {
        self.inner.coordinates().collect()
    }

    #[getter]
    fn chips(&self) -> (u32, u32) {
        self.inner.chips()
    }

    #[getter]
    fn output_ports(&self) -> u32 {
        self.inner.output_ports()
    }

    #[getter]
    fn explicit_output_ports(&self) -> Option<u32> {
        self.inner.explicit_output_ports()
    }

    #[getter]
    fn num_cores(&self) -> usize {
        self.inner.num_cores()
    }

    #[getter]
    fn metadata(&self) -> String {
        self.inner.metadata.clone()
    }

    #[setter]
    fn set_metadata(&mut self, text: String) {
        Arc::make_mut(&mut self.inner).metadata = text;
    }

    /// Check that every axon target lands on a configured core.
    fn validate(&self) -> PyResult<()> {
        self.inner.validate().map_err(to_py_err)
    }

    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let net = &self.inner;
        py.detach(|| format::save_network(net, &path)).map_err(to_py_err)
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| format::load_network(&path)).map_err(to_py_file_err)?;
        Ok(Self { inner: Arc::new(inner) })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &format::network_to_bytes(&self.inner))
    }

    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(Self { inner: Arc::new(format::network_from_bytes(data).map_err(to_py_file_err)?) })
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

/// (name, width) of each neuron field in raw-row order.
#[pyfunction]
fn neuron_fields() -> Vec<(&'static str, usize)> {
    NEURON_FIELDS
        .iter()
        .map(|&(name, _, _)| (name, if name == "weights" || name == "stochastic_weights" { 4 } else { 1 }))
        .collect()
}

/// (name, min, max) of each neuron field.
#[pyfunction]
fn neuron_field_ranges() -> Vec<(&'static str, i64, i64)> {
    NEURON_FIELDS.to_vec()
}

/// Wall nanoseconds per core-tick of the memory floor (tnsim_core::floor): the engine's memory
/// accesses for `chips` chips without its arithmetic, on `threads` threads.
#[pyfunction]
#[pyo3(signature = (chips, threads = 1, core_ticks = 6_000_000))]
fn memory_floor(py: Python<'_>, chips: usize, threads: usize, core_ticks: usize) -> PyResult<f64> {
    py.detach(|| tnsim_core::floor::memory_floor(chips, threads, core_ticks)).map_err(to_py_err)
}

#[pyfunction]
fn counter_names() -> Vec<&'static str> {
    Counters::NAMES.to_vec()
}

/// The engine (see `tnsim.Simulator` for the documented wrapper).
#[pyclass(name = "Simulator", module = "tnsim._core")]
pub struct PySimulator {
    inner: Simulator,
    /// The network it runs (for saving state).
    network: Arc<Network>,
}

/// Host input rows (tick, x, y, axon) from an (n, 4) int64 array.
fn input_spikes(inputs: &PyReadonlyArray2<'_, i64>) -> PyResult<Vec<InputSpike>> {
    if inputs.shape().len() != 2 || inputs.shape()[1] != 4 {
        return Err(InputError::new_err(format!("inputs has shape {:?}, expected (n, 4)", inputs.shape())));
    }
    let a = inputs.as_array();
    Ok((0..a.shape()[0]).map(|r| InputSpike { tick: a[[r, 0]], x: a[[r, 1]], y: a[[r, 2]], axon: a[[r, 3]] }).collect())
}

/// A run's output as numpy arrays: (start_tick, output_counts, spikes or None, counters).
fn run_tuple(py: Python<'_>, out: RunOutput) -> RunTuple<'_> {
    let ticks = out.ticks as usize;
    let ports = out.output_ports as usize;
    let counts = Array2::from_shape_vec((ticks, ports), out.output_counts.iter().map(|&c| c as i32).collect())
        .expect("ticks x ports");
    let spikes = out.spikes.map(|s| {
        let mut arr = Array2::<i64>::zeros((s.len(), 4));
        for (r, sp) in s.iter().enumerate() {
            arr[[r, 0]] = sp.tick as i64;
            arr[[r, 1]] = sp.x as i64;
            arr[[r, 2]] = sp.y as i64;
            arr[[r, 3]] = sp.neuron as i64;
        }
        arr.into_pyarray(py)
    });
    let mut counters = Array2::<i64>::zeros((ticks, Counters::NAMES.len()));
    for (r, c) in out.counters.iter().enumerate() {
        for (k, v) in c.as_array().into_iter().enumerate() {
            counters[[r, k]] = v as i64;
        }
    }
    (out.start_tick, counts.into_pyarray(py), spikes, counters.into_pyarray(py))
}

type RunTuple<'py> = (u64, Bound<'py, PyArray2<i32>>, Option<Bound<'py, PyArray2<i64>>>, Bound<'py, PyArray2<i64>>);

#[pymethods]
impl PySimulator {
    #[new]
    #[pyo3(signature = (network, threads=0))]
    fn new(network: &PyNetwork, threads: usize) -> PyResult<Self> {
        Ok(Self { inner: Simulator::new(&network.inner, threads).map_err(to_py_err)?, network: network.inner.clone() })
    }

    /// Save the network and the dynamic state (potentials, schedulers, PRNGs, tick) to
    /// `path`, atomically.
    fn save_state(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let (net, state) = (&self.network, self.inner.state());
        py.detach(|| format::save_state(net, &state, &path)).map_err(to_py_err)
    }

    /// Rebuild a simulator from a file written by `save_state`: (simulator, network).
    #[staticmethod]
    #[pyo3(signature = (path, threads=0))]
    fn load_state(py: Python<'_>, path: std::path::PathBuf, threads: usize) -> PyResult<(Self, PyNetwork)> {
        let (net, state) = py.detach(|| format::load_state(&path)).map_err(to_py_file_err)?;
        let mut sim = Simulator::new(&net, threads).map_err(to_py_file_err)?;
        sim.restore(&state).map_err(to_py_file_err)?;
        let network = Arc::new(net);
        Ok((Self { inner: sim, network: network.clone() }, PyNetwork { inner: network }))
    }

    /// Run `ticks` ticks. `inputs`: (n, 4) int64 rows (tick, x, y, axon).
    /// Returns (start_tick, output_counts (ticks, ports) int32, spikes (n, 4) int64 or None,
    /// counters (ticks, 9) int64).
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        ticks: u64,
        inputs: PyReadonlyArray2<'py, i64>,
        record_spikes: bool,
    ) -> PyResult<RunTuple<'py>> {
        let spikes = input_spikes(&inputs)?;
        let sim = &mut self.inner;
        let out = py.detach(|| sim.run(ticks, &spikes, record_spikes)).map_err(to_py_err)?;
        Ok(run_tuple(py, out))
    }

    /// Define input lines: line k fans out to `targets[starts[k]:starts[k + 1]]`, rows (x, y,
    /// axon) of an (m, 3) int64 array; `starts` (n + 1,) int64.
    fn set_input_lines(
        &mut self,
        starts: PyReadonlyArray1<'_, i64>,
        targets: PyReadonlyArray2<'_, i64>,
    ) -> PyResult<()> {
        if targets.shape()[1] != 3 {
            return Err(InputError::new_err(format!(
                "input line targets has shape {:?}, expected (m, 3) rows (x, y, axon)",
                targets.shape()
            )));
        }
        let t = targets.as_array();
        let rows: Vec<(i64, i64, i64)> = (0..t.shape()[0]).map(|r| (t[[r, 0]], t[[r, 1]], t[[r, 2]])).collect();
        let starts = starts.as_array().to_vec();
        self.inner.set_input_lines(&starts, &rows).map_err(to_py_err)
    }

    #[getter]
    fn input_line_count(&self) -> usize {
        self.inner.input_line_count()
    }

    /// Run `ticks` ticks with host events (n, 2) int64 rows (tick, line) on the input lines.
    /// Returns a tuple as `run`.
    fn run_lines<'py>(
        &mut self,
        py: Python<'py>,
        ticks: u64,
        events: PyReadonlyArray2<'py, i64>,
        record_spikes: bool,
    ) -> PyResult<RunTuple<'py>> {
        if events.shape()[1] != 2 {
            return Err(InputError::new_err(format!(
                "events has shape {:?}, expected (n, 2) rows (tick, line)",
                events.shape()
            )));
        }
        let e = events.as_array();
        let rows: Vec<(i64, i64)> = (0..e.shape()[0]).map(|r| (e[[r, 0]], e[[r, 1]])).collect();
        let sim = &mut self.inner;
        let out = py.detach(|| sim.run_lines(ticks, &rows, record_spikes)).map_err(to_py_err)?;
        Ok(run_tuple(py, out))
    }

    /// Run `ticks` ticks once per inputs array, each from the current state, in parallel; the
    /// simulator does not advance. Returns one tuple (as `run`) per inputs array.
    fn run_batch<'py>(
        &mut self,
        py: Python<'py>,
        ticks: u64,
        batch: Vec<PyReadonlyArray2<'py, i64>>,
        record_spikes: bool,
    ) -> PyResult<Vec<RunTuple<'py>>> {
        let batch: Vec<Vec<InputSpike>> = batch.iter().map(input_spikes).collect::<PyResult<_>>()?;
        let sim = &mut self.inner;
        let outs = py.detach(|| sim.run_batch(ticks, &batch, record_spikes)).map_err(to_py_err)?;
        Ok(outs.into_iter().map(|out| run_tuple(py, out)).collect())
    }

    /// Membrane potentials of core (x, y) now, (256,) int64.
    fn potentials<'py>(&self, py: Python<'py>, x: i64, y: i64) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let v = self.inner.potentials(x, y).map_err(to_py_err)?;
        Ok(Array1::from_iter(v.iter().map(|&p| p as i64)).into_pyarray(py))
    }

    #[getter]
    fn tick(&self) -> u64 {
        self.inner.tick()
    }

    #[getter]
    fn output_ports(&self) -> u32 {
        self.inner.output_ports()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads()
    }

    #[setter]
    fn set_threads(&mut self, threads: usize) {
        self.inner.set_threads(threads)
    }

    /// "fast" (default) or "sequential": how step 1 is evaluated (same results).
    #[getter]
    fn eval_mode(&self) -> &'static str {
        match self.inner.eval_mode() {
            EvalMode::Fast => "fast",
            EvalMode::Sequential => "sequential",
        }
    }

    /// Instruction set of the tick: "baseline", "avx2" or "avx512" (same results). Setting a
    /// wider one than the CPU supports gives the widest supported.
    #[getter]
    fn isa(&self) -> &'static str {
        self.inner.isa().name()
    }

    #[setter]
    fn set_isa(&mut self, name: &str) -> PyResult<()> {
        let isa = Isa::from_name(name)
            .ok_or_else(|| PyValueError::new_err(format!("isa = {name:?}: expected 'baseline', 'avx2' or 'avx512'")))?;
        self.inner.set_isa(isa);
        Ok(())
    }

    /// Bytes of simulation state (all cores and the core index).
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }

    #[setter]
    fn set_eval_mode(&mut self, mode: &str) -> PyResult<()> {
        let m = match mode {
            "fast" => EvalMode::Fast,
            "sequential" => EvalMode::Sequential,
            other => {
                return Err(PyValueError::new_err(format!("eval_mode = {other:?}: expected 'fast' or 'sequential'")))
            }
        };
        self.inner.set_eval_mode(m);
        Ok(())
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", format::VERSION)?;
    m.add("TnsimError", py.get_type::<TnsimError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add_class::<PyNetwork>()?;
    m.add_class::<PySimulator>()?;
    m.add_function(wrap_pyfunction!(neuron_fields, m)?)?;
    m.add_function(wrap_pyfunction!(neuron_field_ranges, m)?)?;
    m.add_function(wrap_pyfunction!(counter_names, m)?)?;
    m.add_function(wrap_pyfunction!(memory_floor, m)?)?;
    Ok(())
}
