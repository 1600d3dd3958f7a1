//! The memory floor of a core-tick: the engine's memory accesses without its arithmetic.
//!
//! Per core-tick, the chip workload of `tnsim bench` reads and writes back a core's own state
//! (three lines) and its 256 potentials (16 bits each, as the engine stores them for its
//! neurons: see [`crate::potentials`]), takes its scheduler slot, reads its weights (+-1,
//! coded in 272 bytes as the engine stores them with AVX-512) and routes, about 5 random rows
//! of its 8 KiB crossbar, and sets about 5 bits in the schedulers of random cores, each of
//! its own chip but for 5 % of them, which may be anywhere (the scale workload's share).
//! [`memory_floor`] makes those accesses in the engine's layout (tables ordered by core,
//! 2 MiB pages, the same prefetches 4 cores ahead, the potentials' among them, and 8 ahead for
//! a core's own state and slot, deliveries performed one core late, each thread a contiguous
//! run of the cores) but touches one word per cache line and computes nothing.
//! What it measures is the least time per core-tick that the machine's memory system allows
//! for this work at a given size: the engine can only come close to it, and a step in it from
//! a size whose state fits in the last-level cache to one whose state does not is the
//! machine's, not the engine's.
//! `tnsim bench` prints it next to the engine's time at each size;
//! `cargo run --release -p tnsim-core --example memory_floor` prints it alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::core::{prefetch_bytes, prefetch_line, CoreState, LineAligned};
use crate::error::{Error, Result};
use crate::pages::advise_huge_pages;
use crate::params::{CHIP_SIDE, NEURONS, SLOTS};
use crate::potentials::NarrowPotentials as Potentials;
use crate::simulator::{PREFETCH_AHEAD, PREFETCH_FIELDS_AHEAD};

const CORES_PER_CHIP: usize = (CHIP_SIDE * CHIP_SIDE) as usize;
/// Random crossbar rows, routes and deliveries per core-tick (the chip workload's means).
const PER_TICK: usize = 5;
/// Of 256 deliveries, those to a core of any chip rather than the sender's (5 %).
const FAR_PER_256: usize = 13;
const LINE: usize = 64;

type Crossbar = LineAligned<[[u64; 4]; NEURONS]>;
type Scheduler = LineAligned<[AtomicU64; 64]>;
/// A core's own state, as large as a [`CoreState`]: three lines.
type OwnState = LineAligned<[u64; 24]>;
const _: () = assert!(std::mem::size_of::<OwnState>() == std::mem::size_of::<CoreState>());
/// A core's weights as the engine stores the chip workload's: 2-bit codes and four values per
/// axon type (`core::CodedWeights`), 272 bytes, 16-byte aligned, so cores share lines.
#[repr(C, align(16))]
struct Weights([u8; 272]);

/// The most chips [`memory_floor`] allocates (about 41 MiB each).
pub const MAX_FLOOR_CHIPS: usize = 64;
/// The most threads [`memory_floor`] starts.
pub const MAX_FLOOR_THREADS: usize = 256;

/// Wall time in nanoseconds per core-tick of the memory floor for `chips` chips of 4096 cores
/// on `threads` threads, measured over about `core_ticks` core-ticks (at least 5 ticks) after
/// 2 ticks of warm-up.
pub fn memory_floor(chips: usize, threads: usize, core_ticks: usize) -> Result<f64> {
    if !(1..=MAX_FLOOR_CHIPS).contains(&chips) {
        return Err(Error::Input(format!("memory_floor: chips = {chips}; it must be 1..={MAX_FLOOR_CHIPS}")));
    }
    if !(1..=MAX_FLOOR_THREADS).contains(&threads) {
        return Err(Error::Input(format!("memory_floor: threads = {threads}; it must be 1..={MAX_FLOOR_THREADS}")));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Input(format!("memory_floor: could not start {threads} threads: {e}")))?;
    let cores = chips * CORES_PER_CHIP;
    let mut state = State::new(cores);
    let ticks = (core_ticks / cores).max(5);
    let mut sum = 0u64;
    for t in 0..2 {
        sum = sum.wrapping_add(tick(&mut state, t, &pool));
    }
    let start = Instant::now();
    for t in 2..2 + ticks {
        sum = sum.wrapping_add(tick(&mut state, t, &pool));
    }
    let ns = start.elapsed().as_secs_f64() * 1e9 / (cores * ticks) as f64;
    std::hint::black_box(sum);
    Ok(ns)
}

/// Bytes of state [`memory_floor`] allocates for `chips` chips.
pub fn memory_floor_bytes(chips: usize) -> usize {
    let cores = chips * CORES_PER_CHIP;
    cores
        * (std::mem::size_of::<Crossbar>()
            + std::mem::size_of::<Potentials>()
            + std::mem::size_of::<Weights>()
            + std::mem::size_of::<LineAligned<[u32; NEURONS]>>()
            + std::mem::size_of::<Scheduler>()
            + std::mem::size_of::<OwnState>())
}

struct State {
    own: Vec<OwnState>,
    crossbars: Vec<Crossbar>,
    potentials: Vec<Potentials>,
    weights: Vec<Weights>,
    routes: Vec<LineAligned<[u32; NEURONS]>>,
    schedulers: Vec<Scheduler>,
}

impl State {
    fn new(cores: usize) -> Self {
        let state = Self {
            own: (0..cores).map(|c| LineAligned([c as u64; 24])).collect(),
            crossbars: (0..cores).map(|c| LineAligned([[c as u64; 4]; NEURONS])).collect(),
            potentials: (0..cores).map(|c| LineAligned([c as i16; NEURONS])).collect(),
            weights: (0..cores).map(|c| Weights([c as u8; 272])).collect(),
            routes: (0..cores).map(|c| LineAligned([c as u32; NEURONS])).collect(),
            schedulers: (0..cores).map(|_| LineAligned(std::array::from_fn(|_| AtomicU64::new(0)))).collect(),
        };
        advise_huge_pages(vec![
            block(&state.own),
            block(&state.crossbars),
            block(&state.potentials),
            block(&state.weights),
            block(&state.routes),
            block(&state.schedulers),
        ]);
        state
    }
}

fn block<T>(v: &[T]) -> (usize, usize) {
    (v.as_ptr() as usize, std::mem::size_of_val(v))
}

/// The random choices of core `c` in tick `t` (the same when prefetching and when reading):
/// splitmix64 of (c, t): crossbar rows and routes (8 bits each), delivery targets, and
/// whether each delivery leaves the chip (8 bits each).
fn draws(c: usize, t: usize) -> [u64; 3] {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let seed = ((c as u64) << 20 | t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    [mix(seed), mix(seed ^ 0xD1B5_4A32_D192_ED03), mix(seed ^ 0x8CB9_2BA7_2F3D_8DD7)]
}

fn byte(x: u64, k: usize) -> usize {
    (x >> (8 * k)) as usize & 0xFF
}

/// One byte in each cache line of `w` (the first of `w` in the first line).
fn weight_lines(w: &Weights) -> impl Iterator<Item = *const u8> + '_ {
    let start = w.0.as_ptr();
    let lines = (start as usize % LINE + w.0.len()).div_ceil(LINE);
    (0..lines).map(move |k| start.wrapping_add((k * LINE).saturating_sub(start as usize % LINE)))
}

fn prefetch<T>(p: &T) {
    prefetch_line((p as *const T).cast());
}

/// One tick over all cores, split among the pool's threads; returns a sum of what was read (so that
/// nothing is optimised away).
fn tick(s: &mut State, t: usize, pool: &rayon::ThreadPool) -> u64 {
    let part = s.potentials.len().div_ceil(pool.current_num_threads());
    let State { own, crossbars, potentials, weights, routes, schedulers } = s;
    let shared = Shared { crossbars, weights, routes, schedulers };
    pool.install(|| {
        potentials
            .par_chunks_mut(part)
            .zip(own.par_chunks_mut(part))
            .enumerate()
            .map(|(k, (potentials, own))| tick_cores(&shared, potentials, own, k * part, t))
            .reduce(|| 0, u64::wrapping_add)
    })
}

/// What all threads read (the schedulers are written with atomic ORs, as in the engine).
struct Shared<'a> {
    crossbars: &'a [Crossbar],
    weights: &'a [Weights],
    routes: &'a [LineAligned<[u32; NEURONS]>],
    schedulers: &'a [Scheduler],
}

/// The cores `first..first + potentials.len()` in order, as one thread of the engine does;
/// `own` holds their own states.
fn tick_cores(s: &Shared<'_>, potentials: &mut [Potentials], own: &mut [OwnState], first: usize, t: usize) -> u64 {
    let (cores, end) = (s.crossbars.len(), first + potentials.len());
    let slot = t % SLOTS;
    let own_lines = own.as_ptr().cast::<u8>();
    let ahead_fields = |c: usize| {
        let size = std::mem::size_of::<OwnState>();
        prefetch_bytes(own_lines.wrapping_add((c - first) * size), size);
        prefetch(&s.schedulers[c][4 * slot]);
    };
    for c in first..end.min(first + PREFETCH_FIELDS_AHEAD) {
        ahead_fields(c);
    }
    let mut queued: Vec<(usize, usize)> = Vec::with_capacity(PER_TICK);
    let mut sum = 0u64;
    let potential_lines = potentials.as_ptr().cast::<u8>();
    let ahead = |c: usize| {
        let size = std::mem::size_of::<Potentials>();
        prefetch_bytes(potential_lines.wrapping_add((c - first) * size), size);
        let r = draws(c, t)[0];
        for k in 0..PER_TICK {
            prefetch(&s.crossbars[c][byte(r, k)]);
        }
        for line in weight_lines(&s.weights[c]) {
            prefetch_line(line);
        }
        for line in (0..NEURONS).step_by(LINE / 4) {
            prefetch(&s.routes[c][line]);
        }
    };
    for c in first..end.min(first + PREFETCH_AHEAD) {
        ahead(c);
    }
    for c in first..end {
        if c + PREFETCH_FIELDS_AHEAD < end {
            ahead_fields(c + PREFETCH_FIELDS_AHEAD);
        }
        if c + PREFETCH_AHEAD < end {
            ahead(c + PREFETCH_AHEAD);
        }
        for line in own[c - first].iter().step_by(LINE / 8) {
            sum = sum.wrapping_add(*line);
        }
        own[c - first][0] = own[c - first][0].wrapping_add(1);
        for word in &s.schedulers[c][4 * slot..4 * slot + 4] {
            sum = sum.wrapping_add(word.swap(0, Ordering::Relaxed));
        }
        let [r, targets, far] = draws(c, t);
        let routes = r >> (8 * PER_TICK) | targets << 24;
        for k in 0..PER_TICK {
            sum = sum.wrapping_add(s.crossbars[c][byte(r, k)][0]);
        }
        let potentials = &mut potentials[c - first];
        for line in weight_lines(&s.weights[c]) {
            // SAFETY: `weight_lines` gives the line starts of `s.weights[c]`, clamped to it.
            sum = sum.wrapping_add(unsafe { *line } as u64);
        }
        for line in (0..NEURONS).step_by(LINE / 2) {
            potentials[line] = potentials[line].wrapping_add(1);
        }
        for k in 0..PER_TICK {
            sum = sum.wrapping_add(s.routes[c][byte(routes, k)] as u64);
        }
        for &(target, word) in queued.iter() {
            s.schedulers[target][word].fetch_or(1, Ordering::Relaxed);
        }
        queued.clear();
        for k in 0..PER_TICK {
            let pick = (targets.rotate_right(8 * k as u32) >> 8) as usize; // all but the word's byte
            let target = if byte(far, k) < FAR_PER_256 {
                pick % cores
            } else {
                c / CORES_PER_CHIP * CORES_PER_CHIP + pick % CORES_PER_CHIP
            };
            let word = (targets >> (8 * k)) as usize % 64;
            prefetch_line((&s.schedulers[target][word] as *const AtomicU64).cast());
            queued.push((target, word));
        }
    }
    for &(target, word) in &queued {
        s.schedulers[target][word].fetch_or(1, Ordering::Relaxed);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_time_and_rejects_bad_sizes() {
        for threads in [1, 2] {
            let ns = memory_floor(1, threads, 20_000).expect("one chip");
            assert!(ns.is_finite() && ns > 0.0, "{ns}");
        }
        assert!(matches!(memory_floor(0, 1, 1), Err(Error::Input(m)) if m.contains("chips = 0")));
        assert!(matches!(memory_floor(MAX_FLOOR_CHIPS + 1, 1, 1), Err(Error::Input(m)) if m.contains("chips")));
        assert!(matches!(memory_floor(1, 0, 1), Err(Error::Input(m)) if m.contains("threads = 0")));
        assert_eq!(memory_floor_bytes(1), 4096 * (8192 + 512 + 272 + 1024 + 512 + 192));
    }
}
