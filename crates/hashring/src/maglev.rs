//! Maglev hashing (Eisenbud et al., NSDI 2016).

use crate::node::{check_nodes, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// Default lookup table size: the prime the Maglev paper uses for small
/// tables. With up to ~650 nodes it keeps ≥ 100 entries per node, the
/// paper's rule of thumb for even balance.
pub const MAGLEV_TABLE_SIZE_DEFAULT: u64 = 65_537;

/// Largest table accepted: 4 bytes an entry, 16 MiB at the bound.
pub const MAGLEV_TABLE_SIZE_MAX: u64 = 4_194_301;

/// Maglev: each node walks its own permutation of a prime-sized table and
/// the nodes take turns claiming free entries until the table is full; a
/// key goes to `table[hash % M]`.
///
/// Lookups are one array read, and balance is within a few percent. The
/// price: when a node joins or leaves, a small fraction of keys also move
/// between two *other* nodes (the paper measures this "disruption"), unlike
/// ketama or jump. Weights are honoured by letting a node of weight w take
/// w turns per round.
///
/// Each node's permutation derives from XXH3 of its name with two seeds
/// (offset and skip), so the table depends only on names, weights, order
/// and M.
#[derive(Clone, Debug)]
pub struct Maglev {
    nodes: Vec<Node>,
    table: Vec<u32>,
    hash: HashFn,
    tag: HashTag,
}

impl Maglev {
    /// # Errors
    /// An invalid node list; a table size that is not prime, above
    /// [`MAGLEV_TABLE_SIZE_MAX`], or smaller than the total weight (every
    /// node needs at least one entry).
    pub fn new(
        nodes: Vec<Node>,
        hash: HashFn,
        tag: HashTag,
        table_size: u64,
    ) -> Result<Maglev, Error> {
        check_nodes(&nodes)?;
        if table_size > MAGLEV_TABLE_SIZE_MAX || !is_prime(table_size) {
            return Err(Error::InvalidParameter(format!(
                "maglev table size must be a prime ≤ {MAGLEV_TABLE_SIZE_MAX}, got {table_size}"
            )));
        }
        let total_weight: u64 = nodes.iter().map(|n| u64::from(n.weight())).sum();
        if table_size < total_weight {
            return Err(Error::InvalidParameter(format!(
                "maglev table size {table_size} is smaller than the total weight {total_weight}"
            )));
        }
        let m = table_size;
        let perms: Vec<(u64, u64)> = nodes
            .iter()
            .map(|n| {
                let name = n.name().as_bytes();
                let offset = xxh3_seeded(name, 0x6f66_6673_6574) % m;
                let skip = xxh3_seeded(name, 0x0000_736b_6970) % (m - 1) + 1;
                (offset, skip)
            })
            .collect();
        const EMPTY: u32 = u32::MAX;
        let mut table = vec![EMPTY; m as usize];
        let mut next = vec![0u64; nodes.len()];
        let mut filled = 0u64;
        'fill: loop {
            for (i, node) in nodes.iter().enumerate() {
                for _ in 0..node.weight() {
                    let (offset, skip) = perms[i];
                    // A permutation of 0..m visits every entry in m steps,
                    // so this finds a free one while the table is not full.
                    let mut c = (offset + next[i] * skip) % m;
                    while table[c as usize] != EMPTY {
                        next[i] += 1;
                        c = (offset + next[i] * skip) % m;
                    }
                    table[c as usize] = i as u32;
                    next[i] += 1;
                    filled += 1;
                    if filled == m {
                        break 'fill;
                    }
                }
            }
        }
        Ok(Maglev {
            nodes,
            table,
            hash,
            tag,
        })
    }

    /// The lookup table: entry → node index.
    pub fn table(&self) -> &[u32] {
        &self.table
    }
}

fn xxh3_seeded(bytes: &[u8], seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed)
}

/// Trial division: table sizes are at most a few million.
pub(crate) fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n % 2 == 0 {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

impl Placement for Maglev {
    fn locate(&self, key: &[u8]) -> usize {
        let h = self.hash.hash64(self.tag.apply(key));
        self.table[(h % self.table.len() as u64) as usize] as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!("maglev hash={} table={}", self.hash, self.table.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::numbered;

    #[test]
    fn primes() {
        assert!(is_prime(65_537));
        assert!(is_prime(2));
        assert!(!is_prime(65_536));
        assert!(!is_prime(1));
        assert!(!is_prime(9));
    }

    #[test]
    fn table_is_full_and_balanced() {
        let m = Maglev::new(numbered("n", 10), HashFn::Xxh3, HashTag::None, 65_537).unwrap();
        let mut counts = [0usize; 10];
        for &e in m.table() {
            counts[e as usize] += 1;
        }
        // Round-robin filling gives every node ⌊M/N⌋ or ⌈M/N⌉ entries.
        assert!(counts.iter().all(|&c| c == 6553 || c == 6554), "{counts:?}");
    }

    #[test]
    fn rejects_bad_table_sizes() {
        let nodes = numbered("n", 3);
        assert!(Maglev::new(nodes.clone(), HashFn::Xxh3, HashTag::None, 65_536).is_err());
        assert!(Maglev::new(nodes, HashFn::Xxh3, HashTag::None, 2).is_err());
    }
}
