//! The kernel TRACE lines.
