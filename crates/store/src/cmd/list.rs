//! List commands (Redis 7.0's t_list.c): pushes and pops at both ends,
//! ranges, positional edits, moves between lists, and the blocking forms.
//!
//! Each handler parses and validates in Redis's order (which decides which
//! error wins), then applies, then replies; keyspace events, WATCH and the
//! dirty counter follow Redis's calls one for one.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{block_timeout, int_arg, is, spec, CommandSpec};
use crate::error::{Error, Result};
use crate::notify;
use crate::types::List;
use crate::{Block, BlockKind, Coll, Ctx, Value};

/// The list family's commands.
pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "lpush",
        -3,
        "write denyoom fast",
        (1, 1, 1),
        "list",
        "Prepend one or multiple elements to a list",
        Some(lpush),
    ),
    spec(
        "rpush",
        -3,
        "write denyoom fast",
        (1, 1, 1),
        "list",
        "Append one or multiple elements to a list",
        Some(rpush),
    ),
    spec(
        "lpushx",
        -3,
        "write denyoom fast",
        (1, 1, 1),
        "list",
        "Prepend an element to a list, only if the list exists",
        Some(lpushx),
    ),
    spec(
        "rpushx",
        -3,
        "write denyoom fast",
        (1, 1, 1),
        "list",
        "Append an element to a list, only if the list exists",
        Some(rpushx),
    ),
    spec(
        "lpop",
        -2,
        "write fast",
        (1, 1, 1),
        "list",
        "Remove and get the first elements in a list",
        Some(lpop),
    ),
    spec(
        "rpop",
        -2,
        "write fast",
        (1, 1, 1),
        "list",
        "Remove and get the last elements in a list",
        Some(rpop),
    ),
    spec(
        "llen",
        2,
        "readonly fast",
        (1, 1, 1),
        "list",
        "Get the length of a list",
        Some(llen),
    ),
    spec(
        "lrange",
        4,
        "readonly",
        (1, 1, 1),
        "list",
        "Get a range of elements from a list",
        Some(lrange),
    ),
    spec(
        "lindex",
        3,
        "readonly",
        (1, 1, 1),
        "list",
        "Get an element from a list by its index",
        Some(lindex),
    ),
    spec(
        "lset",
        4,
        "write denyoom",
        (1, 1, 1),
        "list",
        "Set the value of an element in a list by its index",
        Some(lset),
    ),
    spec(
        "linsert",
        5,
        "write denyoom",
        (1, 1, 1),
        "list",
        "Insert an element before or after another element in a list",
        Some(linsert),
    ),
    spec(
        "lrem",
        4,
        "write",
        (1, 1, 1),
        "list",
        "Remove elements from a list",
        Some(lrem),
    ),
    spec(
        "ltrim",
        4,
        "write",
        (1, 1, 1),
        "list",
        "Trim a list to the specified range",
        Some(ltrim),
    ),
    spec(
        "lpos",
        -3,
        "readonly",
        (1, 1, 1),
        "list",
        "Return the index of matching elements on a list",
        Some(lpos),
    ),
    spec(
        "lmove",
        5,
        "write denyoom",
        (1, 2, 1),
        "list",
        "Pop an element from a list, push it to another list and return it",
        Some(lmove),
    ),
    spec(
        "rpoplpush",
        3,
        "write denyoom",
        (1, 2, 1),
        "list",
        "Remove the last element in a list, prepend it to another list and return it",
        Some(rpoplpush),
    ),
    // LMPOP and BLMPOP find their keys through numkeys (`movablekeys`):
    // the legacy first/last/step are 0, as Redis reports them.
    spec(
        "lmpop",
        -4,
        "write movablekeys",
        (0, 0, 0),
        "list",
        "Pop elements from a list",
        Some(lmpop),
    ),
    spec(
        "blpop",
        -3,
        "write noscript blocking",
        (1, -2, 1),
        "list",
        "Remove and get the first element in a list, or block until one is available",
        Some(blpop),
    ),
    spec(
        "brpop",
        -3,
        "write noscript blocking",
        (1, -2, 1),
        "list",
        "Remove and get the last element in a list, or block until one is available",
        Some(brpop),
    ),
    spec(
        "blmove",
        6,
        "write denyoom noscript blocking",
        (1, 2, 1),
        "list",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        Some(blmove),
    ),
    spec(
        "brpoplpush",
        4,
        "write denyoom noscript blocking",
        (1, 2, 1),
        "list",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        Some(brpoplpush),
    ),
    spec(
        "blmpop",
        -5,
        "write blocking movablekeys",
        (0, 0, 0),
        "list",
        "Pop elements from a list, or block until one is available",
        Some(blmpop),
    ),
];

/// Which end of a list (Redis's `LIST_HEAD` / `LIST_TAIL`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

impl End {
    fn pop_event(self) -> &'static str {
        match self {
            End::Head => "lpop",
            End::Tail => "rpop",
        }
    }

    fn push_event(self) -> &'static str {
        match self {
            End::Head => "lpush",
            End::Tail => "rpush",
        }
    }
}

/// Redis's `getListPositionFromObjectOrReply`: LEFT or RIGHT.
fn end_arg(arg: &[u8]) -> Result<End> {
    if is(arg, "left") {
        Ok(End::Head)
    } else if is(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(Error::Syntax)
    }
}

/// Redis's `getRangeLongFromObjectOrReply` with a custom message: both a
/// non-integer and an out-of-range value reply `msg`.
fn ranged_arg(arg: &[u8], min: i64, msg: &str) -> Result<i64> {
    match crate::parse_i64_exact(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(Error::Other(msg.into())),
    }
}

/// The list at `key` for reading (hit/miss stats); WRONGTYPE otherwise.
fn read_list<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c List>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(&l.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The list at `key` for writing; WRONGTYPE otherwise.
fn write_list<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut List>> {
    match ctx.write(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(&mut l.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// Redis's `signalModifiedKey` plus `server.dirty += changes`.
fn touched(ctx: &mut Ctx<'_>, key: &[u8], changes: usize) {
    ctx.store.touch_watched(ctx.db, key);
    ctx.store.dirty += changes as u64;
}

/// Redis's `listElementsRemoved`: the pop event, the key deleted (with
/// `del`) if the list is now empty, WATCH, dirty.
fn elements_removed(ctx: &mut Ctx<'_>, key: &[u8], end: End, now_empty: bool, count: usize) {
    ctx.notify(notify::LIST, end.pop_event(), key);
    if now_empty {
        ctx.store.delete(ctx.db, key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    touched(ctx, key, count);
}

/// Creates the list at `key` with `first` as its only element (Redis's
/// `dbAdd`: the `new` event, and clients blocked on the key wake up).
fn create_list(ctx: &mut Ctx<'_>, key: &[u8], first: &[u8]) {
    let mut list = List::new(ctx.store.config.list_max_listpack_size);
    list.push_back(first);
    ctx.set(key, Value::List(Coll::new(list)), false);
    // `set` counted one change; the push counts its own below.
    ctx.store.dirty -= 1;
}

fn push(list: &mut List, end: End, value: &[u8]) {
    match end {
        End::Head => list.push_front(value),
        End::Tail => list.push_back(value),
    }
}

/// Copies out and removes the element at `end` of a non-empty list.
fn pop_owned(list: &mut List, end: End) -> Vec<u8> {
    match end {
        End::Head => {
            let v = list.front().unwrap_or_default().to_vec();
            list.pop_front();
            v
        }
        End::Tail => {
            let v = list.back().unwrap_or_default().to_vec();
            list.pop_back();
            v
        }
    }
}

fn push_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    end: End,
    only_existing: bool,
) -> Result {
    let key = &args[1];
    let values = &args[2..];
    let len = match write_list(ctx, key)? {
        Some(list) => {
            for v in values {
                push(list, end, v);
            }
            list.len()
        }
        None if only_existing => {
            reply.integer(0);
            return Ok(());
        }
        None => {
            let mut list = List::new(ctx.store.config.list_max_listpack_size);
            for v in values {
                push(&mut list, end, v);
            }
            let len = list.len();
            ctx.set(key, Value::List(Coll::new(list)), false);
            ctx.store.dirty -= 1;
            len
        }
    };
    reply.integer(len as i64);
    ctx.notify(notify::LIST, end.push_event(), key);
    touched(ctx, key, values.len());
    Ok(())
}

pub(crate) fn lpush(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    push_generic(ctx, reply, args, End::Head, false)
}

pub(crate) fn rpush(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    push_generic(ctx, reply, args, End::Tail, false)
}

pub(crate) fn lpushx(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    push_generic(ctx, reply, args, End::Head, true)
}

pub(crate) fn rpushx(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    push_generic(ctx, reply, args, End::Tail, true)
}

/// Replies up to `count` elements from `end` (tail first for the tail, as
/// Redis's reversed range) and removes them. Returns how many.
fn pop_range_reply(list: &mut List, reply: &mut Reply<'_>, end: End, count: usize) -> usize {
    let n = count.min(list.len());
    reply.array(n);
    match end {
        End::Head => {
            for v in list.iter().take(n) {
                reply.bulk(v);
            }
            list.drain_front(n);
        }
        End::Tail => {
            for v in list.iter().rev().take(n) {
                reply.bulk(v);
            }
            list.drain_back(n);
        }
    }
    n
}

fn pop_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], end: End) -> Result {
    if args.len() > 3 {
        let name = match end {
            End::Head => "lpop",
            End::Tail => "rpop",
        };
        return Err(Error::WrongArity(name.into()));
    }
    let count = match args.get(2) {
        Some(arg) => Some(ranged_arg(arg, 0, "value is out of range, must be positive")? as usize),
        None => None,
    };
    let key = &args[1];
    let Some(list) = write_list(ctx, key)? else {
        match count {
            Some(_) => reply.null_array(),
            None => reply.null(),
        }
        return Ok(());
    };
    let removed = match count {
        None => {
            let v = match end {
                End::Head => list.front(),
                End::Tail => list.back(),
            };
            reply.bulk(v.unwrap_or_default());
            match end {
                End::Head => list.pop_front(),
                End::Tail => list.pop_back(),
            };
            1
        }
        Some(0) => {
            reply.array(0);
            return Ok(());
        }
        Some(count) => pop_range_reply(list, reply, end, count),
    };
    let now_empty = list.is_empty();
    elements_removed(ctx, key, end, now_empty, removed);
    Ok(())
}

pub(crate) fn lpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    pop_generic(ctx, reply, args, End::Head)
}

pub(crate) fn rpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    pop_generic(ctx, reply, args, End::Tail)
}

pub(crate) fn llen(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let len = read_list(ctx, &args[1])?.map_or(0, List::len);
    reply.integer(len as i64);
    Ok(())
}

/// Redis's range normalisation (LRANGE, LTRIM): negative indexes count
/// from the tail; `None` when the range is empty, else (start, count).
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, (end - start + 1) as usize))
}

pub(crate) fn lrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let start = int_arg(&args[2])?;
    let end = int_arg(&args[3])?;
    let Some(list) = read_list(ctx, &args[1])? else {
        reply.array(0);
        return Ok(());
    };
    match range(start, end, list.len()) {
        None => reply.array(0),
        Some((start, n)) => {
            reply.array(n);
            for v in list.iter_from(start).take(n) {
                reply.bulk(v);
            }
        }
    }
    Ok(())
}

/// A Redis list index (negative from the tail) as a position, if in range.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i.checked_add(len as i64)? } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

pub(crate) fn lindex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let Some(list) = read_list(ctx, &args[1])? else {
        reply.null();
        return Ok(());
    };
    let i = int_arg(&args[2])?;
    match index(i, list.len()).and_then(|i| list.get(i)) {
        Some(v) => reply.bulk(v),
        None => reply.null(),
    }
    Ok(())
}

pub(crate) fn lset(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let list = write_list(ctx, key)?.ok_or(Error::NoSuchKey)?;
    let i = int_arg(&args[2])?;
    let ok = index(i, list.len()).is_some_and(|i| list.set(i, &args[3]));
    if !ok {
        return Err(Error::Other("index out of range".into()));
    }
    reply.ok();
    touched(ctx, key, 1);
    ctx.notify(notify::LIST, "lset", key);
    Ok(())
}

pub(crate) fn linsert(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let key = &args[1];
    let Some(list) = write_list(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let pivot = &args[3][..];
    let Some(at) = list.iter().position(|v| v == pivot) else {
        reply.integer(-1);
        return Ok(());
    };
    list.insert(at + usize::from(after), &args[4]);
    let len = list.len();
    touched(ctx, key, 1);
    ctx.notify(notify::LIST, "linsert", key);
    reply.integer(len as i64);
    Ok(())
}

pub(crate) fn lrem(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let count = int_arg(&args[2])?;
    let key = &args[1];
    let Some(list) = write_list(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    // i64::MIN has no positive counterpart; Redis then removes them all.
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(0);
    let removed = list.remove_eq(&args[3], limit, count < 0);
    let now_empty = list.is_empty();
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", key);
    }
    if now_empty {
        ctx.store.delete(ctx.db, key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    if removed > 0 {
        touched(ctx, key, removed);
    }
    reply.integer(removed as i64);
    Ok(())
}

pub(crate) fn ltrim(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let start = int_arg(&args[2])?;
    let end = int_arg(&args[3])?;
    let key = &args[1];
    let Some(list) = write_list(ctx, key)? else {
        reply.ok();
        return Ok(());
    };
    let before = list.len();
    match range(start, end, before) {
        Some((start, n)) => list.keep_range(start, n),
        None => list.keep_range(0, 0),
    }
    let removed = before - list.len();
    let now_empty = list.is_empty();
    ctx.notify(notify::LIST, "ltrim", key);
    if now_empty {
        ctx.store.delete(ctx.db, key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    touched(ctx, key, removed);
    reply.ok();
    Ok(())
}

pub(crate) fn lpos(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "rank") && more {
            j += 1;
            rank = int_arg(&args[j])?;
            if rank == 0 {
                return Err(Error::Other(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list"
                        .into(),
                ));
            }
        } else if is(&args[j], "count") && more {
            j += 1;
            count = Some(ranged_arg(&args[j], 0, "COUNT can't be negative")? as u64);
        } else if is(&args[j], "maxlen") && more {
            j += 1;
            maxlen = ranged_arg(&args[j], 0, "MAXLEN can't be negative")? as u64;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let from_tail = rank < 0;
    // Redis negates the rank in a C long: i64::MIN stays negative, so every
    // match qualifies and COUNT never ends the search (all matches).
    let unbounded = rank == i64::MIN;
    let rank = if unbounded { 1 } else { rank.unsigned_abs() };
    let Some(list) = read_list(ctx, &args[1])? else {
        match count {
            Some(_) => reply.array(0),
            None => reply.null(),
        }
        return Ok(());
    };
    let len = list.len() as u64;
    let element = &args[2][..];
    let mut found: Vec<i64> = Vec::new();
    let mut matches: u64 = 0;
    let mut visit = |i: u64, v: &[u8]| -> bool {
        if maxlen != 0 && i >= maxlen {
            return false;
        }
        if v == element {
            matches += 1;
            if matches >= rank {
                let at = if from_tail { len - i - 1 } else { i };
                found.push(at as i64);
                match count {
                    None => return false,
                    Some(c) if c != 0 && !unbounded && matches - rank + 1 >= c => return false,
                    Some(_) => {}
                }
            }
        }
        true
    };
    if from_tail {
        for (i, v) in list.iter().rev().enumerate() {
            if !visit(i as u64, v) {
                break;
            }
        }
    } else {
        for (i, v) in list.iter().enumerate() {
            if !visit(i as u64, v) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            reply.array(found.len());
            for i in found {
                reply.integer(i);
            }
        }
        None => match found.first() {
            Some(&i) => reply.integer(i),
            None => reply.null(),
        },
    }
    Ok(())
}

/// Redis's `lmoveGenericCommand` once the source is known to be a
/// non-empty list: pop, push (creating the destination), reply, events.
fn lmove_apply(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result {
    // The destination's type is checked before anything moves.
    let dst_exists = match ctx.write(dst) {
        None => false,
        Some(Value::List(_)) => true,
        Some(_) => return Err(Error::WrongType),
    };
    let Some(list) = write_list(ctx, src)? else {
        reply.null();
        return Ok(());
    };
    let value = pop_owned(list, from);
    let src_empty = list.is_empty();
    // With src == dst the list never empties: the element goes back in.
    if src == dst {
        push(list, to, &value);
    } else if dst_exists {
        if let Some(d) = write_list(ctx, dst)? {
            push(d, to, &value);
        }
    } else {
        create_list(ctx, dst, &value);
    }
    if src != dst {
        ctx.store.touch_watched(ctx.db, dst);
    }
    ctx.notify(notify::LIST, to.push_event(), dst);
    reply.bulk(&value);
    elements_removed(ctx, src, from, src_empty && src != dst, 1);
    Ok(())
}

/// LMOVE / RPOPLPUSH, and the blocking forms once they have data: a
/// missing source replies the null bulk.
fn lmove_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result {
    match write_list(ctx, src)? {
        Some(list) if !list.is_empty() => lmove_apply(ctx, reply, src, dst, from, to),
        _ => {
            reply.null();
            Ok(())
        }
    }
}

pub(crate) fn lmove(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let from = end_arg(&args[3])?;
    let to = end_arg(&args[4])?;
    lmove_generic(ctx, reply, &args[1], &args[2], from, to)
}

pub(crate) fn rpoplpush(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    lmove_generic(ctx, reply, &args[1], &args[2], End::Tail, End::Head)
}

/// Redis's `blmoveGenericCommand`.
fn blmove_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    from: End,
    to: End,
    timeout: &[u8],
) -> Result {
    let deadline_ms = block_timeout(timeout, ctx.now_ms)?;
    let (src, dst) = (&args[1], &args[2]);
    if write_list(ctx, src)?.is_some() {
        // Logged as the non-blocking command it became.
        ctx.propagate_instead(if args.len() == 4 {
            vec![Bytes::from_static(b"RPOPLPUSH"), src.clone(), dst.clone()]
        } else {
            let mut lmove = args[..5].to_vec();
            lmove[0] = Bytes::from_static(b"LMOVE");
            lmove
        });
        return lmove_apply(ctx, reply, src, dst, from, to);
    }
    if !ctx.may_block {
        reply.null();
        return Ok(());
    }
    ctx.block = Some(Block {
        keys: vec![src.clone()],
        deadline_ms,
        kind: BlockKind::List,
        retry: None,
    });
    Ok(())
}

pub(crate) fn blmove(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let from = end_arg(&args[3])?;
    let to = end_arg(&args[4])?;
    blmove_generic(ctx, reply, args, from, to, &args[5])
}

pub(crate) fn brpoplpush(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    blmove_generic(ctx, reply, args, End::Tail, End::Head, &args[3])
}

/// How a multi-key pop replies (Redis's `count == -1` for BLPOP/BRPOP).
#[derive(Clone, Copy)]
enum PopShape {
    /// `[key, element]`.
    One,
    /// `[key, [elements…]]` with up to this many elements.
    Many(usize),
}

/// Pops from the first non-empty list among `keys`; a key of another
/// type met before it is WRONGTYPE. Returns false if every list was
/// empty or missing (nothing written).
fn pop_first(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    keys: &[Bytes],
    end: End,
    shape: PopShape,
) -> Result<bool> {
    for key in keys {
        let Some(list) = write_list(ctx, key)? else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        reply.array(2);
        reply.bulk(key);
        let removed = match shape {
            PopShape::One => {
                let v = match end {
                    End::Head => list.front(),
                    End::Tail => list.back(),
                };
                reply.bulk(v.unwrap_or_default());
                match end {
                    End::Head => list.pop_front(),
                    End::Tail => list.pop_back(),
                };
                1
            }
            PopShape::Many(count) => pop_range_reply(list, reply, end, count),
        };
        let now_empty = list.is_empty();
        elements_removed(ctx, key, end, now_empty, removed);
        // Logged as the plain pop it was: [LR]POP key [count].
        let mut pop = vec![
            Bytes::from_static(match end {
                End::Head => b"LPOP",
                End::Tail => b"RPOP",
            }),
            key.clone(),
        ];
        if let PopShape::Many(_) = shape {
            pop.push(Bytes::from(removed.to_string()));
        }
        ctx.propagate_instead(pop);
        return Ok(true);
    }
    Ok(false)
}

/// Redis's `blockingPopGenericCommand`: the timeout first, then the keys
/// in order; block (or, where blocking is not allowed, the null array).
fn blocking_pop(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    keys: &[Bytes],
    timeout: &[u8],
    end: End,
    shape: PopShape,
) -> Result {
    let deadline_ms = block_timeout(timeout, ctx.now_ms)?;
    if pop_first(ctx, reply, keys, end, shape)? {
        return Ok(());
    }
    if !ctx.may_block {
        reply.null_array();
        return Ok(());
    }
    ctx.block = Some(Block {
        keys: keys.to_vec(),
        deadline_ms,
        kind: BlockKind::List,
        retry: None,
    });
    Ok(())
}

pub(crate) fn blpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let n = args.len();
    blocking_pop(
        ctx,
        reply,
        &args[1..n - 1],
        &args[n - 1],
        End::Head,
        PopShape::One,
    )
}

pub(crate) fn brpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let n = args.len();
    blocking_pop(
        ctx,
        reply,
        &args[1..n - 1],
        &args[n - 1],
        End::Tail,
        PopShape::One,
    )
}

/// Redis's `lmpopGenericCommand` parsing: numkeys, keys, LEFT|RIGHT,
/// `[COUNT n]`. Returns the keys' range in `args`, the end and the count.
fn mpop_args(args: &[Bytes], numkeys_at: usize) -> Result<(usize, usize, End, usize)> {
    let numkeys = ranged_arg(&args[numkeys_at], 1, "numkeys should be greater than 0")?;
    let first = numkeys_at + 1;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| first.checked_add(n))
        .filter(|&w| w < args.len())
        .ok_or(Error::Syntax)?;
    let end = end_arg(&args[where_at])?;
    let mut count: Option<usize> = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            count = Some(ranged_arg(&args[j], 1, "count should be greater than 0")? as usize);
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok((first, where_at, end, count.unwrap_or(1)))
}

pub(crate) fn lmpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (first, last, end, count) = mpop_args(args, 1)?;
    if !pop_first(ctx, reply, &args[first..last], end, PopShape::Many(count))? {
        reply.null_array();
    }
    Ok(())
}

pub(crate) fn blmpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (first, last, end, count) = mpop_args(args, 2)?;
    blocking_pop(
        ctx,
        reply,
        &args[first..last],
        &args[1],
        end,
        PopShape::Many(count),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use shoal_resp::Protocol;

    fn run(store: &mut Store, may_block: bool, args: &[&str]) -> (Vec<u8>, Option<Block>) {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let spec = crate::lookup_command(&args[0]).unwrap();
        let mut ctx = Ctx::new(store, 0, 1_700_000_000_000, 1);
        ctx.may_block = may_block;
        let mut out = Vec::new();
        let mut reply = Reply::new(&mut out, Protocol::Resp2);
        if let Err(e) = crate::execute(spec, &mut ctx, &mut reply, &args) {
            out.extend_from_slice(format!("-{e}\r\n").as_bytes());
        }
        (out, ctx.block)
    }

    #[test]
    fn blocking_commands_block_only_when_allowed_and_empty() {
        let mut store = Store::new(1);
        let (out, block) = run(&mut store, true, &["BLPOP", "a", "b", "1.5"]);
        assert!(out.is_empty());
        let block = block.unwrap();
        assert_eq!(block.keys, vec![Bytes::from("a"), Bytes::from("b")]);
        assert_eq!(block.deadline_ms, Some(1_700_000_001_500));
        assert_eq!(block.kind, BlockKind::List);
        let (out, block) = run(&mut store, false, &["BLPOP", "a", "0"]);
        assert_eq!(out, b"*-1\r\n");
        assert!(block.is_none());
        let (out, _) = run(
            &mut store,
            false,
            &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        );
        assert_eq!(out, b"$-1\r\n");
        let (_, block) = run(
            &mut store,
            true,
            &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        );
        assert_eq!(block.unwrap().keys, vec![Bytes::from("a")]);
        let (_, block) = run(&mut store, true, &["BLMPOP", "0", "2", "x", "y", "LEFT"]);
        let block = block.unwrap();
        assert_eq!(block.keys, vec![Bytes::from("x"), Bytes::from("y")]);
        assert_eq!(block.deadline_ms, None);
        // Errors come before blocking.
        let (out, block) = run(&mut store, true, &["BLPOP", "a", "-1"]);
        assert_eq!(out, b"-ERR timeout is negative\r\n");
        assert!(block.is_none());
        // Re-run after data arrived: served.
        run(&mut store, false, &["RPUSH", "b", "x"]);
        let (out, block) = run(&mut store, true, &["BLPOP", "a", "b", "0"]);
        assert_eq!(out, b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
        assert!(block.is_none());
        assert_eq!(run(&mut store, false, &["EXISTS", "b"]).0, b":0\r\n");
    }

    #[test]
    fn lmove_rotates_a_single_element_list() {
        let mut store = Store::new(1);
        run(&mut store, false, &["RPUSH", "a", "x"]);
        let (out, _) = run(&mut store, false, &["LMOVE", "a", "a", "LEFT", "RIGHT"]);
        assert_eq!(out, b"$1\r\nx\r\n");
        assert_eq!(run(&mut store, false, &["LLEN", "a"]).0, b":1\r\n");
    }

    /// The events Redis 7.0 publishes for this sequence (captured with
    /// `notify-keyspace-events KEA` and PSUBSCRIBE on a real server).
    #[test]
    fn keyspace_events_match_redis() {
        let mut store = Store::new(1);
        store.notify_flags = notify::ALL | notify::KEYEVENT;
        let script = [
            "rpush a x y",
            "lpush a z",
            "lpop a",
            "rpop a 5",
            "rpush a 1 2 3",
            "lset a 0 v",
            "linsert a before v w",
            "linsert a before nope w",
            "lrem a 0 w",
            "lrem a 0 nope",
            "ltrim a 0 -1",
            "ltrim a 5 6",
            "rpush s 1",
            "lmove s d left right",
            "rpush d2 q",
            "lmove d2 d2 left right",
            "rpoplpush d2 d3",
            "lpushx d3 u",
            "lmpop 1 d3 left count 5",
            "rpush b k",
            "blpop b 0",
            "rpush c 1 2",
            "lrem c 0 1",
            "lrem c 0 2",
        ];
        for line in script {
            let args: Vec<&str> = line.split(' ').collect();
            let (out, _) = run(&mut store, false, &args);
            assert!(
                !out.starts_with(b"-"),
                "{line}: {}",
                String::from_utf8_lossy(&out)
            );
        }
        let got: Vec<String> = store
            .events
            .iter()
            .map(|e| format!("{}({})", e.event, String::from_utf8_lossy(&e.key)))
            .collect();
        let want = "rpush(a) lpush(a) lpop(a) rpop(a) del(a) rpush(a) lset(a) linsert(a) \
                    lrem(a) ltrim(a) ltrim(a) del(a) rpush(s) rpush(d) lpop(s) del(s) \
                    rpush(d2) rpush(d2) lpop(d2) lpush(d3) rpop(d2) del(d2) lpush(d3) \
                    lpop(d3) del(d3) rpush(b) lpop(b) del(b) rpush(c) lrem(c) lrem(c) del(c)";
        assert_eq!(got.join(" "), want);
    }
}
