//! The append-only file: what is written, that a restart replays it,
//! truncated tails and corruption at start-up, and a full disk.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Conn, TestServer};
use shoal_resp::Frame;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.command(&args)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shoal-aof-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start(dir: &Path, fsync: &str) -> TestServer {
    TestServer::start_with(&[
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
    ])
}

fn incr_file(dir: &Path) -> PathBuf {
    dir.join("appendonlydir/appendonly.aof.1.incr.aof")
}

#[test]
fn writes_survive_a_restart_and_the_file_is_readable_resp() {
    let dir = temp_dir("restart");
    {
        let server = start(&dir, "always");
        let mut c = server.connect();
        cmd(&mut c, "SET k v");
        cmd(&mut c, "INCR n");
        cmd(&mut c, "INCR n");
        cmd(&mut c, "SELECT 3");
        cmd(&mut c, "SET in3 x EX 1000");
        cmd(&mut c, "MULTI");
        cmd(&mut c, "SET a 1");
        cmd(&mut c, "APPEND a 2");
        cmd(&mut c, "EXEC");
        cmd(&mut c, "SET gone v");
        cmd(&mut c, "EXPIRE gone -1");
        cmd(&mut c, "GET nothing");
        let Frame::Bulk(info) = cmd(&mut c, "INFO persistence") else {
            panic!("INFO");
        };
        let info = String::from_utf8_lossy(&info);
        assert!(info.contains("aof_enabled:1"), "{info}");
        assert!(info.contains("aof_last_write_status:ok"), "{info}");
    }
    let text = std::fs::read_to_string(incr_file(&dir)).unwrap();
    assert!(
        text.starts_with(
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        ),
        "{text:?}"
    );
    // Relative expiry is logged as an absolute time, a transaction as one,
    // an expiry in the past as DEL, reads not at all.
    assert!(text.contains("PXAT"), "{text:?}");
    assert!(text.contains("*1\r\n$5\r\nMULTI\r\n"), "{text:?}");
    assert!(
        text.contains("*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n"),
        "{text:?}"
    );
    assert!(!text.contains("nothing"), "{text:?}");
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let server = start(&dir, "everysec");
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "GET k"), bulk("v"));
    assert_eq!(cmd(&mut c, "GET n"), bulk("2"));
    assert_eq!(cmd(&mut c, "EXISTS gone"), Frame::Integer(0));
    cmd(&mut c, "SELECT 3");
    assert_eq!(cmd(&mut c, "GET a"), bulk("12"));
    let Frame::Integer(ttl) = cmd(&mut c, "TTL in3") else {
        panic!("TTL");
    };
    assert!((990..=1000).contains(&ttl), "{ttl}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_truncated_tail_is_cut_and_loading_continues() {
    let dir = temp_dir("truncated");
    {
        let server = start(&dir, "always");
        let mut c = server.connect();
        cmd(&mut c, "SET kept 1");
        cmd(&mut c, "SET also 2");
    }
    let path = incr_file(&dir);
    let whole = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of a record, and an unfinished transaction.
    let mut data = std::fs::read(&path).unwrap();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$2\r\nab");
    std::fs::write(&path, &data).unwrap();
    let server = start(&dir, "everysec");
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "GET kept"), bulk("1"));
    assert_eq!(cmd(&mut c, "GET also"), bulk("2"));
    assert_eq!(cmd(&mut c, "EXISTS lost"), Frame::Integer(0));
    drop(c);
    drop(server);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corruption_in_the_middle_stops_start_up_naming_file_and_offset() {
    let dir = temp_dir("corrupt");
    {
        let server = start(&dir, "always");
        let mut c = server.connect();
        cmd(&mut c, "SET a 1");
    }
    let path = incr_file(&dir);
    let good = std::fs::metadata(&path).unwrap().len();
    let mut data = std::fs::read(&path).unwrap();
    data.extend_from_slice(b"+this is not a command\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
    std::fs::write(&path, &data).unwrap();
    let config = shoal_server::Config::from_args(&[
        "--port".into(),
        "0".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--appendonly".into(),
        "yes".into(),
    ])
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = match runtime.block_on(shoal_server::Server::bind(config)) {
        Ok(_) => panic!("a corrupt AOF must stop start-up"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("appendonly.aof.1.incr.aof"), "{err}");
    assert!(err.contains(&format!("offset {good}")), "{err}");
    assert!(err.contains("shoal check-aof --fix"), "{err}");
    // check-aof finds the same place, and --fix truncates there.
    let reports = shoal_server::check_aof(&path, false).unwrap();
    assert_eq!(reports[0].valid_up_to, good);
    assert!(reports[0].problem.is_some());
    shoal_server::check_aof(&path, true).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    let _ = std::fs::remove_dir_all(&dir);
}

fn info_persistence(c: &mut Conn) -> String {
    let Frame::Bulk(info) = cmd(c, "INFO persistence") else {
        panic!("INFO");
    };
    String::from_utf8_lossy(&info).into_owned()
}

fn wait_for_rewrites(c: &mut Conn, count: usize) {
    let started = Instant::now();
    loop {
        let info = info_persistence(c);
        if info.contains("aof_rewrite_in_progress:0\r\n")
            && info.contains(&format!("aof_rewrites:{count}\r\n"))
        {
            return;
        }
        assert!(started.elapsed() < common::DEADLINE, "no rewrite: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn appendonly_turns_on_and_off_at_runtime_and_fsync_policy_changes_live() {
    let dir = temp_dir("config");
    // An earlier run's AOF in the directory: turning the AOF on replaces
    // it with the current dataset; it must not be replayed on top.
    {
        let server = start(&dir, "everysec");
        let mut c = server.connect();
        cmd(&mut c, "SET stale yes");
    }
    let before_on = {
        let server = TestServer::start_with(&["--dir", dir.to_str().unwrap()]);
        let mut c = server.connect();
        assert_eq!(
            cmd(&mut c, "CONFIG GET appendonly"),
            Frame::Array(vec![bulk("appendonly"), bulk("no")])
        );
        for i in 0..100 {
            c.command(&[b"RPUSH", b"list", i.to_string().as_bytes()]);
        }
        cmd(&mut c, "SET k before");
        assert_eq!(
            cmd(&mut c, "CONFIG SET appendonly yes"),
            Frame::Simple("OK".into())
        );
        assert!(info_persistence(&mut c).contains("aof_enabled:1\r\n"));
        // Writes right away are logged, while the first base is written.
        assert_eq!(cmd(&mut c, "SET k after"), Frame::Simple("OK".into()));
        cmd(&mut c, "SELECT 2");
        cmd(&mut c, "INCR n");
        cmd(&mut c, "SELECT 0");
        wait_for_rewrites(&mut c, 1);
        let manifest =
            std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
        assert_eq!(
            manifest,
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let names: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            3,
            "old files and the temporary increment are gone: {names:?}"
        );
        assert_eq!(cmd(&mut c, "SET k on"), Frame::Simple("OK".into()));
        assert_eq!(
            cmd(&mut c, "CONFIG SET appendfsync always"),
            Frame::Simple("OK".into())
        );
        cmd(&mut c, "DEL stale");
        snapshot_of(&mut c)
    };
    // Started with appendonly yes, the AOF holds everything above.
    let server = start(&dir, "always");
    let mut c = server.connect();
    assert_eq!(snapshot_of(&mut c), before_on);
    assert_eq!(cmd(&mut c, "GET k"), bulk("on"));
    assert_eq!(cmd(&mut c, "EXISTS stale"), Frame::Integer(0));
    // Off: later writes are not logged; on again: a fresh base has them.
    assert_eq!(
        cmd(&mut c, "CONFIG SET appendonly no"),
        Frame::Simple("OK".into())
    );
    assert!(info_persistence(&mut c).contains("aof_enabled:0\r\n"));
    cmd(&mut c, "SET off-write 1");
    assert_eq!(
        cmd(&mut c, "CONFIG SET appendonly yes"),
        Frame::Simple("OK".into())
    );
    cmd(&mut c, "SET on-again 1");
    wait_for_rewrites(&mut c, 1);
    let expected = snapshot_of(&mut c);
    drop(c);
    drop(server);
    let server = start(&dir, "always");
    let mut c = server.connect();
    assert_eq!(snapshot_of(&mut c), expected);
    assert_eq!(cmd(&mut c, "GET off-write"), bulk("1"));
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Mounts a small tmpfs at `dir` (root only); unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs needs root");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root to mount a tmpfs"]
fn a_full_disk_refuses_writes_and_recovers_without_losing_any() {
    let dir = temp_dir("full");
    let _fs = Tmpfs::mount(&dir, "1m");
    let filler = dir.join("filler");
    {
        let server = start(&dir, "everysec");
        let mut c = server.connect();
        // Leave almost no room.
        let free = {
            let out = std::process::Command::new("df")
                .args(["--output=avail", "-B1"])
                .arg(&dir)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .nth(1)
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap()
        };
        std::fs::write(&filler, vec![0u8; (free - 16 * 1024) as usize]).unwrap();
        let value = "x".repeat(4096);
        let mut acked = Vec::new();
        let started = Instant::now();
        let refused = loop {
            assert!(started.elapsed() < common::DEADLINE, "writes never refused");
            let key = format!("k{}", acked.len());
            match c.command(&[b"SET", key.as_bytes(), value.as_bytes()]) {
                Frame::Simple(_) => acked.push(key),
                Frame::Error(e) => break e,
                other => panic!("{other:?}"),
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            refused,
            "MISCONF Errors writing to the AOF file: No space left on device"
        );
        assert!(matches!(cmd(&mut c, "PING"), Frame::Error(e) if e.starts_with("MISCONF")));
        assert!(matches!(cmd(&mut c, "GET k0"), Frame::Bulk(_)));
        // Space returns: the pending bytes are written, writes resume.
        std::fs::remove_file(&filler).unwrap();
        let started = Instant::now();
        while cmd(&mut c, "PING") != Frame::Simple("PONG".into()) {
            assert!(started.elapsed() < common::DEADLINE, "never recovered");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(cmd(&mut c, "SET after v"), Frame::Simple("OK".into()));
        acked.push("after".into());
        drop(c);
        drop(server);
        let server = start(&dir, "everysec");
        let mut c = server.connect();
        for key in &acked {
            assert_eq!(
                cmd(&mut c, &format!("EXISTS {key}")),
                Frame::Integer(1),
                "{key} lost"
            );
        }
    }
    drop(_fs);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `key-load-delay`, Redis's hidden test hook, slows AOF loading by that
/// much per command, as it slows RDB loading per key.
#[test]
fn key_load_delay_slows_aof_loading_per_command() {
    let dir = temp_dir("key-load-delay");
    let server = start(&dir, "always");
    let mut c = server.connect();
    for line in ["SET a 1", "SET b 2", "SET c 3"] {
        assert_eq!(cmd(&mut c, line), Frame::Simple("OK".into()));
    }
    assert_eq!(
        cmd(&mut c, "CONFIG SET key-load-delay 100000"),
        Frame::Simple("OK".into())
    );
    let started = Instant::now();
    assert_eq!(cmd(&mut c, "DEBUG LOADAOF"), Frame::Simple("OK".into()));
    // SELECT and three SETs: at least three commands at 100 ms each.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(cmd(&mut c, "DBSIZE"), Frame::Integer(3));
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small ext4 filesystem on a loop device, mounted at a directory
/// (root only), that can be frozen to stall every write to it as a hung
/// disk would. Thawed and unmounted on drop.
struct LoopFs {
    mount: PathBuf,
    image: PathBuf,
}

impl LoopFs {
    fn mount(dir: &Path) -> LoopFs {
        let image = dir.with_extension("img");
        let run = |program: &str, args: &[&std::ffi::OsStr]| {
            let status = std::process::Command::new(program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("run {program}: {e}"));
            assert!(status.success(), "{program} {args:?} failed (needs root)");
        };
        std::fs::File::create(&image)
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        run("mkfs.ext4", &["-q".as_ref(), image.as_os_str()]);
        run(
            "mount",
            &[
                "-o".as_ref(),
                "loop".as_ref(),
                image.as_os_str(),
                dir.as_os_str(),
            ],
        );
        LoopFs {
            mount: dir.to_path_buf(),
            image,
        }
    }

    /// Freezes the filesystem until the guard is dropped: declared after
    /// the server, it thaws the disk before the server is stopped, even
    /// when the test fails.
    fn freeze(&self) -> Frozen<'_> {
        assert!(self.run_fsfreeze("--freeze"), "fsfreeze failed");
        Frozen(self)
    }

    fn run_fsfreeze(&self, flag: &str) -> bool {
        std::process::Command::new("fsfreeze")
            .arg(flag)
            .arg(&self.mount)
            .status()
            .is_ok_and(|s| s.success())
    }
}

struct Frozen<'a>(&'a LoopFs);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.run_fsfreeze("--unfreeze");
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .status();
        let _ = std::fs::remove_file(&self.image);
    }
}

fn info_field(c: &mut Conn, field: &str) -> u64 {
    c.info_field("persistence", field).parse().unwrap()
}

#[test]
#[ignore = "needs root to mount and freeze a loop filesystem"]
fn a_stalled_disk_holds_writers_after_two_seconds_and_keeps_serving_reads() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = temp_dir("stall");
    let fs = LoopFs::mount(&dir);
    let server = start(&dir, "everysec");
    let addr = server.addr;
    let mut reader = server.connect();
    cmd(&mut reader, "SET before v");

    let frozen = fs.freeze();
    let frozen_at = Instant::now();
    // One writer, one SET at a time, remembering when each was answered.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let writer = {
        let (stop, acked) = (stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut c = Conn::connect(addr);
            let value = "v".repeat(100);
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("k{n}");
                let reply = c.command(&[b"SET", key.as_bytes(), value.as_bytes()]);
                assert_eq!(reply, Frame::Simple("OK".into()));
                acked.lock().unwrap().push((key, Instant::now()));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(4000));
    // The disk has been stuck for 4 s: the writer's replies are held
    // since about the 2 s mark, while reads are answered at once.
    let last_ack = acked.lock().unwrap().last().map(|a| a.1);
    let last_ack = last_ack.expect("writes in the first two seconds are acknowledged");
    let held_for = last_ack.elapsed();
    assert!(
        held_for >= Duration::from_millis(1000),
        "writes still acknowledged {:?} after the freeze",
        last_ack - frozen_at
    );
    let started = Instant::now();
    assert_eq!(cmd(&mut reader, "GET before"), bulk("v"));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "reads stalled"
    );
    assert!(info_field(&mut reader, "aof_delayed_fsync") >= 1);
    // Nothing more piles up in memory while the writer is held.
    let buffered = info_field(&mut reader, "aof_buffer_length");
    assert!(buffered > 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut reader, "aof_buffer_length"), buffered);

    drop(frozen);
    let started = Instant::now();
    let count = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() == count {
        assert!(started.elapsed() < common::DEADLINE, "writes never resumed");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    drop(reader);
    drop(server);
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let server = start(&dir, "everysec");
    let mut c = server.connect();
    for (key, _) in &acked {
        assert_eq!(
            cmd(&mut c, &format!("EXISTS {key}")),
            Frame::Integer(1),
            "{key} lost"
        );
    }
    drop(c);
    drop(server);
    drop(fs);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every key of every database with its DUMP payload and TTL presence.
fn snapshot_of(c: &mut Conn) -> Vec<(usize, Vec<u8>, Vec<u8>, bool)> {
    let mut out = Vec::new();
    for db in 0..16 {
        c.command(&[b"SELECT", db.to_string().as_bytes()]);
        let Frame::Array(keys) = cmd(c, "KEYS *") else {
            panic!("KEYS");
        };
        for k in keys {
            let Frame::Bulk(k) = k else { panic!("key") };
            let Frame::Bulk(dump) = c.command(&[b"DUMP", &k]) else {
                panic!("DUMP");
            };
            let Frame::Integer(ttl) = c.command(&[b"PTTL", &k]) else {
                panic!("PTTL");
            };
            out.push((db, k.to_vec(), dump.to_vec(), ttl > 0));
        }
    }
    c.command(&[b"SELECT", b"0"]);
    out.sort();
    out
}

fn start_with_preamble(dir: &Path, preamble: &str) -> TestServer {
    TestServer::start_with(&[
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
    ])
}

#[test]
fn bgrewriteaof_compacts_while_writes_continue_and_loads_back() {
    // Redis's default base is RDB (`aof-use-rdb-preamble yes`); `no`
    // writes it as commands.
    rewrite_and_reload("yes", "rdb");
    rewrite_and_reload("no", "aof");
}

fn rewrite_and_reload(preamble: &str, base_ext: &str) {
    let dir = temp_dir("rewrite");
    let before = {
        let server = start_with_preamble(&dir, preamble);
        let mut c = server.connect();
        for i in 0..300 {
            let i = i.to_string();
            c.command(&[b"SET", b"counter", i.as_bytes()]);
            c.command(&[b"RPUSH", b"list", i.as_bytes()]);
            c.command(&[b"SADD", b"set", i.as_bytes()]);
            c.command(&[b"HSET", b"hash", i.as_bytes(), b"v"]);
            c.command(&[b"ZADD", b"zset", i.as_bytes(), i.as_bytes()]);
        }
        cmd(&mut c, "SET ttl v EX 1000");
        cmd(&mut c, "SELECT 5");
        cmd(&mut c, "SET five 5");
        cmd(&mut c, "SELECT 0");
        let incr_before = std::fs::metadata(incr_file(&dir)).unwrap().len();
        assert_eq!(
            cmd(&mut c, "BGREWRITEAOF"),
            Frame::Simple("Background append only file rewriting started".into())
        );
        // Writes go on during the rewrite, into the new increment.
        let mut w = server.connect();
        for i in 0..200 {
            w.command(&[b"INCR", b"during"]);
            w.command(&[b"LPUSH", b"list", i.to_string().as_bytes()]);
        }
        let started = Instant::now();
        loop {
            let Frame::Bulk(info) = cmd(&mut c, "INFO persistence") else {
                panic!("INFO");
            };
            let info = String::from_utf8_lossy(&info).into_owned();
            if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1") {
                assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
                break;
            }
            assert!(
                started.elapsed() < common::DEADLINE,
                "rewrite never finished: {info}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let manifest =
            std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
        assert_eq!(
            manifest,
            format!("file appendonly.aof.2.base.{base_ext} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
        );
        assert!(!incr_file(&dir).exists(), "the old increment is deleted");
        let base_path = dir.join(format!("appendonlydir/appendonly.aof.2.base.{base_ext}"));
        let base_bytes = std::fs::read(&base_path).unwrap();
        assert_eq!(
            base_bytes.starts_with(b"REDIS"),
            preamble == "yes",
            "base format with aof-use-rdb-preamble {preamble}"
        );
        let base = base_bytes.len() as u64;
        assert!(
            base < incr_before,
            "the base ({base}) is smaller than the log it replaces ({incr_before})"
        );
        snapshot_of(&mut c)
    };
    let server = start_with_preamble(&dir, preamble);
    let mut c = server.connect();
    assert_eq!(snapshot_of(&mut c), before);
    assert_eq!(cmd(&mut c, "GET during"), bulk("200"));
    drop(c);
    drop(server);
    // check-aof reads an RDB base and the increments after it.
    let reports =
        shoal_server::check_aof(&dir.join("appendonlydir/appendonly.aof.manifest"), false).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r.problem.is_none()),
        "{:?}",
        reports.iter().map(|r| &r.problem).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under `appendfsync always`, replies held for an fsync are released even
/// when the AOF is turned off before the writer reached them.
#[test]
fn turning_the_aof_off_releases_replies_waiting_for_fsync() {
    let dir = temp_dir("off-while-waiting");
    let server = start(&dir, "always");
    for round in 0..20 {
        let mut writer = server.connect();
        let mut admin = server.connect();
        let mut pipeline = Vec::new();
        for i in 0..500 {
            pipeline.extend(common::encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
        }
        writer.send(&pipeline);
        assert_eq!(
            cmd(&mut admin, "CONFIG SET appendonly no"),
            Frame::Simple("OK".into())
        );
        for _ in 0..500 {
            assert_eq!(
                writer.read_frame_within(common::DEADLINE),
                Some(Frame::Simple("OK".into())),
                "round {round}"
            );
        }
        assert_eq!(
            cmd(&mut admin, "CONFIG SET appendonly yes"),
            Frame::Simple("OK".into())
        );
        wait_for_rewrites(&mut admin, round + 1);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server with `appendfsync always` on a runtime of `threads` io
/// threads, with or without the park hook; the runtime is returned so a
/// test can run its own tasks on it.
fn serve_always(
    dir: &Path,
    threads: usize,
    hooked: bool,
) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
    let hook = shoal_server::ParkHook::default();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if hooked {
        hook.install(&mut builder, threads);
    } else {
        builder.worker_threads(threads);
    }
    let runtime = builder.enable_all().build().unwrap();
    let args: Vec<String> = [
        "--port",
        "0",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.to_string_lossy().into_owned()])
    .collect();
    let config = shoal_server::Config::from_args(&args).unwrap();
    let server = runtime
        .block_on(shoal_server::Server::bind(config))
        .unwrap();
    if hooked {
        server.attach(&hook);
    }
    let addr = server.local_addr();
    runtime.spawn(server.run(std::future::pending()));
    (runtime, addr)
}

/// The io threads fsync `always` writes when the last of them goes idle.
/// One that never does (here a worker kept busy for seconds) must not hold
/// the replies back: the writer thread fsyncs what has waited a tick.
#[test]
fn always_replies_do_not_wait_for_a_busy_io_thread_to_go_idle() {
    let dir = temp_dir("busy-io-thread");
    let (runtime, addr) = serve_always(&dir, 2, true);
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = busy.clone();
    runtime.spawn(async move {
        // Blocking a worker on purpose: it never parks while this runs.
        std::thread::sleep(Duration::from_secs(8));
        flag.store(false, std::sync::atomic::Ordering::SeqCst);
    });
    let mut c = Conn::connect(addr);
    for i in 0..20 {
        assert_eq!(
            cmd(&mut c, &format!("SET k{i} v")),
            Frame::Simple("OK".into())
        );
    }
    assert!(
        busy.load(std::sync::atomic::Ordering::SeqCst),
        "the replies waited for the busy io thread to go idle"
    );
    runtime.shutdown_background();
    let server = start(&dir, "always");
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "DBSIZE"), Frame::Integer(20));
}

/// Embedded without the park hook, the writer thread runs every fsync:
/// replies still wait for theirs, and everything acknowledged is there
/// after a restart.
#[test]
fn always_works_without_the_park_hook() {
    let dir = temp_dir("no-hook");
    let (runtime, addr) = serve_always(&dir, 2, false);
    let clients: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(addr);
                for i in 0..50 {
                    let reply = cmd(&mut c, &format!("RPUSH list{t} {i}"));
                    assert_eq!(reply, Frame::Integer(i + 1));
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    runtime.shutdown_background();
    let server = start(&dir, "always");
    let mut c = server.connect();
    for t in 0..4 {
        assert_eq!(cmd(&mut c, &format!("LLEN list{t}")), Frame::Integer(50));
    }
}

/// FLUSHDB and FLUSHALL reach the AOF even when there was nothing to
/// remove (Redis forces their propagation), and a read after them does not.
#[test]
fn flushes_are_logged_even_on_an_empty_dataset() {
    let dir = temp_dir("flush-logged");
    {
        let server = start(&dir, "always");
        let mut c = server.connect();
        assert_eq!(cmd(&mut c, "FLUSHALL"), Frame::Simple("OK".into()));
        assert_eq!(cmd(&mut c, "FLUSHDB"), Frame::Simple("OK".into()));
        assert_eq!(cmd(&mut c, "GET nothing"), Frame::Null);
        // A write after them is fsynced, so everything before it is too.
        assert_eq!(cmd(&mut c, "SET k v"), Frame::Simple("OK".into()));
    }
    let text = std::fs::read_to_string(incr_file(&dir)).unwrap();
    assert!(text.contains("*1\r\n$8\r\nFLUSHALL\r\n"), "{text:?}");
    assert!(text.contains("*1\r\n$7\r\nFLUSHDB\r\n"), "{text:?}");
    assert!(!text.contains("nothing"), "{text:?}");
}

#[test]
fn debug_loadaof_reloads_every_acknowledged_write_from_the_files() {
    let dir = temp_dir("loadaof");
    let server = start(&dir, "everysec");
    let mut c = server.connect();
    cmd(&mut c, "SET k v EX 100");
    cmd(&mut c, "SET k v2 KEEPTTL");
    cmd(&mut c, "RPUSH l a b c");
    cmd(&mut c, "SELECT 4");
    cmd(&mut c, "INCRBYFLOAT f 1.5");
    let before = cmd(&mut c, "DEBUG DIGEST");
    // Written just before: still in memory, the reload must flush it first.
    cmd(&mut c, "SET last 1");
    cmd(&mut c, "DEL last");
    assert_eq!(cmd(&mut c, "DEBUG LOADAOF"), Frame::Simple("OK".into()));
    assert_eq!(cmd(&mut c, "DEBUG DIGEST"), before);
    cmd(&mut c, "SELECT 0");
    assert_eq!(cmd(&mut c, "GET k"), bulk("v2"));
    let Frame::Integer(ttl) = cmd(&mut c, "TTL k") else {
        panic!("TTL")
    };
    assert!((90..=100).contains(&ttl), "{ttl}");
    // Nothing loaded counts as a change to save.
    let info = info_persistence(&mut c);
    assert!(info.contains("rdb_changes_since_last_save:0"), "{info}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_that_debug_loadaof_reads() {
    let dir = temp_dir("rewrite-off");
    let server = TestServer::start_with(&["--dir", dir.to_str().unwrap()]);
    let mut c = server.connect();
    cmd(&mut c, "SET x 10");
    cmd(&mut c, "EXPIRE x 1000");
    cmd(&mut c, "HSET h a 1");
    assert_eq!(
        cmd(&mut c, "BGREWRITEAOF"),
        Frame::Simple("Background append only file rewriting started".into())
    );
    wait_for_rewrites(&mut c, 1);
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest, "file appendonly.aof.1.base.rdb seq 1 type b\n");
    // Written after the rewrite: not in the AOF, so gone after loading it.
    cmd(&mut c, "SET later 1");
    assert_eq!(cmd(&mut c, "DEBUG LOADAOF"), Frame::Simple("OK".into()));
    assert_eq!(cmd(&mut c, "GET x"), bulk("10"));
    assert_eq!(cmd(&mut c, "HGET h a"), bulk("1"));
    assert_eq!(cmd(&mut c, "EXISTS later"), Frame::Integer(0));
    let Frame::Integer(ttl) = cmd(&mut c, "TTL x") else {
        panic!("TTL")
    };
    assert!((900..=1000).contains(&ttl), "{ttl}");
    let _ = std::fs::remove_dir_all(&dir);
}
