//! `nftrace-gen`: writes a seeded synthetic bundle folder for benchmarks (issue 6).
//!
//! ```text
//! nftrace-gen kube --services 10000 --endpoints 5 --out /tmp/kube10k
//! nftrace-gen linear --rules 50000 --out /tmp/linear
//! nftrace-gen deep --depth 30 --out /tmp/deep
//! nftrace-gen conntrack --entries 500000 --out /tmp/ct
//! nftrace-gen routes --routes 1000000 --policy-rules 100 --out /tmp/routes
//! ```
//!
//! Every folder gets the five bundle files (`iptables-save.txt`, `route.txt`,
//! `rule.txt`, `addr.txt`, `sysctl.txt`) plus `conntrack.txt` for `conntrack` and a
//! `nftrace check` file of 10,000 probes (`probes.toml`) for `kube`, so
//! `nftrace trace --dump DIR` loads it as it would a real host's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nftrace::workload::{self, KubeShape};

/// Writes a synthetic host bundle.
#[derive(Parser)]
#[command(name = "nftrace-gen")]
struct Args {
    /// Which workload.
    #[command(subcommand)]
    workload: Workload,
    /// Output folder (created).
    #[arg(long, global = true, default_value = "bundle")]
    out: PathBuf,
    /// Seed for every random choice.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
}

#[derive(Subcommand)]
enum Workload {
    /// A kube-proxy (iptables mode) node.
    Kube {
        /// Services.
        #[arg(long, default_value_t = 10_000)]
        services: usize,
        /// Endpoints per service.
        #[arg(long, default_value_t = 5)]
        endpoints: usize,
    },
    /// One long filter INPUT chain.
    Linear {
        /// Rules.
        #[arg(long, default_value_t = 50_000)]
        rules: usize,
    },
    /// Stacks of user chains jumping `depth` levels deep.
    Deep {
        /// Levels.
        #[arg(long, default_value_t = 30)]
        depth: usize,
        /// Stacks.
        #[arg(long, default_value_t = 10)]
        width: usize,
        /// Non-matching rules before each jump.
        #[arg(long, default_value_t = 20)]
        per_chain: usize,
    },
    /// A conntrack table (with the kube ruleset of 1,000 services).
    Conntrack {
        /// Entries.
        #[arg(long, default_value_t = 500_000)]
        entries: usize,
    },
    /// A full Internet routing table with policy rules.
    Routes {
        /// Routes in main.
        #[arg(long, default_value_t = 1_000_000)]
        routes: usize,
        /// Policy rules (each with its own table).
        #[arg(long, default_value_t = 100)]
        policy_rules: usize,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match write(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nftrace-gen: {}: {e}", args.out.display());
            ExitCode::from(2)
        }
    }
}

/// Writes the bundle files of the chosen workload.
fn write(args: &Args) -> std::io::Result<()> {
    let seed = args.seed;
    let kube = |services| {
        workload::kube_proxy(KubeShape {
            services,
            endpoints: 5,
            seed,
        })
    };
    let mut files: Vec<(&str, String)> = vec![
        ("addr.txt", workload::addrs()),
        ("sysctl.txt", workload::sysctls()),
        ("rule.txt", workload::policy_rules(0)),
        ("route.txt", workload::routes(0, 0, seed)),
    ];
    let (name, text) = match &args.workload {
        Workload::Kube {
            services,
            endpoints,
        } => {
            let shape = KubeShape {
                services: *services,
                endpoints: *endpoints,
                seed,
            };
            files.push(("probes.toml", workload::kube_probes(*services, 10_000)));
            ("iptables-save.txt", workload::kube_proxy(shape))
        }
        Workload::Linear { rules } => {
            ("iptables-save.txt", workload::linear_firewall(*rules, seed))
        }
        Workload::Deep {
            depth,
            width,
            per_chain,
        } => (
            "iptables-save.txt",
            workload::deep_jumps(*depth, *width, *per_chain, seed),
        ),
        Workload::Conntrack { entries } => {
            files.push(("iptables-save.txt", kube(1000)));
            ("conntrack.txt", workload::conntrack(*entries, seed))
        }
        Workload::Routes {
            routes,
            policy_rules,
        } => {
            files.push(("rule.txt", workload::policy_rules(*policy_rules)));
            files.push(("iptables-save.txt", kube(1000)));
            ("route.txt", workload::routes(*routes, *policy_rules, seed))
        }
    };
    files.push((name, text));
    std::fs::create_dir_all(&args.out)?;
    for (file, text) in &files {
        std::fs::write(Path::new(&args.out).join(file), text)?;
    }
    Ok(())
}
