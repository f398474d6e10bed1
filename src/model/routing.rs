//! Interfaces and addresses (`ip addr`), routes (`ip route show table all`) and
//! policy rules (`ip rule show`).
//!
//! Read first: ../shared/docs/kernel-semantics.md §5.2, §6.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use ipnet::Ipv4Net;

use crate::model::text::Text;

/// Well-known routing table ids (`rt_tables`).
pub mod table_id {
    /// `local`
    pub const LOCAL: u32 = 255;
    /// `main`
    pub const MAIN: u32 = 254;
    /// `default`
    pub const DEFAULT: u32 = 253;
    /// `unspec` (only seen in IPv6 dumps).
    pub const UNSPEC: u32 = 0;

    /// The names `ip` knows without `/etc/iproute2/rt_tables`.
    pub const WELL_KNOWN: &[(&str, u32)] = &[
        ("local", LOCAL),
        ("main", MAIN),
        ("default", DEFAULT),
        ("unspec", UNSPEC),
    ];

    /// Id of a table as printed: a number, a well-known name, or a custom name
    /// (from the dumping host's `rt_tables`, which is not in the dumps).
    ///
    /// Custom names get a stable id: FNV-1a of the name with the top bit set, so the
    /// same name in `ip route` and `ip rule` dumps always resolves to the same table.
    pub fn from_name(name: &str) -> u32 {
        if let Ok(n) = name.parse::<u32>() {
            return n;
        }
        if let Some((_, id)) = WELL_KNOWN.iter().find(|(n, _)| *n == name) {
            return *id;
        }
        custom(name)
    }

    /// The synthetic id of a custom table name (FNV-1a, top bit set).
    pub fn custom(name: &str) -> u32 {
        let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        0x8000_0000 | (hash & 0x7fff_ffff)
    }

    /// True when `text` is a name rather than a number or well-known name.
    pub fn is_custom_name(text: &str) -> bool {
        text.parse::<u32>().is_err() && !WELL_KNOWN.iter().any(|(n, _)| *n == text)
    }
}

/// Address and route scope (`rtnetlink.h RT_SCOPE_*`); a larger value is narrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Scope {
    /// `global` / universe (0)
    Universe,
    /// `site` (200)
    Site,
    /// `link` (253)
    Link,
    /// `host` (254)
    Host,
    /// `nowhere` (255)
    Nowhere,
}

/// One IPv4 address of an interface, in `ip addr` order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IfAddr {
    /// The local address.
    pub local: Ipv4Addr,
    /// Prefix length of the subnet.
    pub prefix_len: u8,
    /// `peer a.b.c.d/len` for point-to-point addresses.
    pub peer: Option<Ipv4Net>,
    /// Scope.
    pub scope: Scope,
    /// `secondary` flag: never chosen as a source by `inet_select_addr`.
    pub secondary: bool,
    /// Label (`eth0:1`) when it differs from the device name.
    pub label: Option<String>,
    /// `brd a.b.c.d` when printed.
    pub broadcast: Option<Ipv4Addr>,
    /// Other flags as printed (`dynamic`, `noprefixroute`, `deprecated`, …).
    pub flags: Vec<String>,
}

/// A network interface and its IPv4 addresses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// ifindex as printed (`2: eth0: …`); 0 when unknown.
    pub index: u32,
    /// Device name (without `@peer`).
    pub name: String,
    /// MAC address when printed (`link/ether …`).
    pub mac: Option<[u8; 6]>,
    /// `master DEV` (bridge, VRF).
    pub master: Option<String>,
    /// `state UP|DOWN|UNKNOWN`, and flags such as `UP`, `LOWER_UP`, `NOARP`.
    pub up: bool,
    /// MTU.
    pub mtu: Option<u32>,
    /// IPv4 addresses in list order (primaries before their secondaries).
    pub addrs: Vec<IfAddr>,
    /// Flags between `<…>` as printed (`LOOPBACK`, `UP`, `NOARP`, …).
    pub flags: Vec<String>,
    /// `group N` (`group default` = 0), used by `suppress_ifgroup`.
    pub group: u32,
    /// `vrf table N` from `ip -d addr`: this device is an L3 master (VRF).
    pub vrf_table: Option<u32>,
}

/// Route types (`rtnetlink.h RTN_*`), as `ip route` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RouteType {
    /// plain routes (type omitted in `ip route` output)
    Unicast,
    /// `local`
    Local,
    /// `broadcast`
    Broadcast,
    /// `anycast`
    Anycast,
    /// `multicast`
    Multicast,
    /// `blackhole`: silent drop (-EINVAL)
    Blackhole,
    /// `unreachable`: ICMP host unreachable (-EHOSTUNREACH)
    Unreachable,
    /// `prohibit`: ICMP packet filtered (-EACCES)
    Prohibit,
    /// `throw`: continue with the next policy rule (-EAGAIN)
    Throw,
    /// `nat` (obsolete)
    Nat,
}

/// One nexthop of a (possibly multipath) route (`struct fib_nh`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Nexthop {
    /// `via`
    pub gateway: Option<Ipv4Addr>,
    /// `dev`
    pub dev: Option<Text>,
    /// `weight` (multipath), 1 by default.
    pub weight: u32,
    /// `onlink`, `dead`, `linkdown`, … as printed.
    pub flags: NexthopFlags,
}

/// The nexthop flags `ip route` prints (`print_rt_flags`), as a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NexthopFlags(u16);

impl NexthopFlags {
    /// Every flag name `ip route` prints, in bit order.
    pub const NAMES: &'static [&'static str] = &[
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

    /// `dead` (`RTNH_F_DEAD`): the nexthop is not used.
    pub const DEAD: NexthopFlags = NexthopFlags(1 << 2);

    /// The flag called `name`, if `ip route` prints such a flag.
    pub fn from_name(name: &str) -> Option<NexthopFlags> {
        let bit = NexthopFlags::NAMES.iter().position(|n| *n == name)?;
        Some(NexthopFlags(1 << bit))
    }

    /// Adds the flags of `other`.
    pub fn insert(&mut self, other: NexthopFlags) {
        self.0 |= other.0;
    }

    /// True when every flag of `other` is set.
    pub fn contains(self, other: NexthopFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the flags set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        NexthopFlags::NAMES
            .iter()
            .enumerate()
            .filter(move |(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, n)| *n)
    }
}

impl serde::Serialize for NexthopFlags {
    /// As the list of names printed.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// One route of `ip route show table all`: what the kernel keeps per route
/// (`struct fib_alias`: destination, tos, type, table) and the attributes it
/// shares with other routes ([`FibInfo`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    /// 1-based line in the dump.
    pub line: u32,
    /// Type.
    pub kind: RouteType,
    /// Destination prefix (`default` = 0.0.0.0/0).
    pub dst: Ipv4Net,
    /// `tos`/`dsfield` selector, 0 when none.
    pub tos: u8,
    /// Table id (main when none printed).
    pub table: u32,
    /// Nexthops, source, metric, scope and protocol.
    #[serde(flatten)]
    pub info: Arc<FibInfo>,
    /// The line as written, for display.
    pub text: Text,
}

/// The attributes routes share (`struct fib_info`). As `fib_create_info` does
/// (net/ipv4/fib_semantics.c, `fib_find_info`), the parser gives routes with
/// equal attributes one shared `FibInfo`: a full Internet table has a million
/// routes and a handful of distinct `FibInfo`s (issue 6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FibInfo {
    /// Nexthops; one for ordinary routes, several for `nexthop` lines, none for
    /// blackhole/unreachable/prohibit/throw.
    pub nexthops: Vec<Nexthop>,
    /// `src` (preferred source, RTA_PREFSRC).
    pub prefsrc: Option<Ipv4Addr>,
    /// `metric`/`priority` (`fib_priority`).
    pub metric: u32,
    /// Scope (universe when not printed; link for `scope link`, host for local).
    pub scope: Scope,
    /// `proto` as printed (kernel, boot, static, dhcp, …).
    pub protocol: Option<Text>,
    /// `nhid N` (nexthop object), when printed.
    pub nhid: Option<u32>,
    /// Route metrics (`mtu`, `advmss`, …) as printed, in order.
    pub metrics: Vec<RouteMetric>,
}

impl FibInfo {
    /// No nexthop, metric 0, no source, protocol or metrics, in `scope`.
    pub fn new(scope: Scope) -> FibInfo {
        FibInfo {
            nexthops: Vec::new(),
            prefsrc: None,
            metric: 0,
            scope,
            protocol: None,
            nhid: None,
            metrics: Vec::new(),
        }
    }
}

/// One route metric (`RTAX_*`), e.g. `mtu lock 1400`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RouteMetric {
    /// Name as printed (`mtu`, `advmss`, `initcwnd`, …).
    pub name: &'static str,
    /// Value as printed.
    pub value: Text,
    /// `lock` was printed before the value.
    pub locked: bool,
}

/// What a policy rule does when it matches (`FR_ACT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RuleAction {
    /// `lookup TABLE`
    Lookup(u32),
    /// `goto PREF`
    Goto(u32),
    /// `nop`
    Nop,
    /// `blackhole`
    Blackhole,
    /// `unreachable`
    Unreachable,
    /// `prohibit`
    Prohibit,
    /// `failed_policy`: an OpenWrt-only action (`FR_ACT_FAILED_POLICY`, out of tree);
    /// treated like `prohibit` (the lookup fails with -EACCES).
    FailedPolicy,
}

/// One `ip rule` line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FibRule {
    /// 1-based line in the dump (0 for assumed default rules).
    pub line: u32,
    /// Priority.
    pub pref: u32,
    /// `not`
    pub invert: bool,
    /// `from PREFIX` (None = all)
    pub from: Option<Ipv4Net>,
    /// `to PREFIX`
    pub to: Option<Ipv4Net>,
    /// `tos`/`dsfield`
    pub tos: Option<u8>,
    /// `fwmark V[/M]` as (value, mask); mask 0xffffffff when not printed.
    pub fwmark: Option<(u32, u32)>,
    /// `iif DEV`
    pub iif: Option<String>,
    /// `oif DEV`
    pub oif: Option<String>,
    /// `ipproto P` (number)
    pub ipproto: Option<u8>,
    /// `sport a[-b]`
    pub sport: Option<(u16, u16)>,
    /// `dport a[-b]`
    pub dport: Option<(u16, u16)>,
    /// `uidrange a-b`
    pub uidrange: Option<(u32, u32)>,
    /// `lookup [l3mdev-table]`
    pub l3mdev: bool,
    /// Action.
    pub action: RuleAction,
    /// `suppress_prefixlength N`
    pub suppress_prefixlength: Option<u8>,
    /// `suppress_ifgroup G`
    pub suppress_ifgroup: Option<u32>,
    /// `iif DEV [detached]`: the device did not exist; the rule never matches.
    pub iif_detached: bool,
    /// `oif DEV [detached]`.
    pub oif_detached: bool,
    /// `tun_id N`
    pub tun_id: Option<u64>,
    /// `proto P` as printed (absent for `kernel`/unspec rules).
    pub protocol: Option<String>,
    /// The line as written, for display.
    pub text: String,
}

/// Everything routing needs: interfaces, routes, rules, and table names.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Interfaces in `ip addr` order (`lo` first on a real host).
    pub links: Vec<Link>,
    /// Routes of every table.
    pub routes: Vec<Route>,
    /// Policy rules sorted by pref (dump order kept among equal prefs).
    pub rules: Vec<FibRule>,
    /// Table names seen in the dumps (`lookup 100` → 100, `table foo` → id), name → id.
    pub table_names: Vec<(String, u32)>,
    /// Longest-prefix index over `routes`, built on the first lookup (`routes` is
    /// not changed once a host is loaded).
    index: OnceLock<RouteIndex>,
}

/// Routes by table, prefix length and masked destination: a lookup binary-searches
/// one sorted array per prefix length present in the table (at most 33), instead
/// of scanning every route (`fib_table_lookup` walks a trie; the result is the same
/// set). Eight bytes per route.
#[derive(Debug, Clone, Default)]
struct RouteIndex {
    /// Per table: its prefix lengths, each with its routes.
    tables: HashMap<u32, Vec<PrefixLen>>,
}

/// The routes of one table with one prefix length.
#[derive(Debug, Clone)]
struct PrefixLen {
    /// The prefix length.
    len: u8,
    /// (network, route index), sorted: routes to one network in dump order.
    routes: Box<[(u32, u32)]>,
}

impl RouteIndex {
    fn build(routes: &[Route]) -> RouteIndex {
        let key = |r: &Route| (r.table, r.dst.prefix_len());
        // Counted first, so each array is allocated once at its final size.
        let mut counts: HashMap<(u32, u8), usize, foldhash::fast::RandomState> = HashMap::default();
        for r in routes {
            *counts.entry(key(r)).or_default() += 1;
        }
        let mut by_len: HashMap<(u32, u8), Vec<(u32, u32)>, foldhash::fast::RandomState> = counts
            .into_iter()
            .map(|(k, n)| (k, Vec::with_capacity(n)))
            .collect();
        for (i, r) in (0..u32::MAX).zip(routes) {
            if let Some(bucket) = by_len.get_mut(&key(r)) {
                bucket.push((u32::from(r.dst.network()), i));
            }
        }
        let mut tables: HashMap<u32, Vec<PrefixLen>> = HashMap::new();
        for ((table, len), mut v) in by_len {
            v.sort_unstable();
            let routes = v.into_boxed_slice();
            tables
                .entry(table)
                .or_default()
                .push(PrefixLen { len, routes });
        }
        RouteIndex { tables }
    }

    /// Indices of the routes of `table` whose prefix covers `dst`, in dump order.
    fn covering(&self, table: u32, dst: Ipv4Addr) -> Vec<usize> {
        let Some(lens) = self.tables.get(&table) else {
            return Vec::new();
        };
        let dst = u32::from(dst);
        let mut found: Vec<usize> = lens
            .iter()
            .flat_map(|l| {
                let mask = u32::MAX.checked_shl(32 - u32::from(l.len)).unwrap_or(0);
                let net = dst & mask;
                let start = l.routes.partition_point(|&(n, _)| n < net);
                l.routes[start..]
                    .iter()
                    .take_while(move |&&(n, _)| n == net)
            })
            .map(|&(_, i)| i as usize)
            .collect();
        found.sort_unstable();
        found
    }
}

impl Scope {
    /// Spelling table (`rtnl_rtscope_n2a`) shared by parsers and `Display`.
    pub const NAMES: &'static [(Scope, &'static str)] = &[
        (Scope::Universe, "global"),
        (Scope::Site, "site"),
        (Scope::Link, "link"),
        (Scope::Host, "host"),
        (Scope::Nowhere, "nowhere"),
    ];

    /// Parses a numeric scope (`0`, `200`, `253`, `254`, `255`).
    pub fn from_number(text: &str) -> Option<Scope> {
        let by_number = match text.parse::<u8>().ok()? {
            0 => Scope::Universe,
            200 => Scope::Site,
            253 => Scope::Link,
            254 => Scope::Host,
            255 => Scope::Nowhere,
            _ => return None,
        };
        Some(by_number)
    }

    /// Parses a scope name or number.
    pub fn parse(text: &str) -> Option<Scope> {
        if text == "universe" {
            return Some(Scope::Universe);
        }
        Scope::NAMES
            .iter()
            .find(|(_, n)| *n == text)
            .map(|(s, _)| *s)
            .or_else(|| Scope::from_number(text))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = Scope::NAMES
            .iter()
            .find(|(s, _)| s == self)
            .map_or("?", |(_, n)| n);
        f.write_str(name)
    }
}

impl RouteType {
    /// Spelling table (`rtnl_rtntype_n2a`) shared by parsers and `Display`.
    pub const NAMES: &'static [(RouteType, &'static str)] = &[
        (RouteType::Unicast, "unicast"),
        (RouteType::Local, "local"),
        (RouteType::Broadcast, "broadcast"),
        (RouteType::Anycast, "anycast"),
        (RouteType::Multicast, "multicast"),
        (RouteType::Blackhole, "blackhole"),
        (RouteType::Unreachable, "unreachable"),
        (RouteType::Prohibit, "prohibit"),
        (RouteType::Throw, "throw"),
        (RouteType::Nat, "nat"),
    ];

    /// Parses a route type keyword.
    pub fn parse(text: &str) -> Option<RouteType> {
        RouteType::NAMES
            .iter()
            .find(|(_, n)| *n == text)
            .map(|(t, _)| *t)
    }

    /// The default scope the kernel gives this type (`fib_props[type].scope`).
    pub fn default_scope(self) -> Scope {
        match self {
            RouteType::Local => Scope::Host,
            RouteType::Broadcast | RouteType::Anycast => Scope::Link,
            RouteType::Unicast
            | RouteType::Multicast
            | RouteType::Blackhole
            | RouteType::Unreachable
            | RouteType::Prohibit
            | RouteType::Throw
            | RouteType::Nat => Scope::Universe,
        }
    }

    /// True for the types whose lookup returns an error (`fib_props[type].error`).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            RouteType::Blackhole | RouteType::Unreachable | RouteType::Prohibit | RouteType::Throw
        )
    }
}

impl std::fmt::Display for RouteType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = RouteType::NAMES
            .iter()
            .find(|(t, _)| t == self)
            .map_or("?", |(_, n)| n);
        f.write_str(name)
    }
}

impl IfAddr {
    /// The address `inet_ifa_match` compares against: the peer for
    /// point-to-point addresses (`ifa_address`), else the local address.
    pub fn ifa_address(&self) -> Ipv4Addr {
        self.peer.map_or(self.local, |p| p.addr())
    }

    /// The prefix this address covers (`ifa_address & ifa_mask`).
    pub fn subnet(&self) -> Ipv4Net {
        Ipv4Net::new(self.ifa_address(), self.prefix_len.min(32))
            .map_or_else(|_| Ipv4Net::from(self.local), |n| n.trunc())
    }

    /// `inet_ifa_match(addr, ifa)` (`include/linux/inetdevice.h`):
    /// `(addr ^ ifa_address) & ifa_mask == 0`.
    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        self.subnet().contains(&addr)
    }

    /// True when `noprefixroute` was printed (no connected route is added).
    pub fn noprefixroute(&self) -> bool {
        self.flags.iter().any(|f| f == "noprefixroute")
    }
}

impl Link {
    /// True for the loopback device (`LOOPBACK` flag, or named `lo`).
    pub fn is_loopback(&self) -> bool {
        self.flags.iter().any(|f| f == "LOOPBACK") || self.name == "lo"
    }
}

impl Routing {
    /// Indices of the routes of `table` covering `dst` (any prefix length), in
    /// dump order. Uses a prefix index built on the first call.
    pub fn routes_covering(&self, table: u32, dst: Ipv4Addr) -> Vec<usize> {
        self.index
            .get_or_init(|| RouteIndex::build(&self.routes))
            .covering(table, dst)
    }

    /// The interface called `name`.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The name of table `id` as `ip` would print it (custom names when known).
    pub fn table_name(&self, id: u32) -> String {
        table_id::WELL_KNOWN
            .iter()
            .map(|(n, i)| (*n, *i))
            .chain(self.table_names.iter().map(|(n, i)| (n.as_str(), *i)))
            .find(|(_, i)| *i == id)
            .map_or_else(|| id.to_string(), |(n, _)| n.to_string())
    }

    /// Records table names (`table DSL` → id), keeping the first spelling of each.
    pub fn add_table_names(&mut self, names: &[(String, u32)]) {
        for (name, id) in names {
            if !self.table_names.iter().any(|(n, _)| n == name) {
                self.table_names.push((name.clone(), *id));
            }
        }
    }

    /// Builds the routing state from whichever dumps exist, and says what was assumed.
    ///
    /// * no `ip rule` dump → the three default rules of `fib_default_rules_init`;
    /// * no `ip route` dump but addresses known → the local table and the connected
    ///   routes that `fib_add_ifaddr` would add for each address;
    /// * routes without any `table local` entry but addresses known → the local table
    ///   is synthesized the same way (the dump was `ip route`, not `table all`);
    /// * rules are sorted by pref, dump order kept among equal prefs (`fib_nl_newrule`).
    pub fn from_dumps(
        links: Option<Vec<Link>>,
        routes: Option<Vec<Route>>,
        rules: Option<Vec<FibRule>>,
    ) -> (Routing, Vec<String>) {
        let mut assumptions = Vec::new();
        let links_known = links.is_some();
        let links = links.unwrap_or_default();
        let routes = complete_routes(&links, links_known, routes, &mut assumptions);
        let mut rules = rules.unwrap_or_else(|| {
            assumptions.push(
                "no ip rule dump: assumed the default rules \
                 0: lookup local, 32766: lookup main, 32767: lookup default"
                    .to_string(),
            );
            default_rules()
        });
        rules.sort_by_key(|r| r.pref);
        let routing = Routing {
            links,
            routes,
            rules,
            table_names: Vec::new(),
            index: OnceLock::new(),
        };
        (routing, assumptions)
    }
}

/// Adds synthesized routes where the dumps leave them out (see [`Routing::from_dumps`]).
fn complete_routes(
    links: &[Link],
    links_known: bool,
    routes: Option<Vec<Route>>,
    assumptions: &mut Vec<String>,
) -> Vec<Route> {
    match routes {
        None if links_known => {
            assumptions.push(
                "no ip route dump: assumed only the local table and the connected routes \
                 the kernel adds for each address (fib_add_ifaddr)"
                    .to_string(),
            );
            let mut routes = local_table_from_addrs(links);
            routes.extend(connected_routes_from_addrs(links));
            routes
        }
        None => Vec::new(),
        Some(mut routes) => {
            let has_local = routes.iter().any(|r| r.table == table_id::LOCAL);
            if links_known && !has_local {
                assumptions.push(
                    "route dump has no local table: assumed the local and broadcast routes \
                     the kernel adds for each address (fib_add_ifaddr)"
                        .to_string(),
                );
                routes.extend(local_table_from_addrs(links));
            }
            routes
        }
    }
}

/// The default policy rules (`fib_default_rules_init`, net/ipv4/fib_rules.c).
pub fn default_rules() -> Vec<FibRule> {
    [
        (0, table_id::LOCAL, "local"),
        (32766, table_id::MAIN, "main"),
        (32767, table_id::DEFAULT, "default"),
    ]
    .into_iter()
    .map(|(pref, table, name)| FibRule {
        text: format!("{pref}:\tfrom all lookup {name}"),
        ..FibRule::lookup(pref, table)
    })
    .collect()
}

impl FibRule {
    /// A `from all lookup TABLE` rule with no selectors, line 0 (not from a dump).
    pub fn lookup(pref: u32, table: u32) -> FibRule {
        FibRule {
            line: 0,
            pref,
            invert: false,
            from: None,
            to: None,
            tos: None,
            fwmark: None,
            iif: None,
            oif: None,
            ipproto: None,
            sport: None,
            dport: None,
            uidrange: None,
            l3mdev: false,
            action: RuleAction::Lookup(table),
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            iif_detached: false,
            oif_detached: false,
            tun_id: None,
            protocol: None,
            text: format!("{pref}:\tfrom all lookup {table}"),
        }
    }
}

impl Route {
    /// A route on `dev` with `proto kernel`, its preferred source and scope, line 0:
    /// a route the kernel adds for an address (`fib_add_ifaddr`).
    pub fn synthesized(
        kind: RouteType,
        dst: Ipv4Net,
        table: u32,
        dev: &str,
        (scope, prefsrc): (Scope, Ipv4Addr),
        text: String,
    ) -> Route {
        let nexthop = Nexthop {
            gateway: None,
            dev: Some(Text::from(dev)),
            weight: 1,
            flags: NexthopFlags::default(),
        };
        let info = FibInfo {
            nexthops: vec![nexthop],
            prefsrc: Some(prefsrc),
            protocol: Some(Text::from_static("kernel")),
            ..FibInfo::new(scope)
        };
        Route {
            line: 0,
            kind,
            dst,
            tos: 0,
            table,
            info: Arc::new(info),
            text: text.into(),
        }
    }

    /// The nexthop devices of this route.
    pub fn devs(&self) -> impl Iterator<Item = &str> {
        self.info.nexthops.iter().filter_map(|n| n.dev.as_deref())
    }
}

/// The local-table routes `fib_add_ifaddr` (net/ipv4/fib_frontend.c) adds per address:
/// `local ADDR` (the whole prefix on loopback devices) and `broadcast BRD`.
pub fn local_table_from_addrs(links: &[Link]) -> Vec<Route> {
    let mut routes = Vec::new();
    for link in links {
        for addr in &link.addrs {
            let prim = primary_for(link, addr);
            let mut push = |kind: RouteType, dst: Ipv4Net| {
                let text = format!("{kind} {dst} dev {} table local (synthesized)", link.name);
                let source = (kind.default_scope(), prim);
                let r = Route::synthesized(kind, dst, table_id::LOCAL, &link.name, source, text);
                routes.push(r);
            };
            push(RouteType::Local, Ipv4Net::from(addr.local));
            if link.is_loopback() && addr.prefix_len < 32 {
                push(RouteType::Local, addr.subnet());
            }
            for brd in broadcasts(addr) {
                push(RouteType::Broadcast, Ipv4Net::from(brd));
            }
        }
    }
    routes
}

/// Broadcast addresses `fib_add_ifaddr` installs: `brd` and, below /31, the subnet's
/// all-ones address.
fn broadcasts(addr: &IfAddr) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = addr
        .broadcast
        .filter(|b| *b != Ipv4Addr::BROADCAST)
        .into_iter()
        .collect();
    if addr.prefix_len < 31 && addr.peer.is_none() && !addr.secondary {
        let all_ones = addr.subnet().broadcast();
        if !out.contains(&all_ones) {
            out.push(all_ones);
        }
    }
    out
}

/// The primary address a secondary belongs to (`prim` in `fib_add_ifaddr`).
fn primary_for(link: &Link, addr: &IfAddr) -> Ipv4Addr {
    if !addr.secondary {
        return addr.local;
    }
    link.addrs
        .iter()
        .find(|a| !a.secondary && a.matches(addr.local))
        .map_or(addr.local, |a| a.local)
}

/// The connected routes (`PREFIX dev DEV proto kernel scope link src ADDR`) that
/// `fib_add_ifaddr` adds to main for each primary address without `noprefixroute`.
pub fn connected_routes_from_addrs(links: &[Link]) -> Vec<Route> {
    let mut routes = Vec::new();
    for link in links.iter().filter(|l| !l.is_loopback()) {
        for addr in &link.addrs {
            let subnet = addr.subnet();
            let host_only = subnet.prefix_len() == 32 && addr.peer.is_none();
            if addr.secondary || addr.noprefixroute() || host_only {
                continue;
            }
            let text = format!(
                "{subnet} dev {} proto kernel scope link src {} (synthesized)",
                link.name, addr.local
            );
            let source = (Scope::Link, addr.local);
            let main = table_id::MAIN;
            let kind = RouteType::Unicast;
            let r = Route::synthesized(kind, subnet, main, &link.name, source, text);
            routes.push(r);
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route(table: u32, dst: Ipv4Net) -> Route {
        let source = (Scope::Universe, Ipv4Addr::UNSPECIFIED);
        Route::synthesized(
            RouteType::Unicast,
            dst,
            table,
            "eth0",
            source,
            String::new(),
        )
    }

    /// Every route of `table` whose prefix holds `dst`, in dump order.
    fn covering_by_scan(routes: &[Route], table: u32, dst: Ipv4Addr) -> Vec<usize> {
        (0..routes.len())
            .filter(|&i| routes[i].table == table && routes[i].dst.trunc().contains(&dst))
            .collect()
    }

    proptest! {
        /// Few networks and tables, so that prefixes nest and repeat.
        #[test]
        fn index_finds_what_a_scan_finds(
            routes in prop::collection::vec((0u32..3, 0u32..8, 0u8..=32), 0..80),
            dst in 0u32..8,
            table in 0u32..3,
        ) {
            let routes: Vec<Route> = routes
                .into_iter()
                .map(|(t, net, len)| {
                    let addr = Ipv4Addr::from(net.rotate_right(3) | net);
                    route(t, Ipv4Net::new(addr, len).unwrap_or_default())
                })
                .collect();
            let dst = Ipv4Addr::from(dst.rotate_right(3) | dst);
            let index = RouteIndex::build(&routes);
            prop_assert_eq!(index.covering(table, dst), covering_by_scan(&routes, table, dst));
        }
    }

    #[test]
    fn index_keeps_host_bits_apart_from_the_network() {
        // `ip route add 10.1.2.3/8` stores 10.0.0.0/8 (the kernel refuses host
        // bits; a dump never has them), but a hand-written one must still match.
        let dst = |s: &str| s.parse::<Ipv4Net>().unwrap_or_default();
        let routes = vec![
            route(254, dst("10.0.0.0/8")),
            route(254, dst("10.1.0.0/16")),
        ];
        let index = RouteIndex::build(&routes);
        let addr = Ipv4Addr::new(10, 1, 9, 9);
        assert_eq!(index.covering(254, addr), vec![0, 1]);
        assert_eq!(index.covering(255, addr), Vec::<usize>::new());
        assert_eq!(index.covering(254, Ipv4Addr::new(10, 2, 0, 1)), vec![0]);
    }
}
