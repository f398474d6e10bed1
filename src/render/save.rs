//! TEMPORARY stub (replaced by the iptables branch).
#![allow(missing_docs)]
use crate::model::ruleset::Ruleset;
pub fn write(_r: &Ruleset) -> String {
    String::new()
}
