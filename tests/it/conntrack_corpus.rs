//! Real `conntrack -L` pastes from the shared corpus: clean ones load, the
//! garbled paste is refused with its line unless `--lenient`.

use std::path::{Path, PathBuf};

use nftrace::parse::conntrack::parse_dump;

fn corpus(name: &str) -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/conntrack")
        .join(name);
    let shared = Path::new("/work/shared/corpus/conntrack").join(name);
    [local, shared].into_iter().find(|p| p.is_file())
}

fn read(name: &str) -> Option<String> {
    corpus(name).map(|p| std::fs::read_to_string(p).expect("readable"))
}

#[test]
fn clean_listings_load_every_entry() {
    for (name, entries) in [
        ("istio-dns-zone1-unreplied-pair.txt", 2),
        ("vxlan-udp-4789-unreplied-summary-first.txt", 3),
    ] {
        let Some(text) = read(name) else {
            eprintln!("corpus not present; skipped");
            return;
        };
        let dump = parse_dump(name, &text, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(dump.entries.len(), entries, "{name}");
        assert!(dump.entries.iter().all(|e| e.unreplied), "{name}");
    }
}

#[test]
fn zone_and_docker_snat_are_read() {
    let Some(text) = read("istio-dns-zone1-unreplied-pair.txt") else {
        return;
    };
    let dump = parse_dump("istio", &text, false).expect("parses");
    assert_eq!(dump.entries[0].zone, 1);
    assert_eq!(dump.entries[1].zone, 0);
    let Some(text) = read("weave-scope-laptop-docker-conntrack-L-partial.txt") else {
        return;
    };
    let dump = parse_dump("weave", &text, false).expect("parses");
    assert!(
        dump.entries.iter().any(|e| e.is_snat()),
        "docker SNAT entry expected"
    );
    assert!(dump
        .entries
        .iter()
        .any(|e| e.state.as_deref() == Some("TIME_WAIT")));
}

#[test]
fn garbled_paste_names_the_line_unless_lenient() {
    let name = "aks-kubenet-clusterip-nat-garbled-paste.txt";
    let Some(text) = read(name) else { return };
    let err =
        parse_dump(name, &text, false).expect_err("the first character is missing on two lines");
    let lines: Vec<usize> = err.0.iter().map(|e| e.line).collect();
    assert_eq!(err.0[0].found, "cp");
    assert!(lines.len() == 2, "{lines:?}");
    let lenient = parse_dump(name, &text, true).expect("lenient");
    assert_eq!(lenient.warnings.len(), 2);
    assert!(
        lenient.entries.iter().any(|e| e.is_dnat()),
        "ClusterIP DNAT entries"
    );
}
