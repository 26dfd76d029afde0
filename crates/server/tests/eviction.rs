//! `maxmemory` with an eviction policy: keys are evicted as Redis would
//! choose them, and LFU counters follow accesses. Memory is measured with
//! glibc's allocator statistics, as `shoal server` measures jemalloc's.

mod common;

use bytes::Bytes;
use common::{Conn, TestServer};
use shoal_resp::Frame;

fn malloc_used_bytes() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    unsafe { libc::mallinfo2().uordblks as u64 }
}

fn start() -> TestServer {
    shoal_server::set_memory_probe(shoal_server::MemoryProbe {
        allocator: "libc",
        used_bytes: malloc_used_bytes,
    });
    TestServer::start_with(&["--hz", "100"])
}

fn field(c: &mut Conn, section: &str, name: &str) -> u64 {
    let Frame::Bulk(info) = c.command(&[b"INFO", section.as_bytes()]) else {
        panic!("INFO");
    };
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name}"))
        .trim()
        .parse()
        .unwrap()
}

fn ok(c: &mut Conn, args: &[&[u8]]) {
    assert_eq!(c.command(args), Frame::Simple("OK".into()), "{args:?}");
}

#[test]
fn allkeys_lru_evicts_the_idlest_keys_to_stay_under_maxmemory() {
    let server = start();
    let mut c = server.connect();
    let value = vec![b'x'; 1024];
    ok(&mut c, &[b"SET", b"template", &value]);
    let Frame::Bulk(payload) = c.command(&[b"DUMP", b"template"]) else {
        panic!("DUMP");
    };
    // 2,000 keys idle for 1,000 seconds, then 2,000 fresh ones.
    for i in 0..2000 {
        let key = format!("cold:{i}");
        ok(
            &mut c,
            &[
                b"RESTORE",
                key.as_bytes(),
                b"0",
                &payload,
                b"IDLETIME",
                b"1000",
            ],
        );
    }
    for i in 0..2000 {
        ok(&mut c, &[b"SET", format!("hot:{i}").as_bytes(), &value]);
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let used = field(&mut c, "memory", "used_memory");
    let limit = (used - 1_000_000).to_string();
    ok(
        &mut c,
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru"],
    );
    ok(&mut c, &[b"CONFIG", b"SET", b"maxmemory", limit.as_bytes()]);
    // Any command runs the eviction first.
    c.command(&[b"PING"]);
    let evicted = field(&mut c, "stats", "evicted_keys");
    assert!(evicted >= 500, "evicted {evicted}");
    assert!(field(&mut c, "memory", "used_memory") <= limit.parse().unwrap());
    let mut cold = 0;
    let mut hot = 0;
    for i in 0..2000 {
        cold +=
            u64::from(c.command(&[b"EXISTS", format!("cold:{i}").as_bytes()]) == Frame::Integer(1));
        hot +=
            u64::from(c.command(&[b"EXISTS", format!("hot:{i}").as_bytes()]) == Frame::Integer(1));
    }
    // Counting runs commands, which may evict more; the template key may
    // be evicted too.
    let evicted = field(&mut c, "stats", "evicted_keys");
    let template = u64::from(c.command(&[b"EXISTS", b"template"]) == Frame::Integer(1));
    assert_eq!(
        cold + hot + template,
        4001 - evicted,
        "every key is kept or evicted"
    );
    assert!(
        hot > cold + 300,
        "LRU kept {hot} fresh and {cold} idle keys"
    );
    ok(&mut c, &[b"CONFIG", b"SET", b"maxmemory", b"0"]);
}

#[test]
fn lfu_counters_follow_accesses_and_restore() {
    let server = start();
    let mut c = server.connect();
    ok(&mut c, &[b"SET", b"k", b"v"]);
    assert_eq!(
        c.command(&[b"OBJECT", b"FREQ", b"k"]),
        Frame::Error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into())
    );
    ok(
        &mut c,
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu"],
    );
    ok(&mut c, &[b"SET", b"new", b"v"]);
    assert_eq!(c.command(&[b"OBJECT", b"FREQ", b"new"]), Frame::Integer(5));
    for _ in 0..200 {
        c.command(&[b"GET", b"new"]);
    }
    let Frame::Integer(freq) = c.command(&[b"OBJECT", b"FREQ", b"new"]) else {
        panic!("FREQ");
    };
    // Logarithmic: 200 hits with lfu-log-factor 10 reach about 10.
    assert!((6..=20).contains(&freq), "{freq}");
    let Frame::Bulk(payload) = c.command(&[b"DUMP", b"new"]) else {
        panic!("DUMP");
    };
    ok(&mut c, &[b"RESTORE", b"r", b"0", &payload, b"FREQ", b"100"]);
    assert_eq!(c.command(&[b"OBJECT", b"FREQ", b"r"]), Frame::Integer(100));
    assert_eq!(
        c.command(&[b"GET", b"r"]),
        Frame::Bulk(Bytes::from_static(b"v"))
    );
    assert!(matches!(
        c.command(&[b"OBJECT", b"IDLETIME", b"r"]),
        Frame::Error(e) if e.starts_with("ERR An LFU maxmemory policy is selected")
    ));
}
