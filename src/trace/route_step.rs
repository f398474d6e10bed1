//! Routing decisions as the pipeline needs them, reported as [`RouteEvent`]s.
//!
//! Read first: ../shared/docs/kernel-semantics.md §1.3–1.4, §6.

use std::net::Ipv4Addr;

use super::event::{Event, RouteEvent};
use super::routing::{
    input_route_with, output_route, FibResult, FlowKey, InputOptions, InputOutcome, OutputError,
    RpFilter,
};
use super::walk::Walk;

/// The outcome of a route lookup, reduced to what the pipeline acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOutcome {
    /// Delivered locally.
    Local,
    /// Sent out of `oif` towards `next_hop`.
    Unicast {
        /// Output device.
        oif: String,
        /// Gateway, or the destination when directly connected.
        next_hop: Ipv4Addr,
    },
    /// Dropped by routing (before INPUT/FORWARD).
    Fail {
        /// Why, with the ICMP the kernel sends if any.
        reason: String,
    },
}

impl Walk<'_> {
    /// The lookup key for the packet as it is now.
    fn flow_key(&self, iif: Option<&str>) -> FlowKey {
        let ports = self.pkt.transport.ports();
        FlowKey {
            dst: self.pkt.dst,
            src: self.pkt.src,
            iif: iif.map(str::to_string),
            oif: None,
            mark: self.pkt.mark,
            tos: self.pkt.tos,
            proto: self.pkt.proto(),
            sport: ports.map(|p| p.0),
            dport: ports.map(|p| p.1),
            uid: if iif.is_none() {
                u32::try_from(self.opts.assume.number("uid")).unwrap_or(0)
            } else {
                0
            },
        }
    }

    /// The input route decision (`ip_rcv_finish` → `ip_route_input_slow`).
    pub fn route_input(&mut self, iif: &str) -> RouteOutcome {
        let opts = self.input_options(iif);
        let key = self.flow_key(Some(iif));
        let r = input_route_with(&self.host.routing, &key, &opts);
        for a in &r.assumptions {
            self.assume("routing", a.clone());
        }
        let (outcome, decision) = match r.outcome {
            InputOutcome::Local { broadcast, .. } => (
                RouteOutcome::Local,
                format!(
                    "local delivery{}",
                    if broadcast { " (broadcast)" } else { "" }
                ),
            ),
            InputOutcome::Forward { dev, gateway, .. } => {
                let oif = dev.unwrap_or_default();
                let next_hop = gateway.unwrap_or(self.pkt.dst);
                let decision = describe_hop("forward", &oif, gateway);
                (RouteOutcome::Unicast { oif, next_hop }, decision)
            }
            InputOutcome::MartianSource(why) => fail(format!("martian source: {why}; dropped")),
            InputOutcome::MartianDestination(why) => {
                fail(format!("martian destination: {why}; dropped"))
            }
            InputOutcome::Unreachable { error, icmp } => {
                if let Some(code) = icmp {
                    self.emit(Event::Generated {
                        what: format!("ICMP destination unreachable code {}", code.code()),
                        to: self.pkt.src,
                    });
                }
                fail(format!(
                    "no usable route: {error}; dropped before INPUT/FORWARD"
                ))
            }
        };
        self.emit_route("input", decision, r.fib.as_ref(), None);
        outcome
    }

    /// Forwarding and rp_filter for the ingress device: `--assume` first, then the
    /// bundle's sysctls (rp_filter is the max of `all` and the device,
    /// `IN_DEV_RPFILTER`), else forwarding on and rp_filter off.
    fn input_options(&self, iif: &str) -> InputOptions {
        let host = self.host;
        let forwarding = if self.opts.assume.is_set("forwarding") {
            self.opts.assume.get("forwarding") != "0"
        } else {
            host.conf(iif, "forwarding").is_none_or(|v| v != 0)
        };
        let rp = host
            .conf("all", "rp_filter")
            .unwrap_or(0)
            .max(host.conf(iif, "rp_filter").unwrap_or(0));
        InputOptions {
            forwarding,
            rp_filter: match rp {
                0 => RpFilter::Off,
                1 => RpFilter::Strict,
                _ => RpFilter::Loose,
            },
            route_localnet: either(host, iif, "route_localnet", 0),
            accept_local: either(host, iif, "accept_local", 0),
            src_valid_mark: either(host, iif, "src_valid_mark", 0),
            send_redirects: either(host, iif, "send_redirects", 1),
        }
    }

    /// The output route decision (`ip_route_output_key_hash`; `ip_route_me_harder`
    /// for `kind = "reroute"`, which keeps the source address).
    pub fn route_output(&mut self, kind: &'static str) -> RouteOutcome {
        self.route_output_to(self.pkt.dst, kind)
    }

    /// The output route towards `dst` (IPVS direct routing routes towards the real
    /// server while the header keeps the virtual address).
    pub fn route_output_to(&mut self, dst: std::net::Ipv4Addr, kind: &'static str) -> RouteOutcome {
        let mut key = FlowKey {
            dst,
            ..self.flow_key(None)
        };
        if self.ipvs.is_some() {
            // __ip_vs_get_out_rt → do_output_route4: routed by destination only.
            key.src = std::net::Ipv4Addr::UNSPECIFIED;
        }
        let mut r = output_route(&self.host.routing, &key);
        let raw_socket_retry = match r.outcome {
            Err(OutputError::InvalidSource) => true,
            // ip_route_me_harder keeps a local source: 127.0.0.1 cannot leave.
            Err(OutputError::LoopbackSource) => kind != "reroute",
            _ => false,
        };
        if raw_socket_retry {
            // `raw_sendmsg` with IP_HDRINCL (hping3, packet crafting) routes with the
            // socket's bound source, none, so a foreign header source is not refused.
            self.assume(
                "routing",
                format!(
                    "source {} {}: routed as a raw (IP_HDRINCL) socket does, without a source; the header keeps it",
                    key.src,
                    if key.src.is_loopback() { "is a loopback address" } else { "is not local" }
                ),
            );
            r = output_route(
                &self.host.routing,
                &FlowKey {
                    src: std::net::Ipv4Addr::UNSPECIFIED,
                    ..key
                },
            );
        }
        for a in &r.assumptions {
            self.assume("routing", a.clone());
        }
        let (outcome, decision, oif) = match r.outcome {
            Ok(hop) => {
                if self.pkt.src.is_unspecified() {
                    self.pkt.src = hop.src;
                }
                let decision = if hop.dev == "lo" {
                    "local destination: out via lo".to_string()
                } else {
                    describe_hop("output", &hop.dev, hop.gateway)
                };
                let next_hop = hop.gateway.unwrap_or(dst);
                let outcome = if hop.dev == "lo" {
                    RouteOutcome::Local
                } else {
                    RouteOutcome::Unicast {
                        oif: hop.dev.clone(),
                        next_hop,
                    }
                };
                (outcome, decision, Some(hop.dev))
            }
            Err(e) => {
                let (o, d) = fail(format!("output route failed: {}", output_error(e)));
                (o, d, None)
            }
        };
        self.emit_route(kind, decision, r.fib.as_ref(), oif);
        outcome
    }

    fn emit_route(
        &mut self,
        kind: &'static str,
        decision: String,
        fib: Option<&FibResult>,
        oif: Option<String>,
    ) {
        let routing = &self.host.routing;
        let (rule, route, steps) = match fib {
            Some(f) => {
                let matched = f.matched();
                (
                    matched
                        .and_then(|m| routing.rules.get(m.rule))
                        .map(|r| r.text.clone()),
                    matched
                        .and_then(|m| routing.routes.get(m.route))
                        .map(|r| r.text.to_string()),
                    f.steps.iter().map(|s| s.describe(routing)).collect(),
                )
            }
            None => (None, None, Vec::new()),
        };
        self.emit(Event::Route(RouteEvent {
            kind,
            decision,
            rule,
            route,
            steps,
            oif,
        }));
    }
}

fn fail(reason: String) -> (RouteOutcome, String) {
    (
        RouteOutcome::Fail {
            reason: reason.clone(),
        },
        reason,
    )
}

fn describe_hop(what: &str, dev: &str, gateway: Option<Ipv4Addr>) -> String {
    match gateway {
        Some(gw) => format!("{what} via {gw} dev {dev}"),
        None => format!("{what} dev {dev} (directly connected)"),
    }
}

fn output_error(e: OutputError) -> String {
    match e {
        OutputError::Fib(f) => f.to_string(),
        OutputError::InvalidSource => "source address is not local".into(),
        OutputError::NoDevice => "route has no device".into(),
        OutputError::DeviceDown => "output device is down".into(),
        OutputError::LoopbackSource => "loopback source on a non-loopback device".into(),
    }
}

/// `IN_DEV_ORCONF`: the sysctl is on for `all` or for the device (`default`
/// when the dump lacks both).
fn either(host: &crate::model::Host, iif: &str, name: &str, default: u32) -> bool {
    let all = host.conf("all", name);
    let dev = host.conf(iif, name);
    if all.is_none() && dev.is_none() {
        return default != 0;
    }
    all.unwrap_or(0) != 0 || dev.unwrap_or(0) != 0
}
