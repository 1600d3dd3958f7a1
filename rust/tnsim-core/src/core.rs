//! One core's run-time state and its tick (SPEC.md section 3).
//!
//! [`CoreState::tick`] is the only place where neurons are updated. The state is laid out for
//! speed: the crossbar is stored by axon (a 256-bit row of neurons per axon), weights as one
//! array per axon type, every other parameter in a small table of distinct *dynamics* that
//! neurons index, and each neuron's target packed in 32 bits.
//!
//! A tick splits the neurons in two groups that cannot influence each other:
//! - **deterministic** neurons (no stochastic synapse, leak or threshold) never touch the PRNG.
//!   Their synaptic integration runs axon by axon over all of them at once: for each active
//!   axon i in ascending order, `V[j] <- sat(V[j] + s[j][G_i])` for the neurons j it connects
//!   to. Per neuron this is exactly SPEC's order of additions, saturation included, and the
//!   loop over neurons is branch-free so the compiler vectorises it. Leak, threshold and
//!   reset follow, vectorised too when all deterministic neurons share their dynamics.
//! - **stochastic** neurons draw from the core's one PRNG in a fixed order (SPEC.md section
//!   4: neuron by neuron, and within a neuron its events in axon order, then its leak, then
//!   its threshold noise). The plain reading updates them one by one
//!   (`update_neuron_sequential`), with the PRNG chain and each neuron's short, irregular
//!   event loop on the critical path. The fast path (`CoreState::update_drawing`) gives every
//!   neuron the same draws by counting first: neuron j's draws are the run that follows those
//!   of the neurons before it, all of the tick's draws are generated at once, vectorised
//!   ([`Xorshift32::fill_draws`]), and integration, leak and threshold then run over all
//!   neurons lane by lane, each lane reading its own run.
//!
//! [`EvalMode::Sequential`] treats every neuron as stochastic and updates each on its own (the
//! sequential function handles both kinds): that plain path is what the fast one is tested
//! against.
//!
//! A deterministic core that received nothing and changed nothing in its last tick is *quiet*:
//! with no input its next tick would change nothing either (its update is a fixed function of
//! its state), so it is skipped until an axon becomes active.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::counters::Counters;
use crate::grid::GridIndex;
use crate::params::{CoreConfig, NeuronParams, ResetMode, AXONS, AXON_TYPES, CHIP_SIDE, NEURONS, SLOTS, V_MAX, V_MIN};
use crate::potentials::{stays_narrow, CorePotentials, NarrowPotentials, PotentialStore};
use crate::prng::{draw_position, Xorshift32};

/// Run `$body` with `$i` bound to the position of every set bit of `$words` (a `[u64; 4]`),
/// in ascending order. Word by word with the word in a register: an iterator over the 256
/// bits kept its state in memory, a store and reload per bit that kept the crossbar-row loads
/// from overlapping (about 10 % of the tick). A macro rather than a function taking a closure:
/// a closure is compiled on its own, without the target features of the tick it is written
/// in, and large ones were not inlined back (the integration ran as scalar SSE2 code).
macro_rules! for_each_bit {
    ($words:expr, |$i:ident| $body:block) => {
        for (k, &word) in $words.iter().enumerate() {
            let mut w = word;
            while w != 0 {
                let $i = k * 64 + w.trailing_zeros() as usize;
                w &= w - 1;
                $body
            }
        }
    };
}

/// How neurons are evaluated. Results are identical; only speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvalMode {
    /// Vectorised where exact, sequential elsewhere, quiet cores skipped.
    #[default]
    Fast,
    /// Every neuron sequentially, no skipping (the plain reading of SPEC.md).
    Sequential,
}

/// Every neuron parameter except the weights, the initial potential and the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dynamics {
    pub leak: i32,
    pub threshold: i32,
    pub negative_threshold: i32,
    pub reset_value: i32,
    /// 2^M - 1.
    pub mask: i32,
    pub mask_bits: u8,
    pub reset_mode: ResetMode,
    pub stochastic_weights: [bool; AXON_TYPES],
    pub stochastic_leak: bool,
    pub leak_reversal: bool,
    pub negative_saturation: bool,
}

impl Dynamics {
    fn of(n: &NeuronParams) -> Self {
        Self {
            leak: n.leak,
            threshold: n.threshold,
            negative_threshold: n.negative_threshold,
            reset_value: n.reset_value,
            mask: (1i32 << n.threshold_mask_bits) - 1,
            mask_bits: n.threshold_mask_bits,
            reset_mode: n.reset_mode,
            stochastic_weights: n.stochastic_weights,
            stochastic_leak: n.stochastic_leak,
            leak_reversal: n.leak_reversal,
            negative_saturation: n.negative_saturation,
        }
    }

    /// Whether a neuron with these dynamics ever draws a random number.
    pub fn draws(&self) -> bool {
        self.stochastic_leak || self.mask_bits > 0 || self.stochastic_weights.iter().any(|&b| b)
    }
}

/// A value that starts a cache line. The heap allocator aligns to 16 bytes only, so without
/// this a 1 KiB array usually spans 17 lines instead of 16 and half of a crossbar's 32-byte
/// rows (or a scheduler's slots) straddle two lines: more lines per core-tick, for nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct LineAligned<T>(pub T);

impl<T> Deref for LineAligned<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for LineAligned<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A core's 256 membrane potentials, as a tick updates them (stored between ticks in 16 or 32
/// bits, see [`crate::potentials`]).
pub type Potentials = LineAligned<[i32; NEURONS]>;
/// A core's per-type weights, one array of 256 neurons per axon type, 8-bit.
type NarrowWeights = LineAligned<[[i8; NEURONS]; AXON_TYPES]>;
/// The same, 16-bit (for a core with a weight outside -128..=127).
type WideWeights = LineAligned<[[i16; NEURONS]; AXON_TYPES]>;

/// A core's weights as a 2-bit code per neuron and axon type into four values per type, for a
/// core whose weights of each type take at most four values (each in -128..=127) among the
/// neurons that type reaches: +-1 weights, or the paper's tables (each neuron's a permutation
/// of -2, -1, +1, +2). 272 bytes instead of 1 KiB, so a tick brings in 5 lines from memory
/// instead of 16; the tick expands it into the 8-bit table, in L1 (see [`CodedWeights::expand`]).
/// A weight only ever scales a synaptic event, so the weight of a type that reaches no synapse
/// of a neuron is never read: such a neuron's code is 0, whatever its weight.
#[derive(Debug, Clone)]
#[repr(C, align(16))]
struct CodedWeights {
    /// The codes as bit planes: bit j % 64 of `code[g][b][j / 64]` is bit b of neuron j's code
    /// for axon type g.
    code: [[[u64; 4]; 2]; AXON_TYPES],
    /// The four values of each type, by code.
    values: [[i8; 4]; AXON_TYPES],
}

impl CodedWeights {
    /// The coded form of the weights `weight(j, g)` of a core with crossbar `rows` and axon
    /// types `type_of(i)`, or None where some type's reached neurons have more than four
    /// distinct weights or one outside -128..=127.
    fn of(
        rows: &[[u64; 4]; AXONS],
        type_of: impl Fn(usize) -> usize,
        weight: impl Fn(usize, usize) -> i32,
    ) -> Option<Self> {
        let mut reached = [[0u64; 4]; AXON_TYPES];
        for (i, row) in rows.iter().enumerate() {
            for (r, w) in reached[type_of(i)].iter_mut().zip(row) {
                *r |= w;
            }
        }
        let mut coded = CodedWeights { code: [[[0; 4]; 2]; AXON_TYPES], values: [[0; 4]; AXON_TYPES] };
        for (g, reached) in reached.iter().enumerate() {
            let mut values = 0;
            for j in (0..NEURONS).filter(|&j| bit(reached, j)) {
                let w = weight(j, g);
                let code = match coded.values[g][..values].iter().position(|&v| v as i32 == w) {
                    Some(code) => code,
                    None if values < 4 && (-128..=127).contains(&w) => {
                        coded.values[g][values] = w as i8;
                        values += 1;
                        values - 1
                    }
                    None => return None,
                };
                coded.code[g][0][j / 64] |= (code as u64 & 1) << (j % 64);
                coded.code[g][1][j / 64] |= (code as u64 >> 1) << (j % 64);
            }
        }
        Some(coded)
    }

    /// The 8-bit table of the weights (see [`CodedWeights::expand`]).
    #[inline(always)]
    fn expanded(&self, isa: Isa) -> NarrowWeights {
        let mut table = LineAligned([[0; NEURONS]; AXON_TYPES]);
        self.expand(&mut table, isa);
        table
    }

    /// Write the 8-bit table of the weights into `table` (a neuron that a type does not reach
    /// gets that type's first value): three byte selects per 64 neurons and type with AVX-512;
    /// otherwise eight at a time through a table of byte lanes (ticks run coded weights only
    /// with AVX-512: [`Cores::set_isa`] lays them out anew for other instruction sets, through
    /// this expansion).
    #[inline(always)]
    fn expand(&self, table: &mut NarrowWeights, isa: Isa) {
        match isa {
            #[cfg(x86_kernels)]
            // SAFETY: `Isa::Avx512` is only ever made (by `Isa::detect`, or clamped by
            // `Isa::supported`) when the CPU has those instructions.
            Isa::Avx512 => unsafe { self.expand_avx512(table) },
            _ => {
                // Eight neurons per 64-bit word: each byte of a bit plane made into byte lanes.
                let select = |lanes: u64, a: u64, b: u64| a ^ ((a ^ b) & lanes); // b where set
                for (g, row) in table.iter_mut().enumerate() {
                    let [v0, v1, v2, v3] = self.values[g].map(|v| u64::from_ne_bytes([v as u8; 8]));
                    for (k, weights) in row.chunks_exact_mut(8).enumerate() {
                        let lanes = |b: usize| BYTE_LANES[(self.code[g][b][k / 8] >> (8 * (k % 8))) as u8 as usize];
                        let (low_bits, high_bits) = (lanes(0), lanes(1));
                        let v = select(high_bits, select(low_bits, v0, v1), select(low_bits, v2, v3));
                        for (w, byte) in weights.iter_mut().zip(v.to_le_bytes()) {
                            *w = byte as i8;
                        }
                    }
                }
            }
        }
    }

    #[cfg(x86_kernels)]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn expand_avx512(&self, table: &mut NarrowWeights) {
        use std::arch::x86_64::{__m512i, _mm512_mask_blend_epi8, _mm512_set1_epi8, _mm512_storeu_si512};
        for (g, row) in table.iter_mut().enumerate() {
            let [v0, v1, v2, v3] = [0, 1, 2, 3].map(|code| _mm512_set1_epi8(self.values[g][code]));
            for (w, lanes) in row.chunks_exact_mut(64).enumerate() {
                let (low_bits, high_bits) = (self.code[g][0][w], self.code[g][1][w]);
                let low = _mm512_mask_blend_epi8(low_bits, v0, v1);
                let high = _mm512_mask_blend_epi8(low_bits, v2, v3);
                let v = _mm512_mask_blend_epi8(high_bits, low, high);
                // SAFETY: `lanes` is 64 bytes.
                unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast::<__m512i>(), v) };
            }
        }
    }
}

/// `BYTE_LANES[b]`: byte k all ones where bit k of `b` is set (to select bytes by bits).
static BYTE_LANES: [u64; 256] = {
    let mut lanes = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            if (b >> k) & 1 == 1 {
                lanes[b] |= 0xFF << (8 * k);
            }
            k += 1;
        }
        b += 1;
    }
    lanes
};

/// Where a core's weights are in [`CoreTables`]: coded when they take few values, else 8-bit
/// when every weight fits, else 16-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightsAt {
    Coded(u32),
    Narrow(u32),
    Wide(u32),
}

/// A core's weights as a tick reads them: borrowed from [`CoreTables`], or expanded from
/// [`CodedWeights`].
#[derive(Clone, Copy)]
enum WeightsRef<'a> {
    Narrow(&'a NarrowWeights),
    Wide(&'a WideWeights),
}

impl WeightsRef<'_> {
    #[inline(always)]
    fn get(self, g: usize, j: usize) -> i32 {
        match self {
            WeightsRef::Narrow(w) => w[g][j] as i32,
            WeightsRef::Wide(w) => w[g][j] as i32,
        }
    }
}

/// The per-neuron arrays that a tick reads but never writes, of all cores, in tables ordered
/// by core. A tick sweeps the cores in order, so each table (and the potentials) is read as
/// one long stream that the hardware prefetcher follows from core to core; as small blocks
/// of each core side by side, every 1 KiB array was a new short stream to detect. (See
/// docs/performance-history.md, "Tables by core".)
#[derive(Debug, Clone, Default)]
pub struct CoreTables {
    /// Each core's crossbar: `rows[k][i]` has bit j set when axon i of core k connects to
    /// neuron j. In one table rather than a heap block per core, so that where the rows lie
    /// does not depend on what the process allocated before.
    rows: Vec<LineAligned<[[u64; 4]; AXONS]>>,
    /// Each neuron's target, packed (see [`Route::pack`]); indexed by core.
    routes: Vec<LineAligned<[u32; NEURONS]>>,
    /// The distinct dynamics of the cores whose neurons have several (see [`DynamicsTable`]),
    /// each core's a run of them, in core order.
    dynamics: Vec<Dynamics>,
    /// Each neuron's index into its core's run of `dynamics`, for those cores, in core order.
    dynamics_index: Vec<LineAligned<[u8; NEURONS]>>,
    /// The [`FireParams`] of each of `dynamics` as columns: for the run `at..at + len` of
    /// `dynamics`, `fire[FIRE_COLUMNS * at..]` holds each of the [`FIRE_COLUMNS`] numbers of
    /// the run's `len` dynamics, one number after the other (see [`FireColumns`]).
    fire: Vec<i32>,
    /// The drawing setups of those cores whose neurons draw, in core order.
    drawing: Vec<DrawingSetup>,
    /// Weights of the cores whose weights take few values (see [`CodedWeights`]), in core order.
    coded: Vec<CodedWeights>,
    /// Weights of the other cores whose weights all fit in 8 bits, in core order.
    narrow: Vec<NarrowWeights>,
    /// Weights of the other cores, in core order.
    wide: Vec<WideWeights>,
}

impl CoreTables {
    /// The weights at `at` as stored: a table to read, or coded weights to expand first.
    #[inline(always)]
    fn weights(&self, at: WeightsAt) -> Result<WeightsRef<'_>, &CodedWeights> {
        match at {
            WeightsAt::Coded(k) => Err(&self.coded[k as usize]),
            WeightsAt::Narrow(k) => Ok(WeightsRef::Narrow(&self.narrow[k as usize])),
            WeightsAt::Wide(k) => Ok(WeightsRef::Wide(&self.wide[k as usize])),
        }
    }

    /// The weights at `at` as bytes (start, length), for prefetching.
    fn weight_bytes(&self, at: WeightsAt) -> (*const u8, usize) {
        fn bytes<T>(table: &T) -> (*const u8, usize) {
            ((table as *const T).cast(), std::mem::size_of::<T>())
        }
        match at {
            WeightsAt::Coded(k) => bytes(&self.coded[k as usize]),
            WeightsAt::Narrow(k) => bytes(&self.narrow[k as usize]),
            WeightsAt::Wide(k) => bytes(&self.wide[k as usize]),
        }
    }

    fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        self.routes.shrink_to_fit();
        self.dynamics.shrink_to_fit();
        self.dynamics_index.shrink_to_fit();
        self.drawing.shrink_to_fit();
        self.fire.shrink_to_fit();
        self.coded.shrink_to_fit();
        self.narrow.shrink_to_fit();
        self.wide.shrink_to_fit();
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.rows.capacity() * std::mem::size_of::<LineAligned<[[u64; 4]; AXONS]>>()
            + self.routes.capacity() * std::mem::size_of::<LineAligned<[u32; NEURONS]>>()
            + self.dynamics.capacity() * std::mem::size_of::<Dynamics>()
            + self.dynamics_index.capacity() * std::mem::size_of::<LineAligned<[u8; NEURONS]>>()
            + self.drawing.capacity() * std::mem::size_of::<DrawingSetup>()
            + self.fire.capacity() * std::mem::size_of::<i32>()
            + self.coded.capacity() * std::mem::size_of::<CodedWeights>()
            + self.narrow.capacity() * std::mem::size_of::<NarrowWeights>()
            + self.wide.capacity() * std::mem::size_of::<WideWeights>()
    }

    /// The tables as heap blocks (address, bytes).
    fn blocks(&self) -> [(usize, usize); 9] {
        [
            (self.rows.as_ptr() as usize, std::mem::size_of_val(&self.rows[..])),
            (self.routes.as_ptr() as usize, std::mem::size_of_val(&self.routes[..])),
            (self.dynamics.as_ptr() as usize, std::mem::size_of_val(&self.dynamics[..])),
            (self.dynamics_index.as_ptr() as usize, std::mem::size_of_val(&self.dynamics_index[..])),
            (self.drawing.as_ptr() as usize, std::mem::size_of_val(&self.drawing[..])),
            (self.fire.as_ptr() as usize, std::mem::size_of_val(&self.fire[..])),
            (self.coded.as_ptr() as usize, std::mem::size_of_val(&self.coded[..])),
            (self.narrow.as_ptr() as usize, std::mem::size_of_val(&self.narrow[..])),
            (self.wide.as_ptr() as usize, std::mem::size_of_val(&self.wide[..])),
        ]
    }
}

/// All cores of a simulation: each core's own state, and the per-neuron arrays in tables
/// ordered by core (the potentials, which a tick writes, apart from the read-only
/// [`CoreTables`], so that threads can update disjoint runs of cores while sharing the tables).
#[derive(Debug, Clone)]
pub struct Cores {
    pub states: Vec<CoreState>,
    pub potentials: PotentialStore,
    pub tables: CoreTables,
    /// Whether weights that take few values are coded (see [`Cores::codes_weights`]).
    coded_weights: bool,
}

impl Cores {
    /// The cores (x, y, configuration) in this order; core k's scheduler is the k-th. The
    /// weights are laid out for instruction set `isa` (see [`Cores::set_isa`]).
    pub fn new<'a>(configs: impl Iterator<Item = (u32, u32, &'a CoreConfig)>, isa: Isa) -> Self {
        let mut tables = CoreTables::default();
        let (mut states, mut potentials) = (Vec::new(), PotentialStore::default());
        let coded = Self::codes_weights(isa);
        for (k, (x, y, cfg)) in configs.enumerate() {
            let index = u32::try_from(k).expect("fewer than 2^32 cores");
            let state = CoreState::new(index, x, y, cfg, &mut tables, coded);
            potentials
                .push(std::array::from_fn(|j| cfg.neurons[j].initial_potential), state.potentials_stay_narrow(&tables));
            states.push(state);
        }
        states.shrink_to_fit();
        potentials.shrink_to_fit();
        tables.shrink_to_fit();
        Self { states, potentials, tables, coded_weights: coded }
    }

    /// Replace every core's potentials (in core order), each stored narrow where its dynamics
    /// and the new values allow.
    pub fn set_potentials(&mut self, values: impl Iterator<Item = [i32; NEURONS]>) {
        let tables = &self.tables;
        self.potentials =
            PotentialStore::new(values.zip(&self.states).map(|(v, s)| (v, s.potentials_stay_narrow(tables))));
        debug_assert_eq!(self.potentials.len(), self.states.len());
    }

    /// Whether weights that take few values are stored coded ([`CodedWeights`]) for ticks
    /// run with `isa`: with AVX-512 the expansion costs a few ns and the smaller table saves
    /// more (full chip about the same, 16 chips 10-15 % faster); with AVX2 the expansion
    /// costs more than the memory saves (2-5 % slower, measured), and more again below.
    fn codes_weights(isa: Isa) -> bool {
        isa == Isa::Avx512
    }

    /// Lay the weights out for ticks run with `isa`: coded where they allow it when `isa` is
    /// AVX-512 (there the expansion costs less than the smaller table saves; not with AVX2),
    /// else 8-bit tables. The tables are rebuilt in core order where the layout changes.
    /// Results do not depend on the layout. Returns whether anything was rebuilt.
    pub fn set_isa(&mut self, isa: Isa) -> bool {
        let coded = Self::codes_weights(isa);
        if coded == self.coded_weights {
            return false;
        }
        self.coded_weights = coded;
        let (old_coded, old_narrow) = (std::mem::take(&mut self.tables.coded), std::mem::take(&mut self.tables.narrow));
        let rows = &self.tables.rows;
        for state in &mut self.states {
            let table = match state.weights {
                WeightsAt::Coded(k) => old_coded[k as usize].expanded(Isa::Baseline),
                WeightsAt::Narrow(k) => old_narrow[k as usize],
                WeightsAt::Wide(_) => continue,
            };
            let recoded = coded.then(|| {
                CodedWeights::of(&rows[state.index as usize], |i| state.axon_type(i), |j, g| table[g][j] as i32)
            });
            state.weights = match recoded.flatten() {
                Some(c) => {
                    self.tables.coded.push(c);
                    WeightsAt::Coded((self.tables.coded.len() - 1) as u32)
                }
                None => {
                    self.tables.narrow.push(table);
                    WeightsAt::Narrow((self.tables.narrow.len() - 1) as u32)
                }
            };
        }
        self.tables.shrink_to_fit();
        true
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Bytes of state of all cores: their own, the potentials and the tables.
    pub fn memory_bytes(&self) -> usize {
        self.states.iter().map(CoreState::memory_bytes).sum::<usize>()
            + self.potentials.memory_bytes()
            + self.tables.memory_bytes()
    }

    /// The heap blocks (address, bytes) that a tick reads: the core states, the potentials and
    /// the tables, crossbar rows among them (see [`crate::pages`]).
    pub(crate) fn hot_blocks(&self) -> Vec<(usize, usize)> {
        let mut blocks = vec![self.potentials.block()];
        blocks.push((self.states.as_ptr() as usize, std::mem::size_of_val(&self.states[..])));
        blocks.extend(self.tables.blocks());
        blocks
    }
}

/// A neuron's target packed in 32 bits (see [`Route::pack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    None,
    Axon { dx: i32, dy: i32, axon: u8, delay: u8 },
    Output { port: u32 },
}

impl Route {
    const KIND_AXON: u32 = 1 << 30;
    const KIND_PORT: u32 = 2 << 30;

    /// bits 30-31 kind (0 none, 1 axon, 2 port); axon: dx + 256 in bits 0-8, dy + 256 in
    /// 9-17, axon in 18-25, delay in 26-29; port: the port in bits 0-29.
    pub fn pack(self) -> u32 {
        match self {
            Route::None => 0,
            Route::Axon { dx, dy, axon, delay } => {
                Self::KIND_AXON
                    | (dx + 256) as u32
                    | ((dy + 256) as u32) << 9
                    | (axon as u32) << 18
                    | (delay as u32) << 26
            }
            Route::Output { port } => Self::KIND_PORT | port,
        }
    }

    #[inline(always)]
    pub fn unpack(p: u32) -> Self {
        match p & (3 << 30) {
            Self::KIND_AXON => Route::Axon {
                dx: (p & 0x1FF) as i32 - 256,
                dy: ((p >> 9) & 0x1FF) as i32 - 256,
                axon: (p >> 18) as u8,
                delay: ((p >> 26) & 0xF) as u8,
            },
            Self::KIND_PORT => Route::Output { port: p & 0x3FFF_FFFF },
            _ => Route::None,
        }
    }

    pub fn of(n: &NeuronParams) -> Self {
        if n.has_axon_target() {
            Route::Axon { dx: n.target_dx, dy: n.target_dy, axon: n.target_axon as u8, delay: n.target_delay }
        } else if n.output_port >= 0 {
            Route::Output { port: n.output_port as u32 }
        } else {
            Route::None
        }
    }
}

/// What every core's tick needs to know, the same for all cores of a tick.
#[derive(Clone, Copy)]
pub struct TickContext<'a> {
    pub t: u64,
    pub record_spikes: bool,
    pub mode: EvalMode,
    pub lookup: &'a GridIndex,
    pub schedulers: &'a [Scheduler],
    pub tables: &'a CoreTables,
    pub isa: Isa,
}

/// The instruction set the tick is compiled for, chosen at run time (results are identical).
/// Ordered from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Isa {
    /// Whatever the build targets (SSE2 on a generic x86_64 build).
    #[default]
    Baseline,
    /// AVX2 with BMI and POPCNT.
    Avx2,
    /// AVX-512 (F, BW, VL, DQ, VPOPCNTDQ) on top of AVX2.
    Avx512,
}

impl Isa {
    /// The widest instruction set this CPU supports, unless `TNSIM_ISA` (baseline, avx2 or
    /// avx512) asks for a narrower one.
    pub fn detect() -> Self {
        let wanted = std::env::var("TNSIM_ISA").ok().and_then(|name| Self::from_name(&name));
        wanted.unwrap_or(Isa::Avx512).supported()
    }

    /// This instruction set, or the widest the CPU supports if that is narrower (running code
    /// compiled for features the CPU lacks would be undefined behaviour).
    pub fn supported(self) -> Self {
        self.min(Self::best_supported())
    }

    /// The instruction set of a name given by [`Isa::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Isa::Baseline, Isa::Avx2, Isa::Avx512].into_iter().find(|isa| isa.name() == name)
    }

    /// The widest instruction set this CPU supports.
    pub fn best_supported() -> Self {
        #[cfg(x86_kernels)]
        {
            let avx2 = is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("bmi1")
                && is_x86_feature_detected!("bmi2")
                && is_x86_feature_detected!("popcnt")
                && is_x86_feature_detected!("lzcnt")
                && is_x86_feature_detected!("fma");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vpopcntdq");
            if avx512 {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// A core's scheduler: 16 slots of 256 bits; slot t mod 16 holds the axons to integrate at
/// tick t. Shared between threads during a tick: a core reads and clears only the slot of the
/// current tick, and spikes sent in that tick go to other slots (delays are 1..15), with an
/// atomic OR. So no slot is read and written in the same tick, and since OR commutes, the
/// result does not depend on which thread delivers first.
#[derive(Debug, Default)]
#[repr(align(64))] // a slot is half a line: aligned, it never straddles two
pub struct Scheduler {
    slots: [[AtomicU64; 4]; SLOTS],
}

impl Scheduler {
    /// Set an axon's bit in a slot (OR: a bit already set stays set).
    #[inline(always)]
    pub fn set(&self, slot: usize, axon: usize) {
        self.slots[slot][axon / 64].fetch_or(1 << (axon % 64), Ordering::Relaxed);
    }

    /// [`Scheduler::set`] where no other thread writes this scheduler (between the parallel
    /// phases): a plain load and store, not an atomic read-modify-write.
    #[inline(always)]
    pub fn set_exclusive(&self, slot: usize, axon: usize) {
        let word = &self.slots[slot][axon / 64];
        word.store(word.load(Ordering::Relaxed) | 1 << (axon % 64), Ordering::Relaxed);
    }

    /// Prefetch the word that [`Scheduler::set`] of this slot and axon changes.
    #[inline(always)]
    pub fn prefetch(&self, slot: usize, axon: usize) {
        prefetch_line((&self.slots[slot][axon / 64] as *const AtomicU64).cast());
    }

    /// Prefetch the line of a slot, which [`Scheduler::take`] reads (and clears when set).
    #[inline(always)]
    pub fn prefetch_slot(&self, slot: usize) {
        prefetch_line((&self.slots[slot] as *const [AtomicU64; 4]).cast());
    }

    /// The axons of a slot.
    #[inline(always)]
    pub fn slot(&self, slot: usize) -> [u64; 4] {
        std::array::from_fn(|k| self.slots[slot][k].load(Ordering::Relaxed))
    }

    /// The axons of a slot, clearing it.
    #[inline(always)]
    pub fn take(&self, slot: usize) -> [u64; 4] {
        let words = self.slot(slot);
        // Only write when there is something to clear: an idle core's line stays clean.
        for (w, &v) in self.slots[slot].iter().zip(&words) {
            if v != 0 {
                w.store(0, Ordering::Relaxed);
            }
        }
        words
    }

    /// Replace a slot (for restoring saved state).
    pub fn store(&self, slot: usize, words: [u64; 4]) {
        for (w, v) in self.slots[slot].iter().zip(words) {
            w.store(v, Ordering::Relaxed);
        }
    }
}

/// Where cores put what they produce in a tick: shared by the cores of a chunk of work,
/// which run one after the other on one thread.
#[derive(Debug, Default)]
pub struct TickSink {
    /// Deliveries queued by the last core: (target core, slot << 8 | axon); see [`deliver`].
    pub pending: Vec<(u32, u16)>,
    /// Counters summed over the cores.
    pub counters: Counters,
    /// Host output ports hit, in core and neuron order.
    pub ports: Vec<u32>,
    /// Spikes (tick, x, y, neuron), in core and neuron order, when recording.
    pub fired: Vec<(u32, u32, u16)>,
    /// Scratch: a core's PRNG states for its tick (see [`Xorshift32::fill_draws`]), kept here
    /// so that the cores of a chunk reuse one allocation.
    pub draws: Vec<u32>,
}

/// Store a narrow core's potentials back in 16 bits after its tick. They fit: they lie in
/// their neurons' [`crate::potentials::stored_range`], which is inside 16 bits for a core
/// stored narrow.
#[inline(always)]
fn narrow_into(v: &Potentials, stored: &mut NarrowPotentials) {
    debug_assert!(v.iter().all(|&x| i16::try_from(x).is_ok()), "a narrow core's potential left 16 bits");
    for (s, &x) in stored.iter_mut().zip(v.iter()) {
        *s = x as i16;
    }
}

/// Prefetch every cache line of the `len` bytes from `start` (which need not start a line).
#[inline(always)]
pub(crate) fn prefetch_bytes(start: *const u8, len: usize) {
    let first = start.wrapping_sub(start as usize % 64);
    for line in 0..(start as usize % 64 + len).div_ceil(64) {
        prefetch_line(first.wrapping_add(line * 64));
    }
}

/// Prefetch one cache line (PREFETCHT0 on x86-64, PRFM PLDL1KEEP on aarch64, no effect on
/// other architectures).
#[inline(always)]
pub(crate) fn prefetch_line(p: *const u8) {
    #[cfg(x86_kernels)]
    // SAFETY: a prefetch is a hint; it never faults, even on an invalid address, and SSE is
    // part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    // Stable Rust has no aarch64 prefetch intrinsic (`_prefetch` is unstable), hence the asm.
    // This project's x86 machines cannot build the crate for aarch64; `.ci/check-aarch64-asm`
    // assembles this line alone for aarch64 (where a nightly rustc is installed).
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above, PRFM is a hint that never faults; it reads and writes no memory the
    // program can see, and touches neither the stack nor the flags.
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(readonly, nostack, preserves_flags));
    }
    #[cfg(not(any(x86_kernels, target_arch = "aarch64")))]
    let _ = p;
}

#[inline(always)]
fn sat(v: i32) -> i32 {
    v.clamp(V_MIN, V_MAX)
}

/// The type of axon i from types packed 2 bits per axon.
#[inline(always)]
fn type_of(packed: &[u64; AXONS / 32], i: usize) -> usize {
    (packed[i / 32] >> (2 * (i % 32)) & 3) as usize
}

#[inline(always)]
fn bit(words: &[u64; 4], i: usize) -> bool {
    words[i / 64] >> (i % 64) & 1 == 1
}

/// A core's distinct neuron dynamics: one, the usual case, kept in the core's own state, or
/// several, a run of [`CoreTables`]' table with each neuron's index into it. (As heap blocks
/// of each core's own, they lay wherever the heap had room when the core was built, and cost
/// a miss and a page walk per core-tick: on 16 chips built in the process, 10-20 % of the
/// time.)
#[derive(Debug, Clone)]
enum DynamicsTable {
    One(Dynamics),
    /// `tables.dynamics[at..at + len]`, and each neuron's index into them at
    /// `tables.dynamics_index[index]`.
    Many {
        at: u32,
        len: u32,
        index: u32,
    },
}

/// Neuron j's dynamics, of a core's `table` ([`DynamicsTable::get`]) and `index`
/// ([`DynamicsTable::index`], empty where all share `table[0]`).
#[inline(always)]
fn dynamics_at<'a>(table: &'a [Dynamics], index: &[u8], j: usize) -> &'a Dynamics {
    if index.is_empty() {
        &table[0]
    } else {
        &table[index[j] as usize]
    }
}

impl DynamicsTable {
    /// The table `table` of a core being built and each neuron's index into it (`index`),
    /// added to `tables` when it has several.
    fn of(mut table: Vec<Dynamics>, index: Vec<u8>, tables: &mut CoreTables) -> Self {
        match table.len() {
            1 => Self::One(table.pop().expect("one")),
            len => {
                let at = u32::try_from(tables.dynamics.len()).expect("fewer than 2^32 dynamics");
                tables.fire.extend(FireColumns::numbers_of(&table));
                tables.dynamics.extend(table);
                tables.dynamics_index.push(LineAligned(index.try_into().expect("an index per neuron")));
                Self::Many { at, len: len as u32, index: (tables.dynamics_index.len() - 1) as u32 }
            }
        }
    }

    /// The dynamics, read from `tables` where they are there.
    #[inline(always)]
    fn get<'a>(&'a self, tables: &'a CoreTables) -> &'a [Dynamics] {
        match self {
            Self::One(d) => std::slice::from_ref(d),
            Self::Many { at, len, .. } => &tables.dynamics[*at as usize..(*at + *len) as usize],
        }
    }

    /// The [`FireParams`] of several dynamics as columns (none for one: they are worked out
    /// in place).
    #[inline(always)]
    fn fire<'a>(&self, tables: &'a CoreTables) -> FireColumns<'a> {
        match self {
            Self::One(_) => FireColumns { len: 0, numbers: &[] },
            Self::Many { at, len, .. } => {
                let (at, len) = (*at as usize, *len as usize);
                FireColumns { len, numbers: &tables.fire[FIRE_COLUMNS * at..FIRE_COLUMNS * (at + len)] }
            }
        }
    }

    /// Each neuron's index into the dynamics (empty for one).
    #[inline(always)]
    fn index<'a>(&self, tables: &'a CoreTables) -> &'a [u8] {
        match self {
            Self::One(_) => &[],
            Self::Many { index, .. } => &tables.dynamics_index[*index as usize][..],
        }
    }
}

/// A core while it runs (its potentials and its read-only per-neuron arrays, crossbar rows
/// among them, are kept in tables ordered by core: see [`Cores`]). Three cache lines, aligned,
/// which [`CoreState::prefetch_fields`] brings in (unaligned, most cores straddled four).
#[derive(Debug, Clone)]
#[repr(align(64))]
pub struct CoreState {
    pub x: u32,
    pub y: u32,
    /// Axon types, 2 bits each (see [`type_of`]).
    axon_types: [u64; AXONS / 32],
    weights: WeightsAt,
    /// Distinct dynamics of this core's neurons, and each neuron's index into them when
    /// there are several.
    dynamics: DynamicsTable,
    /// The kernel of every deterministic dynamics when there are several and their flags are
    /// all the same (their neurons then update lane by lane, vectorised).
    shared_kernel: Option<SharedKernel>,
    /// Where there are several dynamics and some neurons draw: what the fast path would
    /// otherwise work out from their dynamics, neuron by neuron, at every tick.
    drawing_setup: Option<u32>,
    /// Bit j set when neuron j draws random numbers (is updated sequentially).
    stochastic: [u64; 4],
    /// The largest |weight| of any neuron of this core (for [`CoreState::integrate_counted`]).
    max_abs_weight: u16,
    /// This core's index (its position in [`Cores`] and its scheduler's in the simulator's
    /// table; its routes in [`CoreTables`] are at the same position).
    pub index: u32,
    pub prng: Xorshift32,
    /// Nothing happened in the last tick and nothing will until an axon is active.
    quiet: bool,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<CoreState>() == 3 * 64, "a core's own state is three lines");

impl CoreState {
    /// The state of core `index` (the next of `tables`, which receives its routes and weights).
    fn new(index: u32, x: u32, y: u32, cfg: &CoreConfig, tables: &mut CoreTables, coded: bool) -> Self {
        debug_assert_eq!(tables.routes.len(), index as usize, "cores are added in index order");
        let mut axon_types = [0u64; AXONS / 32];
        for (i, &t) in cfg.axon_types.iter().enumerate() {
            axon_types[i / 32] |= (t as u64) << (2 * (i % 32));
        }
        let narrow = cfg.neurons.iter().all(|n| n.weights.iter().all(|&w| (-128..=127).contains(&w)));
        let coded = coded
            .then(|| CodedWeights::of(&cfg.rows, |i| cfg.axon_types[i] as usize, |j, g| cfg.neurons[j].weights[g]));
        let weights = if let Some(coded) = coded.flatten() {
            tables.coded.push(coded);
            WeightsAt::Coded((tables.coded.len() - 1) as u32)
        } else if narrow {
            tables
                .narrow
                .push(LineAligned(std::array::from_fn(|g| std::array::from_fn(|j| cfg.neurons[j].weights[g] as i8))));
            WeightsAt::Narrow((tables.narrow.len() - 1) as u32)
        } else {
            tables
                .wide
                .push(LineAligned(std::array::from_fn(|g| std::array::from_fn(|j| cfg.neurons[j].weights[g] as i16))));
            WeightsAt::Wide((tables.wide.len() - 1) as u32)
        };
        let mut dynamics: Vec<Dynamics> = Vec::new();
        let mut dynamics_index = Vec::with_capacity(NEURONS);
        let mut stochastic = [0u64; 4];
        let mut routes = LineAligned([0u32; NEURONS]);
        for (j, n) in cfg.neurons.iter().enumerate() {
            let d = Dynamics::of(n);
            let k = match dynamics.iter().position(|e| *e == d) {
                Some(k) => k,
                None => {
                    dynamics.push(d);
                    dynamics.len() - 1
                }
            };
            dynamics_index.push(k as u8);
            if d.draws() {
                stochastic[j / 64] |= 1 << (j % 64);
            }
            routes[j] = Route::of(n).pack();
        }
        if dynamics.len() == 1 {
            dynamics_index = Vec::new();
        }
        let shared_kernel = if dynamics_index.is_empty() { None } else { SharedKernel::of(&dynamics) };
        let drawing_setup = (!dynamics_index.is_empty() && stochastic != [0; 4]).then(|| {
            let setup = DrawingSetup::of(&dynamics, &dynamics_index, &stochastic);
            tables.drawing.push(setup);
            (tables.drawing.len() - 1) as u32
        });
        let dynamics = DynamicsTable::of(dynamics, dynamics_index, tables);
        tables.routes.push(routes);
        tables.rows.push(LineAligned(*cfg.rows));
        let max_abs_weight = cfg.neurons.iter().flat_map(|n| n.weights).map(i32::unsigned_abs).max().unwrap_or(0);
        Self {
            x,
            y,
            axon_types,
            weights,
            dynamics,
            shared_kernel,
            drawing_setup,
            stochastic,
            max_abs_weight: u16::try_from(max_abs_weight).expect("weights are validated to -255..=255"),
            index,
            prng: Xorshift32::new(cfg.seed),
            quiet: false,
        }
    }

    /// Set the PRNG state (restoring a saved simulation; the potentials are restored apart).
    pub fn restore(&mut self, prng: u32) {
        self.prng = Xorshift32::from_state(prng);
        self.quiet = false;
    }

    /// Bytes this core's own state occupies (its struct and its scheduler; not its share of
    /// the tables, see [`Cores::memory_bytes`]), for reports.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of::<Scheduler>()
    }

    /// Whether this core's potentials always fit 16 bits between ticks (see
    /// [`crate::potentials::stored_range`]).
    pub fn potentials_stay_narrow(&self, tables: &CoreTables) -> bool {
        self.dynamics.get(tables).iter().all(stays_narrow)
    }

    #[inline(always)]
    fn axon_type(&self, i: usize) -> usize {
        type_of(&self.axon_types, i)
    }

    /// Ask the CPU to start loading this core's own fields, which [`CoreState::prefetch`]
    /// reads first. On 16 chips they come from memory, and `prefetch` (a few cores later)
    /// would otherwise wait for them before it can ask for anything else. Reads nothing itself.
    #[inline]
    pub fn prefetch_fields(&self) {
        prefetch_bytes((self as *const Self).cast(), std::mem::size_of::<Self>());
    }

    /// Ask the CPU to start loading what [`CoreState::tick`] of tick `t` will read at random:
    /// the crossbar rows of the active axons (random lines of an 8 KiB table), the weights, the
    /// first line of the dynamics and the neurons' index into them, and the routes (the
    /// spiking neurons' lines are not known yet; all 16 lines cost less than waiting for about
    /// 5 random ones). The potentials are in another table (see
    /// [`crate::potentials::PotentialsChunk::prefetch`]). Returns whether the core will be
    /// ticked (false: it is quiet and has no input, and nothing was prefetched). A hint only;
    /// it changes no result.
    #[inline]
    pub fn prefetch(&self, t: u64, schedulers: &[Scheduler], tables: &CoreTables) -> bool {
        let active = schedulers[self.index as usize].slot((t % SLOTS as u64) as usize);
        if self.quiet && active == [0; 4] {
            return false; // it will be skipped
        }
        let rows = &tables.rows[self.index as usize];
        for_each_bit!(active, |i| {
            prefetch_line(rows[i].as_ptr().cast());
        });
        if active != [0; 4] {
            // Every line of the table (coded tables do not start lines).
            let (w, bytes) = tables.weight_bytes(self.weights);
            prefetch_bytes(w, bytes);
        }
        // A core whose neurons have dynamics of their own reads its run of them, their index
        // and (when some draw) its setup and fire parameters: a few lines each, of tables that
        // are not read in order. (A core of one dynamics keeps it in its own state.)
        if let DynamicsTable::Many { .. } = self.dynamics {
            let table = self.dynamics.get(tables);
            prefetch_bytes(table.as_ptr().cast(), std::mem::size_of_val(table));
            prefetch_bytes(self.dynamics.index(tables).as_ptr(), NEURONS);
            let fire = self.dynamics.fire(tables).numbers;
            prefetch_bytes(fire.as_ptr().cast(), std::mem::size_of_val(fire));
            if let Some(k) = self.drawing_setup {
                let setup = &tables.drawing[k as usize];
                prefetch_bytes((setup as *const DrawingSetup).cast(), std::mem::size_of::<DrawingSetup>());
            }
        }
        let routes = &tables.routes[self.index as usize];
        prefetch_bytes(routes.as_ptr().cast(), std::mem::size_of_val(routes));
        true
    }

    /// Run tick `ctx.t` of this core: take slot `t mod 16` of its scheduler, update all 256
    /// neurons, and send the spikes: to host ports into `sink`, to axons into `sink.pending`
    /// (performed by [`deliver`] during the same compute phase). Consumes one tick.
    pub fn tick(&mut self, v: CorePotentials<'_>, ctx: &TickContext<'_>, sink: &mut TickSink) {
        match ctx.isa {
            #[cfg(x86_kernels)]
            // SAFETY: `Isa::Avx512` is only ever constructed by `Isa::detect` (or
            // `Simulator::set_isa`, which clamps to it) after the CPU reported every feature
            // the function is compiled for.
            Isa::Avx512 => unsafe { self.tick_avx512(v, ctx, sink) },
            #[cfg(x86_kernels)]
            // SAFETY: as above, for the AVX2 feature set.
            Isa::Avx2 => unsafe { self.tick_avx2(v, ctx, sink) },
            _ => self.tick_body(v, ctx, sink),
        }
    }

    #[cfg(x86_kernels)]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt,fma")]
    unsafe fn tick_avx2(&mut self, v: CorePotentials<'_>, ctx: &TickContext<'_>, sink: &mut TickSink) {
        self.tick_body(v, ctx, sink)
    }

    #[cfg(x86_kernels)]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq")]
    unsafe fn tick_avx512(&mut self, v: CorePotentials<'_>, ctx: &TickContext<'_>, sink: &mut TickSink) {
        self.tick_body(v, ctx, sink)
    }

    /// The tick itself; inlined into one copy per instruction set so that the loops over
    /// neurons are vectorised for the widest registers the CPU has. A quiet core with no input
    /// is skipped; narrow potentials are widened for the tick and narrowed back after it.
    #[inline(always)]
    fn tick_body(&mut self, potentials: CorePotentials<'_>, ctx: &TickContext<'_>, sink: &mut TickSink) {
        let slot = (ctx.t % SLOTS as u64) as usize;
        if ctx.mode == EvalMode::Fast && self.quiet && ctx.schedulers[self.index as usize].slot(slot) == [0; 4] {
            sink.counters += Counters { neuron_updates: NEURONS as u64, ..Counters::default() };
            return;
        }
        match potentials {
            CorePotentials::Wide(v) => self.update(v, ctx, sink),
            CorePotentials::Narrow(stored) => {
                let mut v: Potentials = LineAligned(stored.map(i32::from));
                self.update(&mut v, ctx, sink);
                narrow_into(&v, stored);
            }
        }
    }

    /// Everything a tick does to a core that is not skipped, on its potentials widened.
    #[inline(always)]
    fn update(&mut self, potentials: &mut Potentials, ctx: &TickContext<'_>, sink: &mut TickSink) {
        let TickContext { t, record_spikes, mode, lookup, schedulers, tables, .. } = *ctx;
        let slot = (t % SLOTS as u64) as usize;
        let active = schedulers[self.index as usize].take(slot);
        let rows = &tables.rows[self.index as usize];
        let mut c = Counters { neuron_updates: NEURONS as u64, ..Counters::default() };
        let no_input = (active[0] | active[1] | active[2] | active[3]) == 0;
        // Coded weights are expanded on the stack (only theirs: the slot stays unwritten for
        // the others).
        let expanded;
        let weights = match tables.weights(self.weights) {
            Ok(table) => table,
            Err(coded) => {
                expanded = coded.expanded(ctx.isa);
                WeightsRef::Narrow(&expanded)
            }
        };

        // Synaptic events of all neurons: every connection of every active axon.
        for_each_bit!(active, |i| {
            let r = &rows[i];
            c.synaptic_events += (r[0].count_ones() + r[1].count_ones() + r[2].count_ones() + r[3].count_ones()) as u64;
        });

        let sequential_all = mode == EvalMode::Sequential;
        let seq_mask = if sequential_all { [!0u64; 4] } else { self.stochastic };
        let mut spikes = [0u64; 4];
        let mut changed = false;

        if !sequential_all && seq_mask != [!0u64; 4] {
            // Deterministic neurons, all at once.
            let det = [!seq_mask[0], !seq_mask[1], !seq_mask[2], !seq_mask[3]];
            let counted = self.integrate_counted(potentials, rows, &active, &det, weights, ctx.isa);
            if !counted {
                for_each_bit!(active, |i| {
                    let (r, g) = (&rows[i], self.axon_type(i));
                    let lanes = [r[0] & det[0], r[1] & det[1], r[2] & det[2], r[3] & det[3]];
                    match weights {
                        WeightsRef::Narrow(w) => integrate_axon(potentials, &lanes, &w[g]),
                        WeightsRef::Wide(w) => integrate_axon(potentials, &lanes, &w[g]),
                    }
                });
            }
            let (table, index) = (self.dynamics.get(tables), self.dynamics.index(tables));
            if index.is_empty() && !table[0].draws() {
                changed = dynamics_uniform(potentials, &table[0], &mut spikes);
            } else if let Some(kernel) = self.shared_kernel {
                let columns = self.dynamics.fire(tables);
                changed = dynamics_indexed(potentials, table, columns, index, &kernel, &det, &mut spikes, ctx.isa);
            } else {
                for j in 0..NEURONS {
                    if bit(&seq_mask, j) {
                        continue;
                    }
                    let d = *dynamics_at(table, index, j);
                    let v0 = potentials[j];
                    let (v, spiked) = leak_and_threshold(v0, &d, 0);
                    potentials[j] = v;
                    changed |= v != v0;
                    spikes[j / 64] |= (spiked as u64) << (j % 64);
                }
            }
        }

        if sequential_all {
            // Each sequential neuron's events as a set of axons, built from the active rows
            // (work in proportion to the events, not to axons x neurons).
            let mut events = [[0u64; 4]; NEURONS];
            for_each_bit!(active, |i| {
                let r = &rows[i];
                let connected = [r[0] & seq_mask[0], r[1] & seq_mask[1], r[2] & seq_mask[2], r[3] & seq_mask[3]];
                for_each_bit!(connected, |j| {
                    events[j][i / 64] |= 1 << (i % 64);
                });
            });
            let (table, index) = (self.dynamics.get(tables), self.dynamics.index(tables));
            let mut prng = self.prng;
            for_each_bit!(seq_mask, |j| {
                let d = *dynamics_at(table, index, j);
                let v0 = potentials[j];
                let (v, spiked, stochastic_events) =
                    update_neuron_sequential(v0, j, &d, weights, &events[j], &self.axon_types, &mut prng);
                c.stochastic_synaptic_events += stochastic_events;
                potentials[j] = v;
                changed |= v != v0;
                spikes[j / 64] |= (spiked as u64) << (j % 64);
            });
            changed |= prng != self.prng;
            self.prng = prng;
        } else if seq_mask != [0; 4] {
            changed |= self.update_drawing(
                potentials,
                tables,
                rows,
                &active,
                weights,
                &seq_mask,
                &mut spikes,
                &mut c,
                &mut sink.draws,
                ctx.isa,
            );
        }

        // Send the spikes, in neuron order: to a host port now; to an axon by prefetching the
        // target scheduler line and queueing the delivery in `pending`, which the caller
        // performs later (see `deliver`), once the line has had time to arrive.
        for_each_bit!(spikes, |j| {
            c.spikes += 1;
            if record_spikes {
                sink.fired.push((self.x, self.y, j as u16));
            }
            match Route::unpack(tables.routes[self.index as usize][j]) {
                Route::None => {}
                Route::Axon { dx, dy, axon, delay } => {
                    let tx = (self.x as i32 + dx) as u32;
                    let ty = (self.y as i32 + dy) as u32;
                    let target = lookup.index_of(tx, ty);
                    let slot = ((t + delay as u64) % SLOTS as u64) as u16;
                    schedulers[target as usize].prefetch(slot as usize, axon as usize);
                    sink.pending.push((target, slot << 8 | axon as u16));
                    c.spikes_delivered += 1;
                    c.hops += dx.unsigned_abs() as u64 + dy.unsigned_abs() as u64;
                    // Dimension-ordered: along x at row y, then along y at column tx.
                    c.chip_crossings += (self.x / CHIP_SIDE).abs_diff(tx / CHIP_SIDE) as u64
                        + (self.y / CHIP_SIDE).abs_diff(ty / CHIP_SIDE) as u64;
                }
                Route::Output { port } => {
                    sink.ports.push(port);
                    c.output_spikes += 1;
                }
            }
        });

        c.active_cores = (c.synaptic_events > 0 || c.spikes > 0) as u64;
        self.quiet = no_input && c.spikes == 0 && !changed;
        sink.counters += c;
    }

    /// Synaptic integration of the deterministic neurons (`det`) by counting, when no partial
    /// sum can reach a saturation bound: then each `sat` of SPEC step 1 is the identity, and
    /// neuron j's V grows by sum over types g of (its events on axons of type g) x s_g. The
    /// events are counted in byte lanes: with AVX-512, 64 neurons per instruction (a masked
    /// byte add per 64-neuron word of each active row: four instructions per active axon where
    /// the axon-by-axon integration adds, saturates and stores 256 lanes of 32 bits); with
    /// AVX2, 32 neurons per four instructions; otherwise 8 neurons per 64-bit add
    /// ([`count_rows_portable`]). Returns false, having done nothing, where it does not apply:
    /// more than 255 active axons (a count must fit a byte), or |V| + active axons x the
    /// largest |weight| above V_MAX for some neuron.
    #[inline(always)]
    fn integrate_counted(
        &self,
        v: &mut [i32; NEURONS],
        rows: &[[u64; 4]; AXONS],
        active: &[u64; 4],
        det: &[u64; 4],
        weights: WeightsRef<'_>,
        isa: Isa,
    ) -> bool {
        let axons: u32 = active.iter().map(|w| w.count_ones()).sum();
        let reach = axons * self.max_abs_weight as u32;
        if axons > 255 || v.iter().fold(0u32, |m, &x| m.max(x.unsigned_abs())) + reach > V_MAX as u32 {
            return false;
        }
        // The active axons listed by type (branch-free: the type picks the list).
        let mut lists = [[0u8; AXONS]; AXON_TYPES];
        let mut lens = [0usize; AXON_TYPES];
        for_each_bit!(active, |i| {
            let g = self.axon_type(i);
            lists[g][lens[g]] = i as u8;
            lens[g] += 1;
        });
        let mut counts = [0u8; NEURONS];
        for g in 0..AXON_TYPES {
            if lens[g] == 0 {
                continue;
            }
            let axons = &lists[g][..lens[g]];
            match isa {
                #[cfg(x86_kernels)]
                // SAFETY: `Isa::Avx512` and `Isa::Avx2` are only ever made (by `Isa::detect`, or
                // clamped by `Isa::supported`) when the CPU has those instructions.
                Isa::Avx512 => unsafe { count_rows_avx512(rows, axons, det, &mut counts) },
                #[cfg(x86_kernels)]
                // SAFETY: as above.
                Isa::Avx2 => unsafe { count_rows_avx2(rows, axons, det, &mut counts) },
                _ => count_rows_portable(rows, axons, det, &mut counts),
            }
            match weights {
                WeightsRef::Narrow(w) => add_counted(v, &counts, &w[g]),
                WeightsRef::Wide(w) => add_counted(v, &counts, &w[g]),
            }
        }
        true
    }

    /// The neurons of `drawing` (those whose dynamics draw), in the fast mode: the same draws
    /// in the same order as [`update_neuron_sequential`] on one neuron after the other, but
    /// computed phase by phase over all of them, so that neither the PRNG chain nor the
    /// per-neuron event loops are on the critical path. Each neuron's draws are counted
    /// (its events of stochastic types, its leak and its threshold noise), which places the
    /// run of draws of neuron j after those of the neurons before it; all draws of the tick
    /// are generated at once ([`Xorshift32::fill_draws`]); the synaptic events are integrated
    /// axon by axon over all neurons, each reading the next draw of its own run; then leak,
    /// threshold and reset over all lanes at once (with each neuron's numbers looked up first
    /// when they differ). Returns whether anything changed.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn update_drawing(
        &mut self,
        v: &mut [i32; NEURONS],
        tables: &CoreTables,
        rows: &[[u64; 4]; AXONS],
        active: &[u64; 4],
        weights: WeightsRef<'_>,
        drawing: &[u64; 4],
        spikes: &mut [u64; 4],
        c: &mut Counters,
        draws: &mut Vec<u32>,
        isa: Isa,
    ) -> bool {
        // The neurons that draw for an event on an axon of each type; each neuron's leak and
        // noise draws; the numbers of its steps 2-6 (looked up once, for neurons of
        // different dynamics).
        debug_assert_eq!(*drawing, self.stochastic, "the fast path draws for the stochastic neurons");
        let mut by_type = [[0u64; 4]; AXON_TYPES];
        let leak_and_noise: [u32; NEURONS];
        let table = self.dynamics.get(tables);
        match self.drawing_setup {
            None => {
                let d = &table[0];
                for (g, lanes) in by_type.iter_mut().enumerate() {
                    if d.stochastic_weights[g] {
                        *lanes = *drawing;
                    }
                }
                leak_and_noise = [own_draws(d); NEURONS];
            }
            Some(k) => {
                let setup = &tables.drawing[k as usize];
                by_type = setup.by_type;
                leak_and_noise = setup.leak_and_noise.map(u32::from);
            }
        }

        // Each neuron's first draw: the number of draws of the neurons before it.
        let mut cursor = leak_and_noise;
        for_each_bit!(active, |i| {
            let (r, g) = (&rows[i], self.axon_type(i));
            let lanes = [r[0] & by_type[g][0], r[1] & by_type[g][1], r[2] & by_type[g][2], r[3] & by_type[g][3]];
            c.stochastic_synaptic_events += lanes.iter().map(|w| w.count_ones() as u64).sum::<u64>();
            count_lanes(&mut cursor, &lanes);
        });
        let mut total = 0u32;
        for n in cursor.iter_mut() {
            (*n, total) = (total, total + *n);
        }
        let mut prng = self.prng;
        prng.fill_draws(total as usize, draws);
        // The lane loops read a draw on every lane (see `draw_at`); with no draw at all (only
        // stochastic synapses, and no event of theirs) no lane uses what it reads.
        let draws: &[u32] = if draws.is_empty() { &[0] } else { draws };

        let start = *v;
        for_each_bit!(active, |i| {
            let (r, g) = (&rows[i], self.axon_type(i));
            let lanes = [r[0] & drawing[0], r[1] & drawing[1], r[2] & drawing[2], r[3] & drawing[3]];
            let stochastic = [r[0] & by_type[g][0], r[1] & by_type[g][1], r[2] & by_type[g][2], r[3] & by_type[g][3]];
            match weights {
                WeightsRef::Narrow(w) => integrate_axon_drawing(v, &mut cursor, &lanes, &stochastic, &w[g], draws, isa),
                WeightsRef::Wide(w) => integrate_axon_drawing(v, &mut cursor, &lanes, &stochastic, &w[g], draws, isa),
            }
        });
        match self.drawing_setup {
            Some(_) => {
                let index: &[u8; NEURONS] = self.dynamics.index(tables).try_into().expect("one index per neuron");
                let columns = self.dynamics.fire(tables);
                let fire = FireTable::of(columns, index, isa);
                // Flags shared by all the core's dynamics are one value for the whole lane loop,
                // which the compiler then specialises (8 % of such a core's tick).
                let flags = columns.column(FIRE_COLUMNS - 1);
                if flags.iter().all(|&f| f == flags[0]) {
                    let flags = flags[0] as u8;
                    leak_and_fire_lanes(
                        v,
                        |j| FireParams { flags, ..fire.get(j) },
                        drawing,
                        &cursor,
                        draws,
                        spikes,
                        isa,
                    )
                } else {
                    leak_and_fire_lanes(v, |j| fire.get(j), drawing, &cursor, draws, spikes, isa)
                }
            }
            None => {
                // All 256 neurons share dynamics[0], which draws.
                let p = FireParams::of(&table[0]);
                leak_and_fire_lanes(v, |_| p, drawing, &cursor, draws, spikes, isa);
            }
        }
        let changed = start != *v || prng != self.prng;
        self.prng = prng;
        changed
    }
}

/// OR each queued delivery (target core, slot << 8 | axon) into its scheduler.
///
/// An atomic OR is a full barrier on x86 and stalls until its line is in cache, so deliveries
/// are queued while the next core computes and performed after, when the prefetches issued
/// when they were queued have landed. Any time within the tick's compute phase is correct:
/// no core reads a slot that a spike of this tick is written into.
#[inline]
pub fn deliver(schedulers: &[Scheduler], pending: &[(u32, u16)]) {
    for &(target, slot_axon) in pending {
        schedulers[target as usize].set((slot_axon >> 8) as usize, (slot_axon & 0xFF) as usize);
    }
}

/// `V[j] <- sat(V[j] + w[j])` for every neuron j whose bit is set in `lanes`, branch-free.
#[inline(always)]
fn integrate_axon<W: Copy + Into<i32>>(v: &mut [i32; NEURONS], lanes: &[u64; 4], w: &[W; NEURONS]) {
    for (k, &word) in lanes.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let base = k * 64;
        let vs = &mut v[base..base + 64];
        let ws = &w[base..base + 64];
        for l in 0..64 {
            let on = ((word >> l) & 1) as i32;
            let add = ws[l].into() & on.wrapping_neg();
            vs[l] = (vs[l] + add).clamp(V_MIN, V_MAX);
        }
    }
}

/// Draw n of a tick, `draws[draw_position(n)]` (see [`Xorshift32::fill_draws`]), or the last
/// one when n is past the end: the lane loops read a draw on every lane, branch-free, and a
/// lane that takes none may point one past its neuron's run, which can be the end.
/// `draws` must not be empty.
#[inline(always)]
fn draw_at(draws: &[u32], n: u32) -> u32 {
    // A tick draws at most 256 * (256 + 2) numbers, so positions fit an i32; sign-extended
    // from one (not zero-extended from a u32), they let the lane loops gather 16 draws with
    // one 32-bit-index gather instead of two 64-bit-index ones.
    debug_assert!(draws.len() <= i32::MAX as usize);
    let p = draw_position(n).min(draws.len() as u32 - 1) as i32 as isize;
    // SAFETY: 0 <= p < draws.len() by the clamp and the bound above (a bounds check would keep
    // the loops that call this from vectorising).
    unsafe { *draws.as_ptr().offset(p) }
}

/// `n[j] += 1` for every neuron j whose bit is set in `lanes`, branch-free.
#[inline(always)]
fn count_lanes(n: &mut [u32; NEURONS], lanes: &[u64; 4]) {
    for (k, &word) in lanes.iter().enumerate() {
        if word != 0 {
            for (l, n) in n[k * 64..k * 64 + 64].iter_mut().enumerate() {
                *n += (word >> l) as u32 & 1;
            }
        }
    }
}

/// One active axon's synaptic events for the neurons set in `lanes`, in the fast path of
/// neurons that draw: a neuron set in `stochastic` (a subset of `lanes`) takes its next draw,
/// `draws[draw_position(cursor[j])]`, as rho and advances its cursor (SPEC step 1 for a
/// stochastic synapse); the others add their weight. Branch-free, so that it vectorises;
/// `draws` not empty (see [`draw_at`]). With AVX2 each 64 lanes' draws are gathered first
/// ([`draws_at`]): the compiler does not gather there, and the loop ran lane by lane. Without
/// gathers at all (the baseline), only the neurons the axon reaches are visited, one by one
/// (the stochastic chip: 2.7 us of CPU per core-tick, against 5.5 lane by lane).
#[inline(always)]
fn integrate_axon_drawing<W: Copy + Into<i32>>(
    v: &mut [i32; NEURONS],
    cursor: &mut [u32; NEURONS],
    lanes: &[u64; 4],
    stochastic: &[u64; 4],
    w: &[W; NEURONS],
    draws: &[u32],
    isa: Isa,
) {
    for (k, (&word, &drawn)) in lanes.iter().zip(stochastic).enumerate() {
        if word == 0 {
            continue;
        }
        let base = k * 64;
        if isa == Isa::Baseline {
            // No gathers: one event at a time, only the neurons the axon reaches.
            for_each_bit!([word], |l| {
                let j = base + l;
                let s: i32 = w[j].into();
                let add = if (drawn >> l) & 1 == 1 {
                    let rho = (draw_at(draws, cursor[j]) & 0xFF) as i32;
                    cursor[j] += 1;
                    stochastic_synapse(s, rho)
                } else {
                    s
                };
                v[j] = sat(v[j] + add);
            });
        } else if isa == Isa::Avx2 {
            // Lane l's draw gathered before the loop.
            let mut gathered = [0u32; 64];
            draws_at(&mut gathered, draws, cursor[base..base + 64].try_into().expect("64 lanes"), isa);
            integrate_word_drawing(v, cursor, base, word, drawn, w, |l, _| gathered[l]);
        } else {
            // Lane l's draw read in the loop (the compiler gathers it).
            integrate_word_drawing(v, cursor, base, word, drawn, w, |_, c| draw_at(draws, c));
        }
    }
}

/// [`integrate_axon_drawing`] of the 64 neurons from `base`, lane l's draw `draw(l, cursor)`.
#[inline(always)]
fn integrate_word_drawing<W: Copy + Into<i32>>(
    v: &mut [i32; NEURONS],
    cursor: &mut [u32; NEURONS],
    base: usize,
    word: u64,
    drawn: u64,
    w: &[W; NEURONS],
    draw: impl Fn(usize, u32) -> u32,
) {
    for l in 0..64 {
        let j = base + l;
        let (on, draws_here) = ((word >> l) & 1 == 1, (drawn >> l) & 1 == 1);
        let s: i32 = w[j].into();
        let rho = (draw(l, cursor[j]) & 0xFF) as i32;
        let add = if draws_here { stochastic_synapse(s, rho) } else { s };
        v[j] = if on { sat(v[j] + add) } else { v[j] };
        cursor[j] += draws_here as u32;
    }
}

/// What a stochastic synapse of weight `s` adds for the draw `rho` (0..=255): sign(s) when
/// |s| >= rho, else 0 (SPEC step 1).
#[inline(always)]
fn stochastic_synapse(s: i32, rho: i32) -> i32 {
    (s.abs() >= rho) as i32 * s.signum()
}

/// `out[l]` = [`draw_at`]`(draws, cursor[l])` for every lane l: 8 lanes at a time with AVX2
/// gathers where the tick runs with AVX2 (left to itself, the compiler loads these one by one
/// there: the stochastic chip took 5.9 us of CPU per core-tick with AVX2 against 1.1 with
/// AVX-512), else lane by lane as the compiler vectorises it (16-lane gathers with AVX-512).
#[inline(always)]
fn draws_at<const L: usize>(out: &mut [u32; L], draws: &[u32], cursor: &[u32; L], isa: Isa) {
    #[cfg(x86_kernels)]
    if isa == Isa::Avx2 && L.is_multiple_of(8) {
        // SAFETY: `Isa::Avx2` is only made when the CPU has AVX2; `draws` is not empty (see
        // `draw_at`).
        unsafe { draws_at_avx2(out, draws, cursor) };
        return;
    }
    let _ = isa;
    for (x, &c) in out.iter_mut().zip(cursor) {
        *x = draw_at(draws, c);
    }
}

/// [`draws_at`] with AVX2 gathers.
///
/// # Safety
/// The CPU must have AVX2; `draws` must not be empty; `L` must be a multiple of 8.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
unsafe fn draws_at_avx2<const L: usize>(out: &mut [u32; L], draws: &[u32], cursor: &[u32; L]) {
    use crate::prng::DRAW_BLOCK;
    use std::arch::x86_64::*;
    debug_assert!(!draws.is_empty() && draws.len() <= i32::MAX as usize && L.is_multiple_of(8));
    let last = _mm256_set1_epi32(draws.len() as i32 - 1);
    let (block, low) = (_mm256_set1_epi32(!(DRAW_BLOCK as i32 - 1)), _mm256_set1_epi32(15));
    for (lanes, at) in out.chunks_exact_mut(8).zip(cursor.chunks_exact(8)) {
        // SAFETY: 8 cursors and 8 outputs at a time; each gathered position is clamped to the
        // last draw, as in `draw_at`.
        unsafe {
            let k = _mm256_loadu_si256(at.as_ptr().cast());
            // draw_position: (k & !255) | (k & 15) << 4 | (k >> 4 & 15).
            let position = _mm256_or_si256(
                _mm256_and_si256(k, block),
                _mm256_or_si256(
                    _mm256_slli_epi32::<4>(_mm256_and_si256(k, low)),
                    _mm256_and_si256(_mm256_srli_epi32::<4>(k), low),
                ),
            );
            let position = _mm256_min_epu32(position, last);
            let x = _mm256_i32gather_epi32::<4>(draws.as_ptr().cast(), position);
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), x);
        }
    }
}

/// How many draws a neuron with dynamics `d` makes of its own each tick (stochastic leak,
/// threshold noise), besides those of its synaptic events.
#[inline(always)]
fn own_draws(d: &Dynamics) -> u32 {
    d.stochastic_leak as u32 + (d.mask_bits > 0) as u32
}

/// What [`CoreState::update_drawing`] needs of the dynamics of a core whose neurons index
/// several, computed once per core instead of neuron by neuron at every tick.
#[derive(Debug, Clone)]
struct DrawingSetup {
    /// Per axon type, the drawing neurons whose synapses of that type are stochastic.
    by_type: [[u64; 4]; AXON_TYPES],
    /// Each drawing neuron's own draws a tick ([`own_draws`]; 0 for the others).
    leak_and_noise: [u8; NEURONS],
}

impl DrawingSetup {
    fn of(dynamics: &[Dynamics], index: &[u8], drawing: &[u64; 4]) -> Self {
        let mut by_type = [[0u64; 4]; AXON_TYPES];
        let mut leak_and_noise = [0u8; NEURONS];
        for_each_bit!(drawing, |j| {
            let d = &dynamics[index[j] as usize];
            for (g, lanes) in by_type.iter_mut().enumerate() {
                lanes[j / 64] |= (d.stochastic_weights[g] as u64) << (j % 64);
            }
            leak_and_noise[j] = own_draws(d) as u8;
        });
        Self { by_type, leak_and_noise }
    }
}

/// What [`leak_and_fire_lanes`] reads of a neuron's dynamics: its numbers, and its flags as
/// bits (`FIRE_*`).
#[derive(Debug, Clone, Copy)]
struct FireParams {
    leak: i32,
    thr: i32,
    beta: i32,
    r: i32,
    mask: i32,
    flags: u8,
}

const FIRE_LEAK_REVERSAL: u8 = 1;
const FIRE_NEGATIVE_SATURATION: u8 = 2;
const FIRE_STOCHASTIC_LEAK: u8 = 4;
const FIRE_NORMAL: u8 = 8;
const FIRE_LINEAR: u8 = 16;
const FIRE_NON_RESET: u8 = 32;

/// How many numbers a [`FireParams`] has (its flags one of them).
const FIRE_COLUMNS: usize = 6;

/// The [`FireParams`] of a run of `len` dynamics, as columns: leak, threshold, negative
/// threshold, reset, mask and flags of each, `len` numbers each. A lookup of one number for
/// every neuron reads one column (a few lines; as records, the number's every sixth word).
#[derive(Debug, Clone, Copy)]
struct FireColumns<'a> {
    len: usize,
    numbers: &'a [i32],
}

impl FireColumns<'_> {
    /// The columns of `table`, one after the other.
    fn numbers_of(table: &[Dynamics]) -> Vec<i32> {
        let fire: Vec<[i32; FIRE_COLUMNS]> = table.iter().map(|d| FireParams::of(d).numbers()).collect();
        (0..FIRE_COLUMNS).flat_map(|k| fire.iter().map(move |numbers| numbers[k])).collect()
    }

    /// The `k`-th number (in the order of [`FireParams::numbers`]) of every dynamics.
    #[inline(always)]
    fn column(&self, k: usize) -> &[i32] {
        &self.numbers[k * self.len..(k + 1) * self.len]
    }
}

impl FireParams {
    /// Leak, threshold, negative threshold, reset, mask, flags: the columns of [`FireColumns`].
    fn numbers(&self) -> [i32; FIRE_COLUMNS] {
        [self.leak, self.thr, self.beta, self.r, self.mask, self.flags as i32]
    }

    #[inline(always)]
    fn of(d: &Dynamics) -> Self {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        Self {
            leak: d.leak,
            thr: d.threshold,
            beta: d.negative_threshold,
            r: d.reset_value,
            mask: d.mask,
            flags: flag(d.leak_reversal, FIRE_LEAK_REVERSAL)
                | flag(d.negative_saturation, FIRE_NEGATIVE_SATURATION)
                | flag(d.stochastic_leak, FIRE_STOCHASTIC_LEAK)
                | flag(d.reset_mode == ResetMode::Normal, FIRE_NORMAL)
                | flag(d.reset_mode == ResetMode::Linear, FIRE_LINEAR)
                | flag(d.reset_mode == ResetMode::NonReset, FIRE_NON_RESET),
        }
    }
}

/// The [`FireParams`] of every neuron of a core whose neurons have dynamics of their own, one
/// array per number, so that [`leak_and_fire_lanes`] loads each number of 16 lanes as one
/// vector. Filled from the columns of the core's dynamics: by permutes where a column fits
/// two registers, else neuron by neuron.
struct FireTable {
    leak: [i32; NEURONS],
    thr: [i32; NEURONS],
    beta: [i32; NEURONS],
    r: [i32; NEURONS],
    mask: [i32; NEURONS],
    flags: [i32; NEURONS],
}

impl FireTable {
    /// Neuron j's numbers are those of the `index[j]`-th dynamics of `columns`.
    #[inline(always)]
    fn of(columns: FireColumns<'_>, index: &[u8; NEURONS], isa: Isa) -> Self {
        let mut arrays = [[0i32; NEURONS]; FIRE_COLUMNS];
        for (k, out) in arrays.iter_mut().enumerate() {
            let column = columns.column(k);
            #[cfg(x86_kernels)]
            if isa == Isa::Avx512 && columns.len <= PERMUTED_TABLE {
                // SAFETY: `Isa::Avx512` is only made when the CPU has AVX-512; every index is
                // a position in the column (see `CoreState::new`), which has at most 32.
                unsafe { permute_lanes_avx512(out, column_registers_avx512(column), index) };
                continue;
            }
            #[cfg(x86_kernels)]
            if isa == Isa::Avx2 && columns.len <= PERMUTED_TABLE_AVX2 {
                // SAFETY: `Isa::Avx2` is only made when the CPU has AVX2; every index is a
                // position in the column, which has at most 16.
                unsafe { permute_lanes_avx2(out, column_registers_avx2(column), index) };
                continue;
            }
            let _ = isa;
            for (x, &at) in out.iter_mut().zip(index) {
                *x = column[at as usize];
            }
        }
        let [leak, thr, beta, r, mask, flags] = arrays;
        Self { leak, thr, beta, r, mask, flags }
    }

    #[inline(always)]
    fn get(&self, j: usize) -> FireParams {
        FireParams {
            leak: self.leak[j],
            thr: self.thr[j],
            beta: self.beta[j],
            r: self.r[j],
            mask: self.mask[j],
            flags: self.flags[j] as u8,
        }
    }
}

/// [`leak_and_fire`] of the neurons set in `keep` (the others are left as they are), neuron
/// j with the numbers `params(j)` and its draws starting at `draws[draw_position(cursor[j])]`
/// (`draws` not empty: see [`draw_at`]): the same arithmetic with every choice a select, so
/// that it vectorises.
#[inline(always)]
fn leak_and_fire_lanes(
    v: &mut [i32; NEURONS],
    params: impl Fn(usize) -> FireParams,
    keep: &[u64; 4],
    cursor: &[u32; NEURONS],
    draws: &[u32],
    spikes: &mut [u64; 4],
    isa: Isa,
) {
    // Each neuron's leak draw, then its threshold noise's (mask is 0 when there is none),
    // gathered first: with the gathers in it, the arithmetic loop below did not vectorise.
    // Most networks have no threshold noise: their noise draws (all 0) are not gathered.
    let mut drawn = [0u32; NEURONS];
    draws_at(&mut drawn, draws, cursor, isa);
    let rhos: [i32; NEURONS] = std::array::from_fn(|j| (drawn[j] & 0xFF) as i32);
    let mut etas = [0i32; NEURONS];
    if (0..NEURONS).any(|j| params(j).mask != 0) {
        let noise_at: [u32; NEURONS] =
            std::array::from_fn(|j| cursor[j] + (params(j).flags & FIRE_STOCHASTIC_LEAK != 0) as u32);
        draws_at(&mut drawn, draws, &noise_at, isa);
        for j in 0..NEURONS {
            etas[j] = (drawn[j] & 0x3_FFFF) as i32 & params(j).mask;
        }
    }
    let mut fired = [0u8; NEURONS];
    for j in 0..NEURONS {
        let FireParams { leak, thr, beta, r, mask, flags } = params(j);
        let on = |bit: u8| flags & bit != 0;
        let (eps, kappa, stochastic_leak) =
            (on(FIRE_LEAK_REVERSAL), on(FIRE_NEGATIVE_SATURATION), on(FIRE_STOCHASTIC_LEAK));
        let (normal, linear, non_reset) = (on(FIRE_NORMAL), on(FIRE_LINEAR), on(FIRE_NON_RESET));
        let (rho, eta) = (rhos[j], etas[j]);
        // 2. Leak, leak reversal, anti-ringing (non-short-circuit & and |: no branches).
        let v0 = v[j];
        let omega = if eps { v0.signum() } else { 1 };
        let drawn_step = (leak.abs() >= rho) as i32 * omega * leak.signum();
        let x = sat(v0 + if stochastic_leak { drawn_step } else { omega * leak });
        let crossed = (v0 > 0) & (x < 0) | (v0 < 0) & (x > 0);
        let x = if eps & crossed { 0 } else { x };
        // 4-6. Threshold (with noise), reset, negative threshold, non-reset ceiling.
        let spike = x >= thr + eta;
        let reset = if normal {
            r
        } else if linear {
            sat(x - (thr + eta))
        } else {
            x
        };
        let bounce = if normal {
            -r
        } else if linear {
            sat(x + beta + eta)
        } else {
            x
        };
        let below = if kappa {
            x.max(-beta)
        } else if x < -(beta + eta) {
            bounce
        } else {
            x
        };
        let nv = if spike { reset } else { below };
        let nv = if non_reset { nv.min(thr + mask) } else { nv };
        let kept = (keep[j / 64] >> (j % 64)) & 1 != 0;
        v[j] = if kept { nv } else { v0 };
        fired[j] = (spike & kept) as u8;
    }
    for (word, flags) in spikes.iter_mut().zip(fired.chunks_exact(64)) {
        *word |= bits_of_flags(flags);
    }
}

/// [`count_rows_avx512`] without vector instructions of its own (the baseline, and every CPU
/// other than x86): each byte of a row adds its 8 neurons' bits to their 8 counts as one
/// 64-bit add of byte lanes (from [`BYTE_LANES`]). At most 255 rows, so that no count carries
/// into the next.
fn count_rows_portable(rows: &[[u64; 4]; AXONS], axons: &[u8], det: &[u64; 4], counts: &mut [u8; NEURONS]) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    debug_assert!(axons.len() < 256);
    let mut acc = [0u64; NEURONS / 8];
    for &i in axons {
        let r = &rows[i as usize];
        for (k, acc) in acc.chunks_exact_mut(8).enumerate() {
            let word = r[k] & det[k];
            for (b, acc) in acc.iter_mut().enumerate() {
                *acc += BYTE_LANES[(word >> (8 * b)) as u8 as usize] & ONES;
            }
        }
    }
    for (counts, acc) in counts.chunks_exact_mut(8).zip(acc) {
        counts.copy_from_slice(&acc.to_le_bytes());
    }
}

/// `counts[j]` = how many of the rows `axons` (each masked by `det`) have neuron j's bit set.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn count_rows_avx512(rows: &[[u64; 4]; AXONS], axons: &[u8], det: &[u64; 4], counts: &mut [u8; NEURONS]) {
    use std::arch::x86_64::{
        __m512i, _mm512_mask_add_epi8, _mm512_set1_epi8, _mm512_setzero_si512, _mm512_storeu_si512,
    };
    let one = _mm512_set1_epi8(1);
    let mut acc = [_mm512_setzero_si512(); 4];
    for &i in axons {
        let r = &rows[i as usize];
        for k in 0..4 {
            acc[k] = _mm512_mask_add_epi8(acc[k], r[k] & det[k], acc[k], one);
        }
    }
    for (k, a) in acc.iter().enumerate() {
        // SAFETY: `counts` has 256 bytes: word k's 64 bytes start at 64 k.
        unsafe { _mm512_storeu_si512(counts.as_mut_ptr().add(64 * k).cast::<__m512i>(), *a) };
    }
}

/// 32 bits as 32 byte lanes, all ones where the bit is set: the bits spread over the lanes
/// (byte b of `mask` to lanes 8b..8b+8), each lane's own bit selected and compared.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
#[inline]
fn byte_mask_avx2(mask: u32) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::{
        _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_setr_epi8,
        _mm256_shuffle_epi8,
    };
    // The shuffle works within 128-bit halves, each of which holds the broadcast mask's 4 bytes.
    #[rustfmt::skip]
    let spread = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
    );
    let bit_of_lane = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
    let lanes = _mm256_shuffle_epi8(_mm256_set1_epi32(mask as i32), spread);
    _mm256_cmpeq_epi8(_mm256_and_si256(lanes, bit_of_lane), bit_of_lane)
}

/// [`count_rows_avx512`] with AVX2, 32 neurons at a time: each chunk's 32 bits as byte
/// lanes ([`byte_mask_avx2`]), whose all-ones (-1) is subtracted from the counts.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
unsafe fn count_rows_avx2(rows: &[[u64; 4]; AXONS], axons: &[u8], det: &[u64; 4], counts: &mut [u8; NEURONS]) {
    use std::arch::x86_64::{__m256i, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi8};
    let mut acc = [_mm256_setzero_si256(); 8];
    for &i in axons {
        let r = &rows[i as usize];
        for (k, acc) in acc.iter_mut().enumerate() {
            let mask = ((r[k / 2] & det[k / 2]) >> (32 * (k % 2))) as u32;
            *acc = _mm256_sub_epi8(*acc, byte_mask_avx2(mask));
        }
    }
    for (k, a) in acc.iter().enumerate() {
        // SAFETY: `counts` has 256 bytes: chunk k's 32 bytes start at 32 k.
        unsafe { _mm256_storeu_si256(counts.as_mut_ptr().add(32 * k).cast::<__m256i>(), *a) };
    }
}

/// `V[j] += counts[j] x w[j]` (no saturation: the caller has shown that none is reachable).
#[inline(always)]
fn add_counted<W: CountedWeight>(v: &mut [i32; NEURONS], counts: &[u8; NEURONS], w: &[W; NEURONS]) {
    for ((v, &n), &w) in v.iter_mut().zip(counts).zip(w) {
        *v += w.times(n);
    }
}

/// A weight times an event count, in the narrowest product that holds it.
trait CountedWeight: Copy {
    fn times(self, n: u8) -> i32;
}

impl CountedWeight for i8 {
    /// 255 x -128..=127 fits 16 bits: a 16-bit multiply, which every vector instruction set
    /// has (SSE2 has no 32-bit one).
    #[inline(always)]
    fn times(self, n: u8) -> i32 {
        (n as i16 * self as i16) as i32
    }
}

impl CountedWeight for i16 {
    #[inline(always)]
    fn times(self, n: u8) -> i32 {
        n as i32 * self as i32
    }
}

/// 64 flags (each 0 or 1) as the bits of a word, flag l to bit l: each 8 flags' bytes gathered
/// into one byte by a multiply (the compiler makes a shift and an OR per flag of the plain loop
/// where the CPU has no byte mask instruction).
#[inline(always)]
fn bits_of_flags(flags: &[u8]) -> u64 {
    debug_assert!(flags.len() == 64 && flags.iter().all(|&f| f <= 1));
    flags.chunks_exact(8).enumerate().fold(0u64, |word, (b, eight)| {
        let eight = u64::from_le_bytes(eight.try_into().expect("chunks of 8"));
        word | (eight.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * b)
    })
}

/// The flags that pick a dynamics kernel: (leak reversal, reset mode, negative saturation).
type KernelFlags = (bool, ResetMode, bool);

fn kernel_flags(d: &Dynamics) -> KernelFlags {
    (d.leak_reversal, d.reset_mode, d.negative_saturation)
}

/// The per-neuron numbers a dynamics kernel reads: leak, threshold, negative threshold, reset
/// value and the non-reset ceiling (threshold + 2^M - 1).
#[derive(Debug, Clone, Copy)]
struct LaneParams {
    leak: i32,
    thr: i32,
    beta: i32,
    r: i32,
    ceiling: i32,
}

impl LaneParams {
    /// The numbers in the order of [`SharedKernel::varying`]'s bits.
    fn numbers(self) -> [i32; 5] {
        [self.leak, self.thr, self.beta, self.r, self.ceiling]
    }

    #[inline(always)]
    fn of(d: &Dynamics) -> Self {
        Self {
            leak: d.leak,
            thr: d.threshold,
            beta: d.negative_threshold,
            r: d.reset_value,
            ceiling: d.threshold + d.mask,
        }
    }
}

/// The kernel shared by the deterministic neurons of a core of several dynamics: its flags, and
/// which of its numbers ([`LaneParams`]: leak, threshold, negative threshold, reset, ceiling)
/// differ between those neurons. Only those are looked up neuron by neuron at each tick (in a
/// trained network usually the leak alone: a 256-lane lookup of each number was most of the
/// time of such a core's dynamics); the others are those of `table[first]`.
#[derive(Debug, Clone, Copy)]
struct SharedKernel {
    flags: KernelFlags,
    /// Bit k set when number k (in the order of [`LaneParams::numbers`]) differs.
    varying: u8,
    /// A deterministic dynamics of the core (its index in the core's table).
    first: u8,
}

impl SharedKernel {
    /// The kernel of the deterministic dynamics of `table`, when they share their flags.
    fn of(table: &[Dynamics]) -> Option<Self> {
        let first = table.iter().position(|d| !d.draws())?;
        let (flags, common) = (kernel_flags(&table[first]), LaneParams::of(&table[first]).numbers());
        let mut varying = 0u8;
        for d in table.iter().filter(|d| !d.draws()) {
            if kernel_flags(d) != flags {
                return None;
            }
            for (k, (a, b)) in LaneParams::of(d).numbers().into_iter().zip(common).enumerate() {
                varying |= ((a != b) as u8) << k;
            }
        }
        // A number that the kernel of these flags never reads need not be looked up.
        let varying = varying & Self::read_by(flags);
        Some(Self { flags, varying, first: u8::try_from(first).expect("at most 256 dynamics") })
    }

    /// The numbers (bits in the order of [`LaneParams::numbers`]) that [`dynamics_kernel`]
    /// reads for `flags`: the reset value only in the normal reset mode, the ceiling only in
    /// the non-reset mode.
    fn read_by((_, mode, _): KernelFlags) -> u8 {
        let (leak, thr, beta, r, ceiling) = (1, 1 << 1, 1 << 2, 1 << 3, 1 << 4);
        leak | thr
            | beta
            | match mode {
                ResetMode::Normal => r,
                ResetMode::Linear => 0,
                ResetMode::NonReset => ceiling,
            }
    }

    fn varies(self, k: usize) -> bool {
        self.varying >> k & 1 != 0
    }
}

/// The [`LaneParams`] of every neuron of a core, one array per number: the kernels then load
/// each number of 16 lanes as one vector. (As an array of `LaneParams`, the loop read them as
/// an interleaved group of five, and as a kernel leaves a number unread, the group had a gap,
/// for which the compiler ran the last 64 lanes one by one: a fifth of the feed-forward
/// workload's time.)
struct LaneTable {
    leak: [i32; NEURONS],
    thr: [i32; NEURONS],
    beta: [i32; NEURONS],
    r: [i32; NEURONS],
    ceiling: [i32; NEURONS],
}

impl LaneTable {
    #[inline(always)]
    fn get(&self, j: usize) -> LaneParams {
        LaneParams { leak: self.leak[j], thr: self.thr[j], beta: self.beta[j], r: self.r[j], ceiling: self.ceiling[j] }
    }
}

/// Leak, threshold, reset, negative threshold and ceiling (SPEC steps 2-6) of neurons that do
/// not draw, all sharing `d`. Returns whether any V changed; sets the spike bits.
#[inline(always)]
fn dynamics_uniform(v: &mut [i32; NEURONS], d: &Dynamics, spikes: &mut [u64; 4]) -> bool {
    let p = LaneParams::of(d);
    dynamics_lanes::<false>(kernel_flags(d), v, |_| p, &[!0u64; 4], spikes)
}

/// The same for neurons of different dynamics that share their kernel flags: neuron j's numbers
/// come from `table[index[j]]`, and only the neurons set in `keep` are updated (the others, the
/// ones that draw, keep V and do not spike here). Out of line (inlining it into each
/// instruction set's tick only made the tick larger), with a copy of the lookups and kernels
/// per instruction set of its own.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(x86_kernels), allow(unused_variables))] // `columns`: read by permutes only
fn dynamics_indexed(
    v: &mut [i32; NEURONS],
    table: &[Dynamics],
    columns: FireColumns<'_>,
    index: &[u8],
    kernel: &SharedKernel,
    keep: &[u64; 4],
    spikes: &mut [u64; 4],
    isa: Isa,
) -> bool {
    let index: &[u8; NEURONS] = index.try_into().expect("one dynamics index per neuron");
    match isa {
        #[cfg(x86_kernels)]
        // SAFETY: `Isa::Avx512` and `Isa::Avx2` are only made when the CPU has them (see
        // `CoreState::tick`).
        Isa::Avx512 => unsafe { dynamics_table_avx512(v, table, columns, index, kernel, keep, spikes) },
        #[cfg(x86_kernels)]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { dynamics_table_avx2(v, table, columns, index, kernel, keep, spikes) },
        _ => dynamics_table(v, table, kernel, keep, spikes, |out, number| lookup_scalar(out, table, index, number)),
    }
}

#[cfg(x86_kernels)]
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq")]
unsafe fn dynamics_table_avx512(
    v: &mut [i32; NEURONS],
    table: &[Dynamics],
    columns: FireColumns<'_>,
    index: &[u8; NEURONS],
    kernel: &SharedKernel,
    keep: &[u64; 4],
    spikes: &mut [u64; 4],
) -> bool {
    // SAFETY: this function runs only where the CPU has AVX-512 (see `dynamics_indexed`), and
    // every index is a position in `table` and its columns (see `CoreState::new`).
    let lookup = |out: &mut [i32; NEURONS], number: Number| unsafe {
        if columns.len <= PERMUTED_TABLE {
            permute_avx512(out, columns, index, number)
        } else {
            gather_avx512(out, columns, index, number)
        }
    };
    dynamics_table(v, table, kernel, keep, spikes, lookup)
}

#[cfg(x86_kernels)]
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt,fma")]
unsafe fn dynamics_table_avx2(
    v: &mut [i32; NEURONS],
    table: &[Dynamics],
    columns: FireColumns<'_>,
    index: &[u8; NEURONS],
    kernel: &SharedKernel,
    keep: &[u64; 4],
    spikes: &mut [u64; 4],
) -> bool {
    // SAFETY: this function runs only where the CPU has AVX2 (see `dynamics_indexed`), and
    // every index is a position in `table` and its columns (see `CoreState::new`).
    let lookup = |out: &mut [i32; NEURONS], number: Number| unsafe {
        if columns.len <= PERMUTED_TABLE_AVX2 {
            permute_avx2(out, columns, index, number)
        } else {
            gather_avx2(out, columns, index, number)
        }
    };
    dynamics_table(v, table, kernel, keep, spikes, lookup)
}

/// A number of a [`Dynamics`] that the dynamics kernels read per neuron: one of
/// [`LaneParams`]'s, in the order of [`LaneParams::numbers`].
#[derive(Debug, Clone, Copy)]
enum Number {
    Leak,
    Threshold,
    NegativeThreshold,
    Reset,
    /// Threshold plus the threshold-noise mask.
    Ceiling,
}

impl Number {
    const ALL: [Number; 5] =
        [Number::Leak, Number::Threshold, Number::NegativeThreshold, Number::Reset, Number::Ceiling];

    #[inline(always)]
    fn of(self, d: &Dynamics) -> i32 {
        match self {
            Number::Leak => d.leak,
            Number::Threshold => d.threshold,
            Number::NegativeThreshold => d.negative_threshold,
            Number::Reset => d.reset_value,
            Number::Ceiling => d.threshold + d.mask,
        }
    }

    /// The columns of [`FireColumns`] that make the number (the ceiling is the sum of two).
    #[cfg(x86_kernels)]
    fn columns(self) -> (usize, Option<usize>) {
        // The columns of FireParams::numbers: leak, threshold, negative threshold, reset, mask.
        match self {
            Number::Leak => (0, None),
            Number::Threshold => (1, None),
            Number::NegativeThreshold => (2, None),
            Number::Reset => (3, None),
            Number::Ceiling => (1, Some(4)),
        }
    }
}

/// `out[j]` = `number` of `table[index[j]]` for every neuron j, one neuron at a time.
#[inline(always)]
fn lookup_scalar(out: &mut [i32; NEURONS], table: &[Dynamics], index: &[u8; NEURONS], number: Number) {
    *out = std::array::from_fn(|j| number.of(&table[index[j] as usize]));
}

/// [`lookup_scalar`] from the columns, 16 neurons at a time with AVX-512 gathers (the
/// compiler does not gather by itself here; the scalar loop was most of these cores'
/// dynamics), for tables too large for [`permute_avx512`].
///
/// # Safety
/// The CPU must have AVX-512F, and every `index[j]` must be below `columns.len`.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx512f")]
unsafe fn gather_avx512(out: &mut [i32; NEURONS], columns: FireColumns<'_>, index: &[u8; NEURONS], number: Number) {
    use std::arch::x86_64::*;
    debug_assert!(index.iter().all(|&k| (k as usize) < columns.len));
    for (block, lanes) in out.chunks_exact_mut(16).enumerate() {
        // SAFETY: 16 bytes of `index` from 16 x block (256 = 16 x 16); each gathered number is
        // `column[index[j]]`, inside the column by the caller's guarantee.
        unsafe {
            let k = _mm512_cvtepu8_epi32(_mm_loadu_si128(index.as_ptr().add(16 * block).cast()));
            let gather = |c: usize| _mm512_i32gather_epi32::<4>(k, columns.column(c).as_ptr().cast());
            let x = from_columns(number, gather, |a, b| _mm512_add_epi32(a, b));
            _mm512_storeu_si512(lanes.as_mut_ptr().cast(), x);
        }
    }
}

/// [`gather_avx512`] with AVX2 gathers, 8 neurons at a time, for tables too large for
/// [`permute_avx2`].
///
/// # Safety
/// The CPU must have AVX2, and every `index[j]` must be below `columns.len`.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
unsafe fn gather_avx2(out: &mut [i32; NEURONS], columns: FireColumns<'_>, index: &[u8; NEURONS], number: Number) {
    use std::arch::x86_64::*;
    debug_assert!(index.iter().all(|&k| (k as usize) < columns.len));
    for (block, lanes) in out.chunks_exact_mut(8).enumerate() {
        // SAFETY: 8 bytes of `index` from 8 x block (256 = 32 x 8); each gathered number is
        // `column[index[j]]`, inside the column by the caller's guarantee.
        unsafe {
            let k = _mm256_cvtepu8_epi32(_mm_loadl_epi64(index.as_ptr().add(8 * block).cast()));
            let gather = |c: usize| _mm256_i32gather_epi32::<4>(columns.column(c).as_ptr(), k);
            let x = from_columns(number, gather, |a, b| _mm256_add_epi32(a, b));
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), x);
        }
    }
}

/// Most tables a core's neurons index that [`permute_avx512`] looks up in.
#[cfg(x86_kernels)]
const PERMUTED_TABLE: usize = 32;

/// [`lookup_scalar`] for a table of at most [`PERMUTED_TABLE`] dynamics, by permutes of its
/// columns ([`permute_lanes_avx512`]; a gather loads 16 times: the gathers were half these
/// cores' tick).
///
/// # Safety
/// The CPU must have AVX-512F, `columns.len` must be at most [`PERMUTED_TABLE`], and every
/// `index[j]` below it.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx512f")]
unsafe fn permute_avx512(out: &mut [i32; NEURONS], columns: FireColumns<'_>, index: &[u8; NEURONS], number: Number) {
    debug_assert!(columns.len <= PERMUTED_TABLE && index.iter().all(|&k| (k as usize) < columns.len));
    use std::arch::x86_64::_mm512_add_epi32;
    // SAFETY: the caller's guarantees.
    unsafe {
        let registers =
            number_registers(columns, number, |c| column_registers_avx512(c), |a, b| _mm512_add_epi32(a, b));
        permute_lanes_avx512(out, registers, index)
    }
}

/// The two registers holding `number` of each of a core's dynamics: its column, as `load`
/// puts one in registers, or the sum (`add`) of two such columns (the ceiling).
#[cfg(x86_kernels)]
#[inline(always)]
fn number_registers<V: Copy>(
    columns: FireColumns<'_>,
    number: Number,
    load: impl Fn(&[i32]) -> (V, V),
    add: impl Fn(V, V) -> V,
) -> (V, V) {
    from_columns(number, |c| load(columns.column(c)), |(a, b), (c, d)| (add(a, c), add(b, d)))
}

/// `number` of every dynamics from the columns of [`FireColumns`]: `of(c)` for its column c,
/// or for the ceiling, the sum (`add`) of its two.
#[cfg(x86_kernels)]
#[inline(always)]
fn from_columns<V>(number: Number, of: impl Fn(usize) -> V, add: impl Fn(V, V) -> V) -> V {
    match number.columns() {
        (first, Some(second)) => add(of(first), of(second)),
        (first, None) => of(first),
    }
}

/// Most dynamics a core's neurons index that [`permute_avx2`] looks up in.
#[cfg(x86_kernels)]
const PERMUTED_TABLE_AVX2: usize = 16;

/// [`lookup_scalar`] for a table of at most [`PERMUTED_TABLE_AVX2`] dynamics, by permutes of
/// its columns ([`permute_lanes_avx2`]).
///
/// # Safety
/// The CPU must have AVX2, `columns.len` must be at most [`PERMUTED_TABLE_AVX2`], and every
/// `index[j]` below it.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
unsafe fn permute_avx2(out: &mut [i32; NEURONS], columns: FireColumns<'_>, index: &[u8; NEURONS], number: Number) {
    use std::arch::x86_64::_mm256_add_epi32;
    debug_assert!(columns.len <= PERMUTED_TABLE_AVX2 && index.iter().all(|&k| (k as usize) < columns.len));
    // SAFETY: the caller's guarantees.
    unsafe {
        let registers = number_registers(columns, number, |c| column_registers_avx2(c), |a, b| _mm256_add_epi32(a, b));
        permute_lanes_avx2(out, registers, index)
    }
}

/// A column of at most [`PERMUTED_TABLE_AVX2`] numbers in two registers (lanes past its end 0).
///
/// # Safety
/// The CPU must have AVX2, and the column at most [`PERMUTED_TABLE_AVX2`] numbers.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn column_registers_avx2(column: &[i32]) -> (std::arch::x86_64::__m256i, std::arch::x86_64::__m256i) {
    use std::arch::x86_64::*;
    debug_assert!(column.len() <= PERMUTED_TABLE_AVX2);
    let n = column.len() as i32;
    // A lane of a masked load is read when its mask's top bit is set: lanes below the length.
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let (low, high) =
        (_mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane));
    // SAFETY: a masked load reads only its set lanes, each inside the column.
    unsafe {
        (_mm256_maskload_epi32(column.as_ptr(), low), _mm256_maskload_epi32(column.as_ptr().wrapping_add(8), high))
    }
}

/// `out[j]` = number `index[j]` of the 16 in `(low, high)` (lanes 0-7, 8-15) for every neuron
/// j, 8 neurons at a time: a permute of each register by the indices' low three bits, and a
/// blend by the fourth.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn permute_lanes_avx2(
    out: &mut [i32; NEURONS],
    (low, high): (std::arch::x86_64::__m256i, std::arch::x86_64::__m256i),
    index: &[u8; NEURONS],
) {
    use std::arch::x86_64::*;
    let seven = _mm256_set1_epi32(7);
    for (block, lanes) in out.chunks_exact_mut(8).enumerate() {
        // SAFETY: 8 bytes of `index` from 8 x block (256 = 32 x 8), 8 numbers of `out` there.
        unsafe {
            let k = _mm256_cvtepu8_epi32(_mm_loadl_epi64(index.as_ptr().add(8 * block).cast()));
            let x = _mm256_blendv_epi8(
                _mm256_permutevar8x32_epi32(low, k),
                _mm256_permutevar8x32_epi32(high, k),
                _mm256_cmpgt_epi32(k, seven),
            );
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), x);
        }
    }
}

/// A column of at most [`PERMUTED_TABLE`] numbers in two registers (lanes past its end 0).
///
/// # Safety
/// The CPU must have AVX-512F, and the column at most [`PERMUTED_TABLE`] numbers.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn column_registers_avx512(column: &[i32]) -> (std::arch::x86_64::__m512i, std::arch::x86_64::__m512i) {
    use std::arch::x86_64::*;
    debug_assert!(column.len() <= PERMUTED_TABLE);
    let n = column.len();
    let (low, high) = (((1u32 << n.min(16)) - 1) as u16, ((1u32 << n.saturating_sub(16)) - 1) as u16);
    // SAFETY: a masked load reads only its set lanes, each inside the column.
    unsafe {
        (
            _mm512_maskz_loadu_epi32(low, column.as_ptr()),
            _mm512_maskz_loadu_epi32(high, column.as_ptr().wrapping_add(16)),
        )
    }
}

/// `out[j]` = number `index[j]` of the 32 in `(low, high)` (lanes 0-15, 16-31) for every
/// neuron j, 16 neurons at a time with one permute of their indices.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn permute_lanes_avx512(
    out: &mut [i32; NEURONS],
    (low, high): (std::arch::x86_64::__m512i, std::arch::x86_64::__m512i),
    index: &[u8; NEURONS],
) {
    use std::arch::x86_64::*;
    for (block, lanes) in out.chunks_exact_mut(16).enumerate() {
        // SAFETY: 16 bytes of `index` from 16 x block (256 = 16 x 16), 16 numbers of `out`
        // there; the permute reads the low five bits of each index.
        unsafe {
            let k = _mm512_cvtepu8_epi32(_mm_loadu_si128(index.as_ptr().add(16 * block).cast()));
            _mm512_storeu_si512(lanes.as_mut_ptr().cast(), _mm512_permutex2var_epi32(low, k, high));
        }
    }
}

/// Each neuron's numbers looked up (with the lookups inside, the kernel's loop did not
/// vectorise; over these arrays it does), then the dynamics kernels over them. `lookup`
/// fills an array with one number of every neuron's dynamics.
#[inline(always)]
fn dynamics_table(
    v: &mut [i32; NEURONS],
    table: &[Dynamics],
    kernel: &SharedKernel,
    keep: &[u64; 4],
    spikes: &mut [u64; 4],
    lookup: impl Fn(&mut [i32; NEURONS], Number),
) -> bool {
    let common = LaneParams::of(&table[kernel.first as usize]);
    let [leak, thr, beta, r, ceiling] = common.numbers().map(|n| [n; NEURONS]);
    let mut lanes = LaneTable { leak, thr, beta, r, ceiling };
    // Each number that differs between the neurons, looked up neuron by neuron.
    let LaneTable { leak, thr, beta, r, ceiling } = &mut lanes;
    for (number, out) in Number::ALL.into_iter().zip([leak, thr, beta, r, ceiling]) {
        if kernel.varies(number as usize) {
            lookup(out, number);
        }
    }
    let params = |j: usize| lanes.get(j);
    if *keep == [!0u64; 4] {
        dynamics_lanes::<false>(kernel.flags, v, params, keep, spikes)
    } else {
        dynamics_lanes::<true>(kernel.flags, v, params, keep, spikes)
    }
}

/// Dispatch once on the flags so that each kernel is a straight, branch-free loop.
#[inline(always)]
fn dynamics_lanes<const MASKED: bool>(
    flags: KernelFlags,
    v: &mut [i32; NEURONS],
    params: impl Fn(usize) -> LaneParams,
    keep: &[u64; 4],
    spikes: &mut [u64; 4],
) -> bool {
    use ResetMode::*;
    match flags {
        (false, Normal, true) => dynamics_kernel::<false, 0, true, MASKED>(v, params, keep, spikes),
        (false, Normal, false) => dynamics_kernel::<false, 0, false, MASKED>(v, params, keep, spikes),
        (false, Linear, true) => dynamics_kernel::<false, 1, true, MASKED>(v, params, keep, spikes),
        (false, Linear, false) => dynamics_kernel::<false, 1, false, MASKED>(v, params, keep, spikes),
        (false, NonReset, true) => dynamics_kernel::<false, 2, true, MASKED>(v, params, keep, spikes),
        (false, NonReset, false) => dynamics_kernel::<false, 2, false, MASKED>(v, params, keep, spikes),
        (true, Normal, true) => dynamics_kernel::<true, 0, true, MASKED>(v, params, keep, spikes),
        (true, Normal, false) => dynamics_kernel::<true, 0, false, MASKED>(v, params, keep, spikes),
        (true, Linear, true) => dynamics_kernel::<true, 1, true, MASKED>(v, params, keep, spikes),
        (true, Linear, false) => dynamics_kernel::<true, 1, false, MASKED>(v, params, keep, spikes),
        (true, NonReset, true) => dynamics_kernel::<true, 2, true, MASKED>(v, params, keep, spikes),
        (true, NonReset, false) => dynamics_kernel::<true, 2, false, MASKED>(v, params, keep, spikes),
    }
}

/// SPEC steps 2 and 4-6 with eta = 0 for leak reversal `EPS`, reset mode `MODE` and negative
/// saturation `KAPPA`, as selects on lanes (the same arithmetic as [`leak_and_threshold`]).
/// With `MASKED`, lanes not set in `keep` are left as they are.
#[inline(always)]
fn dynamics_kernel<const EPS: bool, const MODE: u8, const KAPPA: bool, const MASKED: bool>(
    v: &mut [i32; NEURONS],
    params: impl Fn(usize) -> LaneParams,
    keep: &[u64; 4],
    spikes: &mut [u64; 4],
) -> bool {
    let mut changed = 0i32;
    let mut fired = [0u8; NEURONS];
    for (j, (slot, flag)) in v.iter_mut().zip(fired.iter_mut()).enumerate() {
        let LaneParams { leak, thr, beta, r, ceiling } = params(j);
        let v0 = *slot;
        let omega = if EPS { v0.signum() } else { 1 };
        let mut x = (v0 + omega * leak).clamp(V_MIN, V_MAX);
        if EPS && ((v0 > 0 && x < 0) || (v0 < 0 && x > 0)) {
            x = 0; // anti-ringing
        }
        let mut spike = x >= thr;
        // With x >= thr >= 0 (spike) or x < -beta <= 0 (bounce), the linear resets stay in range.
        let reset = match MODE {
            0 => r,
            1 => x - thr,
            _ => x,
        };
        let below = if KAPPA {
            x.max(-beta)
        } else if x < -beta {
            match MODE {
                0 => -r,
                1 => x + beta,
                _ => x,
            }
        } else {
            x
        };
        let mut nv = if spike { reset } else { below };
        if MODE == 2 {
            nv = nv.min(ceiling);
        }
        if MASKED {
            let on = (keep[j / 64] >> (j % 64)) & 1 != 0;
            nv = if on { nv } else { v0 };
            spike &= on;
        }
        changed |= nv ^ v0;
        *slot = nv;
        *flag = spike as u8;
    }
    for (word, flags) in spikes.iter_mut().zip(fired.chunks_exact(64)) {
        *word = bits_of_flags(flags);
    }
    changed != 0
}

/// SPEC steps 2 and 4-6 for a deterministic leak, with threshold noise `eta` already drawn.
#[inline(always)]
fn leak_and_threshold(mut v: i32, d: &Dynamics, eta: i32) -> (i32, bool) {
    let omega = if d.leak_reversal { v.signum() } else { 1 };
    let before = v;
    v = sat(v + omega * d.leak);
    if d.leak_reversal && ((before > 0 && v < 0) || (before < 0 && v > 0)) {
        v = 0;
    }
    threshold_and_reset(v, d, eta)
}

/// SPEC steps 4-6.
#[inline(always)]
pub(crate) fn threshold_and_reset(mut v: i32, d: &Dynamics, eta: i32) -> (i32, bool) {
    let spiked = v >= d.threshold + eta;
    if spiked {
        match d.reset_mode {
            ResetMode::Normal => v = d.reset_value,
            ResetMode::Linear => v = sat(v - (d.threshold + eta)),
            ResetMode::NonReset => {}
        }
    } else if d.negative_saturation {
        if v < -d.negative_threshold {
            v = -d.negative_threshold;
        }
    } else if v < -(d.negative_threshold + eta) {
        match d.reset_mode {
            ResetMode::Normal => v = -d.reset_value,
            ResetMode::Linear => v = sat(v + d.negative_threshold + eta),
            ResetMode::NonReset => {}
        }
    }
    if d.reset_mode == ResetMode::NonReset {
        v = v.min(d.threshold + d.mask);
    }
    (v, spiked)
}

/// SPEC steps 2-6 of a neuron that may draw: the leak (drawing if stochastic), then threshold
/// noise, threshold and reset. `draw` gives the core's next PRNG state.
#[inline(always)]
fn leak_and_fire(mut v: i32, d: &Dynamics, mut draw: impl FnMut() -> u32) -> (i32, bool) {
    // 2. Leak (with leak reversal and anti-ringing).
    let omega = if d.leak_reversal { v.signum() } else { 1 };
    let before = v;
    if d.stochastic_leak {
        let rho = (draw() & 0xFF) as i32;
        v = sat(v + (d.leak.abs() >= rho) as i32 * omega * d.leak.signum());
    } else {
        v = sat(v + omega * d.leak);
    }
    if d.leak_reversal && ((before > 0 && v < 0) || (before < 0 && v > 0)) {
        v = 0;
    }
    // 3. Threshold noise.
    let eta = if d.mask_bits > 0 { (draw() & 0x3_FFFF) as i32 & d.mask } else { 0 };
    // 4-6.
    threshold_and_reset(v, d, eta)
}

/// One neuron's whole tick as SPEC.md reads (steps 1-6): synaptic events in axon order with a
/// draw per stochastic event, then the leak (drawing if stochastic), then threshold noise.
/// Returns (V, spiked, stochastic synaptic events).
#[inline(never)]
fn update_neuron_sequential(
    mut v: i32,
    j: usize,
    d: &Dynamics,
    weights: WeightsRef<'_>,
    events: &[u64; 4],
    axon_types: &[u64; AXONS / 32],
    prng: &mut Xorshift32,
) -> (i32, bool, u64) {
    let mut stochastic_events = 0;
    let s: [i32; AXON_TYPES] = std::array::from_fn(|g| weights.get(g, j));
    // 1. Synaptic integration: `events` holds the active axons connected to j (ascending).
    // The comparisons with a random rho are unpredictable, so they are written as arithmetic
    // (a branch would be mispredicted half the time).
    for_each_bit!(events, |i| {
        let g = type_of(axon_types, i);
        if d.stochastic_weights[g] {
            stochastic_events += 1;
            let rho = prng.draw_u8();
            v = sat(v + (s[g].abs() >= rho) as i32 * s[g].signum());
        } else {
            v = sat(v + s[g]);
        }
    });
    let (v, spiked) = leak_and_fire(v, d, || prng.next_u32());
    (v, spiked, stochastic_events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_packing_round_trips() {
        for r in [
            Route::None,
            Route::Axon { dx: -256, dy: 255, axon: 255, delay: 15 },
            Route::Axon { dx: 0, dy: -1, axon: 0, delay: 1 },
            Route::Output { port: 65_535 },
            Route::Output { port: 0 },
        ] {
            assert_eq!(Route::unpack(r.pack()), r);
        }
    }

    /// Which cores get coded weights, and that every instruction set expands them to the
    /// weights of the reached neurons (those that some axon of the type connects to).
    #[test]
    fn coded_weights_hold_four_values_per_type_among_reached_neurons() {
        let mut cfg = CoreConfig::empty(1);
        for i in 0..AXONS {
            cfg.axon_types[i] = (i % 4) as u8;
        }
        let palette = [[-128, 127, 0, 5], [1, -1, 1, -1], [7, 7, 7, 7], [-2, -1, 1, 2]];
        for j in 0..NEURONS {
            // Type g reaches neuron j through axon 4 j' + g, except that type 3 misses j = 200.
            for g in 0..AXON_TYPES {
                if !(g == 3 && j == 200) {
                    cfg.set_connected((4 * j + g) % AXONS, j, true);
                }
                cfg.neurons[j].weights[g] = palette[g][(j * 7 + g) % 4];
            }
        }
        cfg.neurons[200].weights[3] = 99; // a fifth value, but type 3 never reaches neuron 200
        let code = |cfg: &CoreConfig| {
            CodedWeights::of(&cfg.rows, |i| cfg.axon_types[i] as usize, |j, g| cfg.neurons[j].weights[g])
        };
        let coded = code(&cfg).expect("at most four values per type");
        for isa in [Isa::Baseline, Isa::Avx2, Isa::Avx512] {
            if isa.supported() != isa {
                continue;
            }
            let mut table = LineAligned([[0; NEURONS]; AXON_TYPES]);
            coded.expand(&mut table, isa);
            for j in 0..NEURONS {
                for g in 0..AXON_TYPES {
                    if !(g == 3 && j == 200) {
                        assert_eq!(table[g][j] as i32, cfg.neurons[j].weights[g], "{isa:?}: neuron {j}, type {g}");
                    }
                }
            }
        }
        let at = |cfg: &CoreConfig| Cores::new([(0, 0, cfg)].into_iter(), Isa::Avx512).states[0].weights;
        assert!(matches!(at(&cfg), WeightsAt::Coded(_)));
        let mut five = cfg.clone();
        five.neurons[201].weights[3] = 99; // reached: five values of type 3
        assert!(code(&five).is_none());
        assert!(matches!(at(&five), WeightsAt::Narrow(_)));
        let mut wide = cfg.clone();
        wide.neurons[5].weights[0] = 128; // reached, outside 8 bits
        assert!(code(&wide).is_none());
        assert!(matches!(at(&wide), WeightsAt::Wide(_)));
    }

    /// `Cores::set_isa` moves coded weights to 8-bit tables and back, keeping every weight
    /// that a tick can read.
    #[test]
    fn weights_are_laid_out_anew_for_the_instruction_set() {
        let mut cfg = CoreConfig::empty(1);
        for j in 0..NEURONS {
            cfg.set_connected(j, j, true);
            cfg.axon_types[j] = (j % 4) as u8;
            cfg.neurons[j].weights = [1, -1, 2, -2];
        }
        let mut odd = cfg.clone(); // five values of type 0 on reached neurons: never coded
        for j in 0..5 {
            odd.neurons[4 * j].weights[0] = j as i32;
        }
        let mut cores = Cores::new([(0, 0, &cfg), (1, 0, &odd), (2, 0, &cfg)].into_iter(), Isa::Avx512);
        let layout = |cores: &Cores| cores.states.iter().map(|c| c.weights).collect::<Vec<_>>();
        let coded = vec![WeightsAt::Coded(0), WeightsAt::Narrow(0), WeightsAt::Coded(1)];
        assert_eq!(layout(&cores), coded);
        let reached = |cores: &Cores| -> Vec<i32> {
            let mut out = Vec::new();
            for core in &cores.states {
                let expanded;
                let w = match cores.tables.weights(core.weights) {
                    Ok(table) => table,
                    Err(coded) => {
                        expanded = coded.expanded(Isa::Baseline);
                        WeightsRef::Narrow(&expanded)
                    }
                };
                out.extend((0..NEURONS).map(|j| w.get(j % 4, j)));
            }
            out
        };
        let before = reached(&cores);
        assert!(!cores.set_isa(Isa::Avx512), "nothing to do");
        assert!(cores.set_isa(Isa::Avx2));
        assert_eq!(layout(&cores), vec![WeightsAt::Narrow(0), WeightsAt::Narrow(1), WeightsAt::Narrow(2)]);
        assert_eq!(reached(&cores), before);
        assert!(!cores.set_isa(Isa::Baseline), "8-bit for both");
        assert!(cores.set_isa(Isa::Avx512));
        assert_eq!(layout(&cores), coded);
        assert_eq!(reached(&cores), before);
    }

    /// Every way of looking up the numbers of a core's neurons (one by one; AVX-512 permutes
    /// for tables of up to 32 dynamics, both halves of the permute's two registers; AVX2
    /// permutes for up to 16; AVX-512 and AVX2 gathers for any table) gives the same numbers, the
    /// ceiling (threshold plus mask) too, and so does every layout of their fire parameters.
    #[test]
    fn per_neuron_lookups_agree() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for len in [1, 2, 7, 8, 9, 16, 17, 31, 32, 33, 200, 256] {
            let table: Vec<Dynamics> = (0..len)
                .map(|_| {
                    Dynamics::of(&NeuronParams {
                        leak: next(511) as i32 - 255,
                        threshold: next(1 << 18) as i32,
                        negative_threshold: next(1 << 18) as i32,
                        reset_value: next(1 << 19) as i32 - (1 << 18),
                        threshold_mask_bits: next(18) as u8,
                        ..NeuronParams::default()
                    })
                })
                .collect();
            // Every entry used (the first `len` neurons take one each), the others at random.
            let index: [u8; NEURONS] = std::array::from_fn(|j| if j < len { j as u8 } else { next(len as u64) as u8 });
            let numbers = FireColumns::numbers_of(&table);
            let columns = FireColumns { len, numbers: &numbers };
            for number in Number::ALL {
                let mut expected = [0; NEURONS];
                lookup_scalar(&mut expected, &table, &index, number);
                for (j, &k) in index.iter().enumerate() {
                    assert_eq!(expected[j], LaneParams::of(&table[k as usize]).numbers()[number as usize]);
                }
                #[cfg(x86_kernels)]
                {
                    // Each way that this CPU has and that takes a table of this size.
                    type Lookup = unsafe fn(&mut [i32; NEURONS], FireColumns<'_>, &[u8; NEURONS], Number);
                    let ways: [(&str, bool, Lookup); 4] = [
                        ("AVX-512 gather", std::arch::is_x86_feature_detected!("avx512f"), gather_avx512),
                        (
                            "AVX-512 permute",
                            std::arch::is_x86_feature_detected!("avx512f") && len <= PERMUTED_TABLE,
                            permute_avx512,
                        ),
                        ("AVX2 gather", std::arch::is_x86_feature_detected!("avx2"), gather_avx2),
                        (
                            "AVX2 permute",
                            std::arch::is_x86_feature_detected!("avx2") && len <= PERMUTED_TABLE_AVX2,
                            permute_avx2,
                        ),
                    ];
                    for (name, _, lookup) in ways.into_iter().filter(|w| w.1) {
                        let mut got = [0; NEURONS];
                        // SAFETY: the CPU has the instructions, the table is small enough for
                        // the way (filtered above), and every index is below `len`.
                        unsafe { lookup(&mut got, columns, &index, number) };
                        assert_eq!(got, expected, "{name} of {number:?} from {len} dynamics");
                    }
                }
            }
            // The fire parameters of every neuron, laid out by permutes and one by one.
            for isa in [Isa::Baseline, Isa::Avx2.supported(), Isa::Avx512.supported()] {
                let fire = FireTable::of(columns, &index, isa);
                for (j, &k) in index.iter().enumerate() {
                    let (got, want) = (fire.get(j), FireParams::of(&table[k as usize]));
                    assert_eq!(got.numbers(), want.numbers(), "{isa:?}: neuron {j} of {len} dynamics");
                }
            }
        }
    }

    #[test]
    fn hot_arrays_and_scheduler_slots_start_cache_lines() {
        // Five weights on the synapses of one type: 8-bit; then one of them 16-bit.
        let mut narrow = CoreConfig::empty(1);
        for j in 0..5 {
            narrow.set_connected(0, j, true);
            narrow.neurons[j].weights[0] = j as i32;
        }
        let mut wide = narrow.clone();
        wide.neurons[3].weights[0] = 200;
        for (k, cfg) in [narrow, wide].iter().enumerate() {
            let mut cores = Cores::new((0..8).map(|i| (i, 0, cfg)), Isa::Avx512);
            for (c, core) in cores.states.iter().enumerate() {
                let v = match cores.potentials.core_mut(c) {
                    CorePotentials::Narrow(v) => v.as_ptr() as usize,
                    CorePotentials::Wide(v) => v.as_ptr() as usize,
                };
                assert_eq!(
                    core.weights,
                    if k == 0 { WeightsAt::Narrow(core.index) } else { WeightsAt::Wide(core.index) }
                );
                let w = cores.tables.weight_bytes(core.weights).0;
                let route = cores.tables.routes[core.index as usize].as_ptr();
                let rows = cores.tables.rows[core.index as usize].as_ptr();
                for addr in [rows as usize, v, w as usize, route as usize] {
                    assert_eq!(addr % 64, 0, "a hot array of core {} starts mid-line", core.index);
                }
            }
        }
        let schedulers: Vec<Scheduler> = (0..8).map(|_| Scheduler::default()).collect();
        for s in &schedulers {
            for slot in &s.slots {
                let addr = slot.as_ptr() as usize;
                assert_eq!(addr / 64, (addr + 31) / 64, "a scheduler slot straddles two lines");
            }
        }
    }
}
