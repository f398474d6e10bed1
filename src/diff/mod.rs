//! `nftrace diff` (in progress).

pub mod report;

use crate::check::file::ProbeSpec;
use crate::model::Host;

/// A probe whose behaviour differs between the two hosts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The probe's name.
    pub name: String,
}

/// Probes generated from both rulesets.
pub fn generate(_before: &Host, _after: &Host) -> Vec<ProbeSpec> {
    Vec::new()
}

/// Traces every probe through both hosts.
pub fn run(
    _before: &Host,
    _after: &Host,
    _specs: &[ProbeSpec],
    _tick: &(dyn Fn() + Sync),
) -> Vec<Change> {
    Vec::new()
}
