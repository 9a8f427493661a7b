//! Children of the toolbox never outlive it.
//!
//! The sidecar shares the target's PID namespace, so an orphan would be
//! re-parented to the target's PID 1, which may never reap it: a zombie left
//! in the target. The toolbox is a child subreaper (set at start), so every
//! orphaned descendant comes back to it; before it exits, [`reap_all`] kills
//! and reaps whatever is left.

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid};

use crate::target::procinfo::Proc;

/// Kill every child of this process and reap until none is left.
pub fn reap_all() {
    let me = getpid().as_raw();
    for _round in 0..100 {
        let children = children_of(me);
        for pid in &children {
            // The user's own programs: the session is over.
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) => continue,
                Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
        if children.is_empty() {
            // Children exist (no ECHILD) but none is listed: wait once.
            match waitpid(None, None) {
                Err(Errno::ECHILD) => return,
                _ => continue,
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Pids whose parent is `parent`, from /proc (forgiving: vanished ones skipped).
pub fn children_of(parent: i32) -> Vec<i32> {
    let proc = Proc::default();
    proc.pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| proc.stat(*p).is_ok_and(|s| s.ppid == parent))
        .collect()
}
