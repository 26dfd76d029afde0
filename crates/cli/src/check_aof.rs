//! `shoal check-aof [--fix] FILE`: checks an append-only file (or every file
//! a manifest names) and, with `--fix`, truncates a damaged one after its
//! last whole command — like `redis-check-aof`.

use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Truncate a damaged file after its last whole command (or transaction).
    #[arg(long)]
    fix: bool,
    /// An AOF file, or the `.manifest` of an AOF directory.
    file: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let reports = shoal_server::check_aof(&args.file, args.fix)?;
    let mut damaged = false;
    for r in &reports {
        println!(
            "{}: {} bytes, {} commands, valid up to offset {}",
            r.file.display(),
            r.size,
            r.commands,
            r.valid_up_to
        );
        match (&r.problem, r.fixed) {
            (None, _) => println!("  AOF is valid"),
            (Some(p), true) => println!(
                "  {p}\n  Successfully truncated AOF to offset {} ({} bytes removed)",
                r.valid_up_to,
                r.size - r.valid_up_to
            ),
            (Some(p), false) => {
                damaged = true;
                println!(
                    "  {p}\n  AOF is not valid. Use the --fix option to truncate it to offset {} ({} bytes would be removed)",
                    r.valid_up_to,
                    r.size - r.valid_up_to
                );
            }
        }
    }
    if damaged {
        std::process::exit(1);
    }
    Ok(())
}
