//! Stream commands: XADD, XRANGE, XREAD, consumer groups and the rest, as
//! Redis 7.0's `t_stream.c` answers them.
//!
//! What replicas and the AOF receive follows Redis too: XADD with the ID
//! it generated and an approximate trim made exact; XREADGROUP, XCLAIM and
//! XAUTOCLAIM as the XCLAIM / XGROUP SETID / XGROUP CREATECONSUMER commands
//! that reproduce their effect on the groups.

use bytes::Bytes;
use shoal_resp::{Protocol, Reply};

use super::{int_arg, is, spec, CommandSpec};
use crate::error::{Error, Result};
use crate::types::stream::{
    Consumer, EntryRef, Group, Nack, Stream, StreamId, Trim, ENTRIES_READ_UNKNOWN, MAX_NODE_BYTES,
};
use crate::{notify, Block, BlockKind, Coll, Ctx, Value};

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "xadd",
        -5,
        "write denyoom fast",
        (1, 1, 1),
        "stream",
        "Appends a new entry to a stream",
        Some(xadd),
    ),
    spec(
        "xrange",
        -4,
        "readonly",
        (1, 1, 1),
        "stream",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        Some(xrange),
    ),
    spec(
        "xrevrange",
        -4,
        "readonly",
        (1, 1, 1),
        "stream",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        Some(xrevrange),
    ),
    spec(
        "xlen",
        2,
        "readonly fast",
        (1, 1, 1),
        "stream",
        "Return the number of entries in a stream",
        Some(xlen),
    ),
    spec(
        "xread",
        -4,
        "readonly blocking movablekeys",
        (0, 0, 0),
        "stream",
        "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
        Some(xread),
    ),
    spec(
        "xreadgroup",
        -7,
        "write blocking movablekeys",
        (0, 0, 0),
        "stream",
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
        Some(xread),
    ),
    spec(
        "xdel",
        -3,
        "write fast",
        (1, 1, 1),
        "stream",
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        Some(xdel),
    ),
    spec(
        "xtrim",
        -4,
        "write",
        (1, 1, 1),
        "stream",
        "Trims the stream to (approximately if '~' is passed) a certain size",
        Some(xtrim),
    ),
    spec(
        "xsetid",
        -3,
        "write denyoom fast",
        (1, 1, 1),
        "stream",
        "An internal command for replicating stream values",
        Some(xsetid),
    ),
    spec(
        "xack",
        -4,
        "write fast",
        (1, 1, 1),
        "stream",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        Some(xack),
    ),
    spec(
        "xpending",
        -3,
        "readonly",
        (1, 1, 1),
        "stream",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        Some(xpending),
    ),
    spec(
        "xclaim",
        -6,
        "write fast",
        (1, 1, 1),
        "stream",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        Some(xclaim),
    ),
    spec(
        "xautoclaim",
        -6,
        "write fast",
        (1, 1, 1),
        "stream",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        Some(xautoclaim),
    ),
    spec(
        "xinfo",
        -2,
        "readonly",
        (2, 2, 1),
        "stream",
        "A container for stream introspection commands",
        Some(xinfo),
    ),
    spec(
        "xgroup",
        -2,
        "write denyoom",
        (2, 2, 1),
        "stream",
        "A container for consumer groups commands",
        Some(xgroup),
    ),
];

/// XREAD and XREADGROUP serve at most this many entries per stream to a
/// client they unblock without a COUNT (Redis's
/// `XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: i64 = 1000;

fn invalid_id() -> Error {
    Error::Other("Invalid stream ID specified as stream command argument".into())
}

/// An argument as C's `%s` shows it: up to its first NUL.
fn cstr(arg: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(arg.split(|&b| b == 0).next().unwrap_or_default())
}

fn nogroup(text: String) -> Error {
    Error::Raw(format!("NOGROUP {text}"))
}

/// C's `strtoull` over a whole string, as Redis's `string2ull` falls back
/// to it: leading space, a sign (a minus negates), decimal digits, no
/// overflow, nothing after.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(n) = crate::parse_i64_exact(s) {
        return u64::try_from(n).ok();
    }
    let mut rest = s;
    while let Some((&c, tail)) = rest.split_first() {
        if matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in rest {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (not when `strict`),
/// `ms` (the sequence then is `missing_seq`), `ms-seq`, and `ms-*` when
/// `seq_given` is asked for (it is then set false).
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_given: Option<&mut bool>,
) -> Result<StreamId> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // Redis copies the argument into a C string.
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(end) => &arg[..end],
        None => arg,
    };
    if strict && (arg == b"-" || arg == b"+") {
        return Err(invalid_id());
    }
    let mut given = true;
    let id = if arg == b"-" {
        StreamId::MIN
    } else if arg == b"+" {
        StreamId::MAX
    } else {
        let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
            Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
            None => (arg, None),
        };
        let ms = string2ull(ms).ok_or_else(invalid_id)?;
        let seq = match seq {
            Some(b"*") if seq_given.is_some() => {
                given = false;
                0
            }
            Some(seq) => string2ull(seq).ok_or_else(invalid_id)?,
            None => missing_seq,
        };
        StreamId::new(ms, seq)
    };
    if let Some(g) = seq_given {
        *g = given;
    }
    Ok(id)
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId> {
    parse_id_generic(arg, missing_seq, false, None)
}

fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId> {
    parse_id_generic(arg, missing_seq, true, None)
}

/// A range bound: an ID, or `(ID` for an exclusive one.
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// The start of a range: exclusive bounds move up by one.
fn range_start(arg: &[u8]) -> Result<StreamId> {
    let (id, exclusive) = parse_interval(arg, 0)?;
    if !exclusive {
        return Ok(id);
    }
    id.incr()
        .ok_or_else(|| Error::Other("invalid start ID for the interval".into()))
}

fn range_end(arg: &[u8]) -> Result<StreamId> {
    let (id, exclusive) = parse_interval(arg, u64::MAX)?;
    if !exclusive {
        return Ok(id);
    }
    id.decr()
        .ok_or_else(|| Error::Other("invalid end ID for the interval".into()))
}

fn read_stream<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Stream>> {
    match ctx.read(key) {
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType),
        None => Ok(None),
    }
}

/// The stream at `key` for a write, without lookup statistics; the
/// caller has checked it is a stream.
fn stream_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> &'c mut Stream {
    ctx.store.cow(ctx.db, key);
    match ctx.store.dbs[ctx.db]
        .keys
        .get_mut(key)
        .map(|e| &mut e.value)
    {
        Some(Value::Stream(s)) => s,
        _ => unreachable!("checked to be a stream"),
    }
}

/// `lookupKeyWrite` + type check: whether a stream is there.
fn write_lookup(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool> {
    match ctx.write(key) {
        Some(Value::Stream(_)) => Ok(true),
        Some(_) => Err(Error::WrongType),
        None => Ok(false),
    }
}

fn reply_id(reply: &mut Reply<'_>, id: StreamId) {
    reply.bulk(id.to_string().as_bytes());
}

/// One entry: `[id, [field, value, …]]`.
fn reply_entry(reply: &mut Reply<'_>, e: &EntryRef<'_>, buf: &mut Vec<u8>) {
    reply.array(2);
    reply_id(reply, e.id);
    reply.array(2 * e.field_count);
    for (f, v) in e.fields() {
        buf.clear();
        f.write_to(buf);
        reply.bulk(buf);
        buf.clear();
        v.write_to(buf);
        reply.bulk(buf);
    }
}

/// Up to `count` (0: all) live entries in `start..=end`.
fn collect(
    s: &Stream,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: usize,
) -> Vec<EntryRef<'_>> {
    let mut out = Vec::new();
    s.visit(start, end, rev, |e| {
        out.push(e);
        count == 0 || out.len() < count
    });
    out
}

fn reply_entries(reply: &mut Reply<'_>, entries: &[EntryRef<'_>]) {
    let mut buf = Vec::new();
    reply.array(entries.len());
    for e in entries {
        reply_entry(reply, e, &mut buf);
    }
}

// ---------------------------------------------------------------- XADD

/// XADD's and XTRIM's options, as Redis's
/// `streamParseAddOrTrimArgsOrReply` reads them.
struct AddTrim {
    id: StreamId,
    id_given: bool,
    seq_given: bool,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// Index of MAXLEN's / MINID's value, for rewriting.
    trim_arg: usize,
    approx: bool,
    /// 0: no limit.
    limit: u64,
    /// Index of LIMIT's value, dropped when the trim is rewritten.
    limit_arg: Option<usize>,
    /// XADD: where the ID is.
    idpos: usize,
}

fn parse_add_trim(args: &[Bytes], xadd: bool, node_max_entries: i64) -> Result<AddTrim> {
    let mut a = AddTrim {
        id: StreamId::MIN,
        id_given: false,
        seq_given: true,
        no_mkstream: false,
        trim: None,
        trim_arg: 0,
        approx: false,
        limit: 0,
        limit_arg: None,
        idpos: args.len(),
    };
    let incompatible = || {
        Error::Other(
            "syntax error, MAXLEN and MINID options at the same time are not compatible".into(),
        )
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            break;
        } else if is(opt, "maxlen") && more > 0 {
            if a.trim.is_some() {
                return Err(incompatible());
            }
            a.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let max = int_arg(&args[i + 1])?;
            if max < 0 {
                return Err(Error::Other("The MAXLEN argument must be >= 0.".into()));
            }
            i += 1;
            a.trim = Some(Trim::MaxLen(max as u64));
            a.trim_arg = i;
        } else if is(opt, "minid") && more > 0 {
            if a.trim.is_some() {
                return Err(incompatible());
            }
            a.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let id = parse_strict_id(&args[i + 1], 0)?;
            i += 1;
            a.trim = Some(Trim::MinId(id));
            a.trim_arg = i;
        } else if is(opt, "limit") && more > 0 {
            let limit = int_arg(&args[i + 1])?;
            if limit < 0 {
                return Err(Error::Other("The LIMIT argument must be >= 0.".into()));
            }
            a.limit = limit as u64;
            a.limit_arg = Some(i + 1);
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let mut seq_given = true;
            a.id = parse_id_generic(opt, 0, true, Some(&mut seq_given))?;
            a.seq_given = seq_given;
            a.id_given = true;
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    a.idpos = i;
    if a.limit > 0 && a.trim.is_none() {
        return Err(Error::Other(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy".into(),
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(Error::Other(
            "syntax error, XTRIM must be called with a trimming strategy".into(),
        ));
    }
    if limit_given {
        if !a.approx {
            return Err(Error::Other(
                "syntax error, LIMIT cannot be used without the special ~ option".into(),
            ));
        }
    } else if a.approx {
        let limit = 100i64.saturating_mul(node_max_entries);
        a.limit = if limit <= 0 {
            10_000
        } else {
            limit.min(1_000_000) as u64
        };
    } else {
        a.limit = 0;
    }
    Ok(a)
}

/// The command with an approximate trim made exact, as Redis rewrites it
/// for replicas: `~` becomes `=`, the threshold what the trim left, and
/// LIMIT (meaningless for an exact trim) goes.
fn rewrite_trim(args: &mut Vec<Bytes>, a: &AddTrim, s: &Stream) {
    args[a.trim_arg - 1] = Bytes::from_static(b"=");
    args[a.trim_arg] = match a.trim {
        Some(Trim::MaxLen(_)) => Bytes::from(s.length.to_string()),
        _ => s.edge_id(true, true).to_bytes(),
    };
    if let Some(at) = a.limit_arg {
        args.drain(at - 1..=at);
    }
}

fn xadd(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let (max_bytes, max_entries) = (
        ctx.store.config.stream_node_max_bytes,
        ctx.store.config.stream_node_max_entries,
    );
    let a = parse_add_trim(args, true, max_entries)?;
    let field_pos = a.idpos + 1;
    let fields = args.len().saturating_sub(field_pos);
    if field_pos > args.len() || fields < 2 || fields % 2 == 1 {
        return Err(Error::WrongArity("xadd".into()));
    }
    if a.id_given && a.seq_given && a.id.is_zero() {
        return Err(Error::Other(
            "The ID specified in XADD must be greater than 0-0".into(),
        ));
    }
    if !write_lookup(ctx, key)? {
        if a.no_mkstream {
            reply.null();
            return Ok(());
        }
        ctx.set(key, Value::Stream(Coll::new(Stream::new())), false);
    }
    let now = ctx.now_ms;
    let s = stream_mut(ctx, key);
    if s.last_id == StreamId::MAX {
        return Err(Error::Other(
            "The stream has exhausted the last possible ID, unable to add more items".into(),
        ));
    }
    let smaller = || {
        Error::Other(
            "The ID specified in XADD is equal or smaller than the target stream top item".into(),
        )
    };
    let id = if !a.id_given {
        if now > s.last_id.ms {
            StreamId::new(now, 0)
        } else {
            s.last_id.incr().unwrap_or(StreamId::MIN)
        }
    } else if !a.seq_given && s.last_id.ms == a.id.ms {
        if s.last_id.seq == u64::MAX {
            return Err(smaller());
        }
        StreamId::new(a.id.ms, s.last_id.seq + 1)
    } else {
        a.id
    };
    if id <= s.last_id {
        return Err(smaller());
    }
    let pairs = &args[field_pos..];
    if pairs.iter().map(|p| p.len()).sum::<usize>() > MAX_NODE_BYTES {
        return Err(Error::Other("Elements are too large to be stored".into()));
    }
    s.append(id, pairs, max_bytes, max_entries);
    reply_id(reply, id);
    ctx.modified(key);
    ctx.notify(notify::STREAM, "xadd", key);
    let mut rewritten: Option<Vec<Bytes>> = None;
    if let Some(how) = a.trim {
        let s = stream_mut(ctx, key);
        let removed = s.trim(how, a.approx, a.limit);
        if a.approx {
            let mut argv = args.to_vec();
            rewrite_trim(&mut argv, &a, s);
            rewritten = Some(argv);
        }
        if removed > 0 {
            ctx.notify(notify::STREAM, "xtrim", key);
        }
    }
    if !a.id_given || !a.seq_given {
        let mut argv = rewritten.take().unwrap_or_else(|| args.to_vec());
        // The ID's index moves back by two if LIMIT was dropped before it.
        let idpos = match (a.approx, a.limit_arg) {
            (true, Some(at)) if at < a.idpos => a.idpos - 2,
            _ => a.idpos,
        };
        argv[idpos] = id.to_bytes();
        rewritten = Some(argv);
    }
    if let Some(argv) = rewritten {
        ctx.propagate_instead(argv);
    }
    ctx.store.blocking.signal(ctx.db, key);
    Ok(())
}

// ------------------------------------------------------- XRANGE, XLEN

fn xrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    xrange_generic(ctx, reply, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    xrange_generic(ctx, reply, args, true)
}

fn xrange_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], rev: bool) -> Result {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = int_arg(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let Some(s) = read_stream(ctx, &args[1])? else {
        reply.array(0);
        return Ok(());
    };
    if count == 0 {
        reply.null_array();
        return Ok(());
    }
    let limit = if count < 0 { 0 } else { count as usize };
    reply_entries(reply, &collect(s, start, end, rev, limit));
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let len = read_stream(ctx, &args[1])?.map_or(0, |s| s.length);
    reply.integer(len as i64);
    Ok(())
}

// ---------------------------------------------------- XREAD, XREADGROUP

/// XREAD's / XREADGROUP's arguments.
struct ReadArgs<'a> {
    group: bool,
    /// BLOCK in milliseconds.
    block: Option<i64>,
    count: i64,
    noack: bool,
    group_name: Option<&'a Bytes>,
    consumer: Option<&'a Bytes>,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

fn parse_read(args: &[Bytes], in_script: bool) -> Result<ReadArgs<'_>> {
    let group = args[0].len() == 10;
    let mut r = ReadArgs {
        group,
        block: None,
        count: 0,
        noack: false,
        group_name: None,
        consumer: None,
        keys: &[],
        ids: &[],
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if is(o, "block") && more > 0 {
            if in_script {
                return Err(Error::Other(format!(
                    "{} command is not allowed with BLOCK option from scripts",
                    cstr(&args[0])
                )));
            }
            i += 1;
            let ms = crate::parse_i64_exact(&args[i])
                .ok_or_else(|| Error::Other("timeout is not an integer or out of range".into()))?;
            if ms < 0 {
                return Err(Error::Other("timeout is negative".into()));
            }
            r.block = Some(ms);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int_arg(&args[i])?.max(0);
        } else if is(o, "streams") && more > 0 {
            let n = args.len() - (i + 1);
            if n % 2 != 0 {
                return Err(Error::Other(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
                        .into(),
                ));
            }
            streams_at = Some(i + 1);
            break;
        } else if is(o, "group") && more >= 2 {
            if !group {
                return Err(Error::Other(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead."
                        .into(),
                ));
            }
            r.group_name = Some(&args[i + 1]);
            r.consumer = Some(&args[i + 2]);
            i += 2;
        } else if is(o, "noack") {
            if !group {
                return Err(Error::Other(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead."
                        .into(),
                ));
            }
            r.noack = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(Error::Syntax);
    };
    if group && r.group_name.is_none() {
        return Err(Error::Other("Missing GROUP option for XREADGROUP".into()));
    }
    let n = (args.len() - at) / 2;
    r.keys = &args[at..at + n];
    r.ids = &args[at + n..];
    Ok(r)
}

fn xread(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let r = parse_read(args, ctx.in_script)?;
    if r.group {
        // Only what the command does to the groups is propagated, as the
        // XCLAIM / XGROUP commands below.
        ctx.propagate_instead(Vec::new());
    }
    let mut ids = Vec::with_capacity(r.keys.len());
    for (key, arg) in r.keys.iter().zip(r.ids) {
        let s = read_stream(ctx, key)?;
        if let Some(group) = r.group_name {
            if s.map_or(true, |s| !s.groups.contains_key(group)) {
                return Err(nogroup(format!(
                    "No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    cstr(key),
                    cstr(group)
                )));
            }
        }
        if &arg[..] == b"$" {
            if r.group {
                return Err(Error::Other(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
                        .into(),
                ));
            }
            ids.push(s.map_or(StreamId::MIN, |s| s.last_id));
        } else if &arg[..] == b">" {
            if !r.group {
                return Err(Error::Other(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
                        .into(),
                ));
            }
            ids.push(StreamId::MAX);
        } else {
            ids.push(parse_strict_id(arg, 0)?);
        }
    }
    let mut body = Vec::new();
    let mut served = 0usize;
    for (key, &gt) in r.keys.iter().zip(&ids) {
        let Some(s) = read_stream(ctx, key)? else {
            continue;
        };
        // `>` reads after the group's last delivered ID.
        let (sync, history, gt) = match r.group_name {
            Some(_) if gt != StreamId::MAX => (true, true, gt),
            Some(group) => {
                let last = s.groups[group].last_id;
                (s.length > 0 && s.last_valid_id() > last, false, last)
            }
            None => (s.length > 0 && s.last_valid_id() > gt, false, gt),
        };
        if !sync {
            continue;
        }
        served += 1;
        let mut part = Reply::new(&mut body, reply.protocol());
        if part.protocol() == Protocol::Resp2 {
            part.array(2);
        }
        part.bulk(key);
        let start = gt.incr().unwrap_or(StreamId::MIN);
        serve_stream(ctx, &mut part, key, &r, start, r.count, history);
    }
    if served > 0 {
        if reply.protocol() == Protocol::Resp2 {
            reply.array(served);
        } else {
            reply.map(served);
        }
        reply.raw(&body);
        return Ok(());
    }
    if let Some(ms) = r.block {
        if !ctx.may_block {
            reply.null_array();
            return Ok(());
        }
        let deadline_ms = (ms > 0).then(|| ctx.now_ms.saturating_add(ms as u64));
        ctx.block = Some(Block {
            keys: r.keys.to_vec(),
            deadline_ms,
            kind: BlockKind::Stream,
            retry: Some(retry_args(&r, &ids)),
        });
        return Ok(());
    }
    reply.null_array();
    Ok(())
}

/// What a blocked XREAD / XREADGROUP retries with: its IDs resolved
/// (`$` is the last ID at the time it blocked) and the default count.
fn retry_args(r: &ReadArgs<'_>, ids: &[StreamId]) -> Vec<Bytes> {
    let count = if r.count > 0 {
        r.count
    } else {
        BLOCKED_DEFAULT_COUNT
    };
    let mut out = Vec::with_capacity(8 + 2 * r.keys.len());
    if let (Some(group), Some(consumer)) = (r.group_name, r.consumer) {
        out.push(Bytes::from_static(b"XREADGROUP"));
        out.push(Bytes::from_static(b"GROUP"));
        out.push(group.clone());
        out.push(consumer.clone());
        if r.noack {
            out.push(Bytes::from_static(b"NOACK"));
        }
    } else {
        out.push(Bytes::from_static(b"XREAD"));
    }
    out.push(Bytes::from_static(b"COUNT"));
    out.push(Bytes::from(count.to_string()));
    out.push(Bytes::from_static(b"STREAMS"));
    out.extend(r.keys.iter().cloned());
    out.extend(ids.iter().map(|id| {
        if *id == StreamId::MAX && r.group {
            Bytes::from_static(b">")
        } else {
            id.to_bytes()
        }
    }));
    out
}

/// Serves one client blocked in XREAD / XREADGROUP (`args` as
/// [`retry_args`] made them) from `key`, which received data (Redis's
/// `serveClientsBlockedOnStreamKey`): `Ok(false)` if there is still
/// nothing new for it. The caller has checked `key` holds a stream.
///
/// # Errors
/// NOGROUP when the group it waits on was destroyed.
pub fn serve_blocked(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    key: &[u8],
) -> Result<bool> {
    let r = parse_read(args, false)?;
    let Some(at) = r.keys.iter().position(|k| &k[..] == key) else {
        return Ok(false);
    };
    let key = &r.keys[at];
    let gt = if &r.ids[at][..] == b">" {
        StreamId::MAX
    } else {
        parse_strict_id(&r.ids[at], 0)?
    };
    let Some(Value::Stream(s)) = ctx.store.dbs[ctx.db].keys.get(&key[..]).map(|e| &e.value) else {
        return Ok(false);
    };
    let gt = match r.group_name {
        Some(group) => match s.groups.get(group) {
            // Redis compares with the group's last ID only through the
            // `>` it blocked with.
            Some(g) if gt == StreamId::MAX => g.last_id,
            Some(_) => gt,
            None => {
                return Err(nogroup(
                    "the consumer group this client was blocked on no longer exists".into(),
                ))
            }
        },
        None => gt,
    };
    if s.last_id <= gt {
        return Ok(false);
    }
    if r.group {
        ctx.propagate_instead(Vec::new());
    }
    if reply.protocol() == Protocol::Resp2 {
        reply.array(1);
        reply.array(2);
    } else {
        reply.map(1);
    }
    reply.bulk(key);
    let start = gt.incr().unwrap_or(StreamId::MIN);
    serve_stream(ctx, reply, key, &r, start, r.count, false);
    Ok(true)
}

/// Replies with the entries of `key` from `start` (Redis's
/// `streamReplyWithRange` with a group, or its consumer-PEL form for
/// `history`), doing a group read's bookkeeping and propagation.
fn serve_stream(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    key: &Bytes,
    r: &ReadArgs<'_>,
    start: StreamId,
    count: i64,
    history: bool,
) {
    let count = count.max(0) as usize;
    let now = ctx.now_ms as i64;
    let (Some(group), Some(consumer)) = (r.group_name, r.consumer) else {
        let Some(Value::Stream(s)) = ctx.store.dbs[ctx.db].keys.get(&key[..]).map(|e| &e.value)
        else {
            return;
        };
        reply_entries(reply, &collect(s, start, StreamId::MAX, false, count));
        return;
    };
    // A consumer seen again is refreshed; a new one is created.
    let created = {
        let s = stream_mut(ctx, key);
        let g = s.groups.get_mut(group).expect("group checked");
        match g.consumers.get_mut(consumer) {
            Some(c) => {
                c.seen_time = now;
                false
            }
            None => {
                g.consumers.insert(
                    consumer.clone(),
                    Consumer {
                        seen_time: now,
                        pel: Default::default(),
                    },
                );
                true
            }
        }
    };
    if created {
        ctx.store.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
        if r.noack {
            ctx.propagate_instead(vec![
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATECONSUMER"),
                key.clone(),
                group.clone(),
                consumer.clone(),
            ]);
        }
    }
    ctx.store.dirty += 1;
    if history {
        serve_history(ctx, reply, key, group, consumer, start, count, now);
        return;
    }
    let s = stream_mut(ctx, key);
    let ids: Vec<StreamId> = collect(s, start, StreamId::MAX, false, count)
        .iter()
        .map(|e| e.id)
        .collect();
    let mut propagate_last_id = false;
    let mut claims = Vec::new();
    let mut buf = Vec::new();
    reply.array(ids.len());
    for &id in &ids {
        if s.advance_group(group, id) && r.noack {
            propagate_last_id = true;
        }
        reply_entry(reply, &s.get(id).expect("listed above"), &mut buf);
        if !r.noack {
            let g = s.groups.get_mut(group).expect("group");
            let nack = g.pel.entry(id).or_insert_with(|| Nack {
                delivery_time: now,
                delivery_count: 1,
                consumer: consumer.clone(),
            });
            // Already pending (with someone else, maybe): delivered anew.
            nack.delivery_time = now;
            nack.delivery_count = 1;
            g.assign(id, consumer);
            claims.push(xclaim_args(key, group, id, &g.pel[&id], g.last_id));
        }
    }
    let set_id = propagate_last_id.then(|| {
        let g = &s.groups[group];
        setid_args(key, group, g)
    });
    for c in claims {
        ctx.propagate_instead(c);
    }
    if let Some(set_id) = set_id {
        ctx.propagate_instead(set_id);
    }
}

/// XREADGROUP with an ID: the consumer's own pending entries from `start`;
/// deleted ones show as `[id, nil]`.
#[allow(clippy::too_many_arguments)]
fn serve_history(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    start: StreamId,
    count: usize,
    now: i64,
) {
    let s = stream_mut(ctx, key);
    let pending: Vec<StreamId> = {
        let c = &s.groups[group].consumers[consumer];
        let it = c.pel.range(start..);
        if count == 0 {
            it.copied().collect()
        } else {
            it.take(count).copied().collect()
        }
    };
    let mut buf = Vec::new();
    reply.array(pending.len());
    let mut delivered = Vec::new();
    for id in pending {
        match s.get(id) {
            Some(e) => {
                reply_entry(reply, &e, &mut buf);
                delivered.push(id);
            }
            None => {
                reply.array(2);
                reply_id(reply, id);
                reply.null_array();
            }
        }
    }
    let g = s.groups.get_mut(group).expect("group");
    for id in delivered {
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = now;
            nack.delivery_count += 1;
        }
    }
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID
/// LASTID last` (Redis's `streamPropagateXCLAIM`).
fn xclaim_args(
    key: &Bytes,
    group: &Bytes,
    id: StreamId,
    nack: &Nack,
    last: StreamId,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        key.clone(),
        group.clone(),
        nack.consumer.clone(),
        Bytes::from_static(b"0"),
        id.to_bytes(),
        Bytes::from_static(b"TIME"),
        Bytes::from(nack.delivery_time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(nack.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        last.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`.
fn setid_args(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        g.last_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

// ------------------------------------------------------ XDEL, XTRIM, XSETID

fn xdel(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    if !write_lookup(ctx, key)? {
        reply.integer(0);
        return Ok(());
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>>>()?;
    let s = stream_mut(ctx, key);
    let mut deleted = 0;
    let mut first_entry = false;
    for id in ids {
        if s.delete(id) {
            if id == s.first_id {
                first_entry = true;
            }
            if id > s.max_deleted_id {
                s.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.length == 0 {
            s.first_id = StreamId::MIN;
        } else if first_entry {
            s.first_id = s.edge_id(true, false);
        }
        ctx.touched(key);
        ctx.store.dirty += deleted;
        ctx.notify(notify::STREAM, "xdel", key);
    }
    reply.integer(deleted as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let a = parse_add_trim(args, false, ctx.store.config.stream_node_max_entries)?;
    if !write_lookup(ctx, key)? {
        reply.integer(0);
        return Ok(());
    }
    let s = stream_mut(ctx, key);
    let removed = s.trim(a.trim.expect("XTRIM has a strategy"), a.approx, a.limit);
    if removed > 0 {
        if a.approx {
            let mut argv = args.to_vec();
            rewrite_trim(&mut argv, &a, s);
            ctx.propagate_instead(argv);
        }
        ctx.notify(notify::STREAM, "xtrim", key);
        ctx.touched(key);
        ctx.store.dirty += removed;
    }
    reply.integer(removed as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let id = parse_strict_id(&args[2], 0)?;
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            entries_added = int_arg(&args[i + 1])?;
            if entries_added < 0 {
                return Err(Error::Other("entries_added must be positive".into()));
            }
            i += 2;
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(&args[i + 1], 0)?;
            if id < max_deleted {
                return Err(Error::Other(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                        .into(),
                ));
            }
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    if !write_lookup(ctx, key)? {
        return Err(Error::NoSuchKey);
    }
    let s = stream_mut(ctx, key);
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Err(Error::Other(
                "The ID specified in XSETID is smaller than the target stream top item".into(),
            ));
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err(Error::Other(
                "The entries_added specified in XSETID is smaller than the target stream length"
                    .into(),
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        s.max_deleted_id = max_deleted;
    }
    reply.ok();
    ctx.store.dirty += 1;
    ctx.notify(notify::STREAM, "xsetid", key);
    Ok(())
}

// ------------------------------------------------------------ XGROUP

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

fn subcommand_syntax(args: &[Bytes], container: &str) -> Error {
    Error::Other(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        cstr(&args[1][..args[1].len().min(128)]),
        container
    ))
}

fn xgroup(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let opt = &args[1];
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut exists = false;
    if args.len() >= 4 {
        let create = is(opt, "create");
        let setid = is(opt, "setid");
        let mut i = 5;
        while i < args.len() {
            if create && is(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
                entries_read = int_arg(&args[i + 1])?;
                if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                    return Err(Error::Other(
                        "value for ENTRIESREAD must be positive or -1".into(),
                    ));
                }
                i += 2;
            } else {
                return Err(subcommand_syntax(args, "XGROUP"));
            }
        }
        exists = write_lookup(ctx, &args[2])?;
    }
    let key = args.get(2).cloned().unwrap_or_default();
    let group = args.get(3).cloned().unwrap_or_default();
    if args.len() >= 4 && !mkstream {
        if !exists {
            return Err(Error::Other(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
                    .into(),
            ));
        }
        let has_group = stream_mut(ctx, &key).groups.contains_key(&group);
        if !has_group && (is(opt, "setid") || is(opt, "createconsumer") || is(opt, "delconsumer")) {
            return Err(nogroup(format!(
                "No such consumer group '{}' for key name '{}'",
                cstr(&group),
                cstr(&key)
            )));
        }
    }
    let argc = args.len();
    if argc == 2 && is(opt, "help") {
        reply.help(XGROUP_HELP);
    } else if is(opt, "create") && (5..=8).contains(&argc) {
        let id = if &args[4][..] == b"$" {
            if exists {
                stream_mut(ctx, &key).last_id
            } else {
                StreamId::MIN
            }
        } else {
            parse_strict_id(&args[4], 0)?
        };
        if !exists {
            ctx.set(&key, Value::Stream(Coll::new(Stream::new())), false);
        }
        let s = stream_mut(ctx, &key);
        if s.groups.contains_key(&group) {
            return Err(Error::Raw(
                "BUSYGROUP Consumer Group name already exists".into(),
            ));
        }
        s.groups.insert(group, Group::new(id, entries_read));
        reply.ok();
        ctx.store.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-create", &key);
    } else if is(opt, "setid") && (argc == 5 || argc == 7) {
        let s = stream_mut(ctx, &key);
        let id = if &args[4][..] == b"$" {
            s.last_id
        } else {
            parse_id(&args[4], 0)?
        };
        let g = s.groups.get_mut(&group).expect("checked");
        g.last_id = id;
        g.entries_read = entries_read;
        reply.ok();
        ctx.store.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-setid", &key);
    } else if is(opt, "destroy") && argc == 4 {
        if stream_mut(ctx, &key).groups.remove(&group).is_some() {
            reply.integer(1);
            ctx.store.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-destroy", &key);
            // Clients blocked in XREADGROUP on it get NOGROUP.
            ctx.store.blocking.signal(ctx.db, &key);
        } else {
            reply.integer(0);
        }
    } else if is(opt, "createconsumer") && argc == 5 {
        let now = ctx.now_ms as i64;
        let g = stream_mut(ctx, &key)
            .groups
            .get_mut(&group)
            .expect("checked");
        let created = !g.consumers.contains_key(&args[4]);
        if created {
            g.consumers.insert(
                args[4].clone(),
                Consumer {
                    seen_time: now,
                    pel: Default::default(),
                },
            );
            ctx.store.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-createconsumer", &key);
        }
        reply.integer(i64::from(created));
    } else if is(opt, "delconsumer") && argc == 5 {
        let g = stream_mut(ctx, &key)
            .groups
            .get_mut(&group)
            .expect("checked");
        let pending = g.remove_consumer(&args[4]);
        if pending.is_some() {
            ctx.store.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-delconsumer", &key);
        }
        reply.integer(pending.unwrap_or(0) as i64);
    } else {
        return Err(subcommand_syntax(args, "XGROUP"));
    }
    Ok(())
}

// ------------------------------------------------- XACK, XPENDING

/// The stream at `key` and whether it has `group` (Redis's
/// `lookupKeyRead` + `streamLookupCG`), type-checked.
fn group_exists(ctx: &mut Ctx<'_>, key: &[u8], group: &[u8]) -> Result<bool> {
    Ok(read_stream(ctx, key)?.is_some_and(|s| s.groups.contains_key(group)))
}

fn xack(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    if !group_exists(ctx, key, &args[2])? {
        reply.integer(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>>>()?;
    let g = stream_mut(ctx, key)
        .groups
        .get_mut(&args[2])
        .expect("checked");
    let acked = ids.into_iter().filter(|&id| g.ack(id)).count();
    ctx.store.dirty += acked as u64;
    reply.integer(acked as i64);
    Ok(())
}

fn xpending(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (key, group) = (&args[1], &args[2]);
    let argc = args.len();
    let just_info = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Error::Syntax);
    }
    let mut range = None;
    let mut consumer = None;
    let mut min_idle = 0i64;
    if argc >= 6 {
        let mut start_at = 3;
        if is(&args[3], "idle") {
            min_idle = int_arg(&args[4])?;
            if argc < 8 {
                return Err(Error::Syntax);
            }
            start_at += 2;
        }
        let count = int_arg(&args[start_at + 2])?.max(0);
        let start = range_start(&args[start_at])?;
        let end = range_end(&args[start_at + 1])?;
        consumer = args.get(start_at + 3);
        range = Some((start, end, count as usize));
    }
    let now = ctx.now_ms as i64;
    let Some(s) = read_stream(ctx, key)? else {
        return Err(no_key_or_group(key, group));
    };
    let Some(g) = s.groups.get(group) else {
        return Err(no_key_or_group(key, group));
    };
    if just_info {
        reply.array(4);
        reply.integer(g.pel.len() as i64);
        if g.pel.is_empty() {
            reply.null();
            reply.null();
            reply.null_array();
            return Ok(());
        }
        reply_id(reply, *g.pel.keys().next().expect("nonempty"));
        reply_id(reply, *g.pel.keys().next_back().expect("nonempty"));
        let owners: Vec<(&Bytes, usize)> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| (n, c.pel.len()))
            .collect();
        reply.array(owners.len());
        for (name, n) in owners {
            reply.array(2);
            reply.bulk(name);
            reply.bulk(n.to_string().as_bytes());
        }
        return Ok(());
    }
    let (start, end, count) = range.expect("range given");
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pel.range(start..).copied().collect(),
            None => {
                reply.array(0);
                return Ok(());
            }
        },
        None => g.pel.range(start..).map(|(id, _)| *id).collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() >= count || id > end {
            break;
        }
        let nack = &g.pel[&id];
        let idle = now - nack.delivery_time;
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        rows.push((id, nack, idle.max(0)));
    }
    reply.array(rows.len());
    for (id, nack, idle) in rows {
        reply.array(4);
        reply_id(reply, id);
        reply.bulk(&nack.consumer);
        reply.integer(idle);
        reply.integer(nack.delivery_count as i64);
    }
    Ok(())
}

fn no_key_or_group(key: &[u8], group: &[u8]) -> Error {
    nogroup(format!(
        "No such key '{}' or consumer group '{}'",
        cstr(key),
        cstr(group)
    ))
}

// -------------------------------------------------- XCLAIM, XAUTOCLAIM

/// Makes sure `consumer` exists in `group` (creating it raises an event
/// and counts a change), refreshing its seen time.
fn ensure_consumer(ctx: &mut Ctx<'_>, key: &Bytes, group: &Bytes, consumer: &Bytes) {
    let now = ctx.now_ms as i64;
    let g = stream_mut(ctx, key).groups.get_mut(group).expect("group");
    match g.consumers.get_mut(consumer) {
        Some(c) => c.seen_time = now,
        None => {
            g.consumers.insert(
                consumer.clone(),
                Consumer {
                    seen_time: now,
                    pel: Default::default(),
                },
            );
            ctx.store.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
        }
    }
}

fn parse_min_idle(arg: &[u8], command: &str) -> Result<i64> {
    crate::parse_i64_exact(arg)
        .map(|n| n.max(0))
        .ok_or_else(|| Error::Other(format!("Invalid min-idle-time argument for {command}")))
}

fn xclaim(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (key, group, consumer) = (&args[1], &args[2], &args[3]);
    if !group_exists(ctx, key, group)? {
        return Err(no_key_or_group(key, group));
    }
    let min_idle = parse_min_idle(&args[4], "XCLAIM")?;
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(&args[j], 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms as i64;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut delivery: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        let option_int = |arg: &[u8], what: &str| {
            crate::parse_i64_exact(arg)
                .ok_or_else(|| Error::Other(format!("Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            delivery = now.wrapping_sub(option_int(&args[j], "IDLE")?);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = option_int(&args[j], "TIME")?;
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = option_int(&args[j], "RETRYCOUNT")?;
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&args[j], 0)?;
        } else {
            return Err(Error::Other(format!(
                "Unrecognized XCLAIM option '{}'",
                cstr(opt)
            )));
        }
        j += 1;
    }
    let mut propagate_last_id = false;
    {
        let g = stream_mut(ctx, key).groups.get_mut(group).expect("checked");
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    if delivery == -1 || delivery < 0 || delivery > now {
        delivery = now;
    }
    let mut replies: Vec<StreamId> = Vec::new();
    let mut consumer_ready = false;
    for id in ids {
        let s = stream_mut(ctx, key);
        let exists = s.contains(id);
        let g = s.groups.get_mut(group).expect("checked");
        let pending = g.pel.contains_key(&id);
        if !exists {
            if pending {
                let last = g.last_id;
                let claim = xclaim_args(key, group, id, &g.pel[&id], last);
                g.ack(id);
                ctx.propagate_instead(claim);
                propagate_last_id = false;
                ctx.store.dirty += 1;
            }
            continue;
        }
        let mut fresh = false;
        if force && !pending {
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: Bytes::new(),
                },
            );
            fresh = true;
        } else if !pending {
            continue;
        }
        if !fresh && min_idle > 0 && now - g.pel[&id].delivery_time < min_idle {
            continue;
        }
        if !consumer_ready {
            ensure_consumer(ctx, key, group, consumer);
            consumer_ready = true;
        }
        let s = stream_mut(ctx, key);
        let g = s.groups.get_mut(group).expect("checked");
        g.assign(id, consumer);
        let nack = g.pel.get_mut(&id).expect("pending");
        nack.delivery_time = delivery;
        if retrycount >= 0 {
            nack.delivery_count = retrycount as u64;
        } else if !justid {
            nack.delivery_count += 1;
        }
        let claim = xclaim_args(key, group, id, nack, g.last_id);
        replies.push(id);
        ctx.propagate_instead(claim);
        propagate_last_id = false;
        ctx.store.dirty += 1;
    }
    if propagate_last_id {
        let g = &stream_mut(ctx, key).groups[group];
        let setid = setid_args(key, group, g);
        ctx.propagate_instead(setid);
        ctx.store.dirty += 1;
    }
    // Nothing but the commands above is propagated.
    ctx.propagate_instead(Vec::new());
    let s = stream_mut(ctx, key);
    reply.array(replies.len());
    let mut buf = Vec::new();
    for id in replies {
        if justid {
            reply_id(reply, id);
        } else {
            reply_entry(reply, &s.get(id).expect("exists"), &mut buf);
        }
    }
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (key, group, consumer) = (&args[1], &args[2], &args[3]);
    let min_idle = parse_min_idle(&args[4], "XAUTOCLAIM")?;
    let start = range_start(&args[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match crate::parse_i64_exact(&args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return Err(Error::Other("COUNT must be > 0".into())),
            };
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if !group_exists(ctx, key, group)? {
        return Err(no_key_or_group(key, group));
    }
    let now = ctx.now_ms as i64;
    let mut attempts = count.saturating_mul(10);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cursor = start;
    let mut next = StreamId::MIN;
    let mut consumer_ready = false;
    loop {
        let s = stream_mut(ctx, key);
        let g = &s.groups[group];
        let Some((&id, _)) = g.pel.range(cursor..).next() else {
            break;
        };
        if attempts == 0 || count == 0 {
            next = id;
            break;
        }
        attempts -= 1;
        cursor = match id.incr() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        let exists = s.contains(id);
        let g = s.groups.get_mut(group).expect("checked");
        if !exists {
            let claim = xclaim_args(key, group, id, &g.pel[&id], g.last_id);
            g.ack(id);
            ctx.propagate_instead(claim);
            ctx.store.dirty += 1;
            deleted.push(id);
            count -= 1;
        } else {
            if min_idle > 0 && now - g.pel[&id].delivery_time < min_idle {
                if id == StreamId::MAX {
                    break;
                }
                continue;
            }
            if !consumer_ready {
                ensure_consumer(ctx, key, group, consumer);
                consumer_ready = true;
            }
            let g = stream_mut(ctx, key).groups.get_mut(group).expect("checked");
            g.assign(id, consumer);
            let nack = g.pel.get_mut(&id).expect("pending");
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
            let claim = xclaim_args(key, group, id, nack, g.last_id);
            ctx.propagate_instead(claim);
            ctx.store.dirty += 1;
            claimed.push(id);
            count -= 1;
        }
        if id == StreamId::MAX {
            break;
        }
    }
    ctx.propagate_instead(Vec::new());
    let s = stream_mut(ctx, key);
    reply.array(3);
    reply_id(reply, next);
    reply.array(claimed.len());
    let mut buf = Vec::new();
    for id in claimed {
        if justid {
            reply_id(reply, id);
        } else {
            reply_entry(reply, &s.get(id).expect("exists"), &mut buf);
        }
    }
    reply.array(deleted.len());
    for id in deleted {
        reply_id(reply, id);
    }
    Ok(())
}

// ------------------------------------------------------------- XINFO

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn reply_lag(reply: &mut Reply<'_>, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(lag) => reply.integer(lag),
        None => reply.null(),
    }
}

fn reply_entries_read(reply: &mut Reply<'_>, g: &Group) {
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        reply.null();
    } else {
        reply.integer(g.entries_read);
    }
}

fn xinfo(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if is(&args[1], "help") {
        if args.len() != 2 {
            return Err(subcommand_syntax(args, "XINFO"));
        }
        reply.help(XINFO_HELP);
        return Ok(());
    }
    if args.len() < 3 {
        return Err(subcommand_syntax(args, "XINFO"));
    }
    let (opt, key) = (&args[1], &args[2]);
    let now = ctx.now_ms as i64;
    let Some(s) = read_stream(ctx, key)? else {
        return Err(Error::NoSuchKey);
    };
    if is(opt, "consumers") && args.len() == 4 {
        let Some(g) = s.groups.get(&args[3]) else {
            return Err(nogroup(format!(
                "No such consumer group '{}' for key name '{}'",
                cstr(&args[3]),
                cstr(key)
            )));
        };
        reply.array(g.consumers.len());
        for (name, c) in &g.consumers {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(name);
            reply.bulk(b"pending");
            reply.integer(c.pel.len() as i64);
            reply.bulk(b"idle");
            reply.integer((now - c.seen_time).max(0));
        }
    } else if is(opt, "groups") && args.len() == 3 {
        reply.array(s.groups.len());
        for (name, g) in &s.groups {
            reply.map(6);
            reply.bulk(b"name");
            reply.bulk(name);
            reply.bulk(b"consumers");
            reply.integer(g.consumers.len() as i64);
            reply.bulk(b"pending");
            reply.integer(g.pel.len() as i64);
            reply.bulk(b"last-delivered-id");
            reply_id(reply, g.last_id);
            reply.bulk(b"entries-read");
            reply_entries_read(reply, g);
            reply.bulk(b"lag");
            reply_lag(reply, s, g);
        }
    } else if is(opt, "stream") {
        xinfo_stream(reply, s, args)?;
    } else {
        return Err(subcommand_syntax(args, "XINFO"));
    }
    Ok(())
}

fn xinfo_stream(reply: &mut Reply<'_>, s: &Stream, args: &[Bytes]) -> Result {
    let opts = &args[3..];
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !is(&opts[0], "full") {
            return Err(subcommand_syntax(args, "XINFO"));
        }
        if opts.len() == 3 {
            if !is(&opts[1], "count") {
                return Err(subcommand_syntax(args, "XINFO"));
            }
            count = int_arg(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    reply.map(if full { 9 } else { 10 });
    reply.bulk(b"length");
    reply.integer(s.length as i64);
    reply.bulk(b"radix-tree-keys");
    reply.integer(s.nodes.len() as i64);
    reply.bulk(b"radix-tree-nodes");
    reply.integer(s.rax_nodes() as i64);
    reply.bulk(b"last-generated-id");
    reply_id(reply, s.last_id);
    reply.bulk(b"max-deleted-entry-id");
    reply_id(reply, s.max_deleted_id);
    reply.bulk(b"entries-added");
    reply.integer(s.entries_added as i64);
    reply.bulk(b"recorded-first-entry-id");
    reply_id(reply, s.first_id);
    let mut buf = Vec::new();
    if !full {
        reply.bulk(b"groups");
        reply.integer(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            reply.bulk(name);
            match collect(s, StreamId::MIN, StreamId::MAX, rev, 1).first() {
                Some(e) => reply_entry(reply, e, &mut buf),
                None => reply.null(),
            }
        }
        return Ok(());
    }
    let limit = count as usize;
    reply.bulk(b"entries");
    reply_entries(
        reply,
        &collect(s, StreamId::MIN, StreamId::MAX, false, limit),
    );
    reply.bulk(b"groups");
    reply.array(s.groups.len());
    for (name, g) in &s.groups {
        reply.map(7);
        reply.bulk(b"name");
        reply.bulk(name);
        reply.bulk(b"last-delivered-id");
        reply_id(reply, g.last_id);
        reply.bulk(b"entries-read");
        reply_entries_read(reply, g);
        reply.bulk(b"lag");
        reply_lag(reply, s, g);
        reply.bulk(b"pel-count");
        reply.integer(g.pel.len() as i64);
        reply.bulk(b"pending");
        let shown = if limit == 0 {
            g.pel.len()
        } else {
            limit.min(g.pel.len())
        };
        reply.array(shown);
        for (id, nack) in g.pel.iter().take(shown) {
            reply.array(4);
            reply_id(reply, *id);
            reply.bulk(&nack.consumer);
            reply.integer(nack.delivery_time);
            reply.integer(nack.delivery_count as i64);
        }
        reply.bulk(b"consumers");
        reply.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            reply.map(4);
            reply.bulk(b"name");
            reply.bulk(cname);
            reply.bulk(b"seen-time");
            reply.integer(c.seen_time);
            reply.bulk(b"pel-count");
            reply.integer(c.pel.len() as i64);
            reply.bulk(b"pending");
            let shown = if limit == 0 {
                c.pel.len()
            } else {
                limit.min(c.pel.len())
            };
            reply.array(shown);
            for id in c.pel.iter().take(shown) {
                let nack = &g.pel[id];
                reply.array(3);
                reply_id(reply, *id);
                reply.integer(nack.delivery_time);
                reply.integer(nack.delivery_count as i64);
            }
        }
    }
    Ok(())
}
