//! Shoal's keyspace and the semantics of Redis's data commands, without IO.
//!
//! The main types:
//! - [`Store`]: every database, the WATCH registry and keyspace statistics.
//!   The server holds it behind one lock; each command runs with exclusive
//!   access, which is what makes every command atomic and MULTI/EXEC
//!   serializable.
//! - [`Ctx`]: what a command runs with (store, selected db, the command's
//!   clock reading, the client).
//! - [`commands`]: the tables of data commands (name, arity, flags, key
//!   positions, handler). [`execute`] checks arity and runs one.
//!
//! ```
//! use bytes::Bytes;
//! use shoal_resp::{Protocol, Reply};
//! use shoal_store::{execute, lookup_command, Ctx, Store};
//!
//! let mut store = Store::new(16);
//! let mut out = Vec::new();
//! let mut run = |args: &[&str], out: &mut Vec<u8>| {
//!     let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
//!     let spec = lookup_command(&args[0]).unwrap();
//!     let mut ctx = Ctx::new(&mut store, 0, 1_700_000_000_000, 1);
//!     execute(spec, &mut ctx, &mut Reply::new(out, Protocol::Resp2), &args);
//! };
//! run(&["SET", "k", "v"], &mut out);
//! run(&["GET", "k"], &mut out);
//! assert_eq!(out, b"+OK\r\n$1\r\nv\r\n");
//! ```

pub mod cmd;
pub mod convert;
mod db;
mod dict;
pub mod digest;
mod error;
pub mod glob;
pub mod lazyfree;
mod longdouble;
pub mod memory;
pub mod notify;
pub mod rdb;
pub mod snapshot;
pub mod types;
mod value;

pub use cmd::{commands, execute, lookup_command, CommandSpec};
pub use db::{ClientId, Db, Entry, Expiry, Watches};
pub use dict::{Dict, DictItem};
pub use error::Error;
pub use value::{
    idle_seconds, lru_clock, parse_f64, parse_i64_exact, Coll, StrEncoding, StrValue, Value,
};

/// One entry of the write log: a command, as it must be replayed, and the
/// database it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub db: usize,
    pub args: Vec<bytes::Bytes>,
}

/// Counters INFO reports under `stats` and `keyspace`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub expired_keys: u64,
    /// Keys deleted to stay under `maxmemory`.
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Expired keys found by the background cycle rather than on access.
    pub expired_stale_perc: f64,
}

/// Settings the store needs from the server's configuration.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `proto-max-bulk-len`: no string may grow beyond it (SETRANGE, APPEND).
    pub proto_max_bulk_len: usize,
    /// `list-max-listpack-size`: positive, entries per list node; negative
    /// -1..-5, node size 4, 8, 16, 32, 64 KiB.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth` (accepted; nodes are never compressed).
    pub list_compress_depth: i64,
    /// `hash-max-listpack-entries` / `hash-max-listpack-value`.
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `zset-max-listpack-entries` / `zset-max-listpack-value`.
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `key-load-delay`: a test hook the RDB loader honours, microseconds
    /// per key (negative: one microsecond once in that many keys).
    pub key_load_delay: i64,
    /// `rdbcompression`: DUMP payloads LZF-compress long strings.
    pub rdb_compression: bool,
    /// An LFU `maxmemory-policy` is in force: the access field holds an
    /// LFU counter, not an LRU clock (Redis's `lru` field, either way).
    pub lfu: bool,
    /// `lfu-log-factor` / `lfu-decay-time`.
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog larger than this
    /// becomes dense.
    pub hll_sparse_max_bytes: usize,
    /// A stream node's listpack limits (`stream-node-max-bytes`,
    /// `stream-node-max-entries`; 0 is no limit).
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: i64,
    /// `lazyfree-lazy-*`: which deletions free big values in the
    /// background (UNLINK and `FLUSH… ASYNC` always do).
    pub lazyfree_user_del: bool,
    pub lazyfree_user_flush: bool,
    pub lazyfree_server_del: bool,
    pub lazyfree_expire: bool,
    pub lazyfree_eviction: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            proto_max_bulk_len: 512 * 1024 * 1024,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            key_load_delay: 0,
            rdb_compression: true,
            lfu: false,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            hll_sparse_max_bytes: 3000,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            lazyfree_user_del: false,
            lazyfree_user_flush: false,
            lazyfree_server_del: false,
            lazyfree_expire: false,
            lazyfree_eviction: false,
        }
    }
}

/// Redis's `LFU_INIT_VAL`: a new key's counter, so it is not evicted
/// before it had a chance to be used.
pub const LFU_INIT_VAL: u8 = 5;

/// Minutes, 16 bits, as LFU stamps its last decrement (`LFUGetTimeInMinutes`).
pub fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// The counter after the decay since its stamp.
fn lfu_decayed(field: u32, now_minutes: u32, decay_time: u32) -> u8 {
    let stamp = field >> 8;
    let counter = (field & 0xff) as u8;
    if decay_time == 0 {
        return counter;
    }
    let elapsed = if now_minutes >= stamp {
        now_minutes - stamp
    } else {
        65535 - stamp + now_minutes
    };
    let periods = elapsed / decay_time;
    counter.saturating_sub(periods.min(255) as u8)
}

/// What one access does to a value's access field.
#[derive(Clone, Copy)]
pub enum Access {
    /// Stamp the LRU clock.
    Lru(u32),
    /// Decay, then increment logarithmically, the LFU counter.
    Lfu {
        minutes: u32,
        log_factor: u32,
        decay_time: u32,
        draw: f64,
    },
}

impl Access {
    pub fn touch(self, value: &mut Value) {
        match self {
            Access::Lru(clock) => value.set_lru(clock),
            Access::Lfu {
                minutes,
                log_factor,
                decay_time,
                draw,
            } => {
                let mut counter = lfu_decayed(value.lru(), minutes, decay_time);
                if counter < 255 {
                    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
                    if draw < 1.0 / (base * f64::from(log_factor) + 1.0) {
                        counter += 1;
                    }
                }
                value.set_lru((minutes << 8) | u32::from(counter));
            }
        }
    }

    /// A new value's access field.
    pub fn initial(self) -> u32 {
        match self {
            Access::Lru(clock) => clock,
            Access::Lfu { minutes, .. } => (minutes << 8) | u32::from(LFU_INIT_VAL),
        }
    }
}

/// Every database and the state that spans them.
pub struct Store {
    pub dbs: Vec<Db>,
    pub watches: Watches,
    pub stats: Stats,
    pub config: StoreConfig,
    /// Writes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// The running command must be logged even if it changed nothing
    /// (Redis's `forceCommandPropagation`, as FLUSHDB and FLUSHALL do).
    pub force_log: bool,
    /// `notify-keyspace-events` as [`notify`] flags; 0 is off.
    pub notify_flags: u32,
    /// Keyspace events not yet published, in execution order.
    pub events: Vec<notify::Event>,
    /// Keys blocked clients wait on, and those that became ready.
    pub blocking: notify::Blocking,
    /// Frees big values off the command path.
    pub lazyfree: lazyfree::LazyFree,
    /// Whether changed keys are recorded for client-side caching
    /// (`CLIENT TRACKING`): then every change lands in `invalidated`, and a
    /// flush sets `invalidated_all`, for the server to send invalidations.
    /// Each key says whether a client's command changed it (false: expiry,
    /// which NOLOOP does not filter).
    pub tracking: bool,
    pub invalidated: Vec<(Box<[u8]>, bool)>,
    pub invalidated_all: bool,
    /// A snapshot being written, if any (see [`snapshot`]).
    pub snapshot: Option<Box<snapshot::Snapshot>>,
    /// Whether writes are recorded in `log` (the AOF or a replica needs
    /// them).
    pub log_enabled: bool,
    /// Writes the store made on its own (expiry deletions, as `DEL`), in
    /// order, not yet taken by the server. Commands' own entries are added
    /// by the server, which knows what each command changed.
    pub log: Vec<LogEntry>,
    rng_state: u64,
}

impl Store {
    pub fn new(databases: usize) -> Store {
        Store {
            dbs: (0..databases.max(1)).map(|_| Db::default()).collect(),
            watches: Watches::default(),
            stats: Stats::default(),
            config: StoreConfig::default(),
            dirty: 0,
            force_log: false,
            notify_flags: 0,
            events: Vec::new(),
            blocking: notify::Blocking::default(),
            lazyfree: lazyfree::LazyFree::default(),
            tracking: false,
            invalidated: Vec::new(),
            invalidated_all: false,
            snapshot: None,
            log_enabled: false,
            log: Vec::new(),
            rng_state: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Seeds the generator used by RANDOMKEY and expiry sampling.
    pub fn seed(&mut self, seed: u64) {
        self.rng_state = seed | 1;
    }

    /// Appends a write to the log, if logging is on.
    pub fn propagate(&mut self, db: usize, args: &[&[u8]]) {
        if self.log_enabled {
            self.log.push(LogEntry {
                db,
                args: args
                    .iter()
                    .map(|a| bytes::Bytes::copy_from_slice(a))
                    .collect(),
            });
        }
    }

    /// How accesses update values' LRU clock or LFU counter now (one
    /// random draw, for LFU's logarithmic increment).
    pub fn access(&mut self, now_ms: u64) -> Access {
        if !self.config.lfu {
            return Access::Lru(lru_clock(now_ms));
        }
        Access::Lfu {
            minutes: lfu_minutes(now_ms),
            log_factor: self.config.lfu_log_factor,
            decay_time: self.config.lfu_decay_time,
            // Uniform in [0, 1), as Redis's rand()/RAND_MAX.
            draw: (self.next_random() >> 11) as f64 / (1u64 << 53) as f64,
        }
    }

    /// A value's access frequency under LFU (Redis's `LFUDecrAndReturn`).
    pub fn lfu_frequency(&self, value: &Value, now_ms: u64) -> u8 {
        lfu_decayed(value.lru(), lfu_minutes(now_ms), self.config.lfu_decay_time)
    }

    /// xorshift64*: cheap, and good enough to pick sample slots.
    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Deletes `key` if its time has come, logging the deletion as DEL.
    /// Returns true if the key was expired (and is now gone).
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        if !self.dbs[db].is_expired(key, now_ms) {
            return false;
        }
        self.delete_expired(db, key);
        true
    }

    fn delete_expired(&mut self, db: usize, key: &[u8]) {
        self.cow(db, key);
        if let Some(entry) = self.dbs[db].keys.remove(key) {
            self.release(db, key, entry.value, self.config.lazyfree_expire);
        }
        self.dbs[db].expires.remove(key);
        self.stats.expired_keys += 1;
        self.watches.touch(db, key, false);
        if self.tracking {
            self.invalidated.push((key.into(), false));
        }
        self.notify(db, notify::EXPIRED, "expired", key);
        self.propagate(db, &[b"DEL", key]);
    }

    /// Records a keyspace event if its class is enabled.
    pub fn notify(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        record_event(&mut self.events, self.notify_flags, db, class, event, key);
    }

    /// Empties every database before a whole new dataset is loaded in
    /// (DEBUG LOADAOF, a replica's full sync): watchers of any key are
    /// signalled, and a running snapshot keeps the old tables.
    pub fn empty_for_load(&mut self, now_ms: u64) {
        for db in 0..self.dbs.len() {
            self.watches.touch_db(db, &self.dbs[db], None, now_ms);
            self.flush_db(db);
        }
    }

    /// Signals the watchers of `key` that it changed (Redis's
    /// `signalModifiedKey`), after the change.
    pub fn touch_watched(&mut self, db: usize, key: &[u8]) {
        if self.tracking {
            self.invalidated.push((key.into(), true));
        }
        if self.watches.is_empty() {
            return;
        }
        let exists = self.dbs[db].keys.contains_key(key);
        self.watches.touch(db, key, exists);
    }

    /// Removes a key and its TTL; true if it existed. Signals watchers.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        self.remove(db, key, false)
    }

    /// [`Store::delete`], freeing a big value in the background (UNLINK).
    pub fn unlink(&mut self, db: usize, key: &[u8]) -> bool {
        self.remove(db, key, true)
    }

    fn remove(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        self.cow(db, key);
        let d = &mut self.dbs[db];
        let Some(entry) = d.keys.remove(key) else {
            return false;
        };
        if !d.expires.is_empty() {
            d.expires.remove(key);
        }
        self.release(db, key, entry.value, lazy);
        self.watches.touch(db, key, false);
        if self.tracking {
            self.invalidated.push((key.into(), true));
        }
        true
    }

    /// Lets go of a value that left the keyspace: clients blocked in
    /// XREADGROUP on a stream learn it is gone, and a big value is freed
    /// in the background if `lazy`.
    fn release(&mut self, db: usize, key: &[u8], value: Value, lazy: bool) {
        if matches!(value, Value::Stream(_)) {
            self.blocking.signal(db, key);
        }
        if lazy {
            self.lazyfree.free_value(value);
        }
    }

    /// One pass of the background expiry cycle, Redis's sampling approach:
    /// per database, test up to `samples` random keys with a TTL, delete the
    /// expired ones, and go again while more than a quarter of a sample was
    /// expired, until `budget` samples have been examined in total. Returns
    /// how many keys were deleted.
    pub fn active_expire_cycle(&mut self, now_ms: u64, samples: usize, budget: usize) -> usize {
        let mut deleted = 0;
        let mut examined = 0;
        for db in 0..self.dbs.len() {
            loop {
                let volatile = self.dbs[db].expires.len();
                if volatile == 0 || examined >= budget {
                    break;
                }
                let mut expired_here = 0;
                let rounds = samples.min(volatile);
                for _ in 0..rounds {
                    let r = self.next_random();
                    let Some(item) = self.dbs[db].expires.random(r) else {
                        break;
                    };
                    examined += 1;
                    if item.at_ms <= now_ms {
                        let key = item.key.clone();
                        self.delete_expired(db, &key);
                        expired_here += 1;
                    }
                }
                deleted += expired_here;
                if expired_here * 4 <= rounds {
                    break;
                }
            }
        }
        deleted
    }
}

/// Queues an event if `flags` enable its class and at least one of the
/// two channels, as Redis's `notifyKeyspaceEvent` checks first. A free
/// function so a caller can hold a borrow of the databases meanwhile.
#[inline]
fn record_event(
    events: &mut Vec<notify::Event>,
    flags: u32,
    db: usize,
    class: u32,
    event: &'static str,
    key: &[u8],
) {
    if flags & class != 0 && flags & (notify::KEYSPACE | notify::KEYEVENT) != 0 {
        events.push(notify::Event {
            db,
            class,
            event,
            key: key.into(),
        });
    }
}

/// What one command runs with.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    /// The selected database.
    pub db: usize,
    /// The command's clock reading: one per command, as Redis caches
    /// `mstime()` per call, so a command sees one consistent instant.
    pub now_ms: u64,
    pub client: ClientId,
    /// Whether a blocking command may block: false inside MULTI/EXEC (it
    /// then behaves as its non-blocking form) and in store-only callers.
    pub may_block: bool,
    /// Whether a script runs the command (XREAD refuses BLOCK there).
    pub in_script: bool,
    /// Set by a blocking command that found nothing to serve: it wrote no
    /// reply, and the server parks the client on these keys.
    pub block: Option<Block>,
    /// What the write log records instead of the command itself, when
    /// replaying it as sent would not reproduce its effect (a random pick,
    /// a relative time, a deletion): see [`Ctx::propagate_instead`].
    pub rewrite: Vec<Vec<bytes::Bytes>>,
}

/// What a blocked client waits for. The server re-runs the same command
/// when one of `keys` receives data of `kind`, and answers the timeout
/// reply (a null array) at `deadline_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub keys: Vec<bytes::Bytes>,
    /// Absolute Unix milliseconds; `None` waits forever.
    pub deadline_ms: Option<u64>,
    pub kind: BlockKind,
    /// The command to retry when woken, if not the blocked one itself
    /// (XREAD with `$` resolved to the ID it meant).
    pub retry: Option<Vec<bytes::Bytes>>,
}

/// Which type of data serves a blocked client (Redis's `btype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    List,
    ZSet,
    Stream,
}

impl<'a> Ctx<'a> {
    pub fn new(store: &'a mut Store, db: usize, now_ms: u64, client: ClientId) -> Ctx<'a> {
        Ctx {
            store,
            db,
            now_ms,
            client,
            may_block: false,
            in_script: false,
            block: None,
            rewrite: Vec::new(),
        }
    }

    /// Logs `args` in place of the running command (call it again to log
    /// several commands; an empty `args` logs nothing). Redis's
    /// `rewriteClientCommandVector` / `alsoPropagate`.
    pub fn propagate_instead(&mut self, args: Vec<bytes::Bytes>) {
        self.rewrite.push(args);
    }

    pub fn db(&mut self) -> &mut Db {
        &mut self.store.dbs[self.db]
    }

    /// The value at `key` for reading, after lazy expiry; counts hits and
    /// misses and marks the key as accessed. A miss raises `keymiss`
    /// (Redis's `lookupKeyRead`).
    pub fn read(&mut self, key: &[u8]) -> Option<&Value> {
        self.store.expire_if_needed(self.db, key, self.now_ms);
        let access = self.store.access(self.now_ms);
        let stats = &mut self.store.stats;
        match self.store.dbs[self.db].keys.get_mut(key) {
            Some(entry) => {
                stats.keyspace_hits += 1;
                access.touch(&mut entry.value);
                Some(&entry.value)
            }
            None => {
                stats.keyspace_misses += 1;
                let flags = self.store.notify_flags;
                record_event(
                    &mut self.store.events,
                    flags,
                    self.db,
                    notify::KEY_MISS,
                    "keymiss",
                    key,
                );
                None
            }
        }
    }

    /// The value at `key` for writing, after lazy expiry; marks it accessed.
    pub fn write(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.store.expire_if_needed(self.db, key, self.now_ms);
        self.store.cow(self.db, key);
        let access = self.store.access(self.now_ms);
        self.store.dbs[self.db].keys.get_mut(key).map(|e| {
            access.touch(&mut e.value);
            &mut e.value
        })
    }

    /// Whether `key` exists, after lazy expiry, without touching hit stats.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.store.expire_if_needed(self.db, key, self.now_ms);
        self.store.dbs[self.db].keys.contains_key(key)
    }

    /// Stores `value` at `key`, replacing any value (an expired one is
    /// expired first). The TTL is removed unless `keep_ttl`. Signals
    /// watchers and counts a change; a new key raises the `new` event, and
    /// a list or sorted set wakes clients blocked on the key (Redis's
    /// `dbAdd`).
    pub fn set(&mut self, key: &[u8], mut value: Value, keep_ttl: bool) {
        // Redis's `setKey` looks the key up for writing first: an expired
        // key is deleted (raising `expired`) and then created anew.
        self.store.expire_if_needed(self.db, key, self.now_ms);
        self.store.cow(self.db, key);
        value.set_lru(self.store.access(self.now_ms).initial());
        let may_serve = matches!(value, Value::List(_) | Value::ZSet(_));
        let db = &mut self.store.dbs[self.db];
        let mut was_stream = false;
        let created = match db.keys.get_mut(key) {
            Some(entry) => {
                // Clients blocked in XREADGROUP on a stream that is
                // replaced learn it is gone.
                was_stream = matches!(entry.value, Value::Stream(_));
                let old = std::mem::replace(&mut entry.value, value);
                if self.store.config.lazyfree_server_del {
                    self.store.lazyfree.free_value(old);
                }
                false
            }
            None => {
                db.keys.insert(Box::new(Entry {
                    key: key.into(),
                    value,
                }));
                true
            }
        };
        if !keep_ttl && !db.expires.is_empty() {
            db.expires.remove(key);
        }
        if may_serve || was_stream {
            self.store.blocking.signal(self.db, key);
        }
        if created {
            self.notify(notify::NEW, "new", key);
        }
        self.modified(key);
    }

    /// Records a keyspace event of the selected database (Redis's
    /// `notifyKeyspaceEvent`): `class` is one of [`notify`]'s flags and
    /// `event` Redis's name for it.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.store.notify(self.db, class, event, key);
    }

    /// Sets or clears the TTL of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: Option<u64>) {
        self.store.cow(self.db, key);
        let db = &mut self.store.dbs[self.db];
        match at_ms {
            Some(at_ms) => match db.expires.get_mut(key) {
                Some(e) => e.at_ms = at_ms,
                None => {
                    db.expires.insert(Expiry {
                        key: key.into(),
                        at_ms,
                    });
                }
            },
            None => {
                db.expires.remove(key);
            }
        }
    }

    pub fn delete(&mut self, key: &[u8]) -> bool {
        let existed = self.store.delete(self.db, key);
        if existed {
            self.store.dirty += 1;
        }
        existed
    }

    /// [`Ctx::delete`] freeing a big value in the background (UNLINK).
    pub fn unlink(&mut self, key: &[u8]) -> bool {
        let existed = self.store.unlink(self.db, key);
        if existed {
            self.store.dirty += 1;
        }
        existed
    }

    /// Removes a key whose collection the command just emptied, as Redis's
    /// `dbDelete` inside a command that counts its own changes: WATCH
    /// trips, no change is counted.
    pub fn delete_emptied(&mut self, key: &[u8]) -> bool {
        self.store.delete(self.db, key)
    }

    /// Trips WATCH on `key` without counting a change.
    pub fn touched(&mut self, key: &[u8]) {
        self.store.touch_watched(self.db, key);
    }

    /// Records that `key` changed: trips WATCH and counts a change.
    pub fn modified(&mut self, key: &[u8]) {
        self.store.touch_watched(self.db, key);
        self.store.dirty += 1;
    }
}

/// Test helper: runs one command line (space-separated arguments) against
/// `store` in db 0, returning the reply bytes, or the error as `-ERR …`.
#[cfg(test)]
pub(crate) fn run_line(store: &mut Store, args: &[&str]) -> Vec<u8> {
    let args: Vec<bytes::Bytes> = args
        .iter()
        .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let spec = lookup_command(&args[0]).expect("known command");
    let mut out = Vec::new();
    let mut ctx = Ctx::new(store, 0, 1_700_000_000_000, 1);
    let mut reply = shoal_resp::Reply::new(&mut out, shoal_resp::Protocol::Resp2);
    if let Err(e) = execute(spec, &mut ctx, &mut reply, &args) {
        out.extend_from_slice(format!("-{e}\r\n").as_bytes());
    }
    out
}
