//! Micro-benchmarks of the breaker's hot paths.
//!
//! `cargo bench -p shoal-resilience --bench breaker`
//!
//! The `overhead` example prints the headline figure (with an allocation
//! count); this bench breaks it down: the default (coarse) clock, a clock
//! that costs nothing (to isolate the breaker's own work), the precise clock,
//! and the rejection path of an open breaker.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig, Clock, ManualClock, MonotonicClock};

/// A clock frozen at zero: what remains is the breaker's own cost.
struct Frozen;

impl Clock for Frozen {
    fn now_nanos(&self) -> u64 {
        0
    }
}

fn acquire_and_record(c: &mut Criterion) {
    let mut group = c.benchmark_group("closed_acquire_record");
    let default = CircuitBreaker::new("bench", CircuitBreakerConfig::default()).expect("valid");
    let frozen = CircuitBreaker::builder("bench")
        .clock(Frozen)
        .build()
        .expect("valid");
    let precise = CircuitBreaker::builder("bench")
        .clock(MonotonicClock::new())
        .build()
        .expect("valid");
    for (name, breaker) in [
        ("default_clock", &default),
        ("frozen_clock", &frozen),
        ("precise_clock", &precise),
    ] {
        group.bench_function(name, |b| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let permit = breaker.try_acquire().expect("closed");
                // One failure in 64 keeps the window moving without opening it.
                if black_box(i) % 64 == 0 {
                    permit.failure();
                } else {
                    permit.success();
                }
            })
        });
    }
    group.finish();
}

fn open_reject(c: &mut Criterion) {
    let breaker = CircuitBreaker::builder("bench")
        .clock(ManualClock::new())
        .build()
        .expect("valid");
    breaker.transition_to_open();
    c.bench_function("open_reject", |b| {
        b.iter(|| black_box(breaker.try_acquire().is_err()))
    });
}

criterion_group!(benches, acquire_and_record, open_reject);
criterion_main!(benches);
