//! Shoal's Redis-compatible server: listener, connections, dispatch,
//! connection and server commands, background expiry.
//!
//! The main types:
//! - [`Config`]: Redis's directives, from flags or a redis.conf-style file.
//! - [`Server`]: a bound listener plus the shared state; [`Server::run`]
//!   serves until shutdown.
//!
//! **Threading.** Connections are tokio tasks on a multi-threaded runtime
//! (one worker per core): reading, parsing, reply encoding and socket
//! writes run in parallel. Commands run against the [`shoal_store::Store`]
//! under one lock, taken once per batch of pipelined commands, so every
//! command is atomic and MULTI/EXEC is serializable. See ARCHITECTURE.md
//! for the measurement behind this choice.
//!
//! ```no_run
//! let config = shoal_server::Config::from_args(&["--port".into(), "6380".into()]).unwrap();
//! shoal_server::run_blocking(config).unwrap();
//! ```

mod acl;
mod aof;
mod blocking;
mod commands;
mod config;
mod conn;
mod evict;
mod info;
mod loading;
mod metrics;
mod pubsub;
mod rdbfile;
mod repl;
mod replica;
mod script;
mod tracking;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::{info, warn};

pub use aof::{check_aof, fuzz_load as fuzz_aof_load, CheckReport};
pub use config::{Config, ConfigError};
pub use rdbfile::{check_rdb, RdbReport};
use shoal_store::{ClientId, Store};

/// How the process measures the memory its data uses: the binary installs
/// its allocator's figure (jemalloc's `stats.allocated`); without one, the
/// resident set size stands in.
pub struct MemoryProbe {
    /// `mem_allocator` in INFO.
    pub allocator: &'static str,
    pub used_bytes: fn() -> u64,
}

static MEMORY_PROBE: std::sync::OnceLock<MemoryProbe> = std::sync::OnceLock::new();

/// Installs the allocator's memory figure (once, before serving).
pub fn set_memory_probe(probe: MemoryProbe) {
    let _ = MEMORY_PROBE.set(probe);
}

pub(crate) fn used_memory_bytes() -> u64 {
    match MEMORY_PROBE.get() {
        Some(probe) => (probe.used_bytes)(),
        None => info::rss_bytes(),
    }
}

pub(crate) fn allocator_name() -> &'static str {
    MEMORY_PROBE.get().map_or("libc", |p| p.allocator)
}

/// Milliseconds since the Unix epoch: the one wall clock commands read.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Per-command counters (INFO commandstats).
#[derive(Default, Clone)]
pub(crate) struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Calls per latency bucket, bounds in [`metrics::LATENCY_BUCKETS_US`].
    pub latency: [u64; metrics::LATENCY_BUCKETS],
}

impl CommandStats {
    pub fn record(&mut self, micros: u64) {
        self.calls += 1;
        self.usec += micros;
        let bucket = metrics::LATENCY_BUCKETS_US.partition_point(|&bound| bound < micros);
        self.latency[bucket] += 1;
    }
}

/// Counters that change with every command. They live under the store
/// lock, which every command holds anyway, so counting costs no atomic
/// operation and no cache line bounces between cores.
pub(crate) struct ExecStats {
    /// Indexed like `commands::table()`.
    pub commands: Vec<CommandStats>,
    pub errors: HashMap<String, u64>,
    pub processed: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// `slowlog-log-slower-than` and `slowlog-max-len`, copied here by
    /// CONFIG SET so the hot path reads no config lock.
    pub slowlog_threshold_us: i64,
    pub slowlog_max_len: usize,
    pub slowlog_next_id: u64,
    pub slowlog: std::collections::VecDeque<SlowlogEntry>,
}

impl ExecStats {
    pub fn reset(&mut self) {
        self.commands
            .iter_mut()
            .for_each(|c| *c = CommandStats::default());
        self.errors.clear();
        self.processed = 0;
        self.net_input_bytes = 0;
        self.net_output_bytes = 0;
    }
}

/// Settings read on every request, copied out of [`Config`] into plain
/// atomics: loading one is a read of a shared cache line, while taking the
/// config `RwLock` would write to it from both cores. CONFIG SET refreshes
/// them and bumps `generation`, so connections know to re-derive limits.
#[derive(Default)]
pub(crate) struct HotConfig {
    pub timeout_secs: AtomicU64,
    pub query_buffer_limit_bytes: AtomicU64,
    pub proto_max_bulk_len_bytes: AtomicU64,
    /// `maxmemory`; 0 means no limit.
    pub maxmemory_bytes: AtomicU64,
    /// The memory figure, refreshed by the cron at `hz` (reading it can cost
    /// a microsecond, too much for every command).
    pub used_memory_bytes: AtomicU64,
    /// The `pubsub` class of `client-output-buffer-limit`.
    pub pubsub_hard_bytes: AtomicU64,
    pub pubsub_soft_bytes: AtomicU64,
    pub pubsub_soft_secs: AtomicU64,
    /// `min-replicas-to-write` (0: no requirement).
    pub min_replicas_to_write: AtomicU64,
    /// `maxmemory-policy` (`evict::Policy`) and `maxmemory-samples`.
    pub maxmemory_policy: std::sync::atomic::AtomicU8,
    pub maxmemory_samples: AtomicU64,
    pub generation: AtomicU64,
}

impl HotConfig {
    pub fn refresh(&self, config: &Config) {
        self.timeout_secs
            .store(config.get_int("timeout") as u64, Ordering::Relaxed);
        self.query_buffer_limit_bytes.store(
            config.get_int("client-query-buffer-limit") as u64,
            Ordering::Relaxed,
        );
        self.proto_max_bulk_len_bytes.store(
            config.get_int("proto-max-bulk-len") as u64,
            Ordering::Relaxed,
        );
        self.maxmemory_bytes
            .store(config.get_int("maxmemory") as u64, Ordering::Relaxed);
        self.used_memory_bytes
            .store(used_memory_bytes(), Ordering::Relaxed);
        self.maxmemory_policy.store(
            evict::Policy::parse(config.get("maxmemory-policy")).as_u8(),
            Ordering::Relaxed,
        );
        self.maxmemory_samples.store(
            config.get_int("maxmemory-samples") as u64,
            Ordering::Relaxed,
        );
        self.min_replicas_to_write.store(
            config.get_int("min-replicas-to-write") as u64,
            Ordering::Relaxed,
        );
        let pubsub = config.output_limits()[2];
        self.pubsub_hard_bytes
            .store(pubsub.hard_bytes, Ordering::Relaxed);
        self.pubsub_soft_bytes
            .store(pubsub.soft_bytes, Ordering::Relaxed);
        self.pubsub_soft_secs
            .store(pubsub.soft_secs, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// What the store lock protects: the keyspace and the per-command counters.
pub(crate) struct Engine {
    pub store: Store,
    pub stats: ExecStats,
    pub pubsub: pubsub::PubSub,
    pub blocked: blocking::Blocked,
    pub aof: aof::Feed,
    pub repl: repl::Replication,
    /// The Lua interpreter, made on first use (SCRIPT FLUSH drops it).
    pub scripting: Option<Box<script::Scripting>>,
    /// Client-side caching: who tracks which keys.
    pub tracking: tracking::Tracking,
    /// Users and their permissions (ACL).
    pub acl: acl::Acl,
}

impl Engine {
    /// Whether writes are recorded: the AOF or the replicas need them.
    pub fn logging(&self) -> bool {
        self.aof.enabled || self.repl.feed.enabled
    }

    /// Sends one write, run in `db`, to the AOF and to the replicas.
    pub fn propagate(&mut self, db: usize, args: &[Bytes], in_exec: bool) {
        self.aof.append_args(db, args, in_exec);
        // A replica's replicas get its master's stream instead.
        if self.repl.upstream.is_none() {
            self.repl.feed.append_args(db, args, in_exec);
        }
    }

    /// Sends the store's own writes (expiry deletions) on.
    pub fn propagate_store_log(&mut self, in_exec: bool) {
        let log = std::mem::take(&mut self.store.log);
        for entry in &log {
            self.propagate(entry.db, &entry.args, in_exec);
        }
    }

    /// Closes the transaction an EXEC opened in both streams.
    pub fn end_exec(&mut self) {
        self.aof.end_exec();
        self.repl.feed.end_exec();
    }
}

/// Server-wide counters (INFO stats).
#[derive(Default)]
pub(crate) struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
}

/// What other connections may read or change about a client
/// (CLIENT LIST / KILL).
pub(crate) struct ClientHandle {
    pub id: ClientId,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub info: Mutex<ClientInfo>,
    /// Set by [`ClientHandle::kill`]; the connection closes.
    pub killed: AtomicBool,
    /// Pushed messages and unblocking replies from other clients.
    pub mailbox: pubsub::Mailbox,
    /// Whether the client speaks RESP3, for encoding what others push.
    pub resp3: AtomicBool,
}

#[derive(Clone)]
pub(crate) struct ClientInfo {
    pub name: Option<String>,
    pub db: usize,
    pub last_command: &'static str,
    pub last_interaction: Instant,
    pub resp: u8,
    pub multi: i64,
    pub watching: usize,
    /// Channel, pattern and shard-channel subscriptions.
    pub subs: [usize; 3],
    /// The ACL user the connection is authenticated as.
    pub user: String,
}

/// Redis's `instantaneous_ops_per_sec`: the mean rate over the last 16
/// samples the cron takes of the command counter.
pub(crate) struct OpsMeter {
    last: Option<(Instant, u64)>,
    samples: [f64; OPS_SAMPLES],
    next: usize,
}

/// Redis's `STATS_METRIC_SAMPLES`.
const OPS_SAMPLES: usize = 16;

impl OpsMeter {
    fn new() -> OpsMeter {
        OpsMeter {
            last: None,
            samples: [0.0; OPS_SAMPLES],
            next: 0,
        }
    }

    fn sample(&mut self, now: Instant, processed: u64) {
        if let Some((then, count)) = self.last {
            let secs = (now - then).as_secs_f64();
            if secs > 0.0 {
                self.samples[self.next] = processed.saturating_sub(count) as f64 / secs;
                self.next = (self.next + 1) % OPS_SAMPLES;
            }
        }
        self.last = Some((now, processed));
    }

    pub fn ops_per_sec(&self) -> u64 {
        (self.samples.iter().sum::<f64>() / OPS_SAMPLES as f64).round() as u64
    }
}

/// A CLIENT PAUSE: until when, and whether reads are paused too.
#[derive(Clone, Copy)]
pub(crate) struct Pause {
    pub until: Instant,
    pub all: bool,
}

/// One slow command, as SLOWLOG GET reports it.
pub(crate) struct SlowlogEntry {
    pub id: u64,
    pub unix_secs: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: String,
}

/// State shared by every connection.
pub(crate) struct Shared {
    /// The keyspace and command counters. A short parking_lot lock, never
    /// held across `.await`: each batch of pipelined commands takes it once.
    pub engine: Mutex<Engine>,
    pub config: RwLock<Config>,
    pub hot: HotConfig,
    pub clients: Mutex<HashMap<ClientId, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub started: Instant,
    pub run_id: String,
    pub port: u16,
    pub active_expire: AtomicBool,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    /// Clients in MONITOR mode; `monitor_count` lets the hot path skip
    /// the lock when nobody monitors.
    pub monitors: Mutex<Vec<(ClientId, tokio::sync::mpsc::Sender<Bytes>)>>,
    pub monitor_count: std::sync::atomic::AtomicUsize,
    /// CLIENT PAUSE in force, if any; `unpause` wakes the paused clients.
    pub pause: Mutex<Option<Pause>>,
    /// Connections held by CLIENT PAUSE right now.
    pub paused_clients: std::sync::atomic::AtomicUsize,
    pub ops_meter: Mutex<OpsMeter>,
    pub unpause: Notify,
    pub aof: aof::AofSync,
    pub rdb: rdbfile::RdbState,
    /// Replication facts the command path checks without the store lock.
    pub role: repl::RoleFlags,
    /// The running script, as other connections see it (BUSY, SCRIPT KILL).
    pub script_run: Arc<script::ScriptRun>,
    /// This `Shared` itself, for work that outlives a command (BGSAVE).
    pub me: std::sync::OnceLock<std::sync::Weak<Shared>>,
    pub aof_writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Set while a dataset loads, at start-up or from a replica's master
    /// (`-LOADING`).
    pub loading: Arc<loading::Progress>,
}

/// A bound server, ready to run.
impl Shared {
    /// The store lock from async code. It never parks a runtime worker for
    /// long: a script running past `busy-reply-threshold` holds the lock,
    /// and workers parked on it would leave no thread to answer the other
    /// connections BUSY (or to take their SCRIPT KILL).
    pub(crate) async fn lock_engine(&self) -> parking_lot::MutexGuard<'_, Engine> {
        if let Some(engine) = self.engine.try_lock() {
            return engine;
        }
        loop {
            if let Some(engine) = self.engine.try_lock_for(Duration::from_millis(2)) {
                return engine;
            }
            tokio::task::yield_now().await;
        }
    }

    /// An owning handle to this state.
    pub(crate) fn self_arc(&self) -> Arc<Shared> {
        self.me
            .get()
            .and_then(std::sync::Weak::upgrade)
            .expect("set at bind, alive while serving")
    }
}

/// Lets a runtime's io threads run the `appendfsync always` fsync before
/// they park, as Redis's event loop fsyncs before it sleeps (see
/// `aof::flush_before_park`). Install it on the runtime's builder, then
/// [`Server::attach`] it. Without it, the AOF writer thread runs every
/// fsync itself: correct, but a wake-up per batch and a smaller batch per
/// fsync.
///
/// Only the last io thread to go idle fsyncs: while another one still runs
/// commands, their writes would miss this fsync and need one of their own.
#[derive(Clone, Default)]
pub struct ParkHook {
    server: Arc<std::sync::OnceLock<std::sync::Weak<Shared>>>,
    /// Io threads between their park and unpark hooks.
    idle: Arc<std::sync::atomic::AtomicUsize>,
}

impl ParkHook {
    /// Installs the hook on a builder of a runtime with `threads` workers.
    pub fn install<'b>(
        &self,
        builder: &'b mut tokio::runtime::Builder,
        threads: usize,
    ) -> &'b mut tokio::runtime::Builder {
        let (park, unpark) = (self.clone(), self.clone());
        builder
            .worker_threads(threads)
            .on_thread_park(move || {
                let idle = park.idle.fetch_add(1, Ordering::SeqCst) + 1;
                if idle < threads {
                    return;
                }
                if let Some(shared) = park.server.get().and_then(std::sync::Weak::upgrade) {
                    aof::flush_before_park(&shared);
                }
            })
            .on_thread_unpark(move || {
                unpark.idle.fetch_sub(1, Ordering::SeqCst);
            })
    }
}

pub struct Server {
    /// Where clients are accepted (from [`Server::bind`] on).
    addrs: Vec<SocketAddr>,
    accepting: Vec<tokio::task::JoinHandle<()>>,
    /// The Prometheus endpoint, when `metrics-port` is set.
    metrics: Option<TcpListener>,
    shared: Arc<Shared>,
}

impl Server {
    /// Runs this server's `always` fsyncs from the io threads of the
    /// runtime `hook` is installed on. A hook serves one server.
    pub fn attach(&self, hook: &ParkHook) {
        if hook.server.set(Arc::downgrade(&self.shared)).is_ok() {
            self.shared.aof.flush_on_park.store(true, Ordering::Relaxed);
        }
    }

    /// Binds every address of `bind` on `port` (0 picks a free port) and
    /// loads the dataset (the AOF if `appendonly`, else the RDB file),
    /// serving clients meanwhile in the LOADING state. Returns once loaded.
    ///
    /// # Errors
    /// When no address can be bound or the dataset cannot be loaded; a
    /// SHUTDOWN while loading fails it with [`ShutdownWhileLoading`].
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let mut listeners = Vec::new();
        for (addr, optional) in config.bind_addrs() {
            let host = if addr.contains(':') {
                format!("[{addr}]")
            } else {
                addr.clone()
            };
            // With port 0, every address shares the port the first one got.
            let port = listeners.first().map_or(config.port(), |l: &TcpListener| {
                l.local_addr().map_or(0, |a| a.port())
            });
            let backlog = config.get_int("tcp-backlog") as u32;
            match listen(&format!("{host}:{port}"), backlog).await {
                Ok(l) => listeners.push(l),
                Err(e) if optional => warn!(%addr, error = %e, "skipping optional bind address"),
                Err(e) => return Err(anyhow::anyhow!("binding {addr}:{}: {e}", config.port())),
            }
        }
        anyhow::ensure!(!listeners.is_empty(), "no address to listen on");
        let port = listeners[0].local_addr()?.port();
        let metrics = match config.get_int("metrics-port") {
            0 => None,
            p => {
                let (host, _) = config
                    .bind_addrs()
                    .into_iter()
                    .next()
                    .expect("a bind address");
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                Some(
                    TcpListener::bind(format!("{host}:{p}"))
                        .await
                        .map_err(|e| anyhow::anyhow!("binding metrics port {p}: {e}"))?,
                )
            }
        };
        let mut store = Store::new(config.get_int("databases") as usize);
        config.apply_to_store(&mut store);
        let aof_on = config.get("appendonly") == "yes";
        let rdb_path = rdbfile::path(&config);
        let rdb_state = rdbfile::RdbState::new();
        store.dirty = 0;
        store.seed(now_ms() ^ u64::from(std::process::id()));
        let exec_stats = ExecStats {
            commands: vec![CommandStats::default(); commands::table().len()],
            errors: HashMap::new(),
            processed: 0,
            net_input_bytes: 0,
            net_output_bytes: 0,
            slowlog_threshold_us: config.get_int("slowlog-log-slower-than"),
            slowlog_max_len: config.get_int("slowlog-max-len") as usize,
            slowlog_next_id: 0,
            slowlog: Default::default(),
        };
        let hot = HotConfig::default();
        hot.refresh(&config);
        let appendfsync = config.get("appendfsync").to_string();
        let acl = acl_from_config(&config)?;
        let shared = Arc::new(Shared {
            hot,
            engine: Mutex::new(Engine {
                store,
                stats: exec_stats,
                pubsub: Default::default(),
                blocked: Default::default(),
                aof: aof::Feed::new(aof_on),
                repl: repl::Replication::default(),
                scripting: None,
                tracking: Default::default(),
                acl,
            }),
            config: RwLock::new(config),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            started: Instant::now(),
            run_id: format!(
                "{:040x}",
                (now_ms() as u128) << 64 | u128::from(std::process::id())
            ),
            port,
            active_expire: AtomicBool::new(true),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            monitors: Mutex::new(Vec::new()),
            monitor_count: Default::default(),
            pause: Mutex::new(None),
            paused_clients: Default::default(),
            ops_meter: Mutex::new(OpsMeter::new()),
            unpause: Notify::new(),
            aof: aof::AofSync::new(aof::Fsync::parse(&appendfsync)),
            rdb: rdb_state,
            role: Default::default(),
            script_run: Default::default(),
            me: std::sync::OnceLock::new(),
            aof_writer: Mutex::new(None),
            loading: Default::default(),
        });
        let _ = shared.me.set(Arc::downgrade(&shared));
        // Clients are served while the dataset loads, as by Redis: INFO
        // shows the progress and most commands answer -LOADING.
        let addrs = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<std::io::Result<Vec<_>>>()?;
        let must_load = aof_on || rdb_path.exists();
        if must_load {
            // Before the first client: nobody sees the empty store as loaded.
            shared.loading.begin();
        }
        let accepting: Vec<_> = listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, shared.clone())))
            .collect();
        if must_load {
            let loader = shared.clone();
            let loaded = tokio::task::spawn_blocking(move || {
                loading::track(&loader.loading, || load_dataset(&loader, aof_on, &rdb_path))
            })
            .await
            .map_err(|e| anyhow::anyhow!("loading the dataset: {e}"))
            .and_then(|r| r);
            let (mut store, opened) = match loaded {
                Ok(loaded) => loaded,
                Err(e) => {
                    for task in &accepting {
                        task.abort();
                    }
                    if shared.shutting_down.load(Ordering::Relaxed) {
                        return Err(ShutdownWhileLoading.into());
                    }
                    return Err(e);
                }
            };
            {
                let mut engine = shared.engine.lock();
                // CONFIG SET may have run while loading.
                shared.config.read().apply_to_store(&mut store);
                store.dirty = 0;
                store.seed(now_ms() ^ u64::from(std::process::id()));
                engine.store = store;
            }
            if let Some(opened) = opened {
                let handle = aof::spawn_writer(shared.clone(), opened);
                *shared.aof_writer.lock() = Some(handle);
            }
            shared.loading.end();
        }
        Ok(Server {
            addrs,
            accepting,
            metrics,
            shared,
        })
    }

    /// Where `/metrics` is served, if `metrics-port` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The first bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Serves until SHUTDOWN or until `stop` completes.
    ///
    /// # Errors
    /// Fatal listener errors.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let mut server = self;
        // The accept loops outlive `server` from here on.
        drop(std::mem::take(&mut server.accepting));
        let (addrs, self_metrics, shared) = (
            server.addrs.clone(),
            server.metrics.take(),
            server.shared.clone(),
        );
        drop(server);
        for addr in &addrs {
            info!(%addr, "listening");
        }
        tokio::spawn(cron(shared.clone()));
        tokio::spawn(repl::cron(shared.clone()));
        let upstream = shared.config.read().get("replicaof").to_string();
        if let Some((host, port)) = upstream.split_once(' ') {
            let port: u16 = port.parse().map_err(|_| {
                anyhow::anyhow!("replicaof \"{host}\" \"{port}\": Invalid master port")
            })?;
            replica::follow(&shared, &mut shared.engine.lock(), host, port);
        }
        if let Some(listener) = self_metrics {
            tokio::spawn(metrics::serve(listener, shared.clone()));
        }
        tokio::select! {
            _ = stop => {}
            _ = shared.shutdown.notified() => {}
        }
        info!("shutting down");
        // A signal (not SHUTDOWN, which saved already) saves as Redis's
        // prepareForShutdown does when save rules are configured.
        let by_command = shared.shutting_down.load(Ordering::Relaxed);
        let has_rules = !shared.config.read().get("save").is_empty();
        if !by_command && has_rules {
            let mut engine = shared.engine.lock();
            if !engine.store.snapshot_in_progress() {
                if let Err(e) = rdbfile::save_now(&shared, &mut engine.store) {
                    warn!(error = %e, "Error trying to save the DB before shutdown");
                }
            }
        }
        aof::stop_writer(&shared);
        Ok(())
    }
}

/// Reads the dataset at start-up into a new store, as Redis chooses: the
/// AOF if `appendonly` is on, else the RDB file. Returns the store and,
/// with the AOF, the file its writer appends to.
fn load_dataset(
    shared: &Shared,
    aof_on: bool,
    rdb_path: &std::path::Path,
) -> anyhow::Result<(Store, Option<aof::Opened>)> {
    let config = shared.config.read().clone();
    let mut store = Store::new(config.get_int("databases") as usize);
    config.apply_to_store(&mut store);
    let started = Instant::now();
    if aof_on {
        let layout = aof::Layout::from_config(&config);
        let truncated_ok = config.get("aof-load-truncated") == "yes";
        let opened = aof::load(&layout, &mut store, truncated_ok)?;
        let keys: usize = store.dbs.iter().map(|d| d.len()).sum();
        info!(
            keys,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "DB loaded from append only file"
        );
        store.log_enabled = true;
        return Ok((store, Some(opened)));
    }
    let (loaded, expired) = rdbfile::load(rdb_path, &mut store)?;
    info!(
        keys = loaded,
        expired,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "DB loaded from disk"
    );
    shared.rdb.loaded_keys.store(loaded, Ordering::Relaxed);
    shared.rdb.loaded_expired.store(expired, Ordering::Relaxed);
    Ok((store, None))
}

/// [`Server::bind`]'s error when SHUTDOWN stopped the start-up load: the
/// server ends as asked, without saving the partial dataset.
#[derive(Debug)]
pub struct ShutdownWhileLoading;

impl std::fmt::Display for ShutdownWhileLoading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SHUTDOWN while loading the dataset")
    }
}

impl std::error::Error for ShutdownWhileLoading {}

impl Drop for Server {
    /// A server bound but never run stops accepting clients.
    fn drop(&mut self) {
        for task in &self.accepting {
            task.abort();
        }
    }
}

/// Binds with `SO_REUSEADDR` and the configured `tcp-backlog`, as Redis does.
async fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let addr = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared
            .stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let maxclients = shared.config.read().get_int("maxclients") as usize;
        if shared.clients.lock().len() >= maxclients {
            shared
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(conn::reject(stream, "ERR max number of clients reached"));
            continue;
        }
        if !admitted_by_protected_mode(&shared, addr) {
            shared
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(conn::reject(stream, PROTECTED_MODE_ERROR));
            continue;
        }
        let _ = stream.set_nodelay(true);
        let keepalive_secs = shared.config.read().get_int("tcp-keepalive");
        if keepalive_secs > 0 {
            let keepalive =
                socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive_secs as u64));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        }
        tokio::spawn(conn::serve(stream, addr, shared.clone()));
    }
}

const PROTECTED_MODE_ERROR: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// Redis's protected mode: with no password, only loopback clients.
fn admitted_by_protected_mode(shared: &Shared, addr: SocketAddr) -> bool {
    let config = shared.config.read();
    config.get("protected-mode") == "no"
        || !config.get("requirepass").is_empty()
        || addr.ip().is_loopback()
}

/// Background work at `hz`: active expiry.
async fn cron(shared: Arc<Shared>) {
    loop {
        let hz = shared.config.read().get_int("hz").clamp(1, 500) as u64;
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        shared
            .hot
            .used_memory_bytes
            .store(used_memory_bytes(), Ordering::Relaxed);
        let processed = shared.lock_engine().await.stats.processed;
        shared.ops_meter.lock().sample(Instant::now(), processed);
        if !shared.rdb.in_progress.load(Ordering::Relaxed) {
            let mut engine = shared.lock_engine().await;
            if !engine.store.snapshot_in_progress()
                && rdbfile::rule_due(&shared, engine.store.dirty)
            {
                rdbfile::start_background(&shared, &mut engine.store);
            }
        }
        if aof::rewrite_due(&shared) {
            let mut engine = shared.lock_engine().await;
            let wanted = engine.aof.enabled || shared.aof.rewrite_scheduled.load(Ordering::Relaxed);
            if wanted && !engine.store.snapshot_in_progress() {
                aof::start_rewrite(&shared, &mut engine);
            }
        }
        // A replica leaves expiry to its master, which sends the DELs.
        if shared.active_expire.load(Ordering::Relaxed)
            && !shared.role.following.load(Ordering::Relaxed)
        {
            // Redis samples 20 keys per round; bound the whole cycle so one
            // tick never holds the store lock for long.
            const SAMPLES_PER_ROUND: usize = 20;
            const SAMPLES_PER_CYCLE_MAX: usize = 2_000;
            let mut engine = shared.lock_engine().await;
            engine
                .store
                .active_expire_cycle(now_ms(), SAMPLES_PER_ROUND, SAMPLES_PER_CYCLE_MAX);
            if !engine.store.events.is_empty() {
                let limit = pubsub::pubsub_limit(&shared);
                pubsub::publish_events(&mut engine, limit, (0, &mut Vec::new()));
            }
            tracking::cron(&mut engine, &shared);
            let logged = !engine.store.log.is_empty();
            if logged {
                engine.propagate_store_log(false);
                engine.repl.flush();
            }
            drop(engine);
            if logged {
                shared.aof.wake();
            }
        }
    }
}

/// The users at start-up: `default` with `requirepass`, and the users of
/// `aclfile` when one is configured (Redis refuses to start if it cannot
/// load it).
fn acl_from_config(config: &Config) -> anyhow::Result<acl::Acl> {
    let mut acl = acl::Acl::default();
    acl.all_channels_default = config.get("acl-pubsub-default") == "allchannels";
    acl.set_default_password(config.get("requirepass").as_bytes());
    let aclfile = config.get("aclfile");
    if !aclfile.is_empty() {
        let text = std::fs::read_to_string(aclfile)
            .map_err(|e| anyhow::anyhow!("Error loading ACLs, opening file '{aclfile}': {e}"))?;
        acl.load(&text)
            .map_err(|e| anyhow::anyhow!("Error loading ACLs from '{aclfile}': {e}"))?;
    }
    Ok(acl)
}

/// Runs the server on a new multi-threaded runtime until Ctrl-C or SHUTDOWN.
///
/// # Errors
/// Bind failures and fatal runtime errors.
pub fn run_blocking(config: Config) -> anyhow::Result<()> {
    if config.get("daemonize") == "yes" {
        anyhow::bail!("daemonize yes is not supported: run shoal under a service manager (systemd, a container) instead");
    }
    // Like Redis, the working directory becomes `dir`: files the server
    // writes later (snapshots, AOF) are relative to it.
    let mut config = config;
    let dir = config.get("dir").to_string();
    std::env::set_current_dir(&dir).map_err(|e| anyhow::anyhow!("can't chdir to '{dir}': {e}"))?;
    // Paths are built from `dir` later; make it absolute now that we are in it.
    let cwd = std::env::current_dir()?;
    config
        .set("dir", &cwd.to_string_lossy())
        .map_err(|e| anyhow::anyhow!("dir: {e}"))?;
    let pidfile = config.get("pidfile").to_string();
    if !pidfile.is_empty() {
        std::fs::write(&pidfile, format!("{}\n", std::process::id()))
            .map_err(|e| anyhow::anyhow!("writing pidfile {pidfile}: {e}"))?;
    }
    let threads = config.get_int("io-threads").max(1) as usize;
    let hook = ParkHook::default();
    let runtime = hook
        .install(&mut tokio::runtime::Builder::new_multi_thread(), threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = match Server::bind(config).await {
            Ok(server) => server,
            Err(e) if e.is::<ShutdownWhileLoading>() => {
                warn!("Redis is now ready to exit, bye bye...");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        server.attach(&hook);
        server
            .run(async {
                // SIGINT or SIGTERM (a service manager's stop), as Redis
                // shuts down gracefully on both.
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            })
            .await
    })?;
    // Connections may still be open; the process is ending, so don't wait.
    runtime.shutdown_background();
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    Ok(())
}
