//! DUMP and RESTORE: values as Redis's RDB-encoded payloads, interchangeable
//! with redis-server 7.0's (see [`crate::rdb`]).

use bytes::Bytes;
use shoal_resp::Reply;

use super::is;
use crate::error::{Error, Result};
use crate::rdb;
use crate::{lru_clock, notify, Ctx};

pub(crate) fn dump(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let Some(value) = ctx.read(&args[1]) else {
        reply.null();
        return Ok(());
    };
    let decoded = crate::convert::to_decoded(value);
    reply.bulk(&rdb::dump_payload(
        &decoded,
        ctx.store.config.rdb_compression,
    ));
    Ok(())
}

pub(crate) fn restore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (key, payload) = (&args[1], &args[3]);
    let mut replace = false;
    let mut absttl = false;
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "absttl") {
            absttl = true;
        } else if is(&args[j], "idletime") && more && freq.is_none() {
            let n = super::int_arg(&args[j + 1])?;
            if n < 0 {
                return Err(Error::Other("Invalid IDLETIME value, must be >= 0".into()));
            }
            idle = Some(n);
            j += 1;
        } else if is(&args[j], "freq") && more && idle.is_none() {
            let n = super::int_arg(&args[j + 1])?;
            if !(0..=255).contains(&n) {
                return Err(Error::Other(
                    "Invalid FREQ value, must be >= 0 and <= 255".into(),
                ));
            }
            freq = Some(n);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if !replace && ctx.exists(key) {
        return Err(Error::Raw("BUSYKEY Target key name already exists.".into()));
    }
    let ttl = super::int_arg(&args[2])?;
    if ttl < 0 {
        return Err(Error::Other("Invalid TTL value, must be >= 0".into()));
    }
    if !rdb::verify_payload(payload) {
        return Err(Error::Other(
            "DUMP payload version or checksum are wrong".into(),
        ));
    }
    let decoded =
        rdb::decode_payload(payload).ok_or_else(|| Error::Other("Bad data format".into()))?;
    let value = crate::convert::from_decoded(decoded, &ctx.store.config)
        .ok_or_else(|| Error::Other("Bad data format".into()))?;
    let deleted = replace && ctx.delete(key);
    let at = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(t.saturating_add(ctx.now_ms as i64)),
    };
    if let Some(at) = at.filter(|&at| at <= ctx.now_ms as i64) {
        // Already expired: nothing is created, an old key is gone.
        if deleted {
            ctx.notify(notify::GENERIC, "del", key);
            ctx.propagate_instead(vec![Bytes::from_static(b"DEL"), key.clone()]);
        } else {
            ctx.propagate_instead(Vec::new());
        }
        let _ = at;
        reply.ok();
        return Ok(());
    }
    ctx.set(key, value, false);
    // As Redis's objectSetLRUOrLFU: IDLETIME counts under an LRU policy,
    // FREQ under an LFU one.
    let lfu = ctx.store.config.lfu;
    let field = match (idle, freq) {
        (Some(idle), _) if !lfu => {
            Some(lru_clock(ctx.now_ms).wrapping_sub(idle.min(i64::from(u32::MAX)) as u32))
        }
        (_, Some(freq)) if lfu => Some((crate::lfu_minutes(ctx.now_ms) << 8) | freq as u32),
        _ => None,
    };
    if let Some(field) = field {
        if let Some(entry) = ctx.db().keys.get_mut(key) {
            entry.value.set_lru(field);
        }
    }
    if let Some(at) = at {
        ctx.set_expire(key, Some(at as u64));
        if !absttl {
            let mut rewritten = args.to_vec();
            rewritten[2] = Bytes::from(at.to_string());
            rewritten.push(Bytes::from_static(b"ABSTTL"));
            ctx.propagate_instead(rewritten);
        }
    }
    ctx.notify(notify::GENERIC, "restore", key);
    reply.ok();
    Ok(())
}
