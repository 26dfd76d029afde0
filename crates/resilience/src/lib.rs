//! Resilience primitives for Shoal and any Rust service: a
//! [`CircuitBreaker`] with Resilience4j's semantics (and without its known
//! bugs), plus retry with backoff and a retry budget, a time limiter, a rate
//! limiter and a bulkhead.
//!
//! The core of every primitive is synchronous, spawns nothing and reads time
//! from an injected [`Clock`], so tests drive time with a [`ManualClock`]
//! instead of sleeping.
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
