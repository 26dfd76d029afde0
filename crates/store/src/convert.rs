//! Between Shoal's values and their RDB descriptions ([`rdb::Decoded`]),
//! for DUMP/RESTORE, RDB files and AOF rewrites.

use crate::rdb::Decoded;
use crate::types::hash::{self, Hash};
use crate::types::{List, Set, ZSet};
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
        Value::Set(set) => Decoded::Set(set.iter().map(|e| e.to_vec()).collect()),
        Value::ZSet(z) => Decoded::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s)).collect()),
        Value::List(list) => Decoded::List(list.iter().map(<[u8]>::to_vec).collect()),
        Value::Stream(s) => Decoded::Stream(s.data.clone()),
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
        Decoded::List(items) => {
            if items.is_empty() {
                return None;
            }
            let mut list = List::new(config.list_max_listpack_size);
            for item in &items {
                list.push_back(item);
            }
            Some(Value::List(Coll::new(list)))
        }
        Decoded::Set(members) => {
            if members.is_empty() {
                return None;
            }
            let mut set = Set::new();
            for m in &members {
                if !set.add(m, config.set_max_intset_entries) {
                    return None;
                }
            }
            Some(Value::Set(Coll::new(set)))
        }
        Decoded::Stream(s) => Some(Value::Stream(Coll::new(s))),
        Decoded::ZSet(items) => {
            if items.is_empty() {
                return None;
            }
            let (max_entries, max_value) = (
                config.zset_max_listpack_entries,
                config.zset_max_listpack_value,
            );
            let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut z = ZSet::with_hint(items.len(), longest, max_entries, max_value);
            for (m, s) in &items {
                if s.is_nan() || z.score(m).is_some() {
                    return None;
                }
                z.insert(m, *s, max_entries, max_value);
            }
            Some(Value::ZSet(Coll::new(z)))
        }
    }
}
