//! Backing the run-time state with 2 MiB pages (Linux only; a hint elsewhere a no-op).
//!
//! A tick reads a few random lines of each core's crossbar, weights and routes: with 4 KiB
//! pages, a chip's 50 MB of state spans some 12,000 pages, far more than the CPU's TLB holds,
//! so most of those reads also pay a page walk, and a prefetch waits on it. With 2 MiB pages
//! the state spans about 25. The blocks are ordinary heap allocations, already written when
//! this runs, so the kernel is asked to collapse them into huge pages in place
//! (`MADV_COLLAPSE`, Linux 6.1 and later; older kernels get `MADV_HUGEPAGE` only, which lets
//! the kernel's background thread do it later). Contents never change; only page size does.

/// Heap blocks closer than this are taken to be neighbours in one heap mapping.
const NEIGHBOURS: usize = 4096;
const HUGE_PAGE: usize = 2 << 20;

/// Ask the kernel to back the memory of these heap blocks (start address, length) with huge
/// pages: blocks are merged into runs of neighbours, and each run's 2 MiB-aligned interior
/// is advised. Runs shorter than a huge page are left alone (small simulations are untouched).
pub fn advise_huge_pages(mut blocks: Vec<(usize, usize)>) {
    blocks.sort_unstable();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (start, len) in blocks {
        let end = start + len;
        match runs.last_mut() {
            Some(run) if start <= run.1 + NEIGHBOURS => run.1 = run.1.max(end),
            _ => runs.push((start, end)),
        }
    }
    for (start, end) in runs {
        let (a, b) = (start.next_multiple_of(HUGE_PAGE), end & !(HUGE_PAGE - 1));
        if a < b {
            advise(a, b - a);
        }
    }
}

#[cfg(target_os = "linux")]
fn advise(addr: usize, len: usize) {
    use std::ffi::{c_int, c_void};
    extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
    const MADV_HUGEPAGE: c_int = 14;
    const MADV_COLLAPSE: c_int = 25;
    // SAFETY: `madvise` with these two advices changes how memory is backed, never its
    // contents, and fails harmlessly (an error code, ignored: it is a hint) on kernels or
    // settings that do not support it. The range lies between heap blocks this process owns.
    unsafe {
        madvise(addr as *mut c_void, len, MADV_HUGEPAGE);
        madvise(addr as *mut c_void, len, MADV_COLLAPSE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_addr: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advising_changes_no_contents() {
        let blocks: Vec<Vec<u64>> =
            (0..64u64).map(|b| (0..(64 << 10) / 8).map(|k| b.wrapping_mul(0x9E37_79B9) ^ k).collect()).collect();
        advise_huge_pages(blocks.iter().map(|b| (b.as_ptr() as usize, b.len() * 8)).collect());
        for (b, block) in (0..64u64).zip(&blocks) {
            assert!(block.iter().zip(0..).all(|(&v, k)| v == b.wrapping_mul(0x9E37_79B9) ^ k));
        }
    }
}
