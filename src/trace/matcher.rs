//! Rule matching: `ip_packet_match` and every `-m` module nftrace evaluates.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.1, §2.5, §7.
//! Modules that need state the dumps lack are decided by [`AssumeConfig`] and
//! reported as [`Assumption`]s, never silently.

use std::net::Ipv4Addr;

use super::assume::AssumeConfig;
use super::event::{Assumption, Hook, RuleRef};
use super::routing::addr_type;
use crate::model::conntrack::{CtInfo, CtState};
use crate::model::matches::{
    AddrtypeMatch, CtCondition, CtStateSet, IcmpMatch, IprangeMatch, Match, MatchKind,
    MultiportDir, MultiportMatch, PortRange, StatisticMode, TcpMatch, TtlOp, UdpMatch,
};
use crate::model::packet::{Packet, Transport};
use crate::model::routing::{RouteType, Routing};
use crate::model::ruleset::{IpHeaderMatch, Neg, Rule};

/// What a match sees besides the packet.
pub struct MatchCtx<'a> {
    /// The packet.
    pub packet: &'a Packet,
    /// Hook being traversed.
    pub hook: Hook,
    /// Input device (`None` at OUTPUT).
    pub in_dev: Option<&'a str>,
    /// Output device (`None` at PREROUTING/INPUT).
    pub out_dev: Option<&'a str>,
    /// Conntrack state of the packet.
    pub ct: &'a CtState,
    /// Routing, for `addrtype`.
    pub routing: &'a Routing,
    /// Assumptions in force.
    pub assume: &'a AssumeConfig,
    /// True for a locally generated packet (socket owner known).
    pub local: bool,
    /// Set once IPVS handled the packet (`skb->ipvs_property`).
    pub ipvs: Option<&'a super::walk::IpvsMark>,
    /// ipsets from the bundle, when given.
    pub ipsets: Option<&'a crate::model::ipset::IpSets>,
}

/// Per-trace state of stateful matches (statistic counters).
#[derive(Debug, Default)]
pub struct MatchState {
    /// Random `statistic` rules met so far in this trace.
    pub random_seen: u64,
}

/// Applies `!`: `value ^ invert`.
fn neg<T>(n: &Neg<T>, f: impl FnOnce(&T) -> bool) -> bool {
    f(&n.value) ^ n.invert
}

/// `ip_packet_match` (ip_tables.c): addresses, interfaces, protocol, fragments.
pub fn header_matches(ip: &IpHeaderMatch, ctx: &MatchCtx) -> bool {
    let p = ctx.packet;
    let opt = |o: Option<bool>| o.unwrap_or(true);
    opt(ip.src.as_ref().map(|m| neg(m, |a| a.contains(p.src))))
        && opt(ip.dst.as_ref().map(|m| neg(m, |a| a.contains(p.dst))))
        && opt(ip
            .in_iface
            .as_ref()
            .map(|m| neg(m, |i| i.matches(ctx.in_dev.unwrap_or("")))))
        && opt(ip
            .out_iface
            .as_ref()
            .map(|m| neg(m, |i| i.matches(ctx.out_dev.unwrap_or("")))))
        && opt(ip
            .proto
            .as_ref()
            .map(|m| neg(m, |pr| pr.number == 0 || pr.number == p.proto())))
        && opt(ip.fragment.map(|invert| p.fragment ^ invert))
}

/// True when every part of the rule matches. Assumptions made are pushed to `notes`.
pub fn rule_matches(
    rule: &Rule,
    rule_ref: &RuleRef,
    ctx: &MatchCtx,
    state: &mut MatchState,
    notes: &mut Vec<Assumption>,
) -> bool {
    if !header_matches(&rule.ip, ctx) {
        return false;
    }
    rule.matches.iter().all(|m| {
        let mut eval = Eval {
            ctx,
            state: &mut *state,
            notes: &mut *notes,
            rule: rule_ref,
        };
        eval.one(m)
    })
}

/// Evaluates one match, with somewhere to put assumptions.
struct Eval<'a, 'b> {
    ctx: &'a MatchCtx<'b>,
    state: &'a mut MatchState,
    notes: &'a mut Vec<Assumption>,
    rule: &'a RuleRef,
}

impl Eval<'_, '_> {
    fn assume(&mut self, key: &str, text: String) {
        self.notes.push(Assumption {
            key: key.to_string(),
            text,
            rule: Some(self.rule.clone()),
        });
    }

    fn one(&mut self, m: &Match) -> bool {
        let ctx = self.ctx;
        let p = ctx.packet;
        match &m.kind {
            MatchKind::Tcp(t) => tcp_matches(t, p),
            MatchKind::Udp(u) => udp_matches(u, p),
            MatchKind::Icmp(i) => icmp_matches(i, p),
            MatchKind::Multiport(mp) => multiport_matches(mp, p),
            MatchKind::Iprange(r) => iprange_matches(r, p),
            MatchKind::Mark(mm) => ((p.mark & mm.mask) == mm.value) ^ mm.invert,
            MatchKind::Connmark(mm) => match ctx.ct.conn() {
                Some(c) => ((c.mark & mm.mask) == mm.value) ^ mm.invert,
                None => false,
            },
            MatchKind::Conntrack(conds) => conds.iter().all(|c| ct_condition(c, ctx.ct)),
            MatchKind::State(s) => state_bits_match(&s.value, ctx.ct, false) ^ s.invert,
            MatchKind::Comment(_) => true,
            MatchKind::Addrtype(a) => addrtype_matches(a, ctx),
            MatchKind::Length(l) => neg(l, |r| r.contains(p.len)),
            MatchKind::Pkttype(t) => neg(t, |name| pkttype_matches(name, ctx)),
            MatchKind::Ttl(t) => neg(t, |(op, v)| match op {
                TtlOp::Eq => p.ttl == *v,
                TtlOp::Lt => p.ttl < *v,
                TtlOp::Gt => p.ttl > *v,
            }),
            MatchKind::Tos(t) => neg(t, |(v, m)| p.tos & m == *v),
            MatchKind::Dscp(d) => neg(d, |v| p.tos >> 2 == *v),
            MatchKind::Mac(mac) => self.mac(mac),
            MatchKind::Statistic(s) => self.statistic(s),
            MatchKind::Set(set) => self.set(set.invert, &set.name, &set.dirs),
            MatchKind::Other(args) => self.other(&m.module, args),
        }
    }

    fn mac(&mut self, mac: &Neg<[u8; 6]>) -> bool {
        match self.ctx.packet.mac_src {
            Some(src) if self.ctx.in_dev.is_some() => (src == mac.value) ^ mac.invert,
            Some(_) => false,
            None => {
                self.assume(
                    "mac",
                    "the packet's source MAC is unknown (give --mac-src); `-m mac` taken as not matching"
                        .into(),
                );
                false
            }
        }
    }

    /// `xt_statistic.c statistic_mt`.
    fn statistic(&mut self, s: &Neg<StatisticMode>) -> bool {
        match &s.value {
            StatisticMode::Random { probability, .. }
                if *probability >= 1.0 || *probability <= 0.0 =>
            {
                // `(random & 0x7FFFFFFF) < P * 2^31`: certain at 1, impossible at 0.
                (*probability >= 1.0) ^ s.invert
            }
            StatisticMode::Random { text, .. } => {
                self.state.random_seen += 1;
                let n = self.state.random_seen;
                let chosen = self.ctx.assume.get("statistic");
                let hit = chosen.parse::<u64>().is_ok_and(|k| k == n);
                self.assume(
                    "statistic",
                    format!(
                        "random draw for `--probability {text}` (random rule #{n} met): {} (--assume statistic={chosen})",
                        if hit { "matches" } else { "does not match" }
                    ),
                );
                hit ^ s.invert
            }
            StatisticMode::Nth { every, packet } => {
                let k = self.ctx.assume.number("statistic-nth");
                let hit = *every > 0 && k % u64::from(*every) == u64::from(*packet);
                self.assume(
                    "statistic-nth",
                    format!("`--mode nth --every {every}` counter at {k} (fresh ruleset: 0)"),
                );
                hit ^ s.invert
            }
        }
    }

    fn set(&mut self, invert: bool, name: &str, dirs: &[String]) -> bool {
        if let Some(hit) = self.set_from_dump(name, dirs) {
            return hit ^ invert;
        }
        let hit = self.ctx.assume.matches("set");
        self.assume(
            "set",
            format!(
                "no ipset dump: packet taken as {}in set {name} ({})",
                if hit { "" } else { "not " },
                dirs.join(",")
            ),
        );
        hit ^ invert
    }

    /// `ip_set_test` against the bundle's `ipset.txt`; `None` without it or
    /// when the set is not in the dump.
    fn set_from_dump(&mut self, name: &str, dirs: &[String]) -> Option<bool> {
        use crate::model::ipset::{dims, Dir, Flow};
        let sets = self.ctx.ipsets?;
        let p = self.ctx.packet;
        let dirs: Vec<Dir> = dirs
            .iter()
            .map(|d| if d == "src" { Dir::Src } else { Dir::Dst })
            .collect();
        let ports = match p.transport {
            Transport::Icmp {
                icmp_type, code, ..
            } => Some((u16::from(icmp_type) << 8 | u16::from(code), 0)),
            t => t.ports(),
        };
        let flow = Flow {
            src: p.src,
            dst: p.dst,
            proto: p.proto(),
            ports,
            mark: p.mark,
        };
        let hit = sets.contains(name, &dims(&dirs, &flow));
        if hit.is_none() {
            self.assume("set", format!("ipset {name} is not in ipset.txt"));
        }
        hit
    }

    /// Modules kept verbatim: decided by assumption (or deterministically where the
    /// kernel's answer does not depend on missing state).
    fn other(&mut self, module: &str, args: &[String]) -> bool {
        let ctx = self.ctx;
        match module {
            "ipvs" => ipvs_matches(args, ctx.ipvs),
            "limit" | "hashlimit" => {
                // A full bucket is within the rate: `--hashlimit-above` (and a
                // `!`-inverted limit) then does not match (recorded: corpus home-user-fw).
                let above = args.iter().any(|a| a == "--hashlimit-above")
                    ^ args.first().is_some_and(|a| a == "!");
                let within = self.ctx.assume.matches("limit");
                self.assume(
                    "limit",
                    format!(
                        "`-m {module}`: the packet is {} the rate (--assume limit={}; fresh ruleset: within)",
                        if within { "within" } else { "above" },
                        self.ctx.assume.get("limit")
                    ),
                );
                within ^ above
            }
            "recent" => self.recent(args),
            "connlimit" => self.connlimit(args),
            "owner" => self.owner(args),
            "physdev" => physdev(args),
            "u32" => self.u32(args),
            "string" => self.string(args),
            "policy" => policy(args),
            "helper" => {
                self.assume(
                    "unknown-match",
                    "no conntrack helper assigned to a first packet".into(),
                );
                args.first().is_some_and(|a| a == "!")
            }
            "quota" => self.by_key("limit", module, "quota not exhausted"),
            "rpfilter" => {
                self.assume(
                    "unknown-match",
                    "rpfilter: source taken as passing the reverse-path check".into(),
                );
                !args.iter().any(|a| a == "--invert")
            }
            _ => {
                let hit = ctx.assume.matches("unknown-match");
                self.assume(
                    "unknown-match",
                    format!(
                        "`-m {module} {}` is not evaluated by nftrace; taken as {}",
                        args.join(" "),
                        if hit { "matching" } else { "not matching" }
                    ),
                );
                hit
            }
        }
    }

    /// `xt_u32.c`: evaluated on the header bytes the model knows.
    fn u32(&mut self, args: &[String]) -> bool {
        let invert = args.first().is_some_and(|a| a == "!");
        let expr = args.iter().skip_while(|a| *a != "--u32").nth(1);
        let bytes = super::u32::packet_bytes(self.ctx.packet);
        match expr.map(|e| super::u32::eval(e, &bytes)) {
            Some(Ok(hit)) => {
                if self.ctx.packet.payload.is_none() && self.ctx.packet.len > 40 {
                    self.assume(
                        "u32",
                        "payload bytes unknown: read as zeros (give --payload)".into(),
                    );
                }
                hit ^ invert
            }
            _ => self.by_key("u32", "u32", "expression not understood"),
        }
    }

    /// `xt_string.c`: searched in `--payload` when given, else an assumption.
    fn string(&mut self, args: &[String]) -> bool {
        let mut invert = false;
        let mut needle = None;
        let mut icase = false;
        let mut i = 0;
        while let Some(a) = args.get(i) {
            match a.as_str() {
                "!" => invert = true,
                "--string" => needle = args.get(i + 1),
                "--icase" => icase = true,
                _ => {}
            }
            i += 1;
        }
        match (&self.ctx.packet.payload, needle) {
            (Some(payload), Some(n)) => {
                let hit = if icase {
                    payload.to_lowercase().contains(&n.to_lowercase())
                } else {
                    payload.contains(n.as_str())
                };
                hit ^ invert
            }
            _ => self.by_key("string", "string", "payload not known (give --payload)"),
        }
    }

    fn by_key(&mut self, key: &str, module: &str, why: &str) -> bool {
        let hit = self.ctx.assume.matches(key);
        self.assume(
            key,
            format!(
                "`-m {module}`: {why}; taken as {} (--assume {key}={})",
                if hit { "matching" } else { "not matching" },
                self.ctx.assume.get(key)
            ),
        );
        hit
    }

    /// `xt_recent.c`: `--set` always matches (it adds); `--rcheck`/`--update` look the
    /// source up; `--remove` matches only when it was listed.
    fn recent(&mut self, args: &[String]) -> bool {
        let name = args
            .iter()
            .position(|a| a == "--name")
            .and_then(|i| args.get(i + 1))
            .map_or("DEFAULT", String::as_str);
        let setting = self.ctx.assume.get("recent");
        let listed = setting == "all" || setting.split(',').any(|n| n == name);
        let invert = args.first().is_some_and(|a| a == "!");
        let hit = if args.iter().any(|a| a == "--set") {
            true
        } else {
            listed
        };
        self.assume(
            "recent",
            format!(
                "`recent` list {name} taken as {} (fresh ruleset: empty)",
                if listed {
                    "holding the source"
                } else {
                    "not holding the source"
                }
            ),
        );
        hit ^ invert
    }

    /// `xt_connlimit.c`: compares the number of connections with the limit.
    fn connlimit(&mut self, args: &[String]) -> bool {
        let count = self.ctx.assume.number("connlimit");
        let value_after = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        self.assume(
            "connlimit",
            format!("connlimit counts {count} existing connections (+1 for this one)"),
        );
        // The new connection counts itself (recorded: `--connlimit-above 0` matches).
        let connections = count + 1;
        if let Some(limit) = value_after("--connlimit-above") {
            connections > limit
        } else if let Some(limit) = value_after("--connlimit-upto") {
            connections <= limit
        } else {
            false
        }
    }

    /// `xt_owner.c`: only locally generated packets have a socket.
    fn owner(&mut self, args: &[String]) -> bool {
        if !self.ctx.local {
            return owner_tests(args, None);
        }
        let uid = self.ctx.assume.number("uid");
        let gid = self.ctx.assume.number("gid");
        self.assume(
            "uid",
            format!("the local socket belongs to uid {uid} gid {gid}"),
        );
        owner_tests(args, Some((uid, gid)))
    }
}

/// `xt_ipvs.c ipvs_mt`: `--ipvs` alone tests `skb->ipvs_property`; any other
/// option needs the property and compares the IPVS connection.
fn ipvs_matches(args: &[String], mark: Option<&super::walk::IpvsMark>) -> bool {
    let mut invert = false;
    let mut ok = true;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let value = args.get(i + 1).map(String::as_str);
        let (hit, used) = match a.as_str() {
            "!" => {
                invert = true;
                i += 1;
                continue;
            }
            "--ipvs" => (mark.is_some(), 1),
            opt => {
                let Some(m) = mark else { return false };
                let hit = match (opt, value) {
                    ("--vproto", Some(v)) => {
                        v.parse::<u8>().ok().or(match v {
                            "tcp" => Some(6),
                            "udp" => Some(17),
                            "sctp" => Some(132),
                            _ => None,
                        }) == Some(m.proto)
                    }
                    ("--vaddr", Some(v)) => crate::parse::lex::parse_addr_mask(v)
                        .is_some_and(|(a, _)| a.contains(m.vaddr)),
                    ("--vport", Some(v)) => v.parse::<u16>().is_ok_and(|p| p == m.vport),
                    ("--vdir", Some(v)) => (v == "REPLY") == m.reply,
                    ("--vmethod", Some(v)) => {
                        v == m.method || (v == "IPIP" && m.method == "TUNNEL")
                    }
                    _ => false,
                };
                (hit, 2)
            }
        };
        ok &= hit ^ invert;
        invert = false;
        i += used;
    }
    ok
}

/// Evaluates `owner` options; `None` when the packet has no local socket.
fn owner_tests(args: &[String], ids: Option<(u64, u64)>) -> bool {
    let mut invert = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "!" {
            invert = true;
            i += 1;
            continue;
        }
        let value = args.get(i + 1).map(String::as_str);
        let result = match (a, ids) {
            ("--socket-exists", ids) => {
                i += 1;
                ids.is_some()
            }
            ("--uid-owner", Some((uid, _))) => {
                i += 2;
                id_in(value, uid, "root")
            }
            ("--gid-owner", Some((_, gid))) => {
                i += 2;
                id_in(value, gid, "root")
            }
            (_, _) => {
                i += 2;
                false
            }
        };
        if !(result ^ invert) {
            return false;
        }
        invert = false;
    }
    true
}

/// `N`, `N-M` or the name of id 0.
fn id_in(value: Option<&str>, id: u64, zero_name: &str) -> bool {
    let Some(v) = value else { return false };
    if v == zero_name {
        return id == 0;
    }
    match v.split_once('-') {
        Some((a, b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&id),
            _ => false,
        },
        None => v.parse::<u64>().is_ok_and(|n| n == id),
    }
}

/// `xt_physdev.c`: routed packets have no bridge port, so positive tests fail and
/// negated ones pass.
fn physdev(args: &[String]) -> bool {
    let mut invert = false;
    for a in args {
        if a == "!" {
            invert = true;
        } else if a.starts_with("--") {
            if !invert {
                return false;
            }
            invert = false;
        }
    }
    true
}

/// `xt_policy.c`: no IPsec in the model, so `--pol none` matches and `--pol ipsec` does not.
fn policy(args: &[String]) -> bool {
    let pol = args
        .iter()
        .position(|a| a == "--pol")
        .and_then(|i| args.get(i + 1));
    pol.is_none_or(|p| p == "none")
}

fn ports_of(p: &Packet) -> Option<(u16, u16)> {
    if p.fragment {
        return None;
    }
    p.transport.ports()
}

fn port_ok(r: &Option<Neg<PortRange>>, port: u16) -> bool {
    r.as_ref().is_none_or(|n| neg(n, |r| r.contains(port)))
}

/// `tcp_mt`: non-first fragments never match.
fn tcp_matches(t: &TcpMatch, p: &Packet) -> bool {
    let Transport::Tcp {
        sport,
        dport,
        flags,
    } = p.transport
    else {
        return false;
    };
    if p.fragment {
        return false;
    }
    port_ok(&t.sport, sport)
        && port_ok(&t.dport, dport)
        && t.flags
            .as_ref()
            .is_none_or(|n| neg(n, |(mask, comp)| flags & mask == *comp))
        && t.option.as_ref().is_none_or(|n| neg(n, |_| false))
}

fn udp_matches(u: &UdpMatch, p: &Packet) -> bool {
    let Transport::Udp { sport, dport } = p.transport else {
        return false;
    };
    !p.fragment && port_ok(&u.sport, sport) && port_ok(&u.dport, dport)
}

/// `icmp_match` in ip_tables.c: type 0xFF (`any`) matches every type.
fn icmp_matches(i: &IcmpMatch, p: &Packet) -> bool {
    let Transport::Icmp {
        icmp_type, code, ..
    } = p.transport
    else {
        return false;
    };
    if p.fragment {
        return false;
    }
    let hit = match i.icmp_type {
        None => true,
        Some(t) => t == icmp_type && (i.code_min..=i.code_max).contains(&code),
    };
    hit ^ i.invert
}

fn multiport_matches(m: &MultiportMatch, p: &Packet) -> bool {
    let Some((sport, dport)) = ports_of(p) else {
        return false;
    };
    let hit = m.ports.iter().any(|r| match m.dir {
        MultiportDir::Source => r.contains(sport),
        MultiportDir::Destination => r.contains(dport),
        MultiportDir::Either => r.contains(sport) || r.contains(dport),
    });
    hit ^ m.invert
}

fn in_range(ip: Ipv4Addr, (lo, hi): (Ipv4Addr, Ipv4Addr)) -> bool {
    (u32::from(lo)..=u32::from(hi)).contains(&u32::from(ip))
}

fn iprange_matches(r: &IprangeMatch, p: &Packet) -> bool {
    r.src
        .as_ref()
        .is_none_or(|n| neg(n, |rg| in_range(p.src, *rg)))
        && r.dst
            .as_ref()
            .is_none_or(|n| neg(n, |rg| in_range(p.dst, *rg)))
}

/// `xt_conntrack.c conntrack_mt_state`: state bits of the packet.
fn state_bits_match(s: &CtStateSet, ct: &CtState, nat_bits: bool) -> bool {
    let base = match ct {
        CtState::Unset | CtState::Invalid => s.invalid,
        CtState::Untracked => s.untracked,
        CtState::Tracked { info, .. } => match info {
            CtInfo::New => s.new,
            CtInfo::Established | CtInfo::EstablishedReply => s.established,
            CtInfo::Related | CtInfo::RelatedReply => s.related,
        },
    };
    let nat = nat_bits
        && ct
            .conn()
            .is_some_and(|c| (s.snat && c.src_nat) || (s.dnat && c.dst_nat));
    base || nat
}

/// One `-m conntrack` option; without a connection only `--ctstate` can match.
fn ct_condition(c: &Neg<CtCondition>, ct: &CtState) -> bool {
    if let CtCondition::State(s) = &c.value {
        return state_bits_match(s, ct, true) ^ c.invert;
    }
    let Some(conn) = ct.conn() else {
        return false;
    };
    let hit = match &c.value {
        CtCondition::State(_) => false,
        // `(status_mask & ct->status) != 0`: NONE is an empty mask, so it never
        // matches (recorded in fixtures/matches-stateful).
        CtCondition::Status(names) => names.iter().any(|n| match n.as_str() {
            "SEEN_REPLY" => conn.seen_reply,
            "ASSURED" => conn.assured,
            "CONFIRMED" => conn.confirmed,
            _ => false,
        }),
        CtCondition::Proto(p) => {
            p.parse::<u8>().ok().or_else(|| proto_number(p)) == Some(conn.orig.proto)
        }
        CtCondition::OrigSrc(a) => a.contains(conn.orig.src),
        CtCondition::OrigDst(a) => a.contains(conn.orig.dst),
        CtCondition::ReplSrc(a) => a.contains(conn.reply.src),
        CtCondition::ReplDst(a) => a.contains(conn.reply.dst),
        CtCondition::OrigSrcPort(r) => r.contains(conn.orig.sport),
        CtCondition::OrigDstPort(r) => r.contains(conn.orig.dport),
        CtCondition::ReplSrcPort(r) => r.contains(conn.reply.sport),
        CtCondition::ReplDstPort(r) => r.contains(conn.reply.dport),
        CtCondition::DirOriginal(orig) => {
            let is_reply = matches!(ct, CtState::Tracked { info, .. } if info.is_reply());
            *orig != is_reply
        }
        CtCondition::Expire(_) => true,
    };
    hit ^ c.invert
}

fn proto_number(name: &str) -> Option<u8> {
    match name {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" => Some(1),
        _ => None,
    }
}

/// `addrtype_mt_v1`: type of the address per the local table (`inet_dev_addr_type`).
fn addrtype_matches(a: &AddrtypeMatch, ctx: &MatchCtx) -> bool {
    let dev = if a.limit_iface_in {
        ctx.in_dev
    } else if a.limit_iface_out {
        ctx.out_dev
    } else {
        None
    };
    let check = |types: &Neg<Vec<String>>, addr: Ipv4Addr| {
        let t = addr_type(ctx.routing, addr, dev);
        neg(types, |names| names.iter().any(|n| type_name_is(n, t)))
    };
    a.src_type.as_ref().is_none_or(|t| check(t, ctx.packet.src))
        && a.dst_type.as_ref().is_none_or(|t| check(t, ctx.packet.dst))
}

fn type_name_is(name: &str, t: RouteType) -> bool {
    let want = match name {
        "UNICAST" => RouteType::Unicast,
        "LOCAL" => RouteType::Local,
        "BROADCAST" => RouteType::Broadcast,
        "ANYCAST" => RouteType::Anycast,
        "MULTICAST" => RouteType::Multicast,
        "BLACKHOLE" => RouteType::Blackhole,
        "UNREACHABLE" => RouteType::Unreachable,
        "PROHIBIT" => RouteType::Prohibit,
        "THROW" => RouteType::Throw,
        "NAT" => RouteType::Nat,
        _ => return false,
    };
    want == t
}

/// `xt_pkttype.c`: `skb->pkt_type`, or by address for `PACKET_LOOPBACK`.
/// * Locally generated packets are `PACKET_HOST`; a broadcast's copy looped
///   back by `dev_loopback_xmit` (PREROUTING/INPUT on a device other than lo)
///   is `PACKET_LOOPBACK`: multicast or broadcast by address.
/// * Forwarded packets are `PACKET_HOST` (`ip_forward` forwards nothing else).
/// * Received packets: the frame's destination MAC, which the probe does not
///   carry: `--assume l2-dst=…`, by default multicast for a multicast group,
///   broadcast for 255.255.255.255 and the ingress device's own subnet
///   broadcast (what an on-link sender uses), else host.
fn pkttype_matches(name: &str, ctx: &MatchCtx) -> bool {
    let kind = pkt_type(ctx);
    name == kind || (name == "host" && kind == "unicast")
}

/// The `pkttype` name of the packet at this point (see [`pkttype_matches`]).
fn pkt_type(ctx: &MatchCtx) -> &'static str {
    let dst = ctx.packet.dst;
    let by_address = if dst.is_multicast() {
        "multicast"
    } else {
        "broadcast"
    };
    if ctx.local {
        return match ctx.in_dev {
            Some(dev) if dev != "lo" => by_address,
            _ => "unicast",
        };
    }
    if matches!(ctx.hook, Hook::Forward | Hook::PostRouting) {
        return "unicast";
    }
    match ctx.assume.get("l2-dst") {
        "host" => "unicast",
        "broadcast" => "broadcast",
        "multicast" => "multicast",
        _ => {
            let own_subnet = ctx
                .in_dev
                .is_some_and(|d| addr_type(ctx.routing, dst, Some(d)) == RouteType::Broadcast);
            if dst.is_multicast() || dst.is_broadcast() || own_subnet {
                by_address
            } else {
                "unicast"
            }
        }
    }
}
