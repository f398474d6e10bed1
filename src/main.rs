//! The `nftrace` command: a thin shell over the library.

/// mimalloc: loading a large dump is mostly small allocations (issue 6).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nftrace::cli::run(std::env::args_os())
}
