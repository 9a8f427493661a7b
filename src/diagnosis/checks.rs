//! doctor's checks: the facts about a target in, findings out, one per id
//! and subject. The builtin (`crate::builtins::doctor`) and the watched
//! start of `nosh doctor IMAGE --run` (`crate::toolbox::watch`) both run
//! them through [`Options::examine`] or [`findings`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::builtins::{bind_check, entrypoint, http};
use crate::diagnosis::access::{self, Seen};
use crate::diagnosis::facts::{self, Facts};
use crate::diagnosis::logs::{self, Errno, Op, Signature};
use crate::diagnosis::watched::{FailedCall, Watched};
use crate::diagnosis::{Finding, Report, caps, cause, fix, readonly, start};
use crate::shell::Ctx;
use crate::target::info::{explain_exit, explain_last_exit};
use crate::target::libs;
use crate::target::perm::{self, Access};
use crate::target::procinfo::{self, CAP_NET_BIND_SERVICE};
use crate::target::procnet::{self, Owners, Proto, State};
/// How long the traced start of a crashed app may run: one that still runs
/// after this starts, which is an answer too.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Absolute paths mentioned in a string: `/x/y`, `--opt=/x/y`, `KEY=/x/y`.
fn paths_in(s: &str) -> Vec<String> {
    s.split([' ', '=', ':', ','])
        .filter(|w| w.starts_with('/') && w.len() > 1 && !w.contains(char::is_whitespace))
        .map(|w| w.trim_end_matches('/').to_string())
        .collect()
}

fn looks_writable_kind(p: &str) -> bool {
    [
        "log", "data", "cache", "tmp", "/var/", "/run/", "state", "upload", "spool",
    ]
    .iter()
    .any(|k| p.contains(k))
}

/// The program a HEALTHCHECK test (`["CMD-SHELL", "curl ..."]`,
/// `["CMD", "/bin/probe", ...]`) needs that the image lacks: `/bin/sh`
/// for the shell form, then the probe's own program (a shell builtin
/// needs none). `None` when it can run, or for `NONE`.
fn healthcheck_gap(ctx: &Ctx, test: &[String], workdir: &str) -> Option<String> {
    let path = entrypoint::image_path(ctx);
    let missing = |p: &str| entrypoint::resolve(ctx, p, &path, workdir).is_none();
    match test.first()?.as_str() {
        "CMD" => test.get(1).filter(|p| missing(p)).cloned(),
        "CMD-SHELL" => {
            if missing("/bin/sh") {
                return Some("/bin/sh".into());
            }
            let first = test.get(1)?.split_whitespace().next()?;
            let builtin = [
                "exit", "test", "[", "true", "false", "echo", "printf", "cd", "exec",
            ]
            .contains(&first);
            (!builtin && !first.contains(['$', '=', '(', '`']) && missing(first))
                .then(|| first.to_string())
        }
        _ => None,
    }
}

/// The last log line that contains `needle`.
fn last_line_with(lines: &[String], needle: &str) -> Option<String> {
    lines.iter().rev().find(|l| l.contains(needle)).cloned()
}

fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
}

/// Which of the causes of exit 127 this is, from the loader's own line in
/// the logs, the entrypoint checks (no such program, no shell, no
/// interpreter) and the library resolution: (explanation, fix).
fn cause_of_127(
    logs: &[String],
    checks: &[entrypoint::Check],
    libraries: Option<&libs::Resolution>,
) -> (String, Option<String>) {
    if let Some(line) = last_line_with(logs, "error while loading shared libraries") {
        let lib = line
            .split("error while loading shared libraries: ")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .unwrap_or("a library")
            .to_string();
        let needed_by = libraries
            .and_then(|r| r.missing().find(|n| n.name == lib))
            .map(|n| format!(", needed by {}", n.needed_by))
            .unwrap_or_default();
        return (
            format!(
                "the dynamic loader could not find {lib}{needed_by} (the app's last words: \"{}\")",
                line.trim()
            ),
            Some(format!(
                "put {lib} in the image (see the missing-library finding)"
            )),
        );
    }
    if let Some(c) = checks.iter().find(|c| c.severity == "error") {
        return (c.message.clone(), c.fix.clone());
    }
    if let Some(n) = libraries.and_then(|r| r.missing().next()) {
        return (
            format!(
                "{} needs {}, which is not in the image",
                n.needed_by, n.name
            ),
            Some(format!(
                "put {} in the image (see the missing-library finding)",
                n.name
            )),
        );
    }
    (explain_exit(127).unwrap_or_default().to_string(), None)
}

/// The checks on `ctx`'s target. `watched` is what `nosh doctor IMAGE
/// --run` saw while the app started (its failed calls, exit code and
/// output); the builtin passes `None` for a target that runs already.
pub fn findings(ctx: &Ctx, prod_like: bool, watched: Option<&Watched>) -> Vec<Finding> {
    Options {
        prod_like,
        no_start: true,
    }
    .examine(ctx, watched)
    .findings
}

/// How doctor judges: `prod_like` as Kubernetes runs hardened workloads;
/// `no_start` never starts the entrypoint of a replica under trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub prod_like: bool,
    pub no_start: bool,
}

impl Options {
    /// Every check on `ctx`'s target, in the order the report lists them.
    pub fn examine(&self, ctx: &Ctx, watched: Option<&Watched>) -> Report {
        let may_start = ctx.info.replica && !self.no_start;
        let f = facts::gather(ctx, watched, |argv| {
            let startable = !argv.is_empty()
                && !entrypoint::check_argv(ctx, argv)
                    .iter()
                    .any(|c| c.severity == "error");
            (may_start && startable)
                .then(|| {
                    let launch = entrypoint::command(ctx, argv).ok()?;
                    start::run(launch.cmd, START_TIMEOUT)
                })
                .flatten()
        });
        let mut r = Report::default();
        root(&f, &mut r);
        self.ports(&f, &mut r);
        failed_accesses(&f, &mut r);
        paths_in_config(&f, &mut r);
        logs_to_file(&f, &mut r);
        home_and_tmp(&f, &mut r);
        let (entry_checks, libraries) = program(&f, &mut r);
        healthcheck(&f, &mut r);
        tzdata(&f, &mut r);
        ca_bundle(&f, &mut r);
        image_tag(&f, &mut r);
        caps::check(&f, &mut r);
        crash(&f, &mut r, &entry_checks, libraries.as_ref());
        readonly::check(&f, &mut r, self.prod_like);
        self.capabilities(&f, &mut r);
        r
    }

    /// privileged-port: a port the app binds or exposes below
    /// ip_unprivileged_port_start without CAP_NET_BIND_SERVICE.
    fn ports(&self, f: &Facts, r: &mut Report) {
        let ctx = f.ctx;
        let start = bind_check::unprivileged_port_start(&ctx.proc.root).unwrap_or(1024);
        let effective_start = if self.prod_like { 1024 } else { start };
        let has_bind_cap = f
            .status
            .as_ref()
            .is_some_and(|s| s.cap_eff & (1 << CAP_NET_BIND_SERVICE) != 0)
            && !self.prod_like;
        let owners = Owners::scan(&ctx.proc.root);
        let mut ports: BTreeMap<u16, String> = BTreeMap::new();
        for (file, proto) in [
            ("tcp", Proto::Tcp),
            ("tcp6", Proto::Tcp6),
            ("udp", Proto::Udp),
            ("udp6", Proto::Udp6),
        ] {
            let text =
                procnet::read_file(&ctx.proc.root.join("net").join(file)).unwrap_or_default();
            for s in procnet::parse_inet(&text, proto) {
                let listening = if proto.is_tcp() {
                    s.state == State::Listen
                } else {
                    s.remote_port == 0
                };
                let ours = owners.get(s.inode).is_some_and(|o| f.pids.contains(&o.pid))
                    || owners.get(s.inode).is_none();
                if listening && ours {
                    ports
                        .entry(s.local_port)
                        .or_insert_with(|| format!("listening ({})", proto.name()));
                }
            }
        }
        for e in &f.info.exposed_ports {
            if let Some(p) = e.split('/').next().and_then(|p| p.parse::<u16>().ok()) {
                ports.entry(p).or_insert_with(|| format!("exposed ({e})"));
            }
        }
        // A bind the kernel refused during a watched start is the port's
        // best evidence: the call and its errno.
        let refused: BTreeMap<u16, &FailedCall> = f
            .watched
            .map(|w| w.failed_binds().into_iter().collect())
            .unwrap_or_default();
        for port in refused.keys() {
            ports.insert(*port, "bound by the app".into());
        }
        let uid = f.app_uid.unwrap_or(f.who.uid);
        for (port, how) in &ports {
            let fix = format!(
                "listen on a port >= 1024 (e.g. {}) and publish it as {port} (docker run -p {port}:{}; a Kubernetes Service targetPort)",
                8000 + port,
                8000 + port
            );
            if let Some(call) = refused.get(port) {
                refused_bind(r, *port, call, uid, start, has_bind_cap, fix);
                continue;
            }
            if *port >= 1024 || f.app_uid == Some(0) && !self.prod_like {
                continue;
            }
            let evidence = json!({"port": port, "source": how, "uid": f.app_uid, "ip_unprivileged_port_start": start, "cap_net_bind_service": has_bind_cap});
            if u32::from(*port) < effective_start && !has_bind_cap {
                let msg = if self.prod_like && u32::from(*port) >= start {
                    format!(
                        "port {port} is {how} but would fail to bind under Kubernetes or host networking: ip_unprivileged_port_start is 1024 there and uid {uid} has no CAP_NET_BIND_SERVICE"
                    )
                } else {
                    format!(
                        "port {port} is {how} below net.ipv4.ip_unprivileged_port_start={start} and uid {uid} has no CAP_NET_BIND_SERVICE: bind fails with EACCES"
                    )
                };
                r.add(
                    "privileged-port",
                    "error",
                    port.to_string(),
                    msg,
                    evidence,
                    fix,
                );
            } else if !has_bind_cap {
                r.add("privileged-port", "warn", port.to_string(), format!("port {port} is {how}; it binds only because ip_unprivileged_port_start is {start} here (Docker sets 0); Kubernetes and host networking keep 1024 and it will fail there"), evidence, fix);
            }
        }
    }

    /// capabilities under `drop: [ALL]`.
    fn capabilities(&self, f: &Facts, r: &mut Report) {
        if self.prod_like
            && let Some(st) = &f.status
            && st.cap_eff != 0
            && st.uid[1] != 0
        {
            r.add(
                "capabilities",
                "error",
                "",
                format!(
                    "the app holds {} which `capabilities: drop: [ALL]` removes",
                    procinfo::cap_names(st.cap_eff).join(", ")
                ),
                json!({"effective": procinfo::cap_names(st.cap_eff)}),
                "make the app work without them, or add back only what it needs",
            );
        }
    }
}

/// A bind the kernel refused during a watched start: below the
/// unprivileged port start it is `privileged-port`, else `bind-failed`
/// with the errno's own fix.
fn refused_bind(
    r: &mut Report,
    port: u16,
    call: &FailedCall,
    uid: u32,
    start: u32,
    has_bind_cap: bool,
    fix: String,
) {
    let addr = call.address.clone().unwrap_or_default();
    let evidence = json!({"port": port, "address": addr, "errno": call.errno, "call": call.line, "uid": uid, "ip_unprivileged_port_start": start, "cap_net_bind_service": has_bind_cap});
    let said = format!(
        "the app could not bind port {port} ({addr}): {} ({})",
        call.errno, call.error
    );
    if matches!(call.errno.as_str(), "EACCES" | "EPERM") && u32::from(port) < 1024 {
        r.add("privileged-port", "error", port.to_string(), format!("{said}: the port is below net.ipv4.ip_unprivileged_port_start={start} and uid {uid} has no CAP_NET_BIND_SERVICE"), evidence, fix);
    } else {
        let fix = match call.errno.as_str() {
            "EADDRINUSE" => format!(
                "another process of the container holds port {port} already: give each listener a port of its own"
            ),
            "EADDRNOTAVAIL" => format!(
                "{addr} is no address of the container: listen on 0.0.0.0 (or ::) and let the engine publish the port"
            ),
            _ => "see the errno in bind(2)".to_string(),
        };
        r.add(
            "bind-failed",
            "error",
            port.to_string(),
            said,
            evidence,
            fix,
        );
    }
}

/// runs-as-root.
fn root(f: &Facts, r: &mut Report) {
    if f.app_uid == Some(0) && f.pids.contains(&f.pid) {
        r.add("runs-as-root", "error", "", format!("the app (pid {}) runs as root", f.pid), json!({"pid": f.pid, "uid": 0, "configured_user": f.info.user}), "set USER 65532:65532 in the image (the distroless/DHI nonroot user) and make the paths it writes owned by it");
    }
}

/// The accesses the app reported failing (its log lines, the output of
/// its traced start): one finding each, with the fix engine's fix. A
/// write to a log file also says the log could go to stdout. (A call its
/// traced start shows failing is a finding only when it explains the
/// exit: programs shrug off many, a bytecode cache they cannot write.)
fn failed_accesses(f: &Facts, r: &mut Report) {
    // The container's own lines first: their words stay the evidence when
    // the traced start says the same.
    let log = logs::failures(f.log(), &f.workdir);
    let start = logs::failures(f.start_output(), &f.workdir)
        .into_iter()
        .map(|mut s| {
            s.line += f.log_len;
            s
        });
    for failure in log.into_iter().chain(start) {
        let line = &f.lines[failure.line];
        let seen = Seen {
            path: &failure.path,
            errno: failure.errno,
            op: failure.op,
            source: line,
        };
        let Some(found) = access::finding(f.ctx, &f.who, &f.workdir, &seen) else {
            continue;
        };
        if found.id == "unwritable-path" && fix::looks_like_log(&failure.path) {
            let dir = found.evidence["directory"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let written = readonly::open_for_writing(f)
                .iter()
                .any(|w| w.2.starts_with(&format!("{dir}/")));
            if !written {
                r.add("logs-to-file", "warn", dir.clone(), format!("the app tries to log to a file under {dir}"), json!({"path": failure.path, "directory": dir, "source": format!("log: {}", line.trim())}), "log to stdout/stderr instead: the engine collects and rotates it; no writable directory needed");
            }
        }
        r.push(found.from_lines([failure.line]));
    }
}

/// Paths the environment and the command line name that look like places
/// to write (`LOG_DIR=/var/log/app`, `--data=/srv/data`): a warning when
/// this identity cannot write them; no failure was seen.
fn paths_in_config(f: &Facts, r: &mut Report) {
    for (src, list) in [("environment", &f.env), ("command line", &f.cmdline)] {
        for item in list.iter() {
            for p in paths_in(item) {
                if !looks_writable_kind(&p)
                    || ["/usr/", "/bin", "/proc", "/sys", "/dev"]
                        .iter()
                        .any(|s| p.starts_with(s))
                {
                    continue;
                }
                let source = format!("{src}: {item}");
                let seen = Seen {
                    path: &p,
                    errno: Errno::Denied,
                    op: if fix::Kind::guess(&p) == fix::Kind::File {
                        Op::WriteFile
                    } else {
                        Op::MakeDir
                    },
                    source: &source,
                };
                if let Some(mut found) = access::finding(f.ctx, &f.who, &f.workdir, &seen) {
                    found.severity = "warn";
                    found.evidence["log"] = Value::Null;
                    found.evidence["source"] = json!(source);
                    r.push(found);
                }
            }
        }
    }
}

/// logs-to-file: one finding per log file the app holds open for writing,
/// with the processes and descriptors that do.
fn logs_to_file(f: &Facts, r: &mut Report) {
    let mut files: BTreeMap<String, Vec<(i32, String)>> = BTreeMap::new();
    for (pid, fd, path) in readonly::open_for_writing(f) {
        if fix::looks_like_log(&path) {
            files.entry(path).or_default().push((pid, fd));
        }
    }
    for (path, holders) in files {
        let mut pids: Vec<i32> = holders.iter().map(|h| h.0).collect();
        pids.dedup();
        let dir = path.rsplit_once('/').map_or("/", |(d, _)| d).to_string();
        r.add(
            "logs-to-file",
            "warn",
            path.clone(),
            format!(
                "the app writes a log file {path} ({} process{}, {} descriptor{}): it grows inside the container and `docker logs` never sees it",
                pids.len(),
                if pids.len() == 1 { "" } else { "es" },
                holders.len(),
                if holders.len() == 1 { "" } else { "s" }
            ),
            json!({"path": path, "directory": dir, "pids": pids, "processes": pids.len(), "descriptors": holders.len()}),
            "log to stdout/stderr instead: the engine collects and rotates it",
        );
    }
}

/// no-passwd-entry, unwritable-home, and the temp directory.
fn home_and_tmp(f: &Facts, r: &mut Report) {
    let ctx = f.ctx;
    let who = &f.who;
    let home = f
        .env
        .iter()
        .find_map(|e| e.strip_prefix("HOME=").map(str::to_string));
    if let Some(uid) = f.app_uid {
        if ctx.users.user_by_uid(uid).is_none() {
            r.add("no-passwd-entry", "warn", "", format!("uid {uid} has no entry in /etc/passwd: tools that look the user up (getpwuid, ssh, git, some JVM and Python code) fail or fall back to /"), json!({"uid": uid}), format!("add a line to /etc/passwd in the build stage, e.g. nonroot:x:{uid}:{uid}::/home/nonroot:/sbin/nologin"));
        }
        let home = home.or_else(|| ctx.users.user_by_uid(uid).map(|u| u.home.clone()));
        if let Some(h) = home.filter(|h| !h.is_empty() && h != "/") {
            let v = perm::check(ctx, &h, Some(Access::Write), who);
            if !v.allowed {
                let cx = fix::Context {
                    workdir: &f.workdir,
                    kind: fix::Kind::Dir,
                };
                let fx = fix::for_verdict(&v, &cx);
                r.add("unwritable-home", "warn", h.clone(), format!("HOME {h} is not writable by uid {}: caches and config that runtimes put there fail", who.uid), json!({"home": h, "deciding": v.deciding}), fx.line());
            }
        }
    }
    let tmp = f
        .env
        .iter()
        .find_map(|e| e.strip_prefix("TMPDIR=").map(str::to_string))
        .unwrap_or_else(|| "/tmp".into());
    if std::fs::metadata(ctx.resolve(&tmp)).is_ok() {
        let v = perm::check(
            ctx,
            &format!("{}/.nosh-probe", tmp.trim_end_matches('/')),
            Some(Access::Write),
            who,
        );
        if !v.allowed {
            r.add(
                "unwritable-path",
                "warn",
                tmp.clone(),
                format!(
                    "the temp directory {tmp} is not writable by uid {}: tempfile users fail",
                    who.uid
                ),
                json!({"path": tmp, "source": "TMPDIR or /tmp"}),
                "create it 1777 in the image, or mount a tmpfs there (--tmpfs /tmp)",
            );
        }
    } else {
        r.add(
            "unwritable-path",
            "info",
            tmp.clone(),
            format!("the image has no {tmp}: programs that create temporary files fail"),
            json!({"path": tmp}),
            "create /tmp with mode 1777 in the image, or mount a tmpfs",
        );
    }
}

/// The configured command: shell form, interpreters, libraries.
fn program(f: &Facts, r: &mut Report) -> (Vec<entrypoint::Check>, Option<libs::Resolution>) {
    let ctx = f.ctx;
    let info = f.info;
    let entry_checks = if f.argv.is_empty() {
        Vec::new()
    } else {
        entrypoint::check_argv(ctx, &f.argv)
    };
    let program = entrypoint::resolved_program(ctx, &f.argv);
    let libraries = program
        .as_deref()
        .and_then(|p| libs::resolve(ctx, p, &info.env));
    let loader_lines: Vec<usize> = f
        .lines
        .iter()
        .enumerate()
        .filter(|(i, l)| matches!(logs::signature(l, *i, &f.workdir), Some(Signature::Loader)))
        .map(|(i, _)| i)
        .collect();
    if let Some(res) = &libraries {
        let loader_line = last_line_with(&f.lines, "error while loading shared libraries");
        for n in res.missing() {
            r.push(Finding::new(
                "missing-library",
                "error",
                n.name.clone(),
                format!(
                    "{} needs {}, which is not in the image: it exits 127 before main with \"error while loading shared libraries\"",
                    n.needed_by, n.name
                ),
                json!({"library": n.name, "needed_by": n.needed_by, "program": program, "searched": {"ld_library_path": env_value(&info.env, "LD_LIBRARY_PATH"), "ld_so_cache": "/etc/ld.so.cache", "default": res.lib_dir}, "log": loader_line}),
                crate::target::libs::missing_library_fix(&n.name, &res.lib_dir),
            ).from_lines(loader_lines.iter().copied()));
        }
        for v in &res.missing_versions {
            r.push(Finding::new(
                "missing-library",
                "error",
                format!("{} {}", v.library, v.version),
                format!(
                    "{} needs {} from {}, newer than the image's {}{}",
                    v.needed_by,
                    v.version,
                    v.library,
                    v.library_path,
                    v.newest_defined
                        .as_ref()
                        .map(|d| format!(" (it defines up to {d})"))
                        .unwrap_or_default()
                ),
                json!({"version": v.version, "library": v.library, "library_path": v.library_path, "needed_by": v.needed_by, "newest_defined": v.newest_defined}),
                format!(
                    "build the program on the same distribution release as the base image, or use a base image whose {} defines {}",
                    v.library, v.version
                ),
            ).from_lines(loader_lines.iter().copied()));
        }
    }
    for c in &entry_checks {
        if c.severity == "ok" || c.id == "missing-library" {
            continue;
        }
        let id = match c.id {
            "shell-form-entrypoint" => "shell-form-entrypoint",
            "missing-interpreter" => "missing-interpreter",
            "script-needs-shell" => "script-needs-shell",
            _ => "entrypoint",
        };
        r.add(
            id,
            c.severity,
            f.argv.first().cloned().unwrap_or_default(),
            c.message.clone(),
            json!({"entrypoint": info.entrypoint, "cmd": info.cmd}),
            c.fix.clone().unwrap_or_default(),
        );
    }
    (entry_checks, libraries)
}

/// healthcheck-cannot-run.
fn healthcheck(f: &Facts, r: &mut Report) {
    let info = f.info;
    let Some(test) = info.healthcheck.as_ref().filter(|t| !t.is_empty()) else {
        return;
    };
    let Some(program) = healthcheck_gap(f.ctx, test, &f.workdir) else {
        return;
    };
    let shell_form = test[0] == "CMD-SHELL";
    let probe = if shell_form {
        test.get(1).cloned().unwrap_or_default()
    } else {
        test[1..].join(" ")
    };
    let probe_program = probe.split_whitespace().next().unwrap_or("").to_string();
    r.add(
        "healthcheck-cannot-run",
        "error",
        program.clone(),
        format!(
            "the HEALTHCHECK runs {} but the image has no {}: every probe fails and the container is marked unhealthy{}",
            probe,
            program,
            if info.health_status.is_empty() {
                String::new()
            } else {
                format!(" (it is {} now)", info.health_status)
            }
        ),
        json!({"healthcheck": test, "missing": program, "probe_program": probe_program, "health_status": info.health_status, "last_exit_code": info.health_exit_code, "log": Some(info.health_output.trim()).filter(|o| !o.is_empty())}),
        "probe from outside instead (HEALTHCHECK NONE, and a Kubernetes httpGet/tcpSocket probe or the orchestrator's own check); or COPY a static probe binary from a build stage and use the exec form: HEALTHCHECK CMD [\"/healthcheck\"]; or the app's own health flag if it has one: HEALTHCHECK CMD [\"/app/server\", \"--healthcheck\"]",
    );
}

/// The zone file for `zone` (TZ's value, a key a log line names), or
/// `None` for UTC and POSIX rules, which need no file.
fn zone_file(zone: &str, tzdir: &str) -> Option<String> {
    let zone = zone.trim_start_matches(':');
    // UTC needs no file: glibc falls back to it. A POSIX rule (EST5EDT,
    // <+03>-3) carries its own offsets.
    let utc = [
        "UTC",
        "UTC0",
        "GMT",
        "GMT0",
        "Etc/UTC",
        "Etc/GMT",
        "UCT",
        "Universal",
        "Zulu",
        "",
    ]
    .contains(&zone);
    let posix_rule = !zone.contains('/') && zone.chars().any(|c| c.is_ascii_digit());
    if utc || posix_rule || zone.contains("..") {
        return None;
    }
    Some(if zone.starts_with('/') {
        zone.to_string()
    } else {
        format!("{}/{zone}", tzdir.trim_end_matches('/'))
    })
}

/// missing-tzdata: TZ names a zone the image has no file for (a warning:
/// C programs fall back to UTC), or the app's own last words say a zone
/// lookup failed (an error when that ended it).
fn tzdata(f: &Facts, r: &mut Report) {
    let tzdir = env_value(&f.env, "TZDIR")
        .unwrap_or("/usr/share/zoneinfo")
        .to_string();
    let missing = |file: &str| !std::fs::metadata(f.ctx.resolve(file)).is_ok_and(|m| m.is_file());
    let tz = env_value(&f.env, "TZ").map(str::to_string);
    if let Some(tz) = &tz
        && let Some(file) = zone_file(tz, &tzdir).filter(|p| missing(p))
    {
        r.add(
            "missing-tzdata",
            "warn",
            file.clone(),
            format!("TZ={tz} but the image has no {file}: programs that read TZ themselves run in UTC, and zone lookups (Python's zoneinfo, Go's time.LoadLocation, Java's ZoneId) fail"),
            json!({"tz": tz, "looked_at": file}),
            fix::zone_steps(&file).join("; or "),
        );
    }
    // From the last line: the exception's own words are the evidence, not
    // a traceback's line of code that raises it.
    for (i, line) in f.lines.iter().enumerate().rev() {
        let Some(Signature::Zone(key)) = logs::signature(line, i, &f.workdir) else {
            continue;
        };
        // A lookup by name needs the file even for UTC (Python's zoneinfo
        // has no built-in zones).
        let Some(file) = key
            .as_deref()
            .map(|k| format!("{}/{k}", tzdir.trim_end_matches('/')))
            .or_else(|| tz.as_deref().and_then(|k| zone_file(k, &tzdir)))
        else {
            continue;
        };
        if !missing(&file) {
            continue;
        }
        r.push(
            Finding::new(
                "missing-tzdata",
                if f.crashed { "error" } else { "warn" },
                file.clone(),
                format!(
                    "the app looks up the time zone {} and the image has no {file}: the lookup fails",
                    key.as_deref().or(tz.as_deref()).unwrap_or(file.as_str())
                ),
                json!({"tz": tz, "looked_at": file, "log": line.trim()}),
                fix::zone_steps(&file).join("; or "),
            )
            .from_lines([i]),
        );
    }
}

/// missing-ca-bundle: the image has no CA bundle; an error when the app
/// talks TLS (a connection to port 443, an https URL in its environment or
/// command line) or its last words are a certificate failure.
fn ca_bundle(f: &Facts, r: &mut Report) {
    let ctx = f.ctx;
    let bundle = http::CA_BUNDLES
        .iter()
        .find(|p| std::fs::metadata(ctx.resolve(p)).is_ok());
    if bundle.is_some() {
        return;
    }
    let tls_peers: Vec<String> = ["tcp", "tcp6"]
        .iter()
        .flat_map(|file| {
            let t = procnet::read_file(&ctx.proc.root.join("net").join(file)).unwrap_or_default();
            procnet::parse_inet(
                &t,
                if *file == "tcp" {
                    Proto::Tcp
                } else {
                    Proto::Tcp6
                },
            )
        })
        .filter(|s| s.state == State::Established && s.remote_port == 443)
        .map(|s| format!("{}:{}", s.remote, s.remote_port))
        .collect();
    let https = |list: &[String]| list.iter().any(|e| e.contains("https://"));
    let https_env = https(&f.env);
    let https_argv = https(&f.argv) || https(&f.cmdline);
    let cert_lines: Vec<usize> = f
        .lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            matches!(
                logs::signature(l, *i, &f.workdir),
                Some(Signature::Certificate)
            )
        })
        .map(|(i, _)| i)
        .collect();
    let runtime = ["python3", "java", "node", "ruby"].iter().any(|rt| {
        f.cmdline
            .first()
            .or(f.argv.first())
            .is_some_and(|c| c.contains(rt))
    });
    let sev = if !cert_lines.is_empty() || !tls_peers.is_empty() || https_env || https_argv {
        "error"
    } else if runtime {
        "warn"
    } else {
        "info"
    };
    let log = cert_lines.last().map(|i| f.lines[*i].trim().to_string());
    r.push(
        Finding::new(
            "missing-ca-bundle",
            sev,
            "ca-bundle",
            "the image has no CA bundle: TLS connections fail with certificate verification errors".into(),
            json!({"looked_at": http::CA_BUNDLES, "tls_peers": tls_peers, "https_in_env": https_env, "https_in_command": https_argv, "log": log}),
            fix::ca_bundle_steps().join("; or "),
        )
        .from_lines(cert_lines),
    );
}

/// image-tag.
fn image_tag(f: &Facts, r: &mut Report) {
    let image = f.info.image.as_str();
    if image.is_empty() || image.contains('@') || image.starts_with("sha256:") {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) => r.add("image-tag", "warn", "", format!("the image is {image}: `latest` moves under you (Docker Hardened Images publish no latest)"), json!({"image": image}), "pin a version tag, or better a digest (image@sha256:...)"),
        None => r.add("image-tag", "warn", "", format!("the image {image} has no tag: it means `latest`"), json!({"image": image}), "pin a version tag, or better a digest (image@sha256:...)"),
        _ => {}
    }
}

/// crash-loop: the container exited with an error or restarts. The finding
/// that explains the exit becomes an error and is named here by id.
fn crash(
    f: &Facts,
    r: &mut Report,
    entry_checks: &[entrypoint::Check],
    libraries: Option<&libs::Resolution>,
) {
    let info = f.info;
    if !f.crashed {
        return;
    }
    // How the container's last run ended, as the engine recorded it (the
    // host half learns the code of a restarted container's last run even
    // while it runs again). A non-zero or OOM-killed end is an error
    // whatever the phase of the loop.
    let exit_known = crate::target::info::last_exit_known(info);
    let failed = exit_known && (info.exit_code != 0 || info.oom_killed);
    let generic = if exit_known {
        explain_last_exit(info).unwrap_or_else(|| "it exited".into())
    } else {
        "the engine resets the exit code when it restarts the container".into()
    };
    let last_log = f.log().iter().rev().find(|l| !l.trim().is_empty()).cloned();
    // A command that cannot start (no shell for the script, a missing
    // interpreter) comes before the app's first word; so does a missing
    // library for exit 127.
    let cannot_start = r
        .findings
        .iter()
        .find(|c| {
            c.severity == "error"
                && [
                    "shell-form-entrypoint",
                    "script-needs-shell",
                    "missing-interpreter",
                    "entrypoint",
                ]
                .contains(&c.id)
        })
        .map(|c| (c.id, c.subject.clone()));
    let found = cannot_start.or_else(|| cause::find(f, r)).or_else(|| {
        (exit_known && info.exit_code == 127).then_some(())?;
        r.findings
            .iter()
            .find(|c| c.severity == "error" && c.id == "missing-library")
            .map(|c| (c.id, c.subject.clone()))
    });
    let found = found.or_else(|| {
        let traced = cause::from_trace(f)?;
        let key = (traced.id, traced.subject.clone());
        r.push(traced);
        Some(key)
    });
    if let Some((id, subject)) = &found
        && let Some(c) = r.get_mut(id, subject)
    {
        c.severity = "error";
    }
    let cause = found
        .as_ref()
        .and_then(|(id, subject)| r.get(id, subject))
        .map(|c| (c.id, c.subject.clone(), c.message.clone()));
    let version_line = last_line_with(f.log(), "' not found (required by ");
    let (why, fix) = if exit_known && info.exit_code == 127 {
        cause_of_127(f.log(), entry_checks, libraries)
    } else if let Some(line) = version_line {
        (
            format!(
                "the dynamic loader refused a symbol version the image's library lacks (the app's last words: \"{}\")",
                line.trim()
            ),
            Some("see the missing-library finding".to_string()),
        )
    } else if let Some((id, _, message)) = &cause {
        (
            format!("{message} (see {id})"),
            Some(format!("see the {id} finding")),
        )
    } else {
        (generic.clone(), None)
    };
    let cause_id = cause.as_ref().map(|c| c.0);
    let cause_subject = cause.as_ref().map(|c| c.1.clone());
    let start = f
        .start
        .as_ref()
        .map(|s| json!({"exit": s.exit, "failed": s.failed.iter().take(16).collect::<Vec<_>>()}));
    let severity = if failed || info.state == "restarting" {
        "error"
    } else {
        "warn"
    };
    let summary = match f.watched {
        Some(_) => format!(
            "the app exited with code {} during its start: {why}",
            info.exit_code
        ),
        None => format!(
            "the container {}: {why}",
            crate::target::info::last_run(info)
        ),
    };
    r.add("crash-loop", severity, "", summary, json!({"restart_count": info.restart_count, "restart_policy": info.restart_policy, "exit_code": exit_known.then_some(info.exit_code), "exit_code_source": info.exit_code_source, "oom_killed": info.oom_killed, "state": info.state, "error": info.error, "last_log_line": last_log, "meaning": generic, "cause": cause_id, "cause_subject": cause_subject, "traced_start": start}), fix.unwrap_or_else(|| "`nosh TARGET -c 'entrypoint --test'` runs the command and shows why it dies".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthcheck_needs_its_shell_and_its_probe_program() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::create_dir_all(r.join("app")).unwrap();
        std::fs::write(r.join("app/probe"), b"x").unwrap();
        let ctx = Ctx::for_root(r.to_path_buf());
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gap = |v: &[&str]| healthcheck_gap(&ctx, &t(v), "/");
        assert_eq!(
            gap(&["CMD", "curl", "-f", "http://localhost/"]).as_deref(),
            Some("curl")
        );
        assert_eq!(gap(&["CMD", "/app/probe"]), None);
        assert_eq!(
            gap(&["CMD-SHELL", "curl -f http://localhost/"]).as_deref(),
            Some("/bin/sh")
        );
        assert_eq!(gap(&["NONE"]), None);
        // With a shell, the probe program itself.
        std::fs::write(r.join("bin/sh"), b"x").unwrap();
        std::fs::set_permissions(r.join("bin/sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            gap(&["CMD-SHELL", "wget -q -O- http://localhost/"]).as_deref(),
            Some("wget")
        );
        assert_eq!(gap(&["CMD-SHELL", "test -f /tmp/ready"]), None);
        assert_eq!(gap(&["CMD-SHELL", "/app/probe || exit 1"]), None);
    }

    #[test]
    fn paths_are_found_in_options_and_env() {
        assert_eq!(paths_in("--log=/var/log/x.log"), ["/var/log/x.log"]);
        assert_eq!(paths_in("DATA_DIR=/data/"), ["/data"]);
        assert!(paths_in("--port 8443").is_empty());
    }
}
