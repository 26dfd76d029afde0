//! Against the real twemproxy: three redis-servers behind nutcracker, keys
//! written through nutcracker, then for every key the server that holds it
//! must be the one `shoal_hashring::twemproxy::Pool` names.
//!
//! Needs `nutcracker` and `redis-server` on PATH (Debian: nutcracker,
//! redis-server). Run with `cargo test -p shoal-hashring -- --ignored`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shoal_hashring::twemproxy::{Distribution, Pool, Server};
use shoal_hashring::HashFn;

/// Keys written through nutcracker per configuration (the figure).
const KEYS_PER_CONFIG: usize = 10_000;
/// Commands sent before reading their replies: bounded so neither side's
/// socket buffer fills while the other waits.
const PIPELINE_DEPTH: usize = 500;
/// How long a process may take to start listening.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);
/// Socket read/write timeout, so a wedged peer fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A process we started, killed (by its own handle) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

fn connect_until(port: u16, child: &mut Child) -> TcpStream {
    let deadline = Instant::now() + STARTUP_DEADLINE;
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
            s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
            return s;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("process for port {port} exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "port {port} not listening after {STARTUP_DEADLINE:?}"
        );
        // Polling a condition under a deadline, not waiting a fixed time.
        std::thread::sleep(Duration::from_millis(20));
    }
}

// Fields are read only through `Debug`, in failure messages.
#[allow(dead_code)]
#[derive(Debug)]
enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn read_reply(r: &mut impl BufRead) -> Reply {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read reply");
    assert!(line.ends_with(b"\r\n"), "truncated reply {line:?}");
    let body = line[1..line.len() - 2].to_vec();
    let num = || -> i64 { String::from_utf8_lossy(&body).parse().expect("number") };
    match line[0] {
        b'+' => Reply::Simple(body),
        b'-' => Reply::Error(body),
        b':' => Reply::Int(num()),
        b'$' => {
            let n = num();
            if n < 0 {
                return Reply::Bulk(None);
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf).expect("bulk");
            buf.truncate(n as usize);
            Reply::Bulk(Some(buf))
        }
        b'*' => Reply::Array((0..num()).map(|_| read_reply(r)).collect()),
        other => panic!("unexpected reply type {other}"),
    }
}

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        Conn {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        }
    }

    fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = Vec::new();
        encode(args, &mut out);
        self.w.write_all(&out).expect("write");
        read_reply(&mut self.r)
    }

    /// SET every key to "v", pipelined; every reply must be +OK.
    fn set_all(&mut self, keys: &[Vec<u8>]) {
        for chunk in keys.chunks(PIPELINE_DEPTH) {
            let mut out = Vec::new();
            for k in chunk {
                encode(&[b"SET", k, b"v"], &mut out);
            }
            self.w.write_all(&out).expect("write");
            for k in chunk {
                match read_reply(&mut self.r) {
                    Reply::Simple(s) if s == b"OK" => {}
                    other => panic!(
                        "SET {:?} through nutcracker: {other:?}",
                        String::from_utf8_lossy(k)
                    ),
                }
            }
        }
    }
}

fn start_redis(dir: &Path, port: u16) -> (Proc, Conn) {
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
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server (is it installed?)");
    // Owned before waiting, so a failed start still kills the process.
    let mut proc_ = Proc(child);
    let stream = connect_until(port, &mut proc_.0);
    let mut conn = Conn::new(stream);
    // The listener may accept before the server loads; PING until it answers.
    let deadline = Instant::now() + STARTUP_DEADLINE;
    loop {
        if matches!(conn.call(&[b"PING"]), Reply::Simple(ref s) if s == b"PONG") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redis on {port} never answered PING"
        );
    }
    (proc_, conn)
}

fn keys_of(conn: &mut Conn) -> Vec<Vec<u8>> {
    match conn.call(&[b"KEYS", b"*"]) {
        Reply::Array(items) => items
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(Some(k)) => k,
                other => panic!("KEYS item {other:?}"),
            })
            .collect(),
        other => panic!("KEYS: {other:?}"),
    }
}

/// Keys of several shapes: plain, hash-tagged, and with bytes ≥ 0x80 (which
/// twemproxy sign-extends in most of its hash functions).
fn test_keys(seed: u64) -> Vec<Vec<u8>> {
    println!("key seed {seed}");
    let mut keys = shoal_hashring::sample_keys(KEYS_PER_CONFIG - 1_000, seed);
    for i in 0..500 {
        keys.push(format!("{{user:{}}}:profile:{i}", i % 37).into_bytes());
    }
    for i in 0..500u32 {
        let mut k = format!("bin:{i}:").into_bytes();
        k.extend_from_slice(&[0x80 | (i % 128) as u8, 0xff, (i * 7 % 256) as u8]);
        keys.push(k);
    }
    keys
}

struct Setup {
    distribution: &'static str,
    hash: HashFn,
    hash_tag: Option<&'static str>,
    /// Server lines with `{port}` placeholders filled in order.
    servers: Vec<Server>,
}

fn run(dir: &Path, redis: &mut [Conn], setup: &Setup, keys: &[Vec<u8>]) {
    for conn in redis.iter_mut() {
        assert!(matches!(conn.call(&[b"FLUSHALL"]), Reply::Simple(_)));
    }
    let listen = free_port();
    let stats = free_port();
    let mut yaml = format!(
        "pool:\n  listen: 127.0.0.1:{listen}\n  hash: {}\n  distribution: {}\n  redis: true\n  auto_eject_hosts: false\n  preconnect: false\n",
        setup.hash, setup.distribution
    );
    if let Some(tag) = setup.hash_tag {
        yaml.push_str(&format!("  hash_tag: \"{tag}\"\n"));
    }
    yaml.push_str("  servers:\n");
    for s in &setup.servers {
        yaml.push_str(&format!("   - {s}\n"));
    }
    let conf = dir.join(format!("nutcracker-{listen}.yml"));
    std::fs::write(&conf, &yaml).expect("write nutcracker config");
    let child = Command::new("nutcracker")
        .arg("-c")
        .arg(&conf)
        .args(["-s", &stats.to_string(), "-a", "127.0.0.1", "-o"])
        .arg(dir.join(format!("nutcracker-{listen}.log")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nutcracker (is it installed?)");
    let mut proc_ = Proc(child);
    let stream = connect_until(listen, &mut proc_.0);
    Conn::new(stream).set_all(keys);

    let dist = match setup.distribution {
        "ketama" => Distribution::Ketama,
        "modula" => Distribution::Modula,
        other => panic!("no such distribution {other}"),
    };
    let pool = Pool::new(setup.servers.clone(), dist, setup.hash, setup.hash_tag, 0).expect("pool");
    let mut holder: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, conn) in redis.iter_mut().enumerate() {
        for k in keys_of(conn) {
            assert!(holder.insert(k, i).is_none(), "a key on two servers");
        }
    }
    assert_eq!(
        holder.len(),
        keys.len(),
        "{} {}: keys lost",
        setup.distribution,
        setup.hash
    );
    let mut wrong = 0;
    for k in keys {
        let expected = pool.server_for(k);
        let actual = &setup.servers[holder[k]];
        if expected != actual {
            if wrong < 5 {
                eprintln!(
                    "{} {}: key {:?} on {} but shoal says {}",
                    setup.distribution,
                    setup.hash,
                    String::from_utf8_lossy(k),
                    actual,
                    expected
                );
            }
            wrong += 1;
        }
    }
    assert_eq!(
        wrong,
        0,
        "{} hash={} tag={:?}: {wrong} of {} keys placed differently",
        setup.distribution,
        setup.hash,
        setup.hash_tag,
        keys.len()
    );
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shoal-hashring-twemproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
#[ignore = "needs nutcracker"]
fn every_key_lands_where_nutcracker_puts_it() {
    let dir = scratch_dir();
    let ports = [free_port(), free_port(), free_port()];
    let mut procs = Vec::new();
    let mut conns = Vec::new();
    for &p in &ports {
        let (proc_, conn) = start_redis(&dir, p);
        procs.push(proc_);
        conns.push(conn);
    }
    let keys = test_keys(20_261_124);
    let plain: Vec<Server> = ports
        .iter()
        .map(|p| Server::parse(&format!("127.0.0.1:{p}:1")).expect("server"))
        .collect();
    // Names and weights: ketama hashes the names; modula repeats by weight.
    let named: Vec<Server> = ports
        .iter()
        .zip([("alpha", 1), ("beta", 2), ("gamma", 1)])
        .map(|(p, (name, w))| Server::parse(&format!("127.0.0.1:{p}:{w} {name}")).expect("server"))
        .collect();

    let twemproxy_hashes: Vec<HashFn> = HashFn::ALL
        .into_iter()
        .filter(|h| h.is_twemproxy())
        .collect();
    assert_eq!(twemproxy_hashes.len(), 12);
    for distribution in ["ketama", "modula"] {
        for &hash in &twemproxy_hashes {
            let setup = Setup {
                distribution,
                hash,
                hash_tag: None,
                servers: plain.clone(),
            };
            run(&dir, &mut conns, &setup, &keys);
        }
        for hash in [HashFn::Fnv1a64, HashFn::Murmur, HashFn::Md5, HashFn::Crc16] {
            for tag in ["{}", "::"] {
                let setup = Setup {
                    distribution,
                    hash,
                    hash_tag: Some(tag),
                    servers: named.clone(),
                };
                run(&dir, &mut conns, &setup, &keys);
            }
        }
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}
