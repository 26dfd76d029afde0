//! Placeholder: this family's generator lands here.

use super::*;

pub(crate) fn command() -> impl Strategy<Value = Cmd> {
    Just(vec![b"PING".to_vec()])
}

/// Makes this family's nondeterministic replies comparable; returns
/// other commands' frames unchanged.
pub(crate) fn normalize(_cmd: &[Vec<u8>], frame: Frame) -> Frame {
    frame
}
