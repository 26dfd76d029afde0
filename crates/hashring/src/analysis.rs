//! Measuring a strategy: balance, movement when a node joins or leaves,
//! lookup cost. `shoal ring analyze` and `compare` print these figures.

use std::collections::HashMap;
use std::time::Instant;

use crate::hash::mix64;
use crate::node::{numbered, Node, Placement};
use crate::range::{Composite, Group, Range};
use crate::table::{Directory, SlotScheme, Slots};
use crate::{build, Algorithm, Config, Error};

/// Number of distinct tenants in [`sample_keys`]: enough for composite to
/// split tenants into groups, few enough that each has many keys.
pub const SAMPLE_TENANTS: u64 = 100;

/// Most lookups timed for `lookup_ns`: enough for a stable mean, bounded so
/// O(N) strategies at many nodes still finish.
pub const LOOKUP_SAMPLE_MAX: usize = 200_000;

/// `count` keys shaped `t042:000123456789` (tenant, then a 12-digit id),
/// drawn from a splitmix64 stream seeded with `seed`: the same seed gives
/// the same keys on every platform.
pub fn sample_keys(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(state)
    };
    (0..count)
        .map(|_| {
            let tenant = next() % SAMPLE_TENANTS;
            let id = next() % 1_000_000_000_000;
            format!("t{tenant:03}:{id:012}").into_bytes()
        })
        .collect()
}

/// A placement, the same after one node joins, and after one node leaves.
pub struct Scenario {
    /// N nodes.
    pub base: Box<dyn Placement>,
    /// N + 1 nodes.
    pub added: Box<dyn Placement>,
    /// N − 1 nodes.
    pub removed: Box<dyn Placement>,
    /// The name of the node that joins.
    pub added_node: String,
    /// The name of the node that leaves.
    pub removed_node: String,
}

/// Builds the add/remove scenario for `config` over `nodes` nodes named
/// `node0`…: the node that joins is `node{N}`, the one that leaves is the
/// last, `node{N-1}` (the only one jump can drop cleanly). Table and range
/// strategies change the way their operators would: slots and buckets are
/// rebalanced onto the new node, the largest range is split at its median,
/// the newcomer joins the last composite group. `keys` sizes range splits
/// and composite tenant bounds.
///
/// # Errors
/// Fewer than 2 nodes, or what the strategy rejects.
pub fn scenario(config: &Config, nodes: usize, keys: &[Vec<u8>]) -> Result<Scenario, Error> {
    if nodes < 2 {
        return Err(Error::InvalidParameter(
            "analysis needs at least 2 nodes (one is removed)".to_owned(),
        ));
    }
    let all = numbered("node", nodes + 1);
    let base_nodes = all[..nodes].to_vec();
    let new_node = all[nodes].clone();
    let gone = all[nodes - 1].name().to_owned();
    let (base, added, removed): (Box<dyn Placement>, Box<dyn Placement>, Box<dyn Placement>) =
        match config.algorithm {
            Algorithm::Range => {
                let base = Range::from_sample(base_nodes, keys)?;
                let added = split_largest(&base, keys, new_node.clone())?;
                let removed = base.merge(&gone)?;
                (Box::new(base), Box::new(added), Box::new(removed))
            }
            Algorithm::Directory => {
                let base = Directory::new(
                    base_nodes,
                    config.directory_buckets,
                    config.hash_fn(),
                    config.tag,
                )?;
                let added = base.with_added(new_node.clone())?;
                let removed = base.without(&gone)?;
                (Box::new(base), Box::new(added), Box::new(removed))
            }
            Algorithm::Slots | Algorithm::Codis => {
                let scheme = if config.algorithm == Algorithm::Slots {
                    SlotScheme::RedisCluster
                } else {
                    SlotScheme::Codis
                };
                let base = Slots::even(base_nodes, scheme)?;
                let added = base.with_added(new_node.clone())?;
                let removed = base.without(&gone)?;
                (Box::new(base), Box::new(added), Box::new(removed))
            }
            Algorithm::Composite => {
                let groups = composite_groups(base_nodes, keys, config.tenant_separator);
                let mut more = groups.clone();
                if let Some(last) = more.last_mut() {
                    last.nodes.push(new_node.clone());
                }
                let mut fewer = groups.clone();
                if let Some(last) = fewer.last_mut() {
                    last.nodes.pop();
                }
                // A group left empty disappears, its tenants going to the
                // previous group.
                fewer.retain(|g| !g.nodes.is_empty());
                let hash = config.hash_fn();
                let sep = config.tenant_separator;
                (
                    Box::new(Composite::new(groups, hash, sep)?),
                    Box::new(Composite::new(more, hash, sep)?),
                    Box::new(Composite::new(fewer, hash, sep)?),
                )
            }
            _ => (
                build(config, base_nodes.clone())?,
                build(config, all.clone())?,
                build(config, base_nodes[..nodes - 1].to_vec())?,
            ),
        };
    Ok(Scenario {
        base,
        added,
        removed,
        added_node: new_node.name().to_owned(),
        removed_node: gone,
    })
}

/// The range holding the most sample keys, split at its median key.
fn split_largest(base: &Range, keys: &[Vec<u8>], node: Node) -> Result<Range, Error> {
    let mut per: Vec<Vec<&[u8]>> = vec![Vec::new(); base.nodes().len()];
    for k in keys {
        per[base.locate(k)].push(k);
    }
    let (i, members) = per
        .iter_mut()
        .enumerate()
        .max_by_key(|(_, m)| m.len())
        .ok_or(Error::NoNodes)?;
    members.sort_unstable();
    let at = members
        .get(members.len() / 2)
        .ok_or_else(|| Error::InvalidParameter("no keys to split a range by".to_owned()))?
        .to_vec();
    let name = base.nodes()[i].name().to_owned();
    base.split(&name, &at, node)
}

/// Groups of up to four nodes; each group's tenant range sized by its node
/// count from the sample's tenants, so groups carry load in proportion.
fn composite_groups(nodes: Vec<Node>, keys: &[Vec<u8>], sep: u8) -> Vec<Group> {
    const GROUP_NODES_MAX: usize = 4;
    let count = nodes.len().div_ceil(GROUP_NODES_MAX);
    let mut tenants: Vec<&[u8]> = keys
        .iter()
        .map(|k| match k.iter().position(|&b| b == sep) {
            Some(i) => &k[..i],
            None => k.as_slice(),
        })
        .collect();
    tenants.sort_unstable();
    let total = nodes.len();
    let mut rest = nodes.into_iter();
    let mut groups: Vec<Group> = Vec::with_capacity(count);
    let mut before = 0usize;
    for g in 0..count {
        let size = total / count + usize::from(g < total % count);
        let first_tenant = if g == 0 {
            Vec::new()
        } else {
            let at = before * tenants.len() / total;
            tenants.get(at).map(|t| t.to_vec()).unwrap_or_default()
        };
        let members: Vec<Node> = rest.by_ref().take(size).collect();
        // A bound must exceed the previous group's (group 0's is empty);
        // with a tiny sample it may not, and the group joins the previous.
        match groups.last_mut() {
            Some(prev) if first_tenant <= prev.first_tenant => prev.nodes.extend(members),
            _ => groups.push(Group {
                first_tenant,
                nodes: members,
            }),
        }
        before += size;
    }
    groups
}

/// The figures for one strategy.
#[derive(Clone, Debug)]
pub struct Report {
    /// The base placement's description.
    pub describe: String,
    /// Nodes in the base placement.
    pub nodes: usize,
    /// Keys placed.
    pub keys: usize,
    /// Keys per node in the base placement, by node name.
    pub counts: Vec<(String, u64)>,
    /// The fullest node's keys over the mean.
    pub max_over_mean: f64,
    /// Standard deviation of keys per node, in percent of the mean.
    pub stddev_pct: f64,
    /// Fraction of keys whose node changes when one node joins.
    pub moved_on_add: f64,
    /// Fraction of keys whose node changes when one node leaves.
    pub moved_on_remove: f64,
    /// The least movement possible on add: 1/(N+1).
    pub ideal_on_add: f64,
    /// The least movement possible on remove: 1/N.
    pub ideal_on_remove: f64,
    /// Fraction of keys that moved on add to a node other than the new one.
    pub moved_elsewhere_on_add: f64,
    /// Fraction of keys that moved on remove although their node stayed.
    pub moved_elsewhere_on_remove: f64,
    /// Mean `locate` time per key on the base placement, in nanoseconds.
    pub lookup_ns: f64,
}

/// Places every key in all three placements of `s` (with
/// [`Placement::assign`], so load-aware strategies see the keys as load)
/// and measures.
pub fn analyze(s: &Scenario, keys: &[Vec<u8>]) -> Report {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut id_of = |p: &dyn Placement| -> Vec<u32> {
        p.nodes()
            .iter()
            .map(|n| {
                let next = ids.len() as u32;
                *ids.entry(n.name().to_owned()).or_insert(next)
            })
            .collect()
    };
    let base_ids = id_of(s.base.as_ref());
    let added_ids = id_of(s.added.as_ref());
    let removed_ids = id_of(s.removed.as_ref());
    let new_id = ids.get(&s.added_node).copied();
    let gone_id = ids.get(&s.removed_node).copied();

    let n = s.base.nodes().len();
    let mut counts = vec![0u64; n];
    let (mut moved_add, mut elsewhere_add) = (0u64, 0u64);
    let (mut moved_remove, mut elsewhere_remove) = (0u64, 0u64);
    for k in keys {
        let b = s.base.assign(k);
        counts[b] += 1;
        let before = base_ids[b];
        let after_add = added_ids[s.added.assign(k)];
        if after_add != before {
            moved_add += 1;
            if Some(after_add) != new_id {
                elsewhere_add += 1;
            }
        }
        let after_remove = removed_ids[s.removed.assign(k)];
        if after_remove != before {
            moved_remove += 1;
            if Some(before) != gone_id {
                elsewhere_remove += 1;
            }
        }
    }

    let total = keys.len().max(1) as f64;
    let mean = keys.len() as f64 / n as f64;
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let var = counts
        .iter()
        .map(|&c| (c as f64 - mean).powi(2))
        .sum::<f64>()
        / n as f64;

    let sample = &keys[..keys.len().min(LOOKUP_SAMPLE_MAX)];
    let lookup_ns = if sample.is_empty() {
        0.0
    } else {
        let start = Instant::now();
        let mut sink = 0usize;
        for k in sample {
            sink = sink.wrapping_add(s.base.locate(std::hint::black_box(k)));
        }
        std::hint::black_box(sink);
        start.elapsed().as_nanos() as f64 / sample.len() as f64
    };

    Report {
        describe: s.base.describe(),
        nodes: n,
        keys: keys.len(),
        counts: s
            .base
            .nodes()
            .iter()
            .zip(&counts)
            .map(|(node, &c)| (node.name().to_owned(), c))
            .collect(),
        max_over_mean: if mean > 0.0 { max / mean } else { 0.0 },
        stddev_pct: if mean > 0.0 {
            100.0 * var.sqrt() / mean
        } else {
            0.0
        },
        moved_on_add: moved_add as f64 / total,
        moved_on_remove: moved_remove as f64 / total,
        ideal_on_add: 1.0 / (n as f64 + 1.0),
        ideal_on_remove: 1.0 / n as f64,
        moved_elsewhere_on_add: elsewhere_add as f64 / total,
        moved_elsewhere_on_remove: elsewhere_remove as f64 / total,
        lookup_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_keys_are_seeded() {
        assert_eq!(sample_keys(5, 1), sample_keys(5, 1));
        assert_ne!(sample_keys(5, 1), sample_keys(5, 2));
        assert_eq!(sample_keys(1, 1)[0].len(), "t000:000000000000".len());
    }

    #[test]
    fn every_algorithm_has_a_scenario() {
        let keys = sample_keys(5_000, 11);
        for a in Algorithm::ALL {
            let s = scenario(&Config::new(a), 6, &keys).unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(s.base.nodes().len(), 6, "{a}");
            assert_eq!(s.added.nodes().len(), 7, "{a}");
            assert_eq!(s.removed.nodes().len(), 5, "{a}");
            let r = analyze(&s, &keys);
            assert_eq!(r.counts.iter().map(|c| c.1).sum::<u64>(), 5_000, "{a}");
        }
        assert!(scenario(&Config::new(Algorithm::Jump), 1, &keys).is_err());
    }

    #[test]
    fn modula_moves_most_keys_and_ketama_few() {
        let seed = 5;
        println!("seed {seed}");
        let keys = sample_keys(20_000, seed);
        let m = analyze(
            &scenario(&Config::new(Algorithm::Modula), 10, &keys).unwrap(),
            &keys,
        );
        let k = analyze(
            &scenario(&Config::new(Algorithm::Ketama), 10, &keys).unwrap(),
            &keys,
        );
        assert!(m.moved_on_add > 0.85, "modula {}", m.moved_on_add);
        assert!(k.moved_on_add < 0.15, "ketama {}", k.moved_on_add);
        assert_eq!(k.moved_elsewhere_on_add, 0.0);
        assert_eq!(k.moved_elsewhere_on_remove, 0.0);
    }
}
