//! One session: the sidecar container beside the target (or a replica, see
//! [`super::replica`]), and the terminal attached to it.
//!
//! Order (each step needs the one before):
//! 1. create the container (auto-remove, stdin once);
//! 2. attach to it, before it starts, so no output is lost;
//! 3. register the wait for its exit (a replica: its removal), before it
//!    starts, so a quick exit cannot be removed before we ask for its status
//!    (2 and 3 on connections of their own, at the same time);
//! 4. start it;
//! 5. send the window size at once: the TTY is 0×0 until the first resize
//!    (`ConsoleSize` at create is ignored by Engine 20.10);
//! 6. pump stdin, output and SIGWINCH until the output ends;
//! 7. the exit status from the wait. A sidecar's session ends there: its
//!    removal is the engine's job (auto-remove; the watchdog and `nosh gc`
//!    for what a crash leaves), and waiting for it cost every `-c` run
//!    about 100 ms.

use std::collections::HashMap;
use std::io::Write;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, ResizeContainerTTYOptionsBuilder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};

use super::engine::Engine;
use super::error::{HostError, SIDECAR_CAPS, from_create, from_start};
use super::replica::LABEL_CREATED;
use super::target::Target;
use super::terminal;
use super::watchdog::Watchdog;
use super::wire::{self, Channel, Demux, Until};

/// Labels every sidecar carries: `nosh ls` and `nosh gc` find them by these.
pub const LABEL_SESSION: &str = "io.nosh.session";
pub const LABEL_TARGET: &str = "io.nosh.target";
pub const LABEL_TARGET_NAME: &str = "io.nosh.target-name";
pub const LABEL_VERSION: &str = "io.nosh.version";

/// What the user asked of the session.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub tty: bool,
    pub user: Option<String>,
    pub root: bool,
    pub command: Option<String>,
    /// `$TERM` for the sidecar when it has a TTY.
    pub term: Option<String>,
    /// Whether the client's stdout and stderr are terminals (they may be
    /// when the session has no TTY: `-T`, or stdin from a file).
    pub stdout_terminal: bool,
    pub stderr_terminal: bool,
    /// What the sidecar may use.
    pub limits: Limits,
    /// Keep the output until the session ends ([`Outcome::Held`]): a
    /// one-shot command beside a container that restarts may lose its
    /// run half-way, and is then run again rather than shown half.
    pub hold_output: bool,
    /// `nosh cp`'s socket directory on this host, mounted at
    /// `toolbox::stream::DIR` in the sidecar or replica.
    pub stream_dir: Option<String>,
}

/// The sidecar's resource limits: a hostile target can make any builtin
/// work hard (huge directories, endless files, processes that fork without
/// pause), and the sidecar must not take the host down with it. Sized so
/// that `ls -lR` over 200,000 entries (about 150 MB) still fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `PidsLimit`; 0 for none.
    pub pids: i64,
    /// `Memory` in bytes; 0 for none.
    pub memory: i64,
}

impl Limits {
    pub const DEFAULT_PIDS: i64 = 1024;
    pub const DEFAULT_MEMORY: i64 = 1 << 30;
}

impl From<&crate::cli::LimitArgs> for Limits {
    fn from(args: &crate::cli::LimitArgs) -> Self {
        let defaults = Limits::default();
        Limits {
            pids: args.pids_limit.unwrap_or(defaults.pids),
            memory: args.memory.unwrap_or(defaults.memory),
        }
    }
}

impl Limits {
    /// The limits in a container's `HostConfig`; 0 sets none.
    pub fn host_config(self) -> HostConfig {
        HostConfig {
            pids_limit: (self.pids > 0).then_some(self.pids),
            memory: (self.memory > 0).then_some(self.memory),
            ..Default::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pids: Self::DEFAULT_PIDS,
            memory: Self::DEFAULT_MEMORY,
        }
    }
}

/// The arguments of the toolbox entry (after `/nosh toolbox`, handed over
/// by [`toolbox_args_env`]) for a container whose app is PID 1 of the
/// toolbox's PID namespace.
pub fn toolbox_args(req: &Request) -> Vec<String> {
    let mut args = vec!["--pid".to_string(), "1".to_string()];
    args.extend(request_args(req));
    args
}

/// Where a sidecar's toolbox finds the target's app. Joining
/// `container:<target>`'s PID namespace puts the sidecar in the target's
/// own, where the app is PID 1, unless the target shares another: with
/// PidMode `host` the sidecar is in the host's (PID 1 is the host's init;
/// the app is `State.Pid`), with `container:X` in X's (PID 1 is X's app).
/// Then the toolbox is told the container id, checks the PID against it
/// and looks for the container's first process if it is not
/// (`src/toolbox/find.rs`), or refuses.
pub fn target_args(target: &Target) -> Vec<String> {
    let mode = target.host_config.pid_mode.as_deref().unwrap_or_default();
    let id = &target.info.id;
    let pid = if mode == "host" && target.host_pid > 0 {
        target.host_pid.to_string()
    } else {
        "1".to_string()
    };
    let mut args = vec!["--pid".to_string(), pid];
    if mode == "host" || mode.starts_with("container:") {
        args.extend(["--container-id".to_string(), id.clone()]);
    } else {
        // Its own PID namespace: PID 1 is the app, whatever it calls itself.
        args.push("--exact".to_string());
    }
    args
}

/// The identity and command the user asked for, as toolbox arguments.
fn request_args(req: &Request) -> Vec<String> {
    let mut args = Vec::new();
    if req.root {
        args.push("--root".into());
    } else if let Some(user) = &req.user {
        args.extend(["--user".to_string(), user.clone()]);
    }
    if let Some(cmd) = &req.command {
        args.extend(["-c".to_string(), cmd.clone()]);
    }
    args
}

/// `args`, the toolbox's arguments, as the variable that hands them over:
/// the command line of the toolbox is `/nosh toolbox` and nothing more,
/// since every process of the target can read it (see
/// [`TOOLBOX_ARGS_ENV`]). Always set, so that a replica's image cannot
/// supply its own.
///
/// [`TOOLBOX_ARGS_ENV`]: crate::target::TOOLBOX_ARGS_ENV
pub fn toolbox_args_env(args: &[String]) -> String {
    let json = serde_json::to_string(args).unwrap_or_else(|_| "[]".into());
    format!("{}={json}", crate::target::TOOLBOX_ARGS_ENV)
}

/// The sidecar's environment: the toolbox's arguments `args`, the target's
/// configuration for the toolbox (in the environment, not the command
/// line: the toolbox is not dumpable, so the app cannot read them back,
/// and `ps` stays readable), and `$TERM` when it has a TTY. The
/// configuration is bounded ([`TargetInfo::bounded`]): one environment
/// string over 128 KiB and the engine cannot start the sidecar at all.
/// Without a TTY, whether our own stdout and stderr are terminals: the
/// toolbox then escapes what it writes as if they were its own.
///
/// [`TargetInfo::bounded`]: crate::target::TargetInfo::bounded
pub fn sidecar_env(target: &Target, req: &Request, args: &[String]) -> Vec<String> {
    let json = serde_json::to_string(&target.info.bounded()).unwrap_or_else(|_| "{}".into());
    let mut env = vec![
        format!("{}={json}", crate::target::TARGET_INFO_ENV),
        toolbox_args_env(args),
    ];
    if let (Some(term), true) = (&req.term, req.tty) {
        env.push(format!("TERM={term}"));
    }
    if !req.tty {
        for (var, yes) in [
            (crate::escape::STDOUT_TERMINAL_ENV, req.stdout_terminal),
            (crate::escape::STDERR_TERMINAL_ENV, req.stderr_terminal),
        ] {
            if yes {
                env.push(format!("{var}=1"));
            }
        }
    }
    env
}

/// The labels of everything a session makes (sidecar, replica, helper,
/// temporary image): `nosh ls` and `nosh gc` find them by these, and leave
/// young ones alone (they may be between create and start).
pub fn session_labels(target: &Target, session: &str) -> HashMap<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    HashMap::from([
        (LABEL_SESSION.to_string(), session.to_string()),
        (LABEL_TARGET.to_string(), target.info.id.clone()),
        (LABEL_TARGET_NAME.to_string(), target.info.name.clone()),
        (
            LABEL_VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (LABEL_CREATED.to_string(), now.to_string()),
    ])
}

/// The stdio part of a container this client attaches to (a sidecar or a
/// replica). The engine closes the container's stdin when our attach
/// connection goes away (`stdin_once`), even on SIGKILL of this client:
/// the shell reads EOF, exits, and auto-remove deletes the container.
pub fn attached_io(tty: bool) -> ContainerCreateBody {
    ContainerCreateBody {
        tty: Some(tty),
        open_stdin: Some(true),
        stdin_once: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    }
}

/// No log driver for a container this client attaches to: what it prints
/// is the user's session (files shown, a copy's bytes, a forwarded
/// stream), which has no business on the engine's disk, and logging it
/// costs the engine a JSON encoding of every byte it relays.
pub fn unlogged() -> Option<HostConfigLogConfig> {
    Some(HostConfigLogConfig {
        typ: Some("none".into()),
        config: None,
    })
}

/// `nosh cp`'s socket directory, mounted where the toolbox looks for it.
pub fn stream_binds(req: &Request) -> Option<Vec<String>> {
    req.stream_dir
        .as_ref()
        .map(|d| vec![format!("{d}:{}", crate::toolbox::stream::DIR)])
}

/// The sidecar's configuration.
pub fn sidecar_config(target: &Target, image: &str, req: &Request) -> ContainerCreateBody {
    let id = &target.info.id;
    let joined = format!("container:{id}");
    let labels = session_labels(target, "sidecar");
    let args = [target_args(target), request_args(req)].concat();
    ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/nosh".into(), "toolbox".into()]),
        env: Some(sidecar_env(target, req, &args)),
        labels: Some(labels),
        host_config: Some(HostConfig {
            pid_mode: Some(joined.clone()),
            network_mode: Some(joined.clone()),
            ipc_mode: (target.ipc_mode == "shareable").then_some(joined),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(SIDECAR_CAPS.iter().map(|c| c.to_string()).collect()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            auto_remove: Some(true),
            log_config: unlogged(),
            binds: stream_binds(req),
            ..req.limits.host_config()
        }),
        ..attached_io(req.tty)
    }
}

/// `nosh-<target>-<6 hex>`: readable in `docker ps`, unique enough for
/// concurrent sessions on one target.
pub fn sidecar_name(target_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{}-{nanos}-{target_name}", std::process::id());
    let hash = Sha256::digest(seed.as_bytes());
    let suffix: String = hash.iter().take(3).map(|b| format!("{b:02x}")).collect();
    let base: String = target_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .take(40)
        .collect();
    if base.is_empty() {
        format!("nosh-{suffix}")
    } else {
        format!("nosh-{base}-{suffix}")
    }
}

/// How a session ended.
#[derive(Debug)]
pub enum Outcome {
    /// The shell's exit status.
    Exited(i64),
    /// The shell's exit status and its output, not shown yet
    /// ([`Request::hold_output`]).
    Held { status: i64, output: Held },
    /// A signal stopped the client; the sidecar was removed.
    Interrupted(i32),
}

/// Output kept back, in the order it came, until [`Held::show`].
#[derive(Debug, Default)]
pub struct Held {
    chunks: Vec<(Channel, Vec<u8>)>,
    bytes: usize,
}

impl Held {
    /// The most output a session keeps back; past it, the output is shown
    /// as it comes and the session can no longer be run again unseen.
    pub const MAX: usize = 8 << 20;

    /// Writes it all to stdout and stderr. A closed stdout is not an error
    /// of the session.
    pub fn show(self) {
        for (channel, bytes) in self.chunks {
            let _ = write_channel(channel, &bytes);
        }
    }
}

/// Runs a session to its end.
pub async fn run(
    engine: &Engine,
    target: &Target,
    image: &str,
    req: &Request,
    watchdog: Option<&mut Watchdog>,
) -> Result<Outcome, HostError> {
    let name = sidecar_name(target.info.display_name());
    let config = sidecar_config(target, image, req);
    let failed = |step: Step, e: &bollard::errors::Error| match step {
        Step::Create => from_create(&engine.endpoint, e),
        Step::Start => from_start(&engine.endpoint, e),
    };
    let result = run_container_until(
        engine,
        &name,
        config,
        req.tty,
        watchdog,
        &failed,
        Until::Exited,
        req.hold_output,
    )
    .await;
    if let Err(
        HostError::CreateFailed(_) | HostError::StartFailed(_) | HostError::CapsRefused { .. },
    ) = &result
        && super::settle::run_changed(engine, target).await
    {
        // The runtime's own words for a target that stopped (or is being
        // restarted) between the inspect and the sidecar's start are
        // cryptic ("namespace path: lstat /proc/N/ns/net"); say what
        // happened instead.
        return Err(HostError::StoppedWhileStarting(
            target.info.display_name().to_string(),
        ));
    }
    result
}

/// The engine calls whose refusal [`run_container`] reports through its
/// caller's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Start,
}

/// Steps 1–7 for a container made from `config` (a replica): its output on
/// ours, our input on its stdin, its exit status once it is removed.
pub async fn run_container(
    engine: &Engine,
    name: &str,
    config: ContainerCreateBody,
    tty: bool,
    watchdog: Option<&mut Watchdog>,
    failed: &dyn Fn(Step, &bollard::errors::Error) -> HostError,
) -> Result<Outcome, HostError> {
    run_container_until(
        engine,
        name,
        config,
        tty,
        watchdog,
        failed,
        Until::Removed,
        false,
    )
    .await
}

/// Steps 1–7, ending when the container has exited or is removed (`until`);
/// with `hold`, the output is kept back ([`Outcome::Held`]).
#[allow(
    clippy::too_many_arguments,
    reason = "each is one of the session's settings; a struct would only rename them"
)]
pub async fn run_container_until(
    engine: &Engine,
    name: &str,
    config: ContainerCreateBody,
    tty: bool,
    watchdog: Option<&mut Watchdog>,
    failed: &dyn Fn(Step, &bollard::errors::Error) -> HostError,
    until: Until,
    hold: bool,
) -> Result<Outcome, HostError> {
    // Catch the signals before anything exists to clean up: a Ctrl-C during
    // create or start must still end in "interrupted, container removed".
    let mut signals = Signals::new()?;
    let log = engine.log;
    // 1. Create.
    let created = engine
        .docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(name).build()),
            config,
        )
        .await
        .map_err(|e| failed(Step::Create, &e))?;
    let id = created.id;
    if let Some(w) = watchdog {
        w.guard(&id);
    }
    log.say(|| format!("created {name} ({})", &id[..id.len().min(12)]));

    // A container that never started is not auto-removed: remove it on failure.
    let started = async {
        // 2. Attach, 3. register the wait: on two connections, at once.
        let (attached, wait) =
            tokio::try_join!(wire::attach(engine, &id), wire::wait(engine, &id, until))?;
        // 4. Start.
        engine
            .docker
            .start_container(&id, None)
            .await
            .map_err(|e| failed(Step::Start, &e))?;
        log.say(|| "started".into());
        Ok::<_, HostError>((attached, wait))
    };
    let (attached, wait) = match started.await {
        Ok(x) => x,
        Err(e) => {
            remove(engine, &id).await;
            return Err(e);
        }
    };

    // 5. Window size at once.
    if tty {
        let (cols, rows) = terminal::size().unwrap_or(terminal::DEFAULT_SIZE);
        resize(engine, &id, cols, rows).await;
        log.say(|| format!("resized to {cols}x{rows}"));
    }

    // 6. Pump.
    let mut out = Output {
        tty,
        held: hold.then(Held::default),
    };
    let interrupted = match pump(engine, &id, attached, &mut out, &mut signals).await {
        Ok(interrupted) => interrupted,
        Err(e) => {
            out.show_held();
            return Err(e);
        }
    };
    if let Some(sig) = interrupted {
        out.show_held();
        remove(engine, &id).await;
        return Ok(Outcome::Interrupted(sig));
    }

    // 7. Exit status.
    let status = match wait.status().await {
        Ok(status) => status,
        Err(e) => {
            out.show_held();
            return Err(e);
        }
    };
    let ended = match until {
        Until::Exited => "exited",
        Until::Removed => "removed",
    };
    log.say(|| format!("{name} {ended}, exit status {status}"));
    Ok(match out.held.take() {
        Some(output) => Outcome::Held { status, output },
        None => Outcome::Exited(status),
    })
}

async fn resize(engine: &Engine, id: &str, cols: u16, rows: u16) {
    let options = ResizeContainerTTYOptionsBuilder::new()
        .w(i32::from(cols))
        .h(i32::from(rows))
        .build();
    if let Err(e) = engine.docker.resize_container_tty(id, options).await {
        engine.log.say(|| format!("resize failed: {e}"));
    }
}

/// Force-removes the sidecar (it may be running).
pub async fn remove(engine: &Engine, id: &str) {
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    if let Err(e) = engine.docker.remove_container(id, Some(options)).await {
        engine.log.say(|| format!("remove {id}: {e}"));
    }
}

/// Copies stdin to the sidecar and its output to stdout/stderr until the
/// output ends. Returns the signal that interrupted the client, if any.
/// The signals a session answers, registered once at its start.
struct Signals {
    winch: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, HostError> {
        let on = |kind| signal(kind).map_err(HostError::Terminal);
        Ok(Signals {
            winch: on(SignalKind::window_change())?,
            int: on(SignalKind::interrupt())?,
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
        })
    }
}

async fn pump(
    engine: &Engine,
    id: &str,
    attached: wire::Attached,
    out: &mut Output,
    signals: &mut Signals,
) -> Result<Option<i32>, HostError> {
    let tty = out.tty;
    let (mut from_sidecar, mut to_sidecar) = tokio::io::split(attached.conn);
    let lost = |e: std::io::Error| HostError::Stream(e.to_string());
    let mut stdin = terminal::stdin_reader()?;
    let mut stdin_open = true;
    let Signals {
        winch,
        int,
        term,
        hup,
    } = signals;

    let mut demux = Demux::default();
    out.write(&mut demux, &attached.first).map_err(lost)?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut first_byte = attached.first.is_empty();
    loop {
        tokio::select! {
            n = from_sidecar.read(&mut buf) => {
                let n = match n {
                    Ok(n) => n,
                    // The engine may reset rather than close the stream of
                    // a container that ended while input was on its way:
                    // the end of the output all the same; the wait says
                    // how it ended (or that the engine is gone).
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
                    Err(e) => return Err(lost(e)),
                };
                if n == 0 {
                    return Ok(None);
                }
                if first_byte {
                    first_byte = false;
                    engine.log.say(|| "first output byte".into());
                }
                if let Err(e) = out.write(&mut demux, &buf[..n]) {
                    // A closed local stdout (`nosh T -c ls | head`) is not an
                    // error of the session: stop copying, let it end.
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(None);
                    }
                    return Err(lost(e));
                }
            }
            chunk = stdin.recv(), if stdin_open => {
                let sent = match chunk {
                    Some(bytes) => to_sidecar.write_all(&bytes).await,
                    None => {
                        stdin_open = false;
                        engine.log.say(|| "stdin closed".into());
                        if tty {
                            // On a TTY the engine answers a half-close by
                            // closing our output streams, which can lose the
                            // last output. End of input on a terminal is ^D.
                            to_sidecar.write_all(b"\x04").await
                        } else {
                            // Half-close: the engine closes the sidecar's stdin.
                            to_sidecar.shutdown().await
                        }
                    }
                };
                match sent {
                    Ok(()) => {}
                    // The shell ended without reading all its input (`-c
                    // exit < FILE`): its output ends next, and the wait
                    // says how it ended.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => stdin_open = false,
                    Err(e) => return Err(lost(e)),
                }
            }
            _ = winch.recv(), if tty => {
                if let Some((cols, rows)) = terminal::size() {
                    resize(engine, id, cols, rows).await;
                    engine.log.say(|| format!("resized to {cols}x{rows}"));
                }
            }
            _ = int.recv() => return Ok(Some(libc::SIGINT)),
            _ = term.recv() => return Ok(Some(libc::SIGTERM)),
            _ = hup.recv() => return Ok(Some(libc::SIGHUP)),
        }
    }
}

/// Where sidecar output goes: raw to stdout on a TTY, demultiplexed
/// otherwise; into `held` while the session's output is kept back.
struct Output {
    tty: bool,
    held: Option<Held>,
}

impl Output {
    fn write(&mut self, demux: &mut Demux, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let chunks = if self.tty {
            vec![(Channel::Stdout, bytes.to_vec())]
        } else {
            demux.push(bytes)
        };
        for (channel, payload) in chunks {
            match &mut self.held {
                Some(held) => {
                    held.bytes += payload.len();
                    held.chunks.push((channel, payload));
                    if held.bytes > Held::MAX {
                        self.show_held();
                    }
                }
                None => write_channel(channel, &payload)?,
            }
        }
        Ok(())
    }

    /// Shows what was kept back, and keeps nothing back from now on.
    fn show_held(&mut self) {
        if let Some(held) = self.held.take() {
            held.show();
        }
    }
}

fn write_channel(channel: Channel, bytes: &[u8]) -> std::io::Result<()> {
    match channel {
        Channel::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            stdout.flush()
        }
        Channel::Stderr => {
            let mut stderr = std::io::stderr().lock();
            stderr.write_all(bytes)?;
            stderr.flush()
        }
    }
}

/// The toolbox's arguments as `env` hands them over (exactly once).
#[cfg(test)]
pub fn handed_args(env: &[String]) -> Vec<String> {
    let prefix = format!("{}=", crate::target::TOOLBOX_ARGS_ENV);
    let found: Vec<&str> = env.iter().filter_map(|e| e.strip_prefix(&prefix)).collect();
    assert_eq!(found.len(), 1, "{env:?}");
    serde_json::from_str(found[0]).expect("a JSON list of strings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetInfo;

    fn target(ipc: &str) -> Target {
        Target {
            info: TargetInfo {
                name: "api".into(),
                id: "0123456789abcdef".into(),
                state: "running".into(),
                ..Default::default()
            },
            ipc_mode: ipc.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_sidecar_joins_the_target_with_least_privilege_and_removes_itself() {
        let req = Request {
            tty: true,
            term: Some("xterm".into()),
            ..Default::default()
        };
        let c = sidecar_config(&target("private"), "nosh-toolbox:x", &req);
        let h = c.host_config.unwrap();
        assert_eq!(h.pid_mode.as_deref(), Some("container:0123456789abcdef"));
        assert_eq!(
            h.network_mode.as_deref(),
            Some("container:0123456789abcdef")
        );
        assert_eq!(h.ipc_mode, None);
        assert_eq!(h.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(
            h.cap_add.unwrap(),
            [
                "SYS_ADMIN",
                "SYS_PTRACE",
                "SYS_CHROOT",
                "DAC_READ_SEARCH",
                "SETPCAP",
                "SETGID",
                "SETUID"
            ]
        );
        assert_eq!(h.security_opt.unwrap(), ["no-new-privileges"]);
        assert_eq!(h.pids_limit, Some(1024));
        assert_eq!(h.memory, Some(1 << 30));
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(c.stdin_once, Some(true));
        assert_eq!(c.tty, Some(true));
        // Nothing the operator typed, nor anything else, on the command line.
        assert_eq!(c.entrypoint.unwrap(), ["/nosh", "toolbox"]);
        assert_eq!(c.cmd, None);
        let env = c.env.unwrap();
        assert!(env[0].starts_with("NOSH_TARGET_INFO={"));
        assert_eq!(env[1], r#"NOSH_TOOLBOX_ARGS=["--pid","1","--exact"]"#);
        assert_eq!(env[2..], ["TERM=xterm"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels[LABEL_TARGET], "0123456789abcdef");
        assert_eq!(labels[LABEL_SESSION], "sidecar");
    }

    #[test]
    fn without_a_tty_the_toolbox_hears_where_its_output_ends_up() {
        let req = Request {
            stdout_terminal: true,
            ..Default::default()
        };
        let env = sidecar_env(&target(""), &req, &[]);
        assert_eq!(env[2..], ["NOSH_STDOUT_TERMINAL=1"]);
        // With a TTY the sidecar's own stdout is the terminal.
        let env = sidecar_env(
            &target(""),
            &Request {
                tty: true,
                stderr_terminal: true,
                ..req
            },
            &[],
        );
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn limits_are_overridable_and_zero_lifts_them() {
        let req = Request {
            limits: Limits {
                pids: 0,
                memory: 64 << 20,
            },
            ..Default::default()
        };
        let h = sidecar_config(&target(""), "img", &req)
            .host_config
            .unwrap();
        assert_eq!(h.pids_limit, None);
        assert_eq!(h.memory, Some(64 << 20));
    }

    #[test]
    fn ipc_is_shared_only_with_a_shareable_target() {
        let c = sidecar_config(&target("shareable"), "img", &Request::default());
        assert_eq!(
            c.host_config.unwrap().ipc_mode.as_deref(),
            Some("container:0123456789abcdef")
        );
    }

    #[test]
    fn toolbox_arguments_carry_identity_command_and_target_info() {
        let req = Request {
            user: Some("1000:1000".into()),
            command: Some("id".into()),
            ..Default::default()
        };
        let args = toolbox_args(&req);
        assert_eq!(args, ["--pid", "1", "--user", "1000:1000", "-c", "id"]);
        let env = sidecar_env(&target(""), &req, &args);
        assert_eq!(handed_args(&env), args);
        let json = env[0].strip_prefix("NOSH_TARGET_INFO=").unwrap();
        let info: TargetInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.name, "api");
        let root = toolbox_args(&Request {
            root: true,
            ..Default::default()
        });
        assert_eq!(root[..3], ["--pid", "1", "--root"]);
    }

    #[test]
    fn a_target_sharing_another_pid_namespace_is_named_to_the_toolbox() {
        let with = |mode: &str| Target {
            host_pid: 4242,
            host_config: HostConfig {
                pid_mode: Some(mode.into()),
                ..Default::default()
            },
            ..target("private")
        };
        let req = Request {
            command: Some("id".into()),
            ..Default::default()
        };
        let cmd = |t: &Target| handed_args(&sidecar_config(t, "img", &req).env.unwrap());
        assert_eq!(cmd(&with("")), ["--pid", "1", "--exact", "-c", "id"]);
        assert_eq!(cmd(&with("private")), ["--pid", "1", "--exact", "-c", "id"]);
        assert_eq!(
            cmd(&with("host")),
            [
                "--pid",
                "4242",
                "--container-id",
                "0123456789abcdef",
                "-c",
                "id"
            ]
        );
        assert_eq!(
            cmd(&with("container:feedbeef")),
            [
                "--pid",
                "1",
                "--container-id",
                "0123456789abcdef",
                "-c",
                "id"
            ]
        );
    }

    #[test]
    fn sidecar_names_are_valid_and_distinct() {
        let a = sidecar_name("claims-api");
        assert!(a.starts_with("nosh-claims-api-"), "{a}");
        assert_eq!(sidecar_name("").len(), "nosh-".len() + 6);
        assert!(sidecar_name("we/ird name").starts_with("nosh-weirdname-"));
    }
}
