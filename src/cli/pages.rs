//! Whether the process takes transparent huge pages, by how much it will read.
//!
//! mimalloc advises huge pages on its arenas (`madvise(MADV_HUGEPAGE)`), so
//! each 2 MB region it touches becomes resident whole. On a large dump that is
//! a fifth off the load (kube-10k: 58 against 74 ms); on a small one it is most
//! of the peak memory (deep-30: 24 against 7 MB) and buys a few milliseconds.
//! docs/performance.md, "Seventh round", has the measurements.
//!
//! The command starts without huge pages ([`start_small`]: even parsing the
//! arguments would otherwise fault in whole huge pages) and turns them on once
//! it knows the inputs are large ([`fit_to`]).

use crate::bundle::BundlePaths;

/// Inputs this large (all files together) run on huge pages.
pub const HUGE_PAGES_FROM: u64 = 16 << 20;

/// Turns transparent huge pages off: later page faults take 4 KB pages, even in
/// ranges advised huge (`prctl(PR_SET_THP_DISABLE)`).
pub fn start_small() {
    set_huge_pages(false);
}

/// Turns transparent huge pages back on when the inputs total at least
/// [`HUGE_PAGES_FROM`].
pub fn fit_to<'a>(bundles: impl IntoIterator<Item = &'a BundlePaths>) {
    let bytes: u64 = bundles.into_iter().map(BundlePaths::input_bytes).sum();
    if bytes >= HUGE_PAGES_FROM {
        set_huge_pages(true);
    }
}

#[cfg(target_os = "linux")]
fn set_huge_pages(on: bool) {
    // Only memory and speed are at stake: a kernel without THP (or without this
    // prctl) runs the same.
    let _ = rustix::thread::disable_transparent_huge_pages(!on);
}

#[cfg(not(target_os = "linux"))]
fn set_huge_pages(_on: bool) {}
