//! Fuzzes `trace` over arbitrary bundles. Input: the first line holds the
//! packet flags of `nftrace trace` (`-s 10.0.0.1 -d 10.0.0.2 -p tcp --dport 22
//! -i eth0`); then the dumps, each after a line `%%`, in this order:
//! iptables-save, ip route, ip rule, ip addr, conntrack -L, sysctl, ipset,
//! ipvsadm, ipvsadm -Lnc. A dump that does not parse is left out. The trace
//! must not panic, and every rule it names must exist at the number it gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nftrace::model::target::Target;
use nftrace::model::Host;
use nftrace::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (flags, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let flags: Vec<&str> = flags.split_whitespace().collect();
    let Ok(probe) = nftrace::probe::probe_from_flags(&flags) else {
        return;
    };
    let host = host(rest);
    let t = nftrace::trace::trace(&host, &probe, &Default::default());
    nftrace_fuzz_check(&host, &t);
});

/// A host from the `%%`-separated dumps.
fn host(text: &str) -> Host {
    let mut parts = text.split("\n%%\n");
    let mut next = || parts.next().unwrap_or("");
    let ruleset = parse::iptables_save::parse("ipt", next()).unwrap_or_default();
    let routes = parse::ip_route::parse("route", next())
        .ok()
        .map(|d| d.routes);
    let rules = parse::ip_rule::parse("rule", next()).ok();
    let links = parse::ip_addr::parse("addr", next()).ok();
    let conntrack = parse::conntrack::parse_dump("ct", next(), true).ok();
    let sysctls = parse::sysctl::parse("sysctl", next()).ok();
    let ipsets = parse::ipset::parse("ipset", next()).ok();
    let services = parse::ipvsadm::parse("ipvs", next()).ok();
    let conns = parse::ipvsadm::parse_conns("conns", next()).ok();
    let (routing, notes) = nftrace::model::routing::Routing::from_dumps(links, routes, rules);
    let mut host = Host::new(ruleset, routing, notes);
    host.sysctls = sysctls.unwrap_or_default();
    if let Some(ct) = conntrack {
        host.conntrack = nftrace::model::conntrack::ConntrackTable::new(ct.entries);
    }
    host.ipsets = ipsets.map(std::sync::Arc::new);
    host.ipvs = std::sync::Arc::new(nftrace::model::ipvs::Ipvs {
        services: services.map(|s| s.services).unwrap_or_default(),
        conns: conns.unwrap_or_default(),
    });
    host
}

/// Renders every format, and checks that every rule event names a rule that
/// exists: `rulenum` n of a chain is its n-th rule (line and text agree), and
/// a policy or implicit return is number rules + 1.
fn nftrace_fuzz_check(host: &Host, t: &nftrace::trace::event::Trace) {
    let _ = nftrace::render::json::render(t);
    let _ = nftrace::render::human::render(t, &nftrace::render::human::Palette::plain());
    let _ = nftrace::render::log::render(t, &Default::default());
    for e in &t.events {
        let nftrace::trace::event::Event::Rule {
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
            .unwrap_or_else(|| panic!("{rule}: no such chain"));
        let n = rule.rulenum as usize;
        match trace_type {
            nftrace::trace::event::TraceType::Rule => {
                let r = chain
                    .rules()
                    .get(n.wrapping_sub(1))
                    .unwrap_or_else(|| panic!("{rule}: no rule"));
                assert_eq!(rule.line, Some(r.line), "{rule}");
                assert_eq!(text.as_deref(), Some(r.text.as_str()), "{rule}");
            }
            // An unconditional ACCEPT/DROP/QUEUE/RETURN rule is logged as
            // policy/return too (`get_chainname_rulenum` in ip_tables.c;
            // fixtures/queue-tail-is-policy).
            _ => match chain.rules().get(n.wrapping_sub(1)) {
                Some(r) => {
                    assert!(r.is_unconditional(), "{rule}");
                    assert!(
                        matches!(
                            r.target,
                            Target::Accept | Target::Drop | Target::Queue | Target::Return
                        ),
                        "{rule}"
                    );
                    assert_eq!(rule.line, Some(r.line), "{rule}");
                }
                None => assert_eq!(n, chain.rules().len() + 1, "{rule}"),
            },
        }
    }
}
