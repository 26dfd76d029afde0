//! Resilience primitives for Shoal and any Rust service.
//!
//! - [`CircuitBreaker`]: Resilience4j's six states (CLOSED, OPEN, HALF_OPEN,
//!   DISABLED, FORCED_OPEN, METRICS_ONLY), count- and time-based windows,
//!   slow calls, and Resilience4j's defaults ([`CircuitBreakerConfig`]), with
//!   exact half-open probe admission under any concurrency; a probe dropped
//!   without an outcome hands its slot back. Calls go through a [`Permit`]
//!   (or [`CircuitBreaker::call`], [`CircuitBreaker::call_async`]); a
//!   [`Classifier`] maps results to [`Outcome`]s; listeners hear [`Event`]s;
//!   [`CircuitBreaker::metrics`] gives a [`MetricsSnapshot`], and the same
//!   figures go to the `metrics` facade.
//! - [`Retry`]: attempts, [`Backoff`] with full or decorrelated jitter, a
//!   per-delay cap, and a [`RetryBudget`] that keeps retries a bounded share
//!   of traffic.
//! - [`TimeLimiter`], [`RateLimiter`], [`Bulkhead`].
//! - [`Pipeline`]: all of them in one documented order,
//!   `Retry(CircuitBreaker(RateLimiter(Bulkhead(TimeLimiter(call)))))`
//!   (why: see the `pipeline` module source), as an async `call`, a blocking
//!   `call_blocking`, and the tower layers [`PipelineLayer`] and
//!   [`CircuitBreakerLayer`].
//!
//! The cores are synchronous, spawn nothing and read time from an injected
//! [`Clock`], so tests drive time with a [`ManualClock`] instead of sleeping.
//!
//! ```
//! use std::time::Duration;
//! use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig, ManualClock, SlidingWindow, State, WaitInterval};
//!
//! let clock = ManualClock::new();
//! let breaker = CircuitBreaker::builder("backend")
//!     .config(CircuitBreakerConfig {
//!         sliding_window: SlidingWindow::CountBased { size_calls: 10 },
//!         minimum_number_of_calls: 10,
//!         wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_secs(5)),
//!         permitted_number_of_calls_in_half_open_state: 2,
//!         ..CircuitBreakerConfig::default()
//!     })
//!     .clock(clock.clone())
//!     .build()
//!     .unwrap();
//!
//! // Ten failed calls: the failure rate (100 %) crosses the 50 % threshold.
//! for _ in 0..10 {
//!     let permit = breaker.try_acquire().unwrap();
//!     permit.failure();
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert!(breaker.try_acquire().is_err()); // fails fast, backend untouched
//!
//! // After the wait, two probes are let through; both succeed, so it closes.
//! clock.advance(Duration::from_secs(6));
//! let (a, b) = (breaker.try_acquire().unwrap(), breaker.try_acquire().unwrap());
//! assert!(breaker.try_acquire().is_err()); // exactly two probes
//! a.success();
//! b.success();
//! assert_eq!(breaker.state(), State::Closed);
//! ```

mod breaker;
pub mod clock;
mod layer;
mod limit;
mod pipeline;
mod retry;
mod window;

pub use breaker::{
    CallError, CallNotPermitted, CircuitBreaker, CircuitBreakerBuilder, CircuitBreakerConfig,
    Classifier, ConfigError, Event, Listener, MetricsSnapshot, Outcome, OwnedPermit, Permit,
    SlidingWindow, State, WaitInterval, SLIDING_WINDOW_SIZE_CALLS_MAX,
    SLIDING_WINDOW_SIZE_SECONDS_MAX,
};
pub use clock::{Clock, CoarseClock, ManualClock, MonotonicClock};
pub use layer::{
    CircuitBreakerFuture, CircuitBreakerLayer, CircuitBreakerService, PipelineLayer,
    PipelineService,
};
pub use limit::{
    Bulkhead, BulkheadConfig, BulkheadFull, BulkheadPermit, LimitConfigError, RateLimited,
    RateLimiter, RateLimiterConfig, TimeLimiter, Timeout, MAX_CONCURRENT_CALLS_MAX,
};
pub use pipeline::{Error, Pipeline};
pub use retry::{
    Backoff, GiveUp, Retry, RetryBudget, RetryBudgetConfig, RetryConfig, RetryConfigError,
    RetryRun, Retryable, MAX_ATTEMPTS_MAX,
};
