//! Integration tests: one binary, one module per concern.

mod analysis;
mod check;
mod cli;
mod collect;
mod conntrack_corpus;
mod corpus_all;
mod corpus_replay;
mod diff;
mod fixtures;
mod hardening;
mod ip_forms;
mod ipvs;
mod ipvs_pipeline;
mod kernel_probes;
mod properties;
mod refusals;
mod replay;
mod roundtrip;
mod routing_corpus;
