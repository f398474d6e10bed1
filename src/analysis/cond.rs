//! A rule as a list of conditions on packet fields: what `--explain`, `search`
//! and `lint` reason about.
//!
//! Each header option and each `-m` option the evaluator decides from the packet
//! alone becomes one [`Cond`] over one [`Field`]: a set of wanted values, maybe
//! inverted. What depends on more than one field or on state the packet does not
//! carry (`addrtype`, `multiport --ports`, `string`, `recent`, …) is
//! [`Want::Opaque`]: only the tracer decides it.

use std::fmt;

use crate::model::matches::{CtCondition, CtStateSet, MatchKind, MultiportDir, PortRange, TtlOp};
use crate::model::packet::Transport;
use crate::model::ruleset::{AddrMask, IfaceMatch, Neg, Rule};
use crate::trace::event::Evaluation;

/// A packet field a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Source address (`-s`, `--src-range`).
    Src,
    /// Destination address (`-d`, `--dst-range`).
    Dst,
    /// IP protocol number (`-p`).
    Proto,
    /// TCP/UDP source port.
    Sport,
    /// TCP/UDP destination port.
    Dport,
    /// ICMP `type << 8 | code`.
    Icmp,
    /// Input device (`-i`).
    InIface,
    /// Output device (`-o`).
    OutIface,
    /// Packet mark (`-m mark`).
    Mark,
    /// Connection mark (`-m connmark`).
    Connmark,
    /// Conntrack state (`--state`, `--ctstate`).
    CtState,
    /// TTL (`-m ttl`).
    Ttl,
    /// Total length (`-m length`).
    Len,
    /// TOS byte (`-m tos`, `-m dscp`).
    Tos,
    /// TCP flags (`--tcp-flags`).
    TcpFlags,
    /// Anything else: decided by the tracer only.
    Other,
}

impl Field {
    /// The word the explanations use.
    pub fn name(self) -> &'static str {
        match self {
            Field::Src => "src",
            Field::Dst => "dst",
            Field::Proto => "proto",
            Field::Sport => "sport",
            Field::Dport => "dport",
            Field::Icmp => "icmp type",
            Field::InIface => "in interface",
            Field::OutIface => "out interface",
            Field::Mark => "mark",
            Field::Connmark => "connmark",
            Field::CtState => "ctstate",
            Field::Ttl => "ttl",
            Field::Len => "length",
            Field::Tos => "tos",
            Field::TcpFlags => "tcp flags",
            Field::Other => "other",
        }
    }
}

/// The values a condition wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Inclusive ranges, sorted and disjoint.
    Ranges(Vec<(u32, u32)>),
    /// `(value & mask) == bits`.
    Masked {
        /// Expected bits.
        bits: u32,
        /// Mask.
        mask: u32,
    },
    /// An interface name; a trailing `+` is a prefix.
    Iface(String),
    /// Conntrack state names (`NEW`, `ESTABLISHED`, `RELATED`, `INVALID`, `UNTRACKED`).
    States(Vec<&'static str>),
    /// Decided by the tracer only.
    Opaque,
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// Field looked at.
    pub field: Field,
    /// Values wanted.
    pub want: Want,
    /// `!`: the field must not be among the wanted values.
    pub invert: bool,
    /// The condition as iptables-save spells it (`-d 10.0.0.0/8`, `--dport 22`).
    pub text: String,
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a rule saw of the packet: the fields conditions are decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Values of numeric fields; `None` when the packet has no such field
    /// (ports of an ICMP packet).
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Protocol number.
    pub proto: u8,
    /// Ports (TCP/UDP).
    pub ports: Option<(u16, u16)>,
    /// ICMP `type << 8 | code`.
    pub icmp: Option<u16>,
    /// TCP flags.
    pub tcp_flags: Option<u8>,
    /// Input device, empty when none.
    pub in_dev: String,
    /// Output device, empty when none.
    pub out_dev: String,
    /// Packet mark.
    pub mark: u32,
    /// Connection mark.
    pub connmark: Option<u32>,
    /// Conntrack state name.
    pub ct_state: &'static str,
    /// TTL.
    pub ttl: u8,
    /// Total length.
    pub len: u16,
    /// TOS byte.
    pub tos: u8,
}

impl View {
    /// What the rule of `e` saw.
    pub fn of(e: &Evaluation) -> View {
        let e = &*e.seen;
        let p = &e.packet;
        let (icmp, tcp_flags) = match p.transport {
            Transport::Icmp {
                icmp_type, code, ..
            } => (Some(u16::from(icmp_type) << 8 | u16::from(code)), None),
            Transport::Tcp { flags, .. } => (None, Some(flags)),
            _ => (None, None),
        };
        View {
            src: p.src.into(),
            dst: p.dst.into(),
            proto: p.proto(),
            ports: p.transport.ports(),
            icmp,
            tcp_flags,
            in_dev: e.in_dev.clone().unwrap_or_default(),
            out_dev: e.out_dev.clone().unwrap_or_default(),
            mark: p.mark,
            connmark: e.ct_mark,
            ct_state: e.ct_state,
            ttl: p.ttl,
            len: p.len,
            tos: p.tos,
        }
    }

    /// The numeric value of `field`, when the packet has one.
    pub fn number(&self, field: Field) -> Option<u32> {
        Some(match field {
            Field::Src => self.src,
            Field::Dst => self.dst,
            Field::Proto => self.proto.into(),
            Field::Sport => self.ports?.0.into(),
            Field::Dport => self.ports?.1.into(),
            Field::Icmp => self.icmp?.into(),
            Field::Mark => self.mark,
            Field::Connmark => self.connmark?,
            Field::Ttl => self.ttl.into(),
            Field::Len => self.len.into(),
            Field::Tos => self.tos.into(),
            Field::TcpFlags => self.tcp_flags?.into(),
            _ => return None,
        })
    }

    /// The value of `field` as the explanations print it.
    pub fn show(&self, field: Field) -> String {
        match field {
            Field::InIface => dev_or_none(&self.in_dev),
            Field::OutIface => dev_or_none(&self.out_dev),
            Field::CtState => self.ct_state.to_string(),
            f => match self.number(f) {
                Some(v) => show_value(f, v),
                None => "none".to_string(),
            },
        }
    }
}

fn dev_or_none(dev: &str) -> String {
    if dev.is_empty() {
        "none".into()
    } else {
        dev.into()
    }
}

/// A value of `field` as the explanations print it.
pub fn show_value(field: Field, v: u32) -> String {
    match field {
        Field::Src | Field::Dst => std::net::Ipv4Addr::from(v).to_string(),
        Field::Mark | Field::Connmark | Field::Tos | Field::TcpFlags => format!("{v:#x}"),
        Field::Icmp => format!("{}/{}", v >> 8, v & 0xff),
        Field::Proto => proto_name(v as u8),
        _ => v.to_string(),
    }
}

fn proto_name(n: u8) -> String {
    match n {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

impl Cond {
    /// Whether the condition holds for `view`; `None` when only the tracer knows.
    pub fn holds(&self, view: &View) -> Option<bool> {
        let inner = match (&self.want, self.field) {
            (Want::Opaque, _) => return None,
            (Want::Iface(name), Field::InIface) => IfaceMatch::name_matches(name, &view.in_dev),
            (Want::Iface(name), _) => IfaceMatch::name_matches(name, &view.out_dev),
            (Want::States(s), _) => s.contains(&view.ct_state),
            (want, field) => match view.number(field) {
                // A port or ICMP condition on a packet without that header never matches.
                None => return Some(false),
                Some(v) => want.contains(v),
            },
        };
        Some(inner ^ self.invert)
    }

    /// The value closest to `current` that satisfies the condition, when one exists.
    pub fn nearest(&self, current: u32) -> Option<u32> {
        match (&self.want, self.invert) {
            (Want::Ranges(r), false) => nearest_in(r, current),
            (Want::Ranges(r), true) => nearest_in(&complement(r, field_max(self.field)), current),
            (Want::Masked { bits, mask }, false) => Some((current & !mask) | bits),
            (Want::Masked { bits, mask }, true) if *mask != 0 => {
                let low = mask & mask.wrapping_neg();
                Some((current & !mask) | (bits ^ low))
            }
            _ => None,
        }
    }

    /// What the condition wants, in words ("dport 300:65535", "in interface eth0").
    pub fn wants(&self) -> String {
        let not = if self.invert { "not " } else { "" };
        let what = match &self.want {
            Want::Ranges(r) => r
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        show_value(self.field, a)
                    } else {
                        format!(
                            "{}{}{}",
                            show_value(self.field, a),
                            range_sep(self.field),
                            show_value(self.field, b)
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
            Want::Masked { bits, mask } => format!("{bits:#x}/{mask:#x}"),
            Want::Iface(name) => name.clone(),
            Want::States(s) => s.join(","),
            Want::Opaque => return format!("`{}`", self.text),
        };
        format!("{} {not}{what}", self.field.name())
    }
}

fn range_sep(field: Field) -> &'static str {
    match field {
        Field::Src | Field::Dst => "-",
        _ => ":",
    }
}

impl Want {
    /// True when `v` is among the wanted values (`Iface`, `States`, `Opaque`: false).
    pub fn contains(&self, v: u32) -> bool {
        match self {
            Want::Ranges(r) => r.iter().any(|&(a, b)| (a..=b).contains(&v)),
            Want::Masked { bits, mask } => v & mask == *bits,
            _ => false,
        }
    }
}

/// The largest value of a numeric field.
pub fn field_max(field: Field) -> u32 {
    match field {
        Field::Proto | Field::Ttl | Field::Tos | Field::TcpFlags => 0xff,
        Field::Sport | Field::Dport | Field::Icmp | Field::Len => 0xffff,
        _ => u32::MAX,
    }
}

/// The values of `0..=max` outside the sorted ranges `r`.
pub fn complement(r: &[(u32, u32)], max: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = Some(0u32);
    for &(a, b) in r {
        if let Some(n) = next {
            if a > n {
                out.push((n, a - 1));
            }
        }
        next = b.checked_add(1);
    }
    if let Some(n) = next.filter(|&n| n <= max) {
        out.push((n, max));
    }
    out
}

fn nearest_in(r: &[(u32, u32)], v: u32) -> Option<u32> {
    r.iter()
        .map(|&(a, b)| v.clamp(a, b))
        .min_by_key(|&c| c.abs_diff(v))
}

/// Sorts and merges ranges.
pub fn normalize(mut r: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    r.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The conditions of `rule`, header first, in the order iptables-save prints them.
pub fn rule_conds(rule: &Rule) -> Vec<Cond> {
    let mut out = Vec::new();
    let ip = &rule.ip;
    if let Some(n) = &ip.src {
        out.push(addr_cond(Field::Src, "-s", n));
    }
    if let Some(n) = &ip.dst {
        out.push(addr_cond(Field::Dst, "-d", n));
    }
    for (field, flag, n) in [
        (Field::InIface, "-i", &ip.in_iface),
        (Field::OutIface, "-o", &ip.out_iface),
    ] {
        if let Some(n) = n {
            out.push(Cond {
                field,
                want: Want::Iface(n.value.name().to_string()),
                invert: n.invert,
                text: format!("{}{flag} {}", bang(n.invert), n.value.name()),
            });
        }
    }
    if let Some(n) = ip.proto.as_ref().filter(|p| p.value.number != 0) {
        let v = u32::from(n.value.number);
        out.push(Cond {
            field: Field::Proto,
            want: Want::Ranges(vec![(v, v)]),
            invert: n.invert,
            text: format!("{}-p {}", bang(n.invert), n.value.spelling()),
        });
    }
    if let Some(invert) = ip.fragment {
        out.push(opaque(format!("{}-f", bang(invert))));
    }
    for m in &rule.matches {
        match_conds(&m.kind, &m.module, &mut out);
    }
    out
}

fn bang(invert: bool) -> &'static str {
    if invert {
        "! "
    } else {
        ""
    }
}

fn opaque(text: String) -> Cond {
    Cond {
        field: Field::Other,
        want: Want::Opaque,
        invert: false,
        text,
    }
}

fn addr_cond(field: Field, flag: &str, n: &Neg<AddrMask>) -> Cond {
    let addr = u32::from(n.value.addr) & n.value.mask;
    let want = match n.value.prefix_len() {
        Some(len) => {
            let host = if len == 0 { u32::MAX } else { !n.value.mask };
            Want::Ranges(vec![(addr, addr | host)])
        }
        None => Want::Masked {
            bits: addr,
            mask: n.value.mask,
        },
    };
    Cond {
        field,
        want,
        invert: n.invert,
        text: format!("{}{flag} {}", bang(n.invert), n.value),
    }
}

fn port_cond(field: Field, flag: &str, n: &Neg<PortRange>) -> Cond {
    let r = n.value;
    Cond {
        field,
        want: Want::Ranges(vec![(r.min.into(), r.max.into())]),
        invert: n.invert,
        text: format!("{}{flag} {}", bang(n.invert), port_text(r)),
    }
}

fn port_text(r: PortRange) -> String {
    if r.min == r.max {
        r.min.to_string()
    } else {
        format!("{}:{}", r.min, r.max)
    }
}

fn ranges(field: Field, invert: bool, r: Vec<(u32, u32)>, text: String) -> Cond {
    Cond {
        field,
        want: Want::Ranges(normalize(r)),
        invert,
        text,
    }
}

fn match_conds(kind: &MatchKind, module: &str, out: &mut Vec<Cond>) {
    match kind {
        MatchKind::Tcp(t) => {
            out.extend(
                t.sport
                    .as_ref()
                    .map(|n| port_cond(Field::Sport, "--sport", n)),
            );
            out.extend(
                t.dport
                    .as_ref()
                    .map(|n| port_cond(Field::Dport, "--dport", n)),
            );
            if let Some(f) = &t.flags {
                out.push(Cond {
                    field: Field::TcpFlags,
                    want: Want::Masked {
                        bits: f.value.1.into(),
                        mask: f.value.0.into(),
                    },
                    invert: f.invert,
                    text: format!(
                        "{}--tcp-flags {:#x}/{:#x}",
                        bang(f.invert),
                        f.value.1,
                        f.value.0
                    ),
                });
            }
            if let Some(o) = &t.option {
                out.push(opaque(format!(
                    "{}--tcp-option {}",
                    bang(o.invert),
                    o.value
                )));
            }
        }
        MatchKind::Udp(u) => {
            out.extend(
                u.sport
                    .as_ref()
                    .map(|n| port_cond(Field::Sport, "--sport", n)),
            );
            out.extend(
                u.dport
                    .as_ref()
                    .map(|n| port_cond(Field::Dport, "--dport", n)),
            );
        }
        MatchKind::Icmp(i) => {
            let (lo, hi) = match i.icmp_type {
                None => (0, 0xffff),
                Some(t) => (
                    u32::from(t) << 8 | u32::from(i.code_min),
                    u32::from(t) << 8 | u32::from(i.code_max),
                ),
            };
            let spelled = match i.icmp_type {
                None => "any".to_string(),
                Some(t) if i.code_min == 0 && i.code_max == 255 => t.to_string(),
                Some(t) => format!("{t}/{}", i.code_min),
            };
            out.push(ranges(
                Field::Icmp,
                i.invert,
                vec![(lo, hi)],
                format!("{}--icmp-type {spelled}", bang(i.invert)),
            ));
        }
        MatchKind::Multiport(mp) => out.push(multiport_cond(mp)),
        MatchKind::Iprange(r) => {
            for (field, flag, n) in [
                (Field::Src, "--src-range", &r.src),
                (Field::Dst, "--dst-range", &r.dst),
            ] {
                if let Some(n) = n {
                    let (a, b) = n.value;
                    out.push(ranges(
                        field,
                        n.invert,
                        vec![(a.into(), b.into())],
                        format!("{}{flag} {a}-{b}", bang(n.invert)),
                    ));
                }
            }
        }
        MatchKind::Mark(m) | MatchKind::Connmark(m) => {
            let field = if matches!(kind, MatchKind::Mark(_)) {
                Field::Mark
            } else {
                Field::Connmark
            };
            out.push(Cond {
                field,
                want: Want::Masked {
                    bits: m.value,
                    mask: m.mask,
                },
                invert: m.invert,
                text: format!("{}--mark {:#x}/{:#x}", bang(m.invert), m.value, m.mask),
            });
        }
        MatchKind::State(s) => out.push(state_cond(&s.value, s.invert, "--state")),
        MatchKind::Conntrack(conds) => {
            for c in conds {
                match &c.value {
                    CtCondition::State(s) => out.push(state_cond(s, c.invert, "--ctstate")),
                    other => out.push(opaque(format!("-m conntrack {other:?}"))),
                }
            }
        }
        MatchKind::Comment(_) => {}
        MatchKind::Length(l) => out.push(ranges(
            Field::Len,
            l.invert,
            vec![(l.value.min.into(), l.value.max.into())],
            format!("{}--length {}", bang(l.invert), port_text(l.value)),
        )),
        MatchKind::Ttl(t) => {
            let v = u32::from(t.value.1);
            let (r, op) = match t.value.0 {
                TtlOp::Eq => ((v, v), "eq"),
                TtlOp::Lt => ((0, v.saturating_sub(1)), "lt"),
                TtlOp::Gt => ((v + 1, 255), "gt"),
            };
            let r = if r.0 > r.1 { vec![] } else { vec![r] };
            out.push(ranges(
                Field::Ttl,
                t.invert,
                r,
                format!("{}--ttl-{op} {v}", bang(t.invert)),
            ));
        }
        MatchKind::Tos(t) => out.push(Cond {
            field: Field::Tos,
            want: Want::Masked {
                bits: t.value.0.into(),
                mask: t.value.1.into(),
            },
            invert: t.invert,
            text: format!("{}--tos {:#x}/{:#x}", bang(t.invert), t.value.0, t.value.1),
        }),
        MatchKind::Dscp(d) => out.push(Cond {
            field: Field::Tos,
            want: Want::Masked {
                bits: u32::from(d.value) << 2,
                mask: 0xfc,
            },
            invert: d.invert,
            text: format!("{}--dscp {:#x}", bang(d.invert), d.value),
        }),
        _ => out.push(opaque(format!("-m {module}"))),
    }
}

fn multiport_cond(mp: &crate::model::matches::MultiportMatch) -> Cond {
    let field = match mp.dir {
        MultiportDir::Source => Field::Sport,
        MultiportDir::Destination => Field::Dport,
        MultiportDir::Either => Field::Other,
    };
    let list = mp
        .ports
        .iter()
        .map(|r| port_text(*r))
        .collect::<Vec<_>>()
        .join(",");
    let flag = match mp.dir {
        MultiportDir::Source => "--sports",
        MultiportDir::Destination => "--dports",
        MultiportDir::Either => "--ports",
    };
    let text = format!("{}{flag} {list}", bang(mp.invert));
    if field == Field::Other {
        return opaque(text);
    }
    let r = mp
        .ports
        .iter()
        .map(|p| (u32::from(p.min), u32::from(p.max)))
        .collect();
    ranges(field, mp.invert, r, text)
}

fn state_cond(s: &CtStateSet, invert: bool, flag: &str) -> Cond {
    if s.snat || s.dnat {
        return opaque(format!("{}{flag} {}", bang(invert), s.names.join(",")));
    }
    let states = [
        (s.new, "NEW"),
        (s.established, "ESTABLISHED"),
        (s.related, "RELATED"),
        (s.invalid, "INVALID"),
        (s.untracked, "UNTRACKED"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect::<Vec<_>>();
    Cond {
        field: Field::CtState,
        text: format!("{}{flag} {}", bang(invert), states.join(",")),
        want: Want::States(states),
        invert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_and_nearest() {
        assert_eq!(complement(&[(300, 65535)], 0xffff), vec![(0, 299)]);
        assert_eq!(complement(&[(0, 5), (10, 20)], 30), vec![(6, 9), (21, 30)]);
        assert_eq!(nearest_in(&[(300, 65535)], 22), Some(300));
        assert_eq!(nearest_in(&[(1, 5), (100, 200)], 80), Some(100));
    }

    #[test]
    fn masked_nearest_sets_or_flips_bits() {
        let c = Cond {
            field: Field::Mark,
            want: Want::Masked {
                bits: 0x4000,
                mask: 0x4000,
            },
            invert: false,
            text: String::new(),
        };
        assert_eq!(c.nearest(0), Some(0x4000));
        let inv = Cond { invert: true, ..c };
        assert_eq!(inv.nearest(0x4000), Some(0));
    }
}
