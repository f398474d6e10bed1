//! `nftrace collect`, `nftrace completions` and `nftrace man`.

use anyhow::{Context, Result};

use super::args::CollectArgs;

/// `nftrace collect --out DIR`: the bundle, then a summary of what was written.
pub(super) fn collect(a: &CollectArgs) -> Result<(String, u8)> {
    let c = crate::collect::collect(&a.out)
        .with_context(|| format!("writing the bundle into {}", a.out.display()))?;
    let mut text = format!("wrote {}: {}\n", a.out.display(), c.written.join(" "));
    if !c.missing.is_empty() {
        text.push_str(&format!(
            "not installed (noted in manifest.txt): {}\n",
            c.missing.join(" ")
        ));
    }
    for f in &c.failed {
        text.push_str(&format!("failed (noted in manifest.txt): {f}\n"));
    }
    Ok((text, 0))
}

/// A completion script for `shell`, generated from the clap definitions.
pub(super) fn completions(shell: clap_complete::Shell) -> String {
    let mut cmd = <super::args::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "nftrace", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page (roff), generated from the clap definitions.
pub(super) fn man() -> Result<String> {
    let cmd = <super::args::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
