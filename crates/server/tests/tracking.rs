//! Client-side caching (CLIENT TRACKING): invalidation pushes in RESP3,
//! redirection to a RESP2 Pub/Sub connection, BCAST prefixes, OPTIN,
//! NOLOOP and flushes, over real connections.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Conn, TestServer};
use shoal_resp::Frame;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn cmd(c: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    c.command(&args)
}

fn invalidate(keys: &[&str]) -> Frame {
    Frame::Push(vec![
        bulk("invalidate"),
        Frame::Array(keys.iter().map(|k| bulk(k)).collect()),
    ])
}

fn nothing_more(c: &mut Conn) {
    assert_eq!(c.read_frame_within(Duration::from_millis(100)), None);
}

#[test]
fn a_key_read_is_invalidated_once_when_another_client_changes_it() {
    let server = TestServer::start();
    let mut reader = server.connect();
    let mut writer = server.connect();
    cmd(&mut reader, "HELLO 3");
    assert_eq!(
        cmd(&mut reader, "CLIENT TRACKING on"),
        Frame::Simple("OK".into())
    );
    cmd(&mut writer, "SET k 1");
    assert_eq!(cmd(&mut reader, "GET k"), bulk("1"));
    cmd(&mut writer, "SET k 2");
    assert_eq!(reader.read_frame(), invalidate(&["k"]));
    // Forgotten after one invalidation until read again.
    cmd(&mut writer, "SET k 3");
    nothing_more(&mut reader);
    // The client's own change comes after its reply.
    cmd(&mut reader, "GET k");
    assert_eq!(cmd(&mut reader, "DEL k"), Frame::Integer(1));
    assert_eq!(reader.read_frame(), invalidate(&["k"]));
    // A flush invalidates everything with a null.
    cmd(&mut writer, "FLUSHALL");
    assert_eq!(
        reader.read_frame(),
        Frame::Push(vec![bulk("invalidate"), Frame::Null])
    );
    let Frame::Map(info) = cmd(&mut reader, "CLIENT TRACKINGINFO") else {
        panic!("TRACKINGINFO is a map in RESP3")
    };
    assert_eq!(info[0].1, Frame::Set(vec![bulk("on")]));
    assert_eq!(info[1].1, Frame::Integer(0));
}

#[test]
fn redirected_invalidations_reach_a_resp2_subscriber() {
    let server = TestServer::start();
    let mut sink = server.connect();
    let Frame::Integer(sink_id) = cmd(&mut sink, "CLIENT ID") else {
        panic!("CLIENT ID")
    };
    cmd(&mut sink, "SUBSCRIBE __redis__:invalidate");
    let mut reader = server.connect();
    assert_eq!(
        cmd(&mut reader, "CLIENT TRACKING on REDIRECT 999999"),
        Frame::Error("ERR The client ID you want redirect to does not exist".into())
    );
    cmd(
        &mut reader,
        &format!("CLIENT TRACKING on REDIRECT {sink_id}"),
    );
    assert_eq!(cmd(&mut reader, "CLIENT GETREDIR"), Frame::Integer(sink_id));
    cmd(&mut reader, "MGET a b");
    cmd(&mut reader, "MSET a 1 b 2");
    for key in ["a", "b"] {
        assert_eq!(
            sink.read_frame(),
            Frame::Array(vec![
                bulk("message"),
                bulk("__redis__:invalidate"),
                Frame::Array(vec![bulk(key)])
            ])
        );
    }
    // RESP2 without redirection gets nothing: it has no push frames.
    let mut plain = server.connect();
    cmd(&mut plain, "CLIENT TRACKING on");
    cmd(&mut plain, "GET a");
    cmd(&mut reader, "SET a 3");
    nothing_more(&mut plain);
}

#[test]
fn bcast_prefixes_optin_and_noloop() {
    let server = TestServer::start();
    let mut c = server.connect();
    let mut other = server.connect();
    cmd(&mut c, "HELLO 3");
    assert_eq!(
        cmd(&mut c, "CLIENT TRACKING on PREFIX a"),
        Frame::Error("ERR PREFIX option requires BCAST mode to be enabled".into())
    );
    assert_eq!(
        cmd(&mut c, "CLIENT TRACKING on BCAST PREFIX ab PREFIX a"),
        Frame::Error("ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.".into())
    );
    cmd(&mut c, "CLIENT TRACKING on BCAST PREFIX user: NOLOOP");
    cmd(&mut other, "MSET user:1 x user:2 y order:1 z");
    assert_eq!(c.read_frame(), invalidate(&["user:1", "user:2"]));
    // NOLOOP: its own change is not reported.
    cmd(&mut c, "SET user:3 w");
    nothing_more(&mut c);
    assert_eq!(
        cmd(&mut c, "CLIENT TRACKING off"),
        Frame::Simple("OK".into())
    );

    // OPTIN: only reads after CLIENT CACHING yes are tracked.
    cmd(&mut c, "CLIENT TRACKING on OPTIN");
    cmd(&mut c, "GET untracked");
    cmd(&mut c, "CLIENT CACHING yes");
    cmd(&mut c, "GET tracked");
    cmd(&mut other, "MSET untracked 1 tracked 1");
    assert_eq!(c.read_frame(), invalidate(&["tracked"]));
    nothing_more(&mut c);
    assert_eq!(
        cmd(&mut c, "CLIENT CACHING no"),
        Frame::Error(
            "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into()
        )
    );
    let Frame::Verbatim { text: info, .. } = cmd(&mut c, "INFO clients") else {
        panic!("INFO is verbatim text in RESP3")
    };
    assert!(String::from_utf8_lossy(&info).contains("tracking_clients:1"));
}
