//! Lists: every command of the family with random, often invalid,
//! arguments. Elements come mostly from a small pool so that LREM, LPOS
//! and LINSERT find matches.

use super::*;

/// A 120-byte element: a few hundred of them span several 8 KiB nodes.
fn long_element(i: usize) -> Vec<u8> {
    let mut e = format!("long{}-", i % 3).into_bytes();
    e.resize(120, b'y');
    e
}

fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        5 => prop::sample::select(vec!["a", "b", "c", "1", ""]).prop_map(|s| s.as_bytes().to_vec()),
        1 => (0usize..3).prop_map(long_element),
        1 => value(),
    ]
}

fn elements(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        4 => prop::collection::vec(element(), 1..max),
        // Enough to span several quicklist nodes.
        1 => (1usize..300).prop_map(|n| (0..n).map(|i| if i % 5 == 0 {
            format!("e{}", i % 7).into_bytes()
        } else {
            long_element(i)
        }).collect()),
    ]
}

/// List indexes: small ones, negative ones, and the extremes.
fn index() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (-6i64..8).prop_map(|i| i.to_string().into_bytes()),
        1 => int(),
    ]
}

fn side() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec!["LEFT", "RIGHT", "left", "Right", "UP"])
        .prop_map(|s| s.as_bytes().to_vec())
}

/// Blocking timeouts: never "block forever" nor long, since Redis blocks
/// on an empty key while Shoal (outside MULTI) may not: a short timeout
/// ends in the same null reply on both. "-0.0001" would mean forever.
fn timeout() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        "0.01", "0.01", "0.01", "-1", "x", "", "-0.5", "1e100", "inf", "-inf", "nan",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
}

/// LPOS options in any order, valid or not.
fn lpos_options() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let rank = prop_oneof![
        4 => (-4i64..4).prop_map(|i| i.to_string().into_bytes()),
        1 => int(),
    ];
    let n = prop_oneof![
        4 => (0i64..4).prop_map(|i| i.to_string().into_bytes()),
        1 => int(),
    ];
    let option = prop_oneof![
        rank.prop_map(|r| vec![b"RANK".to_vec(), r]),
        n.clone().prop_map(|c| vec![b"COUNT".to_vec(), c]),
        n.prop_map(|m| vec![b"MAXLEN".to_vec(), m]),
        Just(vec![b"rank".to_vec()]),
        Just(vec![b"FOO".to_vec()]),
    ];
    prop::collection::vec(option, 0..3).prop_map(|o| o.into_iter().flatten().collect())
}

/// numkeys, keys, side and an optional COUNT for LMPOP/BLMPOP; sometimes
/// with a numkeys that does not match.
fn mpop_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let count = prop_oneof![
        3 => (1i64..5).prop_map(|c| vec![b"COUNT".to_vec(), c.to_string().into_bytes()]),
        1 => int().prop_map(|c| vec![b"COUNT".to_vec(), c]),
        1 => Just(vec![b"COUNT".to_vec()]),
        4 => Just(Vec::new()),
    ];
    (
        prop::collection::vec(key(), 1..4),
        prop_oneof![6 => Just(None), 1 => int().prop_map(Some)],
        side(),
        count,
    )
        .prop_map(|(keys, numkeys, side, count)| {
            let numkeys = numkeys.unwrap_or_else(|| keys.len().to_string().into_bytes());
            cat(vec![vec![numkeys], keys, vec![side], count])
        })
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (prop::sample::select(vec!["LPUSH", "RPUSH"]), key(), elements(6))
            .prop_map(|(c, k, e)| cat(vec![words(&[c]), vec![k], e])),
        1 => (prop::sample::select(vec!["LPUSHX", "RPUSHX"]), key(), elements(3))
            .prop_map(|(c, k, e)| cat(vec![words(&[c]), vec![k], e])),
        3 => (
            prop::sample::select(vec!["LPOP", "RPOP"]),
            key(),
            prop::collection::vec(index(), 0..3)
        )
            .prop_map(|(c, k, n)| cat(vec![words(&[c]), vec![k], n])),
        1 => key().prop_map(|k| vec![b"LLEN".to_vec(), k]),
        3 => (key(), index(), index()).prop_map(|(k, a, b)| vec![b"LRANGE".to_vec(), k, a, b]),
        2 => (key(), index()).prop_map(|(k, i)| vec![b"LINDEX".to_vec(), k, i]),
        2 => (key(), index(), element()).prop_map(|(k, i, e)| vec![b"LSET".to_vec(), k, i, e]),
        2 => (
            key(),
            prop::sample::select(vec!["BEFORE", "AFTER", "after", "middle"]),
            element(),
            element()
        )
            .prop_map(|(k, w, p, e)| vec![b"LINSERT".to_vec(), k, w.as_bytes().to_vec(), p, e]),
        2 => (key(), index(), element()).prop_map(|(k, n, e)| vec![b"LREM".to_vec(), k, n, e]),
        2 => (key(), index(), index()).prop_map(|(k, a, b)| vec![b"LTRIM".to_vec(), k, a, b]),
        3 => (key(), element(), lpos_options())
            .prop_map(|(k, e, o)| cat(vec![words(&["LPOS"]), vec![k, e], o])),
        2 => (key(), key(), side(), side())
            .prop_map(|(a, b, f, t)| vec![b"LMOVE".to_vec(), a, b, f, t]),
        1 => (key(), key()).prop_map(|(a, b)| vec![b"RPOPLPUSH".to_vec(), a, b]),
        2 => mpop_args().prop_map(|a| cat(vec![words(&["LMPOP"]), a])),
        2 => (
            prop::sample::select(vec!["BLPOP", "BRPOP"]),
            prop::collection::vec(key(), 1..4),
            timeout()
        )
            .prop_map(|(c, ks, t)| cat(vec![words(&[c]), ks, vec![t]])),
        1 => (key(), key(), side(), side(), timeout())
            .prop_map(|(a, b, f, t, s)| vec![b"BLMOVE".to_vec(), a, b, f, t, s]),
        1 => (key(), key(), timeout()).prop_map(|(a, b, t)| vec![b"BRPOPLPUSH".to_vec(), a, b, t]),
        1 => (timeout(), mpop_args()).prop_map(|(t, a)| cat(vec![words(&["BLMPOP"]), vec![t], a])),
        // Wrong arities and stray arguments. Not the blocking commands: a
        // random integer there is a timeout Redis would wait out.
        1 => (
            prop::sample::select(vec![
                "LPUSH", "LPOP", "LLEN", "LRANGE", "LINDEX", "LSET", "LINSERT", "LREM", "LTRIM",
                "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP",
            ]),
            prop::collection::vec(prop_oneof![key(), int()], 0..3)
        )
            .prop_map(|(c, a)| cat(vec![words(&[c]), a])),
        1 => prop::sample::select(vec![
            "BLPOP", "BLPOP a", "BRPOP", "BLMOVE a b LEFT", "BLMOVE a b LEFT RIGHT 0 1",
            "BRPOPLPUSH a 0", "BRPOPLPUSH a b 0 1", "BLMPOP 0", "BLMPOP 0 1 a",
        ])
        .prop_map(|s| words(&s.split(' ').collect::<Vec<_>>())),
        1 => key().prop_map(|k| vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), k]),
    ]
}

/// Makes this family's nondeterministic replies comparable; returns
/// other commands' frames unchanged.
///
/// BLMOVE/BRPOPLPUSH on an empty source: Redis blocks and times out with
/// a null array, while Shoal, when the server does not let the command
/// block, answers the MULTI form (a null bulk, as Redis does inside
/// MULTI). Both mean "nothing moved"; the MULTI form is pinned byte for
/// byte in tests/lists.rs.
pub(crate) fn normalize(cmd: &[Vec<u8>], frame: Frame) -> Frame {
    match (upper(&cmd[0]).as_str(), frame) {
        ("BLMOVE" | "BRPOPLPUSH", Frame::NullArray) => Frame::Null,
        (_, frame) => frame,
    }
}
