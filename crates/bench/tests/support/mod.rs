//! A small in-test RESP server: counts every command it receives, keeps
//! SET values for GET, and can be told to stall or misbehave. Built on
//! std threads so the tests depend on nothing the bench itself uses.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the server behaves.
#[derive(Clone, Copy, Default)]
pub struct Behaviour {
    /// Before answering command number N (1-based, over all
    /// connections), hold every connection for this long.
    pub stall_at: Option<(u64, Duration)>,
    /// Answer command number N with bytes that are not RESP.
    pub garbage_at: Option<u64>,
    /// Close the connection instead of answering command number N.
    pub close_at: Option<u64>,
}

#[derive(Default)]
pub struct Stats {
    /// Commands received, by upper-cased name.
    pub counts: HashMap<String, u64>,
    /// Per connection (by accept order): first command time and count.
    pub first_command: HashMap<usize, Instant>,
    pub per_connection: HashMap<usize, u64>,
}

type Keyspace = HashMap<Vec<u8>, Vec<u8>>;

struct State {
    behaviour: Behaviour,
    seen: AtomicU64,
    /// Every command is handled under this lock, so a stall holds every
    /// connection, like a server whose one thread is busy.
    data: Mutex<(Keyspace, Stats)>,
    stop: AtomicBool,
}

pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            behaviour,
            seen: AtomicU64::new(0),
            data: Mutex::new((HashMap::new(), Stats::default())),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        let accept = std::thread::spawn(move || {
            for (conn_id, stream) in listener.incoming().enumerate() {
                if st.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(stream, conn_id, &st));
            }
        });
        TestServer {
            addr,
            state,
            accept: Some(accept),
        }
    }

    pub fn target(&self) -> shoal_bench::Target {
        shoal_bench::Target {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
        }
    }

    pub fn count(&self, name: &str) -> u64 {
        let g = self.state.data.lock().unwrap();
        g.1.counts.get(name).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        let g = self.state.data.lock().unwrap();
        g.1.counts.values().sum()
    }

    pub fn with_stats<R>(&self, f: impl FnOnce(&Stats) -> R) -> R {
        let g = self.state.data.lock().unwrap();
        f(&g.1)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Parses one RESP array of bulk strings from the front of `buf`.
fn parse(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
        Some((&buf[at..end], end + 2))
    }
    let (head, mut pos) = line(buf, 0)?;
    assert_eq!(head.first(), Some(&b'*'), "test server expects arrays");
    let n: usize = std::str::from_utf8(&head[1..]).ok()?.parse().ok()?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let (h, p) = line(buf, pos)?;
        assert_eq!(h.first(), Some(&b'$'), "test server expects bulk strings");
        let len: usize = std::str::from_utf8(&h[1..]).ok()?.parse().ok()?;
        if buf.len() < p + len + 2 {
            return None;
        }
        args.push(buf[p..p + len].to_vec());
        pos = p + len + 2;
    }
    Some((args, pos))
}

fn serve(mut stream: TcpStream, conn_id: usize, st: &State) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        let mut consumed = 0;
        while let Some((args, len)) = parse(&buf[consumed..]) {
            consumed += len;
            let nth = st.seen.fetch_add(1, Ordering::SeqCst) + 1;
            let mut guard = st.data.lock().unwrap();
            if let Some((at, pause)) = st.behaviour.stall_at {
                if nth == at {
                    // Holding the lock stalls every connection: that is
                    // the point of this behaviour.
                    std::thread::sleep(pause);
                }
            }
            if st.behaviour.close_at == Some(nth) {
                return;
            }
            if st.behaviour.garbage_at == Some(nth) {
                out.extend_from_slice(b"?this is not resp\r\n");
                continue;
            }
            let (store, stats) = &mut *guard;
            let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
            *stats.counts.entry(name.clone()).or_default() += 1;
            stats
                .first_command
                .entry(conn_id)
                .or_insert_with(Instant::now);
            *stats.per_connection.entry(conn_id).or_default() += 1;
            match (name.as_str(), args.len()) {
                ("SET", 3) => {
                    store.insert(args[1].clone(), args[2].clone());
                    out.extend_from_slice(b"+OK\r\n");
                }
                ("GET", 2) => match store.get(&args[1]) {
                    Some(v) => {
                        out.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
                        out.extend_from_slice(v);
                        out.extend_from_slice(b"\r\n");
                    }
                    None => out.extend_from_slice(b"$-1\r\n"),
                },
                ("HELLO", _) => out.extend_from_slice(b"%1\r\n+server\r\n+test\r\n"),
                ("AUTH", 2) if args[1] == b"secret" => out.extend_from_slice(b"+OK\r\n"),
                ("AUTH", _) => out.extend_from_slice(b"-WRONGPASS invalid password\r\n"),
                ("FAIL", _) => out.extend_from_slice(b"-ERR failing on purpose\r\n"),
                _ => out.extend_from_slice(b"*2\r\n:1\r\n$1\r\nx\r\n"),
            }
        }
        buf.drain(..consumed);
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}
