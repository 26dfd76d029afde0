//! The sorted set: members with a `f64` score, ordered by (score, member).
//!
//! Two encodings, as Redis 7.0:
//!
//! - **listpack** (small sets): one packed, sorted byte buffer. Layout: a
//!   `u32` count, then per entry `len: u32 | score: f64 | member | len: u32`
//!   (the trailing length lets cursors walk backwards). Everything is a walk,
//!   which is what Redis does too; sizes are bounded by
//!   `zset-max-listpack-entries`.
//! - **skiplist** (what OBJECT ENCODING reports for the big form, because
//!   Redis does), which here is not a skiplist but three flat parts:
//!   - a *slab* of `(member, score)` slots addressed by a stable `u32` id
//!     (freed ids are reused);
//!   - an open-addressing *hash index* of ids (4 bytes a slot; members are
//!     compared through the slab), so member → score is O(1);
//!   - the *order*: a vector of sorted chunks of `(score, id)` (at most
//!     [`CHUNK_MAX`] entries each) plus a Fenwick tree over the chunk
//!     lengths. Finding a (score, member) is two binary searches; rank ↔
//!     position is a Fenwick prefix sum / descent, O(log n); a range is a
//!     sequential walk through contiguous chunks (cache friendly, no
//!     pointer chasing). Splitting or dropping a chunk rebuilds the Fenwick
//!     tree in O(n / CHUNK_MAX), which happens at most once every
//!     ~CHUNK_MAX/2 insertions, so it is amortized O(n / CHUNK_MAX²).
//!
//!   Why: a span skiplist costs Redis ~48 bytes a node plus a dict entry
//!   (~100+ bytes per member). Here a member costs its slot (24 bytes), its
//!   heap bytes, 16 bytes of order (at ~75% chunk fill ~21) and ~6 bytes of
//!   index: ~70 bytes plus the member, with no per-query allocation.
//!
//! ZSCAN over the big form walks slab ids: a member present for the whole
//! scan keeps its id, so it is returned (Redis's guarantee).

use std::cmp::Ordering;
use std::hash::BuildHasher;

/// Most entries in one order chunk; every chunk is allocated with exactly
/// this capacity (2 KiB, a jemalloc size class), so it never reallocates.
#[cfg(not(test))]
const CHUNK_MAX: usize = 128;
/// Entries per chunk when building from sorted data.
#[cfg(not(test))]
const CHUNK_FILL: usize = 112;
// Tiny chunks in tests, so the model test splits, merges and drops many.
#[cfg(test)]
const CHUNK_MAX: usize = 8;
#[cfg(test)]
const CHUNK_FILL: usize = 6;

fn new_chunk() -> Vec<(f64, u32)> {
    Vec::with_capacity(CHUNK_MAX)
}

const EMPTY: u32 = u32::MAX;
const TOMB: u32 = u32::MAX - 1;

#[derive(Debug, Clone)]
pub enum ZSet {
    /// Redis's `listpack` encoding: an exact-size buffer (16 bytes here,
    /// so the whole enum is 16 and `Value` stays 32), reallocated on each
    /// change as Redis reallocates a listpack.
    Listpack(Box<[u8]>),
    /// Redis's `skiplist` encoding (see the module docs).
    Skiplist(Box<Big>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(vec![0; 4].into_boxed_slice())
    }
}

/// A position in the order, from [`ZSet::seek`]; only valid until the set
/// changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cur {
    a: usize,
    b: usize,
}

#[derive(Debug, Clone)]
struct Slot {
    member: Option<Box<[u8]>>,
    score: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Big {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: Vec<u32>,
    /// Live plus tombstone slots of `index`.
    used: usize,
    chunks: Vec<Vec<(f64, u32)>>,
    /// Fenwick tree (1-based in spirit, stored 0-based) of chunk lengths.
    fen: Vec<u32>,
    /// Each chunk's last score, contiguous, so finding a chunk does not
    /// touch every probed chunk's buffer (members are read on ties only).
    lasts: Vec<f64>,
    len: usize,
}

/// The member hash of the big form's index, keyed once per process at
/// random (as Redis keys its siphash), so clients cannot precompute
/// colliding members. Nothing visible depends on it: ZSCAN walks slab ids.
fn hash(member: &[u8]) -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64));
    foldhash::quality::FixedState::with_seed(seed).hash_one(member)
}

fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

// ---------------------------------------------------------------- listpack

fn lp_count(buf: &[u8]) -> usize {
    u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize
}

fn lp_set_count(buf: &mut [u8], n: usize) {
    buf[0..4].copy_from_slice(&(n as u32).to_le_bytes());
}

/// The entry at `off`: member, score, offset of the next entry.
fn lp_entry(buf: &[u8], off: usize) -> (&[u8], f64, usize) {
    let len = u32::from_le_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
    let score = f64::from_le_bytes(buf[off + 4..off + 12].try_into().unwrap());
    (&buf[off + 12..off + 12 + len], score, off + 16 + len)
}

fn lp_prev(buf: &[u8], off: usize) -> usize {
    let len = u32::from_le_bytes(buf[off - 4..off].try_into().unwrap()) as usize;
    off - 16 - len
}

fn lp_insert_at(buf: &mut Vec<u8>, off: usize, member: &[u8], score: f64) {
    // A listpack holds a score as text, where -0 reads back as 0.
    let score = if score == 0.0 { 0.0 } else { score };
    let n = member.len() + 16;
    let old = buf.len();
    buf.resize(old + n, 0);
    buf.copy_within(off..old, off + n);
    let len = (member.len() as u32).to_le_bytes();
    buf[off..off + 4].copy_from_slice(&len);
    buf[off + 4..off + 12].copy_from_slice(&score.to_le_bytes());
    buf[off + 12..off + 12 + member.len()].copy_from_slice(member);
    buf[off + 12 + member.len()..off + n].copy_from_slice(&len);
    let c = lp_count(buf);
    lp_set_count(buf, c + 1);
}

/// Removes the bytes `from..to`, which hold `n` entries.
fn lp_remove(b: &mut Box<[u8]>, from: usize, to: usize, n: usize) {
    let mut v = std::mem::take(b).into_vec();
    v.drain(from..to);
    let c = lp_count(&v);
    lp_set_count(&mut v, c - n);
    *b = v.into_boxed_slice();
}

/// Offset of `member`'s entry.
fn lp_find(buf: &[u8], member: &[u8]) -> Option<usize> {
    let mut off = 4;
    while off < buf.len() {
        let (m, _, next) = lp_entry(buf, off);
        if m == member {
            return Some(off);
        }
        off = next;
    }
    None
}

// ---------------------------------------------------------------- big form

impl Big {
    fn member(&self, id: u32) -> &[u8] {
        self.slots[id as usize].member.as_deref().unwrap_or(&[])
    }

    fn find_id(&self, member: &[u8]) -> Option<u32> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut p = hash(member) as usize & mask;
        loop {
            match self.index[p] {
                EMPTY => return None,
                TOMB => {}
                id => {
                    if self.member(id) == member {
                        return Some(id);
                    }
                }
            }
            p = (p + 1) & mask;
        }
    }

    fn index_pos(&self, member: &[u8]) -> Option<usize> {
        let mask = self.index.len() - 1;
        let mut p = hash(member) as usize & mask;
        loop {
            match self.index[p] {
                EMPTY => return None,
                TOMB => {}
                id => {
                    if self.member(id) == member {
                        return Some(p);
                    }
                }
            }
            p = (p + 1) & mask;
        }
    }

    fn index_insert(&mut self, id: u32) {
        if (self.used + 1) * 4 > self.index.len() * 3 {
            self.rebuild_index(self.len + 1);
        }
        let mask = self.index.len() - 1;
        let mut p = hash(self.member(id)) as usize & mask;
        loop {
            match self.index[p] {
                EMPTY => {
                    self.used += 1;
                    break;
                }
                TOMB => break,
                _ => p = (p + 1) & mask,
            }
        }
        self.index[p] = id;
    }

    fn rebuild_index(&mut self, want: usize) {
        let cap = (want * 2).next_power_of_two().max(8);
        let mut index = vec![EMPTY; cap];
        let mask = cap - 1;
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(m) = &slot.member {
                let mut p = hash(m) as usize & mask;
                while index[p] != EMPTY {
                    p = (p + 1) & mask;
                }
                index[p] = id as u32;
            }
        }
        self.index = index;
        self.used = self.len;
    }

    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let slot = Slot {
            member: Some(member.into()),
            score,
        };
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Drops a slot that is already out of the order.
    fn release(&mut self, id: u32) {
        // Find the index entry while the slot still names its member: a
        // slot with no member would not match, leaving a stale entry that
        // an empty member's lookup would then find.
        let member = self.slots[id as usize]
            .member
            .as_deref()
            .unwrap_or_default();
        if let Some(p) = self.index_pos(member) {
            self.index[p] = TOMB;
        }
        self.slots[id as usize].member = None;
        self.free.push(id);
        self.len -= 1;
        if self.len == 0 {
            self.slots.clear();
            self.free.clear();
            self.index.iter_mut().for_each(|v| *v = EMPTY);
            self.used = 0;
        } else if self.index.len() > 64 && self.len * 8 < self.index.len() {
            self.rebuild_index(self.len);
        }
    }

    fn rebuild_fen(&mut self) {
        let n = self.chunks.len();
        self.lasts.clear();
        self.lasts
            .extend(self.chunks.iter().map(|c| c.last().map_or(0.0, |e| e.0)));
        self.fen.clear();
        self.fen.extend(self.chunks.iter().map(|c| c.len() as u32));
        for i in 0..n {
            let j = i | (i + 1);
            if j < n {
                self.fen[j] += self.fen[i];
            }
        }
    }

    fn fen_add(&mut self, chunk: usize, delta: i64) {
        let mut i = chunk;
        while i < self.fen.len() {
            self.fen[i] = (self.fen[i] as i64 + delta) as u32;
            i |= i + 1;
        }
    }

    /// Entries in chunks before `chunk`.
    fn fen_prefix(&self, chunk: usize) -> usize {
        let mut sum = 0usize;
        let mut i = chunk;
        while i > 0 {
            sum += self.fen[i - 1] as usize;
            i &= i - 1;
        }
        sum
    }

    /// (chunk, offset) of rank `rank` (< len).
    fn fen_find(&self, rank: usize) -> (usize, usize) {
        let n = self.fen.len();
        let mut pos = 0usize;
        let mut rem = rank;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && (self.fen[next - 1] as usize) <= rem {
                pos = next;
                rem -= self.fen[next - 1] as usize;
            }
            step >>= 1;
        }
        (pos, rem)
    }

    /// Compares an order entry with (score, member); the member (a slab
    /// lookup) is only read on a score tie.
    fn cmp_entry(&self, e: (f64, u32), score: f64, member: &[u8]) -> Ordering {
        match e.0.partial_cmp(&score) {
            Some(Ordering::Equal) | None => self.member(e.1).cmp(member),
            Some(o) => o,
        }
    }

    /// The chunk where (score, member) is or would go.
    fn chunk_for(&self, score: f64, member: &[u8]) -> usize {
        let mut lo = 0;
        let mut hi = self.lasts.len();
        while lo < hi {
            let mid = (lo + hi) / 2;
            let last = self.lasts[mid];
            let less = if last < score {
                true
            } else if last > score {
                false
            } else {
                let id = self.chunks[mid].last().map_or(0, |e| e.1);
                self.member(id) < member
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.min(self.chunks.len().saturating_sub(1))
    }

    fn locate(&self, score: f64, member: &[u8]) -> Option<(usize, usize)> {
        if self.chunks.is_empty() {
            return None;
        }
        let c = self.chunk_for(score, member);
        let ch = &self.chunks[c];
        let i = ch.partition_point(|&e| self.cmp_entry(e, score, member) == Ordering::Less);
        (i < ch.len() && self.slots[ch[i].1 as usize].member.as_deref() == Some(member))
            .then_some((c, i))
    }

    fn order_insert(&mut self, score: f64, id: u32) {
        if self.chunks.is_empty() {
            let mut chunk = new_chunk();
            chunk.push((score, id));
            self.chunks.push(chunk);
            self.rebuild_fen();
            return;
        }
        let member = self.member(id);
        let c = self.chunk_for(score, member);
        let i =
            self.chunks[c].partition_point(|&e| self.cmp_entry(e, score, member) == Ordering::Less);
        if self.chunks[c].len() == CHUNK_MAX {
            // Full. Appending past the end (or before the start) starts a
            // new chunk, so ascending or descending insertions leave full
            // chunks behind; anywhere else the chunk is halved.
            let e = (score, id);
            if c + 1 == self.chunks.len() && i == CHUNK_MAX {
                let mut tail = new_chunk();
                tail.push(e);
                self.chunks.push(tail);
            } else if c == 0 && i == 0 {
                let mut head = new_chunk();
                head.push(e);
                self.chunks.insert(0, head);
            } else {
                let half = CHUNK_MAX / 2;
                let mut tail = new_chunk();
                tail.extend_from_slice(&self.chunks[c][half..]);
                self.chunks[c].truncate(half);
                if i <= half {
                    self.chunks[c].insert(i, e);
                } else {
                    tail.insert(i - half, e);
                }
                self.chunks.insert(c + 1, tail);
            }
            self.rebuild_fen();
        } else {
            self.chunks[c].insert(i, (score, id));
            self.fen_add(c, 1);
            self.lasts[c] = self.chunks[c][self.chunks[c].len() - 1].0;
        }
    }

    /// Removes the entry at (c, i) from the order; returns its id.
    fn order_remove(&mut self, c: usize, i: usize) -> u32 {
        let (_, id) = self.chunks[c].remove(i);
        if self.chunks[c].is_empty() {
            self.chunks.remove(c);
            self.rebuild_fen();
        } else if self.chunks[c].len() < CHUNK_MAX / 4
            && c + 1 < self.chunks.len()
            && self.chunks[c].len() + self.chunks[c + 1].len() <= CHUNK_FILL
        {
            let next = self.chunks.remove(c + 1);
            self.chunks[c].extend_from_slice(&next);
            self.rebuild_fen();
        } else {
            self.fen_add(c, -1);
            self.lasts[c] = self.chunks[c][self.chunks[c].len() - 1].0;
        }
        id
    }

    fn from_sorted(entries: impl Iterator<Item = (Vec<u8>, f64)>, hint: usize) -> Big {
        let mut big = Big::default();
        big.slots.reserve(hint);
        let mut chunk = new_chunk();
        for (m, s) in entries {
            let id = big.alloc(&m, s);
            chunk.push((s, id));
            big.len += 1;
            if chunk.len() == CHUNK_FILL {
                big.chunks.push(std::mem::replace(&mut chunk, new_chunk()));
            }
        }
        if !chunk.is_empty() {
            big.chunks.push(chunk);
        }
        big.rebuild_index(big.len);
        big.rebuild_fen();
        big
    }
}

// ---------------------------------------------------------------- ZSet API

impl ZSet {
    /// An empty set in the encoding Redis's `zsetTypeCreate` picks for
    /// `size_hint` elements of at most `len_hint` bytes.
    pub fn with_hint(
        size_hint: usize,
        len_hint: usize,
        max_entries: usize,
        max_value: usize,
    ) -> ZSet {
        if size_hint <= max_entries && len_hint <= max_value {
            ZSet::default()
        } else {
            ZSet::Skiplist(Box::default())
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Slots of the `skiplist` encoding's member index; `None` for a
    /// listpack.
    pub fn table_slots(&self) -> Option<usize> {
        match self {
            ZSet::Listpack(_) => None,
            ZSet::Skiplist(big) => Some(big.index.len()),
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, ZSet::Listpack(_))
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(b) => lp_count(b),
            ZSet::Skiplist(big) => big.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(b) => lp_find(b, member).map(|off| lp_entry(b, off).1),
            ZSet::Skiplist(big) => big.find_id(member).map(|id| big.slots[id as usize].score),
        }
    }

    /// Converts to the big form (Redis's `zsetConvert`).
    pub fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(b) = self {
            let n = lp_count(b);
            let mut off = 4;
            let buf = std::mem::take(b);
            let iter = std::iter::from_fn(|| {
                if off >= buf.len() {
                    return None;
                }
                let (m, s, next) = lp_entry(&buf, off);
                off = next;
                Some((m.to_vec(), s))
            });
            let big = Big::from_sorted(iter, n);
            *self = ZSet::Skiplist(Box::new(big));
        }
    }

    /// Converts back to listpack if small enough (Redis's
    /// `zsetConvertToListpackIfNeeded`, used for stored results).
    pub fn convert_to_listpack_if_fits(&mut self, max_entries: usize, max_value: usize) {
        if let ZSet::Skiplist(big) = self {
            if big.len > max_entries {
                return;
            }
            let mut buf = vec![0u8; 4];
            for ch in &big.chunks {
                for &(s, id) in ch {
                    let m = big.member(id);
                    if m.len() > max_value {
                        return;
                    }
                    let off = buf.len();
                    lp_insert_at(&mut buf, off, m, s);
                }
            }
            *self = ZSet::Listpack(buf.into_boxed_slice());
        }
    }

    /// Adds a member that is not in the set (check with [`ZSet::score`]:
    /// adding one twice breaks the set's invariants), converting to the big
    /// form first when Redis would: more than `max_entries` members or a
    /// member longer than `max_value` bytes.
    pub fn insert(&mut self, member: &[u8], score: f64, max_entries: usize, max_value: usize) {
        if let ZSet::Listpack(b) = self {
            if lp_count(b) + 1 > max_entries || member.len() > max_value {
                self.convert_to_skiplist();
            }
        }
        match self {
            ZSet::Listpack(b) => {
                let mut off = 4;
                while off < b.len() {
                    let (m, s, next) = lp_entry(b, off);
                    if cmp_key(s, m, score, member) == Ordering::Greater {
                        break;
                    }
                    off = next;
                }
                let mut v = std::mem::take(b).into_vec();
                v.reserve_exact(member.len() + 16);
                lp_insert_at(&mut v, off, member, score);
                *b = v.into_boxed_slice();
            }
            ZSet::Skiplist(big) => {
                let id = big.alloc(member, score);
                big.len += 1;
                big.index_insert(id);
                big.order_insert(score, id);
            }
        }
    }

    /// Changes the score of a member that is in the set (a member that is
    /// not is left alone).
    pub fn update(&mut self, member: &[u8], score: f64) {
        match self {
            ZSet::Listpack(_) => {
                self.remove(member);
                // A listpack keeps its encoding when a score changes.
                self.insert(member, score, usize::MAX, usize::MAX);
            }
            ZSet::Skiplist(big) => {
                let Some(id) = big.find_id(member) else {
                    return;
                };
                let old = big.slots[id as usize].score;
                if let Some((c, i)) = big.locate(old, member) {
                    big.order_remove(c, i);
                }
                big.slots[id as usize].score = score;
                big.order_insert(score, id);
            }
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(b) => match lp_find(b, member) {
                Some(off) => {
                    let (_, _, next) = lp_entry(b, off);
                    lp_remove(b, off, next, 1);
                    true
                }
                None => false,
            },
            ZSet::Skiplist(big) => {
                let Some(id) = big.find_id(member) else {
                    return false;
                };
                let score = big.slots[id as usize].score;
                if let Some((c, i)) = big.locate(score, member) {
                    big.order_remove(c, i);
                }
                big.release(id);
                true
            }
        }
    }

    /// 0-based ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Listpack(b) => {
                let mut off = 4;
                let mut r = 0;
                while off < b.len() {
                    let (m, s, next) = lp_entry(b, off);
                    if m == member {
                        return Some((r, s));
                    }
                    r += 1;
                    off = next;
                }
                None
            }
            ZSet::Skiplist(big) => {
                let id = big.find_id(member)?;
                let score = big.slots[id as usize].score;
                let (c, i) = big.locate(score, member)?;
                Some((big.fen_prefix(c) + i, score))
            }
        }
    }

    /// Members and scores in rank order (lowest score first).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut cur = (!self.is_empty()).then(|| self.seek(0));
        (0..self.len()).map(move |i| {
            let c = cur.as_mut().expect("non-empty set has a cursor");
            let entry = self.get(*c);
            // The cursor never moves past the last entry.
            if i + 1 < self.len() {
                self.next(c);
            }
            entry
        })
    }

    /// A cursor at `rank`.
    ///
    /// # Panics
    /// If `rank >= len()` (a caller bug: commands clamp ranks first).
    pub fn seek(&self, rank: usize) -> Cur {
        match self {
            ZSet::Listpack(b) => {
                let mut off = 4;
                for _ in 0..rank {
                    off = lp_entry(b, off).2;
                }
                Cur { a: off, b: 0 }
            }
            ZSet::Skiplist(big) => {
                let (c, i) = big.fen_find(rank);
                Cur { a: c, b: i }
            }
        }
    }

    /// The entry under a cursor.
    ///
    /// # Panics
    /// If the cursor was moved past either end, or the set changed since
    /// [`ZSet::seek`].
    pub fn get(&self, cur: Cur) -> (&[u8], f64) {
        match self {
            ZSet::Listpack(b) => {
                let (m, s, _) = lp_entry(b, cur.a);
                (m, s)
            }
            ZSet::Skiplist(big) => {
                let (s, id) = big.chunks[cur.a][cur.b];
                (big.member(id), s)
            }
        }
    }

    /// Moves to the next entry (the caller keeps within bounds).
    pub fn next(&self, cur: &mut Cur) {
        match self {
            ZSet::Listpack(b) => cur.a = lp_entry(b, cur.a).2,
            ZSet::Skiplist(big) => {
                cur.b += 1;
                if cur.b >= big.chunks[cur.a].len() {
                    cur.a += 1;
                    cur.b = 0;
                }
            }
        }
    }

    /// Moves to the previous entry (the caller keeps within bounds).
    pub fn prev(&self, cur: &mut Cur) {
        match self {
            ZSet::Listpack(b) => {
                if cur.a > 4 {
                    cur.a = lp_prev(b, cur.a);
                }
            }
            ZSet::Skiplist(big) => {
                if cur.b > 0 {
                    cur.b -= 1;
                } else if cur.a > 0 {
                    cur.a -= 1;
                    cur.b = big.chunks[cur.a].len() - 1;
                }
            }
        }
    }

    /// Number of leading entries satisfying `pred`. For a listpack this is
    /// a walk that stops at the first entry failing it (Redis's listpack
    /// range search); for the big form a binary search, so `pred` should be
    /// monotone over the order (true, then false).
    pub fn partition(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match self {
            ZSet::Listpack(b) => {
                let mut off = 4;
                let mut n = 0;
                while off < b.len() {
                    let (m, s, next) = lp_entry(b, off);
                    if !pred(m, s) {
                        break;
                    }
                    n += 1;
                    off = next;
                }
                n
            }
            ZSet::Skiplist(big) => {
                let c = big.chunks.partition_point(|ch| {
                    let (s, id) = *ch.last().unwrap();
                    pred(big.member(id), s)
                });
                if c == big.chunks.len() {
                    return big.len;
                }
                let i = big.chunks[c].partition_point(|&(s, id)| pred(big.member(id), s));
                big.fen_prefix(c) + i
            }
        }
    }

    /// [`ZSet::partition`] for a predicate on scores only: in the big form
    /// the search reads no members (score order is monotone).
    pub fn partition_score(&self, pred: impl Fn(f64) -> bool) -> usize {
        match self {
            ZSet::Listpack(_) => self.partition(|_, s| pred(s)),
            ZSet::Skiplist(big) => {
                let c = big.lasts.partition_point(|&l| pred(l));
                if c == big.chunks.len() {
                    return big.len;
                }
                let i = big.chunks[c].partition_point(|e| pred(e.0));
                big.fen_prefix(c) + i
            }
        }
    }

    /// [`ZSet::rpartition`] for a predicate on scores only.
    pub fn rpartition_score(&self, pred: impl Fn(f64) -> bool) -> usize {
        match self {
            ZSet::Listpack(_) => self.rpartition(|_, s| pred(s)),
            ZSet::Skiplist(_) => self.len() - self.partition_score(|s| !pred(s)),
        }
    }

    /// Number of trailing entries satisfying `pred` (walking from the end
    /// for a listpack; see [`ZSet::partition`]).
    pub fn rpartition(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match self {
            ZSet::Listpack(b) => {
                let mut off = b.len();
                let mut n = 0;
                while off > 4 {
                    let p = lp_prev(b, off);
                    let (m, s, _) = lp_entry(b, p);
                    if !pred(m, s) {
                        break;
                    }
                    n += 1;
                    off = p;
                }
                n
            }
            ZSet::Skiplist(_) => self.len() - self.partition(|m, s| !pred(m, s)),
        }
    }

    /// Removes ranks `start..end`.
    pub fn remove_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSet::Listpack(b) => {
                let mut from = 4;
                for _ in 0..start {
                    from = lp_entry(b, from).2;
                }
                let mut to = from;
                for _ in start..end {
                    to = lp_entry(b, to).2;
                }
                lp_remove(b, from, to, end - start);
            }
            ZSet::Skiplist(big) => {
                let (mut c, mut off) = big.fen_find(start);
                let mut remaining = end - start;
                let mut ids = Vec::new();
                while remaining > 0 {
                    let take = remaining.min(big.chunks[c].len() - off);
                    ids.extend(big.chunks[c].drain(off..off + take).map(|e| e.1));
                    remaining -= take;
                    if big.chunks[c].is_empty() {
                        big.chunks.remove(c);
                    } else {
                        c += 1;
                    }
                    off = 0;
                }
                big.rebuild_fen();
                for id in ids {
                    big.release(id);
                }
            }
        }
    }

    /// ZSCAN over the big form: visits up to `count` slab slots from
    /// `cursor`, calling `f` for each live member; returns the next cursor
    /// (0 when done). A listpack returns everything at once.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(_) if self.is_empty() => 0,
            ZSet::Listpack(_) => {
                let mut cur = self.seek(0);
                for _ in 0..self.len() {
                    let (m, s) = self.get(cur);
                    f(m, s);
                    self.next(&mut cur);
                }
                0
            }
            ZSet::Skiplist(big) => {
                let start = usize::try_from(cursor).unwrap_or(usize::MAX);
                let mut i = start;
                let mut seen = 0;
                while i < big.slots.len() && seen < count.max(1) {
                    if let Some(m) = &big.slots[i].member {
                        f(m, big.slots[i].score);
                        seen += 1;
                    }
                    i += 1;
                }
                if i >= big.slots.len() {
                    0
                } else {
                    i as u64
                }
            }
        }
    }

    /// Longest member (for stored results' encoding choice).
    pub fn max_member_len(&self) -> usize {
        self.iter().map(|(m, _)| m.len()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn size_fits_value() {
        // 16, so that `Coll<ZSet>` (with its clock) leaves `Value` at 32.
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
        assert_eq!(std::mem::size_of::<crate::Value>(), 32);
    }

    #[test]
    fn a_removed_member_leaves_no_entry_an_empty_member_could_find() {
        let mut z = ZSet::with_hint(2, 65, 128, 64);
        z.insert(&[b'y'; 65], 1.0, 128, 64);
        z.insert(b"Palermo", 2.0, 128, 64);
        assert!(!z.is_listpack());
        assert!(z.remove(b"Palermo"));
        assert_eq!(z.score(b""), None);
        assert_eq!(z.score(b"Palermo"), None);
        z.insert(b"", 3.0, 128, 64);
        assert_eq!((z.score(b""), z.len()), (Some(3.0), 2));
    }

    /// The reference: member → score, and the order as a sorted Vec.
    fn model_order(m: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<_> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
        v.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
        v
    }

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        if z.is_empty() {
            return out;
        }
        let mut cur = z.seek(0);
        for _ in 0..z.len() {
            let (m, s) = z.get(cur);
            out.push((m.to_vec(), s));
            z.next(&mut cur);
        }
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u16, i8),
        Rem(u16),
        RemRange(u16, u16),
        Check(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u16..400, any::<i8>()).prop_map(|(m, s)| Op::Add(m, s)),
            3 => (0u16..400).prop_map(Op::Rem),
            1 => (0u16..300, 0u16..20).prop_map(|(a, b)| Op::RemRange(a, b)),
            2 => (0u16..400).prop_map(Op::Check),
        ]
    }

    fn name(m: u16) -> Vec<u8> {
        if m % 37 == 0 {
            vec![b'x'; 20 + m as usize % 7]
        } else {
            format!("m{m}").into_bytes()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 1..3000)) {
            let (max_entries, max_value) = (16, 22);
            // (CHUNK_MAX is 8 in tests: sets reach ~400 members, many chunks.)
            let mut z = ZSet::default();
            let mut m: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Add(k, s) => {
                        let k = name(k);
                        let s = f64::from(s) / 4.0;
                        if m.contains_key(&k) {
                            z.update(&k, s);
                        } else {
                            let was_big = !z.is_listpack();
                            z.insert(&k, s, max_entries, max_value);
                            prop_assert!(!was_big || !z.is_listpack());
                        }
                        m.insert(k, s);
                    }
                    Op::Rem(k) => {
                        let k = name(k);
                        prop_assert_eq!(z.remove(&k), m.remove(&k).is_some());
                    }
                    Op::RemRange(a, n) => {
                        let order = model_order(&m);
                        let a = a as usize;
                        let end = (a + n as usize).min(order.len());
                        if a < end {
                            for (k, _) in &order[a..end] {
                                m.remove(k);
                            }
                        }
                        z.remove_range(a, a + n as usize);
                    }
                    Op::Check(k) => {
                        let k = name(k);
                        let order = model_order(&m);
                        let want = order.iter().position(|e| e.0 == k).map(|r| (r, order[r].1));
                        prop_assert_eq!(z.rank(&k), want);
                        prop_assert_eq!(z.score(&k), m.get(&k).copied());
                        let below = order.iter().filter(|e| e.1 < 0.0).count();
                        prop_assert_eq!(z.partition(|_, s| s < 0.0), below);
                        prop_assert_eq!(z.rpartition(|_, s| s >= 0.0), order.len() - below);
                        prop_assert_eq!(z.partition_score(|s| s < 0.0), below);
                        prop_assert_eq!(z.rpartition_score(|s| s >= 0.0), order.len() - below);
                        if !order.is_empty() {
                            let r = k.len() % order.len();
                            let (mm, ss) = z.get(z.seek(r));
                            prop_assert_eq!((mm.to_vec(), ss), order[r].clone());
                            // Walk back from the end.
                            let mut cur = z.seek(order.len() - 1);
                            for i in (0..order.len()).rev() {
                                let (mm, ss) = z.get(cur);
                                prop_assert_eq!((mm.to_vec(), ss), order[i].clone());
                                z.prev(&mut cur);
                            }
                        }
                    }
                }
                prop_assert_eq!(z.len(), m.len());
                if m.len() > max_entries {
                    prop_assert!(!z.is_listpack());
                }
            }
            prop_assert_eq!(contents(&z), model_order(&m));
            // Scans see everything exactly once.
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = z.scan(cursor, 7, |m, s| seen.push((m.to_vec(), s)));
                if cursor == 0 { break; }
            }
            seen.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
            prop_assert_eq!(seen, model_order(&m));
            let mut z2 = z.clone();
            z2.convert_to_listpack_if_fits(usize::MAX, usize::MAX);
            prop_assert_eq!(contents(&z2), model_order(&m));
        }
    }
}
