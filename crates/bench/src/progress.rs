//! The live progress line: ops/s and p50/p99 of the last second.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::SecondReport;

/// A one-line status on stderr, redrawn each second. Hidden when stderr is
/// not a terminal (indicatif's rule), so logs and CI output stay clean.
pub struct ProgressLine {
    bar: ProgressBar,
}

impl ProgressLine {
    /// A line prefixed with `label` (e.g. the target).
    pub fn new(label: &str) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} {elapsed:>4} {msg}").expect("valid template"),
        );
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(500));
        ProgressLine { bar }
    }

    /// Shows the second that just ended.
    pub fn update(&self, s: &SecondReport) {
        self.bar.set_message(format!(
            "{:>10} ops/s  p50 {:>8.3} ms  p99 {:>8.3} ms  errors {}",
            s.ops, s.latency.p50_ms, s.latency.p99_ms, s.errors
        ));
    }

    /// Removes the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
