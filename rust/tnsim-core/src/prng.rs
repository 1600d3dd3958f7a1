//! The per-core pseudo-random generator (SPEC.md section 4, canonical choice): xorshift32.

/// Seed used when a core's seed is 0 (xorshift's state must never be 0).
pub const ZERO_SEED_REPLACEMENT: u32 = 0x9E37_79B9;

/// 32-bit xorshift (Marsaglia 13/17/5). One per core; draws happen only where SPEC.md says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xorshift32 {
    state: u32,
}

impl Xorshift32 {
    pub fn new(seed: u32) -> Self {
        Self { state: if seed == 0 { ZERO_SEED_REPLACEMENT } else { seed } }
    }

    /// Rebuild from a saved state (0 is mapped as a seed would be).
    pub fn from_state(state: u32) -> Self {
        Self::new(state)
    }

    pub fn state(&self) -> u32 {
        self.state
    }

    /// Advance and return the new state.
    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        self.state = next_state(self.state);
        self.state
    }

    /// An 8-bit draw (rho of SPEC.md section 3): the low 8 bits of the next state.
    #[inline(always)]
    pub fn draw_u8(&mut self) -> i32 {
        (self.next_u32() & 0xFF) as i32
    }

    /// Advance by `n` states at once, putting the k-th of them (k from 0; what the k-th call
    /// of [`Xorshift32::next_u32`] would return) at `out[draw_position(k)]`. `out` is resized
    /// to whole blocks of [`DRAW_BLOCK`]; the states past the n-th in the last block are
    /// computed but not consumed: afterwards the generator is exactly where n calls of
    /// `next_u32` would leave it.
    ///
    /// Why: a chain of `next_u32` calls costs six dependent operations per state, and a tick
    /// of stochastic neurons needs about a thousand. xorshift is linear over GF(2), so the
    /// state m steps after s is a fixed linear map of s (applied by tables); with it a block
    /// runs 16 chains side by side (lane k from state 16 k of the block), which vectorise, and
    /// [`BLOCKS_AT_ONCE`] blocks run side by side, so that their chains fill the vector units
    /// instead of waiting on each other's latency.
    #[inline(always)]
    pub fn fill_draws(&mut self, n: usize, out: &mut Vec<u32>) {
        // Every element is written below: resize only writes the ones it adds.
        out.resize(n.div_ceil(DRAW_BLOCK) * DRAW_BLOCK, 0);
        // Lane k starts block b at state 256 b + 16 k: block 0's starts are a chain of jumps by
        // 16, each later block's are its lanes' own jumps by 256 (independent of each other).
        let mut starts = [0u32; LANES];
        starts[0] = self.state;
        for k in 1..LANES {
            starts[k] = jump(&JUMP_16, starts[k - 1]);
        }
        let mut groups = out.chunks_exact_mut(BLOCKS_AT_ONCE * DRAW_BLOCK);
        for group in &mut groups {
            starts = fill_blocks::<BLOCKS_AT_ONCE>(starts, group);
        }
        let rest = groups.into_remainder();
        match rest.len() / DRAW_BLOCK {
            0 => {}
            1 => _ = fill_blocks::<1>(starts, rest),
            2 => _ = fill_blocks::<2>(starts, rest),
            _ => _ = fill_blocks::<3>(starts, rest),
        }
        if n > 0 {
            self.state = out[draw_position(n as u32 - 1) as usize];
        }
    }
}

/// Blocks of [`Xorshift32::fill_draws`] generated side by side.
const BLOCKS_AT_ONCE: usize = 4;

/// Fill `G` consecutive blocks (`out`, `G` blocks long) whose first block's lanes start at
/// `first`; returns the lane starts of the block after them.
#[inline(always)]
fn fill_blocks<const G: usize>(first: [u32; LANES], out: &mut [u32]) -> [u32; LANES] {
    let (blocks, rest) = out.as_chunks_mut::<DRAW_BLOCK>();
    assert!(blocks.len() == G && rest.is_empty(), "{G} whole blocks");
    // Each step is one whole-array `advance`: written as nested loops over blocks and lanes,
    // or with `map`, the steps compiled to scalar code on lanes kept in memory.
    let mut lanes = [first; G];
    for g in 1..G {
        lanes[g] = jumped_block(lanes[g - 1]);
    }
    let after = jumped_block(lanes[G - 1]);
    for step in 0..LANES {
        for g in 0..G {
            lanes[g] = advance(lanes[g]);
            blocks[g][step * LANES..(step + 1) * LANES].copy_from_slice(&lanes[g]);
        }
    }
    after
}

/// The lane starts of the block after the one whose lanes start at `lanes` (a plain loop, not
/// `map`, whose closure was not inlined here).
#[inline(always)]
fn jumped_block(lanes: [u32; LANES]) -> [u32; LANES] {
    let mut after = [0u32; LANES];
    for (lane, &x) in after.iter_mut().zip(&lanes) {
        *lane = jump(&JUMP_256, x);
    }
    after
}

/// Every lane one step on (one vector operation per xorshift step).
#[inline(always)]
fn advance(lanes: [u32; LANES]) -> [u32; LANES] {
    std::array::from_fn(|l| next_state(lanes[l]))
}

/// States per block of [`Xorshift32::fill_draws`].
pub const DRAW_BLOCK: usize = LANES * LANES;
const LANES: usize = 16;

/// Where [`Xorshift32::fill_draws`] puts its k-th state: in each block of 256, lane l's 16
/// consecutive states (256 k + 16 l + m, m = 0..16) are stored a lane apart, at 16 m + l.
#[inline(always)]
pub fn draw_position(k: u32) -> u32 {
    const BLOCK: u32 = DRAW_BLOCK as u32;
    const L: u32 = LANES as u32;
    (k & !(BLOCK - 1)) | (k & (L - 1)) << 4 | (k >> 4 & (L - 1))
}

#[inline(always)]
const fn next_state(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// The state after `x` by the jump whose tables are `t`.
#[inline(always)]
fn jump(t: &[[u32; 256]; 4], x: u32) -> u32 {
    t[0][(x & 0xFF) as usize]
        ^ t[1][(x >> 8 & 0xFF) as usize]
        ^ t[2][(x >> 16 & 0xFF) as usize]
        ^ t[3][(x >> 24) as usize]
}

/// `JUMP_16[b][v]`: the state 16 steps after `v << 8b`. The map is linear, so the state 16
/// steps after x is the XOR of its four bytes' entries ([`jump`]). `JUMP_256`: 256 steps.
static JUMP_16: [[u32; 256]; 4] = jump_tables(LANES);
static JUMP_256: [[u32; 256]; 4] = jump_tables(DRAW_BLOCK);

const fn jump_tables(steps: usize) -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut b = 0;
    while b < 4 {
        let mut v = 0;
        while v < 256 {
            let mut x = (v as u32) << (8 * b);
            let mut s = 0;
            while s < steps {
                x = next_state(x);
                s += 1;
            }
            t[b][v] = x;
            v += 1;
        }
        b += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sequence_from_seed_1() {
        // Hand-computed: 1 ^ (1<<13) = 0x2001; ^ (0x2001>>17 = 0) = 0x2001;
        // ^ (0x2001<<5 = 0x40020) = 0x42021.
        let mut r = Xorshift32::new(1);
        assert_eq!(r.next_u32(), 0x0004_2021);
    }

    #[test]
    fn filled_draws_are_the_sequence_and_leave_the_generator_where_it_would_be() {
        for seed in [1, 0xDEAD_BEEF, 0x8000_0000, u32::MAX] {
            for n in [0, 1, 15, 16, 17, 255, 256, 257, 513, 769, 1000, 1024, 1025, 2048, 2305, 4352] {
                let (mut serial, mut blocked) = (Xorshift32::new(seed), Xorshift32::new(seed));
                let mut out = vec![7; 3];
                blocked.fill_draws(n, &mut out);
                assert_eq!(out.len(), n.div_ceil(DRAW_BLOCK) * DRAW_BLOCK, "n = {n}");
                for k in 0..n {
                    assert_eq!(
                        out[draw_position(k as u32) as usize],
                        serial.next_u32(),
                        "seed {seed:#x}, n = {n}, draw {k}"
                    );
                }
                assert_eq!(blocked, serial, "seed {seed:#x}, n = {n}");
            }
        }
    }

    #[test]
    fn draw_positions_are_a_permutation_of_each_block() {
        let mut seen = vec![false; 2 * DRAW_BLOCK];
        for k in 0..2 * DRAW_BLOCK {
            let p = draw_position(k as u32) as usize;
            assert_eq!(p / DRAW_BLOCK, k / DRAW_BLOCK);
            assert!(!seen[p], "position {p} twice");
            seen[p] = true;
        }
    }

    #[test]
    fn zero_seed_is_replaced() {
        assert_eq!(Xorshift32::new(0).state(), ZERO_SEED_REPLACEMENT);
    }
}
