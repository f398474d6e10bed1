//! Properties over random input (proptest):
//!
//! * iptables-save: for a random well-formed dump, `parse(print(parse(x)))`
//!   equals `parse(x)` rule by rule (header, matches, target, counters,
//!   spelling) and printing is stable;
//! * the tracer never panics on a random ruleset and packet, and every rule it
//!   names is the rule with that number in that chain;
//! * the synthetic workload generators write text the parsers read.

use nftrace::model::routing::Routing;
use nftrace::model::ruleset::{Chain, Rule, Ruleset};
use nftrace::model::Host;
use nftrace::parse::{self, iptables_save};
use nftrace::render::save;
use nftrace::trace::event::{Event, Trace, TraceType};
use proptest::prelude::*;
use proptest::sample::select;

fn addr() -> impl Strategy<Value = String> {
    (any::<[u8; 4]>(), 0u8..=32, any::<bool>()).prop_map(|(a, len, bang)| {
        let ip = std::net::Ipv4Addr::from(a);
        format!("{}{ip}/{len}", if bang { "! " } else { "" })
    })
}

fn port_range() -> impl Strategy<Value = String> {
    (any::<u16>(), prop::option::of(any::<u16>())).prop_map(|(a, b)| match b {
        Some(b) if b >= a => format!("{a}:{b}"),
        _ => a.to_string(),
    })
}

/// A comment with quotes, backslashes, blanks and non-ASCII.
fn comment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _\\-\"\\\\'.:/é]{0,20}".prop_map(|s| {
        let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
        format!("-m comment --comment \"{escaped}\"")
    })
}

/// Matches that need no protocol.
fn generic_match() -> impl Strategy<Value = String> {
    prop_oneof![
        comment(),
        (any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(v, m, b)| format!(
            "-m mark {}--mark 0x{v:x}/0x{m:x}",
            if b { "! " } else { "" }
        )),
        select(vec![
            "NEW",
            "ESTABLISHED",
            "RELATED,ESTABLISHED",
            "INVALID",
            "NEW,UNTRACKED"
        ])
        .prop_map(|s| format!("-m conntrack --ctstate {s}")),
        select(vec!["NEW", "ESTABLISHED,RELATED"]).prop_map(|s| format!("-m state --state {s}")),
        select(vec!["LOCAL", "UNICAST", "BROADCAST"])
            .prop_map(|t| format!("-m addrtype --dst-type {t}")),
        (0u16..1500, 0u16..1500).prop_map(|(a, b)| format!(
            "-m length --length {}:{}",
            a.min(b),
            a.max(b)
        )),
        (1u8..255).prop_map(|t| format!("-m ttl --ttl-gt {t}")),
        Just("-m limit --limit 5/sec --limit-burst 10".to_string()),
        select(vec!["src", "dst", "src,dst"]).prop_map(|d| format!("-m set --match-set S {d}")),
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| {
            let (a, b) = (std::net::Ipv4Addr::from(a), std::net::Ipv4Addr::from(b));
            format!("-m iprange --src-range {}-{}", a.min(b), a.max(b))
        }),
    ]
}

/// `-p PROTO` and matches for it.
fn proto_part() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        Just((String::new(), false)),
        (port_range(), port_range(), any::<bool>()).prop_map(|(s, d, syn)| {
            let flags = if syn {
                " --tcp-flags FIN,SYN,RST,ACK SYN"
            } else {
                ""
            };
            (
                format!("-p tcp -m tcp --sport {s} --dport {d}{flags}"),
                true,
            )
        }),
        port_range().prop_map(|d| (format!("-p udp -m udp --dport {d}"), false)),
        (0u8..19).prop_map(|t| (format!("-p icmp -m icmp --icmp-type {t}"), false)),
        prop::collection::vec(any::<u16>(), 1..5).prop_map(|ps| {
            let ps: Vec<String> = ps.iter().map(u16::to_string).collect();
            (
                format!("-p tcp -m multiport --dports {}", ps.join(",")),
                true,
            )
        }),
        select(vec!["all", "47", "esp", "sctp"]).prop_map(|p| (format!("-p {p}"), false)),
    ]
}

/// Targets valid anywhere in any table.
fn anywhere_target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-j ACCEPT".to_string()),
        Just("-j DROP".to_string()),
        Just("-j RETURN".to_string()),
        Just(String::new()),
        (any::<u32>(), any::<u32>())
            .prop_map(|(v, m)| format!("-j MARK --set-xmark 0x{v:x}/0x{m:x}")),
        Just("-j LOG --log-prefix \"x: \"".to_string()),
        Just("-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff".to_string()),
        (any::<u32>(), any::<u32>(), any::<bool>(), 1u8..32).prop_map(|(v, m, right, n)| {
            let dir = if right { "right" } else { "left" };
            format!("-j CONNMARK --set-xmark 0x{v:x}/0x{m:x} --{dir}-shift-mark {n}")
        }),
    ]
}

/// A target for a rule of built-in `chain` in `table` (`tcp`: the rule is `-p tcp`).
fn builtin_target(table: &'static str, chain: &'static str, tcp: bool) -> BoxedStrategy<String> {
    let dnat = (any::<[u8; 4]>(), 1u16..).prop_map(|(a, p)| {
        format!(
            "-j DNAT --to-destination {}:{p}",
            std::net::Ipv4Addr::from(a)
        )
    });
    match (table, chain) {
        ("nat", "PREROUTING" | "OUTPUT") if tcp => prop_oneof![
            anywhere_target(),
            dnat,
            (1u16..).prop_map(|p| format!("-j REDIRECT --to-ports {p}"))
        ]
        .boxed(),
        // Ports in a NAT target need -p (iptables: "Need TCP, UDP, SCTP or DCCP with port specification").
        ("nat", "PREROUTING" | "OUTPUT") => prop_oneof![
            anywhere_target(),
            any::<[u8; 4]>()
                .prop_map(|a| format!("-j DNAT --to-destination {}", std::net::Ipv4Addr::from(a)))
        ]
        .boxed(),
        ("nat", "POSTROUTING") => prop_oneof![
            anywhere_target(),
            Just("-j MASQUERADE".to_string()),
            any::<[u8; 4]>()
                .prop_map(|a| format!("-j SNAT --to-source {}", std::net::Ipv4Addr::from(a)))
        ]
        .boxed(),
        ("filter", _) if tcp => prop_oneof![
            anywhere_target(),
            Just("-j REJECT --reject-with tcp-reset".to_string()),
            Just("-j REJECT --reject-with icmp-host-prohibited".to_string())
        ]
        .boxed(),
        ("filter", _) => prop_oneof![
            anywhere_target(),
            Just("-j REJECT --reject-with icmp-port-unreachable".to_string())
        ]
        .boxed(),
        _ => anywhere_target().boxed(),
    }
}

const TABLES: &[(&str, &[&str])] = &[
    ("raw", &["PREROUTING", "OUTPUT"]),
    (
        "mangle",
        &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    ),
    ("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
    ("filter", &["INPUT", "FORWARD", "OUTPUT"]),
];

/// One rule of `chain`: header, matches, target. User chains `U0..` may jump
/// to user chains with a higher number only (no loops).
fn rule(
    table: &'static str,
    chain: &'static str,
    user: usize,
    users: usize,
) -> BoxedStrategy<String> {
    let in_ok = !matches!(chain, "OUTPUT" | "POSTROUTING");
    let out_ok = !matches!(chain, "PREROUTING" | "INPUT");
    let builtin = !chain.starts_with('U');
    let first_jump = if builtin { 0 } else { user + 1 };
    (
        prop::option::of(addr()),
        prop::option::of(addr()),
        select(vec!["", "-i eth0", "! -i eth1", "-i veth+"]),
        select(vec!["", "-o eth0", "-o br+"]),
        proto_part(),
        prop::collection::vec(generic_match(), 0..3),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_flat_map(move |(s, d, i, o, (proto, tcp), ms, pick, jump)| {
            let mut head = format!("-A {chain}");
            for (flag, v) in [("-s", &s), ("-d", &d)] {
                if let Some(v) = v {
                    match v.strip_prefix("! ") {
                        Some(v) => head.push_str(&format!(" ! {flag} {v}")),
                        None => head.push_str(&format!(" {flag} {v}")),
                    }
                }
            }
            for (ok, part) in [(in_ok, i), (out_ok, o), (true, proto.as_str())] {
                if ok && !part.is_empty() {
                    head.push(' ');
                    head.push_str(part);
                }
            }
            for m in &ms {
                head.push(' ');
                head.push_str(m);
            }
            let target = if jump && first_jump < users {
                let to = first_jump + pick.index(users - first_jump);
                Just(format!("-j U{to}")).boxed()
            } else if builtin {
                builtin_target(table, chain, tcp)
            } else {
                anywhere_target().boxed()
            };
            target.prop_map(move |t| {
                if t.is_empty() {
                    head.clone()
                } else {
                    format!("{head} {t}")
                }
            })
        })
        .boxed()
}

/// A table with its built-in chains, `users` user chains and rules.
fn table(name: &'static str, chains: &'static [&'static str]) -> BoxedStrategy<String> {
    (0usize..4)
        .prop_flat_map(move |users| {
            let mut parts: Vec<BoxedStrategy<Vec<String>>> = chains
                .iter()
                .map(|c| prop::collection::vec(rule(name, c, 0, users), 0..4).boxed())
                .collect();
            for u in 0..users {
                let chain: &'static str = Box::leak(format!("U{u}").into_boxed_str());
                parts.push(prop::collection::vec(rule(name, chain, u, users), 0..4).boxed());
            }
            (Just(users), parts, any::<bool>())
        })
        .prop_map(move |(users, rules, counters)| {
            let mut s = format!("*{name}\n");
            for c in chains {
                s.push_str(&format!(":{c} ACCEPT [0:0]\n"));
            }
            for u in 0..users {
                s.push_str(&format!(":U{u} - [0:0]\n"));
            }
            for r in rules.iter().flatten() {
                if counters {
                    s.push_str("[3:180] ");
                }
                s.push_str(r);
                s.push('\n');
            }
            s.push_str("COMMIT\n");
            s
        })
        .boxed()
}

/// A dump with a random subset of the tables.
fn dump() -> impl Strategy<Value = String> {
    let tables: Vec<BoxedStrategy<Option<String>>> = TABLES
        .iter()
        .map(|(n, c)| prop::option::of(table(n, c)).boxed())
        .collect();
    tables.prop_map(|ts| ts.into_iter().flatten().collect::<String>())
}

/// What must survive printing: everything but the line number and raw text.
fn semantic(r: &Rule) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        r.counters, r.ip, r.matches, r.target, r.spelling
    )
}

fn rules(rs: &Ruleset) -> Vec<String> {
    rs.tables
        .iter()
        .flat_map(|t| {
            t.chains.iter().flat_map(move |c| {
                c.rules()
                    .iter()
                    .map(move |r| format!("{}:{}: {}", t.name, c.name, semantic(r)))
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn iptables_save_parse_print_parse_is_identity(text in dump()) {
        let first = iptables_save::parse("gen", &text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
        let printed = save::write(&first);
        let second = iptables_save::parse("printed", &printed).map_err(|e| TestCaseError::fail(format!("{printed}\n{e}")))?;
        prop_assert_eq!(rules(&first), rules(&second));
        prop_assert_eq!(save::write(&second), printed);
    }

    #[test]
    fn tracer_never_panics_and_names_existing_rules(text in dump(), packet in packet()) {
        let host = host_of(&text, packet.mark)?;
        let t = nftrace::trace::trace(&host, &packet.probe()?, &Default::default());
        check_rule_refs(&host, &t).map_err(TestCaseError::fail)?;
        nftrace::render::json::render(&t);
        nftrace::render::log::render(&t, &Default::default());
    }

    #[test]
    fn workload_generators_write_what_the_parsers_read(seed in any::<u64>(), n in 1usize..60) {
        iptables_save::parse("lin", &nftrace::workload::linear_firewall(n, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        iptables_save::parse("deep", &nftrace::workload::deep_jumps(n % 12 + 1, 3, 2, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        parse::conntrack::parse("ct", &nftrace::workload::conntrack(n, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        parse::ip_route::parse("r", &nftrace::workload::routes(n, n % 5 + 1, seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        parse::ip_rule::parse("p", &nftrace::workload::policy_rules(n)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// A chain of at least `Chain::SPARSE_FROM` rules is walked through its
    /// headers, each rule parsed when a packet matches its header: the trace
    /// must be the one through the same chain parsed whole.
    #[test]
    fn a_long_chain_walks_as_its_parsed_rules(text in dump(), packet in packet()) {
        let text = lengthened(&text);
        let sparse = host_of(&text, packet.mark)?;
        let parsed = host_of(&text, packet.mark)?;
        let chains = parsed.ruleset.tables.iter().flat_map(|t| &t.chains);
        let long = chains.map(|c| c.rules().len()).filter(|&n| n >= Chain::SPARSE_FROM).count();
        prop_assume!(long > 0);
        let probe = packet.probe()?;
        let json = |host: &Host| nftrace::render::json::render(&nftrace::trace::trace(host, &probe, &Default::default()));
        prop_assert_eq!(json(&sparse), json(&parsed));
    }
}

/// A packet for the tracer properties.
#[derive(Debug, Clone)]
struct Packet {
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    proto: &'static str,
    ports: (u16, u16),
    local: bool,
    iif: &'static str,
    mark: u32,
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        select(vec!["tcp", "udp", "icmp"]),
        (1u16.., 1u16..),
        any::<bool>(),
        select(vec!["eth0", "eth1", "veth9", "lo"]),
        any::<u32>(),
    )
        .prop_map(|(src, dst, proto, ports, local, iif, mark)| Packet {
            src: src.into(),
            dst: dst.into(),
            proto,
            ports,
            local,
            iif,
            mark,
        })
}

impl Packet {
    fn probe(&self) -> Result<nftrace::trace::Probe, TestCaseError> {
        let (src, dst) = (self.src.to_string(), self.dst.to_string());
        let mut flags = vec!["-s", &src, "-d", &dst, "-p", self.proto];
        let (sport, dport) = (self.ports.0.to_string(), self.ports.1.to_string());
        if self.proto != "icmp" {
            flags.extend(["--sport", &sport, "--dport", &dport]);
        }
        if self.local {
            flags.push("--local")
        } else {
            flags.extend(["-i", self.iif])
        }
        let mark = format!("0x{:x}", self.mark);
        flags.extend(["--mark", &mark]);
        nftrace::probe::probe_from_flags(&flags)
            .map_err(|e| TestCaseError::fail(format!("{flags:?}: {e}")))
    }
}

/// The host of dump `text`, with generated routes (seeded by `seed`) and addresses.
fn host_of(text: &str, seed: u32) -> Result<Host, TestCaseError> {
    let ruleset = iptables_save::parse("gen", text)
        .map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
    let routes = nftrace::workload::routes(20, 2, u64::from(seed));
    let routes = parse::ip_route::parse("r", &routes).unwrap().routes;
    let links = parse::ip_addr::parse("a", &nftrace::workload::addrs()).unwrap();
    let (routing, notes) = Routing::from_dumps(Some(links), Some(routes), None);
    Ok(Host::new(ruleset, routing, notes))
}

/// `text` with each table's rule lines repeated until its shortest non-empty
/// chain has `Chain::SPARSE_FROM` rules. Repeating a rule adds no chain and no
/// jump the table did not have, so the result loads as the original did.
fn lengthened(text: &str) -> String {
    let mut out = String::new();
    let mut rules: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with("-A ") {
            rules.push(line);
            continue;
        }
        if line == "COMMIT" {
            let mut per_chain = std::collections::HashMap::new();
            for r in &rules {
                *per_chain.entry(r.split(' ').nth(1)).or_insert(0usize) += 1;
            }
            let shortest = per_chain.values().min().copied().unwrap_or(1);
            for _ in 0..Chain::SPARSE_FROM.div_ceil(shortest) {
                for r in &rules {
                    out.push_str(r);
                    out.push('\n');
                }
            }
            rules.clear();
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every rule event names a rule that exists: `rulenum` n of a chain is its
/// n-th rule (same line and text); a policy or implicit return is rules + 1,
/// or an unconditional ACCEPT/DROP/RETURN rule, which the kernel also logs as
/// `policy`/`return` (`get_chainname_rulenum` in ip_tables.c: an
/// unconditional standard target with a negative verdict is "tail of chain").
fn check_rule_refs(host: &Host, t: &Trace) -> Result<(), String> {
    for e in &t.events {
        let Event::Rule {
            rule,
            trace_type,
            text,
            ..
        } = e
        else {
            continue;
        };
        let chain = host
            .ruleset
            .table(rule.table)
            .and_then(|tb| tb.chain(&rule.chain))
            .ok_or(format!("{rule}: no such chain"))?;
        let n = rule.rulenum as usize;
        match trace_type {
            TraceType::Rule => {
                let r = chain
                    .rules()
                    .get(n.wrapping_sub(1))
                    .ok_or(format!("{rule}: no such rule"))?;
                if rule.line != Some(r.line) || text.as_deref() != Some(r.text.as_str()) {
                    return Err(format!(
                        "{rule} names line {:?} {text:?}, rule {n} is line {} {}",
                        rule.line, r.line, r.text
                    ));
                }
            }
            _ if chain.rules().get(n.wrapping_sub(1)).is_some_and(tail_like) => {
                let r = &chain.rules()[n - 1];
                if rule.line != Some(r.line) {
                    return Err(format!(
                        "{rule} names line {:?}, rule {n} is line {}",
                        rule.line, r.line
                    ));
                }
            }
            _ if n != chain.rules().len() + 1 => {
                return Err(format!(
                    "{rule}: a {trace_type:?} numbered {n} in a chain of {} rules",
                    chain.rules().len()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn kube_proxy_workloads_load_under_the_kernel_checks() {
    for seed in 0..3 {
        let shape = nftrace::workload::KubeShape {
            services: 40,
            endpoints: 3,
            seed,
        };
        let text = nftrace::workload::kube_proxy(shape);
        iptables_save::parse("kube", &text).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A rule the kernel's TRACE logs like a chain's tail (fixtures/queue-tail-is-policy).
fn tail_like(r: &Rule) -> bool {
    use nftrace::model::target::Target;
    let standard = matches!(
        r.target,
        Target::Accept | Target::Drop | Target::Queue | Target::Return
    );
    r.is_unconditional() && standard
}
