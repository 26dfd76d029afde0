//! Ketama consistent hashing, laid out exactly as twemproxy (nutcracker 0.5).

use crate::hash::md5_u32;
use crate::node::{check_nodes, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// twemproxy's points per unit of weight (`KETAMA_POINTS_PER_SERVER`).
pub const KETAMA_POINTS_DEFAULT: u32 = 160;

/// Most points per unit of weight. 160 is the twemproxy value; past a few
/// thousand the balance no longer improves but the continuum keeps growing.
pub const KETAMA_POINTS_MAX: u32 = 10_000;

/// Most points on one continuum (8 bytes each: 128 MiB at the bound).
pub const KETAMA_CONTINUUM_POINTS_MAX: usize = 1 << 24;

/// A ketama continuum: each node is hashed to many points on a 32-bit
/// circle; a key belongs to the first point at or after its hash.
///
/// The layout follows twemproxy's `ketama_update` so that the same pool
/// sends every key to the same server:
/// - node `i` gets `floor(w_i / W × P/4 × N + 1e-10) × 4` points, computed in
///   `f32` like twemproxy (P = points per weight, 160; W = total weight;
///   N = number of nodes);
/// - its points are the four little-endian words of `md5("<name>-<k>")` for
///   `k = 0, 1, …`;
/// - a key hashes with the pool's hash function (after the hash tag); an
///   empty key hashes to 0, as in twemproxy's `server_pool_hash`.
///
/// One twemproxy quirk is kept on purpose: for some N (25, 47, 50, 55, …)
/// its `f32` arithmetic rounds 40 × 4 down to 39 × 4, so each node has 156
/// points; growing into or out of such an N moves ~2.5% of keys between
/// nodes that stayed.
///
/// Ties between equal point values (rare) are broken by node index, where
/// twemproxy's unstable `qsort` leaves them unspecified.
#[derive(Clone, Debug)]
pub struct Ketama {
    nodes: Vec<Node>,
    /// Sorted by value; `(value, node index)`.
    points: Vec<(u32, u32)>,
    /// `index[b]`: the first point whose top 16 bits are ≥ b (b in
    /// 0..=65536). A lookup searches only its bucket, a few points, instead
    /// of binary-searching a continuum that outgrows the cache at 1,000
    /// nodes (160,000 points, 1.25 MiB).
    index: Vec<u32>,
    hash: HashFn,
    tag: HashTag,
    points_per_weight: u32,
}

impl Ketama {
    /// twemproxy's layout: 160 points per unit of weight.
    ///
    /// # Errors
    /// See [`Ketama::with_points`].
    pub fn new(nodes: Vec<Node>, hash: HashFn, tag: HashTag) -> Result<Ketama, Error> {
        Ketama::with_points(nodes, hash, tag, KETAMA_POINTS_DEFAULT)
    }

    /// A continuum with `points_per_weight` points per unit of weight
    /// (rounded down to a multiple of 4, at least 4). Only 160 matches
    /// twemproxy.
    ///
    /// # Errors
    /// An invalid node list, `points_per_weight` outside 4..=[`KETAMA_POINTS_MAX`],
    /// or a continuum above [`KETAMA_CONTINUUM_POINTS_MAX`].
    pub fn with_points(
        nodes: Vec<Node>,
        hash: HashFn,
        tag: HashTag,
        points_per_weight: u32,
    ) -> Result<Ketama, Error> {
        check_nodes(&nodes)?;
        if !(4..=KETAMA_POINTS_MAX).contains(&points_per_weight) {
            return Err(Error::InvalidParameter(format!(
                "ketama points per weight must be in 4..={KETAMA_POINTS_MAX}, got {points_per_weight}"
            )));
        }
        let total_weight: u64 = nodes.iter().map(|n| u64::from(n.weight())).sum();
        let count = nodes.len();
        let per_node: Vec<u32> = nodes
            .iter()
            .map(|n| twemproxy_points(n.weight(), total_weight, count, points_per_weight))
            .collect();
        let total: usize = per_node.iter().map(|&p| p as usize).sum();
        if total > KETAMA_CONTINUUM_POINTS_MAX {
            return Err(Error::InvalidParameter(format!(
                "ketama continuum of {total} points exceeds {KETAMA_CONTINUUM_POINTS_MAX}"
            )));
        }
        let mut points = Vec::with_capacity(total);
        for (index, (node, &count)) in nodes.iter().zip(&per_node).enumerate() {
            for k in 0..count / 4 {
                let host = format!("{}-{}", node.name(), k);
                for word in 0..4 {
                    points.push((md5_u32(host.as_bytes(), word), index as u32));
                }
            }
        }
        points.sort_unstable();
        let index = bucket_index(&points);
        Ok(Ketama {
            nodes,
            points,
            index,
            hash,
            tag,
            points_per_weight,
        })
    }

    /// The continuum as sorted `(point, node index)` pairs.
    pub fn points(&self) -> &[(u32, u32)] {
        &self.points
    }

    /// The position in [`Ketama::points`] that owns a 32-bit key hash.
    pub fn point_index(&self, hash: u32) -> usize {
        let b = (hash >> 16) as usize;
        let (lo, hi) = (self.index[b] as usize, self.index[b + 1] as usize);
        // Points in later buckets all exceed `hash`, so if none in this
        // bucket is ≥ hash the answer is the first point of the next one.
        let i = lo + self.points[lo..hi].partition_point(|&(v, _)| v < hash);
        if i == self.points.len() {
            0
        } else {
            i
        }
    }

    /// The key hash twemproxy would compute (tag applied; empty → 0).
    pub fn key_hash(&self, key: &[u8]) -> u32 {
        let key = self.tag.apply(key);
        if key.is_empty() {
            return 0;
        }
        self.hash.hash32(key)
    }
}

fn bucket_index(points: &[(u32, u32)]) -> Vec<u32> {
    let mut index = Vec::with_capacity((1 << 16) + 1);
    let mut i = 0usize;
    for b in 0..=(1u32 << 16) {
        while i < points.len() && (points[i].0 >> 16) < b {
            i += 1;
        }
        index.push(i as u32);
    }
    index
}

/// twemproxy's points for one server, reproducing its `float` arithmetic:
/// `floorf((float)(pct * P / 4 * (float)N + 0.0000000001)) * 4`.
fn twemproxy_points(weight: u32, total_weight: u64, count: usize, per_weight: u32) -> u32 {
    let pct = weight as f32 / total_weight as f32;
    let x = pct * per_weight as f32 / 4.0 * count as f32;
    let x = (f64::from(x) + 0.000_000_000_1) as f32;
    (x.floor() as u32) * 4
}

impl Placement for Ketama {
    fn locate(&self, key: &[u8]) -> usize {
        let i = self.point_index(self.key_hash(key));
        self.points[i].1 as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!(
            "ketama hash={} points/weight={} continuum={}",
            self.hash,
            self.points_per_weight,
            self.points.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::numbered;

    #[test]
    fn points_follow_weight_like_twemproxy() {
        assert_eq!(twemproxy_points(1, 3, 3, 160), 160);
        assert_eq!(twemproxy_points(2, 4, 3, 160), 240);
        assert_eq!(twemproxy_points(1, 4, 3, 160), 120);
        // 1/3 × 40 × 3 = 40.000004 in f32: floor 40, not 39.
        assert_eq!(twemproxy_points(1, 3, 3, 160), 160);
    }

    #[test]
    fn float_rounding_quirk_matches_twemproxy() {
        // twemproxy's f32 arithmetic gives 156 points, not 160, to each of
        // N equal servers for these N ≤ 100 (computed with its C expression
        // compiled by gcc on x86-64). Growing to or from such an N moves a
        // few keys between old servers; we reproduce it to stay compatible.
        let short = [25, 47, 50, 55, 61, 71, 94, 100];
        for n in 1..=100u32 {
            let expected = if short.contains(&n) { 156 } else { 160 };
            assert_eq!(
                twemproxy_points(1, u64::from(n), n as usize, 160),
                expected,
                "n={n}"
            );
        }
    }

    #[test]
    fn continuum_has_160_points_per_node() {
        let k = Ketama::new(numbered("n", 10), HashFn::Fnv1a64, HashTag::None).unwrap();
        assert_eq!(k.points().len(), 1600);
        assert!(k.points().windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn wraps_past_the_last_point() {
        let k = Ketama::new(numbered("n", 3), HashFn::Md5, HashTag::None).unwrap();
        assert_eq!(
            k.point_index(u32::MAX),
            if k.points().last().unwrap().0 == u32::MAX {
                k.points().len() - 1
            } else {
                0
            }
        );
        assert_eq!(k.point_index(0), 0);
    }

    #[test]
    fn bucket_index_agrees_with_binary_search() {
        let k = Ketama::new(numbered("n", 50), HashFn::Md5, HashTag::None).unwrap();
        let mut h = 0x1234_5678u64;
        for _ in 0..100_000 {
            h = crate::hash::mix64(h);
            let hash = h as u32;
            let i = k.points().partition_point(|&(v, _)| v < hash);
            let expected = if i == k.points().len() { 0 } else { i };
            assert_eq!(k.point_index(hash), expected, "hash {hash}");
        }
        for &(v, _) in k.points() {
            let i = k.point_index(v);
            assert_eq!(k.points()[i].0, v);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Ketama::with_points(numbered("n", 3), HashFn::Md5, HashTag::None, 2).is_err());
        assert!(Ketama::new(vec![], HashFn::Md5, HashTag::None).is_err());
    }
}
