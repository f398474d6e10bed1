//! Every file of the shared corpus (`../shared/corpus`, when present), through
//! the parser of its format: none panics, and each either loads or fails with
//! an error whose line and text are that of the file. Which files fail, and
//! at which line, is listed in [`FAILING`]: a file that starts or stops
//! failing changes this test.

use std::path::{Path, PathBuf};

use nftrace::parse::{self, ParseErrors};

/// Files that do not load, with the line of their first error and why.
const FAILING: &[(&str, usize, &str)] = &[
    (
        "bundle/synology-ds414-2016-07/ip6tables-save.txt",
        21,
        "IPv6 dump: addresses must be IPv4",
    ),
    (
        "bundle/tum-net-chair-router-2016-06-27/ip6tables-save.txt",
        105,
        "IPv6 dump",
    ),
    (
        "bundle/tum-net-chair-router-2016-06-27/iptables-save.txt",
        1826,
        "MAC addresses anonymised to XX:XX:XX:XX:XX:XX",
    ),
    (
        "conntrack/aks-kubenet-clusterip-nat-garbled-paste.txt",
        1,
        "first character of two lines lost in the paste (loads with --lenient)",
    ),
    (
        "iptables/docker-weave-pastebin-FNwfaEED.txt",
        36,
        "two dumps pasted with a shell prompt between them",
    ),
    ("iptables/ip6tables-mailserver.txt", 20, "IPv6 dump"),
    ("iptables/ip6tables-nat64-router.txt", 26, "IPv6 dump"),
    (
        "iptables/tum-net-chair-fw-2013-10-20.txt",
        1154,
        "MAC addresses anonymised",
    ),
    (
        "iptables/tum-net-chair-fw-2015-09-03.txt",
        1794,
        "MAC addresses anonymised",
    ),
    (
        "ipvs/docker-swarm-fwm-nonnumeric-ipvsadm.txt",
        8,
        "ipvsadm -L without -n: a host name as real server",
    ),
];

/// `CARGO_MANIFEST_DIR/../shared/corpus`, when it exists.
fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

/// The format of a corpus file, from its folder and name.
fn format_of(rel: &str) -> Option<&'static str> {
    let name = rel.rsplit('/').next()?;
    let folder = rel.split('/').next()?;
    Some(match folder {
        "iptables" => "iptables-save",
        "route" => "ip route",
        "rule" => "ip rule",
        "addr" => "ip addr",
        "ipset" => "ipset",
        "ipvs" => "ipvsadm",
        "conntrack" if name.starts_with("stats-") => "conntrack -S",
        "conntrack" => "conntrack -L",
        "bundle" if name.contains("tables-save") => "iptables-save",
        "bundle" if name.starts_with("route") => "ip route",
        "bundle" if name.starts_with("rule") => "ip rule",
        "bundle" if name.starts_with("addr") => "ip addr",
        _ => return None,
    })
}

/// Runs the parser of `format`; `Err` holds its errors.
fn parse_as(format: &str, name: &str, text: &str) -> Result<(), ParseErrors> {
    match format {
        "iptables-save" => parse::iptables_save::parse(name, text).map(drop),
        "ip route" => parse::ip_route::parse(name, text).map(drop),
        "ip rule" => parse::ip_rule::parse(name, text).map(drop),
        "ip addr" => parse::ip_addr::parse(name, text).map(drop),
        "ipset" => parse::ipset::parse(name, text).map(drop),
        "ipvsadm" => parse::ipvsadm::parse(name, text).map(drop),
        "conntrack -S" => parse::conntrack::parse_stats(name, text).map(drop),
        "conntrack -L" => parse::conntrack::parse_dump(name, text, false).map(drop),
        other => panic!("no parser for {other}"),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// What happened to one file.
struct Outcome {
    rel: String,
    format: &'static str,
    /// `None` when it loaded; else the first error's line.
    error_line: Option<usize>,
}

/// Loads one file; panics (failing the test) on a parser panic or an error
/// that does not point at a line of the file.
fn load(root: &Path, path: &Path) -> Option<Outcome> {
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let format = format_of(&rel)?;
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let result = std::panic::catch_unwind(|| parse_as(format, &rel, &text));
    let result = result.unwrap_or_else(|_| panic!("{rel}: the {format} parser panicked"));
    let error_line = result.err().map(|errors| {
        let lines: Vec<&str> = text.lines().collect();
        for e in &errors.0 {
            let actual = lines.get(e.line.wrapping_sub(1)).map(|l| l.trim_end());
            assert_eq!(
                actual,
                Some(e.line_text.trim_end()),
                "{rel}: error not at its line:\n{e}"
            );
            assert!(e.column >= 1 && !e.expected.is_empty(), "{rel}: {e}");
        }
        errors.0[0].line
    });
    Some(Outcome {
        rel,
        format,
        error_line,
    })
}

#[test]
fn every_corpus_file_loads_or_fails_at_a_line() {
    let Some(root) = corpus() else {
        eprintln!("no ../shared/corpus: skipped");
        return;
    };
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let outcomes: Vec<Outcome> = files.iter().filter_map(|p| load(&root, p)).collect();
    let mut report = String::new();
    for o in &outcomes {
        let verdict = o
            .error_line
            .map_or("loads".to_string(), |l| format!("fails at line {l}"));
        report.push_str(&format!("{:<14} {:<22} {}\n", o.format, verdict, o.rel));
    }
    println!("{report}");
    let failing: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.error_line.is_some())
        .map(|o| o.rel.as_str())
        .collect();
    let listed: Vec<&str> = FAILING.iter().map(|f| f.0).collect();
    assert_eq!(failing, listed, "files that fail changed:\n{report}");
    for (rel, line, _) in FAILING {
        let o = outcomes.iter().find(|o| o.rel == *rel).unwrap();
        assert_eq!(o.error_line, Some(*line), "{rel}");
    }
    let skipped = files.len() - outcomes.len();
    assert!(
        outcomes.len() >= 80 && skipped <= 1,
        "{} files read, {skipped} skipped",
        outcomes.len()
    );
}

#[test]
fn every_corpus_bundle_loads_through_the_bundle_loader() {
    let Some(root) = corpus() else {
        return;
    };
    for e in std::fs::read_dir(root.join("bundle")).unwrap().flatten() {
        let dir = e.path();
        let paths = nftrace::bundle::BundlePaths::default()
            .with_dir(&dir)
            .unwrap();
        let loaded = std::panic::catch_unwind(|| paths.load().map(drop));
        let loaded = loaded.unwrap_or_else(|_| panic!("{dir:?}: loader panicked"));
        let anonymised = dir.ends_with("tum-net-chair-router-2016-06-27");
        assert_eq!(
            loaded.is_err(),
            anonymised,
            "{dir:?}: {:?}",
            loaded.err().map(|e| e.to_string())
        );
    }
}
