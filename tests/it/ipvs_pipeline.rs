//! IPVS inside the pipeline, on fixtures/ipvs-source/kube-node (a kube-proxy
//! IPVS-mode node written by hand: this kernel has no IPVS, so nothing can be
//! recorded). Every expectation cites the kernel source it follows
//! (net/netfilter/ipvs/*.c; docs/ipvs.md has the rules).

use std::path::{Path, PathBuf};

use nftrace::bundle::BundlePaths;
use nftrace::model::Host;
use nftrace::trace::event::{Disposition, Event, Hook, Trace, Verdict};
use nftrace::trace::{trace, TraceOptions};

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ipvs-source/kube-node")
}

fn load(dir: &Path) -> Host {
    BundlePaths::default()
        .with_dir(dir)
        .and_then(|p| p.load())
        .expect("bundle loads")
}

/// A copy of the node bundle with extra files (sysctl.txt, ipvs-conn.txt, …).
fn node_with(name: &str, extra: &[(&str, &str)]) -> Host {
    let dir = std::env::temp_dir().join(format!("nftrace-ipvs-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for entry in std::fs::read_dir(node_dir()).expect("fixture") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    for (file, text) in extra {
        std::fs::write(dir.join(file), text).expect("write");
    }
    let host = load(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    host
}

fn run(host: &Host, flags: &[&str], opts: &TraceOptions) -> Trace {
    let probe = nftrace::cli::probe_from_flags(flags).expect("probe");
    trace(host, &probe, opts)
}

fn rules_at(t: &Trace, hook: Hook) -> Vec<String> {
    t.events
        .iter()
        .filter_map(|e| match e {
            Event::Rule { hook: h, rule, .. } if *h == hook => Some(rule.to_string()),
            _ => None,
        })
        .collect()
}

const API: &[&str] = &[
    "-s",
    "10.244.0.5",
    "-d",
    "10.96.0.1",
    "-p",
    "tcp",
    "--sport",
    "40000",
    "--dport",
    "443",
    "-i",
    "cni0",
];

#[test]
fn request_is_scheduled_after_filter_input_and_reinjected_at_output() {
    let t = run(&load(&node_dir()), API, &TraceOptions::default());
    // ip_vs_in runs at INPUT NF_IP_PRI_NAT_SRC - 1 (99): after filter INPUT.
    assert!(rules_at(&t, Hook::Input)
        .iter()
        .any(|r| r.starts_with("filter:INPUT")));
    // The request is stolen: nat INPUT (100) never runs, FORWARD is not traversed.
    assert!(!rules_at(&t, Hook::Input)
        .iter()
        .any(|r| r.starts_with("nat:")));
    assert!(rules_at(&t, Hook::Forward).is_empty());
    // ip_vs_nat_send_or_cont re-injects at LOCAL_OUT: filter OUTPUT sees it, and
    // -m ipvs (skb->ipvs_property) matches there.
    assert_eq!(rules_at(&t, Hook::Output), vec!["filter:OUTPUT:1"]);
    // rr on a fresh service starts at the head of svc->destinations, the server
    // added last (the dump reversed): 10.0.0.12.
    assert_eq!(t.final_packet.dst.to_string(), "10.0.0.12");
    assert_eq!(t.final_packet.transport.ports(), Some((40000, 6443)));
    // decrement_ttl in __ip_vs_get_out_rt.
    assert_eq!(t.final_packet.ttl, 63);
    assert_eq!(t.oif(), Some("eth0"));
    assert!(t
        .assumptions
        .iter()
        .any(|a| a.text.contains("rotation position")));
}

#[test]
fn ipvs_dest_overrides_the_stated_choice() {
    let opts = TraceOptions {
        ipvs_dest: Some(("10.0.0.11".parse().expect("ip"), 6443)),
        ..TraceOptions::default()
    };
    let t = run(&load(&node_dir()), API, &opts);
    assert_eq!(t.final_packet.dst.to_string(), "10.0.0.11");
}

#[test]
fn weight_zero_server_is_never_chosen() {
    let t = run(
        &load(&node_dir()),
        &[
            "-s",
            "10.244.0.9",
            "-d",
            "10.96.0.10",
            "-p",
            "udp",
            "--sport",
            "5353",
            "--dport",
            "53",
            "-i",
            "cni0",
        ],
        &TraceOptions::default(),
    );
    // ip_vs_rr_schedule skips IP_VS_DEST_F_OVERLOAD and weight 0 (dest->weight > 0).
    assert_eq!(t.final_packet.dst.to_string(), "10.244.0.5");
    assert_eq!(t.oif(), Some("cni0"));
}

#[test]
fn service_without_real_servers_answers_port_unreachable() {
    let t = run(
        &load(&node_dir()),
        &[
            "-s",
            "10.244.0.5",
            "-d",
            "10.96.0.20",
            "-p",
            "tcp",
            "--dport",
            "80",
            "-i",
            "cni0",
        ],
        &TraceOptions::default(),
    );
    // ip_vs_leave: icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH) and NF_DROP.
    assert_eq!(t.verdict, Verdict::Drop);
    assert!(t
        .events
        .iter()
        .any(|e| matches!(e, Event::Generated { what, .. } if what.contains("port unreachable"))));
}

#[test]
fn direct_routing_keeps_the_headers_and_routes_to_the_real_server() {
    let t = run(
        &load(&node_dir()),
        &[
            "-s",
            "10.244.0.5",
            "-d",
            "10.96.0.30",
            "-p",
            "tcp",
            "--dport",
            "80",
            "-i",
            "cni0",
        ],
        &TraceOptions::default(),
    );
    // ip_vs_dr_xmit: IP_VS_RT_MODE_KNOWN_NH, headers unchanged.
    assert_eq!(t.final_packet.dst.to_string(), "10.96.0.30");
    match &t.disposition {
        Disposition::Sent { oif, next_hop } => {
            assert_eq!(
                (oif.as_str(), next_hop.to_string().as_str()),
                ("eth0", "10.0.0.21")
            );
        }
        other => panic!("not sent: {other:?}"),
    }
}

const FROM_NODE_NET: &[&str] = &[
    "-s",
    "10.0.0.50",
    "-d",
    "10.96.0.1",
    "-p",
    "tcp",
    "--sport",
    "40001",
    "--dport",
    "443",
    "-i",
    "eth0",
];

#[test]
fn without_vs_conntrack_masquerade_does_not_apply() {
    // vs.conntrack=0: ip_vs_notrack makes the packet untracked, so the nat
    // POSTROUTING chain (KUBE-POSTROUTING's MASQUERADE) is never consulted.
    let t = run(&load(&node_dir()), FROM_NODE_NET, &TraceOptions::default());
    assert_eq!(t.final_packet.src.to_string(), "10.0.0.50");
    assert!(!rules_at(&t, Hook::PostRouting)
        .iter()
        .any(|r| r.starts_with("nat:")));
}

#[test]
fn with_vs_conntrack_masquerade_applies() {
    // vs.conntrack=1: ip_vs_update_conntrack keeps the entry; the SRC manip is
    // not initialised, so nat POSTROUTING runs: KUBE-MARK-MASQ set 0x4000 in
    // PREROUTING (source outside the pod CIDR) and KUBE-POSTROUTING masquerades
    // to eth0's address.
    let host = node_with("ct1", &[("sysctl.txt", "net.ipv4.vs.conntrack = 1\n")]);
    let t = run(&host, FROM_NODE_NET, &TraceOptions::default());
    assert_eq!(t.final_packet.src.to_string(), "10.0.0.10");
    assert!(rules_at(&t, Hook::PostRouting)
        .iter()
        .any(|r| r.starts_with("nat:KUBE-POSTROUTING")));
}

#[test]
fn an_existing_ipvs_connection_wins_over_the_scheduler() {
    // ip_vs_in: pp->conn_in_get finds the -Lnc entry before any scheduling.
    let conns = "IPVS connection entries\npro expire state       source             virtual            destination\nTCP 14:58  ESTABLISHED 10.244.0.5:40000   10.96.0.1:443      10.0.0.11:6443\n";
    let host = node_with("conn", &[("ipvs-conn.txt", conns)]);
    let mut flags = API.to_vec();
    flags.extend(["--tcp-flags", "ACK"]);
    let t = run(&host, &flags, &TraceOptions::default());
    assert_eq!(t.final_packet.dst.to_string(), "10.0.0.11");
}

#[test]
fn masq_reply_gets_the_virtual_address_back_in_forward() {
    // ip_vs_out at FORWARD (NF_IP_PRI_NAT_SRC): handle_response rewrites the
    // real server's source to VIP:vport.
    let conns = "TCP 14:58  ESTABLISHED 10.0.0.50:40001   10.96.0.1:443      10.0.0.11:6443\n";
    let host = node_with("reply", &[("ipvs-conn.txt", conns)]);
    let t = run(
        &host,
        &[
            "-s",
            "10.0.0.11",
            "-d",
            "10.244.0.7",
            "-p",
            "tcp",
            "--sport",
            "6443",
            "--dport",
            "40001",
            "--tcp-flags",
            "SYN,ACK",
            "-i",
            "eth0",
        ],
        &TraceOptions::default(),
    );
    // Not the connection's client: no rewrite.
    assert_eq!(t.final_packet.src.to_string(), "10.0.0.11");
    let t = run(
        &host,
        &[
            "-s",
            "10.0.0.11",
            "-d",
            "10.0.0.50",
            "-p",
            "tcp",
            "--sport",
            "6443",
            "--dport",
            "40001",
            "--tcp-flags",
            "SYN,ACK",
            "-i",
            "eth0",
        ],
        &TraceOptions::default(),
    );
    assert_eq!(t.final_packet.src.to_string(), "10.96.0.1");
    assert_eq!(t.final_packet.transport.ports(), Some((443, 40001)));
}

#[test]
fn seed_conflict_reply_follows_the_conntrack_entry_not_ipvs() {
    // Seeds 000/002: G has an IPVS service G:33333/udp → S1 and an IPVS
    // connection V → G:33333 → S1, while S2's flow was SNATed to G:33333 towards
    // V:33333. V's packet to G:33333 matches the conntrack entry's reply tuple in
    // PREROUTING, is de-SNATed to S2 and forwarded: IPVS (INPUT only) never sees it.
    let dir = std::env::temp_dir().join(format!("nftrace-ipvs-{}-seed", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let files = [
        ("addr.txt", "2: eth0: <BROADCAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 192.0.2.1/24 scope global eth0\n3: eth1: <BROADCAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.0.1.1/24 scope global eth1\n"),
        ("iptables-save.txt", "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 10.0.1.0/24 -o eth0 -p udp -m udp --sport 33333 -j SNAT --to-source 192.0.2.1:33333\nCOMMIT\n"),
        ("ipvsadm.txt", "-A -u 192.0.2.1:33333 -s rr\n-a -u 192.0.2.1:33333 -r 10.0.1.2:33333 -m -w 1\n"),
        ("ipvs-conn.txt", "UDP 04:58  UDP         192.0.2.9:33333   192.0.2.1:33333    10.0.1.2:33333\n"),
        ("conntrack.txt", "udp      17 170 src=10.0.1.3 dst=192.0.2.9 sport=33333 dport=33333 src=192.0.2.9 dst=192.0.2.1 sport=33333 dport=33333 [ASSURED] mark=0 use=1\n"),
    ];
    for (f, text) in files {
        std::fs::write(dir.join(f), text).expect("write");
    }
    let host = load(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let t = run(
        &host,
        &[
            "-s",
            "192.0.2.9",
            "-d",
            "192.0.2.1",
            "-p",
            "udp",
            "--sport",
            "33333",
            "--dport",
            "33333",
            "-i",
            "eth0",
        ],
        &TraceOptions::default(),
    );
    assert_eq!(t.final_packet.dst.to_string(), "10.0.1.3");
    assert_eq!(t.oif(), Some("eth1"));
    assert!(!t.events.iter().any(|e| matches!(e, Event::Ipvs { .. })));
}

#[test]
fn reply_option_follows_the_ipvs_connection_the_request_created() {
    // `--reply` on an IPVS-scheduled request: the real server answers the client;
    // ip_vs_out (FORWARD 100) finds the connection and restores VIP:vport.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nftrace"))
        .args(["trace", "--dump"])
        .arg(node_dir())
        .args(FROM_NODE_NET)
        .args(["--reply", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["reply"]["initial"]["src"], "10.0.0.12");
    assert_eq!(v["reply"]["final"]["src"], "10.96.0.1");
    assert_eq!(v["reply"]["final"]["sport"], 443);
    assert_eq!(v["reply"]["final"]["dst"], "10.0.0.50");
}
