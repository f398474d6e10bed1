//! JSON for scripts and CI.
