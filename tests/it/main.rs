//! Integration tests: one binary, one module per concern.

mod roundtrip;
mod routing_corpus;
