//! Why a circuit breaker at all, when the caller gets a failure either way?
//! Run it and see:
//!
//! ```text
//! cargo run --release -p shoal-resilience --example cascade [-- SEED]
//! ```
//!
//! A caller (32 workers, clients that give up after 1 s) serves 150 req/s;
//! each request calls a backend (4 servers, 20 ms per request) with a 500 ms
//! timeout and falls back to a cached answer when the call fails. From 20 s
//! to 30 s of the 60 s run the backend hangs (2 s per request). The same
//! seeded traffic runs twice, without and with a breaker, in simulated time
//! (tokio's paused clock drives both the calls and the breaker), so the run
//! is instant and every number replays exactly.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use shoal_resilience::{
    CircuitBreaker, CircuitBreakerConfig, Clock, SlidingWindow, State, WaitInterval,
};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

const RUN: Duration = Duration::from_secs(60);
const INCIDENT_START: Duration = Duration::from_secs(20);
const INCIDENT_END: Duration = Duration::from_secs(30);
const ARRIVALS_PER_SECOND: f64 = 150.0;
const CALLER_WORKERS: usize = 32;
const CLIENT_DEADLINE: Duration = Duration::from_secs(1);
const LOCAL_WORK: Duration = Duration::from_millis(2);
const BACKEND_TIMEOUT: Duration = Duration::from_millis(500);
const BACKEND_SERVERS: usize = 4;
const BACKEND_SERVICE: Duration = Duration::from_millis(20);
const BACKEND_SERVICE_HUNG: Duration = Duration::from_secs(2);
/// Timeline buckets for the printed throughput curve.
const BUCKET: Duration = Duration::from_secs(5);

/// The breaker reads tokio's clock, so paused time moves it too.
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    fn now_nanos(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u64>,
    ok: u64,
    degraded: u64,
    failed: u64,
    ok_per_bucket: Vec<u64>,
    backend_calls: u64,
    doomed_worker_time: Duration,
    backend_useful: Duration,
    backend_wasted: Duration,
    backend_last_wasted_end: Duration,
    breaker_opened: u64,
}

/// Worker time spent on a backend call that does not succeed, whether it
/// timed out or the client gave up first (dropping the call mid-flight).
struct DoomedTime {
    started: Instant,
    stats: Rc<RefCell<Stats>>,
    succeeded: bool,
}

impl Drop for DoomedTime {
    fn drop(&mut self) {
        if !self.succeeded {
            self.stats.borrow_mut().doomed_worker_time += self.started.elapsed();
        }
    }
}

struct Job {
    reply: oneshot::Sender<()>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn simulate(seed: u64, with_breaker: bool) -> Stats {
    let origin = Instant::now();
    let stats = Rc::new(RefCell::new(Stats {
        ok_per_bucket: vec![0; (RUN.as_secs() / BUCKET.as_secs()) as usize + 1],
        ..Stats::default()
    }));
    let breaker = with_breaker.then(|| {
        CircuitBreaker::builder("backend")
            .config(CircuitBreakerConfig {
                sliding_window: SlidingWindow::CountBased { size_calls: 20 },
                minimum_number_of_calls: 10,
                wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_secs(2)),
                permitted_number_of_calls_in_half_open_state: 3,
                slow_call_duration_threshold: Duration::from_millis(250),
                slow_call_rate_threshold_percent: 80.0,
                ..CircuitBreakerConfig::default()
            })
            .clock(TokioClock { origin })
            .build()
            .expect("valid config")
    });

    // The backend: a FIFO queue served by a few servers. It cannot tell that
    // a caller gave up, so it serves abandoned requests too: wasted work.
    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    let rx = Rc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..BACKEND_SERVERS {
        let rx = Rc::clone(&rx);
        let stats = Rc::clone(&stats);
        tokio::task::spawn_local(async move {
            loop {
                let Some(job) = rx.lock().await.recv().await else {
                    break;
                };
                let started = origin.elapsed();
                let hung = (INCIDENT_START..INCIDENT_END).contains(&started);
                let service = if hung {
                    BACKEND_SERVICE_HUNG
                } else {
                    BACKEND_SERVICE
                };
                tokio::time::sleep(service).await;
                let mut s = stats.borrow_mut();
                if job.reply.send(()).is_ok() {
                    s.backend_useful += service;
                } else {
                    s.backend_wasted += service;
                    s.backend_last_wasted_end = origin.elapsed();
                }
            }
        });
    }

    let workers = Rc::new(Semaphore::new(CALLER_WORKERS));
    let mut rng = seed;
    let mut at = Duration::ZERO;
    let mut requests = Vec::new();
    let mut last_state = State::Closed;
    while at < RUN {
        // Poisson arrivals: exponential gaps with the configured mean.
        let u = ((splitmix(&mut rng) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        at += Duration::from_secs_f64(-u.ln() / ARRIVALS_PER_SECOND);
        tokio::time::sleep_until(origin + at).await;
        if let Some(b) = &breaker {
            let state = b.state();
            if state == State::Open && last_state != State::Open {
                stats.borrow_mut().breaker_opened += 1;
            }
            last_state = state;
        }
        let (workers, breaker, tx, stats) = (
            Rc::clone(&workers),
            breaker.clone(),
            tx.clone(),
            Rc::clone(&stats),
        );
        requests.push(tokio::task::spawn_local(async move {
            let started = Instant::now();
            let served = tokio::time::timeout(CLIENT_DEADLINE, async {
                let _worker = workers.acquire().await.expect("never closed");
                tokio::time::sleep(LOCAL_WORK).await;
                let permit = match &breaker {
                    Some(b) => match b.try_acquire_owned() {
                        Ok(p) => Some(p),
                        Err(_) => return false, // fail fast: fallback answer
                    },
                    None => None,
                };
                stats.borrow_mut().backend_calls += 1;
                let mut doomed = DoomedTime {
                    started: Instant::now(),
                    stats: Rc::clone(&stats),
                    succeeded: false,
                };
                let (reply, done) = oneshot::channel();
                tx.send(Job { reply }).expect("backend alive");
                let ok = tokio::time::timeout(BACKEND_TIMEOUT, done).await.is_ok();
                doomed.succeeded = ok;
                if let Some(p) = permit {
                    if ok {
                        p.success();
                    } else {
                        p.failure();
                    }
                }
                ok
            })
            .await;
            let latency = started.elapsed();
            let mut s = stats.borrow_mut();
            match served {
                Ok(fresh) => {
                    s.latencies_us.push(latency.as_micros() as u64);
                    s.ok += 1;
                    if !fresh {
                        s.degraded += 1;
                    }
                    let bucket =
                        (started.duration_since(origin).as_secs() / BUCKET.as_secs()) as usize;
                    if let Some(b) = s.ok_per_bucket.get_mut(bucket) {
                        *b += 1;
                    }
                }
                Err(_) => {
                    s.latencies_us.push(CLIENT_DEADLINE.as_micros() as u64);
                    s.failed += 1;
                }
            }
        }));
    }
    for r in requests {
        r.await.expect("request task");
    }
    drop(tx);
    // Let the backend finish its queue so its wasted work is fully counted.
    while Rc::strong_count(&rx) > 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Rc::try_unwrap(stats)
        .ok()
        .expect("all tasks done")
        .into_inner()
}

fn run(seed: u64, with_breaker: bool) -> Stats {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, simulate(seed, with_breaker))
}

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    println!(
        "seed={seed} run_s={} incident_s={}..{} arrivals_per_s={ARRIVALS_PER_SECOND} caller_workers={CALLER_WORKERS} \
         client_deadline_ms={} backend_timeout_ms={}",
        RUN.as_secs(),
        INCIDENT_START.as_secs(),
        INCIDENT_END.as_secs(),
        CLIENT_DEADLINE.as_millis(),
        BACKEND_TIMEOUT.as_millis()
    );
    for with_breaker in [false, true] {
        let mut s = run(seed, with_breaker);
        s.latencies_us.sort_unstable();
        let p = |q: f64| {
            s.latencies_us
                [((s.latencies_us.len() as f64 * q) as usize).min(s.latencies_us.len() - 1)]
        };
        let mode = if with_breaker {
            "breaker"
        } else {
            "no_breaker"
        };
        println!(
            "mode={mode} ok_per_s={:.1} failed={} degraded={} p50_ms={:.1} p99_ms={:.1} backend_calls={} \
             doomed_worker_s={:.1} backend_wasted_s={:.1} backend_busy_with_doomed_until_s={:.1} breaker_openings={}",
            s.ok as f64 / RUN.as_secs_f64(),
            s.failed,
            s.degraded,
            p(0.50) as f64 / 1000.0,
            p(0.99) as f64 / 1000.0,
            s.backend_calls,
            s.doomed_worker_time.as_secs_f64(),
            s.backend_wasted.as_secs_f64(),
            s.backend_last_wasted_end.as_secs_f64(),
            s.breaker_opened,
        );
        let timeline: Vec<String> = s
            .ok_per_bucket
            .iter()
            .take((RUN.as_secs() / BUCKET.as_secs()) as usize)
            .map(|n| format!("{:.0}", *n as f64 / BUCKET.as_secs_f64()))
            .collect();
        println!("mode={mode} ok_per_s_by_5s=[{}]", timeline.join(","));
    }
}
