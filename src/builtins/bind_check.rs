//! `bind-check PORT [ADDR] [--udp] [--json]`.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;

use clap::Parser;
use serde::Serialize;

use super::ports::{self, Filter};
use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procnet::{Owners, Proto};
use crate::term::escape;

/// Check whether the app can listen on PORT, and explain why not
///
/// Binds PORT on ADDR (default 0.0.0.0) as this identity, with no
/// capabilities, in the target's network namespace, and releases it at
/// once. Explains a refusal (the
/// unprivileged port sysctl and CAP_NET_BIND_SERVICE, the process holding
/// the port, an address that is not local) and the fixes.
///
/// Exit 0 when bindable, 1 otherwise, 2 for bad arguments.
///
/// JSON (--json): {port, addr, proto (tcp or udp), bindable (bool), reason
/// (a sentence), unprivileged_port_start (number or null), holder_pid
/// (number or null), holder_process (string or null), fixes (array of
/// sentences)}.
#[derive(Parser)]
#[command(name = "bind-check", disable_version_flag = true)]
pub struct BindCheck {
    /// Check a UDP bind instead of TCP.
    #[arg(long)]
    udp: bool,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// The port, 1 to 65535.
    port: u16,
    /// The local address to bind (0.0.0.0, ::, 127.0.0.1, ...).
    addr: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub port: u16,
    pub addr: String,
    pub proto: &'static str,
    pub bindable: bool,
    pub reason: String,
    pub unprivileged_port_start: Option<u32>,
    pub holder_pid: Option<i32>,
    pub holder_process: Option<String>,
    pub fixes: Vec<String>,
    /// Shown after the reason on a terminal, not in JSON.
    #[serde(skip)]
    pub warning: Option<String>,
}

/// `net.ipv4.ip_unprivileged_port_start` of this network namespace (the
/// net sysctls are per namespace: /proc/sys/net shows the reader's).
pub fn unprivileged_port_start(proc_root: &Path) -> Option<u32> {
    std::fs::read_to_string(proc_root.join("sys/net/ipv4/ip_unprivileged_port_start"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The addresses of this network namespace's interfaces.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let Some(s) = a.address else { continue };
            let ip = if let Some(v4) = s.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else if let Some(v6) = s.as_sockaddr_in6() {
                IpAddr::V6(v6.ip())
            } else {
                continue;
            };
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// Whether a socket bound to `held` conflicts with a bind to `want`:
/// equal, either one a wildcard, or the IPv4-mapped form of the other.
fn overlaps(held: IpAddr, want: IpAddr) -> bool {
    let canon = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        a => a,
    };
    let (h, w) = (canon(held), canon(want));
    h == w || h.is_unspecified() || w.is_unspecified()
}

/// The socket holding `port` for `want` and its owner, if visible.
fn holder(proc_root: &Path, udp: bool, port: u16, want: IpAddr) -> Option<(ports::Row, bool)> {
    let filter = Filter {
        tcp: !udp,
        udp,
        unix: false,
        all_states: true,
    };
    let mut rows: Vec<ports::Row> = ports::read_sockets(proc_root, filter)
        .into_iter()
        .filter(|r| {
            r.local_port == Some(port)
                && (udp || r.state == "LISTEN")
                && r.local_addr
                    .parse()
                    .is_ok_and(|held: IpAddr| overlaps(held, want))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let unseen = ports::attach_owners(&mut rows, &Owners::scan(proc_root));
    rows.sort_by_key(|r| r.pid.is_none());
    let first = rows.swap_remove(0);
    Some((first, unseen > 0))
}

/// Try the bind; the socket is closed when this returns.
fn try_bind(addr: SocketAddr, udp: bool) -> io::Result<()> {
    if udp {
        UdpSocket::bind(addr).map(drop)
    } else {
        // std sets SO_REUSEADDR as most servers do, so a TIME-WAIT
        // leftover does not count as "in use", as it would not for them.
        TcpListener::bind(addr).map(drop)
    }
}

const K8S_NOTE: &str = "Kubernetes and host networking keep the kernel default of 1024";

/// Check `port` on `ip` and explain the result.
pub fn check(ctx: &Ctx, port: u16, ip: IpAddr, udp: bool) -> Outcome {
    let uid = ctx.identity.uid.as_raw();
    let start = unprivileged_port_start(&ctx.proc.root);
    let proto = if udp { "udp" } else { "tcp" };
    let addr = SocketAddr::new(ip, port);
    let shown = addr.to_string();
    let mut out = Outcome {
        port,
        addr: ip.to_string(),
        proto,
        bindable: false,
        reason: String::new(),
        unprivileged_port_start: start,
        holder_pid: None,
        holder_process: None,
        fixes: Vec::new(),
        warning: None,
    };
    let start_text = start.map_or("unknown (unreadable)".to_string(), |s| s.to_string());
    match try_bind(addr, udp) {
        Ok(()) => {
            out.bindable = true;
            out.reason = format!("{proto} {shown} is bindable by uid {uid} (released at once)");
            if port < 1024 {
                out.reason.push_str(&format!(
                    ": it works without CAP_NET_BIND_SERVICE because net.ipv4.ip_unprivileged_port_start is {start_text} in this network namespace (Docker sets 0)"
                ));
                out.warning = Some(format!(
                    "{K8S_NOTE}: binding port {port} as uid {uid} will fail there"
                ));
                out.fixes = vec![
                    "listen on a port >= 1024 (e.g. 8080) and map it (docker run -p 80:8080, a Service targetPort) so the image runs anywhere".into(),
                ];
            }
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::EACCES) => {
                out.reason = format!(
                    "permission denied: port {port} is below net.ipv4.ip_unprivileged_port_start ({start_text}) and uid {uid} lacks CAP_NET_BIND_SERVICE"
                );
                out.fixes = vec![
                    "listen on a port >= 1024 (e.g. 8080) and map it (docker run -p 80:8080, a Service targetPort)".into(),
                    "lower the sysctl for the container: docker run --sysctl net.ipv4.ip_unprivileged_port_start=0 (Kubernetes: securityContext.sysctls)".into(),
                    "grant the capability: --cap-add NET_BIND_SERVICE and, for a non-root user, `setcap cap_net_bind_service=+ep` on the app's binary (added capabilities are not kept across exec by a non-root process otherwise)".into(),
                ];
            }
            Some(libc::EADDRINUSE) => {
                out.reason = format!("{proto} port {port} is already in use");
                match holder(&ctx.proc.root, udp, port, ip) {
                    Some((row, hidden)) => {
                        let local = if row.proto == Proto::Tcp6 || row.proto == Proto::Udp6 {
                            format!("[{}]:{port}", row.local_addr)
                        } else {
                            format!("{}:{port}", row.local_addr)
                        };
                        match (row.pid, &row.process) {
                            (Some(pid), process) => {
                                let name = process.as_deref().unwrap_or("?");
                                out.reason.push_str(&format!(
                                    ": pid {pid} ({}) holds {local}",
                                    escape::field(name.as_bytes())
                                ));
                                out.holder_pid = Some(pid);
                                out.holder_process = process.clone();
                            }
                            (None, _) if hidden => out.reason.push_str(&format!(
                                ": a socket on {local} holds it ({})",
                                ports::hidden_note(uid)
                            )),
                            (None, _) => out.reason.push_str(&format!(
                                ": a socket on {local} (no process holds it open)"
                            )),
                        }
                    }
                    None => out
                        .reason
                        .push_str(" (no listening socket found for it in /proc/net)"),
                }
                out.fixes =
                    vec!["stop the process holding the port, or choose another port".into()];
            }
            Some(libc::EADDRNOTAVAIL) => {
                let locals = local_addresses()
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                out.reason = format!(
                    "{ip} is not an address of this network namespace (local addresses: {locals})"
                );
                out.fixes = vec![
                    "bind 0.0.0.0 (or ::) or one of the local addresses; the container's published address is the host's, not the container's".into(),
                ];
            }
            _ => out.reason = format!("cannot bind {proto} {shown}: {}", util::io_error(&e)),
        },
    }
    out
}

impl Builtin for BindCheck {
    const NAME: &'static str = "bind-check";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        if self.port == 0 {
            writeln!(io.err, "bind-check: the port must be 1 to 65535")?;
            return Ok(2);
        }
        let ip = match self.addr.as_deref() {
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(a) => match a.trim_start_matches('[').trim_end_matches(']').parse() {
                Ok(ip) => ip,
                Err(_) => {
                    writeln!(
                        io.err,
                        "bind-check: {} is not an IP address",
                        escape::field(a.as_bytes())
                    )?;
                    return Ok(2);
                }
            },
        };
        let out = check(ctx, self.port, ip, self.udp);
        if self.json {
            util::write_json(&mut io.out, &out)?;
        } else {
            writeln!(io.out, "{}", out.reason)?;
            if let Some(w) = &out.warning {
                writeln!(io.out, "warning: {w}")?;
            }
            if !out.fixes.is_empty() {
                writeln!(io.out, "fix:")?;
                for f in &out.fixes {
                    writeln!(io.out, "  - {f}")?;
                }
            }
        }
        Ok(if out.bindable { 0 } else { 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_binds() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(overlaps(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(overlaps(ip("127.0.0.1"), ip("0.0.0.0")));
        assert!(overlaps(ip("::"), ip("127.0.0.1")));
        assert!(overlaps(ip("::ffff:127.0.0.1"), ip("127.0.0.1")));
        assert!(!overlaps(ip("127.0.0.1"), ip("10.0.0.1")));
    }

    #[test]
    fn the_sysctl_is_read_from_proc() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sys/net/ipv4");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("ip_unprivileged_port_start"), "1024\n").unwrap();
        assert_eq!(unprivileged_port_start(dir.path()), Some(1024));
        assert_eq!(unprivileged_port_start(Path::new("/nonexistent")), None);
    }

    #[test]
    fn loopback_is_a_local_address() {
        let locals = local_addresses();
        assert!(
            locals.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{locals:?}"
        );
    }
}
