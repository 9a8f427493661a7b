//! `fds [PID] [--json]`: the open files of a process.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Open file descriptors of a process: files, sockets, pipes.
///
/// For PID (default: the target): what each one is (a file path, a socket with its protocol, local and peer address
/// and state, a pipe, an anon inode), its access mode and offset.
///
/// Readable only for processes of this shell's uid that are dumpable; for
/// others the reason is given (`nosh --root` reads more).
///
/// JSON (--json): an array of {fd, target, kind (file, socket, pipe,
/// anon_inode, other), mode ("r", "w", "rw"), flags (array: append,
/// nonblock, cloexec, ...), pos, proto, local, peer, state}; the socket
/// fields are null for other kinds or when the socket is not in this
/// network namespace's tables.
#[derive(Parser)]
#[command(name = "fds", disable_version_flag = true)]
pub struct Fds {
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// A process id in the target's PID namespace.
    pid: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    pub fd: i32,
    pub target: String,
    pub kind: &'static str,
    pub mode: String,
    pub flags: Vec<&'static str>,
    pub pos: Option<u64>,
    pub proto: Option<String>,
    pub local: Option<String>,
    pub peer: Option<String>,
    pub state: Option<String>,
}

/// What /proc/PID/net/* says about one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sock {
    pub proto: &'static str,
    pub local: String,
    pub peer: String,
    pub state: String,
}

const TCP_STATES: [&str; 12] = [
    "?",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
];

/// `0100007F:1F90` → `127.0.0.1:8080`; the address words are in the
/// kernel's byte order, printed as native integers.
pub fn parse_addr(s: &str) -> Option<String> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    match addr.len() {
        8 => Some(format!("{}:{port}", Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(format!("[{}]:{port}", Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Sockets of a `/proc/net/{tcp,udp}{,6}` table by inode.
pub fn parse_inet(text: &str, proto: &'static str, into: &mut HashMap<u64, Sock>) {
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(local), Some(peer), Ok(st), Ok(inode)) = (
            parse_addr(f[1]),
            parse_addr(f[2]),
            usize::from_str_radix(f[3], 16),
            f[9].parse::<u64>(),
        ) else {
            continue;
        };
        let state = if proto.starts_with("udp") {
            if st == 1 { "CONNECTED" } else { "UNCONN" }
        } else {
            TCP_STATES.get(st).copied().unwrap_or("?")
        };
        into.insert(
            inode,
            Sock {
                proto,
                local,
                peer,
                state: state.to_string(),
            },
        );
    }
}

/// Sockets of `/proc/net/unix` by inode.
pub fn parse_unix(text: &str, into: &mut HashMap<u64, Sock>) {
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.splitn(8, ' ').filter(|x| !x.is_empty()).collect();
        if f.len() < 7 {
            continue;
        }
        let Ok(inode) = f[6].parse::<u64>() else {
            continue;
        };
        let flags = u32::from_str_radix(f[3], 16).unwrap_or(0);
        let kind = match f[4] {
            "0001" => "unix/stream",
            "0002" => "unix/dgram",
            "0005" => "unix/seqpacket",
            _ => "unix",
        };
        let state = if flags & 0x10000 != 0 {
            "LISTEN"
        } else if f[5] == "03" {
            "CONNECTED"
        } else {
            "UNCONN"
        };
        into.insert(
            inode,
            Sock {
                proto: kind,
                local: f.get(7).map_or("", |p| p.trim()).to_string(),
                peer: String::new(),
                state: state.into(),
            },
        );
    }
}

/// Access mode and notable flags from the octal `flags:` of fdinfo.
pub fn decode_flags(octal: u32) -> (String, Vec<&'static str>) {
    let mode = match octal & 0o3 {
        0 => "r",
        1 => "w",
        _ => "rw",
    };
    let names = [
        (0o2000, "append"),
        (0o4000, "nonblock"),
        (0o40000, "direct"),
        (0o200000, "directory"),
        (0o1000000, "noatime"),
        (0o2000000, "cloexec"),
        (0o10000000, "path"),
    ];
    let flags = names
        .iter()
        .filter(|(bit, _)| octal & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    (mode.to_string(), flags)
}

fn sockets(ctx: &Ctx, pid: i32) -> HashMap<u64, Sock> {
    let mut map = HashMap::new();
    let net = |f: &str| fs::read_to_string(ctx.proc.path(pid, &format!("net/{f}"))).ok();
    for (file, proto) in [
        ("tcp", "tcp"),
        ("tcp6", "tcp6"),
        ("udp", "udp"),
        ("udp6", "udp6"),
    ] {
        if let Some(t) = net(file) {
            parse_inet(&t, proto, &mut map);
        }
    }
    if let Some(t) = net("unix") {
        parse_unix(&t, &mut map);
    }
    map
}

/// Every fd of `pid`; Err is the error of listing /proc/PID/fd itself.
pub fn read(ctx: &Ctx, pid: i32) -> io::Result<Vec<Row>> {
    let dir = ctx.proc.path(pid, "fd");
    let mut fds: Vec<i32> = fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    let mut socks: Option<HashMap<u64, Sock>> = None;
    let mut rows = Vec::new();
    for fd in fds {
        // The listing may be allowed where the links are not (they need
        // ptrace access); a descriptor closed since the listing is skipped.
        let link = match fs::read_link(dir.join(fd.to_string())) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
            Err(_) => continue,
        };
        let target = String::from_utf8_lossy(link.as_os_str().as_bytes()).into_owned();
        let mut row = Row {
            fd,
            kind: "other",
            ..Row::default()
        };
        if let Ok(info) = fs::read_to_string(ctx.proc.path(pid, &format!("fdinfo/{fd}"))) {
            for l in info.lines() {
                if let Some(v) = l.strip_prefix("pos:") {
                    row.pos = v.trim().parse().ok();
                } else if let Some(v) = l.strip_prefix("flags:") {
                    let (mode, flags) = decode_flags(u32::from_str_radix(v.trim(), 8).unwrap_or(0));
                    row.mode = mode;
                    row.flags = flags;
                }
            }
        }
        if target.starts_with('/') {
            row.kind = "file";
        } else if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            row.kind = "socket";
            let map = socks.get_or_insert_with(|| sockets(ctx, pid));
            if let Some(s) = inode.parse().ok().and_then(|i: u64| map.get(&i)) {
                row.proto = Some(s.proto.to_string());
                row.local = Some(s.local.clone());
                row.peer = Some(s.peer.clone());
                row.state = Some(s.state.clone());
            }
        } else if target.starts_with("pipe:[") {
            row.kind = "pipe";
        } else if target.starts_with("anon_inode:") {
            row.kind = "anon_inode";
        }
        row.target = target;
        rows.push(row);
    }
    Ok(rows)
}

impl Builtin for Fds {
    const NAME: &'static str = "fds";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let pid = self.pid.unwrap_or(ctx.target_pid);
        let rows = match read(ctx, pid) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                writeln!(io.err, "fds: no process {pid}")?;
                return Ok(1);
            }
            Err(e) => {
                writeln!(
                    io.err,
                    "fds: cannot read /proc/{pid}/fd: {}: {}",
                    util::io_error(&e),
                    super::env::proc_denied_reason(ctx, pid)
                )?;
                return Ok(1);
            }
        };
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            return Ok(0);
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let detail = match (&r.proto, &r.local, &r.peer, &r.state) {
                    (Some(p), Some(l), Some(peer), Some(s)) => {
                        let mut d = format!("{p} {}", escape::field(l.as_bytes()));
                        if !peer.is_empty() && !peer.ends_with(":0") {
                            d.push_str(&format!(" -> {peer}"));
                        }
                        format!("{d} {s}")
                    }
                    _ => r.flags.join(","),
                };
                vec![
                    r.fd.to_string(),
                    r.mode.clone(),
                    r.pos.map_or("-".into(), |p| p.to_string()),
                    escape::field(r.target.as_bytes()).into_owned(),
                    detail,
                ]
            })
            .collect();
        util::write_table(
            &mut io.out,
            Some(&["FD", "MODE", "POS", "TARGET", "DETAIL"]),
            &table,
            &[0, 2],
        )?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_addresses_decode_in_kernel_order() {
        assert_eq!(
            parse_addr("0100007F:1F90").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(parse_addr("00000000:0050").as_deref(), Some("0.0.0.0:80"));
        assert_eq!(
            parse_addr("00000000000000000000000001000000:01BB").as_deref(),
            Some("[::1]:443")
        );
        assert_eq!(parse_addr("zz:1"), None);
    }

    #[test]
    fn net_tables_map_inodes_to_sockets() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65532        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000 65532        0 4343 1 0000000000000000 20 4 30 10 -1\n";
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 5151 /run/app.sock\n0000000000000000: 00000003 00000000 00000000 0001 03 5252\n";
        let mut m = HashMap::new();
        parse_inet(tcp, "tcp", &mut m);
        parse_unix(unix, &mut m);
        assert_eq!(m[&4242].state, "LISTEN");
        assert_eq!(m[&4242].local, "0.0.0.0:8080");
        assert_eq!(m[&4343].peer, "127.0.0.1:50000");
        assert_eq!(m[&4343].state, "ESTABLISHED");
        assert_eq!(m[&5151].proto, "unix/stream");
        assert_eq!(m[&5151].state, "LISTEN");
        assert_eq!(m[&5151].local, "/run/app.sock");
        assert_eq!(m[&5252].state, "CONNECTED");
    }

    #[test]
    fn fdinfo_flags_decode() {
        assert_eq!(decode_flags(0o2100002), ("rw".to_string(), vec!["cloexec"]));
        assert_eq!(decode_flags(0o102001).1, vec!["append"]);
        assert_eq!(decode_flags(0).0, "r");
    }

    #[test]
    fn own_fds_list_an_open_file_with_mode_and_position() {
        use std::io::Seek;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.txt");
        let mut f = fs::File::create(&path).unwrap();
        f.write_all(b"12345").unwrap();
        f.seek(io::SeekFrom::Start(3)).unwrap();
        let ctx = Ctx::for_root(dir.path().to_path_buf());
        let rows = read(&ctx, std::process::id() as i32).unwrap();
        let row = rows
            .iter()
            .find(|r| r.target == path.to_str().unwrap())
            .expect("the open file is listed");
        assert_eq!(row.kind, "file");
        assert_eq!(row.mode, "w");
        assert_eq!(row.pos, Some(3));
    }
}
