//! The two engine calls made on our own connections instead of bollard's:
//!
//! - **attach**: bollard's attach decoder takes any chunk starting with a byte
//!   0x00–0x02 for a multiplex header, even on a TTY stream, so raw terminal
//!   output beginning with ^@ ^A ^B would be swallowed or stall the session.
//!   Here the hijacked stream is read raw, and demultiplexed by [`Demux`]
//!   only when the sidecar has no TTY.
//! - **wait**: it must be registered before the sidecar starts (auto-remove
//!   could otherwise delete it before we ask for its status). The engine
//!   registers the wait before it sends the response headers, so reading the
//!   headers here is the proof; bollard's wait stream yields nothing until
//!   the container is gone. A sidecar waits for its exit only: the engine
//!   removes it afterwards (auto-remove), about 100 ms nobody needs to wait.
//!
//! Both are plain HTTP/1.1 over the same unix socket, TCP address (TLS or
//! not) or ssh command as bollard's calls.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::host::engine::Engine;
use crate::host::error::{Endpoint, HostError, from_io};
use crate::toolbox::end_mark::Watch;

/// A connection to the engine.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Ssh(Box<crate::host::engine::ssh::SshStream>),
}

impl Conn {
    pub async fn open(endpoint: &Endpoint) -> Result<Conn, HostError> {
        match endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
            Endpoint::Tcp(addr) => TcpStream::connect(addr).await.map(Conn::Tcp),
            Endpoint::Tls(addr, files) => tls(addr, files).await,
            Endpoint::Ssh(dest) => {
                crate::host::engine::ssh::SshStream::connect(dest).map(|s| Conn::Ssh(Box::new(s)))
            }
        }
        .map_err(|e| from_io(endpoint, &e))
    }
}

async fn tls(addr: &str, files: &crate::host::engine::tls::TlsFiles) -> std::io::Result<Conn> {
    let config = crate::host::engine::tls::client_config(files)?;
    let name = crate::host::engine::tls::server_name(addr)?;
    let tcp = TcpStream::connect(addr).await?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(Conn::Tls(Box::new(stream)))
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Ssh(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Ssh(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Ssh(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    /// Half-closes the connection: the engine then closes the sidecar's
    /// stdin (it was created with `StdinOnce`), which ends the shell.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Ssh(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The status line and headers of a response, and the bytes read past them.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub chunked: bool,
    /// The `Api-Version` header: the newest API the engine speaks.
    pub api_version: Option<String>,
    pub rest: Vec<u8>,
}

/// Sends a bodiless request and reads the response head.
async fn request(conn: &mut Conn, method: &str, path: &str, extra: &str) -> std::io::Result<Head> {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: nosh\r\nContent-Length: 0\r\n{extra}\r\n"
    );
    conn.write_all(req.as_bytes()).await?;
    conn.flush().await?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let mut head = parse_head(&buf[..end])?;
            head.rest = buf[end + 4..].to_vec();
            return Ok(head);
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the engine closed the connection before answering",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "response head too long",
            ));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses `HTTP/1.1 200 OK\r\nHeader: value...` (without the blank line).
pub fn parse_head(head: &[u8]) -> std::io::Result<Head> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "malformed HTTP status line",
            )
        })?;
    let mut head = Head {
        status,
        chunked: false,
        api_version: None,
        rest: Vec::new(),
    };
    for line in lines {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            head.chunked = true;
        } else if key.eq_ignore_ascii_case("api-version") {
            head.api_version = Some(value.to_string());
        }
    }
    Ok(head)
}

/// Decodes a complete chunked body; stops at the last chunk.
pub fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(body, b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        body = &body[eol + 2..];
        if size == 0 || body.len() < size {
            out.extend_from_slice(&body[..size.min(body.len())]);
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}

/// Reads an error body (JSON `{"message": ...}`) into one line.
async fn error_of(conn: &mut Conn, head: Head) -> String {
    let mut body = head.rest;
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        conn.read_to_end(&mut body),
    )
    .await;
    let body = if head.chunked { dechunk(&body) } else { body };
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string())
}

/// `GET /_ping`: the engine's newest API version, from a header. Half a
/// millisecond, where `/version` (bollard's negotiation) takes about eight:
/// the engine collects its components' versions for it.
pub async fn ping(endpoint: &Endpoint) -> Result<Option<String>, HostError> {
    let mut conn = Conn::open(endpoint).await?;
    let head = match request(&mut conn, "GET", "/_ping", "Connection: close\r\n").await {
        Ok(head) => head,
        // ssh says why it could not reach the engine (refused, no key,
        // no docker CLI on the remote host): that is the reason to show.
        Err(e) => {
            let why = match &mut conn {
                Conn::Ssh(s) => s.failure().await,
                _ => None,
            };
            return Err(match why {
                Some(reason) => HostError::EngineUnreachable {
                    endpoint: endpoint.clone(),
                    reason,
                },
                None => from_io(endpoint, &e),
            });
        }
    };
    Ok(head.api_version)
}

/// "1.41" → (1, 41).
pub fn parse_api_version(v: &str) -> Option<(usize, usize)> {
    let (major, minor) = v.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A hijacked attach stream: `first` holds output bytes read with the head.
pub struct Attached {
    pub conn: Conn,
    pub first: Vec<u8>,
}

/// `POST /containers/ID/attach?stream=1&stdin=1&stdout=1&stderr=1`, upgraded
/// to a raw stream.
pub async fn attach(engine: &Engine, id: &str) -> Result<Attached, HostError> {
    let mut conn = Conn::open(&engine.endpoint).await?;
    let path = format!(
        "/{}/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1",
        engine.api_version
    );
    let head = request(
        &mut conn,
        "POST",
        &path,
        "Connection: Upgrade\r\nUpgrade: tcp\r\n",
    )
    .await
    .map_err(|e| HostError::Stream(format!("attach: {e}")))?;
    if head.status != 101 && head.status != 200 {
        let status = head.status;
        let msg = error_of(&mut conn, head).await;
        return Err(HostError::Stream(format!(
            "attach answered {status}: {msg}"
        )));
    }
    engine.log.say(|| "attached".into());
    Ok(Attached {
        conn,
        first: head.rest,
    })
}

/// A wait registered with the engine; [`Wait::status`] gives the exit status.
pub struct Wait {
    conn: Conn,
    head: Head,
}

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The container's next exit: the status is known as soon as the shell
    /// has exited, while the engine's auto-remove is still to come.
    Exited,
    /// Its removal: for a replica, whose helper and image can only go once
    /// the replica is gone.
    Removed,
}

impl Until {
    fn condition(self) -> &'static str {
        match self {
            // Not `not-running`: registered before the start, that would
            // answer at once for a container that is only created.
            Until::Exited => "next-exit",
            Until::Removed => "removed",
        }
    }
}

/// `POST /containers/ID/wait?condition=...`, returning once the engine
/// has registered it (it sends the headers after registering).
pub async fn wait(engine: &Engine, id: &str, until: Until) -> Result<Wait, HostError> {
    let mut conn = Conn::open(&engine.endpoint).await?;
    let path = format!(
        "/{}/containers/{id}/wait?condition={}",
        engine.api_version,
        until.condition()
    );
    let head = request(&mut conn, "POST", &path, "Connection: close\r\n")
        .await
        .map_err(|e| HostError::Stream(format!("wait: {e}")))?;
    if head.status != 200 {
        let status = head.status;
        let msg = error_of(&mut conn, head).await;
        return Err(HostError::Stream(format!("wait answered {status}: {msg}")));
    }
    engine.log.say(|| "wait registered".into());
    Ok(Wait { conn, head })
}

impl Wait {
    /// The container's exit status, once it has exited (or is removed).
    pub async fn status(mut self) -> Result<i64, HostError> {
        let mut body = std::mem::take(&mut self.head.rest);
        self.conn
            .read_to_end(&mut body)
            .await
            .map_err(|e| HostError::Stream(format!("wait: {e}")))?;
        let body = if self.head.chunked {
            dechunk(&body)
        } else {
            body
        };
        parse_wait_body(&body)
    }
}

/// `{"StatusCode":3,"Error":null}` → 3. An `Error.Message` means the engine
/// could not tell the status.
pub fn parse_wait_body(body: &[u8]) -> Result<i64, HostError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HostError::Stream(
            "the engine closed the connection before the session ended".into(),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        HostError::Stream(format!(
            "wait: unreadable answer {:?} ({e})",
            String::from_utf8_lossy(body)
        ))
    })?;
    if let Some(msg) = v
        .get("Error")
        .and_then(|e| e.get("Message"))
        .and_then(|m| m.as_str())
        .filter(|m| !m.is_empty())
    {
        return Err(HostError::Stream(format!("wait: {msg}")));
    }
    v.get("StatusCode")
        .and_then(|c| c.as_i64())
        .ok_or_else(|| HostError::Stream("wait: no StatusCode in the answer".into()))
}

/// Which local stream a piece of sidecar output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Stdout,
    Stderr,
}

/// Splits the engine's multiplexed stream (no TTY): frames of an 8-byte
/// header — stream type (0 stdin, 1 stdout, 2 stderr), three zero bytes, a
/// big-endian u32 length — then the payload. Made [`Demux::marked`], it
/// also takes the toolbox's end mark out of both streams
/// ([`crate::toolbox::end_mark`]).
#[derive(Debug, Default)]
pub struct Demux {
    buf: Vec<u8>,
    mark: Option<Watch>,
}

impl Demux {
    /// A demux that watches for the end mark with `value`, when there is one.
    pub fn marked(value: Option<&str>) -> Demux {
        Demux {
            buf: Vec::new(),
            mark: value.map(Watch::new),
        }
    }

    /// The status the toolbox's end mark carried, once both streams did.
    pub fn mark_status(&self) -> Option<u8> {
        self.mark.as_ref().and_then(Watch::status)
    }

    /// At the end of the stream: what the mark's watch still held back, as
    /// frames (none for an unmarked demux).
    pub fn rest(&mut self) -> Vec<(Channel, Vec<u8>)> {
        let Some(mark) = &mut self.mark else {
            return Vec::new();
        };
        let [out, err] = mark.rest();
        [(Channel::Stdout, out), (Channel::Stderr, err)]
            .into_iter()
            .filter(|(_, bytes)| !bytes.is_empty())
            .collect()
    }

    /// Feeds bytes; returns the complete frames they finish (past the
    /// mark's watch: what may begin a mark waits for the next bytes).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<(Channel, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0;
        while self.buf.len() - at >= 8 {
            let h = &self.buf[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if self.buf.len() - at - 8 < len {
                break;
            }
            let channel = if h[0] == 2 {
                Channel::Stderr
            } else {
                Channel::Stdout
            };
            let payload = &self.buf[at + 8..at + 8 + len];
            let payload = match &mut self.mark {
                Some(mark) => mark.filter(channel == Channel::Stderr, payload),
                None => payload.to_vec(),
            };
            out.push((channel, payload));
            at += 8 + len;
        }
        self.buf.drain(..at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![kind, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn demux_splits_stdout_and_stderr_across_arbitrary_chunking() {
        let mut all = frame(1, b"out\n");
        all.extend(frame(2, b"err\n"));
        all.extend(frame(1, b"\x00\x01\x02 binary"));
        for cut in 0..all.len() {
            let mut d = Demux::default();
            let mut got = d.push(&all[..cut]);
            got.extend(d.push(&all[cut..]));
            assert_eq!(
                got,
                [
                    (Channel::Stdout, b"out\n".to_vec()),
                    (Channel::Stderr, b"err\n".to_vec()),
                    (Channel::Stdout, b"\x00\x01\x02 binary".to_vec()),
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_marked_demux_takes_the_end_mark_out_of_both_streams() {
        use crate::toolbox::end_mark;
        let value = "00112233445566778899aabbccddeeff";
        let mark = end_mark::line(value, 4);
        // The mark split over two frames on stdout, whole on stderr.
        let (head, tail) = mark.split_at(7);
        let mut all = frame(1, &[b"out\n".as_slice(), head].concat());
        all.extend(frame(1, tail));
        all.extend(frame(2, &[b"err\n".as_slice(), &mark].concat()));
        let mut d = Demux::marked(Some(value));
        let shown: Vec<(Channel, Vec<u8>)> = d
            .push(&all)
            .into_iter()
            .filter(|(_, bytes)| !bytes.is_empty())
            .collect();
        assert_eq!(
            shown,
            [
                (Channel::Stdout, b"out\n".to_vec()),
                (Channel::Stderr, b"err\n".to_vec()),
            ]
        );
        assert_eq!(d.mark_status(), Some(4));
        assert!(d.rest().is_empty());
        // Unmarked, the same bytes are plain output.
        let mut plain = Demux::default();
        assert_eq!(plain.mark_status(), None);
        let out: Vec<u8> = plain
            .push(&all)
            .into_iter()
            .filter(|(c, _)| *c == Channel::Stdout)
            .flat_map(|(_, b)| b)
            .collect();
        assert_eq!(out, [b"out\n".as_slice(), &mark].concat());
    }

    #[test]
    fn response_heads_parse_status_and_chunking() {
        let h = parse_head(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade").unwrap();
        assert_eq!(h.status, 101);
        assert!(!h.chunked);
        let h = parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked").unwrap();
        assert!(h.chunked);
        let h = parse_head(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false")
            .unwrap();
        assert_eq!(h.api_version.as_deref(), Some("1.41"));
        assert_eq!(parse_api_version("1.41"), Some((1, 41)));
        assert_eq!(parse_api_version("x"), None);
        assert!(parse_head(b"garbage").is_err());
    }

    #[test]
    fn chunked_wait_bodies_decode() {
        let body = b"1e\r\n{\"Error\":null,\"StatusCode\":3}\n\r\n0\r\n\r\n";
        assert_eq!(parse_wait_body(&dechunk(body)).unwrap(), 3);
        assert_eq!(parse_wait_body(b"{\"StatusCode\":0}").unwrap(), 0);
        assert!(parse_wait_body(b"{\"StatusCode\":0,\"Error\":{\"Message\":\"boom\"}}").is_err());
        // A cut connection is said in words, not as a JSON error.
        let cut = parse_wait_body(b"").unwrap_err().to_string();
        assert!(cut.contains("closed the connection"), "{cut}");
    }
}
