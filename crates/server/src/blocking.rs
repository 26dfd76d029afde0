//! Blocked clients (BLPOP, BLMOVE, BZPOPMIN, …): who waits on which key,
//! serving them first come, first served when a key receives data, and
//! ending a block by timeout or CLIENT UNBLOCK.
//!
//! A blocking command is an ordinary store command that, finding nothing
//! to serve, sets `Ctx::block` instead of replying. The connection then
//! stops running its commands and waits. After every command (after EXEC
//! as a whole, never inside it), keys that received list or sorted-set
//! data are taken from `Store::blocking`, and each client waiting on such
//! a key, oldest first, has its command run again in its own database and
//! protocol: if that serves it, the reply goes to its mailbox and it
//! resumes; if not, it keeps its place. A served command that pushes
//! elsewhere (BLMOVE) makes further keys ready, which are served in the
//! same pass — as Redis's `handleClientsBlockedOnKeys`.
//!
//! **Invariant:** a client is in `Blocked` exactly while its connection
//! waits for an unblocking reply; the registry, under the store lock, is
//! the one place that decides whether a block ended by data, timeout,
//! CLIENT UNBLOCK or disconnection, so exactly one of them answers it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use shoal_resp::{Protocol, Reply};
use shoal_store::{BlockKind, ClientId, Ctx, Store, Value};

use crate::{ClientHandle, Engine};

/// A parked client and the command to retry for it.
pub(crate) struct Waiter {
    pub handle: Arc<ClientHandle>,
    pub db: usize,
    pub protocol: Protocol,
    pub args: Vec<Bytes>,
    pub keys: Vec<Bytes>,
    pub kind: BlockKind,
    /// Unix milliseconds; `None` waits forever.
    pub deadline_ms: Option<u64>,
}

impl Waiter {
    /// The reply for a timeout: a null array for every blocking list and
    /// sorted-set command, BLMOVE and BRPOPLPUSH included (Redis's
    /// `replyToBlockedClientTimedOut`; only their MULTI form answers a
    /// null bulk).
    pub fn timeout_reply(&self) -> Vec<u8> {
        let mut out = Vec::new();
        Reply::new(&mut out, self.protocol).null_array();
        out
    }
}

/// Every blocked client, and per key the order they blocked in.
#[derive(Default)]
pub(crate) struct Blocked {
    waiters: HashMap<ClientId, Waiter>,
    queues: HashMap<(usize, Bytes), VecDeque<ClientId>>,
}

impl Blocked {
    /// INFO's `blocked_clients`.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// INFO's `clients_in_timeout_table`: blocked with a deadline.
    pub fn with_deadline(&self) -> usize {
        self.waiters
            .values()
            .filter(|w| w.deadline_ms.is_some())
            .count()
    }

    pub fn contains(&self, id: ClientId) -> bool {
        self.waiters.contains_key(&id)
    }

    /// Parks a client on its keys (a key named twice counts once).
    pub fn block(&mut self, store: &mut Store, id: ClientId, waiter: Waiter) {
        for key in &waiter.keys {
            let queue = self.queues.entry((waiter.db, key.clone())).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
            }
            store.blocking.add(waiter.db, key);
        }
        self.waiters.insert(id, waiter);
    }

    /// Ends a client's block, whatever the reason; `None` if it was not
    /// blocked (any more).
    pub fn remove(&mut self, store: &mut Store, id: ClientId) -> Option<Waiter> {
        let waiter = self.waiters.remove(&id)?;
        for key in &waiter.keys {
            let slot = (waiter.db, key.clone());
            if let Some(queue) = self.queues.get_mut(&slot) {
                queue.retain(|&c| c != id);
                if queue.is_empty() {
                    self.queues.remove(&slot);
                    store.blocking.remove(waiter.db, key);
                }
            }
        }
        Some(waiter)
    }
}

/// The kind of blocked client the value at `key` can serve, if any.
fn serves(store: &Store, db: usize, key: &[u8]) -> Option<BlockKind> {
    match store.dbs[db].keys.get(key).map(|e| &e.value) {
        Some(Value::List(_)) => Some(BlockKind::List),
        Some(Value::ZSet(_)) => Some(BlockKind::ZSet),
        Some(Value::Stream(_)) => Some(BlockKind::Stream),
        _ => None,
    }
}

/// Counts a blocked command that ended in an error among its command's
/// failed calls (Redis's `updateStatsOnUnblock`).
fn count_failure(engine: &mut Engine, name: &[u8]) {
    if let Some((index, _)) = crate::commands::lookup(name) {
        engine.stats.commands[index].failed += 1;
    }
}

/// Whether a waiter is a blocked XREADGROUP.
fn is_group_read(waiter: &Waiter) -> bool {
    waiter.kind == BlockKind::Stream && waiter.args[0].eq_ignore_ascii_case(b"xreadgroup")
}

/// Serves clients blocked on keys that became ready, until no key is
/// ready. Run after each top-level command.
pub(crate) fn serve_ready(engine: &mut Engine, shared: &crate::Shared, now_ms: u64) {
    let limit = crate::pubsub::pubsub_limit(shared);
    loop {
        let ready = engine.store.blocking.take_ready();
        if ready.is_empty() {
            return;
        }
        for (db, key) in ready {
            let slot = (db, Bytes::copy_from_slice(&key));
            let queue: Vec<ClientId> = match engine.blocked.queues.get(&slot) {
                Some(q) => q.iter().copied().collect(),
                None => continue,
            };
            for id in queue {
                let kind = serves(&engine.store, db, &key);
                let Some(waiter) = engine.blocked.waiters.get(&id) else {
                    continue;
                };
                if kind != Some(BlockKind::Stream) && is_group_read(waiter) {
                    // Redis 7.0 unblocks XREADGROUP when its stream is
                    // deleted or replaced.
                    let mut out = Vec::new();
                    crate::conn::reply_error(
                        &mut engine.stats,
                        &mut out,
                        waiter.protocol,
                        "UNBLOCKED the stream key no longer exists",
                    );
                    let name = waiter.args[0].clone();
                    count_failure(engine, &name);
                    let waiter = engine
                        .blocked
                        .remove(&mut engine.store, id)
                        .expect("present above");
                    waiter.handle.mailbox.unblock(&out);
                    continue;
                }
                let Some(kind) = kind else {
                    // Emptied or replaced by a type no one waits for.
                    continue;
                };
                if waiter.kind != kind {
                    // Redis 7.0 leaves a client waiting for a list alone
                    // when the key becomes a sorted set, and vice versa.
                    continue;
                }
                let Some(spec) = shoal_store::lookup_command(&waiter.args[0]) else {
                    continue;
                };
                let (wdb, protocol, args) = (waiter.db, waiter.protocol, waiter.args.clone());
                let mut out = Vec::new();
                let dirty_before = engine.store.dirty;
                let mut ctx = Ctx::new(&mut engine.store, wdb, now_ms, id);
                ctx.may_block = true;
                let result = if kind == BlockKind::Stream {
                    match shoal_store::cmd::stream::serve_blocked(
                        &mut ctx,
                        &mut Reply::new(&mut out, protocol),
                        &args,
                        &key,
                    ) {
                        Ok(false) => continue,
                        Ok(true) => Ok(()),
                        Err(e) => Err(e),
                    }
                } else {
                    shoal_store::execute(spec, &mut ctx, &mut Reply::new(&mut out, protocol), &args)
                };
                if ctx.block.is_some() {
                    continue;
                }
                let rewrite = std::mem::take(&mut ctx.rewrite);
                if let Err(e) = result {
                    out.clear();
                    crate::conn::reply_error(&mut engine.stats, &mut out, protocol, &e.to_string());
                    count_failure(engine, &args[0]);
                }
                if engine.logging() {
                    engine.propagate_store_log(false);
                    if engine.store.dirty != dirty_before {
                        let entries = if rewrite.is_empty() {
                            crate::aof::canonical(&args, now_ms)
                        } else {
                            rewrite
                        };
                        for args in entries {
                            engine.propagate(wdb, &args, false);
                        }
                    }
                }
                let waiter = engine
                    .blocked
                    .remove(&mut engine.store, id)
                    .expect("present above");
                // Keyspace events the served command raised go out first.
                let mut pushed = Vec::new();
                if !engine.store.events.is_empty() {
                    crate::pubsub::publish_events(engine, limit, (id, &mut pushed));
                }
                pushed.extend_from_slice(&out);
                waiter.handle.mailbox.unblock(&pushed);
            }
        }
    }
}
