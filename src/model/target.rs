//! Targets (`-j`) and gotos (`-g`).
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.2–2.3, §4, §5.
//! Terminal targets end the table for this hook (ACCEPT, DROP, REJECT, QUEUE,
//! NAT targets in the nat table); the others return `XT_CONTINUE`.

use std::net::Ipv4Addr;

use super::matches::PortRange;
use super::text::Text;

/// How a MARK/CONNMARK value was written, so it can be printed back as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MarkSpelling {
    /// `--set-xmark v/m` (what modern iptables-save always prints)
    SetXmark,
    /// `--set-mark v[/m]`
    SetMark,
    /// `--and-mark v`
    AndMark,
    /// `--or-mark v`
    OrMark,
    /// `--xor-mark v`
    XorMark,
}

/// `mark = (mark & !mask) ^ value` (`xt_mark.c mark_tg`, `xt_connmark.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MarkOp {
    /// Bits XORed in.
    pub value: u32,
    /// Bits cleared first.
    pub mask: u32,
    /// Spelling in the dump.
    pub spelling: MarkSpelling,
}

impl MarkOp {
    /// Applies the operation to a mark.
    pub fn apply(&self, mark: u32) -> u32 {
        (mark & !self.mask) ^ self.value
    }
}

/// The CONNMARK target's operations (`xt_connmark.c connmark_tg_shift`). Each
/// may carry a revision-2 shift ([`MarkShift`]), applied where the kernel does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ConnmarkOp {
    /// `--set-xmark v/m` (and the other set spellings):
    /// `ctmark = ((ctmark & !m) ^ v) shifted`.
    Set {
        /// The value and mask.
        op: MarkOp,
        /// `--left-shift-mark` / `--right-shift-mark`.
        shift: MarkShift,
    },
    /// `--save-mark [--nfmask m] [--ctmask m]`:
    /// `ctmark = (ctmark & !ctmask) ^ ((mark & nfmask) shifted)`.
    Save {
        /// nfmask
        nfmask: u32,
        /// ctmask
        ctmask: u32,
        /// `--left-shift-mark` / `--right-shift-mark`.
        shift: MarkShift,
        /// Options as written, for printing back.
        text: String,
    },
    /// `--restore-mark`: `mark = (mark & !nfmask) ^ ((ctmark & ctmask) shifted)`.
    Restore {
        /// nfmask
        nfmask: u32,
        /// ctmask
        ctmask: u32,
        /// `--left-shift-mark` / `--right-shift-mark`.
        shift: MarkShift,
        /// Options as written, for printing back.
        text: String,
    },
}

/// CONNMARK revision 2's `--left-shift-mark N` / `--right-shift-mark N`
/// (`shift_dir`, `shift_bits` of `xt_connmark_tginfo2`). The default, a left
/// shift by 0, changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct MarkShift {
    /// `D_SHIFT_RIGHT`.
    pub right: bool,
    /// 0–31 (this kernel refuses 32 at load, fixtures/kernel-refusals.json).
    pub bits: u8,
}

impl MarkShift {
    /// `v` shifted.
    pub fn apply(self, v: u32) -> u32 {
        let bits = u32::from(self.bits);
        if self.right {
            v.checked_shr(bits).unwrap_or(0)
        } else {
            v.checked_shl(bits).unwrap_or(0)
        }
    }

    /// ` --left-shift-mark N` as `connmark_tg_save_v2` prints it (nothing for 0).
    pub fn save_text(self) -> String {
        match (self.bits, self.right) {
            (0, _) => String::new(),
            (n, true) => format!(" --right-shift-mark {n}"),
            (n, false) => format!(" --left-shift-mark {n}"),
        }
    }
}

/// A NAT range as `--to-source`/`--to-destination` give it: `[ip[-ip]][:port[-port]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NatRange {
    /// Address range, when given (`NF_NAT_RANGE_MAP_IPS`).
    pub addrs: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Port range, when given (`NF_NAT_RANGE_PROTO_SPECIFIED`).
    pub ports: Option<PortRange>,
}

/// Flags shared by the NAT targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct NatFlags {
    /// `--random`
    pub random: bool,
    /// `--random-fully`
    pub random_fully: bool,
    /// `--persistent`
    pub persistent: bool,
}

/// `REJECT --reject-with` choices (`ipt_REJECT.c`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectWith {
    /// The name as written (`icmp-port-unreachable`, `tcp-reset`, …).
    pub name: String,
}

/// A TTL target operation (`ipt_ttl.c` in `xt_HL.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TtlTargetOp {
    /// `--ttl-set N`
    Set(u8),
    /// `--ttl-dec N`
    Dec(u8),
    /// `--ttl-inc N`
    Inc(u8),
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub enum Target {
    /// No `-j`/`-g`: the rule only counts (and logs under TRACE), then continues.
    #[default]
    None,
    /// `-j ACCEPT`: terminal.
    Accept,
    /// `-j DROP`: terminal.
    Drop,
    /// `-j RETURN`: pop the jump stack, or the policy in a built-in chain.
    Return,
    /// `-j QUEUE`: terminal (dropped without a listener).
    Queue,
    /// `-j CHAIN`: push and enter.
    Jump(Text),
    /// `-g CHAIN`: enter without pushing.
    Goto(Text),
    /// `-j REJECT [--reject-with …]`: sends an error, then drops. filter table only.
    Reject(RejectWith),
    /// `-j NFQUEUE`: terminal; with `--queue-bypass` and no listener the packet continues
    /// to the next table/hook as if accepted.
    Nfqueue {
        /// `--queue-bypass`
        bypass: bool,
        /// Options as written.
        args: Vec<String>,
    },
    /// `-j LOG`: non-terminal.
    Log(Vec<String>),
    /// `-j NFLOG`: non-terminal.
    Nflog(Vec<String>),
    /// `-j TRACE`: non-terminal; marks the packet for tracing. raw table only.
    Trace,
    /// `-j MARK`: non-terminal.
    Mark(MarkOp),
    /// `-j CONNMARK`: non-terminal (boxed: rare, and larger than the other targets).
    Connmark(Box<ConnmarkOp>),
    /// `-j SNAT --to-source …`: nat POSTROUTING/INPUT, terminal.
    Snat {
        /// Ranges (old iptables allowed several `--to-source`).
        ranges: Vec<NatRange>,
        /// Flags.
        flags: NatFlags,
    },
    /// `-j DNAT --to-destination …`: nat PREROUTING/OUTPUT, terminal.
    Dnat {
        /// Ranges.
        ranges: Vec<NatRange>,
        /// Flags.
        flags: NatFlags,
    },
    /// `-j MASQUERADE [--to-ports …]`: nat POSTROUTING, terminal.
    Masquerade {
        /// `--to-ports`
        ports: Option<PortRange>,
        /// Flags.
        flags: NatFlags,
    },
    /// `-j REDIRECT [--to-ports …]`: nat PREROUTING/OUTPUT, terminal.
    Redirect {
        /// `--to-ports`
        ports: Option<PortRange>,
        /// Flags.
        flags: NatFlags,
    },
    /// `-j NETMAP --to a.b.c.d/len`: maps the network part, keeps the host part. Terminal.
    Netmap {
        /// Target network.
        to: ipnet::Ipv4Net,
    },
    /// `-j NOTRACK` (= `CT --notrack`): raw table, non-terminal.
    Notrack,
    /// `-j CT …`: raw table, non-terminal; `notrack` for `--notrack`.
    Ct {
        /// `--notrack`
        notrack: bool,
        /// `--zone N`: the conntrack zone of both directions. The other zone
        /// forms (`--zone-orig`, `--zone-reply`, `--zone mark`) stay `None`
        /// and are reported as not modelled.
        zone: Option<u16>,
        /// Options as written.
        args: Vec<String>,
    },
    /// `-j TTL`: mangle, non-terminal.
    Ttl(TtlTargetOp),
    /// `-j TOS --set-tos v/m` (and and/or/xor spellings): mangle, non-terminal.
    Tos {
        /// `tos = (tos & !mask) ^ value`
        value: u8,
        /// Mask.
        mask: u8,
        /// Options as written.
        args: Vec<String>,
    },
    /// `-j DSCP --set-dscp v | --set-dscp-class c`: mangle, non-terminal.
    Dscp {
        /// The 6-bit DSCP value.
        value: u8,
        /// Options as written.
        args: Vec<String>,
    },
    /// Any other non-terminal extension target whose effect nftrace does not model
    /// beyond continuing (CHECKSUM, TCPMSS, CLASSIFY, SET, …), or an unknown one.
    Other {
        /// Target name as written.
        name: Box<str>,
        /// Options as written (unquoted words).
        args: Box<[String]>,
    },
}

impl Target {
    /// True for targets whose checkentry enables conntrack (`nf_ct_netns_get`).
    pub fn needs_conntrack(&self) -> bool {
        match self {
            Target::Connmark(_)
            | Target::Snat { .. }
            | Target::Dnat { .. }
            | Target::Masquerade { .. }
            | Target::Redirect { .. }
            | Target::Netmap { .. }
            | Target::Notrack
            | Target::Ct { .. } => true,
            Target::Other { name, .. } => {
                matches!(&**name, "CONNSECMARK" | "SYNPROXY" | "CLUSTERIP")
            }
            _ => false,
        }
    }
}
