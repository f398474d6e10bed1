//! The probes file (`probes.toml`): packets with what each should do.
//!
//! ```toml
//! [defaults]            # optional: fields every probe starts from
//! iif = "eth2"
//!
//! [[probe]]
//! name = "ssh to the VM is port-forwarded"
//! src = "183.62.15.118"
//! dst = "61.146.164.120"
//! proto = "tcp"
//! dport = 10174
//! expect.verdict = "ACCEPT"
//! expect.dst = "172.17.21.105"
//! expect.via = "nat:PREROUTING:3"   # or the rule's --comment, or a list
//! ```
//!
//! The packet fields are those of `nftrace trace` (same names, without dashes);
//! they are validated by the same code ([`crate::probe::probe_from_flags`]). Every
//! error names the file, line and column (docs/check.md).

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::trace::walk::ForcedState;
use crate::trace::Probe;

/// One probe of the file, validated.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// Its name, unique in the file.
    pub name: String,
    /// 1-based line of its `name`.
    pub line: usize,
    /// The packet and where it enters.
    pub probe: Probe,
    /// `--assume KEY=VALUE` items.
    pub assume: Vec<String>,
    /// `--ctstate`.
    pub ctstate: Option<ForcedState>,
    /// What must hold.
    pub expect: Expect,
}

/// A final verdict a probe may expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ExpectedVerdict {
    /// `ACCEPT`: delivered or sent.
    Accept,
    /// `DROP`.
    Drop,
    /// `REJECT` (any `--reject-with`).
    Reject,
    /// `QUEUE`/`NFQUEUE` with a listener.
    Queue,
}

impl ExpectedVerdict {
    /// The spellings, one table for parsing and printing.
    const NAMES: [(ExpectedVerdict, &'static str); 4] = [
        (ExpectedVerdict::Accept, "ACCEPT"),
        (ExpectedVerdict::Drop, "DROP"),
        (ExpectedVerdict::Reject, "REJECT"),
        (ExpectedVerdict::Queue, "QUEUE"),
    ];

    /// `ACCEPT`, `DROP`, `REJECT` or `QUEUE`.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("?", |(_, s)| s)
    }

    fn parse(text: &str) -> Option<ExpectedVerdict> {
        Self::NAMES
            .iter()
            .find(|(_, s)| s.eq_ignore_ascii_case(text))
            .map(|(v, _)| *v)
    }
}

/// A rule named in `via`/`not_via`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleName {
    /// `table:chain:rulenum`.
    Position {
        /// Table name.
        table: String,
        /// Chain name.
        chain: String,
        /// 1-based rule number.
        rulenum: u32,
    },
    /// The text of the rule's `-m comment --comment`.
    Comment(String),
}

impl RuleName {
    /// `table:chain:N` when the table is one iptables knows, else a comment.
    pub fn parse(text: &str) -> RuleName {
        let mut parts = text.rsplitn(2, ':');
        let (Some(num), Some(rest)) = (parts.next(), parts.next()) else {
            return RuleName::Comment(text.to_string());
        };
        match (rest.split_once(':'), num.parse::<u32>()) {
            (Some((table, chain)), Ok(rulenum))
                if crate::model::ruleset::TableName::from_name(table).is_some()
                    && !chain.is_empty() =>
            {
                RuleName::Position {
                    table: table.to_string(),
                    chain: chain.to_string(),
                    rulenum,
                }
            }
            _ => RuleName::Comment(text.to_string()),
        }
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleName::Position {
                table,
                chain,
                rulenum,
            } => write!(f, "{table}:{chain}:{rulenum}"),
            RuleName::Comment(c) => write!(f, "{c:?}"),
        }
    }
}

/// What a probe expects; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// Final verdict.
    pub verdict: Option<ExpectedVerdict>,
    /// Egress interface (the packet is sent out of it).
    pub oif: Option<String>,
    /// Final source address.
    pub src: Option<Ipv4Addr>,
    /// Final destination address.
    pub dst: Option<Ipv4Addr>,
    /// Final source port.
    pub sport: Option<u16>,
    /// Final destination port.
    pub dport: Option<u16>,
    /// Rules that must be traversed (matched).
    pub via: Vec<RuleName>,
    /// Rules that must not be traversed.
    pub not_via: Vec<RuleName>,
    /// Final mark: `(value, mask)`, compared as `mark & mask == value`.
    pub mark: Option<(u32, u32)>,
}

impl Expect {
    /// True when nothing is expected (the probe only reports).
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

/// A bad probes file: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFileError {
    /// File name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The line, for the caret.
    pub line_text: String,
    /// Width of the offending text (at least 1).
    pub width: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ProbeFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.line_text)?;
        write!(
            f,
            "{:gutter$} | {:pad$}{}",
            "",
            "",
            "^".repeat(self.width.max(1)),
            pad = self.column - 1
        )
    }
}

impl std::error::Error for ProbeFileError {}

/// A number or a string, for fields people write either way (`mark = 0x10`, `mark = "0x10/0xff"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u32),
    Text(String),
}

impl NumOrText {
    fn text(&self) -> String {
        match self {
            NumOrText::Num(n) => n.to_string(),
            NumOrText::Text(t) => t.clone(),
        }
    }
}

/// One string or a list of them (`via = "x"` or `via = ["x", "y"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// One `[[probe]]` table, or `[defaults]` (which has no name and no expect).
/// The packet fields are those of `nftrace trace`. (Not split with
/// `#[serde(flatten)]`: flattening loses the spans.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PacketFields {
    name: Option<Spanned<String>>,
    expect: Option<Spanned<RawExpect>>,
    src: Option<Spanned<String>>,
    dst: Option<Spanned<String>>,
    proto: Option<Spanned<NumOrText>>,
    sport: Option<Spanned<u16>>,
    dport: Option<Spanned<u16>>,
    icmp_type: Option<Spanned<NumOrText>>,
    tcp_flags: Option<Spanned<String>>,
    iif: Option<Spanned<String>>,
    local: Option<Spanned<bool>>,
    mark: Option<Spanned<NumOrText>>,
    len: Option<Spanned<u16>>,
    ttl: Option<Spanned<u8>>,
    tos: Option<Spanned<NumOrText>>,
    payload: Option<Spanned<String>>,
    mac_src: Option<Spanned<String>>,
    inner_src: Option<Spanned<String>>,
    inner_dst: Option<Spanned<String>>,
    inner_proto: Option<Spanned<NumOrText>>,
    inner_sport: Option<Spanned<NumOrText>>,
    inner_dport: Option<Spanned<NumOrText>>,
    id: Option<Spanned<u16>>,
    df: Option<Spanned<bool>>,
    assume: Option<Spanned<OneOrMany>>,
    ctstate: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    verdict: Option<Spanned<String>>,
    oif: Option<String>,
    src: Option<Spanned<String>>,
    dst: Option<Spanned<String>>,
    sport: Option<u16>,
    dport: Option<u16>,
    via: Option<OneOrMany>,
    not_via: Option<OneOrMany>,
    mark: Option<Spanned<NumOrText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<PacketFields>,
    #[serde(default)]
    probe: Vec<Spanned<PacketFields>>,
}

/// Parses a probes file; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<ProbeSpec>, ProbeFileError> {
    let at = |span: Range<usize>, message: String| locate(file, text, span, message);
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| at(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
    if raw.probe.is_empty() {
        return Err(at(
            0..0,
            "no probes: add a [[probe]] table with a name and a packet (docs/check.md)".into(),
        ));
    }
    let defaults = raw.defaults.unwrap_or_default();
    if let Some(bad) = defaults
        .name
        .as_ref()
        .map(Spanned::span)
        .or_else(|| defaults.expect.as_ref().map(Spanned::span))
    {
        return Err(at(
            bad,
            "[defaults] holds packet fields only; name and expect belong in each [[probe]]".into(),
        ));
    }
    let mut specs: Vec<ProbeSpec> = Vec::with_capacity(raw.probe.len());
    // Names seen and the last (offset, line) found: both keep 10,000 probes linear.
    let mut names = std::collections::HashSet::with_capacity(raw.probe.len());
    let mut last_line = (0, 1);
    for p in raw.probe {
        let table_span = p.span();
        let p = p.into_inner();
        let Some(name) = p.name.clone() else {
            return Err(at(
                table_span,
                "this probe has no name: add name = \"…\"".into(),
            ));
        };
        if !names.insert(name.get_ref().clone()) {
            return Err(at(
                name.span(),
                format!("a probe named {:?} already exists", name.get_ref()),
            ));
        }
        let mut s = spec(name.clone(), p, &defaults).map_err(|(span, msg)| at(span, msg))?;
        s.line = line_at(text, name.span().start, &mut last_line);
        specs.push(s);
    }
    Ok(specs)
}

type FieldError = (Range<usize>, String);

fn spec(
    name: Spanned<String>,
    p: PacketFields,
    defaults: &PacketFields,
) -> Result<ProbeSpec, FieldError> {
    let name_span = name.span();
    let expect = p.expect.clone();
    let fields = p.over(defaults);
    let probe = packet(&fields, &name_span)?;
    let assume = fields
        .assume
        .clone()
        .map(|a| a.into_inner().into_vec())
        .unwrap_or_default();
    if let Some(a) = &fields.assume {
        crate::trace::assume::AssumeConfig::parse(&assume).map_err(|e| (a.span(), e))?;
    }
    let ctstate = fields
        .ctstate
        .as_ref()
        .map(|s| {
            <ForcedState as clap::ValueEnum>::from_str(s.get_ref(), true).map_err(|_| {
                (
                    s.span(),
                    "ctstate takes new, established, related, invalid or untracked".to_string(),
                )
            })
        })
        .transpose()?;
    let expect = expect
        .map(|e| expectation(e.into_inner()))
        .transpose()?
        .unwrap_or_default();
    Ok(ProbeSpec {
        name: name.into_inner(),
        line: 0,
        probe,
        assume,
        ctstate,
        expect,
    })
}

/// For each packet field: the `nftrace trace` flag it becomes, and how that
/// flag's error messages start (to place an error on the field it came from).
const FLAGS: &[(&str, &str, &str)] = &[
    ("src", "--src", "-s/--src"),
    ("dst", "--dst", "-d/--dst"),
    ("proto", "--proto", "-p "),
    ("sport", "--sport", "--sport"),
    ("dport", "--dport", "--sport/--dport"),
    ("icmp_type", "--icmp-type", "--icmp-type"),
    ("tcp_flags", "--tcp-flags", "--tcp-flags"),
    ("iif", "--iif", "-i/--iif"),
    ("mark", "--mark", "--mark"),
    ("len", "--len", "--len"),
    ("ttl", "--ttl", "--ttl"),
    ("tos", "--tos", "--tos"),
    ("payload", "--payload", "--payload"),
    ("mac_src", "--mac-src", "--mac-src"),
    ("inner_src", "--inner-src", "--inner-src"),
    ("inner_dst", "--inner-dst", "--inner-dst"),
    ("inner_proto", "--inner-proto", "--inner-proto"),
    ("inner_sport", "--inner-sport", "--inner-sport"),
    ("inner_dport", "--inner-dport", "--inner-dport"),
    ("id", "--id", "--id"),
];

impl PacketFields {
    /// These fields, with the unset ones taken from `defaults`.
    fn over(self, d: &PacketFields) -> PacketFields {
        macro_rules! pick {
            ($($f:ident),*) => { PacketFields { $($f: self.$f.or_else(|| d.$f.clone()),)* } };
        }
        let local_given = self.local.is_some();
        let iif_given = self.iif.is_some();
        let mut merged = pick!(
            name,
            expect,
            src,
            dst,
            proto,
            sport,
            dport,
            icmp_type,
            tcp_flags,
            iif,
            local,
            mark,
            len,
            ttl,
            tos,
            payload,
            mac_src,
            inner_src,
            inner_dst,
            inner_proto,
            inner_sport,
            inner_dport,
            id,
            df,
            assume,
            ctstate
        );
        // A probe's own `iif` or `local` replaces the default's other one.
        if iif_given && !local_given {
            merged.local = None;
        }
        if local_given && !iif_given {
            merged.iif = None;
        }
        merged
    }

    /// `(field, value, span)` of every given packet field.
    fn given(&self) -> Vec<(&'static str, String, Range<usize>)> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, v: Option<(String, Range<usize>)>| {
            if let Some((text, span)) = v {
                out.push((name, text, span));
            }
        };
        let s = |f: &Option<Spanned<String>>| f.as_ref().map(|v| (v.get_ref().clone(), v.span()));
        let n = |f: &Option<Spanned<NumOrText>>| f.as_ref().map(|v| (v.get_ref().text(), v.span()));
        let i = |f: Option<(String, Range<usize>)>| f;
        add("src", s(&self.src));
        add("dst", s(&self.dst));
        add("proto", n(&self.proto));
        add(
            "sport",
            i(self
                .sport
                .as_ref()
                .map(|v| (v.get_ref().to_string(), v.span()))),
        );
        add(
            "dport",
            i(self
                .dport
                .as_ref()
                .map(|v| (v.get_ref().to_string(), v.span()))),
        );
        add("icmp_type", n(&self.icmp_type));
        add("tcp_flags", s(&self.tcp_flags));
        add("iif", s(&self.iif));
        add("mark", n(&self.mark));
        add(
            "len",
            i(self
                .len
                .as_ref()
                .map(|v| (v.get_ref().to_string(), v.span()))),
        );
        add(
            "ttl",
            i(self
                .ttl
                .as_ref()
                .map(|v| (v.get_ref().to_string(), v.span()))),
        );
        add("tos", n(&self.tos));
        add("payload", s(&self.payload));
        add("mac_src", s(&self.mac_src));
        add("inner_src", s(&self.inner_src));
        add("inner_dst", s(&self.inner_dst));
        add("inner_proto", n(&self.inner_proto));
        add("inner_sport", n(&self.inner_sport));
        add("inner_dport", n(&self.inner_dport));
        add(
            "id",
            i(self
                .id
                .as_ref()
                .map(|v| (v.get_ref().to_string(), v.span()))),
        );
        out
    }
}

/// Builds the packet through `trace`'s own flag validation.
fn packet(f: &PacketFields, name_span: &Range<usize>) -> Result<Probe, FieldError> {
    let given = f.given();
    let mut words: Vec<String> = Vec::new();
    for (field, value, _) in &given {
        let flag = FLAGS
            .iter()
            .find(|(n, _, _)| n == field)
            .map_or("", |(_, fl, _)| fl);
        words.push(format!("{flag}={value}"));
    }
    if f.local.as_ref().is_some_and(|l| *l.get_ref()) {
        words.push("--local".into());
    }
    if f.df.as_ref().is_some_and(|d| *d.get_ref()) {
        words.push("--df".into());
    }
    if f.dst.is_none() {
        return Err((
            name_span.clone(),
            "this probe has no dst (destination address)".into(),
        ));
    }
    if f.iif.is_none() && !f.local.as_ref().is_some_and(|l| *l.get_ref()) {
        return Err((
            name_span.clone(),
            "say where the packet comes from: iif = \"eth0\" (received) or local = true (sent by the host)".into(),
        ));
    }
    crate::probe::probe_from_flags(&words).map_err(|e| {
        let msg = format!("{e:#}");
        let span = given
            .iter()
            .find(|(field, _, _)| {
                FLAGS
                    .iter()
                    .any(|(n, _, prefix)| n == field && msg.starts_with(prefix))
            })
            .map_or(name_span.clone(), |(_, _, span)| span.clone());
        (span, msg)
    })
}

fn expectation(e: RawExpect) -> Result<Expect, FieldError> {
    let verdict = e
        .verdict
        .map(|v| {
            ExpectedVerdict::parse(v.get_ref()).ok_or_else(|| {
                (
                    v.span(),
                    format!(
                        "verdict takes ACCEPT, DROP, REJECT or QUEUE, found {:?}",
                        v.get_ref()
                    ),
                )
            })
        })
        .transpose()?;
    let addr = |a: Option<Spanned<String>>, what: &str| {
        a.map(|a| {
            a.get_ref().parse::<Ipv4Addr>().map_err(|_| {
                (
                    a.span(),
                    format!(
                        "expect.{what} takes an IPv4 address like 192.0.2.1, found {:?}",
                        a.get_ref()
                    ),
                )
            })
        })
        .transpose()
    };
    let names = |v: Option<OneOrMany>| {
        v.map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|s| RuleName::parse(s))
            .collect::<Vec<_>>()
    };
    Ok(Expect {
        verdict,
        oif: e.oif,
        src: addr(e.src, "src")?,
        dst: addr(e.dst, "dst")?,
        sport: e.sport,
        dport: e.dport,
        via: names(e.via),
        not_via: names(e.not_via),
        mark: e.mark.map(mark).transpose()?,
    })
}

/// `0x10`, `16` or `0x10/0xff`.
fn mark(m: Spanned<NumOrText>) -> Result<(u32, u32), FieldError> {
    let text = m.get_ref().text();
    let number = |t: &str| match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    };
    let parsed = match text.split_once('/') {
        Some((v, mask)) => number(v).zip(number(mask)),
        None => number(&text).map(|v| (v, u32::MAX)),
    };
    parsed.map(|(v, mask)| (v & mask, mask)).ok_or_else(|| {
        (
            m.span(),
            format!("expect.mark takes 0x10, 16 or 0x10/0xff, found {text:?}"),
        )
    })
}

/// The 1-based line of byte `offset`, counting on from `last` (an earlier offset
/// and its line) when `offset` lies after it.
fn line_at(text: &str, offset: usize, last: &mut (usize, usize)) -> usize {
    let offset = offset.min(text.len());
    let (from, line) = if offset >= last.0 { *last } else { (0, 1) };
    let line = line
        + text.as_bytes()[from..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
    *last = (offset, line);
    line
}

/// Turns a byte span into file, line, column and the line's text.
fn locate(file: &str, text: &str, span: Range<usize>, message: String) -> ProbeFileError {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_text = text[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    let column = text[line_start..start].chars().count() + 1;
    let end = span.end.clamp(start, line_end);
    ProbeFileError {
        file: file.to_string(),
        line: text[..start].matches('\n').count() + 1,
        column,
        line_text,
        width: text[start..end].chars().count(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[defaults]\nsrc = \"10.0.0.1\"\niif = \"eth0\"\n\n";

    fn one(text: &str) -> ProbeSpec {
        let mut specs = parse("p.toml", &format!("{BASE}{text}")).expect("parses");
        specs.remove(0)
    }

    #[test]
    fn rule_names_are_positions_only_with_a_known_table() {
        assert_eq!(
            RuleName::parse("nat:PREROUTING:3"),
            RuleName::Position {
                table: "nat".into(),
                chain: "PREROUTING".into(),
                rulenum: 3
            }
        );
        for comment in ["61.146.164.120:10174:10174", "allow ssh", "web:80"] {
            assert_eq!(RuleName::parse(comment), RuleName::Comment(comment.into()));
        }
    }

    #[test]
    fn defaults_fill_the_packet_and_local_replaces_the_default_iif() {
        let s = one("[[probe]]\nname = \"a\"\ndst = \"10.0.0.2\"\nlocal = true\n");
        assert_eq!(s.probe.ingress, crate::model::packet::Ingress::Local);
        assert_eq!(s.probe.packet.src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(s.line, 6);
    }

    #[test]
    fn expectations_accept_single_values_lists_and_masked_marks() {
        let s = one(
            "[[probe]]\nname = \"a\"\ndst = \"10.0.0.2\"\n\
             expect = { verdict = \"drop\", via = \"x\", not_via = [\"filter:INPUT:1\", \"y\"], mark = \"0x12/0xf0\" }\n",
        );
        assert_eq!(s.expect.verdict, Some(ExpectedVerdict::Drop));
        assert_eq!(s.expect.via, [RuleName::Comment("x".into())]);
        assert_eq!(s.expect.not_via.len(), 2);
        assert_eq!(s.expect.mark, Some((0x10, 0xf0)));
    }

    #[test]
    fn duplicate_names_are_an_error_at_the_second() {
        let e = parse(
            "p.toml",
            &format!("{BASE}[[probe]]\nname = \"a\"\ndst = \"10.0.0.2\"\n[[probe]]\nname = \"a\"\ndst = \"10.0.0.3\"\n"),
        )
        .expect_err("duplicate");
        assert_eq!((e.line, e.column), (9, 8));
        assert!(e.message.contains("already exists"), "{}", e.message);
    }

    #[test]
    fn an_empty_file_says_what_a_probe_looks_like() {
        let e = parse("p.toml", "").expect_err("empty");
        assert!(e.message.contains("[[probe]]"), "{}", e.message);
    }
}
