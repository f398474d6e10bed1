//! `conntrack -L` output (also `-o extended`, `-o id`) and `/proc/net/nf_conntrack`.
//!
//! Read first: ../shared/docs/kernel-semantics.md §8.1–8.2. A line is
//! `[ipv4 2] <l4name> <l4num> [<timeout>] [<STATE>] <orig tuple> [flags] <reply tuple>
//! [flags] [key=value …]`; the tool's summary line (`conntrack v1.4.6
//! (conntrack-tools): N flow entries have been shown.`) may sit anywhere in a
//! copied terminal and is skipped.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::{LineCtx, ParseError, ParseErrors};
use crate::model::conntrack::{ConntrackEntry, Tuple};
use crate::model::text::SliceSource;

/// What one dump holds.
#[derive(Debug, Clone, Default)]
pub struct ConntrackDump {
    /// IPv4 entries in order.
    pub entries: Vec<ConntrackEntry>,
    /// IPv6 entries skipped.
    pub skipped_v6: usize,
    /// Lines skipped under `--lenient`, as warnings.
    pub warnings: Vec<String>,
}

/// Parses a dump; with `lenient`, malformed lines become warnings instead of errors.
pub fn parse_dump(file: &str, text: &str, lenient: bool) -> Result<ConntrackDump, ParseErrors> {
    parse_dump_shared(file, Arc::new(text.to_string()), lenient)
}

/// [`parse_dump`] of a dump already in shared memory: each entry's line and
/// state are ranges of that one copy.
pub fn parse_dump_shared(
    file: &str,
    text: Arc<String>,
    lenient: bool,
) -> Result<ConntrackDump, ParseErrors> {
    let source = SliceSource::new(text);
    let mut dump = ConntrackDump::default();
    dump.entries.reserve(super::line_count(&source));
    let mut errors = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim().is_empty() || is_summary(line) {
            continue;
        }
        match parse_line(&source, file, i + 1, line) {
            Ok(Some(e)) => dump.entries.push(e),
            Ok(None) => dump.skipped_v6 += 1,
            Err(e) if lenient => dump.warnings.push(e.to_string()),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(dump)
    } else {
        Err(ParseErrors(errors))
    }
}

/// Parses a dump strictly.
pub fn parse(file: &str, text: &str) -> Result<Vec<ConntrackEntry>, ParseErrors> {
    parse_dump(file, text, false).map(|d| d.entries)
}

/// `conntrack vX.Y.Z (conntrack-tools): N flow entries have been shown.`
fn is_summary(line: &str) -> bool {
    line.starts_with("conntrack v") && line.contains("flow entries have been shown")
}

/// Protocol names as the tools print them, with their numbers.
const L4: &[(&str, u8)] = &[
    ("tcp", 6),
    ("udp", 17),
    ("icmp", 1),
    ("udplite", 136),
    ("sctp", 132),
    ("dccp", 33),
    ("gre", 47),
    ("unknown", 0),
];

/// A half-built tuple while reading `key=value` words.
#[derive(Default)]
struct TupleWords {
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
    sport: u16,
    dport: u16,
    icmp_type: u8,
    icmp_code: u8,
}

/// One entry; `Ok(None)` for an IPv6 entry.
fn parse_line(
    source: &SliceSource,
    file: &str,
    line: usize,
    text: &str,
) -> Result<Option<ConntrackEntry>, ParseError> {
    let cx = LineCtx { file, line, text };
    let mut words = text.split_whitespace().peekable();
    let mut first = words.next().unwrap_or("");
    if first == "ipv6" {
        return Ok(None);
    }
    if first == "ipv4" {
        words.next(); // l3 number
        first = words.next().unwrap_or("");
    }
    let num_word = words.next().unwrap_or("");
    let proto = l4_proto(&cx, first, num_word)?;
    let mut timeout = None;
    let mut state = None;
    while let Some(w) = words.peek() {
        if w.contains('=') || w.starts_with('[') {
            break;
        }
        if let (None, Ok(t)) = (timeout, w.parse::<u32>()) {
            timeout = Some(t);
        } else if state.is_none() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            state = Some(source.text_of(w));
        } else {
            return Err(cx.err(w, "a timeout, a protocol state or src=…"));
        }
        words.next();
    }
    let mut entry = ConntrackEntry {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        timeout,
        state,
        orig: Tuple {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            proto,
            sport: 0,
            dport: 0,
        },
        reply: Tuple {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            proto,
            sport: 0,
            dport: 0,
        },
        unreplied: false,
        assured: false,
        offload: false,
        mark: 0,
        zone: 0,
        text: source.text_of(text),
    };
    let mut tuples = [TupleWords::default(), TupleWords::default()];
    let mut half = 0;
    for w in words {
        if let Some(flag) = w.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
            match flag {
                "UNREPLIED" => entry.unreplied = true,
                "ASSURED" => entry.assured = true,
                "OFFLOAD" | "HW_OFFLOAD" => entry.offload = true,
                _ => {}
            }
            continue;
        }
        let Some((key, value)) = w.split_once('=') else {
            return Err(cx.err(w, "key=value or a [FLAG]"));
        };
        if matches!(key, "src" | "dst") && value.contains(':') {
            return Ok(None); // an IPv6 entry printed without the l3 prefix
        }
        if key == "src" && tuples[half].src.is_some() {
            half += 1;
            if half > 1 {
                return Err(cx.err(w, "at most two tuples (original and reply)"));
            }
        }
        tuple_word(&cx, &mut tuples[half.min(1)], &mut entry, key, value, w)?;
    }
    entry.orig = finish_tuple(&cx, &tuples[0], proto, text)?;
    entry.reply = finish_tuple(&cx, &tuples[1], proto, text)?;
    Ok(Some(entry))
}

fn l4_proto(cx: &LineCtx, name: &str, num_word: &str) -> Result<u8, ParseError> {
    let num: u8 = num_word
        .parse()
        .map_err(|_| cx.err(num_word, "the protocol number after the protocol name"))?;
    match L4.iter().find(|(n, _)| *n == name) {
        Some((_, n)) if *n == num || *n == 0 => Ok(num),
        Some(_) => Err(cx.err(num_word, "the number that goes with the protocol name")),
        None => Err(cx.err(
            name,
            "a protocol name (tcp, udp, icmp, sctp, gre, unknown, …) or ipv4",
        )),
    }
}

fn tuple_word(
    cx: &LineCtx,
    t: &mut TupleWords,
    e: &mut ConntrackEntry,
    key: &str,
    value: &str,
    word: &str,
) -> Result<(), ParseError> {
    let num = |v: &str| v.parse::<u16>().map_err(|_| cx.err(word, "a number"));
    match key {
        "src" | "dst" => {
            let addr = value
                .parse::<Ipv4Addr>()
                .map_err(|_| cx.err(word, "an IPv4 address"))?;
            if key == "src" {
                t.src = Some(addr);
            } else {
                t.dst = Some(addr);
            }
        }
        "sport" => t.sport = num(value)?,
        // ICMP echo id; for other protocols `id=` is the entry id of `-o id`.
        "id" if e.orig.proto == 1 => t.sport = num(value)?,
        "dport" => t.dport = num(value)?,
        "type" => t.icmp_type = value.parse().map_err(|_| cx.err(word, "an ICMP type"))?,
        "code" => t.icmp_code = value.parse().map_err(|_| cx.err(word, "an ICMP code"))?,
        "mark" => e.mark = value.parse().map_err(|_| cx.err(word, "a decimal mark"))?,
        "zone" => e.zone = value.parse().map_err(|_| cx.err(word, "a zone number"))?,
        _ => {}
    }
    Ok(())
}

fn finish_tuple(cx: &LineCtx, t: &TupleWords, proto: u8, text: &str) -> Result<Tuple, ParseError> {
    let (Some(src), Some(dst)) = (t.src, t.dst) else {
        let end = text.get(text.len()..).unwrap_or("");
        return Err(cx.err(end, "an original and a reply tuple (src=… dst=… twice)"));
    };
    let (sport, dport) = if proto == 1 {
        (
            t.sport,
            u16::from(t.icmp_type) << 8 | u16::from(t.icmp_code),
        )
    } else {
        (t.sport, t.dport)
    };
    Ok(Tuple {
        src,
        dst,
        proto,
        sport,
        dport,
    })
}

/// `conntrack -S` (or `/proc/net/stat/nf_conntrack`-style `key=value` per cpu):
/// every counter summed over the cpus, in first-seen order.
pub fn parse_stats(file: &str, text: &str) -> Result<Vec<(String, u64)>, ParseErrors> {
    let mut totals: Vec<(String, u64)> = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for word in line.split_whitespace().filter(|w| !w.starts_with("cpu=")) {
            let parsed = word
                .split_once('=')
                .and_then(|(k, v)| Some((k, v.parse::<u64>().ok()?)));
            let error = |expected| ParseError::token(file, i + 1, line, word, expected);
            match parsed {
                Some((k, v)) => match totals.iter_mut().find(|(name, _)| name == k) {
                    Some((_, total)) => match total.checked_add(v) {
                        Some(sum) => *total = sum,
                        None => {
                            errors.push(error("a counter whose sum over the cpus fits 64 bits"))
                        }
                    },
                    None => totals.push((k.to_string(), v)),
                },
                None => errors.push(error("counter=number")),
            }
        }
    }
    if errors.is_empty() {
        Ok(totals)
    } else {
        Err(ParseErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_are_summed_over_cpus() {
        let text = "cpu=0 found=0 insert_failed=1 drop=1 \ncpu=1 found=2 insert_failed=0 drop=3\n";
        let totals = super::parse_stats("s", text).unwrap();
        assert_eq!(
            totals,
            vec![
                ("found".into(), 2),
                ("insert_failed".into(), 1),
                ("drop".into(), 4)
            ]
        );
        assert!(super::parse_stats("s", "cpu=0 found=x").is_err());
        let max = u64::MAX;
        let e = super::parse_stats("s", &format!("cpu=0 drop={max}\ncpu=1 drop=1\n")).unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].found.as_str()), (2, "drop=1"));
    }

    use super::*;

    #[test]
    fn tcp_with_dnat_and_flags() {
        let e = parse("c", "tcp      6 119 SYN_SENT src=183.62.15.118 dst=61.146.164.120 sport=22449 dport=10174 [UNREPLIED] src=172.17.21.105 dst=183.62.15.118 sport=22 dport=22449 mark=0 use=1").unwrap();
        let e = &e[0];
        assert_eq!(e.state.as_deref(), Some("SYN_SENT"));
        assert!(e.unreplied && e.is_dnat() && !e.is_snat());
        assert_eq!(e.reply.sport, 22);
    }

    #[test]
    fn proc_form_icmp_zone_and_summary_lines() {
        let text = "conntrack v1.4.6 (conntrack-tools): 2 flow entries have been shown.\n\
ipv4     2 icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=77 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=77 mark=5 zone=1 use=2\n\
udp      17 29 src=10.17.65.80 dst=10.19.0.2 sport=58059 dport=53 [UNREPLIED] src=10.19.0.2 dst=10.17.65.80 sport=53 dport=58059 mark=0 zone=1 use=1\n";
        let v = parse("c", text).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].orig.sport, v[0].orig.dport, v[0].mark, v[0].zone),
            (77, 8 << 8, 5, 1)
        );
        assert_eq!(v[0].reply.dport, 0);
    }

    #[test]
    fn garbled_lines_are_errors_unless_lenient() {
        let text = "cp      6 86205 ESTABLISHED src=10.244.2.6 dst=10.0.223.224 sport=1 dport=2 src=10.244.1.7 dst=10.244.2.6 sport=2 dport=1 [ASSURED] mark=0 use=1\n";
        let e = parse("c", text).unwrap_err();
        assert_eq!(
            (e.0[0].line, e.0[0].column, e.0[0].found.as_str()),
            (1, 1, "cp")
        );
        let d = parse_dump("c", text, true).unwrap();
        assert_eq!((d.entries.len(), d.warnings.len()), (0, 1));
    }
}
