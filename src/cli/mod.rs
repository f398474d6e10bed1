//! Command line: argument handling, loading, dispatch and exit codes.
//! Exit codes: 0 the command ran (whatever the verdict), 1 a negative answer
//! (`check`: a probe failed; `diff`: behaviour changed), 2 bad input or usage.

mod analysis;
mod args;
mod check;
mod pages;
mod show;
mod tools;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::bundle::BundlePaths;
use crate::model::Host;
use crate::probe;
pub use crate::probe::probe_from_flags;
use crate::render;
use crate::trace::{self, assume::AssumeConfig, TraceOptions};
use args::{Cli, Command, InputArgs, TraceArgs, TraceFormat};

/// Runs the command line; returns the process exit code.
pub fn run(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    pages::start_small();
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match dispatch(cli.command) {
        Ok((text, code)) => write_stdout(&text, code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes the output and exits with `code`; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str, code: u8) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::from(code),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: writing output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command; returns its output and exit code (0, or 1 for a negative answer).
fn dispatch(command: Command) -> Result<(String, u8)> {
    match command {
        Command::Trace(a) => run_trace(&a).map(|t| (t, 0)),
        Command::Show(a) => {
            let host = load(&a.input)?;
            Ok((show::render(&host, a.format), 0))
        }
        Command::Check(a) => check::run_check(&a),
        Command::Diff(a) => check::run_diff(&a),
        Command::Collect(a) => tools::collect(&a),
        Command::Lint(a) => analysis::run_lint(&a),
        Command::Search(a) => analysis::run_search(&a),
        Command::Completions(a) => Ok((tools::completions(a.shell), 0)),
        Command::Man => tools::man().map(|m| (m, 0)),
    }
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
        ipvs_conn: input.ipvs_conn.clone(),
        ipset: input.ipset.clone(),
        sysctl: input.sysctl.clone(),
        lenient: input.lenient,
        dir: None,
    };
    if let Some(dir) = &input.dump {
        paths = paths.with_dir(dir)?;
    }
    pages::fit_to([&paths]);
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
    let probe = probe::probe_from_args(&a.packet).context("bad packet description")?;
    let host = load(&a.input)?;
    let opts = TraceOptions {
        assume,
        force_ctstate: a.ctstate,
        ipvs_dest: a.ipvs_dest.as_deref().map(probe::addr_port).transpose()?,
        record_evaluations: false,
    };
    let (t, explanation) = if a.explain {
        let (t, e) = crate::analysis::explain::explain(&host, &probe, &opts);
        (t, Some(e))
    } else {
        (trace::trace(&host, &probe, &opts), None)
    };
    let reply = if a.reply {
        Some(trace_reply(&host, &t, &opts)?)
    } else {
        None
    };
    let out = match a.format {
        TraceFormat::Log => {
            let fields = render::log::LogFields::default();
            let mut out = render::log::render(&t, &fields);
            if let Some(r) = &reply {
                out.push_str("# reply\n");
                out.push_str(&render::log::render(r, &fields));
            }
            if let Some(e) = &explanation {
                out.push_str(&render::analysis::explain_log(e));
            }
            out
        }
        TraceFormat::Json => match (&reply, &explanation) {
            (None, None) => render::json::render(&t),
            (None, Some(e)) => {
                let mut doc = serde_json::to_value(render::json::document(&t))?;
                doc["explain"] = serde_json::to_value(e)?;
                serde_json::to_string_pretty(&doc)? + "\n"
            }
            (Some(r), e) => {
                let doc = serde_json::json!({
                    "request": render::json::document(&t),
                    "reply": render::json::document(r),
                    "explain": e,
                });
                serde_json::to_string_pretty(&doc)? + "\n"
            }
        },
        TraceFormat::Human => {
            let color = render::human::use_color(a.color, std::io::stdout().is_terminal());
            let palette = render::human::Palette::new(color);
            let mut out = render::human::render(&t, &palette);
            if let Some(e) = &explanation {
                out.push_str(&render::analysis::explain_human(e, &palette));
            }
            if let Some(r) = &reply {
                out.push_str("\n── reply ──\n");
                out.push_str(&render::human::render(r, &palette));
            }
            out
        }
    };
    // The process ends right after printing: freeing a large ruleset rule by rule
    // would cost more than loading it (issue 6), so leave it to the exit.
    std::mem::forget(host);
    Ok(out)
}

/// Traces the reply of `first` through the host with its connection added.
fn trace_reply(
    host: &Host,
    first: &trace::event::Trace,
    opts: &TraceOptions,
) -> Result<trace::event::Trace> {
    if let (None, Some(c), Some(probe)) = (
        first.connection.as_ref(),
        first.ipvs_conn.as_ref(),
        trace::reply::reply_probe(first),
    ) {
        // An IPVS-scheduled request (untracked with vs.conntrack=0): the reply
        // meets its IPVS connection in ip_vs_out.
        let host = trace::reply::with_ipvs_conn(host, c);
        return Ok(trace::trace(&host, &probe, opts));
    }
    let (Some(probe), Some(conn)) = (trace::reply::reply_probe(first), first.connection.as_ref())
    else {
        anyhow::bail!(
            "--reply: the packet created no connection that could be answered (verdict {})",
            first.verdict.as_str()
        );
    };
    let host = trace::reply::with_connection(host, conn);
    Ok(trace::trace(&host, &probe, opts))
}
