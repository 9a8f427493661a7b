//! The tracer behind `trace` and `entrypoint --test --trace`: ptrace(2) as
//! the app's own uid with no capabilities, which the kernel allows for a
//! dumpable process of the same uid (and for the shell's own children).
//!
//! Two ways in:
//! - [`Tracer::attach`] seizes every thread of a running process
//!   (`PTRACE_SEIZE`, never `PTRACE_O_EXITKILL`: if this shell dies, the
//!   kernel detaches and the app keeps running) and [`Tracer::finish`]
//!   detaches each thread from a ptrace-stop, so none is left stopped;
//! - [`Tracer::start`] runs a program under `PTRACE_TRACEME` with
//!   `PTRACE_O_EXITKILL`: it dies with the shell, as everything it starts.
//!   It stops only at the calls trace reports: the program installs the
//!   seccomp filter of [`filter`] before exec, and the tracer, woken at
//!   each seccomp stop, asks for that call's exit stop and lets it run on
//!   to the next (strace's `--seccomp-bpf`). `trace -p` cannot give a
//!   running process a filter: it stops at every call's entry and exit.
//!
//! Both follow forks, vforks and threads. The loop waits in `waitpid`, woken
//! every 100 ms by [`crate::sys::Ticker`] to look at Ctrl-C, the timeout and
//! the terminal. [`session`] runs it on a thread of its own, so that a
//! tracee that never reports (a vfork parent waiting for a child that
//! never execs) cannot hold the shell: the thread gives up on it and exits,
//! and the kernel detaches what that thread still traced.

mod arch;
pub mod consts;
pub mod decode;
pub mod errno;
pub mod filter;
pub mod ldso;
mod names_x86_64;
pub mod session;
pub mod summary;

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event as PtraceEvent, Options};
use nix::sys::signal::Signal;
use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use decode::{Event, Memory};

/// What the loop asks of whoever follows the trace.
pub trait Observer {
    /// Whether the call `name` of `pid`, which failed with `errno` (None:
    /// it succeeded), is worth decoding.
    fn wants(&self, pid: Pid, name: &str, errno: Option<i32>) -> bool;
    /// A decoded call. An error ends the trace.
    fn call(&mut self, event: Event) -> io::Result<()>;
    /// Looked at about every 100 ms: Some ends the trace.
    fn stop(&mut self) -> Option<End>;
}

/// `waitpid` for this thread's tracees only: another thread of the shell
/// (a pipeline stage) may have children of its own.
fn wait_flags() -> WaitPidFlag {
    WaitPidFlag::__WALL | WaitPidFlag::__WNOTHREAD
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("no process {0} in the target")]
    NoProcess(i32),
    /// The kernel said no; the text says why and what would allow it.
    #[error("{0}")]
    Refused(String),
    #[error("failed to {op}")]
    Call {
        op: &'static str,
        #[source]
        source: Errno,
    },
    /// The program could not be started traced, or the tracing thread not
    /// at all.
    #[error("failed to start the trace")]
    Start(#[source] io::Error),
    /// Following the tracees failed.
    #[error("failed to follow the traced process")]
    Follow(#[source] io::Error),
    /// Whoever took the trace's lines failed to (a closed pipe, a full disk).
    #[error("failed to write the trace")]
    Output(#[source] io::Error),
}

/// Why a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Interrupted,
    TimedOut,
    /// The terminal went away: the session is over.
    SessionEnded,
    /// The traced process (the one attached to, or the program started)
    /// exited with this status (128 + N for signal N).
    Exited(i32),
    /// Whoever read the trace stopped reading (a closed pipe).
    OutputClosed,
    /// The caller's own condition (a port listening, ...) was met.
    Done,
}

impl End {
    /// How the end reads in a sentence and in JSON.
    pub fn how(self) -> &'static str {
        match self {
            End::Interrupted => "interrupted",
            End::TimedOut => "timed out",
            End::SessionEnded => "session ended",
            End::Exited(_) => "exited",
            End::OutputClosed => "output closed",
            End::Done => "done",
        }
    }
}

/// Reads a stopped tracee's memory with process_vm_readv(2): one copy, no
/// ptrace round trip per word. Where a seccomp profile refuses it (Docker
/// 20.10's default allows process_vm_readv only with CAP_SYS_PTRACE, ptrace
/// itself on any kernel from 4.8), word by word with `PTRACE_PEEKDATA`,
/// which the tracer of a stopped tracee may always use.
struct ProcMemory(Pid);

/// process_vm_readv was refused once: do not ask again.
static VM_READV_REFUSED: AtomicBool = AtomicBool::new(false);

impl ProcMemory {
    fn vm_readv(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        // Split at the page boundary: a string that ends just before an
        // unmapped page must still be read.
        let page = 4096u64;
        let first = ((page - addr % page) as usize).min(len);
        let mut buf = vec![0u8; len];
        let (a, b) = buf.split_at_mut(first);
        let mut local = [IoSliceMut::new(a), IoSliceMut::new(b)];
        let mut remote = vec![RemoteIoVec {
            base: addr as usize,
            len: first,
        }];
        if len > first {
            remote.push(RemoteIoVec {
                base: (addr + first as u64) as usize,
                len: len - first,
            });
        }
        let n = process_vm_readv(self.0, &mut local[..remote.len()], &remote)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Up to `len` bytes a word at a time, stopping after a NUL if asked.
    fn peek(&self, addr: u64, len: usize, to_nul: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < len {
            let Ok(word) = ptrace::read(self.0, at as ptrace::AddressType) else {
                break;
            };
            let bytes = word.to_ne_bytes();
            let take = bytes.len().min(len - out.len());
            out.extend_from_slice(&bytes[..take]);
            if to_nul && bytes[..take].contains(&0) {
                break;
            }
            at += bytes.len() as u64;
        }
        out
    }

    fn read_some(&self, addr: u64, len: usize, to_nul: bool) -> Option<Vec<u8>> {
        if addr == 0 || len == 0 {
            return None;
        }
        if !VM_READV_REFUSED.load(Ordering::Relaxed) {
            match self.vm_readv(addr, len) {
                Ok(b) if b.is_empty() => return None,
                Ok(b) => return Some(b),
                Err(Errno::EPERM | Errno::ENOSYS) => {
                    VM_READV_REFUSED.store(true, Ordering::Relaxed);
                }
                Err(_) => return None,
            }
        }
        let b = self.peek(addr, len, to_nul);
        (!b.is_empty()).then_some(b)
    }
}

impl Memory for ProcMemory {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        self.read_some(addr, len, false)
    }

    fn string(&self, addr: u64) -> Option<(Vec<u8>, bool)> {
        let mut bytes = self.read_some(addr, decode::MAX_STRING, true)?;
        match bytes.iter().position(|b| *b == 0) {
            Some(end) => {
                bytes.truncate(end);
                Some((bytes, false))
            }
            None => Some((bytes, true)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Thread {
    /// Between a syscall-enter and its syscall-exit stop.
    in_syscall: bool,
    /// A tracee auto-attached under `PTRACE_TRACEME` starts with a SIGSTOP
    /// that is the kernel's, not the program's: it is not delivered.
    fresh: bool,
}

/// Every ptrace event the tracer asks for. TRACEEXEC replaces the SIGTRAP
/// an exec would otherwise send.
fn options() -> Options {
    Options::PTRACE_O_TRACESYSGOOD
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEEXEC
}

fn is_stop_signal(sig: Signal) -> bool {
    matches!(
        sig,
        Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
    )
}

pub struct Tracer {
    threads: HashMap<Pid, Thread>,
    /// The process attached to or started.
    leader: Pid,
    /// Started by this shell: killed, not detached, at the end.
    owned: bool,
    ended: Option<End>,
    /// `net.ipv4.ip_unprivileged_port_start` as the tracee sees it, read
    /// at the first failed bind.
    port_start: Option<u16>,
    /// The tracees run under [`filter`]: resumed with `PTRACE_CONT` up to
    /// the next seccomp stop, rather than with `PTRACE_SYSCALL`.
    filtered: bool,
    /// The stops the loop was woken by.
    stops: u64,
}

/// The thread ids of process `pid`.
fn tasks(pid: Pid) -> io::Result<Vec<Pid>> {
    let mut out: Vec<Pid> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .map(Pid::from_raw)
        .collect();
    out.sort();
    Ok(out)
}

fn status_field(status: &str, key: &str) -> Option<String> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

/// Why the kernel refused to trace `pid`, and what would allow it, from
/// what this shell can see: the tracee's ids, tracer and dumpability, Yama,
/// and our own seccomp filter.
pub fn explain_refusal(pid: Pid, err: Errno) -> TraceError {
    if err == Errno::ESRCH {
        return TraceError::NoProcess(pid.as_raw());
    }
    let me = nix::unistd::geteuid().as_raw();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    if let Some(tracer) = status_field(&status, "TracerPid").filter(|t| t != "0") {
        return TraceError::Refused(format!(
            "pid {pid} is already traced by pid {tracer} (a debugger or another trace): a process has one tracer at a time"
        ));
    }
    let uids: Vec<u32> = status_field(&status, "Uid")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|u| u.parse().ok())
        .collect();
    if let Some(&uid) = uids.first()
        && uids.iter().take(3).any(|u| *u != me)
    {
        return TraceError::Refused(format!(
            "pid {pid} runs as uid {} and this shell is uid {me} with no capabilities: ptrace needs the same real, effective and saved uid (open the session with `--user {uid}`)",
            uids.iter()
                .take(3)
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("/")
        ));
    }
    // The files of /proc/PID belong to root while it is not dumpable.
    let owner = std::fs::metadata(format!("/proc/{pid}/stat")).map(|m| m.uid());
    if owner.is_ok_and(|o| o == 0) && uids.first().is_some_and(|u| *u != 0) {
        return TraceError::Refused(format!(
            "pid {pid} is not dumpable (it called prctl(PR_SET_DUMPABLE, 0) or changed its identity): the kernel lets only CAP_SYS_PTRACE trace it, which this shell dropped; start the program under `trace --` instead, or trace from the host as root"
        ));
    }
    match std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
    {
        Some(1) => {
            return TraceError::Refused(format!(
                "Yama's ptrace_scope is 1 on this host: only an ancestor of pid {pid} may trace it; `sysctl kernel.yama.ptrace_scope=0` on the host allows it, and `trace -- PROGRAM` works as it is"
            ));
        }
        Some(2) => {
            return TraceError::Refused(
                "Yama's ptrace_scope is 2 on this host: only CAP_SYS_PTRACE may trace, which this shell dropped; `sysctl kernel.yama.ptrace_scope=0` on the host allows it".into(),
            );
        }
        Some(3) => {
            return TraceError::Refused(
                "Yama's ptrace_scope is 3 on this host: ptrace is disabled until the next reboot"
                    .into(),
            );
        }
        _ => {}
    }
    let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if err == Errno::EPERM && status_field(&own, "Seccomp").is_some_and(|s| s != "0") {
        return TraceError::Refused(format!(
            "the kernel refused to trace pid {pid} ({}); this shell runs under a seccomp filter, which may refuse ptrace: Docker's default profile allows it on kernels 4.8 and newer, a custom profile (--security-opt seccomp=...) must allow ptrace",
            err.desc()
        ));
    }
    TraceError::Refused(format!(
        "the kernel refused to trace pid {pid}: {}",
        err.desc()
    ))
}

impl Tracer {
    /// Seize every thread of `pid` and stop each once, so that the next
    /// resume can ask for syscall stops. Threads born while this runs are
    /// caught by TRACECLONE or by the next listing.
    pub fn attach(pid: Pid) -> Result<Tracer, TraceError> {
        let mut t = Tracer {
            threads: HashMap::new(),
            leader: pid,
            owned: false,
            ended: None,
            port_start: None,
            filtered: false,
            stops: 0,
        };
        loop {
            let Ok(tids) = tasks(pid) else {
                if t.threads.is_empty() {
                    return Err(TraceError::NoProcess(pid.as_raw()));
                }
                break;
            };
            let mut new = 0;
            for tid in tids {
                if t.threads.contains_key(&tid) {
                    continue;
                }
                match ptrace::seize(tid, options()) {
                    Ok(()) => {
                        // ESRCH: it exits; its exit is reported all the same.
                        let _ = ptrace::interrupt(tid);
                        t.threads.insert(
                            tid,
                            Thread {
                                in_syscall: false,
                                fresh: false,
                            },
                        );
                        new += 1;
                    }
                    Err(Errno::ESRCH) => {}
                    Err(e) => {
                        t.finish(session::FINISH_BUDGET);
                        return Err(explain_refusal(tid, e));
                    }
                }
            }
            if new == 0 {
                break;
            }
        }
        if t.threads.is_empty() {
            return Err(TraceError::NoProcess(pid.as_raw()));
        }
        Ok(t)
    }

    /// The number of threads traced now.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Start `cmd` traced, stopping only at the calls trace reports where
    /// the kernel allows it (see [`Tracer::start_with`]).
    pub fn start(cmd: &mut Command) -> io::Result<Tracer> {
        Self::start_with(cmd, false)
    }

    /// Start `cmd` traced from its exec on, with its forks. `every_call`,
    /// or a kernel older than 4.8: stopped at every call's entry and exit.
    /// Otherwise under [`filter`]: stopped at the reported calls only.
    ///
    /// The filter must be installed after the tracer has set
    /// `PTRACE_O_TRACESECCOMP` (without it, a traced call fails with
    /// ENOSYS), so the child stops once before exec: it asks to be traced,
    /// closes its descriptors from 3 on (all close-on-exec: a command of
    /// [`crate::toolbox::spawn`] inherits only 0-2; this closes the pipe
    /// `spawn` waits on, which exec would have closed), stops itself with
    /// SIGSTOP, and once resumed installs the filter and execs. The
    /// tracer follows it from its SIGSTOP to the end of its exec with
    /// syscall stops, and sees there whether the filter took (seccomp(2)
    /// returned 0) and whether the exec failed: libc may try several
    /// (a PATH search, a script without `#!` run by /bin/sh), so the
    /// first other call after a failed exec means it gave up; the program
    /// is killed there, before it writes to the closed pipe, and the
    /// error returned.
    pub fn start_with(cmd: &mut Command, every_call: bool) -> io::Result<Tracer> {
        if every_call || !filter::supported() {
            return Self::start_every_call(cmd);
        }
        let program = filter::program();
        // SAFETY: runs in the forked child before exec: ptrace, close_range
        // (or close), kill and seccomp are plain system calls
        // (async-signal-safe), and the program was built before the fork.
        unsafe {
            cmd.pre_exec(move || {
                ptrace::traceme().map_err(io::Error::from)?;
                // From here on an error must not be returned: the pipe it
                // would be written to is closed.
                close_from_3();
                let _ = nix::sys::signal::raise(Signal::SIGSTOP);
                let _ = filter::install(&program);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pid = Pid::from_raw(child.id() as i32);
        let not_started = || io::Error::other("the program exited before it could be traced");
        loop {
            match waitpid(pid, Some(wait_flags())) {
                Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) => break,
                Ok(WaitStatus::Stopped(_, sig)) => {
                    let _ = ptrace::cont(pid, Some(sig));
                }
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => return Err(not_started()),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let killed = |e: io::Error| {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            while let Ok(s) = waitpid(pid, Some(wait_flags())) {
                if matches!(s, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
                    break;
                }
            }
            e
        };
        let opts = options() | Options::PTRACE_O_EXITKILL | Options::PTRACE_O_TRACESECCOMP;
        if let Err(e) = ptrace::setoptions(pid, opts) {
            return Err(killed(e.into()));
        }
        ptrace::syscall(pid, None)?;
        // From the SIGSTOP to the end of the exec.
        let (mut in_syscall, mut filtered, mut execed) = (false, false, false);
        let mut exec_error: Option<i32> = None;
        loop {
            let status = match waitpid(pid, Some(wait_flags())) {
                Ok(s) => s,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(killed(e.into())),
            };
            match status {
                WaitStatus::PtraceSyscall(_) => {
                    in_syscall = !in_syscall;
                    let Ok(call) = arch::exit_call(pid) else {
                        let _ = ptrace::syscall(pid, None);
                        continue;
                    };
                    let exec = matches!(call.nr as i64, libc::SYS_execve | libc::SYS_execveat);
                    if in_syscall {
                        if let Some(e) = exec_error.filter(|_| !exec) {
                            return Err(killed(io::Error::from_raw_os_error(e)));
                        }
                    } else if exec && execed {
                        break;
                    } else if exec {
                        // As libc's execvp reports a PATH search: EACCES if
                        // any attempt got it, else the last error.
                        if exec_error != Some(libc::EACCES) {
                            exec_error = call.errno();
                        }
                    } else if call.nr as i64 == libc::SYS_seccomp && call.ret == 0 {
                        filtered = true;
                    }
                    let _ = ptrace::syscall(pid, None);
                }
                WaitStatus::PtraceEvent(_, _, ev) => {
                    if ev == PtraceEvent::PTRACE_EVENT_EXEC as i32 {
                        execed = true;
                    }
                    let _ = ptrace::syscall(pid, None);
                }
                WaitStatus::Stopped(_, sig) => {
                    // The exec failed for good: the child, whose error
                    // pipe is closed, is about to abort.
                    if let Some(e) = exec_error {
                        return Err(killed(io::Error::from_raw_os_error(e)));
                    }
                    let _ = ptrace::syscall(pid, Some(sig));
                }
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                    return Err(exec_error.map_or_else(not_started, io::Error::from_raw_os_error));
                }
                _ => {}
            }
        }
        if filtered {
            ptrace::cont(pid, None)?;
        } else {
            ptrace::syscall(pid, None)?;
        }
        Ok(Tracer::of_started(pid, filtered))
    }

    /// The tracer of a program it started: `pid` alone, owned (killed
    /// if still running at the end), `filtered` when the program runs
    /// under trace's seccomp filter.
    fn of_started(pid: Pid, filtered: bool) -> Tracer {
        let mut threads = HashMap::new();
        threads.insert(
            pid,
            Thread {
                in_syscall: false,
                fresh: false,
            },
        );
        Tracer {
            threads,
            leader: pid,
            owned: true,
            ended: None,
            port_start: None,
            filtered,
            stops: 0,
        }
    }

    /// Start `cmd` traced from its first instruction after exec: the child
    /// asks to be traced (PTRACE_TRACEME) before exec, stops with the
    /// exec's SIGTRAP, and gets the options here, EXITKILL included.
    fn start_every_call(cmd: &mut Command) -> io::Result<Tracer> {
        // SAFETY: runs in the forked child before exec; ptrace(TRACEME) is
        // a plain system call (async-signal-safe).
        unsafe {
            cmd.pre_exec(|| ptrace::traceme().map_err(io::Error::from));
        }
        let child = cmd.spawn()?;
        let pid = Pid::from_raw(child.id() as i32);
        loop {
            match waitpid(pid, Some(wait_flags())) {
                Ok(WaitStatus::Stopped(_, _)) => break,
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => {
                    return Err(io::Error::other(
                        "the program exited before it could be traced",
                    ));
                }
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        ptrace::setoptions(pid, options() | Options::PTRACE_O_EXITKILL)?;
        ptrace::syscall(pid, None)?;
        Ok(Tracer::of_started(pid, false))
    }

    pub fn leader(&self) -> Pid {
        self.leader
    }

    /// Started by this shell (killed at the end), not attached to.
    pub fn started(&self) -> bool {
        self.owned
    }

    /// Stopped at the reported calls only (under [`filter`]).
    pub fn filtered(&self) -> bool {
        self.filtered
    }

    /// How many stops the trace has been woken by so far.
    pub fn stops(&self) -> u64 {
        self.stops
    }

    /// Follow the tracees until the observer says stop or the traced
    /// process exits.
    pub fn run(&mut self, obs: &mut dyn Observer) -> io::Result<End> {
        let _ticker =
            crate::sys::Ticker::start(Duration::from_millis(100)).map_err(io::Error::other)?;
        let mut seen = crate::sys::Ticker::ticks();
        if let Some(end) = obs.stop() {
            return Ok(end);
        }
        loop {
            if let Some(end) = self.ended {
                return Ok(end);
            }
            // A busy tracee keeps waitpid from ever blocking: look at the
            // clock and Ctrl-C once per tick, not once per call.
            let now = crate::sys::Ticker::ticks();
            if now != seen {
                seen = now;
                if let Some(end) = obs.stop() {
                    return Ok(end);
                }
            }
            let status = match waitpid(None::<Pid>, Some(wait_flags())) {
                Ok(s) => s,
                Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => {
                    self.threads.clear();
                    return Ok(End::Exited(0));
                }
                Err(e) => return Err(e.into()),
            };
            self.stops += 1;
            self.handle(status, obs)?;
        }
    }

    fn new_thread(&self) -> Thread {
        Thread {
            in_syscall: false,
            fresh: self.owned,
        }
    }

    /// Resume a tracee up to its next syscall stop; under the filter, up
    /// to its next seccomp stop unless it is inside a call (whose exit
    /// stop is wanted). ESRCH: it was killed meanwhile, and its exit is
    /// reported next.
    fn resume(&self, pid: Pid, sig: Option<Signal>) {
        let in_call = self.threads.get(&pid).is_some_and(|t| t.in_syscall);
        if self.filtered && !in_call {
            let _ = ptrace::cont(pid, sig);
        } else {
            let _ = ptrace::syscall(pid, sig);
        }
    }

    fn handle(&mut self, status: WaitStatus, obs: &mut dyn Observer) -> io::Result<()> {
        match status {
            WaitStatus::PtraceSyscall(pid) => {
                let fresh = self.new_thread();
                let th = self.threads.entry(pid).or_insert(fresh);
                th.in_syscall = !th.in_syscall;
                th.fresh = false;
                let exited_call = !th.in_syscall;
                // Resume before writing: the tracee does not wait on the
                // terminal, only on the decoding.
                let mut event = None;
                if exited_call && let Ok(call) = arch::exit_call(pid) {
                    let name = decode::name(call.nr);
                    if obs.wants(pid, &name, call.errno()) {
                        let mut e = decode::decode(pid.as_raw(), &call, &ProcMemory(pid));
                        resolve_path(pid, &mut e);
                        self.name_capability(&mut e);
                        event = Some(e);
                    }
                }
                self.resume(pid, None);
                if let Some(e) = event {
                    obs.call(e)?;
                }
            }
            WaitStatus::PtraceEvent(pid, sig, ev) => {
                let fresh = self.new_thread();
                let th = self.threads.entry(pid).or_insert(fresh);
                th.fresh = false;
                if ev == PtraceEvent::PTRACE_EVENT_FORK as i32
                    || ev == PtraceEvent::PTRACE_EVENT_VFORK as i32
                    || ev == PtraceEvent::PTRACE_EVENT_CLONE as i32
                {
                    if let Ok(new) = ptrace::getevent(pid) {
                        let fresh = self.new_thread();
                        self.threads
                            .entry(Pid::from_raw(new as i32))
                            .or_insert(fresh);
                    }
                } else if ev == PtraceEvent::PTRACE_EVENT_EXEC as i32 {
                    // A thread other than the leader exec'd: it now has the
                    // leader's id, and is inside execve.
                    if let Ok(former) = ptrace::getevent(pid) {
                        let former = Pid::from_raw(former as i32);
                        if former != pid {
                            self.threads.remove(&former);
                        }
                    }
                    th_set(&mut self.threads, pid, true);
                } else if ev == PtraceEvent::PTRACE_EVENT_SECCOMP as i32 {
                    // A reported call's entry: on to its exit stop.
                    th_set(&mut self.threads, pid, true);
                } else if ev == PtraceEvent::PTRACE_EVENT_STOP as i32 && is_stop_signal(sig) {
                    // A group-stop (someone sent SIGSTOP): stay stopped.
                    let _ = crate::sys::ptrace_listen(pid);
                    return Ok(());
                }
                self.resume(pid, None);
            }
            WaitStatus::Stopped(pid, sig) => {
                let fresh = self.new_thread();
                let th = self.threads.entry(pid).or_insert(fresh);
                if th.fresh && sig == Signal::SIGSTOP {
                    th.fresh = false;
                    self.resume(pid, None);
                    return Ok(());
                }
                th.fresh = false;
                // Not seized (a started program): a group-stop looks like a
                // SIGSTOP delivery, except that it has no siginfo.
                if self.owned && is_stop_signal(sig) && ptrace::getsiginfo(pid).is_err() {
                    self.resume(pid, None);
                    return Ok(());
                }
                self.resume(pid, Some(sig));
            }
            WaitStatus::Exited(pid, code) => self.gone(pid, code),
            WaitStatus::Signaled(pid, sig, _) => self.gone(pid, 128 + sig as i32),
            _ => {}
        }
        Ok(())
    }

    fn gone(&mut self, pid: Pid, code: i32) {
        self.threads.remove(&pid);
        if pid == self.leader {
            self.ended = Some(End::Exited(code));
        }
    }

    /// The capability a failed privileged call lacked, if that is why it
    /// failed (see [`crate::diagnosis::privileged`]).
    fn name_capability(&mut self, e: &mut Event) {
        let Some(errno) = e.errno_number() else {
            return;
        };
        let port = e.port;
        if e.syscall == "bind" && port.is_some() && self.port_start.is_none() {
            self.port_start = Some(crate::diagnosis::privileged::unprivileged_port_start());
        }
        e.capability = crate::diagnosis::privileged::needed(
            &e.syscall,
            errno,
            &crate::diagnosis::privileged::Call {
                args: e.raw,
                port,
                port_start: self.port_start.unwrap_or(1024),
            },
        )
        .map(|n| n.capability);
    }

    /// End the trace within `budget`. A started program and everything it
    /// started are killed and reaped. An attached process is detached
    /// thread by thread: each is interrupted, and detached from the
    /// ptrace-stop it reports, with the signal it was about to get, so that
    /// it runs on as if it had never been traced.
    ///
    /// A thread that never reports (uninterruptible sleep: a vfork parent
    /// whose child never execs, a hung disk) is given up on when the budget
    /// is spent: its tids are returned, and the caller's thread must then
    /// exit, which makes the kernel detach them (exit_ptrace) without ever
    /// stopping them. Never returns with a tracee left in a ptrace-stop.
    pub fn finish(mut self, budget: Duration) -> Vec<Pid> {
        if self.owned {
            for pid in self.threads.keys() {
                let _ = nix::sys::signal::kill(*pid, Signal::SIGKILL);
            }
        } else {
            for pid in self.threads.keys() {
                let _ = ptrace::interrupt(*pid);
            }
        }
        let _ticker = crate::sys::Ticker::start(Duration::from_millis(50));
        let started = Instant::now();
        let mut asked_again = false;
        while !self.threads.is_empty() {
            if started.elapsed() >= budget {
                break;
            }
            let status = match waitpid(None::<Pid>, Some(wait_flags())) {
                Ok(s) => s,
                Err(Errno::EINTR) => {
                    if !asked_again && !self.owned && started.elapsed() > budget / 3 {
                        // A thread that was leaving the kernel when first
                        // asked may have missed it: ask once more.
                        asked_again = true;
                        for pid in self.threads.keys() {
                            let _ = ptrace::interrupt(*pid);
                        }
                    }
                    continue;
                }
                Err(_) => break,
            };
            match status {
                WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _) => {
                    self.threads.remove(&pid);
                }
                _ if self.owned => {
                    // A stop of a tracee that is being killed: let it die.
                    if let Some(pid) = status.pid() {
                        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                        let _ = ptrace::cont(pid, None);
                    }
                }
                WaitStatus::PtraceEvent(pid, _, ev) => {
                    if (ev == PtraceEvent::PTRACE_EVENT_FORK as i32
                        || ev == PtraceEvent::PTRACE_EVENT_VFORK as i32
                        || ev == PtraceEvent::PTRACE_EVENT_CLONE as i32)
                        && let Ok(new) = ptrace::getevent(pid)
                    {
                        // The new tracee reports its own first stop.
                        let new = Pid::from_raw(new as i32);
                        self.threads.insert(
                            new,
                            Thread {
                                in_syscall: false,
                                fresh: false,
                            },
                        );
                        let _ = ptrace::interrupt(new);
                    }
                    let _ = ptrace::detach(pid, None);
                    self.threads.remove(&pid);
                }
                WaitStatus::PtraceSyscall(pid) => {
                    let _ = ptrace::detach(pid, None);
                    self.threads.remove(&pid);
                }
                WaitStatus::Stopped(pid, sig) => {
                    // A signal on its way: deliver it on detach.
                    let _ = ptrace::detach(pid, Some(sig));
                    self.threads.remove(&pid);
                }
                _ => {}
            }
        }
        let mut left: Vec<Pid> = self.threads.keys().copied().collect();
        left.sort();
        left
    }
}

/// Close every descriptor from 3 up. Runs between fork and exec: only
/// async-signal-safe calls, no allocation.
fn close_from_3() {
    // SAFETY: close_range takes two descriptor numbers and flags, no
    // pointers; close takes a number (EBADF for one not open).
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(1024, 1 << 20) as i32;
            for fd in 3..max {
                libc::close(fd);
            }
        }
    }
}

fn th_set(threads: &mut HashMap<Pid, Thread>, pid: Pid, in_syscall: bool) {
    if let Some(th) = threads.get_mut(&pid) {
        th.in_syscall = in_syscall;
    }
}

/// Make the path of a failed call absolute as the tracee meant it: relative
/// to its working directory or to the directory fd of an `*at` call.
fn resolve_path(pid: Pid, e: &mut Event) {
    let Some(path) = e.path.as_deref() else {
        return;
    };
    if path.starts_with('/') || path.is_empty() {
        return;
    }
    let base = match e.dirfd {
        Some(fd) if fd != libc::AT_FDCWD => format!("/proc/{pid}/fd/{fd}"),
        _ => format!("/proc/{pid}/cwd"),
    };
    if let Ok(dir) = std::fs::read_link(base)
        && let Some(dir) = dir.to_str()
        && dir.starts_with('/')
    {
        e.absolute = Some(crate::shell::normalize(&format!("{dir}/{path}")));
    }
}
