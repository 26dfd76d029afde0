//! Client-side caching (`CLIENT TRACKING`), as Redis 7.0's tracking.c.
//!
//! In the default mode the server remembers which clients read which keys
//! (by name, across databases) and, when such a key changes, sends each of
//! them one `invalidate` message and forgets the pair. In BCAST mode a
//! client names key prefixes instead and hears about every changed key
//! under them, batched per command. Messages are RESP3 push frames, or,
//! for a RESP2 client, Pub/Sub messages on `__redis__:invalidate` to the
//! connection it redirects to.
//!
//! The store records what changed (`Store::invalidated`, `invalidated_all`
//! for a flush) once any client has turned tracking on; [`after_command`]
//! and the cron turn that into messages. An invalidation for the client
//! running the command goes after its reply (after the whole EXEC inside a
//! transaction); others get theirs through their mailbox at once.
//!
//! **Invariant:** a key in `table` names clients that read it since it
//! last changed; a client's entries go when it turns tracking off or
//! disconnects (lazily: a dead id in `table` is skipped).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use shoal_resp::{Protocol, Reply};
use shoal_store::{ClientId, CommandSpec, Error};

use crate::conn::ClientState;
use crate::{ClientHandle, Engine, Shared};

type Result<T = (), E = Error> = std::result::Result<T, E>;

/// One tracking client's settings.
pub(crate) struct TrackState {
    handle: Arc<ClientHandle>,
    /// Where invalidations go (0: the client itself).
    redirect: ClientId,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    /// The redirect target disconnected.
    broken: bool,
    /// CLIENT CACHING yes/no given for the next command.
    caching: bool,
    prefixes: BTreeSet<Bytes>,
}

/// A BCAST prefix: its clients, and the keys under it changed since the
/// last broadcast with the client that changed each (for NOLOOP).
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<ClientId>,
    keys: BTreeMap<Bytes, Option<ClientId>>,
}

#[derive(Default)]
pub(crate) struct Tracking {
    clients: HashMap<ClientId, TrackState>,
    table: HashMap<Bytes, Vec<ClientId>>,
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Messages for the running client, held until its EXEC is answered.
    held: Vec<u8>,
    /// A script being run has called a read-only command.
    script_read: bool,
}

/// What an invalidation says.
enum Payload<'a> {
    Key(&'a [u8]),
    /// Everything (after a flush).
    All,
    /// A RESP array of keys (BCAST).
    Keys(&'a [u8]),
}

/// The `CLIENT TRACKING` options.
struct Options {
    redirect: ClientId,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<Bytes>,
}

impl Tracking {
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// INFO's `tracking_total_keys`, `tracking_total_items`,
    /// `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.table.len(), self.items, self.prefixes.len())
    }

    /// CLIENT LIST's flags for a tracking client.
    pub fn flags(&self, id: ClientId) -> &'static str {
        match self.clients.get(&id) {
            Some(t) if t.broken => "tR",
            Some(t) if t.bcast => "tB",
            Some(_) => "t",
            None => "",
        }
    }

    /// Turns tracking off for a client (CLIENT TRACKING off, RESET,
    /// disconnection).
    pub fn forget(&mut self, id: ClientId) {
        if let Some(t) = self.clients.remove(&id) {
            for p in &t.prefixes {
                if let Some(prefix) = self.prefixes.get_mut(p) {
                    prefix.clients.remove(&id);
                    if prefix.clients.is_empty() {
                        self.prefixes.remove(p);
                    }
                }
            }
        }
    }
}

/// `CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p]… [OPTIN]
/// [OPTOUT] [NOLOOP]`.
pub(crate) fn client_tracking(
    engine: &mut Engine,
    shared: &Shared,
    client: &ClientState,
    args: &[Bytes],
) -> Result {
    let is = |a: &[u8], w: &str| a.eq_ignore_ascii_case(w.as_bytes());
    let mut o = Options {
        redirect: 0,
        bcast: false,
        optin: false,
        optout: false,
        noloop: false,
        prefixes: Vec::new(),
    };
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j > 0;
        let a = &args[j];
        if is(a, "redirect") && more {
            j += 1;
            if o.redirect != 0 {
                return Err(Error::Other(
                    "A client can only redirect to a single other client".into(),
                ));
            }
            let id = shoal_store::parse_i64_exact(&args[j]).ok_or(Error::NotInteger)?;
            let exists = u64::try_from(id)
                .ok()
                .is_some_and(|id| shared.clients.lock().contains_key(&id));
            if !exists {
                return Err(Error::Other(
                    "The client ID you want redirect to does not exist".into(),
                ));
            }
            o.redirect = id as u64;
        } else if is(a, "bcast") {
            o.bcast = true;
        } else if is(a, "optin") {
            o.optin = true;
        } else if is(a, "optout") {
            o.optout = true;
        } else if is(a, "noloop") {
            o.noloop = true;
        } else if is(a, "prefix") && more {
            j += 1;
            o.prefixes.push(args[j].clone());
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let t = &mut engine.tracking;
    if is(&args[2], "off") {
        t.forget(client.id);
        return Ok(());
    }
    if !is(&args[2], "on") {
        return Err(Error::Syntax);
    }
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(Error::Other(
            "PREFIX option requires BCAST mode to be enabled".into(),
        ));
    }
    let current = t.clients.get(&client.id);
    if current.is_some_and(|c| c.bcast != o.bcast) {
        return Err(Error::Other(
            "You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
                .into(),
        ));
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(Error::Other(
            "OPTIN and OPTOUT are not compatible with BCAST".into(),
        ));
    }
    if o.optin && o.optout {
        return Err(Error::Other(
            "You can't specify both OPTIN mode and OPTOUT mode".into(),
        ));
    }
    if current.is_some_and(|c| (o.optin && c.optout) || (o.optout && c.optin)) {
        return Err(Error::Other(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
                .into(),
        ));
    }
    if o.bcast {
        check_prefix_collisions(current.map(|c| &c.prefixes), &o.prefixes)?;
    }
    let state = t.clients.entry(client.id).or_insert_with(|| TrackState {
        handle: client.handle.clone(),
        redirect: 0,
        bcast: false,
        optin: false,
        optout: false,
        noloop: false,
        broken: false,
        caching: false,
        prefixes: BTreeSet::new(),
    });
    state.redirect = o.redirect;
    state.bcast = o.bcast;
    state.optin = o.optin;
    state.optout = o.optout;
    state.noloop = o.noloop;
    state.broken = false;
    if o.bcast {
        let wanted = if o.prefixes.is_empty() {
            vec![Bytes::new()]
        } else {
            o.prefixes
        };
        for p in wanted {
            if state.prefixes.insert(p.clone()) {
                t.prefixes.entry(p).or_default().clients.insert(client.id);
            }
        }
    }
    engine.store.tracking = true;
    Ok(())
}

/// Redis's `checkPrefixCollisionsOrReply`: no two prefixes of one client
/// may both cover a key.
fn check_prefix_collisions(existing: Option<&BTreeSet<Bytes>>, new: &[Bytes]) -> Result {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    let text = |b: &[u8]| {
        String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or_default()).into_owned()
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(old) = existing.into_iter().flatten().find(|old| overlap(old, p)) {
            return Err(Error::Other(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(old)
            )));
        }
        if let Some(other) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(Error::Other(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(other)
            )));
        }
    }
    Ok(())
}

/// `CLIENT CACHING yes|no`.
pub(crate) fn client_caching(engine: &mut Engine, client: &ClientState, arg: &[u8]) -> Result {
    let Some(t) = engine.tracking.clients.get_mut(&client.id) else {
        return Err(Error::Other(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
                .into(),
        ));
    };
    if arg.eq_ignore_ascii_case(b"yes") {
        if !t.optin {
            return Err(Error::Other(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into(),
            ));
        }
    } else if arg.eq_ignore_ascii_case(b"no") {
        if !t.optout {
            return Err(Error::Other(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into(),
            ));
        }
    } else {
        return Err(Error::Syntax);
    }
    t.caching = true;
    Ok(())
}

/// `CLIENT GETREDIR`: the redirect id, 0 for none, -1 when not tracking.
pub(crate) fn redirect_of(engine: &Engine, id: ClientId) -> i64 {
    engine
        .tracking
        .clients
        .get(&id)
        .map_or(-1, |t| t.redirect as i64)
}

/// `CLIENT TRACKINGINFO`.
pub(crate) fn reply_info(engine: &Engine, id: ClientId, reply: &mut Reply<'_>) {
    let t = engine.tracking.clients.get(&id);
    reply.map(3);
    reply.bulk(b"flags");
    let mut flags: Vec<&str> = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = t {
        if t.bcast {
            flags.push("bcast");
        }
        if t.optin {
            flags.push("optin");
            if t.caching {
                flags.push("caching-yes");
            }
        }
        if t.optout {
            flags.push("optout");
            if t.caching {
                flags.push("caching-no");
            }
        }
        if t.noloop {
            flags.push("noloop");
        }
        if t.broken {
            flags.push("broken_redirect");
        }
    }
    reply.set(flags.len());
    for f in flags {
        reply.bulk(f.as_bytes());
    }
    reply.bulk(b"redirect");
    reply.integer(t.map_or(-1, |t| t.redirect as i64));
    reply.bulk(b"prefixes");
    match t {
        Some(t) => {
            reply.array(t.prefixes.len());
            for p in &t.prefixes {
                reply.bulk(p);
            }
        }
        None => reply.array(0),
    }
}

/// After each command: remember the keys a tracking client read, turn the
/// store's changed keys into invalidations, and (outside a transaction)
/// send the running client its own after its reply.
pub(crate) fn after_command(
    engine: &mut Engine,
    shared: &Shared,
    client: &ClientState,
    spec: Option<&CommandSpec>,
    args: &[Bytes],
    out: &mut Vec<u8>,
) {
    let reads = spec.is_some_and(|s| {
        s.has_flag("readonly")
            && !s.has_flag("pubsub")
            && !matches!(s.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    });
    if client.monitor_label == Some("lua") {
        // A script's commands count as its caller's: what they change is
        // handled after the script, as the caller's doing, and a read makes
        // the caller track the script's declared keys.
        engine.tracking.script_read |= reads;
        return;
    }
    let reads = reads | std::mem::take(&mut engine.tracking.script_read);
    if let Some(t) = engine.tracking.clients.get_mut(&client.id) {
        if let Some(spec) = spec {
            // OPTIN tracks after CLIENT CACHING yes, OPTOUT unless CACHING no.
            let wants = if t.optin {
                t.caching
            } else {
                !(t.optout && t.caching)
            };
            if !t.bcast && wants && reads {
                let view: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                for at in spec.keys_in(&view).unwrap_or_default() {
                    let ids = engine.tracking.table.entry(args[at].clone()).or_default();
                    if !ids.contains(&client.id) {
                        ids.push(client.id);
                        engine.tracking.items += 1;
                    }
                }
            }
        }
        let t = engine
            .tracking
            .clients
            .get_mut(&client.id)
            .expect("tracking");
        if client.multi.is_none() && spec.map_or(true, |s| s.name != "client") {
            t.caching = false;
        }
    }
    invalidate(engine, shared, Some(client.id), out, client.in_exec);
    if !client.in_exec {
        broadcast(engine, shared, Some(client.id), out);
        out.append(&mut engine.tracking.held);
    }
}

/// Sends invalidations for what changed before the command ran (keys
/// evicted to make room for it), ahead of its reply.
pub(crate) fn before_command(
    engine: &mut Engine,
    shared: &Shared,
    client: &ClientState,
    out: &mut Vec<u8>,
) {
    invalidate(engine, shared, Some(client.id), out, false);
}

/// Sends invalidations for what changed outside any command (active
/// expiry, the table's size limit).
pub(crate) fn cron(engine: &mut Engine, shared: &Shared) {
    if !engine.store.tracking {
        return;
    }
    let mut sink = Vec::new();
    invalidate(engine, shared, None, &mut sink, false);
    broadcast(engine, shared, None, &mut sink);
}

fn invalidate(
    engine: &mut Engine,
    shared: &Shared,
    current: Option<ClientId>,
    out: &mut Vec<u8>,
    hold: bool,
) {
    let mut sends: Vec<(ClientId, Payload<'_>)> = Vec::new();
    let all = std::mem::take(&mut engine.store.invalidated_all);
    let keys = std::mem::take(&mut engine.store.invalidated);
    let t = &mut engine.tracking;
    if all {
        let mut ids: Vec<ClientId> = t.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            sends.push((id, Payload::All));
        }
        t.table.clear();
        t.items = 0;
    }
    for (key, by_client) in &keys {
        // An expiry is nobody's doing: NOLOOP does not hide it.
        let by = if *by_client { current } else { None };
        if !t.prefixes.is_empty() {
            for (p, prefix) in t.prefixes.iter_mut() {
                if key.starts_with(p) {
                    prefix.keys.insert(Bytes::copy_from_slice(key), by);
                }
            }
        }
        let Some(ids) = t.table.remove(&key[..]) else {
            continue;
        };
        t.items -= ids.len();
        for id in ids {
            let Some(target) = t.clients.get(&id) else {
                continue;
            };
            if target.bcast || (target.noloop && Some(id) == by) {
                continue;
            }
            sends.push((id, Payload::Key(key)));
        }
    }
    let max = shared.config.read().get_int("tracking-table-max-keys") as usize;
    let mut evicted = Vec::new();
    if max > 0 && t.table.len() > max {
        let over = t.table.len() - max;
        let victims: Vec<Bytes> = t.table.keys().take(over).cloned().collect();
        for key in victims {
            let ids = t.table.remove(&key).unwrap_or_default();
            t.items -= ids.len();
            evicted.push((key, ids));
        }
    }
    for (key, ids) in &evicted {
        for &id in ids {
            if t.clients.get(&id).is_some_and(|c| !c.bcast) {
                sends.push((id, Payload::Key(key)));
            }
        }
    }
    for (id, payload) in sends {
        send(engine, shared, id, payload, current, out, hold);
    }
}

/// Sends each BCAST prefix's changed keys to its clients.
fn broadcast(engine: &mut Engine, shared: &Shared, current: Option<ClientId>, out: &mut Vec<u8>) {
    if engine.tracking.prefixes.values().all(|p| p.keys.is_empty()) {
        return;
    }
    let mut batches = Vec::new();
    for prefix in engine.tracking.prefixes.values_mut() {
        if prefix.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut prefix.keys);
        for &id in &prefix.clients {
            let noloop = engine.tracking.clients.get(&id).is_some_and(|t| t.noloop);
            let chosen: Vec<&Bytes> = keys
                .iter()
                .filter(|(_, by)| !noloop || **by != Some(id))
                .map(|(k, _)| k)
                .collect();
            if chosen.is_empty() {
                continue;
            }
            let mut array = Vec::new();
            let mut r = Reply::new(&mut array, Protocol::Resp2);
            r.array(chosen.len());
            for k in chosen {
                r.bulk(k);
            }
            batches.push((id, array));
        }
    }
    for (id, array) in batches {
        send(
            engine,
            shared,
            id,
            Payload::Keys(&array),
            current,
            out,
            false,
        );
    }
}

/// Redis's `sendTrackingMessage`: to the client or its redirect target,
/// as a push (RESP3) or a Pub/Sub message (RESP2 target subscribed).
fn send(
    engine: &mut Engine,
    shared: &Shared,
    id: ClientId,
    payload: Payload<'_>,
    current: Option<ClientId>,
    out: &mut Vec<u8>,
    hold: bool,
) {
    let Some(t) = engine.tracking.clients.get_mut(&id) else {
        return;
    };
    let source_resp3 = t.handle.resp3.load(Ordering::Relaxed);
    let mut msg = Vec::new();
    let target: Arc<ClientHandle> = if t.redirect != 0 {
        let found = shared.clients.lock().get(&t.redirect).cloned();
        match found {
            Some(h) => {
                let resp3 = h.resp3.load(Ordering::Relaxed);
                let subscribed = h.info.lock().subs.iter().sum::<usize>() > 0;
                if resp3 {
                    push_header(&mut msg);
                } else if subscribed {
                    msg.extend_from_slice(
                        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n",
                    );
                } else {
                    return;
                }
                h
            }
            None => {
                t.broken = true;
                if !source_resp3 {
                    return;
                }
                let mut r = Reply::new(&mut msg, Protocol::Resp3);
                r.push(2);
                r.bulk(b"tracking-redir-broken");
                r.integer(t.redirect as i64);
                let handle = t.handle.clone();
                route(engine, shared, &handle, msg, current, out, hold);
                return;
            }
        }
    } else {
        if !source_resp3 {
            return;
        }
        push_header(&mut msg);
        t.handle.clone()
    };
    match payload {
        Payload::Key(key) => {
            let mut r = Reply::new(&mut msg, Protocol::Resp2);
            r.array(1);
            r.bulk(key);
        }
        Payload::All => msg.extend_from_slice(if source_resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Payload::Keys(array) => msg.extend_from_slice(array),
    }
    route(engine, shared, &target, msg, current, out, hold);
}

fn push_header(msg: &mut Vec<u8>) {
    msg.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
}

/// The running client's messages go after its reply; others' to their
/// mailbox.
fn route(
    engine: &mut Engine,
    shared: &Shared,
    to: &Arc<ClientHandle>,
    msg: Vec<u8>,
    current: Option<ClientId>,
    out: &mut Vec<u8>,
    hold: bool,
) {
    if Some(to.id) == current {
        if hold {
            engine.tracking.held.extend_from_slice(&msg);
        } else {
            out.extend_from_slice(&msg);
        }
    } else {
        to.deliver(&msg, crate::pubsub::pubsub_limit(shared));
    }
}
