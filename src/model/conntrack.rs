//! Connection tracking: tuples, connections and the state a packet gets.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.4, §2.5, §8.

use std::fmt;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::model::text::Text;

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
    /// Its conntrack zone (`nf_ct_zone`; 0 unless a `CT --zone` rule set one).
    #[serde(skip_serializing_if = "is_zero")]
    pub zone: u16,
}

fn is_zero(z: &u16) -> bool {
    *z == 0
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
            zone: 0,
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
    pub state: Option<Text>,
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
    /// The line as written; the fields nftrace does not read (`use=`, `id=`,
    /// `packets=`, `secctx=`, `labels=`, …) are only here.
    pub text: Text,
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
            zone: self.zone,
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
    /// The dump's entries and their index, shared by every table built on them.
    dump: Arc<IndexedEntries>,
    /// Connections added after the dump ([`ConntrackTable::with_connection`]),
    /// found only where the dump has no entry.
    added: Vec<ConntrackEntry>,
}

/// Entries in dump order, with each one's two tuples (and zone) hashed.
#[derive(Debug, Default)]
struct IndexedEntries {
    entries: Vec<ConntrackEntry>,
    /// [`TupleRef`]s: the tuples themselves stay in `entries` (five bytes a
    /// tuple for 500,000 entries).
    index: HashTable<TupleRef>,
    hasher: foldhash::fast::RandomState,
    /// Whether some entry is outside zone 0.
    zoned: bool,
}

/// One tuple in the index: entry number × 2, plus 1 for the reply tuple.
type TupleRef = u32;

impl ConntrackTable {
    /// Builds the table and its index. When two entries share a tuple the first wins.
    pub fn new(entries: Vec<ConntrackEntry>) -> ConntrackTable {
        ConntrackTable {
            dump: Arc::new(IndexedEntries::new(entries)),
            added: Vec::new(),
        }
    }

    /// This table with `entry` added after the others (the traced packet's own
    /// connection, for its reply), sharing the dump's entries and index.
    pub fn with_connection(&self, entry: ConntrackEntry) -> ConntrackTable {
        let mut added = self.added.clone();
        added.push(entry);
        ConntrackTable {
            dump: Arc::clone(&self.dump),
            added,
        }
    }

    /// The entry holding `tuple` in either direction (`nf_conntrack_find_get`).
    pub fn find(&self, tuple: &Tuple, zone: u16) -> Option<(&ConntrackEntry, Direction)> {
        // In the order the index gives the dump: entry by entry, first wins.
        let added = self.added.iter().filter(|e| e.zone == zone).find_map(|e| {
            [(e.orig, Direction::Original), (e.reply, Direction::Reply)]
                .into_iter()
                .find(|(t, _)| t == tuple)
                .map(|(_, dir)| (e, dir))
        });
        self.dump.find(tuple, zone).or(added)
    }

    /// An entry holding `tuple` in a zone other than `zone`: why a packet in
    /// the wrong zone finds no connection. A scan, made only when some entry
    /// or the packet is outside zone 0.
    pub fn find_in_other_zone(&self, tuple: &Tuple, zone: u16) -> Option<&ConntrackEntry> {
        let zoned = zone != 0 || self.dump.zoned || self.added.iter().any(|e| e.zone != 0);
        if !zoned {
            return None;
        }
        self.entries()
            .find(|e| e.zone != zone && (e.orig == *tuple || e.reply == *tuple))
    }

    /// Every entry: the dump's in order, then the added ones.
    pub fn entries(&self) -> impl Iterator<Item = &ConntrackEntry> {
        self.dump.entries.iter().chain(&self.added)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.dump.entries.len() + self.added.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl IndexedEntries {
    /// Indexes both tuples of every entry; the first entry with a tuple wins.
    fn new(entries: Vec<ConntrackEntry>) -> IndexedEntries {
        let mut table = IndexedEntries {
            index: HashTable::with_capacity(entries.len() * 2),
            zoned: entries.iter().any(|e| e.zone != 0),
            entries,
            hasher: foldhash::fast::RandomState::default(),
        };
        let refs = (0..table.entries.len()).filter_map(|i| u32::try_from(i * 2).ok());
        for r in refs.flat_map(|r| [r, r + 1]) {
            let key = key_of(&table.entries, r);
            let hash = table.hasher.hash_one(key);
            let entry = table.index.entry(
                hash,
                |&other| key_of(&table.entries, other) == key,
                |&other| table.hasher.hash_one(key_of(&table.entries, other)),
            );
            if let hashbrown::hash_table::Entry::Vacant(slot) = entry {
                slot.insert(r);
            }
        }
        table
    }

    /// The entry holding `tuple` in `zone`, and which of its tuples it is.
    fn find(&self, tuple: &Tuple, zone: u16) -> Option<(&ConntrackEntry, Direction)> {
        let key = Some((*tuple, zone));
        let hash = self.hasher.hash_one(key);
        let &r = self
            .index
            .find(hash, |&r| key_of(&self.entries, r) == key)?;
        let dir = if r & 1 == 0 {
            Direction::Original
        } else {
            Direction::Reply
        };
        Some((self.entries.get(r as usize / 2)?, dir))
    }
}

/// The tuple and zone `r` stands for in `entries`.
fn key_of(entries: &[ConntrackEntry], r: TupleRef) -> Option<(Tuple, u16)> {
    let e = entries.get(r as usize / 2)?;
    let tuple = if r & 1 == 0 { e.orig } else { e.reply };
    Some((tuple, e.zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Tuple {
        Tuple {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            proto: 6,
            sport,
            dport,
        }
    }

    fn entry(line: u32, orig: Tuple, reply: Tuple, zone: u16) -> ConntrackEntry {
        ConntrackEntry {
            line,
            timeout: None,
            state: None,
            orig,
            reply,
            unreplied: false,
            assured: false,
            offload: false,
            mark: 0,
            zone,
            text: Text::default(),
        }
    }

    #[test]
    fn find_by_either_tuple_first_entry_wins_zones_apart() {
        let a = tuple([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80);
        let dnat = tuple([10, 9, 9, 9], [10, 0, 0, 1], 8080, 1000);
        let b = tuple([10, 0, 0, 3], [10, 0, 0, 2], 1000, 80);
        let table = ConntrackTable::new(vec![
            entry(1, a, dnat, 0),
            entry(2, a, a.invert(), 0),
            entry(3, b, b.invert(), 0),
            entry(4, b, b.invert(), 7),
        ]);
        let found = |t: &Tuple, zone| table.find(t, zone).map(|(e, d)| (e.line, d));
        assert_eq!(found(&a, 0), Some((1, Direction::Original)));
        assert_eq!(found(&dnat, 0), Some((1, Direction::Reply)));
        assert_eq!(found(&a.invert(), 0), Some((2, Direction::Reply)));
        assert_eq!(found(&b.invert(), 0), Some((3, Direction::Reply)));
        assert_eq!(found(&b, 7), Some((4, Direction::Original)));
        assert_eq!(found(&b, 1), None);
        assert_eq!(found(&dnat.invert(), 0), None);
    }

    #[test]
    fn an_entry_in_another_zone_is_found_only_when_asked_why() {
        let a = tuple([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80);
        let b = tuple([10, 0, 0, 3], [10, 0, 0, 2], 1000, 80);
        let zoned =
            ConntrackTable::new(vec![entry(1, a, a.invert(), 0), entry(2, b, b.invert(), 5)]);
        let line = |t: &Tuple, zone| zoned.find_in_other_zone(t, zone).map(|e| e.line);
        assert_eq!(line(&b.invert(), 0), Some(2));
        assert_eq!(line(&a, 5), Some(1));
        assert_eq!(line(&b, 5), None);
        assert_eq!(line(&tuple([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), 0), None);
        let flat = ConntrackTable::new(vec![entry(1, a, a.invert(), 0)]);
        assert!(flat.find_in_other_zone(&a, 0).is_none());
        assert_eq!(flat.find_in_other_zone(&a, 3).map(|e| e.line), Some(1));
    }

    #[test]
    fn an_added_connection_is_found_where_the_dump_has_none() {
        let a = tuple([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80);
        let b = tuple([10, 0, 0, 3], [10, 0, 0, 2], 1000, 80);
        let dump = ConntrackTable::new(vec![entry(1, a, a.invert(), 0)]);
        let added = dump
            .with_connection(entry(0, b, b.invert(), 0))
            .with_connection(entry(9, a, a.invert(), 0));
        let found = |t: &ConntrackTable, tuple: &Tuple| t.find(tuple, 0).map(|(e, d)| (e.line, d));
        assert_eq!(found(&added, &b.invert()), Some((0, Direction::Reply)));
        assert_eq!(
            found(&added, &a),
            Some((1, Direction::Original)),
            "the dump's entry first"
        );
        assert_eq!(added.find(&b, 3).map(|(e, _)| e.line), None, "zone 3");
        assert_eq!(found(&dump, &b), None, "the dump's own table is unchanged");
        let lines: Vec<u32> = added.entries().map(|e| e.line).collect();
        assert_eq!((lines, added.len(), dump.len()), (vec![1, 0, 9], 3, 1));
        assert!(Arc::ptr_eq(&dump.dump, &added.dump));
    }
}
