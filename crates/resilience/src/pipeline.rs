//! Composition of the primitives in one fixed, documented order:
//!
//! ```text
//! Retry ( CircuitBreaker ( RateLimiter ( Bulkhead ( TimeLimiter ( call ) ) ) ) )
//! ```
//!
//! Why this order:
//! - **Retry outermost**: every attempt passes through the breaker, so the
//!   breaker sees (and counts) each attempt, and a breaker that opens mid-way
//!   stops the retries: a rejection carries the breaker's remaining wait and
//!   the retry either waits that long (if within `max_delay`) or gives up. A
//!   retry inside the breaker would hide failures from it and hammer a dead
//!   backend at full retry multiplicity.
//! - **Breaker outside the time limiter**: a timeout is a failure (and, being
//!   long, a slow call) for the breaker. A breaker inside the timeout would
//!   never learn about hangs, the very failure it exists to stop.
//! - **Rate limiter and bulkhead inside the breaker**: a call the breaker
//!   rejects must not consume a rate permit or a concurrency slot. Their own
//!   refusals are *local* load shedding, not evidence about the backend, so
//!   the breaker records them as `Ignored` (Resilience4j would count them as
//!   failures and could open the breaker on a healthy backend).
//! - **Bulkhead outside the time limiter**: the slot is held for at most the
//!   timeout, so a hung backend can hold every slot for at most that long.

use std::future::Future;
use std::sync::Arc;

use metrics::Counter;

use crate::breaker::{CallNotPermitted, CircuitBreaker, Classifier, Outcome, Permit};
use crate::limit::{Bulkhead, BulkheadFull, RateLimited, RateLimiter, TimeLimiter, Timeout};
use crate::retry::{Retry, Retryable};

/// Why a call through a [`Pipeline`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error<E> {
    #[error(transparent)]
    NotPermitted(CallNotPermitted),
    #[error(transparent)]
    RateLimited(RateLimited),
    #[error(transparent)]
    BulkheadFull(BulkheadFull),
    #[error(transparent)]
    Timeout(Timeout),
    #[error("{0}")]
    Inner(E),
}

impl<E> Error<E> {
    /// How the retry layer treats this error, given `retry_on` for the
    /// call's own errors.
    fn retryable(&self, retry_on: &impl Fn(&E) -> Retryable) -> Retryable {
        match self {
            Error::Inner(e) => retry_on(e),
            // Not immediately: an open breaker says when it will listen again.
            Error::NotPermitted(c) => c.retry_after.map_or(Retryable::Yes, Retryable::NotBefore),
            Error::RateLimited(_) | Error::BulkheadFull(_) | Error::Timeout(_) => Retryable::Yes,
        }
    }
}

/// A set of primitives applied in the order documented above; any may be
/// left out. Cheap to clone (the parts are shared).
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    retry: Option<Retry>,
    breaker: Option<CircuitBreaker>,
    rate_limiter: Option<Arc<RateLimiter>>,
    bulkhead: Option<Bulkhead>,
    time_limiter: Option<TimeLimiter>,
    metrics: Arc<PipelineMetrics>,
}

/// Per-pipeline counters in the `metrics` facade. The call kinds are
/// Resilience4j's retry metric kinds.
#[derive(Debug)]
struct PipelineMetrics {
    success_without_retry: Counter,
    success_with_retry: Counter,
    failed_without_retry: Counter,
    failed_with_retry: Counter,
    rejected_by_breaker: Counter,
    rejected_by_rate_limiter: Counter,
    rejected_by_bulkhead: Counter,
    timeouts: Counter,
}

impl Default for PipelineMetrics {
    /// No-op handles: an unnamed pipeline reports nothing.
    fn default() -> Self {
        PipelineMetrics {
            success_without_retry: Counter::noop(),
            success_with_retry: Counter::noop(),
            failed_without_retry: Counter::noop(),
            failed_with_retry: Counter::noop(),
            rejected_by_breaker: Counter::noop(),
            rejected_by_rate_limiter: Counter::noop(),
            rejected_by_bulkhead: Counter::noop(),
            timeouts: Counter::noop(),
        }
    }
}

impl PipelineMetrics {
    fn new(name: &str) -> Self {
        let calls = |kind: &'static str| metrics::counter!("shoal_resilience_calls_total", "name" => name.to_owned(), "kind" => kind);
        let rejected = |by: &'static str| metrics::counter!("shoal_resilience_rejections_total", "name" => name.to_owned(), "by" => by);
        PipelineMetrics {
            success_without_retry: calls("success_without_retry"),
            success_with_retry: calls("success_with_retry"),
            failed_without_retry: calls("failed_without_retry"),
            failed_with_retry: calls("failed_with_retry"),
            rejected_by_breaker: rejected("circuit_breaker"),
            rejected_by_rate_limiter: rejected("rate_limiter"),
            rejected_by_bulkhead: rejected("bulkhead"),
            timeouts: metrics::counter!("shoal_resilience_timeouts_total", "name" => name.to_owned()),
        }
    }

    /// Counts one logical call (all its attempts) and passes its result on.
    fn finish<T, E>(&self, attempts: u32, result: Result<T, Error<E>>) -> Result<T, Error<E>> {
        let counter = match (&result, attempts > 1) {
            (Ok(_), false) => &self.success_without_retry,
            (Ok(_), true) => &self.success_with_retry,
            (Err(_), false) => &self.failed_without_retry,
            (Err(_), true) => &self.failed_with_retry,
        };
        counter.increment(1);
        result
    }

    /// Counts one failed attempt by cause.
    fn attempt_failed<E>(&self, error: &Error<E>) {
        match error {
            Error::NotPermitted(_) => self.rejected_by_breaker.increment(1),
            Error::RateLimited(_) => self.rejected_by_rate_limiter.increment(1),
            Error::BulkheadFull(_) => self.rejected_by_bulkhead.increment(1),
            Error::Timeout(_) => self.timeouts.increment(1),
            Error::Inner(_) => {}
        }
    }
}

impl Pipeline {
    /// A pipeline without metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// A pipeline that reports `shoal_resilience_calls_total{name, kind}`
    /// (`success_without_retry`, `success_with_retry`, `failed_without_retry`,
    /// `failed_with_retry`), `shoal_resilience_rejections_total{name, by}`
    /// (`circuit_breaker`, `rate_limiter`, `bulkhead`) and
    /// `shoal_resilience_timeouts_total{name}` through the `metrics` facade.
    pub fn named(name: &str) -> Self {
        Pipeline {
            metrics: Arc::new(PipelineMetrics::new(name)),
            ..Self::default()
        }
    }
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }
    pub fn rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }
    pub fn time_limiter(mut self, limiter: TimeLimiter) -> Self {
        self.time_limiter = Some(limiter);
        self
    }

    /// Runs `f` through the pipeline: every error is a breaker failure and
    /// retryable.
    ///
    /// # Errors
    /// The last attempt's error.
    pub async fn call<T, E, F, Fut>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(&Classifier::new(), |_| Retryable::Yes, f)
            .await
    }

    /// Runs `f` with `classifier` deciding breaker outcomes and `retry_on`
    /// deciding which of the call's errors are worth another attempt.
    ///
    /// # Errors
    /// The last attempt's error.
    pub async fn call_with<T, E, F, Fut>(
        &self,
        classifier: &Classifier<T, E>,
        retry_on: impl Fn(&E) -> Retryable,
        mut f: F,
    ) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(retry) = &self.retry else {
            let result = self.attempt(classifier, &mut f).await;
            return self.metrics.finish(1, result);
        };
        let mut run = retry.start();
        loop {
            match self.attempt(classifier, &mut f).await {
                Ok(v) => return self.metrics.finish(run.attempt(), Ok(v)),
                Err(e) => match run.next_delay(e.retryable(&retry_on)) {
                    Ok(delay) => tokio::time::sleep(delay).await,
                    Err(_) => return self.metrics.finish(run.attempt(), Err(e)),
                },
            }
        }
    }

    async fn attempt<T, E, F, Fut>(
        &self,
        classifier: &Classifier<T, E>,
        f: &mut F,
    ) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = match &self.breaker {
            Some(b) => Some(
                b.try_acquire()
                    .map_err(|e| self.refused(None, Error::NotPermitted(e)))?,
            ),
            None => None,
        };
        if let Some(limiter) = &self.rate_limiter {
            if let Err(e) = limiter.acquire().await {
                return Err(self.refused(permit, Error::RateLimited(e)));
            }
        }
        let _slot = match &self.bulkhead {
            Some(b) => match b.acquire().await {
                Ok(slot) => Some(slot),
                Err(e) => return Err(self.refused(permit, Error::BulkheadFull(e))),
            },
            None => None,
        };
        let result = match &self.time_limiter {
            Some(t) => match t.call(f()).await {
                Ok(r) => r.map_err(Error::Inner),
                Err(timeout) => Err(Error::Timeout(timeout)),
            },
            None => f().await.map_err(Error::Inner),
        };
        if let Err(e) = &result {
            self.metrics.attempt_failed(e);
        }
        if let Some(permit) = permit {
            permit.record(match &result {
                Ok(v) => classifier.classify_ok(v),
                Err(Error::Inner(e)) => classifier.classify_err(e),
                Err(_) => Outcome::Failure, // the timeout
            });
        }
        result
    }

    /// The synchronous form: retry, breaker, rate limiter (waiting by
    /// sleeping the thread) and bulkhead (no waiting). The time limiter does
    /// not apply: a blocking call cannot be interrupted from outside.
    ///
    /// # Errors
    /// The last attempt's error.
    pub fn call_blocking<T, E>(
        &self,
        classifier: &Classifier<T, E>,
        retry_on: impl Fn(&E) -> Retryable,
        mut f: impl FnMut() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        let mut attempt = || -> Result<T, Error<E>> {
            let permit = match &self.breaker {
                Some(b) => Some(
                    b.try_acquire()
                        .map_err(|e| self.refused(None, Error::NotPermitted(e)))?,
                ),
                None => None,
            };
            if let Some(limiter) = &self.rate_limiter {
                match limiter.reserve() {
                    Ok(wait) if !wait.is_zero() => std::thread::sleep(wait),
                    Ok(_) => {}
                    Err(e) => return Err(self.refused(permit, Error::RateLimited(e))),
                }
            }
            let _slot = match &self.bulkhead {
                Some(b) => match b.try_acquire() {
                    Ok(slot) => Some(slot),
                    Err(e) => return Err(self.refused(permit, Error::BulkheadFull(e))),
                },
                None => None,
            };
            let result = f();
            if let Some(permit) = permit {
                permit.record(classifier.classify(&result));
            }
            result.map_err(Error::Inner)
        };
        let Some(retry) = &self.retry else {
            let result = attempt();
            return self.metrics.finish(1, result);
        };
        let mut run = retry.start();
        loop {
            match attempt() {
                Ok(v) => return self.metrics.finish(run.attempt(), Ok(v)),
                Err(e) => match run.next_delay(e.retryable(&retry_on)) {
                    Ok(delay) => std::thread::sleep(delay),
                    Err(_) => return self.metrics.finish(run.attempt(), Err(e)),
                },
            }
        }
    }
}

impl Pipeline {
    /// A refusal by one of the pipeline's own primitives. Local refusals
    /// (rate limiter, bulkhead) are not evidence about the backend: the
    /// breaker permit is released as `Ignored`, which also frees a half-open
    /// probe slot.
    fn refused<E>(&self, permit: Option<Permit<'_>>, error: Error<E>) -> Error<E> {
        if let Some(p) = permit {
            p.ignore();
        }
        self.metrics.attempt_failed(&error);
        error
    }
}
