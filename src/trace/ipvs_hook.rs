//! IPVS inside the pipeline: `ip_vs_in` for requests (INPUT 99 after filter and
//! security; OUTPUT -98 for local clients) and `ip_vs_out` for masq replies
//! (FORWARD 100). The scheduling itself is in [`super::ipvs`].
//!
//! Read first: docs/ipvs.md (each rule with its source) and
//! ../shared/docs/kernel-semantics.md §1.5. This kernel has no IPVS, so these
//! rules come from net/netfilter/ipvs/ip_vs_core.c and ip_vs_xmit.c, not from a
//! recording.

use std::net::Ipv4Addr;

use super::event::{Event, Hook};
use super::ipvs::{
    reply_rewrite, schedule, transmit, Leave, Reason, Schedule, ScheduleOptions, Tuple, Xmit,
};
use super::walk::{IpvsMark, Walk};
use crate::model::conntrack::CtState;
use crate::model::ipvs::{ConnProto, FwdMethod, IpvsConn, IpvsProto, Service};
use crate::model::packet::{tcp_flag, Packet, Transport};

/// What `ip_vs_in` did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpvsIn {
    /// Not for IPVS (no service, already handled, not scheduled): the packet goes on.
    Pass,
    /// Scheduled to a real server on this host (`local`): the packet goes on in INPUT.
    Local,
    /// Scheduled and transmitted (NF_STOLEN): re-injected at LOCAL_OUT towards
    /// `next_hop`, the packet rewritten as the method requires.
    Stolen {
        /// Next hop: the real server.
        next_hop: Ipv4Addr,
    },
    /// No real server available (`ip_vs_leave`): ICMP port unreachable, drop.
    Drop(String),
}

impl Walk<'_> {
    /// `ip_vs_in`: look the service up and schedule a real server.
    pub fn ipvs_in(&mut self) -> IpvsIn {
        let host = self.host;
        if host.ipvs.is_empty() || self.ipvs.is_some() {
            return IpvsIn::Pass;
        }
        let Some(tuple) = self.ipvs_tuple() else {
            return IpvsIn::Pass;
        };
        let Some((svc, _)) =
            host.ipvs
                .service_find(self.pkt.mark, tuple.proto, tuple.daddr, tuple.dport)
        else {
            return IpvsIn::Pass;
        };
        let opts = self.schedule_options();
        let s = schedule(svc, &tuple, &host.ipvs.conns, &opts);
        for a in &s.assumptions {
            self.assume("ipvs", a.clone());
        }
        self.emit_schedule(svc, &s);
        match (&s.chosen, &s.reason) {
            (Some(c), _) => {
                let (vaddr, vport) = (tuple.daddr, tuple.dport);
                self.ipvs = Some(IpvsMark {
                    vaddr,
                    vport,
                    proto: tuple.proto.number(),
                    method: method_name(c.method),
                    reply: false,
                });
                self.ipvs_conn = Some(IpvsConn {
                    proto: ConnProto::L4(tuple.proto),
                    expire: 0,
                    state: "ESTABLISHED".into(),
                    caddr: tuple.saddr,
                    cport: tuple.sport,
                    vaddr,
                    vport,
                    daddr: c.addr,
                    dport: c.dport,
                    pe: None,
                    line: 0,
                });
                let xmit = transmit(c, None);
                self.apply_xmit(&xmit, c.addr, opts.conntrack)
            }
            (None, Reason::NoDest(Leave::IcmpPortUnreachable)) => {
                self.emit(Event::Generated {
                    what: "ICMP port unreachable (ip_vs_leave: no available real server)".into(),
                    to: self.pkt.src,
                });
                IpvsIn::Drop(format!(
                    "IPVS service {} has no available real server: dropped (ip_vs_leave)",
                    svc.key
                ))
            }
            (None, Reason::Drop(why)) => IpvsIn::Drop(format!("IPVS dropped the packet: {why}")),
            (None, _) => IpvsIn::Pass,
        }
    }

    /// The IPVS view of the packet (`ip_vs_fill_iph_skb` + ports).
    fn ipvs_tuple(&self) -> Option<Tuple> {
        let proto = IpvsProto::from_number(self.pkt.proto())?;
        let (sport, dport) = self.pkt.transport.ports()?;
        let flags = match self.pkt.transport {
            Transport::Tcp { flags, .. } => flags,
            _ => 0,
        };
        Some(Tuple {
            proto,
            saddr: self.pkt.src,
            sport,
            daddr: self.pkt.dst,
            dport,
            mark: self.pkt.mark,
            syn: flags & tcp_flag::SYN != 0,
            rst: flags & tcp_flag::RST != 0,
        })
    }

    /// `net.ipv4.vs.*` sysctls from the bundle (defaults when absent, stated).
    fn schedule_options(&mut self) -> ScheduleOptions {
        let host = self.host;
        let vs = |k: &str| {
            host.sysctl(&format!("net.ipv4.vs.{k}"))
                .and_then(|v| v.parse::<u8>().ok())
        };
        let conntrack = match vs("conntrack") {
            Some(v) => v == 1,
            None => {
                self.assume(
                    "ipvs",
                    "net.ipv4.vs.conntrack=0 (the default; no sysctl.txt value): IPVS-forwarded packets are untracked, so SNAT/MASQUERADE does not apply to them".into(),
                );
                false
            }
        };
        ScheduleOptions {
            dest: self.opts.ipvs_dest,
            conntrack,
            expire_quiescent_template: vs("expire_quiescent_template").is_some_and(|v| v == 1),
            conn_reuse_mode: vs("conn_reuse_mode").unwrap_or(1),
            sloppy_tcp: vs("sloppy_tcp").is_some_and(|v| v == 1),
            ..ScheduleOptions::default()
        }
    }

    fn emit_schedule(&mut self, svc: &Service, s: &Schedule) {
        let chosen = s.chosen.as_ref().map_or("no real server".to_string(), |c| {
            format!("{}:{} {}", c.addr, c.dport, c.method.name())
        });
        let mut detail: Vec<String> = s
            .candidates
            .iter()
            .map(|c| {
                let load = c.load.map(|l| format!(" load {l}")).unwrap_or_default();
                let why = c
                    .excluded
                    .map(|e| format!(" (excluded: {e})"))
                    .unwrap_or_default();
                format!(
                    "candidate {}:{} weight {}{load}{why}",
                    c.addr, c.port, c.weight
                )
            })
            .collect();
        detail.push(format!("chosen by: {:?}", s.reason));
        self.emit(Event::Ipvs {
            hook: self.hook,
            summary: format!("service {} ({}) → {chosen}", svc.key, svc.scheduler.name()),
            detail,
        });
    }

    /// `ip_vs_nat_xmit` / `ip_vs_dr_xmit` / `ip_vs_tunnel_xmit`, then
    /// `ip_vs_*send_or_cont`: conntrack dropped (`ip_vs_notrack`) unless
    /// `vs.conntrack=1`, in which case the entry's reply tuple is altered
    /// (`ip_vs_update_conntrack`).
    fn apply_xmit(&mut self, xmit: &Xmit, rip: Ipv4Addr, conntrack: bool) -> IpvsIn {
        let before = self.pkt.clone();
        if matches!(xmit, Xmit::Local) {
            return IpvsIn::Local;
        }
        // __ip_vs_get_out_rt → decrement_ttl (commit 8d8e20e2d7bb "ipvs: Decrement ttl").
        if self.pkt.ttl <= 1 {
            self.emit(Event::Generated {
                what: "ICMP time exceeded (IPVS decrement_ttl)".into(),
                to: self.pkt.src,
            });
            return IpvsIn::Drop(
                "TTL would reach 0 in IPVS transmit: dropped (decrement_ttl)".into(),
            );
        }
        self.pkt.ttl -= 1;
        let rewrite = match *xmit {
            Xmit::Local => return IpvsIn::Local,
            Xmit::Masq { daddr, dport } => {
                self.pkt.dst = daddr;
                let (sport, _) = self.pkt.transport.ports().unwrap_or((0, 0));
                self.pkt.transport.set_ports(sport, dport);
                format!(
                    "masq: destination {}:{} → {daddr}:{dport}",
                    before.dst,
                    before.transport.ports().map_or(0, |p| p.1)
                )
            }
            Xmit::Route { next_hop } => {
                format!("gatewaying (DR): headers unchanged, next hop {next_hop}")
            }
            Xmit::Tunnel {
                outer_dst,
                outer_proto,
                ..
            } => {
                self.encapsulate(outer_dst, outer_proto);
                format!("tunnel: outer header to {outer_dst} (protocol {outer_proto}); inner packet unchanged")
            }
        };
        self.ipvs_conntrack(conntrack, rip, matches!(xmit, Xmit::Tunnel { .. }));
        self.emit(Event::Ipvs {
            hook: self.hook,
            summary: rewrite,
            detail: vec!["packet stolen (NF_STOLEN) and re-injected at LOCAL_OUT: OUTPUT and POSTROUTING run, FORWARD does not".into()],
        });
        IpvsIn::Stolen { next_hop: rip }
    }

    /// The conntrack of a transmitted packet.
    fn ipvs_conntrack(&mut self, conntrack: bool, rip: Ipv4Addr, tunnel: bool) {
        if tunnel {
            // ip_vs_tunnel_xmit_prepare: nf_reset_ct, the outer packet is tracked anew.
            self.ct = CtState::Unset;
            return;
        }
        if !conntrack {
            self.ct = CtState::Untracked;
            self.emit(Event::Conntrack {
                state: "UNTRACKED".into(),
                reason: "ip_vs_notrack: net.ipv4.vs.conntrack=0".into(),
            });
            return;
        }
        let dport = self.pkt.transport.ports().map(|p| p.1);
        if let Some(conn) = self.ct.conn_mut() {
            conn.reply.src = rip;
            if let Some(p) = dport {
                conn.reply.sport = p;
            }
        }
    }

    /// The outer IPIP/GUE/GRE header of the tunnel method.
    fn encapsulate(&mut self, outer_dst: Ipv4Addr, proto: u8) {
        let inner = self.pkt.clone();
        self.pkt = Packet {
            src: Ipv4Addr::UNSPECIFIED,
            dst: outer_dst,
            transport: Transport::Other { number: proto },
            len: inner.len.saturating_add(20),
            ttl: 64,
            tos: inner.tos,
            id: inner.id,
            df: inner.df,
            fragment: false,
            mark: inner.mark,
            mac_src: None,
            payload: None,
            icmp_inner: None,
        };
    }

    /// `ip_vs_out` at FORWARD 100: a masq reply from a real server gets the
    /// virtual address back as its source (`handle_response`).
    pub fn ipvs_out(&mut self) {
        let host = self.host;
        if host.ipvs.is_empty() || self.ipvs.is_some() {
            return;
        }
        let Some(tuple) = self.ipvs_tuple() else {
            return;
        };
        let Some(rw) = reply_rewrite(
            &host.ipvs.conns,
            tuple.proto,
            (tuple.saddr, tuple.sport),
            (tuple.daddr, tuple.dport),
        ) else {
            return;
        };
        self.pkt.src = rw.saddr;
        self.pkt.transport.set_ports(rw.sport, tuple.dport);
        self.ipvs = Some(IpvsMark {
            vaddr: rw.saddr,
            vport: rw.sport,
            proto: tuple.proto.number(),
            method: "MASQ",
            reply: true,
        });
        let conntrack = self.host.sysctl("net.ipv4.vs.conntrack") == Some("1");
        if !conntrack {
            self.ct = CtState::Untracked;
        }
        self.emit(Event::Ipvs {
            hook: Hook::Forward,
            summary: format!(
                "reply: source {}:{} → {}:{}",
                tuple.saddr, tuple.sport, rw.saddr, rw.sport
            ),
            detail: vec![format!(
                "IPVS connection on line {} of the -Lnc dump (handle_response)",
                rw.line
            )],
        });
    }
}

/// `-m ipvs --vmethod` names (`xt_ipvs.c`, `IP_VS_CONN_F_*`).
fn method_name(m: FwdMethod) -> &'static str {
    match m {
        FwdMethod::Masq => "MASQ",
        FwdMethod::Route => "GATE",
        FwdMethod::Tunnel => "TUNNEL",
        FwdMethod::Local => "LOCAL",
    }
}
