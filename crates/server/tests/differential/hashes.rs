//! Hash commands: every command of the family with random, often invalid
//! arguments, on the shared keys (so WRONGTYPE paths run too).
//!
//! Iteration order: a `listpack` hash replies in insertion order, and that
//! order is compared exactly; a `hashtable` one replies in its table's
//! order, which differs between the servers, so it is sorted. The reply
//! alone must tell which encoding produced it, so the generator keeps an
//! invariant: a hash becomes `hashtable` only by receiving a field *and*
//! value longer than 64 bytes (a "long" pair) or the 520 `big:N` pairs of
//! one bulk HSET (past both 128, Shoal's default, and 512, the default
//! compiled into redis-server), and those pairs are never deleted or overwritten (HDEL,
//! HINCRBY… only pick short fields). Since Redis never converts back, a
//! reply holding an element over 64 bytes or a `big:` element came from a
//! `hashtable`, and a reply without one from a `listpack`.
//!
//! HINCRBYFLOAT writes the field `fl` most often, and any short field; its
//! increments include short decimals whose sums only `long double`
//! prints as Redis does.

use super::*;

/// Short fields: those every command may touch.
fn field() -> impl Strategy<Value = Vec<u8>> {
    let fixed: [&[u8]; 8] = [
        b"f1",
        b"f2",
        b"f3",
        b"a",
        b"",
        b"field1",
        b"field10",
        b"\x00b\xff",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(<[u8]>::to_vec)
}

/// Fields HINCRBY and HDEL may pick: the short ones and `fl`.
fn any_short_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![4 => field(), 1 => Just(b"fl".to_vec())]
}

/// Values at most 64 bytes (the listpack limit), so a short pair never
/// converts a hash.
fn short_value() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "",
        "0",
        "1",
        "-1",
        "10",
        "42",
        "abc",
        "9223372036854775807",
        "-9223372036854775808",
        "3.5",
        "-0.25",
        "1e3",
        " 1",
        "+1",
        "007",
        "inf",
        "nan",
        "12345678901234567890",
    ];
    prop_oneof![
        6 => prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
        1 => (60usize..=64).prop_map(|n| vec![b'v'; n]),
    ]
}

/// A long pair: field and value both over 64 bytes.
fn long_pair() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (65usize..70, 65usize..90).prop_map(|(f, v)| vec![vec![b'L'; f], vec![b'w'; v]])
}

fn short_pairs(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec((field(), short_value()), n)
        .prop_map(|p| p.into_iter().flat_map(|(f, v)| [f, v]).collect())
}

/// HINCRBYFLOAT increments: short decimals, values beyond f64's range,
/// and invalid and non-finite ones.
fn float_incr() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0", "1", "-1", "0.5", "-0.25", "2.75", "1e2", "-3", "x", "inf", "-inf", "nan", "", " 1",
        "+inf", "1e", "0.1", "0.2", "-1.1", "1e400", "1e-4940", "0x10",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

fn count() -> impl Strategy<Value = Vec<u8>> {
    let fixed = [
        "0",
        "1",
        "2",
        "3",
        "10",
        "200",
        "-1",
        "-3",
        "-10",
        "x",
        "",
        "1.5",
        "-9223372036854775808",
        "9223372036854775807",
        "4611686018427387903",
        "4611686018427387904",
        "-4611686018427387904",
    ];
    prop::sample::select(fixed.to_vec()).prop_map(|s| s.as_bytes().to_vec())
}

/// HRANDFIELD's count: huge negative counts only where they fail before
/// replying (an existing hash would be asked for 2^62 picks).
fn randfield_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        Just(vec![]),
        count()
            .prop_filter("no huge negative count", |c| !c.starts_with(b"-4611")
                && !c.starts_with(b"-9")
                || c == b"-9223372036854775808")
            .prop_map(|c| vec![c]),
        count()
            .prop_filter("no huge negative count", |c| !c.starts_with(b"-9")
                && c != b"9223372036854775807")
            .prop_map(|c| vec![c, b"WITHVALUES".to_vec()]),
        count().prop_map(|c| vec![c, b"withvalue".to_vec()]),
        count().prop_map(|c| vec![c, b"WITHVALUES".to_vec(), b"x".to_vec()]),
    ]
}

fn scan_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let cursor = prop::sample::select(vec!["0", "0", "0", "5", "-1", "x", "18446744073709551616"]);
    let option = prop_oneof![
        pattern().prop_map(|p| vec![b"MATCH".to_vec(), p]),
        prop::sample::select(vec!["f*", "*1", "?", "field1*"]).prop_map(|p| words(&["MATCH", p])),
        prop::sample::select(vec!["1", "3", "10", "1000", "0", "-1", "x"])
            .prop_map(|c| words(&["COUNT", c])),
        Just(words(&["TYPE", "hash"])),
        Just(words(&["MATCH"])),
        Just(words(&["NOVALUES"])),
    ];
    (cursor, prop::collection::vec(option, 0..3)).prop_map(|(c, o)| {
        let mut args = words(&[c]);
        args.extend(o.into_iter().flatten());
        args
    })
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        6 => (key(), short_pairs(1..4)).prop_map(|(k, p)| cat(vec![words(&["HSET"]), vec![k], p])),
        1 => (key(), short_pairs(0..2), field())
            .prop_map(|(k, p, f)| cat(vec![words(&["HSET"]), vec![k], p, vec![f]])),
        1 => (key(), long_pair()).prop_map(|(k, p)| cat(vec![words(&["HSET"]), vec![k], p])),
        1 => key().prop_map(|k| {
            let mut c = words(&["HSET"]);
            c.push(k);
            for i in 0..520 {
                c.push(format!("big:{i}").into_bytes());
                c.push(format!("big:{i}").into_bytes());
            }
            c
        }),
        2 => (key(), short_pairs(0..3)).prop_map(|(k, p)| cat(vec![words(&["HMSET"]), vec![k], p])),
        2 => (key(), field(), short_value())
            .prop_map(|(k, f, v)| vec![b"HSETNX".to_vec(), k, f, v]),
        1 => (key(), long_pair()).prop_map(|(k, p)| cat(vec![words(&["HSETNX"]), vec![k], p])),
        4 => (key(), any_short_field()).prop_map(|(k, f)| vec![b"HGET".to_vec(), k, f]),
        2 => (key(), prop::collection::vec(any_short_field(), 1..4))
            .prop_map(|(k, f)| cat(vec![words(&["HMGET"]), vec![k], f])),
        3 => key().prop_map(|k| vec![b"HGETALL".to_vec(), k]),
        2 => key().prop_map(|k| vec![b"HKEYS".to_vec(), k]),
        2 => key().prop_map(|k| vec![b"HVALS".to_vec(), k]),
        3 => (key(), prop::collection::vec(any_short_field(), 1..4))
            .prop_map(|(k, f)| cat(vec![words(&["HDEL"]), vec![k], f])),
        2 => key().prop_map(|k| vec![b"HLEN".to_vec(), k]),
        2 => (key(), any_short_field()).prop_map(|(k, f)| vec![b"HEXISTS".to_vec(), k, f]),
        2 => (key(), any_short_field()).prop_map(|(k, f)| vec![b"HSTRLEN".to_vec(), k, f]),
        3 => (key(), field(), int()).prop_map(|(k, f, n)| vec![b"HINCRBY".to_vec(), k, f, n]),
        3 => (key(), float_incr())
            .prop_map(|(k, n)| vec![b"HINCRBYFLOAT".to_vec(), k, b"fl".to_vec(), n]),
        1 => (key(), field(), float_incr())
            .prop_map(|(k, f, n)| vec![b"HINCRBYFLOAT".to_vec(), k, f, n]),
        3 => (key(), randfield_args())
            .prop_map(|(k, a)| cat(vec![words(&["HRANDFIELD"]), vec![k], a])),
        3 => (key(), scan_args()).prop_map(|(k, a)| cat(vec![words(&["HSCAN"]), vec![k], a])),
        // Wrong arity and stray arguments.
        1 => (
            prop::sample::select(vec![
                "HSET", "HSETNX", "HGET", "HMSET", "HMGET", "HGETALL", "HDEL", "HLEN",
                "HEXISTS", "HKEYS", "HVALS", "HINCRBY", "HINCRBYFLOAT", "HSTRLEN",
                "HRANDFIELD", "HSCAN", "hget",
            ]),
            prop::collection::vec(prop_oneof![key(), field()], 0..3),
        )
            .prop_map(|(n, a)| cat(vec![words(&[n]), a])),
        1 => (key(), any_short_field()).prop_map(|(k, f)| {
            vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), k, f]
        }),
        2 => key().prop_map(|k| vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), k]),
    ]
}

/// Whether an element of a reply shows that its hash is a `hashtable`
/// (see the module docs).
fn from_table(items: &[Frame]) -> bool {
    items.iter().any(|f| match f {
        Frame::Bulk(b) => b.len() > 64 || b.starts_with(b"big:"),
        Frame::Array(inner) => from_table(inner),
        _ => false,
    })
}

fn sort_frames(items: &mut [Frame]) {
    items.sort_by_cached_key(|f| format!("{f:?}"));
}

/// Sorts a flat field/value array by pair.
fn sort_pairs(items: Vec<Frame>) -> Vec<Frame> {
    let mut pairs: Vec<Vec<Frame>> = items.chunks(2).map(<[Frame]>::to_vec).collect();
    pairs.sort_by_cached_key(|p| format!("{p:?}"));
    pairs.into_iter().flatten().collect()
}

/// Makes this family's nondeterministic replies comparable; returns
/// other commands' frames unchanged.
pub(crate) fn normalize(cmd: &[Vec<u8>], frame: Frame) -> Frame {
    let name = upper(&cmd[0]);
    match (name.as_str(), frame) {
        ("HGETALL", Frame::Map(mut pairs)) => {
            let flat: Vec<Frame> = pairs
                .iter()
                .flat_map(|(k, v)| [k.clone(), v.clone()])
                .collect();
            if from_table(&flat) {
                pairs.sort_by_cached_key(|p| format!("{p:?}"));
            }
            Frame::Map(pairs)
        }
        ("HGETALL", Frame::Array(items)) if from_table(&items) => Frame::Array(sort_pairs(items)),
        ("HKEYS" | "HVALS", Frame::Array(mut items)) if from_table(&items) => {
            sort_frames(&mut items);
            Frame::Array(items)
        }
        // Random picks: only how many is comparable (the wire tests check
        // membership and distinctness).
        ("HRANDFIELD", Frame::Bulk(_)) => Frame::Simple("<a random field>".into()),
        ("HRANDFIELD", Frame::Array(items)) => {
            Frame::Simple(format!("<{} random picks>", items.len()))
        }
        // A finished scan: the pairs as a set (a listpack returns them in
        // order, but MATCH may hide the elements that tell the encodings
        // apart). An unfinished one (only a hashtable's): its cursor and
        // batch depend on the table's layout.
        // From a cursor other than 0 a hashtable resumes at a point of its
        // own layout (a listpack ignores the cursor: the wire tests pin it).
        ("HSCAN", Frame::Array(_)) if cmd.get(2).is_some_and(|c| c != b"0") => {
            Frame::Simple("<an hscan from a cursor>".into())
        }
        ("HSCAN", Frame::Array(parts)) if parts.len() == 2 => {
            let mut parts = parts.into_iter();
            let cursor = parts.next().unwrap();
            if cursor != Frame::Bulk(Bytes::from_static(b"0")) {
                return Frame::Simple("<an unfinished hscan>".into());
            }
            match parts.next().unwrap() {
                Frame::Array(items) => Frame::Array(vec![cursor, Frame::Array(sort_pairs(items))]),
                other => Frame::Array(vec![cursor, other]),
            }
        }
        (_, frame) => frame,
    }
}
