//! Redis's listpack, byte for byte: a header (total bytes, element
//! count), elements each encoded as a small header + data + a back-length,
//! and a terminating 0xFF. Streams keep their entries in these blobs, so a
//! node's size (which decides when a stream opens a new node) and its RDB
//! and DUMP serialization are exactly Redis's.
//!
//! Positions are byte offsets of an element's first byte. Every function
//! here works on a blob this module built or [`Listpack::from_bytes`]
//! validated, so decoding cannot run past the end.

/// Header: 4 bytes total length, 2 bytes element count.
const HEADER: usize = 6;
const EOF: u8 = 0xff;
/// The element count once it no longer fits the header's 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One element: listpack keeps strings that are canonical integers as
/// integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Item<'_> {
    /// The element as bytes (integers in decimal), appended to `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        match self {
            Item::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Item::Str(s) => out.extend_from_slice(s),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// The element as an integer; a string reads as 0 (streams only ask
    /// this of elements they wrote as integers).
    pub fn int(self) -> i64 {
        match self {
            Item::Int(n) => n,
            Item::Str(s) => crate::parse_i64_exact(s).unwrap_or(0),
        }
    }

    /// Whether the element equals `bytes` as Redis compares them.
    pub fn eq_bytes(self, bytes: &[u8]) -> bool {
        match self {
            Item::Str(s) => s == bytes,
            Item::Int(n) => itoa::Buffer::new().format(n).as_bytes() == bytes,
        }
    }

    /// Raw length of the element as a string.
    pub fn len(self) -> usize {
        match self {
            Item::Str(s) => s.len(),
            Item::Int(n) => itoa::Buffer::new().format(n).len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listpack({} bytes)", self.buf.len())
    }
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl Listpack {
    pub fn new() -> Listpack {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&7u32.to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.push(EOF);
        Listpack { buf }
    }

    /// Adopts a serialized listpack after checking every element's
    /// encoding and back-length; `None` if it is malformed.
    pub fn from_bytes(buf: Vec<u8>) -> Option<Listpack> {
        if buf.len() < HEADER + 1 {
            return None;
        }
        let total = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
        let count = u16::from_le_bytes(buf[4..6].try_into().ok()?);
        if total != buf.len() || *buf.last()? != EOF {
            return None;
        }
        let mut pos = HEADER;
        let mut seen = 0usize;
        while buf[pos] != EOF {
            let (head, data) = element_size(&buf[pos..])?;
            let body = head + data;
            let back = backlen_size(body);
            let end = pos.checked_add(body + back)?;
            if end >= buf.len() {
                return None;
            }
            if decode_backlen(&buf[..end]) != Some(body) {
                return None;
            }
            pos = end;
            seen += 1;
        }
        if pos != buf.len() - 1 {
            return None;
        }
        if count != COUNT_UNKNOWN && usize::from(count) != seen {
            return None;
        }
        Some(Listpack { buf })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// `lpBytes`: the serialized size.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    pub fn first(&self) -> Option<usize> {
        (self.buf[HEADER] != EOF).then_some(HEADER)
    }

    /// The position after the element at `pos`, if any.
    pub fn next(&self, pos: usize) -> Option<usize> {
        let end = pos + self.entry_len(pos);
        (self.buf[end] != EOF).then_some(end)
    }

    /// The position of the element before `pos` (or before the end, for
    /// `pos == bytes() - 1`), if any.
    pub fn prev(&self, pos: usize) -> Option<usize> {
        if pos <= HEADER {
            return None;
        }
        let body = decode_backlen(&self.buf[..pos])?;
        Some(pos - body - backlen_size(body))
    }

    /// The last element's position.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len() - 1)
    }

    pub fn get(&self, pos: usize) -> Item<'_> {
        let b = &self.buf[pos..];
        let tag = b[0];
        if tag & 0x80 == 0 {
            Item::Int(i64::from(tag))
        } else if tag & 0xc0 == 0x80 {
            let len = usize::from(tag & 0x3f);
            Item::Str(&b[1..1 + len])
        } else if tag & 0xe0 == 0xc0 {
            let raw = (i64::from(tag & 0x1f) << 8) | i64::from(b[1]);
            Item::Int(if raw >= 1 << 12 { raw - (1 << 13) } else { raw })
        } else if tag & 0xf0 == 0xe0 {
            let len = (usize::from(tag & 0x0f) << 8) | usize::from(b[1]);
            Item::Str(&b[2..2 + len])
        } else {
            match tag {
                0xf0 => {
                    let len = u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize;
                    Item::Str(&b[5..5 + len])
                }
                0xf1 => Item::Int(i64::from(i16::from_le_bytes([b[1], b[2]]))),
                0xf2 => Item::Int(i64::from(i32::from_le_bytes([0, b[1], b[2], b[3]]) >> 8)),
                0xf3 => Item::Int(i64::from(i32::from_le_bytes([b[1], b[2], b[3], b[4]]))),
                _ => Item::Int(i64::from_le_bytes(b[1..9].try_into().expect("9 bytes"))),
            }
        }
    }

    pub fn get_int(&self, pos: usize) -> i64 {
        self.get(pos).int()
    }

    /// Appends an integer element.
    pub fn append_int(&mut self, n: i64) {
        let mut enc = [0u8; 9];
        let len = encode_int(n, &mut enc);
        self.append_encoded(&enc[..len], &[]);
    }

    /// Appends a string element (as an integer if it is a canonical one,
    /// as Redis's `lpAppend` does).
    pub fn append_str(&mut self, s: &[u8]) {
        if let Some(n) = int_like(s) {
            return self.append_int(n);
        }
        let mut head = [0u8; 5];
        let len = encode_str_header(s.len(), &mut head);
        self.append_encoded(&head[..len], s);
    }

    /// Replaces the integer element at `pos` with `n`; the elements after
    /// it move if the encoding's size changed. Returns the position of the
    /// element after it (or of the end byte).
    pub fn replace_int(&mut self, pos: usize, n: i64) -> usize {
        let old = self.entry_len(pos);
        let mut enc = [0u8; 9];
        let head = encode_int(n, &mut enc);
        let mut entry = Vec::with_capacity(head + 5);
        entry.extend_from_slice(&enc[..head]);
        push_backlen(&mut entry, head);
        if entry.len() == old {
            self.buf[pos..pos + old].copy_from_slice(&entry);
        } else {
            self.buf.splice(pos..pos + old, entry.iter().copied());
            self.set_total();
        }
        pos + entry.len()
    }

    /// The end byte's position (appending goes there).
    pub fn end(&self) -> usize {
        self.buf.len() - 1
    }

    fn append_encoded(&mut self, head: &[u8], data: &[u8]) {
        self.buf.pop();
        self.buf.extend_from_slice(head);
        self.buf.extend_from_slice(data);
        let mut back = Vec::with_capacity(5);
        push_backlen(&mut back, head.len() + data.len());
        self.buf.extend_from_slice(&back);
        self.buf.push(EOF);
        self.set_total();
        let count = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if count != COUNT_UNKNOWN {
            self.buf[4..6].copy_from_slice(&(count + 1).to_le_bytes());
        }
    }

    fn set_total(&mut self) {
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
    }

    /// Bytes of the element at `pos`, back-length included.
    fn entry_len(&self, pos: usize) -> usize {
        let (head, data) = element_size(&self.buf[pos..]).expect("valid listpack");
        head + data + backlen_size(head + data)
    }
}

/// A string Redis's listpack would store as an integer (`lpStringToInt64`).
fn int_like(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    crate::parse_i64_exact(s)
}

fn encode_int(n: i64, out: &mut [u8; 9]) -> usize {
    if (0..=127).contains(&n) {
        out[0] = n as u8;
        1
    } else if (-4096..=4095).contains(&n) {
        let v = if n < 0 { (1 << 13) + n } else { n } as u16;
        out[0] = 0xc0 | (v >> 8) as u8;
        out[1] = v as u8;
        2
    } else if (-32768..=32767).contains(&n) {
        out[0] = 0xf1;
        out[1..3].copy_from_slice(&(n as i16).to_le_bytes());
        3
    } else if (-8_388_608..=8_388_607).contains(&n) {
        out[0] = 0xf2;
        out[1..4].copy_from_slice(&(n as i32).to_le_bytes()[..3]);
        4
    } else if (-2_147_483_648..=2_147_483_647).contains(&n) {
        out[0] = 0xf3;
        out[1..5].copy_from_slice(&(n as i32).to_le_bytes());
        5
    } else {
        out[0] = 0xf4;
        out[1..9].copy_from_slice(&n.to_le_bytes());
        9
    }
}

fn encode_str_header(len: usize, out: &mut [u8; 5]) -> usize {
    if len < 64 {
        out[0] = 0x80 | len as u8;
        1
    } else if len < 4096 {
        out[0] = 0xe0 | (len >> 8) as u8;
        out[1] = len as u8;
        2
    } else {
        out[0] = 0xf0;
        out[1..5].copy_from_slice(&(len as u32).to_le_bytes());
        5
    }
}

/// The header and data sizes of the element starting `b`, if `b` holds
/// all of it.
fn element_size(b: &[u8]) -> Option<(usize, usize)> {
    let tag = *b.first()?;
    let (head, data) = if tag & 0x80 == 0 {
        (1, 0)
    } else if tag & 0xc0 == 0x80 {
        (1, usize::from(tag & 0x3f))
    } else if tag & 0xe0 == 0xc0 {
        (2, 0)
    } else if tag & 0xf0 == 0xe0 {
        (2, (usize::from(tag & 0x0f) << 8) | usize::from(*b.get(1)?))
    } else {
        match tag {
            0xf0 => (
                5,
                u32::from_le_bytes(b.get(1..5)?.try_into().ok()?) as usize,
            ),
            0xf1 => (3, 0),
            0xf2 => (4, 0),
            0xf3 => (5, 0),
            0xf4 => (9, 0),
            _ => return None,
        }
    };
    (b.len() >= head + data).then_some((head, data))
}

/// Bytes of the back-length for an element body of `len` bytes (Redis's
/// `lpEncodeBacklen` sizes).
fn backlen_size(len: usize) -> usize {
    if len <= 127 {
        1
    } else if len < 16_383 {
        2
    } else if len < 2_097_151 {
        3
    } else if len < 268_435_455 {
        4
    } else {
        5
    }
}

/// Appends the back-length of a body of `len` bytes: 7 bits per byte, the
/// most significant first, every byte but the first flagged with 0x80.
fn push_backlen(out: &mut Vec<u8>, len: usize) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let bits = ((len >> (7 * i)) & 0x7f) as u8;
        out.push(if i == n - 1 { bits } else { bits | 0x80 });
    }
}

/// Reads the back-length that ends right before `end.len()`.
fn decode_backlen(end: &[u8]) -> Option<usize> {
    let mut value = 0usize;
    let mut shift = 0;
    for &b in end.iter().rev().take(5) {
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_encoding_forward_and_backward() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            40000,
            -8_388_608,
            8_388_607,
            1 << 24,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MIN,
            i64::MAX,
        ];
        let strs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 20_000],
            b"-0".to_vec(),
            b"007".to_vec(),
        ];
        let mut lp = Listpack::new();
        for n in ints {
            lp.append_int(n);
        }
        for s in &strs {
            lp.append_str(s);
        }
        lp.append_str(b"12345");
        let lp = Listpack::from_bytes(lp.as_bytes().to_vec()).expect("valid");
        let mut forward = Vec::new();
        let mut pos = lp.first();
        while let Some(p) = pos {
            forward.push(lp.get(p).to_vec());
            pos = lp.next(p);
        }
        let mut expected: Vec<Vec<u8>> = ints.iter().map(|n| n.to_string().into_bytes()).collect();
        expected.extend(strs.iter().cloned());
        expected.push(b"12345".to_vec());
        assert_eq!(forward, expected);
        assert_eq!(lp.get(lp.last().unwrap()), Item::Int(12345));
        let mut backward = Vec::new();
        let mut pos = lp.last();
        while let Some(p) = pos {
            backward.push(lp.get(p).to_vec());
            pos = lp.prev(p);
        }
        backward.reverse();
        assert_eq!(backward, expected);
    }

    #[test]
    fn replacing_an_integer_moves_what_follows() {
        let mut lp = Listpack::new();
        lp.append_int(1);
        lp.append_str(b"field");
        let first = lp.first().unwrap();
        lp.replace_int(first, 100_000);
        assert_eq!(lp.get(first), Item::Int(100_000));
        let second = lp.next(first).unwrap();
        assert_eq!(lp.get(second), Item::Str(b"field"));
        assert!(Listpack::from_bytes(lp.as_bytes().to_vec()).is_some());
        lp.replace_int(first, 3);
        assert_eq!(lp.bytes(), 6 + 2 + 7 + 1);
    }

    #[test]
    fn matches_a_redis_listpack_byte_for_byte() {
        // A stream node Redis 7.0 wrote for `XADD s 1-1 a 1` (from its
        // DUMP payload): master entry 1 0 1 "a" 0, entry 2 0 0 1 4.
        let mut lp = Listpack::new();
        for n in [1, 0, 1] {
            lp.append_int(n);
        }
        lp.append_str(b"a");
        for n in [0, 2, 0, 0] {
            lp.append_int(n);
        }
        lp.append_str(b"1");
        lp.append_int(4);
        let expected: &[u8] = &[
            0x1c, 0, 0, 0, 10, 0, 1, 1, 0, 1, 1, 1, 0x81, b'a', 2, 0, 1, 2, 1, 0, 1, 0, 1, 1, 1, 4,
            1, 0xff,
        ];
        assert_eq!(lp.as_bytes(), expected);
    }

    #[test]
    fn malformed_blobs_are_refused() {
        assert!(Listpack::from_bytes(vec![]).is_none());
        assert!(Listpack::from_bytes(vec![7, 0, 0, 0, 0, 0, 0xff]).is_some());
        assert!(Listpack::from_bytes(vec![7, 0, 0, 0, 1, 0, 0xff]).is_none());
        assert!(Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 0x85, 1, 0xff]).is_none());
        assert!(Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 5, 2, 0xff]).is_none());
        assert!(Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 5, 1, 0xff]).is_some());
    }
}
