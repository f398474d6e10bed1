//! Replays every probe recorded from the real kernel (fixtures/*/recorded.json)
//! and requires nftrace to agree with it (the comparison is in replay.rs): the
//! TRACE lines, whether the connection was confirmed with the translated tuple
//! `conntrack -L` showed, and the clash counters of `conntrack -S`.
//!
//! `replay_dir_from_env` (ignored by default) replays every recorded directory
//! under `$NFTRACE_REPLAY_DIR` the same way and writes a JSON report; it is how
//! `recorder/difftest.py` compares its random cases (docs/difftest.md).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use nftrace::bundle::BundlePaths;
use nftrace::model::Host;
use serde_json::{json, Value};

use super::replay::{check_probe, strings, Outcome};

/// The directories under `root` that hold a `recorded.json`, sorted.
fn recorded_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("recorded.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn fixture_dirs() -> Vec<PathBuf> {
    recorded_dirs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
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

/// Replays every probe of one recorded scenario directory into `out`; returns
/// how many probes met the conntrack table an earlier probe left.
fn replay_scenario(dir: &Path, out: &mut Outcome) -> usize {
    let text = std::fs::read_to_string(dir.join("recorded.json")).expect("readable");
    let rec: Value = serde_json::from_str(&text).expect("valid JSON");
    let mut previous: Vec<String> = Vec::new();
    let mut with_existing_conntrack = 0;
    let scenario = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    for probe in rec["probes"].as_array().expect("probes") {
        let name = format!("{scenario}/{}", probe["name"].as_str().unwrap_or("?"));
        with_existing_conntrack += usize::from(probe["keep_conntrack"].as_bool() == Some(true));
        let host = host_for(dir, &name, probe, &previous);
        check_probe(&name, &host, probe, out);
        previous = strings(&probe["conntrack"]);
    }
    with_existing_conntrack
}

#[test]
fn every_recorded_probe_matches_the_kernel() {
    let mut out = Outcome::default();
    let mut with_existing_conntrack = 0;
    for dir in fixture_dirs() {
        with_existing_conntrack += replay_scenario(&dir, &mut out);
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

/// Replays one directory, turning a panic (a bundle nftrace cannot load, a
/// probe it cannot parse) into a disagreement of the whole scenario.
fn replay_guarded(dir: &Path, out: &mut Outcome) {
    let mut local = Outcome::default();
    let result = catch_unwind(AssertUnwindSafe(|| replay_scenario(dir, &mut local)));
    out.probes += local.probes;
    for (name, class, text) in local.records {
        out.fail(class, &name, text);
    }
    if let Err(panic) = result {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into());
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        out.fail(
            "panic".into(),
            &format!("{name}/*"),
            format!("{name}: {msg}"),
        );
    }
}

/// Replays every recorded scenario under `$NFTRACE_REPLAY_DIR` and writes
/// `{"probes": n, "disagreements": [{"probe", "class", "text"}]}` to
/// `$NFTRACE_REPLAY_REPORT` (default `<dir>/report.json`). Never fails on a
/// disagreement: the caller (recorder/difftest.py) reads the report.
#[test]
#[ignore = "run by recorder/difftest.py with NFTRACE_REPLAY_DIR set"]
fn replay_dir_from_env() {
    let root = PathBuf::from(std::env::var("NFTRACE_REPLAY_DIR").expect("NFTRACE_REPLAY_DIR"));
    let report = std::env::var("NFTRACE_REPLAY_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("report.json"));
    let mut out = Outcome::default();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for dir in recorded_dirs(&root) {
        replay_guarded(&dir, &mut out);
    }
    std::panic::set_hook(hook);
    let disagreements: Vec<Value> = out
        .records
        .iter()
        .map(|(probe, class, text)| json!({"probe": probe, "class": class, "text": text}))
        .collect();
    let body = json!({"probes": out.probes, "disagreements": disagreements});
    std::fs::write(&report, serde_json::to_string_pretty(&body).expect("json"))
        .unwrap_or_else(|e| panic!("{}: {e}", report.display()));
    eprintln!(
        "replayed {} probes, {} disagreements, report in {}",
        out.probes,
        out.records.len(),
        report.display()
    );
}

/// The `conntrack -S` invalid counter is not compared for every probe (an ICMP
/// error without a connection is INVALID to `--ctstate` but not counted), but
/// where a looped-back copy is looked up again the kernel counts both lookups,
/// and nftrace shows both.
#[test]
fn an_invalid_packet_looped_back_is_looked_up_again() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid-loopback-tracked-again");
    let text = std::fs::read_to_string(dir.join("recorded.json")).expect("readable");
    let rec: Value = serde_json::from_str(&text).expect("valid JSON");
    let [syn, ack] = rec["probes"].as_array().expect("probes").as_slice() else {
        panic!("two probes");
    };
    let kernel = ack["conntrack_stats_delta"]["invalid"].as_i64();
    assert_eq!(kernel, Some(2), "the recording");
    let host = host_for(&dir, "ack", ack, &super::replay::strings(&syn["conntrack"]));
    let args: Vec<String> = super::replay::strings(&ack["nftrace_args"]);
    let probe = nftrace::cli::probe_from_flags(&args).expect("probe");
    let t = nftrace::trace::trace(&host, &probe, &Default::default());
    let invalid = t.events.iter().filter(|e| {
        matches!(e, nftrace::trace::event::Event::Conntrack { state, .. } if state == "INVALID")
    });
    assert_eq!(
        invalid.count(),
        2,
        "OUTPUT, then the looped-back copy in PREROUTING"
    );
}
