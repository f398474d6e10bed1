//! `search`, `--explain` and `lint` against the evaluator and the kernel's
//! recordings: every example `search` prints reaches the claimed outcome when
//! traced, random packets reach the goal exactly when they lie in a printed
//! class, and the seed 003 explanations hold.

use std::path::{Path, PathBuf};

use nftrace::analysis::cond::rule_conds;
use nftrace::analysis::search::{reaches, search, Goal, Region, SearchOptions};
use nftrace::analysis::{explain, lint};
use nftrace::bundle::BundlePaths;
use nftrace::check::observe::Observed;
use nftrace::model::packet::{Ingress, Packet, Transport};
use nftrace::model::Host;
use nftrace::trace::event::Verdict;
use nftrace::trace::{trace, Probe, TraceOptions};

fn bundles() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path().join("bundle")))
        .filter(|p| p.join("iptables-save.txt").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn load(dir: &Path) -> Host {
    BundlePaths::default()
        .with_dir(dir)
        .and_then(|p| p.load())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn everything(host: &Host) -> Region {
    Region::received(host)
}

fn probe_of(flags: &str) -> Probe {
    let words: Vec<&str> = flags.split_whitespace().collect();
    nftrace::probe::probe_from_flags(&words).unwrap_or_else(|e| panic!("{flags}: {e}"))
}

/// xorshift64*: a fixed, dependency-free stream for sampling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize].clone()
    }
}

/// Values near every boundary the host's rules, routes and addresses draw.
fn interesting(host: &Host) -> (Vec<u32>, Vec<u32>) {
    let mut addrs = vec![0, u32::MAX];
    let mut ports = vec![0, 22, 80, 443, 65535];
    for t in &host.ruleset.tables {
        for r in t.chains.iter().flat_map(|c| c.rules()) {
            for k in rule_conds(r) {
                if let nftrace::analysis::cond::Want::Ranges(rs) = &k.want {
                    for &(a, b) in rs {
                        let near = [a.wrapping_sub(1), a, b, b.wrapping_add(1)];
                        match k.field {
                            nftrace::analysis::cond::Field::Src
                            | nftrace::analysis::cond::Field::Dst => addrs.extend(near),
                            nftrace::analysis::cond::Field::Sport
                            | nftrace::analysis::cond::Field::Dport => {
                                ports.extend(near.iter().filter(|&&p| p <= 0xffff))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    for l in &host.routing.links {
        for a in &l.addrs {
            let v = u32::from(a.local);
            addrs.extend([v.wrapping_sub(1), v, v.wrapping_add(1)]);
        }
    }
    for r in &host.routing.routes {
        let v = u32::from(r.dst.addr());
        addrs.extend([v, v.wrapping_add(1), u32::from(r.dst.broadcast())]);
    }
    (addrs, ports)
}

fn random_probe(rng: &mut Rng, region: &Region, addrs: &[u32], ports: &[u32]) -> Probe {
    let addr = |rng: &mut Rng| {
        if rng.next().is_multiple_of(3) {
            rng.next() as u32
        } else {
            rng.pick(addrs)
        }
    };
    let src = addr(rng);
    let dst = addr(rng);
    let port = |rng: &mut Rng| {
        if rng.next().is_multiple_of(3) {
            (rng.next() % 65536) as u16
        } else {
            rng.pick(ports) as u16
        }
    };
    let transport = match rng.next() % 3 {
        0 => Transport::Tcp {
            sport: port(rng),
            dport: port(rng),
            flags: nftrace::model::packet::tcp_flag::SYN,
        },
        1 => Transport::Udp {
            sport: port(rng),
            dport: port(rng),
        },
        _ => Transport::Icmp {
            icmp_type: rng.pick(&[0u8, 3, 8, 11, 13]),
            code: 0,
            id: 1,
        },
    };
    let iif = rng.pick(&region.iif).expect("received");
    Probe {
        packet: Packet::new(src.into(), dst.into(), transport),
        ingress: Ingress::Interface(iif),
    }
}

/// Packets traced per fixture in the test (the debug build is slow).
const TEST_BUDGET: usize = 15_000;

/// On every fixture (packets received on its first interface): each class's
/// example reaches the goal; random packets inside an exact class reach it;
/// random packets that reach it lie in a class.
#[test]
fn search_is_sound_and_complete_on_every_fixture() {
    let (mut checked, mut sampled_hits, mut complete) = (0, 0, 0);
    for dir in bundles() {
        let host = load(&dir);
        let mut region = everything(&host);
        region.iif.truncate(1);
        if region.iif.is_empty() {
            continue;
        }
        let goal = Goal {
            verdict: Some(Verdict::Accept),
            ..Goal::default()
        };
        let opts = SearchOptions {
            max_traces: TEST_BUDGET,
            ..SearchOptions::default()
        };
        let result = search(&host, region.clone(), &goal, &opts);
        for c in &result.classes {
            let p = probe_of(&c.example);
            let t = trace(&host, &p, &TraceOptions::default());
            assert!(
                reaches(&goal, &t, &Observed::new(&host, &t)),
                "{}: example {} does not reach {:?}",
                dir.display(),
                c.example,
                goal.verdict
            );
            checked += 1;
        }
        if result.unexplored > 0 {
            continue;
        }
        complete += 1;
        let (addrs, ports) = interesting(&host);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ checked as u64);
        for _ in 0..400 {
            let p = random_probe(&mut rng, &region, &addrs, &ports);
            let t = trace(&host, &p, &TraceOptions::default());
            let hit = reaches(&goal, &t, &Observed::new(&host, &t));
            let class = result.classes.iter().find(|c| c.region.contains(&p));
            let exact = class.is_none_or(|c| c.assumptions.is_empty())
                && !result.uncertain.iter().any(|c| c.region.contains(&p));
            if exact {
                assert_eq!(
                    hit,
                    class.is_some(),
                    "{}: {:?} reaches {:?}: {hit}, but the classes say {}",
                    dir.display(),
                    nftrace::analysis::lint::probe_flags(&p),
                    goal.verdict,
                    class.map_or("none".into(), |c| c.example.clone())
                );
            }
            sampled_hits += usize::from(hit);
        }
    }
    eprintln!("{checked} examples traced, {complete} fixtures searched completely, {sampled_hits} sampled packets accepted");
    assert!(checked > 100, "only {checked} examples checked");
    assert!(
        complete >= 15,
        "only {complete} fixtures searched completely"
    );
    assert!(
        sampled_hits > 500,
        "only {sampled_hits} sampled packets reached a goal"
    );
}

fn fixture(name: &str) -> Host {
    load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
            .join("bundle"),
    )
}

/// Seed 003, VR2: the management ssh SYN dropped in mangle FIREWALL; the
/// RETURN rules need dport 300-65535 (tcp/udp) or icmp echo.
#[test]
fn explain_seed_003_firewall_drop() {
    let host = fixture("cloud-vr2-firewall-drop");
    let probe =
        probe_of("-s 183.62.15.118 -d 172.17.21.105 -p tcp --sport 25706 --dport 22 -i eth2");
    let (t, e) = explain::explain(&host, &probe, &TraceOptions::default());
    assert_eq!(t.verdict, Verdict::Drop);
    let d = e.decided_by.expect("a rule decided");
    assert_eq!(d.rule, "mangle:FIREWALL_172.17.21.105:5");
    assert_eq!(e.entered_via[0].held, vec!["-d 172.17.21.105/32"]);
    let changes: Vec<(String, Vec<String>, String)> = e
        .near_misses
        .iter()
        .map(|n| {
            (
                n.rule.clone(),
                n.change.iter().map(|c| c.flag.clone()).collect(),
                n.outcome.clone(),
            )
        })
        .collect();
    let find = |rule: &str| {
        changes
            .iter()
            .find(|c| c.0 == rule)
            .unwrap_or_else(|| panic!("no near miss at {rule}: {changes:#?}"))
    };
    assert_eq!(
        find("mangle:FIREWALL_172.17.21.105:2").1,
        vec!["--dport 300"]
    );
    assert!(find("mangle:FIREWALL_172.17.21.105:2")
        .2
        .starts_with("ACCEPT, sent out eth0 to 10.1.1.69"));
    assert_eq!(
        find("mangle:FIREWALL_172.17.21.105:3").1,
        vec!["-p udp", "--dport 300"]
    );
    assert_eq!(
        find("mangle:FIREWALL_172.17.21.105:4").1,
        vec!["-p icmp", "--icmp-type 8/0"]
    );
    let summary = e.summary.as_deref().expect("a flip");
    assert!(summary.starts_with("would be accepted with: "), "{summary}");
    for flip in [
        "--dport 300",
        "-p udp --dport 300",
        "-p icmp --icmp-type 8/0",
    ] {
        assert!(summary.contains(flip), "{summary}");
    }
    let dport = e
        .near_misses
        .iter()
        .find(|n| n.rule == "mangle:FIREWALL_172.17.21.105:2")
        .expect("dport near miss");
    let why: Vec<&str> = dport.failed.iter().map(|f| f.why.as_str()).collect();
    assert!(
        why.iter()
            .any(|w| w.contains("dport 22, rule wants dport 300:65535")),
        "{why:?}"
    );
}

/// The kernel recorded the near misses' outcomes: in the VR2 fixture, tcp 8080
/// and udp 5000 RETURN and are DNATed out eth0, icmp echo passes; the changed
/// packets `--explain` proposes reach the same outcomes in nftrace.
#[test]
fn explain_near_misses_agree_with_recorded_probes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cloud-vr2-firewall-drop");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recorded.json")).unwrap()).unwrap();
    let host = fixture("cloud-vr2-firewall-drop");
    for name in [
        "tcp-8080-dnat-forward",
        "udp-5000-forwarded",
        "icmp-echo-returns",
    ] {
        let p = rec["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} recorded"));
        // The kernel logged the packet leaving (POSTROUTING with OUT=eth0).
        let left = p["trace"].as_array().unwrap().iter().any(|l| {
            l.as_str().unwrap().contains("POSTROUTING") && l.as_str().unwrap().contains("OUT=eth0")
        });
        assert!(left, "{name}: the kernel forwarded it");
        let args: Vec<String> = p["nftrace_args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let probe = nftrace::probe::probe_from_flags(&args).unwrap();
        let (t, e) = explain::explain(&host, &probe, &TraceOptions::default());
        assert_eq!(t.oif(), Some("eth0"), "{name}");
        assert!(
            e.outcome.starts_with("ACCEPT, sent out eth0"),
            "{name}: {}",
            e.outcome
        );
    }
}

/// Seed 003, VR1: the bound public IP and the port forward both DNAT to
/// 172.17.21.105; lint says so, and `--explain` of the port-forwarded ssh cites it.
#[test]
fn lint_and_explain_seed_003_fan_in() {
    let host = fixture("cloud-vr1-portforward");
    let findings = lint::lint(&host);
    let fan = findings
        .iter()
        .find(|f| f.kind == "nat-fan-in")
        .expect("fan-in found");
    assert!(
        fan.message.contains("onto 172.17.21.105"),
        "{}",
        fan.message
    );
    assert!(fan.message.contains("61.146.164.82"));
    assert!(fan.message.contains("61.146.164.120:10174"));
    assert_eq!(fan.rules.len(), 3);
    let probe =
        probe_of("-s 183.62.15.118 -d 61.146.164.120 -p tcp --sport 22449 --dport 10174 -i eth2");
    let (_, e) = explain::explain(&host, &probe, &TraceOptions::default());
    assert_eq!(e.related.len(), 1, "{:?}", e.related);
    assert_eq!(e.related[0], fan.message);
}

/// Every near miss, traced as changed, matches its rule and changes the outcome.
#[test]
fn near_misses_are_confirmed_by_the_evaluator_on_every_fixture() {
    let mut seen = 0;
    for dir in bundles() {
        let host = load(&dir);
        let Some(iif) = everything(&host).iif.first().cloned().flatten() else {
            continue;
        };
        let probe = probe_of(&format!(
            "-i {iif} -s 198.51.100.7 -d 203.0.113.9 -p tcp --dport 22"
        ));
        let (t, e) = explain::explain(&host, &probe, &TraceOptions::default());
        let base = explain::outcome_words(&Observed::new(&host, &t));
        for n in &e.near_misses {
            let mut p = probe.clone();
            let mut ct = None;
            for c in &n.change {
                apply_flag(&mut p, &mut ct, &c.flag);
            }
            let opts = TraceOptions {
                force_ctstate: ct,
                ..TraceOptions::default()
            };
            let t2 = trace(&host, &p, &opts);
            let o2 = Observed::new(&host, &t2);
            assert!(
                o2.rules.iter().any(|r| r.at == n.rule),
                "{}: {} not matched",
                dir.display(),
                n.rule
            );
            assert_eq!(explain::outcome_words(&o2), n.outcome);
            assert_ne!(n.outcome, base);
            seen += 1;
        }
    }
    assert!(seen > 20, "only {seen} near misses");
}

/// Applies one `--explain` change flag to a probe.
fn apply_flag(p: &mut Probe, ct: &mut Option<nftrace::trace::walk::ForcedState>, flag: &str) {
    use nftrace::analysis::cond::Field;
    let (k, v) = flag.split_once(' ').expect("flag value");
    let num = |p: &mut Probe, f: Field| {
        let probe_v = match f {
            Field::Src | Field::Dst => u32::from(v.parse::<std::net::Ipv4Addr>().unwrap()),
            Field::Proto => u32::from(nftrace::probe::proto_number(v).unwrap()),
            Field::Icmp => {
                let (a, b) = v.split_once('/').unwrap();
                a.parse::<u32>().unwrap() << 8 | b.parse::<u32>().unwrap()
            }
            Field::Mark | Field::Tos => {
                u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
            }
            Field::TcpFlags => u32::from(nftrace::probe::tcp_flags(v).unwrap()),
            _ => v.parse().unwrap(),
        };
        assert!(nftrace::analysis::set_input(p, f, probe_v), "{flag}");
    };
    match k {
        "-s" => num(p, Field::Src),
        "-d" => num(p, Field::Dst),
        "-p" => num(p, Field::Proto),
        "--sport" => num(p, Field::Sport),
        "--dport" => num(p, Field::Dport),
        "--icmp-type" => num(p, Field::Icmp),
        "--mark" => num(p, Field::Mark),
        "--ttl" => num(p, Field::Ttl),
        "--len" => num(p, Field::Len),
        "--tos" => num(p, Field::Tos),
        "--tcp-flags" => num(p, Field::TcpFlags),
        "-i" => p.ingress = Ingress::Interface(v.to_string()),
        "--ctstate" => {
            *ct = Some(
                <nftrace::trace::walk::ForcedState as clap::ValueEnum>::from_str(v, true).unwrap(),
            )
        }
        other => panic!("unknown change flag {other}"),
    }
}

fn recorded(name: &str) -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .join("recorded.json");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("recorded")).expect("json");
    rec["probes"].as_array().expect("probes").clone()
}

fn trace_lines(p: &serde_json::Value) -> Vec<String> {
    p["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .map(|l| l.as_str().expect("line").to_string())
        .collect()
}

/// The probe recorded for the same packet as `example`.
fn recorded_for<'a>(probes: &'a [serde_json::Value], example: &str) -> &'a serde_json::Value {
    let want = probe_of(example);
    probes
        .iter()
        .find(|p| {
            let args: Vec<String> = p["nftrace_args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("arg").to_string())
                .collect();
            let got = nftrace::probe::probe_from_flags(&args).expect("recorded args");
            got.ingress == want.ingress
                && got.packet.src == want.packet.src
                && got.packet.dst == want.packet.dst
                && got.packet.transport.number() == want.packet.transport.number()
                && got.packet.transport.ports().map(|p| p.1)
                    == want.packet.transport.ports().map(|p| p.1)
                && nftrace::analysis::input_value(&got, nftrace::analysis::cond::Field::Icmp)
                    == nftrace::analysis::input_value(&want, nftrace::analysis::cond::Field::Icmp)
        })
        .unwrap_or_else(|| panic!("no recorded probe for the example {example}"))
}

/// Every example `search` prints for seed 003's second router was recorded on
/// the kernel, and the kernel did what the class says: accepted classes left
/// through eth0, dropped ones ended in the FIREWALL chain's DROP.
#[test]
fn search_examples_are_recorded_on_the_kernel() {
    let host = fixture("search-examples-vr2");
    let probes = recorded("search-examples-vr2");
    let region = Region {
        iif: vec![Some("eth2".into())],
        src: vec![(0xB73E_0F00, 0xB73E_0FFF)],
        dst: vec![(0xAC11_1569, 0xAC11_1569)],
        proto: vec![(1, 1), (6, 6), (17, 17)],
        sport: vec![(0, 0xffff)],
        dport: vec![(0, 0xffff)],
        icmp: vec![(0, 0xffff)],
    };
    let mut seen = 0;
    for (verdict, kernel_says) in [
        (Verdict::Accept, "OUT=eth0"),
        (Verdict::Drop, "mangle:FIREWALL_172.17.21.105:return:5"),
    ] {
        let goal = Goal {
            verdict: Some(verdict.clone()),
            ..Goal::default()
        };
        let result = search(&host, region.clone(), &goal, &SearchOptions::default());
        assert_eq!(result.unexplored, 0);
        assert!(result.uncertain.is_empty());
        for c in &result.classes {
            let lines = trace_lines(recorded_for(&probes, &c.example));
            assert!(
                lines.iter().any(|l| l.contains(kernel_says)),
                "{}: the kernel did not log {kernel_says}: {lines:#?}",
                c.example
            );
            seen += 1;
        }
    }
    assert_eq!(
        seen, 5,
        "three accepted classes (icmp 8/0, tcp and udp 300-65535), two dropped"
    );
}

/// `fixtures/lint-findings` has one of each finding; the kernel's recordings
/// show what each one claims.
#[test]
fn lint_findings_match_the_kernel() {
    let host = fixture("lint-findings");
    let findings = lint::lint(&host);
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            "dnat-without-forward",
            "shadowed",
            "nat-fan-in",
            "masquerade-no-source",
            "unreachable-chain",
            "empty-chain"
        ]
    );
    let probes = recorded("lint-findings");
    let by_name = |n: &str| probes.iter().find(|p| p["name"] == n).expect(n);
    // Shadowed: the kernel logs rule 1 for a packet rule 2 would take, never rule 2.
    let shadow = trace_lines(by_name("shadowed-rule-2-packet-takes-rule-1"));
    assert!(shadow.iter().any(|l| l.contains("filter:INPUT:rule:1 ")));
    assert!(!shadow.iter().any(|l| l.contains("filter:INPUT:rule:2 ")));
    assert_eq!(findings[1].rules.len(), 2);
    assert!(findings[1].rules[1].starts_with("filter:INPUT:2 "));
    // DNAT without FORWARD accept: the lint example is the recorded probe, and the
    // kernel dropped it by the FORWARD policy after translating it.
    let dnat = recorded_for(&probes, findings[0].example.as_deref().expect("example"));
    assert!(trace_lines(dnat)
        .last()
        .expect("lines")
        .contains("filter:FORWARD:policy:4"));
    assert!(trace_lines(dnat)
        .iter()
        .any(|l| l.contains("DST=10.2.0.10")));
    // The DNAT rule that has a FORWARD accept is not reported, and the kernel forwarded it.
    assert!(!findings[0].rules[0].contains("2222"));
    assert!(trace_lines(by_name("dnat-2222-forwarded"))
        .iter()
        .any(|l| l.contains("nat:POSTROUTING")));
    // MASQUERADE towards the onlink gateway: the kernel chose eth1's address anyway.
    let masq = &by_name("masquerade-onlink-gateway")["conntrack"][0];
    assert!(
        masq.as_str().expect("line").contains("dst=10.2.0.1 "),
        "{masq}"
    );
    assert!(findings[3].message.contains("gateway 10.99.0.1"));
    // Unreachable and empty chains.
    assert!(findings[4].message.starts_with("filter:UNUSED "));
    assert!(findings[5].message.contains("jumps to EMPTY"));
}

/// On every fixture, the kernel never logged a rule `lint` calls shadowed nor
/// any rule of a chain it calls unreachable, over all recorded probes.
#[test]
fn shadowed_and_unreachable_rules_never_appear_in_kernel_traces() {
    let mut checked = 0;
    for dir in bundles() {
        let host = load(&dir);
        let scenario = dir.parent().expect("scenario");
        let Ok(text) = std::fs::read_to_string(scenario.join("recorded.json")) else {
            continue;
        };
        let rec: serde_json::Value = serde_json::from_str(&text).expect("json");
        let lines: Vec<String> = rec["probes"]
            .as_array()
            .expect("probes")
            .iter()
            .flat_map(|p| p["trace_all"].as_array().cloned().unwrap_or_default())
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect();
        for f in lint::lint(&host) {
            let never: Vec<String> = match f.kind {
                "shadowed" => {
                    let at = f.rules[1].split(' ').next().expect("rule");
                    let (chain, n) = at.rsplit_once(':').expect("table:chain:n");
                    ["rule", "return", "policy"]
                        .iter()
                        .map(|t| format!("TRACE: {chain}:{t}:{n} "))
                        .collect()
                }
                "unreachable-chain" => {
                    let chain = f.message.split(' ').next().expect("chain");
                    vec![format!("TRACE: {chain}:")]
                }
                _ => continue,
            };
            for l in &lines {
                for n in &never {
                    assert!(
                        !l.contains(n.as_str()),
                        "{}: {} yet the kernel logged {l}",
                        dir.display(),
                        f.message
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} findings checked");
}
