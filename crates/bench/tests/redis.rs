//! The generator against a real redis-server 7.0: counts confirmed by the
//! server's own INFO commandstats, values verified, RESP3 and pipelining.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shoal_bench::{run, CommandSpec, Config, Stop, Target};

/// How long redis-server gets to start accepting connections.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().unwrap().port()
        };
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
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let redis = Redis { child, port };
        let deadline = Instant::now() + STARTUP_DEADLINE;
        while redis.command(b"*1\r\n$4\r\nPING\r\n").is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::yield_now();
        }
        redis
    }

    /// Sends raw RESP and returns the raw reply: one line, or for a bulk
    /// string its whole payload.
    fn command(&self, raw: &[u8]) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.write_all(raw)?;
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
            let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
                continue;
            };
            let need = match buf[0] {
                b'$' => {
                    let len: usize = String::from_utf8_lossy(&buf[1..eol]).parse().unwrap_or(0);
                    eol + 2 + len + 2
                }
                _ => eol + 2,
            };
            if buf.len() >= need {
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }

    fn calls(&self, command: &str) -> u64 {
        let info = self
            .command(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
            .expect("INFO");
        let key = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().expect("calls is a number"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs redis-server"]
fn counts_match_redis_commandstats_and_values_verify() {
    let redis = Redis::start();
    let seed = 31;
    println!("seed {seed}");
    let mut c = Config::new(Target {
        host: "127.0.0.1".into(),
        port: redis.port,
    });
    c.seed = seed;
    c.threads = 2;
    c.clients_per_thread = 8;
    c.pipeline = 16;
    c.verify = true;
    c.data_size = "1-2000".parse().unwrap();
    c.keys.maximum = 999;
    c.commands = CommandSpec::set_get(1, 2);
    c.stop = Stop::Requests(30_001);
    let report = run(&c, &mut |_| {}).expect("run");
    assert_eq!(report.requests, 30_001);
    assert_eq!(report.errors, 0, "{}", report.table());
    assert_eq!(redis.calls("set"), report.commands[0].requests);
    assert_eq!(redis.calls("get"), report.commands[1].requests);
    assert!(report.commands[1].hits > 0);

    // RESP3 replies (maps from HELLO, nulls as `_`) parse the same way.
    c.resp3 = true;
    c.stop = Stop::Requests(5_000);
    let report = run(&c, &mut |_| {}).expect("resp3 run");
    assert_eq!(report.errors, 0, "{}", report.table());
    assert_eq!(redis.calls("hello"), 16);
}

#[test]
#[ignore = "needs redis-server"]
fn custom_commands_against_redis() {
    let redis = Redis::start();
    let mut c = Config::new(Target {
        host: "127.0.0.1".into(),
        port: redis.port,
    });
    c.seed = 32;
    c.keys.prefix = String::new();
    c.commands = vec![
        CommandSpec::parse("ZADD lb __key__ m__key__", 3).unwrap(),
        CommandSpec::parse("ZREVRANGE lb 0 9 WITHSCORES", 1).unwrap(),
        CommandSpec::parse("HSET h:__key__ f __data__", 1).unwrap(),
    ];
    c.stop = Stop::Requests(5_000);
    let report = run(&c, &mut |_| {}).expect("run");
    assert_eq!(report.errors, 0, "{}", report.table());
    assert_eq!(redis.calls("zadd"), 3_000);
    assert_eq!(redis.calls("zrevrange"), 1_000);
    assert_eq!(redis.calls("hset"), 1_000);
}
