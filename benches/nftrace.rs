//! Criterion benchmarks for issue 6: parse, load and trace on generated workloads.
//!
//! `cargo bench --bench nftrace` runs them all; `cargo bench --bench nftrace -- parse`
//! one group. The workloads come from `nftrace::workload` (seeded), so every run
//! measures the same bytes. `bench/compare` runs the whole command against
//! `iptables-legacy-restore --test`; docs/performance.md has the numbers.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nftrace::model::conntrack::{ConntrackTable, Tuple};
use nftrace::model::routing::Routing;
use nftrace::model::Host;
use nftrace::parse;
use nftrace::trace::routing::{fib_lookup, FlowKey};
use nftrace::trace::{self, Probe, TraceOptions};
use nftrace::workload::{self, KubeShape};

fn kube(services: usize) -> String {
    workload::kube_proxy(KubeShape {
        services,
        endpoints: 5,
        seed: 1,
    })
}

/// A host with this ruleset and the generated router's addresses.
fn host(ruleset_text: &str) -> Host {
    let ruleset = parse::iptables_save::parse("bench", ruleset_text).expect("workload parses");
    let links = parse::ip_addr::parse("addr", &workload::addrs()).expect("addrs parse");
    let routes = parse::ip_route::parse("route", &workload::routes(0, 0, 1)).expect("routes");
    let (routing, notes) = Routing::from_dumps(Some(links), Some(routes.routes), None);
    Host::new(ruleset, routing, notes)
}

fn probe(flags: &str) -> Probe {
    let flags: Vec<&str> = flags.split_whitespace().collect();
    nftrace::cli::probe_from_flags(&flags).expect("probe flags")
}

/// A probe to the ClusterIP of the last service (the worst case for KUBE-SERVICES).
fn kube_probe(services: usize) -> Probe {
    let i = services - 1;
    probe(&format!(
        "-s 203.0.113.9 -d {} -p tcp --dport {} -i eth0",
        workload::kube_cluster_ip(i),
        workload::kube_port(i)
    ))
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000, 10_000, 30_000] {
        let text = kube(n);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("kube", n), &text, |b, t| {
            b.iter(|| parse::iptables_save::parse("k", black_box(t)).map(|r| r.rule_count()));
        });
    }
    let text = workload::linear_firewall(50_000, 1);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("linear-50k", |b| {
        b.iter(|| parse::iptables_save::parse("l", black_box(&text)).map(|r| r.rule_count()));
    });
    g.finish();
}

fn bench_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000, 10_000] {
        let text = kube(n);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("kube-host", n), &text, |b, t| {
            b.iter(|| host(black_box(t)));
        });
        // Rules are parsed per chain on first use: what the first trace after a
        // load pays, and what parsing every chain costs (show, lint, diff).
        let p = kube_probe(n);
        let opts = TraceOptions::default();
        g.bench_with_input(
            BenchmarkId::new("kube-host-first-trace", n),
            &text,
            |b, t| {
                b.iter(|| trace::trace(&host(black_box(t)), &p, &opts));
            },
        );
        g.bench_with_input(
            BenchmarkId::new("kube-host-every-chain", n),
            &text,
            |b, t| {
                b.iter(|| {
                    let h = host(black_box(t));
                    let chains = h.ruleset.tables.iter().flat_map(|t| &t.chains);
                    chains.map(|c| c.rules().len()).sum::<usize>()
                });
            },
        );
    }
    g.finish();
}

fn bench_trace(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace");
    let opts = TraceOptions::default();
    for n in [1_000, 10_000, 30_000] {
        let h = host(&kube(n));
        let p = kube_probe(n);
        g.bench_function(BenchmarkId::new("kube-last-service", n), |b| {
            b.iter(|| trace::trace(black_box(&h), &p, &opts));
        });
    }
    let h = host(&workload::linear_firewall(50_000, 1));
    let p = probe("-s 172.16.0.1 -d 203.0.113.2 -p tcp --dport 22 -i eth0");
    g.bench_function("linear-50k-miss-all", |b| {
        b.iter(|| trace::trace(black_box(&h), &p, &opts));
    });
    let h = host(&workload::deep_jumps(30, 10, 20, 1));
    let p = probe("-s 10.9.0.1 -d 203.0.113.2 -p tcp --dport 80 -i eth0");
    g.bench_function("deep-30", |b| {
        b.iter(|| trace::trace(black_box(&h), &p, &opts));
    });
    g.finish();
}

/// 10,000 different probes through the 10k-service ruleset on every core, one shared
/// host (what `nftrace check` does with 10,000 probes).
fn bench_parallel(c: &mut Criterion) {
    use rayon::prelude::*;
    let mut g = c.benchmark_group("parallel");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let n = 10_000;
    let h = host(&kube(n));
    let probes: Vec<Probe> = (0..10_000)
        .map(|i| kube_probe(1 + (i * 7919) % n))
        .collect();
    let opts = TraceOptions::default();
    g.bench_function("kube-10k-x-10000-probes", |b| {
        b.iter(|| {
            probes
                .par_iter()
                .map(|p| trace::trace(&h, p, &opts).events.len())
                .sum::<usize>()
        });
    });
    g.finish();
}

fn bench_conntrack(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let text = workload::conntrack(500_000, 1);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("load-500k", |b| {
        b.iter(|| {
            let dump = parse::conntrack::parse_dump("c", black_box(&text), false).expect("ct");
            ConntrackTable::new(dump.entries).len()
        });
    });
    let table = ConntrackTable::new(parse::conntrack::parse("c", &text).expect("ct"));
    let (src, dst, sport) = workload::conntrack_flow(123_456);
    let tuple = Tuple {
        src,
        dst,
        proto: 6,
        sport,
        dport: 443,
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("lookup-500k", |b| {
        b.iter(|| table.find(black_box(&tuple), 0).is_some());
    });
    g.finish();
}

fn bench_routes(c: &mut Criterion) {
    let mut g = c.benchmark_group("routes");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let routes = workload::routes(1_000_000, 100, 1);
    let rules = workload::policy_rules(100);
    let addrs = workload::addrs();
    let load = || {
        let links = parse::ip_addr::parse("a", &addrs).expect("addrs");
        let r = parse::ip_route::parse("r", black_box(&routes)).expect("routes");
        let p = parse::ip_rule::parse("p", &rules).expect("rules");
        Routing::from_dumps(Some(links), Some(r.routes), Some(p)).0
    };
    g.throughput(Throughput::Bytes(routes.len() as u64));
    g.bench_function("load-1m", |b| b.iter(|| load().routes.len()));
    let routing = load();
    g.throughput(Throughput::Elements(1));
    let mut key = FlowKey::to(Ipv4Addr::new(8, 8, 8, 8));
    key.iif = Some("eth1".to_string());
    key.src = Ipv4Addr::new(198, 51, 100, 9);
    g.bench_function("lookup-1m-100-rules", |b| {
        b.iter(|| fib_lookup(black_box(&routing), &key));
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_load,
    bench_trace,
    bench_parallel,
    bench_conntrack,
    bench_routes
);
criterion_main!(benches);
