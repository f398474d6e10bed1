//! Probes generated from a ruleset: for each rule, one packet that reaches it.
//!
//! The packet takes the rule's own conditions (`-s`, `-d`, `-p`, ports, ICMP
//! type, `-i`, `-o`, `--mark`) and, for a rule in a user chain, those of the
//! first rule that jumps to the chain (recursively), so it gets past the
//! jump. The path follows the built-in chain at the top: OUTPUT gives a
//! locally generated packet, INPUT one addressed to the host, the others a
//! received one. What no rule says is filled with documentation addresses
//! (198.51.100.7 → 203.0.113.9) and the host's first interface.

use std::net::Ipv4Addr;

use crate::check::file::{Expect, ProbeSpec};
use crate::model::matches::{MatchKind, MultiportDir};
use crate::model::packet::proto;
use crate::model::ruleset::{Rule, Table};
use crate::model::target::Target;
use crate::model::Host;

/// Source when no rule names one (TEST-NET-2).
const DEFAULT_SRC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// Destination when no rule names one (TEST-NET-3).
const DEFAULT_DST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);
/// How many jumps up a user chain's callers are followed.
const MAX_DEPTH: usize = 8;

/// What the rules on the way ask of the packet.
#[derive(Debug, Clone, Default)]
struct Wish {
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
    proto: Option<u8>,
    sport: Option<u16>,
    dport: Option<u16>,
    icmp: Option<(u8, u8)>,
    iif: Option<String>,
    oif: Option<String>,
    mark: Option<u32>,
}

impl Wish {
    /// Adds what `rule` asks (non-inverted conditions only), overriding earlier wishes.
    fn add(&mut self, rule: &Rule) {
        let ip = &rule.ip;
        let plain = |n: &Option<crate::model::ruleset::Neg<_>>| n.filter(|n| !n.invert);
        if let Some(s) = plain(&ip.src) {
            self.src = Some(inside(s.value.addr, s.value.prefix_len()));
        }
        if let Some(d) = plain(&ip.dst) {
            self.dst = Some(inside(d.value.addr, d.value.prefix_len()));
        }
        if let Some(p) = ip
            .proto
            .as_ref()
            .filter(|p| !p.invert && p.value.number != 0)
        {
            self.proto = Some(p.value.number);
        }
        if let Some(i) = ip.in_iface.as_ref().filter(|i| !i.invert) {
            self.iif = Some(device(i.value.name()));
        }
        if let Some(o) = ip.out_iface.as_ref().filter(|o| !o.invert) {
            self.oif = Some(device(o.value.name()));
        }
        for m in &rule.matches {
            self.add_match(&m.kind);
        }
    }

    fn add_match(&mut self, kind: &MatchKind) {
        let port = |r: &Option<crate::model::ruleset::Neg<crate::model::matches::PortRange>>| {
            r.as_ref().filter(|r| !r.invert).map(|r| r.value.min)
        };
        match kind {
            MatchKind::Tcp(t) => {
                self.sport = port(&t.sport).or(self.sport);
                self.dport = port(&t.dport).or(self.dport);
            }
            MatchKind::Udp(u) => {
                self.sport = port(&u.sport).or(self.sport);
                self.dport = port(&u.dport).or(self.dport);
            }
            MatchKind::Icmp(i) if !i.invert => {
                self.icmp = i.icmp_type.map(|t| (t, i.code_min));
            }
            MatchKind::Multiport(m) if !m.invert => {
                let first = m.ports.first().map(|p| p.min);
                match m.dir {
                    MultiportDir::Source => self.sport = first,
                    MultiportDir::Destination | MultiportDir::Either => self.dport = first,
                }
            }
            MatchKind::Mark(m) if !m.invert => self.mark = Some(m.value),
            _ => {}
        }
    }
}

/// A host address inside `net/len` (the first usable one for a subnet).
fn inside(net: Ipv4Addr, len: Option<u8>) -> Ipv4Addr {
    match len {
        Some(l) if l <= 30 => Ipv4Addr::from(u32::from(net) | 1),
        _ => net,
    }
}

/// An interface name for `-i`/`-o` (a `+` wildcard becomes its prefix plus `0`).
fn device(name: &str) -> String {
    match name.strip_suffix('+') {
        Some(prefix) => format!("{prefix}0"),
        None => name.to_string(),
    }
}

/// The rules leading into `chain` (outermost first) and the built-in chain at the top.
fn callers<'t>(table: &'t Table, chain: &'t str) -> (Vec<&'t Rule>, &'t str) {
    let mut path = Vec::new();
    let mut current = chain;
    for _ in 0..MAX_DEPTH {
        if table.chain(current).is_some_and(|c| c.is_builtin()) {
            break;
        }
        let caller = table.chains.iter().find_map(|c| {
            c.rules()
                .iter()
                .find(|r| matches!(&r.target, Target::Jump(t) | Target::Goto(t) if t == current))
                .map(|r| (c.name.as_str(), r))
        });
        let Some((name, rule)) = caller else { break };
        path.push(rule);
        current = name;
    }
    path.reverse();
    (path, current)
}

/// Destination ports some rule of the ruleset names (lowest first, at most
/// [`MAX_PORTS`]): a rule that names no port is also tried with these, so a
/// packet can get past filters elsewhere that let only some ports through.
fn named_ports(host: &Host) -> Vec<u16> {
    let mut ports: Vec<u16> = host
        .ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| c.rules())
        .filter_map(|r| {
            let mut w = Wish::default();
            w.add(r);
            w.dport
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports.truncate(MAX_PORTS);
    ports
}

/// How many of the ruleset's ports a port-less rule is tried with.
const MAX_PORTS: usize = 4;

/// Probes per rule of `host`, named `table:chain:N`: one packet that meets the
/// rule's conditions, and for a rule that names no destination port, one more
/// per port other rules name.
pub fn from_host(host: &Host) -> Vec<ProbeSpec> {
    let ports = named_ports(host);
    let mut out = Vec::new();
    for table in &host.ruleset.tables {
        for chain in &table.chains {
            let (path, top) = callers(table, &chain.name);
            for (i, rule) in chain.rules().iter().enumerate() {
                let mut wish = Wish::default();
                path.iter().for_each(|r| wish.add(r));
                wish.add(rule);
                let name = format!("{}:{}:{}", table.name, chain.name, i + 1);
                out.extend(spec(host, &wish, top, name.clone()));
                if wish.dport.is_none() {
                    for &p in &ports {
                        let w = Wish {
                            dport: Some(p),
                            ..wish.clone()
                        };
                        out.extend(spec(host, &w, top, name.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The probe for a wish on the path of built-in chain `top`.
fn spec(host: &Host, w: &Wish, top: &str, name: String) -> Option<ProbeSpec> {
    let local = top == "OUTPUT";
    let mut words: Vec<String> = Vec::new();
    let dst = w.dst.or_else(|| match (top, &w.oif) {
        ("INPUT", _) => host_address(host),
        (_, Some(dev)) => neighbour_on(host, dev),
        _ => None,
    });
    words.push(format!("--dst={}", dst.unwrap_or(DEFAULT_DST)));
    if let Some(src) = w.src.or((!local).then_some(DEFAULT_SRC)) {
        words.push(format!("--src={src}"));
    }
    if local {
        words.push("--local".into());
    } else {
        let iif = w
            .iif
            .clone()
            .or_else(|| first_device(host, w.oif.as_deref()))
            .unwrap_or_else(|| "eth0".into());
        words.push(format!("--iif={iif}"));
    }
    let number = w.proto.unwrap_or(proto::TCP);
    words.push(format!("--proto={number}"));
    if number == proto::TCP || number == proto::UDP {
        words.push(format!("--sport={}", w.sport.unwrap_or(40000)));
        words.push(format!("--dport={}", w.dport.unwrap_or(80)));
    }
    if let (Some((t, c)), proto::ICMP) = (w.icmp, number) {
        words.push(format!("--icmp-type={t}/{c}"));
    }
    if let Some(mark) = w.mark {
        words.push(format!("--mark={mark:#x}"));
    }
    let probe = crate::probe::probe_from_flags(&words).ok()?;
    Some(ProbeSpec {
        name,
        line: 0,
        probe,
        assume: Vec::new(),
        ctstate: None,
        expect: Expect::default(),
    })
}

/// The host's first address outside loopback.
fn host_address(host: &Host) -> Option<Ipv4Addr> {
    host.routing
        .links
        .iter()
        .filter(|l| l.name != "lo")
        .flat_map(|l| &l.addrs)
        .map(|a| a.local)
        .next()
}

/// An address on `dev`'s subnet that is not the host's own.
fn neighbour_on(host: &Host, dev: &str) -> Option<Ipv4Addr> {
    let addr = host.routing.link(dev)?.addrs.first()?;
    let mask = u32::MAX
        .checked_shl(32 - u32::from(addr.prefix_len))
        .unwrap_or(0);
    let net = u32::from(addr.local) & mask;
    [2u32, 3]
        .iter()
        .map(|n| Ipv4Addr::from(net | n))
        .find(|a| *a != addr.local && addr.prefix_len <= 30)
}

/// The first interface other than `lo` and `not`.
fn first_device(host: &Host, not: Option<&str>) -> Option<String> {
    host.routing
        .links
        .iter()
        .map(|l| l.name.as_str())
        .find(|n| *n != "lo" && Some(*n) != not)
        .map(str::to_string)
}
