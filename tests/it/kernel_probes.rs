//! Probes files derived from the kernel recordings (fixtures/*/recorded.json):
//! each probe's packet is the recorded one, and its expectations are what the
//! kernel did, never typed by hand:
//!
//! * `via`: every `table:chain:N` the kernel logged a TRACE line for;
//! * a conntrack entry for the probe's tuple (the connection was confirmed):
//!   `verdict = "ACCEPT"`, and the translated `src`/`dst`/`dport` from its reply
//!   tuple (`sport` too when the kernel kept it: a changed one was drawn at random);
//!   `oif` = the `OUT=` of the last TRACE line when that was in POSTROUTING;
//!   (except a local packet to a local address dropped on its way in over `lo`:
//!   it was confirmed at POSTROUTING before the loopback, so the verdict is the
//!   DROP or REJECT below);
//! * no entry and the last TRACE line is a rule or policy whose target in the
//!   dump is DROP or REJECT: that verdict.
//!
//! Probes replayed against the table earlier probes left (`keep_conntrack`) are skipped.

use std::path::Path;

use nftrace::model::ruleset::{Policy, Ruleset, TableName};
use nftrace::model::target::Target;
use serde_json::Value;

use super::replay::{ct_tuples, strings};

/// `probes.toml` text for one fixture, and the names of the probes in it.
pub fn probes_toml(fixture: &Path) -> (String, Vec<String>) {
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("recorded.json")).expect("recorded.json"),
    )
    .expect("valid JSON");
    let dump = std::fs::read_to_string(fixture.join("bundle/iptables-save.txt")).expect("dump");
    let ruleset = nftrace::parse::iptables_save::parse("iptables-save.txt", &dump).expect("parses");
    let mut out = String::new();
    let mut names = Vec::new();
    for p in rec["probes"].as_array().expect("probes") {
        if p["keep_conntrack"].as_bool() == Some(true) {
            continue;
        }
        let name = p["name"].as_str().expect("name").to_string();
        out.push_str(&probe_toml(&name, p, &ruleset));
        names.push(name);
    }
    (out, names)
}

/// The TOML key of each `nftrace trace` flag, and whether its value is a number.
const KEYS: &[(&str, &str, bool)] = &[
    ("-s", "src", false),
    ("-d", "dst", false),
    ("-p", "proto", false),
    ("--sport", "sport", true),
    ("--dport", "dport", true),
    ("--tcp-flags", "tcp_flags", false),
    ("-i", "iif", false),
    ("--mac-src", "mac_src", false),
    ("--ttl", "ttl", true),
    ("--id", "id", true),
    ("--len", "len", true),
    ("--icmp-type", "icmp_type", false),
    ("--tos", "tos", false),
    ("--payload", "payload", false),
    ("--mark", "mark", false),
    ("--inner-src", "inner_src", false),
    ("--inner-dst", "inner_dst", false),
    ("--inner-proto", "inner_proto", false),
    ("--inner-sport", "inner_sport", true),
    ("--inner-dport", "inner_dport", true),
];

fn probe_toml(name: &str, p: &Value, ruleset: &Ruleset) -> String {
    let mut out = format!("[[probe]]\nname = {name:?}\n");
    let args = strings(&p["nftrace_args"]);
    let mut i = 0;
    let mut packet = std::collections::BTreeMap::new();
    while i < args.len() {
        if let Some(key) = match args[i].as_str() {
            "--local" => Some("local"),
            "--df" => Some("df"),
            _ => None,
        } {
            out.push_str(&format!("{key} = true\n"));
            i += 1;
            continue;
        }
        let (_, key, number) = KEYS
            .iter()
            .find(|(flag, _, _)| *flag == args[i])
            .unwrap_or_else(|| panic!("{name}: flag {} has no probes-file key", args[i]));
        let value = &args[i + 1];
        packet.insert(*key, value.clone());
        if *number {
            out.push_str(&format!("{key} = {value}\n"));
        } else {
            out.push_str(&format!("{key} = {value:?}\n"));
        }
        i += 2;
    }
    let assume = strings(&p["nftrace_assume"]);
    if !assume.is_empty() {
        out.push_str(&format!("assume = {assume:?}\n"));
    }
    out.push_str(&expectations(p, &packet, ruleset));
    out.push('\n');
    out
}

/// `table:chain:type:N`, the `OUT=` value and the hook of a TRACE line.
fn trace_head(line: &str) -> (String, String, String) {
    let head = line.split(' ').nth(1).unwrap_or_default();
    let parts: Vec<&str> = head.split(':').collect();
    let out = line
        .split(' ')
        .find_map(|w| w.strip_prefix("OUT="))
        .unwrap_or_default();
    (
        format!("{}:{}:{}", parts[0], parts[1], parts[3]),
        out.to_string(),
        parts[1].to_string(),
    )
}

fn expectations(
    p: &Value,
    packet: &std::collections::BTreeMap<&str, String>,
    ruleset: &Ruleset,
) -> String {
    let trace = strings(&p["trace"]);
    let mut via: Vec<String> = Vec::new();
    for line in &trace {
        let (at, _, _) = trace_head(line);
        if !via.contains(&at) {
            via.push(at);
        }
    }
    let mut out = format!("expect.via = {via:?}\n");
    let entry = strings(&p["conntrack"]).into_iter().find(|l| {
        let (o, _) = ct_tuples(l);
        o.get("src") == packet.get("src")
            && o.get("dst") == packet.get("dst")
            && packet
                .get("sport")
                .is_none_or(|s| o.get("sport") == Some(s))
    });
    let last = trace.last().map(|l| trace_head(l));
    let ending = last
        .as_ref()
        .and_then(|(at, _, _)| ending_verdict(at, ruleset));
    let dropped_on_lo = trace.last().is_some_and(|l| l.contains(" IN=lo ")) && ending.is_some();
    match entry {
        Some(line) => {
            let (_, r) = ct_tuples(&line);
            let verdict = if dropped_on_lo { ending } else { None };
            out.push_str(&format!(
                "expect.verdict = {:?}\n",
                verdict.unwrap_or("ACCEPT")
            ));
            out.push_str(&format!("expect.src = {:?}\n", r["dst"]));
            out.push_str(&format!("expect.dst = {:?}\n", r["src"]));
            if let Some(d) = r.get("sport") {
                out.push_str(&format!("expect.dport = {d}\n"));
            }
            if let (Some(s), Some(orig)) = (r.get("dport"), packet.get("sport")) {
                if s == orig {
                    out.push_str(&format!("expect.sport = {s}\n"));
                }
            }
            if let Some((_, oif, hook)) = &last {
                if hook == "POSTROUTING" && !oif.is_empty() {
                    out.push_str(&format!("expect.oif = {oif:?}\n"));
                }
            }
        }
        None => {
            if let Some(verdict) = ending {
                out.push_str(&format!("expect.verdict = {verdict:?}\n"));
            }
        }
    }
    out
}

/// DROP or REJECT when the rule (or policy) at `table:chain:N` ends a packet so.
fn ending_verdict(at: &str, ruleset: &Ruleset) -> Option<&'static str> {
    let parts: Vec<&str> = at.split(':').collect();
    let table = ruleset.table(TableName::from_name(parts[0])?)?;
    let chain = table.chain(parts[1])?;
    let n: usize = parts[2].parse().ok()?;
    match chain.rules().get(n - 1) {
        Some(rule) => match rule.target {
            Target::Drop => Some("DROP"),
            Target::Reject(_) => Some("REJECT"),
            _ => None,
        },
        None => (chain.policy == Some(Policy::Drop)).then_some("DROP"),
    }
}
