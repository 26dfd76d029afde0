//! Property test: for random sequences of calls, held probes, cancellations
//! and clock moves, the breaker's state and counts match a straightforward
//! reference model of Resilience4j's rules (plus Shoal's two deliberate
//! differences: dropped probes free their slot, and outcomes of an ended
//! state are not counted).

use std::time::Duration;

use proptest::prelude::*;
use shoal_resilience::{
    CircuitBreaker, CircuitBreakerConfig, ManualClock, Outcome, OwnedPermit, SlidingWindow, State,
    WaitInterval,
};

const WAIT_MS: u64 = 10_000;
const SLOW_MS: u64 = 1_000;

#[derive(Debug, Clone)]
enum Op {
    /// Acquire, take `ms`, finish with the outcome.
    Call(Outcome, u64),
    /// Acquire and hold the permit.
    Hold,
    /// Finish the `i`-th held permit (modulo the number held).
    Finish(usize, Outcome),
    /// Drop the `i`-th held permit without an outcome.
    Drop(usize),
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Params {
    time_based: bool,
    size: u32,
    minimum: u32,
    permitted: u32,
    failure_pct: u32,
    slow_pct: u32,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![4 => Just(Outcome::Success), 4 => Just(Outcome::Failure), 1 => Just(Outcome::Ignored)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (outcome(), prop_oneof![3 => 0..50u64, 1 => 900..1100u64]).prop_map(|(o, ms)| Op::Call(o, ms)),
        1 => Just(Op::Hold),
        1 => (any::<usize>(), outcome()).prop_map(|(i, o)| Op::Finish(i, o)),
        1 => any::<usize>().prop_map(Op::Drop),
        2 => prop_oneof![0..2_000u64, 9_000..12_000u64, Just(WAIT_MS), Just(1)].prop_map(Op::Advance),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    (
        any::<bool>(),
        1..8u32,
        1..10u32,
        1..5u32,
        1..=100u32,
        1..=100u32,
    )
        .prop_map(
            |(time_based, size, minimum, permitted, failure_pct, slow_pct)| Params {
                time_based,
                size,
                minimum,
                permitted,
                failure_pct,
                slow_pct,
            },
        )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MState {
    Closed,
    Open,
    HalfOpen,
}

/// One recorded call: when it ended, whether it failed, whether it was slow.
type Call = (u64, bool, bool);

struct Model {
    p: Params,
    now_ms: u64,
    state: MState,
    generation: u64,
    closed_calls: Vec<Call>,
    probes: Vec<Call>,
    probes_in_flight: u32,
    open_until_ms: u64,
}

/// What a held permit remembers in the model.
struct Held {
    generation: u64,
    start_ms: u64,
    probe: bool,
}

impl Model {
    fn window(&self) -> Vec<Call> {
        if self.p.time_based {
            let now_s = self.now_ms / 1000;
            self.closed_calls
                .iter()
                .copied()
                .filter(|(t, _, _)| t / 1000 + u64::from(self.p.size) > now_s)
                .collect()
        } else {
            let n = self.closed_calls.len();
            let keep = n.min(self.p.size as usize);
            self.closed_calls[n - keep..].to_vec()
        }
    }

    fn exceeded(&self, calls: &[Call]) -> bool {
        let n = calls.len() as u64;
        let failed = calls.iter().filter(|c| c.1).count() as u64;
        let slow = calls.iter().filter(|c| c.2).count() as u64;
        failed * 100 >= u64::from(self.p.failure_pct) * n
            || slow * 100 >= u64::from(self.p.slow_pct) * n
    }

    fn enter(&mut self, to: MState) {
        self.state = to;
        self.generation += 1;
        self.probes.clear();
        self.probes_in_flight = 0;
        match to {
            MState::Closed => self.closed_calls.clear(),
            MState::Open => self.open_until_ms = self.now_ms + WAIT_MS,
            MState::HalfOpen => {}
        }
    }

    fn acquire(&mut self) -> Option<Held> {
        if self.state == MState::Open {
            if self.now_ms <= self.open_until_ms {
                return None;
            }
            self.enter(MState::HalfOpen);
        }
        match self.state {
            MState::Closed => Some(Held {
                generation: self.generation,
                start_ms: self.now_ms,
                probe: false,
            }),
            MState::HalfOpen => {
                if self.probes.len() as u32 + self.probes_in_flight < self.p.permitted {
                    self.probes_in_flight += 1;
                    Some(Held {
                        generation: self.generation,
                        start_ms: self.now_ms,
                        probe: true,
                    })
                } else {
                    None
                }
            }
            MState::Open => unreachable!("left above"),
        }
    }

    fn finish(&mut self, held: Held, outcome: Option<Outcome>) {
        if held.generation != self.generation {
            return;
        }
        if held.probe {
            self.probes_in_flight -= 1;
        }
        let failed = match outcome {
            None | Some(Outcome::Ignored) => return,
            Some(o) => o == Outcome::Failure,
        };
        let call = (self.now_ms, failed, self.now_ms - held.start_ms > SLOW_MS);
        if held.probe {
            self.probes.push(call);
            if self.probes.len() as u32 >= self.p.minimum.min(self.p.permitted) {
                let next = if self.exceeded(&self.probes.clone()) {
                    MState::Open
                } else {
                    MState::Closed
                };
                self.enter(next);
            }
        } else {
            self.closed_calls.push(call);
            let window = self.window();
            let minimum = if self.p.time_based {
                self.p.minimum
            } else {
                self.p.minimum.min(self.p.size)
            };
            if window.len() as u32 >= minimum && self.exceeded(&window) {
                self.enter(MState::Open);
            }
        }
    }
}

fn run(p: Params, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("model")
        .config(CircuitBreakerConfig {
            sliding_window: if p.time_based {
                SlidingWindow::TimeBased {
                    size_seconds: p.size,
                }
            } else {
                SlidingWindow::CountBased { size_calls: p.size }
            },
            minimum_number_of_calls: p.minimum,
            permitted_number_of_calls_in_half_open_state: p.permitted,
            failure_rate_threshold_percent: p.failure_pct as f32,
            slow_call_rate_threshold_percent: p.slow_pct as f32,
            slow_call_duration_threshold: Duration::from_millis(SLOW_MS),
            wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_millis(WAIT_MS)),
            ..CircuitBreakerConfig::default()
        })
        .clock(clock.clone())
        .build()
        .expect("valid");
    let mut model = Model {
        p,
        now_ms: 0,
        state: MState::Closed,
        generation: 0,
        closed_calls: Vec::new(),
        probes: Vec::new(),
        probes_in_flight: 0,
        open_until_ms: 0,
    };
    let mut held: Vec<(OwnedPermit, Held)> = Vec::new();
    let advance = |model: &mut Model, ms: u64| {
        model.now_ms += ms;
        clock.advance(Duration::from_millis(ms));
    };
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Call(o, ms) => {
                let real = breaker.try_acquire_owned();
                let expected = model.acquire();
                prop_assert_eq!(real.is_ok(), expected.is_some(), "step {} admission", step);
                advance(&mut model, ms);
                if let (Ok(permit), Some(h)) = (real, expected) {
                    permit.record(o);
                    model.finish(h, Some(o));
                }
            }
            Op::Hold => {
                let real = breaker.try_acquire_owned();
                let expected = model.acquire();
                prop_assert_eq!(
                    real.is_ok(),
                    expected.is_some(),
                    "step {} hold admission",
                    step
                );
                if let (Ok(permit), Some(h)) = (real, expected) {
                    held.push((permit, h));
                }
            }
            Op::Finish(i, o) if !held.is_empty() => {
                let (permit, h) = held.remove(i % held.len());
                permit.record(o);
                model.finish(h, Some(o));
            }
            Op::Drop(i) if !held.is_empty() => {
                let (permit, h) = held.remove(i % held.len());
                drop(permit);
                model.finish(h, None);
            }
            Op::Finish(..) | Op::Drop(_) => {}
            Op::Advance(ms) => advance(&mut model, ms),
        }
        let m = breaker.metrics();
        let state = match model.state {
            MState::Closed => State::Closed,
            MState::Open => State::Open,
            MState::HalfOpen => State::HalfOpen,
        };
        prop_assert_eq!(m.state, state, "step {}", step);
        match model.state {
            MState::Closed => {
                let window = model.window();
                prop_assert_eq!(
                    m.buffered_calls as usize,
                    window.len(),
                    "step {} buffered",
                    step
                );
                prop_assert_eq!(
                    m.failed_calls as usize,
                    window.iter().filter(|c| c.1).count(),
                    "step {} failed",
                    step
                );
            }
            MState::HalfOpen => {
                prop_assert_eq!(
                    m.buffered_calls as usize,
                    model.probes.len(),
                    "step {} probes",
                    step
                );
                prop_assert_eq!(
                    m.probes_in_flight,
                    model.probes_in_flight,
                    "step {} in flight",
                    step
                );
            }
            MState::Open => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn breaker_matches_reference_model(p in params(), ops in prop::collection::vec(op(), 1..200)) {
        run(p, ops)?;
    }
}
