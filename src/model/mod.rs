//! The domain model: plain types for what the dumps describe.

pub mod conntrack;
pub mod ipset;
pub mod ipvs;
pub mod matches;
pub mod packet;
pub mod routing;
pub mod ruleset;
pub mod target;
pub mod text;

use std::sync::Arc;

use ruleset::{Ruleset, TableName};

/// One host as the dumps describe it: everything a trace reads, read-only.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// The iptables ruleset (empty when no dump was given). Shared: a host
    /// derived from this one (the reply's, with the first packet's connection)
    /// copies none of the large parts.
    pub ruleset: Arc<Ruleset>,
    /// Interfaces, routes and policy rules.
    pub routing: Arc<routing::Routing>,
    /// What was assumed while loading (missing files, defaults), shown in every output.
    pub load_notes: Vec<String>,
    /// IPVS services and connections (`ipvsadm.txt`, `ipvs-conn.txt`).
    pub ipvs: Arc<ipvs::Ipvs>,
    /// ipsets (`ipset.txt`), when a dump was given.
    pub ipsets: Option<Arc<ipset::IpSets>>,
    /// `conntrack -S` counters summed over cpus (`conntrack-stats.txt`).
    pub conntrack_stats: Vec<(String, u64)>,
    /// Connections from `conntrack -L` (empty when none was given).
    pub conntrack: conntrack::ConntrackTable,
    /// `sysctl` settings from the bundle (empty when none was given).
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// Whether the ruleset enables connection tracking ([`Ruleset::needs_conntrack`]).
    pub conntrack_enabled: bool,
}

impl Host {
    /// Builds a host.
    pub fn new(ruleset: Ruleset, routing: routing::Routing, load_notes: Vec<String>) -> Host {
        Host {
            conntrack_enabled: ruleset.needs_conntrack(),
            ruleset: Arc::new(ruleset),
            routing: Arc::new(routing),
            load_notes,
            sysctls: std::collections::BTreeMap::new(),
            conntrack: conntrack::ConntrackTable::default(),
            conntrack_stats: Vec::new(),
            ipvs: Arc::default(),
            ipsets: None,
        }
    }

    /// A sysctl's value, when the bundle has it.
    pub fn sysctl(&self, key: &str) -> Option<&str> {
        self.sysctls.get(key).map(String::as_str)
    }

    /// `net.ipv4.conf.<dev>.<name>` as a number, if known.
    pub fn conf(&self, dev: &str, name: &str) -> Option<u32> {
        self.sysctl(&format!("net.ipv4.conf.{dev}.{name}"))
            .and_then(|v| v.parse().ok())
    }

    /// Position of a chain within its table (through the table's index: jumps
    /// do not search).
    pub fn chain_id(&self, table: TableName, name: &str) -> Option<usize> {
        self.ruleset.table(table)?.chain_index(name)
    }
}
