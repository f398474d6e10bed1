//! Connection tracking: tuples, connections and the state a packet gets.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.4, §2.5, §8.

use std::fmt;
use std::net::Ipv4Addr;

/// A conntrack tuple (`struct nf_conntrack_tuple`, IPv4 part). For ICMP, `sport`
/// holds the echo id and `dport` the type and code (`type << 8 | code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Tuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol.
    pub proto: u8,
    /// Source port (or ICMP id).
    pub sport: u16,
    /// Destination port (or ICMP type/code).
    pub dport: u16,
}

impl Tuple {
    /// The tuple of the other direction (`nf_ct_invert_tuple`).
    pub fn invert(&self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "src={} dst={} sport={} dport={}",
            self.src, self.dst, self.sport, self.dport
        )
    }
}

/// `enum ip_conntrack_info`: how a packet relates to its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CtInfo {
    /// `IP_CT_NEW`
    New,
    /// `IP_CT_ESTABLISHED`
    Established,
    /// `IP_CT_RELATED`
    Related,
    /// `IP_CT_ESTABLISHED_REPLY`
    EstablishedReply,
    /// `IP_CT_RELATED_REPLY`
    RelatedReply,
}

impl CtInfo {
    /// True for the reply direction.
    pub fn is_reply(self) -> bool {
        matches!(self, CtInfo::EstablishedReply | CtInfo::RelatedReply)
    }
}

/// A tracked connection as the packet sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Connection {
    /// Original-direction tuple.
    pub orig: Tuple,
    /// Reply-direction tuple (rewritten by NAT set-up).
    pub reply: Tuple,
    /// `ct->mark`.
    pub mark: u32,
    /// `IPS_SEEN_REPLY`
    pub seen_reply: bool,
    /// `IPS_ASSURED`
    pub assured: bool,
    /// `IPS_CONFIRMED`: in the table (false for a first packet until `nf_confirm`).
    pub confirmed: bool,
    /// `IPS_SRC_NAT`: a real source translation was set up.
    pub src_nat: bool,
    /// `IPS_DST_NAT`
    pub dst_nat: bool,
    /// `IPS_SRC_NAT_DONE`: the SRC manip is initialised (nat chains will not run again).
    pub src_nat_done: bool,
    /// `IPS_DST_NAT_DONE`
    pub dst_nat_done: bool,
}

impl Connection {
    /// A new, unconfirmed connection for a first packet with this tuple.
    pub fn new(orig: Tuple) -> Connection {
        Connection {
            orig,
            reply: orig.invert(),
            mark: 0,
            seen_reply: false,
            assured: false,
            confirmed: false,
            src_nat: false,
            dst_nat: false,
            src_nat_done: false,
            dst_nat_done: false,
        }
    }
}

/// The conntrack verdict for a packet (`skb->_nfct`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CtState {
    /// No conntrack attached yet (before the conntrack hook).
    Unset,
    /// The l4 tracker refused it: no connection.
    Invalid,
    /// `NOTRACK` / `CT --notrack` in raw.
    Untracked,
    /// Attached to a connection.
    Tracked {
        /// Relation to the connection.
        info: CtInfo,
        /// The connection.
        conn: Connection,
    },
}

impl CtState {
    /// The name `-m conntrack --ctstate` would match.
    pub fn name(&self) -> &'static str {
        match self {
            CtState::Unset | CtState::Invalid => "INVALID",
            CtState::Untracked => "UNTRACKED",
            CtState::Tracked { info, .. } => match info {
                CtInfo::New => "NEW",
                CtInfo::Established | CtInfo::EstablishedReply => "ESTABLISHED",
                CtInfo::Related | CtInfo::RelatedReply => "RELATED",
            },
        }
    }

    /// The connection, when tracked.
    pub fn conn(&self) -> Option<&Connection> {
        match self {
            CtState::Tracked { conn, .. } => Some(conn),
            _ => None,
        }
    }

    /// The connection, mutable, when tracked.
    pub fn conn_mut(&mut self) -> Option<&mut Connection> {
        match self {
            CtState::Tracked { conn, .. } => Some(conn),
            _ => None,
        }
    }
}

/// One entry of `conntrack -L` (or `/proc/net/nf_conntrack`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConntrackEntry {
    /// 1-based line in the dump.
    pub line: u32,
    /// Seconds left, when printed (omitted for offloaded entries).
    pub timeout: Option<u32>,
    /// Protocol state (`ESTABLISHED`, `SYN_SENT`, …) for TCP/SCTP/DCCP.
    pub state: Option<String>,
    /// Original tuple.
    pub orig: Tuple,
    /// Reply tuple.
    pub reply: Tuple,
    /// `[UNREPLIED]`: no reply seen yet (`IPS_SEEN_REPLY` clear).
    pub unreplied: bool,
    /// `[ASSURED]`
    pub assured: bool,
    /// `[OFFLOAD]` / `[HW_OFFLOAD]`
    pub offload: bool,
    /// `mark=` (the connection mark), 0 when absent.
    pub mark: u32,
    /// `zone=`, 0 when absent.
    pub zone: u16,
    /// Other `key=value` fields as printed (use, secctx, labels, id, packets, …).
    pub extra: Vec<(String, String)>,
    /// The line as written.
    pub text: String,
}

impl ConntrackEntry {
    /// Source NAT as `libnetfilter_conntrack` infers it: the reply's destination
    /// differs from the original source (address or port).
    pub fn is_snat(&self) -> bool {
        self.reply.dst != self.orig.src || self.reply.dport != self.orig.sport
    }

    /// Destination NAT: the reply's source differs from the original destination.
    pub fn is_dnat(&self) -> bool {
        self.reply.src != self.orig.dst || self.reply.sport != self.orig.dport
    }

    /// The confirmed connection this entry describes.
    pub fn connection(&self) -> Connection {
        Connection {
            orig: self.orig,
            reply: self.reply,
            mark: self.mark,
            seen_reply: !self.unreplied,
            assured: self.assured,
            confirmed: true,
            src_nat: self.is_snat(),
            dst_nat: self.is_dnat(),
            src_nat_done: true,
            dst_nat_done: true,
        }
    }
}

/// Which of an entry's tuples a packet matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Direction {
    /// `IP_CT_DIR_ORIGINAL`
    Original,
    /// `IP_CT_DIR_REPLY`
    Reply,
}

/// The conntrack table, hashed by both tuples as the kernel's is.
#[derive(Debug, Clone, Default)]
pub struct ConntrackTable {
    /// Entries in dump order.
    pub entries: Vec<ConntrackEntry>,
    index: std::collections::HashMap<(Tuple, u16), (usize, Direction)>,
}

impl ConntrackTable {
    /// Builds the table and its index. When two entries share a tuple the first wins.
    pub fn new(entries: Vec<ConntrackEntry>) -> ConntrackTable {
        let mut index = std::collections::HashMap::with_capacity(entries.len() * 2);
        for (i, e) in entries.iter().enumerate() {
            index
                .entry((e.orig, e.zone))
                .or_insert((i, Direction::Original));
            index
                .entry((e.reply, e.zone))
                .or_insert((i, Direction::Reply));
        }
        ConntrackTable { entries, index }
    }

    /// The entry holding `tuple` in either direction (`nf_conntrack_find_get`).
    pub fn find(&self, tuple: &Tuple, zone: u16) -> Option<(&ConntrackEntry, Direction)> {
        let &(i, dir) = self.index.get(&(*tuple, zone))?;
        Some((self.entries.get(i)?, dir))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
