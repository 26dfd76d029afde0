//! `Dict<T>`: the hash table under the keyspace, hashes and sets.
//!
//! It exists for one reason: Redis's `SCAN` promises that every element
//! present for the whole of a full scan (cursor 0 back to 0) is returned at
//! least once, even when the table grows or shrinks between calls, and it
//! returns in small batches. `hashbrown` cannot make that promise, because its
//! iteration order depends on its capacity.
//!
//! # Layout: a table sorted by hash
//!
//! Open addressing with linear probing, ordered Robin Hood insertion and
//! backward-shift deletion. An element's home slot is the *top* bits of its
//! 64-bit hash (`hash >> (64 - log2(capacity))`), and probing never wraps
//! around: the slot array is `capacity` home slots plus an overflow tail.
//! Insertion places an element before the first slot holding a larger hash
//! (shifting the rest of the run right by one), which is Robin Hood with the
//! full hash as the tie-break. So the occupied slots are always **sorted by
//! hash**, and the order does not depend on the capacity.
//!
//! That gives the scan cursor for free: a cursor is "the next hash value to
//! visit". `scan(cursor)` starts at the home slot of `cursor`, visits
//! elements in hash order, and returns the hash after the last one visited.
//! Whatever resizes happen between calls, everything with a smaller hash was
//! visited before and everything with a larger one is still ahead. A full scan
//! of an unmodified table visits each element exactly once (Redis's reverse
//! binary cursor can repeat elements after a shrink; this cannot).
//!
//! Sorting also stops lookups early: a probe ends at the first slot whose hash
//! is larger than the one looked for, so misses are as cheap as hits.
//! Measured at the maximum load (7/8) with 2^10..2^20 home slots, an element
//! sits on average 2-3.5 slots after its home and at most about 50.
//!
//! # Reserved values
//!
//! - Hash `u64::MAX` marks an empty slot. Real hashes have their lowest bit
//!   cleared, so they are never `u64::MAX`; a probe can then stop at "slot
//!   hash > wanted hash" without a separate emptiness test.
//! - The last slot of the array is always empty (a sentinel), so probes that
//!   walk right always stop inside the array.
//! - Cursor 0 means "start" when passed in and "done" when returned. A real
//!   hash may be 0: cursor 0 starts at hash 0, so nothing is skipped. A
//!   returned cursor is `last_hash + 1` (never 0, because the last hash is
//!   never `u64::MAX`) or the first hash of an empty home slot past the start
//!   (never 0 either).
//!
//! # Resizing
//!
//! The table grows (doubles) when `len` would exceed 7/8 of the home slots,
//! and shrinks when `len` falls below 1/10 of them (like Redis), to the
//! smallest power of two that leaves it at most half full, never below
//! [`MIN_CAPACITY_SLOTS`]. A resize rehashes everything at once, in O(n):
//! because the old array is already sorted, rehashing is one sequential pass
//! with no probing. Incremental rehash (as Redis does) is a possible
//! follow-up if resize pauses on huge keyspaces matter.
//!
//! If an insertion would spill past the overflow tail, the table grows when
//! it is at least half full; below that, growing would not help much (the
//! cluster is bad luck or colliding hashes), so the tail is extended instead.
//! That keeps degenerate hashes from doubling memory without bound.
//!
//! # Hashing
//!
//! foldhash (the "quality" variant, because home slots use the top bits)
//! keyed with a 64-bit seed chosen at random once per process, so an
//! attacker cannot precompute colliding keys, like Redis's siphash seed.
//! [`Dict::with_seed`] fixes the seed for deterministic tests.
//!
//! # Example
//!
//! (The unit test `module_docs_example` runs this; the module is private to
//! the crate, so rustdoc cannot.)
//!
//! ```text
//! struct Pair(Vec<u8>, u64);
//! impl DictItem for Pair {
//!     fn key(&self) -> &[u8] {
//!         &self.0
//!     }
//! }
//!
//! let mut dict = Dict::with_seed(42);
//! dict.insert(Pair(b"a".to_vec(), 1));
//! dict.insert(Pair(b"b".to_vec(), 2));
//! assert_eq!(dict.get(b"a").map(|p| p.1), Some(1));
//!
//! // A full SCAN: call until the cursor comes back as 0.
//! let mut seen = 0;
//! let mut cursor = 0;
//! loop {
//!     cursor = dict.scan(cursor, 10, |_| seen += 1);
//!     if cursor == 0 {
//!         break;
//!     }
//! }
//! assert_eq!(seen, 2);
//! ```

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use foldhash::quality::FixedState;

/// An element a [`Dict`] can hold: anything that can show its key.
///
/// The key must not change while the item is in a dict. If it does (through
/// [`Dict::get_mut`] or [`Dict::iter_mut`]), lookups for the item fail; that
/// is a logic error, as with `std::collections::HashMap`, never memory
/// unsafety.
pub trait DictItem {
    /// The bytes the item is hashed and compared by.
    fn key(&self) -> &[u8];
}

/// Smallest number of home slots. Small enough that a hash or set with a
/// handful of members stays a few hundred bytes; a power of two, as every
/// capacity is.
pub const MIN_CAPACITY_SLOTS: usize = 4;

/// The table grows when `len` would exceed `LOAD_MAX_NUM / LOAD_MAX_DEN` of the
/// home slots. Robin Hood keeps displacement even and sorted order ends
/// misses early, so even 31/32 costs a few extra slot compares per lookup
/// (within the cache lines a probe touches anyway) — and it is what lets a
/// keyspace of 1,000,000 keys fit 2^20 slots (16 MiB) rather than 2^21
/// (32 MiB): the table is 16 bytes per key where Redis's chained dict
/// spends 8 + a 24-byte dictEntry. `scripts/mem-collections.sh` and
/// `scripts/bench-vs-redis.sh` measure the result.
const LOAD_MAX_NUM: usize = 31;
const LOAD_MAX_DEN: usize = 32;

/// The table shrinks when `len` falls below `1 / SHRINK_BELOW_DIVISOR` of the
/// home slots, as Redis does (`HASHTABLE_MIN_FILL`).
const SHRINK_BELOW_DIVISOR: usize = 10;

/// Most empty slots one `scan` call walks past, per element asked for,
/// before returning, so a call on a sparse table stays short (Redis uses 10
/// too).
const SCAN_EMPTY_SLOTS_PER_COUNT: usize = 10;

/// Hash of an empty slot. Real hashes have their low bit cleared, so they
/// never equal it (see the module docs).
const EMPTY: u64 = u64::MAX;

/// One slot: the element's full hash, so probes compare hashes before
/// touching keys, and the element. `Option<T>` costs nothing for pointer-like
/// `T` (`Box`, `Vec`) thanks to the niche, so a slot is
/// `size_of::<T>() + 8` bytes.
#[derive(Clone)]
struct Slot<T> {
    hash: u64,
    item: Option<T>,
}

impl<T> Slot<T> {
    const EMPTY: Slot<T> = Slot {
        hash: EMPTY,
        item: None,
    };
}

/// Hash table of `T: DictItem`, kept sorted by hash so that [`Dict::scan`]
/// can resume from a cursor across resizes. See the module docs.
#[derive(Clone)]
pub struct Dict<T> {
    /// `capacity` home slots, then the overflow tail; the last slot is always
    /// empty.
    slots: Vec<Slot<T>>,
    len: usize,
    /// `log2` of the number of home slots.
    capacity_log2: u32,
    seed: u64,
    hasher: FixedState,
    /// Test-only: keep only the `hash_mask` bits of each hash, then set the
    /// `hash_set` bits, to force collisions and clusters.
    #[cfg(test)]
    hash_mask: u64,
    #[cfg(test)]
    hash_set: u64,
}

/// One step of splitmix64: a well-mixed 64-bit value per call.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The per-process hash seed: random, chosen once.
fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    // std's RandomState is keyed from the OS's random source; hashing a
    // constant with it yields a random u64 without another dependency.
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x5ea1_u64))
}

/// Number of slots past the home slots, the sentinel included. Clusters at
/// the end of the array spill into it; its length grows slowly with the
/// table because the longest cluster does (O(log n) for a good hash).
fn tail_slots(capacity_log2: u32) -> usize {
    2 + 2 * capacity_log2 as usize
}

fn empty_slots<T>(capacity_log2: u32) -> Vec<Slot<T>> {
    let n = (1usize << capacity_log2) + tail_slots(capacity_log2);
    let mut slots = Vec::with_capacity(n);
    slots.resize_with(n, || Slot::EMPTY);
    slots
}

/// `log2` of the smallest power-of-two home slot count that holds `len`
/// elements at no more than the maximum load.
fn capacity_log2_for(len: usize) -> u32 {
    let needed = len
        .checked_mul(LOAD_MAX_DEN)
        .map(|n| n.div_ceil(LOAD_MAX_NUM))
        .and_then(usize::checked_next_power_of_two)
        .expect("Dict capacity overflows usize");
    needed.max(MIN_CAPACITY_SLOTS).trailing_zeros()
}

impl<T: DictItem> Dict<T> {
    /// An empty dict hashed with the per-process random seed.
    pub fn new() -> Self {
        Self::with_seed(process_seed())
    }

    /// An empty dict that holds at least `n` elements before it grows.
    ///
    /// # Panics
    ///
    /// If the capacity for `n` overflows `usize`.
    pub fn with_capacity(n: usize) -> Self {
        let mut dict = Self::new();
        dict.capacity_log2 = capacity_log2_for(n);
        dict.slots = empty_slots(dict.capacity_log2);
        dict
    }

    /// An empty dict with a fixed hash seed: same seed, same hashes, same
    /// iteration and scan order. For tests and reproducible runs; servers use
    /// [`Dict::new`].
    pub fn with_seed(seed: u64) -> Self {
        let capacity_log2 = MIN_CAPACITY_SLOTS.trailing_zeros();
        Dict {
            slots: empty_slots(capacity_log2),
            len: 0,
            capacity_log2,
            seed,
            hasher: FixedState::with_seed(seed),
            #[cfg(test)]
            hash_mask: !0,
            #[cfg(test)]
            hash_set: 0,
        }
    }

    /// The hash seed, to log alongside a failing seeded run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of elements the dict holds before it next grows.
    pub fn capacity(&self) -> usize {
        self.home_slots() * LOAD_MAX_NUM / LOAD_MAX_DEN
    }

    /// Home slots of the table (DEBUG HTSTATS-KEY's "table size").
    pub fn slot_count(&self) -> usize {
        self.home_slots()
    }

    /// Bytes of the slot array, for `INFO memory`. Does not include what the
    /// elements point to.
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<T>>()
    }

    /// The hash this dict uses for `key`: the order `scan` and `iter` follow.
    /// Never `u64::MAX`.
    pub fn hash_key(&self, key: &[u8]) -> u64 {
        // One `write` without a length prefix: the key is the only field, so
        // there is no ambiguity to resolve.
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key);
        let hash = hasher.finish() & !1;
        #[cfg(test)]
        let hash = (hash & self.hash_mask | self.hash_set) & !1;
        hash
    }

    /// The element with this key.
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        let index = self.find(self.hash_key(key), key)?;
        self.slots[index].item.as_ref()
    }

    /// The element with this key, mutably. The key must not change.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        let index = self.find(self.hash_key(key), key)?;
        self.slots[index].item.as_mut()
    }

    /// Whether an element has this key.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(self.hash_key(key), key).is_some()
    }

    /// Inserts `item`, replacing and returning the element with an equal key.
    ///
    /// # Panics
    ///
    /// If growing the table would overflow `usize` (memory runs out first).
    pub fn insert(&mut self, item: T) -> Option<T> {
        let hash = self.hash_key(item.key());
        match self.search(hash, item.key()) {
            Ok(index) => self.slots[index].item.replace(item),
            Err(_) => {
                self.insert_new(hash, item);
                None
            }
        }
    }

    /// Removes and returns the element with this key.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let index = self.find(self.hash_key(key), key)?;
        Some(self.remove_at(index))
    }

    /// The slot for `key`, occupied or not, to read, update, insert or remove
    /// while hashing the key once.
    pub fn entry(&mut self, key: &[u8]) -> Entry<'_, T> {
        let hash = self.hash_key(key);
        match self.search(hash, key) {
            Ok(index) => Entry::Occupied(OccupiedEntry { dict: self, index }),
            Err(_) => Entry::Vacant(VacantEntry { dict: self, hash }),
        }
    }

    /// One step of a `SCAN`: calls `f` on elements whose hash is `>= cursor`,
    /// in hash order, and returns the cursor for the next call, or 0 when the
    /// end is reached. Start with cursor 0.
    ///
    /// Visits about `count` elements (`count` 0 counts as 1): after the
    /// `count`th it still finishes every element sharing that element's hash,
    /// so the cursor never splits a run of equal hashes. It also stops after
    /// walking past `10 * count` empty slots, so a call on a sparse table
    /// stays short; it may then visit fewer, even none, and return a
    /// non-zero cursor, as Redis's SCAN may.
    ///
    /// Guarantee: every element present from the call with cursor 0 until
    /// the call that returns 0 is visited at least once, whatever inserts,
    /// removals and resizes happen in between; without modifications each
    /// element is visited exactly once. Any `cursor` value is accepted.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&T)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let count = count.max(1);
        let empty_budget = count.saturating_mul(SCAN_EMPTY_SLOTS_PER_COUNT);
        let start = self.lower_bound(cursor);
        let mut visited = 0usize;
        let mut empties = 0usize;
        let mut index = start;
        loop {
            let slot = &self.slots[index];
            match &slot.item {
                None => {
                    // Nothing at or past an empty tail slot: elements after
                    // an empty slot have their home after it, and no home
                    // slot lies in the tail.
                    if index >= self.home_slots() {
                        return 0;
                    }
                    empties += 1;
                    if index > start && empties > empty_budget {
                        // Everything homed before this empty slot sits before
                        // it, and has been visited; `index > start` makes this
                        // cursor larger than the one passed in, so never 0.
                        return (index as u64) << self.shift();
                    }
                }
                Some(item) => {
                    f(item);
                    visited += 1;
                    if visited >= count && self.slots[index + 1].hash != slot.hash {
                        // `slot.hash < u64::MAX`, so this does not wrap to 0.
                        return slot.hash + 1;
                    }
                }
            }
            index += 1;
        }
    }

    /// A pseudo-random element, chosen by `rng_value` (the caller owns the
    /// RNG, so runs can be seeded). `None` when empty.
    ///
    /// Uniform: slots are drawn at random (a splitmix64 sequence seeded by
    /// `rng_value`) until one holds an element, so every element is equally
    /// likely. The table is at least 1/10 full, so this takes about ten
    /// draws at worst; after `RANDOM_DRAWS_MAX` misses (probability below
    /// 1e-4) it takes the first element after the last draw, which is
    /// biased towards elements that follow empty slots but always answers.
    pub fn random(&self, rng_value: u64) -> Option<&T> {
        const RANDOM_DRAWS_MAX: usize = 128;
        if self.len == 0 {
            return None;
        }
        let slots = self.slots.len() as u128;
        let mut state = rng_value;
        let mut start = 0;
        for _ in 0..RANDOM_DRAWS_MAX {
            // Multiply-shift maps the u64 uniformly onto the slot indexes
            // without a division.
            start = ((u128::from(splitmix64(&mut state)) * slots) >> 64) as usize;
            if let Some(item) = self.slots[start].item.as_ref() {
                return Some(item);
            }
        }
        let (before, after) = self.slots.split_at(start);
        after
            .iter()
            .chain(before)
            .find_map(|slot| slot.item.as_ref())
    }

    /// Elements in hash order (the order `scan` visits).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            slots: self.slots.iter(),
            remaining: self.len,
        }
    }

    /// Elements in hash order, mutably. Keys must not change.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut {
            slots: self.slots.iter_mut(),
            remaining: self.len,
        }
    }

    /// Keeps the elements for which `f` returns true, in one pass over the
    /// slots, then shrinks if the table became sparse. `f` must not change
    /// keys.
    pub fn retain(&mut self, mut f: impl FnMut(&mut T) -> bool) {
        let shift = self.shift();
        // Survivors slide left into a compacted layout: each goes to its home
        // slot or just after the previous survivor, whichever is later, which
        // is exactly where insertion in hash order would put it. Every slot
        // in `write..read` is empty at each step, so the swap only moves
        // an empty slot.
        let mut write = 0usize;
        for read in 0..self.slots.len() {
            let slot = &mut self.slots[read];
            let Some(item) = slot.item.as_mut() else {
                continue;
            };
            if !f(item) {
                *slot = Slot::EMPTY;
                self.len -= 1;
                continue;
            }
            let target = ((slot.hash >> shift) as usize).max(write);
            if target != read {
                self.slots.swap(target, read);
            }
            write = target + 1;
        }
        self.maybe_shrink();
    }

    /// Removes every element and returns the table to its minimum size.
    pub fn clear(&mut self) {
        drop(self.drain());
    }

    /// Removes every element, returning them in hash order, and leaves the
    /// table at its minimum size. Elements not consumed are dropped with the
    /// iterator.
    pub fn drain(&mut self) -> IntoIter<T> {
        self.capacity_log2 = MIN_CAPACITY_SLOTS.trailing_zeros();
        let slots = std::mem::replace(&mut self.slots, empty_slots(self.capacity_log2));
        let remaining = std::mem::replace(&mut self.len, 0);
        IntoIter {
            slots: slots.into_iter(),
            remaining,
        }
    }

    // --- internals ---

    fn home_slots(&self) -> usize {
        1 << self.capacity_log2
    }

    /// Right shift that turns a hash into its home slot. At least 62, since
    /// `capacity_log2 >= 2`, so never a 64-bit shift.
    fn shift(&self) -> u32 {
        64 - self.capacity_log2
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift()) as usize
    }

    /// Index of the first slot, from `hash`'s home on, whose hash is `>=
    /// hash` (possibly an empty slot). Every element with a hash `>= hash`
    /// is at or after it, every element before it has a smaller hash.
    fn lower_bound(&self, hash: u64) -> usize {
        let mut index = self.home(hash);
        // Ends at the latest at the sentinel, whose hash is u64::MAX.
        while self.slots[index].hash < hash {
            index += 1;
        }
        index
    }

    /// Index of the first slot, from `hash`'s home on, whose hash is `>
    /// hash`: where an element with this hash goes, after any equal ones.
    fn upper_bound(&self, hash: u64) -> usize {
        let mut index = self.home(hash);
        // `hash < u64::MAX`, so the sentinel stops this.
        while self.slots[index].hash <= hash {
            index += 1;
        }
        index
    }

    /// `Ok(index)` of the element with `key`, or `Err(index)` of the end of
    /// the run of elements with this hash.
    fn search(&self, hash: u64, key: &[u8]) -> Result<usize, usize> {
        let mut index = self.lower_bound(hash);
        while self.slots[index].hash == hash {
            if let Some(item) = &self.slots[index].item {
                if item.key() == key {
                    return Ok(index);
                }
            }
            index += 1;
        }
        Err(index)
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.search(hash, key).ok()
    }

    /// Inserts an element known to be absent; returns its index.
    fn insert_new(&mut self, hash: u64, item: T) -> usize {
        if (self.len + 1) * LOAD_MAX_DEN > self.home_slots() * LOAD_MAX_NUM {
            self.resize(self.capacity_log2 + 1);
        }
        let mut index = self.upper_bound(hash);
        let mut empty = self.next_empty(index);
        if empty == self.slots.len() - 1 {
            // The sentinel would be used: the tail is exhausted.
            if (self.len + 1) * 2 > self.home_slots() {
                self.resize(self.capacity_log2 + 1);
                index = self.upper_bound(hash);
                empty = self.next_empty(index);
            }
            if empty == self.slots.len() - 1 {
                self.push_tail_slot();
            }
        }
        // Shift the run right by one; the empty slot lands at `index`.
        self.slots[index..=empty].rotate_right(1);
        self.slots[index] = Slot {
            hash,
            item: Some(item),
        };
        self.len += 1;
        index
    }

    fn next_empty(&self, mut index: usize) -> usize {
        while self.slots[index].item.is_some() {
            index += 1;
        }
        index
    }

    /// Adds one empty slot at the end, growing the tail's allocation
    /// geometrically (by its own length, not the whole array's) so a long
    /// tail costs amortized O(1) per slot without doubling the table.
    fn push_tail_slot(&mut self) {
        if self.slots.len() == self.slots.capacity() {
            let tail = self.slots.len() - self.home_slots();
            self.slots.reserve_exact(tail);
        }
        self.slots.push(Slot::EMPTY);
    }

    /// Removes the element at `index` with backward-shift deletion.
    fn remove_at(&mut self, index: usize) -> T {
        let removed = std::mem::replace(&mut self.slots[index], Slot::EMPTY);
        // Slide left every following element of the run that is not at its
        // home slot; the first one at home (or an empty slot) ends the run.
        let mut end = index + 1;
        loop {
            let slot = &self.slots[end];
            if slot.item.is_none() || self.home(slot.hash) >= end {
                break;
            }
            end += 1;
        }
        self.slots[index..end].rotate_left(1);
        self.len -= 1;
        self.maybe_shrink();
        // Only occupied slots are removed.
        removed.item.expect("remove_at on an occupied slot")
    }

    fn maybe_shrink(&mut self) {
        if self.home_slots() > MIN_CAPACITY_SLOTS
            && self.len * SHRINK_BELOW_DIVISOR < self.home_slots()
        {
            // Leave the table at most half full, so it does not grow back
            // after a few inserts.
            let home_slots = (self.len * 2).next_power_of_two().max(MIN_CAPACITY_SLOTS);
            self.resize(home_slots.trailing_zeros());
        }
    }

    /// Rehashes into `2^capacity_log2` home slots. The old array is sorted,
    /// so each element goes to its new home or just after the previous one:
    /// one sequential pass, no probing.
    fn resize(&mut self, capacity_log2: u32) {
        assert!(
            capacity_log2 < usize::BITS - 1,
            "Dict capacity overflows usize"
        );
        let old = std::mem::replace(&mut self.slots, empty_slots(capacity_log2));
        self.capacity_log2 = capacity_log2;
        let shift = self.shift();
        let mut next = 0usize;
        for slot in old {
            if slot.item.is_none() {
                continue;
            }
            let index = ((slot.hash >> shift) as usize).max(next);
            // Keep the sentinel: a cluster at the end may outgrow the tail.
            while index >= self.slots.len() - 1 {
                self.push_tail_slot();
            }
            self.slots[index] = slot;
            next = index + 1;
        }
    }
}

impl<T: DictItem> Default for Dict<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DictItem + fmt::Debug> fmt::Debug for Dict<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A slot in a [`Dict`], from [`Dict::entry`].
pub enum Entry<'a, T: DictItem> {
    /// An element has the key.
    Occupied(OccupiedEntry<'a, T>),
    /// No element has the key.
    Vacant(VacantEntry<'a, T>),
}

impl<'a, T: DictItem> Entry<'a, T> {
    /// The element, inserting `make()` first if there is none. `make` must
    /// return an item with the entry's key.
    pub fn or_insert_with(self, make: impl FnOnce() -> T) -> &'a mut T {
        match self {
            Entry::Occupied(occupied) => occupied.into_mut(),
            Entry::Vacant(vacant) => vacant.insert(make()),
        }
    }
}

/// An element found by [`Dict::entry`].
pub struct OccupiedEntry<'a, T: DictItem> {
    dict: &'a mut Dict<T>,
    index: usize,
}

impl<'a, T: DictItem> OccupiedEntry<'a, T> {
    /// The element.
    pub fn get(&self) -> &T {
        self.dict.slots[self.index]
            .item
            .as_ref()
            .expect("occupied entry has an item")
    }

    /// The element, mutably. The key must not change.
    pub fn get_mut(&mut self) -> &mut T {
        self.dict.slots[self.index]
            .item
            .as_mut()
            .expect("occupied entry has an item")
    }

    /// The element, borrowed for as long as the dict was.
    pub fn into_mut(self) -> &'a mut T {
        self.dict.slots[self.index]
            .item
            .as_mut()
            .expect("occupied entry has an item")
    }

    /// Removes and returns the element.
    pub fn remove(self) -> T {
        self.dict.remove_at(self.index)
    }
}

/// A key with no element, from [`Dict::entry`].
pub struct VacantEntry<'a, T: DictItem> {
    dict: &'a mut Dict<T>,
    hash: u64,
}

impl<'a, T: DictItem> VacantEntry<'a, T> {
    /// Inserts `item`, whose key must be the one given to [`Dict::entry`],
    /// without hashing it again.
    ///
    /// # Panics
    ///
    /// In debug builds, if `item`'s key hashes differently from the entry's
    /// key. If growing the table would overflow `usize`.
    pub fn insert(self, item: T) -> &'a mut T {
        debug_assert_eq!(
            self.dict.hash_key(item.key()),
            self.hash,
            "VacantEntry::insert with a different key"
        );
        let index = self.dict.insert_new(self.hash, item);
        self.dict.slots[index].item.as_mut().expect("just inserted")
    }
}

/// Iterator over a [`Dict`]'s elements in hash order.
pub struct Iter<'a, T> {
    slots: std::slice::Iter<'a, Slot<T>>,
    remaining: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let item = self.slots.find_map(|slot| slot.item.as_ref())?;
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

/// Mutable iterator over a [`Dict`]'s elements in hash order.
pub struct IterMut<'a, T> {
    slots: std::slice::IterMut<'a, Slot<T>>,
    remaining: usize,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = &'a mut T;

    fn next(&mut self) -> Option<&'a mut T> {
        let item = self.slots.find_map(|slot| slot.item.as_mut())?;
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for IterMut<'_, T> {}

/// Owning iterator over a [`Dict`]'s elements in hash order, from
/// [`Dict::drain`] or `into_iter`.
pub struct IntoIter<T> {
    slots: std::vec::IntoIter<Slot<T>>,
    remaining: usize,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let item = self.slots.find_map(|slot| slot.item)?;
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

impl<T: DictItem> IntoIterator for Dict<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter {
            slots: self.slots.into_iter(),
            remaining: self.len,
        }
    }
}

impl<'a, T: DictItem> IntoIterator for &'a Dict<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T: DictItem> IntoIterator for &'a mut Dict<T> {
    type Item = &'a mut T;
    type IntoIter = IterMut<'a, T>;

    fn into_iter(self) -> IterMut<'a, T> {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Item {
        key: Vec<u8>,
        value: u64,
    }

    impl DictItem for Item {
        fn key(&self) -> &[u8] {
            &self.key
        }
    }

    impl DictItem for Box<Item> {
        fn key(&self) -> &[u8] {
            &self.key
        }
    }

    fn item(key: impl AsRef<[u8]>, value: u64) -> Item {
        Item {
            key: key.as_ref().to_vec(),
            value,
        }
    }

    /// A dict whose hashes keep only their top `hash_bits` bits, so that
    /// `hash_bits` small forces many full-hash collisions.
    fn colliding(seed: u64, hash_bits: u32) -> Dict<Item> {
        let mut dict = Dict::with_seed(seed);
        if hash_bits < 64 {
            dict.hash_mask = !(u64::MAX >> hash_bits);
        }
        dict
    }

    /// splitmix64: a tiny seeded RNG for the hand-written randomized tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The seed for a randomized test: `DICT_TEST_SEED` if set, else random.
    /// Printed so a failure can be replayed.
    fn test_rng(name: &str) -> Rng {
        let seed = std::env::var("DICT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| std::collections::hash_map::RandomState::new().hash_one(name));
        eprintln!("{name}: DICT_TEST_SEED={seed}");
        Rng(seed)
    }

    /// Checks every structural invariant the lookups and scans rely on.
    fn check_invariants<T: DictItem>(dict: &Dict<T>) {
        let home_slots = dict.home_slots();
        assert!(home_slots >= MIN_CAPACITY_SLOTS);
        assert!(dict.slots.len() > home_slots, "no tail");
        assert!(
            dict.slots.last().is_some_and(|s| s.item.is_none()),
            "sentinel slot occupied"
        );
        let mut run_start = 0;
        let mut previous_hash = 0;
        let mut count = 0;
        let mut keys = HashSet::new();
        for (index, slot) in dict.slots.iter().enumerate() {
            let Some(item) = &slot.item else {
                assert_eq!(slot.hash, EMPTY, "empty slot {index} with a hash");
                run_start = index + 1;
                continue;
            };
            assert_eq!(
                slot.hash,
                dict.hash_key(item.key()),
                "stale hash at {index}"
            );
            assert!(slot.hash >= previous_hash, "unsorted at {index}");
            previous_hash = slot.hash;
            let home = dict.home(slot.hash);
            assert!(home <= index, "slot {index} before its home {home}");
            assert!(
                home >= run_start,
                "gap between home {home} and slot {index}"
            );
            assert!(keys.insert(item.key().to_vec()), "duplicate key at {index}");
            count += 1;
        }
        assert_eq!(count, dict.len());
        assert!(dict.len() <= dict.capacity(), "over the maximum load");
    }

    /// Runs a whole scan and returns each visited key with its visit count.
    fn full_scan(dict: &Dict<Item>, count: usize) -> HashMap<Vec<u8>, usize> {
        let mut seen = HashMap::new();
        let mut cursor = 0;
        // Each call either visits something or moves past an empty slot, so
        // a correct scan ends within this many calls.
        let calls_max = dict.slots.len() + dict.len() + 1;
        for _ in 0..calls_max {
            let next = dict.scan(cursor, count, |item| {
                assert!(
                    dict.hash_key(&item.key) >= cursor,
                    "visited below the cursor"
                );
                *seen.entry(item.key.clone()).or_insert(0) += 1;
            });
            assert!(
                next == 0 || next > cursor,
                "cursor went back: {cursor} -> {next}"
            );
            cursor = next;
            if cursor == 0 {
                return seen;
            }
        }
        panic!("scan did not finish in {calls_max} calls");
    }

    #[test]
    fn module_docs_example() {
        struct Pair(Vec<u8>, u64);
        impl DictItem for Pair {
            fn key(&self) -> &[u8] {
                &self.0
            }
        }

        let mut dict = Dict::with_seed(42);
        dict.insert(Pair(b"a".to_vec(), 1));
        dict.insert(Pair(b"b".to_vec(), 2));
        assert_eq!(dict.get(b"a").map(|p| p.1), Some(1));

        let mut seen = 0;
        let mut cursor = 0;
        loop {
            cursor = dict.scan(cursor, 10, |_| seen += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn slot_is_at_most_item_plus_eight_bytes() {
        use std::mem::size_of;
        // The keyspace stores boxed entries: 16 bytes a slot.
        assert_eq!(size_of::<Slot<Box<Item>>>(), 16);
        // Small hashes and sets store inline pairs.
        type Pair = (Vec<u8>, Vec<u8>);
        assert_eq!(size_of::<Slot<Pair>>(), size_of::<Pair>() + 8);
        assert_eq!(size_of::<Slot<Item>>(), size_of::<Item>() + 8);
    }

    #[test]
    fn insert_get_replace_remove() {
        let mut dict = Dict::with_seed(1);
        assert!(dict.is_empty());
        assert_eq!(dict.insert(item("a", 1)), None);
        assert_eq!(dict.insert(item("b", 2)), None);
        assert_eq!(dict.insert(item("a", 3)), Some(item("a", 1)));
        assert_eq!(dict.len(), 2);
        assert_eq!(dict.get(b"a"), Some(&item("a", 3)));
        assert!(dict.contains_key(b"b"));
        assert!(!dict.contains_key(b"c"));
        assert!(!dict.contains_key(b""));
        dict.get_mut(b"b").unwrap().value = 9;
        assert_eq!(dict.remove(b"b"), Some(item("b", 9)));
        assert_eq!(dict.remove(b"b"), None);
        assert_eq!(dict.len(), 1);
        check_invariants(&dict);
    }

    #[test]
    fn empty_key_is_a_key() {
        let mut dict = Dict::with_seed(3);
        dict.insert(item("", 7));
        assert_eq!(dict.get(b"").map(|i| i.value), Some(7));
        assert_eq!(full_scan(&dict, 1).len(), 1);
    }

    #[test]
    fn entry_api() {
        let mut dict = Dict::with_seed(2);
        match dict.entry(b"k") {
            Entry::Vacant(vacant) => vacant.insert(item("k", 1)).value += 10,
            Entry::Occupied(_) => panic!("empty dict has an occupied entry"),
        }
        assert_eq!(dict.get(b"k").map(|i| i.value), Some(11));
        match dict.entry(b"k") {
            Entry::Occupied(mut occupied) => {
                assert_eq!(occupied.get().value, 11);
                occupied.get_mut().value = 12;
                occupied.into_mut().value += 1;
            }
            Entry::Vacant(_) => panic!("inserted key is vacant"),
        }
        assert_eq!(dict.get(b"k").map(|i| i.value), Some(13));
        dict.entry(b"k").or_insert_with(|| item("k", 0)).value += 1;
        dict.entry(b"j").or_insert_with(|| item("j", 5)).value += 1;
        assert_eq!(dict.get(b"k").map(|i| i.value), Some(14));
        assert_eq!(dict.get(b"j").map(|i| i.value), Some(6));
        assert_eq!(dict.remove(b"j").map(|i| i.value), Some(6));
        match dict.entry(b"k") {
            Entry::Occupied(occupied) => assert_eq!(occupied.remove(), item("k", 14)),
            Entry::Vacant(_) => panic!("inserted key is vacant"),
        }
        assert!(dict.is_empty());
        check_invariants(&dict);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "different key")]
    fn vacant_insert_with_another_key_is_caught_in_debug() {
        let mut dict = Dict::with_seed(2);
        if let Entry::Vacant(vacant) = dict.entry(b"k") {
            vacant.insert(item("other", 1));
        }
    }

    #[test]
    fn grows_and_shrinks_within_load_bounds() {
        let mut dict = Dict::with_seed(5);
        for i in 0..10_000u64 {
            dict.insert(item(i.to_string(), i));
        }
        check_invariants(&dict);
        // 10_000 / (7/8) = 11_429 home slots at least, so 16_384.
        assert_eq!(dict.home_slots(), 16_384);
        for i in 100..10_000u64 {
            assert!(dict.remove(i.to_string().as_bytes()).is_some());
        }
        check_invariants(&dict);
        assert!(
            dict.home_slots() <= 256,
            "did not shrink: {}",
            dict.home_slots()
        );
        for i in 0..100u64 {
            dict.remove(i.to_string().as_bytes());
        }
        assert_eq!(dict.home_slots(), MIN_CAPACITY_SLOTS);
        assert!(dict.memory_bytes() < 1024);
    }

    #[test]
    fn with_capacity_does_not_grow_before_capacity() {
        let mut dict = Dict::with_capacity(1000);
        let home_slots = dict.home_slots();
        assert!(dict.capacity() >= 1000);
        for i in 0..1000u64 {
            dict.insert(item(i.to_string(), i));
        }
        assert_eq!(dict.home_slots(), home_slots);
    }

    #[test]
    fn full_scan_of_unmodified_table_visits_each_element_once() {
        let mut rng = test_rng("full_scan_once");
        for hash_bits in [64, 12, 3, 0] {
            let mut dict = colliding(rng.next(), hash_bits);
            for i in 0..3000u64 {
                dict.insert(item(format!("key:{i}"), i));
            }
            // Remove most, but not enough to shrink, to leave long empty
            // stretches for the empty-slot budget.
            for i in 0..2000u64 {
                dict.remove(format!("key:{}", i * 3 / 2).as_bytes());
            }
            check_invariants(&dict);
            for count in [1, 3, 10, 100, 100_000] {
                let seen = full_scan(&dict, count);
                assert_eq!(
                    seen.len(),
                    dict.len(),
                    "hash_bits {hash_bits} count {count}"
                );
                assert!(
                    seen.values().all(|&n| n == 1),
                    "repeated element, hash_bits {hash_bits} count {count}"
                );
            }
        }
    }

    #[test]
    fn scan_of_empty_table_and_odd_cursors() {
        let mut rng = test_rng("odd_cursors");
        let mut dict = Dict::with_seed(rng.next());
        assert_eq!(dict.scan(0, 10, |_| panic!("visited an empty table")), 0);
        for i in 0..500u64 {
            dict.insert(item(i.to_string(), i));
        }
        assert_eq!(
            dict.scan(u64::MAX, 10, |_| panic!("visited past the end")),
            0
        );
        for _ in 0..1000 {
            let cursor = rng.next();
            let mut visited = 0;
            let next = dict.scan(cursor, 5, |item| {
                assert!(dict.hash_key(&item.key) >= cursor);
                visited += 1;
            });
            assert!(next == 0 || next > cursor);
            // The elements with a hash in [cursor, next) are exactly those
            // visited.
            let expected = dict
                .iter()
                .map(|item| dict.hash_key(&item.key))
                .filter(|&h| h >= cursor && (next == 0 || h < next))
                .count();
            assert_eq!(visited, expected, "cursor {cursor}");
        }
    }

    #[test]
    fn scan_returns_every_stable_element_across_growths_and_shrinks() {
        let mut rng = test_rng("scan_across_resizes");
        for hash_bits in [64, 10] {
            let mut dict = colliding(rng.next(), hash_bits);
            let stable: Vec<Vec<u8>> = (0..200)
                .map(|i| format!("stable:{i}").into_bytes())
                .collect();
            for (i, key) in stable.iter().enumerate() {
                dict.insert(item(key, i as u64));
            }
            let temp_max = 20_000u64;
            let mut temp_next = 0u64; // temp keys [temp_low, temp_next) are present
            let mut temp_low = 0u64;
            let mut growing = true;
            let (mut grows, mut shrinks) = (0, 0);
            let mut seen = HashSet::new();
            let mut cursor = 0;
            let mut calls = 0;
            loop {
                cursor = dict.scan(cursor, 1 + rng.below(20) as usize, |item| {
                    seen.insert(item.key.clone());
                });
                calls += 1;
                if cursor == 0 {
                    break;
                }
                assert!(calls < 1_000_000, "scan does not end");
                let before = dict.home_slots();
                for _ in 0..rng.below(600) {
                    if growing {
                        dict.insert(item(format!("temp:{temp_next}"), temp_next));
                        temp_next += 1;
                        growing = temp_next - temp_low < temp_max;
                    } else {
                        dict.remove(format!("temp:{temp_low}").as_bytes());
                        temp_low += 1;
                        growing = temp_low == temp_next;
                    }
                }
                match dict.home_slots().cmp(&before) {
                    std::cmp::Ordering::Greater => grows += 1,
                    std::cmp::Ordering::Less => shrinks += 1,
                    std::cmp::Ordering::Equal => {}
                }
            }
            check_invariants(&dict);
            // The test only means something if the table did resize mid-scan.
            assert!(
                grows >= 3 && shrinks >= 3,
                "grows {grows} shrinks {shrinks}"
            );
            for key in &stable {
                assert!(
                    seen.contains(key),
                    "{:?} missed",
                    String::from_utf8_lossy(key)
                );
            }
        }
    }

    #[test]
    fn random_reaches_every_element() {
        let mut rng = test_rng("random_coverage");
        assert!(Dict::<Item>::with_seed(0).random(rng.next()).is_none());
        for hash_bits in [64, 4] {
            let mut dict = colliding(rng.next(), hash_bits);
            for i in 0..300u64 {
                dict.insert(item(i.to_string(), i));
            }
            let mut seen = HashSet::new();
            let draws_max = 300 * 1000;
            for _ in 0..draws_max {
                let picked = dict.random(rng.next()).expect("non-empty dict");
                seen.insert(picked.value);
                if seen.len() == dict.len() {
                    break;
                }
            }
            assert_eq!(seen.len(), dict.len(), "hash_bits {hash_bits}");
        }
    }

    #[test]
    fn random_is_uniform_even_when_elements_cluster() {
        // Ten elements whose hashes share a few bits sit in one run of
        // slots: picking "the first element after a random slot" would
        // return the run's first element most of the time.
        let mut rng = test_rng("random_uniform");
        for hash_bits in [64, 4] {
            let mut dict = colliding(rng.next(), hash_bits);
            for i in 0..10u64 {
                dict.insert(item(i.to_string(), i));
            }
            let draws = 10_000;
            let mut counts = [0u32; 10];
            for _ in 0..draws {
                counts[dict.random(rng.next()).expect("non-empty").value as usize] += 1;
            }
            let expected = f64::from(draws) / 10.0;
            let chi_square: f64 = counts
                .iter()
                .map(|&c| (f64::from(c) - expected).powi(2) / expected)
                .sum();
            // 9 degrees of freedom: 40 has probability 1e-5 (Redis's own
            // SRANDMEMBER histogram test uses the same bound).
            assert!(
                chi_square < 40.0,
                "hash_bits {hash_bits}: chi-square {chi_square}, counts {counts:?}"
            );
        }
    }

    #[test]
    fn random_then_remove_empties_the_table() {
        // How SPOP and active expiry use it.
        let mut rng = test_rng("random_remove");
        let mut dict = Dict::with_seed(rng.next());
        for i in 0..2000u64 {
            dict.insert(item(i.to_string(), i));
        }
        while let Some(picked) = dict.random(rng.next()) {
            let key = picked.key.clone();
            assert!(dict.remove(&key).is_some());
        }
        assert!(dict.is_empty());
        check_invariants(&dict);
    }

    #[test]
    fn degenerate_hashes_stay_correct_and_bounded() {
        // Every key hashes to the last home slot: the whole table is one
        // cluster in the overflow tail.
        let mut dict = Dict::with_seed(9);
        dict.hash_mask = 0;
        dict.hash_set = !0;
        let n = 1000u64;
        for i in 0..n {
            dict.insert(item(i.to_string(), i));
        }
        check_invariants(&dict);
        assert!(
            dict.home_slots() <= 4 * n as usize,
            "home slots {}",
            dict.home_slots()
        );
        assert!(dict.slots.len() <= dict.home_slots() + n as usize + 64);
        for i in 0..n {
            assert_eq!(dict.get(i.to_string().as_bytes()).map(|i| i.value), Some(i));
        }
        // One equal-hash run is never split by a cursor: the first call that
        // reaches the run visits all of it, even with count 1.
        let mut visited = 0;
        let mut cursor = 0;
        while visited == 0 {
            cursor = dict.scan(cursor, 1, |_| visited += 1);
        }
        assert_eq!(visited, n);
        assert_eq!(cursor, u64::MAX);
        assert_eq!(dict.scan(cursor, 1, |_| visited += 1), 0);
        for i in 0..n / 2 {
            assert!(dict.remove(i.to_string().as_bytes()).is_some());
        }
        check_invariants(&dict);
        assert_eq!(full_scan(&dict, 7).len(), (n / 2) as usize);
    }

    #[test]
    fn retain_drain_clear_iter() {
        let mut rng = test_rng("retain_drain");
        let mut dict = Dict::with_seed(rng.next());
        for i in 0..5000u64 {
            dict.insert(item(i.to_string(), i));
        }
        for item in dict.iter_mut() {
            item.value *= 2;
        }
        dict.retain(|item| item.value % 6 == 0);
        check_invariants(&dict);
        assert_eq!(dict.len(), 5000 / 3 + 1);
        assert!(dict.iter().all(|i| i.value % 6 == 0));
        dict.retain(|item| item.value < 300);
        check_invariants(&dict);
        assert_eq!(dict.len(), 50);
        assert!(dict.home_slots() <= 128, "retain did not shrink");

        let copy = dict.clone();
        let hashes: Vec<u64> = copy.iter().map(|i| copy.hash_key(&i.key)).collect();
        assert!(
            hashes.windows(2).all(|w| w[0] <= w[1]),
            "iter not in hash order"
        );
        assert_eq!(copy.iter().len(), 50);

        let drained: Vec<Item> = dict.drain().collect();
        assert_eq!(drained, copy.iter().cloned().collect::<Vec<_>>());
        assert!(dict.is_empty());
        assert_eq!(dict.home_slots(), MIN_CAPACITY_SLOTS);
        check_invariants(&dict);

        let mut copy2 = copy.clone();
        assert_eq!(copy.into_iter().count(), 50);
        copy2.clear();
        assert!(copy2.is_empty() && copy2.get(b"0").is_none());
    }

    #[test]
    fn debug_lists_items() {
        let mut dict = Dict::with_seed(0);
        dict.insert(item("a", 1));
        assert_eq!(format!("{dict:?}"), "{Item { key: [97], value: 1 }}");
    }

    #[test]
    fn new_dicts_share_the_process_seed() {
        let a: Dict<Item> = Dict::new();
        let b: Dict<Item> = Dict::default();
        assert_eq!(a.seed(), b.seed());
        assert_eq!(a.hash_key(b"x"), b.hash_key(b"x"));
        assert_ne!(
            a.hash_key(b"x"),
            Dict::<Item>::with_seed(a.seed() ^ 1).hash_key(b"x")
        );
    }

    // --- model-based test against std's HashMap ---

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u64),
        Remove(u16),
        Get(u16),
        GetMut(u16),
        /// Increment or create through `entry`.
        Upsert(u16),
        /// Remove through `entry`.
        EntryRemove(u16),
        /// Insert or remove a range of keys: drives growths and shrinks.
        Bulk {
            start: u16,
            n: u16,
            insert: bool,
        },
        /// One call of the ongoing scan (starting one if none is running).
        ScanStep(usize),
        Retain(u64),
        Random(u64),
        Clear,
    }

    /// Operations on keys `0..key_space`; scan steps ask for up to
    /// `scan_count_max` elements, so scans of big tables finish within a case.
    fn op(key_space: u16, scan_count_max: usize) -> impl Strategy<Value = Op> {
        let key = 0..key_space;
        prop_oneof![
            6 => (key.clone(), any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            4 => key.clone().prop_map(Op::Remove),
            2 => key.clone().prop_map(Op::Get),
            1 => key.clone().prop_map(Op::GetMut),
            2 => key.clone().prop_map(Op::Upsert),
            2 => key.clone().prop_map(Op::EntryRemove),
            1 => (key.clone(), 0..2000u16, any::<bool>())
                .prop_map(|(start, n, insert)| Op::Bulk { start, n, insert }),
            4 => (1..scan_count_max).prop_map(Op::ScanStep),
            1 => (2..5u64).prop_map(Op::Retain),
            2 => any::<u64>().prop_map(Op::Random),
            1 => Just(Op::Clear),
        ]
    }

    fn key_of(k: u16) -> Vec<u8> {
        format!("k{k}").into_bytes()
    }

    struct ScanState {
        cursor: u64,
        /// Keys present since the scan began and never removed since.
        stable: HashSet<Vec<u8>>,
        seen: HashSet<Vec<u8>>,
    }

    fn run_model(seed: u64, hash_bits: u32, ops: &[Op]) {
        let mut dict = colliding(seed, hash_bits);
        let mut model: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut scan: Option<ScanState> = None;
        let forget = |scan: &mut Option<ScanState>, key: &[u8]| {
            if let Some(s) = scan {
                s.stable.remove(key);
            }
        };
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    let old = dict.insert(item(key_of(*k), *v)).map(|i| i.value);
                    assert_eq!(old, model.insert(key_of(*k), *v));
                }
                Op::Remove(k) => {
                    let old = dict.remove(&key_of(*k)).map(|i| i.value);
                    assert_eq!(old, model.remove(&key_of(*k)));
                    forget(&mut scan, &key_of(*k));
                }
                Op::Get(k) => {
                    assert_eq!(
                        dict.get(&key_of(*k)).map(|i| i.value),
                        model.get(&key_of(*k)).copied()
                    );
                    assert_eq!(
                        dict.contains_key(&key_of(*k)),
                        model.contains_key(&key_of(*k))
                    );
                }
                Op::GetMut(k) => {
                    if let Some(i) = dict.get_mut(&key_of(*k)) {
                        i.value = i.value.wrapping_add(7);
                    }
                    if let Some(v) = model.get_mut(&key_of(*k)) {
                        *v = v.wrapping_add(7);
                    }
                }
                Op::Upsert(k) => {
                    let key = key_of(*k);
                    match dict.entry(&key) {
                        Entry::Occupied(mut o) => o.get_mut().value = o.get().value.wrapping_add(1),
                        Entry::Vacant(v) => {
                            v.insert(item(&key, 0));
                        }
                    }
                    model
                        .entry(key)
                        .and_modify(|v| *v = v.wrapping_add(1))
                        .or_insert(0);
                }
                Op::EntryRemove(k) => {
                    let key = key_of(*k);
                    let removed = match dict.entry(&key) {
                        Entry::Occupied(o) => Some(o.remove().value),
                        Entry::Vacant(_) => None,
                    };
                    assert_eq!(removed, model.remove(&key));
                    forget(&mut scan, &key);
                }
                Op::Bulk { start, n, insert } => {
                    for k in *start..start.saturating_add(*n) {
                        if *insert {
                            dict.insert(item(key_of(k), u64::from(k)));
                            model.insert(key_of(k), u64::from(k));
                        } else {
                            dict.remove(&key_of(k));
                            model.remove(&key_of(k));
                            forget(&mut scan, &key_of(k));
                        }
                    }
                }
                Op::ScanStep(count) => {
                    let s = scan.get_or_insert_with(|| ScanState {
                        cursor: 0,
                        stable: model.keys().cloned().collect(),
                        seen: HashSet::new(),
                    });
                    let cursor = s.cursor;
                    s.cursor = dict.scan(cursor, *count, |i| {
                        assert!(model.contains_key(&i.key), "scan returned a ghost");
                        assert!(dict.hash_key(&i.key) >= cursor);
                        s.seen.insert(i.key.clone());
                    });
                    if s.cursor == 0 {
                        let missed = s.stable.difference(&s.seen).count();
                        assert_eq!(missed, 0, "scan missed stable elements");
                        scan = None;
                    }
                }
                Op::Retain(m) => {
                    dict.retain(|i| i.value % m != 0);
                    let removed: Vec<_> = model
                        .iter()
                        .filter(|(_, v)| *v % m == 0)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in removed {
                        model.remove(&key);
                        forget(&mut scan, &key);
                    }
                }
                Op::Random(r) => match dict.random(*r) {
                    Some(i) => assert!(model.contains_key(&i.key)),
                    None => assert!(model.is_empty()),
                },
                Op::Clear => {
                    dict.clear();
                    model.clear();
                    scan = None;
                }
            }
            assert_eq!(dict.len(), model.len());
            check_invariants(&dict);
        }
        let mut contents: Vec<(Vec<u8>, u64)> =
            dict.iter().map(|i| (i.key.clone(), i.value)).collect();
        let mut expected: Vec<(Vec<u8>, u64)> = model.into_iter().collect();
        contents.sort();
        expected.sort();
        assert_eq!(contents, expected);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn model_small_keyspace(seed: u64, hash_bits in prop::sample::select(vec![64u32, 6, 2, 0]),
                                ops in prop::collection::vec(op(24, 10), 1..200)) {
            run_model(seed, hash_bits, &ops);
        }

        #[test]
        fn model_large_keyspace(seed: u64, hash_bits in prop::sample::select(vec![64u32, 10, 3]),
                                ops in prop::collection::vec(op(5000, 1000), 1..120)) {
            run_model(seed, hash_bits, &ops);
        }
    }
}
