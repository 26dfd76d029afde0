//! Sets over the wire: exact reply bytes in RESP2 and RESP3 for every set
//! command (errors, WRONGTYPE, encodings, empty results), and the random
//! commands (SPOP, SRANDMEMBER) checked by membership and count. The
//! ignored `tables_match_redis` runs the tables against a real
//! `redis-server`, so every expected byte string is Redis 7.0's own.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::{encode, Conn, RedisServer, TestServer};
use shoal_resp::Frame;

/// A command (space-separated arguments; `<empty>` is an empty argument)
/// and its exact reply.
type Case = (&'static str, &'static str);

fn args_of(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .map(|a| {
            if a == "<empty>" {
                Vec::new()
            } else {
                a.as_bytes().to_vec()
            }
        })
        .collect()
}

/// Runs a table on a fresh keyspace; after each reply a PING checks that
/// no extra bytes followed it.
fn check_table(addr: SocketAddr, resp3: bool, table: &[Case]) {
    let mut conn = Conn::connect(addr);
    assert_eq!(conn.command(&[b"FLUSHALL"]), Frame::Simple("OK".into()));
    if resp3 {
        let hello = conn.command(&[b"HELLO", b"3"]);
        assert!(matches!(hello, Frame::Map(_)), "HELLO 3 replied {hello:?}");
    }
    for (i, (line, expected)) in table.iter().enumerate() {
        let args = args_of(line);
        let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let mut request = encode(&refs);
        request.extend_from_slice(&encode(&[b"PING"]));
        conn.send(&request);
        let want = format!("{expected}+PONG\r\n");
        let got = conn.read_exact_or_eof(want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "case {i} (resp3={resp3}): {line}"
        );
    }
}

#[test]
fn resp2_replies() {
    let server = TestServer::start();
    check_table(server.addr, false, RESP2);
}

#[test]
fn resp3_replies() {
    let server = TestServer::start();
    check_table(server.addr, true, RESP3);
}

#[test]
#[ignore = "needs redis-server"]
fn tables_match_redis() {
    let redis = RedisServer::start();
    check_table(redis.addr, false, RESP2);
    check_table(redis.addr, true, RESP3);
}

fn bulk_strings(frame: Frame) -> Vec<Vec<u8>> {
    match frame {
        Frame::Array(items) | Frame::Set(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => b.to_vec(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args = args_of(line);
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    conn.command(&refs)
}

fn members(conn: &mut Conn, key: &str) -> BTreeSet<Vec<u8>> {
    bulk_strings(cmd(conn, &format!("SMEMBERS {key}")))
        .into_iter()
        .collect()
}

fn sadd_range(conn: &mut Conn, key: &str, range: std::ops::Range<i64>, extra: &[&str]) {
    let mut line = format!("SADD {key}");
    for n in range {
        line.push_str(&format!(" {n}"));
    }
    for e in extra {
        line.push_str(&format!(" {e}"));
    }
    cmd(conn, &line);
}

fn encoding(conn: &mut Conn, key: &str) -> String {
    match cmd(conn, &format!("OBJECT ENCODING {key}")) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => format!("{other:?}"),
    }
}

#[test]
fn intset_converts_past_the_threshold_and_stays_converted() {
    let server = TestServer::start();
    let mut conn = server.connect();
    sadd_range(&mut conn, "s", 0..512, &[]);
    assert_eq!(encoding(&mut conn, "s"), "intset");
    // An intset replies in ascending order.
    let got = bulk_strings(cmd(&mut conn, "SMEMBERS s"));
    let want: Vec<Vec<u8>> = (0..512).map(|n: i64| n.to_string().into_bytes()).collect();
    assert_eq!(got, want);
    cmd(&mut conn, "SADD s 512");
    assert_eq!(encoding(&mut conn, "s"), "hashtable");
    cmd(&mut conn, "SREM s 512 511 510");
    assert_eq!(encoding(&mut conn, "s"), "hashtable");
    // A STORE result picks its encoding from its contents.
    cmd(&mut conn, "SUNIONSTORE d s");
    assert_eq!(encoding(&mut conn, "d"), "intset");
    let got = bulk_strings(cmd(&mut conn, "SMEMBERS d"));
    let want: Vec<Vec<u8>> = (0..510).map(|n: i64| n.to_string().into_bytes()).collect();
    assert_eq!(got, want);
}

#[test]
fn random_commands_pick_members() {
    let server = TestServer::start();
    let mut conn = server.connect();
    for (key, extra) in [("ints", &[][..]), ("strs", &["x", "y"][..])] {
        sadd_range(&mut conn, key, 0..20, extra);
        let all = members(&mut conn, key);
        let n = all.len();
        // SRANDMEMBER: distinct for positive counts, repeats for negative.
        for count in [1usize, 2, 5, 7, 10, 19] {
            let got = bulk_strings(cmd(&mut conn, &format!("SRANDMEMBER {key} {count}")));
            let distinct: BTreeSet<Vec<u8>> = got.iter().cloned().collect();
            assert_eq!(got.len(), count);
            assert_eq!(distinct.len(), count);
            assert!(distinct.is_subset(&all));
        }
        let got = bulk_strings(cmd(&mut conn, &format!("SRANDMEMBER {key} -1000")));
        assert_eq!(got.len(), 1000);
        assert!(got.iter().all(|m| all.contains(m)));
        match cmd(&mut conn, &format!("SRANDMEMBER {key}")) {
            Frame::Bulk(b) => assert!(all.contains(&b.to_vec())),
            other => panic!("{other:?}"),
        }
        // SPOP one, then few (one by one), then most (the rebuild path).
        let mut left = all.clone();
        match cmd(&mut conn, &format!("SPOP {key}")) {
            Frame::Bulk(b) => assert!(left.remove(&b.to_vec())),
            other => panic!("{other:?}"),
        }
        for few in [true, false] {
            let count = if few { 2 } else { left.len() - 2 };
            let got = bulk_strings(cmd(&mut conn, &format!("SPOP {key} {count}")));
            assert_eq!(got.len(), count);
            for m in got {
                assert!(left.remove(&m), "popped twice or never there");
            }
            assert_eq!(members(&mut conn, key), left);
        }
        assert_eq!(left.len(), 2);
        assert!(n > 2);
    }
    // The rebuilt remainder of a hashtable picks its encoding from its
    // contents, as Redis's SPOP does.
    cmd(&mut conn, "SADD h x 1 2 3 4 5 6 7 8 9");
    cmd(&mut conn, "SPOP h 9");
    let left = members(&mut conn, "h");
    assert_eq!(left.len(), 1);
    let expect = if left.contains(b"x".as_slice()) {
        "hashtable"
    } else {
        "intset"
    };
    assert_eq!(encoding(&mut conn, "h"), expect);
    // Popping the last member deletes the key.
    cmd(&mut conn, "SPOP h");
    assert_eq!(cmd(&mut conn, "EXISTS h"), Frame::Integer(0));
    // RESP3: SPOP with a count is a set, SRANDMEMBER with one an array.
    cmd(&mut conn, "HELLO 3");
    cmd(&mut conn, "SADD r 1 2 3 4 5 6 7 8 9 10");
    assert!(matches!(cmd(&mut conn, "SPOP r 2"), Frame::Set(_)));
    assert!(matches!(cmd(&mut conn, "SRANDMEMBER r 2"), Frame::Array(_)));
    assert!(matches!(
        cmd(&mut conn, "SRANDMEMBER r -2"),
        Frame::Array(_)
    ));
}

#[test]
fn sscan_visits_every_member_of_a_growing_hashtable() {
    let server = TestServer::start();
    let mut conn = server.connect();
    sadd_range(&mut conn, "s", 0..300, &["x"]);
    let mut seen = BTreeSet::new();
    let mut cursor = b"0".to_vec();
    let mut rounds = 0;
    loop {
        let reply = conn.command(&[b"SSCAN", b"s", &cursor, b"COUNT", b"7"]);
        let Frame::Array(parts) = reply else {
            panic!("{reply:?}")
        };
        let mut parts = parts.into_iter();
        let Some(Frame::Bulk(next)) = parts.next() else {
            panic!("no cursor")
        };
        seen.extend(bulk_strings(parts.next().unwrap()));
        // Grow the table while scanning: the original members must all
        // still come back.
        if rounds == 3 {
            sadd_range(&mut conn, "s", 1000..3000, &[]);
        }
        rounds += 1;
        cursor = next.to_vec();
        if cursor == b"0" {
            break;
        }
        assert!(rounds < 10_000);
    }
    for n in 0..300 {
        assert!(seen.contains(n.to_string().as_bytes()), "missed {n}");
    }
    assert!(seen.contains(b"x".as_slice()));
}

/// Loads `keys` sets of 10 integers below `range`, pipelined, and returns
/// the server's `used_memory_rss` growth in bytes.
fn load_small_sets(conn: &mut Conn, keys: usize, range: usize) -> u64 {
    let rss = |conn: &mut Conn| -> u64 {
        let Frame::Bulk(info) = conn.command(&[b"INFO", b"memory"]) else {
            panic!("INFO")
        };
        let info = String::from_utf8_lossy(&info).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory_rss:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = rss(conn);
    let batch = 1000;
    for start in (0..keys).step_by(batch) {
        let mut out = Vec::new();
        let end = (start + batch).min(keys);
        for k in start..end {
            let key = format!("set:{k}");
            let members: Vec<String> = (0..10)
                .map(|i| ((k * 7 + i * 13) % range).to_string())
                .collect();
            let mut args: Vec<&[u8]> = vec![b"SADD", key.as_bytes()];
            args.extend(members.iter().map(|m| m.as_bytes()));
            out.extend_from_slice(&encode(&args));
        }
        conn.send(&out);
        for _ in start..end {
            conn.read_frame();
        }
    }
    rss(conn).saturating_sub(before)
}

/// The memory goal, measured: 1,000,000 sets of 10 integers. Prints both
/// servers' RSS growth (the test binary uses the system allocator, where
/// the real server uses jemalloc, so compare with care).
#[test]
#[ignore = "needs redis-server; slow"]
fn memory_of_a_million_small_sets() {
    let keys = 1_000_000;
    // Below 100 (the default) or 1000 (SHOAL_SET_RANGE=1000): packed
    // inline in Shoal, no allocation. Below 30000: two bytes each, one
    // 20-byte allocation. One range per run: freed memory stays in this
    // process's RSS.
    let range = std::env::var("SHOAL_SET_RANGE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100);
    let shoal = TestServer::start();
    let shoal_bytes = load_small_sets(&mut shoal.connect(), keys, range);
    drop(shoal);
    let redis = RedisServer::start();
    let redis_bytes = load_small_sets(&mut redis.connect(), keys, range);
    eprintln!(
        "{keys} sets of 10 integers below {range}: redis {} B/key, shoal {} B/key",
        redis_bytes / keys as u64,
        shoal_bytes / keys as u64
    );
}

const RESP2: &[Case] = &[
    ("SADD s 3 1 2 1", ":3\r\n"),
    ("SADD s -5 100000", ":2\r\n"),
    ("SMEMBERS s", "*5\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$6\r\n100000\r\n"),
    ("OBJECT ENCODING s", "$6\r\nintset\r\n"),
    ("SADD s x", ":1\r\n"),
    ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
    ("SREM s x", ":1\r\n"),
    ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
    ("SCARD s", ":5\r\n"),
    ("SISMEMBER s 3", ":1\r\n"),
    ("SISMEMBER s 03", ":0\r\n"),
    ("SMISMEMBER s 3 nope 100000", "*3\r\n:1\r\n:0\r\n:1\r\n"),
    ("SMISMEMBER missing a b", "*2\r\n:0\r\n:0\r\n"),
    ("SCARD missing", ":0\r\n"),
    ("SMEMBERS missing", "*0\r\n"),
    ("SRANDMEMBER missing", "$-1\r\n"),
    ("SRANDMEMBER missing 5", "*0\r\n"),
    ("SRANDMEMBER s 0", "*0\r\n"),
    ("SRANDMEMBER i 1000", "*0\r\n"),
    ("SRANDMEMBER s x", "-ERR value is not an integer or out of range\r\n"),
    ("SRANDMEMBER s -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
    ("SRANDMEMBER s 1 2", "-ERR syntax error\r\n"),
    ("SPOP missing", "$-1\r\n"),
    ("SPOP missing 3", "*0\r\n"),
    ("SPOP s 0", "*0\r\n"),
    ("SPOP s -1", "-ERR value is out of range, must be positive\r\n"),
    ("SPOP s x", "-ERR value is out of range, must be positive\r\n"),
    ("SPOP s 1 2", "-ERR syntax error\r\n"),
    ("SADD i 5 1 3", ":3\r\n"),
    ("SRANDMEMBER i 1000", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("SRANDMEMBER i 3", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("SRANDMEMBER i 4", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("SPOP i 10", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("EXISTS i", ":0\r\n"),
    ("SET str v", "+OK\r\n"),
    ("SADD str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SREM str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMEMBERS str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SCARD str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SISMEMBER str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMISMEMBER str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SPOP str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SRANDMEMBER str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SRANDMEMBER str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMOVE str s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMOVE missing str a", ":0\r\n"),
    ("SMOVE s str 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SADD a 1 2 3 4", ":4\r\n"),
    ("SADD b 3 4 5 6", ":4\r\n"),
    ("SINTER a b", "*2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SINTER a b missing", "*0\r\n"),
    ("SINTER a str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SINTER missing str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SUNION a b", "*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SUNION a missing", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SDIFF a b", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
    ("SDIFF b a", "*2\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SDIFF a a", "*0\r\n"),
    ("SDIFF missing a", "*0\r\n"),
    ("SINTERSTORE d a b", ":2\r\n"),
    ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
    ("SMEMBERS d", "*2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SUNIONSTORE d a b", ":6\r\n"),
    ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
    ("SDIFFSTORE d a b", ":2\r\n"),
    ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
    ("SMEMBERS d", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
    ("SINTERSTORE d a missing", ":0\r\n"),
    ("EXISTS d", ":0\r\n"),
    ("SUNIONSTORE str a", ":4\r\n"),
    ("TYPE str", "+set\r\n"),
    ("SDIFFSTORE str missing", ":0\r\n"),
    ("EXISTS str", ":0\r\n"),
    ("SINTERCARD 2 a b", ":2\r\n"),
    ("SINTERCARD 2 a b LIMIT 1", ":1\r\n"),
    ("SINTERCARD 2 a b LIMIT 0", ":2\r\n"),
    ("SINTERCARD 1 a LIMIT 2", ":2\r\n"),
    ("SINTERCARD 0 a", "-ERR numkeys should be greater than 0\r\n"),
    ("SINTERCARD x a", "-ERR numkeys should be greater than 0\r\n"),
    ("SINTERCARD 3 a b", "-ERR Number of keys can't be greater than number of args\r\n"),
    ("SINTERCARD 1 a LIMIT -1", "-ERR LIMIT can't be negative\r\n"),
    ("SINTERCARD 1 a LIMIT", "-ERR syntax error\r\n"),
    ("SINTERCARD 1 a FOO", "-ERR syntax error\r\n"),
    ("SINTERCARD 2 a missing", ":0\r\n"),
    ("SMOVE a b 1", ":1\r\n"),
    ("SMEMBERS a", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SMOVE a b 1", ":0\r\n"),
    ("SMOVE a a 2", ":1\r\n"),
    ("SMOVE a a 9", ":0\r\n"),
    ("SMOVE a newset 2", ":1\r\n"),
    ("OBJECT ENCODING newset", "$6\r\nintset\r\n"),
    ("SMOVE a newset2 x", ":0\r\n"),
    ("SMEMBERS a", "*2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SMOVE a b 3", ":1\r\n"),
    ("SMOVE a b 4", ":1\r\n"),
    ("EXISTS a", ":0\r\n"),
    ("SSCAN b 0", "*2\r\n$1\r\n0\r\n*5\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SADD h x", ":1\r\n"),
    ("SMEMBERS h", "*1\r\n$1\r\nx\r\n"),
    ("SSCAN h 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nx\r\n"),
    ("SSCAN h 0 MATCH y*", "*2\r\n$1\r\n0\r\n*0\r\n"),
    ("OBJECT ENCODING h", "$9\r\nhashtable\r\n"),
    ("SINTER h b", "*0\r\n"),
    ("SDIFF h b", "*1\r\n$1\r\nx\r\n"),
    ("SUNIONSTORE h2 h", ":1\r\n"),
    ("OBJECT ENCODING h2", "$9\r\nhashtable\r\n"),
    ("SPOP h", "$1\r\nx\r\n"),
    ("EXISTS h", ":0\r\n"),
    ("SSCAN newset 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n"),
    ("SSCAN newset 123 MATCH 2*", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n"),
    ("SSCAN newset 0 COUNT 0", "-ERR syntax error\r\n"),
    ("SSCAN newset 0 TYPE set", "-ERR syntax error\r\n"),
    ("SSCAN newset x", "-ERR invalid cursor\r\n"),
    ("SSCAN missing 0 COUNT 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
    ("SSCAN newset 0 COUNT x", "-ERR value is not an integer or out of range\r\n"),
    ("SSCAN newset 0 MATCH", "-ERR syntax error\r\n"),
    ("SREM b 6 1 3 4 5", ":5\r\n"),
    ("EXISTS b", ":0\r\n"),
    ("SADD e <empty>", ":1\r\n"),
    ("SMEMBERS e", "*1\r\n$0\r\n\r\n"),
    ("SREM e <empty>", ":1\r\n"),
    ("SADD e 9223372036854775807 -9223372036854775808 0", ":3\r\n"),
    ("SMEMBERS e", "*3\r\n$20\r\n-9223372036854775808\r\n$1\r\n0\r\n$19\r\n9223372036854775807\r\n"),
    ("OBJECT ENCODING e", "$6\r\nintset\r\n"),
    ("SADD e 9223372036854775808", ":1\r\n"),
    ("OBJECT ENCODING e", "$9\r\nhashtable\r\n"),
    ("SADD", "-ERR wrong number of arguments for 'sadd' command\r\n"),
    ("SREM s", "-ERR wrong number of arguments for 'srem' command\r\n"),
    ("SINTERCARD 1", "-ERR wrong number of arguments for 'sintercard' command\r\n"),
    ("SADD da x 1 2 3 4 5 6", ":7\r\n"),
    ("SADD db x", ":1\r\n"),
    ("SADD dc 9", ":1\r\n"),
    ("SDIFFSTORE dd da db dc", ":6\r\n"),
    ("OBJECT ENCODING dd", "$9\r\nhashtable\r\n"),
    ("SCARD dd", ":6\r\n"),
    ("SDIFFSTORE dd2 da db", ":6\r\n"),
    ("OBJECT ENCODING dd2", "$6\r\nintset\r\n"),
    ("SMEMBERS dd2", "*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SDIFF da db", "*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SINTERSTORE di da dd2", ":6\r\n"),
    ("OBJECT ENCODING di", "$6\r\nintset\r\n"),
    ("SADD big 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 1000 -1000 70000 -70000 5000000000", ":26\r\n"),
    ("SMEMBERS big", "*26\r\n$6\r\n-70000\r\n$5\r\n-1000\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n$2\r\n10\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n$2\r\n16\r\n$2\r\n17\r\n$2\r\n18\r\n$2\r\n19\r\n$2\r\n20\r\n$4\r\n1000\r\n$5\r\n70000\r\n$10\r\n5000000000\r\n"),
    ("SSCAN big 0 MATCH 1*", "*2\r\n$1\r\n0\r\n*12\r\n$1\r\n1\r\n$2\r\n10\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n$2\r\n16\r\n$2\r\n17\r\n$2\r\n18\r\n$2\r\n19\r\n$4\r\n1000\r\n"),
    ("SISMEMBER big 5000000000", ":1\r\n"),
    ("SISMEMBER big -70000", ":1\r\n"),
    ("SREM big 5000000000 70000 -70000", ":3\r\n"),
    ("SMEMBERS big", "*23\r\n$5\r\n-1000\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n$2\r\n10\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n$2\r\n16\r\n$2\r\n17\r\n$2\r\n18\r\n$2\r\n19\r\n$2\r\n20\r\n$4\r\n1000\r\n"),
];

const RESP3: &[Case] = &[
    ("SADD s 3 1 2 1", ":3\r\n"),
    ("SADD s -5 100000", ":2\r\n"),
    ("SMEMBERS s", "~5\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$6\r\n100000\r\n"),
    ("OBJECT ENCODING s", "$6\r\nintset\r\n"),
    ("SADD s x", ":1\r\n"),
    ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
    ("SREM s x", ":1\r\n"),
    ("OBJECT ENCODING s", "$9\r\nhashtable\r\n"),
    ("SCARD s", ":5\r\n"),
    ("SISMEMBER s 3", ":1\r\n"),
    ("SISMEMBER s 03", ":0\r\n"),
    ("SMISMEMBER s 3 nope 100000", "*3\r\n:1\r\n:0\r\n:1\r\n"),
    ("SMISMEMBER missing a b", "*2\r\n:0\r\n:0\r\n"),
    ("SCARD missing", ":0\r\n"),
    ("SMEMBERS missing", "~0\r\n"),
    ("SRANDMEMBER missing", "_\r\n"),
    ("SRANDMEMBER missing 5", "*0\r\n"),
    ("SRANDMEMBER s 0", "*0\r\n"),
    ("SRANDMEMBER i 1000", "*0\r\n"),
    ("SRANDMEMBER s x", "-ERR value is not an integer or out of range\r\n"),
    ("SRANDMEMBER s -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
    ("SRANDMEMBER s 1 2", "-ERR syntax error\r\n"),
    ("SPOP missing", "_\r\n"),
    ("SPOP missing 3", "~0\r\n"),
    ("SPOP s 0", "~0\r\n"),
    ("SPOP s -1", "-ERR value is out of range, must be positive\r\n"),
    ("SPOP s x", "-ERR value is out of range, must be positive\r\n"),
    ("SPOP s 1 2", "-ERR syntax error\r\n"),
    ("SADD i 5 1 3", ":3\r\n"),
    ("SRANDMEMBER i 1000", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("SRANDMEMBER i 3", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("SRANDMEMBER i 4", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("SPOP i 10", "~3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
    ("EXISTS i", ":0\r\n"),
    ("SET str v", "+OK\r\n"),
    ("SADD str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SREM str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMEMBERS str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SCARD str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SISMEMBER str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMISMEMBER str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SPOP str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SRANDMEMBER str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SRANDMEMBER str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMOVE str s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SMOVE missing str a", ":0\r\n"),
    ("SMOVE s str 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SADD a 1 2 3 4", ":4\r\n"),
    ("SADD b 3 4 5 6", ":4\r\n"),
    ("SINTER a b", "~2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SINTER a b missing", "~0\r\n"),
    ("SINTER a str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SINTER missing str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SUNION a b", "~6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SUNION a missing", "~4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SDIFF a b", "~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
    ("SDIFF b a", "~2\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SDIFF a a", "~0\r\n"),
    ("SDIFF missing a", "~0\r\n"),
    ("SINTERSTORE d a b", ":2\r\n"),
    ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
    ("SMEMBERS d", "~2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SUNIONSTORE d a b", ":6\r\n"),
    ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
    ("SDIFFSTORE d a b", ":2\r\n"),
    ("OBJECT ENCODING d", "$6\r\nintset\r\n"),
    ("SMEMBERS d", "~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
    ("SINTERSTORE d a missing", ":0\r\n"),
    ("EXISTS d", ":0\r\n"),
    ("SUNIONSTORE str a", ":4\r\n"),
    ("TYPE str", "+set\r\n"),
    ("SDIFFSTORE str missing", ":0\r\n"),
    ("EXISTS str", ":0\r\n"),
    ("SINTERCARD 2 a b", ":2\r\n"),
    ("SINTERCARD 2 a b LIMIT 1", ":1\r\n"),
    ("SINTERCARD 2 a b LIMIT 0", ":2\r\n"),
    ("SINTERCARD 1 a LIMIT 2", ":2\r\n"),
    ("SINTERCARD 0 a", "-ERR numkeys should be greater than 0\r\n"),
    ("SINTERCARD x a", "-ERR numkeys should be greater than 0\r\n"),
    ("SINTERCARD 3 a b", "-ERR Number of keys can't be greater than number of args\r\n"),
    ("SINTERCARD 1 a LIMIT -1", "-ERR LIMIT can't be negative\r\n"),
    ("SINTERCARD 1 a LIMIT", "-ERR syntax error\r\n"),
    ("SINTERCARD 1 a FOO", "-ERR syntax error\r\n"),
    ("SINTERCARD 2 a missing", ":0\r\n"),
    ("SMOVE a b 1", ":1\r\n"),
    ("SMEMBERS a", "~3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SMOVE a b 1", ":0\r\n"),
    ("SMOVE a a 2", ":1\r\n"),
    ("SMOVE a a 9", ":0\r\n"),
    ("SMOVE a newset 2", ":1\r\n"),
    ("OBJECT ENCODING newset", "$6\r\nintset\r\n"),
    ("SMOVE a newset2 x", ":0\r\n"),
    ("SMEMBERS a", "~2\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ("SMOVE a b 3", ":1\r\n"),
    ("SMOVE a b 4", ":1\r\n"),
    ("EXISTS a", ":0\r\n"),
    ("SSCAN b 0", "*2\r\n$1\r\n0\r\n*5\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SADD h x", ":1\r\n"),
    ("SMEMBERS h", "~1\r\n$1\r\nx\r\n"),
    ("SSCAN h 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nx\r\n"),
    ("SSCAN h 0 MATCH y*", "*2\r\n$1\r\n0\r\n*0\r\n"),
    ("OBJECT ENCODING h", "$9\r\nhashtable\r\n"),
    ("SINTER h b", "~0\r\n"),
    ("SDIFF h b", "~1\r\n$1\r\nx\r\n"),
    ("SUNIONSTORE h2 h", ":1\r\n"),
    ("OBJECT ENCODING h2", "$9\r\nhashtable\r\n"),
    ("SPOP h", "$1\r\nx\r\n"),
    ("EXISTS h", ":0\r\n"),
    ("SSCAN newset 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n"),
    ("SSCAN newset 123 MATCH 2*", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n"),
    ("SSCAN newset 0 COUNT 0", "-ERR syntax error\r\n"),
    ("SSCAN newset 0 TYPE set", "-ERR syntax error\r\n"),
    ("SSCAN newset x", "-ERR invalid cursor\r\n"),
    ("SSCAN missing 0 COUNT 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
    ("SSCAN newset 0 COUNT x", "-ERR value is not an integer or out of range\r\n"),
    ("SSCAN newset 0 MATCH", "-ERR syntax error\r\n"),
    ("SREM b 6 1 3 4 5", ":5\r\n"),
    ("EXISTS b", ":0\r\n"),
    ("SADD e <empty>", ":1\r\n"),
    ("SMEMBERS e", "~1\r\n$0\r\n\r\n"),
    ("SREM e <empty>", ":1\r\n"),
    ("SADD e 9223372036854775807 -9223372036854775808 0", ":3\r\n"),
    ("SMEMBERS e", "~3\r\n$20\r\n-9223372036854775808\r\n$1\r\n0\r\n$19\r\n9223372036854775807\r\n"),
    ("OBJECT ENCODING e", "$6\r\nintset\r\n"),
    ("SADD e 9223372036854775808", ":1\r\n"),
    ("OBJECT ENCODING e", "$9\r\nhashtable\r\n"),
    ("SADD", "-ERR wrong number of arguments for 'sadd' command\r\n"),
    ("SREM s", "-ERR wrong number of arguments for 'srem' command\r\n"),
    ("SINTERCARD 1", "-ERR wrong number of arguments for 'sintercard' command\r\n"),
    ("SADD da x 1 2 3 4 5 6", ":7\r\n"),
    ("SADD db x", ":1\r\n"),
    ("SADD dc 9", ":1\r\n"),
    ("SDIFFSTORE dd da db dc", ":6\r\n"),
    ("OBJECT ENCODING dd", "$9\r\nhashtable\r\n"),
    ("SCARD dd", ":6\r\n"),
    ("SDIFFSTORE dd2 da db", ":6\r\n"),
    ("OBJECT ENCODING dd2", "$6\r\nintset\r\n"),
    ("SMEMBERS dd2", "~6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SDIFF da db", "~6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"),
    ("SINTERSTORE di da dd2", ":6\r\n"),
    ("OBJECT ENCODING di", "$6\r\nintset\r\n"),
    ("SADD big 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 1000 -1000 70000 -70000 5000000000", ":26\r\n"),
    ("SMEMBERS big", "~26\r\n$6\r\n-70000\r\n$5\r\n-1000\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n$2\r\n10\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n$2\r\n16\r\n$2\r\n17\r\n$2\r\n18\r\n$2\r\n19\r\n$2\r\n20\r\n$4\r\n1000\r\n$5\r\n70000\r\n$10\r\n5000000000\r\n"),
    ("SSCAN big 0 MATCH 1*", "*2\r\n$1\r\n0\r\n*12\r\n$1\r\n1\r\n$2\r\n10\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n$2\r\n16\r\n$2\r\n17\r\n$2\r\n18\r\n$2\r\n19\r\n$4\r\n1000\r\n"),
    ("SISMEMBER big 5000000000", ":1\r\n"),
    ("SISMEMBER big -70000", ":1\r\n"),
    ("SREM big 5000000000 70000 -70000", ":3\r\n"),
    ("SMEMBERS big", "~23\r\n$5\r\n-1000\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n$2\r\n10\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n$2\r\n16\r\n$2\r\n17\r\n$2\r\n18\r\n$2\r\n19\r\n$2\r\n20\r\n$4\r\n1000\r\n"),
];
