//! `nftrace collect`, `nftrace completions` and `nftrace man`.

use anyhow::Result;

use super::args::CollectArgs;

/// `nftrace collect --out DIR`.
pub(super) fn collect(_a: &CollectArgs) -> Result<(String, u8)> {
    anyhow::bail!("collect is not implemented yet")
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
