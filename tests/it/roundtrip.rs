//! Round trip of iptables-save dumps through the parser and the save printer.
//!
//! For every IPv4 dump in the shared corpus (`iptables/*.txt` and
//! `bundle/*/iptables-save.txt`, without the `ip6tables` ones), parsing must
//! succeed and `render::save::write(parse(x))` must give back every `*`, `:`,
//! `-A` and `COMMIT` line. Compared: lines with `#` comments and blank lines
//! dropped, `[pkts:bytes]` counters removed, trailing blanks trimmed (old
//! iptables-save versions printed a trailing space after some target options).

use std::path::{Path, PathBuf};

use nftrace::parse::iptables_save;
use nftrace::render::save;

/// Why a corpus file cannot be checked as it is, and how it is checked instead.
enum Known {
    /// The publisher replaced real values by a placeholder that is no valid
    /// value (e.g. MAC addresses by `XX:XX:XX:XX:XX:XX`). Parsing the file must
    /// fail exactly at the placeholders; with the placeholder replaced by a valid
    /// value in memory, the file must round-trip (the value is swapped back).
    Anonymised {
        placeholder: &'static str,
        stand_in: &'static str,
    },
    /// The paste holds several dumps separated by a line that is no dump line
    /// (a shell prompt). Parsing the whole must fail; each part must round-trip.
    Concatenated { separator: &'static str },
}

/// Corpus files that do not round-trip as they are, with the reason.
const KNOWN: &[(&str, &str, Known)] = &[
    (
        "bundle/tum-net-chair-router-2016-06-27/iptables-save.txt",
        "MAC addresses anonymised to XX:XX:XX:XX:XX:XX",
        Known::Anonymised {
            placeholder: "XX:XX:XX:XX:XX:XX",
            stand_in: "02:00:5E:00:53:00",
        },
    ),
    (
        "iptables/tum-net-chair-fw-2013-10-20.txt",
        "MAC addresses anonymised to XX:XX:XX:XX:XX:XX",
        Known::Anonymised {
            placeholder: "XX:XX:XX:XX:XX:XX",
            stand_in: "02:00:5E:00:53:00",
        },
    ),
    (
        "iptables/tum-net-chair-fw-2015-09-03.txt",
        "MAC addresses anonymised to XX:XX:XX:XX:XX:XX",
        Known::Anonymised {
            placeholder: "XX:XX:XX:XX:XX:XX",
            stand_in: "02:00:5E:00:53:00",
        },
    ),
    (
        "iptables/docker-weave-pastebin-FNwfaEED.txt",
        "two iptables-save runs pasted one after the other, split by a shell prompt",
        Known::Concatenated {
            separator: "root@testaca2:~# iptables-save",
        },
    ),
];

/// `CARGO_MANIFEST_DIR/../shared/corpus`, else `/work/shared/corpus`.
fn corpus_dir() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    [local, PathBuf::from("/work/shared/corpus")]
        .into_iter()
        .find(|p| p.is_dir())
}

/// The IPv4 iptables-save dumps of the corpus, sorted.
fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("iptables")) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt")),
        );
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("bundle")) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path().join("iptables-save.txt"))
                .filter(|p| p.is_file()),
        );
    }
    files.retain(|p| !p.to_string_lossy().contains("ip6tables"));
    files.sort();
    files
}

/// The lines that take part in the comparison, with their 1-based line numbers.
fn significant(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim_end();
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                return None;
            }
            Some((i + 1, strip_counters(t).to_string()))
        })
        .collect()
}

/// Removes a leading `[pkts:bytes] ` from a rule and the counters of a chain header.
fn strip_counters(line: &str) -> &str {
    if line.starts_with('[') {
        return line.split_once("] ").map_or(line, |(_, rest)| rest);
    }
    if line.starts_with(':') && line.ends_with(']') {
        return line.rsplit_once(" [").map_or(line, |(head, _)| head);
    }
    line
}

/// First difference between input and output, described for a failure message.
fn first_difference(name: &str, input: &str, output: &str) -> Option<String> {
    let a = significant(input);
    let b = significant(output);
    for (i, (line_no, want)) in a.iter().enumerate() {
        let got = b.get(i).map_or("<missing>", |(_, l)| l.as_str());
        if want != got {
            return Some(format!(
                "{name}:{line_no}:\n  input:  {want}\n  output: {got}"
            ));
        }
    }
    (b.len() > a.len()).then(|| format!("{name}: output has {} extra lines", b.len() - a.len()))
}

/// Parses and prints `text`; returns the number of rules or a failure message.
fn round_trip(name: &str, text: &str) -> Result<usize, String> {
    let ruleset =
        iptables_save::parse(name, text).map_err(|e| format!("{name}: parse failed:\n{e}"))?;
    match first_difference(name, text, &save::write(&ruleset)) {
        Some(d) => Err(d),
        None => Ok(ruleset.rule_count()),
    }
}

/// Checks a file listed in [`KNOWN`] the way its entry says.
fn check_known(name: &str, text: &str, known: &Known) -> Result<usize, String> {
    match known {
        Known::Anonymised {
            placeholder,
            stand_in,
        } => {
            let errors = match iptables_save::parse(name, text) {
                Ok(_) => return Err(format!("{name}: listed as anonymised but parses")),
                Err(e) => e.0,
            };
            if let Some(e) = errors.iter().find(|e| e.found != *placeholder) {
                return Err(format!("{name}: error not at a placeholder:\n{e}"));
            }
            let fixed = text.replace(placeholder, stand_in);
            round_trip(name, &fixed)
        }
        Known::Concatenated { separator } => {
            if iptables_save::parse(name, text).is_ok() {
                return Err(format!("{name}: listed as concatenated but parses"));
            }
            let mut rules = 0;
            for (i, part) in text.split(separator).enumerate() {
                rules += round_trip(&format!("{name} (part {})", i + 1), part)?;
            }
            Ok(rules)
        }
    }
}

#[test]
fn corpus_dumps_round_trip() {
    let Some(dir) = corpus_dir() else {
        eprintln!("corpus not found; skipping");
        return;
    };
    let files = corpus_files(&dir);
    assert!(
        !files.is_empty(),
        "no iptables dumps under {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let (mut rules, mut lines) = (0, 0);
    for path in &files {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(path).expect("corpus file is readable");
        lines += text.lines().count();
        let result = match KNOWN.iter().find(|(n, _, _)| *n == name) {
            Some((_, _, known)) => check_known(&name, &text, known),
            None => round_trip(&name, &text),
        };
        match result {
            Ok(n) => rules += n,
            Err(e) => failures.push(e),
        }
    }
    eprintln!("{} files, {lines} lines, {rules} rules", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn known_mismatches_name_existing_files() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    for (name, why, _) in KNOWN {
        assert!(
            dir.join(name).is_file(),
            "{name} ({why}) is not in the corpus"
        );
    }
}

/// A kube-proxy-shaped nat table with `services` services of `endpoints` endpoints.
#[test]
fn parser_never_panics_on_any_corpus_file() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let _ = iptables_save::parse(&path.display().to_string(), &text);
            }
        }
    }
}

/// Every recorded fixture's bundle (written by this kernel's iptables-legacy-save)
/// prints back exactly.
#[test]
fn fixture_dumps_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(root).expect("fixtures/") {
        let path = entry
            .expect("entry")
            .path()
            .join("bundle/iptables-save.txt");
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let name = path.display().to_string();
        if let Err(e) = round_trip(&name, &text) {
            panic!("{e}");
        }
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} fixture bundles found");
}
