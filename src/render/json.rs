//! JSON for scripts and CI.
//!
//! The wire types below are separate from the model on purpose: the model may
//! change shape, the wire format changes only with `nftrace_json`. The format
//! is documented in `docs/json.md`; keep the two in step. No ANSI ever.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::model::packet::{tcp_flag, Packet, Transport};
use crate::trace::event::{
    Assumption, Disposition, Event, Hook, NatKind, RouteEvent, RuleRef, Trace, Verdict,
};

/// Version of the wire format, written as `"nftrace_json"`. Bumped when a field
/// changes meaning or disappears; new fields and event types do not bump it.
pub const VERSION: u32 = 1;

/// Renders `trace` as pretty-printed JSON with a trailing newline.
pub fn render(trace: &Trace) -> String {
    let mut out = serde_json::to_string_pretty(&document(trace))
        .unwrap_or_else(|e| unreachable!("wire types always serialize: {e}"));
    out.push('\n');
    out
}

/// The wire document for `trace`, for callers that embed several traces in
/// one JSON value (e.g. an array of probes).
pub fn document(trace: &Trace) -> Document<'_> {
    let verdicts = decided_verdicts(&trace.events);
    Document {
        nftrace_json: VERSION,
        verdict: trace.verdict.as_str(),
        reject_with: reject_with(&trace.verdict),
        disposition: WireDisposition::new(&trace.disposition, &trace.events),
        initial: WirePacket::new(&trace.initial, trace.iif.as_deref(), None),
        r#final: WirePacket::new(&trace.final_packet, trace.iif.as_deref(), trace.oif()),
        events: trace
            .events
            .iter()
            .zip(verdicts)
            .map(|(e, v)| WireEvent::new(e, v))
            .collect(),
        assumptions: trace.assumptions.iter().map(WireAssumption::new).collect(),
        connection: trace.connection.as_ref().map(WireConnection::new),
    }
}

/// For each event, the verdict its table reached at that entry, for `Rule`
/// events that ended their table; `None` elsewhere.
///
/// The evaluator emits `TableVerdict` only for verdicts other than ACCEPT, so an
/// ACCEPT is recovered from the stream's shape: a table walk (`ipt_do_table`)
/// always ends at its last logged entry, and the next walk starts at a new
/// `Hook` or at a `Rule` of another table or hook. Shared with the human
/// renderer.
pub(crate) fn decided_verdicts(events: &[Event]) -> Vec<Option<Verdict>> {
    (0..events.len())
        .map(|i| match &events[i] {
            Event::Rule { hook, rule, .. } => decided_at(&events[i + 1..], *hook, rule),
            _ => None,
        })
        .collect()
}

/// What the entry `rule` (at `hook`) decided, looking at the events after it.
fn decided_at(rest: &[Event], hook: Hook, rule: &RuleRef) -> Option<Verdict> {
    for e in rest {
        match e {
            Event::TableVerdict {
                rule: r, verdict, ..
            } if r == rule => return Some(verdict.clone()),
            Event::Rule {
                hook: h, rule: r, ..
            } => {
                let same_walk = *h == hook && r.table == rule.table;
                return (!same_walk).then_some(Verdict::Accept);
            }
            Event::Hook { .. } => return Some(Verdict::Accept),
            Event::Jump { .. } | Event::Return { .. } => return None,
            _ => {}
        }
    }
    Some(Verdict::Accept)
}

fn reject_with(v: &Verdict) -> Option<&str> {
    match v {
        Verdict::Reject { with } => Some(with),
        Verdict::Accept | Verdict::Drop | Verdict::Queue => None,
    }
}

/// The top-level JSON object. See `docs/json.md`.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    nftrace_json: u32,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reject_with: Option<&'a str>,
    disposition: WireDisposition<'a>,
    initial: WirePacket<'a>,
    r#final: WirePacket<'a>,
    events: Vec<WireEvent<'a>>,
    assumptions: Vec<WireAssumption<'a>>,
    /// The connection `conntrack -L` would list after the packet, when confirmed.
    connection: Option<WireConnection>,
}

/// A connection's tuples as `conntrack -L` prints them.
#[derive(Debug, Serialize)]
struct WireConnection {
    original: String,
    reply: String,
    mark: u32,
    src_nat: bool,
    dst_nat: bool,
}

impl WireConnection {
    fn new(c: &crate::model::conntrack::Connection) -> Self {
        WireConnection {
            original: c.orig.to_string(),
            reply: c.reply.to_string(),
            mark: c.mark,
            src_nat: c.src_nat,
            dst_nat: c.dst_nat,
        }
    }
}

/// A rule reference: `table:chain:rulenum`, plus the dump line when written.
#[derive(Debug, Serialize)]
struct WireRule<'a> {
    table: &'static str,
    chain: &'a str,
    rulenum: u32,
    line: Option<u32>,
}

impl<'a> WireRule<'a> {
    fn new(r: &'a RuleRef) -> Self {
        let RuleRef {
            table,
            chain,
            rulenum,
            line,
        } = r;
        WireRule {
            table: table.as_str(),
            chain,
            rulenum: *rulenum,
            line: *line,
        }
    }
}

/// A packet as scripts want it: flat, with named protocol and plain numbers.
#[derive(Debug, Serialize)]
struct WirePacket<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: String,
    proto_number: u8,
    sport: Option<u16>,
    dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_flags: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_code: Option<u8>,
    iif: Option<&'a str>,
    oif: Option<&'a str>,
    mark: u32,
    ttl: u8,
    tos: u8,
    len: u16,
}

impl<'a> WirePacket<'a> {
    fn new(p: &Packet, iif: Option<&'a str>, oif: Option<&'a str>) -> Self {
        let (sport, dport) = p.transport.ports().unzip();
        let (icmp_type, icmp_code) = match p.transport {
            Transport::Icmp {
                icmp_type, code, ..
            } => (Some(icmp_type), Some(code)),
            _ => (None, None),
        };
        WirePacket {
            src: p.src,
            dst: p.dst,
            proto: proto_name(p.proto()),
            proto_number: p.proto(),
            sport,
            dport,
            tcp_flags: tcp_flags(&p.transport),
            icmp_type,
            icmp_code,
            iif,
            oif,
            mark: p.mark,
            ttl: p.ttl,
            tos: p.tos,
            len: p.len,
        }
    }
}

/// `tcp`, `udp`, `icmp`, or the number in decimal (as `iptables -p` accepts it).
fn proto_name(number: u8) -> String {
    use crate::model::packet::proto;
    match number {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        proto::ICMP => "icmp".into(),
        n => n.to_string(),
    }
}

/// The set TCP flags by name, in iptables' order; `None` for other protocols.
fn tcp_flags(t: &Transport) -> Option<Vec<&'static str>> {
    let Transport::Tcp { flags, .. } = t else {
        return None;
    };
    let names = tcp_flag::NAMES.iter().filter(|(_, bit)| flags & bit != 0);
    Some(names.map(|(name, _)| *name).collect())
}

/// Where the packet ended, tagged by `kind`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireDisposition<'a> {
    Delivered,
    Sent {
        oif: &'a str,
        next_hop: Ipv4Addr,
    },
    Dropped {
        reason: &'a str,
        rule: Option<WireRule<'a>>,
        rule_text: Option<&'a str>,
    },
    Queued {
        rule: WireRule<'a>,
        rule_text: Option<&'a str>,
    },
}

impl<'a> WireDisposition<'a> {
    fn new(d: &'a Disposition, events: &'a [Event]) -> Self {
        match d {
            Disposition::Delivered => WireDisposition::Delivered,
            Disposition::Sent { oif, next_hop } => WireDisposition::Sent {
                oif,
                next_hop: *next_hop,
            },
            Disposition::Dropped { reason, rule } => WireDisposition::Dropped {
                reason,
                rule: rule.as_ref().map(WireRule::new),
                rule_text: rule.as_ref().and_then(|r| rule_text(events, r)),
            },
            Disposition::Queued { rule } => WireDisposition::Queued {
                rule: WireRule::new(rule),
                rule_text: rule_text(events, rule),
            },
        }
    }
}

/// The dump text of `rule`, taken from the `Rule` event that logged it.
pub(crate) fn rule_text<'a>(events: &'a [Event], rule: &RuleRef) -> Option<&'a str> {
    events.iter().rev().find_map(|e| match e {
        Event::Rule {
            rule: r,
            text: Some(text),
            ..
        } if r == rule => Some(text.as_str()),
        _ => None,
    })
}

/// An assumption: `key`, `text`, and the rule that needed it.
#[derive(Debug, Serialize)]
struct WireAssumption<'a> {
    key: &'a str,
    text: &'a str,
    rule: Option<WireRule<'a>>,
}

impl<'a> WireAssumption<'a> {
    fn new(a: &'a Assumption) -> Self {
        let Assumption { key, text, rule } = a;
        WireAssumption {
            key,
            text,
            rule: rule.as_ref().map(WireRule::new),
        }
    }
}

/// One step of the walk, tagged by `type`. Consumers must ignore types and
/// fields they do not know: new ones are added without a version bump.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent<'a> {
    Hook {
        hook: &'static str,
        #[serde(rename = "in")]
        in_dev: Option<&'a str>,
        out: Option<&'a str>,
    },
    Rule {
        hook: &'static str,
        table: &'static str,
        chain: &'a str,
        rulenum: u32,
        line: Option<u32>,
        trace_type: &'static str,
        rule: Option<&'a str>,
        depth: usize,
        nf_trace: bool,
        verdict: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reject_with: Option<String>,
        packet: WirePacket<'a>,
    },
    Jump {
        chain: &'a str,
        goto: bool,
        depth: usize,
    },
    Return {
        to_chain: &'a str,
        depth: usize,
    },
    Mark {
        old: u32,
        new: u32,
        rule: WireRule<'a>,
    },
    Mangle {
        field: &'static str,
        old: u32,
        new: u32,
        rule: WireRule<'a>,
    },
    Connmark {
        old: u32,
        new: u32,
        rule: WireRule<'a>,
    },
    Conntrack {
        state: &'a str,
        reason: &'a str,
    },
    Nat {
        kind: &'static str,
        target: &'a str,
        old_addr: Ipv4Addr,
        old_port: Option<u16>,
        new_addr: Ipv4Addr,
        new_port: Option<u16>,
        rule: Option<WireRule<'a>>,
        reason: &'a str,
    },
    Route {
        kind: &'static str,
        decision: &'a str,
        rule: Option<&'a str>,
        route: Option<&'a str>,
        steps: &'a [String],
        oif: Option<&'a str>,
    },
    TableVerdict {
        hook: &'static str,
        table: &'static str,
        verdict: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reject_with: Option<&'a str>,
        rule: WireRule<'a>,
    },
    Generated {
        what: &'a str,
        to: Ipv4Addr,
    },
    Note {
        text: &'a str,
    },
    Ipvs {
        hook: &'static str,
        summary: &'a str,
        detail: &'a [String],
    },
    Assumption(WireAssumption<'a>),
}

impl<'a> WireEvent<'a> {
    /// `decided` is what the entry decided, for `Rule` events (see [`decided_verdicts`]).
    fn new(e: &'a Event, decided: Option<Verdict>) -> Self {
        match e {
            Event::Hook {
                hook,
                in_dev,
                out_dev,
            } => WireEvent::Hook {
                hook: hook.chain_name(),
                in_dev: in_dev.as_deref(),
                out: out_dev.as_deref(),
            },
            Event::Rule { .. } => rule_event(e, decided),
            Event::Jump { chain, goto, depth } => WireEvent::Jump {
                chain,
                goto: *goto,
                depth: *depth,
            },
            Event::Return { to_chain, depth } => WireEvent::Return {
                to_chain,
                depth: *depth,
            },
            Event::Mark { old, new, rule } => WireEvent::Mark {
                old: *old,
                new: *new,
                rule: WireRule::new(rule),
            },
            Event::Mangle {
                field,
                old,
                new,
                rule,
            } => WireEvent::Mangle {
                field,
                old: *old,
                new: *new,
                rule: WireRule::new(rule),
            },
            Event::Connmark { old, new, rule } => WireEvent::Connmark {
                old: *old,
                new: *new,
                rule: WireRule::new(rule),
            },
            Event::Conntrack { state, reason } => WireEvent::Conntrack { state, reason },
            Event::Nat { .. } => nat_event(e),
            Event::Route(r) => route_event(r),
            Event::TableVerdict {
                hook,
                table,
                verdict,
                rule,
            } => WireEvent::TableVerdict {
                hook: hook.chain_name(),
                table: table.as_str(),
                verdict: verdict.as_str(),
                reject_with: reject_with(verdict),
                rule: WireRule::new(rule),
            },
            Event::Generated { what, to } => WireEvent::Generated { what, to: *to },
            Event::Note { text } => WireEvent::Note { text },
            Event::Ipvs {
                hook,
                summary,
                detail,
            } => WireEvent::Ipvs {
                hook: hook.chain_name(),
                summary,
                detail,
            },
            Event::Assumption(a) => WireEvent::Assumption(WireAssumption::new(a)),
        }
    }
}

fn rule_event(e: &Event, decided: Option<Verdict>) -> WireEvent<'_> {
    let Event::Rule {
        hook,
        rule,
        trace_type,
        text,
        packet,
        in_dev,
        out_dev,
        depth,
        nf_trace,
    } = e
    else {
        unreachable!("rule_event called with {e:?}")
    };
    WireEvent::Rule {
        hook: hook.chain_name(),
        table: rule.table.as_str(),
        chain: &rule.chain,
        rulenum: rule.rulenum,
        line: rule.line,
        trace_type: trace_type.as_str(),
        rule: text.as_deref(),
        depth: *depth,
        nf_trace: *nf_trace,
        verdict: decided.as_ref().map(Verdict::as_str),
        reject_with: decided.as_ref().and_then(reject_with).map(str::to_string),
        packet: WirePacket::new(packet, in_dev.as_deref(), out_dev.as_deref()),
    }
}

fn nat_event(e: &Event) -> WireEvent<'_> {
    let Event::Nat {
        kind,
        target,
        old_addr,
        old_port,
        new_addr,
        new_port,
        rule,
        reason,
    } = e
    else {
        unreachable!("nat_event called with {e:?}")
    };
    WireEvent::Nat {
        kind: nat_kind(*kind),
        target,
        old_addr: *old_addr,
        old_port: *old_port,
        new_addr: *new_addr,
        new_port: *new_port,
        rule: rule.as_ref().map(WireRule::new),
        reason,
    }
}

/// `snat` or `dnat`.
fn nat_kind(kind: NatKind) -> &'static str {
    match kind {
        NatKind::Snat => "snat",
        NatKind::Dnat => "dnat",
    }
}

fn route_event(r: &RouteEvent) -> WireEvent<'_> {
    let RouteEvent {
        kind,
        decision,
        rule,
        route,
        steps,
        oif,
    } = r;
    WireEvent::Route {
        kind,
        decision,
        rule: rule.as_deref(),
        route: route.as_deref(),
        steps,
        oif: oif.as_deref(),
    }
}

/// Hand-built traces shared by the renderers' tests.
#[cfg(test)]
pub(crate) mod samples {
    use std::net::Ipv4Addr;

    use crate::model::packet::{tcp_flag, Packet, Transport};
    use crate::model::ruleset::TableName;
    use crate::trace::event::{
        Assumption, Disposition, Event, Hook, NatKind, RouteEvent, RuleRef, Trace, TraceType,
        Verdict,
    };

    /// `tcp 183.62.15.118:22449 → 61.146.164.120:10174 [SYN] ttl 64`.
    pub(crate) fn syn() -> Packet {
        Packet {
            src: Ipv4Addr::new(183, 62, 15, 118),
            dst: Ipv4Addr::new(61, 146, 164, 120),
            transport: Transport::Tcp {
                sport: 22449,
                dport: 10174,
                flags: tcp_flag::SYN,
            },
            len: 60,
            ttl: 64,
            tos: 0,
            id: 1,
            df: true,
            fragment: false,
            mark: 0,
            mac_src: None,
            payload: None,
            icmp_inner: None,
        }
    }

    pub(crate) fn rule_ref(
        table: TableName,
        chain: &str,
        rulenum: u32,
        line: Option<u32>,
    ) -> RuleRef {
        RuleRef {
            table,
            chain: chain.into(),
            rulenum,
            line,
        }
    }

    /// A `Rule` event at `hook`, depth `depth`, with `text` (None for a policy).
    pub(crate) fn rule(
        hook: Hook,
        r: &RuleRef,
        text: Option<&str>,
        depth: usize,
        pkt: &Packet,
    ) -> Event {
        let trace_type = match (text, depth) {
            (Some(_), _) => TraceType::Rule,
            (None, 0) => TraceType::Policy,
            (None, _) => TraceType::Return,
        };
        Event::Rule {
            hook,
            rule: r.clone(),
            trace_type,
            text: text.map(str::to_string),
            packet: pkt.clone(),
            in_dev: Some("eth2".into()),
            out_dev: None,
            depth,
            nf_trace: false,
        }
    }

    fn hook(hook: Hook, out: Option<&str>) -> Event {
        Event::Hook {
            hook,
            in_dev: Some("eth2".into()),
            out_dev: out.map(str::to_string),
        }
    }

    /// The mark rule's text.
    pub(crate) const MARK_RULE: &str =
        "-A FIREWALL -d 61.146.164.120/32 -p tcp -m tcp --dport 10174 -j MARK --set-xmark 0x2/0xffffffff";
    /// The DNAT rule's text.
    pub(crate) const DNAT_RULE: &str =
        "-A PREROUTING -d 61.146.164.120/32 -p tcp -m tcp --dport 10174 -j DNAT --to-destination 172.17.21.105:22";
    /// The FORWARD rule that accepts.
    pub(crate) const ACCEPT_RULE: &str = "-A FORWARD -m mark --mark 0x2 -j ACCEPT";
    /// The rule that drops in [`dropped`].
    pub(crate) const DROP_RULE: &str = "-A FIREWALL -d 61.146.164.120/32 -j DROP";

    fn assumption(r: Option<RuleRef>) -> Assumption {
        Assumption {
            key: "rpfilter".into(),
            text: "source taken as passing the reverse-path check".into(),
            rule: r,
        }
    }

    /// PREROUTING: mangle jumps to FIREWALL, which marks; the packet goes back.
    fn prerouting_mangle(p: &Packet, marked: &Packet) -> Vec<Event> {
        let jump_rule = rule_ref(TableName::Mangle, "PREROUTING", 1, Some(10));
        let mark_rule = rule_ref(TableName::Mangle, "FIREWALL", 2, Some(13));
        vec![
            hook(Hook::PreRouting, None),
            rule(
                Hook::PreRouting,
                &rule_ref(TableName::Raw, "PREROUTING", 1, None),
                None,
                0,
                p,
            ),
            Event::Conntrack {
                state: "NEW".into(),
                reason: "first packet of the connection".into(),
            },
            rule(
                Hook::PreRouting,
                &jump_rule,
                Some("-A PREROUTING -i eth2 -j FIREWALL"),
                0,
                p,
            ),
            Event::Jump {
                chain: "FIREWALL".into(),
                goto: false,
                depth: 1,
            },
            rule(Hook::PreRouting, &mark_rule, Some(MARK_RULE), 1, p),
            Event::Mark {
                old: 0,
                new: 2,
                rule: mark_rule.clone(),
            },
            rule(
                Hook::PreRouting,
                &rule_ref(TableName::Mangle, "FIREWALL", 4, None),
                None,
                1,
                marked,
            ),
            Event::Return {
                to_chain: "PREROUTING".into(),
                depth: 0,
            },
            rule(
                Hook::PreRouting,
                &rule_ref(TableName::Mangle, "PREROUTING", 2, None),
                None,
                0,
                marked,
            ),
        ]
    }

    /// A port forward: marked, DNATed, routed, accepted in FORWARD, sent.
    pub(crate) fn forwarded() -> Trace {
        let p = syn();
        let marked = Packet { mark: 2, ..syn() };
        let natted = Packet {
            dst: Ipv4Addr::new(172, 17, 21, 105),
            transport: Transport::Tcp {
                sport: 22449,
                dport: 22,
                flags: tcp_flag::SYN,
            },
            ..marked.clone()
        };
        let dnat = rule_ref(TableName::Nat, "PREROUTING", 1, Some(30));
        let accept = rule_ref(TableName::Filter, "FORWARD", 3, Some(45));
        let mut events = prerouting_mangle(&p, &marked);
        events.extend([
            rule(Hook::PreRouting, &dnat, Some(DNAT_RULE), 0, &marked),
            Event::Nat {
                kind: NatKind::Dnat,
                target: "DNAT".into(),
                old_addr: p.dst,
                old_port: Some(10174),
                new_addr: natted.dst,
                new_port: Some(22),
                rule: Some(dnat.clone()),
                reason: "--to-destination 172.17.21.105:22".into(),
            },
            Event::Route(RouteEvent {
                kind: "input",
                decision: "forward via 172.17.21.105 dev eth1".into(),
                rule: Some("32766:\tfrom all lookup main".into()),
                route: Some(
                    "172.17.21.0/24 dev eth1 proto kernel scope link src 172.17.21.1".into(),
                ),
                steps: vec!["0: from all lookup local: no match".into()],
                oif: Some("eth1".into()),
            }),
            hook(Hook::Forward, Some("eth1")),
            Event::Assumption(assumption(Some(accept.clone()))),
            rule(
                Hook::Forward,
                &accept,
                Some(ACCEPT_RULE),
                0,
                &Packet {
                    ttl: 63,
                    ..natted.clone()
                },
            ),
            hook(Hook::PostRouting, Some("eth1")),
            rule(
                Hook::PostRouting,
                &rule_ref(TableName::Nat, "POSTROUTING", 1, None),
                None,
                0,
                &natted,
            ),
        ]);
        Trace {
            initial: p,
            final_packet: Packet { ttl: 63, ..natted },
            iif: Some("eth2".into()),
            verdict: Verdict::Accept,
            disposition: Disposition::Sent {
                oif: "eth1".into(),
                next_hop: Ipv4Addr::new(172, 17, 21, 105),
            },
            events,
            assumptions: vec![assumption(Some(accept))],
            connection: None,
            ipvs_conn: None,
            evaluations: Vec::new(),
        }
    }

    /// The same packet dropped in mangle:FIREWALL.
    pub(crate) fn dropped() -> Trace {
        let p = syn();
        let drop = rule_ref(TableName::Mangle, "FIREWALL", 5, Some(12));
        let events = vec![
            hook(Hook::PreRouting, None),
            rule(
                Hook::PreRouting,
                &rule_ref(TableName::Mangle, "PREROUTING", 1, Some(10)),
                Some("-A PREROUTING -i eth2 -j FIREWALL"),
                0,
                &p,
            ),
            Event::Jump {
                chain: "FIREWALL".into(),
                goto: false,
                depth: 1,
            },
            rule(Hook::PreRouting, &drop, Some(DROP_RULE), 1, &p),
            Event::TableVerdict {
                hook: Hook::PreRouting,
                table: TableName::Mangle,
                verdict: Verdict::Drop,
                rule: drop.clone(),
            },
        ];
        Trace {
            initial: p.clone(),
            final_packet: p,
            iif: Some("eth2".into()),
            verdict: Verdict::Drop,
            disposition: Disposition::Dropped {
                reason: "DROP by mangle:FIREWALL:5".into(),
                rule: Some(drop),
            },
            events,
            assumptions: vec![],
            connection: None,
            ipvs_conn: None,
            evaluations: Vec::new(),
        }
    }
}
#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::samples::{self, rule, rule_ref, syn};
    use super::*;
    use crate::model::ruleset::TableName;

    fn parsed(trace: &Trace) -> Value {
        let text = render(trace);
        assert!(text.ends_with("}\n"), "pretty JSON with a trailing newline");
        serde_json::from_str(&text).expect("valid JSON")
    }

    /// The `Rule` events of a document, in order.
    fn rules(doc: &Value) -> Vec<&Value> {
        let events = doc["events"].as_array().expect("events array");
        events.iter().filter(|e| e["type"] == "rule").collect()
    }

    #[test]
    fn version_and_verdict() {
        let doc = parsed(&samples::forwarded());
        assert_eq!(doc["nftrace_json"], 1);
        assert_eq!(doc["verdict"], "ACCEPT");
        assert!(doc.get("reject_with").is_none());
    }

    #[test]
    fn sent_disposition_names_oif_and_next_hop() {
        let doc = parsed(&samples::forwarded());
        let d = &doc["disposition"];
        assert_eq!(d["kind"], "sent");
        assert_eq!(d["oif"], "eth1");
        assert_eq!(d["next_hop"], "172.17.21.105");
    }

    #[test]
    fn initial_packet_fields() {
        let doc = parsed(&samples::forwarded());
        let p = &doc["initial"];
        assert_eq!(p["src"], "183.62.15.118");
        assert_eq!(p["dst"], "61.146.164.120");
        assert_eq!(p["proto"], "tcp");
        assert_eq!(p["proto_number"], 6);
        assert_eq!(p["sport"], 22449);
        assert_eq!(p["dport"], 10174);
        assert_eq!(p["tcp_flags"], serde_json::json!(["SYN"]));
        assert_eq!(p["iif"], "eth2");
        assert_eq!(p["oif"], Value::Null);
        assert_eq!(p["mark"], 0);
        assert_eq!(p["ttl"], 64);
    }

    #[test]
    fn final_packet_after_nat_mark_and_forwarding() {
        let doc = parsed(&samples::forwarded());
        let p = &doc["final"];
        assert_eq!(p["dst"], "172.17.21.105");
        assert_eq!(p["dport"], 22);
        assert_eq!(p["mark"], 2);
        assert_eq!(p["ttl"], 63);
        assert_eq!(p["oif"], "eth1");
    }

    #[test]
    fn every_event_is_present_with_a_type() {
        let trace = samples::forwarded();
        let doc = parsed(&trace);
        let events = doc["events"].as_array().expect("events array");
        assert_eq!(events.len(), trace.events.len());
        assert!(events.iter().all(|e| e["type"].is_string()));
    }

    #[test]
    fn rule_event_fields() {
        let doc = parsed(&samples::forwarded());
        let mark = rules(&doc)
            .into_iter()
            .find(|r| r["chain"] == "FIREWALL" && r["rulenum"] == 2)
            .expect("the MARK rule");
        assert_eq!(mark["hook"], "PREROUTING");
        assert_eq!(mark["table"], "mangle");
        assert_eq!(mark["trace_type"], "rule");
        assert_eq!(mark["rule"], samples::MARK_RULE);
        assert_eq!(mark["line"], 13);
        assert_eq!(mark["depth"], 1);
        assert_eq!(mark["verdict"], Value::Null, "MARK continues");
        assert_eq!(mark["packet"]["mark"], 0, "packet before the target ran");
    }

    #[test]
    fn policy_entry_has_null_text_and_its_verdict() {
        let doc = parsed(&samples::forwarded());
        let raw = rules(&doc)[0];
        assert_eq!(
            (&raw["table"], &raw["trace_type"]),
            (&"raw".into(), &"policy".into())
        );
        assert_eq!(raw["rule"], Value::Null);
        assert_eq!(raw["verdict"], "ACCEPT");
    }

    #[test]
    fn accepting_rule_carries_accept() {
        let doc = parsed(&samples::forwarded());
        let fwd = rules(&doc)
            .into_iter()
            .find(|r| r["hook"] == "FORWARD")
            .expect("FORWARD rule");
        assert_eq!(fwd["rule"], samples::ACCEPT_RULE);
        assert_eq!(fwd["verdict"], "ACCEPT");
    }

    #[test]
    fn dropped_names_the_rule() {
        let doc = parsed(&samples::dropped());
        assert_eq!(doc["verdict"], "DROP");
        let d = &doc["disposition"];
        assert_eq!(d["kind"], "dropped");
        assert_eq!(d["reason"], "DROP by mangle:FIREWALL:5");
        assert_eq!(d["rule"]["table"], "mangle");
        assert_eq!(d["rule"]["chain"], "FIREWALL");
        assert_eq!(d["rule"]["rulenum"], 5);
        assert_eq!(d["rule"]["line"], 12);
        assert_eq!(d["rule_text"], samples::DROP_RULE);
    }

    #[test]
    fn deciding_rule_event_has_drop_verdict() {
        let doc = parsed(&samples::dropped());
        let last = *rules(&doc).last().expect("rules");
        assert_eq!(last["verdict"], "DROP");
        let tv = doc["events"]
            .as_array()
            .expect("events")
            .last()
            .expect("event")
            .clone();
        assert_eq!(tv["type"], "table_verdict");
        assert_eq!(tv["verdict"], "DROP");
        assert_eq!(tv["rule"]["rulenum"], 5);
    }

    #[test]
    fn every_assumption_is_listed() {
        let trace = samples::forwarded();
        let doc = parsed(&trace);
        let list = doc["assumptions"].as_array().expect("assumptions");
        assert_eq!(list.len(), trace.assumptions.len());
        assert_eq!(list[0]["key"], "rpfilter");
        assert_eq!(list[0]["text"], trace.assumptions[0].text);
        assert_eq!(list[0]["rule"]["chain"], "FORWARD");
        let inline = doc["events"].as_array().expect("events");
        assert!(inline
            .iter()
            .any(|e| e["type"] == "assumption" && e["key"] == "rpfilter"));
    }

    #[test]
    fn reject_reports_its_reply() {
        let mut trace = samples::dropped();
        trace.verdict = Verdict::Reject {
            with: "tcp-reset".into(),
        };
        let doc = parsed(&trace);
        assert_eq!(doc["verdict"], "REJECT");
        assert_eq!(doc["reject_with"], "tcp-reset");
    }

    #[test]
    fn icmp_packet_has_type_and_no_ports() {
        let mut trace = samples::dropped();
        trace.initial.transport = Transport::Icmp {
            icmp_type: 8,
            code: 0,
            id: 7,
        };
        let p = &parsed(&trace)["initial"];
        assert_eq!(
            (&p["proto"], &p["icmp_type"], &p["icmp_code"]),
            (&"icmp".into(), &8.into(), &0.into())
        );
        assert_eq!(p["sport"], Value::Null);
        assert!(p.get("tcp_flags").is_none());
    }

    #[test]
    fn never_ansi() {
        assert!(!render(&samples::forwarded()).contains('\x1b'));
    }

    #[test]
    fn decided_verdicts_from_stream_shape() {
        let p = syn();
        let a = rule_ref(TableName::Mangle, "PREROUTING", 1, Some(3));
        let b = rule_ref(TableName::Mangle, "PREROUTING", 2, Some(4));
        let c = rule_ref(TableName::Nat, "PREROUTING", 1, Some(9));
        let events = [
            rule(
                Hook::PreRouting,
                &a,
                Some("-A PREROUTING -j MARK --set-mark 1"),
                0,
                &p,
            ),
            rule(Hook::PreRouting, &b, Some("-A PREROUTING -j ACCEPT"), 0, &p),
            rule(
                Hook::PreRouting,
                &c,
                Some("-A PREROUTING -j DNAT --to 1.2.3.4"),
                0,
                &p,
            ),
        ];
        let got = decided_verdicts(&events);
        assert_eq!(got, [None, Some(Verdict::Accept), Some(Verdict::Accept)]);
    }

    /// The whole document for a minimal trace, so the wire format cannot drift
    /// without this test (and docs/json.md) changing.
    #[test]
    fn golden_minimal_document() {
        let p = syn();
        let policy = rule_ref(TableName::Filter, "INPUT", 1, None);
        let trace = Trace {
            initial: p.clone(),
            final_packet: p.clone(),
            iif: Some("eth0".into()),
            verdict: Verdict::Accept,
            disposition: Disposition::Delivered,
            events: vec![rule(Hook::Input, &policy, None, 0, &p)],
            assumptions: vec![],
            connection: None,
            ipvs_conn: None,
            evaluations: Vec::new(),
        };
        assert_eq!(render(&trace), GOLDEN);
    }

    /// Expected output of [`golden_minimal_document`].
    const GOLDEN: &str = r#"{
  "nftrace_json": 1,
  "verdict": "ACCEPT",
  "disposition": {
    "kind": "delivered"
  },
  "initial": {
    "src": "183.62.15.118",
    "dst": "61.146.164.120",
    "proto": "tcp",
    "proto_number": 6,
    "sport": 22449,
    "dport": 10174,
    "tcp_flags": [
      "SYN"
    ],
    "iif": "eth0",
    "oif": null,
    "mark": 0,
    "ttl": 64,
    "tos": 0,
    "len": 60
  },
  "final": {
    "src": "183.62.15.118",
    "dst": "61.146.164.120",
    "proto": "tcp",
    "proto_number": 6,
    "sport": 22449,
    "dport": 10174,
    "tcp_flags": [
      "SYN"
    ],
    "iif": "eth0",
    "oif": null,
    "mark": 0,
    "ttl": 64,
    "tos": 0,
    "len": 60
  },
  "events": [
    {
      "type": "rule",
      "hook": "INPUT",
      "table": "filter",
      "chain": "INPUT",
      "rulenum": 1,
      "line": null,
      "trace_type": "policy",
      "rule": null,
      "depth": 0,
      "nf_trace": false,
      "verdict": "ACCEPT",
      "packet": {
        "src": "183.62.15.118",
        "dst": "61.146.164.120",
        "proto": "tcp",
        "proto_number": 6,
        "sport": 22449,
        "dport": 10174,
        "tcp_flags": [
          "SYN"
        ],
        "iif": "eth2",
        "oif": null,
        "mark": 0,
        "ttl": 64,
        "tos": 0,
        "len": 60
      }
    }
  ],
  "assumptions": [],
  "connection": null
}
"#;
}
