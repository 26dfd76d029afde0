//! Sorted sets over the wire: byte-exact RESP2 and RESP3 replies of every
//! command, including errors and WRONGTYPE, encoding conversions and big
//! sets. The expected bytes are Redis 7.0's own: `tables_match_redis`
//! (ignored, needs `redis-server`) runs the same tables against it.

mod common;

use std::net::SocketAddr;

use common::{encode, rss_bytes, Conn, RedisServer, TestServer};
use shoal_resp::Frame;

/// A request (inline) and the exact reply, both without the final CRLF.
type Case = (&'static str, &'static str);

/// Sends every case on one connection; after each request outside MULTI
/// a PING, so extra or missing bytes show as a mismatch.
fn check_table(addr: SocketAddr, resp3: bool, table: &[Case]) {
    let mut conn = Conn::connect(addr);
    if resp3 {
        let hello = conn.command(&[b"HELLO", b"3"]);
        assert!(matches!(hello, Frame::Map(_)), "HELLO 3 replied {hello:?}");
    }
    let mut in_multi = false;
    for (i, (input, expected)) in table.iter().enumerate() {
        let name = input.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let opens_multi = name == "MULTI";
        let sentinel = !in_multi && !opens_multi;
        let mut request = format!("{input}\r\n").into_bytes();
        let mut want = format!("{expected}\r\n");
        if sentinel {
            request.extend_from_slice(b"PING\r\n");
            want.push_str("+PONG\r\n");
        }
        conn.send(&request);
        let got = conn.read_exact_or_eof(want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "case {i} (resp3={resp3}): request {input:?}"
        );
        if opens_multi {
            in_multi = true;
        } else if name == "EXEC" {
            in_multi = false;
        }
    }
}

fn table_resp2() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("ZADD z 1 a 2 b 3 c", ":3"),
        ("ZADD z NX XX 1 a", "-ERR XX and NX options at the same time are not compatible"),
        ("ZADD z GT LT 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("ZADD z NX GT 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("ZADD z INCR 1 a 2 b", "-ERR INCR option supports a single increment-element pair"),
        ("ZADD z 1", "-ERR wrong number of arguments for 'zadd' command"),
        ("ZADD z x a", "-ERR value is not a valid float"),
        ("ZADD z nan a", "-ERR value is not a valid float"),
        ("ZADD z INCR 2.5 a", "$3\r\n3.5"),
        ("ZADD z XX INCR 1 nosuch", "$-1"),
        ("ZADD z NX INCR 1 a", "$-1"),
        ("ZADD z CH GT 0 a 10 b 5 d", ":2"),
        ("ZADD z CH XX 7 d 9 nosuch", ":1"),
        ("ZINCRBY z 1 c", "$1\r\n4"),
        ("ZINCRBY z nx c", "-ERR syntax error"),
        ("ZINCRBY z inf c", "$3\r\ninf"),
        ("ZINCRBY z -inf c", "-ERR resulting score is not a number (NaN)"),
        ("ZINCRBY z -inf c2", "$4\r\n-inf"),
        ("ZSCORE z a", "$3\r\n3.5"),
        ("ZSCORE z nosuch", "$-1"),
        ("ZSCORE nokey a", "$-1"),
        ("ZMSCORE z a nosuch b", "*3\r\n$3\r\n3.5\r\n$-1\r\n$2\r\n10"),
        ("ZMSCORE nokey a", "*1\r\n$-1"),
        ("ZCARD z", ":5"),
        ("ZCARD nokey", ":0"),
        ("ZRANK z b", ":3"),
        ("ZREVRANK z b", ":1"),
        ("ZRANK z nosuch", "$-1"),
        ("ZRANK nokey a", "$-1"),
        ("ZRANGE z 0 -1 WITHSCORES", "*10\r\n$2\r\nc2\r\n$4\r\n-inf\r\n$1\r\na\r\n$3\r\n3.5\r\n$1\r\nd\r\n$1\r\n7\r\n$1\r\nb\r\n$2\r\n10\r\n$1\r\nc\r\n$3\r\ninf"),
        ("ZRANGE z 0 -1 REV", "*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n$2\r\nc2"),
        ("ZRANGE z -2 100", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZRANGE z 5 1", "*0"),
        ("ZRANGE z (1 +inf BYSCORE LIMIT 0 2 WITHSCORES", "*4\r\n$1\r\na\r\n$3\r\n3.5\r\n$1\r\nd\r\n$1\r\n7"),
        ("ZRANGE z +inf (1 BYSCORE REV LIMIT 1 5", "*3\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na"),
        ("ZRANGE z 0 -1 LIMIT 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("ZRANGE z - + BYLEX WITHSCORES", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
        ("ZRANGE z 0 -1 FOO", "-ERR syntax error"),
        ("ZRANGE z 0 x", "-ERR value is not an integer or out of range"),
        ("ZRANGE nokey 0 -1", "*0"),
        ("ZREVRANGE z 0 0 WITHSCORES", "*2\r\n$1\r\nc\r\n$3\r\ninf"),
        ("ZREVRANGE z 0 -1 REV", "-ERR syntax error"),
        ("ZRANGEBYSCORE z -inf +inf WITHSCORES", "*10\r\n$2\r\nc2\r\n$4\r\n-inf\r\n$1\r\na\r\n$3\r\n3.5\r\n$1\r\nd\r\n$1\r\n7\r\n$1\r\nb\r\n$2\r\n10\r\n$1\r\nc\r\n$3\r\ninf"),
        ("ZRANGEBYSCORE z -inf +inf LIMIT -1 2", "*0"),
        ("ZREVRANGEBYSCORE z +inf -inf LIMIT 1 1", "*1\r\n$1\r\nb"),
        ("ZRANGEBYSCORE z x 1", "-ERR min or max is not a float"),
        ("ZRANGEBYSCORE z (nan 1", "-ERR min or max is not a float"),
        ("ZCOUNT z -inf +inf", ":5"),
        ("ZCOUNT z (2.5 3", ":0"),
        ("ZCOUNT z 3 2", ":0"),
        ("ZCOUNT nokey 0 1", ":0"),
        ("ZADD l 0 a 0 b 0 c 0 d", ":4"),
        ("ZRANGEBYLEX l [b (d", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZRANGEBYLEX l - + LIMIT 1 2", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZREVRANGEBYLEX l + -", "*4\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na"),
        ("ZREVRANGEBYLEX l (c -", "*2\r\n$1\r\nb\r\n$1\r\na"),
        ("ZRANGEBYLEX l a b", "-ERR min or max not valid string range item"),
        ("ZLEXCOUNT l - +", ":4"),
        ("ZLEXCOUNT l [b [b", ":1"),
        ("ZLEXCOUNT l (b (b", ":0"),
        ("ZLEXCOUNT l + -", ":0"),
        ("ZRANGESTORE dst z 0 1", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*4\r\n$2\r\nc2\r\n$4\r\n-inf\r\n$1\r\na\r\n$3\r\n3.5"),
        ("ZRANGESTORE dst z 0 1 WITHSCORES", "-ERR syntax error"),
        ("ZRANGESTORE dst nokey 0 -1", ":0"),
        ("EXISTS dst", ":0"),
        ("ZREMRANGEBYLEX l [a [b", ":2"),
        ("ZREMRANGEBYRANK l 0 0", ":1"),
        ("ZREMRANGEBYRANK l x 0", "-ERR value is not an integer or out of range"),
        ("ZREMRANGEBYSCORE z -inf (2", ":1"),
        ("ZREMRANGEBYSCORE nokey -inf +inf", ":0"),
        ("ZREMRANGEBYSCORE z a b", "-ERR min or max is not a float"),
        ("ZPOPMIN z", "*2\r\n$1\r\na\r\n$3\r\n3.5"),
        ("ZPOPMAX z 2", "*4\r\n$1\r\nc\r\n$3\r\ninf\r\n$1\r\nb\r\n$2\r\n10"),
        ("ZPOPMIN z 0", "*0"),
        ("ZPOPMIN nokey", "*0"),
        ("ZPOPMIN z -1", "-ERR value is out of range, must be positive"),
        ("ZPOPMIN z 1 2", "-ERR syntax error"),
        ("ZMPOP 2 nokey l MIN COUNT 5", "*2\r\n$1\r\nl\r\n*1\r\n*2\r\n$1\r\nd\r\n$1\r\n0"),
        ("EXISTS l", ":0"),
        ("ZMPOP 1 nokey MAX", "*-1"),
        ("ZMPOP 0 l MIN", "-ERR numkeys should be greater than 0"),
        ("ZMPOP 1 l LEFT", "-ERR syntax error"),
        ("ZMPOP 1 l MIN COUNT 0", "-ERR count should be greater than 0"),
        ("SET s v", "+OK"),
        ("ZADD s 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZRANGE s 0 -1", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZSCORE s a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZPOPMIN s", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZUNIONSTORE out 2 s z", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZADD u1 1 a 2 b", ":2"),
        ("ZADD u2 3 b 4 c", ":2"),
        ("ZUNION 2 u1 u2 WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n5"),
        ("ZUNION 2 u1 u2 WEIGHTS 2 1 AGGREGATE MAX WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n4"),
        ("ZUNION 2 u1 u2 WEIGHTS 2", "-ERR syntax error"),
        ("ZUNION 2 u1 u2 WEIGHTS 2 x", "-ERR weight value is not a float"),
        ("ZUNION 2 u1 u2 AGGREGATE AVG", "-ERR syntax error"),
        ("ZINTER 2 u1 u2 WITHSCORES", "*2\r\n$1\r\nb\r\n$1\r\n5"),
        ("ZINTER 2 u1 u2 AGGREGATE MIN WITHSCORES", "*2\r\n$1\r\nb\r\n$1\r\n2"),
        ("ZDIFF 2 u1 u2 WITHSCORES", "*2\r\n$1\r\na\r\n$1\r\n1"),
        ("ZDIFF 2 u1 u2 WEIGHTS 1 1", "-ERR syntax error"),
        ("ZINTERCARD 2 u1 u2", ":1"),
        ("ZINTERCARD 2 u1 u2 LIMIT 0", ":1"),
        ("ZINTERCARD 2 u1 u2 LIMIT -1", "-ERR LIMIT can't be negative"),
        ("ZINTERCARD 0 u1", "-ERR at least 1 input key is needed for 'zintercard' command"),
        ("ZUNIONSTORE out 2 u1 u2", ":3"),
        ("ZRANGE out 0 -1 WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n5"),
        ("ZINTERSTORE out 2 u1 nokey", ":0"),
        ("EXISTS out", ":0"),
        ("ZDIFFSTORE out 1 u1", ":2"),
        ("ZUNION 0 u1", "-ERR at least 1 input key is needed for 'zunion' command"),
        ("ZUNION 3 u1 u2", "-ERR syntax error"),
        ("ZRANDMEMBER nokey", "$-1"),
        ("ZRANDMEMBER nokey 5", "*0"),
        ("ZRANDMEMBER u1 0", "*0"),
        ("ZRANDMEMBER u1 5 WITHSCORES", "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1"),
        ("ZRANDMEMBER u1 1 x", "-ERR syntax error"),
        ("ZRANDMEMBER u1 -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        ("ZRANDMEMBER u1 9223372036854775807 WITHSCORES", "-ERR value is out of range"),
        ("ZSCAN u1 0", "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2"),
        ("ZSCAN u1 0 MATCH a*", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1"),
        ("ZSCAN u1 x", "-ERR invalid cursor"),
        ("ZSCAN nokey 0", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN u1 0 COUNT 0", "-ERR syntax error"),
        ("BZPOPMIN nokey u1 0", "*3\r\n$2\r\nu1\r\n$1\r\na\r\n$1\r\n1"),
        ("BZPOPMAX u1 -1", "-ERR timeout is negative"),
        ("BZPOPMAX u1 x", "-ERR timeout is not a float or out of range"),
        ("BZMPOP 0 1 u2 MAX COUNT 2", "*2\r\n$2\r\nu2\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n4\r\n*2\r\n$1\r\nb\r\n$1\r\n3"),
        ("BZMPOP -1 1 u2 MAX", "-ERR timeout is negative"),
        ("MULTI", "+OK"),
        ("BZPOPMIN nokey 0", "+QUEUED"),
        ("BZMPOP 0 1 nokey MIN", "+QUEUED"),
        ("EXEC", "*2\r\n*-1\r\n*-1"),
        ("ZADD zero -0 m", ":1"),
        ("ZSCORE zero m", "$1\r\n0"),
        ("ZADD zero INCR 1.5 m", "$3\r\n1.5"),
        ("ZADD zero INCR 0.1 m", "$18\r\n1.6000000000000001"),
        ("ZINCRBY zero 1e308 m", "$6\r\n1e+308"),
        ("ZINCRBY zero 1e308 m", "$3\r\ninf"),
    ]
}

fn table_resp3() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("ZADD z 1 a 2 b 3 c", ":3"),
        ("ZADD z NX XX 1 a", "-ERR XX and NX options at the same time are not compatible"),
        ("ZADD z GT LT 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("ZADD z NX GT 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("ZADD z INCR 1 a 2 b", "-ERR INCR option supports a single increment-element pair"),
        ("ZADD z 1", "-ERR wrong number of arguments for 'zadd' command"),
        ("ZADD z x a", "-ERR value is not a valid float"),
        ("ZADD z nan a", "-ERR value is not a valid float"),
        ("ZADD z INCR 2.5 a", ",3.5"),
        ("ZADD z XX INCR 1 nosuch", "_"),
        ("ZADD z NX INCR 1 a", "_"),
        ("ZADD z CH GT 0 a 10 b 5 d", ":2"),
        ("ZADD z CH XX 7 d 9 nosuch", ":1"),
        ("ZINCRBY z 1 c", ",4"),
        ("ZINCRBY z nx c", "-ERR syntax error"),
        ("ZINCRBY z inf c", ",inf"),
        ("ZINCRBY z -inf c", "-ERR resulting score is not a number (NaN)"),
        ("ZINCRBY z -inf c2", ",-inf"),
        ("ZSCORE z a", ",3.5"),
        ("ZSCORE z nosuch", "_"),
        ("ZSCORE nokey a", "_"),
        ("ZMSCORE z a nosuch b", "*3\r\n,3.5\r\n_\r\n,10"),
        ("ZMSCORE nokey a", "*1\r\n_"),
        ("ZCARD z", ":5"),
        ("ZCARD nokey", ":0"),
        ("ZRANK z b", ":3"),
        ("ZREVRANK z b", ":1"),
        ("ZRANK z nosuch", "_"),
        ("ZRANK nokey a", "_"),
        ("ZRANGE z 0 -1 WITHSCORES", "*5\r\n*2\r\n$2\r\nc2\r\n,-inf\r\n*2\r\n$1\r\na\r\n,3.5\r\n*2\r\n$1\r\nd\r\n,7\r\n*2\r\n$1\r\nb\r\n,10\r\n*2\r\n$1\r\nc\r\n,inf"),
        ("ZRANGE z 0 -1 REV", "*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n$2\r\nc2"),
        ("ZRANGE z -2 100", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZRANGE z 5 1", "*0"),
        ("ZRANGE z (1 +inf BYSCORE LIMIT 0 2 WITHSCORES", "*2\r\n*2\r\n$1\r\na\r\n,3.5\r\n*2\r\n$1\r\nd\r\n,7"),
        ("ZRANGE z +inf (1 BYSCORE REV LIMIT 1 5", "*3\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na"),
        ("ZRANGE z 0 -1 LIMIT 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("ZRANGE z - + BYLEX WITHSCORES", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
        ("ZRANGE z 0 -1 FOO", "-ERR syntax error"),
        ("ZRANGE z 0 x", "-ERR value is not an integer or out of range"),
        ("ZRANGE nokey 0 -1", "*0"),
        ("ZREVRANGE z 0 0 WITHSCORES", "*1\r\n*2\r\n$1\r\nc\r\n,inf"),
        ("ZREVRANGE z 0 -1 REV", "-ERR syntax error"),
        ("ZRANGEBYSCORE z -inf +inf WITHSCORES", "*5\r\n*2\r\n$2\r\nc2\r\n,-inf\r\n*2\r\n$1\r\na\r\n,3.5\r\n*2\r\n$1\r\nd\r\n,7\r\n*2\r\n$1\r\nb\r\n,10\r\n*2\r\n$1\r\nc\r\n,inf"),
        ("ZRANGEBYSCORE z -inf +inf LIMIT -1 2", "*0"),
        ("ZREVRANGEBYSCORE z +inf -inf LIMIT 1 1", "*1\r\n$1\r\nb"),
        ("ZRANGEBYSCORE z x 1", "-ERR min or max is not a float"),
        ("ZRANGEBYSCORE z (nan 1", "-ERR min or max is not a float"),
        ("ZCOUNT z -inf +inf", ":5"),
        ("ZCOUNT z (2.5 3", ":0"),
        ("ZCOUNT z 3 2", ":0"),
        ("ZCOUNT nokey 0 1", ":0"),
        ("ZADD l 0 a 0 b 0 c 0 d", ":4"),
        ("ZRANGEBYLEX l [b (d", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZRANGEBYLEX l - + LIMIT 1 2", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZREVRANGEBYLEX l + -", "*4\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na"),
        ("ZREVRANGEBYLEX l (c -", "*2\r\n$1\r\nb\r\n$1\r\na"),
        ("ZRANGEBYLEX l a b", "-ERR min or max not valid string range item"),
        ("ZLEXCOUNT l - +", ":4"),
        ("ZLEXCOUNT l [b [b", ":1"),
        ("ZLEXCOUNT l (b (b", ":0"),
        ("ZLEXCOUNT l + -", ":0"),
        ("ZRANGESTORE dst z 0 1", ":2"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*2\r\n*2\r\n$2\r\nc2\r\n,-inf\r\n*2\r\n$1\r\na\r\n,3.5"),
        ("ZRANGESTORE dst z 0 1 WITHSCORES", "-ERR syntax error"),
        ("ZRANGESTORE dst nokey 0 -1", ":0"),
        ("EXISTS dst", ":0"),
        ("ZREMRANGEBYLEX l [a [b", ":2"),
        ("ZREMRANGEBYRANK l 0 0", ":1"),
        ("ZREMRANGEBYRANK l x 0", "-ERR value is not an integer or out of range"),
        ("ZREMRANGEBYSCORE z -inf (2", ":1"),
        ("ZREMRANGEBYSCORE nokey -inf +inf", ":0"),
        ("ZREMRANGEBYSCORE z a b", "-ERR min or max is not a float"),
        ("ZPOPMIN z", "*2\r\n$1\r\na\r\n,3.5"),
        ("ZPOPMAX z 2", "*2\r\n*2\r\n$1\r\nc\r\n,inf\r\n*2\r\n$1\r\nb\r\n,10"),
        ("ZPOPMIN z 0", "*0"),
        ("ZPOPMIN nokey", "*0"),
        ("ZPOPMIN z -1", "-ERR value is out of range, must be positive"),
        ("ZPOPMIN z 1 2", "-ERR syntax error"),
        ("ZMPOP 2 nokey l MIN COUNT 5", "*2\r\n$1\r\nl\r\n*1\r\n*2\r\n$1\r\nd\r\n,0"),
        ("EXISTS l", ":0"),
        ("ZMPOP 1 nokey MAX", "_"),
        ("ZMPOP 0 l MIN", "-ERR numkeys should be greater than 0"),
        ("ZMPOP 1 l LEFT", "-ERR syntax error"),
        ("ZMPOP 1 l MIN COUNT 0", "-ERR count should be greater than 0"),
        ("SET s v", "+OK"),
        ("ZADD s 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZRANGE s 0 -1", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZSCORE s a", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZPOPMIN s", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZUNIONSTORE out 2 s z", "-WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ZADD u1 1 a 2 b", ":2"),
        ("ZADD u2 3 b 4 c", ":2"),
        ("ZUNION 2 u1 u2 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nc\r\n,4\r\n*2\r\n$1\r\nb\r\n,5"),
        ("ZUNION 2 u1 u2 WEIGHTS 2 1 AGGREGATE MAX WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,2\r\n*2\r\n$1\r\nb\r\n,4\r\n*2\r\n$1\r\nc\r\n,4"),
        ("ZUNION 2 u1 u2 WEIGHTS 2", "-ERR syntax error"),
        ("ZUNION 2 u1 u2 WEIGHTS 2 x", "-ERR weight value is not a float"),
        ("ZUNION 2 u1 u2 AGGREGATE AVG", "-ERR syntax error"),
        ("ZINTER 2 u1 u2 WITHSCORES", "*1\r\n*2\r\n$1\r\nb\r\n,5"),
        ("ZINTER 2 u1 u2 AGGREGATE MIN WITHSCORES", "*1\r\n*2\r\n$1\r\nb\r\n,2"),
        ("ZDIFF 2 u1 u2 WITHSCORES", "*1\r\n*2\r\n$1\r\na\r\n,1"),
        ("ZDIFF 2 u1 u2 WEIGHTS 1 1", "-ERR syntax error"),
        ("ZINTERCARD 2 u1 u2", ":1"),
        ("ZINTERCARD 2 u1 u2 LIMIT 0", ":1"),
        ("ZINTERCARD 2 u1 u2 LIMIT -1", "-ERR LIMIT can't be negative"),
        ("ZINTERCARD 0 u1", "-ERR at least 1 input key is needed for 'zintercard' command"),
        ("ZUNIONSTORE out 2 u1 u2", ":3"),
        ("ZRANGE out 0 -1 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nc\r\n,4\r\n*2\r\n$1\r\nb\r\n,5"),
        ("ZINTERSTORE out 2 u1 nokey", ":0"),
        ("EXISTS out", ":0"),
        ("ZDIFFSTORE out 1 u1", ":2"),
        ("ZUNION 0 u1", "-ERR at least 1 input key is needed for 'zunion' command"),
        ("ZUNION 3 u1 u2", "-ERR syntax error"),
        ("ZRANDMEMBER nokey", "_"),
        ("ZRANDMEMBER nokey 5", "*0"),
        ("ZRANDMEMBER u1 0", "*0"),
        ("ZRANDMEMBER u1 5 WITHSCORES", "*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\na\r\n,1"),
        ("ZRANDMEMBER u1 1 x", "-ERR syntax error"),
        ("ZRANDMEMBER u1 -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        ("ZRANDMEMBER u1 9223372036854775807 WITHSCORES", "-ERR value is out of range"),
        ("ZSCAN u1 0", "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2"),
        ("ZSCAN u1 0 MATCH a*", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1"),
        ("ZSCAN u1 x", "-ERR invalid cursor"),
        ("ZSCAN nokey 0", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN u1 0 COUNT 0", "-ERR syntax error"),
        ("BZPOPMIN nokey u1 0", "*3\r\n$2\r\nu1\r\n$1\r\na\r\n,1"),
        ("BZPOPMAX u1 -1", "-ERR timeout is negative"),
        ("BZPOPMAX u1 x", "-ERR timeout is not a float or out of range"),
        ("BZMPOP 0 1 u2 MAX COUNT 2", "*2\r\n$2\r\nu2\r\n*2\r\n*2\r\n$1\r\nc\r\n,4\r\n*2\r\n$1\r\nb\r\n,3"),
        ("BZMPOP -1 1 u2 MAX", "-ERR timeout is negative"),
        ("MULTI", "+OK"),
        ("BZPOPMIN nokey 0", "+QUEUED"),
        ("BZMPOP 0 1 nokey MIN", "+QUEUED"),
        ("EXEC", "*2\r\n_\r\n_"),
        ("ZADD zero -0 m", ":1"),
        ("ZSCORE zero m", ",0"),
        ("ZADD zero INCR 1.5 m", ",1.5"),
        ("ZADD zero INCR 0.1 m", ",1.6000000000000001"),
        ("ZINCRBY zero 1e308 m", ",1e+308"),
        ("ZINCRBY zero 1e308 m", ",inf"),
    ]
}

/// Edge cases: mixed-score lex ranges, GT/LT/INCR combinations,
/// infinities in set algebra, LIMIT forms, score formatting.
fn edge_resp2() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("ZADD m 3 a 1 b 2 c 1 d 0 e 5 f", ":6"),
        ("ZRANGEBYLEX m [b [e", "*5\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na"),
        ("ZRANGEBYLEX m - (c", "*0"),
        ("ZREVRANGEBYLEX m [e [b", "*0"),
        ("ZREVRANGEBYLEX m + - LIMIT 1 2", "*2\r\n$1\r\na\r\n$1\r\nc"),
        ("ZLEXCOUNT m [b [e", ":5"),
        ("ZLEXCOUNT m - +", ":6"),
        ("ZRANGE m [c [a BYLEX REV", "*0"),
        ("ZRANGESTORE dst m [a [f BYLEX", ":6"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*12\r\n$1\r\ne\r\n$1\r\n0\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nd\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nf\r\n$1\r\n5"),
        ("ZREMRANGEBYLEX m [c [f", ":6"),
        ("ZRANGE m 0 -1 WITHSCORES", "*0"),
        ("ZADD g 5 a", ":1"),
        ("ZADD g GT CH 4 a", ":0"),
        ("ZADD g GT CH 6 a", ":1"),
        ("ZADD g LT CH 6 a 1 b", ":1"),
        ("ZADD g GT INCR -1 a", "$-1"),
        ("ZADD g LT INCR -1 a", "$1\r\n5"),
        ("ZADD g XX GT CH INCR 1 a", "$1\r\n6"),
        ("ZADD g XX NX 1 a", "-ERR XX and NX options at the same time are not compatible"),
        ("ZADD g CH CH CH 1 a", ":1"),
        ("ZADD g INCR INCR 1 a", "$1\r\n2"),
        ("ZINCRBY g 1 newm", "$1\r\n1"),
        ("ZADD w1 inf a 1 b -inf c", ":3"),
        ("ZADD w2 -inf a 2 b inf c", ":3"),
        ("ZUNION 2 w1 w2 WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nc\r\n$1\r\n0\r\n$1\r\nb\r\n$1\r\n3"),
        ("ZUNION 2 w1 w2 WEIGHTS 0 1 WITHSCORES", "*6\r\n$1\r\na\r\n$4\r\n-inf\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$3\r\ninf"),
        ("ZUNION 2 w1 w2 AGGREGATE MIN WITHSCORES", "*6\r\n$1\r\na\r\n$4\r\n-inf\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\nb\r\n$1\r\n1"),
        ("ZINTER 2 w1 w2 WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nc\r\n$1\r\n0\r\n$1\r\nb\r\n$1\r\n3"),
        ("ZINTER 2 w1 w1 WEIGHTS 1 2 WITHSCORES", "*6\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\nb\r\n$1\r\n3\r\n$1\r\na\r\n$3\r\ninf"),
        ("ZINTER 3 w1 w2 nokey WITHSCORES", "*0"),
        ("ZDIFF 2 w1 w1", "*0"),
        ("ZDIFF 1 w1 WITHSCORES", "*6\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\ninf"),
        ("ZINTERCARD 2 w1 w2 LIMIT 1", ":1"),
        ("ZINTERSTORE w3 2 w1 w2 WEIGHTS 2 inf", ":3"),
        ("ZRANGE w3 0 -1 WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nc\r\n$1\r\n0\r\n$1\r\nb\r\n$3\r\ninf"),
        ("ZUNIONSTORE w1 2 w1 w2", ":3"),
        ("ZRANGE w1 0 -1 WITHSCORES", "*6\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nc\r\n$1\r\n0\r\n$1\r\nb\r\n$1\r\n3"),
        ("ZUNION 1 w1 LIMIT 1", "-ERR syntax error"),
        ("ZINTERCARD 1 w1 WITHSCORES", "-ERR syntax error"),
        ("ZINTERCARD 1 w1 WEIGHTS 1", "-ERR syntax error"),
        ("ZDIFFSTORE d 2 w1 w2 WITHSCORES", "-ERR syntax error"),
        ("ZUNIONSTORE d 1 w1 WITHSCORES", "-ERR syntax error"),
        ("ZMPOP 1 w2 MAX COUNT 10", "*2\r\n$2\r\nw2\r\n*3\r\n*2\r\n$1\r\nc\r\n$3\r\ninf\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$4\r\n-inf"),
        ("ZMPOP 1 w2 MAX COUNT 1 COUNT 1", "-ERR syntax error"),
        ("ZMPOP 1 w2 MAX COUNT", "-ERR syntax error"),
        ("ZADD p 1 a 2 b 3 c", ":3"),
        ("ZPOPMAX p 10", "*6\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1"),
        ("EXISTS p", ":0"),
        ("ZADD r 1 a 2 b 3 c 4 d", ":4"),
        ("ZRANGE r 1 9223372036854775807", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd"),
        ("ZRANGE r -9223372036854775808 1", "*2\r\n$1\r\na\r\n$1\r\nb"),
        ("ZRANGE r -100 -3", "*2\r\n$1\r\na\r\n$1\r\nb"),
        ("ZRANGEBYSCORE r (1 (4 WITHSCORES LIMIT 1 1", "*2\r\n$1\r\nc\r\n$1\r\n3"),
        ("ZRANGEBYSCORE r (1 (4 LIMIT 0 0", "*0"),
        ("ZRANGEBYSCORE r (1 (4 LIMIT 0 -1", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZRANGEBYSCORE r (1 (4 LIMIT 5 1", "*0"),
        ("ZREVRANGEBYSCORE r (4 (1 LIMIT 0 -1", "*2\r\n$1\r\nc\r\n$1\r\nb"),
        ("ZREVRANGEBYSCORE r 1 4", "*0"),
        ("ZRANGEBYSCORE r 4 1", "*0"),
        ("ZRANGEBYSCORE r 2 2", "*1\r\n$1\r\nb"),
        ("ZRANGEBYSCORE r (2 2", "*0"),
        ("ZRANGE r 4 1 BYSCORE REV WITHSCORES", "*8\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1"),
        ("ZRANGESTORE dst r 1 2 BYSCORE LIMIT 1 5", ":1"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*2\r\n$1\r\nb\r\n$1\r\n2"),
        ("ZRANGESTORE dst r 1 2 BYSCORE LIMIT 5 5", ":0"),
        ("EXISTS dst", ":0"),
        ("ZRANGE r 0 -1 BYSCORE", "*0"),
        ("ZRANGE r (1 (3 BYSCORE LIMIT 0 1 LIMIT 0 2", "*1\r\n$1\r\nb"),
        ("ZREMRANGEBYRANK r -2 -1", ":2"),
        ("ZREMRANGEBYRANK r 5 10", ":0"),
        ("ZREMRANGEBYSCORE r (1 +inf", ":1"),
        ("ZREMRANGEBYSCORE r -inf +inf", ":1"),
        ("EXISTS r", ":0"),
        ("ZSCAN m 0 MATCH [ab]*", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN m 0 COUNT 1", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN m 0 MATCH", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN m 5", "*2\r\n$1\r\n0\r\n*0"),
        ("ZMSCORE m a zzz", "*2\r\n$-1\r\n$-1"),
        ("ZADD s1 1 a", ":1"),
        ("ZADD s1 1.0000000000000002 b 0.30000000000000004 c 1e-300 d -1e300 e 123456789012345680000 f", ":5"),
        ("ZRANGE s1 0 -1 WITHSCORES", "*12\r\n$1\r\ne\r\n$24\r\n-1.0000000000000001e+300\r\n$1\r\nd\r\n$6\r\n1e-300\r\n$1\r\nc\r\n$19\r\n0.30000000000000004\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$18\r\n1.0000000000000002\r\n$1\r\nf\r\n$22\r\n1.2345678901234568e+20"),
        ("ZSCAN s1 0", "*2\r\n$1\r\n0\r\n*12\r\n$1\r\ne\r\n$24\r\n-1.0000000000000001e+300\r\n$1\r\nd\r\n$6\r\n1e-300\r\n$1\r\nc\r\n$19\r\n0.30000000000000004\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$18\r\n1.0000000000000002\r\n$1\r\nf\r\n$22\r\n1.2345678901234568e+20"),
        ("ZCOUNT s1 \" 1\" 1", ":1"),
        ("ZCOUNT s1 1e400 -1e400", ":0"),
        ("ZCOUNT s1 -1e400 1e400", ":6"),
        ("ZCOUNT s1 \"(\" \"(\"", ":0"),
        ("ZCOUNT s1 \"\" 2", ":4"),
    ]
}

fn edge_resp3() -> Vec<Case> {
    vec![
        ("FLUSHALL", "+OK"),
        ("ZADD m 3 a 1 b 2 c 1 d 0 e 5 f", ":6"),
        ("ZRANGEBYLEX m [b [e", "*5\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na"),
        ("ZRANGEBYLEX m - (c", "*0"),
        ("ZREVRANGEBYLEX m [e [b", "*0"),
        ("ZREVRANGEBYLEX m + - LIMIT 1 2", "*2\r\n$1\r\na\r\n$1\r\nc"),
        ("ZLEXCOUNT m [b [e", ":5"),
        ("ZLEXCOUNT m - +", ":6"),
        ("ZRANGE m [c [a BYLEX REV", "*0"),
        ("ZRANGESTORE dst m [a [f BYLEX", ":6"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*6\r\n*2\r\n$1\r\ne\r\n,0\r\n*2\r\n$1\r\nb\r\n,1\r\n*2\r\n$1\r\nd\r\n,1\r\n*2\r\n$1\r\nc\r\n,2\r\n*2\r\n$1\r\na\r\n,3\r\n*2\r\n$1\r\nf\r\n,5"),
        ("ZREMRANGEBYLEX m [c [f", ":6"),
        ("ZRANGE m 0 -1 WITHSCORES", "*0"),
        ("ZADD g 5 a", ":1"),
        ("ZADD g GT CH 4 a", ":0"),
        ("ZADD g GT CH 6 a", ":1"),
        ("ZADD g LT CH 6 a 1 b", ":1"),
        ("ZADD g GT INCR -1 a", "_"),
        ("ZADD g LT INCR -1 a", ",5"),
        ("ZADD g XX GT CH INCR 1 a", ",6"),
        ("ZADD g XX NX 1 a", "-ERR XX and NX options at the same time are not compatible"),
        ("ZADD g CH CH CH 1 a", ":1"),
        ("ZADD g INCR INCR 1 a", ",2"),
        ("ZINCRBY g 1 newm", ",1"),
        ("ZADD w1 inf a 1 b -inf c", ":3"),
        ("ZADD w2 -inf a 2 b inf c", ":3"),
        ("ZUNION 2 w1 w2 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,0\r\n*2\r\n$1\r\nc\r\n,0\r\n*2\r\n$1\r\nb\r\n,3"),
        ("ZUNION 2 w1 w2 WEIGHTS 0 1 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,-inf\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,inf"),
        ("ZUNION 2 w1 w2 AGGREGATE MIN WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,-inf\r\n*2\r\n$1\r\nc\r\n,-inf\r\n*2\r\n$1\r\nb\r\n,1"),
        ("ZINTER 2 w1 w2 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,0\r\n*2\r\n$1\r\nc\r\n,0\r\n*2\r\n$1\r\nb\r\n,3"),
        ("ZINTER 2 w1 w1 WEIGHTS 1 2 WITHSCORES", "*3\r\n*2\r\n$1\r\nc\r\n,-inf\r\n*2\r\n$1\r\nb\r\n,3\r\n*2\r\n$1\r\na\r\n,inf"),
        ("ZINTER 3 w1 w2 nokey WITHSCORES", "*0"),
        ("ZDIFF 2 w1 w1", "*0"),
        ("ZDIFF 1 w1 WITHSCORES", "*3\r\n*2\r\n$1\r\nc\r\n,-inf\r\n*2\r\n$1\r\nb\r\n,1\r\n*2\r\n$1\r\na\r\n,inf"),
        ("ZINTERCARD 2 w1 w2 LIMIT 1", ":1"),
        ("ZINTERSTORE w3 2 w1 w2 WEIGHTS 2 inf", ":3"),
        ("ZRANGE w3 0 -1 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,0\r\n*2\r\n$1\r\nc\r\n,0\r\n*2\r\n$1\r\nb\r\n,inf"),
        ("ZUNIONSTORE w1 2 w1 w2", ":3"),
        ("ZRANGE w1 0 -1 WITHSCORES", "*3\r\n*2\r\n$1\r\na\r\n,0\r\n*2\r\n$1\r\nc\r\n,0\r\n*2\r\n$1\r\nb\r\n,3"),
        ("ZUNION 1 w1 LIMIT 1", "-ERR syntax error"),
        ("ZINTERCARD 1 w1 WITHSCORES", "-ERR syntax error"),
        ("ZINTERCARD 1 w1 WEIGHTS 1", "-ERR syntax error"),
        ("ZDIFFSTORE d 2 w1 w2 WITHSCORES", "-ERR syntax error"),
        ("ZUNIONSTORE d 1 w1 WITHSCORES", "-ERR syntax error"),
        ("ZMPOP 1 w2 MAX COUNT 10", "*2\r\n$2\r\nw2\r\n*3\r\n*2\r\n$1\r\nc\r\n,inf\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\na\r\n,-inf"),
        ("ZMPOP 1 w2 MAX COUNT 1 COUNT 1", "-ERR syntax error"),
        ("ZMPOP 1 w2 MAX COUNT", "-ERR syntax error"),
        ("ZADD p 1 a 2 b 3 c", ":3"),
        ("ZPOPMAX p 10", "*3\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\na\r\n,1"),
        ("EXISTS p", ":0"),
        ("ZADD r 1 a 2 b 3 c 4 d", ":4"),
        ("ZRANGE r 1 9223372036854775807", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd"),
        ("ZRANGE r -9223372036854775808 1", "*2\r\n$1\r\na\r\n$1\r\nb"),
        ("ZRANGE r -100 -3", "*2\r\n$1\r\na\r\n$1\r\nb"),
        ("ZRANGEBYSCORE r (1 (4 WITHSCORES LIMIT 1 1", "*1\r\n*2\r\n$1\r\nc\r\n,3"),
        ("ZRANGEBYSCORE r (1 (4 LIMIT 0 0", "*0"),
        ("ZRANGEBYSCORE r (1 (4 LIMIT 0 -1", "*2\r\n$1\r\nb\r\n$1\r\nc"),
        ("ZRANGEBYSCORE r (1 (4 LIMIT 5 1", "*0"),
        ("ZREVRANGEBYSCORE r (4 (1 LIMIT 0 -1", "*2\r\n$1\r\nc\r\n$1\r\nb"),
        ("ZREVRANGEBYSCORE r 1 4", "*0"),
        ("ZRANGEBYSCORE r 4 1", "*0"),
        ("ZRANGEBYSCORE r 2 2", "*1\r\n$1\r\nb"),
        ("ZRANGEBYSCORE r (2 2", "*0"),
        ("ZRANGE r 4 1 BYSCORE REV WITHSCORES", "*4\r\n*2\r\n$1\r\nd\r\n,4\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\na\r\n,1"),
        ("ZRANGESTORE dst r 1 2 BYSCORE LIMIT 1 5", ":1"),
        ("ZRANGE dst 0 -1 WITHSCORES", "*1\r\n*2\r\n$1\r\nb\r\n,2"),
        ("ZRANGESTORE dst r 1 2 BYSCORE LIMIT 5 5", ":0"),
        ("EXISTS dst", ":0"),
        ("ZRANGE r 0 -1 BYSCORE", "*0"),
        ("ZRANGE r (1 (3 BYSCORE LIMIT 0 1 LIMIT 0 2", "*1\r\n$1\r\nb"),
        ("ZREMRANGEBYRANK r -2 -1", ":2"),
        ("ZREMRANGEBYRANK r 5 10", ":0"),
        ("ZREMRANGEBYSCORE r (1 +inf", ":1"),
        ("ZREMRANGEBYSCORE r -inf +inf", ":1"),
        ("EXISTS r", ":0"),
        ("ZSCAN m 0 MATCH [ab]*", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN m 0 COUNT 1", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN m 0 MATCH", "*2\r\n$1\r\n0\r\n*0"),
        ("ZSCAN m 5", "*2\r\n$1\r\n0\r\n*0"),
        ("ZMSCORE m a zzz", "*2\r\n_\r\n_"),
        ("ZADD s1 1 a", ":1"),
        ("ZADD s1 1.0000000000000002 b 0.30000000000000004 c 1e-300 d -1e300 e 123456789012345680000 f", ":5"),
        ("ZRANGE s1 0 -1 WITHSCORES", "*6\r\n*2\r\n$1\r\ne\r\n,-1.0000000000000001e+300\r\n*2\r\n$1\r\nd\r\n,1e-300\r\n*2\r\n$1\r\nc\r\n,0.30000000000000004\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,1.0000000000000002\r\n*2\r\n$1\r\nf\r\n,1.2345678901234568e+20"),
        ("ZSCAN s1 0", "*2\r\n$1\r\n0\r\n*12\r\n$1\r\ne\r\n$24\r\n-1.0000000000000001e+300\r\n$1\r\nd\r\n$6\r\n1e-300\r\n$1\r\nc\r\n$19\r\n0.30000000000000004\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$18\r\n1.0000000000000002\r\n$1\r\nf\r\n$22\r\n1.2345678901234568e+20"),
        ("ZCOUNT s1 \" 1\" 1", ":1"),
        ("ZCOUNT s1 1e400 -1e400", ":0"),
        ("ZCOUNT s1 -1e400 1e400", ":6"),
        ("ZCOUNT s1 \"(\" \"(\"", ":0"),
        ("ZCOUNT s1 \"\" 2", ":4"),
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
fn edge_cases_resp2() {
    let server = TestServer::start();
    check_table(server.addr, false, &edge_resp2());
}

#[test]
fn edge_cases_resp3() {
    let server = TestServer::start();
    check_table(server.addr, true, &edge_resp3());
}

#[test]
#[ignore = "needs redis-server"]
fn tables_match_redis() {
    let redis = RedisServer::start();
    check_table(redis.addr, false, &table_resp2());
    check_table(redis.addr, true, &table_resp3());
    check_table(redis.addr, false, &edge_resp2());
    check_table(redis.addr, true, &edge_resp3());
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

fn cmd(conn: &mut Conn, line: &str) -> Frame {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.command(&args)
}

#[test]
fn encodings_follow_redis_thresholds() {
    let server = TestServer::start();
    let mut c = server.connect();
    let mut add = String::from("ZADD z");
    for i in 0..128 {
        add.push_str(&format!(" {i} m{i}"));
    }
    assert_eq!(cmd(&mut c, &add), Frame::Integer(128));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING z"), bulk("listpack"));
    assert_eq!(cmd(&mut c, "ZADD z 500 extra"), Frame::Integer(1));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING z"), bulk("skiplist"));
    // Never back, even when small again.
    assert_eq!(cmd(&mut c, "ZREMRANGEBYRANK z 0 120"), Frame::Integer(121));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING z"), bulk("skiplist"));
    // A stored result picks by size.
    assert_eq!(cmd(&mut c, "ZUNIONSTORE u 1 z"), Frame::Integer(8));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING u"), bulk("listpack"));
    assert_eq!(cmd(&mut c, "ZRANGESTORE r z 0 -1"), Frame::Integer(8));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING r"), bulk("listpack"));
    // A long member converts at once.
    let long = "x".repeat(65);
    assert_eq!(cmd(&mut c, &format!("ZADD l 1 {long}")), Frame::Integer(1));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING l"), bulk("skiplist"));
    assert_eq!(cmd(&mut c, "ZADD l2 1 a"), Frame::Integer(1));
    assert_eq!(cmd(&mut c, &format!("ZADD l2 1 {long}")), Frame::Integer(1));
    assert_eq!(cmd(&mut c, "OBJECT ENCODING l2"), bulk("skiplist"));
}

#[test]
fn big_set_ranks_and_ranges() {
    let server = TestServer::start();
    let mut c = server.connect();
    let n = 5000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut add = String::from("ZADD z");
        for i in chunk {
            // Scores repeat, so order within a score is by member.
            add.push_str(&format!(" {} m{i:05}", i % 97));
        }
        cmd(&mut c, &add);
    }
    assert_eq!(cmd(&mut c, "ZCARD z"), Frame::Integer(n));
    let mut model: Vec<(i64, String)> = (0..n).map(|i| (i % 97, format!("m{i:05}"))).collect();
    model.sort();
    for probe in [0usize, 1, 99, 2500, 4998, 4999] {
        let (s, m) = &model[probe];
        assert_eq!(
            cmd(&mut c, &format!("ZRANK z {m}")),
            Frame::Integer(probe as i64)
        );
        assert_eq!(
            cmd(&mut c, &format!("ZREVRANK z {m}")),
            Frame::Integer((n as usize - 1 - probe) as i64)
        );
        assert_eq!(cmd(&mut c, &format!("ZSCORE z {m}")), bulk(&s.to_string()));
    }
    let Frame::Array(items) = cmd(&mut c, "ZRANGE z 1000 1002 WITHSCORES") else {
        panic!("not an array")
    };
    let want: Vec<Frame> = model[1000..1003]
        .iter()
        .flat_map(|(s, m)| [bulk(m), bulk(&s.to_string())])
        .collect();
    assert_eq!(items, want);
    let below = model.iter().filter(|(s, _)| *s < 10).count() as i64;
    assert_eq!(cmd(&mut c, "ZCOUNT z -inf (10"), Frame::Integer(below));
    assert_eq!(
        cmd(&mut c, "ZREMRANGEBYSCORE z -inf (10"),
        Frame::Integer(below)
    );
    assert_eq!(cmd(&mut c, "ZCARD z"), Frame::Integer(n - below));
    let Frame::Array(popped) = cmd(&mut c, "ZPOPMIN z 2") else {
        panic!("not an array")
    };
    let rest = &model[below as usize..];
    assert_eq!(popped[0], bulk(&rest[0].1));
    assert_eq!(popped[2], bulk(&rest[1].1));
    // A full ZSCAN sees every member once.
    let mut cursor = "0".to_string();
    let mut seen = 0;
    loop {
        let Frame::Array(parts) = cmd(&mut c, &format!("ZSCAN z {cursor} COUNT 100")) else {
            panic!("not an array")
        };
        let (Frame::Bulk(next), Frame::Array(items)) = (&parts[0], &parts[1]) else {
            panic!("bad scan reply")
        };
        seen += items.len() / 2;
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen as i64, n - below - 2);
}

#[test]
fn random_members() {
    let server = TestServer::start();
    let mut c = server.connect();
    cmd(&mut c, "ZADD z 1 a 2 b 3 c");
    for line in ["ZRANDMEMBER z 2", "ZRANDMEMBER z 5", "ZRANDMEMBER z -7"] {
        let Frame::Array(items) = cmd(&mut c, line) else {
            panic!("not an array")
        };
        let want = match line {
            "ZRANDMEMBER z 2" => 2,
            "ZRANDMEMBER z 5" => 3,
            _ => 7,
        };
        assert_eq!(items.len(), want, "{line}");
        for m in &items {
            assert!([bulk("a"), bulk("b"), bulk("c")].contains(m));
        }
        if line == "ZRANDMEMBER z 2" {
            assert_ne!(items[0], items[1]);
        }
    }
    let Frame::Array(items) = cmd(&mut c, "ZRANDMEMBER z -2 WITHSCORES") else {
        panic!("not an array")
    };
    assert_eq!(items.len(), 4);
}

/// xorshift64: the big-set comparison's reproducible choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A command against big sets (hundreds of members, so the `skiplist`
/// encoding), with ties in scores; lex commands go to a key whose scores
/// are all 0, where Redis's lex order is defined.
fn big_set_command(rng: &mut Rng) -> Vec<String> {
    let key = rng.pick(&["z1", "z1", "z2"]).to_string();
    let member = |rng: &mut Rng| format!("m{:03}", rng.below(400));
    let score = |rng: &mut Rng| {
        rng.pick(&["0", "1", "2", "2.5", "-3", "7", "inf", "-inf", "0.1", "100"])
            .to_string()
    };
    let rank = |rng: &mut Rng| {
        rng.pick(&[
            "0", "1", "-1", "5", "-5", "100", "199", "250", "-300", "1000",
        ])
        .to_string()
    };
    let bound = |rng: &mut Rng| {
        rng.pick(&[
            "-inf", "+inf", "0", "(0", "1", "(2", "2.5", "(7", "7", "100",
        ])
        .to_string()
    };
    let lex = |rng: &mut Rng| {
        let m = format!("m{:03}", rng.below(400));
        match rng.below(5) {
            0 => "-".to_string(),
            1 => "+".to_string(),
            2 => format!("({m}"),
            _ => format!("[{m}"),
        }
    };
    let mut c: Vec<String> = Vec::new();
    match rng.below(26) {
        0..=4 | 22..=25 => {
            c.push("ZADD".into());
            c.push(key);
            if rng.below(4) == 0 {
                c.push(rng.pick(&["NX", "XX", "GT", "LT", "CH"]).into());
            }
            for _ in 0..1 + rng.below(20) {
                c.push(score(rng));
                c.push(member(rng));
            }
        }
        5 => {
            c.extend(["ZREM".into(), key, member(rng), member(rng)]);
        }
        6 => c.extend(["ZINCRBY".into(), key, score(rng), member(rng)]),
        7 => {
            c.extend(["ZRANGE".into(), key, rank(rng), rank(rng)]);
            if rng.below(2) == 0 {
                c.push("WITHSCORES".into());
            }
            if rng.below(3) == 0 {
                c.push("REV".into());
            }
        }
        8 => {
            let rev = rng.below(2) == 0;
            c.extend([
                "ZRANGE".into(),
                key,
                bound(rng),
                bound(rng),
                "BYSCORE".into(),
            ]);
            if rev {
                c.push("REV".into());
            }
            if rng.below(2) == 0 {
                c.extend(["LIMIT".into(), rank(rng), rank(rng)]);
            }
            if rng.below(2) == 0 {
                c.push("WITHSCORES".into());
            }
        }
        9 => c.extend([rng.pick(&["ZRANK", "ZREVRANK"]).into(), key, member(rng)]),
        10 => c.extend(["ZCOUNT".into(), key, bound(rng), bound(rng)]),
        11 => {
            let start = rng.below(300) as i64 - 100;
            let end = start + rng.below(4) as i64;
            c.extend([
                "ZREMRANGEBYRANK".into(),
                key,
                start.to_string(),
                end.to_string(),
            ]);
        }
        12 => {
            let (a, b) = *[("(2", "2.5"), ("2.5", "2.5"), ("-3", "(0"), ("(7", "100")]
                .get(rng.below(4) as usize)
                .unwrap();
            c.extend(["ZREMRANGEBYSCORE".into(), key, a.into(), b.into()]);
        }
        13 => {
            c.extend([rng.pick(&["ZPOPMIN", "ZPOPMAX"]).into(), key]);
            c.push(rng.pick(&["1", "2", "0"]).into());
        }
        14 => {
            c.push(
                rng.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
                    .into(),
            );
            c.extend(["z3".into(), "2".into(), "z1".into(), "z2".into()]);
        }
        15 => {
            c.extend(["ZRANGESTORE".into(), "z3".into(), key, rank(rng), rank(rng)]);
        }
        16 => c.extend(["ZMSCORE".into(), key, member(rng), member(rng)]),
        17 => {
            c.extend(["ZADD".into(), "lx".into()]);
            for _ in 0..1 + rng.below(30) {
                c.push("0".into());
                c.push(member(rng));
            }
        }
        18 => {
            let name = rng.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
            c.extend([name.into(), "lx".into(), lex(rng), lex(rng)]);
            if rng.below(2) == 0 {
                c.extend(["LIMIT".into(), rank(rng), rank(rng)]);
            }
        }
        19 => c.extend(["ZLEXCOUNT".into(), "lx".into(), lex(rng), lex(rng)]),
        20 => c.extend(["ZREMRANGEBYLEX".into(), "lx".into(), lex(rng), lex(rng)]),
        21 => {
            c.extend(["ZUNION".into(), "2".into(), "z1".into(), "z3".into()]);
            c.extend(["WITHSCORES".into(), "AGGREGATE".into(), "MAX".into()]);
        }
        _ => unreachable!(),
    }
    c
}

/// Big sets (the `skiplist` encoding) against a real Redis 7.0: the
/// differential suite's sets rarely grow past the listpack threshold.
#[test]
#[ignore = "needs redis-server"]
fn big_sets_match_redis() {
    let redis = RedisServer::start();
    let server = TestServer::start();
    let seed = std::env::var("SHOAL_ZSET_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2a5e_u64);
    let mut rng = Rng(seed | 1);
    let mut r = redis.connect();
    let mut s = server.connect();
    for round in 0..3 {
        r.command(&[b"FLUSHALL"]);
        s.command(&[b"FLUSHALL"]);
        if round == 1 {
            r.command(&[b"HELLO", b"3"]);
            s.command(&[b"HELLO", b"3"]);
        }
        let mut history = Vec::new();
        let mut max_card = 0;
        for i in 0..4000 {
            if i % 50 == 0 {
                if let Frame::Integer(n) = r.command(&[b"ZCARD", b"z1"]) {
                    max_card = max_card.max(n);
                }
            }
            let cmd = big_set_command(&mut rng);
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            let want = r.command(&args);
            let got = s.command(&args);
            history.push(cmd.join(" "));
            assert_eq!(
                got,
                want,
                "seed {seed}: diverged at {:?}; last commands:\n{}",
                cmd.join(" "),
                history[history.len().saturating_sub(8)..].join("\n")
            );
        }
        assert!(max_card > 128, "z1 stayed small: {max_card}");
        for key in ["z1", "z2", "z3"] {
            let enc = r.command(&[b"OBJECT", b"ENCODING", key.as_bytes()]);
            assert_eq!(
                s.command(&[b"OBJECT", b"ENCODING", key.as_bytes()]),
                enc,
                "{key}"
            );
        }
    }
}

/// The memory goal: one sorted set of 1,000,000 members "member:N" with
/// random scores. Prints the process's RSS growth per member (Redis 7.0
/// grows ~116 bytes per member for the same load).
#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn million_members_rss() {
    let server = TestServer::start();
    let mut c = server.connect();
    let before = rss_bytes();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut batch = Vec::new();
    for i in (0..1_000_000u32).step_by(1000) {
        let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"big".to_vec()];
        for j in i..i + 1000 {
            let score = (rng.next() % 1_000_000_007) as f64 / 7.0;
            args.push(score.to_string().into_bytes());
            args.push(format!("member:{j}").into_bytes());
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        batch.extend_from_slice(&encode(&refs));
        if batch.len() > 1 << 20 {
            c.send(&batch);
            batch.clear();
        }
    }
    c.send(&batch);
    // Drain the replies: one integer per ZADD.
    for _ in 0..1000 {
        c.read_frame();
    }
    assert_eq!(c.command(&[b"ZCARD", b"big"]), Frame::Integer(1_000_000));
    let growth = rss_bytes().saturating_sub(before);
    eprintln!(
        "1M members: RSS grew {} MB, {} bytes/member",
        growth >> 20,
        growth / 1_000_000
    );
    let started = std::time::Instant::now();
    for i in 0..10_000u32 {
        let m = format!("member:{}", i * 97);
        c.command(&[b"ZRANK", b"big", m.as_bytes()]);
    }
    eprintln!("10k ZRANK round trips: {:?}", started.elapsed());
}
