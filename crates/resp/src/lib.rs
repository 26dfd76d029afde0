//! RESP2 / RESP3: incremental request parsing and reply encoding. Pure:
//! bytes in, frames out; no sockets, no keyspace.
//!
//! The main types:
//! - [`RequestParser`] turns a growing input buffer into commands (arrays of
//!   bulk strings, or telnet-style inline lines), resuming where the previous
//!   call stopped so a partial frame is never scanned twice.
//! - [`Reply`] writes replies straight into an output buffer in the
//!   client's protocol version, so the server builds no reply trees on the
//!   hot path.
//! - [`Frame`] and [`parse_frame`] decode any RESP2/RESP3 reply, for
//!   clients and tests.
//!
//! ```
//! use bytes::BytesMut;
//! use shoal_resp::{Limits, Parsed, Protocol, Reply, RequestParser};
//!
//! let mut parser = RequestParser::new(Limits::default());
//! let mut input = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n"[..]);
//! let mut commands = Vec::new();
//! assert_eq!(parser.parse(&mut input, &mut commands, usize::MAX), Parsed::Pending);
//! assert_eq!(commands.len(), 2);
//! assert_eq!(&commands[0][1][..], b"hi");
//!
//! let mut out = Vec::new();
//! Reply::new(&mut out, Protocol::Resp3).null();
//! assert_eq!(out, b"_\r\n");
//! ```

mod frame;
mod parse;
mod reply;

pub use frame::{parse_frame, Frame, FrameError};
pub use parse::{
    parse_redis_int, split_args, Command, Limits, Parsed, ProtocolError, RequestParser,
};
pub use reply::{format_double, Protocol, Reply};
