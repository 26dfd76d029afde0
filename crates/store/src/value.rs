//! Value types and their Redis-visible encodings.

/// A value in the keyspace. More types join as their commands land.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(StrValue),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// When the value was last read or written ([`lru_clock`] seconds).
    pub fn lru(&self) -> u32 {
        match self {
            Value::Str(s) => s.lru,
        }
    }

    pub fn set_lru(&mut self, clock: u32) {
        match self {
            Value::Str(s) => s.lru = clock,
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
        StrValue {
            data,
            encoding,
            lru: 0,
        }
    }

    /// A string modified in place (APPEND, SETRANGE, SETBIT): always `raw`.
    pub fn raw(data: Vec<u8>) -> StrValue {
        StrValue {
            data,
            encoding: StrEncoding::Raw,
            lru: 0,
        }
    }

    pub fn from_int(n: i64) -> StrValue {
        let mut buf = itoa::Buffer::new();
        StrValue {
            data: buf.format(n).as_bytes().to_vec(),
            encoding: StrEncoding::Int,
            lru: 0,
        }
    }
}

/// Redis's `string2ll`: a canonical decimal `i64` (no `+`, no leading
/// zeros, no spaces).
pub fn parse_i64_exact(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        (value <= i64::MAX as u64 + 1).then(|| (value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Redis's `strtold`-based float parsing for commands (`INCRBYFLOAT`,
/// scores): no leading/trailing space, no NaN; `inf` and `-inf` allowed.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty()
        || text.starts_with(|c: char| c.is_ascii_whitespace())
        || text.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let value = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => {
            // Rust accepts forms strtod rejects ("1e", "."), and rejects
            // some strtod accepts (hex floats); decimal forms agree.
            if lower.contains(['n', 'x']) {
                return None;
            }
            text.parse::<f64>().ok()?
        }
    };
    (!value.is_nan()).then_some(value)
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
    }
}
