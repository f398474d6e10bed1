//! `nftrace check` and `nftrace diff`: loading the hosts and the probes file,
//! a progress bar on a terminal, the reports and exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::args::{CheckArgs, DiffArgs, ReportFormat};
use crate::bundle::BundlePaths;
use crate::check::{self, file::ProbeSpec, report};

/// Probe runs from which a progress bar is worth showing.
const PROGRESS_FROM: u64 = 200;

/// `nftrace check`: exit 0 when every probe passes on every host, 1 otherwise.
pub(super) fn run_check(a: &CheckArgs) -> Result<(String, u8)> {
    let specs = read_probes(&a.probes)?;
    let dirs = expand_dumps(&a.dump)?;
    let bundles = dirs
        .iter()
        .map(|d| bundle_paths(d, a.lenient))
        .collect::<Result<Vec<_>>>()?;
    super::pages::fit_to(&bundles);
    let hosts = dirs
        .iter()
        .zip(&bundles)
        .map(|(d, b)| Ok((d.display().to_string(), b.load()?)))
        .collect::<Result<Vec<_>>>()?;
    let bar = progress((specs.len() * hosts.len()) as u64);
    let reports = check::run(&hosts, &specs, &|| bar.inc(1));
    bar.finish_and_clear();
    if let Some(path) = &a.junit {
        std::fs::write(path, report::junit(&reports))
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    let text = match a.format {
        ReportFormat::Human => report::human(&reports),
        ReportFormat::Json => report::json(&reports),
    };
    let failed = report::totals(&reports).failed > 0;
    Ok((text, u8::from(failed)))
}

/// `nftrace diff`: exit 1 when some probe behaves differently.
pub(super) fn run_diff(a: &DiffArgs) -> Result<(String, u8)> {
    let (before, after) = (
        bundle_paths(&a.before, false)?,
        bundle_paths(&a.after, false)?,
    );
    super::pages::fit_to([&before, &after]);
    let (before, after) = (before.load()?, after.load()?);
    let specs = match &a.probes {
        Some(p) => read_probes(p)?,
        None => crate::diff::generate(&before, &after),
    };
    let bar = progress(specs.len() as u64);
    let changes = crate::diff::run(&before, &after, &specs, &|| bar.inc(1));
    bar.finish_and_clear();
    let text = match a.format {
        ReportFormat::Human => crate::diff::report::human(&changes, specs.len()),
        ReportFormat::Json => crate::diff::report::json(&changes, specs.len()),
    };
    Ok((text, u8::from(!changes.is_empty())))
}

fn read_probes(path: &Path) -> Result<Vec<ProbeSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read probes file {}", path.display()))?;
    Ok(check::file::parse(&path.display().to_string(), &text)?)
}

fn bundle_paths(dir: &Path, lenient: bool) -> Result<BundlePaths> {
    let paths = BundlePaths {
        lenient,
        ..BundlePaths::default()
    };
    Ok(paths.with_dir(dir)?)
}

/// `--dump` values: folders, or globs expanded in sorted order.
fn expand_dumps(values: &[String]) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for v in values {
        if !v.contains(['*', '?', '[']) {
            dirs.push(PathBuf::from(v));
            continue;
        }
        let mut found: Vec<PathBuf> = glob::glob(v)
            .with_context(|| format!("--dump {v:?} is not a valid glob"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_dir())
            .collect();
        if found.is_empty() {
            bail!("--dump {v:?} matches no folder");
        }
        found.sort();
        dirs.extend(found);
    }
    Ok(dirs)
}

/// A bar on stderr when it is a terminal and there is enough work; hidden otherwise.
fn progress(len: u64) -> ProgressBar {
    if len < PROGRESS_FROM || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} probes {eta}") {
        bar.set_style(style);
    }
    bar
}
