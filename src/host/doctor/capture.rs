//! Containers whose output is read rather than shown: the sidecars of
//! `doctor --all` (each prints one JSON document) and the watched start
//! of `doctor --run`. Many may run at once, and every one must go however
//! the run ends, so a [`Tracker`] knows what exists:
//! - each container as soon as it is created (and the watchdog with it,
//!   for a client killed with SIGKILL), until it has ended;
//! - a toolbox helper (`--run`), removed with its volume once its
//!   container is gone;
//! - everything carries the run's own label, so that what a create still
//!   in flight at a Ctrl-C makes is found and removed too.
//!
//! One container's steps, as a session's (see [`crate::host::sidecar::session`]):
//! create, attach and register the wait before the start (no output and
//! no exit is missed), start, read to the end, the status.

use std::collections::HashMap;
use std::sync::Mutex;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use tokio::io::AsyncReadExt;

use crate::host::engine::Engine;
use crate::host::engine::wire::{self, Channel, Demux, Until};
use crate::host::error::HostError;
use crate::host::sidecar::session::Step;
use crate::host::sidecar::watchdog::Watchdog;

/// The label every container of one `doctor --run` or `--all` run wears.
pub const LABEL_RUN: &str = "io.nosh.run";
/// Most output kept of one container (each stream): a report is far
/// smaller; a runaway toolbox must not fill the client's memory.
const MAX_OUTPUT: usize = 16 << 20;

/// What one engine's part of a run has made, for the cleanup.
pub struct Tracker {
    /// This run's label value.
    pub run_id: String,
    watchdog: Mutex<Option<Watchdog>>,
    live: Mutex<Vec<String>>,
    helper: Mutex<Option<String>>,
}

impl Tracker {
    pub fn new(watchdog: Option<Watchdog>) -> Tracker {
        let seed = crate::host::sidecar::spec::sidecar_name("");
        Tracker {
            run_id: seed.trim_start_matches("nosh-").to_string(),
            watchdog: Mutex::new(watchdog),
            live: Mutex::new(Vec::new()),
            helper: Mutex::new(None),
        }
    }

    /// The label to put on everything this run makes.
    pub fn label(&self) -> (String, String) {
        (LABEL_RUN.to_string(), self.run_id.clone())
    }

    fn with_watchdog(&self, f: impl FnOnce(&mut Watchdog)) {
        if let Ok(mut w) = self.watchdog.lock()
            && let Some(w) = w.as_mut()
        {
            f(w);
        }
    }

    fn created(&self, id: &str) {
        self.with_watchdog(|w| w.guard(id));
        if let Ok(mut live) = self.live.lock() {
            live.push(id.to_string());
        }
    }

    fn ended(&self, id: &str) {
        self.with_watchdog(|w| w.ended(id));
        if let Ok(mut live) = self.live.lock() {
            live.retain(|c| c != id);
        }
    }

    /// A toolbox helper exists (never started; its volume holds the binary).
    pub fn helper(&self, id: &str) {
        self.with_watchdog(|w| w.helper(id));
        if let Ok(mut h) = self.helper.lock() {
            *h = Some(id.to_string());
        }
    }

    /// Removes the helper with its volume (its container must be gone).
    pub async fn remove_helper(&self, engine: &Engine) {
        let id = self.helper.lock().ok().and_then(|mut h| h.take());
        if let Some(id) = id {
            remove(engine, &id).await;
        }
    }

    /// After an interruption: every container of this run (the known ones
    /// and any other with its label), then, once they are gone, the helper.
    pub async fn clean_up(&self, engine: &Engine) {
        let mut ids: Vec<String> = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_RUN}={}", self.run_id)],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        if let Ok(listed) = engine.docker.list_containers(Some(options)).await {
            let helper = self.helper.lock().ok().and_then(|h| h.clone());
            for id in listed.into_iter().filter_map(|c| c.id) {
                if Some(&id) != helper.as_ref() && !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        for id in &ids {
            remove(engine, id).await;
        }
        // The helper's volume is in use until its container is gone.
        for id in &ids {
            for _ in 0..100 {
                if engine.docker.inspect_container(id, None).await.is_err() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        self.remove_helper(engine).await;
    }

    /// Everything is gone: the watchdog has nothing left to do.
    pub fn done(&self) {
        self.with_watchdog(Watchdog::done);
    }
}

/// Force-removes a container with its anonymous volumes (the helper's
/// holds the binary; an image's VOLUMEs give the watched one some).
async fn remove(engine: &Engine, id: &str) {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    if let Err(e) = engine.docker.remove_container(id, Some(options)).await {
        engine.log.say(|| format!("remove {id}: {e}"));
    }
}

/// What a container printed, and how it ended.
#[derive(Debug, Default)]
pub struct Captured {
    pub status: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Captured {
    /// Its stderr as one line for a message, escaped, or `fallback`.
    pub fn complaint(&self, fallback: &str) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let text = text.trim();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim_start_matches("nosh: ").to_string());
        let line = last.unwrap_or_else(|| fallback.to_string());
        crate::term::escape::field(crate::target::info::truncate(&line, 400).as_bytes())
            .into_owned()
    }
}

/// Runs a container made from `config` to its end and returns its
/// output. `until` says when it is over: its exit (auto-remove does the
/// rest) or its removal (a helper waits for that); a sidecar handed `mark`
/// is over sooner, at the toolbox's end mark ([`crate::toolbox::end_mark`]).
pub async fn run(
    engine: &Engine,
    tracker: &Tracker,
    name: &str,
    mut config: ContainerCreateBody,
    until: Until,
    mark: Option<&str>,
) -> Result<Captured, (Step, HostError)> {
    let (key, value) = tracker.label();
    config
        .labels
        .get_or_insert_with(HashMap::new)
        .insert(key, value);
    let created = engine
        .docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(name).build()),
            config,
        )
        .await
        .map_err(|e| {
            (
                Step::Create,
                crate::host::error::from_engine(&engine.endpoint, "create", &e),
            )
        })?;
    let id = created.id;
    tracker.created(&id);
    engine
        .log
        .say(|| format!("created {name} ({})", &id[..id.len().min(12)]));
    let result = run_created(engine, &id, until, mark).await;
    if result.is_err() {
        // Never started, or lost: not auto-removed.
        remove(engine, &id).await;
    }
    tracker.ended(&id);
    result
}

async fn run_created(
    engine: &Engine,
    id: &str,
    until: Until,
    mark: Option<&str>,
) -> Result<Captured, (Step, HostError)> {
    let attached = wire::attach(engine, id)
        .await
        .map_err(|e| (Step::Create, e))?;
    let wait = wire::wait(engine, id, until)
        .await
        .map_err(|e| (Step::Create, e))?;
    engine.docker.start_container(id, None).await.map_err(|e| {
        (
            Step::Start,
            crate::host::error::from_engine(&engine.endpoint, "start", &e),
        )
    })?;
    engine
        .log
        .say(|| format!("started {}", &id[..id.len().min(12)]));
    let mut out = Captured::default();
    let mut demux = Demux::marked(mark);
    let keep = |frames: Vec<(Channel, Vec<u8>)>, out: &mut Captured| {
        for (channel, payload) in frames {
            let buf = match channel {
                Channel::Stdout => &mut out.stdout,
                Channel::Stderr => &mut out.stderr,
            };
            let room = MAX_OUTPUT.saturating_sub(buf.len());
            buf.extend_from_slice(&payload[..payload.len().min(room)]);
        }
    };
    keep(demux.push(&attached.first), &mut out);
    let mut conn = attached.conn;
    let mut buf = vec![0u8; 32 * 1024];
    let marked = loop {
        if let Some(status) = demux.mark_status() {
            break Some(status);
        }
        let n = conn
            .read(&mut buf)
            .await
            .map_err(|e| (Step::Start, HostError::Stream(e.to_string())))?;
        if n == 0 {
            keep(demux.rest(), &mut out);
            break None;
        }
        keep(demux.push(&buf[..n]), &mut out);
    };
    out.status = match marked {
        Some(status) => i64::from(status),
        None => wait.status().await.map_err(|e| (Step::Start, e))?,
    };
    engine.log.say(|| {
        let how = if marked.is_some() {
            " (the toolbox's mark)"
        } else {
            ""
        };
        format!(
            "{} ended{how} with status {}",
            &id[..id.len().min(12)],
            out.status
        )
    });
    Ok(out)
}

/// Runs `work` unless SIGINT, SIGTERM or SIGHUP comes first; then the
/// work is dropped and the signal's number returned (clean up with
/// [`Tracker::clean_up`]).
pub async fn interruptible<T>(work: impl std::future::Future<Output = T>) -> Result<T, i32> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return Ok(work.await);
    };
    tokio::select! {
        r = work => Ok(r),
        _ = int.recv() => Err(libc::SIGINT),
        _ = term.recv() => Err(libc::SIGTERM),
        _ = hup.recv() => Err(libc::SIGHUP),
    }
}
