//! GEO commands over the wire: byte-exact RESP2 and RESP3 replies of every
//! command, errors, WRONGTYPE, stores and their events, COMMAND GETKEYS,
//! and GEOADD logged as the ZADD it runs. The expected bytes are Redis
//! 7.0.15's own: `tables_match_redis` (ignored, needs `redis-server`) runs
//! the same tables against it.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use common::{Conn, RedisServer, TestServer};
use shoal_resp::Frame;

/// A request (inline) and the exact reply, both without the final CRLF.
type Case = (&'static str, &'static str);

/// Sends every case on one connection, each followed by a PING, so extra
/// or missing bytes show as a mismatch.
fn check_table(addr: SocketAddr, resp3: bool, table: &[Case]) {
    let mut conn = Conn::connect(addr);
    if resp3 {
        let hello = conn.command(&[b"HELLO", b"3"]);
        assert!(matches!(hello, Frame::Map(_)), "HELLO 3 replied {hello:?}");
    }
    for (i, (input, expected)) in table.iter().enumerate() {
        let request = format!("{input}\r\nPING\r\n");
        let want = format!("{expected}\r\n+PONG\r\n");
        conn.send(request.as_bytes());
        let got = conn.read_exact_or_eof(want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "case {i} (resp3={resp3}): request {input:?}"
        );
    }
}

/// Every command with valid and invalid options, missing keys, wrong
/// types, stores, scores that are not geohashes, the poles and the
/// antimeridian, and ties in distance.
fn table_resp2() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", ":2"),
        ("GEOADD Sicily NX XX 1 1 a", "-ERR syntax error"),
        ("GEOADD Sicily 1 1", "-ERR wrong number of arguments for 'geoadd' command"),
        ("GEOADD Sicily nx ch 1 1", "-ERR syntax error"),
        ("GEOADD Sicily 181 10 x", "-ERR invalid longitude,latitude pair 181.000000,10.000000"),
        ("GEOADD Sicily 10 86 x", "-ERR invalid longitude,latitude pair 10.000000,86.000000"),
        ("GEOADD Sicily -180.0000001 10 x", "-ERR invalid longitude,latitude pair -180.000000,10.000000"),
        ("GEOADD Sicily abc 10 x", "-ERR value is not a valid float"),
        ("GEOADD Sicily 10 nan x", "-ERR value is not a valid float"),
        ("GEOADD Sicily inf 10 x", "-ERR invalid longitude,latitude pair inf,10.000000"),
        ("GEOADD Sicily GT 1 1 x", "-ERR syntax error"),
        ("GEOADD Sicily XX 13.361389 38.115556 Palermo 1 1 newone", ":0"),
        ("GEOADD Sicily CH XX 13.361389 38.115556 Palermo 1 1 newone", ":0"),
        ("GEOADD Sicily NX CH 13 38 Palermo 2 2 two", ":1"),
        ("GEOADD Sicily CH 13.361389 38.115556 Palermo 2 2 two 3 3 three", ":1"),
        ("ZSCORE Sicily Palermo", "$16\r\n3479099956230698"),
        ("TYPE Sicily", "+zset"),
        ("OBJECT ENCODING Sicily", "$8\r\nlistpack"),
        ("ZREM Sicily two three", ":2"),
        ("GEODIST Sicily Palermo Catania", "$11\r\n166274.1516"),
        ("GEODIST Sicily Palermo Catania km", "$8\r\n166.2742"),
        ("GEODIST Sicily Palermo Catania MI", "$8\r\n103.3182"),
        ("GEODIST Sicily Palermo Catania ft", "$11\r\n545518.8700"),
        ("GEODIST Sicily Palermo Catania yd", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEODIST Sicily Palermo Catania km extra", "-ERR syntax error"),
        ("GEODIST Sicily Palermo nope", "$-1"),
        ("GEODIST Sicily Palermo Palermo", "$6\r\n0.0000"),
        ("GEODIST nokey a b", "$-1"),
        ("GEODIST nokey a b yd", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEOHASH Sicily Palermo Catania nope", "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1"),
        ("GEOHASH nokey a b", "*2\r\n$-1\r\n$-1"),
        ("GEOHASH Sicily", "*0"),
        ("GEOPOS Sicily Palermo nope Catania", "*3\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032"),
        ("GEOPOS nokey a", "*1\r\n*-1"),
        ("GEOPOS Sicily", "*0"),
        ("GEORADIUS Sicily 15 37 200 km", "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania"),
        ("GEORADIUS Sicily 15 37 200 km WITHDIST", "*2\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413"),
        ("GEORADIUS Sicily 15 37 200 km WITHCOORD WITHDIST WITHHASH DESC", "*2\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032"),
        ("GEORADIUS Sicily 15 37 200 km WITHDIST ASC COUNT 1", "*1\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413"),
        ("GEORADIUS Sicily 15 37 200 km COUNT 1 ANY", "*1\r\n$7\r\nPalermo"),
        ("GEORADIUS Sicily 15 37 200 km ANY", "-ERR the ANY argument requires COUNT argument"),
        ("GEORADIUS Sicily 15 37 200 km COUNT 0", "-ERR COUNT must be > 0"),
        ("GEORADIUS Sicily 15 37 200 km COUNT -1", "-ERR COUNT must be > 0"),
        ("GEORADIUS Sicily 15 37 200 km COUNT x", "-ERR value is not an integer or out of range"),
        ("GEORADIUS Sicily 15 37 200 km COUNT", "-ERR syntax error"),
        ("GEORADIUS Sicily 15 37 200 parsec", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEORADIUS Sicily 15 37 -1 km", "-ERR radius cannot be negative"),
        ("GEORADIUS Sicily 15 37 x km", "-ERR need numeric radius"),
        ("GEORADIUS Sicily 15 37 1 km", "*0"),
        ("GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST", "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEORADIUS Sicily 15 37 200 km STORE dst", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*4\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698\r\n$7\r\nCatania\r\n$16\r\n3479447370796909"),
        ("GEORADIUS Sicily 15 37 200 km STOREDIST dst DESC", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*4\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$7\r\nPalermo\r\n$18\r\n190.44242984775784"),
        ("GEORADIUS Sicily 15 37 1 km STORE dst", ":0"),
        ("EXISTS dst", ":0"),
        ("GEORADIUS nokey 15 37 200 km STORE dst", ":0"),
        ("GEORADIUS nokey 15 37 200 km", "*0"),
        ("GEORADIUS_RO Sicily 15 37 200 km STORE dst", "-ERR syntax error"),
        ("GEORADIUS_RO Sicily 15 37 200 km WITHDIST", "*2\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413"),
        ("GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST WITHCOORD", "*2\r\n*3\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*3\r\n$7\r\nCatania\r\n$8\r\n166.2742\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032"),
        ("GEORADIUSBYMEMBER Sicily nope 200 km", "-ERR could not decode requested zset member"),
        ("GEORADIUSBYMEMBER Sicily nope -1 parsec", "-ERR could not decode requested zset member"),
        ("GEORADIUSBYMEMBER nokey nope -1 parsec", "*0"),
        ("GEORADIUSBYMEMBER nokey nope -1 parsec STORE dst", ":0"),
        ("GEORADIUSBYMEMBER nokey nope -1 parsec STORE dst WITHDIST", "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEORADIUSBYMEMBER_RO Sicily Catania 100 km WITHHASH", "*1\r\n*2\r\n$7\r\nCatania\r\n:3479447370796909"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km WITHDIST", "*2\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nCatania\r\n$8\r\n166.2742"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHCOORD ASC", "*2\r\n*2\r\n$7\r\nCatania\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*2\r\n$7\r\nPalermo\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo FROMMEMBER Catania BYRADIUS 1 km", "*1\r\n$7\r\nCatania"),
        ("GEOSEARCH Sicily BYRADIUS 200 km ASC", "-ERR wrong number of arguments for 'geosearch' command"),
        ("geosearch Sicily BYRADIUS 200 km ASC", "-ERR wrong number of arguments for 'geosearch' command"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo ASC DESC", "-ERR wrong number of arguments for 'geosearch' command"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX -1 1 km", "-ERR height or width cannot be negative"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX x 1 km", "-ERR need numeric width"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 x km", "-ERR need numeric height"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 1 yd", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km STORE dst", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km STOREDIST", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 1 km", "-ERR could not decode requested zset member"),
        ("GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km", "*0"),
        ("GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km ANY", "-ERR the ANY argument requires COUNT argument"),
        ("GEOSEARCH Sicily FROMLONLAT 200 37 BYRADIUS 1 km", "-ERR invalid longitude,latitude pair 200.000000,37.000000"),
        ("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*4\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$7\r\nPalermo\r\n$18\r\n190.44242984775784"),
        ("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST", "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km COUNT 1 DESC", ":1"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*2\r\n$7\r\nPalermo\r\n$16\r\n3479099956230698"),
        ("GEOSEARCHSTORE dst nokey FROMLONLAT 15 37 BYBOX 400 400 km", ":0"),
        ("EXISTS dst", ":0"),
        ("SET str x", "+OK"),
        ("GEOADD str 1 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEODIST str a b", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOHASH str a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOPOS str a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEORADIUS str 15 37 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEORADIUS str 200 37 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEORADIUSBYMEMBER str a 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOSEARCH str FROMMEMBER a BYRADIUS 1 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOSEARCHSTORE dst str FROMMEMBER a BYRADIUS 1 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOSEARCHSTORE str Sicily FROMLONLAT 15 37 BYRADIUS 200 km", ":2"),
        ("TYPE str", "+zset"),
        ("ZADD weird -1 neg 1e30 huge inf pinf", ":3"),
        ("GEOPOS weird neg huge pinf", "*3\r\n*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528"),
        ("GEOHASH weird neg huge pinf", "*3\r\n$11\r\nbp05b5048p0\r\n$11\r\n00bh0hbj200\r\n$11\r\n00bh0hbj200"),
        ("GEODIST weird neg huge", "$13\r\n18919844.5891"),
        ("GEOADD poles 0 85.05112878 n 0 -85.05112878 s 180 0 e -180 0 w", ":4"),
        ("GEOPOS poles n s e w", "*4\r\n*2\r\n$19\r\n0.00000268220901489\r\n$19\r\n85.0511287799999991\r\n*2\r\n$19\r\n0.00000268220901489\r\n$21\r\n-85.05112751263942528\r\n*2\r\n$3\r\n180\r\n$19\r\n0.00000126736058093\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$19\r\n0.00000126736058093"),
        ("GEOHASH poles n s e w", "*4\r\n$11\r\nup05b5048p0\r\n$11\r\nh0bh0hbj200\r\n$11\r\n80000000000\r\n$11\r\n80000000000"),
        ("GEOSEARCH poles FROMLONLAT 0 0 BYRADIUS 30000 km WITHDIST ASC", "*2\r\n*2\r\n$1\r\ns\r\n$9\r\n9459.9222\r\n*2\r\n$1\r\nw\r\n$10\r\n20020.7337"),
        ("GEOSEARCH poles FROMLONLAT 0 0 BYBOX 50000 50000 km ASC", "*2\r\n$1\r\ns\r\n$1\r\nw"),
        ("GEORADIUS poles 0 0 0 m", "*0"),
        ("GEOADD z 0 0 a 0 0 b 0 0 c 0.001 0 d", ":4"),
        ("GEORADIUS z 0 0 1 km WITHDIST", "*4\r\n*2\r\n$1\r\na\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nb\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nc\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nd\r\n$6\r\n0.1113"),
        ("GEORADIUS z 0 0 1 km WITHDIST DESC", "*4\r\n*2\r\n$1\r\nd\r\n$6\r\n0.1113\r\n*2\r\n$1\r\na\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nb\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nc\r\n$6\r\n0.0003"),
        ("GEORADIUS z 0 0 1 km COUNT 2 DESC", "*2\r\n$1\r\nd\r\n$1\r\na"),
        ("GEORADIUS z 0 0 0 m", "*0"),
    ]
}

/// The same requests in RESP3: coordinates are doubles, distances stay
/// bulk strings, missing members are nulls.
fn table_resp3() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", ":2"),
        ("GEOADD Sicily NX XX 1 1 a", "-ERR syntax error"),
        ("GEOADD Sicily 1 1", "-ERR wrong number of arguments for 'geoadd' command"),
        ("GEOADD Sicily nx ch 1 1", "-ERR syntax error"),
        ("GEOADD Sicily 181 10 x", "-ERR invalid longitude,latitude pair 181.000000,10.000000"),
        ("GEOADD Sicily 10 86 x", "-ERR invalid longitude,latitude pair 10.000000,86.000000"),
        ("GEOADD Sicily -180.0000001 10 x", "-ERR invalid longitude,latitude pair -180.000000,10.000000"),
        ("GEOADD Sicily abc 10 x", "-ERR value is not a valid float"),
        ("GEOADD Sicily 10 nan x", "-ERR value is not a valid float"),
        ("GEOADD Sicily inf 10 x", "-ERR invalid longitude,latitude pair inf,10.000000"),
        ("GEOADD Sicily GT 1 1 x", "-ERR syntax error"),
        ("GEOADD Sicily XX 13.361389 38.115556 Palermo 1 1 newone", ":0"),
        ("GEOADD Sicily CH XX 13.361389 38.115556 Palermo 1 1 newone", ":0"),
        ("GEOADD Sicily NX CH 13 38 Palermo 2 2 two", ":1"),
        ("GEOADD Sicily CH 13.361389 38.115556 Palermo 2 2 two 3 3 three", ":1"),
        ("ZSCORE Sicily Palermo", ",3479099956230698"),
        ("TYPE Sicily", "+zset"),
        ("OBJECT ENCODING Sicily", "$8\r\nlistpack"),
        ("ZREM Sicily two three", ":2"),
        ("GEODIST Sicily Palermo Catania", "$11\r\n166274.1516"),
        ("GEODIST Sicily Palermo Catania km", "$8\r\n166.2742"),
        ("GEODIST Sicily Palermo Catania MI", "$8\r\n103.3182"),
        ("GEODIST Sicily Palermo Catania ft", "$11\r\n545518.8700"),
        ("GEODIST Sicily Palermo Catania yd", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEODIST Sicily Palermo Catania km extra", "-ERR syntax error"),
        ("GEODIST Sicily Palermo nope", "_"),
        ("GEODIST Sicily Palermo Palermo", "$6\r\n0.0000"),
        ("GEODIST nokey a b", "_"),
        ("GEODIST nokey a b yd", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEOHASH Sicily Palermo Catania nope", "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n_"),
        ("GEOHASH nokey a b", "*2\r\n_\r\n_"),
        ("GEOHASH Sicily", "*0"),
        ("GEOPOS Sicily Palermo nope Catania", "*3\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032"),
        ("GEOPOS nokey a", "*1\r\n_"),
        ("GEOPOS Sicily", "*0"),
        ("GEORADIUS Sicily 15 37 200 km", "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania"),
        ("GEORADIUS Sicily 15 37 200 km WITHDIST", "*2\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413"),
        ("GEORADIUS Sicily 15 37 200 km WITHCOORD WITHDIST WITHHASH DESC", "*2\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032"),
        ("GEORADIUS Sicily 15 37 200 km WITHDIST ASC COUNT 1", "*1\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413"),
        ("GEORADIUS Sicily 15 37 200 km COUNT 1 ANY", "*1\r\n$7\r\nPalermo"),
        ("GEORADIUS Sicily 15 37 200 km ANY", "-ERR the ANY argument requires COUNT argument"),
        ("GEORADIUS Sicily 15 37 200 km COUNT 0", "-ERR COUNT must be > 0"),
        ("GEORADIUS Sicily 15 37 200 km COUNT -1", "-ERR COUNT must be > 0"),
        ("GEORADIUS Sicily 15 37 200 km COUNT x", "-ERR value is not an integer or out of range"),
        ("GEORADIUS Sicily 15 37 200 km COUNT", "-ERR syntax error"),
        ("GEORADIUS Sicily 15 37 200 parsec", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEORADIUS Sicily 15 37 -1 km", "-ERR radius cannot be negative"),
        ("GEORADIUS Sicily 15 37 x km", "-ERR need numeric radius"),
        ("GEORADIUS Sicily 15 37 1 km", "*0"),
        ("GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST", "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEORADIUS Sicily 15 37 200 km STORE dst", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*2\r\n*2\r\n$7\r\nPalermo\r\n,3479099956230698\r\n*2\r\n$7\r\nCatania\r\n,3479447370796909"),
        ("GEORADIUS Sicily 15 37 200 km STOREDIST dst DESC", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*2\r\n*2\r\n$7\r\nCatania\r\n,56.441257870158204\r\n*2\r\n$7\r\nPalermo\r\n,190.44242984775784"),
        ("GEORADIUS Sicily 15 37 1 km STORE dst", ":0"),
        ("EXISTS dst", ":0"),
        ("GEORADIUS nokey 15 37 200 km STORE dst", ":0"),
        ("GEORADIUS nokey 15 37 200 km", "*0"),
        ("GEORADIUS_RO Sicily 15 37 200 km STORE dst", "-ERR syntax error"),
        ("GEORADIUS_RO Sicily 15 37 200 km WITHDIST", "*2\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413"),
        ("GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST WITHCOORD", "*2\r\n*3\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n*3\r\n$7\r\nCatania\r\n$8\r\n166.2742\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032"),
        ("GEORADIUSBYMEMBER Sicily nope 200 km", "-ERR could not decode requested zset member"),
        ("GEORADIUSBYMEMBER Sicily nope -1 parsec", "-ERR could not decode requested zset member"),
        ("GEORADIUSBYMEMBER nokey nope -1 parsec", "*0"),
        ("GEORADIUSBYMEMBER nokey nope -1 parsec STORE dst", ":0"),
        ("GEORADIUSBYMEMBER nokey nope -1 parsec STORE dst WITHDIST", "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEORADIUSBYMEMBER_RO Sicily Catania 100 km WITHHASH", "*1\r\n*2\r\n$7\r\nCatania\r\n:3479447370796909"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km WITHDIST", "*2\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nCatania\r\n$8\r\n166.2742"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHCOORD ASC", "*2\r\n*2\r\n$7\r\nCatania\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n*2\r\n$7\r\nPalermo\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo FROMMEMBER Catania BYRADIUS 1 km", "*1\r\n$7\r\nCatania"),
        ("GEOSEARCH Sicily BYRADIUS 200 km ASC", "-ERR wrong number of arguments for 'geosearch' command"),
        ("geosearch Sicily BYRADIUS 200 km ASC", "-ERR wrong number of arguments for 'geosearch' command"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo ASC DESC", "-ERR wrong number of arguments for 'geosearch' command"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX -1 1 km", "-ERR height or width cannot be negative"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX x 1 km", "-ERR need numeric width"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 x km", "-ERR need numeric height"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 1 yd", "-ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km STORE dst", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km STOREDIST", "-ERR syntax error"),
        ("GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 1 km", "-ERR could not decode requested zset member"),
        ("GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km", "*0"),
        ("GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km ANY", "-ERR the ANY argument requires COUNT argument"),
        ("GEOSEARCH Sicily FROMLONLAT 200 37 BYRADIUS 1 km", "-ERR invalid longitude,latitude pair 200.000000,37.000000"),
        ("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*2\r\n*2\r\n$7\r\nCatania\r\n,56.441257870158204\r\n*2\r\n$7\r\nPalermo\r\n,190.44242984775784"),
        ("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST", "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km COUNT 1 DESC", ":1"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*1\r\n*2\r\n$7\r\nPalermo\r\n,3479099956230698"),
        ("GEOSEARCHSTORE dst nokey FROMLONLAT 15 37 BYBOX 400 400 km", ":0"),
        ("EXISTS dst", ":0"),
        ("SET str x", "+OK"),
        ("GEOADD str 1 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEODIST str a b", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOHASH str a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOPOS str a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEORADIUS str 15 37 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEORADIUS str 200 37 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEORADIUSBYMEMBER str a 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOSEARCH str FROMMEMBER a BYRADIUS 1 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOSEARCHSTORE dst str FROMMEMBER a BYRADIUS 1 km", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("GEOSEARCHSTORE str Sicily FROMLONLAT 15 37 BYRADIUS 200 km", ":2"),
        ("TYPE str", "+zset"),
        ("ZADD weird -1 neg 1e30 huge inf pinf", ":3"),
        ("GEOPOS weird neg huge pinf", "*3\r\n*2\r\n,180\r\n,85.0511287799999991\r\n*2\r\n,-179.99999731779098511\r\n,-85.05112751263942528\r\n*2\r\n,-179.99999731779098511\r\n,-85.05112751263942528"),
        ("GEOHASH weird neg huge pinf", "*3\r\n$11\r\nbp05b5048p0\r\n$11\r\n00bh0hbj200\r\n$11\r\n00bh0hbj200"),
        ("GEODIST weird neg huge", "$13\r\n18919844.5891"),
        ("GEOADD poles 0 85.05112878 n 0 -85.05112878 s 180 0 e -180 0 w", ":4"),
        ("GEOPOS poles n s e w", "*4\r\n*2\r\n,0.00000268220901489\r\n,85.0511287799999991\r\n*2\r\n,0.00000268220901489\r\n,-85.05112751263942528\r\n*2\r\n,180\r\n,0.00000126736058093\r\n*2\r\n,-179.99999731779098511\r\n,0.00000126736058093"),
        ("GEOHASH poles n s e w", "*4\r\n$11\r\nup05b5048p0\r\n$11\r\nh0bh0hbj200\r\n$11\r\n80000000000\r\n$11\r\n80000000000"),
        ("GEOSEARCH poles FROMLONLAT 0 0 BYRADIUS 30000 km WITHDIST ASC", "*2\r\n*2\r\n$1\r\ns\r\n$9\r\n9459.9222\r\n*2\r\n$1\r\nw\r\n$10\r\n20020.7337"),
        ("GEOSEARCH poles FROMLONLAT 0 0 BYBOX 50000 50000 km ASC", "*2\r\n$1\r\ns\r\n$1\r\nw"),
        ("GEORADIUS poles 0 0 0 m", "*0"),
        ("GEOADD z 0 0 a 0 0 b 0 0 c 0.001 0 d", ":4"),
        ("GEORADIUS z 0 0 1 km WITHDIST", "*4\r\n*2\r\n$1\r\na\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nb\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nc\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nd\r\n$6\r\n0.1113"),
        ("GEORADIUS z 0 0 1 km WITHDIST DESC", "*4\r\n*2\r\n$1\r\nd\r\n$6\r\n0.1113\r\n*2\r\n$1\r\na\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nb\r\n$6\r\n0.0003\r\n*2\r\n$1\r\nc\r\n$6\r\n0.0003"),
        ("GEORADIUS z 0 0 1 km COUNT 2 DESC", "*2\r\n$1\r\nd\r\n$1\r\na"),
        ("GEORADIUS z 0 0 0 m", "*0"),
    ]
}

#[test]
fn replies_resp2() {
    let server = TestServer::start();
    check_table(server.addr, false, &table_resp2());
}

#[test]
fn replies_resp3() {
    let server = TestServer::start();
    check_table(server.addr, true, &table_resp3());
}

#[test]
#[ignore = "needs redis-server"]
fn tables_match_redis() {
    let redis = RedisServer::start();
    check_table(redis.addr, false, &table_resp2());
    check_table(redis.addr, true, &table_resp3());
}

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.command(&args)
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// The keyspace-event messages one command publishes, as `channel payload`
/// (a PING after the command bounds them).
fn events_of(conn: &mut Conn, sub: &mut Conn, line: &str) -> Vec<String> {
    cmd(conn, line);
    sub.send(&common::encode(&[b"PING"]));
    let mut out = Vec::new();
    loop {
        match sub.read_frame() {
            Frame::Array(p) if p.len() == 2 => return out,
            Frame::Array(p) if p.len() == 4 => {
                let text = |f: &Frame| match f {
                    Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                    other => format!("{other:?}"),
                };
                out.push(format!("{} {}", text(&p[2]), text(&p[3])));
            }
            other => panic!("unexpected frame on the subscriber: {other:?}"),
        }
    }
}

/// GEOADD raises ZADD's event; stores raise `georadiusstore` or
/// `geosearchstore` on the destination, and an
/// empty result deletes it with `del` (Redis 7.0.15's events).
fn check_events(addr: SocketAddr) {
    let mut c = Conn::connect(addr);
    cmd(&mut c, "FLUSHALL");
    cmd(&mut c, "CONFIG SET notify-keyspace-events KEAm");
    let mut sub = Conn::connect(addr);
    sub.command(&[b"PSUBSCRIBE", b"__keyevent*"]);
    let ev = |c: &mut Conn, sub: &mut Conn, line: &str| events_of(c, sub, line);
    assert_eq!(
        ev(
            &mut c,
            &mut sub,
            "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"
        ),
        ["__keyevent@0__:zadd g"]
    );
    // Nothing changes, nothing is raised.
    assert_eq!(
        ev(&mut c, &mut sub, "GEOADD g NX 13.361389 38.115556 Palermo"),
        Vec::<String>::new()
    );
    assert_eq!(
        ev(&mut c, &mut sub, "GEORADIUS g 15 37 200 km STORE d"),
        ["__keyevent@0__:georadiusstore d"]
    );
    assert_eq!(
        ev(
            &mut c,
            &mut sub,
            "GEORADIUSBYMEMBER g Palermo 10 km STOREDIST d"
        ),
        ["__keyevent@0__:georadiusstore d"]
    );
    assert_eq!(
        ev(
            &mut c,
            &mut sub,
            "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 200 km"
        ),
        ["__keyevent@0__:geosearchstore d"]
    );
    assert_eq!(
        ev(
            &mut c,
            &mut sub,
            "GEOSEARCHSTORE d g FROMLONLAT 0 0 BYRADIUS 1 km"
        ),
        ["__keyevent@0__:del d"]
    );
    assert_eq!(
        ev(
            &mut c,
            &mut sub,
            "GEOSEARCHSTORE d g FROMLONLAT 0 0 BYRADIUS 1 km"
        ),
        Vec::<String>::new()
    );
    assert_eq!(ev(&mut c, &mut sub, "SET d x"), ["__keyevent@0__:set d"]);
    assert_eq!(
        ev(
            &mut c,
            &mut sub,
            "GEOSEARCHSTORE d nokey FROMLONLAT 0 0 BYRADIUS 1 km"
        ),
        ["__keyevent@0__:keymiss nokey", "__keyevent@0__:del d"]
    );
    assert_eq!(
        ev(&mut c, &mut sub, "GEOPOS nokey a"),
        ["__keyevent@0__:keymiss nokey"]
    );
}

#[test]
fn keyspace_events_follow_redis() {
    let server = TestServer::start();
    check_events(server.addr);
}

#[test]
#[ignore = "needs redis-server"]
fn keyspace_events_match_redis() {
    let redis = RedisServer::start();
    check_events(redis.addr);
}

#[test]
fn command_getkeys_and_info() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        cmd(
            &mut c,
            "COMMAND GETKEYS georadius k 1 2 3 m store d STOREDIST e"
        ),
        Frame::Array(vec![bulk("k"), bulk("d"), bulk("e")])
    );
    assert_eq!(
        cmd(
            &mut c,
            "COMMAND GETKEYS georadiusbymember k m 3 km WITHDIST store d"
        ),
        Frame::Array(vec![bulk("k"), bulk("d")])
    );
    // The keyword as the last argument has no key after it.
    assert_eq!(
        cmd(&mut c, "COMMAND GETKEYS georadius k 1 2 3 m store"),
        Frame::Array(vec![bulk("k")])
    );
    assert_eq!(
        cmd(&mut c, "COMMAND GETKEYS georadius_ro k 1 2 3 m store d"),
        Frame::Array(vec![bulk("k")])
    );
    assert_eq!(
        cmd(
            &mut c,
            "COMMAND GETKEYS geosearchstore d s FROMMEMBER m BYRADIUS 1 m"
        ),
        Frame::Array(vec![bulk("d"), bulk("s")])
    );
    let Frame::Array(info) = cmd(&mut c, "COMMAND INFO georadius geosearchstore geopos") else {
        panic!("COMMAND INFO");
    };
    let head = |f: &Frame| match f {
        Frame::Array(p) => format!("{:?} {:?} {:?} {:?} {:?}", p[0], p[1], p[3], p[4], p[5]),
        other => format!("{other:?}"),
    };
    assert_eq!(
        head(&info[0]),
        r#"Bulk(b"georadius") Integer(-6) Integer(1) Integer(1) Integer(1)"#
    );
    assert_eq!(
        head(&info[1]),
        r#"Bulk(b"geosearchstore") Integer(-8) Integer(1) Integer(2) Integer(1)"#
    );
    assert_eq!(
        head(&info[2]),
        r#"Bulk(b"geopos") Integer(-2) Integer(1) Integer(1) Integer(1)"#
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shoal-geo-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Redis replaces GEOADD's command vector with the ZADD it runs, so the
/// AOF and replicas get ZADD with the geohash scores.
#[test]
fn geoadd_is_logged_as_zadd() {
    let dir = temp_dir("aof");
    {
        let server = TestServer::start_with(&[
            "--dir",
            dir.to_str().unwrap(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]);
        let mut c = server.connect();
        assert_eq!(
            cmd(&mut c, "GEOADD g CH 13.361389 38.115556 Palermo"),
            Frame::Integer(1)
        );
        // No change: not logged.
        cmd(&mut c, "GEOADD g NX 1 1 Palermo");
        cmd(
            &mut c,
            "GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 km",
        );
    }
    let text =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    assert!(
        text.contains(
            "*5\r\n$4\r\nzadd\r\n$1\r\ng\r\n$2\r\nCH\r\n$16\r\n3479099956230698\r\n$7\r\nPalermo\r\n"
        ),
        "{text:?}"
    );
    assert!(!text.contains("GEOADD"), "{text:?}");
    assert_eq!(text.matches("zadd").count(), 1, "{text:?}");
    assert!(text.contains("GEOSEARCHSTORE"), "{text:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A search walks score ranges the same way in both encodings: a grid of
/// points past the listpack limit (skiplist) answers exactly as the same
/// points kept in a listpack.
#[test]
fn both_encodings_answer_alike() {
    let server = TestServer::start();
    let mut c = server.connect();
    let mut add = String::from("GEOADD big");
    let mut add_small = String::from("GEOADD small");
    for i in 0..30 {
        for j in 0..30 {
            let (long, lat) = (10.0 + f64::from(i) * 0.01, 40.0 + f64::from(j) * 0.01);
            add.push_str(&format!(" {long} {lat} p{i}_{j}"));
            add_small.push_str(&format!(" {long} {lat} p{i}_{j}"));
        }
    }
    assert_eq!(cmd(&mut c, &add), Frame::Integer(900));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING big"), bulk("skiplist"));
    cmd(&mut c, "CONFIG SET zset-max-listpack-entries 100000");
    assert_eq!(cmd(&mut c, &add_small), Frame::Integer(900));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING small"), bulk("listpack"));
    for search in [
        "FROMLONLAT 10.1 40.1 BYRADIUS 5 km WITHDIST WITHHASH WITHCOORD ASC",
        "FROMLONLAT 10.1 40.1 BYBOX 7 3 km DESC",
        "FROMMEMBER p3_4 BYRADIUS 2000 m COUNT 7",
        "FROMMEMBER p3_4 BYRADIUS 2000 m COUNT 7 DESC WITHDIST",
        "FROMLONLAT 10 40 BYRADIUS 100 km COUNT 5 ANY",
        "FROMLONLAT 10 40 BYRADIUS 100 km",
    ] {
        let big = cmd(&mut c, &format!("GEOSEARCH big {search}"));
        let small = cmd(&mut c, &format!("GEOSEARCH small {search}"));
        assert!(
            matches!(&big, Frame::Array(a) if !a.is_empty()),
            "{search}: {big:?}"
        );
        assert_eq!(big, small, "{search}");
    }
    let Frame::Array(all) = cmd(&mut c, "GEOSEARCH big FROMLONLAT 10 40 BYRADIUS 100 km") else {
        panic!("GEOSEARCH");
    };
    assert_eq!(all.len(), 900);
    // A result past the listpack limit is stored as a skiplist.
    cmd(&mut c, "CONFIG SET zset-max-listpack-entries 128");
    assert_eq!(
        cmd(
            &mut c,
            "GEOSEARCHSTORE d big FROMLONLAT 10 40 BYRADIUS 100 km"
        ),
        Frame::Integer(900)
    );
    assert_eq!(cmd(&mut c, "OBJECT ENCODING d"), bulk("skiplist"));
    assert_eq!(
        cmd(
            &mut c,
            "GEOSEARCHSTORE d big FROMLONLAT 10 40 BYRADIUS 100 km COUNT 3"
        ),
        Frame::Integer(3)
    );
    assert_eq!(cmd(&mut c, "OBJECT ENCODING d"), bulk("listpack"));
}

/// Arguments at the limits never crash the server or allocate by count.
#[test]
fn extreme_arguments_are_answered() {
    let server = TestServer::start();
    let mut c = server.connect();
    cmd(
        &mut c,
        "GEOADD g 0 0 a 179.9999 85.05 b -180 -85.05112878 c 180 85.05112878 d",
    );
    for line in [
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 1e308 km COUNT 9223372036854775807",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS inf m WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 0 BYBOX inf inf m WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 5e-324 m",
        "GEOSEARCH g FROMLONLAT 180 85.05112878 BYBOX 1e10 1 km",
        "GEOSEARCH g FROMLONLAT -180 -85.05112878 BYRADIUS 1 m ASC COUNT 1 ANY",
        "GEORADIUS g 0 0 1 km COUNT -9223372036854775808",
        "GEORADIUS g 0 0 20000 km STORE d COUNT 9223372036854775807",
        "GEODIST g a d ft",
    ] {
        let reply = cmd(&mut c, line);
        assert!(
            !matches!(reply, Frame::Error(ref e) if e.contains("internal")),
            "{line}: {reply:?}"
        );
    }
    assert_eq!(cmd(&mut c, "PING"), Frame::Simple("PONG".into()));
    assert_eq!(
        cmd(&mut c, "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS inf m ASC"),
        Frame::Array(vec![bulk("a"), bulk("c"), bulk("b")])
    );
}

/// A small seeded generator (the test prints its seed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Big sets (skiplist encoding) with many points at the same spot, so
/// sorting with COUNT (Redis's partial quicksort) and ANY meet ties, and
/// searches cover hundreds of members: every reply must be Redis's.
#[test]
#[ignore = "needs redis-server"]
fn big_sets_match_redis() {
    let redis = RedisServer::start();
    let shoal = TestServer::start();
    let seed = std::env::var("SHOAL_GEO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("big_sets_match_redis: SHOAL_GEO_SEED={seed}");
    let mut rng = Rng(seed);
    let (mut r, mut s) = (redis.connect(), shoal.connect());
    let mut both = |line: &str| {
        let (want, got) = (cmd(&mut r, line), cmd(&mut s, line));
        assert_eq!(got, want, "SHOAL_GEO_SEED={seed}: {line}");
        got
    };
    both("FLUSHALL");
    for key in ["g1", "g2"] {
        let n = 200 + rng.below(1500);
        let spots = 1 + rng.below(if key == "g1" { 20 } else { 2000 });
        let mut line = format!("GEOADD {key}");
        for i in 0..n {
            let spot = rng.below(spots);
            let long = 13.0 + (spot % 50) as f64 * 0.013;
            let lat = 37.0 + (spot / 50) as f64 * 0.011;
            line.push_str(&format!(" {long} {lat} m{i}"));
        }
        both(&line);
        both(&format!("OBJECT ENCODING {key}"));
    }
    let units = ["m", "km", "mi", "ft"];
    let mut big_replies = 0;
    let radii = ["1", "5", "20", "50", "100", "300", "5000"];
    for _ in 0..400 {
        let key = rng.pick(&["g1", "g2"]);
        let center = if rng.below(2) == 0 {
            format!("FROMMEMBER m{}", rng.below(200))
        } else {
            format!(
                "FROMLONLAT {} {}",
                13.0 + rng.below(1000) as f64 * 0.001,
                37.0 + rng.below(500) as f64 * 0.001
            )
        };
        let shape = if rng.below(2) == 0 {
            format!("BYRADIUS {} {}", rng.pick(&radii), rng.pick(&units))
        } else {
            format!(
                "BYBOX {} {} {}",
                rng.pick(&radii),
                rng.pick(&radii),
                rng.pick(&units)
            )
        };
        let mut opts = String::new();
        for _ in 0..rng.below(3) {
            opts.push(' ');
            opts.push_str(rng.pick(&["ASC", "DESC", "WITHDIST", "WITHCOORD", "WITHHASH"]));
        }
        match rng.below(4) {
            0 => opts.push_str(&format!(" COUNT {}", 1 + rng.below(300))),
            1 => opts.push_str(&format!(" COUNT {} ANY", 1 + rng.below(50))),
            2 => opts.push_str(&format!(" COUNT {}", 1 + rng.below(8))),
            _ => {}
        }
        if let Frame::Array(found) = both(&format!("GEOSEARCH {key} {center} {shape}{opts}")) {
            big_replies += usize::from(found.len() > 40);
        }
        let store = format!(
            "GEOSEARCHSTORE dst {key} {center} {shape}{}{}",
            opts.replace(" WITHDIST", "")
                .replace(" WITHCOORD", "")
                .replace(" WITHHASH", ""),
            if rng.below(2) == 0 { " STOREDIST" } else { "" }
        );
        both(&store);
        both("ZRANGE dst 0 -1 WITHSCORES");
        both("OBJECT ENCODING dst");
    }
    assert!(
        big_replies > 20,
        "only {big_replies} searches found more than 40 points"
    );
}
