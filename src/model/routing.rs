//! Interfaces and addresses (`ip addr`), routes (`ip route show table all`) and
//! policy rules (`ip rule show`).
//!
//! Read first: ../shared/docs/kernel-semantics.md §5.2, §6.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Well-known routing table ids (`rt_tables`).
pub mod table_id {
    /// `local`
    pub const LOCAL: u32 = 255;
    /// `main`
    pub const MAIN: u32 = 254;
    /// `default`
    pub const DEFAULT: u32 = 253;
}

/// Address and route scope (`rtnetlink.h RT_SCOPE_*`); a larger value is narrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
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

/// One nexthop of a (possibly multipath) route.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Nexthop {
    /// `via`
    pub gateway: Option<Ipv4Addr>,
    /// `dev`
    pub dev: Option<String>,
    /// `weight` (multipath), 1 by default.
    pub weight: u32,
    /// `onlink`, `dead`, `linkdown` flags as printed.
    pub flags: Vec<String>,
}

/// One route of `ip route show table all`.
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
    /// Nexthops; one for ordinary routes, several for `nexthop` lines, none for
    /// blackhole/unreachable/prohibit/throw.
    pub nexthops: Vec<Nexthop>,
    /// `src` (preferred source, RTA_PREFSRC).
    pub prefsrc: Option<Ipv4Addr>,
    /// `metric`/`priority`.
    pub metric: u32,
    /// Scope (universe when not printed; link for `scope link`, host for local).
    pub scope: Scope,
    /// `proto` as printed (kernel, boot, static, dhcp, …).
    pub protocol: Option<String>,
    /// The line as written, for display.
    pub text: String,
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
}

impl Routing {
    /// TEMPORARY stub (replaced by the routing branch).
    pub fn from_dumps(
        links: Option<Vec<Link>>,
        routes: Option<Vec<Route>>,
        rules: Option<Vec<FibRule>>,
    ) -> (Routing, Vec<String>) {
        (
            Routing {
                links: links.unwrap_or_default(),
                routes: routes.unwrap_or_default(),
                rules: rules.unwrap_or_default(),
                table_names: vec![],
            },
            vec![],
        )
    }
}
