//! Turning a system call read from a tracee's registers into what a person
//! reads, the way strace prints it: its name, its arguments (paths as
//! strings, flags and requests by their constants' names, socket addresses
//! as `ip:port`, fds in decimal) and the errno by name with glibc's text.
//!
//! Everything here reads hostile input (the tracee's memory and registers):
//! strings are bounded, unknown numbers are printed as numbers, and text is
//! escaped before it can reach a terminal.

use serde::Serialize;

use super::consts::{self, Table};
use crate::term::escape;

/// The longest string read from a tracee (PATH_MAX).
pub const MAX_STRING: usize = 4096;
/// The largest socket address read (`struct sockaddr_storage`).
const MAX_SOCKADDR: usize = 128;

/// A system call as seen at its exit: number, the six argument registers and
/// the return value (`-errno` on failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub nr: u64,
    pub args: [u64; 6],
    pub ret: i64,
}

impl Call {
    /// The errno of a failed call: the kernel returns -1..-4095.
    pub fn errno(&self) -> Option<i32> {
        (-4095..0).contains(&self.ret).then(|| -self.ret as i32)
    }
}

/// Reading the tracee's memory (a real process, or bytes in a unit test).
pub trait Memory {
    /// Up to `len` bytes at `addr`; fewer if the mapping ends; None if none.
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>>;

    /// A NUL-terminated string at `addr`, at most [`MAX_STRING`] bytes, and
    /// whether it was cut there.
    fn string(&self, addr: u64) -> Option<(Vec<u8>, bool)> {
        let mut bytes = self.read(addr, MAX_STRING)?;
        match bytes.iter().position(|b| *b == 0) {
            Some(end) => {
                bytes.truncate(end);
                Some((bytes, false))
            }
            None => Some((bytes, true)),
        }
    }
}

/// How one argument is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    /// A C `int`: 32 bits, signed.
    Int,
    /// An `unsigned int`.
    UInt,
    /// An `off_t` or `long`: 64 bits, signed.
    Long,
    /// A `size_t`: 64 bits, unsigned.
    Size,
    Fd,
    /// A directory fd of an `*at` call: `AT_FDCWD` or a number.
    DirFd,
    /// An address: `NULL` or hex.
    Ptr,
    /// A path the call accesses (the one `why` is pointed at).
    Path,
    /// Any other string (a symlink's content, an xattr or thread name).
    Str,
    Hex,
    OpenFlags,
    Mode,
    /// A mode with its file type, as mknod takes it.
    NodeMode,
    Dev,
    AccessMode,
    /// A socket address whose length is the argument at this index.
    Addr(usize),
    SockType,
    /// A protocol of the family at this index.
    Protocol(usize),
    /// A socket option of the level at this index.
    SockOpt(usize),
    Prot,
    MapFlags,
    EpollEvent,
    Signal,
    Capability,
    /// The two fds a pipe got, read once the call succeeded.
    PipeFds,
    /// An `int` a pointer points at, shown `[1]`, when the length at this
    /// index says it is one (setsockopt's value).
    IntValue(usize),
    /// ioctl's third argument: an `int` for the requests known to take
    /// one, an address otherwise.
    IoctlValue,
    /// A value named from a table, a decimal number otherwise.
    Named(Table),
    /// A value named from a table, hex otherwise (ioctl requests).
    NamedHex(Table),
    /// Bits named from a table.
    Flags(Table),
}

/// How the return value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ret {
    Int,
    /// An address (mmap, brk): hex.
    Addr,
    /// fcntl(F_GETFL): `0x8002 (flags O_RDWR|O_LARGEFILE)`.
    FileFlags,
    /// fcntl(F_GETFD): `0x1 (flags FD_CLOEXEC)`.
    FdFlags,
}

/// What a failure of the call asks of the path, for the `why` pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Not a question `why` answers better without an access (stat, chmod).
    Any,
    Read,
    Write,
    Exec,
    /// Decided by the open flags.
    Open,
    /// Decided by the access(2) mode.
    Access,
}

use Arg::*;

const AT: Arg = Flags(consts::AT_FLAGS);
const MSG: Arg = Flags(consts::MSG_FLAGS);
const CLOCK: Arg = Named(consts::CLOCKS);
const PIPE_FLAGS: Table = &[
    (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
    (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
    (libc::O_DIRECT as u64, "O_DIRECT"),
];
const DUP3_FLAGS: Table = &[(libc::O_CLOEXEC as u64, "O_CLOEXEC")];
const MREMAP_FLAGS: Table = &[
    (1, "MREMAP_MAYMOVE"),
    (2, "MREMAP_FIXED"),
    (4, "MREMAP_DONTUNMAP"),
];
const ARCH_PRCTL: Table = &[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
];
const IDTYPES: Table = &[(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")];

/// The calls without arguments.
const NO_ARGS: [&str; 19] = [
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getpgrp",
    "setsid",
    "sched_yield",
    "pause",
    "fork",
    "vfork",
    "sync",
    "vhangup",
    "munlockall",
    "inotify_init",
    "rt_sigreturn",
    "restart_syscall",
];

/// The arguments of a call whose shape does not depend on its values;
/// everything unknown shows its first three registers in hex.
fn fixed_signature(name: &str) -> (&'static [Arg], Need) {
    match name {
        // Paths.
        "openat2" => (&[DirFd, Path, Ptr, Size], Need::Read),
        "creat" => (&[Path, Mode], Need::Write),
        "access" => (&[Path, AccessMode], Need::Access),
        "faccessat" | "faccessat2" => (&[DirFd, Path, AccessMode, AT], Need::Access),
        "stat" | "lstat" | "statfs" => (&[Path, Ptr], Need::Any),
        "newfstatat" => (&[DirFd, Path, Ptr, AT], Need::Any),
        "statx" => (&[DirFd, Path, AT, Hex, Ptr], Need::Any),
        "readlink" => (&[Path, Ptr, Size], Need::Any),
        "readlinkat" => (&[DirFd, Path, Ptr, Size], Need::Any),
        "execve" => (&[Path, Ptr, Ptr], Need::Exec),
        "execveat" => (&[DirFd, Path, Ptr, Ptr, AT], Need::Exec),
        "mkdir" => (&[Path, Mode], Need::Write),
        "mkdirat" => (&[DirFd, Path, Mode], Need::Write),
        "rmdir" | "unlink" => (&[Path], Need::Write),
        "unlinkat" => (&[DirFd, Path, AT], Need::Write),
        "rename" | "link" => (&[Path, Path], Need::Write),
        "renameat" => (&[DirFd, Path, DirFd, Path], Need::Write),
        "renameat2" => (&[DirFd, Path, DirFd, Path, Hex], Need::Write),
        "linkat" => (&[DirFd, Path, DirFd, Path, AT], Need::Write),
        "symlink" => (&[Str, Path], Need::Write),
        "symlinkat" => (&[Str, DirFd, Path], Need::Write),
        "chmod" => (&[Path, Mode], Need::Any),
        "fchmodat" => (&[DirFd, Path, Mode], Need::Any),
        "chown" | "lchown" => (&[Path, Int, Int], Need::Any),
        "fchownat" => (&[DirFd, Path, Int, Int, AT], Need::Any),
        "truncate" => (&[Path, Long], Need::Write),
        "chdir" => (&[Path], Need::Exec),
        "chroot" | "acct" | "swapoff" => (&[Path], Need::Any),
        "pivot_root" => (&[Path, Path], Need::Any),
        "swapon" => (&[Path, Hex], Need::Any),
        "mknod" => (&[Path, NodeMode, Dev], Need::Write),
        "mknodat" => (&[DirFd, Path, NodeMode, Dev], Need::Write),
        "utimensat" => (&[DirFd, Path, Ptr, AT], Need::Write),
        "utime" | "utimes" => (&[Path, Ptr], Need::Write),
        "getxattr" | "lgetxattr" => (&[Path, Str, Ptr, Size], Need::Any),
        "setxattr" | "lsetxattr" => (&[Path, Str, Ptr, Size, Hex], Need::Any),
        "listxattr" | "llistxattr" => (&[Path, Ptr, Size], Need::Any),
        "removexattr" | "lremovexattr" => (&[Path, Str], Need::Any),
        "inotify_add_watch" => (&[Fd, Path, Hex], Need::Read),
        "mount" => (&[Str, Path, Str, Hex, Ptr], Need::Any),
        "umount2" => (&[Path, Hex], Need::Any),
        "name_to_handle_at" => (&[DirFd, Path, Ptr, Ptr, AT], Need::Any),
        "fanotify_mark" => (&[Fd, Hex, Hex, DirFd, Path], Need::Any),
        // Sockets.
        "connect" | "bind" => (&[Fd, Addr(2), Int], Need::Any),
        "sendto" => (&[Fd, Ptr, Size, MSG, Addr(5), Int], Need::Any),
        "recvfrom" => (&[Fd, Ptr, Size, MSG, Ptr, Ptr], Need::Any),
        "recvmsg" | "sendmsg" => (&[Fd, Ptr, MSG], Need::Any),
        "recvmmsg" | "sendmmsg" => (&[Fd, Ptr, UInt, MSG, Ptr], Need::Any),
        "socket" => (
            &[Named(consts::ADDRESS_FAMILIES), SockType, Protocol(0)],
            Need::Any,
        ),
        "socketpair" => (
            &[Named(consts::ADDRESS_FAMILIES), SockType, Protocol(0), Ptr],
            Need::Any,
        ),
        "listen" => (&[Fd, Int], Need::Any),
        "accept" | "getsockname" | "getpeername" => (&[Fd, Ptr, Ptr], Need::Any),
        "accept4" => (&[Fd, Ptr, Ptr, Flags(consts::SOCK_FLAGS)], Need::Any),
        "setsockopt" => (
            &[
                Fd,
                Named(consts::SOCKET_LEVELS),
                SockOpt(1),
                IntValue(4),
                Int,
            ],
            Need::Any,
        ),
        "getsockopt" => (
            &[Fd, Named(consts::SOCKET_LEVELS), SockOpt(1), Ptr, Ptr],
            Need::Any,
        ),
        "shutdown" => (&[Fd, Named(consts::SHUTDOWN)], Need::Any),
        // File descriptors.
        "read" | "write" | "getdents" | "getdents64" => (&[Fd, Ptr, Size], Need::Any),
        "pread64" | "pwrite64" => (&[Fd, Ptr, Size, Long], Need::Any),
        "readv" | "writev" => (&[Fd, Ptr, Int], Need::Any),
        "preadv" | "pwritev" => (&[Fd, Ptr, Int, Long], Need::Any),
        "preadv2" | "pwritev2" => (&[Fd, Ptr, Int, Long, Hex], Need::Any),
        "sendfile" => (&[Fd, Fd, Ptr, Size], Need::Any),
        "splice" => (&[Fd, Ptr, Fd, Ptr, Size, Hex], Need::Any),
        "tee" => (&[Fd, Fd, Size, Hex], Need::Any),
        "copy_file_range" => (&[Fd, Ptr, Fd, Ptr, Size, Hex], Need::Any),
        "close" | "fchdir" | "fsync" | "fdatasync" | "dup" | "syncfs" => (&[Fd], Need::Any),
        "close_range" => (&[UInt, UInt, Hex], Need::Any),
        "dup2" => (&[Fd, Fd], Need::Any),
        "dup3" => (&[Fd, Fd, Flags(DUP3_FLAGS)], Need::Any),
        "pipe" => (&[PipeFds], Need::Any),
        "pipe2" => (&[PipeFds, Flags(PIPE_FLAGS)], Need::Any),
        "fstat" | "fstatfs" | "timerfd_gettime" => (&[Fd, Ptr], Need::Any),
        "fchmod" => (&[Fd, Mode], Need::Any),
        "fchown" => (&[Fd, Int, Int], Need::Any),
        "ftruncate" => (&[Fd, Long], Need::Any),
        "lseek" => (&[Fd, Long, Named(consts::SEEK)], Need::Any),
        "flock" => (&[Fd, Flags(consts::FLOCK)], Need::Any),
        "fallocate" => (&[Fd, Int, Long, Long], Need::Any),
        "fadvise64" => (&[Fd, Long, Long, Int], Need::Any),
        "readahead" => (&[Fd, Long, Size], Need::Any),
        "sync_file_range" => (&[Fd, Long, Long, Hex], Need::Any),
        "ioctl" => (&[Fd, NamedHex(consts::IOCTLS), IoctlValue], Need::Any),
        "fgetxattr" => (&[Fd, Str, Ptr, Size], Need::Any),
        "fsetxattr" => (&[Fd, Str, Ptr, Size, Hex], Need::Any),
        "flistxattr" => (&[Fd, Ptr, Size], Need::Any),
        "fremovexattr" => (&[Fd, Str], Need::Any),
        "inotify_rm_watch" => (&[Fd, Int], Need::Any),
        "inotify_init1" | "userfaultfd" | "unshare" | "personality" => (&[Hex], Need::Any),
        "eventfd2" => (&[UInt, Hex], Need::Any),
        "signalfd4" => (&[Fd, Ptr, Size, Hex], Need::Any),
        "timerfd_create" => (&[CLOCK, Hex], Need::Any),
        "timerfd_settime" => (&[Fd, Hex, Ptr, Ptr], Need::Any),
        "setns" => (&[Fd, Hex], Need::Any),
        "open_by_handle_at" => (&[Fd, Ptr, OpenFlags], Need::Any),
        "finit_module" => (&[Fd, Str, Hex], Need::Any),
        "memfd_create" => (&[Str, Flags(consts::MEMFD_FLAGS)], Need::Any),
        // epoll.
        "epoll_create" => (&[Int], Need::Any),
        "epoll_create1" => (&[Flags(consts::EPOLL_FLAGS)], Need::Any),
        "epoll_ctl" => (&[Fd, Named(consts::EPOLL_OPS), Fd, EpollEvent], Need::Any),
        "epoll_wait" => (&[Fd, Ptr, Int, Int], Need::Any),
        "epoll_pwait" => (&[Fd, Ptr, Int, Int, Ptr, Size], Need::Any),
        "epoll_pwait2" => (&[Fd, Ptr, Int, Ptr, Ptr, Size], Need::Any),
        "poll" => (&[Ptr, UInt, Int], Need::Any),
        "ppoll" => (&[Ptr, UInt, Ptr, Ptr, Size], Need::Any),
        "select" => (&[Int, Ptr, Ptr, Ptr, Ptr], Need::Any),
        "pselect6" => (&[Int, Ptr, Ptr, Ptr, Ptr, Ptr], Need::Any),
        // Memory.
        "mmap" => (&[Ptr, Size, Prot, MapFlags, Fd, Hex], Need::Any),
        "mprotect" => (&[Ptr, Size, Prot], Need::Any),
        "munmap" | "mlock" | "munlock" => (&[Ptr, Size], Need::Any),
        "mlock2" => (&[Ptr, Size, Hex], Need::Any),
        "mlockall" => (&[Flags(consts::MLOCKALL)], Need::Any),
        "mremap" => (&[Ptr, Size, Size, Flags(MREMAP_FLAGS), Ptr], Need::Any),
        "madvise" => (&[Ptr, Size, Int], Need::Any),
        "msync" => (&[Ptr, Size, Hex], Need::Any),
        "brk" | "shmdt" | "set_tid_address" | "uname" | "sysinfo" | "times" => (&[Ptr], Need::Any),
        "shmget" => (&[Int, Size, Hex], Need::Any),
        "shmat" => (&[Int, Ptr, Hex], Need::Any),
        "shmctl" => (&[Int, Int, Ptr], Need::Any),
        // Processes and signals.
        "kill" | "tkill" => (&[Int, Signal], Need::Any),
        "tgkill" => (&[Int, Int, Signal], Need::Any),
        "pidfd_send_signal" => (&[Fd, Signal, Ptr, Hex], Need::Any),
        "pidfd_open" => (&[Int, Hex], Need::Any),
        "pidfd_getfd" => (&[Fd, Int, Hex], Need::Any),
        "rt_sigaction" => (&[Signal, Ptr, Ptr, Size], Need::Any),
        "rt_sigprocmask" => (&[Named(consts::SIGPROCMASK_HOW), Ptr, Ptr, Size], Need::Any),
        "rt_sigsuspend" => (&[Ptr, Size], Need::Any),
        "rt_sigtimedwait" => (&[Ptr, Ptr, Ptr, Size], Need::Any),
        "sigaltstack" | "gettimeofday" | "settimeofday" | "nanosleep" | "capget" | "capset" => {
            (&[Ptr, Ptr], Need::Any)
        }
        "wait4" => (&[Int, Ptr, Flags(consts::WAIT_OPTIONS), Ptr], Need::Any),
        "waitid" => (
            &[Named(IDTYPES), Int, Ptr, Flags(consts::WAIT_OPTIONS), Ptr],
            Need::Any,
        ),
        "clone" => (&[Hex, Ptr, Ptr, Ptr, Hex], Need::Any),
        "clone3" => (&[Ptr, Size], Need::Any),
        "exit" | "exit_group" | "setuid" | "setgid" | "setfsuid" | "setfsgid" | "getpgid"
        | "getsid" | "iopl" => (&[Int], Need::Any),
        "setreuid" | "setregid" | "setpgid" | "getrusage" | "getitimer" => (&[Int, Int], Need::Any),
        "setresuid" | "setresgid" => (&[Int, Int, Int], Need::Any),
        "getgroups" | "setgroups" => (&[Int, Ptr], Need::Any),
        "setitimer" => (&[Int, Ptr, Ptr], Need::Any),
        "alarm" => (&[UInt], Need::Any),
        "umask" => (&[Mode], Need::Any),
        "getrlimit" | "setrlimit" => (&[Named(consts::RLIMITS), Ptr], Need::Any),
        "prlimit64" => (&[Int, Named(consts::RLIMITS), Ptr, Ptr], Need::Any),
        "getpriority" => (&[Named(consts::PRIO_WHICH), Int], Need::Any),
        "setpriority" => (&[Named(consts::PRIO_WHICH), Int, Int], Need::Any),
        "sched_setscheduler" => (&[Int, Int, Ptr], Need::Any),
        "sched_setparam" | "sched_getparam" => (&[Int, Ptr], Need::Any),
        "sched_setattr" => (&[Int, Ptr, Hex], Need::Any),
        "sched_setaffinity" | "sched_getaffinity" => (&[Int, UInt, Ptr], Need::Any),
        "ioprio_set" => (&[Int, Int, Int], Need::Any),
        "ioprio_get" => (&[Int, Int], Need::Any),
        "arch_prctl" => (&[NamedHex(ARCH_PRCTL), Ptr], Need::Any),
        "set_robust_list" => (&[Ptr, Size], Need::Any),
        "rseq" => (&[Ptr, UInt, Hex, Hex], Need::Any),
        "getcwd" => (&[Ptr, Size], Need::Any),
        "getrandom" => (&[Ptr, Size, Flags(consts::GETRANDOM_FLAGS)], Need::Any),
        "clock_gettime" | "clock_getres" | "clock_settime" | "clock_adjtime" => {
            (&[CLOCK, Ptr], Need::Any)
        }
        "clock_nanosleep" => (&[CLOCK, Hex, Ptr, Ptr], Need::Any),
        "timer_create" => (&[CLOCK, Ptr, Ptr], Need::Any),
        "sethostname" | "setdomainname" => (&[Str, Size], Need::Any),
        "init_module" => (&[Ptr, Size, Str], Need::Any),
        "delete_module" => (&[Str, Hex], Need::Any),
        "seccomp" => (&[UInt, Hex, Ptr], Need::Any),
        "bpf" => (&[Int, Ptr, UInt], Need::Any),
        "perf_event_open" => (&[Ptr, Int, Int, Fd, Hex], Need::Any),
        "process_vm_readv" | "process_vm_writev" => (&[Int, Ptr, Size, Ptr, Size, Hex], Need::Any),
        "ioperm" => (&[Size, Size, Int], Need::Any),
        "io_uring_setup" => (&[UInt, Ptr], Need::Any),
        "io_uring_enter" => (&[Fd, UInt, UInt, Hex, Ptr, Size], Need::Any),
        "io_uring_register" => (&[Fd, UInt, Ptr, UInt], Need::Any),
        "futex" => (&[Ptr, Hex, Int, Ptr], Need::Any),
        _ if NO_ARGS.contains(&name) => (&[], Need::Any),
        _ => (&[Hex, Hex, Hex], Need::Any),
    }
}

/// The arguments of `prctl`, which depend on its option.
fn prctl_signature(option: u64) -> Vec<Arg> {
    let rest: &[Arg] = match option as i32 {
        libc::PR_SET_NAME => &[Str],
        libc::PR_GET_NAME
        | libc::PR_GET_PDEATHSIG
        | libc::PR_GET_CHILD_SUBREAPER
        | libc::PR_GET_TID_ADDRESS => &[Ptr],
        libc::PR_CAPBSET_READ | libc::PR_CAPBSET_DROP => &[Capability],
        libc::PR_SET_PDEATHSIG => &[Signal],
        libc::PR_SET_DUMPABLE
        | libc::PR_SET_KEEPCAPS
        | libc::PR_SET_CHILD_SUBREAPER
        | libc::PR_SET_TIMERSLACK
        | libc::PR_SET_PTRACER => &[Long],
        libc::PR_GET_DUMPABLE
        | libc::PR_GET_KEEPCAPS
        | libc::PR_GET_SECCOMP
        | libc::PR_GET_SECUREBITS
        | libc::PR_GET_TIMERSLACK
        | libc::PR_GET_THP_DISABLE
        | libc::PR_GET_FP_MODE
        | libc::PR_TASK_PERF_EVENTS_DISABLE
        | libc::PR_TASK_PERF_EVENTS_ENABLE => &[],
        libc::PR_SET_NO_NEW_PRIVS | libc::PR_GET_NO_NEW_PRIVS | libc::PR_SET_THP_DISABLE => {
            &[Long, Long, Long, Long]
        }
        libc::PR_SET_SECUREBITS => &[Hex],
        libc::PR_SET_SECCOMP => &[Named(consts::SECCOMP_MODES), Ptr],
        libc::PR_CAP_AMBIENT => &[Named(consts::PR_CAP_AMBIENT_OPS), Capability],
        _ => &[Hex, Hex, Hex, Hex],
    };
    let mut sig = vec![Named(consts::PRCTL_OPTIONS)];
    sig.extend_from_slice(rest);
    sig
}

/// The arguments of `fcntl`, which depend on its command, and how its
/// result reads.
fn fcntl_signature(cmd: u64) -> (Vec<Arg>, Ret) {
    let head = [Fd, Named(consts::FCNTL)];
    let (third, ret): (Option<Arg>, Ret) = match cmd as i32 {
        libc::F_GETFD => (None, Ret::FdFlags),
        libc::F_GETFL => (None, Ret::FileFlags),
        libc::F_GETOWN | 11 | 1025 | 1032 | 1034 => (None, Ret::Int),
        libc::F_SETFD => (Some(Flags(consts::FD_FLAGS)), Ret::Int),
        libc::F_SETFL => (Some(OpenFlags), Ret::Int),
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC | libc::F_SETOWN | 10 | 1031 => (Some(Int), Ret::Int),
        1024 => (Some(Named(consts::LEASE)), Ret::Int),
        1033 => (Some(Flags(consts::SEALS)), Ret::Int),
        libc::F_GETLK | libc::F_SETLK | libc::F_SETLKW | 15 | 16 | 36 | 37 | 38 => {
            (Some(Ptr), Ret::Int)
        }
        _ => (Some(Hex), Ret::Int),
    };
    let mut sig = head.to_vec();
    sig.extend(third);
    (sig, ret)
}

/// The arguments of a call as its values decide them, how its result
/// reads, and what a failure asks of its path.
fn signature(name: &str, args: &[u64; 6]) -> (Vec<Arg>, Ret, Need) {
    // The mode of an open means something only when it creates a file
    // (O_TMPFILE holds O_DIRECTORY's bit: all of it must be set).
    let creates = |flags: u64| {
        let flags = flags as i32;
        flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE
    };
    match name {
        "open" if creates(args[1]) => (vec![Path, OpenFlags, Mode], Ret::Int, Need::Open),
        "open" => (vec![Path, OpenFlags], Ret::Int, Need::Open),
        "openat" if creates(args[2]) => (vec![DirFd, Path, OpenFlags, Mode], Ret::Int, Need::Open),
        "openat" => (vec![DirFd, Path, OpenFlags], Ret::Int, Need::Open),
        "prctl" => (prctl_signature(args[0]), Ret::Int, Need::Any),
        "fcntl" => {
            let (sig, ret) = fcntl_signature(args[1]);
            (sig, ret, Need::Any)
        }
        "mmap" | "mremap" | "brk" | "shmat" => {
            let (sig, need) = fixed_signature(name);
            (sig.to_vec(), Ret::Addr, need)
        }
        _ => {
            let (sig, need) = fixed_signature(name);
            (sig.to_vec(), Ret::Int, need)
        }
    }
}

/// One decoded system call. The same struct is a line of text and, with
/// `--json`, one JSON object; a failed one is what [`super::session`]
/// hands to doctor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Event {
    pub pid: i32,
    pub syscall: String,
    /// The arguments as shown (strings quoted and escaped).
    pub args: Vec<String>,
    /// The path the call accesses, as the tracee named it.
    pub path: Option<String>,
    /// The socket address, `ip:port`, `[ip6]:port`, a unix path.
    pub address: Option<String>,
    /// The open flags by name.
    pub flags: Option<String>,
    pub result: i64,
    /// The errno by name (EACCES), for a failed call.
    pub errno: Option<String>,
    /// What the errno means (Permission denied), as glibc's strerror.
    pub error: Option<String>,
    /// For a failed privileged call: the capability it lacked
    /// (`CAP_SYS_CHROOT`, see [`crate::diagnosis::privileged`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<&'static str>,
    /// For a failed path access: the `why` access to ask about
    /// (read, write, exec), or null to let `why` pick.
    #[serde(skip)]
    pub need: Option<&'static str>,
    /// Whether the path came with the call (a `why` pointer makes sense).
    #[serde(skip)]
    pub has_path: bool,
    /// The directory fd a relative path of an `*at` call is relative to.
    #[serde(skip)]
    pub dirfd: Option<i32>,
    /// A relative path made absolute from the tracee's cwd or dirfd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absolute: Option<String>,
    /// The argument registers as read.
    #[serde(skip)]
    pub raw: [u64; 6],
    /// The port of an IPv4 or IPv6 socket address.
    #[serde(skip)]
    pub port: Option<u16>,
    /// The result as shown, when it is not a plain number.
    #[serde(skip)]
    shown_result: Option<String>,
}

impl Event {
    pub fn failed(&self) -> bool {
        self.errno.is_some()
    }

    /// The errno as a number, for a failed call.
    pub fn errno_number(&self) -> Option<i32> {
        (-4095..0)
            .contains(&self.result)
            .then(|| -self.result as i32)
    }

    /// The path or address the call was about, for a summary: the
    /// absolute path if the tracee gave a relative one.
    pub fn target(&self) -> String {
        self.absolute
            .clone()
            .or_else(|| self.path.clone())
            .or_else(|| self.address.clone())
            .unwrap_or_default()
    }

    /// `openat(AT_FDCWD, "/x", O_RDONLY) = -1 EACCES (Permission denied)`.
    pub fn line(&self) -> String {
        let result = match (&self.errno, &self.error) {
            (Some(name), Some(text)) => format!("-1 {name} ({text})"),
            (Some(name), None) => format!("-1 {name}"),
            _ => self
                .shown_result
                .clone()
                .unwrap_or_else(|| self.result.to_string()),
        };
        format!("{}({}) = {result}", self.syscall, self.args.join(", "))
    }
}

/// The system call's name, or `syscall_N` for a number the table lacks.
pub fn name(nr: u64) -> String {
    super::names_x86_64::NAMES
        .get(nr as usize)
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("syscall_{nr}"), |n| (*n).to_string())
}

pub use super::errno::name as errno_name;

/// What the errno means, as glibc's strerror says it.
pub fn errno_text(errno: i32) -> Option<String> {
    super::errno::text(errno).map(str::to_string)
}

/// Whether a failure is routine and hidden unless `--all`: the kernel's
/// restart codes (the call goes on), EINTR, and "try again" / timed-out
/// results of the calls that wait (a mutex, a poll, a non-blocking read).
pub fn routine(syscall: &str, errno: i32) -> bool {
    const WAITING: [&str; 20] = [
        "futex",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "nanosleep",
        "clock_nanosleep",
        "wait4",
        "waitid",
        "rt_sigtimedwait",
        "rt_sigsuspend",
        "pause",
        "accept",
        "accept4",
        "read",
        "recvfrom",
        "recvmsg",
    ];
    match errno {
        512..=516 => true,
        libc::EINTR => true,
        libc::EAGAIN | libc::ETIMEDOUT => WAITING.contains(&syscall),
        _ => false,
    }
}

pub use consts::{access_mode, open_flags};

/// What an open with these flags asks of the path.
fn open_need(flags: u64) -> Option<&'static str> {
    let flags = flags as u32 as i32;
    if flags & libc::O_PATH != 0 {
        None
    } else if flags & libc::O_ACCMODE != libc::O_RDONLY
        || flags & (libc::O_CREAT | libc::O_TRUNC) != 0
    {
        Some("write")
    } else {
        Some("read")
    }
}

fn access_need(mode: u64) -> Option<&'static str> {
    if mode & 2 != 0 {
        Some("write")
    } else if mode & 1 != 0 {
        Some("exec")
    } else if mode & 4 != 0 {
        Some("read")
    } else {
        None
    }
}

fn hex(v: u64) -> String {
    consts::hex(v)
}

fn pointer(v: u64) -> String {
    if v == 0 { "NULL".into() } else { hex(v) }
}

/// A `struct sockaddr` as a person writes it: `10.0.0.1:5432`,
/// `[::1]:8080`, a unix path (`@name` for the abstract namespace).
pub fn sockaddr(bytes: &[u8]) -> String {
    if bytes.len() < 2 {
        return "(short address)".into();
    }
    let family = u16::from_ne_bytes([bytes[0], bytes[1]]) as i32;
    let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
    match family {
        libc::AF_INET if bytes.len() >= 8 => {
            let ip = std::net::Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            format!("{ip}:{}", port(bytes))
        }
        libc::AF_INET6 if bytes.len() >= 24 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&bytes[8..24]);
            format!("[{}]:{}", std::net::Ipv6Addr::from(octets), port(bytes))
        }
        libc::AF_UNIX => {
            let path = &bytes[2..];
            match path.first() {
                None => "unix:(unnamed)".into(),
                Some(0) => {
                    let name = &path[1..];
                    let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
                    format!("unix:@{}", escape::field(&name[..end]))
                }
                Some(_) => {
                    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
                    format!("unix:{}", escape::field(&path[..end]))
                }
            }
        }
        libc::AF_NETLINK => "netlink".into(),
        libc::AF_UNSPEC => "AF_UNSPEC".into(),
        other => format!("family {other}"),
    }
}

/// The port of an IPv4 or IPv6 socket address.
fn sockaddr_port(bytes: &[u8]) -> Option<u16> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]) as i32;
    match family {
        libc::AF_INET if bytes.len() >= 8 => Some(u16::from_be_bytes([bytes[2], bytes[3]])),
        libc::AF_INET6 if bytes.len() >= 24 => Some(u16::from_be_bytes([bytes[2], bytes[3]])),
        _ => None,
    }
}

fn quoted(bytes: &[u8], cut: bool) -> String {
    format!(
        "\"{}\"{}",
        escape::field(bytes).replace('"', "\\\""),
        if cut { "..." } else { "" }
    )
}

/// `{events=EPOLLIN|EPOLLET, data={u32=3, u64=3}}` (x86_64 packs the
/// struct: 4 bytes of events, 8 of data).
fn epoll_event(v: u64, mem: &impl Memory) -> String {
    if v == 0 {
        return "NULL".into();
    }
    match mem.read(v, 12) {
        Some(b) if b.len() == 12 => {
            let events = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let mut data = [0u8; 8];
            data.copy_from_slice(&b[4..12]);
            let data = u64::from_ne_bytes(data);
            format!(
                "{{events={}, data={{u32={}, u64={data}}}}}",
                consts::bits(events as u64, consts::EPOLL_EVENTS),
                data as u32
            )
        }
        _ => hex(v),
    }
}

/// `[3, 4]`: the fds a successful pipe wrote.
fn pipe_fds(v: u64, ok: bool, mem: &impl Memory) -> String {
    match mem.read(v, 8) {
        Some(b) if ok && b.len() == 8 => format!(
            "[{}, {}]",
            i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            i32::from_ne_bytes([b[4], b[5], b[6], b[7]])
        ),
        _ => pointer(v),
    }
}

/// `[1]`: the `int` at `v`.
fn int_at(v: u64, mem: &impl Memory) -> String {
    match mem.read(v, 4) {
        Some(b) if b.len() == 4 => format!("[{}]", i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        _ => pointer(v),
    }
}

/// ioctl's third argument: the `int` the common requests read or write
/// (`[0]`), read only after a success for those that write it.
#[allow(
    clippy::unnecessary_cast,
    reason = "libc's request type is u64 with glibc and i32 with musl"
)]
fn ioctl_arg(request: u64, v: u64, ok: bool, mem: &impl Memory) -> String {
    let request = request & 0xffff_ffff;
    let reads_int = [
        libc::FIONBIO,
        libc::FIOASYNC,
        libc::TIOCSPGRP,
        libc::TIOCSPTLCK,
    ]
    .iter()
    .any(|r| *r as u64 == request);
    let writes_int = [
        libc::FIONREAD,
        libc::TIOCOUTQ,
        libc::TIOCGPGRP,
        libc::TIOCGPTN,
    ]
    .iter()
    .any(|r| *r as u64 == request);
    if reads_int || (writes_int && ok) {
        int_at(v, mem)
    } else {
        pointer(v)
    }
}

/// Decode a call of process `pid` read from its registers at the exit stop.
pub fn decode(pid: i32, call: &Call, mem: &impl Memory) -> Event {
    let syscall = name(call.nr);
    let (sig, ret, need) = signature(&syscall, &call.args);
    let mut event = Event {
        pid,
        syscall,
        args: Vec::with_capacity(sig.len()),
        path: None,
        address: None,
        flags: None,
        result: call.ret,
        errno: call.errno().map(errno_name),
        error: call.errno().and_then(errno_text),
        capability: None,
        need: None,
        has_path: false,
        dirfd: None,
        absolute: None,
        raw: call.args,
        port: None,
        shown_result: None,
    };
    for (i, kind) in sig.iter().enumerate() {
        let v = call.args[i];
        let shown = match *kind {
            Int => (v as i32).to_string(),
            UInt => (v as u32).to_string(),
            Long => (v as i64).to_string(),
            Size => v.to_string(),
            Fd => (v as i32).to_string(),
            DirFd => {
                if event.path.is_none() {
                    event.dirfd = Some(v as i32);
                }
                if v as i32 == libc::AT_FDCWD {
                    "AT_FDCWD".into()
                } else {
                    (v as i32).to_string()
                }
            }
            Ptr => pointer(v),
            Path | Str if v == 0 => "NULL".into(),
            Path | Str => match mem.string(v) {
                Some((bytes, cut)) => {
                    if *kind == Path && event.path.is_none() {
                        event.path = Some(String::from_utf8_lossy(&bytes).into_owned());
                        event.has_path = true;
                    }
                    quoted(&bytes, cut)
                }
                None => pointer(v),
            },
            OpenFlags => {
                let f = open_flags(v);
                event.flags = Some(f.clone());
                event.need = open_need(v);
                f
            }
            // strace's `%#03o`: 0640, 000.
            Mode => format!("0{:02o}", v & 0o7777),
            NodeMode => consts::node_mode(v),
            Dev => consts::device(v),
            AccessMode => {
                event.need = access_need(v);
                access_mode(v)
            }
            Addr(len_at) => {
                let len = (call.args[len_at] as usize).min(MAX_SOCKADDR);
                match mem.read(v, len) {
                    Some(bytes) if v != 0 => {
                        let a = sockaddr(&bytes);
                        event.address = Some(a.clone());
                        event.port = sockaddr_port(&bytes);
                        a
                    }
                    _ => pointer(v),
                }
            }
            SockType => consts::sock_type(v),
            Protocol(family_at) => consts::protocol(call.args[family_at], v),
            SockOpt(level_at) => consts::socket_option(call.args[level_at], v),
            Prot => consts::prot(v),
            MapFlags => consts::map_flags(v),
            EpollEvent => epoll_event(v, mem),
            Signal => consts::signal(v),
            Capability => consts::capability(v),
            PipeFds => pipe_fds(v, call.ret == 0, mem),
            IntValue(len_at) if call.args[len_at] == 4 => int_at(v, mem),
            IntValue(_) => pointer(v),
            IoctlValue => ioctl_arg(call.args[1], v, call.ret == 0, mem),
            Named(table) => consts::named_or_decimal(v & 0xffff_ffff, table),
            NamedHex(table) => consts::named_or_hex(v & 0xffff_ffff, table),
            Flags(table) => consts::bits(v & 0xffff_ffff, table),
            Hex => hex(v),
        };
        event.args.push(shown);
    }
    if call.errno().is_none() {
        event.shown_result = match ret {
            Ret::Int => None,
            Ret::Addr => Some(hex(call.ret as u64)),
            Ret::FileFlags => Some(format!(
                "{} (flags {})",
                hex(call.ret as u64),
                open_flags(call.ret as u64)
            )),
            Ret::FdFlags => Some(format!(
                "{} (flags {})",
                hex(call.ret as u64),
                consts::bits(call.ret as u64, consts::FD_FLAGS)
            )),
        };
    }
    match need {
        Need::Read => event.need = Some("read"),
        Need::Write => event.need = Some("write"),
        Need::Exec => event.need = Some("exec"),
        Need::Any => event.need = None,
        Need::Open | Need::Access => {}
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake address space: one region of bytes at a base address.
    struct Bytes(u64, Vec<u8>);

    impl Memory for Bytes {
        fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
            let start = addr.checked_sub(self.0)? as usize;
            let b = self.1.get(start..)?;
            Some(b[..len.min(b.len())].to_vec())
        }
    }

    fn call(nr: u64, args: [u64; 6], ret: i64) -> Call {
        Call { nr, args, ret }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_syscall_table_names_the_calls_by_number() {
        assert_eq!(name(0), "read");
        assert_eq!(name(2), "open");
        assert_eq!(name(42), "connect");
        assert_eq!(name(49), "bind");
        assert_eq!(name(59), "execve");
        assert_eq!(name(257), "openat");
        assert_eq!(name(437), "openat2");
        assert_eq!(name(335), "syscall_335");
        assert_eq!(name(100_000), "syscall_100000");
    }

    #[test]
    fn errno_names_are_the_symbols_and_unknown_ones_stay_numbers() {
        assert_eq!(errno_name(libc::EACCES), "EACCES");
        assert_eq!(errno_name(libc::ENOENT), "ENOENT");
        assert_eq!(errno_name(libc::EADDRINUSE), "EADDRINUSE");
        assert_eq!(errno_name(libc::ECONNREFUSED), "ECONNREFUSED");
        assert_eq!(errno_name(libc::EROFS), "EROFS");
        assert_eq!(errno_name(512), "ERESTARTSYS");
        assert_eq!(errno_name(4000), "E4000");
        assert_eq!(
            errno_text(libc::EACCES).as_deref(),
            Some("Permission denied")
        );
        assert_eq!(call(0, [0; 6], -13).errno(), Some(13));
        assert_eq!(call(0, [0; 6], -4096).errno(), None);
        assert_eq!(call(0, [0; 6], 3).errno(), None);
    }

    #[test]
    fn open_flags_are_named_with_the_access_mode_first() {
        let f = (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC) as u64;
        assert_eq!(open_flags(f), "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC");
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(libc::O_RDWR as u64), "O_RDWR");
        assert_eq!(open_flags(libc::O_SYNC as u64), "O_RDONLY|O_SYNC");
        assert_eq!(
            open_flags((libc::O_RDONLY | libc::O_DIRECTORY | 0o1_0000_0000) as u64),
            "O_RDONLY|O_DIRECTORY|0x1000000"
        );
        assert_eq!(open_need(f), Some("write"));
        assert_eq!(open_need(libc::O_TRUNC as u64), Some("write"));
        assert_eq!(open_need(0), Some("read"));
        assert_eq!(open_need(libc::O_PATH as u64), None);
    }

    #[test]
    fn access_modes_and_at_flags_are_named() {
        assert_eq!(access_mode(0), "F_OK");
        assert_eq!(access_mode(6), "R_OK|W_OK");
        assert_eq!(access_need(3), Some("write"));
        assert_eq!(access_need(1), Some("exec"));
        let at_flags = |v| consts::bits(v, consts::AT_FLAGS);
        assert_eq!(at_flags(0x100), "AT_SYMLINK_NOFOLLOW");
        assert_eq!(at_flags(0), "0");
        assert_eq!(at_flags(0x1000 | 0x10000), "AT_EMPTY_PATH|0x10000");
    }

    #[test]
    fn socket_addresses_read_as_ip_and_port() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[10, 0, 0, 7]);
        assert_eq!(sockaddr(&v4), "10.0.0.7:8080");
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&443u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(sockaddr(&v6), "[::1]:443");
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/app.sock\0junk");
        assert_eq!(sockaddr(&unix), "unix:/run/app.sock");
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name\x1b[31m");
        assert_eq!(sockaddr(&abs), "unix:@name\\e[31m");
        // Truncated or foreign addresses never panic.
        assert_eq!(sockaddr(&v4[..5]), "family 2");
        assert_eq!(sockaddr(&[1]), "(short address)");
        assert_eq!(sockaddr(&[99, 0]), "family 99");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_failed_openat_decodes_path_flags_and_errno() {
        let mem = Bytes(0x1000, b"/var/log/demo/app.log\0".to_vec());
        let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND) as u64;
        let c = call(257, [(-100i64) as u64, 0x1000, flags, 0o666, 0, 0], -13);
        let e = decode(7, &c, &mem);
        assert_eq!(
            e.line(),
            "openat(AT_FDCWD, \"/var/log/demo/app.log\", O_WRONLY|O_CREAT|O_APPEND, 0666) = -1 EACCES (Permission denied)"
        );
        assert_eq!(e.path.as_deref(), Some("/var/log/demo/app.log"));
        assert_eq!(e.need, Some("write"));
        assert_eq!(e.errno.as_deref(), Some("EACCES"));
        assert!(e.failed());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_refused_connect_decodes_the_address() {
        let mut addr = vec![0u8; 16];
        addr[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        addr[2..4].copy_from_slice(&9u16.to_be_bytes());
        addr[4..8].copy_from_slice(&[127, 0, 0, 1]);
        let mem = Bytes(0x2000, addr);
        let e = decode(1, &call(42, [3, 0x2000, 16, 0, 0, 0], -111), &mem);
        assert_eq!(e.address.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(
            e.line(),
            "connect(3, 127.0.0.1:9, 16) = -1 ECONNREFUSED (Connection refused)"
        );
        assert!(!e.has_path);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn hostile_strings_are_bounded_and_escaped() {
        // No NUL within the bound: cut, marked with "...".
        let mem = Bytes(0x1000, vec![b'a'; MAX_STRING + 100]);
        let e = decode(1, &call(2, [0x1000, 0, 0, 0, 0, 0], -2), &mem);
        assert!(e.args[0].ends_with("\"..."), "{}", &e.args[0][..10]);
        assert_eq!(e.args[0].len(), MAX_STRING + 5);
        // Escape sequences and quotes never reach the terminal raw.
        let mem = Bytes(0x1000, b"/tmp/\x1b]0;x\x07\"q\0".to_vec());
        let e = decode(1, &call(2, [0x1000, 0, 0, 0, 0, 0], -2), &mem);
        assert_eq!(e.args[0], "\"/tmp/\\e]0;x\\x07\\\"q\"");
        // An unreadable pointer is shown as a number.
        let e = decode(1, &call(2, [0x9000, 0, 0, 0, 0, 0], -14), &mem);
        assert_eq!(e.args[0], "0x9000");
        assert_eq!(e.path, None);
    }

    #[test]
    fn waiting_calls_that_time_out_are_routine_and_real_failures_are_not() {
        assert!(routine("futex", libc::ETIMEDOUT));
        assert!(routine("accept4", libc::EAGAIN));
        assert!(routine("openat", 512));
        assert!(!routine("openat", libc::EACCES));
        assert!(!routine("connect", libc::EAGAIN));
        assert!(!routine("bind", libc::EADDRINUSE));
    }

    /// Decodes the call numbered `nr` with `args`, returning `ret`, with
    /// no readable memory.
    fn line(nr: u64, args: [u64; 6], ret: i64) -> String {
        decode(1, &call(nr, args, ret), &Bytes(0, Vec::new())).line()
    }

    /// Each (number, arguments, result) decodes to the line.
    fn lines_are(cases: &[(u64, [u64; 6], i64, &str)]) {
        for (nr, args, ret, want) in cases {
            assert_eq!(line(*nr, *args, *ret), *want);
        }
    }

    const AT_FDCWD: u64 = -100i64 as u64;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_common_calls_name_their_constants_as_strace_does() {
        lines_are(&[
            // prctl's option, and the arguments that option takes.
            (
                157,
                [23, 13, 0, 0, 0, 0],
                1,
                "prctl(PR_CAPBSET_READ, CAP_NET_RAW) = 1",
            ),
            (
                157,
                [38, 1, 0, 0, 0, 0],
                0,
                "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0",
            ),
            (157, [3, 0, 0, 0, 0, 0], 1, "prctl(PR_GET_DUMPABLE) = 1"),
            (
                157,
                [0x777, 1, 2, 3, 4, 0],
                0,
                "prctl(1911, 0x1, 0x2, 0x3, 0x4) = 0",
            ),
            // ioctl's request, and ENOTTY in glibc's words.
            (
                16,
                [0, 0x5413, 0x7ffc_0000, 0, 0, 0],
                -25,
                "ioctl(0, TIOCGWINSZ, 0x7ffc0000) = -1 ENOTTY (Inappropriate ioctl for device)",
            ),
            // fcntl: the command, its argument and its result by name.
            (
                72,
                [3, 3, 0, 0, 0, 0],
                0x8002,
                "fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)",
            ),
            (
                72,
                [3, 2, 1, 0, 0, 0],
                0,
                "fcntl(3, F_SETFD, FD_CLOEXEC) = 0",
            ),
            (
                72,
                [3, 1, 0, 0, 0, 0],
                1,
                "fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)",
            ),
            (
                72,
                [3, 4, 0o4000, 0, 0, 0],
                0,
                "fcntl(3, F_SETFL, O_RDONLY|O_NONBLOCK) = 0",
            ),
            (
                72,
                [3, 1030, 10, 0, 0, 0],
                11,
                "fcntl(3, F_DUPFD_CLOEXEC, 10) = 11",
            ),
            // accept4's flags, socket's type flags and protocol.
            (
                288,
                [5, 0, 0, 0o2000000, 0, 0],
                -11,
                "accept4(5, NULL, NULL, SOCK_CLOEXEC) = -1 EAGAIN (Resource temporarily unavailable)",
            ),
            (
                41,
                [2, 1 | 0o2000000 | 0o4000, 0, 0, 0, 0],
                5,
                "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 5",
            ),
            // epoll operations.
            (
                233,
                [8, 2, 3, 0, 0, 0],
                0,
                "epoll_ctl(8, EPOLL_CTL_DEL, 3, NULL) = 0",
            ),
            (
                291,
                [0o2000000, 0, 0, 0, 0, 0],
                8,
                "epoll_create1(EPOLL_CLOEXEC) = 8",
            ),
            // mmap with all six arguments, its address in hex.
            (
                9,
                [0, 8192, 3, 0x22, u64::MAX, 0],
                0x7f05_8751_c000,
                "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f058751c000",
            ),
            (
                10,
                [0x7f05_8751_c000, 4096, 0, 0, 0, 0],
                0,
                "mprotect(0x7f058751c000, 4096, PROT_NONE) = 0",
            ),
            (
                8,
                [3, 0, 2, 0, 0, 0],
                -29,
                "lseek(3, 0, SEEK_END) = -1 ESPIPE (Illegal seek)",
            ),
            (62, [42, 15, 0, 0, 0, 0], 0, "kill(42, SIGTERM) = 0"),
            (39, [0; 6], 42, "getpid() = 42"),
        ]);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn fds_and_results_are_decimal_and_only_addresses_are_hex() {
        lines_are(&[
            // An fd above 0xffff is still a number, as the calls that take one.
            (
                257,
                [AT_FDCWD, 0, 0, 0, 0, 0],
                70000,
                "openat(AT_FDCWD, NULL, O_RDONLY) = 70000",
            ),
            (
                232,
                [300, 0x1000, 4, 0, 0, 0],
                0,
                "epoll_wait(300, 0x1000, 4, 0) = 0",
            ),
            (5, [123, 0x1000, 0, 0, 0, 0], 0, "fstat(123, 0x1000) = 0"),
            (33, [4, 100, 0, 0, 0, 0], 100, "dup2(4, 100) = 100"),
            (12, [0; 6], 0x5555_0000, "brk(NULL) = 0x55550000"),
            // An open without O_CREAT has no mode, O_DIRECTORY included.
            (
                257,
                [AT_FDCWD, 0, 0o200000 | 0o400000, 0, 0, 0],
                -2,
                "openat(AT_FDCWD, NULL, O_RDONLY|O_NOFOLLOW|O_DIRECTORY) = -1 ENOENT (No such file or directory)",
            ),
            (
                257,
                [AT_FDCWD, 0, 0o20200002, 0o600, 0, 0],
                3,
                "openat(AT_FDCWD, NULL, O_RDWR|O_TMPFILE, 0600) = 3",
            ),
            (
                2,
                [0, 0o101, 0, 0, 0, 0],
                3,
                "open(NULL, O_WRONLY|O_CREAT, 000) = 3",
            ),
        ]);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn structures_in_memory_read_as_strace_shows_them() {
        // epoll_ctl's event, packed: 4 bytes of events, 8 of data.
        let mut ev = (0x8000_0005u32).to_ne_bytes().to_vec();
        ev.extend_from_slice(&3u64.to_ne_bytes());
        let mem = Bytes(0x2000, ev);
        let e = decode(1, &call(233, [8, 3, 3, 0x2000, 0, 0], 0), &mem);
        assert_eq!(
            e.line(),
            "epoll_ctl(8, EPOLL_CTL_MOD, 3, {events=EPOLLIN|EPOLLOUT|EPOLLET, data={u32=3, u64=3}}) = 0"
        );
        // pipe2's fds, setsockopt's int value, FIONREAD's result.
        let mem = Bytes(0x3000, [3i32.to_ne_bytes(), 4i32.to_ne_bytes()].concat());
        assert_eq!(
            decode(1, &call(293, [0x3000, 0, 0, 0, 0, 0], 0), &mem).line(),
            "pipe2([3, 4], 0) = 0"
        );
        assert_eq!(
            decode(1, &call(54, [5, 1, 2, 0x3000, 4, 0], 0), &mem).line(),
            "setsockopt(5, SOL_SOCKET, SO_REUSEADDR, [3], 4) = 0"
        );
        assert_eq!(
            decode(1, &call(16, [3, 0x541b, 0x3000, 0, 0, 0], 0), &mem).line(),
            "ioctl(3, FIONREAD, [3]) = 0"
        );
        assert_eq!(
            decode(1, &call(16, [3, 0x541b, 0x3000, 0, 0, 0], -25), &mem).args[2],
            "0x3000"
        );
        // mknod's file type and device.
        let mem = Bytes(0x1000, b"/tmp/null\0".to_vec());
        assert_eq!(
            decode(
                1,
                &call(259, [u64::MAX - 99, 0x1000, 0o20600, 0x103, 0, 0], -1),
                &mem
            )
            .line(),
            "mknodat(AT_FDCWD, \"/tmp/null\", S_IFCHR|0600, makedev(0x1, 0x3)) = -1 EPERM (Operation not permitted)"
        );
    }
}
