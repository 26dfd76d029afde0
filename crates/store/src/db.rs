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
///
/// A key that was already logically expired when WATCHed is watched with
/// `expired` set, as Redis 7.0 does: its deletion by expiry, or a flush
/// that removes it, is no logical change and only clears the flag; EXEC
/// fails for it only if it changes after that.
#[derive(Default)]
pub struct Watches {
    by_key: HashMap<(usize, Box<[u8]>), Vec<Watcher>>,
    dirty: std::collections::HashSet<ClientId>,
}

struct Watcher {
    client: ClientId,
    /// The key was expired (but not yet deleted) when WATCHed.
    expired: bool,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Watches `key` of `db` for `client`; `expired` says the key is
    /// present but already logically expired.
    pub fn watch(&mut self, db: usize, key: &[u8], client: ClientId, expired: bool) {
        let watchers = self.by_key.entry((db, key.into())).or_default();
        if !watchers.iter().any(|w| w.client == client) {
            watchers.push(Watcher { client, expired });
        }
    }

    /// Forgets every watch of `client` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, client: ClientId, keys: &[(usize, Box<[u8]>)]) {
        for k in keys {
            if let Some(watchers) = self.by_key.get_mut(k) {
                watchers.retain(|w| w.client != client);
                if watchers.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        self.dirty.remove(&client);
    }

    /// Redis's `touchWatchedKey`: `key` of `db` changed, and `exists` says
    /// whether it is still present afterwards.
    pub fn touch(&mut self, db: usize, key: &[u8], exists: bool) {
        if self.by_key.is_empty() {
            return;
        }
        // The tuple key needs an owned key; only paid when someone watches.
        if let Some(watchers) = self.by_key.get_mut(&(db, Box::from(key))) {
            for w in watchers {
                if w.expired && !exists {
                    // The expired key is gone: logically nothing changed.
                    w.expired = false;
                } else {
                    self.dirty.insert(w.client);
                }
            }
        }
    }

    /// Redis's `touchAllWatchedKeysInDb`: `db` is about to be emptied
    /// (FLUSHDB, FLUSHALL) or, for SWAPDB, replaced by `replaced_with`.
    /// A watched key changes if it exists on either side, unless it was
    /// expired and is now gone, or was expired and stays expired.
    pub fn touch_db(&mut self, db: usize, emptied: &Db, replaced_with: Option<&Db>, now_ms: u64) {
        for ((d, key), watchers) in &mut self.by_key {
            if *d != db {
                continue;
            }
            let in_emptied = emptied.keys.contains_key(key);
            let in_replacement = replaced_with.is_some_and(|r| r.keys.contains_key(key));
            if !in_emptied && !in_replacement {
                continue;
            }
            let expired_in_replacement = replaced_with.is_some_and(|r| r.is_expired(key, now_ms));
            for w in watchers {
                if w.expired {
                    if !in_replacement {
                        w.expired = false;
                        continue;
                    }
                    if expired_in_replacement {
                        continue;
                    }
                } else if !in_emptied && expired_in_replacement {
                    // A missing key replaced with an expired one.
                    w.expired = true;
                    continue;
                }
                self.dirty.insert(w.client);
            }
        }
    }

    /// Whether `client` watches `key` of `db` with the expired flag set.
    pub fn watched_expired(&self, db: usize, key: &[u8], client: ClientId) -> bool {
        self.by_key
            .get(&(db, Box::from(key)))
            .and_then(|ws| ws.iter().find(|w| w.client == client))
            .is_some_and(|w| w.expired)
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
