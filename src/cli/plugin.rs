//! nosh as a docker CLI plugin: installed as `docker-nosh` in
//! `~/.docker/cli-plugins/` (or `/usr/local/lib/docker/cli-plugins/`), it
//! answers `docker nosh TARGET`.
//!
//! The plugin protocol, as docker CLI 28 speaks it (checked by experiment,
//! see `tests/ecosystem.rs`):
//! - `docker-nosh docker-cli-plugin-metadata` must print a JSON document
//!   ([`metadata`]); `docker help` lists the plugin with its description.
//! - `docker [GLOBAL OPTIONS] nosh ARGS` runs
//!   `docker-nosh [GLOBAL OPTIONS] nosh ARGS`: the CLI's own options
//!   (`--context`, `-H`, `--config`, `--tls*`, `-D`, `-l`) come first,
//!   unparsed, then the plugin's name. `DOCKER_CONTEXT` and `DOCKER_HOST`
//!   pass through the environment. [`from_docker_cli`] takes the options out
//!   and hands the engine-related ones to [`crate::host::engine::context`].
//! - `DOCKER_CLI_PLUGIN_SOCKET` names a unix socket (abstract when it starts
//!   with `@`) the plugin connects to. When the CLI gets SIGINT or SIGTERM
//!   while its stdout is not a terminal it closes that socket instead of
//!   signalling the plugin; [`watch_cli_socket`] turns the close into a
//!   SIGTERM, which the session already handles (the sidecar is removed).
//!   On a terminal the kernel signals the plugin directly.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::host::engine::context::PluginGlobals;

/// The name the docker CLI runs the plugin under, and the executable's name.
pub const PLUGIN_NAME: &str = "nosh";
pub const PLUGIN_EXECUTABLE: &str = "docker-nosh";
/// The docker CLI's metadata request.
pub const METADATA_COMMAND: &str = "docker-cli-plugin-metadata";
const SOCKET_ENV: &str = "DOCKER_CLI_PLUGIN_SOCKET";

/// Whether the docker CLI asks for the plugin's metadata.
pub fn is_metadata_request(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|a| a == METADATA_COMMAND)
}

/// The metadata document the docker CLI reads from `docker-nosh
/// docker-cli-plugin-metadata`.
pub fn metadata() -> String {
    let mut doc = serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "nosh",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": env!("CARGO_PKG_DESCRIPTION"),
    });
    let url = env!("CARGO_PKG_REPOSITORY");
    if !url.is_empty() {
        doc["URL"] = url.into();
    }
    doc.to_string()
}

/// A command line as the docker CLI passed it, made into nosh's own.
#[derive(Debug, PartialEq, Eq)]
pub struct PluginCall {
    /// `nosh ARGS`, for clap.
    pub args: Vec<OsString>,
    /// The CLI's options that came before the plugin name.
    pub globals: PluginGlobals,
}

/// When this executable is `docker-nosh`, takes the docker CLI's global
/// options and the plugin name out of `args`. `None` when nosh runs under
/// its own name.
pub fn from_docker_cli(args: &[OsString]) -> Option<PluginCall> {
    let argv0 = args.first()?;
    if Path::new(argv0).file_name() != Some(OsStr::new(PLUGIN_EXECUTABLE)) {
        return None;
    }
    let nosh = || OsString::from(PLUGIN_NAME);
    let (globals, rest) = take_globals(&args[1..]);
    let mut out = vec![nosh()];
    match rest.first().and_then(|a| a.to_str()) {
        Some(PLUGIN_NAME) => out.extend_from_slice(&rest[1..]),
        // `docker help nosh`
        Some("help") if rest.get(1).is_some_and(|a| a == PLUGIN_NAME) => {
            out.push("--help".into());
        }
        // Run by hand as `docker-nosh TARGET`: nothing to strip.
        _ => {
            out.extend_from_slice(&args[1..]);
            return Some(PluginCall {
                args: out,
                globals: PluginGlobals::default(),
            });
        }
    }
    Some(PluginCall { args: out, globals })
}

/// Splits the docker CLI's global options off the front of `args`.
fn take_globals(args: &[OsString]) -> (PluginGlobals, &[OsString]) {
    let mut g = PluginGlobals::default();
    let mut i = 0;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        if !arg.starts_with('-') || arg == "--" {
            break;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => match arg.as_bytes() {
                // `-Hvalue`, `-H=value`
                [b'-', b'H' | b'c' | b'l', rest @ ..] if !rest.is_empty() => {
                    let v = arg[2..].strip_prefix('=').unwrap_or(&arg[2..]);
                    (&arg[..2], Some(v.to_owned()))
                }
                _ => (arg, None),
            },
        };
        let takes_value = matches!(
            name,
            "-H" | "--host"
                | "-c"
                | "--context"
                | "--config"
                | "-l"
                | "--log-level"
                | "--tlscacert"
                | "--tlscert"
                | "--tlskey"
        );
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    args.get(i).map(|v| v.to_string_lossy().into_owned())
                }
            }
        } else {
            None
        };
        match (name, value) {
            ("-H" | "--host", Some(v)) => g.host = Some(v),
            ("-c" | "--context", Some(v)) => g.context = Some(v),
            ("--config", Some(v)) => g.config = Some(PathBuf::from(v)),
            ("--tlscacert" | "--tlscert" | "--tlskey", Some(v)) => {
                g.tls = true;
                g.cert_dir = Path::new(&v).parent().map(Path::to_path_buf);
            }
            ("--tls", _) => g.tls = !matches!(inline_bool(arg), Some(false)),
            ("--tlsverify", _) => g.tls_verify = !matches!(inline_bool(arg), Some(false)),
            // -D, --debug, -l/--log-level and anything newer: not ours.
            _ => {}
        }
        i += 1;
    }
    (g, &args[i.min(args.len())..])
}

/// `--tls=false` and friends.
fn inline_bool(arg: &str) -> Option<bool> {
    arg.split_once('=').and_then(|(_, v)| v.parse().ok())
}

static AS_PLUGIN: AtomicBool = AtomicBool::new(false);

/// Records that the docker CLI runs us as its plugin (see [`from_docker_cli`]).
pub fn running_as_plugin() {
    AS_PLUGIN.store(true, Ordering::Relaxed);
}

/// When running as the plugin and the docker CLI gave us its plugin socket:
/// a thread that waits for the CLI to close it and then sends this process
/// SIGTERM. Call it only on the host half, after any fork: the toolbox half
/// must stay single-threaded, and the session's watchdog is forked from a
/// single-threaded process.
pub fn watch_cli_socket() {
    if !AS_PLUGIN.load(Ordering::Relaxed) {
        return;
    }
    let Some(addr) = std::env::var_os(SOCKET_ENV) else {
        return;
    };
    let Ok(stream) = connect(&addr) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("docker-cli-socket".into())
        .spawn(move || {
            use std::io::Read;
            let mut stream = stream;
            let mut byte = [0u8; 1];
            // The CLI never writes; a read returns only at EOF or on error.
            while matches!(stream.read(&mut byte), Ok(n) if n > 0) {}
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM);
        });
    // Without the thread the CLI falls back to killing us after three
    // signals: worse, not fatal.
    drop(spawned);
}

fn connect(addr: &OsStr) -> std::io::Result<std::os::unix::net::UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    match addr.as_bytes().strip_prefix(b"@") {
        Some(name) => UnixStream::connect_addr(&SocketAddr::from_abstract_name(name)?),
        None => UnixStream::connect(addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn call(args: &[&str]) -> PluginCall {
        from_docker_cli(&os(args)).expect("plugin call")
    }

    #[test]
    fn metadata_is_the_json_the_docker_cli_reads() {
        let doc: serde_json::Value = serde_json::from_str(&metadata()).unwrap();
        assert_eq!(doc["SchemaVersion"], "0.1.0");
        assert_eq!(doc["Vendor"], "nosh");
        assert_eq!(doc["Version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            doc["ShortDescription"],
            "A debug shell for containers that have no shell"
        );
        assert!(is_metadata_request(&os(&[
            "docker-nosh",
            "docker-cli-plugin-metadata"
        ])));
    }

    #[test]
    fn under_its_own_name_nosh_is_not_a_plugin() {
        assert_eq!(from_docker_cli(&os(&["nosh", "nosh", "-c", "id"])), None);
        assert_eq!(from_docker_cli(&os(&["/usr/bin/nosh", "app"])), None);
    }

    #[test]
    fn the_plugin_name_is_taken_out() {
        let c = call(&[
            "/home/u/.docker/cli-plugins/docker-nosh",
            "nosh",
            "app",
            "-c",
            "id",
        ]);
        assert_eq!(c.args, os(&["nosh", "app", "-c", "id"]));
        assert_eq!(c.globals, PluginGlobals::default());
    }

    #[test]
    fn the_docker_cli_global_options_before_the_name_are_kept_for_the_engine() {
        // As docker 28 passes them for `docker -H X --context Y --config Z
        // -D -l debug nosh app`.
        let c = call(&[
            "docker-nosh",
            "-H",
            "unix:///x.sock",
            "--context=ci",
            "--config",
            "/tmp/cfg",
            "-D",
            "-l",
            "debug",
            "nosh",
            "app",
        ]);
        assert_eq!(c.args, os(&["nosh", "app"]));
        assert_eq!(c.globals.host.as_deref(), Some("unix:///x.sock"));
        assert_eq!(c.globals.context.as_deref(), Some("ci"));
        assert_eq!(c.globals.config.as_deref(), Some(Path::new("/tmp/cfg")));
        let c = call(&["docker-nosh", "-Hunix:///y.sock", "-c", "ci", "nosh", "x"]);
        assert_eq!(c.globals.host.as_deref(), Some("unix:///y.sock"));
        assert_eq!(c.globals.context.as_deref(), Some("ci"));
    }

    #[test]
    fn tls_options_are_recorded() {
        let c = call(&[
            "docker-nosh",
            "--tlsverify",
            "--tlscacert",
            "/certs/ca.pem",
            "nosh",
            "app",
        ]);
        assert!(c.globals.tls && c.globals.tls_verify);
        assert_eq!(c.globals.cert_dir.as_deref(), Some(Path::new("/certs")));
        let c = call(&["docker-nosh", "--tls=false", "nosh", "app"]);
        assert!(!c.globals.tls);
    }

    #[test]
    fn docker_help_nosh_asks_for_help() {
        assert_eq!(
            call(&["docker-nosh", "help", "nosh"]).args,
            os(&["nosh", "--help"])
        );
    }

    #[test]
    fn run_by_hand_the_plugin_executable_is_plain_nosh() {
        assert_eq!(
            call(&["docker-nosh", "app", "-c", "id"]).args,
            os(&["nosh", "app", "-c", "id"])
        );
    }
}
