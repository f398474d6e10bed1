//! `nftrace show`: what was loaded.

use std::fmt::Write;

use super::args::ShowFormat;
use crate::model::Host;
use crate::render;

/// Renders the loaded host.
pub fn render(host: &Host, format: ShowFormat) -> String {
    match format {
        ShowFormat::Save => render::save::write(&host.ruleset),
        ShowFormat::Human => summary(host),
    }
}

fn summary(host: &Host) -> String {
    let mut s = String::new();
    for note in &host.load_notes {
        let _ = writeln!(s, "note: {note}");
    }
    for t in &host.ruleset.tables {
        let _ = writeln!(s, "table {}", t.name);
        for c in &t.chains {
            let policy = c.policy.map_or("-", |p| p.as_str());
            let _ = writeln!(
                s,
                "  chain {} (policy {policy}, {} rules)",
                c.name,
                c.rules().len()
            );
            for (i, r) in c.rules().iter().enumerate() {
                let _ = writeln!(s, "    {:>4}  {}", i + 1, r.text);
            }
        }
    }
    let ct = &host.conntrack;
    let _ = writeln!(s, "conntrack entries ({}):", ct.len());
    for e in ct.entries() {
        let _ = writeln!(s, "  {}", e.text);
    }
    if !host.conntrack_stats.is_empty() {
        let stats: Vec<String> = host
            .conntrack_stats
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(s, "conntrack -S (all cpus): {}", stats.join(" "));
    }
    let r = &host.routing;
    let _ = writeln!(s, "interfaces ({}):", r.links.len());
    for l in &r.links {
        let addrs: Vec<String> = l
            .addrs
            .iter()
            .map(|a| {
                format!(
                    "{}/{}{}",
                    a.local,
                    a.prefix_len,
                    if a.secondary { " secondary" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(s, "  {} {}", l.name, addrs.join(", "));
    }
    let _ = writeln!(s, "policy rules ({}):", r.rules.len());
    for rule in &r.rules {
        let _ = writeln!(s, "  {}", rule.text);
    }
    let _ = writeln!(s, "routes ({}):", r.routes.len());
    for route in &r.routes {
        let _ = writeln!(s, "  {}", route.text);
    }
    s
}
