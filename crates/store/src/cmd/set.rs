//! Placeholder: the set commands land here.

use super::CommandSpec;

/// The set family's commands.
pub static COMMANDS: &[CommandSpec] = &[];
