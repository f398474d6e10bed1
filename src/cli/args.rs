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
    /// Review a ruleset: shadowed rules, unreachable chains, NAT fan-in, DNAT
    /// without FORWARD accept, MASQUERADE without a usable source (exit 1 at
    /// or above --fail-on).
    Lint(LintArgs),
    /// Find the classes of packets that reach an outcome (verdict, rule, address).
    Search(Box<SearchArgs>),
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
    /// Also list the near misses: rules that would have changed the outcome,
    /// what failed and the smallest change to the packet that reaches them.
    #[arg(long)]
    pub explain: bool,
}

/// `nftrace lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormat,
    /// Exit 1 when a finding at or above this level exists.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "error")]
    pub fail_on: crate::analysis::lint::Level,
}

/// `nftrace search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Packets received on this interface (repeatable; default: every
    /// interface of the host but lo).
    #[arg(long = "from-iif", value_name = "IFACE", conflicts_with = "local")]
    pub from_iif: Vec<String>,
    /// Packets generated by the host itself.
    #[arg(long)]
    pub local: bool,
    /// Only sources in this network (ADDR[/LEN]).
    #[arg(short = 's', long = "src", value_name = "NET")]
    pub src: Option<String>,
    /// Only destinations in this network (ADDR[/LEN]), as sent.
    #[arg(short = 'd', long = "dst", value_name = "NET")]
    pub dst: Option<String>,
    /// Protocols, comma separated (tcp, udp, icmp or numbers).
    #[arg(short = 'p', long = "proto", default_value = "tcp,udp,icmp")]
    pub proto: String,
    /// Only these source ports (P or A:B).
    #[arg(long, value_name = "PORTS")]
    pub sport: Option<String>,
    /// Only these destination ports (P or A:B).
    #[arg(long, value_name = "PORTS")]
    pub dport: Option<String>,
    /// TCP flags of the packets explored.
    #[arg(long = "tcp-flags", default_value = "SYN")]
    pub tcp_flags: String,
    /// Mark the packets arrive with (decimal or 0x hex).
    #[arg(long, default_value = "0")]
    pub mark: String,
    /// The outcome wanted: accept or drop (drop includes REJECT and QUEUE).
    #[arg(long, value_enum)]
    pub verdict: Option<SearchVerdict>,
    /// Packets that match this rule on their way (table:chain:rulenum).
    #[arg(long, value_name = "TABLE:CHAIN:N")]
    pub via: Option<String>,
    /// Packets that end up accepted towards ADDR[:PORT] (after NAT).
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub to: Option<String>,
    /// Force the conntrack state of the packets explored.
    #[arg(long, value_enum, value_name = "STATE")]
    pub ctstate: Option<crate::trace::walk::ForcedState>,
    /// Override an assumption, KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub assume: Vec<String>,
    /// Most packets to trace before giving up (the result then says how much
    /// was left unexplored).
    #[arg(long, default_value = "200000")]
    pub max_traces: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormat,
}

/// Verdicts `search --verdict` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchVerdict {
    /// Accepted (delivered or sent).
    Accept,
    /// Dropped, rejected or queued.
    Drop,
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
