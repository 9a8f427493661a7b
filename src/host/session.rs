//! One session: the sidecar container beside the target (or a replica, see
//! [`super::replica`]), and the terminal attached to it.
//!
//! Order (each step needs the one before):
//! 1. create the container (auto-remove, stdin once);
//! 2. attach to it, before it starts, so no output is lost;
//! 3. register the wait for its exit (a replica: its removal), before it
//!    starts, so a quick exit cannot be removed before we ask for its status;
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

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pids: Self::DEFAULT_PIDS,
            memory: Self::DEFAULT_MEMORY,
        }
    }
}

/// The arguments of the toolbox entry (after `/nosh toolbox`) for a
/// container whose app is PID 1 of the toolbox's PID namespace.
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

/// The sidecar's environment: the target's configuration for the toolbox
/// (in the environment, not the command line: after the drop the toolbox is
/// not dumpable, so the app cannot read it back, and `ps` stays readable),
/// and `$TERM` when it has a TTY. The configuration is bounded
/// ([`TargetInfo::bounded`]): one environment string over 128 KiB and the
/// engine cannot start the sidecar at all. Without a TTY, whether our own
/// stdout and stderr are terminals: the toolbox then escapes what it writes
/// as if they were its own.
///
/// [`TargetInfo::bounded`]: crate::target::TargetInfo::bounded
pub fn sidecar_env(target: &Target, req: &Request) -> Vec<String> {
    let json = serde_json::to_string(&target.info.bounded()).unwrap_or_else(|_| "{}".into());
    let mut env = vec![format!("{}={json}", crate::target::TARGET_INFO_ENV)];
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
    let env = Some(sidecar_env(target, req));
    ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/nosh".into(), "toolbox".into()]),
        cmd: Some([target_args(target), request_args(req)].concat()),
        env,
        labels: Some(labels),
        host_config: Some(HostConfig {
            pid_mode: Some(joined.clone()),
            network_mode: Some(joined.clone()),
            ipc_mode: (target.ipc_mode == "shareable").then_some(joined),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(SIDECAR_CAPS.iter().map(|c| c.to_string()).collect()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: (req.limits.pids > 0).then_some(req.limits.pids),
            memory: (req.limits.memory > 0).then_some(req.limits.memory),
            auto_remove: Some(true),
            log_config: unlogged(),
            binds: stream_binds(req),
            ..Default::default()
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
    /// A signal stopped the client; the sidecar was removed.
    Interrupted(i32),
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
    )
    .await;
    if let Err(HostError::StartFailed(_) | HostError::CapsRefused { .. }) = &result {
        // The runtime's own words for a target that stopped between create
        // and start are cryptic; say what happened instead.
        let running = engine
            .docker
            .inspect_container(&target.info.id, None)
            .await
            .ok()
            .and_then(|t| t.state?.running)
            .unwrap_or(false);
        if !running {
            return Err(HostError::StoppedWhileStarting(
                target.info.display_name().to_string(),
            ));
        }
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
    run_container_until(engine, name, config, tty, watchdog, failed, Until::Removed).await
}

/// Steps 1–7, ending when the container has exited or is removed (`until`).
pub async fn run_container_until(
    engine: &Engine,
    name: &str,
    config: ContainerCreateBody,
    tty: bool,
    watchdog: Option<&mut Watchdog>,
    failed: &dyn Fn(Step, &bollard::errors::Error) -> HostError,
    until: Until,
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
        // 2. Attach, 3. register the wait.
        let attached = wire::attach(engine, &id).await?;
        let wait = wire::wait(engine, &id, until).await?;
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
    let interrupted = pump(engine, &id, tty, attached, &mut signals).await?;
    if let Some(sig) = interrupted {
        remove(engine, &id).await;
        return Ok(Outcome::Interrupted(sig));
    }

    // 7. Exit status.
    let status = wait.status().await?;
    let ended = match until {
        Until::Exited => "exited",
        Until::Removed => "removed",
    };
    log.say(|| format!("{name} {ended}, exit status {status}"));
    Ok(Outcome::Exited(status))
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
    tty: bool,
    attached: wire::Attached,
    signals: &mut Signals,
) -> Result<Option<i32>, HostError> {
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
    let mut out = Output { tty };
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

/// Where sidecar output goes: raw to stdout on a TTY, demultiplexed otherwise.
struct Output {
    tty: bool,
}

impl Output {
    fn write(&mut self, demux: &mut Demux, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.tty {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            return stdout.flush();
        }
        for (channel, payload) in demux.push(bytes) {
            match channel {
                Channel::Stdout => {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(&payload)?;
                    stdout.flush()?;
                }
                Channel::Stderr => {
                    let mut stderr = std::io::stderr().lock();
                    stderr.write_all(&payload)?;
                    stderr.flush()?;
                }
            }
        }
        Ok(())
    }
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
        let env = c.env.unwrap();
        assert!(env[0].starts_with("NOSH_TARGET_INFO={"));
        assert_eq!(env[1..], ["TERM=xterm"]);
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
        let env = sidecar_env(&target(""), &req);
        assert_eq!(env[1..], ["NOSH_STDOUT_TERMINAL=1"]);
        // With a TTY the sidecar's own stdout is the terminal.
        let env = sidecar_env(
            &target(""),
            &Request {
                tty: true,
                stderr_terminal: true,
                ..req
            },
        );
        assert_eq!(env.len(), 1);
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
        let env = sidecar_env(&target(""), &req);
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
        let cmd = |t: &Target| sidecar_config(t, "img", &req).cmd.unwrap();
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
