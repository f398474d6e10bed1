//! The domain model: plain types for what the dumps describe.

pub mod matches;
pub mod packet;
pub mod routing;
pub mod ruleset;
pub mod target;
