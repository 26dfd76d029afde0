//! `shoal server`: Redis directives as flags or in a redis.conf-style file.

use anyhow::Context;

/// Every Redis directive the server knows is accepted as `--name value`
/// (`--port 6380 --appendonly no`), and `--config FILE` reads the same
/// directives from a file, one per line. Flags override the file.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Directives: `--port 6379 --bind 127.0.0.1 --dir DIR --config FILE …`
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "--DIRECTIVE VALUE")]
    directives: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let config = shoal_server::Config::from_args(&args.directives)?;
    init_logging(config.get("loglevel"), config.get("logfile"))?;
    shoal_server::set_memory_probe(shoal_server::MemoryProbe {
        allocator: "jemalloc",
        used_bytes: jemalloc_allocated_bytes,
    });
    shoal_server::run_blocking(config)
}

/// Bytes the program has allocated, as jemalloc counts them (what Redis,
/// also on jemalloc, reports as `used_memory`).
fn jemalloc_allocated_bytes() -> u64 {
    // The statistics are a snapshot refreshed by advancing the epoch.
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().map_or(0, |b| b as u64)
}

/// Logs go to stderr, or appended to `logfile`, at Redis's `loglevel`
/// (`RUST_LOG` overrides it).
fn init_logging(loglevel: &str, logfile: &str) -> anyhow::Result<()> {
    let level = match loglevel {
        "debug" => "debug",
        "verbose" | "notice" => "info",
        "warning" => "warn",
        _ => "off",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if logfile.is_empty() {
        builder.with_writer(std::io::stderr).init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
            .with_context(|| format!("opening logfile {logfile}"))?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    }
    Ok(())
}
