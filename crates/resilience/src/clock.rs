//! The one clock every primitive reads, injected so tests can drive time by
//! hand instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A monotonic source of time in nanoseconds since an arbitrary origin.
///
/// Contract: successive calls never go backwards, and the origin is fixed for
/// the clock's lifetime. Primitives compare readings only with readings of the
/// same clock.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since this clock's origin.
    fn now_nanos(&self) -> u64;
}

/// The process's monotonic clock (`std::time::Instant`).
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now_nanos(&self) -> u64 {
        // u64 nanoseconds last 584 years, so the truncation cannot bite.
        self.origin.elapsed().as_nanos() as u64
    }
}

/// The kernel's coarse monotonic clock: a read costs a few nanoseconds
/// instead of the tens a precise read costs on virtual machines, at the price
/// of tick resolution (1–4 ms on Linux). On other systems it is
/// [`MonotonicClock`].
///
/// Why it exists: a protected call reads the clock twice (start and end, for
/// slow-call detection). On the VMs Shoal runs on a precise read costs ~39 ns,
/// which alone would be most of the breaker's 50 ns budget.
#[derive(Debug, Clone, Copy)]
pub struct CoarseClock {
    origin_nanos: u64,
}

impl CoarseClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        CoarseClock {
            origin_nanos: coarse::now_nanos(),
        }
    }

    /// The granularity of readings.
    pub fn resolution() -> Duration {
        coarse::resolution()
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for CoarseClock {
    fn now_nanos(&self) -> u64 {
        coarse::now_nanos().saturating_sub(self.origin_nanos)
    }
}

#[cfg(target_os = "linux")]
mod coarse {
    use std::time::Duration;

    fn read(
        f: unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int,
    ) -> Option<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
        let rc = unsafe { f(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    pub(super) fn now_nanos() -> u64 {
        // CLOCK_MONOTONIC_COARSE exists since Linux 2.6.32; a failure would
        // mean a broken vDSO, and a frozen reading is the safe degradation.
        read(libc::clock_gettime).map_or(0, super::duration_nanos)
    }

    pub(super) fn resolution() -> Duration {
        read(libc::clock_getres).unwrap_or(Duration::from_millis(10))
    }
}

#[cfg(not(target_os = "linux"))]
mod coarse {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// Elsewhere the coarse clock is the precise one, from a process origin.
    pub(super) fn now_nanos() -> u64 {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        super::duration_nanos(ORIGIN.get_or_init(Instant::now).elapsed())
    }

    pub(super) fn resolution() -> Duration {
        Duration::from_nanos(1)
    }
}

/// A clock that moves only when told to: deterministic tests and simulations.
///
/// Clones share the same time, so a test keeps one handle and gives another
/// to the primitive under test.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at its origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(duration_nanos(by), Ordering::SeqCst);
    }

    /// Current reading as a `Duration` since the origin.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// `Duration` to whole nanoseconds, saturating instead of wrapping for
/// durations beyond 584 years (which config may legitimately use for "never").
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
