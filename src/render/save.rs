//! `iptables-save` form of a parsed ruleset.
