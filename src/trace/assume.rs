//! Stated, overridable assumptions about host state the dumps do not hold.
//!
//! Every key has a default that matches what a freshly loaded ruleset does on
//! the kernel (recorded in ../shared/docs/kernel-semantics.md §10): `limit`
//! buckets are full, `recent` lists are empty, `connlimit` sees no connections,
//! `statistic --mode nth` counters start at zero. `--assume KEY=VALUE` overrides.

use std::collections::BTreeMap;

/// One known assumption key.
struct Key {
    name: &'static str,
    default: &'static str,
    values: &'static str,
    help: &'static str,
}

/// The keys users may set with `--assume`, one table for parsing, help and defaults.
const KEYS: &[Key] = &[
    Key { name: "statistic", default: "1", values: "N | none", help: "the N-th `statistic --mode random` rule the packet meets is the first to match; `none`: no random rule matches" },
    Key { name: "statistic-nth", default: "0", values: "K", help: "packets already counted by each `statistic --mode nth` rule (fresh ruleset: 0)" },
    Key { name: "limit", default: "match", values: "match | nomatch", help: "`limit`/`hashlimit` token buckets (fresh ruleset: full, so they match)" },
    Key { name: "recent", default: "empty", values: "empty | all | NAME[,NAME…]", help: "the `recent` lists that hold the packet's source" },
    Key { name: "connlimit", default: "0", values: "N", help: "connections counted by `connlimit`" },
    Key { name: "set", default: "nomatch", values: "match | nomatch", help: "membership in ipsets without an `ipset save` dump" },
    Key { name: "string", default: "nomatch", values: "match | nomatch", help: "`string` matches on the payload" },
    Key { name: "u32", default: "nomatch", values: "match | nomatch", help: "`u32` matches" },
    Key { name: "uid", default: "0", values: "UID", help: "owner of a locally generated packet's socket (`owner --uid-owner`)" },
    Key { name: "gid", default: "0", values: "GID", help: "group of a locally generated packet's socket (`owner --gid-owner`)" },
    Key { name: "queue", default: "none", values: "none | listener", help: "whether a userspace program listens on NFQUEUE/QUEUE queues" },
    Key { name: "conntrack", default: "auto", values: "auto | on | off", help: "whether conntrack runs in the netns (auto: when some rule needs it, as the kernel enables it on demand)" },
    Key { name: "tcp-loose", default: "1", values: "0 | 1", help: "net.netfilter.nf_conntrack_tcp_loose: pick up mid-stream TCP ACKs as NEW" },
    Key { name: "l2-dst", default: "auto", values: "auto | host | broadcast | multicast", help: "link-layer destination of a received frame, for `pkttype` (auto: multicast for a group, broadcast for 255.255.255.255 and the ingress subnet's broadcast, else this host's MAC)" },
    Key { name: "forwarding", default: "1", values: "0 | 1", help: "net.ipv4.conf.*.forwarding on the ingress interface" },
    Key { name: "unknown-match", default: "nomatch", values: "match | nomatch", help: "result of a match module nftrace does not evaluate" },
];

/// The assumptions in force for a trace: defaults overridden by `--assume`.
#[derive(Debug, Clone, Default)]
pub struct AssumeConfig {
    overrides: BTreeMap<String, String>,
}

impl AssumeConfig {
    /// Parses `KEY=VALUE` items; an unknown key is an error naming the known ones.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<AssumeConfig, String> {
        let mut overrides = BTreeMap::new();
        for item in items {
            let item = item.as_ref();
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("--assume takes KEY=VALUE, found {item:?}"))?;
            if !KEYS.iter().any(|k| k.name == key) {
                let known: Vec<_> = KEYS.iter().map(|k| k.name).collect();
                return Err(format!(
                    "unknown --assume key {key:?}; known keys: {}",
                    known.join(", ")
                ));
            }
            overrides.insert(key.to_string(), value.to_string());
        }
        Ok(AssumeConfig { overrides })
    }

    /// The value in force for `key` (the override, else the default).
    pub fn get(&self, key: &str) -> &str {
        if let Some(v) = self.overrides.get(key) {
            return v;
        }
        KEYS.iter()
            .find(|k| k.name == key)
            .map_or("", |k| k.default)
    }

    /// True when the user set `key` explicitly.
    pub fn is_set(&self, key: &str) -> bool {
        self.overrides.contains_key(key)
    }

    /// The value as a number, falling back to the default on a bad number.
    pub fn number(&self, key: &str) -> u64 {
        self.get(key).parse().unwrap_or(0)
    }

    /// True when the value is `match`.
    pub fn matches(&self, key: &str) -> bool {
        self.get(key) == "match"
    }

    /// Lines for `--help`: `key=default (values): help`.
    pub fn help() -> String {
        KEYS.iter()
            .map(|k| format!("  {}={} ({}): {}", k.name, k.default, k.values, k.help))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
