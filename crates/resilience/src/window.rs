//! Sliding windows over call outcomes: the last N calls (count-based) or the
//! calls of the last N seconds (time-based), each O(1) per record with the
//! aggregate kept incrementally, and no allocation after construction.

/// Aggregated outcomes of the calls in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: u64,
    pub(crate) failed: u64,
    pub(crate) slow: u64,
    pub(crate) slow_failed: u64,
}

/// One recorded call, as the window stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) failed: bool,
    pub(crate) slow: bool,
}

impl Recorded {
    // Slot encoding for the count ring: bit 0 says the slot holds a call, so a
    // zero byte is an empty slot and the ring starts out all-empty.
    const PRESENT: u8 = 1;
    const FAILED: u8 = 2;
    const SLOW: u8 = 4;

    fn encode(self) -> u8 {
        Self::PRESENT
            | if self.failed { Self::FAILED } else { 0 }
            | if self.slow { Self::SLOW } else { 0 }
    }

    fn decode(byte: u8) -> Option<Recorded> {
        (byte & Self::PRESENT != 0).then_some(Recorded {
            failed: byte & Self::FAILED != 0,
            slow: byte & Self::SLOW != 0,
        })
    }
}

impl Counts {
    pub(crate) fn add(&mut self, r: Recorded) {
        self.total += 1;
        self.failed += u64::from(r.failed);
        self.slow += u64::from(r.slow);
        self.slow_failed += u64::from(r.slow && r.failed);
    }

    fn remove(&mut self, r: Recorded) {
        self.total -= 1;
        self.failed -= u64::from(r.failed);
        self.slow -= u64::from(r.slow);
        self.slow_failed -= u64::from(r.slow && r.failed);
    }

    fn remove_all(&mut self, other: Counts) {
        self.total -= other.total;
        self.failed -= other.failed;
        self.slow -= other.slow;
        self.slow_failed -= other.slow_failed;
    }

    /// Whether `failed / total >= threshold %`, decided exactly: both sides
    /// are multiplied out in `f64`, where a count below 2^29 times an f32
    /// threshold is exact (u64 counts only matter for huge time windows,
    /// where a rounding in the last bit is immaterial). Resilience4j divides in `f32`; the two agree wherever its
    /// division is exact (every integer threshold, every boundary the tests
    /// pin), and this one needs no division on the hot path.
    pub(crate) fn failure_rate_at_least(&self, threshold_percent: f32) -> bool {
        self.failed as f64 * 100.0 >= f64::from(threshold_percent) * self.total as f64
    }

    pub(crate) fn slow_call_rate_at_least(&self, threshold_percent: f32) -> bool {
        self.slow as f64 * 100.0 >= f64::from(threshold_percent) * self.total as f64
    }

    /// Failure rate in percent, computed in `f32` as Resilience4j's
    /// `Snapshot.getFailureRate` does, for snapshots and events.
    pub(crate) fn failure_rate_percent(&self) -> f32 {
        if self.total == 0 {
            return 0.0;
        }
        self.failed as f32 * 100.0 / self.total as f32
    }

    pub(crate) fn slow_call_rate_percent(&self) -> f32 {
        if self.total == 0 {
            return 0.0;
        }
        self.slow as f32 * 100.0 / self.total as f32
    }
}

/// The last `size` calls.
#[derive(Debug)]
pub(crate) struct CountWindow {
    ring: Box<[u8]>,
    next: usize,
    counts: Counts,
}

impl CountWindow {
    pub(crate) fn new(size_calls: u32) -> Self {
        CountWindow {
            ring: vec![0; size_calls.max(1) as usize].into_boxed_slice(),
            next: 0,
            counts: Counts::default(),
        }
    }

    fn record(&mut self, r: Recorded) -> Counts {
        if let Some(evicted) = Recorded::decode(self.ring[self.next]) {
            self.counts.remove(evicted);
        }
        self.ring[self.next] = r.encode();
        self.counts.add(r);
        self.next += 1;
        if self.next == self.ring.len() {
            self.next = 0;
        }
        self.counts
    }

    fn clear(&mut self) {
        self.ring.fill(0);
        self.next = 0;
        self.counts = Counts::default();
    }
}

/// The calls of the last `size` whole seconds (the current one included),
/// one bucket per second as Resilience4j's `SlidingTimeWindowMetrics`.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Counts]>,
    latest_second: u64,
    counts: Counts,
}

impl TimeWindow {
    pub(crate) fn new(size_seconds: u32) -> Self {
        TimeWindow {
            buckets: vec![Counts::default(); size_seconds.max(1) as usize].into_boxed_slice(),
            latest_second: 0,
            counts: Counts::default(),
        }
    }

    /// Expires the buckets of seconds that left the window by `now_second`.
    /// At most `size` buckets are touched, however long the gap.
    fn advance(&mut self, now_second: u64) {
        if now_second <= self.latest_second {
            // A reading from the same second, or (never with a monotonic
            // clock) an older one: it lands in the latest bucket.
            return;
        }
        let len = self.buckets.len() as u64;
        let steps = (now_second - self.latest_second).min(len);
        for step in 1..=steps {
            let idx = ((self.latest_second + step) % len) as usize;
            let expired = std::mem::take(&mut self.buckets[idx]);
            self.counts.remove_all(expired);
        }
        self.latest_second = now_second;
    }

    fn record(&mut self, r: Recorded, now_second: u64) -> Counts {
        self.advance(now_second);
        let idx = (self.latest_second % self.buckets.len() as u64) as usize;
        self.buckets[idx].add(r);
        self.counts.add(r);
        self.counts
    }

    fn clear(&mut self) {
        self.buckets.fill(Counts::default());
        self.counts = Counts::default();
    }
}

#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn record(&mut self, r: Recorded, now_nanos: u64) -> Counts {
        match self {
            Window::Count(w) => w.record(r),
            Window::Time(w) => w.record(r, now_nanos / 1_000_000_000),
        }
    }

    /// The aggregate as of `now_nanos` (time windows expire old seconds).
    pub(crate) fn counts(&mut self, now_nanos: u64) -> Counts {
        match self {
            Window::Count(w) => w.counts,
            Window::Time(w) => {
                w.advance(now_nanos / 1_000_000_000);
                w.counts
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Window::Count(w) => w.clear(),
            Window::Time(w) => w.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Recorded = Recorded {
        failed: false,
        slow: false,
    };
    const ERR: Recorded = Recorded {
        failed: true,
        slow: false,
    };
    const SLOW_ERR: Recorded = Recorded {
        failed: true,
        slow: true,
    };

    #[test]
    fn count_window_evicts_oldest() {
        let mut w = CountWindow::new(3);
        w.record(ERR);
        w.record(OK);
        w.record(SLOW_ERR);
        assert_eq!(
            w.counts,
            Counts {
                total: 3,
                failed: 2,
                slow: 1,
                slow_failed: 1
            }
        );
        // The fourth call pushes the first (a plain failure) out.
        let c = w.record(OK);
        assert_eq!(
            c,
            Counts {
                total: 3,
                failed: 1,
                slow: 1,
                slow_failed: 1
            }
        );
    }

    #[test]
    fn time_window_expires_whole_seconds() {
        let s = 1_000_000_000;
        let mut w = Window::Time(TimeWindow::new(2));
        w.record(ERR, 0);
        w.record(OK, s);
        assert_eq!(w.counts(s).total, 2);
        // At second 2 the window is seconds 1..=2: the failure of second 0 left.
        assert_eq!(
            w.counts(2 * s),
            Counts {
                total: 1,
                ..Counts::default()
            }
        );
        // A gap longer than the window clears everything.
        assert_eq!(w.counts(100 * s), Counts::default());
    }
}
