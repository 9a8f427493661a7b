//! `trace -p PID` and `trace -- PROGRAM ARGS`.

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use nix::unistd::Pid;

use super::{Builtin, util, which};
use crate::shell::Ctx;
use crate::shell::io::{Io, Sink, Source};
use crate::term::escape;
use crate::trace::ldso::LibrarySearch;
use crate::trace::ldso::Report;
use crate::trace::session::{self, Outcome, Started, Subject};
use crate::trace::summary::{MAX_ENTRIES, Summary};
use crate::trace::{End, TraceError, decode::Event};

/// Show the system calls that fail, decoded: the call, its path or socket
/// address (ip:port), the flags that matter (O_WRONLY|O_CREAT) and the
/// errno by name (EACCES, ENOENT, EADDRINUSE, ECONNREFUSED). The answer to
/// a `Permission denied` that names no path.
///
/// `trace -p PID` attaches to a running process of the target with all its
/// threads and the children it starts; Ctrl-C, --timeout or the end of the
/// session detach it within a second, and it runs on, never left stopped
/// (a thread asleep in the kernel that never stops is detached by the
/// kernel as the trace ends).
/// `trace -- PROGRAM ARGS` starts a program of the target traced, with its
/// forks; it is killed if still running at the end. It runs under a
/// seccomp filter that stops it only at the calls trace reports (files,
/// sockets, processes, identity and privilege), so a busy program runs
/// near full speed; --all and --every-call stop it at every call, as -p
/// does. A call the container's own seccomp profile refuses never reaches
/// the filter: --every-call sees it.
///
/// It runs as this shell's identity with no capabilities: the kernel lets a
/// uid trace its own dumpable processes. When it refuses, the reason
/// (another uid, not dumpable, Yama, seccomp) and what would allow it are
/// said. Only the failures of file, socket, process, identity and
/// privileged calls show, and routine ones (EINTR, a wait that timed out,
/// EAGAIN of a non-blocking read or accept) only with --all.
///
/// Calls read as strace prints them: flags, requests and options by their
/// constants' names, fds in decimal, errno texts as glibc's. A loader's
/// search for a library (one failed open per directory) is one line: where
/// it looked, and where it found it or that it did not.
///
/// Each failed path access is followed by the `why PATH ACCESS` to run; a
/// failed privileged call (chroot, setuid, chown, a bind below the
/// unprivileged ports, mknod, ...) by the capability it lacked instead:
/// chown does not fix an EPERM. A summary at the end counts the failures
/// per call, path or address, and errno: the first 256 distinct entries
/// one by one, the rest in one line.
///
/// JSON (--json): one object per line and per call {pid, syscall, args,
/// path, address, flags, result, errno, error, capability}, per library
/// search {pid, library, dirs, more_dirs, opens, found, errno, error,
/// program}, then {summary [{syscall, target, errno, count}], total,
/// folded, end, pid, stops, filter}: `stops` counts the times the program
/// stopped for the tracer, `filter` says whether the seccomp filter did
/// the choosing.
#[derive(Parser)]
#[command(
    name = "trace",
    disable_version_flag = true,
    override_usage = "trace -p PID [--all] [--timeout SECS] [--json]\n       trace [--all] [--every-call] [--timeout SECS] [--json] -- PROGRAM [ARGS...]"
)]
pub struct Trace {
    /// The process to attach to, as `ps` shows it.
    #[arg(short, long, value_name = "PID")]
    pid: Option<String>,
    /// Show the calls that succeed, and routine failures, too.
    #[arg(long)]
    all: bool,
    /// Stop the program at every call, as -p does, rather than at the
    /// reported ones only (slower; sees the calls a seccomp profile refuses).
    #[arg(long)]
    every_call: bool,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// The program to start traced, after `--`, and its arguments.
    #[arg(last = true, value_name = "PROGRAM")]
    program: Vec<String>,
}

/// What to show and for how long.
pub struct Options {
    pub all: bool,
    /// Stop a started program at every call (`--all` does too).
    pub every_call: bool,
    pub json: bool,
    pub timeout: Option<Duration>,
}

/// Quote a path for the shell line the user will copy, escaped for the
/// terminal.
fn shell_word(path: &str) -> String {
    let shown = escape::field(path.as_bytes()).into_owned();
    if shown
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+@%:,=".contains(c))
    {
        shown
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    }
}

/// Whether the shell reads commands from a terminal, whose hang-up ends
/// the session (a pipe on stdin is not watched: `-c` sessions close it at
/// once).
fn watch_terminal(io: &Io) -> bool {
    use std::io::IsTerminal;
    matches!(io.stdin, Source::Stdin(_)) && io::stdin().is_terminal()
}

/// Where the trace's lines go, and what they counted.
struct Printer<'a> {
    out: &'a mut Sink,
    json: bool,
    summary: Summary,
}

impl Printer<'_> {
    fn report(&mut self, r: Report) -> io::Result<()> {
        self.summary.add_report(&r);
        if self.json {
            serde_json::to_writer(&mut *self.out, &r).map_err(io::Error::other)?;
            return writeln!(self.out);
        }
        match r {
            Report::Call(e) => self.call(&e),
            Report::Library(l) => self.library(&l),
        }
    }

    fn call(&mut self, e: &Event) -> io::Result<()> {
        writeln!(self.out, "[pid {}] {}", e.pid, e.line())?;
        if let Some(need) = e.capability.and_then(crate::diagnosis::privileged::by_name) {
            // Not a path's permission: no chown or chmod helps.
            return writeln!(
                self.out,
                "    -> needs {} (an {} no chown fixes): {}; or grant it with --cap-add {}",
                need.capability,
                e.errno.as_deref().unwrap_or("error"),
                need.instead,
                need.engine_name()
            );
        }
        if e.failed()
            && e.has_path
            && let Some(path) = e.absolute.as_deref().or(e.path.as_deref())
        {
            writeln!(
                self.out,
                "    -> why {}{}",
                shell_word(path),
                e.need.map(|n| format!(" {n}")).unwrap_or_default()
            )?;
        }
        Ok(())
    }

    fn library(&mut self, l: &LibrarySearch) -> io::Result<()> {
        writeln!(self.out, "[pid {}] {}", l.pid, l.line())?;
        if l.found.is_none()
            && let Some(program) = &l.program
        {
            writeln!(
                self.out,
                "    -> file {} (every library it needs, and where each is found)",
                shell_word(program)
            )?;
        }
        Ok(())
    }

    /// The counts, then how the trace ended.
    fn end(&mut self, outcome: &Outcome) -> io::Result<()> {
        let rows = self.summary.rows();
        let folded = self.summary.folded();
        if self.json {
            serde_json::to_writer(
                &mut *self.out,
                &serde_json::json!({
                    "summary": rows,
                    "total": self.summary.total(),
                    "folded": folded,
                    "end": outcome.end.how(),
                    "pid": outcome.leader.as_raw(),
                    "stops": outcome.stops,
                    "filter": outcome.filtered,
                }),
            )
            .map_err(io::Error::other)?;
            return writeln!(self.out);
        }
        let total = self.summary.total();
        if total == 0 {
            return writeln!(self.out, "summary: no failed calls");
        }
        writeln!(
            self.out,
            "summary: {total} failed call{}",
            if total == 1 { "" } else { "s" }
        )?;
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.count.to_string(),
                    r.errno.clone(),
                    r.syscall.clone(),
                    escape::field(r.target.as_bytes()).into_owned(),
                ]
            })
            .collect();
        util::write_table(
            self.out,
            Some(&["COUNT", "ERRNO", "CALL", "PATH OR ADDRESS"]),
            &table,
            &[0],
        )?;
        if folded > 0 {
            writeln!(
                self.out,
                "+ {folded} more failed call{} on other paths and addresses (the summary lists the first {MAX_ENTRIES} distinct ones)",
                if folded == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// What the end of a trace says on stderr.
fn say_end(err: &mut Sink, outcome: &Outcome) -> io::Result<()> {
    let leader = outcome.leader;
    let how = outcome.end.how();
    match outcome.end {
        // An attached process that exits is the caller's one sentence.
        End::Exited(_) if !outcome.started => {}
        End::Exited(code) => writeln!(err, "trace: pid {leader} exited with status {code}")?,
        End::OutputClosed => {}
        _ if outcome.started => writeln!(err, "trace: {how}; stopped pid {leader}")?,
        _ if outcome.threads > 0 => writeln!(
            err,
            "trace: {how}; detached from pid {leader}, which runs on"
        )?,
        _ => writeln!(err, "trace: {how}")?,
    }
    if !outcome.abandoned.is_empty() && !outcome.started {
        let tids: Vec<String> = outcome.abandoned.iter().map(Pid::to_string).collect();
        let n = tids.len();
        writeln!(
            err,
            "trace: thread{} {} never stopped to be detached (asleep in the kernel: a vfork, a hung disk); the kernel detached {} as the trace ended, never stopped",
            if n == 1 { "" } else { "s" },
            tids.join(", "),
            if n == 1 { "it" } else { "them" }
        )?;
    }
    Ok(())
}

/// Follow `subject` to the end, writing each call shown, then the summary.
/// A closed output ends the trace quietly (the tracees detached).
pub fn follow(io: &mut Io, subject: Subject, opts: &Options) -> Result<Outcome, TraceError> {
    let watch_terminal = watch_terminal(io);
    let Io { out, err, .. } = io;
    let mut printer = Printer {
        out,
        json: opts.json,
        summary: Summary::default(),
    };
    let what = if opts.all {
        "all calls"
    } else {
        "failed calls"
    };
    let options = session::Options {
        all: opts.all,
        every_call: opts.every_call || opts.all,
        timeout: opts.timeout,
        watch_terminal,
        until: None,
    };
    let outcome = session::follow(
        subject,
        options,
        &mut |s: &Started| {
            if s.started {
                return Ok(());
            }
            writeln!(
                err,
                "trace: attached to pid {} ({} thread{}) as uid {}; {what}, Ctrl-C to stop",
                s.leader,
                s.threads,
                if s.threads == 1 { "" } else { "s" },
                nix::unistd::geteuid(),
            )
        },
        &mut |r| printer.report(r),
    );
    let outcome = match outcome {
        Err(TraceError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            return Err(TraceError::Output(e));
        }
        other => other?,
    };
    if outcome.end != End::OutputClosed {
        printer.end(&outcome).map_err(TraceError::Output)?;
    }
    say_end(err, &outcome).map_err(TraceError::Output)?;
    Ok(outcome)
}

/// Start `cmd` traced and follow it (`trace --` and `entrypoint --test
/// --trace`). `None`: still running at the timeout or Ctrl-C, and killed.
pub fn run_started(io: &mut Io, cmd: Command, opts: &Options) -> io::Result<Option<i32>> {
    match follow(io, Subject::Program(cmd), opts) {
        Ok(outcome) => Ok(match outcome.end {
            End::Exited(code) => Some(code),
            _ => None,
        }),
        Err(TraceError::Start(e) | TraceError::Output(e) | TraceError::Follow(e)) => Err(e),
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

impl Trace {
    fn attach(&self, io: &mut Io, ctx: &mut Ctx, pid: &str, opts: &Options) -> io::Result<i32> {
        let shown = escape::field(pid.as_bytes()).into_owned();
        let pid = match pid.parse::<i32>() {
            Ok(p) if p > 0 => p,
            _ => {
                writeln!(io.err, "trace: {shown}: not a process id")?;
                return Ok(2);
            }
        };
        if pid == std::process::id() as i32 {
            writeln!(io.err, "trace: pid {pid} is this shell")?;
            return Ok(1);
        }
        // A pid of the target's PID namespace (the sidecar shares it; the
        // shell's own processes are the only others there).
        let ns = |p: i32| std::fs::read_link(ctx.proc.path(p, "ns/pid")).ok();
        if !ctx.proc.path(pid, "").is_dir()
            || ns(pid).is_some_and(|n| ns(ctx.target_pid).is_some_and(|t| t != n))
        {
            writeln!(
                io.err,
                "trace: no process {pid} in the target (`ps` lists its processes)"
            )?;
            return Ok(1);
        }
        match follow(io, Subject::Pid(Pid::from_raw(pid)), opts) {
            Ok(Outcome {
                end: End::Exited(code),
                ..
            }) => {
                writeln!(
                    io.err,
                    "trace: pid {pid} exited during the trace (status {code})"
                )?;
                Ok(1)
            }
            Ok(_) => Ok(0),
            Err(TraceError::NoProcess(p)) => {
                writeln!(io.err, "trace: no process {p} in the target (it exited)")?;
                Ok(1)
            }
            Err(TraceError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
            Err(TraceError::Output(e)) => Err(e),
            Err(e) => {
                writeln!(io.err, "trace: {e}")?;
                Ok(1)
            }
        }
    }

    fn start(&self, io: &mut Io, ctx: &mut Ctx, opts: &Options) -> io::Result<i32> {
        let name = &self.program[0];
        let shown = escape::field(name.as_bytes()).into_owned();
        let Some(path) = which::search_path(ctx, name) else {
            writeln!(
                io.err,
                "trace: {shown}: not found in the target (PATH={})",
                escape::field(ctx.var("PATH").as_bytes())
            )?;
            return Ok(127);
        };
        let mut cmd = match crate::toolbox::spawn::command(ctx, ctx.resolve(&path)) {
            Ok(cmd) => cmd,
            Err(refused) => {
                writeln!(io.err, "trace: {shown}: {refused}")?;
                return Ok(126);
            }
        };
        cmd.arg0(name)
            .args(&self.program[1..])
            .env_clear()
            .envs(&ctx.vars)
            .current_dir(ctx.resolve(&ctx.cwd))
            .stdin(io.stdin.stdio()?)
            .stderr(io.err.stdio()?);
        // Into a pipeline or as JSON, the trace is the output; the
        // program's goes to stderr.
        cmd.stdout(if self.json || matches!(io.out, Sink::Buffer(_)) {
            io.err.stdio()?
        } else {
            io.out.stdio()?
        });
        match run_started(io, cmd, opts) {
            Ok(Some(code)) => Ok(code.clamp(0, 255)),
            Ok(None) => Ok(130),
            Err(e) => {
                writeln!(
                    io.err,
                    "trace: {shown}: {} (`file {}` and `why {} exec` explain)",
                    util::io_error(&e),
                    shell_word(&path),
                    shell_word(&path)
                )?;
                Ok(if e.kind() == io::ErrorKind::PermissionDenied {
                    126
                } else {
                    127
                })
            }
        }
    }
}

impl Builtin for Trace {
    const NAME: &'static str = "trace";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        if !cfg!(target_arch = "x86_64") {
            writeln!(io.err, "trace: only x86_64 is supported so far")?;
            return Ok(1);
        }
        let opts = Options {
            all: self.all,
            every_call: self.every_call,
            json: self.json,
            timeout: self.timeout.map(Duration::from_secs),
        };
        match (&self.pid, self.program.is_empty()) {
            (Some(pid), true) => self.attach(io, ctx, &pid.clone(), &opts),
            (None, false) => self.start(io, ctx, &opts),
            (Some(_), false) => {
                writeln!(io.err, "trace: -p PID or -- PROGRAM, not both")?;
                Ok(2)
            }
            (None, true) => {
                writeln!(
                    io.err,
                    "trace: say what to trace: -p PID (a running process) or -- PROGRAM ARGS"
                )?;
                Ok(2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_for_why_are_quoted_only_when_needed_and_escaped() {
        assert_eq!(shell_word("/var/log/app.log"), "/var/log/app.log");
        assert_eq!(shell_word("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_word("/tmp/it's"), "'/tmp/it'\\''s'");
        assert_eq!(shell_word("/tmp/\x1b[2J"), "'/tmp/\\e[2J'");
    }
}
