//! Incremental request parsing: multibulk (`*N\r\n$len\r\n…`) and inline
//! (telnet-style) commands, with Redis's limits and error strings.

use bytes::{Bytes, BytesMut};

/// One command: its name and arguments, each a slice of the input buffer.
pub type Command = Vec<Bytes>;

/// Bounds on what a client may send, with Redis's defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: 512 MiB, Redis's default; a larger declared
    /// bulk is a protocol error, so no client can make us buffer more for
    /// one argument.
    pub bulk_len_max_bytes: usize,
    /// Redis's `PROTO_INLINE_MAX_SIZE`: an inline line, or a length header
    /// without its `\r`, may not exceed 64 KiB.
    pub inline_len_max_bytes: usize,
    /// Before AUTH, Redis accepts at most 10 arguments and 16 KiB bulks, so
    /// an unauthenticated client cannot make the server allocate much.
    pub unauthenticated: bool,
}

/// Redis rejects a multibulk count above `INT_MAX`.
const MULTIBULK_LEN_MAX: i64 = i32::MAX as i64;
/// Pre-allocate at most this many argument slots for a declared count, so a
/// client declaring two billion arguments gets no two-billion-slot vector.
const ARGS_PREALLOC_MAX: usize = 1024;
const UNAUTH_MULTIBULK_LEN_MAX: i64 = 10;
const UNAUTH_BULK_LEN_MAX_BYTES: i64 = 16 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bulk_len_max_bytes: 512 * 1024 * 1024,
            inline_len_max_bytes: 64 * 1024,
            unauthenticated: false,
        }
    }
}

/// A malformed request. The connection must reply `-ERR <message>` and close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    TooBigMultibulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The error text exactly as Redis 7.0 sends it (after `-ERR `).
    pub fn message(&self) -> String {
        let what = match self {
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length".to_string(),
            ProtocolError::InvalidBulkLength => "invalid bulk length".to_string(),
            ProtocolError::ExpectedDollar(got) => format!("expected '$', got '{}'", *got as char),
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string".to_string(),
            ProtocolError::TooBigBulkCount => "too big bulk count string".to_string(),
            ProtocolError::TooBigInline => "too big inline request".to_string(),
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request".to_string(),
            ProtocolError::UnauthenticatedMultibulkLength => {
                "unauthenticated multibulk length".to_string()
            }
            ProtocolError::UnauthenticatedBulkLength => "unauthenticated bulk length".to_string(),
        };
        format!("Protocol error: {what}")
    }
}

/// Why [`RequestParser::parse`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Every complete command was taken; what is left is a partial frame.
    Pending,
    /// `max_commands` were taken; more may be complete in the buffer.
    Full,
    /// The input is malformed from here on. Commands taken before the bad
    /// frame are valid and should run first, as Redis runs them.
    Error(ProtocolError),
}

/// Span-table entries a parser keeps room for between batches.
const SPANS_KEEP_MAX: usize = 4096;

/// Turns a growing buffer into commands.
///
/// **Invariant:** the parser's position only moves forward within the
/// unconsumed part of the buffer, and consumed bytes are split off the
/// front, so each byte is examined once however the input is fragmented.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    /// Offset of the next unexamined byte, from the buffer's start.
    pos: usize,
    /// Arguments still expected by the multibulk in progress; 0 between commands.
    remaining: usize,
    /// The declared length of the bulk whose header has been read.
    bulk_len: Option<usize>,
    /// Argument spans for this batch: complete commands, then the partial one.
    spans: Vec<(usize, usize)>,
    /// For each complete command in this batch, where its spans end.
    command_ends: Vec<usize>,
    /// Where the complete commands of this batch end in the buffer.
    consumed: usize,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            pos: 0,
            remaining: 0,
            bulk_len: None,
            spans: Vec::new(),
            command_ends: Vec::new(),
            consumed: 0,
        }
    }

    pub fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// Bytes still needed to finish the bulk argument being read, if known.
    /// A reader can use it to grow its buffer once for a large value.
    pub fn bulk_bytes_needed(&self, buffered: usize) -> Option<usize> {
        self.bulk_len
            .map(|len| (self.pos + len + 2).saturating_sub(buffered))
    }

    /// Takes up to `max_commands` complete commands from the front of
    /// `input` into `out`, removing their bytes from `input`.
    pub fn parse(
        &mut self,
        input: &mut BytesMut,
        out: &mut Vec<Command>,
        max_commands: usize,
    ) -> Parsed {
        let mut taken = 0;
        let result = loop {
            if taken >= max_commands {
                break Parsed::Full;
            }
            if self.remaining == 0 {
                let Some(&first) = input.get(self.pos) else {
                    break Parsed::Pending;
                };
                if first != b'*' {
                    // Inline commands own their bytes (quotes are unescaped),
                    // so the batch so far is handed out first to keep order.
                    self.flush(input, out);
                    match self.parse_inline(input) {
                        Ok(Some(args)) => {
                            if !args.is_empty() {
                                out.push(args);
                                taken += 1;
                            }
                            continue;
                        }
                        Ok(None) => break Parsed::Pending,
                        Err(e) => break Parsed::Error(e),
                    }
                }
                match self.read_header(input, b'*') {
                    Ok(None) => break Parsed::Pending,
                    Ok(Some(count)) => {
                        if count > MULTIBULK_LEN_MAX {
                            break Parsed::Error(ProtocolError::InvalidMultibulkLength);
                        }
                        if count > UNAUTH_MULTIBULK_LEN_MAX && self.limits.unauthenticated {
                            break Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength);
                        }
                        if count <= 0 {
                            // `*0` and `*-1` are empty requests: skipped, as Redis does.
                            self.consumed = self.pos;
                            continue;
                        }
                        self.remaining = count as usize;
                        self.spans.reserve(self.remaining.min(ARGS_PREALLOC_MAX));
                    }
                    Err(ParseHeaderError::Malformed) => {
                        break Parsed::Error(ProtocolError::InvalidMultibulkLength)
                    }
                    Err(ParseHeaderError::TooLong) => {
                        break Parsed::Error(ProtocolError::TooBigMultibulkCount)
                    }
                    Err(ParseHeaderError::Expected(_)) => unreachable!("checked first byte"),
                }
            }
            match self.read_bulks(input) {
                Ok(true) => {
                    self.command_ends.push(self.spans.len());
                    self.consumed = self.pos;
                    taken += 1;
                }
                Ok(false) => break Parsed::Pending,
                Err(e) => break Parsed::Error(e),
            }
        };
        self.flush(input, out);
        result
    }

    /// Reads bulk arguments of the multibulk in progress; true when complete.
    fn read_bulks(&mut self, input: &BytesMut) -> Result<bool, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let len = match self.read_header(input, b'$') {
                        Ok(None) => return Ok(false),
                        Ok(Some(len)) => len,
                        Err(ParseHeaderError::Expected(got)) => {
                            return Err(ProtocolError::ExpectedDollar(got))
                        }
                        Err(ParseHeaderError::Malformed) => {
                            return Err(ProtocolError::InvalidBulkLength)
                        }
                        Err(ParseHeaderError::TooLong) => {
                            return Err(ProtocolError::TooBigBulkCount)
                        }
                    };
                    if len < 0 || len as u64 > self.limits.bulk_len_max_bytes as u64 {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if len > UNAUTH_BULK_LEN_MAX_BYTES && self.limits.unauthenticated {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            // Like Redis, the two bytes after the payload are skipped, not checked.
            if input.len() - self.pos < len + 2 {
                return Ok(false);
            }
            self.spans.push((self.pos, self.pos + len));
            self.pos += len + 2;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        Ok(true)
    }

    /// Reads `<prefix><integer>\r\n` at `pos`. `Ok(None)` means incomplete.
    fn read_header(
        &mut self,
        input: &BytesMut,
        prefix: u8,
    ) -> Result<Option<i64>, ParseHeaderError> {
        let rest = &input[self.pos..];
        let Some(cr) = memchr(b'\r', rest) else {
            if rest.len() > self.limits.inline_len_max_bytes {
                return Err(ParseHeaderError::TooLong);
            }
            return Ok(None);
        };
        // Redis wants one more byte (the `\n`) before it parses the line.
        if cr + 1 >= rest.len() {
            return Ok(None);
        }
        if rest[0] != prefix {
            return Err(ParseHeaderError::Expected(rest[0]));
        }
        let value = parse_redis_int(&rest[1..cr]).ok_or(ParseHeaderError::Malformed)?;
        self.pos += cr + 2;
        Ok(Some(value))
    }

    fn parse_inline(&mut self, input: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        let Some(newline) = memchr(b'\n', &input[self.pos..]) else {
            if input.len() - self.pos > self.limits.inline_len_max_bytes {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(None);
        };
        let mut line = &input[self.pos..self.pos + newline];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
        self.pos += newline + 1;
        self.consumed = self.pos;
        Ok(Some(args.into_iter().map(Bytes::from).collect()))
    }

    /// Splits the complete commands off the buffer and hands them out.
    fn flush(&mut self, input: &mut BytesMut, out: &mut Vec<Command>) {
        if self.consumed == 0 {
            return;
        }
        let chunk = input.split_to(self.consumed).freeze();
        let mut start = 0;
        for &end in &self.command_ends {
            out.push(
                self.spans[start..end]
                    .iter()
                    .map(|&(a, b)| chunk.slice(a..b))
                    .collect(),
            );
            start = end;
        }
        // Spans of the partial command move with the buffer's new start.
        let consumed = self.consumed;
        self.spans.drain(..start);
        for span in &mut self.spans {
            span.0 -= consumed;
            span.1 -= consumed;
        }
        self.command_ends.clear();
        self.pos -= consumed;
        self.consumed = 0;
        // A command with a huge argument count is done: do not keep its
        // span table for the connection's lifetime.
        if self.spans.capacity() > SPANS_KEEP_MAX && self.spans.len() < SPANS_KEEP_MAX / 4 {
            self.spans.shrink_to(SPANS_KEEP_MAX / 4);
        }
    }
}

enum ParseHeaderError {
    Malformed,
    TooLong,
    Expected(u8),
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Redis's `string2ll`: optional `-`, digits, no leading zeros, no `+`,
/// no spaces, no overflow.
pub fn parse_redis_int(s: &[u8]) -> Option<i64> {
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
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Splits an inline line into arguments with Redis's `sdssplitargs` rules:
/// whitespace separates, `"…"` understands `\xHH`, `\n`, `\r`, `\t`, `\b`,
/// `\a` and `\<c>`, `'…'` understands only `\'`, and a closing quote must
/// be followed by whitespace or the end. `None` means unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let c = *line.get(i)?;
                if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        current.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < line.len() {
                    current.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    i = close_quote(line, i)?;
                    break;
                } else {
                    current.push(c);
                    i += 1;
                }
            } else if in_single {
                let c = *line.get(i)?;
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    current.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    i = close_quote(line, i)?;
                    break;
                } else {
                    current.push(c);
                    i += 1;
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(&c) if is_space(c) => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => current.push(c),
                }
                i += 1;
            }
        }
        args.push(current);
    }
}

/// C's `isspace`, which `sdssplitargs` splits on.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Past the closing quote at `i`, which must end the token (whitespace or
/// the end of the line must follow), as `sdssplitargs` requires.
fn close_quote(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i + 1) {
        Some(&next) if !is_space(next) => None,
        _ => Some(i + 1),
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> (Vec<Vec<Vec<u8>>>, Parsed) {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut last = Parsed::Pending;
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            last = parser.parse(&mut buf, &mut out, usize::MAX);
            if matches!(last, Parsed::Error(_)) {
                break;
            }
        }
        let cmds = out
            .into_iter()
            .map(|c| c.into_iter().map(|a| a.to_vec()).collect())
            .collect();
        (cmds, last)
    }

    #[test]
    fn a_huge_command_does_not_leave_its_span_table_behind() {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"*100001\r\n$4\r\nSADD\r\n");
        for _ in 0..100_000 {
            buf.extend_from_slice(b"$1\r\nx\r\n");
        }
        let mut out = Vec::new();
        parser.parse(&mut buf, &mut out, usize::MAX);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 100_001);
        assert!(parser.spans.capacity() <= SPANS_KEEP_MAX);
    }

    fn v(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_inline_in_one_buffer() {
        let (cmds, r) = parse_all(&[b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\n"]);
        assert_eq!(cmds, vec![v(&["GET", "k"]), v(&["PING"]), v(&["PING"])]);
        assert_eq!(r, Parsed::Pending);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_commands() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nECHO \"a\\x41\"\r\n*0\r\n*-1\r\n*1\r\n$0\r\n\r\n";
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        let (cmds, r) = parse_all(&chunks);
        assert_eq!(
            cmds,
            vec![v(&["SET", "k", "hello"]), v(&["ECHO", "aA"]), v(&[""])]
        );
        assert_eq!(r, Parsed::Pending);
    }

    #[test]
    fn errors_match_redis() {
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"*x\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*01\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*2147483648\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*1\r\n*1\r\n", ProtocolError::ExpectedDollar(b'*')),
            (b"*1\r\n$-1\r\n", ProtocolError::InvalidBulkLength),
            (b"*1\r\n$536870913\r\n", ProtocolError::InvalidBulkLength),
            (b"set a \"b\r\n", ProtocolError::UnbalancedQuotes),
            (b"set a \"b\"c\r\n", ProtocolError::UnbalancedQuotes),
        ];
        for (input, want) in cases {
            let (_, r) = parse_all(&[input]);
            assert_eq!(
                r,
                Parsed::Error(want.clone()),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            ProtocolError::ExpectedDollar(b'*').message(),
            "Protocol error: expected '$', got '*'"
        );
    }

    #[test]
    fn too_big_inline_and_headers() {
        let long = vec![b'a'; 64 * 1024 + 1];
        assert_eq!(
            parse_all(&[&long]).1,
            Parsed::Error(ProtocolError::TooBigInline)
        );
        let mut header = b"*".to_vec();
        header.extend(vec![b'1'; 64 * 1024 + 1]);
        assert_eq!(
            parse_all(&[&header]).1,
            Parsed::Error(ProtocolError::TooBigMultibulkCount)
        );
        // Exactly at the limit is still waiting for more.
        let at_limit = vec![b'a'; 64 * 1024];
        assert_eq!(parse_all(&[&at_limit]).1, Parsed::Pending);
    }

    #[test]
    fn commands_before_an_error_are_kept() {
        let (cmds, r) = parse_all(&[b"*1\r\n$4\r\nPING\r\n*x\r\n"]);
        assert_eq!(cmds, vec![v(&["PING"])]);
        assert_eq!(r, Parsed::Error(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn unauthenticated_limits() {
        let mut parser = RequestParser::new(Limits {
            unauthenticated: true,
            ..Limits::default()
        });
        let mut out = Vec::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &mut out, usize::MAX),
            Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength)
        );
        let mut parser = RequestParser::new(Limits {
            unauthenticated: true,
            ..Limits::default()
        });
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &mut out, usize::MAX),
            Parsed::Error(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn max_commands_stops_early_and_resumes() {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf =
            BytesMut::from(&b"PING\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"[..]);
        let mut out = Vec::new();
        assert_eq!(parser.parse(&mut buf, &mut out, 3), Parsed::Full);
        assert_eq!(out.len(), 3);
        assert_eq!(parser.parse(&mut buf, &mut out, 3), Parsed::Pending);
        assert_eq!(out.len(), 4);
        assert!(buf.is_empty());
    }

    #[test]
    fn split_args_rules() {
        assert_eq!(split_args(b"  a  b\tc ").unwrap(), v(&["a", "b", "c"]));
        assert_eq!(split_args(b"\"a b\" 'c d'").unwrap(), v(&["a b", "c d"]));
        assert_eq!(split_args(b"a\"b c\"").unwrap(), v(&["ab c"]));
        assert_eq!(split_args(b"'it\\'s'").unwrap(), v(&["it's"]));
        assert_eq!(
            split_args(b"\"\\n\\x4G\"").unwrap(),
            vec![b"\nx4G".to_vec()]
        );
        assert!(split_args(b"'abc").is_none());
        assert_eq!(split_args(b"").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn redis_int_rules() {
        for (s, want) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("01", None),
            ("-0", None),
            ("+1", None),
            ("", None),
            ("1 ", None),
        ] {
            assert_eq!(parse_redis_int(s.as_bytes()), want, "{s}");
        }
    }

    proptest::proptest! {
        /// However the input is cut into reads, the commands are the same.
        #[test]
        fn fragmentation_does_not_matter(
            cmds in proptest::collection::vec(proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..20), 1..5), 1..10),
            cuts in proptest::collection::vec(1usize..30, 1..50),
        ) {
            let mut wire = Vec::new();
            for c in &cmds {
                wire.extend(format!("*{}\r\n", c.len()).as_bytes());
                for a in c {
                    wire.extend(format!("${}\r\n", a.len()).as_bytes());
                    wire.extend(a);
                    wire.extend(b"\r\n");
                }
            }
            let mut chunks = Vec::new();
            let mut rest: &[u8] = &wire;
            for cut in cuts.iter().cycle() {
                if rest.is_empty() { break; }
                let n = (*cut).min(rest.len());
                chunks.push(&rest[..n]);
                rest = &rest[n..];
            }
            let (got, r) = parse_all(&chunks);
            proptest::prop_assert_eq!(r, Parsed::Pending);
            proptest::prop_assert_eq!(got, cmds);
        }
    }
}
