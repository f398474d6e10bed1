//! `ip rule show` dumps.
//!
//! Grammar (iproute2 `ip/iprule.c print_rule`, kernel-semantics.md §6.6), one rule per line:
//!
//! ```text
//! rule     = pref ":" [TAB|SP] ["not"] { selector } action { option }
//! selector = from (all|P) | to P | tos X | dsfield X | dscp X | fwmark V[/M]
//!          | iif D ["[detached]"] | oif D ["[detached]"] | uidrange A-B | ipproto P
//!          | sport A[-B] | dport A[-B] | tun_id N | l3mdev | proto P | realms R
//! action   = lookup (T | "[l3mdev-table]") | table T | goto N ["[unresolved]"] | nop
//!          | blackhole | unreachable | prohibit | failed_policy
//! option   = suppress_prefixlength N | suppress_ifgroup G | proto P | realms R
//! ```
//!
//! Lines with IPv6 prefixes are skipped and counted (they come from `ip -6 rule`).

use crate::model::routing::{FibRule, RuleAction};
use crate::parse::ip_route::{is_v6, parse_u32, parse_u8, prefix, table_ref, Words};
use crate::parse::{ParseError, ParseErrors};

/// What one `ip rule` dump holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleDump {
    /// IPv4-usable rules in dump order (not yet sorted).
    pub rules: Vec<FibRule>,
    /// Custom table names seen (`lookup DSL`), with their synthetic ids.
    pub table_names: Vec<(String, u32)>,
    /// Lines with IPv6 addresses that were skipped.
    pub skipped_v6: usize,
}

/// Parses an `ip rule show` dump into rules (dump order).
pub fn parse(file: &str, text: &str) -> Result<Vec<FibRule>, ParseErrors> {
    parse_dump(file, text).map(|d| d.rules)
}

/// Parses an `ip rule show` dump, keeping table names and the count of skipped v6 lines.
pub fn parse_dump(file: &str, text: &str) -> Result<RuleDump, ParseErrors> {
    let mut dump = RuleDump::default();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut words = Words::new(file, i + 1, line);
        match parse_line(&mut words, &mut dump.table_names) {
            Ok(Line::Blank) => {}
            Ok(Line::V6) => dump.skipped_v6 += 1,
            Ok(Line::Rule(rule)) => dump.rules.push(*rule),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(dump)
    } else {
        Err(ParseErrors(errors))
    }
}

/// One classified line.
enum Line {
    Blank,
    V6,
    Rule(Box<FibRule>),
}

/// `PREF: selectors action`.
fn parse_line(w: &mut Words<'_>, names: &mut Vec<(String, u32)>) -> Result<Line, ParseError> {
    let trimmed = w.text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Line::Blank);
    }
    let Some((pref_text, rest)) = trimmed.split_once(':') else {
        return Err(w.error(trimmed, "\"PREF:\" at the start of a rule"));
    };
    let pref = pref_text
        .trim()
        .parse()
        .map_err(|_| w.error(pref_text, "a rule priority (0-4294967295)"))?;
    let mut rule = FibRule {
        line: u32::try_from(w.line_no).unwrap_or(u32::MAX),
        text: w.text.trim_end().to_string(),
        ..FibRule::lookup(pref, 0)
    };
    let mut rest_words = Words::new_at(w, rest);
    let mut action = None;
    while let Some(kw) = rest_words.next() {
        if let Sel::V6 = rule_word(&mut rest_words, kw, &mut rule, &mut action, names)? {
            return Ok(Line::V6);
        }
    }
    rule.action = action.ok_or_else(|| {
        rest_words.end_error("an action (lookup, goto, nop, blackhole, unreachable, prohibit)")
    })?;
    Ok(Line::Rule(Box::new(rule)))
}

/// Whether the rule is still IPv4.
enum Sel {
    Ok,
    V6,
}

/// One keyword of a rule line.
fn rule_word(
    w: &mut Words<'_>,
    kw: &str,
    rule: &mut FibRule,
    action: &mut Option<RuleAction>,
    names: &mut Vec<(String, u32)>,
) -> Result<Sel, ParseError> {
    match kw {
        "not" => rule.invert = true,
        "from" | "to" => {
            let v = w.value("\"all\" or a prefix")?;
            if is_v6(v) {
                return Ok(Sel::V6);
            }
            let p = selector_prefix(w, v)?;
            if kw == "from" {
                rule.from = p;
            } else {
                rule.to = p;
            }
        }
        "lookup" | "table" => *action = Some(lookup(w, rule, names)?),
        "goto" => *action = Some(RuleAction::Goto(w.parse("a rule priority")?)),
        "nop" => *action = Some(RuleAction::Nop),
        "blackhole" => *action = Some(RuleAction::Blackhole),
        "unreachable" => *action = Some(RuleAction::Unreachable),
        "prohibit" => *action = Some(RuleAction::Prohibit),
        "failed_policy" => *action = Some(RuleAction::FailedPolicy),
        "[unresolved]" => {}
        _ => selector(w, kw, rule)?,
    }
    Ok(Sel::Ok)
}

/// `lookup T`, `lookup [l3mdev-table]`.
fn lookup(
    w: &mut Words<'_>,
    rule: &mut FibRule,
    names: &mut Vec<(String, u32)>,
) -> Result<RuleAction, ParseError> {
    let v = w.value("a table name or number")?;
    if v == "[l3mdev-table]" {
        rule.l3mdev = true;
        return Ok(RuleAction::Lookup(0));
    }
    Ok(RuleAction::Lookup(table_ref(v, names)))
}

/// Selectors and options that do not change the action.
fn selector(w: &mut Words<'_>, kw: &str, rule: &mut FibRule) -> Result<(), ParseError> {
    match kw {
        "tos" | "dsfield" | "dscp" => rule.tos = Some(byte(w, "a TOS value")?),
        "fwmark" => rule.fwmark = Some(fwmark(w)?),
        "iif" => rule.iif = Some(w.value("a device name")?.to_string()),
        "oif" => rule.oif = Some(w.value("a device name")?.to_string()),
        "[detached]" => mark_detached(rule),
        "uidrange" => rule.uidrange = Some(range(w, "a uid range A-B")?),
        "ipproto" => rule.ipproto = Some(ipproto(w)?),
        "sport" => rule.sport = Some(range(w, "a port or port range")?),
        "dport" => rule.dport = Some(range(w, "a port or port range")?),
        "tun_id" => rule.tun_id = Some(w.parse("a tunnel id")?),
        "proto" | "protocol" => rule.protocol = Some(w.value("a protocol")?.to_string()),
        "suppress_prefixlength" => {
            rule.suppress_prefixlength = Some(w.parse("a prefix length")?);
        }
        "suppress_ifgroup" => rule.suppress_ifgroup = Some(w.parse("an interface group")?),
        "realms" | "flowlabel" => {
            w.value("a value")?;
        }
        "l3mdev" => rule.l3mdev = true,
        other => {
            return Err(w.error(
                other,
                "a rule selector or action (from, to, fwmark, iif, lookup, …)",
            ))
        }
    }
    Ok(())
}

/// `[detached]` follows the `iif`/`oif` it applies to.
fn mark_detached(rule: &mut FibRule) {
    if rule.oif.is_some() {
        rule.oif_detached = true;
    } else {
        rule.iif_detached = true;
    }
}

/// `all` or a prefix.
fn selector_prefix(w: &Words<'_>, v: &str) -> Result<Option<ipnet::Ipv4Net>, ParseError> {
    if v == "all" {
        return Ok(None);
    }
    prefix(v)
        .map(|p| Some(p.trunc()))
        .ok_or_else(|| w.error(v, "\"all\" or an IPv4 prefix a.b.c.d[/len]"))
}

/// A byte in hex or decimal.
fn byte(w: &mut Words<'_>, expected: &str) -> Result<u8, ParseError> {
    let v = w.value(expected)?;
    parse_u8(v).ok_or_else(|| w.error(v, expected))
}

/// `fwmark V[/M]`: mask 0xffffffff when absent (`fib_nl2rule`).
fn fwmark(w: &mut Words<'_>) -> Result<(u32, u32), ParseError> {
    let v = w.value("a mark 0xV[/0xM]")?;
    let (mark, mask) = match v.split_once('/') {
        Some((m, k)) => (parse_u32(m), parse_u32(k)),
        None => (parse_u32(v), Some(u32::MAX)),
    };
    match (mark, mask) {
        (Some(m), Some(k)) => Ok((m, k)),
        _ => Err(w.error(v, "a mark 0xV[/0xM]")),
    }
}

/// `A[-B]` (a single number is the range A-A).
fn range<T: std::str::FromStr + Copy>(
    w: &mut Words<'_>,
    expected: &str,
) -> Result<(T, T), ParseError> {
    let v = w.value(expected)?;
    let parsed = match v.split_once('-') {
        Some((a, b)) => a.parse().ok().zip(b.parse().ok()),
        None => v.parse().ok().map(|a| (a, a)),
    };
    parsed.ok_or_else(|| w.error(v, expected))
}

/// Protocol names `ip rule` prints for `ipproto` (`inet_proto_n2a`), with their numbers.
const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("sctp", 132),
    ("udplite", 136),
];

/// `ipproto P`: a protocol name, `ipproto-N`, or a number.
fn ipproto(w: &mut Words<'_>) -> Result<u8, ParseError> {
    let v = w.value("a protocol")?;
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, p)| *p)
        .or_else(|| v.strip_prefix("ipproto-").unwrap_or(v).parse().ok())
        .ok_or_else(|| w.error(v, "a protocol name or number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::routing::table_id;

    fn one(line: &str) -> FibRule {
        let rules = parse("t", line).unwrap_or_else(|e| panic!("{e}"));
        rules
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no rule in {line:?}"))
    }

    #[test]
    fn actions() {
        let cases = [
            ("0:\tfrom all lookup local", RuleAction::Lookup(255)),
            ("32766:  from all lookup main ", RuleAction::Lookup(254)),
            ("32767:\tfrom all table default", RuleAction::Lookup(253)),
            (
                "5209:   not from all fwmark 0x6d6f6c65 lookup 1836018789",
                RuleAction::Lookup(1_836_018_789),
            ),
            (
                "100:\tfrom all fwmark 0x1 lookup DSL",
                RuleAction::Lookup(table_id::from_name("DSL")),
            ),
            (
                "5250:\tfrom all fwmark 0x80000/0xff0000 unreachable",
                RuleAction::Unreachable,
            ),
            ("10:\tfrom 10.0.0.0/8 blackhole", RuleAction::Blackhole),
            ("11:\tfrom all prohibit", RuleAction::Prohibit),
            ("12:\tfrom all goto 100 [unresolved]", RuleAction::Goto(100)),
            ("13:\tfrom all nop", RuleAction::Nop),
            (
                "2000000001:     from all iif lo failed_policy",
                RuleAction::FailedPolicy,
            ),
        ];
        for (line, action) in cases {
            assert_eq!(one(line).action, action, "{line}");
        }
    }

    #[test]
    fn selectors() {
        let r = one("100:\tnot from 10.0.0.0/8 to 192.0.2.1 tos 0x10 fwmark 0x80000/0xff0000 iif eth0 [detached] oif vrf0 uidrange 1000-2000 ipproto tcp sport 1000-2000 dport 443 tun_id 5 lookup 100 suppress_prefixlength 0 suppress_ifgroup 3 proto static");
        assert!(r.invert);
        assert_eq!(r.from.map(|p| p.to_string()).as_deref(), Some("10.0.0.0/8"));
        assert_eq!(r.to.map(|p| p.to_string()).as_deref(), Some("192.0.2.1/32"));
        assert_eq!(r.tos, Some(0x10));
        assert_eq!(r.fwmark, Some((0x80000, 0xff0000)));
        assert_eq!((r.iif.as_deref(), r.iif_detached), (Some("eth0"), true));
        assert_eq!((r.oif.as_deref(), r.oif_detached), (Some("vrf0"), false));
        assert_eq!(r.uidrange, Some((1000, 2000)));
        assert_eq!(r.ipproto, Some(6));
        assert_eq!(r.sport, Some((1000, 2000)));
        assert_eq!(r.dport, Some((443, 443)));
        assert_eq!(r.tun_id, Some(5));
        assert_eq!(r.suppress_prefixlength, Some(0));
        assert_eq!(r.suppress_ifgroup, Some(3));
        assert_eq!(r.protocol.as_deref(), Some("static"));
        assert_eq!(r.pref, 100);
    }

    #[test]
    fn fwmark_without_mask_is_exact() {
        assert_eq!(
            one("1: from all fwmark 0x3 lookup 3").fwmark,
            Some((3, u32::MAX))
        );
    }

    #[test]
    fn l3mdev_lookup() {
        let r = one("1000:\tfrom all lookup [l3mdev-table]");
        assert!(r.l3mdev);
    }

    #[test]
    fn v6_rules_are_skipped() {
        let d = parse_dump(
            "t",
            "0:\tfrom all lookup local \n16383:\tfrom 2a00:4700:0:6::/64 lookup 500 \n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.rules.len(), d.skipped_v6), (1, 1));
    }

    #[test]
    fn table_names_are_recorded() {
        let d = parse_dump(
            "t",
            "1: from all fwmark 0x1 lookup DSL\n2: from all lookup DSL\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            d.table_names,
            vec![("DSL".to_string(), table_id::from_name("DSL"))]
        );
    }

    #[test]
    fn errors() {
        // (text, column, found)
        let cases = [
            ("x:\tfrom all lookup main", 1, "x"),
            ("1:\tfrom 10.0.0.0/40 lookup main", 9, "10.0.0.0/40"),
            ("1:\tfrom all wibble main", 13, "wibble"),
            ("1:\tfrom all fwmark 0xzz lookup 1", 20, "0xzz"),
            ("1:\tfrom all", 12, ""),
            ("no colon here", 1, "no colon here"),
        ];
        for (text, column, found) in cases {
            let Err(errs) = parse("rule.txt", text) else {
                panic!("{text:?} parsed");
            };
            let e = &errs.0[0];
            assert_eq!((e.column, e.found.as_str()), (column, found), "{text:?}");
        }
    }
}
