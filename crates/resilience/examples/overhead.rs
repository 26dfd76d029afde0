//! Cost of the breaker on the hot path: one uncontended acquire-and-record on
//! a closed breaker, then the same from two threads sharing one breaker.
//!
//! ```text
//! cargo run --release -p shoal-resilience --example overhead
//! ```
//!
//! Prints `threads=N breakers=… ns_per_call=… allocs_per_call=…
//! wall_ns_per_call=…`: one thread; two threads sharing one breaker (the
//! contended case); two threads with a breaker each. `ns_per_call` is the
//! calling thread's CPU time per call on Linux (wall time elsewhere), so
//! other processes on a shared machine do not inflate it; the wall-clock
//! figure is printed too. Each figure is the best of `RUNS` runs. Allocations are
//! counted by a global allocator wrapper, so any heap use on the path shows.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers every operation to `System`, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Calls per thread: enough for ~0.1-1 s per run, bounded whatever the machine.
const CALLS_PER_THREAD: u64 = 10_000_000;

fn run(breaker: &CircuitBreaker, calls: u64) {
    for i in 0..calls {
        let permit = breaker.try_acquire().expect("closed breaker admits");
        // One failure in 64 keeps the window honest without opening it.
        if black_box(i) % 64 == 0 {
            permit.failure();
        } else {
            permit.success();
        }
    }
}

/// `shared`: all threads call one breaker (contended); otherwise each thread
/// has its own (shows there is no hidden global state).
/// CPU time this thread has consumed. On a shared machine wall time also
/// counts the time other processes hold the core; CPU time is what a call
/// costs (cache-line transfers between cores included, since the thread
/// stalls on them).
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> Option<u128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<u128> {
    None
}

struct Measured {
    ns_per_call: f64,
    wall_ns_per_call: f64,
    allocs_per_call: f64,
}

fn measure(threads: usize, shared: bool) -> Measured {
    let breakers: Vec<CircuitBreaker> = (0..if shared { 1 } else { threads })
        .map(|_| CircuitBreaker::new("overhead", CircuitBreakerConfig::default()).expect("valid"))
        .collect();
    for b in &breakers {
        run(b, 10_000); // warm up caches and the branch predictor
    }
    let barrier = Barrier::new(threads);
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    let elapsed_ns: Vec<(u128, Option<u128>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let breaker = &breakers[t % breakers.len()];
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let cpu_start = thread_cpu_ns();
                    let start = Instant::now();
                    run(breaker, CALLS_PER_THREAD);
                    let wall = start.elapsed().as_nanos();
                    let cpu = cpu_start.zip(thread_cpu_ns()).map(|(a, b)| b - a);
                    (wall, cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    // Thread spawning allocates a little; that is outside the calls but inside
    // the counted span, so it is subtracted as a known constant below.
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
    let calls = CALLS_PER_THREAD * threads as u64;
    // Per call on each thread (the slowest thread): the cost a caller pays,
    // not aggregate throughput.
    let wall = elapsed_ns.iter().map(|e| e.0).max().expect("one thread") as f64;
    let cpu = elapsed_ns.iter().map(|e| e.1).collect::<Option<Vec<_>>>();
    let worst = cpu.map_or(wall, |c| *c.iter().max().expect("one thread") as f64);
    let spawn_allocs = spawn_allocations(threads);
    let call_allocs = allocs.saturating_sub(spawn_allocs);
    for b in &breakers {
        assert_eq!(b.metrics().state, shoal_resilience::State::Closed);
    }
    Measured {
        ns_per_call: worst / CALLS_PER_THREAD as f64,
        wall_ns_per_call: wall / CALLS_PER_THREAD as f64,
        allocs_per_call: call_allocs as f64 / calls as f64,
    }
}

/// Allocations made by spawning and joining `threads` scoped threads that do
/// nothing, to separate them from the calls'.
fn spawn_allocations(threads: usize) -> u64 {
    let barrier = Barrier::new(threads);
    let before = ALLOCS.load(Ordering::Relaxed);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    black_box(start.elapsed().as_nanos())
                })
            })
            .collect();
        let _: Vec<u128> = handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect();
    });
    ALLOCS.load(Ordering::Relaxed) - before
}

/// Runs per configuration; the best is reported, because on a shared
/// machine other processes only ever add time.
const RUNS: usize = 5;

fn main() {
    for (threads, shared) in [(1, true), (2, true), (2, false)] {
        let mut best_ns = f64::INFINITY;
        let mut best_wall_ns = f64::INFINITY;
        let mut worst_allocs: f64 = 0.0;
        for _ in 0..RUNS {
            let m = measure(threads, shared);
            best_ns = best_ns.min(m.ns_per_call);
            best_wall_ns = best_wall_ns.min(m.wall_ns_per_call);
            worst_allocs = worst_allocs.max(m.allocs_per_call);
        }
        let breakers = if shared {
            "one_shared"
        } else {
            "one_per_thread"
        };
        println!(
            "threads={threads} breakers={breakers} ns_per_call={best_ns:.1} \
             allocs_per_call={worst_allocs:.6} wall_ns_per_call={best_wall_ns:.1}"
        );
    }
}
