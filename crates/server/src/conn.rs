//! One client connection: read, parse a batch, run it under the store lock,
//! write the replies.
//!
//! **Invariant:** replies go out in request order, and while a client does
//! not read its replies we do not read its requests: `write_all` must finish
//! before the next read, so a client that pipelines without reading holds at
//! most one batch of replies in server memory (Redis bounds this with output
//! buffer limits; backpressure bounds it here without dropping the client).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shoal_resp::{Command, Limits, Parsed, Protocol, Reply, RequestParser};
use shoal_store::{ClientId, Ctx, Error, Store};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::commands::{self, Call};
use crate::{now_ms, ClientHandle, ClientInfo, Engine, ExecStats, Shared, SlowlogEntry};

/// Commands run per store-lock acquisition at most, so one client's deep
/// pipeline cannot starve the others for long.
const BATCH_COMMANDS_MAX: usize = 1024;
/// Initial read buffer; grows for large arguments.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Never read into less room than this (an empty read would look like EOF).
const READ_SPARE_MIN_BYTES: usize = 4096;
/// An output buffer that grew past this for a big reply is shrunk back once
/// written, so idle connections do not keep megabytes each.
const OUTPUT_KEEP_BYTES_MAX: usize = 256 * 1024;
/// An empty input buffer larger than this is replaced by a small one.
const INPUT_KEEP_BYTES_MAX: usize = 256 * 1024;

/// What a command hands to its connection to finish outside the store lock.
pub(crate) enum Deferred {
    /// SYNC or PSYNC: the connection turns into a replica link.
    Sync(crate::repl::SyncRequest),
    /// A WAIT that could not be answered at once.
    Wait(crate::repl::WaitRequest),
    /// DEBUG LOADAOF: flush the AOF, then reload the dataset from it.
    LoadAof,
}

/// What `CLIENT REPLY` asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyMode {
    On,
    Off,
    /// Suppress only the next command's reply.
    Skip,
    SkipNext,
}

/// A connection's private state.
pub(crate) struct ClientState {
    pub id: ClientId,
    pub handle: Arc<ClientHandle>,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// The ACL user this connection runs as.
    pub user: String,
    /// Commands queued since MULTI.
    pub multi: Option<Vec<Command>>,
    /// A command failed to queue: EXEC must answer EXECABORT.
    pub multi_failed: bool,
    /// Watched keys: database, key, and whether it was already expired.
    pub watched: Vec<(usize, Box<[u8]>)>,
    pub reply_mode: ReplyMode,
    pub close_after_reply: bool,
    /// Lines to forward while in MONITOR mode.
    pub monitor: Option<tokio::sync::mpsc::Receiver<Bytes>>,
    pub name: Option<String>,
    /// Pub/Sub subscriptions.
    pub subs: crate::pubsub::Subscriptions,
    /// Set while the client waits in a blocking command: its deadline in
    /// Unix milliseconds (`None` waits forever).
    pub blocked: Option<Option<u64>>,
    /// Running EXEC's queued commands: blocking commands do not block,
    /// and blocked clients are served only once EXEC is done.
    pub in_exec: bool,
    /// Work a command left for the connection to finish outside the store
    /// lock before the next command runs.
    pub deferred: Option<Deferred>,
    /// What REPLCONF said before the sync.
    pub replconf: crate::repl::ReplConf,
    /// The replication offset just after this client's last write (WAIT).
    pub last_write_offset: u64,
    /// This is the link from our master: its writes are obeyed on a
    /// read-only replica.
    pub is_master: bool,
    /// How MONITOR names this client instead of its address (`lua`).
    pub monitor_label: Option<&'static str>,
}

impl ClientState {
    pub fn new(id: ClientId, handle: Arc<ClientHandle>, authenticated: bool) -> ClientState {
        ClientState {
            id,
            handle,
            db: 0,
            protocol: Protocol::Resp2,
            authenticated,
            user: "default".into(),
            multi: None,
            multi_failed: false,
            watched: Vec::new(),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            monitor: None,
            name: None,
            subs: Default::default(),
            blocked: None,
            in_exec: false,
            deferred: None,
            replconf: Default::default(),
            last_write_offset: 0,
            is_master: false,
            monitor_label: None,
        }
    }

    pub fn unwatch_all(&mut self, store: &mut Store) {
        if self.watched.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.watched);
        store.watches.unwatch(self.id, &keys);
    }

    fn publish_info(&self, last_command: &'static str, now: Instant) {
        let mut info = self.handle.info.lock();
        info.db = self.db;
        info.last_command = last_command;
        info.last_interaction = now;
        info.resp = if self.protocol == Protocol::Resp3 {
            3
        } else {
            2
        };
        info.multi = self.multi.as_ref().map_or(-1, |m| m.len() as i64);
        info.watching = self.watched.len();
        if info.name != self.name {
            info.name.clone_from(&self.name);
        }
    }
}

/// Sends one error to a connection we refuse, then closes it.
pub(crate) async fn reject(mut stream: TcpStream, message: &'static str) {
    let mut out = Vec::new();
    Reply::new(&mut out, Protocol::Resp2).error(message);
    let _ = stream.write_all(&out).await;
}

/// The shared half of a new client (CLIENT LIST, KILL, mailboxes).
pub(crate) fn new_handle(id: ClientId, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientHandle> {
    Arc::new(ClientHandle {
        id,
        addr,
        laddr,
        created: Instant::now(),
        info: parking_lot::Mutex::new(ClientInfo {
            name: None,
            db: 0,
            last_command: "NULL",
            last_interaction: Instant::now(),
            resp: 2,
            multi: -1,
            watching: 0,
            subs: [0; 3],
            user: "default".into(),
        }),
        killed: Default::default(),
        mailbox: Default::default(),
        resp3: Default::default(),
    })
}

pub(crate) async fn serve(mut stream: TcpStream, addr: SocketAddr, shared: Arc<Shared>) {
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let laddr = stream.local_addr().unwrap_or(addr);
    let handle = new_handle(id, addr, laddr);
    shared.clients.lock().insert(id, handle.clone());
    let authenticated = shared.lock_engine().await.acl.default_needs_no_auth();
    let mut client = ClientState::new(id, handle.clone(), authenticated);
    let result = connection_loop(&mut stream, &mut client, &shared).await;
    if let Err(e) = result {
        tracing::debug!(client = id, error = %e, "connection ended");
    }
    {
        let mut engine = shared.lock_engine().await;
        let engine = &mut *engine;
        client.unwatch_all(&mut engine.store);
        engine.pubsub.forget(&mut client.subs, id);
        engine.blocked.remove(&mut engine.store, id);
        engine.tracking.forget(id);
    }
    if client.monitor.is_some() {
        stop_monitoring(&shared, id);
    }
    shared.clients.lock().remove(&id);
}

async fn connection_loop(
    stream: &mut TcpStream,
    client: &mut ClientState,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut input = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let mut out: Vec<u8> = Vec::with_capacity(READ_BUFFER_BYTES);
    let mut limits_for = (
        shared.hot.generation.load(Ordering::Acquire),
        client.authenticated,
    );
    let mut parser = RequestParser::new(parser_limits(shared, client));
    // Commands parsed but not yet run: a blocked client keeps the rest of
    // its pipeline here until it is unblocked.
    let mut batch: Vec<Command> = Vec::new();
    // Bytes read since the last batch, counted under the store lock.
    let mut unaccounted_input = 0;
    let mut parsed = Parsed::Pending;
    let handle = client.handle.clone();
    loop {
        if client.blocked.is_none() {
            if batch.len() < BATCH_COMMANDS_MAX {
                let room = BATCH_COMMANDS_MAX - batch.len();
                parsed = parser.parse(&mut input, &mut batch, room);
            }
            if !batch.is_empty() {
                wait_while_paused(shared, &batch).await;
                let aof_offset = run_batch(
                    client,
                    shared,
                    &mut batch,
                    &mut out,
                    std::mem::take(&mut unaccounted_input),
                );
                if let Some(offset) = aof_offset {
                    if shared.aof.policy() == crate::aof::Fsync::Always {
                        shared.aof.commit(offset).await;
                    } else {
                        // The writer's own tick (every few ms) takes it: no
                        // wake-up syscall per write, unless the disk stalls.
                        shared.aof.keep_up(offset).await;
                    }
                }
                let now_for = (
                    shared.hot.generation.load(Ordering::Acquire),
                    client.authenticated,
                );
                if now_for != limits_for {
                    // AUTH or CONFIG SET changed what this client may send.
                    *parser.limits_mut() = parser_limits(shared, client);
                    limits_for = now_for;
                }
            }
            if batch.is_empty() {
                if let Parsed::Error(e) = &parsed {
                    Reply::new(&mut out, client.protocol).error(&format!("ERR {}", e.message()));
                    client.close_after_reply = true;
                }
            }
        }
        if !out.is_empty() {
            write_unless_killed(stream, &handle, &out).await?;
            out.clear();
            if out.capacity() > OUTPUT_KEEP_BYTES_MAX {
                out.shrink_to(READ_BUFFER_BYTES);
            }
        }
        if client.close_after_reply || handle.killed.load(Ordering::Relaxed) {
            return Ok(());
        }
        match client.deferred.take() {
            None => {}
            Some(Deferred::Sync(request)) => {
                return crate::repl::serve(stream, client, shared, request).await;
            }
            Some(Deferred::Wait(request)) => {
                let count = crate::repl::wait(shared, &handle, request).await;
                Reply::new(&mut out, client.protocol).integer(count as i64);
                continue;
            }
            Some(Deferred::LoadAof) => {
                let mut reply = Reply::new(&mut out, client.protocol);
                match crate::aof::reload(shared) {
                    Ok(()) => reply.ok(),
                    Err(e) => reply.error(&format!("ERR Error loading the AOF: {e:#}")),
                }
                continue;
            }
        }
        if client.blocked.is_none() && (parsed == Parsed::Full || !batch.is_empty()) {
            continue;
        }
        if let Some(needed) = parser.bulk_bytes_needed(input.len()) {
            // Grow once for a large argument instead of doubling many times,
            // but never by more than one chunk ahead of what has arrived.
            const RESERVE_AHEAD_MAX_BYTES: usize = 64 * 1024 * 1024;
            input.reserve(needed.min(RESERVE_AHEAD_MAX_BYTES));
        }
        if input.is_empty() && input.capacity() > INPUT_KEEP_BYTES_MAX {
            // A big request is done: give its buffer back, as Redis
            // shrinks a query buffer that grew past what it needs.
            input = BytesMut::with_capacity(READ_BUFFER_BYTES);
        }
        if input.capacity() - input.len() < READ_SPARE_MIN_BYTES {
            input.reserve(READ_BUFFER_BYTES);
        }
        let idle_timeout = shared.hot.timeout_secs.load(Ordering::Relaxed);
        // Redis never applies the idle timeout to blocked or subscribed
        // clients: they are waiting on purpose.
        let idle_timeout = if client.blocked.is_some() || client.subs.active() {
            0
        } else {
            idle_timeout
        };
        let read = async {
            if idle_timeout > 0 {
                match tokio::time::timeout(
                    Duration::from_secs(idle_timeout),
                    read_some(stream, &mut input),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Ok(0),
                }
            } else {
                read_some(stream, &mut input).await
            }
        };
        let deadline = client.blocked.flatten();
        let block_timeout = async {
            match deadline {
                Some(at) => {
                    let wait = at.saturating_sub(now_ms());
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                None => std::future::pending().await,
            }
        };
        let monitor_line = async {
            match &mut client.monitor {
                Some(lines) => lines.recv().await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            biased;
            () = handle.killed() => return Ok(()),
            () = handle.mailbox.arrived() => Wake::Mailbox,
            _ = block_timeout => Wake::BlockTimeout,
            line = monitor_line => Wake::Monitor(line),
            n = read => Wake::Read(n?),
        };
        match event {
            Wake::Mailbox => {
                let (bytes, unblocked) = handle.mailbox.take();
                if unblocked {
                    client.blocked = None;
                }
                if !bytes.is_empty() {
                    write_unless_killed(stream, &handle, &bytes).await?;
                }
            }
            Wake::BlockTimeout => {
                let mut engine = shared.lock_engine().await;
                let engine = &mut *engine;
                // Served at the same moment? Then the mailbox has the reply.
                if let Some(waiter) = engine.blocked.remove(&mut engine.store, client.id) {
                    out.extend_from_slice(&waiter.timeout_reply());
                    client.blocked = None;
                }
            }
            // The sender is dropped when this monitor fell too far behind.
            Wake::Monitor(None) => return Ok(()),
            Wake::Monitor(Some(line)) => write_unless_killed(stream, &handle, &line).await?,
            Wake::Read(0) => return Ok(()),
            Wake::Read(n) => {
                unaccounted_input += n as u64;
                let limit = shared.hot.query_buffer_limit_bytes.load(Ordering::Relaxed) as usize;
                if input.len() > limit {
                    tracing::warn!(
                        client = client.id,
                        bytes = input.len(),
                        "closing client that reached max query buffer length"
                    );
                    return Ok(());
                }
            }
        }
    }
}

/// What woke a waiting connection.
enum Wake {
    Mailbox,
    BlockTimeout,
    Monitor(Option<Bytes>),
    Read(usize),
}

/// Writes `bytes`, giving up if the client is killed meanwhile (a
/// subscriber over its output limit must not hold its task in a write).
async fn write_unless_killed(
    stream: &mut TcpStream,
    handle: &crate::ClientHandle,
    bytes: &[u8],
) -> std::io::Result<()> {
    tokio::select! {
        biased;
        () = handle.killed() => Err(std::io::ErrorKind::ConnectionAborted.into()),
        r = stream.write_all(bytes) => r,
    }
}

/// Reads what the socket has into `input`, waiting for readiness first.
///
/// `read_buf` would learn that the socket is drained only from a second
/// `read()` failing with `EAGAIN` — one wasted syscall per request in the
/// common request/reply rhythm, which on virtual machines costs more than
/// running the command. A read that fills less than the space offered has
/// drained the socket, so we clear tokio's readiness ourselves. Doing it
/// inside `try_io` is what makes this safe: tokio only clears the readiness
/// it observed before our read, so data that arrives after the read still
/// wakes us.
async fn read_some(stream: &TcpStream, input: &mut BytesMut) -> std::io::Result<usize> {
    use std::mem::MaybeUninit;
    use tokio::io::Interest;
    loop {
        stream.readable().await?;
        let spare: &mut [MaybeUninit<u8>] = input.spare_capacity_mut();
        let offered = spare.len();
        let mut got = 0;
        let result = stream.try_io(Interest::READABLE, || {
            got = socket2::SockRef::from(stream).recv(spare)?;
            if got > 0 && got < offered {
                // Drained: clear readiness now, keep the bytes.
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if got == 0 {
                    continue;
                }
            }
            Err(e) => return Err(e),
        }
        // SAFETY: `recv` initialized the first `got` bytes of the spare
        // capacity, which directly follows the buffer's length.
        unsafe { input.set_len(input.len() + got) };
        return Ok(got);
    }
}

fn parser_limits(shared: &Shared, client: &ClientState) -> Limits {
    Limits {
        bulk_len_max_bytes: shared.hot.proto_max_bulk_len_bytes.load(Ordering::Relaxed) as usize,
        unauthenticated: !client.authenticated,
        ..Limits::default()
    }
}

/// Holds a batch back while CLIENT PAUSE is in force: any batch in ALL
/// mode, a batch that writes in WRITE mode.
async fn wait_while_paused(shared: &Shared, batch: &[Command]) {
    /// Counts the client in `paused_clients` while it waits.
    struct Counted<'a>(&'a std::sync::atomic::AtomicUsize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let mut counted: Option<Counted<'_>> = None;
    loop {
        let pause = *shared.pause.lock();
        let held = pause.filter(|p| {
            Instant::now() < p.until
                && (p.all
                    || batch.iter().any(|c| {
                        // WRITE pauses what may write or be replicated
                        // (PUBLISH, PFCOUNT, EVAL), as Redis does.
                        commands::lookup(&c[0]).is_some_and(|(_, cmd)| {
                            cmd.spec.write
                                || cmd.spec.has_flag("may_replicate")
                                || cmd.spec.name == "exec"
                        })
                    }))
        });
        let Some(pause) = held else {
            break;
        };
        if counted.is_none() {
            // A paused client counts as blocked (INFO blocked_clients).
            shared.paused_clients.fetch_add(1, Ordering::Relaxed);
            counted = Some(Counted(&shared.paused_clients));
        }
        let unpaused = shared.unpause.notified();
        tokio::select! {
            _ = tokio::time::sleep_until(pause.until.into()) => {}
            _ = unpaused => {}
        }
    }
    drop(counted);
}

/// Runs a batch of commands under one acquisition of the store lock. A
/// command that blocks stops the batch; the rest stays in `batch`.
///
/// Returns the AOF offset the batch's writes end at, if it wrote any: the
/// replies may go out only once the AOF writer has that far (fsynced, under
/// `appendfsync always`).
fn run_batch(
    client: &mut ClientState,
    shared: &Shared,
    batch: &mut Vec<Command>,
    out: &mut Vec<u8>,
    input_bytes: u64,
) -> Option<u64> {
    let out_before = out.len();
    let mut engine = match shared.engine.try_lock() {
        Some(engine) => engine,
        None => loop {
            // While a script runs past busy-reply-threshold, the commands
            // that may not wait for it are answered without the lock.
            if let Some(engine) = shared.engine.try_lock_for(Duration::from_millis(5)) {
                break engine;
            }
            if shared.script_run.timed_out() {
                let answered = crate::script::busy_replies(client, shared, batch, out);
                batch.drain(..answered);
                if batch.is_empty() || client.close_after_reply {
                    return None;
                }
            }
        },
    };
    let aof_before = engine.aof.appended;
    let repl_before = engine.repl.offset();
    engine.stats.net_input_bytes += input_bytes;
    let mut last = "NULL";
    let mut clock = Clock::start();
    let mut ran = 0;
    for args in batch.iter() {
        ran += 1;
        last = run_command(client, shared, &mut engine, args, out, &mut clock);
        if client.close_after_reply || client.blocked.is_some() || client.deferred.is_some() {
            break;
        }
    }
    batch.drain(..ran);
    engine.stats.net_output_bytes += (out.len() - out_before) as u64;
    let aof_after = engine.aof.appended;
    if engine.repl.feed.enabled {
        if engine.repl.offset() != repl_before {
            client.last_write_offset = engine.repl.offset();
        }
        engine.repl.flush();
    }
    drop(engine);
    client.publish_info(last, clock.last);
    (aof_after != aof_before).then_some(aof_after)
}

/// Command timing with one clock reading per command: each command's end
/// is the next one's start, and wall-clock milliseconds are derived from
/// the monotonic reading.
pub(crate) struct Clock {
    base: Instant,
    base_ms: u64,
    last: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        let now = Instant::now();
        Clock {
            base: now,
            base_ms: now_ms(),
            last: now,
        }
    }

    fn now_ms(&self) -> u64 {
        self.base_ms + (self.last - self.base).as_millis() as u64
    }

    /// Microseconds since the previous call (or the start).
    fn lap_micros(&mut self) -> u64 {
        let now = Instant::now();
        let micros = (now - self.last).as_micros() as u64;
        self.last = now;
        micros
    }
}

/// Dispatches one command; returns its name for CLIENT LIST's `cmd`.
pub(crate) fn run_command(
    client: &mut ClientState,
    shared: &Shared,
    engine: &mut Engine,
    args: &[Bytes],
    out: &mut Vec<u8>,
    clock: &mut Clock,
) -> &'static str {
    let mark = out.len();
    let name = run_command_inner(client, shared, engine, args, out, clock);
    if !client.in_exec && engine.store.blocking.has_ready() {
        crate::blocking::serve_ready(engine, shared, clock.now_ms());
    }
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => out.truncate(mark),
        ReplyMode::Skip => client.reply_mode = ReplyMode::SkipNext,
        ReplyMode::SkipNext => {
            out.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
    }
    if engine.store.tracking {
        // Invalidations are pushes: CLIENT REPLY OFF does not drop them.
        // A command only queued by MULTI has read nothing yet.
        let queued = client.multi.is_some() && name != "multi";
        let spec = commands::lookup(&args[0])
            .map(|(_, c)| c.spec)
            .filter(|_| !queued);
        crate::tracking::after_command(engine, shared, client, spec, args, out);
    }
    name
}

fn run_command_inner(
    client: &mut ClientState,
    shared: &Shared,
    engine: &mut Engine,
    args: &[Bytes],
    out: &mut Vec<u8>,
    clock: &mut Clock,
) -> &'static str {
    let protocol = client.protocol;
    let stats = &mut engine.stats;
    let Some((index, cmd)) = commands::lookup(&args[0]) else {
        let message = unknown_command_message(args);
        *stats.errors.entry("ERR".to_string()).or_default() += 1;
        Reply::new(out, protocol).error_bytes(&message);
        if client.multi.is_some() {
            client.multi_failed = true;
        }
        return "unknown";
    };
    let spec = cmd.spec;
    // Redis's performEvictions, before any command while over maxmemory.
    let maxmemory = shared.hot.maxmemory_bytes.load(Ordering::Relaxed);
    if maxmemory > 0
        && shared.hot.used_memory_bytes.load(Ordering::Relaxed) > maxmemory
        && !client.is_master
    {
        crate::evict::perform(shared, engine, clock.now_ms());
        if engine.store.tracking {
            // Clients learn of evicted keys before the reply, as in Redis.
            crate::tracking::before_command(engine, shared, client, out);
        }
    }
    if let Some(message) = rejection(client, shared, engine, spec, args, clock.now_ms()) {
        engine.stats.commands[index].rejected += 1;
        if spec.name == "exec" {
            // Redis's execCommandAbort: a refused EXEC discards the
            // transaction and says why.
            client.multi = None;
            client.multi_failed = false;
            client.unwatch_all(&mut engine.store);
            let reason = message.strip_prefix("ERR ").unwrap_or(&message);
            let message = format!("EXECABORT Transaction discarded because of: {reason}");
            reply_error(&mut engine.stats, out, protocol, &message);
        } else {
            reply_error(&mut engine.stats, out, protocol, &message);
            if client.multi.is_some() {
                client.multi_failed = true;
            }
        }
        return spec.name;
    }
    if let Some(queue) = &mut client.multi {
        if !matches!(
            spec.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        ) {
            queue.push(args.to_vec());
            Reply::new(out, protocol).simple("QUEUED");
            return spec.name;
        }
    }
    // No clock read here: the previous command's end (or the batch start)
    // is this command's start, so a command costs one clock read.
    let now = clock.now_ms();
    let mark = out.len();
    let dirty_before = engine.store.dirty;
    let mut rewrite = Vec::new();
    let result = match cmd.server {
        Some(handler) => handler(&mut Call {
            client,
            shared,
            engine,
            out,
            args,
            now_ms: now,
            clock,
        }),
        None => {
            let mut ctx = Ctx::new(&mut engine.store, client.db, now, client.id);
            ctx.may_block = !client.in_exec;
            ctx.in_script = client.monitor_label == Some("lua");
            let mut reply = Reply::new(out, protocol);
            let result = shoal_store::execute(spec, &mut ctx, &mut reply, args);
            rewrite = std::mem::take(&mut ctx.rewrite);
            if let Some(block) = ctx.block.take() {
                client.blocked = Some(block.deadline_ms);
                let waiter = crate::blocking::Waiter {
                    handle: client.handle.clone(),
                    db: client.db,
                    protocol,
                    args: block.retry.unwrap_or_else(|| args.to_vec()),
                    keys: block.keys,
                    kind: block.kind,
                    deadline_ms: block.deadline_ms,
                };
                engine.blocked.block(&mut engine.store, client.id, waiter);
            }
            result
        }
    };
    // Taken whether or not the AOF is on, so it never outlives its command.
    let forced = std::mem::take(&mut engine.store.force_log);
    if forced && spec.name == "flushall" {
        after_flushall(shared, engine);
    }
    if engine.logging() {
        log_writes(
            client,
            engine,
            cmd.server.is_none(),
            engine.store.dirty != dirty_before || forced,
            rewrite,
            args,
            now,
        );
    }
    let micros = clock.lap_micros();
    if shared.monitor_count.load(Ordering::Relaxed) > 0
        && !spec.has_flag("admin")
        && !spec.has_flag("no-auth")
        && !spec.has_flag("skip_monitor")
    {
        feed_monitors(shared, client, args);
    }
    let stats = &mut engine.stats;
    stats.commands[index].record(micros);
    stats.processed += 1;
    if let Err(e) = result {
        // A failing command writes nothing itself; its error is the reply.
        out.truncate(mark);
        stats.commands[index].failed += 1;
        reply_error(stats, out, client.protocol, &e.to_string());
    }
    if stats.slowlog_threshold_us >= 0
        && micros >= stats.slowlog_threshold_us as u64
        && !spec.has_flag("skip_slowlog")
    {
        record_slow(stats, client, args, micros);
    }
    if !engine.store.events.is_empty() {
        // Keyspace events reach a subscribed client before the reply of
        // the command that raised them, as in Redis.
        let mut own = Vec::new();
        let limit = crate::pubsub::pubsub_limit(shared);
        crate::pubsub::publish_events(engine, limit, (client.id, &mut own));
        if !own.is_empty() {
            out.splice(mark..mark, own);
        }
    }
    spec.name
}

/// Redis 7.0's `flushAllDataAndResetRDB`: a running BGSAVE (of the data
/// just removed) is cancelled, and with save rules the empty dataset is
/// saved at once, so a restart cannot bring the flushed keys back.
fn after_flushall(shared: &Shared, engine: &mut Engine) {
    if shared.rdb.in_progress.load(Ordering::Acquire) {
        shared.rdb.cancel.store(true, Ordering::Release);
    }
    let has_rules = !shared.config.read().get("save").is_empty();
    // While the cancelled snapshot winds down, or an AOF rewrite walks
    // the store, no second snapshot can start: the save rules catch up.
    if has_rules && !engine.store.snapshot_in_progress() {
        let _ = crate::rdbfile::save_now(shared, &mut engine.store);
    }
}

/// Sends what a command wrote to the AOF and the replicas: first the store's own entries
/// (expiry deletions it ran into), then the command — as `rewrite` says, or
/// in its canonical replayable form — if it changed the dataset.
fn log_writes(
    client: &ClientState,
    engine: &mut Engine,
    data_command: bool,
    changed: bool,
    rewrite: Vec<Vec<Bytes>>,
    args: &[Bytes],
    now_ms: u64,
) {
    engine.propagate_store_log(client.in_exec);
    if !data_command || !changed {
        return;
    }
    if rewrite.is_empty() && !crate::aof::may_rewrite(args) {
        engine.propagate(client.db, args, client.in_exec);
        return;
    }
    let entries = if rewrite.is_empty() {
        crate::aof::canonical(args, now_ms)
    } else {
        rewrite
    };
    for args in entries {
        engine.propagate(client.db, &args, client.in_exec);
    }
}

/// Monitors that fall this many lines behind are disconnected, as Redis's
/// output buffer limit drops slow replicas and monitors: a monitor must
/// never make the server hold unbounded memory.
pub(crate) const MONITOR_BACKLOG_LINES_MAX: usize = 10_000;

/// Sends one command, as MONITOR shows it, to every monitor.
pub(crate) fn feed_monitors(shared: &Shared, client: &ClientState, args: &[Bytes]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        client.db,
        client
            .monitor_label
            .map_or_else(|| client.handle.addr.to_string(), str::to_string)
    );
    for arg in args {
        line.push(' ');
        quote_repr(&mut line, arg);
    }
    line.push_str("\r\n");
    let line = Bytes::from(line);
    let mut monitors = shared.monitors.lock();
    monitors.retain(|(id, tx)| *id == client.id || tx.try_send(line.clone()).is_ok());
    shared
        .monitor_count
        .store(monitors.len(), Ordering::Relaxed);
}

pub(crate) fn stop_monitoring(shared: &Shared, id: ClientId) {
    let mut monitors = shared.monitors.lock();
    monitors.retain(|(m, _)| *m != id);
    shared
        .monitor_count
        .store(monitors.len(), Ordering::Relaxed);
}

/// Redis's `sdscatrepr`: a double-quoted string with escapes.
fn quote_repr(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

/// Why a command is refused before it runs (and before MULTI queues it),
/// in Redis's order: arity, subcommand, authentication, memory.
fn rejection(
    client: &ClientState,
    shared: &Shared,
    engine: &mut Engine,
    spec: &shoal_store::CommandSpec,
    args: &[Bytes],
    now_ms: u64,
) -> Option<String> {
    if !spec.arity_ok(args.len()) {
        return Some(Error::WrongArity(spec.name.to_string()).to_string());
    }
    if let Err(e) = commands::check_subcommand(spec.name, args) {
        return Some(e.to_string());
    }
    if client.multi.is_some() && spec.has_flag("no_multi") {
        return Some("ERR Command not allowed inside a transaction".into());
    }
    if !client.authenticated && !spec.has_flag("no-auth") {
        return Some("NOAUTH Authentication required.".into());
    }
    if let Some(message) = crate::acl::command::refusal(client, shared, engine, spec, args, now_ms)
    {
        return Some(message);
    }
    if spec.write || spec.name == "ping" {
        // The atomic first: the config lock stays off the hot path.
        if !shared.rdb.last_ok.load(Ordering::Relaxed) {
            let config = shared.config.read();
            if config.get("stop-writes-on-bgsave-error") == "yes" && !config.get("save").is_empty()
            {
                return Some(crate::rdbfile::MISCONF_BGSAVE.into());
            }
        }
        if let Some(message) = shared.aof.refusal() {
            return Some(message);
        }
    }
    if let Some(message) = replication_refusal(client, shared, spec) {
        return Some(message);
    }
    if client.protocol == Protocol::Resp2
        && client.subs.active()
        && !matches!(
            spec.name,
            "ping"
                | "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "quit"
                | "reset"
        )
    {
        return Some(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
    }
    // noeviction: refuse what could grow memory once over `maxmemory`.
    // EXEC is judged by what it queued; inside it, nothing more is.
    let maxmemory = shared.hot.maxmemory_bytes.load(Ordering::Relaxed);
    let denyoom = || {
        spec.has_flag("denyoom")
            || (spec.name == "exec"
                && client.multi.iter().flatten().any(|args| {
                    commands::lookup(&args[0]).is_some_and(|(_, c)| c.spec.has_flag("denyoom"))
                }))
    };
    if maxmemory > 0
        && !client.in_exec
        && shared.hot.used_memory_bytes.load(Ordering::Relaxed) > maxmemory
        && denyoom()
    {
        return Some("OOM command not allowed when used memory > 'maxmemory'.".into());
    }
    if shared.loading.active() && !crate::loading::allowed(spec, args) {
        return Some(crate::loading::LOADING.into());
    }
    None
}

/// Redis's replication checks in `processCommand`: too few good replicas
/// for a write (`min-replicas-to-write`), a write to a read-only replica,
/// or a command that needs fresh data while the link to the master is
/// down (`replica-serve-stale-data no`). EXEC is judged by what it queued.
fn replication_refusal(
    client: &ClientState,
    shared: &Shared,
    spec: &shoal_store::CommandSpec,
) -> Option<String> {
    // Inside EXEC the transaction as a whole was judged already: a
    // REPLICAOF it ran does not stop the commands after it.
    if client.is_master || client.in_exec {
        return None;
    }
    let role = &shared.role;
    let following = role.following.load(Ordering::Relaxed);
    let min_replicas = shared.hot.min_replicas_to_write.load(Ordering::Relaxed) as usize;
    if !following && min_replicas == 0 {
        return None;
    }
    let queued = || {
        client
            .multi
            .iter()
            .flatten()
            .filter_map(|args| commands::lookup(&args[0]).map(|(_, c)| c.spec))
    };
    let is_exec = spec.name == "exec";
    let writes = spec.write || (is_exec && queued().any(|s| s.write));
    if writes && !following && role.good_replicas.load(Ordering::Relaxed) < min_replicas {
        return Some("NOREPLICAS Not enough good replicas to write.".into());
    }
    if !following {
        return None;
    }
    if writes && shared.config.read().get("replica-read-only") == "yes" {
        return Some("READONLY You can't write against a read only replica.".into());
    }
    let needs_fresh =
        !spec.has_flag("stale") || (is_exec && queued().any(|s| !s.has_flag("stale")));
    if needs_fresh
        && !role.link_up.load(Ordering::Relaxed)
        && shared.config.read().get("replica-serve-stale-data") == "no"
    {
        return Some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                .into(),
        );
    }
    None
}

/// Sends an error reply and counts it under its code (INFO errorstats).
pub(crate) fn reply_error(
    stats: &mut ExecStats,
    out: &mut Vec<u8>,
    protocol: Protocol,
    message: &str,
) {
    let code = message.split(' ').next().unwrap_or("ERR");
    match stats.errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            stats.errors.insert(code.to_string(), 1);
        }
    }
    Reply::new(out, protocol).error(message);
}

/// Redis's wording, with up to 128 bytes of the arguments quoted.
fn unknown_command_message(args: &[Bytes]) -> Vec<u8> {
    // C's `'%.*s' ` over the arguments, 128 bytes in all: raw bytes, each
    // argument ending at a NUL as a C string does.
    let c_bytes = |arg: &[u8]| -> Vec<u8> {
        let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
        arg[..end].to_vec()
    };
    let mut name = c_bytes(&args[0]);
    name.truncate(128);
    let mut rest: Vec<u8> = Vec::new();
    for arg in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        let mut text = c_bytes(arg);
        text.truncate(room);
        rest.push(b'\'');
        rest.extend_from_slice(&text);
        rest.extend_from_slice(b"' ");
    }
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(&name);
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend_from_slice(&rest);
    message
}

/// Redis keeps at most 32 arguments of 128 bytes in a slowlog entry.
const SLOWLOG_ARGS_MAX: usize = 32;
const SLOWLOG_ARG_BYTES_MAX: usize = 128;

fn record_slow(stats: &mut ExecStats, client: &ClientState, args: &[Bytes], micros: u64) {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i == SLOWLOG_ARGS_MAX - 1 && args.len() > SLOWLOG_ARGS_MAX {
            kept.push(format!("... ({} more arguments)", args.len() - i).into_bytes());
            break;
        }
        if arg.len() > SLOWLOG_ARG_BYTES_MAX {
            let mut a = arg[..SLOWLOG_ARG_BYTES_MAX].to_vec();
            a.extend(
                format!("... ({} more bytes)", arg.len() - SLOWLOG_ARG_BYTES_MAX).into_bytes(),
            );
            kept.push(a);
        } else {
            kept.push(arg.to_vec());
        }
    }
    let id = stats.slowlog_next_id;
    stats.slowlog_next_id += 1;
    stats.slowlog.push_front(SlowlogEntry {
        id,
        unix_secs: now_ms() / 1000,
        micros,
        args: kept,
        addr: client.handle.addr.to_string(),
        name: client.name.clone().unwrap_or_default(),
    });
    stats.slowlog.truncate(stats.slowlog_max_len);
}
