//! Lists: a quicklist, as Redis 7.0 holds every list (OBJECT ENCODING
//! always says `quicklist` in 7.0; the listpack encoding for small lists
//! arrived in 7.2).
//!
//! A [`List`] is a deque of nodes; each node is one packed buffer of
//! entries, like Redis's listpack: `len` as a LEB128 varint, the bytes, and
//! the same varint written backwards, so a node can be walked from either
//! end. Small elements cost 2 bytes of overhead each and one allocation
//! per node instead of one per element. Pushing and popping at either end
//! is O(1) (plus a memmove bounded by the node size at the head), and
//! reaching index `i` walks nodes from the nearer end, as Redis does.
//!
//! The node size follows `list-max-listpack-size` at creation (Redis keeps
//! the `fill` it was created with): negative −1…−5 bounds a node to 4…64
//! KiB, positive bounds its entry count (with Redis's 8 KiB safety limit).
//! A node that an insert or a replacement grows beyond its bound is split
//! in two, so no command works on an unbounded buffer.

use std::collections::VecDeque;

/// Redis's `SIZE_SAFETY_LIMIT`: a node bounded by count still stops
/// growing at 8 KiB.
const NODE_SAFETY_LIMIT_BYTES: usize = 8192;
/// Redis's `optimization_level[]`, for fill -1..-5.
const NODE_BYTES_BY_FILL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A node's entry counter is 16 bits in Redis.
const NODE_COUNT_MAX: usize = u16::MAX as usize;

/// A Redis list. One pointer in a `Value`; the nodes live behind it.
#[derive(Debug, Clone)]
pub struct List {
    inner: Box<Quicklist>,
}

#[derive(Debug, Clone)]
struct Quicklist {
    nodes: VecDeque<Node>,
    len: usize,
    /// A node may grow to this many bytes…
    node_bytes_max: usize,
    /// …and this many entries.
    node_count_max: usize,
}

/// One packed run of entries. Never empty while it is in a list.
#[derive(Debug, Clone, Default)]
struct Node {
    buf: Vec<u8>,
    count: usize,
}

impl Default for List {
    fn default() -> Self {
        List::new(-2)
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut size = 1;
    while n >= 0x80 {
        n >>= 7;
        size += 1;
    }
    size
}

/// Bytes one element takes in a node.
fn entry_size(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// Writes `value` as one entry into `out`, which is exactly
/// `entry_size(value.len())` bytes.
fn write_entry(out: &mut [u8], value: &[u8]) {
    let h = varint_len(value.len());
    let mut n = value.len();
    for i in 0..h {
        let more = if i + 1 < h { 0x80 } else { 0 };
        let b = (n & 0x7f) as u8 | more;
        out[i] = b;
        // The trailer holds the same bytes in reverse order.
        out[out.len() - 1 - i] = b;
        n >>= 7;
    }
    out[h..h + value.len()].copy_from_slice(value);
}

/// Decodes the entry starting at `pos`: (data start, data len, entry end).
fn decode_forward(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let b = buf[i];
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let h = i - pos;
    (i, len, i + len + h)
}

/// Decodes the entry ending at `end`: (entry start, data start, data len).
fn decode_backward(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let b = buf[i];
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let h = end - i;
    let data = i - len;
    (data - h, data, len)
}

impl Node {
    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            front: 0,
            back: self.buf.len(),
            left: self.count,
        }
    }

    /// Byte range of entry `k`, walking from the nearer end.
    fn entry_range(&self, k: usize) -> (usize, usize) {
        if k < self.count / 2 {
            let mut pos = 0;
            for _ in 0..k {
                pos = decode_forward(&self.buf, pos).2;
            }
            (pos, decode_forward(&self.buf, pos).2)
        } else {
            let mut end = self.buf.len();
            for _ in 0..self.count - 1 - k {
                end = decode_backward(&self.buf, end).0;
            }
            (decode_backward(&self.buf, end).0, end)
        }
    }

    /// Replaces bytes `range` of the buffer with one entry for `value`.
    fn splice_entry(&mut self, start: usize, end: usize, value: &[u8]) {
        let size = entry_size(value.len());
        let old = end - start;
        if size > old {
            let grow = size - old;
            let tail = self.buf.len();
            self.buf.resize(tail + grow, 0);
            self.buf.copy_within(end..tail, end + grow);
        } else if size < old {
            self.buf.drain(start + size..end);
        }
        write_entry(&mut self.buf[start..start + size], value);
    }
}

/// The entries of one node, from either end.
#[derive(Clone)]
pub struct NodeIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (data, len, end) = decode_forward(self.buf, self.front);
        self.front = end;
        Some(&self.buf[data..data + len])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for NodeIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (start, data, len) = decode_backward(self.buf, self.back);
        self.back = start;
        Some(&self.buf[data..data + len])
    }
}

impl List {
    /// An empty list whose nodes follow `fill` (`list-max-listpack-size`).
    pub fn new(fill: i64) -> List {
        let (bytes, count) = if fill < 0 {
            let level = (fill.unsigned_abs().min(5) - 1) as usize;
            (NODE_BYTES_BY_FILL[level], NODE_COUNT_MAX)
        } else {
            let count = usize::try_from(fill).unwrap_or(NODE_COUNT_MAX);
            (NODE_SAFETY_LIMIT_BYTES, count.clamp(1, NODE_COUNT_MAX))
        };
        List::with_limits(bytes, count)
    }

    fn with_limits(node_bytes_max: usize, node_count_max: usize) -> List {
        List {
            inner: Box::new(Quicklist {
                nodes: VecDeque::new(),
                len: 0,
                node_bytes_max,
                node_count_max,
            }),
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        self.inner.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn allows(&self, node: &Node, size: usize) -> bool {
        node.count == 0
            || (node.buf.len() + size <= self.inner.node_bytes_max
                && node.count < self.inner.node_count_max)
    }

    fn oversized(&self, node: &Node) -> bool {
        node.count > 1
            && (node.buf.len() > self.inner.node_bytes_max
                || node.count > self.inner.node_count_max)
    }

    pub fn push_back(&mut self, value: &[u8]) {
        let size = entry_size(value.len());
        let fits = self
            .inner
            .nodes
            .back()
            .is_some_and(|n| self.allows(n, size));
        let q = &mut *self.inner;
        if !fits {
            // The full node will not grow again from this end: give back
            // the slack of its last doubling, so memory per element stays
            // close to Redis's exactly-sized listpacks.
            if let Some(full) = q.nodes.back_mut() {
                full.buf.shrink_to_fit();
            }
            q.nodes.push_back(Node {
                buf: Vec::with_capacity(size),
                count: 0,
            });
        }
        let node = q.nodes.back_mut().expect("a node");
        let at = node.buf.len();
        node.buf.resize(at + size, 0);
        write_entry(&mut node.buf[at..], value);
        node.count += 1;
        q.len += 1;
    }

    pub fn push_front(&mut self, value: &[u8]) {
        let size = entry_size(value.len());
        let fits = self
            .inner
            .nodes
            .front()
            .is_some_and(|n| self.allows(n, size));
        let q = &mut *self.inner;
        if !fits {
            if let Some(full) = q.nodes.front_mut() {
                full.buf.shrink_to_fit();
            }
            q.nodes.push_front(Node {
                buf: Vec::with_capacity(size),
                count: 0,
            });
        }
        let node = q.nodes.front_mut().expect("a node");
        node.splice_entry(0, 0, value);
        node.count += 1;
        q.len += 1;
    }

    pub fn front(&self) -> Option<&[u8]> {
        self.inner.nodes.front().and_then(|n| n.iter().next())
    }

    pub fn back(&self) -> Option<&[u8]> {
        self.inner.nodes.back().and_then(|n| n.iter().next_back())
    }

    /// Removes the first element; false if the list was empty.
    pub fn pop_front(&mut self) -> bool {
        self.drain_front(1) == 1
    }

    /// Removes the last element; false if the list was empty.
    pub fn pop_back(&mut self) -> bool {
        self.drain_back(1) == 1
    }

    /// Removes up to `n` elements from the head; returns how many.
    pub fn drain_front(&mut self, n: usize) -> usize {
        let q = &mut *self.inner;
        let mut left = n.min(q.len);
        let removed = left;
        while left > 0 {
            let node = q.nodes.front_mut().expect("len counts nodes' entries");
            if node.count <= left {
                left -= node.count;
                q.nodes.pop_front();
                continue;
            }
            let mut pos = 0;
            for _ in 0..left {
                pos = decode_forward(&node.buf, pos).2;
            }
            node.buf.drain(..pos);
            node.count -= left;
            left = 0;
        }
        q.len -= removed;
        removed
    }

    /// Removes up to `n` elements from the tail; returns how many.
    pub fn drain_back(&mut self, n: usize) -> usize {
        let q = &mut *self.inner;
        let mut left = n.min(q.len);
        let removed = left;
        while left > 0 {
            let node = q.nodes.back_mut().expect("len counts nodes' entries");
            if node.count <= left {
                left -= node.count;
                q.nodes.pop_back();
                continue;
            }
            let mut end = node.buf.len();
            for _ in 0..left {
                end = decode_backward(&node.buf, end).0;
            }
            node.buf.truncate(end);
            node.count -= left;
            left = 0;
        }
        q.len -= removed;
        removed
    }

    /// The node holding element `index` (< len) and its position there,
    /// walking from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        let q = &*self.inner;
        if index < q.len / 2 {
            let mut skipped = 0;
            for (i, node) in q.nodes.iter().enumerate() {
                if index < skipped + node.count {
                    return (i, index - skipped);
                }
                skipped += node.count;
            }
        } else {
            let mut after = q.len;
            for (i, node) in q.nodes.iter().enumerate().rev() {
                after -= node.count;
                if index >= after {
                    return (i, index - after);
                }
            }
        }
        unreachable!("index {index} < len {}", q.len)
    }

    /// Element `index` (0-based from the head).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        let (n, k) = self.locate(index);
        let node = &self.inner.nodes[n];
        let (start, _) = node.entry_range(k);
        let (data, len, _) = decode_forward(&node.buf, start);
        Some(&node.buf[data..data + len])
    }

    /// Replaces element `index`; false if it is out of range.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        let (n, k) = self.locate(index);
        let node = &mut self.inner.nodes[n];
        let (start, end) = node.entry_range(k);
        node.splice_entry(start, end, value);
        self.split_if_needed(n);
        true
    }

    /// Inserts `value` so that it becomes element `index` (≤ len).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        if index == 0 {
            return self.push_front(value);
        }
        if index >= self.len() {
            return self.push_back(value);
        }
        let (n, k) = self.locate(index);
        let node = &mut self.inner.nodes[n];
        let (start, _) = node.entry_range(k);
        node.splice_entry(start, start, value);
        node.count += 1;
        self.inner.len += 1;
        self.split_if_needed(n);
    }

    /// Splits node `n` in two if an insert or replacement grew it beyond
    /// its bounds, so nodes stay small whatever the edits. Recursion depth
    /// is logarithmic in the node's entry count.
    fn split_if_needed(&mut self, n: usize) {
        if !self.oversized(&self.inner.nodes[n]) {
            return;
        }
        let node = &mut self.inner.nodes[n];
        let keep = node.count / 2;
        let (at, _) = node.entry_range(keep);
        let rest = Node {
            buf: node.buf.split_off(at),
            count: node.count - keep,
        };
        node.count = keep;
        node.buf.shrink_to_fit();
        self.inner.nodes.insert(n + 1, rest);
        // Halves of a node holding one huge entry may still be too big.
        self.split_if_needed(n + 1);
        self.split_if_needed(n);
    }

    /// Keeps elements `start..start + count` and drops the rest.
    pub fn keep_range(&mut self, start: usize, count: usize) {
        let tail = self.len().saturating_sub(start.saturating_add(count));
        self.drain_front(start);
        self.drain_back(tail);
    }

    /// Every element, head to tail (reversible).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.inner.nodes.iter().flat_map(Node::iter)
    }

    /// Elements from `index` towards the tail.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (n, mut first) = if index < self.len() {
            let (n, k) = self.locate(index);
            let mut it = self.inner.nodes[n].iter();
            if k > 0 {
                it.nth(k - 1);
            }
            (n, Some(it))
        } else {
            (self.inner.nodes.len(), None)
        };
        let rest = self
            .inner
            .nodes
            .range((n + 1).min(self.inner.nodes.len())..);
        std::iter::from_fn(move || first.as_mut().and_then(Iterator::next))
            .chain(rest.flat_map(Node::iter))
    }

    /// Removes elements equal to `value`, at most `limit` of them (0: all),
    /// searching from the tail if `from_tail`. Returns how many went.
    pub fn remove_eq(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let mut gone: Vec<(usize, usize)> = Vec::new();
        let nodes = self.inner.nodes.len();
        for step in 0..nodes {
            if limit != 0 && removed == limit {
                break;
            }
            let n = if from_tail { nodes - 1 - step } else { step };
            let node = &mut self.inner.nodes[n];
            gone.clear();
            // Byte ranges of matching entries, in search order.
            if from_tail {
                let mut end = node.buf.len();
                while end > 0 && !(limit != 0 && removed + gone.len() == limit) {
                    let (start, data, len) = decode_backward(&node.buf, end);
                    if &node.buf[data..data + len] == value {
                        gone.push((start, end));
                    }
                    end = start;
                }
                gone.reverse();
            } else {
                let mut pos = 0;
                while pos < node.buf.len() && !(limit != 0 && removed + gone.len() == limit) {
                    let (data, len, end) = decode_forward(&node.buf, pos);
                    if &node.buf[data..data + len] == value {
                        gone.push((pos, end));
                    }
                    pos = end;
                }
            }
            if gone.is_empty() {
                continue;
            }
            // Compact the node in place, dropping the matched ranges.
            let mut write = gone[0].0;
            for (i, &(_, end)) in gone.iter().enumerate() {
                let next = gone.get(i + 1).map_or(node.buf.len(), |g| g.0);
                node.buf.copy_within(end..next, write);
                write += next - end;
            }
            node.buf.truncate(write);
            node.count -= gone.len();
            removed += gone.len();
        }
        self.inner.nodes.retain(|n| n.count > 0);
        self.inner.len -= removed;
        removed
    }

    /// Bytes held, for MEMORY USAGE-like estimates.
    pub fn allocated_bytes(&self) -> usize {
        self.inner
            .nodes
            .iter()
            .map(|n| n.buf.capacity())
            .sum::<usize>()
            + self.inner.nodes.capacity() * std::mem::size_of::<Node>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl List {
        /// Checks the structure against its counters.
        fn check(&self) {
            let mut total = 0;
            for node in &self.inner.nodes {
                assert!(node.count > 0, "empty node");
                let mut pos = 0;
                let mut n = 0;
                while pos < node.buf.len() {
                    pos = decode_forward(&node.buf, pos).2;
                    n += 1;
                }
                assert_eq!(pos, node.buf.len());
                assert_eq!(n, node.count);
                assert_eq!(node.iter().rev().count(), node.count);
                assert!(!self.oversized(node), "oversized node");
                total += n;
            }
            assert_eq!(total, self.inner.len);
        }
    }

    #[test]
    fn fits_in_a_value() {
        assert!(std::mem::size_of::<List>() <= 24);
        assert_eq!(std::mem::size_of::<List>(), 8);
    }

    #[test]
    fn varints_round_trip() {
        for len in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let value = vec![7u8; len];
            let mut buf = vec![0; entry_size(len)];
            write_entry(&mut buf, &value);
            assert_eq!(decode_forward(&buf, 0), (varint_len(len), len, buf.len()));
            assert_eq!(decode_backward(&buf, buf.len()), (0, varint_len(len), len));
        }
    }

    #[test]
    fn node_sizes_follow_fill() {
        let mut l = List::new(-2);
        for _ in 0..10_000 {
            l.push_back(b"hello");
        }
        l.check();
        // 7 bytes per entry, 8 KiB nodes.
        assert_eq!(l.inner.nodes.len(), 10_000usize.div_ceil(8192 / 7));
        let mut l = List::new(3);
        for i in 0..10 {
            l.push_front(format!("{i}").as_bytes());
        }
        assert_eq!(l.inner.nodes.len(), 4);
        // A huge element gets its own node.
        l.push_back(&vec![1u8; 100_000]);
        l.check();
        assert_eq!(l.back().unwrap().len(), 100_000);
    }

    /// Regression: one split used to leave a half that was still too big
    /// when a large element landed in a node of small ones.
    #[test]
    fn splits_until_every_node_fits() {
        let mut l = List::with_limits(40, 4);
        for v in [b"a", b"b", b"c"] {
            l.push_back(v);
        }
        l.insert(1, &[b'z'; 200]);
        l.check();
        l.set(2, &[b'y'; 200]);
        l.check();
        let got: Vec<usize> = l.iter().map(<[u8]>::len).collect();
        assert_eq!(got, vec![1, 200, 200, 1]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        DrainFront(usize),
        DrainBack(usize),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Get(usize),
        KeepRange(usize, usize),
        RemoveEq(Vec<u8>, usize, bool),
        IterFrom(usize),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => prop::sample::select(vec!["a", "b", "c", "", "12345"]).prop_map(|s| s.as_bytes().to_vec()),
            2 => prop::collection::vec(any::<u8>(), 0..20),
            1 => (100usize..300).prop_map(|n| vec![b'z'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => element().prop_map(Op::PushFront),
            6 => element().prop_map(Op::PushBack),
            2 => Just(Op::PopFront),
            2 => Just(Op::PopBack),
            1 => (0usize..8).prop_map(Op::DrainFront),
            1 => (0usize..8).prop_map(Op::DrainBack),
            2 => (0usize..60, element()).prop_map(|(i, v)| Op::Set(i, v)),
            3 => (0usize..60, element()).prop_map(|(i, v)| Op::Insert(i, v)),
            2 => (0usize..60).prop_map(Op::Get),
            1 => (0usize..10, 0usize..60).prop_map(|(s, c)| Op::KeepRange(s, c)),
            1 => (element(), 0usize..4, any::<bool>()).prop_map(|(v, l, t)| Op::RemoveEq(v, l, t)),
            1 => (0usize..60).prop_map(Op::IterFrom),
        ]
    }

    fn run(mut list: List, ops: &[Op]) {
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for op in ops {
            match op.clone() {
                Op::PushFront(v) => {
                    list.push_front(&v);
                    model.push_front(v);
                }
                Op::PushBack(v) => {
                    list.push_back(&v);
                    model.push_back(v);
                }
                Op::PopFront => {
                    assert_eq!(list.front(), model.front().map(|v| &v[..]));
                    assert_eq!(list.pop_front(), model.pop_front().is_some());
                }
                Op::PopBack => {
                    assert_eq!(list.back(), model.back().map(|v| &v[..]));
                    assert_eq!(list.pop_back(), model.pop_back().is_some());
                }
                Op::DrainFront(n) => {
                    let k = n.min(model.len());
                    model.drain(..k);
                    assert_eq!(list.drain_front(n), k);
                }
                Op::DrainBack(n) => {
                    let k = n.min(model.len());
                    model.truncate(model.len() - k);
                    assert_eq!(list.drain_back(n), k);
                }
                Op::Set(i, v) => {
                    let ok = i < model.len();
                    if ok {
                        model[i] = v.clone();
                    }
                    assert_eq!(list.set(i, &v), ok);
                }
                Op::Insert(i, v) => {
                    let i = i.min(model.len());
                    list.insert(i, &v);
                    model.insert(i, v);
                }
                Op::Get(i) => assert_eq!(list.get(i), model.get(i).map(|v| &v[..])),
                Op::KeepRange(s, c) => {
                    list.keep_range(s, c);
                    let kept: VecDeque<Vec<u8>> = model.iter().skip(s).take(c).cloned().collect();
                    model = kept;
                }
                Op::RemoveEq(v, limit, from_tail) => {
                    let mut positions: Vec<usize> =
                        (0..model.len()).filter(|&i| model[i] == v).collect();
                    if from_tail {
                        positions.reverse();
                    }
                    if limit != 0 {
                        positions.truncate(limit);
                    }
                    positions.sort_unstable();
                    for &p in positions.iter().rev() {
                        model.remove(p);
                    }
                    assert_eq!(list.remove_eq(&v, limit, from_tail), positions.len());
                }
                Op::IterFrom(i) => {
                    let got: Vec<&[u8]> = list.iter_from(i).collect();
                    let want: Vec<&[u8]> = model.iter().skip(i).map(|v| &v[..]).collect();
                    assert_eq!(got, want);
                }
            }
            list.check();
            assert_eq!(list.len(), model.len());
        }
        let fwd: Vec<&[u8]> = list.iter().collect();
        let want: Vec<&[u8]> = model.iter().map(|v| &v[..]).collect();
        assert_eq!(fwd, want);
        let mut rev: Vec<&[u8]> = list.iter().rev().collect();
        rev.reverse();
        assert_eq!(rev, want);
        let cloned = list.clone();
        assert_eq!(cloned.iter().count(), model.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Tiny nodes, so most operations cross node boundaries and split.
        #[test]
        fn matches_a_deque_with_small_nodes(ops in prop::collection::vec(op(), 0..200)) {
            run(List::with_limits(40, 4), &ops);
        }

        #[test]
        fn matches_a_deque_by_count(ops in prop::collection::vec(op(), 0..200)) {
            run(List::new(2), &ops);
        }

        #[test]
        fn matches_a_deque_with_redis_defaults(ops in prop::collection::vec(op(), 0..200)) {
            run(List::new(-1), &ops);
        }
    }
}
