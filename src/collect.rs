//! `nftrace collect`: captures this host's dumps into a bundle folder
//! (docs/bundle.md), as root. It only reads: every command is a listing. A
//! tool that is not installed is noted in `manifest.txt`, not an error.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

/// One dump: the file it goes to and the command that prints it.
struct Capture {
    file: &'static str,
    argv: &'static [&'static str],
}

/// The dumps, in the order they are taken.
const CAPTURES: &[Capture] = &[
    Capture {
        file: "iptables-save.txt",
        argv: &["iptables-save", "-c"],
    },
    Capture {
        file: "iptables-legacy-save.txt",
        argv: &["iptables-legacy-save", "-c"],
    },
    Capture {
        file: "iptables-nft-save.txt",
        argv: &["iptables-nft-save", "-c"],
    },
    Capture {
        file: "route.txt",
        argv: &["ip", "route", "show", "table", "all"],
    },
    Capture {
        file: "rule.txt",
        argv: &["ip", "rule", "show"],
    },
    Capture {
        file: "addr.txt",
        argv: &["ip", "addr", "show"],
    },
    Capture {
        file: "conntrack.txt",
        argv: &["conntrack", "-L"],
    },
    Capture {
        file: "conntrack-stats.txt",
        argv: &["conntrack", "-S"],
    },
    Capture {
        file: "ipvsadm.txt",
        argv: &["ipvsadm", "-Sn"],
    },
    Capture {
        file: "ipvs-conn.txt",
        argv: &["ipvsadm", "-Lnc"],
    },
    Capture {
        file: "ipset.txt",
        argv: &["ipset", "save"],
    },
];

/// The sysctls nftrace reads: `(prefix, suffix)` of the key.
const SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.ip_forward", ""),
    ("net.ipv4.conf.", ".forwarding"),
    ("net.ipv4.conf.", ".rp_filter"),
    ("net.ipv4.conf.", ".src_valid_mark"),
    ("net.ipv4.conf.", ".route_localnet"),
    ("net.netfilter.nf_conntrack_tcp_loose", ""),
    ("net.ipv4.vs.conntrack", ""),
];

/// What happened to one command.
enum Ran {
    /// Printed this (exit 0).
    Ok(String),
    /// Not installed.
    Missing,
    /// Ran and failed.
    Failed(String),
}

fn run(argv: &[&str]) -> Ran {
    match Command::new(argv[0]).args(&argv[1..]).output() {
        Err(e) if e.kind() == ErrorKind::NotFound => Ran::Missing,
        Err(e) => Ran::Failed(e.to_string()),
        Ok(out) if out.status.success() => {
            Ran::Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Ok(out) => Ran::Failed(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Keeps the `sysctl -a` lines nftrace reads.
pub fn filter_sysctls(all: &str) -> String {
    all.lines()
        .filter(|l| {
            let key = l.split('=').next().unwrap_or("").trim();
            SYSCTLS.iter().any(|(pre, suf)| {
                key.starts_with(pre)
                    && key.ends_with(suf)
                    && (suf.is_empty() || key.len() > pre.len() + suf.len())
                    && (!suf.is_empty() || key == *pre)
            })
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The iptables flavour `iptables-save -V` names (`legacy` or `nf_tables`).
fn variant() -> Option<String> {
    match run(&["iptables-save", "-V"]) {
        Ran::Ok(v) => {
            let v = v.trim();
            let inside = v.rsplit_once('(').and_then(|(_, r)| r.strip_suffix(')'));
            Some(inside.unwrap_or(v).to_string())
        }
        _ => None,
    }
}

/// A summary of what was collected, for the user.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Files written.
    pub written: Vec<String>,
    /// Tools not installed.
    pub missing: Vec<String>,
    /// Commands that ran and failed, with their error.
    pub failed: Vec<String>,
}

/// Writes the bundle into `out` (created if missing).
pub fn collect(out: &Path) -> std::io::Result<Collected> {
    std::fs::create_dir_all(out)?;
    let mut c = Collected::default();
    for cap in CAPTURES {
        match run(cap.argv) {
            Ran::Ok(text) => {
                std::fs::write(out.join(cap.file), text)?;
                c.written.push(cap.file.to_string());
            }
            Ran::Missing => {
                if !c.missing.iter().any(|m| m == cap.argv[0]) {
                    c.missing.push(cap.argv[0].to_string());
                }
            }
            Ran::Failed(e) => c.failed.push(format!("{}: {e}", cap.argv.join(" "))),
        }
    }
    match run(&["sysctl", "-a"]) {
        Ran::Ok(all) => {
            std::fs::write(out.join("sysctl.txt"), filter_sysctls(&all))?;
            c.written.push("sysctl.txt".into());
        }
        Ran::Missing => c.missing.push("sysctl".into()),
        Ran::Failed(e) => c.failed.push(format!("sysctl -a: {e}")),
    }
    std::fs::write(out.join("manifest.txt"), manifest(&c))?;
    c.written.push("manifest.txt".into());
    Ok(c)
}

fn proc_value(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn manifest(c: &Collected) -> String {
    let time = match run(&["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"]) {
        Ran::Ok(t) => t.trim().to_string(),
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or_else(
                |_| "unknown".into(),
                |d| format!("{} (unix seconds)", d.as_secs()),
            ),
    };
    let mut m = String::from("# nftrace collect: what was captured, where and when\n");
    let _ = writeln!(m, "host: {}", proc_value("/proc/sys/kernel/hostname"));
    let _ = writeln!(m, "kernel: {}", proc_value("/proc/sys/kernel/osrelease"));
    let _ = writeln!(m, "time: {time}");
    let _ = writeln!(m, "nftrace: {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        m,
        "iptables-save.txt: {}",
        variant().map_or_else(
            || "not captured".into(),
            |v| format!("iptables-save -c ({v})")
        )
    );
    let _ = writeln!(m, "files: {}", c.written.join(" "));
    let _ = writeln!(
        m,
        "missing tools: {}",
        if c.missing.is_empty() {
            "none".into()
        } else {
            c.missing.join(" ")
        }
    );
    for f in &c.failed {
        let _ = writeln!(m, "failed: {f}");
    }
    m
}

#[cfg(test)]
mod tests {
    use super::filter_sysctls;

    #[test]
    fn sysctls_keep_only_what_nftrace_reads() {
        let all = "net.ipv4.ip_forward = 1\nnet.ipv4.ip_forward_use_pmtu = 0\n\
                   net.ipv4.conf.eth0.rp_filter = 2\nnet.ipv4.conf.eth0.arp_filter = 0\n\
                   net.ipv4.conf.all.forwarding = 1\nnet.netfilter.nf_conntrack_tcp_loose = 1\n\
                   net.ipv4.vs.conntrack = 0\nkernel.hostname = h\n";
        assert_eq!(
            filter_sysctls(all),
            "net.ipv4.ip_forward = 1\nnet.ipv4.conf.eth0.rp_filter = 2\n\
             net.ipv4.conf.all.forwarding = 1\nnet.netfilter.nf_conntrack_tcp_loose = 1\n\
             net.ipv4.vs.conntrack = 0\n"
        );
    }
}
