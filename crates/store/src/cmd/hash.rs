//! Placeholder: the hash commands land here.

use super::CommandSpec;

/// The hash family's commands.
pub static COMMANDS: &[CommandSpec] = &[];
