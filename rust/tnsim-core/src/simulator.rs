//! The simulator: all cores of a network, the tick loop, host inputs and outputs.
//!
//! One tick has three named phases, always in this order:
//! 1. **compute and route**: every core takes its scheduler slot for tick t, updates its 256
//!    neurons and ORs each spike into the slot (t + delay) mod 16 of its target's scheduler.
//!    Cores run in parallel: a core reads only its own slot t, and no spike of tick t is
//!    written into any slot t (delays are 1..15), so the outcome is the same in any order;
//! 2. **record**: outputs, recorded spikes and counters are gathered in core order;
//! 3. **advance**: the tick number moves on.
//!
//! Host inputs for tick t are written into slot t mod 16 just before phase 1 of tick t.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::core::{deliver, CoreState, Cores, EvalMode, Isa, Scheduler, TickContext, TickSink};
use crate::counters::Counters;
use crate::error::{Error, Result};
use crate::grid::GridIndex;
use crate::network::Network;
use crate::pages::advise_huge_pages;
use crate::params::{AXONS, NEURONS, SLOTS, V_MAX, V_MIN};
use crate::potentials::PotentialsChunk;

/// A spike injected by the host: integrated by axon `axon` of core (x, y) at tick `tick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSpike {
    pub tick: i64,
    pub x: i64,
    pub y: i64,
    pub axon: i64,
}

/// Host input lines (see [`Simulator::set_input_lines`]): line k stands for the axons
/// `targets[starts[k]..starts[k + 1]]`, resolved to (core index, axon).
#[derive(Debug, Clone, Default)]
struct InputLines {
    starts: Vec<usize>,
    targets: Vec<(u32, u8)>,
}

/// Host inputs of a run, checked and sorted by tick.
#[derive(Clone, Copy)]
enum HostInputs<'a> {
    /// (tick, core index, axon).
    Axons(&'a [(u64, u32, u8)]),
    /// (tick, line) events: a spike on every axon of that input line, fanned out as its tick
    /// comes (not expanded into rows before the run).
    Lines(&'a [(u64, u32)], &'a InputLines),
}

/// A neuron spike, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpikeRecord {
    pub tick: u64,
    pub x: u32,
    pub y: u32,
    pub neuron: u16,
}

/// What one [`Simulator::run`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub start_tick: u64,
    pub ticks: u64,
    pub output_ports: u32,
    /// Row-major `(ticks, output_ports)`: spikes that reached each port in each tick.
    pub output_counts: Vec<u32>,
    /// Recorded spikes sorted by (tick, x, y, neuron), when recording was asked for.
    pub spikes: Option<Vec<SpikeRecord>>,
    /// One entry per tick.
    pub counters: Vec<Counters>,
}

/// Cores per unit of parallel work in phase 1 (a chunk, run in order by one thread, its
/// prefetches running ahead within it), for networks large enough to give every thread
/// [`CHUNKS_PER_THREAD`] chunks of it.
const CHUNK_CORES: usize = 32;
/// Smaller networks are cut into this many chunks per thread (of at least
/// [`MIN_CHUNK_CORES`] cores), so that the threads share the work evenly: 81 cores on 2
/// threads as 3 chunks of 32 left one thread two chunks and the other one chunk of 17 cores.
/// Measured on 2 threads: 81 cores of stochastic neurons 71 us per tick against 103-113, the
/// 80-core feed-forward bench workload 8,200-9,000 images/s against 6,600-6,700.
const CHUNKS_PER_THREAD: usize = 2;
const MIN_CHUNK_CORES: usize = 4;
/// How many cores ahead phase 1 prefetches a core's rows, weights and routes.
pub(crate) const PREFETCH_AHEAD: usize = 4;
/// How many cores ahead phase 1 prefetches a core's own fields and scheduler slot, which the
/// prefetch of its rows reads (see `CoreState::prefetch_fields`).
pub(crate) const PREFETCH_FIELDS_AHEAD: usize = 2 * PREFETCH_AHEAD;

/// Back everything a tick reads with 2 MiB pages: the cores' blocks and the schedulers (read
/// at random by every spike; in 4 KiB pages, 16 chips' 32 MiB of schedulers alone span more
/// pages than the CPU's TLB holds).
fn advise_state_huge_pages(cores: &Cores, schedulers: &[Scheduler]) {
    let mut blocks = cores.hot_blocks();
    blocks.push((schedulers.as_ptr() as usize, std::mem::size_of_val(schedulers)));
    advise_huge_pages(blocks);
}

/// One core's dynamic state (what changes from tick to tick).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSnapshot {
    pub x: u32,
    pub y: u32,
    pub potentials: [i32; NEURONS],
    pub scheduler: [[u64; 4]; SLOTS],
    pub prng: u32,
}

/// A simulation's dynamic state: with the network, everything needed to resume it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimState {
    pub tick: u64,
    /// One per configured core, in the network's order (by x, then y).
    pub cores: Vec<CoreSnapshot>,
}

/// Upper bound on the result memory one `run` call may allocate.
const MAX_RESULT_BYTES: u128 = 4 << 30;

/// Parallelism: a rayon pool of its own, rebuilt after a fork (a pool's threads do not
/// survive `fork`, and PyTorch data loaders fork).
struct Pool {
    pid: u32,
    pool: rayon::ThreadPool,
}

pub struct Simulator {
    cores: Cores,
    /// One per core, same order; shared by all threads during a tick (see [`Scheduler`]).
    schedulers: Vec<Scheduler>,
    grid: GridIndex,
    output_ports: u32,
    tick: u64,
    threads: usize,
    pool: Option<Pool>,
    mode: EvalMode,
    isa: Isa,
    input_lines: InputLines,
    /// Cores per chunk in phase 1, where set (tests); else chosen per run (see [`CHUNK_CORES`]).
    chunk_cores: Option<usize>,
}

impl Simulator {
    /// Build a simulator at tick 0. `threads`: 0 = one per available CPU, 1 = serial.
    pub fn new(network: &Network, threads: usize) -> Result<Self> {
        network.validate()?;
        let grid = GridIndex::new(network);
        let isa = Isa::detect();
        let cores = Cores::new(network.cores().map(|(&(x, y), cfg)| (x, y, cfg)), isa);
        let schedulers: Vec<Scheduler> = (0..cores.len()).map(|_| Scheduler::default()).collect();
        advise_state_huge_pages(&cores, &schedulers);
        Ok(Self {
            schedulers,
            cores,
            grid,
            output_ports: network.output_ports(),
            tick: 0,
            threads,
            pool: None,
            mode: EvalMode::Fast,
            isa,
            input_lines: InputLines::default(),
            chunk_cores: None,
        })
    }

    /// Bytes of simulation state per configured core (core state and its share of the index).
    pub fn memory_bytes(&self) -> usize {
        self.cores.memory_bytes() + self.grid.memory_bytes()
    }

    /// The dynamic state now (potentials, schedulers, PRNGs, tick).
    pub fn state(&self) -> SimState {
        SimState {
            tick: self.tick,
            cores: (self.cores.states.iter().enumerate())
                .zip(&self.schedulers)
                .map(|((k, c), s)| CoreSnapshot {
                    x: c.x,
                    y: c.y,
                    potentials: self.cores.potentials.get(k),
                    scheduler: std::array::from_fn(|slot| s.slot(slot)),
                    prng: c.prng.state(),
                })
                .collect(),
        }
    }

    /// Replace the dynamic state with `state` (taken from a simulator of the same network).
    pub fn restore(&mut self, state: &SimState) -> Result<()> {
        if state.cores.len() != self.cores.len() {
            return Err(Error::Format(format!(
                "state has {} cores, the network has {}",
                state.cores.len(),
                self.cores.len()
            )));
        }
        for (k, (snap, core)) in state.cores.iter().zip(&self.cores.states).enumerate() {
            if (snap.x, snap.y) != (core.x, core.y) {
                return Err(Error::Format(format!(
                    "state core {k} is at ({}, {}), the network's is at ({}, {})",
                    snap.x, snap.y, core.x, core.y
                )));
            }
            if let Some((j, v)) = snap.potentials.iter().enumerate().find(|(_, v)| !(V_MIN..=V_MAX).contains(*v)) {
                return Err(Error::Format(format!(
                    "state core ({}, {}) neuron {j}: potential {v} is out of range {V_MIN}..={V_MAX}",
                    snap.x, snap.y
                )));
            }
            if snap.prng == 0 {
                return Err(Error::Format(format!("state core ({}, {}): PRNG state 0 is invalid", snap.x, snap.y)));
            }
        }
        self.cores.set_potentials(state.cores.iter().map(|snap| snap.potentials));
        advise_huge_pages(vec![self.cores.potentials.block()]);
        for ((snap, core), sched) in state.cores.iter().zip(&mut self.cores.states).zip(&self.schedulers) {
            core.restore(snap.prng);
            for (slot, words) in snap.scheduler.iter().enumerate() {
                sched.store(slot, *words);
            }
        }
        self.tick = state.tick;
        Ok(())
    }

    /// The next tick to run (ticks already run).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    pub fn output_ports(&self) -> u32 {
        self.output_ports
    }

    pub fn num_cores(&self) -> usize {
        self.cores.len()
    }

    pub fn set_eval_mode(&mut self, mode: EvalMode) {
        self.mode = mode;
    }

    pub fn eval_mode(&self) -> EvalMode {
        self.mode
    }

    /// The instruction set the tick runs with (see [`Isa::detect`]).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Use `isa`, or the widest instruction set the CPU supports if that is narrower (the
    /// weights are laid out anew where that pays: see [`Cores::set_isa`]).
    pub fn set_isa(&mut self, isa: Isa) {
        self.isa = isa.supported();
        if self.cores.set_isa(self.isa) {
            advise_state_huge_pages(&self.cores, &self.schedulers);
        }
    }

    /// Threads used for phase 1 (0 = one per available CPU).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads;
        self.pool = None;
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Cut phase 1 into chunks of `cores` cores (None: the engine's choice, see
    /// [`CHUNK_CORES`]). Results never depend on it; the property tests use small chunks to run
    /// small networks over many threads.
    pub fn set_chunk_cores(&mut self, cores: Option<usize>) -> Result<()> {
        if cores == Some(0) {
            return Err(Error::Input("chunk_cores = 0: a chunk needs at least one core".into()));
        }
        self.chunk_cores = cores;
        Ok(())
    }

    /// Cores per chunk of phase 1 on `threads` threads.
    fn chunk_cores_for(&self, threads: usize) -> usize {
        self.chunk_cores.unwrap_or_else(|| {
            let even = self.cores.len().div_ceil(threads.max(1) * CHUNKS_PER_THREAD);
            even.clamp(MIN_CHUNK_CORES, CHUNK_CORES)
        })
    }

    fn core_index(&self, x: i64, y: i64) -> Option<usize> {
        if x < 0 || y < 0 || x > u32::MAX as i64 || y > u32::MAX as i64 {
            return None;
        }
        self.grid.get(x as u32, y as u32).map(|i| i as usize)
    }

    /// Membrane potentials of core (x, y) now.
    pub fn potentials(&self, x: i64, y: i64) -> Result<[i32; NEURONS]> {
        let i = self
            .core_index(x, y)
            .ok_or_else(|| Error::Input(format!("potentials: no core is configured at ({x}, {y})")))?;
        Ok(self.cores.potentials.get(i))
    }

    /// Check host inputs for a run of `ticks` ticks from now and resolve them to
    /// (tick, core index, axon), sorted by tick (stable).
    fn resolve_inputs(&self, ticks: u64, inputs: &[InputSpike]) -> Result<Vec<(u64, u32, u8)>> {
        let mut out = Vec::with_capacity(inputs.len());
        for (row, s) in inputs.iter().enumerate() {
            let t = self.check_input_tick(ticks, "inputs", row, s.tick)?;
            let core = self.resolve_axon("inputs", row, s.x, s.y, s.axon)?;
            out.push((t, core.0, core.1));
        }
        out.sort_by_key(|&(t, _, _)| t);
        Ok(out)
    }

    /// `tick` of row `row` of `what` as a tick of a run of `ticks` ticks from now, or the error.
    fn check_input_tick(&self, ticks: u64, what: &str, row: usize, tick: i64) -> Result<u64> {
        let (start, end) = (self.tick as i128, self.tick as i128 + ticks as i128);
        let t = tick as i128;
        if t < start {
            return Err(Error::Input(format!(
                "{what} row {row}: field 'tick' = {tick} is already past (the simulator is at tick {start})"
            )));
        }
        if t >= end {
            return Err(Error::Input(format!(
                "{what} row {row}: field 'tick' = {tick} is beyond this run (ticks {start}..{end}); \
                 pass it to the run that covers that tick"
            )));
        }
        Ok(tick as u64)
    }

    /// Axon `axon` of core (x, y) as (core index, axon), or the error naming row `row` of `what`.
    fn resolve_axon(&self, what: &str, row: usize, x: i64, y: i64, axon: i64) -> Result<(u32, u8)> {
        let core = self.core_index(x, y).ok_or_else(|| {
            Error::Input(format!("{what} row {row}: core ({x}, {y}) (fields 'x', 'y') is not configured"))
        })?;
        if !(0..AXONS as i64).contains(&axon) {
            return Err(Error::Input(format!(
                "{what} row {row}: field 'axon' = {axon} is out of range 0..={}",
                AXONS - 1
            )));
        }
        Ok((core as u32, axon as u8))
    }

    /// Define the host's *input lines*: line k fans out to the axons
    /// `targets[starts[k]..starts[k + 1]]` (each (x, y, axon)), so that one event (tick, k)
    /// given to [`Simulator::run_lines`] is a host spike on every one of them. For inputs
    /// that reach many axons (a pixel read by many cores and ensemble copies) this saves
    /// building and checking one row per axon. Replaces the previous lines; not part of the
    /// saved state. On error the previous lines are kept.
    pub fn set_input_lines(&mut self, starts: &[i64], targets: &[(i64, i64, i64)]) -> Result<()> {
        let n = starts.len();
        if n == 0 || starts[0] != 0 || starts[n - 1] != targets.len() as i64 {
            return Err(Error::Input(format!(
                "input lines: starts must run from 0 to the number of targets ({}), got {} entries from {:?} to {:?}",
                targets.len(),
                n,
                starts.first(),
                starts.last()
            )));
        }
        if let Some(k) = starts.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::Input(format!(
                "input lines: starts[{}] = {} is below starts[{k}] = {} (starts must not decrease)",
                k + 1,
                starts[k + 1],
                starts[k]
            )));
        }
        let resolved = targets
            .iter()
            .enumerate()
            .map(|(row, &(x, y, axon))| self.resolve_axon("input line targets", row, x, y, axon))
            .collect::<Result<Vec<_>>>()?;
        self.input_lines = InputLines { starts: starts.iter().map(|&s| s as usize).collect(), targets: resolved };
        Ok(())
    }

    /// Number of input lines defined by [`Simulator::set_input_lines`].
    pub fn input_line_count(&self) -> usize {
        self.input_lines.starts.len().saturating_sub(1)
    }

    /// Run `ticks` ticks with host input *events* `(tick, line)`: each is a host spike on
    /// every axon of that input line (see [`Simulator::set_input_lines`]). The same as
    /// [`Simulator::run`] with those rows.
    pub fn run_lines(&mut self, ticks: u64, events: &[(i64, i64)], record_spikes: bool) -> Result<RunOutput> {
        self.check_result_size(ticks, 1)?;
        let count = self.input_line_count();
        let mut checked = Vec::with_capacity(events.len());
        for (row, &(tick, line)) in events.iter().enumerate() {
            let t = self.check_input_tick(ticks, "events", row, tick)?;
            if !(0..count as i64).contains(&line) {
                return Err(Error::Input(format!(
                    "events row {row}: field 'line' = {line} is out of range ({count} input lines are defined)"
                )));
            }
            checked.push((t, line as u32));
        }
        // Stable, and linear on events already in tick order.
        checked.sort_by_key(|&(t, _)| t);
        // The lines are lent to the run (it needs `self` mutably) and put back after.
        let lines = std::mem::take(&mut self.input_lines);
        let out = self.run_resolved(ticks, HostInputs::Lines(&checked, &lines), record_spikes);
        self.input_lines = lines;
        out
    }

    fn ensure_pool(&mut self) -> Result<()> {
        let pid = std::process::id();
        if self.threads != 1 && self.pool.as_ref().is_none_or(|p| p.pid != pid) {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(self.threads)
                .build()
                .map_err(|e| Error::Input(format!("could not start {} worker threads: {e}", self.threads)))?;
            self.pool = Some(Pool { pid, pool });
        }
        Ok(())
    }

    /// Run `ticks` ticks with host `inputs`, recording neuron spikes if asked.
    pub fn run(&mut self, ticks: u64, inputs: &[InputSpike], record_spikes: bool) -> Result<RunOutput> {
        self.check_result_size(ticks, 1)?;
        let inputs = self.resolve_inputs(ticks, inputs)?;
        self.run_resolved(ticks, HostInputs::Axons(&inputs), record_spikes)
    }

    /// Run with checked host inputs sorted by tick.
    fn run_resolved(&mut self, ticks: u64, inputs: HostInputs<'_>, record_spikes: bool) -> Result<RunOutput> {
        self.ensure_pool()?;
        let mut result = self.empty_output(ticks, record_spikes);
        let pool = self.pool.take();
        match &pool {
            Some(p) => {
                // No more working threads than CPUs: phase 1's helpers spin between ticks (see
                // `Workers`), and a spinning helper would take a CPU from the thread it waits for.
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                let threads = p.pool.current_num_threads().min(cpus);
                p.pool.install(|| self.run_ticks(ticks, inputs, &mut result, Some(threads)))
            }
            None => self.run_ticks(ticks, inputs, &mut result, None),
        }
        self.pool = pool;
        Ok(result)
    }

    /// Run `ticks` ticks once per entry of `batch`, each from the current state with its own
    /// host inputs, independently and in parallel (one simulation per thread at a time). The
    /// simulator itself does not advance. Results come in the order of `batch` and equal
    /// those of separate runs.
    pub fn run_batch(&mut self, ticks: u64, batch: &[Vec<InputSpike>], record_spikes: bool) -> Result<Vec<RunOutput>> {
        self.check_result_size(ticks, batch.len() as u128)?;
        let resolved = batch
            .iter()
            .enumerate()
            .map(|(k, inputs)| {
                self.resolve_inputs(ticks, inputs).map_err(|e| Error::Input(format!("batch item {k}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        self.ensure_pool()?;
        let one = |inputs: &Vec<(u64, u32, u8)>| {
            let mut sim = self.fork();
            let mut result = sim.empty_output(ticks, record_spikes);
            sim.run_ticks(ticks, HostInputs::Axons(inputs), &mut result, None);
            result
        };
        Ok(match &self.pool {
            Some(p) => p.pool.install(|| resolved.par_iter().map(one).collect()),
            None => resolved.iter().map(one).collect(),
        })
    }

    /// A serial copy of this simulator in its current state.
    fn fork(&self) -> Simulator {
        let schedulers: Vec<Scheduler> = self
            .schedulers
            .iter()
            .map(|s| {
                let copy = Scheduler::default();
                for slot in 0..SLOTS {
                    copy.store(slot, s.slot(slot));
                }
                copy
            })
            .collect();
        let cores = self.cores.clone();
        advise_state_huge_pages(&cores, &schedulers);
        Simulator {
            cores,
            schedulers,
            grid: self.grid.clone(),
            output_ports: self.output_ports,
            tick: self.tick,
            threads: 1,
            pool: None,
            mode: self.mode,
            isa: self.isa,
            input_lines: InputLines::default(),
            chunk_cores: self.chunk_cores,
        }
    }

    fn check_result_size(&self, ticks: u64, runs: u128) -> Result<()> {
        let ports = self.output_ports as u128;
        let bytes = runs * ticks as u128 * (ports * 4 + std::mem::size_of::<Counters>() as u128);
        if bytes > MAX_RESULT_BYTES {
            return Err(Error::Input(format!(
                "run: ticks = {ticks} with {ports} output ports needs {bytes} bytes of results; \
                 split it into several run calls"
            )));
        }
        Ok(())
    }

    fn empty_output(&self, ticks: u64, record_spikes: bool) -> RunOutput {
        RunOutput {
            start_tick: self.tick,
            ticks,
            output_ports: self.output_ports,
            output_counts: vec![0; (ticks as usize) * self.output_ports as usize],
            spikes: record_spikes.then(Vec::new),
            counters: Vec::with_capacity(ticks as usize),
        }
    }

    /// Run the ticks: phase 1 in parallel on `parallel` threads of the current pool when given
    /// (workers that stay for the whole run, see [`Workers`]), else on this thread.
    fn run_ticks(&mut self, ticks: u64, inputs: HostInputs<'_>, result: &mut RunOutput, parallel: Option<usize>) {
        let record = result.spikes.is_some();
        let ports = self.output_ports as usize;
        let (mode, isa) = (self.mode, self.isa);
        let chunk = match parallel {
            Some(threads) => self.chunk_cores_for(threads),
            None => self.chunk_cores.unwrap_or(CHUNK_CORES),
        };
        let Simulator { cores, schedulers, grid, tick, .. } = self;
        let Cores { states, potentials, tables, .. } = cores;
        let (schedulers, grid, tables) = (&schedulers[..], &*grid, &*tables);
        let (len, chunks) = (states.len(), states.len().div_ceil(chunk));
        let (potentials, starts) = potentials.raw_parts();
        let (states, potentials) = (Shared(states.as_mut_ptr()), Shared(potentials));
        // Phase 1 of chunk c at tick t. Prefetch a core's first reads while the cores before it
        // compute, and deliver a core's spikes after the next one has computed (see
        // `core::deliver`).
        let run_chunk = |c: usize, t: u64| -> TickSink {
            let (start, end) = (c * chunk, ((c + 1) * chunk).min(len));
            // SAFETY: chunk c's cores and potentials are touched by this call only: a chunk is
            // run once per tick, by whichever thread claimed it (see `Workers`), and the
            // coordinating thread touches neither between the start of a tick's phase 1 and
            // the end of every chunk's run.
            let (chunk, mut potentials) = unsafe {
                (
                    std::slice::from_raw_parts_mut(states.at(start), end - start),
                    PotentialsChunk::new(potentials.at(0), starts, start, end),
                )
            };
            let slot = (t % SLOTS as u64) as usize;
            let ctx = TickContext { t, record_spikes: record, mode, lookup: grid, schedulers, tables, isa };
            let mut sink = TickSink { pending: Vec::with_capacity(NEURONS), ..TickSink::default() };
            let mut queued = Vec::with_capacity(NEURONS);
            // The reads of the chunk's core k, and its potentials if it will tick.
            let prefetch = |core: &CoreState, k: usize, potentials: &PotentialsChunk| {
                if core.prefetch(t, schedulers, tables) {
                    potentials.prefetch(k);
                }
            };
            for (k, first) in chunk.iter().take(PREFETCH_AHEAD).enumerate() {
                prefetch(first, k, &potentials);
            }
            for k in 0..chunk.len() {
                if let Some(far) = chunk.get(k + PREFETCH_FIELDS_AHEAD) {
                    debug_assert_eq!(far.index as usize, start + k + PREFETCH_FIELDS_AHEAD);
                    far.prefetch_fields();
                    schedulers[start + k + PREFETCH_FIELDS_AHEAD].prefetch_slot(slot);
                }
                if let Some(next) = chunk.get(k + PREFETCH_AHEAD) {
                    prefetch(next, k + PREFETCH_AHEAD, &potentials);
                }
                chunk[k].tick(potentials.core(k), &ctx, &mut sink);
                deliver(schedulers, &queued);
                queued.clear();
                std::mem::swap(&mut queued, &mut sink.pending);
            }
            deliver(schedulers, &queued);
            sink
        };
        let mut next_input = 0;
        let mut run = |phase1: &dyn Fn(u64) -> Vec<TickSink>| {
            for r in 0..ticks {
                let t = *tick;
                let slot = (t % SLOTS as u64) as usize;
                // No other thread writes a scheduler here: the inputs are ORed in plainly.
                match inputs {
                    HostInputs::Axons(rows) => {
                        while next_input < rows.len() && rows[next_input].0 == t {
                            let (_, core, axon) = rows[next_input];
                            schedulers[core as usize].set_exclusive(slot, axon as usize);
                            next_input += 1;
                        }
                    }
                    HostInputs::Lines(events, lines) => {
                        while next_input < events.len() && events[next_input].0 == t {
                            let line = events[next_input].1 as usize;
                            for &(core, axon) in &lines.targets[lines.starts[line]..lines.starts[line + 1]] {
                                schedulers[core as usize].set_exclusive(slot, axon as usize);
                            }
                            next_input += 1;
                        }
                    }
                }

                // Phase 1: compute.
                let outs = phase1(t);

                // Phase 2: record and count, in core order (chunks are in core order).
                let mut counters = Counters::default();
                let row = &mut result.output_counts[r as usize * ports..(r as usize + 1) * ports];
                for out in outs {
                    counters += out.counters;
                    for p in out.ports {
                        row[p as usize] += 1;
                    }
                    if let Some(spikes) = result.spikes.as_mut() {
                        // Cores are sorted by (x, y) and neurons ascend: rows come out sorted.
                        spikes.extend(out.fired.iter().map(|&(x, y, neuron)| SpikeRecord { tick: t, x, y, neuron }));
                    }
                }
                result.counters.push(counters);

                // Phase 3: advance.
                *tick += 1;
            }
        };
        if let Some(threads) = parallel {
            let workers = Workers::new(chunks, threads);
            workers.scope(&run_chunk, |workers| run(&|t| workers.run(t, &run_chunk)));
        } else {
            run(&|t| (0..chunks).map(|c| run_chunk(c, t)).collect());
        }
    }
}

/// A pointer shared between the threads of phase 1 (see `run_ticks` for why it is sound).
struct Shared<T>(*mut T);

impl<T> Shared<T> {
    /// The pointer to item `k` (a method: a closure that used the field would capture the bare
    /// pointer, which is not `Sync`).
    fn at(&self, k: usize) -> *mut T {
        self.0.wrapping_add(k)
    }
}
// SAFETY: the threads reach disjoint chunks through it (see `run_ticks`).
unsafe impl<T> Sync for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Send for Shared<T> {}

/// Phase 1 shared between the pool's threads for a whole run, instead of a parallel loop per
/// tick: on a small network a tick lasts some 100 us, and the pool's threads fell asleep and
/// had to be woken at every one. The coordinating thread (the one running the ticks) publishes
/// each tick's phase 1 as a new generation; every thread, the coordinator too, claims runs of
/// consecutive chunks of it until none is left; the coordinator waits, spinning, until all
/// are done.
/// The other threads spin between ticks, and leave when the run ends. A chunk claimed is
/// (generation, index) in one word, so a thread late from one tick can never claim a chunk
/// of the next with the old tick. Nothing waits on a thread that never comes: the coordinator
/// runs every chunk itself if it must, and a helper that panics marks the run failed, which
/// the coordinator turns into a panic rather than a wait.
struct Workers {
    chunks: usize,
    threads: usize,
    /// The generation of the current phase 1 (0: none yet).
    generation: AtomicU64,
    /// The tick of the current generation.
    tick: AtomicU64,
    /// generation << 32 | the next chunk to claim.
    claim: AtomicU64,
    done: AtomicUsize,
    stop: AtomicBool,
    failed: AtomicBool,
    outs: Vec<Mutex<Option<TickSink>>>,
}

impl Workers {
    fn new(chunks: usize, threads: usize) -> Self {
        Self {
            chunks,
            threads: threads.max(1),
            generation: AtomicU64::new(0),
            tick: AtomicU64::new(0),
            claim: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            outs: (0..chunks).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Run `body` (the coordinating thread's loop over ticks, calling [`Workers::run`]) with
    /// `threads - 1` helpers from the current pool, which leave when `body` returns or panics.
    fn scope(&self, run_chunk: &(dyn Fn(usize, u64) -> TickSink + Sync), body: impl FnOnce(&Self) + Send) {
        rayon::scope(|scope| {
            for _ in 1..self.threads {
                scope.spawn(|_| self.help(run_chunk));
            }
            let _stop = StopOnDrop(self);
            body(self);
        });
    }

    /// Run phase 1 of tick `t` with whichever threads help; the chunks' sinks, in order.
    fn run(&self, t: u64, run_chunk: &(dyn Fn(usize, u64) -> TickSink + Sync)) -> Vec<TickSink> {
        let generation = self.generation.load(Ordering::Relaxed) + 1;
        self.tick.store(t, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.claim.store(generation << 32, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Release);
        self.work(generation, run_chunk);
        spin_until(|| {
            assert!(!self.failed.load(Ordering::Relaxed), "a worker thread of phase 1 panicked");
            self.done.load(Ordering::Acquire) == self.chunks
        });
        self.outs.iter().map(|o| o.lock().unwrap_or_else(|e| e.into_inner()).take().expect("every chunk ran")).collect()
    }

    /// Claim and run chunks of `generation` until none is left.
    fn work(&self, generation: u64, run_chunk: &(dyn Fn(usize, u64) -> TickSink + Sync)) {
        loop {
            let claim = self.claim.load(Ordering::Acquire);
            let c = (claim & 0xFFFF_FFFF) as usize;
            if claim >> 32 != generation || c >= self.chunks {
                return;
            }
            // Guided: a share of what is left, so that each thread runs long runs of
            // consecutive cores (which the hardware prefetcher streams) and the last claims
            // are single chunks that even out the threads' finishing times.
            let take = ((self.chunks - c) / (2 * self.threads)).max(1);
            if self.claim.compare_exchange(claim, claim + take as u64, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                let t = self.tick.load(Ordering::Relaxed);
                for c in c..c + take {
                    let sink = run_chunk(c, t);
                    *self.outs[c].lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
                }
                self.done.fetch_add(take, Ordering::Release);
            }
        }
    }

    /// A helper thread: run the chunks of each new generation until the run stops.
    fn help(&self, run_chunk: &(dyn Fn(usize, u64) -> TickSink + Sync)) {
        let mut seen = 0;
        loop {
            spin_until(|| self.stop.load(Ordering::Relaxed) || self.generation.load(Ordering::Relaxed) != seen);
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            seen = self.generation.load(Ordering::Acquire);
            let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work(seen, run_chunk)));
            if worked.is_err() {
                self.failed.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Ends the helpers' loops when the coordinating thread leaves the run, also by a panic.
struct StopOnDrop<'a>(&'a Workers);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// Wait for `done`: spinning briefly, then yielding the CPU between checks (a thread that
/// spins on a machine with more threads than CPUs must not hold back the one it waits for).
fn spin_until(done: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !done() {
        if spins < 1 << 10 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    /// Every chunk of every tick runs once, with its tick, and the sinks come back in order,
    /// whichever thread ran them.
    #[test]
    fn workers_run_every_chunk_once_per_tick() {
        for (chunks, threads) in [(1, 2), (3, 2), (7, 2), (100, 2), (5, 4)] {
            let runs = Mutex::new(Vec::new());
            let run_chunk = |c: usize, t: u64| {
                runs.lock().unwrap().push((t, c));
                TickSink {
                    counters: Counters { spikes: t * 1000 + c as u64, ..Counters::default() },
                    ..TickSink::default()
                }
            };
            let workers = Workers::new(chunks, threads);
            pool(threads).install(|| {
                workers.scope(&run_chunk, |workers| {
                    for t in 0..50u64 {
                        let outs = workers.run(t, &run_chunk);
                        let got: Vec<u64> = outs.iter().map(|o| o.counters.spikes).collect();
                        assert_eq!(got, (0..chunks as u64).map(|c| t * 1000 + c).collect::<Vec<_>>());
                    }
                })
            });
            let mut runs = runs.into_inner().unwrap();
            runs.sort_unstable();
            let expected: Vec<(u64, usize)> = (0..50u64).flat_map(|t| (0..chunks).map(move |c| (t, c))).collect();
            assert_eq!(runs, expected, "{chunks} chunks on {threads} threads");
        }
    }

    /// A chunk that panics ends the run with a panic, on whichever thread it ran: nothing waits
    /// for it forever.
    #[test]
    fn a_panicking_chunk_ends_the_run_instead_of_hanging() {
        for panicking in 0..8 {
            let run_chunk = |c: usize, t: u64| {
                assert!(!(t == 3 && c == panicking), "chunk {c} fails at tick {t}");
                TickSink::default()
            };
            let workers = Workers::new(8, 2);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool(2).install(|| {
                    workers.scope(&run_chunk, |workers| {
                        for t in 0..10 {
                            workers.run(t, &run_chunk);
                        }
                    })
                })
            }));
            assert!(outcome.is_err(), "chunk {panicking}: the run went on");
        }
    }
}
