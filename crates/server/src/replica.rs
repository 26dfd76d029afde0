//! The replica side of replication, as Redis 7.0's: REPLICAOF, and the
//! link that follows a master — handshake, full or partial
//! resynchronization, then the master's stream applied as commands, with
//! `REPLCONF ACK` once a second and on `GETACK`.
//!
//! The master's writes run through the normal command path as a client
//! flagged `is_master`, which a read-only replica obeys. Its bytes are
//! passed on verbatim to our own replicas, and our replication id and
//! offset are the master's, so a sub-replica can later resume from
//! either of us.
//!
//! **Invariant:** the replica's offset counts exactly the stream bytes it
//! has applied; it acknowledges no byte it has not run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use shoal_resp::{Command, Limits, Parsed, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::conn::{run_command, ClientState, Clock};
use crate::Shared;

/// Where the link to the master stands (ROLE's words).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    Connect,
    Connecting,
    Sync,
    Connected,
}

impl LinkState {
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The master this server follows (under the store lock, in `Replication`).
pub(crate) struct Upstream {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Unix seconds of the last bytes from the master.
    pub last_io_secs: u64,
    /// Tells the link task to stop.
    stop: Arc<Stop>,
}

#[derive(Default)]
struct Stop {
    set: AtomicBool,
    notify: Notify,
}

impl Stop {
    fn stop(&self) {
        self.set.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// REPLICAOF host port: follow that master from now on (the link is made
/// in the background). Returns false if it is already the master.
pub(crate) fn follow(shared: &Shared, engine: &mut crate::Engine, host: &str, port: u16) -> bool {
    if let Some(up) = &engine.repl.upstream {
        if up.host == host && up.port == port {
            return false;
        }
    }
    let stop = Arc::new(Stop::default());
    engine.repl.upstream = Some(Upstream {
        host: host.to_string(),
        port,
        state: LinkState::Connect,
        last_io_secs: 0,
        stop: stop.clone(),
    });
    // A transaction running this REPLICAOF is not passed on: from here on
    // only the master's stream is.
    engine.repl.feed.discard_transaction();
    shared.role.following.store(true, Ordering::Release);
    shared.role.link_up.store(false, Ordering::Release);
    tracing::info!(host, port, "connecting to MASTER");
    let owner = shared.self_arc();
    let host = host.to_string();
    tokio::spawn(async move { run_link(owner, host, port, stop).await });
    true
}

/// REPLICAOF NO ONE: stop following and become a master, keeping the
/// data. Our replicas may go on: the history continues under a new id.
pub(crate) fn unfollow(shared: &Shared, engine: &mut crate::Engine) {
    if engine.repl.upstream.take().is_none() {
        return;
    }
    shared.role.following.store(false, Ordering::Release);
    shared.role.link_up.store(false, Ordering::Release);
    engine.repl.become_master();
    tracing::info!("MASTER MODE enabled");
}

/// Connects, synchronizes and applies the stream, reconnecting after a
/// second whenever the link fails, until told to stop.
async fn run_link(shared: Arc<Shared>, host: String, port: u16, stop: Arc<Stop>) {
    while !stop.is_set() {
        let result = tokio::select! {
            r = link_once(&shared, &host, port, &stop) => r,
            () = stop.notify.notified() => return,
        };
        if stop.is_set() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(host, port, error = %e, "MASTER <-> REPLICA link failed");
        }
        shared.role.link_up.store(false, Ordering::Release);
        set_state(&shared, &stop, LinkState::Connect);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.notify.notified() => return,
        }
    }
}

fn set_state(shared: &Shared, stop: &Arc<Stop>, state: LinkState) {
    let mut engine = shared.engine.lock();
    if let Some(up) = &mut engine.repl.upstream {
        if Arc::ptr_eq(&up.stop, stop) {
            up.state = state;
            up.last_io_secs = crate::now_ms() / 1000;
        }
    }
}

fn link_error(what: impl Into<String>) -> std::io::Error {
    std::io::Error::other(what.into())
}

/// The handshake's reading side: lines, the RDB payload, then commands.
struct MasterReader {
    input: BytesMut,
}

impl MasterReader {
    async fn fill(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        self.input.reserve(16 * 1024);
        if stream.read_buf(&mut self.input).await? == 0 {
            return Err(link_error("the master closed the connection"));
        }
        Ok(())
    }

    /// One reply line, skipping the newlines a master sends to keep the
    /// link alive while it prepares the payload.
    async fn line(&mut self, stream: &mut TcpStream, timeout: Duration) -> std::io::Result<String> {
        loop {
            while self.input.first() == Some(&b'\n') {
                self.input.advance(1);
            }
            if let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.input[..end]).into_owned();
                self.input.advance(end + 2);
                return Ok(line);
            }
            if self.input.len() > 64 * 1024 {
                return Err(link_error("the master sent an overlong line"));
            }
            tokio::time::timeout(timeout, self.fill(stream))
                .await
                .map_err(|_| link_error("timeout talking to the master"))??;
        }
    }

    async fn command(
        &mut self,
        stream: &mut TcpStream,
        args: &[&[u8]],
        timeout: Duration,
    ) -> std::io::Result<String> {
        let mut out = Vec::new();
        let mut reply = shoal_resp::Reply::new(&mut out, shoal_resp::Protocol::Resp2);
        reply.array(args.len());
        for a in args {
            reply.bulk(a);
        }
        stream.write_all(&out).await?;
        self.line(stream, timeout).await
    }
}

/// One connection to the master, from connect until it fails.
async fn link_once(
    shared: &Shared,
    host: &str,
    port: u16,
    stop: &Arc<Stop>,
) -> std::io::Result<()> {
    let (timeout, masterauth, masteruser, my_port) = {
        let config = shared.config.read();
        (
            Duration::from_secs(config.get_int("repl-timeout").max(1) as u64),
            config.get("masterauth").to_string(),
            config.get("masteruser").to_string(),
            shared.port,
        )
    };
    set_state(shared, stop, LinkState::Connecting);
    let mut stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| link_error("timeout connecting to the master"))??;
    stream.set_nodelay(true)?;
    tracing::info!(host, port, "MASTER <-> REPLICA sync started");
    let mut reader = MasterReader {
        input: BytesMut::with_capacity(16 * 1024),
    };
    let pong = reader.command(&mut stream, &[b"PING"], timeout).await?;
    let auth_needed = pong.starts_with("-NOAUTH") || pong.starts_with("-NOPERM");
    if pong.starts_with('-') && !auth_needed {
        return Err(link_error(format!(
            "error reply to PING from master: {pong}"
        )));
    }
    if !masterauth.is_empty() {
        let reply = if masteruser.is_empty() {
            let args: [&[u8]; 2] = [b"AUTH", masterauth.as_bytes()];
            reader.command(&mut stream, &args, timeout).await?
        } else {
            let args: [&[u8]; 3] = [b"AUTH", masteruser.as_bytes(), masterauth.as_bytes()];
            reader.command(&mut stream, &args, timeout).await?
        };
        if reply.starts_with('-') {
            return Err(link_error(format!("unable to AUTH to MASTER: {reply}")));
        }
    }
    let port_arg = my_port.to_string();
    let args: [&[u8]; 3] = [b"REPLCONF", b"listening-port", port_arg.as_bytes()];
    let reply = reader.command(&mut stream, &args, timeout).await?;
    if reply.starts_with("-NOAUTH") {
        return Err(link_error(format!(
            "master requires authentication: {reply}"
        )));
    }
    // Other errors here are a master too old for the option: go on.
    reader
        .command(&mut stream, &[b"REPLCONF", b"capa", b"psync2"], timeout)
        .await?;
    // Resume our own history if the master shares it; else a full sync.
    let (replid, next) = {
        let engine = shared.lock_engine().await;
        (engine.repl.replid.clone(), engine.repl.offset() + 1)
    };
    let next = next.to_string();
    let args: [&[u8]; 3] = [b"PSYNC", replid.as_bytes(), next.as_bytes()];
    set_state(shared, stop, LinkState::Sync);
    let reply = reader.command(&mut stream, &args, timeout).await?;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut words = rest.split(' ');
        let (Some(id), Some(offset)) = (words.next(), words.next().and_then(|o| o.parse().ok()))
        else {
            return Err(link_error(format!("bad FULLRESYNC reply: {reply}")));
        };
        let image = read_payload(&mut stream, &mut reader, timeout).await?;
        load_image(shared, image, id, offset).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        let mut engine = shared.lock_engine().await;
        if !id.is_empty() && id != engine.repl.replid {
            engine.repl.replid = id.to_string();
        }
        drop(engine);
        tracing::info!(
            host,
            port,
            "successful partial resynchronization with master"
        );
    } else {
        return Err(link_error(format!(
            "unexpected reply to PSYNC from master: {reply}"
        )));
    }
    shared.role.link_up.store(true, Ordering::Release);
    set_state(shared, stop, LinkState::Connected);
    tracing::info!(host, port, "MASTER <-> REPLICA sync: finished with success");
    apply_stream(shared, stream, reader, stop, timeout).await
}

/// Reads `$<len>\r\n` and the RDB image after it.
async fn read_payload(
    stream: &mut TcpStream,
    reader: &mut MasterReader,
    timeout: Duration,
) -> std::io::Result<Vec<u8>> {
    let header = reader.line(stream, timeout).await?;
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| link_error(format!("bad bulk length from master: {header}")))?;
    let mut image = Vec::with_capacity(len.min(64 << 20));
    while image.len() < len {
        if reader.input.is_empty() {
            tokio::time::timeout(timeout, reader.fill(stream))
                .await
                .map_err(|_| link_error("timeout receiving the RDB from the master"))??;
        }
        let take = (len - image.len()).min(reader.input.len());
        image.extend_from_slice(&reader.input[..take]);
        reader.input.advance(take);
    }
    Ok(image)
}

/// Replaces the dataset with the master's image and adopts its history.
///
/// As a Redis replica does, it empties the dataset first and answers
/// `-LOADING` while the image loads; the image is read on a blocking
/// thread into a store of its own, whose databases then move in.
async fn load_image(
    shared: &Shared,
    image: Vec<u8>,
    replid: &str,
    offset: u64,
) -> std::io::Result<()> {
    let now = crate::now_ms();
    shared.loading.begin();
    let (databases, config) = {
        let mut engine = shared.lock_engine().await;
        // Until the image is in, our own replicas must not sync from the
        // emptied dataset (their PSYNC gets -LOADING meanwhile).
        engine.repl.drop_replicas();
        engine.store.empty_for_load(now);
        (engine.store.dbs.len(), engine.store.config.clone())
    };
    let progress = shared.loading.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut store = shoal_store::Store::new(databases);
        store.config = config;
        crate::loading::track(&progress, || {
            crate::rdbfile::load_whole(&image, &mut store, now)
        })
        .map(|loaded| (store, loaded))
    })
    .await
    .map_err(|e| format!("loading the master's RDB: {e}"))
    .and_then(|read| read.map_err(|e| format!("failed loading the master's RDB: {e}")));
    let (store, loaded) = match read {
        Ok(read) => read,
        Err(e) => {
            shared.loading.end();
            return Err(link_error(e));
        }
    };
    let mut engine = shared.lock_engine().await;
    let engine = &mut *engine;
    for (db, image) in engine.store.dbs.iter_mut().zip(store.dbs) {
        *db = image;
    }
    engine.store.dirty += loaded.keys;
    engine.repl.adopt(replid, offset);
    tracing::info!(
        keys = loaded.keys,
        "MASTER <-> REPLICA sync: loaded the master's dataset"
    );
    if engine.aof.enabled {
        // The AOF must describe the new dataset, not the old one plus
        // what follows.
        crate::aof::start_rewrite(&shared.self_arc(), engine);
    }
    shared.loading.end();
    Ok(())
}

/// Applies the master's stream until the link fails; acknowledges the
/// offset once a second and whenever the master asks.
async fn apply_stream(
    shared: &Shared,
    mut stream: TcpStream,
    mut reader: MasterReader,
    stop: &Arc<Stop>,
    timeout: Duration,
) -> std::io::Result<()> {
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let addr = stream.peer_addr()?;
    let handle = crate::conn::new_handle(id, addr, stream.local_addr()?);
    let mut master = ClientState::new(id, handle, true);
    master.is_master = true;
    master.reply_mode = crate::conn::ReplyMode::Off;
    let mut parser = RequestParser::new(Limits::default());
    let mut ack_every = tokio::time::interval(Duration::from_secs(1));
    let mut last_io = tokio::time::Instant::now();
    let mut batch: Vec<Command> = Vec::new();
    loop {
        // Apply what is buffered, one command at a time to count its bytes.
        let mut acks = Vec::new();
        {
            let mut engine = shared.lock_engine().await;
            let mut clock = Clock::start();
            let mut out = Vec::new();
            loop {
                let before = reader.input.len();
                let parsed = parser.parse(&mut reader.input, &mut batch, 1);
                let Some(args) = batch.pop() else {
                    if let Parsed::Error(e) = parsed {
                        return Err(link_error(format!(
                            "protocol error from master: {}",
                            e.message()
                        )));
                    }
                    break;
                };
                let used = (before - reader.input.len()) as u64;
                if is_getack(&args) {
                    // Acknowledges what came before it.
                    acks.push(engine.repl.offset());
                    engine.repl.applied_from_master(&args, used);
                    continue;
                }
                run_command(
                    &mut master,
                    shared,
                    &mut engine,
                    &args,
                    &mut out,
                    &mut clock,
                );
                out.clear();
                engine.repl.applied_from_master(&args, used);
            }
            engine.repl.flush();
            if let Some(up) = &mut engine.repl.upstream {
                up.last_io_secs = crate::now_ms() / 1000;
            }
        }
        for offset in acks {
            send_ack(&mut stream, offset).await?;
        }
        tokio::select! {
            r = reader.fill(&mut stream) => {
                r?;
                last_io = tokio::time::Instant::now();
            }
            _ = ack_every.tick() => {
                if last_io.elapsed() > timeout {
                    return Err(link_error("timeout: no data nor PING received from the master"));
                }
                let offset = shared.lock_engine().await.repl.offset();
                send_ack(&mut stream, offset).await?;
            }
            () = stop.notify.notified() => {
                stop.notify.notify_one();
                return Ok(());
            }
        }
    }
}

fn is_getack(args: &[Bytes]) -> bool {
    args.len() >= 2
        && args[0].eq_ignore_ascii_case(b"replconf")
        && args[1].eq_ignore_ascii_case(b"getack")
}

async fn send_ack(stream: &mut TcpStream, offset: u64) -> std::io::Result<()> {
    let offset = offset.to_string();
    let mut out = Vec::new();
    let mut reply = shoal_resp::Reply::new(&mut out, shoal_resp::Protocol::Resp2);
    reply.array(3);
    reply.bulk(b"REPLCONF");
    reply.bulk(b"ACK");
    reply.bulk(offset.as_bytes());
    stream.write_all(&out).await
}
