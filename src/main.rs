fn main() -> std::process::ExitCode {
    nftrace::cli::run(std::env::args_os())
}
