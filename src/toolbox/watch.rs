//! `nosh watch`: the in-container half of `nosh doctor IMAGE --run`.
//!
//! The host starts a throwaway container of the image whose PID 1 is this
//! binary (it comes in through a volume, as for a replica: nothing is added
//! to the image), as the image's user, with its environment, working
//! directory and the engine settings asked for. The image's own command is
//! then this process's child. Being its parent is what makes the watch
//! race-free: `PTRACE_TRACEME` before the exec traces the app from its
//! first instruction, so a bind that fails in the first millisecond is
//! seen; a sidecar could only attach once the app runs, and an app that
//! dies at once would be gone before it arrived.
//!
//! Steps:
//! 0. not dumpable: the app runs as the same uid and must neither trace
//!    nor read the process that writes the report;
//! 1. start the command traced, its stdout and stderr into pipes (their
//!    last lines are the log doctor reads), stdin from /dev/null as
//!    `docker run` without `-i` gives it;
//! 2. once it runs, hold no capabilities (a root image's toolbox starts
//!    with the engine's set, which the trace does not need);
//! 3. follow it until every awaited port listens, it exits, or the time
//!    is up;
//! 4. run the doctor checks on what is there and what was seen, while
//!    the app still runs (its threads wait at their next system call);
//! 5. kill and reap everything it started, print one JSON document.
//!
//! The report is this process's stdout; the app's output never reaches
//! it, and as PID 1 of its namespace this process gets no signal the app
//! sends it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::unistd::Pid;

use crate::diagnosis::checks;
use crate::diagnosis::watched::{CallCounter, Ending, LogTail, Watched};
use crate::shell::Ctx;
use crate::sys::{self, Credentials, RealCredentials};
use crate::target::info::TargetInfo;
use crate::target::procinfo::Proc;
use crate::target::procnet::{self, Proto, State};
use crate::toolbox::identity::{Identity, Source as IdSource};
use crate::toolbox::join::View;
use crate::trace::{End, Observer, Tracer, decode};

/// How often the listening ports are looked at, at most.
const PORT_POLL: Duration = Duration::from_millis(50);
/// How often the app's output is read, at most (its pipes hold 1 MiB).
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// What the host asks for (see `nosh watch --help`).
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Give up waiting after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub duration_ms: u64,
    /// A port to wait for, as `8080/tcp` or `53/udp` (repeated).
    #[arg(long = "port", value_name = "PORT/PROTO")]
    pub ports: Vec<String>,
    /// Judge as hardened production runs it (the container is started so).
    #[arg(long)]
    pub prod_like: bool,
    /// The app's command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub fn main(args: WatchArgs) -> std::process::ExitCode {
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nosh: {e}");
            std::process::ExitCode::from(crate::EXIT_NOSH_FAILED)
        }
    }
}

fn run(args: &WatchArgs) -> Result<(), String> {
    // 0.
    sys::set_not_dumpable().map_err(|e| e.to_string())?;
    let info: TargetInfo = std::env::var(crate::target::info::TARGET_INFO_ENV)
        .ok()
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    // SAFETY: single-threaded; the app must not inherit nosh's variables.
    unsafe {
        std::env::remove_var(crate::target::info::TARGET_INFO_ENV);
        crate::term::escape::take_host_terminal_env();
    }
    sys::set_child_subreaper().map_err(|e| e.to_string())?;
    let awaited: Vec<(u16, bool)> = args.ports.iter().filter_map(|p| parse_port(p)).collect();
    let started = Instant::now();
    let deadline = started + Duration::from_millis(args.duration_ms);

    // 1.
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    // A command of its own for each try: a refused trace leaves its
    // PTRACE_TRACEME on the first.
    let command = || -> io::Result<Command> {
        let mut cmd = Command::new(&args.command[0]);
        cmd.args(&args.command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_write.try_clone()?))
            .stderr(Stdio::from(err_write.try_clone()?));
        Ok(cmd)
    };
    let mut calls = CallCounter::default();
    let mut watch = Watch {
        outputs: vec![File::from(out_read), File::from(err_read)],
        log: LogTail::default(),
        deadline,
        awaited,
        last_poll: None,
        last_drain: None,
        ready: false,
    };
    let mut watched = Watched {
        awaited: args.ports.clone(),
        ..Watched::default()
    };
    let tracer = match command().and_then(|mut cmd| Tracer::start_with(&mut cmd, true)) {
        Ok(t) => Some(t),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            // Tracing refused (a seccomp profile without ptrace): start it
            // untraced, and say so.
            watched.trace_missing = Some(format!("the kernel refused to trace the app ({e})"));
            None
        }
        Err(e) => return not_started(args, &info, watched, &e, started),
    };
    let child = match tracer {
        Some(_) => None,
        None => match command().and_then(|mut cmd| cmd.spawn()) {
            Ok(c) => Some(c),
            Err(e) => return not_started(args, &info, watched, &e, started),
        },
    };
    // The parent's copies of the pipes' write ends: the app holds its own,
    // and the pipes end when it and its children are gone.
    drop((out_write, err_write));
    for f in &watch.outputs {
        let _ = fcntl(f, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        // Room for a chatty start while calls are decoded (best effort).
        let _ = fcntl(f, FcntlArg::F_SETPIPE_SZ(1 << 20));
    }
    watched.app_pid = tracer
        .as_ref()
        .map(|t| t.leader().as_raw())
        .or_else(|| child.as_ref().map(|c| c.id() as i32))
        .unwrap_or(0);

    // 2.
    drop_capabilities()?;

    // 3., then 4. while the app is still there, then 5.
    let report = match (tracer, child) {
        (Some(mut tracer), _) => {
            let result = tracer.run(&mut Observe {
                watch: &mut watch,
                calls: &mut calls,
            });
            let end = result.map_err(|e| format!("tracing the app failed: {e}"))?;
            let report = watch.report(args, &info, &mut watched, end, calls, started);
            // The app is this process's own child: it is killed, and every
            // thread of it reports.
            tracer.finish(FINISH_BUDGET);
            report
        }
        (None, Some(mut child)) => {
            let end = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    use std::os::unix::process::ExitStatusExt;
                    let code = status
                        .code()
                        .or_else(|| status.signal().map(|s| 128 + s))
                        .unwrap_or(1);
                    break End::Exited(code);
                }
                if let Some(end) = watch.poll() {
                    break end;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let report = watch.report(args, &info, &mut watched, end, calls, started);
            let _ = child.kill();
            let _ = child.wait();
            report
        }
        (None, None) => unreachable!("the app was started traced or untraced"),
    };
    super::reaper::reap_all();
    let mut stdout = io::stdout().lock();
    serde_json::to_writer(&mut stdout, &report).map_err(|e| e.to_string())?;
    writeln!(stdout).map_err(|e| e.to_string())?;
    Ok(())
}

/// How long the end of the trace may wait for the app's threads.
const FINISH_BUDGET: Duration = Duration::from_secs(1);

/// The trace loop's view of the watch: failed calls are counted, and the
/// watch's poll says when to stop.
struct Observe<'a> {
    watch: &'a mut Watch,
    calls: &'a mut CallCounter,
}

impl Observer for Observe<'_> {
    fn wants(&self, _pid: Pid, name: &str, errno: Option<i32>) -> bool {
        errno.is_some_and(|e| !decode::routine(name, e))
    }

    fn call(&mut self, event: decode::Event) -> io::Result<()> {
        self.calls.add(&event);
        Ok(())
    }

    fn stop(&mut self) -> Option<End> {
        self.watch.poll()
    }
}

/// The app's outputs and what ends the watch.
struct Watch {
    outputs: Vec<File>,
    log: LogTail,
    deadline: Instant,
    /// (port, udp).
    awaited: Vec<(u16, bool)>,
    last_poll: Option<Instant>,
    last_drain: Option<Instant>,
    ready: bool,
}

impl Watch {
    /// Called between trace events and at least every 100 ms: reads the
    /// app's output, and says whether to stop (the time is up, or every
    /// awaited port listens).
    fn poll(&mut self) -> Option<End> {
        // Between the events of a busy app, not after each one.
        if self.last_drain.is_none_or(|t| t.elapsed() >= DRAIN_EVERY) {
            self.last_drain = Some(Instant::now());
            drain(&mut self.outputs, &mut self.log);
        }
        if Instant::now() >= self.deadline {
            return Some(End::TimedOut);
        }
        if !self.awaited.is_empty() && self.last_poll.is_none_or(|t| t.elapsed() >= PORT_POLL) {
            self.last_poll = Some(Instant::now());
            if all_listening(&self.awaited) {
                self.ready = true;
                return Some(End::Interrupted);
            }
        }
        None
    }

    fn report(
        &mut self,
        args: &WatchArgs,
        info: &TargetInfo,
        watched: &mut Watched,
        end: End,
        calls: CallCounter,
        started: Instant,
    ) -> serde_json::Value {
        watched.ending = match end {
            End::Exited(_) => Ending::Exited,
            _ if self.ready => Ending::Ready,
            _ => Ending::TimedOut,
        };
        watched.exit_code = match end {
            End::Exited(code) => Some(code),
            _ => None,
        };
        drain(&mut self.outputs, &mut self.log);
        let log = std::mem::take(&mut self.log);
        finish_watch(args, info, watched, log, calls, started)
    }
}

/// The command could not be executed: as the engine does for a container
/// whose command is missing (exit 127) or not executable (exit 126), with
/// the runtime's kind of message as the app's last line.
fn not_started(
    args: &WatchArgs,
    info: &TargetInfo,
    mut watched: Watched,
    err: &io::Error,
    started: Instant,
) -> Result<(), String> {
    let program = &args.command[0];
    let (code, why) = match err.kind() {
        io::ErrorKind::NotFound if program.contains('/') => {
            (127, "no such file or directory".to_string())
        }
        io::ErrorKind::NotFound => (127, "executable file not found in $PATH".to_string()),
        io::ErrorKind::PermissionDenied => (126, "permission denied".to_string()),
        _ => (127, crate::builtins::util::io_error(err)),
    };
    watched.ending = Ending::NotStarted;
    watched.exit_code = Some(code);
    let mut log = LogTail::default();
    log.push(format!("exec: \"{program}\": {why}\n").as_bytes());
    let report = finish_watch(
        args,
        info,
        &mut watched,
        log,
        CallCounter::default(),
        started,
    );
    let mut stdout = io::stdout().lock();
    serde_json::to_writer(&mut stdout, &report).map_err(|e| e.to_string())?;
    writeln!(stdout).map_err(|e| e.to_string())
}

/// Step 4: the doctor checks, with the target information completed by
/// what the watch saw, as one JSON document.
fn finish_watch(
    args: &WatchArgs,
    info: &TargetInfo,
    watched: &mut Watched,
    log: LogTail,
    calls: CallCounter,
    started: Instant,
) -> serde_json::Value {
    watched.log_tail = log.finish();
    let (failed, dropped) = calls.finish();
    watched.failed_calls = failed;
    watched.calls_dropped = dropped;
    watched.listening = listening();
    watched.seconds = started.elapsed().as_secs_f64();
    let mut info = info.clone();
    info.log_tail = watched.log_tail.clone();
    info.replica = false;
    match watched.exit_code {
        Some(code) => {
            info.state = "exited".into();
            info.exit_code = i64::from(code);
            // Seen ending by the watch itself: the checks take the code as
            // the run's (a code of unknown source is no crash to them).
            info.exit_code_source = "wait".into();
        }
        None => {
            info.state = "running".into();
            info.exit_code = 0;
            info.exit_code_source.clear();
        }
    }
    let identity = Identity {
        uid: nix::unistd::getuid(),
        gid: nix::unistd::getgid(),
        groups: nix::unistd::getgroups().unwrap_or_default(),
    };
    let ctx = Ctx::new(
        info.clone(),
        watched.app_pid,
        View::Joined,
        identity,
        IdSource::Target,
    );
    let findings = checks::findings(&ctx, args.prod_like, Some(watched));
    serde_json::json!({
        "target": info.display_name(),
        "image": info.image,
        "prod_like": args.prod_like,
        "findings": findings,
        "run": watched,
    })
}

/// Step 2: no effective, permitted, inheritable or ambient capability
/// left (the bounding set stays: it is only read at an exec, and this
/// process execs nothing), checked from `/proc/self/status`.
fn drop_capabilities() -> Result<(), String> {
    let mut creds = RealCredentials;
    creds
        .clear_ambient_set()
        .and_then(|()| creds.clear_capabilities())
        .map_err(|e| crate::toolbox::report(&e))?;
    let status = Proc::default()
        .status(std::process::id() as i32)
        .map_err(|e| format!("cannot read this process's status: {e}"))?;
    let left = status.cap_eff | status.cap_prm | status.cap_inh | status.cap_amb;
    if left != 0 {
        return Err(format!(
            "capabilities remain after the drop: {}",
            crate::target::procinfo::cap_names(left).join(",")
        ));
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("cannot make a pipe: {e}"))
}

/// Reads what the app wrote so far, without blocking.
fn drain(outputs: &mut [File], log: &mut LogTail) {
    let mut buf = [0u8; 16 * 1024];
    for f in outputs.iter_mut() {
        // A bound on one round: a flood must not keep the watch from
        // looking at the clock.
        for _ in 0..64 {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => log.push(&buf[..n]),
                Err(_) => break,
            }
        }
    }
}

/// `8080/tcp` → (8080, udp=false); a port without protocol is TCP.
fn parse_port(spec: &str) -> Option<(u16, bool)> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    Some((port.parse().ok()?, proto.eq_ignore_ascii_case("udp")))
}

/// The sockets listening (TCP) or bound (UDP) in this network namespace.
fn sockets() -> Vec<(Proto, String, u16)> {
    let mut out = Vec::new();
    for (file, proto) in [
        ("tcp", Proto::Tcp),
        ("tcp6", Proto::Tcp6),
        ("udp", Proto::Udp),
        ("udp6", Proto::Udp6),
    ] {
        let path = std::path::Path::new("/proc/net").join(file);
        let text = procnet::read_file(&path).unwrap_or_default();
        for s in procnet::parse_inet(&text, proto) {
            let open = if proto.is_tcp() {
                s.state == State::Listen
            } else {
                s.remote_port == 0
            };
            if open {
                out.push((proto, s.local.to_string(), s.local_port));
            }
        }
    }
    out
}

fn all_listening(awaited: &[(u16, bool)]) -> bool {
    let open = sockets();
    awaited.iter().all(|(port, udp)| {
        open.iter()
            .any(|(proto, _, p)| p == port && proto.is_udp() == *udp)
    })
}

/// `tcp 0.0.0.0:8080`, `udp6 [::]:53`: what listens now.
fn listening() -> Vec<String> {
    let mut out: Vec<String> = sockets()
        .into_iter()
        .map(|(proto, ip, port)| {
            if ip.contains(':') {
                format!("{} [{ip}]:{port}", proto.name())
            } else {
                format!("{} {ip}:{port}", proto.name())
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awaited_ports_parse_with_and_without_protocol() {
        assert_eq!(parse_port("8080/tcp"), Some((8080, false)));
        assert_eq!(parse_port("53/UDP"), Some((53, true)));
        assert_eq!(parse_port("443"), Some((443, false)));
        assert_eq!(parse_port("http"), None);
    }

    #[test]
    fn draining_reads_what_is_there_and_never_blocks() {
        let (r, w) = pipe().unwrap();
        let mut writer = File::from(w);
        writer.write_all(b"one\ntwo\npart").unwrap();
        let reader = File::from(r);
        fcntl(&reader, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        let mut outputs = [reader];
        let mut log = LogTail::default();
        drain(&mut outputs, &mut log);
        drain(&mut outputs, &mut log);
        assert_eq!(log.finish(), ["one", "two", "part"]);
    }
}
