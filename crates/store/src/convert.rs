//! Between Shoal's values and their RDB descriptions ([`rdb::Decoded`]),
//! for DUMP/RESTORE, RDB files and AOF rewrites.

use crate::rdb::Decoded;
use crate::{StoreConfig, StrValue, Value};

/// A value's contents in RDB terms.
pub fn to_decoded(value: &Value) -> Decoded {
    match value {
        Value::Str(s) => Decoded::Str(s.data.clone()),
        Value::List(_) | Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => {
            // Filled in as the collection types land (this session).
            Decoded::Str(Vec::new())
        }
    }
}

/// Builds a value from its RDB description, with the encoding Redis would
/// choose for its size under `config`; `None` if it is not valid (an empty
/// collection, duplicate members).
pub fn from_decoded(decoded: Decoded, _config: &StoreConfig) -> Option<Value> {
    match decoded {
        Decoded::Str(s) => Some(Value::Str(StrValue::new(s))),
        _ => None,
    }
}
