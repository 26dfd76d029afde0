//! `DEBUG DIGEST` and `DEBUG DIGEST-VALUE`: a SHA1 fingerprint of the
//! dataset, computed as Redis 7.0 does, so the same data gives the same
//! 40 hex digits on Shoal and on Redis.
//!
//! Two primitives: `xor` folds SHA1(data) into a digest (order does not
//! matter: set members, hash fields, keys), `mix` also hashes the digest
//! itself afterwards (order matters: list elements, a key then its value).
//! Every element is digested in its string form, whatever its encoding;
//! scores as `%.17g`.

use sha1_smol::Sha1;

use crate::{Db, Store, Value};

pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    Sha1::from(data).digest().bytes()
}

/// `digest ^= SHA1(data)`.
fn xor(digest: &mut Digest, data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// `digest = SHA1(digest ^ SHA1(data))`.
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(digest);
}

/// Mixes `key`'s value (its type, contents and whether it has a TTL) into
/// `digest`, as Redis's `xorObjectDigest`.
fn mix_value(digest: &mut Digest, db: &Db, key: &[u8], value: &Value) {
    let type_code: u32 = match value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix(digest, &type_code.to_be_bytes());
    match value {
        Value::Str(s) => mix(digest, &s.data),
        Value::List(list) => list.iter().for_each(|e| mix(digest, e)),
        Value::Set(set) => set.iter().for_each(|e| xor(digest, &e.to_vec())),
        Value::ZSet(z) => {
            for (member, score) in z.iter() {
                let mut element = [0; 20];
                mix(&mut element, member);
                mix(&mut element, shoal_resp::format_double(score).as_bytes());
                xor(digest, &element);
            }
        }
        Value::Hash(h) => h.for_each(|field, value| {
            let mut element = [0; 20];
            mix(&mut element, field);
            mix(&mut element, value);
            xor(digest, &element);
        }),
        Value::Stream(s) => {
            use crate::types::stream::StreamId;
            s.visit(StreamId::MIN, StreamId::MAX, false, |e| {
                mix(digest, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                let mut buf = Vec::new();
                for (field, value) in e.fields() {
                    buf.clear();
                    field.write_to(&mut buf);
                    mix(digest, &buf);
                    buf.clear();
                    value.write_to(&mut buf);
                    mix(digest, &buf);
                }
                true
            });
        }
    }
    if db.expire_at(key).is_some() {
        xor(digest, b"!!expire!!");
    }
}

/// `DEBUG DIGEST-VALUE key`: the value's digest, all zeros for a missing
/// key. Logically expired keys still count, as in Redis.
pub fn value_digest(db: &Db, key: &[u8]) -> Digest {
    let mut digest = [0; 20];
    if let Some(entry) = db.keys.get(key) {
        mix_value(&mut digest, db, key, &entry.value);
    }
    digest
}

/// `DEBUG DIGEST`: every key-value pair of every database; all zeros for
/// an empty dataset.
pub fn dataset_digest(store: &Store) -> Digest {
    let mut digest = [0; 20];
    for (index, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut digest, &(index as u32).to_be_bytes());
        for entry in db.keys.iter() {
            let mut pair = [0; 20];
            mix(&mut pair, &entry.key);
            mix_value(&mut pair, db, &entry.key, &entry.value);
            xor(&mut digest, &pair);
        }
    }
    digest
}

/// The digest as Redis prints it: 40 lowercase hex digits.
pub fn to_hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(store: &mut Store, line: &str) {
        let args: Vec<&str> = line.split(' ').collect();
        let reply = crate::run_line(store, &args);
        assert!(
            !reply.starts_with(b"-"),
            "{line}: {}",
            String::from_utf8_lossy(&reply)
        );
    }

    /// The expected digits are redis-server 7.0.15's replies to
    /// `DEBUG DIGEST-VALUE` for the same commands.
    #[test]
    fn value_digests_are_redis_digits() {
        let mut store = Store::new(1);
        for line in [
            "SET s hello",
            "EXPIRE s 100",
            "RPUSH l a b 3",
            "SADD si 1 2 3",
            "ZADD z 1.5 a 2 b 3.1 c",
            "HSET h f v g 2",
        ] {
            run(&mut store, line);
        }
        let db = &store.dbs[0];
        let hex = |key: &str| to_hex(&value_digest(db, key.as_bytes()));
        assert_eq!(hex("s"), "d037c4eb8a8b36b602fbced4000daeab0714c1e3");
        assert_eq!(hex("l"), "09eb1fc9381ee92790d59930ab462945f8cd948b");
        assert_eq!(hex("z"), "609ba30ebb9e63a28d388bba3a5451f6c9da8d5b");
        assert_eq!(hex("h"), "9dc7e1ed596e8ccab4b91d04b8317fc85b68294a");
        assert_eq!(hex("si"), "2a462a3f51a1db89738ebbeef0c47ce1bbc85246");
        assert_eq!(hex("missing"), "0".repeat(40));
        assert_ne!(to_hex(&dataset_digest(&store)), "0".repeat(40));
        assert_eq!(to_hex(&dataset_digest(&Store::new(1))), "0".repeat(40));
    }
}
