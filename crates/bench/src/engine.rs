//! The request engine: one thread per `--threads`, each running a mio poll
//! loop over its connections, the shape of redis-benchmark's `ae` loop.
//!
//! Why not tokio: a load generator is measured by what it costs per
//! request. Here a reply costs one `read` (shared by every reply in it),
//! one clock read, a scan, two histogram records, and the refill is one
//! `write` — no task wakeups, no cross-thread queues. The only
//! cross-thread traffic is one message per thread per second.
//!
//! Closed loop keeps `pipeline` requests in flight per connection and
//! times each from the moment it was written. Open loop (`--rate`) gives
//! every connection a schedule of intended send times and times each
//! request from its *intended* time, so a server that stalls is charged for
//! every request that should have been sent meanwhile (coordinated
//! omission corrected, as wrk2 does).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::config::{Config, Stop};
use crate::resp::{encode_command, scan_reply, ReplyKind, Scan};
use crate::workload::{encode_request, CommandSpec, Expect, KeyGen, Requests, Values};
use crate::BenchError;

/// Read buffer each connection starts with; holds hundreds of small
/// pipelined replies, so one `read` usually drains the socket.
const READ_BUFFER_INITIAL_BYTES: usize = 16 * 1024;

/// Largest single reply the generator buffers. Replies are skipped, not
/// kept, so only one reply at a time must fit; above this the run stops
/// rather than grow without bound.
pub(crate) const READ_BUFFER_MAX_BYTES: usize = 512 * 1024 * 1024 + 1024;

/// Longest a poll waits, so a thread notices another thread's fatal error
/// even when its own server has gone quiet.
const POLL_WAIT_MAX: Duration = Duration::from_millis(100);

/// Token of the open-loop wake-up timer; connections use their index.
const TIMER_TOKEN: Token = Token(usize::MAX);

/// epoll_wait sleeps in whole milliseconds (mio rounds up), which would
/// make an open-loop request up to 1 ms late and charge that lateness to
/// the server. On Linux a timerfd in the poll set wakes the loop on time.
#[cfg(target_os = "linux")]
struct Timer {
    fd: std::fs::File,
}

#[cfg(target_os = "linux")]
impl Timer {
    fn new(poll: &Poll) -> io::Result<Timer> {
        use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};
        use std::os::fd::AsRawFd;
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        let fd = std::fs::File::from(fd);
        poll.registry().register(
            &mut mio::unix::SourceFd(&fd.as_raw_fd()),
            TIMER_TOKEN,
            Interest::READABLE,
        )?;
        Ok(Timer { fd })
    }

    /// Fires once after `wait` (which must be non-zero).
    fn arm(&self, wait: Duration) -> io::Result<()> {
        use rustix::time::{timerfd_settime, Itimerspec, TimerfdTimerFlags, Timespec};
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let value = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()).max(1),
        };
        let spec = Itimerspec {
            it_interval: zero,
            it_value: value,
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }

    /// Consumes an expiry so the next one raises a new edge.
    fn drain(&mut self) {
        let mut ticks = [0u8; 8];
        // WouldBlock means already drained; nothing else can fail here.
        let _ = self.fd.read(&mut ticks);
    }
}

/// Elsewhere the loop falls back to epoll's millisecond timeouts.
#[cfg(not(target_os = "linux"))]
struct Timer;

#[cfg(not(target_os = "linux"))]
impl Timer {
    fn new(_poll: &Poll) -> io::Result<Timer> {
        Ok(Timer)
    }
    fn arm(&self, _wait: Duration) -> io::Result<()> {
        Ok(())
    }
    fn drain(&mut self) {}
}

/// Events taken per poll; more just wait for the next poll.
const EVENTS_PER_POLL: usize = 1024;

/// Error messages kept per command; the count is exact regardless.
const ERROR_SAMPLE_LEN_MAX: usize = 200;

/// Totals for one command on one thread.
pub(crate) struct CommandTotals {
    pub(crate) ops: u64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) errors: u64,
    pub(crate) verify_failures: u64,
    pub(crate) first_error: Option<String>,
    /// Latency, microseconds, 3 significant digits.
    pub(crate) latency_us: Histogram<u64>,
}

impl CommandTotals {
    pub(crate) fn new() -> Self {
        CommandTotals {
            ops: 0,
            hits: 0,
            misses: 0,
            errors: 0,
            verify_failures: 0,
            first_error: None,
            latency_us: Histogram::new(3).expect("3 significant digits is valid"),
        }
    }

    pub(crate) fn merge(&mut self, other: &CommandTotals) {
        self.ops += other.ops;
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.verify_failures += other.verify_failures;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.latency_us
            .add(&other.latency_us)
            .expect("auto-resizing histograms always merge");
    }
}

/// One thread's replies within one second of the run.
pub(crate) struct SecondSample {
    pub(crate) second: u64,
    pub(crate) ops: Vec<u64>,
    pub(crate) errors: u64,
    /// Latency, microseconds; 2 significant digits is enough for a chart
    /// and keeps a second's histogram a few kilobytes.
    pub(crate) latency_us: Histogram<u64>,
}

impl SecondSample {
    pub(crate) fn new(second: u64, commands: usize) -> Self {
        SecondSample {
            second,
            ops: vec![0; commands],
            errors: 0,
            latency_us: Histogram::new(2).expect("2 significant digits is valid"),
        }
    }
}

/// What a thread hands back when its connections are done.
pub(crate) struct ThreadOutcome {
    pub(crate) totals: Vec<CommandTotals>,
    pub(crate) last_reply: Option<Instant>,
    /// Requests sent whose replies never came before the drain timeout.
    pub(crate) unanswered: u64,
}

/// Shared between the threads of one run.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Set by the thread that hits a fatal error; the others stop.
    pub(crate) abort: AtomicBool,
    /// Everyone connects, then waits here; the coordinator sets `start`
    /// between the two waits so all threads share one time origin.
    pub(crate) barrier: Barrier,
    pub(crate) start: OnceLock<Instant>,
}

/// Records into an auto-resizing histogram; `saturating_record` would clamp
/// at the current size instead of growing. Only a value beyond what a
/// histogram can ever hold (hours) is clamped.
fn record(h: &mut Histogram<u64>, value_us: u64) {
    if h.record(value_us).is_err() {
        h.saturating_record(value_us);
    }
}

struct Pending {
    cmd: u16,
    key: u64,
    at: Instant,
}

struct Conn {
    stream: TcpStream,
    target: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    rbuf: Vec<u8>,
    rlen: usize,
    pending: VecDeque<Pending>,
    /// Requests this connection may still send.
    quota: u64,
    requests: Requests,
    keys: KeyGen,
    active: bool,
    start_offset: Duration,
    /// Open loop: intended time of the next request and the gap between
    /// requests on this connection.
    next_due: Instant,
    interval: Duration,
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))
}

/// Sends one command and waits for its reply on a still-blocking socket.
fn handshake(
    stream: &mut std::net::TcpStream,
    args: &[&[u8]],
    want: fn(&ReplyKind) -> bool,
) -> Result<(), String> {
    let mut out = Vec::new();
    encode_command(&mut out, args);
    stream.write_all(&out).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err("handshake reply too large".into());
        }
        match scan_reply(&buf).map_err(|e| e.to_string())? {
            Scan::Incomplete => continue,
            Scan::Reply { kind, .. } if want(&kind) => return Ok(()),
            Scan::Reply { .. } => {
                return Err(String::from_utf8_lossy(&buf).trim_end().to_string());
            }
        }
    }
}

fn connect(config: &Config, target: usize) -> Result<TcpStream, BenchError> {
    let t = &config.targets[target];
    let io_err = |cause| BenchError::Connect {
        target: t.to_string(),
        cause,
    };
    let addr = resolve(&t.host, t.port).map_err(io_err)?;
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, config.connect_timeout).map_err(io_err)?;
    s.set_nodelay(true).map_err(io_err)?;
    s.set_read_timeout(Some(config.connect_timeout))
        .map_err(io_err)?;
    let failed = |step: &str, reply: String| BenchError::Handshake {
        target: t.to_string(),
        step: step.to_string(),
        reply,
    };
    if let Some(pw) = &config.password {
        handshake(&mut s, &[b"AUTH", pw.as_bytes()], |k| {
            matches!(k, ReplyKind::Status(_))
        })
        .map_err(|r| failed("AUTH", r))?;
    }
    if config.resp3 {
        handshake(&mut s, &[b"HELLO", b"3"], |k| {
            matches!(k, ReplyKind::Aggregate)
        })
        .map_err(|r| failed("HELLO 3", r))?;
    }
    s.set_read_timeout(None).map_err(io_err)?;
    s.set_nonblocking(true).map_err(io_err)?;
    Ok(TcpStream::from_std(s))
}

/// One worker thread's state.
struct Worker<'a> {
    shared: &'a Shared,
    specs: &'a [CommandSpec],
    values: Values,
    rng: SmallRng,
    conns: Vec<Conn>,
    totals: Vec<CommandTotals>,
    second: SecondSample,
    tx: Sender<SecondSample>,
    start: Instant,
    open_loop: bool,
    /// Connections with quota left, and requests in flight over all
    /// connections: the thread is done when both are zero.
    sending: usize,
    in_flight: usize,
    last_reply: Option<Instant>,
}

/// Runs thread `index` of the run to completion.
pub(crate) fn run_thread(
    shared: &Shared,
    index: usize,
    tx: Sender<SecondSample>,
) -> Result<ThreadOutcome, BenchError> {
    let config = &shared.config;
    let threads = config.threads;
    let total_conns = config.connections() as u64;

    // Connect first, then meet the others at the barrier even on failure,
    // so nobody waits forever for a thread that gave up.
    let mut streams = Vec::with_capacity(config.clients_per_thread);
    let mut connect_error = None;
    for local in 0..config.clients_per_thread {
        // Connections are numbered across threads round-robin, so ramp-up
        // steps and targets spread evenly over threads.
        let global = local * threads + index;
        match connect(config, global % config.targets.len()) {
            Ok(s) => streams.push((global, s)),
            Err(e) => {
                connect_error = Some(e);
                shared.abort.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    shared.barrier.wait();
    shared.barrier.wait();
    if let Some(e) = connect_error {
        return Err(e);
    }
    let start = *shared
        .start
        .get()
        .expect("coordinator sets start between the waits");
    if shared.abort.load(Ordering::SeqCst) {
        return Err(BenchError::Aborted);
    }

    let seed = config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = SmallRng::seed_from_u64(seed);
    let values = Values::new(config.data_size, config.verify, &mut rng);
    let per_conn_interval = config
        .rate_per_sec
        .map(|rate| Duration::from_secs_f64(total_conns as f64 / rate));
    let poll = Poll::new().map_err(|cause| BenchError::Io {
        target: "poll".into(),
        cause,
    })?;
    let mut conns = Vec::with_capacity(streams.len());
    for (slot, (global, mut stream)) in streams.into_iter().enumerate() {
        let target = global % config.targets.len();
        poll.registry()
            .register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|cause| BenchError::Io {
                target: config.targets[target].to_string(),
                cause,
            })?;
        let quota = match config.stop {
            Stop::Requests(n) => n / total_conns + u64::from((global as u64) < n % total_conns),
            Stop::Duration(_) => u64::MAX,
        };
        let start_offset = match &config.ramp_up {
            Some(r) => r.start_offset(global).unwrap_or(Duration::MAX),
            None => Duration::ZERO,
        };
        let interval = per_conn_interval.unwrap_or(Duration::ZERO);
        // Stagger each connection's schedule across one interval so an
        // open-loop run sends evenly, not in bursts of one per connection.
        let phase = interval.mul_f64(global as f64 / total_conns as f64);
        conns.push(Conn {
            stream,
            target,
            wbuf: Vec::with_capacity(4096),
            wpos: 0,
            rbuf: vec![0; READ_BUFFER_INITIAL_BYTES],
            rlen: 0,
            pending: VecDeque::with_capacity(config.pipeline),
            quota,
            requests: Requests::new(&config.commands, global),
            keys: KeyGen::new(&config.keys, global as u64, total_conns),
            active: false,
            start_offset,
            next_due: start + start_offset.min(Duration::from_secs(365 * 86400)) + phase,
            interval,
        });
    }
    let sending = conns
        .iter()
        .filter(|c| c.quota > 0 && c.start_offset != Duration::MAX)
        .count();
    for c in conns.iter_mut().filter(|c| c.start_offset == Duration::MAX) {
        c.quota = 0;
    }
    let mut worker = Worker {
        shared,
        specs: &config.commands,
        values,
        rng,
        conns,
        totals: config
            .commands
            .iter()
            .map(|_| CommandTotals::new())
            .collect(),
        second: SecondSample::new(0, config.commands.len()),
        tx,
        start,
        open_loop: config.rate_per_sec.is_some(),
        sending,
        in_flight: 0,
        last_reply: None,
    };
    let result = worker.event_loop(poll);
    if result.is_err() {
        shared.abort.store(true, Ordering::SeqCst);
    }
    let unanswered = result?;
    let last = std::mem::replace(&mut worker.second, SecondSample::new(0, 0));
    // The receiver is gone only if the coordinator stopped listening, in
    // which case nobody needs the sample.
    let _ = worker.tx.send(last);
    Ok(ThreadOutcome {
        totals: worker.totals,
        last_reply: worker.last_reply,
        unanswered,
    })
}

impl Worker<'_> {
    fn target_name(&self, ci: usize) -> String {
        self.shared.config.targets[self.conns[ci].target].to_string()
    }

    /// Runs until every connection has sent its quota and received its
    /// replies (or the drain timeout passes); returns unanswered requests.
    fn event_loop(&mut self, mut poll: Poll) -> Result<u64, BenchError> {
        let config = &self.shared.config;
        let deadline = match config.stop {
            Stop::Duration(d) => Some(self.start + d),
            Stop::Requests(_) => None,
        };
        let mut drain_deadline: Option<Instant> = None;
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        let poll_error = |cause| BenchError::Io {
            target: "poll".into(),
            cause,
        };
        let mut timer = if self.open_loop {
            Some(Timer::new(&poll).map_err(poll_error)?)
        } else {
            None
        };
        // Connections not yet started, by start time.
        let mut waiting: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].quota > 0)
            .collect();
        waiting.sort_by_key(|&i| std::cmp::Reverse(self.conns[i].start_offset));
        loop {
            if self.shared.abort.load(Ordering::Relaxed) {
                return Err(BenchError::Aborted);
            }
            let now = Instant::now();
            if drain_deadline.is_none() && deadline.is_some_and(|d| now >= d) {
                self.stop_sending();
                drain_deadline = Some(now + config.drain_timeout);
            }
            while let Some(&ci) = waiting.last() {
                if self.start + self.conns[ci].start_offset > now || self.conns[ci].quota == 0 {
                    if self.conns[ci].quota == 0 {
                        waiting.pop();
                        continue;
                    }
                    break;
                }
                waiting.pop();
                self.conns[ci].active = true;
                if !self.open_loop {
                    self.fill_closed(ci, now);
                    self.flush(ci)?;
                }
            }
            if self.open_loop {
                for ci in 0..self.conns.len() {
                    if self.conns[ci].active && self.fill_open(ci, now) {
                        self.flush(ci)?;
                    }
                }
            }
            if self.sending == 0 && self.in_flight == 0 {
                return Ok(0);
            }
            if let Some(dd) = drain_deadline {
                if now >= dd {
                    return Ok(self.in_flight as u64);
                }
            }
            let mut wake = now + POLL_WAIT_MAX;
            if let (Some(d), None) = (deadline, drain_deadline) {
                wake = wake.min(d);
            }
            if let Some(dd) = drain_deadline {
                wake = wake.min(dd);
            }
            if let Some(&ci) = waiting.last() {
                wake = wake.min(self.start + self.conns[ci].start_offset);
            }
            if self.open_loop {
                for c in &self.conns {
                    if c.active && c.quota > 0 && c.pending.len() < config.pipeline {
                        wake = wake.min(c.next_due);
                    }
                }
            }
            let mut timeout = wake.saturating_duration_since(now);
            if let Some(t) = &timer {
                if !timeout.is_zero() && timeout < POLL_WAIT_MAX {
                    t.arm(timeout).map_err(poll_error)?;
                    // The timer wakes the loop; the poll timeout is only a
                    // backstop should it not.
                    timeout = POLL_WAIT_MAX;
                }
            }
            if let Err(e) = poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(BenchError::Io {
                    target: "poll".into(),
                    cause: e,
                });
            }
            for ev in events.iter() {
                if ev.token() == TIMER_TOKEN {
                    if let Some(t) = &mut timer {
                        t.drain();
                    }
                    continue;
                }
                let ci = ev.token().0;
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.on_readable(ci)?;
                    if !self.open_loop && self.conns[ci].active {
                        // The reply's timestamp doubles as the send time of
                        // the refill: the write follows within microseconds.
                        let now = self.last_reply.unwrap_or_else(Instant::now);
                        self.fill_closed(ci, now);
                    }
                }
                // Writable edges and fresh requests both end in a flush.
                self.flush(ci)?;
            }
        }
    }

    fn stop_sending(&mut self) {
        for c in &mut self.conns {
            c.quota = 0;
        }
        self.sending = 0;
    }

    fn take_quota(&mut self, ci: usize) {
        let c = &mut self.conns[ci];
        if c.quota != u64::MAX {
            c.quota -= 1;
            if c.quota == 0 {
                self.sending -= 1;
            }
        }
    }

    fn encode_one(&mut self, ci: usize, at: Instant) {
        let prefix = self.shared.config.keys.prefix.as_bytes();
        let c = &mut self.conns[ci];
        let cmd = c.requests.next_command();
        let key = c.keys.next(&mut self.rng);
        encode_request(
            &mut c.wbuf,
            &self.specs[usize::from(cmd)],
            prefix,
            key,
            &self.values,
            &mut self.rng,
        );
        c.pending.push_back(Pending { cmd, key, at });
        self.in_flight += 1;
        self.take_quota(ci);
    }

    /// Closed loop: top the connection up to `pipeline` in flight.
    fn fill_closed(&mut self, ci: usize, now: Instant) {
        let pipeline = self.shared.config.pipeline;
        while self.conns[ci].quota > 0 && self.conns[ci].pending.len() < pipeline {
            self.encode_one(ci, now);
        }
    }

    /// Open loop: send every request whose intended time has come, as far
    /// as the pipeline allows; each carries its intended time, not now.
    fn fill_open(&mut self, ci: usize, now: Instant) -> bool {
        let pipeline = self.shared.config.pipeline;
        let mut sent = false;
        loop {
            let c = &self.conns[ci];
            if c.quota == 0 || c.pending.len() >= pipeline || c.next_due > now {
                return sent;
            }
            let due = c.next_due;
            self.conns[ci].next_due = due + self.conns[ci].interval;
            self.encode_one(ci, due);
            sent = true;
        }
    }

    fn flush(&mut self, ci: usize) -> Result<(), BenchError> {
        let c = &mut self.conns[ci];
        while c.wpos < c.wbuf.len() {
            match c.stream.write(&c.wbuf[c.wpos..]) {
                Ok(0) => {
                    return Err(BenchError::Disconnected {
                        target: self.target_name(ci),
                    })
                }
                Ok(n) => c.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(cause) => {
                    return Err(BenchError::Io {
                        target: self.target_name(ci),
                        cause,
                    })
                }
            }
        }
        c.wbuf.clear();
        c.wpos = 0;
        Ok(())
    }

    fn on_readable(&mut self, ci: usize) -> Result<(), BenchError> {
        loop {
            let c = &mut self.conns[ci];
            if c.rlen == c.rbuf.len() {
                if c.rbuf.len() >= READ_BUFFER_MAX_BYTES {
                    return Err(BenchError::ReplyTooLarge {
                        target: self.target_name(ci),
                        limit_bytes: READ_BUFFER_MAX_BYTES,
                    });
                }
                let grown = (c.rbuf.len() * 2).min(READ_BUFFER_MAX_BYTES);
                c.rbuf.resize(grown, 0);
            }
            let space = c.rbuf.len() - c.rlen;
            match c.stream.read(&mut c.rbuf[c.rlen..]) {
                Ok(0) => {
                    return Err(BenchError::Disconnected {
                        target: self.target_name(ci),
                    })
                }
                Ok(n) => {
                    c.rlen += n;
                    self.consume(ci)?;
                    // A short read took everything the kernel had; with
                    // edge-triggered epoll any later data raises a new
                    // event, so the extra read that would only return
                    // WouldBlock is skipped (a syscall per reply at -P 1).
                    if n < space {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(cause) => {
                    return Err(BenchError::Io {
                        target: self.target_name(ci),
                        cause,
                    })
                }
            }
        }
    }

    /// Accounts every whole reply in the connection's read buffer.
    fn consume(&mut self, ci: usize) -> Result<(), BenchError> {
        let now = Instant::now();
        let second = now.saturating_duration_since(self.start).as_secs();
        if second != self.second.second {
            let fresh = SecondSample::new(second, self.specs.len());
            let done = std::mem::replace(&mut self.second, fresh);
            let _ = self.tx.send(done);
        }
        let mut pos = 0;
        let rlen = self.conns[ci].rlen;
        loop {
            let c = &mut self.conns[ci];
            let scan = scan_reply(&c.rbuf[pos..rlen]).map_err(|cause| BenchError::Protocol {
                target: self.shared.config.targets[c.target].to_string(),
                cause,
            })?;
            let (kind, len) = match scan {
                Scan::Incomplete => break,
                Scan::Reply { kind, len } => (kind, len),
            };
            if kind != ReplyKind::Push {
                let Some(p) = c.pending.pop_front() else {
                    return Err(BenchError::Protocol {
                        target: self.target_name(ci),
                        cause: crate::resp::ProtocolError {
                            offset: pos,
                            reason: "reply without a request",
                        },
                    });
                };
                self.in_flight -= 1;
                self.account(ci, &p, &kind, pos, now);
            }
            pos += len;
        }
        let c = &mut self.conns[ci];
        if pos == c.rlen {
            c.rlen = 0;
        } else if pos > 0 {
            c.rbuf.copy_within(pos..c.rlen, 0);
            c.rlen -= pos;
        }
        self.last_reply = Some(now);
        Ok(())
    }

    fn account(&mut self, ci: usize, p: &Pending, kind: &ReplyKind, base: usize, now: Instant) {
        let cmd = usize::from(p.cmd);
        let expect = self.specs[cmd].expect;
        let rbuf = &self.conns[ci].rbuf;
        let latency_us = (now.saturating_duration_since(p.at).as_micros() as u64).max(1);
        let t = &mut self.totals[cmd];
        let mut error: Option<String> = None;
        match (expect, kind) {
            (_, ReplyKind::Error(r)) => {
                error =
                    Some(String::from_utf8_lossy(&rbuf[base + r.start..base + r.end]).into_owned());
            }
            (Expect::Ok, ReplyKind::Status(r)) if &rbuf[base + r.start..base + r.end] == b"OK" => {}
            (Expect::Ok, _) => error = Some(format!("expected +OK, got {kind:?}")),
            (Expect::Value, ReplyKind::Bulk(r)) => {
                t.hits += 1;
                if self.shared.config.verify
                    && !self
                        .values
                        .matches(p.key, &rbuf[base + r.start..base + r.end])
                {
                    t.verify_failures += 1;
                    error = Some(format!(
                        "value of key {} does not match what was set",
                        p.key
                    ));
                }
            }
            (Expect::Value | Expect::Any, ReplyKind::Nil) => t.misses += 1,
            (Expect::Value, _) => {
                error = Some(format!("expected a bulk string or nil, got {kind:?}"))
            }
            (Expect::Any, _) => t.hits += 1,
        }
        t.ops += 1;
        if let Some(msg) = error {
            t.errors += 1;
            self.second.errors += 1;
            if t.first_error.is_none() {
                let mut msg = msg;
                if msg.len() > ERROR_SAMPLE_LEN_MAX {
                    let cut = (0..=ERROR_SAMPLE_LEN_MAX)
                        .rev()
                        .find(|&i| msg.is_char_boundary(i))
                        .unwrap_or(0);
                    msg.truncate(cut);
                }
                t.first_error = Some(msg);
            }
        }
        record(&mut t.latency_us, latency_us);
        self.second.ops[cmd] += 1;
        record(&mut self.second.latency_us, latency_us);
    }
}
