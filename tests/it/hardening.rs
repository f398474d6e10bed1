//! Hostile and pasted input: every parser fails with a located error and never
//! panics; huge files and lines are refused or cut, not crashed on; what people
//! paste (CRLF, shell prompts, warnings) loads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nftrace::parse::{self, ParseErrors};

/// A parser reduced to "did it parse", with the `Debug` of its model.
type Parser = fn(&str, &str) -> Result<String, ParseErrors>;

/// Every parser nftrace has, by the bundle file it reads.
const PARSERS: &[(&str, Parser)] = &[
    ("iptables-save.txt", |f, t| {
        parse::iptables_save::parse(f, t).map(|m| format!("{m:?}"))
    }),
    ("route.txt", |f, t| {
        parse::ip_route::parse(f, t).map(|m| format!("{m:?}"))
    }),
    ("rule.txt", |f, t| {
        parse::ip_rule::parse(f, t).map(|m| format!("{m:?}"))
    }),
    ("addr.txt", |f, t| {
        parse::ip_addr::parse(f, t).map(|m| format!("{m:?}"))
    }),
    ("conntrack.txt", |f, t| {
        parse::conntrack::parse_dump(f, t, false).map(|m| format!("{:?}", m.entries))
    }),
    ("conntrack-stats.txt", |f, t| {
        parse::conntrack::parse_stats(f, t).map(|m| format!("{m:?}"))
    }),
    ("ipvsadm.txt", |f, t| {
        parse::ipvsadm::parse(f, t).map(|m| format!("{:?}", m.services))
    }),
    ("ipvs-conn.txt", |f, t| {
        parse::ipvsadm::parse_conns(f, t).map(|m| format!("{m:?}"))
    }),
    ("ipset.txt", |f, t| {
        parse::ipset::parse(f, t).map(|m| format!("{m:?}"))
    }),
    ("sysctl.txt", |f, t| {
        parse::sysctl::parse(f, t).map(|m| format!("{m:?}"))
    }),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn nftrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nftrace"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs")
}

#[test]
fn a_garbage_line_is_reported_at_its_line_by_every_parser() {
    let text = "\n\n\u{1}garbage \u{7f}line ((( \"\n";
    for (name, parser) in PARSERS {
        let errors = parser(name, text).expect_err(name).0;
        let e = &errors[0];
        assert_eq!((e.file.as_str(), e.line), (*name, 3), "{name}: {e}");
        assert!(e.column >= 1 && !e.expected.is_empty(), "{name}: {e}");
        assert!(e.to_string().contains("garbage"), "{name}: {e}");
    }
}

#[test]
fn a_ten_million_character_line_is_an_error_with_a_short_message() {
    let line = "x".repeat(10_000_000);
    for (name, parser) in PARSERS {
        let start = Instant::now();
        let errors = parser(name, &line).expect_err(name);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            start.elapsed()
        );
        let shown = errors.to_string();
        assert!(
            shown.len() < 1_000,
            "{name}: {} bytes of message",
            shown.len()
        );
        assert!(shown.contains(":1:"), "{name}: {shown}");
    }
}

#[test]
fn an_error_deep_in_a_long_line_is_shown_around_the_caret() {
    let text = format!(
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {} -j NOPE\nCOMMIT\n",
        "-m comment --comment x ".repeat(2_000)
    );
    let e = parse::iptables_save::parse("f", &text).unwrap_err();
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert!(
        lines[2].len() < 400 && lines[2].contains("-j NOPE"),
        "{shown}"
    );
    // The caret sits under NOPE in the excerpt.
    let caret = lines[3].chars().position(|c| c == '^').unwrap();
    let under: String = lines[2].chars().skip(caret).take(4).collect();
    assert_eq!(under, "NOPE", "{shown}");
}

/// A valid dump for each parser: the fixtures, else the shared corpus.
fn samples() -> Vec<(&'static str, PathBuf)> {
    let corpus = root().join("../shared/corpus");
    let candidates = [
        (
            "iptables-save.txt",
            root().join("fixtures/cloud-vr1-portforward/bundle/iptables-save.txt"),
        ),
        (
            "route.txt",
            root().join("fixtures/cloud-vr1-portforward/bundle/route.txt"),
        ),
        (
            "rule.txt",
            root().join("fixtures/cloud-vr1-portforward/bundle/rule.txt"),
        ),
        (
            "addr.txt",
            root().join("fixtures/cloud-vr1-portforward/bundle/addr.txt"),
        ),
        (
            "sysctl.txt",
            root().join("fixtures/cloud-vr1-portforward/bundle/sysctl.txt"),
        ),
        (
            "ipvsadm.txt",
            root().join("fixtures/ipvs-source/kube-node/ipvsadm.txt"),
        ),
        (
            "ipset.txt",
            root().join("fixtures/ipvs-source/kube-node/ipset.txt"),
        ),
        (
            "conntrack.txt",
            corpus.join("conntrack/weave-scope-laptop-docker-conntrack-L-partial.txt"),
        ),
        (
            "conntrack-stats.txt",
            corpus.join("conntrack/stats-debian11-nft-conntrack-S.txt"),
        ),
    ];
    candidates
        .into_iter()
        .filter(|(_, p)| p.is_file())
        .collect()
}

fn parser(name: &str) -> Parser {
    PARSERS.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn crlf_line_endings_give_the_same_model() {
    let samples = samples();
    assert!(samples.len() >= 7, "{samples:?}");
    for (name, path) in samples {
        let text = std::fs::read_to_string(&path).unwrap();
        let crlf = text.replace('\n', "\r\n");
        let want = parser(name)(name, &text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let got = parser(name)(name, &crlf).unwrap_or_else(|e| panic!("{path:?} CRLF: {e}"));
        assert_eq!(want.replace("\\r", ""), got.replace("\\r", ""), "{path:?}");
        assert!(!got.contains("\\r"), "{path:?}: a \\r reached the model");
    }
}

#[test]
fn a_shell_prompt_around_a_paste_is_ignored_by_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in samples() {
        let text = std::fs::read_to_string(&path).unwrap();
        let pasted = format!("root@host:~# cat {name}\n{text}root@host:~# \n");
        std::fs::write(dir.path().join(name), pasted).unwrap();
    }
    let out = nftrace(&["show", "--dump", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A prompt inside a dump is still an error, at its line.
    let file = dir.path().join("iptables-save.txt");
    let text = std::fs::read_to_string(
        root().join("fixtures/cloud-vr1-portforward/bundle/iptables-save.txt"),
    )
    .unwrap();
    std::fs::write(&file, format!("{text}[root@host ~]# iptables-save\n{text}")).unwrap();
    let out = nftrace(&["show", "--iptables", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let line = text.lines().count() + 1;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("iptables-save.txt:{line}:1:")),
        "{err}"
    );
}

#[test]
fn warnings_and_nft_headers_in_iptables_save_are_comments() {
    let text = "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n\
                # Generated by iptables-nft-save v1.8.7 on Mon Jan  1 00:00:00 2024\n\
                *filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n\
                # Completed on Mon Jan  1 00:00:00 2024\n";
    let rs = parse::iptables_save::parse("f", text).unwrap();
    assert_eq!(rs.rule_count(), 1);
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iptables-save.txt");
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: 2 GiB of nothing, no disk used.
    file.set_len(2 << 30).unwrap();
    let start = Instant::now();
    let out = nftrace(&["show", "--iptables", path.to_str().unwrap()]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is larger than 1073741824 bytes"), "{err}");
}

#[test]
fn a_stream_over_the_limit_is_cut_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.txt");
    std::fs::write(&path, "x".repeat(2_000)).unwrap();
    let err = nftrace::bundle::read_capped(&path, 1_000).unwrap_err();
    assert!(err.to_string().contains("larger than 1000 bytes"), "{err}");
    let ok = nftrace::bundle::read_capped(&path, 2_000).unwrap();
    assert_eq!(ok.len(), 2_000);
}

/// `n` user chains, each jumping to the next, the last accepting; INPUT enters the first.
fn chain_nest(n: usize) -> String {
    let mut s =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for i in 0..n {
        s.push_str(&format!(":C{i} - [0:0]\n"));
    }
    s.push_str("-A INPUT -j C0\n");
    for i in 0..n - 1 {
        s.push_str(&format!("-A C{i} -j C{}\n", i + 1));
    }
    s.push_str(&format!("-A C{} -j ACCEPT\nCOMMIT\n", n - 1));
    s
}

#[test]
fn a_deep_chain_nest_loads_and_traces_without_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.txt");
    std::fs::write(&path, chain_nest(20_000)).unwrap();
    let out = nftrace(&[
        "trace",
        "--iptables",
        path.to_str().unwrap(),
        "-d",
        "10.0.0.1",
        "-s",
        "10.0.0.2",
        "-i",
        "eth0",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_loop_through_a_deep_nest_is_reported_at_the_closing_rule() {
    let mut text = chain_nest(5_000);
    text = text.replace("-A C4999 -j ACCEPT", "-A C4999 -j C0");
    let e = parse::iptables_save::parse("f", &text).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert!(e.0[0].expected.contains("jump loop C0 -> C1"), "{e}");
    assert_eq!(e.0[0].found, "C0");
}

#[test]
fn unreached_chains_are_noted_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipt.txt");
    let text = "*filter\n:INPUT ACCEPT [0:0]\n:USED - [0:0]\n:ORPHAN - [0:0]\n:EMPTY - [0:0]\n\
                -A INPUT -j USED\n-A USED -j ACCEPT\n-A ORPHAN -j DROP\nCOMMIT\n";
    std::fs::write(&path, text).unwrap();
    let out = nftrace(&[
        "trace",
        "--iptables",
        path.to_str().unwrap(),
        "-d",
        "10.0.0.1",
        "-s",
        "10.0.0.2",
        "-i",
        "eth0",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = v["assumptions"].to_string();
    assert!(
        notes.contains("filter: 1 user chain is never reached from a built-in chain, so their rules never run: ORPHAN (line 4)"),
        "{notes}"
    );
    assert!(
        !notes.contains("USED") && !notes.contains("EMPTY"),
        "{notes}"
    );
}

#[test]
fn trace_and_show_write_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    for f in std::fs::read_dir(root().join("fixtures/cloud-vr1-portforward/bundle")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, bundle.join(f.file_name().unwrap())).unwrap();
    }
    let before = listing(dir.path());
    let b = bundle.to_str().unwrap();
    let runs: [&[&str]; 3] = [
        &[
            "trace",
            "--dump",
            b,
            "-s",
            "1.2.3.4",
            "-d",
            "61.146.164.120",
            "-p",
            "tcp",
            "--dport",
            "10174",
            "-i",
            "eth2",
        ],
        &[
            "trace",
            "--dump",
            b,
            "-s",
            "1.2.3.4",
            "-d",
            "61.146.164.120",
            "-i",
            "eth2",
            "--format",
            "json",
            "--reply",
        ],
        &["show", "--dump", b, "--format", "save"],
    ];
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_nftrace"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(listing(dir.path()), before, "a file appeared or changed");
}

/// Every file under `dir` with its length and modification time.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                todo.push(e.path());
            }
            out.push((e.path(), meta.len(), meta.modified().unwrap()));
        }
    }
    out.sort();
    out
}

/// Every command `collect` may run, as `program args…`: listings only.
const READ_ONLY_COMMANDS: &[&str] = &[
    "iptables-save -c",
    "iptables-save -V",
    "iptables-legacy-save -c",
    "iptables-nft-save -c",
    "ip route show table all",
    "ip rule show",
    "ip addr show",
    "conntrack -L",
    "conntrack -S",
    "ipvsadm -Sn",
    "ipvsadm -Lnc",
    "ipset save",
    "sysctl -a",
    "date -u +%Y-%m-%dT%H:%M:%SZ",
];

#[test]
fn collect_runs_only_listing_commands_and_writes_only_its_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("calls.log");
    // A stand-in for every program: logs its argv, prints nothing much.
    let programs = [
        "iptables-save",
        "iptables-legacy-save",
        "iptables-nft-save",
        "ip",
        "conntrack",
        "ipvsadm",
        "ipset",
        "sysctl",
        "date",
        "iptables",
        "iptables-restore",
        "nft",
        "sh",
        "bash",
        "rm",
    ];
    for p in programs {
        let script = format!(
            "#!/bin/sh\necho \"{p} $*\" >> '{}'\necho ok\n",
            log.display()
        );
        let path = bin.join(p);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out_dir = dir.path().join("out");
    let before = listing(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_nftrace"))
        .args(["collect", "--out", out_dir.to_str().unwrap()])
        .env("PATH", &bin)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    for c in &calls {
        assert!(READ_ONLY_COMMANDS.contains(c), "collect ran {c:?}");
    }
    assert!(calls.len() >= 12, "{calls:?}");
    // Nothing changed outside `out/` but the stand-ins' own log.
    let after: Vec<_> = listing(dir.path())
        .into_iter()
        .filter(|(p, ..)| !p.starts_with(&out_dir) && *p != log)
        .collect();
    assert_eq!(after, before);
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    // Each dump lands under the name the bundle loader reads.
    for name in [
        "iptables-save.txt",
        "route.txt",
        "rule.txt",
        "addr.txt",
        "conntrack.txt",
        "ipvsadm.txt",
        "ipvs-conn.txt",
        "ipset.txt",
        "sysctl.txt",
    ] {
        assert!(
            written.iter().any(|w| w == name),
            "{name} missing from {written:?}"
        );
        assert!(
            nftrace::bundle::BUNDLE_FILES
                .iter()
                .any(|(f, _)| *f == name),
            "{name} is no bundle file"
        );
    }
}

/// Every `src/` file with a line containing one of `needles`, as `path: needle`.
fn sources_using(needles: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    let mut todo = vec![root().join("src")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut hits = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let rel = f
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for n in needles {
            if text.contains(n) {
                hits.push(format!("{rel}: {n}"));
            }
        }
    }
    hits.sort();
    hits.dedup();
    hits
}

#[test]
fn only_collect_starts_processes() {
    let hits = sources_using(&[
        "Command::new",
        "process::Command",
        "libc::exec",
        "std::os::unix::process",
    ]);
    assert_eq!(
        hits,
        [
            "src/collect.rs: Command::new",
            "src/collect.rs: process::Command"
        ]
    );
}

#[test]
fn only_collect_check_junit_and_the_generator_write_files() {
    let hits = sources_using(&[
        "fs::write",
        "File::create",
        "OpenOptions",
        "create_dir",
        "fs::remove",
        "fs::rename",
        "fs::copy",
        "set_permissions",
    ]);
    assert_eq!(
        hits,
        [
            "src/bin/nftrace-gen.rs: create_dir",
            "src/bin/nftrace-gen.rs: fs::write",
            "src/cli/check.rs: fs::write",
            "src/collect.rs: create_dir",
            "src/collect.rs: fs::write",
        ]
    );
}

#[test]
fn byte_order_marks_and_utf16_files_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        root().join("fixtures/cloud-vr1-portforward/bundle/iptables-save.txt"),
    )
    .unwrap();
    let want = nftrace(&[
        "show",
        "--iptables",
        root()
            .join("fixtures/cloud-vr1-portforward/bundle/iptables-save.txt")
            .to_str()
            .unwrap(),
        "--format",
        "save",
    ]);
    assert_eq!(want.status.code(), Some(0));
    let utf16 = |le: bool| -> Vec<u8> {
        let bom: [u8; 2] = if le { [0xff, 0xfe] } else { [0xfe, 0xff] };
        let units =
            text.encode_utf16()
                .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() });
        bom.into_iter().chain(units).collect()
    };
    let utf8_bom: Vec<u8> = [0xef, 0xbb, 0xbf].into_iter().chain(text.bytes()).collect();
    for (name, bytes) in [
        ("bom8", utf8_bom),
        ("le16", utf16(true)),
        ("be16", utf16(false)),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = nftrace(&[
            "show",
            "--iptables",
            path.to_str().unwrap(),
            "--format",
            "save",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, want.stdout, "{name}");
    }
}

#[test]
fn standard_input_is_read_for_one_dump_only() {
    let out = nftrace(&["show", "--iptables", "-", "--routes", "-"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only one dump can be read from standard input (-), but 2 were given"),
        "{err}"
    );
}
