//! `entrypoint [--test]`.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::escape;
use crate::libs;
use crate::perm::{self, Access, Who};
use crate::program::{self, Program};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::explain_exit;

/// Compare the configured command (the image's Entrypoint + Cmd, User,
/// WorkingDir) with what the target's main process really runs, and check
/// that the command can start: argv[0] resolved through the image's PATH,
/// exec permission for this identity, the ELF interpreter or shebang
/// interpreter present, a shell-form command in an image without a shell.
///
/// --test runs the configured command in the foreground as this identity
/// and explains a failure; --test --trace runs it under `trace`, following
/// its forks, to show the system calls that fail.
///
/// The libraries of a dynamically linked program are resolved as the
/// target's loader would (rpath, LD_LIBRARY_PATH, runpath, ld.so.cache,
/// default directories) and listed found or missing, with the glibc
/// symbol versions it needs that the image's libc lacks.
///
/// JSON (--json): {configured {entrypoint, cmd, user, working_dir, argv},
/// running {pid, argv, uid, cwd}, checks [{id, severity, message, fix}],
/// libraries (null or {needed [{name, needed_by, path, via}],
/// missing_versions [{version, library, library_path, needed_by,
/// newest_defined}], unreadable, truncated, lib_dir})}.
#[derive(Parser)]
#[command(name = "entrypoint", disable_version_flag = true)]
pub struct Entrypoint {
    /// Run the configured command and explain why it fails.
    #[arg(long)]
    test: bool,
    /// With --test: a command still running after this many seconds has
    /// started successfully and is stopped.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// With --test: show the system calls that fail (as `trace --`).
    #[arg(long, requires = "test")]
    trace: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    /// error, warn, ok
    pub severity: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

#[derive(Serialize)]
struct Configured {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: String,
    working_dir: String,
    argv: Vec<String>,
}

#[derive(Serialize)]
struct Running {
    pid: i32,
    argv: Vec<String>,
    uid: Option<u32>,
    cwd: Option<String>,
}

const SHELLS: [&str; 5] = ["sh", "bash", "ash", "dash", "zsh"];

/// The configured argv: Entrypoint followed by Cmd.
pub fn configured_argv(ctx: &Ctx) -> Vec<String> {
    let mut argv = ctx.info.entrypoint.clone().unwrap_or_default();
    argv.extend(ctx.info.cmd.clone().unwrap_or_default());
    argv
}

/// PATH as the image configures it (Docker's default when unset).
pub fn image_path(ctx: &Ctx) -> String {
    ctx.info
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH=").map(str::to_string))
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())
}

/// Resolve a program name the way execvp would, in the target.
pub fn resolve(ctx: &Ctx, name: &str, path: &str, workdir: &str) -> Option<String> {
    if name.contains('/') {
        let abs = if name.starts_with('/') {
            name.to_string()
        } else {
            crate::shell::normalize(&format!("{workdir}/{name}"))
        };
        return std::fs::symlink_metadata(ctx.resolve(&abs))
            .is_ok()
            .then_some(abs);
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{name}", d.trim_end_matches('/')))
        .find(|p| std::fs::metadata(ctx.resolve(p)).is_ok_and(|m| m.is_file()))
}

/// The libraries of the program at `resolved`, as the loader would find
/// them with the image's environment: an error per missing library or
/// symbol version, else one ok line.
fn library_checks(ctx: &Ctx, resolved: &str) -> Vec<Check> {
    let Some(res) = libs::resolve(ctx, resolved, &ctx.info.env) else {
        return Vec::new();
    };
    let problems = res.problems();
    if problems.is_empty() {
        return vec![Check {
            id: "libraries-present",
            severity: "ok",
            message: format!(
                "all {} libraries it needs are in the image",
                res.needed.len()
            ),
            fix: None,
        }];
    }
    problems
        .into_iter()
        .map(|(message, fix)| Check {
            id: "missing-library",
            severity: "error",
            message,
            fix: Some(fix),
        })
        .collect()
}

/// The program the configured command runs, resolved in the target.
pub fn resolved_program(ctx: &Ctx, argv: &[String]) -> Option<String> {
    let workdir = if ctx.info.working_dir.is_empty() {
        "/".to_string()
    } else {
        ctx.info.working_dir.clone()
    };
    resolve(ctx, argv.first()?, &image_path(ctx), &workdir)
}

/// Every check of a command line, in order: the first error is the cause.
pub fn check_argv(ctx: &Ctx, argv: &[String]) -> Vec<Check> {
    let mut checks = Vec::new();
    let Some(arg0) = argv.first() else {
        checks.push(Check {
            id: "no-command",
            severity: "error",
            message: "the image configures no Entrypoint and no Cmd".into(),
            fix: Some("set ENTRYPOINT in the image".into()),
        });
        return checks;
    };
    let workdir = if ctx.info.working_dir.is_empty() {
        "/".to_string()
    } else {
        ctx.info.working_dir.clone()
    };
    let path = image_path(ctx);
    let base = arg0.rsplit('/').next().unwrap_or(arg0);
    let is_shell = SHELLS.contains(&base);
    let Some(resolved) = resolve(ctx, arg0, &path, &workdir) else {
        if is_shell {
            let cmdline = argv.get(2).cloned().unwrap_or_default();
            checks.push(Check {
                id: "shell-form-entrypoint",
                severity: "error",
                message: format!(
                    "the command runs {} ({}) but the image has no shell: exit 127, `exec: \"{}\": executable file not found`",
                    escape::field(arg0.as_bytes()),
                    escape::field(argv.join(" ").as_bytes()),
                    escape::field(arg0.as_bytes())
                ),
                fix: Some(format!(
                    "use the exec form without a shell: ENTRYPOINT [\"{}\"] (JSON array, the program first)",
                    escape::field(cmdline.split_whitespace().collect::<Vec<_>>().join("\", \"").as_bytes())
                )),
            });
        } else {
            checks.push(Check {
                id: "command-not-found",
                severity: "error",
                message: format!(
                    "{} is not in the image{}",
                    escape::field(arg0.as_bytes()),
                    if arg0.contains('/') {
                        String::new()
                    } else {
                        format!(" (PATH={})", escape::field(path.as_bytes()))
                    }
                ),
                fix: Some(
                    "copy the binary into the image, or fix the path in ENTRYPOINT/CMD".into(),
                ),
            });
        }
        return checks;
    };
    checks.push(Check {
        id: "command-found",
        severity: "ok",
        message: format!(
            "{} resolves to {}",
            escape::field(arg0.as_bytes()),
            escape::field(resolved.as_bytes())
        ),
        fix: None,
    });
    let who = Who::current();
    let v = perm::check(ctx, &resolved, Some(Access::Exec), &who);
    if !v.allowed {
        let reason = v
            .deciding
            .as_ref()
            .map(|d| d.reason.clone())
            .unwrap_or_else(|| "the kernel refuses".into());
        checks.push(Check {
            id: "not-executable",
            severity: "error",
            message: format!(
                "uid {} cannot execute {}: {} (exit 126)",
                who.uid,
                escape::field(resolved.as_bytes()),
                escape::field(reason.as_bytes())
            ),
            fix: v.fixes.first().cloned(),
        });
        return checks;
    }
    match program::inspect(&ctx.resolve(&resolved)) {
        Ok(Program::Elf(elf)) => match &elf.interpreter {
            Some(interp) if std::fs::metadata(ctx.resolve(interp)).is_err() => checks.push(Check {
                id: "missing-interpreter",
                severity: "error",
                message: format!(
                    "{} is dynamically linked and needs {}, which the image lacks: exit 127 with a misleading \"no such file or directory\"",
                    escape::field(resolved.as_bytes()),
                    escape::field(interp.as_bytes())
                ),
                fix: Some("build the binary statically (CGO_ENABLED=0, -C target-feature=+crt-static, musl) or use a base image with that libc".into()),
            }),
            Some(interp) => {
                checks.push(Check {
                    id: "interpreter-present",
                    severity: "ok",
                    message: format!("{} ELF, {} linked, interpreter {} present", elf.machine, elf.linking, escape::field(interp.as_bytes())),
                    fix: None,
                });
                checks.extend(library_checks(ctx, &resolved));
            }
            None => checks.push(Check {
                id: "static-binary",
                severity: "ok",
                message: format!("{} ELF, {} linked: no interpreter needed", elf.machine, elf.linking),
                fix: None,
            }),
        },
        Ok(Program::Script(shebang)) => {
            let interpreter = shebang.interpreter;
            let found = if interpreter.contains('/') {
                std::fs::metadata(ctx.resolve(&interpreter)).is_ok()
            } else {
                resolve(ctx, &interpreter, &path, &workdir).is_some()
            };
            let ibase = interpreter.rsplit('/').next().unwrap_or(&interpreter);
            if found {
                checks.push(Check {
                    id: "interpreter-present",
                    severity: "ok",
                    message: format!("script for {}, which is present", escape::field(interpreter.as_bytes())),
                    fix: None,
                });
            } else {
                let is_shell = SHELLS.contains(&ibase);
                let entry_script = resolved.ends_with("entrypoint.sh") || resolved.ends_with("-entrypoint");
                checks.push(Check {
                    id: if is_shell { "script-needs-shell" } else { "missing-interpreter" },
                    severity: "error",
                    message: format!(
                        "{} is a script for {}, which the image lacks: exit 127{}",
                        escape::field(resolved.as_bytes()),
                        escape::field(interpreter.as_bytes()),
                        if is_shell && entry_script {
                            " (a docker-entrypoint.sh copied from a non-hardened image)"
                        } else {
                            ""
                        }
                    ),
                    fix: Some(if is_shell {
                        "do the script's work at build time (RUN in a build stage) and start the program itself: ENTRYPOINT [\"/path/to/app\", \"arg\"]; or COPY a static shell (busybox) from a build stage if the script must stay".into()
                    } else {
                        "run the script with an interpreter the image has, or replace it with a binary".into()
                    }),
                });
            }
        }
        Ok(Program::Empty) => checks.push(Check {
            id: "not-executable",
            severity: "error",
            message: format!("{} is an empty file", escape::field(resolved.as_bytes())),
            fix: None,
        }),
        Ok(Program::Other(what)) => checks.push(Check {
            id: "not-executable",
            severity: "error",
            message: format!("{} is {what}, not a program: exec fails with \"exec format error\"", escape::field(resolved.as_bytes())),
            fix: None,
        }),
        Err(e) => checks.push(Check {
            id: "unreadable-program",
            severity: "warn",
            message: format!("cannot read {} to check it: {}", escape::field(resolved.as_bytes()), util::io_error(&e)),
            fix: None,
        }),
    }
    if is_shell && argv.get(1).is_some_and(|a| a == "-c") {
        checks.push(Check {
            id: "shell-form-entrypoint",
            severity: "warn",
            message: "the command goes through a shell: signals reach the shell, not the app, unless it uses exec".into(),
            fix: Some("use the exec form: ENTRYPOINT [\"/path/to/app\", \"arg\"]".into()),
        });
    }
    checks
}

/// Paths quoted in a failure message (`'/var/log/x'` or "/var/log/x").
fn quoted_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for q in ['\'', '"'] {
        for (i, part) in text.split(q).enumerate() {
            if i % 2 == 1
                && part.starts_with('/')
                && !part.contains(char::is_whitespace)
                && !out.contains(&part.to_string())
            {
                out.push(part.to_string());
            }
        }
    }
    out
}

impl Entrypoint {
    fn test(&self, io: &mut Io, ctx: &mut Ctx, argv: &[String]) -> io::Result<i32> {
        let checks = check_argv(ctx, argv);
        if let Some(c) = checks.iter().find(|c| c.severity == "error") {
            writeln!(
                io.out,
                "entrypoint --test: {} would not start",
                escape::field(argv.join(" ").as_bytes())
            )?;
            writeln!(io.out, "  cause: {}", c.message)?;
            if let Some(f) = &c.fix {
                writeln!(io.out, "  fix:   {f}")?;
            }
            return Ok(if c.id == "not-executable" { 126 } else { 127 });
        }
        let workdir = if ctx.info.working_dir.is_empty() {
            "/".to_string()
        } else {
            ctx.info.working_dir.clone()
        };
        let program =
            resolve(ctx, &argv[0], &image_path(ctx), &workdir).unwrap_or_else(|| argv[0].clone());
        writeln!(
            io.out,
            "entrypoint --test: running {} as uid {}",
            escape::field(argv.join(" ").as_bytes()),
            nix::unistd::getuid()
        )?;
        let mut cmd = match crate::toolbox::spawn::command(ctx, ctx.resolve(&program)) {
            Ok(cmd) => cmd,
            Err(refused) => {
                writeln!(io.err, "entrypoint --test: {refused}")?;
                return Ok(126);
            }
        };
        cmd.arg0(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .envs(ctx.info.env.iter().filter_map(|e| e.split_once('=')))
            .current_dir(ctx.resolve(&workdir))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.trace {
            return self.traced(io, cmd);
        }
        // Its own process group, so that what it starts (a script's
        // background job holding our pipes open) ends with the test.
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        let group = nix::unistd::Pid::from_raw(child.id() as i32);
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let started = Instant::now();
        let limit = Duration::from_secs(self.timeout);
        // Stream both outputs while keeping a copy to explain a failure.
        let (seen_out, seen_err, status) = std::thread::scope(|s| {
            // What was read before an error still counts.
            let t_out = s.spawn(move || keep_tail(&mut out));
            let t_err = s.spawn(move || keep_tail(&mut err));
            let status = loop {
                match child.try_wait() {
                    Ok(Some(st)) => break Some(st),
                    Ok(None) if started.elapsed() >= limit || crate::shell::interrupted() => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break None;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    Err(_) => break None,
                }
            };
            // Whatever the command left running in its group goes too (the
            // group is gone already when it left nothing: ESRCH).
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            (
                t_out.join().unwrap_or_default(),
                t_err.join().unwrap_or_default(),
                status,
            )
        });
        let tty = io.out.is_terminal();
        for (data, sink) in [(&seen_out, &mut io.out), (&seen_err, &mut io.err)] {
            if tty {
                sink.write_all(escape::text(data).as_bytes())?;
            } else {
                sink.write_all(data)?;
            }
        }
        let Some(status) = status else {
            return self.still_running(io);
        };
        let code = status
            .code()
            .map_or_else(|| 128 + i64::from(status.signal().unwrap_or(0)), i64::from);
        if code == 0 {
            writeln!(io.out, "entrypoint --test: exited 0")?;
            return Ok(0);
        }
        writeln!(io.out, "entrypoint --test: exited {code}")?;
        if let Some(why) = explain_exit(code) {
            writeln!(io.out, "  {why}")?;
        }
        let text =
            String::from_utf8_lossy(&seen_err).into_owned() + &String::from_utf8_lossy(&seen_out);
        if text.contains("Permission denied")
            || text.contains("PermissionError")
            || text.contains("EACCES")
        {
            let who = Who::current();
            for p in quoted_paths(&text) {
                let v = perm::check(ctx, &p, None, &who);
                if v.allowed {
                    continue;
                }
                if let Some(d) = &v.deciding {
                    writeln!(
                        io.out,
                        "  permission denied on {}: {}",
                        escape::field(p.as_bytes()),
                        escape::field(d.reason.as_bytes())
                    )?;
                }
                for f in &v.fixes {
                    writeln!(io.out, "  fix: {}", escape::field(f.as_bytes()))?;
                }
            }
        }
        if text.contains("Address already in use")
            || text.contains("EADDRINUSE")
            || text.contains("bind") && text.contains("denied")
        {
            writeln!(
                io.out,
                "  a bind failed: `bind-check PORT` explains which port and why"
            )?;
        }
        Ok(code.clamp(1, 255) as i32)
    }
}

impl Entrypoint {
    /// The command outlived `--timeout` and was stopped: it starts, which
    /// is a pass.
    fn still_running(&self, io: &mut Io) -> io::Result<i32> {
        writeln!(
            io.out,
            "entrypoint --test: still running after {} s: it starts; stopped it",
            self.timeout
        )?;
        Ok(0)
    }

    /// `--test --trace`: the command's own output streams, the failed calls
    /// follow with their summary, then the exit as without --trace.
    fn traced(&self, io: &mut Io, mut cmd: Command) -> io::Result<i32> {
        cmd.stdout(io.err.stdio()?).stderr(io.err.stdio()?);
        let opts = super::trace::Options {
            all: false,
            json: false,
            timeout: Some(Duration::from_secs(self.timeout)),
        };
        let Some(code) = super::trace::run_started(io, &mut cmd, &opts)? else {
            return self.still_running(io);
        };
        writeln!(io.out, "entrypoint --test: exited {code}")?;
        if let Some(why) = explain_exit(i64::from(code)) {
            writeln!(io.out, "  {why}")?;
        }
        Ok(code.clamp(0, 255))
    }
}

impl Builtin for Entrypoint {
    const NAME: &'static str = "entrypoint";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let argv = configured_argv(ctx);
        if self.test {
            return self.test(io, ctx, &argv);
        }
        let pid = ctx.target_pid;
        let running = Running {
            pid,
            argv: ctx
                .proc
                .cmdline(pid)
                .unwrap_or_default()
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
            uid: ctx.proc.status(pid).ok().map(|s| s.uid[0]),
            cwd: std::fs::read_link(ctx.proc.path(pid, "cwd"))
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
        };
        let configured = Configured {
            entrypoint: ctx.info.entrypoint.clone(),
            cmd: ctx.info.cmd.clone(),
            user: ctx.info.user.clone(),
            working_dir: ctx.info.working_dir.clone(),
            argv: argv.clone(),
        };
        let checks = check_argv(ctx, &argv);
        let libraries =
            resolved_program(ctx, &argv).and_then(|p| libs::resolve(ctx, &p, &ctx.info.env));
        if self.json {
            util::write_json(
                &mut io.out,
                &serde_json::json!({"configured": configured, "running": running, "checks": checks, "libraries": libraries}),
            )?;
            return Ok(i32::from(checks.iter().any(|c| c.severity == "error")));
        }
        let show = |v: &Option<Vec<String>>| match v {
            Some(v) => {
                escape::field(serde_json::to_string(v).unwrap_or_default().as_bytes()).into_owned()
            }
            None => "(none)".into(),
        };
        writeln!(
            io.out,
            "configured (image config{})",
            if ctx.info.id.is_empty() {
                ": not known, run through `nosh TARGET`"
            } else {
                ""
            }
        )?;
        writeln!(io.out, "  Entrypoint  {}", show(&configured.entrypoint))?;
        writeln!(io.out, "  Cmd         {}", show(&configured.cmd))?;
        writeln!(
            io.out,
            "  User        {}",
            if configured.user.is_empty() {
                "(empty: root)".into()
            } else {
                escape::field(configured.user.as_bytes()).into_owned()
            }
        )?;
        writeln!(
            io.out,
            "  WorkingDir  {}",
            if configured.working_dir.is_empty() {
                "(empty: /)".into()
            } else {
                escape::field(configured.working_dir.as_bytes()).into_owned()
            }
        )?;
        writeln!(io.out, "running (pid {pid})")?;
        let argv_shown: Vec<String> = running
            .argv
            .iter()
            .map(|a| escape::field(a.as_bytes()).into_owned())
            .collect();
        writeln!(
            io.out,
            "  argv        {}",
            if argv_shown.is_empty() {
                "(not readable)".into()
            } else {
                argv_shown.join(" ")
            }
        )?;
        match running.uid {
            Some(u) => writeln!(
                io.out,
                "  uid         {u} ({})",
                escape::field(ctx.user_name(u).as_bytes())
            )?,
            None => writeln!(io.out, "  uid         (gone)")?,
        }
        writeln!(
            io.out,
            "  cwd         {}",
            running
                .cwd
                .as_deref()
                .map_or("(not readable as this uid)".into(), |c| escape::field(
                    c.as_bytes()
                )
                .into_owned())
        )?;
        if let Some(res) = &libraries {
            writeln!(io.out, "libraries")?;
            super::file::write_libraries(&mut io.out, res, "  ")?;
        }
        writeln!(io.out, "checks")?;
        for c in &checks {
            writeln!(io.out, "  {:<5} {}", c.severity, c.message)?;
            if let Some(f) = &c.fix {
                writeln!(io.out, "        fix: {f}")?;
            }
        }
        Ok(i32::from(checks.iter().any(|c| c.severity == "error")))
    }
}

/// What `entrypoint --test` keeps of each output to explain a failure: the
/// end, where the error usually is; a command that prints without end must
/// not fill the sidecar's memory.
const KEEP: usize = 256 * 1024;

/// Reads `from` to its end, keeping its last [`KEEP`] bytes (after a line
/// saying how much came before, when anything was dropped).
fn keep_tail(from: &mut impl Read) -> Vec<u8> {
    let mut kept: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend(&buf[..n]);
        if kept.len() > KEEP {
            let over = kept.len() - KEEP;
            kept.drain(..over);
            dropped += over as u64;
        }
    }
    let mut out = Vec::with_capacity(kept.len() + 64);
    if dropped > 0 {
        out.extend_from_slice(format!("[{dropped} earlier bytes not kept]\n").as_bytes());
    }
    out.extend(kept);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_end_of_a_flood_is_kept() {
        let flood = vec![b'x'; KEEP * 3];
        let mut input = &flood[..];
        let kept = keep_tail(&mut input);
        let note = format!("[{} earlier bytes not kept]\n", KEEP * 2);
        assert!(kept.starts_with(note.as_bytes()));
        assert_eq!(kept.len(), note.len() + KEEP);
        let mut small = &b"short"[..];
        assert_eq!(keep_tail(&mut small), b"short");
    }

    #[test]
    fn quoted_paths_are_found_in_error_messages() {
        let msg = "PermissionError: [Errno 13] Permission denied: '/var/log/claims-api/app.log'";
        assert_eq!(quoted_paths(msg), ["/var/log/claims-api/app.log"]);
        assert!(quoted_paths("no paths 'here'").is_empty());
    }
}
