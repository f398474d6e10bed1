//! The readable, coloured walk for people at a terminal.
//!
//! One line per step, in the order the kernel does the work: a header with the
//! packet, then hook by hook the entries that matched (indented by jump depth)
//! with what they did, then a summary of the verdict, where the packet ends,
//! what changed and what was assumed. Colour comes only from a [`Palette`];
//! [`Palette::plain`] output holds no escape codes at all.

use std::ffi::OsStr;
use std::fmt::Display;

use owo_colors::{OwoColorize, Style};

use super::json::{decided_verdicts, rule_text};
use crate::model::packet::{tcp_flag, Packet, Transport};
use crate::model::ruleset::TableName;
use crate::trace::event::{
    Assumption, Disposition, Event, NatKind, RouteEvent, RuleRef, Trace, TraceType, Verdict,
};

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always colour, even into a pipe or with `NO_COLOR` set.
    Always,
    /// Never colour.
    Never,
}

/// Decides whether to colour, reading `NO_COLOR` (<https://no-color.org>) from
/// the environment for [`ColorChoice::Auto`].
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    use_color_with(choice, is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// [`use_color`] with the value of `NO_COLOR` passed in. A present, non-empty
/// `NO_COLOR` turns colour off for `Auto`; `Always` and `Never` ignore it.
fn use_color_with(choice: ColorChoice, is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.is_none_or(OsStr::is_empty),
    }
}

/// Colours by semantic role. Build it once with [`Palette::new`] and pass it
/// down; call sites never pick colours themselves.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    verdict_accept: Style,
    verdict_drop: Style,
    verdict_queue: Style,
    hook: Style,
    table: Style,
    chain: Style,
    rule_text: Style,
    changed: Style,
    dim: Style,
    assumption: Style,
}

impl Palette {
    /// A colour palette when `color` is true, else [`Palette::plain`].
    pub fn new(color: bool) -> Palette {
        if !color {
            return Palette::plain();
        }
        Palette {
            verdict_accept: Style::new().green().bold(),
            verdict_drop: Style::new().red().bold(),
            verdict_queue: Style::new().yellow().bold(),
            hook: Style::new().bold().underline(),
            table: Style::new().cyan(),
            chain: Style::new().blue().bold(),
            rule_text: Style::new(),
            changed: Style::new().magenta().bold(),
            dim: Style::new().dimmed(),
            assumption: Style::new().yellow(),
        }
    }

    /// No colour and no escape codes at all.
    pub fn plain() -> Palette {
        let none = Style::new();
        Palette {
            verdict_accept: none,
            verdict_drop: none,
            verdict_queue: none,
            hook: none,
            table: none,
            chain: none,
            rule_text: none,
            changed: none,
            dim: none,
            assumption: none,
        }
    }

    /// A verdict: ACCEPT green, DROP and REJECT red, QUEUE yellow.
    pub fn verdict(&self, v: &Verdict) -> Style {
        match v {
            Verdict::Accept => self.verdict_accept,
            Verdict::Drop | Verdict::Reject { .. } => self.verdict_drop,
            Verdict::Queue => self.verdict_queue,
        }
    }

    /// A hook name starting a section (`PREROUTING`).
    pub fn hook(&self) -> Style {
        self.hook
    }

    /// A table name (`mangle`).
    pub fn table(&self) -> Style {
        self.table
    }

    /// A chain name (`KUBE-SERVICES`).
    pub fn chain(&self) -> Style {
        self.chain
    }

    /// A rule's text from the dump.
    pub fn rule_text(&self) -> Style {
        self.rule_text
    }

    /// A value the walk changed (mark, address, port, TTL).
    pub fn changed(&self) -> Style {
        self.changed
    }

    /// Secondary detail: line numbers, reasons, routing steps.
    pub fn dim(&self) -> Style {
        self.dim
    }

    /// An assumption or a note about something not modelled.
    pub fn assumption(&self) -> Style {
        self.assumption
    }
}

/// Renders `trace` for a person: header, the walk, and a summary.
pub fn render(trace: &Trace, palette: &Palette) -> String {
    let mut w = Writer::new(palette);
    w.header(trace);
    w.walk(&trace.events);
    w.summary(trace);
    w.out
}

/// Indent of rule lines at jump depth 0, under their hook line.
const BASE: usize = 2;
/// Extra indent per jump level and for a rule's consequences.
const STEP: usize = 2;
/// Width of the summary labels.
const LABEL: usize = 12;

/// Builds the text line by line, remembering the indent of the last rule.
struct Writer<'a> {
    p: &'a Palette,
    out: String,
    /// Indent of the last rule line; its consequences go one step deeper.
    level: usize,
}

impl<'a> Writer<'a> {
    fn new(p: &'a Palette) -> Writer<'a> {
        Writer {
            p,
            out: String::new(),
            level: BASE,
        }
    }

    fn line(&mut self, indent: usize, text: impl Display) {
        let text = text.to_string();
        self.out.extend(std::iter::repeat_n(' ', indent));
        self.out.push_str(&text);
        self.out.push('\n');
    }

    /// Indent for what the last rule did.
    fn child(&self) -> usize {
        self.level + STEP
    }

    fn header(&mut self, trace: &Trace) {
        let mut fields = packet_fields(&trace.initial, &trace.initial);
        let origin = match &trace.iif {
            Some(dev) => format!("in {dev}"),
            None => "from a local process".to_string(),
        };
        let at = fields
            .iter()
            .position(|f| f.key == "ttl")
            .unwrap_or(fields.len());
        fields.insert(at, field("iif", origin));
        let text = join_fields(&fields, |f| f.text.clone());
        self.line(0, paint(self.p.hook(), text));
    }
}

/// The walk: one arm per event kind.
impl Writer<'_> {
    fn walk(&mut self, events: &[Event]) {
        let verdicts = decided_verdicts(events);
        for (e, decided) in events.iter().zip(&verdicts) {
            self.event(e, decided.as_ref());
        }
    }

    fn event(&mut self, e: &Event, decided: Option<&Verdict>) {
        match e {
            Event::Hook {
                hook,
                in_dev,
                out_dev,
            } => self.hook(hook.chain_name(), in_dev.as_deref(), out_dev.as_deref()),
            Event::Rule { .. } => self.rule(e, decided),
            Event::Jump { chain, goto, .. } => self.jump(chain, *goto),
            Event::Return { to_chain, depth } => self.back(to_chain, *depth),
            Event::Mark { old, new, .. } => self.change("mark", hex(*old), hex(*new)),
            Event::Connmark { old, new, .. } => self.change("connmark", hex(*old), hex(*new)),
            Event::Mangle {
                field, old, new, ..
            } => self.mangle(field, *old, *new),
            Event::Conntrack { state, reason } => self.conntrack(state, reason),
            Event::Nat { .. } => self.nat(e),
            Event::Route(r) => self.route(r),
            Event::TableVerdict { verdict, rule, .. } => self.table_verdict(verdict, rule),
            Event::Generated { what, to } => self.generated(what, *to),
            Event::Note { text } => self.note(text),
            Event::Ipvs {
                summary, detail, ..
            } => self.ipvs(summary, detail),
            Event::Assumption(a) => self.assumption(a),
        }
    }

    fn ipvs(&mut self, summary: &str, detail: &[String]) {
        let level = self.level;
        self.line(
            level,
            format!(
                "{} {}",
                paint(self.p.table(), "IPVS"),
                paint(self.p.changed(), summary)
            ),
        );
        for d in detail {
            self.line(level + 2, paint(self.p.dim(), format!("· {d}")));
        }
    }

    fn hook(&mut self, hook: &str, in_dev: Option<&str>, out_dev: Option<&str>) {
        let mut text = paint(self.p.hook(), hook);
        for (name, dev) in [("in", in_dev), ("out", out_dev)] {
            if let Some(dev) = dev {
                text = format!("{text}  {name}={dev}");
            }
        }
        self.line(0, text);
        self.level = BASE;
    }

    fn rule(&mut self, e: &Event, decided: Option<&Verdict>) {
        let Event::Rule {
            rule,
            trace_type,
            text,
            depth,
            ..
        } = e
        else {
            unreachable!("rule() called with {e:?}")
        };
        self.level = BASE + STEP * depth;
        let what = self.entry_text(text.as_deref(), *trace_type, decided);
        let line = format!("{}  {what}{}", self.locator(rule), self.line_no(rule.line));
        self.line(self.level, line);
        // A nat rule's ACCEPT is implied by the translation printed next.
        let explicit = text.is_some() && rule.table != TableName::Nat;
        if let (true, Some(v @ Verdict::Accept)) = (explicit, decided) {
            self.line(self.child(), paint(self.p.verdict(v), v.as_str()));
        }
    }

    /// The rule's text, or `policy ACCEPT` / `end of chain (return)` for the
    /// entries the dump has no line for.
    fn entry_text(
        &self,
        text: Option<&str>,
        trace_type: TraceType,
        decided: Option<&Verdict>,
    ) -> String {
        match (text, trace_type, decided) {
            (Some(text), _, _) => paint(self.p.rule_text(), text),
            (None, TraceType::Policy, Some(v)) => {
                format!("policy {}", paint(self.p.verdict(v), v.as_str()))
            }
            (None, TraceType::Policy, None) => "policy".to_string(),
            (None, TraceType::Rule | TraceType::Return, _) => "end of chain (return)".to_string(),
        }
    }

    /// `raw:PREROUTING #1`.
    fn locator(&self, r: &RuleRef) -> String {
        format!(
            "{}:{} #{}",
            paint(self.p.table(), r.table),
            paint(self.p.chain(), &r.chain),
            r.rulenum
        )
    }

    fn line_no(&self, line: Option<u32>) -> String {
        match line {
            Some(n) => format!("  {}", paint(self.p.dim(), format!("(line {n})"))),
            None => String::new(),
        }
    }

    fn jump(&mut self, chain: &str, goto: bool) {
        let word = if goto { "goto" } else { "jump" };
        let text = format!("→ {word} {}", paint(self.p.chain(), chain));
        self.line(self.child(), text);
    }

    fn back(&mut self, to_chain: &str, depth: usize) {
        let text = format!("← back to {}", paint(self.p.chain(), to_chain));
        self.line(BASE + STEP * (depth + 1), text);
    }

    fn change(&mut self, what: &str, old: String, new: String) {
        let text = format!("{what} {old} → {}", paint(self.p.changed(), new));
        self.line(self.child(), text);
    }

    fn mangle(&mut self, field: &str, old: u32, new: u32) {
        match field {
            "tos" => self.change(field, hex(old), hex(new)),
            _ => self.change(field, old.to_string(), new.to_string()),
        }
    }

    fn conntrack(&mut self, state: &str, reason: &str) {
        let text = format!("conntrack {state}  {}", paint(self.p.dim(), reason));
        self.line(BASE, text);
    }

    fn nat(&mut self, e: &Event) {
        let Event::Nat {
            kind,
            target,
            old_addr,
            old_port,
            new_addr,
            new_port,
            rule,
            reason,
        } = e
        else {
            unreachable!("nat() called with {e:?}")
        };
        let side = match kind {
            NatKind::Snat => "src",
            NatKind::Dnat => "dst",
        };
        let old = addr_port(*old_addr, *old_port);
        let new = paint(self.p.changed(), addr_port(*new_addr, *new_port));
        let reason = paint(self.p.dim(), format!("({reason})"));
        let indent = if rule.is_some() { self.child() } else { BASE };
        self.line(indent, format!("{target} {side} {old} → {new}  {reason}"));
    }

    fn route(&mut self, r: &RouteEvent) {
        let RouteEvent {
            kind,
            decision,
            rule,
            route,
            steps,
            oif: _,
        } = r;
        let head = paint(self.p.hook(), format!("routing ({kind})"));
        self.line(0, format!("{head}  {decision}"));
        for step in steps {
            self.line(BASE, paint(self.p.dim(), format!("· {step}")));
        }
        if let Some(rule) = rule {
            self.line(
                BASE,
                format!(
                    "ip rule   {}",
                    paint(self.p.rule_text(), rule.replace('\t', " "))
                ),
            );
        }
        if let Some(route) = route {
            self.line(
                BASE,
                format!("ip route  {}", paint(self.p.rule_text(), route)),
            );
        }
        self.level = BASE;
    }

    fn table_verdict(&mut self, verdict: &Verdict, rule: &RuleRef) {
        let text = format!(
            "{}  by {rule}",
            paint(self.p.verdict(verdict), verdict_word(verdict))
        );
        self.line(self.child(), text);
    }

    fn generated(&mut self, what: &str, to: std::net::Ipv4Addr) {
        self.line(self.child(), format!("sends {what} to {to}"));
    }

    fn note(&mut self, text: &str) {
        self.line(
            self.child(),
            paint(self.p.assumption(), format!("note: {text}")),
        );
    }

    fn assumption(&mut self, a: &Assumption) {
        self.line(self.level, paint(self.p.assumption(), assumption_text(a)));
    }
}

/// The closing block: verdict, fate, packet before and after, assumptions.
impl Writer<'_> {
    fn summary(&mut self, trace: &Trace) {
        self.out.push('\n');
        let verdict = paint(self.p.verdict(&trace.verdict), verdict_word(&trace.verdict));
        self.labelled("verdict", verdict);
        self.fate(trace);
        self.before_after(&trace.initial, &trace.final_packet);
        self.assumption_list(&trace.assumptions);
    }

    fn labelled(&mut self, label: &str, text: impl Display) {
        self.line(0, format!("{label:<LABEL$}{text}"));
    }

    fn fate(&mut self, trace: &Trace) {
        match &trace.disposition {
            Disposition::Delivered => self.labelled("fate", "delivered locally"),
            Disposition::Sent { oif, next_hop } => {
                let how = if *next_hop == trace.final_packet.dst {
                    format!("directly to {next_hop}")
                } else {
                    format!("via {next_hop}")
                };
                self.labelled("fate", format!("sent out of {oif} {how}"));
            }
            Disposition::Dropped { reason, rule } => match rule {
                Some(rule) => self.decided_by(trace, &verdict_past(&trace.verdict), rule),
                None => self.labelled("fate", format!("dropped: {reason}")),
            },
            Disposition::Queued { rule } => self.decided_by(trace, "queued to userspace", rule),
        }
    }

    /// `dropped by mangle:FIREWALL:5 (line 12 of the dump)`, then the rule's text.
    fn decided_by(&mut self, trace: &Trace, what: &str, rule: &RuleRef) {
        let line = match rule.line {
            Some(n) => format!(" (line {n} of the dump)"),
            None => " (chain policy)".to_string(),
        };
        let who = paint(self.p.chain(), rule);
        self.labelled("fate", format!("{what} by {who}{line}"));
        if let Some(text) = rule_text(&trace.events, rule) {
            self.labelled("rule", paint(self.p.rule_text(), text));
        }
    }

    fn before_after(&mut self, before: &Packet, after: &Packet) {
        let old = packet_fields(before, after);
        let new = packet_fields(after, before);
        self.labelled("before", join_fields(&old, |f| f.text.clone()));
        if old == new {
            self.labelled("after", paint(self.p.dim(), "unchanged"));
            return;
        }
        let after_text = join_fields(&new, |f| {
            let changed = old.iter().any(|o| o.key == f.key && o.text != f.text);
            let style = if changed {
                self.p.changed()
            } else {
                Style::new()
            };
            paint(style, &f.text)
        });
        self.labelled("after", after_text);
    }

    fn assumption_list(&mut self, assumptions: &[Assumption]) {
        if assumptions.is_empty() {
            self.labelled("assumptions", paint(self.p.dim(), "no assumptions"));
            return;
        }
        self.labelled("assumptions", assumptions.len());
        for a in assumptions {
            self.line(BASE, paint(self.p.assumption(), assumption_text(a)));
        }
    }
}

/// `assume: text [key] (table:chain:n)`.
fn assumption_text(a: &Assumption) -> String {
    let Assumption { key, text, rule } = a;
    match rule {
        Some(r) => format!("assume: {text} [{key}] ({r})"),
        None => format!("assume: {text} [{key}]"),
    }
}

/// `DROP`, or `REJECT (icmp-port-unreachable)`.
fn verdict_word(v: &Verdict) -> String {
    match v {
        Verdict::Reject { with } => format!("REJECT ({with})"),
        Verdict::Accept | Verdict::Drop | Verdict::Queue => v.as_str().to_string(),
    }
}

/// `dropped`, `rejected with tcp-reset`, …
fn verdict_past(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accepted".into(),
        Verdict::Drop => "dropped".into(),
        Verdict::Reject { with } => format!("rejected with {with}"),
        Verdict::Queue => "queued".into(),
    }
}

/// `text` in `style`; no escape codes when the style is plain.
fn paint(style: Style, text: impl Display) -> String {
    text.style(style).to_string()
}

fn hex(v: u32) -> String {
    format!("{v:#x}")
}

fn addr_port(addr: std::net::Ipv4Addr, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    }
}

/// One piece of a packet summary; `key` pairs pieces of two packets for diffing.
#[derive(Debug, PartialEq, Eq)]
struct Field {
    key: &'static str,
    text: String,
}

fn field(key: &'static str, text: impl Into<String>) -> Field {
    Field {
        key,
        text: text.into(),
    }
}

/// `tcp 183.62.15.118:22449 → 61.146.164.120:10174 [SYN] ttl 64`, as fields.
/// `other` is the packet it will be compared with: optional fields (mark, TOS)
/// appear when either packet has them set.
fn packet_fields(p: &Packet, other: &Packet) -> Vec<Field> {
    let ports = p.transport.ports();
    let mut out = vec![
        field("proto", proto_word(p.transport)),
        field("src", addr_port(p.src, ports.map(|(s, _)| s))),
        field("arrow", "→"),
        field("dst", addr_port(p.dst, ports.map(|(_, d)| d))),
    ];
    out.extend(transport_detail(p.transport));
    out.push(field("ttl", format!("ttl {}", p.ttl)));
    if p.tos != 0 || other.tos != 0 {
        out.push(field("tos", format!("tos {}", hex(p.tos.into()))));
    }
    if p.mark != 0 || other.mark != 0 {
        out.push(field("mark", format!("mark {}", hex(p.mark))));
    }
    out
}

fn proto_word(t: Transport) -> String {
    match t {
        Transport::Tcp { .. } => "tcp".into(),
        Transport::Udp { .. } => "udp".into(),
        Transport::Icmp { .. } => "icmp".into(),
        Transport::Other { number } => format!("proto {number}"),
    }
}

/// `[SYN,ACK]` for TCP, `echo-request` / `type 3/1` for ICMP.
fn transport_detail(t: Transport) -> Option<Field> {
    match t {
        Transport::Tcp { flags, .. } if flags != 0 => {
            let names: Vec<&str> = tcp_flag::NAMES
                .iter()
                .filter(|(_, bit)| flags & bit != 0)
                .map(|(name, _)| *name)
                .collect();
            Some(field("flags", format!("[{}]", names.join(","))))
        }
        Transport::Icmp {
            icmp_type, code, ..
        } => Some(field("icmp", icmp_name(icmp_type, code))),
        Transport::Tcp { .. } | Transport::Udp { .. } | Transport::Other { .. } => None,
    }
}

/// The names `iptables -p icmp -h` prints for the common types.
fn icmp_name(icmp_type: u8, code: u8) -> String {
    match (icmp_type, code) {
        (0, 0) => "echo-reply".into(),
        (8, 0) => "echo-request".into(),
        (3, 3) => "port-unreachable".into(),
        (11, 0) => "ttl-zero-during-transit".into(),
        (t, c) => format!("type {t}/{c}"),
    }
}

fn join_fields(fields: &[Field], mut show: impl FnMut(&Field) -> String) -> String {
    fields.iter().map(&mut show).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;
    use crate::render::json::samples;

    fn plain(trace: &Trace) -> String {
        render(trace, &Palette::plain())
    }

    /// The line that starts (after indentation) with `prefix`.
    fn line_starting<'a>(out: &'a str, prefix: &str) -> &'a str {
        out.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{out}"))
    }

    fn indent(line: &str) -> usize {
        line.len() - line.trim_start().len()
    }

    #[test]
    fn use_color_table() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        #[rustfmt::skip]
        let cases = [
            // choice, is_terminal, NO_COLOR, expected
            (ColorChoice::Auto,   /* tty */ true,  None,  true),
            (ColorChoice::Auto,   /* tty */ false, None,  false),
            (ColorChoice::Auto,   /* tty */ true,  set,   false),
            (ColorChoice::Auto,   /* tty */ true,  empty, true),
            (ColorChoice::Always, /* tty */ false, set,   true),
            (ColorChoice::Never,  /* tty */ true,  None,  false),
        ];
        for (choice, tty, no_color, want) in cases {
            let got = use_color_with(choice, tty, no_color);
            assert_eq!(got, want, "{choice:?} tty={tty} NO_COLOR={no_color:?}");
        }
    }

    #[test]
    fn plain_palette_has_no_escapes() {
        assert!(!plain(&samples::forwarded()).contains('\x1b'));
        assert!(!plain(&samples::dropped()).contains('\x1b'));
    }

    #[test]
    fn new_without_color_is_plain() {
        let out = render(&samples::forwarded(), &Palette::new(false));
        assert_eq!(out, plain(&samples::forwarded()));
    }

    #[test]
    fn color_palette_colors() {
        let out = render(&samples::dropped(), &Palette::new(true));
        assert!(out.contains('\x1b'));
        let red_drop = "DROP".style(Style::new().red().bold()).to_string();
        assert!(out.contains(&red_drop), "DROP in red:\n{out}");
    }

    #[test]
    fn header_describes_the_packet() {
        let out = plain(&samples::forwarded());
        let first = out.lines().next().expect("header");
        assert_eq!(
            first,
            "tcp 183.62.15.118:22449 → 61.146.164.120:10174 [SYN] in eth2 ttl 64"
        );
    }

    #[test]
    fn header_of_a_local_packet() {
        let mut trace = samples::dropped();
        trace.iif = None;
        let out = plain(&trace);
        assert!(out
            .lines()
            .next()
            .expect("header")
            .contains("from a local process"));
    }

    #[test]
    fn hooks_start_sections_with_devices() {
        let out = plain(&samples::forwarded());
        assert!(out.lines().any(|l| l == "PREROUTING  in=eth2"));
        assert!(out.lines().any(|l| l == "FORWARD  in=eth2  out=eth1"));
    }

    #[test]
    fn summary_names_deciding_rule_and_verdict() {
        let out = plain(&samples::dropped());
        assert!(out.contains("\nverdict     DROP\n"), "{out}");
        let fate = line_starting(&out, "fate");
        assert_eq!(
            fate,
            "fate        dropped by mangle:FIREWALL:5 (line 12 of the dump)"
        );
        let rule = line_starting(&out, "rule ");
        assert!(rule.ends_with(samples::DROP_RULE));
    }

    #[test]
    fn table_verdict_is_shown_under_its_rule() {
        let out = plain(&samples::dropped());
        let rule = line_starting(&out, "mangle:FIREWALL #5");
        let verdict = line_starting(&out, "DROP  by mangle:FIREWALL:5");
        assert!(indent(verdict) > indent(rule));
    }

    #[test]
    fn rules_are_indented_by_jump_depth() {
        let out = plain(&samples::forwarded());
        let caller = line_starting(&out, "mangle:PREROUTING #1");
        let jump = line_starting(&out, "→ jump FIREWALL");
        let callee = line_starting(&out, "mangle:FIREWALL #2");
        let back = line_starting(&out, "← back to PREROUTING");
        assert_eq!(indent(caller), BASE);
        assert_eq!(indent(jump), BASE + STEP);
        assert_eq!(indent(callee), BASE + STEP);
        assert_eq!(indent(back), BASE + STEP);
    }

    #[test]
    fn rule_line_has_locator_text_and_dump_line() {
        let out = plain(&samples::forwarded());
        let line = line_starting(&out, "mangle:FIREWALL #2");
        assert!(
            line.ends_with(&format!("  {}  (line 13)", samples::MARK_RULE)),
            "{line}"
        );
    }

    #[test]
    fn policy_and_implicit_return_entries() {
        let out = plain(&samples::forwarded());
        assert_eq!(
            line_starting(&out, "raw:PREROUTING #1").trim(),
            "raw:PREROUTING #1  policy ACCEPT"
        );
        let tail = line_starting(&out, "mangle:FIREWALL #4").trim();
        assert_eq!(tail, "mangle:FIREWALL #4  end of chain (return)");
    }

    #[test]
    fn policy_drop_entry() {
        let mut trace = samples::dropped();
        let policy = samples::rule_ref(TableName::Filter, "INPUT", 3, None);
        let pkt = samples::syn();
        trace.events = vec![
            samples::rule(crate::trace::event::Hook::Input, &policy, None, 0, &pkt),
            Event::TableVerdict {
                hook: crate::trace::event::Hook::Input,
                table: TableName::Filter,
                verdict: Verdict::Drop,
                rule: policy.clone(),
            },
        ];
        trace.disposition = Disposition::Dropped {
            reason: "DROP by filter:INPUT:3".into(),
            rule: Some(policy),
        };
        let out = plain(&trace);
        assert!(out.contains("filter:INPUT #3  policy DROP"), "{out}");
        assert!(
            out.contains("dropped by filter:INPUT:3 (chain policy)"),
            "{out}"
        );
    }

    #[test]
    fn mark_change_is_shown() {
        let out = plain(&samples::forwarded());
        assert_eq!(line_starting(&out, "mark ").trim(), "mark 0x0 → 0x2");
    }

    #[test]
    fn mark_change_is_highlighted() {
        let palette = Palette::new(true);
        let out = render(&samples::forwarded(), &palette);
        let new = "0x2".style(palette.changed()).to_string();
        assert!(out.contains(&format!("mark 0x0 → {new}")), "{out}");
    }

    #[test]
    fn nat_shows_old_new_and_reason() {
        let out = plain(&samples::forwarded());
        let nat = line_starting(&out, "DNAT dst").trim();
        assert_eq!(
            nat,
            "DNAT dst 61.146.164.120:10174 → 172.17.21.105:22  (--to-destination 172.17.21.105:22)"
        );
    }

    #[test]
    fn routing_decision_with_rule_route_and_steps() {
        let out = plain(&samples::forwarded());
        assert!(out.contains("\nrouting (input)  forward via 172.17.21.105 dev eth1\n"));
        assert!(out.contains("\n  · 0: from all lookup local: no match\n"));
        assert!(out.contains("\n  ip rule   32766: from all lookup main\n"));
        assert!(out.contains("\n  ip route  172.17.21.0/24 dev eth1"));
    }

    #[test]
    fn conntrack_decision_is_shown() {
        let out = plain(&samples::forwarded());
        assert!(out.contains("\n  conntrack NEW  first packet of the connection\n"));
    }

    #[test]
    fn assumptions_inline_and_in_summary() {
        let out = plain(&samples::forwarded());
        let text =
            "assume: source taken as passing the reverse-path check [rpfilter] (filter:FORWARD:3)";
        assert_eq!(out.matches(text).count(), 2, "{out}");
        assert!(out.contains("\nassumptions 1\n"));
    }

    #[test]
    fn no_assumptions_is_said() {
        let out = plain(&samples::dropped());
        assert!(out.contains("\nassumptions no assumptions\n"));
    }

    #[test]
    fn sent_fate() {
        let out = plain(&samples::forwarded());
        assert!(out.contains("\nfate        sent out of eth1 directly to 172.17.21.105\n"));
    }

    #[test]
    fn unchanged_packet() {
        let out = plain(&samples::dropped());
        assert!(out.contains("\nafter       unchanged\n"));
    }

    #[test]
    fn before_after_highlights_only_changed_fields() {
        let palette = Palette::new(true);
        let out = render(&samples::forwarded(), &palette);
        let after = line_starting(&out, "after");
        let hl = |s: &str| s.style(palette.changed()).to_string();
        assert!(after.contains(&hl("172.17.21.105:22")));
        assert!(after.contains(&hl("ttl 63")));
        assert!(after.contains(&hl("mark 0x2")));
        assert!(
            after.contains("tcp 183.62.15.118:22449 → "),
            "unchanged fields plain: {after}"
        );
    }

    #[test]
    fn reject_and_generated_reply() {
        let mut trace = samples::dropped();
        trace.verdict = Verdict::Reject {
            with: "icmp-port-unreachable".into(),
        };
        trace.events.push(Event::Generated {
            what: "ICMP port-unreachable".into(),
            to: trace.initial.src,
        });
        let out = plain(&trace);
        assert!(
            out.contains("\nverdict     REJECT (icmp-port-unreachable)\n"),
            "{out}"
        );
        assert!(out.contains("rejected with icmp-port-unreachable by mangle:FIREWALL:5"));
        assert!(out.contains("sends ICMP port-unreachable to 183.62.15.118"));
    }

    #[test]
    fn routing_drop_without_events() {
        let mut trace = samples::dropped();
        trace.events.clear();
        trace.disposition = Disposition::Dropped {
            reason: "no route to host (ICMP host unreachable)".into(),
            rule: None,
        };
        let out = plain(&trace);
        assert_eq!(
            out.lines().count(),
            7,
            "header, blank, five summary lines:\n{out}"
        );
        assert!(out.contains("\nfate        dropped: no route to host (ICMP host unreachable)\n"));
    }

    #[test]
    fn icmp_names() {
        assert_eq!(icmp_name(8, 0), "echo-request");
        assert_eq!(icmp_name(3, 1), "type 3/1");
    }
}
