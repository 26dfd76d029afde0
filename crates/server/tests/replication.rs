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
    cmd(&mut c, "CONFIG SET replica-serve-stale-data yes");
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

fn digest(conn: &mut Conn) -> String {
    bulk_text(cmd(conn, "DEBUG DIGEST"))
}

/// Waits until `replica` has applied everything `master` wrote.
fn wait_caught_up(master: &mut Conn, replica: &mut Conn) {
    wait_until(|| {
        let m = field(
            &bulk_text(cmd(master, "INFO replication")),
            "master_repl_offset",
        );
        let info = bulk_text(cmd(replica, "INFO replication"));
        info.contains("master_link_status:up") && field(&info, "slave_repl_offset") == m
    });
}

#[test]
fn a_shoal_replica_follows_a_shoal_master_and_can_be_promoted() {
    let a = TestServer::start();
    let b = TestServer::start();
    let c = TestServer::start();
    let mut ma = a.connect();
    let mut mb = b.connect();
    let mut mc = c.connect();
    cmd(&mut ma, "SET synced-by-image 1");
    cmd(&mut ma, "ZADD z 1 a 2 b");
    cmd(&mut mb, "SET only-on-b gone-after-sync");
    let a_port = a.addr.port().to_string();
    let b_port = b.addr.port().to_string();
    assert_eq!(
        mb.command(&[b"REPLICAOF", b"127.0.0.1", a_port.as_bytes()]),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        mb.command(&[b"REPLICAOF", b"127.0.0.1", a_port.as_bytes()]),
        Frame::Simple("OK Already connected to specified master".into())
    );
    // C follows B: A's writes reach it through B.
    mc.command(&[b"REPLICAOF", b"127.0.0.1", b_port.as_bytes()]);
    wait_caught_up(&mut ma, &mut mb);
    for line in [
        "SET s v",
        "INCR n",
        "HSET h f v",
        "SELECT 3",
        "SADD set x y",
        "MULTI",
        "LPUSH l 1",
        "LPUSH l 2",
        "EXEC",
        "SELECT 0",
        "DEL synced-by-image",
    ] {
        cmd(&mut ma, line);
    }
    wait_caught_up(&mut ma, &mut mb);
    wait_caught_up(&mut mb, &mut mc);
    let expected = digest(&mut ma);
    assert_eq!(digest(&mut mb), expected);
    assert_eq!(digest(&mut mc), expected);
    assert_eq!(cmd(&mut mb, "EXISTS only-on-b"), Frame::Integer(0));
    // A read-only replica refuses writes, whole transactions included.
    assert_eq!(
        cmd(&mut mb, "SET x 1"),
        Frame::Error("READONLY You can't write against a read only replica.".into())
    );
    cmd(&mut mb, "MULTI");
    assert_eq!(
        cmd(&mut mb, "INCR n"),
        Frame::Error("READONLY You can't write against a read only replica.".into())
    );
    assert_eq!(
        cmd(&mut mb, "EXEC"),
        Frame::Error("EXECABORT Transaction discarded because of previous errors.".into())
    );
    let Frame::Array(role) = cmd(&mut mb, "ROLE") else {
        panic!("ROLE")
    };
    assert_eq!(role[0], Frame::Bulk(Bytes::from_static(b"slave")));
    assert_eq!(role[2], Frame::Integer(i64::from(a.addr.port())));
    assert_eq!(role[3], Frame::Bulk(Bytes::from_static(b"connected")));
    // The master knows its replica by the port it listens on.
    let info = bulk_text(cmd(&mut ma, "INFO replication"));
    assert!(
        info.contains(&format!("slave0:ip=127.0.0.1,port={b_port},state=online")),
        "{info}"
    );
    assert_eq!(cmd(&mut ma, "WAIT 1 5000"), Frame::Integer(1));
    assert_eq!(
        cmd(&mut mb, "WAIT 1 0"),
        Frame::Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into())
    );

    // Promoted, B keeps its data and takes writes; C keeps following it.
    let old_id = bulk_text(cmd(&mut mb, "INFO replication"))
        .lines()
        .find_map(|l| l.strip_prefix("master_replid:").map(str::to_string))
        .unwrap();
    assert_eq!(cmd(&mut mb, "REPLICAOF NO ONE"), Frame::Simple("OK".into()));
    let info = bulk_text(cmd(&mut mb, "INFO replication"));
    assert!(info.contains("role:master"), "{info}");
    assert!(info.contains(&format!("master_replid2:{old_id}")), "{info}");
    assert_eq!(
        cmd(&mut mb, "SET after-promotion yes"),
        Frame::Simple("OK".into())
    );
    wait_caught_up(&mut mb, &mut mc);
    assert_eq!(
        cmd(&mut mc, "GET after-promotion"),
        Frame::Bulk(Bytes::from_static(b"yes"))
    );
}

#[test]
fn a_replica_without_its_master_answers_masterdown_when_told_to() {
    let server = TestServer::start();
    let mut c = server.connect();
    let mut other = server.connect();
    cmd(&mut c, "SET k v");
    cmd(&mut c, "CONFIG SET replica-serve-stale-data no");
    cmd(&mut c, "MULTI");
    cmd(&mut c, "GET k");
    // Nothing listens there: the link stays down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    other.command(&[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]);
    let down = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    assert_eq!(
        cmd(&mut c, "EXEC"),
        Frame::Error(format!(
            "EXECABORT Transaction discarded because of: {down}"
        ))
    );
    assert_eq!(cmd(&mut c, "GET k"), Frame::Error(down.into()));
    assert_eq!(cmd(&mut c, "PING"), Frame::Error(down.into()));
    // Commands flagged stale still run.
    let info = bulk_text(cmd(&mut c, "INFO replication"));
    assert!(info.contains("master_link_status:down"), "{info}");
    cmd(&mut c, "CONFIG SET replica-serve-stale-data yes");
    assert_eq!(
        cmd(&mut c, "SYNC"),
        Frame::Error("NOMASTERLINK Can't SYNC while not connected with my master".into())
    );
    cmd(&mut c, "REPLICAOF NO ONE");
    assert_eq!(cmd(&mut c, "GET k"), Frame::Bulk(Bytes::from_static(b"v")));
}

#[test]
fn min_replicas_to_write_refuses_writes_without_enough_replicas() {
    let server = quiet_master();
    let mut c = server.connect();
    cmd(&mut c, "CONFIG SET min-replicas-to-write 1");
    let refused = "NOREPLICAS Not enough good replicas to write.";
    assert_eq!(cmd(&mut c, "SET k v"), Frame::Error(refused.into()));
    // Queued before the requirement, refused at EXEC.
    cmd(&mut c, "CONFIG SET min-replicas-to-write 0");
    cmd(&mut c, "MULTI");
    cmd(&mut c, "INCR n");
    let mut admin = server.connect();
    cmd(&mut admin, "CONFIG SET min-replicas-to-write 1");
    assert_eq!(
        cmd(&mut c, "EXEC"),
        Frame::Error(format!(
            "EXECABORT Transaction discarded because of: {refused}"
        ))
    );
    assert_eq!(cmd(&mut c, "GET k"), Frame::Null);
    // A replica that acknowledges counts as good once the cron sees it.
    let replica_server = TestServer::start();
    let mut r = replica_server.connect();
    let port = server.addr.port().to_string();
    r.command(&[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]);
    wait_until(|| cmd(&mut c, "SET k v") == Frame::Simple("OK".into()));
}

/// Shoal follows a real `redis-server`: the image Redis sends covers every
/// type and encoding, the stream every write; the digests end equal.
#[test]
#[ignore = "needs redis-server"]
fn shoal_replicates_from_redis_server() {
    let redis = RedisServer::start();
    let mut r = redis.connect();
    cmd(&mut r, "DEBUG SET-ACTIVE-EXPIRE 0");
    for line in [
        "SET int 12345",
        "SET str hello",
        "SET ttl v EX 5000",
        "RPUSH list a b c 1 2 3",
        "HSET smallhash a 1 b 2",
        "SADD intset 1 2 3",
        "SADD strset a b c",
        "ZADD zset 1 a 2.5 b -3 c",
        "SELECT 7",
        "SET in7 x",
        "SELECT 0",
    ] {
        cmd(&mut r, line);
    }
    for i in 0..300 {
        let (i, v) = (i.to_string(), format!("value-{i}"));
        r.command(&[b"HSET", b"bighash", i.as_bytes(), v.as_bytes()]);
        r.command(&[b"SADD", b"bigset", v.as_bytes()]);
        r.command(&[b"ZADD", b"bigzset", i.as_bytes(), v.as_bytes()]);
        r.command(&[b"RPUSH", b"biglist", v.as_bytes()]);
    }
    let shoal = TestServer::start();
    let mut s = shoal.connect();
    let port = redis.addr.port().to_string();
    s.command(&[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]);
    wait_caught_up(&mut r, &mut s);
    for line in [
        "INCR int",
        "APPEND str world",
        "LPOP list",
        "HINCRBYFLOAT smallhash a 1.5",
        "INCRBYFLOAT f 0.1",
        "SPOP intset",
        "ZINCRBY zset 2 a",
        "EXPIRE str 1000",
        "MULTI",
        "SET m1 1",
        "SET m2 2",
        "EXEC",
        "SELECT 7",
        "DEL in7",
        "SELECT 0",
    ] {
        cmd(&mut r, line);
    }
    wait_caught_up(&mut r, &mut s);
    assert_eq!(digest(&mut s), digest(&mut r));
    assert_eq!(cmd(&mut s, "DBSIZE"), cmd(&mut r, "DBSIZE"));
}

/// A replica loading its master's image answers `-LOADING` and shows the
/// progress in INFO, as a Redis replica does; once loaded it holds every
/// key and follows the stream.
#[test]
fn a_replica_answers_loading_while_it_loads_the_image() {
    let master = TestServer::start();
    let mut m = master.connect();
    assert_eq!(
        cmd(&mut m, "DEBUG POPULATE 2000"),
        Frame::Simple("OK".into())
    );
    // 2,000 keys at 1 ms: about two seconds of loading.
    let replica = TestServer::start_with(&["--key-load-delay", "1000"]);
    let mut r = replica.connect();
    assert_eq!(cmd(&mut r, "SET old 1"), Frame::Simple("OK".into()));
    let port = master.addr.port().to_string();
    assert_eq!(
        r.command(&[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]),
        Frame::Simple("OK".into())
    );
    wait_until(|| r.info_field("persistence", "loading") == "1");
    let loading = Frame::Error("LOADING Redis is loading the dataset in memory".into());
    assert_eq!(cmd(&mut r, "GET key:1"), loading);
    assert_eq!(cmd(&mut r, "DBSIZE"), loading);
    assert_eq!(cmd(&mut r, "ECHO hi"), Frame::Bulk(Bytes::from("hi")));
    let total: usize = r
        .info_field("persistence", "loading_total_bytes")
        .parse()
        .unwrap();
    assert!(total > 2000 * 10, "{total}");
    wait_until(|| r.info_field("persistence", "loading") == "0");
    wait_until(|| bulk_text(cmd(&mut r, "INFO replication")).contains("master_link_status:up"));
    assert_eq!(cmd(&mut r, "DBSIZE"), Frame::Integer(2000));
    assert_eq!(cmd(&mut r, "GET old"), Frame::Null);
    assert_eq!(cmd(&mut m, "SET after 1"), Frame::Simple("OK".into()));
    wait_until(|| cmd(&mut r, "GET after") == Frame::Bulk(Bytes::from("1")));
}
