//! MONITOR, CLIENT PAUSE / UNPAUSE, CLIENT KILL, SLOWLOG, CONFIG SET and
//! INFO commandstats, through raw connections to an in-process server.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use shoal_resp::Frame;

fn simple(s: &str) -> Frame {
    Frame::Simple(s.into())
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

fn text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(&text).into_owned(),
        Frame::Simple(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn monitor_sees_other_clients_commands_quoted() {
    let server = TestServer::start();
    let mut monitor = server.connect();
    assert_eq!(monitor.command(&[b"MONITOR"]), simple("OK"));
    let mut client = server.connect();
    assert_eq!(client.command(&[b"SET", b"a b", b"x\ny\x01"]), simple("OK"));
    assert_eq!(client.command(&[b"SELECT", b"3"]), simple("OK"));
    assert_eq!(client.command(&[b"GET", b"k"]), Frame::Null);
    // AUTH-like and admin commands are not shown.
    client.command(&[b"CONFIG", b"GET", b"port"]);
    let lines: Vec<String> = (0..3).map(|_| text(monitor.read_frame())).collect();
    assert!(
        lines[0].ends_with(r#"] "SET" "a b" "x\ny\x01""#),
        "{lines:?}"
    );
    assert!(
        lines[0].starts_with(char::is_numeric) && lines[0].contains(" [0 127.0.0.1:"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(r#""SELECT" "3""#), "{lines:?}");
    assert!(
        lines[2].contains(" [3 127.0.0.1:") && lines[2].ends_with(r#""GET" "k""#),
        "{lines:?}"
    );
    // RESET leaves monitor mode: later commands are not forwarded.
    assert_eq!(monitor.command(&[b"RESET"]), simple("RESET"));
    client.command(&[b"PING"]);
    assert_eq!(monitor.command(&[b"PING"]), simple("PONG"));
}

#[test]
fn client_pause_write_holds_writes_but_not_reads() {
    let server = TestServer::start();
    let mut admin = server.connect();
    assert_eq!(
        admin.command(&[b"CLIENT", b"PAUSE", b"400", b"WRITE"]),
        simple("OK")
    );
    let mut client = server.connect();
    let started = Instant::now();
    assert_eq!(client.command(&[b"GET", b"k"]), Frame::Null);
    let read_took = started.elapsed();
    assert_eq!(client.command(&[b"SET", b"k", b"v"]), simple("OK"));
    let write_took = started.elapsed();
    assert!(
        write_took >= Duration::from_millis(300),
        "write was not held: {write_took:?}"
    );
    assert!(
        read_took < Duration::from_millis(300),
        "read was held: {read_took:?}"
    );
    // UNPAUSE releases at once.
    assert_eq!(
        admin.command(&[b"CLIENT", b"PAUSE", b"60000", b"WRITE"]),
        simple("OK")
    );
    client.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n");
    assert_eq!(admin.command(&[b"CLIENT", b"UNPAUSE"]), simple("OK"));
    assert_eq!(client.read_frame(), simple("OK"));
    assert_eq!(
        admin.command(&[b"CLIENT", b"PAUSE", b"-1"]),
        Frame::Error("ERR timeout is not an integer or out of range".into())
    );
    assert_eq!(
        admin.command(&[b"CLIENT", b"PAUSE", b"10", b"SOME"]),
        Frame::Error("ERR syntax error".into())
    );
}

#[test]
fn client_kill_by_id_closes_that_connection() {
    let server = TestServer::start();
    let mut victim = server.connect();
    let Frame::Integer(id) = victim.command(&[b"CLIENT", b"ID"]) else {
        panic!("id")
    };
    let mut admin = server.connect();
    assert_eq!(
        admin.command(&[b"CLIENT", b"KILL", b"ID", id.to_string().as_bytes()]),
        Frame::Integer(1)
    );
    victim.send(b"PING\r\n");
    assert_eq!(
        victim.read_exact_or_eof(7),
        b"",
        "killed client still answered"
    );
    assert_eq!(
        admin.command(&[b"CLIENT", b"KILL", b"ID", id.to_string().as_bytes()]),
        Frame::Integer(0)
    );
    assert_eq!(
        admin.command(&[b"CLIENT", b"KILL", b"1.2.3.4:5"]),
        Frame::Error("ERR No such client".into())
    );
}

#[test]
fn slowlog_records_slow_commands_and_config_set_applies() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        c.command(&[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"]),
        simple("OK")
    );
    assert_eq!(c.command(&[b"SLOWLOG", b"RESET"]), simple("OK"));
    c.command(&[b"SET", b"k", b"v"]);
    let Frame::Array(entries) = c.command(&[b"SLOWLOG", b"GET", b"1"]) else {
        panic!("array")
    };
    let Frame::Array(entry) = &entries[0] else {
        panic!("entry")
    };
    assert_eq!(
        entry[3],
        Frame::Array(vec![bulk("SET"), bulk("k"), bulk("v")])
    );
    assert_eq!(
        c.command(&[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1"]),
        simple("OK")
    );
    assert_eq!(c.command(&[b"SLOWLOG", b"RESET"]), simple("OK"));
    c.command(&[b"SET", b"k", b"v"]);
    assert_eq!(c.command(&[b"SLOWLOG", b"LEN"]), Frame::Integer(0));
    assert_eq!(
        c.command(&[b"CONFIG", b"SET", b"port", b"1"]),
        Frame::Error("ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config".into())
    );
    assert_eq!(
        c.command(&[b"CONFIG", b"SET", b"nosuch", b"1"]),
        Frame::Error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'".into())
    );
}

#[test]
fn commandstats_count_calls_failures_and_rejections() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.command(&[b"CONFIG", b"RESETSTAT"]);
    c.command(&[b"SET", b"k", b"v"]);
    c.command(&[b"INCR", b"k"]);
    c.command(&[b"GET"]);
    let info = text(c.command(&[b"INFO", b"commandstats"]));
    assert!(info.contains("cmdstat_set:calls=1,"), "{info}");
    assert!(
        info.contains("cmdstat_incr:calls=1,") && info.contains("rejected_calls=0,failed_calls=1"),
        "{info}"
    );
    assert!(
        info.contains(
            "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
        ),
        "{info}"
    );
    let errors = text(c.command(&[b"INFO", b"errorstats"]));
    assert!(errors.contains("errorstat_ERR:count=2"), "{errors}");
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let server = TestServer::start_with(&["--requirepass", "s3cret"]);
    let mut c = server.connect();
    assert_eq!(
        c.command(&[b"GET", b"k"]),
        Frame::Error("NOAUTH Authentication required.".into())
    );
    assert_eq!(
        c.command(&[b"AUTH", b"wrong"]),
        Frame::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
    );
    assert_eq!(c.command(&[b"AUTH", b"default", b"s3cret"]), simple("OK"));
    assert_eq!(c.command(&[b"GET", b"k"]), Frame::Null);
    // Unauthenticated clients may not declare big requests.
    let mut d = server.connect();
    d.send(b"*11\r\n");
    assert_eq!(
        d.read_frame(),
        Frame::Error("ERR Protocol error: unauthenticated multibulk length".into())
    );
}

#[test]
fn maxmemory_noeviction_refuses_growth_but_serves_reads() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(c.command(&[b"SET", b"k", b"v"]), simple("OK"));
    // Any running server uses more than 1000 bytes.
    assert_eq!(
        c.command(&[b"CONFIG", b"SET", b"maxmemory", b"1000"]),
        simple("OK")
    );
    let oom = Frame::Error("OOM command not allowed when used memory > 'maxmemory'.".into());
    assert_eq!(c.command(&[b"SET", b"k2", b"v"]), oom);
    assert_eq!(c.command(&[b"GET", b"k"]), bulk("v"));
    assert_eq!(
        c.command(&[b"DEL", b"k"]),
        Frame::Integer(1),
        "DEL frees memory, so it is allowed"
    );
    // A refused command inside MULTI aborts the transaction.
    assert_eq!(c.command(&[b"MULTI"]), simple("OK"));
    assert_eq!(c.command(&[b"SET", b"k3", b"v"]), oom);
    assert_eq!(
        c.command(&[b"EXEC"]),
        Frame::Error("EXECABORT Transaction discarded because of previous errors.".into())
    );
    assert_eq!(
        c.command(&[b"CONFIG", b"SET", b"maxmemory", b"0"]),
        simple("OK")
    );
    assert_eq!(c.command(&[b"SET", b"k2", b"v"]), simple("OK"));
}

#[test]
fn instantaneous_ops_per_sec_follows_load() {
    let server = TestServer::start();
    let mut c = server.connect();
    let ops = |c: &mut common::Conn| -> u64 {
        let info = text(c.command(&[b"INFO", b"stats"]));
        let line = info
            .lines()
            .find(|l| l.starts_with("instantaneous_ops_per_sec:"))
            .expect("field present");
        line.split(':').nth(1).unwrap().trim().parse().unwrap()
    };
    // Keep commands flowing until the sampled rate shows them, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let burst: Vec<u8> = b"PING\r\n".repeat(500);
        c.send(&burst);
        assert_eq!(c.read_exact_or_eof(7 * 500).len(), 7 * 500);
        if ops(&mut c) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instantaneous_ops_per_sec stayed 0 under load"
        );
    }
}

#[test]
fn exec_of_a_transaction_that_may_grow_memory_is_refused_over_maxmemory() {
    let server = TestServer::start();
    let mut c = server.connect();
    let mut admin = server.connect();
    assert_eq!(c.command(&[b"MULTI"]), simple("OK"));
    assert_eq!(c.command(&[b"SET", b"x", b"1"]), simple("QUEUED"));
    assert_eq!(c.command(&[b"GET", b"x"]), simple("QUEUED"));
    admin.command(&[b"CONFIG", b"SET", b"maxmemory", b"1"]);
    assert_eq!(
        c.command(&[b"EXEC"]),
        Frame::Error(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'."
                .into()
        )
    );
    // Reads alone still run.
    assert_eq!(c.command(&[b"MULTI"]), simple("OK"));
    c.command(&[b"GET", b"x"]);
    assert_eq!(c.command(&[b"EXEC"]), Frame::Array(vec![Frame::Null]));
    admin.command(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
}

fn info_number(c: &mut common::Conn, field: &str) -> i64 {
    let info = text(c.command(&[b"INFO", b"everything"]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

fn wait_freed(c: &mut common::Conn, n: i64) {
    let start = Instant::now();
    while info_number(c, "lazyfreed_objects") != n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "lazyfree never reached {n}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_number(c, "lazyfree_pending_objects"), 0);
}

#[test]
fn unlink_and_flush_async_free_big_values_in_the_background() {
    let server = TestServer::start();
    let mut c = server.connect();
    let members: Vec<Vec<u8>> = (0..1000).map(|i| format!("m{i}").into_bytes()).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"big"];
    sadd.extend(members.iter().map(Vec::as_slice));
    c.command(&sadd);
    c.command(&[b"SADD", b"small", b"1"]);
    // A small value is freed at once; a big one by the background thread.
    assert_eq!(c.command(&[b"UNLINK", b"small", b"big"]), Frame::Integer(2));
    wait_freed(&mut c, 1);
    // DEL is synchronous unless lazyfree-lazy-user-del says otherwise.
    c.command(&sadd);
    c.command(&[b"DEL", b"big"]);
    assert_eq!(info_number(&mut c, "lazyfreed_objects"), 1);
    c.command(&[b"CONFIG", b"SET", b"lazyfree-lazy-user-del", b"yes"]);
    c.command(&sadd);
    c.command(&[b"DEL", b"big"]);
    wait_freed(&mut c, 2);
    // FLUSHALL ASYNC counts every key it hands over.
    for i in 0..10 {
        c.command(&[b"SET", format!("k{i}").as_bytes(), b"v"]);
    }
    assert_eq!(c.command(&[b"FLUSHALL", b"ASYNC"]), simple("OK"));
    wait_freed(&mut c, 12);
    assert_eq!(c.command(&[b"DBSIZE"]), Frame::Integer(0));
    c.command(&[b"CONFIG", b"RESETSTAT"]);
    assert_eq!(info_number(&mut c, "lazyfreed_objects"), 0);
}
