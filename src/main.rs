//! The `nftrace` command: a thin shell over the library.

fn main() -> std::process::ExitCode {
    nftrace::cli::run(std::env::args_os())
}
