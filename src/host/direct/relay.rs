//! Direct attach keeps the operator's terminal away from the target.
//!
//! The shell and the programs it starts for the target run in a session of
//! their own, forked from this process, and never hold a descriptor of the
//! operator's terminal: a program that pushed bytes into it (TIOCSTI) or
//! opened `/dev/tty` would type into the operator's root shell once nosh
//! is gone. This process stays on the host's side and relays:
//! - with a TTY (stdin and stdout are terminals, or `-t`): a pseudo-terminal
//!   of nosh's own; the child makes it the controlling terminal of its new
//!   session and has only its other side as fds 0-2. The operator's
//!   terminal is in raw mode while the session lasts (restored on every
//!   way out, panics included: [`terminal::RawMode`]), the window size is
//!   passed at start and on every SIGWINCH;
//! - without: each of fds 0-2 that is a terminal becomes a pipe this
//!   process copies, and the shell is told that its output ends up on a
//!   terminal, so it escapes as on the sidecar path; fds that are not
//!   terminals (a file, a pipe) are passed as they are. The child's session
//!   has no controlling terminal, so `/dev/tty` reaches nothing.
//!
//! Steps of [`run`]:
//! 1. make the pseudo-terminal or the pipes;
//! 2. fork, while this process still has one thread (the toolbox half
//!    joins namespaces, which refuses a multithreaded caller);
//! 3. child: a new session, its fds 0-2, every other descriptor closed but
//!    the ones it is told to keep, death with this process; then the
//!    toolbox half;
//! 4. parent: relay until the child exits and its output is drained; the
//!    child's status is the session's. SIGINT (without a TTY), SIGTERM,
//!    SIGHUP and SIGQUIT end the session as on the sidecar path.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::host::error::HostError;
use crate::host::terminal;
use crate::sys::{self, SysError};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Sys(#[from] SysError),
    #[error(transparent)]
    Terminal(#[from] HostError),
}

/// How the session's stdin, stdout and stderr reach the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A pseudo-terminal of nosh's own; `raw`: stdin is a terminal, put
    /// in raw mode while the session lasts.
    Pty { raw: bool, cols: u16, rows: u16 },
    /// Which of fds 0, 1 and 2 are terminals, relayed through pipes.
    Pipes { relayed: [bool; 3] },
}

impl Plan {
    /// The sidecar's rule: a TTY when asked for with `-t`, refused with
    /// `-T`, else when stdin and stdout are both terminals.
    pub fn choose(force: bool, refuse: bool) -> Plan {
        use std::io::IsTerminal;
        let relayed = [
            std::io::stdin().is_terminal(),
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        ];
        if crate::host::wants_tty(force, refuse, relayed[0], relayed[1]) {
            let (cols, rows) = terminal::size().unwrap_or(terminal::DEFAULT_SIZE);
            Plan::Pty {
                raw: relayed[0],
                cols,
                rows,
            }
        } else {
            Plan::Pipes { relayed }
        }
    }
}

/// Step 1: the descriptors of both sides.
enum Ends {
    Pty {
        master: OwnedFd,
        slave: OwnedFd,
    },
    /// Per fd 0-2 that is relayed: (the child's end, ours).
    Pipes([Option<(OwnedFd, OwnedFd)>; 3]),
}

impl Ends {
    fn new(plan: Plan) -> Result<Ends, SysError> {
        match plan {
            Plan::Pty { cols, rows, .. } => {
                let (master, slave) = sys::open_pty(cols, rows)?;
                Ok(Ends::Pty { master, slave })
            }
            Plan::Pipes { relayed } => {
                let pipe = |input: bool| -> Result<(OwnedFd, OwnedFd), SysError> {
                    let (r, w) =
                        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| {
                            SysError::Call {
                                op: "make a pipe",
                                source,
                            }
                        })?;
                    // stdin: the child reads; stdout, stderr: it writes.
                    Ok(if input { (r, w) } else { (w, r) })
                };
                let mut ends = [None, None, None];
                for (fd, end) in ends.iter_mut().enumerate() {
                    if relayed[fd] {
                        *end = Some(pipe(fd == 0)?);
                    }
                }
                Ok(Ends::Pipes(ends))
            }
        }
    }

    /// Step 3, in the child.
    fn take_child_side(self, keep: &[RawFd]) -> Result<(), SysError> {
        let dup = |op: &'static str| move |source| SysError::Call { op, source };
        match self {
            Ends::Pty { master, slave } => {
                drop(master);
                sys::new_session(Some(slave.as_fd()))?;
                nix::unistd::dup2_stdin(&slave).map_err(dup("give the session its stdin"))?;
                nix::unistd::dup2_stdout(&slave).map_err(dup("give the session its stdout"))?;
                nix::unistd::dup2_stderr(&slave).map_err(dup("give the session its stderr"))?;
            }
            Ends::Pipes(ends) => {
                sys::new_session(None)?;
                let [i, o, e] = ends;
                crate::term::escape::assume_terminal(o.is_some(), e.is_some());
                if let Some((child, _)) = i {
                    nix::unistd::dup2_stdin(&child).map_err(dup("give the session its stdin"))?;
                }
                if let Some((child, _)) = o {
                    nix::unistd::dup2_stdout(&child).map_err(dup("give the session its stdout"))?;
                }
                if let Some((child, _)) = e {
                    nix::unistd::dup2_stderr(&child).map_err(dup("give the session its stderr"))?;
                }
            }
        }
        // The pty's and pipes' own descriptors were close-on-exec and are
        // closed here with everything else nosh's caller left open.
        sys::close_fds_except(keep)
    }
}

/// Steps 1 to 4: run `child` (the toolbox half) in a forked process whose
/// only fds are 0-2 as `plan` says and `keep`; returns its exit status.
/// The caller must have one thread.
pub fn run(plan: Plan, keep: &[RawFd], child: impl FnOnce() -> u8) -> Result<u8, RelayError> {
    // 1.
    let ends = Ends::new(plan)?;
    let parent = nix::unistd::getpid();
    // 2.
    // SAFETY: the caller has one thread (checked by direct attach), so the
    // child may run arbitrary code.
    let forked = unsafe { fork() }.map_err(|source| SysError::Call {
        op: "fork the session",
        source,
    })?;
    match forked {
        ForkResult::Child => {
            // 3. Gone with this process, even if it is killed.
            let dies = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_ok()
                && nix::unistd::getppid() == parent;
            let code = match ends.take_child_side(keep) {
                Ok(()) if dies => child(),
                Ok(()) => crate::EXIT_NOSH_FAILED,
                Err(e) => {
                    eprintln!("nosh: {}", crate::toolbox::report(&e));
                    crate::EXIT_NOSH_FAILED
                }
            };
            std::process::exit(i32::from(code));
        }
        // 4.
        ForkResult::Parent { child } => relay(plan, ends, child),
    }
}

/// Reads of this size; the queue for the child's stdin stops taking more
/// beyond a few of them.
const CHUNK: usize = 16 * 1024;

/// How long output is still copied after the child exited: whatever holds
/// its other end (a process it handed the descriptor to) cannot keep the
/// operator waiting.
const DRAIN: Duration = Duration::from_millis(500);

/// One output of the session and where it goes.
struct Out {
    from: OwnedFd,
    /// 1 or 2.
    to: RawFd,
}

fn relay(plan: Plan, ends: Ends, child: Pid) -> Result<u8, RelayError> {
    let call = |op: &'static str| move |source: Errno| SysError::Call { op, source };
    let child_fd = sys::pidfd_open(child.as_raw())?;
    // The signals this process handles arrive as reads, in the loop.
    let mut mask = SigSet::empty();
    for sig in [
        Signal::SIGWINCH,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        mask.add(sig);
    }
    mask.thread_block().map_err(call("block signals"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(call("read signals"))?;
    let (mut input, mut outs, master) = match ends {
        Ends::Pty { master, slave } => {
            drop(slave);
            let copy =
                || nix::unistd::dup(&master).map_err(call("copy the pseudo-terminal's descriptor"));
            let out = Out {
                from: copy()?,
                to: libc::STDOUT_FILENO,
            };
            (Some(copy()?), vec![out], Some(master))
        }
        Ends::Pipes([i, o, e]) => {
            let outs = [(o, libc::STDOUT_FILENO), (e, libc::STDERR_FILENO)]
                .into_iter()
                .filter_map(|(end, to)| end.map(|(_, from)| Out { from, to }))
                .collect();
            (i.map(|(_, ours)| ours), outs, None)
        }
    };
    if let Some(fd) = &input {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(call("make the session's input non-blocking"))?;
    }
    let raw = match plan {
        Plan::Pty { raw: true, .. } => Some(terminal::RawMode::enable()?),
        _ => None,
    };
    let is_pty = master.is_some();
    // What the operator typed that the session has not taken yet.
    let mut pending: Vec<u8> = Vec::new();
    let mut stdin_open = input.is_some();
    let mut exited_at: Option<Instant> = None;
    let mut interrupted: Option<Signal> = None;
    let mut buf = vec![0u8; CHUNK];
    loop {
        if let Some(at) = exited_at
            && (outs.is_empty() || at.elapsed() >= DRAIN)
        {
            break;
        }
        // Closing our end of the child's stdin once all was written says
        // end-of-file to it (a TTY hears ^D instead, queued below).
        if !stdin_open && pending.is_empty() && !is_pty {
            input = None;
        }
        let stdin = std::io::stdin();
        // Only what is waited for is in the set: a closed stdin would
        // report POLLNVAL at once, every time.
        let mut fds: Vec<PollFd> = vec![
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(child_fd.as_fd(), PollFlags::POLLIN),
        ];
        let want_stdin = stdin_open && exited_at.is_none() && pending.len() < 4 * CHUNK;
        let stdin_at = want_stdin.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let writing = input.as_ref().filter(|_| !pending.is_empty());
        let write_at = writing.map(|fd| {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
            fds.len() - 1
        });
        let first_out = fds.len();
        for out in &outs {
            fds.push(PollFd::new(out.from.as_fd(), PollFlags::POLLIN));
        }
        let timeout = match exited_at {
            Some(at) => PollTimeout::try_from(DRAIN.saturating_sub(at.elapsed()))
                .unwrap_or(PollTimeout::ZERO),
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(source) => {
                return Err(SysError::Call {
                    op: "wait for the session",
                    source,
                }
                .into());
            }
        }
        let ready = |i: usize, wanted: PollFlags| {
            let done = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
            fds[i]
                .revents()
                .is_some_and(|r| r.intersects(wanted | done))
        };
        let sig_ready = ready(0, PollFlags::POLLIN);
        let child_ready = ready(1, PollFlags::POLLIN);
        let stdin_ready = stdin_at.is_some_and(|i| ready(i, PollFlags::POLLIN));
        let write_ready = write_at.is_some_and(|i| ready(i, PollFlags::POLLOUT));
        let outs_ready: Vec<bool> = (0..outs.len())
            .map(|i| ready(first_out + i, PollFlags::POLLIN))
            .collect();
        drop(fds);

        if sig_ready {
            while let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) => {
                        if let (Some(m), Some((cols, rows))) = (&master, terminal::size()) {
                            let _ = sys::set_window_size(m.as_fd(), cols, rows);
                        }
                    }
                    Ok(sig) if interrupted.is_none() => {
                        interrupted = Some(sig);
                        // The session ends with nosh: the toolbox's
                        // children die with it (PR_SET_PDEATHSIG).
                        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                    }
                    _ => {}
                }
            }
        }
        if child_ready && exited_at.is_none() {
            exited_at = Some(Instant::now());
        }
        if stdin_ready {
            match stdin.lock().read(&mut buf) {
                Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                _ => {
                    stdin_open = false;
                    if is_pty {
                        // End of input on a terminal is ^D.
                        pending.push(0x04);
                    }
                }
            }
        }
        if write_ready && let Some(fd) = &input {
            match nix::unistd::write(fd, &pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // The session no longer reads: drop what it would not take.
                Err(_) => {
                    pending.clear();
                    stdin_open = false;
                    input = None;
                }
            }
        }
        let mut closed = Vec::new();
        for (i, out) in outs.iter().enumerate() {
            if !outs_ready[i] {
                continue;
            }
            match nix::unistd::read(&out.from, &mut buf) {
                Ok(0) => closed.push(i),
                Ok(n) => {
                    if copy_out(out.to, &buf[..n]).is_err() {
                        // A closed stdout (`nosh pid://N -c ls | head`):
                        // stop copying; the session hears it as its own.
                        closed.push(i);
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // EIO: every holder of the pty's other side has gone.
                Err(_) => closed.push(i),
            }
        }
        for i in closed.into_iter().rev() {
            outs.remove(i);
        }
    }
    drop(input);
    drop(outs);
    drop(master);
    let status = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break code as u8,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128u8.wrapping_add(sig as u8),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(source) => {
                return Err(SysError::Call {
                    op: "wait for the session",
                    source,
                }
                .into());
            }
        }
    };
    // The terminal first: a signal that waited for the unblock may end
    // this process at once.
    drop(raw);
    let _ = mask.thread_unblock();
    Ok(match interrupted {
        Some(sig) => 128u8.wrapping_add(sig as u8),
        None => status,
    })
}

/// Write all of `bytes` to fd 1 or 2 (blocking: the operator's terminal
/// sets the pace).
fn copy_out(to: RawFd, bytes: &[u8]) -> std::io::Result<()> {
    match to {
        libc::STDERR_FILENO => {
            let mut e = std::io::stderr().lock();
            e.write_all(bytes)?;
            e.flush()
        }
        _ => {
            let mut o = std::io::stdout().lock();
            o.write_all(bytes)?;
            o.flush()
        }
    }
}

/// Whether `fd` is open, for tests of what the child holds.
#[cfg(test)]
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on a number that may not be open only reads flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_terminals_nothing_is_relayed_and_the_status_passes_on() {
        // The test harness has threads, so the child below makes only
        // simple calls before its exit.
        let plan = Plan::Pipes {
            relayed: [false; 3],
        };
        assert_eq!(run(plan, &[], || 7).unwrap(), 7);
    }

    #[test]
    fn a_child_keeps_only_what_it_is_told_to() {
        use std::os::fd::AsRawFd;
        let kept = std::fs::File::open("/").unwrap();
        let other = std::fs::File::open("/").unwrap();
        let (k, o) = (kept.as_raw_fd(), other.as_raw_fd());
        let plan = Plan::Pipes {
            relayed: [false; 3],
        };
        let code = run(plan, &[k], move || {
            u8::from(is_open(k)) + 2 * u8::from(is_open(o))
        });
        assert_eq!(code.unwrap(), 1);
    }

    #[test]
    fn a_pty_session_has_its_own_controlling_terminal() {
        let plan = Plan::Pty {
            raw: false,
            cols: 100,
            rows: 30,
        };
        let code = run(plan, &[], || {
            use std::io::IsTerminal;
            let own_session = nix::unistd::getsid(None).ok() == Some(nix::unistd::getpid());
            let size = sys::window_size() == Some((30, 100));
            let tty = std::fs::File::open("/dev/tty").is_ok();
            u8::from(own_session)
                + 2 * u8::from(size)
                + 4 * u8::from(tty)
                + 8 * u8::from(std::io::stdin().is_terminal())
        });
        assert_eq!(code.unwrap(), 15);
    }

    #[test]
    fn a_pipe_session_cannot_reach_any_terminal() {
        let plan = Plan::Pipes {
            relayed: [false; 3],
        };
        let code = run(plan, &[], || {
            u8::from(std::fs::File::open("/dev/tty").is_err())
                + 2 * u8::from(nix::unistd::getsid(None).ok() == Some(nix::unistd::getpid()))
        });
        assert_eq!(code.unwrap(), 3);
    }
}
