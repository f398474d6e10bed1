//! The reply a traced packet provokes: the packet the destination sends back,
//! traced through the same host with the first packet's connection in the table.

use super::event::{Disposition, Trace};
use super::hooks::Probe;
use std::sync::Arc;

use crate::model::conntrack::{Connection, ConntrackEntry};
use crate::model::packet::{tcp_flag, Ingress, Packet, Transport};
use crate::model::Host;
use std::net::Ipv4Addr;

/// The reply packet and where it enters, or `None` when the first packet created
/// no connection or did not get through.
pub fn reply_probe(first: &Trace) -> Option<Probe> {
    let Some(conn) = first.connection.as_ref() else {
        return ipvs_reply_probe(first);
    };
    let ingress = match &first.disposition {
        Disposition::Sent { oif, .. } => Ingress::Interface(oif.clone()),
        Disposition::Delivered => Ingress::Local,
        Disposition::Dropped { .. } | Disposition::Queued { .. } => return None,
    };
    let r = conn.reply;
    let packet = answer(first, (r.src, r.sport), (r.dst, r.dport))?;
    Some(Probe { packet, ingress })
}

/// The real server's answer to an IPVS-scheduled request: from the real server
/// back to the client, arriving where the request left (`ip_vs_out` turns its
/// source back into the virtual address).
fn ipvs_reply_probe(first: &Trace) -> Option<Probe> {
    let c = first.ipvs_conn.as_ref()?;
    let Disposition::Sent { oif, .. } = &first.disposition else {
        return None;
    };
    let packet = answer(first, (c.daddr, c.dport), (c.caddr, c.cport))?;
    Some(Probe {
        packet,
        ingress: Ingress::Interface(oif.clone()),
    })
}

/// The answer to `first`'s packet from `src` to `dst`: a SYN is answered by a
/// SYN-ACK, other TCP by an ACK, an ICMP request by its reply; an ICMP error
/// has no answer.
fn answer(first: &Trace, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Option<Packet> {
    let transport = match first.initial.transport {
        Transport::Tcp { flags, .. } => Transport::Tcp {
            sport: src.1,
            dport: dst.1,
            flags: if flags & tcp_flag::SYN != 0 {
                tcp_flag::SYN | tcp_flag::ACK
            } else {
                tcp_flag::ACK
            },
        },
        Transport::Udp { .. } => Transport::Udp {
            sport: src.1,
            dport: dst.1,
        },
        Transport::Icmp {
            icmp_type: 8,
            code,
            id,
        } => Transport::Icmp {
            icmp_type: 0,
            code,
            id,
        },
        Transport::Icmp { .. } | Transport::Other { .. } => return None,
    };
    Some(Packet {
        src: src.0,
        dst: dst.0,
        transport,
        len: first.initial.len,
        ttl: 64,
        tos: 0,
        id: first.initial.id.wrapping_add(1),
        df: first.initial.df,
        fragment: false,
        mark: 0,
        mac_src: None,
        payload: None,
        icmp_inner: None,
    })
}

/// The host with the first packet's IPVS connection added to its table (the
/// ruleset, routes and conntrack table are shared, not copied).
pub fn with_ipvs_conn(host: &Host, conn: &crate::model::ipvs::IpvsConn) -> Host {
    let mut conns = host.ipvs.conns.conns.clone();
    conns.push(conn.clone());
    let mut h = host.clone();
    h.ipvs = Arc::new(crate::model::ipvs::Ipvs {
        services: host.ipvs.services.clone(),
        conns: crate::model::ipvs::IpvsConnTable::new(conns),
    });
    h
}

/// The host with the first packet's connection added to its conntrack table
/// (which shares the dump's entries; nothing large is copied).
pub fn with_connection(host: &Host, conn: &Connection) -> Host {
    let entry = ConntrackEntry {
        line: 0,
        timeout: None,
        state: None,
        orig: conn.orig,
        reply: conn.reply,
        unreplied: !conn.seen_reply,
        assured: conn.assured,
        offload: false,
        mark: conn.mark,
        zone: conn.zone,
        text: match conn.zone {
            0 => format!(
                "(the traced packet's connection) {} {}",
                conn.orig, conn.reply
            ),
            z => format!(
                "(the traced packet's connection) {} {} zone={z}",
                conn.orig, conn.reply
            ),
        }
        .into(),
    };
    let mut h = host.clone();
    h.conntrack = host.conntrack.with_connection(entry);
    h
}
