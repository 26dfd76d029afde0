//! Sharding and consistent hashing: every strategy the outline names, a
//! ketama that places keys exactly as twemproxy (nutcracker 0.5) does, and
//! the analysis behind `shoal ring`.
//!
//! Every strategy implements [`Placement`]: build it from a list of named,
//! weighted [`Node`]s, then map a key to a node index.
//!
//! | type | strategy | moves on add/remove | lookup |
//! |---|---|---|---|
//! | [`Modula`] | hash mod N (twemproxy `modula`) | ~N/(N+1) of all keys | O(1) |
//! | [`Random`] | random node (twemproxy `random`) | n/a | O(1) |
//! | [`Ketama`] | MD5 ring, 160 points/weight (twemproxy `ketama`) | ~1/N, only to/from the node | O(log points) |
//! | [`Jump`] | Lamping & Veach jump hash | exactly 1/(N+1); only the last node leaves cleanly | O(log N) |
//! | [`Maglev`] | Maglev lookup table (prime size) | ~1/N plus a little churn | O(1) |
//! | [`Rendezvous`] | highest random weight, weighted | minimal | O(N) |
//! | [`Bounded`] | ketama with bounded loads (ε) | load-dependent | O(log points) |
//! | [`Range`] | sorted split points over ordered keys | one range split or merged | O(log N) |
//! | [`Directory`] | explicit bucket → node table, key pins | only reassigned buckets | O(1) |
//! | [`Slots`] | Redis Cluster CRC16 mod 16384, or Codis CRC32 mod 1024 | only moved slots | O(1) |
//! | [`Composite`] | range by tenant, then jump within the group | only the group's keys | O(log G) |
//!
//! Hash functions ([`HashFn`]) are twemproxy's twelve, bit-exact (including
//! its sign-extension of bytes ≥ 0x80 on x86-64), plus MurmurHash3 and XXH3,
//! the default where no compatibility is needed. [`HashTag`] implements
//! twemproxy's two-character `hash_tag` and Redis Cluster's `{…}` rule.
//!
//! # Example
//!
//! ```
//! use shoal_hashring::{HashFn, HashTag, Ketama, Node, Placement};
//!
//! let nodes = vec![
//!     Node::new("cache-a"),
//!     Node::new("cache-b"),
//!     Node::weighted("cache-c", 2),
//! ];
//! let ring = Ketama::new(nodes, HashFn::Fnv1a64, HashTag::None)?;
//! let owner = ring.node_for(b"user:42");
//! println!("user:42 lives on {}", owner.name());
//! // Placement is a pure function of the nodes and the key.
//! assert_eq!(ring.locate(b"user:42"), ring.locate(b"user:42"));
//! # Ok::<(), shoal_hashring::Error>(())
//! ```
//!
//! # Answers to the outline's questions
//!
//! *What does consistent hashing fix in modular sharding?* Rebalancing.
//! `shoal ring analyze --algo modula --nodes 10` shows ~91% of keys moving
//! when an 11th node joins (N/(N+1)); ketama moves ~9% (1/(N+1)), and only
//! onto the new node.
//!
//! *What do virtual nodes do?* They even out the arcs: with 4 points per
//! node, ketama's fullest node holds 2.3× the mean; with twemproxy's 160,
//! 1.105× (`--vnodes 4` vs the default).
//!
//! *What should a server's key be?* A stable name ([`Node`]), not an
//! address: a host replaced under the same name keeps its keys.
//!
//! *Which hash?* For twemproxy compatibility, the pool's (default
//! `fnv1a_64`); otherwise XXH3. Jump hash balances best and needs no memory
//! but cannot drop a middle node cleanly ([`Jump::without`]).
//!
//! # Quality targets, as measured
//!
//! `shoal ring analyze --algo A --nodes 10 --keys 1000000 --seed 1`:
//!
//! | target | measured |
//! |---|---|
//! | ketama, 160 points, 10 nodes: max/mean ≤ 1.15 | 1.105 |
//! | ketama: moved on add ≤ 1.1 × ideal (9.09%), only onto the new node | 8.40%, 0 between old nodes |
//! | jump, 1,000,000 keys: max/mean ≤ 1.01 | 1.009 |
//! | jump: moved on add = ideal ± 1% | 9.115% vs 9.091% |
//! | bounded, ε = 0.25: max/mean ≤ 1.25 | 1.106 (160 points), 1.250 (4 points, where plain ketama gives 2.316) |
//! | modula: moves N/(N+1) | 90.94% (10/11 = 90.91%) |
//!
//! Lookup times (criterion, `cargo bench -p shoal-hashring --bench lookup`)
//! are in `docs/sharding.md`, with all the figures `shoal ring compare`
//! prints and the commands to reproduce them.

mod analysis;
mod bounded;
mod hash;
mod jump;
mod ketama;
mod maglev;
mod modula;
mod node;
mod range;
mod rendezvous;
mod table;
mod tag;
pub mod twemproxy;

use std::fmt;
use std::str::FromStr;

pub use analysis::{analyze, sample_keys, scenario, Report, Scenario};
pub use bounded::{Bounded, BOUNDED_EPSILON_DEFAULT};
pub use hash::{crc16, crc32, murmur3_128, murmur3_32, xxh3, HashFn};
pub use jump::{jump_bucket, Jump};
pub use ketama::{Ketama, KETAMA_CONTINUUM_POINTS_MAX, KETAMA_POINTS_DEFAULT, KETAMA_POINTS_MAX};
pub use maglev::{Maglev, MAGLEV_TABLE_SIZE_DEFAULT, MAGLEV_TABLE_SIZE_MAX};
pub use modula::{Modula, Random, MODULA_TABLE_MAX};
pub use node::{numbered, Node, Placement, NODES_MAX, WEIGHT_MAX};
pub use range::{Composite, Group, Range};
pub use rendezvous::Rendezvous;
pub use table::{
    codis_slot, redis_slot, Directory, SlotScheme, Slots, CODIS_SLOTS, DIRECTORY_BUCKETS_MAX,
    REDIS_SLOTS,
};
pub use tag::HashTag;

/// Why a placement could not be built or a name not parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A placement needs at least one node.
    #[error("no nodes: a placement needs at least one node")]
    NoNodes,
    /// More nodes than the strategy or [`NODES_MAX`] allows.
    #[error("too many nodes: {count}, at most {max}")]
    TooManyNodes {
        /// Nodes given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A weight of 0 or above [`WEIGHT_MAX`].
    #[error("node {name:?} has weight {weight}; weights must be in 1..={max}", max = WEIGHT_MAX)]
    InvalidWeight {
        /// The node.
        name: String,
        /// Its weight.
        weight: u32,
    },
    /// Two nodes share a name.
    #[error("duplicate node name {0:?}")]
    DuplicateName(String),
    /// No node has this name.
    #[error("no node named {0:?}")]
    UnknownNode(String),
    /// The strategy cannot honour weights.
    #[error("{algorithm} does not support weights (node {name:?} has weight ≠ 1)")]
    WeightsUnsupported {
        /// The strategy.
        algorithm: &'static str,
        /// The first weighted node.
        name: String,
    },
    /// An out-of-range or inconsistent parameter.
    #[error("{0}")]
    InvalidParameter(String),
    /// Not a strategy name.
    #[error("unknown algorithm {0:?} (expected one of: ketama, modula, random, jump, maglev, rendezvous, bounded, range, directory, slots, codis, composite)")]
    UnknownAlgorithm(String),
    /// Not a hash function name.
    #[error("unknown hash {0:?} (expected one of: one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins, murmur3_32, murmur3_128, xxh3)")]
    UnknownHash(String),
    /// A hash tag that is not two characters.
    #[error("invalid hash tag {0:?}: twemproxy's hash_tag is exactly two characters")]
    InvalidHashTag(String),
    /// A malformed `host:port:weight [name]` line.
    #[error("invalid server {spec:?}: {reason}")]
    InvalidServer {
        /// The line.
        spec: String,
        /// What is wrong.
        reason: String,
    },
}

/// A strategy, by its command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// [`Ketama`]
    Ketama,
    /// [`Modula`] (`modula`, alias `modular`)
    Modula,
    /// [`Random`]
    Random,
    /// [`Jump`]
    Jump,
    /// [`Maglev`]
    Maglev,
    /// [`Rendezvous`]
    Rendezvous,
    /// [`Bounded`]
    Bounded,
    /// [`Range`]
    Range,
    /// [`Directory`]
    Directory,
    /// [`Slots`] with [`SlotScheme::RedisCluster`]
    Slots,
    /// [`Slots`] with [`SlotScheme::Codis`]
    Codis,
    /// [`Composite`]
    Composite,
}

impl Algorithm {
    /// Every strategy, in the order `shoal ring compare` lists them.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Modula,
        Algorithm::Random,
        Algorithm::Ketama,
        Algorithm::Jump,
        Algorithm::Maglev,
        Algorithm::Rendezvous,
        Algorithm::Bounded,
        Algorithm::Range,
        Algorithm::Directory,
        Algorithm::Slots,
        Algorithm::Codis,
        Algorithm::Composite,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ketama => "ketama",
            Algorithm::Modula => "modula",
            Algorithm::Random => "random",
            Algorithm::Jump => "jump",
            Algorithm::Maglev => "maglev",
            Algorithm::Rendezvous => "rendezvous",
            Algorithm::Bounded => "bounded",
            Algorithm::Range => "range",
            Algorithm::Directory => "directory",
            Algorithm::Slots => "slots",
            Algorithm::Codis => "codis",
            Algorithm::Composite => "composite",
        }
    }

    /// The hash used when none is given: twemproxy's default `fnv1a_64`
    /// for its own distributions, XXH3 otherwise. Slots and codis fix their
    /// own (CRC16, CRC32) and ignore it.
    pub fn default_hash(self) -> HashFn {
        match self {
            Algorithm::Ketama | Algorithm::Modula => HashFn::Fnv1a64,
            _ => HashFn::Xxh3,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "modular" {
            return Ok(Algorithm::Modula);
        }
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| Error::UnknownAlgorithm(s.to_owned()))
    }
}

/// Everything [`build`] needs besides the nodes. `Config::new` gives the
/// defaults each strategy documents.
#[derive(Clone, Debug)]
pub struct Config {
    /// The strategy.
    pub algorithm: Algorithm,
    /// The key hash; `None` means [`Algorithm::default_hash`].
    pub hash: Option<HashFn>,
    /// Which part of the key is hashed (not used by range, slots, codis,
    /// composite, which have their own rules).
    pub tag: HashTag,
    /// Ketama / bounded points per unit of weight.
    pub points_per_weight: u32,
    /// Maglev table size (a prime).
    pub maglev_table_size: u64,
    /// Bounded-load ε.
    pub epsilon: f64,
    /// Directory buckets.
    pub directory_buckets: usize,
    /// Range split points (one fewer than nodes) or, for composite, tenant
    /// bounds between groups (one fewer than groups).
    pub splits: Vec<Vec<u8>>,
    /// Composite: the byte ending a key's tenant.
    pub tenant_separator: u8,
    /// Seed for [`Random`].
    pub seed: u64,
}

/// Directory buckets when none are given: enough for even shares across a
/// few dozen nodes, small enough to ship to every router.
pub const DIRECTORY_BUCKETS_DEFAULT: usize = 4_096;

impl Config {
    /// Defaults for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Config {
        Config {
            algorithm,
            hash: None,
            tag: HashTag::None,
            points_per_weight: KETAMA_POINTS_DEFAULT,
            maglev_table_size: MAGLEV_TABLE_SIZE_DEFAULT,
            epsilon: BOUNDED_EPSILON_DEFAULT,
            directory_buckets: DIRECTORY_BUCKETS_DEFAULT,
            splits: Vec::new(),
            tenant_separator: b':',
            seed: 0,
        }
    }

    /// The hash in effect.
    pub fn hash_fn(&self) -> HashFn {
        self.hash.unwrap_or_else(|| self.algorithm.default_hash())
    }
}

/// Builds the configured strategy over `nodes`.
///
/// Range needs `config.splits` (one fewer than nodes). Composite splits the
/// nodes, in order, into `config.splits.len() + 1` groups of nearly equal
/// size, `config.splits` being the first tenant of each group after the
/// first.
///
/// # Errors
/// Whatever the strategy's constructor rejects.
pub fn build(config: &Config, nodes: Vec<Node>) -> Result<Box<dyn Placement>, Error> {
    let hash = config.hash_fn();
    let tag = config.tag;
    Ok(match config.algorithm {
        Algorithm::Ketama => Box::new(Ketama::with_points(
            nodes,
            hash,
            tag,
            config.points_per_weight,
        )?),
        Algorithm::Modula => Box::new(Modula::new(nodes, hash, tag)?),
        Algorithm::Random => Box::new(Random::new(nodes, config.seed)?),
        Algorithm::Jump => Box::new(Jump::new(nodes, hash, tag)?),
        Algorithm::Maglev => Box::new(Maglev::new(nodes, hash, tag, config.maglev_table_size)?),
        Algorithm::Rendezvous => Box::new(Rendezvous::new(nodes, hash, tag)?),
        Algorithm::Bounded => Box::new(Bounded::new(
            nodes,
            hash,
            tag,
            config.points_per_weight,
            config.epsilon,
        )?),
        Algorithm::Range => Box::new(Range::new(nodes, config.splits.clone())?),
        Algorithm::Directory => {
            Box::new(Directory::new(nodes, config.directory_buckets, hash, tag)?)
        }
        Algorithm::Slots => Box::new(Slots::even(nodes, SlotScheme::RedisCluster)?),
        Algorithm::Codis => Box::new(Slots::even(nodes, SlotScheme::Codis)?),
        Algorithm::Composite => {
            let groups = split_groups(nodes, &config.splits)?;
            Box::new(Composite::new(groups, hash, config.tenant_separator)?)
        }
    })
}

/// Splits `nodes` in order into `bounds.len() + 1` groups of nearly equal size.
pub(crate) fn split_groups(nodes: Vec<Node>, bounds: &[Vec<u8>]) -> Result<Vec<Group>, Error> {
    let count = bounds.len() + 1;
    if nodes.len() < count {
        return Err(Error::InvalidParameter(format!(
            "composite needs at least one node per group: {} nodes for {count} groups",
            nodes.len()
        )));
    }
    let mut groups = Vec::with_capacity(count);
    let mut rest = nodes.into_iter();
    let total = rest.len();
    for g in 0..count {
        let size = total / count + usize::from(g < total % count);
        groups.push(Group {
            first_tenant: if g == 0 {
                Vec::new()
            } else {
                bounds[g - 1].clone()
            },
            nodes: rest.by_ref().take(size).collect(),
        });
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>(), Ok(a));
        }
        assert_eq!("modular".parse::<Algorithm>(), Ok(Algorithm::Modula));
        assert!("chord".parse::<Algorithm>().is_err());
    }

    #[test]
    fn build_rejects_empty_and_duplicate_nodes() {
        for a in Algorithm::ALL {
            let config = Config::new(a);
            assert!(build(&config, vec![]).is_err(), "{a}");
            assert!(
                build(&config, vec![Node::new("x"), Node::new("x")]).is_err(),
                "{a}"
            );
        }
    }

    #[test]
    fn groups_split_evenly() {
        let g = split_groups(numbered("n", 7), &[b"h".to_vec(), b"p".to_vec()]).unwrap();
        let sizes: Vec<usize> = g.iter().map(|g| g.nodes.len()).collect();
        assert_eq!(sizes, vec![3, 2, 2]);
        assert!(split_groups(numbered("n", 1), &[b"h".to_vec()]).is_err());
    }
}
