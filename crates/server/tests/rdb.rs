//! RDB snapshots: SAVE and restart, BGSAVE under concurrent writes (the
//! image must be one instant), DEBUG RELOAD, MISCONF after a failed save,
//! and files crossing between Shoal and redis-server 7.0 both ways.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Conn, RedisServer, TestServer};
use shoal_resp::Frame;

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.command(&args)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shoal-rdb-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start(dir: &Path) -> TestServer {
    TestServer::start_with(&["--dir", dir.to_str().unwrap()])
}

/// Builds one key per type and encoding, with expiries and several dbs.
fn dataset(c: &mut Conn) {
    for line in [
        "SET str hello",
        "SET int 12345",
        "SET neg -7",
        "RPUSH list a 1 -1 1000 x",
        "SADD intset 1 2 3 -40000 5000000000",
        "SADD set a b c",
        "HSET hash f v n 7",
        "ZADD zset 1.5 m 2 n -inf lo",
        "SET ttl v EX 100000",
        "SELECT 3",
        "SET in3 three",
        "SELECT 0",
    ] {
        cmd(c, line);
    }
    let long = "abcdefgh".repeat(1000);
    c.command(&[b"SET", b"compressible", long.as_bytes()]);
    c.command(&[b"SET", b"binary", b"\x00\x01\xff\r\n"]);
    for i in 0..300 {
        let i = i.to_string();
        let v = format!("value-{i}").repeat(5);
        c.command(&[b"RPUSH", b"biglist", v.as_bytes()]);
        c.command(&[b"SADD", b"bigset", format!("m{i}").as_bytes()]);
        c.command(&[b"SADD", b"bigintset", i.as_bytes()]);
        c.command(&[
            b"HSET",
            b"bighash",
            format!("f{i}").as_bytes(),
            v.as_bytes(),
        ]);
        c.command(&[
            b"ZADD",
            b"bigzset",
            i.as_bytes(),
            format!("m{i}").as_bytes(),
        ]);
    }
    cmd(c, "SADD bigintset 600 601 602 603 604 605 606 607 608 609 610 611 612 613 614 615 616 617 618 619 620 621 622 623 624 625 626 627 628 629 630 631 632 633 634 635 636 637 638 639 640 641 642 643 644 645 646 647 648 649 650 651 652 653 654 655 656 657 658 659 660 661 662 663 664 665 666 667 668 669 670 671 672 673 674 675 676 677 678 679 680 681 682 683 684 685 686 687 688 689 690 691 692 693 694 695 696 697 698 699 700 701 702 703 704 705 706 707 708 709 710 711 712 713 714 715 716 717 718 719 720 721 722 723 724 725 726 727 728 729 730 731 732 733 734 735 736 737 738 739 740 741 742 743 744 745 746 747 748 749 750 751 752 753 754 755 756 757 758 759 760 761 762 763 764 765 766 767 768 769 770 771 772 773 774 775 776 777 778 779 780 781 782 783 784 785 786 787 788 789 790 791 792 793 794 795 796 797 798 799");
}

/// Everything a client can read back, per database and key, with the
/// order-free types sorted.
fn read_all(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..16 {
        c.command(&[b"SELECT", db.to_string().as_bytes()]);
        let Frame::Array(keys) = cmd(c, "KEYS *") else {
            panic!("KEYS");
        };
        let mut keys: Vec<Bytes> = keys
            .into_iter()
            .map(|k| match k {
                Frame::Bulk(b) => b,
                other => panic!("{other:?}"),
            })
            .collect();
        keys.sort();
        for key in keys {
            let t = c.command(&[b"TYPE", &key]);
            let body = match &t {
                Frame::Simple(t) if t == "string" => c.command(&[b"GET", &key]),
                Frame::Simple(t) if t == "list" => c.command(&[b"LRANGE", &key, b"0", b"-1"]),
                Frame::Simple(t) if t == "set" => match c.command(&[b"SMEMBERS", &key]) {
                    Frame::Array(mut m) | Frame::Set(mut m) => {
                        m.sort_by_key(|f| format!("{f:?}"));
                        Frame::Array(m)
                    }
                    other => other,
                },
                Frame::Simple(t) if t == "hash" => match c.command(&[b"HGETALL", &key]) {
                    Frame::Array(m) => {
                        let mut pairs: Vec<String> =
                            m.chunks(2).map(|p| format!("{p:?}")).collect();
                        pairs.sort();
                        Frame::Simple(pairs.join(","))
                    }
                    other => other,
                },
                Frame::Simple(t) if t == "zset" => {
                    c.command(&[b"ZRANGE", &key, b"0", b"-1", b"WITHSCORES"])
                }
                other => other.clone(),
            };
            let Frame::Integer(ttl) = c.command(&[b"PTTL", &key]) else {
                panic!("PTTL");
            };
            out.push(format!("{db} {key:?} {t:?} {body:?} ttl>0={}", ttl > 0));
        }
    }
    c.command(&[b"SELECT", b"0"]);
    out
}

#[test]
fn save_and_restart_keep_every_type_and_expiry() {
    let dir = temp_dir("save");
    let before = {
        let server = start(&dir);
        let mut c = server.connect();
        dataset(&mut c);
        cmd(&mut c, "SET gone v PX 1");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cmd(&mut c, "SAVE"), Frame::Simple("OK".into()));
        let Frame::Integer(at) = cmd(&mut c, "LASTSAVE") else {
            panic!("LASTSAVE");
        };
        assert!((at as u64) + 5 >= shoal_now_secs());
        read_all(&mut c)
    };
    let report = shoal_server::check_rdb(&dir.join("dump.rdb")).unwrap();
    assert!(report.keys >= 14, "{}", report.keys);
    let server = start(&dir);
    let mut c = server.connect();
    assert_eq!(read_all(&mut c), before);
    // DEBUG RELOAD: save, empty, load, all at once.
    assert_eq!(cmd(&mut c, "DEBUG RELOAD"), Frame::Simple("OK".into()));
    assert_eq!(read_all(&mut c), before);
    let _ = std::fs::remove_dir_all(&dir);
}

fn shoal_now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until no BGSAVE runs (within a test's deadline: one that would
/// take longer has not ended, or not been cancelled, as it should).
fn wait_for_bgsave(c: &mut Conn) {
    let started = Instant::now();
    while info_field(c, "rdb_bgsave_in_progress") != "0" {
        assert!(started.elapsed() < common::DEADLINE, "BGSAVE never ended");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn info_field(c: &mut Conn, field: &str) -> String {
    c.info_field("persistence", field)
}

#[test]
fn bgsave_under_concurrent_writes_is_one_instant() {
    const KEYS: usize = 20_000;
    let dir = temp_dir("bgsave");
    {
        let server = start(&dir);
        let mut c = server.connect();
        let mut load = Vec::new();
        for i in 0..KEYS {
            load.extend(common::encode(&[
                b"SET",
                format!("c{i:05}").as_bytes(),
                b"0",
            ]));
        }
        c.send(&load);
        for _ in 0..KEYS {
            c.read_frame();
        }
        // The writer increments every counter in key order, round after
        // round: at any instant the values are m+1 for a prefix of the keys
        // and m for the rest.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            let mut w = server.connect();
            std::thread::spawn(move || {
                let mut rounds = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
                        let mut batch = Vec::new();
                        for i in chunk {
                            batch.extend(common::encode(&[b"INCR", format!("c{i:05}").as_bytes()]));
                        }
                        w.send(&batch);
                        for _ in chunk {
                            w.read_frame();
                        }
                    }
                    rounds += 1;
                }
                rounds
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            cmd(&mut c, "BGSAVE"),
            Frame::Simple("Background saving started".into())
        );
        wait_for_bgsave(&mut c);
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = writer.join().unwrap();
        assert!(rounds >= 1);
    }
    let server = start(&dir);
    let mut c = server.connect();
    let mut values = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let Frame::Bulk(v) = c.command(&[b"GET", format!("c{i:05}").as_bytes()]) else {
            panic!("c{i:05} missing from the snapshot");
        };
        values.push(String::from_utf8_lossy(&v).parse::<u64>().unwrap());
    }
    let first = values[0];
    let last = values[KEYS - 1];
    assert!(first == last || first == last + 1, "{first} {last}");
    let boundary = values.iter().position(|&v| v != first).unwrap_or(KEYS);
    assert!(
        values[boundary..].iter().all(|&v| v == last)
            && values[..boundary].iter().all(|&v| v == first),
        "the snapshot mixes instants: {:?}",
        &values[boundary.saturating_sub(3)..(boundary + 3).min(KEYS)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_bgsave_refuses_writes_with_misconf() {
    let dir = temp_dir("misconf");
    let server = TestServer::start_with(&["--dir", dir.to_str().unwrap(), "--save", "3600 1"]);
    let mut c = server.connect();
    cmd(&mut c, "SET k v");
    // The directory disappears: the snapshot cannot be written.
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(cmd(&mut c, "BGSAVE"), Frame::Simple(_)));
    let started = Instant::now();
    while info_field(&mut c, "rdb_last_bgsave_status") != "err" {
        assert!(started.elapsed() < common::DEADLINE, "BGSAVE never failed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let Frame::Error(e) = cmd(&mut c, "SET k v2") else {
        panic!("writes must be refused");
    };
    assert!(
        e.starts_with("MISCONF Redis is configured to save RDB snapshots"),
        "{e}"
    );
    assert_eq!(cmd(&mut c, "GET k"), Frame::Bulk(Bytes::from_static(b"v")));
    // Room again: a successful save lifts the refusal.
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(cmd(&mut c, "SAVE"), Frame::Simple("OK".into()));
    assert_eq!(cmd(&mut c, "SET k v3"), Frame::Simple("OK".into()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs redis-server"]
fn rdb_files_cross_between_redis_and_shoal() {
    // Redis writes; Shoal loads.
    let from_redis = temp_dir("from-redis");
    let redis_view = {
        let redis = RedisServer::start_with(&["--dir", from_redis.to_str().unwrap()]);
        let mut r = redis.connect();
        dataset(&mut r);
        assert_eq!(cmd(&mut r, "SAVE"), Frame::Simple("OK".into()));
        read_all(&mut r)
    };
    let report = shoal_server::check_rdb(&from_redis.join("dump.rdb")).unwrap();
    assert_eq!(report.keys as usize, redis_view.len());
    let shoal_dir = temp_dir("shoal-side");
    std::fs::copy(from_redis.join("dump.rdb"), shoal_dir.join("dump.rdb")).unwrap();
    {
        let shoal = start(&shoal_dir);
        let mut s = shoal.connect();
        assert_eq!(read_all(&mut s), redis_view);
        // Shoal writes; Redis loads.
        std::fs::remove_file(shoal_dir.join("dump.rdb")).unwrap();
        assert_eq!(cmd(&mut s, "SAVE"), Frame::Simple("OK".into()));
    }
    let back = temp_dir("back-to-redis");
    std::fs::copy(shoal_dir.join("dump.rdb"), back.join("dump.rdb")).unwrap();
    let redis = RedisServer::start_with(&["--dir", back.to_str().unwrap()]);
    let mut r = redis.connect();
    assert_eq!(read_all(&mut r), redis_view);
    for d in [from_redis, shoal_dir, back] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Waits until INFO persistence says no AOF rewrite is running and
/// `aof_rewrites` (Shoal) or the base file (Redis) shows one finished.
fn wait_rewrite_done(c: &mut Conn, dir: &Path) {
    let started = Instant::now();
    loop {
        let base_is_rdb = std::fs::read_dir(dir.join("appendonlydir"))
            .map(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".base.rdb") && !name.ends_with(".1.base.rdb")
                })
            })
            .unwrap_or(false);
        if info_field(c, "aof_rewrite_in_progress") == "0" && base_is_rdb {
            return;
        }
        assert!(
            started.elapsed() < common::DEADLINE,
            "rewrite never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn copy_aof_dir(from: &Path, to: &Path) {
    let target = to.join("appendonlydir");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(from.join("appendonlydir")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
}

#[test]
#[ignore = "needs redis-server"]
fn aof_directories_with_rdb_bases_cross_between_redis_and_shoal() {
    // Redis 7.0 writes a base (RDB, its default preamble) and an increment.
    let from_redis = temp_dir("aof-from-redis");
    let redis_view = {
        let redis = RedisServer::start_with(&[
            "--dir",
            from_redis.to_str().unwrap(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]);
        let mut r = redis.connect();
        dataset(&mut r);
        assert_eq!(
            cmd(&mut r, "BGREWRITEAOF"),
            Frame::Simple("Background append only file rewriting started".into())
        );
        wait_rewrite_done(&mut r, &from_redis);
        for line in [
            "SET after-rewrite 1",
            "RPUSH list-after a b c",
            "SELECT 3",
            "SET in3 x",
        ] {
            cmd(&mut r, line);
        }
        cmd(&mut r, "SELECT 0");
        read_all(&mut r)
    };
    let shoal_dir = temp_dir("aof-shoal-side");
    copy_aof_dir(&from_redis, &shoal_dir);
    let shoal_view = {
        let shoal = TestServer::start_with(&[
            "--dir",
            shoal_dir.to_str().unwrap(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]);
        let mut s = shoal.connect();
        assert_eq!(read_all(&mut s), redis_view);
        // Shoal rewrites (an RDB base of its own) and appends; Redis loads it.
        assert_eq!(
            cmd(&mut s, "BGREWRITEAOF"),
            Frame::Simple("Background append only file rewriting started".into())
        );
        wait_rewrite_done(&mut s, &shoal_dir);
        cmd(&mut s, "SET from-shoal yes");
        cmd(&mut s, "HSET hash-from-shoal f v");
        read_all(&mut s)
    };
    let report = shoal_server::check_aof(
        &shoal_dir.join("appendonlydir/appendonly.aof.manifest"),
        false,
    )
    .unwrap();
    assert!(report.iter().all(|r| r.problem.is_none()));
    let back = temp_dir("aof-back-to-redis");
    copy_aof_dir(&shoal_dir, &back);
    let redis = RedisServer::start_with(&["--dir", back.to_str().unwrap(), "--appendonly", "yes"]);
    let mut r = redis.connect();
    assert_eq!(read_all(&mut r), shoal_view);
    for d in [from_redis, shoal_dir, back] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Redis's "FLUSHALL aborts bgsave": a BGSAVE slowed by
/// `rdb-key-save-delay` stops when FLUSHALL empties the data it was saving,
/// writes no file, and is neither a success nor an error; writes go on.
#[test]
fn flushall_cancels_a_running_bgsave() {
    let dir = temp_dir("flushall-cancels");
    let server = start(&dir);
    let mut c = server.connect();
    assert_eq!(
        cmd(&mut c, "CONFIG SET rdb-key-save-delay 100000"),
        Frame::Simple("OK".into())
    );
    // A test hook: only its exact name finds it, as in Redis.
    assert_eq!(
        cmd(&mut c, "CONFIG GET rdb-key-save-delay"),
        Frame::Array(vec![
            Frame::Bulk(Bytes::from_static(b"rdb-key-save-delay")),
            Frame::Bulk(Bytes::from_static(b"100000")),
        ])
    );
    assert_eq!(
        cmd(&mut c, "CONFIG GET rdb-key-save*"),
        Frame::Array(vec![])
    );
    assert_eq!(
        cmd(&mut c, "DEBUG POPULATE 1000"),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        cmd(&mut c, "BGSAVE"),
        Frame::Simple("Background saving started".into())
    );
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    // At 100 ms a key, saving would take 100 s.
    assert_eq!(cmd(&mut c, "FLUSHALL"), Frame::Simple("OK".into()));
    wait_for_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "1000");
    assert!(!dir.join("dump.rdb").exists());
    assert_eq!(cmd(&mut c, "SET x xx"), Frame::Simple("OK".into()));
    // The next BGSAVE runs to completion.
    assert_eq!(
        cmd(&mut c, "CONFIG SET rdb-key-save-delay 0"),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        cmd(&mut c, "BGSAVE"),
        Frame::Simple("Background saving started".into())
    );
    wait_for_bgsave(&mut c);
    assert!(dir.join("dump.rdb").exists());
}

/// With save rules, FLUSHALL saves the emptied dataset at once, as Redis
/// 7.0 does, so a restart cannot bring the flushed keys back; without
/// rules it writes nothing.
#[test]
fn flushall_with_save_rules_saves_the_empty_dataset() {
    let dir = temp_dir("flushall-saves");
    {
        let server = TestServer::start_with(&["--dir", dir.to_str().unwrap(), "--save", "3600 1"]);
        let mut c = server.connect();
        assert_eq!(cmd(&mut c, "SET a 1"), Frame::Simple("OK".into()));
        assert_eq!(cmd(&mut c, "SAVE"), Frame::Simple("OK".into()));
        assert_eq!(cmd(&mut c, "SET b 2"), Frame::Simple("OK".into()));
        assert_eq!(cmd(&mut c, "FLUSHALL"), Frame::Simple("OK".into()));
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    }
    {
        let server = TestServer::start_with(&["--dir", dir.to_str().unwrap(), "--save", "3600 1"]);
        let mut c = server.connect();
        assert_eq!(cmd(&mut c, "DBSIZE"), Frame::Integer(0));
    }
    let dir = temp_dir("flushall-no-rules");
    let server = start(&dir);
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "SET a 1"), Frame::Simple("OK".into()));
    assert_eq!(cmd(&mut c, "FLUSHALL"), Frame::Simple("OK".into()));
    // The SET and the key FLUSHALL removed.
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "2");
    assert!(!dir.join("dump.rdb").exists());
}

/// `key-load-delay`, Redis's hidden test hook, slows each key an RDB load
/// reads (here DEBUG RELOAD's): three keys at 100 ms take 300 ms at least.
#[test]
fn key_load_delay_slows_rdb_loading() {
    let dir = temp_dir("key-load-delay");
    let server = start(&dir);
    let mut c = server.connect();
    assert_eq!(cmd(&mut c, "MSET a 1 b 2 c 3"), Frame::Simple("OK".into()));
    assert_eq!(
        cmd(&mut c, "CONFIG SET key-load-delay 100000"),
        Frame::Simple("OK".into())
    );
    assert_eq!(cmd(&mut c, "CONFIG GET key-load*"), Frame::Array(vec![]));
    let started = Instant::now();
    assert_eq!(cmd(&mut c, "DEBUG RELOAD"), Frame::Simple("OK".into()));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(cmd(&mut c, "DBSIZE"), Frame::Integer(3));
}

/// While the RDB loads at start-up, clients are served as Redis serves
/// them: INFO reports `loading:1` and the progress fields, commands
/// flagged `loading` (CONFIG GET, CLIENT ID, ECHO) run, and the rest (GET,
/// PING, DBSIZE, and SAVE, which would write the partial dataset) answer
/// `-LOADING`. Once loaded, every key is there.
#[test]
fn clients_get_loading_while_the_rdb_loads() {
    let dir = temp_dir("loading");
    {
        let server = start(&dir);
        let mut c = server.connect();
        assert_eq!(
            cmd(&mut c, "DEBUG POPULATE 2000"),
            Frame::Simple("OK".into())
        );
        assert_eq!(cmd(&mut c, "SAVE"), Frame::Simple("OK".into()));
    }
    let rdb_len = std::fs::metadata(dir.join("dump.rdb")).unwrap().len();
    loading_then_loaded(&dir, &[], rdb_len);
}

/// The same while the AOF loads, its progress counted over the files the
/// manifest names.
#[test]
fn clients_get_loading_while_the_aof_loads() {
    let dir = temp_dir("loading-aof");
    {
        let server = TestServer::start_with(&[
            "--dir",
            dir.to_str().unwrap(),
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
        ]);
        let mut c = server.connect();
        for i in 0..2000 {
            let (key, value) = (format!("key:{i}"), format!("value:{i}"));
            assert_eq!(
                c.command(&[b"SET", key.as_bytes(), value.as_bytes()]),
                Frame::Simple("OK".into())
            );
        }
    }
    let aof_len: u64 = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".manifest"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    loading_then_loaded(&dir, &["--appendonly", "yes"], aof_len);
}

/// Starts a server on `dir`'s 2,000 keys (`key:N` = `value:N`) at 1 ms a
/// key and checks what clients get while it loads and after.
fn loading_then_loaded(dir: &Path, extra: &[&str], total_bytes: u64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut flags = vec![
        "--port".to_string(),
        port.to_string(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        // 2,000 keys at 1 ms: about two seconds of loading.
        "--key-load-delay".into(),
        "1000".into(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    let starting = std::thread::spawn(move || {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        TestServer::start_with(&flags)
    });
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + common::DEADLINE;
    let mut c = loop {
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            drop(s);
            break Conn::connect(addr);
        }
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(c.info_field("persistence", "loading"), "1");
    let loading = Frame::Error("LOADING Redis is loading the dataset in memory".into());
    for refused in ["GET key:1", "PING", "DBSIZE", "SAVE", "OBJECT FREQ key:1"] {
        assert_eq!(cmd(&mut c, refused), loading, "{refused}");
    }
    assert_eq!(
        cmd(&mut c, "CONFIG GET port"),
        Frame::Array(vec![
            Frame::Bulk(Bytes::from("port")),
            Frame::Bulk(Bytes::from(port.to_string()))
        ])
    );
    assert!(matches!(cmd(&mut c, "CLIENT ID"), Frame::Integer(_)));
    assert_eq!(cmd(&mut c, "ECHO hi"), Frame::Bulk(Bytes::from("hi")));
    let total: u64 = c
        .info_field("persistence", "loading_total_bytes")
        .parse()
        .unwrap();
    assert_eq!(total, total_bytes);
    let perc: f64 = c
        .info_field("persistence", "loading_loaded_perc")
        .parse()
        .unwrap();
    assert!((0.0..100.0).contains(&perc), "{perc}");
    let server = starting.join().unwrap();
    assert_eq!(c.info_field("persistence", "loading"), "0");
    assert_eq!(cmd(&mut c, "DBSIZE"), Frame::Integer(2000));
    assert_eq!(
        cmd(&mut c, "GET key:1"),
        Frame::Bulk(Bytes::from("value:1"))
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
