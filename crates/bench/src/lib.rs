//! `shoal-bench`: a load generator for RESP servers (Shoal, Redis, any
//! proxy in front of them), in the spirit of memtier_benchmark and nGrinder.
//!
//! The main types:
//!
//! - [`Config`]: targets, threads × clients, pipeline, `--requests` or
//!   `--test-time` ([`Stop`]), the command mix ([`CommandSpec`]), key space
//!   ([`KeySpace`], [`KeyPattern`]), value size ([`DataSize`]), open-loop
//!   rate, ramp-up ([`RampUp`]).
//! - [`run`]: drives one run and returns a [`Report`]: per-command and
//!   total ops/s, hits, misses, errors, HDR latency percentiles, a
//!   per-second series and the latency distribution. [`Report::table`],
//!   [`Report::to_json`] and [`html::render`] present it.
//! - [`compare()`]: the same workload against two targets, alternating
//!   A B A B, with each figure's median and the A/B ratio.
//!
//! Closed loop (the default) keeps `pipeline` requests in flight per
//! connection. Open loop (`rate_per_sec`) sends on a fixed schedule and
//! measures latency from each request's intended send time, so a server
//! stall shows in the percentiles instead of silently slowing the sender.
//!
//! The crate speaks RESP itself (a request encoder and an allocation-free
//! reply scanner) instead of using `shoal-resp`: a load generator must only
//! find where replies end and check their type, and doing that in place is
//! what keeps it from being the bottleneck.
//!
//! ```no_run
//! use shoal_bench::{run, CommandSpec, Config, Stop};
//!
//! let mut config = Config::new("127.0.0.1:6379".parse()?);
//! config.commands = CommandSpec::set_get(1, 1);
//! config.stop = Stop::Requests(10_000);
//! config.pipeline = 16;
//! let report = run(&config, &mut |_second| {})?;
//! println!("{}", report.table());
//! assert_eq!(report.requests, 10_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

mod compare;
mod config;
mod engine;
pub mod html;
mod progress;
mod report;
mod resp;
mod workload;

pub use compare::{compare, compare_with, Comparison, Figure, Side};
pub use config::{
    parse_duration, Config, ConfigError, RampUp, Stop, Target, MAX_CONNECTIONS, MAX_PIPELINE,
    MAX_TEST_TIME, MIN_RATE_PER_SEC,
};
pub use progress::ProgressLine;
pub use report::{CommandReport, DistributionPoint, Latency, Report, SecondReport};
pub use resp::ProtocolError;
pub use workload::{
    parse_ratio, CommandSpec, DataSize, KeyPattern, KeySpace, DATA_PLACEHOLDER, KEY_PLACEHOLDER,
    MAX_DATA_SIZE_BYTES,
};

/// Why a run could not complete. Each message is complete on its own (the
/// underlying error is part of it, not a separate `source`), so printing
/// it once says everything.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration cannot run.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A connection could not be opened.
    #[error("cannot connect to {target}: {cause}")]
    Connect {
        /// The server.
        target: String,
        /// The socket error.
        cause: std::io::Error,
    },
    /// `AUTH` or `HELLO 3` was refused.
    #[error("{step} refused by {target}: {reply}")]
    Handshake {
        /// The server.
        target: String,
        /// The command that failed.
        step: String,
        /// What the server said.
        reply: String,
    },
    /// A socket error mid-run.
    #[error("i/o error with {target}: {cause}")]
    Io {
        /// The server.
        target: String,
        /// The socket error.
        cause: std::io::Error,
    },
    /// The server closed a connection mid-run.
    #[error("{target} closed the connection mid-run")]
    Disconnected {
        /// The server.
        target: String,
    },
    /// The server's bytes stopped making sense as RESP.
    #[error("{target}: {cause}; stopping, replies can no longer be matched to requests")]
    Protocol {
        /// The server.
        target: String,
        /// Where and why.
        cause: ProtocolError,
    },
    /// A reply exceeded the read buffer bound.
    #[error("{target} sent a reply larger than {limit_bytes} bytes")]
    ReplyTooLarge {
        /// The server.
        target: String,
        /// The bound.
        limit_bytes: usize,
    },
    /// Another thread failed; its error is reported instead.
    #[error("stopped because another thread failed")]
    Aborted,
    /// A worker thread panicked (a bug).
    #[error("a worker thread panicked")]
    Panicked,
}

/// How often the coordinator reports a finished second, and how long after
/// the second's end it waits for the threads' samples to arrive.
const PROGRESS_LAG: Duration = Duration::from_millis(200);

/// Runs one benchmark to completion. `on_second` is called about once a
/// second, from the calling thread, with the second that just ended.
///
/// # Errors
///
/// [`BenchError`] when the configuration is invalid, a connection fails or
/// closes, or a server's replies desync. Error *replies* are not errors of
/// the run: they are counted in the report.
pub fn run(
    config: &Config,
    on_second: &mut dyn FnMut(&SecondReport),
) -> Result<Report, BenchError> {
    config.validate()?;
    let mut config = config.clone();
    workload::unique_names(&mut config.commands);
    let threads = config.threads;
    let commands = config.commands.len();
    let shared = engine::Shared {
        config,
        abort: AtomicBool::new(false),
        // The workers and this coordinating thread.
        barrier: Barrier::new(threads + 1),
        start: OnceLock::new(),
    };
    let (tx, rx) = mpsc::channel();
    let (start, results, series) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let tx = tx.clone();
                let shared = &shared;
                scope.spawn(move || engine::run_thread(shared, i, tx))
            })
            .collect();
        drop(tx);
        shared.barrier.wait();
        let start = Instant::now();
        shared
            .start
            .set(start)
            .expect("only the coordinator sets start");
        shared.barrier.wait();

        let mut series = report::SeriesBuilder::default();
        let mut next_second = 1u64;
        loop {
            let tick_at = start + Duration::from_secs(next_second) + PROGRESS_LAG;
            let now = Instant::now();
            if now >= tick_at {
                let second = next_second - 1;
                let r = series.report(second).unwrap_or(SecondReport {
                    second,
                    ops: 0,
                    errors: 0,
                    ops_by_command: vec![0; commands],
                    latency: Latency::default(),
                });
                on_second(&r);
                next_second += 1;
                continue;
            }
            match rx.recv_timeout(tick_at - now) {
                Ok(sample) => series.add(sample),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(BenchError::Panicked)))
            .collect();
        (start, results, series)
    });
    let mut outcomes = Vec::with_capacity(results.len());
    let mut first_error = None;
    for r in results {
        match r {
            Ok(o) => outcomes.push(o),
            // A thread that stopped because another failed says nothing
            // new; report the one that failed.
            Err(BenchError::Aborted) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if outcomes.len() < threads {
        return Err(BenchError::Aborted);
    }
    Ok(report::build(&shared.config, start, outcomes, &series))
}
