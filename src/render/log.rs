//! The lines the kernel itself writes for `-j TRACE` with iptables-legacy
//! (`trace_packet` in ip_tables.c, body by `nf_log_ip_packet` in nf_log_syslog.c).
//!
//! Read first: ../shared/docs/kernel-semantics.md §3.1. Every token ends with one
//! space. Fields the dumps cannot know (MAC, TCP sequence numbers, window, ICMP
//! sequence) come from [`LogFields`], fixed and documented defaults.

use std::fmt::Write;

use crate::model::packet::{Packet, Transport};
use crate::trace::event::{Event, Trace};

/// Values for fields a dump does not hold.
#[derive(Debug, Clone)]
pub struct LogFields {
    /// `MAC=` for lines with an input device other than `lo`: destination MAC,
    /// source MAC, ethertype, as the kernel prints the 14-byte header.
    pub mac: String,
    /// TCP sequence number.
    pub seq: u32,
    /// TCP acknowledgement number.
    pub ack: u32,
    /// TCP window.
    pub window: u16,
    /// ICMP echo sequence.
    pub icmp_seq: u16,
}

impl Default for LogFields {
    fn default() -> Self {
        LogFields {
            mac: "02:00:00:00:00:01:02:00:00:00:00:02:08:00".into(),
            seq: 0,
            ack: 0,
            window: 512,
            icmp_seq: 0,
        }
    }
}

/// The loopback device's all-zero Ethernet header.
const LO_MAC: &str = "00:00:00:00:00:00:00:00:00:00:00:00:08:00";

/// Renders the trace as kernel TRACE lines, preceded by `#` comment lines for
/// nftrace's own notes (assumptions) so the lines themselves stay byte-exact.
///
/// The kernel logs only after a TRACE rule marked the packet (`skb->nf_trace`);
/// when no TRACE rule in the dump matched it, every line is shown as if one had
/// matched first, and a comment says so.
pub fn render(trace: &Trace, fields: &LogFields) -> String {
    let mut out = String::new();
    for a in &trace.assumptions {
        let _ = writeln!(out, "# assumption: {}", a.text);
    }
    for e in &trace.events {
        if let Event::Conntrack { state, reason } = e {
            let _ = writeln!(out, "# conntrack: {state}: {reason}");
        }
    }
    let traced = trace
        .events
        .iter()
        .any(|e| matches!(e, Event::Rule { nf_trace: true, .. }));
    if !traced {
        out.push_str(
            "# no TRACE rule matched this packet: showing every line as if one had matched first\n",
        );
    }
    for e in &trace.events {
        if let Some(line) = trace_line(e, fields, traced) {
            out.push_str(&line);
            out.push('\n');
        } else if let Event::Ipvs { summary, .. } = e {
            // The kernel logs nothing for IPVS; this line is nftrace's own.
            let _ = writeln!(out, "IPVS: {summary}");
        }
    }
    out
}

/// The TRACE lines alone (no comments). `only_traced` keeps the lines the
/// kernel would log (after a TRACE rule); otherwise every matched entry.
pub fn trace_lines(trace: &Trace, fields: &LogFields, only_traced: bool) -> Vec<String> {
    trace
        .events
        .iter()
        .filter_map(|e| trace_line(e, fields, only_traced))
        .collect()
}

/// The kernel's TRACE line for a matched-entry event, if the kernel would log it.
fn trace_line(e: &Event, fields: &LogFields, only_traced: bool) -> Option<String> {
    match e {
        Event::Rule {
            rule,
            trace_type,
            packet,
            in_dev,
            out_dev,
            nf_trace,
            ..
        } if *nf_trace || !only_traced => {
            let prefix = format!(
                "TRACE: {}:{}:{}:{} ",
                rule.table,
                rule.chain,
                trace_type.as_str(),
                rule.rulenum
            );
            Some(prefix + &packet_fields(packet, in_dev.as_deref(), out_dev.as_deref(), fields))
        }
        _ => None,
    }
}

/// `nf_log_dump_packet_common` + `dump_ipv4_packet` with the TRACE log flags.
pub fn packet_fields(
    p: &Packet,
    in_dev: Option<&str>,
    out_dev: Option<&str>,
    f: &LogFields,
) -> String {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        "IN={} OUT={} ",
        in_dev.unwrap_or(""),
        out_dev.unwrap_or("")
    );
    if let Some(dev) = in_dev {
        let mac = if dev == "lo" { LO_MAC } else { f.mac.as_str() };
        let _ = write!(s, "MAC={mac} ");
    }
    let _ = write!(
        s,
        "SRC={} DST={} LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ",
        p.src,
        p.dst,
        p.len,
        p.tos & 0x1E,
        p.tos & 0xE0,
        p.ttl,
        p.id
    );
    if p.df {
        s.push_str("DF ");
    }
    transport_fields(&mut s, p, f);
    if p.mark != 0 {
        let _ = write!(s, "MARK=0x{:x} ", p.mark);
    }
    s
}

fn transport_fields(s: &mut String, p: &Packet, f: &LogFields) {
    match p.transport {
        Transport::Tcp {
            sport,
            dport,
            flags,
        } => {
            let _ = write!(
                s,
                "PROTO=TCP SPT={sport} DPT={dport} SEQ={} ACK={} WINDOW={} RES=0x00 ",
                f.seq, f.ack, f.window
            );
            // Order of nf_log_dump_tcp_header: CWR ECE URG ACK PSH RST SYN FIN.
            for (bit, name) in [
                (0x80, "CWR"),
                (0x40, "ECE"),
                (0x20, "URG"),
                (0x10, "ACK"),
                (0x08, "PSH"),
                (0x04, "RST"),
                (0x02, "SYN"),
                (0x01, "FIN"),
            ] {
                if flags & bit != 0 {
                    let _ = write!(s, "{name} ");
                }
            }
            s.push_str("URGP=0 ");
        }
        Transport::Udp { sport, dport } => {
            let udp_len = p.len.saturating_sub(20);
            let _ = write!(s, "PROTO=UDP SPT={sport} DPT={dport} LEN={udp_len} ");
        }
        Transport::Icmp {
            icmp_type,
            code,
            id,
        } => {
            let _ = write!(s, "PROTO=ICMP TYPE={icmp_type} CODE={code} ");
            if matches!(icmp_type, 0 | 8) {
                let _ = write!(s, "ID={id} SEQ={} ", f.icmp_seq);
            }
        }
        Transport::Other { number } => {
            let _ = write!(s, "PROTO={number} ");
        }
    }
}
