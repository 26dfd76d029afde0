//! Streams over the wire: replies and their RESP3 types, consumer groups,
//! blocking reads, persistence round trips, and byte-for-byte agreement
//! with a real `redis-server`.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{encode, Conn, RedisServer, TestServer};
use shoal_resp::Frame;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn entry(id: &str, fields: &[&str]) -> Frame {
    Frame::Array(vec![
        bulk(id),
        Frame::Array(fields.iter().map(|f| bulk(f)).collect()),
    ])
}

fn cmd(c: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    c.command(&args)
}

#[test]
fn add_range_and_trim() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "XADD s 1-1 a 1 b 2"), bulk("1-1"));
    assert_eq!(cmd(&mut c, "XADD s 1-* a 3"), bulk("1-2"));
    assert_eq!(cmd(&mut c, "XADD s 5 c 3"), bulk("5-0"));
    assert_eq!(
        cmd(&mut c, "XADD s 5 c 3"),
        Frame::Error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
                .into()
        )
    );
    assert_eq!(
        cmd(&mut c, "XADD s 0-0 c 3"),
        Frame::Error("ERR The ID specified in XADD must be greater than 0-0".into())
    );
    assert_eq!(
        cmd(&mut c, "XADD s 6 c"),
        Frame::Error("ERR wrong number of arguments for 'xadd' command".into())
    );
    assert_eq!(cmd(&mut c, "XADD nope NOMKSTREAM * a 1"), Frame::Null);
    assert_eq!(cmd(&mut c, "XLEN s"), Frame::Integer(3));
    assert_eq!(
        cmd(&mut c, "XRANGE s - +"),
        Frame::Array(vec![
            entry("1-1", &["a", "1", "b", "2"]),
            entry("1-2", &["a", "3"]),
            entry("5-0", &["c", "3"]),
        ])
    );
    assert_eq!(
        cmd(&mut c, "XREVRANGE s + (1-1 COUNT 1"),
        Frame::Array(vec![entry("5-0", &["c", "3"])])
    );
    assert_eq!(cmd(&mut c, "XRANGE s - + COUNT 0"), Frame::NullArray);
    assert_eq!(
        cmd(&mut c, "XRANGE s x +"),
        Frame::Error("ERR Invalid stream ID specified as stream command argument".into())
    );
    assert_eq!(cmd(&mut c, "XDEL s 1-2 9-9"), Frame::Integer(1));
    assert_eq!(cmd(&mut c, "XTRIM s MAXLEN 1"), Frame::Integer(1));
    assert_eq!(
        cmd(&mut c, "XRANGE s - +"),
        Frame::Array(vec![entry("5-0", &["c", "3"])])
    );
    assert_eq!(cmd(&mut c, "TYPE s"), Frame::Simple("stream".into()));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING s"), bulk("stream"));
    c.command(&[b"SET", b"str", b"x"]);
    assert_eq!(
        cmd(&mut c, "XADD str * a 1"),
        Frame::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    // Approximate trimming removes whole nodes only, as Redis does.
    cmd(&mut c, "CONFIG SET stream-node-max-entries 100");
    for i in 0..1000 {
        c.command(&[
            b"XADD",
            b"big",
            b"MAXLEN",
            b"~",
            b"555",
            b"*",
            b"x",
            i.to_string().as_bytes(),
        ]);
    }
    assert_eq!(cmd(&mut c, "XLEN big"), Frame::Integer(600));
}

#[test]
fn xread_replies_are_maps_in_resp3() {
    let server = TestServer::start();
    let mut c = server.connect();
    cmd(&mut c, "XADD s 1-1 a 1");
    let expected = entry("1-1", &["a", "1"]);
    assert_eq!(
        cmd(&mut c, "XREAD STREAMS s 0"),
        Frame::Array(vec![Frame::Array(vec![
            bulk("s"),
            Frame::Array(vec![expected.clone()])
        ])])
    );
    assert_eq!(cmd(&mut c, "XREAD STREAMS s $"), Frame::NullArray);
    cmd(&mut c, "HELLO 3");
    assert_eq!(
        cmd(&mut c, "XREAD COUNT 5 STREAMS s 0"),
        Frame::Map(vec![(bulk("s"), Frame::Array(vec![expected]))])
    );
    assert_eq!(cmd(&mut c, "XREAD STREAMS s $"), Frame::Null);
}

#[test]
fn consumer_groups_deliver_acknowledge_and_claim() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        cmd(&mut c, "XGROUP CREATE s g $"),
        Frame::Error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.".into())
    );
    assert_eq!(
        cmd(&mut c, "XGROUP CREATE s g $ MKSTREAM"),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        cmd(&mut c, "XGROUP CREATE s g $"),
        Frame::Error("BUSYGROUP Consumer Group name already exists".into())
    );
    for i in 1..=3 {
        c.command(&[b"XADD", b"s", format!("{i}-0").as_bytes(), b"f", b"v"]);
    }
    assert_eq!(
        cmd(&mut c, "XREADGROUP GROUP g alice COUNT 2 STREAMS s >"),
        Frame::Array(vec![Frame::Array(vec![
            bulk("s"),
            Frame::Array(vec![entry("1-0", &["f", "v"]), entry("2-0", &["f", "v"])])
        ])])
    );
    // History: alice's own pending entries.
    assert_eq!(
        cmd(&mut c, "XREADGROUP GROUP g alice STREAMS s 0"),
        Frame::Array(vec![Frame::Array(vec![
            bulk("s"),
            Frame::Array(vec![entry("1-0", &["f", "v"]), entry("2-0", &["f", "v"])])
        ])])
    );
    assert_eq!(
        cmd(&mut c, "XPENDING s g"),
        Frame::Array(vec![
            Frame::Integer(2),
            bulk("1-0"),
            bulk("2-0"),
            Frame::Array(vec![Frame::Array(vec![bulk("alice"), bulk("2")])]),
        ])
    );
    assert_eq!(cmd(&mut c, "XACK s g 1-0 1-0 9-0"), Frame::Integer(1));
    assert_eq!(
        cmd(&mut c, "XCLAIM s g bob 0 2-0 JUSTID"),
        Frame::Array(vec![bulk("2-0")])
    );
    let Frame::Array(rows) = cmd(&mut c, "XPENDING s g - + 10") else {
        panic!("XPENDING rows")
    };
    assert_eq!(rows.len(), 1);
    let Frame::Array(row) = &rows[0] else {
        panic!("row")
    };
    assert_eq!(
        (&row[0], &row[1], &row[3]),
        (&bulk("2-0"), &bulk("bob"), &Frame::Integer(2))
    );
    assert_eq!(
        cmd(&mut c, "XAUTOCLAIM s g carol 0 0 JUSTID"),
        Frame::Array(vec![
            bulk("0-0"),
            Frame::Array(vec![bulk("2-0")]),
            Frame::Array(vec![])
        ])
    );
    assert_eq!(
        cmd(&mut c, "XREADGROUP GROUP nope x STREAMS s >"),
        Frame::Error(
            "NOGROUP No such key 's' or consumer group 'nope' in XREADGROUP with GROUP option"
                .into()
        )
    );
    assert_eq!(
        cmd(&mut c, "XGROUP DELCONSUMER s g carol"),
        Frame::Integer(1)
    );
    assert_eq!(cmd(&mut c, "XGROUP DESTROY s g"), Frame::Integer(1));
    assert_eq!(cmd(&mut c, "XINFO GROUPS s"), Frame::Array(vec![]));
}

#[test]
fn blocked_readers_are_served_by_xadd_and_told_when_their_group_goes() {
    let server = TestServer::start();
    let mut c = server.connect();
    cmd(&mut c, "XADD s 1-0 a 1");
    let mut reader = server.connect();
    reader.send(&encode(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]));
    wait_blocked(&mut c, 1);
    cmd(&mut c, "XADD s 2-0 b 2");
    assert_eq!(
        reader.read_frame(),
        Frame::Array(vec![Frame::Array(vec![
            bulk("s"),
            Frame::Array(vec![entry("2-0", &["b", "2"])])
        ])])
    );
    // A timeout answers a null array.
    assert_eq!(
        cmd(&mut reader, "XREAD BLOCK 20 STREAMS s $"),
        Frame::NullArray
    );

    cmd(&mut c, "XGROUP CREATE s g $");
    reader.send(&encode(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"r",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]));
    wait_blocked(&mut c, 1);
    cmd(&mut c, "XGROUP DESTROY s g");
    assert_eq!(
        reader.read_frame(),
        Frame::Error(
            "NOGROUP the consumer group this client was blocked on no longer exists".into()
        )
    );
    cmd(&mut c, "XGROUP CREATE s g $");
    reader.send(&encode(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"r",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]));
    wait_blocked(&mut c, 1);
    cmd(&mut c, "DEL s");
    assert_eq!(
        reader.read_frame(),
        Frame::Error("UNBLOCKED the stream key no longer exists".into())
    );
    assert_eq!(blocked(&mut c), 0);
}

fn blocked(c: &mut Conn) -> i64 {
    let Frame::Bulk(info) = cmd(c, "INFO clients") else {
        panic!("INFO")
    };
    let text = String::from_utf8_lossy(&info).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients")
}

fn wait_blocked(c: &mut Conn, n: i64) {
    for _ in 0..200 {
        if blocked(c) == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never saw {n} blocked clients");
}

#[test]
fn streams_survive_a_reload_and_an_aof_rewrite() {
    let dir = std::env::temp_dir().join(format!("shoal-streams-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();
    let server = TestServer::start_with(&["--dir", &dir_arg, "--appendonly", "yes"]);
    let mut c = server.connect();
    cmd(&mut c, "CONFIG SET stream-node-max-entries 3");
    for i in 1..=10 {
        c.command(&[
            b"XADD",
            b"s",
            format!("{i}-1").as_bytes(),
            b"f",
            i.to_string().as_bytes(),
        ]);
    }
    cmd(&mut c, "XDEL s 4-1");
    cmd(&mut c, "XGROUP CREATE s g 0");
    cmd(&mut c, "XGROUP CREATE s idle $");
    cmd(&mut c, "XGROUP CREATECONSUMER s idle nobody");
    cmd(&mut c, "XREADGROUP GROUP g alice COUNT 3 STREAMS s >");
    let before = (
        cmd(&mut c, "DEBUG DIGEST-VALUE s"),
        cmd(&mut c, "XPENDING s g - + 10"),
        cmd(&mut c, "XINFO GROUPS s"),
    );
    assert_eq!(cmd(&mut c, "DEBUG RELOAD"), Frame::Simple("OK".into()));
    let after_reload = (
        cmd(&mut c, "DEBUG DIGEST-VALUE s"),
        cmd(&mut c, "XPENDING s g - + 10"),
        cmd(&mut c, "XINFO GROUPS s"),
    );
    assert_eq!(normalize_idle(before.clone()), normalize_idle(after_reload));
    // The command form of a rewrite (no RDB preamble) rebuilds it too.
    cmd(&mut c, "CONFIG SET aof-use-rdb-preamble no");
    cmd(&mut c, "BGREWRITEAOF");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cmd(&mut c, "DEBUG LOADAOF"), Frame::Simple("OK".into()));
    let after_aof = (
        cmd(&mut c, "DEBUG DIGEST-VALUE s"),
        cmd(&mut c, "XPENDING s g - + 10"),
        cmd(&mut c, "XINFO GROUPS s"),
    );
    assert_eq!(normalize_idle(before), normalize_idle(after_aof));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// XPENDING's idle times move with the clock.
fn normalize_idle((d, pending, groups): (Frame, Frame, Frame)) -> (Frame, Frame, Frame) {
    let Frame::Array(rows) = pending else {
        panic!("XPENDING")
    };
    let rows = rows
        .into_iter()
        .map(|r| match r {
            Frame::Array(mut f) => {
                f[2] = Frame::Integer(0);
                Frame::Array(f)
            }
            other => other,
        })
        .collect();
    (d, Frame::Array(rows), groups)
}

/// Commands whose replies must be identical on both servers.
const SCRIPT: &[&str] = &[
    "CONFIG SET stream-node-max-entries 4",
    "XADD s 1-1 a 1 b 2",
    "XADD s 1-* a 3 b 4",
    "XADD s 2 a 5 b 6",
    "XADD s 3 c 7",
    "XADD s MAXLEN ~ 2 4 a 1",
    "XADD s MINID = 1-2 5 a 9 b 10",
    "XADD s 6-0 12345 -7 x 99999999999",
    "XDEL s 2-0 3-0",
    "XLEN s",
    "XRANGE s - +",
    "XREVRANGE s + - COUNT 2",
    "XRANGE s (1-2 (6-0",
    "XGROUP CREATE s g 0 ENTRIESREAD 0",
    "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
    "XREADGROUP GROUP g bob NOACK STREAMS s >",
    "XREADGROUP GROUP g alice STREAMS s 0",
    "XPENDING s g",
    "XINFO GROUPS s",
    "XACK s g 1-2",
    "XCLAIM s g carol 0 1-1 5-0 JUSTID",
    "XAUTOCLAIM s g dave 0 0 COUNT 1 JUSTID",
    "XGROUP SETID s g $",
    "XSETID s 10-0 ENTRIESADDED 20 MAXDELETEDID 3-0",
    "XINFO GROUPS s",
    "XTRIM s MINID 6",
    "XTRIM s MAXLEN 0",
    "XLEN s",
    "XADD e MAXLEN 0 1-1 x y",
    "XLEN e",
    "XGROUP HELP",
    "XINFO HELP",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP FOO",
    "XINFO STREAM s FULL COUNT x",
    "XREAD COUNT 1 STREAMS s e 0 0",
    "XREADGROUP GROUP g alice STREAMS s $",
    "XREAD STREAMS s >",
    "XADD s NOMKSTREAM MAXLEN 1 LIMIT 5 * a 1",
    "XTRIM s MAXLEN ~ 1 LIMIT -1",
    "XTRIM s MAXLEN 1 MINID 2",
];

#[test]
#[ignore = "needs redis-server"]
fn replies_and_payloads_match_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let mut r = redis.connect();
    let mut s = shoal.connect();
    for line in SCRIPT {
        let (want, got) = (cmd(&mut r, line), cmd(&mut s, line));
        assert_eq!(got, want, "{line}");
    }
    for proto in ["HELLO 3", "HELLO 2"] {
        cmd(&mut r, proto);
        cmd(&mut s, proto);
        for line in [
            "XREAD STREAMS s 0",
            "XINFO STREAM s",
            "XINFO GROUPS s",
            "XPENDING s g",
        ] {
            assert_eq!(cmd(&mut s, line), cmd(&mut r, line), "{proto}: {line}");
        }
    }
    // A stream with groups crosses between the servers through DUMP /
    // RESTORE and arrives with the same content.
    for i in 0..300 {
        let id = format!("{}-{}", 100 + i / 7, i % 7);
        let args: Vec<&[u8]> = vec![
            b"XADD",
            b"big",
            id.as_bytes(),
            b"f",
            b"some value",
            b"n",
            id.as_bytes(),
        ];
        r.command(&args);
        s.command(&args);
    }
    for c in [&mut r, &mut s] {
        cmd(c, "XDEL big 101-3 120-0");
        cmd(c, "XGROUP CREATE big g 0");
        cmd(c, "XREADGROUP GROUP g a COUNT 10 STREAMS big >");
    }
    let Frame::Bulk(from_redis) = cmd(&mut r, "DUMP big") else {
        panic!("DUMP")
    };
    let Frame::Bulk(from_shoal) = cmd(&mut s, "DUMP big") else {
        panic!("DUMP")
    };
    for (c, payload) in [(&mut s, &from_redis), (&mut r, &from_shoal)] {
        assert_eq!(
            c.command(&[b"RESTORE", b"copy", b"0", payload]),
            Frame::Simple("OK".into())
        );
    }
    for line in [
        "DEBUG DIGEST-VALUE copy",
        "XINFO GROUPS copy",
        "XLEN copy",
        "XRANGE copy 110 112",
        "XINFO STREAM copy",
    ] {
        assert_eq!(cmd(&mut s, line), cmd(&mut r, line), "{line}");
    }
}
