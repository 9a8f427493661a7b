//! What the checks look at, read once: the app's processes, identity,
//! working directory, environment and command line, the mounts, the log
//! lines, and a traced start when the app exited.

use std::collections::BTreeSet;

use super::start::Start;
use crate::diagnosis::watched::Watched;
use crate::shell::Ctx;
use crate::target::info::TargetInfo;
use crate::target::perm::{self, Mount, Who};
use crate::target::procinfo::Status;

pub struct Facts<'a> {
    pub ctx: &'a Ctx,
    pub info: &'a TargetInfo,
    /// The app's main process.
    pub pid: i32,
    pub status: Option<Status>,
    /// Its effective uid.
    pub app_uid: Option<u32>,
    /// Every process of the app (not this shell and what it started).
    pub pids: BTreeSet<i32>,
    /// The identity the checks run as: the app's.
    pub who: Who,
    pub workdir: String,
    pub env: Vec<String>,
    /// The running command line (empty when the app is not running).
    pub cmdline: Vec<String>,
    /// The configured command (Entrypoint + Cmd).
    pub argv: Vec<String>,
    pub mounts: Vec<Mount>,
    pub root_ro: bool,
    /// The container's own last log lines, then the output of the traced
    /// start ([`Facts::log_len`] of them are the container's).
    pub lines: Vec<String>,
    pub log_len: usize,
    pub start: Option<Start>,
    /// The app exited with an error, or the engine restarts it.
    pub crashed: bool,
    /// What `nosh doctor IMAGE --run` saw of the app's start, when this is
    /// such a run: its refused binds name their port and errno.
    pub watched: Option<&'a Watched>,
}

impl Facts<'_> {
    /// The lines that are the container's own log.
    pub fn log(&self) -> &[String] {
        &self.lines[..self.log_len]
    }

    /// The lines the traced start printed.
    pub fn start_output(&self) -> &[String] {
        &self.lines[self.log_len..]
    }

    /// Whether `path` is on the root filesystem (not a volume or tmpfs).
    pub fn on_root(&self, path: &str) -> bool {
        perm::mount_of(&self.mounts, path).is_some_and(|m| m.target == "/")
    }
}

/// Whether the target's last run is a failure: it ended non-zero or
/// OOM-killed (as the engine recorded it), or the engine restarts it.
pub fn crashed(info: &TargetInfo) -> bool {
    let failed =
        crate::target::info::last_exit_known(info) && (info.exit_code != 0 || info.oom_killed);
    info.restart_count > 0 || info.state == "restarting" || failed
}

/// The processes of the app: everything in the namespace except this shell
/// and what it started; on a watched start, the app's first process and its
/// descendants (the app is the watcher's child there).
pub fn app_pids(ctx: &Ctx, watched: Option<&Watched>) -> BTreeSet<i32> {
    let me = std::process::id() as i32;
    let rows: Vec<(i32, i32)> = ctx
        .proc
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| ctx.proc.stat(p).ok().map(|s| (p, s.ppid)))
        .collect();
    let descendants = |root: i32| {
        let mut tree: BTreeSet<i32> = BTreeSet::from([root]);
        // A fixed point: pids are few.
        loop {
            let before = tree.len();
            for (p, pp) in &rows {
                if tree.contains(pp) {
                    tree.insert(*p);
                }
            }
            if tree.len() == before {
                return tree;
            }
        }
    };
    if let Some(w) = watched {
        return descendants(w.app_pid)
            .into_iter()
            .filter(|p| rows.iter().any(|(q, _)| q == p))
            .collect();
    }
    let ours = descendants(me);
    rows.into_iter()
        .map(|(p, _)| p)
        .filter(|p| !ours.contains(p))
        .collect()
}

/// Gathers the facts; `start` runs the traced start when the app crashed
/// (the caller decides whether it may). A watched start (`nosh doctor
/// IMAGE --run`) is the traced start itself.
pub fn gather<'a>(
    ctx: &'a Ctx,
    watched: Option<&'a Watched>,
    start: impl FnOnce(&[String]) -> Option<Start>,
) -> Facts<'a> {
    let info: &TargetInfo = &ctx.info;
    let pid = ctx.target_pid;
    let status = ctx.proc.status(pid).ok();
    let who = Who::current();
    // A watched app that already exited ran as the watcher does.
    let app_uid = status
        .as_ref()
        .map(|s| s.uid[1])
        .or(watched.map(|_| who.uid));
    let pids = app_pids(ctx, watched);
    let workdir = std::fs::read_link(ctx.proc.path(pid, "cwd"))
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .or_else(|| Some(info.working_dir.clone()).filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    let env: Vec<String> = ctx
        .proc
        .environ(pid)
        .map(|e| {
            e.iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .filter(|x| !crate::target::info::is_host_env(x))
                .collect()
        })
        .unwrap_or_else(|_| info.env.clone());
    let cmdline: Vec<String> = if pids.contains(&pid) {
        ctx.proc
            .cmdline(pid)
            .map(|e| {
                e.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut argv = info.entrypoint.clone().unwrap_or_default();
    argv.extend(info.cmd.clone().unwrap_or_default());
    let mounts = perm::mounts();
    let root_ro = perm::mount_of(&mounts, "/").is_some_and(|m| m.readonly());
    let crashed = crashed(info);
    let start = match watched {
        Some(w) => Some(w.as_start()),
        None if crashed => start(&argv),
        None => None,
    };
    let mut lines = info.log_tail.clone();
    let log_len = lines.len();
    if let Some(s) = &start {
        lines.extend(s.output.iter().cloned());
    }
    Facts {
        ctx,
        info,
        pid,
        status,
        app_uid,
        pids,
        who,
        workdir,
        env,
        cmdline,
        argv,
        mounts,
        root_ro,
        lines,
        log_len,
        start,
        crashed,
        watched,
    }
}
