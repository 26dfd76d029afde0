//! `--compare`: the same workload against two targets, alternating
//! A B A B so that drift on a shared machine (other builds, thermal
//! throttling, a noisy neighbour) hits both sides alike, then each
//! figure's median per side and the A/B ratio.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::{Config, Target};
use crate::report::Report;
use crate::{run, BenchError, SecondReport};

/// Which target a round runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Side {
    /// The primary target (`--host/--port` or `--servers`).
    A,
    /// The `--compare` target.
    B,
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// e.g. `ops_per_sec`, `p99_ms`, `GET ops_per_sec`.
    pub name: String,
    /// Whether a larger value is the better one.
    pub higher_is_better: bool,
    /// Median over A's rounds.
    pub a_median: f64,
    /// Median over B's rounds.
    pub b_median: f64,
    /// `a_median / b_median`; `None` when B's median is zero.
    pub ratio: Option<f64>,
}

/// The result of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// A's servers.
    pub a_target: String,
    /// B's servers.
    pub b_target: String,
    /// Order in which the rounds ran.
    pub order: Vec<Side>,
    /// A's reports, one per round.
    pub a: Vec<Report>,
    /// B's reports, one per round.
    pub b: Vec<Report>,
    /// Medians and ratios.
    pub figures: Vec<Figure>,
}

/// Median; the mean of the middle two for an even count, 0 when empty.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

type Getter = fn(&Report) -> f64;

const FIGURES: &[(&str, bool, Getter)] = &[
    ("ops_per_sec", true, |r| r.ops_per_sec),
    ("p50_ms", false, |r| r.latency.p50_ms),
    ("p90_ms", false, |r| r.latency.p90_ms),
    ("p99_ms", false, |r| r.latency.p99_ms),
    ("p999_ms", false, |r| r.latency.p999_ms),
    ("max_ms", false, |r| r.latency.max_ms),
    ("errors", false, |r| r.errors as f64),
];

impl Comparison {
    /// Medians and ratios of paired rounds.
    pub fn from_reports(order: Vec<Side>, a: Vec<Report>, b: Vec<Report>) -> Self {
        let figure = |name: String, higher_is_better: bool, get: &dyn Fn(&Report) -> f64| {
            let a_median = median(&mut a.iter().map(get).collect::<Vec<_>>());
            let b_median = median(&mut b.iter().map(get).collect::<Vec<_>>());
            Figure {
                name,
                higher_is_better,
                a_median,
                b_median,
                ratio: (b_median != 0.0).then(|| a_median / b_median),
            }
        };
        let mut figures: Vec<Figure> = FIGURES
            .iter()
            .map(|(name, hib, get)| figure(name.to_string(), *hib, get))
            .collect();
        // Per-command throughput, when the mix has more than one command.
        let names: Vec<String> = a
            .first()
            .map(|r| r.commands.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        if names.len() > 1 {
            for (i, name) in names.iter().enumerate() {
                let get = move |r: &Report| r.commands.get(i).map_or(0.0, |c| c.ops_per_sec);
                figures.push(figure(format!("{name} ops_per_sec"), true, &get));
            }
        }
        Comparison {
            a_target: a.first().map(|r| r.target.clone()).unwrap_or_default(),
            b_target: b.first().map(|r| r.target.clone()).unwrap_or_default(),
            order,
            a,
            b,
            figures,
        }
    }

    /// The comparison as a text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "A = {}, B = {}, {} rounds each, alternating; medians",
            self.a_target,
            self.b_target,
            self.a.len()
        );
        let _ = writeln!(
            out,
            "{:<20} {:>14} {:>14} {:>8}  better",
            "figure", "A", "B", "A/B"
        );
        for f in &self.figures {
            let ratio = f.ratio.map_or("-".to_string(), |r| format!("{r:.3}"));
            let better = if f.higher_is_better {
                "higher"
            } else {
                "lower"
            };
            let _ = writeln!(
                out,
                "{:<20} {:>14.3} {:>14.3} {:>8}  {better}",
                f.name, f.a_median, f.b_median, ratio
            );
        }
        out
    }

    /// The comparison as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison always serializes")
    }
}

/// Runs `rounds` rounds of A then B through `run_one`, which is told the
/// side and the round number.
///
/// # Errors
///
/// The first error `run_one` returns.
pub fn compare_with(
    rounds: usize,
    mut run_one: impl FnMut(Side, usize) -> Result<Report, BenchError>,
) -> Result<Comparison, BenchError> {
    let mut order = Vec::with_capacity(rounds * 2);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for side in [Side::A, Side::B] {
            let report = run_one(side, round)?;
            order.push(side);
            match side {
                Side::A => a.push(report),
                Side::B => b.push(report),
            }
        }
    }
    Ok(Comparison::from_reports(order, a, b))
}

/// Runs `config` against its own targets (A) and `b_targets` (B),
/// alternating for `rounds` rounds. Every round uses the same seed, so both
/// sides see the same key and command sequence.
///
/// # Errors
///
/// The first run that fails.
pub fn compare(
    config: &Config,
    b_targets: Vec<Target>,
    rounds: usize,
    on_second: &mut dyn FnMut(Side, usize, &SecondReport),
) -> Result<Comparison, BenchError> {
    let b_config = Config {
        targets: b_targets,
        ..config.clone()
    };
    compare_with(rounds, |side, round| {
        let c = match side {
            Side::A => config,
            Side::B => &b_config,
        };
        run(c, &mut |s| on_second(side, round, s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0]), 3.0);
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
