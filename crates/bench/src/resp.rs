//! The load generator's own RESP: a request encoder and a reply scanner.
//!
//! This is deliberately not `shoal-resp`. A server must parse every request
//! into owned frames it can execute; a load generator only needs to know
//! where each reply ends, what type it has, and (for `--verify`) where a bulk
//! payload lies. So the scanner never allocates and never builds a frame: it
//! walks the bytes, returns the reply's kind and length, and the caller
//! skips that many bytes.

use std::ops::Range;

/// Deepest aggregate nesting the scanner follows. Real replies nest two or
/// three levels (XREAD, CLUSTER SLOTS); anything deeper is a desync, and the
/// bound keeps the scanner's pending-count stack on the stack.
pub(crate) const MAX_NESTING_DEPTH: usize = 32;

/// Largest bulk payload accepted, Redis's own `proto-max-bulk-len` default.
/// A larger length header means the stream is corrupt.
pub(crate) const MAX_BULK_LEN_BYTES: i64 = 512 * 1024 * 1024;

/// Largest aggregate element count accepted; like the bulk bound, a larger
/// header is treated as corruption rather than a reason to wait for more.
pub(crate) const MAX_AGGREGATE_LEN: i64 = 1 << 32;

/// What the top-level reply was, as far as the generator cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    /// `+…`: the payload range (without `+` and CRLF).
    Status(Range<usize>),
    /// `-…` or RESP3 `!…`: the message range.
    Error(Range<usize>),
    /// `:…`, `,…`, `#…`, `(…`: a scalar that is neither nil nor an error.
    Scalar,
    /// `$…` / `=…` with a payload: the payload range.
    Bulk(Range<usize>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    /// `*`, `%`, `~`: an aggregate, skipped whole.
    Aggregate,
    /// RESP3 `>`: out-of-band data that answers no request.
    Push,
}

/// Outcome of scanning the front of a read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The buffer holds only part of a reply; read more and scan again.
    Incomplete,
    /// One whole reply of `len` bytes starts the buffer.
    Reply { kind: ReplyKind, len: usize },
}

/// The server sent bytes that are not RESP: the stream cannot be trusted
/// past this point, so the run stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol desync at byte {offset}: {reason}")]
pub struct ProtocolError {
    /// Offset from the start of the reply being scanned.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

fn desync(offset: usize, reason: &'static str) -> ProtocolError {
    ProtocolError { offset, reason }
}

/// One element header: its kind and how many child elements follow it.
struct Element {
    kind: ReplyKind,
    end: usize,
    children: u64,
    /// A RESP3 attribute (`|`) decorates the value after it and is not
    /// itself a value.
    attribute: bool,
}

/// Finds the CRLF that ends the line starting at `start`; returns the
/// index of `\r`.
fn line_end(buf: &[u8], start: usize) -> Option<usize> {
    let nl = buf[start..].iter().position(|&b| b == b'\n')? + start;
    Some(nl - 1)
}

fn parse_int(line: &[u8], offset: usize) -> Result<i64, ProtocolError> {
    let (neg, digits) = match line.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 18 {
        return Err(desync(offset, "bad length"));
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(desync(offset, "bad length"));
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Ok(if neg { -n } else { n })
}

fn element(buf: &[u8], pos: usize) -> Result<Option<Element>, ProtocolError> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(cr) = line_end(buf, pos + 1) else {
        return Ok(None);
    };
    if cr < pos + 1 || buf[cr] != b'\r' {
        return Err(desync(pos, "line not ended by CRLF"));
    }
    let line = pos + 1..cr;
    let after_line = cr + 2;
    let simple = |kind| {
        Ok(Some(Element {
            kind,
            end: after_line,
            children: 0,
            attribute: false,
        }))
    };
    match tag {
        b'+' => simple(ReplyKind::Status(line)),
        b'-' => simple(ReplyKind::Error(line)),
        b':' | b',' | b'#' | b'(' => simple(ReplyKind::Scalar),
        b'_' => simple(ReplyKind::Nil),
        b'$' | b'=' | b'!' => {
            let len = parse_int(&buf[line], pos)?;
            if len == -1 && tag == b'$' {
                return simple(ReplyKind::Nil);
            }
            if !(0..=MAX_BULK_LEN_BYTES).contains(&len) {
                return Err(desync(pos, "bulk length out of range"));
            }
            let start = after_line;
            let end = start + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(desync(end, "bulk payload not ended by CRLF"));
            }
            let kind = if tag == b'!' {
                ReplyKind::Error(start..end)
            } else {
                ReplyKind::Bulk(start..end)
            };
            Ok(Some(Element {
                kind,
                end: end + 2,
                children: 0,
                attribute: false,
            }))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let len = parse_int(&buf[line], pos)?;
            if len == -1 && tag == b'*' {
                return simple(ReplyKind::Nil);
            }
            if !(0..=MAX_AGGREGATE_LEN).contains(&len) {
                return Err(desync(pos, "aggregate length out of range"));
            }
            let pairs = matches!(tag, b'%' | b'|');
            let children = if pairs { len as u64 * 2 } else { len as u64 };
            let kind = if tag == b'>' {
                ReplyKind::Push
            } else {
                ReplyKind::Aggregate
            };
            Ok(Some(Element {
                kind,
                end: after_line,
                children,
                attribute: tag == b'|',
            }))
        }
        _ => Err(desync(pos, "unknown type byte")),
    }
}

/// Scans one reply at the front of `buf`.
///
/// # Errors
///
/// [`ProtocolError`] when the bytes are not RESP2/RESP3 or exceed the
/// bounds above.
pub(crate) fn scan_reply(buf: &[u8]) -> Result<Scan, ProtocolError> {
    let mut pending = [0u64; MAX_NESTING_DEPTH];
    let mut depth = 0usize;
    let mut pos = 0usize;
    let mut top: Option<ReplyKind> = None;
    loop {
        let Some(el) = element(buf, pos)? else {
            return Ok(Scan::Incomplete);
        };
        pos = el.end;
        if el.attribute && depth > 0 {
            // The decorated value still counts as the parent's element.
            pending[depth - 1] += 1;
        }
        if top.is_none() && !el.attribute && depth == 0 {
            top = Some(el.kind);
        }
        if el.children > 0 {
            if depth == MAX_NESTING_DEPTH {
                return Err(desync(pos, "aggregates nested too deeply"));
            }
            pending[depth] = el.children;
            depth += 1;
            continue;
        }
        while depth > 0 {
            pending[depth - 1] -= 1;
            if pending[depth - 1] > 0 {
                break;
            }
            depth -= 1;
        }
        if depth == 0 {
            if let Some(kind) = top {
                return Ok(Scan::Reply { kind, len: pos });
            }
            // A finished top-level attribute: the reply proper follows.
        }
    }
}

/// Appends the decimal form of `n` (no allocation).
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Number of decimal digits of `n`.
pub(crate) fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Appends `$len\r\n` for an argument of `len` bytes.
pub(crate) fn push_bulk_header(out: &mut Vec<u8>, len: usize) {
    out.push(b'$');
    push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole command as a RESP array of bulk strings.
pub(crate) fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_decimal(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        push_bulk_header(out, arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], expected: Result<Scan, ProtocolError>) {
        assert_eq!(
            scan_reply(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }

    fn reply(kind: ReplyKind, len: usize) -> Result<Scan, ProtocolError> {
        Ok(Scan::Reply { kind, len })
    }

    #[test]
    fn scalars() {
        check(b"+OK\r\n", reply(ReplyKind::Status(1..3), 5));
        check(b"+OK\r\n+OK\r\n", reply(ReplyKind::Status(1..3), 5));
        check(b"-ERR no\r\n", reply(ReplyKind::Error(1..7), 9));
        check(b":42\r\n", reply(ReplyKind::Scalar, 5));
        check(b",3.5\r\n", reply(ReplyKind::Scalar, 6));
        check(b"#t\r\n", reply(ReplyKind::Scalar, 4));
        check(b"_\r\n", reply(ReplyKind::Nil, 3));
    }

    #[test]
    fn bulks() {
        check(b"$3\r\nabc\r\n", reply(ReplyKind::Bulk(4..7), 9));
        check(b"$0\r\n\r\n", reply(ReplyKind::Bulk(4..4), 6));
        check(b"$-1\r\n", reply(ReplyKind::Nil, 5));
        check(b"!3\r\nbad\r\n", reply(ReplyKind::Error(4..7), 9));
        // A payload containing CRLF is skipped by length, not by line.
        check(b"$4\r\na\r\nb\r\n", reply(ReplyKind::Bulk(4..8), 10));
    }

    #[test]
    fn aggregates() {
        check(b"*2\r\n$1\r\na\r\n:1\r\n", reply(ReplyKind::Aggregate, 15));
        check(b"*0\r\n", reply(ReplyKind::Aggregate, 4));
        check(b"*-1\r\n", reply(ReplyKind::Nil, 5));
        check(
            b"*2\r\n*1\r\n:1\r\n*0\r\n+x\r\n",
            reply(ReplyKind::Aggregate, 16),
        );
        check(b"%1\r\n+k\r\n:1\r\n", reply(ReplyKind::Aggregate, 12));
        check(b">2\r\n+a\r\n+b\r\n", reply(ReplyKind::Push, 12));
        // An attribute before the value is skipped; the value is the reply.
        check(
            b"|1\r\n+a\r\n:1\r\n+OK\r\n",
            reply(ReplyKind::Status(13..15), 17),
        );
        // An attribute inside an array does not count as an element.
        check(
            b"*1\r\n|1\r\n+a\r\n:1\r\n:5\r\n",
            reply(ReplyKind::Aggregate, 20),
        );
    }

    #[test]
    fn incomplete_at_every_cut() {
        let whole: &[u8] = b"*3\r\n$3\r\nabc\r\n*1\r\n:7\r\n+OK\r\n";
        for cut in 0..whole.len() {
            check(&whole[..cut], Ok(Scan::Incomplete));
        }
        check(whole, reply(ReplyKind::Aggregate, whole.len()));
    }

    #[test]
    fn desyncs() {
        check(b"?x\r\n", Err(desync(0, "unknown type byte")));
        check(b"$abc\r\n", Err(desync(0, "bad length")));
        check(
            b"$3\r\nabcd\r\n",
            Err(desync(7, "bulk payload not ended by CRLF")),
        );
        check(b"+OK\n", Err(desync(0, "line not ended by CRLF")));
        check(
            b"$999999999999\r\n",
            Err(desync(0, "bulk length out of range")),
        );
        let deep = b"*1\r\n".repeat(MAX_NESTING_DEPTH + 1);
        assert!(scan_reply(&deep).is_err());
    }

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        for n in [0u64, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut s = Vec::new();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string().as_bytes());
            assert_eq!(decimal_len(n), s.len());
        }
    }
}
