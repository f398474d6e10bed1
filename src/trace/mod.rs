//! The evaluator: walks a packet through hooks, tables, chains and routing.

pub mod routing;
