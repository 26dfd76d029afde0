//! Retry: bounded attempts, backoff with full or decorrelated jitter, a cap
//! on each delay, and a retry budget so retries cannot multiply load during
//! an outage.
//!
//! The policy only decides ([`RetryRun::next_delay`]); sleeping is the
//! caller's (or the async helper's) business, so the core stays synchronous.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::{Clock, MonotonicClock};

/// Most attempts a policy may allow: beyond this a "retry" is an outage
/// amplifier, not a recovery strategy.
pub const MAX_ATTEMPTS_MAX: u32 = 100;

/// How the delay before retry n (n = 1 for the first retry) is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// The same delay every time (Resilience4j's default, 500 ms).
    Fixed(Duration),
    /// `initial * multiplier^(n-1)`.
    Exponential { initial: Duration, multiplier: f64 },
    /// Uniform in `[0, initial * multiplier^(n-1)]` ("full jitter").
    ExponentialFullJitter { initial: Duration, multiplier: f64 },
    /// Uniform in `[initial, 3 * previous delay]` ("decorrelated jitter").
    DecorrelatedJitter { initial: Duration },
}

/// Retry settings. `Default` follows Resilience4j: 3 attempts, 500 ms apart.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts in total, the first call included; 1 disables retrying.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// No single delay exceeds this; a retry that would have to wait longer
    /// (e.g. for an open breaker) is not made.
    pub max_delay: Duration,
    /// Seed of the jitter generator; `None` draws one per process, so that
    /// clients do not retry in lockstep.
    pub seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            backoff: Backoff::Fixed(Duration::from_millis(500)),
            max_delay: Duration::from_secs(30),
            seed: None,
        }
    }
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RetryConfigError {
    #[error("max_attempts must be in 1..={MAX_ATTEMPTS_MAX}, got {0}")]
    MaxAttempts(u32),
    #[error("backoff multiplier must be finite and >= 1, got {0}")]
    Multiplier(f64),
    #[error("retry_ratio must be in [0, 1000], got {0}")]
    Ratio(f64),
    #[error("ttl must be in 1..=60 s, got {0:?}")]
    Ttl(Duration),
}

/// What the caller says about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryable {
    /// Do not retry (e.g. a client error).
    No,
    /// Retry after the backoff delay.
    Yes,
    /// Retry, but not sooner than this (e.g. an open breaker's remaining wait).
    NotBefore(Duration),
}

/// Why a run stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    NotRetryable,
    AttemptsExhausted,
    /// The budget is spent: retrying now would add load to a struggling backend.
    BudgetExhausted,
    /// The required wait exceeds `max_delay`.
    DelayTooLong,
}

/// A retry policy, shared by all calls (cheap to clone).
#[derive(Clone)]
pub struct Retry {
    config: Arc<RetryConfig>,
    budget: Option<Arc<RetryBudget>>,
    seed: u64,
    runs: Arc<AtomicU64>,
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Retry {
    /// # Errors
    /// A setting out of range.
    pub fn new(config: RetryConfig) -> Result<Self, RetryConfigError> {
        if config.max_attempts == 0 || config.max_attempts > MAX_ATTEMPTS_MAX {
            return Err(RetryConfigError::MaxAttempts(config.max_attempts));
        }
        if let Backoff::Exponential { multiplier, .. }
        | Backoff::ExponentialFullJitter { multiplier, .. } = config.backoff
        {
            if !(multiplier.is_finite() && multiplier >= 1.0) {
                return Err(RetryConfigError::Multiplier(multiplier));
            }
        }
        let seed = config
            .seed
            .unwrap_or_else(|| RandomState::new().build_hasher().finish());
        Ok(Retry {
            config: Arc::new(config),
            budget: None,
            seed,
            runs: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Shares `budget` among every call of this policy (and any other policy
    /// given the same budget).
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Starts the retry bookkeeping of one logical call (and deposits into
    /// the budget: every call earns a fraction of a retry).
    pub fn start(&self) -> RetryRun<'_> {
        if let Some(b) = &self.budget {
            b.deposit();
        }
        // Each run gets its own stream, derived from the policy seed, so a
        // seeded policy replays exactly and runs do not share jitter.
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        RetryRun {
            retry: self,
            attempt: 1,
            previous: Duration::ZERO,
            rng: self.seed ^ splitmix(run),
        }
    }

    /// Runs `f` until it succeeds or the policy gives up, sleeping the thread
    /// between attempts. `retry_on` classifies errors.
    ///
    /// # Errors
    /// The last attempt's error.
    pub fn call_blocking<T, E>(
        &self,
        mut f: impl FnMut(u32) -> Result<T, E>,
        retry_on: impl Fn(&E) -> Retryable,
    ) -> Result<T, E> {
        let mut run = self.start();
        loop {
            match f(run.attempt()) {
                Ok(v) => return Ok(v),
                Err(e) => match run.next_delay(retry_on(&e)) {
                    Ok(delay) => std::thread::sleep(delay),
                    Err(_) => return Err(e),
                },
            }
        }
    }

    /// Async form of [`call_blocking`](Self::call_blocking), sleeping with
    /// tokio's timer (so paused-time tests work).
    ///
    /// # Errors
    /// The last attempt's error.
    pub async fn call<T, E, Fut>(
        &self,
        mut f: impl FnMut(u32) -> Fut,
        retry_on: impl Fn(&E) -> Retryable,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut run = self.start();
        loop {
            match f(run.attempt()).await {
                Ok(v) => return Ok(v),
                Err(e) => match run.next_delay(retry_on(&e)) {
                    Ok(delay) => tokio::time::sleep(delay).await,
                    Err(_) => return Err(e),
                },
            }
        }
    }
}

/// The retry state of one logical call.
pub struct RetryRun<'a> {
    retry: &'a Retry,
    attempt: u32,
    previous: Duration,
    rng: u64,
}

impl RetryRun<'_> {
    /// The attempt about to be (or just) made, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After a failed attempt: how long to wait before the next one.
    ///
    /// # Errors
    /// [`GiveUp`] says why no further attempt should be made.
    pub fn next_delay(&mut self, retryable: Retryable) -> Result<Duration, GiveUp> {
        let config = &self.retry.config;
        let floor = match retryable {
            Retryable::No => return Err(GiveUp::NotRetryable),
            Retryable::Yes => Duration::ZERO,
            Retryable::NotBefore(d) => d,
        };
        if self.attempt >= config.max_attempts {
            return Err(GiveUp::AttemptsExhausted);
        }
        let delay = self.backoff().max(floor);
        if delay > config.max_delay {
            return Err(GiveUp::DelayTooLong);
        }
        // The budget is asked last, so a withdrawal is only made for a retry
        // that will really happen.
        if let Some(b) = &self.retry.budget {
            if !b.try_withdraw() {
                return Err(GiveUp::BudgetExhausted);
            }
        }
        self.attempt += 1;
        self.previous = delay;
        Ok(delay)
    }

    fn backoff(&mut self) -> Duration {
        let n = self.attempt; // the retry about to be made is the n-th
        let cap = self.retry.config.max_delay;
        let exp = |initial: Duration, multiplier: f64| {
            let secs = initial.as_secs_f64() * multiplier.powi(n.saturating_sub(1) as i32);
            if secs.is_finite() && secs < cap.as_secs_f64() {
                Duration::from_secs_f64(secs)
            } else {
                cap
            }
        };
        match self.retry.config.backoff {
            Backoff::Fixed(d) => d,
            Backoff::Exponential {
                initial,
                multiplier,
            } => exp(initial, multiplier),
            Backoff::ExponentialFullJitter {
                initial,
                multiplier,
            } => exp(initial, multiplier).mul_f64(self.unit()),
            Backoff::DecorrelatedJitter { initial } => {
                let high = self.previous.max(initial).saturating_mul(3).min(cap);
                let span = high.saturating_sub(initial);
                (initial + span.mul_f64(self.unit())).min(cap)
            }
        }
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        (splitmix(self.rng) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Retry budget settings. `Default` matches tower's `TpsBudget` defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetConfig {
    /// How long a deposit counts (whole seconds, 1..=60).
    pub ttl: Duration,
    /// Retries always allowed per second regardless of traffic, so a quiet
    /// client can still retry. Default 10.
    pub min_retries_per_second: u32,
    /// Retries earned per request: 0.2 lets retries add at most 20 % load.
    pub retry_ratio: f64,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ttl: Duration::from_secs(10),
            min_retries_per_second: 10,
            retry_ratio: 0.2,
        }
    }
}

/// Retries as a share of requests over a sliding window (Finagle's and
/// tower's retry budget): each request deposits `retry_ratio`, each retry
/// withdraws 1, plus a floor of `min_retries_per_second`. When a backend is
/// down every request fails, so retries are capped at `retry_ratio` of the
/// traffic instead of multiplying it by `max_attempts`.
pub struct RetryBudget {
    config: RetryBudgetConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<BudgetWindow>,
}

struct BudgetWindow {
    /// (second, deposits, withdrawals) per slot, one slot per second of ttl.
    slots: Vec<(u64, u64, u64)>,
}

impl RetryBudget {
    /// # Errors
    /// A setting out of range.
    pub fn new(config: RetryBudgetConfig) -> Result<Self, RetryConfigError> {
        Self::with_clock(config, MonotonicClock::new())
    }

    /// # Errors
    /// A setting out of range.
    pub fn with_clock(
        config: RetryBudgetConfig,
        clock: impl Clock,
    ) -> Result<Self, RetryConfigError> {
        if !(config.retry_ratio >= 0.0 && config.retry_ratio <= 1000.0) {
            return Err(RetryConfigError::Ratio(config.retry_ratio));
        }
        let secs = config.ttl.as_secs();
        if !(1..=60).contains(&secs) {
            return Err(RetryConfigError::Ttl(config.ttl));
        }
        Ok(RetryBudget {
            state: Mutex::new(BudgetWindow {
                slots: vec![(u64::MAX, 0, 0); secs as usize],
            }),
            config,
            clock: Arc::new(clock),
        })
    }

    fn with_slot<R>(&self, f: impl FnOnce(&mut (u64, u64, u64), u64, u64) -> R) -> R {
        let now = self.clock.now_nanos() / 1_000_000_000;
        let mut w = self.state.lock();
        let len = w.slots.len() as u64;
        let (mut deposits, mut withdrawals) = (0, 0);
        for &(second, d, wd) in &w.slots {
            // Slots of seconds outside (now - ttl, now] no longer count.
            if second != u64::MAX && second <= now && now - second < len {
                deposits += d;
                withdrawals += wd;
            }
        }
        let slot = &mut w.slots[(now % len) as usize];
        if slot.0 != now {
            if slot.0 != u64::MAX && slot.0 <= now && now - slot.0 < len {
                // Unreachable with a monotonic clock; keep sums honest anyway.
                deposits -= slot.1;
                withdrawals -= slot.2;
            }
            *slot = (now, 0, 0);
        }
        f(slot, deposits, withdrawals)
    }

    /// Records one request.
    pub fn deposit(&self) {
        self.with_slot(|slot, _, _| slot.1 += 1);
    }

    /// Takes one retry if the budget has one.
    pub fn try_withdraw(&self) -> bool {
        let ttl_secs = self.config.ttl.as_secs() as f64;
        let floor = f64::from(self.config.min_retries_per_second) * ttl_secs;
        let ratio = self.config.retry_ratio;
        self.with_slot(|slot, deposits, withdrawals| {
            let allowed = floor + ratio * deposits as f64;
            if (withdrawals + 1) as f64 <= allowed {
                slot.2 += 1;
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn policy(backoff: Backoff, max_attempts: u32) -> Retry {
        Retry::new(RetryConfig {
            max_attempts,
            backoff,
            max_delay: Duration::from_secs(10),
            seed: Some(7),
        })
        .expect("valid")
    }

    fn delays(retry: &Retry, n: usize) -> Vec<Duration> {
        let mut run = retry.start();
        (0..n)
            .map_while(|_| run.next_delay(Retryable::Yes).ok())
            .collect()
    }

    #[test]
    fn exponential_backoff_is_capped() {
        let r = policy(
            Backoff::Exponential {
                initial: Duration::from_secs(1),
                multiplier: 3.0,
            },
            10,
        );
        let secs: Vec<u64> = delays(&r, 5).iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 3, 9, 10, 10]);
    }

    #[test]
    fn attempts_are_bounded() {
        let r = policy(Backoff::Fixed(Duration::from_millis(1)), 3);
        let mut run = r.start();
        assert!(run.next_delay(Retryable::Yes).is_ok());
        assert!(run.next_delay(Retryable::Yes).is_ok());
        assert_eq!(
            run.next_delay(Retryable::Yes),
            Err(GiveUp::AttemptsExhausted)
        );
        let mut run = r.start();
        assert_eq!(run.next_delay(Retryable::No), Err(GiveUp::NotRetryable));
    }

    #[test]
    fn jitter_stays_in_range_and_replays_with_the_seed() {
        let seed = 7;
        println!("seed={seed}");
        let full = policy(
            Backoff::ExponentialFullJitter {
                initial: Duration::from_secs(1),
                multiplier: 2.0,
            },
            50,
        );
        let d = delays(&full, 40);
        for (i, delay) in d.iter().enumerate() {
            let ceiling = Duration::from_secs(1u64 << i.min(20)).min(Duration::from_secs(10));
            assert!(*delay <= ceiling, "retry {i}: {delay:?} > {ceiling:?}");
        }
        assert_ne!(d[5], d[6], "jitter varies");
        let again = policy(
            Backoff::ExponentialFullJitter {
                initial: Duration::from_secs(1),
                multiplier: 2.0,
            },
            50,
        );
        assert_eq!(delays(&again, 40), d, "same seed, same delays");

        let dec = policy(
            Backoff::DecorrelatedJitter {
                initial: Duration::from_millis(100),
            },
            50,
        );
        let mut previous = Duration::from_millis(100);
        for delay in delays(&dec, 40) {
            assert!(delay >= Duration::from_millis(100));
            assert!(delay <= (previous * 3).min(Duration::from_secs(10)));
            previous = delay;
        }
    }

    #[test]
    fn open_breaker_wait_is_respected_or_retry_abandoned() {
        let r = policy(Backoff::Fixed(Duration::from_millis(10)), 5);
        let mut run = r.start();
        assert_eq!(
            run.next_delay(Retryable::NotBefore(Duration::from_secs(2))),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            run.next_delay(Retryable::NotBefore(Duration::from_secs(60))),
            Err(GiveUp::DelayTooLong)
        );
    }

    #[test]
    fn budget_caps_retries_at_the_ratio() {
        let clock = ManualClock::new();
        let budget = Arc::new(
            RetryBudget::with_clock(
                RetryBudgetConfig {
                    ttl: Duration::from_secs(10),
                    min_retries_per_second: 0,
                    retry_ratio: 0.1,
                },
                clock.clone(),
            )
            .expect("valid"),
        );
        let r = policy(Backoff::Fixed(Duration::ZERO), 3).with_budget(Arc::clone(&budget));
        // 1000 calls that all fail: without a budget 2000 retries, with it 100.
        let mut retries = 0;
        for _ in 0..1000 {
            let mut run = r.start();
            while run.next_delay(Retryable::Yes).is_ok() {
                retries += 1;
            }
        }
        assert_eq!(retries, 100);
        // Deposits expire with the ttl; the floor keeps a trickle possible.
        clock.advance(Duration::from_secs(10));
        assert!(!budget.try_withdraw());
    }

    #[test]
    fn budget_floor_allows_retries_without_traffic() {
        let clock = ManualClock::new();
        let budget = RetryBudget::with_clock(
            RetryBudgetConfig {
                ttl: Duration::from_secs(1),
                min_retries_per_second: 3,
                retry_ratio: 0.0,
            },
            clock.clone(),
        )
        .expect("valid");
        assert_eq!((0..5).filter(|_| budget.try_withdraw()).count(), 3);
        clock.advance(Duration::from_secs(1));
        assert_eq!((0..5).filter(|_| budget.try_withdraw()).count(), 3);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        assert!(Retry::new(RetryConfig {
            max_attempts: 0,
            ..Default::default()
        })
        .is_err());
        assert!(Retry::new(RetryConfig {
            max_attempts: 101,
            ..Default::default()
        })
        .is_err());
        assert!(RetryBudget::new(RetryBudgetConfig {
            ttl: Duration::ZERO,
            ..Default::default()
        })
        .is_err());
        assert!(RetryBudget::new(RetryBudgetConfig {
            retry_ratio: -1.0,
            ..Default::default()
        })
        .is_err());
    }
}
