//! Removing the sidecar even when this client is killed with SIGKILL.
//!
//! Without a TTY, the engine closes the sidecar's stdin when our attach
//! connection drops (`StdinOnce`), and the shell exits on EOF. With a TTY it
//! does not: moby closes a TTY container's stdin never, only its output
//! streams, so a `kill -9` of the client would leave the shell waiting on its
//! terminal forever. So a small process forked before anything else watches
//! a pipe from this one: it learns the sidecar's id, and if the pipe closes
//! before it hears "done", it force-removes the sidecar itself.
//!
//! A replica session leaves two more things: the toolbox helper container
//! (with the volume that carries the binary) and the temporary image the
//! stopped container was committed to. Neither can go while the replica
//! uses them, so after removing the replica the watchdog waits until the
//! engine no longer knows it, then removes the helper with its volume and
//! the image.
//!
//! It is forked before the async runtime exists: the process is
//! single-threaded then, so the child may run ordinary code.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::host::error::Endpoint;

/// The client's end of the pipe to the watchdog process.
pub struct Watchdog {
    pipe: File,
}

impl Watchdog {
    /// Forks the watchdog. `None` if that fails: the session still works, a
    /// SIGKILL of it may then leave a TTY sidecar for `nosh gc`.
    ///
    /// Must be called while the process has a single thread.
    pub fn start(endpoint: Endpoint) -> Option<Watchdog> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
        // SAFETY: called from `host::attach` before the runtime or any other
        // thread is started, so the child is a full copy of a
        // single-threaded process and may allocate and do I/O.
        match unsafe { nix::unistd::fork() }.ok()? {
            nix::unistd::ForkResult::Child => {
                drop(write);
                watch(read, &endpoint);
                // Never return into the caller's code in the child.
                std::process::exit(0);
            }
            nix::unistd::ForkResult::Parent { .. } => {
                drop(read);
                Some(Watchdog {
                    pipe: File::from(write),
                })
            }
        }
    }

    /// The sidecar exists: remove it if this process dies.
    pub fn guard(&mut self, id: &str) {
        let _ = writeln!(self.pipe, "id {id}");
    }

    /// A sidecar guarded earlier ended by itself (a port-forward's
    /// connection): nothing to remove for it.
    pub fn ended(&mut self, id: &str) {
        let _ = writeln!(self.pipe, "end {id}");
    }

    /// A replica's toolbox helper container exists: remove it, and its
    /// volume, once the replica is gone, if this process dies.
    pub fn helper(&mut self, id: &str) {
        let _ = writeln!(self.pipe, "helper {id}");
    }

    /// A temporary image exists under `tag` (`nosh-replica:...`): remove
    /// that tag once the replica is gone, if this process dies. By tag, not
    /// by ID: an image the user tagged as well keeps the user's tag.
    pub fn image(&mut self, tag: &str) {
        let _ = writeln!(self.pipe, "image {tag}");
    }

    /// The session ended cleanly: nothing to remove.
    pub fn done(&mut self) {
        let _ = writeln!(self.pipe, "done");
    }
}

/// The watchdog process: detach from the terminal and the caller's stdio,
/// wait for the pipe to close, remove the sidecar if the session did not end.
fn watch(read: OwnedFd, endpoint: &Endpoint) {
    // Its own session: Ctrl-C, a closed terminal or a job-control signal to
    // the client's process group must not reach it.
    let _ = nix::unistd::setsid();
    // Holding the caller's stdout would keep `$(nosh ...)` or a test's
    // pipe open after the client exits.
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors of this
            // single-threaded child; `null` stays open for the call.
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
        }
    }
    let mut left = Leftovers::default();
    let mut done = false;
    for line in BufReader::new(File::from(read)).lines() {
        let Ok(line) = line else { break };
        if line == "done" {
            done = true;
        } else {
            left.note(&line);
        }
    }
    if !done {
        left.remove(endpoint);
    }
}

/// What a session made, as the client reported it.
#[derive(Debug, Default, PartialEq)]
struct Leftovers {
    /// Sidecars: one for a session, one per live connection of a
    /// port-forward.
    containers: Vec<String>,
    helper: Option<String>,
    image: Option<String>,
}

impl Leftovers {
    fn note(&mut self, line: &str) {
        let (kind, id) = line.split_once(' ').unwrap_or((line, ""));
        // Ids come from the engine; anything that is not one is ignored
        // rather than put into a request line.
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-.".contains(&b))
            || id.contains("..")
        {
            return;
        }
        let slot = match kind {
            "id" => {
                self.containers.push(id.to_string());
                return;
            }
            "end" => {
                self.containers.retain(|c| c != id);
                return;
            }
            "helper" => &mut self.helper,
            "image" => &mut self.image,
            _ => return,
        };
        *slot = Some(id.to_string());
    }

    /// In order:
    /// 1. the session's containers, forcibly;
    /// 2. wait until the engine no longer knows it (an auto-remove may be in
    ///    flight, and a volume or an image in use cannot be removed);
    /// 3. the helper with its volume;
    /// 4. the image.
    fn remove(&self, endpoint: &Endpoint) {
        for id in &self.containers {
            let _ = request(endpoint, "DELETE", &format!("/containers/{id}?force=1"));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        for id in &self.containers {
            while std::time::Instant::now() < deadline {
                match request(endpoint, "GET", &format!("/containers/{id}/json")) {
                    Ok(404) | Err(_) => break,
                    Ok(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        if let Some(id) = &self.helper {
            let _ = request(endpoint, "DELETE", &format!("/containers/{id}?force=1&v=1"));
        }
        if let Some(id) = &self.image {
            let _ = request(endpoint, "DELETE", &format!("/images/{id}?force=1"));
        }
    }
}

/// A bodiless request, blocking, on a connection of its own; the HTTP status.
fn request(endpoint: &Endpoint, method: &str, path: &str) -> std::io::Result<u16> {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    match endpoint {
        Endpoint::Unix(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            s.write_all(request.as_bytes())?;
            s.read_to_end(&mut answer)?;
        }
        Endpoint::Tcp(addr) => {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            s.write_all(request.as_bytes())?;
            s.read_to_end(&mut answer)?;
        }
        Endpoint::Tls(addr, files) => {
            let config = crate::host::engine::tls::client_config(files)?;
            let name = crate::host::engine::tls::server_name(addr)?;
            let conn =
                rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
            let tcp = std::net::TcpStream::connect(addr)?;
            tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
            let mut s = rustls::StreamOwned::new(conn, tcp);
            s.write_all(request.as_bytes())?;
            // The engine may close without close_notify: what was read counts.
            if let Err(e) = s.read_to_end(&mut answer)
                && answer.is_empty()
            {
                return Err(e);
            }
        }
        Endpoint::Ssh(dest) => {
            answer = crate::host::engine::ssh::blocking(dest, request.as_bytes())?
        }
    }
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    crate::host::engine::wire::parse_head(&answer[..end]).map(|h| h.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipe_protocol_collects_what_to_remove() {
        let mut left = Leftovers::default();
        for line in [
            "id abc123",
            "helper def456",
            "image sha256:0f0f",
            "image nosh-replica:0123-ab.c",
            "image ../../etc",
            "bogus x",
            "id fwd1",
            "id fwd2",
            "end fwd1",
        ] {
            left.note(line);
        }
        assert_eq!(
            left,
            Leftovers {
                containers: vec!["abc123".into(), "fwd2".into()],
                helper: Some("def456".into()),
                image: Some("nosh-replica:0123-ab.c".into()),
            }
        );
    }
}
