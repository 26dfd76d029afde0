//! Table-driven placements: Redis Cluster and Codis slots, and a directory
//! (an explicit bucket → node table with per-key pins).

use std::collections::HashMap;

use crate::hash::{crc16, crc32};
use crate::node::{check_nodes, Node, Placement};
use crate::{Error, HashFn, HashTag};

/// Redis Cluster's slot count.
pub const REDIS_SLOTS: usize = 16_384;
/// Codis' slot count.
pub const CODIS_SLOTS: usize = 1_024;
/// Most buckets a [`Directory`] table holds (4 bytes each: 64 MiB).
pub const DIRECTORY_BUCKETS_MAX: usize = 1 << 24;

/// The Redis Cluster slot of a key: CRC16-XMODEM of its hash tag (or of
/// the whole key) mod 16384.
pub fn redis_slot(key: &[u8]) -> u16 {
    crc16(HashTag::RedisCluster.apply(key)) % REDIS_SLOTS as u16
}

/// The Codis slot of a key: CRC32 (IEEE) of its hash tag (or of the whole
/// key) mod 1024.
pub fn codis_slot(key: &[u8]) -> u16 {
    (crc32(HashTag::Codis.apply(key)) % CODIS_SLOTS as u32) as u16
}

/// Which slot function a [`Slots`] table uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotScheme {
    /// [`redis_slot`], 16384 slots.
    RedisCluster,
    /// [`codis_slot`], 1024 slots.
    Codis,
}

impl SlotScheme {
    /// Number of slots in the scheme.
    pub fn slots(self) -> usize {
        match self {
            SlotScheme::RedisCluster => REDIS_SLOTS,
            SlotScheme::Codis => CODIS_SLOTS,
        }
    }

    /// The slot of `key`.
    pub fn slot(self, key: &[u8]) -> u16 {
        match self {
            SlotScheme::RedisCluster => redis_slot(key),
            SlotScheme::Codis => codis_slot(key),
        }
    }
}

/// Contiguous slot ranges in node order, sized by weight, the way
/// `redis-cli --cluster create` lays out masters.
pub(crate) fn even_owners(nodes: &[Node], slots: usize) -> Vec<u32> {
    let total: u64 = nodes.iter().map(|n| u64::from(n.weight())).sum();
    let mut owners = Vec::with_capacity(slots);
    let mut acc = 0u64;
    for (i, n) in nodes.iter().enumerate() {
        acc += u64::from(n.weight());
        let end = ((acc as u128 * slots as u128 + total as u128 / 2) / total as u128) as usize;
        let end = if i + 1 == nodes.len() { slots } else { end };
        while owners.len() < end {
            owners.push(i as u32);
        }
    }
    owners
}

/// The table after a new node (index `old_count`) joins: every node hands
/// over the last of its slots beyond the new even share, as a resharding
/// with `redis-cli --cluster rebalance` would. Only moved slots change owner.
pub(crate) fn owners_with_added(owners: &[u32], old_count: usize) -> Vec<u32> {
    let base = owners.len() / (old_count + 1);
    let extra = owners.len() % (old_count + 1);
    let mut surplus = vec![0usize; old_count];
    for &o in owners {
        surplus[o as usize] += 1;
    }
    // Old node i keeps base (+1 for the first `extra`); the rest is surplus.
    for (i, s) in surplus.iter_mut().enumerate() {
        *s = s.saturating_sub(base + usize::from(i < extra));
    }
    let mut out = owners.to_vec();
    // Take from the end of each owner's slots, so its range stays contiguous.
    for slot in out.iter_mut().rev() {
        let o = *slot as usize;
        if surplus[o] > 0 {
            surplus[o] -= 1;
            *slot = old_count as u32;
        }
    }
    out
}

/// The table after node `removed` leaves: its slots are dealt round-robin to
/// the others, and indexes above it shift down by one.
pub(crate) fn owners_without(owners: &[u32], removed: u32, old_count: usize) -> Vec<u32> {
    let renumber = |o: u32| if o > removed { o - 1 } else { o };
    let others: Vec<u32> = (0..old_count as u32).filter(|&o| o != removed).collect();
    if others.is_empty() {
        // Nothing to hand the slots to; the caller rejects an empty node list.
        return owners.to_vec();
    }
    let mut next = 0usize;
    owners
        .iter()
        .map(|&o| {
            if o == removed {
                let heir = others[next % others.len()];
                next += 1;
                renumber(heir)
            } else {
                renumber(o)
            }
        })
        .collect()
}

fn check_owners(owners: &[u32], nodes: usize, slots: usize) -> Result<(), Error> {
    if owners.len() != slots {
        return Err(Error::InvalidParameter(format!(
            "slot table has {} entries, expected {slots}",
            owners.len()
        )));
    }
    if let Some(&o) = owners.iter().find(|&&o| o as usize >= nodes) {
        return Err(Error::InvalidParameter(format!(
            "slot table names node {o} but there are {nodes} nodes"
        )));
    }
    Ok(())
}

/// Slot sharding: a key's slot is fixed by its bytes; a table says which
/// node serves each slot. Moving data means moving whole slots, and only
/// the moved slots' keys move.
#[derive(Clone, Debug)]
pub struct Slots {
    nodes: Vec<Node>,
    owners: Vec<u32>,
    scheme: SlotScheme,
}

impl Slots {
    /// Contiguous ranges sized by weight (see `redis-cli --cluster create`).
    ///
    /// # Errors
    /// An invalid node list, or more nodes than slots.
    pub fn even(nodes: Vec<Node>, scheme: SlotScheme) -> Result<Slots, Error> {
        check_nodes(&nodes)?;
        if nodes.len() > scheme.slots() {
            return Err(Error::TooManyNodes {
                count: nodes.len(),
                max: scheme.slots(),
            });
        }
        let owners = even_owners(&nodes, scheme.slots());
        Ok(Slots {
            nodes,
            owners,
            scheme,
        })
    }

    /// An explicit slot → node index table, as `CLUSTER SLOTS` reports it.
    ///
    /// # Errors
    /// An invalid node list, a table of the wrong length or naming a node
    /// that does not exist.
    pub fn from_owners(
        nodes: Vec<Node>,
        scheme: SlotScheme,
        owners: Vec<u32>,
    ) -> Result<Slots, Error> {
        check_nodes(&nodes)?;
        check_owners(&owners, nodes.len(), scheme.slots())?;
        Ok(Slots {
            nodes,
            owners,
            scheme,
        })
    }

    /// The slot → node index table.
    pub fn owners(&self) -> &[u32] {
        &self.owners
    }

    /// The table after `node` joins and takes an even share of slots.
    ///
    /// # Errors
    /// As [`Slots::from_owners`] (e.g. a duplicate name).
    pub fn with_added(&self, node: Node) -> Result<Slots, Error> {
        let owners = owners_with_added(&self.owners, self.nodes.len());
        let mut nodes = self.nodes.clone();
        nodes.push(node);
        Slots::from_owners(nodes, self.scheme, owners)
    }

    /// The table after the node named `name` leaves; its slots are dealt to
    /// the others.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or [`Error::NoNodes`] for the last node.
    pub fn without(&self, name: &str) -> Result<Slots, Error> {
        let i = position(&self.nodes, name)?;
        let owners = owners_without(&self.owners, i as u32, self.nodes.len());
        let mut nodes = self.nodes.clone();
        nodes.remove(i);
        Slots::from_owners(nodes, self.scheme, owners)
    }
}

pub(crate) fn position(nodes: &[Node], name: &str) -> Result<usize, Error> {
    nodes
        .iter()
        .position(|n| n.name() == name)
        .ok_or_else(|| Error::UnknownNode(name.to_owned()))
}

impl Placement for Slots {
    fn locate(&self, key: &[u8]) -> usize {
        self.owners[usize::from(self.scheme.slot(key))] as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        match self.scheme {
            SlotScheme::RedisCluster => "slots crc16 mod 16384 (Redis Cluster)".to_owned(),
            SlotScheme::Codis => "codis crc32 mod 1024".to_owned(),
        }
    }
}

/// A directory (the outline's "indexed" sharding): an explicit table from
/// bucket (`hash(key) mod B`) to node, plus per-key pins that override it.
///
/// It can express any placement — pin a whale tenant to its own shard, move
/// one bucket at a time — at the price of a table every router must read.
/// That table is a single point of failure and a bottleneck unless it is
/// replicated and cached (as Redis Cluster gossips its slot table, or
/// Vitess keeps its keyspace map in a replicated topology store); this type
/// is the table, not its distribution.
#[derive(Clone, Debug)]
pub struct Directory {
    nodes: Vec<Node>,
    owners: Vec<u32>,
    pins: HashMap<Vec<u8>, u32>,
    hash: HashFn,
    tag: HashTag,
}

impl Directory {
    /// `buckets` buckets in contiguous ranges sized by weight.
    ///
    /// # Errors
    /// An invalid node list, `buckets` of 0 or above
    /// [`DIRECTORY_BUCKETS_MAX`], or fewer buckets than nodes.
    pub fn new(
        nodes: Vec<Node>,
        buckets: usize,
        hash: HashFn,
        tag: HashTag,
    ) -> Result<Directory, Error> {
        check_nodes(&nodes)?;
        if buckets < nodes.len() || buckets > DIRECTORY_BUCKETS_MAX {
            return Err(Error::InvalidParameter(format!(
                "directory needs between {} and {DIRECTORY_BUCKETS_MAX} buckets, got {buckets}",
                nodes.len()
            )));
        }
        let owners = even_owners(&nodes, buckets);
        Ok(Directory {
            nodes,
            owners,
            pins: HashMap::new(),
            hash,
            tag,
        })
    }

    /// Pins `key` (after its hash tag) to the node named `name`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub fn pin(&mut self, key: &[u8], name: &str) -> Result<(), Error> {
        let i = position(&self.nodes, name)?;
        self.pins.insert(self.tag.apply(key).to_vec(), i as u32);
        Ok(())
    }

    /// Moves `bucket` to the node named `name`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or a bucket out of range.
    pub fn assign_bucket(&mut self, bucket: usize, name: &str) -> Result<(), Error> {
        let i = position(&self.nodes, name)?;
        let slot = self
            .owners
            .get_mut(bucket)
            .ok_or_else(|| Error::InvalidParameter(format!("bucket {bucket} out of range")))?;
        *slot = i as u32;
        Ok(())
    }

    /// The directory after `node` joins and takes an even share of buckets.
    /// Pins stay where they are.
    ///
    /// # Errors
    /// A duplicate name or too many nodes.
    pub fn with_added(&self, node: Node) -> Result<Directory, Error> {
        let mut nodes = self.nodes.clone();
        nodes.push(node);
        check_nodes(&nodes)?;
        Ok(Directory {
            owners: owners_with_added(&self.owners, self.nodes.len()),
            nodes,
            pins: self.pins.clone(),
            hash: self.hash,
            tag: self.tag,
        })
    }

    /// The directory after the node named `name` leaves: its buckets are
    /// dealt to the others and its pins dropped.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or [`Error::NoNodes`] for the last node.
    pub fn without(&self, name: &str) -> Result<Directory, Error> {
        let i = position(&self.nodes, name)?;
        let mut nodes = self.nodes.clone();
        nodes.remove(i);
        check_nodes(&nodes)?;
        let pins = self
            .pins
            .iter()
            .filter(|&(_, &n)| n as usize != i)
            .map(|(k, &n)| (k.clone(), if n as usize > i { n - 1 } else { n }))
            .collect();
        Ok(Directory {
            owners: owners_without(&self.owners, i as u32, self.nodes.len()),
            nodes,
            pins,
            hash: self.hash,
            tag: self.tag,
        })
    }
}

impl Placement for Directory {
    fn locate(&self, key: &[u8]) -> usize {
        let key = self.tag.apply(key);
        if !self.pins.is_empty() {
            if let Some(&i) = self.pins.get(key) {
                return i as usize;
            }
        }
        let h = self.hash.hash64(key);
        self.owners[(h % self.owners.len() as u64) as usize] as usize
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn describe(&self) -> String {
        format!(
            "directory hash={} buckets={} pins={}",
            self.hash,
            self.owners.len(),
            self.pins.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::numbered;

    #[test]
    fn redis_cluster_known_slots() {
        // Values `CLUSTER KEYSLOT` returns on Redis 7.0.
        let cases: [(&str, u16); 9] = [
            ("foo", 12182),
            ("bar", 5061),
            ("hello", 866),
            ("{user1000}.following", 3443),
            ("{user1000}.followers", 3443),
            ("123456789", 12739),
            ("foo{}{bar}", 8363),
            ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061),
        ];
        for (key, slot) in cases {
            assert_eq!(redis_slot(key.as_bytes()), slot, "{key}");
        }
        assert_eq!(redis_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(redis_slot(b"foo{bar}{zap}"), redis_slot(b"bar"));
    }

    #[test]
    fn codis_slots() {
        assert_eq!(codis_slot(b"123456789"), (0xcbf4_3926u32 % 1024) as u16);
        assert_eq!(codis_slot(b"a{tag}b"), codis_slot(b"tag"));
        assert_eq!(codis_slot(b"a{}b"), codis_slot(b""));
    }

    #[test]
    fn even_layout_is_contiguous_like_redis_cli() {
        let s = Slots::even(numbered("n", 3), SlotScheme::RedisCluster).unwrap();
        // redis-cli --cluster create gives 0-5460, 5461-10922, 10923-16383.
        assert_eq!(s.owners()[5460], 0);
        assert_eq!(s.owners()[5461], 1);
        assert_eq!(s.owners()[10922], 1);
        assert_eq!(s.owners()[10923], 2);
    }

    #[test]
    fn adding_moves_slots_only_to_the_new_node() {
        let s = Slots::even(numbered("n", 4), SlotScheme::RedisCluster).unwrap();
        let t = s.with_added(Node::new("n4")).unwrap();
        let mut counts = [0usize; 5];
        for (a, b) in s.owners().iter().zip(t.owners()) {
            assert!(a == b || *b == 4);
            counts[*b as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| c == 3276 || c == 3277 || c == 3278),
            "{counts:?}"
        );
    }

    #[test]
    fn removing_moves_only_the_removed_nodes_slots() {
        let s = Slots::even(numbered("n", 4), SlotScheme::Codis).unwrap();
        let t = s.without("n1").unwrap();
        for (slot, (&a, &b)) in s.owners().iter().zip(t.owners()).enumerate() {
            let before = s.nodes()[a as usize].name();
            let after = t.nodes()[b as usize].name();
            assert!(before == after || before == "n1", "slot {slot}");
        }
    }

    #[test]
    fn directory_pins_override_buckets() {
        let mut d =
            Directory::new(numbered("n", 3), 64, HashFn::Xxh3, HashTag::RedisCluster).unwrap();
        d.pin(b"whale", "n2").unwrap();
        assert_eq!(d.locate(b"{whale}:orders"), 2);
        assert!(d.pin(b"x", "nope").is_err());
        let e = d.without("n2").unwrap();
        assert_ne!(e.node_for(b"whale").name(), "n2");
    }
}
