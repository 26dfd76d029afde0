//! Rendezvous (highest random weight) hashing, weighted.

use crate::hash::{mix64, xxh3};
use crate::node::{check_nodes, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// Rendezvous hashing (Thaler & Ravishankar): every node scores the key and
/// the highest score wins.
///
/// Adding a node moves only the keys it now wins; removing one moves only
/// its own keys, each to its second choice — the minimal movement, with no
/// ring and no table. Lookups cost O(N), fine for tens of nodes, slow for
/// thousands (see the crate's figures).
///
/// Weights use the logarithmic method (Schindelhauer & Schomaker, also
/// "weighted rendezvous" in Resch's notes): with `u` the key–node hash
/// mapped into (0, 1], the score is `-w / ln(u)`, which gives node i a
/// share of exactly `w_i / W`. With all weights equal the raw hash is
/// compared instead, which ranks the same and skips the logarithm.
#[derive(Clone, Debug)]
pub struct Rendezvous {
    nodes: Vec<Node>,
    /// XXH3 of each node's name: mixed with the key hash to score.
    seeds: Vec<u64>,
    weighted: bool,
    hash: HashFn,
    tag: HashTag,
}

impl Rendezvous {
    /// # Errors
    /// An invalid node list (see [`crate::Error`]).
    pub fn new(nodes: Vec<Node>, hash: HashFn, tag: HashTag) -> Result<Rendezvous, Error> {
        check_nodes(&nodes)?;
        let seeds = nodes.iter().map(|n| xxh3(n.name().as_bytes())).collect();
        let weighted = nodes.iter().any(|n| n.weight() != nodes[0].weight());
        Ok(Rendezvous {
            nodes,
            seeds,
            weighted,
            hash,
            tag,
        })
    }

    /// Nodes ranked by score for `key`, best first: the order a client
    /// tries them in when the first is down.
    pub fn ranking(&self, key: &[u8]) -> Vec<usize> {
        let k = self.hash.hash64(self.tag.apply(key));
        let mut idx: Vec<usize> = (0..self.nodes.len()).collect();
        if self.weighted {
            let scores: Vec<f64> = (0..self.nodes.len()).map(|i| self.score(k, i)).collect();
            idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        } else {
            idx.sort_by_key(|&i| (std::cmp::Reverse(mix64(k ^ self.seeds[i])), i));
        }
        idx
    }

    /// The weighted score of node `i`.
    fn score(&self, key_hash: u64, i: usize) -> f64 {
        let h = mix64(key_hash ^ self.seeds[i]);
        // u in (0, 1]: 53 random bits, never 0 so ln(u) is finite.
        let u = ((h >> 11) + 1) as f64 / (1u64 << 53) as f64;
        -f64::from(self.nodes[i].weight()) / u.ln()
    }
}

impl Placement for Rendezvous {
    fn locate(&self, key: &[u8]) -> usize {
        let k = self.hash.hash64(self.tag.apply(key));
        if !self.weighted {
            // Integer compare: exact, and the hot path for equal weights.
            let mut best = 0;
            let mut best_h = 0u64;
            for (i, &seed) in self.seeds.iter().enumerate() {
                let h = mix64(k ^ seed);
                if i == 0 || h > best_h {
                    best = i;
                    best_h = h;
                }
            }
            return best;
        }
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for i in 0..self.nodes.len() {
            let s = self.score(k, i);
            if s > best_score {
                best = i;
                best_score = s;
            }
        }
        best
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!("rendezvous hash={} weighted={}", self.hash, self.weighted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_set_shares() {
        let r = Rendezvous::new(
            vec![Node::weighted("a", 1), Node::weighted("b", 3)],
            HashFn::Xxh3,
            HashTag::None,
        )
        .unwrap();
        let keys = 40_000;
        let b = (0..keys)
            .filter(|i| r.locate(format!("k{i}").as_bytes()) == 1)
            .count();
        let share = b as f64 / keys as f64;
        // Expected 0.75; 40,000 keys give a standard error near 0.002.
        assert!((share - 0.75).abs() < 0.02, "share {share}");
    }

    #[test]
    fn ranking_starts_with_the_owner() {
        let r =
            Rendezvous::new(crate::node::numbered("n", 7), HashFn::Xxh3, HashTag::None).unwrap();
        for i in 0..100 {
            let key = format!("k{i}");
            assert_eq!(r.ranking(key.as_bytes())[0], r.locate(key.as_bytes()));
        }
    }
}
