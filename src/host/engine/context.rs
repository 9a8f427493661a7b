//! Which engine to talk to, chosen the way the docker CLI chooses it, so that
//! `nosh T` reaches the same engine as `docker ps` in the same shell.
//!
//! The docker CLI 28 (checked by experiment, see `tests/ecosystem.rs`) goes:
//! 1. `--context NAME` (given together with `-H`, both are refused);
//! 2. `-H/--host`;
//! 3. `DOCKER_HOST`;
//! 4. `DOCKER_CONTEXT`;
//! 5. `currentContext` in `$DOCKER_CONFIG/config.json` (`~/.docker` by default);
//! 6. the local socket.
//!
//! A context named `default` is the `DOCKER_HOST`-or-local-socket engine. Any
//! other context is a directory of the CLI's context store:
//! `contexts/meta/<sha256 of the name>/meta.json` holds the endpoint
//! (`Endpoints.docker.Host`, `SkipTLSVerify`) and
//! `contexts/tls/<same hash>/docker/{ca,cert,key}.pem` its TLS material.
//!
//! When nosh runs as the `docker nosh` plugin, the docker CLI passes its own
//! global options (`--context`, `-H`, `--config`, `--tls*`) in front of the
//! plugin name; [`crate::cli::plugin`] hands them over with
//! [`set_plugin_globals`], and they count as flags given to nosh unless nosh's
//! own flags say otherwise.
//!
//! Everything here is a pure function of its inputs ([`Inputs`]), so the
//! precedence is unit-tested on temp dirs without an engine.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The name the docker CLI gives the `DOCKER_HOST`-or-local-socket engine.
pub const DEFAULT_CONTEXT: &str = "default";

/// What failed while choosing the engine. Wrapped by
/// [`crate::host::error::HostError::Context`]; exit status 125 like every other
/// nosh failure.
#[derive(Debug, Error)]
pub enum ContextError {
    #[error("cannot use both -H/--host and --context: they name the engine twice")]
    HostAndContext,

    #[error("no such Docker context: {name}")]
    UnknownContext { name: String, meta: PathBuf },

    #[error("cannot read Docker context {name} from {}", .path.display())]
    ReadContext {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Docker context {name} is malformed ({}): {reason}", .path.display())]
    BadContext {
        name: String,
        path: PathBuf,
        reason: String,
    },

    #[error(
        "the engine at {host} ({source_of}) asks for TLS without checking the server's certificate, which nosh refuses"
    )]
    TlsUnsupported { host: String, source_of: Source },
}

impl ContextError {
    /// What to do next, in one line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ContextError::HostAndContext => {
                "leave out one of them; `docker context ls` shows what each context points at".into()
            }
            ContextError::UnknownContext { meta, .. } => format!(
                "see the contexts with `docker context ls` (nosh looked for {}), or leave out --context and DOCKER_CONTEXT for the local engine",
                meta.display()
            ),
            ContextError::ReadContext { .. } => {
                "check the file's permissions, or set DOCKER_CONFIG to another directory".into()
            }
            ContextError::BadContext { name, .. } => {
                format!("recreate it with `docker context rm {name}` and `docker context create {name} --docker host=...`")
            }
            ContextError::TlsUnsupported { .. } => {
                "verify it: DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem (or --tlsverify)".into()
            }
        })
    }
}

/// Where the chosen engine came from, for messages and the `-v` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    HostFlag,
    DockerHostEnv,
    /// A context, and how it was named: "--context", "DOCKER_CONTEXT" or
    /// the config file's "currentContext".
    Context {
        name: String,
        via: &'static str,
    },
    LocalSocket,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::HostFlag => f.write_str("from -H"),
            Source::DockerHostEnv => f.write_str("from DOCKER_HOST"),
            Source::Context { name, via } => write!(f, "context {name}, from {via}"),
            Source::LocalSocket => f.write_str("the local socket"),
        }
    }
}

/// TLS settings of an endpoint: where the PEM files are, and whether the
/// server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub dir: PathBuf,
    pub verify: bool,
}

/// The chosen engine: an address for [`crate::host::engine::endpoint`] (`None` is
/// the local socket), TLS if the endpoint needs it, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub host: Option<String>,
    pub tls: Option<Tls>,
    pub source: Source,
}

/// The docker CLI's global options, as it passes them to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginGlobals {
    pub host: Option<String>,
    pub context: Option<String>,
    pub config: Option<PathBuf>,
    /// `--tls` or `--tlsverify` was given.
    pub tls: bool,
    pub tls_verify: bool,
    /// `--tlscacert`, `--tlscert` or `--tlskey`: their directory.
    pub cert_dir: Option<PathBuf>,
}

static PLUGIN_GLOBALS: OnceLock<PluginGlobals> = OnceLock::new();

/// Records the docker CLI's global options when nosh runs as its plugin.
/// Only the first call counts.
pub fn set_plugin_globals(globals: PluginGlobals) {
    let _ = PLUGIN_GLOBALS.set(globals);
}

/// Everything the choice depends on.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// nosh's own `-H` and `--context`.
    pub host_flag: Option<String>,
    pub context_flag: Option<String>,
    /// The docker CLI's options when running as its plugin.
    pub plugin: PluginGlobals,
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    pub docker_config: Option<PathBuf>,
    pub docker_tls_verify: Option<String>,
    pub docker_cert_path: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl Inputs {
    /// nosh's flags, the plugin's options and this process's environment.
    pub fn from_env(host_flag: Option<&str>, context_flag: Option<&str>) -> Inputs {
        let var = |k: &str| non_empty(std::env::var(k).ok());
        Inputs {
            host_flag: non_empty(host_flag.map(str::to_owned)),
            context_flag: non_empty(context_flag.map(str::to_owned)),
            plugin: PLUGIN_GLOBALS.get().cloned().unwrap_or_default(),
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            docker_tls_verify: var("DOCKER_TLS_VERIFY"),
            docker_cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
        }
    }

    /// The docker CLI's configuration directory: `--config`, else
    /// `DOCKER_CONFIG`, else `~/.docker`.
    pub fn config_dir(&self) -> PathBuf {
        self.plugin
            .config
            .clone()
            .or_else(|| self.docker_config.clone())
            .unwrap_or_else(|| {
                self.home
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/root"))
                    .join(".docker")
            })
    }
}

/// Chooses the engine (see the module docs for the order).
pub fn choose(inputs: &Inputs) -> Result<Chosen, ContextError> {
    // nosh's own flags first, then what the docker CLI was given. Naming the
    // engine both ways on one level is refused, as the docker CLI does.
    let (host_flag, context_flag) = if inputs.host_flag.is_some() || inputs.context_flag.is_some() {
        (inputs.host_flag.clone(), inputs.context_flag.clone())
    } else {
        (
            non_empty(inputs.plugin.host.clone()),
            non_empty(inputs.plugin.context.clone()),
        )
    };
    let chosen = match (host_flag, context_flag) {
        (Some(_), Some(_)) => return Err(ContextError::HostAndContext),
        (None, Some(name)) => from_context(inputs, &name, "--context")?,
        (Some(host), None) => with_env_tls(inputs, host, Source::HostFlag),
        (None, None) => {
            if let Some(host) = inputs.docker_host.clone() {
                with_env_tls(inputs, host, Source::DockerHostEnv)
            } else if let Some(name) = inputs.docker_context.clone() {
                from_context(inputs, &name, "DOCKER_CONTEXT")?
            } else if let Some(name) = current_context(&inputs.config_dir()) {
                from_context(inputs, &name, "currentContext in config.json")?
            } else {
                local_socket(Source::LocalSocket)
            }
        }
    };
    refuse_unsupported(&chosen)?;
    Ok(chosen)
}

fn local_socket(source: Source) -> Chosen {
    Chosen {
        host: None,
        tls: None,
        source,
    }
}

/// `-H` or `DOCKER_HOST`, with TLS as `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`
/// and the plugin's `--tls*` options ask.
fn with_env_tls(inputs: &Inputs, host: String, source: Source) -> Chosen {
    let plugin = &inputs.plugin;
    let verify = plugin.tls_verify || inputs.docker_tls_verify.is_some();
    let tls = (plugin.tls || verify).then(|| Tls {
        dir: plugin
            .cert_dir
            .clone()
            .or_else(|| inputs.docker_cert_path.clone())
            .unwrap_or_else(|| inputs.config_dir()),
        verify,
    });
    Chosen {
        host: Some(host),
        tls,
        source,
    }
}

/// The hex sha256 of a context name: its directory in the context store.
pub fn context_hash(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

/// `currentContext` of `DIR/config.json`, if the file names one. A file that
/// is missing, unreadable (another user's HOME, as when root's environment
/// is kept by `sudo -u`) or malformed names none: the docker CLI, too, only
/// warns and goes on with its defaults.
pub fn current_context(config_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config_dir.join("config.json")).ok()?;
    serde_json::from_str::<ConfigFile>(&text)
        .ok()
        .and_then(|c| non_empty(c.current_context))
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", default)]
    endpoints: Endpoints,
}

#[derive(Deserialize, Default)]
struct Endpoints {
    docker: Option<DockerEndpoint>,
}

#[derive(Deserialize)]
struct DockerEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// The engine a context names.
fn from_context(inputs: &Inputs, name: &str, via: &'static str) -> Result<Chosen, ContextError> {
    let source = Source::Context {
        name: name.to_owned(),
        via,
    };
    if name == DEFAULT_CONTEXT {
        return Ok(match inputs.docker_host.clone() {
            Some(host) => with_env_tls(inputs, host, source),
            None => local_socket(source),
        });
    }
    let store = inputs.config_dir().join("contexts");
    let hash = context_hash(name);
    let path = store.join("meta").join(&hash).join("meta.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContextError::UnknownContext {
                name: name.to_owned(),
                meta: path,
            });
        }
        Err(source) => {
            return Err(ContextError::ReadContext {
                name: name.to_owned(),
                path,
                source,
            });
        }
    };
    let meta: Meta = serde_json::from_str(&text).map_err(|e| ContextError::BadContext {
        name: name.to_owned(),
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let Some(endpoint) = meta.endpoints.docker else {
        return Err(ContextError::BadContext {
            name: name.to_owned(),
            path,
            reason: "it has no docker endpoint".into(),
        });
    };
    let host = non_empty(endpoint.host);
    let tls_dir = store.join("tls").join(&hash).join("docker");
    let tcp = host.as_deref().is_some_and(|h| h.starts_with("tcp://"));
    let tls = (tcp && (tls_dir.is_dir() || endpoint.skip_tls_verify)).then_some(Tls {
        dir: tls_dir,
        verify: !endpoint.skip_tls_verify,
    });
    Ok(Chosen { host, tls, source })
}

/// TLS without verification, refused with a sentence that names the engine
/// and a hint that gets the user there another way.
fn refuse_unsupported(chosen: &Chosen) -> Result<(), ContextError> {
    let Some(host) = chosen.host.as_deref() else {
        return Ok(());
    };
    if chosen.tls.as_ref().is_some_and(|t| !t.verify) {
        return Err(ContextError::TlsUnsupported {
            host: host.to_owned(),
            source_of: chosen.source.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config directory with contexts in it, laid out as `docker context
    /// create` lays it out.
    struct Store {
        dir: tempfile::TempDir,
    }

    impl Store {
        fn new() -> Store {
            Store {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn path(&self) -> PathBuf {
            self.dir.path().to_path_buf()
        }

        fn context(&self, name: &str, meta: &str) -> &Store {
            let dir = self.path().join("contexts/meta").join(context_hash(name));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("meta.json"), meta).unwrap();
            self
        }

        fn unix_context(&self, name: &str, socket: &str) -> &Store {
            self.context(
                name,
                &format!(
                    r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"unix://{socket}","SkipTLSVerify":false}}}}}}"#
                ),
            )
        }

        fn tls_files(&self, name: &str) -> &Store {
            let dir = self
                .path()
                .join("contexts/tls")
                .join(context_hash(name))
                .join("docker");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("ca.pem"), "x").unwrap();
            self
        }

        fn current(&self, name: &str) -> &Store {
            std::fs::write(
                self.path().join("config.json"),
                format!("{{\"auths\": {{}}, \"currentContext\": \"{name}\"}}"),
            )
            .unwrap();
            self
        }

        fn inputs(&self) -> Inputs {
            Inputs {
                docker_config: Some(self.path()),
                ..Inputs::default()
            }
        }
    }

    fn host_of(inputs: &Inputs) -> Option<String> {
        choose(inputs).unwrap().host
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_name_as_the_docker_cli_makes_it() {
        // `echo -n ctxa | sha256sum`, and the directory docker 28 created.
        assert_eq!(
            context_hash("ctxa"),
            "f38a1edba91098e590dbe6b66a07c374fdc6ff074aaa890828f1c7926e8a9ebd"
        );
    }

    #[test]
    fn with_nothing_set_the_local_socket_is_used() {
        let store = Store::new();
        let chosen = choose(&store.inputs()).unwrap();
        assert_eq!(chosen.host, None);
        assert_eq!(chosen.source, Source::LocalSocket);
    }

    #[test]
    fn a_context_flag_reads_the_endpoint_from_meta_json() {
        let store = Store::new();
        store.unix_context("ci", "/run/ci.sock");
        let inputs = Inputs {
            context_flag: Some("ci".into()),
            ..store.inputs()
        };
        let chosen = choose(&inputs).unwrap();
        assert_eq!(chosen.host.as_deref(), Some("unix:///run/ci.sock"));
        assert_eq!(chosen.tls, None);
        assert_eq!(chosen.source.to_string(), "context ci, from --context");
    }

    #[test]
    fn the_order_is_context_flag_host_flag_docker_host_docker_context_config() {
        let store = Store::new();
        store
            .unix_context("flag", "/flag.sock")
            .unix_context("env", "/env.sock")
            .unix_context("cfg", "/cfg.sock")
            .current("cfg");
        let all = Inputs {
            docker_host: Some("unix:///docker-host.sock".into()),
            docker_context: Some("env".into()),
            ..store.inputs()
        };
        // The docker CLI lets --context win over DOCKER_HOST.
        let with_context_flag = Inputs {
            context_flag: Some("flag".into()),
            ..all.clone()
        };
        assert_eq!(
            host_of(&with_context_flag).as_deref(),
            Some("unix:///flag.sock")
        );
        let with_host_flag = Inputs {
            host_flag: Some("unix:///h.sock".into()),
            ..all.clone()
        };
        assert_eq!(host_of(&with_host_flag).as_deref(), Some("unix:///h.sock"));
        assert_eq!(host_of(&all).as_deref(), Some("unix:///docker-host.sock"));
        let no_docker_host = Inputs {
            docker_host: None,
            ..all.clone()
        };
        assert_eq!(
            host_of(&no_docker_host).as_deref(),
            Some("unix:///env.sock")
        );
        let config_only = Inputs {
            docker_host: None,
            docker_context: None,
            ..all
        };
        assert_eq!(host_of(&config_only).as_deref(), Some("unix:///cfg.sock"));
    }

    #[test]
    fn an_unreadable_or_malformed_config_names_no_context() {
        let store = Store::new();
        std::fs::write(store.path().join("config.json"), "{not json").unwrap();
        assert_eq!(host_of(&store.inputs()), None);
        let inputs = Inputs {
            docker_config: Some(store.path().join("config.json/not-a-dir")),
            ..Inputs::default()
        };
        assert_eq!(choose(&inputs).unwrap().source, Source::LocalSocket);
    }

    #[test]
    fn host_and_context_flags_together_are_refused() {
        let store = Store::new();
        store.unix_context("ci", "/ci.sock");
        let inputs = Inputs {
            host_flag: Some("unix:///h.sock".into()),
            context_flag: Some("ci".into()),
            ..store.inputs()
        };
        let e = choose(&inputs).unwrap_err();
        assert!(matches!(e, ContextError::HostAndContext), "{e:?}");
    }

    #[test]
    fn the_default_context_is_docker_host_or_the_local_socket() {
        let store = Store::new();
        store.current("default");
        assert_eq!(host_of(&store.inputs()), None);
        let inputs = Inputs {
            context_flag: Some("default".into()),
            docker_host: Some("tcp://10.0.0.1:2375".into()),
            ..store.inputs()
        };
        assert_eq!(host_of(&inputs).as_deref(), Some("tcp://10.0.0.1:2375"));
    }

    #[test]
    fn an_unknown_context_is_named_with_a_hint() {
        let store = Store::new();
        let inputs = Inputs {
            docker_context: Some("nope".into()),
            ..store.inputs()
        };
        let e = choose(&inputs).unwrap_err();
        assert_eq!(e.to_string(), "no such Docker context: nope");
        assert!(e.hint().unwrap().contains("docker context ls"));
    }

    #[test]
    fn a_malformed_meta_json_says_which_file() {
        let store = Store::new();
        store.context("bad", "{not json");
        let inputs = Inputs {
            context_flag: Some("bad".into()),
            ..store.inputs()
        };
        let e = choose(&inputs).unwrap_err();
        assert!(matches!(e, ContextError::BadContext { .. }), "{e:?}");
        assert!(e.to_string().contains("meta.json"), "{e}");
    }

    #[test]
    fn the_plugin_options_count_unless_nosh_flags_are_given() {
        let store = Store::new();
        store.unix_context("ci", "/ci.sock");
        let plugin = PluginGlobals {
            context: Some("ci".into()),
            ..PluginGlobals::default()
        };
        let inputs = Inputs {
            plugin: plugin.clone(),
            docker_host: Some("unix:///env.sock".into()),
            ..store.inputs()
        };
        assert_eq!(host_of(&inputs).as_deref(), Some("unix:///ci.sock"));
        let own = Inputs {
            host_flag: Some("unix:///own.sock".into()),
            ..inputs
        };
        assert_eq!(host_of(&own).as_deref(), Some("unix:///own.sock"));
    }

    #[test]
    fn the_plugin_config_option_moves_the_context_store() {
        let store = Store::new();
        store.unix_context("ci", "/ci.sock");
        let inputs = Inputs {
            plugin: PluginGlobals {
                config: Some(store.path()),
                ..PluginGlobals::default()
            },
            context_flag: Some("ci".into()),
            docker_config: Some("/nonexistent".into()),
            ..Inputs::default()
        };
        assert_eq!(host_of(&inputs).as_deref(), Some("unix:///ci.sock"));
    }

    #[test]
    fn tls_contexts_and_tls_environment_choose_verified_tls() {
        let store = Store::new();
        store
            .context(
                "remote",
                r#"{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://10.1.1.1:2376","SkipTLSVerify":false}}}"#,
            )
            .tls_files("remote");
        let inputs = Inputs {
            context_flag: Some("remote".into()),
            ..store.inputs()
        };
        let chosen = choose(&inputs).unwrap();
        assert!(chosen.tls.as_ref().is_some_and(|t| t.verify));
        let env = Inputs {
            docker_host: Some("tcp://10.1.1.1:2376".into()),
            docker_tls_verify: Some("1".into()),
            ..store.inputs()
        };
        assert!(choose(&env).unwrap().tls.is_some_and(|t| t.verify));
    }

    #[test]
    fn tls_without_verification_is_refused_clearly() {
        let store = Store::new();
        store.context(
            "loose",
            r#"{"Name":"loose","Endpoints":{"docker":{"Host":"tcp://10.1.1.1:2376","SkipTLSVerify":true}}}"#,
        );
        let inputs = Inputs {
            context_flag: Some("loose".into()),
            ..store.inputs()
        };
        let e = choose(&inputs).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the engine at tcp://10.1.1.1:2376 (context loose, from --context) asks for TLS without checking the server's certificate, which nosh refuses"
        );
    }

    #[test]
    fn a_plain_tcp_context_without_tls_material_is_plain_http() {
        let store = Store::new();
        store.context(
            "lab",
            r#"{"Name":"lab","Endpoints":{"docker":{"Host":"tcp://10.1.1.1:2375","SkipTLSVerify":false}}}"#,
        );
        let inputs = Inputs {
            context_flag: Some("lab".into()),
            ..store.inputs()
        };
        let chosen = choose(&inputs).unwrap();
        assert_eq!(chosen.host.as_deref(), Some("tcp://10.1.1.1:2375"));
        assert_eq!(chosen.tls, None);
    }

    #[test]
    fn ssh_hosts_and_ssh_contexts_are_chosen_like_any_other() {
        let inputs = Inputs {
            host_flag: Some("ssh://ops@build-1".into()),
            ..Inputs::default()
        };
        assert_eq!(host_of(&inputs).as_deref(), Some("ssh://ops@build-1"));
        let store = Store::new();
        store.context(
            "remote",
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"ssh://ops@build-1:2222","SkipTLSVerify":false}}}"#,
        );
        let inputs = Inputs {
            context_flag: Some("remote".into()),
            ..store.inputs()
        };
        let chosen = choose(&inputs).unwrap();
        assert_eq!(chosen.host.as_deref(), Some("ssh://ops@build-1:2222"));
        assert_eq!(chosen.tls, None);
    }
}
