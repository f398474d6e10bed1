//! `nftrace collect` in a network namespace this test creates: the bundle it
//! writes loads and traces. Skipped (with a message) when not root or when
//! `ip netns` is unavailable.

use std::path::Path;
use std::process::{Command, Output};

use nftrace::bundle::BundlePaths;
use nftrace::trace::{trace, TraceOptions};

/// Deletes the namespace on drop, also when an assertion fails.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn in_ns(ns: &str, args: &[&str]) -> Output {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    let out = sh(&all);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh namespace, or why there cannot be one.
fn netns() -> Result<Netns, String> {
    if !std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    {
        return Err("not root".into());
    }
    let name = format!("nftrace-collect-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &name]).output() {
        Ok(o) if o.status.success() => Ok(Netns(name)),
        Ok(o) => Err(format!(
            "ip netns add failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("no ip command: {e}")),
    }
}

#[test]
fn collect_in_a_namespace_writes_a_bundle_that_loads_and_traces() {
    let ns = match netns() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("skipped collect_in_a_namespace…: {why}");
            return;
        }
    };
    in_ns(&ns.0, &["ip", "link", "set", "lo", "up"]);
    in_ns(
        &ns.0,
        &[
            "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
        ],
    );
    in_ns(&ns.0, &["ip", "addr", "add", "10.9.0.1/24", "dev", "d0"]);
    in_ns(&ns.0, &["ip", "link", "set", "d0", "up"]);
    let has_iptables = sh(&["sh", "-c", "command -v iptables"]).status.success();
    if has_iptables {
        in_ns(
            &ns.0,
            &[
                "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP",
            ],
        );
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("bundle");
    in_ns(
        &ns.0,
        &[
            env!("CARGO_BIN_EXE_nftrace"),
            "collect",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    check_bundle(&out_dir, has_iptables);
}

fn check_bundle(dir: &Path, has_iptables: bool) {
    let manifest = std::fs::read_to_string(dir.join("manifest.txt")).expect("manifest.txt");
    assert!(manifest.contains("\nkernel: "), "{manifest}");
    assert!(manifest.contains("\nmissing tools: "), "{manifest}");
    for f in ["route.txt", "rule.txt", "addr.txt"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let host = BundlePaths::default()
        .with_dir(dir)
        .and_then(|p| p.load())
        .unwrap_or_else(|e| panic!("collected bundle does not load: {e}"));
    let probe = nftrace::cli::probe_from_flags(&[
        "-s", "10.9.0.2", "-d", "10.9.0.1", "-p", "tcp", "--dport", "22", "-i", "d0",
    ])
    .expect("probe");
    let t = trace(&host, &probe, &TraceOptions::default());
    let expected = if has_iptables { "DROP" } else { "ACCEPT" };
    assert_eq!(t.verdict.as_str(), expected, "{:?}", t.disposition);
}
