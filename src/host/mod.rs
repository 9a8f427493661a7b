//! The host half: engine, toolbox image, sidecar, terminal.

use std::process::ExitCode;

use crate::cli::{AttachArgs, EngineArgs};

pub fn attach(_args: AttachArgs) -> ExitCode {
    eprintln!("nosh: the host half is not built yet");
    ExitCode::from(crate::EXIT_NOSH_FAILED)
}

pub fn gc(_engine: EngineArgs) -> ExitCode {
    ExitCode::from(crate::EXIT_NOSH_FAILED)
}

pub fn ls(_engine: EngineArgs) -> ExitCode {
    ExitCode::from(crate::EXIT_NOSH_FAILED)
}
