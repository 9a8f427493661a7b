//! A copy's bytes over a socket of the host instead of the engine's attach
//! stream.
//!
//! The engine relays a container's stdout and stdin through several
//! processes and copies (a 100 MB `nosh cp` spent seconds there). When
//! `nosh cp` reaches a local engine it offers a socket of its own: a
//! directory of the host, made for this copy and readable by its user
//! only, is mounted at [`DIR`] in the sidecar (never in the target). The
//! toolbox connects to it before anything else, as the sidecar's root, and
//! makes it its stdin and stdout; what the shell then copies never passes
//! through the engine. When the socket is not reachable (a remote engine:
//! the directory there is empty; a remapped root that may not connect), it
//! says so with [`OVER_ATTACH`] on its stdout, and the copy takes the
//! attach stream as any session does.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Where the host's directory is mounted in the sidecar or replica.
pub const DIR: &str = "/.nosh-stream";
/// The socket in it.
pub const SOCKET: &str = "socket";
/// The first line on stdout when the copy goes over the attach stream.
pub const OVER_ATTACH: &[u8] = b"nosh-stream: attach\n";

/// Takes the socket the host offers as stdin and stdout, or says on
/// stdout that there is none. Does nothing in a session that was offered
/// none (no [`DIR`]). Call it before anything is written to stdout.
/// Whether stdout is the socket now.
pub fn take_offered() -> bool {
    let dir = Path::new(DIR);
    if !dir.is_dir() {
        return false;
    }
    if let Ok(conn) = UnixStream::connect(dir.join(SOCKET)) {
        let moved = nix::unistd::dup2_stdin(conn.as_fd())
            .and_then(|()| nix::unistd::dup2_stdout(conn.as_fd()));
        if let Err(e) = moved {
            // dup2 onto open descriptors does not fail in practice; half a
            // move would leave no stream to copy over.
            eprintln!("nosh: cannot take the copy's stream: {e}");
            std::process::exit(i32::from(crate::EXIT_NOSH_FAILED));
        }
        return true;
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(OVER_ATTACH);
    let _ = out.flush();
    false
}
