//! Nodes, the common placement interface, and input checks shared by every
//! strategy.

use std::collections::HashSet;

use crate::Error;

/// Most nodes any placement accepts. Ten thousand shards is far beyond any
/// deployment this crate targets, and the bound keeps ketama's continuum
/// (160 points per node) and maglev's table within a few tens of MiB.
pub const NODES_MAX: usize = 10_000;

/// Largest weight of one node. twemproxy reads weights as `int`; the bound
/// keeps `weight × points` well inside `u32` and memory sane.
pub const WEIGHT_MAX: u32 = 10_000;

/// A shard, identified by a stable name rather than by its address.
///
/// Placement hashes the *name*: replacing a failed host by another under the
/// same name (a new IP, the same `cache-7`) keeps every key where it was,
/// while hashing an IP would reshuffle the keys of a host that only moved.
/// twemproxy does the same when a server line carries a name
/// (`10.0.0.7:6379:1 cache-7`); without one it falls back to `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    name: String,
    weight: u32,
}

impl Node {
    /// A node with weight 1.
    pub fn new(name: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            weight: 1,
        }
    }

    /// A node with the given relative weight (1..=[`WEIGHT_MAX`]); checked
    /// when a placement is built.
    pub fn weighted(name: impl Into<String>, weight: u32) -> Node {
        Node {
            name: name.into(),
            weight,
        }
    }

    /// The stable identity hashed by ring strategies.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The relative capacity of this node.
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

/// `count` nodes named `prefix0`, `prefix1`, … with weight 1: handy for
/// analysis and tests.
pub fn numbered(prefix: &str, count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| Node::new(format!("{prefix}{i}")))
        .collect()
}

/// Maps keys to nodes. Every strategy in this crate implements it.
///
/// Contract:
/// - `locate` returns an index into `nodes()`, always in range: a placement
///   cannot be built over zero nodes.
/// - `locate` is a pure function of the key and the placement's
///   construction inputs (nodes, hash, seed): same inputs, same node, on
///   every run and platform. The one exception is [`crate::Random`], whose
///   point is to be random (its sequence is still reproducible from its seed).
/// - `assign` is what a caller uses when the key becomes resident load on
///   the node (a stored key, an open request). It equals `locate` except for
///   load-aware strategies ([`crate::Bounded`]), which count it.
pub trait Placement: Send + Sync {
    /// The index in [`Placement::nodes`] of the node owning `key`.
    fn locate(&self, key: &[u8]) -> usize;

    /// The nodes, in the order indexes refer to.
    fn nodes(&self) -> &[Node];

    /// A one-line description: strategy, hash, parameters.
    fn describe(&self) -> String;

    /// Places `key` as resident load; see the trait docs.
    fn assign(&self, key: &[u8]) -> usize {
        self.locate(key)
    }

    /// The node owning `key`.
    fn node_for(&self, key: &[u8]) -> &Node {
        &self.nodes()[self.locate(key)]
    }
}

/// Checks the node list every strategy requires: non-empty, at most
/// [`NODES_MAX`], weights in 1..=[`WEIGHT_MAX`], names unique.
pub(crate) fn check_nodes(nodes: &[Node]) -> Result<(), Error> {
    if nodes.is_empty() {
        return Err(Error::NoNodes);
    }
    if nodes.len() > NODES_MAX {
        return Err(Error::TooManyNodes {
            count: nodes.len(),
            max: NODES_MAX,
        });
    }
    let mut seen = HashSet::with_capacity(nodes.len());
    for n in nodes {
        if n.weight == 0 || n.weight > WEIGHT_MAX {
            return Err(Error::InvalidWeight {
                name: n.name.clone(),
                weight: n.weight,
            });
        }
        if !seen.insert(n.name.as_str()) {
            return Err(Error::DuplicateName(n.name.clone()));
        }
    }
    Ok(())
}

/// Rejects weights other than 1 for strategies that cannot honour them.
pub(crate) fn check_unweighted(nodes: &[Node], algorithm: &'static str) -> Result<(), Error> {
    match nodes.iter().find(|n| n.weight != 1) {
        Some(n) => Err(Error::WeightsUnsupported {
            algorithm,
            name: n.name.clone(),
        }),
        None => Ok(()),
    }
}
