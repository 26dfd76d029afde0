//! Pub/Sub: channel, pattern and shard-channel subscriptions, delivery
//! into each client's mailbox, and the output-buffer limit that drops a
//! subscriber that stops reading.
//!
//! The registry lives in the [`Engine`](crate::Engine), so PUBLISH, keyspace
//! events and (un)subscribing are ordered with every other command by the
//! store lock. A message for another client is encoded in that client's
//! protocol and appended to its [`Mailbox`]; its connection task writes it
//! out. A message for the publishing client itself goes straight into its
//! reply buffer, before the command's own reply, as Redis orders them.
//!
//! **Invariant:** a mailbox never holds more than the `pubsub` class of
//! `client-output-buffer-limit` allows: passing the hard limit, or staying
//! over the soft limit for its seconds, kills the client (Redis's
//! `closeClientOnOutputBufferLimitReached`), so a subscriber that stops
//! reading costs bounded memory.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use atomic_waker::AtomicWaker;
use bytes::Bytes;
use parking_lot::Mutex;
use shoal_resp::{Protocol, Reply};
use shoal_store::glob::glob_match;
use shoal_store::{ClientId, Error};

use crate::commands::{is, Call};
use crate::config::OutputLimit;
use crate::ClientHandle;

type Result<T = (), E = Error> = std::result::Result<T, E>;

/// Bytes pushed to a client by others (messages, the reply that unblocks
/// it), waiting for its connection task.
///
/// Waking the owner costs one atomic swap when it is already awake, and
/// waiting costs no lock: a connection waits on its mailbox (and on being
/// killed, [`ClientHandle::killed`]) after every request.
#[derive(Default)]
pub(crate) struct Mailbox {
    state: Mutex<MailboxState>,
    /// Set whenever bytes arrive or the client is unblocked; cleared when
    /// the owner notices ([`Mailbox::arrived`]).
    ready: AtomicBool,
    /// The owning connection task, woken by mail and by a kill.
    pub task: AtomicWaker,
}

#[derive(Default)]
struct MailboxState {
    bytes: Vec<u8>,
    /// A blocked client was served, timed out or unblocked by another.
    unblocked: bool,
    /// Since when the pending bytes have exceeded the soft limit.
    over_soft_since: Option<Instant>,
}

impl Mailbox {
    /// Queues `bytes`; false if that took the client past `limit`.
    fn push(&self, bytes: &[u8], limit: OutputLimit) -> bool {
        let mut state = self.state.lock();
        state.bytes.extend_from_slice(bytes);
        let pending = state.bytes.len() as u64;
        let mut within = limit.hard_bytes == 0 || pending <= limit.hard_bytes;
        if limit.soft_bytes > 0 && pending > limit.soft_bytes {
            let since = *state.over_soft_since.get_or_insert_with(Instant::now);
            if since.elapsed().as_secs() >= limit.soft_secs {
                within = false;
            }
        } else {
            state.over_soft_since = None;
        }
        drop(state);
        self.signal();
        within
    }

    /// Queues the reply that ends a client's block and wakes it.
    pub fn unblock(&self, reply: &[u8]) {
        let mut state = self.state.lock();
        state.bytes.extend_from_slice(reply);
        state.unblocked = true;
        drop(state);
        self.signal();
    }

    fn signal(&self) {
        self.ready.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Resolves once something arrived since the owner last looked; then
    /// [`Mailbox::take`] has it (or already took it: taking may find
    /// nothing).
    pub fn arrived(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            poll_signal(&self.task, cx, || self.ready.swap(false, Ordering::AcqRel))
        })
    }

    /// Takes what is pending, and whether the client was unblocked.
    pub fn take(&self) -> (Vec<u8>, bool) {
        let mut state = self.state.lock();
        state.over_soft_since = None;
        (
            std::mem::take(&mut state.bytes),
            std::mem::take(&mut state.unblocked),
        )
    }
}

impl ClientHandle {
    /// Queues pushed bytes for this client, dropping it if it is over its
    /// output-buffer limit.
    pub(crate) fn deliver(&self, bytes: &[u8], limit: OutputLimit) {
        if self.killed.load(Ordering::Relaxed) {
            return;
        }
        if !self.mailbox.push(bytes, limit) {
            tracing::warn!(
                client = self.id,
                "client scheduled to be closed ASAP for overcoming of output buffer limits"
            );
            self.kill();
        }
    }

    /// Marks the client killed and wakes its connection task, which closes
    /// the connection.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.mailbox.task.wake();
    }

    /// Resolves once the client is killed (at once if it already is).
    pub(crate) fn killed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            poll_signal(&self.mailbox.task, cx, || {
                self.killed.load(Ordering::Acquire)
            })
        })
    }
}

/// Ready once `signalled()` says so. The task registers in between two
/// looks, so a signal sent before the registration (which found no waker
/// to wake) is still seen.
fn poll_signal(
    task: &AtomicWaker,
    cx: &mut Context<'_>,
    mut signalled: impl FnMut() -> bool,
) -> Poll<()> {
    if signalled() {
        return Poll::Ready(());
    }
    task.register(cx.waker());
    if signalled() {
        Poll::Ready(())
    } else {
        Poll::Pending
    }
}

/// What one connection is subscribed to.
#[derive(Default)]
pub(crate) struct Subscriptions {
    pub channels: HashSet<Bytes>,
    /// In subscription order, as Redis keeps its pattern list.
    pub patterns: Vec<Bytes>,
    pub shard_channels: HashSet<Bytes>,
}

impl Subscriptions {
    /// Channel, pattern and shard-channel counts, for CLIENT LIST.
    pub fn counts(&self) -> [usize; 3] {
        [
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
        ]
    }

    /// The count SUBSCRIBE and PSUBSCRIBE report.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// In RESP2, any subscription restricts the commands a client may send.
    pub fn active(&self) -> bool {
        self.count() + self.shard_channels.len() > 0
    }
}

/// Which namespace a subscription command works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn verbs(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("subscribe", "unsubscribe"),
            Kind::Pattern => ("psubscribe", "punsubscribe"),
            Kind::Shard => ("ssubscribe", "sunsubscribe"),
        }
    }
}

/// Every subscription on the server.
#[derive(Default)]
pub(crate) struct PubSub {
    channels: HashMap<Bytes, Vec<Arc<ClientHandle>>>,
    patterns: HashMap<Bytes, Vec<Arc<ClientHandle>>>,
    shard_channels: HashMap<Bytes, Vec<Arc<ClientHandle>>>,
}

impl PubSub {
    fn table(&mut self, kind: Kind) -> &mut HashMap<Bytes, Vec<Arc<ClientHandle>>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    fn add(&mut self, kind: Kind, name: &Bytes, client: &Arc<ClientHandle>) {
        self.table(kind)
            .entry(name.clone())
            .or_default()
            .push(client.clone());
    }

    fn remove(&mut self, kind: Kind, name: &[u8], client: ClientId) {
        let table = self.table(kind);
        if let Some(subscribers) = table.get_mut(name) {
            subscribers.retain(|h| h.id != client);
            if subscribers.is_empty() {
                table.remove(name);
            }
        }
    }

    /// Drops every subscription of a client that is going away.
    pub fn forget(&mut self, subs: &mut Subscriptions, client: ClientId) {
        for c in subs.channels.drain() {
            self.remove(Kind::Channel, &c, client);
        }
        for p in subs.patterns.drain(..) {
            self.remove(Kind::Pattern, &p, client);
        }
        for s in subs.shard_channels.drain() {
            self.remove(Kind::Shard, &s, client);
        }
    }

    /// Each subscribed client with its channels (plain and shard) and
    /// patterns, for ACL checks of existing subscriptions.
    pub fn subscriptions_of_clients(&self) -> Vec<(Arc<ClientHandle>, Vec<Bytes>, Vec<Bytes>)> {
        type Subs = (Arc<ClientHandle>, Vec<Bytes>, Vec<Bytes>);
        fn entry<'m>(map: &'m mut HashMap<ClientId, Subs>, c: &Arc<ClientHandle>) -> &'m mut Subs {
            map.entry(c.id)
                .or_insert_with(|| (c.clone(), Vec::new(), Vec::new()))
        }
        let mut by_client: HashMap<ClientId, Subs> = HashMap::new();
        for table in [&self.channels, &self.shard_channels] {
            for (name, clients) in table {
                for c in clients {
                    entry(&mut by_client, c).1.push(name.clone());
                }
            }
        }
        for (name, clients) in &self.patterns {
            for c in clients {
                entry(&mut by_client, c).2.push(name.clone());
            }
        }
        by_client.into_values().collect()
    }

    /// PUBLISH: delivers `message` to the channel's subscribers, then to
    /// every client with a matching pattern. Bytes for the publishing
    /// client itself go to `own` instead of its mailbox. Returns how many
    /// deliveries were made.
    pub fn publish(
        &self,
        channel: &[u8],
        message: &[u8],
        own: (ClientId, &mut Vec<u8>),
        limit: OutputLimit,
    ) -> usize {
        let (me, own_out) = own;
        let mut receivers = 0;
        let mut send = |handle: &ClientHandle, parts: &[&[u8]]| {
            let resp3 = handle.resp3.load(Ordering::Relaxed);
            let mut buf = Vec::new();
            encode_push(&mut buf, resp3, parts);
            if handle.id == me {
                own_out.extend_from_slice(&buf);
            } else {
                handle.deliver(&buf, limit);
            }
            receivers += 1;
        };
        if let Some(subscribers) = self.channels.get(channel) {
            for h in subscribers {
                send(h, &[b"message", channel, message]);
            }
        }
        for (pattern, subscribers) in &self.patterns {
            if glob_match(pattern, channel, false) {
                for h in subscribers {
                    send(h, &[b"pmessage", pattern, channel, message]);
                }
            }
        }
        receivers
    }

    /// SPUBLISH: shard channels only, no patterns.
    pub fn spublish(
        &self,
        channel: &[u8],
        message: &[u8],
        own: (ClientId, &mut Vec<u8>),
        limit: OutputLimit,
    ) -> usize {
        let (me, own_out) = own;
        let Some(subscribers) = self.shard_channels.get(channel) else {
            return 0;
        };
        for h in subscribers {
            let mut buf = Vec::new();
            encode_push(
                &mut buf,
                h.resp3.load(Ordering::Relaxed),
                &[b"smessage", channel, message],
            );
            if h.id == me {
                own_out.extend_from_slice(&buf);
            } else {
                h.deliver(&buf, limit);
            }
        }
        subscribers.len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn shard_channel_count(&self) -> usize {
        self.shard_channels.len()
    }
}

/// A pushed message: a RESP3 push, or in RESP2 a plain array.
fn encode_push(out: &mut Vec<u8>, resp3: bool, parts: &[&[u8]]) {
    let protocol = if resp3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    let mut reply = Reply::new(out, protocol);
    reply.push(parts.len());
    for p in parts {
        reply.bulk(p);
    }
}

/// The pubsub output limit, from the hot config.
pub(crate) fn pubsub_limit(shared: &crate::Shared) -> OutputLimit {
    let hot = &shared.hot;
    OutputLimit {
        hard_bytes: hot.pubsub_hard_bytes.load(Ordering::Relaxed),
        soft_bytes: hot.pubsub_soft_bytes.load(Ordering::Relaxed),
        soft_secs: hot.pubsub_soft_secs.load(Ordering::Relaxed),
    }
}

/// `[verb, name, count]` confirming a (un)subscription; `name` is absent
/// (null) when UNSUBSCRIBE had nothing to undo.
fn confirm(c: &mut Call<'_>, verb: &str, name: Option<&[u8]>, count: usize) {
    let mut r = c.reply();
    r.push(3);
    r.bulk(verb.as_bytes());
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.integer(count as i64);
}

fn count_for(subs: &Subscriptions, kind: Kind) -> usize {
    match kind {
        Kind::Shard => subs.shard_channels.len(),
        _ => subs.count(),
    }
}

fn subscribe_generic(c: &mut Call<'_>, kind: Kind) -> Result {
    let handle = c.client.handle.clone();
    let args = c.args;
    for name in &args[1..] {
        let new = match kind {
            Kind::Channel => c.client.subs.channels.insert(name.clone()),
            Kind::Shard => c.client.subs.shard_channels.insert(name.clone()),
            Kind::Pattern => {
                let new = !c.client.subs.patterns.contains(name);
                if new {
                    c.client.subs.patterns.push(name.clone());
                }
                new
            }
        };
        if new {
            c.engine.pubsub.add(kind, name, &handle);
        }
        let count = count_for(&c.client.subs, kind);
        confirm(c, kind.verbs().0, Some(name), count);
    }
    c.client.handle.info.lock().subs = c.client.subs.counts();
    Ok(())
}

fn unsubscribe_generic(c: &mut Call<'_>, kind: Kind) -> Result {
    let names: Vec<Bytes> = if c.args.len() > 1 {
        c.args[1..].to_vec()
    } else {
        match kind {
            Kind::Channel => c.client.subs.channels.iter().cloned().collect(),
            Kind::Pattern => c.client.subs.patterns.clone(),
            Kind::Shard => c.client.subs.shard_channels.iter().cloned().collect(),
        }
    };
    let verb = kind.verbs().1;
    if names.is_empty() {
        let count = count_for(&c.client.subs, kind);
        confirm(c, verb, None, count);
        return Ok(());
    }
    let id = c.client.id;
    for name in names {
        let was = match kind {
            Kind::Channel => c.client.subs.channels.remove(&name),
            Kind::Shard => c.client.subs.shard_channels.remove(&name),
            Kind::Pattern => {
                let before = c.client.subs.patterns.len();
                c.client.subs.patterns.retain(|p| *p != name);
                before != c.client.subs.patterns.len()
            }
        };
        if was {
            c.engine.pubsub.remove(kind, &name, id);
        }
        let count = count_for(&c.client.subs, kind);
        confirm(c, verb, Some(&name), count);
    }
    c.client.handle.info.lock().subs = c.client.subs.counts();
    Ok(())
}

pub(crate) fn subscribe(c: &mut Call<'_>) -> Result {
    subscribe_generic(c, Kind::Channel)
}

pub(crate) fn psubscribe(c: &mut Call<'_>) -> Result {
    subscribe_generic(c, Kind::Pattern)
}

pub(crate) fn ssubscribe(c: &mut Call<'_>) -> Result {
    subscribe_generic(c, Kind::Shard)
}

pub(crate) fn unsubscribe(c: &mut Call<'_>) -> Result {
    unsubscribe_generic(c, Kind::Channel)
}

pub(crate) fn punsubscribe(c: &mut Call<'_>) -> Result {
    unsubscribe_generic(c, Kind::Pattern)
}

pub(crate) fn sunsubscribe(c: &mut Call<'_>) -> Result {
    unsubscribe_generic(c, Kind::Shard)
}

pub(crate) fn publish(c: &mut Call<'_>) -> Result {
    let limit = pubsub_limit(c.shared);
    let n = c
        .engine
        .pubsub
        .publish(&c.args[1], &c.args[2], (c.client.id, &mut *c.out), limit);
    c.reply().integer(n as i64);
    Ok(())
}

pub(crate) fn spublish(c: &mut Call<'_>) -> Result {
    let limit = pubsub_limit(c.shared);
    let n = c
        .engine
        .pubsub
        .spublish(&c.args[1], &c.args[2], (c.client.id, &mut *c.out), limit);
    c.reply().integer(n as i64);
    Ok(())
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
];

pub(crate) fn pubsub(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    let names = |table: &HashMap<Bytes, Vec<Arc<ClientHandle>>>, pattern: Option<&Bytes>| {
        table
            .keys()
            .filter(|k| pattern.map_or(true, |p| glob_match(p, k, false)))
            .cloned()
            .collect::<Vec<Bytes>>()
    };
    if is(&sub, "channels") && argc <= 3 {
        let found = names(&c.engine.pubsub.channels, c.args.get(2));
        let mut r = c.reply();
        r.array(found.len());
        found.iter().for_each(|n| r.bulk(n));
    } else if is(&sub, "shardchannels") && argc <= 3 {
        let found = names(&c.engine.pubsub.shard_channels, c.args.get(2));
        let mut r = c.reply();
        r.array(found.len());
        found.iter().for_each(|n| r.bulk(n));
    } else if (is(&sub, "numsub") || is(&sub, "shardnumsub")) && argc >= 2 {
        let shard = is(&sub, "shardnumsub");
        let counts: Vec<(Bytes, usize)> = c.args[2..]
            .iter()
            .map(|ch| {
                let table = if shard {
                    &c.engine.pubsub.shard_channels
                } else {
                    &c.engine.pubsub.channels
                };
                (ch.clone(), table.get(ch).map_or(0, Vec::len))
            })
            .collect();
        let mut r = c.reply();
        r.map(counts.len());
        for (ch, n) in counts {
            r.bulk(&ch);
            r.integer(n as i64);
        }
    } else if is(&sub, "numpat") && argc == 2 {
        let n = c.engine.pubsub.pattern_count();
        c.reply().integer(n as i64);
    } else if is(&sub, "help") && argc == 2 {
        c.reply().help(PUBSUB_HELP);
    } else {
        // PUBSUB CHANNELS with two patterns: Redis's generic wording.
        return Err(Error::Other(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            crate::commands::c_string(&sub)
        )));
    }
    Ok(())
}

/// Publishes the store's pending keyspace events (Redis's
/// `notifyKeyspaceEvent`): `__keyspace@<db>__:<key>` carries the event
/// name, `__keyevent@<db>__:<event>` carries the key.
pub(crate) fn publish_events(
    engine: &mut crate::Engine,
    limit: OutputLimit,
    own: (ClientId, &mut Vec<u8>),
) {
    let events = std::mem::take(&mut engine.store.events);
    let flags = engine.store.notify_flags;
    let (me, own_out) = own;
    for e in events {
        if flags & shoal_store::notify::KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{}__:", e.db).into_bytes();
            channel.extend_from_slice(&e.key);
            engine
                .pubsub
                .publish(&channel, e.event.as_bytes(), (me, own_out), limit);
        }
        if flags & shoal_store::notify::KEYEVENT != 0 {
            let channel = format!("__keyevent@{}__:{}", e.db, e.event);
            engine
                .pubsub
                .publish(channel.as_bytes(), &e.key, (me, own_out), limit);
        }
    }
}
