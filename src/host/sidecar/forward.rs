//! `nosh port-forward TARGET [ADDR:]LOCAL:[HOST:]REMOTE ...`: listen on the
//! host and carry each accepted connection into the target's network
//! namespace, so a service bound to 127.0.0.1 in the container, or a port
//! never published, is reachable from the host. Nothing is published on the
//! target and nothing is written to it.
//!
//! One sidecar per connection, its stdin and stdout the TCP stream:
//! `nosh toolbox` with the arguments `--forward IP:PORT` and the target's
//! process as a session's sidecar names it (in the environment, see
//! [`spec::toolbox_args_env`]; [`crate::toolbox::forward`]), sharing the
//! target's network and PID namespaces, with only the capabilities the drop
//! needs (SETUID, SETGID, SETPCAP) and a session sidecar's pids and memory
//! limits, dropped to the app's identity before it connects. At most
//! `--max-connections` are carried at once: each holds a sidecar, and
//! whoever can reach the listening port could otherwise make any number.
//! Per connection:
//! 1. create the sidecar (auto-remove, no log: the stream is not kept);
//! 2. attach to it, then start it;
//! 3. copy the client to its stdin and its stdout to the client; the
//!    client's end half-closes the attach (the engine closes the sidecar's
//!    stdin, which half-closes the service's socket); the sidecar's end
//!    closes the client;
//! 4. its stderr (e.g. "connection refused") goes to ours, escaped.
//!
//! Ctrl-C (SIGINT, SIGTERM, SIGHUP) removes every live sidecar and exits 0;
//! a SIGKILL of this client leaves them to the watchdog.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;

use crate::host::engine::Engine;
use crate::host::engine::wire::{self, Channel, Demux};
use crate::host::error::{HostError, from_create, from_start};
use crate::host::sidecar::spec::{Limits, Role};
use crate::host::sidecar::watchdog::Watchdog;
use crate::host::sidecar::{session, spec};
use crate::host::target::Target;

/// One `[ADDR:]LOCAL:[HOST:]REMOTE`: where to listen, where to connect
/// inside the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub listen: SocketAddr,
    pub remote: SocketAddr,
}

/// Splits on ':' outside brackets: `[::1]:8080:80` is three parts.
fn parts(spec: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut rest = spec;
    loop {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            out.push(&inner[..end]);
            rest = &inner[end + 1..];
            match rest.strip_prefix(':') {
                Some(r) => rest = r,
                None if rest.is_empty() => return Some(out),
                None => return None,
            }
        } else {
            match rest.split_once(':') {
                Some((a, b)) => {
                    out.push(a);
                    rest = b;
                }
                None => {
                    out.push(rest);
                    return Some(out);
                }
            }
        }
    }
}

fn ip(text: &str) -> Option<IpAddr> {
    if text == "localhost" {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    text.parse().ok()
}

impl Spec {
    /// `PORT`, `LOCAL:REMOTE`, `ADDR:LOCAL:REMOTE`, `LOCAL:HOST:REMOTE` (a
    /// number first is a port) or `ADDR:LOCAL:HOST:REMOTE`. ADDR defaults to
    /// 127.0.0.1, HOST to 127.0.0.1 (in the target); LOCAL 0 picks a free
    /// port. Addresses are IPs or `localhost`: a name would have to be
    /// resolved the target's way, which the sidecar of a forward cannot.
    pub fn parse(spec: &str) -> Result<Spec, String> {
        let bad = |why: &str| format!("bad forward '{spec}': {why}");
        let p = parts(spec).ok_or_else(|| bad("unbalanced [ ]"))?;
        let port = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| bad(&format!("'{s}' is not a port")))
        };
        let addr = |s: &str| ip(s).ok_or_else(|| bad(&format!("'{s}' is not an IP address")));
        let local_host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (listen_ip, local, host, remote) = match p.as_slice() {
            [one] => (local_host, port(one)?, local_host, port(one)?),
            [l, r] => (local_host, port(l)?, local_host, port(r)?),
            [a, b, c] if a.parse::<u16>().is_ok() => (local_host, port(a)?, addr(b)?, port(c)?),
            [a, b, c] => (addr(a)?, port(b)?, local_host, port(c)?),
            [a, b, c, d] => (addr(a)?, port(b)?, addr(c)?, port(d)?),
            _ => return Err(bad("want [ADDR:]LOCAL:[HOST:]REMOTE")),
        };
        if remote == 0 {
            return Err(bad("the remote port cannot be 0"));
        }
        Ok(Spec {
            listen: SocketAddr::new(listen_ip, local),
            remote: SocketAddr::new(host, remote),
        })
    }
}

/// What every connection's sidecar is made of, and how many may live at
/// once.
#[derive(Debug, Clone)]
pub struct Options {
    pub image: String,
    pub limits: Limits,
    pub max_connections: usize,
}

/// The sidecar of one forwarded connection. It finds the app's process,
/// and so its identity, as a session's sidecar does (`--pid host` and
/// `--pid container:X` targets included).
pub fn forward_config(target: &Target, opts: &Options, remote: SocketAddr) -> ContainerCreateBody {
    spec::beside(
        target,
        &opts.image,
        Role::Forward {
            remote,
            limits: opts.limits,
        },
    )
}

/// The sidecars of live connections, for Ctrl-C and the watchdog.
#[derive(Clone)]
struct Live {
    ids: Arc<Mutex<HashSet<String>>>,
    watchdog: Arc<Mutex<Option<Watchdog>>>,
}

impl Live {
    fn add(&self, id: &str) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(id.to_string());
        }
        if let Ok(mut w) = self.watchdog.lock()
            && let Some(w) = w.as_mut()
        {
            w.guard(id);
        }
    }

    fn end(&self, id: &str) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.remove(id);
        }
        if let Ok(mut w) = self.watchdog.lock()
            && let Some(w) = w.as_mut()
        {
            w.ended(id);
        }
    }

    fn all(&self) -> Vec<String> {
        self.ids
            .lock()
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Listens on every spec until a signal; returns the exit status.
pub async fn run(
    engine: Arc<Engine>,
    target: Arc<Target>,
    opts: Arc<Options>,
    specs: &[Spec],
    watchdog: Option<Watchdog>,
) -> Result<u8, HostError> {
    let on = |kind| signal(kind).map_err(HostError::Terminal);
    let (mut int, mut term, mut hup) = (
        on(SignalKind::interrupt())?,
        on(SignalKind::terminate())?,
        on(SignalKind::hangup())?,
    );
    let live = Live {
        ids: Arc::default(),
        watchdog: Arc::new(Mutex::new(watchdog)),
    };
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let (accepted, mut incoming) = tokio::sync::mpsc::channel::<(TcpStream, SocketAddr)>(64);
    for spec in specs {
        let listener =
            TcpListener::bind(spec.listen)
                .await
                .map_err(|source| HostError::ForwardListen {
                    addr: spec.listen,
                    source,
                })?;
        let bound = listener.local_addr().unwrap_or(spec.listen);
        println!(
            "Forwarding from {bound} -> {} in {}",
            spec.remote,
            target.info.display_name()
        );
        let accepted = accepted.clone();
        let remote = spec.remote;
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((conn, _)) => {
                        if accepted.send((conn, remote)).await.is_err() {
                            return;
                        }
                    }
                    // Out of descriptors, or a connection reset while
                    // queued: the listener itself is fine; go on.
                    Err(e) => {
                        eprintln!("nosh: port-forward: accept on {bound}: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        tokio::select! {
            Some((conn, remote)) = incoming.recv() => {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    eprintln!("nosh: port-forward: {}", refusal(&conn, remote, opts.max_connections));
                    continue;
                };
                let (engine, target, opts, live) =
                    (engine.clone(), target.clone(), opts.clone(), live.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection(&engine, &target, &opts, remote, conn, &live).await {
                        crate::host::report(&e);
                    }
                    drop(slot);
                });
            }
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => break,
        }
    }
    // Ctrl-C: remove what is live, together.
    let removals: Vec<_> = live
        .all()
        .into_iter()
        .map(|id| {
            let engine = engine.clone();
            tokio::spawn(async move { session::remove(&engine, &id).await })
        })
        .collect();
    for r in removals {
        let _ = r.await;
    }
    if let Ok(mut w) = live.watchdog.lock()
        && let Some(w) = w.as_mut()
    {
        w.done();
    }
    Ok(0)
}

/// The line that says a connection was closed unanswered, at the cap.
fn refusal(conn: &TcpStream, remote: SocketAddr, max: usize) -> String {
    let from = conn
        .peer_addr()
        .map_or_else(|_| "a client".to_string(), |a| a.to_string());
    format!(
        "closed the connection from {from} to {remote}: {max} connections are open already (--max-connections)"
    )
}

/// Steps 1–4 for one client connection.
async fn connection(
    engine: &Engine,
    target: &Target,
    opts: &Options,
    remote: SocketAddr,
    client: TcpStream,
    live: &Live,
) -> Result<(), HostError> {
    // 1.
    let name = format!("{}-fwd", spec::sidecar_name(target.info.display_name()));
    let created = engine
        .docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            forward_config(target, opts, remote),
        )
        .await
        .map_err(|e| from_create(&engine.endpoint, &e))?;
    let id = created.id;
    live.add(&id);
    // 2.
    let started = async {
        let attached = wire::attach(engine, &id).await?;
        engine
            .docker
            .start_container(&id, None)
            .await
            .map_err(|e| from_start(&engine.endpoint, &e))?;
        Ok::<_, HostError>(attached)
    };
    let result = match started.await {
        Ok(attached) => pump(client, attached).await,
        Err(e) => Err(e),
    };
    // A sidecar that ended by itself is being auto-removed; after a failure,
    // or a client that went away mid-answer, it may still run.
    if !matches!(result, Ok(End::Sidecar)) {
        session::remove(engine, &id).await;
    }
    live.end(&id);
    result.map(|_| ())
}

/// How the copying ended.
enum End {
    /// The sidecar's output ended: it exited, and is being auto-removed.
    Sidecar,
    /// The client went away first (reset, or stopped reading): not an error
    /// worth a message, but the sidecar may still run.
    Client,
}

/// 3, 4: both directions until the sidecar's output ends or the client goes.
async fn pump(client: TcpStream, attached: wire::Attached) -> Result<End, HostError> {
    let lost = |e: std::io::Error| HostError::Stream(format!("port-forward: {e}"));
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_sidecar, mut to_sidecar) = tokio::io::split(attached.conn);
    // Errors on the client's side end the copy quietly (`None`); only the
    // engine's stream failing is an error.
    let upstream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let Ok(n) = from_client.read(&mut buf).await else {
                return None;
            };
            if n == 0 {
                // Half-close: the engine closes the sidecar's stdin.
                return to_sidecar.shutdown().await.err();
            }
            if let Err(e) = to_sidecar.write_all(&buf[..n]).await {
                return Some(e);
            }
        }
    };
    let downstream = async move {
        let mut demux = Demux::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending = attached.first;
        loop {
            for (channel, payload) in demux.push(&pending) {
                match channel {
                    Channel::Stdout => {
                        if to_client.write_all(&payload).await.is_err() {
                            return Ok(End::Client);
                        }
                    }
                    Channel::Stderr => eprint!("{}", crate::term::escape::text(&payload)),
                }
            }
            let n = from_sidecar.read(&mut buf).await?;
            if n == 0 {
                let _ = to_client.shutdown().await;
                return Ok(End::Sidecar);
            }
            pending = buf[..n].to_vec();
        }
    };
    tokio::pin!(upstream);
    let mut upstream_done = false;
    tokio::pin!(downstream);
    loop {
        tokio::select! {
            up = &mut upstream, if !upstream_done => {
                upstream_done = true;
                if let Some(e) = up {
                    return Err(lost(e));
                }
            }
            down = &mut downstream => return down.map_err(lost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> (String, String) {
        let p = Spec::parse(s).unwrap();
        (p.listen.to_string(), p.remote.to_string())
    }

    #[test]
    fn forwards_parse_as_kubectl_and_cdebug_write_them() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(spec("8080"), pair("127.0.0.1:8080", "127.0.0.1:8080"));
        assert_eq!(spec("8080:80"), pair("127.0.0.1:8080", "127.0.0.1:80"));
        assert_eq!(spec("0:80"), pair("127.0.0.1:0", "127.0.0.1:80"));
        assert_eq!(
            spec("0.0.0.0:8080:80"),
            pair("0.0.0.0:8080", "127.0.0.1:80")
        );
        assert_eq!(
            spec("8080:10.0.0.5:80"),
            pair("127.0.0.1:8080", "10.0.0.5:80")
        );
        assert_eq!(
            spec("localhost:8080:[::1]:80"),
            pair("127.0.0.1:8080", "[::1]:80")
        );
        assert_eq!(spec("[::1]:8080:80"), pair("[::1]:8080", "127.0.0.1:80"));
    }

    #[test]
    fn bad_forwards_say_what_is_wrong() {
        for (s, why) in [
            ("", "'' is not a port"),
            ("80:0", "cannot be 0"),
            ("8080:db:80", "'db' is not an IP address"),
            ("a:b:c:d:e", "want [ADDR:]LOCAL:[HOST:]REMOTE"),
            ("[::1:80", "unbalanced"),
            ("99999:80", "'99999' is not a port"),
        ] {
            let e = Spec::parse(s).unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
            assert!(e.starts_with(&format!("bad forward '{s}'")), "{e}");
        }
    }

    #[test]
    fn the_forward_sidecar_shares_the_network_with_only_the_drop_capabilities() {
        let target = Target {
            info: crate::target::info::TargetInfo {
                name: "api".into(),
                id: "0123456789abcdef".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let opts = Options {
            image: "img".into(),
            limits: Limits::default(),
            max_connections: 64,
        };
        let c = forward_config(&target, &opts, "127.0.0.1:80".parse().unwrap());
        assert_eq!(c.cmd, None);
        assert_eq!(
            spec::handed_args(&c.env.unwrap()),
            ["--pid", "1", "--exact", "--forward", "127.0.0.1:80"]
        );
        let h = c.host_config.unwrap();
        assert_eq!(h.pids_limit, Some(Limits::DEFAULT_PIDS));
        assert_eq!(h.memory, Some(Limits::DEFAULT_MEMORY));
        assert_eq!(
            h.network_mode.as_deref(),
            Some("container:0123456789abcdef")
        );
        assert_eq!(h.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(h.cap_add.unwrap(), ["SETUID", "SETGID", "SETPCAP"]);
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(c.tty, Some(false));
        assert_eq!(c.stdin_once, Some(true));
    }
}
