//! Loading real ip addr / ip route / ip rule dumps from the shared corpus
//! (read in place, never copied; skipped when the corpus is absent).

use std::fs;
use std::path::{Path, PathBuf};

use nftrace::parse::{ip_addr, ip_route, ip_rule};

/// The corpus: `$CARGO_MANIFEST_DIR/../shared/corpus`, else `/work/shared/corpus`.
fn corpus() -> Option<PathBuf> {
    let near = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"));
    let far = Path::new("/work/shared/corpus");
    [near, far]
        .into_iter()
        .find(|p| p.is_dir())
        .map(Path::to_path_buf)
}

/// Files in `dir` whose name starts with `prefix`, sorted.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".txt"))
        })
        .collect();
    out.sort();
    out
}

/// Bundle folders.
fn bundles(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(root.join("bundle"))
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file of a kind: the kind's folder plus each bundle's `prefix*.txt`.
fn all_files(root: &Path, folder: &str, prefix: &str) -> Vec<PathBuf> {
    let mut out = files(&root.join(folder), "");
    for b in bundles(root) {
        out.extend(files(&b, prefix));
    }
    out
}

#[test]
fn every_addr_dump_parses() {
    let Some(root) = corpus() else { return };
    let all = all_files(&root, "addr", "addr");
    assert!(!all.is_empty());
    for path in all {
        let name = path.display().to_string();
        match ip_addr::parse_dump(&name, &read(&path)) {
            Ok(dump) => assert!(!dump.links.is_empty(), "{name}: no links"),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn every_route_dump_parses() {
    let Some(root) = corpus() else { return };
    let all = all_files(&root, "route", "route");
    assert!(!all.is_empty());
    for path in all {
        let name = path.display().to_string();
        if let Err(e) = ip_route::parse(&name, &read(&path)) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_rule_dump_parses() {
    let Some(root) = corpus() else { return };
    let all = all_files(&root, "rule", "rule");
    assert!(!all.is_empty());
    for path in all {
        let name = path.display().to_string();
        match ip_rule::parse_dump(&name, &read(&path)) {
            Ok(d) => assert!(!d.rules.is_empty() || d.skipped_v6 > 0, "{name}: no rules"),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn v6_lines_are_counted_not_parsed() {
    let Some(root) = corpus() else { return };
    let path = root.join("route/rhel-laptop-vpn-ip-route-show-table-all-v4v6.txt");
    let Ok(text) = fs::read_to_string(&path) else {
        return;
    };
    let dump = ip_route::parse("v4v6", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dump.routes.len(), 19);
    assert!(dump.skipped_v6 > 20);
}
