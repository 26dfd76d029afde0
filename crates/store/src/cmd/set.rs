//! Set commands, as Redis 7.0's t_set.c: SADD … SSCAN.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{int_arg, is, spec, CommandSpec};
use crate::error::{Error, Result};
use crate::glob::glob_match;
use crate::notify;
use crate::types::set::{Elem, Owned, Set};
use crate::{Coll, Ctx, Value};

/// The set family's commands.
pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "sadd",
        -3,
        "write denyoom fast",
        (1, 1, 1),
        "set",
        "Add one or more members to a set",
        Some(sadd),
    ),
    spec(
        "srem",
        -3,
        "write fast",
        (1, 1, 1),
        "set",
        "Remove one or more members from a set",
        Some(srem),
    ),
    spec(
        "smembers",
        2,
        "readonly",
        (1, 1, 1),
        "set",
        "Get all the members in a set",
        Some(sinter),
    ),
    spec(
        "sismember",
        3,
        "readonly fast",
        (1, 1, 1),
        "set",
        "Determine if a given value is a member of a set",
        Some(sismember),
    ),
    spec(
        "smismember",
        -3,
        "readonly fast",
        (1, 1, 1),
        "set",
        "Returns the membership associated with the given elements for a set",
        Some(smismember),
    ),
    spec(
        "scard",
        2,
        "readonly fast",
        (1, 1, 1),
        "set",
        "Get the number of members in a set",
        Some(scard),
    ),
    spec(
        "spop",
        -2,
        "write fast",
        (1, 1, 1),
        "set",
        "Remove and return one or multiple random members from a set",
        Some(spop),
    ),
    spec(
        "srandmember",
        -2,
        "readonly",
        (1, 1, 1),
        "set",
        "Get one or multiple random members from a set",
        Some(srandmember),
    ),
    spec(
        "smove",
        4,
        "write fast",
        (1, 2, 1),
        "set",
        "Move a member from one set to another",
        Some(smove),
    ),
    spec(
        "sinter",
        -2,
        "readonly",
        (1, -1, 1),
        "set",
        "Intersect multiple sets",
        Some(sinter),
    ),
    spec(
        "sintercard",
        -3,
        "readonly movablekeys",
        (0, 0, 0),
        "set",
        "Intersect multiple sets and return the cardinality of the result",
        Some(sintercard),
    ),
    spec(
        "sinterstore",
        -3,
        "write denyoom",
        (1, -1, 1),
        "set",
        "Intersect multiple sets and store the resulting set in a key",
        Some(sinterstore),
    ),
    spec(
        "sunion",
        -2,
        "readonly",
        (1, -1, 1),
        "set",
        "Add multiple sets",
        Some(sunion),
    ),
    spec(
        "sunionstore",
        -3,
        "write denyoom",
        (1, -1, 1),
        "set",
        "Add multiple sets and store the resulting set in a key",
        Some(sunionstore),
    ),
    spec(
        "sdiff",
        -2,
        "readonly",
        (1, -1, 1),
        "set",
        "Subtract multiple sets",
        Some(sdiff),
    ),
    spec(
        "sdiffstore",
        -3,
        "write denyoom",
        (1, -1, 1),
        "set",
        "Subtract multiple sets and store the resulting set in a key",
        Some(sdiffstore),
    ),
    spec(
        "sscan",
        -3,
        "readonly",
        (1, 1, 1),
        "set",
        "Incrementally iterate Set elements",
        Some(sscan),
    ),
];

/// xorshift64*, seeded from the store's RNG once per command, so loops that
/// draw many random members need not look the key up again per draw and
/// runs stay reproducible.
struct Rng(u64);

impl Rng {
    fn new(ctx: &mut Ctx<'_>) -> Rng {
        Rng(ctx.store.next_random() | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn max_intset(ctx: &Ctx<'_>) -> usize {
    ctx.store.config.set_max_intset_entries
}

/// The set at `key` for reading (hit/miss stats, lazy expiry).
fn read_set<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Set>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(&s.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The set at `key` for writing (lazy expiry, no stats).
fn write_set<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut Set>> {
    match ctx.write(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(&mut s.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The set at `key`, already looked up (and type-checked) this command.
fn peek<'c>(ctx: &'c Ctx<'_>, key: &[u8]) -> Option<&'c Set> {
    match ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value) {
        Some(Value::Set(s)) => Some(&s.data),
        _ => None,
    }
}

fn peek_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Option<&'c mut Set> {
    match ctx.store.dbs[ctx.db]
        .keys
        .get_mut(key)
        .map(|e| &mut e.value)
    {
        Some(Value::Set(s)) => Some(&mut s.data),
        _ => None,
    }
}

fn reply_elem(reply: &mut Reply<'_>, e: Elem<'_>) {
    match e {
        Elem::Int(n) => reply.bulk_integer(n),
        Elem::Str(s) => reply.bulk(s),
    }
}

/// Deletes a set that became empty, with Redis's `del` event.
fn delete_emptied(ctx: &mut Ctx<'_>, key: &[u8]) {
    ctx.delete_emptied(key);
    ctx.notify(notify::GENERIC, "del", key);
}

pub(crate) fn sadd(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let max = max_intset(ctx);
    let added = match write_set(ctx, key)? {
        Some(set) => {
            let added = args[2..].iter().filter(|m| set.add(m, max)).count();
            if added > 0 {
                ctx.modified(key);
            }
            added
        }
        None => {
            let mut set = Set::new();
            let added = args[2..].iter().filter(|m| set.add(m, max)).count();
            ctx.set(key, Value::Set(Coll::new(set)), false);
            added
        }
    };
    if added > 0 {
        // Redis counts one change per member; the write above counted one.
        ctx.store.dirty += added as u64 - 1;
        ctx.notify(notify::SET, "sadd", key);
    }
    reply.integer(added as i64);
    Ok(())
}

pub(crate) fn srem(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let Some(set) = write_set(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let mut deleted: i64 = 0;
    for m in &args[2..] {
        if set.remove(m) {
            deleted += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if deleted > 0 {
        ctx.modified(key);
        ctx.store.dirty += deleted as u64 - 1;
        ctx.notify(notify::SET, "srem", key);
        if emptied {
            delete_emptied(ctx, key);
        }
    }
    reply.integer(deleted);
    Ok(())
}

pub(crate) fn sismember(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let found = read_set(ctx, &args[1])?.is_some_and(|s| s.contains(&args[2]));
    reply.integer(i64::from(found));
    Ok(())
}

pub(crate) fn smismember(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let set = read_set(ctx, &args[1])?;
    reply.array(args.len() - 2);
    for m in &args[2..] {
        reply.integer(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

pub(crate) fn scard(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let n = read_set(ctx, &args[1])?.map_or(0, Set::len);
    reply.integer(n as i64);
    Ok(())
}

pub(crate) fn smove(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    // Both lookups (and their lazy expiry) come first, as in Redis.
    let src_found = ctx.write(src).map(|v| matches!(v, Value::Set(_)));
    let dst_found = ctx.write(dst).map(|v| matches!(v, Value::Set(_)));
    let Some(src_is_set) = src_found else {
        reply.integer(0);
        return Ok(());
    };
    if !src_is_set || dst_found == Some(false) {
        return Err(Error::WrongType);
    }
    if src == dst {
        let found = peek(ctx, src).is_some_and(|s| s.contains(member));
        reply.integer(i64::from(found));
        return Ok(());
    }
    let Some(set) = peek_mut(ctx, src) else {
        reply.integer(0);
        return Ok(());
    };
    if !set.remove(member) {
        reply.integer(0);
        return Ok(());
    }
    let emptied = set.is_empty();
    ctx.notify(notify::SET, "srem", src);
    if emptied {
        delete_emptied(ctx, src);
    }
    ctx.modified(src);
    let max = max_intset(ctx);
    let added = match peek_mut(ctx, dst) {
        Some(set) => {
            let added = set.add(member, max);
            if added {
                ctx.modified(dst);
            }
            added
        }
        None => {
            let mut set = Set::new();
            set.add(member, max);
            ctx.set(dst, Value::Set(Coll::new(set)), false);
            true
        }
    };
    if added {
        ctx.notify(notify::SET, "sadd", dst);
    }
    reply.integer(1);
    Ok(())
}

pub(crate) fn spop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if args.len() == 3 {
        return spop_count(ctx, reply, args);
    } else if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let key = &args[1];
    let r = ctx.store.next_random();
    let Some(set) = write_set(ctx, key)? else {
        reply.null();
        return Ok(());
    };
    let popped = set.pop_random(r);
    let emptied = set.is_empty();
    ctx.notify(notify::SET, "spop", key);
    match &popped {
        Some(e) => {
            reply_elem(reply, e.as_elem());
            // The pick is random: the write log replays it as SREM.
            let member = Bytes::from(e.as_elem().to_vec());
            ctx.propagate_instead(vec![Bytes::from_static(b"SREM"), key.clone(), member]);
        }
        None => reply.null(),
    }
    if emptied {
        delete_emptied(ctx, key);
    }
    ctx.modified(key);
    Ok(())
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default message.
fn positive_count(arg: &[u8]) -> Result<u64> {
    let out_of_range = || Error::Other("value is out of range, must be positive".into());
    let n = crate::parse_i64_exact(arg).ok_or_else(out_of_range)?;
    u64::try_from(n).map_err(|_| out_of_range())
}

/// How many times the remainder must exceed the count for SPOP to pop one
/// by one rather than rebuild the remainder (Redis's
/// `SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;

fn spop_count(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let count = positive_count(&args[2])?;
    let key = &args[1];
    let Some(set) = write_set(ctx, key)? else {
        reply.set(0);
        return Ok(());
    };
    if count == 0 {
        reply.set(0);
        return Ok(());
    }
    let size = set.len() as u64;
    ctx.notify(notify::SET, "spop", key);
    if count >= size {
        // The whole set, in the order of a set rebuilt from it (as Redis
        // replies through SUNION, which looks the key up again).
        let max = max_intset(ctx);
        if let Ok(Some(set)) = read_set(ctx, key) {
            reply_set(reply, &union(&[Some(set)], max));
        }
        delete_emptied(ctx, key);
        ctx.store.dirty += size;
        ctx.propagate_instead(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Ok(());
    }
    let max = max_intset(ctx);
    let mut rng = Rng::new(ctx);
    let Some(set) = peek_mut(ctx, key) else {
        return Ok(());
    };
    reply.set(count as usize);
    let remaining = size - count;
    // The picks are random: the write log replays them as SREM.
    let mut srem = vec![Bytes::from_static(b"SREM"), key.clone()];
    if remaining.saturating_mul(SPOP_MOVE_STRATEGY_MUL) > count {
        for _ in 0..count {
            if let Some(e) = set.pop_random(rng.next()) {
                reply_elem(reply, e.as_elem());
                srem.push(Bytes::from(e.as_elem().to_vec()));
            }
        }
    } else {
        // Move the elements that stay into a new set, and reply with what
        // is left in the old one.
        let mut kept = Set::new();
        for _ in 0..remaining {
            if let Some(e) = set.pop_random(rng.next()) {
                kept.add_elem(e.as_elem(), max);
            }
        }
        let old = std::mem::replace(set, kept);
        old.iter().for_each(|e| {
            reply_elem(reply, e);
            srem.push(Bytes::from(e.to_vec()));
        });
    }
    ctx.propagate_instead(srem);
    ctx.modified(key);
    ctx.store.dirty += count - 1;
    Ok(())
}

/// SRANDMEMBER's count: Redis 7.0 refuses `LONG_MIN` (its negation
/// overflows).
fn srandmember_count(arg: &[u8]) -> Result<i64> {
    let n = int_arg(arg)?;
    if n == i64::MIN {
        return Err(Error::Other(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
                .into(),
        ));
    }
    Ok(n)
}

/// Above `count * SRANDMEMBER_SUB_STRATEGY_MUL` members, SRANDMEMBER draws
/// distinct members at random; below, it removes random ones from a copy.
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;

pub(crate) fn srandmember(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let key = &args[1];
    if args.len() == 2 {
        let r = ctx.store.next_random();
        match read_set(ctx, key)?.and_then(|s| s.random(r)) {
            Some(e) => reply_elem(reply, e),
            None => reply.null(),
        }
        return Ok(());
    }
    let n = srandmember_count(&args[2])?;
    let (count, uniq) = (n.unsigned_abs(), n >= 0);
    let Some(size) = read_set(ctx, key)?.map(|s| s.len() as u64) else {
        reply.array(0);
        return Ok(());
    };
    if count == 0 {
        reply.array(0);
        return Ok(());
    }
    if !uniq || count == 1 {
        // Streamed: a huge negative count never preallocates.
        let mut rng = Rng::new(ctx);
        reply.array(count as usize);
        let set = peek(ctx, key);
        for _ in 0..count {
            match set.and_then(|s| s.random(rng.next())) {
                Some(e) => reply_elem(reply, e),
                None => reply.null(),
            }
        }
        return Ok(());
    }
    if count >= size {
        reply.array(size as usize);
        if let Some(set) = peek(ctx, key) {
            set.iter().for_each(|e| reply_elem(reply, e));
        }
        return Ok(());
    }
    // count < size from here, so the picks are bounded by the set's size.
    let mut rng = Rng::new(ctx);
    if count.saturating_mul(SRANDMEMBER_SUB_STRATEGY_MUL) > size {
        // Copy everything, then drop random members down to `count`.
        let Some(set) = peek(ctx, key) else {
            reply.array(0);
            return Ok(());
        };
        let mut picked: Vec<Elem<'_>> = set.iter().collect();
        for _ in 0..size - count {
            let i = ((u128::from(rng.next()) * picked.len() as u128) >> 64) as usize;
            picked.swap_remove(i);
        }
        reply.array(picked.len());
        picked.iter().for_each(|e| reply_elem(reply, *e));
        return Ok(());
    }
    // Draw distinct members until there are `count` of them.
    let Some(set) = peek(ctx, key) else {
        reply.array(0);
        return Ok(());
    };
    let mut chosen: Vec<Elem<'_>> = Vec::with_capacity(count as usize);
    let mut seen = std::collections::HashSet::with_capacity(count as usize);
    while (chosen.len() as u64) < count {
        let Some(e) = set.random(rng.next()) else {
            break;
        };
        if seen.insert(e) {
            chosen.push(e);
        }
    }
    reply.array(chosen.len());
    chosen.into_iter().for_each(|e| reply_elem(reply, e));
    Ok(())
}

/// Looks up every source key (Redis's `lookupKeyRead`, for the STORE
/// variants too) and checks that each is a set or missing.
fn check_sources(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result {
    for key in keys {
        read_set(ctx, key)?;
    }
    Ok(())
}

/// The sets at `keys`, after [`check_sources`]; `None` for a missing key.
fn sources<'c>(ctx: &'c Ctx<'_>, keys: &[Bytes]) -> Vec<Option<&'c Set>> {
    keys.iter().map(|k| peek(ctx, k)).collect()
}

/// The intersection's members, in the smallest set's order, up to `limit`
/// (0: all). Empty if any set is missing.
fn intersect<'s>(sets: &[Option<&'s Set>], limit: usize) -> Vec<Elem<'s>> {
    let mut sets: Vec<&Set> = match sets.iter().copied().collect::<Option<Vec<_>>>() {
        Some(s) => s,
        None => return Vec::new(),
    };
    // Smallest first; stable, as glibc's qsort (a merge sort) is.
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in first.iter() {
        if rest
            .iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_elem(e))
        {
            out.push(e);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// SINTER and SMEMBERS (Redis 7.0 runs SMEMBERS as SINTER of one key).
pub(crate) fn sinter(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let keys = &args[1..];
    check_sources(ctx, keys)?;
    if let [key] = keys {
        // SMEMBERS, or SINTER of one key: the set as it iterates.
        match peek(ctx, key) {
            Some(set) => reply_set(reply, set),
            None => reply.set(0),
        }
        return Ok(());
    }
    let sets = sources(ctx, keys);
    let members = intersect(&sets, 0);
    reply.set(members.len());
    members.into_iter().for_each(|e| reply_elem(reply, e));
    Ok(())
}

/// Redis's `getRangeLongFromObjectOrReply` / `getPositiveLong…` with a
/// custom message for both a bad integer and one out of range.
fn long_arg(arg: &[u8], min: i64, msg: &str) -> Result<i64> {
    match crate::parse_i64_exact(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(Error::Other(msg.into())),
    }
}

pub(crate) fn sintercard(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let numkeys = long_arg(&args[1], 1, "numkeys should be greater than 0")? as u64;
    if numkeys > (args.len() - 2) as u64 {
        return Err(Error::Other(
            "Number of keys can't be greater than number of args".into(),
        ));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            i += 1;
            let n = long_arg(&args[i], 0, "LIMIT can't be negative")?;
            limit = usize::try_from(n).unwrap_or(usize::MAX);
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let keys = &args[2..2 + numkeys];
    check_sources(ctx, keys)?;
    let sets = sources(ctx, keys);
    let n = intersect(&sets, limit).len();
    reply.integer(n as i64);
    Ok(())
}

/// Stores a STORE command's result at `dst`, or deletes `dst` if it is
/// empty, with Redis's events; replies with the size.
fn store_result(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    dst: &[u8],
    result: Set,
    event: &'static str,
) {
    let n = result.len();
    if n > 0 {
        ctx.set(dst, Value::Set(Coll::new(result)), false);
        reply.integer(n as i64);
        ctx.notify(notify::SET, event, dst);
    } else {
        reply.integer(0);
        if ctx.delete(dst) {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    }
}

pub(crate) fn sinterstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (dst, keys) = (&args[1], &args[2..]);
    check_sources(ctx, keys)?;
    let max = max_intset(ctx);
    let sets = sources(ctx, keys);
    let mut result = Set::new();
    for e in intersect(&sets, 0) {
        result.add_elem(e, max);
    }
    store_result(ctx, reply, dst, result, "sinterstore");
    Ok(())
}

/// The union, built as Redis builds it (an intset that converts as it
/// grows), so its encoding and order are Redis's.
fn union(sets: &[Option<&Set>], max: usize) -> Set {
    let mut result = Set::new();
    for set in sets.iter().flatten() {
        for e in set.iter() {
            result.add_elem(e, max);
        }
    }
    result
}

fn reply_set(reply: &mut Reply<'_>, set: &Set) {
    reply.set(set.len());
    set.iter().for_each(|e| reply_elem(reply, e));
}

fn reply_union(ctx: &Ctx<'_>, reply: &mut Reply<'_>, sets: &[Option<&Set>]) {
    reply_set(reply, &union(sets, max_intset(ctx)));
}

/// The difference, with Redis's choice between its two algorithms (which
/// can leave the result in different encodings).
fn difference(sets: &[Option<&Set>], max: usize) -> Set {
    let mut result = Set::new();
    let Some(Some(first)) = sets.first().copied() else {
        return result;
    };
    if sets[1..].iter().flatten().any(|s| std::ptr::eq(*s, first)) {
        return result;
    }
    let present = sets.iter().flatten();
    let algo_one_work = (present.clone().count() * first.len()) / 2;
    let algo_two_work: usize = present.map(|s| s.len()).sum();
    if algo_one_work <= algo_two_work {
        for e in first.iter() {
            if !sets[1..].iter().flatten().any(|s| s.contains_elem(e)) {
                result.add_elem(e, max);
            }
        }
    } else {
        for e in first.iter() {
            result.add_elem(e, max);
        }
        for set in sets[1..].iter().flatten() {
            if result.is_empty() {
                break;
            }
            for e in set.iter() {
                result.remove_elem(e);
            }
        }
    }
    result
}

pub(crate) fn sunion(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let keys = &args[1..];
    check_sources(ctx, keys)?;
    let sets = sources(ctx, keys);
    reply_union(ctx, reply, &sets);
    Ok(())
}

pub(crate) fn sunionstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (dst, keys) = (&args[1], &args[2..]);
    check_sources(ctx, keys)?;
    let result = union(&sources(ctx, keys), max_intset(ctx));
    store_result(ctx, reply, dst, result, "sunionstore");
    Ok(())
}

pub(crate) fn sdiff(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let keys = &args[1..];
    check_sources(ctx, keys)?;
    let result = difference(&sources(ctx, keys), max_intset(ctx));
    reply_set(reply, &result);
    Ok(())
}

pub(crate) fn sdiffstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (dst, keys) = (&args[1], &args[2..]);
    check_sources(ctx, keys)?;
    let result = difference(&sources(ctx, keys), max_intset(ctx));
    store_result(ctx, reply, dst, result, "sdiffstore");
    Ok(())
}

pub(crate) fn sscan(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cursor = super::keys::parse_cursor(&args[2])?;
    let key = &args[1];
    if read_set(ctx, key)?.is_none() {
        super::reply_empty_scan(reply);
        return Ok(());
    }
    let (count, pattern) = super::scan_options(&args[3..])?;
    let Some(set) = peek(ctx, key) else {
        return Err(Error::WrongType);
    };
    let mut found: Vec<Owned> = Vec::new();
    let next = set.scan(cursor, count, |e| {
        let keep = match pattern {
            Some(p) => e.with_bytes(|b| glob_match(p, b, false)),
            None => true,
        };
        if keep {
            found.push(match e {
                Elem::Int(n) => Owned::Int(n),
                Elem::Str(s) => Owned::Str(s.into()),
            });
        }
    });
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(found.len());
    found.iter().for_each(|e| reply_elem(reply, e.as_elem()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{execute, lookup_command, Store};
    use shoal_resp::Protocol;

    fn run(store: &mut Store, line: &str) -> Vec<u8> {
        let args: Vec<Bytes> = line
            .split(' ')
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
            out.extend_from_slice(format!("-{e}\r\n").as_bytes());
        }
        out
    }

    /// The events Redis 7.0.15 publishes for the same commands (captured
    /// with `PSUBSCRIBE __keyevent@0__:*` and `notify-keyspace-events AEn`).
    #[test]
    fn keyspace_events_follow_redis() {
        let mut store = Store::new(1);
        store.notify_flags = notify::ALL | notify::KEYEVENT | notify::NEW;
        for line in [
            "SADD s 1 2",
            "SADD s 1",
            "SREM s 1 9",
            "SREM s 2",
            "SADD a 1 2",
            "SMOVE a b 1",
            "SMOVE a b 2",
            "SMOVE b b 1",
            "SMOVE b c 9",
            "SADD x 1 2 3",
            "SPOP x",
            "SPOP x 0",
            "SPOP x 5",
            "SADD y 1 2 3",
            "SINTERSTORE d y missing",
            "SINTERSTORE d y y",
            "SUNIONSTORE d y",
            "SDIFFSTORE d y y",
            "SDIFFSTORE d y y",
        ] {
            run(&mut store, line);
        }
        let got: Vec<String> = store
            .events
            .iter()
            .map(|e| format!("{} {}", e.event, String::from_utf8_lossy(&e.key)))
            .collect();
        let want = [
            "new s",
            "sadd s",
            "srem s",
            "srem s",
            "del s",
            "new a",
            "sadd a",
            "srem a",
            "new b",
            "sadd b",
            "srem a",
            "del a",
            "sadd b",
            "new x",
            "sadd x",
            "spop x",
            "spop x",
            "del x",
            "new y",
            "sadd y",
            "new d",
            "sinterstore d",
            "sunionstore d",
            "del d",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn huge_counts_do_not_preallocate_or_panic() {
        let mut store = Store::new(1);
        run(&mut store, "SADD s 1 2 3 x");
        for line in [
            "SPOP s 9223372036854775807",
            "SADD s 1 2 3",
            "SRANDMEMBER s 9223372036854775807",
            "SINTERCARD 1 s LIMIT 9223372036854775807",
            "SSCAN s 0 COUNT 9223372036854775807",
            "SSCAN s 18446744073709551615",
            "SINTERCARD 9223372036854775807 s",
        ] {
            let out = run(&mut store, line);
            assert!(!out.is_empty(), "{line}");
        }
        assert_eq!(run(&mut store, "SCARD s"), b":3\r\n");
        assert_eq!(
            run(&mut store, "SRANDMEMBER s -9223372036854775808"),
            b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
        );
        // A large negative count streams exactly that many members.
        let out = run(&mut store, "SRANDMEMBER s -100000");
        assert!(out.starts_with(b"*100000\r\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'$').count(), 100_000);
    }
}
