//! `iptables-save` form of a parsed ruleset.
//!
//! Prints from the parsed structure (never from `Rule::text`), in the form
//! iptables-save 1.8 prints (`iptables/iptables-save.c`, `print_rule4`,
//! `save_rule_details`, the `extensions/libxt_*.c` save functions), except where
//! the model recorded that the dump spelled something the older way
//! ([`RuleSpelling`], [`MarkSpelling`], implicit matches, option words kept as written).

use std::fmt::Write as _;

use crate::model::matches::{
    AddrtypeMatch, CtCondition, IcmpMatch, MarkMatch, Match, MatchKind, MultiportDir,
    MultiportMatch, StatisticMode, TcpFlagBits, TcpMatch, TtlOp, UdpMatch,
};
use crate::model::ruleset::{
    AddrMask, Chain, IpHeaderMatch, Neg, Rule, RuleSpelling, Ruleset, Table,
};
use crate::model::target::{ConnmarkOp, MarkOp, MarkSpelling, NatFlags, NatRange, Target};
use crate::parse::lex::{format_addr, format_port_range, push_save_string};

/// Prints the whole ruleset: per table `*table`, the chain headers, the rules
/// in their original line order, `COMMIT`.
pub fn write(ruleset: &Ruleset) -> String {
    let mut out = String::with_capacity(ruleset.rule_count() * 80 + 256);
    for table in &ruleset.tables {
        write_table(&mut out, table);
    }
    out
}

/// One `*table` … `COMMIT` block.
fn write_table(out: &mut String, table: &Table) {
    let _ = writeln!(out, "*{}", table.name);
    for chain in &table.chains {
        write_chain_header(out, chain);
    }
    let mut rules: Vec<(&Chain, &Rule)> = table
        .chains
        .iter()
        .flat_map(|c| c.rules().iter().map(move |r| (c, r)))
        .collect();
    // Dumps group rules by chain; a hand-written file may interleave them.
    rules.sort_by_key(|(_, r)| r.line);
    for (chain, rule) in rules {
        write_rule(out, &chain.name, rule);
        out.push('\n');
    }
    out.push_str("COMMIT\n");
}

/// `:NAME POLICY [pkts:bytes]`
fn write_chain_header(out: &mut String, chain: &Chain) {
    let policy = chain.policy.map_or("-", |p| p.as_str());
    let _ = write!(out, ":{} {}", chain.name, policy);
    if let Some(c) = chain.counters.as_deref() {
        let _ = write!(out, " [{}:{}]", c.packets, c.bytes);
    }
    out.push('\n');
}

/// One rule line without the newline: `[p:b] -A CHAIN header matches target`.
pub fn write_rule(out: &mut String, chain: &str, rule: &Rule) {
    if let Some(c) = rule.counters.as_deref() {
        let _ = write!(out, "[{}:{}] ", c.packets, c.bytes);
    }
    let _ = write!(out, "-A {chain}");
    write_header(out, &rule.ip, &rule.spelling);
    for m in &rule.matches {
        write_match(out, m);
    }
    write_target(out, &rule.target);
}

/// ` [!] -s … [!] -d … [!] -i … [!] -o … [!] -p … [!] -f`, the order of
/// `print_rule4` + `save_rule_details`.
fn write_header(out: &mut String, ip: &IpHeaderMatch, sp: &RuleSpelling) {
    if let Some(a) = &ip.src {
        let text = format_addr(&a.value, sp.src, sp.src_written);
        write_neg_opt(out, "-s", a.invert, &text, sp.bang_after_option);
    }
    if let Some(a) = &ip.dst {
        let text = format_addr(&a.value, sp.dst, sp.dst_written);
        write_neg_opt(out, "-d", a.invert, &text, sp.bang_after_option);
    }
    if let Some(i) = &ip.in_iface {
        write_neg_opt(out, "-i", i.invert, i.value.name(), sp.bang_after_option);
    }
    if let Some(o) = &ip.out_iface {
        write_neg_opt(out, "-o", o.invert, o.value.name(), sp.bang_after_option);
    }
    if let Some(p) = &ip.proto {
        write_neg_opt(
            out,
            "-p",
            p.invert,
            &p.value.spelling(),
            sp.bang_after_option,
        );
    }
    if let Some(invert) = ip.fragment {
        out.push_str(if invert { " ! -f" } else { " -f" });
    }
}

/// ` [!] OPT value`, or ` OPT ! value` in the old form.
fn write_neg_opt(out: &mut String, opt: &str, invert: bool, value: &str, late: bool) {
    match (invert, late) {
        (false, _) => {
            let _ = write!(out, " {opt} {value}");
        }
        (true, false) => {
            let _ = write!(out, " ! {opt} {value}");
        }
        (true, true) => {
            let _ = write!(out, " {opt} ! {value}");
        }
    }
}

/// ` -m name options` (no `-m name` for an implicit match).
fn write_match(out: &mut String, m: &Match) {
    if !m.implicit {
        let _ = write!(out, " -m {}", m.module);
    }
    match &m.kind {
        MatchKind::Tcp(t) => write_tcp(out, t),
        MatchKind::Udp(u) => write_udp(out, u),
        MatchKind::Icmp(i) => write_icmp(out, i),
        MatchKind::Multiport(mp) => write_multiport(out, mp),
        MatchKind::Iprange(r) => {
            for (opt, range) in [("--src-range", &r.src), ("--dst-range", &r.dst)] {
                if let Some(n) = range {
                    bang(out, n.invert);
                    let _ = write!(out, " {opt} {}-{}", n.value.0, n.value.1);
                }
            }
        }
        MatchKind::Mark(mm) | MatchKind::Connmark(mm) => write_mark_match(out, mm),
        MatchKind::Conntrack(conds) => {
            for c in conds {
                bang(out, c.invert);
                write_ct_condition(out, &c.value);
            }
        }
        MatchKind::State(s) => {
            bang(out, s.invert);
            let _ = write!(out, " --state {}", s.value.names.join(","));
        }
        MatchKind::Comment(c) => {
            out.push_str(" --comment");
            push_save_string(out, c);
        }
        MatchKind::Addrtype(a) => write_addrtype(out, a),
        MatchKind::Length(l) => {
            bang(out, l.invert);
            let _ = write!(out, " --length {}", format_port_range(&l.value, ':'));
        }
        MatchKind::Pkttype(p) => {
            bang(out, p.invert);
            let _ = write!(out, " --pkt-type {}", p.value);
        }
        MatchKind::Ttl(t) => write_ttl_match(out, t),
        MatchKind::Tos(t) => {
            bang(out, t.invert);
            let _ = write!(out, " --tos 0x{:02x}/0x{:02x}", t.value.0, t.value.1);
        }
        MatchKind::Dscp(d) => {
            bang(out, d.invert);
            let _ = write!(out, " --dscp 0x{:02x}", d.value);
        }
        MatchKind::Mac(m) => {
            bang(out, m.invert);
            let [a, b, c, d, e, f] = m.value;
            let _ = write!(
                out,
                " --mac-source {a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{f:02X}"
            );
        }
        MatchKind::Statistic(s) => write_statistic(out, s),
        MatchKind::Set(set) => {
            bang(out, set.invert);
            let _ = write!(out, " --match-set {} {}", set.name, set.dirs.join(","));
            write_words(out, &set.rest);
        }
        MatchKind::Other(words) => write_words(out, words),
    }
}

/// ` !` when inverted.
fn bang(out: &mut String, invert: bool) {
    if invert {
        out.push_str(" !");
    }
}

/// `tcp_save`: sport, dport, option, flags.
fn write_tcp(out: &mut String, t: &TcpMatch) {
    write_ports(out, &t.sport, &t.dport);
    if let Some(o) = &t.option {
        bang(out, o.invert);
        let _ = write!(out, " --tcp-option {}", o.value);
    }
    if let Some(f) = &t.flags {
        bang(out, f.invert);
        let _ = write!(
            out,
            " --tcp-flags {} {}",
            tcp_flags(f.value.0),
            tcp_flags(f.value.1)
        );
    }
}

/// `udp_save`.
fn write_udp(out: &mut String, u: &UdpMatch) {
    write_ports(out, &u.sport, &u.dport);
}

/// ` [!] --sport a[:b] [!] --dport a[:b]`
fn write_ports(
    out: &mut String,
    sport: &Option<Neg<crate::model::matches::PortRange>>,
    dport: &Option<Neg<crate::model::matches::PortRange>>,
) {
    for (opt, p) in [("--sport", sport), ("--dport", dport)] {
        if let Some(p) = p {
            bang(out, p.invert);
            let _ = write!(out, " {opt} {}", format_port_range(&p.value, ':'));
        }
    }
}

/// `print_tcpf`: flag names in header order, `NONE` for no flags.
fn tcp_flags(bits: TcpFlagBits) -> String {
    const NAMES: [(&str, TcpFlagBits); 8] = [
        ("FIN", 0x01),
        ("SYN", 0x02),
        ("RST", 0x04),
        ("PSH", 0x08),
        ("ACK", 0x10),
        ("URG", 0x20),
        ("ECE", 0x40),
        ("CWR", 0x80),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "NONE".to_string()
    } else {
        names.join(",")
    }
}

/// `icmp_save`: ` [!] --icmp-type T[/C]` or `any`.
fn write_icmp(out: &mut String, i: &IcmpMatch) {
    bang(out, i.invert);
    match i.icmp_type {
        None => out.push_str(" --icmp-type any"),
        Some(t) => {
            let _ = write!(out, " --icmp-type {t}");
            if i.code_min != 0 || i.code_max != 0xff {
                let _ = write!(out, "/{}", i.code_min);
            }
        }
    }
}

/// `multiport_save`.
fn write_multiport(out: &mut String, m: &MultiportMatch) {
    bang(out, m.invert);
    let opt = match m.dir {
        MultiportDir::Source => "--sports",
        MultiportDir::Destination => "--dports",
        MultiportDir::Either => "--ports",
    };
    let ports: Vec<String> = m.ports.iter().map(|p| format_port_range(p, ':')).collect();
    let _ = write!(out, " {opt} {}", ports.join(","));
}

/// `mark_mt_save`: ` [!] --mark 0xV[/0xM]` (mask only when not 0xffffffff).
fn write_mark_match(out: &mut String, m: &MarkMatch) {
    bang(out, m.invert);
    let _ = write!(out, " --mark 0x{:x}", m.value);
    if m.mask != u32::MAX {
        let _ = write!(out, "/0x{:x}", m.mask);
    }
}

/// One conntrack condition (without its `!`).
fn write_ct_condition(out: &mut String, c: &CtCondition) {
    let _ = match c {
        CtCondition::State(s) => write!(out, " --ctstate {}", s.names.join(",")),
        CtCondition::Status(s) => write!(out, " --ctstatus {}", s.join(",")),
        CtCondition::Proto(p) => write!(out, " --ctproto {p}"),
        CtCondition::OrigSrc(a) => write!(out, " --ctorigsrc {}", ct_addr(a)),
        CtCondition::OrigDst(a) => write!(out, " --ctorigdst {}", ct_addr(a)),
        CtCondition::ReplSrc(a) => write!(out, " --ctreplsrc {}", ct_addr(a)),
        CtCondition::ReplDst(a) => write!(out, " --ctrepldst {}", ct_addr(a)),
        CtCondition::OrigSrcPort(p) => {
            write!(out, " --ctorigsrcport {}", format_port_range(p, ':'))
        }
        CtCondition::OrigDstPort(p) => {
            write!(out, " --ctorigdstport {}", format_port_range(p, ':'))
        }
        CtCondition::ReplSrcPort(p) => {
            write!(out, " --ctreplsrcport {}", format_port_range(p, ':'))
        }
        CtCondition::ReplDstPort(p) => {
            write!(out, " --ctrepldstport {}", format_port_range(p, ':'))
        }
        CtCondition::DirOriginal(true) => write!(out, " --ctdir ORIGINAL"),
        CtCondition::DirOriginal(false) => write!(out, " --ctdir REPLY"),
        CtCondition::Expire(e) => write!(out, " --ctexpire {e}"),
    };
}

/// `conntrack_dump_addr`: `/32` is omitted (`xtables_ipmask_to_numeric`).
fn ct_addr(a: &AddrMask) -> String {
    if a.mask == u32::MAX {
        a.addr.to_string()
    } else {
        a.to_string()
    }
}

/// `addrtype_save_v1`.
fn write_addrtype(out: &mut String, a: &AddrtypeMatch) {
    for (opt, t) in [("--src-type", &a.src_type), ("--dst-type", &a.dst_type)] {
        if let Some(t) = t {
            bang(out, t.invert);
            let _ = write!(out, " {opt} {}", t.value.join(","));
        }
    }
    if a.limit_iface_in {
        out.push_str(" --limit-iface-in");
    }
    if a.limit_iface_out {
        out.push_str(" --limit-iface-out");
    }
}

/// `ttl_save`.
fn write_ttl_match(out: &mut String, t: &Neg<(TtlOp, u8)>) {
    bang(out, t.invert);
    let op = match t.value.0 {
        TtlOp::Eq => "--ttl-eq",
        TtlOp::Lt => "--ttl-lt",
        TtlOp::Gt => "--ttl-gt",
    };
    let _ = write!(out, " {op} {}", t.value.1);
}

/// `statistic_save`: the `!` sits after `--mode X`.
fn write_statistic(out: &mut String, s: &Neg<StatisticMode>) {
    match &s.value {
        StatisticMode::Random { text, .. } => {
            out.push_str(" --mode random");
            bang(out, s.invert);
            let _ = write!(out, " --probability {text}");
        }
        StatisticMode::Nth { every, packet } => {
            out.push_str(" --mode nth");
            bang(out, s.invert);
            let _ = write!(out, " --every {every} --packet {packet}");
        }
    }
}

/// Options whose value the extensions print with `xtables_save_string`.
const SAVE_STRING_OPTIONS: &[&str] = &[
    "--log-prefix",
    "--nflog-prefix",
    "--ulog-prefix",
    "--comment",
];

/// Options whose value the extension always prints in double quotes
/// (`u32_save` in libxt_u32.c, `print_string` in libxt_string.c).
const ALWAYS_QUOTED_OPTIONS: &[&str] = &["--u32", "--string", "--hex-string"];

/// Words kept verbatim: quoted where the extension quotes them
/// ([`SAVE_STRING_OPTIONS`]) or where the tokenizer needs it (blanks, quotes,
/// backslashes, empty words); bare otherwise.
fn write_words(out: &mut String, words: &[String]) {
    let mut prev = "";
    for w in words {
        if ALWAYS_QUOTED_OPTIONS.contains(&prev) {
            out.push_str(" \"");
            for c in w.chars() {
                if matches!(c, '"' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else if SAVE_STRING_OPTIONS.contains(&prev) || needs_quotes(w) {
            push_save_string(out, w);
        } else {
            out.push(' ');
            out.push_str(w);
        }
        prev = w;
    }
}

/// True when `split_words` would not read `w` back as one word.
fn needs_quotes(w: &str) -> bool {
    w.is_empty() || w.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '\''))
}

/// ` -j NAME options` / ` -g CHAIN`.
pub(crate) fn write_target(out: &mut String, t: &Target) {
    let _ = match t {
        Target::None => Ok(()),
        Target::Accept => write!(out, " -j ACCEPT"),
        Target::Drop => write!(out, " -j DROP"),
        Target::Return => write!(out, " -j RETURN"),
        Target::Queue => write!(out, " -j QUEUE"),
        Target::Trace => write!(out, " -j TRACE"),
        Target::Notrack => write!(out, " -j NOTRACK"),
        Target::Jump(c) => write!(out, " -j {c}"),
        Target::Goto(c) => write!(out, " -g {c}"),
        Target::Reject(r) => write!(out, " -j REJECT --reject-with {}", r.name),
        Target::Mark(op) => write!(out, " -j MARK {}", mark_op(op)),
        Target::Connmark(op) => write!(out, " -j CONNMARK {}", connmark_op(op)),
        Target::Snat { ranges, flags } => write_nat(out, "SNAT", "--to-source", ranges, flags),
        Target::Dnat { ranges, flags } => write_nat(out, "DNAT", "--to-destination", ranges, flags),
        Target::Masquerade { ports, flags } => write_ports_target(out, "MASQUERADE", ports, flags),
        Target::Redirect { ports, flags } => write_ports_target(out, "REDIRECT", ports, flags),
        Target::Netmap { to } => write!(out, " -j NETMAP --to {to}"),
        Target::Ttl(op) => {
            let (opt, v) = match op {
                crate::model::target::TtlTargetOp::Set(v) => ("--ttl-set", v),
                crate::model::target::TtlTargetOp::Dec(v) => ("--ttl-dec", v),
                crate::model::target::TtlTargetOp::Inc(v) => ("--ttl-inc", v),
            };
            write!(out, " -j TTL {opt} {v}")
        }
        Target::Tos { value, mask, args } => write_args_or(out, "TOS", args, || {
            format!("--set-tos 0x{value:02x}/0x{mask:02x}")
        }),
        Target::Dscp { value, args } => {
            write_args_or(out, "DSCP", args, || format!("--set-dscp 0x{value:02x}"))
        }
        Target::Log(args) => write_named(out, "LOG", args),
        Target::Nflog(args) => write_named(out, "NFLOG", args),
        Target::Nfqueue { args, .. } => write_named(out, "NFQUEUE", args),
        Target::Ct { args, .. } => write_named(out, "CT", args),
        Target::Other { name, args } => write_named(out, name, args),
    };
}

/// ` -j NAME words…`
fn write_named(out: &mut String, name: &str, args: &[String]) -> std::fmt::Result {
    write!(out, " -j {name}")?;
    write_words(out, args);
    Ok(())
}

/// ` -j NAME` with the words as read, or the canonical options when there are none.
fn write_args_or(
    out: &mut String,
    name: &str,
    args: &[String],
    canonical: impl FnOnce() -> String,
) -> std::fmt::Result {
    if args.is_empty() {
        write!(out, " -j {name} {}", canonical())
    } else {
        write_named(out, name, args)
    }
}

/// MARK option in the spelling it was read in (`--set-xmark 0xV/0xM` by default).
fn mark_op(op: &MarkOp) -> String {
    match op.spelling {
        MarkSpelling::SetXmark => format!("--set-xmark 0x{:x}/0x{:x}", op.value, op.mask),
        MarkSpelling::SetMark if op.mask == u32::MAX => format!("--set-mark 0x{:x}", op.value),
        MarkSpelling::SetMark => format!("--set-mark 0x{:x}/0x{:x}", op.value, op.mask),
        MarkSpelling::AndMark => format!("--and-mark 0x{:x}", !op.mask),
        MarkSpelling::OrMark => format!("--or-mark 0x{:x}", op.value),
        MarkSpelling::XorMark => format!("--xor-mark 0x{:x}", op.value),
    }
}

/// CONNMARK options: the words as read for save/restore, else the 1.8 form.
fn connmark_op(op: &ConnmarkOp) -> String {
    match op {
        ConnmarkOp::Set { op, shift } => mark_op(op) + &shift.save_text(),
        ConnmarkOp::Save { text, .. } | ConnmarkOp::Restore { text, .. } if !text.is_empty() => {
            text.clone()
        }
        ConnmarkOp::Save {
            nfmask,
            ctmask,
            shift,
            ..
        } => format!(
            "--save-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}{}",
            shift.save_text()
        ),
        ConnmarkOp::Restore {
            nfmask,
            ctmask,
            shift,
            ..
        } => format!(
            "--restore-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}{}",
            shift.save_text()
        ),
    }
}

/// ` -j SNAT --to-source R… [--random] [--random-fully] [--persistent]`
fn write_nat(
    out: &mut String,
    name: &str,
    opt: &str,
    ranges: &[NatRange],
    flags: &NatFlags,
) -> std::fmt::Result {
    write!(out, " -j {name}")?;
    for r in ranges {
        write!(out, " {opt} {}", nat_range(r))?;
    }
    write_nat_flags(out, flags);
    Ok(())
}

/// `[ip[-ip]][:port[-port]]`
pub fn nat_range(r: &NatRange) -> String {
    let mut s = String::new();
    if let Some((a, b)) = r.addrs {
        let _ = write!(s, "{a}");
        if a != b {
            let _ = write!(s, "-{b}");
        }
    }
    if let Some(p) = &r.ports {
        let _ = write!(s, ":{}", format_port_range(p, '-'));
    }
    s
}

/// NAT flags in the order the save functions print them.
fn write_nat_flags(out: &mut String, flags: &NatFlags) {
    if flags.random {
        out.push_str(" --random");
    }
    if flags.random_fully {
        out.push_str(" --random-fully");
    }
    if flags.persistent {
        out.push_str(" --persistent");
    }
}

/// ` -j MASQUERADE|REDIRECT [--to-ports a[-b]] flags`
fn write_ports_target(
    out: &mut String,
    name: &str,
    ports: &Option<crate::model::matches::PortRange>,
    flags: &NatFlags,
) -> std::fmt::Result {
    write!(out, " -j {name}")?;
    if let Some(p) = ports {
        write!(out, " --to-ports {}", format_port_range(p, '-'))?;
    }
    write_nat_flags(out, flags);
    Ok(())
}
