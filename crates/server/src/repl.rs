//! The master side of replication, as Redis 7.0's: SYNC and PSYNC (full
//! and partial resynchronization), the replication stream and its backlog,
//! REPLCONF, ROLE, WAIT and INFO's replication section.
//!
//! Data path: every write a command makes is encoded into
//! [`Replication::feed`] under the store lock, exactly as the AOF encodes it
//! (the same replayable forms, `SELECT` when the database changes,
//! `MULTI`/`EXEC` around a transaction). After each batch, [`flush`] moves
//! the new bytes into the backlog and, as one shared `Bytes`, onto every
//! replica's queue; each replica's connection task writes its queue to its
//! socket.
//!
//! A full resynchronization begins a fork-less snapshot
//! (`shoal_store::snapshot`) and registers the replica in the same hold of
//! the store lock, so the RDB image is the keyspace at one instant and the
//! replica's queue holds exactly the writes made after it.
//!
//! **Invariant:** a replica receives every byte of the stream from its
//! starting offset on, in order, or is disconnected; a replica whose queue
//! passes its `client-output-buffer-limit` is dropped, never skipped past.
//!
//! [`flush`]: Replication::flush

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shoal_resp::{Command, Limits, Parsed, RequestParser};
use shoal_store::ClientId;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::aof::Feed;
use crate::config::OutputLimit;
use crate::conn::ClientState;
use crate::Shared;

/// Replication facts the command path reads without the store lock.
#[derive(Default)]
pub(crate) struct RoleFlags {
    /// REPLICAOF host port is in force.
    pub following: AtomicBool,
    /// The link to the master is up and synchronized.
    pub link_up: AtomicBool,
    /// Online replicas whose last ACK is within `min-replicas-max-lag`.
    pub good_replicas: AtomicUsize,
}

/// What a connection asked for with SYNC or PSYNC; its connection task
/// turns into the replica's sender once the command's reply is out.
pub(crate) enum SyncRequest {
    /// The old protocol: an RDB image, then the stream (no offsets).
    Sync,
    /// `PSYNC replid offset`: the stream from `offset` if the backlog still
    /// has it, else a full resynchronization.
    Psync { replid: Bytes, offset: i64 },
}

/// A WAIT that could not be answered at once.
pub(crate) struct WaitRequest {
    pub wanted: usize,
    /// The client's last write's end in the stream.
    pub offset: u64,
    /// `None` waits for as long as it takes.
    pub deadline: Option<Instant>,
}

/// Waits until `request.wanted` replicas acknowledged its offset, the
/// deadline passes or the client is killed; the count that acknowledged.
pub(crate) async fn wait(
    shared: &Shared,
    handle: &crate::ClientHandle,
    request: WaitRequest,
) -> usize {
    let acked = shared.lock_engine().await.repl.acked.clone();
    loop {
        // Registered before the count is read, so an ACK in between wakes us.
        let notified = acked.notified();
        let count = shared
            .lock_engine()
            .await
            .repl
            .acked_at_least(request.offset);
        if count >= request.wanted {
            return count;
        }
        let deadline = async {
            match request.deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = notified => {}
            () = deadline => return shared.lock_engine().await.repl.acked_at_least(request.offset),
            () = handle.killed() => return count,
        }
    }
}

/// What a replica said about itself with REPLCONF before syncing.
#[derive(Default, Clone, Copy)]
pub(crate) struct ReplConf {
    pub listening_port: u16,
    /// `capa psync2`: `+CONTINUE` carries the replication id.
    pub psync2: bool,
}

/// One replica as the master tracks it; its connection task shares it.
pub(crate) struct Link {
    pub id: ClientId,
    pub addr: SocketAddr,
    pub listening_port: u16,
    /// The replica has its RDB image and follows the stream.
    pub online: AtomicBool,
    /// The offset its last `REPLCONF ACK` reported.
    pub ack_offset: AtomicU64,
    /// Unix seconds of that ACK.
    pub ack_secs: AtomicU64,
    /// Bytes queued for the replica and not yet written to its socket.
    pub queued: AtomicU64,
}

struct Replica {
    link: Arc<Link>,
    tx: mpsc::UnboundedSender<Bytes>,
    /// Since when the queue has been over the soft limit.
    over_soft_since: Option<Instant>,
}

/// The last `repl-backlog-size` bytes of the stream, for partial
/// resynchronization.
struct Backlog {
    bytes: VecDeque<u8>,
    /// Stream offset just past the last byte.
    end: u64,
}

impl Backlog {
    fn first_offset(&self) -> u64 {
        self.end - self.bytes.len() as u64
    }

    fn push(&mut self, data: &[u8], size: usize) {
        self.bytes.extend(data);
        self.end += data.len() as u64;
        let excess = self.bytes.len().saturating_sub(size.max(1));
        self.bytes.drain(..excess);
    }

    /// The stream from `offset` on, if the backlog still holds it.
    fn since(&self, offset: u64) -> Option<Bytes> {
        if offset < self.first_offset() || offset > self.end {
            return None;
        }
        let skip = (offset - self.first_offset()) as usize;
        let (a, b) = self.bytes.as_slices();
        let mut out = Vec::with_capacity(self.bytes.len() - skip);
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
        Some(out.into())
    }
}

/// The master's replication state, under the store lock (in the `Engine`).
pub(crate) struct Replication {
    /// The stream; enabled while a backlog exists. Its `appended` is
    /// `master_repl_offset`.
    pub feed: Feed,
    replicas: Vec<Replica>,
    backlog: Option<Backlog>,
    pub replid: String,
    /// The previous history's id and the first offset it does not cover:
    /// replicas of our former master can resume with us (PSYNC).
    replid2: Option<(String, u64)>,
    /// The master we follow, if REPLICAOF is in force.
    pub upstream: Option<crate::replica::Upstream>,
    /// When the last replica left, for `repl-backlog-ttl`.
    alone_since: Option<Instant>,
    /// `repl-backlog-size` and the replica output limit, from the config.
    backlog_size: usize,
    limit: OutputLimit,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Woken when a replica acknowledges an offset (WAIT waits on it).
    pub acked: Arc<tokio::sync::Notify>,
}

impl Default for Replication {
    fn default() -> Replication {
        Replication {
            feed: Feed::new(false),
            replicas: Vec::new(),
            backlog: None,
            replid: random_replid(),
            replid2: None,
            upstream: None,
            alone_since: None,
            backlog_size: 1 << 20,
            limit: OutputLimit {
                hard_bytes: 256 << 20,
                soft_bytes: 64 << 20,
                soft_secs: 60,
            },
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            acked: Arc::default(),
        }
    }
}

/// A new replication id: 40 random hex digits.
fn random_replid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::with_capacity(40);
    while id.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        id.push_str(&format!("{:016x}", h.finish()));
    }
    id.truncate(40);
    id
}

impl Replication {
    pub fn offset(&self) -> u64 {
        self.feed.appended
    }

    /// Moves what the feed encoded since the last call into the backlog
    /// and onto every replica's queue, dropping replicas over their output
    /// limit. Runs under the store lock, after each batch of commands, so
    /// every replica sees the stream in execution order.
    pub fn flush(&mut self) {
        if !self.feed.enabled {
            return;
        }
        let (bytes, _) = self.feed.take();
        if bytes.is_empty() {
            return;
        }
        if let Some(backlog) = &mut self.backlog {
            backlog.push(&bytes, self.backlog_size);
        }
        let bytes = Bytes::from(bytes);
        let limit = self.limit;
        let now = Instant::now();
        self.replicas.retain_mut(|r| {
            let queued = r
                .link
                .queued
                .fetch_add(bytes.len() as u64, Ordering::AcqRel)
                + bytes.len() as u64;
            if over_limit(r, limit, queued, now) {
                tracing::warn!(
                    replica = %r.link.addr,
                    queued,
                    "replica scheduled to be closed ASAP for overcoming of output buffer limits"
                );
                return false;
            }
            r.tx.send(bytes.clone()).is_ok()
        });
        if self.replicas.is_empty() && self.alone_since.is_none() {
            self.alone_since = Some(now);
        }
    }

    /// Appends a command outside any database (PING, REPLCONF GETACK): no
    /// `SELECT` precedes it, as Redis feeds these with the selected db.
    fn feed_raw(&mut self, args: &[&'static [u8]]) {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::from_static(a)).collect();
        self.feed.append_unselected(&args);
    }

    /// Replicas whose last ACK reached `offset`.
    pub fn acked_at_least(&self, offset: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.link.ack_offset.load(Ordering::Acquire) >= offset)
            .count()
    }

    /// Asks every replica to report its offset (for WAIT).
    pub fn request_acks(&mut self) {
        if !self.replicas.is_empty() {
            self.feed_raw(&[b"REPLCONF", b"GETACK", b"*"]);
        }
    }

    /// Drops our replicas' links (they reconnect and resynchronize), as
    /// Redis disconnects its sub-replicas when it loads a master's image.
    pub fn drop_replicas(&mut self) {
        self.replicas.clear();
    }

    /// A full sync from our master: its history becomes ours, and our own
    /// replicas, whose data no longer matches, must sync again.
    pub fn adopt(&mut self, replid: &str, offset: u64) {
        self.replicas.clear();
        self.replid = replid.to_string();
        self.replid2 = None;
        self.feed = Feed::new(true);
        self.feed.appended = offset;
        self.backlog = Some(Backlog {
            bytes: VecDeque::new(),
            end: offset,
        });
        self.alone_since = Some(Instant::now());
    }

    /// Counts `used` bytes of the master's stream as applied, and passes
    /// the command on to our replicas exactly as it came.
    pub fn applied_from_master(&mut self, args: &[Bytes], used: u64) {
        let end = self.feed.appended + used;
        self.feed.append_unselected(args);
        self.feed.appended = end;
    }

    /// REPLICAOF NO ONE: a new history begins where the old one stops;
    /// replicas that followed the old one may resume (`replid2`).
    pub fn become_master(&mut self) {
        let old = std::mem::replace(&mut self.replid, random_replid());
        self.replid2 = Some((old, self.offset() + 1));
        self.feed.forget_selected_db();
    }

    fn remove(&mut self, id: ClientId) {
        self.replicas.retain(|r| r.link.id != id);
        if self.replicas.is_empty() {
            self.alone_since = Some(Instant::now());
        }
    }

    /// Starts the backlog (and the stream) if there is none: a fresh
    /// replication id, since there is no history to continue.
    fn ensure_backlog(&mut self) {
        if self.backlog.is_none() {
            self.replid = random_replid();
            self.backlog = Some(Backlog {
                bytes: VecDeque::new(),
                end: self.feed.appended,
            });
            self.feed.enabled = true;
            tracing::info!(replid = %self.replid, "replication backlog created");
        }
    }

    fn attach(&mut self, link: Arc<Link>) -> mpsc::UnboundedReceiver<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.replicas.push(Replica {
            link,
            tx,
            over_soft_since: None,
        });
        self.alone_since = None;
        rx
    }

    /// `INFO replication`.
    pub fn info(&self, out: &mut String, config: &crate::Config) {
        use std::fmt::Write;
        match &self.upstream {
            None => out.push_str("# Replication\r\nrole:master\r\n"),
            Some(up) => {
                let connected = up.state == crate::replica::LinkState::Connected;
                let now = crate::now_ms() / 1000;
                let _ = write!(
                    out,
                    "# Replication\r\nrole:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                    up.host,
                    up.port,
                    if connected { "up" } else { "down" },
                    if connected { now.saturating_sub(up.last_io_secs) as i64 } else { -1 },
                    u8::from(up.state == crate::replica::LinkState::Sync),
                    self.offset(),
                    self.offset(),
                );
                if !connected {
                    let _ = write!(
                        out,
                        "master_link_down_since_seconds:{}\r\n",
                        if up.last_io_secs == 0 {
                            -1
                        } else {
                            now.saturating_sub(up.last_io_secs) as i64
                        }
                    );
                }
                let _ = write!(
                    out,
                    "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                    config.get("replica-priority"),
                    u8::from(config.get("replica-read-only") == "yes"),
                    u8::from(config.get("replica-announced") == "yes"),
                );
            }
        }
        let _ = write!(out, "connected_slaves:{}\r\n", self.replicas.len());
        let now = crate::now_ms() / 1000;
        for (i, r) in self.replicas.iter().enumerate() {
            let l = &r.link;
            let online = l.online.load(Ordering::Acquire);
            let _ = write!(
                out,
                "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
                l.addr.ip(),
                l.listening_port,
                if online { "online" } else { "wait_bgsave" },
                l.ack_offset.load(Ordering::Acquire),
                now.saturating_sub(l.ack_secs.load(Ordering::Acquire)),
            );
        }
        let (active, first, histlen) = match &self.backlog {
            Some(b) => (1, b.first_offset() + 1, b.bytes.len()),
            None => (0, 0, 0),
        };
        let _ = write!(
            out,
            "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{active}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{histlen}\r\n",
            self.replid,
            self.replid2.as_ref().map_or("0000000000000000000000000000000000000000", |(id, _)| id.as_str()),
            self.offset(),
            self.replid2.as_ref().map_or(-1, |(_, at)| *at as i64),
            self.backlog_size,
        );
    }

    /// ROLE's reply for a master: offset and `[ip, port, acked offset]`
    /// per replica.
    pub fn role(&self, reply: &mut shoal_resp::Reply<'_>) {
        if let Some(up) = &self.upstream {
            reply.array(5);
            reply.bulk(b"slave");
            reply.bulk(up.host.as_bytes());
            reply.integer(i64::from(up.port));
            reply.bulk(up.state.word().as_bytes());
            let connected = up.state == crate::replica::LinkState::Connected;
            reply.integer(if connected { self.offset() as i64 } else { -1 });
            return;
        }
        reply.array(3);
        reply.bulk(b"master");
        reply.integer(self.offset() as i64);
        let online: Vec<&Replica> = self
            .replicas
            .iter()
            .filter(|r| r.link.online.load(Ordering::Acquire))
            .collect();
        reply.array(online.len());
        for r in online {
            reply.array(3);
            reply.bulk(r.link.addr.ip().to_string().as_bytes());
            reply.bulk(r.link.listening_port.to_string().as_bytes());
            reply.bulk(
                r.link
                    .ack_offset
                    .load(Ordering::Acquire)
                    .to_string()
                    .as_bytes(),
            );
        }
    }
}

fn over_limit(r: &mut Replica, limit: OutputLimit, queued: u64, now: Instant) -> bool {
    if limit.hard_bytes > 0 && queued >= limit.hard_bytes {
        return true;
    }
    if limit.soft_bytes > 0 && queued >= limit.soft_bytes {
        let since = *r.over_soft_since.get_or_insert(now);
        return now.duration_since(since).as_secs() >= limit.soft_secs;
    }
    r.over_soft_since = None;
    false
}

/// Once a second: PING the replicas every `repl-ping-replica-period`,
/// drop the backlog after `repl-backlog-ttl` without replicas, and pick up
/// configuration changes.
pub(crate) async fn cron(shared: Arc<Shared>) {
    let mut loops: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if shared.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let (period, ttl, size, limit, max_lag) = {
            let config = shared.config.read();
            (
                config.get_int("repl-ping-replica-period").max(1) as u64,
                config.get_int("repl-backlog-ttl") as u64,
                config.get_int("repl-backlog-size") as usize,
                config.output_limits()[1],
                config.get_int("min-replicas-max-lag") as u64,
            )
        };
        let mut engine = shared.lock_engine().await;
        let repl = &mut engine.repl;
        repl.backlog_size = size;
        repl.limit = limit;
        let now = crate::now_ms() / 1000;
        let good = repl
            .replicas
            .iter()
            .filter(|r| {
                r.link.online.load(Ordering::Acquire)
                    && now.saturating_sub(r.link.ack_secs.load(Ordering::Acquire)) <= max_lag
            })
            .count();
        shared.role.good_replicas.store(good, Ordering::Relaxed);
        if loops % period == 0 && !repl.replicas.is_empty() && repl.upstream.is_none() {
            repl.feed_raw(&[b"PING"]);
            repl.flush();
        }
        let expired = ttl > 0
            && repl
                .alone_since
                .is_some_and(|t| t.elapsed().as_secs() >= ttl);
        if repl.replicas.is_empty() && repl.backlog.is_some() && expired && repl.upstream.is_none()
        {
            // As Redis: the backlog goes, and with it the id's history.
            repl.backlog = None;
            repl.feed.enabled = false;
            repl.replid = random_replid();
            engine.store.log_enabled = engine.aof.enabled;
            tracing::info!("replication backlog freed after repl-backlog-ttl without replicas");
        }
        loops += 1;
    }
}

/// Serves a connection that sent SYNC or PSYNC: the resynchronization,
/// then the stream, until the replica goes away or falls too far behind.
pub(crate) async fn serve(
    stream: &mut TcpStream,
    client: &mut ClientState,
    shared: &Shared,
    request: SyncRequest,
) -> std::io::Result<()> {
    let link = Arc::new(Link {
        id: client.id,
        addr: client.handle.addr,
        listening_port: client.replconf.listening_port,
        online: AtomicBool::new(false),
        ack_offset: AtomicU64::new(0),
        ack_secs: AtomicU64::new(crate::now_ms() / 1000),
        queued: AtomicU64::new(0),
    });
    let result = sync_and_stream(stream, client, shared, request, &link).await;
    shared.lock_engine().await.repl.remove(client.id);
    result
}

async fn sync_and_stream(
    stream: &mut TcpStream,
    client: &mut ClientState,
    shared: &Shared,
    request: SyncRequest,
    link: &Arc<Link>,
) -> std::io::Result<()> {
    let psync = matches!(request, SyncRequest::Psync { .. });
    if let SyncRequest::Psync { replid, offset } = &request {
        if let Some(rx) = try_partial(client, shared, replid, *offset, link) {
            return stream_to_replica(stream, client, shared, link, rx).await;
        }
    }
    tracing::info!(replica = %link.addr, "replica asks for synchronization");
    // Wait for the store's snapshot slot (a BGSAVE or an AOF rewrite may
    // hold it), sending a newline each second as Redis does, so the
    // replica knows the master is alive.
    let mut last_newline = Instant::now();
    let (rx, start_offset, replid, compress) = loop {
        {
            let mut engine = shared.lock_engine().await;
            if !engine.store.snapshot_in_progress() {
                let engine = &mut *engine;
                engine.repl.ensure_backlog();
                engine.store.log_enabled = true;
                engine.store.begin_snapshot();
                engine.repl.feed.forget_selected_db();
                engine.repl.sync_full += 1;
                let rx = engine.repl.attach(link.clone());
                break (
                    rx,
                    engine.repl.offset(),
                    engine.repl.replid.clone(),
                    engine.store.config.rdb_compression,
                );
            }
        }
        if last_newline.elapsed() >= Duration::from_secs(1) {
            stream.write_all(b"\n").await?;
            last_newline = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if psync {
        let line = format!("+FULLRESYNC {replid} {start_offset}\r\n");
        stream.write_all(line.as_bytes()).await?;
    }
    let image = snapshot_image(shared, stream, compress).await?;
    let mut header = BytesMut::new();
    header.extend_from_slice(format!("${}\r\n", image.len()).as_bytes());
    stream.write_all(&header).await?;
    stream.write_all(&image).await?;
    drop(image);
    link.online.store(true, Ordering::Release);
    tracing::info!(replica = %link.addr, "synchronization with replica succeeded");
    stream_to_replica(stream, client, shared, link, rx).await
}

/// PSYNC's attempt at a partial resynchronization: `Some` with the queue
/// if the backlog covers `offset` of our history, after `+CONTINUE`.
fn try_partial(
    client: &ClientState,
    shared: &Shared,
    replid: &[u8],
    offset: i64,
    link: &Arc<Link>,
) -> Option<mpsc::UnboundedReceiver<Bytes>> {
    let rx = {
        let mut engine = shared.engine.lock();
        let repl = &mut engine.repl;
        let ours = replid == repl.replid.as_bytes()
            || repl.replid2.as_ref().is_some_and(|(id, until)| {
                replid == id.as_bytes() && u64::try_from(offset).is_ok_and(|o| o <= *until)
            });
        // The replica asks for the byte after the last one it has, counted
        // from 1.
        let missing = match (&repl.backlog, u64::try_from(offset - 1)) {
            (Some(backlog), Ok(at)) if ours => backlog.since(at),
            _ => None,
        };
        let Some(missing) = missing else {
            if replid != b"?" {
                repl.sync_partial_err += 1;
            }
            return None;
        };
        repl.sync_partial_ok += 1;
        let rx = repl.attach(link.clone());
        let line = if client.replconf.psync2 {
            format!("+CONTINUE {}\r\n", repl.replid)
        } else {
            "+CONTINUE\r\n".to_string()
        };
        let queue = repl.replicas.last().expect("just attached");
        queue
            .link
            .queued
            .fetch_add((line.len() + missing.len()) as u64, Ordering::AcqRel);
        let _ = queue.tx.send(Bytes::from(line));
        let _ = queue.tx.send(missing);
        rx
    };
    link.online.store(true, Ordering::Release);
    tracing::info!(replica = %link.addr, offset, "partial resynchronization accepted");
    Some(rx)
}

/// Encodes the snapshot begun for this replica into memory (SYNC's reply
/// carries the length first), sending newlines while it is made.
async fn snapshot_image(
    shared: &Shared,
    stream: &mut TcpStream,
    compress: bool,
) -> std::io::Result<Vec<u8>> {
    let owner = shared.self_arc();
    let mut steps = crate::rdbfile::Steps::start(&owner, false);
    let mut encode = tokio::task::spawn_blocking(move || {
        let mut image = Vec::new();
        let result = crate::rdbfile::write_steps(&mut image, compress, || steps.next());
        result.map(|()| image)
    });
    let result = loop {
        tokio::select! {
            done = &mut encode => break done,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Err(e) = stream.write_all(b"\n").await {
                    // The replica left: let the encoder finish, then end.
                    let _ = encode.await;
                    shared.lock_engine().await.store.end_snapshot();
                    return Err(e);
                }
            }
        }
    };
    shared.lock_engine().await.store.end_snapshot();
    match result {
        Ok(image) => image,
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// Writes the replica's queue to its socket; reads its REPLCONF ACKs.
async fn stream_to_replica(
    stream: &mut TcpStream,
    client: &ClientState,
    shared: &Shared,
    link: &Arc<Link>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = stream.split();
    let acked = shared.lock_engine().await.repl.acked.clone();
    let link_for_reader = link.clone();
    let read_acks = async move {
        let mut input = BytesMut::with_capacity(4096);
        let mut parser = RequestParser::new(Limits::default());
        let mut commands: Vec<Command> = Vec::new();
        loop {
            use tokio::io::AsyncReadExt;
            if reader.read_buf(&mut input).await? == 0 {
                return Ok::<(), std::io::Error>(());
            }
            loop {
                let parsed = parser.parse(&mut input, &mut commands, 64);
                for args in commands.drain(..) {
                    note_ack(&link_for_reader, &args, &acked);
                }
                match parsed {
                    Parsed::Full => continue,
                    Parsed::Error(_) => return Ok(()),
                    _ => break,
                }
            }
            if input.len() > 1 << 20 {
                return Ok(());
            }
        }
    };
    let write_stream = async {
        while let Some(bytes) = rx.recv().await {
            writer.write_all(&bytes).await?;
            link.queued.fetch_sub(bytes.len() as u64, Ordering::AcqRel);
        }
        // Dropped from the replica list: over its limit, or shutting down.
        Ok::<(), std::io::Error>(())
    };
    let killed = client.handle.killed();
    tokio::select! {
        r = read_acks => r,
        r = write_stream => r,
        () = killed => Ok(()),
    }
}

/// Records `REPLCONF ACK <offset>` from a replica; other commands a
/// replica sends on its link get no reply, as in Redis.
fn note_ack(link: &Link, args: &[Bytes], acked: &tokio::sync::Notify) {
    if args.len() >= 3
        && args[0].eq_ignore_ascii_case(b"replconf")
        && args[1].eq_ignore_ascii_case(b"ack")
    {
        if let Some(offset) = std::str::from_utf8(&args[2])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            link.ack_offset.fetch_max(offset, Ordering::AcqRel);
            link.ack_secs
                .store(crate::now_ms() / 1000, Ordering::Release);
            acked.notify_waiters();
        }
    }
}
