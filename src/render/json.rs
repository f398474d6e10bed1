//! TEMPORARY stub (replaced by the render branch).
#![allow(missing_docs)]
use crate::trace::event::Trace;
pub fn render(trace: &Trace) -> String {
    serde_json::to_string_pretty(trace).unwrap_or_default() + "\n"
}
