//! One table at one hook: `ipt_do_table` (net/ipv4/netfilter/ip_tables.c).
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.2 and §3.1. The walk keeps
//! an explicit jump stack; `-g` does not push; RETURN with an empty stack lands
//! on the built-in chain's policy (the hook's "underflow" entry). Every fully
//! matched entry is reported as the kernel's TRACE would log it, before its
//! target runs.

use std::sync::Arc;

use super::event::{Evaluation, Event, RuleRef, Seen, TraceType, Verdict};
use super::matcher::{header_matches, rule_matches, MatchCtx};
use super::targets::TargetResult;
use super::walk::Walk;
use crate::model::ruleset::{Chain, IpHeaderMatch, Policy, Rule, Table, TableName};
use crate::model::target::Target;

/// How a table ended for this hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableResult {
    /// The table accepted (or had nothing for this hook): go on.
    Accept,
    /// A terminal verdict other than ACCEPT.
    Stop {
        /// The verdict.
        verdict: Verdict,
        /// The deciding entry.
        rule: RuleRef,
    },
}

/// A position in the table: chain index and rule index.
#[derive(Debug, Clone, Copy)]
struct Pos {
    chain: usize,
    rule: usize,
}

impl Walk<'_> {
    /// Runs `table`'s built-in chain for the current hook. A table the dump lacks,
    /// or one without a chain for this hook, accepts without a trace line.
    pub fn do_table(&mut self, table: TableName) -> TableResult {
        let host = self.host;
        let Some(t) = host.ruleset.table(table) else {
            return TableResult::Accept;
        };
        let Some(builtin) = t.chain_index(self.hook.chain_name()) else {
            return TableResult::Accept;
        };
        self.run_chains(t, builtin)
    }

    fn run_chains(&mut self, t: &Table, builtin: usize) -> TableResult {
        let mut stack: Vec<Pos> = Vec::new();
        let mut pos = Pos {
            chain: builtin,
            rule: 0,
        };
        loop {
            let chain = &t.chains[pos.chain];
            let rules = chain.walk_rules();
            // The fixed header (`ip_packet_match`) first: it rejects most rules of a
            // large chain, which are skipped here without building a reference
            // (or, in a long chain, parsing the rule).
            while let Some(header) = rules.header(pos.rule) {
                if self.header_matches(header) {
                    break;
                }
                self.record_evaluation(t.name, pos, false);
                pos.rule += 1;
            }
            let Some(rule) = rules.rule(pos.rule) else {
                match self.chain_tail(t, chain, pos.chain == builtin, &mut stack) {
                    Ok(next) => {
                        pos = next.unwrap_or(Pos {
                            chain: builtin,
                            rule: t.chains[builtin].rule_count(),
                        });
                        continue;
                    }
                    Err(result) => return result,
                }
            };
            let rule_ref = self.rule_ref(t.name, chain, pos.rule + 1, Some(rule.line));
            let hit = self.matches(rule, &rule_ref);
            self.record_evaluation(t.name, pos, hit);
            if !hit {
                pos.rule += 1;
                continue;
            }
            let builtin_chain = pos.chain == builtin;
            self.log_rule(
                &rule_ref,
                trace_type(rule, builtin_chain),
                Some(&rule.text),
                stack.len(),
            );
            match self.run_target(t.name, rule, &rule_ref) {
                TargetResult::Continue => pos.rule += 1,
                TargetResult::Verdict(Verdict::Accept) => return TableResult::Accept,
                TargetResult::Verdict(verdict) => {
                    return self.stop(t.name, verdict, rule_ref);
                }
                TargetResult::Return => match stack.pop() {
                    Some(caller) => {
                        pos = caller;
                        self.emit_return(t, pos.chain, stack.len());
                    }
                    None => {
                        pos = Pos {
                            chain: builtin,
                            rule: t.chains[builtin].rule_count(),
                        }
                    }
                },
                TargetResult::Jump { chain: name, goto } => {
                    let Some(target) = t.chain_index(&name) else {
                        // The parser rejects jumps to missing chains; the kernel would
                        // refuse to load such a table.
                        return self.stop(t.name, Verdict::Drop, rule_ref);
                    };
                    if !goto {
                        stack.push(Pos {
                            chain: pos.chain,
                            rule: pos.rule + 1,
                        });
                    }
                    self.emit(Event::Jump {
                        chain: name.to_string(),
                        goto,
                        depth: stack.len(),
                    });
                    pos = Pos {
                        chain: target,
                        rule: 0,
                    };
                }
            }
        }
    }

    /// The entry after a chain's last rule: the policy of a built-in chain, the
    /// implicit RETURN of a user chain. `Ok(Some(pos))` continues at the caller,
    /// `Ok(None)` at the built-in policy, `Err` ends the table.
    fn chain_tail(
        &mut self,
        t: &Table,
        chain: &Chain,
        is_hook_chain: bool,
        stack: &mut Vec<Pos>,
    ) -> Result<Option<Pos>, TableResult> {
        let rulenum = chain.rule_count() + 1;
        let rule_ref = self.rule_ref(t.name, chain, rulenum, None);
        match (is_hook_chain, chain.policy) {
            (true, policy) => {
                self.log_rule(&rule_ref, TraceType::Policy, None, 0);
                let verdict = match policy {
                    Some(Policy::Drop) => Verdict::Drop,
                    _ => Verdict::Accept,
                };
                Err(match verdict {
                    Verdict::Accept => TableResult::Accept,
                    v => self.stop(t.name, v, rule_ref),
                })
            }
            (false, _) => {
                self.log_rule(&rule_ref, TraceType::Return, None, stack.len());
                let caller = stack.pop();
                if let Some(c) = caller {
                    self.emit_return(t, c.chain, stack.len());
                }
                Ok(caller)
            }
        }
    }

    /// Keeps what the rule at `pos` saw, when the options ask for it.
    fn record_evaluation(&mut self, table: TableName, pos: Pos, matched: bool) {
        if !self.opts.record_evaluations {
            return;
        }
        let seen = self.seen();
        self.evaluations.push(Evaluation {
            hook: self.hook,
            table,
            chain: pos.chain,
            rule: pos.rule,
            matched,
            seen,
        });
    }

    /// What a rule sees now: the last evaluation's when nothing changed since.
    fn seen(&self) -> Arc<Seen> {
        let (ct_state, ct_mark) = (self.ct.name(), self.ct.conn().map(|c| c.mark));
        let last = self.evaluations.last().map(|e| &e.seen).filter(|s| {
            s.packet == self.pkt
                && s.in_dev == self.in_dev
                && s.out_dev == self.out_dev
                && s.ct_state == ct_state
                && s.ct_mark == ct_mark
        });
        match last {
            Some(s) => Arc::clone(s),
            None => Arc::new(Seen {
                packet: self.pkt.clone(),
                in_dev: self.in_dev.clone(),
                out_dev: self.out_dev.clone(),
                ct_state,
                ct_mark,
            }),
        }
    }

    fn emit_return(&mut self, t: &Table, chain: usize, depth: usize) {
        self.emit(Event::Return {
            to_chain: t.chains[chain].name.to_string(),
            depth,
        });
    }

    fn stop(&mut self, table: TableName, verdict: Verdict, rule: RuleRef) -> TableResult {
        self.emit(Event::TableVerdict {
            hook: self.hook,
            table,
            verdict: verdict.clone(),
            rule: rule.clone(),
        });
        TableResult::Stop { verdict, rule }
    }

    fn rule_ref(
        &self,
        table: TableName,
        chain: &Chain,
        rulenum: usize,
        line: Option<u32>,
    ) -> RuleRef {
        RuleRef {
            table,
            chain: chain.name.to_string(),
            rulenum: u32::try_from(rulenum).unwrap_or(u32::MAX),
            line,
        }
    }

    fn match_ctx(&self) -> MatchCtx<'_> {
        MatchCtx {
            packet: &self.pkt,
            hook: self.hook,
            in_dev: self.in_dev.as_deref(),
            out_dev: self.out_dev.as_deref(),
            ct: &self.ct,
            routing: &self.host.routing,
            assume: &self.opts.assume,
            local: self.local,
            ipvs: self.ipvs.as_ref(),
            ipsets: self.host.ipsets.as_deref(),
        }
    }

    /// The rule's fixed header alone (addresses, interfaces, protocol, fragment).
    fn header_matches(&self, header: &IpHeaderMatch) -> bool {
        header_matches(header, &self.match_ctx())
    }

    fn matches(&mut self, rule: &Rule, rule_ref: &RuleRef) -> bool {
        // The counters are moved out for the call so the context can borrow the walk.
        let mut state = std::mem::take(&mut self.match_state);
        let mut notes = Vec::new();
        let hit = rule_matches(rule, rule_ref, &self.match_ctx(), &mut state, &mut notes);
        self.match_state = state;
        self.events.extend(notes.into_iter().map(Event::Assumption));
        hit
    }

    /// Emits the event the kernel's `trace_packet` would log for this entry.
    fn log_rule(
        &mut self,
        rule: &RuleRef,
        trace_type: TraceType,
        text: Option<&str>,
        depth: usize,
    ) {
        self.emit(Event::Rule {
            hook: self.hook,
            rule: rule.clone(),
            trace_type,
            text: text.map(str::to_string),
            packet: self.pkt.clone(),
            in_dev: self.in_dev.clone(),
            out_dev: self.out_dev.clone(),
            depth,
            nf_trace: self.nf_trace,
        });
    }
}

/// `get_chainname_rulenum`: an unconditional rule with a standard verdict
/// (ACCEPT, DROP, QUEUE, RETURN) is logged as `policy` in the hook's built-in
/// chain and `return` in a user chain, like the chains' own tail entries.
fn trace_type(rule: &Rule, builtin_chain: bool) -> TraceType {
    let standard = matches!(
        rule.target,
        Target::Accept | Target::Drop | Target::Queue | Target::Return
    );
    if !(standard && rule.is_unconditional()) {
        TraceType::Rule
    } else if builtin_chain {
        TraceType::Policy
    } else {
        TraceType::Return
    }
}
