//! `/metrics`: the counters move with commands, and promtool accepts the text.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use shoal_server::{Config, Server};

/// Starts a server with a metrics port; returns (redis addr, metrics addr).
fn start() -> (std::net::SocketAddr, std::net::SocketAddr) {
    // A free port for the metrics listener (the server binds it by number).
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args: Vec<String> = ["--port", "0", "--metrics-port", &free.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let config = Config::from_args(&args).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server = Server::bind(config).await.unwrap();
            tx.send((server.local_addr(), server.metrics_addr().unwrap()))
                .unwrap();
            server.run(std::future::pending()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn roundtrip(addr: std::net::SocketAddr, request: &[u8], reply_len: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request).unwrap();
    let mut buf = vec![0; reply_len];
    s.read_exact(&mut buf).unwrap();
    buf
}

fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[test]
fn counters_follow_commands() {
    let (redis, metrics) = start();
    let reply = roundtrip(
        redis,
        b"SET k v\r\nGET k\r\nGET k\r\nINCR k\r\nNOSUCH\r\n",
        5 + 7 + 7 + 45,
    );
    assert!(
        reply.starts_with(b"+OK\r\n$1\r\nv\r\n$1\r\nv\r\n-ERR value is not an integer"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let body = scrape(metrics);
    for line in [
        "shoal_commands_total{cmd=\"set\"} 1",
        "shoal_commands_total{cmd=\"get\"} 2",
        "shoal_commands_failed_total{cmd=\"incr\"} 1",
        "shoal_command_duration_seconds_count{cmd=\"get\"} 2",
        "shoal_command_duration_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 2",
        "shoal_keys{db=\"0\"} 1",
        "shoal_keyspace_hits_total 2",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    assert!(
        body.contains("shoal_errors_total{code=\"ERR\"} 2"),
        "{body}"
    );
}

#[test]
#[ignore = "needs promtool"]
fn promtool_accepts_the_output() {
    let (redis, metrics) = start();
    roundtrip(redis, b"SET k v\r\nGET k\r\n", 5 + 7);
    let body = scrape(metrics);
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool on PATH");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
