//! `doctor [--json] [--prod-like]`: the hardened-image migration checklist.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Builtin, bind_check, entrypoint, http};
use crate::escape;
use crate::perm::{self, Access, Who};
use crate::procinfo::{self, CAP_NET_BIND_SERVICE};
use crate::procnet::{self, Owners, Proto, State};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::explain_exit;

/// Check the target against what hardened, nonroot images require: root
/// user, privileged ports, unwritable paths, logs written to files,
/// shell-form entrypoints, missing interpreters, CA bundle, passwd entry
/// and HOME, image tag, crash loops, read-only root filesystem.
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
/// and what it started.
fn app_pids(ctx: &Ctx) -> BTreeSet<i32> {
    let me = std::process::id() as i32;
    let rows: Vec<(i32, i32)> = ctx
        .proc
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| ctx.proc.stat(p).ok().map(|s| (p, s.ppid)))
        .collect();
    let mut ours: BTreeSet<i32> = BTreeSet::from([me]);
    // Descendants of the shell (a fixed point: pids are few).
    loop {
        let before = ours.len();
        for (p, pp) in &rows {
            if ours.contains(pp) {
                ours.insert(*p);
            }
        }
        if ours.len() == before {
            break;
        }
    }
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

/// Paths quoted in permission errors of the recent log lines.
fn denied_in_logs(lines: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in lines {
        let denied = line.contains("Permission denied")
            || line.contains("PermissionError")
            || line.contains("EACCES")
            || line.contains("Read-only file system")
            || line.contains("EROFS");
        if !denied {
            continue;
        }
        for q in ['\'', '"'] {
            for (i, part) in line.split(q).enumerate() {
                if i % 2 == 1 && part.starts_with('/') && !out.iter().any(|(p, _)| p == part) {
                    out.push((part.to_string(), line.clone()));
                }
            }
        }
        // `cannot open log file /var/log/x: Permission denied`
        for w in line.split_whitespace() {
            let w = w.trim_end_matches([':', ',', ';']);
            if w.starts_with('/') && w.len() > 1 && !out.iter().any(|(p, _)| p == w) {
                out.push((w.to_string(), line.clone()));
            }
        }
    }
    out
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

impl Doctor {
    fn examine(&self, ctx: &Ctx) -> Report {
        let mut r = Report {
            findings: Vec::new(),
        };
        let info = ctx.info.clone();
        let pid = ctx.target_pid;
        let status = ctx.proc.status(pid).ok();
        let app_uid = status.as_ref().map(|s| s.uid[1]);
        let pids = app_pids(ctx);
        let who = Who::current();

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
        for (port, how) in &ports {
            if *port >= 1024 || app_uid == Some(0) && !self.prod_like {
                continue;
            }
            let evidence = json!({"port": port, "source": how, "uid": app_uid, "ip_unprivileged_port_start": start, "cap_net_bind_service": has_bind_cap});
            let fix = format!(
                "listen on a port >= 1024 (e.g. {}) and publish it as {port} (docker run -p {port}:{}; a Kubernetes Service targetPort)",
                8000 + port,
                8000 + port
            );
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
        let mut candidates: BTreeMap<String, (String, bool)> = BTreeMap::new(); // path -> (source, strong)
        for (p, line) in denied_in_logs(&info.log_tail) {
            candidates
                .entry(p)
                .or_insert((format!("log: {}", line.trim()), true));
        }
        let env: Vec<String> = ctx
            .proc
            .environ(pid)
            .map(|e| {
                e.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .filter(|x| !x.starts_with(crate::target::TARGET_INFO_ENV))
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
            let is_dir = std::fs::metadata(&real).is_ok_and(|m| m.is_dir());
            let looks_file =
                !is_dir && (path.ends_with(".log") || Path::new(path).extension().is_some());
            // A log *file* path whose directory is what must be writable.
            let v = perm::check(ctx, path, Some(Access::Write), &who);
            let dir = if looks_file && !real.exists() {
                Path::new(path)
                    .parent()
                    .and_then(|p| p.to_str())
                    .unwrap_or("/")
                    .to_string()
            } else {
                path.clone()
            };
            if !v.allowed {
                let deciding = v.deciding.clone();
                let sev = if *strong || looks_like_log(path) {
                    "error"
                } else {
                    "warn"
                };
                r.add(
                    "unwritable-path",
                    sev,
                    format!("the app needs to write {path} and uid {} cannot: {}", who.uid, deciding.as_ref().map(|d| d.reason.clone()).unwrap_or_else(|| "the kernel refuses".into())),
                    json!({"path": path, "directory": dir, "source": source, "deciding": deciding, "uid": who.uid}),
                    v.fixes.join("; "),
                );
                if looks_like_log(path) && !written.iter().any(|w| w.2.starts_with(&dir)) {
                    r.add("logs-to-file", "warn", format!("the app tries to log to a file under {dir}"), json!({"path": path, "directory": dir, "source": source}), "log to stdout/stderr instead: the engine collects and rotates it; no writable directory needed");
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
                    r.add("unwritable-home", "warn", format!("HOME {h} is not writable by uid {}: caches and config that runtimes put there fail", who.uid), json!({"home": h, "deciding": v.deciding}), v.fixes.first().cloned().unwrap_or_default());
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
        if !argv.is_empty() {
            for c in entrypoint::check_argv(ctx, &argv) {
                if c.severity == "ok" {
                    continue;
                }
                let id = match c.id {
                    "shell-form-entrypoint" => "shell-form-entrypoint",
                    "missing-interpreter" => "missing-interpreter",
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

        // crash-loop
        if info.restart_count > 0 || (info.state != "running" && info.exit_code != 0) {
            let why = explain_exit(info.exit_code).unwrap_or("it exited");
            r.add("crash-loop", if info.exit_code != 0 || info.state == "restarting" { "error" } else { "warn" }, format!("the container restarted {} times; last exit code {}: {why}", info.restart_count, info.exit_code), json!({"restart_count": info.restart_count, "exit_code": info.exit_code, "state": info.state, "error": info.error}), "`nosh TARGET -c 'entrypoint --test'` runs the command and shows why it dies");
        }

        // readonly-rootfs
        if root_ro {
            r.add("readonly-rootfs", "info", "the root filesystem is read-only".into(), json!({"writable_mounts": mounts.iter().filter(|m| !m.readonly() && m.target != "/" && !m.target.starts_with("/proc") && !m.target.starts_with("/sys") && !m.target.starts_with("/dev")).map(|m| m.target.clone()).collect::<Vec<_>>()}), "mount a tmpfs or volume at every path the app writes");
        } else if self.prod_like && !ro_needs.is_empty() {
            ro_needs.sort();
            ro_needs.dedup();
            r.add("readonly-rootfs", "error", format!("with readOnlyRootFilesystem these paths on the root filesystem become unwritable: {}", ro_needs.join(", ")), json!({"paths": ro_needs}), format!("mount an emptyDir (or --tmpfs) at {}", ro_needs.join(", ")));
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

impl Builtin for Doctor {
    const NAME: &'static str = "doctor";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let report = self.examine(ctx);
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
        writeln!(
            io.out,
            "doctor: {}{}{}",
            escape::field(ctx.info.display_name().as_bytes()),
            if ctx.info.image.is_empty() {
                String::new()
            } else {
                format!(" (image {})", escape::field(ctx.info.image.as_bytes()))
            },
            if self.prod_like {
                ", judged as Kubernetes would run it"
            } else {
                ""
            }
        )?;
        for sev in ["error", "warn", "info"] {
            for f in report.findings.iter().filter(|f| f.severity == sev) {
                writeln!(
                    io.out,
                    "{:<5} {:<22} {}",
                    sev.to_uppercase(),
                    f.id,
                    escape::field(f.message.as_bytes())
                )?;
                writeln!(
                    io.out,
                    "      evidence: {}",
                    escape::field(f.evidence.to_string().as_bytes())
                )?;
                if !f.fix.is_empty() {
                    writeln!(io.out, "      fix: {}", escape::field(f.fix.as_bytes()))?;
                }
            }
        }
        let warns = report
            .findings
            .iter()
            .filter(|f| f.severity == "warn")
            .count();
        writeln!(io.out, "{errors} error(s), {warns} warning(s)")?;
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
        let paths: Vec<String> = denied_in_logs(&lines).into_iter().map(|p| p.0).collect();
        assert_eq!(
            paths,
            ["/var/log/claims-api/app.log", "/var/log/demo/app.log"]
        );
    }

    #[test]
    fn paths_are_found_in_options_and_env() {
        assert_eq!(paths_in("--log=/var/log/x.log"), ["/var/log/x.log"]);
        assert_eq!(paths_in("DATA_DIR=/data/"), ["/data"]);
        assert!(paths_in("--port 8443").is_empty());
    }
}
