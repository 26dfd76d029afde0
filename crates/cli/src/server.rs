//! `shoal server`: Redis directives as flags or in a redis.conf-style file.

/// Every Redis directive the server knows is accepted as `--name value`
/// (`--port 6380 --appendonly yes`), and `--config FILE` reads the same
/// directives from a file, one per line. Flags override the file.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Directives: `--port 6379 --bind 127.0.0.1 --dir DIR --config FILE …`
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "--DIRECTIVE VALUE")]
    directives: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let config = shoal_server::Config::from_args(&args.directives)?;
    shoal_server::run_blocking(config)
}
