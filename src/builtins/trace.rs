//! `trace -p PID` and `trace -- PROGRAM ARGS`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::unistd::Pid;
use serde::Serialize;

use super::{Builtin, util, which};
use crate::escape;
use crate::shell::Ctx;
use crate::shell::io::{Io, Sink, Source};
use crate::trace::decode::{self, Event};
use crate::trace::{End, TraceError, Tracer};

/// Show the system calls that fail, decoded: the call, its path or socket
/// address (ip:port), the flags that matter (O_WRONLY|O_CREAT) and the
/// errno by name (EACCES, ENOENT, EADDRINUSE, ECONNREFUSED). The answer to
/// a `Permission denied` that names no path.
///
/// `trace -p PID` attaches to a running process of the target with all its
/// threads and the children it starts; Ctrl-C, --timeout or the end of the
/// session detach it, and it runs on, never left stopped.
/// `trace -- PROGRAM ARGS` starts a program of the target traced, with its
/// forks; it is killed if still running at the end.
///
/// It runs as this shell's identity with no capabilities: the kernel lets a
/// uid trace its own dumpable processes. When it refuses, the reason
/// (another uid, not dumpable, Yama, seccomp) and what would allow it are
/// said. Routine failures (EINTR, a wait that timed out, EAGAIN of a
/// non-blocking read or accept) show only with --all.
///
/// Each failed path access is followed by the `why PATH ACCESS` to run; a
/// summary at the end counts the failures per call, path or address, and
/// errno.
///
/// JSON (--json): one object per line and per call {pid, syscall, args,
/// path, address, flags, result, errno, error}, then {summary [{syscall,
/// target, errno, count}], end}.
#[derive(Parser)]
#[command(
    name = "trace",
    disable_version_flag = true,
    override_usage = "trace -p PID [--all] [--timeout SECS] [--json]\n       trace [--all] [--timeout SECS] [--json] -- PROGRAM [ARGS...]"
)]
pub struct Trace {
    /// The process to attach to, as `ps` shows it.
    #[arg(short, long, value_name = "PID")]
    pid: Option<String>,
    /// Show the calls that succeed, and routine failures, too.
    #[arg(long)]
    all: bool,
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
    pub json: bool,
    pub timeout: Option<Duration>,
}

#[derive(Serialize)]
struct SummaryRow {
    syscall: String,
    target: String,
    errno: String,
    count: u64,
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

/// Follow `tracer` to the end, writing each call shown, then the summary.
pub fn follow(io: &mut Io, mut tracer: Tracer, opts: &Options) -> io::Result<End> {
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let all = opts.all;
    let json = opts.json;
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let terminal = watch_terminal(io);
    let Io { out, err, .. } = io;
    let mut stop = || {
        if crate::shell::interrupted() {
            Some(End::Interrupted)
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            Some(End::TimedOut)
        } else if terminal && crate::sys::hung_up(std::os::fd::AsFd::as_fd(&io::stdin())) {
            Some(End::SessionEnded)
        } else {
            None
        }
    };
    let show = move |name: &str, errno: Option<i32>| match errno {
        Some(e) => all || !decode::routine(name, e),
        None => all,
    };
    let mut write_event = |e: Event| -> io::Result<()> {
        if let Some(errno) = &e.errno {
            let target = e
                .absolute
                .clone()
                .or_else(|| e.path.clone())
                .or_else(|| e.address.clone())
                .unwrap_or_default();
            *counts
                .entry((e.syscall.clone(), target, errno.clone()))
                .or_default() += 1;
        }
        if json {
            serde_json::to_writer(&mut *out, &e).map_err(io::Error::other)?;
            return writeln!(out);
        }
        writeln!(out, "[pid {}] {}", e.pid, e.line())?;
        if e.failed()
            && e.has_path
            && let Some(path) = e.absolute.as_deref().or(e.path.as_deref())
        {
            writeln!(
                out,
                "    -> why {}{}",
                shell_word(path),
                e.need.map(|n| format!(" {n}")).unwrap_or_default()
            )?;
        }
        Ok(())
    };
    let result = tracer.run(&mut stop, &show, &mut write_event);
    let threads = tracer.threads();
    let leader = tracer.leader();
    let started = tracer.started();
    tracer.finish();
    let end = result?;
    let how = match end {
        End::Interrupted => "interrupted",
        End::TimedOut => "timed out",
        End::SessionEnded => "session ended",
        End::Exited(_) => "exited",
    };
    let mut rows: Vec<SummaryRow> = counts
        .into_iter()
        .map(|((syscall, target, errno), count)| SummaryRow {
            syscall,
            target,
            errno,
            count,
        })
        .collect();
    // The most frequent first; ties in the map's order (call, target).
    rows.sort_by_key(|r| std::cmp::Reverse(r.count));
    if json {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({"summary": rows, "end": how, "pid": leader.as_raw()}),
        )
        .map_err(io::Error::other)?;
        writeln!(out)?;
        return Ok(end);
    }
    let total: u64 = rows.iter().map(|r| r.count).sum();
    if rows.is_empty() {
        writeln!(out, "summary: no failed calls")?;
    } else {
        writeln!(
            out,
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
            out,
            Some(&["COUNT", "ERRNO", "CALL", "PATH OR ADDRESS"]),
            &table,
            &[0],
        )?;
    }
    match end {
        // An attached process that exits is the caller's one sentence.
        End::Exited(_) if !started => {}
        End::Exited(code) => writeln!(err, "trace: pid {leader} exited with status {code}")?,
        _ if started => writeln!(err, "trace: {how}; stopped pid {leader}")?,
        _ if threads > 0 => writeln!(
            err,
            "trace: {how}; detached from pid {leader}, which runs on"
        )?,
        _ => writeln!(err, "trace: {how}")?,
    }
    Ok(end)
}

/// Start `cmd` traced and follow it (`trace --` and `entrypoint --test
/// --trace`). `None`: still running at the timeout or Ctrl-C, and killed.
pub fn run_started(io: &mut Io, cmd: &mut Command, opts: &Options) -> io::Result<Option<i32>> {
    let tracer = Tracer::start(cmd)?;
    Ok(match follow(io, tracer, opts)? {
        End::Exited(code) => Some(code),
        _ => None,
    })
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
        let tracer = match Tracer::attach(Pid::from_raw(pid)) {
            Ok(t) => t,
            Err(TraceError::NoProcess(p)) => {
                writeln!(io.err, "trace: no process {p} in the target (it exited)")?;
                return Ok(1);
            }
            Err(e) => {
                writeln!(io.err, "trace: {e}")?;
                return Ok(1);
            }
        };
        writeln!(
            io.err,
            "trace: attached to pid {pid} ({} thread{}) as uid {}; {}, Ctrl-C to stop",
            tracer.threads(),
            if tracer.threads() == 1 { "" } else { "s" },
            nix::unistd::geteuid(),
            if opts.all {
                "all calls"
            } else {
                "failed calls"
            }
        )?;
        match follow(io, tracer, opts)? {
            End::Exited(code) => {
                writeln!(
                    io.err,
                    "trace: pid {pid} exited during the trace (status {code})"
                )?;
                Ok(1)
            }
            _ => Ok(0),
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
        match run_started(io, &mut cmd, opts) {
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
