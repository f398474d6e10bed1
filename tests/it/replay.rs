//! The comparison both kernel-replay suites use (fixtures.rs for the project's
//! scenarios, corpus_replay.rs for rebuilt published hosts): a recorded probe is
//! traced and its TRACE lines, translated tuple and clash counters must equal
//! what the kernel did.
//!
//! Compared per TRACE line: `table:chain:type:rulenum` and IN, OUT, SRC, DST,
//! PROTO, SPT, DPT, MARK, TTL, LEN, TOS, PREC, outside an ICMP error's embedded
//! packet (the kernel prints `MARK=` after its closing `]`).

use std::collections::BTreeMap;

use nftrace::model::Host;
use nftrace::render::log::{trace_lines, LogFields};
use nftrace::trace::{trace, TraceOptions};
use serde_json::Value;

pub(crate) const COMPARED: &[&str] = &[
    "IN", "OUT", "SRC", "DST", "PROTO", "SPT", "DPT", "MARK", "TTL", "LEN", "TOS", "PREC",
];

/// Unlike fixtures.rs, the fields after the embedded packet of an ICMP error
/// count too: the kernel prints `MARK=` after the closing `]`.
/// `key` with the values of `SPT=` and `DPT=` left out.
fn without_ports(key: &str) -> String {
    let words = key.split(' ').map(|w| match w.split_once('=') {
        Some((k @ ("SPT" | "DPT"), _)) => format!("{k}=*"),
        _ => w.to_string(),
    });
    words.collect::<Vec<_>>().join(" ")
}

pub(crate) fn key_fields(line: &str) -> String {
    let outer_owned = match (line.find('['), line.rfind(']')) {
        (Some(open), Some(close)) if close > open => {
            format!("{}{}", &line[..open], &line[close + 1..])
        }
        _ => line.to_string(),
    };
    let outer = outer_owned.as_str();
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

pub(crate) fn first_difference(kernel: &[String], ours: &[String]) -> (usize, String) {
    let i = kernel.iter().zip(ours).take_while(|(k, o)| k == o).count();
    let show = |v: &[String], j: usize| v.get(j).cloned().unwrap_or_else(|| "(none)".into());
    (
        i,
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
        ),
    )
}

/// The strings of a JSON array (empty when absent).
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Original and reply `key=value` halves of a `conntrack -L` line.
pub(crate) fn ct_tuples(line: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
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

#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) failures: Vec<String>,
    /// Disagreement class (first differing kernel head vs nftrace head) -> probes.
    pub(crate) classes: BTreeMap<String, Vec<String>>,
    pub(crate) probes: usize,
    /// Every disagreement as (probe, class, text), in the order found.
    pub(crate) records: Vec<(String, String, String)>,
}

impl Outcome {
    pub(crate) fn fail(&mut self, class: String, name: &str, text: String) {
        self.records
            .push((name.to_string(), class.clone(), text.clone()));
        self.classes
            .entry(class)
            .or_default()
            .push(name.to_string());
        self.failures.push(text);
    }
}

pub(crate) fn head(line: Option<&String>) -> String {
    line.map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "(none)".into())
}

/// Traces one recorded probe on `host` and records every disagreement with
/// the kernel: TRACE key fields, the translated tuple `conntrack -L` showed, and
/// the clash counters of `conntrack -S`.
pub(crate) fn check_probe(name: &str, host: &Host, probe: &Value, out: &mut Outcome) {
    let args: Vec<String> = probe["nftrace_args"]
        .as_array()
        .expect("nftrace_args")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
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
        ..TraceOptions::default()
    };
    let t = trace(host, &p, &opts);
    out.probes += 1;
    // A port the kernel drew at random (nftrace says so: `nat-port`) cannot be
    // compared; every other field of every line still is (difftest seed 1417:
    // a MASQUERADE'd packet looping back through PREROUTING with its new port).
    let random_port = t.assumptions.iter().any(|a| a.key == "nat-port");
    let key = |l: &str| {
        let k = key_fields(l);
        if random_port {
            without_ports(&k)
        } else {
            k
        }
    };
    let ours: Vec<String> = trace_lines(&t, &LogFields::default(), true)
        .iter()
        .map(|l| key(l))
        .collect();
    let kernel: Vec<String> = probe["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .map(|l| key(l.as_str().unwrap_or_default()))
        .collect();
    if ours != kernel {
        let (i, text) = first_difference(&kernel, &ours);
        let class = format!(
            "trace: kernel {} / nftrace {}",
            head(kernel.get(i)),
            head(ours.get(i))
        );
        out.fail(
            class,
            name,
            format!("{name}: TRACE lines differ ({})\n{text}", args.join(" ")),
        );
    }
    check_conntrack(name, probe, &t, out);
    check_clash_counters(name, probe, &t, out);
}

pub(crate) fn check_clash_counters(
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
        out.fail(
            "conntrack -S insert_failed/drop".into(),
            name,
            format!("{name}: conntrack -S insert_failed/drop deltas: kernel {kernel:?}, nftrace predicts {ours:?}"),
        );
    }
}

pub(crate) fn check_conntrack(
    name: &str,
    probe: &Value,
    t: &nftrace::trace::event::Trace,
    out: &mut Outcome,
) {
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
    // Confirmed, not merely accepted: a local packet to a local address is
    // confirmed at POSTROUTING before the loopback, so a later DROP in INPUT
    // leaves the entry in the table (difftest seed 1).
    let accepted = t.connection.is_some();
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
                out.fail("conntrack: translated addresses".into(), name, format!("{name}: translated addresses differ: kernel reply tuple says src,dst = {want:?}, nftrace {got:?}"));
            }
            if let (Some((s, d)), false) = (f.transport.ports(), random_port) {
                let want = (r.get("dport").cloned(), r.get("sport").cloned());
                if want != (Some(s.to_string()), Some(d.to_string())) {
                    out.fail(
                        "conntrack: translated ports".into(),
                        name,
                        format!(
                            "{name}: translated ports differ: kernel {want:?}, nftrace ({s}, {d})"
                        ),
                    );
                }
            }
        }
        (Some(_), false) => out.fail(
            format!("conntrack: kernel confirmed, nftrace {:?}", t.verdict),
            name,
            format!(
                "{name}: kernel confirmed the connection but nftrace says {:?}",
                t.verdict
            ),
        ),
        (None, true) if delivered_tcp => {}
        (None, true) => out.fail(
            "conntrack: nftrace accepts, kernel has no entry".into(),
            name,
            format!("{name}: nftrace accepts but the kernel left no conntrack entry"),
        ),
        (None, false) => {}
    }
}
