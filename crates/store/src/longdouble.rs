//! Redis's `long double` on x86-64: the x87 extended format, a 64-bit
//! significand and a 15-bit exponent.
//!
//! INCRBYFLOAT and HINCRBYFLOAT parse their operands with `strtold`, add
//! in `long double` and print the sum with `%.17Lf`, trailing zeros cut.
//! The extra 11 bits of significand are what make `0.1 + 0.2` print as
//! `0.3` there, where `f64` gives `0.30000000000000004`. Rust has no such
//! type, so this is the same arithmetic done exactly on big integers:
//! parsing rounds correctly (as glibc's `strtold`), addition rounds to
//! nearest with ties to even, and formatting is the exact decimal
//! expansion rounded at the 17th place, ties to even (as glibc's printf).
//!
//! A value is `mant × 2^exp`; a nonzero `mant` has its top bit set unless
//! `exp` is at its minimum (a subnormal).

use num_bigint::BigUint;

/// Significand bits.
const MANT_BITS: i64 = 64;
/// The exponent of the last significand bit of the smallest subnormal,
/// 2^-16445.
const EXP_MIN: i64 = -16382 - 63;
/// The exponent of the last significand bit of the largest finite value,
/// (2^64 - 1) × 2^16320.
const EXP_MAX: i64 = 16383 - 63;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer text is not a valid float.
const TEXT_MAX: usize = 5 * 1024;

/// A finite x87 extended-precision value, or an infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    mant: u64,
    exp: i64,
    infinite: bool,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble {
        negative: false,
        mant: 0,
        exp: 0,
        infinite: false,
    };

    fn infinity(negative: bool) -> LongDouble {
        LongDouble {
            negative,
            mant: 0,
            exp: 0,
            infinite: true,
        }
    }

    fn zero(negative: bool) -> LongDouble {
        LongDouble {
            negative,
            ..LongDouble::ZERO
        }
    }

    pub fn is_finite(&self) -> bool {
        !self.infinite
    }

    /// Redis's `string2ld`: the whole text must be what `strtold` reads,
    /// without leading space; NaN, and a finite text that overflows or
    /// underflows to zero (`ERANGE`), are refused. `inf` is accepted.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= TEXT_MAX || text[0].is_ascii_whitespace() {
            return None;
        }
        // C's isspace also has \v, which Rust's ASCII whitespace lacks.
        if text[0] == 0x0b {
            return None;
        }
        let (negative, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::infinity(negative));
        }
        let value = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(negative, &body[2..])?
        } else {
            parse_decimal(negative, body)?
        };
        // ERANGE on overflow; the parsers refuse underflow to zero.
        value.is_finite().then_some(value)
    }

    /// The sum, rounded to nearest (ties to even); an infinity or NaN
    /// (inf - inf) is `None`.
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        if self.infinite || other.infinite {
            return None;
        }
        if self.mant == 0 && other.mant == 0 {
            // -0 + -0 is -0; any other pair of zeros is +0.
            return Some(LongDouble::zero(self.negative && other.negative));
        }
        let exp = self.exp.min(other.exp);
        let a = BigUint::from(self.mant) << (self.exp - exp) as usize;
        let b = BigUint::from(other.mant) << (other.exp - exp) as usize;
        let (negative, sum) = if self.negative == other.negative {
            (self.negative, a + b)
        } else if a >= b {
            (self.negative, a - b)
        } else {
            (other.negative, b - a)
        };
        if sum.bits() == 0 {
            // x + (-x) is +0 when rounding to nearest.
            return Some(LongDouble::ZERO);
        }
        let value = round(negative, &sum, exp);
        value.is_finite().then_some(value)
    }

    /// `%.17Lf` with trailing zeros (and a bare point) cut and `-0` as `0`:
    /// Redis's `ld2string(…, LD_STR_HUMAN)`.
    pub fn to_human_string(self) -> String {
        debug_assert!(self.is_finite());
        const PLACES: u32 = 17;
        let (int_part, frac_part) = if self.exp >= 0 {
            let int = BigUint::from(self.mant) << self.exp as usize;
            (int.to_string(), String::new())
        } else {
            // mant / 2^k = mant × 5^k / 10^k: scaled is the value × 10^k.
            let k = (-self.exp) as u32;
            let scaled = BigUint::from(self.mant) * BigUint::from(5u8).pow(k);
            let at_places = if k <= PLACES {
                scaled * BigUint::from(10u8).pow(PLACES - k)
            } else {
                let divisor = BigUint::from(10u8).pow(k - PLACES);
                let (q, r) = (&scaled / &divisor, &scaled % &divisor);
                let twice: BigUint = r << 1usize;
                if twice > divisor || (twice == divisor && q.bit(0)) {
                    q + 1u8
                } else {
                    q
                }
            };
            let unit = BigUint::from(10u8).pow(PLACES);
            let frac = format!("{:0>17}", (&at_places % &unit).to_string());
            (
                (&at_places / &unit).to_string(),
                frac.trim_end_matches('0').to_string(),
            )
        };
        let mut text = String::with_capacity(int_part.len() + frac_part.len() + 2);
        if self.negative && !(int_part == "0" && frac_part.is_empty()) {
            text.push('-');
        }
        text.push_str(&int_part);
        if !frac_part.is_empty() {
            text.push('.');
            text.push_str(&frac_part);
        }
        text
    }
}

/// `n × 2^exp`, rounded to the extended format: to nearest, ties to even,
/// with fewer significand bits below the normal range, and infinity past
/// the largest finite value.
fn round(negative: bool, n: &BigUint, exp: i64) -> LongDouble {
    let bits = n.bits() as i64;
    if bits == 0 {
        return LongDouble::zero(negative);
    }
    // The low bits to drop: to 64 significant bits, or fewer where the
    // exponent would fall below the minimum.
    let shift = (bits - MANT_BITS).max(EXP_MIN - exp);
    let (mut mant, mut exp) = if shift <= 0 {
        let mant = (n << (-shift) as usize)
            .iter_u64_digits()
            .next()
            .unwrap_or(0);
        (mant, exp + shift)
    } else if shift > bits {
        // Below half the smallest subnormal.
        return LongDouble::zero(negative);
    } else {
        let shift_bits = shift as usize;
        let q: BigUint = n >> shift_bits;
        let rest = n - (&q << shift_bits);
        let half = BigUint::from(1u8) << (shift_bits - 1);
        let q = q.iter_u64_digits().next().unwrap_or(0);
        let up = rest > half || (rest == half && q & 1 == 1);
        match (up, q.checked_add(1)) {
            (false, _) => (q, exp + shift),
            (true, Some(q)) => (q, exp + shift),
            // The increment carried out of 64 bits.
            (true, None) => (1 << 63, exp + shift + 1),
        }
    };
    if mant == 0 {
        return LongDouble::zero(negative);
    }
    if mant.leading_zeros() > 0 && exp > EXP_MIN {
        // Only a subnormal keeps a short significand.
        let lz = i64::from(mant.leading_zeros()).min(exp - EXP_MIN);
        mant <<= lz;
        exp -= lz;
    }
    if exp > EXP_MAX {
        return LongDouble::infinity(negative);
    }
    LongDouble {
        negative,
        mant,
        exp,
        infinite: false,
    }
}

/// A decimal exponent's digits, saturating far beyond any that matters.
fn exponent_value(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0i64, |acc, d| {
        (acc * 10 + i64::from(d - b'0')).min(1_000_000_000)
    }))
}

/// An optional `[eE][+-]digits` (or `[pP]` for hex) suffix.
fn split_exponent(text: &[u8], marker: u8) -> Option<(&[u8], i64)> {
    match text.iter().position(|&c| c | 0x20 == marker) {
        None => Some((text, 0)),
        Some(at) => {
            let (sign, digits) = match text.get(at + 1) {
                Some(b'-') => (-1, &text[at + 2..]),
                Some(b'+') => (1, &text[at + 2..]),
                _ => (1, &text[at + 1..]),
            };
            Some((&text[..at], sign * exponent_value(digits)?))
        }
    }
}

/// `digits[.digits]`, at least one digit: the digits without the point and
/// how many came after it.
fn split_point(text: &[u8], radix_digit: fn(&u8) -> bool) -> Option<(Vec<u8>, i64)> {
    let (int, frac) = match text.iter().position(|&c| c == b'.') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, &text[..0]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.iter().all(radix_digit) || !frac.iter().all(radix_digit) {
        return None;
    }
    let mut digits = Vec::with_capacity(int.len() + frac.len());
    digits.extend_from_slice(int);
    digits.extend_from_slice(frac);
    Some((digits, frac.len() as i64))
}

fn parse_decimal(negative: bool, body: &[u8]) -> Option<LongDouble> {
    let (mantissa, exp10) = split_exponent(body, b'e')?;
    let (digits, frac_len) = split_point(mantissa, u8::is_ascii_digit)?;
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(first) => &digits[first..],
        None => return Some(LongDouble::zero(negative)),
    };
    // The value is significant × 10^scale.
    let scale = exp10 - frac_len;
    // The decimal exponent of the leading digit bounds the magnitude:
    // 10^4933 overflows, and below 10^-4951 is under half the smallest
    // subnormal (about 1.8e-4951), which rounds to zero.
    let leading = scale + significant.len() as i64 - 1;
    if leading >= 4933 {
        return Some(LongDouble::infinity(negative));
    }
    if leading < -4952 {
        return None;
    }
    let n = BigUint::parse_bytes(significant, 10)?;
    if scale >= 0 {
        let n = n * BigUint::from(10u8).pow(scale as u32);
        return Some(round(negative, &n, 0));
    }
    // n / 10^k: enough quotient bits that the rounding position and a
    // guard bit lie inside it; the remainder becomes a sticky bit below.
    let divisor = BigUint::from(10u8).pow((-scale) as u32);
    let extra = (MANT_BITS + 3 + divisor.bits() as i64 - n.bits() as i64).max(0);
    let (q, r) = {
        let shifted: BigUint = &n << extra as usize;
        (&shifted / &divisor, shifted % &divisor)
    };
    let sticky = u8::from(r.bits() > 0);
    let n = (q << 1usize) + sticky;
    nonzero(round(negative, &n, -extra - 1))
}

/// A nonzero text that rounded to zero: strtold's underflow `ERANGE`.
fn nonzero(value: LongDouble) -> Option<LongDouble> {
    (value.mant != 0 || !value.is_finite()).then_some(value)
}

fn parse_hex(negative: bool, body: &[u8]) -> Option<LongDouble> {
    let (mantissa, exp2) = split_exponent(body, b'p')?;
    let (digits, frac_len) = split_point(mantissa, u8::is_ascii_hexdigit)?;
    let n = BigUint::parse_bytes(&digits, 16)?;
    if n.bits() == 0 {
        return Some(LongDouble::zero(negative));
    }
    let exp = exp2 - 4 * frac_len;
    // Far outside the range either way: skip the huge shifts.
    let top = exp + n.bits() as i64;
    if top > EXP_MAX + MANT_BITS + 1 {
        return Some(LongDouble::infinity(negative));
    }
    if top < EXP_MIN - 1 {
        return None;
    }
    nonzero(round(negative, &n, exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        let a = LongDouble::parse(a.as_bytes())?;
        let b = LongDouble::parse(b.as_bytes())?;
        a.checked_add(b).map(|v| v.to_human_string())
    }

    fn human(text: &str) -> String {
        LongDouble::parse(text.as_bytes())
            .expect("valid")
            .to_human_string()
    }

    #[test]
    fn short_decimals_add_as_redis_prints_them() {
        assert_eq!(sum("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(sum("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(sum("1", "-1.1").as_deref(), Some("-0.1"));
        assert_eq!(sum("3.0e3", "200").as_deref(), Some("3200"));
        assert_eq!(sum("5.0e3", "-2.0e3").as_deref(), Some("3000"));
        assert_eq!(sum("17179869184", "1.5").as_deref(), Some("17179869185.5"));
        assert_eq!(sum("0", "-0").as_deref(), Some("0"));
        assert_eq!(sum("-0", "-0").as_deref(), Some("0"));
    }

    #[test]
    fn printing_keeps_seventeen_places_with_ties_to_even() {
        // 2^-18 = 0.000003814697265625: the 18th place is a tie.
        assert_eq!(human("0x1p-18"), "0.00000381469726562");
        // 3 × 2^-18: ...11444091796875 rounds up at the 17th place.
        assert_eq!(human("0x3p-18"), "0.00001144409179688");
        assert_eq!(human("1e-18"), "0");
        assert_eq!(human("-1e-18"), "0");
        assert_eq!(human("1e20"), "100000000000000000000");
        // 30 digits do not fit 64 bits: Redis prints the rounded value.
        assert_eq!(
            human("123456789012345678901234567890"),
            "123456789012345678899921813504"
        );
    }

    #[test]
    fn parsing_follows_string2ld() {
        for bad in [
            "", " 1", "1 ", "\x0b1", "nan", "-nan", "1e", "1e+", ".", "e5", "0x", "1.2.3",
            "1\x002", "++1",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        // ERANGE: overflow, and underflow to zero.
        assert_eq!(LongDouble::parse(b"1e5000"), None);
        assert_eq!(LongDouble::parse(b"1e-5000"), None);
        assert_eq!(LongDouble::parse(b"0x1p16384"), None);
        // Within the extended range, beyond f64's.
        assert!(LongDouble::parse(b"1e400").is_some());
        assert!(LongDouble::parse(b"1e-4940").is_some());
        assert!(LongDouble::parse(b"0e-99999").is_some());
        assert!(!LongDouble::parse(b"-Infinity").unwrap().is_finite());
        assert_eq!(sum("inf", "1"), None);
        assert_eq!(human("+.5"), "0.5");
        assert_eq!(human("5."), "5");
        assert_eq!(human("0x1.8p1"), "3");
    }

    #[test]
    fn integers_are_exact_to_sixty_four_bits() {
        assert_eq!(human("9223372036854775807"), "9223372036854775807");
        assert_eq!(
            sum("18446744073709551615", "0").as_deref(),
            Some("18446744073709551615")
        );
        // 2^64 + 1 needs 65 bits: ties to even gives 2^64.
        assert_eq!(human("18446744073709551617"), "18446744073709551616");
    }

    #[test]
    fn the_largest_value_is_finite_and_one_more_ulp_overflows() {
        let max = LongDouble {
            negative: false,
            mant: u64::MAX,
            exp: EXP_MAX,
            infinite: false,
        };
        let ulp = LongDouble {
            negative: false,
            mant: 1 << 63,
            exp: EXP_MAX - 63,
            infinite: false,
        };
        assert_eq!(max.checked_add(ulp), None);
        assert!(max.to_human_string().starts_with("11897314953572317650"));
    }
}
