//! What the evaluator reports: a list of events, in the order the kernel
//! would do the work. Renderers turn them into text; the evaluator never formats.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::model::packet::Packet;
use crate::model::ruleset::TableName;

/// The five netfilter hooks (`NF_INET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Hook {
    /// `NF_INET_PRE_ROUTING`
    PreRouting,
    /// `NF_INET_LOCAL_IN`
    Input,
    /// `NF_INET_FORWARD`
    Forward,
    /// `NF_INET_LOCAL_OUT`
    Output,
    /// `NF_INET_POST_ROUTING`
    PostRouting,
}

impl Hook {
    /// The built-in chain name for this hook.
    pub fn chain_name(self) -> &'static str {
        match self {
            Hook::PreRouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::PostRouting => "POSTROUTING",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chain_name())
    }
}

/// The word in `TRACE: table:chain:TYPE:rulenum` (`comments[]` in ip_tables.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceType {
    /// An ordinary rule.
    Rule,
    /// An unconditional ACCEPT/DROP/QUEUE/RETURN, or the implicit end, of a user chain.
    Return,
    /// The same in a built-in chain, including the chain's policy entry.
    Policy,
}

impl TraceType {
    /// Spelling in the kernel log.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceType::Rule => "rule",
            TraceType::Return => "return",
            TraceType::Policy => "policy",
        }
    }
}

/// What the packet's fate is after a table, hook or the whole walk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Accepted: continues to the next table or hook.
    Accept,
    /// Dropped silently.
    Drop,
    /// Dropped after sending an error (REJECT); `with` names the reply.
    Reject {
        /// `--reject-with` name.
        with: String,
    },
    /// Handed to a userspace queue (`QUEUE`/`NFQUEUE` with a listener).
    Queue,
}

impl Verdict {
    /// The word users know (`ACCEPT`, `DROP`, `REJECT`, `QUEUE`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
            Verdict::Reject { .. } => "REJECT",
            Verdict::Queue => "QUEUE",
        }
    }
}

/// Where a rule lives: enough to name it as `table:chain:rulenum` and find it in the dump.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleRef {
    /// Table.
    pub table: TableName,
    /// Chain.
    pub chain: String,
    /// 1-based rule number; rules + 1 for the policy / implicit return.
    pub rulenum: u32,
    /// Line in the dump, when the entry is a written rule.
    pub line: Option<u32>,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.table, self.chain, self.rulenum)
    }
}

/// A NAT manipulation the kernel applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NatKind {
    /// Source rewritten (SNAT, MASQUERADE, NETMAP in POSTROUTING/INPUT).
    Snat,
    /// Destination rewritten (DNAT, REDIRECT, NETMAP in PREROUTING/OUTPUT).
    Dnat,
}

/// A stated guess about host state the dumps do not hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assumption {
    /// Short key, also the `--assume` key that overrides it when there is one.
    pub key: String,
    /// What was assumed and why.
    pub text: String,
    /// The rule that needed it, if any.
    pub rule: Option<RuleRef>,
}

/// A routing decision with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteEvent {
    /// `input`, `output`, or `reroute`.
    pub kind: &'static str,
    /// The decision in one line (e.g. `forward via 10.0.0.1 dev eth1`).
    pub decision: String,
    /// The policy rule that produced it (`ip rule` line), if any.
    pub rule: Option<String>,
    /// The route that produced it (`ip route` line), if any.
    pub route: Option<String>,
    /// Policy rules considered on the way, one line each.
    pub steps: Vec<String>,
    /// Output device when the packet leaves or is delivered.
    pub oif: Option<String>,
}

/// One step of the walk.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A hook starts; `tables` lists the tables that will run at it.
    Hook {
        /// Hook.
        hook: Hook,
        /// Input device as the hook sees it.
        in_dev: Option<String>,
        /// Output device as the hook sees it.
        out_dev: Option<String>,
    },
    /// A rule fully matched (what the kernel logs under TRACE).
    Rule {
        /// Hook.
        hook: Hook,
        /// The rule.
        rule: RuleRef,
        /// `rule`, `return` or `policy`.
        trace_type: TraceType,
        /// The rule's text from the dump; `None` for a policy or implicit return.
        text: Option<String>,
        /// The packet before the rule's target ran.
        packet: Packet,
        /// Input device at this hook.
        in_dev: Option<String>,
        /// Output device at this hook.
        out_dev: Option<String>,
        /// Jump depth (0 in the built-in chain).
        depth: usize,
        /// Whether `skb->nf_trace` was set, i.e. the kernel would log this line.
        nf_trace: bool,
    },
    /// `-j CHAIN` or `-g CHAIN`.
    Jump {
        /// Chain entered.
        chain: String,
        /// True for `-g`.
        goto: bool,
        /// Depth after the jump.
        depth: usize,
    },
    /// Back from a user chain to its caller (or to the policy when nothing to return to).
    Return {
        /// Chain returned to.
        to_chain: String,
        /// Depth after the return.
        depth: usize,
    },
    /// The packet's mark changed.
    Mark {
        /// Before.
        old: u32,
        /// After.
        new: u32,
        /// By this rule.
        rule: RuleRef,
    },
    /// A header field other than addresses changed (TTL, TOS).
    Mangle {
        /// Field name (`ttl`, `tos`).
        field: &'static str,
        /// Before.
        old: u32,
        /// After.
        new: u32,
        /// By this rule.
        rule: RuleRef,
    },
    /// The connection's mark changed (CONNMARK).
    Connmark {
        /// Before.
        old: u32,
        /// After.
        new: u32,
        /// By this rule.
        rule: RuleRef,
    },
    /// The conntrack state decided for the packet.
    Conntrack {
        /// State name as `-m conntrack` spells it (NEW, INVALID, UNTRACKED, …).
        state: String,
        /// Why.
        reason: String,
    },
    /// An address/port translation.
    Nat {
        /// Source or destination.
        kind: NatKind,
        /// Target that set it up (`DNAT`, `MASQUERADE`, …), or `null binding`.
        target: String,
        /// Address before.
        old_addr: Ipv4Addr,
        /// Port before.
        old_port: Option<u16>,
        /// Address after.
        new_addr: Ipv4Addr,
        /// Port after.
        new_port: Option<u16>,
        /// The rule, if a rule did it.
        rule: Option<RuleRef>,
        /// How the new address/port was chosen.
        reason: String,
    },
    /// A routing decision.
    Route(RouteEvent),
    /// A table finished with a verdict other than "continue".
    TableVerdict {
        /// Hook.
        hook: Hook,
        /// Table.
        table: TableName,
        /// The verdict.
        verdict: Verdict,
        /// The deciding rule.
        rule: RuleRef,
    },
    /// The kernel generates a packet in response (REJECT, ICMP errors).
    Generated {
        /// What is sent (e.g. `ICMP port unreachable`, `TCP RST`).
        what: String,
        /// To whom.
        to: Ipv4Addr,
    },
    /// An IPVS step (the kernel logs no TRACE line for IPVS): service lookup,
    /// scheduling with its candidates, the transmit rewrite, or a reply rewrite.
    Ipvs {
        /// Hook where IPVS acted.
        hook: Hook,
        /// One-line summary (`service TCP 10.96.0.1:443 rr → 10.0.0.5:6443 masq`).
        summary: String,
        /// Detail lines: candidates, reason, rewrite.
        detail: Vec<String>,
    },
    /// A note about something nftrace met but does not model (kept, not hidden).
    Note {
        /// The text.
        text: String,
    },
    /// An assumption was made.
    Assumption(Assumption),
}

/// Where the walk ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Disposition {
    /// Delivered to a local socket.
    Delivered,
    /// Sent out of an interface.
    Sent {
        /// Output device.
        oif: String,
        /// Next hop (gateway), or the destination when directly connected.
        next_hop: Ipv4Addr,
    },
    /// Dropped or rejected.
    Dropped {
        /// Why, in one line.
        reason: String,
        /// The deciding rule, if a rule decided.
        rule: Option<RuleRef>,
    },
    /// Given to a userspace queue.
    Queued {
        /// The deciding rule.
        rule: RuleRef,
    },
}

/// The full result of one trace.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trace {
    /// The packet as given.
    pub initial: Packet,
    /// The packet at the end (after NAT, TTL, marks).
    pub final_packet: Packet,
    /// Ingress interface, `None` for locally generated packets.
    pub iif: Option<String>,
    /// The final verdict.
    pub verdict: Verdict,
    /// Where the packet ended up.
    pub disposition: Disposition,
    /// Every step.
    pub events: Vec<Event>,
    /// Every assumption made (also present as events, in place).
    pub assumptions: Vec<Assumption>,
    /// The packet's connection at the end, when it was tracked and confirmed
    /// (what `conntrack -L` would now list).
    pub connection: Option<crate::model::conntrack::Connection>,
    /// The IPVS connection the packet created, when IPVS scheduled it.
    #[serde(skip)]
    pub ipvs_conn: Option<crate::model::ipvs::IpvsConn>,
    /// Every rule the walk evaluated, matched or not, when
    /// [`TraceOptions::record_evaluations`](super::walk::TraceOptions) asked for them.
    #[serde(skip)]
    pub evaluations: Vec<Evaluation>,
}

/// One rule evaluated against the packet as it was at that point: what
/// `--explain` and `search` reason about.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Hook being traversed.
    pub hook: Hook,
    /// Table of the rule.
    pub table: TableName,
    /// Index of the chain in the table.
    pub chain: usize,
    /// Index of the rule in the chain (rule number − 1).
    pub rule: usize,
    /// True when every match of the rule held.
    pub matched: bool,
    /// What the rule saw, shared with the evaluations before it that saw the
    /// same (most of a chain's rules see one packet).
    pub seen: Arc<Seen>,
}

/// The packet, devices and conntrack a rule was evaluated against.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The packet the rule saw.
    pub packet: Packet,
    /// Input device the hook saw.
    pub in_dev: Option<String>,
    /// Output device the hook saw.
    pub out_dev: Option<String>,
    /// Conntrack state name (`NEW`, `ESTABLISHED`, …) the rule saw.
    pub ct_state: &'static str,
    /// Mark of the packet's connection, when it has one.
    pub ct_mark: Option<u32>,
}

impl Trace {
    /// The output interface at the end, if the packet was sent.
    pub fn oif(&self) -> Option<&str> {
        match &self.disposition {
            Disposition::Sent { oif, .. } => Some(oif),
            _ => None,
        }
    }
}
