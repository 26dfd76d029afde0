//! Command errors, mapped to Redis's exact reply strings in one place.

/// Why a command failed. `Display` is the error reply without the leading
/// `-`, byte for byte as Redis 7.0 sends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// Any other `ERR …` message.
    #[error("ERR {0}")]
    Other(String),
    /// A complete message with its own code (`NOPERM …`, `EXECABORT …`).
    #[error("{0}")]
    Raw(String),
}

pub type Result<T = (), E = Error> = std::result::Result<T, E>;
