//! The one specification of what nosh runs beside a target: the labels
//! that `nosh ls` and `nosh gc` find, what the user asked of the session
//! ([`Request`]) and what the container may use ([`Limits`]), the
//! toolbox's arguments and environment, and the sidecar's configuration.
//! The session's sidecar, the replica and port-forward's sidecars are all
//! built from these pieces.

use std::collections::HashMap;
use std::net::SocketAddr;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};

use crate::host::error::SIDECAR_CAPS;
use crate::host::target::Target;

/// Labels every sidecar carries: `nosh ls` and `nosh gc` find them by these.
pub const LABEL_SESSION: &str = "io.nosh.session";
pub const LABEL_TARGET: &str = "io.nosh.target";
pub const LABEL_TARGET_NAME: &str = "io.nosh.target-name";
pub const LABEL_VERSION: &str = "io.nosh.version";
/// Unix time at which a helper or a temporary image was made: `nosh gc`
/// leaves young ones alone, they may belong to a replica being set up.
pub const LABEL_CREATED: &str = "io.nosh.created";

/// What the user asked of the session.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub tty: bool,
    pub user: Option<String>,
    pub root: bool,
    pub command: Option<String>,
    /// `$TERM` for the sidecar when it has a TTY.
    pub term: Option<String>,
    /// Whether the client's stdout and stderr are terminals (they may be
    /// when the session has no TTY: `-T`, or stdin from a file).
    pub stdout_terminal: bool,
    pub stderr_terminal: bool,
    /// What the sidecar may use.
    pub limits: Limits,
    /// Keep the output until the session ends ([`Outcome::Held`]): a
    /// one-shot command beside a container that restarts may lose its
    /// run half-way, and is then run again rather than shown half.
    pub hold_output: bool,
    /// `nosh cp`'s socket directory on this host, mounted at
    /// `toolbox::stream::DIR` in the sidecar or replica.
    pub stream_dir: Option<String>,
    /// The value of the mark the toolbox ends its output with
    /// ([`crate::toolbox::end_mark`]), for a sidecar without a TTY.
    pub end_mark: Option<String>,
}

/// The sidecar's resource limits: a hostile target can make any builtin
/// work hard (huge directories, endless files, processes that fork without
/// pause), and the sidecar must not take the host down with it. Sized so
/// that `ls -lR` over 200,000 entries (about 150 MB) still fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `PidsLimit`; 0 for none.
    pub pids: i64,
    /// `Memory` in bytes; 0 for none.
    pub memory: i64,
}

impl Limits {
    pub const DEFAULT_PIDS: i64 = 1024;
    pub const DEFAULT_MEMORY: i64 = 1 << 30;
}

impl From<&crate::cli::LimitArgs> for Limits {
    fn from(args: &crate::cli::LimitArgs) -> Self {
        let defaults = Limits::default();
        Limits {
            pids: args.pids_limit.unwrap_or(defaults.pids),
            memory: args.memory.unwrap_or(defaults.memory),
        }
    }
}

impl Limits {
    /// The limits in a container's `HostConfig`; 0 sets none.
    pub fn host_config(self) -> HostConfig {
        HostConfig {
            pids_limit: (self.pids > 0).then_some(self.pids),
            memory: (self.memory > 0).then_some(self.memory),
            ..Default::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pids: Self::DEFAULT_PIDS,
            memory: Self::DEFAULT_MEMORY,
        }
    }
}

/// The arguments of the toolbox entry (after `/nosh toolbox`, handed over
/// by [`toolbox_args_env`]) for a container whose app is PID 1 of the
/// toolbox's PID namespace.
pub fn toolbox_args(req: &Request) -> Vec<String> {
    let mut args = vec!["--pid".to_string(), "1".to_string()];
    args.extend(request_args(req));
    args
}

/// Where a sidecar's toolbox finds the target's app. Joining
/// `container:<target>`'s PID namespace puts the sidecar in the target's
/// own, where the app is PID 1, unless the target shares another: with
/// PidMode `host` the sidecar is in the host's (PID 1 is the host's init;
/// the app is `State.Pid`), with `container:X` in X's (PID 1 is X's app).
/// Then the toolbox is told the container id, checks the PID against it
/// and looks for the container's first process if it is not
/// (`src/toolbox/find.rs`), or refuses.
pub fn target_args(target: &Target) -> Vec<String> {
    let mode = target.host_config.pid_mode.as_deref().unwrap_or_default();
    let id = &target.info.id;
    let pid = if mode == "host" && target.host_pid > 0 {
        target.host_pid.to_string()
    } else {
        "1".to_string()
    };
    let mut args = vec!["--pid".to_string(), pid];
    if mode == "host" || mode.starts_with("container:") {
        args.extend(["--container-id".to_string(), id.clone()]);
    } else {
        // Its own PID namespace: PID 1 is the app, whatever it calls itself.
        args.push("--exact".to_string());
    }
    args
}

/// The identity and command the user asked for, as toolbox arguments.
fn request_args(req: &Request) -> Vec<String> {
    let mut args = Vec::new();
    if req.root {
        args.push("--root".into());
    } else if let Some(user) = &req.user {
        args.extend(["--user".to_string(), user.clone()]);
    }
    if let Some(cmd) = &req.command {
        args.extend(["-c".to_string(), cmd.clone()]);
    }
    if let Some(value) = &req.end_mark {
        args.extend(["--end-mark".to_string(), value.clone()]);
    }
    args
}

/// `args`, the toolbox's arguments, as the variable that hands them over:
/// the command line of the toolbox is `/nosh toolbox` and nothing more,
/// since every process of the target can read it (see
/// [`TOOLBOX_ARGS_ENV`]). Always set, so that a replica's image cannot
/// supply its own.
///
/// [`TOOLBOX_ARGS_ENV`]: crate::target::info::TOOLBOX_ARGS_ENV
pub fn toolbox_args_env(args: &[String]) -> String {
    let json = serde_json::to_string(args).unwrap_or_else(|_| "[]".into());
    format!("{}={json}", crate::target::info::TOOLBOX_ARGS_ENV)
}

/// The sidecar's environment: the toolbox's arguments `args`, the target's
/// configuration for the toolbox (in the environment, not the command
/// line: the toolbox is not dumpable, so the app cannot read them back,
/// and `ps` stays readable), and `$TERM` when it has a TTY. The
/// configuration is bounded ([`TargetInfo::bounded`]): one environment
/// string over 128 KiB and the engine cannot start the sidecar at all.
/// Without a TTY, whether our own stdout and stderr are terminals: the
/// toolbox then escapes what it writes as if they were its own.
///
/// [`TargetInfo::bounded`]: crate::target::info::TargetInfo::bounded
pub fn sidecar_env(target: &Target, req: &Request, args: &[String]) -> Vec<String> {
    let json = serde_json::to_string(&target.info.bounded()).unwrap_or_else(|_| "{}".into());
    let mut env = vec![
        format!("{}={json}", crate::target::info::TARGET_INFO_ENV),
        toolbox_args_env(args),
    ];
    if let (Some(term), true) = (&req.term, req.tty) {
        env.push(format!("TERM={term}"));
    }
    if !req.tty {
        for (var, yes) in [
            (
                crate::term::escape::STDOUT_TERMINAL_ENV,
                req.stdout_terminal,
            ),
            (
                crate::term::escape::STDERR_TERMINAL_ENV,
                req.stderr_terminal,
            ),
        ] {
            if yes {
                env.push(format!("{var}=1"));
            }
        }
    }
    env
}

/// The labels of everything a session makes (sidecar, replica, helper,
/// temporary image): `nosh ls` and `nosh gc` find them by these, and leave
/// young ones alone (they may be between create and start).
pub fn session_labels(target: &Target, session: &str) -> HashMap<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    HashMap::from([
        (LABEL_SESSION.to_string(), session.to_string()),
        (LABEL_TARGET.to_string(), target.info.id.clone()),
        (LABEL_TARGET_NAME.to_string(), target.info.name.clone()),
        (
            LABEL_VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (LABEL_CREATED.to_string(), now.to_string()),
    ])
}

/// The stdio part of a container this client attaches to (a sidecar or a
/// replica). The engine closes the container's stdin when our attach
/// connection goes away (`stdin_once`), even on SIGKILL of this client:
/// the shell reads EOF, exits, and auto-remove deletes the container.
pub fn attached_io(tty: bool) -> ContainerCreateBody {
    ContainerCreateBody {
        tty: Some(tty),
        open_stdin: Some(true),
        stdin_once: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    }
}

/// No log driver for a container this client attaches to: what it prints
/// is the user's session (files shown, a copy's bytes, a forwarded
/// stream), which has no business on the engine's disk, and logging it
/// costs the engine a JSON encoding of every byte it relays.
pub fn unlogged() -> Option<HostConfigLogConfig> {
    Some(HostConfigLogConfig {
        typ: Some("none".into()),
        config: None,
    })
}

/// `nosh cp`'s socket directory, mounted where the toolbox looks for it.
pub fn stream_binds(req: &Request) -> Option<Vec<String>> {
    req.stream_dir
        .as_ref()
        .map(|d| vec![format!("{d}:{}", crate::toolbox::stream::DIR)])
}

/// What a container beside the target is for.
#[derive(Debug, Clone, Copy)]
pub enum Role<'a> {
    /// A session's shell, as the user asked for it.
    Shell(&'a Request),
    /// One connection of `nosh port-forward`, to `remote` in the target's
    /// network, within `limits`.
    Forward { remote: SocketAddr, limits: Limits },
}

/// A container beside the target: in its PID and network namespaces, with
/// the toolbox as its entry (its arguments in the environment), every
/// capability dropped but what the role needs, removed when it exits and
/// never logged, within its limits.
///
/// A shell needs the capabilities to join the target's namespaces and to
/// drop to the app's identity ([`SIDECAR_CAPS`]), shares the target's IPC
/// namespace when the target allows it, and gets `no-new-privileges`. A
/// forwarded connection joins no namespace itself: the drop's three
/// capabilities are all it gets.
pub fn beside(target: &Target, image: &str, role: Role) -> ContainerCreateBody {
    let joined = format!("container:{}", target.info.id);
    let mut args = target_args(target);
    let (kind, env, limits, tty) = match role {
        Role::Shell(req) => {
            args.extend(request_args(req));
            (
                "sidecar",
                sidecar_env(target, req, &args),
                req.limits,
                req.tty,
            )
        }
        Role::Forward { remote, limits } => {
            args.extend(["--forward".to_string(), remote.to_string()]);
            ("forward", vec![toolbox_args_env(&args)], limits, false)
        }
    };
    let shell = match role {
        Role::Shell(req) => Some(req),
        Role::Forward { .. } => None,
    };
    let caps: &[&str] = match shell {
        Some(_) => &SIDECAR_CAPS,
        None => &["SETUID", "SETGID", "SETPCAP"],
    };
    ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/nosh".into(), "toolbox".into()]),
        env: Some(env),
        labels: Some(session_labels(target, kind)),
        host_config: Some(HostConfig {
            pid_mode: Some(joined.clone()),
            network_mode: Some(joined.clone()),
            ipc_mode: shell.and((target.ipc_mode == "shareable").then_some(joined)),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(caps.iter().map(|c| c.to_string()).collect()),
            security_opt: shell.map(|_| vec!["no-new-privileges".into()]),
            auto_remove: Some(true),
            log_config: unlogged(),
            binds: shell.and_then(stream_binds),
            ..limits.host_config()
        }),
        ..attached_io(tty)
    }
}

/// The sidecar of a session.
pub fn sidecar_config(target: &Target, image: &str, req: &Request) -> ContainerCreateBody {
    beside(target, image, Role::Shell(req))
}

/// `nosh-<target>-<6 hex>`: readable in `docker ps`, unique enough for
/// concurrent sessions on one target.
pub fn sidecar_name(target_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{}-{nanos}-{target_name}", std::process::id());
    let hash = Sha256::digest(seed.as_bytes());
    let suffix: String = hash.iter().take(3).map(|b| format!("{b:02x}")).collect();
    let base: String = target_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .take(40)
        .collect();
    if base.is_empty() {
        format!("nosh-{suffix}")
    } else {
        format!("nosh-{base}-{suffix}")
    }
}

/// The toolbox's arguments as `env` hands them over (exactly once).
#[cfg(test)]
pub fn handed_args(env: &[String]) -> Vec<String> {
    let prefix = format!("{}=", crate::target::info::TOOLBOX_ARGS_ENV);
    let found: Vec<&str> = env.iter().filter_map(|e| e.strip_prefix(&prefix)).collect();
    assert_eq!(found.len(), 1, "{env:?}");
    serde_json::from_str(found[0]).expect("a JSON list of strings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::info::TargetInfo;

    fn target(ipc: &str) -> Target {
        Target {
            info: TargetInfo {
                name: "api".into(),
                id: "0123456789abcdef".into(),
                state: "running".into(),
                ..Default::default()
            },
            ipc_mode: ipc.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_sidecar_joins_the_target_with_least_privilege_and_removes_itself() {
        let req = Request {
            tty: true,
            term: Some("xterm".into()),
            ..Default::default()
        };
        let c = sidecar_config(&target("private"), "nosh-toolbox:x", &req);
        let h = c.host_config.unwrap();
        assert_eq!(h.pid_mode.as_deref(), Some("container:0123456789abcdef"));
        assert_eq!(
            h.network_mode.as_deref(),
            Some("container:0123456789abcdef")
        );
        assert_eq!(h.ipc_mode, None);
        assert_eq!(h.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(
            h.cap_add.unwrap(),
            [
                "SYS_ADMIN",
                "SYS_PTRACE",
                "SYS_CHROOT",
                "DAC_READ_SEARCH",
                "SETPCAP",
                "SETGID",
                "SETUID"
            ]
        );
        assert_eq!(h.security_opt.unwrap(), ["no-new-privileges"]);
        assert_eq!(h.pids_limit, Some(1024));
        assert_eq!(h.memory, Some(1 << 30));
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(c.stdin_once, Some(true));
        assert_eq!(c.tty, Some(true));
        // Nothing the operator typed, nor anything else, on the command line.
        assert_eq!(c.entrypoint.unwrap(), ["/nosh", "toolbox"]);
        assert_eq!(c.cmd, None);
        let env = c.env.unwrap();
        assert!(env[0].starts_with("NOSH_TARGET_INFO={"));
        assert_eq!(env[1], r#"NOSH_TOOLBOX_ARGS=["--pid","1","--exact"]"#);
        assert_eq!(env[2..], ["TERM=xterm"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels[LABEL_TARGET], "0123456789abcdef");
        assert_eq!(labels[LABEL_SESSION], "sidecar");
    }

    #[test]
    fn without_a_tty_the_toolbox_hears_where_its_output_ends_up() {
        let req = Request {
            stdout_terminal: true,
            ..Default::default()
        };
        let env = sidecar_env(&target(""), &req, &[]);
        assert_eq!(env[2..], ["NOSH_STDOUT_TERMINAL=1"]);
        // With a TTY the sidecar's own stdout is the terminal.
        let env = sidecar_env(
            &target(""),
            &Request {
                tty: true,
                stderr_terminal: true,
                ..req
            },
            &[],
        );
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn limits_are_overridable_and_zero_lifts_them() {
        let req = Request {
            limits: Limits {
                pids: 0,
                memory: 64 << 20,
            },
            ..Default::default()
        };
        let h = sidecar_config(&target(""), "img", &req)
            .host_config
            .unwrap();
        assert_eq!(h.pids_limit, None);
        assert_eq!(h.memory, Some(64 << 20));
    }

    #[test]
    fn ipc_is_shared_only_with_a_shareable_target() {
        let c = sidecar_config(&target("shareable"), "img", &Request::default());
        assert_eq!(
            c.host_config.unwrap().ipc_mode.as_deref(),
            Some("container:0123456789abcdef")
        );
    }

    #[test]
    fn toolbox_arguments_carry_identity_command_and_target_info() {
        let req = Request {
            user: Some("1000:1000".into()),
            command: Some("id".into()),
            ..Default::default()
        };
        let args = toolbox_args(&req);
        assert_eq!(args, ["--pid", "1", "--user", "1000:1000", "-c", "id"]);
        let env = sidecar_env(&target(""), &req, &args);
        assert_eq!(handed_args(&env), args);
        let json = env[0].strip_prefix("NOSH_TARGET_INFO=").unwrap();
        let info: TargetInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.name, "api");
        let root = toolbox_args(&Request {
            root: true,
            ..Default::default()
        });
        assert_eq!(root[..3], ["--pid", "1", "--root"]);
    }

    #[test]
    fn a_target_sharing_another_pid_namespace_is_named_to_the_toolbox() {
        let with = |mode: &str| Target {
            host_pid: 4242,
            host_config: HostConfig {
                pid_mode: Some(mode.into()),
                ..Default::default()
            },
            ..target("private")
        };
        let req = Request {
            command: Some("id".into()),
            ..Default::default()
        };
        let cmd = |t: &Target| handed_args(&sidecar_config(t, "img", &req).env.unwrap());
        assert_eq!(cmd(&with("")), ["--pid", "1", "--exact", "-c", "id"]);
        assert_eq!(cmd(&with("private")), ["--pid", "1", "--exact", "-c", "id"]);
        assert_eq!(
            cmd(&with("host")),
            [
                "--pid",
                "4242",
                "--container-id",
                "0123456789abcdef",
                "-c",
                "id"
            ]
        );
        assert_eq!(
            cmd(&with("container:feedbeef")),
            [
                "--pid",
                "1",
                "--container-id",
                "0123456789abcdef",
                "-c",
                "id"
            ]
        );
    }

    #[test]
    fn sidecar_names_are_valid_and_distinct() {
        let a = sidecar_name("claims-api");
        assert!(a.starts_with("nosh-claims-api-"), "{a}");
        assert_eq!(sidecar_name("").len(), "nosh-".len() + 6);
        assert!(sidecar_name("we/ird name").starts_with("nosh-weirdname-"));
    }
}
