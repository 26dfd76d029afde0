//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis; a
//! missing key reads as an endless run of zero bits. Writes grow the string
//! with zero bytes, leave it `raw` (as Redis's in-place edits do) and keep
//! its TTL.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{int_arg, is};
use crate::error::{Error, Result};
use crate::{Ctx, StrEncoding, StrValue, Value};

fn bit_offset_error() -> Error {
    Error::Other("bit offset is not an integer or out of range".into())
}

fn bit_value_error() -> Error {
    Error::Other("bit is not an integer or out of range".into())
}

/// Redis's `getBitOffsetFromArgument`. With `hash_bits`, BITFIELD's
/// `#N` form means `N * bits`. The limit is proto-max-bulk-len in bytes:
/// no bit command may address a byte at or past it (2^32 bits by default).
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash_bits: Option<u32>) -> Result<u64> {
    let (digits, multiplier) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let offset = crate::parse_i64_exact(digits)
        .ok_or_else(bit_offset_error)?
        // Redis multiplies in C and overflow wraps to a negative value,
        // which the range check below rejects; wrapping keeps that.
        .wrapping_mul(multiplier);
    if offset < 0 || (offset >> 3) as u64 >= ctx.store.config.proto_max_bulk_len as u64 {
        return Err(bit_offset_error());
    }
    Ok(offset as u64)
}

/// The string at `key` for reading, or `None`; `WRONGTYPE` for other types.
#[allow(unreachable_patterns)] // Until more value types exist.
fn read_str<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c [u8]>> {
    match ctx.read(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(&s.data)),
        Some(_) => Err(Error::WrongType),
    }
}

/// Redis's `lookupStringForBitCommand`: the string at `key`, created or
/// zero-padded to at least `len` bytes and made `raw`; the TTL stays.
/// Returns the bytes, whether the key was created (creation already
/// counted as a change) and whether it was created or grew (Redis's
/// `dirty`: then a write counts even if it leaves the bits as they were).
#[allow(unreachable_patterns)] // Until more value types exist.
fn string_for_bit_write<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
    len: usize,
) -> Result<(&'c mut Vec<u8>, bool, bool)> {
    let created = match ctx.write(key) {
        None => {
            ctx.set(key, Value::Str(StrValue::raw(vec![0; len])), false);
            true
        }
        Some(Value::Str(_)) => false,
        Some(_) => return Err(Error::WrongType),
    };
    let Some(Value::Str(s)) = ctx.write(key) else {
        unreachable!("the key holds a string: checked or created above")
    };
    let grown = s.data.len() < len;
    if grown {
        s.data.resize(len, 0);
    }
    s.encoding = StrEncoding::Raw;
    Ok((&mut s.data, created, created || grown))
}

fn get_bit(data: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    data.get(byte)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

pub(crate) fn setbit(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let key = &args[1];
    let offset = bit_offset(ctx, &args[2], None)?;
    let on = crate::parse_i64_exact(&args[3]).ok_or_else(bit_value_error)?;
    if on & !1 != 0 {
        return Err(bit_value_error());
    }
    let byte = (offset >> 3) as usize;
    let (data, created, dirty) = string_for_bit_write(ctx, key, byte + 1)?;
    let mask = 0x80u8 >> (offset & 7);
    let old = data[byte] & mask != 0;
    if on == 1 {
        data[byte] |= mask;
    } else {
        data[byte] &= !mask;
    }
    // Redis 7.0 counts SETBIT as a change (WATCH, dirty, the `setbit`
    // event) only if the key was created or grew, or the bit flipped.
    if dirty || old != (on == 1) {
        if !created {
            ctx.modified(key);
        }
        ctx.notify(crate::notify::STRING, "setbit", key);
    }
    reply.integer(i64::from(old));
    Ok(())
}

pub(crate) fn getbit(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let offset = bit_offset(ctx, &args[2], None)?;
    let data = read_str(ctx, &args[1])?.unwrap_or(b"");
    reply.integer(i64::from(get_bit(data, offset)));
    Ok(())
}

/// A range of bits `[first, last]`, both inside the string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BitRange {
    first: u64,
    last: u64,
}

/// Resolves BITCOUNT/BITPOS `start end [BYTE|BIT]` against a string of
/// `len` bytes as Redis does: negative indexes count from the end, then
/// both ends are clamped into the string. `None` when the range is empty.
fn resolve_range(len: usize, start: i64, end: i64, in_bits: bool) -> Option<BitRange> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let mut start = if start < 0 { total + start } else { start };
    let mut end = if end < 0 { total + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (first, last) = if in_bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    };
    Some(BitRange { first, last })
}

/// The `BYTE|BIT` unit argument.
fn unit_is_bit(arg: &[u8]) -> Result<bool> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

/// The bits of the byte holding bit `first`…`last` that lie inside the
/// range, as a mask over that byte.
fn byte_mask(byte: u64, range: BitRange) -> u8 {
    let lo = if range.first >> 3 == byte {
        range.first & 7
    } else {
        0
    };
    let hi = if range.last >> 3 == byte {
        range.last & 7
    } else {
        7
    };
    // Bits lo..=hi counted from the most significant bit.
    (0xffu8 >> lo) & (0xffu8 << (7 - hi))
}

fn popcount(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut count: u64 = chunks
        .by_ref()
        .map(|c| u64::from(u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones()))
        .sum();
    count += chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>();
    count
}

fn count_bits(data: &[u8], range: BitRange) -> u64 {
    let first_byte = range.first >> 3;
    let last_byte = range.last >> 3;
    let mut count = popcount(&data[first_byte as usize..=last_byte as usize]);
    // Take back the bits of the edge bytes that lie outside the range.
    for byte in [first_byte, last_byte] {
        let outside = data[byte as usize] & !byte_mask(byte, range);
        count -= u64::from(outside.count_ones());
        if first_byte == last_byte {
            break;
        }
    }
    count
}

pub(crate) fn bitcount(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    // Redis 7.0 looks the key up before parsing the range: a missing key
    // answers 0 even when the range arguments are bad.
    let Some(data) = read_str(ctx, &args[1])? else {
        reply.integer(0);
        return Ok(());
    };
    let range = match args.len() {
        2 => resolve_range(data.len(), 0, -1, false),
        4 | 5 => {
            let start = int_arg(&args[2])?;
            let end = int_arg(&args[3])?;
            let in_bits = match args.get(4) {
                Some(unit) => unit_is_bit(unit)?,
                None => false,
            };
            if start < 0 && end < 0 && start > end {
                None
            } else {
                resolve_range(data.len(), start, end, in_bits)
            }
        }
        _ => return Err(Error::Syntax),
    };
    let count = range.map_or(0, |r| count_bits(data, r));
    reply.integer(count as i64);
    Ok(())
}

/// The first bit equal to `bit` inside `range`, if any.
fn find_bit(data: &[u8], range: BitRange, bit: bool) -> Option<u64> {
    let first_byte = range.first >> 3;
    let last_byte = range.last >> 3;
    // Looking for ones, skip zero bytes; for zeros, skip 0xff bytes.
    // Bits outside the range are forced to the skip value.
    let skip = if bit { 0x00u8 } else { 0xffu8 };
    for byte in first_byte..=last_byte {
        let mask = byte_mask(byte, range);
        let value = data[byte as usize];
        let value = if bit { value & mask } else { value | !mask };
        if value != skip {
            let wanted = if bit { value } else { !value };
            return Some(byte * 8 + u64::from(wanted.leading_zeros()));
        }
    }
    None
}

pub(crate) fn bitpos(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let bit = int_arg(&args[2])?;
    if bit != 0 && bit != 1 {
        return Err(Error::Other("The bit argument must be 1 or 0.".into()));
    }
    let bit = bit == 1;
    // A missing key is an endless run of zeros (looked up before the
    // range is parsed, as in Redis 7.0).
    let Some(data) = read_str(ctx, &args[1])? else {
        reply.integer(if bit { -1 } else { 0 });
        return Ok(());
    };
    let (range, end_given) = match args.len() {
        3 => (resolve_range(data.len(), 0, -1, false), false),
        4..=6 => {
            let start = int_arg(&args[3])?;
            let in_bits = match args.get(5) {
                Some(unit) => unit_is_bit(unit)?,
                None => false,
            };
            let (end, end_given) = match args.get(4) {
                Some(end) => (int_arg(end)?, true),
                None => (-1, false),
            };
            (resolve_range(data.len(), start, end, in_bits), end_given)
        }
        _ => return Err(Error::Syntax),
    };
    let pos = match range {
        None => -1,
        Some(range) => match find_bit(data, range, bit) {
            Some(pos) => pos as i64,
            // Without an explicit end the string counts as zero-padded on
            // the right, so the first clear bit is just past the range.
            None if !bit && !end_given => range.last as i64 + 1,
            None => -1,
        },
    };
    reply.integer(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

pub(crate) fn bitop(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let op = match &args[1][..] {
        a if is(a, "and") => BitOp::And,
        a if is(a, "or") => BitOp::Or,
        a if is(a, "xor") => BitOp::Xor,
        a if is(a, "not") => BitOp::Not,
        _ => return Err(Error::Syntax),
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(Error::Other(
            "BITOP NOT must be called with a single source key.".into(),
        ));
    }
    let dest = &args[2];
    // Fold the sources one at a time; a missing or shorter source reads as
    // zero bytes, so padding the result with zeros keeps AND/OR/XOR exact.
    let mut result: Vec<u8> = Vec::new();
    for (i, key) in args[3..].iter().enumerate() {
        let src = read_str(ctx, key)?.unwrap_or(b"");
        if i == 0 {
            result = match op {
                BitOp::Not => src.iter().map(|b| !b).collect(),
                _ => src.to_vec(),
            };
            continue;
        }
        if src.len() > result.len() {
            result.resize(src.len(), 0);
        }
        for (j, r) in result.iter_mut().enumerate() {
            let s = src.get(j).copied().unwrap_or(0);
            match op {
                BitOp::And => *r &= s,
                BitOp::Or => *r |= s,
                BitOp::Xor => *r ^= s,
                BitOp::Not => unreachable!("NOT has a single source"),
            }
        }
    }
    let len = result.len();
    if len > 0 {
        ctx.set(dest, Value::Str(StrValue::raw(result)), false);
        ctx.notify(crate::notify::STRING, "set", dest);
    } else if ctx.delete(dest) {
        // Redis's `dbDelete`: no expiry check, so an expired destination
        // is deleted (and announced) rather than expired.
        ctx.notify(crate::notify::GENERIC, "del", dest);
    }
    reply.integer(len as i64);
    Ok(())
}

/// BITFIELD's overflow policy for SET and INCRBY.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One parsed BITFIELD operation.
#[derive(Clone, Copy, Debug)]
struct Field {
    op: FieldOp,
    signed: bool,
    /// 1..=64 for signed, 1..=63 for unsigned.
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i<N>` (N ≤ 64) or `u<N>` (N ≤ 63: a u64 could not be replied as a
/// RESP integer).
fn field_type(arg: &[u8]) -> Result<(bool, u32)> {
    let error = || {
        Error::Other(
            "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
                .into(),
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(error()),
    };
    let bits = crate::parse_i64_exact(&arg[1..]).ok_or_else(error)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(error());
    }
    Ok((signed, bits as u32))
}

fn parse_fields(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Vec<Field>> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 0;
    while i < args.len() {
        let sub = &args[i][..];
        let remaining = args.len() - i - 1;
        let takes_value = if is(sub, "get") && remaining >= 2 {
            false
        } else if (is(sub, "set") || is(sub, "incrby")) && remaining >= 3 {
            true
        } else if is(sub, "overflow") && remaining >= 1 {
            let kind = &args[i + 1][..];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::Other("Invalid OVERFLOW type specified".into()));
            };
            i += 2;
            continue;
        } else {
            return Err(Error::Syntax);
        };
        let (signed, bits) = field_type(&args[i + 1])?;
        let offset = bit_offset(ctx, &args[i + 2], Some(bits))?;
        let op = if !takes_value {
            FieldOp::Get
        } else {
            let value = int_arg(&args[i + 3])?;
            if is(sub, "set") {
                FieldOp::Set(value)
            } else {
                FieldOp::IncrBy(value)
            }
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        i += if takes_value { 4 } else { 3 };
    }
    Ok(fields)
}

/// `bits` bits at bit `offset`, most significant first; bits past the end
/// of `data` read as zero.
fn get_unsigned(data: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |value, j| {
        (value << 1) | u64::from(get_bit(data, offset + j))
    })
}

fn get_signed(data: &[u8], offset: u64, bits: u32) -> i64 {
    let value = get_unsigned(data, offset, bits);
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; `data` must
/// already be long enough.
fn set_unsigned(data: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let on = value & (1 << (u64::from(bits) - 1 - j)) != 0;
        let at = offset + j;
        let mask = 0x80u8 >> (at & 7);
        let byte = &mut data[(at >> 3) as usize];
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: `None` if `value + incr` fits
/// in `bits` unsigned bits, else the value to store under `overflow`
/// (meaningless for FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrapped = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > max_incr) {
        Some(match overflow {
            Overflow::Sat => max,
            _ => wrapped(),
        })
    } else if incr < 0 && incr < min_incr {
        Some(match overflow {
            Overflow::Sat => 0,
            _ => wrapped(),
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let high = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= high;
            } else {
                c &= !high;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        Some(match overflow {
            Overflow::Sat => max,
            _ => wrapped(),
        })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Some(match overflow {
            Overflow::Sat => min,
            _ => wrapped(),
        })
    } else {
        None
    }
}

/// Applies a SET or INCRBY to `data`; the reply value and whether the
/// field's bits changed, or `None` when OVERFLOW FAIL refused the write.
fn apply_write(data: &mut [u8], f: &Field) -> Option<(i64, bool)> {
    let (value, incr, is_set) = match f.op {
        FieldOp::Set(v) => (v, 0, true),
        FieldOp::IncrBy(by) => (0, by, false),
        FieldOp::Get => unreachable!("GET does not write"),
    };
    if f.signed {
        let old = get_signed(data, f.offset, f.bits);
        let base = if is_set { value } else { old };
        let over = signed_overflow(base, incr, f.bits, f.overflow);
        if over.is_some() && f.overflow == Overflow::Fail {
            return None;
        }
        let new = over.unwrap_or_else(|| base.wrapping_add(incr));
        set_unsigned(data, f.offset, f.bits, new as u64);
        Some((if is_set { old } else { new }, old != new))
    } else {
        let old = get_unsigned(data, f.offset, f.bits);
        let base = if is_set { value as u64 } else { old };
        let over = unsigned_overflow(base, incr, f.bits, f.overflow);
        if over.is_some() && f.overflow == Overflow::Fail {
            return None;
        }
        let new = over.unwrap_or_else(|| base.wrapping_add(incr as u64));
        set_unsigned(data, f.offset, f.bits, new);
        // Unsigned fields are at most 63 bits: they fit an i64.
        Some((if is_set { old as i64 } else { new as i64 }, old != new))
    }
}

fn read_field(data: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(data, f.offset, f.bits)
    } else {
        get_unsigned(data, f.offset, f.bits) as i64
    }
}

fn bitfield_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    readonly_command: bool,
) -> Result {
    let key = &args[1];
    let fields = parse_fields(ctx, &args[2..])?;
    let highest_write = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + u64::from(f.bits) - 1)
        .max();
    let Some(highest_write) = highest_write else {
        let data = read_str(ctx, key)?.unwrap_or(b"");
        reply.array(fields.len());
        for f in &fields {
            reply.integer(read_field(data, f));
        }
        return Ok(());
    };
    if readonly_command {
        return Err(Error::Other(
            "BITFIELD_RO only supports the GET subcommand".into(),
        ));
    }
    let (data, created, dirty) = string_for_bit_write(ctx, key, (highest_write >> 3) as usize + 1)?;
    reply.array(fields.len());
    let mut changes = 0u64;
    for f in &fields {
        if f.op == FieldOp::Get {
            reply.integer(read_field(data, f));
            continue;
        }
        // As in Redis 7.0, a write counts as a change if it was applied
        // and either the string was created or grew, or the bits changed.
        match apply_write(data, f) {
            Some((v, changed)) => {
                if dirty || changed {
                    changes += 1;
                }
                reply.integer(v);
            }
            None => reply.null(),
        }
    }
    // Redis adds one to dirty per change; creating the key (or `modified`)
    // counted the first.
    if changes > 0 {
        if !created {
            ctx.modified(key);
        }
        ctx.store.dirty += changes - 1;
        ctx.notify(crate::notify::STRING, "setbit", key);
    }
    Ok(())
}

pub(crate) fn bitfield(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    bitfield_generic(ctx, reply, args, false)
}

pub(crate) fn bitfield_ro(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    bitfield_generic(ctx, reply, args, true)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use shoal_resp::{Protocol, Reply};

    use crate::{execute, lookup_command, Ctx, Store};

    /// Runs each command in order on a fresh store and returns every reply
    /// (errors as `-ERR …\r\n`), concatenated.
    fn run(commands: &[&[&str]]) -> String {
        let mut store = Store::new(1);
        let mut out = Vec::new();
        for cmd in commands {
            let args: Vec<Bytes> = cmd
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            let spec = lookup_command(&args[0]).expect("known command");
            let mut ctx = Ctx::new(&mut store, 0, 1_700_000_000_000, 1);
            let mut reply = Reply::new(&mut out, Protocol::Resp2);
            if let Err(e) = execute(spec, &mut ctx, &mut reply, &args) {
                reply.error(&e.to_string());
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn check(commands: &[&[&str]], expected: &str) {
        assert_eq!(run(commands), expected, "commands: {commands:?}");
    }

    const OFFSET_ERR: &str = "-ERR bit offset is not an integer or out of range\r\n";

    #[test]
    fn setbit_getbit() {
        check(
            &[
                &["SETBIT", "k", "7", "1"],
                &["SETBIT", "k", "7", "0"],
                &["SETBIT", "k", "7", "1"],
                &["GET", "k"],
                &["GETBIT", "k", "7"],
                &["GETBIT", "k", "1000"],
                &["GETBIT", "nokey", "0"],
                &["OBJECT", "ENCODING", "k"],
            ],
            ":0\r\n:1\r\n:0\r\n$1\r\n\x01\r\n:1\r\n:0\r\n:0\r\n$3\r\nraw\r\n",
        );
        // The string grows with zero bytes to hold the bit.
        check(
            &[
                &["SET", "k", "a"],
                &["SETBIT", "k", "23", "1"],
                &["STRLEN", "k"],
            ],
            "+OK\r\n:0\r\n:3\r\n",
        );
        // An int-encoded value is addressed through its decimal text.
        check(
            &[&["SET", "n", "1"], &["GETBIT", "n", "2"]],
            "+OK\r\n:1\r\n",
        );
    }

    #[test]
    fn bit_offsets_and_values() {
        check(&[&["GETBIT", "k", "4294967295"]], ":0\r\n");
        check(&[&["GETBIT", "k", "4294967296"]], OFFSET_ERR);
        check(&[&["SETBIT", "k", "-1", "1"]], OFFSET_ERR);
        check(&[&["SETBIT", "k", "x", "1"]], OFFSET_ERR);
        check(&[&["SETBIT", "k", "+1", "1"]], OFFSET_ERR);
        let bit_err = "-ERR bit is not an integer or out of range\r\n";
        check(&[&["SETBIT", "k", "1", "2"]], bit_err);
        check(&[&["SETBIT", "k", "1", "-1"]], bit_err);
        check(&[&["SETBIT", "k", "1", "x"]], bit_err);
        check(
            &[&["SETBIT", "k"]],
            "-ERR wrong number of arguments for 'setbit' command\r\n",
        );
    }

    #[test]
    fn setbit_respects_proto_max_bulk_len() {
        let mut store = Store::new(1);
        store.config.proto_max_bulk_len = 4;
        let mut ctx = Ctx::new(&mut store, 0, 0, 1);
        let mut out = Vec::new();
        let mut reply = Reply::new(&mut out, Protocol::Resp2);
        let args = |o: &str| {
            vec![
                Bytes::from("setbit"),
                Bytes::from("k"),
                Bytes::copy_from_slice(o.as_bytes()),
                Bytes::from("1"),
            ]
        };
        let spec = lookup_command(b"setbit").unwrap();
        assert!(execute(spec, &mut ctx, &mut reply, &args("31")).is_ok());
        let err = execute(spec, &mut ctx, &mut reply, &args("32")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ERR bit offset is not an integer or out of range"
        );
        assert_eq!(out, b":0\r\n");
    }

    #[test]
    fn setbit_keeps_ttl() {
        check(
            &[
                &["SET", "k", "v", "EX", "100"],
                &["SETBIT", "k", "1", "1"],
                &["TTL", "k"],
                &["BITFIELD", "k", "SET", "u8", "0", "1"],
                &["TTL", "k"],
            ],
            "+OK\r\n:1\r\n:100\r\n*1\r\n:118\r\n:100\r\n",
        );
    }

    #[test]
    fn bitcount_ranges() {
        let set: &[&str] = &["SET", "s", "foobar"];
        check(&[set, &["BITCOUNT", "s"]], "+OK\r\n:26\r\n");
        check(&[set, &["BITCOUNT", "s", "0", "0"]], "+OK\r\n:4\r\n");
        check(&[set, &["BITCOUNT", "s", "1", "1"]], "+OK\r\n:6\r\n");
        check(&[set, &["BITCOUNT", "s", "1", "-1"]], "+OK\r\n:22\r\n");
        check(&[set, &["BITCOUNT", "s", "-30", "-20"]], "+OK\r\n:4\r\n");
        check(&[set, &["BITCOUNT", "s", "-5", "-20"]], "+OK\r\n:0\r\n");
        check(
            &[set, &["BITCOUNT", "s", "5", "30", "BIT"]],
            "+OK\r\n:17\r\n",
        );
        check(
            &[set, &["BITCOUNT", "s", "5", "30", "byte"]],
            "+OK\r\n:4\r\n",
        );
        check(&[set, &["BITCOUNT", "s", "1", "5", "bit"]], "+OK\r\n:3\r\n");
        check(
            &[set, &["BITCOUNT", "s", "5", "30", "foo"]],
            "+OK\r\n-ERR syntax error\r\n",
        );
        check(
            &[set, &["BITCOUNT", "s", "5"]],
            "+OK\r\n-ERR syntax error\r\n",
        );
        check(
            &[set, &["BITCOUNT", "s", "a", "b"]],
            "+OK\r\n-ERR value is not an integer or out of range\r\n",
        );
        // Redis 7.0 looks the key up first: bad ranges on a missing key give 0.
        check(&[&["BITCOUNT", "nokey", "a", "b"]], ":0\r\n");
        check(
            &[&["SET", "e", ""], &["BITCOUNT", "e", "0", "-1"]],
            "+OK\r\n:0\r\n",
        );
    }

    #[test]
    fn bitpos_ranges() {
        let set: &[&str] = &["SET", "f", "\u{7f}\u{7f}\u{7f}"];
        check(&[set, &["BITPOS", "f", "0"]], "+OK\r\n:0\r\n");
        check(&[set, &["BITPOS", "f", "1"]], "+OK\r\n:1\r\n");
        check(&[set, &["BITPOS", "f", "1", "1"]], "+OK\r\n:9\r\n");
        check(
            &[set, &["BITPOS", "f", "0", "1", "-1", "bit"]],
            "+OK\r\n:8\r\n",
        );
        check(&[set, &["BITPOS", "f", "1", "-20", "-30"]], "+OK\r\n:1\r\n");
        check(&[set, &["BITPOS", "f", "1", "100"]], "+OK\r\n:-1\r\n");
        let ff: &[&str] = &["BITFIELD", "ff", "SET", "u8", "0", "255"];
        let set_ff = "*1\r\n:0\r\n";
        // Zero-padded on the right unless an end is given.
        check(&[ff, &["BITPOS", "ff", "0"]], &format!("{set_ff}:8\r\n"));
        check(
            &[ff, &["BITPOS", "ff", "0", "0"]],
            &format!("{set_ff}:8\r\n"),
        );
        check(
            &[ff, &["BITPOS", "ff", "0", "0", "-1"]],
            &format!("{set_ff}:-1\r\n"),
        );
        check(
            &[ff, &["BITPOS", "ff", "0", "1", "-1", "bit"]],
            &format!("{set_ff}:-1\r\n"),
        );
        check(
            &[ff, &["BITPOS", "ff", "1", "2", "4", "bit"]],
            &format!("{set_ff}:2\r\n"),
        );
        check(&[&["BITPOS", "nokey", "0"]], ":0\r\n");
        check(&[&["BITPOS", "nokey", "1", "x"]], ":-1\r\n");
        check(
            &[&["SET", "e", ""], &["BITPOS", "e", "0"]],
            "+OK\r\n:-1\r\n",
        );
        check(
            &[&["BITPOS", "k", "2"]],
            "-ERR The bit argument must be 1 or 0.\r\n",
        );
        check(
            &[&["BITPOS", "k", "x"]],
            "-ERR value is not an integer or out of range\r\n",
        );
        check(
            &[set, &["BITPOS", "f", "1", "0", "1", "bits"]],
            "+OK\r\n-ERR syntax error\r\n",
        );
    }

    #[test]
    fn bitop() {
        let setup: [&[&str]; 2] = [&["SET", "a", "foobar"], &["SET", "b", "abc"]];
        let run_op = |cmd: &[&str], expected: &str| {
            let mut cmds = setup.to_vec();
            cmds.push(cmd);
            cmds.push(&["GET", "d"]);
            check(&cmds, &format!("+OK\r\n+OK\r\n{expected}"));
        };
        run_op(
            &["BITOP", "AND", "d", "a", "b"],
            ":6\r\n$6\r\n`bc\0\0\0\r\n",
        );
        run_op(
            &["BITOP", "or", "d", "a", "b", "nokey"],
            ":6\r\n$6\r\ngoobar\r\n",
        );
        run_op(
            &["BITOP", "XOR", "d", "a", "b"],
            ":6\r\n$6\r\n\x07\r\x0cbar\r\n",
        );
        run_op(
            &["BITOP", "NOT", "d", "b"],
            ":3\r\n$3\r\n\u{9e}\u{9d}\u{9c}\r\n"
                .replace(['\u{9e}', '\u{9d}', '\u{9c}'], "\u{FFFD}")
                .as_str(),
        );
        run_op(
            &["BITOP", "NOT", "d", "a", "b"],
            "-ERR BITOP NOT must be called with a single source key.\r\n$-1\r\n",
        );
        run_op(&["BITOP", "NAND", "d", "a"], "-ERR syntax error\r\n$-1\r\n");
        // An empty result deletes the destination.
        check(
            &[
                &["SET", "d", "x"],
                &["BITOP", "AND", "d", "nokey"],
                &["EXISTS", "d"],
            ],
            "+OK\r\n:0\r\n:0\r\n",
        );
        check(
            &[
                &["SET", "d", "x", "EX", "10"],
                &["BITOP", "OR", "d", "d"],
                &["TTL", "d"],
                &["OBJECT", "ENCODING", "d"],
            ],
            "+OK\r\n:1\r\n:-1\r\n$3\r\nraw\r\n",
        );
    }

    #[test]
    fn bitfield_ops_and_overflow() {
        check(
            &[&[
                "BITFIELD", "k", "SET", "i8", "0", "100", "INCRBY", "i8", "0", "100", "GET", "u4",
                "0",
            ]],
            "*3\r\n:0\r\n:-56\r\n:12\r\n",
        );
        check(
            &[&[
                "BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "200", "INCRBY", "u8",
                "8", "300", "INCRBY", "i8", "0", "-300",
            ]],
            "*3\r\n:127\r\n:255\r\n:-128\r\n",
        );
        check(
            &[&[
                "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "200", "SET", "u2", "16",
                "7", "SET", "u2", "16", "3", "GET", "u2", "16",
            ]],
            "*4\r\n$-1\r\n$-1\r\n:0\r\n:3\r\n",
        );
        check(
            &[&[
                "BITFIELD", "k", "SET", "u2", "0", "7", "GET", "u2", "0", "SET", "i64", "8", "-1",
                "GET", "u63", "8",
            ]],
            "*4\r\n:0\r\n:3\r\n:0\r\n:9223372036854775807\r\n",
        );
        check(
            &[&[
                "BITFIELD",
                "k",
                "SET",
                "i64",
                "0",
                "-9223372036854775808",
                "INCRBY",
                "i64",
                "0",
                "-1",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807",
            ]],
            "*4\r\n:0\r\n:9223372036854775807\r\n:9223372036854775807\r\n:9223372036854775807\r\n",
        );
        check(
            &[&[
                "BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "SET", "i8", "0",
                "-1000", "GET", "i8", "0",
            ]],
            "*3\r\n:0\r\n:-1\r\n:-128\r\n",
        );
        // `#N` offsets count in units of the field width.
        check(
            &[&[
                "BITFIELD", "k", "SET", "u8", "#2", "200", "GET", "u8", "16", "GET", "u4", "#5",
            ]],
            "*3\r\n:0\r\n:200\r\n:8\r\n",
        );
        check(&[&["BITFIELD", "k"]], "*0\r\n");
        check(
            &[&["BITFIELD", "k", "GET", "i8", "0"], &["EXISTS", "k"]],
            "*1\r\n:0\r\n:0\r\n",
        );
        // A refused write still creates the (zero-filled) key, as in Redis.
        check(
            &[
                &["BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u1", "15", "2"],
                &["STRLEN", "k"],
            ],
            "*1\r\n$-1\r\n:2\r\n",
        );
    }

    #[test]
    fn bitfield_errors() {
        let type_err = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
        for t in ["u64", "i65", "u0", "x8", "i", "", "i-1"] {
            check(&[&["BITFIELD", "k", "GET", t, "0"]], type_err);
        }
        check(&[&["BITFIELD", "k", "GET", "u8", "-1"]], OFFSET_ERR);
        check(&[&["BITFIELD", "k", "GET", "u8", "#-1"]], OFFSET_ERR);
        check(&[&["BITFIELD", "k", "GET", "u8", "4294967296"]], OFFSET_ERR);
        check(
            &[&["BITFIELD", "k", "GET", "u8", "#9223372036854775807"]],
            OFFSET_ERR,
        );
        check(
            &[&["BITFIELD", "k", "OVERFLOW", "foo"]],
            "-ERR Invalid OVERFLOW type specified\r\n",
        );
        check(&[&["BITFIELD", "k", "GET", "u8"]], "-ERR syntax error\r\n");
        check(&[&["BITFIELD", "k", "FOO"]], "-ERR syntax error\r\n");
        check(
            &[&["BITFIELD", "k", "SET", "u8", "0", "x"]],
            "-ERR value is not an integer or out of range\r\n",
        );
        let ro_err = "-ERR BITFIELD_RO only supports the GET subcommand\r\n";
        check(&[&["BITFIELD_RO", "k", "SET", "u8", "0", "1"]], ro_err);
        check(&[&["BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"]], ro_err);
        check(
            &[
                &["SET", "k", "A"],
                &["BITFIELD_RO", "k", "GET", "u8", "0", "OVERFLOW", "WRAP"],
            ],
            "+OK\r\n*1\r\n:65\r\n",
        );
    }
}
