//! Point-in-time snapshots without fork and without stopping writes.
//!
//! A snapshot walks each database's key table in hash order in small
//! chunks, each under the store lock, while commands keep running between
//! chunks. The table is ordered by hash, so a cursor splits it into keys
//! already visited (hash below the cursor) and keys still to visit. Before
//! any write touches a key still to visit, [`Store::cow`] saves that key's
//! value as it was when the snapshot began (or notes that it did not exist),
//! and the walk uses the saved copy. A FLUSHDB hands the whole unvisited
//! table to the snapshot instead of copying it; SWAPDB swaps the snapshot's
//! per-database state along with the data.
//!
//! **Invariant:** the image is the keyspace at the instant `begin` ran:
//! keys visited before a write carry the old value because the walk saw it
//! first; keys visited after carry it because `cow` saved it first.
//! Extra memory is one copy of each key written during the snapshot before
//! the walk reached it — not of the whole dataset, as a fork under writes
//! can come to.

use std::collections::HashMap;

use crate::rdb::Decoded;
use crate::{convert, Db, Store, Value};

/// Keys visited per chunk: the store lock is held for about this many
/// key encodings at a time.
pub const CHUNK_KEYS: usize = 256;

/// A key's state when the snapshot began: its value and expiry, or `None`
/// if it did not exist then.
type Saved = Option<(Value, Option<u64>)>;

/// One database's progress.
struct DbSnap {
    /// Which database this was when the snapshot began (SWAPDB moves the
    /// state with the data; the file records the original number).
    origin: usize,
    /// Keys with a hash below this have been visited; 0 with `started`
    /// set means the table walk has finished.
    cursor: u64,
    started: bool,
    finished: bool,
    /// Pre-images of unvisited keys written since the snapshot began
    /// (foldhash: the walk looks up every key it visits, under the lock).
    saved: HashMap<Box<[u8]>, Saved, foldhash::fast::RandomState>,
    /// The table as it was, handed over by a FLUSHDB during the walk.
    detached: Option<Box<Db>>,
    /// Keys and expiries when the snapshot began (the RESIZEDB hint).
    sizes: (usize, usize),
}

/// A snapshot in progress.
pub struct Snapshot {
    dbs: Vec<DbSnap>,
    /// `rdb_changes_since_last_save` restarts from here when it succeeds.
    pub dirty_at_start: u64,
    /// Bytes held in pre-images (an estimate, for INFO and tests).
    pub saved_keys: usize,
}

/// What one step of the walk produced.
pub enum Step {
    /// Start of a database: its original number and the size hint.
    Db {
        origin: usize,
        keys: usize,
        expires: usize,
    },
    /// Keys with their expiry times.
    Keys(Vec<(Vec<u8>, Decoded, Option<u64>)>),
    Done,
}

impl Store {
    /// Starts a snapshot of every database as it is now.
    pub fn begin_snapshot(&mut self) {
        let dbs = self
            .dbs
            .iter()
            .enumerate()
            .map(|(i, db)| DbSnap {
                origin: i,
                cursor: 0,
                started: false,
                finished: false,
                saved: HashMap::default(),
                detached: None,
                sizes: (db.len(), db.expires.len()),
            })
            .collect();
        self.snapshot = Some(Box::new(Snapshot {
            dbs,
            dirty_at_start: self.dirty,
            saved_keys: 0,
        }));
    }

    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Abandons a snapshot (it failed, or it finished).
    pub fn end_snapshot(&mut self) -> Option<Box<Snapshot>> {
        self.snapshot.take()
    }

    /// Must run before any change to `key` of `db` (value, expiry,
    /// existence): keeps the key's state for a snapshot that has not
    /// reached it yet.
    #[inline]
    pub fn cow(&mut self, db: usize, key: &[u8]) {
        if self.snapshot.is_some() {
            self.cow_slow(db, key);
        }
    }

    fn cow_slow(&mut self, db: usize, key: &[u8]) {
        let live = &self.dbs[db];
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        let s = &mut snap.dbs[db];
        if s.finished || s.detached.is_some() || s.saved.contains_key(key) {
            return;
        }
        let hash = live.keys.hash_key(key);
        if s.started && hash < s.cursor {
            return;
        }
        let state = live
            .keys
            .get(key)
            .map(|e| (e.value.clone(), live.expire_at(key)));
        s.saved.insert(key.into(), state);
        snap.saved_keys += 1;
    }

    /// FLUSHDB's part: empties `db`, handing its table to a snapshot that
    /// still needs it. Returns how many keys it had.
    pub fn flush_db(&mut self, db: usize) -> usize {
        self.flush_db_with(db, false)
    }

    /// FLUSHDB's part, freeing the old table in the background if `lazy`
    /// (`FLUSHDB ASYNC`) and no snapshot needs it.
    pub fn flush_db_with(&mut self, db: usize, lazy: bool) -> usize {
        if self.tracking {
            self.invalidated_all = true;
        }
        // Clients blocked in XREADGROUP on a stream learn it is gone.
        for key in self.blocking.watched_keys(db) {
            if matches!(
                self.dbs[db].keys.get(&key).map(|e| &e.value),
                Some(Value::Stream(_))
            ) {
                self.blocking.signal(db, &key);
            }
        }
        let old = std::mem::take(&mut self.dbs[db]);
        let removed = old.len();
        if let Some(snap) = self.snapshot.as_mut() {
            let s = &mut snap.dbs[db];
            if !s.finished && s.detached.is_none() {
                s.detached = Some(Box::new(old));
                return removed;
            }
        }
        if lazy {
            self.lazyfree.free_db(old);
        }
        removed
    }

    /// SWAPDB's part: swaps the data and any snapshot's view of it, and
    /// wakes clients blocked on keys that now hold a list, sorted set or
    /// stream, or that held a stream and no longer do (Redis's
    /// `scanDatabaseForReadyKeys` and `scanDatabaseForDeletedStreams`).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        let is_stream = |store: &Store, db: usize, key: &[u8]| {
            matches!(
                store.dbs[db].keys.get(key).map(|e| &e.value),
                Some(Value::Stream(_))
            )
        };
        let mut was_stream = Vec::new();
        for db in [a, b] {
            for key in self.blocking.watched_keys(db) {
                if is_stream(self, db, &key) {
                    was_stream.push((db, key));
                }
            }
        }
        self.dbs.swap(a, b);
        if let Some(snap) = self.snapshot.as_mut() {
            snap.dbs.swap(a, b);
        }
        for (db, key) in was_stream {
            if !is_stream(self, db, &key) {
                self.blocking.signal(db, &key);
            }
        }
        for db in [a, b] {
            for key in self.blocking.watched_keys(db) {
                let ready = matches!(
                    self.dbs[db].keys.get(&key).map(|e| &e.value),
                    Some(Value::List(_) | Value::ZSet(_) | Value::Stream(_))
                );
                if ready {
                    self.blocking.signal(db, &key);
                }
            }
        }
    }

    /// The next piece of the snapshot. Call repeatedly (each call under
    /// the lock, releasing it between calls) until `Step::Done`.
    pub fn snapshot_step(&mut self) -> Step {
        let Some(snap) = self.snapshot.as_mut() else {
            return Step::Done;
        };
        // Databases are written in their original order.
        let Some(slot) = (0..snap.dbs.len())
            .filter(|&i| !snap.dbs[i].finished)
            .min_by_key(|&i| snap.dbs[i].origin)
        else {
            return Step::Done;
        };
        let s = &mut snap.dbs[slot];
        if !s.started {
            s.started = true;
            return Step::Db {
                origin: s.origin,
                keys: s.sizes.0,
                expires: s.sizes.1,
            };
        }
        let mut out = Vec::new();
        let source: &Db = match &s.detached {
            Some(db) => db,
            None => &self.dbs[slot],
        };
        let saved = &mut s.saved;
        let next = source.keys.scan(s.cursor, CHUNK_KEYS, |entry| {
            let key = &entry.key;
            let pre_image = if saved.is_empty() {
                None
            } else {
                saved.remove(key)
            };
            match pre_image {
                // Written since the snapshot began: its state back then.
                Some(Some((value, expire))) => {
                    out.push((key.to_vec(), convert::to_decoded(&value), expire))
                }
                // Created since the snapshot began.
                Some(None) => {}
                None => out.push((
                    key.to_vec(),
                    convert::to_decoded(&entry.value),
                    source.expire_at(key),
                )),
            }
        });
        s.cursor = next;
        if next == 0 {
            // Keys deleted since the snapshot began are not in the table
            // any more; their saved states are what remains.
            for (key, state) in s.saved.drain() {
                if let Some((value, expire)) = state {
                    out.push((key.to_vec(), convert::to_decoded(&value), expire));
                }
            }
            s.finished = true;
            s.detached = None;
        }
        Step::Keys(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Ctx, StrValue, Value};

    use super::*;

    fn set(store: &mut Store, db: usize, key: &str, value: &str) {
        let mut ctx = Ctx::new(store, db, 0, 1);
        ctx.set(
            key.as_bytes(),
            Value::Str(StrValue::new(value.as_bytes().to_vec())),
            false,
        );
    }

    fn collect(
        store: &mut Store,
        mut between: impl FnMut(&mut Store, usize),
    ) -> Vec<(usize, String, String)> {
        let mut out = Vec::new();
        let mut db = 0;
        let mut steps = 0;
        loop {
            match store.snapshot_step() {
                Step::Db { origin, .. } => db = origin,
                Step::Keys(keys) => {
                    for (k, v, _) in keys {
                        let Decoded::Str(v) = v else { panic!() };
                        out.push((
                            db,
                            String::from_utf8(k).unwrap(),
                            String::from_utf8(v).unwrap(),
                        ));
                    }
                }
                Step::Done => break,
            }
            between(store, steps);
            steps += 1;
        }
        store.end_snapshot();
        out.sort();
        out
    }

    #[test]
    fn the_image_is_the_keyspace_at_the_start_whatever_happens_during_the_walk() {
        let mut store = Store::new(3);
        for i in 0..2000 {
            set(&mut store, 0, &format!("k{i}"), "old");
            set(&mut store, 1, &format!("d1:{i}"), "one");
        }
        let mut want: Vec<(usize, String, String)> = (0..2000)
            .flat_map(|i| {
                [
                    (0, format!("k{i}"), "old".to_string()),
                    (1, format!("d1:{i}"), "one".to_string()),
                ]
            })
            .collect();
        want.sort();
        store.begin_snapshot();
        let got = collect(&mut store, |store, step| {
            // Overwrite, delete and create keys on every step, spread over
            // the whole hash range; flush and swap databases midway.
            for j in 0..50 {
                let i = (step * 37 + j * 41) % 2000;
                store.cow(0, format!("k{i}").as_bytes());
                set(store, 0, &format!("k{i}"), "new");
                let gone = format!("k{}", (i + 7) % 2000);
                store.cow(0, gone.as_bytes());
                store.delete(0, gone.as_bytes());
                let fresh = format!("fresh{step}:{j}");
                store.cow(0, fresh.as_bytes());
                set(store, 0, &fresh, "x");
            }
            if step == 3 {
                store.flush_db(1);
                set(store, 1, "after-flush", "x");
            }
            if step == 5 {
                store.swap_dbs(1, 2);
            }
        });
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
        assert!(!store.dbs[0].is_empty());
    }
}
