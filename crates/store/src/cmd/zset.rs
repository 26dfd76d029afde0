//! Sorted-set commands (Redis 7.0's t_zset.c): ZADD and friends, ranges
//! by rank/score/lex, pops (and their blocking forms), random members,
//! set algebra (ZUNION/ZINTER/ZDIFF and their STORE forms), ZSCAN.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use shoal_resp::{format_double, Reply};

use super::keys::parse_cursor;
use super::{block_timeout, float_arg, int_arg, is, spec, CommandSpec};
use crate::error::{Error, Result};
use crate::glob::glob_match;
use crate::notify;
use crate::types::{Set, ZSet};
use crate::{Block, BlockKind, Coll, Ctx, Value};

const G: &str = "sorted-set";

/// The sorted-set family's commands.
pub static COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, "write denyoom fast", (1, 1, 1), G,
        "Add one or more members to a sorted set, or update its score if it already exists", Some(zadd)),
    spec("zincrby", 4, "write denyoom fast", (1, 1, 1), G,
        "Increment the score of a member in a sorted set", Some(zincrby)),
    spec("zrem", -3, "write fast", (1, 1, 1), G,
        "Remove one or more members from a sorted set", Some(zrem)),
    spec("zcard", 2, "readonly fast", (1, 1, 1), G,
        "Get the number of members in a sorted set", Some(zcard)),
    spec("zcount", 4, "readonly fast", (1, 1, 1), G,
        "Count the members in a sorted set with scores within the given values", Some(zcount)),
    spec("zlexcount", 4, "readonly fast", (1, 1, 1), G,
        "Count the number of members in a sorted set between a given lexicographical range", Some(zlexcount)),
    spec("zscore", 3, "readonly fast", (1, 1, 1), G,
        "Get the score associated with the given member in a sorted set", Some(zscore)),
    spec("zmscore", -3, "readonly fast", (1, 1, 1), G,
        "Get the score associated with the given members in a sorted set", Some(zmscore)),
    spec("zrank", 3, "readonly fast", (1, 1, 1), G,
        "Determine the index of a member in a sorted set", Some(zrank)),
    spec("zrevrank", 3, "readonly fast", (1, 1, 1), G,
        "Determine the index of a member in a sorted set, with scores ordered from high to low", Some(zrevrank)),
    spec("zrange", -4, "readonly", (1, 1, 1), G,
        "Return a range of members in a sorted set", Some(zrange)),
    spec("zrangestore", -5, "write denyoom", (1, 2, 1), G,
        "Store a range of members from sorted set into another key", Some(zrangestore)),
    spec("zrevrange", -4, "readonly", (1, 1, 1), G,
        "Return a range of members in a sorted set, by index, with scores ordered from high to low", Some(zrevrange)),
    spec("zrangebyscore", -4, "readonly", (1, 1, 1), G,
        "Return a range of members in a sorted set, by score", Some(zrangebyscore)),
    spec("zrevrangebyscore", -4, "readonly", (1, 1, 1), G,
        "Return a range of members in a sorted set, by score, with scores ordered from high to low", Some(zrevrangebyscore)),
    spec("zrangebylex", -4, "readonly", (1, 1, 1), G,
        "Return a range of members in a sorted set, by lexicographical range", Some(zrangebylex)),
    spec("zrevrangebylex", -4, "readonly", (1, 1, 1), G,
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", Some(zrevrangebylex)),
    spec("zremrangebyrank", 4, "write", (1, 1, 1), G,
        "Remove all members in a sorted set within the given indexes", Some(zremrangebyrank)),
    spec("zremrangebyscore", 4, "write", (1, 1, 1), G,
        "Remove all members in a sorted set within the given scores", Some(zremrangebyscore)),
    spec("zremrangebylex", 4, "write", (1, 1, 1), G,
        "Remove all members in a sorted set between the given lexicographical range", Some(zremrangebylex)),
    spec("zpopmin", -2, "write fast", (1, 1, 1), G,
        "Remove and return members with the lowest scores in a sorted set", Some(zpopmin)),
    spec("zpopmax", -2, "write fast", (1, 1, 1), G,
        "Remove and return members with the highest scores in a sorted set", Some(zpopmax)),
    spec("zmpop", -4, "write movablekeys", (0, 0, 0), G,
        "Remove and return members with scores in a sorted set", Some(zmpop)),
    spec("zrandmember", -2, "readonly", (1, 1, 1), G,
        "Get one or multiple random elements from a sorted set", Some(zrandmember)),
    spec("zunion", -3, "readonly movablekeys", (0, 0, 0), G,
        "Add multiple sorted sets", Some(zunion)),
    spec("zinter", -3, "readonly movablekeys", (0, 0, 0), G,
        "Intersect multiple sorted sets", Some(zinter)),
    spec("zdiff", -3, "readonly movablekeys", (0, 0, 0), G,
        "Subtract multiple sorted sets", Some(zdiff)),
    spec("zunionstore", -4, "write denyoom movablekeys", (1, 1, 1), G,
        "Add multiple sorted sets and store the resulting sorted set in a new key", Some(zunionstore)),
    spec("zinterstore", -4, "write denyoom movablekeys", (1, 1, 1), G,
        "Intersect multiple sorted sets and store the resulting sorted set in a new key", Some(zinterstore)),
    spec("zdiffstore", -4, "write denyoom movablekeys", (1, 1, 1), G,
        "Subtract multiple sorted sets and store the resulting sorted set in a new key", Some(zdiffstore)),
    spec("zintercard", -3, "readonly movablekeys", (0, 0, 0), G,
        "Intersect multiple sorted sets and return the cardinality of the result", Some(zintercard)),
    spec("zscan", -3, "readonly", (1, 1, 1), G,
        "Incrementally iterate sorted sets elements and associated scores", Some(zscan)),
    spec("bzpopmin", -3, "write noscript blocking fast", (1, -2, 1), G,
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", Some(bzpopmin)),
    spec("bzpopmax", -3, "write noscript blocking fast", (1, -2, 1), G,
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", Some(bzpopmax)),
    spec("bzmpop", -5, "write blocking movablekeys", (0, 0, 0), G,
        "Remove and return members with scores in a sorted set or block until one is available", Some(bzmpop)),
];

// ------------------------------------------------------------------ helpers

pub(crate) fn limits(ctx: &Ctx<'_>) -> (usize, usize) {
    let c = &ctx.store.config;
    (c.zset_max_listpack_entries, c.zset_max_listpack_value)
}

/// The sorted set at `key` for reading; WRONGTYPE for other types.
fn read_zset<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c ZSet>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(&z.data)),
        Some(_) => Err(Error::WrongType),
    }
}

fn write_zset<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut ZSet>> {
    match ctx.write(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(&mut z.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// One member, with its score if asked (a `[member, score]` pair in RESP3).
fn emit(reply: &mut Reply<'_>, member: &[u8], score: f64, withscores: bool) {
    if withscores && reply.is_resp3() {
        reply.array(2);
    }
    reply.bulk(member);
    if withscores {
        reply.double(score);
    }
}

/// Array header for `n` members, flat pairs in RESP2 when with scores.
fn emit_header(reply: &mut Reply<'_>, n: usize, withscores: bool) {
    if withscores && !reply.is_resp3() {
        reply.array(n * 2);
    } else {
        reply.array(n);
    }
}

/// After a write that removed members: the event, `del` if the set
/// emptied (then the key is deleted), WATCH and dirty.
fn after_removal(ctx: &mut Ctx<'_>, key: &[u8], event: &'static str, removed: usize) {
    if removed == 0 {
        return;
    }
    let emptied = matches!(ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value),
        Some(Value::ZSet(z)) if z.is_empty());
    ctx.notify(notify::ZSET, event, key);
    if emptied {
        ctx.delete(key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.modified(key);
    }
    ctx.store.dirty += removed as u64 - 1;
}

fn err(msg: &str) -> Error {
    Error::Other(msg.into())
}

/// C's `strtod` over the whole argument as Redis's range parsing uses it:
/// leading spaces allowed, the empty string is 0, overflow gives ±inf,
/// NaN refused; the argument ends at a NUL byte as a C string would.
fn strtod_full(arg: &[u8]) -> Option<f64> {
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(p) => &arg[..p],
        None => arg,
    };
    if arg.is_empty() {
        return Some(0.0);
    }
    let start = arg
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let text = std::str::from_utf8(&arg[start..]).ok()?;
    let body = text.trim_start_matches(['+', '-']);
    if text.len() - body.len() > 1 {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("nan") {
        return None;
    }
    if lower.starts_with("0x") {
        return crate::parse_f64(text.as_bytes());
    }
    if lower == "inf" || lower == "infinity" {
        return Some(if text.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.first() {
        Some(b'(') => strtod_full(&arg[1..]).map(|v| (v, true)),
        _ => strtod_full(arg).map(|v| (v, false)),
    }
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange> {
    let bad = || err("min or max is not a float");
    let (min, minex) = parse_score_bound(min).ok_or_else(bad)?;
    let (max, maxex) = parse_score_bound(max).ok_or_else(bad)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

#[derive(Clone, Debug)]
enum Lex {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

#[derive(Clone, Debug)]
struct LexRange {
    min: Lex,
    max: Lex,
}

fn parse_lex_bound(arg: &Bytes) -> Option<Lex> {
    match arg.first() {
        Some(b'+') if arg.len() == 1 => Some(Lex::Max),
        Some(b'-') if arg.len() == 1 => Some(Lex::Min),
        Some(b'(') => Some(Lex::Excl(arg.slice(1..))),
        Some(b'[') => Some(Lex::Incl(arg.slice(1..))),
        _ => None,
    }
}

fn parse_lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange> {
    let bad = || err("min or max not valid string range item");
    Ok(LexRange {
        min: parse_lex_bound(min).ok_or_else(bad)?,
        max: parse_lex_bound(max).ok_or_else(bad)?,
    })
}

impl LexRange {
    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::Min => true,
            Lex::Max => false,
            Lex::Incl(b) => m >= &b[..],
            Lex::Excl(b) => m > &b[..],
        }
    }
    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(b) => m <= &b[..],
            Lex::Excl(b) => m < &b[..],
        }
    }
    fn is_empty(&self) -> bool {
        use std::cmp::Ordering::*;
        let ex = |l: &Lex| !matches!(l, Lex::Incl(_));
        let cmp = match (&self.min, &self.max) {
            (Lex::Min, Lex::Min) | (Lex::Max, Lex::Max) => Equal,
            (Lex::Min, _) | (_, Lex::Max) => Less,
            (Lex::Max, _) | (_, Lex::Min) => Greater,
            (Lex::Incl(a) | Lex::Excl(a), Lex::Incl(b) | Lex::Excl(b)) => a.cmp(b),
        };
        cmp == Greater || (cmp == Equal && (ex(&self.min) || ex(&self.max)))
    }
    /// Redis's `zzlIsInLexRange`/`zslIsInLexRange` precheck.
    fn may_match(&self, z: &ZSet) -> bool {
        if self.is_empty() || z.is_empty() {
            return false;
        }
        let last = z.get(z.seek(z.len() - 1)).0;
        let first = z.get(z.seek(0)).0;
        self.gte_min(last) && self.lte_max(first)
    }
    /// Rank of the first member in range (forward), as Redis finds it.
    fn first(&self, z: &ZSet) -> Option<usize> {
        if !self.may_match(z) {
            return None;
        }
        let r = z.partition(|m, _| !self.gte_min(m));
        (r < z.len() && self.lte_max(z.get(z.seek(r)).0)).then_some(r)
    }
    /// Rank of the last member in range (walking back).
    fn last(&self, z: &ZSet) -> Option<usize> {
        if !self.may_match(z) {
            return None;
        }
        let n = z.rpartition(|m, _| !self.lte_max(m));
        let r = z.len().checked_sub(n + 1)?;
        self.gte_min(z.get(z.seek(r)).0).then_some(r)
    }
}

impl ScoreRange {
    fn first(&self, z: &ZSet) -> Option<usize> {
        if self.is_empty() || z.is_empty() {
            return None;
        }
        let r = z.partition_score(|s| !self.gte_min(s));
        (r < z.len() && self.lte_max(z.get(z.seek(r)).1)).then_some(r)
    }
    fn last(&self, z: &ZSet) -> Option<usize> {
        if self.is_empty() || z.is_empty() {
            return None;
        }
        let n = z.rpartition_score(|s| !self.lte_max(s));
        let r = z.len().checked_sub(n + 1)?;
        self.gte_min(z.get(z.seek(r)).1).then_some(r)
    }
}

/// Counts members from rank `from` while `ok` holds, up to `limit`
/// (negative: no limit), walking forward or back.
fn walk_count(
    z: &ZSet,
    from: usize,
    reverse: bool,
    limit: i64,
    ok: impl Fn(&[u8], f64) -> bool,
) -> usize {
    let avail = if reverse { from + 1 } else { z.len() - from };
    let cap = if limit < 0 {
        avail
    } else {
        avail.min(limit as usize)
    };
    let mut cur = z.seek(from);
    let mut n = 0;
    while n < cap {
        let (m, s) = z.get(cur);
        if !ok(m, s) {
            break;
        }
        n += 1;
        if n < cap {
            if reverse {
                z.prev(&mut cur);
            } else {
                z.next(&mut cur);
            }
        }
    }
    n
}

// --------------------------------------------------------------- ZADD

pub(crate) fn zadd(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zadd_generic(ctx, reply, args, false)
}

fn zincrby(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zadd_generic(ctx, reply, args, true)
}

fn zadd_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], zincr: bool) -> Result {
    let key = &args[1];
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, zincr);
    let mut idx = 2;
    while idx < args.len() {
        let a = &args[idx];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            incr = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if elements % 2 == 1 || elements == 0 {
        return Err(Error::Syntax);
    }
    let elements = elements / 2;
    if nx && xx {
        return Err(err("XX and NX options at the same time are not compatible"));
    }
    if (gt || lt) && (nx || (gt && lt)) {
        return Err(err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && elements > 1 {
        return Err(err("INCR option supports a single increment-element pair"));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(float_arg(&args[idx + j * 2])?);
    }
    let (max_entries, max_value) = limits(ctx);
    let exists = write_zset(ctx, key)?.is_some();
    let (mut added, mut updated, mut processed) = (0usize, 0usize, 0usize);
    let mut last_score = 0.0;
    if !exists {
        if xx {
            return zadd_reply(reply, incr, ch, 0, 0, 0, 0.0);
        }
        let first = &args[idx + 1];
        let z = if max_entries == 0 || max_value < first.len() {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::default()
        };
        ctx.set(key, Value::ZSet(Coll::new(z)), false);
        // The members count the changes below.
        ctx.store.dirty -= 1;
    }
    let mut nan = false;
    {
        let z = write_zset(ctx, key)?.expect("just checked");
        for (j, &score) in scores.iter().enumerate() {
            let member = &args[idx + 1 + j * 2];
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    let mut score = score;
                    if incr {
                        score += cur;
                        if score.is_nan() {
                            nan = true;
                            break;
                        }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    last_score = score;
                    processed += 1;
                    if score != cur {
                        z.update(member, score);
                        updated += 1;
                    }
                }
                None => {
                    if xx {
                        continue;
                    }
                    z.insert(member, score, max_entries, max_value);
                    last_score = score;
                    added += 1;
                    processed += 1;
                }
            }
        }
    }
    if added + updated > 0 {
        ctx.modified(key);
        ctx.store.dirty += (added + updated) as u64 - 1;
        ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
    if nan {
        return Err(err("resulting score is not a number (NaN)"));
    }
    zadd_reply(reply, incr, ch, added, updated, processed, last_score)
}

fn zadd_reply(
    reply: &mut Reply<'_>,
    incr: bool,
    ch: bool,
    added: usize,
    updated: usize,
    processed: usize,
    score: f64,
) -> Result {
    if incr {
        if processed > 0 {
            reply.double(score);
        } else {
            reply.null();
        }
    } else {
        reply.integer((if ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

// ------------------------------------------------------- simple queries

fn zrem(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let Some(z) = write_zset(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m) {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    after_removal(ctx, key, "zrem", deleted);
    reply.integer(deleted as i64);
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let n = read_zset(ctx, &args[1])?.map_or(0, |z| z.len());
    reply.integer(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let range = parse_score_range(&args[2], &args[3])?;
    let n = match read_zset(ctx, &args[1])? {
        None => 0,
        Some(z) => match range.first(z) {
            None => 0,
            Some(first) => {
                let end = z.len() - z.rpartition_score(|s| !range.lte_max(s));
                end.saturating_sub(first)
            }
        },
    };
    reply.integer(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let range = parse_lex_range(&args[2], &args[3])?;
    let n = match read_zset(ctx, &args[1])? {
        None => 0,
        Some(z) => match range.first(z) {
            None => 0,
            Some(first) if z.is_listpack() => {
                walk_count(z, first, false, -1, |m, _| range.lte_max(m))
            }
            Some(first) => match range.last(z) {
                Some(last) if last >= first => last - first + 1,
                _ => 0,
            },
        },
    };
    reply.integer(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    match read_zset(ctx, &args[1])?.and_then(|z| z.score(&args[2])) {
        Some(s) => reply.double(s),
        None => reply.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let z = read_zset(ctx, &args[1])?;
    reply.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply.double(s),
            None => reply.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], rev: bool) -> Result {
    let Some(z) = read_zset(ctx, &args[1])? else {
        reply.null();
        return Ok(());
    };
    match z.rank(&args[2]) {
        Some((r, _)) => reply.integer(if rev { z.len() - 1 - r } else { r } as i64),
        None => reply.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    rank_generic(ctx, reply, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    rank_generic(ctx, reply, args, true)
}

// ------------------------------------------------------------- ZRANGE

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Rank,
    Score,
    Lex,
}

/// Where a range's members go.
enum Sink<'r, 'o> {
    Client(&'r mut Reply<'o>, bool),
    Store(Bytes),
}

/// Redis's `zrangeGenericCommand`.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    argc_start: usize,
    store: bool,
    mut rangetype: Option<RangeType>,
    mut reverse: Option<bool>,
) -> Result {
    let key = &args[argc_start];
    let mut minidx = argc_start + 1;
    let mut maxidx = argc_start + 2;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = argc_start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if reverse.is_none() && is(a, "rev") {
            reverse = Some(true);
        } else if rangetype.is_none() && is(a, "bylex") {
            rangetype = Some(RangeType::Lex);
        } else if rangetype.is_none() && is(a, "byscore") {
            rangetype = Some(RangeType::Score);
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    let rangetype = rangetype.unwrap_or(RangeType::Rank);
    if limit != -1 && rangetype == RangeType::Rank {
        return Err(err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rangetype == RangeType::Lex {
        return Err(err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if reverse && rangetype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let (mut start, mut end) = (0i64, 0i64);
    let mut srange = None;
    let mut lrange = None;
    match rangetype {
        RangeType::Rank => {
            start = int_arg(&args[minidx])?;
            end = int_arg(&args[maxidx])?;
        }
        RangeType::Score => srange = Some(parse_score_range(&args[minidx], &args[maxidx])?),
        RangeType::Lex => lrange = Some(parse_lex_range(&args[minidx], &args[maxidx])?),
    }
    let mut sink = if store {
        Sink::Store(args[1].clone())
    } else {
        Sink::Client(reply, withscores)
    };
    let limits = limits(ctx);
    let z = match read_zset(ctx, key)? {
        Some(z) => z,
        None => {
            return finish_range(ctx, &mut sink);
        }
    };
    let len = z.len() as i64;
    // The plan: `n` members from rank `from`, walking forward or back.
    let (from, n) = match rangetype {
        RangeType::Rank => {
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                (0, 0)
            } else {
                let end = end.min(len - 1);
                let n = (end - start + 1) as usize;
                let from = if reverse { len - 1 - start } else { start } as usize;
                (from, n)
            }
        }
        RangeType::Score | RangeType::Lex => {
            let found = if offset > 0 && offset >= len {
                None
            } else if let Some(r) = &srange {
                if reverse {
                    r.last(z)
                } else {
                    r.first(z)
                }
            } else if let Some(r) = &lrange {
                if reverse {
                    r.last(z)
                } else {
                    r.first(z)
                }
            } else {
                None
            };
            match found {
                Some(f) if offset >= 0 => {
                    let pos = if reverse {
                        (f as i64).checked_sub(offset).filter(|p| *p >= 0)
                    } else {
                        Some(f as i64 + offset).filter(|p| *p < len)
                    };
                    match pos {
                        Some(p) => {
                            let p = p as usize;
                            let n =
                                walk_count(z, p, reverse, limit, |m, s| match (&srange, &lrange) {
                                    (Some(r), _) => {
                                        if reverse {
                                            r.gte_min(s)
                                        } else {
                                            r.lte_max(s)
                                        }
                                    }
                                    (_, Some(r)) => {
                                        if reverse {
                                            r.gte_min(m)
                                        } else {
                                            r.lte_max(m)
                                        }
                                    }
                                    _ => false,
                                });
                            (p, n)
                        }
                        None => (0, 0),
                    }
                }
                _ => (0, 0),
            }
        }
    };
    if n == 0 {
        return finish_range(ctx, &mut sink);
    }
    let plan = Plan {
        from,
        n,
        reverse,
        rangetype,
    };
    emit_range(ctx, &mut sink, key, plan, limits)
}

/// An empty result: a client gets an empty array; a store deletes the
/// destination.
fn finish_range(ctx: &mut Ctx<'_>, sink: &mut Sink<'_, '_>) -> Result {
    match sink {
        Sink::Client(reply, _) => reply.array(0),
        Sink::Store(dst) => {
            let dst = dst.clone();
            store_result(ctx, &dst, None, "zrangestore");
        }
    }
    Ok(())
}

/// A resolved range: `n` (> 0) members from rank `from`, walking forward
/// or back.
struct Plan {
    from: usize,
    n: usize,
    reverse: bool,
    rangetype: RangeType,
}

/// Writes a non-empty range to the client, or stores it.
fn emit_range(
    ctx: &mut Ctx<'_>,
    sink: &mut Sink<'_, '_>,
    key: &[u8],
    plan: Plan,
    (max_entries, max_value): (usize, usize),
) -> Result {
    let Plan {
        from,
        n,
        reverse,
        rangetype,
    } = plan;
    let Some(Value::ZSet(z)) = ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value) else {
        return Ok(());
    };
    let mut cur = z.seek(from);
    match sink {
        Sink::Client(reply, withscores) => {
            let ws = *withscores;
            emit_header(reply, n, ws);
            for i in 0..n {
                let (m, s) = z.get(cur);
                emit(reply, m, s, ws);
                if i + 1 < n {
                    if reverse {
                        z.prev(&mut cur);
                    } else {
                        z.next(&mut cur);
                    }
                }
            }
            Ok(())
        }
        Sink::Store(dst) => {
            let dst = dst.clone();
            let mut out = if rangetype == RangeType::Rank && n > max_entries {
                ZSet::Skiplist(Box::default())
            } else {
                ZSet::default()
            };
            for i in 0..n {
                let (m, s) = z.get(cur);
                out.insert(m, s, max_entries, max_value);
                if i + 1 < n {
                    if reverse {
                        z.prev(&mut cur);
                    } else {
                        z.next(&mut cur);
                    }
                }
            }
            store_result(ctx, &dst, Some(out), "zrangestore");
            Ok(())
        }
    }
}

/// Stores a computed set at `dst` (or deletes `dst` when empty), with the
/// events and reply Redis gives... the reply is written by the caller.
pub(crate) fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &[u8],
    z: Option<ZSet>,
    event: &'static str,
) -> usize {
    match z.filter(|z| !z.is_empty()) {
        Some(z) => {
            let n = z.len();
            ctx.set(dst, Value::ZSet(Coll::new(z)), false);
            ctx.notify(notify::ZSET, event, dst);
            n
        }
        None => {
            if ctx.delete(dst) {
                ctx.notify(notify::GENERIC, "del", dst);
            }
            0
        }
    }
}

fn zrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zrange_generic(ctx, reply, args, 1, false, None, None)
}

fn zrangestore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let mut out = Vec::new();
    {
        let mut scratch = Reply::new(&mut out, reply.protocol());
        zrange_generic(ctx, &mut scratch, args, 2, true, None, None)?;
    }
    // The stored count: the destination's size now.
    let n = match ctx.store.dbs[ctx.db]
        .keys
        .get(&args[1][..])
        .map(|e| &e.value)
    {
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    };
    reply.integer(n as i64);
    Ok(())
}

fn zrevrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zrange_generic(
        ctx,
        reply,
        args,
        1,
        false,
        Some(RangeType::Rank),
        Some(true),
    )
}

fn zrangebyscore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zrange_generic(
        ctx,
        reply,
        args,
        1,
        false,
        Some(RangeType::Score),
        Some(false),
    )
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zrange_generic(
        ctx,
        reply,
        args,
        1,
        false,
        Some(RangeType::Score),
        Some(true),
    )
}

fn zrangebylex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zrange_generic(
        ctx,
        reply,
        args,
        1,
        false,
        Some(RangeType::Lex),
        Some(false),
    )
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zrange_generic(ctx, reply, args, 1, false, Some(RangeType::Lex), Some(true))
}

// ------------------------------------------------------- ZREMRANGEBY*

fn zremrange_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    rangetype: RangeType,
) -> Result {
    let key = &args[1];
    let (mut start, mut end) = (0i64, 0i64);
    let mut srange = None;
    let mut lrange = None;
    match rangetype {
        RangeType::Rank => {
            start = int_arg(&args[2])?;
            end = int_arg(&args[3])?;
        }
        RangeType::Score => srange = Some(parse_score_range(&args[2], &args[3])?),
        RangeType::Lex => lrange = Some(parse_lex_range(&args[2], &args[3])?),
    }
    let Some(z) = write_zset(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let len = z.len() as i64;
    let (from, n) = match rangetype {
        RangeType::Rank => {
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                (0, 0)
            } else {
                (start as usize, (end.min(len - 1) - start + 1) as usize)
            }
        }
        RangeType::Score => {
            let r = srange.expect("parsed");
            match r.first(z) {
                Some(f) => (f, walk_count(z, f, false, -1, |_, s| r.lte_max(s))),
                None => (0, 0),
            }
        }
        RangeType::Lex => {
            let r = lrange.expect("parsed");
            match r.first(z) {
                Some(f) => (f, walk_count(z, f, false, -1, |m, _| r.lte_max(m))),
                None => (0, 0),
            }
        }
    };
    z.remove_range(from, from + n);
    let event = match rangetype {
        RangeType::Rank => "zremrangebyrank",
        RangeType::Score => "zremrangebyscore",
        RangeType::Lex => "zremrangebylex",
    };
    after_removal(ctx, key, event, n);
    reply.integer(n as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zremrange_generic(ctx, reply, args, RangeType::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zremrange_generic(ctx, reply, args, RangeType::Score)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zremrange_generic(ctx, reply, args, RangeType::Lex)
}

// --------------------------------------------------------------- pops

/// What a pop takes and how it replies (the flags of Redis's
/// `genericZpopCommand`).
#[derive(Clone, Copy)]
struct Pop {
    /// Highest scores first (ZPOPMAX) rather than lowest.
    max: bool,
    /// How many; -1 when not given (one member).
    count: i64,
    /// The reply starts with the key (blocking pops, ZMPOP).
    emit_key: bool,
    /// Each member as a `[member, score]` pair (RESP3 with COUNT, ZMPOP).
    nested: bool,
    /// No key at all: a null array (ZMPOP) rather than an empty one.
    nil_when_empty: bool,
}

/// Redis's `genericZpopCommand`: pops from the first of `keys` that exists.
fn pop_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, keys: &[Bytes], pop: Pop) -> Result {
    let Pop {
        max,
        count,
        emit_key: emitkey,
        nested,
        nil_when_empty,
    } = pop;
    let mut found = None;
    for key in keys {
        if write_zset(ctx, key)?.is_some() {
            found = Some(key);
            break;
        }
    }
    let Some(key) = found else {
        if nil_when_empty {
            reply.null_array();
        } else {
            reply.array(0);
        }
        return Ok(());
    };
    if count == 0 {
        reply.array(0);
        return Ok(());
    }
    let with_count = count != -1;
    let count = if count == -1 { 1 } else { count as u64 };
    let z = write_zset(ctx, key)?.expect("found above");
    let len = z.len();
    let n = (count.min(len as u64)) as usize;
    match (nested, emitkey) {
        (false, false) => reply.array(n * 2),
        (true, false) => reply.array(n),
        (false, true) => {
            reply.array(n * 2 + 1);
            reply.bulk(key);
        }
        (true, true) => {
            reply.array(2);
            reply.bulk(key);
            reply.array(n);
        }
    }
    let mut cur = z.seek(if max { len - 1 } else { 0 });
    for i in 0..n {
        let (m, s) = z.get(cur);
        if nested {
            reply.array(2);
        }
        reply.bulk(m);
        reply.double(s);
        if i + 1 < n {
            if max {
                z.prev(&mut cur);
            } else {
                z.next(&mut cur);
            }
        }
    }
    if max {
        z.remove_range(len - n, len);
    } else {
        z.remove_range(0, n);
    }
    after_removal(ctx, key, if max { "zpopmax" } else { "zpopmin" }, n);
    if emitkey {
        // ZMPOP and the blocking pops are logged as the ZPOPMIN/ZPOPMAX
        // they amounted to.
        let mut zpop = vec![
            Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" }),
            key.clone(),
        ];
        if with_count {
            zpop.push(Bytes::from(n.to_string()));
        }
        ctx.propagate_instead(zpop);
    }
    Ok(())
}

fn zpop_minmax(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], max: bool) -> Result {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let mut count = -1;
    if args.len() == 3 {
        count = match crate::parse_i64_exact(&args[2]) {
            Some(n) if n >= 0 => n,
            _ => return Err(err("value is out of range, must be positive")),
        };
    }
    let pop = Pop {
        max,
        count,
        emit_key: false,
        nested: reply.is_resp3() && count != -1,
        nil_when_empty: false,
    };
    pop_generic(ctx, reply, &args[1..2], pop)
}

fn zpopmin(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zpop_minmax(ctx, reply, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    zpop_minmax(ctx, reply, args, true)
}

/// A positive `long` argument with a custom error for both bad forms.
fn positive_arg(arg: &[u8], msg: &str) -> Result<i64> {
    match crate::parse_i64_exact(arg) {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(err(msg)),
    }
}

/// Parses ZMPOP's arguments from `numkeys_idx`: (keys, max, count).
fn parse_mpop(args: &[Bytes], numkeys_idx: usize) -> Result<(&[Bytes], bool, i64)> {
    let numkeys = positive_arg(&args[numkeys_idx], "numkeys should be greater than 0")?;
    let where_idx = (numkeys as u64)
        .checked_add(numkeys_idx as u64 + 1)
        .filter(|&w| w < args.len() as u64)
        .ok_or(Error::Syntax)? as usize;
    let max = if is(&args[where_idx], "min") {
        false
    } else if is(&args[where_idx], "max") {
        true
    } else {
        return Err(Error::Syntax);
    };
    let mut count = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && is(&args[j], "count") && more > 0 {
            j += 1;
            count = positive_arg(&args[j], "count should be greater than 0")?;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    Ok((&args[numkeys_idx + 1..where_idx], max, count))
}

fn zmpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (keys, max, count) = parse_mpop(args, 1)?;
    let pop = Pop {
        max,
        count,
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    };
    pop_generic(ctx, reply, keys, pop)
}

/// Redis's `blockingGenericZpopCommand`, after the timeout is parsed:
/// serves at once if a key has members, else blocks (or, where blocking is
/// not allowed, replies as a timeout).
fn blocking_pop(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    keys: &[Bytes],
    deadline_ms: Option<u64>,
    pop: Pop,
) -> Result {
    for key in keys {
        if write_zset(ctx, key)?.is_some() {
            return pop_generic(ctx, reply, std::slice::from_ref(key), pop);
        }
    }
    if !ctx.may_block {
        reply.null_array();
        return Ok(());
    }
    ctx.block = Some(Block {
        keys: keys.to_vec(),
        deadline_ms,
        kind: BlockKind::ZSet,
        retry: None,
    });
    Ok(())
}

fn bzpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes], max: bool) -> Result {
    let deadline = block_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let pop = Pop {
        max,
        count: -1,
        emit_key: true,
        nested: false,
        nil_when_empty: false,
    };
    blocking_pop(ctx, reply, &args[1..args.len() - 1], deadline, pop)
}

fn bzpopmin(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    bzpop(ctx, reply, args, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    bzpop(ctx, reply, args, true)
}

fn bzmpop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (keys, max, count) = parse_mpop(args, 2)?;
    let deadline = block_timeout(&args[1], ctx.now_ms)?;
    let pop = Pop {
        max,
        count,
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    };
    blocking_pop(ctx, reply, keys, deadline, pop)
}

// ------------------------------------------------------- ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if args.len() >= 3 {
        let l = int_arg(&args[2])?;
        if l == i64::MIN {
            return Err(err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        let withscores = if args.len() > 4 || (args.len() == 4 && !is(&args[3], "withscores")) {
            return Err(Error::Syntax);
        } else {
            args.len() == 4
        };
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(err("value is out of range"));
        }
        return randmember_count(ctx, reply, &args[1], l, withscores);
    }
    let r = ctx.store.next_random();
    match read_zset(ctx, &args[1])? {
        None => reply.null(),
        Some(z) => {
            let (m, _) = z.get(z.seek((r % z.len() as u64) as usize));
            reply.bulk(m);
        }
    }
    Ok(())
}

fn randmember_count(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    key: &[u8],
    count: i64,
    withscores: bool,
) -> Result {
    let len = match read_zset(ctx, key)? {
        None => {
            reply.array(0);
            return Ok(());
        }
        Some(z) => z.len(),
    };
    if count == 0 {
        reply.array(0);
        return Ok(());
    }
    if count < 0 || count == 1 {
        let n = count.unsigned_abs();
        emit_header(reply, n as usize, withscores);
        for _ in 0..n {
            let r = ctx.store.next_random();
            let Some(Value::ZSet(z)) = ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value) else {
                break;
            };
            let (m, s) = z.get(z.seek((r % len as u64) as usize));
            emit(reply, m, s, withscores);
        }
        return Ok(());
    }
    let count = count as usize;
    if count >= len {
        // The whole set: Redis 7.0 replies it from the highest rank down.
        let Some(Value::ZSet(z)) = ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value) else {
            return Ok(());
        };
        emit_header(reply, len, withscores);
        let mut cur = z.seek(len - 1);
        for i in 0..len {
            let (m, s) = z.get(cur);
            emit(reply, m, s, withscores);
            if i + 1 < len {
                z.prev(&mut cur);
            }
        }
        return Ok(());
    }
    // Distinct random ranks.
    let mut ranks: Vec<usize>;
    if count * 3 > len {
        ranks = (0..len).collect();
        for i in 0..count {
            let j = i + (ctx.store.next_random() % (len - i) as u64) as usize;
            ranks.swap(i, j);
        }
        ranks.truncate(count);
    } else {
        let mut seen = HashSet::with_capacity(count);
        ranks = Vec::with_capacity(count);
        while ranks.len() < count {
            let r = (ctx.store.next_random() % len as u64) as usize;
            if seen.insert(r) {
                ranks.push(r);
            }
        }
    }
    let Some(Value::ZSet(z)) = ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value) else {
        return Ok(());
    };
    emit_header(reply, count, withscores);
    for r in ranks {
        let (m, s) = z.get(z.seek(r));
        emit(reply, m, s, withscores);
    }
    Ok(())
}

// ----------------------------------------------------------- ZSCAN

fn zscan(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cursor = parse_cursor(&args[2])?;
    if read_zset(ctx, &args[1])?.is_none() {
        super::reply_empty_scan(reply);
        return Ok(());
    }
    let (count, pattern) = super::scan_options(&args[3..])?;
    let Some(Value::ZSet(z)) = ctx.store.dbs[ctx.db]
        .keys
        .get(&args[1][..])
        .map(|e| &e.value)
    else {
        return Ok(());
    };
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.map_or(true, |p| glob_match(p, m, false)) {
            found.push((m, s));
        }
    });
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(found.len() * 2);
    for (m, s) in found {
        reply.bulk(m);
        reply.bulk(format_double(s).as_bytes());
    }
    Ok(())
}

// ------------------------------------------------ union / inter / diff

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// The members of a plain set used as a sorted-set input (each counts with
/// score 1), as bytes: an intset's integers are formatted.
fn set_members(set: &Set) -> Vec<Vec<u8>> {
    set.iter().map(|e| e.to_vec()).collect()
}

/// One input of ZUNION/ZINTER/ZDIFF.
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(Vec<&'a [u8]>, HashSet<&'a [u8]>),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(v, _) => v.len(),
        }
    }
    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(_, h) => h.contains(m).then_some(1.0),
        }
    }
    fn for_each(&self, mut f: impl FnMut(&'a [u8], f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(v, _) => v.iter().for_each(|m| f(m, 1.0)),
        }
    }
    fn id(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => *z as *const ZSet as usize,
            Src::S(v, _) => v.as_ptr() as usize,
        }
    }
}

/// Which of ZUNION/ZINTER/ZDIFF/ZINTERCARD (or a STORE form) runs.
#[derive(Clone, Copy)]
struct SetOpCmd {
    op: SetOp,
    /// ZINTERCARD: only count, with LIMIT.
    card_only: bool,
    /// The STORE forms' destination is `args[1]` and numkeys `args[2]`.
    store: bool,
    /// For "at least 1 input key is needed for '…' command".
    name: &'static str,
}

/// Redis's `zunionInterDiffGenericCommand`.
fn setop_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    cmd: SetOpCmd,
) -> Result {
    let SetOpCmd {
        op,
        card_only,
        store,
        name,
    } = cmd;
    let dst = store.then(|| &args[1]);
    let numkeys_idx = if store { 2 } else { 1 };
    let setnum = int_arg(&args[numkeys_idx])?;
    if setnum < 1 {
        return Err(Error::Other(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum as u64 > (args.len() - numkeys_idx - 1) as u64 {
        return Err(Error::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    // Redis 7.0 looks the sources up for reading even when storing: a
    // missing one raises `keymiss` and counts a miss.
    for k in keys {
        if let Some(v) = ctx.read(k) {
            if !matches!(v, Value::ZSet(_) | Value::Set(_)) {
                return Err(Error::WrongType);
            }
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w =
                    crate::parse_f64(&args[j]).ok_or_else(|| err("weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            let v = &args[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(Error::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            limit = match crate::parse_i64_exact(&args[j + 1]) {
                Some(n) if n >= 0 => n,
                _ => return Err(err("LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let (max_entries, max_value) = limits(ctx);
    // Compute with shared borrows of the keyspace.
    let db = &ctx.store.dbs[ctx.db];
    // Plain sets' members as bytes, owned here so the inputs can borrow them.
    let set_inputs: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| match db.keys.get(k).map(|e| &e.value) {
            Some(Value::Set(s)) => set_members(&s.data),
            _ => Vec::new(),
        })
        .collect();
    let mut srcs: Vec<(Src<'_>, f64)> = keys
        .iter()
        .zip(&weights)
        .zip(&set_inputs)
        .map(|((k, &w), members)| {
            let src = match db.keys.get(k).map(|e| &e.value) {
                Some(Value::ZSet(z)) => Src::Z(&z.data),
                Some(Value::Set(_)) => {
                    let v: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
                    let h = v.iter().copied().collect();
                    Src::S(v, h)
                }
                _ => Src::Missing,
            };
            (src, w)
        })
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(&[u8], f64)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        SetOp::Inter => {
            if srcs[0].0.len() > 0 {
                let first_id = srcs[0].0.id();
                let mut done = false;
                srcs[0].0.for_each(|m, s0| {
                    if done {
                        return;
                    }
                    let mut score = srcs[0].1 * s0;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (src, w) in &srcs[1..] {
                        let value = if src.id() == first_id && first_id != 0 {
                            Some(s0)
                        } else {
                            src.find(m)
                        };
                        match value {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => return,
                        }
                    }
                    if card_only {
                        cardinality += 1;
                        if limit > 0 && cardinality as i64 >= limit {
                            done = true;
                        }
                    } else {
                        result.push((m, score));
                    }
                });
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m, score);
                            order.push(m);
                        }
                    }
                });
            }
            result = order.into_iter().map(|m| (m, acc[m])).collect();
        }
        SetOp::Diff => {
            let (first, rest) = srcs.split_first().expect("setnum >= 1");
            first.0.for_each(|m, s| {
                if rest.iter().all(|(src, _)| src.find(m).is_none()) {
                    result.push((m, s));
                }
            });
        }
    }
    if card_only {
        reply.integer(cardinality as i64);
        return Ok(());
    }
    result.sort_by(|a, b| match a.1.partial_cmp(&b.1) {
        Some(std::cmp::Ordering::Equal) | None => a.0.cmp(b.0),
        Some(o) => o,
    });
    match dst {
        None => {
            emit_header(reply, result.len(), withscores);
            for (m, s) in &result {
                emit(reply, m, *s, withscores);
            }
            Ok(())
        }
        Some(dst) => {
            let maxlen = result.iter().map(|e| e.0.len()).max().unwrap_or(0);
            let mut z = if result.len() <= max_entries && maxlen <= max_value {
                ZSet::default()
            } else {
                ZSet::Skiplist(Box::default())
            };
            for (m, s) in &result {
                z.insert(m, *s, usize::MAX, usize::MAX);
            }
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            let n = store_result(ctx, dst, Some(z), event);
            reply.integer(n as i64);
            Ok(())
        }
    }
}

fn setop(op: SetOp, card_only: bool, store: bool, name: &'static str) -> SetOpCmd {
    SetOpCmd {
        op,
        card_only,
        store,
        name,
    }
}

fn zunion(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    setop_generic(
        ctx,
        reply,
        args,
        setop(SetOp::Union, false, false, "zunion"),
    )
}

fn zinter(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    setop_generic(
        ctx,
        reply,
        args,
        setop(SetOp::Inter, false, false, "zinter"),
    )
}

fn zdiff(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    setop_generic(ctx, reply, args, setop(SetOp::Diff, false, false, "zdiff"))
}

fn zintercard(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cmd = setop(SetOp::Inter, true, false, "zintercard");
    setop_generic(ctx, reply, args, cmd)
}

fn zunionstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cmd = setop(SetOp::Union, false, true, "zunionstore");
    setop_generic(ctx, reply, args, cmd)
}

fn zinterstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cmd = setop(SetOp::Inter, false, true, "zinterstore");
    setop_generic(ctx, reply, args, cmd)
}

fn zdiffstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let cmd = setop(SetOp::Diff, false, true, "zdiffstore");
    setop_generic(ctx, reply, args, cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{execute, lookup_command, Store};
    use shoal_resp::Protocol;

    fn run(store: &mut Store, may_block: bool, line: &str) -> (Vec<u8>, Option<Block>) {
        let args: Vec<Bytes> = line
            .split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let spec = lookup_command(&args[0]).expect("known command");
        let mut out = Vec::new();
        let mut ctx = Ctx::new(store, 0, 1_700_000_000_000, 1);
        ctx.may_block = may_block;
        let mut reply = Reply::new(&mut out, Protocol::Resp2);
        if let Err(e) = execute(spec, &mut ctx, &mut reply, &args) {
            out = format!("-{e}\r\n").into_bytes();
        }
        let block = ctx.block.take();
        (out, block)
    }

    fn events(store: &mut Store) -> Vec<String> {
        store
            .events
            .drain(..)
            .map(|e| format!("{}:{}", e.event, String::from_utf8_lossy(&e.key)))
            .collect()
    }

    #[test]
    fn keyspace_events_follow_redis() {
        let mut s = Store::new(1);
        s.notify_flags = notify::ALL | notify::KEYEVENT | notify::NEW;
        run(&mut s, false, "ZADD z 1 a 2 b");
        assert_eq!(events(&mut s), ["new:z", "zadd:z"]);
        run(&mut s, false, "ZADD z 1 a");
        assert_eq!(events(&mut s), Vec::<String>::new());
        run(&mut s, false, "ZINCRBY z 1 a");
        assert_eq!(events(&mut s), ["zincr:z"]);
        run(&mut s, false, "ZPOPMIN z");
        assert_eq!(events(&mut s), ["zpopmin:z"]);
        run(&mut s, false, "ZREM z b nosuch");
        assert_eq!(events(&mut s), ["zrem:z", "del:z"]);
        run(&mut s, false, "ZADD z 1 a 2 b 3 c");
        events(&mut s);
        run(&mut s, false, "ZREMRANGEBYSCORE z 2 2");
        run(&mut s, false, "ZREMRANGEBYRANK z 5 9");
        run(&mut s, false, "ZREMRANGEBYLEX z - +");
        assert_eq!(
            events(&mut s),
            ["zremrangebyscore:z", "zremrangebylex:z", "del:z"]
        );
        run(&mut s, false, "ZADD z 1 a");
        events(&mut s);
        run(&mut s, false, "ZUNIONSTORE d 1 z");
        run(&mut s, false, "ZRANGESTORE d nosuch 0 -1");
        run(&mut s, false, "ZPOPMAX z 5");
        assert_eq!(
            events(&mut s),
            ["new:d", "zunionstore:d", "del:d", "zpopmax:z", "del:z"]
        );
    }

    #[test]
    fn blocking_pops_block_only_when_allowed() {
        let mut s = Store::new(1);
        let (out, block) = run(&mut s, true, "BZPOPMIN a b 1.5");
        assert!(out.is_empty());
        let block = block.expect("blocks");
        assert_eq!(block.keys, [Bytes::from("a"), Bytes::from("b")]);
        assert_eq!(block.deadline_ms, Some(1_700_000_001_500));
        assert_eq!(block.kind, BlockKind::ZSet);
        let (out, block) = run(&mut s, true, "BZMPOP 0 2 a b MAX COUNT 3");
        assert!(out.is_empty() && block.is_some_and(|b| b.deadline_ms.is_none()));
        // Inside MULTI: Redis's timeout reply at once.
        let (out, block) = run(&mut s, false, "BZPOPMAX a 0");
        assert_eq!((out.as_slice(), block), (&b"*-1\r\n"[..], None));
        // Data present: served like ZPOPMIN, never blocks.
        run(&mut s, false, "ZADD b 1 x 2 y");
        let (out, block) = run(&mut s, true, "BZPOPMIN a b 0");
        assert_eq!(out, b"*3\r\n$1\r\nb\r\n$1\r\nx\r\n$1\r\n1\r\n");
        assert!(block.is_none());
        // Errors before blocking.
        run(&mut s, false, "SET s v");
        let (out, _) = run(&mut s, true, "BZPOPMIN a s 0");
        assert!(out.starts_with(b"-WRONGTYPE"));
        let (out, _) = run(&mut s, true, "BZMPOP 0 1 a FOO");
        assert_eq!(out, b"-ERR syntax error\r\n");
    }

    #[test]
    fn no_panics_on_extreme_arguments() {
        let mut s = Store::new(1);
        run(&mut s, false, "ZADD z 1 a 2 b 3 c");
        for line in [
            "ZRANGE z -9223372036854775808 9223372036854775807",
            "ZRANGE z 9223372036854775807 -9223372036854775808",
            "ZRANGEBYSCORE z -inf +inf LIMIT 9223372036854775807 9223372036854775807",
            "ZRANGEBYSCORE z -inf +inf LIMIT -9223372036854775808 -9223372036854775808",
            "ZREVRANGEBYSCORE z +inf -inf LIMIT 9223372036854775807 1",
            "ZREVRANGEBYLEX z + - LIMIT 2 9223372036854775807",
            "ZREMRANGEBYRANK z -9223372036854775808 9223372036854775807",
            "ZPOPMIN z 9223372036854775807",
            "ZRANDMEMBER z 9223372036854775807",
            "ZRANDMEMBER z -5 WITHSCORES",
            "ZMPOP 9223372036854775807 z MIN",
            "ZUNION 9223372036854775807 z",
            "ZSCAN z 18446744073709551615 COUNT 9223372036854775807",
            "BZPOPMIN z 1e300",
            "ZADD z INCR inf a",
            "ZINCRBY z -inf a",
        ] {
            run(&mut s, false, line);
            run(&mut s, false, "ZADD z 1 a 2 b 3 c");
        }
    }

    fn arg() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let words = [
            "a",
            "b",
            "k",
            "z",
            "0",
            "1",
            "-1",
            "2",
            "3",
            "-3",
            "(1",
            "[a",
            "(a",
            "-",
            "+",
            "inf",
            "-inf",
            "(",
            "[",
            "",
            "nan",
            "x",
            "1.5",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
            "WITHSCORES",
            "LIMIT",
            "REV",
            "BYSCORE",
            "BYLEX",
            "NX",
            "XX",
            "GT",
            "LT",
            "CH",
            "INCR",
            "MIN",
            "MAX",
            "COUNT",
            "WEIGHTS",
            "AGGREGATE",
            "SUM",
            "MATCH",
            "*",
            "1e308",
            "-1e308",
            "0x10",
        ];
        prop_oneof![
            8 => proptest::sample::select(words.to_vec()).prop_map(|w| w.as_bytes().to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..6),
            1 => (60usize..70).prop_map(|n| vec![b'q'; n]),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any argument list to any sorted-set command: an answer or an
        /// error, never a panic, and the set's invariants hold after.
        #[test]
        fn never_panics(cmds in proptest::collection::vec(
            (0..COMMANDS.len(), proptest::collection::vec(arg(), 0..9)), 1..300)
        ) {
            let mut store = Store::new(1);
            store.config.zset_max_listpack_entries = 4;
            for (i, rest) in cmds {
                let spec = &COMMANDS[i];
                let mut args = vec![Bytes::from_static(spec.name.as_bytes())];
                args.extend(rest.into_iter().map(Bytes::from));
                let mut out = Vec::new();
                let mut ctx = Ctx::new(&mut store, 0, 1_700_000_000_000, 1);
                ctx.may_block = i % 2 == 0;
                let protocol = if i % 3 == 0 { Protocol::Resp3 } else { Protocol::Resp2 };
                let mut reply = Reply::new(&mut out, protocol);
                let _ = execute(spec, &mut ctx, &mut reply, &args);
                // Keep the sets populated, so commands meet data.
                if i % 4 == 0 {
                    run(&mut store, false, "ZADD z 1 a 2 b 3 c 2 d 0 e");
                }
            }
            // Invariants: no empty set is kept; ranks agree with scores.
            for entry in store.dbs[0].keys.iter() {
                if let Value::ZSet(z) = &entry.value {
                    proptest::prop_assert!(!z.is_empty());
                    let mut cur = z.seek(0);
                    let mut prev: Option<(Vec<u8>, f64)> = None;
                    for r in 0..z.len() {
                        let (m, s) = z.get(cur);
                        proptest::prop_assert_eq!(z.rank(m), Some((r, s)));
                        if let Some((pm, ps)) = &prev {
                            proptest::prop_assert!(*ps < s || (*ps == s && pm.as_slice() < m));
                        }
                        prev = Some((m.to_vec(), s));
                        if r + 1 < z.len() {
                            z.next(&mut cur);
                        }
                    }
                }
            }
        }
    }
}
