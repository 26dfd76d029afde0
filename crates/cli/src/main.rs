//! `shoal`: one binary, one subcommand per part of the system.
//!
//! `main` only parses arguments and hands off to the subcommand's module;
//! each module builds its state and calls into its library crate.

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod bench;
mod check_aof;
mod check_rdb;
mod ring;
mod server;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "Shoal: a Redis-compatible store and the backbone around it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Redis-compatible server (`shoal server --port 6379`).
    Server(server::Args),
    /// Sharding and consistent-hashing analysis (`shoal ring locate|analyze|compare`).
    Ring(ring::Args),
    /// Load-test a RESP server (`shoal bench --host 127.0.0.1 --port 6379`).
    Bench(bench::Args),
    /// Check (and with --fix, repair) an append-only file.
    CheckAof(check_aof::Args),
    /// Check an RDB snapshot file and summarize it.
    CheckRdb(check_rdb::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => server::run(args),
        Command::Ring(args) => ring::run(args),
        Command::Bench(args) => bench::run(args),
        Command::CheckAof(args) => check_aof::run(args),
        Command::CheckRdb(args) => check_rdb::run(args),
    }
}
