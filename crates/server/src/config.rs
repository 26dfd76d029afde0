//! Configuration: Redis's directive names, as `--name value` flags or in a
//! redis.conf-style file, and CONFIG GET / SET at run time.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Context};

/// Directives CONFIG GET lists only when asked by their exact name.
const HIDDEN: &[&str] = &["rdb-key-save-delay", "key-load-delay"];

/// Any C `int`, as Redis's INT_MIN..INT_MAX integer configs.
const INT32: Kind = Kind::Int {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
};

/// How a directive's value is checked.
#[derive(Clone, Copy)]
enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// A byte count that accepts `k`, `kb`, `m`, `mb`, `g`, `gb` suffixes.
    Memory,
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// Several words in one value (`bind`, `save`).
    Words,
}

struct Directive {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    /// Can CONFIG SET change it while running?
    mutable: bool,
}

const fn d(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Directive {
    Directive {
        name,
        kind,
        default,
        mutable,
    }
}

const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const APPENDFSYNC: &[&str] = &["always", "everysec", "no"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
];

/// Every directive the server knows, with Redis's defaults.
static DIRECTIVES: &[Directive] = &[
    d("port", Kind::Int { min: 0, max: 65535 }, "6379", false),
    d("bind", Kind::Words, "127.0.0.1 -::1", false),
    d("protected-mode", Kind::Bool, "yes", true),
    d("requirepass", Kind::Str, "", true),
    d("aclfile", Kind::Str, "", false),
    d(
        "acllog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        true,
    ),
    d(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        true,
    ),
    d(
        "maxclients",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10000",
        true,
    ),
    d(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
        false,
    ),
    d(
        "timeout",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
        true,
    ),
    d(
        "tcp-keepalive",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "300",
        true,
    ),
    d(
        "tcp-backlog",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "511",
        false,
    ),
    d(
        "hz",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
        true,
    ),
    d("dir", Kind::Str, ".", true),
    d("logfile", Kind::Str, "", false),
    d("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    d("proto-max-bulk-len", Kind::Memory, "536870912", true),
    d(
        "client-query-buffer-limit",
        Kind::Memory,
        "1073741824",
        true,
    ),
    d("maxmemory", Kind::Memory, "0", true),
    d("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true),
    d(
        "maxmemory-samples",
        Kind::Int { min: 1, max: 64 },
        "5",
        true,
    ),
    d("hll-sparse-max-bytes", Kind::Memory, "3000", true),
    d("stream-node-max-bytes", Kind::Memory, "4096", true),
    d(
        "stream-node-max-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "100",
        true,
    ),
    d(
        "maxmemory-eviction-tenacity",
        Kind::Int { min: 0, max: 100 },
        "10",
        true,
    ),
    d(
        "lfu-log-factor",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
        true,
    ),
    d(
        "lfu-decay-time",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "1",
        true,
    ),
    d("save", Kind::Words, "3600 1 300 100 60 10000", true),
    d("stop-writes-on-bgsave-error", Kind::Bool, "yes", true),
    d("rdbcompression", Kind::Bool, "yes", true),
    d("rdbchecksum", Kind::Bool, "yes", true),
    d("rdb-del-sync-files", Kind::Bool, "no", true),
    // Test hooks, as Redis's: a delay per key a BGSAVE or an AOF rewrite
    // saves, or an RDB load reads, in microseconds; negative means one
    // microsecond once in that many keys. Hidden from CONFIG GET globs.
    d("rdb-key-save-delay", INT32, "0", true),
    d("key-load-delay", INT32, "0", true),
    d("rdb-save-incremental-fsync", Kind::Bool, "yes", true),
    d(
        "sanitize-dump-payload",
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
        true,
    ),
    d("appendonly", Kind::Bool, "no", true),
    d("appendfsync", Kind::Enum(APPENDFSYNC), "everysec", true),
    d("appendfilename", Kind::Str, "appendonly.aof", false),
    d("appenddirname", Kind::Str, "appendonlydir", false),
    d("aof-load-truncated", Kind::Bool, "yes", true),
    d("aof-use-rdb-preamble", Kind::Bool, "yes", true),
    d("no-appendfsync-on-rewrite", Kind::Bool, "no", true),
    d("aof-rewrite-incremental-fsync", Kind::Bool, "yes", true),
    d("aof-timestamp-enabled", Kind::Bool, "no", true),
    d(
        "auto-aof-rewrite-percentage",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "100",
        true,
    ),
    d("auto-aof-rewrite-min-size", Kind::Memory, "67108864", true),
    d("dbfilename", Kind::Str, "dump.rdb", true),
    d(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
        true,
    ),
    d(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        true,
    ),
    d("daemonize", Kind::Bool, "no", false),
    d("pidfile", Kind::Str, "", false),
    d("metrics-port", Kind::Int { min: 0, max: 65535 }, "0", false),
    d("io-threads", Kind::Int { min: 1, max: 128 }, "2", false),
    d("list-max-listpack-size", INT32, "-2", true),
    d(
        "list-compress-depth",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
        true,
    ),
    d(
        "hash-max-listpack-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "512",
        true,
    ),
    d("hash-max-listpack-value", Kind::Memory, "64", true),
    d(
        "set-max-intset-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "512",
        true,
    ),
    d(
        "zset-max-listpack-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
        true,
    ),
    d("zset-max-listpack-value", Kind::Memory, "64", true),
    d("notify-keyspace-events", Kind::Str, "", true),
    d(
        "repl-ping-replica-period",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10",
        true,
    ),
    d(
        "repl-timeout",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "60",
        true,
    ),
    d("repl-backlog-size", Kind::Memory, "1048576", true),
    d(
        "repl-backlog-ttl",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "3600",
        true,
    ),
    d("repl-diskless-sync", Kind::Bool, "yes", true),
    d(
        "repl-diskless-sync-delay",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "5",
        true,
    ),
    d(
        "repl-diskless-sync-max-replicas",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
        true,
    ),
    d("repl-disable-tcp-nodelay", Kind::Bool, "no", true),
    // Scripts' time budget (Redis 7's name for lua-time-limit); Shoal has
    // no scripting engine, so nothing runs long enough to reach it.
    d(
        "busy-reply-threshold",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "5000",
        true,
    ),
    d("replica-read-only", Kind::Bool, "yes", true),
    d("replica-serve-stale-data", Kind::Bool, "yes", true),
    d(
        "replica-priority",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "100",
        true,
    ),
    d("replica-announced", Kind::Bool, "yes", true),
    d("replica-lazy-flush", Kind::Bool, "no", true),
    d("lazyfree-lazy-eviction", Kind::Bool, "no", true),
    d(
        "tracking-table-max-keys",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "1000000",
        true,
    ),
    d("lazyfree-lazy-expire", Kind::Bool, "no", true),
    d("lazyfree-lazy-server-del", Kind::Bool, "no", true),
    d("lazyfree-lazy-user-del", Kind::Bool, "no", true),
    d("lazyfree-lazy-user-flush", Kind::Bool, "no", true),
    d("masterauth", Kind::Str, "", true),
    d("masteruser", Kind::Str, "", true),
    d("replicaof", Kind::Words, "", false),
    d(
        "min-replicas-to-write",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
        true,
    ),
    d(
        "min-replicas-max-lag",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
        true,
    ),
    d(
        "client-output-buffer-limit",
        Kind::Words,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
];

/// Redis 7.0's older names, still accepted and still shown by CONFIG GET.
static ALIASES: &[(&str, &str)] = &[
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-priority", "replica-priority"),
    ("slave-announced", "replica-announced"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slaveof", "replicaof"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
];

/// One class of `client-output-buffer-limit`: a client is disconnected
/// when its pending output passes `hard_bytes`, or stays above
/// `soft_bytes` for `soft_secs` seconds (0 disables each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_secs: u64,
}

const OUTPUT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Parses `class hard soft secs …` into the three classes' limits, the
/// ones not mentioned taken from `current`.
fn parse_output_limits(
    value: &str,
    current: [OutputLimit; 3],
) -> Result<[OutputLimit; 3], ConfigError> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err(ConfigError(
            "Wrong number of arguments in buffer limit configuration.".into(),
        ));
    }
    let mut limits = current;
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            // Redis 7 also accepts the newer name.
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err(ConfigError(
                    "Invalid client class specified in buffer limit configuration.".into(),
                ))
            }
        };
        let hard = parse_memory(group[1]);
        let soft = parse_memory(group[2]);
        let secs = group[3].parse::<i64>().ok();
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => {
                limits[class] = OutputLimit {
                    hard_bytes: h as u64,
                    soft_bytes: s as u64,
                    soft_secs: t as u64,
                };
            }
            _ => {
                return Err(ConfigError(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                ))
            }
        }
    }
    Ok(limits)
}

fn format_output_limits(limits: &[OutputLimit; 3]) -> String {
    OUTPUT_CLASSES
        .iter()
        .zip(limits)
        .map(|(class, l)| format!("{class} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_secs))
        .collect::<Vec<_>>()
        .join(" ")
}

fn directive(name: &str) -> Option<&'static Directive> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, canonical)| canonical);
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// A configuration error, worded for the person who wrote the value.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The server's settings: every directive's current value as text (what
/// CONFIG GET shows), with typed accessors for the ones code reads.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            values: DIRECTIVES
                .iter()
                .map(|d| (d.name, d.default.to_string()))
                .collect(),
        }
    }
}

pub(crate) fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let (digits, unit): (&str, i64) = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|d| (d, *unit)))
    .unwrap_or((&lower, 1));
    digits.parse::<i64>().ok()?.checked_mul(unit)
}

impl Config {
    /// Builds a configuration from `--directive value …` arguments and an
    /// optional `--config FILE`; flags override the file.
    ///
    /// # Errors
    /// An unknown directive or a malformed value, naming it (and the file
    /// line).
    pub fn from_args(args: &[String]) -> anyhow::Result<Config> {
        let mut config = Config::default();
        let mut lines: Vec<Vec<String>> = Vec::new();
        let mut file = None;
        let mut i = 0;
        while i < args.len() {
            let Some(name) = args[i].strip_prefix("--") else {
                bail!(
                    "unexpected argument '{}': directives are written --name value",
                    args[i]
                );
            };
            let mut words = vec![name.to_string()];
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                words.push(args[i].clone());
                i += 1;
            }
            if name == "config" {
                if words.len() != 2 {
                    bail!("--config takes one file name");
                }
                file = Some(words[1].clone());
            } else {
                lines.push(words);
            }
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading config file {path}"))?;
            config
                .load_file_text(&text)
                .with_context(|| format!("in config file {path}"))?;
        }
        for words in lines {
            let value = words[1..].join(" ");
            config
                .set(&words[0], &value)
                .map_err(|e| anyhow::anyhow!("--{} {:?}: {}", words[0], value, e))?;
        }
        Ok(config)
    }

    /// Applies redis.conf-style text: one directive per line, `#` comments,
    /// arguments split and unquoted as Redis does.
    ///
    /// # Errors
    /// The first bad line, by number, with Redis's wording.
    pub fn load_file_text(&mut self, text: &str) -> anyhow::Result<()> {
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some(words) = shoal_resp_split(trimmed) else {
                bail!("line {}: '{}': unbalanced quotes", n + 1, trimmed);
            };
            let (name, rest) = words.split_first().expect("non-empty line");
            let value = rest.join(" ");
            if let Err(e) = self.set(name, &value) {
                bail!("line {}: '{}': {}", n + 1, trimmed, e);
            }
        }
        Ok(())
    }

    /// Sets a directive from text, validating it.
    ///
    /// # Errors
    /// Unknown directive or invalid value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let Some(dir) = directive(name) else {
            return Err(ConfigError(
                "Bad directive or wrong number of arguments".into(),
            ));
        };
        let normalized = match dir.kind {
            Kind::Int { min, max } => {
                let n: i64 = value.parse().map_err(|_| {
                    ConfigError("argument couldn't be parsed into an integer".into())
                })?;
                if n < min || n > max {
                    return Err(ConfigError(format!(
                        "argument must be between {min} and {max} inclusive"
                    )));
                }
                n.to_string()
            }
            Kind::Memory => {
                let n = parse_memory(value)
                    .ok_or_else(|| ConfigError("argument must be a memory value".into()))?;
                if n < 0 {
                    return Err(ConfigError("argument must be a memory value".into()));
                }
                n.to_string()
            }
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => "yes".into(),
                "no" => "no".into(),
                _ => return Err(ConfigError("argument must be 'yes' or 'no'".into())),
            },
            Kind::Enum(options) => {
                let lower = value.to_ascii_lowercase();
                if !options.contains(&lower.as_str()) {
                    return Err(ConfigError(
                        "argument(s) must be one of the following: ".to_string()
                            + &options.join(", "),
                    ));
                }
                lower
            }
            Kind::Str => value.to_string(),
            Kind::Words => value.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        if dir.name == "save" {
            let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
            if words.len() % 2 != 0 || words.iter().any(|w| w.parse::<u64>().is_err()) {
                return Err(ConfigError("Invalid save parameters".into()));
            }
        }
        let normalized = match dir.name {
            "notify-keyspace-events" => {
                let flags = shoal_store::notify::parse_flags(&normalized).ok_or_else(|| {
                    ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
                })?;
                shoal_store::notify::flags_to_string(flags)
            }
            "client-output-buffer-limit" => {
                let current = self.output_limits();
                format_output_limits(&parse_output_limits(&normalized, current)?)
            }
            _ => normalized,
        };
        self.values.insert(dir.name, normalized);
        Ok(())
    }

    /// CONFIG SET: like [`Config::set`], but refuses immutable directives.
    ///
    /// # Errors
    /// Unknown, immutable, or invalid.
    pub fn set_at_runtime(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match directive(name) {
            None => Err(ConfigError(
                "Unknown option or number of arguments for CONFIG SET".into(),
            )),
            Some(d) if !d.mutable => Err(ConfigError("can't set immutable config".into())),
            Some(_) => self.set(name, value),
        }
    }

    pub fn is_known(name: &str) -> bool {
        directive(name).is_some()
    }

    /// Every directive matching a glob (aliases too), with its value, for
    /// CONFIG GET.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, &str)> {
        let matches = |name: &str| {
            if HIDDEN.contains(&name) {
                // Redis's HIDDEN_CONFIG: only its exact name finds it.
                return pattern.eq_ignore_ascii_case(name.as_bytes());
            }
            shoal_store::glob::glob_match(pattern, name.as_bytes(), true)
        };
        let mut found: Vec<(&'static str, &str)> = self
            .values
            .iter()
            .filter(|(name, _)| matches(name))
            .map(|(name, v)| (*name, v.as_str()))
            .collect();
        for (alias, canonical) in ALIASES {
            if matches(alias) {
                found.push((alias, self.get(canonical)));
            }
        }
        found
    }

    /// `client-output-buffer-limit` as normal, replica and pubsub limits.
    pub fn output_limits(&self) -> [OutputLimit; 3] {
        parse_output_limits(
            self.get("client-output-buffer-limit"),
            [OutputLimit::default(); 3],
        )
        .expect("validated when set")
    }

    /// The settings the store reads, copied into it.
    pub fn apply_to_store(&self, store: &mut shoal_store::Store) {
        let c = &mut store.config;
        c.proto_max_bulk_len = self.get_int("proto-max-bulk-len") as usize;
        c.list_max_listpack_size = self.get_int("list-max-listpack-size");
        c.list_compress_depth = self.get_int("list-compress-depth");
        c.hash_max_listpack_entries = self.get_int("hash-max-listpack-entries") as usize;
        c.hash_max_listpack_value = self.get_int("hash-max-listpack-value") as usize;
        c.set_max_intset_entries = self.get_int("set-max-intset-entries") as usize;
        c.zset_max_listpack_entries = self.get_int("zset-max-listpack-entries") as usize;
        c.zset_max_listpack_value = self.get_int("zset-max-listpack-value") as usize;
        c.key_load_delay = self.get_int("key-load-delay");
        c.rdb_compression = self.get("rdbcompression") == "yes";
        c.lfu = crate::evict::Policy::parse(self.get("maxmemory-policy")).is_lfu();
        c.lfu_log_factor = self.get_int("lfu-log-factor") as u32;
        c.lfu_decay_time = self.get_int("lfu-decay-time") as u32;
        c.hll_sparse_max_bytes = self.get_int("hll-sparse-max-bytes") as usize;
        c.stream_node_max_bytes = self.get_int("stream-node-max-bytes") as usize;
        c.stream_node_max_entries = self.get_int("stream-node-max-entries");
        c.lazyfree_user_del = self.get("lazyfree-lazy-user-del") == "yes";
        c.lazyfree_user_flush = self.get("lazyfree-lazy-user-flush") == "yes";
        c.lazyfree_server_del = self.get("lazyfree-lazy-server-del") == "yes";
        c.lazyfree_expire = self.get("lazyfree-lazy-expire") == "yes";
        c.lazyfree_eviction = self.get("lazyfree-lazy-eviction") == "yes";
        store.notify_flags =
            shoal_store::notify::parse_flags(self.get("notify-keyspace-events")).unwrap_or(0);
    }

    pub fn get(&self, name: &str) -> &str {
        directive(name)
            .and_then(|d| self.values.get(d.name))
            .map(String::as_str)
            .expect("known directive")
    }

    pub fn get_int(&self, name: &str) -> i64 {
        self.get(name).parse().expect("validated integer")
    }

    pub fn port(&self) -> u16 {
        self.get_int("port") as u16
    }

    /// Addresses to listen on; a leading `-` marks one that may be missing.
    pub fn bind_addrs(&self) -> Vec<(String, bool)> {
        self.get("bind")
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| match w.strip_prefix('-') {
                Some(addr) => (addr.to_string(), true),
                None => (w.to_string(), false),
            })
            .collect()
    }
}

/// Splits a config line with the same rules as inline commands.
fn shoal_resp_split(line: &str) -> Option<Vec<String>> {
    let words = shoal_resp::split_args(line.as_bytes())?;
    Some(
        words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_and_file() {
        let c = Config::from_args(&args(&[
            "--port",
            "7000",
            "--save",
            "",
            "--maxmemory",
            "1mb",
        ]))
        .unwrap();
        assert_eq!(c.port(), 7000);
        assert_eq!(c.get("save"), "");
        assert_eq!(c.get("maxmemory"), "1048576");
        let mut c = Config::default();
        c.load_file_text("# comment\nport 7001\nbind 127.0.0.1 ::1\n")
            .unwrap();
        assert_eq!(c.port(), 7001);
        let err = c
            .load_file_text("port 1\nnosuch thing\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(Config::from_args(&args(&["--port", "70000"])).is_err());
        assert!(Config::from_args(&args(&["--nosuch", "1"])).is_err());
        assert!(Config::from_args(&args(&["--save", "60"])).is_err());
    }

    #[test]
    fn aliases_and_special_values() {
        let mut c = Config::default();
        c.set("hash-max-ziplist-entries", "64").unwrap();
        assert_eq!(c.get("hash-max-listpack-entries"), "64");
        let got: Vec<_> = c.matching(b"hash-max-*-entries");
        assert!(got.contains(&("hash-max-ziplist-entries", "64")), "{got:?}");
        c.set("hash-max-listpack-value", "1kb").unwrap();
        assert_eq!(c.get("hash-max-listpack-value"), "1024");
        c.set("notify-keyspace-events", "KEA").unwrap();
        assert_eq!(c.get("notify-keyspace-events"), "AKE");
        assert!(c.set("notify-keyspace-events", "Q").is_err());
        c.set("client-output-buffer-limit", "pubsub 1mb 0 0")
            .unwrap();
        assert_eq!(
            c.get("client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 0 0"
        );
        assert_eq!(
            c.set("client-output-buffer-limit", "pubsub 1mb 0")
                .unwrap_err()
                .to_string(),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert!(c.set("client-output-buffer-limit", "foo 1 0 0").is_err());
    }

    #[test]
    fn config_get_glob() {
        let c = Config::default();
        let got: Vec<_> = c.matching(b"max*").into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            got,
            vec![
                "maxclients",
                "maxmemory",
                "maxmemory-eviction-tenacity",
                "maxmemory-policy",
                "maxmemory-samples"
            ]
        );
    }
}
