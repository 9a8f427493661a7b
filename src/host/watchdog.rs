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
//! It is forked before the async runtime exists: the process is
//! single-threaded then, so the child may run ordinary code.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use super::error::Endpoint;

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
    let mut id = None;
    let mut done = false;
    for line in BufReader::new(File::from(read)).lines() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("id ") {
            id = Some(rest.to_string());
        } else if line == "done" {
            done = true;
        }
    }
    if let (Some(id), false) = (id, done) {
        let _ = remove(endpoint, &id);
    }
}

/// `DELETE /containers/ID?force=1`, blocking, on a connection of its own.
fn remove(endpoint: &Endpoint, id: &str) -> std::io::Result<()> {
    let request = format!(
        "DELETE /containers/{id}?force=1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
    );
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
    }
    Ok(())
}
