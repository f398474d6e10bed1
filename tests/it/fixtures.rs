//! Replays every probe recorded from the real kernel (fixtures/*/recorded.json)
//! and requires nftrace to agree with it: the TRACE lines (table:chain:type:rulenum,
//! IN, OUT, SRC, DST, PROTO, SPT, DPT, MARK), and whether the connection was
//! confirmed with the translated tuple `conntrack -L` showed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nftrace::bundle::BundlePaths;
use nftrace::render::log::{trace_lines, LogFields};
use nftrace::trace::event::Verdict;
use nftrace::trace::{trace, TraceOptions};
use serde_json::Value;

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("recorded.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The fields of a TRACE line the comparison covers.
const COMPARED: &[&str] = &[
    "IN", "OUT", "SRC", "DST", "PROTO", "SPT", "DPT", "MARK", "TTL", "LEN",
];

/// `TRACE: t:c:type:n` plus the compared `KEY=value` fields (first occurrence,
/// before any embedded `[...]` packet of an ICMP error).
fn key_fields(line: &str) -> String {
    let outer = line.split('[').next().unwrap_or(line);
    let mut words = outer.split(' ');
    let head = format!(
        "{} {}",
        words.next().unwrap_or(""),
        words.next().unwrap_or("")
    );
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for w in outer.split(' ') {
        if let Some((k, v)) = w.split_once('=') {
            if COMPARED.contains(&k) {
                fields.entry(k).or_insert(v);
            }
        }
    }
    let body: Vec<String> = COMPARED
        .iter()
        .map(|k| format!("{k}={}", fields.get(k).copied().unwrap_or("-")))
        .collect();
    format!("{head} {}", body.join(" "))
}

/// The first differing line with one line of context, and the line counts.
fn first_difference(kernel: &[String], ours: &[String]) -> String {
    let i = kernel.iter().zip(ours).take_while(|(k, o)| k == o).count();
    let show = |v: &[String], j: usize| v.get(j).cloned().unwrap_or_else(|| "(none)".into());
    format!(
        "  line {} of {} (kernel) / {} (nftrace)\n  before: {}\n  kernel:  {}\n  nftrace: {}",
        i + 1,
        kernel.len(),
        ours.len(),
        if i > 0 {
            show(kernel, i - 1)
        } else {
            "(start)".into()
        },
        show(kernel, i),
        show(ours, i)
    )
}

/// `key=value` pairs of a `conntrack -L` line, split into original and reply halves.
fn ct_tuples(line: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let (mut orig, mut reply) = (BTreeMap::new(), BTreeMap::new());
    for w in line.split_whitespace() {
        if let Some((k, v)) = w.split_once('=') {
            let half = if orig.contains_key(k) {
                &mut reply
            } else {
                &mut orig
            };
            if !half.contains_key(k) {
                half.insert(k.to_string(), v.to_string());
            }
        }
    }
    (orig, reply)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

struct Outcome {
    failures: Vec<String>,
    probes: usize,
    with_existing_conntrack: usize,
}

/// `previous` is the kernel's `conntrack -L` after the previous probe of the
/// scenario: the table a `keep_conntrack` probe met.
fn check_probe(dir: &Path, probe: &Value, previous: &[String], out: &mut Outcome) {
    let name = format!(
        "{}/{}",
        dir.file_name().unwrap().to_string_lossy(),
        probe["name"].as_str().unwrap_or("?")
    );
    let args: Vec<String> = probe["nftrace_args"]
        .as_array()
        .expect("nftrace_args")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let mut host = BundlePaths::default()
        .with_dir(&dir.join("bundle"))
        .and_then(|p| p.load())
        .unwrap_or_else(|e| panic!("{name}: bundle does not load: {e}"));
    if probe["keep_conntrack"].as_bool() == Some(true) {
        out.with_existing_conntrack += 1;
        let entries = nftrace::parse::conntrack::parse("conntrack -L", &previous.join("\n"))
            .unwrap_or_else(|e| panic!("{name}: recorded conntrack does not parse: {e}"));
        host.conntrack = nftrace::model::conntrack::ConntrackTable::new(entries);
    }
    let p = nftrace::cli::probe_from_flags(&args).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let assume: Vec<&str> = probe["nftrace_assume"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let opts = TraceOptions {
        assume: nftrace::trace::assume::AssumeConfig::parse(&assume)
            .unwrap_or_else(|e| panic!("{name}: {e}")),
        force_ctstate: None,
    };
    let t = trace(&host, &p, &opts);
    out.probes += 1;
    let ours: Vec<String> = trace_lines(&t, &LogFields::default(), true)
        .iter()
        .map(|l| key_fields(l))
        .collect();
    let kernel: Vec<String> = probe["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .map(|l| key_fields(l.as_str().unwrap_or_default()))
        .collect();
    if ours != kernel {
        out.failures.push(format!(
            "{name}: TRACE lines differ\n{}",
            first_difference(&kernel, &ours)
        ));
    }
    check_conntrack(&name, probe, &t, out);
    check_clash_counters(&name, probe, &t, out);
}

/// A predicted clash drop must match the kernel's `conntrack -S` deltas.
fn check_clash_counters(
    name: &str,
    probe: &Value,
    t: &nftrace::trace::event::Trace,
    out: &mut Outcome,
) {
    let clash = t.events.iter().any(
        |e| matches!(e, nftrace::trace::event::Event::Conntrack { state, .. } if state == "CLASH"),
    );
    let delta = &probe["conntrack_stats_delta"];
    let kernel = (
        delta["insert_failed"].as_i64().unwrap_or(0),
        delta["drop"].as_i64().unwrap_or(0),
    );
    let ours = if clash { (1, 1) } else { (0, 0) };
    if kernel != ours {
        out.failures.push(format!("{name}: conntrack -S insert_failed/drop deltas: kernel {kernel:?}, nftrace predicts {ours:?}"));
    }
}

/// A confirmed entry for the probe's tuple ⇔ the packet passed; its reply tuple
/// gives the translated addresses.
fn check_conntrack(name: &str, probe: &Value, t: &nftrace::trace::event::Trace, out: &mut Outcome) {
    let tracked = t.events.iter().any(
        |e| matches!(e, nftrace::trace::event::Event::Conntrack { state, .. } if state == "NEW"),
    );
    if !tracked {
        return;
    }
    let init = &t.initial;
    let entry = probe["conntrack"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|l| {
            let (o, _) = ct_tuples(l);
            o.get("src").map(String::as_str) == Some(&init.src.to_string())
                && o.get("dst").map(String::as_str) == Some(&init.dst.to_string())
                && init.transport.ports().is_none_or(|(s, d)| {
                    o.get("sport") == Some(&s.to_string()) && o.get("dport") == Some(&d.to_string())
                })
        });
    let accepted = t.verdict == Verdict::Accept;
    // A TCP packet delivered to a closed local port makes the host answer with a
    // RST, which removes the entry before `conntrack -L` runs: the TRACE lines
    // prove such deliveries instead.
    let delivered_tcp =
        matches!(t.disposition, nftrace::trace::event::Disposition::Delivered) && init.proto() == 6;
    let random_port = t.assumptions.iter().any(|a| a.key == "nat-port");
    match (entry, accepted) {
        (Some(line), true) => {
            let (_, r) = ct_tuples(line);
            let f = &t.final_packet;
            let want = (r.get("dst").cloned(), r.get("src").cloned());
            let got = (Some(f.src.to_string()), Some(f.dst.to_string()));
            if want != got {
                out.failures.push(format!("{name}: translated addresses differ: kernel reply tuple says src,dst = {want:?}, nftrace {got:?}"));
            }
            if let (Some((s, _)), true) = (f.transport.ports(), random_port) {
                // The port is drawn at random: the kernel and nftrace must agree on
                // whether it changed.
                let kernel_changed =
                    r.get("dport") != Some(&init.transport.ports().map_or(0, |p| p.0).to_string());
                let ours_changed = Some(s) != init.transport.ports().map(|p| p.0);
                if kernel_changed != ours_changed {
                    out.failures.push(format!(
                        "{name}: kernel {} the source port, nftrace {}",
                        if kernel_changed { "changed" } else { "kept" },
                        if ours_changed { "changed" } else { "kept" }
                    ));
                }
            }
            if let (Some((s, d)), false) = (f.transport.ports(), random_port) {
                let want = (r.get("dport").cloned(), r.get("sport").cloned());
                if want != (Some(s.to_string()), Some(d.to_string())) {
                    out.failures.push(format!(
                        "{name}: translated ports differ: kernel {want:?}, nftrace ({s}, {d})"
                    ));
                }
            }
        }
        (Some(_), false) => out.failures.push(format!(
            "{name}: kernel confirmed the connection but nftrace says {:?}",
            t.verdict
        )),
        (None, true) if delivered_tcp => {}
        (None, true) => out.failures.push(format!(
            "{name}: nftrace accepts but the kernel left no conntrack entry"
        )),
        (None, false) => {}
    }
}

#[test]
fn every_recorded_probe_matches_the_kernel() {
    let mut out = Outcome {
        failures: Vec::new(),
        probes: 0,
        with_existing_conntrack: 0,
    };
    for dir in fixture_dirs() {
        let text = std::fs::read_to_string(dir.join("recorded.json")).expect("readable");
        let rec: Value = serde_json::from_str(&text).expect("valid JSON");
        let mut previous: Vec<String> = Vec::new();
        for probe in rec["probes"].as_array().expect("probes") {
            check_probe(&dir, probe, &previous, &mut out);
            previous = strings(&probe["conntrack"]);
        }
    }
    eprintln!(
        "replayed {} kernel probes, {} of them against the conntrack table earlier probes left",
        out.probes, out.with_existing_conntrack
    );
    assert!(out.probes >= 1, "no recorded probes found");
    assert!(
        out.failures.is_empty(),
        "{} of {} probes disagree with the kernel:\n\n{}",
        out.failures.len(),
        out.probes,
        out.failures.join("\n\n")
    );
}
