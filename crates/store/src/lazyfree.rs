//! Freeing big values off the command path, as Redis's lazyfree does:
//! UNLINK, `FLUSHALL ASYNC` and the `lazyfree-lazy-*` directives hand a
//! value whose freeing takes many allocations (its "effort", counted as
//! Redis's `lazyfreeGetFreeEffort` counts it) to a background thread, so
//! the store lock is not held while it is dropped. Small values are
//! dropped at once: queueing them would cost more than freeing them.
//!
//! INFO shows `lazyfree_pending_objects` (queued, not yet freed) and
//! `lazyfreed_objects` (freed by the thread since the last RESETSTAT).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use crate::{Db, Value};

/// Values with at most this effort are freed synchronously (Redis's
/// `LAZYFREE_THRESHOLD`).
pub const THRESHOLD: usize = 64;

/// Elements per quicklist node Redis would have at its default fill
/// (8 KiB nodes); a list's effort is its node count.
const LIST_ELEMENTS_PER_NODE: usize = 128;

enum Job {
    Value(Value),
    Db(Box<Db>, usize),
}

#[derive(Default)]
pub struct LazyFree {
    pending: Arc<AtomicUsize>,
    freed: Arc<AtomicUsize>,
    jobs: Option<mpsc::Sender<Job>>,
}

/// How many allocations freeing `value` takes, as Redis estimates it.
pub fn effort(value: &Value) -> usize {
    match value {
        Value::List(l) => l.len().div_ceil(LIST_ELEMENTS_PER_NODE),
        Value::Set(s) if s.encoding_name() == "hashtable" => s.len(),
        Value::ZSet(z) if z.encoding_name() == "skiplist" => z.len(),
        Value::Hash(h) if h.encoding_name() == "hashtable" => h.len(),
        Value::Stream(s) => {
            let groups = s.groups.len();
            let first_pel = s.groups.values().next().map_or(0, |g| g.pel.len());
            s.rax_nodes() + groups * (1 + first_pel)
        }
        _ => 1,
    }
}

impl LazyFree {
    /// Frees `value`, in the background if it is big.
    pub fn free_value(&mut self, value: Value) {
        if effort(&value) > THRESHOLD {
            self.pending.fetch_add(1, Ordering::Relaxed);
            self.send(Job::Value(value));
        }
    }

    /// Frees a whole database's tables in the background; each key counts
    /// as one object, as in Redis's `emptyDbAsync`.
    pub fn free_db(&mut self, db: Db) {
        let keys = db.len();
        if keys == 0 {
            return;
        }
        self.pending.fetch_add(keys, Ordering::Relaxed);
        self.send(Job::Db(Box::new(db), keys));
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    pub fn freed(&self) -> usize {
        self.freed.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.freed.store(0, Ordering::Relaxed);
    }

    fn send(&mut self, job: Job) {
        if self.jobs.is_none() {
            self.jobs = self.spawn();
        }
        let job = match &self.jobs {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        // No thread to hand it to: free it here.
        self.finish(job);
    }

    fn spawn(&self) -> Option<mpsc::Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (pending, freed) = (self.pending.clone(), self.freed.clone());
        std::thread::Builder::new()
            .name("shoal-lazyfree".into())
            .spawn(move || {
                for job in rx {
                    let n = match job {
                        Job::Value(v) => {
                            drop(v);
                            1
                        }
                        Job::Db(db, n) => {
                            drop(db);
                            n
                        }
                    };
                    pending.fetch_sub(n, Ordering::Relaxed);
                    freed.fetch_add(n, Ordering::Relaxed);
                }
            })
            .ok()
            .map(|_| tx)
    }

    fn finish(&self, job: Job) {
        let n = match job {
            Job::Value(_) => 1,
            Job::Db(_, n) => n,
        };
        self.pending.fetch_sub(n, Ordering::Relaxed);
        self.freed.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Set;
    use crate::Coll;

    #[test]
    fn big_values_are_freed_in_the_background_and_counted() {
        let mut lazy = LazyFree::default();
        let mut small = Set::new();
        small.add(b"1", 512);
        lazy.free_value(Value::Set(Coll::new(small)));
        assert_eq!((lazy.pending(), lazy.freed()), (0, 0));
        let mut big = Set::new();
        for i in 0..1000 {
            big.add(format!("m{i}").as_bytes(), 512);
        }
        assert!(effort(&Value::Set(Coll::new(big.clone()))) > THRESHOLD);
        lazy.free_value(Value::Set(Coll::new(big)));
        for _ in 0..500 {
            if lazy.freed() == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!((lazy.pending(), lazy.freed()), (0, 1));
        lazy.reset_stats();
        assert_eq!(lazy.freed(), 0);
    }
}
