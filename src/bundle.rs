//! Loading one host's dumps: a bundle folder with fixed file names, or each
//! file given on its own (`-` for standard input).
//!
//! Layout (docs/bundle.md): `iptables-save.txt`, `route.txt`, `rule.txt`,
//! `addr.txt`, `conntrack.txt`, `ipvsadm.txt`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::conntrack::ConntrackTable;
use crate::model::routing::{table_id, Routing};
use crate::model::ruleset::Ruleset;
use crate::model::Host;
use crate::parse::{self, ParseErrors};

/// Where each dump comes from; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct BundlePaths {
    /// `iptables-save` output.
    pub iptables: Option<PathBuf>,
    /// `ip route show table all`.
    pub routes: Option<PathBuf>,
    /// `ip rule show`.
    pub rules: Option<PathBuf>,
    /// `ip addr show` or `ip -o addr`.
    pub addrs: Option<PathBuf>,
    /// `conntrack -L` or `/proc/net/nf_conntrack`.
    pub conntrack: Option<PathBuf>,
    /// Skip malformed conntrack lines with a warning instead of failing.
    pub lenient: bool,
    /// The bundle folder, when one was given (for optional extras such as
    /// `conntrack-stats.txt`).
    pub dir: Option<PathBuf>,
    /// `ipvsadm -Sn` or `ipvsadm -Ln` (services and real servers).
    pub ipvs: Option<PathBuf>,
    /// `ipvsadm -Lnc` (IPVS connections and persistence templates).
    pub ipvs_conn: Option<PathBuf>,
    /// `ipset save` or `ipset list`.
    pub ipset: Option<PathBuf>,
    /// `sysctl -a` (forwarding, rp_filter, tcp_loose, …).
    pub sysctl: Option<PathBuf>,
}

/// The fixed file names inside a bundle folder, with what each holds.
pub const BUNDLE_FILES: &[(&str, &str)] = &[
    ("iptables-save.txt", "iptables-save (with or without -c)"),
    ("route.txt", "ip route show table all"),
    ("rule.txt", "ip rule show"),
    ("addr.txt", "ip addr show (or ip -o addr)"),
    ("conntrack.txt", "conntrack -L"),
    ("ipvsadm.txt", "ipvsadm -Sn or ipvsadm -Ln"),
    ("ipvs-conn.txt", "ipvsadm -Lnc"),
    ("ipset.txt", "ipset save or ipset list"),
    (
        "sysctl.txt",
        "sysctl -a (forwarding, rp_filter, nf_conntrack_tcp_loose)",
    ),
];

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A dump did not parse.
    #[error(transparent)]
    Parse(#[from] ParseErrors),
    /// The bundle folder does not exist.
    #[error("bundle folder {0} does not exist or is not a directory")]
    NoBundle(String),
    /// More than one dump was to be read from standard input.
    #[error("only one dump can be read from standard input (-), but {0} were given")]
    StdinTwice(usize),
    /// A file is larger than [`MAX_DUMP_BYTES`].
    #[error(
        "{path} is larger than {limit} bytes: no dump of one host is that big (cut it, or check that it is the right file)"
    )]
    TooLarge {
        /// The path.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
}

/// The largest dump file read (1 GiB). Parsing keeps the whole text in memory,
/// so a bigger file (a disk image, `/dev/zero`, a runaway log) is refused
/// before it is read; a 200,000-rule kube-proxy dump is about 60 MB.
pub const MAX_DUMP_BYTES: u64 = 1 << 30;

impl BundlePaths {
    /// Fills paths not given explicitly from a bundle folder's fixed names.
    pub fn with_dir(mut self, dir: &Path) -> Result<BundlePaths, LoadError> {
        if !dir.is_dir() {
            return Err(LoadError::NoBundle(dir.display().to_string()));
        }
        let pick = |slot: &mut Option<PathBuf>, name: &str| {
            let p = dir.join(name);
            if slot.is_none() && p.is_file() {
                *slot = Some(p);
            }
        };
        pick(&mut self.iptables, "iptables-save.txt");
        pick(&mut self.routes, "route.txt");
        pick(&mut self.rules, "rule.txt");
        pick(&mut self.addrs, "addr.txt");
        pick(&mut self.conntrack, "conntrack.txt");
        pick(&mut self.ipvs, "ipvsadm.txt");
        pick(&mut self.ipvs_conn, "ipvs-conn.txt");
        pick(&mut self.ipset, "ipset.txt");
        pick(&mut self.sysctl, "sysctl.txt");
        self.dir = Some(dir.to_path_buf());
        Ok(self)
    }

    /// Reads and parses every given file into a [`Host`], noting what is missing.
    pub fn load(&self) -> Result<Host, LoadError> {
        let stdin = self.all().filter(|p| p.as_os_str() == "-").count();
        if stdin > 1 {
            return Err(LoadError::StdinTwice(stdin));
        }
        let mut notes = Vec::new();
        let ruleset = match &self.iptables {
            Some(p) => {
                let (ruleset, masks) = parse_iptables(p)?;
                notes.extend(unreached_notes(&ruleset, &masks));
                ruleset
            }
            None => {
                notes
                    .push("no iptables-save dump: no table exists, every hook accepts".to_string());
                Ruleset::default()
            }
        };
        let links = self.optional(&self.addrs, parse::ip_addr::parse)?;
        let routes = self
            .routes
            .as_deref()
            .map(parse_routes)
            .transpose()?
            .map(|dump| {
                if dump.skipped_v6 > 0 {
                    notes.push(format!(
                        "route dump: {} IPv6 lines skipped (IPv4 only)",
                        dump.skipped_v6
                    ));
                }
                dump.routes
            });
        let rules = self.optional(&self.rules, parse::ip_rule::parse)?;
        let (routing, routing_notes) = Routing::from_dumps(links, routes, rules);
        notes.extend(routing_notes);
        let conntrack = self.load_conntrack(&mut notes)?;
        let sysctls = self.optional(&self.sysctl, parse::sysctl::parse)?;
        if sysctls.is_none() {
            notes.push(
                "no sysctl.txt: forwarding assumed on for every interface, rp_filter off, tcp_loose on"
                    .to_string(),
            );
        }
        let mut host = Host::new(ruleset, routing, notes);
        host.sysctls = sysctls.unwrap_or_default();
        host.conntrack = conntrack;
        host.ipvs = Arc::new(self.load_ipvs(&mut host.load_notes)?);
        host.ipsets = self
            .optional(&self.ipset, parse::ipset::parse)?
            .map(Arc::new);
        if let Some(dir) = &self.dir {
            let stats = dir.join("conntrack-stats.txt");
            if stats.is_file() {
                host.conntrack_stats = parse_file(&stats, parse::conntrack::parse_stats)?;
            }
        }
        Ok(host)
    }

    /// Reads the IPVS services and connections, noting what the listing lacked.
    fn load_ipvs(&self, notes: &mut Vec<String>) -> Result<crate::model::ipvs::Ipvs, LoadError> {
        let dump = self.optional(&self.ipvs, parse::ipvsadm::parse)?;
        let conns = self.optional(&self.ipvs_conn, parse::ipvsadm::parse_conns)?;
        let services = dump.map(|d| {
            notes.extend(d.notes);
            d.services
        });
        Ok(crate::model::ipvs::Ipvs {
            services: services.unwrap_or_default(),
            conns: conns.unwrap_or_default(),
        })
    }

    /// Reads `conntrack.txt`; without it every packet is the first of its connection.
    fn load_conntrack(&self, notes: &mut Vec<String>) -> Result<ConntrackTable, LoadError> {
        let Some(path) = &self.conntrack else {
            notes.push("no conntrack.txt: every packet is the first of its connection".to_string());
            return Ok(ConntrackTable::default());
        };
        let lenient = self.lenient;
        let dump = parse_file_shared(path, |f, t| {
            parse::conntrack::parse_dump_shared(f, t, lenient)
        })?;
        notes.extend(
            dump.warnings
                .iter()
                .map(|w| format!("skipped (--lenient): {w}")),
        );
        if dump.skipped_v6 > 0 {
            notes.push(format!(
                "conntrack: {} IPv6 entries skipped",
                dump.skipped_v6
            ));
        }
        Ok(ConntrackTable::new(dump.entries))
    }

    /// The size of the files to read, in bytes (standard input and files that
    /// cannot be examined count 0: loading reports them).
    pub fn input_bytes(&self) -> u64 {
        self.all()
            .filter(|p| p.as_os_str() != "-")
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Every path given.
    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        [
            &self.iptables,
            &self.routes,
            &self.rules,
            &self.addrs,
            &self.conntrack,
            &self.ipvs,
            &self.ipvs_conn,
            &self.ipset,
            &self.sysctl,
        ]
        .into_iter()
        .flatten()
    }

    fn optional<T>(
        &self,
        path: &Option<PathBuf>,
        parser: fn(&str, &str) -> Result<T, ParseErrors>,
    ) -> Result<Option<T>, LoadError> {
        path.as_ref().map(|p| parse_file(p, parser)).transpose()
    }
}

/// Reads a file (`-` = standard input) and parses it.
fn parse_file<T>(
    path: &Path,
    parser: impl Fn(&str, &str) -> Result<T, ParseErrors>,
) -> Result<T, LoadError> {
    let name = path.display().to_string();
    let text = read_text(path)?;
    Ok(parser(shown_name(&name), &text)?)
}

/// Reads a file into one shared buffer, which the parsed model keeps ranges of
/// (the file's `String` becomes that buffer, uncopied), and parses it.
fn parse_file_shared<T>(
    path: &Path,
    parser: impl Fn(&str, Arc<String>) -> Result<T, ParseErrors>,
) -> Result<T, LoadError> {
    let name = path.display().to_string();
    // An `Arc<String>` takes the buffer as it is (an `Arc<str>` would copy it).
    let text = Arc::new(read_text(path)?);
    Ok(parser(shown_name(&name), text)?)
}

/// The file name errors show (`-` is standard input).
fn shown_name(name: &str) -> &str {
    if name == "-" {
        "<stdin>"
    } else {
        name
    }
}

/// Reads and parses an iptables-save dump.
fn parse_iptables(path: &Path) -> Result<(Ruleset, Vec<Vec<u8>>), LoadError> {
    parse_file_shared(path, parse::iptables_save::parse_reach)
}

/// Reads and parses an `ip route` dump (lines without `table` are in main).
fn parse_routes(path: &Path) -> Result<parse::ip_route::RouteDump, LoadError> {
    parse_file_shared(path, |file, text| {
        parse::ip_route::parse_shared(file, text, table_id::MAIN)
    })
}

/// Reads a dump (`-` = standard input) as text, refusing more than
/// [`MAX_DUMP_BYTES`]; bytes that are not UTF-8 become U+FFFD.
fn read_text(path: &Path) -> Result<String, LoadError> {
    let text = read_capped(path, MAX_DUMP_BYTES)?;
    Ok(match parse::unframe(&text) {
        std::borrow::Cow::Owned(s) => s,
        std::borrow::Cow::Borrowed(_) => text,
    })
}

/// [`read_text`] with a given limit.
pub fn read_capped(path: &Path, limit: u64) -> Result<String, LoadError> {
    let name = path.display().to_string();
    let io = |source| LoadError::Io {
        path: name.clone(),
        source,
    };
    let too_large = || LoadError::TooLarge {
        path: name.clone(),
        limit,
    };
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        let stdin = std::io::stdin();
        stdin
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        // Refuse a big regular file before reading it; the `take` below also
        // bounds pipes and devices, whose length metadata says nothing.
        let len = file.metadata().map_err(io)?.len();
        if len > limit {
            return Err(too_large());
        }
        bytes.reserve_exact(usize::try_from(len).unwrap_or(0) + 1);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    }
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(decode(bytes))
}

/// Text from a file's bytes: UTF-8 (a leading byte-order mark dropped), or
/// UTF-16 when it starts with a UTF-16 byte-order mark (a dump saved by a
/// Windows editor or PowerShell redirect). Invalid sequences become U+FFFD.
fn decode(bytes: Vec<u8>) -> String {
    let utf16 = |b: &[u8], from: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = b
            .chunks(2)
            .map(|c| from([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes.as_slice() {
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Notes for user chains that no built-in chain leads to: their rules never run.
/// `masks` are the tables' hook masks as the parser computed them.
fn unreached_notes(ruleset: &Ruleset, masks: &[Vec<u8>]) -> Vec<String> {
    const SHOWN: usize = 5;
    let note = |(table, masks): (&crate::model::ruleset::Table, &Vec<u8>)| {
        let chains = table.unreached_chains_in(masks);
        if chains.is_empty() {
            return None;
        }
        let mut names: Vec<String> = chains
            .iter()
            .take(SHOWN)
            .map(|c| format!("{} (line {})", c.name, c.line))
            .collect();
        if chains.len() > SHOWN {
            names.push(format!("and {} more", chains.len() - SHOWN));
        }
        Some(format!(
            "{}: {} never reached from a built-in chain, so their rules never run: {}",
            table.name,
            if chains.len() == 1 {
                "1 user chain is".to_string()
            } else {
                format!("{} user chains are", chains.len())
            },
            names.join(", ")
        ))
    };
    ruleset.tables.iter().zip(masks).filter_map(note).collect()
}
