//! Shared helpers for the integration tests: an in-process Shoal server, a
//! spawned `redis-server`, and a raw RESP connection with bounded reads.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shoal_resp::{parse_frame, Frame};
use shoal_server::{Config, ParkHook, Server};

/// How long any single wait in a test may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A Shoal server on its own runtime thread, on a free loopback port.
/// Dropping it stops the server and every connection task.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts with extra `--directive value` flags (port is always 0).
    pub fn start_with(flags: &[&str]) -> TestServer {
        // No automatic snapshots into the test's working directory.
        let mut args: Vec<String> = vec!["--port".into(), "0".into(), "--save".into(), "".into()];
        args.extend(flags.iter().map(|s| s.to_string()));
        if !flags.contains(&"--dir") {
            // Files a test server writes (SAVE, DEBUG RELOAD) stay out of
            // the source tree.
            let dir = std::env::temp_dir().join(format!("shoal-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("test dir");
            args.push("--dir".into());
            args.push(dir.to_string_lossy().into_owned());
        }
        let config = Config::from_args(&args).expect("test config");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            // As `shoal server` runs: io threads fsync `always` writes
            // before they park.
            let hook = ParkHook::default();
            let runtime = hook
                .install(&mut tokio::runtime::Builder::new_multi_thread(), 4)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let server = Server::bind(config).await.expect("bind");
                server.attach(&hook);
                addr_tx.send(server.local_addr()).expect("send addr");
                server
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("server run");
            });
            // Connection tasks may still be parked on sockets; drop them.
            runtime.shutdown_background();
        });
        let addr = addr_rx.recv_timeout(DEADLINE).expect("server started");
        TestServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A `redis-server` child process on a free port, killed on drop.
/// `--dir` for a redis-server started without one: a fresh directory.
fn redis_dir(extra: &[&str]) -> Vec<String> {
    if extra.contains(&"--dir") {
        return Vec::new();
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("shoal-redis-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("redis dir");
    vec!["--dir".into(), dir.to_string_lossy().into_owned()]
}

pub struct RedisServer {
    pub addr: SocketAddr,
    child: Child,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Starts with extra directives (`--dir`, `--dbfilename`, …).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        // Port 0 would disable TCP in redis-server, so borrow a free port
        // from the kernel; retry if another process grabs it first.
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    // Tests switch active expiry off with DEBUG SET-ACTIVE-EXPIRE.
                    "--enable-debug-command",
                    "yes",
                ])
                .args(extra)
                // Its own empty directory unless told otherwise: a dump.rdb
                // left in the working directory would otherwise be loaded.
                .args(redis_dir(extra))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server (is it installed?)");
            let mut server = RedisServer {
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                child,
            };
            let started = Instant::now();
            while started.elapsed() < DEADLINE {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // Exited: most likely the port was taken.
                }
                if answers_as(server.addr, server.child.id()) {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("redis-server did not start");
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr)
    }
}

/// Whether the server at `addr` is the process `pid` and ready: tests in
/// parallel borrow free ports the same way, so a port can be taken between
/// the check and the child's bind, and another test's server may answer.
/// PING answers `-LOADING` until a dataset is loaded. Never panics: a
/// refused or reset connection is just "not yet".
fn answers_as(addr: SocketAddr, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let request = b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n*1\r\n$4\r\nPING\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let wanted = format!("process_id:{pid}\r\n");
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while reply.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
        }
        if reply.ends_with(b"\r\n+PONG\r\n")
            || reply.ends_with(b"\r\n") && reply.windows(9).any(|w| w == b"-LOADING ")
        {
            break;
        }
    }
    reply.ends_with(b"\r\n+PONG\r\n") && reply.windows(wanted.len()).any(|w| w == wanted.as_bytes())
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking raw-RESP connection. Reads never wait longer than
/// [`DEADLINE`] in total.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
    /// How long one read may wait for a reply.
    pub deadline: Duration,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        Conn::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    pub fn from_stream(stream: TcpStream) -> Conn {
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        Conn {
            stream,
            buf: Vec::new(),
            closed: false,
            deadline: DEADLINE,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until at least `n` bytes are buffered (or the peer closes, or
    /// the deadline passes), then returns exactly what is buffered up to `n`.
    pub fn read_exact_or_eof(&mut self, n: usize) -> Vec<u8> {
        let started = Instant::now();
        while self.buf.len() < n && started.elapsed() < DEADLINE {
            if self.fill() == 0 && self.closed {
                break;
            }
        }
        let take = n.min(self.buf.len());
        self.buf.drain(..take).collect()
    }

    /// Reads one reply frame.
    pub fn read_frame(&mut self) -> Frame {
        let started = Instant::now();
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((frame, used))) => {
                    self.buf.drain(..used);
                    return frame;
                }
                Ok(None) => {}
                Err(e) => panic!("bad reply {e}: {:?}", String::from_utf8_lossy(&self.buf)),
            }
            assert!(
                started.elapsed() < self.deadline,
                "no complete reply within {:?}: {:?}",
                self.deadline,
                String::from_utf8_lossy(&self.buf)
            );
            if self.fill() == 0 && self.closed {
                panic!(
                    "connection closed; buffered {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// Reads one reply frame if one arrives within `wait`.
    pub fn read_frame_within(&mut self, wait: Duration) -> Option<Frame> {
        let started = Instant::now();
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((frame, used))) => {
                    self.buf.drain(..used);
                    return Some(frame);
                }
                Ok(None) => {}
                Err(e) => panic!("bad reply {e}: {:?}", String::from_utf8_lossy(&self.buf)),
            }
            if started.elapsed() >= wait || self.closed {
                return None;
            }
            self.stream
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .expect("read timeout");
            self.fill();
            self.stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .expect("read timeout");
        }
    }

    /// Sends one command as a RESP array and reads its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> Frame {
        self.send(&encode(args));
        self.read_frame()
    }

    /// One field of an INFO section, as text.
    pub fn info_field(&mut self, section: &str, field: &str) -> String {
        let Frame::Bulk(text) = self.command(&[b"INFO", section.as_bytes()]) else {
            panic!("INFO {section}");
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {text}"))
            .trim()
            .to_string()
    }

    /// True once the peer has closed (EOF or reset) and nothing is buffered.
    pub fn wait_closed(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < DEADLINE {
            self.fill();
            if self.closed {
                return true;
            }
        }
        false
    }

    /// One read into the buffer; returns the bytes read (0 on timeout too).
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                0
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                0
            }
            Err(_) => {
                self.closed = true;
                0
            }
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Resident set size of this process in bytes, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm rss field");
    pages * 4096
}
