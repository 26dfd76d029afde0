//! Collections, blocking pops and pub/sub through a real client library
//! (the `redis` crate), the way applications use them: a job queue, a
//! leaderboard, an entity as a hash, a set of tokens, messages.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::TestServer;
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
async fn a_job_queue_with_blpop() {
    let server = TestServer::start();
    let mut producer = connect(&server).await;
    let mut worker = connect(&server).await;
    let waiting = tokio::spawn(async move {
        let job: (String, String) = worker.blpop("jobs", 5.0).await.unwrap();
        job
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _: () = producer.rpush("jobs", &["job-1", "job-2"]).await.unwrap();
    assert_eq!(
        waiting.await.unwrap(),
        ("jobs".to_string(), "job-1".to_string())
    );
    let rest: Vec<String> = producer.lrange("jobs", 0, -1).await.unwrap();
    assert_eq!(rest, vec!["job-2"]);
    // Timeouts answer nil.
    let none: Option<(String, String)> = producer.blpop("empty", 0.05).await.unwrap();
    assert_eq!(none, None);
}

#[tokio::test]
async fn a_leaderboard_in_a_sorted_set() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    for (player, score) in [("ann", 30), ("bob", 10), ("cid", 20), ("dee", 40)] {
        let _: () = con.zadd("board", player, score).await.unwrap();
    }
    let _: () = con.zincr("board", "bob", 35).await.unwrap();
    let top: Vec<(String, f64)> = con.zrevrange_withscores("board", 0, 1).await.unwrap();
    assert_eq!(top, vec![("bob".into(), 45.0), ("dee".into(), 40.0)]);
    let rank: Option<usize> = con.zrevrank("board", "cid").await.unwrap();
    assert_eq!(rank, Some(3));
    let mid: Vec<String> = con.zrangebyscore("board", 15, 35).await.unwrap();
    assert_eq!(mid, vec!["cid", "ann"]);
}

#[tokio::test]
async fn an_entity_as_a_hash_and_tokens_as_a_set() {
    let server = TestServer::start();
    let mut con = connect(&server).await;
    let _: () = con
        .hset_multiple("user:1", &[("name", "ann"), ("visits", "1")])
        .await
        .unwrap();
    let _: () = con.hincr("user:1", "visits", 2).await.unwrap();
    let user: HashMap<String, String> = con.hgetall("user:1").await.unwrap();
    assert_eq!(user["name"], "ann");
    assert_eq!(user["visits"], "3");
    let _: () = con.sadd("tokens", &["t1", "t2", "t3"]).await.unwrap();
    let _: () = con.srem("tokens", "t2").await.unwrap();
    let valid: bool = con.sismember("tokens", "t1").await.unwrap();
    let revoked: bool = con.sismember("tokens", "t2").await.unwrap();
    assert!(valid && !revoked);
    let all: HashSet<String> = con.smembers("tokens").await.unwrap();
    assert_eq!(all, HashSet::from(["t1".to_string(), "t3".to_string()]));
}

#[test]
fn publish_reaches_a_subscriber() {
    let server = TestServer::start();
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut sub_con = client.get_connection().unwrap();
    sub_con
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub.psubscribe("log.*").unwrap();
    let mut con = client.get_connection().unwrap();
    let receivers: i64 = redis::Commands::publish(&mut con, "news", "hello").unwrap();
    assert_eq!(receivers, 1);
    let _: i64 = redis::Commands::publish(&mut con, "log.db", "slow query").unwrap();
    let first = pubsub.get_message().unwrap();
    assert_eq!(first.get_channel_name(), "news");
    assert_eq!(first.get_payload::<String>().unwrap(), "hello");
    let second = pubsub.get_message().unwrap();
    assert_eq!(second.get_channel_name(), "log.db");
    assert_eq!(second.get_pattern::<String>().unwrap(), "log.*");
}
