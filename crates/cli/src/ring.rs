//! `shoal ring`: owned by the hashring work (issue 5); replaced there.

#[derive(clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("shoal ring is not built yet")
}
