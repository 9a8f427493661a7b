//! `connect HOST:PORT [--timeout SECS]`.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::dns::Source;
use crate::term::escape;

/// Test a TCP connection to HOST:PORT as the app would make it
///
/// Opens a TCP connection from the target's network namespace and closes
/// it at once. HOST is an address or a name, resolved through the
/// target's /etc/hosts and resolv.conf. IPv6 addresses are written in brackets: [::1]:8080.
///
/// Prints `connected to ADDR:PORT in N ms`, or for each address tried
/// `refused`, `timed out after N s` or `unreachable`. Exit 0 when a
/// connection was made, 1 otherwise.
#[derive(Parser)]
#[command(name = "connect", disable_version_flag = true)]
pub struct Connect {
    /// Seconds to wait for each address.
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    timeout: f64,
    /// HOST:PORT, or HOST with the port as a second argument.
    target: String,
    /// The port, when not given after a colon.
    port: Option<u16>,
}

/// Split `HOST:PORT`, `[V6]:PORT` (or HOST and a separate port).
pub fn split_host_port(s: &str, port: Option<u16>) -> Result<(String, u16), String> {
    let (host, p) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in {s}"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                if port.is_some() {
                    (s.to_string(), None)
                } else {
                    return Err(format!("write an IPv6 address in brackets: [{s}]:PORT"));
                }
            }
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {s}"));
    }
    let port = match (p, port) {
        (Some(p), None) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port {p}: 1 to 65535"))?,
        (None, Some(p)) if p != 0 => p,
        (Some(_), Some(_)) => return Err("the port is given twice".into()),
        _ => return Err(format!("no port in {s}: write HOST:PORT")),
    };
    Ok((host, port))
}

/// A timeout in seconds as a duration; None if not a positive number.
pub fn timeout(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0 && secs < 86_400.0).then(|| Duration::from_secs_f64(secs))
}

/// `3 s`, `0.5 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// Milliseconds, with a decimal below 10 (loopback connects take 0.1 ms).
pub fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Why a connect failed, in one or two words.
pub fn failure(e: &io::Error, limit: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("timed out after {}", secs(limit))
        }
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => "unreachable".into(),
        _ => util::io_error(e),
    }
}

/// `10.0.0.5:5432`, `[::1]:80`.
pub fn show(addr: &SocketAddr) -> String {
    addr.to_string()
}

/// Resolve `host` through the target's files and DNS; the addresses and
/// where they came from.
pub fn lookup(ctx: &Ctx, host: &str) -> Result<(Vec<IpAddr>, Source), String> {
    super::resolve::resolver(ctx)
        .lookup(host)
        .map(|f| (f.addrs, f.source))
        .map_err(|e| escape::field(e.to_string().as_bytes()).into_owned())
}

impl Builtin for Connect {
    const NAME: &'static str = "connect";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let Some(limit) = timeout(self.timeout) else {
            writeln!(
                io.err,
                "connect: --timeout must be a positive number of seconds"
            )?;
            return Ok(2);
        };
        let (host, port) = match split_host_port(&self.target, self.port) {
            Ok(hp) => hp,
            Err(e) => {
                writeln!(io.err, "connect: {}", escape::field(e.as_bytes()))?;
                return Ok(2);
            }
        };
        let (addrs, source) = match lookup(ctx, &host) {
            Ok(a) => a,
            Err(e) => {
                writeln!(io.err, "connect: {e}")?;
                return Ok(1);
            }
        };
        let named = source != Source::Literal;
        for ip in addrs {
            if crate::shell::interrupted() {
                return Ok(130);
            }
            let addr = SocketAddr::new(ip, port);
            let start = Instant::now();
            let shown = if named {
                format!("{} ({})", escape::field(host.as_bytes()), show(&addr))
            } else {
                show(&addr)
            };
            match TcpStream::connect_timeout(&addr, limit) {
                Ok(s) => {
                    let ms = millis(start.elapsed());
                    drop(s);
                    writeln!(io.out, "connected to {shown} in {ms} ms")?;
                    return Ok(0);
                }
                Err(e) => writeln!(io.out, "{shown}: {}", failure(&e, limit))?,
            }
        }
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_split() {
        assert_eq!(
            split_host_port("10.0.0.5:5432", None).unwrap(),
            ("10.0.0.5".into(), 5432)
        );
        assert_eq!(
            split_host_port("[::1]:80", None).unwrap(),
            ("::1".into(), 80)
        );
        assert_eq!(
            split_host_port("db", Some(5432)).unwrap(),
            ("db".into(), 5432)
        );
        assert_eq!(
            split_host_port("::1", Some(80)).unwrap(),
            ("::1".into(), 80)
        );
        assert!(split_host_port("::1:80", None).is_err());
        assert!(split_host_port("db", None).is_err());
        assert!(split_host_port("db:0", None).is_err());
        assert!(split_host_port("db:99999", None).is_err());
        assert!(split_host_port(":80", None).is_err());
        assert!(split_host_port("db:1", Some(2)).is_err());
    }

    #[test]
    fn failures_read_as_words() {
        let t = Duration::from_secs(3);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(failure(&refused, t), "refused");
        let timed = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(failure(&timed, t), "timed out after 3 s");
        assert_eq!(
            failure(&timed, Duration::from_millis(500)),
            "timed out after 0.5 s"
        );
        let unreach = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert_eq!(failure(&unreach, t), "unreachable");
    }

    #[test]
    fn a_local_listener_connects_and_a_closed_port_refuses() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
        drop(l);
        let e = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
        assert_eq!(failure(&e, Duration::from_secs(1)), "refused");
    }
}
