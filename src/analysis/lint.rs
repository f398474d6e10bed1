//! `nftrace lint`: what a reviewer wants to know before a ruleset ships.
//!
//! Each finding names the rules involved and, where a packet shows it, an
//! example packet that the evaluator confirmed.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use super::cond::{complement, field_max, rule_conds, Cond, Field, Want};
use crate::model::packet::{Ingress, Packet, Transport};
use crate::model::ruleset::{Chain, IfaceMatch, Policy, Rule, Table, TableName};
use crate::model::target::Target;
use crate::model::Host;
use crate::trace::event::{Disposition, Event, Trace, Verdict};
use crate::trace::{trace, Probe, TraceOptions};

/// How much a finding matters; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing (a chain nothing reaches).
    Info,
    /// Probably a mistake (a rule that can never match).
    Warning,
    /// Traffic the rules mean to pass is dropped.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Level.
    pub level: Level,
    /// Short kind: `shadowed`, `unreachable-chain`, `empty-chain`, `nat-fan-in`,
    /// `dnat-without-forward`, `masquerade-no-source`.
    pub kind: &'static str,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The rules involved, `table:chain:rulenum` with their text.
    pub rules: Vec<String>,
    /// An example packet as `nftrace trace` flags, when one shows the finding.
    pub example: Option<String>,
}

/// Every finding for `host`, most severe first.
pub fn lint(host: &Host) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in &host.ruleset.tables {
        out.extend(shadowed(host, t));
        out.extend(unreferenced_chains(t));
        out.extend(empty_chain_jumps(host, t));
    }
    out.extend(nat_fan_in(host));
    out.extend(dnat_without_forward(host));
    out.extend(masquerade_without_source(host));
    out.sort_by_key(|f| std::cmp::Reverse(f.level));
    out
}

/// The `nat-fan-in` findings that concern the packet of `t` (its addresses
/// before or after translation), for `--explain`.
pub fn related_to(host: &Host, t: &Trace) -> Vec<String> {
    let addrs = [t.initial.dst, t.final_packet.dst, t.initial.src];
    fan_in_groups(host)
        .into_iter()
        .filter(|g| g.addrs.iter().any(|a| addrs.contains(a)))
        .map(|g| g.finding.message)
        .collect()
}

fn name(t: &Table, c: &Chain, i: usize) -> String {
    format!("{}:{}:{} {}", t.name, c.name, i + 1, c.rules()[i].text)
}

/// Targets after which later rules of the chain never see the packet.
fn terminal(t: &Target) -> bool {
    matches!(
        t,
        Target::Accept
            | Target::Drop
            | Target::Return
            | Target::Queue
            | Target::Goto(_)
            | Target::Reject(_)
            | Target::Nfqueue { .. }
            | Target::Snat { .. }
            | Target::Dnat { .. }
            | Target::Masquerade { .. }
            | Target::Redirect { .. }
    )
}

/// A condition as a set of values, when it can be compared with others.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Set {
    Ranges(Vec<(u32, u32)>),
    Iface(String),
    States(Vec<&'static str>),
}

const ALL_STATES: [&str; 5] = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];

fn as_set(k: &Cond) -> Option<Set> {
    Some(match &k.want {
        Want::Ranges(r) if k.invert => Set::Ranges(complement(r, field_max(k.field))),
        Want::Ranges(r) => Set::Ranges(r.clone()),
        Want::Masked { bits, mask }
            if !k.invert && mask.leading_ones() + mask.trailing_zeros() == 32 =>
        {
            let host = !mask;
            Set::Ranges(vec![(*bits, bits | host)])
        }
        Want::Iface(n) if !k.invert => Set::Iface(n.clone()),
        Want::States(s) => Set::States(
            ALL_STATES
                .into_iter()
                .filter(|x| s.contains(x) ^ k.invert)
                .collect(),
        ),
        _ => return None,
    })
}

/// True when every value of `inner` is in `outer`.
fn covers(outer: &Set, inner: &Set) -> bool {
    match (outer, inner) {
        (Set::Ranges(o), Set::Ranges(i)) => i
            .iter()
            .all(|&(a, b)| o.iter().any(|&(c, d)| c <= a && b <= d)),
        (Set::Iface(o), Set::Iface(i)) => match o.strip_suffix('+') {
            Some(prefix) => i.starts_with(prefix),
            None => o == i,
        },
        (Set::States(o), Set::States(i)) => i.iter().all(|s| o.contains(s)),
        _ => false,
    }
}

/// A rule's conditions as sets, or `None` (`Opaque` inside) when it cannot be
/// compared; a condition that is not a set makes the rule cover nothing.
type RuleSets = Vec<(Field, Option<Set>)>;

fn rule_sets(conds: &[Cond]) -> RuleSets {
    conds.iter().map(|k| (k.field, as_set(k))).collect()
}

/// True when every packet `later` matches, `earlier` matches too.
fn rule_covers(earlier: &RuleSets, later: &RuleSets) -> bool {
    earlier.iter().all(|(field, outer)| {
        let Some(outer) = outer else {
            return false;
        };
        // Several conditions on one field intersect; one of them inside suffices.
        later
            .iter()
            .filter(|(f, _)| f == field)
            .any(|(_, inner)| inner.as_ref().is_some_and(|i| covers(outer, i)))
            || matches!(outer, Set::Ranges(r) if r == &[(0, field_max(*field))])
    })
}

/// Rules no packet reaches because one earlier terminal rule of the chain takes
/// all of their packets (one rule at a time; a union of several is not looked for).
fn shadowed(host: &Host, t: &Table) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &t.chains {
        for (j, i) in shadowing_pairs(c) {
            out.push(Finding {
                level: Level::Warning,
                kind: "shadowed",
                message: format!(
                    "{}:{}:{} can never match: every packet it matches is taken by rule {} ({})",
                    t.name,
                    c.name,
                    i + 1,
                    j + 1,
                    target_text(&c.rules()[j].target)
                ),
                rules: vec![name(t, c, j), name(t, c, i)],
                example: shadow_example(host, t, c, j, i),
            });
        }
    }
    out
}

/// (earlier, later): each rule of `c` whose packets the first earlier terminal
/// rule all takes.
fn shadowing_pairs(c: &Chain) -> Vec<(usize, usize)> {
    let conds: Vec<Vec<Cond>> = c.rules().iter().map(rule_conds).collect();
    let sets: Vec<RuleSets> = conds.iter().map(|k| rule_sets(k)).collect();
    let terminals = TerminalIndex::new(c, &sets);
    let mut out = Vec::new();
    for (i, later) in conds.iter().enumerate() {
        if later.iter().any(|k| matches!(k.want, Want::Opaque)) {
            continue;
        }
        let by = terminals
            .candidates(&sets[i])
            .into_iter()
            .take_while(|&j| j < i)
            .find(|&j| rule_covers(&sets[j], &sets[i]));
        if let Some(j) = by {
            out.push((j, i));
        }
    }
    out
}

/// A chain's terminal rules by the one destination prefix they require, so
/// that a rule is compared only with earlier rules whose destination can hold
/// its own (a 50,000-rule firewall compared every pair: 5.7 s).
struct TerminalIndex {
    /// Terminal rules with no single-prefix destination: candidates for every rule.
    general: Vec<usize>,
    /// (prefix length, network) → the terminal rules requiring that prefix.
    by_prefix: HashMap<(u32, u32), Vec<usize>, foldhash::fast::RandomState>,
}

impl TerminalIndex {
    fn new(c: &Chain, sets: &[RuleSets]) -> TerminalIndex {
        let mut index = TerminalIndex {
            general: Vec::new(),
            by_prefix: HashMap::default(),
        };
        let terminals = (0..c.rules().len()).filter(|&j| terminal(&c.rules()[j].target));
        for j in terminals {
            match dst_prefix(&sets[j]) {
                Some(prefix) => index.by_prefix.entry(prefix).or_default().push(j),
                None => index.general.push(j),
            }
        }
        index
    }

    /// In chain order, every terminal rule that may cover a rule with `sets`
    /// (the ones that do are among them): a prefix rule covers it only if the
    /// prefix holds one of its destination sets, or is 0.0.0.0/0.
    fn candidates(&self, sets: &RuleSets) -> Vec<usize> {
        let hulls = sets.iter().filter_map(|(f, s)| match s {
            Some(Set::Ranges(r)) if *f == Field::Dst => Some((r.first()?.0, r.last()?.1)),
            _ => None,
        });
        let mut out = self.general.clone();
        for (lo, hi) in hulls.chain([(0, u32::MAX)]) {
            for len in 0..=32 {
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                if lo & mask != hi & mask {
                    break;
                }
                if let Some(rules) = self.by_prefix.get(&(len, lo & mask)) {
                    out.extend(rules);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The destination prefix a rule requires, when it has exactly one destination
/// condition and that is one prefix.
fn dst_prefix(sets: &RuleSets) -> Option<(u32, u32)> {
    let mut dsts = sets.iter().filter(|(f, _)| *f == Field::Dst);
    let (Some((_, Some(Set::Ranges(r)))), None) = (dsts.next(), dsts.next()) else {
        return None;
    };
    let [(a, b)] = r.as_slice() else {
        return None;
    };
    let size = u64::from(*b) - u64::from(*a) + 1;
    let len = 32 - size.trailing_zeros();
    let aligned = size.is_power_of_two() && u64::from(*a) % size == 0;
    aligned.then_some((len, *a))
}

/// A packet of the shadowed rule `later` that the walk shows taken by
/// `earlier`: searched among the packets `later`'s conditions allow.
fn shadow_example(
    host: &Host,
    t: &Table,
    c: &Chain,
    earlier: usize,
    later: usize,
) -> Option<String> {
    let at = |i: usize| format!("{}:{}:{}", t.name, c.name, i + 1);
    let goal = super::search::Goal {
        via: Some(at(earlier)),
        ..Default::default()
    };
    let opts = super::search::SearchOptions {
        max_traces: DNAT_SEARCH_BUDGET,
        ..Default::default()
    };
    let region = super::search::region_for_rule(host, &c.rules()[later]);
    super::search::search(host, region, &goal, &opts)
        .classes
        .into_iter()
        .find(|k| !k.path.contains(&at(later)))
        .map(|k| k.example)
}

/// User chains with rules that no built-in chain leads to (`mark_source_chains`
/// leaves their hook mask empty): nothing jumps to them, or only chains that
/// are themselves unreached.
fn unreferenced_chains(t: &Table) -> Vec<Finding> {
    t.unreached_chains()
        .into_iter()
        .map(|c| Finding {
            level: Level::Info,
            kind: "unreachable-chain",
            message: format!(
                "{}:{} is never reached from a built-in chain: its {} rule(s) never run",
                t.name,
                c.name,
                c.rules().len()
            ),
            rules: Vec::new(),
            example: None,
        })
        .collect()
}

/// Jumps to user chains without rules (the jump is a no-op).
fn empty_chain_jumps(host: &Host, t: &Table) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &t.chains {
        for (i, r) in c.rules().iter().enumerate() {
            let (Target::Jump(n) | Target::Goto(n)) = &r.target else {
                continue;
            };
            let target = host.chain_id(t.name, n).map(|id| &t.chains[id]);
            if target.is_some_and(|target| target.rules().is_empty()) {
                out.push(Finding {
                    level: Level::Info,
                    kind: "empty-chain",
                    message: format!(
                        "{}:{}:{} jumps to {n}, which has no rules",
                        t.name,
                        c.name,
                        i + 1
                    ),
                    rules: vec![name(t, c, i)],
                    example: None,
                });
            }
        }
    }
    out
}

/// A DNAT rule with one translated address.
struct Dnat<'r> {
    at: String,
    rule: &'r Rule,
    to: Ipv4Addr,
    to_port: Option<u16>,
}

fn single_dnats(t: &Table) -> Vec<Dnat<'_>> {
    let mut out = Vec::new();
    for c in &t.chains {
        for (i, r) in c.rules().iter().enumerate() {
            let Target::Dnat { ranges, .. } = &r.target else {
                continue;
            };
            let [range] = ranges.as_slice() else {
                continue;
            };
            let Some((a, _)) = range.addrs.filter(|(a, b)| a == b) else {
                continue;
            };
            out.push(Dnat {
                at: name(t, c, i),
                rule: r,
                to: a,
                to_port: range.ports.filter(|p| p.min == p.max).map(|p| p.min),
            });
        }
    }
    out
}

/// The outside address a DNAT rule matches (`-d`), as written.
fn outside(rule: &Rule) -> Option<String> {
    let d = rule.ip.dst.as_ref().filter(|d| !d.invert)?;
    let port = rule_conds(rule)
        .into_iter()
        .find(|k| k.field == Field::Dport && !k.invert)
        .and_then(|k| match k.want {
            Want::Ranges(r) if r.len() == 1 && r[0].0 == r[0].1 => Some(r[0].0),
            _ => None,
        });
    Some(match (d.value.prefix_len(), port) {
        (Some(32), Some(p)) => format!("{}:{p}", d.value.addr),
        (Some(32), None) => d.value.addr.to_string(),
        (_, Some(p)) => format!("{}:{p}", d.value),
        (_, None) => d.value.to_string(),
    })
}

/// DNAT rules that map different outside addresses onto one inside address:
/// whatever filters the inside address downstream (a per-address firewall on
/// the next router, as in seed 003) applies to all of them alike.
fn nat_fan_in(host: &Host) -> Vec<Finding> {
    fan_in_groups(host).into_iter().map(|g| g.finding).collect()
}

/// A `nat-fan-in` finding with the addresses it involves (inside and outside).
struct FanIn {
    addrs: Vec<Ipv4Addr>,
    finding: Finding,
}

fn fan_in_groups(host: &Host) -> Vec<FanIn> {
    let Some(nat) = host.ruleset.table(TableName::Nat) else {
        return Vec::new();
    };
    let mut by_inside: BTreeMap<Ipv4Addr, Vec<(String, Dnat)>> = BTreeMap::new();
    for d in single_dnats(nat) {
        if let Some(o) = outside(d.rule) {
            by_inside.entry(d.to).or_default().push((o, d));
        }
    }
    by_inside
        .into_iter()
        .filter_map(|(inside, ds)| {
            let outs: std::collections::BTreeSet<&str> =
                ds.iter().map(|(o, _)| o.as_str()).collect();
            let mapped: std::collections::BTreeSet<String> = ds
                .iter()
                .map(|(o, d)| match d.to_port {
                    Some(p) => format!("{o} -> {inside}:{p}"),
                    None => format!("{o} -> {inside}"),
                })
                .collect();
            let finding = Finding {
                level: Level::Warning,
                kind: "nat-fan-in",
                message: format!(
                    "DNAT maps {} outside addresses onto {inside} ({}): a filter on {inside} downstream applies to all of them alike",
                    outs.len(),
                    mapped.into_iter().collect::<Vec<_>>().join(", ")
                ),
                rules: ds.iter().map(|(_, d)| d.at.clone()).collect(),
                example: None,
            };
            let addrs = std::iter::once(inside)
                .chain(ds.iter().filter_map(|(_, d)| d.rule.ip.dst.map(|n| n.value.addr)))
                .collect();
            (outs.len() > 1).then_some(FanIn { addrs, finding })
        })
        .collect()
}

/// A packet that matches `rule`'s conditions, starting from a TCP SYN.
fn example_packet(host: &Host, rule: &Rule) -> Option<Probe> {
    let mut probe = Probe {
        packet: Packet::new(
            Ipv4Addr::new(198, 51, 100, 7),
            Ipv4Addr::new(203, 0, 113, 9),
            Transport::Tcp {
                sport: 40000,
                dport: 80,
                flags: crate::model::packet::tcp_flag::SYN,
            },
        ),
        ingress: Ingress::Interface(first_iface(host)?),
    };
    for k in rule_conds(rule) {
        if !satisfy(host, &mut probe, &k) {
            return None;
        }
    }
    Some(probe)
}

fn first_iface(host: &Host) -> Option<String> {
    host.routing
        .links
        .iter()
        .find(|l| l.name != "lo")
        .map(|l| l.name.clone())
}

/// Makes `k` hold for the probe's input fields; false when it cannot.
fn satisfy(host: &Host, probe: &mut Probe, k: &Cond) -> bool {
    match k.field {
        Field::InIface => {
            let Want::Iface(n) = &k.want else {
                return false;
            };
            let holds = |dev: &str| IfaceMatch::name_matches(n, dev) ^ k.invert;
            match host.routing.links.iter().find(|l| holds(&l.name)) {
                Some(l) => {
                    probe.ingress = Ingress::Interface(l.name.clone());
                    true
                }
                None => false,
            }
        }
        Field::CtState => matches!(&k.want, Want::States(s) if s.contains(&"NEW") ^ k.invert),
        Field::OutIface | Field::Connmark | Field::Other => false,
        f => {
            let current = super::input_value(probe, f).unwrap_or(0);
            let host_in_net = match (&k.want, f, k.invert) {
                // A host of the network, not its network or broadcast address.
                (Want::Ranges(r), Field::Src | Field::Dst, false) if !k.want.contains(current) => {
                    r.first().map(|&(a, b)| if b - a >= 2 { a + 1 } else { a })
                }
                _ => None,
            };
            host_in_net
                .or_else(|| k.nearest(current))
                .is_some_and(|v| super::set_input(probe, f, v))
        }
    }
}

/// The probe as `nftrace trace` flags.
pub fn probe_flags(p: &Probe) -> String {
    let pk = &p.packet;
    let mut s = match &p.ingress {
        Ingress::Interface(d) => format!("-i {d} -s {} -d {}", pk.src, pk.dst),
        Ingress::Local => format!("--local -d {}", pk.dst),
    };
    match pk.transport {
        Transport::Tcp { sport, dport, .. } => {
            s.push_str(&format!(" -p tcp --sport {sport} --dport {dport}"))
        }
        Transport::Udp { sport, dport } => {
            s.push_str(&format!(" -p udp --sport {sport} --dport {dport}"))
        }
        Transport::Icmp {
            icmp_type, code, ..
        } => s.push_str(&format!(" -p icmp --icmp-type {icmp_type}/{code}")),
        Transport::Other { number } => s.push_str(&format!(" -p {number}")),
    }
    if pk.mark != 0 {
        s.push_str(&format!(" --mark {:#x}", pk.mark));
    }
    s
}

/// DNAT rules none of whose packets the filter FORWARD chain accepts (its
/// policy is DROP): searched over the packets the DNAT rule takes, with the
/// first one that goes through the rule as the example.
fn dnat_without_forward(host: &Host) -> Vec<Finding> {
    let forward_drops = host
        .ruleset
        .table(TableName::Filter)
        .and_then(|t| t.chain("FORWARD"))
        .is_some_and(|c| c.policy == Some(Policy::Drop));
    let Some(nat) = host.ruleset.table(TableName::Nat).filter(|_| forward_drops) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in single_dnats(nat) {
        let Some(probe) = example_packet(host, d.rule) else {
            continue;
        };
        let t = trace(host, &probe, &TraceOptions::default());
        if !(dnat_applied(&t, d.to) && dropped_by_forward_policy(&t)) {
            continue;
        }
        let at = d.at.split(' ').next().unwrap_or_default().to_string();
        let goal = super::search::Goal {
            verdict: Some(Verdict::Accept),
            via: Some(at),
            to: None,
        };
        let opts = super::search::SearchOptions {
            max_traces: DNAT_SEARCH_BUDGET,
            ..Default::default()
        };
        let region = super::search::region_for_rule(host, d.rule);
        let found = super::search::search(host, region, &goal, &opts);
        if !found.classes.is_empty() || found.unexplored > 0 {
            continue;
        }
        out.push(Finding {
            level: Level::Error,
            kind: "dnat-without-forward",
            message: format!(
                "no packet DNATed to {} by this rule is accepted: filter FORWARD's policy is DROP and no FORWARD rule accepts them (searched {} classes)",
                d.to, found.traces
            ),
            rules: vec![d.at.clone()],
            example: Some(probe_flags(&probe)),
        });
    }
    out
}

/// Most packets traced per DNAT rule when looking for one FORWARD accepts.
const DNAT_SEARCH_BUDGET: usize = 400;

fn dnat_applied(t: &Trace, to: Ipv4Addr) -> bool {
    t.events.iter().any(|e| {
        matches!(e, Event::Nat { kind: crate::trace::event::NatKind::Dnat, new_addr, .. } if *new_addr == to)
    })
}

fn dropped_by_forward_policy(t: &Trace) -> bool {
    matches!(
        (&t.verdict, &t.disposition),
        (Verdict::Drop, Disposition::Dropped { rule: Some(r), .. })
            if r.table == TableName::Filter && r.chain == "FORWARD"
                && t.events.iter().any(|e| matches!(e, Event::Rule { rule, trace_type: crate::trace::event::TraceType::Policy, .. } if rule == r))
    )
}

/// MASQUERADE rules whose out interface has no IPv4 address, or none in the
/// subnet of a gateway routed through it: `inet_select_addr` then picks an
/// address of another subnet (or none, and the packet is dropped).
fn masquerade_without_source(host: &Host) -> Vec<Finding> {
    let Some(nat) = host.ruleset.table(TableName::Nat) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in &nat.chains {
        for (i, r) in c.rules().iter().enumerate() {
            if !matches!(r.target, Target::Masquerade { .. }) {
                continue;
            }
            let Some(o) = r.ip.out_iface.as_ref().filter(|o| !o.invert) else {
                continue;
            };
            for link in host
                .routing
                .links
                .iter()
                .filter(|l| o.value.matches(&l.name))
            {
                if let Some(msg) = masquerade_problem(host, link) {
                    out.push(Finding {
                        level: Level::Warning,
                        kind: "masquerade-no-source",
                        message: format!("MASQUERADE out {}: {msg}", link.name),
                        rules: vec![name(nat, c, i)],
                        example: None,
                    });
                }
            }
        }
    }
    out
}

fn masquerade_problem(host: &Host, link: &crate::model::routing::Link) -> Option<String> {
    let v4: Vec<ipnet::Ipv4Net> = link
        .addrs
        .iter()
        .filter_map(|a| ipnet::Ipv4Net::new(a.local, a.prefix_len).ok())
        .collect();
    // nf_nat_masquerade_ipv4: no address from inet_select_addr -> NF_DROP.
    if v4.is_empty() {
        return Some(
            "the interface has no IPv4 address: MASQUERADE drops what it would translate".into(),
        );
    }
    let gateways: Vec<Ipv4Addr> = host
        .routing
        .routes
        .iter()
        .flat_map(|r| &r.info.nexthops)
        .filter(|n| n.dev.as_deref() == Some(link.name.as_str()))
        .filter_map(|n| n.gateway)
        .collect();
    gateways
        .iter()
        .find(|g| !v4.iter().any(|n| n.contains(*g)))
        .map(|g| {
            format!(
                "gateway {g} is in none of the interface's subnets ({}): the source chosen will not be on the next hop's link",
                v4.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            )
        })
}

fn target_text(t: &Target) -> String {
    let mut out = String::new();
    crate::render::save::write_target(&mut out, t);
    out.trim_start().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The pairs found by comparing every rule with every earlier terminal rule.
    fn shadowing_pairs_by_scan(c: &Chain) -> Vec<(usize, usize)> {
        let conds: Vec<Vec<Cond>> = c.rules().iter().map(rule_conds).collect();
        let sets: Vec<RuleSets> = conds.iter().map(|k| rule_sets(k)).collect();
        let mut out = Vec::new();
        for (i, later) in conds.iter().enumerate() {
            if later.iter().any(|k| matches!(k.want, Want::Opaque)) {
                continue;
            }
            let by = (0..i)
                .filter(|&j| terminal(&c.rules()[j].target))
                .find(|&j| rule_covers(&sets[j], &sets[i]));
            out.extend(by.map(|j| (j, i)));
        }
        out
    }

    fn rule_line((dst, port, target): (usize, usize, usize)) -> String {
        let dst = [
            "",
            "-d 10.0.1.0/24 ",
            "-d 10.0.1.7/32 ",
            "-d 10.0.2.7/32 ",
            "-d 10.0.0.0/16 ",
            "! -d 10.0.1.0/24 ",
            "-d 0.0.0.0/1 ",
            "-m iprange --dst-range 10.0.1.5-10.0.1.9 ",
            "-d 0.0.0.0/0 ",
        ][dst];
        let port = [
            "",
            "-p tcp ",
            "-p tcp -m tcp --dport 22 ",
            "-p tcp -m tcp --dport 20:30 ",
        ][port];
        let target = ["-j ACCEPT", "-j DROP", "-j LOG", ""][target];
        format!("-A INPUT {dst}{port}{target}\n")
    }

    proptest! {
        #[test]
        fn the_index_finds_what_comparing_every_pair_finds(
            rules in prop::collection::vec((0usize..9, 0usize..4, 0usize..4), 1..40),
        ) {
            let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
            text.extend(rules.into_iter().map(rule_line));
            text.push_str("COMMIT\n");
            let rs = crate::parse::iptables_save::parse("t", &text)
                .map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
            let chain = &rs.tables[0].chains[0];
            prop_assert_eq!(shadowing_pairs(chain), shadowing_pairs_by_scan(chain), "{}", text);
        }
    }
}
