//! String commands: GET, SET and friends, counters, ranges.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{int_arg, is};
use crate::error::{Error, Result};
use crate::longdouble::LongDouble;
use crate::notify::{GENERIC, STRING};
use crate::{Ctx, StrEncoding, StrValue, Value};

/// The string at `key`, or `None`; `WRONGTYPE` for other types.
fn read_str<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c [u8]>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(&s.data)),
        Some(_) => Err(Error::WrongType),
    }
}

fn reply_str(reply: &mut Reply<'_>, value: Option<&[u8]>) {
    match value {
        Some(v) => reply.bulk(v),
        None => reply.null(),
    }
}

pub(crate) fn get(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let value = read_str(ctx, &args[1])?;
    reply_str(reply, value);
    Ok(())
}

/// When a key set by SET/GETEX expires.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireOpt {
    None,
    KeepTtl,
    Persist,
    At(u64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// Redis's `getExpireMillisecondsOrReply`: positive, no overflow, relative
/// times added to the command's clock.
fn expire_ms(
    ctx: &Ctx<'_>,
    arg: &[u8],
    unit: Unit,
    relative: bool,
    cmd: &'static str,
) -> Result<u64> {
    let n = int_arg(arg)?;
    let invalid = Error::InvalidExpireTime(cmd);
    if n <= 0 {
        return Err(invalid);
    }
    let mut ms = match unit {
        Unit::Seconds => n.checked_mul(1000).ok_or(invalid.clone())?,
        Unit::Millis => n,
    };
    if relative {
        ms = ms.checked_add(ctx.now_ms as i64).ok_or(invalid.clone())?;
    }
    if ms <= 0 {
        return Err(invalid);
    }
    Ok(ms as u64)
}

struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    expire: ExpireOpt,
    /// EX/PX/EXAT/PXAT's argument, unit and relativity, not yet checked:
    /// Redis reports a syntax error anywhere in the options before a bad
    /// time, and GETEX reports a missing key before a bad time.
    expire_arg: Option<(Bytes, Unit, bool)>,
}

impl SetOptions {
    /// Turns the pending EX/PX/EXAT/PXAT argument into `expire`.
    fn resolve_expire(&mut self, ctx: &Ctx<'_>, cmd: &'static str) -> Result {
        if let Some((arg, unit, relative)) = self.expire_arg.take() {
            self.expire = ExpireOpt::At(expire_ms(ctx, &arg, unit, relative, cmd)?);
        }
        Ok(())
    }
}

/// Parses SET's (or GETEX's) options, with Redis's rule that conflicting
/// options are a syntax error.
fn parse_set_options(args: &[Bytes], getex: bool) -> Result<SetOptions> {
    let mut o = SetOptions {
        nx: false,
        xx: false,
        get: false,
        expire: ExpireOpt::None,
        expire_arg: None,
    };
    // Redis lets an expiry option repeat (the last wins) but not mix with
    // another kind: `EX 1 EX 2` is fine, `EX 1 PX 2` a syntax error.
    let mut expire_kind: Option<&'static str> = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i][..];
        let next = args.get(i + 1);
        let kind = ["ex", "px", "exat", "pxat", "keepttl", "persist"]
            .into_iter()
            .find(|k| is(a, k));
        let kind_ok = kind.is_some() && (expire_kind.is_none() || expire_kind == kind);
        if !getex && is(a, "nx") && !o.xx {
            o.nx = true;
        } else if !getex && is(a, "xx") && !o.nx {
            o.xx = true;
        } else if !getex && is(a, "get") {
            o.get = true;
        } else if !getex && kind == Some("keepttl") && kind_ok {
            o.expire = ExpireOpt::KeepTtl;
            expire_kind = kind;
        } else if getex && kind == Some("persist") && kind_ok {
            o.expire = ExpireOpt::Persist;
            expire_kind = kind;
        } else if matches!(kind, Some("ex" | "px" | "exat" | "pxat")) && kind_ok && next.is_some() {
            let unit = if is(a, "ex") || is(a, "exat") {
                Unit::Seconds
            } else {
                Unit::Millis
            };
            let relative = is(a, "ex") || is(a, "px");
            o.expire_arg = next.map(|n| (n.clone(), unit, relative));
            expire_kind = kind;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

pub(crate) fn set(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let mut opts = parse_set_options(&args[3..], false)?;
    opts.resolve_expire(ctx, "set")?;
    let key = &args[1];
    if opts.get {
        let old = read_str(ctx, key)?;
        reply_str(reply, old);
    }
    let found = ctx.exists(key);
    if (opts.nx && found) || (opts.xx && !found) {
        if !opts.get {
            reply.null();
        }
        return Ok(());
    }
    store_string(ctx, key, &args[2], opts.expire);
    if !opts.get {
        reply.ok();
    }
    Ok(())
}

/// Redis's `setGenericCommand` once it decided to write: the value (`new`
/// if created), the `set` event, then the TTL and its `expire` event.
fn store_string(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], expire: ExpireOpt) {
    ctx.set(
        key,
        Value::Str(StrValue::new(value.to_vec())),
        expire == ExpireOpt::KeepTtl,
    );
    ctx.notify(STRING, "set", key);
    if let ExpireOpt::At(at) = expire {
        ctx.set_expire(key, Some(at));
        ctx.notify(GENERIC, "expire", key);
    }
}

pub(crate) fn setnx(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if ctx.exists(&args[1]) {
        reply.integer(0);
    } else {
        store_string(ctx, &args[1], &args[2], ExpireOpt::None);
        reply.integer(1);
    }
    Ok(())
}

fn setex_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    unit: Unit,
    cmd: &'static str,
) -> Result {
    let at = expire_ms(ctx, &args[2], unit, true, cmd)?;
    store_string(ctx, &args[1], &args[3], ExpireOpt::At(at));
    reply.ok();
    Ok(())
}

pub(crate) fn setex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    setex_generic(ctx, reply, args, Unit::Seconds, "setex")
}

pub(crate) fn psetex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    setex_generic(ctx, reply, args, Unit::Millis, "psetex")
}

pub(crate) fn getset(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let old = read_str(ctx, &args[1])?;
    reply_str(reply, old);
    store_string(ctx, &args[1], &args[2], ExpireOpt::None);
    Ok(())
}

pub(crate) fn getdel(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let old = read_str(ctx, &args[1])?;
    reply_str(reply, old);
    if old.is_some() {
        ctx.delete(&args[1]);
        ctx.notify(GENERIC, "del", &args[1]);
        ctx.propagate_instead(vec![Bytes::from_static(b"DEL"), args[1].clone()]);
    }
    Ok(())
}

pub(crate) fn getex(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let mut opts = parse_set_options(&args[2..], true)?;
    let key = &args[1];
    if read_str(ctx, key)?.is_none() {
        reply.null();
        return Ok(());
    }
    opts.resolve_expire(ctx, "getex")?;
    // The key was looked up (and counted) once, as in Redis.
    let Some(Value::Str(value)) = ctx.db().keys.get(key).map(|e| &e.value) else {
        unreachable!("checked above, under the same lock")
    };
    reply.bulk(&value.data);
    match opts.expire {
        ExpireOpt::At(at) if at <= ctx.now_ms => {
            // A time already past deletes the key, as Redis does.
            ctx.delete(key);
            ctx.notify(GENERIC, "del", key);
            ctx.propagate_instead(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        ExpireOpt::At(at) => {
            ctx.set_expire(key, Some(at));
            ctx.modified(key);
            ctx.notify(GENERIC, "expire", key);
        }
        ExpireOpt::Persist => {
            if ctx.db().expire_at(key).is_some() {
                ctx.set_expire(key, None);
                ctx.modified(key);
                ctx.notify(GENERIC, "persist", key);
            }
        }
        ExpireOpt::None | ExpireOpt::KeepTtl => {}
    }
    Ok(())
}

pub(crate) fn mget(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    reply.array(args.len() - 1);
    for key in &args[1..] {
        match ctx.read(key) {
            Some(Value::Str(s)) => reply.bulk(&s.data),
            _ => reply.null(),
        }
    }
    Ok(())
}

fn check_pairs(args: &[Bytes], cmd: &str) -> Result {
    if args.len() % 2 == 0 {
        return Err(Error::WrongArity(cmd.to_string()));
    }
    Ok(())
}

pub(crate) fn mset(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    check_pairs(args, "mset")?;
    for pair in args[1..].chunks_exact(2) {
        store_string(ctx, &pair[0], &pair[1], ExpireOpt::None);
    }
    reply.ok();
    Ok(())
}

pub(crate) fn msetnx(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    check_pairs(args, "msetnx")?;
    for pair in args[1..].chunks_exact(2) {
        if ctx.exists(&pair[0]) {
            reply.integer(0);
            return Ok(());
        }
    }
    for pair in args[1..].chunks_exact(2) {
        store_string(ctx, &pair[0], &pair[1], ExpireOpt::None);
    }
    reply.integer(1);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, key: &[u8], by: i64) -> Result {
    // One lookup, and the number is rewritten in the value's own buffer:
    // INCR is a hot command. It keeps the key's TTL (it changes the value,
    // not the key).
    let new = match ctx.write(key) {
        None => {
            ctx.set(key, Value::Str(StrValue::from_int(by)), true);
            by
        }
        Some(Value::Str(s)) => {
            let current = crate::parse_i64_exact(&s.data).ok_or(Error::NotInteger)?;
            let new = current.checked_add(by).ok_or(Error::Overflow)?;
            let mut buf = itoa::Buffer::new();
            s.data.clear();
            s.data.extend_from_slice(buf.format(new).as_bytes());
            s.encoding = StrEncoding::Int;
            s.shared = (0..crate::value::SHARED_INTEGERS).contains(&new);
            ctx.modified(key);
            new
        }
        Some(_) => return Err(Error::WrongType),
    };
    ctx.notify(STRING, "incrby", key);
    reply.integer(new);
    Ok(())
}

pub(crate) fn incr(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    incr_generic(ctx, reply, &args[1], 1)
}

pub(crate) fn decr(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    incr_generic(ctx, reply, &args[1], -1)
}

pub(crate) fn incrby(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let by = int_arg(&args[2])?;
    incr_generic(ctx, reply, &args[1], by)
}

pub(crate) fn decrby(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let by = int_arg(&args[2])?;
    if by == i64::MIN {
        return Err(Error::Other("decrement would overflow".into()));
    }
    incr_generic(ctx, reply, &args[1], -by)
}

pub(crate) fn incrbyfloat(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    // A write lookup, as Redis's: no hit/miss counting, no `keymiss`.
    // Redis adds in `long double` and prints the sum with `%.17Lf`.
    let current = match ctx.write(key) {
        None => LongDouble::ZERO,
        Some(Value::Str(s)) => LongDouble::parse(&s.data).ok_or(Error::NotFloat)?,
        Some(_) => return Err(Error::WrongType),
    };
    let by = LongDouble::parse(&args[2]).ok_or(Error::NotFloat)?;
    let new = current.checked_add(by).ok_or(Error::NanOrInfinity)?;
    let text = new.to_human_string();
    reply.bulk(text.as_bytes());
    // Replicas and the AOF get the result, not the float arithmetic.
    ctx.propagate_instead(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        Bytes::from(text.clone()),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    // Redis stores the result as a string object, never `int`-encoded.
    let mut value = StrValue::new(text.into_bytes());
    if value.encoding == StrEncoding::Int {
        value.encoding = StrEncoding::Embstr;
        value.shared = false;
    }
    ctx.set(key, Value::Str(value), true);
    ctx.notify(STRING, "incrbyfloat", key);
    Ok(())
}

fn check_string_len(ctx: &Ctx<'_>, len: u64) -> Result {
    if len > ctx.store.config.proto_max_bulk_len as u64 {
        return Err(Error::StringTooLong);
    }
    Ok(())
}

pub(crate) fn append(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let limit = ctx.store.config.proto_max_bulk_len as u64;
    let new_len = match ctx.write(key) {
        None => {
            ctx.set(key, Value::Str(StrValue::new(args[2].to_vec())), false);
            args[2].len()
        }
        Some(Value::Str(s)) => {
            if (s.data.len() + args[2].len()) as u64 > limit {
                return Err(Error::StringTooLong);
            }
            s.data.extend_from_slice(&args[2]);
            s.encoding = StrEncoding::Raw;
            let len = s.data.len();
            ctx.modified(key);
            len
        }
        Some(_) => return Err(Error::WrongType),
    };
    ctx.notify(STRING, "append", key);
    reply.integer(new_len as i64);
    Ok(())
}

pub(crate) fn strlen(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let len = read_str(ctx, &args[1])?.map_or(0, <[u8]>::len);
    reply.integer(len as i64);
    Ok(())
}

pub(crate) fn getrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let mut start = int_arg(&args[2])?;
    let mut end = int_arg(&args[3])?;
    let value = read_str(ctx, &args[1])?.unwrap_or(b"");
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        reply.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        reply.bulk(b"");
    } else {
        reply.bulk(&value[start as usize..=end as usize]);
    }
    Ok(())
}

pub(crate) fn setrange(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let offset = int_arg(&args[2])?;
    if offset < 0 {
        return Err(Error::OffsetOutOfRange);
    }
    let offset = offset as u64;
    let value = &args[3];
    let total = offset + value.len() as u64;
    match ctx.write(key) {
        None => {
            if value.is_empty() {
                reply.integer(0);
                return Ok(());
            }
            check_string_len(ctx, total)?;
            let mut data = vec![0u8; total as usize];
            data[offset as usize..].copy_from_slice(value);
            ctx.set(key, Value::Str(StrValue::raw(data)), false);
            ctx.notify(STRING, "setrange", key);
            reply.integer(total as i64);
        }
        Some(Value::Str(s)) => {
            let current = s.data.len();
            if value.is_empty() {
                reply.integer(current as i64);
                return Ok(());
            }
            check_string_len(ctx, total)?;
            let Some(Value::Str(s)) = ctx.write(key) else {
                unreachable!("checked above")
            };
            if (s.data.len() as u64) < total {
                s.data.resize(total as usize, 0);
            }
            s.data[offset as usize..total as usize].copy_from_slice(value);
            s.encoding = StrEncoding::Raw;
            let len = s.data.len();
            ctx.modified(key);
            ctx.notify(STRING, "setrange", key);
            reply.integer(len as i64);
        }
        Some(_) => return Err(Error::WrongType),
    }
    Ok(())
}
