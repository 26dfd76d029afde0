//! Sorted-set commands with random, often invalid, options.
//!
//! Blocking pops are generated only in forms that answer at once (a bad
//! timeout or other argument): a block would stall both servers.

use super::*;

fn member() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "a", "b", "c", "d", "e", "m1", "m2", "m10", "", "zz", "1", "-1",
    ];
    prop_oneof![
        8 => prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec()),
        1 => Just(b"\x00bin\xff".to_vec()),
        1 => (60usize..70).prop_map(|n| vec![b'y'; n]),
    ]
}

fn score() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0", "1", "2", "-1", "2.5", "-0.25", "3", "0.1", "1e20", "-0", "inf", "-inf", "+inf",
        "nan", "x", "", " 1", "1e400", "5", "10",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn score_bound() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0", "1", "2", "-1", "(1", "(2.5", "-inf", "+inf", "inf", "(-inf", "(+inf", "x", "", "(",
        " 1", "nan", "(nan", "2.5", "10", "1e400", "0x1", "3",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn lex_bound() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "-", "+", "[a", "(a", "[c", "(c", "[m1", "(m10", "[", "(", "a", "", "+x", "-x", "[zz",
        "[\x00",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn zadd_flags() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::sample::select(vec!["NX", "XX", "GT", "LT", "CH", "INCR", "ch", "FOO"]),
        0..3,
    )
    .prop_map(|w| words(&w))
}

fn pairs(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec((score(), member()), n)
        .prop_map(|v| v.into_iter().flat_map(|(s, m)| [s, m]).collect())
}

/// Many members, to cross the listpack threshold (128).
fn bulk_add() -> impl Strategy<Value = Cmd> {
    (key(), 100usize..150, 0u32..4).prop_map(|(k, n, base)| {
        let mut cmd = vec![b"ZADD".to_vec(), k];
        for i in 0..n {
            cmd.push(((i as u32 % 7) + base).to_string().into_bytes());
            cmd.push(format!("m{i}").into_bytes());
        }
        cmd
    })
}

fn range_opts() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let opt = prop_oneof![
        Just(words(&["WITHSCORES"])),
        Just(words(&["REV"])),
        Just(words(&["BYSCORE"])),
        Just(words(&["BYLEX"])),
        (int(), int()).prop_map(|(a, b)| vec![b"LIMIT".to_vec(), a, b]),
        prop::sample::select(vec!["0", "1", "2", "-1", "5"]).prop_map(|o| vec![
            b"LIMIT".to_vec(),
            o.as_bytes().to_vec(),
            b"2".to_vec()
        ]),
        Just(words(&["LIMIT", "1"])),
        Just(words(&["FOO"])),
    ];
    prop::collection::vec(opt, 0..3).prop_map(|o| o.into_iter().flatten().collect())
}

fn bound() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![int(), score_bound(), lex_bound()]
}

fn numkeys_and_keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        6 => prop::collection::vec(key(), 1..4)
            .prop_map(|ks| cat(vec![vec![ks.len().to_string().into_bytes()], ks])),
        1 => (int(), prop::collection::vec(key(), 0..3))
            .prop_map(|(n, ks)| cat(vec![vec![n], ks])),
    ]
}

fn setop_opts() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let opt = prop_oneof![
        prop::collection::vec(
            prop::sample::select(vec!["1", "2", "0", "-1", "0.5", "inf", "x", "nan"]),
            1..4
        )
        .prop_map(|w| cat(vec![words(&["WEIGHTS"]), words(&w)])),
        prop::sample::select(vec!["SUM", "MIN", "MAX", "min", "AVG"])
            .prop_map(|a| words(&["AGGREGATE", a])),
        Just(words(&["WITHSCORES"])),
        prop::sample::select(vec!["0", "1", "2", "-1", "x"]).prop_map(|l| words(&["LIMIT", l])),
        Just(words(&["AGGREGATE"])),
    ];
    prop::collection::vec(opt, 0..3).prop_map(|o| o.into_iter().flatten().collect())
}

fn count_arg() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0",
        "1",
        "2",
        "3",
        "5",
        "-1",
        "-3",
        "200",
        "x",
        "",
        "-9223372036854775808",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn bad_timeout() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec!["-1", "x", "", "nan", "-0.5"]).prop_map(|s| s.as_bytes().to_vec())
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        8 => (key(), zadd_flags(), pairs(1..4))
            .prop_map(|(k, f, p)| cat(vec![words(&["ZADD"]), vec![k], f, p])),
        1 => (key(), zadd_flags(), pairs(0..2))
            .prop_map(|(k, f, p)| cat(vec![words(&["ZADD"]), vec![k], f, p])),
        1 => bulk_add(),
        3 => (key(), score(), member()).prop_map(|(k, s, m)| vec![b"ZINCRBY".to_vec(), k, s, m]),
        3 => (key(), prop::collection::vec(member(), 1..3))
            .prop_map(|(k, ms)| cat(vec![words(&["ZREM"]), vec![k], ms])),
        2 => key().prop_map(|k| vec![b"ZCARD".to_vec(), k]),
        2 => (key(), score_bound(), score_bound()).prop_map(|(k, a, b)| vec![b"ZCOUNT".to_vec(), k, a, b]),
        2 => (key(), lex_bound(), lex_bound()).prop_map(|(k, a, b)| vec![b"ZLEXCOUNT".to_vec(), k, a, b]),
        2 => (key(), member()).prop_map(|(k, m)| vec![b"ZSCORE".to_vec(), k, m]),
        2 => (key(), prop::collection::vec(member(), 1..3))
            .prop_map(|(k, ms)| cat(vec![words(&["ZMSCORE"]), vec![k], ms])),
        2 => (key(), member()).prop_map(|(k, m)| vec![b"ZRANK".to_vec(), k, m]),
        2 => (key(), member()).prop_map(|(k, m)| vec![b"ZREVRANK".to_vec(), k, m]),
        5 => (key(), bound(), bound(), range_opts())
            .prop_map(|(k, a, b, o)| cat(vec![words(&["ZRANGE"]), vec![k, a, b], o])),
        2 => (key(), key(), bound(), bound(), range_opts())
            .prop_map(|(d, k, a, b, o)| cat(vec![words(&["ZRANGESTORE"]), vec![d, k, a, b], o])),
        2 => (key(), int(), int(), range_opts())
            .prop_map(|(k, a, b, o)| cat(vec![words(&["ZREVRANGE"]), vec![k, a, b], o])),
        2 => (key(), score_bound(), score_bound(), range_opts())
            .prop_map(|(k, a, b, o)| cat(vec![words(&["ZRANGEBYSCORE"]), vec![k, a, b], o])),
        2 => (key(), score_bound(), score_bound(), range_opts())
            .prop_map(|(k, a, b, o)| cat(vec![words(&["ZREVRANGEBYSCORE"]), vec![k, a, b], o])),
        2 => (key(), lex_bound(), lex_bound(), range_opts())
            .prop_map(|(k, a, b, o)| cat(vec![words(&["ZRANGEBYLEX"]), vec![k, a, b], o])),
        2 => (key(), lex_bound(), lex_bound(), range_opts())
            .prop_map(|(k, a, b, o)| cat(vec![words(&["ZREVRANGEBYLEX"]), vec![k, a, b], o])),
        1 => (key(), int(), int()).prop_map(|(k, a, b)| vec![b"ZREMRANGEBYRANK".to_vec(), k, a, b]),
        1 => (key(), score_bound(), score_bound())
            .prop_map(|(k, a, b)| vec![b"ZREMRANGEBYSCORE".to_vec(), k, a, b]),
        1 => (key(), lex_bound(), lex_bound())
            .prop_map(|(k, a, b)| vec![b"ZREMRANGEBYLEX".to_vec(), k, a, b]),
        2 => (key(), prop::option::of(count_arg()), prop::bool::ANY).prop_map(|(k, c, max)| {
            let mut cmd = vec![if max { b"ZPOPMAX".to_vec() } else { b"ZPOPMIN".to_vec() }, k];
            cmd.extend(c);
            cmd
        }),
        2 => (numkeys_and_keys(), prop::sample::select(vec!["MIN", "MAX", "max", "FOO"]),
              prop::option::of(count_arg()))
            .prop_map(|(nk, w, c)| {
                let mut cmd = cat(vec![words(&["ZMPOP"]), nk, words(&[w])]);
                if let Some(c) = c {
                    cmd.push(b"COUNT".to_vec());
                    cmd.push(c);
                }
                cmd
            }),
        2 => (key(), prop::option::of(count_arg()), prop::bool::ANY).prop_map(|(k, c, ws)| {
            let mut cmd = vec![b"ZRANDMEMBER".to_vec(), k];
            if let Some(c) = c {
                cmd.push(c);
                if ws {
                    cmd.push(b"WITHSCORES".to_vec());
                }
            }
            cmd
        }),
        2 => (prop::sample::select(vec!["ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"]),
              numkeys_and_keys(), setop_opts())
            .prop_map(|(c, nk, o)| cat(vec![words(&[c]), nk, o])),
        2 => (prop::sample::select(vec!["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
              key(), numkeys_and_keys(), setop_opts())
            .prop_map(|(c, d, nk, o)| cat(vec![words(&[c]), vec![d], nk, o])),
        2 => (key(), prop::sample::select(vec!["0", "0", "1", "x", "-1"]),
              prop::sample::select(vec!["", "COUNT 5", "MATCH m*", "COUNT 0", "COUNT 1000", "FOO"]))
            .prop_map(|(k, c, o)| {
                let mut cmd = vec![b"ZSCAN".to_vec(), k, c.as_bytes().to_vec()];
                cmd.extend(o.split_whitespace().map(|w| w.as_bytes().to_vec()));
                cmd
            }),
        1 => (prop::bool::ANY, prop::collection::vec(key(), 1..3), bad_timeout())
            .prop_map(|(max, ks, t)| {
                let name = if max { "BZPOPMAX" } else { "BZPOPMIN" };
                cat(vec![words(&[name]), ks, vec![t]])
            }),
        1 => (bad_timeout(), numkeys_and_keys(), prop::sample::select(vec!["MIN", "MAX", "FOO"]))
            .prop_map(|(t, nk, w)| cat(vec![words(&["BZMPOP"]), vec![t], nk, words(&[w])])),
    ]
}

fn sort_pairs(items: Vec<Frame>) -> Vec<Frame> {
    let mut pairs: Vec<(Frame, Frame)> = Vec::new();
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push((a, b));
    }
    pairs.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    pairs.into_iter().flat_map(|(a, b)| [a, b]).collect()
}

/// Makes this family's nondeterministic replies comparable; returns
/// other commands' frames unchanged.
pub(crate) fn normalize(cmd: &[Vec<u8>], frame: Frame) -> Frame {
    let name = upper(&cmd[0]);
    match (name.as_str(), frame) {
        // Random picks: only the count (or presence) is comparable. (A
        // count >= the size returns the whole set in a fixed order, but
        // the size is not known here; the wire tables pin that case.)
        ("ZRANDMEMBER", Frame::Bulk(_)) => Frame::Simple("<member>".into()),
        ("ZRANDMEMBER", Frame::Array(items)) => Frame::Integer(items.len() as i64),
        // A big set's scan order depends on its table: compare the set of
        // pairs of a complete scan, and only the shape of a partial one.
        ("ZSCAN", Frame::Array(parts)) if parts.len() == 2 => {
            let mut parts = parts.into_iter();
            let cursor = parts.next().unwrap();
            let items = parts.next().unwrap();
            if cursor != Frame::Bulk(Bytes::from_static(b"0")) || cmd[2] != b"0" {
                return Frame::Simple("<partial scan>".into());
            }
            match items {
                Frame::Array(items) => Frame::Array(vec![cursor, Frame::Array(sort_pairs(items))]),
                other => Frame::Array(vec![cursor, other]),
            }
        }
        (_, frame) => frame,
    }
}
