//! Privileged calls and what they need: a failed `chroot` needs
//! CAP_SYS_CHROOT, a `setgroups` CAP_SETGID. An EPERM is answered with the
//! capability and the directive of the app's configuration that asks for
//! the call, never with a chown.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::facts::Facts;
use super::{Finding, Report, logs};
use crate::shell::Ctx;

/// A capability and what asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The capabilities, as the kernel names them (one subject: a user
    /// switch needs both CAP_SETUID and CAP_SETGID).
    pub capability: &'static str,
    /// What the app tries: "change its root directory", "switch to
    /// another user".
    pub what: &'static str,
    /// Why an app in a container can do without it.
    pub moot: &'static str,
    /// The first words of the configuration lines that ask for it.
    pub directives: &'static [&'static str],
}

const CHROOT: Need = Need {
    capability: "CAP_SYS_CHROOT",
    what: "change its root directory (chroot)",
    moot: "the container is its own jail",
    directives: &[
        "chroot",
        "chroot_dir",
        "chrootdir",
        "chroot-dir",
        "chroot_directory",
    ],
};
const SWITCH_USER: Need = Need {
    capability: "CAP_SETUID, CAP_SETGID",
    what: "switch to another user and group",
    moot: "the container's USER already sets who the app runs as",
    directives: &[
        "user",
        "group",
        "username",
        "groupname",
        "setuid",
        "setgid",
        "run_as",
        "run_as_user",
        "runas",
        "cache_effective_user",
        "cache_effective_group",
        "daemon_user",
        "drop_privileges",
    ],
};
const CHOWN: Need = Need {
    capability: "CAP_CHOWN",
    what: "give files to another owner (chown)",
    moot: "the image's files can be given to the app's user in the build stage",
    directives: &["owner", "chown", "user", "group", "mode"],
};
const MKNOD: Need = Need {
    capability: "CAP_MKNOD",
    what: "create device files (mknod)",
    moot: "the engine provides the devices a container gets",
    directives: &[],
};
const NICE: Need = Need {
    capability: "CAP_SYS_NICE",
    what: "raise its scheduling priority",
    moot: "the orchestrator sets CPU shares and priorities",
    directives: &[
        "nice",
        "priority",
        "cpu_affinity",
        "sched",
        "scheduler",
        "worker_priority",
    ],
};
const LOCK: Need = Need {
    capability: "CAP_IPC_LOCK",
    what: "lock memory (mlock)",
    moot: "the orchestrator sets memory limits",
    directives: &[
        "mlock",
        "memlock",
        "lock_memory",
        "bootstrap.memory_lock",
        "mlockall",
    ],
};
const RESOURCE: Need = Need {
    capability: "CAP_SYS_RESOURCE",
    what: "raise a resource limit above its hard limit",
    moot: "the engine sets the limits (docker run --ulimit)",
    directives: &[
        "worker_rlimit_nofile",
        "rlimit",
        "maxfiles",
        "ulimit",
        "limit_nofile",
    ],
};
const ADMIN: Need = Need {
    capability: "CAP_SYS_ADMIN",
    what: "mount filesystems or create namespaces",
    moot: "the engine sets up mounts and namespaces",
    directives: &[],
};
const TIME: Need = Need {
    capability: "CAP_SYS_TIME",
    what: "set the system clock",
    moot: "the host keeps the clock",
    directives: &[],
};
const RAW: Need = Need {
    capability: "CAP_NET_RAW",
    what: "open raw or packet sockets",
    moot: "ping-style probes belong outside the app",
    directives: &[],
};
const SETPCAP: Need = Need {
    capability: "CAP_SETPCAP",
    what: "change its capabilities",
    moot: "the engine sets the container's capabilities",
    directives: &[],
};
const KILL: Need = Need {
    capability: "CAP_KILL",
    what: "signal processes of other users",
    moot: "a container's processes belong to one user",
    directives: &[],
};

/// What asks for `capability` (as [`crate::diagnosis::privileged`] names the one a
/// failed call lacked): a user switch is one subject, CAP_SETUID and
/// CAP_SETGID together. Binding a low port is the privileged-port
/// finding's.
pub fn for_capability(capability: &str) -> Option<Need> {
    Some(match capability {
        "CAP_SYS_CHROOT" => CHROOT,
        "CAP_SETUID" | "CAP_SETGID" => SWITCH_USER,
        "CAP_CHOWN" => CHOWN,
        "CAP_MKNOD" => MKNOD,
        "CAP_SYS_NICE" => NICE,
        "CAP_IPC_LOCK" => LOCK,
        "CAP_SYS_RESOURCE" => RESOURCE,
        "CAP_SYS_ADMIN" => ADMIN,
        "CAP_SYS_TIME" => TIME,
        "CAP_NET_RAW" => RAW,
        "CAP_SETPCAP" => SETPCAP,
        "CAP_KILL" => KILL,
        _ => return None,
    })
}

/// The need behind a call a log line names failing (`Cannot
/// chroot(...)`): what the call lacks when it fails with EPERM.
pub fn needed_by_name(call: &str) -> Option<Need> {
    let call_facts = crate::diagnosis::privileged::Call {
        port_start: crate::diagnosis::privileged::unprivileged_port_start(),
        ..Default::default()
    };
    crate::diagnosis::privileged::needed(call, libc::EPERM, &call_facts)
        .and_then(|n| for_capability(n.capability))
}

/// The need behind a user or group the configuration switches to.
pub fn user_switch() -> Need {
    SWITCH_USER
}

/// A line of the app's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    pub file: String,
    pub line: usize,
    /// The line, trimmed and cut to 200 characters.
    pub text: String,
}

impl Directive {
    /// `/etc/haproxy/haproxy.cfg:4`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The most of one configuration file read, and the most files.
const CONFIG_CAP: u64 = 256 * 1024;
const MAX_FILES: usize = 16;

/// The lines of a configuration file, if it is a readable regular file of
/// a sane size.
fn config_lines(ctx: &Ctx, file: &str) -> Option<Vec<String>> {
    let bytes = crate::target::file::read(&ctx.resolve(file), CONFIG_CAP).ok()?;
    Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| l.chars().take(1000).collect())
            .collect(),
    )
}

/// The key of a configuration line: its first word before whitespace,
/// '=' or ':' (`chroot /x`, `username: "x"`, `server.username = "x"`),
/// lower case, the part after the last '.'. `None` for a comment.
fn key_of(line: &str) -> Option<String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with("//") {
        return None;
    }
    let key = t
        .split(|c: char| c.is_whitespace() || c == '=' || c == ':')
        .next()?
        .trim_matches(|c: char| c == '"' || c == '\'');
    let key = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    (!key.is_empty()).then_some(key)
}

fn directive(file: &str, n: usize, text: &str) -> Directive {
    Directive {
        file: file.to_string(),
        line: n,
        text: text.trim().chars().take(200).collect(),
    }
}

/// The line `n` of `file` in the target.
pub fn line_at(ctx: &Ctx, file: &str, n: usize) -> Option<Directive> {
    let lines = config_lines(ctx, file)?;
    let text = lines.get(n.checked_sub(1)?)?;
    Some(directive(file, n, text))
}

/// The lines of `files` whose key is one of `need`'s directives, in order.
pub fn find_directives(ctx: &Ctx, files: &[String], need: &Need) -> Vec<Directive> {
    let mut out = Vec::new();
    for file in files.iter().take(MAX_FILES) {
        let Some(lines) = config_lines(ctx, file) else {
            continue;
        };
        for (i, l) in lines.iter().enumerate() {
            if key_of(l).is_some_and(|k| need.directives.contains(&k.as_str())) {
                out.push(directive(file, i + 1, l));
            }
        }
    }
    out
}

/// The configuration files a command line names: an argument (or the
/// value of `--opt=FILE`) that is a regular file under /etc, or whose name
/// ends like a configuration file.
pub fn config_files_in_argv(ctx: &Ctx, argv: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in argv.iter().skip(1) {
        let value = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
        if !value.starts_with('/') {
            continue;
        }
        let config_like = value.starts_with("/etc/")
            || [".conf", ".cfg", ".cnf", ".ini", ".yaml", ".yml", ".toml"]
                .iter()
                .any(|e| value.ends_with(e));
        let file = std::fs::metadata(ctx.resolve(value)).is_ok_and(|m| m.is_file());
        if config_like && file && !out.iter().any(|o| o == value) {
            out.push(value.to_string());
        }
    }
    out
}

/// Whether `path` looks like a configuration file the app read (for the
/// files a traced start opened).
pub fn is_config_path(path: &str) -> bool {
    let p = Path::new(path);
    path.starts_with("/etc/")
        && !path.starts_with("/etc/ld.so")
        && ![
            "/etc/passwd",
            "/etc/group",
            "/etc/nsswitch.conf",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/etc/localtime",
            "/etc/host.conf",
            "/etc/gai.conf",
        ]
        .contains(&path)
        && !path.starts_with("/etc/ssl/")
        && p.extension().is_none_or(|e| e != "so")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_calls_named_in_a_log_name_their_capability() {
        let cap = |call: &str| needed_by_name(call).map(|n| n.capability);
        assert_eq!(cap("chroot"), Some("CAP_SYS_CHROOT"));
        assert_eq!(cap("setgroups"), Some("CAP_SETUID, CAP_SETGID"));
        assert_eq!(cap("setuid"), Some("CAP_SETUID, CAP_SETGID"));
        assert_eq!(cap("chown"), Some("CAP_CHOWN"));
        assert_eq!(cap("openat"), None);
        assert!(for_capability("CAP_NET_BIND_SERVICE").is_none());
    }

    #[test]
    fn directive_keys_are_read_in_the_common_config_syntaxes() {
        assert_eq!(
            key_of("\tchroot /var/lib/haproxy").as_deref(),
            Some("chroot")
        );
        assert_eq!(
            key_of("  username: \"unbound\"").as_deref(),
            Some("username")
        );
        assert_eq!(
            key_of("server.username = \"www-data\"").as_deref(),
            Some("username")
        );
        assert_eq!(key_of("user www-data;").as_deref(), Some("user"));
        assert_eq!(key_of("# chroot /x"), None);
    }

    #[test]
    fn the_directive_asking_for_a_capability_is_found_in_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/haproxy")).unwrap();
        std::fs::write(
            dir.path().join("etc/haproxy/haproxy.cfg"),
            "global\n\tlog /dev/log local0\n\t# chroot /nowhere\n\tchroot /var/lib/haproxy\n\tuser haproxy\n",
        )
        .unwrap();
        let ctx = Ctx::for_root(dir.path().to_path_buf());
        let argv: Vec<String> = ["/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg"]
            .map(String::from)
            .to_vec();
        let files = config_files_in_argv(&ctx, &argv);
        assert_eq!(files, ["/etc/haproxy/haproxy.cfg"]);
        let found = find_directives(&ctx, &files, &CHROOT);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].at(), "/etc/haproxy/haproxy.cfg:4");
        assert_eq!(found[0].text, "chroot /var/lib/haproxy");
        assert_eq!(
            line_at(&ctx, "/etc/haproxy/haproxy.cfg", 5).unwrap().text,
            "user haproxy"
        );
    }
}

/// What shows that the app asks for one capability.
#[derive(Default)]
struct Asked {
    need: Option<Need>,
    /// Log lines (index in the facts' lines).
    lines: Vec<usize>,
    /// Traced calls that failed, as trace lines.
    calls: Vec<String>,
    /// Users or groups the configuration names that the image lacks.
    users: Vec<String>,
    directives: Vec<Directive>,
}

/// The configuration files the app reads: those its command line names,
/// then those its traced start opened under /etc.
fn config_files(f: &Facts) -> Vec<String> {
    let mut files = config_files_in_argv(f.ctx, &f.argv);
    if let Some(s) = &f.start {
        for p in &s.opened {
            let regular = std::fs::metadata(f.ctx.resolve(p)).is_ok_and(|m| m.is_file());
            if regular && is_config_path(p) && !files.contains(p) {
                files.push(p.clone());
            }
        }
    }
    files
}

/// `needs-capability`: the privileged calls the app makes (a log line
/// names them, or the traced start shows them fail with EPERM) and the
/// users its configuration switches to, each with the capability it
/// needs, the directive that asks for it and the fix: remove the
/// directive, or grant the capability. One finding per capability.
pub fn check(f: &Facts, r: &mut Report) {
    let mut asked: BTreeMap<&'static str, Asked> = BTreeMap::new();
    fn add<'m>(asked: &'m mut BTreeMap<&'static str, Asked>, need: Need) -> &'m mut Asked {
        let a = asked.entry(need.capability).or_default();
        a.need = Some(need);
        a
    }
    for (i, line) in f.lines.iter().enumerate() {
        let (need, user) = match logs::signature(line, i, &f.workdir) {
            Some(logs::Signature::UnknownUser(name)) => (user_switch(), Some(name)),
            Some(logs::Signature::Privileged(call)) => match needed_by_name(call) {
                Some(n) => (n, None),
                None => continue,
            },
            _ => continue,
        };
        let a = add(&mut asked, need);
        a.lines.push(i);
        if let Some(u) = user.filter(|u| !a.users.contains(u)) {
            a.users.push(u);
        }
        for c in logs::config_refs(line) {
            if let Some(d) = line_at(f.ctx, &c.file, c.line).filter(|d| !a.directives.contains(d)) {
                a.directives.push(d);
            }
        }
    }
    // The replica runs with no capabilities: for an app that runs as root,
    // an EPERM there says nothing about the original.
    let root = f.who.uid == 0;
    if let Some(s) = f.start.as_ref().filter(|_| !root) {
        for c in &s.failed {
            if let Some(need) = c.capability.and_then(for_capability) {
                let a = add(&mut asked, need);
                if a.calls.len() < 8 {
                    a.calls.push(c.line());
                }
            }
        }
    }
    if asked.is_empty() {
        return;
    }
    let files = config_files(f);
    for (capability, mut a) in asked {
        let Some(need) = a.need else { continue };
        if a.directives.is_empty() {
            a.directives = find_directives(f.ctx, &files, &need);
            // A user switch: only the lines that name the missing user,
            // when the log named one.
            if !a.users.is_empty() {
                let named: Vec<Directive> = a
                    .directives
                    .iter()
                    .filter(|d| a.users.iter().any(|u| d.text.contains(u.as_str())))
                    .cloned()
                    .collect();
                if !named.is_empty() {
                    a.directives = named;
                }
            }
        }
        let shown: Vec<String> = a
            .directives
            .iter()
            .map(|d| format!("`{}` ({})", d.text, d.at()))
            .collect();
        let uid = f.who.uid;
        let mut message = if a.users.is_empty() {
            format!(
                "the app tries to {} and uid {uid} has no {capability}",
                need.what
            )
        } else {
            format!(
                "the configuration switches to {} the image has no entry for; switching needs {capability}, which uid {uid} lacks",
                a.users
                    .iter()
                    .map(|u| format!("'{u}'"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        };
        if let Some(call) = a.calls.first() {
            message.push_str(&format!(": {call}"));
        }
        if !shown.is_empty() {
            message.push_str(&format!("; asked for by {}", shown.join(", ")));
        }
        let log = a.lines.last().map(|i| f.lines[*i].trim().to_string());
        let grant = capability
            .split(", ")
            .map(|c| format!("--cap-add {}", c.trim_start_matches("CAP_")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut steps = Vec::new();
        if shown.is_empty() {
            steps.push(format!(
                "turn off the app's own attempt to {} in its configuration ({})",
                need.what, need.moot
            ));
        } else {
            steps.push(format!(
                "remove the directive in the build stage ({}): delete {}",
                need.moot,
                shown.join(" and ")
            ));
        }
        steps.push(format!(
            "grant it: Docker and Kubernetes give a non-root user no capabilities, so run as root with {grant} (securityContext.capabilities.add), or RUN setcap on the program in the build stage without no-new-privileges"
        ));
        // A log line that names the failure is the app saying it matters;
        // a failed call alone may be one it shrugs off (the exit's cause
        // is made an error by the crash check).
        let severity = if f.crashed && !a.lines.is_empty() {
            "error"
        } else {
            "warn"
        };
        let evidence = json!({
            "capability": capability,
            "calls": a.calls,
            "users": a.users,
            "directives": a.directives,
            "config_files": files,
            "uid": uid,
            "log": log,
        });
        r.push(
            Finding::new(
                "needs-capability",
                severity,
                capability,
                message,
                evidence,
                steps.join("; or "),
            )
            .from_lines(a.lines),
        );
    }
}
