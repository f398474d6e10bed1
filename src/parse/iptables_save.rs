//! `iptables-save` / `iptables-nft-save` output (and iptables-restore input) into a [`Ruleset`].
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.6 (the text), §4 (MARK/CONNMARK
//! encodings) and §7 (matches); `iptables/iptables-restore.c`, `iptables/xshared.c`
//! (`add_param_to_argv`) and the `extensions/libxt_*.c` save functions.
//!
//! The grammar is written down in `docs/formats.md` ("iptables-save"). Table
//! headers and `:CHAIN` lines are read one at a time; a table's `-A` lines are
//! kept as positions and, at its `COMMIT`, parsed and checked on every core
//! (`Parser::check_rules`). An error on one line is recorded and reading goes on,
//! so a dump reports all its problems at once, in line order. Then the table is
//! checked as the kernel's `translate_table` would: every `-j`/`-g` names a chain
//! of the table (or an extension target) and no chain jumps back into itself.
//!
//! The rules parsed by the check are dropped: each [`Chain`] keeps where its lines
//! are and parses them again the first time they are asked for
//! ([`DeferredRules`]), so a trace through a kube-proxy dump builds the few chains
//! it walks (docs/performance.md, "Fourth round").

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use rayon::prelude::*;

use super::kernel_checks;
use super::lex::{self, Word};
use super::{ParseError, ParseErrors};
use crate::model::matches::{
    AddrtypeMatch, CtCondition, CtStateSet, IcmpMatch, IprangeMatch, MarkMatch, Match, MatchKind,
    MultiportDir, MultiportMatch, PortRange, SetMatch, StatisticMode, TcpFlagBits, TcpMatch, TtlOp,
    UdpMatch,
};
use crate::model::ruleset::{
    entry_bit, hook_masks_over, AddrMask, AddrSpelling, Chain, ChainIndex, ChainSlot, Counters,
    IfaceMatch, IpHeaderMatch, Neg, Policy, Protocol, Rule, RuleSource, RuleSpelling, Ruleset,
    Table, TableName,
};
use crate::model::target::{
    ConnmarkOp, MarkOp, MarkShift, MarkSpelling, NatFlags, NatRange, RejectWith, Target,
    TtlTargetOp,
};
use crate::model::text::{SliceSource, Text};

/// Parses a whole dump. `file` names it in errors.
///
/// Every table block must end in `COMMIT`. On failure all errors found are
/// returned, in line order.
pub fn parse(file: &str, text: &str) -> Result<Ruleset, ParseErrors> {
    parse_shared(file, Arc::new(text.to_string()))
}

/// Parses a dump already held in shared memory: that one copy backs every
/// rule's text, comment and name (no second copy of a large dump).
pub fn parse_shared(file: &str, source: Arc<String>) -> Result<Ruleset, ParseErrors> {
    parse_reach(file, source).map(|(ruleset, _)| ruleset)
}

/// [`parse_shared`], also returning for each table (in order) the hooks each
/// chain is reached from ([`crate::model::ruleset::Table::hook_masks`]), which
/// the load checks computed anyway.
pub fn parse_reach(
    file: &str,
    source: Arc<String>,
) -> Result<(Ruleset, Vec<Vec<u8>>), ParseErrors> {
    let source = SliceSource::new(source);
    let mut parser = Parser {
        source: &source,
        words: Vec::with_capacity(32),
        file,
        tables: Vec::new(),
        masks: Vec::new(),
        open: None,
        errors: Vec::new(),
    };
    for (i, raw) in source.lines().enumerate() {
        parser.line(i + 1, raw.trim_end());
    }
    parser.finish()
}

/// Where a line is, for building errors.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// The whole dump, which `text` is a line of, through this thread's handle.
    source: &'a SliceSource,
    file: &'a str,
    line: usize,
    text: &'a str,
}

impl Ctx<'_> {
    /// `s` as a [`Text`]: a range of the dump when `s` lies in it (no allocation),
    /// else a copy (a word whose quotes or escapes were removed).
    fn shared(&self, s: &str) -> Text {
        self.source.text_of(s)
    }

    /// The dump from the end of this line's text on.
    fn after(&self) -> &str {
        let end = self.start() + self.text.len();
        self.source.get(end..).unwrap_or("")
    }

    /// Where this line's text starts in the dump.
    fn start(&self) -> usize {
        let at = self.text.as_ptr() as usize;
        at.saturating_sub(self.source.as_ptr() as usize)
    }

    /// An error at byte `offset` of the line, for the text `found`.
    fn err(&self, offset: usize, found: &str, expected: impl Into<String>) -> ParseError {
        ParseError::at(self.file, self.line, self.text, offset, found, expected)
    }

    /// An error for one word of the line.
    fn err_word(&self, word: &Word<'_>, expected: impl Into<String>) -> ParseError {
        self.err(word.start, word.as_str(), expected)
    }

    /// An error at the end of the line (a value is missing).
    fn err_end(&self, expected: impl Into<String>) -> ParseError {
        self.err(self.text.len(), "", expected)
    }
}

/// A `-j`/`-g` whose chain is looked up when the table is complete.
///
/// One per `-j`/`-g` to a chain (most rules of a kube-proxy dump), so it is kept
/// small: the rule's line is found again from its pending line for an error.
struct ChainRef {
    /// Index of the chain holding the rule.
    chain: u32,
    /// Index of the rule in that chain.
    rule: u32,
    /// The rule's line in [`OpenTable::pending`].
    pending: u32,
    /// Position of the chain name in the line.
    offset: u32,
    /// The chain the name was found to be while parsing the rule, or
    /// [`NOT_YET`] when it was not declared yet.
    to: u32,
    /// `-g` rather than `-j`.
    goto: bool,
}

/// [`ChainRef::to`] of a name looked up at `COMMIT`.
const NOT_YET: u32 = u32::MAX;

impl ChainRef {
    /// The rule's line, for errors.
    fn ctx<'a>(&self, open: &OpenTable<'a>) -> Ctx<'a> {
        let h = open.header;
        let line = open.pending.get(self.pending as usize);
        line.map_or(h, |l| l.ctx(h.source, h.file))
    }

    /// The name the rule jumps to: the chain found, else the word at
    /// [`ChainRef::offset`] read again (rare: a chain declared after the rule).
    fn name(&self, open: &OpenTable<'_>) -> String {
        if let Some(chain) = open.chains.get(self.to as usize) {
            return chain.name.to_string();
        }
        let words = lex::split_words(self.ctx(open).text).unwrap_or_default();
        let word = words.into_iter().find(|w| w.start == self.offset as usize);
        word.map(|w| w.text.into_owned()).unwrap_or_default()
    }
}

/// A chain as its `:CHAIN` line declares it, until `COMMIT` makes it a [`Chain`].
struct ChainDecl {
    name: Text,
    policy: Option<Policy>,
    counters: Option<Box<Counters>>,
    line: u32,
}

impl ChainDecl {
    /// True for the chains the kernel attaches to hooks.
    fn is_builtin(&self) -> bool {
        self.policy.is_some()
    }
}

/// The table between `*name` and `COMMIT`.
struct OpenTable<'a> {
    name: TableName,
    /// Its chains, in declaration order.
    chains: Vec<ChainDecl>,
    header: Ctx<'a>,
    index: ChainIndex,
    /// The `-A` lines, checked at `COMMIT` (in parallel) in this order.
    pending: Vec<RuleLine>,
    /// The jumps and gotos found by that check.
    refs: Vec<ChainRef>,
    /// `(chain, rule line, hooks allowed)` of the rules whose target or matches
    /// are limited to some hooks, checked once the jump graph is known.
    limited: Vec<(usize, RuleLine, u8)>,
    /// Rules per chain, as counted by the check.
    counts: Vec<u32>,
    /// The chain of each pending line (`u32::MAX` for a refused line).
    line_chains: Vec<u32>,
    /// Whether a rule enables connection tracking.
    needs_conntrack: bool,
}

/// An `-A` line, kept from the check at load to its parse on first use.
#[derive(Debug, Clone, Copy)]
struct RuleLine {
    /// 1-based line number.
    line: u32,
    /// Its length, trailing blanks removed.
    len: u32,
    /// Where the line's text starts in the dump.
    start: usize,
}

impl RuleLine {
    /// The line as a [`Ctx`] for parsing.
    fn ctx<'a>(&self, source: &'a SliceSource, file: &'a str) -> Ctx<'a> {
        let start = self.start;
        let text = source.get(start..start + self.len as usize).unwrap_or("");
        Ctx {
            source,
            file,
            line: self.line as usize,
            text,
        }
    }
}

/// Bytes per `-A` line that the pending lines are reserved for at a table's
/// header: a kube-proxy rule line is 100 to 200 bytes. Reserved, not touched;
/// growing instead copies the vector and touches fresh pages at each doubling.
const RULE_LINE_BYTES: usize = 64;

/// Line-by-line state.
struct Parser<'a> {
    source: &'a SliceSource,
    /// Reused word buffer (one allocation for the whole file).
    words: Vec<Word<'a>>,
    file: &'a str,
    tables: Vec<Table>,
    /// Per committed table, the hooks each chain is reached from.
    masks: Vec<Vec<u8>>,
    open: Option<OpenTable<'a>>,
    errors: Vec<ParseError>,
}

impl<'a> Parser<'a> {
    /// Dispatches one line by its first character.
    fn line(&mut self, line: usize, text: &'a str) {
        let body = text.trim_start();
        if body.is_empty() || body.starts_with('#') {
            return;
        }
        let ctx = Ctx {
            source: self.source,
            file: self.file,
            line,
            text,
        };
        if body == "COMMIT" {
            self.commit(ctx);
            return;
        }
        if !(body.starts_with('*') || body.starts_with(':')) {
            if let Some(open) = self.open.as_mut() {
                // Rule lines are checked at COMMIT, in parallel (`check_rules`).
                open.pending.push(RuleLine {
                    line: line_u32(line),
                    len: index_u32(text.len()),
                    start: ctx.start(),
                });
                return;
            }
        }
        let mut words = std::mem::take(&mut self.words);
        let result = split(ctx, &mut words).and_then(|()| {
            if body.starts_with('*') {
                self.table_header(ctx, &words)
            } else if body.starts_with(':') {
                self.chain_decl(ctx, &words)
            } else {
                self.open_table(ctx).map(|_| ())
            }
        });
        self.words = words;
        if let Err(e) = result {
            self.errors.push(e);
        }
    }

    /// `*table`
    fn table_header(&mut self, ctx: Ctx<'a>, words: &[Word<'a>]) -> Result<(), ParseError> {
        let first = &words[0];
        if let Some(extra) = words.get(1) {
            return Err(ctx.err_word(extra, "end of line after the table name"));
        }
        let name = first.as_str().get(1..).unwrap_or("");
        let Some(table) = TableName::from_name(name) else {
            return Err(ctx.err(
                first.start + 1,
                name,
                "a known table: raw, mangle, nat, filter, security",
            ));
        };
        if let Some(open) = &self.open {
            let e = ctx.err_word(
                first,
                format!(
                    "COMMIT before the next table (*{} opened on line {} is not committed)",
                    open.name, open.header.line
                ),
            );
            self.errors.push(e);
            self.commit(ctx);
        }
        if self.tables.iter().any(|t| t.name == table) {
            return Err(ctx.err_word(first, format!("each table once (*{table} seen before)")));
        }
        // iptables-save prints every `:CHAIN` line right after the header: sized
        // from them, the chain vector and index never grow (a kube-proxy nat
        // table declares 60,000 chains). Only a hint: other layouts still parse.
        let declared = ctx.after().lines().skip(1);
        let declared = declared.take_while(|l| l.trim_start().starts_with(':'));
        let declared = declared.count();
        self.open = Some(OpenTable {
            name: table,
            chains: Vec::with_capacity(declared),
            header: ctx,
            index: ChainIndex::with_capacity_and_hasher(declared, Default::default()),
            pending: Vec::with_capacity(ctx.after().len() / RULE_LINE_BYTES),
            refs: Vec::new(),
            limited: Vec::new(),
            counts: Vec::new(),
            line_chains: Vec::new(),
            needs_conntrack: false,
        });
        Ok(())
    }

    /// The open table, or an error that there is none.
    fn open_table(&mut self, ctx: Ctx<'a>) -> Result<&mut OpenTable<'a>, ParseError> {
        match self.open.as_mut() {
            Some(open) => Ok(open),
            None => Err(ctx.err(
                0,
                ctx.text.trim_start(),
                "a table header (*raw, *mangle, *nat, *filter or *security) first",
            )),
        }
    }

    /// `:CHAIN POLICY [pkts:bytes]`
    fn chain_decl(&mut self, ctx: Ctx<'a>, words: &[Word<'a>]) -> Result<(), ParseError> {
        let open = self.open_table(ctx)?;
        let first = &words[0];
        let name = first.as_str().get(1..).unwrap_or("");
        check_chain_name(ctx, first.start + 1, name)?;
        let policy_word = words
            .get(1)
            .ok_or_else(|| ctx.err_end("a policy: ACCEPT, DROP or -"))?;
        let policy = chain_policy(ctx, open.name, name, first.start + 1, policy_word)?;
        let counters = match words.get(2) {
            Some(w) => Some(Box::new(counters(ctx, w)?)),
            None => None,
        };
        if let Some(extra) = words.get(3) {
            return Err(ctx.err_word(extra, "end of line after the counters"));
        }
        let slot = ChainSlot {
            chain: index_u32(open.chains.len()),
            line: line_u32(ctx.line),
        };
        let Entry::Vacant(entry) = open.index.entry(ctx.shared(name)) else {
            return Err(ctx.err(
                first.start + 1,
                name,
                "a chain not declared before in this table",
            ));
        };
        let name = entry.key().clone();
        entry.insert(slot);
        open.chains.push(ChainDecl {
            name,
            policy,
            counters,
            line: line_u32(ctx.line),
        });
        Ok(())
    }

    /// `COMMIT`: checks the table and adds it to the ruleset.
    fn commit(&mut self, ctx: Ctx<'a>) {
        let Some(mut open) = self.open.take() else {
            self.errors
                .push(ctx.err(0, "COMMIT", "a table header (*filter, …) before COMMIT"));
            return;
        };
        self.check_rules(&mut open);
        // Every jump and goto has a reference; those that name a chain are the
        // edges of the jump graph, found here once.
        let mut found = Vec::with_capacity(open.refs.len());
        for r in &open.refs {
            let (to, refusal) = resolve_ref(&open, r);
            if let Some(to) = to {
                found.push((r.chain, r.rule, to));
            }
            self.errors.extend(refusal);
        }
        let (flat, bounds) = jump_edges(open.chains.len(), found);
        let edges: Vec<&[(usize, usize)]> = bounds.windows(2).map(|w| &flat[w[0]..w[1]]).collect();
        self.errors.extend(find_loops(&open, &edges));
        let entries: Vec<u8> = open
            .chains
            .iter()
            .map(|c| entry_bit(c.policy, &c.name))
            .collect();
        let masks = hook_masks_over(&entries, &edges);
        self.errors.extend(hook_errors(&open, &masks));
        self.masks.push(masks);
        self.tables.push(open.into_table());
    }

    /// Parses every pending `-A` line of the table, in parallel batches, and
    /// checks it as `iptables-restore` would; notes what `COMMIT` checks next.
    /// The rules themselves are dropped: [`DeferredRules`] parses a chain's
    /// lines again when it is first used.
    fn check_rules(&mut self, open: &mut OpenTable<'a>) {
        /// Lines checked between two notings: bounds what is held at once.
        const BATCH: usize = 16 * 1024;
        /// Lines per parallel task.
        const TASK: usize = 256;
        /// Tables with fewer lines are checked on this thread alone: starting
        /// the thread pool costs more, in time and memory, than it saves.
        const PARALLEL: usize = 8 * 1024;
        // Out of `open` while its notes grow; put back for the lines' error contexts.
        let pending = std::mem::take(&mut open.pending);
        open.counts = vec![0; open.chains.len()];
        // Reserved, not touched: no copy as they grow.
        open.line_chains = Vec::with_capacity(pending.len());
        open.refs = Vec::with_capacity(pending.len());
        open.limited = Vec::with_capacity(pending.len());
        let parallel = pending.len() >= PARALLEL;
        let threads = if parallel {
            rayon::current_num_threads()
        } else {
            1
        };
        let handles: Vec<SliceSource> = (0..threads).map(|_| self.source.handle()).collect();
        for (first, batch) in (0..).step_by(BATCH).zip(pending.chunks(BATCH)) {
            let checked: Vec<Result<CheckedRule, Box<ParseError>>> = {
                let view = TableView {
                    name: open.name,
                    index: &open.index,
                };
                let (file, chains, handles) = (self.file, &open.chains[..], &handles);
                let check_all = |scratch: &mut _, lines: &_| {
                    check_lines(lines, thread_handle(handles), file, view, chains, scratch)
                };
                if parallel {
                    batch
                        .par_chunks(TASK)
                        .map_init(Scratch::default, check_all)
                        .flatten_iter()
                        .collect()
                } else {
                    check_all(&mut Scratch::default(), batch)
                }
            };
            for ((at, line), result) in (first..).zip(batch).zip(checked) {
                match result {
                    Ok(rule) => open.note(index_u32(at), *line, rule),
                    Err(e) => {
                        open.line_chains.push(u32::MAX);
                        self.errors.push(*e);
                    }
                }
            }
        }
        open.pending = pending;
    }

    /// End of input: a table left open is an error.
    fn finish(mut self) -> Result<(Ruleset, Vec<Vec<u8>>), ParseErrors> {
        if let Some(open) = &self.open {
            let h = open.header;
            let e = h.err(
                0,
                h.text.trim(),
                "COMMIT before the end of the file for this table",
            );
            self.errors.push(e);
        }
        if self.errors.is_empty() {
            let ruleset = Ruleset {
                tables: self.tables,
            };
            Ok((ruleset, self.masks))
        } else {
            self.errors.sort_by_key(|e| (e.line, e.column));
            Err(ParseErrors(self.errors))
        }
    }
}

/// Reused buffers of one parsing thread.
#[derive(Default)]
struct Scratch<'a> {
    words: Vec<Word<'a>>,
    matches: Vec<Match>,
    /// The chain of the last `-A` line read, with its index: iptables-save
    /// prints a chain's rules together, so most lines name the same chain
    /// as the one before.
    last_chain: Option<(&'a str, usize)>,
}

/// What parsing a rule reads of its table: its name and the chains declared.
#[derive(Clone, Copy)]
struct TableView<'t> {
    name: TableName,
    index: &'t ChainIndex,
}

impl TableView<'_> {
    /// The chain named `name` if it was declared before `line` (iptables-restore
    /// looks each name up as it reads the line).
    fn chain(&self, name: &str, line: usize) -> Option<(Text, usize)> {
        let (key, slot) = self.index.get_key_value(name)?;
        (line > slot.line as usize).then(|| (key.clone(), slot.chain as usize))
    }
}

/// A rule as read from its line, before any check.
struct ReadRule {
    chain: usize,
    rule: Rule,
    /// Offset of a `-j`/`-g` chain name to resolve at `COMMIT`.
    unresolved: Option<usize>,
    /// The chain that name was found to be.
    jump_to: Option<usize>,
}

/// `[pkts:bytes] -A CHAIN rule-spec`
fn read_rule<'a>(
    ctx: Ctx<'a>,
    view: TableView<'_>,
    scratch: &mut Scratch<'a>,
) -> Result<ReadRule, ParseError> {
    let words = &mut scratch.words;
    split(ctx, words)?;
    let (counters, rest) = match words.first() {
        Some(w) if !w.quoted && w.as_str().starts_with('[') => {
            (Some(Box::new(counters(ctx, w)?)), &words[1..])
        }
        _ => (None, &words[..]),
    };
    let Some(cmd) = rest.first() else {
        return Err(ctx.err_end("-A CHAIN after the counters"));
    };
    if !(cmd.is("-A") || cmd.is("--append")) {
        return Err(ctx.err_word(
            cmd,
            "-A, a chain header (:CHAIN), COMMIT or a table (*filter)",
        ));
    }
    let chain_word = rest.get(1).ok_or_else(|| ctx.err_end("a chain name"))?;
    let chain = match (scratch.last_chain, &chain_word.text) {
        // Declared before an earlier line, so before this one.
        (Some((last, chain)), Cow::Borrowed(name)) if last == *name => chain,
        _ => {
            let (_, chain) = view.chain(chain_word.as_str(), ctx.line).ok_or_else(|| {
                ctx.err_word(
                    chain_word,
                    format!("a chain declared with :NAME in table {}", view.name),
                )
            })?;
            if let Cow::Borrowed(name) = chain_word.text {
                scratch.last_chain = Some((name, chain));
            }
            chain
        }
    };
    let mut cur = Cursor {
        words: rest,
        pos: 2,
        ctx,
    };
    let mut spec = rule_spec(&mut cur, view, std::mem::take(&mut scratch.matches))?;
    let matches: Box<[Match]> = spec.matches.drain(..).collect();
    scratch.matches = spec.matches;
    let rule = Rule {
        line: line_u32(ctx.line),
        counters,
        ip: spec.ip,
        matches,
        target: spec.target,
        text: ctx.shared(&ctx.text[cmd.start..]),
        spelling: spec.spelling,
    };
    Ok(ReadRule {
        chain,
        rule,
        unresolved: spec.unresolved,
        jump_to: spec.jump_to,
    })
}

/// What the check of one `-A` line leaves for `COMMIT`.
struct CheckedRule {
    chain: u32,
    /// The hooks the rule's target and matches allow.
    allowed: u8,
    needs_conntrack: bool,
    /// A `-j`/`-g` to resolve: name offset, chain found ([`NOT_YET`]), goto.
    jump: Option<(u32, u32, bool)>,
}

/// Reads a rule and makes the checks `iptables-restore` makes of it alone.
/// [`check_rule`] for each of `lines`.
fn check_lines<'a>(
    lines: &[RuleLine],
    source: &'a SliceSource,
    file: &'a str,
    view: TableView<'_>,
    chains: &[ChainDecl],
    scratch: &mut Scratch<'a>,
) -> Vec<Result<CheckedRule, Box<ParseError>>> {
    let check =
        |l: &RuleLine| check_rule(l.ctx(source, file), view, chains, scratch).map_err(Box::new);
    lines.iter().map(check).collect()
}

fn check_rule<'a>(
    ctx: Ctx<'a>,
    view: TableView<'_>,
    chains: &[ChainDecl],
    scratch: &mut Scratch<'a>,
) -> Result<CheckedRule, ParseError> {
    let read = read_rule(ctx, view, scratch)?;
    let chain = &chains[read.chain];
    let place = kernel_checks::Place {
        file: ctx.file,
        source: ctx.source.as_str(),
        table: view.name,
        chain: &chain.name,
        builtin: chain.is_builtin(),
    };
    let allowed = kernel_checks::check_rule(place, &read.rule)?;
    let goto = matches!(read.rule.target, Target::Goto(_));
    let jump = read.unresolved.map(|offset| {
        let to = read.jump_to.map_or(NOT_YET, index_u32);
        (index_u32(offset), to, goto)
    });
    Ok(CheckedRule {
        chain: index_u32(read.chain),
        allowed,
        needs_conntrack: read.rule.needs_conntrack(),
        jump,
    })
}

impl OpenTable<'_> {
    /// Notes a checked rule as the next rule of its chain.
    fn note(&mut self, pending: u32, line: RuleLine, checked: CheckedRule) {
        let chain = checked.chain as usize;
        let rule = self.counts[chain];
        self.counts[chain] += 1;
        self.line_chains.push(checked.chain);
        self.needs_conntrack |= checked.needs_conntrack;
        if checked.allowed != kernel_checks::ALL_HOOKS {
            self.limited.push((chain, line, checked.allowed));
        }
        if let Some((offset, to, goto)) = checked.jump {
            self.refs.push(ChainRef {
                chain: checked.chain,
                rule,
                pending,
                offset,
                to,
                goto,
            });
        }
    }

    /// The committed table: its chains parse their lines on first use.
    fn into_table(self) -> Table {
        let lines = group_lines(&self.pending, &self.line_chains, &self.counts);
        let index = Arc::new(self.index);
        let deferred: Arc<dyn RuleSource> = Arc::new(DeferredRules {
            source: self.header.source.clone(),
            file: self.header.file.into(),
            table: self.name,
            index: Arc::clone(&index),
            lines: lines.0,
            bounds: lines.1,
        });
        let chains = self.chains.into_iter().enumerate().map(|(i, c)| {
            let at = index_u32(i);
            Chain::new(
                c.name,
                c.policy,
                c.counters,
                c.line,
                Arc::clone(&deferred),
                at,
            )
        });
        Table {
            name: self.name,
            chains: chains.collect(),
            line: line_u32(self.header.line),
            index,
            needs_conntrack: self.needs_conntrack,
        }
    }
}

/// The checked lines grouped by chain, in line order within each, and where
/// each chain's group starts (one more bound than chains). A counting sort.
fn group_lines(
    lines: &[RuleLine],
    chains: &[u32],
    counts: &[u32],
) -> (Box<[RuleLine]>, Box<[u32]>) {
    let mut bounds = vec![0u32; counts.len() + 1];
    for (i, n) in counts.iter().enumerate() {
        bounds[i + 1] = bounds[i] + n;
    }
    let mut next = bounds.clone();
    let empty = RuleLine {
        line: 0,
        len: 0,
        start: 0,
    };
    let mut grouped = vec![empty; bounds[counts.len()] as usize];
    for (line, &chain) in lines.iter().zip(chains) {
        if let Some(at) = next.get_mut(chain as usize) {
            grouped[*at as usize] = *line;
            *at += 1;
        }
    }
    (grouped.into(), bounds.into())
}

/// A committed table's rule lines, parsed again per chain on first use (every
/// line was parsed and checked at load, so parsing it again cannot fail).
struct DeferredRules {
    source: SliceSource,
    file: Box<str>,
    table: TableName,
    index: Arc<ChainIndex>,
    /// Rule lines grouped by chain ([`group_lines`]).
    lines: Box<[RuleLine]>,
    bounds: Box<[u32]>,
}

impl fmt::Debug for DeferredRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeferredRules({}, {} lines)",
            self.table,
            self.lines.len()
        )
    }
}

impl DeferredRules {
    /// The lines of chain `chain`.
    fn chain_lines(&self, chain: usize) -> &[RuleLine] {
        let from = self.bounds.get(chain).copied().unwrap_or(0) as usize;
        let to = self.bounds.get(chain + 1).copied().unwrap_or(0) as usize;
        self.lines.get(from..to).unwrap_or(&[])
    }

    /// Parses one line again.
    fn parse<'a>(
        &'a self,
        source: &'a SliceSource,
        line: &RuleLine,
        scratch: &mut Scratch<'a>,
    ) -> Rule {
        let view = TableView {
            name: self.table,
            index: &self.index,
        };
        let ctx = line.ctx(source, &self.file);
        match read_rule(ctx, view, scratch) {
            Ok(read) => settle_target(read, &self.index),
            // Every line was read the same way when the dump was loaded.
            Err(e) => unreachable!("rule line checked at load failed to parse: {e}"),
        }
    }
}

impl DeferredRules {
    /// Parses every line of chain `chain` and keeps `keep` of each rule.
    fn parse_chain<T: Default + Send>(&self, chain: usize, keep: fn(Rule) -> T) -> Box<[T]> {
        /// Chains this long are parsed on two threads (a kube-proxy KUBE-SERVICES).
        const PARALLEL: usize = 1024;
        let lines = self.chain_lines(chain);
        let parse_into = |kept: &mut [T], lines: &[RuleLine]| {
            let source = self.source.handle();
            let mut scratch = Scratch::default();
            for (slot, line) in kept.iter_mut().zip(lines) {
                *slot = keep(self.parse(&source, line, &mut scratch));
            }
        };
        if lines.len() < PARALLEL {
            let source = self.source.handle();
            let mut scratch = Scratch::default();
            return lines
                .iter()
                .map(|l| keep(self.parse(&source, l, &mut scratch)))
                .collect();
        }
        // Both halves are parsed in place, into the chain's final slice.
        let mut kept: Box<[T]> = lines.iter().map(|_| T::default()).collect();
        // A scoped thread, not rayon: this runs inside `OnceLock::get_or_init`, and
        // a rayon worker waiting for its half could pick up another trace that
        // asks for this very chain, initialising the cell reentrantly (deadlock).
        let half = lines.len() / 2;
        let (first, second) = lines.split_at(half);
        let (into_first, into_second) = kept.split_at_mut(half);
        std::thread::scope(|s| {
            s.spawn(|| parse_into(into_second, second));
            parse_into(into_first, first);
        });
        kept
    }
}

impl RuleSource for DeferredRules {
    fn rules(&self, chain: usize) -> Box<[Rule]> {
        self.parse_chain(chain, |rule| rule)
    }

    fn rule_count(&self, chain: usize) -> usize {
        self.chain_lines(chain).len()
    }

    fn headers(&self, chain: usize) -> Box<[IpHeaderMatch]> {
        self.parse_chain(chain, |rule| rule.ip)
    }

    fn rule(&self, chain: usize, index: usize) -> Rule {
        match self.chain_lines(chain).get(index) {
            Some(line) => self.parse(&self.source.handle(), line, &mut Scratch::default()),
            // Only reached through a header of this chain, so `index` is in it.
            None => unreachable!("rule {index} of a chain with fewer rules"),
        }
    }
}

/// A `-j NAME` with no chain `NAME` and no options becomes the untyped target
/// `NAME`, as [`resolve_ref`] accepted it at `COMMIT`.
fn settle_target(read: ReadRule, index: &ChainIndex) -> Rule {
    let mut rule = read.rule;
    if read.unresolved.is_some() && read.jump_to.is_none() {
        if let Target::Jump(name) = &rule.target {
            if !index.contains_key(name.as_str()) {
                rule.target = Target::Other {
                    name: name.as_str().into(),
                    args: Box::default(),
                };
            }
        }
    }
    rule
}

/// The current rayon thread's handle among one per thread: the `Text`s each
/// thread cuts then count on a handle of their own ([`SliceSource`]).
fn thread_handle(handles: &[SliceSource]) -> &SliceSource {
    let i = rayon::current_thread_index().unwrap_or(0);
    &handles[i % handles.len()]
}

/// `n` as a `u32` (a chain or rule index, a column; dumps are capped at 1 GiB).
fn index_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Match modules whose names are kept as static strings (no allocation per rule).
const MODULE_NAMES: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "comment",
    "statistic",
    "mark",
    "connmark",
    "conntrack",
    "state",
    "multiport",
    "addrtype",
    "iprange",
    "set",
    "limit",
    "physdev",
    "length",
    "pkttype",
    "ttl",
    "tos",
    "dscp",
    "mac",
    "recent",
    "hashlimit",
    "owner",
    "string",
    "u32",
    "policy",
];

/// `name` as a static [`Text`] when it is in `names`.
fn static_name(names: &'static [&'static str], name: &str) -> Option<Text> {
    names
        .iter()
        .find(|n| **n == name)
        .map(|n| Text::from_static(n))
}

/// A line number as the model stores it.
fn line_u32(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// Tokenizes a line; a line reaching here has at least one word.
fn split<'a>(ctx: Ctx<'a>, words: &mut Vec<Word<'a>>) -> Result<(), ParseError> {
    lex::split_words_into(ctx.text, words)
        .map_err(|q| ctx.err(q.0, &ctx.text[q.0..], "a closing \" for this quote"))?;
    if words.is_empty() {
        return Err(ctx.err_end("a word"));
    }
    Ok(())
}

/// `[pkts:bytes]`
fn counters(ctx: Ctx<'_>, w: &Word<'_>) -> Result<Counters, ParseError> {
    let parsed = w
        .as_str()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        // By byte: `split_once(':')` sets up a memchr search, which cost more
        // than the rest on 60,000 `:CHAIN … [0:0]` lines.
        .and_then(|s| {
            s.bytes()
                .position(|b| b == b':')
                .map(|at| (&s[..at], &s[at + 1..]))
        })
        .and_then(|(p, b)| Some((p.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some((packets, bytes)) => Ok(Counters { packets, bytes }),
        None => Err(ctx.err_word(w, "counters [packets:bytes]")),
    }
}

/// Longest chain name the kernel takes (`XT_EXTENSION_MAXNAMELEN` - 1).
const MAX_CHAIN_NAME: usize = 28;

/// `assert_valid_chain_name` (xshared.c).
fn check_chain_name(ctx: Ctx<'_>, offset: usize, name: &str) -> Result<(), ParseError> {
    if name.is_empty() || name.starts_with('-') || name.starts_with('!') {
        return Err(ctx.err(
            offset,
            name,
            "a chain name (not empty, not starting with - or !)",
        ));
    }
    if name.len() > MAX_CHAIN_NAME {
        return Err(ctx.err(offset, name, "a chain name of at most 28 characters"));
    }
    Ok(())
}

/// The built-in chains of each table (the hooks it registers).
pub fn builtin_chains(table: TableName) -> &'static [&'static str] {
    match table {
        TableName::Raw => &["PREROUTING", "OUTPUT"],
        TableName::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        TableName::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        TableName::Filter | TableName::Security => &["INPUT", "FORWARD", "OUTPUT"],
    }
}

/// The policy word of a chain header, checked against the chain kind.
fn chain_policy(
    ctx: Ctx<'_>,
    table: TableName,
    name: &str,
    name_offset: usize,
    w: &Word<'_>,
) -> Result<Option<Policy>, ParseError> {
    let builtin = builtin_chains(table).contains(&name);
    let policy = match w.as_str() {
        "ACCEPT" => Some(Policy::Accept),
        "DROP" => Some(Policy::Drop),
        "-" => None,
        _ => return Err(ctx.err_word(w, "a policy: ACCEPT, DROP or -")),
    };
    match (builtin, policy) {
        (true, None) => Err(ctx.err_word(
            w,
            format!("ACCEPT or DROP ({name} is a built-in chain of {table})"),
        )),
        (false, Some(_)) => Err(ctx.err(
            name_offset,
            name,
            format!(
                "a built-in chain of {table} ({}) or - as the policy of a user chain",
                builtin_chains(table).join(", ")
            ),
        )),
        _ => Ok(policy),
    }
}

/// Extension targets nftrace does not type but that may appear with no options,
/// so that `-j NAME` without a chain NAME is not an unknown-chain error.
const UNTYPED_TARGETS: &[&str] = &[
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNSECMARK",
    "DNPT",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "MIRROR",
    "RATEEST",
    "SAME",
    "SECMARK",
    "SET",
    "SNPT",
    "SYNPROXY",
    "TCPMSS",
    "TCPOPTSTRIP",
    "TEE",
    "TPROXY",
    "ULOG",
];

/// Decides a provisional `-j NAME`/`-g NAME` now that all chains are known.
/// Returns the chain it leads to (an edge of the jump graph, kept even when the
/// jump is refused), and the refusal.
fn resolve_ref(open: &OpenTable<'_>, r: &ChainRef) -> (Option<usize>, Option<ParseError>) {
    let table_name = open.name;
    let to = match r.to {
        NOT_YET => open
            .index
            .get(r.name(open).as_str())
            .map(|s| s.chain as usize),
        to => Some(to as usize),
    };
    if to.is_some_and(|i| !open.chains[i].is_builtin()) {
        return (to, None);
    }
    let name = r.name(open);
    let refusal = match to {
        Some(_) => Some(r.ctx(open).err(
            r.offset as usize,
            &name,
            format!("a user-defined chain ({name} is a built-in chain of {table_name})"),
        )),
        // Accepted here; `settle_target` makes it the target when the rule is parsed.
        None if !r.goto && UNTYPED_TARGETS.contains(&name.as_str()) => None,
        None => Some(r.ctx(open).err(
            r.offset as usize,
            &name,
            format!("a chain declared in table {table_name} or a known target"),
        )),
    };
    (to, refusal)
}

/// Jump/goto loops among user chains reached from a built-in chain
/// (`mark_source_chains` in ip_tables.c walks from each hook's entry only, so
/// a loop among chains no hook leads to is loaded). One error per loop, at the
/// rule closing it. Iterative depth-first search, so deep chain nests cannot
/// overflow the stack.
fn find_loops(open: &OpenTable<'_>, edges: &[&[(usize, usize)]]) -> Vec<ParseError> {
    let mut state = vec![Visit::New; edges.len()];
    let mut errors = Vec::new();
    for root in 0..edges.len() {
        if state[root] != Visit::New || !open.chains[root].is_builtin() {
            continue;
        }
        // (chain, index of the next edge to follow)
        let mut stack = vec![(root, 0usize)];
        state[root] = Visit::OnStack;
        while let Some(&mut (chain, ref mut next)) = stack.last_mut() {
            let Some(&(rule, to)) = edges[chain].get(*next) else {
                state[chain] = Visit::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match state[to] {
                Visit::New => {
                    state[to] = Visit::OnStack;
                    stack.push((to, 0));
                }
                Visit::OnStack => errors.extend(loop_error(open, &stack, to, chain, rule)),
                Visit::Done => {}
            }
        }
    }
    errors
}

/// The refusals of rules reached from a hook their target or a match does not
/// allow (`xt_check_target`/`xt_check_match` against the entry's `comefrom`).
/// A refused rule is read again from its line for the message.
fn hook_errors(open: &OpenTable<'_>, masks: &[u8]) -> Vec<ParseError> {
    let h = open.header;
    let view = TableView {
        name: open.name,
        index: &open.index,
    };
    let mut scratch = Scratch::default();
    let refused = open
        .limited
        .iter()
        .filter(|&&(chain, _, allowed)| masks[chain] & !allowed != 0);
    refused
        .filter_map(|&(chain, line, _)| {
            let read = read_rule(line.ctx(h.source, h.file), view, &mut scratch).ok()?;
            let place = kernel_checks::Place {
                file: h.file,
                source: h.source.as_str(),
                table: open.name,
                chain: &open.chains[chain].name,
                builtin: open.chains[chain].is_builtin(),
            };
            Some(kernel_checks::hook_error(place, &read.rule, masks[chain]))
        })
        .collect()
}

/// Depth-first search marks of [`find_loops`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnStack,
    Done,
}

/// The jump graph from its edges `(chain, rule, target chain)` in dump order:
/// every `(rule index, target chain)` in one vector, grouped by chain in rule
/// order, and where each chain's group starts (one more bound than chains).
/// A counting sort: no allocation per chain and no second lookup of the names.
fn jump_edges(chains: usize, found: Vec<(u32, u32, usize)>) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut bounds = vec![0usize; chains + 1];
    for &(chain, _, _) in &found {
        bounds[chain as usize + 1] += 1;
    }
    for i in 0..chains {
        bounds[i + 1] += bounds[i];
    }
    let mut next = bounds.clone();
    let mut flat = vec![(0, 0); found.len()];
    // References are in dump order, so each chain's rules come in order.
    for (chain, rule, to) in found {
        let at = &mut next[chain as usize];
        flat[*at] = (rule as usize, to);
        *at += 1;
    }
    (flat, bounds)
}

/// The error for a loop closed by rule `rule` of `chain` jumping to `back`.
fn loop_error(
    open: &OpenTable<'_>,
    stack: &[(usize, usize)],
    back: usize,
    chain: usize,
    rule: usize,
) -> Option<ParseError> {
    let from = stack.iter().position(|&(c, _)| c == back)?;
    let chains = &open.chains;
    let mut path: Vec<&str> = stack[from..]
        .iter()
        .map(|&(c, _)| chains[c].name.as_str())
        .collect();
    path.push(chains[back].name.as_str());
    let r = open
        .refs
        .iter()
        .find(|r| r.chain as usize == chain && r.rule as usize == rule)?;
    Some(r.ctx(open).err(
        r.offset as usize,
        &chains[back].name,
        format!(
            "a chain that does not lead back here (jump loop {})",
            path.join(" -> ")
        ),
    ))
}

// ---------------------------------------------------------------------------
// Rule specification

/// A position in the words of one rule.
struct Cursor<'w, 'a> {
    words: &'w [Word<'a>],
    pos: usize,
    ctx: Ctx<'a>,
}

/// Rule-level options: they end a match's option list.
const RULE_OPTIONS: &[&str] = &[
    "-s",
    "--source",
    "--src",
    "-d",
    "--destination",
    "--dst",
    "-i",
    "--in-interface",
    "-o",
    "--out-interface",
    "-p",
    "--protocol",
    "-f",
    "--fragment",
    "--fragments",
    "-m",
    "--match",
    "-j",
    "--jump",
    "-g",
    "--goto",
];

impl<'w, 'a> Cursor<'w, 'a> {
    /// The next word.
    fn peek(&self) -> Option<&'w Word<'a>> {
        self.words.get(self.pos)
    }

    /// Takes the next word.
    fn bump(&mut self) -> Option<&'w Word<'a>> {
        let w = self.words.get(self.pos)?;
        self.pos += 1;
        Some(w)
    }

    /// Takes the next word as an option's value.
    fn value(&mut self, expected: &str) -> Result<&'w Word<'a>, ParseError> {
        match self.bump() {
            Some(w) => Ok(w),
            None => Err(self.ctx.err_end(expected)),
        }
    }

    /// Takes a `!` if one comes next.
    fn bang(&mut self) -> bool {
        let is_bang = self.peek().is_some_and(|w| w.is("!"));
        if is_bang {
            self.pos += 1;
        }
        is_bang
    }

    /// True at the end or before a rule-level option (possibly after `!`).
    fn at_boundary(&self) -> bool {
        let is_rule_opt = |w: &Word<'_>| !w.quoted && RULE_OPTIONS.contains(&w.as_str());
        match self.peek() {
            None => true,
            Some(w) if w.is("!") => self.words.get(self.pos + 1).is_none_or(is_rule_opt),
            Some(w) => is_rule_opt(w),
        }
    }

    /// An error for a word.
    fn err(&self, w: &Word<'_>, expected: impl Into<String>) -> ParseError {
        self.ctx.err_word(w, expected)
    }
}

/// What one `-A` line says after the chain name.
struct Spec {
    ip: IpHeaderMatch,
    matches: Vec<Match>,
    target: Target,
    spelling: RuleSpelling,
    /// Offset of a `-j`/`-g` chain name to check when the table is complete.
    unresolved: Option<usize>,
    /// The chain a `-j`/`-g` names, when it was declared before the rule.
    jump_to: Option<usize>,
}

impl Spec {
    /// An empty rule: no conditions, no target.
    fn new(mut matches: Vec<Match>) -> Spec {
        matches.clear();
        Spec {
            ip: IpHeaderMatch::default(),
            matches,
            target: Target::None,
            spelling: RuleSpelling::default(),
            unresolved: None,
            jump_to: None,
        }
    }
}

/// `rule-spec := { [!] header-opt | -m name match-opts | implicit-match } [target]`
/// `matches` is a buffer to reuse for the matches.
fn rule_spec(
    cur: &mut Cursor<'_, '_>,
    chains: TableView<'_>,
    matches: Vec<Match>,
) -> Result<Spec, ParseError> {
    let mut spec = Spec::new(matches);
    while cur.peek().is_some() {
        let start = cur.pos;
        let invert = cur.bang();
        let w = cur.value("an option after !")?;
        if w.quoted || !rule_option(cur, &mut spec, invert, w, chains)? {
            cur.pos = start;
            match implicit_match(cur, &spec)? {
                Some(m) => spec.matches.push(m),
                None => return Err(cur.err(w, expected_option(&spec))),
            }
        }
    }
    Ok(spec)
}

/// What may come where an unknown word was found.
fn expected_option(spec: &Spec) -> String {
    let rule_opts = "a rule option (-s, -d, -i, -o, -p, -f, -m, -j, -g)";
    match spec.matches.last() {
        Some(m) if !matches!(m.kind, MatchKind::Other(_)) => {
            format!("an option of -m {} or {rule_opts}", m.module)
        }
        _ => rule_opts.to_string(),
    }
}

/// Handles one rule-level option; `Ok(false)` when `w` is not one.
fn rule_option(
    cur: &mut Cursor<'_, '_>,
    spec: &mut Spec,
    invert: bool,
    w: &Word<'_>,
    chains: TableView<'_>,
) -> Result<bool, ParseError> {
    match w.as_str() {
        "-s" | "--source" | "--src" => {
            let (a, sp, written) = header_addr(cur, spec, invert, w, spec.ip.src.is_some())?;
            spec.ip.src = Some(a);
            spec.spelling.src = sp;
            spec.spelling.src_written = written;
        }
        "-d" | "--destination" | "--dst" => {
            let (a, sp, written) = header_addr(cur, spec, invert, w, spec.ip.dst.is_some())?;
            spec.ip.dst = Some(a);
            spec.spelling.dst = sp;
            spec.spelling.dst_written = written;
        }
        "-i" | "--in-interface" => {
            once(cur, w, spec.ip.in_iface.is_some())?;
            spec.ip.in_iface = Some(header_iface(cur, spec, invert)?);
        }
        "-o" | "--out-interface" => {
            once(cur, w, spec.ip.out_iface.is_some())?;
            spec.ip.out_iface = Some(header_iface(cur, spec, invert)?);
        }
        "-p" | "--protocol" => {
            once(cur, w, spec.ip.proto.is_some())?;
            spec.ip.proto = Some(header_proto(cur, spec, invert)?);
        }
        "-f" | "--fragment" | "--fragments" => {
            once(cur, w, spec.ip.fragment.is_some())?;
            spec.ip.fragment = Some(invert);
        }
        "-m" | "--match" => {
            no_bang(cur, w, invert)?;
            let name = cur.value("a match name")?;
            let m = match_module(cur, name)?;
            spec.matches.push(m);
        }
        "-j" | "--jump" | "-g" | "--goto" => {
            no_bang(cur, w, invert)?;
            once(cur, w, !matches!(spec.target, Target::None))?;
            let goto = w.as_str().starts_with("-g") || w.is("--goto");
            target(cur, spec, goto, chains)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// iptables: "multiple -s flags not allowed".
fn once(cur: &Cursor<'_, '_>, w: &Word<'_>, seen: bool) -> Result<(), ParseError> {
    if seen {
        return Err(cur.err(w, format!("{} only once per rule", w.as_str())));
    }
    Ok(())
}

/// `!` is not allowed before `-m`, `-j`, `-g`.
fn no_bang(cur: &Cursor<'_, '_>, w: &Word<'_>, invert: bool) -> Result<(), ParseError> {
    if invert {
        return Err(cur.err(
            w,
            format!(
                "an option that can be inverted (no ! before {})",
                w.as_str()
            ),
        ));
    }
    Ok(())
}

/// The old `-s ! addr` form (iptables 1.3, early 1.4): `!` after the option.
fn late_bang(cur: &mut Cursor<'_, '_>, spec: &mut Spec, invert: bool) -> Result<bool, ParseError> {
    let start = cur.pos;
    if !cur.bang() {
        return Ok(invert);
    }
    if invert {
        return Err(cur.err(&cur.words[start], "a value (only one !)"));
    }
    spec.spelling.bang_after_option = true;
    Ok(true)
}

/// An address of the header with its spelling, and the address as written when
/// it had host bits outside the mask.
type HeaderAddr = (Neg<AddrMask>, AddrSpelling, Option<Ipv4Addr>);

/// `[!] -s addr[/mask]`
fn header_addr(
    cur: &mut Cursor<'_, '_>,
    spec: &mut Spec,
    invert: bool,
    opt: &Word<'_>,
    seen: bool,
) -> Result<HeaderAddr, ParseError> {
    once(cur, opt, seen)?;
    let invert = late_bang(cur, spec, invert)?;
    let w = cur.value("an IPv4 address")?;
    let (value, spelling, written) = lex::parse_addr_mask_written(w.as_str())
        .ok_or_else(|| cur.err(w, "an IPv4 address[/prefix-length or /dotted-mask]"))?;
    let written = (written != value.addr).then_some(written);
    Ok((Neg { invert, value }, spelling, written))
}

/// `[!] -i name[+]`
fn header_iface(
    cur: &mut Cursor<'_, '_>,
    spec: &mut Spec,
    invert: bool,
) -> Result<Neg<IfaceMatch>, ParseError> {
    let invert = late_bang(cur, spec, invert)?;
    let w = cur.value("an interface name")?;
    let value = IfaceMatch::new(w.as_str())
        .filter(|_| !w.as_str().contains(char::is_whitespace))
        .ok_or_else(|| cur.err(w, "an interface name of 1 to 15 characters"))?;
    Ok(Neg { invert, value })
}

/// `[!] -p name|number`
fn header_proto(
    cur: &mut Cursor<'_, '_>,
    spec: &mut Spec,
    invert: bool,
) -> Result<Neg<Protocol>, ParseError> {
    let invert = late_bang(cur, spec, invert)?;
    let w = cur.value("a protocol")?;
    let value = Protocol::from_spelling(w.as_str())
        .ok_or_else(|| cur.err(w, "a protocol name or number (tcp, udp, icmp, gre, 47, …)"))?;
    Ok(Neg { invert, value })
}

/// `-p tcp --dport 22` without `-m tcp`: iptables-restore loads the protocol's
/// match on its first unknown option (`load_proto` in xshared.c), once per rule.
fn implicit_match(cur: &mut Cursor<'_, '_>, spec: &Spec) -> Result<Option<Match>, ParseError> {
    let Some(proto) = spec.ip.proto.as_ref().filter(|p| !p.invert) else {
        return Ok(None);
    };
    let module = match proto.value.number {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        _ => return Ok(None),
    };
    if spec.matches.iter().any(|m| m.module == module) {
        return Ok(None);
    }
    let save = cur.pos;
    cur.bang();
    let opt = cur.peek().map(|w| w.as_str()).unwrap_or("");
    cur.pos = save;
    let known = match module {
        "icmp" => opt == "--icmp-type",
        "udp" => PORT_OPTIONS.contains(&opt),
        _ => PORT_OPTIONS.contains(&opt) || TCP_OPTIONS.contains(&opt),
    };
    if !known {
        return Ok(None);
    }
    let kind = typed_match(cur, module)?.unwrap_or(MatchKind::Other(Vec::new()));
    Ok(Some(Match {
        module: Text::from_static(module),
        kind,
        implicit: true,
    }))
}

/// Port options of tcp and udp.
const PORT_OPTIONS: &[&str] = &["--sport", "--source-port", "--dport", "--destination-port"];
/// Options only tcp has.
const TCP_OPTIONS: &[&str] = &["--tcp-flags", "--syn", "--tcp-option"];

// ---------------------------------------------------------------------------
// Matches

/// `-m name options…`: a typed match, or the words kept verbatim.
fn match_module(cur: &mut Cursor<'_, '_>, name: &Word<'_>) -> Result<Match, ParseError> {
    let module = name.as_str();
    if module.is_empty() || module.starts_with('-') {
        return Err(cur.err(name, "a match name"));
    }
    let kind = match typed_match(cur, module)? {
        Some(kind) => kind,
        None => MatchKind::Other(other_words(cur)),
    };
    Ok(Match {
        module: static_name(MODULE_NAMES, module).unwrap_or_else(|| cur.ctx.shared(module)),
        kind,
        implicit: false,
    })
}

/// Words up to the next rule-level option, unquoted, `!` included.
fn other_words(cur: &mut Cursor<'_, '_>) -> Vec<String> {
    let mut words = Vec::new();
    while !cur.at_boundary() {
        if let Some(w) = cur.bump() {
            words.push(w.as_str().to_string());
        }
    }
    words
}

/// Parses the options of a module nftrace types; `None` for other modules.
fn typed_match(cur: &mut Cursor<'_, '_>, module: &str) -> Result<Option<MatchKind>, ParseError> {
    let kind = match module {
        "tcp" => MatchKind::Tcp(tcp_match(cur)?),
        "udp" => MatchKind::Udp(udp_match(cur)?),
        "icmp" => MatchKind::Icmp(icmp_match(cur)?),
        "multiport" => MatchKind::Multiport(Box::new(multiport_match(cur)?)),
        "iprange" => MatchKind::Iprange(iprange_match(cur)?),
        "mark" => MatchKind::Mark(mark_match(cur)?),
        "connmark" => MatchKind::Connmark(mark_match(cur)?),
        "conntrack" => MatchKind::Conntrack(conntrack_match(cur)?),
        "state" => MatchKind::State(Box::new(state_match(cur)?)),
        "comment" => MatchKind::Comment(comment_match(cur)?),
        "addrtype" => MatchKind::Addrtype(Box::new(addrtype_match(cur)?)),
        "length" => MatchKind::Length(single(cur, "--length", length_value)?),
        "pkttype" => MatchKind::Pkttype(single(cur, "--pkt-type", pkttype_value)?),
        "ttl" => MatchKind::Ttl(ttl_match(cur)?),
        "tos" => MatchKind::Tos(single(cur, "--tos", tos_value)?),
        "dscp" => MatchKind::Dscp(dscp_match(cur)?),
        "mac" => MatchKind::Mac(single(cur, "--mac-source", mac_value)?),
        "statistic" => MatchKind::Statistic(Box::new(statistic_match(cur)?)),
        "set" => set_match(cur)?,
        _ => return Ok(None),
    };
    Ok(Some(kind))
}

/// One option as a match sees it: `[!] --name`, with `!` also accepted after it.
struct Opt<'w, 'a> {
    invert: bool,
    word: &'w Word<'a>,
}

/// Walks a match's options; `handle` returns `Ok(false)` for an option it does
/// not know, which ends the match there (the rule parser then reports it or
/// starts an implicit match with it).
fn options<'w, 'a>(
    cur: &mut Cursor<'w, 'a>,
    mut handle: impl FnMut(&mut Cursor<'w, 'a>, Opt<'w, 'a>) -> Result<bool, ParseError>,
) -> Result<(), ParseError> {
    while !cur.at_boundary() {
        let start = cur.pos;
        let invert = cur.bang();
        let Some(word) = cur.bump() else { break };
        let invert = invert | cur.bang();
        if word.quoted || !handle(cur, Opt { invert, word })? {
            cur.pos = start;
            break;
        }
    }
    Ok(())
}

/// An option given twice in one match.
fn dup(cur: &Cursor<'_, '_>, w: &Word<'_>) -> ParseError {
    cur.err(w, format!("{} only once in this match", w.as_str()))
}

/// Stores `value` in `slot`, refusing a second one.
fn set_once<T>(
    cur: &Cursor<'_, '_>,
    w: &Word<'_>,
    slot: &mut Option<T>,
    value: T,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(dup(cur, w));
    }
    *slot = Some(value);
    Ok(())
}

/// A match with exactly one option `name value`, e.g. `-m length --length 0:100`.
fn single<T>(
    cur: &mut Cursor<'_, '_>,
    name: &str,
    parse: fn(&mut Cursor<'_, '_>) -> Result<T, ParseError>,
) -> Result<Neg<T>, ParseError> {
    let mut out = None;
    let at = cur.pos;
    options(cur, |cur, o| {
        if !o.word.is(name) {
            return Ok(false);
        }
        let value = parse(cur)?;
        set_once(
            cur,
            o.word,
            &mut out,
            Neg {
                invert: o.invert,
                value,
            },
        )?;
        Ok(true)
    })?;
    out.ok_or_else(|| match cur.words.get(at) {
        Some(w) => cur.err(w, name.to_string()),
        None => cur.ctx.err_end(name.to_string()),
    })
}

/// A port range value `a[:b]`.
fn port_range_value(cur: &mut Cursor<'_, '_>) -> Result<PortRange, ParseError> {
    let w = cur.value("a port or port range")?;
    lex::parse_port_range(w.as_str(), ':').ok_or_else(|| {
        cur.err(
            w,
            "a port or range a:b (numbers 0-65535 or known service names)",
        )
    })
}

/// `-m tcp`: `--sport`, `--dport`, `--tcp-flags`, `--syn`, `--tcp-option`.
fn tcp_match(cur: &mut Cursor<'_, '_>) -> Result<TcpMatch, ParseError> {
    let mut m = TcpMatch::default();
    options(cur, |cur, o| {
        if port_option(cur, &o, &mut m.sport, &mut m.dport)? {
            return Ok(true);
        }
        match o.word.as_str() {
            "--tcp-flags" => {
                let mask = tcp_flags_value(cur)?;
                let comp = tcp_flags_value(cur)?;
                set_once(
                    cur,
                    o.word,
                    &mut m.flags,
                    Neg {
                        invert: o.invert,
                        value: (mask, comp),
                    },
                )?;
            }
            "--syn" => set_once(
                cur,
                o.word,
                &mut m.flags,
                Neg {
                    invert: o.invert,
                    value: (0x17, 0x02),
                },
            )?,
            "--tcp-option" => {
                let w = cur.value("a TCP option number")?;
                let v = lex::parse_u8(w.as_str())
                    .ok_or_else(|| cur.err(w, "a TCP option number 0-255"))?;
                set_once(
                    cur,
                    o.word,
                    &mut m.option,
                    Neg {
                        invert: o.invert,
                        value: v,
                    },
                )?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(m)
}

/// `[!] --sport|--dport a[:b]` of tcp and udp; `Ok(false)` for other options.
fn port_option(
    cur: &mut Cursor<'_, '_>,
    o: &Opt<'_, '_>,
    sport: &mut Option<Neg<PortRange>>,
    dport: &mut Option<Neg<PortRange>>,
) -> Result<bool, ParseError> {
    let slot = match o.word.as_str() {
        "--sport" | "--source-port" => sport,
        "--dport" | "--destination-port" => dport,
        _ => return Ok(false),
    };
    let value = port_range_value(cur)?;
    set_once(
        cur,
        o.word,
        slot,
        Neg {
            invert: o.invert,
            value,
        },
    )?;
    Ok(true)
}

/// TCP flag names in header order (`tcp_flag_names` in libxt_tcp.c).
pub const TCP_FLAGS: &[(&str, TcpFlagBits)] = &[
    ("FIN", 0x01),
    ("SYN", 0x02),
    ("RST", 0x04),
    ("PSH", 0x08),
    ("ACK", 0x10),
    ("URG", 0x20),
    ("ALL", 0x3f),
    ("NONE", 0),
];

/// `FLAG[,FLAG…]`
fn tcp_flags_value(cur: &mut Cursor<'_, '_>) -> Result<TcpFlagBits, ParseError> {
    let w = cur.value("TCP flags such as SYN,ACK")?;
    let mut bits = 0;
    for name in w.as_str().split(',') {
        let flag = TCP_FLAGS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| cur.err(w, "TCP flags from FIN,SYN,RST,PSH,ACK,URG,ALL,NONE"))?;
        bits |= flag.1;
    }
    Ok(bits)
}

/// `-m udp`: `--sport`, `--dport`.
fn udp_match(cur: &mut Cursor<'_, '_>) -> Result<UdpMatch, ParseError> {
    let mut m = UdpMatch::default();
    options(cur, |cur, o| {
        port_option(cur, &o, &mut m.sport, &mut m.dport)
    })?;
    Ok(m)
}

/// `-m icmp [!] --icmp-type type[/code]|name|any`
fn icmp_match(cur: &mut Cursor<'_, '_>) -> Result<IcmpMatch, ParseError> {
    let neg = single(cur, "--icmp-type", |cur| {
        let w = cur.value("an ICMP type")?;
        lex::parse_icmp_type(w.as_str()).ok_or_else(|| {
            cur.err(
                w,
                "an ICMP type: number[/code], a name such as echo-request, or any",
            )
        })
    })?;
    let (icmp_type, code_min, code_max) = neg.value;
    Ok(IcmpMatch {
        invert: neg.invert,
        icmp_type,
        code_min,
        code_max,
    })
}

/// Most ports/ranges `-m multiport` takes (`XT_MULTI_PORTS`).
const MULTIPORT_MAX: usize = 15;

/// `-m multiport [!] --dports|--sports|--ports p[,p|,a:b…]`
fn multiport_match(cur: &mut Cursor<'_, '_>) -> Result<MultiportMatch, ParseError> {
    let mut out = None;
    options(cur, |cur, o| {
        let dir = match o.word.as_str() {
            "--sports" | "--source-ports" => MultiportDir::Source,
            "--dports" | "--destination-ports" => MultiportDir::Destination,
            "--ports" => MultiportDir::Either,
            _ => return Ok(false),
        };
        let ports = port_list(cur)?;
        let m = MultiportMatch {
            invert: o.invert,
            dir,
            ports,
        };
        set_once(cur, o.word, &mut out, m)?;
        Ok(true)
    })?;
    out.ok_or_else(|| missing(cur, "--dports, --sports or --ports"))
}

/// The error for a match without its required option.
fn missing(cur: &Cursor<'_, '_>, expected: &str) -> ParseError {
    match cur.peek() {
        Some(w) => cur.err(w, expected.to_string()),
        None => cur.ctx.err_end(expected.to_string()),
    }
}

/// `p[,p…]` with ranges `a:b`, at most 15 entries.
fn port_list(cur: &mut Cursor<'_, '_>) -> Result<Vec<PortRange>, ParseError> {
    let w = cur.value("a port list")?;
    let ports: Option<Vec<PortRange>> = w
        .as_str()
        .split(',')
        .map(|p| lex::parse_port_range(p, ':'))
        .collect();
    match ports {
        Some(p) if p.len() <= MULTIPORT_MAX => Ok(p),
        _ => Err(cur.err(
            w,
            "a list of at most 15 ports or ranges a:b, separated by commas",
        )),
    }
}

/// `-m iprange [!] --src-range a-b [!] --dst-range a-b`
fn iprange_match(cur: &mut Cursor<'_, '_>) -> Result<IprangeMatch, ParseError> {
    let mut m = IprangeMatch::default();
    options(cur, |cur, o| {
        let slot = match o.word.as_str() {
            "--src-range" => &mut m.src,
            "--dst-range" => &mut m.dst,
            _ => return Ok(false),
        };
        let w = cur.value("an address range")?;
        let r = lex::parse_ipv4_range(w.as_str())
            .ok_or_else(|| cur.err(w, "an IPv4 address range a-b"))?;
        set_once(
            cur,
            o.word,
            slot,
            Neg {
                invert: o.invert,
                value: r,
            },
        )?;
        Ok(true)
    })?;
    Ok(m)
}

/// `-m mark|connmark [!] --mark value[/mask]`
fn mark_match(cur: &mut Cursor<'_, '_>) -> Result<MarkMatch, ParseError> {
    let neg = single(cur, "--mark", |cur| {
        let w = cur.value("a mark value[/mask]")?;
        lex::parse_value_mask(w.as_str())
            .ok_or_else(|| cur.err(w, "a mark value[/mask], e.g. 0x4000/0x4000"))
    })?;
    let (value, mask) = neg.value;
    Ok(MarkMatch {
        invert: neg.invert,
        value,
        mask: mask.unwrap_or(u32::MAX),
    })
}

/// `--state`/`--ctstate` names.
fn ct_states(cur: &mut Cursor<'_, '_>, allow_nat: bool) -> Result<CtStateSet, ParseError> {
    let w = cur.value("conntrack states")?;
    let mut set = CtStateSet::default();
    for name in w.as_str().split(',') {
        let bit = match name {
            "INVALID" => &mut set.invalid,
            "NEW" => &mut set.new,
            "ESTABLISHED" => &mut set.established,
            "RELATED" => &mut set.related,
            "UNTRACKED" => &mut set.untracked,
            "SNAT" if allow_nat => &mut set.snat,
            "DNAT" if allow_nat => &mut set.dnat,
            _ => {
                let names = if allow_nat {
                    "INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED, SNAT, DNAT"
                } else {
                    "INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED"
                };
                return Err(cur.err(w, format!("states from {names}, separated by commas")));
            }
        };
        *bit = true;
        set.names.push(name.to_string());
    }
    Ok(set)
}

/// `-m state [!] --state S[,S…]`
fn state_match(cur: &mut Cursor<'_, '_>) -> Result<Neg<CtStateSet>, ParseError> {
    single(cur, "--state", |cur| ct_states(cur, false))
}

/// `-m conntrack`: each `[!] --ct… value` is one condition, in written order.
fn conntrack_match(cur: &mut Cursor<'_, '_>) -> Result<Vec<Neg<CtCondition>>, ParseError> {
    let mut conds = Vec::new();
    options(cur, |cur, o| {
        let Some(value) = ct_condition(cur, o.word.as_str())? else {
            return Ok(false);
        };
        conds.push(Neg {
            invert: o.invert,
            value,
        });
        Ok(true)
    })?;
    if conds.is_empty() {
        return Err(missing(cur, "a conntrack option such as --ctstate"));
    }
    Ok(conds)
}

/// The value of one conntrack option; `None` when `opt` is not one.
fn ct_condition(cur: &mut Cursor<'_, '_>, opt: &str) -> Result<Option<CtCondition>, ParseError> {
    let c = match opt {
        "--ctstate" => CtCondition::State(ct_states(cur, true)?),
        "--ctstatus" => CtCondition::Status(ct_status(cur)?),
        "--ctproto" => {
            let w = cur.value("a protocol")?;
            lex::parse_protocol(w.as_str())
                .ok_or_else(|| cur.err(w, "a protocol name or number"))?;
            CtCondition::Proto(w.as_str().to_string())
        }
        "--ctorigsrc" => CtCondition::OrigSrc(ct_addr(cur)?),
        "--ctorigdst" => CtCondition::OrigDst(ct_addr(cur)?),
        "--ctreplsrc" => CtCondition::ReplSrc(ct_addr(cur)?),
        "--ctrepldst" => CtCondition::ReplDst(ct_addr(cur)?),
        "--ctorigsrcport" => CtCondition::OrigSrcPort(port_range_value(cur)?),
        "--ctorigdstport" => CtCondition::OrigDstPort(port_range_value(cur)?),
        "--ctreplsrcport" => CtCondition::ReplSrcPort(port_range_value(cur)?),
        "--ctrepldstport" => CtCondition::ReplDstPort(port_range_value(cur)?),
        "--ctdir" => {
            let w = cur.value("ORIGINAL or REPLY")?;
            match w.as_str() {
                "ORIGINAL" => CtCondition::DirOriginal(true),
                "REPLY" => CtCondition::DirOriginal(false),
                _ => return Err(cur.err(w, "ORIGINAL or REPLY")),
            }
        }
        "--ctexpire" => {
            let w = cur.value("seconds[:seconds]")?;
            let ok = w.as_str().split(':').all(|p| lex::parse_u32(p).is_some());
            if !ok || w.as_str().split(':').count() > 2 {
                return Err(cur.err(w, "a time in seconds or a range a:b"));
            }
            CtCondition::Expire(w.as_str().to_string())
        }
        _ => return Ok(None),
    };
    Ok(Some(c))
}

/// `--ctstatus NONE|EXPECTED|SEEN_REPLY|ASSURED|CONFIRMED[,…]`
fn ct_status(cur: &mut Cursor<'_, '_>) -> Result<Vec<String>, ParseError> {
    let w = cur.value("conntrack status names")?;
    let known = ["NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];
    if !w.as_str().split(',').all(|n| known.contains(&n)) {
        return Err(cur.err(
            w,
            "status names from NONE, EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED",
        ));
    }
    Ok(w.as_str().split(',').map(str::to_string).collect())
}

/// An address of a conntrack tuple option.
fn ct_addr(cur: &mut Cursor<'_, '_>) -> Result<AddrMask, ParseError> {
    let w = cur.value("an IPv4 address")?;
    lex::parse_addr_mask(w.as_str())
        .map(|(a, _)| a)
        .ok_or_else(|| cur.err(w, "an IPv4 address[/mask]"))
}

/// `-m comment --comment TEXT`
fn comment_match(cur: &mut Cursor<'_, '_>) -> Result<Text, ParseError> {
    let neg = single(cur, "--comment", |cur| {
        let w = cur.value("a comment")?;
        Ok(cur.ctx.shared(w.as_str()))
    })?;
    Ok(neg.value)
}

/// `-m addrtype [!] --src-type T[,T] [!] --dst-type T [--limit-iface-in|out]`
fn addrtype_match(cur: &mut Cursor<'_, '_>) -> Result<AddrtypeMatch, ParseError> {
    let mut m = AddrtypeMatch::default();
    options(cur, |cur, o| {
        match o.word.as_str() {
            "--src-type" => {
                let v = addr_types(cur)?;
                set_once(
                    cur,
                    o.word,
                    &mut m.src_type,
                    Neg {
                        invert: o.invert,
                        value: v,
                    },
                )?;
            }
            "--dst-type" => {
                let v = addr_types(cur)?;
                set_once(
                    cur,
                    o.word,
                    &mut m.dst_type,
                    Neg {
                        invert: o.invert,
                        value: v,
                    },
                )?;
            }
            "--limit-iface-in" => m.limit_iface_in = true,
            "--limit-iface-out" => m.limit_iface_out = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(m)
}

/// Route types of `-m addrtype` (`rtn_names` in libxt_addrtype.c).
const ADDR_TYPES: &[&str] = &[
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];

/// `TYPE[,TYPE…]`
fn addr_types(cur: &mut Cursor<'_, '_>) -> Result<Vec<String>, ParseError> {
    let w = cur.value("address types such as LOCAL")?;
    let names: Vec<String> = w.as_str().split(',').map(str::to_string).collect();
    if !names
        .iter()
        .all(|n| ADDR_TYPES.iter().any(|t| t.eq_ignore_ascii_case(n)))
    {
        return Err(cur.err(w, "address types from UNICAST, LOCAL, BROADCAST, ANYCAST, MULTICAST, BLACKHOLE, UNREACHABLE, PROHIBIT, THROW, NAT, XRESOLVE, UNSPEC"));
    }
    Ok(names)
}

/// `--length a[:b]`
fn length_value(cur: &mut Cursor<'_, '_>) -> Result<PortRange, ParseError> {
    let w = cur.value("a length or range")?;
    lex::parse_port_range(w.as_str(), ':')
        .ok_or_else(|| cur.err(w, "a length or range a:b (0-65535)"))
}

/// `--pkt-type unicast|broadcast|multicast|host|otherhost|outgoing|loopback`
fn pkttype_value(cur: &mut Cursor<'_, '_>) -> Result<String, ParseError> {
    let w = cur.value("a packet type")?;
    let known = [
        "unicast",
        "broadcast",
        "multicast",
        "host",
        "otherhost",
        "outgoing",
        "loopback",
    ];
    if !known.contains(&w.as_str()) {
        return Err(cur.err(
            w,
            "a packet type: unicast, broadcast, multicast, host, otherhost, outgoing, loopback",
        ));
    }
    Ok(w.as_str().to_string())
}

/// `-m ttl [!] --ttl-eq|--ttl-lt|--ttl-gt N`
fn ttl_match(cur: &mut Cursor<'_, '_>) -> Result<Neg<(TtlOp, u8)>, ParseError> {
    let mut out = None;
    options(cur, |cur, o| {
        let op = match o.word.as_str() {
            "--ttl-eq" => TtlOp::Eq,
            "--ttl-lt" => TtlOp::Lt,
            "--ttl-gt" => TtlOp::Gt,
            _ => return Ok(false),
        };
        let w = cur.value("a TTL")?;
        let v = lex::parse_u8(w.as_str()).ok_or_else(|| cur.err(w, "a TTL 0-255"))?;
        set_once(
            cur,
            o.word,
            &mut out,
            Neg {
                invert: o.invert,
                value: (op, v),
            },
        )?;
        Ok(true)
    })?;
    out.ok_or_else(|| missing(cur, "--ttl-eq, --ttl-lt or --ttl-gt"))
}

/// `--tos value[/mask]|name`
fn tos_value(cur: &mut Cursor<'_, '_>) -> Result<(u8, u8), ParseError> {
    let w = cur.value("a TOS value")?;
    lex::parse_tos(w.as_str(), 0xff)
        .ok_or_else(|| cur.err(w, "a TOS value[/mask] (0-255) or a TOS name"))
}

/// `-m dscp [!] --dscp N | --dscp-class NAME`
fn dscp_match(cur: &mut Cursor<'_, '_>) -> Result<Neg<u8>, ParseError> {
    let mut out = None;
    options(cur, |cur, o| {
        let v = match o.word.as_str() {
            "--dscp" => dscp_number(cur)?,
            "--dscp-class" => dscp_class(cur)?,
            _ => return Ok(false),
        };
        set_once(
            cur,
            o.word,
            &mut out,
            Neg {
                invert: o.invert,
                value: v,
            },
        )?;
        Ok(true)
    })?;
    out.ok_or_else(|| missing(cur, "--dscp or --dscp-class"))
}

/// A DSCP value 0–63.
fn dscp_number(cur: &mut Cursor<'_, '_>) -> Result<u8, ParseError> {
    let w = cur.value("a DSCP value")?;
    lex::parse_u8(w.as_str())
        .filter(|v| *v < 64)
        .ok_or_else(|| cur.err(w, "a DSCP value 0-63 (0x00-0x3f)"))
}

/// A DSCP class name.
fn dscp_class(cur: &mut Cursor<'_, '_>) -> Result<u8, ParseError> {
    let w = cur.value("a DSCP class")?;
    lex::parse_dscp_class(w.as_str())
        .ok_or_else(|| cur.err(w, "a DSCP class such as EF, AF41, CS1"))
}

/// `--mac-source XX:XX:XX:XX:XX:XX`
fn mac_value(cur: &mut Cursor<'_, '_>) -> Result<[u8; 6], ParseError> {
    let w = cur.value("a MAC address")?;
    lex::parse_mac(w.as_str()).ok_or_else(|| cur.err(w, "a MAC address XX:XX:XX:XX:XX:XX"))
}

/// `-m statistic --mode random [!] --probability P | --mode nth [!] --every N [--packet P]`
fn statistic_match(cur: &mut Cursor<'_, '_>) -> Result<Neg<StatisticMode>, ParseError> {
    let (mut mode, mut prob, mut every, mut packet, mut invert) = (None, None, None, None, false);
    options(cur, |cur, o| {
        invert |= o.invert;
        let w = cur.value("a value")?;
        match o.word.as_str() {
            "--mode" if matches!(w.as_str(), "random" | "nth") => mode = Some(w),
            "--mode" => return Err(cur.err(w, "random or nth")),
            "--probability" => {
                let p: f64 = w
                    .as_str()
                    .parse()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| cur.err(w, "a probability between 0 and 1"))?;
                prob = Some((p, cur.ctx.shared(w.as_str())));
            }
            "--every" => {
                every = Some(
                    lex::parse_u32(w.as_str())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| cur.err(w, "a number above 0"))?,
                )
            }
            "--packet" => {
                packet = Some(lex::parse_u32(w.as_str()).ok_or_else(|| cur.err(w, "a number"))?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let value = match (mode.map(|w| w.as_str()), prob, every) {
        (Some("random"), Some((probability, text)), _) => {
            StatisticMode::Random { probability, text }
        }
        (Some("nth"), _, Some(every)) => StatisticMode::Nth {
            every,
            packet: packet.unwrap_or(0),
        },
        (Some("random"), _, _) => return Err(missing(cur, "--probability P")),
        (Some(_), _, _) => return Err(missing(cur, "--every N")),
        (None, _, _) => return Err(missing(cur, "--mode random or --mode nth")),
    };
    Ok(Neg { invert, value })
}

/// `-m set [!] --match-set NAME dir[,dir…] [flags…]`
fn set_match(cur: &mut Cursor<'_, '_>) -> Result<MatchKind, ParseError> {
    let start = cur.pos;
    let invert = cur.bang();
    let opt = cur.value("--match-set")?;
    let invert = invert | cur.bang();
    if !(opt.is("--match-set") || opt.is("--set")) {
        cur.pos = start;
        return Err(missing(cur, "--match-set NAME src|dst[,…]"));
    }
    let name = cur.value("a set name")?.as_str().to_string();
    let dirs = cur.value("src or dst flags")?;
    if !dirs.as_str().split(',').all(|d| d == "src" || d == "dst") {
        return Err(cur.err(dirs, "src or dst, separated by commas (e.g. src,dst)"));
    }
    let dirs = dirs.as_str().split(',').map(str::to_string).collect();
    let rest = other_words(cur);
    Ok(MatchKind::Set(Box::new(SetMatch {
        invert,
        name,
        dirs,
        rest,
    })))
}

// ---------------------------------------------------------------------------
// Targets

/// `-j NAME [options…]` or `-g CHAIN`: target options run to the end of the line.
fn target(
    cur: &mut Cursor<'_, '_>,
    spec: &mut Spec,
    goto: bool,
    chains: TableView<'_>,
) -> Result<(), ParseError> {
    let name_word = cur.value(if goto {
        "a chain name"
    } else {
        "a target or chain name"
    })?;
    let name = name_word.as_str();
    let mut args = Cursor {
        words: &cur.words[cur.pos..],
        pos: 0,
        ctx: cur.ctx,
    };
    cur.pos = cur.words.len();
    if name.is_empty() || name.starts_with('-') || name.starts_with('!') {
        return Err(cur.err(name_word, "a target or chain name"));
    }
    let chain = chains.chain(name, cur.ctx.line);
    spec.target = if goto || chain.is_some() {
        spec.unresolved = Some(name_word.start);
        spec.jump_to = chain.as_ref().map(|&(_, i)| i);
        no_args(&args, name)?;
        let chain = chain.map_or_else(|| cur.ctx.shared(name), |(k, _)| k);
        if goto {
            Target::Goto(chain)
        } else {
            Target::Jump(chain)
        }
    } else if let Some(t) = typed_target(&mut args, name)? {
        if let Some(extra) = args.peek() {
            return Err(args.err(extra, format!("an option of -j {name}")));
        }
        t
    } else if args.words.is_empty() {
        spec.unresolved = Some(name_word.start);
        Target::Jump(cur.ctx.shared(name))
    } else {
        let args = args.words.iter().map(|w| w.as_str().to_string()).collect();
        Target::Other {
            name: name.into(),
            args,
        }
    };
    Ok(())
}

/// Standard targets and jumps take no options.
fn no_args(args: &Cursor<'_, '_>, name: &str) -> Result<(), ParseError> {
    match args.peek() {
        Some(w) => Err(args.err(w, format!("end of line ({name} takes no options)"))),
        None => Ok(()),
    }
}

/// Targets nftrace types; `None` for other names (chains or untyped extensions).
fn typed_target(args: &mut Cursor<'_, '_>, name: &str) -> Result<Option<Target>, ParseError> {
    let t = match name {
        "ACCEPT" | "DROP" | "RETURN" | "QUEUE" | "TRACE" | "NOTRACK" => {
            no_args(args, name)?;
            match name {
                "ACCEPT" => Target::Accept,
                "DROP" => Target::Drop,
                "RETURN" => Target::Return,
                "QUEUE" => Target::Queue,
                "TRACE" => Target::Trace,
                _ => Target::Notrack,
            }
        }
        "REJECT" => reject_target(args)?,
        "LOG" => Target::Log(rest_words(args)),
        "NFLOG" => Target::Nflog(rest_words(args)),
        "NFQUEUE" => {
            let words = rest_words(args);
            let bypass = words.iter().any(|w| w == "--queue-bypass");
            Target::Nfqueue {
                bypass,
                args: words,
            }
        }
        "MARK" => Target::Mark(mark_target(args)?),
        "CONNMARK" => Target::Connmark(Box::new(connmark_target(args)?)),
        "SNAT" | "DNAT" => nat_target(args, name == "SNAT")?,
        "MASQUERADE" | "REDIRECT" => ports_target(args, name == "MASQUERADE")?,
        "NETMAP" => netmap_target(args)?,
        "CT" => ct_target(args)?,
        "TTL" => Target::Ttl(ttl_target(args)?),
        "TOS" => tos_target(args)?,
        "DSCP" => dscp_target(args)?,
        _ => return Ok(None),
    };
    Ok(Some(t))
}

/// `-j CT [--notrack] [--zone N] …`: the zone is read; the other options are
/// kept as written.
fn ct_target(args: &mut Cursor<'_, '_>) -> Result<Target, ParseError> {
    let first = args.pos;
    let mut zone = None;
    while let Some(w) = args.bump() {
        if w.as_str() == "--zone" {
            let v = args.value("a zone number or mark")?;
            if v.as_str() != "mark" {
                let n = lex::parse_u32(v.as_str()).and_then(|n| u16::try_from(n).ok());
                zone = Some(n.ok_or_else(|| args.err(v, "a zone 0-65535, or mark"))?);
            }
        }
    }
    args.pos = first;
    let words = rest_words(args);
    let notrack = words.iter().any(|w| w == "--notrack");
    Ok(Target::Ct {
        notrack,
        zone,
        args: words,
    })
}

/// All remaining words, unquoted.
fn rest_words(args: &mut Cursor<'_, '_>) -> Vec<String> {
    let words = args.words[args.pos..]
        .iter()
        .map(|w| w.as_str().to_string())
        .collect();
    args.pos = args.words.len();
    words
}

/// The next word as a target option name (no `!` in targets).
fn target_opt<'w, 'a>(args: &mut Cursor<'w, 'a>) -> Option<&'w Word<'a>> {
    args.bump()
}

/// `REJECT [--reject-with TYPE]` (`ipt_REJECT.c`; default icmp-port-unreachable).
fn reject_target(args: &mut Cursor<'_, '_>) -> Result<Target, ParseError> {
    let mut with = None;
    while let Some(opt) = target_opt(args) {
        if !opt.is("--reject-with") {
            return Err(args.err(opt, "--reject-with"));
        }
        let w = args.value("an ICMP error type or tcp-reset")?;
        if !REJECT_TYPES.contains(&w.as_str()) {
            return Err(args.err(
                w,
                "a reject type such as icmp-port-unreachable, icmp-host-prohibited or tcp-reset",
            ));
        }
        set_once(args, opt, &mut with, w.as_str().to_string())?;
    }
    let name = with.unwrap_or_else(|| "icmp-port-unreachable".to_string());
    Ok(Target::Reject(RejectWith { name }))
}

/// `--reject-with` names and aliases (`reject_table` in libipt_REJECT.c).
const REJECT_TYPES: &[&str] = &[
    "icmp-net-unreachable",
    "net-unreach",
    "icmp-host-unreachable",
    "host-unreach",
    "icmp-proto-unreachable",
    "proto-unreach",
    "icmp-port-unreachable",
    "port-unreach",
    "icmp-net-prohibited",
    "net-prohib",
    "icmp-host-prohibited",
    "host-prohib",
    "icmp-admin-prohibited",
    "admin-prohib",
    "tcp-reset",
    "tcp-rst",
    "icmp-echo-reply",
    "echo-reply",
];

/// A MARK-style operation with the encodings of kernel-semantics.md §4
/// (`mark_tg_parse` in libxt_MARK.c; CONNMARK's set options use the same).
fn mark_op(args: &mut Cursor<'_, '_>, opt: &Word<'_>) -> Result<Option<MarkOp>, ParseError> {
    let spelling = match opt.as_str() {
        "--set-xmark" => MarkSpelling::SetXmark,
        "--set-mark" => MarkSpelling::SetMark,
        "--and-mark" => MarkSpelling::AndMark,
        "--or-mark" => MarkSpelling::OrMark,
        "--xor-mark" => MarkSpelling::XorMark,
        _ => return Ok(None),
    };
    let w = args.value("a mark value")?;
    let parsed = lex::parse_value_mask(w.as_str());
    let masked = matches!(spelling, MarkSpelling::SetXmark | MarkSpelling::SetMark);
    let (v, m) = match parsed {
        Some((v, m)) if masked || m.is_none() => (v, m),
        _ if masked => return Err(args.err(w, "a mark value[/mask], e.g. 0x1/0xff")),
        _ => return Err(args.err(w, "a mark value (no mask), e.g. 0x1")),
    };
    let (value, mask) = match spelling {
        MarkSpelling::SetXmark => (v, m.unwrap_or(u32::MAX)),
        MarkSpelling::SetMark => (v, m.map_or(u32::MAX, |m| v | m)),
        MarkSpelling::AndMark => (0, !v),
        MarkSpelling::OrMark => (v, v),
        MarkSpelling::XorMark => (v, 0),
    };
    Ok(Some(MarkOp {
        value,
        mask,
        spelling,
    }))
}

/// `-j MARK --set-xmark v/m | --set-mark v[/m] | --and-mark | --or-mark | --xor-mark`
fn mark_target(args: &mut Cursor<'_, '_>) -> Result<MarkOp, ParseError> {
    let mut out = None;
    while let Some(opt) = target_opt(args) {
        let op = mark_op(args, opt)?.ok_or_else(|| {
            args.err(
                opt,
                "--set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark",
            )
        })?;
        if out.is_some() {
            return Err(args.err(opt, "one MARK operation per rule"));
        }
        out = Some(op);
    }
    out.ok_or_else(|| {
        missing(
            args,
            "--set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark",
        )
    })
}

/// `-j CONNMARK`: a set operation, or `--save-mark`/`--restore-mark` with masks
/// (`connmark_tg_parse` in libxt_CONNMARK.c; nfmask = ctmask = 0xffffffff by default).
fn connmark_target(args: &mut Cursor<'_, '_>) -> Result<ConnmarkOp, ParseError> {
    let (mut set, mut mode, mut nfmask, mut ctmask) = (None, None, u32::MAX, u32::MAX);
    let mut shift = MarkShift::default();
    let first = args.pos;
    while let Some(opt) = target_opt(args) {
        if let Some(op) = mark_op(args, opt)? {
            set_once(args, opt, &mut set, op)?;
            continue;
        }
        match opt.as_str() {
            "--save-mark" | "--restore-mark" => set_once(args, opt, &mut mode, opt.as_str() == "--save-mark")?,
            "--nfmask" => nfmask = mask_value(args)?,
            "--ctmask" => ctmask = mask_value(args)?,
            "--mask" => {
                nfmask = mask_value(args)?;
                ctmask = nfmask;
            }
            // The later of the two options wins (`connmark_tg_parse_v2`). iptables
            // takes up to 32, but this kernel refuses 32 at COMMIT
            // (fixtures/kernel-refusals.json).
            "--left-shift-mark" | "--right-shift-mark" => {
                let w = args.value("a shift count")?;
                let bits = lex::parse_u32(w.as_str())
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| *n < 32)
                    .ok_or_else(|| args.err(w, "a shift count 0-31"))?;
                shift = MarkShift {
                    right: opt.as_str() == "--right-shift-mark",
                    bits,
                };
            }
            _ => return Err(args.err(opt, "a CONNMARK option (--set-xmark, --save-mark, --restore-mark, --nfmask, --ctmask, --mask)")),
        }
    }
    let text = args.words[first..]
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    match (set, mode) {
        (Some(op), None) => Ok(ConnmarkOp::Set { op, shift }),
        (None, Some(true)) => Ok(ConnmarkOp::Save {
            nfmask,
            ctmask,
            shift,
            text,
        }),
        (None, Some(false)) => Ok(ConnmarkOp::Restore {
            nfmask,
            ctmask,
            shift,
            text,
        }),
        _ => Err(missing(
            args,
            "exactly one of --set-xmark, --save-mark, --restore-mark",
        )),
    }
}

/// A 32-bit mask value.
fn mask_value(args: &mut Cursor<'_, '_>) -> Result<u32, ParseError> {
    let w = args.value("a mask")?;
    lex::parse_u32(w.as_str()).ok_or_else(|| args.err(w, "a 32-bit mask such as 0xff"))
}

/// `-j SNAT --to-source R… | -j DNAT --to-destination R…` plus flags.
fn nat_target(args: &mut Cursor<'_, '_>, snat: bool) -> Result<Target, ParseError> {
    let to = if snat {
        "--to-source"
    } else {
        "--to-destination"
    };
    let mut ranges = Vec::new();
    let mut flags = NatFlags::default();
    while let Some(opt) = target_opt(args) {
        match opt.as_str() {
            o if o == to => {
                let w = args.value(to)?;
                let r = nat_range(w.as_str())
                    .ok_or_else(|| args.err(w, format!("{to} takes [ip[-ip]][:port[-port]]")))?;
                ranges.push(r);
            }
            _ if nat_flag(opt, &mut flags) => {}
            _ => {
                return Err(args.err(
                    opt,
                    format!("{to}, --random, --random-fully or --persistent"),
                ))
            }
        }
    }
    if ranges.is_empty() {
        return Err(missing(args, to));
    }
    Ok(if snat {
        Target::Snat { ranges, flags }
    } else {
        Target::Dnat { ranges, flags }
    })
}

/// `--random`, `--random-fully`, `--persistent`.
fn nat_flag(opt: &Word<'_>, flags: &mut NatFlags) -> bool {
    match opt.as_str() {
        "--random" => flags.random = true,
        "--random-fully" => flags.random_fully = true,
        "--persistent" => flags.persistent = true,
        _ => return false,
    }
    true
}

/// `[ip[-ip]][:port[-port]]` (`parse_to` in libipt_DNAT.c).
pub fn nat_range(s: &str) -> Option<NatRange> {
    let (ips, ports) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addrs = if ips.is_empty() {
        None
    } else {
        Some(lex::parse_ipv4_range(ips)?)
    };
    let ports = match ports {
        Some(p) => Some(lex::parse_port_range(p, '-')?),
        None => None,
    };
    (addrs.is_some() || ports.is_some()).then_some(NatRange { addrs, ports })
}

/// `-j MASQUERADE|REDIRECT [--to-ports a[-b]] [--random] [--random-fully]`
fn ports_target(args: &mut Cursor<'_, '_>, masquerade: bool) -> Result<Target, ParseError> {
    let mut ports = None;
    let mut flags = NatFlags::default();
    while let Some(opt) = target_opt(args) {
        match opt.as_str() {
            "--to-ports" => {
                let w = args.value("a port or range")?;
                let r = lex::parse_port_range(w.as_str(), '-')
                    .ok_or_else(|| args.err(w, "--to-ports takes port[-port]"))?;
                set_once(args, opt, &mut ports, r)?;
            }
            "--persistent" => return Err(args.err(opt, "--to-ports, --random or --random-fully")),
            _ if nat_flag(opt, &mut flags) => {}
            _ => return Err(args.err(opt, "--to-ports, --random or --random-fully")),
        }
    }
    Ok(if masquerade {
        Target::Masquerade { ports, flags }
    } else {
        Target::Redirect { ports, flags }
    })
}

/// `-j NETMAP --to a.b.c.d/len`
fn netmap_target(args: &mut Cursor<'_, '_>) -> Result<Target, ParseError> {
    let mut to = None;
    while let Some(opt) = target_opt(args) {
        if !opt.is("--to") {
            return Err(args.err(opt, "--to"));
        }
        let w = args.value("a network")?;
        let net = lex::parse_addr_mask(w.as_str())
            .and_then(|(a, _)| a.prefix_len().map(|l| (a.addr, l)))
            .and_then(|(a, l)| ipnet::Ipv4Net::new(a, l).ok())
            .ok_or_else(|| args.err(w, "--to takes an IPv4 network a.b.c.d/len"))?;
        set_once(args, opt, &mut to, net)?;
    }
    let to = to.ok_or_else(|| missing(args, "--to a.b.c.d/len"))?;
    Ok(Target::Netmap { to })
}

/// `-j TTL --ttl-set|--ttl-dec|--ttl-inc N`
fn ttl_target(args: &mut Cursor<'_, '_>) -> Result<TtlTargetOp, ParseError> {
    let mut out = None;
    while let Some(opt) = target_opt(args) {
        let make: fn(u8) -> TtlTargetOp = match opt.as_str() {
            "--ttl-set" => TtlTargetOp::Set,
            "--ttl-dec" => TtlTargetOp::Dec,
            "--ttl-inc" => TtlTargetOp::Inc,
            _ => return Err(args.err(opt, "--ttl-set, --ttl-dec or --ttl-inc")),
        };
        let w = args.value("a TTL value")?;
        let v = lex::parse_u8(w.as_str()).ok_or_else(|| args.err(w, "a TTL value 0-255"))?;
        set_once(args, opt, &mut out, make(v))?;
    }
    out.ok_or_else(|| missing(args, "--ttl-set, --ttl-dec or --ttl-inc"))
}

/// `-j TOS --set-tos v[/m]|name | --and-tos | --or-tos | --xor-tos` (libxt_TOS.c).
fn tos_target(args: &mut Cursor<'_, '_>) -> Result<Target, ParseError> {
    let first = args.pos;
    let mut out = None;
    while let Some(opt) = target_opt(args) {
        let w = args.value("a TOS value")?;
        let bad = || args.err(w, "a TOS value[/mask] (0-255) or a TOS name");
        let (value, mask) = match opt.as_str() {
            "--set-tos" => lex::parse_tos(w.as_str(), 0xff).ok_or_else(bad)?,
            "--and-tos" => (0, !lex::parse_u8(w.as_str()).ok_or_else(bad)?),
            "--or-tos" => lex::parse_u8(w.as_str()).map(|b| (b, b)).ok_or_else(bad)?,
            "--xor-tos" => lex::parse_u8(w.as_str()).map(|b| (b, 0)).ok_or_else(bad)?,
            _ => return Err(args.err(opt, "--set-tos, --and-tos, --or-tos or --xor-tos")),
        };
        set_once(args, opt, &mut out, (value, mask))?;
    }
    let (value, mask) = out.ok_or_else(|| missing(args, "--set-tos value[/mask]"))?;
    let words = args.words[first..]
        .iter()
        .map(|w| w.as_str().to_string())
        .collect();
    Ok(Target::Tos {
        value,
        mask,
        args: words,
    })
}

/// `-j DSCP --set-dscp N | --set-dscp-class NAME`
fn dscp_target(args: &mut Cursor<'_, '_>) -> Result<Target, ParseError> {
    let first = args.pos;
    let mut out = None;
    while let Some(opt) = target_opt(args) {
        let v = match opt.as_str() {
            "--set-dscp" => dscp_number(args)?,
            "--set-dscp-class" => dscp_class(args)?,
            _ => return Err(args.err(opt, "--set-dscp or --set-dscp-class")),
        };
        set_once(args, opt, &mut out, v)?;
    }
    let value = out.ok_or_else(|| missing(args, "--set-dscp or --set-dscp-class"))?;
    let words = args.words[first..]
        .iter()
        .map(|w| w.as_str().to_string())
        .collect();
    Ok(Target::Dscp { value, args: words })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::save;

    /// A one-rule dump in `table`, with user chains X and Y declared.
    fn dump(table: &str, rule: &str) -> String {
        let builtin = builtin_chains(TableName::from_name(table).unwrap())
            .iter()
            .map(|c| format!(":{c} ACCEPT [0:0]\n"))
            .collect::<String>();
        format!("*{table}\n{builtin}:X - [0:0]\n:Y - [0:0]\n{rule}\nCOMMIT\n")
    }

    /// Parses one rule of chain `-A {chain}` in `table`.
    fn rule_in(table: &str, line: &str) -> Rule {
        let text = dump(table, line);
        let rs = parse("t", &text).unwrap_or_else(|e| panic!("{line}\n{e}"));
        let chain_name = line.split_whitespace().nth(1).unwrap();
        rs.tables[0].chain(chain_name).unwrap().rules()[0].clone()
    }

    /// Prints a parsed rule back.
    fn printed(table: &str, line: &str) -> String {
        let rule = rule_in(table, line);
        let mut out = String::new();
        let chain = line.split_whitespace().nth(1).unwrap();
        save::write_rule(&mut out, chain, &rule);
        out
    }

    #[test]
    fn rules_print_back_as_iptables_save_1_8_does() {
        let cases = [
            // (table, input, expected output; "" = same as input)
            ("filter", "-A FORWARD -s 10.0.0.0/8 -d 1.2.3.4/32 -i eth0 -o eth1+ -p tcp -m tcp --sport 1024:65535 --dport 22 -j ACCEPT", ""),
            ("filter", "-A FORWARD ! -s 10.0.0.0/8 ! -d 1.2.3.4/32 ! -i eth0 ! -o eth1 ! -p udp ! -f -j DROP", ""),
            ("filter", "-A INPUT -s 10.1.2.3/255.0.255.0 -j DROP", ""),
            ("filter", "--append INPUT --source 1.2.3.4 --protocol tcp --jump ACCEPT", "-A INPUT -s 1.2.3.4 -p tcp -j ACCEPT"),
            ("filter", "-A INPUT -s 192.168.1.0/255.255.255.0 -d ! 10.0.0.0/255.0.0.0 -j ACCEPT", ""),
            ("filter", "-A INPUT -p 47 -j ACCEPT", ""),
            ("filter", "-A INPUT -p tcp -m tcp ! --dport 22 --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT", ""),
            ("filter", "-A INPUT -p tcp -m tcp --syn --dport ssh -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 22 --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT"),
            ("filter", "-A INPUT -p tcp -m tcp --tcp-flags ALL NONE -j DROP", "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP"),
            ("filter", "-A INPUT -p tcp -m tcp ! --tcp-option 2 -j DROP", ""),
            ("filter", "-A INPUT -p tcp --dport 80 -j ACCEPT", ""),
            ("filter", "-A INPUT -p udp -m udp --dport 53 -j ACCEPT", ""),
            ("filter", "-A INPUT -p icmp -m icmp --icmp-type 3/4 -j ACCEPT", ""),
            ("filter", "-A INPUT -p icmp -m icmp ! --icmp-type echo-request -j ACCEPT", "-A INPUT -p icmp -m icmp ! --icmp-type 8 -j ACCEPT"),
            ("filter", "-A INPUT -p icmp -m icmp --icmp-type any -j ACCEPT", ""),
            ("filter", "-A INPUT -p tcp -m multiport --dports 22,80,8000:8100 -j ACCEPT", ""),
            ("filter", "-A INPUT -p tcp -m multiport ! --destination-ports 1,2 -j ACCEPT", "-A INPUT -p tcp -m multiport ! --dports 1,2 -j ACCEPT"),
            ("filter", "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 1.1.1.1-1.1.1.2 -j ACCEPT", ""),
            ("filter", "-A INPUT -m mark ! --mark 0x4000/0x4000 -m connmark --mark 0x1 -j ACCEPT", ""),
            ("filter", "-A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 53 --ctdir REPLY --ctstatus ASSURED -j ACCEPT", ""),
            ("filter", "-A INPUT -m state --state NEW,ESTABLISHED -j ACCEPT", ""),
            ("filter", "-A INPUT -m comment --comment \"say \\\"hi\\\"\" -m comment --comment plain -j ACCEPT", ""),
            ("filter", "-A INPUT -m addrtype ! --src-type LOCAL --dst-type UNICAST,BROADCAST --limit-iface-in -j ACCEPT", ""),
            ("filter", "-A INPUT -m length --length 0:100 -m pkttype ! --pkt-type broadcast -j DROP", ""),
            ("filter", "-A INPUT -m ttl ! --ttl-lt 5 -m tos --tos 0x10/0x3f -m dscp --dscp-class EF -j DROP", "-A INPUT -m ttl ! --ttl-lt 5 -m tos --tos 0x10/0x3f -m dscp --dscp 0x2e -j DROP"),
            ("filter", "-A INPUT -m mac --mac-source 00:1a:2b:3c:4d:5e -j DROP", "-A INPUT -m mac --mac-source 00:1A:2B:3C:4D:5E -j DROP"),
            ("nat", "-A PREROUTING -m statistic --mode random --probability 0.33333333349 -j X", ""),
            ("nat", "-A PREROUTING -m statistic --mode nth --every 3 --packet 1 -j X", ""),
            ("filter", "-A INPUT -m set ! --match-set blocked src,dst --return-nomatch -j DROP", ""),
            ("filter", "-A INPUT -m limit --limit 5/min --limit-burst 10 -m recent ! --rcheck --name \"a b\" -j LOG --log-prefix \"dropped: \" --log-level 7", ""),
            ("filter", "-A INPUT -j REJECT", "-A INPUT -j REJECT --reject-with icmp-port-unreachable"),
            ("filter", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset", ""),
            ("filter", "-A INPUT -j NFQUEUE --queue-num 3 --queue-bypass", ""),
            ("filter", "-A INPUT -j NFLOG --nflog-group 5 --nflog-prefix \"x y\"", ""),
            ("filter", "-A INPUT -j X", ""),
            ("filter", "-A INPUT -g Y", ""),
            ("filter", "-A INPUT", ""),
            ("raw", "-A PREROUTING -j TRACE", ""),
            ("raw", "-A PREROUTING -j NOTRACK", ""),
            ("raw", "-A PREROUTING -p udp -m udp --dport 69 -j CT --helper tftp", ""),
            ("mangle", "-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff", ""),
            ("mangle", "-A PREROUTING -j MARK --set-mark 0x2", ""),
            ("mangle", "-A PREROUTING -j MARK --and-mark 0xff", ""),
            ("mangle", "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff0000 --ctmask 0xff0000", ""),
            ("mangle", "-A PREROUTING -j CONNMARK --set-xmark 0x1/0x1", ""),
            ("mangle", "-A PREROUTING -j TTL --ttl-dec 1", ""),
            ("mangle", "-A PREROUTING -j TOS --set-tos 0x10/0x3f", ""),
            ("mangle", "-A PREROUTING -j DSCP --set-dscp-class AF41", ""),
            ("mangle", "-A POSTROUTING -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu", ""),
            ("mangle", "-A POSTROUTING -j CHECKSUM", ""),
            ("nat", "-A POSTROUTING -o eth0 -p udp -j SNAT --to-source 1.2.3.4-1.2.3.6:1000-2000 --to-source 5.6.7.8 --random --persistent", ""),
            ("nat", "-A PREROUTING -p tcp -j DNAT --to-destination :8080", ""),
            ("nat", "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-65535 --random-fully", ""),
            ("nat", "-A PREROUTING -p tcp -j REDIRECT --to-ports 9040", ""),
            ("nat", "-A PREROUTING -d 10.0.0.0/24 -j NETMAP --to 192.168.1.0/24", ""),
            ("nat", "-A PREROUTING -j KUBE-MARK-MASQ-LIKE --some-option 1", ""),
        ];
        for (table, input, want) in cases {
            let want = if want.is_empty() { input } else { want };
            assert_eq!(printed(table, input), want, "input: {input}");
        }
    }

    #[test]
    fn rule_text_drops_counters_and_keeps_line() {
        let text = "*filter\n:INPUT ACCEPT [1:2]\n[3:4] -A INPUT -j ACCEPT  \nCOMMIT\n";
        let rs = parse("t", text).unwrap();
        let chain = &rs.tables[0].chains[0];
        assert_eq!(
            chain.counters.as_deref(),
            Some(&Counters {
                packets: 1,
                bytes: 2
            })
        );
        let r = &chain.rules()[0];
        assert_eq!((r.line, r.text.as_str()), (3, "-A INPUT -j ACCEPT"));
        assert_eq!(
            r.counters.as_deref(),
            Some(&Counters {
                packets: 3,
                bytes: 4
            })
        );
        assert_eq!(
            save::write(&rs),
            "*filter\n:INPUT ACCEPT [1:2]\n[3:4] -A INPUT -j ACCEPT\nCOMMIT\n"
        );
    }

    #[test]
    fn mark_encodings_follow_libxt_mark() {
        let cases = [
            ("--set-xmark 0x1/0x3", 0x1, 0x3),
            ("--set-xmark 0x1", 0x1, u32::MAX),
            ("--set-mark 0x5", 0x5, u32::MAX),
            ("--set-mark 0x1/0x2", 0x1, 0x3),
            ("--and-mark 0xff", 0, !0xff),
            ("--or-mark 0x4", 0x4, 0x4),
            ("--xor-mark 0x4", 0x4, 0),
        ];
        for (opt, value, mask) in cases {
            let r = rule_in("mangle", &format!("-A PREROUTING -j MARK {opt}"));
            let Target::Mark(op) = r.target else {
                panic!("{opt}")
            };
            assert_eq!((op.value, op.mask), (value, mask), "{opt}");
        }
    }

    /// The CONNMARK operation of a mangle rule with these options.
    fn connmark_of(opts: &str) -> ConnmarkOp {
        let r = rule_in("mangle", &format!("-A PREROUTING -j CONNMARK {opts}"));
        match r.target {
            Target::Connmark(op) => *op,
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn connmark_shifts_are_kept_and_the_later_option_wins() {
        let op = connmark_of("--save-mark --right-shift-mark 4 --left-shift-mark 8");
        let ConnmarkOp::Save { shift, .. } = op else {
            panic!("{op:?}")
        };
        assert_eq!(
            shift,
            MarkShift {
                right: false,
                bits: 8
            }
        );
        assert!(matches!(
            connmark_of("--set-xmark 0x5/0xff --right-shift-mark 31"),
            ConnmarkOp::Set {
                shift: MarkShift {
                    right: true,
                    bits: 31
                },
                ..
            }
        ));
        let text = "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --restore-mark --left-shift-mark 32\nCOMMIT\n";
        let e = &parse("t", text).unwrap_err().0[0];
        assert_eq!((e.line, e.found.as_str()), (3, "32"));
        assert!(e.expected.contains("0-31"), "{}", e.expected);
    }

    #[test]
    fn ct_zone_is_read_and_other_zone_forms_are_kept_as_written() {
        let zone_of = |opts: &str| {
            let r = rule_in("raw", &format!("-A PREROUTING -j CT {opts}"));
            match r.target {
                Target::Ct { zone, notrack, .. } => (zone, notrack),
                t => panic!("{t:?}"),
            }
        };
        assert_eq!(zone_of("--zone 5"), (Some(5), false));
        assert_eq!(zone_of("--helper ftp --zone 65535"), (Some(65535), false));
        assert_eq!(zone_of("--zone mark"), (None, false));
        assert_eq!(zone_of("--zone-orig 7"), (None, false));
        assert_eq!(zone_of("--notrack"), (None, true));
        let text = "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CT --zone 65536\nCOMMIT\n";
        let e = &parse("t", text).unwrap_err().0[0];
        assert_eq!((e.line, e.found.as_str()), (3, "65536"));
    }

    #[test]
    fn connmark_masks_default_to_all_ones() {
        assert!(matches!(
            connmark_of("--save-mark --mask 0xff"),
            ConnmarkOp::Save {
                nfmask: 0xff,
                ctmask: 0xff,
                ..
            }
        ));
        let r = rule_in("mangle", "-A PREROUTING -j CONNMARK --restore-mark");
        let want = ConnmarkOp::Restore {
            nfmask: u32::MAX,
            ctmask: u32::MAX,
            shift: MarkShift::default(),
            text: "--restore-mark".into(),
        };
        assert_eq!(r.target, Target::Connmark(Box::new(want)));
    }

    #[test]
    fn implicit_protocol_match_is_marked() {
        let r = rule_in(
            "filter",
            "-A INPUT -p tcp --dport 22 -m state --state NEW -j ACCEPT",
        );
        assert_eq!(r.matches[0].module, "tcp");
        assert!(r.matches[0].implicit);
        let MatchKind::Tcp(t) = &r.matches[0].kind else {
            panic!()
        };
        assert_eq!(
            t.dport.map(|p| p.value),
            Some(PortRange { min: 22, max: 22 })
        );
        assert!(!r.matches[1].implicit);
    }

    #[test]
    fn header_negations_in_both_spellings() {
        let new = rule_in("filter", "-A INPUT ! -s 1.2.3.4/32 -j DROP");
        let old = rule_in("filter", "-A INPUT -s ! 1.2.3.4/32 -j DROP");
        assert_eq!(new.ip, old.ip);
        assert!(new.ip.src.unwrap().invert);
        assert!(old.spelling.bang_after_option && !new.spelling.bang_after_option);
    }

    #[test]
    fn addresses_are_stored_masked() {
        let r = rule_in("filter", "-A INPUT -s 10.1.2.3/8 -j DROP");
        assert_eq!(r.ip.src.unwrap().value.to_string(), "10.0.0.0/8");
        assert_eq!(r.spelling.src_written, Some(Ipv4Addr::new(10, 1, 2, 3)));
    }

    #[test]
    fn other_matches_keep_their_words() {
        let r = rule_in(
            "filter",
            "-A OUTPUT -m owner ! --uid-owner 0 -m physdev --physdev-is-bridged -j ACCEPT",
        );
        assert_eq!(
            r.matches[0].kind,
            MatchKind::Other(vec!["!".into(), "--uid-owner".into(), "0".into()])
        );
        assert_eq!(
            r.matches[1].kind,
            MatchKind::Other(vec!["--physdev-is-bridged".into()])
        );
    }

    #[test]
    fn a_chain_may_be_jumped_to_before_it_is_declared() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j LATE\n:LATE - [0:0]\nCOMMIT\n";
        let rs = parse("t", text).unwrap();
        assert_eq!(
            rs.tables[0].chains[0].rules()[0].target,
            Target::Jump("LATE".into())
        );
    }

    #[test]
    fn untyped_extension_without_options_is_not_a_jump() {
        let r = rule_in("mangle", "-A POSTROUTING -j CHECKSUM");
        assert_eq!(
            r.target,
            Target::Other {
                name: "CHECKSUM".into(),
                args: Box::default()
            }
        );
    }

    /// A filter table whose INPUT chain has `n` rules, rule i matching port i.
    fn long_chain(n: usize) -> String {
        let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n:SIDE - [0:0]\n");
        for i in 0..n {
            text.push_str(&format!(
                "-A INPUT -p tcp -m tcp --dport {} -j ACCEPT\n",
                i + 1
            ));
            if i % 7 == 0 {
                // Interleaved lines of another chain keep their own numbering.
                text.push_str(&format!("-A SIDE -s 10.0.0.{}/32 -j RETURN\n", i % 250));
            }
        }
        text + "COMMIT\n"
    }

    #[test]
    fn a_chain_parsed_on_all_cores_keeps_file_order() {
        let n = 5_000;
        let rs = parse("t", &long_chain(n)).unwrap();
        let input = &rs.tables[0].chains[0];
        assert_eq!(input.rule_count(), n);
        let rules = input.rules();
        assert_eq!(rules.len(), n);
        for (i, r) in rules.iter().enumerate() {
            let want = format!("-A INPUT -p tcp -m tcp --dport {} -j ACCEPT", i + 1);
            assert_eq!(r.text, want.as_str());
        }
        assert!(rules.windows(2).all(|w| w[0].line < w[1].line));
        let side = &rs.tables[0].chains[1];
        assert_eq!(side.rules().len(), n.div_ceil(7));
        assert_eq!(side.rules()[1].text, "-A SIDE -s 10.0.0.7/32 -j RETURN");
    }

    #[test]
    fn errors_come_in_line_order_whether_checked_in_parallel_or_not() {
        // 10,000 lines are checked by parallel tasks, 3,000 on one thread.
        for n in [10_000, 3_000] {
            let mut text = long_chain(n);
            let bad = [n - 1, n / 2, 7];
            for port in bad {
                text = text.replacen(&format!("--dport {port} "), "--dport nope ", 1);
            }
            let errs = parse("t", &text).unwrap_err().0;
            let ports: Vec<&str> = errs.iter().map(|e| e.found.as_str()).collect();
            assert_eq!(ports, ["nope", "nope", "nope"]);
            let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
            // Rule k (1-based) is line 3 + k + ⌈k / 7⌉ (the SIDE rules between).
            let want: Vec<usize> = [7, n / 2, n - 1]
                .iter()
                .map(|k| 3 + k + k.div_ceil(7))
                .collect();
            assert_eq!(lines, want, "{n} lines");
            assert!(errs[0].line_text.contains("-j ACCEPT"));
        }
    }

    #[test]
    fn a_rule_may_not_name_a_chain_declared_below_it() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n-A LATE -j ACCEPT\n:LATE - [0:0]\nCOMMIT\n";
        let errs = parse("t", text).unwrap_err().0;
        assert_eq!((errs[0].line, errs[0].found.as_str()), (3, "LATE"));
        assert!(errs[0].expected.contains("a chain declared with :NAME"));
    }

    #[test]
    fn chains_are_parsed_once_when_threads_ask_together() {
        let rs = parse("t", &long_chain(3_000)).unwrap();
        let input = &rs.tables[0].chains[0];
        let firsts: Vec<usize> = std::thread::scope(|s| {
            let ask = || input.rules().as_ptr() as usize;
            let asks: Vec<_> = (0..4).map(|_| s.spawn(ask)).collect();
            asks.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // One parse: every thread got the same rules.
        assert!(firsts.iter().all(|p| *p == firsts[0]));
    }

    #[test]
    fn nft_variant_header_is_a_comment() {
        let text = "# Generated by iptables-nft-save v1.8.10 (nf_tables) on x\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n# Completed\n";
        assert!(parse("t", text).is_ok());
    }

    /// `(input, line, column, found, expected substring)`
    const ERRORS: &[(&str, usize, usize, &str, &str)] = &[
        ("*bogus\nCOMMIT\n", 1, 2, "bogus", "a known table: raw, mangle, nat, filter, security"),
        ("-A INPUT -j ACCEPT\n", 1, 1, "-A INPUT -j ACCEPT", "a table header"),
        ("*filter\n:INPUT ACCEPT [0:0]\n", 1, 1, "*filter", "COMMIT before the end of the file"),
        ("*filter\n:INPUT ACCEPT [0:0]\n*nat\nCOMMIT\n", 3, 1, "*nat", "COMMIT before the next table"),
        ("*filter\n:X - [0:0]\n:X - [0:0]\nCOMMIT\n", 3, 2, "X", "not declared before"),
        ("*nat\n:FORWARD ACCEPT [0:0]\nCOMMIT\n", 2, 2, "FORWARD", "a built-in chain of nat"),
        ("*filter\n:INPUT - [0:0]\nCOMMIT\n", 2, 8, "-", "ACCEPT or DROP"),
        ("*filter\n:INPUT REJECT [0:0]\nCOMMIT\n", 2, 8, "REJECT", "ACCEPT, DROP or -"),
        ("*filter\n:INPUT ACCEPT [x:0]\nCOMMIT\n", 2, 15, "[x:0]", "counters [packets:bytes]"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A NOPE -j ACCEPT\nCOMMIT\n", 3, 4, "NOPE", "a chain declared with :NAME in table filter"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOPE\nCOMMIT\n", 3, 13, "NOPE", "a chain declared in table filter"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -g NOPE\nCOMMIT\n", 3, 13, "NOPE", "a chain declared in table filter"),
        ("*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A X -j INPUT\nCOMMIT\n", 4, 9, "INPUT", "a user-defined chain"),
        ("*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -g A\nCOMMIT\n", 7, 9, "A", "jump loop A -> B -> A"),
        ("*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j DNAT --to-destination 1.2.3.4\nCOMMIT\n", 3, 19, "DNAT", "valid only from PREROUTING, OUTPUT"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DNAT --to-destination 1.2.3.4\nCOMMIT\n", 3, 13, "DNAT", "valid only in table nat"),
        ("*nat\n:POSTROUTING ACCEPT [0:0]\n:U - [0:0]\n-A POSTROUTING -j U\n-A U -j REDIRECT\nCOMMIT\n", 5, 9, "REDIRECT", "chain U is reached from POSTROUTING"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment x -m tcp --dport 22\nCOMMIT\n", 3, 36, "tcp", "-p tcp (not inverted)"),
        ("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -i lo -j ACCEPT\nCOMMIT\n", 3, 11, "-i", "no -i in OUTPUT"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n", 3, 34, "tcp-reset", "-p tcp"),
        ("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m mac --mac-source 02:00:00:00:00:01\nCOMMIT\n", 3, 14, "mac", "-m mac is refused from OUTPUT"),
        ("*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j SNAT --to-source 1.2.3.4 --to-source 1.2.3.5:9\nCOMMIT\n", 3, 56, "1.2.3.5:9", "Need TCP, UDP, SCTP or DCCP"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s example.com -j DROP\nCOMMIT\n", 3, 13, "example.com", "an IPv4 address"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s\nCOMMIT\n", 3, 12, "", "an IPv4 address"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p foo -j DROP\nCOMMIT\n", 3, 13, "foo", "a protocol name or number"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport nosuch -j DROP\nCOMMIT\n", 3, 32, "nosuch", "a port or range"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m tcp --bogus 1 -j DROP\nCOMMIT\n", 3, 17, "--bogus", "an option of -m tcp"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT --wat -j DROP\nCOMMIT\n", 3, 10, "--wat", "a rule option"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 1.1.1.1 -s 2.2.2.2\nCOMMIT\n", 3, 21, "-s", "only once per rule"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ! -j DROP\nCOMMIT\n", 3, 12, "-j", "no ! before -j"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT --now\nCOMMIT\n", 3, 20, "--now", "ACCEPT takes no options"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j LOG --log-prefix \"abc\nCOMMIT\n", 3, 30, "\"abc", "a closing \""),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with nope\nCOMMIT\n", 3, 34, "nope", "a reject type"),
        ("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --and-mark 0x1/0x2\nCOMMIT\n", 3, 34, "0x1/0x2", "no mask"),
        ("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK\nCOMMIT\n", 3, 22, "", "--set-xmark"),
        ("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination 1.2.3.4:x\nCOMMIT\n", 3, 40, "1.2.3.4:x", "--to-destination takes [ip[-ip]][:port[-port]]"),
        ("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j SNAT\nCOMMIT\n", 3, 22, "", "--to-source"),
        ("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j NETMAP --to 1.2.3.0/255.0.255.0\nCOMMIT\n", 3, 30, "1.2.3.0/255.0.255.0", "an IPv4 network"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate NEWISH\nCOMMIT\n", 3, 33, "NEWISH", "states from"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m mac --mac-source XX:XX\nCOMMIT\n", 3, 30, "XX:XX", "a MAC address"),
        ("*filter\n:INPUT ACCEPT [0:0]\n-I INPUT -j DROP\nCOMMIT\n", 3, 1, "-I", "-A, a chain header"),
        ("*filter\n*filter\nCOMMIT\n", 2, 1, "*filter", "COMMIT before the next table"),
    ];

    #[test]
    fn errors_name_line_column_found_and_expected() {
        let mut bad = Vec::new();
        for (input, line, column, found, expected) in ERRORS {
            let errors = parse("t.txt", input).expect_err(input).0;
            let e = &errors[0];
            let got = (e.file.as_str(), e.line, e.column, e.found.as_str());
            if got != ("t.txt", *line, *column, *found) || !e.expected.contains(expected) {
                bad.push(format!(
                    "input: {input:?}\nwant {line}:{column} {found:?} {expected:?}\n{e}"
                ));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n\n"));
    }

    #[test]
    fn errors_on_several_lines_are_all_reported() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p nope\n-A INPUT -s nope\nCOMMIT\n";
        let errors = parse("t", text).unwrap_err().0;
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn never_panics_on_truncated_rules() {
        let line = "-A INPUT ! -s 1.2.3.4/32 -p tcp -m tcp ! --dport 22 -m conntrack --ctstate NEW -m statistic --mode random --probability 0.5 -m set --match-set s src -j DNAT --to-destination 1.2.3.4:80";
        for end in 0..=line.len() {
            let _ = parse("t", &dump("nat", &line[..end]));
        }
        for junk in [
            "!",
            "! !",
            "-m",
            "-j",
            "\"",
            "[",
            "[1:2]",
            "-A",
            ":",
            "*",
            "-A INPUT -m set !",
        ] {
            let _ = parse("t", &dump("filter", junk));
        }
    }
}
