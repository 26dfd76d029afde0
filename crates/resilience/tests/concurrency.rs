//! Many threads hammering a half-open breaker: never more than the permitted
//! probes, dropped probes hand their slot back, and the breaker always leaves
//! HALF_OPEN. Seeds are printed so a failure can be replayed.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Barrier;

use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig, ManualClock, SlidingWindow, State};

const THREADS: usize = 8;
const PERMITTED: u32 = 5;

fn half_open_breaker() -> CircuitBreaker {
    let breaker = CircuitBreaker::builder("hammer")
        .config(CircuitBreakerConfig {
            sliding_window: SlidingWindow::CountBased { size_calls: 10 },
            minimum_number_of_calls: 10,
            permitted_number_of_calls_in_half_open_state: PERMITTED,
            ..CircuitBreakerConfig::default()
        })
        .clock(ManualClock::new())
        .build()
        .expect("valid");
    breaker.transition_to_half_open();
    breaker
}

/// splitmix64: a tiny seeded generator so each thread's choices replay.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn simultaneous_acquires_admit_exactly_the_permitted_number() {
    // Each round: every thread tries at once and holds what it gets, so the
    // admitted count is exactly observable.
    for round in 0..200 {
        let breaker = half_open_breaker();
        let barrier = Barrier::new(THREADS);
        let admitted = AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    barrier.wait();
                    let mut held = Vec::new();
                    for _ in 0..4 {
                        if let Ok(p) = breaker.try_acquire() {
                            admitted.fetch_add(1, Ordering::SeqCst);
                            held.push(p);
                        }
                    }
                    // Everyone has tried before anyone lets go.
                    barrier.wait();
                    drop(held);
                });
            }
        });
        assert_eq!(admitted.load(Ordering::SeqCst), PERMITTED, "round {round}");
        assert_eq!(breaker.metrics().probes_in_flight, 0, "round {round}");
        assert_eq!(
            breaker.state(),
            State::HalfOpen,
            "dropped probes decide nothing"
        );
    }
}

#[test]
fn hammer_never_exceeds_probes_and_always_leaves_half_open() {
    let base_seed: u64 = std::env::var("SHOAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0006);
    println!("seed={base_seed} (set SHOAL_SEED to replay)");
    for round in 0..50u64 {
        let breaker = half_open_breaker();
        let in_flight = AtomicU32::new(0);
        let max_in_flight = AtomicU32::new(0);
        let recorded = AtomicUsize::new(0);
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for t in 0..THREADS as u64 {
                let (breaker, in_flight, max_in_flight, recorded, barrier) =
                    (&breaker, &in_flight, &max_in_flight, &recorded, &barrier);
                s.spawn(move || {
                    let mut rng = base_seed ^ (round << 8) ^ t;
                    barrier.wait();
                    // Bounded: the breaker must decide long before this.
                    for _ in 0..100_000 {
                        if breaker.state() != State::HalfOpen {
                            break;
                        }
                        let Ok(permit) = breaker.try_acquire() else {
                            std::hint::spin_loop();
                            continue;
                        };
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        max_in_flight.fetch_max(now, Ordering::SeqCst);
                        let roll = next(&mut rng) % 4;
                        if roll == 0 {
                            std::thread::yield_now(); // hold the slot a while
                        }
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        if roll <= 1 {
                            drop(permit); // cancelled: frees the slot
                        } else {
                            recorded.fetch_add(1, Ordering::SeqCst);
                            permit.success();
                        }
                    }
                });
            }
        });
        assert!(
            max_in_flight.load(Ordering::SeqCst) <= PERMITTED,
            "seed {base_seed} round {round}: {} probes in flight",
            max_in_flight.load(Ordering::SeqCst)
        );
        assert_eq!(
            breaker.state(),
            State::Closed,
            "seed {base_seed} round {round}: stuck"
        );
        // Exactly the permitted number of outcomes decided; any other recorded
        // success came from a probe admitted before the decision but finished
        // after it (counted as stale, never as a probe).
        assert!(recorded.load(Ordering::SeqCst) >= PERMITTED as usize);
    }
}

#[test]
fn closed_breaker_under_contention_counts_every_call() {
    let breaker = CircuitBreaker::builder("count")
        .config(CircuitBreakerConfig {
            sliding_window: SlidingWindow::CountBased { size_calls: 1000 },
            minimum_number_of_calls: 1000,
            ..CircuitBreakerConfig::default()
        })
        .clock(ManualClock::new())
        .build()
        .expect("valid");
    std::thread::scope(|s| {
        for t in 0..4 {
            let breaker = &breaker;
            s.spawn(move || {
                for _ in 0..250 {
                    let p = breaker.try_acquire().expect("closed");
                    // Thread 0 fails every call: 250 of 1000 = 25 %.
                    if t == 0 {
                        p.failure();
                    } else {
                        p.success();
                    }
                }
            });
        }
    });
    let m = breaker.metrics();
    assert_eq!((m.buffered_calls, m.failed_calls), (1000, 250));
    assert_eq!(m.failure_rate_percent, Some(25.0));
    assert_eq!(m.state, State::Closed);
}
