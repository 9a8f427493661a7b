//! Connecting to the engine: which one is chosen by [`crate::host::engine::context`] (`-H`,
//! `--context`, `DOCKER_HOST`, `DOCKER_CONTEXT`, the docker CLI's current
//! context, else the local socket); then the API version is negotiated down
//! to what the engine speaks (Engine 20.10 speaks 1.41).

pub mod context;
pub mod ssh;
pub mod tls;
pub mod wire;

use std::time::Instant;

use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

use crate::cli::EngineArgs;
use crate::host::error::{Endpoint, HostError, from_engine};
use context::Inputs;

/// The default local socket, as the docker CLI uses it.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Seconds before an engine call is given up. Long enough for a slow import.
const TIMEOUT_SECS: u64 = 300;

/// A connected engine, with where it is (the attach and wait calls open their
/// own connections to the same place) and the `-v` log.
pub struct Engine {
    pub docker: Docker,
    pub endpoint: Endpoint,
    /// `v1.41`: the prefix of every API path.
    pub api_version: String,
    pub log: Log,
}

/// `-v`: one line on stderr per engine call, with the time since start.
#[derive(Clone, Copy)]
pub struct Log {
    pub verbose: bool,
    pub start: Instant,
}

impl Log {
    pub fn new(verbose: bool) -> Log {
        Log {
            verbose,
            start: Instant::now(),
        }
    }

    pub fn say(&self, what: impl FnOnce() -> String) {
        if self.verbose {
            let ms = self.start.elapsed().as_secs_f64() * 1000.0;
            eprintln!("nosh: {ms:8.1} ms  {}", what());
        }
    }
}

/// Where to find the engine: the `-H` value, else `DOCKER_HOST`, else the
/// local socket: a unix socket, plain TCP, or ssh.
pub fn endpoint(host: Option<&str>, docker_host_env: Option<&str>) -> Result<Endpoint, HostError> {
    let given = host
        .filter(|h| !h.is_empty())
        .or(docker_host_env.filter(|h| !h.is_empty()));
    let Some(given) = given else {
        return Ok(Endpoint::Unix(DEFAULT_SOCKET.into()));
    };
    if let Some(path) = given.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(HostError::BadHost(given.into()));
        }
        return Ok(Endpoint::Unix(path.into()));
    }
    if let Some(addr) = given
        .strip_prefix("tcp://")
        .or_else(|| given.strip_prefix("http://"))
    {
        let addr = addr.trim_end_matches('/');
        if addr.is_empty() {
            return Err(HostError::BadHost(given.into()));
        }
        let addr = if addr
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            addr.to_string()
        } else {
            format!("{addr}:2375")
        };
        return Ok(Endpoint::Tcp(addr));
    }
    if given.starts_with("ssh://") {
        return crate::host::engine::ssh::SshDest::parse(given)
            .map(Endpoint::Ssh)
            .ok_or_else(|| HostError::BadHost(given.into()));
    }
    if given.starts_with('/') {
        return Ok(Endpoint::Unix(given.into()));
    }
    Err(HostError::BadHost(given.into()))
}

/// Where the engine that `-H` and `--context` (and the environment) choose
/// is, without connecting.
pub fn chosen_endpoint(args: &EngineArgs) -> Result<Endpoint, HostError> {
    let inputs = Inputs::from_env(args.host.as_deref(), args.context.as_deref());
    endpoint_of(&context::choose(&inputs)?)
}

/// The endpoint of a chosen engine: TCP becomes TLS when the choice asks
/// for it (`DOCKER_TLS_VERIFY`, `--tlsverify`, a context with TLS material).
pub fn endpoint_of(chosen: &context::Chosen) -> Result<Endpoint, HostError> {
    let host = chosen.host.as_deref().map(|h| {
        h.strip_prefix("https://")
            .map_or_else(|| h.to_string(), |rest| format!("tcp://{rest}"))
    });
    let plain = endpoint(host.as_deref(), None)?;
    Ok(match (plain, &chosen.tls) {
        (Endpoint::Tcp(addr), Some(tls)) => {
            let addr = match addr.strip_suffix(":2375") {
                // The docker CLI's default port for TLS.
                Some(h) if !host.as_deref().unwrap_or("").ends_with(":2375") => format!("{h}:2376"),
                _ => addr,
            };
            Endpoint::Tls(addr, crate::host::engine::tls::TlsFiles::in_dir(&tls.dir))
        }
        (plain, _) => plain,
    })
}

/// Connects to the engine that `-H` and `--context` (and the environment)
/// choose, and negotiates the API version.
pub async fn connect_args(args: &EngineArgs, log: Log) -> Result<Engine, HostError> {
    let inputs = Inputs::from_env(args.host.as_deref(), args.context.as_deref());
    connect_chosen(&inputs, log).await
}

/// Connects to `host` if given, else to what the environment and the docker
/// CLI's configuration choose; negotiates the API version.
pub async fn connect(host: Option<&str>, log: Log) -> Result<Engine, HostError> {
    connect_chosen(&Inputs::from_env(host, None), log).await
}

/// A bollard client for `endpoint` speaking API `version`.
fn client(endpoint: &Endpoint, version: &ClientVersion) -> Result<Docker, HostError> {
    match endpoint {
        Endpoint::Unix(path) => Docker::connect_with_unix(path, TIMEOUT_SECS, version),
        Endpoint::Tcp(addr) => {
            Docker::connect_with_http(&format!("tcp://{addr}"), TIMEOUT_SECS, version)
        }
        Endpoint::Tls(addr, files) => Docker::connect_with_ssl(
            &format!("tcp://{addr}"),
            &files.key,
            &files.cert,
            &files.ca,
            TIMEOUT_SECS,
            version,
        ),
        Endpoint::Ssh(dest) => crate::host::engine::ssh::client(dest, TIMEOUT_SECS, version),
    }
    .map_err(|e| from_engine(endpoint, "connect", &e))
}

async fn connect_chosen(inputs: &Inputs, log: Log) -> Result<Engine, HostError> {
    let chosen = context::choose(inputs)?;
    let endpoint = endpoint_of(&chosen)?;
    log.say(|| format!("engine {endpoint} ({})", chosen.source));
    let docker = client(&endpoint, API_DEFAULT_VERSION)?;
    // Negotiate: the older of ours and the engine's newest, as the docker CLI
    // does, from `/_ping`; bollard's own negotiation asks the slower
    // `/version`, kept as the fallback.
    let engine_version = wire::ping(&endpoint)
        .await?
        .as_deref()
        .and_then(wire::parse_api_version);
    let docker = match engine_version {
        Some(engine) => {
            let ours = (
                API_DEFAULT_VERSION.major_version,
                API_DEFAULT_VERSION.minor_version,
            );
            let (major_version, minor_version) = engine.min(ours);
            let version = ClientVersion {
                major_version,
                minor_version,
            };
            client(&endpoint, &version)?
        }
        None => docker
            .negotiate_version()
            .await
            .map_err(|e| from_engine(&endpoint, "version", &e))?,
    };
    let v = docker.client_version();
    let api_version = format!("v{}.{}", v.major_version, v.minor_version);
    log.say(|| format!("connected to {endpoint}, API {api_version}"));
    Ok(Engine {
        docker,
        endpoint,
        api_version,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_environment_which_wins_over_the_local_socket() {
        assert_eq!(
            endpoint(Some("unix:///a.sock"), Some("unix:///b.sock")).unwrap(),
            Endpoint::Unix("/a.sock".into())
        );
        assert_eq!(
            endpoint(None, Some("unix:///b.sock")).unwrap(),
            Endpoint::Unix("/b.sock".into())
        );
        assert_eq!(
            endpoint(None, None).unwrap(),
            Endpoint::Unix(DEFAULT_SOCKET.into())
        );
        assert_eq!(
            endpoint(Some(""), Some("")).unwrap(),
            Endpoint::Unix(DEFAULT_SOCKET.into())
        );
    }

    #[test]
    fn tcp_hosts_get_the_default_port() {
        assert_eq!(
            endpoint(Some("tcp://10.0.0.1"), None).unwrap(),
            Endpoint::Tcp("10.0.0.1:2375".into())
        );
        assert_eq!(
            endpoint(Some("tcp://h:1234/"), None).unwrap(),
            Endpoint::Tcp("h:1234".into())
        );
    }

    #[test]
    fn other_schemes_are_refused_with_the_address() {
        let e = endpoint(Some("fd://3"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported engine address 'fd://3' (use unix:///path, tcp://host:port or ssh://[user@]host[:port])"
        );
        let e = endpoint(Some("ssh://me@box/var/run/docker.sock"), None).unwrap_err();
        assert!(
            e.to_string().contains("'ssh://me@box/var/run/docker.sock'"),
            "{e}"
        );
    }

    #[test]
    fn ssh_hosts_are_an_ssh_endpoint() {
        let e = endpoint(Some("ssh://me@box:2222"), None).unwrap();
        assert_eq!(e.to_string(), "ssh://me@box:2222");
        assert!(matches!(e, Endpoint::Ssh(_)));
    }
}
