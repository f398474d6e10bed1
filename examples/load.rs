//! Loads a bundle folder `ROUNDS` times and prints the median load time: the cost
//! `nftrace trace --dump DIR` pays before its first packet (used by bench/compare).
//!
//! `cargo run --release --example load -- DIR [ROUNDS]`

use std::path::Path;
use std::time::Instant;

use nftrace::bundle::BundlePaths;

/// The allocator the `nftrace` binary uses, so the numbers match the command's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: load DIR [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let paths = BundlePaths::default().with_dir(Path::new(&dir))?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let host = paths.load()?;
        times.push(start.elapsed());
        std::hint::black_box(&host);
        // As the command does: the host is not freed rule by rule.
        std::mem::forget(host);
    }
    times.sort();
    println!("{:.2} ms", times[rounds / 2].as_secs_f64() * 1e3);
    Ok(())
}
