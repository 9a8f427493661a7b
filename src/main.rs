//! `nosh`: parse the command line and hand over to one of the two halves.
//!
//! No async runtime is started here: the toolbox half must stay
//! single-threaded because `setns(CLONE_NEWNS)` refuses multi-threaded
//! callers; only the host half builds a runtime, by hand.

use std::process::ExitCode;

use clap::Parser;
use nosh::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                nosh::EXIT_NOSH_FAILED
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Some(Command::Toolbox(args)) => nosh::toolbox::main(args),
        Some(Command::Attach(args)) => nosh::host::attach(args),
        Some(Command::Gc(engine)) => nosh::host::gc(engine),
        Some(Command::Ls(engine)) => nosh::host::ls(engine),
        Some(Command::Doctor(args)) => nosh::host::doctor(args),
        None => nosh::host::attach(cli.attach),
    }
}
