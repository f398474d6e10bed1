//! `ip addr|route|rule` in the forms people paste (`-o`, `-d`, `-s`, `-s -s`,
//! `-d -s`, `-4`), recorded from one scratch namespace by
//! `recorder/ip_forms.sh` into fixtures/ip-forms/: each gives the same model
//! as the plain form; `ip -br addr` is refused with a message that says why.

use std::path::Path;

use nftrace::parse;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ip-forms")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

const FORMS: &[&str] = &["d", "s", "ss", "ds", "o", "od", "4"];

#[test]
fn every_addr_form_gives_the_plain_model() {
    let plain = parse::ip_addr::parse("plain", &read("addr-plain.txt")).unwrap();
    assert!(
        plain
            .iter()
            .any(|l| l.addrs.iter().any(|a| a.peer.is_some())),
        "{plain:?}"
    );
    for form in FORMS {
        let name = format!("addr-{form}.txt");
        let got = parse::ip_addr::parse(&name, &read(&name)).unwrap_or_else(|e| panic!("{e}"));
        if *form == "4" {
            // -4 prints no link/ether lines: everything but the MAC.
            let no_mac = |ls: &[nftrace::model::routing::Link]| -> Vec<_> {
                ls.iter()
                    .map(|l| nftrace::model::routing::Link {
                        mac: None,
                        ..l.clone()
                    })
                    .collect()
            };
            assert_eq!(no_mac(&got), no_mac(&plain), "{name}");
        } else if *form == "o" || *form == "od" {
            // One-line forms print no link lines: no MAC, MTU, flags or state.
            let addrs = |ls: &[nftrace::model::routing::Link]| -> Vec<_> {
                ls.iter()
                    .filter(|l| !l.addrs.is_empty())
                    .map(|l| (l.name.clone(), l.addrs.clone()))
                    .collect()
            };
            assert_eq!(addrs(&got), addrs(&plain), "{name}");
        } else {
            assert_eq!(got, plain, "{name}");
        }
    }
}

#[test]
fn every_route_form_gives_the_plain_model() {
    let plain = parse::ip_route::parse("plain", &read("route-plain.txt")).unwrap();
    assert!(
        plain.routes.iter().any(|r| r.info.nexthops.len() == 2),
        "multipath route recorded"
    );
    for form in FORMS {
        let name = format!("route-{form}.txt");
        let got = parse::ip_route::parse(&name, &read(&name)).unwrap_or_else(|e| panic!("{e}"));
        // -d adds the type, `table main`, `proto boot` and `scope global` to
        // the text: compare what routing uses, not the spelling.
        let key = |d: &parse::ip_route::RouteDump| -> Vec<String> {
            d.routes
                .iter()
                .map(|r| {
                    format!(
                        "{:?} {} {} {} {:?} {:?} {} {:?} {:?}",
                        r.kind,
                        r.dst,
                        r.tos,
                        r.table,
                        r.info.nexthops,
                        r.info.prefsrc,
                        r.info.metric,
                        r.info.scope,
                        r.info.metrics
                    )
                })
                .collect()
        };
        assert_eq!(key(&got), key(&plain), "{name}");
    }
}

#[test]
fn every_rule_form_gives_the_plain_model() {
    let plain = parse::ip_rule::parse("plain", &read("rule-plain.txt")).unwrap();
    for form in FORMS {
        let name = format!("rule-{form}.txt");
        let got = parse::ip_rule::parse(&name, &read(&name)).unwrap_or_else(|e| panic!("{e}"));
        // -d adds `proto kernel|unspec`: compare all but protocol and text.
        let key = |rs: &[nftrace::model::routing::FibRule]| -> Vec<String> {
            rs.iter()
                .map(|r| {
                    let r = nftrace::model::routing::FibRule {
                        protocol: None,
                        text: String::new(),
                        ..r.clone()
                    };
                    format!("{r:?}")
                })
                .collect()
        };
        assert_eq!(key(&got), key(&plain), "{name}");
    }
}

#[test]
fn brief_addr_form_is_refused_with_the_reason() {
    let e = parse::ip_addr::parse("br", &read("addr-br.txt")).unwrap_err();
    assert_eq!((e.0[0].line, e.0[0].column), (1, 1));
    assert!(
        e.0[0]
            .expected
            .contains("ip -br/--brief output is not read"),
        "{e}"
    );
}
