//! One session: the sidecar container beside the target (or a replica, see
//! [`crate::host::sidecar::replica`]), and the terminal attached to it.
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
//!    about 100 ms. Without a TTY a sidecar's session ends sooner still:
//!    at the toolbox's end mark on both output streams, which carries the
//!    status ([`crate::toolbox::end_mark`]); Docker answers the wait only
//!    once the container is torn down, 40 to 100 ms after the last output.

use std::io::Write;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, ResizeContainerTTYOptionsBuilder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};

use crate::host::engine::Engine;
use crate::host::engine::wire::{self, Channel, Demux, Until};
use crate::host::error::{HostError, from_create, from_start};
use crate::host::sidecar::spec::{Request, sidecar_config, sidecar_name};
use crate::host::sidecar::watchdog::Watchdog;
use crate::host::target::Target;
use crate::host::terminal;

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
        req.end_mark.as_deref(),
    )
    .await;
    if let Err(
        HostError::CreateFailed(_) | HostError::StartFailed(_) | HostError::CapsRefused { .. },
    ) = &result
        && crate::host::sidecar::settle::run_changed(engine, target).await
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
        None,
    )
    .await
}

/// Steps 1–7, ending when the container has exited or is removed (`until`)
/// or, sooner, when the toolbox's output ended with `mark`
/// ([`crate::toolbox::end_mark`]); with `hold`, the output is kept back
/// ([`Outcome::Held`]).
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
    mark: Option<&str>,
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
    let mut demux = Demux::marked(mark);
    let interrupted = match pump(engine, &id, attached, &mut out, &mut demux, &mut signals).await {
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

    // 7. Exit status: the toolbox's own word, or the engine's.
    let marked = demux.mark_status();
    let status = match marked {
        Some(status) => i64::from(status),
        None => match wait.status().await {
            Ok(status) => status,
            Err(e) => {
                out.show_held();
                return Err(e);
            }
        },
    };
    let ended = match (marked, until) {
        (Some(_), _) => "ended (the toolbox's mark)",
        (None, Until::Exited) => "exited",
        (None, Until::Removed) => "removed",
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
    demux: &mut Demux,
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

    out.write(demux, &attached.first).map_err(lost)?;
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
                    out.show(demux.rest()).map_err(lost)?;
                    return Ok(None);
                }
                if first_byte {
                    first_byte = false;
                    engine.log.say(|| "first output byte".into());
                }
                if let Err(e) = out.write(demux, &buf[..n]) {
                    // A closed local stdout (`nosh T -c ls | head`) is not an
                    // error of the session: stop copying, let it end.
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(None);
                    }
                    return Err(lost(e));
                }
                if demux.mark_status().is_some() {
                    engine.log.say(|| "end mark on both streams".into());
                    return Ok(None);
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
        self.show(chunks)
    }

    fn show(&mut self, chunks: Vec<(Channel, Vec<u8>)>) -> std::io::Result<()> {
        for (channel, payload) in chunks {
            if payload.is_empty() {
                continue;
            }
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
