//! `nosh`: parse the command line and hand over to one of the two halves.
//!
//! No async runtime is started here: the toolbox half must stay
//! single-threaded because `setns(CLONE_NEWNS)` refuses multi-threaded
//! callers; only the host half builds a runtime, by hand.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use nosh::cli::{Cli, Command};
use nosh::cli::{install, plugin};
use nosh::term::color;

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // Run as `docker-nosh`: answer the docker CLI's metadata request, and
    // take its global options and the plugin name off the command line.
    if plugin::is_metadata_request(&args) {
        println!("{}", plugin::metadata());
        return ExitCode::SUCCESS;
    }
    let as_plugin = plugin::from_docker_cli(&args);
    if let Some(call) = as_plugin.as_ref() {
        args.clone_from(&call.args);
        nosh::host::engine::context::set_plugin_globals(call.globals.clone());
    }

    // The host half hands the toolbox its arguments in the environment,
    // out of the target's sight.
    if args.get(1).is_some_and(|a| a == "toolbox") {
        // SAFETY: no thread has been started yet.
        match unsafe { nosh::toolbox::take_host_args() } {
            Ok(more) => args.extend(more.into_iter().map(OsString::from)),
            Err(e) => {
                eprintln!("nosh: {e}");
                return ExitCode::from(nosh::EXIT_NOSH_FAILED);
            }
        }
    }

    let mut command = Cli::command().color(color::clap_choice(color::init(&mut args)));
    if as_plugin.is_some() {
        command = command.bin_name("docker nosh");
    }
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
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
    if as_plugin.is_some() {
        plugin::running_as_plugin();
    }
    match cli.command {
        Some(Command::Toolbox(args)) => nosh::toolbox::main(args),
        Some(Command::Attach(args)) => nosh::host::attach(args),
        Some(Command::Gc(engine)) => nosh::host::gc(engine),
        Some(Command::Ls(engine)) => nosh::host::ls(engine),
        Some(Command::Doctor(args)) => nosh::host::doctor(*args),
        Some(Command::PortForward(args)) => nosh::host::port_forward(args),
        Some(Command::Watch(args)) => nosh::toolbox::watch::main(args),
        Some(Command::Cp(args)) => nosh::host::cp::run(args),
        Some(Command::Bundle(args)) => nosh::host::bundle(args),
        Some(Command::Completions(args)) => {
            install::to_stdout(|out| install::completions(args.shell, out))
        }
        Some(Command::Man) => install::to_stdout(install::man_page),
        None => nosh::host::attach(cli.attach),
    }
}
