//! Integration tests: one binary, one module per concern.

mod cli;
mod conntrack_corpus;
mod fixtures;
mod roundtrip;
mod routing_corpus;
