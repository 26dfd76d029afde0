//! HyperLogLog: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST, in Redis's
//! own representation, so an HLL moves between Shoal and Redis as a plain
//! string (DUMP / RESTORE, RDB, replication).
//!
//! The value is a string: a 16-byte header (`HYLL`, the encoding, three
//! unused bytes, the cached cardinality with its top bit as "stale"), then
//! either 16,384 6-bit registers (dense) or run-length opcodes (sparse:
//! ZERO, XZERO, VAL). The hash is MurmurHash64A with Redis's seed; the
//! estimate is Ertl's improved estimator, as Redis 7.0 computes it.
//!
//! A sparse HLL is decoded into registers, changed, and encoded again in
//! the shortest opcode sequence; past `hll-sparse-max-bytes` it becomes
//! dense. Anything that does not decode to exactly 16,384 registers is
//! reported as corrupt, never trusted.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{spec, CommandSpec};
use crate::error::Result;
use crate::{Ctx, Error, StrEncoding, StrValue, Value};

const P: u32 = 14;
const REGISTERS: usize = 1 << P;
const REGISTER_MAX: u8 = 63;
const HDR: usize = 16;
const DENSE_BYTES: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const SPARSE_VAL_MAX: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2): the estimator's constant for infinitely many registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const WRONG_TYPE: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "pfadd",
        -2,
        "write denyoom fast",
        (1, 1, 1),
        "hyperloglog",
        "Adds the specified elements to the specified HyperLogLog.",
        Some(pfadd),
    ),
    spec(
        "pfcount",
        -2,
        "readonly may_replicate",
        (1, -1, 1),
        "hyperloglog",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        Some(pfcount),
    ),
    spec(
        "pfmerge",
        -2,
        "write denyoom",
        (1, -1, 1),
        "hyperloglog",
        "Merge N different HyperLogLogs into a single one.",
        Some(pfmerge),
    ),
    spec(
        "pfdebug",
        3,
        "write denyoom admin",
        (2, 2, 1),
        "hyperloglog",
        "Internal commands for debugging HyperLogLog values",
        Some(pfdebug),
    ),
    spec(
        "pfselftest",
        1,
        "admin",
        (0, 0, 0),
        "hyperloglog",
        "An internal command for testing HyperLogLog values",
        Some(pfselftest),
    ),
];

/// Redis's `MurmurHash64A`, little-endian, seed 0xadc83b19.
fn murmur64a(key: &[u8]) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h: u64 = 0xadc8_3b19 ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut k = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the run length of zeros (plus
/// one) in the rest of its hash (Redis's `hllPatLen`).
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << (64 - P));
    (index, rest.trailing_zeros() as u8 + 1)
}

/// An HLL's registers, decoded.
type Registers = Vec<u8>;

fn dense_get(data: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, shift) = (HDR + bit / 8, bit % 8);
    let b0 = u16::from(data[byte]);
    let b1 = u16::from(data.get(byte + 1).copied().unwrap_or(0));
    (((b0 | (b1 << 8)) >> shift) & u16::from(REGISTER_MAX)) as u8
}

fn dense_set(data: &mut [u8], i: usize, value: u8) {
    let bit = i * 6;
    let (byte, shift) = (HDR + bit / 8, bit % 8);
    let mask = u16::from(REGISTER_MAX) << shift;
    let v = u16::from(value) << shift;
    data[byte] = (u16::from(data[byte]) & !mask | v) as u8;
    if byte + 1 < data.len() {
        data[byte + 1] = ((u16::from(data[byte + 1]) << 8 & !mask | v) >> 8) as u8;
    }
}

/// Decodes a sparse body into registers; `None` if it does not cover
/// exactly every register.
fn sparse_decode(body: &[u8]) -> Option<Registers> {
    let mut regs = vec![0u8; REGISTERS];
    let mut at = 0usize;
    let mut i = 0;
    while i < body.len() {
        let op = body[i];
        if op & 0xc0 == 0 {
            // ZERO: 00xxxxxx.
            at += usize::from(op & 0x3f) + 1;
            i += 1;
        } else if op & 0xc0 == 0x40 {
            // XZERO: 01xxxxxx xxxxxxxx.
            let next = *body.get(i + 1)?;
            at += ((usize::from(op & 0x3f) << 8) | usize::from(next)) + 1;
            i += 2;
        } else {
            // VAL: 1vvvvvxx.
            let value = ((op >> 2) & 0x1f) + 1;
            let len = usize::from(op & 0x3) + 1;
            if at + len > REGISTERS {
                return None;
            }
            regs[at..at + len].fill(value);
            at += len;
            i += 1;
        }
        if at > REGISTERS {
            return None;
        }
    }
    (at == REGISTERS).then_some(regs)
}

/// The shortest sparse opcodes for `regs` (all values ≤ 32).
fn sparse_encode(regs: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < regs.len() {
        let value = regs[i];
        let run = regs[i..].iter().take_while(|&&r| r == value).count();
        if value == 0 {
            let mut left = run;
            while left > 0 {
                if left > SPARSE_ZERO_MAX_LEN {
                    let len = left.min(SPARSE_XZERO_MAX_LEN);
                    out.push(0x40 | ((len - 1) >> 8) as u8);
                    out.push(((len - 1) & 0xff) as u8);
                    left -= len;
                } else {
                    out.push((left - 1) as u8);
                    left = 0;
                }
            }
        } else {
            let mut left = run;
            while left > 0 {
                let len = left.min(SPARSE_VAL_MAX_LEN);
                out.push(0x80 | ((value - 1) << 2) | (len - 1) as u8);
                left -= len;
            }
        }
        i += run;
    }
}

/// A parsed HLL value.
struct Hll {
    encoding: u8,
    regs: Registers,
    /// The cached cardinality, if it is not stale.
    cached: Option<u64>,
}

/// Checks the header (Redis's `isHLLObjectOrReply`) and decodes.
fn parse(data: &[u8]) -> Result<Hll> {
    if data.len() < HDR || &data[..4] != b"HYLL" || data[4] > SPARSE {
        return Err(Error::Raw(WRONG_TYPE.into()));
    }
    if data[4] == DENSE && data.len() != DENSE_BYTES {
        return Err(Error::Raw(WRONG_TYPE.into()));
    }
    let regs = if data[4] == DENSE {
        (0..REGISTERS).map(|i| dense_get(data, i)).collect()
    } else {
        sparse_decode(&data[HDR..]).ok_or_else(|| Error::Raw(INVALID.into()))?
    };
    let cached = (data[15] & 0x80 == 0)
        .then(|| u64::from_le_bytes(data[8..16].try_into().expect("8 bytes")));
    Ok(Hll {
        encoding: data[4],
        regs,
        cached,
    })
}

/// Encodes `hll` as it should now be stored: sparse while it fits
/// `max_sparse` bytes and no register exceeds the sparse range.
fn encode(hll: &Hll, max_sparse: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HDR + 64);
    out.extend_from_slice(b"HYLL");
    out.extend_from_slice(&[hll.encoding, 0, 0, 0]);
    match hll.cached {
        Some(card) => out.extend_from_slice(&card.to_le_bytes()),
        None => out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]),
    }
    if hll.encoding == SPARSE && hll.regs.iter().all(|&r| r <= SPARSE_VAL_MAX) {
        sparse_encode(&hll.regs, &mut out);
        if out.len() <= max_sparse {
            return out;
        }
    }
    // Dense.
    out.truncate(HDR);
    out[4] = DENSE;
    out.resize(DENSE_BYTES, 0);
    for (i, &r) in hll.regs.iter().enumerate() {
        if r != 0 {
            dense_set(&mut out, i, r);
        }
    }
    out
}

fn empty() -> Hll {
    Hll {
        encoding: SPARSE,
        regs: vec![0; REGISTERS],
        cached: Some(0),
    }
}

/// Ertl's improved estimator, as Redis 7.0's `hllCount`.
fn count(regs: &[u8]) -> u64 {
    let m = REGISTERS as f64;
    let mut histogram = [0u32; 64];
    for &r in regs {
        histogram[usize::from(r)] += 1;
    }
    let q = (64 - P) as usize;
    let mut z = m * tau((m - f64::from(histogram[q + 1])) / m);
    for j in (1..=q).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The HLL at `key` for reading, `None` if missing.
fn read_hll(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Hll>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::Str(s)) => parse(&s.data).map(Some),
        Some(_) => Err(Error::WrongType),
    }
}

/// Stores `hll` at `key` (creating or replacing the string in place).
fn store(ctx: &mut Ctx<'_>, key: &Bytes, hll: &Hll, created: bool) {
    let data = encode(hll, ctx.store.config.hll_sparse_max_bytes);
    if !created {
        if let Some(Value::Str(s)) = ctx.write(key) {
            s.data = data;
            s.encoding = StrEncoding::Raw;
            s.shared = false;
            return;
        }
    }
    let mut value = StrValue::new(data);
    value.encoding = StrEncoding::Raw;
    ctx.set(key, Value::Str(value), true);
}

fn pfadd(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let (mut hll, created) = match read_hll(ctx, key)? {
        Some(h) => (h, false),
        None => (empty(), true),
    };
    let mut updated = false;
    for element in &args[2..] {
        let (i, run) = pattern(element);
        if hll.regs[i] < run {
            hll.regs[i] = run;
            updated = true;
        }
    }
    if updated {
        hll.cached = None;
    }
    let changed = created || updated;
    if changed {
        store(ctx, key, &hll, created);
        ctx.modified(key);
        ctx.notify(crate::notify::STRING, "pfadd", key);
    }
    reply.integer(i64::from(changed));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    if args.len() > 2 {
        // The union, computed apart: nothing is cached.
        let mut union = vec![0u8; REGISTERS];
        for key in &args[1..] {
            if let Some(h) = read_hll(ctx, key)? {
                for (u, r) in union.iter_mut().zip(&h.regs) {
                    *u = (*u).max(*r);
                }
            }
        }
        reply.integer(count(&union) as i64);
        return Ok(());
    }
    let key = &args[1];
    let Some(mut hll) = read_hll(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    if let Some(card) = hll.cached {
        reply.integer(card as i64);
        return Ok(());
    }
    let card = count(&hll.regs);
    hll.cached = Some(card);
    // Redis caches the estimate in the header: a change to the string.
    store(ctx, key, &hll, false);
    ctx.modified(key);
    reply.integer(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let dest = &args[1];
    let mut union = vec![0u8; REGISTERS];
    let mut dense = false;
    for key in &args[1..] {
        if let Some(h) = read_hll(ctx, key)? {
            dense |= h.encoding == DENSE;
            for (u, r) in union.iter_mut().zip(&h.regs) {
                *u = (*u).max(*r);
            }
        }
    }
    let existing = read_hll(ctx, dest)?;
    let created = existing.is_none();
    let encoding = match &existing {
        Some(h) if !dense => h.encoding,
        _ if dense => DENSE,
        _ => SPARSE,
    };
    let hll = Hll {
        encoding,
        regs: union,
        cached: None,
    };
    store(ctx, dest, &hll, created);
    ctx.modified(dest);
    ctx.notify(crate::notify::STRING, "pfadd", dest);
    reply.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let key = &args[2];
    let Some(mut hll) = (match ctx.write(key) {
        None => None,
        Some(Value::Str(s)) => Some(parse(&s.data)?),
        Some(_) => return Err(Error::WrongType),
    }) else {
        return Err(Error::Other("The specified key does not exist".into()));
    };
    match sub.as_str() {
        "getreg" => {
            if hll.encoding == SPARSE {
                hll.encoding = DENSE;
                store(ctx, key, &hll, false);
                ctx.store.dirty += 1;
            }
            reply.array(REGISTERS);
            for &r in &hll.regs {
                reply.integer(i64::from(r));
            }
        }
        "decode" => {
            let Some(Value::Str(s)) = ctx.db().keys.get(key).map(|e| &e.value) else {
                unreachable!("read above")
            };
            if s.data[4] != SPARSE {
                return Err(Error::Other("HLL encoding is not sparse".into()));
            }
            reply.simple(&describe_sparse(&s.data[HDR..]));
        }
        "encoding" => reply.simple(if hll.encoding == SPARSE {
            "sparse"
        } else {
            "dense"
        }),
        "todense" => {
            let converted = hll.encoding == SPARSE;
            if converted {
                hll.encoding = DENSE;
                store(ctx, key, &hll, false);
                ctx.store.dirty += 1;
            }
            reply.integer(i64::from(converted));
        }
        _ => {
            return Err(Error::Other(format!(
                "Unknown PFDEBUG subcommand '{}'",
                String::from_utf8_lossy(&args[1])
            )))
        }
    }
    Ok(())
}

/// PFDEBUG DECODE's text: `Z:len`, `XZ:len`, `v:value,len`.
fn describe_sparse(body: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let op = body[i];
        if op & 0xc0 == 0 {
            parts.push(format!("z:{}", (op & 0x3f) + 1));
            i += 1;
        } else if op & 0xc0 == 0x40 {
            let len =
                ((usize::from(op & 0x3f) << 8) | usize::from(*body.get(i + 1).unwrap_or(&0))) + 1;
            parts.push(format!("Z:{len}"));
            i += 2;
        } else {
            parts.push(format!("v:{},{}", ((op >> 2) & 0x1f) + 1, (op & 3) + 1));
            i += 1;
        }
    }
    parts.join(" ")
}

/// PFSELFTEST: the register encodings round-trip and the estimate's error
/// stays within Redis's bounds on a growing set.
fn pfselftest(_ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, _args: &[Bytes]) -> Result {
    let fail = |what: String| Err(Error::Other(format!("TESTFAILED {what}")));
    // Dense registers: set every register to a pseudo-random value, read back.
    let mut dense = vec![0u8; DENSE_BYTES];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut values = vec![0u8; REGISTERS];
    for (i, v) in values.iter_mut().enumerate() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        *v = ((seed >> 33) % 64) as u8;
        dense_set(&mut dense, i, *v);
    }
    for (i, &v) in values.iter().enumerate() {
        if dense_get(&dense, i) != v {
            return fail(format!("Register error at index {i}"));
        }
    }
    // Sparse and dense give the same estimate at every size.
    let mut hll = empty();
    let mut checkpoint = 10;
    for n in 1..=200_000u64 {
        let (i, run) = pattern(&n.to_le_bytes());
        hll.regs[i] = hll.regs[i].max(run);
        if n == checkpoint {
            checkpoint *= 10;
            let sparse = encode(&hll, usize::MAX);
            let dense = encode(
                &Hll {
                    encoding: DENSE,
                    regs: hll.regs.clone(),
                    cached: None,
                },
                0,
            );
            let (a, b) = (parse(&sparse)?, parse(&dense)?);
            if a.regs != b.regs || count(&a.regs) != count(&b.regs) {
                return fail(format!("Sparse and dense disagree at {n}"));
            }
            // 1.04/sqrt(16384) is 0.8%; Redis allows five standard errors.
            let error = (count(&hll.regs) as f64 - n as f64).abs() / n as f64;
            if n > 100 && error > 5.0 * 1.04 / (REGISTERS as f64).sqrt() {
                return fail(format!("Relative error {error} at cardinality {n}"));
            }
        }
    }
    reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_round_trips_and_rejects_short_bodies() {
        let mut regs = vec![0u8; REGISTERS];
        regs[3] = 5;
        regs[4] = 5;
        regs[100] = 32;
        regs[16383] = 1;
        let mut out = Vec::new();
        sparse_encode(&regs, &mut out);
        assert_eq!(sparse_decode(&out), Some(regs));
        assert_eq!(sparse_decode(&out[..out.len() - 1]), None);
        let mut empty_body = Vec::new();
        sparse_encode(&[0; REGISTERS], &mut empty_body);
        assert_eq!(empty_body, vec![0x7f, 0xff]);
    }

    #[test]
    fn dense_registers_hold_six_bits_each() {
        let mut data = vec![0u8; DENSE_BYTES];
        for i in 0..REGISTERS {
            dense_set(&mut data, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&data, i), (i % 64) as u8);
        }
    }

    #[test]
    fn estimates_are_within_two_percent() {
        let mut regs = vec![0u8; REGISTERS];
        for n in 0..100_000u64 {
            let (i, run) = pattern(n.to_string().as_bytes());
            regs[i] = regs[i].max(run);
        }
        let c = count(&regs) as f64;
        assert!((c - 100_000.0).abs() / 100_000.0 < 0.02, "{c}");
        assert_eq!(count(&[0; REGISTERS]), 0);
    }
}
