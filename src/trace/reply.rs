//! The reply a traced packet provokes: the packet the destination sends back,
//! traced through the same host with the first packet's connection in the table.

use super::event::{Disposition, Trace};
use super::hooks::Probe;
use crate::model::conntrack::{Connection, ConntrackEntry, ConntrackTable};
use crate::model::packet::{tcp_flag, Ingress, Packet, Transport};
use crate::model::Host;

/// The reply packet and where it enters, or `None` when the first packet created
/// no connection or did not get through.
pub fn reply_probe(first: &Trace) -> Option<Probe> {
    if first.connection.is_none() {
        return ipvs_reply_probe(first);
    }
    let conn = first.connection.as_ref()?;
    let ingress = match &first.disposition {
        Disposition::Sent { oif, .. } => Ingress::Interface(oif.clone()),
        Disposition::Delivered => Ingress::Local,
        Disposition::Dropped { .. } | Disposition::Queued { .. } => return None,
    };
    let transport = match first.initial.transport {
        Transport::Tcp { flags, .. } => Transport::Tcp {
            sport: conn.reply.sport,
            dport: conn.reply.dport,
            flags: if flags & tcp_flag::SYN != 0 {
                tcp_flag::SYN | tcp_flag::ACK
            } else {
                tcp_flag::ACK
            },
        },
        Transport::Udp { .. } => Transport::Udp {
            sport: conn.reply.sport,
            dport: conn.reply.dport,
        },
        Transport::Icmp {
            icmp_type,
            code,
            id,
        } => Transport::Icmp {
            icmp_type: if icmp_type == 8 { 0 } else { icmp_type + 1 },
            code,
            id,
        },
        other => other,
    };
    let packet = Packet {
        src: conn.reply.src,
        dst: conn.reply.dst,
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
    };
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
    let transport = match first.initial.transport {
        Transport::Tcp { flags, .. } => Transport::Tcp {
            sport: c.dport,
            dport: c.cport,
            flags: if flags & tcp_flag::SYN != 0 {
                tcp_flag::SYN | tcp_flag::ACK
            } else {
                tcp_flag::ACK
            },
        },
        Transport::Udp { .. } => Transport::Udp {
            sport: c.dport,
            dport: c.cport,
        },
        _ => return None,
    };
    let packet = Packet {
        src: c.daddr,
        dst: c.caddr,
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
    };
    Some(Probe {
        packet,
        ingress: Ingress::Interface(oif.clone()),
    })
}

/// The host with the first packet's IPVS connection added to its table.
pub fn with_ipvs_conn(host: &Host, conn: &crate::model::ipvs::IpvsConn) -> Host {
    let mut conns = host.ipvs.conns.conns.clone();
    conns.push(conn.clone());
    let mut h = host.clone();
    h.ipvs.conns = crate::model::ipvs::IpvsConnTable::new(conns);
    h
}

/// The host with the first packet's connection added to its conntrack table.
pub fn with_connection(host: &Host, conn: &Connection) -> Host {
    let mut entries = host.conntrack.entries.clone();
    entries.push(ConntrackEntry {
        line: 0,
        timeout: None,
        state: None,
        orig: conn.orig,
        reply: conn.reply,
        unreplied: !conn.seen_reply,
        assured: conn.assured,
        offload: false,
        mark: conn.mark,
        zone: 0,
        extra: Vec::new(),
        text: format!(
            "(the traced packet's connection) {} {}",
            conn.orig, conn.reply
        ),
    });
    let mut h = host.clone();
    h.conntrack = ConntrackTable::new(entries);
    h
}
