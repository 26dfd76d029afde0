//! Keyspace notifications (`notify-keyspace-events`) and the keys that
//! became ready for blocked clients. The store only records them, in
//! execution order; the server drains both after each command and turns
//! them into pub/sub messages and wake-ups.

use std::collections::HashSet;

/// `K`: publish to `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish to `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, …).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted-set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: a key expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: a key was looked up and missing (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module types.
pub const MODULE: u32 = 1 << 12;
/// `n`: a key was created (not part of `A`).
pub const NEW: u32 = 1 << 13;
/// `A`: alias for `g$lshzxetd`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's `keyspaceEventsStringToFlags`: `None` for an unknown letter.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Redis's `keyspaceEventsFlagsToString`: `A` when every class in it is
/// set, then the remaining letters in Redis's order.
pub fn flags_to_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (KEYSPACE, 'K'),
        (KEYEVENT, 'E'),
        (KEY_MISS, 'm'),
        (NEW, 'n'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// One keyspace event, waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub db: usize,
    pub class: u32,
    /// Redis's event name (`lpush`, `expired`, `rename_from`, …).
    pub event: &'static str,
    pub key: Box<[u8]>,
}

/// Keys clients are blocked on, per database, and the ones that received
/// data since the server last looked (Redis's `ready_keys`).
#[derive(Default)]
pub struct Blocking {
    watched: Vec<HashSet<Box<[u8]>>>,
    ready: Vec<(usize, Box<[u8]>)>,
}

impl Blocking {
    /// Some client now waits on `key` of `db`.
    pub fn add(&mut self, db: usize, key: &[u8]) {
        if self.watched.len() <= db {
            self.watched.resize_with(db + 1, HashSet::new);
        }
        self.watched[db].insert(key.into());
    }

    /// No client waits on `key` of `db` any more.
    pub fn remove(&mut self, db: usize, key: &[u8]) {
        if let Some(keys) = self.watched.get_mut(db) {
            keys.remove(key);
        }
    }

    /// The keys of `db` some client waits on.
    pub fn watched_keys(&self, db: usize) -> Vec<Box<[u8]>> {
        self.watched
            .get(db)
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn is_watched(&self, db: usize, key: &[u8]) -> bool {
        self.watched.get(db).is_some_and(|k| k.contains(key))
    }

    /// Records that `key` may now serve a blocked client, once per key.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.is_watched(db, key) && !self.ready.iter().any(|(d, k)| *d == db && **k == *key) {
            self.ready.push((db, key.into()));
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The ready keys, in the order they became ready.
    pub fn take_ready(&mut self) -> Vec<(usize, Box<[u8]>)> {
        std::mem::take(&mut self.ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        assert_eq!(flags_to_string(parse_flags("KEA").unwrap()), "AKE");
        assert_eq!(flags_to_string(parse_flags("Elg").unwrap()), "glE");
        assert_eq!(flags_to_string(parse_flags("").unwrap()), "");
        assert_eq!(flags_to_string(parse_flags("Kx").unwrap()), "xK");
        assert_eq!(flags_to_string(parse_flags("AKEmn").unwrap()), "AKEmn");
        assert_eq!(parse_flags("Q"), None);
    }
}
