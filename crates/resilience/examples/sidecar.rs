//! The breaker as a sidecar: a tiny TCP proxy in front of a service that
//! applies the breaker to every request, so neither the clients nor the
//! service carry any resilience code.
//!
//! ```text
//! cargo run --release -p shoal-resilience --example sidecar
//! ```
//!
//! Everything listens on 127.0.0.1 with OS-chosen ports. The upstream answers
//! one line per request; for a while it hangs. Clients talk only to the
//! sidecar, which answers `-ERR circuit open` at once while the breaker is
//! open instead of letting every client wait out a timeout. Runs ~4 s of
//! real time, bounded by `REQUESTS_PER_PHASE`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_resilience::{CircuitBreaker, CircuitBreakerConfig, SlidingWindow, WaitInterval};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(100);
const REQUESTS_PER_PHASE: usize = 30;

/// One request per connection: a line in, a line out. Hangs while `hung`.
async fn upstream(listener: TcpListener, hung: Arc<AtomicBool>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let hung = Arc::clone(&hung);
        tokio::spawn(async move {
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            if stream.read_line(&mut line).await.is_err() {
                return;
            }
            if hung.load(Ordering::SeqCst) {
                // A hung service: holds the connection, never answers.
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
            let _ = stream
                .get_mut()
                .write_all(format!("+ok {}\n", line.trim()).as_bytes())
                .await;
        });
    }
}

/// Forwards one line to the upstream, with the breaker and a timeout.
async fn forward(breaker: &CircuitBreaker, upstream: std::net::SocketAddr, line: &str) -> String {
    let Ok(permit) = breaker.try_acquire() else {
        return "-ERR circuit open".to_owned();
    };
    let exchange = async {
        let mut conn = BufReader::new(TcpStream::connect(upstream).await?);
        conn.get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await?;
        let mut reply = String::new();
        conn.read_line(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await {
        Ok(Ok(reply)) if !reply.is_empty() => {
            permit.success();
            reply.trim().to_owned()
        }
        _ => {
            permit.failure();
            "-ERR upstream timeout".to_owned()
        }
    }
}

async fn sidecar(listener: TcpListener, breaker: CircuitBreaker, upstream: std::net::SocketAddr) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let breaker = breaker.clone();
        tokio::spawn(async move {
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            if stream.read_line(&mut line).await.is_err() {
                return;
            }
            let reply = forward(&breaker, upstream, line.trim()).await;
            let _ = stream
                .get_mut()
                .write_all(format!("{reply}\n").as_bytes())
                .await;
        });
    }
}

async fn client(sidecar: std::net::SocketAddr, i: usize) -> std::io::Result<String> {
    let mut conn = BufReader::new(TcpStream::connect(sidecar).await?);
    conn.get_mut()
        .write_all(format!("req{i}\n").as_bytes())
        .await?;
    let mut reply = String::new();
    conn.read_line(&mut reply).await?;
    Ok(reply.trim().to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let hung = Arc::new(AtomicBool::new(false));
    let up = TcpListener::bind("127.0.0.1:0").await?;
    let up_addr = up.local_addr()?;
    tokio::spawn(upstream(up, Arc::clone(&hung)));

    let breaker = CircuitBreaker::new(
        "upstream",
        CircuitBreakerConfig {
            sliding_window: SlidingWindow::CountBased { size_calls: 10 },
            minimum_number_of_calls: 5,
            wait_duration_in_open_state: WaitInterval::Fixed(Duration::from_millis(500)),
            permitted_number_of_calls_in_half_open_state: 2,
            ..CircuitBreakerConfig::default()
        },
    )
    .expect("valid config");
    let side = TcpListener::bind("127.0.0.1:0").await?;
    let side_addr = side.local_addr()?;
    tokio::spawn(sidecar(side, breaker.clone(), up_addr));
    println!("upstream={up_addr} sidecar={side_addr}");

    for (phase, upstream_hung) in [
        ("healthy", false),
        ("upstream_hung", true),
        ("recovered", false),
    ] {
        hung.store(upstream_hung, Ordering::SeqCst);
        if phase == "recovered" {
            // Let the open wait elapse so the breaker probes again.
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        let (mut ok, mut open, mut timeout) = (0, 0, 0);
        let start = Instant::now();
        for i in 0..REQUESTS_PER_PHASE {
            match client(side_addr, i).await?.as_str() {
                r if r.starts_with("+ok") => ok += 1,
                "-ERR circuit open" => open += 1,
                _ => timeout += 1,
            }
        }
        let avg_ms = start.elapsed().as_secs_f64() * 1000.0 / REQUESTS_PER_PHASE as f64;
        println!(
            "phase={phase} ok={ok} rejected_fast={open} timed_out={timeout} avg_latency_ms={avg_ms:.1} state_after={}",
            breaker.state()
        );
    }
    Ok(())
}
