//! Range sharding over ordered keys, and a composite of range and hash.

use crate::jump::Jump;
use crate::node::{check_nodes, Node, Placement};
use crate::table::position;
use crate::{Error, HashFn, HashTag};

/// Range sharding: sorted split points cut the key space into contiguous
/// ranges, node `i` owning `[split[i-1], split[i])` in byte order.
///
/// Range scans over neighbouring keys hit one node, and a hot range can be
/// split in two ([`Range::split`]) moving only half of that range. The
/// price: sequential keys (timestamps, auto-increment ids) all land on the
/// last range, and balance depends on choosing split points from the
/// actual key distribution ([`Range::from_sample`]).
#[derive(Clone, Debug)]
pub struct Range {
    nodes: Vec<Node>,
    splits: Vec<Vec<u8>>,
}

impl Range {
    /// `splits` must be strictly increasing and one fewer than the nodes.
    ///
    /// # Errors
    /// An invalid node list or split points.
    pub fn new(nodes: Vec<Node>, splits: Vec<Vec<u8>>) -> Result<Range, Error> {
        check_nodes(&nodes)?;
        if splits.len() + 1 != nodes.len() {
            return Err(Error::InvalidParameter(format!(
                "range needs {} split points for {} nodes, got {}",
                nodes.len() - 1,
                nodes.len(),
                splits.len()
            )));
        }
        if splits.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidParameter(
                "range split points must be strictly increasing".to_owned(),
            ));
        }
        Ok(Range { nodes, splits })
    }

    /// Split points at the quantiles of a key sample, weighted by node
    /// weight: the way range-sharded stores size their initial ranges.
    ///
    /// # Errors
    /// An invalid node list, or a sample too small or too repetitive to
    /// give distinct split points.
    pub fn from_sample(nodes: Vec<Node>, sample: &[Vec<u8>]) -> Result<Range, Error> {
        check_nodes(&nodes)?;
        let mut sorted: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
        sorted.sort_unstable();
        let total: u64 = nodes.iter().map(|n| u64::from(n.weight())).sum();
        let mut acc = 0u64;
        let mut splits = Vec::with_capacity(nodes.len().saturating_sub(1));
        for n in &nodes[..nodes.len() - 1] {
            acc += u64::from(n.weight());
            let at = (acc as u128 * sorted.len() as u128 / total as u128) as usize;
            match sorted.get(at) {
                Some(k) => splits.push(k.to_vec()),
                None => {
                    return Err(Error::InvalidParameter(
                        "key sample too small for range split points".to_owned(),
                    ))
                }
            }
        }
        Range::new(nodes, splits)
    }

    /// The split points.
    pub fn splits(&self) -> &[Vec<u8>] {
        &self.splits
    }

    /// Splits the range of the node named `name` at `at`: keys from `at` up
    /// to the end of that range go to `node`, inserted right after it.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or `at` outside the range's interior.
    pub fn split(&self, name: &str, at: &[u8], node: Node) -> Result<Range, Error> {
        let i = position(&self.nodes, name)?;
        let lo_ok = i == 0 || self.splits[i - 1].as_slice() < at;
        let hi_ok = i == self.splits.len() || at < self.splits[i].as_slice();
        if !lo_ok || !hi_ok {
            return Err(Error::InvalidParameter(format!(
                "split point is outside the range of {name}"
            )));
        }
        let mut nodes = self.nodes.clone();
        nodes.insert(i + 1, node);
        let mut splits = self.splits.clone();
        splits.insert(i, at.to_vec());
        Range::new(nodes, splits)
    }

    /// Merges the range of the node named `name` into its left neighbour
    /// (the right one for the first range).
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or [`Error::NoNodes`] for the last node.
    pub fn merge(&self, name: &str) -> Result<Range, Error> {
        let i = position(&self.nodes, name)?;
        if self.nodes.len() == 1 {
            return Err(Error::NoNodes);
        }
        let mut nodes = self.nodes.clone();
        nodes.remove(i);
        let mut splits = self.splits.clone();
        // Dropping the split below range i hands it to the left neighbour;
        // for the first range, dropping the split above hands it right.
        splits.remove(i.saturating_sub(1).min(splits.len() - 1));
        Range::new(nodes, splits)
    }
}

impl Placement for Range {
    fn locate(&self, key: &[u8]) -> usize {
        self.splits.partition_point(|s| s.as_slice() <= key)
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!("range splits={}", self.splits.len())
    }
}

/// Composite sharding: a key's tenant (the bytes before the first
/// `separator`, or the whole key) picks a group of nodes by range, then jump
/// hash picks a node within the group.
///
/// Tenants stay isolated on their group (one tenant's growth or outage
/// touches only its group), groups can differ in size, and adding a node
/// to a group moves only that group's keys. The outline calls this
/// "complex" sharding.
#[derive(Clone, Debug)]
pub struct Composite {
    nodes: Vec<Node>,
    /// Lower tenant bound of groups 1.. (group 0 owns everything below).
    bounds: Vec<Vec<u8>>,
    /// Each group's jump placement and the global index of its first node.
    groups: Vec<(Jump, usize)>,
    separator: u8,
}

/// One group of a [`Composite`]: the first tenant it owns (ignored for the
/// first group) and its nodes.
#[derive(Clone, Debug)]
pub struct Group {
    /// Tenants from this one (inclusive) up to the next group's belong here.
    pub first_tenant: Vec<u8>,
    /// The group's nodes, unweighted (jump hash).
    pub nodes: Vec<Node>,
}

impl Composite {
    /// # Errors
    /// No groups, an empty group, unordered tenant bounds, duplicate node
    /// names, or weights (jump is unweighted).
    pub fn new(groups: Vec<Group>, hash: HashFn, separator: u8) -> Result<Composite, Error> {
        if groups.is_empty() {
            return Err(Error::NoNodes);
        }
        let bounds: Vec<Vec<u8>> = groups[1..].iter().map(|g| g.first_tenant.clone()).collect();
        if bounds.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidParameter(
                "composite tenant bounds must be strictly increasing".to_owned(),
            ));
        }
        let nodes: Vec<Node> = groups.iter().flat_map(|g| g.nodes.clone()).collect();
        check_nodes(&nodes)?;
        let mut built = Vec::with_capacity(groups.len());
        let mut first = 0;
        for g in groups {
            let count = g.nodes.len();
            built.push((Jump::new(g.nodes, hash, HashTag::None)?, first));
            first += count;
        }
        Ok(Composite {
            nodes,
            bounds,
            groups: built,
            separator,
        })
    }

    /// The groups, as given.
    pub fn groups(&self) -> Vec<Group> {
        self.groups
            .iter()
            .enumerate()
            .map(|(i, (jump, _))| Group {
                first_tenant: if i == 0 {
                    Vec::new()
                } else {
                    self.bounds[i - 1].clone()
                },
                nodes: jump.nodes().to_vec(),
            })
            .collect()
    }

    /// The tenant of `key`.
    pub fn tenant<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        match key.iter().position(|&b| b == self.separator) {
            Some(i) => &key[..i],
            None => key,
        }
    }
}

impl Placement for Composite {
    fn locate(&self, key: &[u8]) -> usize {
        let tenant = self.tenant(key);
        let g = self.bounds.partition_point(|b| b.as_slice() <= tenant);
        let (jump, first) = &self.groups[g];
        first + jump.locate(key)
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        let sizes: Vec<String> = self
            .groups
            .iter()
            .map(|(j, _)| j.nodes().len().to_string())
            .collect();
        format!(
            "composite range-by-tenant then jump; groups of {}",
            sizes.join("+")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::numbered;

    fn keys(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|k| k.as_bytes().to_vec()).collect()
    }

    #[test]
    fn ranges_are_half_open() {
        let r = Range::new(numbered("n", 3), keys(&["g", "p"])).unwrap();
        assert_eq!(r.locate(b"a"), 0);
        assert_eq!(r.locate(b"g"), 1);
        assert_eq!(r.locate(b"ozzz"), 1);
        assert_eq!(r.locate(b"p"), 2);
        assert_eq!(r.locate(b""), 0);
        assert!(Range::new(numbered("n", 3), keys(&["p", "g"])).is_err());
    }

    #[test]
    fn split_and_merge_move_one_range() {
        let r = Range::new(numbered("n", 2), keys(&["m"])).unwrap();
        let s = r.split("n0", b"f", Node::new("x")).unwrap();
        assert_eq!(s.node_for(b"a").name(), "n0");
        assert_eq!(s.node_for(b"g").name(), "x");
        assert_eq!(s.node_for(b"z").name(), "n1");
        let m = s.merge("x").unwrap();
        assert_eq!(m.node_for(b"g").name(), "n0");
        let first = s.merge("n0").unwrap();
        assert_eq!(first.node_for(b"a").name(), "x");
        assert!(r.split("n0", b"q", Node::new("y")).is_err());
    }

    #[test]
    fn composite_keeps_tenants_in_their_group() {
        let c = Composite::new(
            vec![
                Group {
                    first_tenant: vec![],
                    nodes: numbered("a", 2),
                },
                Group {
                    first_tenant: b"m".to_vec(),
                    nodes: numbered("b", 3),
                },
            ],
            HashFn::Xxh3,
            b':',
        )
        .unwrap();
        for i in 0..200 {
            let k = format!("acme:{i}");
            assert!(c.node_for(k.as_bytes()).name().starts_with('a'));
            let k = format!("zeta:{i}");
            assert!(c.node_for(k.as_bytes()).name().starts_with('b'));
        }
    }
}
