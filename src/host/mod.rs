//! The host half: finding the target and reaching it, in four rooms.
//!
//! - [`engine`]: which engine (contexts, `ssh://`, TLS), connecting, the
//!   wire calls on connections of our own, the `-v` log;
//! - [`sidecar`]: the Docker/Podman path: the toolbox image, the one
//!   sidecar specification, the session, the replica, port-forward, settle,
//!   watchdog, `nosh ls` and `nosh gc`;
//! - [`direct`]: no sidecar: root on the target's host joins it in-process
//!   (`pid://`, `--direct`, `containerd://`, `pod://`);
//! - [`doctor`]: `nosh doctor` and its reports, `--run` and `--all`;
//!
//! and beside them [`target`] (finding the target, refusing what a sidecar
//! can't join), [`terminal`] (raw mode, window size, stdin), [`cp`] (`nosh
//! cp`'s end on this host) and [`error`] (every failure as a sentence and a
//! hint).
//!
//! The runtime is built here, by hand: the toolbox half, in the same binary,
//! must never have a second thread.

pub mod cp;
pub mod direct;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod sidecar;
pub mod target;
pub mod terminal;

use std::future::Future;
use std::io::IsTerminal;
use std::process::ExitCode;

use crate::EXIT_NOSH_FAILED;
use crate::cli::{AttachArgs, EngineArgs, shell_join};
use crate::tools::bundle::Plan;
use engine::{Engine, Log};
use error::HostError;
use session::Outcome;
use sidecar::{forward, image, replica, session, sessions, settle, spec, watchdog};
use spec::Request;

/// `nosh TARGET`: a shell beside a running container, or in a replica of a
/// stopped one or of an image. Exits with the shell's status, or 125 when
/// nosh itself fails.
pub fn attach(args: AttachArgs) -> ExitCode {
    // Before any thread or fork: the direct path joins namespaces itself.
    if direct::wanted(&args) {
        return direct::attach(&args);
    }
    // Forked first, while this process still has one thread; it must
    // reach the same engine as the session, contexts included.
    let mut watchdog = engine::chosen_endpoint(&args.engine)
        .ok()
        .and_then(watchdog::Watchdog::start);
    // As the docker CLI's plugin: end like on SIGTERM when the CLI says so
    // (a thread, so only after the fork).
    crate::cli::plugin::watch_cli_socket();
    // Naming this binary (a cache lookup; the first time, reading and
    // hashing several MB) overlaps the runtime's start and the engine calls
    // that find the target.
    let binary = args
        .toolbox_image
        .is_none()
        .then(|| std::thread::spawn(image::SelfBinary::read));
    // Finding the brought tools' libraries overlaps the engine calls too.
    let tools = planned_tools(&args);
    run_to_exit(async move {
        let code = attach_session(&args, binary, tools, watchdog.as_mut()).await?;
        // Only a clean end says "done": after a failure mid-session the
        // watchdog removes whatever may be left.
        if let Some(w) = watchdog.as_mut() {
            w.done();
        }
        Ok(code)
    })
}

/// `nosh port-forward TARGET FORWARD...`: listens until Ctrl-C.
pub fn port_forward(args: crate::cli::PortForwardArgs) -> ExitCode {
    let specs: Result<Vec<_>, _> = args
        .forwards
        .iter()
        .map(|s| forward::Spec::parse(s))
        .collect();
    let specs = match specs {
        Ok(specs) => specs,
        Err(e) => {
            report(&HostError::BadForward(e));
            return ExitCode::from(EXIT_NOSH_FAILED);
        }
    };
    // Forked first, while this process still has one thread.
    let watchdog = engine::chosen_endpoint(&args.engine)
        .ok()
        .and_then(watchdog::Watchdog::start);
    let binary = args
        .toolbox_image
        .is_none()
        .then(|| std::thread::spawn(image::SelfBinary::read));
    run_to_exit(async move {
        let log = Log::new(args.engine.verbose);
        let engine = engine::connect_args(&args.engine, log).await?;
        let target = target::resolve(&engine, &args.target, false).await?;
        if target::mode(&target, false)? != target::Mode::Sidecar {
            return Err(HostError::ForwardNotRunning(
                target.info.display_name().to_string(),
            ));
        }
        let opts = forward::Options {
            image: toolbox_image(&engine, args.toolbox_image.as_deref(), binary).await?,
            limits: spec::Limits::from(&args.limits),
            max_connections: args.max_connections as usize,
        };
        forward::run(
            std::sync::Arc::new(engine),
            std::sync::Arc::new(target),
            std::sync::Arc::new(opts),
            &specs,
            watchdog,
        )
        .await
    })
}

/// The toolbox image: the one given, or this binary's, imported if absent.
async fn toolbox_image(
    engine: &Engine,
    given: Option<&str>,
    binary: Option<std::thread::JoinHandle<Result<image::SelfBinary, HostError>>>,
) -> Result<String, HostError> {
    let Some(task) = binary else {
        let given = given.unwrap_or_default().to_string();
        image::check_given(engine, &given).await?;
        return Ok(given);
    };
    let binary = hashed(task).await?;
    image::ensure(engine, &binary).await
}

/// The bundle of `--with` and `--with-dir`, planned on a thread of its own
/// (it reads the headers of every library), or nothing to bring.
type PlanTask = std::thread::JoinHandle<Result<Plan, crate::tools::bundle::BundleError>>;

fn planned_tools(args: &AttachArgs) -> Option<PlanTask> {
    if args.with.is_empty() && args.with_dir.is_empty() {
        return None;
    }
    let (with, dirs) = (args.with.clone(), args.with_dir.clone());
    Some(std::thread::spawn(move || Plan::new(&with, &dirs)))
}

/// What the planning thread found.
async fn plan_of(task: Option<PlanTask>) -> Result<Option<Plan>, HostError> {
    let Some(task) = task else {
        return Ok(None);
    };
    match tokio::task::spawn_blocking(move || task.join()).await {
        Ok(Ok(plan)) => Ok(Some(plan?)),
        _ => Err(HostError::Local(
            "the thread that finds the brought tools' libraries failed".into(),
        )),
    }
}

/// What the thread hashing this binary (started early, beside the engine
/// lookup) read.
async fn hashed(
    task: std::thread::JoinHandle<Result<image::SelfBinary, HostError>>,
) -> Result<image::SelfBinary, HostError> {
    match tokio::task::spawn_blocking(move || task.join()).await {
        Ok(Ok(read)) => read,
        _ => Err(HostError::HashBinary {
            path: "/proc/self/exe".into(),
            source: std::io::Error::other("the hashing thread failed"),
        }),
    }
}

/// `nosh bundle DIR --with PROG...`: the brought tools as a directory, for
/// a toolbox image that carries them or `nosh toolbox --tools DIR`.
pub fn bundle(args: crate::cli::BundleArgs) -> ExitCode {
    let made = Plan::new(&args.with, &args.with_dir)
        .map_err(HostError::from)
        .and_then(|plan| {
            plan.write_dir(&args.dir).map_err(|e| {
                HostError::Local(format!(
                    "cannot write the brought tools into {}: {}",
                    crate::term::escape::field(args.dir.as_os_str().as_encoded_bytes()),
                    crate::builtins::util::io_error(&e)
                ))
            })?;
            Ok(plan)
        });
    match made {
        Ok(plan) => {
            let names: Vec<&str> = plan
                .manifest
                .tools
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            println!(
                "{}: {} with {} libraries, {:.1} MB",
                args.dir.display(),
                names.join(", "),
                plan.manifest.libraries.len(),
                plan.total_size() as f64 / 1e6
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::from(EXIT_NOSH_FAILED)
        }
    }
}

/// `nosh gc`.
pub fn gc(args: EngineArgs) -> ExitCode {
    run_to_exit(async move {
        let engine = engine::connect_args(&args, Log::new(args.verbose)).await?;
        for line in sessions::gc(&engine).await? {
            println!("{line}");
        }
        Ok(0)
    })
}

/// `nosh ls`.
pub fn ls(args: EngineArgs) -> ExitCode {
    run_to_exit(async move {
        let engine = engine::connect_args(&args, Log::new(args.verbose)).await?;
        print!("{}", sessions::ls(&engine).await?);
        Ok(0)
    })
}

/// Builds a single-threaded runtime, runs `work`, and turns its error into a
/// sentence, a hint and exit status 125.
fn run_to_exit(work: impl Future<Output = Result<u8, HostError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nosh: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_NOSH_FAILED);
        }
    };
    let result = runtime.block_on(work);
    // The stdin thread may still be blocked in read(2): don't wait for it.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            terminal::restore();
            report(&e);
            ExitCode::from(EXIT_NOSH_FAILED)
        }
    }
}

/// Prints an error the docker CLI's way: the sentence, then the hint.
pub fn report(e: &HostError) {
    report_with_hint(e, e.hint());
}

/// Prints `e` and its chain of causes on one line, then `hint` on the next.
pub fn report_with_hint(e: &dyn std::error::Error, hint: Option<String>) {
    let mut text = format!("nosh: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    eprintln!(
        "{}",
        crate::term::color::error(&text, crate::term::color::stderr())
    );
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}

/// Whether the session gets a TTY: asked for with `-t`, refused with `-T`,
/// else when both stdin and stdout are terminals.
pub fn wants_tty(force: bool, refuse: bool, stdin_tty: bool, stdout_tty: bool) -> bool {
    force || (!refuse && stdin_tty && stdout_tty)
}

/// The exit status of nosh for a shell status the engine reported.
pub fn exit_status(status: i64) -> u8 {
    u8::try_from(status).unwrap_or(EXIT_NOSH_FAILED)
}

async fn attach_session(
    args: &AttachArgs,
    binary: Option<std::thread::JoinHandle<Result<image::SelfBinary, HostError>>>,
    tools: Option<PlanTask>,
    watchdog: Option<&mut watchdog::Watchdog>,
) -> Result<u8, HostError> {
    let log = Log::new(args.engine.verbose);
    let Some(name) = args.target.as_deref() else {
        return Err(HostError::NoSuchContainer(String::new()));
    };
    let stdin_tty = std::io::stdin().is_terminal();
    let tty = wants_tty(
        args.tty,
        args.no_tty,
        stdin_tty,
        std::io::stdout().is_terminal(),
    );
    let command = match (&args.command, args.args.is_empty()) {
        (Some(c), _) => Some(c.clone()),
        (None, false) => Some(shell_join(&args.args)),
        (None, true) => None,
    };

    let engine = engine::connect_args(&args.engine, log).await?;
    // The target and the toolbox image are independent: look for both at
    // once (an import, the first time, overlaps a restarting target's
    // settling too).
    let found = async {
        let found = target::resolve(&engine, name, args.image).await?;
        settle::settle(&engine, found, !args.replica).await
    };
    let toolbox = async {
        match binary {
            None => {
                let given = args.toolbox_image.clone().unwrap_or_default();
                image::check_given(&engine, &given).await?;
                Ok(given)
            }
            Some(task) => {
                let binary = hashed(task).await?;
                log.say(|| {
                    let how = if binary.remembered() {
                        "remembered"
                    } else {
                        "hashed"
                    };
                    format!("this binary is {} ({how})", binary.short_hash)
                });
                let plan = plan_of(tools).await?;
                image::ensure_with(&engine, &binary, plan.as_ref()).await
            }
        }
    };
    let (mut target, image) = target_first(found, toolbox).await?;

    let mut req = Request {
        tty,
        user: args.user.clone(),
        root: args.root,
        command,
        term: std::env::var("TERM")
            .ok()
            .filter(|t| !t.is_empty())
            .or(Some("xterm".into())),
        stdout_terminal: std::io::stdout().is_terminal(),
        stderr_terminal: std::io::stderr().is_terminal(),
        limits: spec::Limits::from(&args.limits),
        hold_output: false,
        stream_dir: args.stream_dir.as_ref().map(|d| d.display().to_string()),
        end_mark: None,
    };
    let mut watchdog = watchdog;
    let mut attempt = 1;
    loop {
        let mode = target::mode(&target, args.replica)?;
        target.info.replica = mode == target::Mode::Replica;
        // Only doctor reads the log; a plain `-c` stays one round trip shorter.
        if !target.is_image && req.command.as_deref().is_none_or(|c| c.contains("doctor")) {
            target.info.log_tail = target::log_tail(&engine, &target.info.id).await;
            target.info.changes = target::changes(&engine, &target.info.id).await;
        }
        let sidecar = mode == target::Mode::Sidecar;
        // A one-shot command beside a container that restarts may lose its
        // run: keep its output back, to run it again unseen.
        req.hold_output = sidecar
            && !tty
            && req.command.is_some()
            && target.info.restart_count > 0
            && attempt < ATTEMPTS;
        // Without a TTY, the toolbox's end mark ends the session as soon as
        // its output has (a replica's session ends with its removal; a
        // copy's stream carries the copy's bytes only).
        req.end_mark = if sidecar && !tty && req.stream_dir.is_none() {
            crate::toolbox::end_mark::new_value().ok()
        } else {
            None
        };
        if sidecar
            && attempt == 1
            && let Some(warning) = target::ptrace_warning(&target)
        {
            eprintln!("nosh: {}", crate::term::escape::field(warning.as_bytes()));
        }
        let result = {
            let _raw = if tty && stdin_tty {
                Some(terminal::RawMode::enable()?)
            } else {
                None
            };
            match mode {
                target::Mode::Sidecar => {
                    session::run(&engine, &target, &image, &req, watchdog.as_deref_mut()).await
                }
                target::Mode::Replica => {
                    replica::run(
                        &engine,
                        &target,
                        &image,
                        &req,
                        args.rw,
                        watchdog.as_deref_mut(),
                    )
                    .await
                }
            }
        };
        // The engine ended or replaced the run the sidecar was for: before
        // the sidecar started, or under a session whose output was kept
        // back. Look again and run it again (in a replica, most likely).
        let lost_run = match &result {
            Err(HostError::StoppedWhileStarting(_)) => true,
            Ok(Outcome::Held { status, .. }) => {
                *status >= i64::from(crate::EXIT_NOSH_FAILED)
                    && settle::run_changed(&engine, &target).await
            }
            _ => false,
        };
        if lost_run && attempt < ATTEMPTS {
            log.say(|| format!("{name} lost its run during attempt {attempt}: again"));
            attempt += 1;
            let found = target::resolve(&engine, &target.info.id, false).await?;
            target = settle::settle(&engine, found, !args.replica).await?;
            continue;
        }
        let status = match result? {
            Outcome::Exited(status) => status,
            Outcome::Held { status, output } => {
                output.show();
                status
            }
            Outcome::Interrupted(sig) => {
                log.say(|| format!("interrupted by signal {sig}; sidecar removed"));
                return Ok(128u8.saturating_add(sig as u8));
            }
        };
        if status >= i64::from(crate::EXIT_NOSH_FAILED) && sidecar {
            explain_end(&engine, &target).await;
        }
        return Ok(exit_status(status));
    }
}

/// Both results, `target` and `toolbox` run concurrently; a failure of
/// `target` is the one reported (and ends `toolbox` at once): a mistyped
/// name is said as such, whatever the image.
async fn target_first<T, I>(
    target: impl Future<Output = Result<T, HostError>>,
    toolbox: impl Future<Output = Result<I, HostError>>,
) -> Result<(T, I), HostError> {
    tokio::pin!(target, toolbox);
    let mut image = None;
    let target = loop {
        tokio::select! {
            found = &mut target => break found?,
            done = &mut toolbox, if image.is_none() => image = Some(done),
        }
    };
    let image = match image {
        Some(done) => done?,
        None => toolbox.await?,
    };
    Ok((target, image))
}

/// How many times a session is tried when the engine restarts its target
/// under it.
const ATTEMPTS: u32 = 3;

/// `nosh doctor`: the checklist on a container, on an image's watched
/// start (`--run`) or on every container (`--all`), as text, JSON, JUnit
/// or SARIF.
pub fn doctor(args: crate::cli::DoctorArgs) -> ExitCode {
    doctor::main(args)
}

/// After a session that failed or was killed by a signal: say so if the
/// target's run ended under it.
async fn explain_end(engine: &Engine, target: &target::Target) {
    if settle::run_changed(engine, target).await {
        eprintln!(
            "nosh: container {} stopped; the session ended with it",
            crate::term::escape::field(target.info.display_name().as_bytes())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tty_needs_both_ends_on_a_terminal_unless_forced() {
        assert!(wants_tty(false, false, true, true));
        assert!(!wants_tty(false, false, true, false));
        assert!(!wants_tty(false, true, true, true));
        assert!(wants_tty(true, false, false, false));
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn the_targets_failure_is_reported_before_the_toolboxs() {
        use std::time::Duration;
        let slow = |ms, r: Result<u8, HostError>| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            r
        };
        let fail = |what: &str| Err(HostError::Local(what.into()));
        // The toolbox fails first, the target after: the target's failure.
        let e = block_on(target_first(
            slow(30, fail("target")),
            slow(0, fail("image")),
        ));
        assert_eq!(e.unwrap_err().to_string(), "target");
        // The target fails: the import, however long, is not waited for.
        let e = block_on(async {
            tokio::time::timeout(
                Duration::from_secs(60),
                target_first(
                    slow(0, fail("target")),
                    std::future::pending::<Result<u8, _>>(),
                ),
            )
            .await
        });
        assert_eq!(
            e.expect("waited for the toolbox").unwrap_err().to_string(),
            "target"
        );
        // A found target: the toolbox's outcome, failure or not.
        let e = block_on(target_first(slow(0, Ok(1)), slow(20, fail("image"))));
        assert_eq!(e.unwrap_err().to_string(), "image");
        let both = block_on(target_first(slow(10, Ok(1)), slow(0, Ok(2))));
        assert_eq!(both.unwrap(), (1, 2));
    }

    #[test]
    fn shell_statuses_pass_through_and_odd_ones_become_125() {
        assert_eq!(exit_status(0), 0);
        assert_eq!(exit_status(3), 3);
        assert_eq!(exit_status(137), 137);
        assert_eq!(exit_status(-1), 125);
        assert_eq!(exit_status(300), 125);
    }
}
