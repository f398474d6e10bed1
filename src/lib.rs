//! nftrace: what would this Linux kernel do with this packet?
//!
//! The pipeline, left to right; each layer uses only those to its left:
//!
//! ```text
//! dumps ──parse──▶ model ──trace──▶ events ──render──▶ log / human / json
//!                  (Ruleset, Routing,   (hooks, chains, NAT,
//!                   Packet)              routing, assumptions)
//! ```
//!
//! * [`parse`]: one module per dump format (`iptables-save`, `ip route`, `ip rule`,
//!   `ip addr`, `conntrack -L`, `ipvsadm`, `ipset`, `sysctl`).
//! * [`model`]: plain types in the kernel's words; [`bundle`] loads one host's dumps.
//! * [`probe`]: the packet a user describes, validated.
//! * [`trace`]: the evaluator; a pure function from model + packet to events.
//! * [`render`]: the kernel's TRACE lines, a walk for people, JSON, iptables-save.
//! * [`check`], [`diff`], [`collect`]: expectations for CI, before/after comparisons,
//!   capturing a live host's bundle.
//! * [`cli`]: argument handling, exit codes.
//! * [`workload`]: seeded synthetic dumps for benchmarks (not part of the pipeline).

pub mod analysis;
pub mod bundle;
pub mod check;
pub mod cli;
pub mod collect;
pub mod diff;
pub mod model;
pub mod parse;
pub mod probe;
pub mod render;
pub mod trace;
pub mod workload;
