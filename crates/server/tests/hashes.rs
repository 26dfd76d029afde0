//! Hashes over the wire: byte-exact replies in RESP2 and RESP3 (the tables
//! were recorded from redis-server 7.0.15, and the ignored
//! `tables_match_redis` replays them against a real one), the encoding
//! conversions, and the random/scan commands' guarantees.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use common::{Conn, RedisServer, TestServer};
use shoal_resp::Frame;

/// A request (an inline line) and the exact reply bytes, each without the
/// trailing `\r\n`.
type Case = (&'static str, &'static str);

/// Sends each case followed by a PING, so a reply with extra bytes or a
/// missing reply shows up as a mismatch in that case.
fn check_table(addr: SocketAddr, resp3: bool, table: &[Case]) {
    let mut conn = Conn::connect(addr);
    if resp3 {
        let hello = conn.command(&[b"HELLO", b"3"]);
        assert!(matches!(hello, Frame::Map(_)), "HELLO 3 replied {hello:?}");
    }
    for (i, (input, expected)) in table.iter().enumerate() {
        conn.send(format!("{input}\r\nPING\r\n").as_bytes());
        let want = format!("{expected}\r\n+PONG\r\n");
        let got = conn.read_exact_or_eof(want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "case {i} (resp3={resp3}): {input:?}"
        );
    }
}

fn resp2() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("HSET h", "-ERR wrong number of arguments for 'hset' command"),
        ("HSET h f", "-ERR wrong number of arguments for 'hset' command"),
        ("HSET h f v x", "-ERR wrong number of arguments for 'hset' command"),
        ("HMSET h f", "-ERR wrong number of arguments for 'hmset' command"),
        ("HSET h f1 v1 f2 v2 f1 v3", ":2"),
        ("HGET h f1", "$2\r\nv3"),
        ("HGET h nope", "$-1"),
        ("HGET nokey f", "$-1"),
        ("HMGET h f1 nope f2", "*3\r\n$2\r\nv3\r\n$-1\r\n$2\r\nv2"),
        ("HMGET nokey a b", "*2\r\n$-1\r\n$-1"),
        ("HLEN h", ":2"),
        ("HLEN nokey", ":0"),
        ("HEXISTS h f1", ":1"),
        ("HEXISTS h nope", ":0"),
        ("HSTRLEN h f2", ":2"),
        ("HSTRLEN h nope", ":0"),
        ("HSTRLEN nokey f", ":0"),
        ("HSETNX h f1 x", ":0"),
        ("HSETNX h f3 v3", ":1"),
        ("HMSET h b 1 a 2", "+OK"),
        ("HGETALL h", "*10\r\n$2\r\nf1\r\n$2\r\nv3\r\n$2\r\nf2\r\n$2\r\nv2\r\n$2\r\nf3\r\n$2\r\nv3\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2"),
        ("HKEYS h", "*5\r\n$2\r\nf1\r\n$2\r\nf2\r\n$2\r\nf3\r\n$1\r\nb\r\n$1\r\na"),
        ("HVALS h", "*5\r\n$2\r\nv3\r\n$2\r\nv2\r\n$2\r\nv3\r\n$1\r\n1\r\n$1\r\n2"),
        ("HGETALL nokey", "*0"),
        ("HKEYS nokey", "*0"),
        ("HVALS nokey", "*0"),
        ("OBJECT ENCODING h", "$8\r\nlistpack"),
        ("HDEL h nope", ":0"),
        ("HDEL h f2 nope f2", ":1"),
        ("HKEYS h", "*4\r\n$2\r\nf1\r\n$2\r\nf3\r\n$1\r\nb\r\n$1\r\na"),
        ("HSET h f2 again", ":1"),
        ("HKEYS h", "*5\r\n$2\r\nf1\r\n$2\r\nf3\r\n$1\r\nb\r\n$1\r\na\r\n$2\r\nf2"),
        ("HINCRBY h a 10", ":12"),
        ("HINCRBY h a -12", ":0"),
        ("HINCRBY h a x", "-ERR value is not an integer or out of range"),
        ("HINCRBY h a 1.5", "-ERR value is not an integer or out of range"),
        ("HINCRBY h f1 1", "-ERR hash value is not an integer"),
        ("HINCRBY h new 5", ":5"),
        ("HSET h big 9223372036854775807", ":1"),
        ("HINCRBY h big 1", "-ERR increment or decrement would overflow"),
        ("HINCRBY h big -9223372036854775808", ":-1"),
        ("HINCRBYFLOAT h a 0.5", "$3\r\n0.5"),
        ("HINCRBYFLOAT h a x", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT h a inf", "-ERR value is NaN or Infinity"),
        ("HINCRBYFLOAT h a nan", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT h f1 1", "-ERR hash value is not a float"),
        ("HINCRBYFLOAT h flt 3.0e3", "$4\r\n3000"),
        ("HINCRBYFLOAT h flt -3000", "$1\r\n0"),
        ("HGET h flt", "$1\r\n0"),
        ("HSET inf f inf", ":1"),
        ("HINCRBYFLOAT inf f 1", "-ERR increment would produce NaN or Infinity"),
        ("HSET s 1 2", ":1"),
        ("SET str v", "+OK"),
        ("HSET str f v", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HGET str f", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HMGET str f", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HLEN str", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HGETALL str", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HDEL str f", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HINCRBY str f 1", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HINCRBYFLOAT str f 1", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HSETNX str f v", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HSTRLEN str f", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HEXISTS str f", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HRANDFIELD str", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HRANDFIELD str 1", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HRANDFIELD str x", "-ERR value is not an integer or out of range"),
        ("HSCAN str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("HSCAN str x", "-ERR invalid cursor"),
        ("HRANDFIELD nokey", "$-1"),
        ("HRANDFIELD nokey 5", "*0"),
        ("HRANDFIELD nokey 5 WITHVALUES", "*0"),
        ("HRANDFIELD nokey x", "-ERR value is not an integer or out of range"),
        ("HRANDFIELD s", "$1\r\n1"),
        ("HRANDFIELD s 0", "*0"),
        ("HRANDFIELD s 0 withvalues", "*0"),
        ("HRANDFIELD s 5", "*1\r\n$1\r\n1"),
        ("HRANDFIELD s 5 WITHVALUES", "*2\r\n$1\r\n1\r\n$1\r\n2"),
        ("HRANDFIELD s -2", "*2\r\n$1\r\n1\r\n$1\r\n1"),
        ("HRANDFIELD s -2 WITHVALUES", "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n2"),
        ("HRANDFIELD s 1 WITHVALUE", "-ERR syntax error"),
        ("HRANDFIELD s 1 WITHVALUES x", "-ERR syntax error"),
        ("HRANDFIELD s -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        ("HRANDFIELD s 4611686018427387904 WITHVALUES", "-ERR value is out of range"),
        ("HRANDFIELD s -4611686018427387904 WITHVALUES", "-ERR value is out of range"),
        ("HSCAN nokey 0", "*2\r\n$1\r\n0\r\n*0"),
        ("HSCAN nokey 0 COUNT 0", "*2\r\n$1\r\n0\r\n*0"),
        ("HSCAN s 0", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2"),
        ("HSCAN h 0", "*2\r\n$1\r\n0\r\n*16\r\n$2\r\nf1\r\n$2\r\nv3\r\n$2\r\nf3\r\n$2\r\nv3\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\n0.5\r\n$2\r\nf2\r\n$5\r\nagain\r\n$3\r\nnew\r\n$1\r\n5\r\n$3\r\nbig\r\n$2\r\n-1\r\n$3\r\nflt\r\n$1\r\n0"),
        ("HSCAN h 12345 COUNT 1", "*2\r\n$1\r\n0\r\n*16\r\n$2\r\nf1\r\n$2\r\nv3\r\n$2\r\nf3\r\n$2\r\nv3\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\n0.5\r\n$2\r\nf2\r\n$5\r\nagain\r\n$3\r\nnew\r\n$1\r\n5\r\n$3\r\nbig\r\n$2\r\n-1\r\n$3\r\nflt\r\n$1\r\n0"),
        ("HSCAN h 0 MATCH f*", "*2\r\n$1\r\n0\r\n*8\r\n$2\r\nf1\r\n$2\r\nv3\r\n$2\r\nf3\r\n$2\r\nv3\r\n$2\r\nf2\r\n$5\r\nagain\r\n$3\r\nflt\r\n$1\r\n0"),
        ("HSCAN h 0 MATCH f* COUNT 1", "*2\r\n$1\r\n0\r\n*8\r\n$2\r\nf1\r\n$2\r\nv3\r\n$2\r\nf3\r\n$2\r\nv3\r\n$2\r\nf2\r\n$5\r\nagain\r\n$3\r\nflt\r\n$1\r\n0"),
        ("HSCAN h 0 COUNT 0", "-ERR syntax error"),
        ("HSCAN h 0 COUNT x", "-ERR value is not an integer or out of range"),
        ("HSCAN h 0 TYPE string", "-ERR syntax error"),
        ("HSCAN h 0 MATCH", "-ERR syntax error"),
        ("HSCAN h -1", "*2\r\n$1\r\n0\r\n*16\r\n$2\r\nf1\r\n$2\r\nv3\r\n$2\r\nf3\r\n$2\r\nv3\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\n0.5\r\n$2\r\nf2\r\n$5\r\nagain\r\n$3\r\nnew\r\n$1\r\n5\r\n$3\r\nbig\r\n$2\r\n-1\r\n$3\r\nflt\r\n$1\r\n0"),
        ("HSCAN h 18446744073709551616", "-ERR invalid cursor"),
        ("HSCAN h x", "-ERR invalid cursor"),
        ("HDEL s 1", ":1"),
        ("EXISTS s", ":0"),
        ("HSET L f xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ":1"),
        ("OBJECT ENCODING L", "$9\r\nhashtable"),
        ("HGETALL L", "*2\r\n$1\r\nf\r\n$65\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("HSET M xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx v", ":1"),
        ("OBJECT ENCODING M", "$9\r\nhashtable"),
        ("HDEL M xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ":1"),
        ("EXISTS M", ":0"),
        ("HSETNX N f xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ":1"),
        ("OBJECT ENCODING N", "$9\r\nhashtable"),
        ("HINCRBY P xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1", ":1"),
        ("OBJECT ENCODING P", "$9\r\nhashtable"),
        ("HSET Q a 1", ":1"),
        ("HSET Q a xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ":0"),
        ("OBJECT ENCODING Q", "$9\r\nhashtable"),
        ("HSET Q a 1", ":0"),
        ("OBJECT ENCODING Q", "$9\r\nhashtable"),
        ("HSCAN Q 0 COUNT 100", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1"),
        ("HSET t z 1 y 2 x 3", ":3"),
        ("HRANDFIELD t 3", "*3\r\n$1\r\nz\r\n$1\r\ny\r\n$1\r\nx"),
        ("HRANDFIELD t 10 WITHVALUES", "*6\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nx\r\n$1\r\n3"),
        ("HRANDFIELD t 9223372036854775807", "*3\r\n$1\r\nz\r\n$1\r\ny\r\n$1\r\nx"),
        ("HRANDFIELD t 4611686018427387903 WITHVALUES", "*6\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nx\r\n$1\r\n3"),
        ("HSET t y 20", ":0"),
        ("HINCRBY t z 100", ":101"),
        ("HGETALL t", "*6\r\n$1\r\nz\r\n$3\r\n101\r\n$1\r\ny\r\n$2\r\n20\r\n$1\r\nx\r\n$1\r\n3"),
        ("HINCRBYFLOAT t x 1e-5", "$7\r\n3.00001"),
        ("HINCRBYFLOAT t x 1e20", "$21\r\n100000000000000000000"),
        ("HINCRBYFLOAT t w -0.125", "$6\r\n-0.125"),
        ("HSTRLEN t x", ":21"),
        ("HVALS t", "*4\r\n$3\r\n101\r\n$2\r\n20\r\n$21\r\n100000000000000000000\r\n$6\r\n-0.125"),
        ("HSET t a", "-ERR wrong number of arguments for 'hset' command"),
        ("HINCRBY t", "-ERR wrong number of arguments for 'hincrby' command"),
        ("HRANDFIELD", "-ERR wrong number of arguments for 'hrandfield' command"),
        ("HSCAN t", "-ERR wrong number of arguments for 'hscan' command"),
    ]
}

fn resp3() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("HSET h f1 v1 f2 v2", ":2"),
        ("HGET h f1", "$2\r\nv1"),
        ("HGET h nope", "_"),
        ("HMGET h f1 nope", "*2\r\n$2\r\nv1\r\n_"),
        (
            "HGETALL h",
            "%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2",
        ),
        ("HGETALL nokey", "%0"),
        ("HKEYS h", "*2\r\n$2\r\nf1\r\n$2\r\nf2"),
        ("HKEYS nokey", "*0"),
        ("HVALS h", "*2\r\n$2\r\nv1\r\n$2\r\nv2"),
        ("HINCRBYFLOAT h n 1.5", "$3\r\n1.5"),
        ("HRANDFIELD nokey", "_"),
        ("HRANDFIELD nokey 3", "*0"),
        ("HRANDFIELD nokey 3 WITHVALUES", "*0"),
        ("HSET s a 1", ":1"),
        ("HRANDFIELD s", "$1\r\na"),
        ("HRANDFIELD s 3", "*1\r\n$1\r\na"),
        (
            "HRANDFIELD s 3 WITHVALUES",
            "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1",
        ),
        (
            "HRANDFIELD s -2 WITHVALUES",
            "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1",
        ),
        ("HRANDFIELD s -2", "*2\r\n$1\r\na\r\n$1\r\na"),
        ("HRANDFIELD s 0 WITHVALUES", "*0"),
        ("HSCAN s 0", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1"),
        ("HSCAN nokey 0", "*2\r\n$1\r\n0\r\n*0"),
        (
            "HSCAN h 0 MATCH *1",
            "*2\r\n$1\r\n0\r\n*2\r\n$2\r\nf1\r\n$2\r\nv1",
        ),
        ("HSET t z 1 y 2 x 3", ":3"),
        ("HRANDFIELD t 3", "*3\r\n$1\r\nz\r\n$1\r\ny\r\n$1\r\nx"),
        ("HRANDFIELD t 10 WITHVALUES", "*3\r\n*2\r\n$1\r\nz\r\n$1\r\n1\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$1\r\nx\r\n$1\r\n3"),
        ("HRANDFIELD t 4611686018427387903 WITHVALUES", "*3\r\n*2\r\n$1\r\nz\r\n$1\r\n1\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$1\r\nx\r\n$1\r\n3"),
        ("HGETALL t", "%3\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nx\r\n$1\r\n3"),
        ("HSCAN t 0 COUNT 1", "*2\r\n$1\r\n0\r\n*6\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nx\r\n$1\r\n3"),
    ]
}

#[test]
fn replies_resp2() {
    let server = TestServer::start();
    check_table(server.addr, false, &resp2());
}

#[test]
fn replies_resp3() {
    let server = TestServer::start();
    check_table(server.addr, true, &resp3());
}

#[test]
#[ignore = "needs redis-server"]
fn tables_match_redis() {
    let redis = RedisServer::start();
    check_table(redis.addr, false, &resp2());
    check_table(redis.addr, true, &resp3());
}

fn bulk(frame: &Frame) -> Vec<u8> {
    match frame {
        Frame::Bulk(b) => b.to_vec(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

fn array(frame: Frame) -> Vec<Frame> {
    match frame {
        Frame::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn encoding(conn: &mut Conn, key: &[u8]) -> Vec<u8> {
    bulk(&conn.command(&[b"OBJECT", b"ENCODING", key]))
}

/// 128 fields stay `listpack` (in insertion order), the 129th converts,
/// and deleting back below the threshold never converts back.
#[test]
fn converts_past_128_fields_and_never_back() {
    // The threshold of Redis's shipped redis.conf (the built-in default
    // is 512), given as a directive like a redis.conf line.
    let server = TestServer::start_with(&["--hash-max-listpack-entries", "128"]);
    let mut c = server.connect();
    let fields: Vec<Vec<u8>> = (0..129)
        .map(|i| format!("f{}", 1000 - i).into_bytes())
        .collect();
    for f in &fields[..128] {
        assert_eq!(c.command(&[b"HSET", b"h", f, b"v"]), Frame::Integer(1));
    }
    assert_eq!(encoding(&mut c, b"h"), b"listpack");
    let keys: Vec<Vec<u8>> = array(c.command(&[b"HKEYS", b"h"]))
        .iter()
        .map(bulk)
        .collect();
    assert_eq!(keys, fields[..128].to_vec());
    assert_eq!(
        c.command(&[b"HSET", b"h", &fields[128], b"v"]),
        Frame::Integer(1)
    );
    assert_eq!(encoding(&mut c, b"h"), b"hashtable");
    for f in &fields[..100] {
        assert_eq!(c.command(&[b"HDEL", b"h", f]), Frame::Integer(1));
    }
    assert_eq!(c.command(&[b"HLEN", b"h"]), Frame::Integer(29));
    assert_eq!(encoding(&mut c, b"h"), b"hashtable");
    let mut keys: Vec<Vec<u8>> = array(c.command(&[b"HKEYS", b"h"]))
        .iter()
        .map(bulk)
        .collect();
    keys.sort();
    let mut want = fields[100..].to_vec();
    want.sort();
    assert_eq!(keys, want);
}

/// HSCAN over a large hash returns every field present for the whole
/// scan, even while the hash grows between calls.
#[test]
fn hscan_of_a_table_sees_every_field_across_growth() {
    let server = TestServer::start();
    let mut c = server.connect();
    for i in 0..300 {
        c.command(&[
            b"HSET",
            b"h",
            format!("f{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]);
    }
    let mut seen: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut cursor = b"0".to_vec();
    let mut calls = 0;
    let mut extra = 300;
    loop {
        let reply = array(c.command(&[b"HSCAN", b"h", &cursor, b"COUNT", b"7"]));
        cursor = bulk(&reply[0]);
        let items = array(reply[1].clone());
        assert_eq!(items.len() % 2, 0);
        for pair in items.chunks(2) {
            seen.insert(bulk(&pair[0]), bulk(&pair[1]));
        }
        // Grow the table mid-scan: forces resizes.
        for _ in 0..20 {
            c.command(&[b"HSET", b"h", format!("f{extra}").as_bytes(), b"x"]);
            extra += 1;
        }
        calls += 1;
        assert!(calls < 10_000, "scan did not finish");
        if cursor == b"0" {
            break;
        }
    }
    for i in 0..300 {
        let v = seen.get(format!("f{i}").as_bytes()).expect("field seen");
        assert_eq!(v, format!("{i}").as_bytes());
    }
}

fn check_randfield(c: &mut Conn, key: &[u8], all: &HashMap<Vec<u8>, Vec<u8>>) {
    let size = all.len() as i64;
    for count in [1, 2, 5, size / 3, size / 2, size - 1, size, size + 10] {
        let n = count.to_string();
        // Distinct fields, min(count, size) of them.
        let fields: Vec<Vec<u8>> = array(c.command(&[b"HRANDFIELD", key, n.as_bytes()]))
            .iter()
            .map(bulk)
            .collect();
        assert_eq!(fields.len() as i64, count.min(size), "count {count}");
        let distinct: HashSet<_> = fields.iter().collect();
        assert_eq!(
            distinct.len(),
            fields.len(),
            "count {count} repeated a field"
        );
        assert!(fields.iter().all(|f| all.contains_key(f)));
        // WITHVALUES pairs each field with its value.
        let flat = array(c.command(&[b"HRANDFIELD", key, n.as_bytes(), b"WITHVALUES"]));
        assert_eq!(flat.len() as i64, 2 * count.min(size));
        for pair in flat.chunks(2) {
            assert_eq!(all.get(&bulk(&pair[0])), Some(&bulk(&pair[1])));
        }
        // A negative count repeats freely and returns exactly |count|.
        let neg = format!("-{}", count.max(1) * 3);
        let picks = array(c.command(&[b"HRANDFIELD", key, neg.as_bytes(), b"WITHVALUES"]));
        assert_eq!(picks.len() as i64, 2 * count.max(1) * 3);
        for pair in picks.chunks(2) {
            assert_eq!(all.get(&bulk(&pair[0])), Some(&bulk(&pair[1])));
        }
    }
    let one = bulk(&c.command(&[b"HRANDFIELD", key]));
    assert!(all.contains_key(&one));
}

#[test]
fn hrandfield_picks_members_without_repeats() {
    // The threshold of Redis's shipped redis.conf (the built-in default
    // is 512), given as a directive like a redis.conf line.
    let server = TestServer::start_with(&["--hash-max-listpack-entries", "128"]);
    let mut c = server.connect();
    for (key, size) in [(&b"small"[..], 20), (&b"large"[..], 400)] {
        let mut all = HashMap::new();
        for i in 0..size {
            let (f, v) = (
                format!("field:{i}").into_bytes(),
                format!("v{i}").into_bytes(),
            );
            c.command(&[b"HSET", key, &f, &v]);
            all.insert(f, v);
        }
        let want: &[u8] = if size > 128 {
            b"hashtable"
        } else {
            b"listpack"
        };
        assert_eq!(encoding(&mut c, key), want);
        check_randfield(&mut c, key, &all);
    }
}

/// Binary-safe fields and values, and an empty field, round-trip.
#[test]
fn binary_fields_and_values() {
    let server = TestServer::start();
    let mut c = server.connect();
    let f: &[u8] = b"\x00\xff\r\n";
    assert_eq!(
        c.command(&[b"HSET", b"h", f, b"\x00", b"", b"empty"]),
        Frame::Integer(2)
    );
    assert_eq!(bulk(&c.command(&[b"HGET", b"h", f])), b"\x00");
    assert_eq!(bulk(&c.command(&[b"HGET", b"h", b""])), b"empty");
    assert_eq!(c.command(&[b"HSTRLEN", b"h", b""]), Frame::Integer(5));
    // Redis reads the HSCAN cursor as a C string: it ends at a NUL.
    let scan = array(c.command(&[b"HSCAN", b"h", b"7\x00x"]));
    assert_eq!(bulk(&scan[0]), b"0");
    assert_eq!(array(scan[1].clone()).len(), 4);
    assert_eq!(c.command(&[b"HDEL", b"h", f, b""]), Frame::Integer(2));
    assert_eq!(c.command(&[b"EXISTS", b"h"]), Frame::Integer(0));
}
