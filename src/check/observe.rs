//! What a trace shows about a probe, in the terms a probe file expects:
//! verdict, egress, the packet after translation, the rules traversed and the
//! rule that decided. Shared by `check` (against expectations) and `diff`
//! (against the other bundle).

use std::net::Ipv4Addr;

use super::file::{Expect, ExpectedVerdict, RuleName};
use crate::model::matches::MatchKind;
use crate::model::ruleset::TableName;
use crate::model::target::Target;
use crate::model::Host;
use crate::trace::event::{Disposition, Event, RuleRef, Trace, TraceType};

/// A rule the packet matched, with what names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSeen {
    /// `table:chain:rulenum`.
    pub at: String,
    /// The rule's text from the dump (`None` for a policy or implicit return).
    pub text: Option<String>,
    /// Its `--comment`, if any.
    pub comment: Option<String>,
}

/// The facts of one trace that probes talk about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Observed {
    /// `ACCEPT`, `DROP`, `REJECT` or `QUEUE`.
    pub verdict: &'static str,
    /// Output interface when the packet is sent; `None` when delivered locally or dropped.
    pub oif: Option<String>,
    /// True when delivered to a local socket.
    pub delivered: bool,
    /// Final source address.
    pub src: Ipv4Addr,
    /// Final destination address.
    pub dst: Ipv4Addr,
    /// Final source port (tcp/udp).
    pub sport: Option<u16>,
    /// Final destination port (tcp/udp).
    pub dport: Option<u16>,
    /// Final mark.
    pub mark: u32,
    /// The rule that decided the verdict (the last table verdict), if a rule did.
    pub decided_by: Option<RuleSeen>,
    /// Why the packet was dropped, when it was (routing drops have no rule).
    pub drop_reason: Option<String>,
    /// Every rule that matched, in order.
    pub rules: Vec<RuleSeen>,
}

impl Observed {
    /// Extracts the facts from `trace`, looking rules up in `host` for their comments.
    pub fn new(host: &Host, trace: &Trace) -> Observed {
        let rules: Vec<RuleSeen> = trace
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Rule { rule, text, .. } => Some(seen(host, rule, text.clone())),
                _ => None,
            })
            .collect();
        let decided_by = deciding_rule(host, trace).map(|r| {
            let text = rule_text(host, r);
            seen(host, r, text)
        });
        let ports = trace.final_packet.transport.ports();
        Observed {
            verdict: trace.verdict.as_str(),
            oif: trace.oif().map(str::to_string),
            delivered: matches!(trace.disposition, Disposition::Delivered),
            src: trace.final_packet.src,
            dst: trace.final_packet.dst,
            sport: ports.map(|p| p.0),
            dport: ports.map(|p| p.1),
            mark: trace.final_packet.mark,
            decided_by,
            drop_reason: match &trace.disposition {
                Disposition::Dropped { reason, .. } => Some(reason.clone()),
                _ => None,
            },
            rules,
        }
    }

    /// Where the packet went, in a few words: `sent eth0`, `delivered`, `dropped`.
    pub fn egress(&self) -> String {
        match (&self.oif, self.delivered) {
            (Some(oif), _) => format!("sent {oif}"),
            (None, true) => "delivered".into(),
            (None, false) => "-".into(),
        }
    }

    /// The deciding rule in one line: `filter:FORWARD:3 -A FORWARD …`, or the drop reason.
    pub fn decision(&self) -> String {
        match (&self.decided_by, &self.drop_reason) {
            (Some(r), _) => match &r.text {
                Some(t) => format!("{} {t}", r.at),
                None => format!("{} (policy)", r.at),
            },
            (None, Some(reason)) => reason.clone(),
            (None, None) => "-".into(),
        }
    }

    /// True when some traversed rule is the one `name` names.
    pub fn traversed(&self, name: &RuleName) -> bool {
        self.rules.iter().any(|r| names(r, name))
    }
}

fn names(r: &RuleSeen, name: &RuleName) -> bool {
    match name {
        RuleName::Position { .. } => r.at == name.to_string(),
        RuleName::Comment(c) => r.comment.as_deref() == Some(c.as_str()),
    }
}

fn seen(host: &Host, rule: &RuleRef, text: Option<String>) -> RuleSeen {
    RuleSeen {
        at: rule.to_string(),
        comment: comment(host, rule),
        text,
    }
}

/// The rule behind the final verdict: the rule of a drop or queue. For a
/// packet that passed, every table it met accepted it; the one people mean is
/// the filter table's last ACCEPT (rule or policy), else the last explicit
/// `-j ACCEPT`, else the last policy.
pub fn deciding_rule<'t>(host: &Host, trace: &'t Trace) -> Option<&'t RuleRef> {
    match &trace.disposition {
        Disposition::Dropped { rule, .. } => rule.as_ref(),
        Disposition::Queued { rule } => Some(rule),
        Disposition::Delivered | Disposition::Sent { .. } => {
            let accepts: Vec<(&RuleRef, bool)> = trace
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::Rule {
                        rule,
                        trace_type: TraceType::Policy,
                        ..
                    } => Some((rule, false)),
                    Event::Rule { rule, .. } => lookup(host, rule)
                        .is_some_and(|r| matches!(r.target, Target::Accept))
                        .then_some((rule, true)),
                    _ => None,
                })
                .collect();
            let last = |f: &dyn Fn(&(&RuleRef, bool)) -> bool| {
                accepts.iter().rev().find(|a| f(a)).map(|a| a.0)
            };
            last(&|a| a.0.table == TableName::Filter)
                .or_else(|| last(&|a| a.1))
                .or_else(|| last(&|_| true))
        }
    }
}

fn lookup<'h>(host: &'h Host, r: &RuleRef) -> Option<&'h crate::model::ruleset::Rule> {
    let table: TableName = r.table;
    // By the host's chain index: a kube-proxy table has tens of thousands of chains.
    let chain = host.chain_id(table, &r.chain)?;
    host.ruleset
        .table(table)?
        .chains
        .get(chain)?
        .walk_rules()
        .rule(usize::try_from(r.rulenum).ok()?.checked_sub(1)?)
}

fn rule_text(host: &Host, r: &RuleRef) -> Option<String> {
    lookup(host, r).map(|rule| rule.text.to_string())
}

fn comment(host: &Host, r: &RuleRef) -> Option<String> {
    lookup(host, r)?.matches.iter().find_map(|m| match &m.kind {
        MatchKind::Comment(c) => Some(c.to_string()),
        _ => None,
    })
}

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// The expectation's key (`verdict`, `oif`, `dst`, `via`, …).
    pub field: &'static str,
    /// What the probe expected.
    pub expected: String,
    /// What the trace shows.
    pub actual: String,
}

/// Compares the facts with the expectations; empty when all hold.
pub fn compare(expect: &Expect, seen: &Observed) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: &'static str, expected: Option<String>, actual: String| {
        if let Some(expected) = expected {
            if expected != actual {
                out.push(Mismatch {
                    field,
                    expected,
                    actual,
                });
            }
        }
    };
    let opt = |v: Option<u16>| v.map_or_else(|| "-".to_string(), |p| p.to_string());
    check(
        "verdict",
        expect
            .verdict
            .map(|v| ExpectedVerdict::as_str(v).to_string()),
        seen.verdict.to_string(),
    );
    check(
        "oif",
        expect.oif.clone(),
        seen.oif.clone().unwrap_or_else(|| seen.egress()),
    );
    check(
        "src",
        expect.src.map(|a| a.to_string()),
        seen.src.to_string(),
    );
    check(
        "dst",
        expect.dst.map(|a| a.to_string()),
        seen.dst.to_string(),
    );
    check(
        "sport",
        expect.sport.map(|p| p.to_string()),
        opt(seen.sport),
    );
    check(
        "dport",
        expect.dport.map(|p| p.to_string()),
        opt(seen.dport),
    );
    if let Some((value, mask)) = expect.mark {
        if seen.mark & mask != value {
            out.push(Mismatch {
                field: "mark",
                expected: mark_text(value, mask),
                actual: format!("{:#x}", seen.mark),
            });
        }
    }
    for name in expect.via.iter().filter(|n| !seen.traversed(n)) {
        out.push(Mismatch {
            field: "via",
            expected: format!("traverses {name}"),
            actual: "not traversed".into(),
        });
    }
    for name in expect.not_via.iter().filter(|n| seen.traversed(n)) {
        out.push(Mismatch {
            field: "not_via",
            expected: format!("does not traverse {name}"),
            actual: "traversed".into(),
        });
    }
    out
}

fn mark_text(value: u32, mask: u32) -> String {
    if mask == u32::MAX {
        format!("{value:#x}")
    } else {
        format!("{value:#x}/{mask:#x}")
    }
}
