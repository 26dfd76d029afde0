//! `shoal check-rdb FILE`: reads a whole RDB file (Redis 7.0's format,
//! version 10 and older), verifies its structure and checksum, and
//! summarizes it — like `redis-check-rdb`.

use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The RDB file (e.g. dump.rdb).
    file: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    match shoal_server::check_rdb(&args.file) {
        Ok(report) => {
            println!("{}: RDB looks OK", args.file.display());
            println!(
                "  {} keys ({} with an expiry) in {} database(s)",
                report.keys,
                report.expires,
                report.databases.len()
            );
            for (kind, n) in &report.by_type {
                println!("  {kind}: {n}");
            }
            Ok(())
        }
        Err(e) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("{e:#}");
            std::process::exit(1);
        }
    }
}
