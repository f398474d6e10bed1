//! Integration tests: one binary, one module per concern.

mod check;
mod cli;
mod collect;
mod conntrack_corpus;
mod diff;
mod fixtures;
mod kernel_probes;
mod roundtrip;
mod routing_corpus;
