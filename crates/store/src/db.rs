//! The keyspace: databases of keys, their values and their expiry times,
//! and the side effects every write must have (WATCH, dirty counter).

use std::collections::HashMap;

use crate::dict::{Dict, DictItem};
use crate::value::Value;

/// A key and its value: one allocation per key, reached through a slot of
/// the table, so the table's slots stay small.
#[derive(Debug)]
pub struct Entry {
    pub key: Box<[u8]>,
    pub value: Value,
}

impl DictItem for Box<Entry> {
    fn key(&self) -> &[u8] {
        &self.key
    }
}

/// When a key expires, in milliseconds since the Unix epoch. Kept apart
/// from the entry, as Redis keeps its `expires` dict, so keys without a
/// TTL pay nothing for the feature.
#[derive(Debug)]
pub struct Expiry {
    pub key: Box<[u8]>,
    pub at_ms: u64,
}

impl DictItem for Expiry {
    fn key(&self) -> &[u8] {
        &self.key
    }
}

/// One numbered database (`SELECT n`).
#[derive(Default)]
pub struct Db {
    pub keys: Dict<Box<Entry>>,
    pub expires: Dict<Expiry>,
}

impl Db {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expire_at(&self, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).map(|e| e.at_ms)
    }

    pub fn is_expired(&self, key: &[u8], now_ms: u64) -> bool {
        self.expire_at(key).is_some_and(|at| at <= now_ms)
    }
}

/// A client's identity, as `CLIENT ID` reports it.
pub type ClientId = u64;

/// Who watches which key, and which watchers have seen a watched key
/// change since (Redis's `CLIENT_DIRTY_CAS`).
#[derive(Default)]
pub struct Watches {
    by_key: HashMap<(usize, Box<[u8]>), Vec<ClientId>>,
    dirty: std::collections::HashSet<ClientId>,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn watch(&mut self, db: usize, key: &[u8], client: ClientId) {
        let watchers = self.by_key.entry((db, key.into())).or_default();
        if !watchers.contains(&client) {
            watchers.push(client);
        }
    }

    /// Forgets every watch of `client` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, client: ClientId, keys: &[(usize, Box<[u8]>)]) {
        for k in keys {
            if let Some(watchers) = self.by_key.get_mut(k) {
                watchers.retain(|&c| c != client);
                if watchers.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        self.dirty.remove(&client);
    }

    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        // The tuple key needs an owned key; only paid when someone watches.
        if let Some(watchers) = self.by_key.get(&(db, Box::from(key))) {
            self.dirty.extend(watchers.iter().copied());
        }
    }

    /// Marks watchers of every watched key of `db` that `exists` says is
    /// present (FLUSHDB, SWAPDB).
    pub fn touch_db(&mut self, db: usize, exists: impl Fn(&[u8]) -> bool) {
        for ((d, key), watchers) in &self.by_key {
            if *d == db && exists(key) {
                self.dirty.extend(watchers.iter().copied());
            }
        }
    }

    pub fn is_dirty(&self, client: ClientId) -> bool {
        self.dirty.contains(&client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-key cost is what the RSS comparison with Redis measures:
    /// an entry must stay in jemalloc's 48-byte class, and the access clock
    /// must live in padding, not grow the value.
    #[test]
    fn entry_stays_small() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
        assert_eq!(std::mem::size_of::<Entry>(), 48);
    }
}
