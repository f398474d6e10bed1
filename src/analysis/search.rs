//! `nftrace search`: the classes of packets that reach an outcome.
//!
//! The header space (source, destination, protocol, ports, ICMP type, ingress
//! interface) is explored by tracing one packet per region and asking what it
//! had to be for the walk to go the way it went (concolic exploration):
//!
//! 1. Take a region (a box: one set of intervals per dimension) and trace its
//!    first packet with every rule evaluation recorded.
//! 2. The *path condition* is the box of packets that take the same walk: for a
//!    rule that matched, every condition held; for one that did not, its first
//!    failing condition failed. Conditions on fields the walk rewrote to a
//!    constant (DNAT to one address, MARK) add nothing; routing, local
//!    addresses, conntrack entries and IPVS services split the addresses and
//!    ports at their boundaries ("atoms"), so everything they decide is also
//!    constant inside the box.
//! 3. Region ∩ path is one class with one outcome; region − path goes back on
//!    the work list.
//!
//! Classes are exact when every decision on the walk was a condition on these
//! fields. When one was not (a NAT choice hashed from the addresses, `-m string`,
//! an ipset without contents, …) the class says which, as an assumption.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::cond::{rule_conds, Cond, Field, View, Want};
use crate::check::observe::Observed;
use crate::model::packet::{proto, tcp_flag, Ingress, Packet, Transport};
use crate::model::ruleset::{IfaceMatch, Rule};
use crate::model::target::Target;
use crate::model::Host;
use crate::trace::event::{Evaluation, Event, NatKind, Seen, Trace, Verdict};
use crate::trace::{trace, Probe, TraceOptions};

/// Inclusive intervals, sorted and disjoint.
pub type Intervals = Vec<(u32, u32)>;

/// A region of the header space: a set of values per dimension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    /// Ingress interfaces (`None`: generated locally).
    pub iif: Vec<Option<String>>,
    /// Source addresses.
    pub src: Intervals,
    /// Destination addresses.
    pub dst: Intervals,
    /// Protocol numbers.
    pub proto: Intervals,
    /// TCP/UDP source ports.
    pub sport: Intervals,
    /// TCP/UDP destination ports.
    pub dport: Intervals,
    /// ICMP `type << 8 | code`.
    pub icmp: Intervals,
}

/// What the search looks for.
#[derive(Debug, Clone, Default)]
pub struct Goal {
    /// Verdict wanted (`ACCEPT` or anything else for `DROP`).
    pub verdict: Option<Verdict>,
    /// A rule the walk must match, `table:chain:rulenum`.
    pub via: Option<String>,
    /// The final destination (after NAT), and port.
    pub to: Option<(Ipv4Addr, Option<u16>)>,
}

/// A class of packets with one walk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Class {
    /// The packets.
    pub region: Region,
    /// One of them, as `nftrace trace` flags.
    pub example: String,
    /// The outcome (`ACCEPT, sent out eth0 to 10.1.1.69:22`).
    pub outcome: String,
    /// The rules that matched, in order.
    pub path: Vec<String>,
    /// Verdict and where the packet went, without the addresses (what merged
    /// classes share).
    #[serde(skip)]
    pub fate: String,
    /// Decisions on the walk the header fields do not determine.
    pub assumptions: Vec<String>,
    /// True when the class reaches the goal.
    pub reaches_goal: bool,
}

/// The result of a search.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResult {
    /// Classes that reach the goal, merged where their walks agree.
    pub classes: Vec<Class>,
    /// Classes whose example missed the goal but whose walk depended on an
    /// assumption or a per-packet choice: other packets of theirs may reach it.
    pub uncertain: Vec<Class>,
    /// Packets traced.
    pub traces: usize,
    /// Regions left unexplored when the trace budget ran out (0: complete).
    pub unexplored: usize,
}

/// Search options besides the goal.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Trace options (assumptions, forced state).
    pub trace: TraceOptions,
    /// TCP flags of the packets explored.
    pub tcp_flags: u8,
    /// Mark the packets arrive with.
    pub mark: u32,
    /// Most packets to trace.
    pub max_traces: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            trace: TraceOptions::default(),
            tcp_flags: tcp_flag::SYN,
            mark: 0,
            max_traces: 200_000,
        }
    }
}

/// Explores `start` and returns the classes that reach `goal`.
pub fn search(host: &Host, start: Region, goal: &Goal, opts: &SearchOptions) -> SearchResult {
    let atoms = Atoms::of(host);
    let recording = TraceOptions {
        record_evaluations: true,
        ..opts.trace.clone()
    };
    let mut work = vec![start];
    let mut classes: Vec<Class> = Vec::new();
    let mut conds = RuleConds::default();
    let mut traces = 0;
    while let Some(region) = work.pop() {
        if traces >= opts.max_traces {
            work.push(region);
            break;
        }
        let mut probe = representative(&region, opts.tcp_flags);
        probe.packet.mark = opts.mark;
        let t = trace(host, &probe, &recording);
        traces += 1;
        let (path, assumptions) = path_condition(host, &probe, &t, &atoms, &mut conds);
        let class_region = intersect(&region, &path);
        work.extend(subtract(&region, &path));
        let observed = Observed::new(host, &t);
        let mut assumptions = assumptions;
        assumptions.extend(
            t.assumptions
                .iter()
                .filter(|a| a.key != "input")
                .map(|a| a.text.clone()),
        );
        assumptions.sort();
        assumptions.dedup();
        classes.push(Class {
            region: class_region,
            example: super::lint::probe_flags(&probe),
            outcome: super::explain::outcome_words(&observed),
            fate: format!("{} {}", observed.verdict, observed.egress()),
            path: observed.rules.iter().map(|r| r.at.clone()).collect(),
            reaches_goal: reaches(goal, &t, &observed),
            assumptions,
        });
    }
    let unexplored = work.len();
    let (mut hits, misses): (Vec<Class>, Vec<Class>) =
        classes.into_iter().partition(|c| c.reaches_goal);
    let mut uncertain: Vec<Class> = misses
        .into_iter()
        .filter(|c| !c.assumptions.is_empty())
        .collect();
    merge(&mut hits);
    merge(&mut uncertain);
    SearchResult {
        classes: hits,
        uncertain,
        traces,
        unexplored,
    }
}

/// The packets received from outside that `rule`'s conditions on the input
/// fields allow (interfaces, addresses, protocol, ports); other conditions are
/// left to the walk.
pub fn region_for_rule(host: &Host, rule: &Rule) -> Region {
    let mut r = Region::received(host);
    let probe = representative(&r, tcp_flag::SYN);
    let view = View {
        src: 0,
        dst: 0,
        proto: 6,
        ports: Some((0, 0)),
        icmp: None,
        tcp_flags: None,
        in_dev: String::new(),
        out_dev: String::new(),
        mark: 0,
        connmark: None,
        ct_state: "NEW",
        ttl: 64,
        len: 40,
        tos: 0,
    };
    for k in rule_conds(rule) {
        match (&k.want, k.field) {
            (Want::Iface(_), Field::InIface) => {
                let any = View {
                    in_dev: super::ingress_dev(&probe).unwrap_or("").to_string(),
                    ..view.clone()
                };
                constrain_iif(&mut r, &probe, &k, &any, true);
            }
            (Want::Ranges(set), f) => {
                if let Some(dim) = dimension(&mut r, f) {
                    let keep = if k.invert {
                        super::cond::complement(set, super::cond::field_max(f))
                    } else {
                        set.clone()
                    };
                    *dim = and(dim, &keep);
                }
            }
            _ => {}
        }
    }
    r
}

/// True when the trace reaches the goal.
pub fn reaches(goal: &Goal, t: &Trace, o: &Observed) -> bool {
    let verdict_ok = match &goal.verdict {
        None => true,
        Some(Verdict::Accept) => t.verdict == Verdict::Accept,
        Some(_) => t.verdict != Verdict::Accept,
    };
    let via_ok = goal
        .via
        .as_ref()
        .is_none_or(|v| o.rules.iter().any(|r| &r.at == v));
    let to_ok = goal.to.is_none_or(|(addr, port)| {
        t.verdict == Verdict::Accept && o.dst == addr && port.is_none_or(|p| o.dport == Some(p))
    });
    verdict_ok && via_ok && to_ok
}

/// A value of `v` people recognise as an example: `preferred` when inside,
/// else a host of the first interval (not its first or last value), else its first.
fn typical(v: &Intervals, preferred: Option<u32>) -> u32 {
    if let Some(p) = preferred.filter(|p| v.iter().any(|&(a, b)| (a..=b).contains(p))) {
        return p;
    }
    match v.first() {
        Some(&(a, b)) if b - a >= 2 => a + 1,
        Some(&(a, _)) => a,
        None => 0,
    }
}

/// Example values of a search: documentation addresses, an ephemeral source
/// port, an echo request.
const EXAMPLE_SRC: u32 = 0xC633_6407; // 198.51.100.7
const EXAMPLE_DST: u32 = 0xCB00_7109; // 203.0.113.9
const EXAMPLE_SPORT: u32 = 40000;
const EXAMPLE_ICMP: u32 = 8 << 8;

/// The example packet of a region.
fn representative(r: &Region, flags: u8) -> Probe {
    let first = |v: &Intervals| v.first().map_or(0, |x| x.0);
    let number = first(&r.proto) as u8;
    let sport = typical(&r.sport, Some(EXAMPLE_SPORT)) as u16;
    let dport = first(&r.dport) as u16;
    let icmp = typical(&r.icmp, Some(EXAMPLE_ICMP));
    let transport = match number {
        proto::TCP => Transport::Tcp {
            sport,
            dport,
            flags,
        },
        proto::UDP => Transport::Udp { sport, dport },
        proto::ICMP => Transport::Icmp {
            icmp_type: (icmp >> 8) as u8,
            code: (icmp & 0xff) as u8,
            id: 1,
        },
        number => Transport::Other { number },
    };
    let ingress = match r.iif.first().cloned().flatten() {
        Some(d) => Ingress::Interface(d),
        None => Ingress::Local,
    };
    let src = Ipv4Addr::from(typical(&r.src, Some(EXAMPLE_SRC)));
    let dst = Ipv4Addr::from(typical(&r.dst, Some(EXAMPLE_DST)));
    Probe {
        packet: Packet::new(src, dst, transport),
        ingress,
    }
}

/// Boundaries that split addresses and ports where something other than a
/// rule condition decides: routes, policy rules, local addresses, special
/// address classes, conntrack entries, IPVS services.
struct Atoms {
    src: Vec<u32>,
    dst: Vec<u32>,
    port: Vec<u32>,
}

/// A boundary set for addresses.
#[derive(Default)]
struct Bounds(BTreeSet<u32>);

impl Bounds {
    /// Splits at the network's first and last address (its broadcast).
    fn net(&mut self, a: Ipv4Addr, len: u8) {
        let start = u32::from(a) & prefix_mask(len);
        let end = start | !prefix_mask(len);
        self.0.insert(start);
        self.0.insert(end);
        if let Some(next) = end.checked_add(1) {
            self.0.insert(next);
        }
    }

    fn host(&mut self, a: Ipv4Addr) {
        self.net(a, 32);
    }
}

impl Atoms {
    fn of(host: &Host) -> Atoms {
        let mut both = Bounds::default();
        let mut port: BTreeSet<u32> = BTreeSet::new();
        // ip_route_input_slow, ip_route_input_mc and addrtype single these out.
        for (a, len) in [
            ([0, 0, 0, 0], 32),
            ([0, 0, 0, 0], 8),
            ([127, 0, 0, 0], 8),
            ([224, 0, 0, 0], 4),
            ([240, 0, 0, 0], 4),
            ([255, 255, 255, 255], 32),
        ] {
            both.net(Ipv4Addr::from(a), len);
        }
        // Routes decide the source too: `fib_validate_source` looks the source up
        // (reverse path, broadcast and local sources) whenever rp_filter is on or
        // custom rules or routes make it necessary.
        for r in &host.routing.routes {
            both.net(r.dst.addr(), r.dst.prefix_len());
        }
        for l in &host.routing.links {
            for a in &l.addrs {
                both.host(a.local);
                both.net(a.local, a.prefix_len);
            }
        }
        for r in &host.routing.rules {
            for n in [r.from, r.to].into_iter().flatten() {
                both.net(n.addr(), n.prefix_len());
            }
            for (a, b) in [r.sport, r.dport].into_iter().flatten() {
                port.insert(a.into());
                port.insert(u32::from(b) + 1);
            }
        }
        for e in host.conntrack.entries() {
            for t in [&e.orig, &e.reply] {
                both.host(t.src);
                both.host(t.dst);
                for p in [t.sport, t.dport] {
                    port.insert(p.into());
                    port.insert(u32::from(p) + 1);
                }
            }
        }
        for s in &host.ipvs.services {
            if let crate::model::ipvs::ServiceKey::Addr { vip, port: p, .. } = s.key {
                both.host(vip);
                port.insert(p.into());
                port.insert(u32::from(p) + 1);
            }
        }
        let all: Vec<u32> = both.0.into_iter().collect();
        Atoms {
            src: all.clone(),
            dst: all,
            port: port.into_iter().collect(),
        }
    }

    /// The atom `[a, b]` around `v`: no boundary inside but at `a`.
    fn around(bounds: &[u32], v: u32, max: u32) -> (u32, u32) {
        let i = bounds.partition_point(|&b| b <= v);
        let lo = if i == 0 { 0 } else { bounds[i - 1] };
        let hi = bounds.get(i).map_or(max, |&b| b - 1);
        (lo, hi)
    }
}

/// Where conntrack's view of ICMP types changes (`icmp_new`, `icmp_error`,
/// `nf_conntrack_invert_icmp_tuple`): replies 0, 14, 16, 18; errors 3-5,
/// 11-12; requests 8, 13, 15, 17; anything else INVALID.
const ICMP_CLASSES: [u32; 14] = [0, 1, 3, 6, 8, 9, 11, 13, 14, 15, 16, 17, 18, 19];

fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// The full region of the probe's dimensions, as a path condition starts.
fn everything(probe: &Probe) -> Region {
    Region {
        iif: vec![match &probe.ingress {
            Ingress::Interface(d) => Some(d.clone()),
            Ingress::Local => None,
        }],
        src: vec![(0, u32::MAX)],
        dst: vec![(0, u32::MAX)],
        proto: vec![(probe.packet.proto().into(), probe.packet.proto().into())],
        sport: vec![(0, 0xffff)],
        dport: vec![(0, 0xffff)],
        icmp: vec![(0, 0xffff)],
    }
}

/// Fields a NAT of this trace rewrote in a way that is not one constant.
#[derive(Default)]
struct Rewrites {
    /// Fields rewritten to a value that depends on the packet (hash, NETMAP).
    varying: Vec<Field>,
}

fn rewrites(host: &Host, t: &Trace) -> Rewrites {
    let mut out = Rewrites::default();
    for e in &t.events {
        let Event::Nat {
            kind,
            rule,
            old_addr,
            new_addr,
            old_port,
            new_port,
            ..
        } = e
        else {
            continue;
        };
        let (addr_field, port_field) = match kind {
            NatKind::Dnat => (Field::Dst, Field::Dport),
            NatKind::Snat => (Field::Src, Field::Sport),
        };
        let single = rule
            .as_ref()
            .and_then(|r| rule_by_ref(host, r))
            .map(single_valued);
        let (addr_single, port_single) = single.unwrap_or((false, false));
        if old_addr != new_addr && !addr_single {
            out.varying.push(addr_field);
        }
        if old_port != new_port && !port_single {
            out.varying.push(port_field);
        }
    }
    out
}

fn rule_by_ref<'h>(host: &'h Host, r: &crate::trace::event::RuleRef) -> Option<&'h Rule> {
    let t = host.ruleset.table(r.table)?;
    t.chain(&r.chain)?
        .rules()
        .get(usize::try_from(r.rulenum).ok()?.checked_sub(1)?)
}

/// Whether a NAT rule maps to one address and one port.
fn single_valued(rule: &Rule) -> (bool, bool) {
    match &rule.target {
        Target::Dnat { ranges, .. } | Target::Snat { ranges, .. } => match ranges.as_slice() {
            [r] => (
                r.addrs.is_none_or(|(a, b)| a == b),
                r.ports.is_none_or(|p| p.min == p.max),
            ),
            _ => (false, false),
        },
        Target::Redirect { ports, .. } | Target::Masquerade { ports, .. } => {
            (true, ports.is_none_or(|p| p.min == p.max))
        }
        _ => (false, false),
    }
}

/// Each rule's conditions ([`rule_conds`]), worked out the first time a walk
/// meets the rule: a search walks the same rules hundreds of thousands of times.
#[derive(Default)]
struct RuleConds(Vec<Vec<Vec<Option<Vec<Cond>>>>>);

impl RuleConds {
    /// The conditions of the rule `e` evaluated: indexed by table, chain and
    /// rule, as a walk's evaluations are.
    fn of(&mut self, rule: &Rule, e: &Evaluation) -> &[Cond] {
        let tables = grown(&mut self.0, e.table as usize);
        let chains = grown(tables, e.chain);
        grown(chains, e.rule).get_or_insert_with(|| rule_conds(rule))
    }
}

/// `v[i]`, growing `v` with defaults to reach it.
fn grown<T: Default>(v: &mut Vec<T>, i: usize) -> &mut T {
    if v.len() <= i {
        v.resize_with(i + 1, T::default);
    }
    &mut v[i]
}

/// The region of packets that take the walk `t` took, and what it assumed.
fn path_condition(
    host: &Host,
    probe: &Probe,
    t: &Trace,
    atoms: &Atoms,
    conds: &mut RuleConds,
) -> (Region, Vec<String>) {
    let mut region = everything(probe);
    let mut notes = Vec::new();
    let varying = rewrites(host, t).varying;
    for f in &varying {
        notes.push(format!(
            "{} is translated to a value chosen per packet (a NAT range or NETMAP): packets of this class may take other translations",
            f.name()
        ));
    }
    // One view per run of evaluations that saw the same packet.
    let mut view: Option<(&Arc<Seen>, View)> = None;
    for e in &t.evaluations {
        let Some(rule) = rule_of(host, e) else {
            continue;
        };
        if !view.as_ref().is_some_and(|(s, _)| Arc::ptr_eq(s, &e.seen)) {
            view = None;
        }
        let (_, seen_as) = view.get_or_insert_with(|| (&e.seen, View::of(e)));
        let conds = conds.of(rule, e);
        constrain_rule(
            &mut region,
            probe,
            conds,
            e.matched,
            seen_as,
            &varying,
            &mut notes,
        );
    }
    apply_atoms(&mut region, probe, atoms);
    (region, notes)
}

fn rule_of<'h>(host: &'h Host, e: &Evaluation) -> Option<&'h Rule> {
    host.ruleset
        .table(e.table)?
        .chains
        .get(e.chain)?
        .rules()
        .get(e.rule)
}

/// Narrows `region` so that the rule of `e` decides the same for all of it.
fn constrain_rule(
    region: &mut Region,
    probe: &Probe,
    conds: &[Cond],
    matched: bool,
    view: &View,
    varying: &[Field],
    notes: &mut Vec<String>,
) {
    if matched {
        for k in conds {
            constrain(region, probe, k, view, true, varying, notes);
        }
        return;
    }
    // One failing condition keeps the rule from matching for the whole class.
    let first_false = conds.iter().find(|k| k.holds(view) == Some(false));
    match first_false {
        Some(k) => constrain(region, probe, k, view, false, varying, notes),
        None => {
            for k in conds {
                constrain(
                    region,
                    probe,
                    k,
                    view,
                    k.holds(view).unwrap_or(false),
                    varying,
                    notes,
                );
            }
        }
    }
}

/// The input dimension a field is, when the value the rule saw is the
/// packet's own (not rewritten).
fn dimension(region: &mut Region, f: Field) -> Option<&mut Intervals> {
    Some(match f {
        Field::Src => &mut region.src,
        Field::Dst => &mut region.dst,
        Field::Proto => &mut region.proto,
        Field::Sport => &mut region.sport,
        Field::Dport => &mut region.dport,
        Field::Icmp => &mut region.icmp,
        _ => return None,
    })
}

fn constrain(
    region: &mut Region,
    probe: &Probe,
    k: &Cond,
    view: &View,
    held: bool,
    varying: &[Field],
    notes: &mut Vec<String>,
) {
    match (&k.want, k.field) {
        (Want::Iface(_), Field::InIface) => {
            constrain_iif(region, probe, k, view, held);
            return;
        }
        (Want::Opaque, _) => {
            opaque_note(k, notes);
            return;
        }
        _ => {}
    }
    let input = super::input_value(probe, k.field);
    let seen = view.number(k.field);
    if seen.is_none() || input != seen {
        // A field the packet lacks here (ports of ICMP) or one a constant
        // translation rewrote: the same for the whole class.
        if varying.contains(&k.field) && seen.is_some() {
            notes.push(format!(
                "`{}` is decided on a translated {}",
                k.text,
                k.field.name()
            ));
        }
        return;
    }
    let Some(dim) = dimension(region, k.field) else {
        return;
    };
    let set = match &k.want {
        Want::Ranges(r) => r.clone(),
        Want::Masked { bits, mask } => {
            match masked_intervals(*bits, *mask, super::cond::field_max(k.field)) {
                Some(s) => s,
                None => return opaque_note(k, notes),
            }
        }
        _ => return,
    };
    let keep = if held ^ k.invert {
        set
    } else {
        super::cond::complement(&set, super::cond::field_max(k.field))
    };
    *dim = and(dim, &keep);
}

fn opaque_note(k: &Cond, notes: &mut Vec<String>) {
    let n = format!(
        "`{}` is decided per packet by the evaluator; the class assumes the same result for all its packets",
        k.text
    );
    if !notes.contains(&n) {
        notes.push(n);
    }
}

fn constrain_iif(region: &mut Region, probe: &Probe, k: &Cond, view: &View, held: bool) {
    let input = super::ingress_dev(probe).unwrap_or("");
    if view.in_dev != input {
        return;
    }
    let Want::Iface(name) = &k.want else { return };
    let holds = |d: &str| IfaceMatch::name_matches(name, d) ^ k.invert;
    region
        .iif
        .retain(|d| holds(d.as_deref().unwrap_or("")) == held);
}

/// The values of `0..=max` with `(v & mask) == bits`, as intervals: one
/// interval for a prefix mask, an enumeration for small fields, else `None`.
fn masked_intervals(bits: u32, mask: u32, max: u32) -> Option<Intervals> {
    if mask.leading_ones() + mask.trailing_zeros() == 32 {
        return Some(vec![(bits & mask, (bits & mask) | (!mask & max))]);
    }
    (max <= 0xffff).then(|| {
        super::cond::normalize(
            (0..=max)
                .filter(|v| v & mask == bits)
                .map(|v| (v, v))
                .collect(),
        )
    })
}

fn apply_atoms(region: &mut Region, probe: &Probe, atoms: &Atoms) {
    let p = &probe.packet;
    let src = Atoms::around(&atoms.src, p.src.into(), u32::MAX);
    let dst = Atoms::around(&atoms.dst, p.dst.into(), u32::MAX);
    region.src = and(&region.src, &[src]);
    region.dst = and(&region.dst, &[dst]);
    // Conntrack classes ICMP by type (icmp_new, icmp_error): requests are NEW,
    // errors look for the connection inside, anything else is INVALID.
    if let Transport::Icmp { icmp_type, .. } = p.transport {
        let (lo, hi) = Atoms::around(&ICMP_CLASSES, icmp_type.into(), 255);
        region.icmp = and(&region.icmp, &[(lo << 8, hi << 8 | 0xff)]);
    }
    if let Some((s, d)) = p.transport.ports() {
        let sp = Atoms::around(&atoms.port, s.into(), 0xffff);
        let dp = Atoms::around(&atoms.port, d.into(), 0xffff);
        region.sport = and(&region.sport, &[sp]);
        region.dport = and(&region.dport, &[dp]);
    }
}

/// Intersection of two interval sets.
pub fn and(a: &[(u32, u32)], b: &[(u32, u32)]) -> Intervals {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// `a` without `b`.
pub fn minus(a: &[(u32, u32)], b: &[(u32, u32)]) -> Intervals {
    let nb = super::cond::complement(b, u32::MAX);
    and(a, &nb)
}

fn intersect(a: &Region, b: &Region) -> Region {
    Region {
        iif: a
            .iif
            .iter()
            .filter(|d| b.iif.contains(d))
            .cloned()
            .collect(),
        src: and(&a.src, &b.src),
        dst: and(&a.dst, &b.dst),
        proto: and(&a.proto, &b.proto),
        sport: and(&a.sport, &b.sport),
        dport: and(&a.dport, &b.dport),
        icmp: and(&a.icmp, &b.icmp),
    }
}

impl Region {
    /// Every packet of tcp, udp and icmp received on any interface but `lo`.
    pub fn received(host: &Host) -> Region {
        Region {
            iif: host
                .routing
                .links
                .iter()
                .filter(|l| l.name != "lo")
                .map(|l| Some(l.name.clone()))
                .collect(),
            src: vec![(0, u32::MAX)],
            dst: vec![(0, u32::MAX)],
            proto: vec![(1, 1), (6, 6), (17, 17)],
            sport: vec![(0, 0xffff)],
            dport: vec![(0, 0xffff)],
            icmp: vec![(0, 0xffff)],
        }
    }

    fn is_empty(&self) -> bool {
        self.iif.is_empty()
            || self.src.is_empty()
            || self.dst.is_empty()
            || self.proto.is_empty()
            || self.sport.is_empty()
            || self.dport.is_empty()
            || self.icmp.is_empty()
    }

    fn dims(&self) -> [&Intervals; 6] {
        [
            &self.src,
            &self.dst,
            &self.proto,
            &self.sport,
            &self.dport,
            &self.icmp,
        ]
    }

    fn dims_mut(&mut self) -> [&mut Intervals; 6] {
        [
            &mut self.src,
            &mut self.dst,
            &mut self.proto,
            &mut self.sport,
            &mut self.dport,
            &mut self.icmp,
        ]
    }

    /// True when the packet of these values lies in the region.
    pub fn contains(&self, probe: &Probe) -> bool {
        let p = &probe.packet;
        let iif = super::ingress_dev(probe).map(str::to_string);
        let inside = |v: &Intervals, x: u32| v.iter().any(|&(a, b)| (a..=b).contains(&x));
        let (s, d) = p.transport.ports().unwrap_or((0, 0));
        let icmp = super::input_value(probe, Field::Icmp).unwrap_or(0);
        let has_ports = p.transport.ports().is_some();
        self.iif.contains(&iif)
            && inside(&self.src, p.src.into())
            && inside(&self.dst, p.dst.into())
            && inside(&self.proto, p.proto().into())
            && (!has_ports || (inside(&self.sport, s.into()) && inside(&self.dport, d.into())))
            && (p.proto() != proto::ICMP || inside(&self.icmp, icmp))
    }
}

/// `a − b` as disjoint regions.
fn subtract(a: &Region, b: &Region) -> Vec<Region> {
    let mut out = Vec::new();
    let mut rest = a.clone();
    // Interfaces first, then the numeric dimensions.
    let outside_iif: Vec<Option<String>> = rest
        .iif
        .iter()
        .filter(|d| !b.iif.contains(d))
        .cloned()
        .collect();
    if !outside_iif.is_empty() {
        out.push(Region {
            iif: outside_iif,
            ..rest.clone()
        });
    }
    rest.iif.retain(|d| b.iif.contains(d));
    for i in 0..6 {
        let outside = minus(rest.dims()[i], b.dims()[i]);
        if !outside.is_empty() {
            let mut piece = rest.clone();
            *piece.dims_mut()[i] = outside;
            out.push(piece);
        }
        let inside = and(rest.dims()[i], b.dims()[i]);
        *rest.dims_mut()[i] = inside;
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Merges classes with the same walk and outcome whose regions differ in one
/// dimension only, group by group.
fn merge(classes: &mut Vec<Class>) {
    let mut groups: Vec<Vec<Class>> = Vec::new();
    let mut index: std::collections::HashMap<(String, Vec<String>), usize> =
        std::collections::HashMap::new();
    for c in classes.drain(..) {
        let key = (c.fate.clone(), c.path.clone());
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(c);
    }
    for mut g in groups {
        merge_group(&mut g);
        classes.extend(g);
    }
}

fn merge_group(classes: &mut Vec<Class>) {
    let mut changed = true;
    while changed {
        changed = false;
        let mut i = 0;
        while i < classes.len() {
            let mut j = i + 1;
            while j < classes.len() {
                if let Some(r) = union_if_one_dim(&classes[i], &classes[j]) {
                    classes[i].region = r;
                    let gone = classes.swap_remove(j);
                    for a in gone.assumptions {
                        if !classes[i].assumptions.contains(&a) {
                            classes[i].assumptions.push(a);
                        }
                    }
                    changed = true;
                } else {
                    j += 1;
                }
            }
            i += 1;
        }
    }
    classes.sort_by(|a, b| a.example.cmp(&b.example));
}

fn union_if_one_dim(a: &Class, b: &Class) -> Option<Region> {
    if a.fate != b.fate || a.path != b.path {
        return None;
    }
    let (ra, rb) = (&a.region, &b.region);
    let iif_same = ra.iif == rb.iif;
    let differing: Vec<usize> = (0..6).filter(|&i| ra.dims()[i] != rb.dims()[i]).collect();
    let mut r = ra.clone();
    match (iif_same, differing.as_slice()) {
        (true, [i]) => {
            let mut both = ra.dims()[*i].clone();
            both.extend(rb.dims()[*i].iter().copied());
            *r.dims_mut()[*i] = super::cond::normalize(both);
        }
        (false, []) => {
            r.iif.extend(rb.iif.iter().cloned());
        }
        (true, []) => {}
        _ => return None,
    }
    Some(r)
}

/// A region printed per dimension (`src 10.0.0.0-10.0.0.255`).
pub fn describe(r: &Region) -> Vec<(String, String)> {
    let protos: Vec<u32> = r.proto.iter().flat_map(|&(a, b)| a..=b).take(8).collect();
    let has_ports = protos.iter().any(|&p| p == 6 || p == 17);
    let has_icmp = protos.contains(&1);
    let mut out = vec![
        (
            "iif".to_string(),
            r.iif
                .iter()
                .map(|d| d.clone().unwrap_or_else(|| "local".into()))
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("src".into(), addrs(&r.src)),
        ("dst".into(), addrs(&r.dst)),
        ("proto".into(), list(Field::Proto, &r.proto)),
    ];
    if has_ports {
        out.push(("sport".into(), list(Field::Sport, &r.sport)));
        out.push(("dport".into(), list(Field::Dport, &r.dport)));
    }
    if has_icmp {
        out.push(("icmp".into(), list(Field::Icmp, &r.icmp)));
    }
    out
}

fn addrs(v: &Intervals) -> String {
    if v == &[(0, u32::MAX)] {
        return "any".into();
    }
    v.iter()
        .map(|&(a, b)| cidr_or_range(a, b))
        .collect::<Vec<_>>()
        .join(",")
}

fn cidr_or_range(a: u32, b: u32) -> String {
    let size = u64::from(b) - u64::from(a) + 1;
    if size.is_power_of_two() && u64::from(a) % size == 0 {
        let len = 32 - size.trailing_zeros();
        if len == 32 {
            return Ipv4Addr::from(a).to_string();
        }
        return format!("{}/{len}", Ipv4Addr::from(a));
    }
    format!("{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(b))
}

fn list(f: Field, v: &Intervals) -> String {
    if v == &[(0, super::cond::field_max(f))] {
        return "any".into();
    }
    v.iter()
        .map(|&(a, b)| {
            if a == b {
                super::cond::show_value(f, a)
            } else {
                format!(
                    "{}-{}",
                    super::cond::show_value(f, a),
                    super::cond::show_value(f, b)
                )
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_algebra() {
        assert_eq!(
            and(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(5, 10), (20, 25)]
        );
        assert_eq!(minus(&[(0, 10)], &[(3, 4)]), vec![(0, 2), (5, 10)]);
        assert_eq!(Atoms::around(&[10, 20], 15, 100), (10, 19));
        assert_eq!(Atoms::around(&[10, 20], 5, 100), (0, 9));
        assert_eq!(Atoms::around(&[10, 20], 25, 100), (20, 100));
    }

    #[test]
    fn cidr_printing() {
        assert_eq!(cidr_or_range(0x0a000000, 0x0a0000ff), "10.0.0.0/24");
        assert_eq!(cidr_or_range(0x0a000001, 0x0a000001), "10.0.0.1");
        assert_eq!(cidr_or_range(0x0a000001, 0x0a000005), "10.0.0.1-10.0.0.5");
    }
}
