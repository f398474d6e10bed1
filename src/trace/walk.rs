//! The state of one packet's walk: the packet as it is now, its conntrack,
//! the devices the current hook sees, and the events emitted so far.

use super::assume::AssumeConfig;
use super::event::{Assumption, Event, Hook};
use super::matcher::MatchState;
use crate::model::conntrack::CtState;
use crate::model::packet::Packet;
use crate::model::Host;

/// Options of a trace.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Assumptions in force.
    pub assume: AssumeConfig,
    /// A conntrack state forced by `--ctstate` (what-if without a dump).
    pub force_ctstate: Option<ForcedState>,
    /// `--ipvs-dest`: the real server IPVS picks, overriding the scheduler.
    pub ipvs_dest: Option<(std::net::Ipv4Addr, u16)>,
    /// Record every rule evaluation in [`Trace::evaluations`](super::event::Trace)
    /// (for `--explain` and `search`; off for plain traces).
    pub record_evaluations: bool,
}

/// `skb->ipvs_property` and what `-m ipvs` reads of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMark {
    /// Virtual address.
    pub vaddr: std::net::Ipv4Addr,
    /// Virtual port.
    pub vport: u16,
    /// Protocol number.
    pub proto: u8,
    /// Forwarding method name as `-m ipvs --vmethod` spells it (MASQ, GATE, TUNNEL, LOCAL).
    pub method: &'static str,
    /// True for a reply handled by `ip_vs_out`.
    pub reply: bool,
}

/// States `--ctstate` can force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ForcedState {
    /// First packet of a connection (the default without an entry).
    New,
    /// Packet of a connection that has seen a reply: nat chains are skipped.
    Established,
    /// Related to a known connection (e.g. an ICMP error): nat chains run.
    Related,
    /// Not accepted by the conntrack l4 tracker.
    Invalid,
    /// Marked NOTRACK.
    Untracked,
}

/// Mutable state while one packet is walked.
pub struct Walk<'a> {
    /// The host.
    pub host: &'a Host,
    /// Options.
    pub opts: &'a TraceOptions,
    /// The packet as it is now.
    pub pkt: Packet,
    /// Its conntrack.
    pub ct: CtState,
    /// The zone of the conntrack template a `CT` rule attached, if one did
    /// (`skb->_nfct` holds the template until conntrack replaces it): conntrack
    /// looks the packet up and puts it in that zone (`nf_ct_zone_tmpl`).
    pub ct_template: Option<u16>,
    /// `skb->nf_trace`: set by the TRACE target.
    pub nf_trace: bool,
    /// True for a locally generated packet.
    pub local: bool,
    /// The hook being traversed.
    pub hook: Hook,
    /// Input device the current hook sees.
    pub in_dev: Option<String>,
    /// Output device the current hook sees.
    pub out_dev: Option<String>,
    /// Events so far.
    pub events: Vec<Event>,
    /// Stateful match counters.
    pub match_state: MatchState,
    /// Next hop of the current route (gateway, or the destination when connected).
    pub next_hop: Option<std::net::Ipv4Addr>,
    /// Set once IPVS handled the packet.
    pub ipvs: Option<IpvsMark>,
    /// The IPVS connection a scheduled request created (what `ipvsadm -Lnc` would list).
    pub ipvs_conn: Option<crate::model::ipvs::IpvsConn>,
    /// Rules evaluated so far, when recorded.
    pub evaluations: Vec<super::event::Evaluation>,
}

impl<'a> Walk<'a> {
    /// The conntrack zone the packet is looked up in.
    pub fn ct_zone(&self) -> u16 {
        self.ct_template.unwrap_or(0)
    }

    /// Starts a walk of `pkt` on `host`.
    pub fn new(host: &'a Host, opts: &'a TraceOptions, pkt: Packet, local: bool) -> Walk<'a> {
        Walk {
            host,
            opts,
            pkt,
            ct: CtState::Unset,
            ct_template: None,
            nf_trace: false,
            local,
            hook: if local {
                Hook::Output
            } else {
                Hook::PreRouting
            },
            in_dev: None,
            out_dev: None,
            events: Vec::new(),
            match_state: MatchState::default(),
            next_hop: None,
            ipvs: None,
            ipvs_conn: None,
            evaluations: Vec::new(),
        }
    }

    /// Records an event.
    pub fn emit(&mut self, e: Event) {
        self.events.push(e);
    }

    /// Records an assumption in place.
    pub fn assume(&mut self, key: &str, text: String) {
        self.events.push(Event::Assumption(Assumption {
            key: key.to_string(),
            text,
            rule: None,
        }));
    }

    /// Every assumption emitted, deduplicated by text, in order.
    pub fn assumptions(&self) -> Vec<Assumption> {
        let mut out: Vec<Assumption> = Vec::new();
        for e in &self.events {
            if let Event::Assumption(a) = e {
                if !out.iter().any(|o| o.text == a.text && o.rule == a.rule) {
                    out.push(a.clone());
                }
            }
        }
        out
    }
}
