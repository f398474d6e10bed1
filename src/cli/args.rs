//! The command line as clap sees it. Nothing below `cli/` uses these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Offline what-if packet tracer for Linux netfilter, routing and NAT.
#[derive(Debug, Parser)]
#[command(name = "nftrace", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trace one packet through a host's dumps.
    Trace(Box<TraceArgs>),
    /// Show what was loaded from a host's dumps.
    Show(ShowArgs),
    /// Run every probe of a probes file against one or more hosts and compare
    /// with its expectations (exit 1 when one fails).
    Check(CheckArgs),
    /// Trace the same packets through two bundles and report what changed
    /// (exit 1 when behaviour changed).
    Diff(DiffArgs),
    /// Capture this host's dumps into a bundle folder (run as root; only reads).
    Collect(CollectArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
}

/// Where the dumps come from.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Bundle folder with iptables-save.txt, route.txt, rule.txt, addr.txt, …
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
    /// iptables-save output (`-` = stdin); overrides the bundle's.
    #[arg(long, value_name = "FILE")]
    pub iptables: Option<PathBuf>,
    /// `ip route show table all` output.
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// `ip rule show` output.
    #[arg(long = "rules", value_name = "FILE")]
    pub ip_rules: Option<PathBuf>,
    /// `ip addr show` output.
    #[arg(long, value_name = "FILE")]
    pub addrs: Option<PathBuf>,
    /// `conntrack -L` output.
    #[arg(long, value_name = "FILE")]
    pub conntrack: Option<PathBuf>,
    /// `ipvsadm -Sn` or `ipvsadm -Ln` output.
    #[arg(long, value_name = "FILE")]
    pub ipvs: Option<PathBuf>,
    /// `ipvsadm -Lnc` output (IPVS connections).
    #[arg(long = "ipvs-conn", value_name = "FILE")]
    pub ipvs_conn: Option<PathBuf>,
    /// `ipset save` or `ipset list` output.
    #[arg(long, value_name = "FILE")]
    pub ipset: Option<PathBuf>,
    /// `sysctl -a` output.
    #[arg(long, value_name = "FILE")]
    pub sysctl: Option<PathBuf>,
    /// Skip malformed conntrack lines with a warning instead of failing.
    #[arg(long)]
    pub lenient: bool,
}

/// Output formats of `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// A readable, coloured walk.
    Human,
    /// The kernel's TRACE lines.
    Log,
    /// JSON.
    Json,
}

/// Output formats of `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// A summary for people.
    Human,
    /// The ruleset in iptables-save form.
    Save,
}

/// `nftrace trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// The packet.
    #[command(flatten)]
    pub packet: crate::probe::PacketArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: TraceFormat,
    /// Colour: auto (terminal, unless NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: crate::render::human::ColorChoice,
    /// Force the packet's conntrack state (what-if without a conntrack dump).
    #[arg(long, value_enum, value_name = "STATE")]
    pub ctstate: Option<crate::trace::walk::ForcedState>,
    /// IPVS: use this real server instead of the scheduler's stated choice.
    #[arg(long = "ipvs-dest", value_name = "RIP:PORT")]
    pub ipvs_dest: Option<String>,
    /// Also trace the reply the packet provokes, with its connection in the table.
    #[arg(long)]
    pub reply: bool,
    /// Override an assumption, KEY=VALUE (repeatable; `--assume help` lists keys).
    #[arg(long, value_name = "KEY=VALUE")]
    pub assume: Vec<String>,
}

/// `nftrace show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ShowFormat,
}

/// Output formats of `check` and `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Tables for people.
    Human,
    /// JSON.
    Json,
}

/// `nftrace check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Bundle folder; repeat it or give a glob (`hosts/*`) to check a fleet.
    #[arg(long, value_name = "DIR|GLOB", required = true)]
    pub dump: Vec<String>,
    /// The probes file (docs/check.md).
    #[arg(value_name = "PROBES.toml")]
    pub probes: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormat,
    /// Also write JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Skip malformed conntrack lines with a warning instead of failing.
    #[arg(long)]
    pub lenient: bool,
}

/// `nftrace diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The bundle as it is.
    #[arg(long, value_name = "DIR")]
    pub before: PathBuf,
    /// The bundle after the change.
    #[arg(long, value_name = "DIR")]
    pub after: PathBuf,
    /// Probes to trace; without it, one probe per rule of either ruleset.
    #[arg(value_name = "PROBES.toml")]
    pub probes: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormat,
}

/// `nftrace collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Folder to write the bundle into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `nftrace completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
