//! Replays every probe recorded from the real kernel (fixtures/*/recorded.json)
//! and requires nftrace to agree with it (the comparison is in replay.rs): the
//! TRACE lines, whether the connection was confirmed with the translated tuple
//! `conntrack -L` showed, and the clash counters of `conntrack -S`.

use std::path::{Path, PathBuf};

use nftrace::bundle::BundlePaths;
use nftrace::model::Host;
use serde_json::Value;

use super::replay::{check_probe, strings, Outcome};

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

/// Loads the scenario's bundle; a `keep_conntrack` probe meets the table the
/// previous probe left (`previous`, the kernel's `conntrack -L` after it).
fn host_for(dir: &Path, name: &str, probe: &Value, previous: &[String]) -> Host {
    let mut host = BundlePaths::default()
        .with_dir(&dir.join("bundle"))
        .and_then(|p| p.load())
        .unwrap_or_else(|e| panic!("{name}: bundle does not load: {e}"));
    if probe["keep_conntrack"].as_bool() == Some(true) {
        let entries = nftrace::parse::conntrack::parse("conntrack -L", &previous.join("\n"))
            .unwrap_or_else(|e| panic!("{name}: recorded conntrack does not parse: {e}"));
        host.conntrack = nftrace::model::conntrack::ConntrackTable::new(entries);
    }
    host
}

#[test]
fn every_recorded_probe_matches_the_kernel() {
    let mut out = Outcome::default();
    let mut with_existing_conntrack = 0;
    for dir in fixture_dirs() {
        let text = std::fs::read_to_string(dir.join("recorded.json")).expect("readable");
        let rec: Value = serde_json::from_str(&text).expect("valid JSON");
        let mut previous: Vec<String> = Vec::new();
        let scenario = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for probe in rec["probes"].as_array().expect("probes") {
            let name = format!("{scenario}/{}", probe["name"].as_str().unwrap_or("?"));
            with_existing_conntrack += usize::from(probe["keep_conntrack"].as_bool() == Some(true));
            let host = host_for(&dir, &name, probe, &previous);
            check_probe(&name, &host, probe, &mut out);
            previous = strings(&probe["conntrack"]);
        }
    }
    eprintln!(
        "replayed {} kernel probes, {} of them against the conntrack table earlier probes left",
        out.probes, with_existing_conntrack
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
