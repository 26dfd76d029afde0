//! Between Shoal's values and their RDB descriptions ([`rdb::Decoded`]),
//! for DUMP/RESTORE, RDB files and AOF rewrites.

use crate::rdb::Decoded;
use crate::types::hash::{self, Hash};
use crate::{Coll, StoreConfig, StrValue, Value};

/// A value's contents in RDB terms.
pub fn to_decoded(value: &Value) -> Decoded {
    match value {
        Value::Str(s) => Decoded::Str(s.data.clone()),
        Value::Hash(h) => {
            let mut pairs = Vec::with_capacity(h.len());
            h.for_each(|f, v| pairs.push((f.to_vec(), v.to_vec())));
            Decoded::Hash(pairs)
        }
        Value::List(_) | Value::Set(_) | Value::ZSet(_) => {
            // Filled in as the collection types land (this session).
            Decoded::Str(Vec::new())
        }
    }
}

/// Builds a value from its RDB description, with the encoding Redis would
/// choose for its size under `config`; `None` if it is not valid (an empty
/// collection, duplicate members).
pub fn from_decoded(decoded: Decoded, config: &StoreConfig) -> Option<Value> {
    match decoded {
        Decoded::Str(s) => Some(Value::Str(StrValue::new(s))),
        Decoded::Hash(pairs) => {
            if pairs.is_empty() {
                return None;
            }
            let limits = hash::Limits {
                max_entries: config.hash_max_listpack_entries,
                max_value: config.hash_max_listpack_value,
            };
            let mut h = Hash::new();
            h.convert_for(pairs.iter().flat_map(|(f, v)| [&f[..], &v[..]]), limits);
            for (f, v) in &pairs {
                // A repeated field makes the payload invalid, as in Redis.
                if !h.set(f, v, limits) {
                    return None;
                }
            }
            Some(Value::Hash(Coll::new(h)))
        }
        _ => None,
    }
}
