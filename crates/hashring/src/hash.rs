//! Key hash functions: every one twemproxy (nutcracker 0.5) offers, bit for
//! bit, plus MurmurHash3 and XXH3.
//!
//! twemproxy's functions read keys through `const char *`, and on the
//! platforms it ships for (x86-64, where `char` is signed) a byte ≥ 0x80 is
//! sign-extended before it is mixed in. Several functions below reproduce
//! that with [`sx`]; dropping it would send non-ASCII keys to a different
//! server than nutcracker does.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A key hash function, named as twemproxy's `hash:` setting spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashFn {
    /// Bob Jenkins' one-at-a-time hash.
    OneAtATime,
    /// The first four bytes of the MD5 digest, little-endian.
    Md5,
    /// CRC16-XMODEM as twemproxy computes it (no 16-bit mask on the state).
    Crc16,
    /// libmemcached's CRC32: bits 16..31 of the inverted CRC, 15 bits.
    Crc32,
    /// The standard CRC32 (IEEE 802.3), as zlib computes it.
    Crc32a,
    /// FNV-1 64-bit, truncated to 32 bits.
    Fnv1_64,
    /// twemproxy's `fnv1a_64`: FNV-1a with the 64-bit constants truncated to 32 bits.
    Fnv1a64,
    /// FNV-1 32-bit.
    Fnv1_32,
    /// FNV-1a 32-bit.
    Fnv1a32,
    /// Paul Hsieh's SuperFastHash, twemproxy's variant (initial state 0).
    Hsieh,
    /// twemproxy's `murmur`: MurmurHash2 with seed `0xdeadbeef * len`.
    Murmur,
    /// Bob Jenkins' lookup3 `hashlittle` with initval 13.
    Jenkins,
    /// MurmurHash3 x86_32, seed 0.
    Murmur3_32,
    /// MurmurHash3 x64_128, seed 0; the first 64-bit half is used.
    Murmur3_128,
    /// XXH3 64-bit, seed 0: the fast default for strategies that need no
    /// compatibility with another system.
    Xxh3,
}

impl HashFn {
    /// Every hash function, in the order `shoal ring` lists them.
    pub const ALL: [HashFn; 15] = [
        HashFn::OneAtATime,
        HashFn::Md5,
        HashFn::Crc16,
        HashFn::Crc32,
        HashFn::Crc32a,
        HashFn::Fnv1_64,
        HashFn::Fnv1a64,
        HashFn::Fnv1_32,
        HashFn::Fnv1a32,
        HashFn::Hsieh,
        HashFn::Murmur,
        HashFn::Jenkins,
        HashFn::Murmur3_32,
        HashFn::Murmur3_128,
        HashFn::Xxh3,
    ];

    /// The name used on the command line and in twemproxy's config.
    pub fn name(self) -> &'static str {
        match self {
            HashFn::OneAtATime => "one_at_a_time",
            HashFn::Md5 => "md5",
            HashFn::Crc16 => "crc16",
            HashFn::Crc32 => "crc32",
            HashFn::Crc32a => "crc32a",
            HashFn::Fnv1_64 => "fnv1_64",
            HashFn::Fnv1a64 => "fnv1a_64",
            HashFn::Fnv1_32 => "fnv1_32",
            HashFn::Fnv1a32 => "fnv1a_32",
            HashFn::Hsieh => "hsieh",
            HashFn::Murmur => "murmur",
            HashFn::Jenkins => "jenkins",
            HashFn::Murmur3_32 => "murmur3_32",
            HashFn::Murmur3_128 => "murmur3_128",
            HashFn::Xxh3 => "xxh3",
        }
    }

    /// Whether twemproxy (nutcracker 0.5) offers this function.
    pub fn is_twemproxy(self) -> bool {
        !matches!(
            self,
            HashFn::Murmur3_32 | HashFn::Murmur3_128 | HashFn::Xxh3
        )
    }

    /// The 32-bit hash, exactly as twemproxy computes it for its functions.
    pub fn hash32(self, key: &[u8]) -> u32 {
        match self {
            HashFn::OneAtATime => one_at_a_time(key),
            HashFn::Md5 => md5_u32(key, 0),
            HashFn::Crc16 => crc16_twemproxy(key),
            HashFn::Crc32 => crc32_libmemcached(key),
            HashFn::Crc32a => crc32(key),
            HashFn::Fnv1_64 => fnv1_64(key),
            HashFn::Fnv1a64 => fnv1a_64(key),
            HashFn::Fnv1_32 => fnv1_32(key),
            HashFn::Fnv1a32 => fnv1a_32(key),
            HashFn::Hsieh => hsieh(key),
            HashFn::Murmur => murmur2_twemproxy(key),
            HashFn::Jenkins => jenkins(key),
            HashFn::Murmur3_32 => murmur3_32(key, 0),
            HashFn::Murmur3_128 => murmur3_128(key, 0).0 as u32,
            HashFn::Xxh3 => xxh3(key) as u32,
        }
    }

    /// A 64-bit hash for strategies that want more than 32 bits (jump,
    /// maglev, rendezvous). Functions with a native 64-bit output give it;
    /// 32-bit ones are widened with a bijective mixer, which spreads their
    /// bits but cannot add entropy: they still have at most 2^32 outputs.
    pub fn hash64(self, key: &[u8]) -> u64 {
        match self {
            HashFn::Murmur3_128 => murmur3_128(key, 0).0,
            HashFn::Xxh3 => xxh3(key),
            other => mix64(u64::from(other.hash32(key))),
        }
    }
}

impl fmt::Display for HashFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashFn {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashFn::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| Error::UnknownHash(s.to_owned()))
    }
}

/// A C `char` on x86-64 is signed: twemproxy widens bytes with sign extension.
#[inline]
fn sx(b: u8) -> u32 {
    b as i8 as i32 as u32
}

/// The splitmix64 finalizer: a bijection on u64 with full avalanche.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// XXH3 64-bit with seed 0.
#[inline]
pub fn xxh3(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

fn one_at_a_time(key: &[u8]) -> u32 {
    let mut v: u32 = 0;
    for &b in key {
        v = v.wrapping_add(sx(b));
        v = v.wrapping_add(v << 10);
        v ^= v >> 6;
    }
    v = v.wrapping_add(v << 3);
    v ^= v >> 11;
    v.wrapping_add(v << 15)
}

/// Four bytes of the MD5 digest starting at `4 * word`, little-endian; ketama
/// takes all four words of each digest as four points.
pub(crate) fn md5_u32(key: &[u8], word: usize) -> u32 {
    let d = md5::compute(key).0;
    u32::from_le_bytes([
        d[4 * word],
        d[4 * word + 1],
        d[4 * word + 2],
        d[4 * word + 3],
    ])
}

const fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

const fn crc32_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// `SLICE[k][b]`: the CRC of byte `b` followed by `k` zero bytes. Eight
/// tables let the CRC consume eight bytes per step ("slicing-by-8")
/// instead of one: the slot lookups of Redis Cluster and Codis are
/// dominated by their CRC.
const fn crc16_slices() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    t[0] = crc16_table();
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

const fn crc32_slices() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    t[0] = crc32_table();
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

static CRC16_SLICES: [[u16; 256]; 8] = crc16_slices();
static CRC32_SLICES: [[u32; 256]; 8] = crc32_slices();
static CRC16: [u16; 256] = crc16_table();
static CRC32: [u32; 256] = crc32_table();

/// CRC16-XMODEM (poly 0x1021, init 0): Redis Cluster's key slot hash.
pub fn crc16(key: &[u8]) -> u16 {
    let t = &CRC16_SLICES;
    let mut crc = 0u16;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        // The CRC is linear: the running state is XORed into the first two
        // bytes, then each byte contributes its table for its distance to
        // the end of the chunk.
        let a = c[0] ^ (crc >> 8) as u8;
        let b = c[1] ^ crc as u8;
        crc = t[7][usize::from(a)]
            ^ t[6][usize::from(b)]
            ^ t[5][usize::from(c[2])]
            ^ t[4][usize::from(c[3])]
            ^ t[3][usize::from(c[4])]
            ^ t[2][usize::from(c[5])]
            ^ t[1][usize::from(c[6])]
            ^ t[0][usize::from(c[7])];
    }
    chunks.remainder().iter().fold(crc, |crc, &b| {
        (crc << 8) ^ CRC16[usize::from(((crc >> 8) as u8) ^ b)]
    })
}

/// Byte-at-a-time CRC16-XMODEM: the definition the sliced one is tested against.
#[cfg(test)]
fn crc16_bytewise(key: &[u8]) -> u16 {
    key.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16[usize::from(((crc >> 8) as u8) ^ b)]
    })
}

/// twemproxy keeps the CRC16 state in a `uint32_t` and never masks it, so
/// bits above 16 carry shifted-out state into the hash it returns. The low
/// 16 bits equal [`crc16`].
fn crc16_twemproxy(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ u32::from(CRC16[((crc >> 8) ^ u32::from(b)) as usize & 0xff])
    })
}

/// The standard CRC32 (IEEE): Codis' slot hash and twemproxy's `crc32a`.
pub fn crc32(key: &[u8]) -> u32 {
    let t = &CRC32_SLICES;
    let mut crc = !0u32;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let x = crc ^ le32(&c[0..4]);
        crc = t[7][(x & 0xff) as usize]
            ^ t[6][((x >> 8) & 0xff) as usize]
            ^ t[5][((x >> 16) & 0xff) as usize]
            ^ t[4][(x >> 24) as usize]
            ^ t[3][usize::from(c[4])]
            ^ t[2][usize::from(c[5])]
            ^ t[1][usize::from(c[6])]
            ^ t[0][usize::from(c[7])];
    }
    !chunks.remainder().iter().fold(crc, |crc, &b| {
        CRC32[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
fn crc32_bytewise(key: &[u8]) -> u32 {
    !key.iter().fold(!0u32, |crc, &b| {
        CRC32[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

fn crc32_libmemcached(key: &[u8]) -> u32 {
    (crc32(key) >> 16) & 0x7fff
}

const FNV_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_32_INIT: u32 = 0x811c_9dc5;
const FNV_32_PRIME: u32 = 0x0100_0193;

fn fnv1_64(key: &[u8]) -> u32 {
    let mut h = FNV_64_INIT;
    for &b in key {
        h = h.wrapping_mul(FNV_64_PRIME);
        h ^= b as i8 as i64 as u64;
    }
    h as u32
}

fn fnv1a_64(key: &[u8]) -> u32 {
    let mut h = FNV_64_INIT as u32;
    for &b in key {
        h ^= sx(b);
        h = h.wrapping_mul(FNV_64_PRIME as u32);
    }
    h
}

fn fnv1_32(key: &[u8]) -> u32 {
    let mut h = FNV_32_INIT;
    for &b in key {
        h = h.wrapping_mul(FNV_32_PRIME);
        h ^= sx(b);
    }
    h
}

fn fnv1a_32(key: &[u8]) -> u32 {
    let mut h = FNV_32_INIT;
    for &b in key {
        h ^= sx(b);
        h = h.wrapping_mul(FNV_32_PRIME);
    }
    h
}

#[inline]
fn get16(k: &[u8]) -> u32 {
    u32::from(k[0]) | (u32::from(k[1]) << 8)
}

fn hsieh(key: &[u8]) -> u32 {
    if key.is_empty() {
        return 0;
    }
    let mut h: u32 = 0;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        h = h.wrapping_add(get16(c));
        let tmp = (get16(&c[2..]) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h = h.wrapping_add(h >> 11);
    }
    let rest = chunks.remainder();
    match rest.len() {
        3 => {
            h = h.wrapping_add(get16(rest));
            h ^= h << 16;
            h ^= sx(rest[2]) << 18;
            h = h.wrapping_add(h >> 11);
        }
        2 => {
            h = h.wrapping_add(get16(rest));
            h ^= h << 11;
            h = h.wrapping_add(h >> 17);
        }
        1 => {
            h = h.wrapping_add(u32::from(rest[0]));
            h ^= h << 10;
            h = h.wrapping_add(h >> 1);
        }
        _ => {}
    }
    h ^= h << 3;
    h = h.wrapping_add(h >> 5);
    h ^= h << 4;
    h = h.wrapping_add(h >> 17);
    h ^= h << 25;
    h.wrapping_add(h >> 6)
}

fn murmur2_twemproxy(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let len = key.len() as u32;
    let mut h = 0xdead_beef_u32.wrapping_mul(len) ^ len;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

fn jenkins(key: &[u8]) -> u32 {
    #[inline]
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }
    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(13);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = key;
    // lookup3 mixes only while more than 12 bytes remain: the last block,
    // even a full one, goes through `final` instead.
    while k.len() > 12 {
        a = a.wrapping_add(le32(&k[0..4]));
        b = b.wrapping_add(le32(&k[4..8]));
        c = c.wrapping_add(le32(&k[8..12]));
        mix(&mut a, &mut b, &mut c);
        k = &k[12..];
    }
    if k.is_empty() {
        return c;
    }
    let mut tail = [0u8; 12];
    tail[..k.len()].copy_from_slice(k);
    a = a.wrapping_add(le32(&tail[0..4]));
    b = b.wrapping_add(le32(&tail[4..8]));
    c = c.wrapping_add(le32(&tail[8..12]));
    // final(a, b, c)
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

#[inline]
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// MurmurHash3 x86_32 (Austin Appleby).
pub fn murmur3_32(key: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        let k = le32(c).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut k: u32 = 0;
        for (i, &b) in rest.iter().enumerate() {
            k |= u32::from(b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= key.len() as u32;
    fmix32(h)
}

#[inline]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// MurmurHash3 x64_128 (Austin Appleby): returns `(h1, h2)`.
pub fn murmur3_128(key: &[u8], seed: u64) -> (u64, u64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let (mut h1, mut h2) = (seed, seed);
    let mut chunks = key.chunks_exact(16);
    for c in &mut chunks {
        let k1 = le64(&c[0..8])
            .wrapping_mul(C1)
            .rotate_left(31)
            .wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        let k2 = le64(&c[8..16])
            .wrapping_mul(C2)
            .rotate_left(33)
            .wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 16];
    tail[..rest.len()].copy_from_slice(rest);
    if rest.len() > 8 {
        h2 ^= le64(&tail[8..16])
            .wrapping_mul(C2)
            .rotate_left(33)
            .wrapping_mul(C1);
    }
    if !rest.is_empty() {
        h1 ^= le64(&tail[0..8])
            .wrapping_mul(C1)
            .rotate_left(31)
            .wrapping_mul(C2);
    }
    let len = key.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_check_value() {
        // The CRC catalogue's check value for CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(HashFn::Crc16.hash32(b"123456789") & 0xffff, 0x31c3);
    }

    #[test]
    fn sliced_crcs_equal_bytewise() {
        let seed = 0x5eed_u64;
        println!("seed {seed}");
        let mut state = seed;
        for len in 0..100usize {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = mix64(state.wrapping_add(1));
                    state as u8
                })
                .collect();
            assert_eq!(crc16(&bytes), crc16_bytewise(&bytes), "len {len}");
            assert_eq!(crc32(&bytes), crc32_bytewise(&bytes), "len {len}");
        }
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(HashFn::Crc32a.hash32(b"123456789"), 0xcbf4_3926);
        assert_eq!(
            HashFn::Crc32.hash32(b"123456789"),
            (0xcbf4_3926 >> 16) & 0x7fff
        );
    }

    #[test]
    fn murmur3_published_vectors() {
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(b"\0\0\0\0", 0), 0x2362_f9de);
        assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
        assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
        assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
        assert_eq!(murmur3_128(b"", 0), (0, 0));
        assert_eq!(
            murmur3_128(b"The quick brown fox jumps over the lazy dog", 0),
            (0xe34b_bc7b_bc07_1b6c, 0x7a43_3ca9_c49a_9347)
        );
    }

    #[test]
    fn fnv_published_vectors() {
        // FNV-1 and FNV-1a 32-bit of "a" from the FNV reference test suite.
        assert_eq!(HashFn::Fnv1_32.hash32(b"a"), 0x050c_5d7e);
        assert_eq!(HashFn::Fnv1a32.hash32(b"a"), 0xe40c_292c);
        assert_eq!(HashFn::Fnv1_32.hash32(b""), 0x811c_9dc5);
        // FNV-1 64-bit of "a" is 0xaf63bd4c8601b7be; twemproxy keeps the low half.
        assert_eq!(HashFn::Fnv1_64.hash32(b"a"), 0x8601_b7be);
    }

    #[test]
    fn md5_word_order() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(HashFn::Md5.hash32(b""), 0xd98c_1dd4);
        assert_eq!(md5_u32(b"", 3), 0x7e42_f8ec);
    }

    #[test]
    fn names_round_trip() {
        for h in HashFn::ALL {
            assert_eq!(h.name().parse::<HashFn>(), Ok(h));
        }
        assert!("sha1".parse::<HashFn>().is_err());
    }

    #[test]
    fn sign_extension_matters_for_high_bytes() {
        // A pinned difference: with unsigned widening fnv1a_32 of [0x80]
        // would be (0x811c9dc5 ^ 0x80) * prime.
        let unsigned = (FNV_32_INIT ^ 0x80).wrapping_mul(FNV_32_PRIME);
        assert_ne!(HashFn::Fnv1a32.hash32(&[0x80]), unsigned);
    }
}
