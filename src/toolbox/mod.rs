//! The toolbox half.
use std::process::ExitCode;
pub fn main(_args: crate::cli::ToolboxArgs) -> ExitCode { ExitCode::from(crate::EXIT_NOSH_FAILED) }
