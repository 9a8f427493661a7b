//! `nosh toolbox --pid N --forward ADDR:PORT`: one connection of `nosh
//! port-forward`, run in a sidecar that shares the target's network (and PID)
//! namespace through the engine. It needs nothing else of the target: no
//! `setns`, no mount namespace, so its sidecar gets no capability beyond the
//! engine's defaults.
//!
//! 0. (the caller) N is the target's own process, chosen as for the shell
//!    ([`super::find`]): with `--pid host` that is the app, not the host's
//!    init;
//! 1. read N's identity from `/proc/N/status` (kernel data, not a target file);
//! 2. drop to it with no capabilities and verify, as the shell does;
//! 3. connect to ADDR:PORT in the shared network namespace;
//! 4. copy stdin to the socket and the socket to stdout until the socket
//!    ends; the end of stdin half-closes the socket, so a client that
//!    half-closes still gets its answer.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;

use super::{drop, identity};
use crate::sys::RealCredentials;
use crate::target::procinfo::Proc;

/// Where to connect: an IP address and a port (names are the host half's
/// business: it sends addresses only).
pub fn parse_addr(spec: &str) -> Result<SocketAddr, String> {
    spec.parse::<SocketAddr>()
        .map_err(|_| format!("--forward wants IP:PORT, got {spec:?}"))
}

/// Steps 1–4; the exit status (0 when the connection ended, 1 when it could
/// not be made).
pub fn run(
    pid: i32,
    user: Option<&str>,
    root: bool,
    spec: &str,
) -> Result<u8, Box<dyn std::error::Error>> {
    let addr = parse_addr(spec)?;
    // 1.
    let status = Proc::new("/proc")
        .status(pid)
        .map_err(|e| format!("failed to read the status of process {pid}: {e}"))?;
    let (identity, _) = identity::choose(&status, user, root)?;
    let self_dir: OwnedFd = open(
        "/proc/self",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // 2.
    drop::drop_privileges(&mut RealCredentials, &identity)?;
    drop::verify(&self_dir, &identity)?;
    // 3.
    let socket = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nosh: cannot connect to {addr} in the target's network: {e}");
            return Ok(1);
        }
    };
    // 4.
    copy(&socket)?;
    Ok(0)
}

/// Copies both ways with poll(2), single-threaded.
fn copy(socket: &TcpStream) -> io::Result<()> {
    // Unbuffered: poll(2) must see every byte not yet read.
    let mut stdin = std::fs::File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut stdout = io::stdout().lock();
    let mut sock_read = socket;
    let mut sock_write = socket;
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin_open = true;
    loop {
        let mut fds = vec![PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready = |fd: &PollFd| {
            fd.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let from_socket = ready(&fds[0]);
        let from_stdin = stdin_open && ready(&fds[1]);
        drop(fds);
        if from_socket {
            let n = match sock_read.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A reset by the service ends the connection like a close.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return stdout.flush();
            }
            stdout.write_all(&buf[..n])?;
            stdout.flush()?;
        }
        if from_stdin {
            let n = match stdin.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                stdin_open = false;
                let _ = socket.shutdown(Shutdown::Write);
            } else if sock_write.write_all(&buf[..n]).is_err() {
                // The service closed its end: what it sent is still read.
                stdin_open = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_addresses_are_ip_and_port() {
        assert_eq!(parse_addr("127.0.0.1:80").unwrap().port(), 80);
        assert!(parse_addr("[::1]:8080").unwrap().is_ipv6());
        assert!(parse_addr("db:5432").is_err());
        assert!(parse_addr("127.0.0.1").is_err());
    }
}
