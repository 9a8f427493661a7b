//! Turning a system call read from a tracee's registers into what a person
//! reads: its name, its arguments (paths as strings, open flags by name,
//! socket addresses as `ip:port`) and the errno by name.
//!
//! Everything here reads hostile input (the tracee's memory and registers):
//! strings are bounded, unknown numbers are printed as numbers, and text is
//! escaped before it can reach a terminal.

use serde::Serialize;

use crate::escape;

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
    Int,
    Fd,
    /// A directory fd of an `*at` call: `AT_FDCWD` or a number.
    DirFd,
    /// A path the call accesses (the one `why` is pointed at).
    Path,
    /// Any other string (a symlink's content, an xattr name).
    Str,
    OpenFlags,
    Mode,
    AccessMode,
    AtFlags,
    /// A socket address whose length is the argument at this index.
    Addr(usize),
    Domain,
    SockType,
    Hex,
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

/// The arguments of the calls worth decoding; everything else shows its
/// first three registers in hex.
fn signature(name: &str) -> (&'static [Arg], Need) {
    match name {
        "open" => (&[Path, OpenFlags, Mode], Need::Open),
        "openat" => (&[DirFd, Path, OpenFlags, Mode], Need::Open),
        "openat2" => (&[DirFd, Path, Hex, Int], Need::Read),
        "creat" => (&[Path, Mode], Need::Write),
        "access" => (&[Path, AccessMode], Need::Access),
        "faccessat" | "faccessat2" => (&[DirFd, Path, AccessMode, AtFlags], Need::Access),
        "stat" | "lstat" | "statfs" => (&[Path, Hex], Need::Any),
        "newfstatat" => (&[DirFd, Path, Hex, AtFlags], Need::Any),
        "statx" => (&[DirFd, Path, AtFlags, Hex, Hex], Need::Any),
        "readlink" => (&[Path, Hex, Int], Need::Any),
        "readlinkat" => (&[DirFd, Path, Hex, Int], Need::Any),
        "execve" => (&[Path, Hex, Hex], Need::Exec),
        "execveat" => (&[DirFd, Path, Hex, Hex, AtFlags], Need::Exec),
        "mkdir" => (&[Path, Mode], Need::Write),
        "mkdirat" => (&[DirFd, Path, Mode], Need::Write),
        "rmdir" | "unlink" => (&[Path], Need::Write),
        "unlinkat" => (&[DirFd, Path, AtFlags], Need::Write),
        "rename" | "link" => (&[Path, Path], Need::Write),
        "renameat" => (&[DirFd, Path, DirFd, Path], Need::Write),
        "renameat2" => (&[DirFd, Path, DirFd, Path, Hex], Need::Write),
        "linkat" => (&[DirFd, Path, DirFd, Path, AtFlags], Need::Write),
        "symlink" => (&[Str, Path], Need::Write),
        "symlinkat" => (&[Str, DirFd, Path], Need::Write),
        "chmod" => (&[Path, Mode], Need::Any),
        "fchmodat" => (&[DirFd, Path, Mode], Need::Any),
        "chown" | "lchown" => (&[Path, Int, Int], Need::Any),
        "fchownat" => (&[DirFd, Path, Int, Int, AtFlags], Need::Any),
        "truncate" => (&[Path, Int], Need::Write),
        "chdir" => (&[Path], Need::Exec),
        "chroot" | "acct" => (&[Path], Need::Any),
        "mknod" => (&[Path, Mode, Hex], Need::Write),
        "mknodat" => (&[DirFd, Path, Mode, Hex], Need::Write),
        "utimensat" => (&[DirFd, Path, Hex, AtFlags], Need::Write),
        "utime" | "utimes" => (&[Path, Hex], Need::Write),
        "getxattr" | "lgetxattr" => (&[Path, Str, Hex, Int], Need::Any),
        "setxattr" | "lsetxattr" => (&[Path, Str, Hex, Int, Hex], Need::Any),
        "listxattr" | "llistxattr" => (&[Path, Hex, Int], Need::Any),
        "removexattr" | "lremovexattr" => (&[Path, Str], Need::Any),
        "inotify_add_watch" => (&[Fd, Path, Hex], Need::Read),
        "mount" => (&[Str, Path, Str, Hex, Hex], Need::Any),
        "umount2" => (&[Path, Hex], Need::Any),
        "connect" | "bind" => (&[Fd, Addr(2), Int], Need::Any),
        "sendto" => (&[Fd, Hex, Int, Hex, Addr(5), Int], Need::Any),
        "socket" => (&[Domain, SockType, Int], Need::Any),
        "listen" => (&[Fd, Int], Need::Any),
        "accept" => (&[Fd, Hex, Hex], Need::Any),
        "accept4" => (&[Fd, Hex, Hex, Hex], Need::Any),
        "read" | "write" | "getdents64" => (&[Fd, Hex, Int], Need::Any),
        "pread64" | "pwrite64" => (&[Fd, Hex, Int, Int], Need::Any),
        "recvfrom" => (&[Fd, Hex, Int, Hex, Hex, Hex], Need::Any),
        "recvmsg" | "sendmsg" => (&[Fd, Hex, Hex], Need::Any),
        "close" | "fchdir" | "fsync" | "fdatasync" | "dup" => (&[Fd], Need::Any),
        "dup2" => (&[Fd, Fd], Need::Any),
        "dup3" => (&[Fd, Fd, Hex], Need::Any),
        "fstat" => (&[Fd, Hex], Need::Any),
        "fchmod" => (&[Fd, Mode], Need::Any),
        "fchown" => (&[Fd, Int, Int], Need::Any),
        "ftruncate" | "shutdown" => (&[Fd, Int], Need::Any),
        "lseek" => (&[Fd, Int, Int], Need::Any),
        "ioctl" => (&[Fd, Hex, Hex], Need::Any),
        "fcntl" => (&[Fd, Int, Hex], Need::Any),
        "setsockopt" | "getsockopt" => (&[Fd, Int, Int, Hex, Hex], Need::Any),
        "epoll_ctl" => (&[Fd, Int, Fd, Hex], Need::Any),
        "kill" => (&[Int, Int], Need::Any),
        "tgkill" => (&[Int, Int, Int], Need::Any),
        "exit" | "exit_group" | "setuid" | "setgid" | "close_range" => (&[Int], Need::Any),
        _ => (&[Hex, Hex, Hex], Need::Any),
    }
}

/// One decoded system call. The same struct is a line of text and, with
/// `--json`, one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// What the errno means (Permission denied).
    pub error: Option<String>,
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
}

impl Event {
    pub fn failed(&self) -> bool {
        self.errno.is_some()
    }

    /// `openat(AT_FDCWD, "/x", O_RDONLY) = -1 EACCES (Permission denied)`.
    pub fn line(&self) -> String {
        let result = match (&self.errno, &self.error) {
            (Some(name), Some(text)) => format!("-1 {name} ({text})"),
            (Some(name), None) => format!("-1 {name}"),
            _ if self.result > 0xffff => format!("{:#x}", self.result),
            _ => self.result.to_string(),
        };
        format!("{}({}) = {result}", self.syscall, self.args.join(", "))
    }
}

/// The system call's name, or `syscall_N` for a number the table lacks.
pub fn name(nr: u64) -> String {
    super::arch::NAMES
        .get(nr as usize)
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("syscall_{nr}"), |n| (*n).to_string())
}

/// The errno's symbolic name (`EACCES`), including the kernel's internal
/// restart codes a tracer sees at a syscall exit.
pub fn errno_name(errno: i32) -> String {
    match errno {
        512 => "ERESTARTSYS".into(),
        513 => "ERESTARTNOINTR".into(),
        514 => "ERESTARTNOHAND".into(),
        516 => "ERESTART_RESTARTBLOCK".into(),
        _ => match nix::errno::Errno::from_raw(errno) {
            nix::errno::Errno::UnknownErrno => format!("E{errno}"),
            e => format!("{e:?}"),
        },
    }
}

/// What the errno means, as strerror says it.
pub fn errno_text(errno: i32) -> Option<String> {
    match errno {
        512..=516 => Some("interrupted by a signal; the call is restarted".into()),
        _ => match nix::errno::Errno::from_raw(errno) {
            nix::errno::Errno::UnknownErrno => None,
            e => Some(e.desc().to_string()),
        },
    }
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

/// `O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC`.
pub fn open_flags(flags: u64) -> String {
    let flags = flags as u32 as i32;
    let mut parts = vec![match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY".to_string(),
        libc::O_WRONLY => "O_WRONLY".to_string(),
        libc::O_RDWR => "O_RDWR".to_string(),
        other => format!("{other:#o}"),
    }];
    let known: [(i32, &str); 17] = [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        // O_SYNC includes O_DSYNC's bit: test it first.
        (libc::O_SYNC, "O_SYNC"),
        (libc::O_DSYNC, "O_DSYNC"),
        (libc::O_ASYNC, "O_ASYNC"),
        (libc::O_DIRECT, "O_DIRECT"),
        (libc::O_LARGEFILE, "O_LARGEFILE"),
        // O_TMPFILE includes O_DIRECTORY's bit: test it first.
        (libc::O_TMPFILE, "O_TMPFILE"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
        (libc::O_NOFOLLOW, "O_NOFOLLOW"),
        (libc::O_NOATIME, "O_NOATIME"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_PATH, "O_PATH"),
    ];
    let mut rest = flags & !libc::O_ACCMODE;
    for (bit, name) in known {
        if rest & bit == bit && bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#o}"));
    }
    parts.join("|")
}

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

/// `R_OK|W_OK`, or `F_OK`.
pub fn access_mode(mode: u64) -> String {
    let mut parts = Vec::new();
    for (bit, name) in [(4, "R_OK"), (2, "W_OK"), (1, "X_OK")] {
        if mode & bit != 0 {
            parts.push(name.to_string());
        }
    }
    let rest = mode & !7;
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "F_OK".into()
    } else {
        parts.join("|")
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

fn at_flags(flags: u64) -> String {
    let known = [
        (0x100, "AT_SYMLINK_NOFOLLOW"),
        (0x200, "AT_REMOVEDIR"),
        (0x400, "AT_SYMLINK_FOLLOW"),
        (0x800, "AT_NO_AUTOMOUNT"),
        (0x1000, "AT_EMPTY_PATH"),
    ];
    let mut parts = Vec::new();
    let mut rest = flags;
    for (bit, name) in known {
        if rest & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(hex(rest));
    }
    parts.join("|")
}

fn hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn domain(d: u64) -> String {
    match d as i32 {
        libc::AF_UNIX => "AF_UNIX".into(),
        libc::AF_INET => "AF_INET".into(),
        libc::AF_INET6 => "AF_INET6".into(),
        libc::AF_NETLINK => "AF_NETLINK".into(),
        libc::AF_PACKET => "AF_PACKET".into(),
        other => other.to_string(),
    }
}

fn sock_type(t: u64) -> String {
    let t = t as i32;
    let mut parts = vec![match t & 0xf {
        libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
        libc::SOCK_DGRAM => "SOCK_DGRAM".to_string(),
        libc::SOCK_RAW => "SOCK_RAW".to_string(),
        libc::SOCK_SEQPACKET => "SOCK_SEQPACKET".to_string(),
        other => other.to_string(),
    }];
    if t & libc::SOCK_NONBLOCK != 0 {
        parts.push("SOCK_NONBLOCK".into());
    }
    if t & libc::SOCK_CLOEXEC != 0 {
        parts.push("SOCK_CLOEXEC".into());
    }
    parts.join("|")
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

fn quoted(bytes: &[u8], cut: bool) -> String {
    format!(
        "\"{}\"{}",
        escape::field(bytes).replace('"', "\\\""),
        if cut { "..." } else { "" }
    )
}

/// Decode a call of process `pid` read from its registers at the exit stop.
pub fn decode(pid: i32, call: &Call, mem: &impl Memory) -> Event {
    let syscall = name(call.nr);
    let (sig, need) = signature(&syscall);
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
        need: None,
        has_path: false,
        dirfd: None,
        absolute: None,
    };
    for (i, kind) in sig.iter().enumerate() {
        let v = call.args[i];
        let shown = match *kind {
            Int => (v as i64).to_string(),
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
            Path | Str => match mem.string(v) {
                Some((bytes, cut)) => {
                    if *kind == Path && event.path.is_none() {
                        event.path = Some(String::from_utf8_lossy(&bytes).into_owned());
                        event.has_path = true;
                    }
                    quoted(&bytes, cut)
                }
                None if v == 0 => "NULL".into(),
                None => hex(v),
            },
            OpenFlags => {
                let f = open_flags(v);
                event.flags = Some(f.clone());
                event.need = open_need(v);
                f
            }
            Mode => format!("0{:o}", v & 0o7777),
            AccessMode => {
                event.need = access_need(v);
                access_mode(v)
            }
            AtFlags => at_flags(v),
            Addr(len_at) => {
                let len = (call.args[len_at] as usize).min(MAX_SOCKADDR);
                match mem.read(v, len) {
                    Some(bytes) if v != 0 => {
                        let a = sockaddr(&bytes);
                        event.address = Some(a.clone());
                        a
                    }
                    _ if v == 0 => "NULL".into(),
                    _ => hex(v),
                }
            }
            Domain => domain(v),
            SockType => sock_type(v),
            Hex => hex(v),
        };
        event.args.push(shown);
    }
    // The mode of an open means something only when it creates a file.
    if matches!(event.syscall.as_str(), "open" | "openat")
        && call.args[if event.syscall == "open" { 1 } else { 2 }] as i32
            & (libc::O_CREAT | libc::O_TMPFILE)
            == 0
    {
        event.args.pop();
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
            "O_RDONLY|O_DIRECTORY|0o100000000"
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
}
