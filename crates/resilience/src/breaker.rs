//! The circuit breaker: Resilience4j's state machine with an exact half-open
//! probe count, outcomes tied to the state that admitted them, and a hot path
//! that takes one atomic load to admit and one short lock to record.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Gauge};
use parking_lot::Mutex;

use crate::clock::{duration_nanos, Clock, CoarseClock, MonotonicClock};
use crate::window::{CountWindow, Counts, Recorded, TimeWindow, Window};

/// Largest count-based window: the ring costs one byte per call, so this caps
/// a breaker's window at 1 MiB, far beyond any useful statistical horizon.
pub const SLIDING_WINDOW_SIZE_CALLS_MAX: u32 = 1 << 20;
/// Largest time-based window: one hour of per-second buckets (16 bytes each).
pub const SLIDING_WINDOW_SIZE_SECONDS_MAX: u32 = 3600;

/// The six states of Resilience4j's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and are recorded; thresholds exceeded → `Open`.
    Closed,
    /// Calls are rejected until the wait elapses → `HalfOpen`.
    Open,
    /// A limited number of probes pass; their outcome decides `Closed` or `Open`.
    HalfOpen,
    /// Calls pass and nothing is recorded; left only by an explicit transition.
    Disabled,
    /// Calls are rejected; left only by an explicit transition.
    ForcedOpen,
    /// Calls pass and are recorded, thresholds only raise events; left only by
    /// an explicit transition.
    MetricsOnly,
}

impl State {
    const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Disabled,
        State::ForcedOpen,
        State::MetricsOnly,
    ];

    fn tag(self) -> u64 {
        self as u64
    }

    fn from_tag(tag: u64) -> State {
        State::ALL[(tag & TAG_MASK) as usize]
    }

    /// Resilience4j's name for the state, used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced_open",
            State::MetricsOnly => "metrics_only",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// The state word packs the generation above 3 tag bits; the generation changes
// on every transition so a permit can tell whether "its" state still holds.
const TAG_BITS: u32 = 3;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// How the breaker aggregates outcomes while `Closed` or `MetricsOnly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `size_calls` calls.
    CountBased { size_calls: u32 },
    /// The calls of the last `size_seconds` seconds.
    TimeBased { size_seconds: u32 },
}

/// How long the breaker stays `Open` before probing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitInterval {
    /// The same wait after every opening.
    Fixed(Duration),
    /// `initial * multiplier^(n-1)` after the n-th consecutive opening (an
    /// opening from `HalfOpen` counts on; closing resets n), capped at `max`.
    Exponential {
        initial: Duration,
        multiplier: f64,
        max: Duration,
    },
}

impl WaitInterval {
    fn for_attempt(&self, attempt: u32) -> Duration {
        match *self {
            WaitInterval::Fixed(d) => d,
            WaitInterval::Exponential {
                initial,
                multiplier,
                max,
            } => {
                let exp = attempt.saturating_sub(1).min(i32::MAX as u32) as i32;
                let secs = initial.as_secs_f64() * multiplier.powi(exp);
                if !secs.is_finite() || secs >= max.as_secs_f64() {
                    max
                } else {
                    Duration::from_secs_f64(secs)
                }
            }
        }
    }
}

/// Breaker settings. `Default` equals Resilience4j's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerConfig {
    /// Open when the failure rate is at or above this, in percent (0, 100]. Default 50.
    pub failure_rate_threshold_percent: f32,
    /// Open when the slow-call rate is at or above this, in percent (0, 100]. Default 100.
    pub slow_call_rate_threshold_percent: f32,
    /// A call taking strictly longer than this is slow. Default 60 s.
    pub slow_call_duration_threshold: Duration,
    /// Window of the `Closed` state. Default: count-based, 100 calls.
    pub sliding_window: SlidingWindow,
    /// No rate is computed before this many calls are in the window. For a
    /// count-based window the effective value is `min(this, size_calls)`, as in
    /// Resilience4j. Default 100.
    pub minimum_number_of_calls: u32,
    /// Wait in `Open` before probing. Default fixed 60 s.
    pub wait_duration_in_open_state: WaitInterval,
    /// Probes admitted in `HalfOpen`. The decision is taken after
    /// `min(this, minimum_number_of_calls)` recorded probes. Default 10.
    pub permitted_number_of_calls_in_half_open_state: u32,
    /// After this long in `HalfOpen` without a decision the breaker opens
    /// again; zero waits for the probes indefinitely. Default 0.
    pub max_wait_duration_in_half_open_state: Duration,
    /// Report `HalfOpen` as soon as the open wait elapsed, rather than on the
    /// next call. No timer is spawned: every observation (`state`, `metrics`,
    /// `try_acquire`) performs the due transition. Default false.
    pub automatic_transition_from_open_to_half_open: bool,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_rate_threshold_percent: 50.0,
            slow_call_rate_threshold_percent: 100.0,
            slow_call_duration_threshold: Duration::from_secs(60),
            sliding_window: SlidingWindow::CountBased { size_calls: 100 },
            minimum_number_of_calls: 100,
            wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_secs(60)),
            permitted_number_of_calls_in_half_open_state: 10,
            max_wait_duration_in_half_open_state: Duration::ZERO,
            automatic_transition_from_open_to_half_open: false,
        }
    }
}

/// A setting outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be in (0, 100], got {value}")]
    Percent { name: &'static str, value: f32 },
    #[error("{name} must be in 1..={max}, got {value}")]
    Range {
        name: &'static str,
        value: u64,
        max: u64,
    },
    #[error("exponential wait needs a finite multiplier >= 1 and initial <= max")]
    WaitInterval,
}

impl CircuitBreakerConfig {
    /// Checks every setting's range.
    ///
    /// # Errors
    /// The first setting out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            (
                "failure_rate_threshold_percent",
                self.failure_rate_threshold_percent,
            ),
            (
                "slow_call_rate_threshold_percent",
                self.slow_call_rate_threshold_percent,
            ),
        ] {
            if !(value > 0.0 && value <= 100.0) {
                return Err(ConfigError::Percent { name, value });
            }
        }
        let range = |name, value: u32, max: u32| {
            if value == 0 || value > max {
                Err(ConfigError::Range {
                    name,
                    value: value.into(),
                    max: max.into(),
                })
            } else {
                Ok(())
            }
        };
        match self.sliding_window {
            SlidingWindow::CountBased { size_calls } => range(
                "sliding_window.size_calls",
                size_calls,
                SLIDING_WINDOW_SIZE_CALLS_MAX,
            )?,
            SlidingWindow::TimeBased { size_seconds } => range(
                "sliding_window.size_seconds",
                size_seconds,
                SLIDING_WINDOW_SIZE_SECONDS_MAX,
            )?,
        }
        range(
            "minimum_number_of_calls",
            self.minimum_number_of_calls,
            u32::MAX,
        )?;
        range(
            "permitted_number_of_calls_in_half_open_state",
            self.permitted_number_of_calls_in_half_open_state,
            u32::MAX,
        )?;
        if let WaitInterval::Exponential {
            initial,
            multiplier,
            max,
        } = self.wait_duration_in_open_state
        {
            if !(multiplier.is_finite() && multiplier >= 1.0) || initial > max {
                return Err(ConfigError::WaitInterval);
            }
        }
        Ok(())
    }

    fn closed_minimum_calls(&self) -> u32 {
        match self.sliding_window {
            SlidingWindow::CountBased { size_calls } => {
                self.minimum_number_of_calls.min(size_calls)
            }
            SlidingWindow::TimeBased { .. } => self.minimum_number_of_calls,
        }
    }

    fn half_open_minimum_calls(&self) -> u32 {
        self.minimum_number_of_calls
            .min(self.permitted_number_of_calls_in_half_open_state)
    }

    fn new_window(&self) -> Window {
        match self.sliding_window {
            SlidingWindow::CountBased { size_calls } => Window::Count(CountWindow::new(size_calls)),
            SlidingWindow::TimeBased { size_seconds } => {
                Window::Time(TimeWindow::new(size_seconds))
            }
        }
    }
}

/// How a finished call counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counts as a success (and as slow if it took too long).
    Success,
    /// Counts as a failure (and as slow if it took too long).
    Failure,
    /// Not counted at all; a half-open probe slot is freed.
    Ignored,
}

/// What listeners hear. Per-call events are only built when a listener exists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    StateTransition {
        from: State,
        to: State,
    },
    Success {
        duration: Duration,
        slow: bool,
    },
    Error {
        duration: Duration,
        slow: bool,
    },
    IgnoredError {
        duration: Duration,
    },
    /// A call was rejected.
    NotPermitted {
        state: State,
    },
    /// A half-open probe ended without an outcome (dropped or cancelled);
    /// its slot was handed back.
    ProbeAbandoned,
    /// An outcome arrived after the state that admitted it had ended; it was
    /// not counted.
    StaleOutcome,
    FailureRateExceeded {
        rate_percent: f32,
    },
    SlowCallRateExceeded {
        rate_percent: f32,
    },
    Reset,
}

/// A listener; called synchronously, outside the breaker's lock.
pub type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

/// The breaker refused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is {state}; call not permitted")]
pub struct CallNotPermitted {
    /// State that refused.
    pub state: State,
    /// When `Open`, how long until probes are admitted.
    pub retry_after: Option<Duration>,
}

/// Error of a call made through the breaker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    #[error(transparent)]
    NotPermitted(CallNotPermitted),
    #[error("{0}")]
    Inner(E),
}

/// A metrics snapshot (Resilience4j's `CircuitBreaker.Metrics`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsSnapshot {
    pub state: State,
    /// `None` below the minimum number of calls (Resilience4j reports -1).
    pub failure_rate_percent: Option<f32>,
    pub slow_call_rate_percent: Option<f32>,
    pub buffered_calls: u64,
    pub failed_calls: u64,
    pub successful_calls: u64,
    pub slow_calls: u64,
    pub slow_failed_calls: u64,
    pub slow_successful_calls: u64,
    /// Rejected calls since the breaker was built.
    pub not_permitted_calls: u64,
    /// Half-open probes admitted and not yet finished.
    pub probes_in_flight: u32,
}

/// A user predicate over a call's error or value.
type Predicate<X> = Box<dyn Fn(&X) -> bool + Send + Sync>;

/// Classifies a call's `Result` into an [`Outcome`], Resilience4j's
/// `ignoreExceptions` / `recordExceptions` / `recordResult` predicates.
///
/// An error is `Ignored` if `ignore_error` says so, else a `Failure` if
/// `record_error` says so (default: every error), else a `Success`; an `Ok`
/// is a `Failure` if `record_result` says so (default: never).
pub struct Classifier<T, E> {
    record_error: Option<Predicate<E>>,
    ignore_error: Option<Predicate<E>>,
    record_result: Option<Predicate<T>>,
}

impl<T, E> Default for Classifier<T, E> {
    fn default() -> Self {
        Classifier {
            record_error: None,
            ignore_error: None,
            record_result: None,
        }
    }
}

impl<T, E> Classifier<T, E> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record_error(mut self, f: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.record_error = Some(Box::new(f));
        self
    }

    pub fn ignore_error(mut self, f: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.ignore_error = Some(Box::new(f));
        self
    }

    pub fn record_result(mut self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.record_result = Some(Box::new(f));
        self
    }

    pub fn classify(&self, result: &Result<T, E>) -> Outcome {
        match result {
            Ok(v) => self.classify_ok(v),
            Err(e) => self.classify_err(e),
        }
    }

    pub fn classify_ok(&self, value: &T) -> Outcome {
        match &self.record_result {
            Some(f) if f(value) => Outcome::Failure,
            _ => Outcome::Success,
        }
    }

    pub fn classify_err(&self, error: &E) -> Outcome {
        if self.ignore_error.as_ref().is_some_and(|f| f(error)) {
            return Outcome::Ignored;
        }
        match &self.record_error {
            Some(f) if !f(error) => Outcome::Success,
            _ => Outcome::Failure,
        }
    }
}

fn default_outcome<T, E>(result: &Result<T, E>) -> Outcome {
    if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    }
}

/// Builds a breaker with a clock and listeners.
pub struct CircuitBreakerBuilder {
    name: String,
    config: CircuitBreakerConfig,
    clock: Option<Arc<dyn Clock>>,
    listeners: Vec<Listener>,
}

impl CircuitBreakerBuilder {
    pub fn config(mut self, config: CircuitBreakerConfig) -> Self {
        self.config = config;
        self
    }

    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    pub fn listener(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners.push(Arc::new(f));
        self
    }

    /// Builds the breaker in `Closed`. Metric handles are registered now, so
    /// install the `metrics` recorder before building breakers.
    ///
    /// # Errors
    /// A setting out of range (see [`CircuitBreakerConfig::validate`]).
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        self.config.validate()?;
        let instruments = Instruments::new(&self.name);
        instruments.set_state(State::Closed);
        let window = self.config.new_window();
        let clock = self.clock.unwrap_or_else(|| default_clock(&self.config));
        let closed_minimum_calls = u64::from(self.config.closed_minimum_calls());
        let half_open_minimum_calls = u64::from(self.config.half_open_minimum_calls());
        Ok(CircuitBreaker {
            inner: Arc::new(Inner {
                slow_nanos: duration_nanos(self.config.slow_call_duration_threshold),
                name: self.name,
                config: self.config,
                clock,
                word: AtomicU64::new(State::Closed.tag()),
                open_until_nanos: AtomicU64::new(0),
                not_permitted: AtomicU64::new(0),
                core: CacheAligned(Mutex::new(Core {
                    state: State::Closed,
                    generation: 0,
                    window,
                    probes: Counts::default(),
                    probes_in_flight: 0,
                    frozen: Counts::default(),
                    attempts: 0,
                    entered_nanos: 0,
                    open_until_nanos: 0,
                    failure_rate_exceeded: false,
                    slow_rate_exceeded: false,
                })),
                listeners: self.listeners,
                instruments,
                closed_minimum_calls,
                half_open_minimum_calls,
            }),
        })
    }
}

/// The clock a breaker gets when none is injected: the coarse clock when its
/// resolution is at most 1 % of the slow-call threshold (so classification
/// error stays under 1 %), the precise clock otherwise. With the default 60 s
/// threshold that is the coarse clock, which keeps a protected call under
/// 50 ns; a 100 ms threshold on a 4 ms-tick kernel gets the precise one.
fn default_clock(config: &CircuitBreakerConfig) -> Arc<dyn Clock> {
    if CoarseClock::resolution().saturating_mul(100) <= config.slow_call_duration_threshold {
        Arc::new(CoarseClock::new())
    } else {
        Arc::new(MonotonicClock::new())
    }
}

/// A circuit breaker; cheap to clone (clones share state).
///
/// ```
/// use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig, SlidingWindow, State};
///
/// let config = CircuitBreakerConfig {
///     sliding_window: SlidingWindow::CountBased { size_calls: 4 },
///     minimum_number_of_calls: 4,
///     ..CircuitBreakerConfig::default()
/// };
/// let breaker = CircuitBreaker::new("backend", config).unwrap();
/// for _ in 0..2 {
///     let _ = breaker.call(|| Ok::<_, &str>(()));
///     let _ = breaker.call(|| Err::<(), _>("boom"));
/// }
/// // 2 failures in 4 calls is 50 %: at the threshold, so the breaker opens.
/// assert_eq!(breaker.state(), State::Open);
/// assert!(breaker.try_acquire().is_err());
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .finish()
    }
}

struct Inner {
    name: String,
    config: CircuitBreakerConfig,
    clock: Arc<dyn Clock>,
    slow_nanos: u64,
    /// `generation << TAG_BITS | state`: read without the lock to admit calls
    /// in the states that need no bookkeeping. Written only under `core`.
    word: AtomicU64,
    /// While `Open`: the instant after which probes are admitted. Mirrors
    /// `Core::open_until_nanos` so rejections need no lock.
    open_until_nanos: AtomicU64,
    not_permitted: AtomicU64,
    /// Everything that changes on record or transition. One short lock: the
    /// critical section is O(1) (O(window seconds) at worst for a time
    /// window after a long idle gap) and never calls out to user code.
    core: CacheAligned<Mutex<Core>>,
    listeners: Vec<Listener>,
    instruments: Instruments,
    /// `CircuitBreakerConfig::closed_minimum_calls`, computed once.
    closed_minimum_calls: u64,
    half_open_minimum_calls: u64,
}

/// Keeps the lock and the counters it guards on cache lines of their own
/// (128 bytes: adjacent-line prefetch pairs lines), so that recording a call
/// on one core does not evict the read-mostly fields (the state word, the
/// config) that every acquire on another core reads.
#[repr(align(128))]
struct CacheAligned<T>(T);

impl<T> std::ops::Deref for CacheAligned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

struct Core {
    state: State,
    generation: u64,
    /// Closed / MetricsOnly aggregation.
    window: Window,
    /// HalfOpen aggregation of recorded probes.
    probes: Counts,
    probes_in_flight: u32,
    /// What `metrics()` shows while Open: the counts that tripped the breaker.
    frozen: Counts,
    /// Consecutive openings (Resilience4j's `attempts`): drives the
    /// exponential open wait; zero in Closed, Disabled and MetricsOnly.
    attempts: u32,
    entered_nanos: u64,
    open_until_nanos: u64,
    failure_rate_exceeded: bool,
    slow_rate_exceeded: bool,
}

/// Events collected under the lock and delivered after it is released, so a
/// listener may call back into the breaker without deadlocking. Fixed size:
/// one record produces at most a threshold event, a transition and the call
/// event.
struct Pending {
    events: [Option<Event>; 4],
    len: usize,
    /// False when the breaker has no listeners: nothing is collected.
    listening: bool,
}

impl Pending {
    fn new(listening: bool) -> Self {
        Pending {
            events: [None; 4],
            len: 0,
            listening,
        }
    }

    fn push(&mut self, e: Event) {
        self.push_with(|| e);
    }

    fn push_with(&mut self, e: impl FnOnce() -> Event) {
        if self.listening && self.len < self.events.len() {
            self.events[self.len] = Some(e());
            self.len += 1;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TicketKind {
    /// Admitted in Closed / MetricsOnly: the outcome goes to the window.
    Record,
    /// Admitted in HalfOpen: holds one of the probe slots.
    Probe,
    /// Admitted in Disabled: nothing to record.
    Untracked,
}

#[derive(Clone, Copy)]
struct Ticket {
    generation: u64,
    start_nanos: u64,
    kind: TicketKind,
}

impl CircuitBreaker {
    /// A breaker on the monotonic clock with no listeners.
    ///
    /// # Errors
    /// A setting out of range.
    pub fn new(name: &str, config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Self::builder(name).config(config).build()
    }

    pub fn builder(name: &str) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            name: name.to_owned(),
            config: CircuitBreakerConfig::default(),
            clock: None,
            listeners: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.inner.config
    }

    /// Asks to make one call. The permit records the call's duration from now;
    /// finish it with [`Permit::success`], [`Permit::failure`],
    /// [`Permit::record`] or [`Permit::ignore`]. Dropping it unfinished counts
    /// nothing and, for a half-open probe, hands the slot back.
    ///
    /// # Errors
    /// [`CallNotPermitted`] when Open, ForcedOpen, or HalfOpen with every
    /// probe slot taken.
    pub fn try_acquire(&self) -> Result<Permit<'_>, CallNotPermitted> {
        let ticket = self.inner.acquire()?;
        Ok(Permit {
            inner: &self.inner,
            ticket,
            done: false,
        })
    }

    /// As [`try_acquire`](Self::try_acquire), with a permit that owns a handle
    /// to the breaker (for futures and services that outlive a borrow).
    ///
    /// # Errors
    /// As `try_acquire`.
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, CallNotPermitted> {
        let ticket = self.inner.acquire()?;
        Ok(OwnedPermit {
            inner: Arc::clone(&self.inner),
            ticket,
            done: false,
        })
    }

    /// Runs `f` through the breaker; `Err` is a failure.
    ///
    /// # Errors
    /// `NotPermitted` without running `f`, or `f`'s own error.
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::NotPermitted)?;
        let result = f();
        permit.record(default_outcome(&result));
        result.map_err(CallError::Inner)
    }

    /// Runs `f` through the breaker, classifying its result with `classifier`.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn call_classified<T, E>(
        &self,
        classifier: &Classifier<T, E>,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::NotPermitted)?;
        let result = f();
        permit.record(classifier.classify(&result));
        result.map_err(CallError::Inner)
    }

    /// Awaits `fut` through the breaker. If the returned future is dropped
    /// before `fut` completes, nothing is recorded and a probe slot is freed.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_async<T, E>(
        &self,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::NotPermitted)?;
        let result = fut.await;
        permit.record(default_outcome(&result));
        result.map_err(CallError::Inner)
    }

    /// The current state (performing a due automatic Open → HalfOpen or a due
    /// HalfOpen timeout first).
    pub fn state(&self) -> State {
        self.inner.observe();
        State::from_tag(self.inner.word.load(Ordering::Acquire))
    }

    /// While `Open`, the time until probes are admitted.
    pub fn retry_after(&self) -> Option<Duration> {
        let word = self.inner.word.load(Ordering::Acquire);
        if State::from_tag(word) != State::Open {
            return None;
        }
        let until = self.inner.open_until_nanos.load(Ordering::Acquire);
        let now = self.inner.clock.now_nanos();
        Some(Duration::from_nanos(until.saturating_sub(now)))
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.observe();
        let now = self.inner.clock.now_nanos();
        let mut core = self.inner.core.lock();
        let (counts, minimum) = match core.state {
            State::Closed | State::MetricsOnly => (
                core.window.counts(now),
                self.inner.config.closed_minimum_calls(),
            ),
            State::HalfOpen => (core.probes, self.inner.config.half_open_minimum_calls()),
            State::Open => (core.frozen, 1),
            State::Disabled | State::ForcedOpen => (Counts::default(), 1),
        };
        let rated = counts.total > 0 && counts.total >= u64::from(minimum);
        MetricsSnapshot {
            state: core.state,
            failure_rate_percent: rated.then(|| counts.failure_rate_percent()),
            slow_call_rate_percent: rated.then(|| counts.slow_call_rate_percent()),
            buffered_calls: counts.total,
            failed_calls: counts.failed,
            successful_calls: counts.total - counts.failed,
            slow_calls: counts.slow,
            slow_failed_calls: counts.slow_failed,
            slow_successful_calls: counts.slow - counts.slow_failed,
            not_permitted_calls: self.inner.not_permitted.load(Ordering::Relaxed),
            probes_in_flight: core.probes_in_flight,
        }
    }

    pub fn transition_to_closed(&self) {
        self.inner.manual(State::Closed, false);
    }
    pub fn transition_to_open(&self) {
        self.inner.manual(State::Open, false);
    }
    pub fn transition_to_half_open(&self) {
        self.inner.manual(State::HalfOpen, false);
    }
    pub fn transition_to_disabled(&self) {
        self.inner.manual(State::Disabled, false);
    }
    pub fn transition_to_forced_open(&self) {
        self.inner.manual(State::ForcedOpen, false);
    }
    pub fn transition_to_metrics_only(&self) {
        self.inner.manual(State::MetricsOnly, false);
    }
    /// Back to a fresh `Closed`, forgetting all recorded calls.
    pub fn reset(&self) {
        self.inner.manual(State::Closed, true);
    }
}

impl Inner {
    fn acquire(&self) -> Result<Ticket, CallNotPermitted> {
        let word = self.word.load(Ordering::Acquire);
        let generation = word >> TAG_BITS;
        match State::from_tag(word) {
            // The common case: no lock, no write to shared memory.
            State::Closed | State::MetricsOnly => Ok(Ticket {
                generation,
                start_nanos: self.clock.now_nanos(),
                kind: TicketKind::Record,
            }),
            State::Disabled => Ok(Ticket {
                generation,
                start_nanos: 0,
                kind: TicketKind::Untracked,
            }),
            State::ForcedOpen => Err(self.reject(State::ForcedOpen, None)),
            State::Open => {
                let now = self.clock.now_nanos();
                let until = self.open_until_nanos.load(Ordering::Acquire);
                // Strictly after, as Resilience4j's `isAfter(retryAfterWaitDuration)`.
                if now <= until {
                    return Err(self.reject(State::Open, Some(Duration::from_nanos(until - now))));
                }
                self.acquire_locked(now)
            }
            State::HalfOpen => self.acquire_locked(self.clock.now_nanos()),
        }
    }

    fn acquire_locked(&self, now: u64) -> Result<Ticket, CallNotPermitted> {
        let mut pending = Pending::new(!self.listeners.is_empty());
        let result = {
            let mut core = self.core.lock();
            self.due_transitions(&mut core, now, &mut pending);
            match core.state {
                State::HalfOpen => {
                    // Probe slots are taken and returned only under the lock,
                    // so admission is exact whatever the concurrency.
                    let used = core.probes.total + u64::from(core.probes_in_flight);
                    if used < u64::from(self.config.permitted_number_of_calls_in_half_open_state) {
                        core.probes_in_flight += 1;
                        Ok(Ticket {
                            generation: core.generation,
                            start_nanos: now,
                            kind: TicketKind::Probe,
                        })
                    } else {
                        Err(CallNotPermitted {
                            state: State::HalfOpen,
                            retry_after: None,
                        })
                    }
                }
                State::Open => Err(CallNotPermitted {
                    state: State::Open,
                    retry_after: Some(Duration::from_nanos(
                        core.open_until_nanos.saturating_sub(now),
                    )),
                }),
                // The state moved on between the lock-free read and the lock;
                // admit as that state would.
                State::Closed | State::MetricsOnly => Ok(Ticket {
                    generation: core.generation,
                    start_nanos: now,
                    kind: TicketKind::Record,
                }),
                State::Disabled => Ok(Ticket {
                    generation: core.generation,
                    start_nanos: 0,
                    kind: TicketKind::Untracked,
                }),
                State::ForcedOpen => Err(CallNotPermitted {
                    state: State::ForcedOpen,
                    retry_after: None,
                }),
            }
        };
        self.emit(&pending);
        result.map_err(|e| self.reject(e.state, e.retry_after))
    }

    fn reject(&self, state: State, retry_after: Option<Duration>) -> CallNotPermitted {
        self.not_permitted.fetch_add(1, Ordering::Relaxed);
        self.instruments.not_permitted.increment(1);
        if !self.listeners.is_empty() {
            self.dispatch(&Event::NotPermitted { state });
        }
        CallNotPermitted { state, retry_after }
    }

    /// Time-driven transitions, performed lazily by whoever looks first.
    fn due_transitions(&self, core: &mut Core, now: u64, pending: &mut Pending) {
        if core.state == State::Open && now > core.open_until_nanos {
            self.transition(core, State::HalfOpen, now, pending);
        }
        let max_wait = self.config.max_wait_duration_in_half_open_state;
        if core.state == State::HalfOpen
            && !max_wait.is_zero()
            && now.saturating_sub(core.entered_nanos) >= duration_nanos(max_wait)
        {
            self.transition(core, State::Open, now, pending);
        }
    }

    /// Runs the due transitions if a read of the state should see them.
    fn observe(&self) {
        let automatic = self.config.automatic_transition_from_open_to_half_open;
        let half_open_timeout = !self.config.max_wait_duration_in_half_open_state.is_zero();
        let may_be_due = match State::from_tag(self.word.load(Ordering::Acquire)) {
            State::Open => automatic,
            State::HalfOpen => half_open_timeout,
            _ => false,
        };
        if !may_be_due {
            // Nothing a read may change: stay off the lock.
            return;
        }
        let now = self.clock.now_nanos();
        let mut pending = Pending::new(!self.listeners.is_empty());
        {
            let mut core = self.core.lock();
            // Re-checked under the lock: a non-automatic breaker that became
            // Open meanwhile leaves Open only on a call, not on a read.
            if core.state != State::Open || automatic {
                self.due_transitions(&mut core, now, &mut pending);
            }
        }
        self.emit(&pending);
    }

    fn complete(&self, ticket: &Ticket, outcome: Outcome) {
        if ticket.kind == TicketKind::Untracked {
            return;
        }
        let now = self.clock.now_nanos();
        let elapsed = now.saturating_sub(ticket.start_nanos);
        let slow = elapsed > self.slow_nanos;
        // Per-call events are built only for listeners: the common, unobserved
        // call pays nothing for them.
        let mut pending = Pending::new(!self.listeners.is_empty());
        let recorded = match outcome {
            Outcome::Success => {
                self.instruments.successful.increment(1);
                if slow {
                    self.instruments.slow_successful.increment(1);
                }
                pending.push_with(|| Event::Success {
                    duration: Duration::from_nanos(elapsed),
                    slow,
                });
                Some(Recorded {
                    failed: false,
                    slow,
                })
            }
            Outcome::Failure => {
                self.instruments.failed.increment(1);
                if slow {
                    self.instruments.slow_failed.increment(1);
                }
                pending.push_with(|| Event::Error {
                    duration: Duration::from_nanos(elapsed),
                    slow,
                });
                Some(Recorded { failed: true, slow })
            }
            Outcome::Ignored => {
                self.instruments.ignored.increment(1);
                pending.push_with(|| Event::IgnoredError {
                    duration: Duration::from_nanos(elapsed),
                });
                None
            }
        };
        {
            let mut core = self.core.lock();
            if core.generation != ticket.generation {
                // Admitted by a state that has ended (e.g. a Closed call
                // finishing after the breaker opened). Resilience4j would count
                // it against the new state; its evidence is about the old one.
                pending.push_with(|| Event::StaleOutcome);
            } else {
                match ticket.kind {
                    TicketKind::Probe => {
                        core.probes_in_flight -= 1;
                        if let Some(r) = recorded {
                            core.probes.add(r);
                            self.after_probe(&mut core, now, &mut pending);
                        }
                    }
                    TicketKind::Record => {
                        if let Some(r) = recorded {
                            let counts = core.window.record(r, now);
                            self.after_record(&mut core, counts, now, &mut pending);
                        }
                    }
                    TicketKind::Untracked => {}
                }
            }
        }
        self.emit(&pending);
    }

    fn abandon(&self, ticket: &Ticket) {
        if ticket.kind != TicketKind::Probe {
            return;
        }
        let freed = {
            let mut core = self.core.lock();
            let same = core.generation == ticket.generation;
            if same {
                core.probes_in_flight -= 1;
            }
            same
        };
        if freed && !self.listeners.is_empty() {
            self.dispatch(&Event::ProbeAbandoned);
        }
    }

    fn after_record(&self, core: &mut Core, counts: Counts, now: u64, pending: &mut Pending) {
        self.instruments.window(counts);
        if counts.total == 0 || counts.total < self.closed_minimum_calls {
            return;
        }
        let failure_over = counts.failure_rate_at_least(self.config.failure_rate_threshold_percent);
        let slow_over =
            counts.slow_call_rate_at_least(self.config.slow_call_rate_threshold_percent);
        match core.state {
            State::Closed if failure_over || slow_over => {
                if failure_over {
                    pending.push_with(|| Event::FailureRateExceeded {
                        rate_percent: counts.failure_rate_percent(),
                    });
                }
                if slow_over {
                    pending.push_with(|| Event::SlowCallRateExceeded {
                        rate_percent: counts.slow_call_rate_percent(),
                    });
                }
                core.frozen = counts;
                self.transition(core, State::Open, now, pending);
            }
            State::MetricsOnly => {
                // Announce each crossing once, not on every call above it.
                if failure_over && !core.failure_rate_exceeded {
                    pending.push_with(|| Event::FailureRateExceeded {
                        rate_percent: counts.failure_rate_percent(),
                    });
                }
                if slow_over && !core.slow_rate_exceeded {
                    pending.push_with(|| Event::SlowCallRateExceeded {
                        rate_percent: counts.slow_call_rate_percent(),
                    });
                }
                core.failure_rate_exceeded = failure_over;
                core.slow_rate_exceeded = slow_over;
            }
            _ => {}
        }
    }

    fn after_probe(&self, core: &mut Core, now: u64, pending: &mut Pending) {
        let counts = core.probes;
        self.instruments.window(counts);
        if counts.total < self.half_open_minimum_calls {
            return;
        }
        let failure_over = counts.failure_rate_at_least(self.config.failure_rate_threshold_percent);
        let slow_over =
            counts.slow_call_rate_at_least(self.config.slow_call_rate_threshold_percent);
        if failure_over || slow_over {
            core.frozen = counts;
            self.transition(core, State::Open, now, pending);
        } else {
            self.transition(core, State::Closed, now, pending);
        }
    }

    fn manual(&self, to: State, reset: bool) {
        let now = self.clock.now_nanos();
        let mut pending = Pending::new(!self.listeners.is_empty());
        {
            let mut core = self.core.lock();
            if to == State::Open {
                core.frozen = match core.state {
                    State::HalfOpen => core.probes,
                    State::Closed | State::MetricsOnly => core.window.counts(now),
                    _ => core.frozen,
                };
            }
            self.transition(&mut core, to, now, &mut pending);
            if reset {
                core.attempts = 0;
                pending.push(Event::Reset);
            }
        }
        self.emit(&pending);
    }

    /// The one place the state changes. Every entry starts a new generation,
    /// so permits of the previous state can no longer move counters.
    fn transition(&self, core: &mut Core, to: State, now: u64, pending: &mut Pending) {
        let from = core.state;
        core.attempts = match to {
            State::Open => core.attempts.saturating_add(1),
            State::HalfOpen | State::ForcedOpen => core.attempts,
            State::Closed | State::Disabled | State::MetricsOnly => 0,
        };
        match to {
            State::Closed | State::MetricsOnly => core.window.clear(),
            State::HalfOpen => core.probes = Counts::default(),
            State::Open => {
                let wait = self
                    .config
                    .wait_duration_in_open_state
                    .for_attempt(core.attempts);
                core.open_until_nanos = now.saturating_add(duration_nanos(wait));
                self.open_until_nanos
                    .store(core.open_until_nanos, Ordering::Release);
            }
            State::Disabled | State::ForcedOpen => {}
        }
        core.probes_in_flight = 0;
        core.failure_rate_exceeded = false;
        core.slow_rate_exceeded = false;
        core.entered_nanos = now;
        core.state = to;
        core.generation += 1;
        self.word
            .store(core.generation << TAG_BITS | to.tag(), Ordering::Release);
        self.instruments.set_state(to);
        pending.push(Event::StateTransition { from, to });
    }

    fn emit(&self, pending: &Pending) {
        if self.listeners.is_empty() {
            return;
        }
        for event in pending.events[..pending.len].iter().flatten() {
            self.dispatch(event);
        }
    }

    fn dispatch(&self, event: &Event) {
        for listener in &self.listeners {
            listener(event);
        }
    }
}

/// Permission for one call, borrowed from the breaker.
#[must_use = "a permit dropped without an outcome records nothing"]
pub struct Permit<'a> {
    inner: &'a Inner,
    ticket: Ticket,
    done: bool,
}

impl Permit<'_> {
    pub fn success(self) {
        self.record(Outcome::Success);
    }
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }
    pub fn ignore(self) {
        self.record(Outcome::Ignored);
    }
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.inner.complete(&self.ticket, outcome);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.inner.abandon(&self.ticket);
        }
    }
}

/// Permission for one call that owns a handle to the breaker.
#[must_use = "a permit dropped without an outcome records nothing"]
pub struct OwnedPermit {
    inner: Arc<Inner>,
    ticket: Ticket,
    done: bool,
}

impl OwnedPermit {
    pub fn success(self) {
        self.record(Outcome::Success);
    }
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }
    pub fn ignore(self) {
        self.record(Outcome::Ignored);
    }
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.inner.complete(&self.ticket, outcome);
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if !self.done {
            self.inner.abandon(&self.ticket);
        }
    }
}

/// Handles into the `metrics` facade, registered once so the hot path only
/// bumps them (no key building, no allocation).
struct Instruments {
    successful: Counter,
    failed: Counter,
    ignored: Counter,
    not_permitted: Counter,
    slow_successful: Counter,
    slow_failed: Counter,
    state: [Gauge; 6],
    /// Window contents as integers (`kind` = total / failed / slow): the
    /// rates are `failed / total` in PromQL, which keeps a float division
    /// off the hot path.
    buffered_total: Gauge,
    buffered_failed: Gauge,
    buffered_slow: Gauge,
}

impl Instruments {
    fn new(name: &str) -> Self {
        let calls = |kind: &'static str| metrics::counter!("shoal_circuit_breaker_calls_total", "name" => name.to_owned(), "kind" => kind);
        let slow = |kind: &'static str| metrics::counter!("shoal_circuit_breaker_slow_calls_total", "name" => name.to_owned(), "kind" => kind);
        let state = |s: State| metrics::gauge!("shoal_circuit_breaker_state", "name" => name.to_owned(), "state" => s.as_str());
        let buffered = |kind: &'static str| metrics::gauge!("shoal_circuit_breaker_buffered_calls", "name" => name.to_owned(), "kind" => kind);
        Instruments {
            successful: calls("successful"),
            failed: calls("failed"),
            ignored: calls("ignored"),
            not_permitted: calls("not_permitted"),
            slow_successful: slow("successful"),
            slow_failed: slow("failed"),
            state: State::ALL.map(state),
            buffered_total: buffered("total"),
            buffered_failed: buffered("failed"),
            buffered_slow: buffered("slow"),
        }
    }

    fn set_state(&self, to: State) {
        for (s, gauge) in State::ALL.iter().zip(&self.state) {
            gauge.set(if *s == to { 1.0 } else { 0.0 });
        }
    }

    fn window(&self, counts: Counts) {
        self.buffered_total.set(counts.total as f64);
        self.buffered_failed.set(counts.failed as f64);
        self.buffered_slow.set(counts.slow as f64);
    }
}
