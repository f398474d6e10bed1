//! Replays the probes recorded against published hosts rebuilt from the corpus
//! (`recorder/record.py --corpus-host <bundle>`, fixtures/corpus/<bundle>/).
//!
//! The corpus ruleset is never copied into the repository: this test reads
//! `../shared/corpus/<corpus_dir>/<ruleset_file>`, applies the edits listed in
//! host.toml (`[[ruleset_substitute]]`, `[[ruleset_drop]]`), inserts the two TRACE
//! rules exactly where the recorder's `iptables -t raw -I PREROUTING 1 -j TRACE`
//! and `-I OUTPUT 1 -j TRACE` put them, writes the result to a temp dir and loads
//! it together with the kernel's own dumps of the rebuilt host
//! (fixtures/corpus/<bundle>/bundle/{route,rule,addr,sysctl}.txt).
//!
//! The comparison is the one of `fixtures.rs` (TRACE key fields, translated
//! tuple from `conntrack -L`, clash counters), a little stricter: TOS and PREC
//! are compared too, and so is a `MARK=` the kernel prints after an ICMP error's
//! embedded packet. Without the corpus the test says so and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nftrace::bundle::BundlePaths;
use nftrace::model::Host;
use serde_json::Value;

use super::replay::{check_probe, Outcome};

/// The corpus: `$CARGO_MANIFEST_DIR/../shared/corpus`, if present.
fn corpus() -> Option<PathBuf> {
    let near = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    near.is_dir().then(|| near.to_path_buf())
}

fn host_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.retain(|p| p.join("recorded.json").is_file() && p.join("host.toml").is_file());
    dirs.sort();
    dirs
}

// ---------------------------------------------------------------------------
// host.toml: written by recorder/corpus_host.py in a small TOML subset whose
// values are JSON (strings, integers, booleans, flat arrays), one per line.

/// Top-level keys, plus every `[[name]]` array of tables.
#[derive(Default)]
struct HostToml {
    top: BTreeMap<String, Value>,
    arrays: BTreeMap<String, Vec<BTreeMap<String, Value>>>,
}

impl HostToml {
    fn parse(text: &str) -> HostToml {
        let mut out = HostToml::default();
        // None: top level; Some((name, is_array))
        let mut section: Option<(String, bool)> = None;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("[[") {
                let name = rest.split("]]").next().unwrap_or("").trim().to_string();
                out.arrays
                    .entry(name.clone())
                    .or_default()
                    .push(BTreeMap::new());
                section = Some((name, true));
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest.split(']').next().unwrap_or("").trim().to_string();
                section = Some((name, false));
                continue;
            }
            let Some((key, rhs)) = line.split_once(" = ") else {
                panic!("host.toml: cannot read line {line:?}");
            };
            let value = json_prefix(rhs.trim())
                .unwrap_or_else(|| panic!("host.toml: value of {key} is not in the JSON subset"));
            match &section {
                None => {
                    out.top.insert(key.trim().to_string(), value);
                }
                Some((name, true)) => {
                    if let Some(last) = out.arrays.get_mut(name).and_then(|v| v.last_mut()) {
                        last.insert(key.trim().to_string(), value);
                    }
                }
                Some((_, false)) => {} // plain tables are documentation only
            }
        }
        out
    }

    fn str(&self, key: &str) -> &str {
        self.top[key]
            .as_str()
            .unwrap_or_else(|| panic!("host.toml: {key} is not a string"))
    }

    fn tables(&self, name: &str) -> &[BTreeMap<String, Value>] {
        self.arrays.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The JSON value at the start of `text` (a trailing `# comment` is allowed).
fn json_prefix(text: &str) -> Option<Value> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    stream.next()?.ok()
}

// ---------------------------------------------------------------------------
// rebuilding the ruleset the kernel had

/// The corpus ruleset after host.toml's edits, with the TRACE rules inserted at
/// raw PREROUTING / OUTPUT position 1 (a raw table is added when there is none).
fn rebuild_ruleset(corpus_text: &str, meta: &HostToml) -> String {
    let mut text = corpus_text.to_string();
    for s in meta.tables("ruleset_substitute") {
        let from = s["from"].as_str().expect("from");
        let to = s["to"].as_str().expect("to");
        let count = s["count"].as_u64().expect("count") as usize;
        assert_eq!(
            text.matches(from).count(),
            count,
            "corpus ruleset: {from:?} occurs a different number of times than when recorded"
        );
        text = text.replace(from, to);
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for d in meta.tables("ruleset_drop") {
        let n = d["line"].as_u64().expect("line") as usize;
        lines[n - 1] = String::new();
    }
    insert_trace_rules(&mut lines);
    lines.join("\n")
}

fn insert_trace_rules(lines: &mut Vec<String>) {
    let start = lines.iter().position(|l| l.trim_end() == "*raw");
    let Some(start) = start else {
        // `iptables -t raw -I ...` on a ruleset without a raw table creates it.
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.extend(
            [
                "*raw",
                ":PREROUTING ACCEPT [0:0]",
                ":OUTPUT ACCEPT [0:0]",
                "-A PREROUTING -j TRACE",
                "-A OUTPUT -j TRACE",
                "COMMIT",
                "",
            ]
            .map(str::to_string),
        );
        return;
    };
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.trim_end() == "COMMIT")
            .expect("raw table has a COMMIT");
    for chain in ["PREROUTING", "OUTPUT"] {
        let end = end
            + usize::from(chain == "OUTPUT") /* PREROUTING line inserted before */;
        let prefix = format!("-A {chain} ");
        let at = (start..end)
            .find(|&i| lines[i].starts_with(&prefix))
            .unwrap_or(end);
        lines.insert(at, format!("-A {chain} -j TRACE"));
    }
}

/// Rules per `table:chain` of a parsed ruleset.
fn chain_counts(host: &Host) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for t in &host.ruleset.tables {
        for c in &t.chains {
            out.insert(
                format!("{}:{}", t.name.as_str(), c.name),
                c.rules().len() as u64,
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------
// comparison (as in fixtures.rs)

// ---------------------------------------------------------------------------

/// Loads one rebuilt host: the corpus ruleset (edited, TRACE inserted) from a
/// temp file, everything else from the kernel's dumps.
fn load_host(corpus: &Path, dir: &Path, meta: &HostToml, rec: &Value) -> Host {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let src = corpus
        .join(meta.str("corpus_dir"))
        .join(meta.str("ruleset_file"));
    let corpus_text =
        std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{name}: {}: {e}", src.display()));
    assert_eq!(
        corpus_text.len() as u64,
        meta.top["ruleset_bytes"].as_u64().expect("ruleset_bytes"),
        "{name}: {} is not the file that was recorded",
        src.display()
    );
    let rebuilt = rebuild_ruleset(&corpus_text, meta);
    let tmp = std::env::temp_dir().join(format!(
        "nftrace-corpus-replay-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let rules = tmp.join("iptables-save.txt");
    std::fs::write(&rules, &rebuilt).expect("write rebuilt ruleset");
    let b = dir.join("bundle");
    let host = BundlePaths {
        iptables: Some(rules),
        routes: Some(b.join("route.txt")),
        rules: Some(b.join("rule.txt")),
        addrs: Some(b.join("addr.txt")),
        sysctl: Some(b.join("sysctl.txt")),
        ..Default::default()
    }
    .load()
    .unwrap_or_else(|e| panic!("{name}: rebuilt bundle does not load: {e}"));
    let _ = std::fs::remove_dir_all(&tmp);
    // The parsed rebuild must have the chains and rule counts the kernel's own
    // iptables-save showed after loading.
    let want: BTreeMap<String, u64> = rec["ruleset_chain_rules"]
        .as_object()
        .expect("ruleset_chain_rules")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(
        chain_counts(&host),
        want,
        "{name}: the rebuilt ruleset's chains differ from the kernel's"
    );
    host
}

#[test]
fn corpus_hosts_replay_like_the_kernel() {
    let Some(corpus) = corpus() else {
        eprintln!("corpus_replay: ../shared/corpus is absent; nothing replayed");
        return;
    };
    let dirs = host_dirs();
    if dirs.is_empty() {
        eprintln!("corpus_replay: no fixtures/corpus/*/recorded.json");
        return;
    }
    let mut out = Outcome::default();
    let mut per_host = Vec::new();
    for dir in &dirs {
        let meta =
            HostToml::parse(&std::fs::read_to_string(dir.join("host.toml")).expect("host.toml"));
        let rec: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("recorded.json")).expect("recorded.json"),
        )
        .expect("valid JSON");
        let host = load_host(&corpus, dir, &meta, &rec);
        let before = (out.probes, out.failures.len());
        let bundle = meta.str("bundle").to_string();
        for probe in rec["probes"].as_array().expect("probes") {
            let name = format!("{bundle}/{}", probe["name"].as_str().unwrap_or("?"));
            check_probe(&name, &host, probe, &mut out);
        }
        per_host.push(format!(
            "{bundle}: {} probes, {} disagreements",
            out.probes - before.0,
            out.failures.len() - before.1
        ));
    }
    eprintln!("corpus_replay: {}", per_host.join("; "));
    let classes: Vec<String> = out
        .classes
        .iter()
        .map(|(c, probes)| format!("  {c}: {} ({})", probes.len(), probes.join(", ")))
        .collect();
    assert!(
        out.failures.is_empty(),
        "{} of {} corpus probes disagree with the kernel.\nclasses (first differing line):\n{}\n\n{}",
        out.failures.len(),
        out.probes,
        classes.join("\n"),
        out.failures.join("\n\n")
    );
}
