//! A whole trace, as the `trace` builtin, `entrypoint --test --trace` and
//! doctor use it: attach to a process or start a program, follow it until
//! it exits or something ends the trace, hand over each call worth showing,
//! detach.
//!
//! The tracer runs on a thread of its own, and the caller gets the calls on
//! its thread through a bounded queue:
//! - the tracer never waits on the caller's output for long: while the
//!   queue is full it keeps looking at Ctrl-C and the clock, so a stalled
//!   terminal (Ctrl-S, a pager that is not reading) cannot keep the trace,
//!   and the app, from ending;
//! - a tracee that never reports (uninterruptible sleep) cannot hold the
//!   shell: [`Tracer::finish`] gives up on it after [`FINISH_BUDGET`], the
//!   thread exits, and the kernel detaches what it still traced (ptrace(2):
//!   "If the tracer dies, all tracees are automatically detached"), without
//!   ever stopping them. Ctrl-C and `--timeout` end a trace within a
//!   second.
//!
//! [`failed_calls`] is the same trace collected into plain structs, for
//! code that wants the failures rather than a printout.

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::decode::{self, Event};
use super::filter;
use super::ldso::{Folder, LibrarySearch, Report};
use super::summary::Summary;
use super::{End, Observer, TraceError, Tracer};

/// How long the end of a trace may wait for the tracees to report before
/// it leaves the rest to the kernel.
pub const FINISH_BUDGET: Duration = Duration::from_millis(600);
/// Calls queued between the tracer and the caller.
const QUEUE: usize = 64;
/// Failed calls [`failed_calls`] keeps; the summary counts them all.
pub const MAX_FAILURES: usize = 1000;
/// Library searches [`failed_calls`] keeps.
const MAX_LIBRARIES: usize = 256;

/// What to trace.
pub enum Subject {
    /// A running process, with all its threads and the children it starts.
    Pid(Pid),
    /// A program to start traced (killed if still running at the end).
    Program(Command),
}

/// What to show and when to stop.
#[derive(Default)]
pub struct Options {
    /// Successful calls and routine failures too (`--all`).
    pub all: bool,
    /// Stop a started program at every call, as an attached process is,
    /// rather than at the calls [`super::filter`] reports only.
    pub every_call: bool,
    pub timeout: Option<Duration>,
    /// End when the shell's terminal (stdin) hangs up.
    pub watch_terminal: bool,
    /// Asked about every 100 ms: true ends the trace (`End::Done`), e.g.
    /// once the app listens.
    pub until: Option<Box<dyn FnMut() -> bool + Send>>,
}

/// The trace began.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The process attached to or started.
    pub leader: Pid,
    /// Threads traced from the start.
    pub threads: usize,
    /// A program started (rather than a process attached to).
    pub started: bool,
}

/// How a trace ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub end: End,
    pub leader: Pid,
    pub started: bool,
    /// Threads still traced when it ended (0: the traced process exited).
    pub threads: usize,
    /// Threads that never reported at the end (uninterruptible sleep): the
    /// kernel detached them when the tracing thread exited.
    pub abandoned: Vec<Pid>,
    /// The stops the tracer was woken by: one or two per reported call
    /// under the filter, two per call of any kind without.
    pub stops: u64,
    /// Stopped at the reported calls only (a program started under the
    /// seccomp filter of [`super::filter`]).
    pub filtered: bool,
}

enum Message {
    Started(Started),
    Report(Box<Report>),
}

/// Follow `subject` until it exits or `opts` end the trace: `started` is
/// called once the tracing began, `report` with each call worth showing
/// (and each library search), both on the caller's thread. An error from
/// either ends the trace (its tracees detached) and is returned as
/// [`TraceError::Output`].
pub fn follow(
    subject: Subject,
    opts: Options,
    started: &mut dyn FnMut(&Started) -> io::Result<()>,
    report: &mut dyn FnMut(Report) -> io::Result<()>,
) -> Result<Outcome, TraceError> {
    let closed = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Message>(QUEUE);
    std::thread::scope(|scope| {
        let closed = &closed;
        let tracer = std::thread::Builder::new()
            .name("trace".into())
            .spawn_scoped(scope, move || trace_thread(subject, opts, tx, closed))
            .map_err(TraceError::Start)?;
        let mut failed = None;
        for message in rx.iter() {
            let done = match message {
                Message::Started(s) => started(&s),
                Message::Report(r) => report(*r),
            };
            if let Err(e) = done {
                closed.store(true, Ordering::Relaxed);
                failed = Some(e);
                break;
            }
        }
        // The tracer's next send fails: it ends and detaches.
        drop(rx);
        let (outcome, tid) = tracer
            .join()
            .map_err(|_| TraceError::Start(io::Error::other("the tracing thread panicked")))?;
        wait_thread_gone(tid);
        match failed {
            Some(e) => Err(TraceError::Output(e)),
            None => outcome,
        }
    })
}

/// The kernel detaches a thread's tracees in its exit, a moment after
/// `join` has returned (the join waits for the thread's tid to be cleared,
/// which comes first): wait, briefly, until the thread is gone, so that a
/// trace started right after this one finds the app free.
fn wait_thread_gone(tid: Pid) {
    let dir = format!("/proc/self/task/{tid}");
    let deadline = Instant::now() + Duration::from_secs(1);
    while std::path::Path::new(&dir).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The tracing thread: every ptrace request comes from here, as the kernel
/// wants (the tracer is a thread, not a process).
fn trace_thread(
    subject: Subject,
    opts: Options,
    tx: SyncSender<Message>,
    closed: &AtomicBool,
) -> (Result<Outcome, TraceError>, Pid) {
    let tid = nix::unistd::gettid();
    let tracer = match subject {
        Subject::Pid(pid) => Tracer::attach(pid),
        Subject::Program(mut cmd) => {
            Tracer::start_with(&mut cmd, opts.every_call).map_err(TraceError::Start)
        }
    };
    let mut tracer = match tracer {
        Ok(t) => t,
        Err(e) => return (Err(e), tid),
    };
    let mut obs = Follower {
        folder: Folder::new(opts.all),
        deadline: opts.timeout.map(|t| Instant::now() + t),
        opts,
        tx,
        closed,
        end: None,
    };
    let begun = Started {
        leader: tracer.leader(),
        threads: tracer.threads(),
        started: tracer.started(),
    };
    let sent = obs.send(Message::Started(begun));
    let result = match sent {
        Ok(()) => tracer.run(&mut obs),
        Err(e) => Err(e),
    };
    // Detach first: what is left to say must not keep the app stopped.
    let threads = tracer.threads();
    let (stops, filtered) = (tracer.stops(), tracer.filtered());
    let abandoned = tracer.finish(FINISH_BUDGET);
    let mut folder = std::mem::take(&mut obs.folder);
    let _ = folder.flush(&mut |r| obs.send(Message::Report(Box::new(r))));
    let end = match result {
        Ok(end) => Ok(end),
        Err(_) if obs.end.is_some() || closed.load(Ordering::Relaxed) => {
            Ok(obs.end.unwrap_or(End::OutputClosed))
        }
        Err(e) => Err(TraceError::Follow(e)),
    };
    let outcome = end.map(|end| Outcome {
        end,
        leader: begun.leader,
        started: begun.started,
        threads,
        abandoned,
        stops,
        filtered,
    });
    (outcome, tid)
}

/// The tracing thread's side of the trace.
struct Follower<'a> {
    opts: Options,
    folder: Folder,
    deadline: Option<Instant>,
    tx: SyncSender<Message>,
    closed: &'a AtomicBool,
    /// Why the trace ends, once known while the queue was full.
    end: Option<End>,
}

impl Follower<'_> {
    fn why_stop(&mut self) -> Option<End> {
        if let Some(end) = self.end {
            return Some(end);
        }
        if self.closed.load(Ordering::Relaxed) {
            Some(End::OutputClosed)
        } else if crate::shell::interrupted() {
            Some(End::Interrupted)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(End::TimedOut)
        } else if self.opts.watch_terminal
            && crate::sys::hung_up(std::os::fd::AsFd::as_fd(&io::stdin()))
        {
            Some(End::SessionEnded)
        } else if self.opts.until.as_mut().is_some_and(|until| until()) {
            Some(End::Done)
        } else {
            None
        }
    }

    /// Queue a message for the caller; while the queue is full, keep
    /// looking at what would end the trace, and give the message up if
    /// something does.
    fn send(&mut self, message: Message) -> io::Result<()> {
        let mut message = message;
        loop {
            match self.tx.try_send(message) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => {
                    self.closed.store(true, Ordering::Relaxed);
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                Err(TrySendError::Full(m)) => {
                    if let Some(end) = self.why_stop() {
                        self.end = Some(end);
                        return Err(io::ErrorKind::Interrupted.into());
                    }
                    message = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

impl Observer for Follower<'_> {
    fn wants(&self, pid: Pid, name: &str, errno: Option<i32>) -> bool {
        match errno {
            // The same calls with the filter or without.
            Some(e) => self.opts.all || (filter::reported(name) && !decode::routine(name, e)),
            None => self.opts.all || self.folder.wants(pid.as_raw(), name),
        }
    }

    fn call(&mut self, event: Event) -> io::Result<()> {
        let mut folder = std::mem::take(&mut self.folder);
        let fed = folder.feed(event, &mut |r| self.send(Message::Report(Box::new(r))));
        self.folder = folder;
        fed
    }

    fn stop(&mut self) -> Option<End> {
        self.why_stop()
    }
}

/// A trace collected: the failed calls as plain structs (the path or
/// address, the errno, the capability a privileged call lacked), the
/// libraries the loader did not find, the summary, and how it ended.
#[derive(Debug)]
pub struct Traced {
    /// The first [`MAX_FAILURES`] failed calls, in order.
    pub failures: Vec<Event>,
    /// The loader's searches (found or not), at most 256.
    pub libraries: Vec<LibrarySearch>,
    pub summary: Summary,
    pub outcome: Outcome,
}

/// Trace `subject` (`opts.all` is ignored: only failures are kept) and
/// return what failed. For doctor: run the entrypoint in a replica, or
/// watch an app's start, and look at `failures[..].capability` and
/// `libraries[..].found`.
pub fn failed_calls(subject: Subject, opts: Options) -> Result<Traced, TraceError> {
    let opts = Options { all: false, ..opts };
    let mut failures = Vec::new();
    let mut libraries = Vec::new();
    let mut summary = Summary::default();
    let outcome = follow(subject, opts, &mut |_| Ok(()), &mut |r| {
        summary.add_report(&r);
        match r {
            Report::Call(e) if failures.len() < MAX_FAILURES => failures.push(e),
            Report::Library(l) if libraries.len() < MAX_LIBRARIES => libraries.push(l),
            _ => {}
        }
        Ok(())
    })?;
    Ok(Traced {
        failures,
        libraries,
        summary,
        outcome,
    })
}
