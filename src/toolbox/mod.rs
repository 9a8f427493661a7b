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
//!    it and choose the identity;
//! 3. join N's user namespace if it has its own, then its PID namespace if
//!    it is not ours, and fork into it;
//! 4. join N's other namespaces and root ([`join`]);
//! 5. drop privileges and verify ([`drop`]) — no target file and no user
//!    input is read before this point;
//! 6. run the shell; on its exit kill and reap every child ([`reaper`]).

pub mod drop;
pub mod find;
pub mod forward;
pub mod identity;
pub mod join;
pub mod reaper;
pub mod stream;

use std::error::Error;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use nix::fcntl::{OFlag, open};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::cli::ToolboxArgs;
use crate::shell::{self, Session};
use crate::sys::{self, RealCredentials};
use crate::target::TargetInfo;

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

pub fn main(args: ToolboxArgs) -> ExitCode {
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("nosh: {}", report(e.as_ref()));
            ExitCode::from(crate::EXIT_NOSH_FAILED)
        }
    }
}

fn run(args: ToolboxArgs) -> Result<u8, Box<dyn Error>> {
    // 0.
    sys::set_not_dumpable()?;
    // A copy's own stream, when `nosh cp` offers one, before any output.
    stream::take_offered();
    let info: TargetInfo = match &args.target_info {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| format!("--target-info is not valid JSON: {e}"))?,
        None => TargetInfo::default(),
    };
    if let Some(spec) = &args.forward {
        return forward::run(args.pid, args.user.as_deref(), args.root, spec);
    }
    // SAFETY: the toolbox is single-threaded; nothing reads the
    // environment concurrently. Programs started later get the target's
    // environment, never this variable.
    unsafe { std::env::remove_var("NOSH_TARGET_INFO") };
    // SAFETY: as above.
    unsafe { crate::escape::take_host_terminal_env() };
    // 2. (first half) Which process is the target's own.
    let chosen = if args.exact {
        find::Chosen {
            pid: args.pid,
            note: None,
        }
    } else {
        find::choose(
            &crate::procinfo::Proc::default(),
            args.pid,
            args.container_id.as_deref(),
            std::process::id() as i32,
        )?
    };
    if let Some(note) = &chosen.note {
        eprintln!("nosh: {note}");
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
    /// Brought tools, opened in the caller's mount namespace.
    pub tools: Option<crate::tools::Brought>,
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
        tools,
    } = req;
    // 0. Again, for callers that come here directly (direct attach): the
    // verification after the drop refuses a dumpable process.
    sys::set_not_dumpable()?;
    // 1.
    sys::set_child_subreaper()?;
    // 2.
    let mut target = join::Target::open(pid)?;
    let (identity, id_source) = identity::choose(&target.status, user.as_deref(), root)?;
    let identity = identity::fit_unprivileged(identity, own_identity()?, can_change_ids()?)?;
    let target_pid = target.pid_inside();
    // 3. The user namespace first: the others belong to it.
    target.join_user_ns()?;
    if target.join_pid_ns()? {
        // SAFETY: the toolbox is single-threaded (no runtime, no threads are
        // ever started on this path), so the child may run arbitrary code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => return Ok(wait_for(child)),
            ForkResult::Child => {
                // If the parent outside the namespace is killed, the shell
                // goes too, and its children with it (see reaper).
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                sys::set_child_subreaper()?;
            }
        }
    }
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
    // 6.
    let status = shell::run(Session {
        info,
        target_pid,
        view,
        identity,
        id_source,
        command,
        tools,
    });
    reaper::reap_all();
    Ok(status)
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
    let own = crate::procinfo::Proc::default().status(std::process::id() as i32)?;
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
