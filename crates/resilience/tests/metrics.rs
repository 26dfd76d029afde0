//! The breaker reports through the `metrics` facade: a recording recorder
//! captures the handles it registers, and they move as calls are made.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig, ManualClock, SlidingWindow};

/// Keeps every registered handle by `name{label=value,...}`.
#[derive(Default)]
struct Capture {
    handles: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Capture {
    fn handle(&self, key: &Key) -> Arc<AtomicU64> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        Arc::clone(self.handles.lock().expect("capture").entry(id).or_default())
    }

    fn counter(&self, id: &str) -> u64 {
        self.handles.lock().expect("capture")[id].load(Ordering::SeqCst)
    }

    fn gauge(&self, id: &str) -> f64 {
        f64::from_bits(self.counter(id))
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn calls_states_and_window_are_exported() {
    let capture = Capture::default();
    let breaker = metrics::with_local_recorder(&capture, || {
        CircuitBreaker::builder("db")
            .config(CircuitBreakerConfig {
                sliding_window: SlidingWindow::CountBased { size_calls: 2 },
                minimum_number_of_calls: 2,
                ..CircuitBreakerConfig::default()
            })
            .clock(ManualClock::new())
            .build()
            .expect("valid")
    });
    assert_eq!(
        capture.gauge("shoal_circuit_breaker_state{name=db,state=closed}"),
        1.0
    );
    breaker.try_acquire().expect("closed").success();
    assert_eq!(
        capture.gauge("shoal_circuit_breaker_buffered_calls{name=db,kind=total}"),
        1.0
    );
    breaker.try_acquire().expect("closed").failure();
    assert!(breaker.try_acquire().is_err());
    assert_eq!(
        capture.counter("shoal_circuit_breaker_calls_total{name=db,kind=successful}"),
        1
    );
    assert_eq!(
        capture.counter("shoal_circuit_breaker_calls_total{name=db,kind=failed}"),
        1
    );
    assert_eq!(
        capture.counter("shoal_circuit_breaker_calls_total{name=db,kind=not_permitted}"),
        1
    );
    assert_eq!(
        capture.gauge("shoal_circuit_breaker_state{name=db,state=open}"),
        1.0
    );
    assert_eq!(
        capture.gauge("shoal_circuit_breaker_state{name=db,state=closed}"),
        0.0
    );
    assert_eq!(
        capture.gauge("shoal_circuit_breaker_buffered_calls{name=db,kind=failed}"),
        1.0
    );
}

#[test]
fn pipeline_reports_calls_by_retry_kind_and_rejections() {
    use shoal_resilience::{Backoff, Classifier, Pipeline, Retry, RetryConfig, Retryable};
    let capture = Capture::default();
    let pipeline = metrics::with_local_recorder(&capture, || {
        let retry = Retry::new(RetryConfig {
            max_attempts: 3,
            backoff: Backoff::Fixed(std::time::Duration::ZERO),
            seed: Some(3),
            ..RetryConfig::default()
        })
        .expect("valid");
        Pipeline::named("api").retry(retry)
    });
    let always = |_: &&str| Retryable::Yes;
    let classifier = Classifier::new();
    let mut n = 0;
    let r = pipeline.call_blocking(&classifier, always, || {
        n += 1;
        if n < 2 {
            Err("flaky")
        } else {
            Ok(())
        }
    });
    assert_eq!(r, Ok(()));
    let r = pipeline.call_blocking(&classifier, always, || Err::<(), _>("down"));
    assert!(r.is_err());
    let r = pipeline.call_blocking(&classifier, always, || Ok::<(), &str>(()));
    assert!(r.is_ok());
    assert_eq!(
        capture.counter("shoal_resilience_calls_total{name=api,kind=success_with_retry}"),
        1
    );
    assert_eq!(
        capture.counter("shoal_resilience_calls_total{name=api,kind=failed_with_retry}"),
        1
    );
    assert_eq!(
        capture.counter("shoal_resilience_calls_total{name=api,kind=success_without_retry}"),
        1
    );
    assert_eq!(
        capture.counter("shoal_resilience_calls_total{name=api,kind=failed_without_retry}"),
        0
    );
}
