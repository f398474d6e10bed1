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

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::str::{FromStr, SplitWhitespace};
use std::sync::Arc;

use ipnet::Ipv4Net;

use crate::model::routing::{
    table_id, FibInfo, Nexthop, NexthopFlags, Route, RouteMetric, RouteType, Scope,
};
use crate::model::text::{SliceSource, Text};
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
    parse_shared(file, Arc::new(text.to_string()), default_table)
}

/// [`parse_with_table`] of a dump already in shared memory: every route's text,
/// device and protocol are ranges of that one copy (a full Internet table is a
/// million routes; issue 6).
pub fn parse_shared(
    file: &str,
    text: Arc<String>,
    default_table: u32,
) -> Result<RouteDump, ParseErrors> {
    let source = SliceSource::new(text);
    let mut dump = RouteDump::default();
    // Plus room for the local routes `Routing::from_dumps` may add: capacity
    // never written costs address space, not memory.
    let lines = super::line_count(&source);
    dump.routes.reserve(lines + lines / 16 + 256);
    let mut errors = Vec::new();
    let mut last_skipped = false;
    let mut infos = FibInfos::default();
    for (i, line) in source.lines().enumerate() {
        let full = Words::new(file, i + 1, line);
        // `ip -o route` prints a multipath route on one line: its continuation
        // lines follow, each after ` \<TAB>` (print_nl in iproute2's utils.c).
        for (k, part) in line.split("\\\t").enumerate() {
            let mut words = Words::new_at(&full, part);
            let indented = k > 0 || line.starts_with([' ', '\t']);
            let mut cx = LineCx {
                source: &source,
                default_table,
                names: &mut dump.table_names,
                infos: &mut infos,
            };
            let parsed = parse_line(&mut words, indented, &mut cx);
            dump.add(parsed, &mut last_skipped, &mut errors, &words);
        }
    }
    if errors.is_empty() {
        Ok(dump)
    } else {
        Err(ParseErrors(errors))
    }
}

impl RouteDump {
    /// Adds one parsed line (or line part) to the dump.
    fn add(
        &mut self,
        parsed: Result<Parsed, ParseError>,
        last_skipped: &mut bool,
        errors: &mut Vec<ParseError>,
        words: &Words<'_>,
    ) {
        let dump = self;
        match parsed {
            Ok(Parsed::Blank) => {}
            Ok(Parsed::V6) => {
                dump.skipped_v6 += 1;
                *last_skipped = true;
            }
            Ok(Parsed::Route(route)) => {
                dump.routes.push(route);
                *last_skipped = false;
            }
            Ok(Parsed::Cache) if *last_skipped => dump.skipped_v6 += 1,
            Ok(Parsed::Cache) => {}
            Ok(Parsed::Nexthop(_)) if *last_skipped => dump.skipped_v6 += 1,
            Ok(Parsed::Nexthop(nh)) => match dump.routes.last_mut() {
                Some(route) => add_nexthop(route, nh),
                None => errors.push(words.error(words.text.trim(), "a route before this nexthop")),
            },
            Err(e) => errors.push(e),
        }
    }
}

/// Appends a `nexthop` continuation line to its multipath route (which then
/// has a [`FibInfo`] of its own).
fn add_nexthop(route: &mut Route, nh: Nexthop) {
    Arc::make_mut(&mut route.info).nexthops.push(nh);
}

/// One shared [`FibInfo`] per distinct set of attributes (`fib_find_info`).
#[derive(Default)]
struct FibInfos {
    /// The last one handed out: neighbouring routes usually share it.
    last: Option<Arc<FibInfo>>,
    /// Every one handed out.
    seen: HashSet<Arc<FibInfo>, foldhash::fast::RandomState>,
}

impl FibInfos {
    /// The shared `FibInfo` equal to `info`.
    fn share(&mut self, info: FibInfo) -> Arc<FibInfo> {
        if let Some(last) = self.last.as_ref().filter(|l| ***l == info) {
            return Arc::clone(last);
        }
        let shared = match self.seen.get(&info) {
            Some(seen) => Arc::clone(seen),
            None => {
                let new = Arc::new(info);
                self.seen.insert(Arc::clone(&new));
                new
            }
        };
        self.last = Some(Arc::clone(&shared));
        shared
    }
}

/// One classified line.
#[derive(Debug)]
enum Parsed {
    Blank,
    V6,
    Cache,
    Route(Route),
    Nexthop(Nexthop),
}

/// What a line's parse needs besides its words.
struct LineCx<'a> {
    /// The dump, which words and lines are cut from.
    source: &'a SliceSource,
    /// The table of lines without `table`.
    default_table: u32,
    /// Custom table names seen so far.
    names: &'a mut Vec<(String, u32)>,
    /// The `FibInfo`s of the routes so far.
    infos: &'a mut FibInfos,
}

/// Classifies and parses one line.
fn parse_line(
    w: &mut Words<'_>,
    indented: bool,
    cx: &mut LineCx<'_>,
) -> Result<Parsed, ParseError> {
    let Some(first) = w.next() else {
        return Ok(Parsed::Blank);
    };
    match (indented, first) {
        (_, "#") => Ok(Parsed::Blank),
        (_, c) if c.starts_with('#') => Ok(Parsed::Blank),
        (true, "cache") => Ok(Parsed::Cache),
        (true, "nexthop") => nexthop_line(w, cx.source),
        (true, other) => Err(w.error(other, "\"nexthop\" or \"cache\" on a continuation line")),
        (false, first) => route_line(w, first, cx),
    }
}

/// `nexthop via A dev D weight W [flags]` (multipath continuation).
fn nexthop_line(w: &mut Words<'_>, source: &SliceSource) -> Result<Parsed, ParseError> {
    let mut nh = Nexthop {
        gateway: None,
        dev: None,
        weight: 1,
        flags: NexthopFlags::default(),
    };
    while let Some(kw) = w.next() {
        match kw {
            "via" => match gateway(w)? {
                Some(gw) => nh.gateway = Some(gw),
                None => return Ok(Parsed::V6),
            },
            "dev" => nh.dev = Some(source.text_of(w.value("a device name")?)),
            "weight" => nh.weight = w.parse("a weight (1-256)")?,
            "realms" => {
                w.value("realms")?;
            }
            other => match NexthopFlags::from_name(other) {
                Some(flag) => nh.flags.insert(flag),
                None => return Err(w.error(other, "via, dev, weight or a nexthop flag")),
            },
        }
    }
    Ok(Parsed::Nexthop(nh))
}

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
fn route_line(w: &mut Words<'_>, first: &str, cx: &mut LineCx<'_>) -> Result<Parsed, ParseError> {
    let (kind, dst_word) = match RouteType::parse(first) {
        Some(kind) => (kind, w.value("a destination prefix or \"default\"")?),
        None => (RouteType::Unicast, first),
    };
    if is_v6(dst_word) {
        return Ok(Parsed::V6);
    }
    let dst = destination(w, dst_word)?;
    let text = cx.source.text_of(w.text.trim_end());
    let mut b = Builder::new(kind, dst, cx.default_table, w.line_no, text);
    while let Some(kw) = w.next() {
        if let Attr::V6 = route_attr(w, kw, &mut b, cx)? {
            return Ok(Parsed::V6);
        }
    }
    Ok(Parsed::Route(b.finish(cx.infos)))
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
    cx: &mut LineCx<'_>,
) -> Result<Attr, ParseError> {
    match kw {
        "via" => match gateway(w)? {
            Some(gw) => b.gateway = Some(gw),
            None => return Ok(Attr::V6),
        },
        "dev" => b.dev = Some(cx.source.text_of(w.value("a device name")?)),
        "table" => b.table = table(w, cx.names)?,
        "src" => match w.value("a source address")? {
            v if is_v6(v) => return Ok(Attr::V6),
            v => b.info.prefsrc = Some(addr(w, v)?),
        },
        "from" => match w.value("a source prefix")? {
            v if is_v6(v) => return Ok(Attr::V6),
            v => {
                prefix(v).ok_or_else(|| w.error(v, "an IPv4 prefix"))?;
            }
        },
        "error" | "pref" => return Ok(Attr::V6),
        "tos" | "dsfield" => b.tos = tos(w)?,
        "scope" => b.info.scope = scope(w)?,
        "metric" | "priority" => b.info.metric = w.parse("a metric (0-4294967295)")?,
        "nhid" => b.info.nhid = Some(w.parse("a nexthop id")?),
        "proto" | "protocol" => b.info.protocol = Some(cx.source.text_of(w.value("a protocol")?)),
        "expires" | "realms" | "mark" | "ttl-propagate" | "age" | "used" => {
            w.value("a value")?;
        }
        other => match (
            NexthopFlags::from_name(other),
            METRICS.iter().find(|m| **m == other),
        ) {
            (Some(flag), _) => b.flags.insert(flag),
            (None, Some(name)) => b.info.metrics.push(metric(w, name, cx.source)?),
            (None, None) => {
                return Err(w.error(other, "a route attribute (via, dev, table, proto, …)"))
            }
        },
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
fn metric(
    w: &mut Words<'_>,
    name: &'static str,
    source: &SliceSource,
) -> Result<RouteMetric, ParseError> {
    let mut value = w.value("a metric value")?;
    let locked = value == "lock";
    if locked {
        value = w.value("a metric value after lock")?;
    }
    Ok(RouteMetric {
        name,
        value: source.text_of(value),
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
    line: u32,
    kind: RouteType,
    dst: Ipv4Net,
    tos: u8,
    table: u32,
    info: FibInfo,
    gateway: Option<Ipv4Addr>,
    dev: Option<Text>,
    flags: NexthopFlags,
    text: Text,
}

impl Builder {
    fn new(kind: RouteType, dst: Ipv4Net, table: u32, line: usize, text: Text) -> Builder {
        Builder {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            kind,
            dst,
            tos: 0,
            table,
            info: FibInfo::new(kind.default_scope()),
            gateway: None,
            dev: None,
            flags: NexthopFlags::default(),
            text,
        }
    }

    /// The route, with its single nexthop when `via`/`dev` were given (error
    /// types have none), sharing an equal `FibInfo` from `infos`.
    fn finish(self, infos: &mut FibInfos) -> Route {
        let mut info = self.info;
        let has_nh = self.gateway.is_some() || self.dev.is_some();
        if has_nh && !self.kind.is_error() {
            info.nexthops.push(Nexthop {
                gateway: self.gateway,
                dev: self.dev,
                weight: 1,
                flags: self.flags,
            });
        }
        Route {
            line: self.line,
            kind: self.kind,
            dst: self.dst,
            tos: self.tos,
            table: self.table,
            info: infos.share(info),
            text: self.text,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Route {
        let dump = parse("t", line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dump.routes.len(), 1, "{line}");
        dump.routes
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!())
    }

    fn gw(r: &Route) -> Option<Ipv4Addr> {
        r.info.nexthops.first().and_then(|n| n.gateway)
    }

    fn dev(r: &Route) -> Option<&str> {
        r.info.nexthops.first().and_then(|n| n.dev.as_deref())
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn route_lines() {
        // (line, type, dst, table, gateway, dev, metric, scope, prefsrc)
        let cases: &[(&str, RouteType, &str, u32, Option<&str>, Option<&str>, u32, Scope, Option<&str>)] = &[
            ("default via 10.0.0.1 dev eth0", RouteType::Unicast, "0.0.0.0/0", 254, Some("10.0.0.1"), Some("eth0"), 0, Scope::Universe, None),
            ("10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5 metric 100", RouteType::Unicast, "10.0.0.0/24", 254, None, Some("eth0"), 100, Scope::Link, Some("10.0.0.5")),
            ("local 10.0.0.5 dev eth0 table local proto kernel scope host src 10.0.0.5", RouteType::Local, "10.0.0.5/32", 255, None, Some("eth0"), 0, Scope::Host, Some("10.0.0.5")),
            ("broadcast 10.0.0.255 dev eth0  table local  proto kernel  scope link  src 10.0.0.5", RouteType::Broadcast, "10.0.0.255/32", 255, None, Some("eth0"), 0, Scope::Link, Some("10.0.0.5")),
            ("blackhole 131.159.14.0/23 ", RouteType::Blackhole, "131.159.14.0/23", 254, None, None, 0, Scope::Universe, None),
            ("throw 10.0.0.0/8 table 500", RouteType::Throw, "10.0.0.0/8", 500, None, None, 0, Scope::Universe, None),
            ("unreachable 192.0.2.0/24 metric 5", RouteType::Unreachable, "192.0.2.0/24", 254, None, None, 5, Scope::Universe, None),
            ("prohibit 192.0.2.1 table 1836018789", RouteType::Prohibit, "192.0.2.1/32", 1_836_018_789, None, None, 0, Scope::Universe, None),
            ("10.11.64.11 via 10.11.64.11 dev br1  metric 2 onlink ", RouteType::Unicast, "10.11.64.11/32", 254, Some("10.11.64.11"), Some("br1"), 2, Scope::Universe, None),
            ("192.0.2.0/24 nhid 7 via inet 10.0.0.1 dev eth0 proto static mtu lock 1400 advmss 1360 tos 0x10", RouteType::Unicast, "192.0.2.0/24", 254, Some("10.0.0.1"), Some("eth0"), 0, Scope::Universe, None),
            ("default via 8.7.6.5 dev lup  proto dhcp  src 8.7.6.4  metric 1024 expires 300sec", RouteType::Unicast, "0.0.0.0/0", 254, Some("8.7.6.5"), Some("lup"), 1024, Scope::Universe, Some("8.7.6.4")),
            ("10.1.0.0/16 dev wg0 scope 253 linkdown dead pervasive", RouteType::Unicast, "10.1.0.0/16", 254, None, Some("wg0"), 0, Scope::Link, None),
        ];
        for (line, kind, dst, table, g, d, metric, scope, src) in cases {
            let r = one(line);
            assert_eq!(r.kind, *kind, "{line}");
            assert_eq!(r.dst.to_string(), *dst, "{line}");
            assert_eq!(r.table, *table, "{line}");
            assert_eq!(
                gw(&r),
                g.map(|g| g.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)),
                "{line}"
            );
            assert_eq!(dev(&r), *d, "{line}");
            assert_eq!(r.info.metric, *metric, "{line}");
            assert_eq!(r.info.scope, *scope, "{line}");
            assert_eq!(
                r.info.prefsrc.map(|s| s.to_string()).as_deref(),
                *src,
                "{line}"
            );
        }
    }

    #[test]
    fn attributes_are_kept() {
        let r = one(
            "192.0.2.0/24 nhid 7 via 10.0.0.1 dev eth0 proto static mtu lock 1400 tos 0x10 onlink",
        );
        assert_eq!(r.info.nhid, Some(7));
        // JSON keeps one flat object per route, shared attributes included.
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["protocol"], "static");
        assert_eq!(json["nexthops"][0]["flags"][0], "onlink");
        assert_eq!(json["text"], r.text.as_str());
        assert_eq!(r.tos, 0x10);
        assert_eq!(r.info.protocol.as_deref(), Some("static"));
        assert_eq!(
            r.info
                .metrics
                .first()
                .map(|m| (m.name, m.value.as_str(), m.locked)),
            Some(("mtu", "1400", true))
        );
        assert_eq!(
            r.info
                .nexthops
                .first()
                .map(|n| n.flags.names().collect::<Vec<_>>()),
            Some(vec!["onlink"])
        );
    }

    #[test]
    fn multipath_nexthops_join_their_route() {
        let text = "default proto static metric 100\n\tnexthop via 10.0.0.1 dev eth0 weight 1\n\tnexthop via 10.0.1.1 dev eth1 weight 3 dead\n10.0.0.0/24 dev eth0\n";
        let dump = parse("t", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dump.routes.len(), 2);
        let nhs = &dump.routes[0].info.nexthops;
        assert_eq!(nhs.len(), 2);
        assert_eq!(nhs[1].weight, 3);
        assert_eq!(nhs[1].dev.as_deref(), Some("eth1"));
        assert_eq!(nhs[1].flags.names().collect::<Vec<_>>(), vec!["dead"]);
        assert!(nhs[1].flags.contains(NexthopFlags::DEAD));
        assert!(!nhs[0].flags.contains(NexthopFlags::DEAD));
    }

    #[test]
    fn routes_with_equal_attributes_share_their_fib_info() {
        let text = "1.0.0.0/24 via 10.0.0.1 dev eth0 proto bgp metric 20\n\
            2.0.0.0/24 via 10.0.0.2 dev eth0 proto bgp metric 20\n\
            3.0.0.0/24 via 10.0.0.1 dev eth0 proto bgp metric 20\n\
            4.0.0.0/24 via 10.0.0.1 dev eth0 proto bgp metric 30\n\
            default proto static metric 20\n\
            \tnexthop via 10.0.0.1 dev eth0 weight 1\n\
            \tnexthop via 10.0.0.2 dev eth0 weight 1\n\
            5.0.0.0/24 proto static metric 20\n";
        let dump = parse("t", text).unwrap_or_else(|e| panic!("{e}"));
        let info = |i: usize| &dump.routes[i].info;
        assert!(
            Arc::ptr_eq(info(0), info(2)),
            "same gateway, device, proto, metric"
        );
        assert!(!Arc::ptr_eq(info(0), info(1)), "another gateway");
        assert!(!Arc::ptr_eq(info(0), info(3)), "another metric");
        // The multipath route got its nexthops after its first line was
        // shared: the route after it, with that line's attributes, has none.
        assert_eq!(info(4).nexthops.len(), 2);
        assert_eq!(info(5).nexthops.len(), 0);
        assert_eq!(
            info(0).nexthops[0].gateway,
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
    }

    #[test]
    fn ipv6_lines_are_skipped_and_counted() {
        let text = "default via 10.0.0.1 dev eth0\n\
            unreachable ::/96 dev lo  metric 1024  error -101\n\
            2001:db8::1 via fe80::1 dev eth0  metric 0\n    cache  mtu 1492 hoplimit 255\n\
            anycast fe80:: dev eth0 table local proto kernel metric 0 pref medium\n\
            ff00::/8 dev eth0 table local metric 256 pref medium\n\
            unreachable default dev lo  table unspec  proto kernel  metric 4294967295  error -101\n\
            default via fe80::1 dev eth0 proto ra metric 1024 expires 1568sec mtu 1492 hoplimit 255\n";
        let dump = parse("t", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dump.routes.len(), 1);
        assert_eq!(dump.skipped_v6, 7);
    }

    #[test]
    fn per_table_dump_uses_the_given_table() {
        let id = table_id::from_name("DSL");
        let dump = parse_with_table("t", "default via 192.168.179.1 dev eth4  metric 2 \n", id)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dump.routes[0].table, id);
    }

    #[test]
    fn custom_table_names_resolve_stably() {
        let dump = parse(
            "t",
            "default dev tun0 table vpn\n10.0.0.0/8 dev tun0 table vpn\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let id = table_id::from_name("vpn");
        assert!(id > 1 << 31);
        assert_eq!(dump.table_names, vec![("vpn".to_string(), id)]);
        assert!(dump.routes.iter().all(|r| r.table == id));
    }

    #[test]
    fn errors_name_line_column_and_word() {
        // (text, line, column, found)
        let cases = [
            ("10.0.0.300/24 dev eth0", 1, 1, "10.0.0.300/24"),
            (
                "default via 10.0.0.1 dev eth0 frobnicate 3",
                1,
                31,
                "frobnicate",
            ),
            ("ok 1", 1, 1, "ok"),
            ("default via\n", 1, 12, ""),
            (
                "10.0.0.0/8 dev eth0\n10.0.0.0/33 dev eth0",
                2,
                1,
                "10.0.0.0/33",
            ),
            ("  weight 3", 1, 3, "weight"),
            ("10.0.0.0/8 dev eth0 metric x", 1, 28, "x"),
        ];
        for (text, line, column, found) in cases {
            let Err(errs) = parse("route.txt", text) else {
                panic!("{text:?} parsed");
            };
            let e = &errs.0[0];
            assert_eq!(
                (e.line, e.column, e.found.as_str()),
                (line, column, found),
                "{text:?}"
            );
            assert_eq!(e.file, "route.txt");
        }
    }

    #[test]
    fn every_bad_line_is_reported() {
        let Err(errs) = parse("t", "bogus\n10.0.0.0/8 dev eth0\nalso bogus\n") else {
            panic!("parsed");
        };
        assert_eq!(
            errs.0.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
    }
}
