//! What can go wrong on the host side, said the way the docker CLI says it:
//! one sentence, then a hint, exit status 125.
//!
//! The mapping from engine answers to [`HostError`] is made of plain
//! functions over values (a bollard error, an inspect state), so every message
//! is unit-tested without an engine.

use std::fmt;
use std::io;

use thiserror::Error;

/// Where the engine was looked for, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path.
    Unix(String),
    /// `host:port` over plain TCP.
    Tcp(String),
    /// `host:port` over TLS, with the client's certificate.
    Tls(String, crate::host::engine::tls::TlsFiles),
    /// `ssh://[user@]host[:port]`: `docker system dial-stdio` over ssh.
    Ssh(crate::host::engine::ssh::SshDest),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{path}"),
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
            Endpoint::Tls(addr, _) => write!(f, "tcp://{addr} (TLS)"),
            Endpoint::Ssh(dest) => write!(f, "{dest}"),
        }
    }
}

/// A failure of the host half. Each variant names the operation that failed;
/// [`HostError::hint`] says what to do about it.
#[derive(Debug, Error)]
pub enum HostError {
    #[error(
        "unsupported engine address '{0}' (use unix:///path, tcp://host:port or ssh://[user@]host[:port])"
    )]
    BadHost(String),

    #[error("cannot connect to the Docker engine at {endpoint}: {reason}")]
    EngineUnreachable { endpoint: Endpoint, reason: String },

    #[error("permission denied on the Docker engine socket {endpoint}")]
    EnginePermission { endpoint: Endpoint },

    #[error("no such container: {0}")]
    NoSuchContainer(String),

    #[error("container id prefix '{prefix}' is ambiguous: it matches {}", .candidates.join(", "))]
    AmbiguousPrefix {
        prefix: String,
        candidates: Vec<String>,
    },

    #[error("container {0} is paused")]
    Paused(String),

    #[error("container {0} stopped while the sidecar was starting")]
    StoppedWhileStarting(String),

    #[error("no such image: {0}")]
    NoSuchImage(String),

    /// A step of setting up a replica failed; `step` says which
    /// ("create the toolbox volume", "commit", "create", "start").
    #[error("failed to {step} the replica of {target}: {reason}")]
    ReplicaFailed {
        step: &'static str,
        target: String,
        reason: String,
    },

    #[error("cannot hash this binary ({path}) to name the toolbox image")]
    HashBinary {
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("failed to import the toolbox image {image}: {reason}")]
    ImportFailed { image: String, reason: String },

    #[error("toolbox image {0} not found")]
    NoToolboxImage(String),

    #[error("the engine refused to create the sidecar with capabilities {caps}: {reason}")]
    CapsRefused { caps: String, reason: String },

    #[error("failed to create the sidecar container: {0}")]
    CreateFailed(String),

    #[error("failed to start the sidecar container: {0}")]
    StartFailed(String),

    #[error("lost the connection to the sidecar: {0}")]
    Stream(String),

    #[error("the Docker engine answered {operation}: {reason}")]
    Engine {
        operation: &'static str,
        reason: String,
    },

    #[error("terminal: {0}")]
    Terminal(#[source] io::Error),

    #[error("{0}")]
    BadForward(String),

    #[error("cannot listen on {addr} for port-forward")]
    ForwardListen {
        addr: std::net::SocketAddr,
        #[source]
        source: io::Error,
    },

    #[error("container {0} is not running: port-forward reaches a running container's network")]
    ForwardNotRunning(String),

    #[error("{0}")]
    BadRunOption(String),

    #[error("{0}")]
    BadReport(String),

    #[error("cannot write the report to {path}")]
    WriteReport {
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("doctor checks one engine for one target; {0} were given")]
    TooManyEngines(usize),

    #[error("the watched start gave no report: {0}")]
    WatchFailed(String),

    /// Choosing the engine (`--context`, `DOCKER_CONTEXT`, config.json).
    #[error(transparent)]
    Context(#[from] crate::host::engine::context::ContextError),

    /// `--with`, `--with-dir`: what to bring.
    #[error(transparent)]
    Bundle(#[from] crate::tools::bundle::BundleError),

    /// Something of this host: the files given, a process or pipe, `nosh
    /// cp`'s arguments.
    #[error("{0}")]
    Local(String),
}

impl HostError {
    /// What to do next, in one line, or nothing when the sentence says it all.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            HostError::BadHost(_) => "set -H or DOCKER_HOST to unix:///var/run/docker.sock or tcp://HOST:2375".into(),
            HostError::EngineUnreachable { endpoint: Endpoint::Ssh(dest), .. } => format!(
                "check that `ssh {}` logs in with a key or agent (no prompt) and that `docker` runs there; ~/.ssh/config applies",
                dest.args()[3..dest.args().len() - 3].join(" ")
            ),
            HostError::EngineUnreachable { endpoint, .. } => format!(
                "is dockerd running? start it (systemctl start docker), or point DOCKER_HOST or -H at the right engine (tried {endpoint})"
            ),
            HostError::EnginePermission { .. } => {
                "run nosh as root, or add your user to the docker group (usermod -aG docker $USER, then log in again)".into()
            }
            HostError::NoSuchContainer(_) => {
                "see the containers with `docker ps -a`; nosh takes a name, an id or a unique id prefix, or an image (--image REF)".into()
            }
            HostError::AmbiguousPrefix { .. } => "give more characters of the id, or the container name".into(),
            HostError::Paused(name) => format!("resume it with `docker unpause {name}`, then try again"),
            HostError::StoppedWhileStarting(name) => format!(
                "see why with `docker logs {name}`; `nosh {name}` now opens a replica of it"
            ),
            HostError::NoSuchImage(_) => "see the images with `docker images`; nothing is pulled".into(),
            HostError::ReplicaFailed { .. } => {
                "a replica re-creates the original's mounts, network and sysctls: a bind source or network that is gone makes it fail (see `docker inspect` of the original); run with -v to see the engine calls".into()
            }
            HostError::HashBinary { .. } => "run nosh from a readable file (it imports itself as the toolbox image)".into(),
            HostError::ImportFailed { .. } => {
                "check free disk space and the engine's log (journalctl -u docker); --toolbox-image REF uses a prebuilt image instead".into()
            }
            HostError::NoToolboxImage(image) => format!("load or build {image} first, or leave out --toolbox-image"),
            HostError::CapsRefused { .. } => {
                "a rootless engine or a seccomp, AppArmor or SELinux policy may forbid them; nosh needs them only for the milliseconds before it drops to the app's identity".into()
            }
            HostError::CreateFailed(_) | HostError::StartFailed(_) => {
                "run with -v to see the engine calls; `nosh gc` removes leftovers".into()
            }
            HostError::Context(e) => return e.hint(),
            HostError::BadRunOption(_) => "the options of --run mean what they mean to docker run (see nosh doctor --help)".into(),
            HostError::BadReport(_) => "e.g. --format junit --output report.xml (text stays on the terminal)".into(),
            HostError::WriteReport { .. } => "check that the directory exists and is writable".into(),
            HostError::TooManyEngines(_) => "give one -H or --context, or check every engine's containers with --all".into(),
            HostError::WatchFailed(_) => "run with --verbose to see the engine calls; `nosh gc` removes leftovers".into(),
            HostError::Bundle(e) => return e.hint(),
            HostError::Local(_) => return None,
            HostError::Stream(_) => "the engine connection dropped (dockerd restarted, or a proxy closed it); the sidecar ends when its client is gone, and `nosh gc` removes any leftover".into(),
            HostError::Engine { .. } | HostError::Terminal(_) => return None,
            HostError::BadForward(_) => {
                "write [ADDR:]LOCAL:[HOST:]REMOTE, e.g. 8080:80, 0.0.0.0:8080:80 or 8080:127.0.0.1:80 (LOCAL 0 picks a free port)".into()
            }
            HostError::ForwardListen { .. } => {
                "the port may be in use (ss -ltnp shows by whom); pick another LOCAL port, or 0 for a free one".into()
            }
            HostError::ForwardNotRunning(name) => format!("start it (docker start {name}); `nosh {name}` opens a replica of a stopped container to see why it stopped"),
        })
    }
}

/// The io error at the bottom of an error's source chain, if any: bollard wraps
/// connection failures several layers deep (hyper-util, then io).
pub fn root_io_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut found = None;
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            found = Some(io);
        }
        cur = e.source();
    }
    found
}

/// Maps a failed engine call to a [`HostError`]: connection problems become
/// "unreachable" or "permission denied" whatever the call was.
pub fn from_engine(
    endpoint: &Endpoint,
    operation: &'static str,
    err: &bollard::errors::Error,
) -> HostError {
    use bollard::errors::Error as B;
    if let B::SocketNotFoundError(_) = err {
        return HostError::EngineUnreachable {
            endpoint: endpoint.clone(),
            reason: "no such socket".into(),
        };
    }
    // `IOError` is a transparent wrapper: its own source() skips the io error.
    if let B::IOError { err: io } = err {
        return from_io(endpoint, io);
    }
    if let Some(io) = root_io_error(err) {
        return from_io(endpoint, io);
    }
    match err {
        B::DockerResponseServerError { message, .. } => HostError::Engine {
            operation,
            reason: message.clone(),
        },
        B::HyperLegacyError { .. } | B::RequestTimeoutError => HostError::EngineUnreachable {
            endpoint: endpoint.clone(),
            reason: err.to_string(),
        },
        other => HostError::Engine {
            operation,
            reason: other.to_string(),
        },
    }
}

/// Maps a failed connection to the engine's endpoint.
pub fn from_io(endpoint: &Endpoint, io: &io::Error) -> HostError {
    match io.kind() {
        io::ErrorKind::PermissionDenied => HostError::EnginePermission {
            endpoint: endpoint.clone(),
        },
        io::ErrorKind::NotFound => HostError::EngineUnreachable {
            endpoint: endpoint.clone(),
            reason: "no such socket".into(),
        },
        io::ErrorKind::ConnectionRefused => HostError::EngineUnreachable {
            endpoint: endpoint.clone(),
            reason: "connection refused".into(),
        },
        _ => HostError::EngineUnreachable {
            endpoint: endpoint.clone(),
            reason: io.to_string(),
        },
    }
}

/// The HTTP status of an engine answer, if the engine answered at all.
pub fn status_of(err: &bollard::errors::Error) -> Option<u16> {
    match err {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The sidecar's only capabilities (it starts with `cap_drop ALL`), each
/// needed by the join or the drop and gone once the shell starts:
/// SYS_ADMIN and SYS_CHROOT for setns into the mount (and UTS, IPC, cgroup)
/// namespace, SYS_CHROOT for the chroot to the target's root, SYS_PTRACE to
/// open `/proc/N/ns/*`, `root` and `cwd` of a process of another uid,
/// DAC_READ_SEARCH to enter a working directory root may not search (an app's
/// 0700 home), SETPCAP to clear the bounding set, SETGID and SETUID for the
/// app's ids. Without any one of them some target cannot be joined
/// (`sidecar_capabilities_are_exactly_what_the_join_and_drop_need`).
pub const SIDECAR_CAPS: [&str; 7] = [
    "SYS_ADMIN",
    "SYS_PTRACE",
    "SYS_CHROOT",
    "DAC_READ_SEARCH",
    "SETPCAP",
    "SETGID",
    "SETUID",
];

/// Maps a failed `create_container` of the sidecar. The engine says
/// "capabilities" or names a cap when a policy (rootless, userns-remap,
/// authorization plugin) forbids them; anything else is a plain create failure.
pub fn from_create(endpoint: &Endpoint, err: &bollard::errors::Error) -> HostError {
    match from_engine(endpoint, "create", err) {
        HostError::Engine { reason, .. } => {
            let lower = reason.to_ascii_lowercase();
            if lower.contains("capabilit")
                || lower.contains("cap_")
                || lower.contains("sys_admin")
                || lower.contains("operation not permitted")
                || lower.contains("seccomp")
                || lower.contains("apparmor")
                || lower.contains("selinux")
            {
                HostError::CapsRefused {
                    caps: SIDECAR_CAPS.join(", "),
                    reason,
                }
            } else {
                HostError::CreateFailed(reason)
            }
        }
        other => other,
    }
}

/// Same for `start_container`: the runtime applies capabilities and the
/// security profile at start, so a refusal often shows up only here.
pub fn from_start(endpoint: &Endpoint, err: &bollard::errors::Error) -> HostError {
    match from_create(endpoint, err) {
        HostError::CreateFailed(reason) => HostError::StartFailed(reason),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix() -> Endpoint {
        Endpoint::Unix("/var/run/docker.sock".into())
    }

    fn server(status: u16, msg: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: status,
            message: msg.into(),
        }
    }

    #[test]
    fn missing_socket_is_engine_unreachable_naming_the_socket() {
        let e = from_engine(
            &Endpoint::Unix("/nonexistent.sock".into()),
            "version",
            &bollard::errors::Error::SocketNotFoundError("/nonexistent.sock".into()),
        );
        assert!(matches!(e, HostError::EngineUnreachable { .. }));
        assert!(e.to_string().contains("unix:///nonexistent.sock"), "{e}");
        assert!(e.hint().unwrap().contains("DOCKER_HOST"));
    }

    #[test]
    fn eacces_deep_in_the_chain_is_permission_denied() {
        let io = io::Error::from(io::ErrorKind::PermissionDenied);
        let e = from_engine(&unix(), "version", &bollard::errors::Error::from(io));
        assert!(matches!(e, HostError::EnginePermission { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "permission denied on the Docker engine socket unix:///var/run/docker.sock"
        );
        assert!(e.hint().unwrap().contains("docker group"));
    }

    #[test]
    fn connection_refused_is_engine_unreachable() {
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let e = from_io(&Endpoint::Tcp("127.0.0.1:1".into()), &io);
        assert_eq!(
            e.to_string(),
            "cannot connect to the Docker engine at tcp://127.0.0.1:1: connection refused"
        );
    }

    #[test]
    fn a_refused_capability_names_the_caps_and_the_likely_policy() {
        let e = from_create(
            &unix(),
            &server(403, "authorization denied: CapAdd SYS_ADMIN is not allowed"),
        );
        assert!(matches!(e, HostError::CapsRefused { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("SYS_ADMIN, SYS_PTRACE, SYS_CHROOT"), "{msg}");
        assert!(e.hint().unwrap().contains("rootless"));
    }

    #[test]
    fn an_unrelated_create_failure_stays_a_create_failure() {
        let e = from_create(
            &unix(),
            &server(409, "Conflict. The container name is already in use"),
        );
        assert!(matches!(e, HostError::CreateFailed(_)), "{e:?}");
        let e = from_start(
            &unix(),
            &server(500, "OCI runtime create failed: operation not permitted"),
        );
        assert!(matches!(e, HostError::CapsRefused { .. }), "{e:?}");
    }

    #[test]
    fn every_user_facing_error_has_a_hint() {
        let errors = [
            HostError::NoSuchContainer("foo".into()),
            HostError::AmbiguousPrefix {
                prefix: "a".into(),
                candidates: vec!["a1 (one)".into(), "a2 (two)".into()],
            },
            HostError::Paused("web".into()),
            HostError::NoSuchImage("app:1".into()),
            HostError::ReplicaFailed {
                step: "create",
                target: "web".into(),
                reason: "bind source path does not exist: /srv".into(),
            },
            HostError::ImportFailed {
                image: "nosh-toolbox:x".into(),
                reason: "no space".into(),
            },
        ];
        for e in errors {
            assert!(e.hint().is_some(), "{e}");
        }
    }

    #[test]
    fn messages_read_as_one_sentence() {
        assert_eq!(
            HostError::NoSuchContainer("foo".into()).to_string(),
            "no such container: foo"
        );
        assert_eq!(
            HostError::AmbiguousPrefix {
                prefix: "a".into(),
                candidates: vec!["a1 (one)".into(), "a2 (two)".into()]
            }
            .to_string(),
            "container id prefix 'a' is ambiguous: it matches a1 (one), a2 (two)"
        );
        assert!(
            HostError::Paused("web".into())
                .hint()
                .unwrap()
                .contains("docker unpause web")
        );
    }
}
