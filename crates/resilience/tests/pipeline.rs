//! Composition: retry outside breaker outside timeout, local refusals ignored
//! by the breaker, and the tower adapters. Async tests run on tokio's paused
//! clock, so timeouts and backoff take no wall time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use shoal_resilience::{
    Backoff, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, CircuitBreakerLayer,
    Classifier, Error, ManualClock, Pipeline, PipelineLayer, Retry, RetryConfig, Retryable,
    SlidingWindow, State, TimeLimiter, WaitInterval,
};
use tower_layer::Layer;
use tower_service::Service;

fn breaker(clock: &ManualClock) -> CircuitBreaker {
    CircuitBreaker::builder("pipe")
        .config(CircuitBreakerConfig {
            sliding_window: SlidingWindow::CountBased { size_calls: 4 },
            minimum_number_of_calls: 4,
            wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_secs(60)),
            ..CircuitBreakerConfig::default()
        })
        .clock(clock.clone())
        .build()
        .expect("valid")
}

fn retry(max_attempts: u32) -> Retry {
    Retry::new(RetryConfig {
        max_attempts,
        backoff: Backoff::Fixed(Duration::from_millis(10)),
        max_delay: Duration::from_secs(1),
        seed: Some(1),
    })
    .expect("valid")
}

#[tokio::test(start_paused = true)]
async fn open_breaker_stops_retries() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::new()
        .retry(retry(10))
        .circuit_breaker(breaker(&clock));
    let backend_calls = AtomicU32::new(0);
    let result: Result<(), _> = pipeline
        .call(|| {
            backend_calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("down") }
        })
        .await;
    // Four failures open the breaker; the fifth attempt is rejected with a
    // 60 s wait, longer than max_delay, so the retry gives up instead of
    // spinning against the open breaker.
    assert_eq!(backend_calls.load(Ordering::SeqCst), 4);
    assert!(matches!(result, Err(Error::NotPermitted(_))), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_recovers_from_transient_errors() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::new()
        .retry(retry(3))
        .circuit_breaker(breaker(&clock));
    let calls = AtomicU32::new(0);
    let result = pipeline
        .call(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err("flaky")
                } else {
                    Ok(n)
                }
            }
        })
        .await;
    assert_eq!(result, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_breaker_failures() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let pipeline = Pipeline::new()
        .circuit_breaker(b.clone())
        .time_limiter(TimeLimiter::new(Duration::from_millis(100)));
    for _ in 0..4 {
        let r = pipeline
            .call(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<(), ()>(())
            })
            .await;
        assert!(matches!(r, Err(Error::Timeout(_))));
    }
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_refusals_are_ignored_by_the_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let bulkhead = Bulkhead::new(BulkheadConfig {
        max_concurrent_calls: 1,
        max_wait: Duration::ZERO,
    })
    .expect("valid");
    let pipeline = Pipeline::new()
        .circuit_breaker(b.clone())
        .bulkhead(bulkhead.clone());
    let _held = bulkhead.try_acquire().expect("slot");
    for _ in 0..10 {
        let r = pipeline.call(|| async { Ok::<(), ()>(()) }).await;
        assert!(matches!(r, Err(Error::BulkheadFull(_))));
    }
    assert_eq!(b.metrics().buffered_calls, 0);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn blocking_pipeline_applies_classifier_and_retry_on() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let pipeline = Pipeline::new().retry(retry(5)).circuit_breaker(b.clone());
    let classifier = Classifier::<(), u16>::new().record_error(|status| *status >= 500);
    let calls = AtomicU32::new(0);
    // A 404 is the caller's problem: neither a breaker failure nor retried.
    let r = pipeline.call_blocking(
        &classifier,
        |status| {
            if *status >= 500 {
                Retryable::Yes
            } else {
                Retryable::No
            }
        },
        || {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(404)
        },
    );
    assert_eq!(r, Err(Error::Inner(404)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(b.metrics().failed_calls, 0);
}

/// A service that fails while `failing` is set.
#[derive(Clone)]
struct Backend {
    calls: Arc<AtomicU32>,
    failing: bool,
}

impl Service<u32> for Backend {
    type Response = u32;
    type Error = &'static str;
    type Future = std::future::Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if self.failing {
            Err("down")
        } else {
            Ok(req * 2)
        })
    }
}

async fn call<S: Service<u32>>(svc: &mut S, req: u32) -> Result<S::Response, S::Error> {
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(req).await
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_layer_fails_fast_once_open() {
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = CircuitBreakerLayer::new(breaker(&clock)).layer(Backend {
        calls: Arc::clone(&calls),
        failing: true,
    });
    for _ in 0..4 {
        assert_eq!(call(&mut svc, 1).await, Err(Error::Inner("down")));
    }
    for _ in 0..100 {
        assert!(matches!(
            call(&mut svc, 1).await,
            Err(Error::NotPermitted(_))
        ));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "no call reached the backend once open"
    );
}

#[tokio::test(start_paused = true)]
async fn pipeline_layer_retries_and_answers() {
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicU32::new(0));
    let pipeline = Pipeline::new()
        .retry(retry(3))
        .circuit_breaker(breaker(&clock));
    let mut ok = PipelineLayer::new(pipeline.clone()).layer(Backend {
        calls: Arc::clone(&calls),
        failing: false,
    });
    assert_eq!(call(&mut ok, 21).await, Ok(42));
    let mut bad = PipelineLayer::new(pipeline).layer(Backend {
        calls: Arc::clone(&calls),
        failing: true,
    });
    assert_eq!(call(&mut bad, 1).await, Err(Error::Inner("down")));
    assert_eq!(calls.load(Ordering::SeqCst), 1 + 3);
}
