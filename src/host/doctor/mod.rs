//! `nosh doctor`: how the report is made, and where it goes.
//!
//! - one target, text or JSON on the terminal: the sidecar (or replica,
//!   or direct attach) prints it itself, as it always has;
//! - one target, any other report: this binary runs itself as a child
//!   with `--json` (the sidecar, replica or direct attach then does all
//!   its work, cleanup included, unchanged), and renders the document:
//!   to files, in JUnit or SARIF, with the Dockerfile lines of an engine
//!   target's image;
//! - `--run`: [`crate::host::doctor::run`]; `--all`: [`crate::host::doctor::all`].
//!
//! The exit status is the gate: 0 clean, 1 errors (`--fail-on warning`:
//! warnings too), 125 when nosh itself failed.

pub mod all;
pub mod capture;
pub mod run;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use crate::EXIT_NOSH_FAILED;
use crate::cli::{AttachArgs, DoctorArgs, EngineArgs};
use crate::host::engine::{self, Log};
use crate::host::error::HostError;
use crate::host::sidecar::watchdog::Watchdog;
use crate::report::{self, Document, FailOn, Format, Shape, Sink};
use capture::Tracker;

pub fn main(args: DoctorArgs) -> ExitCode {
    let sinks = match report::plan(args.json, &args.formats, &args.outputs) {
        Ok(s) => s,
        Err(e) => return fail(&HostError::BadReport(e)),
    };
    if args.all {
        return crate::host::doctor::all::main(args, sinks);
    }
    let engines = args.hosts.len() + args.contexts.len();
    if engines > 1 {
        return fail(&HostError::TooManyEngines(engines));
    }
    if args.run.is_some() {
        return run_image(args, sinks);
    }
    one_target(args, sinks)
}

fn fail(e: &HostError) -> ExitCode {
    crate::host::report(e);
    ExitCode::from(EXIT_NOSH_FAILED)
}

/// The one engine `-H` or `--context` names (or the default).
fn engine_args(args: &DoctorArgs) -> EngineArgs {
    EngineArgs {
        host: args.hosts.first().cloned(),
        context: args.contexts.first().cloned(),
        verbose: args.verbose,
    }
}

/// Writes every report; a file that cannot be written is nosh's failure.
pub fn write(sinks: &[Sink], shape: Shape, docs: &[Document]) -> Result<(), HostError> {
    for sink in sinks {
        let text = report::render(sink.format, shape, docs);
        match &sink.path {
            Some(path) => std::fs::write(path, text).map_err(|source| HostError::WriteReport {
                path: path.display().to_string(),
                source,
            })?,
            None => {
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is the reader's choice.
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
        }
    }
    Ok(())
}

/// `nosh doctor TARGET`.
fn one_target(args: DoctorArgs, sinks: Vec<Sink>) -> ExitCode {
    let target = args.target.clone().unwrap_or_default();
    let to_stdout_only = |format| sinks == [Sink { format, path: None }];
    let raw = args.fail_on == FailOn::Error
        && args.dockerfile.is_none()
        && (to_stdout_only(Format::Text) || to_stdout_only(Format::Json));
    if raw {
        let mut command = String::from("doctor");
        if to_stdout_only(Format::Json) {
            command.push_str(" --json");
        }
        if args.prod_like {
            command.push_str(" --prod-like");
        }
        if args.no_start {
            command.push_str(" --no-start");
        }
        return crate::host::attach(AttachArgs {
            engine: engine_args(&args),
            target: Some(target),
            command: Some(command),
            no_tty: true,
            toolbox_image: args.toolbox_image,
            direct: args.direct,
            containerd_address: args.containerd_address,
            ..AttachArgs::default()
        });
    }
    let mut doc = match json_of_child(&args, &target) {
        Ok(doc) => doc,
        Err(code) => return ExitCode::from(code),
    };
    let direct = args.direct
        || target.starts_with(crate::host::direct::PID_SCHEME)
        || crate::host::direct::containerd::is_containerd(&target);
    let engine = engine_args(&args);
    crate::host::run_to_exit(async move {
        if !direct && let Ok(engine) = engine::connect_args(&engine, Log::new(args.verbose)).await {
            let image = doc.image.clone();
            crate::host::doctor::run::locate(&engine, &image, &mut doc, args.dockerfile.as_deref())
                .await;
        }
        let docs = [doc];
        write(&sinks, Shape::One, &docs)?;
        Ok(report::exit_code(&docs, args.fail_on))
    })
}

/// Runs `nosh doctor --json TARGET` (this binary, the same engine and
/// options) and reads its document. Its own errors went to stderr: its
/// exit status is returned as the error.
fn json_of_child(args: &DoctorArgs, target: &str) -> Result<Document, u8> {
    let exe = std::env::current_exe().map_err(|source| {
        crate::host::report(&HostError::HashBinary {
            path: "/proc/self/exe".into(),
            source,
        });
        EXIT_NOSH_FAILED
    })?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["doctor", "--json"]);
    for h in &args.hosts {
        cmd.args(["-H", h]);
    }
    for c in &args.contexts {
        cmd.args(["--context", c]);
    }
    if args.verbose {
        cmd.arg("--verbose");
    }
    if args.prod_like {
        cmd.arg("--prod-like");
    }
    if args.no_start {
        cmd.arg("--no-start");
    }
    if args.direct {
        cmd.arg("--direct");
    }
    if let Some(t) = &args.toolbox_image {
        cmd.args(["--toolbox-image", t]);
    }
    if let Some(a) = &args.containerd_address {
        cmd.args(["--containerd-address", a]);
    }
    cmd.arg(target)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    let out = cmd.output().map_err(|e| {
        eprintln!("nosh: cannot run nosh doctor --json: {e}");
        EXIT_NOSH_FAILED
    })?;
    match out.status.code() {
        Some(0 | 1) => serde_json::from_slice(&out.stdout).map_err(|e| {
            eprintln!("nosh: doctor --json gave an unreadable document: {e}");
            EXIT_NOSH_FAILED
        }),
        Some(code) => Err(u8::try_from(code).unwrap_or(EXIT_NOSH_FAILED)),
        None => {
            use std::os::unix::process::ExitStatusExt;
            Err(128u8.saturating_add(out.status.signal().unwrap_or(0) as u8))
        }
    }
}

/// `nosh doctor IMAGE --run`: the run, its cleanup on every path, the
/// reports.
fn run_image(args: DoctorArgs, sinks: Vec<Sink>) -> ExitCode {
    let engine_args = engine_args(&args);
    // Forked first, while this process still has one thread.
    let watchdog = engine::chosen_endpoint(&engine_args)
        .ok()
        .and_then(Watchdog::start);
    let binary = args
        .toolbox_image
        .is_none()
        .then(|| std::thread::spawn(crate::host::sidecar::image::SelfBinary::read));
    crate::host::run_to_exit(async move {
        let tracker = Arc::new(Tracker::new(watchdog));
        let engine = match engine::connect_args(&engine_args, Log::new(args.verbose)).await {
            Ok(e) => e,
            Err(e) => {
                tracker.done();
                return Err(e);
            }
        };
        let work = async {
            let image =
                crate::host::toolbox_image(&engine, args.toolbox_image.as_deref(), binary).await?;
            crate::host::doctor::run::run(&engine, &args, &image, &tracker).await
        };
        let result = capture::interruptible(work).await;
        if !matches!(result, Ok(Ok(_))) {
            tracker.clean_up(&engine).await;
        }
        tracker.done();
        let mut doc = match result {
            Ok(doc) => doc?,
            Err(sig) => {
                eprintln!("nosh: interrupted; the container and helper of this run were removed");
                return Ok(128u8.saturating_add(sig as u8));
            }
        };
        let image = args.target.clone().unwrap_or_default();
        crate::host::doctor::run::locate(&engine, &image, &mut doc, args.dockerfile.as_deref())
            .await;
        let docs = [doc];
        write(&sinks, Shape::One, &docs)?;
        Ok(report::exit_code(&docs, args.fail_on))
    })
}
