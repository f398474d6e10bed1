//! The real binary: exit codes, error messages, formats, colour.

use std::process::{Command, Output};

fn nftrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nftrace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .output()
        .expect("binary runs")
}

const VR1: &[&str] = &[
    "trace",
    "--dump",
    "fixtures/cloud-vr1-portforward/bundle",
    "-s",
    "183.62.15.118",
    "-d",
    "61.146.164.120",
    "-p",
    "tcp",
    "--sport",
    "22449",
    "--dport",
    "10174",
    "-i",
    "eth2",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    VR1.iter().chain(extra).copied().collect()
}

#[test]
fn json_reports_the_dnat_and_forward_decided_by_the_kernel_recording() {
    let out = nftrace(&with(&["--format", "json"]));
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["verdict"], "ACCEPT");
    assert_eq!(v["final"]["dst"], "172.17.21.105");
    assert_eq!(v["final"]["dport"], 22);
    assert_eq!(v["final"]["oif"], "eth0");
    assert!(v["assumptions"].is_array());
}

#[test]
fn log_format_prints_kernel_trace_lines_only_after_the_trace_rule() {
    let out = nftrace(&with(&["--format", "log"]));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let first = text
        .lines()
        .find(|l| l.starts_with("TRACE:"))
        .expect("a TRACE line");
    // The TRACE rule itself (raw:PREROUTING:rule:1) is never logged.
    assert!(
        first.starts_with("TRACE: raw:PREROUTING:policy:2 IN=eth2 OUT= MAC="),
        "{first}"
    );
    assert!(!text.contains('\x1b'));
}

#[test]
fn dropped_packet_names_the_deciding_rule() {
    let out = nftrace(&[
        "trace",
        "--dump",
        "fixtures/cloud-vr2-firewall-drop/bundle",
        "-s",
        "183.62.15.118",
        "-d",
        "172.17.21.105",
        "-p",
        "tcp",
        "--dport",
        "22",
        "-i",
        "eth2",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["verdict"], "DROP");
    assert_eq!(v["disposition"]["kind"], "dropped");
    let rule = v["disposition"]["rule"].to_string();
    assert!(rule.contains("FIREWALL_172.17.21.105"), "{rule}");
}

#[test]
fn colour_follows_the_flag_and_never_reaches_a_pipe_by_default() {
    let plain = nftrace(&with(&[]));
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\x1b'));
    let forced = nftrace(&with(&["--color", "always"]));
    assert!(String::from_utf8_lossy(&forced.stdout).contains('\x1b'));
}

#[test]
fn bad_dump_names_file_line_column_and_exits_2() {
    let out = nftrace(&[
        "trace",
        "--iptables",
        "fixtures/parse-errors/unknown-chain.txt",
        "-s",
        "10.0.0.1",
        "-d",
        "10.0.0.2",
        "-i",
        "eth0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown-chain.txt:6:26"), "{err}");
    assert!(err.contains("\"DOCKR\""), "{err}");
    assert_eq!(err.matches("expected").count(), 1, "printed once: {err}");
}

#[test]
fn nonsense_packets_are_usage_errors() {
    for (args, needle) in [
        (
            &["trace", "-s", "10.0.0.1", "-d", "10.0.0.x", "-i", "eth0"][..],
            "IPv4",
        ),
        (
            &[
                "trace", "-s", "10.0.0.1", "-d", "10.0.0.2", "-p", "icmp", "--dport", "22", "-i",
                "eth0",
            ][..],
            "--sport/--dport need",
        ),
        (
            &[
                "trace", "-s", "10.0.0.1", "-d", "10.0.0.2", "-i", "eth0", "--local",
            ][..],
            "cannot be used with",
        ),
        (
            &["trace", "-s", "10.0.0.1", "-d", "10.0.0.2"][..],
            "-i IFACE",
        ),
        (
            &["trace", "-d", "10.0.0.2", "--local", "--assume", "nope=1"][..],
            "unknown --assume key",
        ),
    ] {
        let out = nftrace(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn missing_dumps_are_stated_as_assumptions() {
    let out = nftrace(&["trace", "-d", "10.0.0.2", "--local", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let text = v["assumptions"].to_string();
    assert!(text.contains("no iptables-save dump"), "{text}");
}

#[test]
fn show_save_prints_the_ruleset_back() {
    let out = nftrace(&[
        "show",
        "--dump",
        "fixtures/jump-vs-goto/bundle",
        "--format",
        "save",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8_lossy(&out.stdout);
    let input = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/jump-vs-goto/bundle/iptables-save.txt"
    ))
    .expect("fixture");
    let rules = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&printed), rules(&input));
}

#[test]
fn reply_is_de_dnated_back_to_the_public_address() {
    // Kernel: fixtures/cloud-vr1-portforward probe ssh-portforward-synack-reply
    // (the SYN-ACK left eth2 as 61.146.164.120:10174 → 183.62.15.118:22449).
    let out = nftrace(&with(&["--reply", "--format", "json"]));
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let reply = &v["reply"];
    assert_eq!(reply["initial"]["src"], "172.17.21.105");
    assert_eq!(reply["final"]["src"], "61.146.164.120");
    assert_eq!(reply["final"]["sport"], 10174);
    assert_eq!(reply["final"]["oif"], "eth2");
}

#[test]
fn forced_established_state_skips_the_nat_chains() {
    let out = nftrace(&with(&["--ctstate", "established", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // No DNAT without a new connection: the packet stays addressed to the router.
    assert_eq!(v["final"]["dst"], "61.146.164.120");
    let events = v["events"].to_string();
    assert!(
        !events.contains("\"table\":\"nat\""),
        "nat chain consulted: {events}"
    );
}

/// `lint` exits 1 at or above `--fail-on`, 0 below; `search` exits 1 when no
/// class reaches the goal; `trace --explain --format json` adds `explain`.
#[test]
fn analysis_commands_exit_codes_and_json() {
    let lint_dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/cloud-vr1-portforward/bundle"
    );
    let warn = nftrace(&["lint", "--dump", lint_dir, "--fail-on", "warning"]);
    assert_eq!(
        warn.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&warn.stdout)
    );
    assert!(String::from_utf8_lossy(&warn.stdout).contains("nat-fan-in"));
    let err = nftrace(&["lint", "--dump", lint_dir]);
    assert_eq!(err.status.code(), Some(0));
    let vr2 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/cloud-vr2-firewall-drop/bundle"
    );
    let none = nftrace(&[
        "search",
        "--dump",
        vr2,
        "--from-iif",
        "eth2",
        "-d",
        "172.17.21.105",
        "-p",
        "tcp",
        "--dport",
        "0:299",
        "--verdict",
        "accept",
    ]);
    assert_eq!(
        none.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&none.stdout)
    );
    let some = nftrace(&[
        "search",
        "--dump",
        vr2,
        "--from-iif",
        "eth2",
        "-d",
        "172.17.21.105",
        "-p",
        "tcp",
        "--verdict",
        "accept",
        "--format",
        "json",
    ]);
    assert_eq!(some.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&some.stdout).expect("json");
    assert_eq!(
        doc["result"]["classes"][0]["region"]["dport"][0],
        serde_json::json!([300, 65535])
    );
    let bad = nftrace(&["search", "--dump", vr2, "--dport", "9:1"]);
    assert_eq!(bad.status.code(), Some(2));
    let explain = nftrace(&[
        "trace",
        "--dump",
        vr2,
        "-s",
        "183.62.15.118",
        "-d",
        "172.17.21.105",
        "-p",
        "tcp",
        "--dport",
        "22",
        "-i",
        "eth2",
        "--explain",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&explain.stdout).expect("json");
    assert_eq!(doc["verdict"], "DROP");
    assert!(
        doc["explain"]["near_misses"]
            .as_array()
            .expect("near misses")
            .len()
            >= 3
    );
}

/// Targets that change what later rules see (HMARK sets the mark from a hash,
/// SET changes an ipset) are not modelled, and a trace through them says so.
#[test]
fn targets_that_change_state_nftrace_does_not_model_are_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
                :OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
                -A PREROUTING -j HMARK --hmark-tuple src,dst --hmark-mod 4 --hmark-rnd 0x1\n\
                -A PREROUTING -j SET --add-set seen src\n\
                -A PREROUTING -j CHECKSUM --checksum-fill\nCOMMIT\n";
    std::fs::write(dir.path().join("iptables-save.txt"), dump).expect("write dump");
    let bundle = dir.path().to_str().expect("utf-8 path");
    let out = nftrace(&[
        "trace", "--dump", bundle, "-s", "10.0.0.1", "-d", "10.0.0.2", "-p", "udp", "--dport",
        "53", "-i", "eth0", "--format", "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for target in ["target HMARK", "target SET"] {
        assert!(text.contains(target), "no note for {target}: {text}");
    }
    assert!(!text.contains("target CHECKSUM"), "{text}");
}

/// `--reply` puts the first packet's connection in its zone: the reply finds it
/// when a `CT --zone 5` rule puts the reply in zone 5 too, and is NEW otherwise
/// (what the kernel did in fixtures/ct-zone).
#[test]
fn a_reply_finds_its_connection_only_in_the_same_conntrack_zone() {
    let reply_state = |sport: &str, dport: &str| {
        let out = nftrace(&[
            "trace",
            "--dump",
            "fixtures/ct-zone/bundle",
            "-s",
            "10.0.1.2",
            "-d",
            "10.0.2.2",
            "-p",
            "udp",
            "--sport",
            sport,
            "--dport",
            dport,
            "-i",
            "eth0",
            "--reply",
        ]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let reply = text
            .split("── reply ──")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        reply
            .lines()
            .find(|l| l.trim_start().starts_with("conntrack "))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let same_zone = reply_state("41201", "7101");
    assert!(
        same_zone.contains("ESTABLISHED (reply)") && same_zone.contains("zone=5"),
        "{same_zone}"
    );
    let zone_0 = reply_state("41200", "7100");
    assert!(
        zone_0.contains("conntrack NEW") && zone_0.contains("in zone 5"),
        "{zone_0}"
    );
}
