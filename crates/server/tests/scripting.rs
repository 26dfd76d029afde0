//! Lua scripting: EVAL / EVALSHA / SCRIPT on the wire, how a script's
//! writes reach replicas, and a differential run of many scripts against a
//! real `redis-server`.

mod common;

use bytes::Bytes;
use common::{encode, Conn, RedisServer, TestServer};
use shoal_resp::Frame;

fn eval(conn: &mut Conn, script: &str, keys: &[&str], args: &[&str]) -> Frame {
    let numkeys = keys.len().to_string();
    let mut argv: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), numkeys.as_bytes()];
    argv.extend(keys.iter().map(|k| k.as_bytes()));
    argv.extend(args.iter().map(|a| a.as_bytes()));
    conn.command(&argv)
}

fn sha(script: &str) -> String {
    sha1_smol::Sha1::from(script).digest().to_string()
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn eval_runs_commands_and_converts_replies_both_ways() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["k"],
            &["v"]
        ),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        eval(
            &mut c,
            "return {1, 'two', {3.7}, true, false, nil, 9}",
            &[],
            &[]
        ),
        Frame::Array(vec![
            Frame::Integer(1),
            bulk("two"),
            Frame::Array(vec![Frame::Integer(3)]),
            Frame::Integer(1),
            Frame::Null,
        ])
    );
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('get', KEYS[1]) .. '!'",
            &["k"],
            &[]
        ),
        bulk("v!")
    );
    // A missing key is false in Lua.
    assert_eq!(
        eval(
            &mut c,
            "return redis.call('get', 'nokey') == false",
            &[],
            &[]
        ),
        Frame::Integer(1)
    );
    let sha = match c.command(&[b"SCRIPT", b"LOAD", b"return ARGV[1]"]) {
        Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(sha, "098e0f0d1448c0a81dafe820f66d460eb09263da");
    assert_eq!(
        c.command(&[b"EVALSHA", sha.as_bytes(), b"0", b"hi"]),
        bulk("hi")
    );
    assert_eq!(
        c.command(&[b"SCRIPT", b"EXISTS", sha.as_bytes(), b"nope"]),
        Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])
    );
    assert_eq!(
        c.command(&[b"SCRIPT", b"FLUSH"]),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        c.command(&[b"EVALSHA", sha.as_bytes(), b"0"]),
        Frame::Error("NOSCRIPT No matching script. Please use EVAL.".into())
    );
}

#[test]
fn script_errors_name_the_script_and_line() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.command(&[b"SET", b"s", b"text"]);
    let script = "local x = 1\nreturn redis.call('incr', KEYS[1])";
    assert_eq!(
        eval(&mut c, script, &["s"], &[]),
        Frame::Error(format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:2.",
            sha(script)
        ))
    );
    // pcall hands the error back as a table the script may return.
    assert_eq!(
        eval(&mut c, "return redis.pcall('incr', KEYS[1])", &["s"], &[]),
        Frame::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(
        eval(&mut c, "x = 1", &[], &[]),
        Frame::Error(format!(
            "ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha("x = 1")
        ))
    );
    assert_eq!(eval(&mut c, "return", &["a"], &["b"]), Frame::Null);
    assert_eq!(
        c.command(&[b"EVAL", b"return 1", b"2", b"a"]),
        Frame::Error("ERR Number of keys can't be greater than number of args".into())
    );
    assert_eq!(
        c.command(&[b"EVAL", b"return 1", b"-1"]),
        Frame::Error("ERR Number of keys can't be negative".into())
    );
    assert_eq!(
        eval(&mut c, "return redis.call('set', 'k', 'v')", &[], &[]),
        Frame::Simple("OK".into())
    );
    let script = "return redis.call('set', 'k', 'v')";
    assert_eq!(
        c.command(&[b"EVAL_RO", script.as_bytes(), b"0"]),
        Frame::Error(format!(
            "ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.",
            sha(script)
        ))
    );
}

#[test]
fn a_scripts_writes_reach_replicas_as_one_transaction() {
    let server = TestServer::start_with(&["--repl-ping-replica-period", "3600"]);
    let mut c = server.connect();
    let mut replica = server.connect();
    replica.send(b"SYNC\r\n");
    // Skip the image: `$len\r\n` then the RDB.
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        let byte = replica.read_exact_or_eof(1);
        if header.is_empty() && byte == b"\n" {
            continue;
        }
        header.extend_from_slice(&byte);
    }
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    replica.read_exact_or_eof(len);
    eval(
        &mut c,
        "redis.call('set', KEYS[1], 'a') redis.call('get', KEYS[1]) redis.call('incr', KEYS[2]) return 1",
        &["x", "n"],
        &[],
    );
    eval(
        &mut c,
        "return redis.call('set', KEYS[1], 'once')",
        &["y"],
        &[],
    );
    let expected = [
        encode(&[b"SELECT", b"0"]),
        encode(&[b"MULTI"]),
        encode(&[b"set", b"x", b"a"]),
        encode(&[b"incr", b"n"]),
        encode(&[b"EXEC"]),
        encode(&[b"set", b"y", b"once"]),
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&replica.read_exact_or_eof(expected.len())),
        String::from_utf8_lossy(&expected)
    );
}

/// Scripts whose replies (or errors) must be Redis's byte for byte.
const SCRIPTS: &[(&str, &[&str], &[&str])] = &[
    ("return 1", &[], &[]),
    ("return -3.9", &[], &[]),
    ("return 'str'", &[], &[]),
    ("return true", &[], &[]),
    ("return false", &[], &[]),
    ("return nil", &[], &[]),
    ("return {1,2,3,'ciao',{1,2}}", &[], &[]),
    ("return {1,nil,3}", &[], &[]),
    ("return {err='My Error'}", &[], &[]),
    ("return {ok='fine'}", &[], &[]),
    ("return redis.error_reply('My Error')", &[], &[]),
    ("return redis.error_reply('-CODE with code')", &[], &[]),
    ("return redis.status_reply('STATUS')", &[], &[]),
    ("return redis.sha1hex('Pizza & Mandolino')", &[], &[]),
    (
        "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}",
        &["a", "b"],
        &["c", "d"],
    ),
    ("return redis.call('incr', KEYS[1])", &["counter"], &[]),
    ("return redis.call('hset', KEYS[1], 'f', 'v')", &["h"], &[]),
    ("return redis.call('hgetall', KEYS[1])", &["h"], &[]),
    ("return redis.call('get', KEYS[1])", &["h"], &[]),
    ("return redis.pcall('get', KEYS[1])", &["h"], &[]),
    (
        "return redis.call('lpush', KEYS[1], 1, 2.5, 1e3)",
        &["l"],
        &[],
    ),
    ("return redis.call('lrange', KEYS[1], 0, -1)", &["l"], &[]),
    ("return redis.call('nosuch')", &[], &[]),
    ("return redis.call('get')", &[], &[]),
    ("return redis.call()", &[], &[]),
    ("return redis.call({})", &[], &[]),
    ("return redis.call('eval', 'return 1', 0)", &[], &[]),
    ("return undefined_thing", &[], &[]),
    ("newglobal = 1", &[], &[]),
    ("error('raised')", &[], &[]),
    ("error({err='CUSTOM raised'})", &[], &[]),
    ("return cjson.encode({1,2,3})", &[], &[]),
    ("return cjson.decode('[1,2,{\"a\":3}]')[3].a", &[], &[]),
    ("return bit.tohex(65535)", &[], &[]),
    ("return bit.band(0xff, 0x3c)", &[], &[]),
    ("return bit.bxor(1, 3)", &[], &[]),
    ("return bit.lshift(1, 31)", &[], &[]),
    (
        "redis.setresp(3) return redis.call('hgetall', KEYS[1])",
        &["h"],
        &[],
    ),
    (
        "redis.setresp(3) return redis.call('get', 'missing')",
        &[],
        &[],
    ),
    ("redis.setresp(5)", &[], &[]),
    ("return {double=3.5}", &[], &[]),
    ("return tostring(1/0)", &[], &[]),
    ("return string.format('%d-%s', 5, 'x')", &[], &[]),
    ("return table.concat({'a','b'}, ',')", &[], &[]),
    ("return math.floor(3.7)", &[], &[]),
    ("syntax error", &[], &[]),
    (
        "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)",
        &[],
        &[],
    ),
    ("#!lua flags=bogus\nreturn 1", &[], &[]),
    ("#!notlua\nreturn 1", &[], &[]),
];

#[test]
#[ignore = "needs redis-server"]
fn scripts_reply_exactly_as_redis_does() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    for protocol in ["2", "3"] {
        let mut r = redis.connect();
        let mut s = shoal.connect();
        r.command(&[b"HELLO", protocol.as_bytes()]);
        s.command(&[b"HELLO", protocol.as_bytes()]);
        r.command(&[b"FLUSHALL"]);
        s.command(&[b"FLUSHALL"]);
        for (script, keys, args) in SCRIPTS {
            let expected = eval(&mut r, script, keys, args);
            let got = eval(&mut s, script, keys, args);
            assert_eq!(got, expected, "RESP{protocol} script {script:?}");
        }
    }
}
