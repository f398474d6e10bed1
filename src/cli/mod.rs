//! Command line: argument handling, loading, dispatch and exit codes.
//! Exit codes: 0 the command ran (whatever the verdict), 2 bad input or usage.

mod args;
mod packet;
mod show;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::bundle::BundlePaths;
use crate::model::Host;
use crate::render;
use crate::trace::{self, assume::AssumeConfig, TraceOptions};
use args::{Cli, Command, InputArgs, TraceArgs, TraceFormat};

/// Runs the command line; returns the process exit code.
pub fn run(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match dispatch(cli.command) {
        Ok(text) => write_stdout(&text),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes the output; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing output: {e}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> Result<String> {
    match command {
        Command::Trace(a) => run_trace(&a),
        Command::Show(a) => {
            let host = load(&a.input)?;
            Ok(show::render(&host, a.format))
        }
    }
}

/// Builds a probe from `trace`'s packet flags (e.g. a recorded fixture's
/// `nftrace_args`), validated exactly as on the command line.
pub fn probe_from_flags<S: AsRef<str>>(flags: &[S]) -> Result<trace::Probe> {
    #[derive(Parser)]
    struct ProbeOnly {
        #[command(flatten)]
        packet: args::PacketArgs,
    }
    let argv = std::iter::once("probe").chain(flags.iter().map(AsRef::as_ref));
    let parsed = ProbeOnly::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
    packet::probe_from_args(&parsed.packet)
}

/// Loads the host from `--dump` and the per-file flags.
fn load(input: &InputArgs) -> Result<Host> {
    let mut paths = BundlePaths {
        iptables: input.iptables.clone(),
        routes: input.routes.clone(),
        rules: input.ip_rules.clone(),
        addrs: input.addrs.clone(),
        conntrack: input.conntrack.clone(),
        ipvs: input.ipvs.clone(),
        sysctl: input.sysctl.clone(),
        lenient: input.lenient,
    };
    if let Some(dir) = &input.dump {
        paths = paths.with_dir(dir)?;
    }
    Ok(paths.load()?)
}

fn run_trace(a: &TraceArgs) -> Result<String> {
    if a.assume.iter().any(|s| s == "help") {
        return Ok(format!(
            "assumption keys (--assume KEY=VALUE):\n{}\n",
            AssumeConfig::help()
        ));
    }
    let assume = AssumeConfig::parse(&a.assume).map_err(anyhow::Error::msg)?;
    let probe = packet::probe_from_args(&a.packet).context("bad packet description")?;
    let host = load(&a.input)?;
    let opts = TraceOptions { assume };
    let t = trace::trace(&host, &probe, &opts);
    Ok(match a.format {
        TraceFormat::Log => render::log::render(&t, &render::log::LogFields::default()),
        TraceFormat::Json => render::json::render(&t),
        TraceFormat::Human => {
            let color = render::human::use_color(a.color, std::io::stdout().is_terminal());
            render::human::render(&t, &render::human::Palette::new(color))
        }
    })
}
