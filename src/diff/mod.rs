//! `nftrace diff`: traces the same packets through two bundles (before and
//! after a change) and reports every packet whose behaviour changed: verdict,
//! egress, translation (final addresses and ports) or deciding rule.
//!
//! The deciding rule is compared by its text (a policy by its chain), not by
//! its number, so a reorder that does not change which rule decides is no
//! change. Without a probes file, [`generate()`] derives one packet per rule of
//! either ruleset, so an added, removed, reordered or edited rule shows up
//! with an example packet.

pub mod generate;
pub mod report;

use rayon::prelude::*;

use crate::check::file::ProbeSpec;
use crate::check::observe::Observed;
use crate::check::{describe, trace_spec};
use crate::model::Host;

/// The behaviour of one packet on one host, as `diff` compares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Behaviour {
    /// `ACCEPT`, `DROP`, `REJECT`, `QUEUE`.
    pub verdict: String,
    /// `sent eth0`, `delivered` or `-`.
    pub egress: String,
    /// The packet after translation (`10.0.0.1:40000 -> 10.0.0.2:80`).
    pub translation: String,
    /// The deciding rule: its text, or `policy of table:chain`, or why routing dropped it.
    pub rule: String,
    /// Where the deciding rule is (`table:chain:N`), for the reader.
    pub rule_at: Option<String>,
}

impl Behaviour {
    fn new(o: &Observed) -> Behaviour {
        let port = |p: Option<u16>| p.map_or_else(String::new, |p| format!(":{p}"));
        let rule = match (&o.decided_by, &o.drop_reason) {
            (Some(r), _) => r.text.clone().unwrap_or_else(|| {
                let chain = r.at.rsplit_once(':').map_or(r.at.as_str(), |(c, _)| c);
                format!("policy of {chain}")
            }),
            (None, Some(reason)) => reason.clone(),
            (None, None) => "-".into(),
        };
        Behaviour {
            verdict: o.verdict.to_string(),
            egress: o.egress(),
            translation: format!("{}{} -> {}{}", o.src, port(o.sport), o.dst, port(o.dport)),
            rule,
            rule_at: o.decided_by.as_ref().map(|r| r.at.clone()),
        }
    }

    /// The aspects that differ from `other`.
    fn differences(&self, other: &Behaviour) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.verdict != other.verdict {
            out.push("verdict");
        }
        if self.egress != other.egress {
            out.push("egress");
        }
        if self.translation != other.translation {
            out.push("translation");
        }
        if self.rule != other.rule {
            out.push("rule");
        }
        out
    }
}

/// A probe whose behaviour differs between the two hosts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The probe's name (for generated probes, the rule it was made for).
    pub name: String,
    /// The packet, in one line.
    pub packet: String,
    /// What changed: `verdict`, `egress`, `translation`, `rule`.
    pub changed: Vec<&'static str>,
    /// Behaviour before.
    pub before: Behaviour,
    /// Behaviour after.
    pub after: Behaviour,
}

/// One probe per rule of either ruleset; a packet already generated is not
/// repeated. Names say which version's rule it came from.
pub fn generate(before: &Host, after: &Host) -> Vec<ProbeSpec> {
    let mut out: Vec<ProbeSpec> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (label, host) in [("before", before), ("after", after)] {
        for mut spec in generate::from_host(host) {
            if seen.insert(describe(&spec)) {
                spec.name = format!("{} ({label})", spec.name);
                out.push(spec);
            }
        }
    }
    out
}

/// Traces every probe through both hosts (in parallel); returns the changes
/// in probe order. `tick` is called once per probe.
pub fn run(
    before: &Host,
    after: &Host,
    specs: &[ProbeSpec],
    tick: &(dyn Fn() + Sync),
) -> Vec<Change> {
    specs
        .par_iter()
        .filter_map(|spec| {
            let b = Behaviour::new(&Observed::new(before, &trace_spec(before, spec)));
            let a = Behaviour::new(&Observed::new(after, &trace_spec(after, spec)));
            tick();
            let changed = b.differences(&a);
            (!changed.is_empty()).then(|| Change {
                name: spec.name.clone(),
                packet: describe(spec),
                changed,
                before: b,
                after: a,
            })
        })
        .collect()
}
