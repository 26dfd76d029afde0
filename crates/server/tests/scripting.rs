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

const LIBRARY: &str = "#!lua name=mylib\n\
local function getter(keys, args) return redis.call('get', keys[1]) end\n\
redis.register_function('my_get', getter)\n\
redis.register_function{function_name='my_set', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, description='sets', flags={}}\n\
redis.register_function{function_name='my_ro', callback=function(keys, args) return #keys + #args end, flags={'no-writes'}}\n";

/// FUNCTION commands and FCALL whose replies must be Redis's.
const FUNCTION_CALLS: &[&[&str]] = &[
    &["FUNCTION", "LOAD", LIBRARY],
    &["FUNCTION", "LOAD", LIBRARY],
    &["FUNCTION", "LOAD", "REPLACE", LIBRARY],
    &["FCALL", "my_set", "1", "k", "v"],
    &["FCALL", "MY_GET", "1", "k"],
    &["FCALL_RO", "my_ro", "2", "a", "b", "c"],
    &["FCALL_RO", "my_set", "1", "k", "v"],
    &["FCALL", "nosuch", "0"],
    &["FCALL", "my_get", "x"],
    &["FCALL", "my_get", "5", "k"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "other*"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"],
    &["FUNCTION", "LOAD", "#!lua name=clash\nredis.register_function('my_get', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=broken\nthis is not lua"],
    &["FUNCTION", "LOAD", "#!lua name=badreg\nredis.register_function('f')"],
    &["FUNCTION", "LOAD", "#!lua name=newglobal\nx = 1"],
    &["FUNCTION", "LOAD", "#!lua name=errs\nredis.register_function('boom', function(k, a) return redis.call('incr', 'nonnum') end)"],
    &["SET", "nonnum", "text"],
    &["FCALL", "boom", "0"],
    &["FUNCTION", "DELETE", "nosuch"],
    &["FUNCTION", "DELETE", "mylib"],
    &["FCALL", "my_get", "1", "k"],
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LIST"],
];

/// FUNCTION LIST with each library's functions in name order.
fn sorted_functions(frame: Frame) -> Frame {
    fn sort_in(frame: Frame) -> Frame {
        match frame {
            Frame::Array(items) => {
                let mut items: Vec<Frame> = items.into_iter().map(sort_in).collect();
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|i| matches!(i, Frame::Array(_) | Frame::Map(_)))
                {
                    items.sort_by_key(|i| format!("{i:?}"));
                }
                Frame::Array(items)
            }
            Frame::Map(pairs) => {
                Frame::Map(pairs.into_iter().map(|(k, v)| (k, sort_in(v))).collect())
            }
            other => other,
        }
    }
    sort_in(frame)
}

#[test]
#[ignore = "needs redis-server"]
fn functions_reply_exactly_as_redis_does() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    for protocol in ["2", "3"] {
        let mut r = redis.connect();
        let mut s = shoal.connect();
        r.command(&[b"HELLO", protocol.as_bytes()]);
        s.command(&[b"HELLO", protocol.as_bytes()]);
        for conn in [&mut r, &mut s] {
            conn.command(&[b"FLUSHALL"]);
            conn.command(&[b"FUNCTION", b"FLUSH"]);
        }
        for call in FUNCTION_CALLS {
            let args: Vec<&[u8]> = call.iter().map(|a| a.as_bytes()).collect();
            let expected = r.command(&args);
            let got = s.command(&args);
            // Redis lists a library's functions in its hash table's order,
            // which its random hash seed changes per process.
            assert_eq!(
                sorted_functions(got),
                sorted_functions(expected),
                "RESP{protocol} {call:?}"
            );
        }
    }
}

#[test]
fn functions_load_list_call_and_delete() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        c.command(&[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]),
        bulk("mylib")
    );
    assert_eq!(
        c.command(&[b"FCALL", b"my_set", b"1", b"k", b"v"]),
        Frame::Simple("OK".into())
    );
    // Function names are case-insensitive.
    assert_eq!(c.command(&[b"FCALL", b"MY_GET", b"1", b"k"]), bulk("v"));
    assert_eq!(
        c.command(&[b"FCALL_RO", b"my_set", b"1", b"k", b"v"]),
        Frame::Error("ERR Can not execute a script with write flag using *_ro command.".into())
    );
    assert_eq!(
        c.command(&[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]),
        Frame::Error("ERR Library 'mylib' already exists".into())
    );
    assert_eq!(
        c.command(&[b"FUNCTION", b"DELETE", b"mylib"]),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        c.command(&[b"FCALL", b"my_get", b"1", b"k"]),
        Frame::Error("ERR Function not found".into())
    );
}

#[test]
fn a_script_past_busy_reply_threshold_gets_busy_and_script_kill() {
    let server = TestServer::start();
    let mut admin = server.connect();
    admin.command(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"50"]);
    let mut runner = server.connect();
    runner.send(&encode(&[b"EVAL", b"while true do end", b"0"]));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let busy = Frame::Error(
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
            .into(),
    );
    assert_eq!(admin.command(&[b"PING"]), busy);
    // A transaction that met BUSY is refused at EXEC.
    assert_eq!(admin.command(&[b"MULTI"]), Frame::Simple("OK".into()));
    assert_eq!(admin.command(&[b"INCR", b"n"]), busy);
    assert_eq!(
        admin.command(&[b"FUNCTION", b"KILL"]),
        busy,
        "FUNCTION KILL does not stop an EVAL"
    );
    assert_eq!(
        admin.command(&[b"SCRIPT", b"KILL"]),
        Frame::Simple("OK".into())
    );
    let Frame::Error(killed) = runner.read_frame() else {
        panic!("the script's caller gets an error");
    };
    assert!(
        killed.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert_eq!(
        admin.command(&[b"EXEC"]),
        Frame::Error("EXECABORT Transaction discarded because of previous errors.".into())
    );
    assert_eq!(admin.command(&[b"GET", b"n"]), Frame::Null);
    assert_eq!(
        admin.command(&[b"SCRIPT", b"KILL"]),
        Frame::Error("NOTBUSY No scripts in execution right now.".into())
    );
}
