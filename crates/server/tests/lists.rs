//! Byte-exact wire tests for the list commands, RESP2 and RESP3. Every
//! expected reply is Redis 7.0's own: the ignored `tables_match_redis`
//! runs the same tables against a real `redis-server`.

mod common;

use std::net::SocketAddr;

use common::{encode, Conn, RedisServer, TestServer};
use shoal_resp::Frame;

/// A command (arguments split on single spaces) and its exact reply,
/// without the final `\r\n`.
type Case = (&'static str, &'static str);

/// Runs `table` on one connection. Each reply is followed by a PING's
/// (except inside MULTI), so a reply with extra bytes cannot hide.
fn check_table(addr: SocketAddr, resp3: bool, table: &[Case]) {
    let mut conn = Conn::connect(addr);
    if resp3 {
        let hello = conn.command(&[b"HELLO", b"3"]);
        assert!(matches!(hello, Frame::Map(_)), "HELLO 3 replied {hello:?}");
    }
    let mut in_multi = false;
    for (i, (input, expected)) in table.iter().enumerate() {
        let args: Vec<&[u8]> = input.split(' ').map(str::as_bytes).collect();
        let name = input.split(' ').next().unwrap_or("").to_ascii_uppercase();
        in_multi |= name == "MULTI";
        let mut request = encode(&args);
        let mut want = format!("{expected}\r\n");
        if !in_multi {
            request.extend_from_slice(&encode(&[b"PING"]));
            want.push_str("+PONG\r\n");
        }
        if name == "EXEC" || name == "DISCARD" {
            in_multi = false;
        }
        conn.send(&request);
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
        ("RPUSH l a b c", ":3"),
        ("LPUSH l z y", ":5"),
        (
            "LRANGE l 0 -1",
            "*5\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc",
        ),
        ("LRANGE l -2 100", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("LRANGE l 3 1", "*0"),
        ("LRANGE l -9223372036854775808 0", "*1\r\n$1\r\ny"),
        (
            "LRANGE l x 1",
            "-ERR value is not an integer or out of range",
        ),
        ("LRANGE nokey 0 -1", "*0"),
        ("LLEN l", ":5"),
        ("LLEN nokey", ":0"),
        ("OBJECT ENCODING l", "$9\r\nquicklist"),
        ("LINDEX l -1", "$1\r\nc"),
        ("LINDEX l 5", "$-1"),
        ("LINDEX l -9223372036854775808", "$-1"),
        ("LINDEX l x", "-ERR value is not an integer or out of range"),
        ("LINDEX nokey x", "$-1"),
        // LPOP/RPOP, with and without count.
        ("LPOP nokey", "$-1"),
        ("LPOP nokey 0", "*-1"),
        ("RPOP nokey 3", "*-1"),
        ("LPOP l 0", "*0"),
        ("LPOP l", "$1\r\ny"),
        ("RPOP l 2", "*2\r\n$1\r\nc\r\n$1\r\nb"),
        ("LPOP l x", "-ERR value is out of range, must be positive"),
        ("LPOP l -1", "-ERR value is out of range, must be positive"),
        (
            "LPOP l 1 2",
            "-ERR wrong number of arguments for 'lpop' command",
        ),
        ("LPOP l 10", "*2\r\n$1\r\nz\r\n$1\r\na"),
        ("EXISTS l", ":0"),
        ("LPUSHX l a", ":0"),
        ("RPUSH l a", ":1"),
        ("RPUSHX l b c", ":3"),
        // Positional edits.
        ("LSET l 1 B", "+OK"),
        ("LSET l -1 C", "+OK"),
        ("LSET l 3 x", "-ERR index out of range"),
        ("LSET l x v", "-ERR value is not an integer or out of range"),
        ("LSET nokey 0 v", "-ERR no such key"),
        ("LINSERT l BEFORE B x", ":4"),
        ("LINSERT l after C y", ":5"),
        ("LINSERT l AFTER nope y", ":-1"),
        ("LINSERT l MIDDLE a y", "-ERR syntax error"),
        ("LINSERT nokey BEFORE a y", ":0"),
        (
            "LRANGE l 0 -1",
            "*5\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\ny",
        ),
        ("RPUSH r a b a c a", ":5"),
        ("LREM r -1 a", ":1"),
        ("LREM r 0 a", ":2"),
        ("LREM r 0 zz", ":0"),
        ("LREM r x a", "-ERR value is not an integer or out of range"),
        ("LRANGE r 0 -1", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("LREM r -9223372036854775808 b", ":1"),
        ("LREM r 1 c", ":1"),
        ("EXISTS r", ":0"),
        ("LTRIM l 1 -2", "+OK"),
        ("LRANGE l 0 -1", "*3\r\n$1\r\nx\r\n$1\r\nB\r\n$1\r\nC"),
        ("LTRIM l 5 10", "+OK"),
        ("EXISTS l", ":0"),
        ("LTRIM nokey 0 1", "+OK"),
        (
            "LTRIM nokey x 1",
            "-ERR value is not an integer or out of range",
        ),
        // LPOS.
        ("RPUSH p a b a c a", ":5"),
        ("LPOS p a", ":0"),
        ("LPOS p a RANK 2", ":2"),
        ("LPOS p a RANK -1", ":4"),
        ("LPOS p a COUNT 0", "*3\r\n:0\r\n:2\r\n:4"),
        ("LPOS p a RANK -2 COUNT 2", "*2\r\n:2\r\n:0"),
        ("LPOS p a MAXLEN 2 COUNT 0", "*1\r\n:0"),
        ("LPOS p zz", "$-1"),
        ("LPOS p zz COUNT 1", "*0"),
        ("LPOS nokey a", "$-1"),
        ("LPOS nokey a COUNT 1", "*0"),
        (
            "LPOS p a RANK 0",
            "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
             second ... or use negative to start from the end of the list",
        ),
        // Redis 7.0 negates i64::MIN in a C long: every match, from the tail.
        ("LPOS p a RANK -9223372036854775808", ":4"),
        (
            "LPOS p a RANK -9223372036854775808 COUNT 1",
            "*3\r\n:4\r\n:2\r\n:0",
        ),
        (
            "LPOS p a RANK x",
            "-ERR value is not an integer or out of range",
        ),
        ("LPOS p a COUNT -1", "-ERR COUNT can't be negative"),
        ("LPOS p a MAXLEN -1", "-ERR MAXLEN can't be negative"),
        ("LPOS p a FOO 1", "-ERR syntax error"),
        ("LPOS p a RANK", "-ERR syntax error"),
        // Moves.
        ("RPOPLPUSH p q", "$1\r\na"),
        ("LMOVE p q LEFT RIGHT", "$1\r\na"),
        ("LRANGE q 0 -1", "*2\r\n$1\r\na\r\n$1\r\na"),
        ("LMOVE q q LEFT RIGHT", "$1\r\na"),
        ("LMOVE nokey q LEFT RIGHT", "$-1"),
        ("LMOVE p q UP RIGHT", "-ERR syntax error"),
        ("SET s v", "+OK"),
        (
            "LMOVE p s LEFT RIGHT",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            "LMOVE s p LEFT RIGHT",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ("LMOVE nokey s LEFT RIGHT", "$-1"),
        (
            "LPUSH s a",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            "LRANGE s 0 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            "LPOS s a",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        // LMPOP.
        (
            "LMPOP 2 nokey p LEFT COUNT 2",
            "*2\r\n$1\r\np\r\n*2\r\n$1\r\nb\r\n$1\r\na",
        ),
        ("LMPOP 1 p RIGHT COUNT 5", "*2\r\n$1\r\np\r\n*1\r\n$1\r\nc"),
        ("LMPOP 1 p RIGHT", "*-1"),
        (
            "LMPOP 2 nokey s LEFT",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ("LMPOP 0 a LEFT", "-ERR numkeys should be greater than 0"),
        ("LMPOP 9223372036854775807 a LEFT", "-ERR syntax error"),
        ("LMPOP 2 a LEFT", "-ERR syntax error"),
        (
            "LMPOP 1 a LEFT COUNT 0",
            "-ERR count should be greater than 0",
        ),
        ("LMPOP 1 a LEFT COUNT 1 COUNT 2", "-ERR syntax error"),
        ("LMPOP 1 a MIDDLE", "-ERR syntax error"),
        // Blocking forms with data, and their errors.
        ("RPUSH b1 x y", ":2"),
        ("BLPOP nokey b1 0", "*2\r\n$2\r\nb1\r\n$1\r\nx"),
        ("BRPOP b1 0", "*2\r\n$2\r\nb1\r\n$1\r\ny"),
        (
            "BLPOP nokey s 0",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            "BLPOP nokey x",
            "-ERR timeout is not a float or out of range",
        ),
        ("BLPOP nokey -1", "-ERR timeout is negative"),
        ("RPUSH b1 x y", ":2"),
        ("BLMOVE b1 b2 RIGHT LEFT 0", "$1\r\ny"),
        ("BRPOPLPUSH b1 b2 0", "$1\r\nx"),
        ("BLMOVE b1 b2 UP LEFT 0", "-ERR syntax error"),
        (
            "BLMPOP 0 1 b2 LEFT COUNT 5",
            "*2\r\n$2\r\nb2\r\n*2\r\n$1\r\nx\r\n$1\r\ny",
        ),
        (
            "BLMPOP x 1 b2 LEFT",
            "-ERR timeout is not a float or out of range",
        ),
        (
            "BLMPOP 0 0 b2 LEFT",
            "-ERR numkeys should be greater than 0",
        ),
        // Inside MULTI a blocking command on empty keys cannot block.
        ("MULTI", "+OK"),
        ("BLPOP nokey 0", "+QUEUED"),
        ("BLMOVE nokey x LEFT LEFT 0", "+QUEUED"),
        ("BRPOPLPUSH nokey x 0", "+QUEUED"),
        ("BLMPOP 0 1 nokey LEFT", "+QUEUED"),
        ("EXEC", "*4\r\n*-1\r\n$-1\r\n$-1\r\n*-1"),
    ]
}

fn resp3() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("LPOP nokey", "_"),
        ("LPOP nokey 1", "_"),
        ("LINDEX nokey 0", "_"),
        ("LPOS nokey a", "_"),
        ("LPOS nokey a COUNT 1", "*0"),
        ("LMPOP 1 nokey LEFT", "_"),
        ("LMOVE nokey x LEFT LEFT", "_"),
        ("RPUSH l a b", ":2"),
        ("LPOP l 0", "*0"),
        ("LPOP l 5", "*2\r\n$1\r\na\r\n$1\r\nb"),
        ("RPUSH l a b", ":2"),
        ("LPOS l c", "_"),
        ("LMPOP 1 l RIGHT", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nb"),
        ("BLPOP l 0", "*2\r\n$1\r\nl\r\n$1\r\na"),
        ("MULTI", "+OK"),
        ("BLPOP nokey 0", "+QUEUED"),
        ("BLMOVE nokey x LEFT LEFT 0", "+QUEUED"),
        ("BRPOPLPUSH nokey x 0", "+QUEUED"),
        ("BLMPOP 0 1 nokey LEFT", "+QUEUED"),
        ("LMPOP 1 nokey LEFT", "+QUEUED"),
        ("EXEC", "*5\r\n_\r\n_\r\n_\r\n_\r\n_"),
    ]
}

#[test]
fn list_replies_resp2() {
    let server = TestServer::start();
    check_table(server.addr, false, &resp2());
}

#[test]
fn list_replies_resp3() {
    let server = TestServer::start();
    check_table(server.addr, true, &resp3());
}

/// Lists that span many quicklist nodes: pushes at both ends, ranges and
/// edits across node boundaries, compared with a plain `Vec`.
#[test]
fn long_lists_cross_node_boundaries() {
    let server = TestServer::start();
    let mut conn = server.connect();
    let mut model: Vec<String> = Vec::new();
    for i in 0..200 {
        // 200-byte elements: 8 KiB nodes hold about 40 of them.
        let v = format!("v{i}-{}", "x".repeat(195));
        if i % 3 == 0 {
            conn.command(&[b"LPUSH", b"k", v.as_bytes()]);
            model.insert(0, v);
        } else {
            conn.command(&[b"RPUSH", b"k", v.as_bytes()]);
            model.push(v);
        }
    }
    conn.command(&[b"LSET", b"k", b"57", b"changed"]);
    model[57] = "changed".into();
    conn.command(&[b"LINSERT", b"k", b"BEFORE", model[100].as_bytes(), b"ins"]);
    let at = 100;
    model.insert(at, "ins".into());
    conn.command(&[b"LTRIM", b"k", b"3", b"-4"]);
    model = model[3..model.len() - 3].to_vec();
    let bulks = |vs: &[String]| {
        Frame::Array(
            vs.iter()
                .map(|v| Frame::Bulk(v.clone().into_bytes().into()))
                .collect(),
        )
    };
    assert_eq!(conn.command(&[b"LRANGE", b"k", b"0", b"-1"]), bulks(&model));
    assert_eq!(
        conn.command(&[b"LRANGE", b"k", b"50", b"120"]),
        bulks(&model[50..=120])
    );
    assert_eq!(
        conn.command(&[b"LINDEX", b"k", b"-77"]),
        Frame::Bulk(model[model.len() - 77].clone().into_bytes().into())
    );
    let mut tail: Vec<String> = model[model.len() - 9..].to_vec();
    tail.reverse();
    assert_eq!(conn.command(&[b"RPOP", b"k", b"9"]), bulks(&tail));
}

#[test]
#[ignore = "needs redis-server"]
fn tables_match_redis() {
    let redis = RedisServer::start();
    check_table(redis.addr, false, &resp2());
    check_table(redis.addr, true, &resp3());
}

/// COMMAND INFO's name, arity, flags and legacy key positions, as Redis
/// 7.0 reports them for every list command.
#[test]
#[ignore = "needs redis-server"]
fn command_info_matches_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let mut r = redis.connect();
    let mut s = shoal.connect();
    for name in [
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "llen",
        "lrange",
        "lindex",
        "lset",
        "linsert",
        "lrem",
        "ltrim",
        "lpos",
        "lmove",
        "rpoplpush",
        "lmpop",
        "blpop",
        "brpop",
        "blmove",
        "brpoplpush",
        "blmpop",
    ] {
        let head = |f: Frame| match f {
            Frame::Array(mut infos) => match infos.remove(0) {
                Frame::Array(fields) => fields.into_iter().take(6).collect::<Vec<_>>(),
                other => panic!("{name}: {other:?}"),
            },
            other => panic!("{name}: {other:?}"),
        };
        let args: &[&[u8]] = &[b"COMMAND", b"INFO", name.as_bytes()];
        assert_eq!(head(s.command(args)), head(r.command(args)), "{name}");
    }
}
