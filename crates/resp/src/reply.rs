//! Reply encoding straight into an output buffer, in the client's protocol.

/// The protocol a connection speaks, chosen with `HELLO 2|3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Writes replies into `out`. RESP3-only types fall back to their RESP2
/// forms exactly as Redis 7.0 does: maps become flat arrays, sets arrays,
/// doubles bulk strings, booleans integers, nulls `$-1` / `*-1`.
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    protocol: Protocol,
}

impl<'a> Reply<'a> {
    pub fn new(out: &'a mut Vec<u8>, protocol: Protocol) -> Self {
        Reply { out, protocol }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn is_resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    /// Bytes written to the buffer so far (for output-buffer accounting).
    pub fn buffered_bytes(&self) -> usize {
        self.out.len()
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// `+text`. The text must not contain `\r` or `\n`.
    pub fn simple(&mut self, text: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// `-message`, where the message starts with its code (`ERR …`,
    /// `WRONGTYPE …`). As Redis does, newlines at either end are trimmed
    /// and those inside become spaces, so an error can never break framing.
    pub fn error(&mut self, message: &str) {
        self.out.push(b'-');
        let message = message.trim_matches(['\r', '\n']);
        self.out.extend(
            message
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    /// [`Reply::error`] for a message that quotes raw client bytes (which
    /// Redis echoes as they came, not as UTF-8).
    pub fn error_bytes(&mut self, message: &[u8]) {
        self.out.push(b'-');
        let start = message
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(message.len());
        let end = message
            .iter()
            .rposition(|b| !matches!(b, b'\r' | b'\n'))
            .map_or(start, |i| i + 1);
        self.out.extend(message[start..end].iter().map(|&b| {
            if b == b'\r' || b == b'\n' {
                b' '
            } else {
                b
            }
        }));
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn integer(&mut self, value: i64) {
        self.header(b':', value);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (`GET` of a number).
    pub fn bulk_integer(&mut self, value: i64) {
        let mut buf = itoa::Buffer::new();
        self.bulk(buf.format(value).as_bytes());
    }

    /// The null reply for a missing value (`$-1` in RESP2).
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null reply for a missing aggregate (`*-1` in RESP2).
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` key/value pairs (a flat array of `2 * len` in RESP2).
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', 2 * len as i64),
            Protocol::Resp3 => self.header(b'%', len as i64),
        }
    }

    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'~', len as i64),
        }
    }

    /// An out-of-band push message (pub/sub); an array in RESP2.
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'>', len as i64),
        }
    }

    /// A double formatted as Redis 7.0's `%.17g` (`inf`, `-inf`).
    pub fn double(&mut self, value: f64) {
        let mut text = DoubleText::new();
        text.format(value);
        match self.protocol {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    pub fn boolean(&mut self, value: bool) {
        match self.protocol {
            Protocol::Resp2 => self.integer(i64::from(value)),
            Protocol::Resp3 => {
                self.out
                    .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" })
            }
        }
    }

    /// Verbatim text (`=len\r\ntxt:…` in RESP3, a bulk string in RESP2).
    /// `format` is three characters, such as `txt`.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', (text.len() + 4) as i64);
                self.out.extend_from_slice(format.as_bytes());
                self.out.push(b':');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A big number (`(digits` in RESP3, a bulk string in RESP2).
    pub fn big_number(&mut self, digits: &str) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(digits.as_bytes()),
            Protocol::Resp3 => {
                self.out.push(b'(');
                self.out.extend_from_slice(digits.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A HELP reply: one simple string per line.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for line in lines {
            self.simple(line);
        }
    }

    /// Appends bytes that are already a complete RESP encoding.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.out.extend_from_slice(encoded);
    }

    fn header(&mut self, kind: u8, value: i64) {
        let mut buf = itoa::Buffer::new();
        self.out.push(kind);
        self.out.extend_from_slice(buf.format(value).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Formats a double as C's `%.17g`, which Redis 7.0 uses for scores and
/// RESP3 doubles: 17 significant digits, trailing zeros removed, exponent
/// form below 1e-4 and from 1e17, and `inf` / `-inf` / `nan`.
pub fn format_double(value: f64) -> String {
    let mut buf = DoubleText::new();
    buf.format(value);
    String::from_utf8(buf.as_bytes().to_vec()).expect("ASCII")
}

/// `%.17g` text built on the stack: the longest is
/// "-1.2345678901234567e-308" (24 bytes).
pub struct DoubleText {
    buf: [u8; 40],
    len: usize,
}

impl Default for DoubleText {
    fn default() -> Self {
        DoubleText::new()
    }
}

impl std::fmt::Write for DoubleText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let room = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl DoubleText {
    pub fn new() -> DoubleText {
        DoubleText {
            buf: [0; 40],
            len: 0,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn extend(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Replaces the contents with `value` as C's `%.17g`.
    pub fn format(&mut self, value: f64) {
        use std::fmt::Write;
        self.len = 0;
        if value.is_nan() {
            return self.extend(b"nan");
        }
        if value.is_infinite() {
            return self.extend(if value > 0.0 { b"inf" } else { b"-inf" });
        }
        // Integers below 10^17 print as themselves (the common case for
        // scores): no float formatting at all.
        if value == value.trunc() && value.abs() < 1e17 {
            if value == 0.0 && value.is_sign_negative() {
                return self.extend(b"-0");
            }
            let mut digits = itoa::Buffer::new();
            return self.extend(digits.format(value as i64).as_bytes());
        }
        const PRECISION: i32 = 17;
        // `{:.16e}` rounds correctly to 17 significant digits:
        // "[-]d.dddddddddddddddde[-]x".
        let mut sci = DoubleText::new();
        write!(sci, "{value:.16e}").expect("fits");
        let sci = sci.as_bytes();
        let e_at = sci.iter().position(|&b| b == b'e').expect("exponent form");
        let exponent: i32 = std::str::from_utf8(&sci[e_at + 1..])
            .ok()
            .and_then(|t| t.parse().ok())
            .expect("integer exponent");
        let negative = sci[0] == b'-';
        let mut digits = [0u8; 17];
        let mut n = 0;
        for &b in &sci[..e_at] {
            if b.is_ascii_digit() && n < digits.len() {
                digits[n] = b;
                n += 1;
            }
        }
        let digits = &digits[..n];
        let trim = |d: &[u8]| -> usize { d.iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1) };
        if negative {
            self.push(b'-');
        }
        if (-4..PRECISION).contains(&exponent) {
            if exponent >= 0 {
                let split = exponent as usize + 1;
                self.extend(&digits[..split]);
                let fraction = &digits[split..];
                let keep = trim(fraction);
                if keep > 0 {
                    self.push(b'.');
                    self.extend(&fraction[..keep]);
                }
            } else {
                self.extend(b"0.");
                for _ in 0..(-exponent - 1) {
                    self.push(b'0');
                }
                let keep = trim(digits);
                self.extend(&digits[..keep]);
            }
        } else {
            self.push(digits[0]);
            let fraction = &digits[1..];
            let keep = trim(fraction);
            if keep > 0 {
                self.push(b'.');
                self.extend(&fraction[..keep]);
            }
            self.push(b'e');
            self.push(if exponent < 0 { b'-' } else { b'+' });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                self.push(b'0');
            }
            let mut m = itoa::Buffer::new();
            self.extend(m.format(magnitude).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_17g() {
        for (v, want) in [
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (1.5, "1.5"),
            (3.0, "3"),
            (-2.25, "-2.25"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456789.123, "123456789.123"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (-123.0, "-123"),
            (99999999999999999.0, "1e+17"),
            (0.30000000000000004, "0.30000000000000004"),
            (-1.2345678901234567e-308, "-1.2345678901234567e-308"),
            (123456.75, "123456.75"),
        ] {
            assert_eq!(format_double(v), want, "{v:e}");
        }
    }

    /// The first, allocating implementation, kept as the oracle.
    fn reference_17g(value: f64) -> String {
        if value.is_nan() {
            return "nan".to_string();
        }
        if value.is_infinite() {
            return if value > 0.0 { "inf" } else { "-inf" }.to_string();
        }
        const PRECISION: i32 = 17;
        // `{:.16e}` rounds correctly to 17 significant digits: "d.dddde[-]x".
        let sci = format!("{:.16e}", value);
        let (mantissa, exponent) = sci.split_once('e').expect("exponent form");
        let exponent: i32 = exponent.parse().expect("integer exponent");
        let negative = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let mut out = String::with_capacity(24);
        if negative {
            out.push('-');
        }
        if (-4..PRECISION).contains(&exponent) {
            if exponent >= 0 {
                let split = exponent as usize + 1;
                out.push_str(&digits[..split]);
                let fraction = digits[split..].trim_end_matches('0');
                if !fraction.is_empty() {
                    out.push('.');
                    out.push_str(fraction);
                }
            } else {
                out.push_str("0.");
                for _ in 0..(-exponent - 1) {
                    out.push('0');
                }
                out.push_str(digits.trim_end_matches('0'));
            }
        } else {
            out.push_str(&digits[..1]);
            let fraction = digits[1..].trim_end_matches('0');
            if !fraction.is_empty() {
                out.push('.');
                out.push_str(fraction);
            }
            out.push('e');
            out.push(if exponent < 0 { '-' } else { '+' });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                out.push('0');
            }
            out.push_str(&magnitude.to_string());
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn matches_the_reference(bits in proptest::prelude::any::<u64>(), small in -1e6f64..1e6) {
            for v in [f64::from_bits(bits), small, small.trunc(), small / 7.0] {
                proptest::prop_assert_eq!(format_double(v), reference_17g(v));
            }
        }
    }

    fn encode(protocol: Protocol, f: impl FnOnce(&mut Reply<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Reply::new(&mut out, protocol));
        out
    }

    #[test]
    fn resp2_fallbacks() {
        use Protocol::*;
        assert_eq!(encode(Resp2, |r| r.null()), b"$-1\r\n");
        assert_eq!(encode(Resp2, |r| r.null_array()), b"*-1\r\n");
        assert_eq!(encode(Resp2, |r| r.map(2)), b"*4\r\n");
        assert_eq!(encode(Resp2, |r| r.double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(encode(Resp2, |r| r.boolean(true)), b":1\r\n");
        assert_eq!(encode(Resp3, |r| r.map(2)), b"%2\r\n");
        assert_eq!(encode(Resp3, |r| r.double(1.5)), b",1.5\r\n");
        assert_eq!(encode(Resp3, |r| r.boolean(false)), b"#f\r\n");
        assert_eq!(
            encode(Resp3, |r| r.verbatim("txt", b"hi")),
            b"=6\r\ntxt:hi\r\n"
        );
        assert_eq!(encode(Resp3, |r| r.set(1)), b"~1\r\n");
        assert_eq!(encode(Resp3, |r| r.push(3)), b">3\r\n");
        assert_eq!(encode(Resp2, |r| r.error("ERR a\r\nb")), b"-ERR a  b\r\n");
        assert_eq!(encode(Resp2, |r| r.error("ERR opt \n")), b"-ERR opt \r\n");
    }
}
