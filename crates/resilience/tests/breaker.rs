//! Deterministic tests of every breaker transition and setting on a manual
//! clock: no sleeps, no timing assertions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_resilience::{
    CallError, CircuitBreaker, CircuitBreakerConfig, Classifier, ConfigError, Event, ManualClock,
    Outcome, SlidingWindow, State, WaitInterval,
};

const SEC: Duration = Duration::from_secs(1);

fn config(size_calls: u32, minimum: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        sliding_window: SlidingWindow::CountBased { size_calls },
        minimum_number_of_calls: minimum,
        wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_secs(10)),
        permitted_number_of_calls_in_half_open_state: 3,
        slow_call_duration_threshold: SEC,
        ..CircuitBreakerConfig::default()
    }
}

fn build(config: CircuitBreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("test")
        .config(config)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    (breaker, clock)
}

/// Plays a script of calls: `S` success, `F` failure, `s`/`f` slow success or
/// failure (the clock moves past the slow threshold during the call), `I`
/// ignored. Panics if a call is refused, since scripts describe admitted calls.
fn play(breaker: &CircuitBreaker, clock: &ManualClock, script: &str) {
    for c in script.chars() {
        let permit = breaker
            .try_acquire()
            .unwrap_or_else(|e| panic!("call {c} of {script:?} refused: {e}"));
        if c.is_ascii_lowercase() {
            clock.advance(SEC + Duration::from_nanos(1));
        }
        permit.record(match c {
            'S' | 's' => Outcome::Success,
            'F' | 'f' => Outcome::Failure,
            'I' => Outcome::Ignored,
            other => panic!("bad script char {other}"),
        });
    }
}

/// One boundary case: a fresh breaker with `config`, `script` played, then the
/// state is `expected`.
fn check(config: CircuitBreakerConfig, script: &str, expected: State) {
    let (breaker, clock) = build(config);
    play(&breaker, &clock, script);
    assert_eq!(breaker.state(), expected, "script {script:?}");
}

fn open_breaker() -> (CircuitBreaker, ManualClock) {
    let (breaker, clock) = build(config(4, 4));
    play(&breaker, &clock, "FFFF");
    assert_eq!(breaker.state(), State::Open);
    (breaker, clock)
}

#[test]
fn defaults_are_resilience4j_defaults() {
    let c = CircuitBreakerConfig::default();
    assert_eq!(c.failure_rate_threshold_percent, 50.0);
    assert_eq!(c.slow_call_rate_threshold_percent, 100.0);
    assert_eq!(c.slow_call_duration_threshold, Duration::from_secs(60));
    assert_eq!(
        c.sliding_window,
        SlidingWindow::CountBased { size_calls: 100 }
    );
    assert_eq!(c.minimum_number_of_calls, 100);
    assert_eq!(
        c.wait_duration_in_open_state,
        WaitInterval::Fixed(Duration::from_secs(60))
    );
    assert_eq!(c.permitted_number_of_calls_in_half_open_state, 10);
    assert_eq!(c.max_wait_duration_in_half_open_state, Duration::ZERO);
    assert!(!c.automatic_transition_from_open_to_half_open);
}

#[test]
fn failure_rate_threshold_boundaries() {
    // 10 calls, minimum 10, threshold 50 %.
    check(config(10, 10), "FFFFFSSSSS", State::Open); // exactly 50 %
    check(config(10, 10), "FFFFSSSSSS", State::Closed); // 40 %
    check(config(10, 10), "FFFFFFFFF", State::Closed); // 9 calls: below minimum
    check(config(10, 10), "FFFFFFFFFF", State::Open); // exactly the minimum
    let strict = CircuitBreakerConfig {
        failure_rate_threshold_percent: 60.0,
        ..config(10, 10)
    };
    check(strict.clone(), "FFFFFSSSSS", State::Closed); // 50 % < 60 %
    check(strict, "FFFFFFSSSS", State::Open);
}

#[test]
fn minimum_calls_is_capped_by_count_window() {
    // minimum 100 with a window of 5: Resilience4j uses min(100, 5).
    check(config(5, 100), "FFFF", State::Closed);
    check(config(5, 100), "FFFFF", State::Open);
}

#[test]
fn count_window_forgets_the_oldest_call() {
    // Window 4, minimum 4: "FSSS" is 25 %; a later "F" pushes the first F out.
    check(config(4, 4), "FSSSF", State::Closed);
    check(config(4, 4), "FSSSFF", State::Open); // S S F F = 50 %
}

#[test]
fn ignored_calls_do_not_count() {
    check(config(4, 4), "IIIIFFS", State::Closed);
    check(config(4, 4), "IIFFIISS", State::Open);
}

#[test]
fn slow_call_threshold_is_strictly_greater() {
    let c = CircuitBreakerConfig {
        slow_call_rate_threshold_percent: 50.0,
        ..config(2, 2)
    };
    // Exactly the threshold is not slow.
    let (breaker, clock) = build(c.clone());
    for _ in 0..2 {
        let p = breaker.try_acquire().expect("closed");
        clock.advance(SEC);
        p.success();
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.metrics().slow_calls, 0);
    // One nanosecond more is.
    check(c.clone(), "sS", State::Open);
    check(c, "SS", State::Closed);
}

#[test]
fn slow_failures_count_as_both() {
    let (breaker, clock) = build(config(4, 4));
    play(&breaker, &clock, "fSS");
    let m = breaker.metrics();
    assert_eq!(
        (
            m.buffered_calls,
            m.failed_calls,
            m.slow_calls,
            m.slow_failed_calls
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(m.failure_rate_percent, None, "below minimum");
    play(&breaker, &clock, "S");
    let m = breaker.metrics();
    assert_eq!(m.failure_rate_percent, Some(25.0));
    assert_eq!(m.slow_call_rate_percent, Some(25.0));
    assert_eq!(m.slow_successful_calls, 0);
    assert_eq!(m.successful_calls, 3);
}

#[test]
fn slow_call_rate_alone_opens() {
    let c = CircuitBreakerConfig {
        slow_call_rate_threshold_percent: 75.0,
        ..config(4, 4)
    };
    check(c.clone(), "sssS", State::Open);
    check(c, "ssSS", State::Closed);
}

#[test]
fn open_rejects_until_strictly_after_the_wait() {
    let (breaker, clock) = open_breaker();
    let err = breaker.try_acquire().err().expect("open rejects");
    assert_eq!(err.state, State::Open);
    assert_eq!(err.retry_after, Some(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(10));
    // Exactly at the deadline: still open (Resilience4j's `isAfter`).
    assert!(breaker.try_acquire().is_err());
    clock.advance(Duration::from_nanos(1));
    let probe = breaker.try_acquire().expect("first probe");
    assert_eq!(breaker.state(), State::HalfOpen);
    probe.success();
    assert_eq!(breaker.metrics().not_permitted_calls, 2);
}

#[test]
fn open_state_reports_open_until_a_call_without_automatic_transition() {
    let (breaker, clock) = open_breaker();
    clock.advance(Duration::from_secs(11));
    assert_eq!(breaker.state(), State::Open);
    assert!(breaker.try_acquire().is_ok());
    assert_eq!(breaker.state(), State::HalfOpen);
}

#[test]
fn automatic_transition_is_seen_by_state() {
    let c = CircuitBreakerConfig {
        automatic_transition_from_open_to_half_open: true,
        ..config(4, 4)
    };
    let (breaker, clock) = build(c);
    play(&breaker, &clock, "FFFF");
    clock.advance(Duration::from_secs(10));
    assert_eq!(breaker.state(), State::Open);
    clock.advance(Duration::from_nanos(1));
    assert_eq!(breaker.state(), State::HalfOpen);
}

fn half_open_breaker(c: CircuitBreakerConfig) -> (CircuitBreaker, ManualClock) {
    let (breaker, clock) = build(c);
    breaker.transition_to_open();
    clock.advance(Duration::from_secs(11));
    (breaker, clock)
}

#[test]
fn half_open_admits_exactly_the_permitted_probes() {
    let (breaker, _clock) = half_open_breaker(config(4, 4));
    let probes: Vec<_> = (0..3)
        .map(|_| breaker.try_acquire().expect("probe"))
        .collect();
    let refused = breaker.try_acquire().err().expect("fourth refused");
    assert_eq!(refused.state, State::HalfOpen);
    assert_eq!(breaker.metrics().probes_in_flight, 3);
    for p in probes {
        p.success();
    }
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn half_open_decides_on_failure_rate() {
    let (breaker, clock) = half_open_breaker(config(4, 4));
    play(&breaker, &clock, "SF"); // 2 of 3 probes recorded: no decision yet
    assert_eq!(breaker.state(), State::HalfOpen);
    play(&breaker, &clock, "F"); // 2 of 3 failed ≥ 50 %
    assert_eq!(breaker.state(), State::Open);
    // Exactly 50 % also reopens; 1 of 3 (33 %) closes.
    let (b, clock) = half_open_breaker(CircuitBreakerConfig {
        permitted_number_of_calls_in_half_open_state: 4,
        ..config(4, 4)
    });
    play(&b, &clock, "SSFF");
    assert_eq!(b.state(), State::Open);
    let (b, clock) = half_open_breaker(config(4, 4));
    play(&b, &clock, "SSF");
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_decides_after_min_of_minimum_and_permitted() {
    // minimum 2 < permitted 3: two probes decide.
    let (breaker, clock) = half_open_breaker(config(4, 2));
    play(&breaker, &clock, "SS");
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn dropped_probe_frees_its_slot_and_counts_nothing() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("drop")
        .config(config(4, 4))
        .clock(clock.clone())
        .listener(move |e| sink.lock().expect("sink").push(*e))
        .build()
        .expect("valid");
    breaker.transition_to_open();
    clock.advance(Duration::from_secs(11));
    let held: Vec<_> = (0..3)
        .map(|_| breaker.try_acquire().expect("probe"))
        .collect();
    assert!(breaker.try_acquire().is_err());
    drop(held);
    assert_eq!(breaker.metrics().probes_in_flight, 0);
    assert_eq!(breaker.metrics().buffered_calls, 0);
    assert!(events
        .lock()
        .expect("events")
        .contains(&Event::ProbeAbandoned));
    // The freed slots admit new probes, which then decide.
    play(&breaker, &clock, "SSS");
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn ignored_probe_frees_its_slot() {
    let (breaker, clock) = half_open_breaker(config(4, 4));
    play(&breaker, &clock, "IIIIISSS");
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn cancelled_async_probe_frees_its_slot() {
    let (breaker, _clock) = half_open_breaker(config(4, 4));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("rt");
    rt.block_on(async {
        // A probe whose future is dropped mid-flight (as a timeout would).
        let never = std::future::pending::<Result<(), ()>>();
        let timed = tokio::time::timeout(Duration::from_millis(1), breaker.call_async(never));
        assert!(timed.await.is_err(), "the pending call cannot finish");
    });
    assert_eq!(breaker.metrics().probes_in_flight, 0);
}

#[test]
fn outcome_of_an_ended_state_is_not_counted() {
    let (breaker, clock) = build(config(4, 4));
    let late = breaker.try_acquire().expect("closed");
    play(&breaker, &clock, "FFFF");
    assert_eq!(breaker.state(), State::Open);
    clock.advance(Duration::from_secs(11));
    let probe = breaker.try_acquire().expect("probe");
    // The call admitted while Closed finishes now: it must not be taken for a
    // probe (Resilience4j would count it in HALF_OPEN).
    late.failure();
    let m = breaker.metrics();
    assert_eq!(
        (m.state, m.buffered_calls, m.probes_in_flight),
        (State::HalfOpen, 0, 1)
    );
    probe.success();
}

#[test]
fn max_wait_in_half_open_reopens() {
    let c = CircuitBreakerConfig {
        max_wait_duration_in_half_open_state: Duration::from_secs(5),
        ..config(4, 4)
    };
    let (breaker, clock) = half_open_breaker(c);
    let stuck = breaker.try_acquire().expect("probe");
    clock.advance(Duration::from_secs(5) - Duration::from_nanos(1));
    assert_eq!(breaker.state(), State::HalfOpen);
    clock.advance(Duration::from_nanos(1));
    assert_eq!(breaker.state(), State::Open);
    // The stuck probe's late outcome belongs to the ended half-open period.
    stuck.success();
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn exponential_open_wait_grows_with_consecutive_openings() {
    let c = CircuitBreakerConfig {
        wait_duration_in_open_state: WaitInterval::Exponential {
            initial: Duration::from_secs(10),
            multiplier: 2.0,
            max: Duration::from_secs(25),
        },
        permitted_number_of_calls_in_half_open_state: 1,
        ..config(4, 4)
    };
    let (breaker, clock) = build(c);
    play(&breaker, &clock, "FFFF");
    let mut waits = Vec::new();
    for _ in 0..3 {
        waits.push(breaker.retry_after().expect("open"));
        clock.advance(waits.last().copied().expect("wait") + Duration::from_nanos(1));
        play(&breaker, &clock, "F"); // the probe fails: open again, one more attempt
    }
    let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [10, 20, 25]);
    // A successful probe closes and resets the count.
    clock.advance(Duration::from_secs(26));
    play(&breaker, &clock, "S");
    assert_eq!(breaker.state(), State::Closed);
    play(&breaker, &clock, "FFFF");
    assert_eq!(breaker.retry_after(), Some(Duration::from_secs(10)));
}

#[test]
fn time_window_counts_the_last_seconds() {
    let c = CircuitBreakerConfig {
        sliding_window: SlidingWindow::TimeBased { size_seconds: 2 },
        minimum_number_of_calls: 4,
        ..config(4, 4)
    };
    let (breaker, clock) = build(c.clone());
    play(&breaker, &clock, "FF");
    clock.advance(Duration::from_secs(2)); // the two failures leave the window
    play(&breaker, &clock, "SSF");
    assert_eq!(breaker.metrics().buffered_calls, 3);
    assert_eq!(breaker.state(), State::Closed);
    play(&breaker, &clock, "F"); // S S F F in the window: 50 %
    assert_eq!(breaker.state(), State::Open);
    // The time window's minimum is not capped by its size.
    check(
        CircuitBreakerConfig {
            minimum_number_of_calls: 5,
            ..c
        },
        "FFFF",
        State::Closed,
    );
}

#[test]
fn disabled_admits_and_records_nothing() {
    let (breaker, clock) = build(config(4, 4));
    breaker.transition_to_disabled();
    play(&breaker, &clock, "FFFFFFFF");
    assert_eq!(breaker.state(), State::Disabled);
    assert_eq!(breaker.metrics().buffered_calls, 0);
}

#[test]
fn forced_open_rejects_until_told_otherwise() {
    let (breaker, clock) = build(config(4, 4));
    breaker.transition_to_forced_open();
    clock.advance(Duration::from_secs(3600));
    let err = breaker.try_acquire().err().expect("forced open");
    assert_eq!(err.state, State::ForcedOpen);
    assert_eq!(breaker.state(), State::ForcedOpen);
    breaker.transition_to_closed();
    play(&breaker, &clock, "S");
}

#[test]
fn metrics_only_never_opens_and_announces_each_crossing_once() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("mo")
        .config(config(4, 4))
        .clock(clock.clone())
        .listener(move |e| sink.lock().expect("sink").push(*e))
        .build()
        .expect("valid");
    breaker.transition_to_metrics_only();
    play(&breaker, &clock, "FFFFFFSSSSFFFF");
    assert_eq!(breaker.state(), State::MetricsOnly);
    let exceeded = events
        .lock()
        .expect("events")
        .iter()
        .filter(|e| matches!(e, Event::FailureRateExceeded { .. }))
        .count();
    // Above from call 4, below after "SSSS" pushes failures out, above again.
    assert_eq!(exceeded, 2);
}

#[test]
fn reset_and_manual_transitions_start_fresh() {
    let (breaker, clock) = build(config(4, 4));
    play(&breaker, &clock, "FFF");
    breaker.reset();
    play(&breaker, &clock, "F");
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.metrics().buffered_calls, 1);
    breaker.transition_to_half_open();
    assert_eq!(breaker.state(), State::HalfOpen);
    play(&breaker, &clock, "SSS");
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn listeners_hear_transitions_in_order_and_may_reenter() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let clock = ManualClock::new();
    let slot: Arc<Mutex<Option<CircuitBreaker>>> = Arc::new(Mutex::new(None));
    let reenter = Arc::clone(&slot);
    let breaker = CircuitBreaker::builder("ev")
        .config(config(4, 4))
        .clock(clock.clone())
        .listener(move |e| {
            if let Event::StateTransition { .. } = e {
                // Calling back into the breaker from a listener must not deadlock.
                if let Some(b) = reenter.lock().expect("slot").as_ref() {
                    let _ = b.metrics();
                }
            }
            sink.lock().expect("sink").push(*e);
        })
        .build()
        .expect("valid");
    *slot.lock().expect("slot") = Some(breaker.clone());
    play(&breaker, &clock, "FFFF");
    assert!(breaker.try_acquire().is_err());
    clock.advance(Duration::from_secs(11));
    play(&breaker, &clock, "SSS");
    let transitions: Vec<(State, State)> = events
        .lock()
        .expect("events")
        .iter()
        .filter_map(|e| match e {
            Event::StateTransition { from, to } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        transitions,
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
    let all = events.lock().expect("events").clone();
    assert!(all.contains(&Event::NotPermitted { state: State::Open }));
    assert!(all.contains(&Event::FailureRateExceeded {
        rate_percent: 100.0
    }));
    *slot.lock().expect("slot") = None; // break the breaker → listener → breaker cycle
}

#[test]
fn classifier_applies_resilience4j_precedence() {
    #[derive(Debug, PartialEq)]
    enum E {
        Timeout,
        NotFound,
        Cancelled,
    }
    let classifier = Classifier::<u32, E>::new()
        .ignore_error(|e| *e == E::Cancelled)
        .record_error(|e| *e == E::Timeout)
        .record_result(|v| *v == 503);
    assert_eq!(classifier.classify(&Err(E::Timeout)), Outcome::Failure);
    assert_eq!(classifier.classify(&Err(E::NotFound)), Outcome::Success);
    assert_eq!(classifier.classify(&Err(E::Cancelled)), Outcome::Ignored);
    assert_eq!(classifier.classify(&Ok(503)), Outcome::Failure);
    assert_eq!(classifier.classify(&Ok(200)), Outcome::Success);
    assert_eq!(
        Classifier::<(), ()>::new().classify(&Err(())),
        Outcome::Failure
    );

    let (breaker, _clock) = build(config(2, 2));
    for _ in 0..2 {
        let r = breaker.call_classified(&classifier, || Err::<u32, _>(E::NotFound));
        assert_eq!(r, Err(CallError::Inner(E::NotFound)));
    }
    assert_eq!(breaker.state(), State::Closed);
    for _ in 0..2 {
        let _ = breaker.call_classified(&classifier, || Ok::<u32, E>(503));
    }
    assert_eq!(breaker.state(), State::Open);
    let r = breaker.call_classified(&classifier, || Ok::<u32, E>(200));
    assert!(matches!(r, Err(CallError::NotPermitted(_))));
}

#[test]
fn invalid_settings_are_rejected() {
    let bad = [
        CircuitBreakerConfig {
            failure_rate_threshold_percent: 0.0,
            ..Default::default()
        },
        CircuitBreakerConfig {
            slow_call_rate_threshold_percent: 100.5,
            ..Default::default()
        },
        CircuitBreakerConfig {
            sliding_window: SlidingWindow::CountBased { size_calls: 0 },
            ..Default::default()
        },
        CircuitBreakerConfig {
            sliding_window: SlidingWindow::TimeBased { size_seconds: 3601 },
            ..Default::default()
        },
        CircuitBreakerConfig {
            minimum_number_of_calls: 0,
            ..Default::default()
        },
        CircuitBreakerConfig {
            permitted_number_of_calls_in_half_open_state: 0,
            ..Default::default()
        },
        CircuitBreakerConfig {
            wait_duration_in_open_state: WaitInterval::Exponential {
                initial: SEC,
                multiplier: 0.5,
                max: SEC,
            },
            ..Default::default()
        },
    ];
    for c in bad {
        let err = CircuitBreaker::new("bad", c.clone()).err();
        assert!(
            matches!(
                err,
                Some(
                    ConfigError::Percent { .. }
                        | ConfigError::Range { .. }
                        | ConfigError::WaitInterval
                )
            ),
            "{c:?} accepted"
        );
    }
}
