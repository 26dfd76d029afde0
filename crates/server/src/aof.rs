//! The append-only file: the write log on disk, as Redis 7 lays it out.
//!
//! `appenddirname` holds a manifest naming a **base** file (the dataset at
//! the last rewrite, as commands) and **incremental** files (every write
//! since), in RESP, so a person can read them:
//!
//! ```text
//! appendonlydir/appendonly.aof.manifest
//!   file appendonly.aof.1.base.aof seq 1 type b
//!   file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! **Data path.** After each command, the entries it added to the write log
//! (its arguments, or what `Ctx::propagate_instead` put there; expiry
//! deletions as `DEL`) are encoded into [`Aof::buf`] under the store lock,
//! with `SELECT` when the database changes and `MULTI`/`EXEC` around a
//! transaction's writes. A round takes the buffer, writes it and fsyncs by
//! policy: `everysec` once a second, `no` never, `always` every round — a
//! connection whose batch wrote waits for the fsync that covers it before
//! sending any reply, and every connection writing meanwhile rides on the
//! same fsync (group commit). A dedicated thread runs rounds on a tick;
//! under `always`, the last io thread to go idle runs one before it parks,
//! as Redis fsyncs before its event loop sleeps ([`flush_before_park`]),
//! and the thread is the backstop for io threads that stay busy.
//!
//! **Invariant:** bytes reach the file in log order, exactly once: a failed
//! or partial write keeps the unwritten rest, retried every second; while
//! any is pending, writes (and PING) are refused with `-MISCONF`, and
//! `always` replies stay held, so nothing acknowledged exists only in
//! memory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use parking_lot::Mutex;
use shoal_resp::{Protocol, Reply};
use shoal_store::{Ctx, Store};

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl Fsync {
    pub fn parse(text: &str) -> Fsync {
        match text {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    fn from_u8(n: u8) -> Fsync {
        match n {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// An encoded command stream, under the store lock (in the `Engine`): the
/// AOF's, and the one every replica receives (`repl`). Each remembers the
/// database its last `SELECT` chose and whether a `MULTI` is open.
#[derive(Default)]
pub(crate) struct Feed {
    pub enabled: bool,
    /// Encoded entries the writer has not taken yet.
    buf: Vec<u8>,
    /// Log offset after the last byte appended (bytes since start-up).
    pub appended: u64,
    /// The database the last `SELECT` in the file chose.
    selected_db: Option<usize>,
    /// A `MULTI` was written for the running EXEC.
    in_multi: bool,
    /// The running EXEC's first write, held back: as in Redis 7.0, a
    /// transaction that wrote once is logged as that one command, and
    /// only a second write opens a `MULTI`.
    held: Option<(usize, Vec<Bytes>)>,
    /// Where the open `MULTI` began (buffer length, offset), so a
    /// transaction can be taken back (`discard_transaction`).
    multi_mark: Option<(usize, u64)>,
}

impl Feed {
    pub fn new(enabled: bool) -> Feed {
        Feed {
            enabled,
            ..Feed::default()
        }
    }

    fn encode(&mut self, args: &[Bytes]) {
        let before = self.buf.len();
        let mut reply = Reply::new(&mut self.buf, Protocol::Resp2);
        reply.array(args.len());
        for a in args {
            reply.bulk(a);
        }
        self.appended += (self.buf.len() - before) as u64;
    }

    /// Appends one command run in `db`.
    pub fn append_args(&mut self, db: usize, args: &[Bytes], in_exec: bool) {
        if !self.enabled || args.is_empty() {
            return;
        }
        if in_exec && !self.in_multi {
            let Some((first_db, first)) = self.held.take() else {
                self.held = Some((db, args.to_vec()));
                return;
            };
            // SELECT goes before MULTI, as Redis writes it.
            self.select(first_db);
            self.multi_mark = Some((self.buf.len(), self.appended));
            self.encode(&[Bytes::from_static(b"MULTI")]);
            self.in_multi = true;
            self.encode(&first);
        }
        self.select(db);
        self.encode(args);
    }

    fn select(&mut self, db: usize) {
        if self.selected_db != Some(db) {
            let index = Bytes::from(db.to_string());
            self.encode(&[Bytes::from_static(b"SELECT"), index]);
            self.selected_db = Some(db);
        }
    }

    /// Appends a command that belongs to no database (the replicas' PING
    /// and `REPLCONF GETACK`): no `SELECT` goes before it.
    pub fn append_unselected(&mut self, args: &[Bytes]) {
        if self.enabled {
            self.encode(args);
        }
    }

    /// The next entry starts with `SELECT` (a new file begins, a replica
    /// attaches).
    pub fn forget_selected_db(&mut self) {
        self.selected_db = None;
    }

    pub fn in_multi(&self) -> bool {
        self.in_multi || self.held.is_some()
    }

    /// Takes back the running transaction's writes (a REPLICAOF inside it:
    /// Redis passes none of that EXEC on). Only while they are still in
    /// the buffer, which is taken after the whole batch.
    pub fn discard_transaction(&mut self) {
        self.held = None;
        if let Some((len, appended)) = self.multi_mark.take() {
            if self.in_multi && len <= self.buf.len() {
                self.buf.truncate(len);
                self.appended = appended;
            }
        }
        self.in_multi = false;
    }

    /// Closes the transaction a `MULTI` opened, if any, or logs its only
    /// write on its own.
    pub fn end_exec(&mut self) {
        if let Some((db, args)) = self.held.take() {
            self.select(db);
            self.encode(&args);
        }
        if self.in_multi {
            self.encode(&[Bytes::from_static(b"EXEC")]);
            self.in_multi = false;
        }
        self.multi_mark = None;
    }

    pub fn take(&mut self) -> (Vec<u8>, u64) {
        (std::mem::take(&mut self.buf), self.appended)
    }

    /// Bytes encoded but not yet taken by the writer (INFO's
    /// `aof_buffer_length`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// The state connections and the writer thread share, outside the lock.
pub(crate) struct AofSync {
    policy: AtomicU8,
    /// Set when the writer must run a round now; only the setter that
    /// finds it clear pays for the wake-up.
    woken: AtomicBool,
    wake: std::sync::Mutex<()>,
    wake_cv: Condvar,
    /// Offset known durable (fsynced); `always` replies wait on it.
    durable: tokio::sync::watch::Sender<u64>,
    /// The same, readable without a lock.
    durable_at: AtomicU64,
    /// The highest offset an `always` reply waits for.
    committed: AtomicU64,
    /// The io threads run `always` rounds before they park
    /// ([`flush_before_park`]); the writer thread is then the backstop.
    pub flush_on_park: AtomicBool,
    /// The writer sleeps a whole `WRITER_TICK`: the next commit must
    /// nudge it (see `writer_loop`).
    writer_idle: AtomicBool,
    /// What the writer has taken and written. Whoever holds it runs a
    /// round: the writer thread, or an io thread about to park. Lock order:
    /// this, then the store lock, never the other way.
    state: std::sync::Mutex<Option<WriterState>>,
    /// The log offset the writer has taken from the engine; writes held
    /// by a stalled disk wait on it ([`AofSync::keep_up`]).
    taken: tokio::sync::watch::Sender<u64>,
    taken_at: AtomicU64,
    /// When (wall-clock ms) the round now running took its bytes; 0
    /// between rounds.
    round_since_ms: AtomicU64,
    /// Batches whose replies waited for a stalled disk (INFO's
    /// `aof_delayed_fsync`).
    pub delayed: AtomicU64,
    /// False while a write or fsync is failing.
    pub last_write_ok: AtomicBool,
    /// Redis's `strerror` text of the last failure.
    pub last_error: Mutex<String>,
    /// Bytes in the current incremental file.
    pub current_size: AtomicU64,
    /// Bytes of the base file.
    pub base_size: AtomicU64,
    pub stop: AtomicBool,
    /// The log offset from which writes go to another file: a new
    /// incremental file (a rewrite starts, or the AOF is turned on), or
    /// none (turned off).
    switch: Mutex<Option<(u64, Option<File>)>>,
    /// The increment written while the first base after `CONFIG SET
    /// appendonly yes` is made (Redis's `AOF_WAIT_REWRITE`).
    waiting: Mutex<Option<Waiting>>,
    /// The files the manifest names now.
    manifest: Mutex<Vec<ManifestFile>>,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub rewrites: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_secs: std::sync::atomic::AtomicI64,
}

impl AofSync {
    pub fn new(policy: Fsync) -> AofSync {
        AofSync {
            policy: AtomicU8::new(policy as u8),
            woken: AtomicBool::new(false),
            wake: std::sync::Mutex::new(()),
            wake_cv: Condvar::new(),
            durable: tokio::sync::watch::channel(0).0,
            durable_at: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            flush_on_park: AtomicBool::new(false),
            writer_idle: AtomicBool::new(true),
            state: std::sync::Mutex::new(None),
            taken: tokio::sync::watch::channel(0).0,
            taken_at: AtomicU64::new(0),
            round_since_ms: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            last_error: Mutex::new(String::new()),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            switch: Mutex::new(None),
            waiting: Mutex::new(None),
            manifest: Mutex::new(Vec::new()),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_secs: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
    }

    pub fn set_policy(&self, policy: Fsync) {
        self.policy.store(policy as u8, Ordering::Relaxed);
    }

    /// Tells the writer to run a round now.
    pub fn wake(&self) {
        if self.woken.swap(true, Ordering::AcqRel) {
            return;
        }
        // The writer checks `woken` under this lock before it sleeps.
        let _guard = self.wake.lock().expect("aof wake lock");
        self.wake_cv.notify_one();
    }

    /// Waits until everything up to `offset` is fsynced (`appendfsync
    /// always`). The fsync that covers it covers every batch appended
    /// before it too: group commit.
    pub async fn commit(&self, offset: u64) {
        self.committed.fetch_max(offset, Ordering::SeqCst);
        if !self.flush_on_park.load(Ordering::Relaxed) {
            self.wake();
        } else if self.writer_idle.swap(false, Ordering::AcqRel) {
            // The backstop must tick again; the io thread that parks next
            // is still the one expected to fsync.
            let _guard = self.wake.lock().expect("aof wake lock");
            self.wake_cv.notify_one();
        }
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|&d| d >= offset).await;
    }

    /// Under `everysec` and `no`: returns at once, unless the writer has
    /// been stuck in one write or fsync for over [`STALL_MAX`] — then
    /// waits until the writer has taken everything up to `offset`.
    ///
    /// This is Redis's rule for a slow disk (it postpones its AOF write
    /// for at most two seconds, then writes and blocks), applied only to
    /// the clients that write: their replies are held, so what a stalled
    /// disk leaves in memory is bounded by about two seconds of writes,
    /// while reads go on being served.
    pub async fn keep_up(&self, offset: u64) {
        let since = self.round_since_ms.load(Ordering::Acquire);
        if since == 0 || crate::now_ms().saturating_sub(since) < STALL_MAX.as_millis() as u64 {
            return;
        }
        if self.taken_at.load(Ordering::Acquire) >= offset {
            return;
        }
        self.delayed.fetch_add(1, Ordering::Relaxed);
        self.wake();
        let mut rx = self.taken.subscribe();
        let _ = rx.wait_for(|&taken| taken >= offset).await;
    }

    /// The writer took the engine's bytes up to `offset` and starts
    /// writing them.
    fn begin_round(&self, offset: u64) {
        self.round_since_ms
            .store(crate::now_ms().max(1), Ordering::Release);
        if self.taken_at.fetch_max(offset, Ordering::AcqRel) < offset {
            let _ = self.taken.send(offset);
        }
    }

    fn end_round(&self) {
        self.round_since_ms.store(0, Ordering::Release);
    }

    /// Publishes that everything up to `offset` is fsynced.
    fn publish(&self, offset: u64) {
        self.durable_at.store(offset, Ordering::SeqCst);
        let _ = self.durable.send(offset);
    }

    /// An `always` reply waits for an fsync nobody has run yet.
    fn commit_pending(&self) -> bool {
        self.committed.load(Ordering::SeqCst) > self.durable_at.load(Ordering::SeqCst)
    }

    /// `-MISCONF …` while the AOF cannot be written.
    pub fn refusal(&self) -> Option<String> {
        if self.last_write_ok.load(Ordering::Relaxed) {
            return None;
        }
        Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            self.last_error.lock()
        ))
    }
}

/// C's `strerror` text for an IO error, without Rust's "(os error N)".
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Where the AOF lives, from the configuration.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub dir: PathBuf,
    /// `appendfilename`, the prefix of every file.
    pub name: String,
}

impl Layout {
    pub fn from_config(config: &crate::Config) -> Layout {
        Layout {
            dir: Path::new(config.get("dir")).join(config.get("appenddirname")),
            name: config.get("appendfilename").to_string(),
        }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.name))
    }
}

/// An increment not yet named by the manifest: it lives under a temporary
/// name until the base it follows is durable, so a crash meanwhile leaves
/// the old files (or none) as the loadable state.
#[derive(Clone, Debug)]
struct Waiting {
    temp: PathBuf,
    incr: ManifestFile,
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ManifestFile {
    name: String,
    seq: u64,
    /// `b` base, `i` incremental, `h` history.
    kind: char,
}

fn parse_manifest(text: &str) -> anyhow::Result<Vec<ManifestFile>> {
    let mut files = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split(' ').collect();
        let mut name = None;
        let mut seq = None;
        let mut kind = None;
        for pair in words.chunks(2) {
            match pair {
                ["file", v] => name = Some(v.to_string()),
                ["seq", v] => seq = v.parse::<u64>().ok(),
                ["type", v] if v.len() == 1 => kind = v.chars().next(),
                _ => bail!("invalid AOF manifest line {}: '{line}'", n + 1),
            }
        }
        match (name, seq, kind) {
            (Some(name), Some(seq), Some(kind @ ('b' | 'i' | 'h'))) => {
                if name.contains('/') {
                    bail!(
                        "invalid AOF manifest line {}: file names have no path",
                        n + 1
                    );
                }
                files.push(ManifestFile { name, seq, kind })
            }
            _ => bail!("invalid AOF manifest line {}: '{line}'", n + 1),
        }
    }
    Ok(files)
}

/// The manifest's files; none when there is no manifest yet.
fn read_manifest(path: &Path) -> anyhow::Result<Vec<ManifestFile>> {
    match fs::read_to_string(path) {
        Ok(text) => parse_manifest(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn render_manifest(files: &[ManifestFile]) -> String {
    files
        .iter()
        .map(|f| format!("file {} seq {} type {}\n", f.name, f.seq, f.kind))
        .collect()
}

/// Writes a file atomically: temporary file, fsync, rename, directory fsync.
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One parsed AOF record, or why the bytes are not one.
#[derive(Debug, PartialEq)]
pub(crate) enum Record {
    Command(Vec<Bytes>, usize),
    /// The file ends inside a record.
    Truncated,
    Corrupt(String),
}

/// Largest argument an AOF record may declare (Redis's proto-max-bulk-len
/// default); a bigger one is corruption, never an allocation.
const ARG_BYTES_MAX: usize = 512 * 1024 * 1024;
/// Pre-allocate at most this many argument slots for a declared count.
const ARGS_PREALLOC_MAX: usize = 1024;

fn read_line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = data.get(pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], pos + end + 2))
}

/// Parses the record at `pos`: `*N` then N `$len` bulk strings.
pub(crate) fn parse_record(data: &[u8], pos: usize) -> Record {
    let Some((header, mut at)) = read_line(data, pos) else {
        return if data.len() - pos > 32 && !data[pos..].starts_with(b"*") {
            Record::Corrupt("expected '*'".into())
        } else {
            Record::Truncated
        };
    };
    let Some(count) = header.strip_prefix(b"*") else {
        return Record::Corrupt("expected '*'".into());
    };
    let count = match shoal_resp::parse_redis_int(count) {
        Some(n) if (1..=i64::from(i32::MAX)).contains(&n) => n as usize,
        _ => return Record::Corrupt("invalid argument count".into()),
    };
    let mut args = Vec::with_capacity(count.min(ARGS_PREALLOC_MAX));
    for _ in 0..count {
        let Some((line, next)) = read_line(data, at) else {
            return Record::Truncated;
        };
        let Some(len) = line.strip_prefix(b"$") else {
            return Record::Corrupt("expected '$'".into());
        };
        let len = match shoal_resp::parse_redis_int(len) {
            Some(n) if n >= 0 && (n as usize) <= ARG_BYTES_MAX => n as usize,
            _ => return Record::Corrupt("invalid bulk length".into()),
        };
        if data.len() < next + len + 2 {
            return Record::Truncated;
        }
        if &data[next + len..next + len + 2] != b"\r\n" {
            return Record::Corrupt("bulk string not terminated by CRLF".into());
        }
        args.push(Bytes::copy_from_slice(&data[next..next + len]));
        at = next + len + 2;
    }
    Record::Command(args, at)
}

/// What scanning one AOF file found.
#[derive(Debug, PartialEq)]
pub(crate) struct Scan {
    /// Offset after the last record that can be kept (outside an
    /// unfinished MULTI).
    pub valid_up_to: usize,
    pub commands: usize,
    pub problem: Option<Problem>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Problem {
    /// The file ends inside a record or inside a MULTI: a crash cut it.
    Truncated,
    /// Bytes that are not a record, at an offset.
    Corrupt { offset: usize, why: String },
}

/// Walks a file's records, calling `run` for each command outside a
/// transaction and for each whole transaction (MULTI … EXEC) at once, with
/// the offset just past it.
pub(crate) fn scan(data: &[u8], mut run: impl FnMut(&[Vec<Bytes>], usize)) -> Scan {
    let mut pos = 0;
    let mut valid = 0;
    let mut commands = 0;
    let mut multi: Option<Vec<Vec<Bytes>>> = None;
    while pos < data.len() {
        match parse_record(data, pos) {
            Record::Command(args, next) => {
                commands += 1;
                pos = next;
                let name = args[0].to_ascii_lowercase();
                match (&mut multi, name.as_slice()) {
                    (None, b"multi") => multi = Some(Vec::new()),
                    (Some(queued), b"exec") => {
                        run(queued, pos);
                        multi = None;
                        valid = pos;
                    }
                    (Some(queued), _) => queued.push(args),
                    (None, _) => {
                        run(&[args], pos);
                        valid = pos;
                    }
                }
            }
            Record::Truncated => {
                return Scan {
                    valid_up_to: valid,
                    commands,
                    problem: Some(Problem::Truncated),
                }
            }
            Record::Corrupt(why) => {
                return Scan {
                    valid_up_to: valid,
                    commands,
                    problem: Some(Problem::Corrupt { offset: pos, why }),
                }
            }
        }
    }
    Scan {
        valid_up_to: valid,
        commands,
        problem: multi.map(|_| Problem::Truncated),
    }
}

/// Replays one command of the file into the store.
fn replay(store: &mut Store, db: &mut usize, args: &[Bytes], now_ms: u64) -> anyhow::Result<()> {
    if args[0].eq_ignore_ascii_case(b"select") {
        let n = args
            .get(1)
            .and_then(|a| shoal_store::parse_i64_exact(a))
            .filter(|&n| n >= 0 && (n as usize) < store.dbs.len())
            .with_context(|| "invalid SELECT in the append only file")?;
        *db = n as usize;
        return Ok(());
    }
    let Some(spec) = shoal_store::lookup_command(&args[0]) else {
        bail!(
            "Unknown command '{}' reading the append only file",
            String::from_utf8_lossy(&args[0])
        );
    };
    let mut ctx = Ctx::new(store, *db, now_ms, 0);
    let mut sink = Vec::new();
    // Like Redis's fake AOF client, a command's error reply is ignored.
    let _ = shoal_store::execute(
        spec,
        &mut ctx,
        &mut Reply::new(&mut sink, Protocol::Resp2),
        args,
    );
    Ok(())
}

/// Why a file's bytes could not be loaded (a cut or corrupt record is not
/// an error here: it is in the returned [`Scan`]).
enum LoadError {
    Preamble(shoal_store::rdb::RdbError),
    Replay(anyhow::Error),
}

/// Loads one AOF file's bytes into `store`: an RDB preamble if it starts
/// with one (`aof-use-rdb-preamble yes`, Redis's default), then commands,
/// as Redis reads them. Offsets in the result count from the file's start.
fn load_data(
    data: &[u8],
    store: &mut Store,
    db: &mut usize,
    now_ms: u64,
) -> Result<Scan, LoadError> {
    let mut preamble = 0;
    if data.starts_with(b"REDIS") {
        let loaded =
            crate::rdbfile::load_bytes(data, store, now_ms).map_err(LoadError::Preamble)?;
        preamble = loaded.len;
        *db = 0;
    }
    let mut failure = None;
    let delay = store.config.key_load_delay;
    let mut result = scan(&data[preamble..], |commands, end| {
        if !crate::loading::at(preamble + end) && failure.is_none() {
            failure = Some(anyhow::anyhow!(crate::loading::ABORTED));
        }
        for args in commands {
            if failure.is_none() {
                if let Err(e) = replay(store, db, args, now_ms) {
                    failure = Some(e);
                }
                // Redis's test hook slows AOF loading per command too.
                crate::rdbfile::key_delay(delay);
            }
        }
    });
    if let Some(e) = failure {
        return Err(LoadError::Replay(e));
    }
    result.valid_up_to += preamble;
    if let Some(Problem::Corrupt { offset, .. }) = &mut result.problem {
        *offset += preamble;
    }
    Ok(result)
}

/// The AOF loaders on arbitrary bytes, for the fuzz target: the bytes as
/// one file loaded into an empty 16-database store, and as a manifest.
/// Returns whether the file loaded whole. Never panics; allocates in
/// proportion to the input (or to what its commands ask for, as Redis).
#[doc(hidden)]
pub fn fuzz_load(data: &[u8]) -> bool {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_manifest(text);
    }
    let mut store = Store::new(16);
    let mut db = 0;
    matches!(
        load_data(data, &mut store, &mut db, crate::now_ms()),
        Ok(Scan { problem: None, .. })
    )
}

/// Replays the files `files` names (base first, then the increments)
/// into `store`, cutting a truncated tail if `truncated_ok`.
fn replay_files(
    layout: &Layout,
    files: &[ManifestFile],
    store: &mut Store,
    truncated_ok: bool,
) -> anyhow::Result<()> {
    let manifest_path = layout.manifest_path();
    let now_ms = crate::now_ms();
    let mut db = 0;
    let to_load: Vec<&ManifestFile> = files
        .iter()
        .filter(|f| f.kind == 'b')
        .chain(files.iter().filter(|f| f.kind == 'i'))
        .collect();
    let last = to_load.len().saturating_sub(1);
    let sizes: Vec<u64> = to_load
        .iter()
        .map(|f| fs::metadata(layout.dir.join(&f.name)).map_or(0, |m| m.len()))
        .collect();
    crate::loading::total(sizes.iter().sum());
    let mut before = 0;
    for (i, f) in to_load.iter().enumerate() {
        let path = layout.dir.join(&f.name);
        let data = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        crate::loading::file_at(before);
        before += sizes[i];
        let result = match load_data(&data, store, &mut db, now_ms) {
            Ok(result) => result,
            Err(LoadError::Preamble(e)) => bail!(
                "Bad file format reading the append only file {} (RDB preamble: {e}): make a backup of your AOF file, then use `shoal check-aof --fix {}`",
                f.name,
                manifest_path.display()
            ),
            Err(LoadError::Replay(e)) => {
                return Err(e.context(format!("loading {}", path.display())))
            }
        };
        match result.problem {
            None => {}
            Some(Problem::Truncated) if i == last && truncated_ok => {
                tracing::warn!(
                    file = %f.name,
                    "!!! Warning: short read while loading the AOF file; AOF loaded anyway because aof-load-truncated is enabled, truncated to offset {}",
                    result.valid_up_to
                );
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(result.valid_up_to as u64)?;
                file.sync_all()?;
            }
            Some(Problem::Truncated) => bail!(
                "Unexpected end of file reading the append only file {} (valid up to offset {}). You can: 1) Make a backup of your AOF file, then use `shoal check-aof --fix {}`. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                f.name,
                result.valid_up_to,
                manifest_path.display()
            ),
            Some(Problem::Corrupt { offset, why }) => bail!(
                "Bad file format reading the append only file {} at offset {offset} ({why}): make a backup of your AOF file, then use `shoal check-aof --fix {}`",
                f.name,
                manifest_path.display()
            ),
        }
    }
    Ok(())
}

/// Loads the AOF into `store` at start-up, creating the directory, an
/// empty base and a first incremental file on first use. Returns the
/// writer's file and the next sequence numbers.
pub(crate) fn load(
    layout: &Layout,
    store: &mut Store,
    truncated_ok: bool,
) -> anyhow::Result<Opened> {
    fs::create_dir_all(&layout.dir)
        .with_context(|| format!("creating the AOF directory {}", layout.dir.display()))?;
    let manifest_path = layout.manifest_path();
    let mut files = read_manifest(&manifest_path)?;
    if files.is_empty() {
        let base = ManifestFile {
            name: format!("{}.1.base.aof", layout.name),
            seq: 1,
            kind: 'b',
        };
        write_atomically(&layout.dir.join(&base.name), b"")?;
        files.push(base);
        files.push(ManifestFile {
            name: format!("{}.1.incr.aof", layout.name),
            seq: 1,
            kind: 'i',
        });
        File::create(layout.dir.join(&files[1].name))?.sync_all()?;
        write_atomically(&manifest_path, render_manifest(&files).as_bytes())?;
        tracing::info!(dir = %layout.dir.display(), "created a new append only file");
    }
    replay_files(layout, &files, store, truncated_ok)?;
    let incr = files
        .iter()
        .filter(|f| f.kind == 'i')
        .max_by_key(|f| f.seq)
        .context("the AOF manifest names no incremental file")?;
    let path = layout.dir.join(&incr.name);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata()?.len();
    let base_size = files
        .iter()
        .find(|f| f.kind == 'b')
        .and_then(|f| fs::metadata(layout.dir.join(&f.name)).ok())
        .map_or(0, |m| m.len());
    Ok(Opened {
        file,
        size,
        files,
        base_size,
    })
}

/// The incremental file the writer appends to.
pub(crate) struct Opened {
    pub file: File,
    pub size: u64,
    files: Vec<ManifestFile>,
    base_size: u64,
}

/// The writer thread: takes the buffer, writes it in order, fsyncs by
/// policy, publishes the durable offset.
pub(crate) fn spawn_writer(
    shared: Arc<crate::Shared>,
    opened: Opened,
) -> std::thread::JoinHandle<()> {
    let sync = &shared.aof;
    sync.current_size.store(opened.size, Ordering::Relaxed);
    sync.base_size.store(opened.base_size, Ordering::Relaxed);
    *sync.manifest.lock() = opened.files;
    let state = WriterState {
        file: Some(opened.file),
        pending: Vec::new(),
        pending_end: 0,
        durable: 0,
        last_fsync: Instant::now(),
    };
    std::thread::Builder::new()
        .name("shoal-aof".into())
        .spawn(move || {
            // Set here, not by the caller: callers hold the store lock, and
            // the state lock is always taken before the store lock (a round
            // takes the buffer under it).
            *shared.aof.state.lock().expect("aof state lock") = Some(state);
            writer_loop(&shared)
        })
        .expect("spawn the AOF writer")
}

/// Stops the writer after it has written and fsynced everything taken.
pub(crate) fn stop_writer(shared: &crate::Shared) {
    shared.aof.stop.store(true, Ordering::Relaxed);
    shared.aof.wake();
    if let Some(handle) = shared.aof_writer.lock().take() {
        let _ = handle.join();
    }
}

/// How long the writer may be stuck in one write or fsync before writing
/// clients wait for it: Redis's limit on postponing an AOF write while
/// an fsync runs.
const STALL_MAX: Duration = Duration::from_secs(2);

/// How often the writer takes the buffer on its own. Under `everysec` and
/// `no`, connections do not wake it per write (a syscall each), so this
/// bounds how long an acknowledged write can sit in Shoal's memory before
/// the kernel has it: a process crash loses at most this much, an OS crash
/// about a second more, as with Redis.
const WRITER_TICK: Duration = Duration::from_millis(10);

/// The writer's tick while it is the backstop for `always` commits that
/// the io threads flush when they park: a commit waits at most about two
/// of these for an io thread to park.
const BACKSTOP_TICK: Duration = Duration::from_millis(1);

/// Backstop ticks with no commit before the writer sleeps whole
/// `WRITER_TICK`s again (and the next commit nudges it).
const BACKSTOP_IDLE_TICKS: u32 = 100;

/// Runs the `always` round an io thread owes before it parks (a
/// tokio `on_thread_park` hook; see [`crate::ParkHook`]).
///
/// This is Redis's event loop shape: every command the thread had ready
/// has run and appended, so one write and one fsync cover all of them;
/// their replies go out when the thread resumes. While the fsync runs,
/// the thread does not park in epoll for each new request: the requests
/// that arrive meanwhile are read together afterwards. An io thread that
/// finds another thread's round running waits for it (as Redis waits for
/// its own fsync), then runs one only if a commit is still pending.
pub(crate) fn flush_before_park(shared: &crate::Shared) {
    let sync = &shared.aof;
    if !sync.commit_pending()
        || sync.policy() != Fsync::Always
        || !sync.last_write_ok.load(Ordering::Relaxed)
    {
        // A failing disk is retried by the writer's tick, not on every park.
        return;
    }
    let mut state = sync.state.lock().expect("aof state lock");
    if !sync.commit_pending() {
        return;
    }
    if let Some(state) = state.as_mut() {
        state.round(shared, false);
    }
}

/// DEBUG LOADAOF: writes out everything logged so far, then replaces the
/// dataset with what the AOF files say, in one hold of the store lock.
pub(crate) fn reload(shared: &crate::Shared) -> anyhow::Result<()> {
    let layout = Layout::from_config(&shared.config.read());
    let truncated_ok = shared.config.read().get("aof-load-truncated") == "yes";
    // Lock order: the writer state, then the store.
    let mut state = shared.aof.state.lock().expect("aof state lock");
    loop {
        if state.is_none() && shared.engine.lock().aof.enabled {
            // The writer thread has not installed its state yet (it does
            // so when it first runs): what was logged is still in the
            // buffer, not in the file. Let it start, then write it out.
            drop(state);
            std::thread::sleep(Duration::from_millis(1));
            state = shared.aof.state.lock().expect("aof state lock");
            continue;
        }
        if let Some(state) = state.as_mut() {
            state.round(shared, false);
        }
        let mut engine = shared.engine.lock();
        let written = state.as_ref().map_or(true, |s| {
            s.pending.is_empty() && s.pending_end >= engine.aof.appended
        });
        if !written {
            // Writes arrived after the round: write those too.
            continue;
        }
        if !engine.aof.enabled && !layout.manifest_path().exists() {
            anyhow::bail!("no append only file to load");
        }
        let engine = &mut *engine;
        let store = &mut engine.store;
        store.empty_for_load(crate::now_ms());
        let files = read_manifest(&layout.manifest_path())?;
        replay_files(&layout, &files, store, truncated_ok)?;
        // What was loaded is already logged.
        store.dirty = 0;
        store.log.clear();
        tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
        return Ok(());
    }
}

fn writer_loop(shared: &crate::Shared) {
    let sync = &shared.aof;
    // `committed` at the last backstop tick.
    let mut seen = 0u64;
    let mut quiet_ticks = 0u32;
    loop {
        // A failing disk is retried every `WRITER_TICK`, by this thread only.
        let backstop = sync.flush_on_park.load(Ordering::Relaxed)
            && sync.policy() == Fsync::Always
            && sync.last_write_ok.load(Ordering::Relaxed);
        let tick = if backstop && !sync.writer_idle.load(Ordering::Acquire) {
            BACKSTOP_TICK
        } else {
            WRITER_TICK
        };
        {
            let guard = sync.wake.lock().expect("aof wake lock");
            if !sync.woken.load(Ordering::Acquire) {
                // A nudge or the tick ends the wait; both mean "look again".
                let _ = sync
                    .wake_cv
                    .wait_timeout(guard, tick)
                    .expect("aof wake lock");
            }
        }
        // Cleared before the take: a write appended after the take finds it
        // clear and wakes the writer again.
        let woken = sync.woken.swap(false, Ordering::AcqRel);
        let stopping = sync.stop.load(Ordering::Relaxed);
        if backstop && !woken && !stopping {
            let committed = sync.committed.load(Ordering::SeqCst);
            let durable = sync.durable_at.load(Ordering::SeqCst);
            if committed > durable {
                quiet_ticks = 0;
            } else {
                quiet_ticks += 1;
                if quiet_ticks >= BACKSTOP_IDLE_TICKS {
                    sync.writer_idle.store(true, Ordering::Release);
                    quiet_ticks = 0;
                    // A commit that came before the flag was set did not
                    // nudge: look once more on the next (long) tick.
                }
            }
            // Only a commit already pending at the last tick is the
            // writer's to fsync; newer ones are the io threads'.
            let overdue = seen > durable;
            seen = committed;
            if !overdue {
                continue;
            }
        }
        let mut guard = sync.state.lock().expect("aof state lock");
        let Some(state) = guard.as_mut() else {
            return;
        };
        state.round(shared, stopping);
        if stopping && state.pending.is_empty() {
            // Nobody runs a round on this file after the writer is gone.
            *guard = None;
            return;
        }
    }
}

/// What the writer has taken from the engine and how far it got.
pub(crate) struct WriterState {
    /// The incremental file written to; none while the AOF is off.
    file: Option<File>,
    /// Bytes taken from the engine but not yet written.
    pending: Vec<u8>,
    /// The log offset just past `pending`.
    pending_end: u64,
    /// The log offset known fsynced.
    durable: u64,
    last_fsync: Instant,
}

impl WriterState {
    /// Takes the buffer and writes it out ([`WriterState::write_pending`]),
    /// telling held writers how far it has taken.
    fn round(&mut self, shared: &crate::Shared, stopping: bool) {
        let sync = &shared.aof;
        let (bytes, end) = shared.engine.lock().aof.take();
        sync.begin_round(end);
        self.pending.extend_from_slice(&bytes);
        self.pending_end = self.pending_end.max(end);
        self.write_pending(shared, stopping);
        sync.end_round();
    }

    /// Writes what was taken in order (bytes from a pending switch's
    /// offset on go to the new file, after the old one is complete and
    /// fsynced), fsyncs by policy and publishes the durable offset.
    fn write_pending(&mut self, shared: &crate::Shared, stopping: bool) {
        let sync = &shared.aof;
        loop {
            let start = self.pending_end - self.pending.len() as u64;
            let boundary = sync.switch.lock().as_ref().map(|(at, _)| *at);
            let chunk = match boundary {
                Some(at) if at >= start => ((at - start) as usize).min(self.pending.len()),
                _ => self.pending.len(),
            };
            if chunk > 0 {
                let Some(out) = self.file.as_mut() else {
                    // Nothing is logged while the AOF is off.
                    self.pending.drain(..chunk);
                    continue;
                };
                match out.write(&self.pending[..chunk]) {
                    Ok(n) => {
                        self.pending.drain(..n);
                        sync.current_size.fetch_add(n as u64, Ordering::Relaxed);
                        if n < chunk {
                            // A short write: the rest at once, next turn.
                            sync.wake();
                            break;
                        }
                    }
                    Err(e) => {
                        fail(sync, &e);
                        break;
                    }
                }
            }
            let start = self.pending_end - self.pending.len() as u64;
            match boundary {
                Some(at) if start >= at && (self.pending_end >= at || self.pending.is_empty()) => {
                    if let Some(Err(e)) = self.file.as_ref().map(File::sync_data) {
                        fail(sync, &e);
                        break;
                    }
                    if self.file.is_some() && start > self.durable {
                        // Every file before this one was fsynced at its own
                        // switch: all written so far is durable. Publish it
                        // now, since the next file may be none (AOF off).
                        self.durable = start;
                        sync.publish(self.durable);
                    }
                    if let Some((_, next)) = sync.switch.lock().take() {
                        self.file = next;
                        sync.current_size.store(0, Ordering::Relaxed);
                    }
                }
                _ => break,
            }
        }
        let written = self.pending_end - self.pending.len() as u64;
        let want_fsync = written > self.durable
            && match sync.policy() {
                Fsync::Always => true,
                Fsync::EverySec => self.last_fsync.elapsed() >= Duration::from_secs(1) || stopping,
                Fsync::No => stopping,
            };
        if let (true, Some(out)) = (want_fsync, self.file.as_ref()) {
            match out.sync_data() {
                Ok(()) => {
                    self.durable = written;
                    self.last_fsync = Instant::now();
                    // Offsets are a prefix order: every write up to here is safe.
                    sync.publish(self.durable);
                }
                Err(e) => fail(sync, &e),
            }
        }
        if self.pending.is_empty()
            && !sync.last_write_ok.load(Ordering::Relaxed)
            && written == self.durable
        {
            tracing::warn!("AOF write error looks solved, Redis can write again.");
            sync.last_write_ok.store(true, Ordering::Relaxed);
        }
    }
}

fn fail(sync: &AofSync, e: &std::io::Error) {
    if sync.last_write_ok.swap(false, Ordering::Relaxed) {
        tracing::warn!(error = %e, "error writing to the AOF file");
    }
    *sync.last_error.lock() = strerror(e);
}

/// Whether [`canonical`] might rewrite `args`: the common writes are logged
/// as they came, without building a copy.
pub(crate) fn may_rewrite(args: &[Bytes]) -> bool {
    let name = &args[0];
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    (is(b"set") && args.len() > 3)
        || is(b"expire")
        || is(b"pexpire")
        || is(b"expireat")
        || is(b"setex")
        || is(b"psetex")
        || is(b"getex")
}

/// Redis 7's rewrite of commands whose replay would differ from what they
/// did: relative expiry times become absolute (`PEXPIREAT`, `SET … PXAT`),
/// computed from the command's own clock reading.
pub(crate) fn canonical(args: &[Bytes], now_ms: u64) -> Vec<Vec<Bytes>> {
    let name = args[0].to_ascii_lowercase();
    let num = |a: &Bytes| shoal_store::parse_i64_exact(a);
    let at = |ms: i64| Bytes::from(ms.to_string());
    let now = now_ms as i64;
    match name.as_slice() {
        b"expire" | b"pexpire" | b"expireat" if args.len() >= 3 => {
            let Some(n) = num(&args[2]) else {
                return vec![args.to_vec()];
            };
            let ms = match name.as_slice() {
                b"expire" => n.saturating_mul(1000).saturating_add(now),
                b"pexpire" => n.saturating_add(now),
                _ => n.saturating_mul(1000),
            };
            let mut out = vec![Bytes::from_static(b"PEXPIREAT"), args[1].clone(), at(ms)];
            out.extend_from_slice(&args[3..]);
            vec![out]
        }
        b"setex" | b"psetex" if args.len() == 4 => {
            let Some(n) = num(&args[2]) else {
                return vec![args.to_vec()];
            };
            let ms = if name == b"setex" {
                n.saturating_mul(1000)
            } else {
                n
            };
            vec![vec![
                Bytes::from_static(b"SET"),
                args[1].clone(),
                args[3].clone(),
                Bytes::from_static(b"PXAT"),
                at(now.saturating_add(ms)),
            ]]
        }
        b"set" => {
            let mut out = args.to_vec();
            let mut i = 3;
            while i + 1 < out.len() {
                let opt = out[i].to_ascii_lowercase();
                // Every expiry form becomes `PXAT`, as Redis writes it.
                let ms = |n: i64| match opt.as_slice() {
                    b"ex" => Some(now.saturating_add(n.saturating_mul(1000))),
                    b"px" => Some(now.saturating_add(n)),
                    b"exat" => Some(n.saturating_mul(1000)),
                    b"pxat" => Some(n),
                    _ => None,
                };
                if let Some(ms) = num(&out[i + 1]).and_then(ms) {
                    out[i] = Bytes::from_static(b"PXAT");
                    out[i + 1] = at(ms);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            vec![out]
        }
        b"getex" if args.len() >= 3 => {
            let opt = args[2].to_ascii_lowercase();
            if opt == b"persist" {
                return vec![vec![Bytes::from_static(b"PERSIST"), args[1].clone()]];
            }
            let Some(n) = args.get(3).and_then(num) else {
                return vec![args.to_vec()];
            };
            let ms = match opt.as_slice() {
                b"ex" => now.saturating_add(n.saturating_mul(1000)),
                b"px" => now.saturating_add(n),
                b"exat" => n.saturating_mul(1000),
                _ => n,
            };
            vec![vec![
                Bytes::from_static(b"PEXPIREAT"),
                args[1].clone(),
                at(ms),
            ]]
        }
        _ => vec![args.to_vec()],
    }
}

/// What `shoal check-aof` reports about one file.
pub struct CheckReport {
    pub file: PathBuf,
    pub size: u64,
    pub commands: usize,
    pub valid_up_to: u64,
    /// `None` if the file is whole.
    pub problem: Option<String>,
    pub fixed: bool,
}

/// Checks an AOF file (or every file a manifest names) and, with `fix`,
/// truncates a damaged file after its last whole record.
///
/// # Errors
/// The file or manifest cannot be read or written.
pub fn check_aof(path: &Path, fix: bool) -> anyhow::Result<Vec<CheckReport>> {
    let files: Vec<PathBuf> = if path.extension().is_some_and(|e| e == "manifest") {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let parsed = parse_manifest(&text)?;
        parsed
            .iter()
            .filter(|f| f.kind == 'b')
            .chain(parsed.iter().filter(|f| f.kind == 'i'))
            .map(|f| dir.join(&f.name))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut reports = Vec::new();
    for file in files {
        let data = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        // An RDB preamble must be whole (as redis-check-aof, we cannot fix
        // inside it); the commands after it are checked as usual.
        let mut preamble = 0;
        let mut rdb_problem = None;
        if data.starts_with(b"REDIS") {
            match shoal_store::rdb::read_file(&data, |_| Ok(())) {
                Ok(len) => preamble = len,
                Err(e) => rdb_problem = Some(format!("bad RDB preamble: {e}")),
            }
        }
        if let Some(problem) = rdb_problem {
            reports.push(CheckReport {
                file,
                size: data.len() as u64,
                commands: 0,
                valid_up_to: 0,
                problem: Some(problem),
                fixed: false,
            });
            continue;
        }
        let mut result = scan(&data[preamble..], |_, _| {});
        result.valid_up_to += preamble;
        let problem = result.problem.map(|p| match p {
            Problem::Truncated => "the file ends inside a command or transaction".to_string(),
            Problem::Corrupt { offset, why } => {
                format!("bad format at offset {}: {why}", offset + preamble)
            }
        });
        let mut fixed = false;
        if fix && problem.is_some() {
            let f = OpenOptions::new().write(true).open(&file)?;
            f.set_len(result.valid_up_to as u64)?;
            f.sync_all()?;
            fixed = true;
        }
        reports.push(CheckReport {
            file,
            size: data.len() as u64,
            commands: result.commands,
            valid_up_to: result.valid_up_to as u64,
            problem,
            fixed,
        });
    }
    Ok(reports)
}

/// `CONFIG SET appendonly yes` while running, as Redis's `startAppendOnly`:
/// from this instant every write is logged, into an increment kept under a
/// temporary name, while a rewrite writes the dataset as of this instant as
/// the base. When the base is durable, the increment takes its real name
/// and the manifest names both (dropping any files an earlier run left).
///
/// # Errors
/// The directory or the increment cannot be created, or a rewrite from an
/// earlier on/off switch is still running.
pub(crate) fn enable(
    shared: &Arc<crate::Shared>,
    engine: &mut crate::Engine,
    config: &crate::Config,
) -> Result<(), String> {
    let sync = &shared.aof;
    if sync.rewrite_in_progress.load(Ordering::Acquire) {
        return Err("a background AOF rewrite is still running".into());
    }
    let layout = Layout::from_config(config);
    fs::create_dir_all(&layout.dir)
        .map_err(|e| format!("creating {}: {e}", layout.dir.display()))?;
    let existing = read_manifest(&layout.manifest_path()).map_err(|e| format!("{e:#}"))?;
    let incr = next_increment(&existing, &layout);
    let temp = layout.dir.join(format!("temp-{}.incr", layout.name));
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&temp)
        .map_err(|e| format!("creating {}: {e}", temp.display()))?;
    *sync.waiting.lock() = Some(Waiting { temp, incr });
    sync.current_size.store(0, Ordering::Relaxed);
    sync.base_size.store(0, Ordering::Relaxed);
    engine.aof.enabled = true;
    engine.aof.forget_selected_db();
    engine.store.log_enabled = true;
    let mut writer = shared.aof_writer.lock();
    if writer.as_ref().is_some_and(|w| !w.is_finished()) {
        *sync.manifest.lock() = existing;
        *sync.switch.lock() = Some((engine.aof.appended, Some(file)));
        sync.wake();
    } else {
        let opened = Opened {
            file,
            size: 0,
            files: existing,
            base_size: 0,
        };
        *writer = Some(spawn_writer(shared.clone(), opened));
    }
    drop(writer);
    match start_rewrite(shared, engine) {
        RewriteStart::Failed(e) => {
            tracing::warn!(error = %e, "the first AOF rewrite failed to start; retrying");
            sync.rewrite_scheduled.store(true, Ordering::Relaxed);
        }
        RewriteStart::Started | RewriteStart::Scheduled | RewriteStart::AlreadyRunning => {}
    }
    Ok(())
}

/// `CONFIG SET appendonly no` while running, as Redis's `stopAppendOnly`:
/// nothing more is logged; the writer writes and fsyncs what was, then
/// closes the file. A rewrite already running still completes, leaving a
/// manifest that is whole as of this instant.
pub(crate) fn disable(shared: &crate::Shared, engine: &mut crate::Engine) {
    let sync = &shared.aof;
    engine.aof.end_exec();
    engine.aof.enabled = false;
    engine.store.log_enabled = engine.repl.feed.enabled;
    if !engine.store.log_enabled {
        engine.store.log.clear();
    }
    *sync.switch.lock() = Some((engine.aof.appended, None));
    sync.rewrite_scheduled.store(false, Ordering::Relaxed);
    if !sync.rewrite_in_progress.load(Ordering::Acquire) {
        *sync.waiting.lock() = None;
    }
    sync.wake();
}

/// What BGREWRITEAOF did.
pub(crate) enum RewriteStart {
    Started,
    /// A snapshot (BGSAVE) or an open transaction is in the way; the cron
    /// starts it when it can.
    Scheduled,
    AlreadyRunning,
    Failed(String),
}

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`: elements per command in a base.
const REWRITE_ITEMS_PER_CMD: usize = 64;

fn encode_cmd(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut reply = Reply::new(out, Protocol::Resp2);
    reply.array(args.len());
    for a in args {
        reply.bulk(a);
    }
}

/// The commands that rebuild one key, as a rewrite's base holds them.
fn encode_key(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &shoal_store::rdb::Decoded,
    expire: Option<u64>,
) {
    use shoal_store::rdb::Decoded;
    match value {
        Decoded::Str(v) => encode_cmd(out, &[b"SET", key, v]),
        Decoded::List(items) | Decoded::Set(items) => {
            let name: &[u8] = if matches!(value, Decoded::List(_)) {
                b"RPUSH"
            } else {
                b"SADD"
            };
            for chunk in items.chunks(REWRITE_ITEMS_PER_CMD) {
                let mut args: Vec<&[u8]> = vec![name, key];
                args.extend(chunk.iter().map(Vec::as_slice));
                encode_cmd(out, &args);
            }
        }
        Decoded::Hash(pairs) => {
            for chunk in pairs.chunks(REWRITE_ITEMS_PER_CMD) {
                let mut args: Vec<&[u8]> = vec![b"HSET", key];
                for (f, v) in chunk {
                    args.push(f);
                    args.push(v);
                }
                encode_cmd(out, &args);
            }
        }
        Decoded::ZSet(items) => {
            for chunk in items.chunks(REWRITE_ITEMS_PER_CMD) {
                let scores: Vec<String> = chunk
                    .iter()
                    .map(|(_, s)| shoal_resp::format_double(*s))
                    .collect();
                let mut args: Vec<&[u8]> = vec![b"ZADD", key];
                for ((m, _), s) in chunk.iter().zip(&scores) {
                    args.push(s.as_bytes());
                    args.push(m);
                }
                encode_cmd(out, &args);
            }
        }
        Decoded::Stream(s) => encode_stream(out, key, s),
    }
    if let Some(at) = expire {
        encode_cmd(out, &[b"PEXPIREAT", key, at.to_string().as_bytes()]);
    }
}

/// The commands that rebuild a stream with its groups, as Redis's
/// `rewriteStreamObject` writes them.
fn encode_stream(out: &mut Vec<u8>, key: &[u8], s: &shoal_store::types::Stream) {
    use shoal_store::types::stream::StreamId;
    if s.is_empty() {
        encode_cmd(out, &[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
    } else {
        s.visit(StreamId::MIN, StreamId::MAX, false, |e| {
            let id = e.id.to_string();
            let mut owned: Vec<Vec<u8>> = Vec::with_capacity(2 * e.field_count);
            for (f, v) in e.fields() {
                owned.push(f.to_vec());
                owned.push(v.to_vec());
            }
            let mut args: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
            args.extend(owned.iter().map(Vec::as_slice));
            encode_cmd(out, &args);
            true
        });
    }
    let (last, added, deleted) = (
        s.last_id.to_string(),
        s.entries_added.to_string(),
        s.max_deleted_id.to_string(),
    );
    encode_cmd(
        out,
        &[
            b"XSETID",
            key,
            last.as_bytes(),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            deleted.as_bytes(),
        ],
    );
    for (name, g) in &s.groups {
        let (last, read) = (g.last_id.to_string(), g.entries_read.to_string());
        encode_cmd(
            out,
            &[
                b"XGROUP",
                b"CREATE",
                key,
                name,
                last.as_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode_cmd(out, &[b"XGROUP", b"CREATECONSUMER", key, name, cname]);
            }
            for id in &c.pel {
                let nack = &g.pel[id];
                let (id, time, count) = (
                    id.to_string(),
                    nack.delivery_time.to_string(),
                    nack.delivery_count.to_string(),
                );
                encode_cmd(
                    out,
                    &[
                        b"XCLAIM",
                        key,
                        name,
                        cname,
                        b"0",
                        id.as_bytes(),
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

/// Writes a snapshot's steps as the commands that rebuild it.
fn write_commands(
    mut out: impl Write,
    mut next: impl FnMut() -> std::io::Result<shoal_store::snapshot::Step>,
) -> std::io::Result<()> {
    use shoal_store::snapshot::Step;
    let mut buf = Vec::new();
    loop {
        match next()? {
            Step::Db { origin, keys, .. } => {
                if keys > 0 {
                    encode_cmd(&mut buf, &[b"SELECT", origin.to_string().as_bytes()]);
                }
            }
            Step::Keys(keys) => {
                for (key, value, expire) in &keys {
                    encode_key(&mut buf, key, value, *expire);
                }
            }
            Step::Done => break,
        }
        out.write_all(&buf)?;
        buf.clear();
    }
    out.flush()
}

/// BGREWRITEAOF: writes go to a new incremental file from now on (the
/// manifest names it at once, so a crash loses nothing), and a thread
/// writes the dataset as of now, from a fork-less snapshot, into a new
/// base; when it is durable, the manifest switches to base + new
/// increment and the old files are deleted. At every instant the
/// manifest on disk names a loadable, complete set of files.
pub(crate) fn start_rewrite(
    shared: &Arc<crate::Shared>,
    engine: &mut crate::Engine,
) -> RewriteStart {
    let sync = &shared.aof;
    if sync.rewrite_in_progress.load(Ordering::Acquire) {
        return RewriteStart::AlreadyRunning;
    }
    if engine.store.snapshot_in_progress() || engine.aof.in_multi() {
        sync.rewrite_scheduled.store(true, Ordering::Relaxed);
        return RewriteStart::Scheduled;
    }
    sync.rewrite_scheduled.store(false, Ordering::Relaxed);
    let layout = Layout::from_config(&shared.config.read());
    let waiting = sync.waiting.lock().clone();
    let incr = if !engine.aof.enabled {
        // As Redis 7: with the AOF off a rewrite still writes a base, and
        // the manifest names only it (the increments become history).
        if let Err(e) = fs::create_dir_all(&layout.dir) {
            return RewriteStart::Failed(format!("creating {}: {e}", layout.dir.display()));
        }
        match read_manifest(&layout.manifest_path()) {
            Ok(files) => *sync.manifest.lock() = files,
            Err(e) => return RewriteStart::Failed(format!("{e:#}")),
        }
        None
    } else {
        match &waiting {
            // Turned on at runtime: writes already go to the waiting increment.
            Some(w) => Some(w.incr.clone()),
            None => match new_increment(sync, &layout, engine) {
                Ok(incr) => Some(incr),
                Err(e) => return RewriteStart::Failed(e),
            },
        }
    };
    engine.aof.forget_selected_db();
    sync.wake();
    engine.store.begin_snapshot();
    sync.rewrite_in_progress.store(true, Ordering::Release);
    let steps = crate::rdbfile::Steps::start(shared, false);
    let compress = engine.store.config.rdb_compression;
    let worker = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("shoal-aof-rewrite".into())
        .spawn(move || {
            crate::rdbfile::lower_priority();
            rewrite_thread(&worker, steps, compress, &layout, incr.as_ref(), waiting)
        });
    if spawned.is_err() {
        engine.store.end_snapshot();
        sync.rewrite_in_progress.store(false, Ordering::Release);
        return RewriteStart::Failed("could not start the rewrite thread".into());
    }
    RewriteStart::Started
}

/// The incremental file that follows the ones `files` names.
fn next_increment(files: &[ManifestFile], layout: &Layout) -> ManifestFile {
    let seq = files
        .iter()
        .filter(|f| f.kind == 'i')
        .map(|f| f.seq)
        .max()
        .unwrap_or(0)
        + 1;
    ManifestFile {
        name: format!("{}.{seq}.incr.aof", layout.name),
        seq,
        kind: 'i',
    }
}

/// Opens the next incremental file, names it in the manifest on disk at
/// once (so a crash loses nothing), and points the writer at it from the
/// current log offset.
fn new_increment(
    sync: &AofSync,
    layout: &Layout,
    engine: &mut crate::Engine,
) -> Result<ManifestFile, String> {
    let mut files = sync.manifest.lock().clone();
    let incr = next_increment(&files, layout);
    let opened = OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.dir.join(&incr.name));
    let file = opened.map_err(|e| format!("creating {}: {e}", incr.name))?;
    files.push(incr.clone());
    write_atomically(&layout.manifest_path(), render_manifest(&files).as_bytes())
        .map_err(|e| format!("writing the manifest: {e}"))?;
    *sync.manifest.lock() = files;
    *sync.switch.lock() = Some((engine.aof.appended, Some(file)));
    Ok(incr)
}

fn rewrite_thread(
    shared: &crate::Shared,
    mut steps: crate::rdbfile::Steps,
    compress: bool,
    layout: &Layout,
    incr: Option<&ManifestFile>,
    waiting: Option<Waiting>,
) {
    let sync = &shared.aof;
    let started = Instant::now();
    let tmp = layout
        .dir
        .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let base_seq = sync
        .manifest
        .lock()
        .iter()
        .filter(|f| f.kind == 'b')
        .map(|f| f.seq)
        .max()
        .unwrap_or(0)
        + 1;
    // `aof-use-rdb-preamble yes` (Redis's default) writes the base as RDB:
    // smaller and faster to load; Redis 7 names it `.base.rdb`.
    let rdb_base = shared.config.read().get("aof-use-rdb-preamble") == "yes";
    let base = ManifestFile {
        name: format!(
            "{}.{base_seq}.base.{}",
            layout.name,
            if rdb_base { "rdb" } else { "aof" }
        ),
        seq: base_seq,
        kind: 'b',
    };
    let result = (|| -> std::io::Result<u64> {
        let file = File::create(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let next = || steps.next();
        if rdb_base {
            crate::rdbfile::write_steps(&mut w, compress, next)?;
        } else {
            write_commands(&mut w, next)?;
        }
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        fs::rename(&tmp, layout.dir.join(&base.name))?;
        sync_dir(&layout.dir)?;
        // Switch the manifest: the new base and every increment from this
        // rewrite's on; then the files it no longer names can go.
        let old = sync.manifest.lock().clone();
        let mut files = vec![base.clone()];
        if let Some(w) = &waiting {
            // The writer keeps appending through its descriptor.
            fs::rename(&w.temp, layout.dir.join(&w.incr.name))?;
            sync_dir(&layout.dir)?;
            files.push(w.incr.clone());
        } else if let Some(incr) = incr {
            files.extend(
                old.iter()
                    .filter(|f| f.kind == 'i' && f.seq >= incr.seq)
                    .cloned(),
            );
        }
        write_atomically(&layout.manifest_path(), render_manifest(&files).as_bytes())?;
        for f in old.iter().filter(|f| !files.contains(f)) {
            let _ = fs::remove_file(layout.dir.join(&f.name));
        }
        *sync.manifest.lock() = files;
        if waiting.is_some() {
            *sync.waiting.lock() = None;
        }
        Ok(size)
    })();
    shared.engine.lock().store.end_snapshot();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    match result {
        Ok(size) => {
            sync.base_size.store(size, Ordering::Relaxed);
            sync.rewrites.fetch_add(1, Ordering::Relaxed);
            sync.last_rewrite_ok.store(true, Ordering::Relaxed);
            tracing::info!(base = %base.name, bytes = size, "Background AOF rewrite finished successfully");
        }
        Err(e) => {
            sync.last_rewrite_ok.store(false, Ordering::Relaxed);
            tracing::warn!(error = %e, "Background AOF rewrite failed");
            if waiting.is_some() && sync.waiting.lock().is_some() {
                // The AOF being turned on needs its first base: retry.
                sync.rewrite_scheduled.store(true, Ordering::Relaxed);
            }
        }
    }
    sync.last_rewrite_secs
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    sync.rewrite_in_progress.store(false, Ordering::Release);
}

/// The cron's part: a scheduled rewrite, or `auto-aof-rewrite-percentage`
/// growth over the base (once past `auto-aof-rewrite-min-size`).
pub(crate) fn rewrite_due(shared: &crate::Shared) -> bool {
    let sync = &shared.aof;
    if sync.rewrite_in_progress.load(Ordering::Relaxed) {
        return false;
    }
    if sync.rewrite_scheduled.load(Ordering::Relaxed) {
        return true;
    }
    let config = shared.config.read();
    let percentage = config.get_int("auto-aof-rewrite-percentage");
    let min_size = config.get_int("auto-aof-rewrite-min-size") as u64;
    drop(config);
    let base = sync.base_size.load(Ordering::Relaxed);
    let total = base + sync.current_size.load(Ordering::Relaxed);
    if percentage == 0 || total < min_size {
        return false;
    }
    let growth = (total * 100 / base.max(1)) as i64 - 100;
    growth >= percentage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_logged_as_they_came_are_those_canonical_keeps() {
        let lines = [
            "SET k v",
            "set k v EX 10",
            "SET k v KEEPTTL",
            "EXPIRE k 10",
            "pexpire k 10",
            "EXPIREAT k 10",
            "SETEX k 10 v",
            "PSETEX k 10 v",
            "GETEX k PERSIST",
            "GETEX k EX 1",
            "INCR n",
            "DEL k",
            "HSET h f v",
            "PEXPIREAT k 10",
            "RPUSH l a",
        ];
        for line in lines {
            let args: Vec<Bytes> = line.split(' ').map(|a| Bytes::from(a.to_owned())).collect();
            if !may_rewrite(&args) {
                assert_eq!(canonical(&args, 1000), vec![args.clone()], "{line}");
            }
        }
        assert!(may_rewrite(&[
            Bytes::from("set"),
            Bytes::from("k"),
            Bytes::from("v"),
            Bytes::from("px"),
            Bytes::from("5")
        ]));
    }

    fn rec(args: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut r = Reply::new(&mut out, Protocol::Resp2);
        r.array(args.len());
        for a in args {
            r.bulk(a.as_bytes());
        }
        out
    }

    #[test]
    fn records_truncation_and_corruption() {
        let mut data = rec(&["SET", "k", "v"]);
        let whole = data.len();
        data.extend(rec(&["MULTI"]));
        data.extend(rec(&["INCR", "n"]));
        let mut ran = Vec::new();
        let s = scan(&data, |cmds, _| ran.push(cmds.len()));
        // The open MULTI is dropped: only the SET is kept.
        assert_eq!(s.valid_up_to, whole);
        assert_eq!(s.problem, Some(Problem::Truncated));
        assert_eq!(ran, vec![1]);
        data.extend(rec(&["EXEC"]));
        let s = scan(&data, |_, _| {});
        assert_eq!((s.valid_up_to, s.problem), (data.len(), None));
        let mut cut = data.clone();
        cut.truncate(data.len() - 3);
        assert_eq!(scan(&cut, |_, _| {}).problem, Some(Problem::Truncated));
        let mut bad = rec(&["SET", "k", "v"]);
        bad.extend(b"+garbage\r\n");
        assert!(matches!(
            scan(&bad, |_, _| {}).problem,
            Some(Problem::Corrupt { offset, .. }) if offset == whole
        ));
        // A declared length beyond any bulk is corruption, not an allocation.
        assert!(matches!(
            parse_record(b"*1\r\n$99999999999\r\n", 0),
            Record::Corrupt(_)
        ));
        assert!(matches!(
            parse_record(b"*2147483647\r\n$1\r\na\r\n", 0),
            Record::Truncated
        ));
    }

    #[test]
    fn manifest_round_trip() {
        let text = "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let files = parse_manifest(text).unwrap();
        assert_eq!(render_manifest(&files), text);
        assert!(parse_manifest("file ../x seq 1 type b\n").is_err());
        assert!(parse_manifest("file x seq one type b\n").is_err());
    }

    #[test]
    fn relative_times_become_absolute() {
        let b =
            |s: &str| -> Vec<Bytes> { s.split(' ').map(|w| Bytes::from(w.to_string())).collect() };
        let now = 1_000_000;
        assert_eq!(
            canonical(&b("EXPIRE k 10 NX"), now),
            vec![b("PEXPIREAT k 1010000 NX")]
        );
        assert_eq!(
            canonical(&b("SETEX k 2 v"), now),
            vec![b("SET k v PXAT 1002000")]
        );
        assert_eq!(
            canonical(&b("SET k v NX PX 5 GET"), now),
            vec![b("SET k v NX PXAT 1000005 GET")]
        );
        assert_eq!(
            canonical(&b("GETEX k EXAT 7"), now),
            vec![b("PEXPIREAT k 7000")]
        );
        assert_eq!(canonical(&b("GETEX k PERSIST"), now), vec![b("PERSIST k")]);
        assert_eq!(canonical(&b("INCR k"), now), vec![b("INCR k")]);
    }
}
