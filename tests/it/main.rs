//! Integration tests: one binary, one module per concern.

mod cli;
mod conntrack_corpus;
mod corpus_replay;
mod fixtures;
mod ipvs;
mod replay;
mod roundtrip;
mod routing_corpus;
