//! Properties every consistent strategy promises: adding a node moves keys
//! only onto it; removing a node moves only its keys; placement is a pure
//! function of its inputs (pinned by golden checksums, so a change on any
//! platform or toolchain fails here).

use proptest::prelude::*;
use shoal_hashring::{
    numbered, sample_keys, Algorithm, Config, HashFn, HashTag, Jump, Ketama, Maglev, Node,
    Placement, Rendezvous,
};

fn names(p: &dyn Placement, keys: &[Vec<u8>]) -> Vec<String> {
    keys.iter()
        .map(|k| p.node_for(k).name().to_owned())
        .collect()
}

/// Keys whose owner changed, as (before, after) names.
fn moves(before: &[String], after: &[String]) -> Vec<(String, String)> {
    before
        .iter()
        .zip(after)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.clone(), b.clone()))
        .collect()
}

fn ring(kind: &str, nodes: Vec<Node>, hash: HashFn) -> Box<dyn Placement> {
    match kind {
        "ketama" => Box::new(Ketama::new(nodes, hash, HashTag::None).expect("ketama")),
        "jump" => Box::new(Jump::new(nodes, hash, HashTag::None).expect("jump")),
        "rendezvous" => Box::new(Rendezvous::new(nodes, hash, HashTag::None).expect("rendezvous")),
        "maglev" => Box::new(Maglev::new(nodes, hash, HashTag::None, 65_537).expect("maglev")),
        other => panic!("no strategy {other}"),
    }
}

/// Whether twemproxy's f32 rounding gives N equal nodes 156 points each
/// instead of 160 (see `Ketama`): growing to or from such an N also moves
/// keys between old nodes, by design of the format we must match.
fn twemproxy_short(n: usize) -> bool {
    let k = Ketama::new(numbered("node", n), HashFn::Md5, HashTag::None).expect("ketama");
    k.points().len() != 160 * n
}

#[test]
fn twemproxy_rounding_moves_keys_between_old_nodes() {
    // Pinned: 24 → 25 nodes changes every node from 160 to 156 points.
    assert!(!twemproxy_short(24) && twemproxy_short(25));
    let keys = sample_keys(5_000, 3);
    let all = numbered("node", 25);
    let before = names(
        ring("ketama", all[..24].to_vec(), HashFn::Md5).as_ref(),
        &keys,
    );
    let after = names(ring("ketama", all, HashFn::Md5).as_ref(), &keys);
    let stray = moves(&before, &after)
        .iter()
        .filter(|(_, to)| to != "node24")
        .count();
    println!("stray moves 24 -> 25: {stray} of {}", keys.len());
    assert!(stray > 0);
}

fn hash_strategy() -> impl Strategy<Value = HashFn> {
    prop::sample::select(HashFn::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_node_moves_keys_only_onto_it(
        n in 2usize..40,
        seed in any::<u64>(),
        hash in hash_strategy(),
        kind in prop::sample::select(vec!["ketama", "jump", "rendezvous"]),
    ) {
        let keys = sample_keys(2_000, seed);
        let all = numbered("node", n + 1);
        prop_assume!(kind != "ketama" || (!twemproxy_short(n) && !twemproxy_short(n + 1)));
        let before = names(ring(kind, all[..n].to_vec(), hash).as_ref(), &keys);
        let after = names(ring(kind, all.clone(), hash).as_ref(), &keys);
        let new = all[n].name();
        for (from, to) in moves(&before, &after) {
            prop_assert_eq!(&to, new, "{} moved a key from {} to {}", kind, from, to);
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_keys(
        n in 2usize..40,
        victim in any::<prop::sample::Index>(),
        seed in any::<u64>(),
        hash in hash_strategy(),
        kind in prop::sample::select(vec!["ketama", "rendezvous", "jump"]),
    ) {
        let keys = sample_keys(2_000, seed);
        let all = numbered("node", n);
        prop_assume!(kind != "ketama" || (!twemproxy_short(n) && !twemproxy_short(n - 1)));
        // Jump can only drop its last bucket cleanly (see `Jump::without`).
        let gone = if kind == "jump" { n - 1 } else { victim.index(n) };
        let mut rest = all.clone();
        rest.remove(gone);
        let before = names(ring(kind, all.clone(), hash).as_ref(), &keys);
        let after = names(ring(kind, rest, hash).as_ref(), &keys);
        for (from, to) in moves(&before, &after) {
            prop_assert_eq!(&from, all[gone].name(), "{} moved a key from {} to {}", kind, from, to);
        }
    }

    #[test]
    fn maglev_churn_stays_within_its_bound(n in 5usize..60, seed in any::<u64>()) {
        // Maglev trades a little churn for O(1) lookups: besides the keys that
        // must move, a few move between surviving nodes. With M = 65537 the
        // paper's disruption stays within a few percent; we allow 1/N.
        let keys = sample_keys(4_000, seed);
        let all = numbered("node", n + 1);
        let before = names(ring("maglev", all[..n].to_vec(), HashFn::Xxh3).as_ref(), &keys);
        let after = names(ring("maglev", all.clone(), HashFn::Xxh3).as_ref(), &keys);
        let stray = moves(&before, &after).into_iter().filter(|(_, to)| to != all[n].name()).count();
        let bound = keys.len() / n;
        prop_assert!(stray <= bound, "{} keys moved between old nodes (bound {})", stray, bound);
    }

    #[test]
    fn jump_without_a_middle_node_moves_about_two_shares(n in 3usize..30, victim in any::<prop::sample::Index>(), seed in any::<u64>()) {
        let keys = sample_keys(3_000, seed);
        let j = Jump::new(numbered("node", n), HashFn::Xxh3, HashTag::None).expect("jump");
        let gone = format!("node{}", victim.index(n));
        let k = j.without(&gone).expect("without");
        let before = names(&j, &keys);
        let after = names(&k, &keys);
        let last = format!("node{}", n - 1);
        for (from, to) in moves(&before, &after) {
            // Only the removed node's keys and the last bucket's keys move.
            prop_assert!(from == gone || from == last, "key moved from {} to {}", from, to);
        }
        prop_assert!(after.iter().all(|a| *a != gone));
    }
}

/// FNV-1a over the node indexes of 1,000 sample keys (seed 1).
fn checksum(p: &dyn Placement) -> u64 {
    sample_keys(1_000, 1)
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, k| {
            (h ^ p.locate(k) as u64).wrapping_mul(0x100_0000_01b3)
        })
}

#[test]
fn placement_is_pinned_across_runs_and_platforms() {
    // Golden values: recomputing them is a data migration for every user.
    let expected: [(Algorithm, u64); 10] = GOLDEN;
    let mut actual = Vec::new();
    for (algo, _) in expected {
        let p = shoal_hashring::build(&Config::new(algo), numbered("node", 7)).expect("build");
        actual.push((algo, checksum(p.as_ref())));
    }
    assert_eq!(actual, expected.to_vec());
}

#[test]
fn every_hash_is_pinned() {
    let key = b"t042:000123456789\xe9";
    let actual: Vec<(HashFn, u32)> = HashFn::ALL.iter().map(|&h| (h, h.hash32(key))).collect();
    assert_eq!(actual, HASH_GOLDEN.to_vec());
}

/// Composite with no tenant bounds is one jump group, hence jump's value.
const GOLDEN: [(Algorithm, u64); 10] = [
    (Algorithm::Modula, 10995438470136467071),
    (Algorithm::Ketama, 11307657503135148344),
    (Algorithm::Jump, 5284225897637131569),
    (Algorithm::Maglev, 7414556398562465424),
    (Algorithm::Rendezvous, 3465421028206558938),
    (Algorithm::Bounded, 9627196291499471854),
    (Algorithm::Directory, 9982705465765183086),
    (Algorithm::Slots, 13238023421766120872),
    (Algorithm::Codis, 11604795501283984427),
    (Algorithm::Composite, 5284225897637131569),
];

const HASH_GOLDEN: [(HashFn, u32); 15] = [
    (HashFn::OneAtATime, 1439781274),
    (HashFn::Md5, 2494318402),
    (HashFn::Crc16, 3742959391),
    (HashFn::Crc32, 9570),
    (HashFn::Crc32a, 2774703195),
    (HashFn::Fnv1_64, 3649378683),
    (HashFn::Fnv1a64, 2874276895),
    (HashFn::Fnv1_32, 3289114683),
    (HashFn::Fnv1a32, 2845630047),
    (HashFn::Hsieh, 3152973671),
    (HashFn::Murmur, 2449063080),
    (HashFn::Jenkins, 1992738766),
    (HashFn::Murmur3_32, 1944444369),
    (HashFn::Murmur3_128, 3834642112),
    (HashFn::Xxh3, 2104618734),
];
