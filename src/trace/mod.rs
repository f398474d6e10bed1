//! The evaluator: walks a packet through hooks, tables, chains and routing.
//! A pure function of the loaded host and the packet; it emits [`event::Event`]s
//! and never formats.

pub mod assume;
pub mod conntrack;
pub mod event;
pub mod hooks;
pub mod ipvs;
pub mod ipvs_hook;
pub mod jhash;
pub mod matcher;
pub mod nat;
pub mod reply;
pub mod route_step;
pub mod routing;
pub mod table;
pub mod targets;
pub mod u32;
pub mod walk;

pub use hooks::{trace, Probe};
pub use walk::TraceOptions;
