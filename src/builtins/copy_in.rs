//! `copy-in PATH`.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::AsFd;

use clap::Parser;
use nix::fcntl::OFlag;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::{Io, Source};
use crate::target::perm::{self, Access, Who};
use crate::term::escape;
use crate::tools::copy::{self, Existing, Resolve, Top};

/// Write the tar stream on stdin out at PATH, as this identity (the half
/// of `nosh cp SRC TARGET:PATH` that runs in the target).
///
/// As `docker cp` places it: into PATH when it is a directory, else as the
/// new name PATH (its parent must exist), or over the file PATH. PATH
/// resolves inside the target's root, and nothing is written outside the
/// directory it lands in: no `..`, no absolute name, no symlink followed at
/// a name's end. Mode and mtime are kept; files belong to this identity.
/// A copy this identity may not write is refused before anything is
/// written, with `why`'s explanation. A stopped container's replica is
/// refused too: what it holds is gone at the end of the session.
#[derive(Parser)]
#[command(name = "copy-in", disable_version_flag = true)]
pub struct CopyIn {
    /// PATH must be a directory, and the stream's names land in it as they
    /// are (`nosh cp - TARGET:DIR`).
    #[arg(long, conflicts_with = "contents")]
    into: bool,
    /// Put what is inside the stream's top directory into PATH (the source
    /// ended in `/.`).
    #[arg(long)]
    contents: bool,
    path: String,
}

/// Reports entries left out on the builtin's stderr.
struct Report<'a> {
    err: &'a mut dyn Write,
    dir: String,
}

impl copy::Sink for Report<'_> {
    fn skipped(&mut self, path: &[u8], why: &str) {
        let _ = writeln!(
            self.err,
            "copy-in: {}/{}: {why}",
            escape::field(self.dir.trim_end_matches('/').as_bytes()),
            escape::field(path)
        );
    }
    fn stop(&self) -> bool {
        crate::shell::interrupted()
    }
}

/// `why PATH write` on the builtin's stderr.
fn explain(io: &mut Io, ctx: &mut Ctx, path: &str) {
    let (Ok(out), Ok(err)) = (io.err.try_clone(), io.err.try_clone()) else {
        return;
    };
    let mut why = Io {
        stdin: Source::bytes(Vec::new()),
        out,
        err,
    };
    if let Some(entry) = super::find("why") {
        (entry.run)(&["why".into(), path.into(), "write".into()], &mut why, ctx);
    }
}

fn join(dir: &str, rel: &[u8]) -> String {
    let rel = String::from_utf8_lossy(rel);
    if rel.is_empty() {
        dir.to_string()
    } else {
        format!("{}/{rel}", dir.trim_end_matches('/'))
    }
}

impl Builtin for CopyIn {
    const NAME: &'static str = "copy-in";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        if ctx.info.replica {
            writeln!(
                io.err,
                "copy-in: {} is not running, and this is a replica of it: a copy into it would be gone with the session (start the container first)",
                escape::field(ctx.info.display_name().as_bytes())
            )?;
            return Ok(1);
        }
        let abs = ctx.abs(&self.path);
        let shown = escape::field(abs.as_bytes()).into_owned();
        let root = copy::open_dir(&ctx.root)?;
        let existing = match copy::existing(root.as_fd(), OsStr::new(&abs), Resolve::InRoot) {
            Ok(e) => e,
            Err(e) => {
                writeln!(io.err, "copy-in: {shown}: {}", util::io_error(&e))?;
                return Ok(1);
            }
        };
        if self.into && existing != Existing::Dir {
            writeln!(
                io.err,
                "copy-in: {shown} is not a directory, and a tar stream goes into one"
            )?;
            return Ok(1);
        }
        // ctx.abs ends without a slash; keep the user's, which says "a directory".
        let asked = if self.path.ends_with('/') {
            format!("{}/", abs.trim_end_matches('/'))
        } else {
            abs.clone()
        };
        let placement = match copy::place(&asked, existing, self.contents) {
            Ok(p) => p,
            Err(sentence) => {
                writeln!(io.err, "copy-in: {}", escape::field(sentence.as_bytes()))?;
                return Ok(1);
            }
        };
        // Refused before a byte is written: the file it replaces, else the
        // directory it lands in.
        let written = match (&placement.top, existing) {
            (Top::Rename(_), Existing::Other) => abs.clone(),
            _ => placement.dir.clone(),
        };
        let verdict = perm::check(ctx, &written, Some(Access::Write), &Who::current());
        if !verdict.allowed {
            writeln!(
                io.err,
                "copy-in: uid {} may not write {}: nothing was copied",
                ctx.identity.uid,
                escape::field(written.as_bytes())
            )?;
            explain(io, ctx, &written);
            return Ok(1);
        }
        let dest = match copy::open_below(
            root.as_fd(),
            OsStr::new(&placement.dir),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            Resolve::InRoot,
        ) {
            Ok(fd) => fd,
            Err(e) => {
                writeln!(
                    io.err,
                    "copy-in: {}: {}",
                    escape::field(placement.dir.as_bytes()),
                    util::io_error(&e)
                )?;
                return Ok(1);
            }
        };
        let mut report = Report {
            err: &mut io.err,
            dir: placement.dir.clone(),
        };
        let result = copy::extract(
            io::BufReader::with_capacity(256 * 1024, &mut io.stdin),
            dest.as_fd(),
            Resolve::Beneath,
            &placement.top,
            &mut report,
        );
        match result {
            Ok(summary) => Ok(if summary.problems > 0 { 1 } else { 0 }),
            Err(e) => {
                let path = join(&placement.dir, &e.path);
                writeln!(
                    io.err,
                    "copy-in: {}: {}",
                    escape::field(path.as_bytes()),
                    util::io_error(&e.source)
                )?;
                let denied = matches!(
                    e.source.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EROFS)
                );
                if denied {
                    explain(io, ctx, &path);
                }
                Ok(1)
            }
        }
    }
}
