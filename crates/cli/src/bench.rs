//! `shoal bench`: owned by the bench work (issue 7); replaced there.

#[derive(clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("shoal bench is not built yet")
}
