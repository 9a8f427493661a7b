//! `nosh cp`: files and directories out of a target and into it, as the
//! app's identity, for every kind of target a session reaches (a running
//! container, a stopped one or an image through a replica, direct attach,
//! containerd and pods).
//!
//! The copy inside the target is a session like any other, whose command
//! is the `copy-out` or `copy-in` builtin and whose stdout or stdin is a
//! tar stream; this side makes or writes out that stream:
//! 1. read SRC and DEST: exactly one is `TARGET:PATH`;
//! 2. `-` (a tar stream on our own stdin or stdout): the session gets it
//!    as it is, in this process;
//! 3. otherwise decide on this host where the copy lands (out) or open the
//!    source (in), then fork: the child runs the session with a pipe as
//!    its stdout or stdin, the parent writes or reads the tar stream at
//!    the other end. A child process, not a thread: a session forks its
//!    watchdog first and direct attach joins namespaces, and both need a
//!    process with one thread;
//! 4. the exit status is the session's when it failed (it said why), else
//!    1 when this side could not write or read everything, else 0.
//!
//! What arrives from the target is written only below the destination
//! directory, never through a symlink ([`crate::tools::copy`]).

use std::ffi::OsStr;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::EXIT_NOSH_FAILED;
use crate::cli::{AttachArgs, CpArgs, shell_join};
use crate::host::error::HostError;
use crate::term::escape;
use crate::tools::copy::{self, Existing, Resolve};

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// A path on this host, or `-`.
    Local(String),
    /// A path in a target: the target as `nosh TARGET` takes it.
    Target { target: String, path: String },
}

const SCHEMES: &[&str] = &["pid://", "containerd://", "pod://"];

/// How `docker cp` reads an argument, with nosh's targets: `-`, a path
/// starting with `/` or `.` (a local name holding a colon is written
/// `./a:b`), `SCHEME://...:PATH`, else `TARGET:PATH` split at the first
/// `:/` (an image's tag may hold a colon), or at the first colon for a
/// relative PATH, which is relative to the target's `/` as in `docker cp`.
pub fn parse(arg: &str) -> Side {
    let local = || Side::Local(arg.to_string());
    if arg == "-" || arg.starts_with('/') || arg.starts_with('.') {
        return local();
    }
    let target_path = |target: &str, path: &str| Side::Target {
        target: target.to_string(),
        path: if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        },
    };
    if let Some(scheme) = SCHEMES.iter().find(|s| arg.starts_with(**s)) {
        let rest = &arg[scheme.len()..];
        return match rest.split_once(':') {
            Some((t, p)) => target_path(&format!("{scheme}{t}"), p),
            None => local(),
        };
    }
    if let Some(at) = arg.find(":/") {
        return target_path(&arg[..at], &arg[at + 1..]);
    }
    match arg.split_once(':') {
        Some((t, p)) if !t.is_empty() => target_path(t, p),
        _ => local(),
    }
}

/// `nosh cp SRC DEST`.
pub fn run(args: CpArgs) -> ExitCode {
    let failed = |e: HostError| {
        crate::host::report(&e);
        ExitCode::from(EXIT_NOSH_FAILED)
    };
    match (parse(&args.src), parse(&args.dest)) {
        (Side::Target { target, path }, Side::Local(dest)) => {
            match copy_out(&args, &target, &path, &dest) {
                Ok(code) => code,
                Err(e) => failed(e),
            }
        }
        (Side::Local(src), Side::Target { target, path }) => {
            match copy_in(&args, &src, &target, &path) {
                Ok(code) => code,
                Err(e) => failed(e),
            }
        }
        (Side::Target { .. }, Side::Target { .. }) => failed(HostError::Local(
            "both SRC and DEST name a target: copy out to this host, then in".into(),
        )),
        (Side::Local(_), Side::Local(_)) => failed(HostError::Local(format!(
            "neither {} nor {} names a target: write one as TARGET:PATH",
            escape::field(args.src.as_bytes()),
            escape::field(args.dest.as_bytes())
        ))),
    }
}

/// The session that runs `command` in `target`.
fn session(args: &CpArgs, target: &str, command: String) -> AttachArgs {
    AttachArgs {
        engine: args.engine.clone(),
        user: args.user.clone(),
        root: args.root,
        toolbox_image: args.toolbox_image.clone(),
        no_tty: true,
        command: Some(command),
        direct: args.direct,
        containerd_address: args.containerd_address.clone(),
        target: Some(target.to_string()),
        ..AttachArgs::default()
    }
}

/// A path of this host that could not be used, as one sentence.
fn local(path: &str, e: &io::Error) -> HostError {
    HostError::Local(format!(
        "{}: {}",
        escape::field(path.as_bytes()),
        crate::builtins::util::io_error(e)
    ))
}

/// A path names what is inside a directory when it ends in `/.`.
fn contents(path: &str) -> bool {
    path == "." || path.ends_with("/.")
}

fn copy_out(args: &CpArgs, target: &str, path: &str, dest: &str) -> Result<ExitCode, HostError> {
    let mut words = vec!["copy-out".to_string()];
    if args.follow {
        words.push("-L".into());
    }
    words.extend(["--".to_string(), path.to_string()]);
    let attach = session(args, target, shell_join(&words));
    if dest == "-" {
        if io::stdout().is_terminal() {
            return Err(HostError::Local(
                "a tar stream is not for a terminal: redirect stdout (nosh cp T:PATH - > FILE), or give a destination path".into(),
            ));
        }
        return Ok(crate::host::attach(attach));
    }
    let existing = match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => Existing::Dir,
        Ok(_) => Existing::Other,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Existing::Missing,
        Err(e) => return Err(local(dest, &e)),
    };
    let place = copy::place(dest, existing, contents(path)).map_err(HostError::Local)?;
    let dir =
        copy::open_dir(std::path::Path::new(&place.dir)).map_err(|e| local(&place.dir, &e))?;
    let (mut session, mut kept) = Session::start(attach, false, vec![dir])?;
    let Some(dir) = kept.pop() else {
        unreachable!("start gives back what it was given")
    };
    let stream = session.stream()?;
    let mut meter = Meter::new(None);
    let mut sink = HostSink {
        dir: &place.dir,
        meter: &mut meter,
        first: true,
        problems: 0,
    };
    let result = copy::extract(
        io::BufReader::with_capacity(256 * 1024, stream),
        dir.as_fd(),
        Resolve::BeneathNoSymlinks,
        &place.top,
        &mut sink,
    );
    let problems = sink.problems;
    meter.finish();
    let status = session.wait();
    if status != 0 {
        return Ok(ExitCode::from(status));
    }
    match result {
        Ok(sum) if sum.problems == 0 && problems == 0 => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::from(1)),
        Err(e) => {
            eprintln!(
                "nosh cp: {}/{}: {}",
                escape::field(place.dir.trim_end_matches('/').as_bytes()),
                escape::field(&e.path),
                crate::builtins::util::io_error(&e.source)
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn copy_in(args: &CpArgs, src: &str, target: &str, path: &str) -> Result<ExitCode, HostError> {
    let mut words = vec!["copy-in".to_string()];
    if src == "-" {
        words.push("--into".into());
    } else if contents(src) {
        words.push("--contents".into());
    }
    words.extend(["--".to_string(), path.to_string()]);
    let attach = session(args, target, shell_join(&words));
    if src == "-" {
        if io::stdin().is_terminal() {
            return Err(HostError::Local(
                "- reads a tar stream from stdin, and stdin is a terminal: pipe one in (tar -c DIR | nosh cp - T:PATH)".into(),
            ));
        }
        return Ok(crate::host::attach(attach));
    }
    let meta = if args.follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    }
    .map_err(|e| local(src, &e))?;
    let name = std::path::Path::new(src.trim_end_matches("/."))
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| ".".into());
    let here =
        copy::open_dir(std::path::Path::new(".")).map_err(|e| HostError::Local(e.to_string()))?;
    let (mut session, mut kept) = Session::start(attach, true, vec![here])?;
    let Some(here) = kept.pop() else {
        unreachable!("start gives back what it was given")
    };
    let stream = session.stream()?;
    let total = meta.is_file().then_some(meta.len());
    let mut meter = Meter::new(total);
    let mut walk = HostWalk {
        src,
        meter: &mut meter,
    };
    let mut out = BufWriter::with_capacity(256 * 1024, stream);
    let mut tar = tar::Builder::new(&mut out);
    let walked = copy::write_tree(
        &mut tar,
        here.as_fd(),
        OsStr::new(src),
        Resolve::Plain,
        args.follow,
        &name,
        &mut walk,
    )
    .and_then(|sum| tar.finish().map(|()| sum));
    drop(tar);
    let flushed = out.flush();
    // The session reads EOF when this end goes.
    drop(out);
    meter.finish();
    let status = session.wait();
    if status != 0 {
        return Ok(ExitCode::from(status));
    }
    match walked.and_then(|sum| flushed.map(|()| sum)) {
        Ok(sum) if sum.problems == 0 => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::from(1)),
        Err(e) => {
            eprintln!(
                "nosh cp: {}: {}",
                escape::field(src.as_bytes()),
                crate::builtins::util::io_error(&e)
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), HostError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| HostError::Local(format!("cannot make a pipe: {e}")))
}

/// A socket of this host offered to the session for the copy's bytes (see
/// [`crate::toolbox::stream`]): in a directory made for this copy that
/// only this user may enter, removed with it.
struct Offer {
    dir: PathBuf,
    listener: UnixListener,
}

impl Offer {
    /// An offer when the session runs in a sidecar or replica of a local
    /// engine with this binary as its toolbox; `None` otherwise (attached
    /// directly the copy never leaves this host; an engine elsewhere could
    /// not mount the directory; another toolbox image would not take it).
    fn new(attach: &AttachArgs) -> Option<Offer> {
        if crate::host::direct::wanted(attach) || attach.toolbox_image.is_some() {
            return None;
        }
        let local = matches!(
            crate::host::engine::chosen_endpoint(&attach.engine),
            Ok(crate::host::error::Endpoint::Unix(_))
        );
        if !local {
            return None;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("nosh-cp-{}-{nanos:08x}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).ok()?;
        match UnixListener::bind(dir.join(crate::toolbox::stream::SOCKET)) {
            Ok(listener) => Some(Offer { dir, listener }),
            Err(_) => {
                let _ = std::fs::remove_dir_all(&dir);
                None
            }
        }
    }
}

impl Drop for Offer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A copy's session, forked: its stdout (and stdin for a copy in) are
/// pipes of this process, or the copy's bytes take the offered socket.
struct Session {
    child: nix::unistd::Pid,
    out: std::fs::File,
    input: Option<std::fs::File>,
    offer: Option<Offer>,
    /// `-v`: say which way the copy went.
    verbose: bool,
}

/// Where a copy's bytes go, once the session has said which way.
enum Stream {
    Socket(UnixStream),
    /// The session's stdout, after `head` (bytes read while looking for
    /// the toolbox's word), for a copy out.
    Out(io::Chain<io::Cursor<Vec<u8>>, std::fs::File>),
    /// The session's stdin, for a copy in.
    In(std::fs::File),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Socket(s) => s.read(buf),
            Stream::Out(r) => r.read(buf),
            Stream::In(_) => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Socket(s) => s.write(buf),
            Stream::In(f) => f.write(buf),
            Stream::Out(_) => Err(io::Error::other("a copy out has nothing to write")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // A copy in ends with the end of what is written.
        if let Stream::Socket(s) = self {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
}

impl Session {
    /// Forks the session. In the child: its stdout becomes a pipe to this
    /// process, its stdin another (`input`) or /dev/null (keys typed
    /// during a copy out are not its input), every fd of the parent's is
    /// closed (`parents`, the pipes' other ends, the offer: an end left in
    /// the child would keep it from ever seeing EOF or EPIPE), the session
    /// runs to its end and the child exits with its status. The parent
    /// gets `parents` back. Ctrl-C reaches both: the session removes its
    /// sidecar and says so, so the parent ignores it and waits.
    fn start(
        mut attach: AttachArgs,
        input: bool,
        parents: Vec<OwnedFd>,
    ) -> Result<(Session, Vec<OwnedFd>), HostError> {
        let offer = Offer::new(&attach);
        attach.stream_dir = offer.as_ref().map(|o| o.dir.clone());
        let verbose = attach.engine.verbose;
        let (out_r, out_w) = pipe()?;
        let (in_r, in_w) = if input {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        // SAFETY: this process has one thread (no runtime, no thread
        // started yet on this path), so the child may run arbitrary code.
        match unsafe { fork() }.map_err(|e| HostError::Local(format!("cannot fork: {e}")))? {
            ForkResult::Child => {
                drop((parents, out_r, in_w));
                // The directory is the parent's to remove (the listener is
                // close-on-exec and never accepted on here).
                std::mem::forget(offer);
                let stdin = match in_r {
                    Some(r) => Ok(r),
                    None => nix::fcntl::open(
                        "/dev/null",
                        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                        nix::sys::stat::Mode::empty(),
                    ),
                };
                let moved = stdin
                    .and_then(|r| nix::unistd::dup2_stdin(&r))
                    .and_then(|()| nix::unistd::dup2_stdout(&out_w));
                drop(out_w);
                if let Err(e) = moved {
                    eprintln!("nosh cp: cannot connect the copy's stream: {e}");
                    std::process::exit(i32::from(EXIT_NOSH_FAILED));
                }
                let code = crate::host::attach(attach);
                // An ExitCode's number is read only by returning it from
                // main; end here with the same number instead.
                std::process::exit(exit_number(code));
            }
            ForkResult::Parent { child } => {
                drop((out_w, in_r));
                for sig in [Signal::SIGINT, Signal::SIGQUIT] {
                    // SAFETY: SIG_IGN installs no handler code.
                    let _ = unsafe { signal(sig, SigHandler::SigIgn) };
                }
                let session = Session {
                    child,
                    out: std::fs::File::from(out_r),
                    input: in_w.map(std::fs::File::from),
                    offer,
                    verbose,
                };
                Ok((session, parents))
            }
        }
    }

    /// Which way the copy's bytes go: the offered socket once the toolbox
    /// connects, else the session's own stdin or stdout (the toolbox said
    /// [`OVER_ATTACH`], or nothing was offered, or the session ended).
    ///
    /// [`OVER_ATTACH`]: crate::toolbox::stream::OVER_ATTACH
    fn stream(&mut self) -> Result<Stream, HostError> {
        let failed = |e: io::Error| HostError::Local(format!("the copy's stream: {e}"));
        let head = match &self.offer {
            None => Vec::new(),
            Some(offer) => match word_or_socket(&offer.listener, &self.out).map_err(failed)? {
                Ok(conn) => {
                    if self.verbose {
                        eprintln!("nosh: the copy goes over a socket of this host, not the engine");
                    }
                    // The session's own stdin is not the copy's: EOF on it.
                    self.input = None;
                    return Ok(Stream::Socket(conn));
                }
                Err(head) => {
                    if self.verbose {
                        eprintln!("nosh: the copy goes over the engine's attach stream");
                    }
                    head
                }
            },
        };
        Ok(match self.input.take() {
            Some(input) => Stream::In(input),
            None => Stream::Out(io::Cursor::new(head).chain(self.out.try_clone().map_err(failed)?)),
        })
    }

    /// The session's exit status. Its stdout stays open until then, so a
    /// late write there never meets a closed pipe.
    fn wait(self) -> u8 {
        let Session {
            child, out, input, ..
        } = self;
        drop(input);
        let status = wait(child);
        drop(out);
        status
    }
}

/// Waits for the toolbox to connect to `listener` (`Ok`) or to say on
/// `out`, the session's stdout, that it will not (`Err` with what followed
/// its word there, the copy's first bytes). A stdout that starts with
/// anything else (a toolbox that has no word) or ends is the copy's too.
fn word_or_socket(
    listener: &UnixListener,
    out: &std::fs::File,
) -> io::Result<Result<UnixStream, Vec<u8>>> {
    use crate::toolbox::stream::OVER_ATTACH;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut head = Vec::new();
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(out.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => other.map_err(io::Error::from)?,
        };
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[0]) {
            if let Some(conn) = accept_ours(listener)? {
                return Ok(Ok(conn));
            }
            continue;
        }
        if ready(&fds[1]) {
            let mut buf = [0u8; 4096];
            let n = (&*out).read(&mut buf)?;
            if n == 0 {
                return Ok(Err(head));
            }
            head.extend_from_slice(&buf[..n]);
            if head.starts_with(OVER_ATTACH) {
                return Ok(Err(head.split_off(OVER_ATTACH.len())));
            }
            if !OVER_ATTACH.starts_with(&head) {
                return Ok(Err(head));
            }
        }
    }
}

/// A connection, if it is the toolbox's: root of the sidecar (or this
/// user, for a rootless engine). The directory is this user's only, so
/// nothing else should ever connect; anything else is turned away.
fn accept_ours(listener: &UnixListener) -> io::Result<Option<UnixStream>> {
    let (conn, _) = listener.accept()?;
    let creds = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(io::Error::from)?;
    let ours = creds.uid() == 0 || creds.uid() == nix::unistd::geteuid().as_raw();
    Ok(ours.then_some(conn))
}

/// The number an `ExitCode` stands for (it has no getter: compare).
fn exit_number(code: ExitCode) -> i32 {
    (0..=255u8)
        .find(|n| ExitCode::from(*n) == code)
        .map_or(i32::from(EXIT_NOSH_FAILED), i32::from)
}

/// The child's exit status, as a shell reports it.
fn wait(child: nix::unistd::Pid) -> u8 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code as u8,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128u8.wrapping_add(sig as u8),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return EXIT_NOSH_FAILED,
        }
    }
}

/// A progress bar on a terminal, once a copy is large: bytes, rate and,
/// when the size is known (one file), how far and how long.
struct Meter {
    bar: Option<ProgressBar>,
    on_terminal: bool,
    total: Option<u64>,
    bytes: u64,
}

/// Copies smaller than this end before a bar would say anything useful.
const METER_FROM: u64 = 16 << 20;

impl Meter {
    fn new(total: Option<u64>) -> Meter {
        Meter {
            bar: None,
            on_terminal: io::stderr().is_terminal(),
            total,
            bytes: 0,
        }
    }

    fn add(&mut self, n: u64) {
        self.bytes += n;
        if self.bar.is_none() && self.on_terminal && self.total.unwrap_or(self.bytes) >= METER_FROM
        {
            let bar = match self.total {
                Some(total) => ProgressBar::with_draw_target(
                    Some(total),
                    ProgressDrawTarget::stderr_with_hz(8),
                )
                .with_style(
                    ProgressStyle::with_template(
                        "{binary_bytes}/{binary_total_bytes} [{bar:30}] {binary_bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8))
                    .with_style(
                        ProgressStyle::with_template("{spinner} {binary_bytes} {binary_bytes_per_sec}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
            };
            bar.enable_steady_tick(Duration::from_millis(250));
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The host's end of a copy out: entries left out are said on stderr.
struct HostSink<'a> {
    dir: &'a str,
    meter: &'a mut Meter,
    first: bool,
    problems: u64,
}

impl copy::Sink for HostSink<'_> {
    fn skipped(&mut self, path: &[u8], why: &str) {
        self.problems += 1;
        eprintln!(
            "nosh cp: {}/{}: {}",
            escape::field(self.dir.trim_end_matches('/').as_bytes()),
            escape::field(path),
            escape::field(why.as_bytes())
        );
    }
    fn entry(&mut self, _path: &[u8], size: u64) {
        // One file: its size is the whole copy's.
        if std::mem::take(&mut self.first) && size > 0 {
            self.meter.total = Some(size);
        }
    }
    fn progress(&mut self, bytes: u64) {
        self.meter.add(bytes);
    }
}

/// The host's end of a copy in: what it cannot read is said on stderr.
struct HostWalk<'a> {
    src: &'a str,
    meter: &'a mut Meter,
}

impl copy::Walk for HostWalk<'_> {
    fn problem(&mut self, path: &[u8], what: &str) {
        let parent = std::path::Path::new(self.src)
            .parent()
            .map(|p| p.display().to_string())
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        eprintln!(
            "nosh cp: {}{}: {}",
            escape::field(parent.as_bytes()),
            escape::field(path),
            what
        );
    }
    fn progress(&mut self, bytes: u64) {
        self.meter.add(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(t: &str, p: &str) -> Side {
        Side::Target {
            target: t.into(),
            path: p.into(),
        }
    }

    #[test]
    fn arguments_read_as_docker_cp_reads_them() {
        assert_eq!(
            parse("api:/app/heap.hprof"),
            target("api", "/app/heap.hprof")
        );
        assert_eq!(parse("api:data.txt"), target("api", "/data.txt"));
        assert_eq!(parse("./a:b"), Side::Local("./a:b".into()));
        assert_eq!(parse("/tmp/x"), Side::Local("/tmp/x".into()));
        assert_eq!(parse("-"), Side::Local("-".into()));
        assert_eq!(parse("out"), Side::Local("out".into()));
        assert_eq!(
            parse("app:1.0:/etc/passwd"),
            target("app:1.0", "/etc/passwd")
        );
        assert_eq!(
            parse("registry:5000/app:1.0:/etc"),
            target("registry:5000/app:1.0", "/etc")
        );
        assert_eq!(parse("pid://4242:/data"), target("pid://4242", "/data"));
        assert_eq!(
            parse("containerd://k8s.io/abc:/var/log"),
            target("containerd://k8s.io/abc", "/var/log")
        );
        assert_eq!(
            parse("pod://ns/web/app:/tmp"),
            target("pod://ns/web/app", "/tmp")
        );
        assert_eq!(parse("pid://4242"), Side::Local("pid://4242".into()));
    }

    fn listener() -> (tempfile::TempDir, UnixListener) {
        let dir = tempfile::tempdir().unwrap();
        let l = UnixListener::bind(dir.path().join("socket")).unwrap();
        (dir, l)
    }

    fn stdout_with(bytes: &[u8]) -> std::fs::File {
        let (r, w) = pipe().unwrap();
        let mut w = std::fs::File::from(w);
        w.write_all(bytes).unwrap();
        std::fs::File::from(r)
    }

    #[test]
    fn a_toolbox_that_connects_carries_the_copy_over_the_socket() {
        let (dir, l) = listener();
        let out = stdout_with(b"");
        let conn = UnixStream::connect(dir.path().join("socket")).unwrap();
        let got = word_or_socket(&l, &out).unwrap();
        let mut server = got.expect("the socket");
        (&conn).write_all(b"tar bytes").unwrap();
        drop(conn);
        let mut text = String::new();
        server.read_to_string(&mut text).unwrap();
        assert_eq!(text, "tar bytes");
    }

    #[test]
    fn a_toolbox_that_cannot_connect_says_so_and_the_copy_follows_on_stdout() {
        let (_dir, l) = listener();
        let mut said = crate::toolbox::stream::OVER_ATTACH.to_vec();
        said.extend_from_slice(b"ustar...");
        let out = stdout_with(&said);
        assert_eq!(word_or_socket(&l, &out).unwrap().unwrap_err(), b"ustar...");
        // A toolbox with no word (another build): everything is the copy.
        let out = stdout_with(b"data.txt\0\0\0");
        assert_eq!(
            word_or_socket(&l, &out).unwrap().unwrap_err(),
            b"data.txt\0\0\0"
        );
        // A session that ended first: nothing.
        let (r, w) = pipe().unwrap();
        drop(w);
        let out = std::fs::File::from(r);
        assert!(word_or_socket(&l, &out).unwrap().unwrap_err().is_empty());
    }

    #[test]
    fn a_session_status_is_read_back_from_its_exit_code() {
        assert_eq!(exit_number(ExitCode::SUCCESS), 0);
        assert_eq!(exit_number(ExitCode::from(1)), 1);
        assert_eq!(exit_number(ExitCode::from(125)), 125);
    }
}
