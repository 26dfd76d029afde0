//! Temporary stand-in for `dict::Dict` (same API, std HashMap inside), used
//! until the ordered Robin Hood table lands. SCAN here sorts by hash on
//! every call, which is correct but O(n log n) per call.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

pub trait DictItem {
    fn key(&self) -> &[u8];
}

#[derive(Default, Clone, Copy)]
struct Seeded(u64);

impl BuildHasher for Seeded {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write_u64(self.0);
        h
    }
}

pub struct Dict<T> {
    map: HashMap<Box<[u8]>, T, Seeded>,
}

impl<T: DictItem> Default for Dict<T> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<T: DictItem> Dict<T> {
    pub fn new() -> Self {
        Dict { map: HashMap::with_hasher(Seeded(0x5eed)) }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn hash_key(&self, key: &[u8]) -> u64 {
        let mut h = self.map.hasher().build_hasher();
        h.write(key);
        h.finish() | 1
    }
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.map.get(key)
    }
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        self.map.get_mut(key)
    }
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }
    pub fn insert(&mut self, item: T) -> Option<T> {
        self.map.insert(item.key().into(), item)
    }
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        self.map.remove(key)
    }
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&T)) -> u64 {
        let mut items: Vec<(u64, &T)> = self
            .map
            .values()
            .map(|v| (self.hash_key(v.key()), v))
            .filter(|(h, _)| *h >= cursor)
            .collect();
        items.sort_by_key(|(h, _)| *h);
        let mut last = None;
        for (i, (h, v)) in items.iter().enumerate() {
            if i >= count.max(1) && Some(*h) != last {
                return *h;
            }
            f(v);
            last = Some(*h);
        }
        0
    }
    pub fn random(&self, rng_value: u64) -> Option<&T> {
        if self.map.is_empty() {
            return None;
        }
        self.map.values().nth((rng_value % self.map.len() as u64) as usize)
    }
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.map.values()
    }
    pub fn retain(&mut self, mut f: impl FnMut(&mut T) -> bool) {
        self.map.retain(|_, v| f(v))
    }
    pub fn clear(&mut self) {
        self.map.clear()
    }
    pub fn memory_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<T>() + 24)
    }
}
