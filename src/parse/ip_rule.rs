//! TEMPORARY stub (replaced by the routing branch).
#![allow(missing_docs)]
use super::ParseErrors;
use crate::model::routing::FibRule;
pub fn parse(_file: &str, _text: &str) -> Result<Vec<FibRule>, ParseErrors> {
    Ok(vec![])
}
