//! Loading real ip addr / ip route / ip rule dumps from the shared corpus
//! (read in place, never copied; skipped when the corpus is absent).

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nftrace::model::routing::{table_id, FibRule, Link, Route, Routing};
use nftrace::parse::{ip_addr, ip_route, ip_rule};
use nftrace::trace::routing::{fib_lookup, output_route, FlowKey};

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

/// The table a `route-table-NAME.txt` / `route-tableN.txt` file holds, from its name.
fn table_of_file(path: &Path) -> Option<(String, u32)> {
    let stem = path.file_stem()?.to_str()?;
    let name = stem.strip_prefix("route-table")?.trim_start_matches('-');
    (name != "all").then(|| (name.to_string(), table_id::from_name(name)))
}

/// A bundle's addr, route and rule dumps (absent kinds are `None`).
type Dumps = (Option<Vec<Link>>, Option<Vec<Route>>, Option<Vec<FibRule>>);

/// Loads one bundle's v4 routing dumps.
fn load_bundle(dir: &Path) -> Dumps {
    let name = |p: &Path| p.display().to_string();
    let links = files(dir, "addr")
        .first()
        .map(|p| ip_addr::parse(&name(p), &read(p)).unwrap_or_else(|e| panic!("{e}")));
    let route_files: Vec<PathBuf> = files(dir, "route")
        .into_iter()
        .filter(|p| !name(p).contains("route6"))
        .collect();
    let routes = (!route_files.is_empty()).then(|| {
        let mut all = Vec::new();
        for p in &route_files {
            let table = table_of_file(p).map_or(table_id::MAIN, |(_, id)| id);
            let dump = ip_route::parse_with_table(&name(p), &read(p), table)
                .unwrap_or_else(|e| panic!("{e}"));
            all.extend(dump.routes);
        }
        all
    });
    let rules = files(dir, "rule.txt")
        .first()
        .map(|p| ip_rule::parse(&name(p), &read(p)).unwrap_or_else(|e| panic!("{e}")));
    (links, routes, rules)
}

#[test]
fn every_bundle_routes_8_8_8_8() {
    let Some(root) = corpus() else { return };
    for dir in bundles(&root) {
        let (links, routes, rules) = load_bundle(&dir);
        if links.is_none() {
            continue;
        }
        let (routing, _assumptions) = Routing::from_dumps(links, routes, rules);
        let first = routing.links.iter().find(|l| !l.is_loopback());
        let key = FlowKey {
            iif: first.map(|l| l.name.clone()),
            ..FlowKey::to(Ipv4Addr::new(8, 8, 8, 8))
        };
        let res = fib_lookup(&routing, &key);
        assert!(
            !res.steps.is_empty(),
            "{}: no rule considered",
            dir.display()
        );
        let out = output_route(&routing, &FlowKey::to(Ipv4Addr::new(8, 8, 8, 8)));
        let _ = out;
    }
}

#[test]
fn openlab_fwmark_rule_selects_dsl_table() {
    let Some(root) = corpus() else { return };
    let dir = root.join("bundle/openlab-augsburg-multiwan-2016");
    if !dir.is_dir() {
        return;
    }
    let (links, routes, rules) = load_bundle(&dir);
    let (routing, _) = Routing::from_dumps(links, routes, rules);
    let key = FlowKey {
        mark: 0x1,
        ..FlowKey::to(Ipv4Addr::new(8, 8, 8, 8))
    };
    let out = output_route(&routing, &key);
    assert_eq!(out.dev(), Some("eth4"), "{out:?}");
    assert_eq!(out.src(), Some(Ipv4Addr::new(192, 168, 179, 2)));
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn parsers_never_panic_on_any_corpus_file() {
    let Some(root) = corpus() else { return };
    let mut all = Vec::new();
    walk(&root, &mut all);
    for path in all {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let name = path.display().to_string();
        let _ = ip_addr::parse(&name, &text);
        let _ = ip_route::parse(&name, &text);
        let _ = ip_rule::parse(&name, &text);
        // Truncated lines must not panic either.
        for line in text.lines().take(200) {
            for end in (0..line.len()).filter(|&i| line.is_char_boundary(i)) {
                let cut = line.get(..end).unwrap_or_default();
                let _ = ip_addr::parse(&name, cut);
                let _ = ip_route::parse(&name, cut);
                let _ = ip_rule::parse(&name, cut);
            }
        }
    }
}
