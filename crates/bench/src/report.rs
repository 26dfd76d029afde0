//! The result of a run: totals, per-command figures, the per-second series,
//! and their renderings (text table, JSON).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::Config;
use crate::engine::{CommandTotals, SecondSample, ThreadOutcome};

/// Latency figures of one histogram, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Latency {
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            mean_ms: h.mean() / 1000.0,
            p50_ms: us_to_ms(h.value_at_quantile(0.50)),
            p90_ms: us_to_ms(h.value_at_quantile(0.90)),
            p99_ms: us_to_ms(h.value_at_quantile(0.99)),
            p999_ms: us_to_ms(h.value_at_quantile(0.999)),
            max_ms: us_to_ms(h.max()),
        }
    }
}

/// One command's figures over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandReport {
    /// Command word, e.g. `SET`, `GET`, `ZADD`.
    pub name: String,
    /// The template it was built from.
    pub template: String,
    /// Replies received.
    pub requests: u64,
    /// Replies per second over the run.
    pub ops_per_sec: f64,
    /// Replies carrying a value.
    pub hits: u64,
    /// Nil replies.
    pub misses: u64,
    /// Error replies, unexpected reply types, and `--verify` mismatches.
    pub errors: u64,
    /// Of `errors`, the GET values that did not match under `--verify`.
    pub verify_failures: u64,
    /// The first error seen, for the reader.
    pub first_error: Option<String>,
    /// Latency percentiles.
    #[serde(flatten)]
    pub latency: Latency,
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecondReport {
    /// Seconds since the start.
    pub second: u64,
    /// Replies received in this second.
    pub ops: u64,
    /// Errors received in this second.
    pub errors: u64,
    /// Replies per command, in `commands` order.
    pub ops_by_command: Vec<u64>,
    /// Latency percentiles of this second's replies.
    #[serde(flatten)]
    pub latency: Latency,
}

/// A point of the latency distribution (percentile spectrum).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DistributionPoint {
    /// Percentile, 0..=100.
    pub percentile: f64,
    /// Latency at that percentile.
    pub latency_ms: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Servers, comma-separated.
    pub target: String,
    /// `closed` or `open`.
    pub mode: String,
    /// Open-loop arrival rate, requests per second.
    pub rate_per_sec: Option<f64>,
    /// Seed of every RNG.
    pub seed: u64,
    /// Threads.
    pub threads: usize,
    /// Connections in total.
    pub connections: usize,
    /// Pipeline depth.
    pub pipeline: usize,
    /// From the start to the last reply, seconds.
    pub duration_secs: f64,
    /// Replies received.
    pub requests: u64,
    /// Replies per second.
    pub ops_per_sec: f64,
    /// Hits over all commands.
    pub hits: u64,
    /// Misses over all commands.
    pub misses: u64,
    /// Errors over all commands.
    pub errors: u64,
    /// Requests whose replies never came before the drain timeout.
    pub unanswered: u64,
    /// Latency over all commands.
    #[serde(flatten)]
    pub latency: Latency,
    /// Per command.
    pub commands: Vec<CommandReport>,
    /// Per second.
    pub series: Vec<SecondReport>,
    /// Percentile spectrum of all latencies.
    pub distribution: Vec<DistributionPoint>,
}

/// Percentiles the distribution chart plots: dense in the tail, where
/// the interesting part of a latency distribution is.
const SPECTRUM_PERCENTILES: &[f64] = &[
    0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0, 96.0, 97.0,
    97.5, 98.0, 98.5, 99.0, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// Merges per-thread, per-second samples into one entry per second.
#[derive(Default)]
pub(crate) struct SeriesBuilder {
    seconds: BTreeMap<u64, SecondSample>,
}

impl SeriesBuilder {
    pub(crate) fn add(&mut self, s: SecondSample) {
        if s.ops.iter().all(|&n| n == 0) && s.errors == 0 {
            return;
        }
        match self.seconds.get_mut(&s.second) {
            Some(acc) => {
                for (a, b) in acc.ops.iter_mut().zip(&s.ops) {
                    *a += b;
                }
                acc.errors += s.errors;
                acc.latency_us
                    .add(&s.latency_us)
                    .expect("auto-resizing histograms always merge");
            }
            None => {
                self.seconds.insert(s.second, s);
            }
        }
    }

    pub(crate) fn report(&self, second: u64) -> Option<SecondReport> {
        self.seconds.get(&second).map(second_report)
    }

    fn finish(&self, commands: usize) -> Vec<SecondReport> {
        let Some(&last) = self.seconds.keys().next_back() else {
            return Vec::new();
        };
        // Seconds with no replies (a stalled server) are reported as zero,
        // so the series has no gaps for charts to paper over.
        (0..=last)
            .map(|sec| {
                self.seconds
                    .get(&sec)
                    .map(second_report)
                    .unwrap_or(SecondReport {
                        second: sec,
                        ops: 0,
                        errors: 0,
                        ops_by_command: vec![0; commands],
                        latency: Latency::default(),
                    })
            })
            .collect()
    }
}

fn second_report(s: &SecondSample) -> SecondReport {
    SecondReport {
        second: s.second,
        ops: s.ops.iter().sum(),
        errors: s.errors,
        ops_by_command: s.ops.clone(),
        latency: Latency::of(&s.latency_us),
    }
}

pub(crate) fn build(
    config: &Config,
    start: Instant,
    outcomes: Vec<ThreadOutcome>,
    series: &SeriesBuilder,
) -> Report {
    let mut totals: Vec<CommandTotals> = config
        .commands
        .iter()
        .map(|_| CommandTotals::new())
        .collect();
    let mut last_reply = start;
    let mut unanswered = 0;
    for o in &outcomes {
        for (t, o) in totals.iter_mut().zip(&o.totals) {
            t.merge(o);
        }
        if let Some(l) = o.last_reply {
            last_reply = last_reply.max(l);
        }
        unanswered += o.unanswered;
    }
    let duration = last_reply
        .saturating_duration_since(start)
        .max(Duration::from_micros(1));
    let secs = duration.as_secs_f64();
    let mut all = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    let commands: Vec<CommandReport> = config
        .commands
        .iter()
        .zip(&totals)
        .map(|(spec, t)| {
            all.add(&t.latency_us)
                .expect("auto-resizing histograms always merge");
            CommandReport {
                name: spec.name.clone(),
                template: spec.template.clone(),
                requests: t.ops,
                ops_per_sec: t.ops as f64 / secs,
                hits: t.hits,
                misses: t.misses,
                errors: t.errors,
                verify_failures: t.verify_failures,
                first_error: t.first_error.clone(),
                latency: Latency::of(&t.latency_us),
            }
        })
        .collect();
    let requests: u64 = commands.iter().map(|c| c.requests).sum();
    let distribution = if all.is_empty() {
        Vec::new()
    } else {
        SPECTRUM_PERCENTILES
            .iter()
            .map(|&p| DistributionPoint {
                percentile: p,
                latency_ms: us_to_ms(all.value_at_percentile(p)),
            })
            .collect()
    };
    Report {
        target: config
            .targets
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(","),
        mode: if config.rate_per_sec.is_some() {
            "open"
        } else {
            "closed"
        }
        .to_string(),
        rate_per_sec: config.rate_per_sec,
        seed: config.seed,
        threads: config.threads,
        connections: config.connections(),
        pipeline: config.pipeline,
        duration_secs: secs,
        requests,
        ops_per_sec: requests as f64 / secs,
        hits: commands.iter().map(|c| c.hits).sum(),
        misses: commands.iter().map(|c| c.misses).sum(),
        errors: commands.iter().map(|c| c.errors).sum(),
        unanswered,
        latency: Latency::of(&all),
        commands,
        series: series.finish(config.commands.len()),
        distribution,
    }
}

impl Report {
    /// Errors (and unanswered requests) per request sent.
    pub fn error_rate(&self) -> f64 {
        let sent = self.requests + self.unanswered;
        if sent == 0 {
            return 0.0;
        }
        (self.errors + self.unanswered) as f64 / sent as f64
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The final table, memtier_benchmark style.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} loop, {} threads, {} connections, pipeline {}, {:.2} s, seed {}{}",
            self.mode,
            self.threads,
            self.connections,
            self.pipeline,
            self.duration_secs,
            self.seed,
            self.rate_per_sec
                .map(|r| format!(", rate {r} req/s"))
                .unwrap_or_default(),
        );
        let _ = writeln!(
            out,
            "{:<10} {:>12} {:>12} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
            "Type",
            "Ops/sec",
            "Requests",
            "Hits",
            "Misses",
            "Errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        let row = |out: &mut String,
                   name: &str,
                   ops: f64,
                   req: u64,
                   hits: u64,
                   misses: u64,
                   errors: u64,
                   l: &Latency| {
            let _ = writeln!(
                out,
                "{:<10} {:>12.2} {:>12} {:>10} {:>10} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>9.3} {:>9.3}",
                name, ops, req, hits, misses, errors, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            );
        };
        for c in &self.commands {
            row(
                &mut out,
                &c.name,
                c.ops_per_sec,
                c.requests,
                c.hits,
                c.misses,
                c.errors,
                &c.latency,
            );
        }
        row(
            &mut out,
            "Totals",
            self.ops_per_sec,
            self.requests,
            self.hits,
            self.misses,
            self.errors,
            &self.latency,
        );
        for c in &self.commands {
            if let Some(e) = &c.first_error {
                let _ = writeln!(out, "first {} error: {e}", c.name);
            }
        }
        if self.unanswered > 0 {
            let _ = writeln!(out, "unanswered requests at the end: {}", self.unanswered);
        }
        out
    }
}
