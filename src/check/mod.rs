//! `nftrace check`: runs the probes of a probes file against one or more
//! hosts and compares each trace with the probe's expectations.
//!
//! ```text
//! probes.toml ──file::parse──▶ [ProbeSpec] ─┐
//!                                          ├─ trace ─▶ observe::Observed ─ compare ─▶ [Outcome] ─▶ report
//! bundles ────BundlePaths::load──▶ [Host] ──┘
//! ```
//!
//! Hosts and probes are traced in parallel (rayon); the order of results is
//! the order of the hosts and of the probes in the file.

pub mod file;
pub mod observe;
pub mod report;

use rayon::prelude::*;

use crate::model::Host;
use crate::trace::{self, assume::AssumeConfig, TraceOptions};
use file::ProbeSpec;
use observe::{Mismatch, Observed};

/// The result of one probe on one host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The probe's name.
    pub name: String,
    /// Line of the probe in the probes file.
    pub line: usize,
    /// The packet as given, in one line.
    pub packet: String,
    /// What the trace showed.
    pub observed: Observed,
    /// Unmet expectations (empty: passed).
    pub failures: Vec<Mismatch>,
}

impl Outcome {
    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// All probes on one host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostReport {
    /// The host's bundle, as given.
    pub host: String,
    /// One outcome per probe, in file order.
    pub outcomes: Vec<Outcome>,
}

impl HostReport {
    /// Number of failed probes.
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.passed()).count()
    }
}

/// Traces one probe on `host` with its assumptions and forced state.
pub fn trace_spec(host: &Host, spec: &ProbeSpec) -> trace::event::Trace {
    let opts = TraceOptions {
        // Validated when the file was parsed.
        assume: AssumeConfig::parse(&spec.assume).unwrap_or_default(),
        force_ctstate: spec.ctstate,
        ipvs_dest: None,
        record_evaluations: false,
    };
    trace::trace(host, &spec.probe, &opts)
}

/// Runs one probe on one host.
pub fn run_probe(host: &Host, spec: &ProbeSpec) -> Outcome {
    let t = trace_spec(host, spec);
    let observed = Observed::new(host, &t);
    Outcome {
        name: spec.name.clone(),
        line: spec.line,
        packet: describe(spec),
        failures: observe::compare(&spec.expect, &observed),
        observed,
    }
}

/// The packet of a probe in one line (`tcp 10.0.0.1:40000 -> 10.0.0.2:80 in eth0`).
pub fn describe(spec: &ProbeSpec) -> String {
    match &spec.probe.ingress {
        crate::model::packet::Ingress::Interface(dev) => {
            format!("{} in {dev}", spec.probe.packet)
        }
        crate::model::packet::Ingress::Local => format!("{} local", spec.probe.packet),
    }
}

/// Runs every probe on every host, in parallel; `tick` is called once per
/// probe traced (for a progress bar).
pub fn run(
    hosts: &[(String, Host)],
    specs: &[ProbeSpec],
    tick: &(dyn Fn() + Sync),
) -> Vec<HostReport> {
    hosts
        .par_iter()
        .map(|(name, host)| HostReport {
            host: name.clone(),
            outcomes: specs
                .par_iter()
                .map(|spec| {
                    let o = run_probe(host, spec);
                    tick();
                    o
                })
                .collect(),
        })
        .collect()
}
