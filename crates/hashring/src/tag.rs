//! Hash tags: hashing only part of a key so related keys land together.

use crate::Error;

/// Which part of a key is hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashTag {
    /// The whole key.
    #[default]
    None,
    /// twemproxy's `hash_tag: "ab"`: after the first `a`, up to the next
    /// `b`, if that part is not empty; otherwise the whole key.
    Twemproxy([u8; 2]),
    /// Redis Cluster's rule: after the first `{`, up to the next `}`, if
    /// that part is not empty; otherwise the whole key. Equal to
    /// `Twemproxy(*b"{}")`, kept separate to say which system it follows.
    RedisCluster,
    /// Codis' rule: after the first `{`, up to the next `}` even when that
    /// part is empty; the whole key when either brace is missing.
    Codis,
}

impl HashTag {
    /// Parses twemproxy's two-character `hash_tag` setting.
    ///
    /// # Errors
    /// [`Error::InvalidHashTag`] unless `spec` is exactly two bytes.
    pub fn twemproxy(spec: &str) -> Result<HashTag, Error> {
        match spec.as_bytes() {
            [a, b] => Ok(HashTag::Twemproxy([*a, *b])),
            _ => Err(Error::InvalidHashTag(spec.to_owned())),
        }
    }

    /// The part of `key` that is hashed.
    pub fn apply<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        match *self {
            HashTag::None => key,
            HashTag::Twemproxy([open, close]) => between(key, open, close, false),
            HashTag::RedisCluster => between(key, b'{', b'}', false),
            HashTag::Codis => between(key, b'{', b'}', true),
        }
    }
}

fn between(key: &[u8], open: u8, close: u8, allow_empty: bool) -> &[u8] {
    let Some(start) = find(key, open) else {
        return key;
    };
    let rest = &key[start + 1..];
    match find(rest, close) {
        Some(end) if end > 0 || allow_empty => &rest[..end],
        _ => key,
    }
}

/// The first `byte` in `hay`, eight bytes per step: keys are short, and a
/// per-byte loop is most of a slot lookup otherwise.
fn find(hay: &[u8], byte: u8) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = LOW * u64::from(byte);
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes")) ^ pattern;
        // A zero byte in `word` is a match; this flags the first one exactly
        // (borrows only run past a zero, never before the lowest one).
        let zero = word.wrapping_sub(LOW) & !word & HIGH;
        if zero != 0 {
            return Some(offset + (zero.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tag: HashTag, key: &str, expected: &str) {
        assert_eq!(
            tag.apply(key.as_bytes()),
            expected.as_bytes(),
            "{tag:?} on {key:?}"
        );
    }

    #[test]
    fn redis_cluster_rules() {
        // The examples of the Redis Cluster specification.
        check(HashTag::RedisCluster, "{user1000}.following", "user1000");
        check(HashTag::RedisCluster, "{user1000}.followers", "user1000");
        check(HashTag::RedisCluster, "foo{}{bar}", "foo{}{bar}");
        check(HashTag::RedisCluster, "foo{{bar}}zap", "{bar");
        check(HashTag::RedisCluster, "foo{bar}{zap}", "bar");
        check(HashTag::RedisCluster, "nobraces", "nobraces");
        check(HashTag::RedisCluster, "open{only", "open{only");
    }

    #[test]
    fn twemproxy_rules() {
        let tag = HashTag::twemproxy("{}").unwrap();
        check(tag, "foo{bar}baz", "bar");
        check(tag, "foo{}bar", "foo{}bar");
        let colon = HashTag::twemproxy("::").unwrap();
        check(colon, "user:42:name", "42");
        assert!(HashTag::twemproxy("{").is_err());
        assert!(HashTag::twemproxy("{}}").is_err());
    }

    #[test]
    fn find_agrees_with_a_byte_loop() {
        let hay: Vec<u8> = (0..64u32).map(|i| (i * 37 % 251) as u8).collect();
        for len in 0..hay.len() {
            for byte in [0u8, 1, 0x7f, 0x80, 0xff, b'{', hay[len / 2]] {
                let hay = &hay[..len];
                assert_eq!(
                    find(hay, byte),
                    hay.iter().position(|&b| b == byte),
                    "len {len} byte {byte}"
                );
            }
        }
        // Every position in a chunk, and bytes that differ from the target
        // by the high bit or by one.
        for at in 0..24 {
            let mut hay = vec![b'{' ^ 0x80; 24];
            hay[..at].fill(b'{' + 1);
            hay[at] = b'{';
            assert_eq!(find(&hay, b'{'), Some(at));
        }
    }

    #[test]
    fn codis_allows_empty_tag() {
        check(HashTag::Codis, "foo{}bar", "");
        check(HashTag::Codis, "a{b}c", "b");
        check(HashTag::Codis, "a{bc", "a{bc");
    }
}
