//! SORT and SORT_RO with random options over the shared keys, weight keys
//! (`w_<elem>`) and hashes (`h_<elem>`), so BY and GET patterns hit strings,
//! hash fields, missing keys and wrong types.

use super::*;

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        "w_*", "h_*->f", "h_*->", "#", "nosort", "*", "x*y", "w_*->f", "h_*->g",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
}

fn option() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        Just(words(&["ASC"])),
        Just(words(&["DESC"])),
        Just(words(&["ALPHA"])),
        (int(), int()).prop_map(|(a, b)| vec![b"LIMIT".to_vec(), a, b]),
        prop::sample::select(vec![(0, 2), (1, 1), (-1, 3), (2, -1), (0, 0), (5, 10)]).prop_map(
            |(a, b): (i64, i64)| vec![
                b"LIMIT".to_vec(),
                a.to_string().into_bytes(),
                b.to_string().into_bytes()
            ]
        ),
        pattern().prop_map(|p| vec![b"BY".to_vec(), p]),
        pattern().prop_map(|p| vec![b"GET".to_vec(), p]),
        Just(words(&["LIMIT", "1"])),
        Just(words(&["BOGUS"])),
    ]
}

fn elem() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec!["1", "2", "3", "10", "a", "b", "-1", "2.5", ""])
        .prop_map(|s| s.as_bytes().to_vec())
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (key(), prop::collection::vec(option(), 0..4), prop::bool::ANY, key()).prop_map(
            |(k, opts, store, dest)| {
                let mut cmd = vec![b"SORT".to_vec(), k];
                for o in opts {
                    cmd.extend(o);
                }
                if store {
                    cmd.push(b"STORE".to_vec());
                    cmd.push(dest);
                }
                cmd
            }
        ),
        2 => (key(), prop::collection::vec(option(), 0..4)).prop_map(|(k, opts)| {
            let mut cmd = vec![b"SORT_RO".to_vec(), k];
            for o in opts {
                cmd.extend(o);
            }
            cmd
        }),
        // Weight keys and hashes for the patterns above.
        2 => (elem(), value()).prop_map(|(e, v)| {
            let mut k = b"w_".to_vec();
            k.extend(e);
            vec![b"SET".to_vec(), k, v]
        }),
        2 => (elem(), prop::sample::select(vec!["f", "g"]), value()).prop_map(|(e, f, v)| {
            let mut k = b"h_".to_vec();
            k.extend(e);
            vec![b"HSET".to_vec(), k, f.as_bytes().to_vec(), v]
        }),
        2 => (key(), prop::collection::vec(elem(), 1..6)).prop_map(|(k, es)| {
            let mut cmd = vec![b"RPUSH".to_vec(), k];
            cmd.extend(es);
            cmd
        }),
        1 => (key(), prop::collection::vec(elem(), 1..6)).prop_map(|(k, es)| {
            let mut cmd = vec![b"SADD".to_vec(), k];
            cmd.extend(es);
            cmd
        }),
        1 => (key(), prop::collection::vec((int(), elem()), 1..4)).prop_map(|(k, ps)| {
            let mut cmd = vec![b"ZADD".to_vec(), k];
            for (s, e) in ps {
                cmd.push(s);
                cmd.push(e);
            }
            cmd
        }),
    ]
}

/// Redis leaves some SORT orders unspecified: a set's own order under
/// `BY nosort`, and ties between equal ALPHA weights from a BY pattern.
/// Those replies compare as sorted multisets.
pub(crate) fn normalize(cmd: &[Vec<u8>], frame: Frame) -> Frame {
    let name = upper(&cmd[0]);
    if name != "SORT" && name != "SORT_RO" {
        return frame;
    }
    let by: Vec<String> = cmd
        .windows(2)
        .filter(|w| upper(&w[0]) == "BY")
        .map(|w| String::from_utf8_lossy(&w[1]).into_owned())
        .collect();
    // Redis's `dontsort` sticks: any BY without a `*`, not only the last.
    let nosort = by.iter().any(|p| !p.contains('*'));
    let alpha_by = !by.is_empty() && cmd.iter().any(|a| upper(a) == "ALPHA");
    let limit = cmd.iter().any(|a| upper(a) == "LIMIT");
    match frame {
        // Which elements a LIMIT keeps from an unspecified order is
        // unspecified too (ties under ALPHA BY a missing key, a set's
        // order under nosort): only how many is comparable.
        Frame::Array(items) if (nosort || alpha_by) && limit => {
            Frame::Simple(format!("<{} elements>", items.len()))
        }
        Frame::Array(mut items) if nosort || alpha_by => {
            items.sort_by_key(|f| format!("{f:?}"));
            Frame::Array(items)
        }
        other => other,
    }
}
