//! ipsets (`ipset save`, `ipset list`) and the membership test behind
//! `-m set --match-set NAME dir[,dir…]`.
//!
//! Read first: docs/ipvs.md (ipset section). The kernel side is
//! net/netfilter/ipset/ip_set_core.c (`ip_set_test`) and the per-type
//! `*_kadt` functions (ip_set_hash_ip.c, ip_set_hash_ipport.c, …).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The set types nftrace evaluates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetType {
    /// `hash:ip`
    HashIp,
    /// `hash:ip,port`
    HashIpPort,
    /// `hash:ip,port,ip`
    HashIpPortIp,
    /// `hash:ip,port,net`
    HashIpPortNet,
    /// `hash:net`
    HashNet,
    /// `hash:net,port`
    HashNetPort,
    /// `hash:ip,mark`
    HashIpMark,
    /// `bitmap:ip`
    BitmapIp,
    /// `bitmap:port`
    BitmapPort,
    /// `list:set`
    ListSet,
    /// Any other type: kept, tested as unknown.
    Other(String),
}

/// Type names as ipset prints them.
const TYPES: [(&str, SetType); 10] = [
    ("hash:ip", SetType::HashIp),
    ("hash:ip,port", SetType::HashIpPort),
    ("hash:ip,port,ip", SetType::HashIpPortIp),
    ("hash:ip,port,net", SetType::HashIpPortNet),
    ("hash:net", SetType::HashNet),
    ("hash:net,port", SetType::HashNetPort),
    ("hash:ip,mark", SetType::HashIpMark),
    ("bitmap:ip", SetType::BitmapIp),
    ("bitmap:port", SetType::BitmapPort),
    ("list:set", SetType::ListSet),
];

impl SetType {
    /// From the type name.
    pub fn from_name(s: &str) -> SetType {
        TYPES
            .iter()
            .find(|(n, _)| *n == s)
            .map_or_else(|| SetType::Other(s.to_string()), |(_, t)| t.clone())
    }

    /// The type name.
    pub fn name(&self) -> &str {
        match self {
            SetType::Other(s) => s,
            known => TYPES
                .iter()
                .find(|(_, t)| t == known)
                .map_or("?", |(n, _)| n),
        }
    }

    /// The dimension kinds of an entry, in order (`None` for list:set and unknown types).
    pub fn dims(&self) -> Option<&'static [DimKind]> {
        use DimKind::{Addr, Mark, Port};
        Some(match self {
            SetType::HashIp | SetType::HashNet | SetType::BitmapIp => &[Addr],
            SetType::HashIpPort | SetType::HashNetPort => &[Addr, Port],
            SetType::HashIpPortIp | SetType::HashIpPortNet => &[Addr, Port, Addr],
            SetType::HashIpMark => &[Addr, Mark],
            SetType::BitmapPort => &[Port],
            SetType::ListSet | SetType::Other(_) => return None,
        })
    }
}

/// What one dimension of an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimKind {
    /// An address or network.
    Addr,
    /// A protocol and port (or port range).
    Port,
    /// A packet mark.
    Mark,
}

/// One dimension of a stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryDim {
    /// Address or network (`hash:ip` entries are /32 unless given as a range).
    Net(Ipv4Net),
    /// Protocol number and inclusive port range (`tcp:80`, `udp:53-55`; bare = tcp).
    Port {
        /// IP protocol number (6 when not written; 1 for `icmp:type/code`).
        proto: u8,
        /// First port (or ICMP `type << 8 | code`).
        from: u16,
        /// Last port.
        to: u16,
    },
    /// A mark.
    Mark(u32),
    /// A member set name (list:set).
    SetName(String),
}

/// One `add` line / member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Dimensions in order.
    pub dims: Vec<EntryDim>,
    /// `nomatch`: a hit on this entry is a miss (hash:net types).
    pub nomatch: bool,
    /// 1-based line in the dump.
    pub line: usize,
}

/// One set (`create` line or `Name:` block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSet {
    /// Set name.
    pub name: String,
    /// Set type.
    pub kind: SetType,
    /// `family inet6` sets are kept but never match an IPv4 packet.
    pub inet6: bool,
    /// Members.
    pub entries: Vec<Entry>,
    /// 1-based line of the `create`/`Name:` line.
    pub line: usize,
}

/// The value of one `--match-set` direction for the packet: the address and
/// (for TCP/UDP/SCTP/UDPLITE, and ICMP as type/code) the port of that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dim {
    /// Address of the side (`src` → source address).
    pub addr: Ipv4Addr,
    /// IP protocol number of the packet.
    pub proto: u8,
    /// Port of the side (ICMP: `type << 8 | code`), `None` for other protocols.
    pub port: Option<u16>,
    /// The packet mark (for `hash:ip,mark`).
    pub mark: u32,
}

/// All sets of one dump.
#[derive(Debug, Clone, Default)]
pub struct IpSets {
    /// Sets by name.
    pub sets: BTreeMap<String, IpSet>,
}

/// How deep list:set may nest (the kernel forbids a list in a list; this only guards loops).
const MAX_LIST_DEPTH: usize = 4;

impl IpSets {
    /// `ip_set_test` for `--match-set NAME dirs`: `None` when the set is not in
    /// the dump or its type is unknown to nftrace; `Some(false)` when fewer
    /// directions than the set's dimensions are given (`opt->dim <
    /// set->type->dimension` returns 0 in ip_set_test).
    pub fn contains(&self, set: &str, dims: &[Dim]) -> Option<bool> {
        self.contains_depth(set, dims, 0)
    }

    fn contains_depth(&self, set: &str, dims: &[Dim], depth: usize) -> Option<bool> {
        let s = self.sets.get(set)?;
        if s.inet6 {
            return Some(false);
        }
        if s.kind == SetType::ListSet {
            return self.list_contains(s, dims, depth);
        }
        let kinds = s.kind.dims()?;
        if dims.len() < kinds.len() {
            return Some(false);
        }
        // Most specific hit decides (hash:net* test prefixes from the longest:
        // mtype_test_cidrs), so a /32 nomatch inside a /24 wins.
        let best = s
            .entries
            .iter()
            .filter(|e| entry_matches(e, kinds, dims))
            .max_by_key(|e| specificity(e));
        Some(best.is_some_and(|e| !e.nomatch))
    }

    /// list:set: the first member set (in order) that matches decides
    /// (`list_set_ktest`); members that do not exist are skipped.
    fn list_contains(&self, s: &IpSet, dims: &[Dim], depth: usize) -> Option<bool> {
        if depth >= MAX_LIST_DEPTH {
            return None;
        }
        let mut unknown = false;
        for e in &s.entries {
            if let Some(EntryDim::SetName(n)) = e.dims.first() {
                match self.contains_depth(n, dims, depth + 1) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => unknown |= self.sets.contains_key(n),
                }
            }
        }
        if unknown {
            None
        } else {
            Some(false)
        }
    }
}

/// Sum of prefix lengths: the longer, the more specific.
fn specificity(e: &Entry) -> u32 {
    e.dims
        .iter()
        .map(|d| match d {
            EntryDim::Net(n) => u32::from(n.prefix_len()),
            _ => 0,
        })
        .sum()
}

fn entry_matches(e: &Entry, kinds: &[DimKind], dims: &[Dim]) -> bool {
    e.dims.len() == kinds.len() && e.dims.iter().zip(dims).all(|(ed, pd)| dim_matches(ed, pd))
}

fn dim_matches(ed: &EntryDim, pd: &Dim) -> bool {
    match ed {
        EntryDim::Net(n) => n.contains(&pd.addr),
        EntryDim::Port { proto, from, to } => {
            pd.proto == *proto && pd.port.is_some_and(|p| (*from..=*to).contains(&p))
        }
        EntryDim::Mark(m) => pd.mark == *m,
        EntryDim::SetName(_) => false,
    }
}

/// A `--match-set` direction word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `src`
    Src,
    /// `dst`
    Dst,
}

/// The packet fields [`dims`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol number.
    pub proto: u8,
    /// Source and destination ports (TCP/UDP/SCTP), or `(type<<8|code, 0)` for ICMP.
    pub ports: Option<(u16, u16)>,
    /// Packet mark.
    pub mark: u32,
}

/// Resolves `src,dst,…` against a packet (`ip_set_get_ip4_port`: ICMP uses
/// `type << 8 | code` as the port on both sides).
pub fn dims(dirs: &[Dir], flow: &Flow) -> Vec<Dim> {
    let icmp = flow.proto == 1;
    dirs.iter()
        .map(|d| {
            let (addr, port) = match d {
                Dir::Src => (flow.src, flow.ports.map(|p| p.0)),
                Dir::Dst => (flow.dst, flow.ports.map(|p| if icmp { p.0 } else { p.1 })),
            };
            Dim {
                addr,
                proto: flow.proto,
                port,
                mark: flow.mark,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn set(name: &str, kind: SetType, entries: Vec<Vec<EntryDim>>) -> IpSet {
        IpSet {
            name: name.into(),
            kind,
            inet6: false,
            entries: entries
                .into_iter()
                .map(|dims| Entry {
                    dims,
                    nomatch: false,
                    line: 0,
                })
                .collect(),
            line: 0,
        }
    }

    fn net(s: &str) -> EntryDim {
        EntryDim::Net(s.parse().unwrap())
    }

    fn port(proto: u8, p: u16) -> EntryDim {
        EntryDim::Port {
            proto,
            from: p,
            to: p,
        }
    }

    fn flow(src: &str, dst: &str, proto: u8, sport: u16, dport: u16) -> Flow {
        Flow {
            src: ip(src),
            dst: ip(dst),
            proto,
            ports: Some((sport, dport)),
            mark: 0,
        }
    }

    fn sets(list: Vec<IpSet>) -> IpSets {
        IpSets {
            sets: list.into_iter().map(|s| (s.name.clone(), s)).collect(),
        }
    }

    #[test]
    fn hash_ip_port_matches_protocol_and_port() {
        let s = sets(vec![set(
            "KUBE-CLUSTER-IP",
            SetType::HashIpPort,
            vec![vec![net("10.96.0.1/32"), port(6, 443)]],
        )]);
        let dd = [Dir::Dst, Dir::Dst];
        let f = flow("10.0.0.1", "10.96.0.1", 6, 5000, 443);
        assert_eq!(s.contains("KUBE-CLUSTER-IP", &dims(&dd, &f)), Some(true));
        let udp = flow("10.0.0.1", "10.96.0.1", 17, 5000, 443);
        assert_eq!(s.contains("KUBE-CLUSTER-IP", &dims(&dd, &udp)), Some(false));
        // ip_set_test: fewer directions than dimensions never match.
        assert_eq!(
            s.contains("KUBE-CLUSTER-IP", &dims(&[Dir::Dst], &f)),
            Some(false)
        );
        assert_eq!(s.contains("NOPE", &dims(&dd, &f)), None);
    }

    #[test]
    fn hash_net_nomatch_inside_a_wider_prefix_is_a_miss() {
        let mut s = set(
            "NETS",
            SetType::HashNet,
            vec![vec![net("10.0.0.0/8")], vec![net("10.1.0.0/16")]],
        );
        s.entries[1].nomatch = true;
        let s = sets(vec![s]);
        let d = |a| dims(&[Dir::Src], &flow(a, "1.1.1.1", 6, 1, 2));
        assert_eq!(s.contains("NETS", &d("10.2.0.1")), Some(true));
        assert_eq!(s.contains("NETS", &d("10.1.0.1")), Some(false));
    }

    #[test]
    fn list_set_tries_members_in_order() {
        let s = sets(vec![
            set("A", SetType::HashIp, vec![vec![net("1.1.1.1/32")]]),
            set("B", SetType::HashIp, vec![vec![net("2.2.2.2/32")]]),
            set(
                "L",
                SetType::ListSet,
                vec![
                    vec![EntryDim::SetName("A".into())],
                    vec![EntryDim::SetName("B".into())],
                ],
            ),
        ]);
        let d = |a| dims(&[Dir::Src], &flow(a, "9.9.9.9", 6, 1, 2));
        assert_eq!(s.contains("L", &d("2.2.2.2")), Some(true));
        assert_eq!(s.contains("L", &d("3.3.3.3")), Some(false));
    }

    #[test]
    fn hash_ip_port_ip_uses_three_directions() {
        let s = sets(vec![set(
            "KUBE-LOOP-BACK",
            SetType::HashIpPortIp,
            vec![vec![
                net("10.244.1.6/32"),
                port(6, 80),
                net("10.244.1.6/32"),
            ]],
        )]);
        // kube-proxy: --match-set KUBE-LOOP-BACK dst,dst,src
        let f = flow("10.244.1.6", "10.244.1.6", 6, 40000, 80);
        let d = dims(&[Dir::Dst, Dir::Dst, Dir::Src], &f);
        assert_eq!(s.contains("KUBE-LOOP-BACK", &d), Some(true));
    }
}
