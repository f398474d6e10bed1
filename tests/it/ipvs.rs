//! Real `ipvsadm -Ln` and `ipset list` pastes from the shared corpus (read in
//! place, never copied): each loads, or is refused with a located, explained error.

use std::path::{Path, PathBuf};

use nftrace::model::ipset::{dims, Dir, Flow};
use nftrace::model::ipvs::{FwdMethod, IpvsProto, Scheduler, ServiceKey};
use nftrace::parse::{ipset, ipvsadm};

/// `$CARGO_MANIFEST_DIR/../shared/corpus/<dir>/<name>`, else `/work/shared/corpus/…`.
fn corpus(dir: &str, name: &str) -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(dir)
        .join(name);
    let shared = Path::new("/work/shared/corpus").join(dir).join(name);
    [local, shared].into_iter().find(|p| p.is_file())
}

fn read(dir: &str, name: &str) -> Option<String> {
    let text = corpus(dir, name).map(|p| std::fs::read_to_string(p).expect("readable"));
    if text.is_none() {
        eprintln!("corpus {dir}/{name} not present; skipped");
    }
    text
}

#[test]
fn kind_kube_proxy_listing_loads_every_service() {
    let name = "tkng-kind-kube-proxy-ipvsadm-ln.txt";
    let Some(text) = read("ipvs", name) else {
        return;
    };
    let dump = ipvsadm::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dump.services.len(), 12);
    assert!(dump.services.iter().all(|s| s.scheduler == Scheduler::Rr));
    let udp = dump.services.last().expect("a service");
    assert_eq!(
        udp.key,
        ServiceKey::Addr {
            proto: IpvsProto::Udp,
            vip: "10.96.0.10".parse().unwrap(),
            port: 53
        }
    );
    // `  -> 10.244.0.3:53 Masq 1 0 8`: InActConn column.
    assert_eq!(udp.dests[0].inact_conns, Some(8));
    assert_eq!(udp.dests[0].method, FwdMethod::Masq);
}

#[test]
fn persistent_listing_keeps_the_timeout() {
    let name = "opsnull-k8s-ipvsadm-L-n-persistent-partial.txt";
    let Some(text) = read("ipvs", name) else {
        return;
    };
    let dump = ipvsadm::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    let api = dump
        .services
        .iter()
        .find(|s| s.persistent())
        .expect("the persistent service");
    assert_eq!(api.timeout, Some(10800));
    assert_eq!(api.dests.len(), 2);
    assert_eq!(dump.services.len(), 7);
}

#[test]
fn stats_listing_loads_without_scheduler_or_method() {
    let name = "kube-router-ipvsadm-ln-stats-partial.txt";
    let Some(text) = read("ipvs", name) else {
        return;
    };
    let dump = ipvsadm::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dump.services.len(), 3);
    assert_eq!(dump.services[2].dests.len(), 8);
    // The --stats columns carry neither counts of connections nor the method.
    assert!(dump.services[2].dests[0].active_conns.is_none());
    assert!(!dump.notes.is_empty());
}

#[test]
fn docker_swarm_listing_is_refused_for_its_host_name() {
    // Made with `ipvsadm -L` (no -n): one real server shows as a reverse-DNS
    // name, which names no address offline. The rest of the file parses.
    let name = "docker-swarm-fwm-nonnumeric-ipvsadm.txt";
    let Some(text) = read("ipvs", name) else {
        return;
    };
    let errors = ipvsadm::parse(name, &text).expect_err("a host name");
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!((e.line, e.column), (8, 6));
    assert_eq!(e.found, "docker0.local:0");
    assert!(e.expected.contains("re-run ipvsadm with -n"), "{e}");
}

#[test]
fn kube_cluster_ip_set_answers_membership() {
    let name = "tkng-kind-kube-cluster-ip-list.txt";
    let Some(text) = read("ipset", name) else {
        return;
    };
    let sets = ipset::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    let set = &sets.sets["KUBE-CLUSTER-IP"];
    assert_eq!(set.entries.len(), 9);
    // kube-proxy: -m set --match-set KUBE-CLUSTER-IP dst,dst
    let probe = |proto, port| {
        let f = Flow {
            src: "10.244.1.5".parse().unwrap(),
            dst: "10.96.0.10".parse().unwrap(),
            proto,
            ports: Some((40000, port)),
            mark: 0,
        };
        sets.contains("KUBE-CLUSTER-IP", &dims(&[Dir::Dst, Dir::Dst], &f))
    };
    assert_eq!(probe(17, 53), Some(true)); // 10.96.0.10,udp:53
    assert_eq!(probe(6, 9153), Some(true)); // 10.96.0.10,tcp:9153
    assert_eq!(probe(17, 9153), Some(false)); // no udp:9153 member
}

#[test]
fn kube_loop_back_set_loads() {
    let name = "tkng-kind-kube-loop-back-list.txt";
    let Some(text) = read("ipset", name) else {
        return;
    };
    let sets = ipset::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    let f = Flow {
        src: "10.244.1.2".parse().unwrap(),
        dst: "10.244.1.2".parse().unwrap(),
        proto: 6,
        ports: Some((40000, 3030)),
        mark: 0,
    };
    // kube-proxy: --match-set KUBE-LOOP-BACK dst,dst,src (hairpin to itself).
    let d = dims(&[Dir::Dst, Dir::Dst, Dir::Src], &f);
    assert_eq!(sets.contains("KUBE-LOOP-BACK", &d), Some(true));
}
