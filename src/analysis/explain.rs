//! `trace --explain`: the near misses of a trace.
//!
//! For the outcome a packet reached, list the rules in the chains it walked (and
//! in the chains those could jump to) that would have changed the outcome: the
//! conditions that failed for this packet, the smallest change to the packet
//! that makes the rule match, and the outcome the changed packet reaches, found
//! by tracing it. A change is only claimed after the evaluator confirmed it.

use std::collections::{HashSet, VecDeque};

use super::cond::{rule_conds, Cond, Field, View, Want};
use super::{flag_for, ingress_dev, input_value, set_input};
use crate::check::observe::{deciding_rule, Observed};
use crate::model::packet::Ingress;
use crate::model::ruleset::{IfaceMatch, Rule, TableName};
use crate::model::target::Target;
use crate::model::Host;
use crate::trace::event::{Evaluation, Hook, Trace};
use crate::trace::walk::ForcedState;
use crate::trace::{trace, Probe, TraceOptions};

/// Most near misses listed.
const MAX_NEAR_MISSES: usize = 12;
/// Most blocked rules listed.
const MAX_BLOCKED: usize = 8;

/// What `--explain` adds to a trace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The outcome reached, in words.
    pub outcome: String,
    /// The rule that decided it, with the conditions that held.
    pub decided_by: Option<RuleCite>,
    /// The jumps that led there, in order.
    pub entered_via: Vec<RuleCite>,
    /// Rules that would have changed the outcome, smallest change first.
    pub near_misses: Vec<NearMiss>,
    /// Rules that would have changed the outcome but cannot be reached by
    /// changing the packet alone (out interface, connmark, rewritten fields, …).
    pub blocked: Vec<Blocked>,
    /// Findings of `lint` that concern this packet's addresses.
    pub related: Vec<String>,
    /// One line: the changes that flip the verdict ("accepted with: --dport 300 | -p udp --dport 300").
    pub summary: Option<String>,
}

/// A rule and what of it held.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleCite {
    /// `table:chain:rulenum`.
    pub rule: String,
    /// The rule as written.
    pub text: String,
    /// Its conditions that held for the packet (`-d 172.17.21.105/32`).
    pub held: Vec<String>,
}

/// A condition that failed: what the packet had, what the rule wants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failed {
    /// The condition as written (`--dport 300:65535`).
    pub cond: String,
    /// In words: "dport 22, rule wants dport 300:65535".
    pub why: String,
}

/// One change to the packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Change {
    /// Field name.
    pub field: String,
    /// Value before.
    pub from: String,
    /// Value after.
    pub to: String,
    /// The `nftrace trace` flag that makes it (`--dport 300`).
    pub flag: String,
}

/// A rule that the changed packet matches, and where that leads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NearMiss {
    /// `table:chain:rulenum`.
    pub rule: String,
    /// The rule as written.
    pub text: String,
    /// The conditions that failed for this packet.
    pub failed: Vec<Failed>,
    /// The smallest change making them hold.
    pub change: Vec<Change>,
    /// The outcome of the changed packet, as traced.
    pub outcome: String,
}

/// A rule whose failed conditions the packet alone cannot satisfy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocked {
    /// `table:chain:rulenum`.
    pub rule: String,
    /// The rule as written.
    pub text: String,
    /// The conditions that failed, and why they cannot be changed.
    pub failed: Vec<Failed>,
}

/// A rule to consider, with the packet as it saw (or would have seen) it.
struct Candidate<'h> {
    table: TableName,
    chain: usize,
    rule: usize,
    rule_def: &'h Rule,
    view: View,
    /// `Some(matched)` when the walk evaluated it.
    evaluated: Option<bool>,
}

/// Traces `probe` and explains the outcome.
pub fn explain(host: &Host, probe: &Probe, opts: &TraceOptions) -> (Trace, Explanation) {
    let recording = TraceOptions {
        record_evaluations: true,
        ..opts.clone()
    };
    let base = trace(host, probe, &recording);
    let observed = Observed::new(host, &base);
    let mut near: Vec<NearMiss> = Vec::new();
    let mut blocked: Vec<Blocked> = Vec::new();
    let mut seen_changes: HashSet<Vec<Change>> = HashSet::new();
    for c in candidates(host, &base.evaluations) {
        if near.len() >= MAX_NEAR_MISSES * 4 {
            break;
        }
        match consider(host, probe, opts, &observed, &c) {
            Some(Considered::Near(n)) if seen_changes.insert(n.change.clone()) => near.push(n),
            Some(Considered::Blocked(b)) if blocked.len() < MAX_BLOCKED => blocked.push(b),
            _ => {}
        }
    }
    near.sort_by_key(|n| n.change.len());
    near.truncate(MAX_NEAR_MISSES);
    let summary = flip_summary(observed.verdict, &near);
    let explanation = Explanation {
        summary,
        outcome: outcome_words(&observed),
        decided_by: decided_by(host, &base),
        entered_via: entered_via(host, &base.evaluations),
        near_misses: near,
        blocked,
        related: super::lint::related_to(host, &base),
    };
    (base, explanation)
}

/// The changes whose outcome has the other verdict, as one line.
fn flip_summary(verdict: &str, near: &[NearMiss]) -> Option<String> {
    let accepted = verdict == "ACCEPT";
    let flips: Vec<String> = near
        .iter()
        .filter(|n| n.outcome.starts_with("ACCEPT") != accepted)
        .map(|n| {
            n.change
                .iter()
                .map(|c| c.flag.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    if flips.is_empty() {
        return None;
    }
    let what = if accepted { "dropped" } else { "accepted" };
    Some(format!("would be {what} with: {}", flips.join(" | ")))
}

/// The outcome in words: verdict, then where the packet went.
pub fn outcome_words(o: &Observed) -> String {
    let to = match o.dport {
        Some(p) => format!("{}:{p}", o.dst),
        None => o.dst.to_string(),
    };
    match (&o.oif, o.delivered) {
        (Some(oif), _) => format!("{}, sent out {oif} to {to}", o.verdict),
        (None, true) => format!("{}, delivered locally to {to}", o.verdict),
        (None, false) => format!("{} ({})", o.verdict, o.decision()),
    }
}

/// The facts two outcomes are compared on.
fn outcome_key(o: &Observed) -> (&'static str, String) {
    if o.oif.is_none() && !o.delivered {
        return (o.verdict, o.decision());
    }
    (o.verdict, format!("{} {} {:?}", o.egress(), o.dst, o.dport))
}

fn rule_def(host: &Host, table: TableName, chain: usize, rule: usize) -> Option<&Rule> {
    host.ruleset
        .table(table)?
        .chains
        .get(chain)?
        .rules()
        .get(rule)
}

fn rule_name(host: &Host, table: TableName, chain: usize, rule: usize) -> String {
    let name = host
        .ruleset
        .table(table)
        .and_then(|t| t.chains.get(chain))
        .map_or("?", |c| c.name.as_str());
    format!("{table}:{name}:{}", rule + 1)
}

/// Every rule of the chains walked, and of the chains they could jump to,
/// in walk order, each with the packet its chain saw.
fn candidates<'h>(host: &'h Host, evals: &[Evaluation]) -> Vec<Candidate<'h>> {
    let mut out = Vec::new();
    let mut done: HashSet<(Hook, TableName, usize, usize)> = HashSet::new();
    let mut chains_seen: HashSet<(Hook, TableName, usize)> = HashSet::new();
    let mut queue: VecDeque<(Hook, TableName, usize, View)> = VecDeque::new();
    for e in evals {
        let view = View::of(e);
        if done.insert((e.hook, e.table, e.chain, e.rule)) {
            if let Some(r) = rule_def(host, e.table, e.chain, e.rule) {
                out.push(Candidate {
                    table: e.table,
                    chain: e.chain,
                    rule: e.rule,
                    rule_def: r,
                    view: view.clone(),
                    evaluated: Some(e.matched),
                });
            }
        }
        // Rules the walk never reached are judged on the packet as it entered the chain.
        if chains_seen.insert((e.hook, e.table, e.chain)) {
            queue.push_back((e.hook, e.table, e.chain, view));
        }
    }
    let mut expanded: HashSet<(Hook, TableName, usize)> = HashSet::new();
    while let Some((hook, table, chain, view)) = queue.pop_front() {
        if !expanded.insert((hook, table, chain)) {
            continue;
        }
        let Some(t) = host.ruleset.table(table) else {
            continue;
        };
        for (i, r) in t.chains[chain].rules().iter().enumerate() {
            if done.insert((hook, table, chain, i)) {
                out.push(Candidate {
                    table,
                    chain,
                    rule: i,
                    rule_def: r,
                    view: view.clone(),
                    evaluated: None,
                });
            }
            if let Target::Jump(n) | Target::Goto(n) = &r.target {
                if let Some(id) = host.chain_id(table, n) {
                    queue.push_back((hook, table, id, view.clone()));
                }
            }
        }
    }
    out
}

/// True for targets that can change where a packet goes.
fn consequential(t: &Target) -> bool {
    matches!(
        t,
        Target::Accept
            | Target::Drop
            | Target::Return
            | Target::Queue
            | Target::Jump(_)
            | Target::Goto(_)
            | Target::Reject(_)
            | Target::Nfqueue { .. }
            | Target::Mark(_)
            | Target::Connmark(_)
            | Target::Snat { .. }
            | Target::Dnat { .. }
            | Target::Masquerade { .. }
            | Target::Redirect { .. }
    )
}

enum Considered {
    Near(NearMiss),
    Blocked(Blocked),
}

fn consider(
    host: &Host,
    probe: &Probe,
    opts: &TraceOptions,
    base: &Observed,
    c: &Candidate,
) -> Option<Considered> {
    if c.evaluated == Some(true) || !consequential(&c.rule_def.target) {
        return None;
    }
    let conds = rule_conds(c.rule_def);
    let failed: Vec<&Cond> = conds
        .iter()
        .filter(|k| k.holds(&c.view) == Some(false))
        .collect();
    let name = rule_name(host, c.table, c.chain, c.rule);
    let text = c.rule_def.text.to_string();
    if failed.is_empty() {
        // Every condition nftrace can read held; what failed is one only the
        // evaluator decides (addrtype, string, recent, …), or the rule lies after
        // the decision and was never reached.
        let opaque: Vec<Failed> = conds
            .iter()
            .filter(|k| matches!(k.want, Want::Opaque) || k.holds(&c.view).is_none())
            .map(|k| Failed {
                cond: k.text.clone(),
                why: format!("`{}` did not match (decided by the evaluator)", k.text),
            })
            .collect();
        return (c.evaluated == Some(false) && !opaque.is_empty()).then_some(Considered::Blocked(
            Blocked {
                rule: name,
                text,
                failed: opaque,
            },
        ));
    }
    let mut fix = Fix::new(host, probe, opts.force_ctstate);
    let mut reasons = Vec::new();
    for k in &failed {
        let why = failed_because(k, &c.view);
        match fix.apply(k, &c.view) {
            Ok(()) => reasons.push(why),
            // Only a rule held back by this one condition is worth listing.
            Err(_) if failed.len() > 1 => return None,
            Err(cannot) => {
                let failed = vec![
                    why,
                    Failed {
                        cond: k.text.clone(),
                        why: cannot,
                    },
                ];
                return Some(Considered::Blocked(Blocked {
                    rule: name,
                    text,
                    failed,
                }));
            }
        }
    }
    let changed_opts = TraceOptions {
        force_ctstate: fix.ctstate,
        record_evaluations: false,
        ..opts.clone()
    };
    let t = trace(host, &fix.probe, &changed_opts);
    let after = Observed::new(host, &t);
    // Only a change that makes this very rule match counts: the changed packet
    // may also take another way for reasons of its own.
    let matched = after.rules.iter().any(|r| r.at == name);
    if !matched || outcome_key(&after) == outcome_key(base) {
        return None;
    }
    Some(Considered::Near(NearMiss {
        rule: name,
        text,
        failed: reasons,
        change: fix.changes,
        outcome: outcome_words(&after),
    }))
}

/// "dport 22, rule wants dport 300:65535".
fn failed_because(k: &Cond, view: &View) -> Failed {
    Failed {
        cond: k.text.clone(),
        why: format!(
            "{} {}, rule wants {}",
            k.field.name(),
            view.show(k.field),
            k.wants()
        ),
    }
}

/// A packet being changed to satisfy failed conditions.
struct Fix<'h> {
    host: &'h Host,
    original: &'h Probe,
    probe: Probe,
    ctstate: Option<ForcedState>,
    changes: Vec<Change>,
}

impl<'h> Fix<'h> {
    fn new(host: &'h Host, original: &'h Probe, ctstate: Option<ForcedState>) -> Fix<'h> {
        Fix {
            host,
            original,
            probe: original.clone(),
            ctstate,
            changes: Vec::new(),
        }
    }

    /// Changes the packet so that `k` holds, or says why the packet alone cannot.
    fn apply(&mut self, k: &Cond, view: &View) -> Result<(), String> {
        match k.field {
            Field::InIface => self.in_iface(k),
            Field::CtState => self.ct_state(k, view),
            Field::OutIface => Err(format!(
                "the out interface ({}) is chosen by routing, not by the packet",
                view.show(Field::OutIface)
            )),
            Field::Connmark => Err("the connection mark comes from conntrack".into()),
            Field::Other => Err(format!("`{}` is decided by the evaluator", k.text)),
            f => self.number(k, f, view),
        }
    }

    fn number(&mut self, k: &Cond, f: Field, view: &View) -> Result<(), String> {
        let input = input_value(self.original, f);
        let seen = view.number(f);
        // A field rewritten before this rule (DNAT, MARK, TTL decrement) cannot be
        // set through the packet as sent; ports and ICMP type appear with -p.
        let rewritten = seen.is_some() && input != seen && f != Field::Ttl;
        if rewritten {
            return Err(format!(
                "{} is {} here, rewritten from {} before this rule",
                f.name(),
                view.show(f),
                input.map_or("none".into(), |v| super::cond::show_value(f, v))
            ));
        }
        let offset = match (f, input, seen) {
            (Field::Ttl, Some(i), Some(s)) => i.saturating_sub(s),
            _ => 0,
        };
        let current = input_value(&self.probe, f).unwrap_or(0);
        let want = k
            .nearest(current.saturating_sub(offset))
            .map(|v| v + offset)
            .ok_or_else(|| format!("no {} satisfies `{}`", f.name(), k.text))?;
        if !set_input(&mut self.probe, f, want) {
            return Err(format!("this packet has no {}", f.name()));
        }
        self.changes.push(Change {
            field: f.name().into(),
            from: input_value(self.original, f)
                .map_or("none".into(), |v| super::cond::show_value(f, v)),
            to: super::cond::show_value(f, want),
            flag: flag_for(f, want),
        });
        Ok(())
    }

    fn in_iface(&mut self, k: &Cond) -> Result<(), String> {
        let Some(current) = ingress_dev(&self.probe).map(str::to_string) else {
            return Err("a locally generated packet has no in interface".into());
        };
        let Want::Iface(name) = &k.want else {
            return Err("unreadable interface condition".into());
        };
        let holds = |dev: &str| IfaceMatch::name_matches(name, dev) ^ k.invert;
        let dev = self
            .host
            .routing
            .links
            .iter()
            .map(|l| l.name.as_str())
            .find(|d| *d != "lo" && holds(d))
            .map(str::to_string)
            .or_else(|| (!k.invert && !name.ends_with('+')).then(|| name.clone()))
            .ok_or_else(|| format!("no interface of this host satisfies `{}`", k.text))?;
        self.probe.ingress = Ingress::Interface(dev.clone());
        self.changes.push(Change {
            field: "in interface".into(),
            from: current,
            flag: format!("-i {dev}"),
            to: dev,
        });
        Ok(())
    }

    fn ct_state(&mut self, k: &Cond, view: &View) -> Result<(), String> {
        const STATES: [(&str, ForcedState); 5] = [
            ("NEW", ForcedState::New),
            ("ESTABLISHED", ForcedState::Established),
            ("RELATED", ForcedState::Related),
            ("INVALID", ForcedState::Invalid),
            ("UNTRACKED", ForcedState::Untracked),
        ];
        let Want::States(s) = &k.want else {
            return Err("unreadable state condition".into());
        };
        let (name, state) = STATES
            .into_iter()
            .find(|(n, _)| s.contains(n) ^ k.invert)
            .ok_or_else(|| format!("no conntrack state satisfies `{}`", k.text))?;
        self.ctstate = Some(state);
        self.changes.push(Change {
            field: "ctstate".into(),
            from: view.ct_state.into(),
            to: name.into(),
            flag: format!("--ctstate {}", name.to_ascii_lowercase()),
        });
        Ok(())
    }
}

fn decided_by(host: &Host, t: &Trace) -> Option<RuleCite> {
    let r = deciding_rule(host, t)?;
    let table = host.ruleset.table(r.table)?;
    let chain = table.chain_index(&r.chain)?;
    let idx = usize::try_from(r.rulenum).ok()?.checked_sub(1)?;
    let view = t
        .evaluations
        .iter()
        .rev()
        .find(|e| e.table == r.table && e.chain == chain && e.rule == idx)
        .map(View::of);
    match (table.chains[chain].rules().get(idx), view) {
        (Some(rule), Some(view)) => Some(cite(host, r.table, chain, idx, rule, &view)),
        _ => Some(RuleCite {
            rule: r.to_string(),
            text: format!("policy {}", policy_of(table, chain)),
            held: Vec::new(),
        }),
    }
}

fn policy_of(table: &crate::model::ruleset::Table, chain: usize) -> &'static str {
    table.chains[chain]
        .policy
        .map_or("RETURN", crate::model::ruleset::Policy::as_str)
}

fn cite(
    host: &Host,
    table: TableName,
    chain: usize,
    idx: usize,
    rule: &Rule,
    view: &View,
) -> RuleCite {
    RuleCite {
        rule: rule_name(host, table, chain, idx),
        text: rule.text.to_string(),
        held: rule_conds(rule)
            .iter()
            .filter(|k| k.holds(view) != Some(false))
            .map(|k| k.text.clone())
            .collect(),
    }
}

/// The matched jumps and gotos, in walk order.
fn entered_via(host: &Host, evals: &[Evaluation]) -> Vec<RuleCite> {
    let mut seen = HashSet::new();
    evals
        .iter()
        .filter(|e| e.matched)
        .filter_map(|e| {
            let r = rule_def(host, e.table, e.chain, e.rule)?;
            let jumps = matches!(r.target, Target::Jump(_) | Target::Goto(_));
            (jumps && seen.insert((e.hook, e.table, e.chain, e.rule)))
                .then(|| cite(host, e.table, e.chain, e.rule, r, &View::of(e)))
        })
        .collect()
}
