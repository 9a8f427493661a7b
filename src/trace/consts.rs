//! The named constants of the common system calls, as strace names them
//! (same names, same order of flags), so that a trace reads like the tool
//! people know: `prctl(PR_CAPBSET_READ, CAP_NET_RAW)`, `ioctl(0,
//! TIOCGWINSZ, ...)`, `accept4(3, NULL, NULL, SOCK_CLOEXEC)`,
//! `mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`.
//!
//! Values come from the `libc` crate where it has them for this
//! architecture, else from the kernel's uapi headers for x86_64 (the only
//! architecture `trace` decodes so far). A value no table knows is printed
//! as a number, never guessed.

/// A value and its name.
pub type Table = &'static [(u64, &'static str)];

/// The name of `v` in `table`.
pub fn named(v: u64, table: Table) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == v).map(|(_, name)| *name)
}

/// The name of `v`, or `v` in decimal.
pub fn named_or_decimal(v: u64, table: Table) -> String {
    named(v, table).map_or_else(|| (v as i64).to_string(), str::to_string)
}

/// The name of `v`, or `v` in hex.
pub fn named_or_hex(v: u64, table: Table) -> String {
    named(v, table).map_or_else(|| hex(v), str::to_string)
}

/// `v` in hex (`0x1f`), `0` for zero.
pub fn hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// The bits of `v` named in table order (a multi-bit entry matches only
/// when all its bits are set), what is left in hex, `0` when nothing is set.
pub fn bits(v: u64, table: Table) -> String {
    let mut parts = Vec::new();
    let mut rest = v;
    for (bit, name) in table {
        if *bit != 0 && rest & bit == *bit {
            parts.push((*name).to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(hex(rest));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

const fn u(v: i64) -> u64 {
    v as u64
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// `O_LARGEFILE` as the kernel sets it on x86_64 (the libc constant is 0
/// there: 64-bit programs never need to ask for it).
const O_LARGEFILE: u64 = if cfg!(target_arch = "x86_64") {
    0o100000
} else {
    libc::O_LARGEFILE as u64
};

/// strace's order: O_SYNC before O_DSYNC (whose bit it includes), O_TMPFILE
/// before O_DIRECTORY (same), O_ASYNC by its old name FASYNC, last.
pub const OPEN_FLAGS: Table = &[
    (u(libc::O_CREAT as i64), "O_CREAT"),
    (u(libc::O_EXCL as i64), "O_EXCL"),
    (u(libc::O_NOCTTY as i64), "O_NOCTTY"),
    (u(libc::O_TRUNC as i64), "O_TRUNC"),
    (u(libc::O_APPEND as i64), "O_APPEND"),
    (u(libc::O_NONBLOCK as i64), "O_NONBLOCK"),
    (u(libc::O_SYNC as i64), "O_SYNC"),
    (u((libc::O_SYNC & !libc::O_DSYNC) as i64), "__O_SYNC"),
    (u(libc::O_DSYNC as i64), "O_DSYNC"),
    (u(libc::O_DIRECT as i64), "O_DIRECT"),
    (O_LARGEFILE, "O_LARGEFILE"),
    (u(libc::O_NOFOLLOW as i64), "O_NOFOLLOW"),
    (u(libc::O_NOATIME as i64), "O_NOATIME"),
    (u(libc::O_CLOEXEC as i64), "O_CLOEXEC"),
    (u(libc::O_PATH as i64), "O_PATH"),
    (u(libc::O_TMPFILE as i64), "O_TMPFILE"),
    (
        u((libc::O_TMPFILE & !libc::O_DIRECTORY) as i64),
        "__O_TMPFILE",
    ),
    (u(libc::O_DIRECTORY as i64), "O_DIRECTORY"),
    (u(libc::O_ASYNC as i64), "FASYNC"),
];

/// `O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC`: the access mode first, then the
/// flags in strace's order.
pub fn open_flags(flags: u64) -> String {
    let flags = flags & 0xffff_ffff;
    let mode = match flags & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flags & !(libc::O_ACCMODE as u64);
    if rest == 0 {
        mode.to_string()
    } else {
        format!("{mode}|{}", bits(rest, OPEN_FLAGS))
    }
}

pub const AT_FLAGS: Table = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
];

/// `R_OK|W_OK`, or `F_OK`.
pub fn access_mode(mode: u64) -> String {
    if mode == 0 {
        return "F_OK".into();
    }
    bits(mode, &[(4, "R_OK"), (2, "W_OK"), (1, "X_OK")])
}

pub const FD_FLAGS: Table = &[(libc::FD_CLOEXEC as u64, "FD_CLOEXEC")];

pub const FILE_TYPES: Table = &[
    (libc::S_IFREG as u64, "S_IFREG"),
    (libc::S_IFCHR as u64, "S_IFCHR"),
    (libc::S_IFBLK as u64, "S_IFBLK"),
    (libc::S_IFIFO as u64, "S_IFIFO"),
    (libc::S_IFSOCK as u64, "S_IFSOCK"),
    (libc::S_IFDIR as u64, "S_IFDIR"),
    (libc::S_IFLNK as u64, "S_IFLNK"),
];

/// A mode with its file type, as mknod takes it: `S_IFCHR|0600`.
pub fn node_mode(mode: u64) -> String {
    let kind = mode & libc::S_IFMT as u64;
    let perm = format!("0{:o}", mode & 0o7777);
    match named(kind, FILE_TYPES) {
        Some(name) => format!("{name}|{perm}"),
        None if kind == 0 => perm,
        None => format!("{:#o}", mode),
    }
}

/// A device number as strace shows it: `makedev(0x1, 0x3)`.
pub fn device(dev: u64) -> String {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    format!("makedev({major:#x}, {minor:#x})")
}

pub const SEEK: Table = &[
    (0, "SEEK_SET"),
    (1, "SEEK_CUR"),
    (2, "SEEK_END"),
    (3, "SEEK_DATA"),
    (4, "SEEK_HOLE"),
];

pub const FLOCK: Table = &[
    (1, "LOCK_SH"),
    (2, "LOCK_EX"),
    (4, "LOCK_NB"),
    (8, "LOCK_UN"),
];

pub const FCNTL: Table = &[
    (libc::F_DUPFD as u64, "F_DUPFD"),
    (libc::F_GETFD as u64, "F_GETFD"),
    (libc::F_SETFD as u64, "F_SETFD"),
    (libc::F_GETFL as u64, "F_GETFL"),
    (libc::F_SETFL as u64, "F_SETFL"),
    (libc::F_GETLK as u64, "F_GETLK"),
    (libc::F_SETLK as u64, "F_SETLK"),
    (libc::F_SETLKW as u64, "F_SETLKW"),
    (libc::F_SETOWN as u64, "F_SETOWN"),
    (libc::F_GETOWN as u64, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (17, "F_GETOWNER_UIDS"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1029, "F_CANCELLK"),
    (libc::F_DUPFD_CLOEXEC as u64, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
];

pub const LEASE: Table = &[(0, "F_RDLCK"), (1, "F_WRLCK"), (2, "F_UNLCK")];

pub const SEALS: Table = &[
    (1, "F_SEAL_SEAL"),
    (2, "F_SEAL_SHRINK"),
    (4, "F_SEAL_GROW"),
    (8, "F_SEAL_WRITE"),
    (0x10, "F_SEAL_FUTURE_WRITE"),
    (0x20, "F_SEAL_EXEC"),
];

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

pub const PROT: Table = &[
    (1, "PROT_READ"),
    (2, "PROT_WRITE"),
    (4, "PROT_EXEC"),
    (0x0100_0000, "PROT_GROWSDOWN"),
    (0x0200_0000, "PROT_GROWSUP"),
];

/// `PROT_READ|PROT_WRITE`, `PROT_NONE`.
pub fn prot(v: u64) -> String {
    if v == 0 {
        "PROT_NONE".into()
    } else {
        bits(v, PROT)
    }
}

/// x86_64's mmap flags after the mapping type, in strace's order.
const MAP_FLAGS: Table = &[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x80, "MAP_ABOVE4G"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x0400_0000, "MAP_UNINITIALIZED"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
];

/// `MAP_PRIVATE|MAP_ANONYMOUS`: the mapping type (the low four bits),
/// then the flags, then a huge page size (`21<<MAP_HUGE_SHIFT`).
pub fn map_flags(v: u64) -> String {
    const HUGETLB: u64 = 0x40000;
    const HUGE_SHIFT: u64 = 26;
    let v = v & 0xffff_ffff;
    let mut parts = Vec::new();
    match v & 0xf {
        0 => {}
        1 => parts.push("MAP_SHARED".to_string()),
        2 => parts.push("MAP_PRIVATE".to_string()),
        3 => parts.push("MAP_SHARED_VALIDATE".to_string()),
        8 => parts.push("MAP_DROPPABLE".to_string()),
        other => parts.push(hex(other)),
    }
    let mut rest = v & !0xf;
    let huge = if rest & HUGETLB != 0 {
        let size = rest >> HUGE_SHIFT & 0x3f;
        rest &= !(0x3f << HUGE_SHIFT);
        size
    } else {
        0
    };
    if rest != 0 {
        parts.push(bits(rest, MAP_FLAGS));
    }
    if huge != 0 {
        parts.push(format!("{huge}<<MAP_HUGE_SHIFT"));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

pub const MLOCKALL: Table = &[(1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT")];

// ---------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------

pub const ADDRESS_FAMILIES: Table = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (7, "AF_BRIDGE"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (21, "AF_RDS"),
    (28, "AF_MPLS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
    (45, "AF_MCTP"),
];

const SOCK_TYPES: Table = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// The flags socket(2) and accept4(2) take.
pub const SOCK_FLAGS: Table = &[
    (libc::SOCK_CLOEXEC as u64, "SOCK_CLOEXEC"),
    (libc::SOCK_NONBLOCK as u64, "SOCK_NONBLOCK"),
];

/// `SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK`.
pub fn sock_type(t: u64) -> String {
    let t = t & 0xffff_ffff;
    let kind = named_or_decimal(t & 0xf, SOCK_TYPES);
    let rest = t & !0xf;
    if rest == 0 {
        kind
    } else {
        format!("{kind}|{}", bits(rest, SOCK_FLAGS))
    }
}

const INET_PROTOCOLS: Table = &[
    (0, "IPPROTO_IP"),
    (1, "IPPROTO_ICMP"),
    (2, "IPPROTO_IGMP"),
    (4, "IPPROTO_IPIP"),
    (6, "IPPROTO_TCP"),
    (17, "IPPROTO_UDP"),
    (41, "IPPROTO_IPV6"),
    (47, "IPPROTO_GRE"),
    (50, "IPPROTO_ESP"),
    (51, "IPPROTO_AH"),
    (58, "IPPROTO_ICMPV6"),
    (132, "IPPROTO_SCTP"),
    (136, "IPPROTO_UDPLITE"),
    (255, "IPPROTO_RAW"),
    (262, "IPPROTO_MPTCP"),
];

const NETLINK_PROTOCOLS: Table = &[
    (0, "NETLINK_ROUTE"),
    (2, "NETLINK_USERSOCK"),
    (4, "NETLINK_SOCK_DIAG"),
    (6, "NETLINK_XFRM"),
    (7, "NETLINK_SELINUX"),
    (9, "NETLINK_AUDIT"),
    (11, "NETLINK_CONNECTOR"),
    (12, "NETLINK_NETFILTER"),
    (15, "NETLINK_KOBJECT_UEVENT"),
    (16, "NETLINK_GENERIC"),
    (21, "NETLINK_CRYPTO"),
];

/// A socket's protocol, named as its family's: `IPPROTO_TCP`,
/// `NETLINK_ROUTE`; a number otherwise (`0` for AF_UNIX).
pub fn protocol(family: u64, proto: u64) -> String {
    match family {
        2 | 10 => named_or_decimal(proto, INET_PROTOCOLS),
        16 => named_or_decimal(proto, NETLINK_PROTOCOLS),
        _ => (proto as i32).to_string(),
    }
}

pub const SOCKET_LEVELS: Table = &[
    (0, "SOL_IP"),
    (1, "SOL_SOCKET"),
    (6, "SOL_TCP"),
    (17, "SOL_UDP"),
    (41, "SOL_IPV6"),
    (58, "SOL_ICMPV6"),
    (255, "SOL_RAW"),
    (263, "SOL_PACKET"),
    (270, "SOL_NETLINK"),
    (282, "SOL_TLS"),
];

const SOL_SOCKET_OPTIONS: Table = &[
    (1, "SO_DEBUG"),
    (2, "SO_REUSEADDR"),
    (3, "SO_TYPE"),
    (4, "SO_ERROR"),
    (5, "SO_DONTROUTE"),
    (6, "SO_BROADCAST"),
    (7, "SO_SNDBUF"),
    (8, "SO_RCVBUF"),
    (9, "SO_KEEPALIVE"),
    (10, "SO_OOBINLINE"),
    (11, "SO_NO_CHECK"),
    (12, "SO_PRIORITY"),
    (13, "SO_LINGER"),
    (14, "SO_BSDCOMPAT"),
    (15, "SO_REUSEPORT"),
    (16, "SO_PASSCRED"),
    (17, "SO_PEERCRED"),
    (18, "SO_RCVLOWAT"),
    (19, "SO_SNDLOWAT"),
    (20, "SO_RCVTIMEO_OLD"),
    (21, "SO_SNDTIMEO_OLD"),
    (25, "SO_BINDTODEVICE"),
    (26, "SO_ATTACH_FILTER"),
    (28, "SO_PEERNAME"),
    (29, "SO_TIMESTAMP_OLD"),
    (30, "SO_ACCEPTCONN"),
    (31, "SO_PEERSEC"),
    (32, "SO_SNDBUFFORCE"),
    (33, "SO_RCVBUFFORCE"),
    (34, "SO_PASSSEC"),
    (36, "SO_MARK"),
    (38, "SO_PROTOCOL"),
    (39, "SO_DOMAIN"),
    (49, "SO_INCOMING_CPU"),
    (50, "SO_ATTACH_BPF"),
    (57, "SO_COOKIE"),
    (59, "SO_PEERGROUPS"),
    (60, "SO_ZEROCOPY"),
    (62, "SO_BINDTOIFINDEX"),
    (66, "SO_RCVTIMEO_NEW"),
    (67, "SO_SNDTIMEO_NEW"),
];

const TCP_OPTIONS: Table = &[
    (1, "TCP_NODELAY"),
    (2, "TCP_MAXSEG"),
    (3, "TCP_CORK"),
    (4, "TCP_KEEPIDLE"),
    (5, "TCP_KEEPINTVL"),
    (6, "TCP_KEEPCNT"),
    (7, "TCP_SYNCNT"),
    (8, "TCP_LINGER2"),
    (9, "TCP_DEFER_ACCEPT"),
    (10, "TCP_WINDOW_CLAMP"),
    (11, "TCP_INFO"),
    (12, "TCP_QUICKACK"),
    (13, "TCP_CONGESTION"),
    (18, "TCP_USER_TIMEOUT"),
    (23, "TCP_FASTOPEN"),
    (25, "TCP_NOTSENT_LOWAT"),
    (30, "TCP_FASTOPEN_CONNECT"),
    (31, "TCP_ULP"),
];

const IP_OPTIONS: Table = &[
    (1, "IP_TOS"),
    (2, "IP_TTL"),
    (3, "IP_HDRINCL"),
    (4, "IP_OPTIONS"),
    (8, "IP_PKTINFO"),
    (10, "IP_MTU_DISCOVER"),
    (11, "IP_RECVERR"),
    (15, "IP_FREEBIND"),
    (19, "IP_TRANSPARENT"),
    (24, "IP_BIND_ADDRESS_NO_PORT"),
    (32, "IP_MULTICAST_IF"),
    (33, "IP_MULTICAST_TTL"),
    (34, "IP_MULTICAST_LOOP"),
    (35, "IP_ADD_MEMBERSHIP"),
];

const IPV6_OPTIONS: Table = &[
    (16, "IPV6_UNICAST_HOPS"),
    (17, "IPV6_MULTICAST_IF"),
    (18, "IPV6_MULTICAST_HOPS"),
    (19, "IPV6_MULTICAST_LOOP"),
    (23, "IPV6_MTU_DISCOVER"),
    (25, "IPV6_RECVERR"),
    (26, "IPV6_V6ONLY"),
    (49, "IPV6_RECVPKTINFO"),
    (67, "IPV6_TCLASS"),
    (75, "IPV6_TRANSPARENT"),
    (78, "IPV6_FREEBIND"),
];

/// A socket option, named as its level's.
pub fn socket_option(level: u64, name: u64) -> String {
    let table = match level {
        1 => SOL_SOCKET_OPTIONS,
        6 => TCP_OPTIONS,
        0 => IP_OPTIONS,
        41 => IPV6_OPTIONS,
        _ => return (name as i32).to_string(),
    };
    named_or_decimal(name, table)
}

pub const SHUTDOWN: Table = &[(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")];

pub const MSG_FLAGS: Table = &[
    (0x1, "MSG_OOB"),
    (0x2, "MSG_PEEK"),
    (0x4, "MSG_DONTROUTE"),
    (0x8, "MSG_CTRUNC"),
    (0x10, "MSG_PROXY"),
    (0x20, "MSG_TRUNC"),
    (0x40, "MSG_DONTWAIT"),
    (0x80, "MSG_EOR"),
    (0x100, "MSG_WAITALL"),
    (0x200, "MSG_FIN"),
    (0x400, "MSG_SYN"),
    (0x800, "MSG_CONFIRM"),
    (0x1000, "MSG_RST"),
    (0x2000, "MSG_ERRQUEUE"),
    (0x4000, "MSG_NOSIGNAL"),
    (0x8000, "MSG_MORE"),
    (0x10000, "MSG_WAITFORONE"),
    (0x40000, "MSG_BATCH"),
    (0x0400_0000, "MSG_ZEROCOPY"),
    (0x2000_0000, "MSG_FASTOPEN"),
    (0x4000_0000, "MSG_CMSG_CLOEXEC"),
];

// ---------------------------------------------------------------------------
// epoll
// ---------------------------------------------------------------------------

pub const EPOLL_OPS: Table = &[
    (1, "EPOLL_CTL_ADD"),
    (2, "EPOLL_CTL_DEL"),
    (3, "EPOLL_CTL_MOD"),
];

pub const EPOLL_EVENTS: Table = &[
    (0x1, "EPOLLIN"),
    (0x2, "EPOLLPRI"),
    (0x4, "EPOLLOUT"),
    (0x8, "EPOLLERR"),
    (0x10, "EPOLLHUP"),
    (0x20, "EPOLLNVAL"),
    (0x40, "EPOLLRDNORM"),
    (0x80, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (0x1000_0000, "EPOLLEXCLUSIVE"),
    (0x2000_0000, "EPOLLWAKEUP"),
    (0x4000_0000, "EPOLLONESHOT"),
    (0x8000_0000, "EPOLLET"),
];

pub const EPOLL_FLAGS: Table = &[(libc::EPOLL_CLOEXEC as u64, "EPOLL_CLOEXEC")];

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// A signal by name (`SIGTERM`), `0` and unknown numbers as numbers.
pub fn signal(v: u64) -> String {
    match nix::sys::signal::Signal::try_from(v as i32) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => (v as i32).to_string(),
    }
}

/// A capability by name (`CAP_NET_RAW`).
pub fn capability(v: u64) -> String {
    crate::target::procinfo::CAP_NAMES
        .get(v as usize)
        .map_or_else(|| (v as i64).to_string(), |n| (*n).to_string())
}

pub const RLIMITS: Table = &[
    (0, "RLIMIT_CPU"),
    (1, "RLIMIT_FSIZE"),
    (2, "RLIMIT_DATA"),
    (3, "RLIMIT_STACK"),
    (4, "RLIMIT_CORE"),
    (5, "RLIMIT_RSS"),
    (6, "RLIMIT_NPROC"),
    (7, "RLIMIT_NOFILE"),
    (8, "RLIMIT_MEMLOCK"),
    (9, "RLIMIT_AS"),
    (10, "RLIMIT_LOCKS"),
    (11, "RLIMIT_SIGPENDING"),
    (12, "RLIMIT_MSGQUEUE"),
    (13, "RLIMIT_NICE"),
    (14, "RLIMIT_RTPRIO"),
    (15, "RLIMIT_RTTIME"),
];

pub const PRIO_WHICH: Table = &[(0, "PRIO_PROCESS"), (1, "PRIO_PGRP"), (2, "PRIO_USER")];

pub const CLOCKS: Table = &[
    (0, "CLOCK_REALTIME"),
    (1, "CLOCK_MONOTONIC"),
    (2, "CLOCK_PROCESS_CPUTIME_ID"),
    (3, "CLOCK_THREAD_CPUTIME_ID"),
    (4, "CLOCK_MONOTONIC_RAW"),
    (5, "CLOCK_REALTIME_COARSE"),
    (6, "CLOCK_MONOTONIC_COARSE"),
    (7, "CLOCK_BOOTTIME"),
    (8, "CLOCK_REALTIME_ALARM"),
    (9, "CLOCK_BOOTTIME_ALARM"),
    (11, "CLOCK_TAI"),
];

pub const SIGPROCMASK_HOW: Table = &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")];

pub const WAIT_OPTIONS: Table = &[
    (1, "WNOHANG"),
    (2, "WSTOPPED"),
    (4, "WEXITED"),
    (8, "WCONTINUED"),
    (0x0100_0000, "WNOWAIT"),
    (0x2000_0000, "__WNOTHREAD"),
    (0x4000_0000, "__WALL"),
    (0x8000_0000, "__WCLONE"),
];

pub const GETRANDOM_FLAGS: Table = &[
    (1, "GRND_NONBLOCK"),
    (2, "GRND_RANDOM"),
    (4, "GRND_INSECURE"),
];

pub const MEMFD_FLAGS: Table = &[
    (1, "MFD_CLOEXEC"),
    (2, "MFD_ALLOW_SEALING"),
    (4, "MFD_HUGETLB"),
    (8, "MFD_NOEXEC_SEAL"),
    (0x10, "MFD_EXEC"),
];

// ---------------------------------------------------------------------------
// prctl
// ---------------------------------------------------------------------------

pub const PRCTL_OPTIONS: Table = &[
    (libc::PR_SET_PDEATHSIG as u64, "PR_SET_PDEATHSIG"),
    (libc::PR_GET_PDEATHSIG as u64, "PR_GET_PDEATHSIG"),
    (libc::PR_GET_DUMPABLE as u64, "PR_GET_DUMPABLE"),
    (libc::PR_SET_DUMPABLE as u64, "PR_SET_DUMPABLE"),
    (libc::PR_GET_KEEPCAPS as u64, "PR_GET_KEEPCAPS"),
    (libc::PR_SET_KEEPCAPS as u64, "PR_SET_KEEPCAPS"),
    (libc::PR_GET_TIMING as u64, "PR_GET_TIMING"),
    (libc::PR_SET_TIMING as u64, "PR_SET_TIMING"),
    (libc::PR_SET_NAME as u64, "PR_SET_NAME"),
    (libc::PR_GET_NAME as u64, "PR_GET_NAME"),
    (libc::PR_GET_SECCOMP as u64, "PR_GET_SECCOMP"),
    (libc::PR_SET_SECCOMP as u64, "PR_SET_SECCOMP"),
    (libc::PR_CAPBSET_READ as u64, "PR_CAPBSET_READ"),
    (libc::PR_CAPBSET_DROP as u64, "PR_CAPBSET_DROP"),
    (libc::PR_GET_TSC as u64, "PR_GET_TSC"),
    (libc::PR_SET_TSC as u64, "PR_SET_TSC"),
    (libc::PR_GET_SECUREBITS as u64, "PR_GET_SECUREBITS"),
    (libc::PR_SET_SECUREBITS as u64, "PR_SET_SECUREBITS"),
    (libc::PR_SET_TIMERSLACK as u64, "PR_SET_TIMERSLACK"),
    (libc::PR_GET_TIMERSLACK as u64, "PR_GET_TIMERSLACK"),
    (
        libc::PR_TASK_PERF_EVENTS_DISABLE as u64,
        "PR_TASK_PERF_EVENTS_DISABLE",
    ),
    (
        libc::PR_TASK_PERF_EVENTS_ENABLE as u64,
        "PR_TASK_PERF_EVENTS_ENABLE",
    ),
    (libc::PR_MCE_KILL as u64, "PR_MCE_KILL"),
    (libc::PR_MCE_KILL_GET as u64, "PR_MCE_KILL_GET"),
    (libc::PR_SET_MM as u64, "PR_SET_MM"),
    (
        libc::PR_SET_CHILD_SUBREAPER as u64,
        "PR_SET_CHILD_SUBREAPER",
    ),
    (
        libc::PR_GET_CHILD_SUBREAPER as u64,
        "PR_GET_CHILD_SUBREAPER",
    ),
    (libc::PR_SET_NO_NEW_PRIVS as u64, "PR_SET_NO_NEW_PRIVS"),
    (libc::PR_GET_NO_NEW_PRIVS as u64, "PR_GET_NO_NEW_PRIVS"),
    (libc::PR_GET_TID_ADDRESS as u64, "PR_GET_TID_ADDRESS"),
    (libc::PR_SET_THP_DISABLE as u64, "PR_SET_THP_DISABLE"),
    (libc::PR_GET_THP_DISABLE as u64, "PR_GET_THP_DISABLE"),
    (libc::PR_SET_FP_MODE as u64, "PR_SET_FP_MODE"),
    (libc::PR_GET_FP_MODE as u64, "PR_GET_FP_MODE"),
    (libc::PR_CAP_AMBIENT as u64, "PR_CAP_AMBIENT"),
    (52, "PR_GET_SPECULATION_CTRL"),
    (53, "PR_SET_SPECULATION_CTRL"),
    (57, "PR_SET_IO_FLUSHER"),
    (58, "PR_GET_IO_FLUSHER"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (62, "PR_SCHED_CORE"),
    (65, "PR_SET_MDWE"),
    (66, "PR_GET_MDWE"),
    (67, "PR_SET_MEMORY_MERGE"),
    (68, "PR_GET_MEMORY_MERGE"),
    (libc::PR_SET_VMA as u64, "PR_SET_VMA"),
    (libc::PR_SET_PTRACER as u64, "PR_SET_PTRACER"),
];

pub const PR_CAP_AMBIENT_OPS: Table = &[
    (1, "PR_CAP_AMBIENT_IS_SET"),
    (2, "PR_CAP_AMBIENT_RAISE"),
    (3, "PR_CAP_AMBIENT_LOWER"),
    (4, "PR_CAP_AMBIENT_CLEAR_ALL"),
];

pub const SECCOMP_MODES: Table = &[
    (0, "SECCOMP_MODE_DISABLED"),
    (1, "SECCOMP_MODE_STRICT"),
    (2, "SECCOMP_MODE_FILTER"),
];

// ---------------------------------------------------------------------------
// ioctl
// ---------------------------------------------------------------------------

/// The requests programs make most: terminals, non-blocking and
/// close-on-exec toggles, interfaces, file clones.
#[allow(
    clippy::unnecessary_cast,
    reason = "libc's request type is u64 with glibc and i32 with musl"
)]
pub const IOCTLS: Table = &[
    (libc::TCGETS as u64, "TCGETS"),
    (libc::TCSETS as u64, "TCSETS"),
    (libc::TCSETSW as u64, "TCSETSW"),
    (libc::TCSETSF as u64, "TCSETSF"),
    (0x5405, "TCGETA"),
    (0x5406, "TCSETA"),
    (0x5407, "TCSETAW"),
    (0x5408, "TCSETAF"),
    (libc::TCSBRK as u64, "TCSBRK"),
    (0x540A, "TCXONC"),
    (libc::TCFLSH as u64, "TCFLSH"),
    (libc::TIOCEXCL as u64, "TIOCEXCL"),
    (0x540D, "TIOCNXCL"),
    (libc::TIOCSCTTY as u64, "TIOCSCTTY"),
    (libc::TIOCGPGRP as u64, "TIOCGPGRP"),
    (libc::TIOCSPGRP as u64, "TIOCSPGRP"),
    (libc::TIOCOUTQ as u64, "TIOCOUTQ"),
    (libc::TIOCSTI as u64, "TIOCSTI"),
    (libc::TIOCGWINSZ as u64, "TIOCGWINSZ"),
    (libc::TIOCSWINSZ as u64, "TIOCSWINSZ"),
    (0x5415, "TIOCMGET"),
    (0x5416, "TIOCMBIS"),
    (0x5417, "TIOCMBIC"),
    (0x5418, "TIOCMSET"),
    (libc::FIONREAD as u64, "FIONREAD"),
    (0x541C, "TIOCLINUX"),
    (0x541D, "TIOCCONS"),
    (0x5420, "TIOCPKT"),
    (libc::FIONBIO as u64, "FIONBIO"),
    (libc::TIOCNOTTY as u64, "TIOCNOTTY"),
    (0x5423, "TIOCSETD"),
    (0x5424, "TIOCGETD"),
    (0x5425, "TCSBRKP"),
    (0x5427, "TIOCSBRK"),
    (0x5428, "TIOCCBRK"),
    (libc::TIOCGSID as u64, "TIOCGSID"),
    (0x802c_542a, "TCGETS2"),
    (0x402c_542b, "TCSETS2"),
    (0x402c_542c, "TCSETSW2"),
    (0x402c_542d, "TCSETSF2"),
    (libc::TIOCGPTN as u64, "TIOCGPTN"),
    (libc::TIOCSPTLCK as u64, "TIOCSPTLCK"),
    (0x5437, "TIOCVHANGUP"),
    (libc::TIOCGPTPEER as u64, "TIOCGPTPEER"),
    (libc::FIONCLEX as u64, "FIONCLEX"),
    (libc::FIOCLEX as u64, "FIOCLEX"),
    (libc::FIOASYNC as u64, "FIOASYNC"),
    (0x5460, "FIOQSIZE"),
    (0x8901, "FIOSETOWN"),
    (0x8902, "SIOCSPGRP"),
    (0x8903, "FIOGETOWN"),
    (0x8904, "SIOCGPGRP"),
    (0x8905, "SIOCATMARK"),
    (0x8910, "SIOCGIFNAME"),
    (0x8912, "SIOCGIFCONF"),
    (libc::SIOCGIFFLAGS as u64, "SIOCGIFFLAGS"),
    (0x8914, "SIOCSIFFLAGS"),
    (0x8915, "SIOCGIFADDR"),
    (0x8919, "SIOCGIFBRDADDR"),
    (0x891b, "SIOCGIFNETMASK"),
    (0x8921, "SIOCGIFMTU"),
    (0x8927, "SIOCGIFHWADDR"),
    (libc::SIOCGIFINDEX as u64, "SIOCGIFINDEX"),
    (0x8008_6601, "FS_IOC_GETFLAGS"),
    (0x4008_6602, "FS_IOC_SETFLAGS"),
    (0x4004_9409, "FICLONE"),
    (0x4020_940d, "FICLONERANGE"),
    (0x8008_1272, "BLKGETSIZE64"),
    (0x1268, "BLKSSZGET"),
    (0x8004_5200, "RNDGETENTCNT"),
    (0x2, "FIGETBSZ"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_table_order_and_leftovers_stay_numbers() {
        let f = (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC) as u64;
        assert_eq!(open_flags(f), "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC");
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(3), "O_ACCMODE");
        // strace's order: O_NOFOLLOW before O_DIRECTORY, O_SYNC swallows
        // O_DSYNC, O_ASYNC is FASYNC, O_LARGEFILE named on x86_64.
        assert_eq!(
            open_flags((libc::O_DIRECTORY | libc::O_NOFOLLOW) as u64),
            "O_RDONLY|O_NOFOLLOW|O_DIRECTORY"
        );
        assert_eq!(
            open_flags((libc::O_SYNC | libc::O_ASYNC) as u64 | 0o100000),
            "O_RDONLY|O_SYNC|O_LARGEFILE|FASYNC"
        );
        assert_eq!(
            open_flags((libc::O_TMPFILE | libc::O_RDWR) as u64),
            "O_RDWR|O_TMPFILE"
        );
        assert_eq!(open_flags(0o1_0000_0000), "O_RDONLY|0x1000000");
        assert_eq!(bits(0, PROT), "0");
    }

    #[test]
    fn memory_protection_and_mapping_flags_read_as_strace_prints_them() {
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(prot(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot(8), "0x8");
        assert_eq!(map_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(map_flags(0x1), "MAP_SHARED");
        assert_eq!(map_flags(0x812), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE");
        assert_eq!(
            map_flags(0x2 | 0x20 | 0x40000 | (21 << 26)),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT"
        );
    }

    #[test]
    fn socket_types_protocols_and_options_are_named() {
        assert_eq!(
            sock_type(1 | 0o2000000 | 0o4000),
            "SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK"
        );
        assert_eq!(sock_type(2), "SOCK_DGRAM");
        assert_eq!(sock_type(9), "9");
        assert_eq!(sock_type(0x63), "SOCK_RAW|0x60");
        assert_eq!(protocol(2, 0), "IPPROTO_IP");
        assert_eq!(protocol(10, 17), "IPPROTO_UDP");
        assert_eq!(protocol(16, 0), "NETLINK_ROUTE");
        assert_eq!(protocol(1, 0), "0");
        assert_eq!(socket_option(1, 2), "SO_REUSEADDR");
        assert_eq!(socket_option(6, 1), "TCP_NODELAY");
        assert_eq!(socket_option(999, 7), "7");
    }

    #[test]
    fn nodes_devices_signals_and_capabilities_are_named() {
        assert_eq!(node_mode(libc::S_IFCHR as u64 | 0o600), "S_IFCHR|0600");
        assert_eq!(node_mode(0o644), "0644");
        assert_eq!(device(libc::makedev(1, 3)), "makedev(0x1, 0x3)");
        assert_eq!(device(libc::makedev(259, 70000)), "makedev(0x103, 0x11170)");
        assert_eq!(signal(15), "SIGTERM");
        assert_eq!(signal(0), "0");
        assert_eq!(capability(13), "CAP_NET_RAW");
        assert_eq!(capability(200), "200");
        assert_eq!(named_or_hex(0x5413, IOCTLS), "TIOCGWINSZ");
        assert_eq!(named_or_hex(0xdead, IOCTLS), "0xdead");
        assert_eq!(named_or_decimal(23, PRCTL_OPTIONS), "PR_CAPBSET_READ");
    }
}
