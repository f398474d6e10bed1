//! `nftrace check`: probes derived from the kernel recordings pass on their own
//! bundle; an edited bundle fails exactly the probes the edit breaks; JSON and
//! JUnit parse; bad probes files name file, line and column (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::kernel_probes::probes_toml;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn nftrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nftrace"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("binary runs")
}

fn fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("recorded.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Writes the kernel-derived probes of `fixture` into `dir`.
fn write_probes(dir: &Path, fixture: &str) -> PathBuf {
    let (text, _) = probes_toml(&root().join("fixtures").join(fixture));
    let path = dir.join(format!("{fixture}.toml"));
    std::fs::write(&path, text).expect("write probes");
    path
}

/// Copies a fixture's bundle into `dir` with `edit` applied to its iptables-save.txt.
pub fn edited_bundle(dir: &Path, fixture: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let from = root().join("fixtures").join(fixture).join("bundle");
    let to = dir.join(format!("{fixture}-edited"));
    std::fs::create_dir_all(&to).expect("mkdir");
    for e in std::fs::read_dir(&from).expect("bundle") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
    let dump = to.join("iptables-save.txt");
    let text = std::fs::read_to_string(&dump).expect("dump");
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&dump, edited).expect("write dump");
    to
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `(probe, [failed fields])` of every failed probe of the first host.
fn failures(v: &Value) -> Vec<(String, Vec<String>)> {
    v["hosts"][0]["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter(|o| !o["failures"].as_array().expect("failures").is_empty())
        .map(|o| {
            let fields = o["failures"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f["field"].as_str().unwrap_or_default().to_string())
                .collect();
            (o["name"].as_str().unwrap_or_default().to_string(), fields)
        })
        .collect()
}

#[test]
fn kernel_derived_probes_pass_on_every_recorded_bundle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failed = Vec::new();
    for dir in fixtures() {
        let fixture = dir.file_name().unwrap().to_string_lossy().to_string();
        let probes = write_probes(tmp.path(), &fixture);
        let bundle = dir.join("bundle");
        let out = nftrace(&[
            "check",
            "--dump",
            bundle.to_str().unwrap(),
            probes.to_str().unwrap(),
        ]);
        if out.status.code() != Some(0) {
            failed.push(format!(
                "{fixture}: exit {:?}\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn removing_the_firewall_drop_fails_exactly_the_probes_the_kernel_saw_dropped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = write_probes(tmp.path(), "cloud-vr2-firewall-drop");
    let bundle = edited_bundle(tmp.path(), "cloud-vr2-firewall-drop", |t| {
        t.replace("-A FIREWALL_172.17.21.105 -j DROP\n", "")
    });
    let out = nftrace(&[
        "check",
        "--format",
        "json",
        "--dump",
        bundle.to_str().unwrap(),
        probes.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let fails = failures(&v);
    let names: Vec<&str> = fails.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ssh-dport22-dropped-in-mangle",
            "icmp-timestamp-dropped",
            "udp-53-dropped"
        ]
    );
    // Only the verdict: with the DROP gone, `FIREWALL_…:5` is now the chain's
    // implicit return, still traversed at the same position.
    for (name, fields) in &fails {
        assert_eq!(fields, &["verdict"], "{name}");
    }
    assert_eq!(v["totals"]["failed"], 3);
}

#[test]
fn human_report_names_expectation_outcome_and_deciding_rule() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = tmp.path().join("p.toml");
    std::fs::write(
        &probes,
        "[[probe]]\nname = \"ssh\"\nsrc = \"183.62.15.118\"\ndst = \"172.17.21.105\"\n\
         dport = 22\niif = \"eth2\"\nexpect.verdict = \"ACCEPT\"\n",
    )
    .unwrap();
    let out = nftrace(&[
        "check",
        "--dump",
        "fixtures/cloud-vr2-firewall-drop/bundle",
        probes.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FAIL ssh (line 2)"), "{text}");
    assert!(
        text.contains("verdict: expected ACCEPT, got DROP"),
        "{text}"
    );
    assert!(
        text.contains(
            "decided by: mangle:FIREWALL_172.17.21.105:5 -A FIREWALL_172.17.21.105 -j DROP"
        ),
        "{text}"
    );
}

#[test]
fn junit_parses_with_one_testcase_per_probe_and_host() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = write_probes(tmp.path(), "cloud-vr2-firewall-drop");
    let junit = tmp.path().join("junit.xml");
    let out = nftrace(&[
        "check",
        "--dump",
        "fixtures/cloud-vr*/bundle",
        "--junit",
        junit.to_str().unwrap(),
        probes.to_str().unwrap(),
    ]);
    // The vr2 probes fail on vr1, a different host.
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit is well-formed XML");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(
        suites[1].attribute("name"),
        Some("fixtures/cloud-vr2-firewall-drop/bundle")
    );
    assert_eq!(suites[1].attribute("failures"), Some("0"));
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(cases, 14);
    assert_eq!(
        doc.root_element().attribute("failures"),
        Some(failures.to_string().as_str())
    );
    assert!(failures > 0);
}

#[test]
fn several_dumps_give_one_report_per_host_in_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = write_probes(tmp.path(), "cloud-vr1-portforward");
    let out = nftrace(&[
        "check",
        "--format",
        "json",
        "--dump",
        "fixtures/cloud-vr1-portforward/bundle",
        "--dump",
        "fixtures/cloud-vr1-portforward/bundle/",
        probes.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2);
    assert_eq!(v["totals"]["failed"], 0);
}

fn bad_file(text: &str) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = tmp.path().join("bad.toml");
    std::fs::write(&probes, text).unwrap();
    let out = nftrace(&[
        "check",
        "--dump",
        "fixtures/cloud-vr2-firewall-drop/bundle",
        probes.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8(out.stderr)
        .unwrap()
        .replace(probes.to_str().unwrap(), "bad.toml")
}

#[test]
fn unknown_key_is_named_with_its_place() {
    let err =
        bad_file("[[probe]]\nname = \"a\"\ndst = \"10.0.0.1\"\nlocal = true\ndestport = 22\n");
    assert!(
        err.starts_with("error: bad.toml:5:1: unknown field `destport`"),
        "{err}"
    );
    assert!(err.contains("5 | destport = 22\n  | ^^^^^^^^"), "{err}");
}

#[test]
fn bad_address_points_at_the_value() {
    let err = bad_file("[[probe]]\nname = \"a\"\ndst = \"10.0.0.300\"\nlocal = true\n");
    assert!(
        err.starts_with("error: bad.toml:3:7: -d/--dst takes an IPv4 address"),
        "{err}"
    );
}

#[test]
fn bad_verdict_lists_the_choices() {
    let err = bad_file(
        "[[probe]]\nname = \"a\"\ndst = \"10.0.0.1\"\nlocal = true\nexpect.verdict = \"DENY\"\n",
    );
    assert!(
        err.starts_with(
            "error: bad.toml:5:18: verdict takes ACCEPT, DROP, REJECT or QUEUE, found \"DENY\""
        ),
        "{err}"
    );
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let err = bad_file("[[probe]]\nname = \"a\ndst = \"10.0.0.1\"\n");
    assert!(err.starts_with("error: bad.toml:2:"), "{err}");
}

#[test]
fn probe_without_origin_says_how_to_give_one() {
    let err = bad_file("[[probe]]\nname = \"a\"\ndst = \"10.0.0.1\"\n");
    assert!(
        err.contains("iif = \"eth0\" (received) or local = true"),
        "{err}"
    );
}

#[test]
fn missing_bundle_is_bad_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = write_probes(tmp.path(), "cloud-vr2-firewall-drop");
    let out = nftrace(&["check", "--dump", "no/such/dir", probes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = nftrace(&["check", "--dump", "no/such/*", probes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn completions_and_man_page_come_from_the_clap_definitions() {
    let bash = nftrace(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let text = String::from_utf8(bash.stdout).unwrap();
    assert!(
        text.contains("_nftrace()") && text.contains("check"),
        "{text}"
    );
    let man = nftrace(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let roff = String::from_utf8(man.stdout).unwrap();
    assert!(roff.starts_with(".ie \\n(.g .ds Aq"), "{roff}");
    assert!(roff.contains("nftrace\\-check"), "{roff}");
}
