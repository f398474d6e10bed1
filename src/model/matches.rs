//! `-m` matches: one variant per xtables match module nftrace evaluates.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.1, §2.5, §4, §7.
//! Modules whose result depends on state the dumps lack (statistic, limit,
//! recent, …) are still parsed; the evaluator decides them by a stated assumption.

use std::net::Ipv4Addr;

use super::ruleset::{AddrMask, Neg};
use super::text::Text;

/// One `-m NAME options…` group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Match {
    /// The module name as written after `-m`.
    pub module: Text,
    /// The parsed options.
    pub kind: MatchKind,
    /// True when the match was loaded implicitly by `-p tcp|udp|icmp` followed by
    /// one of its options, without `-m` (iptables-restore accepts `-p tcp --dport 22`;
    /// iptables-save always prints `-m tcp`). The printer then omits `-m NAME`.
    pub implicit: bool,
}

/// An inclusive port range `a[:b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PortRange {
    /// Lowest port.
    pub min: u16,
    /// Highest port (equal to `min` for a single port).
    pub max: u16,
}

impl PortRange {
    /// True when `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }
}

/// TCP flag bits in the order of the TCP header (`FIN`=0x01 … `CWR`=0x80).
pub type TcpFlagBits = u8;

/// `-m tcp` (`xt_tcpudp.c tcp_mt`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TcpMatch {
    /// `[!] --sport a[:b]`
    pub sport: Option<Neg<PortRange>>,
    /// `[!] --dport a[:b]`
    pub dport: Option<Neg<PortRange>>,
    /// `[!] --tcp-flags MASK COMP`: `(flags & mask) == comp`.
    pub flags: Option<Neg<(TcpFlagBits, TcpFlagBits)>>,
    /// `[!] --tcp-option N`
    pub option: Option<Neg<u8>>,
}

/// `-m udp` (`xt_tcpudp.c udp_mt`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UdpMatch {
    /// `[!] --sport a[:b]`
    pub sport: Option<Neg<PortRange>>,
    /// `[!] --dport a[:b]`
    pub dport: Option<Neg<PortRange>>,
}

/// `-m icmp [!] --icmp-type T[/C]` or `any` (`ipt_icmp` in ip_tables.c).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IcmpMatch {
    /// True with `!`.
    pub invert: bool,
    /// Type; `None` for `any` (type 255 in the kernel).
    pub icmp_type: Option<u8>,
    /// Inclusive code range; `0..=255` when no code was given.
    pub code_min: u8,
    /// Upper end of the code range.
    pub code_max: u8,
}

/// Which ports `-m multiport` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MultiportDir {
    /// `--sports`
    Source,
    /// `--dports`
    Destination,
    /// `--ports` (either)
    Either,
}

/// `-m multiport` (`xt_multiport.c`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MultiportMatch {
    /// True with `!`.
    pub invert: bool,
    /// Which port to compare.
    pub dir: MultiportDir,
    /// Ports and ranges, at most 15.
    pub ports: Vec<PortRange>,
}

/// `-m iprange` (`xt_iprange.c`), inclusive host-order ranges.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IprangeMatch {
    /// `[!] --src-range a-b`
    pub src: Option<Neg<(Ipv4Addr, Ipv4Addr)>>,
    /// `[!] --dst-range a-b`
    pub dst: Option<Neg<(Ipv4Addr, Ipv4Addr)>>,
}

/// `-m mark` / `-m connmark`: `((mark & mask) == value) ^ invert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MarkMatch {
    /// True with `!`.
    pub invert: bool,
    /// Value to compare.
    pub value: u32,
    /// Mask; 0xffffffff when none was printed.
    pub mask: u32,
}

/// Conntrack state bits as `xt_conntrack`/`xt_state` test them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CtStateSet {
    /// `INVALID`
    pub invalid: bool,
    /// `NEW`
    pub new: bool,
    /// `ESTABLISHED` (covers ESTABLISHED_REPLY too)
    pub established: bool,
    /// `RELATED`
    pub related: bool,
    /// `UNTRACKED`
    pub untracked: bool,
    /// `SNAT` (conntrack match only): the connection has a real source translation.
    pub snat: bool,
    /// `DNAT` (conntrack match only).
    pub dnat: bool,
    /// The names in their written order, for printing back.
    pub names: Vec<String>,
}

/// One condition of `-m conntrack`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum CtCondition {
    /// `--ctstate`
    State(CtStateSet),
    /// `--ctstatus NONE|EXPECTED|SEEN_REPLY|ASSURED|CONFIRMED,...` (names as written).
    Status(Vec<String>),
    /// `--ctproto N`
    Proto(String),
    /// `--ctorigsrc addr[/mask]`
    OrigSrc(AddrMask),
    /// `--ctorigdst`
    OrigDst(AddrMask),
    /// `--ctreplsrc`
    ReplSrc(AddrMask),
    /// `--ctrepldst`
    ReplDst(AddrMask),
    /// `--ctorigsrcport a[:b]`
    OrigSrcPort(PortRange),
    /// `--ctorigdstport`
    OrigDstPort(PortRange),
    /// `--ctreplsrcport`
    ReplSrcPort(PortRange),
    /// `--ctrepldstport`
    ReplDstPort(PortRange),
    /// `--ctdir ORIGINAL|REPLY`: true for ORIGINAL.
    DirOriginal(bool),
    /// `--ctexpire a[:b]`
    Expire(String),
}

/// `-m addrtype` (`xt_addrtype.c addrtype_mt_v1`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AddrtypeMatch {
    /// `[!] --src-type T[,T…]` (names as written: LOCAL, UNICAST, …).
    pub src_type: Option<Neg<Vec<String>>>,
    /// `[!] --dst-type T[,T…]`
    pub dst_type: Option<Neg<Vec<String>>>,
    /// `--limit-iface-in`
    pub limit_iface_in: bool,
    /// `--limit-iface-out`
    pub limit_iface_out: bool,
}

/// Comparison of `-m ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TtlOp {
    /// `--ttl-eq`
    Eq,
    /// `--ttl-lt`
    Lt,
    /// `--ttl-gt`
    Gt,
}

/// `-m statistic` (`xt_statistic.c`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum StatisticMode {
    /// `--mode random --probability P` (P kept as written).
    Random {
        /// Probability as a number.
        probability: f64,
        /// Its spelling in the dump.
        text: Text,
    },
    /// `--mode nth --every N [--packet P]`
    Nth {
        /// Every N-th packet.
        every: u32,
        /// Offset.
        packet: u32,
    },
}

/// `-m set [!] --match-set NAME dir[,dir…]` plus its flags (kept as written).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SetMatch {
    /// True with `!`.
    pub invert: bool,
    /// The set name.
    pub name: String,
    /// `src`/`dst` per dimension.
    pub dirs: Vec<String>,
    /// Further options as written (e.g. `--return-nomatch`).
    pub rest: Vec<String>,
}

/// Parsed options of a match module. Large, rare payloads are boxed so every
/// match of a 200,000-rule dump stays small.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum MatchKind {
    /// `-m tcp`
    Tcp(TcpMatch),
    /// `-m udp`
    Udp(UdpMatch),
    /// `-m icmp`
    Icmp(IcmpMatch),
    /// `-m multiport`
    Multiport(Box<MultiportMatch>),
    /// `-m iprange`
    Iprange(IprangeMatch),
    /// `-m mark`
    Mark(MarkMatch),
    /// `-m connmark`
    Connmark(MarkMatch),
    /// `-m conntrack`: every condition must hold; each may be inverted.
    Conntrack(Vec<Neg<CtCondition>>),
    /// `-m state [!] --state …`
    State(Box<Neg<CtStateSet>>),
    /// `-m comment --comment TEXT`: always true.
    Comment(Text),
    /// `-m addrtype`
    Addrtype(Box<AddrtypeMatch>),
    /// `-m length [!] --length a[:b]` (IP total length).
    Length(Neg<PortRange>),
    /// `-m pkttype [!] --pkt-type unicast|broadcast|multicast|host|…`
    Pkttype(Neg<String>),
    /// `-m ttl [!] --ttl-eq|--ttl-lt|--ttl-gt N`
    Ttl(Neg<(TtlOp, u8)>),
    /// `-m tos [!] --tos value[/mask]`: `(tos & mask) == value`.
    Tos(Neg<(u8, u8)>),
    /// `-m dscp [!] --dscp value` (6-bit DSCP, `tos >> 2`).
    Dscp(Neg<u8>),
    /// `-m mac [!] --mac-source XX:…`
    Mac(Neg<[u8; 6]>),
    /// `-m statistic [!] --mode …`
    Statistic(Box<Neg<StatisticMode>>),
    /// `-m set [!] --match-set NAME dir[,dir…]` plus its flags (kept as written).
    Set(Box<SetMatch>),
    /// Any other module (limit, hashlimit, recent, connlimit, owner, string,
    /// u32, physdev, …): its arguments kept verbatim (unquoted words, `!` included).
    /// The evaluator decides it by a stated assumption.
    Other(Vec<String>),
}
