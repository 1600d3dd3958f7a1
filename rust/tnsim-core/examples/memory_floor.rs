//! The memory floor of a core-tick (see `tnsim_core::floor`), printed for some sizes.
//!
//! `cargo run --release -p tnsim-core --example memory_floor [chips...]` (default 1 4 16);
//! `TNSIM_FLOOR_THREADS=1,2` (the default) sets the thread counts.

use tnsim_core::floor::{memory_floor, memory_floor_bytes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chips = std::env::args().skip(1).map(|a| a.parse::<usize>()).collect::<Result<Vec<_>, _>>()?;
    let chips = if chips.is_empty() { vec![1, 4, 16] } else { chips };
    let threads = std::env::var("TNSIM_FLOOR_THREADS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .map(|a| a.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()?;
    println!("memory floor: the engine's memory accesses per core-tick, no arithmetic");
    println!("{:>6} {:>7} {:>10} {:>8} {:>14}", "chips", "cores", "state MiB", "threads", "ns/core-tick");
    for n in chips {
        for &t in &threads {
            let ns = memory_floor(n, t, 6_000_000)?;
            let mib = memory_floor_bytes(n) as f64 / (1 << 20) as f64;
            println!("{n:>6} {:>7} {mib:>10.0} {t:>8} {ns:>14.0}", n * 4096);
        }
    }
    Ok(())
}
