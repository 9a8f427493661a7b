//! `ports [-a] [-t] [-u] [-x] [-n] [--json]` (also `ss`).

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procnet::{self, Owners, Proto, State};
use crate::term::escape;

/// List the target's sockets and the process that owns each
///
/// TCP, UDP and unix sockets, IPv4 and IPv6, with the pid and name of the
/// owning process. Listening sockets only unless
/// -a. Read from /proc/net and /proc/*/fd of the target's namespaces.
///
/// An owner shows as `-` when its process runs as another user or is not
/// dumpable: this identity cannot read its fd table (`nosh --root` can).
///
/// JSON (--json): an array of {proto (tcp, tcp6, udp, udp6, unix), state
/// (LISTEN, ESTAB, UNCONN, TIME-WAIT, ...), local_addr, local_port,
/// remote_addr, remote_port, inode, pid, process, uid}. For unix sockets
/// local_addr is the path ('@' starts an abstract name), the ports and
/// remote_addr are null; pid, process and uid are null when unknown.
#[derive(Parser)]
#[command(name = "ports", disable_version_flag = true)]
pub struct Ports {
    /// All sockets, not only listening ones (TCP LISTEN, unconnected UDP,
    /// listening unix).
    #[arg(short, long)]
    all: bool,
    /// Only listening sockets (the default).
    #[arg(short, long, conflicts_with = "all")]
    listening: bool,
    /// TCP sockets.
    #[arg(short, long)]
    tcp: bool,
    /// UDP sockets.
    #[arg(short, long)]
    udp: bool,
    /// Unix sockets.
    #[arg(short = 'x', long)]
    unix: bool,
    /// Numeric addresses and ports (always; accepted for `ss` habits).
    #[arg(short, long)]
    numeric: bool,
    /// Show processes (always; accepted for `ss` habits).
    #[arg(short, long)]
    processes: bool,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

/// One socket.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub proto: Proto,
    pub state: String,
    pub local_addr: String,
    pub local_port: Option<u16>,
    pub remote_addr: Option<String>,
    pub remote_port: Option<u16>,
    pub inode: u64,
    pub pid: Option<i32>,
    pub process: Option<String>,
    pub uid: Option<u32>,
    #[serde(skip)]
    listening: bool,
    /// The unix path as the kernel gave it, for escaping on output.
    #[serde(skip)]
    raw_path: Vec<u8>,
}

/// Which sockets to read.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub tcp: bool,
    pub udp: bool,
    pub unix: bool,
    pub all_states: bool,
}

/// Read the sockets of this network namespace from `proc_root/net/*`.
/// Owners are not filled in: see [`attach_owners`].
pub fn read_sockets(proc_root: &Path, filter: Filter) -> Vec<Row> {
    let mut rows = Vec::new();
    for proto in Proto::ALL {
        let wanted = match proto {
            Proto::Tcp | Proto::Tcp6 => filter.tcp,
            Proto::Udp | Proto::Udp6 => filter.udp,
            Proto::Unix => filter.unix,
        };
        if !wanted {
            continue;
        }
        if proto != Proto::Unix {
            // The live namespace's sockets come through netlink, as ss
            // reads them; a recorded /proc (tests) or a refusal, as text.
            let sockets = match (proc_root == Path::new("/proc")).then(|| procnet::diag_inet(proto))
            {
                Some(Ok(sockets)) => sockets,
                _ => {
                    // A kernel without IPv6 has no tcp6/udp6: nothing to list.
                    let Ok(text) = procnet::read_file(&proc_root.join("net").join(proto.name()))
                    else {
                        continue;
                    };
                    procnet::parse_inet(&text, proto)
                }
            };
            rows.extend(sockets.into_iter().map(|s| inet_row(s, proto)));
            continue;
        }
        let Ok(text) = procnet::read_file(&proc_root.join("net").join(proto.name())) else {
            continue;
        };
        rows.extend(procnet::parse_unix(&text).into_iter().map(|s| Row {
            proto,
            state: s.state.name(),
            local_addr: String::from_utf8_lossy(&s.path).into_owned(),
            local_port: None,
            remote_addr: None,
            remote_port: None,
            inode: s.inode,
            pid: None,
            process: None,
            uid: None,
            listening: s.state == State::Listen,
            raw_path: s.path,
        }));
    }
    if !filter.all_states {
        rows.retain(|r| r.listening);
    }
    rows
}

fn inet_row(s: procnet::InetSocket, proto: Proto) -> Row {
    let listening = if proto.is_udp() {
        s.state == State::Unconnected
    } else {
        s.state == State::Listen
    };
    Row {
        proto,
        state: s.state.name(),
        local_addr: s.local.to_string(),
        local_port: Some(s.local_port),
        remote_addr: Some(s.remote.to_string()),
        remote_port: Some(s.remote_port),
        inode: s.inode,
        pid: None,
        process: None,
        uid: Some(s.uid),
        listening,
        raw_path: Vec::new(),
    }
}

/// Fill in pid and process; the number of sockets whose owner could not
/// be seen because some process's fd table is unreadable.
pub fn attach_owners(rows: &mut [Row], owners: &Owners) -> usize {
    let mut unseen = 0;
    for r in rows.iter_mut() {
        match owners.get(r.inode) {
            Some(o) => {
                r.pid = Some(o.pid);
                r.process = Some(o.process);
            }
            // Inode 0: TIME-WAIT and orphans belong to no process at all.
            None if r.inode != 0 && owners.hidden > 0 => unseen += 1,
            None => {}
        }
    }
    unseen
}

/// The footnote shown once when some owner is hidden.
pub fn hidden_note(uid: u32) -> String {
    if uid == 0 {
        // Root without capabilities still may not read the fd table of a
        // process that holds capabilities (ptrace access mode checks).
        return "owner not visible to uid 0: its process holds capabilities this shell dropped or is not dumpable".into();
    }
    format!(
        "owner not visible to uid {uid}: its process runs as another user or is not dumpable; nosh --root shows it"
    )
}

fn endpoint(addr: &str, port: Option<u16>, any_port: bool) -> String {
    let port = match port {
        Some(0) if any_port => "*".to_string(),
        Some(p) => p.to_string(),
        None => return String::new(),
    };
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{addr}]:{port}"),
        _ => format!("{addr}:{port}"),
    }
}

fn render(rows: &[Row]) -> Vec<[String; 6]> {
    rows.iter()
        .map(|r| {
            let (local, peer) = if r.proto == Proto::Unix {
                let local = if r.raw_path.is_empty() {
                    "*".to_string()
                } else {
                    escape::field(&r.raw_path).into_owned()
                };
                (local, "*".to_string())
            } else {
                (
                    endpoint(&r.local_addr, r.local_port, false),
                    endpoint(r.remote_addr.as_deref().unwrap_or(""), r.remote_port, true),
                )
            };
            [
                r.proto.name().to_string(),
                r.state.clone(),
                local,
                peer,
                r.pid.map_or("-".into(), |p| p.to_string()),
                r.process
                    .as_deref()
                    .map_or("-".into(), |p| escape::field(p.as_bytes()).into_owned()),
            ]
        })
        .collect()
}

const HEADER: [&str; 6] = ["PROTO", "STATE", "LOCAL", "PEER", "PID", "PROCESS"];
/// The PID column is right-aligned.
const RIGHT: usize = 4;

fn sort_key(r: &Row) -> (u8, bool, u16, u64) {
    let family = match r.proto {
        Proto::Tcp | Proto::Tcp6 => 0,
        Proto::Udp | Proto::Udp6 => 1,
        Proto::Unix => 2,
    };
    (family, !r.listening, r.local_port.unwrap_or(0), r.inode)
}

impl Builtin for Ports {
    const NAME: &'static str = "ports";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let none = !(self.tcp || self.udp || self.unix);
        let filter = Filter {
            tcp: self.tcp || none,
            udp: self.udp || none,
            unix: self.unix || none,
            all_states: self.all,
        };
        let mut rows = read_sockets(&ctx.proc.root, filter);
        rows.sort_by_key(sort_key);
        // The fd walk is the expensive part: only when there is something
        // to attribute.
        let unseen = if rows.is_empty() {
            0
        } else {
            let wanted: HashSet<u64> = rows.iter().map(|r| r.inode).filter(|i| *i != 0).collect();
            attach_owners(&mut rows, &Owners::scan_for(&ctx.proc.root, Some(&wanted)))
        };
        let note = (unseen > 0).then(|| hidden_note(ctx.identity.uid.as_raw()));
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            if let Some(note) = note {
                writeln!(io.err, "ports: {note}")?;
            }
            return Ok(0);
        }
        // Ten thousand sockets are ten thousand lines: one write per 64 KiB.
        let mut out = io::BufWriter::with_capacity(64 * 1024, &mut io.out);
        util::write_table(&mut out, Some(&HEADER), &render(&rows), &[RIGHT])?;
        if let Some(note) = note {
            writeln!(out, "-: {note}")?;
        }
        out.flush()?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::procnet::Owner;

    fn fake_proc() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        std::fs::create_dir(&net).unwrap();
        std::fs::write(net.join("tcp"), "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65532        0 100 1\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000 65532        0 101 1\n   2: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 102 1\n").unwrap();
        std::fs::write(net.join("tcp6"), "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 65532        0 103 1\n").unwrap();
        std::fs::write(net.join("udp"), "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  1: 0100007F:1F91 00000000:0000 07 00000000:00000000 00:00000000 00000000 65532        0 104 2 0000000000000000 0\n").unwrap();
        std::fs::write(net.join("unix"), b"Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 105 /run/evil\x1b]0;x\x07.sock\n".as_slice()).unwrap();
        dir
    }

    fn all(all_states: bool) -> Filter {
        Filter {
            tcp: true,
            udp: true,
            unix: true,
            all_states,
        }
    }

    #[test]
    fn listening_sockets_are_the_default() {
        let p = fake_proc();
        let rows = read_sockets(p.path(), all(false));
        let states: Vec<_> = rows.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["LISTEN", "LISTEN", "LISTEN", "UNCONN", "LISTEN"]);
        assert_eq!(read_sockets(p.path(), all(true)).len(), 6);
    }

    #[test]
    fn table_shows_owners_and_a_footnote_when_hidden() {
        let p = fake_proc();
        let mut rows = read_sockets(p.path(), all(false));
        rows.sort_by_key(sort_key);
        let mut owners = Owners::default();
        owners.insert(
            100,
            Owner {
                pid: 1,
                process: "demo\x1bapp".into(),
            },
        );
        owners.hidden = 1;
        let unseen = attach_owners(&mut rows, &owners);
        assert_eq!(unseen, 4);
        let table = render(&rows);
        assert_eq!(table[0][2], "127.0.0.1:80");
        assert_eq!(table[0][4], "-");
        assert_eq!(table[1][2], "0.0.0.0:8080");
        assert_eq!(table[1][3], "0.0.0.0:*");
        assert_eq!(table[1][4], "1");
        assert_eq!(table[1][5], "demo\\eapp");
        assert_eq!(table[2][2], "[::1]:8443");
        assert_eq!(table[4][2], "/run/evil\\e]0;x\\x07.sock");
    }

    #[test]
    fn json_has_stable_fields() {
        let p = fake_proc();
        let mut rows = read_sockets(p.path(), all(false));
        rows.sort_by_key(sort_key);
        let v = serde_json::to_value(&rows).unwrap();
        let first = &v[0];
        for key in [
            "proto",
            "state",
            "local_addr",
            "local_port",
            "remote_addr",
            "remote_port",
            "inode",
            "pid",
            "process",
            "uid",
        ] {
            assert!(first.get(key).is_some(), "missing {key}");
        }
        assert_eq!(first["proto"], "tcp");
        let unix = v.as_array().unwrap().last().unwrap();
        assert_eq!(unix["proto"], "unix");
        assert!(unix["local_port"].is_null());
        assert!(unix["uid"].is_null());
    }
}
