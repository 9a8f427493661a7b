//! Name resolution as the target's own programs would see it, without libc.
//!
//! A static glibc binary cannot use `getaddrinfo` (it would need NSS modules
//! at run time, and those of the sidecar, not the target), so nosh reads the
//! target's `/etc/hosts` and `/etc/resolv.conf` itself and asks the
//! nameservers listed there with a minimal DNS client: UDP, A and AAAA,
//! `search` and `ndots` as resolv.conf(5) describes them, no TCP fallback.
//! The queries leave from the target's network namespace, so Docker's
//! embedded DNS (127.0.0.11) and a cluster DNS answer as they would for the
//! app.
//!
//! Every byte of a response is untrusted: the parser checks each bound and
//! follows at most a few compression pointers, and fails with an error,
//! never a panic.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// The time one nameserver gets to answer a query (both A and AAAA).
pub const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DnsError {
    #[error("invalid name {0:?}: labels are 1 to 63 bytes, names at most 253")]
    BadName(String),
    #[error("malformed DNS response: {0}")]
    Malformed(&'static str),
    #[error("no nameserver answered within {} s (asked {servers})", TIMEOUT.as_secs())]
    Timeout { servers: String },
    #[error("no address for {name}: {why}")]
    NotFound { name: String, why: String },
    #[error("failed to query nameserver {server}: {reason}")]
    Io { server: IpAddr, reason: String },
}

/// A query for `name` (without or with the trailing dot), recursion desired.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let bad = || DnsError::BadName(name.to_string());
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(bad());
    }
    let mut q = Vec::with_capacity(18 + trimmed.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // 1 question
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad());
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

/// The data of one answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Other(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    /// 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED.
    pub rcode: u8,
    pub truncated: bool,
    pub question: Option<(String, u16)>,
    pub answers: Vec<Record>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DnsError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(DnsError::Malformed("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name (RFC 1035 4.1.4). Pointers must point
    /// backwards, so a loop cannot form, and the name is capped at 255
    /// bytes.
    fn name(&mut self) -> Result<String, DnsError> {
        let mut out = String::new();
        let mut pos = self.pos;
        let mut jumped = false;
        let mut len = 0usize;
        loop {
            let b = *self
                .buf
                .get(pos)
                .ok_or(DnsError::Malformed("truncated name"))?;
            match b & 0xc0 {
                0x00 if b == 0 => {
                    if !jumped {
                        self.pos = pos + 1;
                    }
                    break;
                }
                0x00 => {
                    let n = b as usize;
                    let label = self
                        .buf
                        .get(pos + 1..pos + 1 + n)
                        .ok_or(DnsError::Malformed("truncated label"))?;
                    len += n + 1;
                    if len > 255 {
                        return Err(DnsError::Malformed("name longer than 255 bytes"));
                    }
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&String::from_utf8_lossy(label));
                    pos += 1 + n;
                }
                0xc0 => {
                    let lo = *self
                        .buf
                        .get(pos + 1)
                        .ok_or(DnsError::Malformed("truncated pointer"))?;
                    let target = (((b & 0x3f) as usize) << 8) | lo as usize;
                    if target >= pos {
                        return Err(DnsError::Malformed(
                            "compression pointer does not point back",
                        ));
                    }
                    if !jumped {
                        self.pos = pos + 2;
                        jumped = true;
                    }
                    pos = target;
                }
                _ => return Err(DnsError::Malformed("reserved label type")),
            }
        }
        Ok(out)
    }
}

/// Parse a response. Records of other types are kept as `Other`; the
/// authority and additional sections are not read.
pub fn parse_response(buf: &[u8]) -> Result<Response, DnsError> {
    let mut r = Reader { buf, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::Malformed("not a response"));
    }
    let qd = r.u16()?;
    let an = r.u16()?;
    r.take(4)?;
    let mut question = None;
    for _ in 0..qd {
        let name = r.name()?;
        let qtype = r.u16()?;
        r.u16()?;
        question.get_or_insert((name, qtype));
    }
    let mut answers = Vec::new();
    for _ in 0..an {
        let name = r.name()?;
        let rtype = r.u16()?;
        let class = r.u16()?;
        let ttl = r.u32()?;
        let len = r.u16()? as usize;
        let start = r.pos;
        let rdata = r.take(len)?;
        let data = match (rtype, class, len) {
            (TYPE_A, CLASS_IN, 4) => {
                RData::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))
            }
            (TYPE_AAAA, CLASS_IN, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                RData::Aaaa(Ipv6Addr::from(b))
            }
            (TYPE_A | TYPE_AAAA, _, _) => return Err(DnsError::Malformed("bad address length")),
            (TYPE_CNAME, _, _) => {
                let mut inner = Reader { buf, pos: start };
                RData::Cname(inner.name()?)
            }
            (t, _, _) => RData::Other(t),
        };
        answers.push(Record { name, ttl, data });
    }
    Ok(Response {
        id,
        rcode: (flags & 0x000f) as u8,
        truncated: flags & 0x0200 != 0,
        question,
        answers,
    })
}

/// What nosh uses of resolv.conf(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub ndots: usize,
}

impl Default for ResolvConf {
    /// The C library's defaults when the file is missing or empty.
    fn default() -> Self {
        ResolvConf {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
        }
    }
}

/// Parse resolv.conf. As in glibc, the last `search`/`domain` line wins,
/// at most three nameservers are used, and without any the local host is
/// asked.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_ascii_whitespace();
        match words.next() {
            Some("nameserver") => {
                // A scoped address (fe80::1%eth0) keeps only the address.
                if let Some(ip) = words
                    .next()
                    .and_then(|w| w.split('%').next()?.parse::<IpAddr>().ok())
                    && conf.nameservers.len() < 3
                {
                    conf.nameservers.push(ip);
                }
            }
            Some("search") | Some("domain") => {
                conf.search = words
                    .map(|w| w.trim_end_matches('.').to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
            }
            Some("options") => {
                for opt in words {
                    if let Some(n) = opt.strip_prefix("ndots:").and_then(|n| n.parse().ok()) {
                        conf.ndots = usize::min(n, 15);
                    }
                }
            }
            _ => {}
        }
    }
    if conf.nameservers.is_empty() {
        conf.nameservers.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    conf
}

/// The addresses `/etc/hosts` gives `name` (case-insensitive), in file
/// order.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_ascii_whitespace();
        let Some(ip) = words
            .next()
            .and_then(|w| w.split('%').next()?.parse::<IpAddr>().ok())
        else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(name)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// The names to try, in order (resolv.conf(5) `search` and `ndots`): a
/// name ending in '.' as is; one with at least `ndots` dots as is first,
/// then with each search domain; others with the search domains first.
pub fn candidates(name: &str, conf: &ResolvConf) -> Vec<String> {
    if let Some(abs) = name.strip_suffix('.') {
        return vec![abs.to_string()];
    }
    let with_search = conf.search.iter().map(|d| format!("{name}.{d}"));
    if name.matches('.').count() >= conf.ndots {
        std::iter::once(name.to_string())
            .chain(with_search)
            .collect()
    } else {
        with_search
            .chain(std::iter::once(name.to_string()))
            .collect()
    }
}

/// Where an address came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The name was an address already.
    Literal,
    Hosts,
    Nameserver(IpAddr),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Literal => f.write_str("literal"),
            Source::Hosts => f.write_str("hosts"),
            Source::Nameserver(ip) => write!(f, "{ip}"),
        }
    }
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The name that was answered (after `search`).
    pub name: String,
    pub addrs: Vec<IpAddr>,
    pub source: Source,
    /// The response was truncated (TC): more addresses may exist.
    pub truncated: bool,
}

/// The target's resolver configuration, read once.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pub hosts: String,
    pub conf: ResolvConf,
    pub timeout: Option<Duration>,
}

/// What one nameserver said about one name.
enum Answer {
    Addrs(Vec<IpAddr>, bool),
    /// NXDOMAIN, or no A/AAAA data: try the next candidate name.
    NoData(u8),
    /// SERVFAIL or REFUSED: ask the next nameserver.
    Failed(u8),
}

fn random_id() -> u16 {
    // std seeds RandomState from the kernel's random source per process and
    // per call; no /dev/urandom is needed in the target.
    let mut h = RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish() as u16
}

impl Resolver {
    /// `read` gives the bytes of one of the target's files.
    pub fn load(read: impl Fn(&str) -> io::Result<Vec<u8>>) -> Resolver {
        let text = |p: &str| {
            read(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        Resolver {
            hosts: text("/etc/hosts"),
            conf: parse_resolv_conf(&text("/etc/resolv.conf")),
            timeout: None,
        }
    }

    /// Resolve `name`: an address as is, then `/etc/hosts`, then DNS.
    pub fn lookup(&self, name: &str) -> Result<Found, DnsError> {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Found {
                name: name.to_string(),
                addrs: vec![ip],
                source: Source::Literal,
                truncated: false,
            });
        }
        let from_hosts = hosts_lookup(&self.hosts, name);
        if !from_hosts.is_empty() {
            return Ok(Found {
                name: name.to_string(),
                addrs: from_hosts,
                source: Source::Hosts,
                truncated: false,
            });
        }
        self.lookup_dns(name)
    }

    /// Resolve `name` with the nameservers only.
    pub fn lookup_dns(&self, name: &str) -> Result<Found, DnsError> {
        build_query(0, name, TYPE_A)?;
        let timeout = self.timeout.unwrap_or(TIMEOUT);
        let mut dead: Vec<IpAddr> = Vec::new();
        let mut last_io = None;
        let mut why = String::from("no such name (NXDOMAIN)");
        for cand in candidates(name, &self.conf) {
            for &ns in &self.conf.nameservers {
                if dead.contains(&ns) {
                    continue;
                }
                match query(SocketAddr::new(ns, 53), &cand, timeout) {
                    Ok(Answer::Addrs(addrs, truncated)) => {
                        return Ok(Found {
                            name: cand,
                            addrs,
                            source: Source::Nameserver(ns),
                            truncated,
                        });
                    }
                    Ok(Answer::NoData(rcode)) => {
                        why = if rcode == 3 {
                            "no such name (NXDOMAIN)".into()
                        } else {
                            "the name has no A or AAAA record".into()
                        };
                        break;
                    }
                    Ok(Answer::Failed(rcode)) => {
                        why = format!(
                            "nameserver {ns} answered {}",
                            if rcode == 5 { "REFUSED" } else { "SERVFAIL" }
                        );
                    }
                    Err(e) => {
                        dead.push(ns);
                        last_io = Some(e);
                    }
                }
            }
        }
        if dead.len() == self.conf.nameservers.len() {
            return Err(match last_io {
                Some(e @ DnsError::Io { .. }) => e,
                _ => DnsError::Timeout {
                    servers: self
                        .conf
                        .nameservers
                        .iter()
                        .map(IpAddr::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            });
        }
        Err(DnsError::NotFound {
            name: name.to_string(),
            why,
        })
    }
}

/// Ask one nameserver for the A and AAAA records of `name`, both queries
/// in flight at once on one socket.
fn query(server: SocketAddr, name: &str, timeout: Duration) -> Result<Answer, DnsError> {
    let ns = server.ip();
    let io_err = |e: io::Error| DnsError::Io {
        server: ns,
        reason: crate::term::text::io_error(&e),
    };
    let local: SocketAddr = match ns {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).map_err(io_err)?;
    sock.connect(server).map_err(io_err)?;
    let id_a = random_id();
    let id_aaaa = id_a.wrapping_add(1);
    sock.send(&build_query(id_a, name, TYPE_A)?)
        .map_err(io_err)?;
    sock.send(&build_query(id_aaaa, name, TYPE_AAAA)?)
        .map_err(io_err)?;
    let deadline = Instant::now() + timeout;
    let mut pending = vec![id_a, id_aaaa];
    let mut addrs = Vec::new();
    let mut truncated = false;
    let mut rcodes = Vec::new();
    let mut buf = [0u8; 4096];
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || crate::shell::interrupted() {
            break;
        }
        sock.set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .map_err(io_err)?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(io_err(e)),
        };
        // Anything that does not parse or does not answer our question is
        // ignored, as a resolver must (RFC 5452).
        let Ok(resp) = parse_response(&buf[..n]) else {
            continue;
        };
        if !pending.contains(&resp.id)
            || !resp
                .question
                .as_ref()
                .is_some_and(|(q, _)| q.eq_ignore_ascii_case(name.trim_end_matches('.')))
        {
            continue;
        }
        pending.retain(|id| *id != resp.id);
        truncated |= resp.truncated;
        rcodes.push(resp.rcode);
        for rec in resp.answers {
            let ip = match rec.data {
                RData::A(a) => IpAddr::V4(a),
                RData::Aaaa(a) => IpAddr::V6(a),
                _ => continue,
            };
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    if !addrs.is_empty() {
        return Ok(Answer::Addrs(addrs, truncated));
    }
    if rcodes.is_empty() {
        return Err(DnsError::Timeout {
            servers: ns.to_string(),
        });
    }
    if rcodes.contains(&3) {
        Ok(Answer::NoData(3))
    } else if rcodes.iter().any(|r| *r != 0) {
        Ok(Answer::Failed(
            *rcodes.iter().find(|r| **r != 0).unwrap_or(&2),
        ))
    } else {
        Ok(Answer::NoData(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_built_as_rfc_1035_says() {
        let q = build_query(0xbeef, "db.local.", TYPE_AAAA).unwrap();
        assert_eq!(
            q,
            [
                0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'd', b'b', 5, b'l', b'o', b'c', b'a',
                b'l', 0, 0, 28, 0, 1
            ]
        );
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(build_query(1, "", TYPE_A).is_err());
        assert!(build_query(1, "a..b", TYPE_A).is_err());
        assert!(build_query(1, &"x".repeat(64), TYPE_A).is_err());
        assert!(build_query(1, &"a.".repeat(130), TYPE_A).is_err());
    }

    /// A response to `db.local` A: a CNAME to `pg.db.local` (compressed
    /// against the question) and an A record for it (compressed against
    /// the CNAME's data).
    fn sample() -> Vec<u8> {
        let mut r = build_query(7, "db.local", TYPE_A).unwrap();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 2; // 2 answers
        // answer 1: name -> offset 12, CNAME, IN, ttl 60, rdata "pg" + ptr 12
        r.extend_from_slice(&[
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 5, 2, b'p', b'g', 0xc0, 12,
        ]);
        let cname_at = r.len() - 5;
        // answer 2: name -> the CNAME's data, A 10.0.0.5
        r.extend_from_slice(&[
            0xc0,
            cname_at as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            30,
            0,
            4,
            10,
            0,
            0,
            5,
        ]);
        r
    }

    #[test]
    fn compressed_response_parses() {
        let resp = parse_response(&sample()).unwrap();
        assert_eq!(resp.id, 7);
        assert_eq!(resp.rcode, 0);
        assert_eq!(resp.question, Some(("db.local".into(), TYPE_A)));
        assert_eq!(resp.answers.len(), 2);
        assert_eq!(resp.answers[0].data, RData::Cname("pg.db.local".into()));
        assert_eq!(resp.answers[1].name, "pg.db.local");
        assert_eq!(resp.answers[1].ttl, 30);
        assert_eq!(resp.answers[1].data, RData::A(Ipv4Addr::new(10, 0, 0, 5)));
    }

    #[test]
    fn aaaa_record_parses() {
        let mut r = build_query(9, "x", TYPE_AAAA).unwrap();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 1, 0, 16]);
        r.extend_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        let resp = parse_response(&r).unwrap();
        assert_eq!(
            resp.answers[0].data,
            RData::Aaaa("2001:db8::5".parse().unwrap())
        );
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let good = sample();
        for cut in 0..good.len() {
            let _ = parse_response(&good[..cut]);
        }
        assert!(parse_response(&good[..good.len() - 1]).is_err());
        // A pointer to itself.
        let mut looped = build_query(1, "a", TYPE_A).unwrap();
        looped[2] = 0x80;
        looped[7] = 1;
        let at = looped.len();
        looped.extend_from_slice(&[0xc0, at as u8, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        assert!(parse_response(&looped).is_err());
        // A query is not a response.
        assert!(parse_response(&build_query(1, "a", TYPE_A).unwrap()).is_err());
        // An A record with 3 bytes of data.
        let mut short = build_query(1, "a", TYPE_A).unwrap();
        short[2] = 0x80;
        short[7] = 1;
        short.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3]);
        assert!(parse_response(&short).is_err());
    }

    #[test]
    fn resolv_conf_parses_like_glibc() {
        let c = parse_resolv_conf(
            "# docker\nnameserver 127.0.0.11\nnameserver fe80::1%eth0\nsearch a.svc.cluster.local svc.cluster.local\noptions ndots:5 timeout:1\nnameserver 1.1.1.1\nnameserver 8.8.8.8\n",
        );
        assert_eq!(
            c.nameservers,
            [
                "127.0.0.11".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap(),
                "1.1.1.1".parse().unwrap()
            ]
        );
        assert_eq!(c.search, ["a.svc.cluster.local", "svc.cluster.local"]);
        assert_eq!(c.ndots, 5);
        let empty = parse_resolv_conf("");
        assert_eq!(empty.nameservers, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(empty.ndots, 1);
    }

    #[test]
    fn hosts_lookup_matches_names_and_aliases() {
        let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.5\tdb DB.internal # primary\n# 10.0.0.6 db\nbogus line\n";
        assert_eq!(
            hosts_lookup(hosts, "localhost"),
            [
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(
            hosts_lookup(hosts, "db.INTERNAL."),
            ["10.0.0.5".parse::<IpAddr>().unwrap()]
        );
        assert!(hosts_lookup(hosts, "primary").is_empty());
        assert!(hosts_lookup(hosts, "bogus").is_empty());
    }

    #[test]
    fn search_and_ndots_order_candidates() {
        let conf = ResolvConf {
            nameservers: vec![],
            search: vec!["ns.svc".into(), "svc".into()],
            ndots: 2,
        };
        assert_eq!(candidates("db", &conf), ["db.ns.svc", "db.svc", "db"]);
        assert_eq!(
            candidates("a.b.c", &conf),
            ["a.b.c", "a.b.c.ns.svc", "a.b.c.svc"]
        );
        assert_eq!(candidates("abs.", &conf), ["abs"]);
    }

    #[test]
    fn literals_and_hosts_need_no_network() {
        let r = Resolver {
            hosts: "10.1.2.3 api\n".into(),
            conf: parse_resolv_conf(""),
            timeout: None,
        };
        let f = r.lookup("[::1]").unwrap();
        assert_eq!(f.source, Source::Literal);
        let f = r.lookup("api").unwrap();
        assert_eq!(f.source, Source::Hosts);
        assert_eq!(f.addrs, ["10.1.2.3".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn a_local_nameserver_is_asked_over_udp() {
        // A one-shot server on loopback answering every query with 10.9.8.7
        // (A) or NOERROR without data (AAAA).
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let mut resp = buf[..n].to_vec();
                resp[2] |= 0x80;
                let qtype = u16::from_be_bytes([resp[n - 4], resp[n - 3]]);
                if qtype == TYPE_A {
                    resp[7] = 1;
                    resp.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 9, 8, 7]);
                }
                server.send_to(&resp, from).unwrap();
            }
        });
        let ans = query(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            "svc.test",
            Duration::from_secs(2),
        );
        t.join().unwrap();
        match ans {
            Ok(Answer::Addrs(a, false)) => {
                assert_eq!(a, [IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7))])
            }
            _ => panic!("no address"),
        }
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                let _ = parse_response(&bytes);
            }

            #[test]
            fn parser_survives_mutated_responses(flip in 0usize..60, val in any::<u8>()) {
                let mut r = super::sample();
                let i = flip % r.len();
                r[i] = val;
                let _ = parse_response(&r);
            }

            #[test]
            fn config_parsers_never_panic(text in "\\PC{0,300}") {
                let _ = parse_resolv_conf(&text);
                let _ = hosts_lookup(&text, "x");
            }
        }
    }
}
