//! `doctor [--json] [--prod-like]`: the hardened-image migration checklist.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Builtin, bind_check, entrypoint, http};
use crate::libs;
use crate::perm::{self, Access, Who};
use crate::procinfo::{self, CAP_NET_BIND_SERVICE};
use crate::procnet::{self, Owners, Proto, State};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::{explain_exit, explain_last_exit};
use crate::watched::{FailedCall, Watched};

/// Check the target against what hardened, nonroot images require: root
/// user, privileged ports, unwritable paths (fixes derived from the
/// failure: a missing directory created, a WORKDIR the app owns, never a
/// chown of a system directory), a working directory the app cannot write
/// (workdir-not-writable), files owned by another base image's uid
/// (uid-assumption), logs written to files, shell-form entrypoints and
/// scripts that need a shell (script-needs-shell), missing interpreters,
/// missing shared libraries and too-new glibc symbol versions
/// (missing-library), a HEALTHCHECK whose program the image lacks
/// (healthcheck-cannot-run), TZ naming a zone the image has no tzdata for
/// (missing-tzdata), CA bundle, passwd entry and HOME, image tag, crash
/// loops (exit 127 told apart by the loader's own log line), read-only
/// root filesystem.
///
/// Not checked: FIPS-only algorithms (fips-algorithm): no reliable signal
/// from outside the app tells which algorithms it will ask for.
///
/// Exit status: 1 when any error is found, else 0 (for CI gates).
///
/// JSON (--json): {target, prod_like, findings: [{id, severity (error, warn,
/// info), message, evidence (object), fix}]}.
#[derive(Parser)]
#[command(name = "doctor", disable_version_flag = true)]
pub struct Doctor {
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// Judge as Kubernetes runs hardened workloads: unprivileged ports start
    /// at 1024, a read-only root filesystem, all capabilities dropped.
    #[arg(long)]
    prod_like: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub evidence: Value,
    pub fix: String,
}

struct Report {
    findings: Vec<Finding>,
}

impl Report {
    fn add(
        &mut self,
        id: &'static str,
        severity: &'static str,
        message: String,
        evidence: Value,
        fix: impl Into<String>,
    ) {
        self.findings.push(Finding {
            id,
            severity,
            message,
            evidence,
            fix: fix.into(),
        });
    }
}

/// The processes of the app: everything in the namespace except this shell
/// and what it started; on a watched start, the app's first process and
/// its descendants (the app is the watcher's child there).
fn app_pids(ctx: &Ctx, watched: Option<&Watched>) -> BTreeSet<i32> {
    let me = std::process::id() as i32;
    let rows: Vec<(i32, i32)> = ctx
        .proc
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| ctx.proc.stat(p).ok().map(|s| (p, s.ppid)))
        .collect();
    let descendants = |root: i32| {
        let mut tree: BTreeSet<i32> = BTreeSet::from([root]);
        // A fixed point: pids are few.
        loop {
            let before = tree.len();
            for (p, pp) in &rows {
                if tree.contains(pp) {
                    tree.insert(*p);
                }
            }
            if tree.len() == before {
                return tree;
            }
        }
    };
    if let Some(w) = watched {
        return descendants(w.app_pid)
            .into_iter()
            .filter(|p| rows.iter().any(|(q, _)| q == p))
            .collect();
    }
    let ours = descendants(me);
    rows.into_iter()
        .map(|(p, _)| p)
        .filter(|p| !ours.contains(p))
        .collect()
}

fn looks_like_log(p: &str) -> bool {
    p.starts_with("/var/log/") || p.ends_with(".log") || p.contains("/log/") || p.contains("/logs/")
}

fn looks_writable_kind(p: &str) -> bool {
    [
        "log", "data", "cache", "tmp", "/var/", "/run/", "state", "upload", "spool",
    ]
    .iter()
    .any(|k| p.contains(k))
}

/// Absolute paths mentioned in a string: `/x/y`, `--opt=/x/y`, `KEY=/x/y`.
fn paths_in(s: &str) -> Vec<String> {
    s.split([' ', '=', ':', ','])
        .filter(|w| w.starts_with('/') && w.len() > 1 && !w.contains(char::is_whitespace))
        .map(|w| w.trim_end_matches('/').to_string())
        .collect()
}

/// Paths named in the write errors of the recent log lines, exactly as
/// written: a quoted path is taken between its quotes; an unquoted one
/// loses the punctuation around it (`(/data)`, `/x:`); a relative one
/// (`'app.log'`) is in the working directory `workdir`. A "No such file
/// or directory" counts only for a path whose directory is missing: the
/// directory the app expects to write in. Returns (path, log line).
fn denied_in_logs(lines: &[String], workdir: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |p: String, line: &str| {
        if !out.iter().any(|(q, _)| *q == p) {
            out.push((p, line.to_string()));
        }
    };
    for line in lines {
        let denied = line.contains("Permission denied")
            || line.contains("PermissionError")
            || line.contains("EACCES")
            || line.contains("Read-only file system")
            || line.contains("EROFS");
        let enoent = line.contains("No such file or directory") || line.contains("ENOENT");
        if !denied && !enoent {
            continue;
        }
        let mut quoted = false;
        for q in ['\'', '"'] {
            for (i, part) in line.split(q).enumerate() {
                let plausible = i % 2 == 1
                    && !part.is_empty()
                    && part.len() < 1024
                    && !part.contains(char::is_whitespace)
                    && !part.starts_with('-');
                if !plausible {
                    continue;
                }
                if part.starts_with('/') {
                    quoted = true;
                    push(crate::shell::normalize(part), line);
                } else if denied && (part.contains('.') || part.contains('/')) && part != "." {
                    quoted = true;
                    let base = workdir.trim_end_matches('/');
                    push(crate::shell::normalize(&format!("{base}/{part}")), line);
                }
            }
        }
        if quoted {
            continue;
        }
        // `cannot open log file /var/log/x: Permission denied`
        for w in line.split_whitespace() {
            let w = w
                .trim_start_matches(['(', '[', '<', '{'])
                .trim_end_matches([':', ',', ';', ')', ']', '>', '}', '.', '!']);
            if w.starts_with('/') {
                push(crate::shell::normalize(w), line);
            }
        }
    }
    out
}

/// Directories no fix may chown, chmod or mount over: the image's own
/// system tree. Giving the app one of these breaks the image, or hides it.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/usr",
    "/etc",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/var",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/local",
    "/usr/share",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/home",
    "/opt",
    "/run",
    "/proc",
    "/sys",
    "/dev",
];

fn is_system_dir(p: &str) -> bool {
    let p = if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    };
    SYSTEM_DIRS.contains(&p)
}

/// The fix for a directory `dir` the app must write (a file's directory,
/// or the directory itself) that uid `uid` cannot, derived from what the
/// walk found rather than from a template: a missing directory is created
/// and given to the app (never its parent); a working directory that is a
/// system directory calls for a WORKDIR the app owns; an existing one of
/// the app's own is chowned. Every alternative is one line to paste into
/// a Dockerfile or a `docker run`; none touches a system directory.
fn derive_write_fix(
    dir: &str,
    exists: bool,
    readonly: bool,
    workdir: &str,
    uid: u32,
    gid: u32,
    is_log: bool,
) -> String {
    let mut fixes: Vec<String> = Vec::new();
    let own = |d: &str| format!("RUN mkdir -p {d} && chown {uid}:{gid} {d}");
    if is_system_dir(dir) {
        if dir == workdir || dir == "/" {
            fixes.push(format!(
                "give the app a WORKDIR it owns: {} and WORKDIR /app/data (or point the app's own data-directory option there)",
                own("/app/data")
            ));
        } else {
            fixes.push(format!(
                "point the app at a directory it owns instead of {dir}: {}",
                own("/app/data")
            ));
        }
    } else if readonly {
        fixes.push(format!(
            "docker run --tmpfs {dir}:uid={uid},gid={gid} (or a Kubernetes emptyDir at {dir})"
        ));
        if !exists {
            fixes.push(own(dir));
        }
    } else if !exists {
        fixes.push(format!("create it for the app: {}", own(dir)));
        fixes.push(format!("mount a volume there: docker run -v DATA:{dir}"));
    } else {
        fixes.push(format!(
            "give it to the app: RUN chown {uid}:{gid} {dir} (or COPY --chown={uid}:{gid})"
        ));
        fixes.push(format!("mount a volume there: docker run -v DATA:{dir}"));
    }
    if is_log {
        fixes.insert(
            0,
            "log to stdout/stderr instead of a file (the engine collects it)".into(),
        );
    }
    fixes.join("; or ")
}

/// Files the app holds open for writing: (pid, fd, path).
fn written_files(ctx: &Ctx, pids: &BTreeSet<i32>) -> Vec<(i32, String, String)> {
    let mut out = Vec::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(ctx.proc.path(*pid, "fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if !target.starts_with('/') || target.starts_with("/dev/") {
                continue;
            }
            let name = fd.file_name().to_string_lossy().into_owned();
            let info = std::fs::read_to_string(ctx.proc.path(*pid, &format!("fdinfo/{name}")))
                .unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            if flags & 3 != 0 {
                out.push((*pid, name, target));
            }
        }
    }
    out
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
    Doctor {
        json: true,
        prod_like,
    }
    .examine(ctx, watched)
    .findings
}

impl Doctor {
    fn examine(&self, ctx: &Ctx, watched: Option<&Watched>) -> Report {
        let mut r = Report {
            findings: Vec::new(),
        };
        let info = ctx.info.clone();
        let pid = ctx.target_pid;
        let status = ctx.proc.status(pid).ok();
        let who = Who::current();
        // A watched app that already exited ran as the watcher does.
        let app_uid = status
            .as_ref()
            .map(|s| s.uid[1])
            .or(watched.map(|_| who.uid));
        let pids = app_pids(ctx, watched);

        // runs-as-root
        if app_uid == Some(0) {
            r.add("runs-as-root", "error", format!("the app (pid {pid}) runs as root"), json!({"pid": pid, "uid": 0, "configured_user": info.user}), "set USER 65532:65532 in the image (the distroless/DHI nonroot user) and make the paths it writes owned by it");
        }

        // privileged-port
        let start = bind_check::unprivileged_port_start(&ctx.proc.root).unwrap_or(1024);
        let effective_start = if self.prod_like { 1024 } else { start };
        let has_bind_cap = status
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
                let ours = owners.get(s.inode).is_some_and(|o| pids.contains(&o.pid))
                    || owners.get(s.inode).is_none();
                if listening && ours {
                    ports
                        .entry(s.local_port)
                        .or_insert_with(|| format!("listening ({})", proto.name()));
                }
            }
        }
        for e in &info.exposed_ports {
            if let Some(p) = e.split('/').next().and_then(|p| p.parse::<u16>().ok()) {
                ports.entry(p).or_insert_with(|| format!("exposed ({e})"));
            }
        }
        // A bind the kernel refused during a watched start is the port's
        // best evidence: the call and its errno.
        let refused: BTreeMap<u16, &FailedCall> = watched
            .map(|w| w.failed_binds().into_iter().collect())
            .unwrap_or_default();
        for port in refused.keys() {
            ports.insert(*port, "bound by the app".into());
        }
        for (port, how) in &ports {
            let fix = format!(
                "listen on a port >= 1024 (e.g. {}) and publish it as {port} (docker run -p {port}:{}; a Kubernetes Service targetPort)",
                8000 + port,
                8000 + port
            );
            if let Some(call) = refused.get(port) {
                let uid = app_uid.unwrap_or(who.uid);
                let addr = call.address.clone().unwrap_or_default();
                let evidence = json!({"port": port, "address": addr, "errno": call.errno, "call": call.line, "uid": uid, "ip_unprivileged_port_start": start, "cap_net_bind_service": has_bind_cap});
                let said = format!(
                    "the app could not bind port {port} ({addr}): {} ({})",
                    call.errno, call.error
                );
                if matches!(call.errno.as_str(), "EACCES" | "EPERM") && u32::from(*port) < 1024 {
                    r.add("privileged-port", "error", format!("{said}: the port is below net.ipv4.ip_unprivileged_port_start={start} and uid {uid} has no CAP_NET_BIND_SERVICE"), evidence, fix);
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
                    r.add("bind-failed", "error", said, evidence, fix);
                }
                continue;
            }
            if *port >= 1024 || app_uid == Some(0) && !self.prod_like {
                continue;
            }
            let evidence = json!({"port": port, "source": how, "uid": app_uid, "ip_unprivileged_port_start": start, "cap_net_bind_service": has_bind_cap});
            if u32::from(*port) < effective_start && !has_bind_cap {
                let msg = if self.prod_like && u32::from(*port) >= start {
                    format!(
                        "port {port} is {how} but would fail to bind under Kubernetes or host networking: ip_unprivileged_port_start is 1024 there and uid {} has no CAP_NET_BIND_SERVICE",
                        app_uid.unwrap_or(who.uid)
                    )
                } else {
                    format!(
                        "port {port} is {how} below net.ipv4.ip_unprivileged_port_start={start} and uid {} has no CAP_NET_BIND_SERVICE: bind fails with EACCES",
                        app_uid.unwrap_or(who.uid)
                    )
                };
                r.add("privileged-port", "error", msg, evidence, fix);
            } else if !has_bind_cap {
                r.add("privileged-port", "warn", format!("port {port} is {how}; it binds only because ip_unprivileged_port_start is {start} here (Docker sets 0); Kubernetes and host networking keep 1024 and it will fail there"), evidence, fix);
            }
        }

        // unwritable-path, logs-to-file
        let workdir = std::fs::read_link(ctx.proc.path(pid, "cwd"))
            .ok()
            .and_then(|p| p.to_str().map(str::to_string))
            .or_else(|| Some(info.working_dir.clone()).filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into());
        let mut candidates: BTreeMap<String, (String, bool)> = BTreeMap::new(); // path -> (source, strong)
        for (p, line) in denied_in_logs(&info.log_tail, &workdir) {
            candidates
                .entry(p)
                .or_insert((format!("log: {}", line.trim()), true));
        }
        // Writes the kernel refused during a watched start.
        for c in watched.iter().flat_map(|w| &w.failed_calls) {
            if let Some(p) = c.path.as_ref().filter(|p| {
                c.denied_write()
                    && !["/proc/", "/sys/", "/dev/"]
                        .iter()
                        .any(|d| p.starts_with(d))
            }) {
                candidates
                    .entry(p.clone())
                    .or_insert((format!("trace: {}", c.line), true));
            }
        }
        let env: Vec<String> = ctx
            .proc
            .environ(pid)
            .map(|e| {
                e.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .filter(|x| !crate::target::is_host_env(x))
                    .collect()
            })
            .unwrap_or_else(|_| info.env.clone());
        let cmdline: Vec<String> = ctx
            .proc
            .cmdline(pid)
            .map(|e| {
                e.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        for (src, list) in [("environment", &env), ("command line", &cmdline)] {
            for item in list.iter() {
                for p in paths_in(item) {
                    if looks_writable_kind(&p)
                        && !p.starts_with("/usr/")
                        && !p.starts_with("/bin")
                        && !p.starts_with("/proc")
                    {
                        candidates
                            .entry(p)
                            .or_insert((format!("{src}: {item}"), false));
                    }
                }
            }
        }
        let written = written_files(ctx, &pids);
        for (fpid, fd, path) in &written {
            if looks_like_log(path) {
                r.add("logs-to-file", "warn", format!("pid {fpid} writes a log file {path} (fd {fd}): it grows inside the container and `docker logs` never sees it"), json!({"pid": fpid, "fd": fd, "path": path}), "log to stdout/stderr instead: the engine collects and rotates it");
            }
        }
        let mut ro_needs: Vec<String> = Vec::new();
        let mounts = perm::mounts();
        let root_ro = perm::mount_of(&mounts, "/").is_some_and(|m| m.readonly());
        for (path, (source, strong)) in &candidates {
            let real = ctx.resolve(path);
            let meta = std::fs::metadata(&real).ok();
            let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
            let looks_file =
                !is_dir && (path.ends_with(".log") || Path::new(path).extension().is_some());
            // What must be writable: the file itself when it exists, its
            // directory when it is a file to be created, else the path
            // (a directory the app names, existing or not).
            let dir = if meta.is_none() && looks_file {
                Path::new(path)
                    .parent()
                    .and_then(|p| p.to_str())
                    .unwrap_or("/")
                    .to_string()
            } else {
                path.clone()
            };
            let dir_exists = std::fs::symlink_metadata(ctx.resolve(&dir)).is_ok();
            // "No such file" names a write target only when its directory is
            // missing: a missing file to read is not this check's business.
            let enoent_only = source.contains("No such file") && !source.contains("denied");
            if enoent_only && dir_exists {
                continue;
            }
            let v = perm::check(ctx, path, Some(Access::Write), &who);
            if !v.allowed {
                let deciding = v.deciding.clone();
                let sev = if *strong || looks_like_log(path) {
                    "error"
                } else {
                    "warn"
                };
                let readonly = deciding
                    .as_ref()
                    .is_some_and(|d| d.reason.contains("read-only mount"));
                let fix = derive_write_fix(
                    &dir,
                    dir_exists,
                    readonly,
                    &workdir,
                    who.uid,
                    who.gid,
                    looks_like_log(path),
                );
                let reason = deciding
                    .as_ref()
                    .map(|d| d.reason.clone())
                    .unwrap_or_else(|| "the kernel refuses".into());
                let log = source.strip_prefix("log: ");
                let evidence = json!({"path": path, "directory": dir, "exists": dir_exists, "source": source, "log": log, "deciding": deciding, "uid": who.uid, "workdir": workdir});
                if dir == workdir {
                    r.add(
                        "workdir-not-writable",
                        sev,
                        format!("the app writes {path} in its working directory {workdir}, which uid {} cannot write: {reason}", who.uid),
                        evidence,
                        fix,
                    );
                } else if !dir_exists {
                    r.add(
                        "unwritable-path",
                        sev,
                        format!(
                            "the app needs to write {path} but its directory {dir} does not exist"
                        ),
                        evidence,
                        fix,
                    );
                } else {
                    r.add(
                        "unwritable-path",
                        sev,
                        format!(
                            "the app needs to write {path} and uid {} cannot: {reason}",
                            who.uid
                        ),
                        evidence,
                        fix,
                    );
                }
                if looks_like_log(path) && !written.iter().any(|w| w.2.starts_with(&dir)) {
                    r.add("logs-to-file", "warn", format!("the app tries to log to a file under {dir}"), json!({"path": path, "directory": dir, "source": source}), "log to stdout/stderr instead: the engine collects and rotates it; no writable directory needed");
                }
                // The path belongs to another non-root user: a Dockerfile's
                // chown written for another base image's uid.
                let owner = deciding.as_ref().and_then(|d| {
                    v.components
                        .iter()
                        .find(|c| c.path == d.path && c.exists)
                        .map(|c| (c.path.clone(), c.uid, c.gid))
                });
                if let Some((opath, ouid, ogid)) = owner.filter(|o| o.1 != 0 && o.1 != who.uid) {
                    r.add(
                        "uid-assumption",
                        "error",
                        format!("{opath} belongs to uid {ouid} but the app runs as uid {}: files prepared for one base image's user, run as another's", who.uid),
                        json!({"path": opath, "owner_uid": ouid, "owner_gid": ogid, "app_uid": who.uid, "configured_user": info.user, "log": log}),
                        format!("run as the owner: USER {ouid}:{ogid} (docker run --user {ouid}:{ogid}); or give the files to the app's user: RUN chown -R {}:{} {opath}", who.uid, who.gid),
                    );
                }
            } else if self.prod_like
                && perm::mount_of(&mounts, path).is_some_and(|m| m.target == "/")
            {
                ro_needs.push(dir.clone());
            }
        }

        // HOME, TMPDIR, WorkingDir
        let home = env
            .iter()
            .find_map(|e| e.strip_prefix("HOME=").map(str::to_string));
        if let Some(uid) = app_uid {
            if ctx.users.user_by_uid(uid).is_none() {
                r.add("no-passwd-entry", "warn", format!("uid {uid} has no entry in /etc/passwd: tools that look the user up (getpwuid, ssh, git, some JVM and Python code) fail or fall back to /"), json!({"uid": uid}), format!("add a line to /etc/passwd in the build stage, e.g. nonroot:x:{uid}:{uid}::/home/nonroot:/sbin/nologin"));
            }
            let home = home
                .clone()
                .or_else(|| ctx.users.user_by_uid(uid).map(|u| u.home.clone()));
            if let Some(h) = home.filter(|h| !h.is_empty() && h != "/") {
                let v = perm::check(ctx, &h, Some(Access::Write), &who);
                if !v.allowed {
                    r.add("unwritable-home", "warn", format!("HOME {h} is not writable by uid {}: caches and config that runtimes put there fail", who.uid), json!({"home": h, "deciding": v.deciding}), derive_write_fix(&h, std::fs::symlink_metadata(ctx.resolve(&h)).is_ok(), v.deciding.as_ref().is_some_and(|d| d.reason.contains("read-only mount")), &workdir, who.uid, who.gid, false));
                } else if self.prod_like
                    && perm::mount_of(&mounts, &h).is_some_and(|m| m.target == "/")
                {
                    ro_needs.push(h);
                }
            }
        }
        let tmp = env
            .iter()
            .find_map(|e| e.strip_prefix("TMPDIR=").map(str::to_string))
            .unwrap_or_else(|| "/tmp".into());
        if std::fs::metadata(ctx.resolve(&tmp)).is_ok() {
            let v = perm::check(
                ctx,
                &format!("{}/.nosh-probe", tmp.trim_end_matches('/')),
                Some(Access::Write),
                &who,
            );
            if !v.allowed {
                r.add(
                    "unwritable-path",
                    "warn",
                    format!(
                        "the temp directory {tmp} is not writable by uid {}: tempfile users fail",
                        who.uid
                    ),
                    json!({"path": tmp, "source": "TMPDIR or /tmp"}),
                    "create it 1777 in the image, or mount a tmpfs there (--tmpfs /tmp)",
                );
            } else if self.prod_like
                && perm::mount_of(&mounts, &tmp).is_some_and(|m| m.target == "/")
            {
                ro_needs.push(tmp.clone());
            }
        } else {
            r.add(
                "unwritable-path",
                "info",
                format!("the image has no {tmp}: programs that create temporary files fail"),
                json!({"path": tmp}),
                "create /tmp with mode 1777 in the image, or mount a tmpfs",
            );
        }

        // shell-form-entrypoint, missing-interpreter
        let argv = entrypoint::configured_argv(ctx);
        let entry_checks = if argv.is_empty() {
            Vec::new()
        } else {
            entrypoint::check_argv(ctx, &argv)
        };
        let program = entrypoint::resolved_program(ctx, &argv);
        let libraries = program
            .as_deref()
            .and_then(|p| libs::resolve(ctx, p, &info.env));
        if let Some(res) = &libraries {
            let loader_line =
                last_line_with(&info.log_tail, "error while loading shared libraries");
            for n in res.missing() {
                r.add(
                    "missing-library",
                    "error",
                    format!(
                        "{} needs {}, which is not in the image: it exits 127 before main with \"error while loading shared libraries\"",
                        n.needed_by, n.name
                    ),
                    json!({"library": n.name, "needed_by": n.needed_by, "program": program, "searched": {"ld_library_path": env_value(&info.env, "LD_LIBRARY_PATH"), "ld_so_cache": "/etc/ld.so.cache", "default": res.lib_dir}, "log": loader_line}),
                    crate::libs::missing_library_fix(&n.name, &res.lib_dir),
                );
            }
            for v in &res.missing_versions {
                r.add(
                    "missing-library",
                    "error",
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
                );
            }
        }
        if !argv.is_empty() {
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
                    c.message.clone(),
                    json!({"entrypoint": info.entrypoint, "cmd": info.cmd}),
                    c.fix.clone().unwrap_or_default(),
                );
            }
        }

        // healthcheck-cannot-run
        if let Some(test) = info.healthcheck.as_ref().filter(|t| !t.is_empty()) {
            if let Some(program) = healthcheck_gap(ctx, test, &workdir) {
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
        }

        // missing-tzdata
        if let Some(tz) = env_value(&env, "TZ").map(str::to_string) {
            let zone = tz.trim_start_matches(':').to_string();
            let tzdir = env_value(&env, "TZDIR")
                .unwrap_or("/usr/share/zoneinfo")
                .to_string();
            // UTC needs no file: glibc falls back to it. A POSIX rule
            // (EST5EDT, <+03>-3) carries its own offsets.
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
            .contains(&zone.as_str());
            let posix_rule = !zone.contains('/') && zone.chars().any(|c| c.is_ascii_digit());
            if !utc && !posix_rule && !zone.contains("..") {
                let file = if zone.starts_with('/') {
                    zone.clone()
                } else {
                    format!("{}/{zone}", tzdir.trim_end_matches('/'))
                };
                if !std::fs::metadata(ctx.resolve(&file)).is_ok_and(|m| m.is_file()) {
                    r.add(
                        "missing-tzdata",
                        "warn",
                        format!("TZ={tz} but the image has no {file}: the app silently runs in UTC"),
                        json!({"tz": tz, "looked_at": file}),
                        format!("COPY --from=build {file} {file} (or all of {tzdir}: a base image with tzdata, e.g. distroless base)"),
                    );
                }
            }
        }

        // missing-ca-bundle
        let bundle = http::CA_BUNDLES
            .iter()
            .find(|p| std::fs::metadata(ctx.resolve(p)).is_ok());
        if bundle.is_none() {
            let tls_peers: Vec<String> = ["tcp", "tcp6"]
                .iter()
                .flat_map(|f| {
                    let t =
                        procnet::read_file(&ctx.proc.root.join("net").join(f)).unwrap_or_default();
                    procnet::parse_inet(&t, if *f == "tcp" { Proto::Tcp } else { Proto::Tcp6 })
                })
                .filter(|s| s.state == State::Established && s.remote_port == 443)
                .map(|s| format!("{}:{}", s.remote, s.remote_port))
                .collect();
            let https_env = env.iter().any(|e| e.contains("https://"));
            let runtime = ["python3", "java", "node", "ruby"]
                .iter()
                .any(|r| cmdline.first().is_some_and(|c| c.contains(r)));
            let sev = if !tls_peers.is_empty() || https_env {
                "error"
            } else if runtime {
                "warn"
            } else {
                "info"
            };
            r.add("missing-ca-bundle", sev, "the image has no CA bundle: TLS connections fail with certificate verification errors".into(), json!({"looked_at": http::CA_BUNDLES, "tls_peers": tls_peers, "https_in_env": https_env}), "copy /etc/ssl/certs/ca-certificates.crt from the build stage (or use a base image that has ca-certificates)");
        }

        // image-tag
        let image = info.image.as_str();
        if !image.is_empty() && !image.contains('@') && !image.starts_with("sha256:") {
            let last = image.rsplit('/').next().unwrap_or(image);
            match last.split_once(':') {
                Some((_, "latest")) => r.add("image-tag", "warn", format!("the image is {image}: `latest` moves under you (Docker Hardened Images publish no latest)"), json!({"image": image}), "pin a version tag, or better a digest (image@sha256:...)"),
                None => r.add("image-tag", "warn", format!("the image {image} has no tag: it means `latest`"), json!({"image": image}), "pin a version tag, or better a digest (image@sha256:...)"),
                _ => {}
            }
        }

        // crash-loop: how the container's last run ended, as the engine
        // recorded it (the host half learns the code of a restarted
        // container's last run even while it runs again). A non-zero or
        // OOM-killed end is an error whatever the phase of the loop.
        let exit_known = crate::target::last_exit_known(&info);
        let failed = exit_known && (info.exit_code != 0 || info.oom_killed);
        if info.restart_count > 0 || failed {
            let generic = if exit_known {
                explain_last_exit(&info).unwrap_or_else(|| "it exited".into())
            } else {
                "the engine resets the exit code when it restarts the container".into()
            };
            let last_log = info
                .log_tail
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .cloned();
            let version_line = last_line_with(&info.log_tail, "' not found (required by ");
            let (why, fix) = if exit_known && info.exit_code == 127 {
                cause_of_127(&info.log_tail, &entry_checks, libraries.as_ref())
            } else if let Some(line) = version_line {
                (
                    format!(
                        "the dynamic loader refused a symbol version the image's library lacks (the app's last words: \"{}\")",
                        line.trim()
                    ),
                    Some("see the missing-library finding".to_string()),
                )
            } else {
                (generic.clone(), None)
            };
            let severity = if failed || info.state == "restarting" {
                "error"
            } else {
                "warn"
            };
            let summary = match watched {
                Some(_) => format!(
                    "the app exited with code {} during its start: {why}",
                    info.exit_code
                ),
                None => format!("the container {}: {why}", crate::target::last_run(&info)),
            };
            r.add("crash-loop", severity, summary, json!({"restart_count": info.restart_count, "restart_policy": info.restart_policy, "exit_code": exit_known.then_some(info.exit_code), "exit_code_source": info.exit_code_source, "oom_killed": info.oom_killed, "state": info.state, "error": info.error, "last_log_line": last_log, "meaning": generic}), fix.unwrap_or_else(|| "`nosh TARGET -c 'entrypoint --test'` runs the command and shows why it dies".into()));
        }

        // readonly-rootfs
        if root_ro {
            r.add("readonly-rootfs", "info", "the root filesystem is read-only".into(), json!({"writable_mounts": mounts.iter().filter(|m| !m.readonly() && m.target != "/" && !m.target.starts_with("/proc") && !m.target.starts_with("/sys") && !m.target.starts_with("/dev")).map(|m| m.target.clone()).collect::<Vec<_>>()}), "mount a tmpfs or volume at every path the app writes");
        } else if self.prod_like && !ro_needs.is_empty() {
            ro_needs.sort();
            ro_needs.dedup();
            // A mount over a system directory would hide the image's own
            // files there: the app gets a directory of its own instead.
            let (system, own): (Vec<&String>, Vec<&String>) =
                ro_needs.iter().partition(|d| is_system_dir(d));
            let mut fix = Vec::new();
            if !own.is_empty() {
                fix.push(format!(
                    "mount an emptyDir (or docker run --tmpfs) at {}",
                    own.iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !system.is_empty() {
                fix.push(format!(
                    "instead of writing in {}, give the app a directory of its own (WORKDIR /app/data) and mount an emptyDir there",
                    system.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            r.add("readonly-rootfs", "error", format!("with readOnlyRootFilesystem these paths on the root filesystem become unwritable: {}", ro_needs.join(", ")), json!({"paths": ro_needs}), fix.join("; "));
        }

        // capabilities under drop: ALL
        if self.prod_like
            && let Some(st) = &status
            && st.cap_eff != 0
            && st.uid[1] != 0
        {
            r.add(
                "capabilities",
                "error",
                format!(
                    "the app holds {} which `capabilities: drop: [ALL]` removes",
                    procinfo::cap_names(st.cap_eff).join(", ")
                ),
                json!({"effective": procinfo::cap_names(st.cap_eff)}),
                "make the app work without them, or add back only what it needs",
            );
        }
        r
    }
}

/// The evidence of a finding as a person reads it: the deciding path with
/// its owner and mode, and the log line that showed the failure; else the
/// plain facts as `key value` pairs. One or two lines; `--json` has it all.
pub fn evidence_lines(e: &Value) -> Vec<String> {
    const MAX: usize = 200;
    let cut = |s: String| -> String {
        if s.chars().count() > MAX {
            format!("{}...", s.chars().take(MAX).collect::<String>())
        } else {
            s
        }
    };
    let mut lines = Vec::new();
    if let Some(d) = e.get("deciding").filter(|d| d.is_object()) {
        let path = d["path"].as_str().unwrap_or_default();
        let owner = d["owner"].as_str().unwrap_or_default();
        if owner.is_empty() {
            lines.push(d["reason"].as_str().unwrap_or(path).to_string());
        } else {
            lines.push(format!(
                "{path} is {owner}:{} {}",
                d["group"].as_str().unwrap_or_default(),
                d["mode"].as_str().unwrap_or_default()
            ));
        }
    }
    let source = e.get("source").and_then(Value::as_str);
    let from_source = source.and_then(|s| s.strip_prefix("log: "));
    let log = ["log", "last_log_line"]
        .iter()
        .find_map(|k| e.get(*k).and_then(Value::as_str))
        .or(from_source);
    if let Some(call) = source.filter(|s| s.starts_with("trace: ")) {
        lines.push(call.to_string());
    } else if let Some(l) = log {
        lines.push(format!("log: {}", l.trim()));
    }
    if lines.is_empty() {
        let scalar = |v: &Value| -> Option<String> {
            match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Array(a) if !a.is_empty() && a.len() <= 8 => Some(
                    a.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            }
        };
        if let Some(map) = e.as_object() {
            let facts: Vec<String> = map
                .iter()
                .filter_map(|(k, v)| scalar(v).map(|v| format!("{k} {v}")))
                .collect();
            if !facts.is_empty() {
                lines.push(facts.join(", "));
            }
        }
    }
    lines.into_iter().map(cut).collect()
}

impl Builtin for Doctor {
    const NAME: &'static str = "doctor";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let report = self.examine(ctx, None);
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == "error")
            .count();
        let status = i32::from(errors > 0);
        if self.json {
            super::util::write_json(
                &mut io.out,
                &json!({"target": ctx.info.display_name(), "image": ctx.info.image, "prod_like": self.prod_like, "findings": report.findings}),
            )?;
            return Ok(status);
        }
        let doc = crate::report::Document {
            target: ctx.info.display_name().to_string(),
            image: ctx.info.image.clone(),
            prod_like: self.prod_like,
            findings: report.findings.iter().map(Into::into).collect(),
            ..Default::default()
        };
        crate::report::text::write(&mut io.out, &doc)?;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_in_logs_name_their_paths() {
        let lines = vec![
            "PermissionError: [Errno 13] Permission denied: '/var/log/claims-api/app.log'".to_string(),
            "demo-app: cannot open log file /var/log/demo/app.log: Permission denied (os error 13); logging to stdout".to_string(),
            "all good".to_string(),
        ];
        let paths: Vec<String> = denied_in_logs(&lines, "/app")
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            paths,
            ["/var/log/claims-api/app.log", "/var/log/demo/app.log"]
        );
    }

    #[test]
    fn paths_are_read_from_log_lines_exactly() {
        let lines = vec![
            "open() \"/var/lib/nginx/body\" failed (13: Permission denied)".to_string(),
            "[Errno 13] Permission denied (/)".to_string(),
            "PermissionError: [Errno 13] Permission denied: 'app.log'".to_string(),
            "cannot create [/srv/data]: Permission denied.".to_string(),
            "FileNotFoundError: [Errno 2] No such file or directory: '/var/log/claims/app.log'"
                .to_string(),
        ];
        let paths: Vec<String> = denied_in_logs(&lines, "/app")
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            paths,
            [
                "/var/lib/nginx/body",
                "/",
                "/app/app.log",
                "/srv/data",
                "/var/log/claims/app.log"
            ]
        );
    }

    /// No fix may chown, chmod or mount over a system directory.
    fn absurd(fix: &str) -> Option<&'static str> {
        let words: Vec<&str> = fix
            .split([' ', ';', '(', ')', ','])
            .filter(|w| !w.is_empty())
            .collect();
        for (i, w) in words.iter().enumerate() {
            let touches = matches!(*w, "chown" | "chmod" | "chgrp" | "--tmpfs" | "-v");
            if !touches {
                continue;
            }
            for arg in words.iter().skip(i + 1).take(2) {
                let target = arg.rsplit(':').next().unwrap_or(arg);
                let target = arg
                    .split(':')
                    .find(|p| p.starts_with('/'))
                    .unwrap_or(target);
                if let Some(d) = SYSTEM_DIRS.iter().find(|d| **d == target) {
                    return Some(d);
                }
            }
        }
        None
    }

    #[test]
    fn write_fixes_are_derived_from_the_failure_and_never_touch_system_directories() {
        // A root-owned working directory `/`: a WORKDIR the app owns.
        let f = derive_write_fix("/", true, false, "/", 65532, 65532, false);
        assert!(f.contains("WORKDIR /app/data"), "{f}");
        assert!(
            f.contains("RUN mkdir -p /app/data && chown 65532:65532 /app/data"),
            "{f}"
        );
        assert_eq!(absurd(&f), None, "{f}");
        // The app's own directory does not exist: create it, not chown /var/log.
        let f = derive_write_fix("/var/log/claims", false, false, "/app", 65532, 65532, true);
        assert!(
            f.contains("RUN mkdir -p /var/log/claims && chown 65532:65532 /var/log/claims"),
            "{f}"
        );
        assert!(!f.contains("chown 65532:65532 /var/log "), "{f}");
        assert!(f.starts_with("log to stdout/stderr"), "{f}");
        assert_eq!(absurd(&f), None, "{f}");
        // An existing directory of the app's: chown it.
        let f = derive_write_fix(
            "/var/log/claims-api",
            true,
            false,
            "/app",
            65532,
            65532,
            true,
        );
        assert!(
            f.contains("RUN chown 65532:65532 /var/log/claims-api"),
            "{f}"
        );
        // A read-only root: a tmpfs, for the app's uid.
        let f = derive_write_fix("/app/cache", true, true, "/app", 65532, 65532, false);
        assert!(
            f.contains("docker run --tmpfs /app/cache:uid=65532,gid=65532"),
            "{f}"
        );
        for sys in SYSTEM_DIRS {
            for exists in [true, false] {
                for ro in [true, false] {
                    let f = derive_write_fix(sys, exists, ro, "/app", 65532, 65532, true);
                    assert_eq!(absurd(&f), None, "{sys}: {f}");
                }
            }
        }
        assert_eq!(absurd("RUN chown 65532:65532 /"), Some("/"));
        assert_eq!(absurd("docker run -v DATA:/var"), Some("/var"));
    }

    #[test]
    fn human_evidence_is_the_deciding_path_and_the_log_line() {
        let e = json!({"path": "/var/log/x/app.log", "deciding": {"path": "/var/log/x", "owner": "root", "group": "root", "mode": "0755", "reason": "..."}, "log": "PermissionError: [Errno 13] Permission denied: '/var/log/x/app.log'", "uid": 65532});
        assert_eq!(
            evidence_lines(&e),
            [
                "/var/log/x is root:root 0755",
                "log: PermissionError: [Errno 13] Permission denied: '/var/log/x/app.log'"
            ]
        );
        let e = json!({"port": 80, "source": "exposed (80/tcp)", "detail": {"a": 1}});
        assert_eq!(evidence_lines(&e), ["port 80, source exposed (80/tcp)"]);
    }

    #[test]
    fn help_names_the_checks_and_says_fips_is_not_checked() {
        use clap::CommandFactory;
        let help = Doctor::command().render_long_help().to_string();
        for id in [
            "missing-library",
            "uid-assumption",
            "healthcheck-cannot-run",
            "missing-tzdata",
            "workdir-not-writable",
            "script-needs-shell",
            "fips-algorithm",
        ] {
            assert!(help.contains(id), "{id} not in:\n{help}");
        }
    }

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
