//! Time limiter, rate limiter and bulkhead: the three "limit" primitives.
//!
//! The rate limiter and bulkhead decide synchronously (`try_acquire`,
//! `reserve`); their async helpers only add the waiting.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::clock::{duration_nanos, Clock, MonotonicClock};

/// The call took longer than the time limiter allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("call timed out after {0:?}")]
pub struct Timeout(pub Duration);

/// A time limit on async calls (Resilience4j's `TimeLimiter`, default 1 s).
///
/// A future that overruns is dropped, which cancels it: anything it held
/// (a breaker permit, a bulkhead slot) is released. There is no synchronous
/// form, because a blocking call cannot be interrupted from outside; bound
/// blocking calls with the IO timeouts of the call itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimiter {
    pub timeout: Duration,
}

impl Default for TimeLimiter {
    fn default() -> Self {
        TimeLimiter {
            timeout: Duration::from_secs(1),
        }
    }
}

impl TimeLimiter {
    pub fn new(timeout: Duration) -> Self {
        TimeLimiter { timeout }
    }

    /// Awaits `fut` for at most the timeout.
    ///
    /// # Errors
    /// [`Timeout`] if the future did not finish in time (it has been dropped).
    pub async fn call<T>(&self, fut: impl Future<Output = T>) -> Result<T, Timeout> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| Timeout(self.timeout))
    }
}

/// Rate limiter settings. `Default` equals Resilience4j's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimiterConfig {
    /// Permissions per refresh period. Default 50.
    pub limit_for_period: u32,
    /// Length of a period; permissions are reset to the limit at each start.
    /// Default 500 ns (Resilience4j's).
    pub limit_refresh_period: Duration,
    /// Longest a caller may wait for a permission; 0 = never wait. Default 5 s.
    pub timeout: Duration,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        RateLimiterConfig {
            limit_for_period: 50,
            limit_refresh_period: Duration::from_nanos(500),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The rate limiter has no permission within the caller's wait limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit exceeded")]
pub struct RateLimited;

/// A limit setting out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitConfigError {
    #[error("limit_for_period must be >= 1")]
    LimitForPeriod,
    #[error("limit_refresh_period must be >= 1 ns")]
    RefreshPeriod,
    #[error("max_concurrent_calls must be in 1..={max}", max = MAX_CONCURRENT_CALLS_MAX)]
    MaxConcurrentCalls,
}

/// Resilience4j's `AtomicRateLimiter` semantics: time is cut into periods;
/// each starts with `limit_for_period` permissions; a caller that finds none
/// may reserve one from a future period if the wait fits its timeout, and
/// reservations are paid back from the periods they wait for.
pub struct RateLimiter {
    config: RateLimiterConfig,
    period_nanos: u64,
    clock: Arc<dyn Clock>,
    /// (current period index, permissions; negative = reserved ahead).
    state: Mutex<(u64, i64)>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// # Errors
    /// A setting out of range.
    pub fn new(config: RateLimiterConfig) -> Result<Self, LimitConfigError> {
        Self::with_clock(config, MonotonicClock::new())
    }

    /// # Errors
    /// A setting out of range.
    pub fn with_clock(
        config: RateLimiterConfig,
        clock: impl Clock,
    ) -> Result<Self, LimitConfigError> {
        if config.limit_for_period == 0 {
            return Err(LimitConfigError::LimitForPeriod);
        }
        let period_nanos = duration_nanos(config.limit_refresh_period);
        if period_nanos == 0 {
            return Err(LimitConfigError::RefreshPeriod);
        }
        Ok(RateLimiter {
            config,
            period_nanos,
            clock: Arc::new(clock),
            state: Mutex::new((0, i64::from(config.limit_for_period))),
        })
    }

    /// Takes a permission now, or fails without waiting.
    ///
    /// # Errors
    /// [`RateLimited`] if this period's permissions are spent.
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        self.reserve_within(Duration::ZERO).map(|_| ())
    }

    /// Reserves a permission and says how long to wait before using it
    /// (zero if available now), within the configured timeout.
    ///
    /// # Errors
    /// [`RateLimited`] if no permission is reachable within the timeout;
    /// nothing is reserved then.
    pub fn reserve(&self) -> Result<Duration, RateLimited> {
        self.reserve_within(self.config.timeout)
    }

    fn reserve_within(&self, max_wait: Duration) -> Result<Duration, RateLimited> {
        let now = self.clock.now_nanos();
        let period = now / self.period_nanos;
        let limit = i64::from(self.config.limit_for_period);
        let mut state = self.state.lock();
        if period > state.0 {
            // Each elapsed period refills by `limit`, never above `limit`.
            let elapsed = i64::try_from(period - state.0).unwrap_or(i64::MAX);
            state.1 = state
                .1
                .saturating_add(elapsed.saturating_mul(limit))
                .min(limit);
            state.0 = period;
        }
        if state.1 > 0 {
            state.1 -= 1;
            return Ok(Duration::ZERO);
        }
        // Periods ahead until the running balance reaches one permission.
        let deficit = 1 - state.1;
        let periods_ahead = (deficit + limit - 1) / limit;
        let start = (period + periods_ahead as u64).saturating_mul(self.period_nanos);
        let wait = Duration::from_nanos(start - now);
        if wait > max_wait {
            return Err(RateLimited);
        }
        state.1 -= 1;
        Ok(wait)
    }

    /// Waits (with tokio's timer) for a permission, up to the timeout.
    ///
    /// # Errors
    /// [`RateLimited`] if none is reachable within the timeout.
    pub async fn acquire(&self) -> Result<(), RateLimited> {
        let wait = self.reserve()?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

/// Largest bulkhead: tokio's semaphore limit is far above this; the bound
/// exists so a typo cannot configure "unlimited".
pub const MAX_CONCURRENT_CALLS_MAX: u32 = 1 << 20;

/// Bulkhead settings. `Default` equals Resilience4j's semaphore bulkhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadConfig {
    /// Calls allowed in flight at once. Default 25.
    pub max_concurrent_calls: u32,
    /// Longest an async caller waits for a slot; 0 = fail at once. Default 0.
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent_calls: 25,
            max_wait: Duration::ZERO,
        }
    }
}

/// Every slot of the bulkhead is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead full")]
pub struct BulkheadFull;

/// Caps concurrent calls so one slow dependency cannot take every worker.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    config: BulkheadConfig,
    slots: Arc<Semaphore>,
}

/// A bulkhead slot, returned when dropped.
#[derive(Debug)]
pub struct BulkheadPermit {
    _permit: OwnedSemaphorePermit,
}

impl Bulkhead {
    /// # Errors
    /// `max_concurrent_calls` out of range.
    pub fn new(config: BulkheadConfig) -> Result<Self, LimitConfigError> {
        if config.max_concurrent_calls == 0
            || config.max_concurrent_calls > MAX_CONCURRENT_CALLS_MAX
        {
            return Err(LimitConfigError::MaxConcurrentCalls);
        }
        Ok(Bulkhead {
            config,
            slots: Arc::new(Semaphore::new(config.max_concurrent_calls as usize)),
        })
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Takes a slot now or fails.
    ///
    /// # Errors
    /// [`BulkheadFull`] when every slot is taken.
    pub fn try_acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map(|p| BulkheadPermit { _permit: p })
            .map_err(|_| BulkheadFull)
    }

    /// Waits up to `max_wait` for a slot (fair: first come, first served).
    ///
    /// # Errors
    /// [`BulkheadFull`] if none freed up in time.
    pub async fn acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        if self.config.max_wait.is_zero() {
            return self.try_acquire();
        }
        let wait = Arc::clone(&self.slots).acquire_owned();
        match tokio::time::timeout(self.config.max_wait, wait).await {
            Ok(Ok(p)) => Ok(BulkheadPermit { _permit: p }),
            // The semaphore is never closed; treat it as full if it were.
            Ok(Err(_)) | Err(_) => Err(BulkheadFull),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn limiter(limit: u32, period_ms: u64, timeout_ms: u64) -> (RateLimiter, ManualClock) {
        let clock = ManualClock::new();
        let l = RateLimiter::with_clock(
            RateLimiterConfig {
                limit_for_period: limit,
                limit_refresh_period: Duration::from_millis(period_ms),
                timeout: Duration::from_millis(timeout_ms),
            },
            clock.clone(),
        )
        .expect("valid");
        (l, clock)
    }

    #[test]
    fn rate_limiter_refreshes_each_period() {
        let (l, clock) = limiter(3, 100, 0);
        assert_eq!((0..5).filter(|_| l.try_acquire().is_ok()).count(), 3);
        clock.advance(Duration::from_millis(99));
        assert_eq!(l.try_acquire(), Err(RateLimited));
        clock.advance(Duration::from_millis(1));
        assert_eq!((0..5).filter(|_| l.try_acquire().is_ok()).count(), 3);
        // Idle periods do not bank permissions beyond the limit.
        clock.advance(Duration::from_secs(10));
        assert_eq!((0..10).filter(|_| l.try_acquire().is_ok()).count(), 3);
    }

    #[test]
    fn rate_limiter_reserves_ahead_within_the_timeout() {
        let (l, clock) = limiter(2, 100, 150);
        clock.advance(Duration::from_millis(30));
        assert_eq!(l.reserve(), Ok(Duration::ZERO));
        assert_eq!(l.reserve(), Ok(Duration::ZERO));
        // Next period starts at 100 ms: 70 ms away.
        assert_eq!(l.reserve(), Ok(Duration::from_millis(70)));
        assert_eq!(l.reserve(), Ok(Duration::from_millis(70)));
        // The period after that (170 ms away) exceeds the 150 ms timeout.
        assert_eq!(l.reserve(), Err(RateLimited));
        // Reservations are paid from the period they waited for.
        clock.advance(Duration::from_millis(70));
        assert_eq!(l.try_acquire(), Err(RateLimited));
        clock.advance(Duration::from_millis(100));
        assert_eq!(l.try_acquire(), Ok(()));
    }

    #[test]
    fn bulkhead_caps_concurrency_and_frees_on_drop() {
        let b = Bulkhead::new(BulkheadConfig {
            max_concurrent_calls: 2,
            max_wait: Duration::ZERO,
        })
        .expect("valid");
        let first = b.try_acquire().expect("slot");
        let _second = b.try_acquire().expect("slot");
        assert_eq!(b.try_acquire().err(), Some(BulkheadFull));
        drop(first);
        assert!(b.try_acquire().is_ok());
    }

    #[test]
    fn bulkhead_waits_up_to_max_wait() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("rt");
        rt.block_on(async {
            let b = Bulkhead::new(BulkheadConfig {
                max_concurrent_calls: 1,
                max_wait: Duration::from_millis(50),
            })
            .expect("valid");
            let held = b.try_acquire().expect("slot");
            assert_eq!(b.acquire().await.err(), Some(BulkheadFull));
            let waiter = {
                let b = b.clone();
                tokio::spawn(async move { b.acquire().await.is_ok() })
            };
            tokio::task::yield_now().await;
            drop(held);
            assert!(waiter.await.expect("join"));
        });
    }

    #[test]
    fn time_limiter_cancels_overrunning_calls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("rt");
        rt.block_on(async {
            let t = TimeLimiter::new(Duration::from_millis(100));
            assert_eq!(t.call(async { 7 }).await, Ok(7));
            let slow = tokio::time::sleep(Duration::from_millis(101));
            assert_eq!(t.call(slow).await, Err(Timeout(Duration::from_millis(100))));
        });
    }
}
