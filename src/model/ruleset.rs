//! An iptables ruleset as `iptables-save` prints it: tables, chains, rules.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2 and `iptables/iptables-save.c`.
//! File order is evaluation order: the n-th `-A CHAIN` line of a chain is rule n,
//! the number the kernel prints in `TRACE: table:chain:type:rulenum`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use super::matches::Match;
use super::target::Target;
use super::text::Text;

/// The five iptables tables, in the order their hooks run at equal hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableName {
    /// `raw` (priority -300): PREROUTING, OUTPUT.
    Raw,
    /// `mangle` (priority -150): all five hooks.
    Mangle,
    /// `nat`: DST manip at PREROUTING/OUTPUT (-100), SRC manip at POSTROUTING/INPUT (100).
    Nat,
    /// `filter` (priority 0): INPUT, FORWARD, OUTPUT.
    Filter,
    /// `security` (priority 50): INPUT, FORWARD, OUTPUT.
    Security,
}

impl TableName {
    /// Every table, in a fixed order.
    pub const ALL: [TableName; 5] = [
        TableName::Raw,
        TableName::Mangle,
        TableName::Nat,
        TableName::Filter,
        TableName::Security,
    ];

    /// The name as `iptables-save` prints it after `*`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Raw => "raw",
            TableName::Mangle => "mangle",
            TableName::Nat => "nat",
            TableName::Filter => "filter",
            TableName::Security => "security",
        }
    }

    /// Parses a table name as written after `*` or `-t`.
    pub fn from_name(name: &str) -> Option<TableName> {
        TableName::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole `iptables-save` dump.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    /// Tables in dump order. A table absent from the dump does not exist on the
    /// host (legacy tables are instantiated on first use), so no hook runs for it.
    pub tables: Vec<Table>,
}

impl Ruleset {
    /// The table with this name, if the dump has it.
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Total number of rules over all tables and chains (counted without
    /// parsing them).
    pub fn rule_count(&self) -> usize {
        self.tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(Chain::rule_count)
            .sum()
    }
}

/// One `*table` … `COMMIT` block.
#[derive(Clone)]
pub struct Table {
    /// Which table.
    pub name: TableName,
    /// Chains in the order of their `:CHAIN` header lines.
    pub chains: Vec<Chain>,
    /// 1-based line of the `*table` header.
    pub line: u32,
    /// Chain name → position in [`Table::chains`], as the parser built it.
    pub index: Arc<ChainIndex>,
    /// Whether some rule enables connection tracking ([`Rule::needs_conntrack`]),
    /// noted while the rules were checked so no chain has to be parsed for it.
    pub needs_conntrack: bool,
}

impl fmt::Debug for Table {
    /// The table as read; the index is left out (it is derived from the chains).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.name)
            .field("chains", &self.chains)
            .field("line", &self.line)
            .field("needs_conntrack", &self.needs_conntrack)
            .finish()
    }
}

impl Table {
    /// Index of the chain with this name.
    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).map(|slot| slot.chain as usize)
    }

    /// The chain with this name.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.get(self.chain_index(name)?)
    }
}

/// Chain name → [`ChainSlot`], for one table. A kube-proxy table declares
/// 60,000 chains and every rule names one or two, so foldhash (hashbrown's
/// own, word at a time and seeded per process) replaces SipHash.
pub type ChainIndex = HashMap<Text, ChainSlot, foldhash::fast::RandomState>;

/// Where a chain is, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSlot {
    /// Position in [`Table::chains`].
    pub chain: u32,
    /// 1-based line of its `:CHAIN` header (a rule can only name chains
    /// declared above it).
    pub line: u32,
}

/// A built-in chain's policy (`:INPUT ACCEPT [0:0]`). Only ACCEPT and DROP are
/// allowed by the kernel (`check_underflow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Policy {
    /// `ACCEPT`
    Accept,
    /// `DROP`
    Drop,
}

impl Policy {
    /// Spelling in `iptables-save`.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// Packet and byte counters, `[pkts:bytes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A chain: built-in (with a policy) or user-defined (`-`).
///
/// Its rules are parsed when first asked for ([`Chain::rules`]): loading checks
/// every rule as `iptables-restore` does but keeps only where each one is, so a
/// trace through a kube-proxy dump builds the few chains it walks, not 170,000
/// rules (issue 6). A trace walks a long chain through [`Chain::walk_rules`],
/// which keeps every rule's header but parses whole only the rules whose
/// header a packet matched.
#[derive(Clone)]
pub struct Chain {
    /// Chain name as written.
    pub name: Text,
    /// `Some` for built-in chains, `None` for user chains (`:NAME - [0:0]`).
    pub policy: Option<Policy>,
    /// Counters from the header line (boxed, as [`Rule::counters`]).
    pub counters: Option<Box<Counters>>,
    /// 1-based line of the `:CHAIN` header.
    pub line: u32,
    /// The rules, once parsed.
    rules: OnceLock<Box<[Rule]>>,
    /// A long chain's headers and its rules parsed one by one, for walking
    /// (boxed: one chain in a thousand has one, and a kube-proxy table has
    /// 60,000 chains).
    sparse: OnceLock<Box<SparseRules>>,
    /// Where they are parsed from.
    source: ChainSource,
}

/// A long chain as a trace walks it: every rule's header (`ipt_ip`), and each
/// rule whole once some packet matched its header.
#[derive(Debug, Clone)]
struct SparseRules {
    headers: Box<[IpHeaderMatch]>,
    rules: Box<[OnceLock<Box<Rule>>]>,
}

/// A chain's rules as a trace walks them ([`Chain::walk_rules`]).
#[derive(Clone, Copy)]
pub struct WalkRules<'a> {
    chain: &'a Chain,
    view: WalkView<'a>,
}

#[derive(Clone, Copy)]
enum WalkView<'a> {
    Parsed(&'a [Rule]),
    Sparse(&'a SparseRules),
}

impl<'a> WalkRules<'a> {
    /// How many rules the chain has.
    pub fn len(&self) -> usize {
        match self.view {
            WalkView::Parsed(rules) => rules.len(),
            WalkView::Sparse(s) => s.headers.len(),
        }
    }

    /// True when the chain has no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The header of rule `i` (0-based).
    pub fn header(&self, i: usize) -> Option<&'a IpHeaderMatch> {
        match self.view {
            WalkView::Parsed(rules) => rules.get(i).map(|r| &r.ip),
            WalkView::Sparse(s) => s.headers.get(i),
        }
    }

    /// Rule `i` (0-based), parsed now if it was not yet.
    pub fn rule(&self, i: usize) -> Option<&'a Rule> {
        match self.view {
            WalkView::Parsed(rules) => rules.get(i),
            WalkView::Sparse(s) => {
                let source = &self.chain.source;
                let cell = s.rules.get(i)?;
                Some(cell.get_or_init(|| Box::new(source.rules.rule(source.chain as usize, i))))
            }
        }
    }
}

/// Reads the rules of a table's chains on demand (implemented by the parser,
/// which checked every rule when the dump was loaded).
pub trait RuleSource: Send + Sync + fmt::Debug {
    /// The rules of the chain at `chain` in its table, in order.
    fn rules(&self, chain: usize) -> Box<[Rule]>;
    /// How many rules that chain has, without parsing them.
    fn rule_count(&self, chain: usize) -> usize;
    /// The headers of that chain's rules, in order.
    fn headers(&self, chain: usize) -> Box<[IpHeaderMatch]>;
    /// Rule `index` (0-based) of that chain.
    fn rule(&self, chain: usize, index: usize) -> Rule;
}

impl fmt::Debug for Chain {
    /// The chain with its rules (parsing them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("counters", &self.counters)
            .field("line", &self.line)
            .field("rules", &self.rules())
            .finish()
    }
}

/// A chain's [`RuleSource`] and its position in the table.
#[derive(Debug, Clone)]
struct ChainSource {
    rules: Arc<dyn RuleSource>,
    chain: u32,
}

impl Chain {
    /// A chain, at `position` in its table, whose rules `source` parses when
    /// first asked for.
    pub fn new(
        name: Text,
        policy: Option<Policy>,
        counters: Option<Box<Counters>>,
        line: u32,
        source: Arc<dyn RuleSource>,
        position: u32,
    ) -> Chain {
        Chain {
            name,
            policy,
            counters,
            line,
            rules: OnceLock::new(),
            sparse: OnceLock::new(),
            source: ChainSource {
                rules: source,
                chain: position,
            },
        }
    }

    /// True for the chains the kernel attaches to hooks.
    pub fn is_builtin(&self) -> bool {
        self.policy.is_some()
    }

    /// Rules in order; rule n (1-based) is `rules()[n-1]`. Parsed on the first call.
    pub fn rules(&self) -> &[Rule] {
        let source = &self.source;
        self.rules
            .get_or_init(|| source.rules.rules(source.chain as usize))
    }

    /// Chains with this many rules are walked through their headers
    /// ([`Chain::walk_rules`]) unless already parsed whole.
    pub const SPARSE_FROM: usize = 1024;

    /// The rules as a trace walks them: the parsed rules when the chain is short
    /// or was parsed whole; otherwise every header, and rules parsed one by one
    /// as a packet matches their header. A 50,000-rule chain then costs its
    /// headers (88 bytes a rule) instead of its rules (200 bytes and their matches).
    pub fn walk_rules(&self) -> WalkRules<'_> {
        let view = match self.rules.get() {
            Some(rules) => WalkView::Parsed(rules),
            None if self.rule_count() < Self::SPARSE_FROM => WalkView::Parsed(self.rules()),
            None => WalkView::Sparse(self.sparse.get_or_init(|| {
                let headers = self.source.rules.headers(self.source.chain as usize);
                let rules = headers.iter().map(|_| OnceLock::new()).collect();
                Box::new(SparseRules { headers, rules })
            })),
        };
        WalkRules { chain: self, view }
    }

    /// How many rules the chain has (without parsing them).
    pub fn rule_count(&self) -> usize {
        match self.rules.get() {
            Some(rules) => rules.len(),
            None => self.source.rules.rule_count(self.source.chain as usize),
        }
    }
}

/// A value that a `!` may invert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Neg<T> {
    /// True when `!` preceded the option.
    pub invert: bool,
    /// The option's value.
    pub value: T,
}

impl<T> Neg<T> {
    /// A non-inverted value.
    pub fn plain(value: T) -> Self {
        Neg {
            invert: false,
            value,
        }
    }
}

/// An IPv4 address with a (possibly non-contiguous) mask, as `-s`/`-d` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AddrMask {
    /// The address, already masked as the kernel stores it.
    pub addr: Ipv4Addr,
    /// The mask.
    pub mask: u32,
}

impl AddrMask {
    /// True when `ip` lies in this network: `(ip & mask) == addr` (`ip_packet_match`).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask == u32::from(self.addr) & self.mask
    }

    /// The prefix length when the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let ones = self.mask.leading_ones();
        (self.mask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
    }
}

impl fmt::Display for AddrMask {
    /// Prints as `save_ipv4_addr` does: `a.b.c.d/len`, or the dotted mask when not contiguous.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(len) => write!(f, "{}/{}", self.addr, len),
            None => write!(f, "{}/{}", self.addr, Ipv4Addr::from(self.mask)),
        }
    }
}

/// How an address's mask was written in the dump, so it can be printed back as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum AddrSpelling {
    /// `a.b.c.d/len` (or a dotted mask when it is not contiguous), as iptables 1.4+ prints.
    #[default]
    Prefix,
    /// `a.b.c.d/w.x.y.z` for every mask, as iptables 1.3 printed.
    Dotted,
    /// `a.b.c.d` with no mask (a host, /32), as iptables 1.3 printed.
    Bare,
}

/// How a rule's header options were spelled, when that differs from what
/// iptables-save 1.8 prints. Only the printer (`render::save`) reads it; it has
/// no effect on evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct RuleSpelling {
    /// Mask form of `-s`.
    pub src: AddrSpelling,
    /// Mask form of `-d`.
    pub dst: AddrSpelling,
    /// `-s ! addr` instead of `! -s addr` (iptables 1.3 and early 1.4).
    pub bang_after_option: bool,
    /// The `-s` address as written when it had bits outside its mask
    /// (`10.1.2.3/8`); [`IpHeaderMatch::src`] holds it masked.
    pub src_written: Option<Ipv4Addr>,
    /// The same for `-d`.
    pub dst_written: Option<Ipv4Addr>,
}

/// An interface name in `-i`/`-o`; a trailing `+` makes it a prefix match.
///
/// Held inline, as the kernel's `ipt_ip` holds `iniface[IFNAMSIZ]`: a rule
/// header is one of hundreds of thousands and allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IfaceMatch {
    len: u8,
    bytes: [u8; IfaceMatch::MAX_LEN],
}

impl IfaceMatch {
    /// The longest name (`IFNAMSIZ` - 1).
    pub const MAX_LEN: usize = 15;

    /// The name as written, including any trailing `+`; `None` when it is
    /// empty or longer than [`IfaceMatch::MAX_LEN`] bytes.
    pub fn new(name: &str) -> Option<IfaceMatch> {
        let len = name.len();
        if len == 0 || len > Self::MAX_LEN {
            return None;
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..len].copy_from_slice(name.as_bytes());
        Some(IfaceMatch {
            len: len as u8,
            bytes,
        })
    }

    /// The name as written.
    pub fn name(&self) -> &str {
        // Copied from a `&str` whole, so always UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// `ifname_compare_aligned`: exact, or prefix when the rule's name ends in `+`.
    /// The empty device (no in/out device at this hook) matches only a rule name `+`.
    pub fn matches(&self, dev: &str) -> bool {
        Self::name_matches(self.name(), dev)
    }

    /// [`IfaceMatch::matches`] for a rule's name held elsewhere.
    pub fn name_matches(name: &str, dev: &str) -> bool {
        match name.strip_suffix('+') {
            Some(prefix) => dev.starts_with(prefix),
            None => name == dev,
        }
    }
}

impl fmt::Debug for IfaceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IfaceMatch")
            .field("name", &self.name())
            .finish()
    }
}

impl serde::Serialize for IfaceMatch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("IfaceMatch", 1)?;
        st.serialize_field("name", self.name())?;
        st.end()
    }
}

/// IP protocol names nftrace resolves (`xtables_chain_protos` plus the common
/// `/etc/protocols` entries), with their numbers.
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("all", 0),
    ("ip", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ipencap", 4),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("dccp", 33),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("sctp", 132),
    ("mh", 135),
    ("udplite", 136),
];

/// A protocol as written after `-p`: a name or a number, kept in its spelling.
///
/// Sixteen bytes: a name from [`PROTOCOLS`] or a plain number is recorded
/// as which one; only another spelling (`TCP`, `006`) is kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// IP protocol number; 0 means `all`.
    pub number: u8,
    /// 1 + the index in [`PROTOCOLS`] of the name written; 0 for a number.
    name: u8,
    /// The spelling, when it is neither a name of [`PROTOCOLS`] nor the number
    /// in plain decimal (boxed: one pointer).
    written: Option<Box<Text>>,
}

impl Protocol {
    /// Reads a name (any case, as `xtables_parse_protocol` after iptables
    /// lowercases it) or a decimal number.
    pub fn from_spelling(s: &str) -> Option<Protocol> {
        let (number, at) = Self::read(s)?;
        let name = at.map_or(0, |i| u8::try_from(i + 1).unwrap_or(0));
        let mut p = Protocol {
            number,
            name,
            written: None,
        };
        if p.spelling() != s {
            p.written = Some(Box::new(Text::from(s)));
        }
        Some(p)
    }

    /// The number `s` names, and which entry of [`PROTOCOLS`] it is when it is
    /// a name.
    pub fn read(s: &str) -> Option<(u8, Option<usize>)> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return Some((s.parse().ok()?, None));
        }
        let at = PROTOCOLS
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(s))?;
        Some((PROTOCOLS[at].1, Some(at)))
    }

    /// The spelling in the dump (`tcp`, `6`, `gre`, `all`).
    pub fn spelling(&self) -> Cow<'_, str> {
        if let Some(w) = &self.written {
            return Cow::Borrowed(w.as_str());
        }
        match PROTOCOLS.get(usize::from(self.name).wrapping_sub(1)) {
            Some((name, _)) => Cow::Borrowed(name),
            None => Cow::Owned(self.number.to_string()),
        }
    }
}

impl serde::Serialize for Protocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Protocol", 2)?;
        st.serialize_field("number", &self.number)?;
        st.serialize_field("spelling", &self.spelling())?;
        st.end()
    }
}

/// The fixed part of a rule (`struct ipt_ip`): addresses, interfaces, protocol, fragment flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IpHeaderMatch {
    /// `[!] -s addr/mask`
    pub src: Option<Neg<AddrMask>>,
    /// `[!] -d addr/mask`
    pub dst: Option<Neg<AddrMask>>,
    /// `[!] -i name`
    pub in_iface: Option<Neg<IfaceMatch>>,
    /// `[!] -o name`
    pub out_iface: Option<Neg<IfaceMatch>>,
    /// `[!] -p proto`
    pub proto: Option<Neg<Protocol>>,
    /// `[!] -f`: `Some(false)` for `-f`, `Some(true)` for `! -f`.
    pub fragment: Option<bool>,
}

impl IpHeaderMatch {
    /// True when the rule has none of the header conditions.
    pub fn is_empty(&self) -> bool {
        *self == IpHeaderMatch::default()
    }
}

/// One `-A CHAIN …` line. The default is an empty rule at line 0 (`-A` with
/// no option), which matches every packet and does nothing.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    /// 1-based line in the dump.
    pub line: u32,
    /// `[pkts:bytes]` when saved with `-c` (boxed: most dumps have none, and a
    /// rule is one of hundreds of thousands).
    pub counters: Option<Box<Counters>>,
    /// Header matches.
    pub ip: IpHeaderMatch,
    /// `-m` matches in order (including the implicit ones iptables-save prints, e.g. `-m tcp`).
    pub matches: Box<[Match]>,
    /// The target (`-j`/`-g`), or [`Target::None`] when the rule has none.
    pub target: Target,
    /// The rule as written after the counters, starting at `-A` (a piece of the dump).
    pub text: Text,
    /// Spelling details of the header, for printing the rule back as read.
    pub spelling: RuleSpelling,
}

impl Rule {
    /// Unconditional in the kernel's sense (`unconditional()` in ip_tables.c):
    /// no header matches and no `-m` matches at all. Decides `policy`/`return` in TRACE.
    pub fn is_unconditional(&self) -> bool {
        self.ip.is_empty() && self.matches.is_empty()
    }
}

impl Ruleset {
    /// Whether some rule enables connection tracking ([`Rule::needs_conntrack`]).
    pub fn needs_conntrack(&self) -> bool {
        self.tables.iter().any(|t| t.needs_conntrack)
    }
}

impl Rule {
    /// Whether the rule loads an extension that enables connection tracking in
    /// the network namespace (`nf_ct_netns_get` in its checkentry): conntrack,
    /// state, connmark, connlimit, connbytes, helper matches and the NAT,
    /// CONNMARK, CT/NOTRACK targets. Without one, the kernel tracks nothing: every
    /// packet stays without a conntrack and the nat chains never run (recorded in
    /// fixtures/empty-nat-no-conntrack).
    pub fn needs_conntrack(&self) -> bool {
        const MATCHES: &[&str] = &[
            "conntrack",
            "state",
            "connmark",
            "connlimit",
            "connbytes",
            "connlabel",
            "helper",
            "cluster",
            "ipvs",
        ];
        let by_match = self
            .matches
            .iter()
            .any(|m| MATCHES.contains(&m.module.as_str()));
        by_match || self.target.needs_conntrack()
    }
}

/// The netfilter hooks in `NF_INET_*` order, by the name of their built-in chain;
/// bit `i` of a hook mask is `HOOKS[i]`.
pub const HOOKS: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

/// The hook mask bit of a built-in chain name (`PREROUTING` → 1 << 0, …).
pub fn hook_bit(chain: &str) -> Option<u8> {
    HOOKS.iter().position(|h| *h == chain).map(|i| 1 << i)
}

/// The hook bit of a chain the kernel enters from a hook (a built-in chain,
/// which has a policy), else 0: the entries [`hook_masks_over`] starts from.
pub fn entry_bit(policy: Option<Policy>, name: &str) -> u8 {
    policy.and(hook_bit(name)).unwrap_or(0)
}

/// The chain names of the hooks set in `mask`, comma-separated.
pub fn hook_names(mask: u8) -> String {
    let names: Vec<&str> = (0..HOOKS.len())
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| HOOKS[i])
        .collect();
    names.join(", ")
}

impl Table {
    /// For each chain (by index), the hooks it is reached from through jumps
    /// and gotos: what `mark_source_chains` (ip_tables.c) stores in each
    /// entry's `comefrom` and `xt_check_target` checks a target's hooks against.
    /// A user chain no built-in chain leads to has mask 0.
    pub fn hook_masks(&self) -> Vec<u8> {
        let edges: Vec<Vec<(usize, usize)>> = self
            .chains
            .iter()
            .map(|c| {
                let jumps = c.rules().iter().enumerate();
                jumps
                    .filter_map(|(ri, r)| match &r.target {
                        Target::Jump(n) | Target::Goto(n) => Some((ri, self.chain_index(n)?)),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let entries: Vec<u8> = self
            .chains
            .iter()
            .map(|c| entry_bit(c.policy, &c.name))
            .collect();
        hook_masks_over(&entries, &edges)
    }

    /// User chains with rules that no built-in chain leads to: their rules never run.
    pub fn unreached_chains(&self) -> Vec<&Chain> {
        self.unreached_chains_in(&self.hook_masks())
    }

    /// [`Table::unreached_chains`] from masks already computed.
    pub fn unreached_chains_in(&self, masks: &[u8]) -> Vec<&Chain> {
        let masks = masks.iter().copied();
        self.chains
            .iter()
            .zip(masks)
            .filter(|(c, m)| *m == 0 && !c.is_builtin() && c.rule_count() > 0)
            .map(|(c, _)| c)
            .collect()
    }
}

/// [`Table::hook_masks`] over a jump graph already built: `edges[c]` holds
/// `(rule index, target chain)` for every jump and goto of chain `c`.
/// Iterative; each chain is revisited only when its mask grows (at most five times).
pub fn hook_masks_over<E: AsRef<[(usize, usize)]>>(entries: &[u8], edges: &[E]) -> Vec<u8> {
    let mut masks = entries.to_vec();
    let mut work: Vec<usize> = (0..entries.len()).filter(|&i| entries[i] != 0).collect();
    while let Some(from) = work.pop() {
        for &(_, to) in edges.get(from).map_or(&[][..], AsRef::as_ref) {
            let grown = masks[to] | masks[from];
            if grown != masks[to] && entries[to] == 0 {
                masks[to] = grown;
                work.push(to);
            }
        }
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_keeps_its_spelling() {
        for (written, number) in [
            ("tcp", 6),
            ("6", 6),
            ("TCP", 6),
            ("006", 6),
            ("all", 0),
            ("ip", 0),
            ("icmpv6", 58),
            ("ipv6-icmp", 58),
            ("255", 255),
        ] {
            let p = Protocol::from_spelling(written).unwrap();
            assert_eq!((p.number, &*p.spelling()), (number, written));
        }
        // Names of the table and plain numbers take no text of their own.
        assert!(Protocol::from_spelling("icmpv6").unwrap().written.is_none());
        assert!(Protocol::from_spelling("47").unwrap().written.is_none());
        assert!(Protocol::from_spelling("Gre").unwrap().written.is_some());
        for bad in ["256", "", "tcpx", "-1"] {
            assert_eq!(Protocol::from_spelling(bad), None, "{bad}");
        }
    }

    /// Rules numbered by their destination `10.0.x.y`, counting what is parsed.
    #[derive(Debug, Default)]
    struct CountingSource {
        rules: usize,
        whole: std::sync::atomic::AtomicUsize,
        single: std::sync::atomic::AtomicUsize,
    }

    impl CountingSource {
        /// (single rules parsed, whole chains parsed)
        fn parses(&self) -> (usize, usize) {
            use std::sync::atomic::Ordering::Relaxed;
            (self.single.load(Relaxed), self.whole.load(Relaxed))
        }

        fn rule_at(&self, i: usize) -> Rule {
            let mut rule = Rule {
                line: u32::try_from(i + 1).unwrap(),
                ..Rule::default()
            };
            rule.ip.dst = Some(Neg {
                invert: false,
                value: AddrMask {
                    addr: Ipv4Addr::from(0x0a00_0000 + u32::try_from(i).unwrap()),
                    mask: u32::MAX,
                },
            });
            rule
        }
    }

    impl RuleSource for CountingSource {
        fn rules(&self, _: usize) -> Box<[Rule]> {
            self.whole
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            (0..self.rules).map(|i| self.rule_at(i)).collect()
        }
        fn rule_count(&self, _: usize) -> usize {
            self.rules
        }
        fn headers(&self, _: usize) -> Box<[IpHeaderMatch]> {
            (0..self.rules).map(|i| self.rule_at(i).ip).collect()
        }
        fn rule(&self, _: usize, index: usize) -> Rule {
            self.single
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.rule_at(index)
        }
    }

    fn chain_over(source: &Arc<CountingSource>) -> Chain {
        let source: Arc<dyn RuleSource> = Arc::clone(source) as _;
        Chain::new(Text::from("C"), None, None, 1, source, 0)
    }

    #[test]
    fn a_long_chain_is_walked_by_its_headers_and_parses_only_the_rules_asked_for() {
        let source = Arc::new(CountingSource {
            rules: Chain::SPARSE_FROM,
            ..CountingSource::default()
        });
        let chain = chain_over(&source);
        let walk = chain.walk_rules();
        assert_eq!(walk.len(), Chain::SPARSE_FROM);
        let last = Chain::SPARSE_FROM - 1;
        let want = Ipv4Addr::from(0x0a00_0000 + u32::try_from(last).unwrap());
        assert_eq!(walk.header(last).unwrap().dst.unwrap().value.addr, want);
        assert_eq!(
            walk.rule(last).unwrap().line,
            u32::try_from(last + 1).unwrap()
        );
        assert_eq!(
            walk.rule(last).unwrap().line,
            u32::try_from(last + 1).unwrap()
        );
        assert!(walk.rule(Chain::SPARSE_FROM).is_none());
        // One rule parsed, once; the chain never whole.
        assert_eq!(source.parses(), (1, 0));
        // Parsed whole later (by lint, say), the walk reads the parsed rules.
        assert_eq!(chain.rules().len(), Chain::SPARSE_FROM);
        assert_eq!(chain.walk_rules().rule(3).unwrap().line, 4);
        assert_eq!(source.parses(), (1, 1));
    }

    #[test]
    fn a_short_chain_is_walked_parsed_whole() {
        let source = Arc::new(CountingSource {
            rules: Chain::SPARSE_FROM - 1,
            ..CountingSource::default()
        });
        let chain = chain_over(&source);
        assert_eq!(chain.walk_rules().rule(5).unwrap().line, 6);
        assert_eq!(chain.walk_rules().rule(6).unwrap().line, 7);
        assert_eq!(source.parses(), (0, 1));
    }

    #[test]
    fn an_interface_name_fits_ifnamsiz() {
        assert_eq!(IfaceMatch::new(""), None);
        assert_eq!(IfaceMatch::new("abcdefghijklmnop"), None);
        let long = IfaceMatch::new("abcdefghijklmno").unwrap();
        assert_eq!(long.name(), "abcdefghijklmno");
        assert!(long.matches("abcdefghijklmno") && !long.matches("abcdefghijklmn"));
        let wild = IfaceMatch::new("veth+").unwrap();
        assert!(wild.matches("veth12") && wild.matches("veth") && !wild.matches("eth0"));
        assert!(IfaceMatch::new("+").unwrap().matches(""));
        assert!(!IfaceMatch::new("eth0").unwrap().matches(""));
    }
}
