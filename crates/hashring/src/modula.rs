//! twemproxy's `modula` and `random` distributions.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::hash::mix64;
use crate::node::{check_nodes, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// Most entries in a modula table (one per unit of weight; 4 bytes each,
/// 64 MiB at the bound). twemproxy has no bound; 10,000 nodes of weight
/// 1,000 already exceed any real pool.
pub const MODULA_TABLE_MAX: usize = 1 << 24;

/// Hash mod N, with twemproxy's handling of weights: node `i` appears
/// `weight_i` times in a table, in node order, and a key goes to
/// `table[hash % table.len()]`.
///
/// The simplest sharding, and the reason consistent hashing exists: going
/// from N to N+1 nodes changes `hash % N` for about N/(N+1) of all keys.
#[derive(Clone, Debug)]
pub struct Modula {
    nodes: Vec<Node>,
    table: Vec<u32>,
    hash: HashFn,
    tag: HashTag,
}

impl Modula {
    /// # Errors
    /// An invalid node list (see [`crate::Error`]).
    pub fn new(nodes: Vec<Node>, hash: HashFn, tag: HashTag) -> Result<Modula, Error> {
        check_nodes(&nodes)?;
        let total: usize = nodes.iter().map(|n| n.weight() as usize).sum();
        if total > MODULA_TABLE_MAX {
            return Err(Error::InvalidParameter(format!(
                "modula table of {total} entries (total weight) exceeds {MODULA_TABLE_MAX}"
            )));
        }
        let table = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| std::iter::repeat(i as u32).take(n.weight() as usize))
            .collect();
        Ok(Modula {
            nodes,
            table,
            hash,
            tag,
        })
    }
}

impl Placement for Modula {
    fn locate(&self, key: &[u8]) -> usize {
        let key = self.tag.apply(key);
        // twemproxy's server_pool_hash: an empty key hashes to 0.
        let h = if key.is_empty() {
            0
        } else {
            self.hash.hash32(key)
        };
        self.table[(h as usize) % self.table.len()] as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!("modula hash={} table={}", self.hash, self.table.len())
    }
}

/// twemproxy's `random`: every request goes to a random node (weighted as
/// [`Modula`]), so it only suits caches where any node may answer.
///
/// The generator is seeded, so a sequence of placements is reproducible;
/// it is shared across threads through an atomic counter.
#[derive(Debug)]
pub struct Random {
    nodes: Vec<Node>,
    table: Vec<u32>,
    seed: u64,
    counter: AtomicU64,
}

impl Random {
    /// # Errors
    /// An invalid node list (see [`crate::Error`]).
    pub fn new(nodes: Vec<Node>, seed: u64) -> Result<Random, Error> {
        let modula = Modula::new(nodes, HashFn::Xxh3, HashTag::None)?;
        Ok(Random {
            nodes: modula.nodes,
            table: modula.table,
            seed,
            counter: AtomicU64::new(0),
        })
    }
}

impl Placement for Random {
    fn locate(&self, _key: &[u8]) -> usize {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let r = mix64(self.seed ^ mix64(n));
        self.table[(r % self.table.len() as u64) as usize] as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!("random seed={}", self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_repeat_nodes_in_order() {
        let m = Modula::new(
            vec![Node::weighted("a", 2), Node::new("b")],
            HashFn::Crc32a,
            HashTag::None,
        )
        .unwrap();
        assert_eq!(m.table, vec![0, 0, 1]);
        // crc32("123456789") = 0xcbf43926 = 3421780262; 3421780262 % 3 = 2.
        assert_eq!(m.locate(b"123456789"), 1);
        // An empty key hashes to 0: table[0].
        assert_eq!(m.locate(b""), 0);
    }

    #[test]
    fn rejects_huge_tables() {
        let nodes: Vec<Node> = (0..2_000)
            .map(|i| Node::weighted(format!("n{i}"), 10_000))
            .collect();
        assert!(Modula::new(nodes, HashFn::Xxh3, HashTag::None).is_err());
    }

    #[test]
    fn random_is_reproducible_from_its_seed() {
        let nodes = crate::node::numbered("n", 5);
        let a = Random::new(nodes.clone(), 7).unwrap();
        let b = Random::new(nodes, 7).unwrap();
        let xs: Vec<usize> = (0..100).map(|_| a.locate(b"k")).collect();
        let ys: Vec<usize> = (0..100).map(|_| b.locate(b"k")).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|&x| x != xs[0]));
    }
}
