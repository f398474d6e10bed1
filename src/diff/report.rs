//! Printing diff results.

use super::Change;

/// For people.
pub fn human(changes: &[Change], probes: usize) -> String {
    format!("{} of {probes} probes changed\n", changes.len())
}

/// JSON.
pub fn json(changes: &[Change], probes: usize) -> String {
    serde_json::json!({"probes": probes, "changes": changes}).to_string()
}
