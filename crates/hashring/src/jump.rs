//! Jump consistent hash (Lamping & Veach, 2014).

use crate::node::{check_nodes, check_unweighted, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// The bucket in `0..buckets` for a 64-bit key: the reference algorithm of
/// "A Fast, Minimal Memory, Consistent Hash Algorithm" (Lamping & Veach).
/// Returns 0 when `buckets` is 0.
///
/// A key moves only when the bucket count passes it: growing from n to n+1
/// buckets moves exactly the keys that now land in bucket n, about 1/(n+1).
pub fn jump_bucket(key: u64, buckets: u32) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.1") {
            // SAFETY: the CPU supports SSE4.1.
            return unsafe { jump_sse41(key, buckets) };
        }
    }
    jump_steps(key, buckets)
}

/// [`jump_steps`] compiled with SSE4.1, whose `roundsd` makes `ceil` one
/// instruction instead of a libm call.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
unsafe fn jump_sse41(key: u64, buckets: u32) -> u32 {
    jump_steps(key, buckets)
}

#[inline(always)]
fn jump_steps(mut key: u64, buckets: u32) -> u32 {
    if buckets == 0 {
        return 0;
    }
    // The reference computes `j = trunc((b + 1) * q)` in integers around a
    // double product and loops while `j < buckets`. The same values are
    // computed here without leaving doubles, which shortens each step's
    // dependency chain (the step is what a lookup waits on):
    // - `trunc(p) < n` exactly when `p < n`, for `p ≥ 0` and an integer
    //   `n`, so the exit test reads the product directly;
    // - `b + 1 = trunc(p) + 1` equals `ceil(p)` unless `p` is a whole
    //   number, which a rounded product below 2^32 all but never is; that
    //   case is checked off the critical path.
    // Every integer involved is below 2^53, so each double is exact where
    // the reference's integers are, and the results are identical (the
    // tests compare against a literal transcription of the paper).
    let n = f64::from(buckets);
    let mut next = 1.0f64; // b + 1, with b = 0 after the reference's first step
    loop {
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let q = (1u64 << 31) as f64 / ((key >> 33) + 1) as f64;
        let p = next * q;
        if p >= n {
            return (next - 1.0) as u32;
        }
        next = p.ceil();
        if next == p {
            // A cold call keeps this a branch (never taken in practice),
            // not a blend that would lengthen every step.
            next = successor(p);
        }
    }
}

/// Jump hash over named nodes: bucket `i` is served by `nodes[i]`.
///
/// Jump needs no memory and balances almost perfectly, but buckets are
/// numbers, not names: only the *last* bucket can disappear without moving
/// other keys. [`Jump::without`] handles removing any node by moving the
/// last node into the freed bucket: the removed node's keys go to that
/// node, and the last bucket's keys spread over all others — about 2/N of
/// all keys move instead of the ideal 1/N. Use it for shards that are
/// replicated and never leave (a failed shard is replaced under the same
/// bucket), or remove only the newest node.
///
/// Weights are not supported: every node must have weight 1.
#[derive(Clone, Debug)]
pub struct Jump {
    nodes: Vec<Node>,
    hash: HashFn,
    tag: HashTag,
}

impl Jump {
    /// # Errors
    /// An invalid node list, or a weight other than 1.
    pub fn new(nodes: Vec<Node>, hash: HashFn, tag: HashTag) -> Result<Jump, Error> {
        check_nodes(&nodes)?;
        check_unweighted(&nodes, "jump")?;
        Ok(Jump { nodes, hash, tag })
    }

    /// The placement after removing the node named `name`, with the last
    /// node moved into its bucket (see the type docs).
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if no node has that name; [`Error::NoNodes`]
    /// when removing the only node.
    pub fn without(&self, name: &str) -> Result<Jump, Error> {
        let i = self
            .nodes
            .iter()
            .position(|n| n.name() == name)
            .ok_or_else(|| Error::UnknownNode(name.to_owned()))?;
        let mut nodes = self.nodes.clone();
        nodes.swap_remove(i);
        Jump::new(nodes, self.hash, self.tag)
    }
}

impl Placement for Jump {
    fn locate(&self, key: &[u8]) -> usize {
        let h = self.hash.hash64(self.tag.apply(key));
        jump_bucket(h, self.nodes.len() as u32) as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!("jump hash={}", self.hash)
    }
}

#[cold]
#[inline(never)]
fn successor(whole: f64) -> f64 {
    whole + 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A literal transcription of the paper's C++ listing, kept apart from
    /// `jump_bucket` so the two can disagree.
    fn paper(mut key: u64, num_buckets: i32) -> i32 {
        let (mut b, mut j): (i64, i64) = (-1, 0);
        while j < i64::from(num_buckets) {
            b = j;
            key = key.wrapping_mul(2862933555777941757).wrapping_add(1);
            j = ((b + 1) as f64 * (f64::from(1u32 << 31) / ((key >> 33) + 1) as f64)) as i64;
        }
        b as i32
    }

    #[test]
    fn known_answers() {
        // Outputs of the reference algorithm as ClickHouse's
        // `jumpConsistentHash` regression test pins them.
        let vectors = [
            (1u64, 1u32, 0u32),
            (42, 57, 43),
            (256, 1024, 520),
            (3_735_883_980, 1, 0),
            (3_735_883_980, 666, 361),
            (16_045_690_984_833_335_023, 255, 237),
        ];
        for (key, buckets, expected) in vectors {
            assert_eq!(
                jump_bucket(key, buckets),
                expected,
                "jump({key}, {buckets})"
            );
        }
        assert_eq!(jump_bucket(0, 0), 0);
        for key in [1u64, 2, 3, 0xdead_beef, u64::MAX, 1 << 40] {
            for buckets in [1u32, 2, 3, 10, 100, 1000, 65_536] {
                assert_eq!(jump_bucket(key, buckets) as i32, paper(key, buckets as i32));
            }
        }
    }

    /// The double-only loop must agree with the paper everywhere, not just
    /// on the vectors: 200,000 pseudo-random keys over bucket counts from 1
    /// to 2^31 - 1, and the portable path as well as the SSE4.1 one.
    #[test]
    fn agrees_with_the_paper_on_random_inputs() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..200_000u32 {
            x = crate::hash::mix64(x.wrapping_add(u64::from(i)));
            let buckets = match i % 4 {
                0 => (x >> 54) as u32 + 1,
                1 => (x >> 44) as u32 + 1,
                2 => (x >> 33) as u32 + 1,
                _ => [1, 2, 10, 1000, i32::MAX as u32][(x % 5) as usize],
            };
            let expected = paper(x, buckets as i32) as u32;
            assert_eq!(jump_bucket(x, buckets), expected, "jump({x}, {buckets})");
            assert_eq!(
                jump_steps(x, buckets),
                expected,
                "portable jump({x}, {buckets})"
            );
        }
    }

    #[test]
    fn growing_moves_only_into_the_new_bucket() {
        for key in 0..10_000u64 {
            let k = crate::hash::mix64(key);
            let before = jump_bucket(k, 10);
            let after = jump_bucket(k, 11);
            assert!(after == before || after == 10, "key {key}");
        }
    }

    #[test]
    fn rejects_weights() {
        assert!(Jump::new(vec![Node::weighted("a", 2)], HashFn::Xxh3, HashTag::None).is_err());
    }
}
