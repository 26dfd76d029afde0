//! The data-command table and dispatch. One file per command family,
//! each command's parse → apply → reply side by side.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use shoal_resp::Reply;

use crate::error::{Error, Result};
use crate::Ctx;

pub mod bits;
pub mod dump;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod lcs;
pub mod list;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

/// Runs one command: arguments are already arity-checked.
pub type Handler = fn(&mut Ctx<'_>, &mut Reply<'_>, &[Bytes]) -> Result;

/// A command's metadata (what COMMAND INFO reports) and its handler.
pub struct CommandSpec {
    /// Lowercase, as Redis names commands in errors and COMMAND.
    pub name: &'static str,
    /// Redis's convention: N means exactly N arguments (with the name),
    /// -N means at least N.
    pub arity: i32,
    /// Space-separated Redis command flags (`write denyoom fast`, …).
    pub flags: &'static str,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Redis's command group (`string`, `generic`, `server`, …).
    pub group: &'static str,
    pub summary: &'static str,
    pub handler: Option<Handler>,
    /// Derived from `flags` at compile time: does it modify the keyspace?
    pub write: bool,
}

const fn has_flag(flags: &str, flag: &str) -> bool {
    let f = flags.as_bytes();
    let w = flag.as_bytes();
    let mut i = 0;
    while i + w.len() <= f.len() {
        let at_word_start = i == 0 || f[i - 1] == b' ';
        let at_word_end = i + w.len() == f.len() || f[i + w.len()] == b' ';
        if at_word_start && at_word_end {
            let mut j = 0;
            while j < w.len() && f[i + j] == w[j] {
                j += 1;
            }
            if j == w.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// Declares a command compactly; see [`CommandSpec`] for the fields.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static str,
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
    handler: Option<Handler>,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
        handler,
        write: has_flag(flags, "write"),
    }
}

impl CommandSpec {
    pub fn has_flag(&self, flag: &str) -> bool {
        has_flag(self.flags, flag)
    }

    /// Whether `argc` arguments (including the name) fit the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The key arguments' positions in `args` (the name first), as
    /// COMMAND GETKEYS finds them: commands with a key count (`numkeys`)
    /// and SORT's STORE follow Redis's getkeys procedures, GEORADIUS's
    /// STORE and STOREDIST its key specs, the rest the first/last/step
    /// range. `None` when the key count is invalid: Redis
    /// then finds no key.
    pub fn keys_in(&self, args: &[&[u8]]) -> Option<Vec<usize>> {
        if let Some((store, count_at, first)) = self.counted_keys() {
            let text = args.get(count_at)?;
            let room = args.len().saturating_sub(first) as i64;
            // A well-formed count goes through the key specs (the store key
            // first); any other through the getkeys procedure, whose atoi
            // reads "2abc" as 2 and lists the store key last.
            let (count, store_first) = match crate::parse_i64_exact(text) {
                Some(n) => (n, true),
                None => (c_atoi(text), false),
            };
            if count < 1 || count > room {
                return None;
            }
            let keys = first..first + count as usize;
            return Some(if store_first {
                store.into_iter().chain(keys).collect()
            } else {
                keys.chain(store).collect()
            });
        }
        if self.name == "sort" {
            return Some(sort_keys(args));
        }
        if self.name == "xread" || self.name == "xreadgroup" {
            return xread_keys(args);
        }
        if let Some(from) = match self.name {
            "georadius" => Some(6),
            "georadiusbymember" => Some(5),
            _ => None,
        } {
            return Some(geo::radius_keys(args, from));
        }
        Some(self.key_positions(args.len()))
    }

    /// For commands that give their key count: the positions of the store
    /// key, of the count and of the first key (Redis's genericGetKeys
    /// arguments; the step is 1).
    fn counted_keys(&self) -> Option<(Option<usize>, usize, usize)> {
        match self.name {
            "zunionstore" | "zinterstore" | "zdiffstore" => Some((Some(1), 2, 3)),
            "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
                Some((None, 1, 2))
            }
            "blmpop" | "bzmpop" => Some((None, 2, 3)),
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
                Some((None, 2, 3))
            }
            _ => None,
        }
    }

    /// Whether the command takes key arguments at all.
    pub fn takes_keys(&self) -> bool {
        self.first_key > 0 || self.counted_keys().is_some()
    }

    /// The key arguments' positions, from the spec's first/last/step.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argc as i64 + i64::from(self.last_key)
        } else {
            i64::from(self.last_key)
        };
        let step = self.step.max(1) as usize;
        (self.first_key as usize..=last.max(0) as usize)
            .step_by(step)
            .filter(|&i| i < argc)
            .collect()
    }
}

/// C's `atoi`: optional space and sign, then digits up to the first other
/// byte; 0 if none.
fn c_atoi(text: &[u8]) -> i64 {
    let text = match text.iter().position(|c| !c.is_ascii_whitespace()) {
        Some(at) => &text[at..],
        None => return 0,
    };
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let n = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -n
    } else {
        n
    }
}

/// XREAD's and XREADGROUP's keys as Redis's xreadGetKeys finds them: the
/// first half of what follows STREAMS; none if the options before it are
/// malformed or the keys and IDs do not pair up.
fn xread_keys(args: &[&[u8]]) -> Option<Vec<usize>> {
    let mut i = 1;
    let mut streams = None;
    while i < args.len() {
        let arg = args[i];
        if arg.eq_ignore_ascii_case(b"block") || arg.eq_ignore_ascii_case(b"count") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"group") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"noack") {
        } else if arg.eq_ignore_ascii_case(b"streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let at = streams?;
    let n = args.len() - at - 1;
    if n == 0 || n % 2 != 0 {
        return None;
    }
    Some((at + 1..at + 1 + n / 2).collect())
}

/// SORT's keys as Redis's sortGetKeys finds them: the sorted key, and the
/// last `STORE` destination; LIMIT's two arguments and GET's and BY's one
/// are skipped, so a pattern spelled "store" is not taken for the option.
fn sort_keys(args: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let arg = args[i];
        if arg.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
    keys
}

/// Every data command the store implements, one table per family so each
/// family's file owns its commands.
pub static TABLES: &[&[CommandSpec]] = &[
    CORE,
    list::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    zset::COMMANDS,
    hll::COMMANDS,
    stream::COMMANDS,
    geo::COMMANDS,
];

/// Every data command, in table order.
pub fn commands() -> impl Iterator<Item = &'static CommandSpec> {
    TABLES.iter().flat_map(|t| t.iter())
}

/// Strings, bit operations and the keyspace commands.
static CORE: &[CommandSpec] = &[
    // strings
    spec(
        "get",
        2,
        "readonly fast",
        (1, 1, 1),
        "string",
        "Get the value of a key",
        Some(string::get),
    ),
    spec(
        "set",
        -3,
        "write denyoom",
        (1, 1, 1),
        "string",
        "Set the string value of a key",
        Some(string::set),
    ),
    spec(
        "setnx",
        3,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Set the value of a key, only if the key does not exist",
        Some(string::setnx),
    ),
    spec(
        "setex",
        4,
        "write denyoom",
        (1, 1, 1),
        "string",
        "Set the value and expiration of a key",
        Some(string::setex),
    ),
    spec(
        "psetex",
        4,
        "write denyoom",
        (1, 1, 1),
        "string",
        "Set the value and expiration in milliseconds of a key",
        Some(string::psetex),
    ),
    spec(
        "getset",
        3,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Set the string value of a key and return its old value",
        Some(string::getset),
    ),
    spec(
        "getdel",
        2,
        "write fast",
        (1, 1, 1),
        "string",
        "Get the value of a key and delete the key",
        Some(string::getdel),
    ),
    spec(
        "getex",
        -2,
        "write fast",
        (1, 1, 1),
        "string",
        "Get the value of a key and optionally set its expiration",
        Some(string::getex),
    ),
    spec(
        "mget",
        -2,
        "readonly fast",
        (1, -1, 1),
        "string",
        "Get the values of all the given keys",
        Some(string::mget),
    ),
    spec(
        "mset",
        -3,
        "write denyoom",
        (1, -1, 2),
        "string",
        "Set multiple keys to multiple values",
        Some(string::mset),
    ),
    spec(
        "msetnx",
        -3,
        "write denyoom",
        (1, -1, 2),
        "string",
        "Set multiple keys to multiple values, only if none of the keys exist",
        Some(string::msetnx),
    ),
    spec(
        "incr",
        2,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Increment the integer value of a key by one",
        Some(string::incr),
    ),
    spec(
        "decr",
        2,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Decrement the integer value of a key by one",
        Some(string::decr),
    ),
    spec(
        "incrby",
        3,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Increment the integer value of a key by the given amount",
        Some(string::incrby),
    ),
    spec(
        "decrby",
        3,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Decrement the integer value of a key by the given number",
        Some(string::decrby),
    ),
    spec(
        "incrbyfloat",
        3,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Increment the float value of a key by the given amount",
        Some(string::incrbyfloat),
    ),
    spec(
        "append",
        3,
        "write denyoom fast",
        (1, 1, 1),
        "string",
        "Append a value to a key",
        Some(string::append),
    ),
    spec(
        "strlen",
        2,
        "readonly fast",
        (1, 1, 1),
        "string",
        "Get the length of the value stored in a key",
        Some(string::strlen),
    ),
    spec(
        "getrange",
        4,
        "readonly",
        (1, 1, 1),
        "string",
        "Get a substring of the string stored at a key",
        Some(string::getrange),
    ),
    spec(
        "substr",
        4,
        "readonly",
        (1, 1, 1),
        "string",
        "Get a substring of the string stored at a key",
        Some(string::getrange),
    ),
    spec(
        "setrange",
        4,
        "write denyoom",
        (1, 1, 1),
        "string",
        "Overwrite part of a string at key starting at the specified offset",
        Some(string::setrange),
    ),
    spec(
        "lcs",
        -3,
        "readonly",
        (1, 2, 1),
        "string",
        "Find longest common substring",
        Some(lcs::lcs),
    ),
    // bitmaps
    spec(
        "setbit",
        4,
        "write denyoom",
        (1, 1, 1),
        "bitmap",
        "Sets or clears the bit at offset in the string value stored at key",
        Some(bits::setbit),
    ),
    spec(
        "getbit",
        3,
        "readonly fast",
        (1, 1, 1),
        "bitmap",
        "Returns the bit value at offset in the string value stored at key",
        Some(bits::getbit),
    ),
    spec(
        "bitcount",
        -2,
        "readonly",
        (1, 1, 1),
        "bitmap",
        "Count set bits in a string",
        Some(bits::bitcount),
    ),
    spec(
        "bitpos",
        -3,
        "readonly",
        (1, 1, 1),
        "bitmap",
        "Find first bit set or clear in a string",
        Some(bits::bitpos),
    ),
    spec(
        "bitop",
        -4,
        "write denyoom",
        (2, -1, 1),
        "bitmap",
        "Perform bitwise operations between strings",
        Some(bits::bitop),
    ),
    spec(
        "bitfield",
        -2,
        "write denyoom",
        (1, 1, 1),
        "bitmap",
        "Perform arbitrary bitfield integer operations on strings",
        Some(bits::bitfield),
    ),
    spec(
        "bitfield_ro",
        -2,
        "readonly fast",
        (1, 1, 1),
        "bitmap",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        Some(bits::bitfield_ro),
    ),
    // keys
    spec(
        "del",
        -2,
        "write",
        (1, -1, 1),
        "generic",
        "Delete a key",
        Some(keys::del),
    ),
    spec(
        "unlink",
        -2,
        "write fast",
        (1, -1, 1),
        "generic",
        "Delete a key asynchronously in another thread",
        Some(keys::del),
    ),
    spec(
        "exists",
        -2,
        "readonly fast",
        (1, -1, 1),
        "generic",
        "Determine if a key exists",
        Some(keys::exists),
    ),
    spec(
        "touch",
        -2,
        "readonly fast",
        (1, -1, 1),
        "generic",
        "Alters the last access time of a key(s)",
        Some(keys::exists),
    ),
    spec(
        "type",
        2,
        "readonly fast",
        (1, 1, 1),
        "generic",
        "Determine the type stored at key",
        Some(keys::type_),
    ),
    spec(
        "rename",
        3,
        "write",
        (1, 2, 1),
        "generic",
        "Rename a key",
        Some(keys::rename),
    ),
    spec(
        "renamenx",
        3,
        "write fast",
        (1, 2, 1),
        "generic",
        "Rename a key, only if the new key does not exist",
        Some(keys::renamenx),
    ),
    spec(
        "copy",
        -3,
        "write denyoom",
        (1, 2, 1),
        "generic",
        "Copy a key",
        Some(keys::copy),
    ),
    spec(
        "move",
        3,
        "write fast",
        (1, 1, 1),
        "generic",
        "Move a key to another database",
        Some(keys::move_),
    ),
    spec(
        "keys",
        2,
        "readonly",
        (0, 0, 0),
        "generic",
        "Find all keys matching the given pattern",
        Some(keys::keys),
    ),
    spec(
        "scan",
        -2,
        "readonly",
        (0, 0, 0),
        "generic",
        "Incrementally iterate the keys space",
        Some(keys::scan),
    ),
    spec(
        "randomkey",
        1,
        "readonly",
        (0, 0, 0),
        "generic",
        "Return a random key from the keyspace",
        Some(keys::randomkey),
    ),
    spec(
        "dbsize",
        1,
        "readonly fast",
        (0, 0, 0),
        "server",
        "Return the number of keys in the selected database",
        Some(keys::dbsize),
    ),
    spec(
        "flushdb",
        -1,
        "write",
        (0, 0, 0),
        "server",
        "Remove all keys from the current database",
        Some(keys::flushdb),
    ),
    spec(
        "flushall",
        -1,
        "write",
        (0, 0, 0),
        "server",
        "Remove all keys from all databases",
        Some(keys::flushall),
    ),
    spec(
        "swapdb",
        3,
        "write fast",
        (0, 0, 0),
        "server",
        "Swaps two Redis databases",
        Some(keys::swapdb),
    ),
    spec(
        "expire",
        -3,
        "write fast",
        (1, 1, 1),
        "generic",
        "Set a key's time to live in seconds",
        Some(keys::expire),
    ),
    spec(
        "pexpire",
        -3,
        "write fast",
        (1, 1, 1),
        "generic",
        "Set a key's time to live in milliseconds",
        Some(keys::pexpire),
    ),
    spec(
        "expireat",
        -3,
        "write fast",
        (1, 1, 1),
        "generic",
        "Set the expiration for a key as a UNIX timestamp",
        Some(keys::expireat),
    ),
    spec(
        "pexpireat",
        -3,
        "write fast",
        (1, 1, 1),
        "generic",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        Some(keys::pexpireat),
    ),
    spec(
        "ttl",
        2,
        "readonly fast",
        (1, 1, 1),
        "generic",
        "Get the time to live for a key in seconds",
        Some(keys::ttl),
    ),
    spec(
        "pttl",
        2,
        "readonly fast",
        (1, 1, 1),
        "generic",
        "Get the time to live for a key in milliseconds",
        Some(keys::pttl),
    ),
    spec(
        "expiretime",
        2,
        "readonly fast",
        (1, 1, 1),
        "generic",
        "Get the expiration Unix timestamp for a key",
        Some(keys::expiretime),
    ),
    spec(
        "pexpiretime",
        2,
        "readonly fast",
        (1, 1, 1),
        "generic",
        "Get the expiration Unix timestamp for a key in milliseconds",
        Some(keys::pexpiretime),
    ),
    spec(
        "persist",
        2,
        "write fast",
        (1, 1, 1),
        "generic",
        "Remove the expiration from a key",
        Some(keys::persist),
    ),
    spec(
        "sort",
        -2,
        "write denyoom movablekeys",
        (1, 1, 1),
        "generic",
        "Sort the elements in a list, set or sorted set",
        Some(sort::sort),
    ),
    spec(
        "sort_ro",
        -2,
        "readonly movablekeys",
        (1, 1, 1),
        "generic",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        Some(sort::sort_ro),
    ),
    spec(
        "dump",
        2,
        "readonly",
        (1, 1, 1),
        "generic",
        "Return a serialized version of the value stored at the specified key.",
        Some(dump::dump),
    ),
    spec(
        "restore",
        -4,
        "write denyoom",
        (1, 1, 1),
        "generic",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        Some(dump::restore),
    ),
    spec(
        "object",
        -2,
        "readonly",
        (2, 2, 1),
        "generic",
        "A container for object introspection commands",
        Some(keys::object),
    ),
];

/// Finds a command by name, case-insensitively.
pub fn lookup_command(name: &[u8]) -> Option<&'static CommandSpec> {
    static BY_NAME: OnceLock<HashMap<&'static [u8], &'static CommandSpec>> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| commands().map(|c| (c.name.as_bytes(), c)).collect());
    // Command names are short: lowercase them on the stack.
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    map.get(&*lower).copied()
}

/// Checks arity and runs a data command. On error nothing was written to
/// `reply`; the caller sends the error (and counts it).
///
/// # Errors
/// The command's [`Error`], including wrong arity.
pub fn execute(
    spec: &CommandSpec,
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
) -> Result {
    if !spec.arity_ok(args.len()) {
        return Err(Error::WrongArity(spec.name.to_string()));
    }
    match spec.handler {
        Some(handler) => handler(ctx, reply, args),
        None => Err(Error::Other(format!(
            "command '{}' is not handled by the store",
            spec.name
        ))),
    }
}

// Argument helpers shared by the command families.

pub(crate) fn int_arg(arg: &[u8]) -> Result<i64> {
    crate::parse_i64_exact(arg).ok_or(Error::NotInteger)
}

pub(crate) fn float_arg(arg: &[u8]) -> Result<f64> {
    crate::parse_f64(arg).ok_or(Error::NotFloat)
}

/// A blocking command's timeout in decimal seconds (Redis's
/// `getTimeoutFromObjectOrReply` with seconds): 0 waits forever, and the
/// result is an absolute deadline in Unix milliseconds.
#[allow(dead_code)] // used by the blocking list and sorted-set commands
pub(crate) fn block_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>> {
    let secs = crate::parse_f64(arg)
        .ok_or_else(|| Error::Other("timeout is not a float or out of range".into()))?;
    // Redis truncates seconds × 1000 toward zero (so -0.0001 means
    // "forever"); a value beyond `long long` converts, as on x86, to
    // LLONG_MIN and so reads as negative.
    let ms = secs * 1000.0;
    let ms = if ms.is_finite() && ms > i64::MIN as f64 && ms < i64::MAX as f64 {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(Error::Other("timeout is negative".into()));
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(Error::Other("timeout is out of range".into()));
    }
    Ok(Some(now_ms + ms as u64))
}

/// HSCAN/SSCAN/ZSCAN's options after the cursor, as Redis's
/// `scanGenericCommand` reads them: `COUNT n` (at least 1; 10 by default)
/// and `MATCH pattern` (`*` matches everything, so it is dropped).
pub(crate) fn scan_options(args: &[Bytes]) -> Result<(usize, Option<&[u8]>)> {
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(&args[i], "match") && has_value {
            pattern = Some(&args[i + 1][..]).filter(|p| *p != b"*");
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// The reply of a collection SCAN on a missing key: cursor 0, nothing.
pub(crate) fn reply_empty_scan(reply: &mut Reply<'_>) {
    reply.array(2);
    reply.bulk(b"0");
    reply.array(0);
}

pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for c in commands() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.handler.is_some());
        }
        assert!(lookup_command(b"GeT").is_some());
        assert!(lookup_command(b"nope").is_none());
        assert!(lookup_command(&[b'a'; 100]).is_none());
        assert!(lookup_command(b"set").unwrap().write);
        assert!(!lookup_command(b"get").unwrap().write);
        assert_eq!(
            lookup_command(b"mset").unwrap().key_positions(5),
            vec![1, 3]
        );
    }
}
