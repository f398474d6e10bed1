//! Targets: what a matched rule does to the packet, its connection and the walk.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.3 (terminal or not), §4
//! (MARK/CONNMARK arithmetic), §5 (NAT).

use super::event::{Event, RuleRef, Verdict};
use super::walk::Walk;
use crate::model::conntrack::CtState;
use crate::model::ruleset::{Rule, TableName};
use crate::model::target::{ConnmarkOp, MarkOp, Target, TtlTargetOp};

/// What the walk does after a target ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetResult {
    /// `XT_CONTINUE`: next rule.
    Continue,
    /// A verdict ending the table.
    Verdict(Verdict),
    /// `XT_RETURN`.
    Return,
    /// `-j CHAIN` / `-g CHAIN`.
    Jump {
        /// Chain name.
        chain: crate::model::text::Text,
        /// True for `-g`.
        goto: bool,
    },
}

impl Walk<'_> {
    /// Runs a matched rule's target.
    pub fn run_target(
        &mut self,
        table: TableName,
        rule: &Rule,
        rule_ref: &RuleRef,
    ) -> TargetResult {
        use TargetResult::{Continue, Jump};
        match &rule.target {
            Target::None | Target::Log(_) | Target::Nflog(_) => Continue,
            Target::Accept => TargetResult::Verdict(Verdict::Accept),
            Target::Drop => TargetResult::Verdict(Verdict::Drop),
            Target::Return => TargetResult::Return,
            Target::Queue => self.queue(false, rule_ref),
            Target::Nfqueue { bypass, .. } => self.queue(*bypass, rule_ref),
            Target::Jump(chain) => Jump {
                chain: chain.clone(),
                goto: false,
            },
            Target::Goto(chain) => Jump {
                chain: chain.clone(),
                goto: true,
            },
            Target::Reject(with) => self.reject(&with.name),
            Target::Trace => {
                self.nf_trace = true;
                Continue
            }
            Target::Mark(op) => self.set_mark(*op, rule_ref),
            Target::Connmark(op) => self.connmark(op, rule_ref),
            Target::Notrack | Target::Ct { notrack: true, .. } => self.notrack(),
            Target::Ct {
                notrack: false,
                zone,
                args,
            } => self.ct_template(*zone, args),
            Target::Ttl(op) => self.set_ttl(*op, rule_ref),
            Target::Tos { value, mask, .. } => {
                let new = (self.pkt.tos & !mask) ^ value;
                self.set_tos(new, rule_ref)
            }
            Target::Dscp { value, .. } => {
                let new = (self.pkt.tos & 0x03) | (value << 2);
                self.set_tos(new, rule_ref)
            }
            Target::Snat { .. }
            | Target::Dnat { .. }
            | Target::Masquerade { .. }
            | Target::Redirect { .. }
            | Target::Netmap { .. } => self.nat_target(table, &rule.target, rule_ref),
            Target::Other { name, args } => self.other_target(name, args),
        }
    }

    /// QUEUE/NFQUEUE: without a listener the kernel drops, unless `--queue-bypass`.
    fn queue(&mut self, bypass: bool, rule_ref: &RuleRef) -> TargetResult {
        if self.opts.assume.get("queue") == "listener" {
            self.assume_for(
                "queue",
                "a userspace program listens on the queue; its verdict is unknown",
                rule_ref,
            );
            return TargetResult::Verdict(Verdict::Queue);
        }
        let what = if bypass {
            "no queue listener: --queue-bypass lets the packet continue as if accepted"
        } else {
            "no queue listener: the kernel drops the packet"
        };
        self.assume_for("queue", what, rule_ref);
        TargetResult::Verdict(if bypass {
            Verdict::Accept
        } else {
            Verdict::Drop
        })
    }

    fn assume_for(&mut self, key: &str, text: &str, rule: &RuleRef) {
        self.emit(Event::Assumption(super::event::Assumption {
            key: key.to_string(),
            text: text.to_string(),
            rule: Some(rule.clone()),
        }));
    }

    /// `reject_tg` (ipt_REJECT.c): send the error, then NF_DROP.
    fn reject(&mut self, with: &str) -> TargetResult {
        let what = match with {
            "tcp-reset" => "TCP RST".to_string(),
            other => format!("ICMP {}", other.trim_start_matches("icmp-")),
        };
        self.emit(Event::Generated {
            what,
            to: self.pkt.src,
        });
        TargetResult::Verdict(Verdict::Reject {
            with: with.to_string(),
        })
    }

    /// `mark_tg`: `skb->mark = (skb->mark & ~mask) ^ value`.
    fn set_mark(&mut self, op: MarkOp, rule: &RuleRef) -> TargetResult {
        let old = self.pkt.mark;
        self.pkt.mark = op.apply(old);
        if self.pkt.mark != old {
            self.emit(Event::Mark {
                old,
                new: self.pkt.mark,
                rule: rule.clone(),
            });
        }
        TargetResult::Continue
    }

    /// `connmark_tg`: no-op without a connection.
    fn connmark(&mut self, op: &ConnmarkOp, rule: &RuleRef) -> TargetResult {
        let mark = self.pkt.mark;
        let Some(conn) = self.ct.conn_mut() else {
            return TargetResult::Continue;
        };
        let old_ct = conn.mark;
        // `connmark_tg_shift`: the shift applies to the whole new ct mark when
        // setting, but only to the part copied when saving or restoring
        // (fixtures/connmark-shift).
        match op {
            ConnmarkOp::Set { op, shift } => conn.mark = shift.apply(op.apply(old_ct)),
            ConnmarkOp::Save {
                nfmask,
                ctmask,
                shift,
                ..
            } => {
                conn.mark = (old_ct & !ctmask) ^ shift.apply(mark & nfmask);
            }
            ConnmarkOp::Restore {
                nfmask,
                ctmask,
                shift,
                ..
            } => {
                let new = (mark & !nfmask) ^ shift.apply(old_ct & ctmask);
                return self.set_mark(
                    MarkOp {
                        value: new,
                        mask: u32::MAX,
                        spelling: crate::model::target::MarkSpelling::SetXmark,
                    },
                    rule,
                );
            }
        }
        let new_ct = conn.mark;
        if new_ct != old_ct {
            self.emit(Event::Connmark {
                old: old_ct,
                new: new_ct,
                rule: rule.clone(),
            });
        }
        TargetResult::Continue
    }

    /// `CT` without `--notrack` attaches a conntrack template; nftrace models its
    /// zone. `xt_ct_target` leaves a packet that already has a conntrack, or a
    /// template, alone: the first CT rule wins (fixtures/ct-zone).
    fn ct_template(&mut self, zone: Option<u16>, args: &[String]) -> TargetResult {
        if !matches!(self.ct, CtState::Unset) || self.ct_template.is_some() {
            return TargetResult::Continue;
        }
        self.ct_template = Some(zone.unwrap_or(0));
        let unmodelled: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .filter(|a| a.starts_with("--") && !matches!(*a, "--zone" | "--notrack"))
            .collect();
        if zone.is_none() || !unmodelled.is_empty() {
            self.emit(Event::Note {
                text: format!(
                    "CT {} is modelled only for --zone N: the conntrack zone is taken as {}",
                    args.join(" "),
                    self.ct_zone()
                ),
            });
        }
        TargetResult::Continue
    }

    /// `NOTRACK` / `CT --notrack`: attach the untracked template, so conntrack and
    /// every nat chain skip the packet. A looped-back packet keeps its conntrack
    /// ("previously seen", `notrack_tg` in xt_CT.c) unless that was INVALID, which
    /// leaves `skb->_nfct` at 0 (fixtures/difftest-invalid-loopback-notrack).
    fn notrack(&mut self) -> TargetResult {
        // A CT template attached earlier is an `skb->_nfct` too (fixtures/ct-zone).
        if matches!(self.ct, CtState::Unset | CtState::Invalid) && self.ct_template.is_none() {
            self.ct = CtState::Untracked;
        }
        TargetResult::Continue
    }

    fn set_ttl(&mut self, op: TtlTargetOp, rule: &RuleRef) -> TargetResult {
        let old = self.pkt.ttl;
        self.pkt.ttl = match op {
            TtlTargetOp::Set(v) => v,
            TtlTargetOp::Dec(v) => old.saturating_sub(v),
            TtlTargetOp::Inc(v) => old.saturating_add(v),
        };
        self.emit(Event::Mangle {
            field: "ttl",
            old: old.into(),
            new: self.pkt.ttl.into(),
            rule: rule.clone(),
        });
        TargetResult::Continue
    }

    fn set_tos(&mut self, new: u8, rule: &RuleRef) -> TargetResult {
        let old = self.pkt.tos;
        self.pkt.tos = new;
        self.emit(Event::Mangle {
            field: "tos",
            old: old.into(),
            new: new.into(),
            rule: rule.clone(),
        });
        TargetResult::Continue
    }

    /// `tcpmss_mangle_packet` (xt_TCPMSS.c): a SYN whose TCP header has no MSS
    /// option and no data gets one inserted (4 bytes); the model carries no TCP
    /// options, so a header-only SYN (`LEN=40`) is taken as option-less.
    fn tcpmss(&mut self) {
        use crate::model::packet::{tcp_flag, Transport};
        if let Transport::Tcp { flags, .. } = self.pkt.transport {
            if flags & tcp_flag::SYN != 0 && self.pkt.len == 40 {
                self.pkt.len += 4;
                self.assume(
                    "tcp-options",
                    "TCPMSS: the SYN is taken to carry no MSS option, so the kernel inserts one (+4 bytes)".into(),
                );
            }
        }
    }

    /// Extension targets modelled only as "continue" (CHECKSUM, TCPMSS, CLASSIFY, …).
    /// Those that change what later rules or routing see (HMARK sets the mark from
    /// a hash, SET adds to an ipset, …) are reported as not modelled.
    fn other_target(&mut self, name: &str, args: &[String]) -> TargetResult {
        if name == "TCPMSS" {
            self.tcpmss();
        }
        const HARMLESS: &[&str] = &[
            "CHECKSUM",
            "TCPMSS",
            "CLASSIFY",
            "AUDIT",
            "CONNSECMARK",
            "SECMARK",
            "LED",
            "IDLETIMER",
            "TEE",
            "ULOG",
            "RATEEST",
            "TCPOPTSTRIP",
            "ECN",
            "DSCP",
        ];
        if !HARMLESS.contains(&name) {
            self.emit(Event::Note {
                text: format!(
                    "target {name} {} is not modelled; assumed to continue (XT_CONTINUE)",
                    args.join(" ")
                ),
            });
        }
        TargetResult::Continue
    }
}
