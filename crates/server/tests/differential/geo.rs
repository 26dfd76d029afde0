//! GEO commands with random, often invalid, options over the shared keys
//! (so sorted sets written by the ZADD generator, with scores that are no
//! geohash, and keys of other types are searched too).
//!
//! Coordinates come from a small set around Sicily, the poles and the
//! antimeridian, with repeats, so searches hit members, distances tie and
//! the 9-cell search crosses the edges of the map.

use super::*;

/// Few names, so searches from a member mostly find it.
fn member() -> impl Strategy<Value = Vec<u8>> {
    let common = ["a", "b", "c", "Palermo", "Catania"];
    let rare = ["d", "m1", "m10", "", "1"];
    prop_oneof![
        16 => prop::sample::select(common.to_vec()).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::sample::select(rare.to_vec()).prop_map(|s| s.as_bytes().to_vec()),
        1 => Just(b"\x00bin\xff".to_vec()),
        1 => (60usize..70).prop_map(|n| vec![b'y'; n]),
    ]
}

fn pick(
    near: &[&'static str],
    edge: &[&'static str],
    bad: &[&'static str],
) -> impl Strategy<Value = Vec<u8>> {
    let as_bytes =
        |v: &[&'static str]| prop::sample::select(v.to_vec()).prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        12 => as_bytes(near),
        2 => as_bytes(edge),
        1 => as_bytes(bad),
    ]
}

/// Mostly near Sicily (with repeats, for ties), some at the edges of the
/// map, a few invalid.
fn longitude() -> impl Strategy<Value = Vec<u8>> {
    pick(
        &[
            "13.361389",
            "15.087269",
            "13.5",
            "14",
            "14",
            "15",
            "12.758489",
            "14.25",
        ],
        &["-180", "180", "179.9999", "-179.9999", "0", "-0", "1e-300"],
        &[
            "181",
            "-180.0000001",
            "x",
            "",
            "nan",
            "inf",
            "1e400",
            "0x10",
            " 1",
        ],
    )
}

fn latitude() -> impl Strategy<Value = Vec<u8>> {
    pick(
        &[
            "38.115556",
            "37.502669",
            "37",
            "37",
            "38",
            "38.788135",
            "37.75",
        ],
        &[
            "85.05112878",
            "-85.05112878",
            "85",
            "-85",
            "0",
            "66.5",
            "-80.1",
        ],
        &["85.0511288", "90", "x", "-inf", ""],
    )
}

fn point() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (longitude(), latitude(), member()).prop_map(|(lo, la, m)| vec![lo, la, m])
}

fn lonlat() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (longitude(), latitude()).prop_map(|(lo, la)| vec![lo, la])
}

fn distance() -> impl Strategy<Value = Vec<u8>> {
    pick(
        &["10", "50", "100", "200", "200", "300", "500", "1000"],
        &[
            "0", "1", "5000", "20000", "1e7", "inf", "0.5", "-0", "1e-300",
        ],
        &["-1", "x", "", "nan"],
    )
}

fn unit() -> impl Strategy<Value = Vec<u8>> {
    pick(
        &["km", "km", "km", "mi", "KM", "Mi"],
        &["m", "ft", "M", "FT"],
        &["yd", "", "kilometers"],
    )
}

fn count() -> impl Strategy<Value = Vec<u8>> {
    pick(
        &["1", "2", "3", "5"],
        &["9223372036854775807", "100"],
        &["0", "-1", "x", "-9223372036854775808"],
    )
}

/// Options of every search command, each valid for some of them.
fn search_opt() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "WITHDIST", "WITHHASH", "WITHCOORD", "ASC", "DESC", "withdist", "desc",
        ])
        .prop_map(|w| words(&[w])),
        1 => prop::sample::select(vec![
            "ANY", "STOREDIST", "STORE", "COUNT", "FROMMEMBER", "BYBOX", "FOO",
        ])
        .prop_map(|w| words(&[w])),
        2 => count().prop_map(|n| vec![b"COUNT".to_vec(), n]),
        1 => count().prop_map(|n| vec![b"COUNT".to_vec(), n, b"ANY".to_vec()]),
        1 => key().prop_map(|k| vec![b"STORE".to_vec(), k]),
        1 => key().prop_map(|k| vec![b"STOREDIST".to_vec(), k]),
        2 => member().prop_map(|m| vec![b"FROMMEMBER".to_vec(), m]),
        2 => lonlat().prop_map(|p| cat(vec![words(&["FROMLONLAT"]), p])),
        2 => (distance(), unit()).prop_map(|(d, u)| vec![b"BYRADIUS".to_vec(), d, u]),
        2 => (distance(), distance(), unit())
            .prop_map(|(w, h, u)| vec![b"BYBOX".to_vec(), w, h, u]),
    ]
}

/// GEORADIUS's options: the GEOSEARCH-only ones are rarer.
fn radius_opt() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "WITHDIST", "WITHHASH", "WITHCOORD", "ASC", "DESC", "withdist", "desc",
        ])
        .prop_map(|w| words(&[w])),
        3 => count().prop_map(|n| vec![b"COUNT".to_vec(), n]),
        1 => count().prop_map(|n| vec![b"COUNT".to_vec(), n, b"ANY".to_vec()]),
        1 => key().prop_map(|k| vec![b"STORE".to_vec(), k]),
        1 => key().prop_map(|k| vec![b"STOREDIST".to_vec(), k]),
        1 => search_opt(),
    ]
}

fn search_opts() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(radius_opt(), 0..4).prop_map(|o| o.into_iter().flatten().collect())
}

/// GEOSEARCH's options: a centre and a shape in most cases, in any order.
fn geosearch_opts() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let from = prop_oneof![
        3 => member().prop_map(|m| vec![b"FROMMEMBER".to_vec(), m]),
        3 => lonlat().prop_map(|p| cat(vec![words(&["FROMLONLAT"]), p])),
        1 => Just(Vec::new()),
    ];
    let by = prop_oneof![
        3 => (distance(), unit()).prop_map(|(d, u)| vec![b"BYRADIUS".to_vec(), d, u]),
        3 => (distance(), distance(), unit())
            .prop_map(|(w, h, u)| vec![b"BYBOX".to_vec(), w, h, u]),
        1 => Just(Vec::new()),
    ];
    (
        from,
        by,
        prop::collection::vec(radius_opt(), 0..3),
        prop::bool::ANY,
    )
        .prop_map(|(f, b, rest, swap)| {
            let (first, second) = if swap { (b, f) } else { (f, b) };
            cat(vec![first, second, rest.into_iter().flatten().collect()])
        })
}

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    let add_flags = prop_oneof![
        4 => Just(Vec::new()),
        2 => prop::sample::select(vec!["NX", "XX", "CH", "ch"]).prop_map(|w| words(&[w])),
        1 => prop::collection::vec(prop::sample::select(vec!["NX", "XX", "CH", "GT", "INCR"]), 0..3)
            .prop_map(|w| words(&w)),
    ];
    prop_oneof![
        8 => (key(), add_flags, prop::collection::vec(point(), 1..4)).prop_map(|(k, f, ps)| {
            cat(vec![words(&["GEOADD"]), vec![k], f, ps.into_iter().flatten().collect()])
        }),
        1 => (key(), prop::collection::vec(member(), 0..4))
            .prop_map(|(k, ws)| cat(vec![words(&["GEOADD"]), vec![k], ws])),
        3 => (
            key(),
            member(),
            member(),
            prop_oneof![
                6 => prop::collection::vec(unit(), 0..2),
                1 => prop::collection::vec(unit(), 2..3),
            ]
        )
            .prop_map(|(k, a, b, u)| cat(vec![words(&["GEODIST"]), vec![k, a, b], u])),
        2 => (key(), prop::collection::vec(member(), 0..4))
            .prop_map(|(k, ms)| cat(vec![words(&["GEOHASH"]), vec![k], ms])),
        2 => (key(), prop::collection::vec(member(), 0..4))
            .prop_map(|(k, ms)| cat(vec![words(&["GEOPOS"]), vec![k], ms])),
        4 => (
            prop::sample::select(vec!["GEORADIUS", "GEORADIUS_RO"]),
            key(),
            lonlat(),
            distance(),
            unit(),
            search_opts()
        )
            .prop_map(|(n, k, p, d, u, o)| cat(vec![
                words(&[n]),
                vec![k],
                p,
                vec![d, u],
                o
            ])),
        4 => (
            prop::sample::select(vec!["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"]),
            key(),
            member(),
            distance(),
            unit(),
            search_opts()
        )
            .prop_map(|(n, k, m, d, u, o)| cat(vec![words(&[n]), vec![k, m, d, u], o])),
        6 => (key(), geosearch_opts())
            .prop_map(|(k, o)| cat(vec![words(&["GEOSEARCH"]), vec![k], o])),
        3 => (key(), key(), geosearch_opts(), prop::bool::weighted(0.3)).prop_map(
            |(d, s, o, storedist)| {
                let tail = if storedist { words(&["STOREDIST"]) } else { Vec::new() };
                cat(vec![words(&["GEOSEARCHSTORE"]), vec![d, s], o, tail])
            }
        ),
        // What a store left behind, and the geohash scores themselves.
        2 => key().prop_map(|k| vec![b"ZRANGE".to_vec(), k, b"0".to_vec(), b"-1".to_vec(),
            b"WITHSCORES".to_vec()]),
        1 => key().prop_map(|k| vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), k]),
    ]
}

/// Only GEO commands (and the sorted-set commands, which write scores that
/// are not geohashes), for more GEO per run than the mixed suite gives.
#[test]
#[ignore = "needs redis-server"]
fn geo_matches_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let seed = seed();
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let total = Cell::new(0usize);
    let strategy = prop::collection::vec(
        prop_oneof![
            8 => command(),
            1 => zsets::command(),
            1 => keys_command(),
        ],
        COMMANDS_PER_CASE,
    );
    let result = runner.run(&strategy, |cmds| {
        total.set(total.get() + cmds.len());
        run_case(&redis, &shoal, &cmds)
    });
    if let Err(e) = result {
        let why = match e {
            proptest::test_runner::TestError::Fail(reason, _) => reason.to_string(),
            other => other.to_string(),
        };
        panic!(
            "Shoal diverged from Redis (replay with SHOAL_DIFF_SEED={:016x}):\n{why}",
            u64::from_le_bytes(seed[..8].try_into().unwrap())
        );
    }
    eprintln!("{} commands compared", total.get());
}

/// COMMAND GETKEYS finds GEORADIUS's STORE and STOREDIST keys as Redis's
/// key specs do.
#[test]
#[ignore = "needs redis-server"]
fn geo_getkeys_match_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let (mut r, mut s) = (redis.connect(), shoal.connect());
    let lines = [
        "GEORADIUS k 1 2 3 m",
        "GEORADIUS k 1 2 3 m STORE d",
        "GEORADIUS k 1 2 3 m store d STOREDIST e",
        "GEORADIUS k 1 2 3 m STOREDIST e STORE d",
        "GEORADIUS k 1 2 3 m STORE d STORE e",
        "GEORADIUS k 1 2 3 m STORE",
        "GEORADIUS k 1 2 3 m WITHDIST STORE storedist x",
        "GEORADIUS k 1 2 store m",
        "GEORADIUS k store 2 3 m x",
        "GEORADIUS k 1 2 3 m x",
        "GEORADIUS k 1 2 3",
        "GEORADIUS_RO k 1 2 3 m STORE d",
        "GEORADIUSBYMEMBER k m 3 km STORE d",
        "GEORADIUSBYMEMBER k m 3 STORE d",
        "GEORADIUSBYMEMBER k store 3 km x",
        "GEORADIUSBYMEMBER_RO k m 3 km STOREDIST d",
        "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 m STOREDIST",
        "GEOSEARCH s FROMMEMBER m BYRADIUS 1 m",
        "GEOADD k 1 1 m",
        "GEODIST k a b",
        "GEOHASH k a",
        "GEOPOS k a b",
    ];
    assert_same_replies(&mut r, &mut s, &[b"COMMAND", b"GETKEYS"], &lines);
}
