//! Routing decisions: policy rules, table lookup, input/output routes, source
//! address selection and address types. Pure functions over [`Routing`].
//!
//! Read first: ../shared/docs/kernel-semantics.md §5.2 (`inet_select_addr`), §6 (policy
//! routing, `fib_table_lookup`, input and output routes) and §7 (`addrtype`). Kernel files:
//! net/core/fib_rules.c, net/ipv4/fib_rules.c, net/ipv4/fib_trie.c, net/ipv4/route.c,
//! net/ipv4/devinet.c, net/ipv4/fib_frontend.c.

use std::fmt;
use std::net::Ipv4Addr;

use crate::model::routing::{
    table_id, FibRule, Link, NexthopFlags, Route, RouteType, Routing, RuleAction, Scope,
};

/// Upper bound on `goto` jumps in one lookup (the kernel forbids backward gotos, so
/// this only guards against inconsistent dumps).
const MAX_GOTOS: usize = 64;

/// The lookup key (≈ `struct flowi4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowKey {
    /// `daddr`
    pub dst: Ipv4Addr,
    /// `saddr`; [`Ipv4Addr::UNSPECIFIED`] when not chosen yet.
    pub src: Ipv4Addr,
    /// Ingress device (`flowi4_iif`). `None` = locally generated output lookup, which
    /// the kernel performs with `iif = lo` (`ip_route_output_key_hash`), so `iif lo` rules match it.
    pub iif: Option<String>,
    /// Bound output device (`flowi4_oif`): sockets bound to a device or VRF.
    pub oif: Option<String>,
    /// `flowi4_mark` (skb mark / `SO_MARK`).
    pub mark: u32,
    /// TOS byte (`flowi4_tos`).
    pub tos: u8,
    /// IP protocol number (`flowi4_proto`).
    pub proto: u8,
    /// Source port (TCP/UDP/SCTP), for `sport` rules.
    pub sport: Option<u16>,
    /// Destination port, for `dport` rules.
    pub dport: Option<u16>,
    /// `flowi4_uid`: the socket's uid; 0 for input and forwarded lookups.
    pub uid: u32,
}

impl FlowKey {
    /// A locally generated flow to `dst` with every other field unset.
    pub fn to(dst: Ipv4Addr) -> FlowKey {
        FlowKey {
            dst,
            src: Ipv4Addr::UNSPECIFIED,
            iif: None,
            oif: None,
            mark: 0,
            tos: 0,
            proto: 0,
            sport: None,
            dport: None,
            uid: 0,
        }
    }

    /// The iif the rules see: the ingress device, or `lo` for output lookups.
    fn flow_iif(&self) -> &str {
        self.iif.as_deref().unwrap_or("lo")
    }
}

/// Why a lookup failed (the errno `fib_lookup` returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FibError {
    /// -ENETUNREACH: no rule produced a route (-ESRCH), or an `unreachable` rule.
    NetUnreachable,
    /// -EHOSTUNREACH: an `unreachable` route.
    HostUnreachable,
    /// -EACCES: a `prohibit` route or rule (also OpenWrt `failed_policy`).
    Prohibit,
    /// -EINVAL: a `blackhole` route or rule.
    Blackhole,
}

impl FibError {
    /// The errno name.
    pub fn errno(self) -> &'static str {
        match self {
            FibError::NetUnreachable => "ENETUNREACH",
            FibError::HostUnreachable => "EHOSTUNREACH",
            FibError::Prohibit => "EACCES",
            FibError::Blackhole => "EINVAL",
        }
    }

    /// The error `fib_props[type].error` gives a route type, if any.
    fn of_route(kind: RouteType) -> Option<FibError> {
        match kind {
            RouteType::Blackhole => Some(FibError::Blackhole),
            RouteType::Unreachable => Some(FibError::HostUnreachable),
            RouteType::Prohibit => Some(FibError::Prohibit),
            _ => None,
        }
    }

    /// The error `fib4_rule_action` returns for a rule action, if it is one.
    fn of_action(action: RuleAction) -> Option<FibError> {
        match action {
            RuleAction::Unreachable => Some(FibError::NetUnreachable),
            RuleAction::Prohibit | RuleAction::FailedPolicy => Some(FibError::Prohibit),
            RuleAction::Blackhole => Some(FibError::Blackhole),
            RuleAction::Lookup(_) | RuleAction::Goto(_) | RuleAction::Nop => None,
        }
    }
}

impl fmt::Display for FibError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            FibError::NetUnreachable => "network unreachable",
            FibError::HostUnreachable => "host unreachable",
            FibError::Prohibit => "prohibited",
            FibError::Blackhole => "blackhole",
        };
        write!(f, "{text} (-{})", self.errno())
    }
}

/// A successful lookup (≈ `struct fib_result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibMatch {
    /// Index into `Routing::routes`.
    pub route: usize,
    /// Index of the chosen nexthop within the route (`None` when it has none).
    pub nexthop: Option<usize>,
    /// Nexthop device.
    pub dev: Option<String>,
    /// Nexthop gateway (`None` = directly connected).
    pub gateway: Option<Ipv4Addr>,
    /// Route type (unicast, local, broadcast, …).
    pub kind: RouteType,
    /// Table the route came from.
    pub table: u32,
    /// Index into `Routing::rules` of the rule whose lookup gave the route.
    pub rule: usize,
}

/// How a lookup ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibOutcome {
    /// A route was found.
    Route(FibMatch),
    /// The lookup failed; `route`/`rule` name what caused it (both `None` for -ESRCH).
    Error {
        /// The errno.
        error: FibError,
        /// The `unreachable`/`prohibit`/`blackhole` route, if a route caused it.
        route: Option<usize>,
        /// The rule that was being evaluated, if any.
        rule: Option<usize>,
    },
}

/// What a table lookup gave (`fib_table_lookup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TableResult {
    /// No prefix matched (-EAGAIN): continue with the next rule.
    NoRoute,
    /// A `throw` route matched (-EAGAIN): continue with the next rule.
    Throw {
        /// Route index.
        route: usize,
    },
    /// `suppress_prefixlength`/`suppress_ifgroup` rejected the result: continue.
    Suppressed {
        /// Route index.
        route: usize,
    },
    /// An error route matched: the lookup stops.
    Error {
        /// Route index.
        route: usize,
        /// The errno.
        error: FibError,
    },
    /// The route was chosen: the lookup stops.
    Chosen {
        /// Route index.
        route: usize,
    },
}

/// What one policy rule did during a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StepVerdict {
    /// The selectors did not match.
    NoMatch,
    /// `nop`: continue.
    Nop,
    /// `goto`: jump to the rule at this index (`None` = unresolved, continue).
    Goto {
        /// Target rule index.
        target: Option<usize>,
    },
    /// `lookup TABLE` and its result.
    Table {
        /// The table looked up.
        table: u32,
        /// What it gave.
        result: TableResult,
    },
    /// `lookup [l3mdev-table]` with no VRF device in the flow: the rule does not match.
    NoL3mdev,
    /// `unreachable`/`prohibit`/`blackhole` rule action.
    Action(FibError),
}

/// One policy rule considered during a lookup, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleStep {
    /// Index into `Routing::rules`.
    pub rule: usize,
    /// The rule's pref.
    pub pref: u32,
    /// What happened.
    pub verdict: StepVerdict,
}

impl RuleStep {
    /// One line for people: `32765: from all fwmark 0x1 lookup DSL → default via … dev eth4`.
    pub fn describe(&self, routing: &Routing) -> String {
        let rule = routing
            .rules
            .get(self.rule)
            .map_or("", |r| rule_body(&r.text));
        let route = |i: usize| routing.routes.get(i).map_or("?", |r| r.text.as_str());
        let what = match self.verdict {
            StepVerdict::NoMatch => "no match".to_string(),
            StepVerdict::Nop => "nop, continue".to_string(),
            StepVerdict::Goto { target: Some(t) } => {
                let pref = routing.rules.get(t).map_or(0, |r| r.pref);
                format!("goto {pref}")
            }
            StepVerdict::Goto { target: None } => "goto unresolved, continue".to_string(),
            StepVerdict::NoL3mdev => "no VRF device in the flow, no match".to_string(),
            StepVerdict::Action(e) => e.to_string(),
            StepVerdict::Table { table, result } => {
                let t = routing.table_name(table);
                match result {
                    TableResult::NoRoute => format!("table {t}: no route, continue"),
                    TableResult::Throw { route: r } => format!("{}: throw, continue", route(r)),
                    TableResult::Suppressed { route: r } => {
                        format!("{}: suppressed, continue", route(r))
                    }
                    TableResult::Error { route: r, error } => format!("{}: {error}", route(r)),
                    TableResult::Chosen { route: r } => route(r).to_string(),
                }
            }
        };
        format!("{}: {rule} → {what}", self.pref)
    }
}

/// The rule text after `PREF:`.
fn rule_body(text: &str) -> &str {
    text.split_once(':').map_or(text, |(_, b)| b.trim())
}

/// The result of [`fib_lookup`], with every rule considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibResult {
    /// How it ended.
    pub outcome: FibOutcome,
    /// Each rule considered, in order.
    pub steps: Vec<RuleStep>,
    /// Guesses made (multipath choice, …).
    pub assumptions: Vec<String>,
}

impl FibResult {
    /// The route found, if any.
    pub fn matched(&self) -> Option<&FibMatch> {
        match &self.outcome {
            FibOutcome::Route(m) => Some(m),
            FibOutcome::Error { .. } => None,
        }
    }
}

/// What `fib_table_lookup` returns inside one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableLookup {
    /// Nothing matched (-EAGAIN).
    NotFound,
    /// A `throw` route (-EAGAIN).
    Throw(usize),
    /// An error route.
    Error(usize, FibError),
    /// A usable route and the first usable nexthop (`None` when the route has none).
    Found(usize, Option<usize>),
}

/// Looks `key` up in one table. Mirrors `fib_table_lookup()` (net/ipv4/fib_trie.c):
/// longest prefix first; within a prefix, aliases ordered by tos (specific first) then
/// metric; an alias is skipped when its tos ≠ the flow's, when it is dead, or when no
/// nexthop is usable (dead, or `oif` given and the nexthop device differs), and
/// shorter prefixes are tried next. Error types return before nexthops are looked at.
pub fn fib_table_lookup(routing: &Routing, table: u32, key: &FlowKey) -> TableLookup {
    for i in candidates(routing, table, key.dst) {
        let Some(route) = routing.routes.get(i) else {
            continue;
        };
        if route.tos != 0 && route.tos != key.tos {
            continue;
        }
        if route.kind == RouteType::Throw {
            return TableLookup::Throw(i);
        }
        if let Some(e) = FibError::of_route(route.kind) {
            return TableLookup::Error(i, e);
        }
        if route.info.nexthops.is_empty() && key.oif.is_none() {
            return TableLookup::Found(i, None);
        }
        if let Some(nh) = first_good_nexthop(route, key) {
            return TableLookup::Found(i, Some(nh));
        }
    }
    TableLookup::NotFound
}

/// Indices of the routes of `table` covering `dst`, in `fib_table_lookup` order.
fn candidates(routing: &Routing, table: u32, dst: Ipv4Addr) -> Vec<usize> {
    let mut found = routing.routes_covering(table, dst);
    found.sort_by_key(|&i| {
        let r = routing.routes.get(i);
        let len = r.map_or(0, |r| r.dst.prefix_len());
        let tos = r.map_or(0, |r| r.tos);
        let metric = r.map_or(0, |r| r.info.metric);
        (std::cmp::Reverse(len), std::cmp::Reverse(tos), metric)
    });
    found
}

/// `fib_lookup_good_nhc`: not dead, and on `oif` when the flow has one.
/// (`linkdown` nexthops stay usable: `ignore_routes_with_linkdown` defaults to 0.)
fn first_good_nexthop(route: &Route, key: &FlowKey) -> Option<usize> {
    route.info.nexthops.iter().position(|nh| {
        let dead = nh.flags.contains(NexthopFlags::DEAD);
        let oif_ok = key
            .oif
            .as_deref()
            .is_none_or(|o| nh.dev.as_deref() == Some(o));
        !dead && oif_ok
    })
}

/// Policy routing lookup. Mirrors `fib_rules_lookup()` (net/core/fib_rules.c) with
/// `fib4_rule_action`/`fib4_rule_suppress` (net/ipv4/fib_rules.c): rules in pref order;
/// `goto` jumps, `nop` continues; a table with no route or a `throw` route continues
/// with the next rule; suppressed results continue; no result at all is -ESRCH,
/// which `__fib_lookup` turns into -ENETUNREACH.
pub fn fib_lookup(routing: &Routing, key: &FlowKey) -> FibResult {
    let mut res = FibResult {
        outcome: FibOutcome::Error {
            error: FibError::NetUnreachable,
            route: None,
            rule: None,
        },
        steps: Vec::new(),
        assumptions: Vec::new(),
    };
    let mut i = 0;
    let mut gotos = 0;
    while let Some(rule) = routing.rules.get(i) {
        let (verdict, next) = evaluate_rule(routing, i, rule, key, &mut gotos);
        res.steps.push(RuleStep {
            rule: i,
            pref: rule.pref,
            verdict,
        });
        if let Some(outcome) = rule_outcome(routing, i, verdict, key, &mut res.assumptions) {
            res.outcome = outcome;
            return res;
        }
        i = next;
    }
    res
}

/// One rule: its verdict and the index of the rule to consider next.
fn evaluate_rule(
    routing: &Routing,
    i: usize,
    rule: &FibRule,
    key: &FlowKey,
    gotos: &mut usize,
) -> (StepVerdict, usize) {
    if !fib_rule_match(routing, rule, key) {
        return (StepVerdict::NoMatch, i + 1);
    }
    match rule.action {
        RuleAction::Goto(pref) => {
            let target = goto_target(routing, pref).filter(|&t| t > i && *gotos < MAX_GOTOS);
            *gotos += 1;
            (StepVerdict::Goto { target }, target.unwrap_or(i + 1))
        }
        RuleAction::Nop => (StepVerdict::Nop, i + 1),
        RuleAction::Lookup(table) => (lookup_verdict(routing, rule, table, key), i + 1),
        action => match FibError::of_action(action) {
            Some(e) => (StepVerdict::Action(e), i + 1),
            None => (StepVerdict::Nop, i + 1),
        },
    }
}

/// The rule a `goto PREF` lands on: the first rule with that pref (`fib_nl_newrule` ctarget).
fn goto_target(routing: &Routing, pref: u32) -> Option<usize> {
    routing.rules.iter().position(|r| r.pref == pref)
}

/// `lookup TABLE` (or the VRF's table for `lookup [l3mdev-table]`), then suppression.
fn lookup_verdict(routing: &Routing, rule: &FibRule, table: u32, key: &FlowKey) -> StepVerdict {
    let table = if rule.l3mdev {
        match l3mdev_table(routing, key) {
            Some(t) => t,
            None => return StepVerdict::NoL3mdev,
        }
    } else {
        table
    };
    let result = match fib_table_lookup(routing, table, key) {
        TableLookup::NotFound => TableResult::NoRoute,
        TableLookup::Throw(route) => TableResult::Throw { route },
        TableLookup::Error(route, error) => TableResult::Error { route, error },
        TableLookup::Found(route, nh) if suppressed(routing, rule, route, nh) => {
            TableResult::Suppressed { route }
        }
        TableLookup::Found(route, _) => TableResult::Chosen { route },
    };
    StepVerdict::Table { table, result }
}

/// `fib4_rule_suppress`: prefix length ≤ `suppress_prefixlength`, or the nexthop device
/// in `suppress_ifgroup`.
fn suppressed(routing: &Routing, rule: &FibRule, route: usize, nh: Option<usize>) -> bool {
    let Some(r) = routing.routes.get(route) else {
        return false;
    };
    let by_len = rule
        .suppress_prefixlength
        .is_some_and(|n| r.dst.prefix_len() <= n);
    let dev = nh
        .and_then(|n| r.info.nexthops.get(n))
        .and_then(|n| n.dev.as_deref());
    let group = dev.and_then(|d| routing.link(d)).map(|l| l.group);
    let by_group = rule.suppress_ifgroup.is_some_and(|g| group == Some(g));
    by_len || by_group
}

/// The final outcome when this verdict stops the lookup.
fn rule_outcome(
    routing: &Routing,
    rule: usize,
    verdict: StepVerdict,
    key: &FlowKey,
    assumptions: &mut Vec<String>,
) -> Option<FibOutcome> {
    match verdict {
        StepVerdict::Action(error) => Some(FibOutcome::Error {
            error,
            route: None,
            rule: Some(rule),
        }),
        StepVerdict::Table {
            result: TableResult::Error { route, error },
            ..
        } => Some(FibOutcome::Error {
            error,
            route: Some(route),
            rule: Some(rule),
        }),
        StepVerdict::Table {
            table,
            result: TableResult::Chosen { route },
        } => Some(FibOutcome::Route(fib_match(
            routing,
            rule,
            table,
            route,
            key,
            assumptions,
        ))),
        _ => None,
    }
}

/// Builds the match, choosing a nexthop. `fib_select_path` hashes multipath flows with
/// a per-boot seed, which cannot be reproduced offline: the first live nexthop is taken.
fn fib_match(
    routing: &Routing,
    rule: usize,
    table: u32,
    route: usize,
    key: &FlowKey,
    assumptions: &mut Vec<String>,
) -> FibMatch {
    let r = routing.routes.get(route);
    let nexthop = r.and_then(|r| first_good_nexthop(r, key));
    if let Some(r) = r.filter(|r| r.info.nexthops.len() > 1) {
        assumptions.push(format!(
            "multipath route {}: nexthop chosen by a hash with a per-boot seed; \
             assumed the first live nexthop",
            r.dst
        ));
    }
    let nh = r.zip(nexthop).and_then(|(r, n)| r.info.nexthops.get(n));
    FibMatch {
        route,
        nexthop,
        dev: nh.and_then(|n| n.dev.as_deref()).map(str::to_string),
        gateway: nh.and_then(|n| n.gateway),
        kind: r.map_or(RouteType::Unicast, |r| r.kind),
        table,
        rule,
    }
}

/// `fib_rule_match` (net/core/fib_rules.c) + `fib4_rule_match` (net/ipv4/fib_rules.c);
/// `not` inverts the whole result, including a `[detached]` device's mismatch.
pub fn fib_rule_match(routing: &Routing, rule: &FibRule, key: &FlowKey) -> bool {
    let matched = generic_match(routing, rule, key) && fib4_match(rule, key);
    matched != rule.invert
}

/// The family-independent selectors: iif, oif, fwmark, tun_id, l3mdev, uidrange.
fn generic_match(routing: &Routing, rule: &FibRule, key: &FlowKey) -> bool {
    let iif_ok = rule
        .iif
        .as_deref()
        .is_none_or(|d| !rule.iif_detached && !missing_dev(routing, d) && d == key.flow_iif());
    let oif_ok = rule.oif.as_deref().is_none_or(|d| {
        !rule.oif_detached && !missing_dev(routing, d) && Some(d) == key.oif.as_deref()
    });
    let mark_ok = rule
        .fwmark
        .is_none_or(|(mark, mask)| (mark ^ key.mark) & mask == 0);
    let tun_ok = rule.tun_id.is_none_or(|t| t == 0);
    let l3_ok = !rule.l3mdev || l3mdev_table(routing, key).is_some();
    let uid_ok = rule
        .uidrange
        .is_none_or(|(a, b)| (a..=b).contains(&key.uid));
    iif_ok && oif_ok && mark_ok && tun_ok && l3_ok && uid_ok
}

/// A device named by a rule but absent from a known interface list (kernel: `[detached]`).
fn missing_dev(routing: &Routing, dev: &str) -> bool {
    !routing.links.is_empty() && dev != "lo" && routing.link(dev).is_none()
}

/// `fib4_rule_match`: from, to, tos, ipproto, sport, dport.
fn fib4_match(rule: &FibRule, key: &FlowKey) -> bool {
    let from_ok = rule.from.is_none_or(|p| p.trunc().contains(&key.src));
    let to_ok = rule.to.is_none_or(|p| p.trunc().contains(&key.dst));
    let tos_ok = rule.tos.is_none_or(|t| t == key.tos);
    let proto_ok = rule.ipproto.is_none_or(|p| p == key.proto);
    let port_in = |range: Option<(u16, u16)>, port: Option<u16>| {
        range.is_none_or(|(a, b)| (a..=b).contains(&port.unwrap_or(0)))
    };
    from_ok
        && to_ok
        && tos_ok
        && proto_ok
        && port_in(rule.sport, key.sport)
        && port_in(rule.dport, key.dport)
}

/// `l3mdev_fib_rule_match`: the VRF table of the flow's oif, else its iif (the device
/// itself when it is a VRF, or its VRF master).
fn l3mdev_table(routing: &Routing, key: &FlowKey) -> Option<u32> {
    [key.oif.as_deref(), key.iif.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|d| vrf_of(routing, d).and_then(|l| l.vrf_table))
}

/// The L3 master (VRF) of `dev`: itself when it is one, else its `master` when that is one.
fn vrf_of<'a>(routing: &'a Routing, dev: &str) -> Option<&'a Link> {
    let link = routing.link(dev)?;
    if link.vrf_table.is_some() {
        return Some(link);
    }
    let master = routing.link(link.master.as_deref()?)?;
    master.vrf_table.is_some().then_some(master)
}

/// ICMP destination-unreachable codes `ip_error` sends (`include/uapi/linux/icmp.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum IcmpUnreachable {
    /// `ICMP_NET_UNREACH` (code 0): no route.
    Net,
    /// `ICMP_HOST_UNREACH` (code 1): `unreachable` route.
    Host,
    /// `ICMP_PKT_FILTERED` (code 13): `prohibit`.
    PktFiltered,
}

impl IcmpUnreachable {
    /// The ICMP code (type is always 3, destination unreachable).
    pub fn code(self) -> u8 {
        match self {
            IcmpUnreachable::Net => 0,
            IcmpUnreachable::Host => 1,
            IcmpUnreachable::PktFiltered => 13,
        }
    }
}

/// Reverse-path filter mode (`net.ipv4.conf.*.rp_filter`, effective value = max(all, dev)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum RpFilter {
    /// 0: no source validation (the default assumed when sysctls are unknown).
    #[default]
    Off,
    /// 1: the route back to the source must leave through the ingress device.
    Strict,
    /// 2: the source must be routable through any device.
    Loose,
}

/// Sysctls that change the input route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputOptions {
    /// `net.ipv4.conf.<iif>.forwarding`.
    pub forwarding: bool,
    /// `rp_filter` of the ingress device.
    pub rp_filter: RpFilter,
    /// `route_localnet`: accept 127/8 from the wire.
    pub route_localnet: bool,
    /// `accept_local` (all or the ingress device): a local source is not martian.
    pub accept_local: bool,
    /// `src_valid_mark`: source validation looks up with the packet's mark.
    pub src_valid_mark: bool,
    /// `send_redirects` (all or the ingress device; kernel default 1): a hairpin
    /// route (out the ingress device) then gets the full source validation.
    pub send_redirects: bool,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            forwarding: false,
            rp_filter: RpFilter::Off,
            route_localnet: false,
            accept_local: false,
            src_valid_mark: false,
            send_redirects: true,
        }
    }
}

/// What the kernel does with a received packet (`ip_route_input_slow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputOutcome {
    /// Local delivery (`local_input`): to INPUT. `broadcast` for limited/subnet broadcast.
    Local {
        /// Delivered as a broadcast (`brd_input`).
        broadcast: bool,
        /// The local/broadcast route, when one was looked up.
        route: Option<usize>,
    },
    /// Forwarding (`ip_mkroute_input`): to FORWARD, out of `dev`.
    Forward {
        /// Output device.
        dev: Option<String>,
        /// Gateway (`None` = directly connected).
        gateway: Option<Ipv4Addr>,
        /// Route index.
        route: usize,
        /// Table of the route.
        table: u32,
    },
    /// Dropped as a martian source (logged with `log_martians`).
    MartianSource(&'static str),
    /// Dropped as a martian destination.
    MartianDestination(&'static str),
    /// `dst.input = ip_error`: dropped, with the ICMP error sent back if any.
    Unreachable {
        /// The lookup error (-EHOSTUNREACH when forwarding is off).
        error: FibError,
        /// ICMP destination unreachable sent, or `None` = silent drop.
        icmp: Option<IcmpUnreachable>,
    },
}

/// The input route of a received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRoute {
    /// What happens.
    pub outcome: InputOutcome,
    /// The policy-routing lookup, when one was made.
    pub fib: Option<FibResult>,
    /// Guesses made.
    pub assumptions: Vec<String>,
}

/// [`input_route_with`] with `rp_filter` off and `route_localnet` off.
pub fn input_route(routing: &Routing, key: &FlowKey, forwarding: bool) -> InputRoute {
    let opts = InputOptions {
        forwarding,
        ..InputOptions::default()
    };
    input_route_with(routing, key, &opts)
}

/// Routes a received packet. Mirrors `ip_route_input_slow()` (net/ipv4/route.c):
/// martian checks, `fib_lookup` with `iif` = the ingress device, then local delivery
/// (LOCAL, BROADCAST), forwarding (UNICAST with forwarding on), or `ip_error`.
pub fn input_route_with(routing: &Routing, key: &FlowKey, opts: &InputOptions) -> InputRoute {
    let mut out = InputRoute {
        outcome: InputOutcome::Local {
            broadcast: true,
            route: None,
        },
        fib: None,
        assumptions: Vec::new(),
    };
    if let Some(outcome) = pre_lookup(key, opts, &mut out.assumptions) {
        out.outcome = match outcome {
            // brd_input validates any source but 0.0.0.0 (with daddr 0)
            InputOutcome::Local {
                broadcast: true, ..
            } if !key.src.is_unspecified() => {
                validated(routing, key, Ipv4Addr::UNSPECIFIED, None, opts, outcome)
            }
            o => o,
        };
        return out;
    }
    let fib = fib_lookup(routing, key);
    out.assumptions.extend(fib.assumptions.iter().cloned());
    out.outcome = match &fib.outcome {
        FibOutcome::Error { error, .. } => ip_error(*error, opts.forwarding),
        FibOutcome::Route(m) => after_lookup(routing, key, opts, m),
    };
    out.fib = Some(fib);
    out
}

/// The checks `ip_route_input_slow` makes before the lookup.
fn pre_lookup(
    key: &FlowKey,
    opts: &InputOptions,
    assumptions: &mut Vec<String>,
) -> Option<InputOutcome> {
    let (s, d) = (key.src, key.dst);
    if s.is_multicast() || s.is_broadcast() {
        return Some(InputOutcome::MartianSource(
            "multicast or limited-broadcast source",
        ));
    }
    if d.is_multicast() {
        assumptions.push(format!(
            "multicast destination {d}: group membership is not in the dumps; \
             assumed joined (local delivery)"
        ));
        return Some(InputOutcome::Local {
            broadcast: false,
            route: None,
        });
    }
    if d.is_broadcast() || (s.is_unspecified() && d.is_unspecified()) {
        return Some(InputOutcome::Local {
            broadcast: true,
            route: None,
        });
    }
    martian_zero_or_loopback(s, d, opts.route_localnet)
}

/// 0.0.0.0/8 and (without `route_localnet`) 127.0.0.0/8 sources and destinations.
fn martian_zero_or_loopback(s: Ipv4Addr, d: Ipv4Addr, localnet: bool) -> Option<InputOutcome> {
    let zeronet = |a: Ipv4Addr| a.octets()[0] == 0;
    if zeronet(s) {
        return Some(InputOutcome::MartianSource("source in 0.0.0.0/8"));
    }
    if zeronet(d) {
        return Some(InputOutcome::MartianDestination("destination in 0.0.0.0/8"));
    }
    if d.is_loopback() && !localnet {
        return Some(InputOutcome::MartianDestination(
            "loopback destination from the wire",
        ));
    }
    if s.is_loopback() && !localnet {
        return Some(InputOutcome::MartianSource("loopback source from the wire"));
    }
    None
}

/// `ip_error` (net/ipv4/route.c): silent when forwarding is off on the ingress device;
/// else ICMP host/net unreachable or packet filtered; blackhole (-EINVAL) is silent.
fn ip_error(error: FibError, forwarding: bool) -> InputOutcome {
    if !forwarding {
        return InputOutcome::Unreachable {
            error: FibError::HostUnreachable,
            icmp: None,
        };
    }
    let icmp = match error {
        FibError::HostUnreachable => Some(IcmpUnreachable::Host),
        FibError::NetUnreachable => Some(IcmpUnreachable::Net),
        FibError::Prohibit => Some(IcmpUnreachable::PktFiltered),
        FibError::Blackhole => None,
    };
    InputOutcome::Unreachable { error, icmp }
}

/// What `ip_route_input_slow` does with a successful lookup.
fn after_lookup(
    routing: &Routing,
    key: &FlowKey,
    opts: &InputOptions,
    m: &FibMatch,
) -> InputOutcome {
    let route = Some(m.route);
    match m.kind {
        RouteType::Broadcast if key.src.is_unspecified() => InputOutcome::Local {
            broadcast: true,
            route,
        },
        RouteType::Broadcast => {
            let ok = InputOutcome::Local {
                broadcast: true,
                route,
            };
            validated(routing, key, Ipv4Addr::UNSPECIFIED, None, opts, ok)
        }
        RouteType::Local => {
            let ok = InputOutcome::Local {
                broadcast: false,
                route,
            };
            validated(routing, key, key.dst, None, opts, ok)
        }
        _ if !opts.forwarding => ip_error(FibError::HostUnreachable, false),
        RouteType::Unicast => {
            let ok = InputOutcome::Forward {
                dev: m.dev.clone(),
                gateway: m.gateway,
                route: m.route,
                table: m.table,
            };
            validated(routing, key, key.dst, m.dev.as_deref(), opts, ok)
        }
        _ => InputOutcome::MartianDestination("route type is not unicast"),
    }
}

/// `ok` when the source passes [`fib_validate_source`], else a martian source.
fn validated(
    routing: &Routing,
    key: &FlowKey,
    dst: Ipv4Addr,
    oif: Option<&str>,
    opts: &InputOptions,
    ok: InputOutcome,
) -> InputOutcome {
    match fib_validate_source(routing, key, dst, oif, opts) {
        Err(why) => InputOutcome::MartianSource(why),
        Ok(()) => ok,
    }
}

/// `fib_validate_source` (net/ipv4/fib_frontend.c). Without rp_filter, and
/// unless the packet leaves through its ingress device with `send_redirects`
/// on, only a source that is one of our addresses is martian (none with
/// `accept_local`); but custom ip rules or user-added `local` routes force the
/// full check ([`full_validate_source`]), which also refuses broadcast sources.
/// `dst` is the packet's destination (0.0.0.0 for broadcasts), `oif` the
/// forward route's device (`None` for local delivery).
fn fib_validate_source(
    routing: &Routing,
    key: &FlowKey,
    dst: Ipv4Addr,
    oif: Option<&str>,
    opts: &InputOptions,
) -> Result<(), &'static str> {
    let hairpin = oif.is_some() && oif == key.iif.as_deref() && opts.send_redirects;
    if opts.rp_filter == RpFilter::Off && !hairpin {
        if opts.accept_local {
            return Ok(());
        }
        if !has_custom_rules(routing) && !has_custom_local_routes(routing) {
            if is_local_addr(routing, key.src) {
                return Err("source is a local address");
            }
            return Ok(());
        }
    }
    full_validate_source(routing, key, dst, oif, opts)
}

/// `__fib_validate_source`: the reverse lookup (daddr = source, saddr = `dst`,
/// iif = `oif` or lo, mark only with `src_valid_mark`) must give a unicast
/// route (or a local one with `accept_local`); a route through the ingress
/// device passes; otherwise strict rp_filter refuses. Without a reverse route
/// only rp_filter refuses.
fn full_validate_source(
    routing: &Routing,
    key: &FlowKey,
    dst: Ipv4Addr,
    oif: Option<&str>,
    opts: &InputOptions,
) -> Result<(), &'static str> {
    let rpf = opts.rp_filter;
    let reverse = FlowKey {
        src: dst,
        tos: key.tos,
        iif: oif.map(str::to_string),
        mark: if opts.src_valid_mark { key.mark } else { 0 },
        ..FlowKey::to(key.src)
    };
    let res = fib_lookup(routing, &reverse);
    let Some(m) = res.matched() else {
        if rpf != RpFilter::Off {
            return Err("rp_filter: no route back to the source");
        }
        return Ok(());
    };
    match m.kind {
        RouteType::Unicast => {}
        RouteType::Local if opts.accept_local => {}
        RouteType::Local => return Err("source is a local address"),
        _ => return Err("the route back to the source is not unicast (e.g. a broadcast source)"),
    }
    let iif = key.iif.as_deref();
    let uses_iif = routing
        .routes
        .get(m.route)
        .is_some_and(|r| r.info.nexthops.iter().any(|n| n.dev.as_deref() == iif))
        || m.dev.as_deref() == iif
        || (m.kind == RouteType::Local && iif == Some("lo"));
    if uses_iif {
        return Ok(());
    }
    let no_addr = iif
        .and_then(|d| routing.link(d))
        .is_some_and(|l| l.addrs.is_empty());
    if no_addr {
        if rpf != RpFilter::Off {
            return Err("rp_filter: the ingress device has no address");
        }
        return Ok(());
    }
    if rpf == RpFilter::Strict {
        return Err("rp_filter strict: the route back to the source uses another device");
    }
    Ok(())
}

/// `fib4_has_custom_rules`: some ip rule besides the three default ones.
fn has_custom_rules(routing: &Routing) -> bool {
    routing.rules.iter().any(|r| {
        let default = matches!(
            (r.pref, &r.action),
            (0, RuleAction::Lookup(255))
                | (32766, RuleAction::Lookup(254))
                | (32767, RuleAction::Lookup(253))
        );
        !default
            || r.invert
            || r.from.is_some_and(|f| f.prefix_len() > 0)
            || r.to.is_some()
            || r.fwmark.is_some()
            || r.iif.is_some()
            || r.oif.is_some()
    })
}

/// `fib_has_custom_local_routes`: a `local` route someone added (the kernel's
/// own are `proto kernel`).
fn has_custom_local_routes(routing: &Routing) -> bool {
    routing.routes.iter().any(|r| {
        r.kind == RouteType::Local && r.info.protocol.as_deref().is_some_and(|p| p != "kernel")
    })
}

/// Why an output route failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OutputError {
    /// The policy-routing lookup failed.
    Fib(FibError),
    /// -EINVAL: the requested source is multicast/broadcast/zero or not a local address.
    InvalidSource,
    /// -ENODEV: the bound device does not exist.
    NoDevice,
    /// -ENETUNREACH: the bound device is down.
    DeviceDown,
    /// -EINVAL: a loopback source may only leave through a loopback or VRF
    /// device (`__mkroute_output`).
    LoopbackSource,
}

/// A successful output route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputHop {
    /// Output device (`lo` for local destinations).
    pub dev: String,
    /// Gateway (`None` = directly connected).
    pub gateway: Option<Ipv4Addr>,
    /// The source address the socket gets (0.0.0.0 when no address could be selected).
    pub src: Ipv4Addr,
    /// Route type.
    pub kind: RouteType,
    /// Route index (`None` when the kernel made up the route).
    pub route: Option<usize>,
}

/// The output route of a locally generated packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRoute {
    /// The route or the error.
    pub outcome: Result<OutputHop, OutputError>,
    /// The policy-routing lookup, when one was made.
    pub fib: Option<FibResult>,
    /// Guesses made.
    pub assumptions: Vec<String>,
}

impl OutputRoute {
    /// Wraps an outcome.
    fn new(outcome: Result<OutputHop, OutputError>, fib: Option<FibResult>) -> OutputRoute {
        OutputRoute {
            assumptions: fib
                .as_ref()
                .map(|f| f.assumptions.clone())
                .unwrap_or_default(),
            outcome,
            fib,
        }
    }

    /// The output device, when the route succeeded.
    pub fn dev(&self) -> Option<&str> {
        self.outcome.as_ref().ok().map(|h| h.dev.as_str())
    }

    /// The selected source address, when the route succeeded.
    pub fn src(&self) -> Option<Ipv4Addr> {
        self.outcome.as_ref().ok().map(|h| h.src)
    }
}

/// Routes a locally generated packet. Mirrors `ip_route_output_key_hash_rcu()`
/// (net/ipv4/route.c): the lookup runs with `iif = lo`; a LOCAL result goes out `lo`
/// with source = route `src` else the destination; otherwise the source is kept when
/// given, else route `src`, else `inet_select_addr(nh dev, nh gateway, route scope)`
/// (`fib_result_prefsrc`; with no gateway that is the device's first eligible primary).
pub fn output_route(routing: &Routing, key: &FlowKey) -> OutputRoute {
    let key = FlowKey {
        iif: None,
        ..key.clone()
    };
    if let Err(e) = check_source(routing, &key) {
        return OutputRoute::new(Err(e), None);
    }
    if let Err(e) = check_oif(routing, &key) {
        return OutputRoute::new(Err(e), None);
    }
    if key.dst.is_unspecified() {
        return OutputRoute::new(Ok(loopback_hop(&key)), None);
    }
    let fib = fib_lookup(routing, &key);
    let outcome = match &fib.outcome {
        FibOutcome::Route(m) => Ok(output_hop(routing, &key, m)),
        FibOutcome::Error { error, .. } => {
            assume_on_link(routing, &key).ok_or(OutputError::Fib(*error))
        }
    };
    let outcome = outcome.and_then(|hop| check_loopback_source(routing, &key, hop));
    OutputRoute::new(outcome, Some(fib))
}

/// `__mkroute_output`: a loopback source on a device that is neither a loopback
/// nor a VRF master is refused with -EINVAL (e.g. nat OUTPUT DNAT of a
/// 127.0.0.1 → 127.0.0.1 packet to a remote address).
fn check_loopback_source(
    routing: &Routing,
    key: &FlowKey,
    hop: OutputHop,
) -> Result<OutputHop, OutputError> {
    let vrf_master = routing
        .link(&hop.dev)
        .is_some_and(|l| l.vrf_table.is_some());
    if key.src.is_loopback() && hop.dev != "lo" && !vrf_master {
        return Err(OutputError::LoopbackSource);
    }
    Ok(hop)
}

/// A given source must be a unicast address of this host (`__ip_dev_find`).
fn check_source(routing: &Routing, key: &FlowKey) -> Result<(), OutputError> {
    let s = key.src;
    if s.is_unspecified() {
        return Ok(());
    }
    let bad = s.is_multicast() || s.is_broadcast() || s.octets()[0] == 0;
    let ours = routing.links.is_empty() || is_local_addr(routing, s);
    if bad || !ours {
        return Err(OutputError::InvalidSource);
    }
    Ok(())
}

/// A bound device must exist and be up.
fn check_oif(routing: &Routing, key: &FlowKey) -> Result<(), OutputError> {
    let Some(oif) = key.oif.as_deref() else {
        return Ok(());
    };
    match routing.link(oif) {
        None if !routing.links.is_empty() => Err(OutputError::NoDevice),
        Some(l) if !l.up => Err(OutputError::DeviceDown),
        _ => Ok(()),
    }
}

/// `daddr == 0`: the packet goes to ourselves over `lo` (saddr, else 127.0.0.1).
fn loopback_hop(key: &FlowKey) -> OutputHop {
    let src = if key.src.is_unspecified() {
        Ipv4Addr::LOCALHOST
    } else {
        key.src
    };
    OutputHop {
        dev: "lo".to_string(),
        gateway: None,
        src,
        kind: RouteType::Local,
        route: None,
    }
}

/// With a bound device and a failed lookup the kernel assumes the destination is on link.
fn assume_on_link(routing: &Routing, key: &FlowKey) -> Option<OutputHop> {
    let oif = key.oif.as_deref()?;
    let src = keep_or(key.src, || {
        inet_select_addr(routing, oif, Ipv4Addr::UNSPECIFIED, Scope::Link)
    });
    Some(OutputHop {
        dev: oif.to_string(),
        gateway: None,
        src,
        kind: RouteType::Unicast,
        route: None,
    })
}

/// The hop for a successful lookup.
fn output_hop(routing: &Routing, key: &FlowKey, m: &FibMatch) -> OutputHop {
    let route = routing.routes.get(m.route);
    let prefsrc = route.and_then(|r| r.info.prefsrc);
    if m.kind == RouteType::Local {
        let dev = m
            .dev
            .as_deref()
            .and_then(|d| vrf_of(routing, d))
            .map_or("lo", |l| l.name.as_str());
        return OutputHop {
            dev: dev.to_string(),
            gateway: None,
            src: keep_or(key.src, || prefsrc.or(Some(key.dst))),
            kind: m.kind,
            route: Some(m.route),
        };
    }
    let dev = m.dev.clone().unwrap_or_default();
    let scope = route.map_or(Scope::Universe, |r| r.info.scope);
    let gw = m.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let src = keep_or(key.src, || {
        prefsrc.or_else(|| inet_select_addr(routing, &dev, gw, scope))
    });
    OutputHop {
        dev,
        gateway: m.gateway,
        src,
        kind: m.kind,
        route: Some(m.route),
    }
}

/// The flow's source when set, else the chosen one (0.0.0.0 when none).
fn keep_or(src: Ipv4Addr, choose: impl FnOnce() -> Option<Ipv4Addr>) -> Ipv4Addr {
    if src.is_unspecified() {
        choose().unwrap_or(Ipv4Addr::UNSPECIFIED)
    } else {
        src
    }
}

/// True when `addr` is configured on some interface (`__ip_dev_find`).
fn is_local_addr(routing: &Routing, addr: Ipv4Addr) -> bool {
    routing
        .links
        .iter()
        .any(|l| l.addrs.iter().any(|a| a.local == addr))
}

/// Source address selection. Mirrors `inet_select_addr()` (net/ipv4/devinet.c, §5.2):
/// 1. on `dev`, skipping secondaries and addresses with scope wider-numbered than `scope`,
///    the first primary whose subnet contains `dst` (any, when `dst` is 0.0.0.0),
///    else the first eligible primary;
/// 2. else the first primary (scope ≠ link) of the device's VRF master;
/// 3. else the first primary (scope ≠ link, ≤ `scope`) of any device in list order,
///    within the same L3 domain.
pub fn inet_select_addr(
    routing: &Routing,
    dev: &str,
    dst: Ipv4Addr,
    scope: Scope,
) -> Option<Ipv4Addr> {
    let link = routing.link(dev);
    if let Some(addr) = link.and_then(|l| select_on_dev(l, dst, scope)) {
        return Some(addr);
    }
    let master = vrf_of(routing, dev).filter(|m| m.name != dev);
    if let Some(addr) = master.and_then(|m| in_dev_select_addr(m, scope)) {
        return Some(addr);
    }
    let domain = master.map(|m| m.name.as_str());
    routing
        .links
        .iter()
        .filter(|l| {
            vrf_of(routing, &l.name)
                .filter(|m| m.name != l.name)
                .map(|m| m.name.as_str())
                == domain
        })
        .find_map(|l| in_dev_select_addr(l, scope))
}

/// Step 1 of `inet_select_addr`: the device's own primaries.
fn select_on_dev(link: &Link, dst: Ipv4Addr, scope: Scope) -> Option<Ipv4Addr> {
    let mut first = None;
    for a in link
        .addrs
        .iter()
        .filter(|a| !a.secondary && a.scope <= scope)
    {
        if dst.is_unspecified() || a.matches(dst) {
            return Some(a.local);
        }
        first = first.or(Some(a.local));
    }
    first
}

/// `in_dev_select_addr`: the first primary with scope ≠ link and ≤ `scope`.
fn in_dev_select_addr(link: &Link, scope: Scope) -> Option<Ipv4Addr> {
    link.addrs
        .iter()
        .find(|a| !a.secondary && a.scope != Scope::Link && a.scope <= scope)
        .map(|a| a.local)
}

/// The source MASQUERADE picks (`nf_nat_masquerade_ipv4`, §5.1): `inet_select_addr(out
/// dev, gateway or the packet's daddr, universe)`; the route's `src` is ignored.
pub fn masquerade_source(
    routing: &Routing,
    out_dev: &str,
    gateway: Option<Ipv4Addr>,
    daddr: Ipv4Addr,
) -> Option<Ipv4Addr> {
    inet_select_addr(routing, out_dev, gateway.unwrap_or(daddr), Scope::Universe)
}

/// Address type. Mirrors `inet_dev_addr_type()` (net/ipv4/fib_frontend.c), used by the
/// `addrtype` match: 0.0.0.0/8 and 255.255.255.255 → broadcast, 224/4 → multicast, else
/// the type of the `local` table route covering `addr` (only when its device is `dev`,
/// if given), else unicast.
pub fn addr_type(routing: &Routing, addr: Ipv4Addr, dev: Option<&str>) -> RouteType {
    if addr.octets()[0] == 0 || addr.is_broadcast() {
        return RouteType::Broadcast;
    }
    if addr.is_multicast() {
        return RouteType::Multicast;
    }
    let key = FlowKey::to(addr);
    let found = match fib_table_lookup(routing, table_id::LOCAL, &key) {
        TableLookup::Found(i, _) | TableLookup::Error(i, _) | TableLookup::Throw(i) => {
            routing.routes.get(i)
        }
        TableLookup::NotFound => None,
    };
    match found {
        Some(r) if dev.is_none_or(|d| r.devs().next() == Some(d)) => r.kind,
        _ => RouteType::Unicast,
    }
}

/// The head of `dev`'s address list (`ifa_list`): what REDIRECT in PREROUTING uses
/// (`nf_nat_redirect_ipv4`).
pub fn first_addr(routing: &Routing, dev: &str) -> Option<Ipv4Addr> {
    routing.link(dev)?.addrs.first().map(|a| a.local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ip_addr, ip_route, ip_rule};

    const ADDRS: &str = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    inet 127.0.0.1/8 scope host lo
    inet 100.64.9.9/32 scope global lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP
    inet 198.51.100.5/24 brd 198.51.100.255 scope global eth0
    inet 203.0.113.20/24 brd 203.0.113.255 scope global eth0
    inet 203.0.113.21/24 scope global secondary eth0
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group 3
    inet 169.254.1.1/16 scope link eth1
    inet 10.9.0.1/16 brd 10.9.255.255 scope global eth1
4: eth2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP
    inet 169.254.2.1/16 scope link eth2
";

    const ROUTES: &str = "\
default via 198.51.100.1 dev eth0 metric 200
default via 10.9.0.254 dev eth1 metric 100
10.0.0.0/8 via 10.9.0.2 dev eth1
10.1.0.0/16 via 10.9.0.3 dev eth1 metric 5
10.1.0.0/16 via 10.9.0.4 dev eth1 metric 1 dead
10.9.0.0/16 dev eth1 proto kernel scope link src 10.9.0.1
192.0.2.0/24 via 203.0.113.1 dev eth0 src 100.64.9.9
198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.5
203.0.113.0/24 dev eth0 proto kernel scope link src 203.0.113.20
unreachable 192.0.2.128/25
prohibit 192.0.2.64/26
blackhole 192.0.2.32/27
172.16.0.0/12 proto static
\tnexthop via 10.9.0.5 dev eth1 weight 1 dead
\tnexthop via 10.9.0.6 dev eth1 weight 1
\tnexthop via 198.51.100.7 dev eth0 weight 2
throw 10.0.0.0/8 table 100
default via 198.51.100.9 dev eth0 table 100
default via 198.51.100.52 dev eth0 table 52
local 198.51.100.5 dev eth0 table local proto kernel scope host src 198.51.100.5
broadcast 198.51.100.255 dev eth0 table local proto kernel scope link src 198.51.100.5
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
";

    const DEFAULT_RULES: &str = "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n";

    fn routing(rules: &str) -> Routing {
        let links = ip_addr::parse("addr", ADDRS).unwrap_or_else(|e| panic!("{e}"));
        let routes = ip_route::parse("route", ROUTES).unwrap_or_else(|e| panic!("{e}"));
        let text = format!("{DEFAULT_RULES}{rules}");
        let rules = ip_rule::parse("rule", &text).unwrap_or_else(|e| panic!("{e}"));
        Routing::from_dumps(Some(links), Some(routes.routes), Some(rules)).0
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The chosen route's text (without `table …`), or the error.
    fn lookup(r: &Routing, key: &FlowKey) -> Result<String, FibError> {
        let res = fib_lookup(r, key);
        match res.outcome {
            FibOutcome::Route(m) => Ok(r.routes[m.route].text.to_string()),
            FibOutcome::Error { error, .. } => Err(error),
        }
    }

    fn to(dst: &str) -> FlowKey {
        FlowKey::to(ip(dst))
    }

    fn with_mark(dst: &str, mark: u32) -> FlowKey {
        FlowKey { mark, ..to(dst) }
    }

    #[test]
    fn table_lookup_cases() {
        let r = routing("");
        // (dst, route chosen) — longest prefix, metric order, dead nexthop skipped
        let cases = [
            ("8.8.8.8", "default via 10.9.0.254 dev eth1 metric 100"),
            ("10.2.0.1", "10.0.0.0/8 via 10.9.0.2 dev eth1"),
            ("10.1.2.3", "10.1.0.0/16 via 10.9.0.3 dev eth1 metric 5"),
            (
                "10.9.1.1",
                "10.9.0.0/16 dev eth1 proto kernel scope link src 10.9.0.1",
            ),
            (
                "198.51.100.5",
                "local 198.51.100.5 dev eth0 table local proto kernel scope host src 198.51.100.5",
            ),
            (
                "127.3.4.5",
                "local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1",
            ),
        ];
        for (dst, want) in cases {
            assert_eq!(lookup(&r, &to(dst)).as_deref(), Ok(want), "{dst}");
        }
    }

    #[test]
    fn error_routes() {
        let r = routing("");
        let cases = [
            ("192.0.2.200", FibError::HostUnreachable),
            ("192.0.2.70", FibError::Prohibit),
            ("192.0.2.33", FibError::Blackhole),
        ];
        for (dst, want) in cases {
            assert_eq!(lookup(&r, &to(dst)), Err(want), "{dst}");
        }
        assert_eq!(lookup(&r, &to("192.0.2.1")).map(|_| ()), Ok(()));
    }

    #[test]
    fn rule_actions() {
        let r = routing("10:\tfrom all fwmark 0x1 unreachable\n11:\tfrom all fwmark 0x2 prohibit\n12:\tfrom all fwmark 0x3 blackhole\n");
        let cases = [
            (1, FibError::NetUnreachable),
            (2, FibError::Prohibit),
            (3, FibError::Blackhole),
        ];
        for (mark, want) in cases {
            assert_eq!(lookup(&r, &with_mark("8.8.8.8", mark)), Err(want), "{mark}");
        }
    }

    #[test]
    fn no_rule_gives_a_route() {
        let mut r = routing("");
        r.rules.retain(|rule| rule.pref == 0);
        let res = fib_lookup(&r, &to("8.8.8.8"));
        let want = FibOutcome::Error {
            error: FibError::NetUnreachable,
            route: None,
            rule: None,
        };
        assert_eq!(res.outcome, want);
        assert_eq!(res.steps.len(), 1);
    }

    #[test]
    fn fwmark_with_mask() {
        let r = routing("100:\tfrom all fwmark 0x100/0xf00 lookup 100\n");
        let via_100 = "default via 198.51.100.9 dev eth0 table 100";
        // (mark, uses table 100)
        for (mark, hit) in [(0x100, true), (0x1100, true), (0x200, false), (0, false)] {
            let got = lookup(&r, &with_mark("8.8.8.8", mark));
            assert_eq!(got.as_deref() == Ok(via_100), hit, "{mark:#x}");
        }
    }

    #[test]
    fn iif_lo_matches_output_lookups_only() {
        let r = routing("100:\tfrom all iif lo lookup 100\n");
        let via_100 = Ok("default via 198.51.100.9 dev eth0 table 100".to_string());
        assert_eq!(lookup(&r, &to("8.8.8.8")), via_100);
        let input = FlowKey {
            iif: Some("eth0".to_string()),
            ..to("8.8.8.8")
        };
        assert_ne!(lookup(&r, &input), via_100);
    }

    #[test]
    fn throw_falls_through_to_the_next_rule() {
        let r = routing("100:\tfrom all lookup 100\n");
        let res = fib_lookup(&r, &to("10.2.0.1"));
        let verdicts: Vec<StepVerdict> = res.steps.iter().map(|s| s.verdict).collect();
        assert!(matches!(
            verdicts.get(1),
            Some(StepVerdict::Table {
                table: 100,
                result: TableResult::Throw { .. }
            })
        ));
        assert_eq!(
            lookup(&r, &to("10.2.0.1")).as_deref(),
            Ok("10.0.0.0/8 via 10.9.0.2 dev eth1")
        );
        assert!(
            res.steps[1].describe(&r).contains("throw, continue"),
            "{}",
            res.steps[1].describe(&r)
        );
    }

    #[test]
    fn suppress_prefixlength_0_skips_default_routes() {
        let r = routing(
            "5208:\tfrom all lookup main suppress_prefixlength 0\n5270:\tfrom all lookup 52\n",
        );
        assert_eq!(
            lookup(&r, &to("8.8.8.8")).as_deref(),
            Ok("default via 198.51.100.52 dev eth0 table 52")
        );
        assert_eq!(
            lookup(&r, &to("10.2.0.1")).as_deref(),
            Ok("10.0.0.0/8 via 10.9.0.2 dev eth1")
        );
    }

    #[test]
    fn suppress_ifgroup() {
        let r =
            routing("5208:\tfrom all lookup main suppress_ifgroup 3\n5270:\tfrom all lookup 52\n");
        assert_eq!(
            lookup(&r, &to("8.8.8.8")).as_deref(),
            Ok("default via 198.51.100.52 dev eth0 table 52")
        );
    }

    #[test]
    fn goto_skips_rules() {
        let r = routing("10:\tfrom all fwmark 0x1 goto 300\n20:\tfrom all lookup 52\n300:\tfrom all lookup 100\n");
        assert_eq!(
            lookup(&r, &with_mark("8.8.8.8", 1)).as_deref(),
            Ok("default via 198.51.100.9 dev eth0 table 100")
        );
        assert_eq!(
            lookup(&r, &to("8.8.8.8")).as_deref(),
            Ok("default via 198.51.100.52 dev eth0 table 52")
        );
    }

    #[test]
    fn unresolved_goto_continues() {
        let r = routing("10:\tfrom all goto 12345 [unresolved]\n20:\tfrom all lookup 52\n");
        assert_eq!(
            lookup(&r, &to("8.8.8.8")).as_deref(),
            Ok("default via 198.51.100.52 dev eth0 table 52")
        );
    }

    #[test]
    fn not_inverts_the_selectors() {
        let r = routing("100:\tnot from all fwmark 0x1 lookup 100\n");
        let via_100 = Ok("default via 198.51.100.9 dev eth0 table 100".to_string());
        assert_eq!(lookup(&r, &to("8.8.8.8")), via_100);
        assert_ne!(lookup(&r, &with_mark("8.8.8.8", 1)), via_100);
    }

    #[test]
    fn selectors_from_to_ports_uid() {
        let r = routing("100:\tfrom 10.9.0.0/16 to 8.8.0.0/16 ipproto udp dport 53 uidrange 1000-1999 lookup 100\n");
        let base = FlowKey {
            src: ip("10.9.0.7"),
            proto: 17,
            dport: Some(53),
            uid: 1000,
            ..to("8.8.8.8")
        };
        let via_100 = Ok("default via 198.51.100.9 dev eth0 table 100".to_string());
        assert_eq!(lookup(&r, &base), via_100);
        let misses = [
            FlowKey {
                src: ip("10.8.0.7"),
                ..base.clone()
            },
            FlowKey {
                dst: ip("9.9.9.9"),
                ..base.clone()
            },
            FlowKey {
                proto: 6,
                ..base.clone()
            },
            FlowKey {
                dport: Some(54),
                ..base.clone()
            },
            FlowKey {
                uid: 0,
                ..base.clone()
            },
        ];
        for key in misses {
            assert_ne!(lookup(&r, &key), via_100, "{key:?}");
        }
    }

    #[test]
    fn detached_iif_never_matches() {
        let r = routing("100:\tfrom all iif ghost0 [detached] lookup 100\n");
        let key = FlowKey {
            iif: Some("ghost0".to_string()),
            ..to("8.8.8.8")
        };
        assert_ne!(
            lookup(&r, &key).as_deref(),
            Ok("default via 198.51.100.9 dev eth0 table 100")
        );
    }

    #[test]
    fn multipath_takes_first_live_nexthop_and_says_so() {
        let r = routing("");
        let res = fib_lookup(&r, &to("172.16.1.1"));
        let m = res.matched().cloned();
        assert_eq!(m.and_then(|m| m.gateway), Some(ip("10.9.0.6")));
        assert_eq!(res.assumptions.len(), 1);
    }

    #[test]
    fn input_routes() {
        let r = routing("");
        let from = |src: &str, dst: &str| FlowKey {
            src: ip(src),
            iif: Some("eth0".to_string()),
            ..to(dst)
        };
        let unreach = |error, icmp| InputOutcome::Unreachable { error, icmp };
        // (src, dst, forwarding, outcome)
        let cases = [
            (
                "192.0.2.9",
                "198.51.100.5",
                true,
                InputOutcome::Local {
                    broadcast: false,
                    route: Some(16),
                },
            ),
            (
                "192.0.2.9",
                "198.51.100.255",
                true,
                InputOutcome::Local {
                    broadcast: true,
                    route: Some(17),
                },
            ),
            (
                "192.0.2.9",
                "255.255.255.255",
                true,
                InputOutcome::Local {
                    broadcast: true,
                    route: None,
                },
            ),
            (
                "192.0.2.9",
                "10.2.0.1",
                true,
                InputOutcome::Forward {
                    dev: Some("eth1".to_string()),
                    gateway: Some(ip("10.9.0.2")),
                    route: 2,
                    table: 254,
                },
            ),
            (
                "192.0.2.9",
                "10.2.0.1",
                false,
                unreach(FibError::HostUnreachable, None),
            ),
            (
                "10.9.0.9",
                "192.0.2.200",
                true,
                unreach(FibError::HostUnreachable, Some(IcmpUnreachable::Host)),
            ),
            (
                "10.9.0.9",
                "192.0.2.70",
                true,
                unreach(FibError::Prohibit, Some(IcmpUnreachable::PktFiltered)),
            ),
            (
                "10.9.0.9",
                "192.0.2.33",
                true,
                unreach(FibError::Blackhole, None),
            ),
            (
                "0.1.2.3",
                "198.51.100.5",
                true,
                InputOutcome::MartianSource("source in 0.0.0.0/8"),
            ),
            (
                "224.0.0.5",
                "198.51.100.5",
                true,
                InputOutcome::MartianSource("multicast or limited-broadcast source"),
            ),
            (
                "192.0.2.9",
                "127.0.0.1",
                true,
                InputOutcome::MartianDestination("loopback destination from the wire"),
            ),
            (
                "198.51.100.5",
                "10.2.0.1",
                true,
                InputOutcome::MartianSource("source is a local address"),
            ),
        ];
        for (src, dst, fwd, want) in cases {
            assert_eq!(
                input_route(&r, &from(src, dst), fwd).outcome,
                want,
                "{src} → {dst}"
            );
        }
    }

    #[test]
    fn input_no_route_sends_net_unreachable() {
        let mut r = routing("");
        r.rules.retain(|rule| rule.pref == 0);
        let key = FlowKey {
            src: ip("192.0.2.9"),
            iif: Some("eth0".to_string()),
            ..to("8.8.8.8")
        };
        let got = input_route(&r, &key, true).outcome;
        let want = InputOutcome::Unreachable {
            error: FibError::NetUnreachable,
            icmp: Some(IcmpUnreachable::Net),
        };
        assert_eq!(got, want);
        assert_eq!(IcmpUnreachable::Net.code(), 0);
    }

    #[test]
    fn rp_filter_strict_and_loose() {
        let r = routing("");
        let key = FlowKey {
            src: ip("10.2.0.1"),
            iif: Some("eth0".to_string()),
            ..to("198.51.100.5")
        };
        let opts = |rp_filter| InputOptions {
            forwarding: true,
            rp_filter,
            ..InputOptions::default()
        };
        let strict = input_route_with(&r, &key, &opts(RpFilter::Strict)).outcome;
        assert!(
            matches!(strict, InputOutcome::MartianSource(_)),
            "{strict:?}"
        );
        let loose = input_route_with(&r, &key, &opts(RpFilter::Loose)).outcome;
        assert!(matches!(loose, InputOutcome::Local { .. }), "{loose:?}");
    }

    #[test]
    fn output_routes_and_sources() {
        let r = routing("");
        // (dst, dev, src)
        let cases = [
            ("192.0.2.1", "eth0", "100.64.9.9"),
            ("8.8.8.8", "eth1", "10.9.0.1"),
            ("203.0.113.77", "eth0", "203.0.113.20"),
            ("198.51.100.5", "lo", "198.51.100.5"),
            ("127.0.0.9", "lo", "127.0.0.1"),
            ("0.0.0.0", "lo", "127.0.0.1"),
        ];
        for (dst, dev, src) in cases {
            let out = output_route(&r, &to(dst));
            assert_eq!((out.dev(), out.src()), (Some(dev), Some(ip(src))), "{dst}");
        }
    }

    #[test]
    fn output_keeps_a_given_source_and_rejects_foreign_ones() {
        let r = routing("");
        let key = FlowKey {
            src: ip("203.0.113.20"),
            ..to("8.8.8.8")
        };
        assert_eq!(output_route(&r, &key).src(), Some(ip("203.0.113.20")));
        let foreign = FlowKey {
            src: ip("1.2.3.4"),
            ..to("8.8.8.8")
        };
        assert_eq!(
            output_route(&r, &foreign).outcome,
            Err(OutputError::InvalidSource)
        );
        assert_eq!(
            output_route(&r, &to("192.0.2.200")).outcome,
            Err(OutputError::Fib(FibError::HostUnreachable))
        );
    }

    #[test]
    fn inet_select_addr_cases() {
        let r = routing("");
        let u = Scope::Universe;
        // (dev, dst, scope, expected) — §5.2
        let cases = [
            ("eth0", "203.0.113.1", u, Some("203.0.113.20")),
            ("eth0", "8.8.8.8", u, Some("198.51.100.5")),
            ("eth0", "0.0.0.0", u, Some("198.51.100.5")),
            ("eth1", "169.254.9.9", u, Some("10.9.0.1")),
            ("eth1", "169.254.9.9", Scope::Link, Some("169.254.1.1")),
            ("eth2", "8.8.8.8", u, Some("100.64.9.9")),
            ("eth2", "8.8.8.8", Scope::Host, Some("169.254.2.1")),
            ("nonexistent", "8.8.8.8", u, Some("100.64.9.9")),
        ];
        for (dev, dst, scope, want) in cases {
            let got = inet_select_addr(&r, dev, ip(dst), scope);
            assert_eq!(got, want.map(ip), "{dev} {dst} {scope}");
        }
    }

    #[test]
    fn secondaries_are_never_selected() {
        let r = routing("");
        // 203.0.113.21 is secondary; the primary of that subnet wins.
        assert_eq!(
            inet_select_addr(&r, "eth0", ip("203.0.113.21"), Scope::Universe),
            Some(ip("203.0.113.20"))
        );
    }

    #[test]
    fn masquerade_ignores_the_route_src() {
        let r = routing("");
        let out = output_route(&r, &to("192.0.2.1"));
        let hop = out.outcome.as_ref().ok().cloned();
        assert_eq!(hop.as_ref().map(|h| h.src), Some(ip("100.64.9.9")));
        let gw = hop.and_then(|h| h.gateway);
        assert_eq!(
            masquerade_source(&r, "eth0", gw, ip("192.0.2.1")),
            Some(ip("203.0.113.20"))
        );
        assert_eq!(
            masquerade_source(&r, "eth0", None, ip("198.51.100.77")),
            Some(ip("198.51.100.5"))
        );
    }

    #[test]
    fn vrf_master_supplies_the_source() {
        let addrs = "1: lo: <LOOPBACK,UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n\
            2: eth0: <UP> mtu 1500 master vrf0\n\
            3: vrf0: <MASTER,UP> mtu 65575\n    vrf table 1001\n    inet 10.7.0.1/32 scope global vrf0\n";
        let links = ip_addr::parse("a", addrs).unwrap_or_else(|e| panic!("{e}"));
        let (r, _) = Routing::from_dumps(Some(links), None, None);
        assert_eq!(
            inet_select_addr(&r, "eth0", ip("8.8.8.8"), Scope::Universe),
            Some(ip("10.7.0.1"))
        );
    }

    #[test]
    fn addr_types() {
        let r = routing("");
        // (addr, dev, type)
        let cases = [
            ("198.51.100.5", None, RouteType::Local),
            ("198.51.100.5", Some("eth0"), RouteType::Local),
            ("198.51.100.5", Some("eth1"), RouteType::Unicast),
            ("198.51.100.255", None, RouteType::Broadcast),
            ("127.0.0.53", None, RouteType::Local),
            ("8.8.8.8", None, RouteType::Unicast),
            ("0.0.0.0", None, RouteType::Broadcast),
            ("0.1.2.3", None, RouteType::Broadcast),
            ("255.255.255.255", None, RouteType::Broadcast),
            ("224.0.0.1", None, RouteType::Multicast),
        ];
        for (addr, dev, want) in cases {
            assert_eq!(addr_type(&r, ip(addr), dev), want, "{addr} {dev:?}");
        }
    }

    #[test]
    fn first_addr_is_the_list_head() {
        let r = routing("");
        assert_eq!(first_addr(&r, "eth1"), Some(ip("169.254.1.1")));
        assert_eq!(first_addr(&r, "nope"), None);
    }

    #[test]
    fn from_dumps_fills_what_is_missing() {
        let links = ip_addr::parse("a", ADDRS).unwrap_or_else(|e| panic!("{e}"));
        let (r, assumed) = Routing::from_dumps(Some(links), None, None);
        assert_eq!(assumed.len(), 2);
        assert_eq!(
            r.rules.iter().map(|r| r.pref).collect::<Vec<_>>(),
            [0, 32766, 32767]
        );
        assert_eq!(addr_type(&r, ip("203.0.113.21"), None), RouteType::Local);
        assert_eq!(
            addr_type(&r, ip("10.9.255.255"), None),
            RouteType::Broadcast
        );
        let out = output_route(&r, &to("10.9.3.3"));
        assert_eq!((out.dev(), out.src()), (Some("eth1"), Some(ip("10.9.0.1"))));
        assert_eq!(
            output_route(&r, &to("8.8.8.8")).outcome,
            Err(OutputError::Fib(FibError::NetUnreachable))
        );
    }

    #[test]
    fn rules_are_sorted_stably() {
        let rules = ip_rule::parse(
            "r",
            "300:\tfrom all lookup 3\n100:\tfrom all lookup 1\n100:\tfrom all lookup 2\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (r, assumed) = Routing::from_dumps(None, None, Some(rules));
        assert!(assumed.is_empty());
        let actions: Vec<RuleAction> = r.rules.iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            [
                RuleAction::Lookup(1),
                RuleAction::Lookup(2),
                RuleAction::Lookup(3)
            ]
        );
    }
}
