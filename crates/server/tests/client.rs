//! Tests through a real client library (the `redis` crate, async tokio):
//! pipelines, transactions, WATCH, expiry and SCAN as applications use them.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{TestServer, DEADLINE};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

async fn connect(server: &TestServer) -> MultiplexedConnection {
    redis::Client::open(format!("redis://{}/", server.addr))
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

#[tokio::test]
async fn pipeline_replies_in_order() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("k{i}"), i).ignore();
    }
    for i in 0..1000 {
        pipe.incr(format!("k{i}"), 1);
    }
    pipe.get("k999").mget(&["k0", "k1", "nope"]);
    let (incrs, last, many): (Vec<i64>, i64, Vec<Option<i64>>) = {
        let mut all: Vec<redis::Value> = pipe.query_async(&mut con).await.unwrap();
        let many = redis::from_redis_value(&all.pop().unwrap()).unwrap();
        let last = redis::from_redis_value(&all.pop().unwrap()).unwrap();
        let incrs = all
            .iter()
            .map(|v| redis::from_redis_value(v).unwrap())
            .collect();
        (incrs, last, many)
    };
    assert_eq!(incrs, (1..=1000).collect::<Vec<i64>>());
    assert_eq!(last, 1000);
    assert_eq!(many, vec![Some(1), Some(2), None]);
}

#[tokio::test]
async fn pipeline_errors_do_not_stop_later_commands() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let _: () = con.set("s", "text").await.unwrap();
    let result: redis::RedisResult<(i64, String)> = redis::pipe()
        .incr("s", 1)
        .get("s")
        .query_async(&mut con)
        .await;
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .contains("value is not an integer or out of range"),
        "{err}"
    );
    // The connection is still usable and the GET ran.
    let v: String = con.get("s").await.unwrap();
    assert_eq!(v, "text");
}

#[tokio::test]
async fn multi_exec_is_atomic_and_ordered() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let (a, b, c): (i64, i64, Vec<i64>) = redis::pipe()
        .atomic()
        .incr("counter", 5)
        .incr("counter", 10)
        .mget(&["counter", "counter"])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a, b, c), (5, 15, vec![15, 15]));
    // Concurrent transactions from many clients never interleave.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut con = connect(&server).await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let (x, y): (i64, i64) = redis::pipe()
                    .atomic()
                    .incr("pair", 1)
                    .incr("pair", 1)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                assert_eq!(y, x + 1, "another client ran inside a transaction");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total: i64 = con.get("pair").await.unwrap();
    assert_eq!(total, 8 * 100 * 2);
}

#[tokio::test]
async fn watch_aborts_exec_after_another_clients_write() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let mut other = connect(&server).await;
    let _: () = con.set("w", 1).await.unwrap();

    // A multiplexed connection has no per-caller state, so WATCH needs
    // its own dedicated connection: the transaction is sent as one pipeline
    // after the watch.
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut watcher = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("WATCH")
        .arg("w")
        .query_async(&mut watcher)
        .await
        .unwrap();
    let _: () = other.set("w", 2).await.unwrap();
    let aborted: Option<(i64,)> = redis::pipe()
        .atomic()
        .incr("w", 100)
        .query_async(&mut watcher)
        .await
        .unwrap();
    assert_eq!(aborted, None, "EXEC must fail after a watched key changed");
    let v: i64 = con.get("w").await.unwrap();
    assert_eq!(v, 2);

    // Without an intervening write the same transaction commits.
    let _: () = redis::cmd("WATCH")
        .arg("w")
        .query_async(&mut watcher)
        .await
        .unwrap();
    let committed: Option<(i64,)> = redis::pipe()
        .atomic()
        .incr("w", 100)
        .query_async(&mut watcher)
        .await
        .unwrap();
    assert_eq!(committed, Some((102,)));

    // Expiry of a watched key also aborts (Redis 7.0 semantics).
    let _: () = redis::cmd("SET")
        .arg("e")
        .arg("1")
        .arg("PX")
        .arg(30)
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("WATCH")
        .arg("e")
        .query_async(&mut watcher)
        .await
        .unwrap();
    wait_until_gone(&mut other, "e").await;
    let aborted: Option<(i64,)> = redis::pipe()
        .atomic()
        .incr("e", 1)
        .query_async(&mut watcher)
        .await
        .unwrap();
    assert_eq!(aborted, None, "EXEC must fail after a watched key expired");
}

/// Polls until `key` no longer exists, within [`DEADLINE`].
async fn wait_until_gone(con: &mut MultiplexedConnection, key: &str) {
    let started = Instant::now();
    loop {
        let exists: bool = con.exists(key).await.unwrap();
        if !exists {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "{key} never expired");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn keys_expire_lazily_and_actively() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query_async(&mut con)
        .await
        .unwrap();
    let pttl: i64 = con.pttl("short").await.unwrap();
    assert!((1..=50).contains(&pttl), "PTTL {pttl}");
    let _: () = con.set("long", "v").await.unwrap();
    let _: bool = con.pexpire("long", 600_000).await.unwrap();
    wait_until_gone(&mut con, "short").await;
    let ttl: i64 = con.ttl("short").await.unwrap();
    assert_eq!(ttl, -2);
    let v: Option<String> = con.get("short").await.unwrap();
    assert_eq!(v, None);
    let ttl: i64 = con.ttl("long").await.unwrap();
    assert!((599..=600).contains(&ttl), "TTL {ttl}");

    // Active expiry: keys nobody touches are still reclaimed (DBSIZE
    // counts them until then).
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET")
            .arg(format!("tmp{i}"))
            .arg("v")
            .arg("PX")
            .arg(20)
            .ignore();
    }
    let _: () = pipe.query_async(&mut con).await.unwrap();
    let started = Instant::now();
    loop {
        let n: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
        if n == 1 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "active expiry left {n} keys");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn scan_returns_every_key() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let mut expected = HashSet::new();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        let key = format!("key:{i}");
        pipe.set(&key, i).ignore();
        expected.insert(key);
    }
    let _: () = pipe.query_async(&mut con).await.unwrap();
    let seen = scan_all(&mut con, None).await;
    assert_eq!(seen, expected);
    // MATCH filters, and the iterator still terminates.
    let seen = scan_all(&mut con, Some("key:1?")).await;
    let want: HashSet<String> = (10..20).map(|i| format!("key:{i}")).collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn scan_returns_keys_present_throughout_while_the_table_grows() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let mut writer = connect(&server).await;
    let stable: HashSet<String> = (0..500).map(|i| format!("stable:{i}")).collect();
    for key in &stable {
        let _: () = con.set(key, 1).await.unwrap();
    }
    let mut cursor: u64 = 0;
    let mut seen = HashSet::new();
    let mut grown = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query_async(&mut con)
            .await
            .unwrap();
        seen.extend(keys);
        // Grow the table between SCAN calls, forcing rehashes.
        let mut pipe = redis::pipe();
        for _ in 0..200 {
            pipe.set(format!("grow:{grown}"), 1).ignore();
            grown += 1;
        }
        let _: () = pipe.query_async(&mut writer).await.unwrap();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let missing: Vec<&String> = stable.difference(&seen).collect();
    assert!(missing.is_empty(), "SCAN missed {missing:?}");
}

async fn scan_all(con: &mut MultiplexedConnection, pattern: Option<&str>) -> HashSet<String> {
    let mut cursor: u64 = 0;
    let mut seen = HashSet::new();
    let started = Instant::now();
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor);
        if let Some(p) = pattern {
            cmd.arg("MATCH").arg(p);
        }
        let (next, keys): (u64, Vec<String>) = cmd.query_async(con).await.unwrap();
        seen.extend(keys);
        cursor = next;
        if cursor == 0 {
            return seen;
        }
        assert!(started.elapsed() < DEADLINE, "SCAN never finished");
    }
}

#[tokio::test]
async fn select_and_binary_values_round_trip() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let value: Vec<u8> = (0..=255).collect();
    let key: &[u8] = b"bin\x00\xff\r\n";
    let _: () = con.set(key, &value).await.unwrap();
    let got: Vec<u8> = con.get(key).await.unwrap();
    assert_eq!(got, value);
    let moved: bool = redis::cmd("MOVE")
        .arg(key)
        .arg(3)
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(moved);
    let db3 = redis::Client::open(format!("redis://{}/3", server.addr)).unwrap();
    let mut con3 = db3.get_multiplexed_async_connection().await.unwrap();
    let got: Vec<u8> = con3.get(key).await.unwrap();
    assert_eq!(got, value);
}
