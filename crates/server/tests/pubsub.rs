//! Pub/Sub and keyspace notifications over real connections: replies and
//! pushed messages byte-exact where Redis's wording matters, the same
//! multi-client scenario compared frame by frame with a real redis-server,
//! and the output-buffer limit that drops a subscriber that stops reading.

mod common;

use bytes::Bytes;
use common::{Conn, RedisServer, TestServer};
use shoal_resp::Frame;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.command(&args)
}

/// Reads exactly `expected.len()` bytes and compares them.
fn expect_bytes(conn: &mut Conn, expected: &[u8]) {
    let got = conn.read_exact_or_eof(expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

fn send(conn: &mut Conn, line: &str) {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.send(&common::encode(&args));
}

#[test]
fn subscribe_publish_unsubscribe_bytes_match_redis() {
    let server = TestServer::start();
    let mut sub = server.connect();
    let mut publisher = server.connect();
    sub.send(&common::encode(&[b"SUBSCRIBE", b"a", b"b"]));
    expect_bytes(
        &mut sub,
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    );
    assert_eq!(cmd(&mut publisher, "PUBLISH a hello"), Frame::Integer(1));
    assert_eq!(cmd(&mut publisher, "PUBLISH zz hello"), Frame::Integer(0));
    expect_bytes(
        &mut sub,
        b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n",
    );
    send(&mut sub, "PING");
    send(&mut sub, "GET k");
    expect_bytes(&mut sub, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(
        sub.read_frame(),
        Frame::Error("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context".into())
    );
    send(&mut sub, "UNSUBSCRIBE a b");
    sub.read_frame();
    assert_eq!(
        sub.read_frame(),
        Frame::Array(vec![bulk("unsubscribe"), bulk("b"), Frame::Integer(0)])
    );
    send(&mut sub, "UNSUBSCRIBE");
    expect_bytes(&mut sub, b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    // Out of subscribed mode, commands work again.
    assert_eq!(cmd(&mut sub, "GET k"), Frame::Null);
}

#[test]
fn resp3_self_publish_arrives_before_the_reply() {
    let server = TestServer::start();
    let mut c = server.connect();
    cmd(&mut c, "HELLO 3");
    c.send(&common::encode(&[b"SUBSCRIBE", b"ch"]));
    expect_bytes(&mut c, b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    c.send(&common::encode(&[b"PUBLISH", b"ch", b"hi"]));
    expect_bytes(
        &mut c,
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n:1\r\n",
    );
    // RESP3 subscribers may run any command.
    assert_eq!(cmd(&mut c, "GET k"), Frame::Null);
}

#[test]
fn disconnect_and_reset_forget_subscriptions() {
    let server = TestServer::start();
    let mut admin = server.connect();
    {
        let mut sub = server.connect();
        send(&mut sub, "SUBSCRIBE x");
        sub.read_frame();
        send(&mut sub, "PSUBSCRIBE y*");
        sub.read_frame();
        assert_eq!(
            cmd(&mut admin, "PUBSUB NUMSUB x"),
            Frame::Array(vec![bulk("x"), Frame::Integer(1)])
        );
        assert_eq!(cmd(&mut admin, "PUBSUB NUMPAT"), Frame::Integer(1));
        assert_eq!(cmd(&mut sub, "RESET"), Frame::Simple("RESET".into()));
        assert_eq!(cmd(&mut admin, "PUBSUB NUMPAT"), Frame::Integer(0));
        send(&mut sub, "SUBSCRIBE x");
        sub.read_frame();
    }
    // The subscriber is gone; give its task a moment to clean up.
    let started = std::time::Instant::now();
    while cmd(&mut admin, "PUBLISH x m") != Frame::Integer(0) {
        assert!(started.elapsed() < common::DEADLINE, "subscription leaked");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(cmd(&mut admin, "PUBSUB CHANNELS"), Frame::Array(vec![]));
}

#[test]
fn keyspace_events_follow_the_configured_classes() {
    let server = TestServer::start();
    let mut listener = server.connect();
    let mut writer = server.connect();
    assert_eq!(
        cmd(&mut writer, "CONFIG SET notify-keyspace-events xnK"),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        cmd(&mut writer, "CONFIG GET notify-keyspace-events"),
        Frame::Array(vec![bulk("notify-keyspace-events"), bulk("xKn")])
    );
    send(&mut listener, "PSUBSCRIBE __key*");
    listener.read_frame();
    let event = |name: &str| {
        Frame::Array(vec![
            bulk("pmessage"),
            bulk("__key*"),
            bulk("__keyspace@0__:k"),
            bulk(name),
        ])
    };
    cmd(&mut writer, "SET k v PX 1");
    assert_eq!(listener.read_frame(), event("new"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(cmd(&mut writer, "GET k"), Frame::Null);
    assert_eq!(listener.read_frame(), event("expired"));
    // Overwriting an existing key is not `new`; keyevent channels are off.
    cmd(&mut writer, "SET k v2");
    cmd(&mut writer, "SET k v3");
    cmd(&mut writer, "CONFIG SET notify-keyspace-events En");
    cmd(&mut writer, "SET other v");
    assert_eq!(listener.read_frame(), event("new"));
    assert_eq!(
        listener.read_frame(),
        Frame::Array(vec![
            bulk("pmessage"),
            bulk("__key*"),
            bulk("__keyevent@0__:new"),
            bulk("other"),
        ])
    );
}

#[test]
fn subscriber_that_stops_reading_is_disconnected_by_the_output_limit() {
    let server = TestServer::start();
    let mut admin = server.connect();
    assert_eq!(
        admin.command(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 1mb 0 0"
        ]),
        Frame::Simple("OK".into())
    );
    let mut sub = server.connect();
    send(&mut sub, "SUBSCRIBE flood");
    sub.read_frame();
    // The subscriber never reads again; 64 MiB of messages would be queued
    // for it without the limit.
    let payload = vec![b'x'; 64 * 1024];
    let mut dropped = false;
    for _ in 0..1024 {
        let n = admin.command(&[b"PUBLISH", b"flood", &payload]);
        if n == Frame::Integer(0) {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the subscriber was never disconnected");
    assert!(sub.wait_closed());
}

/// The scripted multi-client session the comparison with Redis replays.
fn scenario(connect: &dyn Fn() -> Conn) -> Vec<String> {
    let mut log = Vec::new();
    let mut a = connect();
    let mut b = connect();
    let mut c = connect();
    let mut record = |who: &str, f: Frame| log.push(format!("{who}: {f:?}"));
    for line in ["SUBSCRIBE a b", "PSUBSCRIBE n*", "SSUBSCRIBE s"] {
        send(&mut a, line);
    }
    for _ in 0..4 {
        record("a", a.read_frame());
    }
    for line in [
        "PUBLISH a one",
        "PUBLISH news two",
        "PUBLISH b three",
        "SPUBLISH s four",
        "SPUBLISH a five",
        "PUBSUB NUMSUB a b zz",
        "PUBSUB NUMPAT",
        "PUBSUB SHARDCHANNELS",
        "PUBSUB SHARDNUMSUB s t",
        "PUBSUB CHANNELS n*",
        "PUBSUB CHANNELS x y",
        "PUBSUB NUMPAT x",
        "PUBSUB NOPE",
        "PUBLISH a",
    ] {
        record("b", cmd(&mut b, line));
    }
    for _ in 0..4 {
        record("a", a.read_frame());
    }
    for line in [
        "PING",
        "PING hi",
        "GET k",
        "UNSUBSCRIBE b zz",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE s",
        "UNSUBSCRIBE a",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "GET k",
    ] {
        send(&mut a, line);
        record("a", a.read_frame());
    }
    record("a", a.read_frame());
    // RESP3: pushes, self-delivery order, keyspace events.
    cmd(&mut c, "HELLO 3");
    for line in [
        "SUBSCRIBE c",
        "PUBLISH c self",
        "CONFIG SET notify-keyspace-events KEA",
        "PSUBSCRIBE __key*@0__:k",
        "SET k v",
        "APPEND k w",
        "INCR n",
        "RENAME k k2",
        "PEXPIRE k2 100000",
        "PERSIST k2",
        "DEL k2 n",
        "CONFIG SET notify-keyspace-events Elgx",
        "SET k v",
        "DEL k",
        "GET k",
    ] {
        send(&mut c, line);
    }
    // Count replies by reading until the final GET's null.
    loop {
        let f = c.read_frame();
        let done = f == Frame::Null;
        record("c", f);
        if done {
            break;
        }
    }
    log
}

#[test]
fn scenario_runs_on_shoal() {
    let server = TestServer::start();
    let log = scenario(&|| server.connect());
    assert!(log.iter().any(|l| l.contains("pmessage")), "{log:#?}");
}

#[test]
#[ignore = "needs redis-server"]
fn scenario_matches_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let from_redis = scenario(&|| redis.connect());
    let from_shoal = scenario(&|| shoal.connect());
    for (i, (r, s)) in from_redis.iter().zip(&from_shoal).enumerate() {
        assert_eq!(
            r, s,
            "step {i} differs\nredis: {from_redis:#?}\nshoal: {from_shoal:#?}"
        );
    }
    assert_eq!(from_redis.len(), from_shoal.len());
}
