//! Analyses on top of the evaluator: why a packet did not go another way
//! (`--explain`), which packets reach an outcome (`search`), and what a
//! reviewer should know about a ruleset (`lint`).
//!
//! They reason about rules as conditions on packet fields ([`cond`]) and ask the
//! evaluator, never a second implementation of it, what happens to a packet.

pub mod cond;
pub mod explain;
pub mod lint;
pub mod search;

use std::net::Ipv4Addr;

use crate::model::packet::{proto, Ingress, Transport};
use crate::trace::Probe;
use cond::Field;

/// The value of an input field of the probe (`None`: the packet has no such field).
pub fn input_value(probe: &Probe, field: Field) -> Option<u32> {
    let p = &probe.packet;
    Some(match field {
        Field::Src => p.src.into(),
        Field::Dst => p.dst.into(),
        Field::Proto => p.proto().into(),
        Field::Sport => p.transport.ports()?.0.into(),
        Field::Dport => p.transport.ports()?.1.into(),
        Field::Icmp => match p.transport {
            Transport::Icmp {
                icmp_type, code, ..
            } => u32::from(icmp_type) << 8 | u32::from(code),
            _ => return None,
        },
        Field::Mark => p.mark,
        Field::Ttl => p.ttl.into(),
        Field::Len => p.len.into(),
        Field::Tos => p.tos.into(),
        Field::TcpFlags => match p.transport {
            Transport::Tcp { flags, .. } => flags.into(),
            _ => return None,
        },
        _ => return None,
    })
}

/// Sets an input field of the probe. Changing the protocol builds that
/// protocol's header (ports kept between TCP and UDP, echo request for ICMP).
/// Returns false when the field cannot be set on this packet.
pub fn set_input(probe: &mut Probe, field: Field, v: u32) -> bool {
    let p = &mut probe.packet;
    let byte = |v: u32| u8::try_from(v).ok();
    let word = |v: u32| u16::try_from(v).ok();
    match field {
        Field::Src => p.src = Ipv4Addr::from(v),
        Field::Dst => p.dst = Ipv4Addr::from(v),
        Field::Proto => match byte(v) {
            Some(n) => set_proto(&mut p.transport, n),
            None => return false,
        },
        Field::Sport | Field::Dport => {
            let (Some((s, d)), Some(v)) = (p.transport.ports(), word(v)) else {
                return false;
            };
            let (s, d) = if field == Field::Sport {
                (v, d)
            } else {
                (s, v)
            };
            p.transport.set_ports(s, d);
        }
        Field::Icmp => match (&mut p.transport, word(v)) {
            (
                Transport::Icmp {
                    icmp_type, code, ..
                },
                Some(v),
            ) => {
                *icmp_type = (v >> 8) as u8;
                *code = (v & 0xff) as u8;
            }
            _ => return false,
        },
        Field::Mark => p.mark = v,
        Field::Ttl => match byte(v) {
            Some(t) => p.ttl = t,
            None => return false,
        },
        Field::Len => match word(v) {
            Some(l) => p.len = l,
            None => return false,
        },
        Field::Tos => match byte(v) {
            Some(t) => p.tos = t,
            None => return false,
        },
        Field::TcpFlags => match (&mut p.transport, byte(v)) {
            (Transport::Tcp { flags, .. }, Some(f)) => *flags = f,
            _ => return false,
        },
        Field::InIface | Field::OutIface | Field::Connmark | Field::CtState | Field::Other => {
            return false
        }
    }
    true
}

fn set_proto(t: &mut Transport, n: u8) {
    let (sport, dport) = t.ports().unwrap_or((40000, 80));
    *t = match n {
        proto::TCP => Transport::Tcp {
            sport,
            dport,
            flags: crate::model::packet::tcp_flag::SYN,
        },
        proto::UDP => Transport::Udp { sport, dport },
        proto::ICMP => Transport::Icmp {
            icmp_type: 8,
            code: 0,
            id: 1,
        },
        number => Transport::Other { number },
    };
}

/// The probe's flags for `field`, as `nftrace trace` takes them (`--dport 300`).
pub fn flag_for(field: Field, v: u32) -> String {
    let shown = cond::show_value(field, v);
    match field {
        Field::Src => format!("-s {shown}"),
        Field::Dst => format!("-d {shown}"),
        Field::Proto => format!("-p {shown}"),
        Field::Sport => format!("--sport {shown}"),
        Field::Dport => format!("--dport {shown}"),
        Field::Icmp => format!("--icmp-type {shown}"),
        Field::Mark => format!("--mark {shown}"),
        Field::Ttl => format!("--ttl {shown}"),
        Field::Len => format!("--len {shown}"),
        Field::Tos => format!("--tos {shown}"),
        Field::TcpFlags => format!("--tcp-flags {}", tcp_flag_names(v as u8)),
        other => format!("{} {shown}", other.name()),
    }
}

fn tcp_flag_names(bits: u8) -> String {
    let names: Vec<&str> = crate::model::packet::tcp_flag::NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "NONE".into()
    } else {
        names.join(",")
    }
}

/// The ingress interface of a received probe.
pub fn ingress_dev(probe: &Probe) -> Option<&str> {
    match &probe.ingress {
        Ingress::Interface(d) => Some(d),
        Ingress::Local => None,
    }
}
