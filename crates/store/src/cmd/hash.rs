//! Hash commands: HSET and friends, counters, whole-hash reads, HRANDFIELD
//! and HSCAN, with Redis 7.0's replies, errors, conversions and keyspace
//! events (t_hash.c).

use bytes::Bytes;
use shoal_resp::Reply;

use super::{int_arg, is, spec, CommandSpec};
use crate::error::{Error, Result};
use crate::glob::glob_match;
use crate::longdouble::LongDouble;
use crate::notify;
use crate::types::hash::{Hash, Limits};
use crate::{Coll, Ctx, Value};

/// The hash family's commands.
pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "hset",
        -4,
        "write denyoom fast",
        (1, 1, 1),
        "hash",
        "Set the string value of a hash field",
        Some(hset),
    ),
    spec(
        "hsetnx",
        4,
        "write denyoom fast",
        (1, 1, 1),
        "hash",
        "Set the value of a hash field, only if the field does not exist",
        Some(hsetnx),
    ),
    spec(
        "hget",
        3,
        "readonly fast",
        (1, 1, 1),
        "hash",
        "Get the value of a hash field",
        Some(hget),
    ),
    spec(
        "hmset",
        -4,
        "write denyoom fast",
        (1, 1, 1),
        "hash",
        "Set multiple hash fields to multiple values",
        Some(hmset),
    ),
    spec(
        "hmget",
        -3,
        "readonly fast",
        (1, 1, 1),
        "hash",
        "Get the values of all the given hash fields",
        Some(hmget),
    ),
    spec(
        "hgetall",
        2,
        "readonly",
        (1, 1, 1),
        "hash",
        "Get all the fields and values in a hash",
        Some(hgetall),
    ),
    spec(
        "hdel",
        -3,
        "write fast",
        (1, 1, 1),
        "hash",
        "Delete one or more hash fields",
        Some(hdel),
    ),
    spec(
        "hlen",
        2,
        "readonly fast",
        (1, 1, 1),
        "hash",
        "Get the number of fields in a hash",
        Some(hlen),
    ),
    spec(
        "hexists",
        3,
        "readonly fast",
        (1, 1, 1),
        "hash",
        "Determine if a hash field exists",
        Some(hexists),
    ),
    spec(
        "hkeys",
        2,
        "readonly",
        (1, 1, 1),
        "hash",
        "Get all the fields in a hash",
        Some(hkeys),
    ),
    spec(
        "hvals",
        2,
        "readonly",
        (1, 1, 1),
        "hash",
        "Get all the values in a hash",
        Some(hvals),
    ),
    spec(
        "hincrby",
        4,
        "write denyoom fast",
        (1, 1, 1),
        "hash",
        "Increment the integer value of a hash field by the given number",
        Some(hincrby),
    ),
    spec(
        "hincrbyfloat",
        4,
        "write denyoom fast",
        (1, 1, 1),
        "hash",
        "Increment the float value of a hash field by the given amount",
        Some(hincrbyfloat),
    ),
    spec(
        "hstrlen",
        3,
        "readonly fast",
        (1, 1, 1),
        "hash",
        "Get the length of the value of a hash field",
        Some(hstrlen),
    ),
    spec(
        "hrandfield",
        -2,
        "readonly",
        (1, 1, 1),
        "hash",
        "Get one or multiple random fields from a hash",
        Some(hrandfield),
    ),
    spec(
        "hscan",
        -3,
        "readonly",
        (1, 1, 1),
        "hash",
        "Incrementally iterate hash fields and associated values",
        Some(hscan),
    ),
];

fn limits(ctx: &Ctx<'_>) -> Limits {
    Limits {
        max_entries: ctx.store.config.hash_max_listpack_entries,
        max_value: ctx.store.config.hash_max_listpack_value,
    }
}

/// The hash at `key`, or `None`; `WRONGTYPE` for other types.
fn read_hash<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Hash>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(&h.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// Runs `apply` on the hash at `key`, creating an empty one if there is
/// none (Redis's `hashTypeLookupWriteOrCreate`). An `Err` from `apply`
/// leaves the keyspace as it was; a new hash is only stored on success.
/// Signals the change when `apply` reports one.
fn write_hash<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    apply: impl FnOnce(&mut Hash) -> Result<(T, bool)>,
) -> Result<T> {
    match ctx.write(key) {
        Some(Value::Hash(h)) => {
            let (out, changed) = apply(&mut h.data)?;
            if changed {
                ctx.modified(key);
            }
            Ok(out)
        }
        Some(_) => Err(Error::WrongType),
        None => {
            let mut h = Hash::new();
            let (out, changed) = apply(&mut h)?;
            if changed && !h.is_empty() {
                ctx.set(key, Value::Hash(Coll::new(h)), false);
            }
            Ok(out)
        }
    }
}

fn hset_generic(ctx: &mut Ctx<'_>, args: &[Bytes], name: &str) -> Result<usize> {
    if args.len() % 2 == 1 {
        return Err(Error::WrongArity(name.to_string()));
    }
    let limits = limits(ctx);
    let key = &args[1];
    let pairs = &args[2..];
    let created = write_hash(ctx, key, |h| {
        h.convert_for(pairs.iter().map(|a| &a[..]), limits);
        let created = pairs
            .chunks_exact(2)
            .filter(|p| h.set(&p[0], &p[1], limits))
            .count();
        Ok((created, true))
    })?;
    ctx.notify(notify::HASH, "hset", key);
    // Redis counts one change per pair; `modified` counted one.
    ctx.store.dirty += (pairs.len() / 2) as u64 - 1;
    Ok(created)
}

pub(crate) fn hset(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let created = hset_generic(ctx, args, "hset")?;
    reply.integer(created as i64);
    Ok(())
}

pub(crate) fn hmset(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    hset_generic(ctx, args, "hmset")?;
    reply.ok();
    Ok(())
}

pub(crate) fn hsetnx(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let limits = limits(ctx);
    let (key, field, value) = (&args[1], &args[2], &args[3]);
    let set = write_hash(ctx, key, |h| {
        if h.contains(field) {
            return Ok((false, false));
        }
        h.convert_for([&field[..], &value[..]], limits);
        h.set(field, value, limits);
        Ok((true, true))
    })?;
    if set {
        ctx.notify(notify::HASH, "hset", key);
    }
    reply.integer(i64::from(set));
    Ok(())
}

pub(crate) fn hget(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    match read_hash(ctx, &args[1])?.and_then(|h| h.get(&args[2])) {
        Some(v) => reply.bulk(&v),
        None => reply.null(),
    }
    Ok(())
}

pub(crate) fn hmget(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let hash = read_hash(ctx, &args[1])?;
    reply.array(args.len() - 2);
    for field in &args[2..] {
        match hash.and_then(|h| h.get(field)) {
            Some(v) => reply.bulk(&v),
            None => reply.null(),
        }
    }
    Ok(())
}

pub(crate) fn hlen(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let len = read_hash(ctx, &args[1])?.map_or(0, Hash::len);
    reply.integer(len as i64);
    Ok(())
}

pub(crate) fn hexists(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let found = read_hash(ctx, &args[1])?.is_some_and(|h| h.contains(&args[2]));
    reply.integer(i64::from(found));
    Ok(())
}

pub(crate) fn hstrlen(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let len = read_hash(ctx, &args[1])?
        .and_then(|h| h.get(&args[2]))
        .map_or(0, |v| v.len());
    reply.integer(len as i64);
    Ok(())
}

/// Which parts of each pair HGETALL, HKEYS and HVALS send.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Both,
    Fields,
    Values,
}

fn getall_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, key: &[u8], parts: Parts) -> Result {
    let Some(h) = read_hash(ctx, key)? else {
        match parts {
            Parts::Both => reply.map(0),
            _ => reply.array(0),
        }
        return Ok(());
    };
    match parts {
        Parts::Both => reply.map(h.len()),
        _ => reply.array(h.len()),
    }
    h.for_each(|f, v| {
        if parts != Parts::Values {
            reply.bulk(f);
        }
        if parts != Parts::Fields {
            reply.bulk(v);
        }
    });
    Ok(())
}

pub(crate) fn hgetall(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    getall_generic(ctx, reply, &args[1], Parts::Both)
}

pub(crate) fn hkeys(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    getall_generic(ctx, reply, &args[1], Parts::Fields)
}

pub(crate) fn hvals(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    getall_generic(ctx, reply, &args[1], Parts::Values)
}

pub(crate) fn hdel(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let (deleted, emptied) = match ctx.write(key) {
        None => (0, false),
        Some(Value::Hash(h)) => {
            let mut deleted = 0u64;
            let mut emptied = false;
            for field in &args[2..] {
                if h.remove(field) {
                    deleted += 1;
                    if h.is_empty() {
                        emptied = true;
                        break;
                    }
                }
            }
            (deleted, emptied)
        }
        Some(_) => return Err(Error::WrongType),
    };
    if deleted > 0 {
        if emptied {
            ctx.delete(key);
        } else {
            ctx.modified(key);
        }
        // Redis counts one change per field; the line above counted one.
        ctx.store.dirty += deleted - 1;
        ctx.notify(notify::HASH, "hdel", key);
        if emptied {
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    reply.integer(deleted as i64);
    Ok(())
}

pub(crate) fn hincrby(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let by = int_arg(&args[3])?;
    let limits = limits(ctx);
    let (key, field) = (&args[1], &args[2]);
    let new = write_hash(ctx, key, |h| {
        let current = match h.get(field) {
            Some(v) => crate::parse_i64_exact(&v)
                .ok_or_else(|| Error::Other("hash value is not an integer".into()))?,
            None => 0,
        };
        let new = current.checked_add(by).ok_or(Error::Overflow)?;
        let mut buf = itoa::Buffer::new();
        h.set(field, buf.format(new).as_bytes(), limits);
        Ok((new, true))
    })?;
    ctx.notify(notify::HASH, "hincrby", key);
    reply.integer(new);
    Ok(())
}

/// Redis adds in `long double` and prints with `%.17Lf`, as INCRBYFLOAT.
pub(crate) fn hincrbyfloat(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let by = LongDouble::parse(&args[3]).ok_or(Error::NotFloat)?;
    if !by.is_finite() {
        return Err(Error::Other("value is NaN or Infinity".into()));
    }
    let limits = limits(ctx);
    let (key, field) = (&args[1], &args[2]);
    let text = write_hash(ctx, key, |h| {
        let current = match h.get(field) {
            Some(v) => LongDouble::parse(&v)
                .ok_or_else(|| Error::Other("hash value is not a float".into()))?,
            None => LongDouble::ZERO,
        };
        let new = current.checked_add(by).ok_or(Error::NanOrInfinity)?;
        let text = new.to_human_string();
        h.set(field, text.as_bytes(), limits);
        Ok((text, true))
    })?;
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    reply.bulk(text.as_bytes());
    // Replicas and the AOF get the result, not the float arithmetic.
    ctx.propagate_instead(vec![
        Bytes::from_static(b"HSET"),
        key.clone(),
        field.clone(),
        Bytes::from(text),
    ]);
    Ok(())
}

/// HRANDFIELD's WITHVALUES count must stay within ±LONG_MAX/2, so the
/// RESP2 reply's length (count × 2) fits.
const RANDFIELD_WITHVALUES_COUNT_MAX: i64 = i64::MAX / 2;

pub(crate) fn hrandfield(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if args.len() == 2 {
        let rng = ctx.store.next_random();
        match read_hash(ctx, &args[1])? {
            Some(h) => {
                h.random_pair(rng, |f, _| reply.bulk(f));
            }
            None => reply.null(),
        }
        return Ok(());
    }
    let count = int_arg(&args[2])?;
    if count == i64::MIN {
        return Err(Error::Other(
            "value is out of range, value must between -9223372036854775807 and \
             9223372036854775807"
                .into(),
        ));
    }
    let withvalues = match args.len() {
        3 => false,
        4 if is(&args[3], "withvalues") => true,
        _ => return Err(Error::Syntax),
    };
    if withvalues
        && !(-RANDFIELD_WITHVALUES_COUNT_MAX..=RANDFIELD_WITHVALUES_COUNT_MAX).contains(&count)
    {
        return Err(Error::Other("value is out of range".into()));
    }
    randfield_with_count(ctx, reply, &args[1], count, withvalues)
}

fn randfield_with_count(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    key: &[u8],
    count: i64,
    withvalues: bool,
) -> Result {
    // Random numbers are drawn from the store's generator up front where
    // the hash is borrowed: the borrow of the keyspace and of the
    // generator cannot overlap.
    let mut rng_state = ctx.store.next_random() | 1;
    let mut rng = move || {
        // xorshift64*, seeded from the store's generator: reproducible.
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        rng_state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let Some(h) = read_hash(ctx, key)? else {
        reply.array(0);
        return Ok(());
    };
    let size = h.len() as u64;
    let (n, unique) = if count >= 0 {
        (count as u64, true)
    } else {
        (count.unsigned_abs(), false)
    };
    if n == 0 {
        reply.array(0);
        return Ok(());
    }
    let resp3 = reply.is_resp3();
    let header = |reply: &mut Reply<'_>, len: u64| {
        let len = if withvalues && !resp3 { len * 2 } else { len };
        reply.array(len as usize);
    };
    let emit = |reply: &mut Reply<'_>, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            reply.array(2);
        }
        reply.bulk(f);
        if withvalues {
            reply.bulk(v);
        }
    };
    // Case 1: repetitions allowed (or one pick), in random order.
    if !unique || n == 1 {
        header(reply, n);
        match h.table() {
            Some(d) => {
                for _ in 0..n {
                    if let Some(p) = d.random(rng()) {
                        emit(reply, p.field(), p.value());
                    }
                }
            }
            None => {
                let e = h.expand();
                for _ in 0..n {
                    let (f, v) = e.get((rng() % size) as usize);
                    emit(reply, f, v);
                }
            }
        }
        return Ok(());
    }
    // Case 2: the whole hash, in its order.
    if n >= size {
        header(reply, size);
        h.for_each(|f, v| emit(reply, f, v));
        return Ok(());
    }
    header(reply, n);
    let n = n as usize;
    match h.table() {
        // Case 4: few picks from a large table: sample until `n` distinct.
        Some(d) if n * 3 <= d.len() => {
            let mut seen = std::collections::HashSet::with_capacity(n);
            while seen.len() < n {
                if let Some(p) = d.random(rng()) {
                    if seen.insert(p.field().as_ptr() as usize) {
                        emit(reply, p.field(), p.value());
                    }
                }
            }
        }
        // Case 3: a large share: a partial shuffle of every pair.
        Some(d) => {
            let mut all: Vec<_> = d.iter().collect();
            for i in 0..n {
                let j = i + (rng() % (all.len() - i) as u64) as usize;
                all.swap(i, j);
                emit(reply, all[i].field(), all[i].value());
            }
        }
        None => {
            let e = h.expand();
            let mut order: Vec<usize> = (0..e.len()).collect();
            for i in 0..n {
                let j = i + (rng() % (order.len() - i) as u64) as usize;
                order.swap(i, j);
                let (f, v) = e.get(order[i]);
                emit(reply, f, v);
            }
        }
    }
    Ok(())
}

pub(crate) fn hscan(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cursor = super::keys::parse_cursor(&args[2])?;
    let Some(h) = read_hash(ctx, &args[1])? else {
        super::reply_empty_scan(reply);
        return Ok(());
    };
    // Options are parsed after the lookup, as Redis's scanGenericCommand
    // does: a missing key answers an empty scan whatever they are.
    let (count, pattern) = super::scan_options(&args[3..])?;
    let matches = |f: &[u8]| pattern.map_or(true, |p| glob_match(p, f, false));
    // Matching pairs, copied out: the reply starts with the cursor, known
    // only after the walk.
    let mut arena: Vec<u8> = Vec::new();
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    let mut keep = |f: &[u8], v: &[u8]| {
        if matches(f) {
            found.push((arena.len(), f.len(), v.len()));
            arena.extend_from_slice(f);
            arena.extend_from_slice(v);
        }
    };
    // The small encoding is returned whole, with cursor 0, as Redis does.
    let next = match h.table() {
        None => {
            h.for_each(&mut keep);
            0
        }
        Some(d) => d.scan(cursor, count, |p| keep(p.field(), p.value())),
    };
    reply.array(2);
    let mut buf = itoa::Buffer::new();
    reply.bulk(buf.format(next).as_bytes());
    reply.array(found.len() * 2);
    for (start, flen, vlen) in found {
        reply.bulk(&arena[start..start + flen]);
        reply.bulk(&arena[start + flen..start + flen + vlen]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use shoal_resp::{Protocol, Reply};

    use crate::{execute, lookup_command, notify, Ctx, Store};

    fn run(store: &mut Store, args: &[&str]) -> Vec<u8> {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let spec = lookup_command(&args[0]).expect("known command");
        let mut out = Vec::new();
        let mut ctx = Ctx::new(store, 0, 1_700_000_000_000, 1);
        if let Err(e) = execute(
            spec,
            &mut ctx,
            &mut Reply::new(&mut out, Protocol::Resp2),
            &args,
        ) {
            out = format!("-{e}").into_bytes();
        }
        out
    }

    fn events(store: &mut Store) -> Vec<&'static str> {
        store.events.drain(..).map(|e| e.event).collect()
    }

    /// Redis's t_hash.c events, in its order, and only on change.
    #[test]
    fn keyspace_events() {
        let mut s = Store::new(1);
        s.notify_flags = notify::parse_flags("KEAn").unwrap();
        run(&mut s, &["HSET", "h", "a", "1", "b", "2"]);
        assert_eq!(events(&mut s), ["new", "hset"]);
        run(&mut s, &["HSETNX", "h", "a", "1"]);
        run(&mut s, &["HDEL", "h", "nope"]);
        run(&mut s, &["HINCRBY", "h", "x", "y"]);
        assert_eq!(events(&mut s), Vec::<&str>::new());
        run(&mut s, &["HSETNX", "h", "c", "1"]);
        run(&mut s, &["HMSET", "h", "c", "2"]);
        run(&mut s, &["HINCRBY", "h", "a", "2"]);
        run(&mut s, &["HINCRBYFLOAT", "h", "a", "0.5"]);
        assert_eq!(events(&mut s), ["hset", "hset", "hincrby", "hincrbyfloat"]);
        run(&mut s, &["HDEL", "h", "a"]);
        assert_eq!(events(&mut s), ["hdel"]);
        run(&mut s, &["HDEL", "h", "b", "c", "zz"]);
        assert_eq!(events(&mut s), ["hdel", "del"]);
        assert!(s.dbs[0].is_empty());
    }

    /// Redis counts one change per pair set or field deleted.
    #[test]
    fn dirty_counts_per_field() {
        let mut s = Store::new(1);
        run(&mut s, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(s.dirty, 3);
        run(&mut s, &["HDEL", "h", "a", "b"]);
        assert_eq!(s.dirty, 5);
        run(&mut s, &["HDEL", "h", "c"]);
        assert_eq!(s.dirty, 6);
        run(&mut s, &["HGET", "h", "c"]);
        assert_eq!(s.dirty, 6);
    }

    /// Errors after the lookup leave no empty hash behind.
    #[test]
    fn failed_writes_create_nothing() {
        let mut s = Store::new(1);
        assert_eq!(
            run(&mut s, &["HINCRBYFLOAT", "h", "f", "inf"]),
            b"-ERR value is NaN or Infinity"
        );
        assert_eq!(
            run(&mut s, &["HINCRBY", "h", "f", "x"]),
            b"-ERR value is not an integer or out of range"
        );
        assert!(s.dbs[0].is_empty());
    }
}
