//! HyperLogLog against a real `redis-server`: the same registers, the
//! same estimates, and values that cross between the two as strings.

mod common;

use common::{Conn, RedisServer, TestServer};
use shoal_resp::Frame;

fn pfadd(conn: &mut Conn, key: &str, elements: &[String]) -> Frame {
    let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
    args.extend(elements.iter().map(|e| e.as_bytes()));
    conn.command(&args)
}

#[test]
fn pfadd_pfcount_pfmerge_basics() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(c.command(&[b"PFADD", b"h"]), Frame::Integer(1));
    assert_eq!(c.command(&[b"PFCOUNT", b"h"]), Frame::Integer(0));
    assert_eq!(
        c.command(&[b"PFADD", b"h", b"a", b"b", b"c"]),
        Frame::Integer(1)
    );
    assert_eq!(
        c.command(&[b"PFADD", b"h", b"a", b"b", b"c"]),
        Frame::Integer(0)
    );
    assert_eq!(c.command(&[b"PFCOUNT", b"h"]), Frame::Integer(3));
    assert_eq!(
        c.command(&[b"PFDEBUG", b"ENCODING", b"h"]),
        Frame::Simple("sparse".into())
    );
    c.command(&[b"APPEND", b"h", b"junk"]);
    assert_eq!(
        c.command(&[b"PFCOUNT", b"h"]),
        Frame::Error("INVALIDOBJ Corrupted HLL object detected".into())
    );
    c.command(&[b"SET", b"s", b"plain"]);
    assert_eq!(
        c.command(&[b"PFADD", b"s", b"x"]),
        Frame::Error("WRONGTYPE Key is not a valid HyperLogLog string value.".into())
    );
    assert_eq!(c.command(&[b"PFSELFTEST"]), Frame::Simple("OK".into()));
}

#[test]
#[ignore = "needs redis-server"]
fn registers_estimates_and_payloads_match_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let mut r = redis.connect();
    let mut s = shoal.connect();
    let mut n = 0;
    for round in 0..40 {
        let batch: Vec<String> = (0..(round * 37 + 1))
            .map(|i| {
                n += 1;
                format!("element-{round}-{i}-{n}")
            })
            .collect();
        for key in ["a", "b"] {
            let chosen: Vec<String> = batch
                .iter()
                .filter(|e| (e.len() % 2 == 0) == (key == "a"))
                .cloned()
                .collect();
            assert_eq!(pfadd(&mut s, key, &chosen), pfadd(&mut r, key, &chosen));
            assert_eq!(
                s.command(&[b"PFCOUNT", key.as_bytes()]),
                r.command(&[b"PFCOUNT", key.as_bytes()]),
                "round {round}"
            );
            assert_eq!(
                s.command(&[b"PFDEBUG", b"ENCODING", key.as_bytes()]),
                r.command(&[b"PFDEBUG", b"ENCODING", key.as_bytes()]),
                "round {round}"
            );
        }
        assert_eq!(
            s.command(&[b"PFCOUNT", b"a", b"b"]),
            r.command(&[b"PFCOUNT", b"a", b"b"])
        );
    }
    assert_eq!(
        s.command(&[b"PFMERGE", b"m", b"a", b"b"]),
        r.command(&[b"PFMERGE", b"m", b"a", b"b"])
    );
    assert_eq!(
        s.command(&[b"PFCOUNT", b"m"]),
        r.command(&[b"PFCOUNT", b"m"])
    );
    assert_eq!(
        s.command(&[b"PFDEBUG", b"GETREG", b"m"]),
        r.command(&[b"PFDEBUG", b"GETREG", b"m"])
    );
    // Redis's dense HLL, byte for byte, loads here, and Shoal's there.
    let Frame::Bulk(dump) = r.command(&[b"DUMP", b"m"]) else {
        panic!("DUMP");
    };
    s.command(&[b"RESTORE", b"from-redis", b"0", &dump]);
    assert_eq!(
        s.command(&[b"PFCOUNT", b"from-redis"]),
        r.command(&[b"PFCOUNT", b"m"])
    );
    assert_eq!(s.command(&[b"GET", b"m"]), r.command(&[b"GET", b"m"]));
    let Frame::Bulk(dump) = s.command(&[b"DUMP", b"a"]) else {
        panic!("DUMP");
    };
    r.command(&[b"RESTORE", b"from-shoal", b"0", &dump]);
    assert_eq!(
        r.command(&[b"PFCOUNT", b"from-shoal"]),
        s.command(&[b"PFCOUNT", b"a"])
    );
}
