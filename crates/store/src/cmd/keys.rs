//! Keyspace commands: existence, renaming, expiry, iteration, databases.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{int_arg, is};
use crate::error::{Error, Result};
use crate::glob::glob_match;
use crate::notify::{GENERIC, KEY_MISS};
use crate::{Ctx, Value};

/// DEL and UNLINK (UNLINK, and DEL under `lazyfree-lazy-user-del`, free
/// big values in the background).
pub(crate) fn del(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let lazy = is(&args[0], "unlink") || ctx.store.config.lazyfree_user_del;
    let mut deleted = 0;
    for key in &args[1..] {
        ctx.store.expire_if_needed(ctx.db, key, ctx.now_ms);
        let gone = if lazy {
            ctx.unlink(key)
        } else {
            ctx.delete(key)
        };
        if gone {
            ctx.notify(GENERIC, "del", key);
            deleted += 1;
        }
    }
    reply.integer(deleted);
    Ok(())
}

/// Redis's `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: lazy expiry, hit and
/// miss counting and `keymiss`, without marking the key as accessed.
fn lookup_notouch(ctx: &mut Ctx<'_>, key: &[u8]) -> bool {
    let found = ctx.exists(key);
    if found {
        ctx.store.stats.keyspace_hits += 1;
    } else {
        ctx.store.stats.keyspace_misses += 1;
        ctx.notify(KEY_MISS, "keymiss", key);
    }
    found
}

/// EXISTS and TOUCH: how many of the keys exist (repeats count again).
/// EXISTS looks without touching, TOUCH is a plain read lookup.
pub(crate) fn exists(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let touch = is(&args[0], "touch");
    let count = args[1..]
        .iter()
        .filter(|k| {
            if touch {
                ctx.read(k).is_some()
            } else {
                lookup_notouch(ctx, k)
            }
        })
        .count();
    reply.integer(count as i64);
    Ok(())
}

pub(crate) fn type_(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    lookup_notouch(ctx, &args[1]);
    let name = ctx
        .db()
        .keys
        .get(&args[1])
        .map_or("none", |e| e.value.type_name());
    reply.simple(name);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], nx: bool) -> Result {
    let (src, dst) = (&args[1], &args[2]);
    if !ctx.exists(src) {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        if nx {
            reply.integer(0)
        } else {
            reply.ok()
        }
        return Ok(());
    }
    if ctx.exists(dst) {
        if nx {
            reply.integer(0);
            return Ok(());
        }
        // Part of the one change RENAME counts.
        ctx.delete_emptied(dst);
    }
    let expire = ctx.db().expire_at(src);
    ctx.store.cow(ctx.db, src);
    ctx.store.cow(ctx.db, dst);
    let entry = ctx.db().keys.remove(src).expect("checked above");
    ctx.db().expires.remove(src);
    // Redis's `dbAdd` for the destination (`new`, and a wake-up for
    // clients blocked on it), then the source goes.
    ctx.set(dst, entry.value, false);
    ctx.set_expire(dst, expire);
    // Setting `dst` counted the one change; `src` only trips WATCH.
    ctx.touched(src);
    ctx.notify(GENERIC, "rename_from", src);
    ctx.notify(GENERIC, "rename_to", dst);
    if nx {
        reply.integer(1)
    } else {
        reply.ok()
    }
    Ok(())
}

pub(crate) fn rename(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    rename_generic(ctx, reply, args, false)
}

pub(crate) fn renamenx(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    rename_generic(ctx, reply, args, true)
}

fn db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize> {
    let id = int_arg(arg)?;
    // Redis reads the index with `getIntFromObjectOrReply` (its wording,
    // typo included) before checking it names a database.
    if i32::try_from(id).is_err() {
        return Err(Error::Other(
            "value is out of range, value must between -2147483648 and 2147483647".into(),
        ));
    }
    if id < 0 || id as usize >= ctx.store.dbs.len() {
        return Err(Error::DbIndexOutOfRange);
    }
    Ok(id as usize)
}

pub(crate) fn copy(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (src, dst) = (&args[1], &args[2]);
    let mut target_db = ctx.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            target_db = db_index(ctx, &args[i + 1])?;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if src == dst && target_db == ctx.db {
        return Err(Error::Other(
            "source and destination objects are the same".into(),
        ));
    }
    // A read lookup, as Redis's (`keymiss` for a missing source).
    let Some(mut value) = ctx.read(src).cloned() else {
        reply.integer(0);
        return Ok(());
    };
    value.unshare();
    let expire = ctx.db().expire_at(src);
    let mut target = Ctx::new(ctx.store, target_db, ctx.now_ms, ctx.client);
    if target.exists(dst) {
        if !replace {
            reply.integer(0);
            return Ok(());
        }
        target.delete(dst);
    }
    target.set(dst, value, false);
    target.set_expire(dst, expire);
    target.notify(GENERIC, "copy_to", dst);
    reply.integer(1);
    Ok(())
}

pub(crate) fn move_(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let target_db = db_index(ctx, &args[2])?;
    if target_db == ctx.db {
        return Err(Error::Other(
            "source and destination objects are the same".into(),
        ));
    }
    if !ctx.exists(key) {
        reply.integer(0);
        return Ok(());
    }
    let mut target = Ctx::new(ctx.store, target_db, ctx.now_ms, ctx.client);
    if target.exists(key) {
        reply.integer(0);
        return Ok(());
    }
    let expire = ctx.db().expire_at(key);
    ctx.store.cow(ctx.db, key);
    let entry = ctx.db().keys.remove(key).expect("checked above");
    ctx.db().expires.remove(key);
    ctx.modified(key);
    let mut target = Ctx::new(ctx.store, target_db, ctx.now_ms, ctx.client);
    target.set(key, entry.value, false);
    target.set_expire(key, expire);
    ctx.notify(GENERIC, "move_from", key);
    ctx.store.notify(target_db, GENERIC, "move_to", key);
    reply.integer(1);
    Ok(())
}

pub(crate) fn keys(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let pattern = &args[1];
    let all = &pattern[..] == b"*";
    let now = ctx.now_ms;
    let db = ctx.db();
    let found: Vec<&[u8]> = db
        .keys
        .iter()
        .map(|e| &e.key[..])
        .filter(|k| (all || glob_match(pattern, k, false)) && !db.is_expired(k, now))
        .collect();
    reply.array(found.len());
    for k in found {
        reply.bulk(k);
    }
    Ok(())
}

/// Redis's SCAN cursor: parsed with C's `strtoul`, so an optional sign
/// is accepted (a negative cursor wraps, as `strtoul` does), the empty
/// string is cursor 0, and overflow or trailing bytes are errors.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64> {
    let invalid = || Error::Other("invalid cursor".into());
    // Redis reads it with `strtoul` on a C string: it ends at a NUL byte.
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut cursor: u64 = 0;
    for d in digits {
        cursor = cursor
            .checked_mul(10)
            .and_then(|c| c.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        cursor.wrapping_neg()
    } else {
        cursor
    })
}

pub(crate) fn scan(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cursor = parse_cursor(&args[1])?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            count = n as usize;
        } else if is(&args[i], "match") && has_value {
            pattern = Some(&args[i + 1]).map(|p| &p[..]).filter(|p| *p != b"*");
        } else if is(&args[i], "type") && has_value {
            type_filter = Some(&args[i + 1]);
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut found: Vec<(Box<[u8]>, &'static str)> = Vec::new();
    let next = db.keys.scan(cursor, count, |e| {
        if let Some(p) = pattern {
            if !glob_match(p, &e.key, false) {
                return;
            }
        }
        found.push((e.key.clone(), e.value.type_name()));
    });
    // Redis's order: after the pattern, the TYPE check looks the key up,
    // which deletes it if expired and then calls it "none"; without TYPE,
    // expired keys are deleted and left out. (So `TYPE none` lists keys
    // that just expired, as Redis 7.0 does.)
    let found: Vec<Box<[u8]>> = found
        .into_iter()
        .filter_map(|(key, type_name)| {
            let expired = ctx.store.expire_if_needed(ctx.db, &key, now);
            if type_filter.is_some() {
                // The TYPE check is a read lookup without touching.
                if expired {
                    ctx.store.stats.keyspace_misses += 1;
                    ctx.store.notify(ctx.db, KEY_MISS, "keymiss", &key);
                } else {
                    ctx.store.stats.keyspace_hits += 1;
                }
            }
            let keep = match type_filter {
                Some(t) => t.eq_ignore_ascii_case(if expired {
                    b"none"
                } else {
                    type_name.as_bytes()
                }),
                None => !expired,
            };
            keep.then_some(key)
        })
        .collect();
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(found.len());
    for k in &found {
        reply.bulk(k);
    }
    Ok(())
}

pub(crate) fn randomkey(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, _args: &[Bytes]) -> Result {
    // Every key may be expired; bound the retries as Redis does.
    for _ in 0..100 {
        let r = ctx.store.next_random();
        let Some(key) = ctx.db().keys.random(r).map(|e| e.key.clone()) else {
            break;
        };
        if !ctx.store.expire_if_needed(ctx.db, &key, ctx.now_ms) {
            reply.bulk(&key);
            return Ok(());
        }
    }
    match ctx.db().keys.random(0).map(|e| e.key.clone()) {
        Some(key) => reply.bulk(&key),
        None => reply.null(),
    }
    Ok(())
}

pub(crate) fn dbsize(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, _args: &[Bytes]) -> Result {
    let n = ctx.db().len();
    reply.integer(n as i64);
    Ok(())
}

/// FLUSHDB's / FLUSHALL's mode: whether to free in the background (ASYNC,
/// or no mode under `lazyfree-lazy-user-flush`).
fn flush_mode(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<bool> {
    match args {
        [_] => Ok(ctx.store.config.lazyfree_user_flush),
        [_, mode] if is(mode, "sync") => Ok(false),
        [_, mode] if is(mode, "async") => Ok(true),
        _ => Err(Error::Syntax),
    }
}

/// Empties one database, tripping the watches of keys that existed.
fn flush_db(ctx: &mut Ctx<'_>, db: usize, lazy: bool) {
    let now_ms = ctx.now_ms;
    let store = &mut *ctx.store;
    let removed = store.dbs[db].len() as u64;
    store.watches.touch_db(db, &store.dbs[db], None, now_ms);
    store.flush_db_with(db, lazy);
    store.dirty += removed;
}

pub(crate) fn flushdb(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let lazy = flush_mode(ctx, args)?;
    flush_db(ctx, ctx.db, lazy);
    ctx.store.force_log = true;
    reply.ok();
    Ok(())
}

pub(crate) fn flushall(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let lazy = flush_mode(ctx, args)?;
    for db in 0..ctx.store.dbs.len() {
        flush_db(ctx, db, lazy);
    }
    ctx.store.force_log = true;
    reply.ok();
    Ok(())
}

pub(crate) fn swapdb(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    // Redis's `getIntFromObjectOrReply`: the index must fit a C int.
    let a = crate::parse_i64_exact(&args[1])
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| Error::Other("invalid first DB index".into()))?;
    let b = crate::parse_i64_exact(&args[2])
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| Error::Other("invalid second DB index".into()))?;
    let n = ctx.store.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(Error::DbIndexOutOfRange);
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        let now_ms = ctx.now_ms;
        let store = &mut *ctx.store;
        // A watched key changes if it exists on either side of the swap.
        let (da, db) = (&store.dbs[a], &store.dbs[b]);
        store.watches.touch_db(a, da, Some(db), now_ms);
        store.watches.touch_db(b, db, Some(da), now_ms);
        store.swap_dbs(a, b);
        store.dirty += 1;
    }
    reply.ok();
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Seconds,
    Millis,
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    unit: ExpireUnit,
    absolute: bool,
    cmd: &'static str,
) -> Result {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            // Redis formats the option with `%s`, which ends at a NUL.
            let shown = opt.split(|&b| b == 0).next().unwrap_or_default();
            return Err(Error::Other(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(shown)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::Other(
            "NX and XX, GT or LT options at the same time are not compatible".into(),
        ));
    }
    if gt && lt {
        return Err(Error::Other(
            "GT and LT options at the same time are not compatible".into(),
        ));
    }
    let mut when = int_arg(&args[2])?;
    let invalid = Error::InvalidExpireTime(cmd);
    if unit == ExpireUnit::Seconds {
        when = when.checked_mul(1000).ok_or(invalid.clone())?;
    }
    if !absolute {
        when = when.checked_add(ctx.now_ms as i64).ok_or(invalid)?;
    }
    let key = &args[1];
    if !ctx.exists(key) {
        reply.integer(0);
        return Ok(());
    }
    let current = ctx.db().expire_at(key).map(|at| at as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.map_or(true, |c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        reply.integer(0);
        return Ok(());
    }
    if when <= ctx.now_ms as i64 {
        ctx.delete(key);
        ctx.propagate_instead(vec![Bytes::from_static(b"DEL"), key.clone()]);
        ctx.notify(GENERIC, "del", key);
    } else {
        ctx.set_expire(key, Some(when as u64));
        ctx.modified(key);
        ctx.notify(GENERIC, "expire", key);
    }
    reply.integer(1);
    Ok(())
}

pub(crate) fn expire(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    expire_generic(ctx, reply, args, ExpireUnit::Seconds, false, "expire")
}

pub(crate) fn pexpire(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    expire_generic(ctx, reply, args, ExpireUnit::Millis, false, "pexpire")
}

pub(crate) fn expireat(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    expire_generic(ctx, reply, args, ExpireUnit::Seconds, true, "expireat")
}

pub(crate) fn pexpireat(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    expire_generic(ctx, reply, args, ExpireUnit::Millis, true, "pexpireat")
}

/// TTL and friends: -2 for a missing key, -1 without expiry.
fn ttl_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    key: &[u8],
    millis: bool,
    absolute: bool,
) -> Result {
    if !lookup_notouch(ctx, key) {
        reply.integer(-2);
        return Ok(());
    }
    let Some(at) = ctx.db().expire_at(key) else {
        reply.integer(-1);
        return Ok(());
    };
    let value = if absolute {
        at as i64
    } else {
        (at as i64 - ctx.now_ms as i64).max(0)
    };
    reply.integer(if millis { value } else { (value + 500) / 1000 });
    Ok(())
}

pub(crate) fn ttl(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    ttl_generic(ctx, reply, &args[1], false, false)
}

pub(crate) fn pttl(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    ttl_generic(ctx, reply, &args[1], true, false)
}

pub(crate) fn expiretime(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    ttl_generic(ctx, reply, &args[1], false, true)
}

pub(crate) fn pexpiretime(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    ttl_generic(ctx, reply, &args[1], true, true)
}

pub(crate) fn persist(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    if ctx.exists(key) && ctx.db().expire_at(key).is_some() {
        ctx.set_expire(key, None);
        ctx.modified(key);
        ctx.notify(GENERIC, "persist", key);
        reply.integer(1);
    } else {
        reply.integer(0);
    }
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Redis shares the integers 0..10000 between keys and reports them with
/// `OBJ_SHARED_REFCOUNT`.
const OBJ_SHARED_REFCOUNT: i64 = i32::MAX as i64;

pub(crate) fn object(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let sub = &args[1];
    // Redis 7.0 resolves `object|<sub>` as its own command: an unknown
    // subcommand and a known one with the wrong arity get different errors.
    let Some(name) = ["help", "encoding", "refcount", "idletime", "freq"]
        .into_iter()
        .find(|s| is(sub, s))
    else {
        return Err(Error::Other(format!(
            "unknown subcommand '{}'. Try OBJECT HELP.",
            // Redis's `%.128s`: at most 128 bytes, ending at a NUL.
            String::from_utf8_lossy(
                sub[..sub.len().min(128)]
                    .split(|&b| b == 0)
                    .next()
                    .unwrap_or_default()
            )
        )));
    };
    let arity = if name == "help" { 2 } else { 3 };
    if args.len() != arity {
        return Err(Error::WrongArity(format!("object|{name}")));
    }
    if name == "help" {
        reply.help(OBJECT_HELP);
        return Ok(());
    }
    // Redis's `lookupKeyReadWithFlags(LOOKUP_NOTOUCH|LOOKUP_NONOTIFY)`:
    // counted as a hit or miss, but no `keymiss`.
    ctx.store.expire_if_needed(ctx.db, &args[2], ctx.now_ms);
    let ctx_now = ctx.now_ms;
    let Some(value) = ctx.store.dbs[ctx.db].keys.get(&args[2]).map(|e| &e.value) else {
        ctx.store.stats.keyspace_misses += 1;
        reply.null();
        return Ok(());
    };
    ctx.store.stats.keyspace_hits += 1;
    if is(sub, "encoding") {
        reply.bulk(value.encoding_name().as_bytes());
    } else if is(sub, "refcount") {
        // Modifying a value in place (APPEND, SETRANGE, SETBIT) makes
        // Redis unshare it, and those leave it `raw`.
        let shared =
            matches!(value, Value::Str(s) if s.shared && s.encoding == crate::StrEncoding::Int);
        reply.integer(if shared { OBJ_SHARED_REFCOUNT } else { 1 });
    } else if is(sub, "idletime") {
        if ctx.store.config.lfu {
            return Err(Error::Other(
                "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into(),
            ));
        }
        // OBJECT reads without touching the key, so asking does not reset it.
        reply.integer(crate::idle_seconds(value.lru(), ctx_now) as i64);
    } else {
        if !ctx.store.config.lfu {
            return Err(Error::Other(
                "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into(),
            ));
        }
        reply.integer(i64::from(ctx.store.lfu_frequency(value, ctx_now)));
    }
    Ok(())
}

#[cfg(test)]
mod idle_tests {
    use bytes::Bytes;
    use shoal_resp::{Protocol, Reply};

    use crate::{execute, lookup_command, Ctx, Store};

    fn run(store: &mut Store, now_ms: u64, args: &[&str]) -> Vec<u8> {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut out = Vec::new();
        let spec = lookup_command(&args[0]).unwrap();
        let mut ctx = Ctx::new(store, 0, now_ms, 1);
        if let Err(e) = execute(
            spec,
            &mut ctx,
            &mut Reply::new(&mut out, Protocol::Resp2),
            &args,
        ) {
            out = format!("-{e}\r\n").into_bytes();
        }
        out
    }

    #[test]
    fn lookups_count_hits_and_misses_as_redis_does() {
        let mut store = Store::new(2);
        let t0 = 1_700_000_000_000;
        run(&mut store, t0, &["SET", "k", "v"]);
        let expect = |store: &mut Store, args: &[&str], hits: u64, misses: u64| {
            let before = (store.stats.keyspace_hits, store.stats.keyspace_misses);
            run(store, t0, args);
            let after = (store.stats.keyspace_hits, store.stats.keyspace_misses);
            assert_eq!(
                (after.0 - before.0, after.1 - before.1),
                (hits, misses),
                "{args:?}"
            );
        };
        // Read lookups, touching or not, count.
        expect(&mut store, &["EXISTS", "k", "nope", "k"], 2, 1);
        expect(&mut store, &["TOUCH", "k", "nope"], 1, 1);
        expect(&mut store, &["TYPE", "nope"], 0, 1);
        expect(&mut store, &["TTL", "k"], 1, 0);
        expect(&mut store, &["PEXPIRETIME", "nope"], 0, 1);
        expect(&mut store, &["OBJECT", "ENCODING", "k"], 1, 0);
        expect(&mut store, &["OBJECT", "ENCODING", "nope"], 0, 1);
        expect(&mut store, &["COPY", "nope", "k2"], 0, 1);
        expect(&mut store, &["SCAN", "0", "TYPE", "string"], 1, 0);
        // Write lookups do not.
        expect(&mut store, &["EXPIRE", "nope", "10"], 0, 0);
        expect(&mut store, &["PERSIST", "k"], 0, 0);
        expect(&mut store, &["RENAME", "k", "k3"], 0, 0);
        expect(&mut store, &["MOVE", "k3", "1"], 0, 0);
        expect(&mut store, &["INCRBYFLOAT", "f", "1"], 0, 0);
        expect(&mut store, &["DEL", "f", "nope"], 0, 0);
    }

    #[test]
    fn object_idletime_counts_from_the_last_access_and_does_not_touch() {
        let mut store = Store::new(1);
        let t0 = 1_700_000_000_000;
        run(&mut store, t0, &["SET", "k", "v"]);
        assert_eq!(
            run(&mut store, t0 + 5_000, &["OBJECT", "IDLETIME", "k"]),
            b":5\r\n"
        );
        // OBJECT itself is not an access.
        assert_eq!(
            run(&mut store, t0 + 7_000, &["OBJECT", "IDLETIME", "k"]),
            b":7\r\n"
        );
        run(&mut store, t0 + 8_000, &["GET", "k"]);
        assert_eq!(
            run(&mut store, t0 + 10_000, &["OBJECT", "IDLETIME", "k"]),
            b":2\r\n"
        );
        // EXISTS and TYPE do not touch either, as in Redis.
        run(&mut store, t0 + 11_000, &["EXISTS", "k"]);
        run(&mut store, t0 + 11_000, &["TYPE", "k"]);
        assert_eq!(
            run(&mut store, t0 + 12_000, &["OBJECT", "IDLETIME", "k"]),
            b":4\r\n"
        );
    }
}
