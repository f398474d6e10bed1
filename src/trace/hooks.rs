//! The hooks pipeline: the three paths a packet takes through netfilter, with
//! tables in priority order and the routing decisions between hooks.
//!
//! Read first: ../shared/docs/kernel-semantics.md §1.2–1.4.
//!
//! ```text
//! received:  PREROUTING(raw, conntrack, mangle, nat) → input route ─┬→ INPUT(mangle, filter, security, nat) → delivered
//!                                                                   └→ FORWARD(mangle, filter, security) → POSTROUTING(mangle, nat) → sent
//! local:     output route → OUTPUT(raw, conntrack, mangle*, nat*, filter, security) → POSTROUTING(mangle, nat) → sent
//!            (* re-route when mangle changed mark/addresses/tos, or nat DNATed)
//! ```

use std::net::Ipv4Addr;

use super::event::{Disposition, Event, Hook, RuleRef, Trace, Verdict};
use super::ipvs_hook::IpvsIn;
use super::route_step::RouteOutcome;
use super::table::TableResult;
use super::walk::{TraceOptions, Walk};
use crate::model::packet::{Ingress, Packet};
use crate::model::ruleset::TableName;
use crate::model::Host;

/// What the user asks about: a packet and where it comes from.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The packet as it arrives (or leaves the socket).
    pub packet: Packet,
    /// Where it enters.
    pub ingress: Ingress,
}

/// One step of a hook's list, in priority order.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// An iptables table.
    Table(TableName),
    /// `nf_conntrack_in` (-200).
    Conntrack,
    /// The nat table through `nf_nat_inet_fn`.
    Nat,
    /// `nf_confirm` (INT_MAX).
    Confirm,
}

const PREROUTING: &[Step] = &[
    Step::Table(TableName::Raw),
    Step::Conntrack,
    Step::Table(TableName::Mangle),
    Step::Nat,
];
/// INPUT up to IPVS (priority 99): mangle, filter, security.
const INPUT: &[Step] = &[
    Step::Table(TableName::Mangle),
    Step::Table(TableName::Filter),
    Step::Table(TableName::Security),
];
/// INPUT after IPVS: nat (SRC, 100) and confirm.
const INPUT_AFTER_IPVS: &[Step] = &[Step::Nat, Step::Confirm];
const FORWARD: &[Step] = &[
    Step::Table(TableName::Mangle),
    Step::Table(TableName::Filter),
    Step::Table(TableName::Security),
];
const POSTROUTING: &[Step] = &[Step::Table(TableName::Mangle), Step::Nat, Step::Confirm];

/// The walk ended early.
struct Stop {
    verdict: Verdict,
    rule: Option<RuleRef>,
    reason: String,
}

/// Traces one packet through `host` (a pure function: no I/O).
pub fn trace(host: &Host, probe: &Probe, opts: &TraceOptions) -> Trace {
    let local = probe.ingress == Ingress::Local;
    let mut walk = Walk::new(host, opts, probe.packet.clone(), local);
    for note in &host.load_notes {
        walk.assume("input", note.clone());
    }
    let end = match &probe.ingress {
        Ingress::Interface(dev) => walk.received(dev),
        Ingress::Local => walk.generated(),
    };
    walk.finish(probe, end)
}

impl Walk<'_> {
    /// Runs one hook's steps with the devices the hook sees.
    fn run_hook(
        &mut self,
        hook: Hook,
        in_dev: Option<&str>,
        out_dev: Option<&str>,
        steps: &[Step],
    ) -> Result<(), Stop> {
        self.hook = hook;
        self.in_dev = in_dev.map(str::to_string);
        self.out_dev = out_dev.map(str::to_string);
        self.emit(Event::Hook {
            hook,
            in_dev: self.in_dev.clone(),
            out_dev: self.out_dev.clone(),
        });
        steps.iter().try_for_each(|s| self.run_step(*s))
    }

    fn run_step(&mut self, step: Step) -> Result<(), Stop> {
        let result = match step {
            Step::Table(t) => self.do_table(t),
            Step::Nat => self.nat_hook(),
            Step::Conntrack => {
                self.conntrack_in();
                TableResult::Accept
            }
            Step::Confirm => return self.confirm(),
        };
        match result {
            TableResult::Accept => Ok(()),
            TableResult::Stop { verdict, rule } => Err(Stop {
                reason: format!("{} by {rule}", verdict.as_str()),
                verdict,
                rule: Some(rule),
            }),
        }
    }

    /// `nf_confirm` → `__nf_conntrack_confirm`: a new connection enters the table
    /// unless one of its tuples is already there (see [`Walk::confirm_clash`]).
    fn confirm(&mut self) -> Result<(), Stop> {
        let Some(conn) = self.ct.conn() else {
            return Ok(());
        };
        if conn.confirmed {
            return Ok(());
        }
        if let Some(reason) = self.confirm_clash() {
            return Err(Stop {
                verdict: Verdict::Drop,
                rule: None,
                reason,
            });
        }
        if let Some(conn) = self.ct.conn_mut() {
            conn.confirmed = true;
        }
        Ok(())
    }

    /// `ip_rcv` → PREROUTING → `ip_rcv_finish` (input route) → INPUT or FORWARD.
    fn received(&mut self, dev: &str) -> Result<Disposition, Stop> {
        self.run_hook(Hook::PreRouting, Some(dev), None, PREROUTING)?;
        match self.route_input(dev) {
            RouteOutcome::Local => self.local_in(dev),
            RouteOutcome::Unicast { oif, next_hop } => self.forward(dev, &oif, next_hop),
            RouteOutcome::Fail { reason } => Err(route_stop(reason)),
        }
    }

    /// `ip_local_deliver`: INPUT, with IPVS (`ip_vs_in`, priority 99) between
    /// security (50) and nat (100). A scheduled request is stolen and re-injected.
    fn local_in(&mut self, dev: &str) -> Result<Disposition, Stop> {
        self.run_hook(Hook::Input, Some(dev), None, INPUT)?;
        match self.ipvs_in() {
            IpvsIn::Pass | IpvsIn::Local => {}
            IpvsIn::Drop(reason) => return Err(route_stop(reason)),
            IpvsIn::Stolen { next_hop } => return self.ipvs_reinject(next_hop, Some(dev)),
        }
        INPUT_AFTER_IPVS
            .iter()
            .try_for_each(|s| self.run_step(*s))?;
        Ok(Disposition::Delivered)
    }

    /// `ip_vs_*send_or_cont`: `NF_HOOK(LOCAL_OUT, in=NULL, out=route dev)` then
    /// `dst_output` → POSTROUTING, whose `IN=` is still the receiving device
    /// (`skb->dev`), for a received request.
    fn ipvs_reinject(
        &mut self,
        next_hop: Ipv4Addr,
        in_dev: Option<&str>,
    ) -> Result<Disposition, Stop> {
        let (mut oif, mut nh) = match self.route_output_to(next_hop, "output") {
            RouteOutcome::Unicast { oif, next_hop } => (oif, next_hop),
            RouteOutcome::Local => ("lo".to_string(), next_hop),
            RouteOutcome::Fail { reason } => return Err(route_stop(reason)),
        };
        self.next_hop = Some(nh);
        self.output_hook(&oif.clone(), &mut oif, &mut nh)?;
        self.next_hop = Some(nh);
        self.run_hook(Hook::PostRouting, in_dev, Some(&oif), POSTROUTING)?;
        Ok(Disposition::Sent { oif, next_hop: nh })
    }

    /// `ip_forward`: TTL check and decrement, FORWARD, then `ip_output` → POSTROUTING.
    fn forward(&mut self, dev: &str, oif: &str, next_hop: Ipv4Addr) -> Result<Disposition, Stop> {
        if self.pkt.ttl <= 1 {
            self.emit(Event::Generated {
                what: "ICMP time exceeded (TTL expired in transit)".into(),
                to: self.pkt.src,
            });
            return Err(route_stop(
                "TTL would reach 0 when forwarded: dropped by ip_forward before FORWARD".into(),
            ));
        }
        if let Some(mtu) = self.exceeds_mtu(oif) {
            self.emit(Event::Generated {
                what: format!("ICMP fragmentation needed (mtu {mtu})"),
                to: self.pkt.src,
            });
            return Err(route_stop(format!(
                "DF set and length {} exceeds the MTU {mtu} of {oif}: dropped by ip_forward before FORWARD",
                self.pkt.len
            )));
        }
        self.pkt.ttl -= 1;
        self.next_hop = Some(next_hop);
        self.run_hook(Hook::Forward, Some(dev), Some(oif), FORWARD)?;
        self.ipvs_out();
        self.run_hook(Hook::PostRouting, Some(dev), Some(oif), POSTROUTING)?;
        Ok(Disposition::Sent {
            oif: oif.to_string(),
            next_hop,
        })
    }

    /// `ip_exceeds_mtu`: a DF packet longer than the egress device's MTU (from
    /// `ip addr`) cannot be forwarded. Returns the MTU when it is exceeded.
    fn exceeds_mtu(&self, oif: &str) -> Option<u32> {
        let mtu = self
            .host
            .routing
            .links
            .iter()
            .find(|l| l.name == oif)?
            .mtu?;
        (self.pkt.df && u32::from(self.pkt.len) > mtu).then_some(mtu)
    }

    /// A locally generated packet: output route, OUTPUT, POSTROUTING, and for a
    /// local destination the loopback leg through PREROUTING and INPUT.
    fn generated(&mut self) -> Result<Disposition, Stop> {
        let (mut oif, mut next_hop) = match self.route_output("output") {
            RouteOutcome::Unicast { oif, next_hop } => (oif, next_hop),
            RouteOutcome::Local => ("lo".to_string(), self.pkt.dst),
            RouteOutcome::Fail { reason } => return Err(route_stop(reason)),
        };
        self.next_hop = Some(next_hop);
        if let Some(rip) = self.output_hook(&oif.clone(), &mut oif, &mut next_hop)? {
            return self.ipvs_reinject(rip, None);
        }
        self.next_hop = Some(next_hop);
        if oif != "lo" && self.is_broadcast_dst() {
            self.broadcast_copy(&oif);
        }
        self.run_hook(Hook::PostRouting, None, Some(&oif), POSTROUTING)?;
        if oif == "lo" {
            return self.loopback();
        }
        Ok(Disposition::Sent { oif, next_hop })
    }

    /// The output route is a broadcast one (`RTCF_BROADCAST`): the destination
    /// is a broadcast address of this host.
    fn is_broadcast_dst(&self) -> bool {
        let routing = &self.host.routing;
        super::routing::addr_type(routing, self.pkt.dst, None)
            == crate::model::routing::RouteType::Broadcast
    }

    /// `ip_mc_output` with `RTCF_BROADCAST`: before the packet itself, a clone
    /// takes POSTROUTING and `dev_loopback_xmit` brings it back in on `oif`
    /// with its conntrack and its local dst (so PREROUTING and INPUT, no input
    /// route, conntrack and nat already done). Whatever happens to the clone,
    /// the packet goes on, with the mark it had (the connection is shared).
    fn broadcast_copy(&mut self, oif: &str) {
        let saved = self.pkt.clone();
        self.emit(Event::Generated {
            what: "looped-back copy of the broadcast (ip_mc_output, dev_loopback_xmit)".into(),
            to: self.pkt.dst,
        });
        let result = self
            .run_hook(Hook::PostRouting, None, Some(oif), POSTROUTING)
            .and_then(|()| self.run_hook(Hook::PreRouting, Some(oif), None, PREROUTING))
            .and_then(|()| self.local_in(oif));
        if let Err(stop) = result {
            self.emit(Event::Note {
                text: format!("the looped-back copy ends: {}", stop.reason),
            });
        }
        self.pkt = saved;
    }

    /// OUTPUT with `ip_route_me_harder` after mangle (mark, addresses or TOS
    /// changed) and after nat DNAT. The hook's own lines keep the first `OUT=`.
    /// IPVS (`ip_vs_in` at -98) may take a local client's request: then the
    /// real server's address is returned and the packet is re-injected.
    fn output_hook(
        &mut self,
        hook_oif: &str,
        oif: &mut String,
        next_hop: &mut Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, Stop> {
        self.hook = Hook::Output;
        self.in_dev = None;
        self.out_dev = Some(hook_oif.to_string());
        self.emit(Event::Hook {
            hook: Hook::Output,
            in_dev: None,
            out_dev: self.out_dev.clone(),
        });
        self.run_step(Step::Table(TableName::Raw))?;
        self.run_step(Step::Conntrack)?;
        let before = (self.pkt.mark, self.pkt.src, self.pkt.dst, self.pkt.tos);
        self.run_step(Step::Table(TableName::Mangle))?;
        if before != (self.pkt.mark, self.pkt.src, self.pkt.dst, self.pkt.tos) {
            self.reroute(oif, next_hop)?;
        }
        let dst_before = self.pkt.dst;
        self.run_step(Step::Nat)?;
        if self.pkt.dst != dst_before {
            self.reroute(oif, next_hop)?;
        }
        match self.ipvs_in() {
            IpvsIn::Pass | IpvsIn::Local => {}
            IpvsIn::Drop(reason) => return Err(route_stop(reason)),
            IpvsIn::Stolen { next_hop } => return Ok(Some(next_hop)),
        }
        self.run_step(Step::Table(TableName::Filter))?;
        self.run_step(Step::Table(TableName::Security))?;
        Ok(None)
    }

    fn reroute(&mut self, oif: &mut String, next_hop: &mut Ipv4Addr) -> Result<(), Stop> {
        match self.route_output("reroute") {
            RouteOutcome::Unicast {
                oif: o,
                next_hop: n,
            } => {
                *oif = o;
                *next_hop = n;
                Ok(())
            }
            RouteOutcome::Local => {
                *oif = "lo".into();
                *next_hop = self.pkt.dst;
                Ok(())
            }
            RouteOutcome::Fail { reason } => Err(route_stop(reason)),
        }
    }

    /// Loopback: the packet comes back in on `lo` with its conntrack attached, so
    /// conntrack and the nat chains are skipped (`nf_nat_inet_fn`: "Seen it before?").
    fn loopback(&mut self) -> Result<Disposition, Stop> {
        self.run_hook(Hook::PreRouting, Some("lo"), None, PREROUTING)?;
        self.local_in("lo")
    }

    /// Builds the result.
    fn finish(self, probe: &Probe, end: Result<Disposition, Stop>) -> Trace {
        let (verdict, disposition) = match end {
            Ok(d) => (Verdict::Accept, d),
            Err(stop) => {
                let disposition = match (&stop.verdict, stop.rule.clone()) {
                    (Verdict::Queue, Some(rule)) => Disposition::Queued { rule },
                    (_, rule) => Disposition::Dropped {
                        reason: stop.reason,
                        rule,
                    },
                };
                (stop.verdict, disposition)
            }
        };
        let assumptions = self.assumptions();
        let connection = self.ct.conn().filter(|c| c.confirmed).cloned();
        Trace {
            ipvs_conn: self.ipvs_conn,
            evaluations: self.evaluations,
            connection,
            initial: probe.packet.clone(),
            final_packet: self.pkt,
            iif: match &probe.ingress {
                Ingress::Interface(d) => Some(d.clone()),
                Ingress::Local => None,
            },
            verdict,
            disposition,
            events: self.events,
            assumptions,
        }
    }
}

fn route_stop(reason: String) -> Stop {
    Stop {
        verdict: Verdict::Drop,
        rule: None,
        reason,
    }
}
