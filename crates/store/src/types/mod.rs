//! The collection types behind lists, hashes, sets and sorted sets, each
//! with a compact encoding for small sizes (as Redis's listpack and intset)
//! that converts to a scalable one as it grows, following Redis's
//! thresholds (`StoreConfig`). No command parsing or replies here: the
//! `cmd/` families drive these types.

pub mod hash;
pub mod list;
pub mod listpack;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use stream::Stream;
pub use zset::ZSet;
