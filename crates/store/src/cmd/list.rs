//! Placeholder: the list commands land here.

use super::CommandSpec;

/// The list family's commands.
pub static COMMANDS: &[CommandSpec] = &[];
