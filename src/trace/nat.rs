//! NAT: the nat table runs only for the first packet of a connection
//! (`nf_nat_inet_fn`), and the NAT targets choose the new address and port.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.4, §5.

use std::net::Ipv4Addr;

use super::event::{Event, Hook, NatKind, RuleRef, Verdict};
use super::jhash::{jhash2, raw_u32};
use super::routing::{first_addr, inet_select_addr};
use super::table::TableResult;
use super::targets::TargetResult;
use super::walk::Walk;
use crate::model::conntrack::{CtInfo, CtState};
use crate::model::matches::PortRange;
use crate::model::routing::Scope;
use crate::model::ruleset::TableName;
use crate::model::target::{NatFlags, NatRange, Target};

/// Which side a NAT hook rewrites (`HOOK2MANIP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manip {
    /// Source, at POSTROUTING and INPUT.
    Src,
    /// Destination, at PREROUTING and OUTPUT.
    Dst,
}

impl Manip {
    /// The manip type of a hook.
    pub fn of(hook: Hook) -> Manip {
        match hook {
            Hook::PostRouting | Hook::Input => Manip::Src,
            _ => Manip::Dst,
        }
    }
}

/// A chosen translation: the new address and port.
struct Binding {
    addr: Ipv4Addr,
    port: Option<u16>,
    reason: String,
}

impl Walk<'_> {
    /// `nf_nat_inet_fn`: consult the nat chain only for a NEW/RELATED connection
    /// whose manip for this hook is not initialised yet; otherwise accept.
    pub fn nat_hook(&mut self) -> TableResult {
        let manip = Manip::of(self.hook);
        let (info, done) = match &self.ct {
            CtState::Tracked { info, conn } => (
                *info,
                match manip {
                    Manip::Src => conn.src_nat_done,
                    Manip::Dst => conn.dst_nat_done,
                },
            ),
            _ => return TableResult::Accept,
        };
        let first = matches!(info, CtInfo::New | CtInfo::Related | CtInfo::RelatedReply);
        if !first || done {
            self.nat_packet(manip, info.is_reply());
            return TableResult::Accept;
        }
        let result = self.do_table(TableName::Nat);
        if manip == Manip::Src && result == TableResult::Accept {
            self.null_binding();
        }
        self.mark_nat_done(manip);
        result
    }

    /// `nf_nat_alloc_null_binding` at a SRC hook when no rule set up NAT: the
    /// mapping to the packet's own source still goes through `get_unique_tuple`,
    /// so a source port whose reply tuple is taken is rewritten.
    fn null_binding(&mut self) {
        let Some(conn) = self.ct.conn() else { return };
        if conn.src_nat {
            return;
        }
        let Some((sport, _)) = self.pkt.transport.ports() else {
            return;
        };
        let mut b = Binding {
            addr: self.pkt.src,
            port: Some(sport),
            reason: "null binding".into(),
        };
        if !self.reply_taken(&b) {
            return;
        }
        self.avoid_used_tuple(&mut b, None);
        self.apply_binding(Manip::Src, b, "null binding", None);
    }

    /// `nf_nat_packet`: for a connection whose NAT is set up, rewrite this side
    /// when the connection's status says so. In the original direction the SRC
    /// hook tests IPS_SRC_NAT and the DST hook IPS_DST_NAT; in the reply direction
    /// the bits swap. The new address is the inverse of the other direction's tuple.
    fn nat_packet(&mut self, manip: Manip, reply: bool) {
        let Some(conn) = self.ct.conn() else { return };
        let applies = match (manip, reply) {
            (Manip::Src, false) | (Manip::Dst, true) => conn.src_nat,
            (Manip::Dst, false) | (Manip::Src, true) => conn.dst_nat,
        };
        if !applies {
            return;
        }
        let target = if reply {
            conn.orig.invert()
        } else {
            conn.reply.invert()
        };
        let (addr, port) = match manip {
            Manip::Src => (target.src, target.sport),
            Manip::Dst => (target.dst, target.dport),
        };
        let port = self.pkt.transport.ports().map(|_| port);
        let b = Binding {
            addr,
            port,
            reason: "from the conntrack entry (nat chains are not consulted)".into(),
        };
        let target_name = match (manip, reply) {
            (Manip::Src, false) => "SNAT (from conntrack)",
            (Manip::Dst, false) => "DNAT (from conntrack)",
            (Manip::Dst, true) => "de-SNAT (reply)",
            (Manip::Src, true) => "de-DNAT (reply)",
        };
        self.apply_binding_packet_only(manip, b, target_name);
    }

    /// `nf_nat_used_tuple`: would the reply tuple of `b` be held by another
    /// connection in the table (one whose original tuple is not ours)?
    fn reply_taken(&self, b: &Binding) -> bool {
        let Some(conn) = self.ct.conn() else {
            return false;
        };
        let mut reply = conn.reply;
        reply.dst = b.addr;
        if let Some(p) = b.port {
            reply.dport = p;
        }
        self.host
            .conntrack
            .find(&reply, conn.zone)
            .is_some_and(|(e, _)| e.orig != conn.orig)
    }

    /// `get_unique_tuple` for a SRC manip whose reply tuple is taken: a single
    /// port is kept (the clash is decided at confirm); otherwise another port is
    /// drawn from the range (or, without one, from the original port's class:
    /// 1-511, 600-1023, 1024-65535) starting at a random offset, so nftrace shows
    /// the first free port and states the assumption.
    fn avoid_used_tuple(&mut self, b: &mut Binding, range: Option<PortRange>) {
        let Some(old) = b.port else { return };
        if !self.reply_taken(b) {
            return;
        }
        let range = range.unwrap_or_else(|| class_range(old));
        if range.min == range.max {
            return;
        }
        let free = (range.min..=range.max).find(|&p| {
            let candidate = Binding {
                addr: b.addr,
                port: Some(p),
                reason: String::new(),
            };
            !self.reply_taken(&candidate)
        });
        if let Some(p) = free {
            self.assume(
                "nat-port",
                format!(
                    "source port {old} would clash with an existing connection: the kernel picks another port in {}-{} at a random offset; {p} shown",
                    range.min, range.max
                ),
            );
            b.port = Some(p);
            b.reason = format!(
                "port {old} taken by another connection; another port from {}-{}",
                range.min, range.max
            );
        }
    }

    /// After the chain: if no rule set up NAT, the kernel binds a null mapping
    /// (`nf_nat_alloc_null_binding`), so later packets skip the chain.
    fn mark_nat_done(&mut self, manip: Manip) {
        if let Some(conn) = self.ct.conn_mut() {
            match manip {
                Manip::Src => conn.src_nat_done = true,
                Manip::Dst => conn.dst_nat_done = true,
            }
        }
    }

    /// A NAT target in the nat table: choose the binding, rewrite the packet and
    /// the connection's reply tuple, then NF_ACCEPT (ends the chain).
    pub fn nat_target(
        &mut self,
        table: TableName,
        target: &Target,
        rule: &RuleRef,
    ) -> TargetResult {
        if table != TableName::Nat || !matches!(self.ct, CtState::Tracked { .. }) {
            return TargetResult::Continue;
        }
        let manip = Manip::of(self.hook);
        match self.choose_binding(target, manip) {
            Ok(mut b) => {
                if manip == Manip::Src {
                    self.avoid_used_tuple(&mut b, target_ports(target));
                }
                self.apply_binding(manip, b, target_name(target), Some(rule.clone()));
                TargetResult::Verdict(Verdict::Accept)
            }
            Err(reason) => {
                self.emit(Event::Note { text: reason });
                TargetResult::Verdict(Verdict::Drop)
            }
        }
    }

    fn choose_binding(&mut self, target: &Target, manip: Manip) -> Result<Binding, String> {
        let (old_addr, old_port) = self.side(manip);
        match target {
            Target::Snat { ranges, flags } | Target::Dnat { ranges, flags } => {
                let range = ranges.first().copied().unwrap_or(NatRange {
                    addrs: None,
                    ports: None,
                });
                if ranges.len() > 1 {
                    self.assume("nat-range", "several --to ranges: the first is used".into());
                }
                let addr = self.pick_addr(range.addrs, old_addr, flags.persistent);
                let (port, why) = self.pick_port(range.ports, old_port, manip, *flags);
                Ok(Binding {
                    addr,
                    port,
                    reason: why,
                })
            }
            Target::Masquerade { ports, flags } => {
                let addr = self.masquerade_source()?;
                let (port, why) = self.pick_port(*ports, old_port, manip, *flags);
                Ok(Binding {
                    addr,
                    port,
                    reason: format!(
                        "first primary address of {} in the next hop's subnet (inet_select_addr); {why}",
                        self.out_dev.as_deref().unwrap_or("?")
                    ),
                })
            }
            Target::Redirect { ports, flags } => {
                let addr = self.redirect_addr()?;
                let (port, why) = self.pick_port(*ports, old_port, manip, *flags);
                Ok(Binding {
                    addr,
                    port,
                    reason: format!("REDIRECT to the incoming interface's first address; {why}"),
                })
            }
            Target::Netmap { to } => {
                let mask = u32::from(to.netmask());
                let addr = Ipv4Addr::from(
                    (u32::from(old_addr) & !mask) | (u32::from(to.network()) & mask),
                );
                Ok(Binding {
                    addr,
                    port: old_port,
                    reason: format!("NETMAP keeps the host part, network from {to}"),
                })
            }
            _ => Err("not a NAT target".into()),
        }
    }

    /// The address and port on the side this manip rewrites.
    fn side(&self, manip: Manip) -> (Ipv4Addr, Option<u16>) {
        let ports = self.pkt.transport.ports();
        match manip {
            Manip::Src => (self.pkt.src, ports.map(|p| p.0)),
            Manip::Dst => (self.pkt.dst, ports.map(|p| p.1)),
        }
    }

    /// `find_best_ips_proto` (nf_nat_core.c): a single address is taken as is; in a
    /// range the kernel hashes the original source address (as four u32 words of
    /// `union nf_inet_addr`) seeded with the destination (0 with `--persistent`),
    /// and scales the hash into the range.
    fn pick_addr(
        &mut self,
        addrs: Option<(Ipv4Addr, Ipv4Addr)>,
        old: Ipv4Addr,
        persistent: bool,
    ) -> Ipv4Addr {
        let Some((lo, hi)) = addrs else { return old };
        if lo == hi {
            return lo;
        }
        let seed = if persistent { 0 } else { raw_u32(self.pkt.dst) };
        let j = jhash2(&[raw_u32(self.pkt.src), 0, 0, 0], seed);
        let dist = u64::from(u32::from(hi).wrapping_sub(u32::from(lo))) + 1;
        let offset = (u64::from(j) * dist) >> 32;
        Ipv4Addr::from(u32::from(lo).wrapping_add(u32::try_from(offset).unwrap_or(0)))
    }

    /// Port choice of `get_unique_tuple` for a first connection with no clash: keep
    /// the port when it is in the range; otherwise DST manip starts at the range's
    /// first port (offset 0), SRC manip at a random offset (stated assumption).
    /// With `--random`/`--random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_ALL`) the port is
    /// always drawn at random: nftrace keeps it and says so.
    fn pick_port(
        &mut self,
        range: Option<PortRange>,
        old: Option<u16>,
        manip: Manip,
        flags: NatFlags,
    ) -> (Option<u16>, String) {
        if let (true, Some(port)) = (flags.random || flags.random_fully, old) {
            let which = if flags.random_fully {
                "--random-fully"
            } else {
                "--random"
            };
            let pool = range.unwrap_or_else(|| class_range(port));
            let side = if manip == Manip::Src {
                "source"
            } else {
                "destination"
            };
            self.assume(
                "nat-port",
                format!(
                    "{which}: the kernel draws the {side} port at random from {}-{}; {} shown",
                    pool.min, pool.max, pool.min
                ),
            );
            return (Some(pool.min), format!("port random ({which})"));
        }
        let (Some(range), Some(old)) = (range, old) else {
            return (old, "port kept".into());
        };
        if range.contains(old) {
            return (
                Some(old),
                format!("port {old} kept (inside {}-{})", range.min, range.max),
            );
        }
        if range.min == range.max || manip == Manip::Dst {
            return (
                Some(range.min),
                format!("port {} from the range", range.min),
            );
        }
        self.assume(
            "nat-port",
            format!(
                "source port {old} is outside {}-{}: the kernel starts at a random offset; {} assumed",
                range.min, range.max, range.min
            ),
        );
        (
            Some(range.min),
            format!("port {} assumed from the range", range.min),
        )
    }

    /// `nf_nat_masquerade_ipv4`: source = `inet_select_addr(out, nexthop, universe)`,
    /// ignoring the route's `src` (observed on the kernel, see docs).
    fn masquerade_source(&mut self) -> Result<Ipv4Addr, String> {
        let out = self.out_dev.clone().unwrap_or_default();
        let nh = self.next_hop.unwrap_or(self.pkt.dst);
        inet_select_addr(&self.host.routing, &out, nh, Scope::Universe).ok_or_else(|| {
            format!("MASQUERADE: {out} has no usable IPv4 address (\"ate my IP address\"): dropped")
        })
    }

    /// `nf_nat_redirect_ipv4`: 127.0.0.1 for local packets, else the first address
    /// of the incoming interface.
    fn redirect_addr(&mut self) -> Result<Ipv4Addr, String> {
        if self.hook == Hook::Output {
            return Ok(Ipv4Addr::LOCALHOST);
        }
        let dev = self.in_dev.clone().unwrap_or_default();
        first_addr(&self.host.routing, &dev)
            .ok_or_else(|| format!("REDIRECT: {dev} has no IPv4 address: dropped"))
    }

    /// Rewrites only the packet, for a connection whose NAT was set up earlier.
    fn apply_binding_packet_only(&mut self, manip: Manip, b: Binding, target: &str) {
        let (old_addr, old_port) = self.side(manip);
        self.rewrite(manip, &b);
        self.emit_nat(manip, target, (old_addr, old_port), b, None);
    }

    fn rewrite(&mut self, manip: Manip, b: &Binding) {
        let (sport, dport) = self.pkt.transport.ports().unwrap_or((0, 0));
        match manip {
            Manip::Src => {
                self.pkt.src = b.addr;
                self.pkt.transport.set_ports(b.port.unwrap_or(sport), dport);
            }
            Manip::Dst => {
                self.pkt.dst = b.addr;
                self.pkt.transport.set_ports(sport, b.port.unwrap_or(dport));
            }
        }
    }

    fn emit_nat(
        &mut self,
        manip: Manip,
        target: &str,
        old: (Ipv4Addr, Option<u16>),
        b: Binding,
        rule: Option<RuleRef>,
    ) {
        self.emit(Event::Nat {
            kind: match manip {
                Manip::Src => NatKind::Snat,
                Manip::Dst => NatKind::Dnat,
            },
            target: target.to_string(),
            old_addr: old.0,
            old_port: old.1,
            new_addr: b.addr,
            new_port: b.port,
            rule,
            reason: b.reason,
        });
    }

    /// Rewrites the packet and the connection (`nf_nat_setup_info` + `nf_nat_packet`).
    fn apply_binding(&mut self, manip: Manip, b: Binding, target: &str, rule: Option<RuleRef>) {
        let (old_addr, old_port) = self.side(manip);
        self.rewrite(manip, &b);
        let changed = (old_addr, old_port) != (b.addr, b.port);
        if let Some(conn) = self.ct.conn_mut() {
            match manip {
                Manip::Src => {
                    conn.reply.dst = b.addr;
                    conn.reply.dport = b.port.unwrap_or(conn.reply.dport);
                    conn.src_nat |= changed;
                }
                Manip::Dst => {
                    conn.reply.src = b.addr;
                    conn.reply.sport = b.port.unwrap_or(conn.reply.sport);
                    conn.dst_nat |= changed;
                }
            }
        }
        self.emit_nat(manip, target, (old_addr, old_port), b, rule);
    }
}

/// The port range a NAT target gives, if any.
fn target_ports(t: &Target) -> Option<PortRange> {
    match t {
        Target::Snat { ranges, .. } | Target::Dnat { ranges, .. } => {
            ranges.first().and_then(|r| r.ports)
        }
        Target::Masquerade { ports, .. } | Target::Redirect { ports, .. } => *ports,
        _ => None,
    }
}

/// `nf_nat_l4proto_unique_tuple` without a given range: the original port's class.
fn class_range(port: u16) -> PortRange {
    match port {
        0..=511 => PortRange { min: 1, max: 511 },
        512..=1023 => PortRange {
            min: 600,
            max: 1023,
        },
        _ => PortRange {
            min: 1024,
            max: 65535,
        },
    }
}

fn target_name(t: &Target) -> &'static str {
    match t {
        Target::Snat { .. } => "SNAT",
        Target::Dnat { .. } => "DNAT",
        Target::Masquerade { .. } => "MASQUERADE",
        Target::Redirect { .. } => "REDIRECT",
        Target::Netmap { .. } => "NETMAP",
        _ => "NAT",
    }
}
