//! `MEMORY USAGE`: an estimate of the bytes a key and its value hold.
//!
//! Like Redis's `objectComputeSize`, collections are sampled: the average
//! size of the first `samples` elements (all of them when `samples` is 0)
//! times the element count, plus the fixed cost of the encoding. Compact
//! encodings pay a couple of bytes of framing per element; table encodings
//! pay an allocation and a slot per element. It is an estimate, as Redis's
//! is: allocator rounding is not modelled.

use crate::types::set::Elem;
use crate::{Db, Value};

/// Bytes of a keyspace entry apart from its key and value: the boxed
/// entry and its slot in the keys table.
const ENTRY_BYTES: usize = 48 + 16;
/// Per element of a compact encoding (listpack/intset framing).
const PACKED_ELEMENT_BYTES: usize = 2;
/// Per element of a table encoding: its allocation header and slot.
const TABLE_ELEMENT_BYTES: usize = 40;

/// Redis's default for `MEMORY USAGE` without `SAMPLES`.
pub const DEFAULT_SAMPLES: usize = 5;

/// `MEMORY USAGE key [SAMPLES samples]`; `None` for a missing key.
pub fn key_usage(db: &Db, key: &[u8], samples: usize) -> Option<usize> {
    let entry = db.keys.get(key)?;
    let expiry = if db.expire_at(key).is_some() { 24 } else { 0 };
    Some(ENTRY_BYTES + key.len() + expiry + value_usage(&entry.value, samples))
}

fn value_usage(value: &Value, samples: usize) -> usize {
    let take = if samples == 0 { usize::MAX } else { samples };
    match value {
        Value::Str(s) => s.data.capacity(),
        Value::List(list) => list.allocated_bytes(),
        Value::Hash(h) => {
            let mut sizes = Vec::new();
            h.for_each(|f, v| {
                if sizes.len() < take {
                    sizes.push(f.len() + v.len());
                }
            });
            match h.packed_bytes() {
                Some(bytes) => bytes,
                None => extrapolate(&sizes, h.len(), 2 * TABLE_ELEMENT_BYTES),
            }
        }
        Value::Set(set) => {
            let sizes: Vec<usize> = set
                .iter()
                .take(take)
                .map(|e| match e {
                    Elem::Int(_) => 8,
                    Elem::Str(s) => s.len(),
                })
                .collect();
            let per_element = match set.encoding_name() {
                "hashtable" => TABLE_ELEMENT_BYTES,
                "intset" => 0,
                _ => PACKED_ELEMENT_BYTES,
            };
            extrapolate(&sizes, set.len(), per_element)
        }
        Value::Stream(s) => s.heap_bytes(),
        Value::ZSet(z) => {
            let sizes: Vec<usize> = z.iter().take(take).map(|(m, _)| m.len() + 8).collect();
            let per_element = if z.encoding_name() == "skiplist" {
                // A table entry plus a skiplist node with its levels.
                2 * TABLE_ELEMENT_BYTES
            } else {
                2 * PACKED_ELEMENT_BYTES
            };
            extrapolate(&sizes, z.len(), per_element)
        }
    }
}

/// `len` elements whose sizes average those of `sampled`, each with
/// `overhead` bytes more.
fn extrapolate(sampled: &[usize], len: usize, overhead: usize) -> usize {
    if sampled.is_empty() {
        return 0;
    }
    let average = sampled.iter().sum::<usize>() as f64 / sampled.len() as f64;
    (average * len as f64) as usize + len * overhead
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn run(store: &mut Store, args: &[&str]) {
        let reply = crate::run_line(store, args);
        assert!(
            !reply.starts_with(b"-"),
            "{args:?}: {}",
            String::from_utf8_lossy(&reply)
        );
    }

    #[test]
    fn usage_grows_with_the_value_and_is_none_for_a_missing_key() {
        let mut store = Store::new(1);
        let big = "x".repeat(10_000);
        run(&mut store, &["SET", "small", "v"]);
        run(&mut store, &["SET", "big", &big]);
        let db = &store.dbs[0];
        let small = key_usage(db, b"small", 5).expect("present");
        let large = key_usage(db, b"big", 5).expect("present");
        assert!(small > 0 && small < 200, "small string: {small}");
        assert!((10_000..12_000).contains(&large), "10 KB string: {large}");
        assert_eq!(key_usage(db, b"missing", 5), None);

        for i in 0..1000 {
            let (field, member) = (format!("field:{i}"), format!("member:{i}"));
            run(&mut store, &["HSET", "h", &field, "value"]);
            run(&mut store, &["SADD", "s", &member]);
            run(&mut store, &["ZADD", "z", "1", &member]);
            run(&mut store, &["RPUSH", "l", &member]);
        }
        for key in ["h", "s", "z", "l"] {
            let all = key_usage(&store.dbs[0], key.as_bytes(), 0).expect("present");
            // 1000 elements of about 10-20 bytes each.
            assert!((10_000..200_000).contains(&all), "{key}: {all}");
        }
    }
}
