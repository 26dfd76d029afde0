//! Decoding any RESP2/RESP3 reply into a [`Frame`] tree, for clients and tests.

use bytes::Bytes;

use crate::parse::parse_redis_int;

/// A decoded reply. Doubles and big numbers keep their text, so a test can
/// compare them byte for byte with what Redis sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    /// `$-1` (RESP2) or `_` (RESP3).
    Null,
    /// `*-1` (RESP2).
    NullArray,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Double(String),
    Boolean(bool),
    BigNumber(String),
    Verbatim {
        format: String,
        text: Bytes,
    },
}

/// A reply that is not valid RESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("invalid RESP frame at byte {0}")]
    Invalid(usize),
    #[error("RESP frame nested deeper than {NESTING_DEPTH_MAX}")]
    TooDeep,
}

/// Aggregates nested deeper than this are rejected, so a hostile peer
/// cannot exhaust the stack.
const NESTING_DEPTH_MAX: usize = 128;

/// Decodes one frame from the front of `input`.
/// Returns `Ok(None)` if the frame is not complete yet, else the frame and
/// how many bytes it used.
///
/// # Errors
/// [`FrameError`] when the bytes are not RESP.
pub fn parse_frame(input: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut pos = 0;
    match decode(input, &mut pos, 0)? {
        Some(frame) => Ok(Some((frame, pos))),
        None => Ok(None),
    }
}

fn line<'a>(input: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &input[*pos..];
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn decode(input: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, FrameError> {
    if depth > NESTING_DEPTH_MAX {
        return Err(FrameError::TooDeep);
    }
    let start = *pos;
    let Some(&kind) = input.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(text) = line(input, pos) else {
        return Ok(None);
    };
    let invalid = || FrameError::Invalid(start);
    let string = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let int = |b: &[u8]| parse_redis_int(b).ok_or(FrameError::Invalid(start));
    let frame = match kind {
        b'+' => Frame::Simple(string(text)),
        b'-' => Frame::Error(string(text)),
        b':' => Frame::Integer(int(text)?),
        b',' => Frame::Double(string(text)),
        b'(' => Frame::BigNumber(string(text)),
        b'_' => Frame::Null,
        b'#' => match text {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err(invalid()),
        },
        b'$' | b'=' | b'!' => {
            let len = int(text)?;
            if len == -1 && kind == b'$' {
                return Ok(Some(Frame::Null));
            }
            let len = usize::try_from(len).map_err(|_| invalid())?;
            if input.len() < *pos + len + 2 {
                return Ok(None);
            }
            let body = Bytes::copy_from_slice(&input[*pos..*pos + len]);
            *pos += len + 2;
            match kind {
                b'$' => Frame::Bulk(body),
                b'!' => Frame::Error(string(&body)),
                _ => {
                    if body.len() < 4 || body[3] != b':' {
                        return Err(invalid());
                    }
                    Frame::Verbatim {
                        format: string(&body[..3]),
                        text: body.slice(4..),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let len = int(text)?;
            if len == -1 && kind == b'*' {
                return Ok(Some(Frame::NullArray));
            }
            let len = usize::try_from(len).map_err(|_| invalid())?;
            let items = if matches!(kind, b'%' | b'|') {
                2 * len
            } else {
                len
            };
            // Never trust a declared length for an allocation.
            let mut elements = Vec::with_capacity(items.min(1024));
            for _ in 0..items {
                match decode(input, pos, depth + 1)? {
                    Some(f) => elements.push(f),
                    None => return Ok(None),
                }
            }
            match kind {
                b'*' => Frame::Array(elements),
                b'~' => Frame::Set(elements),
                b'>' => Frame::Push(elements),
                b'%' => Frame::Map(pairs(elements)),
                _ => {
                    // An attribute annotates the frame that follows it.
                    return decode(input, pos, depth + 1);
                }
            }
        }
        _ => return Err(invalid()),
    };
    Ok(Some(frame))
}

fn pairs(elements: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut it = elements.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        let input = b"*3\r\n%1\r\n+a\r\n,1.5\r\n~1\r\n#t\r\n$-1\r\n";
        let (frame, used) = parse_frame(input).unwrap().unwrap();
        assert_eq!(used, input.len());
        assert_eq!(
            frame,
            Frame::Array(vec![
                Frame::Map(vec![(
                    Frame::Simple("a".into()),
                    Frame::Double("1.5".into())
                )]),
                Frame::Set(vec![Frame::Boolean(true)]),
                Frame::Null,
            ])
        );
        assert_eq!(parse_frame(b"*2\r\n:1\r\n").unwrap(), None);
        assert!(parse_frame(b"?\r\n").is_err());
        let deep = "*1\r\n".repeat(200);
        assert_eq!(parse_frame(deep.as_bytes()), Err(FrameError::TooDeep));
    }
}
