//! `http URL [-i] [-k] [--timeout S] [--max-body BYTES]`.
//!
//! A hand-written HTTP/1.1 GET: the health check people run with curl,
//! which shell-less images do not have. TLS is rustls with the ring
//! provider (no C library, static), verified against the target's own CA
//! bundle, so a certificate problem shows as the app would meet it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::connect::{failure, lookup, timeout};
use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// GET a URL as the app would (HTTP/1.1, HTTPS with the target's CA bundle)
///
/// Sends the request from the target's network namespace and prints the status line,
/// the headers with -i, and the body (escaped on a terminal). Names are
/// resolved through the target's /etc/hosts and resolv.conf.
///
/// Exit 0 for a 2xx or 3xx status (redirects are not followed), 1 for any
/// other status or a failure to connect, 2 for a bad URL.
#[derive(Parser)]
#[command(name = "http", disable_version_flag = true)]
pub struct Http {
    /// Show the response headers.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Do not verify the server's certificate.
    #[arg(short = 'k', long = "insecure")]
    insecure: bool,
    /// Seconds to wait for the connection and for each read.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    timeout: f64,
    /// Read at most this many bytes of body.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_body: usize,
    /// http://HOST[:PORT]/PATH or https://...
    url: String,
}

/// The CA bundles distributions and distroless images ship, in order.
pub const CA_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if s.contains("://") {
            return Err(format!(
                "unsupported scheme in {s}: use http:// or https://"
            ));
        } else {
            (false, s)
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        if authority.contains('@') {
            return Err("user names and passwords in URLs are not supported".into());
        }
        let default = if tls { 443 } else { 80 };
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or("missing ']' in the host")?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("no host in {s}"));
        }
        let port = match port {
            None | Some("") => default,
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("invalid port {p}"))?,
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) || host.bytes().any(|b| b <= b' ') {
            return Err("spaces and control characters must be percent-encoded".into());
        }
        Ok(Url {
            tls,
            host,
            port,
            path,
        })
    }

    /// The Host header: the port only when it is not the default.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nosh/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            self.path,
            self.host_header(),
            env!("CARGO_PKG_VERSION")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Io(#[from] io::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// As received, without CRLF.
    pub status_line: Vec<u8>,
    /// Header lines as received, without CRLF.
    pub headers: Vec<Vec<u8>>,
    pub body: Vec<u8>,
    /// The body was longer than the limit.
    pub truncated: bool,
}

impl Response {
    /// The value of the last header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().rev().find_map(|h| {
            let s = String::from_utf8_lossy(h);
            let (k, v) = s.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Longest status or header line, and most header lines, accepted.
const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 200;

/// One CRLF- (or LF-) terminated line; error on EOF before a newline.
fn line(r: &mut impl BufRead) -> Result<Vec<u8>, HttpError> {
    let mut buf = Vec::new();
    r.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() as u64 >= MAX_LINE {
            HttpError::Malformed("line too long")
        } else {
            HttpError::Malformed("connection closed in the headers")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(buf)
}

/// Read at most `n` bytes into `out`; fewer only at EOF. A TLS peer that
/// closes without close_notify ends the body like a plain EOF.
fn read_up_to(r: &mut impl Read, n: usize, out: &mut Vec<u8>) -> io::Result<usize> {
    match r.take(n as u64).read_to_end(out) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        other => other,
    }
}

/// How often a read waiting on the server looks for Ctrl-C.
const WATCH_SLICE: Duration = Duration::from_millis(200);

/// The connection, read in slices of [`WATCH_SLICE`] so that Ctrl-C stops a
/// server that trickles its answer; a read still fails after `limit` of
/// silence, as the user's `--timeout` says.
struct Watched {
    sock: TcpStream,
    limit: Duration,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = std::time::Instant::now();
        loop {
            if crate::shell::interrupted() {
                // Not ErrorKind::Interrupted: read loops retry that one.
                return Err(io::Error::other("interrupted"));
            }
            match self.sock.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && start.elapsed() < self.limit =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }
}

impl Write for Watched {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// Interim (1xx) responses skipped before giving up.
const MAX_INTERIM: usize = 16;

/// Read a response to a GET: skip 1xx interim responses, then the status
/// line, headers, and a body framed by chunked encoding, Content-Length or
/// the end of the connection, keeping at most `max_body` bytes.
pub fn read_response(r: &mut impl BufRead, max_body: usize) -> Result<Response, HttpError> {
    // A hostile server could send interim responses forever.
    let mut interim = 0;
    let (status, status_line, headers) = loop {
        interim += 1;
        if interim > MAX_INTERIM {
            return Err(HttpError::Malformed("too many 1xx interim responses"));
        }
        let status_line = line(r)?;
        let text = String::from_utf8_lossy(&status_line);
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(HttpError::Malformed("not an HTTP/1.x status line"));
        }
        let status: u16 = parts
            .next()
            .filter(|s| s.len() == 3)
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..600).contains(s))
            .ok_or(HttpError::Malformed("bad status code"))?;
        let mut headers = Vec::new();
        loop {
            let h = line(r)?;
            if h.is_empty() {
                break;
            }
            if headers.len() == MAX_HEADERS {
                return Err(HttpError::Malformed("too many headers"));
            }
            headers.push(h);
        }
        if (100..200).contains(&status) {
            continue;
        }
        break (status, status_line, headers);
    };
    let mut resp = Response {
        status,
        status_line,
        headers,
        body: Vec::new(),
        truncated: false,
    };
    if status == 204 || status == 304 {
        return Ok(resp);
    }
    let chunked = resp.header("transfer-encoding").is_some_and(|te| {
        te.rsplit(',')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("chunked")
    });
    if chunked {
        loop {
            let size_line = line(r)?;
            let size_text = String::from_utf8_lossy(&size_line);
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| HttpError::Malformed("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line (or EOF: be lenient), as
                // many as headers: a hostile server could send them forever.
                let mut trailers = 0;
                while let Ok(t) = line(r) {
                    if t.is_empty() {
                        break;
                    }
                    trailers += 1;
                    if trailers > MAX_HEADERS {
                        return Err(HttpError::Malformed("too many trailers"));
                    }
                }
                break;
            }
            let room = max_body - resp.body.len();
            if size > room {
                read_up_to(r, room, &mut resp.body)?;
                resp.truncated = true;
                break;
            }
            if read_up_to(r, size, &mut resp.body)? < size {
                return Err(HttpError::Malformed("connection closed inside a chunk"));
            }
            line(r)?;
        }
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| HttpError::Malformed("bad Content-Length"))?;
        let want = len.min(max_body);
        if read_up_to(r, want, &mut resp.body)? < want {
            return Err(HttpError::Malformed(
                "connection closed before Content-Length bytes",
            ));
        }
        resp.truncated = len > max_body;
    } else {
        read_up_to(r, max_body.saturating_add(1), &mut resp.body)?;
        if resp.body.len() > max_body {
            resp.body.truncate(max_body);
            resp.truncated = true;
        }
    }
    Ok(resp)
}

/// `-k`: accept any certificate, but still check that the server holds
/// the key of the one it sent (the handshake signature).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The target's CA bundle: its path and the certificates parsed from it.
pub fn load_roots(ctx: &Ctx) -> Option<(&'static str, RootCertStore)> {
    for path in CA_BUNDLES {
        let real = ctx.resolve(path);
        if !real.exists() {
            continue;
        }
        let pem = crate::target::file::read_or_note(
            path,
            &real,
            crate::target::file::DATABASE_CAP,
            "looking for another CA bundle",
        );
        if pem.is_empty() {
            continue;
        }
        let mut roots = RootCertStore::empty();
        roots
            .add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok));
        return Some((path, roots));
    }
    None
}

fn tls_config(roots: Option<RootCertStore>) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    Ok(match roots {
        Some(roots) => builder.with_root_certificates(roots).with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth(),
    })
}

/// A failure worth one sentence, and the exit status.
struct Fail(String, i32);

impl Http {
    fn fetch(&self, ctx: &Ctx, url: &Url, limit: Duration) -> Result<Response, Fail> {
        let shown_host = escape::field(url.host.as_bytes()).into_owned();
        // 1. Certificates first: without a bundle there is nothing to try.
        let roots = if url.tls && !self.insecure {
            match load_roots(ctx) {
                Some((_, roots)) if !roots.is_empty() => Some(roots),
                Some((path, _)) => {
                    return Err(Fail(
                        format!(
                            "the target's CA bundle {path} holds no certificate: TLS clients in this image will fail too (-k skips verification)"
                        ),
                        1,
                    ));
                }
                None => {
                    return Err(Fail(
                        format!(
                            "no CA bundle in the target ({}): TLS clients in this image will fail too (-k skips verification)",
                            CA_BUNDLES.join(", ")
                        ),
                        1,
                    ));
                }
            }
        } else {
            None
        };
        // 2. Resolve and connect, address by address.
        let (addrs, _) = lookup(ctx, &url.host).map_err(|e| Fail(e, 1))?;
        let mut errors = Vec::new();
        let mut sock = None;
        for ip in addrs {
            let addr = SocketAddr::new(ip, url.port);
            match TcpStream::connect_timeout(&addr, limit) {
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => errors.push(format!("{addr} {}", failure(&e, limit))),
            }
        }
        let Some(sock) = sock else {
            return Err(Fail(
                format!("cannot connect to {shown_host}: {}", errors.join("; ")),
                1,
            ));
        };
        let io_fail = |e: io::Error| Fail(format!("{shown_host}: {}", failure(&e, limit)), 1);
        sock.set_read_timeout(Some(limit.min(WATCH_SLICE)))
            .map_err(io_fail)?;
        sock.set_write_timeout(Some(limit)).map_err(io_fail)?;
        let sock = Watched { sock, limit };
        let request = url.request();
        let read = |stream: &mut dyn Read| {
            read_response(&mut BufReader::new(stream), self.max_body).map_err(|e| match e {
                HttpError::Io(e) => io_fail(e),
                e => Fail(format!("{shown_host}: {e}"), 1),
            })
        };
        let mut sock = sock;
        if !url.tls {
            sock.write_all(request.as_bytes()).map_err(io_fail)?;
            return read(&mut sock);
        }
        // 3. TLS: handshake explicitly so its failure reads as one.
        let config = tls_config(roots).map_err(|e| Fail(format!("cannot set up TLS: {e}"), 1))?;
        let name = ServerName::try_from(url.host.clone())
            .map_err(|_| Fail(format!("{shown_host} is not a valid TLS server name"), 2))?;
        let mut conn = ClientConnection::new(Arc::new(config), name)
            .map_err(|e| Fail(format!("cannot start TLS: {e}"), 1))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                let why = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(tls) => tls.to_string(),
                    None => failure(&e, limit),
                };
                return Err(Fail(
                    format!(
                        "TLS handshake with {shown_host} failed: {}",
                        escape::field(why.as_bytes())
                    ),
                    1,
                ));
            }
        }
        let mut stream = rustls::StreamOwned::new(conn, sock);
        stream.write_all(request.as_bytes()).map_err(io_fail)?;
        read(&mut stream)
    }
}

impl Builtin for Http {
    const NAME: &'static str = "http";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let Some(limit) = timeout(self.timeout) else {
            writeln!(
                io.err,
                "http: --timeout must be a positive number of seconds"
            )?;
            return Ok(2);
        };
        let url = match Url::parse(&self.url) {
            Ok(u) => u,
            Err(e) => {
                writeln!(io.err, "http: {}", escape::field(e.as_bytes()))?;
                return Ok(2);
            }
        };
        let resp = match self.fetch(ctx, &url, limit) {
            Ok(r) => r,
            Err(Fail(msg, code)) => {
                writeln!(io.err, "http: {msg}")?;
                return Ok(code);
            }
        };
        writeln!(io.out, "{}", escape::field(&resp.status_line))?;
        if self.include {
            for h in &resp.headers {
                writeln!(io.out, "{}", escape::field(h))?;
            }
            writeln!(io.out)?;
        }
        if io.out.is_terminal() {
            io.out.write_all(escape::text(&resp.body).as_bytes())?;
            if !resp.body.is_empty() && !resp.body.ends_with(b"\n") {
                writeln!(io.out)?;
            }
        } else {
            io.out.write_all(&resp.body)?;
        }
        if resp.truncated {
            writeln!(
                io.err,
                "http: body cut at {} (--max-body raises the limit)",
                util::human(self.max_body as u64)
            )?;
        }
        Ok(if (200..400).contains(&resp.status) {
            0
        } else {
            1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8], max: usize) -> Result<Response, HttpError> {
        read_response(&mut io::Cursor::new(raw), max)
    }

    #[test]
    fn endless_interim_responses_are_refused() {
        let mut wire = Vec::new();
        for _ in 0..100 {
            wire.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        wire.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let err = read_response(&mut std::io::Cursor::new(wire), 1024).unwrap_err();
        assert!(err.to_string().contains("interim"), "{err}");
    }

    #[test]
    fn urls_parse() {
        let u = Url::parse("https://api.internal:8443/healthz?x=1#frag").unwrap();
        assert_eq!(
            u,
            Url {
                tls: true,
                host: "api.internal".into(),
                port: 8443,
                path: "/healthz?x=1".into()
            }
        );
        let u = Url::parse("http://[::1]/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 80));
        assert!(u.request().contains("\r\nHost: [::1]\r\n"));
        let u = Url::parse("127.0.0.1:8080").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (false, 8080, "/"));
        assert!(
            u.request()
                .starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
        );
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http://u:p@x/").is_err());
        assert!(Url::parse("http://x:0/").is_err());
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("http://x/a b").is_err());
        assert!(Url::parse("http://x/a\r\nInjected: 1").is_err());
    }

    #[test]
    fn content_length_body() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA",
            100,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.status_line, b"HTTP/1.1 200 OK");
        assert_eq!(r.headers.len(), 2);
        assert_eq!(r.body, b"hello");
        assert!(!r.truncated);
    }

    #[test]
    fn a_silent_server_times_out_after_the_limit_not_the_slice() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(WATCH_SLICE)).unwrap();
        let limit = Duration::from_millis(700);
        let mut watched = Watched { sock, limit };
        let start = std::time::Instant::now();
        let err = watched.read(&mut [0u8; 16]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        assert!(start.elapsed() >= limit, "{:?}", start.elapsed());
        assert!(start.elapsed() < limit + 2 * WATCH_SLICE + Duration::from_millis(500));
    }

    #[test]
    fn endless_chunked_trailers_are_refused() {
        let mut raw =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n".to_vec();
        for i in 0..100_000 {
            raw.extend_from_slice(format!("T{i}: x\r\n").as_bytes());
        }
        let mut reader = io::BufReader::new(&raw[..]);
        let err = read_response(&mut reader, 100).unwrap_err();
        assert!(err.to_string().contains("too many trailers"), "{err}");
        // It stopped reading soon after the limit.
        assert!(reader.into_inner().len() > raw.len() / 2);
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n",
            100,
        )
        .unwrap();
        assert_eq!(r.body, b"Wikipedia");
    }

    #[test]
    fn body_until_close_and_caps() {
        let r = parse(b"HTTP/1.0 500 Oops\n\nall of it", 100).unwrap();
        assert_eq!(r.status, 500);
        assert_eq!(r.body, b"all of it");
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\n0123456789", 4).unwrap();
        assert_eq!(r.body, b"0123");
        assert!(r.truncated);
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
            4,
        )
        .unwrap();
        assert_eq!(r.body, b"0123");
        assert!(r.truncated);
        let r = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
            4,
        )
        .unwrap();
        assert_eq!(r.body, b"0123");
        assert!(r.truncated);
    }

    #[test]
    fn interim_responses_are_skipped_and_204_has_no_body() {
        let r = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\ngarbage",
            100,
        )
        .unwrap();
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
    }

    #[test]
    fn malformed_responses_are_errors() {
        assert!(parse(b"", 10).is_err());
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n", 10).is_err());
        assert!(parse(b"HTTP/1.1 20 OK\r\n\r\n", 10).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nX: y", 10).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 100).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 100).is_err());
        assert!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                100
            )
            .is_err()
        );
        assert!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc",
                100
            )
            .is_err()
        );
        let long = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 20_000]].concat();
        assert!(parse(&long, 10).is_err());
    }

    #[test]
    fn tls_config_builds_with_the_ring_provider() {
        assert!(tls_config(None).is_ok());
        assert!(tls_config(Some(RootCertStore::empty())).is_ok());
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn response_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), max in 0usize..64) {
                let _ = parse(&bytes, max);
                let mut framed = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                framed.extend_from_slice(&bytes);
                let _ = parse(&framed, max);
            }
        }
    }
}
