//! Routing decisions as the pipeline needs them, with their events.

use std::net::Ipv4Addr;

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
    /// The input route decision (`ip_route_input_slow`).
    pub fn route_input(&mut self, _iif: &str) -> RouteOutcome {
        RouteOutcome::Fail {
            reason: "routing not implemented".into(),
        }
    }

    /// The output route decision (`ip_route_output_key_hash`).
    pub fn route_output(&mut self, _kind: &'static str) -> RouteOutcome {
        RouteOutcome::Fail {
            reason: "routing not implemented".into(),
        }
    }
}
