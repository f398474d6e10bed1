//! `ip route show table all` / `ip route` / `ip route show table T` dumps.
//!
//! Grammar (iproute2 `ip/iproute.c print_route`, kernel-semantics.md §6.6), one route per line:
//!
//! ```text
//! route    = [type] dst { attr } NL { TAB "nexthop" nh-attr... NL | WS "cache" ... NL }
//! type     = unicast | local | broadcast | anycast | multicast | blackhole
//!          | unreachable | prohibit | throw | nat
//! dst      = "default" | a.b.c.d[/len]
//! attr     = from P | nhid N | tos X | dsfield X | via [inet] A | dev D | table T | proto P
//!          | scope S | src A | metric N | priority N | onlink | linkdown | dead | pervasive
//!          | METRIC [lock] V | pref P | expires Ns | realms R | …
//! ```
//!
//! IPv6 lines (any address with `:`, `error N`, `pref`, `table unspec`) and their
//! continuation lines are skipped and counted. See docs/routing.md.

use std::net::Ipv4Addr;
use std::str::{FromStr, SplitWhitespace};

use ipnet::Ipv4Net;

use crate::model::routing::{table_id, Nexthop, Route, RouteMetric, RouteType, Scope};
use crate::parse::{ParseError, ParseErrors};

/// What one `ip route` dump holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteDump {
    /// IPv4 routes in dump order.
    pub routes: Vec<Route>,
    /// Custom table names seen (`table DSL`), with their synthetic ids.
    pub table_names: Vec<(String, u32)>,
    /// IPv6 lines (and their continuation lines) that were skipped.
    pub skipped_v6: usize,
}

/// Parses an `ip route` dump whose lines without `table` belong to `main`.
pub fn parse(file: &str, text: &str) -> Result<RouteDump, ParseErrors> {
    parse_with_table(file, text, table_id::MAIN)
}

/// Parses an `ip route show table T` dump: lines without `table` belong to `default_table`.
pub fn parse_with_table(
    file: &str,
    text: &str,
    default_table: u32,
) -> Result<RouteDump, ParseErrors> {
    let mut dump = RouteDump::default();
    let mut errors = Vec::new();
    let mut last_skipped = false;
    for (i, line) in text.lines().enumerate() {
        let mut words = Words::new(file, i + 1, line);
        match parse_line(&mut words, default_table, &mut dump.table_names) {
            Ok(Parsed::Blank) => {}
            Ok(Parsed::V6) => {
                dump.skipped_v6 += 1;
                last_skipped = true;
            }
            Ok(Parsed::Route(route)) => {
                dump.routes.push(*route);
                last_skipped = false;
            }
            Ok(Parsed::Cache) if last_skipped => dump.skipped_v6 += 1,
            Ok(Parsed::Cache) => {}
            Ok(Parsed::Nexthop(_)) if last_skipped => dump.skipped_v6 += 1,
            Ok(Parsed::Nexthop(nh)) => match dump.routes.last_mut() {
                Some(route) => add_nexthop(route, nh),
                None => errors.push(words.error(line.trim(), "a route before this nexthop")),
            },
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(dump)
    } else {
        Err(ParseErrors(errors))
    }
}

/// Appends a `nexthop` continuation line to its multipath route.
fn add_nexthop(route: &mut Route, nh: Nexthop) {
    route.nexthops.push(nh);
}

/// One classified line.
#[derive(Debug)]
enum Parsed {
    Blank,
    V6,
    Cache,
    Route(Box<Route>),
    Nexthop(Nexthop),
}

/// Classifies and parses one line.
fn parse_line(
    w: &mut Words<'_>,
    default_table: u32,
    names: &mut Vec<(String, u32)>,
) -> Result<Parsed, ParseError> {
    let indented = w.text.starts_with([' ', '\t']);
    let Some(first) = w.next() else {
        return Ok(Parsed::Blank);
    };
    match (indented, first) {
        (_, "#") => Ok(Parsed::Blank),
        (_, c) if c.starts_with('#') => Ok(Parsed::Blank),
        (true, "cache") => Ok(Parsed::Cache),
        (true, "nexthop") => nexthop_line(w),
        (true, other) => Err(w.error(other, "\"nexthop\" or \"cache\" on a continuation line")),
        (false, first) => route_line(w, first, default_table, names),
    }
}

/// `nexthop via A dev D weight W [flags]` (multipath continuation).
fn nexthop_line(w: &mut Words<'_>) -> Result<Parsed, ParseError> {
    let mut nh = Nexthop {
        gateway: None,
        dev: None,
        weight: 1,
        flags: Vec::new(),
    };
    while let Some(kw) = w.next() {
        match kw {
            "via" => match gateway(w)? {
                Some(gw) => nh.gateway = Some(gw),
                None => return Ok(Parsed::V6),
            },
            "dev" => nh.dev = Some(w.value("a device name")?.to_string()),
            "weight" => nh.weight = w.parse("a weight (1-256)")?,
            "realms" => {
                w.value("realms")?;
            }
            flag if NEXTHOP_FLAGS.contains(&flag) => nh.flags.push(flag.to_string()),
            other => return Err(w.error(other, "via, dev, weight or a nexthop flag")),
        }
    }
    Ok(Parsed::Nexthop(nh))
}

/// Nexthop flags `ip route` prints (`print_rt_flags`).
const NEXTHOP_FLAGS: &[&str] = &[
    "onlink",
    "linkdown",
    "dead",
    "pervasive",
    "offload",
    "trap",
    "offload_failed",
    "notify",
    "rt_offload",
    "rt_trap",
    "rt_offload_failed",
];

/// Route metrics (`RTAX_*` names as `ip route` prints them), each followed by
/// `[lock] VALUE`.
const METRICS: &[&str] = &[
    "mtu",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "initcwnd",
    "initrwnd",
    "ssthresh",
    "features",
    "quickack",
    "congctl",
    "rto_min",
    "hoplimit",
    "fastopen_no_cookie",
];

/// A route line: `[type] dst attrs…`.
fn route_line(
    w: &mut Words<'_>,
    first: &str,
    default_table: u32,
    names: &mut Vec<(String, u32)>,
) -> Result<Parsed, ParseError> {
    let (kind, dst_word) = match RouteType::parse(first) {
        Some(kind) => (kind, w.value("a destination prefix or \"default\"")?),
        None => (RouteType::Unicast, first),
    };
    if is_v6(dst_word) {
        return Ok(Parsed::V6);
    }
    let dst = destination(w, dst_word)?;
    let mut b = Builder::new(kind, dst, default_table, w.line_no, w.text);
    while let Some(kw) = w.next() {
        if let Attr::V6 = route_attr(w, kw, &mut b, names)? {
            return Ok(Parsed::V6);
        }
    }
    Ok(Parsed::Route(Box::new(b.finish())))
}

/// `default` or a prefix (`/len` omitted for host routes).
fn destination(w: &Words<'_>, word: &str) -> Result<Ipv4Net, ParseError> {
    if word == "default" {
        return Ok(Ipv4Net::default());
    }
    prefix(word).ok_or_else(|| w.error(word, "\"default\" or an IPv4 prefix a.b.c.d[/len]"))
}

/// Whether the rest of the line is still IPv4.
enum Attr {
    Ok,
    V6,
}

/// One `keyword value` pair (or flag) of a route line.
fn route_attr(
    w: &mut Words<'_>,
    kw: &str,
    b: &mut Builder,
    names: &mut Vec<(String, u32)>,
) -> Result<Attr, ParseError> {
    match kw {
        "via" => match gateway(w)? {
            Some(gw) => b.gateway = Some(gw),
            None => return Ok(Attr::V6),
        },
        "dev" => b.dev = Some(w.value("a device name")?.to_string()),
        "table" => b.route.table = table(w, names)?,
        "src" => match w.value("a source address")? {
            v if is_v6(v) => return Ok(Attr::V6),
            v => b.route.prefsrc = Some(addr(w, v)?),
        },
        "from" => match w.value("a source prefix")? {
            v if is_v6(v) => return Ok(Attr::V6),
            v => {
                prefix(v).ok_or_else(|| w.error(v, "an IPv4 prefix"))?;
            }
        },
        "error" | "pref" => return Ok(Attr::V6),
        "tos" | "dsfield" => b.route.tos = tos(w)?,
        "scope" => b.route.scope = scope(w)?,
        "metric" | "priority" => b.route.metric = w.parse("a metric (0-4294967295)")?,
        "nhid" => b.route.nhid = Some(w.parse("a nexthop id")?),
        "proto" | "protocol" => b.route.protocol = Some(w.value("a protocol")?.to_string()),
        "expires" | "realms" | "mark" | "ttl-propagate" | "age" | "used" => {
            w.value("a value")?;
        }
        flag if NEXTHOP_FLAGS.contains(&flag) => b.flags.push(flag.to_string()),
        m if METRICS.contains(&m) => b.route.metrics.push(metric(w, m)?),
        other => return Err(w.error(other, "a route attribute (via, dev, table, proto, …)")),
    }
    Ok(Attr::Ok)
}

/// `via [inet|inet6] A`; `None` for an IPv6 gateway.
fn gateway(w: &mut Words<'_>) -> Result<Option<Ipv4Addr>, ParseError> {
    let mut v = w.value("a gateway address")?;
    if v == "inet" {
        v = w.value("a gateway address")?;
    }
    if v == "inet6" || is_v6(v) {
        return Ok(None);
    }
    addr(w, v).map(Some)
}

/// `table T`: number, well-known or custom name (recorded in `names`).
fn table(w: &mut Words<'_>, names: &mut Vec<(String, u32)>) -> Result<u32, ParseError> {
    let v = w.value("a table name or number")?;
    Ok(table_ref(v, names))
}

/// Resolves a table as printed and records custom names.
pub fn table_ref(text: &str, names: &mut Vec<(String, u32)>) -> u32 {
    let id = table_id::from_name(text);
    if table_id::is_custom_name(text) && !names.iter().any(|(n, _)| n == text) {
        names.push((text.to_string(), id));
    }
    id
}

/// `METRIC [lock] VALUE`.
fn metric(w: &mut Words<'_>, name: &str) -> Result<RouteMetric, ParseError> {
    let mut value = w.value("a metric value")?;
    let locked = value == "lock";
    if locked {
        value = w.value("a metric value after lock")?;
    }
    Ok(RouteMetric {
        name: name.to_string(),
        value: value.to_string(),
        locked,
    })
}

/// `scope S`.
fn scope(w: &mut Words<'_>) -> Result<Scope, ParseError> {
    let v = w.value("a scope")?;
    Scope::parse(v).ok_or_else(|| w.error(v, "a scope (global, site, link, host, nowhere)"))
}

/// `tos X` / `dsfield X`: hex (`0x10`) or decimal.
fn tos(w: &mut Words<'_>) -> Result<u8, ParseError> {
    let v = w.value("a TOS value")?;
    parse_u8(v).ok_or_else(|| w.error(v, "a TOS value (0x00-0xff)"))
}

/// A byte in hex (`0x..`) or decimal.
pub fn parse_u8(text: &str) -> Option<u8> {
    parse_u32(text).and_then(|v| u8::try_from(v).ok())
}

/// A `u32` in hex (`0x..`) or decimal.
pub fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// An IPv4 address.
fn addr(w: &Words<'_>, text: &str) -> Result<Ipv4Addr, ParseError> {
    text.parse()
        .map_err(|_| w.error(text, "an IPv4 address a.b.c.d"))
}

/// `a.b.c.d[/len]` as `ip` prints prefixes (`/32` omitted). Host bits are kept.
pub fn prefix(text: &str) -> Option<Ipv4Net> {
    match text.split_once('/') {
        Some((a, len)) => Ipv4Net::new(a.parse().ok()?, len.parse().ok()?).ok(),
        None => text.parse::<Ipv4Addr>().ok().map(Ipv4Net::from),
    }
}

/// True for a word that is an IPv6 address or prefix (contains `:`).
pub fn is_v6(text: &str) -> bool {
    text.contains(':')
}

/// Accumulates one route line.
struct Builder {
    route: Route,
    gateway: Option<Ipv4Addr>,
    dev: Option<String>,
    flags: Vec<String>,
}

impl Builder {
    fn new(kind: RouteType, dst: Ipv4Net, table: u32, line: usize, text: &str) -> Builder {
        let route = Route {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            kind,
            dst,
            tos: 0,
            table,
            nexthops: Vec::new(),
            prefsrc: None,
            metric: 0,
            scope: kind.default_scope(),
            protocol: None,
            nhid: None,
            metrics: Vec::new(),
            text: text.trim_end().to_string(),
        };
        Builder {
            route,
            gateway: None,
            dev: None,
            flags: Vec::new(),
        }
    }

    /// The route, with its single nexthop when `via`/`dev` were given (error types have none).
    fn finish(self) -> Route {
        let Builder {
            mut route,
            gateway,
            dev,
            flags,
        } = self;
        let has_nh = gateway.is_some() || dev.is_some();
        if has_nh && !route.kind.is_error() {
            route.nexthops.push(Nexthop {
                gateway,
                dev,
                weight: 1,
                flags,
            });
        }
        route
    }
}

/// Whitespace-separated words of one line, with error helpers that point at a word.
pub(crate) struct Words<'a> {
    file: &'a str,
    pub(crate) line_no: usize,
    pub(crate) text: &'a str,
    iter: SplitWhitespace<'a>,
}

impl<'a> Words<'a> {
    /// Words of `text`, line `line_no` of `file`.
    pub(crate) fn new(file: &'a str, line_no: usize, text: &'a str) -> Words<'a> {
        Words {
            file,
            line_no,
            text,
            iter: text.split_whitespace(),
        }
    }

    /// Words of `rest`, a sub-slice of `parent`'s line (errors still show the whole line).
    pub(crate) fn new_at(parent: &Words<'a>, rest: &'a str) -> Words<'a> {
        Words {
            iter: rest.split_whitespace(),
            ..Words::new(parent.file, parent.line_no, parent.text)
        }
    }

    /// The next word.
    pub(crate) fn next(&mut self) -> Option<&'a str> {
        self.iter.next()
    }

    /// The value after a keyword; an error at end of line otherwise.
    pub(crate) fn value(&mut self, expected: &str) -> Result<&'a str, ParseError> {
        self.iter.next().ok_or_else(|| self.end_error(expected))
    }

    /// The next word parsed as `T`.
    pub(crate) fn parse<T: FromStr>(&mut self, expected: &str) -> Result<T, ParseError> {
        let v = self.value(expected)?;
        v.parse().map_err(|_| self.error(v, expected))
    }

    /// An error pointing at `word` (a sub-slice of the line).
    pub(crate) fn error(&self, word: &str, expected: &str) -> ParseError {
        ParseError::token(self.file, self.line_no, self.text, word, expected)
    }

    /// An error at the end of the line.
    pub(crate) fn end_error(&self, expected: &str) -> ParseError {
        let end = self.text.trim_end().len();
        ParseError::at(self.file, self.line_no, self.text, end, "", expected)
    }
}
