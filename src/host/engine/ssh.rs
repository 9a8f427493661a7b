//! Engines behind ssh (`-H ssh://[USER@]HOST[:PORT]`, `DOCKER_HOST`, a
//! context), reached the docker CLI's way: every connection to the engine is
//! one `ssh ... HOST -- docker system dial-stdio`, whose stdin and stdout
//! carry the HTTP. The `ssh` on `PATH` is used as the user set it up: its
//! config (`~/.ssh/config`), agent, keys and known hosts; nosh adds no
//! options of its own but the docker CLI's (`-T`, `ConnectTimeout=30`).
//!
//! The remote side needs the docker CLI (`docker system dial-stdio` connects
//! it to the remote engine's default socket).
//!
//! Three users of it: bollard's API calls (through [`Connector`], pooled
//! like any HTTP connection), the attach and wait connections of
//! [`crate::host::engine::wire`], and the watchdog's blocking requests ([`blocking`]).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The remote end: `ssh://[USER@]HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDest {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshDest {
    /// Parses `ssh://[USER@]HOST[:PORT]`; `None` for anything else (a path
    /// after the host, an empty host, a bad port), as the docker CLI
    /// refuses them too.
    pub fn parse(url: &str) -> Option<SshDest> {
        let rest = url.strip_prefix("ssh://")?.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') || rest.contains('#') {
            return None;
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hp)) if !user.is_empty() => (Some(user.to_string()), hp),
            Some(_) => return None,
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            match after.strip_prefix(':') {
                Some(p) => (host.to_string(), Some(p.parse().ok()?)),
                None if after.is_empty() => (host.to_string(), None),
                None => return None,
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
                None => (hostport.to_string(), None),
            }
        };
        // A host starting with '-' would be read by ssh as an option.
        if host.is_empty()
            || host.starts_with('-')
            || user.as_deref().is_some_and(|u| u.starts_with('-'))
        {
            return None;
        }
        Some(SshDest { user, host, port })
    }

    /// The arguments of `ssh`, as the docker CLI passes them (its
    /// `connhelper/ssh`): `-T` (no terminal: the stream is binary), a
    /// connect timeout, `-l USER`, `-p PORT`, then `--`, the host and the
    /// remote command.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["-o".into(), "ConnectTimeout=30".into(), "-T".into()];
        if let Some(user) = &self.user {
            args.extend(["-l".into(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".into(), port.to_string()]);
        }
        args.extend(["--".into(), self.host.clone()]);
        args.extend(["docker", "system", "dial-stdio"].map(String::from));
        args
    }
}

impl fmt::Display for SshDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Runs ssh in a session of its own, as the docker CLI does: a Ctrl-C meant
/// for nosh (which then removes the sidecar through another connection) must
/// not cut this connection first, and with no controlling terminal ssh
/// fails at once where it would prompt (a passphrase, an unknown host key)
/// instead of waiting on a terminal it does not own.
fn own_session() -> io::Result<()> {
    nix::unistd::setsid().map(drop).map_err(io::Error::from)
}

fn cannot_run(e: io::Error) -> io::Error {
    // Not NotFound as is: that would read as "no such socket".
    io::Error::other(format!("cannot run ssh: {e}"))
}

/// One connection: a running `ssh ... docker system dial-stdio`.
pub struct SshStream {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl SshStream {
    /// Starts ssh in a session of its own (see [`own_session`]).
    pub fn connect(dest: &SshDest) -> io::Result<SshStream> {
        let mut command = Command::new("ssh");
        command
            .args(dest.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: `own_session` only calls setsid(2), which is
        // async-signal-safe, between fork and exec.
        unsafe { command.pre_exec(own_session) };
        let mut child = command.spawn().map_err(cannot_run)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("ssh started without pipes"));
        };
        Ok(SshStream {
            child,
            stdin: Some(stdin),
            stdout,
        })
    }

    /// Why the connection ended before the engine answered: the last line
    /// ssh (or the remote docker CLI) wrote on stderr, once it has exited.
    pub async fn failure(&mut self) -> Option<String> {
        let mut stderr = self.child.stderr.take()?;
        let mut text = Vec::new();
        let read = async {
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        last_line(&text)
    }
}

fn last_line(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| crate::term::escape::field(l.as_bytes()).into_owned())
}

impl AsyncRead for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_write(cx, buf),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes ssh's stdin: `dial-stdio` half-closes its connection to the
    /// engine, as a half-closed socket would.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// bollard's connections: each a new ssh, kept in hyper's pool.
#[derive(Clone)]
pub struct Connector {
    pub dest: SshDest,
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = TokioIo<SshStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<SshStream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: hyper::Uri) -> Self::Future {
        let connected = SshStream::connect(&self.dest).map(TokioIo::new);
        Box::pin(async move { connected })
    }
}

/// A bollard client whose connections are ssh processes.
pub fn client(
    dest: &SshDest,
    timeout: u64,
    version: &bollard::ClientVersion,
) -> Result<bollard::Docker, bollard::errors::Error> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(Connector { dest: dest.clone() });
    let client = std::sync::Arc::new(client);
    bollard::Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let client = std::sync::Arc::clone(&client);
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        // Only the path of the URI matters; this names the scheme and host.
        Some("http://docker"),
        timeout,
        version,
    )
}

/// For the watchdog (a forked, single-threaded process with no runtime):
/// sends `request` through a fresh ssh and returns all it answers.
pub fn blocking(dest: &SshDest, request: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new("ssh");
    command
        .args(dest.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: `own_session` only calls setsid(2), which is async-signal-safe,
    // between fork and exec.
    unsafe { command.pre_exec(own_session) };
    let mut child = command.spawn().map_err(cannot_run)?;
    let mut answer = Vec::new();
    let result = (|| {
        child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?
            .write_all(request)?;
        child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?
            .read_to_end(&mut answer)
    })();
    let _ = child.kill();
    let _ = child.wait();
    result.map(|_| answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_parse_as_the_docker_cli_reads_them() {
        assert_eq!(
            SshDest::parse("ssh://ops@build-1:2222").unwrap(),
            SshDest {
                user: Some("ops".into()),
                host: "build-1".into(),
                port: Some(2222)
            }
        );
        let bare = SshDest::parse("ssh://build-1").unwrap();
        assert_eq!((bare.user, bare.port), (None, None));
        let v6 = SshDest::parse("ssh://root@[::1]:22").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "ssh://root@[::1]:22");
        for bad in [
            "ssh://",
            "ssh://host/var/run/docker.sock",
            "ssh://@host",
            "ssh://host:notaport",
            "ssh://-oProxyCommand=x",
            "ssh://-l@host",
            "tcp://host",
        ] {
            assert_eq!(SshDest::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ssh_runs_dial_stdio_with_the_docker_clis_options_and_the_host_after_dashes() {
        let dest = SshDest::parse("ssh://ops@build-1:2222").unwrap();
        assert_eq!(
            dest.args(),
            [
                "-o",
                "ConnectTimeout=30",
                "-T",
                "-l",
                "ops",
                "-p",
                "2222",
                "--",
                "build-1",
                "docker",
                "system",
                "dial-stdio"
            ]
        );
    }

    #[test]
    fn the_reason_of_a_failed_connection_is_the_last_line_escaped() {
        assert_eq!(
            last_line(b"Warning: x\nroot@h: Permission denied (publickey).\n\n").as_deref(),
            Some("root@h: Permission denied (publickey).")
        );
        assert_eq!(last_line(b"bad\x1b[2J\n").as_deref(), Some("bad\\e[2J"));
        assert_eq!(last_line(b""), None);
    }
}
