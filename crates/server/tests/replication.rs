//! The master side of replication: SYNC and PSYNC as a replica sees them
//! on the wire, the stream's exact contents, partial resynchronization
//! from the backlog, WAIT, ROLE and INFO, and a real `redis-server`
//! replicating from Shoal.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{encode, Conn, RedisServer, TestServer, DEADLINE};
use shoal_resp::Frame;

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.command(&args)
}

fn bulk_text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Frame::Simple(s) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

/// One line of the replication handshake, skipping the newlines a master
/// sends as keepalives before it.
fn read_line(conn: &mut Conn) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let byte = conn.read_exact_or_eof(1);
        assert_eq!(byte.len(), 1, "connection closed after {line:?}");
        if line.is_empty() && byte[0] == b'\n' {
            continue;
        }
        line.extend_from_slice(&byte);
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).unwrap()
}

/// Reads SYNC's `$len` and the RDB image after it.
fn read_rdb(conn: &mut Conn) -> Vec<u8> {
    let header = read_line(conn);
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected $<len>, got {header:?}"));
    let image = conn.read_exact_or_eof(len);
    assert_eq!(image.len(), len);
    assert!(image.starts_with(b"REDIS0010"), "{:?}", &image[..9]);
    image
}

/// The next command of the stream, as text words.
fn next_command(conn: &mut Conn) -> Vec<String> {
    match conn.read_frame() {
        Frame::Array(items) => items.into_iter().map(bulk_text).collect(),
        other => panic!("expected a command, got {other:?}"),
    }
}

fn words(line: &str) -> Vec<String> {
    line.split(' ').map(String::from).collect()
}

/// A server whose replicas are not pinged during a test.
fn quiet_master() -> TestServer {
    TestServer::start_with(&["--repl-ping-replica-period", "3600"])
}

#[test]
fn sync_sends_an_image_then_every_write_in_order() {
    let server = quiet_master();
    let mut c = server.connect();
    cmd(&mut c, "SET before 1");
    let mut replica = server.connect();
    replica.send(b"SYNC\r\n");
    read_rdb(&mut replica);
    cmd(&mut c, "SET foo bar");
    cmd(&mut c, "GET foo");
    cmd(&mut c, "SELECT 2");
    cmd(&mut c, "INCR n");
    cmd(&mut c, "DEL nothing");
    // One write in a transaction goes alone; two are wrapped.
    cmd(&mut c, "MULTI");
    cmd(&mut c, "SET one 1");
    cmd(&mut c, "EXEC");
    cmd(&mut c, "MULTI");
    cmd(&mut c, "SET a 1");
    cmd(&mut c, "GET a");
    cmd(&mut c, "SET b 2");
    cmd(&mut c, "EXEC");
    cmd(&mut c, "SELECT 0");
    cmd(&mut c, "SET last x");
    for expected in [
        "SELECT 0",
        "SET foo bar",
        "SELECT 2",
        "INCR n",
        "SET one 1",
        "MULTI",
        "SET a 1",
        "SET b 2",
        "EXEC",
        "SELECT 0",
        "SET last x",
    ] {
        assert_eq!(next_command(&mut replica), words(expected));
    }
    // The image holds what was there before the sync.
    let info = bulk_text(cmd(&mut c, "INFO replication"));
    assert!(info.contains("connected_slaves:1\r\n"), "{info}");
    assert!(
        info.contains("slave0:ip=127.0.0.1,port=0,state=online"),
        "{info}"
    );
}

#[test]
fn relative_expiry_and_expired_keys_reach_replicas_as_absolute_writes() {
    let server = quiet_master();
    let mut c = server.connect();
    cmd(&mut c, "DEBUG SET-ACTIVE-EXPIRE 0");
    cmd(&mut c, "SET short v PX 1");
    let mut replica = server.connect();
    replica.send(b"SYNC\r\n");
    read_rdb(&mut replica);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(cmd(&mut c, "GET short"), Frame::Null);
    cmd(&mut c, "SET k v EX 100");
    assert_eq!(next_command(&mut replica), words("SELECT 0"));
    assert_eq!(next_command(&mut replica), words("DEL short"));
    let set = next_command(&mut replica);
    assert_eq!(set[..4], words("SET k v PXAT")[..]);
}

#[test]
fn psync_resumes_from_the_backlog_after_a_disconnect() {
    let server = quiet_master();
    let mut c = server.connect();
    let mut replica = server.connect();
    assert_eq!(
        replica.command(&[b"REPLCONF", b"capa", b"psync2"]),
        Frame::Simple("OK".into())
    );
    replica.send(&encode(&[b"PSYNC", b"?", b"-1"]));
    let line = read_line(&mut replica);
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC", "{line}");
    let replid = parts[1].to_string();
    assert_eq!(replid.len(), 40);
    let mut offset: u64 = parts[2].parse().unwrap();
    read_rdb(&mut replica);
    cmd(&mut c, "SET a 1");
    let select = encode(&[b"SELECT", b"0"]);
    let set_a = encode(&[b"SET", b"a", b"1"]);
    let got = replica.read_exact_or_eof(select.len() + set_a.len());
    assert_eq!(got, [select, set_a].concat());
    offset += got.len() as u64;
    drop(replica);
    // Written while the replica is away: the backlog keeps it.
    cmd(&mut c, "SET b 2");
    let info = bulk_text(cmd(&mut c, "INFO replication"));
    let master_offset = field(&info, "master_repl_offset");
    assert_eq!(
        master_offset,
        offset + encode(&[b"SET", b"b", b"2"]).len() as u64
    );
    let mut again = server.connect();
    again.command(&[b"REPLCONF", b"capa", b"psync2"]);
    again.send(&encode(&[
        b"PSYNC",
        replid.as_bytes(),
        (offset + 1).to_string().as_bytes(),
    ]));
    assert_eq!(read_line(&mut again), format!("+CONTINUE {replid}"));
    assert_eq!(next_command(&mut again), words("SET b 2"));
    let stats = bulk_text(cmd(&mut c, "INFO stats"));
    assert_eq!(field(&stats, "sync_full"), 1);
    assert_eq!(field(&stats, "sync_partial_ok"), 1);
    // An unknown history, or an offset the backlog no longer has, means
    // a full resynchronization.
    let mut other = server.connect();
    other.send(&encode(&[
        b"PSYNC",
        b"0123456789012345678901234567890123456789",
        b"1",
    ]));
    assert!(read_line(&mut other).starts_with("+FULLRESYNC "));
    read_rdb(&mut other);
    let stats = bulk_text(cmd(&mut c, "INFO stats"));
    assert_eq!(field(&stats, "sync_partial_err"), 1);
}

fn field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn wait_counts_replicas_that_acknowledged_the_clients_writes() {
    let server = quiet_master();
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "WAIT 0 0"), Frame::Integer(0));
    let started = Instant::now();
    assert_eq!(cmd(&mut c, "WAIT 1 100"), Frame::Integer(0));
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        cmd(&mut c, "WAIT 1 -1"),
        Frame::Error("ERR timeout is negative".into())
    );
    assert_eq!(
        cmd(&mut c, "WAIT x 0"),
        Frame::Error("ERR value is not an integer or out of range".into())
    );

    let mut replica = server.connect();
    replica.send(&encode(&[b"PSYNC", b"?", b"-1"]));
    let line = read_line(&mut replica);
    let offset: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    read_rdb(&mut replica);
    cmd(&mut c, "SET k v");
    // WAIT asks the replicas for their offsets; this one answers with
    // what it has read, and WAIT returns.
    c.send(&encode(&[b"WAIT", b"1", b"0"]));
    let mut seen = offset;
    loop {
        let command = next_command(&mut replica);
        seen += encode(&command.iter().map(|w| w.as_bytes()).collect::<Vec<_>>()).len() as u64;
        if command == words("REPLCONF GETACK *") {
            break;
        }
    }
    replica.send(&encode(&[b"REPLCONF", b"ACK", seen.to_string().as_bytes()]));
    assert_eq!(c.read_frame(), Frame::Integer(1));
    // Commands after a WAIT run after it.
    c.send(&encode(&[b"WAIT", b"2", b"50"]));
    c.send(&encode(&[b"PING"]));
    assert_eq!(c.read_frame(), Frame::Integer(1));
    assert_eq!(c.read_frame(), Frame::Simple("PONG".into()));
    let role = cmd(&mut c, "ROLE");
    let Frame::Array(role) = role else {
        panic!("{role:?}")
    };
    assert_eq!(role[0], Frame::Bulk(Bytes::from_static(b"master")));
    assert!(
        matches!(&role[2], Frame::Array(r) if r.len() == 1),
        "{role:?}"
    );
}

#[test]
fn replconf_answers_as_redis() {
    let server = quiet_master();
    let mut c = server.connect();
    assert_eq!(
        cmd(&mut c, "REPLCONF listening-port 6380 capa eof capa psync2"),
        Frame::Simple("OK".into())
    );
    assert_eq!(cmd(&mut c, "REPLCONF"), Frame::Simple("OK".into()));
    assert_eq!(
        cmd(&mut c, "REPLCONF listening-port"),
        Frame::Error("ERR syntax error".into())
    );
    assert_eq!(
        cmd(&mut c, "REPLCONF foo bar"),
        Frame::Error("ERR Unrecognized REPLCONF option: foo".into())
    );
    // ACK from a connection that is not a replica gets no reply at all.
    c.send(&encode(&[b"REPLCONF", b"ACK", b"10"]));
    assert_eq!(cmd(&mut c, "PING"), Frame::Simple("PONG".into()));
    assert_eq!(cmd(&mut c, "MULTI"), Frame::Simple("OK".into()));
    assert_eq!(
        cmd(&mut c, "SYNC"),
        Frame::Error("ERR Command not allowed inside a transaction".into())
    );
}

#[test]
fn a_replica_that_stops_reading_is_dropped_at_its_output_limit() {
    let server = TestServer::start_with(&[
        "--repl-ping-replica-period",
        "3600",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let mut c = server.connect();
    let mut replica = server.connect();
    replica.send(b"SYNC\r\n");
    read_rdb(&mut replica);
    // The replica reads nothing more; the socket buffers fill, then the
    // queue grows past 1 MB and the master lets go of it.
    let value = vec![b'x'; 64 * 1024];
    let started = Instant::now();
    loop {
        c.command(&[b"SET", b"big", &value]);
        let info = bulk_text(cmd(&mut c, "INFO replication"));
        if info.contains("connected_slaves:0\r\n") {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "replica never dropped");
    }
}

/// A real `redis-server` follows Shoal: after a full sync and a stream of
/// writes of every type, its dataset digest equals Shoal's.
#[test]
#[ignore = "needs redis-server"]
fn redis_server_replicates_from_shoal() {
    let server = TestServer::start();
    let mut c = server.connect();
    cmd(&mut c, "SET before-sync 1");
    cmd(&mut c, "RPUSH list-before a b c");
    let port = server.addr.port().to_string();
    // A replica stores the image it receives: keep it out of the tree.
    let dir = std::env::temp_dir().join(format!("shoal-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let redis = RedisServer::start_with(&[
        "--dir",
        dir.to_str().unwrap(),
        "--replicaof",
        "127.0.0.1",
        &port,
    ]);
    let mut r = redis.connect();
    wait_until(|| bulk_text(cmd(&mut r, "INFO replication")).contains("master_link_status:up"));
    for line in [
        "SET s hello",
        "SET n 10",
        "INCRBY n 5",
        "APPEND s world",
        "SET ttl v EX 1000",
        "RPUSH l 1 2 3 4",
        "LPOP l",
        "HSET h f1 v1 f2 v2",
        "SADD set a b c 1 2",
        "SPOP set",
        "ZADD z 1 a 2 b 3.5 c",
        "ZINCRBY z 2 a",
        "SELECT 5",
        "SET in5 x",
        "MULTI",
        "INCR m",
        "INCR m",
        "EXEC",
        "SELECT 0",
        "DEL before-sync",
        "EXPIRE s 500",
        "FLUSHDB",
        "SET after-flush y",
    ] {
        cmd(&mut c, line);
    }
    let digest = bulk_text(cmd(&mut c, "DEBUG DIGEST"));
    wait_until(|| {
        let master = field(
            &bulk_text(cmd(&mut c, "INFO replication")),
            "master_repl_offset",
        );
        let replica = field(
            &bulk_text(cmd(&mut r, "INFO replication")),
            "master_repl_offset",
        );
        master == replica
    });
    assert_eq!(bulk_text(cmd(&mut r, "DEBUG DIGEST")), digest);
    assert_eq!(
        cmd(&mut r, "GET after-flush"),
        Frame::Bulk(Bytes::from_static(b"y"))
    );
    assert_eq!(cmd(&mut r, "DBSIZE"), Frame::Integer(1));
    // The replica acknowledges: WAIT sees it.
    assert_eq!(cmd(&mut c, "WAIT 1 5000"), Frame::Integer(1));
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < DEADLINE, "condition never held");
        std::thread::sleep(Duration::from_millis(20));
    }
}
