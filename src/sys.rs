//! Every privileged syscall nosh makes, as safe wrappers returning typed
//! errors. `nix` first; `libc` only for what nix lacks (capset, the
//! capability prctls, pidfd_open, close_range, TIOCSCTTY); the seccomp
//! filter goes in through `seccompiler`.
//!
//! The credential calls sit behind the small [`Credentials`] trait so that a
//! recording fake can check the order of the drop in unit tests.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("failed to open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to join the {ns} namespace of the target")]
    Setns {
        ns: &'static str,
        #[source]
        source: Errno,
    },
    #[error("failed to {op}")]
    Call {
        op: &'static str,
        #[source]
        source: Errno,
    },
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to install the seccomp filter")]
    Seccomp {
        #[source]
        source: seccompiler::Error,
    },
}

fn call(op: &'static str) -> impl FnOnce(Errno) -> SysError {
    move |source| SysError::Call { op, source }
}

/// The credential-changing calls of the privilege drop.
pub trait Credentials {
    /// Remove every capability from the bounding set (needs CAP_SETPCAP).
    fn clear_bounding_set(&mut self) -> Result<(), SysError>;
    /// Clear the ambient set.
    fn clear_ambient_set(&mut self) -> Result<(), SysError>;
    /// `PR_SET_NO_NEW_PRIVS`: no setuid bit or file capability can give
    /// anything back after the drop.
    fn set_no_new_privs(&mut self) -> Result<(), SysError>;
    fn set_groups(&mut self, groups: &[Gid]) -> Result<(), SysError>;
    fn set_resgid(&mut self, gid: Gid) -> Result<(), SysError>;
    fn set_resuid(&mut self, uid: Uid) -> Result<(), SysError>;
    /// Clear the effective, permitted and inheritable sets with capset(2).
    fn clear_capabilities(&mut self) -> Result<(), SysError>;
}

/// What `getuid` reports inside a user namespace for an id its map leaves
/// out (the kernel's default `overflowuid`/`overflowgid`).
pub const OVERFLOW_ID: u32 = 65534;

/// The real calls, on the calling thread (the toolbox has only one).
pub struct RealCredentials;

impl Credentials for RealCredentials {
    fn clear_bounding_set(&mut self) -> Result<(), SysError> {
        for cap in 0..64 {
            // SAFETY: PR_CAPBSET_READ takes a capability number, no pointers.
            let held = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
            if held < 0 {
                // EINVAL past the kernel's last capability ends the loop.
                return Ok(());
            }
            if held == 0 {
                // Already gone (a replica started with cap_drop ALL, which
                // cannot drop again without CAP_SETPCAP).
                continue;
            }
            // SAFETY: PR_CAPBSET_DROP takes a capability number and no
            // pointers; it only changes this thread's bounding set.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
            if rc != 0 {
                let err = Errno::last();
                // EINVAL past the kernel's last capability ends the loop.
                if err == Errno::EINVAL && cap > 0 {
                    return Ok(());
                }
                return Err(SysError::Call {
                    op: "drop a capability from the bounding set",
                    source: err,
                });
            }
        }
        Ok(())
    }

    fn clear_ambient_set(&mut self) -> Result<(), SysError> {
        // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        Errno::result(rc)
            .map(drop)
            .map_err(call("clear the ambient capability set"))
    }

    fn set_no_new_privs(&mut self) -> Result<(), SysError> {
        nix::sys::prctl::set_no_new_privs().map_err(call("set no_new_privs"))
    }

    // Each id call is skipped when the ids are already the wanted ones and
    // the process could not change them anyway: a process that starts
    // unprivileged (the toolbox as PID 1 of a replica) may not call them at
    // all, yet is verified all the same. A process that can, calls them
    // always: inside a user namespace every unmapped id (host root's 0
    // included) reads as the overflow id 65534, so "already 65534" proves
    // nothing about the kernel's id.
    fn set_groups(&mut self, groups: &[Gid]) -> Result<(), SysError> {
        let mut have = nix::unistd::getgroups().unwrap_or_default();
        let mut want = groups.to_vec();
        have.sort_unstable_by_key(|g| g.as_raw());
        want.sort_unstable_by_key(|g| g.as_raw());
        if have == want && !holds(CAP_SETGID) {
            return Ok(());
        }
        nix::unistd::setgroups(groups).map_err(call("set supplementary groups"))
    }

    fn set_resgid(&mut self, gid: Gid) -> Result<(), SysError> {
        if !holds(CAP_SETGID)
            && nix::unistd::getresgid().is_ok_and(|r| [r.real, r.effective, r.saved] == [gid; 3])
        {
            return Ok(());
        }
        nix::unistd::setresgid(gid, gid, gid).map_err(call("set group ids"))
    }

    fn set_resuid(&mut self, uid: Uid) -> Result<(), SysError> {
        if !holds(CAP_SETUID)
            && nix::unistd::getresuid().is_ok_and(|r| [r.real, r.effective, r.saved] == [uid; 3])
        {
            return Ok(());
        }
        nix::unistd::setresuid(uid, uid, uid).map_err(call("set user ids"))
    }

    fn clear_capabilities(&mut self) -> Result<(), SysError> {
        capset_zero().map_err(call("clear capabilities"))
    }
}

const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// `struct __user_cap_header_struct` of capget(2) and capset(2).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`: version 3 takes two, for capabilities
/// 0-31 and 32-63.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The header for `_LINUX_CAPABILITY_VERSION_3` and this thread.
fn cap_header() -> CapHeader {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    }
}

/// Whether this thread holds `cap` in its effective set (capget(2)); an
/// error reads as "holds it", so that the id call is made and speaks.
fn holds(cap: u32) -> bool {
    let mut header = cap_header();
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid and laid out for version 3, which
    // writes exactly two CapData entries; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    rc != 0 || data[(cap / 32) as usize].effective & (1 << (cap % 32)) != 0
}

/// capset(2) with every set empty. Lowering capabilities needs no privilege.
fn capset_zero() -> Result<(), Errno> {
    let mut header = cap_header();
    let data = [CapData::default(); 2];
    // SAFETY: header and data are valid, properly laid out (repr(C)) for
    // version 3, which reads exactly two CapData entries; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    Errno::result(rc).map(drop)
}

/// Join the namespace behind `fd` (an open `/proc/PID/ns/*` file).
pub fn setns(fd: BorrowedFd<'_>, ns: &'static str, kind: CloneFlags) -> Result<(), SysError> {
    nix::sched::setns(fd, kind).map_err(|source| SysError::Setns { ns, source })
}

/// (rows, columns) of the terminal on stdout (TIOCGWINSZ, tty_ioctl(4));
/// `None` when stdout is not a terminal. A terminal may report 0x0 before
/// its first resize.
pub fn window_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid `ws`.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0).then_some((ws.ws_row, ws.ws_col))
}

/// `PR_SET_DUMPABLE 0`: the kernel then refuses every process but a
/// CAP_SYS_PTRACE holder `/proc/<pid>/fd`, `mem`, `environ` and ptrace on
/// this one, even one of the same uid (a root target once the shell drops
/// to uid 0 without capabilities, where no id change clears the flag).
/// Forked children inherit it; an exec resets it.
pub fn set_not_dumpable() -> Result<(), SysError> {
    nix::sys::prctl::set_dumpable(false).map_err(call("make the toolbox not dumpable"))
}

/// `PR_GET_DUMPABLE`, for the verification after the drop.
pub fn is_dumpable() -> Result<bool, SysError> {
    nix::sys::prctl::get_dumpable().map_err(call("read the dumpable flag"))
}

/// Fills `buf` from the kernel's random pool (`getrandom`, which blocks
/// only until the pool is first seeded at boot).
pub fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe `rest`, which the call
        // only writes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match n {
            n if n > 0 => filled += n as usize,
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Make this process the reaper of its orphaned descendants.
pub fn set_child_subreaper() -> Result<(), SysError> {
    nix::sys::prctl::set_child_subreaper(true).map_err(call("become a child subreaper"))
}

/// What every program of the target gets between fork and exec: it dies
/// with the shell (`PR_SET_PDEATHSIG`: nothing it starts may outlive the
/// session inside the target's PID namespace), and it inherits only fds 0,
/// 1 and 2 (everything else is marked close-on-exec; std's own pipe that
/// reports a failed exec is close-on-exec already and still works).
pub fn confine_exec(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe calls (prctl, close_range or fcntl), with no
    // allocation.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)?;
            only_stdio_on_exec()
        });
    }
}

static TICKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn on_tick(_: libc::c_int) {
    TICKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The empty SIGALRM handler, installed once and kept: two tickers on two
/// threads must never put the default action (which ends the process) back
/// while the other's timer still fires.
fn install_tick_handler() -> Result<(), SysError> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    static INSTALLED: std::sync::OnceLock<Result<(), Errno>> = std::sync::OnceLock::new();
    let action = SigAction::new(
        SigHandler::Handler(on_tick),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only adds to an atomic, which is async-signal-safe.
    INSTALLED
        .get_or_init(|| unsafe { sigaction(Signal::SIGALRM, &action) }.map(drop))
        .map_err(call("install a SIGALRM handler"))
}

/// A SIGALRM every `period` to the thread that starts it (a POSIX timer
/// with `SIGEV_THREAD_ID`), delivered without `SA_RESTART`, so that a
/// blocking `waitpid` on that thread returns EINTR and its caller can look
/// at the clock, Ctrl-C and the session (`trace` waits this way, on a
/// thread of its own). Dropping it deletes the timer.
pub struct Ticker {
    _timer: nix::sys::timer::Timer,
}

impl Ticker {
    pub fn start(period: std::time::Duration) -> Result<Ticker, SysError> {
        use nix::sys::signal::{SigEvent, SigevNotify, Signal};
        use nix::sys::time::TimeSpec;
        use nix::sys::timer::{Expiration, Timer, TimerSetTimeFlags};
        install_tick_handler()?;
        let event = SigEvent::new(SigevNotify::SigevThreadId {
            signal: Signal::SIGALRM,
            thread_id: nix::unistd::gettid().as_raw(),
            si_value: 0,
        });
        let mut timer = Timer::new(nix::time::ClockId::CLOCK_MONOTONIC, event)
            .map_err(call("create a timer"))?;
        timer
            .set(
                Expiration::Interval(TimeSpec::from_duration(period)),
                TimerSetTimeFlags::empty(),
            )
            .map_err(call("start a timer"))?;
        Ok(Ticker { _timer: timer })
    }

    /// How many ticks (of any ticker) have fired so far: a loop that never
    /// blocks long enough for EINTR still sees the time go by.
    pub fn ticks() -> u64 {
        TICKS.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `PTRACE_LISTEN`: let a tracee in a group-stop (someone sent it SIGSTOP)
/// stay stopped as it would untraced, while still reporting to the tracer.
/// nix has no wrapper for it.
pub fn ptrace_listen(pid: nix::unistd::Pid) -> Result<(), SysError> {
    // SAFETY: PTRACE_LISTEN takes no addresses (both are ignored, 0 here).
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_LISTEN,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    Errno::result(rc)
        .map(drop)
        .map_err(call("let a stopped tracee stay stopped"))
}

/// Whether `fd` (a terminal) has hung up, without waiting.
pub fn hung_up(fd: BorrowedFd<'_>) -> bool {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a zero timeout; the fd is borrowed for the
    // duration of the call.
    let rc = unsafe { libc::poll(&mut p, 1, 0) };
    rc > 0 && p.revents & (libc::POLLHUP | libc::POLLNVAL) != 0
}

/// A detached, read-only copy of the directory tree at `path`:
/// `open_tree(2)` with `OPEN_TREE_CLONE` gives a mount of its own, in no
/// mount namespace, whose root is `path` (so `..` from it stays there,
/// which an fd of a plain directory does not guarantee), then
/// `mount_setattr(2)` makes it read-only, nosuid and nodev, and lifts a
/// noexec it inherited. Needs CAP_SYS_ADMIN.
pub fn open_detached_readonly(path: &std::path::Path) -> Result<std::os::fd::OwnedFd, SysError> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let open_failed = |source: std::io::Error| SysError::Open {
        path: path.to_path_buf(),
        source,
    };
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| open_failed(std::io::Error::other(e)))?;
    // SAFETY: open_tree takes a directory fd, a NUL-terminated path that
    // outlives the call, and flags; it returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(open_failed(std::io::Error::last_os_error()));
    }
    // SAFETY: open_tree returned a new fd that nothing else owns.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        attr_clr: libc::MOUNT_ATTR_NOEXEC,
        propagation: 0,
        userns_fd: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is ours, the empty path is NUL-terminated, and `attr`
    // is a valid mount_attr whose size is passed with it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc as i32).map_err(call("make the brought tools' mount read-only"))?;
    Ok(fd)
}

/// The permitted set of a file's capabilities (`security.capability`,
/// `struct vfs_cap_data` of capability.h, revision 2 or 3), or `None` when
/// it has none or they cannot be read.
pub fn file_capabilities(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut buf = [0u8; 24];
    // SAFETY: both strings are NUL-terminated and outlive the call; the
    // kernel writes at most `buf.len()` bytes into `buf`.
    let n = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c"security.capability".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).ok()?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
    };
    let revision = word(0)? & 0xff00_0000;
    let low = word(4)?;
    let high = match revision {
        0x0200_0000 | 0x0300_0000 if n >= 20 => word(12)?,
        0x0100_0000 => 0,
        _ => return None,
    };
    Some(u64::from(high) << 32 | u64::from(low))
}

/// Put `fd` at descriptor 3 of a child about to exec, open across the exec
/// only when `inherit` (a dynamically linked brought tool's loader reaches
/// its libraries through `/proc/self/fd/3`; a static one needs it only
/// for the exec itself). Call it only between fork and exec.
pub fn place_at_fd3(fd: std::os::fd::RawFd, inherit: bool) -> std::io::Result<()> {
    const TARGET: i32 = 3;
    if fd == TARGET {
        let flags = if inherit { 0 } else { libc::FD_CLOEXEC };
        // SAFETY: F_SETFD on an fd this process holds; no pointers.
        let rc = unsafe { libc::fcntl(TARGET, libc::F_SETFD, flags) };
        return Errno::result(rc).map(drop).map_err(std::io::Error::from);
    }
    let flags = if inherit { 0 } else { libc::O_CLOEXEC };
    // SAFETY: dup3 of an fd this process holds onto descriptor 3; whatever
    // 3 held is closed atomically, which is what the caller wants.
    let rc = unsafe { libc::dup3(fd, TARGET, flags) };
    Errno::result(rc).map(drop).map_err(std::io::Error::from)
}

/// `fchdir` to an open directory, then `chroot(".")`: enter the target's root
/// exactly as its process sees it (chroots included).
pub fn chroot_to(root: impl AsFd) -> Result<(), SysError> {
    nix::unistd::fchdir(root.as_fd()).map_err(call("enter the target's root directory"))?;
    nix::unistd::chroot(".").map_err(call("chroot to the target's root"))
}

pub fn fchdir(dir: impl AsFd) -> Result<(), SysError> {
    nix::unistd::fchdir(dir.as_fd()).map_err(call("enter the target's working directory"))
}

/// A pidfd of `pid` (pidfd_open(2)): from here on, whether that process
/// exits is known for sure, whatever later reuses its number.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, SysError> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(SysError::Call {
            op: "open a pidfd",
            source: Errno::last(),
        });
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the process of a pidfd has exited: a pidfd polls readable then.
pub fn pidfd_exited(pidfd: BorrowedFd<'_>) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(pidfd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// A pseudo-terminal pair (openpty(3)) of `cols` x `rows`; both ends
/// close on exec.
pub fn open_pty(cols: u16, rows: u16) -> Result<(OwnedFd, OwnedFd), SysError> {
    let size = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).map_err(call("open a pseudo-terminal"))?;
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(call("mark the pseudo-terminal close-on-exec"))?;
    }
    Ok((pty.master, pty.slave))
}

/// Give a terminal its size (TIOCSWINSZ, tty_ioctl(4)); on a pty's master
/// side, the programs on the other side get SIGWINCH.
pub fn set_window_size(tty: BorrowedFd<'_>, cols: u16, rows: u16) -> Result<(), SysError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the valid `ws`.
    let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    Errno::result(rc)
        .map(drop)
        .map_err(call("set the terminal's size"))
}

/// A session of this process's own (setsid(2)), and, given a terminal,
/// that terminal as its controlling one (TIOCSCTTY): `/dev/tty` then
/// means it, and no other terminal can be reached through the session.
pub fn new_session(tty: Option<BorrowedFd<'_>>) -> Result<(), SysError> {
    nix::unistd::setsid().map_err(call("start a session"))?;
    if let Some(tty) = tty {
        // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal a
        // terminal that is another session's), no pointers.
        let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) };
        Errno::result(rc)
            .map(drop)
            .map_err(call("make the pseudo-terminal the controlling terminal"))?;
    }
    Ok(())
}

/// The kernel's `CLOSE_RANGE_CLOEXEC` (close_range(2), Linux 5.11).
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

fn close_range(first: RawFd, last: RawFd, flags: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range takes two descriptor numbers and flags, no
    // pointers; it only closes (or marks) descriptors of this process.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    Errno::result(rc).map(drop)
}

/// The highest descriptor number to sweep when close_range(2) is missing.
fn fd_ceiling() -> RawFd {
    // SAFETY: sysconf takes a constant and no pointers.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    RawFd::try_from(max)
        .unwrap_or(RawFd::MAX)
        .clamp(1024, 1 << 20)
}

/// Mark every descriptor from 3 up close-on-exec, so that a program about
/// to be started inherits only stdin, stdout and stderr. Runs between fork
/// and exec (`pre_exec`): only async-signal-safe calls, no allocation.
pub fn only_stdio_on_exec() -> std::io::Result<()> {
    match close_range(3, RawFd::MAX, CLOSE_RANGE_CLOEXEC) {
        Ok(()) => Ok(()),
        Err(Errno::ENOSYS | Errno::EINVAL) => {
            for fd in 3..fd_ceiling() {
                // SAFETY: F_SETFD on a number that may not be open: EBADF
                // for those, which is what we want.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Close every descriptor from 3 up except `keep`, in a freshly forked
/// child: what the caller of nosh left open (a directory of the host's
/// `/`, its terminal) must not follow it into the target.
pub fn close_fds_except(keep: &[RawFd]) -> Result<(), SysError> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= 3).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3;
    for fd in keep.iter().copied().chain([RawFd::MAX]) {
        if fd > first {
            let last = if fd == RawFd::MAX { fd } else { fd - 1 };
            match close_range(first, last, 0) {
                Ok(()) => {}
                Err(Errno::ENOSYS) => {
                    for n in first..=last.min(fd_ceiling()) {
                        // SAFETY: closing a number that may not be open:
                        // EBADF for those. Nothing in this process uses them.
                        unsafe { libc::close(n) };
                    }
                }
                Err(source) => {
                    return Err(SysError::Call {
                        op: "close inherited descriptors",
                        source,
                    });
                }
            }
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}

/// Install a seccomp filter on this thread (and what it starts). Needs
/// no_new_privs, which the drop has set.
pub fn install_seccomp(program: &seccompiler::BpfProgram) -> Result<(), SysError> {
    seccompiler::apply_filter(program).map_err(|source| SysError::Seccomp { source })
}

/// `PR_GET_SECCOMP`: 2 once a filter is installed.
pub fn seccomp_mode() -> Result<i32, SysError> {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    let rc = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    Errno::result(rc).map_err(call("read the seccomp mode"))
}

/// Move into the cgroup whose directory is `dir`, by writing "0" (the
/// writer) into its `file`: `cgroup.procs` moves the whole process, v1's
/// `tasks` only the calling thread (which is the whole process when it has
/// one, and skips the kernel's global lock that a cgroup.procs write takes
/// and waits an RCU grace period for).
pub fn enter_cgroup(dir: BorrowedFd<'_>, file: &str, shown: &Path) -> Result<(), SysError> {
    use std::io::Write;
    let failed = |source: std::io::Error| SysError::Write {
        path: shown.join(file),
        source,
    };
    let fd = nix::fcntl::openat(
        dir,
        file,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| failed(e.into()))?;
    std::fs::File::from(fd).write_all(b"0").map_err(failed)
}

/// `CLONE_INTO_CGROUP` of clone3(2) (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of clone3(2), up to its `cgroup` field.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// fork(2), the child born in the cgroup v2 directory `cgroup` (clone3
/// with CLONE_INTO_CGROUP): no migration, so none of the kernel's global
/// lock that moving a process takes. Err with the kernel's errno when it
/// refuses (older kernels: ENOSYS); the caller forks plainly then.
///
/// # Safety
/// As fork: the caller must have one thread. Unlike glibc's fork, the
/// child's cached thread id is its parent's; glibc reads the kernel's for
/// `raise` and `pthread_kill` of itself, and nothing else in nosh uses it.
pub unsafe fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> Result<nix::unistd::ForkResult, Errno> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; with no
    // stack given the child runs on a copy of this one, as after fork, and
    // the caller guarantees one thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match Errno::result(rc)? {
        0 => Ok(nix::unistd::ForkResult::Child),
        pid => Ok(nix::unistd::ForkResult::Parent {
            child: nix::unistd::Pid::from_raw(pid as i32),
        }),
    }
}

/// Where this process's argument strings are, from its own
/// `/proc/self/stat` (fields 48 and 49, `arg_start` and `arg_end`).
pub fn arg_area(stat: &str) -> Option<(usize, usize)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 of proc(5).
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    (start < end).then_some((start, end))
}

/// Overwrite this process's command line with `shown`: `/proc/PID/cmdline`
/// is readable by every process that can see this one (non-dumpability
/// does not cover it), and the arguments hold what the operator typed
/// (`-c` text, paths). Arguments already parsed are owned copies; nothing
/// reads `std::env::args` afterwards.
pub fn hide_argv(shown: &str) -> Result<(), SysError> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|source| SysError::Open {
        path: "/proc/self/stat".into(),
        source,
    })?;
    let (start, end) = arg_area(&stat).ok_or(SysError::Call {
        op: "find the argument area in /proc/self/stat",
        source: Errno::EINVAL,
    })?;
    let len = end - start;
    let shown = &shown.as_bytes()[..shown.len().min(len.saturating_sub(1))];
    // SAFETY: [arg_start, arg_end) is this process's own argument area on
    // its initial stack, as the kernel reports it: mapped and writable for
    // the life of the process. The pointers std keeps into it (argv) now
    // read the new, NUL-terminated text.
    unsafe {
        let area = start as *mut u8;
        std::ptr::write_bytes(area, 0, len);
        std::ptr::copy_nonoverlapping(shown.as_ptr(), area, shown.len());
    }
    Ok(())
}

/// Records credential calls instead of making them.
#[cfg(test)]
#[derive(Default)]
pub struct RecordingCredentials {
    pub calls: Vec<String>,
    pub fail_on: Option<&'static str>,
}

#[cfg(test)]
impl RecordingCredentials {
    fn record(&mut self, call: String) -> Result<(), SysError> {
        let name = call.split('(').next().unwrap_or_default().to_string();
        self.calls.push(call);
        if self.fail_on == Some(name.as_str()) {
            return Err(SysError::Call {
                op: "recorded failure",
                source: Errno::EPERM,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
impl Credentials for RecordingCredentials {
    fn clear_bounding_set(&mut self) -> Result<(), SysError> {
        self.record("clear_bounding_set".into())
    }
    fn clear_ambient_set(&mut self) -> Result<(), SysError> {
        self.record("clear_ambient_set".into())
    }
    fn set_no_new_privs(&mut self) -> Result<(), SysError> {
        self.record("set_no_new_privs".into())
    }
    fn set_groups(&mut self, groups: &[Gid]) -> Result<(), SysError> {
        let raw: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
        self.record(format!("set_groups({raw:?})"))
    }
    fn set_resgid(&mut self, gid: Gid) -> Result<(), SysError> {
        self.record(format!("set_resgid({gid})"))
    }
    fn set_resuid(&mut self, uid: Uid) -> Result<(), SysError> {
        self.record(format!("set_resuid({uid})"))
    }
    fn clear_capabilities(&mut self) -> Result<(), SysError> {
        self.record("clear_capabilities".into())
    }
}
