//! `maxmemory` eviction, as Redis's `evict.c`: before a command runs while
//! used memory is over `maxmemory`, keys chosen by `maxmemory-policy`
//! (approximated LRU or LFU, random, or nearest expiry, over all keys or
//! only keys with a TTL) are deleted until the memory they held covers the
//! excess. Each victim is the best of `maxmemory-samples` random keys per
//! database, as Redis samples.
//!
//! **Invariant:** an eviction is a deletion like any other — watchers are
//! signalled, `evicted` is notified, and replicas and the AOF get a `DEL` —
//! so a replica never holds a key its master evicted.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::{Engine, Shared};

/// `maxmemory-policy`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    pub fn from_u8(n: u8) -> Policy {
        [
            Policy::NoEviction,
            Policy::AllKeysLru,
            Policy::AllKeysLfu,
            Policy::AllKeysRandom,
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ]
        .get(usize::from(n))
        .copied()
        .unwrap_or(Policy::NoEviction)
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether the access field holds LFU counters under this policy.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Keys evicted in one call at most, so one command never stalls long;
/// the next command continues.
const EVICTIONS_PER_CALL_MAX: usize = 10_000;

/// Evicts until used memory is back under `maxmemory`, if it is over.
/// Returns false if it stays over (nothing left to evict, or
/// `noeviction`): write commands are then refused with OOM.
pub(crate) fn perform(shared: &Shared, engine: &mut Engine, now_ms: u64) -> bool {
    let hot = &shared.hot;
    let max = hot.maxmemory_bytes.load(Ordering::Relaxed);
    if max == 0 {
        return true;
    }
    let used = hot.used_memory_bytes.load(Ordering::Relaxed);
    if used <= max {
        return true;
    }
    let policy = Policy::from_u8(hot.maxmemory_policy.load(Ordering::Relaxed));
    if policy == Policy::NoEviction || engine.repl.upstream.is_some() {
        // A replica leaves eviction to its master, as Redis's does.
        return false;
    }
    let samples = hot.maxmemory_samples.load(Ordering::Relaxed).max(1) as usize;
    let excess = used - max;
    let mut freed = 0u64;
    let mut evicted = 0;
    while freed < excess && evicted < EVICTIONS_PER_CALL_MAX {
        let Some((db, key)) = pick_victim(engine, policy, samples, now_ms) else {
            break;
        };
        let bytes = shoal_store::memory::key_usage(&engine.store.dbs[db], &key, 5).unwrap_or(0);
        if engine.store.config.lazyfree_eviction {
            engine.store.unlink(db, &key);
        } else {
            engine.store.delete(db, &key);
        }
        engine.store.stats.evicted_keys += 1;
        engine
            .store
            .notify(db, shoal_store::notify::EVICTED, "evicted", &key);
        engine.propagate(db, &[Bytes::from_static(b"DEL"), Bytes::from(key)], false);
        freed += bytes as u64;
        evicted += 1;
    }
    // Read the allocator again: the estimate only says when to look.
    let now_used = crate::used_memory_bytes();
    hot.used_memory_bytes.store(now_used, Ordering::Relaxed);
    now_used <= max
}

/// The best of `samples` random keys from each database, by the policy's
/// score (higher is more evictable).
fn pick_victim(
    engine: &mut Engine,
    policy: Policy,
    samples: usize,
    now_ms: u64,
) -> Option<(usize, Vec<u8>)> {
    let store = &mut engine.store;
    let mut best: Option<(u64, usize, Vec<u8>)> = None;
    for db in 0..store.dbs.len() {
        let pool = if policy.volatile_only() {
            store.dbs[db].expires.len()
        } else {
            store.dbs[db].len()
        };
        if pool == 0 {
            continue;
        }
        for _ in 0..samples.min(pool) {
            let r = store.next_random();
            let d = &store.dbs[db];
            let (key, expire_at) = if policy.volatile_only() {
                match d.expires.random(r) {
                    Some(e) => (e.key.to_vec(), Some(e.at_ms)),
                    None => continue,
                }
            } else {
                match d.keys.random(r) {
                    Some(e) => (e.key.to_vec(), None),
                    None => continue,
                }
            };
            let Some(entry) = d.keys.get(&key) else {
                continue;
            };
            let score = match policy {
                Policy::AllKeysLru | Policy::VolatileLru => {
                    shoal_store::idle_seconds(entry.value.lru(), now_ms)
                }
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - u64::from(store.lfu_frequency(&entry.value, now_ms))
                }
                Policy::VolatileTtl => u64::MAX - expire_at.unwrap_or(u64::MAX),
                _ => 0,
            };
            if best.as_ref().map_or(true, |(s, ..)| score > *s) {
                best = Some((score, db, key));
            }
            if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
                return best.map(|(_, db, key)| (db, key));
            }
        }
    }
    best.map(|(_, db, key)| (db, key))
}
