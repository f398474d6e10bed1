//! What a real `iptables-restore` refuses beyond the grammar, checked when a
//! table is committed: the per-rule checks of iptables itself and the checks the
//! kernel runs while loading the table (`translate_table` → `find_check_entry`
//! → `xt_check_match`/`xt_check_target` in net/netfilter/x_tables.c).
//!
//! Each claim is recorded against a real kernel by `recorder/refusals.py`
//! (fixtures/kernel-refusals.json, replayed by tests/it/refusals.rs). Errors
//! point at the offending rule, not at `COMMIT` as iptables-restore does.

use super::lex;
use super::{subslice_offset, ParseError};
use crate::model::matches::{Match, MatchKind};
use crate::model::ruleset::{hook_bit, hook_names, Rule, TableName};
use crate::model::target::Target;

const PRE: u8 = 1 << 0;
const IN: u8 = 1 << 1;
const FWD: u8 = 1 << 2;
const OUT: u8 = 1 << 3;
const POST: u8 = 1 << 4;
const ALL: u8 = PRE | IN | FWD | OUT | POST;

/// A target's registration (`struct xt_target`): the table it is limited to
/// (`.table`) and the hooks it may be reached from (`.hooks`).
struct Limits {
    table: Option<TableName>,
    hooks: u8,
}

/// `.table`/`.hooks` of the targets that have them (net/netfilter/xt_*.c,
/// net/ipv4/netfilter/ipt_*.c); every other target may run anywhere.
fn target_limits(name: &str) -> Option<Limits> {
    let (table, hooks) = match name {
        "DNAT" | "REDIRECT" => (Some(TableName::Nat), PRE | OUT),
        "SNAT" => (Some(TableName::Nat), POST | IN),
        "MASQUERADE" => (Some(TableName::Nat), POST),
        "NETMAP" => (Some(TableName::Nat), PRE | POST | OUT | IN),
        "REJECT" => (Some(TableName::Filter), IN | FWD | OUT),
        "TTL" | "TOS" | "DSCP" | "ECN" | "CHECKSUM" => (Some(TableName::Mangle), ALL),
        "TPROXY" => (Some(TableName::Mangle), PRE),
        "NOTRACK" | "CT" | "TRACE" => (Some(TableName::Raw), ALL),
        "CLASSIFY" | "TCPMSS" => (None, OUT | FWD | POST),
        _ => return None,
    };
    Some(Limits { table, hooks })
}

/// The kernel's name of a rule's target (`None` for no target, jumps and verdicts).
fn target_name(target: &Target) -> Option<&str> {
    Some(match target {
        Target::Reject(_) => "REJECT",
        Target::Trace => "TRACE",
        Target::Snat { .. } => "SNAT",
        Target::Dnat { .. } => "DNAT",
        Target::Masquerade { .. } => "MASQUERADE",
        Target::Redirect { .. } => "REDIRECT",
        Target::Netmap { .. } => "NETMAP",
        Target::Notrack => "NOTRACK",
        Target::Ct { .. } => "CT",
        Target::Ttl(_) => "TTL",
        Target::Tos { .. } => "TOS",
        Target::Dscp { .. } => "DSCP",
        Target::Other { name, .. } => name,
        _ => return None,
    })
}

/// One rule under check. Its line is found and split into words only when an
/// error is built, so a clean dump is not tokenized twice.
struct At<'a> {
    file: &'a str,
    source: &'a str,
    table: TableName,
    /// The rule's chain, and whether it is a built-in chain.
    chain: &'a str,
    builtin: bool,
    /// Hooks the chain is reached from (0 while the table is still being read).
    mask: u8,
    rule: &'a Rule,
}

impl At<'_> {
    /// An error at the word `pick` chooses among the line's words, else at the
    /// start of the rule.
    fn err_at(
        &self,
        pick: impl Fn(&[lex::Word<'_>]) -> Option<usize>,
        expected: String,
    ) -> ParseError {
        let line = line_of(self.source, self.rule);
        let words = lex::split_words(line).unwrap_or_default();
        let (offset, found) = match pick(&words).and_then(|i| words.get(i)) {
            Some(w) => (w.start, w.as_str()),
            None => (0, line.trim_start()),
        };
        ParseError::at(
            self.file,
            self.rule.line as usize,
            line,
            offset,
            found,
            expected,
        )
    }

    /// An error at the word after the last of `options` (or the option itself
    /// when `value` is false).
    fn err(&self, options: &[&str], value: bool, expected: String) -> ParseError {
        let pick = |words: &[lex::Word<'_>]| {
            let i = words
                .iter()
                .rposition(|w| options.iter().any(|o| w.is(o)))?;
            Some(if value { i + 1 } else { i })
        };
        self.err_at(pick, expected)
    }

    /// An error at the module name of `-m MODULE`.
    fn err_module(&self, module: &str, expected: String) -> ParseError {
        let pick = |words: &[lex::Word<'_>]| {
            let at = words
                .windows(2)
                .position(|w| (w[0].is("-m") || w[0].is("--match")) && w[1].as_str() == module)?;
            Some(at + 1)
        };
        self.err_at(pick, expected)
    }
}

/// Where a rule is: file and dump (the rule's text borrows from `source`),
/// table and chain (`builtin` for a built-in chain).
#[derive(Clone, Copy)]
pub struct Place<'a> {
    /// File name for errors.
    pub file: &'a str,
    /// The whole dump.
    pub source: &'a str,
    /// The rule's table.
    pub table: TableName,
    /// The rule's chain.
    pub chain: &'a str,
    /// Whether the chain is built-in.
    pub builtin: bool,
}

impl<'a> Place<'a> {
    fn at(self, rule: &'a Rule, mask: u8) -> At<'a> {
        At {
            file: self.file,
            source: self.source,
            table: self.table,
            chain: self.chain,
            builtin: self.builtin,
            mask,
            rule,
        }
    }
}

/// The hooks every rule may be reached from when nothing limits it.
pub const ALL_HOOKS: u8 = ALL;

/// The refusals of one rule that do not depend on the hooks reaching it
/// (checked as the rule is read); on success, the hooks its target and
/// matches allow ([`ALL_HOOKS`] when nothing limits them), for [`hook_error`]
/// once the table's jump graph is known.
pub fn check_rule(place: Place<'_>, rule: &Rule) -> Result<u8, ParseError> {
    let at = place.at(rule, 0);
    let refused = iface_direction(&at)
        .or_else(|| match_protocols(&at))
        .or_else(|| match_table(&at))
        .or_else(|| target_table(&at))
        .or_else(|| rule_protocol(&at));
    match refused {
        Some(e) => Err(e),
        None => Ok(allowed_hooks(rule)),
    }
}

/// The refusal of a rule whose chain is reached from `mask`, which includes a
/// hook outside those [`check_rule`] allowed (`xt_check_match`/`xt_check_target`
/// against the entry's `comefrom`).
pub fn hook_error(place: Place<'_>, rule: &Rule, mask: u8) -> ParseError {
    let at = place.at(rule, mask);
    match_hooks(&at)
        .or_else(|| target_hooks(&at))
        .unwrap_or_else(|| {
            at.err(
                &[],
                false,
                format!("a rule valid from {}", hook_names(mask)),
            )
        })
}

/// The hooks a rule's target and matches may be reached from.
fn allowed_hooks(rule: &Rule) -> u8 {
    let matches = rule
        .matches
        .iter()
        .filter_map(|m| match_limits(&m.kind, &m.module))
        .fold(ALL, |acc, (hooks, _)| acc & hooks);
    let target = target_name(&rule.target)
        .and_then(target_limits)
        .map_or(ALL, |l| l.hooks);
    matches & target
}

/// The dump line holding `rule` (its text is a slice of `source`).
fn line_of<'a>(source: &'a str, rule: &'a Rule) -> &'a str {
    let Some(at) = subslice_offset(source, &rule.text) else {
        return &rule.text;
    };
    let start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = source[at..].find('\n').map_or(source.len(), |i| at + i);
    source[start..end].trim_end()
}

/// iptables refuses `-o` in PREROUTING/INPUT and `-i` in OUTPUT/POSTROUTING, by
/// chain name ("Can't use -%c with %s" in `do_parse`, iptables/xshared.c).
fn iface_direction(at: &At<'_>) -> Option<ParseError> {
    let name = at.chain;
    let (opts, flag) = match name {
        "PREROUTING" | "INPUT" if at.rule.ip.out_iface.is_some() => {
            (&["-o", "--out-interface"], "-o")
        }
        "OUTPUT" | "POSTROUTING" if at.rule.ip.in_iface.is_some() => {
            (&["-i", "--in-interface"], "-i")
        }
        _ => return None,
    };
    let expected =
        format!("no {flag} in {name} (iptables refuses \"Can't use {flag} with {name}\")");
    Some(at.err(opts, false, expected))
}

/// Protocols a match needs as the rule's `-p`, not inverted (`.proto` of the
/// match, checked by `xt_check_match`; multiport checks it in `check_proto`).
fn needed_protocols(m: &Match) -> Option<&'static [u8]> {
    match (&m.kind, m.module.as_str()) {
        (MatchKind::Tcp(_), _) | (MatchKind::Other(_), "tcpmss") => Some(&[6]),
        (MatchKind::Udp(_), _) => Some(&[17]),
        (MatchKind::Icmp(_), _) => Some(&[1]),
        (MatchKind::Multiport(_), _) => Some(&[6, 17, 136, 132, 33]),
        (MatchKind::Other(_), "sctp") => Some(&[132]),
        (MatchKind::Other(_), "dccp") => Some(&[33]),
        (MatchKind::Other(_), "esp") => Some(&[50]),
        (MatchKind::Other(_), "ah") => Some(&[51]),
        _ => None,
    }
}

/// The protocol a match needs, as `-p` spells it, for messages.
fn protocol_names(m: &Match) -> &str {
    match m.module.as_str() {
        "multiport" => "tcp, udp, udplite, sctp or dccp",
        "tcpmss" => "tcp",
        module => module,
    }
}

fn match_protocols(at: &At<'_>) -> Option<ParseError> {
    let proto = at
        .rule
        .ip
        .proto
        .as_ref()
        .filter(|p| !p.invert)
        .map(|p| p.value.number);
    let m = at.rule.matches.iter().find(|m| {
        needed_protocols(m).is_some_and(|need| !proto.is_some_and(|p| need.contains(&p)))
    })?;
    let module = m.module.as_str();
    let expected = format!(
        "-p {} (not inverted) in a rule with -m {module}",
        protocol_names(m)
    );
    Some(if m.implicit {
        at.err(&["-p", "--protocol"], true, expected)
    } else {
        at.err_module(module, expected)
    })
}

/// Hooks a match may be reached from, when it has limits, and what to name.
fn match_limits(kind: &MatchKind, module: &str) -> Option<(u8, &'static str)> {
    match (kind, module) {
        (MatchKind::Mac(_), _) => Some((PRE | IN | FWD, "-m mac")),
        (MatchKind::Addrtype(a), _) if a.limit_iface_in => {
            Some((PRE | IN | FWD, "--limit-iface-in"))
        }
        (MatchKind::Addrtype(a), _) if a.limit_iface_out => {
            Some((FWD | OUT | POST, "--limit-iface-out"))
        }
        (MatchKind::Other(_), "owner") => Some((OUT | POST, "-m owner")),
        (MatchKind::Other(_), "socket") => Some((PRE | IN, "-m socket")),
        (MatchKind::Other(_), "rpfilter") => Some((PRE, "-m rpfilter")),
        (MatchKind::Other(words), "policy") => policy_limits(words),
        (MatchKind::Other(words), "physdev") => physdev_limits(words),
        _ => None,
    }
}

/// `policy_mt_check`: `--dir in` not from OUTPUT/POSTROUTING, `--dir out` not
/// from PREROUTING/INPUT.
fn policy_limits(words: &[String]) -> Option<(u8, &'static str)> {
    let dir = words.windows(2).find(|w| w[0] == "--dir")?;
    match dir[1].as_str() {
        "in" => Some((PRE | IN | FWD, "--dir")),
        "out" => Some((FWD | OUT | POST, "--dir")),
        _ => None,
    }
}

/// `physdev_mt_check`: `--physdev-out`/`--physdev-is-out` need
/// `--physdev-is-bridged` (not inverted) when reached from OUTPUT.
fn physdev_limits(words: &[String]) -> Option<(u8, &'static str)> {
    let out = words
        .iter()
        .any(|w| w == "--physdev-out" || w == "--physdev-is-out");
    let bridged = words
        .iter()
        .enumerate()
        .any(|(i, w)| w == "--physdev-is-bridged" && (i == 0 || words[i - 1] != "!"));
    (out && !bridged).then_some((ALL & !OUT, "-m physdev"))
}

/// Tables a match is limited to (`rpfilter_check`: raw and mangle).
fn match_tables(module: &str) -> Option<&'static [TableName]> {
    (module == "rpfilter").then_some(&[TableName::Raw, TableName::Mangle])
}

/// `rpfilter_check`: the match's table.
fn match_table(at: &At<'_>) -> Option<ParseError> {
    at.rule.matches.iter().find_map(|m| {
        let tables = match_tables(&m.module).filter(|t| !t.contains(&at.table))?;
        let names: Vec<&str> = tables.iter().map(|t| t.as_str()).collect();
        let expected = format!(
            "a match of table {} (-m {} is valid only in table {})",
            at.table,
            m.module,
            names.join(" or ")
        );
        Some(at.err_module(&m.module, expected))
    })
}

fn match_hooks(at: &At<'_>) -> Option<ParseError> {
    at.rule.matches.iter().find_map(|m| {
        let (hooks, what) = match_limits(&m.kind, &m.module)?;
        let bad = at.mask & !hooks;
        (bad != 0).then(|| {
            let expected = format!(
                "a rule reached only from {} ({what} is refused from {}; {})",
                hook_names(hooks),
                hook_names(bad),
                reached(at)
            );
            match what.strip_prefix("-m ") {
                Some(module) => at.err_module(module, expected),
                None => at.err(&[what], false, expected),
            }
        })
    })
}

/// Where the rule's chain is reached from, for messages.
fn reached(at: &At<'_>) -> String {
    let name = at.chain;
    if hook_bit(name).is_some() && at.builtin {
        format!("this is {name}")
    } else {
        format!("chain {name} is reached from {}", hook_names(at.mask))
    }
}

/// `xt_check_target`: the target's table.
fn target_table(at: &At<'_>) -> Option<ParseError> {
    let name = target_name(&at.rule.target)?;
    let table = target_limits(name)?.table.filter(|t| *t != at.table)?;
    let expected = format!(
        "a target of table {} ({name} is valid only in table {table})",
        at.table
    );
    Some(at.err(&["-j", "--jump"], true, expected))
}

/// `xt_check_target`: the target's hooks against the hooks reaching the chain.
fn target_hooks(at: &At<'_>) -> Option<ParseError> {
    let name = target_name(&at.rule.target)?;
    let limits = target_limits(name)?;
    let bad = at.mask & !limits.hooks;
    (bad != 0).then(|| {
        let expected = format!(
            "a target valid from {} ({name} is valid only from {}; {})",
            hook_names(at.mask),
            hook_names(limits.hooks),
            reached(at)
        );
        at.err(&["-j", "--jump"], true, expected)
    })
}

/// True for a NAT target that sets ports (`--to-ports`, or `ip:port` ranges).
fn nat_ports(target: &Target) -> bool {
    match target {
        Target::Dnat { ranges, .. } | Target::Snat { ranges, .. } => {
            ranges.iter().any(|r| r.ports.is_some())
        }
        Target::Masquerade { ports, .. } | Target::Redirect { ports, .. } => ports.is_some(),
        _ => false,
    }
}

/// The `-p` a NAT target with ports needs: tcp, udp, sctp, dccp or icmp, its
/// inversion not looked at (`portok` in the NAT extensions' parse functions,
/// iptables/extensions/libxt_*NAT*.c, 1.8).
fn port_protocol(rule: &Rule) -> bool {
    rule.ip
        .proto
        .as_ref()
        .is_some_and(|p| matches!(p.value.number, 6 | 17 | 132 | 33 | 1))
}

/// True when the rule is `-p tcp` (not inverted).
fn is_tcp(rule: &Rule) -> bool {
    rule.ip
        .proto
        .as_ref()
        .is_some_and(|p| !p.invert && p.value.number == 6)
}

/// `reject_tg_check` (ipt_REJECT.c): `tcp-reset` only in a rule for `-p tcp`;
/// TCPMSS has `.proto = IPPROTO_TCP`, checked by `xt_check_target`.
fn rule_protocol(at: &At<'_>) -> Option<ParseError> {
    match &at.rule.target {
        Target::Reject(with) if with.name == "tcp-reset" && !is_tcp(at.rule) => {
            let expected = "another --reject-with, or -p tcp in this rule (tcp-reset needs it)";
            Some(at.err(&["--reject-with"], true, expected.to_string()))
        }
        target if nat_ports(target) && !port_protocol(at.rule) => {
            let expected = "-p tcp, udp, sctp, dccp or icmp in a rule whose NAT target gives ports (iptables: \"Need TCP, UDP, SCTP or DCCP with port specification\")";
            // At the first range with a port.
            let pick = |words: &[lex::Word<'_>]| {
                let ranged = words.windows(2).position(|w| {
                    w[0].is("--to-ports")
                        || ((w[0].is("--to-destination") || w[0].is("--to-source"))
                            && w[1].as_str().contains(':'))
                })?;
                Some(ranged + 1)
            };
            Some(at.err_at(pick, expected.to_string()))
        }
        Target::Other { name, .. } if &**name == "TCPMSS" && !is_tcp(at.rule) => {
            let expected = "-p tcp (not inverted) in a rule with -j TCPMSS";
            Some(at.err(&["-j", "--jump"], true, expected.to_string()))
        }
        _ => None,
    }
}
