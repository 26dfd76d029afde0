//! Jump consistent hash (Lamping & Veach, 2014).

use crate::node::{check_nodes, check_unweighted, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// The bucket in `0..buckets` for a 64-bit key: the reference algorithm of
/// "A Fast, Minimal Memory, Consistent Hash Algorithm" (Lamping & Veach).
/// Returns 0 when `buckets` is 0.
///
/// A key moves only when the bucket count passes it: growing from n to n+1
/// buckets moves exactly the keys that now land in bucket n, about 1/(n+1).
pub fn jump_bucket(mut key: u64, buckets: u32) -> u32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // With buckets ≥ 1 the loop runs at least once, so b ≥ 0.
    b.max(0) as u32
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
