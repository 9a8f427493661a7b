//! The toolbox half: runs inside the sidecar (or any container sharing the
//! target's PID namespace), single-threaded and synchronous.
//!
//! 0. become not dumpable, before anything else: the target's processes
//!    (root ones included, once the shell runs as uid 0 with no capabilities)
//!    must never open this process's fds (the operator's terminal), memory or
//!    environment;
//! 1. become a child subreaper, so nothing started here is orphaned into the
//!    target;
//! 2. make sure N is the target's own process ([`find`]: not the host's
//!    init, not another container's app, not a pod's pause process), open
//!    it and choose the identity; attached directly, join its cgroups
//!    ([`cgroups`]);
//! 3. join N's user namespace if it has its own, then its PID namespace if
//!    it is not ours, and fork into it;
//! 4. join N's other namespaces and root ([`join`]);
//! 5. drop privileges and verify ([`drop`]) — no target file and no user
//!    input is read before this point; attached directly, install the
//!    seccomp filter ([`seccomp`]);
//! 6. run the shell; on its exit kill and reap every child ([`reaper`]).
//!    Every program of the target it starts goes through [`spawn`];
//! 7. handed a value by the host half (no TTY), end stdout and stderr with
//!    the mark that carries the status ([`end_mark`]), then exit.

pub mod cgroups;
pub mod drop;
pub mod end_mark;
pub mod find;
pub mod forward;
pub mod identity;
pub mod join;
pub mod reaper;
pub mod seccomp;
pub mod spawn;
pub mod stream;
pub mod watch;

use std::error::Error;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use nix::fcntl::{OFlag, open};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::cli::ToolboxArgs;
use crate::shell::Confinement;
use crate::shell::{self, Session};
use crate::sys::{self, RealCredentials};
use crate::target::info::TargetInfo;

/// Print an error and its causes once, as one line.
pub fn report(err: &dyn Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The arguments the host half passed in [`TOOLBOX_ARGS_ENV`] (see there
/// why not on the command line), taken out of the environment: programs the
/// shell starts never see them.
///
/// # Safety
/// Changes the environment: call it while the process has one thread.
///
/// [`TOOLBOX_ARGS_ENV`]: crate::target::info::TOOLBOX_ARGS_ENV
pub unsafe fn take_host_args() -> Result<Vec<String>, String> {
    use crate::target::info::TOOLBOX_ARGS_ENV;
    let Some(value) = std::env::var_os(TOOLBOX_ARGS_ENV) else {
        return Ok(Vec::new());
    };
    // SAFETY: the caller guarantees a single thread.
    unsafe { std::env::remove_var(TOOLBOX_ARGS_ENV) };
    value
        .to_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| format!("${TOOLBOX_ARGS_ENV} is not a JSON list of strings"))
}

pub fn main(mut args: ToolboxArgs) -> ExitCode {
    // The mark is this process's to write, after the shell's process
    // (forked below into the target's PID namespace) has ended; never the
    // forked one's, which returns through here too.
    let outer = std::process::id();
    let mut mark = args
        .end_mark
        .take()
        .filter(|value| end_mark::is_value(value));
    let code = match run(args, &mut mark) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nosh: {}", report(e.as_ref()));
            crate::EXIT_NOSH_FAILED
        }
    };
    if let Some(value) = mark
        && std::process::id() == outer
    {
        end_mark::write(&value, code);
    }
    ExitCode::from(code)
}

/// The toolbox; `mark` is forgotten when stdout becomes a copy's stream,
/// which must carry the copy's bytes only.
fn run(args: ToolboxArgs, mark: &mut Option<String>) -> Result<u8, Box<dyn Error>> {
    // 0.
    sys::set_not_dumpable()?;
    // A copy's own stream, when `nosh cp` offers one, before any output.
    if stream::take_offered() {
        *mark = None;
    }
    let info: TargetInfo = match &args.target_info {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| format!("--target-info is not valid JSON: {e}"))?,
        None => TargetInfo::default(),
    };
    // SAFETY: the toolbox is single-threaded; nothing reads the
    // environment concurrently. Programs started later get the target's
    // environment, never this variable.
    unsafe { std::env::remove_var(crate::target::info::TARGET_INFO_ENV) };
    // SAFETY: as above.
    unsafe { crate::term::escape::take_host_terminal_env() };
    // 2. (first half) Which process is the target's own: the shell's and a
    // forwarded connection's identity are both that process's.
    let chosen = if args.exact {
        find::Chosen {
            pid: args.pid,
            note: None,
        }
    } else {
        find::choose(
            &crate::target::procinfo::Proc::default(),
            args.pid,
            args.container_id.as_deref(),
            std::process::id() as i32,
        )?
    };
    if let Some(note) = &chosen.note {
        eprintln!("nosh: {note}");
    }
    if let Some(spec) = &args.forward {
        return forward::run(chosen.pid, args.user.as_deref(), args.root, spec);
    }
    // Brought tools in this container's own filesystem, opened before the
    // join: afterwards only the fd reaches them.
    let tools_dir = args
        .tools
        .clone()
        .unwrap_or_else(|| crate::tools::SIDECAR_DIR.into());
    let tools = crate::tools::Brought::open_if_present(&tools_dir)?;
    attach(Attach {
        pid: chosen.pid,
        user: args.user,
        root: args.root,
        command: args.command,
        info,
        direct: None,
        tools,
    })
}

/// One attach of the toolbox half to process `pid`: from `nosh toolbox`
/// in a sidecar, or in-process on the host for direct attach.
pub struct Attach {
    pub pid: i32,
    pub user: Option<String>,
    pub root: bool,
    pub command: Option<String>,
    pub info: TargetInfo,
    /// Attached directly from the host: what the engine would otherwise
    /// give a sidecar, nosh does itself.
    pub direct: Option<Direct>,
    /// Brought tools, opened in the caller's mount namespace.
    pub tools: Option<crate::tools::Brought>,
}

/// Direct attach's part of the join.
pub struct Direct {
    /// The process the host half checked.
    pub process: join::Process,
    /// Installed after the drop, before the shell.
    pub seccomp: seccomp::Filter,
    /// How the host half names this target to the user, for the sentence
    /// that says to use a sidecar instead.
    pub sidecar_hint: String,
}

/// Steps 1 to 6. The caller must be single-threaded: `setns` refuses a
/// process with a second thread.
pub fn attach(req: Attach) -> Result<u8, Box<dyn Error>> {
    let Attach {
        pid,
        user,
        root,
        command,
        info,
        direct,
        tools,
    } = req;
    // 0. Again, for callers that come here directly (direct attach): the
    // verification after the drop refuses a dumpable process.
    sys::set_not_dumpable()?;
    // 1.
    sys::set_child_subreaper()?;
    // 2.
    let mut sidecar_hint = String::new();
    let (mut target, seccomp, mut confinement, cgroups) = match direct {
        Some(d) => {
            let target = join::Target::open_at(d.process)?;
            sidecar_hint = d.sidecar_hint;
            // Into the target's cgroups before any of its code can run: the
            // v1 hierarchies here, the unified one with the fork below;
            // where that fails, the shell still inspects, but starts none
            // of the target's programs.
            let opened = cgroups::open(&target.cgroups).and_then(|c| c.enter_v1().map(|()| c));
            match opened {
                Ok(c) => (target, Some(d.seccomp), Confinement::Direct, Some(c)),
                Err(e) => (target, Some(d.seccomp), refused(&e, &sidecar_hint), None),
            }
        }
        None => (join::Target::open(pid)?, None, Confinement::Engine, None),
    };
    let (identity, id_source) = identity::choose(&target.status, user.as_deref(), root)?;
    let identity = identity::fit_unprivileged(identity, own_identity()?, can_change_ids()?)?;
    let target_pid = target.pid_inside();
    // Born into the unified cgroup with the fork below, when there is one
    // and no user namespace to join before it (inside one, the host's
    // cgroup files are no longer ours to write); else moved into it now.
    let mut born_into = cgroups.as_ref().and_then(|c| c.unified());
    if let Some(c) = &cgroups
        && (target.has_user_ns() || !target.has_pid_ns())
    {
        born_into = None;
        if let Err(e) = c.enter_unified() {
            confinement = refused(&e, &sidecar_hint);
        }
    }
    // 3. The user namespace first: the others belong to it.
    target.join_user_ns()?;
    if target.join_pid_ns()? {
        let born_in = born_into.map(|fd| {
            // SAFETY: the toolbox is single-threaded (no runtime, no
            // threads are ever started on this path), so the child may run
            // arbitrary code.
            unsafe { sys::fork_into_cgroup(fd) }
        });
        let (forked, born) = match born_in {
            Some(Ok(f)) => (f, true),
            // No cgroup to be born into, or a kernel without clone3 into
            // one: fork, then move.
            // SAFETY: as above, one thread.
            Some(Err(_)) | None => (unsafe { fork() }?, false),
        };
        match forked {
            ForkResult::Parent { child } => return Ok(wait_for(child)),
            ForkResult::Child => {
                // If the parent outside the namespace is killed, the shell
                // goes too, and its children with it (see reaper).
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                sys::set_child_subreaper()?;
                if let (Some(c), Some(_), false) = (&cgroups, born_into, born)
                    && let Err(e) = c.enter_unified()
                {
                    confinement = refused(&e, &sidecar_hint);
                }
            }
        }
    }
    drop(cgroups);
    // This process's own /proc entry, opened before /proc changes meaning.
    let self_dir: OwnedFd = open(
        "/proc/self",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // 4.
    let view = target.enter()?;
    // 5.
    drop::drop_privileges(&mut RealCredentials, &identity)?;
    drop::verify(&self_dir, &identity)?;
    drop(self_dir);
    let filtered = match &seccomp {
        Some(filter) => {
            filter.install()?;
            Some(filter.source.clone())
        }
        None => None,
    };
    // 6.
    let status = shell::run(Session {
        info,
        target_pid,
        view,
        identity,
        id_source,
        command,
        confinement,
        seccomp: filtered,
        tools,
    });
    reaper::reap_all();
    Ok(status)
}

/// The refusal a session gets when the target's cgroups cannot be joined.
fn refused(e: &dyn Error, sidecar: &str) -> Confinement {
    Confinement::Refused {
        reason: report(e),
        sidecar: sidecar.to_string(),
    }
}

/// The ids this process runs with now.
fn own_identity() -> Result<identity::Identity, Box<dyn Error>> {
    Ok(identity::Identity {
        uid: nix::unistd::getuid(),
        gid: nix::unistd::getgid(),
        groups: nix::unistd::getgroups()?,
    })
}

/// Whether this process may change its uid and gid: CAP_SETUID (7) and
/// CAP_SETGID (6) in its effective set.
fn can_change_ids() -> Result<bool, Box<dyn Error>> {
    let own = crate::target::procinfo::Proc::default().status(std::process::id() as i32)?;
    let both = (1u64 << 7) | (1u64 << 6);
    Ok(own.cap_eff & both == both)
}

/// The parent left outside the PID namespace waits for the shell and passes
/// its status on. The terminal's signals are the shell's business.
fn wait_for(child: nix::unistd::Pid) -> u8 {
    for sig in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGTSTP] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code as u8,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128u8.wrapping_add(sig as u8),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return crate::EXIT_NOSH_FAILED,
        }
    }
}
