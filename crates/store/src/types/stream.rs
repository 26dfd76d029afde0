//! Streams as Redis 7.0 lays them out: entries in listpack nodes keyed by
//! the ID of each node's first ("master") entry, plus consumer groups with
//! their pending-entry lists.
//!
//! A node's listpack holds a master entry (live count, deleted count, the
//! field names of the node's first entry, a 0 terminator), then entries:
//! flags, the ID as a difference from the master ID, either the values
//! alone (when the field names equal the master's, flag SAMEFIELDS) or a
//! field count and field/value pairs, and finally the entry's element
//! count so the node can be walked backwards. Deleting an entry only sets
//! its DELETED flag; a node goes away when its last live entry does.
//!
//! The layout is Redis's byte for byte, so when a node is full (by
//! `stream-node-max-entries` or `stream-node-max-bytes`), what approximate
//! trimming (`MAXLEN ~`) removes, and the RDB/DUMP serialization all match
//! redis-server's.
//!
//! **Invariants:** every node has at least one element; entries are in
//! increasing ID order across nodes; `length` is the number of live
//! entries; every group's PEL entry is in exactly one consumer's PEL, the
//! one its `Nack::consumer` names.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

use super::listpack::{Item, Listpack};

pub const FLAG_DELETED: i64 = 1;
pub const FLAG_SAMEFIELDS: i64 = 2;
/// The largest listpack a stream node may grow to (Redis's
/// `STREAM_LISTPACK_MAX_SIZE`).
pub const MAX_NODE_BYTES: usize = 1 << 30;
/// `entries_read` when it is not known (Redis's `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// An entry ID: milliseconds and a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next ID, `None` past the largest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// The 16-byte big-endian form Redis uses as rax keys and in RDB.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        Some(StreamId::new(
            u64::from_be_bytes(b[..8].try_into().ok()?),
            u64::from_be_bytes(b[8..].try_into().ok()?),
        ))
    }

    pub fn to_bytes(self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A pending entry: delivered to a consumer, not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    /// Unix milliseconds of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    /// Unix milliseconds the consumer was last active.
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// How many entries the group has read, or [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Removes `id` from the PEL and its consumer's; true if it was there.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(nack) => {
                if let Some(c) = self.consumers.get_mut(&nack.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Removes a consumer and its pending entries; how many it had.
    pub fn remove_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pel {
            self.pel.remove(id);
        }
        Some(consumer.pel.len())
    }

    /// Gives the pending entry `id` to `consumer` (which must exist).
    pub fn assign(&mut self, id: StreamId, consumer: &Bytes) {
        let nack = self.pel.get_mut(&id).expect("pending");
        if nack.consumer != *consumer {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = consumer.clone();
        }
        self.consumers
            .get_mut(consumer)
            .expect("consumer exists")
            .pel
            .insert(id);
    }
}

/// The stream itself, boxed so a `Value` stays small.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream(Box<Inner>);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inner {
    /// Listpack nodes by master ID.
    pub nodes: BTreeMap<StreamId, Listpack>,
    /// Live entries.
    pub length: u64,
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    pub groups: BTreeMap<Bytes, Group>,
}

impl std::ops::Deref for Stream {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::DerefMut for Stream {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.0
    }
}

/// One entry, read in place from its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    lp: &'a Listpack,
    /// Position of the first master field (used with SAMEFIELDS).
    master_fields: usize,
    /// Position of the first field (or value, with SAMEFIELDS).
    data: usize,
    pub field_count: usize,
    samefields: bool,
}

impl<'a> EntryRef<'a> {
    /// The field/value pairs in order.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            lp: self.lp,
            master: self.samefields.then_some(self.master_fields),
            data: self.data,
            left: self.field_count,
        }
    }
}

pub struct Fields<'a> {
    lp: &'a Listpack,
    master: Option<usize>,
    data: usize,
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (Item<'a>, Item<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field;
        let value;
        match self.master.as_mut() {
            Some(m) => {
                field = self.lp.get(*m);
                value = self.lp.get(self.data);
                *m = self.lp.next(*m).unwrap_or(0);
                self.data = self.lp.next(self.data).unwrap_or(0);
            }
            None => {
                field = self.lp.get(self.data);
                let v = self.lp.next(self.data).expect("value follows field");
                value = self.lp.get(v);
                self.data = self.lp.next(v).unwrap_or(0);
            }
        }
        Some((field, value))
    }
}

/// A node's master entry, decoded.
struct Master {
    id: StreamId,
    /// Position of the first master field.
    fields: usize,
    field_count: usize,
    /// Position of the first entry (None: the node holds no entries).
    first_entry: Option<usize>,
}

fn master_of(id: StreamId, lp: &Listpack) -> Master {
    let count = lp.first().expect("node has a master entry");
    let deleted = lp.next(count).expect("deleted count");
    let nfields = lp.next(deleted).expect("field count");
    let field_count = lp.get_int(nfields).max(0) as usize;
    let fields = lp.next(nfields).expect("master fields or terminator");
    let mut p = fields;
    for _ in 0..field_count {
        p = lp.next(p).expect("master field");
    }
    Master {
        id,
        fields,
        field_count,
        first_entry: lp.next(p),
    }
}

/// The entry at `pos`: its flags, and where the next one starts.
fn entry_at<'a>(
    master: &Master,
    lp: &'a Listpack,
    pos: usize,
) -> (i64, EntryRef<'a>, Option<usize>) {
    let flags = lp.get_int(pos);
    let ms_pos = lp.next(pos).expect("ms delta");
    let seq_pos = lp.next(ms_pos).expect("seq delta");
    let id = StreamId::new(
        master.id.ms.wrapping_add(lp.get_int(ms_pos) as u64),
        master.id.seq.wrapping_add(lp.get_int(seq_pos) as u64),
    );
    let after_id = lp.next(seq_pos).expect("entry body");
    let samefields = flags & FLAG_SAMEFIELDS != 0;
    let (field_count, data, elements) = if samefields {
        (master.field_count, after_id, master.field_count)
    } else {
        let n = lp.get_int(after_id).max(0) as usize;
        (n, lp.next(after_id).unwrap_or(0), 2 * n + 1)
    };
    let mut p = after_id;
    for _ in 0..elements {
        p = lp.next(p).expect("entry element");
    }
    // `p` is the lp-count element now.
    let next = lp.next(p);
    let entry = EntryRef {
        id,
        lp,
        master_fields: master.fields,
        data,
        field_count,
        samefields,
    };
    (flags, entry, next)
}

/// Every entry of a node in order, deleted ones included, with the
/// position of each one's flags.
fn node_entries<'a>(id: StreamId, lp: &'a Listpack) -> Vec<(usize, i64, EntryRef<'a>)> {
    let master = master_of(id, lp);
    let mut out = Vec::new();
    let mut pos = master.first_entry;
    while let Some(p) = pos {
        let (flags, entry, next) = entry_at(&master, lp, p);
        out.push((p, flags, entry));
        pos = next;
    }
    out
}

/// How trimming decides what goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> usize {
        self.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    /// Live entries with `start <= id <= end`, in order (or reversed).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Vec<EntryRef<'_>> {
        let mut out = Vec::new();
        self.visit(start, end, rev, |e| {
            out.push(e);
            true
        });
        out
    }

    /// Calls `f` for each live entry in `start..=end` (in reverse with
    /// `rev`) until it returns false.
    pub fn visit<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(EntryRef<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        // The node that may hold `start` is the last one keyed at or
        // before it.
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let nodes = self.nodes.range(from..=end);
        let mut each = |id: &StreamId, lp: &'a Listpack| -> bool {
            let entries = node_entries(*id, lp);
            let mut go = |flags: i64, e: EntryRef<'a>| -> Option<bool> {
                if e.id < start || e.id > end || flags & FLAG_DELETED != 0 {
                    return None;
                }
                Some(f(e))
            };
            if rev {
                for (_, flags, e) in entries.into_iter().rev() {
                    if go(flags, e) == Some(false) {
                        return false;
                    }
                }
            } else {
                for (_, flags, e) in entries {
                    if go(flags, e) == Some(false) {
                        return false;
                    }
                }
            }
            true
        };
        if rev {
            for (id, lp) in nodes.rev() {
                if !each(id, lp) {
                    return;
                }
            }
        } else {
            for (id, lp) in nodes {
                if !each(id, lp) {
                    return;
                }
            }
        }
    }

    /// The live entry `id`, if any.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let mut found = None;
        self.visit(id, id, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The first (or last) entry's ID, deleted ones counted only with
    /// `tombstones`; MAX (first) or MIN (last) if there is none (Redis's
    /// `streamGetEdgeID`).
    pub fn edge_id(&self, first: bool, tombstones: bool) -> StreamId {
        let found = if tombstones {
            let node = if first {
                self.nodes.iter().next()
            } else {
                self.nodes.iter().next_back()
            };
            node.and_then(|(id, lp)| {
                let entries = node_entries(*id, lp);
                let e = if first {
                    entries.first()
                } else {
                    entries.last()
                };
                e.map(|(_, _, e)| e.id)
            })
        } else {
            let mut found = None;
            self.visit(StreamId::MIN, StreamId::MAX, !first, |e| {
                found = Some(e.id);
                false
            });
            found
        };
        found.unwrap_or(if first { StreamId::MAX } else { StreamId::MIN })
    }

    /// The last live entry's ID (Redis's `streamLastValidID`), MIN if none.
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false, false)
    }

    /// Appends an entry (Redis's `streamAppendItem` after the ID is
    /// chosen): the caller has checked `id > last_id`.
    pub fn append(&mut self, id: StreamId, pairs: &[Bytes], max_bytes: usize, max_entries: i64) {
        let numfields = pairs.len() / 2;
        let total: usize = pairs.iter().map(|p| p.len()).sum();
        let max_bytes = if max_bytes == 0 || max_bytes > MAX_NODE_BYTES {
            MAX_NODE_BYTES
        } else {
            max_bytes
        };
        let mut use_tail = false;
        if let Some((_, lp)) = self.nodes.iter_mut().next_back() {
            use_tail = true;
            if lp.bytes() + total >= max_bytes {
                use_tail = false;
            } else if max_entries > 0 {
                let first = lp.first().expect("master");
                let count = lp.get_int(first) + lp.get_int(lp.next(first).expect("deleted"));
                if count >= max_entries {
                    use_tail = false;
                }
            }
            if !use_tail {
                lp.shrink_to_fit();
            }
        }
        let mut flags = 0;
        let (master_id, lp) = if use_tail {
            let (master_id, lp) = self.nodes.iter_mut().next_back().expect("tail");
            let first = lp.first().expect("master");
            let count = lp.get_int(first);
            lp.replace_int(first, count + 1);
            let master = master_of(*master_id, lp);
            if master.field_count == numfields {
                let mut p = master.fields;
                let same = (0..numfields).all(|i| {
                    let equal = lp.get(p).eq_bytes(&pairs[2 * i]);
                    p = lp.next(p).unwrap_or(0);
                    equal
                });
                if same {
                    flags |= FLAG_SAMEFIELDS;
                }
            }
            (*master_id, lp)
        } else {
            let mut lp = Listpack::new();
            lp.append_int(1);
            lp.append_int(0);
            lp.append_int(numfields as i64);
            for i in 0..numfields {
                lp.append_str(&pairs[2 * i]);
            }
            lp.append_int(0);
            flags |= FLAG_SAMEFIELDS;
            let lp = self.nodes.entry(id).or_insert(lp);
            (id, lp)
        };
        let same = flags & FLAG_SAMEFIELDS != 0;
        lp.append_int(flags);
        lp.append_int(id.ms.wrapping_sub(master_id.ms) as i64);
        lp.append_int(id.seq.wrapping_sub(master_id.seq) as i64);
        if !same {
            lp.append_int(numfields as i64);
        }
        for i in 0..numfields {
            if !same {
                lp.append_str(&pairs[2 * i]);
            }
            lp.append_str(&pairs[2 * i + 1]);
        }
        let mut lp_count = numfields as i64 + 3;
        if !same {
            lp_count += numfields as i64 + 1;
        }
        lp.append_int(lp_count);
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// Marks the live entry `id` deleted; false if there is none. Does not
    /// touch `first_id` or `max_deleted_id` (XDEL does).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&node_id, _)) = self.nodes.range(..=id).next_back() else {
            return false;
        };
        let lp = self.nodes.get_mut(&node_id).expect("found");
        let at = node_entries(node_id, lp)
            .into_iter()
            .find(|(_, flags, e)| e.id == id && flags & FLAG_DELETED == 0)
            .map(|(pos, flags, _)| (pos, flags));
        let Some((pos, flags)) = at else {
            return false;
        };
        lp.replace_int(pos, flags | FLAG_DELETED);
        let first = lp.first().expect("master");
        let live = lp.get_int(first);
        if live == 1 {
            self.nodes.remove(&node_id);
        } else {
            let next = lp.replace_int(first, live - 1);
            let deleted = lp.get_int(next);
            lp.replace_int(next, deleted + 1);
        }
        self.length -= 1;
        true
    }

    /// Trims from the head (Redis's `streamTrim`): with `approx`, only
    /// whole nodes go; `limit` (0: none) caps the entries removed. Returns
    /// how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        let inner = &mut *self.0;
        loop {
            if let Trim::MaxLen(max) = how {
                if inner.length <= max {
                    break;
                }
            }
            let Some((&node_id, lp)) = inner.nodes.iter_mut().next() else {
                break;
            };
            let first = lp.first().expect("master");
            let entries = lp.get_int(first) as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => inner.length - entries >= max,
                Trim::MinId(min) => {
                    let last = node_entries(node_id, lp)
                        .last()
                        .map_or(node_id, |(_, _, e)| e.id);
                    last < min
                }
            };
            if remove_node {
                inner.nodes.remove(&node_id);
                inner.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Mark entries deleted from the node's head.
            let marks: Vec<(usize, i64)> = {
                let mut marks = Vec::new();
                let mut length = inner.length;
                for (pos, flags, e) in node_entries(node_id, lp) {
                    let stop = match how {
                        Trim::MaxLen(max) => length <= max,
                        Trim::MinId(min) => e.id >= min,
                    };
                    if stop {
                        break;
                    }
                    if flags & FLAG_DELETED == 0 {
                        marks.push((pos, flags));
                        length -= 1;
                    }
                }
                marks
            };
            // Later positions first, so earlier ones stay valid (the flag
            // keeps its one-byte encoding anyway).
            for &(pos, flags) in marks.iter().rev() {
                lp.replace_int(pos, flags | FLAG_DELETED);
            }
            let removed = marks.len() as u64;
            inner.length -= removed;
            deleted += removed;
            let first = lp.first().expect("master");
            let next = lp.replace_int(first, (entries - removed) as i64);
            let marked = lp.get_int(next);
            lp.replace_int(next, marked + removed as i64);
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, false);
        }
        deleted
    }

    /// Nodes of the radix tree Redis would keep the node keys in (XINFO's
    /// `radix-tree-nodes`): a compressed node per run of shared bytes, a
    /// branching node where keys diverge, a leaf per key; 1 when empty.
    pub fn rax_nodes(&self) -> usize {
        fn count(keys: &[[u8; 16]], depth: usize) -> usize {
            if depth == 16 {
                return 1;
            }
            if keys.len() == 1 {
                return 2;
            }
            let (first, last) = (&keys[0], &keys[keys.len() - 1]);
            let shared = (depth..16).take_while(|&i| first[i] == last[i]).count();
            if shared > 0 {
                return 1 + count(keys, depth + shared);
            }
            let mut total = 1;
            let mut start = 0;
            while start < keys.len() {
                let byte = keys[start][depth];
                let end = start
                    + keys[start..]
                        .iter()
                        .take_while(|k| k[depth] == byte)
                        .count();
                total += count(&keys[start..end], depth + 1);
                start = end;
            }
            total
        }
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|id| id.to_be_bytes()).collect();
        if keys.is_empty() {
            1
        } else {
            count(&keys, 0)
        }
    }

    /// Approximate heap bytes (for MEMORY USAGE and eviction).
    pub fn heap_bytes(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|lp| lp.capacity() + 64).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| name.len() + 96 + g.pel.len() * 80 + g.consumers.len() * 96)
            .sum();
        std::mem::size_of::<Inner>() + nodes + groups
    }

    /// Distance estimate for a group's `entries_read` (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`); `None` if unknown.
    pub fn estimate_distance(&self, id: StreamId) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if self.length == 0 && id <= self.last_id {
            return Some(added);
        }
        if id == self.last_id {
            return Some(added);
        } else if id > self.last_id {
            return None;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(added - self.length as i64);
            } else if id == self.first_id {
                return Some(added - self.length as i64 + 1);
            }
        }
        None
    }

    /// Whether deleted entries may lie in `start..` (Redis's
    /// `streamRangeHasTombstones` with an open end).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// A group's lag, `None` when it cannot be known.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if group.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones_from(group.last_id) {
            return Some(added - group.entries_read);
        }
        self.estimate_distance(group.last_id)
            .map(|read| added - read)
    }

    /// Records that `group` read entry `id` (Redis's bookkeeping in
    /// `streamReplyWithRange`); true if its last ID moved.
    pub fn advance_group(&mut self, group: &Bytes, id: StreamId) -> bool {
        let (entries_read, last_id) = {
            let g = &self.groups[group];
            (g.entries_read, g.last_id)
        };
        if id <= last_id {
            return false;
        }
        let read = if entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones_from(id) {
            Some(entries_read + 1)
        } else if self.entries_added > 0 {
            Some(self.estimate_distance(id).unwrap_or(ENTRIES_READ_UNKNOWN))
        } else {
            None
        };
        let g = self.groups.get_mut(group).expect("group");
        if let Some(read) = read {
            g.entries_read = read;
        }
        g.last_id = id;
        true
    }

    /// Builds a stream from loaded parts (RDB / DUMP), checking each node;
    /// `None` if a node is malformed or the parts disagree.
    pub fn from_parts(nodes: Vec<(StreamId, Vec<u8>)>, meta: Inner) -> Option<Stream> {
        let mut s = Stream(Box::new(meta));
        for (id, blob) in nodes {
            let lp = Listpack::from_bytes(blob)?;
            lp.first()?;
            if !valid_node(&lp) {
                return None;
            }
            if s.nodes.insert(id, lp).is_some() {
                return None;
            }
        }
        Some(s)
    }

    /// Each node's master ID and listpack bytes, in order.
    pub fn node_blobs(&self) -> impl Iterator<Item = (StreamId, &[u8])> + '_ {
        self.nodes.iter().map(|(id, lp)| (*id, lp.as_bytes()))
    }
}

/// Whether a loaded node's listpack has the shape of a stream node (every
/// element this module later reads is there, counts agree): Redis's
/// `streamValidateListpackIntegrity` with deep checks.
fn valid_node(lp: &Listpack) -> bool {
    fn int(lp: &Listpack, cur: &mut Option<usize>) -> Option<i64> {
        let p = (*cur)?;
        *cur = lp.next(p);
        match lp.get(p) {
            Item::Int(n) => Some(n),
            Item::Str(_) => None,
        }
    }
    fn skip(lp: &Listpack, cur: &mut Option<usize>, n: i64) -> Option<()> {
        for _ in 0..n {
            *cur = lp.next((*cur)?);
        }
        Some(())
    }
    let check = || -> Option<()> {
        let mut cur = lp.first();
        let live = int(lp, &mut cur)?;
        let dead = int(lp, &mut cur)?;
        let nmaster = int(lp, &mut cur)?;
        if live < 0 || dead < 0 || nmaster < 0 {
            return None;
        }
        cur?;
        skip(lp, &mut cur, nmaster)?;
        (int(lp, &mut cur)? == 0).then_some(())?;
        let (mut seen_live, mut seen_dead) = (0, 0);
        while cur.is_some() {
            let flags = int(lp, &mut cur)?;
            int(lp, &mut cur)?;
            int(lp, &mut cur)?;
            let elements = if flags & FLAG_SAMEFIELDS != 0 {
                cur?;
                skip(lp, &mut cur, nmaster)?;
                nmaster + 3
            } else {
                let n = int(lp, &mut cur)?;
                if n < 0 {
                    return None;
                }
                cur?;
                skip(lp, &mut cur, 2 * n)?;
                2 * n + 4
            };
            (int(lp, &mut cur)? == elements).then_some(())?;
            if flags & FLAG_DELETED != 0 {
                seen_dead += 1;
            } else {
                seen_live += 1;
            }
        }
        (seen_live == live && seen_dead == dead).then_some(())
    };
    check().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// An entry as the model holds it: its ms and its field/value pairs.
    type Row = (u64, Vec<(Vec<u8>, Vec<u8>)>);

    fn ids(s: &Stream) -> Vec<u64> {
        s.range(StreamId::MIN, StreamId::MAX, false)
            .iter()
            .map(|e| e.id.ms)
            .collect()
    }

    #[test]
    fn stream_value_fits_the_value_enum() {
        assert!(std::mem::size_of::<Stream>() <= 24);
    }

    #[test]
    fn append_read_delete_and_trim_against_a_model() {
        let mut s = Stream::new();
        let mut model: Vec<(u64, Vec<(Bytes, Bytes)>)> = Vec::new();
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for ms in 1..=2000u64 {
            let pairs: Vec<Bytes> = if rnd() % 3 == 0 {
                vec![b("a"), b(&ms.to_string()), b("b"), b("x")]
            } else {
                vec![b("f"), b(&format!("v{}", rnd() % 1000))]
            };
            s.append(StreamId::new(ms, 0), &pairs, 4096, 10);
            model.push((
                ms,
                pairs
                    .chunks(2)
                    .map(|c| (c[0].clone(), c[1].clone()))
                    .collect(),
            ));
            if rnd() % 5 == 0 && !model.is_empty() {
                let i = (rnd() as usize) % model.len();
                let id = model.remove(i).0;
                assert!(s.delete(StreamId::new(id, 0)));
                assert!(!s.delete(StreamId::new(id, 0)));
            }
        }
        assert_eq!(s.length as usize, model.len());
        let got: Vec<Row> = s
            .range(StreamId::MIN, StreamId::MAX, false)
            .iter()
            .map(|e| {
                (
                    e.id.ms,
                    e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect(),
                )
            })
            .collect();
        let want: Vec<Row> = model
            .iter()
            .map(|(ms, f)| {
                (
                    *ms,
                    f.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect(),
                )
            })
            .collect();
        assert_eq!(got, want);
        let rev: Vec<u64> = s
            .range(StreamId::MIN, StreamId::MAX, true)
            .iter()
            .map(|e| e.id.ms)
            .collect();
        let mut fwd = ids(&s);
        fwd.reverse();
        assert_eq!(rev, fwd);
        // Exact trimming leaves exactly the newest entries.
        let removed = s.trim(Trim::MaxLen(100), false, 0);
        assert_eq!(removed as usize, model.len() - 100);
        assert_eq!(
            ids(&s),
            model[model.len() - 100..]
                .iter()
                .map(|m| m.0)
                .collect::<Vec<_>>()
        );
        assert_eq!(s.first_id.ms, model[model.len() - 100].0);
        let cut = model[model.len() - 50].0;
        s.trim(Trim::MinId(StreamId::new(cut, 0)), false, 0);
        assert_eq!(ids(&s).first(), Some(&cut));
        // Every node still validates after all of that.
        for (_, blob) in s.node_blobs() {
            let lp = Listpack::from_bytes(blob.to_vec()).unwrap();
            assert!(valid_node(&lp));
        }
    }

    #[test]
    fn approximate_trimming_removes_whole_nodes_only() {
        let mut s = Stream::new();
        for ms in 1..=1000u64 {
            s.append(StreamId::new(ms, 0), &[b("x"), b("1")], 4096, 100);
        }
        s.trim(Trim::MaxLen(555), true, 10_000);
        assert_eq!(s.length, 600);
    }
}
