//! Parsers for the network files of `/proc`: `/proc/net/{tcp,tcp6,udp,udp6,
//! unix}`, the routing tables, `if_inet6`, and the socket inode → pid map
//! built from `/proc/*/fd`.
//!
//! `/proc/net` is a link to `/proc/self/net`: it lists the sockets of the
//! network namespace of the process that reads it, so the toolbox, once in
//! the target's namespace, sees exactly the target's sockets.
//!
//! Every parser takes the file's bytes so tests feed recorded samples, and
//! skips lines it cannot read instead of failing: a listing shows what it
//! can.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use serde::Serialize;

/// A socket family file of `/proc/net`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
    Unix,
}

impl Proto {
    pub const ALL: [Proto; 5] = [
        Proto::Tcp,
        Proto::Tcp6,
        Proto::Udp,
        Proto::Udp6,
        Proto::Unix,
    ];

    /// The file name under `/proc/net`, and the name shown.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Tcp6 => "tcp6",
            Proto::Udp => "udp",
            Proto::Udp6 => "udp6",
            Proto::Unix => "unix",
        }
    }

    pub fn is_tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Tcp6)
    }

    pub fn is_udp(self) -> bool {
        matches!(self, Proto::Udp | Proto::Udp6)
    }
}

/// Socket states as `ss` names them. TCP uses the kernel's numbering
/// (`include/net/tcp_states.h`); UDP reuses it (1 connected, 7 unconnected);
/// unix sockets are mapped onto the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Unconnected,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
    Unknown(u8),
}

impl State {
    pub fn from_kernel(n: u8) -> State {
        match n {
            1 => State::Established,
            2 => State::SynSent,
            3 => State::SynRecv,
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 => State::Unconnected,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            12 => State::NewSynRecv,
            n => State::Unknown(n),
        }
    }

    pub fn name(self) -> String {
        match self {
            State::Established => "ESTAB".into(),
            State::SynSent => "SYN-SENT".into(),
            State::SynRecv | State::NewSynRecv => "SYN-RECV".into(),
            State::FinWait1 => "FIN-WAIT-1".into(),
            State::FinWait2 => "FIN-WAIT-2".into(),
            State::TimeWait => "TIME-WAIT".into(),
            State::Unconnected => "UNCONN".into(),
            State::CloseWait => "CLOSE-WAIT".into(),
            State::LastAck => "LAST-ACK".into(),
            State::Listen => "LISTEN".into(),
            State::Closing => "CLOSING".into(),
            State::Unknown(n) => format!("UNKNOWN-{n}"),
        }
    }
}

/// One line of `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetSocket {
    pub proto: Proto,
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub state: State,
    pub uid: u32,
    /// 0 for sockets no file refers to any more (TIME-WAIT, orphans).
    pub inode: u64,
}

/// One line of `/proc/net/unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    /// 1 stream, 2 dgram, 5 seqpacket (`SOCK_*`).
    pub kind: u16,
    pub state: State,
    pub inode: u64,
    /// The bound path; abstract names start with '@'; empty if unbound.
    /// Raw bytes: a path may be anything but NUL.
    pub path: Vec<u8>,
}

impl UnixSocket {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            1 => "stream",
            2 => "dgram",
            5 => "seqpacket",
            _ => "?",
        }
    }
}

/// An address as the kernel prints it in `/proc/net/tcp*`: the in-memory
/// (network order) bytes of each 32-bit word, printed as a native-endian
/// `%08X`. Reading the word back natively restores the bytes.
pub fn parse_hex_addr(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(hex)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    Some((parse_hex_addr(addr)?, u16::from_str_radix(port, 16).ok()?))
}

/// Parse `/proc/net/{tcp,tcp6,udp,udp6}`:
/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
pub fn parse_inet(text: &[u8], proto: Proto) -> Vec<InetSocket> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .skip(1)
        .filter_map(|line| parse_inet_line(line, proto))
        .collect()
}

fn parse_inet_line(line: &str, proto: Proto) -> Option<InetSocket> {
    let mut f = line.split_ascii_whitespace();
    f.next()?.strip_suffix(':')?;
    let (local, local_port) = parse_endpoint(f.next()?)?;
    let (remote, remote_port) = parse_endpoint(f.next()?)?;
    let state = State::from_kernel(u8::from_str_radix(f.next()?, 16).ok()?);
    let uid = f.nth(3)?.parse().ok()?;
    let inode = f.nth(1)?.parse().ok()?;
    Some(InetSocket {
        proto,
        local,
        local_port,
        remote,
        remote_port,
        state,
        uid,
        inode,
    })
}

/// `__SO_ACCEPTCON` in the flags column: a listening socket.
const SO_ACCEPTCON: u32 = 1 << 16;

/// Parse `/proc/net/unix`:
/// `Num RefCount Protocol Flags Type St Inode Path`.
///
/// The path is printed raw, so a path holding a newline continues on the
/// next line; such a continuation (a line that is not an entry) is joined
/// back onto the previous entry's path.
pub fn parse_unix(text: &[u8]) -> Vec<UnixSocket> {
    let mut out: Vec<UnixSocket> = Vec::new();
    for line in text.split(|b| *b == b'\n').skip(1) {
        if line.is_empty() {
            continue;
        }
        match parse_unix_line(line) {
            Some(s) => out.push(s),
            None => {
                if let Some(last) = out.last_mut()
                    && !last.path.is_empty()
                {
                    last.path.push(b'\n');
                    last.path.extend_from_slice(line);
                }
            }
        }
    }
    out
}

fn parse_unix_line(line: &[u8]) -> Option<UnixSocket> {
    // Seven space-separated columns, then the path (which may hold spaces).
    let mut cols: Vec<&str> = Vec::with_capacity(7);
    let mut rest = line;
    for _ in 0..7 {
        let start = rest.iter().position(|b| *b != b' ')?;
        rest = &rest[start..];
        let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        cols.push(std::str::from_utf8(&rest[..end]).ok()?);
        rest = &rest[end..];
    }
    cols[0].strip_suffix(':')?;
    let hex32 = |s: &str| u32::from_str_radix(s, 16).ok();
    hex32(cols[1])?;
    let flags = hex32(cols[3])?;
    let kind = u16::from_str_radix(cols[4], 16).ok()?;
    let st = u8::from_str_radix(cols[5], 16).ok()?;
    let inode = cols[6].parse().ok()?;
    let path = rest.strip_prefix(b" ").unwrap_or(rest).to_vec();
    let state = if flags & SO_ACCEPTCON != 0 {
        State::Listen
    } else {
        // socket_state: 1 unconnected, 2 connecting, 3 connected,
        // 4 disconnecting.
        match st {
            1 => State::Unconnected,
            2 => State::SynSent,
            3 => State::Established,
            4 => State::Closing,
            n => State::Unknown(n),
        }
    };
    Some(UnixSocket {
        kind,
        state,
        inode,
        path,
    })
}

/// Read a whole file with as few `read` calls as possible: `/proc/net/*`
/// files are generated per call (seq_file), so a large buffer means few
/// syscalls for tens of thousands of sockets.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = Vec::with_capacity(256 * 1024);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// Header (16) and `struct inet_diag_req_v2` (56).
const DIAG_REQ_LEN: usize = 16 + 56;
/// `struct inet_diag_msg`.
const DIAG_MSG_LEN: usize = 72;
/// A dump of more than this many sockets is cut short: bounded memory.
const DIAG_MAX_SOCKETS: usize = 4 << 20;

/// The TCP or UDP sockets of this network namespace (the one the calling
/// process is in, as `/proc/net` shows), read through NETLINK_SOCK_DIAG as
/// `ss` reads them: binary records instead of text the kernel formats and
/// `read` hands over a page at a time. The same sockets, in the same
/// order, as [`parse_inet`] reads from `/proc/net/{tcp,tcp6,udp,udp6}`.
/// An error (no netlink, a kernel without udp_diag, a seccomp profile
/// that refuses the socket) lets the caller read `/proc` instead.
pub fn diag_inet(proto: Proto) -> io::Result<Vec<InetSocket>> {
    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
        socket,
    };
    let (family, protocol) = match proto {
        Proto::Tcp => (libc::AF_INET, libc::IPPROTO_TCP),
        Proto::Tcp6 => (libc::AF_INET6, libc::IPPROTO_TCP),
        Proto::Udp => (libc::AF_INET, libc::IPPROTO_UDP),
        Proto::Udp6 => (libc::AF_INET6, libc::IPPROTO_UDP),
        Proto::Unix => return Err(io::ErrorKind::Unsupported.into()),
    };
    let sock = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let mut req = [0u8; DIAG_REQ_LEN];
    req[0..4].copy_from_slice(&(DIAG_REQ_LEN as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = family as u8;
    req[17] = protocol as u8;
    // idiag_states: every state, TIME-WAIT and SYN-RECV included, as
    // /proc/net/tcp lists them.
    req[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
    sendto(
        sock.as_raw_fd(),
        &req,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut msgs = &buf[..n];
        while msgs.len() >= 16 {
            let len = u32::from_ne_bytes([msgs[0], msgs[1], msgs[2], msgs[3]]) as usize;
            let kind = u16::from_ne_bytes([msgs[4], msgs[5]]);
            if len < 16 || len > msgs.len() {
                return Err(io::ErrorKind::InvalidData.into());
            }
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let errno = msgs
                        .get(16..20)
                        .map_or(0, |e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]));
                    return Err(io::Error::from_raw_os_error(errno.saturating_neg()));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(s) = parse_diag_msg(&msgs[16..len], proto) {
                        out.push(s);
                    }
                    if out.len() > DIAG_MAX_SOCKETS {
                        return Ok(out);
                    }
                }
                _ => {}
            }
            // NLMSG_ALIGN: records start on 4-byte boundaries.
            msgs = msgs.get(len.next_multiple_of(4)..).unwrap_or_default();
        }
    }
}

/// One `struct inet_diag_msg`: family, state, timer, retrans, then the
/// `inet_diag_sockid` (ports and addresses in network order), expires,
/// rqueue, wqueue, uid, inode.
fn parse_diag_msg(m: &[u8], proto: Proto) -> Option<InetSocket> {
    if m.len() < DIAG_MSG_LEN {
        return None;
    }
    let u32_at = |i: usize| u32::from_ne_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
    let addr = |at: usize| -> IpAddr {
        if proto == Proto::Tcp || proto == Proto::Udp {
            IpAddr::V4(Ipv4Addr::new(m[at], m[at + 1], m[at + 2], m[at + 3]))
        } else {
            let mut b = [0u8; 16];
            b.copy_from_slice(&m[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(b))
        }
    };
    Some(InetSocket {
        proto,
        local: addr(8),
        local_port: u16::from_be_bytes([m[4], m[5]]),
        remote: addr(24),
        remote_port: u16::from_be_bytes([m[6], m[7]]),
        state: State::from_kernel(m[1]),
        uid: u32_at(64),
        inode: u64::from(u32_at(68)),
    })
}

/// Who owns a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: i32,
    /// `/proc/PID/comm`.
    pub process: String,
}

/// Socket inode → owning process, from `socket:[INODE]` links under
/// `/proc/*/fd`. Built once per listing.
#[derive(Debug, Default)]
pub struct Owners {
    by_inode: HashMap<u64, i32>,
    comm: HashMap<i32, String>,
    /// Processes whose fd table could not be read (another uid, not
    /// dumpable): their sockets have no visible owner.
    pub hidden: usize,
}

impl Owners {
    /// Walk `/proc/*/fd`; unreadable processes and vanished fds are skipped
    /// (the unreadable ones counted), not errors.
    pub fn scan(proc_root: &Path) -> Owners {
        Owners::scan_for(proc_root, None)
    }

    /// As [`Owners::scan`], recording only the `wanted` inodes (all if
    /// None) and stopping once each has its owner: a listing's sockets
    /// often all belong to the first processes.
    pub fn scan_for(proc_root: &Path, wanted: Option<&HashSet<u64>>) -> Owners {
        let mut owners = Owners::default();
        let Ok(dir) = std::fs::read_dir(proc_root) else {
            return owners;
        };
        let mut path = proc_root.to_path_buf();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = std::str::from_utf8(name.as_bytes())
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            path.push(&name);
            path.push("fd");
            let found = scan_fds(&path, &mut owners.by_inode, pid, wanted);
            path.pop();
            match found {
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => owners.hidden += 1,
                Ok(n) if n > 0 => {
                    path.push("comm");
                    let comm = read_file(&path)
                        .map(|b| String::from_utf8_lossy(b.trim_ascii_end()).into_owned())
                        .unwrap_or_default();
                    path.pop();
                    owners.comm.insert(pid, comm);
                }
                // Gone, or no sockets.
                _ => {}
            }
            path.pop();
            if wanted.is_some_and(|w| owners.by_inode.len() >= w.len()) {
                break;
            }
        }
        owners
    }

    pub fn get(&self, inode: u64) -> Option<Owner> {
        let pid = *self.by_inode.get(&inode)?;
        Some(Owner {
            pid,
            process: self.comm.get(&pid).cloned().unwrap_or_default(),
        })
    }

    /// Record an owner (tests).
    pub fn insert(&mut self, inode: u64, owner: Owner) {
        self.by_inode.insert(inode, owner.pid);
        self.comm.insert(owner.pid, owner.process);
    }
}

/// Record the socket fds of one process (`dir` is its fd directory) whose
/// inode is wanted; the count of those found. Links are read relative to
/// the directory's descriptor, not by a whole path per fd.
fn scan_fds(
    dir: &Path,
    map: &mut HashMap<u64, i32>,
    pid: i32,
    wanted: Option<&HashSet<u64>>,
) -> io::Result<usize> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut fds = Dir::open(dir, flags, Mode::empty())?;
    let dirfd = fds.as_raw_fd();
    let mut found = 0;
    // `socket:[` and 20 digits fit; anything longer is no socket.
    let mut link = [0u8; 64];
    for entry in fds.iter() {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        // SAFETY: `dirfd` is the open descriptor of `fds`, which outlives
        // the call; `name` is NUL-terminated; the kernel writes at most
        // `link.len()` bytes into `link`.
        let n = unsafe {
            libc::readlinkat(
                dirfd,
                name.as_ptr(),
                link.as_mut_ptr().cast::<libc::c_char>(),
                link.len(),
            )
        };
        let Ok(n) = usize::try_from(n) else { continue };
        let Some(inode) = link.get(..n).and_then(socket_inode) else {
            continue;
        };
        if wanted.is_some_and(|w| !w.contains(&inode)) {
            continue;
        }
        found += 1;
        map.entry(inode).or_insert(pid);
    }
    Ok(found)
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    std::str::from_utf8(link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
}

/// One route of `/proc/net/route` or `/proc/net/ipv6_route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `10.0.0.0/24`, `default` for /0.
    pub destination: String,
    /// None when the destination is on-link.
    pub gateway: Option<String>,
    pub iface: String,
    pub metric: u32,
    /// route(8) style: U up, G gateway, H host, ! reject.
    pub flags: String,
}

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_HOST: u32 = 0x0004;
const RTF_REJECT: u32 = 0x0200;
/// IPv6 routes of the local table: the host's own addresses.
const RTF_LOCAL: u32 = 0x8000_0000;

fn flag_string(flags: u32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (RTF_UP, 'U'),
        (RTF_GATEWAY, 'G'),
        (RTF_HOST, 'H'),
        (RTF_REJECT, '!'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

fn prefix(addr: IpAddr, len: u32) -> String {
    if len == 0 && addr.is_unspecified() {
        "default".into()
    } else {
        format!("{addr}/{len}")
    }
}

/// Parse `/proc/net/route`:
/// `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`.
pub fn parse_route(text: &[u8]) -> Vec<Route> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = parse_hex_addr(f[1])?;
            let gw = parse_hex_addr(f[2])?;
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            let metric = f[6].parse().ok()?;
            let IpAddr::V4(mask) = parse_hex_addr(f[7])? else {
                return None;
            };
            if flags & RTF_UP == 0 {
                return None;
            }
            Some(Route {
                destination: prefix(dest, u32::from(mask).count_ones()),
                gateway: (flags & RTF_GATEWAY != 0).then(|| gw.to_string()),
                iface: f[0].to_string(),
                metric,
                flags: flag_string(flags),
            })
        })
        .collect()
}

/// 32 hex digits in plain network order (as `ipv6_route` and `if_inet6`
/// print them, unlike `tcp6`).
fn parse_v6_plain(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

/// Parse `/proc/net/ipv6_route`:
/// `dest dest_len src src_len gateway metric refcnt use flags iface`.
/// As `ip -6 route` shows the main table only, the local table's entries
/// (own addresses, flagged RTF_LOCAL, and multicast ff00::/8) and the
/// kernel's catch-all "unreachable" entry on `lo` are left out.
pub fn parse_ipv6_route(text: &[u8]) -> Vec<Route> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let dest = parse_v6_plain(f[0])?;
            let len = u32::from_str_radix(f[1], 16).ok()?;
            let gw = parse_v6_plain(f[4])?;
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            if flags & RTF_UP == 0
                || flags & RTF_LOCAL != 0
                || dest.is_multicast()
                || (flags & RTF_REJECT != 0 && f[9] == "lo")
            {
                return None;
            }
            Some(Route {
                destination: prefix(IpAddr::V6(dest), len),
                gateway: (flags & RTF_GATEWAY != 0 || !gw.is_unspecified()).then(|| gw.to_string()),
                iface: f[9].to_string(),
                metric,
                flags: flag_string(flags),
            })
        })
        .collect()
}

/// One line of `/proc/net/if_inet6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inet6Addr {
    pub addr: Ipv6Addr,
    pub ifindex: u32,
    pub prefix_len: u8,
    /// host, link, site, global, or the raw hex.
    pub scope: String,
    pub iface: String,
}

/// Parse `/proc/net/if_inet6`: `addr ifindex prefix_len scope flags name`.
pub fn parse_if_inet6(text: &[u8]) -> Vec<Inet6Addr> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let scope = match u32::from_str_radix(f[3], 16).ok()? & 0xf0 {
                0x00 => "global".to_string(),
                0x10 => "host".to_string(),
                0x20 => "link".to_string(),
                0x40 => "site".to_string(),
                _ => f[3].to_string(),
            };
            Some(Inet6Addr {
                addr: parse_v6_plain(f[0])?,
                ifindex: u32::from_str_radix(f[1], 16).ok()?,
                prefix_len: u8::from_str_radix(f[2], 16).ok()?,
                scope,
                iface: f[5].to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded on x86_64 (little-endian).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65532        0 31337 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 02:000A7D8B 00000000 65532        0 31338 2 0000000000000000 20 4 30 10 -1\n   2: 0500000A:9C40 0101A8C0:0050 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 65532        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 0 0 10 -1\n   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D432 01 00000000:00000000 00:00000000 00000000  1000        0 4244 1 0000000000000000 20 0 0 10 -1\n   3: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4245 1 0000000000000000 100 0 0 10 0\n";

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  123: 0100007F:1F91 00000000:0000 07 00000000:00000000 00:00000000 00000000 65532        0 5555 2 0000000000000000 0\n  200: 0B00007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5556 2 0000000000000000 0\n";

    const UNIX: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 20001 /run/app.sock\n0000000000000000: 00000002 00000000 00000000 0001 03 20002\n0000000000000000: 00000002 00000000 00010000 0001 01 20003 @abstract\\name\n0000000000000000: 00000002 00000000 00010000 0005 01 20004 /tmp/with space/s.sock\n0000000000000000: 00000002 00000000 00000000 0002 01 20005 /tmp/odd\xff\x1b[31m\n0000000000000000: 00000002 00000000 00010000 0001 01 20006 /tmp/new\nline.sock\n";

    #[test]
    fn tcp_sample_parses_addresses_ports_states() {
        let s = parse_inet(TCP.as_bytes(), Proto::Tcp);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].local, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(s[0].local_port, 8080);
        assert_eq!(s[0].state, State::Listen);
        assert_eq!(s[0].uid, 65532);
        assert_eq!(s[0].inode, 31337);
        assert_eq!(s[1].remote_port, 50000);
        assert_eq!(s[1].state, State::Established);
        assert_eq!(s[2].local, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(s[2].remote, "192.168.1.1".parse::<IpAddr>().unwrap());
        assert_eq!(s[2].state, State::TimeWait);
        assert_eq!(s[2].inode, 0);
    }

    #[test]
    fn tcp6_sample_parses_loopback_mapped_and_global() {
        let s = parse_inet(TCP6.as_bytes(), Proto::Tcp6);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].local.to_string(), "::");
        assert_eq!(s[0].local_port, 8443);
        assert_eq!(s[1].local.to_string(), "::1");
        assert_eq!(s[2].local.to_string(), "::ffff:127.0.0.1");
        assert_eq!(s[3].local.to_string(), "2001:db8::1");
        assert_eq!(s[3].local_port, 80);
    }

    #[test]
    fn udp_sample_parses_unconnected_sockets() {
        let s = parse_inet(UDP.as_bytes(), Proto::Udp);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].state, State::Unconnected);
        assert_eq!(s[0].local_port, 8081);
        assert_eq!(s[1].local.to_string(), "127.0.0.11");
        assert_eq!(s[1].local_port, 53);
    }

    #[test]
    fn unix_sample_keeps_odd_paths() {
        let s = parse_unix(UNIX);
        assert_eq!(s.len(), 6);
        assert_eq!(s[0].path, b"/run/app.sock");
        assert_eq!(s[0].state, State::Listen);
        assert_eq!(s[0].kind_name(), "stream");
        assert!(s[1].path.is_empty());
        assert_eq!(s[1].state, State::Established);
        assert_eq!(s[2].path, b"@abstract\\name");
        assert_eq!(s[3].path, b"/tmp/with space/s.sock");
        assert_eq!(s[3].kind_name(), "seqpacket");
        assert_eq!(s[4].path, b"/tmp/odd\xff\x1b[31m");
        assert_eq!(s[4].state, State::Unconnected);
        assert_eq!(s[5].path, b"/tmp/new\nline.sock");
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = b"header\n   0: zz:1F90 00000000:0000 0A\n\n   1: 0100007F:1F90\ngarbage\n";
        assert!(parse_inet(text, Proto::Tcp).is_empty());
        assert!(parse_unix(b"header\n0000: 1 2\n\xff\xfe\n").is_empty());
        assert!(parse_route(b"Iface\nxx yy\n").is_empty());
        assert!(parse_ipv6_route(b"not a route\n").is_empty());
        assert!(parse_if_inet6(b"::1 1 2\n").is_empty());
    }

    #[test]
    fn socket_links_give_inodes() {
        assert_eq!(socket_inode(b"socket:[31337]"), Some(31337));
        assert_eq!(socket_inode(b"pipe:[31337]"), None);
        assert_eq!(socket_inode(b"socket:[x]"), None);
    }

    #[test]
    fn ipv4_routes_parse() {
        let text = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000011AC\t00000000\t0001\t0\t0\t100\t0000FFFF\t0\t0\t0\n";
        let r = parse_route(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].destination, "default");
        assert_eq!(r[0].gateway.as_deref(), Some("172.17.0.1"));
        assert_eq!(r[0].flags, "UG");
        assert_eq!(r[1].destination, "172.17.0.0/16");
        assert_eq!(r[1].gateway, None);
        assert_eq!(r[1].metric, 100);
    }

    #[test]
    fn ipv6_routes_parse_and_skip_local_and_null_entries() {
        let text = b"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\nff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        let r = parse_ipv6_route(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].destination, "fe80::/64");
        assert_eq!(r[0].metric, 256);
        assert_eq!(r[1].destination, "default");
        assert_eq!(r[1].gateway.as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn if_inet6_parses() {
        let text = b"00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000042acfffe110002 2a 40 20 80     eth0\n";
        let a = parse_if_inet6(text);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].addr.to_string(), "::1");
        assert_eq!(a[0].prefix_len, 128);
        assert_eq!(a[0].scope, "host");
        assert_eq!(a[1].ifindex, 42);
        assert_eq!(a[1].scope, "link");
        assert_eq!(a[1].iface, "eth0");
    }

    #[test]
    fn owners_of_this_process_sockets_are_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let tcp = parse_inet(&read_file(Path::new("/proc/net/tcp")).unwrap(), Proto::Tcp);
        let me = tcp
            .iter()
            .find(|s| s.local_port == port && s.state == State::Listen)
            .expect("our listener is in /proc/net/tcp");
        let owners = Owners::scan(Path::new("/proc"));
        let o = owners.get(me.inode).expect("owner found");
        assert_eq!(o.pid, std::process::id() as i32);
        assert!(!o.process.is_empty());
    }

    #[test]
    fn netlink_gives_the_sockets_proc_net_lists() {
        use std::net::{TcpListener, TcpStream, UdpSocket};
        let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let c4 = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
        let (a4, _) = l4.accept().unwrap();
        let l6 = TcpListener::bind("[::1]:0").ok();
        let u4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let u6 = UdpSocket::bind("[::1]:0").ok();
        let ours: Vec<u16> = [
            Some(l4.local_addr().unwrap().port()),
            Some(c4.local_addr().unwrap().port()),
            l6.as_ref().map(|l| l.local_addr().unwrap().port()),
            Some(u4.local_addr().unwrap().port()),
            u6.as_ref().map(|u| u.local_addr().unwrap().port()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mine = |v: Vec<InetSocket>| -> Vec<InetSocket> {
            let mut v: Vec<InetSocket> = v
                .into_iter()
                .filter(|s| ours.contains(&s.local_port) || ours.contains(&s.remote_port))
                .collect();
            v.sort_by_key(|s| (s.local_port, s.remote_port, s.inode));
            v
        };
        let mut total = 0;
        for proto in [Proto::Tcp, Proto::Tcp6, Proto::Udp, Proto::Udp6] {
            let Ok(text) = read_file(&Path::new("/proc/net").join(proto.name())) else {
                continue;
            };
            let from_proc = mine(parse_inet(&text, proto));
            let from_netlink = mine(diag_inet(proto).expect("sock_diag answers"));
            assert_eq!(from_netlink, from_proc, "{proto:?}");
            total += from_proc.len();
        }
        // A listener, both ends of its connection, a UDP socket at least.
        assert!(total >= 4, "{total}");
        drop((c4, a4));
    }

    #[test]
    fn a_scan_for_some_inodes_records_only_those() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let me = diag_inet(Proto::Tcp)
            .unwrap()
            .into_iter()
            .find(|s| s.local_port == port && s.state == State::Listen)
            .expect("our listener");
        let wanted = HashSet::from([me.inode]);
        let owners = Owners::scan_for(Path::new("/proc"), Some(&wanted));
        assert_eq!(owners.by_inode.len(), 1);
        assert_eq!(owners.get(me.inode).unwrap().pid, std::process::id() as i32);
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn inet_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = parse_inet(&bytes, Proto::Tcp6);
            }

            #[test]
            fn inet_parser_survives_mangled_lines(line in "[0-9A-F: ]{0,160}") {
                let text = format!("header\n{line}\n");
                let _ = parse_inet(text.as_bytes(), Proto::Tcp);
                let _ = parse_inet(text.as_bytes(), Proto::Tcp6);
            }

            #[test]
            fn unix_and_route_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = parse_unix(&bytes);
                let _ = parse_route(&bytes);
                let _ = parse_ipv6_route(&bytes);
                let _ = parse_if_inet6(&bytes);
            }
        }
    }
}
