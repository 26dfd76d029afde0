//! Redis's RDB serialization (version 10, as redis-server 7.0 writes it):
//! the value encodings shared by RDB files and DUMP/RESTORE payloads.
//!
//! Reading accepts every encoding Redis 7.0 writes — strings as integers,
//! raw or LZF-compressed; quicklists of listpacks; intsets; listpack and
//! hashtable sets, hashes and sorted sets — plus the plain older forms.
//! Writing uses the plain forms Redis 7.0 still loads (a list as a list of
//! strings, a set as members, …): simpler, and Redis re-encodes on load.
//! Decoding is bounds-checked everywhere: malformed input is an [`RdbError`],
//! never a panic, and no declared length allocates more than the bytes
//! that are actually there.

use std::fmt;

use bytes::Bytes;

use crate::types::stream::{self, Consumer, Group, Nack, Stream, StreamId, ENTRIES_READ_UNKNOWN};

/// RDB value type bytes (Redis's `RDB_TYPE_*`).
pub mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// RDB opcodes (Redis's `RDB_OPCODE_*`).
pub mod opcode {
    pub const FUNCTION2: u8 = 245;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// The RDB version Shoal writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

/// Why bytes are not a valid RDB value or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Offset into the input where decoding gave up.
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.what, self.offset)
    }
}

impl std::error::Error for RdbError {}

pub type Result<T> = std::result::Result<T, RdbError>;

/// A value as RDB describes it, independent of Shoal's in-memory types.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Streams are kept in their RDB layout (listpack nodes) in memory too.
    Stream(crate::types::Stream),
}

/// Redis's CRC-64 (Jones polynomial, reflected), as RDB files and DUMP
/// payloads end with. `crc64(0, b"123456789") == 0xe9c6d914c4b8d9ca`.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    for &b in data {
        crc = table[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    pub fn error<T>(&self, what: impl Into<String>) -> Result<T> {
        Err(RdbError {
            offset: self.pos,
            what: what.into(),
        })
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return self.error(format!("unexpected end of data (wanted {n} bytes)"));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u32_le(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A length, or a special string encoding (`Err` of the encoding id).
    fn length_or_special(&mut self) -> Result<std::result::Result<u64, u8>> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3f)),
            1 => Ok(u64::from(first & 0x3f) << 8 | u64::from(self.u8()?)),
            2 => match first {
                0x80 => Ok(u64::from(u32::from_be_bytes(
                    self.bytes(4)?.try_into().expect("4 bytes"),
                ))),
                0x81 => Ok(u64::from_be_bytes(
                    self.bytes(8)?.try_into().expect("8 bytes"),
                )),
                _ => return self.error(format!("unknown length encoding {first:#x}")),
            },
            _ => Err(first & 0x3f),
        })
    }

    pub fn length(&mut self) -> Result<u64> {
        match self.length_or_special()? {
            Ok(n) => Ok(n),
            Err(_) => self.error("expected a length, found a string encoding"),
        }
    }

    /// A count of items that each take at least `min_bytes`: refused if the
    /// data cannot possibly hold them, so it never drives an allocation.
    pub fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.length()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return self.error(format!("declared count {n} exceeds the data"));
        }
        Ok(n as usize)
    }

    /// A string: raw, an integer encoding, or LZF-compressed.
    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.length_or_special()? {
            Ok(len) => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                Ok(self.bytes(len)?.to_vec())
            }
            Err(0) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Err(1) => Ok(
                i16::from_le_bytes(self.bytes(2)?.try_into().expect("2 bytes"))
                    .to_string()
                    .into_bytes(),
            ),
            Err(2) => Ok(
                i32::from_le_bytes(self.bytes(4)?.try_into().expect("4 bytes"))
                    .to_string()
                    .into_bytes(),
            ),
            Err(3) => {
                let compressed = self.length()?;
                let len = self.length()?;
                let compressed = usize::try_from(compressed).unwrap_or(usize::MAX);
                let start = self.pos;
                let input = self.bytes(compressed)?;
                // LZF expands at most ~ 256/2 per input byte… bound the
                // declared output by a generous multiple of the input.
                if len > (compressed as u64).saturating_mul(512).saturating_add(64) {
                    self.pos = start;
                    return self.error("LZF length out of proportion to its input");
                }
                lzf_decompress(input, len as usize).ok_or(RdbError {
                    offset: start,
                    what: "invalid LZF data".into(),
                })
            }
            Err(e) => self.error(format!("unknown string encoding {e}")),
        }
    }

    /// RDB_TYPE_ZSET's text score (1-byte length, 253/254/255 = nan/+inf/-inf).
    fn text_double(&mut self) -> Result<f64> {
        let len = self.u8()?;
        match len {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.bytes(usize::from(n))?;
                match std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()) {
                    Some(v) => Ok(v),
                    None => self.error("invalid score"),
                }
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    /// One value of RDB type `kind`.
    pub fn value(&mut self, kind: u8) -> Result<Decoded> {
        match kind {
            kind::STRING => Ok(Decoded::Str(self.string()?)),
            kind::LIST => {
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.string()?);
                }
                Ok(Decoded::List(items))
            }
            kind::SET => {
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.string()?);
                }
                Ok(Decoded::Set(items))
            }
            kind::ZSET | kind::ZSET_2 => {
                let n = self.count(2)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if kind == kind::ZSET_2 {
                        self.binary_double()?
                    } else {
                        self.text_double()?
                    };
                    if score.is_nan() {
                        return self.error("sorted set score is NaN");
                    }
                    items.push((member, score));
                }
                Ok(Decoded::ZSet(items))
            }
            kind::HASH => {
                let n = self.count(2)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push((self.string()?, self.string()?));
                }
                Ok(Decoded::Hash(items))
            }
            kind::SET_INTSET => {
                let start = self.pos;
                let blob = self.string()?;
                let items = intset_decode(&blob).ok_or(RdbError {
                    offset: start,
                    what: "invalid intset".into(),
                })?;
                Ok(Decoded::Set(items))
            }
            kind::LIST_QUICKLIST_2 => {
                let nodes = self.count(2)?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    let container = self.length()?;
                    let start = self.pos;
                    let blob = self.string()?;
                    match container {
                        // QUICKLIST_NODE_CONTAINER_PLAIN: one big element.
                        1 => items.push(blob),
                        2 => items.extend(listpack_decode(&blob).ok_or(RdbError {
                            offset: start,
                            what: "invalid listpack".into(),
                        })?),
                        _ => return self.error("unknown quicklist container"),
                    }
                }
                Ok(Decoded::List(items))
            }
            kind::HASH_LISTPACK | kind::ZSET_LISTPACK => {
                let start = self.pos;
                let blob = self.string()?;
                let flat = listpack_decode(&blob)
                    .filter(|f| f.len() % 2 == 0)
                    .ok_or(RdbError {
                        offset: start,
                        what: "invalid listpack".into(),
                    })?;
                let mut pairs = flat.into_iter();
                if kind == kind::HASH_LISTPACK {
                    let mut items = Vec::new();
                    while let (Some(f), Some(v)) = (pairs.next(), pairs.next()) {
                        items.push((f, v));
                    }
                    Ok(Decoded::Hash(items))
                } else {
                    let mut items = Vec::new();
                    while let (Some(m), Some(s)) = (pairs.next(), pairs.next()) {
                        let score = crate::parse_f64(&s).ok_or(RdbError {
                            offset: start,
                            what: "invalid score in listpack".into(),
                        })?;
                        items.push((m, score));
                    }
                    Ok(Decoded::ZSet(items))
                }
            }
            kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 => self
                .stream(kind == kind::STREAM_LISTPACKS_2)
                .map(Decoded::Stream),
            kind::HASH_ZIPMAP
            | kind::LIST_ZIPLIST
            | kind::ZSET_ZIPLIST
            | kind::HASH_ZIPLIST
            | kind::LIST_QUICKLIST => self.error(format!(
                "RDB type {kind} (ziplist/zipmap, written by Redis before 7.0) is not supported"
            )),
            other => self.error(format!("unknown or unsupported RDB type {other}")),
        }
    }
}

impl Reader<'_> {
    /// A stream's ID as two lengths.
    fn stream_id(&mut self) -> Result<StreamId> {
        Ok(StreamId::new(self.length()?, self.length()?))
    }

    /// A stream's ID as 16 raw big-endian bytes.
    fn raw_stream_id(&mut self) -> Result<StreamId> {
        Ok(StreamId::from_be_bytes(self.bytes(16)?).expect("16 bytes"))
    }

    fn millis(&mut self) -> Result<i64> {
        Ok(self.u64_le()? as i64)
    }

    /// RDB_TYPE_STREAM_LISTPACKS (`v2`: the 7.0 form, with the first and
    /// max-deleted IDs, entries added and groups' entries read).
    fn stream(&mut self, v2: bool) -> Result<Stream> {
        let start = self.pos;
        let n = self.count(2)?;
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let key = self.string()?;
            let Some(id) = StreamId::from_be_bytes(&key) else {
                return self.error("stream node key is not the size of a stream ID");
            };
            nodes.push((id, self.string()?));
        }
        let mut meta = stream::Inner {
            length: self.length()?,
            last_id: self.stream_id()?,
            ..Default::default()
        };
        if v2 {
            meta.first_id = self.stream_id()?;
            meta.max_deleted_id = self.stream_id()?;
            meta.entries_added = self.length()?;
        }
        let groups = self.count(1)?;
        let mut parsed = Vec::with_capacity(groups);
        for _ in 0..groups {
            let name = Bytes::from(self.string()?);
            let last_id = self.stream_id()?;
            let entries_read = if v2 {
                Some(self.length()? as i64)
            } else {
                None
            };
            let mut group = Group::new(last_id, entries_read.unwrap_or(ENTRIES_READ_UNKNOWN));
            let pending = self.count(16)?;
            for _ in 0..pending {
                let id = self.raw_stream_id()?;
                let delivery_time = self.millis()?;
                let delivery_count = self.length()?;
                group.pel.insert(
                    id,
                    Nack {
                        delivery_time,
                        delivery_count,
                        consumer: Bytes::new(),
                    },
                );
            }
            let consumers = self.count(1)?;
            for _ in 0..consumers {
                let cname = Bytes::from(self.string()?);
                let seen_time = self.millis()?;
                let owned = self.count(16)?;
                let mut pel = std::collections::BTreeSet::new();
                for _ in 0..owned {
                    let id = self.raw_stream_id()?;
                    match group.pel.get_mut(&id) {
                        Some(nack) if nack.consumer.is_empty() => nack.consumer = cname.clone(),
                        _ => return self.error("stream consumer PEL entry not in the group PEL"),
                    }
                    pel.insert(id);
                }
                if group
                    .consumers
                    .insert(cname, Consumer { seen_time, pel })
                    .is_some()
                {
                    return self.error("duplicate stream consumer");
                }
            }
            if group.pel.values().any(|n| n.consumer.is_empty()) {
                return self.error("stream PEL entry without a consumer");
            }
            parsed.push((name, group, entries_read.is_none()));
        }
        let Some(mut s) = Stream::from_parts(nodes, meta) else {
            self.pos = start;
            return self.error("invalid stream listpack");
        };
        if !v2 {
            // Redis 6 files: derive what 7.0 records.
            s.first_id = if s.length > 0 {
                s.edge_id(true, false)
            } else {
                StreamId::MIN
            };
            s.entries_added = s.length;
        }
        for (name, mut group, estimate) in parsed {
            if estimate {
                group.entries_read = s
                    .estimate_distance(group.last_id)
                    .unwrap_or(ENTRIES_READ_UNKNOWN);
            }
            if s.groups.insert(name, group).is_some() {
                self.pos = start;
                return self.error("duplicate stream consumer group");
            }
        }
        let live = s.range(StreamId::MIN, StreamId::MAX, false).len() as u64;
        if live != s.length {
            self.pos = start;
            return self.error("stream length does not match its entries");
        }
        Ok(s)
    }
}

/// Appends RDB-encoded data.
pub struct Writer {
    pub out: Vec<u8>,
    /// `rdbcompression`: strings over 20 bytes are LZF-compressed when that
    /// saves at least 4 bytes, as Redis writes them.
    compress: bool,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer::compressing(false)
    }

    /// A writer that LZF-compresses long strings (`rdbcompression yes`).
    pub fn compressing(compress: bool) -> Writer {
        Writer {
            out: Vec::new(),
            compress,
        }
    }

    pub fn u8(&mut self, b: u8) {
        self.out.push(b);
    }

    pub fn length(&mut self, n: u64) {
        if n < 1 << 6 {
            self.out.push(n as u8);
        } else if n < 1 << 14 {
            self.out.push(0x40 | (n >> 8) as u8);
            self.out.push(n as u8);
        } else if n <= u64::from(u32::MAX) {
            self.out.push(0x80);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.out.push(0x81);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A string, as an integer encoding when it is a canonical integer that
    /// fits 32 bits, else LZF-compressed when compressing pays (as Redis's
    /// `rdbSaveRawString` writes them), else raw.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(n) = crate::parse_i64_exact(s) {
                if let Ok(v) = i8::try_from(n) {
                    self.out.extend_from_slice(&[0xc0, v as u8]);
                    return;
                }
                if let Ok(v) = i16::try_from(n) {
                    self.out.push(0xc1);
                    self.out.extend_from_slice(&v.to_le_bytes());
                    return;
                }
                if let Ok(v) = i32::try_from(n) {
                    self.out.push(0xc2);
                    self.out.extend_from_slice(&v.to_le_bytes());
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(packed) = lzf_compress(s, s.len() - 4) {
                self.out.push(0xc3);
                self.length(packed.len() as u64);
                self.length(s.len() as u64);
                self.out.extend_from_slice(&packed);
                return;
            }
        }
        self.length(s.len() as u64);
        self.out.extend_from_slice(s);
    }

    /// A value in its plain form; returns the RDB type byte to put before
    /// the key.
    pub fn value(&mut self, value: &Decoded) -> u8 {
        match value {
            Decoded::Str(s) => {
                self.string(s);
                kind::STRING
            }
            Decoded::List(items) => {
                self.length(items.len() as u64);
                items.iter().for_each(|i| self.string(i));
                kind::LIST
            }
            Decoded::Set(items) => {
                self.length(items.len() as u64);
                items.iter().for_each(|i| self.string(i));
                kind::SET
            }
            Decoded::Hash(items) => {
                self.length(items.len() as u64);
                for (f, v) in items {
                    self.string(f);
                    self.string(v);
                }
                kind::HASH
            }
            Decoded::ZSet(items) => {
                self.length(items.len() as u64);
                for (m, s) in items {
                    self.string(m);
                    self.out.extend_from_slice(&s.to_bits().to_le_bytes());
                }
                kind::ZSET_2
            }
            Decoded::Stream(s) => {
                self.stream(s);
                kind::STREAM_LISTPACKS_2
            }
        }
    }

    /// A raw string: no integer encoding (Redis's `rdbSaveRawString` for
    /// binary blobs still tries integers, but node keys and listpacks
    /// never read as canonical integers).
    fn raw(&mut self, s: &[u8]) {
        self.length(s.len() as u64);
        self.out.extend_from_slice(s);
    }

    fn stream_id(&mut self, id: StreamId) {
        self.length(id.ms);
        self.length(id.seq);
    }

    fn stream(&mut self, s: &Stream) {
        self.length(s.nodes.len() as u64);
        for (id, blob) in s.node_blobs() {
            self.raw(&id.to_be_bytes());
            self.raw(blob);
        }
        self.length(s.length);
        self.stream_id(s.last_id);
        self.stream_id(s.first_id);
        self.stream_id(s.max_deleted_id);
        self.length(s.entries_added);
        self.length(s.groups.len() as u64);
        for (name, g) in &s.groups {
            self.string(name);
            self.stream_id(g.last_id);
            self.length(g.entries_read as u64);
            self.length(g.pel.len() as u64);
            for (id, nack) in &g.pel {
                self.out.extend_from_slice(&id.to_be_bytes());
                self.out
                    .extend_from_slice(&nack.delivery_time.to_le_bytes());
                self.length(nack.delivery_count);
            }
            self.length(g.consumers.len() as u64);
            for (cname, c) in &g.consumers {
                self.string(cname);
                self.out.extend_from_slice(&c.seen_time.to_le_bytes());
                self.length(c.pel.len() as u64);
                for id in &c.pel {
                    self.out.extend_from_slice(&id.to_be_bytes());
                }
            }
        }
    }
}

/// The RDB type byte `Writer::value` will use for `value`.
pub fn kind_of(value: &Decoded) -> u8 {
    match value {
        Decoded::Str(_) => kind::STRING,
        Decoded::List(_) => kind::LIST,
        Decoded::Set(_) => kind::SET,
        Decoded::Hash(_) => kind::HASH,
        Decoded::ZSet(_) => kind::ZSET_2,
        Decoded::Stream(_) => kind::STREAM_LISTPACKS_2,
    }
}

/// A DUMP payload: type byte, value, RDB version (2 bytes LE), CRC-64 of
/// everything before it (8 bytes LE). `compress` is `rdbcompression`.
pub fn dump_payload(value: &Decoded, compress: bool) -> Vec<u8> {
    let mut w = Writer::compressing(compress);
    w.u8(kind_of(value));
    w.value(value);
    w.out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &w.out);
    w.out.extend_from_slice(&crc.to_le_bytes());
    w.out
}

/// Redis's `verifyDumpPayload`: at least the 10-byte footer, a version
/// Shoal can read, and a matching CRC-64.
pub fn verify_payload(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let footer = &payload[payload.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    version <= RDB_VERSION && crc == crc64(0, &payload[..payload.len() - 8])
}

/// Decodes a verified DUMP payload's value; `None` is RESTORE's "Bad data
/// format".
pub fn decode_payload(payload: &[u8]) -> Option<Decoded> {
    let body = payload.get(..payload.len().checked_sub(10)?)?;
    let mut r = Reader::new(body);
    let kind = r.u8().ok()?;
    let value = r.value(kind).ok()?;
    (r.remaining() == 0).then_some(value)
}

/// Both steps of RESTORE's payload handling.
pub fn restore_payload(payload: &[u8]) -> Option<Decoded> {
    if !verify_payload(payload) {
        return None;
    }
    decode_payload(payload)
}

/// The longest back reference LZF can express: 7 + 255 + 2 bytes.
const LZF_MATCH_MAX: usize = 264;
/// The farthest back a reference can reach.
const LZF_OFFSET_MAX: usize = 1 << 13;
/// A literal run holds at most 32 bytes.
const LZF_LITERAL_MAX: usize = 32;
const LZF_HASH_BITS: u32 = 14;

/// Compresses `input` in LZF's format (what [`lzf_decompress`] and Redis's
/// liblzf read); `None` when the result would exceed `max_out` bytes.
///
/// Greedy matching over a hash of the next three bytes. The table is kept
/// per thread and never cleared: an entry left by an earlier input is only
/// a candidate, taken when the bytes at it really match.
pub fn lzf_compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    thread_local! {
        static TABLE: std::cell::RefCell<Vec<u32>> =
            std::cell::RefCell::new(vec![0; 1 << LZF_HASH_BITS]);
    }
    fn hash(b: &[u8]) -> usize {
        let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
        (v.wrapping_mul(0x9e37_79b1) >> (32 - LZF_HASH_BITS)) as usize
    }
    fn literals(out: &mut Vec<u8>, bytes: &[u8]) {
        for run in bytes.chunks(LZF_LITERAL_MAX) {
            out.push((run.len() - 1) as u8);
            out.extend_from_slice(run);
        }
    }
    TABLE.with(|table| {
        let table = &mut *table.borrow_mut();
        let mut out = Vec::with_capacity(max_out);
        let mut literal_start = 0;
        let mut i = 0;
        while i + 3 <= input.len() {
            let h = hash(&input[i..]);
            let candidate = table[h] as usize;
            table[h] = i as u32;
            let found = candidate < i
                && i - candidate <= LZF_OFFSET_MAX
                && input[candidate..candidate + 3] == input[i..i + 3];
            if !found {
                i += 1;
                continue;
            }
            let longest = (input.len() - i).min(LZF_MATCH_MAX);
            let mut len = 3;
            while len < longest && input[candidate + len] == input[i + len] {
                len += 1;
            }
            literals(&mut out, &input[literal_start..i]);
            let offset = i - candidate - 1;
            let code = len - 2;
            if code < 7 {
                out.push((code << 5 | offset >> 8) as u8);
            } else {
                out.push((7 << 5 | offset >> 8) as u8);
                out.push((code - 7) as u8);
            }
            out.push(offset as u8);
            if out.len() > max_out {
                return None;
            }
            i += len;
            literal_start = i;
        }
        literals(&mut out, &input[literal_start..]);
        (out.len() <= max_out).then_some(out)
    })
}

/// Decompresses LZF (liblzf's format, as Redis uses it); `None` if the
/// input is malformed or does not produce exactly `len` bytes.
pub fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len.min(input.len().saturating_mul(4) + 64));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let run = ctrl + 1;
            let lit = input.get(i..i + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            // A back reference.
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let n = n + 2;
            if back > out.len() || out.len() + n > len {
                return None;
            }
            let from = out.len() - back;
            for k in 0..n {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

/// Decodes an intset blob: encoding (2, 4 or 8 bytes per integer), count,
/// integers little-endian.
pub fn intset_decode(blob: &[u8]) -> Option<Vec<Vec<u8>>> {
    let width = u32::from_le_bytes(blob.get(0..4)?.try_into().ok()?) as usize;
    let count = u32::from_le_bytes(blob.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + count.checked_mul(width)? {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for chunk in blob[8..].chunks_exact(width) {
        let n = match width {
            2 => i64::from(i16::from_le_bytes(chunk.try_into().ok()?)),
            4 => i64::from(i32::from_le_bytes(chunk.try_into().ok()?)),
            _ => i64::from_le_bytes(chunk.try_into().ok()?),
        };
        out.push(n.to_string().into_bytes());
    }
    Some(out)
}

/// Decodes a listpack blob into its entries (integers as decimal text).
pub fn listpack_decode(blob: &[u8]) -> Option<Vec<Vec<u8>>> {
    let total = u32::from_le_bytes(blob.get(0..4)?.try_into().ok()?) as usize;
    if total != blob.len() || total < 7 {
        return None;
    }
    let mut i = 6;
    let mut out = Vec::new();
    loop {
        let b = *blob.get(i)?;
        if b == 0xff {
            break;
        }
        let (entry, header_and_data) = if b & 0x80 == 0 {
            (i64::from(b & 0x7f).to_string().into_bytes(), 1)
        } else if b & 0xc0 == 0x80 {
            let len = usize::from(b & 0x3f);
            (blob.get(i + 1..i + 1 + len)?.to_vec(), 1 + len)
        } else if b & 0xe0 == 0xc0 {
            let raw = (u16::from(b & 0x1f) << 8) | u16::from(*blob.get(i + 1)?);
            // 13-bit two's complement.
            let n = if raw >= 1 << 12 {
                i64::from(raw) - (1 << 13)
            } else {
                i64::from(raw)
            };
            (n.to_string().into_bytes(), 2)
        } else if b & 0xf0 == 0xe0 {
            let len = (usize::from(b & 0x0f) << 8) | usize::from(*blob.get(i + 1)?);
            (blob.get(i + 2..i + 2 + len)?.to_vec(), 2 + len)
        } else {
            match b {
                0xf0 => {
                    let len = u32::from_le_bytes(blob.get(i + 1..i + 5)?.try_into().ok()?) as usize;
                    (blob.get(i + 5..i + 5 + len)?.to_vec(), 5 + len)
                }
                0xf1 => {
                    let n = i16::from_le_bytes(blob.get(i + 1..i + 3)?.try_into().ok()?);
                    (n.to_string().into_bytes(), 3)
                }
                0xf2 => {
                    let raw = blob.get(i + 1..i + 4)?;
                    let n = i32::from_le_bytes([0, raw[0], raw[1], raw[2]]) >> 8;
                    (n.to_string().into_bytes(), 4)
                }
                0xf3 => {
                    let n = i32::from_le_bytes(blob.get(i + 1..i + 5)?.try_into().ok()?);
                    (n.to_string().into_bytes(), 5)
                }
                0xf4 => {
                    let n = i64::from_le_bytes(blob.get(i + 1..i + 9)?.try_into().ok()?);
                    (n.to_string().into_bytes(), 9)
                }
                _ => return None,
            }
        };
        // The back-length: the entry's size in 1..=5 bytes of 7 bits.
        let backlen = match header_and_data {
            0..=127 => 1,
            128..=16_383 => 2,
            16_384..=2_097_151 => 3,
            2_097_152..=268_435_455 => 4,
            _ => 5,
        };
        i += header_and_data + backlen;
        if i >= blob.len() {
            return None;
        }
        out.push(entry);
    }
    (i == blob.len() - 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn lengths_and_strings_round_trip() {
        for n in [
            0u64,
            63,
            64,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
        ] {
            let mut w = Writer::new();
            w.length(n);
            assert_eq!(Reader::new(&w.out).length().unwrap(), n);
        }
        for s in [
            &b""[..],
            b"0",
            b"-128",
            b"127",
            b"-32768",
            b"2147483647",
            b"2147483648",
            b"007",
            b"hello",
        ] {
            let mut w = Writer::new();
            w.string(s);
            assert_eq!(Reader::new(&w.out).string().unwrap(), s);
        }
    }

    #[test]
    fn dump_payloads_round_trip_and_reject_damage() {
        let values = [
            Decoded::Str(b"hello".to_vec()),
            Decoded::List(vec![b"a".to_vec(), b"12".to_vec()]),
            Decoded::Set(vec![b"x".to_vec()]),
            Decoded::Hash(vec![(b"f".to_vec(), b"v".to_vec())]),
            Decoded::ZSet(vec![(b"m".to_vec(), 1.5), (b"n".to_vec(), f64::INFINITY)]),
        ];
        for v in values {
            let mut p = dump_payload(&v, true);
            assert_eq!(restore_payload(&p), Some(v.clone()));
            let last = p.len() - 1;
            p[last] ^= 1;
            assert_eq!(restore_payload(&p), None);
        }
        assert_eq!(restore_payload(b"short"), None);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn strs(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// Payloads DUMPed by redis-server 7.0.15, one per encoding.
    #[test]
    fn decodes_redis_dump_payloads() {
        let cases = [
            ("000568656c6c6f0a006372df766534200a", Decoded::Str(b"hello".to_vec())),
            ("00c139300a009d94ea2793fc08b9", Decoded::Str(b"12345".to_vec())),
            (
                "1201021f1f00000005008161020101dfff02c3e8028b68656c6c6f20776f726c640cff0a00c16cb657df434077",
                Decoded::List(strs(&["a", "1", "-1", "1000", "hello world"])),
            ),
            (
                "0b0e02000000030000000100020003000a00a5025ce26d6e4d1b",
                Decoded::Set(strs(&["1", "2", "3"])),
            ),
            ("0202016101620a00fe642125eb033d0d", Decoded::Set(strs(&["a", "b"]))),
            (
                "1012120000000400816602817602816e020701ff0a00b82adea8407ffaa8",
                Decoded::Hash(vec![
                    (b"f".to_vec(), b"v".to_vec()),
                    (b"n".to_vec(), b"7".to_vec()),
                ]),
            ),
            (
                "1114140000000400816d0283312e3504816e020201ff0a00f1b03a6d585f6938",
                Decoded::ZSet(vec![(b"m".to_vec(), 1.5), (b"n".to_vec(), 2.0)]),
            ),
            (
                "00c3094064017878e057000178780a005db7f663bb08625f",
                Decoded::Str(vec![b'x'; 100]),
            ),
        ];
        for (payload, want) in cases {
            assert_eq!(restore_payload(&hex(payload)), Some(want), "{payload}");
        }
    }

    #[test]
    fn lzf_back_references() {
        // "abcabcabc": literal "abc", then a back reference of 6 at distance 3.
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(lzf_decompress(&input, 9).unwrap(), b"abcabcabc");
        assert_eq!(lzf_decompress(&input, 8), None);
        assert_eq!(lzf_decompress(&[(1 << 5), 5], 3), None);
    }

    #[test]
    fn lzf_compression_round_trips_and_gives_up_when_it_does_not_pay() {
        let text = b"the quick brown fox jumps over the lazy dog; ".repeat(40);
        let packed = lzf_compress(&text, text.len() - 4).unwrap();
        assert!(packed.len() < text.len() / 10, "{}", packed.len());
        assert_eq!(lzf_decompress(&packed, text.len()).unwrap(), text);
        // Long runs need the 3-byte back reference form.
        let run = vec![b'a'; 5000];
        let packed = lzf_compress(&run, run.len() - 4).unwrap();
        assert_eq!(lzf_decompress(&packed, run.len()).unwrap(), run);
        // Incompressible bytes do not fit in len - 4.
        let noise: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(lzf_compress(&noise, noise.len() - 4), None);
    }

    #[test]
    fn long_strings_are_written_compressed_only_with_rdbcompression() {
        let value = Decoded::Str(b"x".repeat(100));
        let packed = dump_payload(&value, true);
        let plain = dump_payload(&value, false);
        // Type byte, then Redis's LZF encoding marker.
        assert_eq!(packed[1], 0xc3);
        assert!(packed.len() < plain.len());
        assert_eq!(restore_payload(&packed), Some(value.clone()));
        assert_eq!(restore_payload(&plain), Some(value));
        // At most 20 bytes: never compressed, as in Redis.
        let short = Decoded::Str(b"y".repeat(20));
        assert_eq!(dump_payload(&short, true), dump_payload(&short, false));
    }

    proptest::proptest! {
        #[test]
        fn lzf_compression_round_trips_any_input(
            input in proptest::collection::vec(
                proptest::prop_oneof![0u8..4, proptest::num::u8::ANY], 0..3000)
        ) {
            if let Some(packed) = lzf_compress(&input, input.len() + input.len() / 16 + 16) {
                proptest::prop_assert_eq!(lzf_decompress(&packed, input.len()), Some(input));
            }
        }
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        // A list declaring 2^40 elements in a few bytes.
        let mut w = Writer::new();
        w.length(1 << 40);
        assert!(Reader::new(&w.out).value(kind::LIST).is_err());
    }
}

/// Writes RDB bytes to `out`, keeping the running CRC-64 of everything
/// written, as the file's trailer needs.
pub struct FileWriter<W: std::io::Write> {
    out: W,
    crc: u64,
    written: u64,
    compress: bool,
}

impl<W: std::io::Write> FileWriter<W> {
    /// Starts a file: magic, version and the aux fields Redis writes.
    /// `compress` is `rdbcompression`.
    pub fn start(out: W, ctime_secs: u64, compress: bool) -> std::io::Result<FileWriter<W>> {
        let mut w = FileWriter {
            out,
            crc: 0,
            written: 0,
            compress,
        };
        w.put(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        for (k, v) in [
            ("redis-ver", "7.0.15".to_string()),
            ("redis-bits", "64".to_string()),
            ("ctime", ctime_secs.to_string()),
            ("aof-base", "0".to_string()),
        ] {
            let mut aux = Writer::new();
            aux.u8(opcode::AUX);
            aux.string(k.as_bytes());
            aux.string(v.as_bytes());
            w.put(&aux.out)?;
        }
        Ok(w)
    }

    pub fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc = crc64(self.crc, bytes);
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    /// `SELECTDB` and `RESIZEDB` before a database's keys.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> std::io::Result<()> {
        let mut w = Writer::new();
        w.u8(opcode::SELECTDB);
        w.length(db as u64);
        w.u8(opcode::RESIZEDB);
        w.length(keys as u64);
        w.length(expires as u64);
        self.put(&w.out)
    }

    /// One key: its expiry (Unix ms) if any, then type, key and value.
    pub fn key_value(
        &mut self,
        key: &[u8],
        value: &Decoded,
        expire_ms: Option<u64>,
    ) -> std::io::Result<()> {
        let mut w = Writer::compressing(self.compress);
        if let Some(at) = expire_ms {
            w.u8(opcode::EXPIRETIME_MS);
            w.out.extend_from_slice(&at.to_le_bytes());
        }
        w.u8(kind_of(value));
        w.string(key);
        w.value(value);
        self.put(&w.out)
    }

    /// EOF and the checksum; returns the writer and the bytes written.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.put(&[opcode::EOF])?;
        let crc = self.crc;
        self.out.write_all(&crc.to_le_bytes())?;
        Ok((self.out, self.written + 8))
    }
}

/// One key read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Decoded,
    pub expire_ms: Option<u64>,
    pub idle_secs: Option<u64>,
    /// Where in the file this key's record ends (loading progress).
    pub offset: usize,
}

/// Reads a whole RDB file, calling `each` per key in file order. Checks the
/// header, every opcode and the trailing CRC-64 (unless it is zero, which
/// Redis writes with `rdbchecksum no`). Returns how many bytes the RDB
/// took: an AOF with an RDB preamble continues with commands after them.
///
/// # Errors
/// The first malformed byte, by offset.
pub fn read_file(data: &[u8], mut each: impl FnMut(LoadedKey) -> Result<()>) -> Result<usize> {
    let mut r = Reader::new(data);
    let magic = r.bytes(9)?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError {
            offset: 0,
            what: "wrong signature trying to load DB from file".into(),
        });
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
        .ok_or(RdbError {
            offset: 5,
            what: "invalid RDB version".into(),
        })?;
    if !(1..=RDB_VERSION).contains(&version) {
        return Err(RdbError {
            offset: 5,
            what: format!("can't handle RDB format version {version}"),
        });
    }
    let mut db = 0;
    let mut expire = None;
    let mut idle = None;
    loop {
        let op = r.u8()?;
        match op {
            opcode::EOF => break,
            opcode::SELECTDB => {
                db = usize::try_from(r.length()?).unwrap_or(usize::MAX);
            }
            opcode::RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            opcode::AUX => {
                r.string()?;
                r.string()?;
            }
            opcode::EXPIRETIME_MS => expire = Some(r.u64_le()?),
            opcode::EXPIRETIME => expire = Some(u64::from(r.u32_le()?) * 1000),
            opcode::FREQ => {
                r.u8()?;
            }
            opcode::IDLE => idle = Some(r.length()?),
            opcode::MODULE_AUX => return r.error("module data is not supported"),
            opcode::FUNCTION2 => return r.error("functions are not supported"),
            kind => {
                let key = r.string()?;
                let value = r.value(kind)?;
                each(LoadedKey {
                    db,
                    key,
                    value,
                    expire_ms: expire.take(),
                    idle_secs: idle.take(),
                    offset: r.pos,
                })?;
            }
        }
    }
    if version >= 5 {
        let end = r.pos;
        let stored = r.u64_le()?;
        if stored != 0 && stored != crc64(0, &data[..end]) {
            return Err(RdbError {
                offset: end,
                what: "wrong RDB checksum".into(),
            });
        }
    }
    Ok(r.pos)
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn a_file_round_trips_and_damage_is_found() {
        let mut w = FileWriter::start(Vec::new(), 1_700_000_000, true).unwrap();
        w.select_db(0, 2, 1).unwrap();
        w.key_value(b"a", &Decoded::Str(b"1".to_vec()), None)
            .unwrap();
        w.key_value(b"b", &Decoded::List(vec![b"x".to_vec()]), Some(42))
            .unwrap();
        w.select_db(3, 1, 0).unwrap();
        w.key_value(b"c", &Decoded::Set(vec![b"m".to_vec()]), None)
            .unwrap();
        let (data, len) = w.finish().unwrap();
        assert_eq!(len as usize, data.len());
        let mut keys = Vec::new();
        read_file(&data, |k| {
            keys.push((k.db, k.key, k.expire_ms));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            keys,
            vec![
                (0, b"a".to_vec(), None),
                (0, b"b".to_vec(), Some(42)),
                (3, b"c".to_vec(), None)
            ]
        );
        for i in [0, 12, data.len() / 2, data.len() - 1] {
            let mut bad = data.clone();
            bad[i] ^= 0x55;
            assert!(read_file(&bad, |_| Ok(())).is_err(), "flip at {i}");
        }
        for cut in [0, 9, data.len() / 2, data.len() - 1] {
            assert!(read_file(&data[..cut], |_| Ok(())).is_err(), "cut at {cut}");
        }
    }
}
