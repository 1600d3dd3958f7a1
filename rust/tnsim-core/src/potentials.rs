//! Where the membrane potentials live between ticks: 16 bits per neuron in the cores whose
//! neurons can never hold a potential outside 16 bits between ticks, 32 bits in the others.
//!
//! A tick reads and writes back every potential of every active core: on a chip that does not
//! fit the last-level cache they are the largest stream of the tick (1 KiB in, 1 KiB out per
//! core-tick at 32 bits). Between ticks a potential has passed the threshold and reset steps
//! (SPEC.md section 3, steps 4-6), which keep it inside a range fixed by the neuron's
//! parameters, whatever it was before ([`stored_range`]); with the usual parameters (normal
//! reset, negative saturation, thresholds below 2^15) that range fits in 16 bits. Such a core's
//! potentials are stored narrow; its tick widens them into a 32-bit array on the stack, runs on
//! that exactly as for any core, and narrows the results back, which loses nothing because they
//! lie in the range. The other cores keep 32 bits.
//!
//! All cores' potentials are one table of 512-byte blocks in core order (a narrow core takes
//! one block, a wide core two), so that a tick still reads them as one stream.

use crate::core::{prefetch_bytes, Dynamics, LineAligned, Potentials};
use crate::params::{ResetMode, NEURONS};

/// 512 bytes: a narrow core's 256 potentials, or half of a wide core's.
pub type NarrowPotentials = LineAligned<[i16; NEURONS]>;

/// The range (lowest, highest) that the potential of a neuron with dynamics `d` lies in after
/// any tick, whatever it was before; `None` where a step can leave it anywhere (linear reset,
/// or non-reset without negative saturation). From SPEC.md section 3, steps 4-6, with eta in
/// 0..=mask:
/// - no spike: V < alpha + eta <= alpha + mask; then, with negative saturation, V >= -beta
///   (V = -beta where it was clamped, which lies above alpha + mask - 1 when alpha, beta and
///   mask are all 0); without it, either V >= -(beta + eta) >= -(beta + mask) or V was reset
///   (normal: -R);
/// - spike: normal reset V = R; non-reset V >= alpha + eta >= 0, capped at alpha + mask by
///   step 6 (as is every non-reset neuron's potential).
pub fn stored_range(d: &Dynamics) -> Option<(i32, i32)> {
    let (alpha, beta, r, mask) = (d.threshold, d.negative_threshold, d.reset_value, d.mask);
    match (d.reset_mode, d.negative_saturation) {
        (ResetMode::Normal, true) => Some(((-beta).min(r), (alpha + mask - 1).max(-beta).max(r))),
        (ResetMode::Normal, false) => Some(((-(beta + mask)).min(r).min(-r), (alpha + mask - 1).max(r).max(-r))),
        (ResetMode::NonReset, true) => Some((-beta, alpha + mask)),
        (ResetMode::NonReset, false) | (ResetMode::Linear, _) => None,
    }
}

/// Whether potentials of neurons with dynamics `d` always fit 16 bits between ticks.
pub fn stays_narrow(d: &Dynamics) -> bool {
    stored_range(d).is_some_and(|(lo, hi)| lo >= i16::MIN as i32 && hi <= i16::MAX as i32)
}

/// One core's potentials, as the tick receives them.
pub enum CorePotentials<'a> {
    Narrow(&'a mut NarrowPotentials),
    Wide(&'a mut Potentials),
}

/// Every core's potentials (see the module documentation).
#[derive(Debug, Clone)]
pub struct PotentialStore {
    blocks: Vec<NarrowPotentials>,
    /// Core k's blocks are `starts[k]..starts[k + 1]`: one when narrow, two when wide.
    starts: Vec<u32>,
}

impl Default for PotentialStore {
    /// No core yet.
    fn default() -> Self {
        Self { blocks: Vec::new(), starts: vec![0] }
    }
}

impl PotentialStore {
    /// The potentials `values` of each core, in core order, each stored narrow where the flag
    /// says its dynamics allow it and its values fit 16 bits now.
    pub fn new(cores: impl Iterator<Item = ([i32; NEURONS], bool)>) -> Self {
        let mut store = Self::default();
        for (values, narrow_dynamics) in cores {
            store.push(values, narrow_dynamics);
        }
        store.shrink_to_fit();
        store
    }

    /// Add the next core's potentials `values`, narrow where `narrow_dynamics` says its
    /// dynamics allow it and its values fit 16 bits now.
    pub fn push(&mut self, values: [i32; NEURONS], narrow_dynamics: bool) {
        if narrow_dynamics && values.iter().all(|&v| i16::try_from(v).is_ok()) {
            self.blocks.push(LineAligned(values.map(|v| v as i16)));
        } else {
            self.blocks.extend([LineAligned([0; NEURONS]); 2]);
            let k = self.blocks.len() - 2;
            *wide(&mut self.blocks[k..]) = LineAligned(values);
        }
        self.starts.push(u32::try_from(self.blocks.len()).expect("fewer than 2^31 cores"));
    }

    /// Give back the spare capacity of the tables.
    pub fn shrink_to_fit(&mut self) {
        self.blocks.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    /// The number of cores.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether core `k`'s potentials are stored in 16 bits.
    pub fn is_narrow(&self, k: usize) -> bool {
        self.starts[k + 1] - self.starts[k] == 1
    }

    /// Core `k`'s potentials.
    pub fn get(&self, k: usize) -> [i32; NEURONS] {
        let blocks = &self.blocks[blocks_of(&self.starts, k)];
        match blocks {
            [narrow] => narrow.0.map(i32::from),
            _ => {
                let mut copy = [blocks[0], blocks[1]];
                wide(&mut copy).0
            }
        }
    }

    /// Core `k`'s potentials, to tick it.
    pub fn core_mut(&mut self, k: usize) -> CorePotentials<'_> {
        core_of(&mut self.blocks, &self.starts, k)
    }

    /// Bytes the store occupies.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.blocks.capacity() * std::mem::size_of::<NarrowPotentials>()
            + self.starts.capacity() * std::mem::size_of::<u32>()
    }

    /// The table of blocks as a heap block (address, bytes).
    pub(crate) fn block(&self) -> (usize, usize) {
        (self.blocks.as_ptr() as usize, std::mem::size_of_val(&self.blocks[..]))
    }

    /// The table of blocks (a pointer to its first) and where each core's blocks start, for
    /// handing disjoint runs of cores to threads (see [`PotentialsChunk::new`]).
    pub(crate) fn raw_parts(&mut self) -> (*mut NarrowPotentials, &[u32]) {
        (self.blocks.as_mut_ptr(), &self.starts)
    }
}

/// The potentials of a run of consecutive cores: their blocks and where each core's start.
pub struct PotentialsChunk<'a> {
    blocks: &'a mut [NarrowPotentials],
    /// `starts[k]..starts[k + 1]` are the blocks of the run's core k, counted from the
    /// store's first block; `blocks` begins at `starts[0]`.
    starts: &'a [u32],
}

impl<'a> PotentialsChunk<'a> {
    /// The potentials of cores `first..last` of a store whose blocks start at `base`, with
    /// `starts` its table ([`PotentialStore::raw_parts`]).
    ///
    /// # Safety
    /// `base` must point to the blocks of the store that `starts` belongs to, the store must
    /// outlive `'a`, and nothing else may read or write these cores' blocks during `'a`.
    pub(crate) unsafe fn new(base: *mut NarrowPotentials, starts: &'a [u32], first: usize, last: usize) -> Self {
        let (from, to) = (starts[first] as usize, starts[last] as usize);
        // SAFETY: blocks from..to belong to cores first..last, and the caller guarantees that
        // they are the store's and not aliased.
        let blocks = unsafe { std::slice::from_raw_parts_mut(base.add(from), to - from) };
        Self { blocks, starts: &starts[first..=last] }
    }

    /// Ask the CPU to start loading the run's core `k`'s potentials (8 or 16 lines). The
    /// hardware prefetcher follows them in order by itself, but not far enough ahead once the
    /// table is out of the last-level cache. A hint only; it changes no result.
    #[inline(always)]
    pub fn prefetch(&self, k: usize) {
        let blocks = &self.blocks[blocks_of(self.starts, k)];
        prefetch_bytes(blocks.as_ptr().cast(), std::mem::size_of_val(blocks));
    }

    /// The potentials of the run's core `k`.
    #[inline(always)]
    pub fn core(&mut self, k: usize) -> CorePotentials<'_> {
        core_of(self.blocks, self.starts, k)
    }
}

/// Core `k`'s potentials among `blocks`, which begin with the first block of core 0 of
/// `starts` (see [`PotentialStore`]).
#[inline(always)]
fn core_of<'b>(blocks: &'b mut [NarrowPotentials], starts: &[u32], k: usize) -> CorePotentials<'b> {
    match &mut blocks[blocks_of(starts, k)] {
        [narrow] => CorePotentials::Narrow(narrow),
        two => CorePotentials::Wide(wide(two)),
    }
}

/// Where core `k`'s blocks lie among blocks that begin with the first block of core 0 of
/// `starts`.
#[inline(always)]
fn blocks_of(starts: &[u32], k: usize) -> std::ops::Range<usize> {
    (starts[k] - starts[0]) as usize..(starts[k + 1] - starts[0]) as usize
}

/// Two consecutive blocks as one wide core's 32-bit potentials.
#[inline(always)]
fn wide(blocks: &mut [NarrowPotentials]) -> &mut Potentials {
    assert_eq!(blocks.len(), 2, "a wide core's potentials take two blocks");
    // SAFETY: two consecutive blocks are 1,024 contiguous bytes starting a cache line, the size
    // and alignment of `Potentials` (both are `repr(C, align(64))`); every bit pattern is a
    // valid `i32`; and the result borrows `blocks` mutably, so nothing else reaches them.
    unsafe { &mut *blocks.as_mut_ptr().cast::<Potentials>() }
}

const _: () = assert!(
    2 * std::mem::size_of::<NarrowPotentials>() == std::mem::size_of::<Potentials>()
        && std::mem::align_of::<NarrowPotentials>() == std::mem::align_of::<Potentials>()
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::threshold_and_reset;
    use crate::params::{V_MAX, V_MIN};
    use proptest::prelude::*;

    const THR_MAX: i32 = (1 << 18) - 1;

    fn dynamics() -> impl Strategy<Value = Dynamics> {
        let threshold = prop_oneof![0..=THR_MAX, 0..=64, 32_700..=32_800, Just(0), Just(THR_MAX)];
        let reset = prop_oneof![-THR_MAX..=THR_MAX, -40..=40, Just(-32_768), Just(32_767), Just(32_768)];
        let mode = prop_oneof![Just(ResetMode::Normal), Just(ResetMode::Linear), Just(ResetMode::NonReset)];
        (threshold.clone(), threshold, reset, prop_oneof![0..=18u8, Just(0)], mode, any::<bool>()).prop_map(
            |(threshold, negative_threshold, reset_value, mask_bits, reset_mode, negative_saturation)| Dynamics {
                leak: 0,
                threshold,
                negative_threshold,
                reset_value,
                mask: (1 << mask_bits) - 1,
                mask_bits,
                reset_mode,
                stochastic_weights: [false; 4],
                stochastic_leak: false,
                leak_reversal: false,
                negative_saturation,
            },
        )
    }

    proptest! {
        /// The range is sound: steps 4-6 leave every potential inside it, from any potential
        /// (edges of the thresholds included) and any threshold noise.
        #[test]
        fn threshold_and_reset_stay_in_the_stored_range(
            d in dynamics(), anywhere in V_MIN..=V_MAX, edge in 0..7usize, offset in -2..=2i32, noise in any::<u32>(),
        ) {
            let eta = (noise as i32) & d.mask;
            let v = match edge {
                0 => anywhere,
                1 => d.threshold + eta,
                2 => -d.negative_threshold,
                3 => -(d.negative_threshold + eta),
                4 => V_MIN,
                5 => V_MAX,
                _ => 0,
            };
            let v = (v + offset).clamp(V_MIN, V_MAX);
            let (after, _) = threshold_and_reset(v, &d, eta);
            if let Some((lo, hi)) = stored_range(&d) {
                prop_assert!(lo <= after && after <= hi, "{v} -> {after}, outside {lo}..={hi} for {d:?} (eta {eta})");
            }
            if stays_narrow(&d) {
                prop_assert!(i16::try_from(after).is_ok());
            }
        }
    }

    #[test]
    fn usual_dynamics_stay_narrow_and_the_others_do_not() {
        let usual = Dynamics {
            leak: 0,
            threshold: 32_768,
            negative_threshold: 32_768,
            reset_value: 0,
            mask: 0,
            mask_bits: 0,
            reset_mode: ResetMode::Normal,
            stochastic_weights: [false; 4],
            stochastic_leak: false,
            leak_reversal: false,
            negative_saturation: true,
        };
        assert_eq!(stored_range(&usual), Some((-32_768, 32_767)));
        // All thresholds 0: a negative potential is clamped up to 0, above alpha + mask - 1.
        let zero = Dynamics { threshold: 0, negative_threshold: 0, reset_value: -32_768, ..usual };
        assert_eq!(threshold_and_reset(-1, &zero, 0).0, 0);
        assert_eq!(stored_range(&zero), Some((-32_768, 0)));
        assert!(stays_narrow(&usual));
        assert!(!stays_narrow(&Dynamics { threshold: 32_769, ..usual }));
        assert!(!stays_narrow(&Dynamics { negative_threshold: 32_769, ..usual }));
        assert!(!stays_narrow(&Dynamics { mask: 1, mask_bits: 1, ..usual }));
        assert!(!stays_narrow(&Dynamics { reset_mode: ResetMode::Linear, ..usual }));
        assert!(stays_narrow(&Dynamics { reset_mode: ResetMode::NonReset, threshold: 32_767, ..usual }));
        assert!(!stays_narrow(&Dynamics { reset_mode: ResetMode::NonReset, negative_saturation: false, ..usual }));
        assert!(stays_narrow(&Dynamics { negative_saturation: false, negative_threshold: 32_768, ..usual }));
        assert!(!stays_narrow(&Dynamics {
            negative_saturation: false,
            negative_threshold: 32_768,
            mask: 1,
            mask_bits: 1,
            ..usual
        }));
    }

    #[test]
    fn cores_are_stored_narrow_only_where_dynamics_and_values_allow() {
        let small: [i32; NEURONS] = std::array::from_fn(|j| j as i32 - 128);
        let large: [i32; NEURONS] = std::array::from_fn(|j| if j == 7 { 40_000 } else { -(j as i32) });
        assert!(PotentialStore::default().is_empty());
        let mut store = PotentialStore::new([(small, true), (small, false), (large, true), (large, false)].into_iter());
        assert_eq!(store.len(), 4);
        assert_eq!((0..4).map(|k| store.is_narrow(k)).collect::<Vec<_>>(), [true, false, false, false]);
        assert_eq!(store.blocks.len(), 7);
        for (k, v) in [small, small, large, large].iter().enumerate() {
            assert_eq!(&store.get(k), v);
        }
        if let CorePotentials::Narrow(p) = store.core_mut(0) {
            p[3] = -32_768;
        }
        if let CorePotentials::Wide(p) = store.core_mut(2) {
            p[255] = -524_288;
        }
        assert_eq!(store.get(0)[3], -32_768);
        assert_eq!(store.get(2)[255], -524_288);
        assert_eq!(store.get(1), small);
        assert_eq!(store.get(3), large);
    }
}
