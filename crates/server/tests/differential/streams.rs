//! Stream commands with random, often invalid, arguments over the shared
//! keys. IDs are explicit (never `*`, whose value is the clock), so every
//! reply is deterministic apart from idle times, which are normalized.

use super::*;

fn id() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        "1-1",
        "1-2",
        "2",
        "2-*",
        "3-0",
        "5",
        "7-3",
        "0-1",
        "0-0",
        "bad",
        "-",
        "+",
        "18446744073709551615-18446744073709551615",
        "18446744073709551615-*",
        "1-18446744073709551615",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
}

fn bound() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => id(),
        1 => prop::sample::select(vec!["(1-1", "(2", "(0-0", "(+", "(-", "(bad"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn pairs() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::sample::select(vec![
            ("f", "v"),
            ("a", "1"),
            ("b", "x"),
            ("f", "12345"),
            ("", ""),
        ]),
        0..4,
    )
    .prop_map(|ps| {
        ps.into_iter()
            .flat_map(|(f, v)| [f.as_bytes().to_vec(), v.as_bytes().to_vec()])
            .collect()
    })
}

fn count() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec!["0", "1", "2", "10", "-1", "x"]).prop_map(|s| s.as_bytes().to_vec())
}

fn trim() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        prop::sample::select(vec!["MAXLEN", "MINID"]),
        prop::sample::select(vec!["", "~", "="]),
        prop_oneof![count(), id()],
        prop::option::of(count()),
    )
        .prop_map(|(how, approx, n, limit)| {
            let mut out = vec![how.as_bytes().to_vec()];
            if !approx.is_empty() {
                out.push(approx.as_bytes().to_vec());
            }
            out.push(n);
            if let Some(l) = limit {
                out.push(b"LIMIT".to_vec());
                out.push(l);
            }
            out
        })
}

fn group() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec!["g", "h", "nope"]).prop_map(|s| s.as_bytes().to_vec())
}

fn consumer() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec!["alice", "bob"]).prop_map(|s| s.as_bytes().to_vec())
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        8 => (key(), prop::bool::weighted(0.1), prop::option::weighted(0.3, trim()), id(), pairs())
            .prop_map(|(k, nomk, t, id, p)| {
                let mut cmd = vec![b"XADD".to_vec(), k];
                if nomk {
                    cmd.push(b"NOMKSTREAM".to_vec());
                }
                cmd.extend(t.unwrap_or_default());
                cmd.push(id);
                cmd.extend(p);
                cmd
            }),
        3 => (prop::sample::select(vec!["XRANGE", "XREVRANGE"]), key(), bound(), bound(), prop::option::of(count()))
            .prop_map(|(name, k, a, b, c)| {
                let mut cmd = vec![name.as_bytes().to_vec(), k, a, b];
                if let Some(c) = c {
                    cmd.push(b"COUNT".to_vec());
                    cmd.push(c);
                }
                cmd
            }),
        1 => key().prop_map(|k| vec![b"XLEN".to_vec(), k]),
        2 => (key(), prop::collection::vec(id(), 1..3))
            .prop_map(|(k, ids)| cat(vec![vec![b"XDEL".to_vec(), k], ids])),
        2 => (key(), trim()).prop_map(|(k, t)| cat(vec![vec![b"XTRIM".to_vec(), k], t])),
        1 => (key(), id(), prop::option::of(count()), prop::option::of(id())).prop_map(
            |(k, id, added, deleted)| {
                let mut cmd = vec![b"XSETID".to_vec(), k, id];
                if let Some(a) = added {
                    cmd.push(b"ENTRIESADDED".to_vec());
                    cmd.push(a);
                }
                if let Some(d) = deleted {
                    cmd.push(b"MAXDELETEDID".to_vec());
                    cmd.push(d);
                }
                cmd
            }
        ),
        3 => (key(), group(), prop_oneof![id(), Just(b"$".to_vec())], prop::bool::ANY, prop::option::of(count()))
            .prop_map(|(k, g, id, mk, read)| {
                let mut cmd = vec![b"XGROUP".to_vec(), b"CREATE".to_vec(), k, g, id];
                if mk {
                    cmd.push(b"MKSTREAM".to_vec());
                }
                if let Some(r) = read {
                    cmd.push(b"ENTRIESREAD".to_vec());
                    cmd.push(r);
                }
                cmd
            }),
        2 => (key(), group(), prop_oneof![id(), Just(b"$".to_vec())]).prop_map(|(k, g, id)| {
            vec![b"XGROUP".to_vec(), b"SETID".to_vec(), k, g, id]
        }),
        1 => (key(), group()).prop_map(|(k, g)| vec![b"XGROUP".to_vec(), b"DESTROY".to_vec(), k, g]),
        1 => (prop::sample::select(vec!["CREATECONSUMER", "DELCONSUMER"]), key(), group(), consumer())
            .prop_map(|(sub, k, g, c)| vec![b"XGROUP".to_vec(), sub.as_bytes().to_vec(), k, g, c]),
        5 => (group(), consumer(), prop::option::of(count()), prop::bool::weighted(0.2), key(),
              prop_oneof![3 => Just(b">".to_vec()), 1 => id(), 1 => Just(b"$".to_vec())])
            .prop_map(|(g, c, n, noack, k, id)| {
                let mut cmd = vec![b"XREADGROUP".to_vec(), b"GROUP".to_vec(), g, c];
                if let Some(n) = n {
                    cmd.push(b"COUNT".to_vec());
                    cmd.push(n);
                }
                if noack {
                    cmd.push(b"NOACK".to_vec());
                }
                cmd.push(b"STREAMS".to_vec());
                cmd.push(k);
                cmd.push(id);
                cmd
            }),
        3 => (prop::option::of(count()), prop::collection::vec((key(), prop_oneof![id(), Just(b"$".to_vec())]), 1..3))
            .prop_map(|(n, streams)| {
                let mut cmd = vec![b"XREAD".to_vec()];
                if let Some(n) = n {
                    cmd.push(b"COUNT".to_vec());
                    cmd.push(n);
                }
                cmd.push(b"STREAMS".to_vec());
                cmd.extend(streams.iter().map(|(k, _)| k.clone()));
                cmd.extend(streams.into_iter().map(|(_, id)| id));
                cmd
            }),
        2 => (key(), group(), prop::collection::vec(id(), 1..3))
            .prop_map(|(k, g, ids)| cat(vec![vec![b"XACK".to_vec(), k, g], ids])),
        2 => (key(), group(), prop::option::of((bound(), bound(), count(), prop::option::of(consumer()))))
            .prop_map(|(k, g, range)| {
                let mut cmd = vec![b"XPENDING".to_vec(), k, g];
                if let Some((a, b, n, c)) = range {
                    cmd.extend([a, b, n]);
                    cmd.extend(c);
                }
                cmd
            }),
        2 => (key(), group(), consumer(), prop::collection::vec(id(), 1..3), prop::bool::ANY, prop::bool::weighted(0.3))
            .prop_map(|(k, g, c, ids, justid, force)| {
                let mut cmd = cat(vec![vec![b"XCLAIM".to_vec(), k, g, c, b"0".to_vec()], ids]);
                if justid {
                    cmd.push(b"JUSTID".to_vec());
                }
                if force {
                    cmd.push(b"FORCE".to_vec());
                }
                cmd
            }),
        2 => (key(), group(), consumer(), bound(), prop::option::of(count()), prop::bool::ANY)
            .prop_map(|(k, g, c, start, n, justid)| {
                let mut cmd = vec![b"XAUTOCLAIM".to_vec(), k, g, c, b"0".to_vec(), start];
                if let Some(n) = n {
                    cmd.push(b"COUNT".to_vec());
                    cmd.push(n);
                }
                if justid {
                    cmd.push(b"JUSTID".to_vec());
                }
                cmd
            }),
        2 => (prop::sample::select(vec!["STREAM", "GROUPS"]), key())
            .prop_map(|(sub, k)| vec![b"XINFO".to_vec(), sub.as_bytes().to_vec(), k]),
    ]
}

/// Idle times depend on the clock: XPENDING's detail rows show them as 0.
pub(crate) fn normalize(cmd: &[Vec<u8>], frame: Frame) -> Frame {
    let name = upper(&cmd[0]);
    match (name.as_str(), frame) {
        ("XPENDING", Frame::Array(rows)) if cmd.len() > 3 => Frame::Array(
            rows.into_iter()
                .map(|row| match row {
                    Frame::Array(mut f) if f.len() == 4 => {
                        f[2] = Frame::Integer(0);
                        Frame::Array(f)
                    }
                    other => other,
                })
                .collect(),
        ),
        (_, frame) => frame,
    }
}
