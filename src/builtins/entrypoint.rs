//! `entrypoint [--test]`.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::diagnosis;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::info::explain_exit;
use crate::target::libs;
use crate::target::perm::{Access, Who};
use crate::target::program::{self, Program};
use crate::term::escape;
use crate::toolbox::spawn::{self, Refused};

/// Compare the configured command (the image's Entrypoint + Cmd, User,
/// WorkingDir) with what the target's main process really runs, and check
/// that the command can start: argv[0] resolved through the image's PATH,
/// exec permission for this identity, the ELF interpreter or shebang
/// interpreter present, a shell-form command in an image without a shell.
///
/// --test runs the configured command in the foreground as this identity,
/// as the engine would start it: the container's Env over the engine's
/// PATH and HOSTNAME (TERM=xterm with a TTY), HOME from the passwd entry
/// of the uid (else /) unless the Env sets it, in the container's working
/// directory. Its output (stdout and stderr, in the order it wrote them)
/// comes first, on stdout (the first 64 KiB as they come, then the last
/// 256 KiB); then how it ended, with the exit code the
/// engine would record (128 + n for signal n), and why. --test --trace
/// runs it under `trace`, following its forks, to show the system calls
/// that fail.
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

/// PATH as the container configures it (the engine's default when unset).
pub fn image_path(ctx: &Ctx) -> String {
    ctx.info
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH=").map(str::to_string))
        .unwrap_or_else(|| crate::target::info::ENGINE_DEFAULT_PATH.into())
}

/// The environment the engine gives the container's process for `uid`,
/// built as moby's `CreateDaemonEnvironment` and runc build it: PATH (the
/// engine's default) and HOSTNAME (the container's), TERM=xterm with a
/// TTY, then the container's Env replacing or adding (an entry without
/// `=` removes the variable); HOME from the passwd entry of `uid`, else
/// `/`, when the Env leaves it unset or empty.
pub fn engine_env(ctx: &Ctx, uid: u32) -> Vec<(String, String)> {
    let hostname = if ctx.info.hostname.is_empty() {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        ctx.info.hostname.clone()
    };
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            crate::target::info::ENGINE_DEFAULT_PATH.into(),
        ),
        ("HOSTNAME".into(), hostname),
    ];
    if ctx.info.tty {
        env.push(("TERM".into(), "xterm".into()));
    }
    for entry in &ctx.info.env {
        match entry.split_once('=') {
            Some((key, value)) => match env.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.to_string(),
                None => env.push((key.to_string(), value.to_string())),
            },
            None => env.retain(|(k, _)| k != entry),
        }
    }
    let home = ctx
        .users
        .user_by_uid(uid)
        .map(|u| u.home.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    match env.iter_mut().find(|(k, _)| k == "HOME") {
        Some(slot) if slot.1.is_empty() => slot.1 = home,
        Some(_) => {}
        None => env.push(("HOME".into(), home)),
    }
    env
}

/// A command line as a shell would read it back, each word quoted as
/// needed, control characters escaped for the terminal.
pub fn shown_argv(argv: &[String]) -> String {
    escape::field(crate::cli::shell_join(argv).as_bytes()).into_owned()
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
                    shown_argv(argv),
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
    let v = diagnosis::check(ctx, &resolved, Some(Access::Exec), &who);
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

/// The configured command `argv` (not empty) as the engine would start
/// it: argv[0] resolved through the image's PATH, the environment the
/// engine gives ([`engine_env`]) and the working directory, stdin empty.
pub fn command(ctx: &Ctx, argv: &[String]) -> Result<Launch, Refused> {
    let workdir = if ctx.info.working_dir.is_empty() {
        "/".to_string()
    } else {
        ctx.info.working_dir.clone()
    };
    let program =
        resolve(ctx, &argv[0], &image_path(ctx), &workdir).unwrap_or_else(|| argv[0].clone());
    let env = engine_env(ctx, nix::unistd::getuid().as_raw());
    let mut cmd = spawn::command(ctx, ctx.resolve(&program))?;
    cmd.arg0(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env.clone())
        .current_dir(ctx.resolve(&workdir))
        .stdin(Stdio::null());
    Ok(Launch { cmd, workdir, env })
}

/// The configured command ready to start, where and with what.
pub struct Launch {
    pub cmd: Command,
    pub workdir: String,
    pub env: Vec<(String, String)>,
}

impl Entrypoint {
    fn test(&self, io: &mut Io, ctx: &mut Ctx, argv: &[String]) -> io::Result<i32> {
        let checks = check_argv(ctx, argv);
        if let Some(c) = checks.iter().find(|c| c.severity == "error") {
            writeln!(
                io.out,
                "entrypoint --test: {} would not start",
                shown_argv(argv)
            )?;
            writeln!(io.out, "  cause: {}", c.message)?;
            if let Some(f) = &c.fix {
                writeln!(io.out, "  fix:   {f}")?;
            }
            return Ok(if c.id == "not-executable" { 126 } else { 127 });
        }
        let Launch { cmd, workdir, env } = match command(ctx, argv) {
            Ok(launch) => launch,
            Err(refused) => {
                writeln!(io.err, "entrypoint --test: {refused}")?;
                return Ok(126);
            }
        };
        let uid = nix::unistd::getuid();
        let home = env
            .iter()
            .find(|(k, _)| k == "HOME")
            .map_or("/", |(_, v)| v.as_str());
        writeln!(
            io.out,
            "entrypoint --test: running {} as uid {uid}",
            shown_argv(argv)
        )?;
        writeln!(
            io.out,
            "  in {}, HOME={}, {} environment variables as the engine sets them",
            escape::field(workdir.as_bytes()),
            escape::field(home.as_bytes()),
            env.len()
        )?;
        if self.trace {
            return self.traced(io, cmd);
        }
        let Some((seen, status)) = self.run_shown(io, cmd)? else {
            return self.still_running(io);
        };
        let code = engine_exit_code(status);
        if code == 0 {
            writeln!(io.out, "entrypoint --test: exited 0")?;
            return Ok(0);
        }
        match status.signal() {
            Some(sig) => writeln!(
                io.out,
                "entrypoint --test: exited {code} (killed by {}; the engine records {code})",
                signal_name(sig)
            )?,
            None => writeln!(io.out, "entrypoint --test: exited {code}")?,
        }
        if let Some(why) = explain_exit(code) {
            writeln!(io.out, "  {why}")?;
        }
        let text = String::from_utf8_lossy(&seen);
        // What the command's own last words say failed, with the fixes
        // doctor gives for the same paths.
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.chars().take(400).collect())
            .collect();
        let who = Who::current();
        let workdir = Some(ctx.info.working_dir.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/");
        for f in diagnosis::logs::failures(&lines, workdir) {
            let seen = diagnosis::access::Seen {
                path: &f.path,
                errno: f.errno,
                op: f.op,
                source: &lines[f.line],
            };
            if let Some(found) = diagnosis::access::finding(ctx, &who, workdir, &seen) {
                writeln!(
                    io.out,
                    "  {}: {}",
                    found.id,
                    escape::field(found.message.as_bytes())
                )?;
                writeln!(io.out, "  fix: {}", escape::field(found.fix.as_bytes()))?;
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

    /// Starts `cmd` in a process group of its own (what it starts goes with
    /// it, as everything in a container goes with its PID 1) and shows its
    /// stdout and stderr on ours as they come, through one pipe so that
    /// their order is the command's; keeps the last [`KEEP`] bytes to
    /// explain a failure. `None` when it was still running at the timeout
    /// (or Ctrl-C) and was stopped.
    fn run_shown(
        &self,
        io: &mut Io,
        mut cmd: Command,
    ) -> io::Result<Option<(Vec<u8>, std::process::ExitStatus)>> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;

        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        cmd.stdout(Stdio::from(write_end.try_clone()?))
            .stderr(Stdio::from(write_end));
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        // Our copies of the write end go, so the pipe ends with its writers.
        drop(cmd);
        let group = nix::unistd::Pid::from_raw(child.id() as i32);
        let mut reader = std::fs::File::from(read_end);
        let mut shown = Shown::new(io.out.is_terminal());
        let mut kept = Tail::default();
        let started = Instant::now();
        let limit = Duration::from_secs(self.timeout);
        let mut status: Option<Option<std::process::ExitStatus>> = None;
        // Once it has ended: how long its leftovers (a daemon outside its
        // group) may keep the pipe open.
        let mut drain_until = None;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
            let ready = match poll(&mut fds, PollTimeout::from(50u16)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(e.into()),
            };
            if ready {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        kept.push(&buf[..n]);
                        shown.write(&mut io.out, &buf[..n])?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            match status {
                None => {
                    let ended = match child.try_wait()? {
                        Some(st) => Some(Some(st)),
                        None if started.elapsed() >= limit || crate::shell::interrupted() => {
                            let _ = child.kill();
                            let _ = child.wait();
                            Some(None)
                        }
                        None => None,
                    };
                    if let Some(ended) = ended {
                        status = Some(ended);
                        // What it left running in its group goes too (ESRCH
                        // when it left nothing).
                        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                        drain_until = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
                Some(_) if drain_until.is_some_and(|d| Instant::now() >= d) => break,
                Some(_) => {}
            }
        }
        shown.finish(&mut io.out)?;
        // The pipe may end before the command does (it closed both).
        let status = match status {
            Some(status) => status,
            None => Some(child.wait()?),
        };
        Ok(status.map(|st| (kept.into_bytes(), st)))
    }
}

/// The exit code the engine records for a process that ended with
/// `status`: its own code, or 128 + n when signal n killed it.
fn engine_exit_code(status: std::process::ExitStatus) -> i64 {
    status
        .code()
        .map_or_else(|| 128 + i64::from(status.signal().unwrap_or(0)), i64::from)
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

/// A command's output on its way to our stdout: its first [`LIVE`] bytes
/// as they come, then only its last [`KEEP`], shown when it ends (a
/// command that floods its output must not flood the terminal). Raw into a
/// pipe or file; on a terminal, line by line with control characters
/// escaped (a line is cut after 4 KiB so that one without an end still
/// shows).
struct Shown {
    terminal: bool,
    line: Vec<u8>,
    live_left: usize,
    last: Option<u8>,
    rest: Tail,
}

/// How much of a command's output `entrypoint --test` shows as it comes.
const LIVE: usize = 64 * 1024;

impl Shown {
    const LINE_MAX: usize = 4096;

    fn new(terminal: bool) -> Shown {
        Shown {
            terminal,
            line: Vec::new(),
            live_left: LIVE,
            last: None,
            rest: Tail::default(),
        }
    }

    fn write(&mut self, out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
        let live = bytes.len().min(self.live_left);
        self.live_left -= live;
        self.rest.push(&bytes[live..]);
        self.emit(out, &bytes[..live])
    }

    fn emit(&mut self, out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
        if !self.terminal {
            out.write_all(bytes)?;
            return out.flush();
        }
        for &b in bytes {
            self.line.push(b);
            if b == b'\n' || self.line.len() >= Self::LINE_MAX {
                out.write_all(escape::text(&self.line).as_bytes())?;
                self.line.clear();
            }
        }
        out.flush()
    }

    /// Shows what came after the live part (after a note of what was
    /// left out), and the last line if it had no end.
    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        let rest = std::mem::take(&mut self.rest);
        if rest.dropped > 0 && self.last.is_some_and(|b| b != b'\n') {
            self.emit(out, b"\n")?;
        }
        self.emit(out, &rest.into_bytes())?;
        if !self.line.is_empty() {
            out.write_all(escape::text(&self.line).as_bytes())?;
            out.write_all(b"\n")?;
            self.line.clear();
        }
        out.flush()
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
            every_call: false,
            json: false,
            timeout: Some(Duration::from_secs(self.timeout)),
        };
        let Some(code) = super::trace::run_started(io, cmd, &opts)? else {
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

/// The last [`KEEP`] bytes of an output, and how many came before.
#[derive(Default)]
struct Tail {
    kept: std::collections::VecDeque<u8>,
    dropped: u64,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.kept.extend(bytes);
        if self.kept.len() > KEEP {
            let over = self.kept.len() - KEEP;
            self.kept.drain(..over);
            self.dropped += over as u64;
        }
    }

    /// What was kept, after a line saying how much came before when
    /// anything was dropped.
    fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.kept.len() + 64);
        if self.dropped > 0 {
            out.extend_from_slice(
                format!("[{} earlier bytes not kept]\n", self.dropped).as_bytes(),
            );
        }
        out.extend(self.kept);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_end_of_a_flood_is_kept() {
        let mut tail = Tail::default();
        for chunk in vec![b'x'; KEEP * 3].chunks(10_000) {
            tail.push(chunk);
        }
        let kept = tail.into_bytes();
        let note = format!("[{} earlier bytes not kept]\n", KEEP * 2);
        assert!(kept.starts_with(note.as_bytes()));
        assert_eq!(kept.len(), note.len() + KEEP);
        let mut small = Tail::default();
        small.push(b"short");
        assert_eq!(small.into_bytes(), b"short");
    }

    #[test]
    fn a_flood_shows_its_beginning_live_and_its_end_after_a_note() {
        let mut shown = Shown::new(false);
        let mut out = Vec::new();
        let mut flood = vec![b'a'; LIVE + KEEP * 2];
        flood.extend_from_slice(b"the end\n");
        for chunk in flood.chunks(7_000) {
            shown.write(&mut out, chunk).unwrap();
        }
        assert_eq!(out.len(), LIVE);
        shown.finish(&mut out).unwrap();
        let note = format!("\n[{} earlier bytes not kept]\n", KEEP + 8);
        assert_eq!(&out[LIVE..LIVE + note.len()], note.as_bytes());
        assert!(out.ends_with(b"the end\n"));
        assert_eq!(out.len(), LIVE + note.len() + KEEP);
    }

    #[test]
    fn output_shown_on_a_terminal_is_escaped_line_by_line() {
        let mut shown = Shown::new(true);
        let mut out = Vec::new();
        shown.write(&mut out, b"ok\n\x1b[31mred").unwrap();
        assert_eq!(out, b"ok\n");
        shown.write(&mut out, b" still\n").unwrap();
        shown.write(&mut out, b"no end").unwrap();
        shown.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.ends_with("red still\nno end\n"), "{text:?}");
        let mut raw = Vec::new();
        Shown::new(false).write(&mut raw, b"\x1b[31m").unwrap();
        assert_eq!(raw, b"\x1b[31m");
    }

    #[test]
    fn signals_are_reported_as_the_engine_records_them() {
        use std::os::unix::process::ExitStatusExt;
        let segv = std::process::ExitStatus::from_raw(libc::SIGSEGV);
        assert_eq!(engine_exit_code(segv), 139);
        let exited = std::process::ExitStatus::from_raw(3 << 8);
        assert_eq!(engine_exit_code(exited), 3);
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(99), "signal 99");
    }

    #[test]
    fn the_command_gets_the_environment_the_engine_gives() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/sbin/nologin\napp:x:4242:4242::/home/app:/sbin/nologin\n",
        )
        .unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let with_env = |env: &[&str]| crate::target::info::TargetInfo {
            hostname: "web-1".into(),
            tty: true,
            env: env.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        };
        ctx.info = std::sync::Arc::new(with_env(&["LANG=C.UTF-8", "TERM", "PATH=/app/bin"]));
        let pairs = |env: Vec<(String, String)>| -> Vec<String> {
            env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
        };
        assert_eq!(
            pairs(engine_env(&ctx, 4242)),
            [
                "PATH=/app/bin",
                "HOSTNAME=web-1",
                "LANG=C.UTF-8",
                "HOME=/home/app"
            ]
        );
        // No passwd entry: HOME=/; the Env's own HOME wins unless empty.
        ctx.info = std::sync::Arc::new(with_env(&[]));
        assert_eq!(
            pairs(engine_env(&ctx, 777)),
            [
                &format!("PATH={}", crate::target::info::ENGINE_DEFAULT_PATH),
                "HOSTNAME=web-1",
                "TERM=xterm",
                "HOME=/"
            ]
        );
        ctx.info = std::sync::Arc::new(with_env(&["HOME=/data"]));
        assert!(pairs(engine_env(&ctx, 4242)).contains(&"HOME=/data".to_string()));
        ctx.info = std::sync::Arc::new(with_env(&["HOME="]));
        assert!(pairs(engine_env(&ctx, 4242)).contains(&"HOME=/home/app".to_string()));
    }

    #[test]
    fn argv_is_shown_quoted_and_escaped() {
        let argv: Vec<String> = ["/usr/bin/python3", "-c", "print('a b')", "\x1b[2J"]
            .map(String::from)
            .to_vec();
        let shown = shown_argv(&argv);
        assert!(
            shown.starts_with("/usr/bin/python3 -c 'print('\\''a b'\\'')' "),
            "{shown}"
        );
        assert!(!shown.contains('\x1b'), "{shown}");
    }
}
