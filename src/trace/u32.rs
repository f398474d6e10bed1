//! The `u32` match (`xt_u32.c u32_match_it`), evaluated on the header bytes
//! nftrace can build: IP header, TCP/UDP/ICMP header, and a payload of zeros
//! (or the `--payload` text). Checksums and TCP sequence numbers read as the
//! documented defaults.

use crate::model::packet::{Packet, Transport};

/// The packet as bytes, as far as the model knows them.
pub fn packet_bytes(p: &Packet) -> Vec<u8> {
    let mut b = Vec::with_capacity(usize::from(p.len).max(40));
    let frag: u16 = if p.df { 0x4000 } else { 0 };
    b.extend_from_slice(&[0x45, p.tos]);
    b.extend_from_slice(&p.len.to_be_bytes());
    b.extend_from_slice(&p.id.to_be_bytes());
    b.extend_from_slice(&frag.to_be_bytes());
    b.extend_from_slice(&[p.ttl, p.proto(), 0, 0]);
    b.extend_from_slice(&p.src.octets());
    b.extend_from_slice(&p.dst.octets());
    match p.transport {
        Transport::Tcp {
            sport,
            dport,
            flags,
        } => {
            b.extend_from_slice(&sport.to_be_bytes());
            b.extend_from_slice(&dport.to_be_bytes());
            b.extend_from_slice(&[0; 8]); // seq, ack
            b.extend_from_slice(&[0x50, flags, 0x02, 0x00, 0, 0, 0, 0]);
        }
        Transport::Udp { sport, dport } => {
            b.extend_from_slice(&sport.to_be_bytes());
            b.extend_from_slice(&dport.to_be_bytes());
            b.extend_from_slice(&p.len.saturating_sub(20).to_be_bytes());
            b.extend_from_slice(&[0, 0]);
        }
        Transport::Icmp {
            icmp_type,
            code,
            id,
        } => {
            b.extend_from_slice(&[icmp_type, code, 0, 0]);
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
        }
        Transport::Other { .. } => {}
    }
    if let Some(payload) = &p.payload {
        b.extend_from_slice(payload.as_bytes());
    }
    b.resize(usize::from(p.len).max(b.len()), 0);
    b
}

fn number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn read_u32(data: &[u8], pos: usize) -> Option<u32> {
    let bytes = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Splits `a&b<<c@d` into the first number and `(op, number)` pairs.
fn location(text: &str) -> Option<Vec<(char, u32)>> {
    let mut out = Vec::new();
    let mut op = ' ';
    let mut rest = text.trim();
    while !rest.is_empty() {
        let end = rest.find(['&', '<', '>', '@']).unwrap_or(rest.len());
        out.push((op, number(rest[..end].trim())?));
        rest = &rest[end..];
        if rest.is_empty() {
            break;
        }
        let (o, len) = match rest.as_bytes()[0] {
            b'&' => ('&', 1),
            b'@' => ('@', 1),
            b'<' if rest.starts_with("<<") => ('<', 2),
            b'>' if rest.starts_with(">>") => ('>', 2),
            _ => return None,
        };
        op = o;
        rest = &rest[len..];
    }
    Some(out)
}

/// One `location=ranges` test; `None` when the packet is too short.
fn test(expr: &str, data: &[u8]) -> Option<bool> {
    let (loc, values) = expr.split_once('=')?;
    let ops = location(loc)?;
    let (&(_, first), rest) = ops.split_first()?;
    let mut at: usize = 0;
    let mut val = read_u32(data, first as usize)?;
    for &(op, n) in rest {
        val = match op {
            '&' => val & n,
            '<' => val.checked_shl(n).unwrap_or(0),
            '>' => val.checked_shr(n).unwrap_or(0),
            _ => {
                at = at.checked_add(val as usize)?;
                read_u32(data, at.checked_add(n as usize)?)?
            }
        };
    }
    let hit = values.split(',').any(|r| {
        let (lo, hi) = r.split_once(':').unwrap_or((r, r));
        matches!((number(lo.trim()), number(hi.trim())), (Some(lo), Some(hi)) if (lo..=hi).contains(&val))
    });
    Some(hit)
}

/// Evaluates a whole `--u32` expression (tests joined by `&&`). `Err` when the
/// expression cannot be read; a packet too short for a test does not match.
pub fn eval(expr: &str, data: &[u8]) -> Result<bool, String> {
    for t in expr.split("&&") {
        if !t.contains('=') {
            return Err(format!("cannot read u32 test {t:?}"));
        }
        match test(t, data) {
            Some(true) => {}
            Some(false) | None => return Ok(false),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::packet::tcp_flag;
    use std::net::Ipv4Addr;

    fn syn() -> Vec<u8> {
        packet_bytes(&Packet::new(
            Ipv4Addr::new(10, 0, 1, 2),
            Ipv4Addr::new(10, 0, 2, 2),
            Transport::Tcp {
                sport: 40000,
                dport: 80,
                flags: tcp_flag::SYN,
            },
        ))
    }

    #[test]
    fn protocol_byte_and_tcp_flags_through_at() {
        assert_eq!(eval("0x6&0xff=0x6", &syn()), Ok(true));
        assert_eq!(eval("0x6&0xff=17", &syn()), Ok(false));
        // ihl*4 via >>22&0x3c, then @ the TCP header, flags byte 13.
        assert_eq!(eval("0x0>>0x16&0x3c@0xc>>0x10&0x3f=0x2", &syn()), Ok(true));
        assert_eq!(
            eval("0x0>>0x16&0x3c@0xc>>0x10&0x3f=0x10", &syn()),
            Ok(false)
        );
    }

    #[test]
    fn ranges_and_conjunctions() {
        assert_eq!(
            eval("0xc=0x0a000100:0x0a0001ff && 0x6&0xff=6", &syn()),
            Ok(true)
        );
        assert_eq!(eval("0x1000=0", &syn()), Ok(false));
        assert!(eval("garbage", &syn()).is_err());
    }
}
