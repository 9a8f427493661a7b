//! The one way the shell starts a program of the target (`run`,
//! `entrypoint --test`, `trace --`): the guarantees about what target code
//! inherits and where it runs are kept here, once.
//!
//! - It inherits only fds 0, 1 and 2, in every mode: whatever nosh's caller
//!   left open (a directory of the host's `/`, a socket) stays out of it.
//! - It dies with the shell ([`crate::sys::confine_exec`]).
//! - Attached directly, it runs only where the target's own code would:
//!   in the target's cgroups (joined by the toolbox before any target code
//!   runs) and under the seccomp filter the toolbox installed, both
//!   inherited. Where the cgroups could not be joined, it is not started.

use std::ffi::OsStr;
use std::process::Command;

use crate::shell::{Confinement, Ctx};

/// A program of the target that is not started, in one sentence.
#[derive(Debug, thiserror::Error)]
#[error(
    "not started: nosh could not join the target's cgroups ({reason}), and outside them the target's programs escape its limits; {sidecar} runs them inside the engine's"
)]
pub struct Refused {
    reason: String,
    sidecar: String,
}

/// A command for `program` (a path as this process reaches it) that
/// inherits only fds 0-2 and dies with the shell, or the refusal when this
/// session may not start the target's code. The caller adds arguments,
/// environment, working directory and stdio.
pub fn command(ctx: &Ctx, program: impl AsRef<OsStr>) -> Result<Command, Refused> {
    if let Confinement::Refused { reason, sidecar } = &ctx.confinement {
        return Err(Refused {
            reason: reason.clone(),
            sidecar: sidecar.clone(),
        });
    }
    let mut cmd = Command::new(program);
    crate::sys::confine_exec(&mut cmd);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_started_program_holds_only_stdin_stdout_and_stderr() {
        let ctx = Ctx::for_root("/".into());
        // An fd left open without close-on-exec, as a caller's would be.
        let dir = std::fs::File::open("/").unwrap();
        let raw = dir.as_raw_fd();
        let inherit = nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty());
        nix::fcntl::fcntl(&dir, inherit).unwrap();
        let holds_it = |mut cmd: Command| {
            cmd.args(["-c", &format!("test -e /proc/$$/fd/{raw}")])
                .status()
                .unwrap()
                .success()
        };
        assert!(
            holds_it(Command::new("/bin/sh")),
            "a plain command inherits it"
        );
        assert!(!holds_it(command(&ctx, "/bin/sh").unwrap()));
        drop(dir);
    }

    #[test]
    fn a_session_that_could_not_join_the_cgroups_starts_nothing() {
        let mut ctx = Ctx::for_root("/".into());
        ctx.confinement = Confinement::Refused {
            reason: "the blkio cgroup hierarchy is not mounted on this host".into(),
            sidecar: "`nosh api`".into(),
        };
        let e = command(&ctx, "/bin/true").unwrap_err();
        assert_eq!(
            e.to_string(),
            "not started: nosh could not join the target's cgroups (the blkio cgroup hierarchy is not mounted on this host), and outside them the target's programs escape its limits; `nosh api` runs them inside the engine's"
        );
    }
}
