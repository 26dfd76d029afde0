//! The set family's generator: every command with random, often invalid,
//! arguments, members that are mostly small integers (so sets stay
//! `intset`) mixed with strings and non-canonical integers (which convert
//! them to `hashtable`), and occasionally one SADD of 600 integers, past
//! `set-max-intset-entries`.

use super::*;

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (-3i64..20).prop_map(|n| n.to_string().into_bytes()),
        2 => value(),
        1 => prop::sample::select(vec!["m", "x", "-0", "007", "40000", "-3000000000"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn members(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(member(), n)
}

fn keys(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(key(), n)
}

/// SRANDMEMBER / SPOP counts. SPOP only gets counts whose result does not
/// depend on the random picks (none, everything, or an error), so both
/// keyspaces stay equal.
fn rand_count() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0",
        "1",
        "2",
        "3",
        "5",
        "-1",
        "-3",
        "-5",
        "1000",
        "-9223372036854775808",
        "-9223372036854775807x",
        "9223372036854775808",
        "x",
        "",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn pop_count() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0",
        "100000",
        "9223372036854775807",
        "-1",
        "x",
        "",
        "9223372036854775808",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn sscan_options() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let option = prop_oneof![
        pattern().prop_map(|p| vec![b"MATCH".to_vec(), p]),
        prop::sample::select(vec!["1", "10", "1000", "0", "-1", "x"])
            .prop_map(|c| vec![b"COUNT".to_vec(), c.as_bytes().to_vec()]),
        Just(vec![b"COUNT".to_vec()]),
        Just(vec![b"TYPE".to_vec(), b"set".to_vec()]),
        Just(vec![b"match".to_vec(), b"1*".to_vec()]),
    ];
    prop::collection::vec(option, 0..3).prop_map(|o| o.into_iter().flatten().collect())
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        8 => (key(), members(1..6)).prop_map(|(k, m)| cat(vec![words(&["SADD"]), vec![k], m])),
        1 => (key(), prop::sample::select(vec![0i64, 300, -700])).prop_map(|(k, start)| {
            let m = (start..start + 600).map(|n| n.to_string().into_bytes()).collect();
            cat(vec![words(&["SADD"]), vec![k], m])
        }),
        4 => (key(), members(1..5)).prop_map(|(k, m)| cat(vec![words(&["SREM"]), vec![k], m])),
        3 => key().prop_map(|k| vec![b"SMEMBERS".to_vec(), k]),
        3 => (key(), member()).prop_map(|(k, m)| vec![b"SISMEMBER".to_vec(), k, m]),
        2 => (key(), members(1..4))
            .prop_map(|(k, m)| cat(vec![words(&["SMISMEMBER"]), vec![k], m])),
        3 => key().prop_map(|k| vec![b"SCARD".to_vec(), k]),
        2 => (key(), pop_count()).prop_map(|(k, c)| vec![b"SPOP".to_vec(), k, c]),
        1 => key().prop_map(|k| cat(vec![words(&["SPOP"]), vec![k], words(&["1", "2"])])),
        1 => key().prop_map(|k| vec![b"SRANDMEMBER".to_vec(), k]),
        3 => (key(), rand_count()).prop_map(|(k, c)| vec![b"SRANDMEMBER".to_vec(), k, c]),
        1 => key().prop_map(|k| cat(vec![words(&["SRANDMEMBER"]), vec![k], words(&["1", "2"])])),
        3 => (key(), key(), member()).prop_map(|(a, b, m)| vec![b"SMOVE".to_vec(), a, b, m]),
        3 => keys(1..4).prop_map(|k| cat(vec![words(&["SINTER"]), k])),
        3 => keys(1..4).prop_map(|k| cat(vec![words(&["SUNION"]), k])),
        3 => keys(1..4).prop_map(|k| cat(vec![words(&["SDIFF"]), k])),
        2 => (key(), keys(1..4)).prop_map(|(d, k)| cat(vec![words(&["SINTERSTORE"]), vec![d], k])),
        2 => (key(), keys(1..4)).prop_map(|(d, k)| cat(vec![words(&["SUNIONSTORE"]), vec![d], k])),
        2 => (key(), keys(1..4)).prop_map(|(d, k)| cat(vec![words(&["SDIFFSTORE"]), vec![d], k])),
        3 => (
            prop::sample::select(vec!["1", "2", "3", "0", "-1", "x", "4"]),
            keys(1..4),
            prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec!["0", "1", "2", "-1", "x"])
                        .prop_map(|n| vec![b"LIMIT".to_vec(), n.as_bytes().to_vec()]),
                    Just(vec![b"LIMIT".to_vec()]),
                    Just(vec![b"FOO".to_vec()]),
                ],
                0..2
            )
        )
            .prop_map(|(n, k, o)| cat(vec![
                words(&["SINTERCARD", n]),
                k,
                o.into_iter().flatten().collect()
            ])),
        3 => (
            key(),
            prop::sample::select(vec!["0", "0", "0", "5", "x", "-1", ""]),
            sscan_options()
        )
            .prop_map(|(k, c, o)| cat(vec![
                words(&["SSCAN"]),
                vec![k, c.as_bytes().to_vec()],
                o
            ])),
        2 => key().prop_map(|k| vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), k]),
        1 => (
            prop::sample::select(vec![
                "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SPOP",
                "SRANDMEMBER", "SMOVE", "SINTER", "SINTERCARD", "SINTERSTORE", "SUNION",
                "SUNIONSTORE", "SDIFF", "SDIFFSTORE", "SSCAN"
            ]),
            prop::collection::vec(prop_oneof![key(), int()], 0..2)
        )
            .prop_filter("SPOP picks at random", |(c, a)| *c != "SPOP" || a.len() != 1)
            .prop_map(|(c, a)| cat(vec![words(&[c]), a])),
    ]
}

/// Members sorted canonically: integers numerically, then the rest by bytes.
fn sorted(items: Vec<Frame>) -> Vec<Frame> {
    let mut items = items;
    let key = |f: &Frame| match f {
        Frame::Bulk(b) => match std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(n) if n.to_string().as_bytes() == &b[..] => (0, n, Vec::new()),
            _ => (1, 0, b.to_vec()),
        },
        other => (2, 0, format!("{other:?}").into_bytes()),
    };
    items.sort_by_key(key);
    items
}

/// Makes this family's nondeterministic replies comparable; returns
/// other commands' frames unchanged.
///
/// A hashtable's iteration order differs between the servers, and the
/// reply alone does not tell whether a set was a hashtable (a set of
/// integers stays one after its strings are removed), so member lists are
/// sorted; OBJECT ENCODING, generated often on every key, pins the
/// encodings, and the wire tests pin an intset's ascending order.
pub(crate) fn normalize(cmd: &[Vec<u8>], frame: Frame) -> Frame {
    let name = upper(&cmd[0]);
    match (name.as_str(), frame) {
        ("SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" | "SPOP", Frame::Array(items)) => {
            Frame::Array(sorted(items))
        }
        ("SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" | "SPOP", Frame::Set(items)) => {
            Frame::Set(sorted(items))
        }
        ("SRANDMEMBER", Frame::Bulk(_)) if cmd.len() == 2 => Frame::Simple("<a member>".into()),
        ("SRANDMEMBER", Frame::Array(items)) if cmd.len() == 3 => {
            let count = std::str::from_utf8(&cmd[2])
                .ok()
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(0);
            if count > 0 && (items.len() as i64) < count {
                // Fewer than asked: the whole set.
                Frame::Array(sorted(items))
            } else {
                Frame::Simple(format!("<{} random members>", items.len()))
            }
        }
        ("SSCAN", Frame::Array(parts)) if parts.len() == 2 => {
            let mut parts = parts.into_iter();
            let cursor = parts.next().unwrap();
            let done = cursor == Frame::Bulk(Bytes::from_static(b"0"));
            match parts.next().unwrap() {
                Frame::Array(items) if done && cmd[2] == b"0" => {
                    Frame::Array(vec![cursor, Frame::Array(sorted(items))])
                }
                _ => Frame::Simple("<partial sscan>".into()),
            }
        }
        (_, frame) => frame,
    }
}
