//! Placeholder: the zset commands land here.

use super::CommandSpec;

/// The zset family's commands.
pub static COMMANDS: &[CommandSpec] = &[];
