//! Value types and their Redis-visible encodings.

use crate::types::{Hash, List, Set, Stream, ZSet};

/// A value in the keyspace. Each collection type lives in its own module
/// under `types/`; this enum only dispatches what every type answers
/// (TYPE, OBJECT ENCODING, the access clock).
///
/// **Invariant:** `Value` is 32 bytes, so an [`Entry`](crate::Entry) stays
/// in jemalloc's 48-byte class: a collection's payload is at most 24 bytes
/// (a pointer or a small inline encoding) and its clock sits beside it.
#[derive(Debug, Clone)]
pub enum Value {
    Str(StrValue),
    List(Coll<List>),
    Hash(Coll<Hash>),
    Set(Coll<Set>),
    ZSet(Coll<ZSet>),
    Stream(Coll<Stream>),
}

/// A collection and its access clock ([`lru_clock`] seconds).
#[derive(Debug, Clone, Default)]
pub struct Coll<T> {
    pub data: T,
    pub lru: u32,
}

impl<T> Coll<T> {
    pub fn new(data: T) -> Coll<T> {
        Coll { data, lru: 0 }
    }
}

impl<T> std::ops::Deref for Coll<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> std::ops::DerefMut for Coll<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Slots of the hash table behind a `hashtable` or `skiplist` value
    /// (DEBUG HTSTATS-KEY); `None` for strings, lists and compact
    /// encodings.
    pub fn table_slots(&self) -> Option<usize> {
        match self {
            Value::Str(_) | Value::List(_) | Value::Stream(_) => None,
            Value::Hash(h) => h.table().map(|d| d.slot_count()),
            Value::Set(s) => s.table_slots(),
            Value::ZSet(z) => z.table_slots(),
        }
    }

    /// When the value was last read or written ([`lru_clock`] seconds).
    pub fn lru(&self) -> u32 {
        match self {
            Value::Str(s) => s.lru,
            Value::List(c) => c.lru,
            Value::Hash(c) => c.lru,
            Value::Set(c) => c.lru,
            Value::ZSet(c) => c.lru,
            Value::Stream(c) => c.lru,
        }
    }

    pub fn set_lru(&mut self, clock: u32) {
        match self {
            Value::Str(s) => s.lru = clock,
            Value::List(c) => c.lru = clock,
            Value::Hash(c) => c.lru = clock,
            Value::Set(c) => c.lru = clock,
            Value::ZSet(c) => c.lru = clock,
            Value::Stream(c) => c.lru = clock,
        }
    }

    /// Makes this a fresh object, as Redis's COPY duplicates one: a copy of
    /// a shared integer is its own object.
    pub fn unshare(&mut self) {
        match self {
            Value::Str(s) => s.shared = false,
            Value::List(_) | Value::Hash(_) | Value::Set(_) | Value::ZSet(_) | Value::Stream(_) => {
            }
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(s) => match s.encoding {
                StrEncoding::Int => "int",
                StrEncoding::Embstr => "embstr",
                StrEncoding::Raw => "raw",
            },
            Value::List(c) => c.encoding_name(),
            Value::Hash(c) => c.encoding_name(),
            Value::Set(c) => c.encoding_name(),
            Value::ZSet(c) => c.encoding_name(),
            Value::Stream(c) => c.encoding_name(),
        }
    }
}

/// The access clock OBJECT IDLETIME counts in: whole seconds, wrapping
/// (Redis's `LRU_CLOCK` is coarse the same way).
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// Seconds since `lru`, allowing for the clock's wrap-around.
pub fn idle_seconds(lru: u32, now_ms: u64) -> u64 {
    u64::from(lru_clock(now_ms).wrapping_sub(lru))
}

/// How Redis would hold this string; only `OBJECT ENCODING` shows it, but
/// clients and Redis's own tests look at it, so it follows Redis's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrEncoding {
    /// A canonical integer that fits an `i64` (at most 20 bytes).
    Int,
    /// At most 44 bytes, stored with its object header in Redis.
    Embstr,
    Raw,
}

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
const EMBSTR_LEN_MAX_BYTES: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub struct StrValue {
    pub data: Vec<u8>,
    pub encoding: StrEncoding,
    /// Last access, in [`lru_clock`] seconds. It sits in padding the
    /// struct has anyway, so tracking it costs no memory per key.
    pub lru: u32,
    /// Whether Redis would hold this value as one of its shared integer
    /// objects (0..10000, refcount `OBJ_SHARED_REFCOUNT` in OBJECT
    /// REFCOUNT). A COPY is never shared. Also sits in padding.
    pub shared: bool,
}

/// Redis's `OBJ_SHARED_INTEGERS`: the integers it keeps one object for.
pub const SHARED_INTEGERS: i64 = 10_000;

fn is_shared_int(data: &[u8]) -> bool {
    data.len() <= 5 && parse_i64_exact(data).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n))
}

impl StrValue {
    /// A string as SET stores it: `int` if it is a canonical integer, else
    /// `embstr` or `raw` by length.
    pub fn new(data: Vec<u8>) -> StrValue {
        let encoding = if data.len() <= 20 && parse_i64_exact(&data).is_some() {
            StrEncoding::Int
        } else if data.len() <= EMBSTR_LEN_MAX_BYTES {
            StrEncoding::Embstr
        } else {
            StrEncoding::Raw
        };
        let shared = encoding == StrEncoding::Int && is_shared_int(&data);
        StrValue {
            data,
            encoding,
            lru: 0,
            shared,
        }
    }

    /// A string modified in place (APPEND, SETRANGE, SETBIT): always `raw`.
    pub fn raw(data: Vec<u8>) -> StrValue {
        StrValue {
            data,
            encoding: StrEncoding::Raw,
            lru: 0,
            shared: false,
        }
    }

    pub fn from_int(n: i64) -> StrValue {
        let mut buf = itoa::Buffer::new();
        StrValue {
            data: buf.format(n).as_bytes().to_vec(),
            encoding: StrEncoding::Int,
            lru: 0,
            shared: (0..SHARED_INTEGERS).contains(&n),
        }
    }
}

/// Redis's `string2ll`: a canonical decimal `i64` (no `+`, no leading
/// zeros, no spaces).
pub fn parse_i64_exact(s: &[u8]) -> Option<i64> {
    // The same rule the protocol uses for lengths.
    shoal_resp::parse_redis_int(s)
}

/// Redis's `strtold`-based float parsing for commands (`INCRBYFLOAT`,
/// scores): no leading/trailing space, no NaN; `inf` and `-inf` allowed.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let magnitude = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        // Decimal forms: Rust and strtod agree, except that Rust also takes
        // "nan" (refused below) and neither takes trailing garbage.
        if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        let value = body.parse::<f64>().ok()?;
        // strtod reports overflow and underflow to zero as ERANGE, and
        // Redis refuses those: only a literal `inf` is infinite.
        let mantissa = lower.split('e').next().unwrap_or("");
        let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
        if value.is_infinite() || (value == 0.0 && nonzero) {
            return None;
        }
        value
    };
    let value = if negative { -magnitude } else { magnitude };
    (!value.is_nan()).then_some(value)
}

/// The part of a C hex float after `0x`: hex digits with an optional
/// point, then an optional binary exponent `p[+-]digits`.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (digits, exponent) = match text.split_once('p') {
        Some((d, e)) => (d, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut mantissa = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        mantissa = mantissa * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exponent.checked_sub(4 * frac_part.len() as i32)?;
    Some(mantissa * 2f64.powi(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StrValue::new(b"123".to_vec()).encoding, StrEncoding::Int);
        assert_eq!(
            StrValue::new(b"0123".to_vec()).encoding,
            StrEncoding::Embstr
        );
        assert_eq!(StrValue::new(vec![b'a'; 44]).encoding, StrEncoding::Embstr);
        assert_eq!(StrValue::new(vec![b'a'; 45]).encoding, StrEncoding::Raw);
        assert_eq!(
            StrValue::new(b"-9223372036854775808".to_vec()).encoding,
            StrEncoding::Int
        );
        assert_eq!(
            StrValue::new(b"9223372036854775808".to_vec()).encoding,
            StrEncoding::Embstr
        );
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b"0e-400"), Some(0.0));
        assert_eq!(parse_f64(b"-0X1.8p1"), Some(-3.0));
        assert_eq!(parse_f64(b"0x"), None);
        assert_eq!(parse_f64(b"--1"), None);
        assert_eq!(parse_f64(b"+-inf"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b"."), None);
    }
}
