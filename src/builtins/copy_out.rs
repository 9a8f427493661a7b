//! `copy-out PATH`.

use std::ffi::OsStr;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;
use crate::tools::copy::{self, Resolve};

/// Write PATH to stdout as a tar stream, as this identity: a regular file,
/// a directory with everything below it, or a symlink itself (the half of
/// `nosh cp TARGET:PATH DEST` that runs in the target).
///
/// PATH resolves inside the target's root: `..` and absolute symlinks
/// never lead out of it. Mode, owner ids and mtime are kept. FIFOs,
/// sockets, devices and kernel filesystems (proc, sys, cgroup) are left
/// out and named on stderr, as is whatever this identity cannot read;
/// the exit status is then 1. PATH ending in `/.` names its contents (as
/// `docker cp` reads it). Nothing is written to the target.
#[derive(Parser)]
#[command(name = "copy-out", disable_version_flag = true)]
pub struct CopyOut {
    /// Follow PATH if it is a symlink (inside the target's root).
    #[arg(short = 'L', long = "follow-link")]
    follow: bool,
    path: String,
}

/// Reports what the walk leaves out on the builtin's stderr.
pub(crate) struct Report<'a> {
    pub err: &'a mut dyn Write,
    pub prefix: String,
}

impl copy::Walk for Report<'_> {
    fn problem(&mut self, path: &[u8], what: &str) {
        let _ = writeln!(
            self.err,
            "copy-out: {}{}: {what}",
            self.prefix,
            escape::field(path)
        );
    }
    fn stop(&self) -> bool {
        crate::shell::interrupted()
    }
}

/// The name a copy's top gets in the stream: the last component of `abs`
/// (a normalized path of the target), `.` for the root itself.
pub(crate) fn top_name(abs: &str) -> &str {
    match abs.rsplit('/').next() {
        Some("") | None => ".",
        Some(name) => name,
    }
}

impl Builtin for CopyOut {
    const NAME: &'static str = "copy-out";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let shown = escape::field(self.path.as_bytes()).into_owned();
        if io.out.is_terminal() {
            writeln!(
                io.err,
                "copy-out: a tar stream is not for a terminal: redirect it (copy-out {shown} > FILE), or use `nosh cp` from the host"
            )?;
            return Ok(2);
        }
        let abs = ctx.abs(&self.path);
        let root = copy::open_dir(&ctx.root)?;
        let name = top_name(&abs).to_string();
        let mut out = BufWriter::with_capacity(256 * 1024, &mut io.out);
        let mut tar = tar::Builder::new(&mut out);
        let mut report = Report {
            err: &mut io.err,
            prefix: String::new(),
        };
        let parent = abs.rsplit_once('/').map_or("", |(p, _)| p);
        report.prefix = if parent.is_empty() {
            "/".into()
        } else {
            format!("{}/", escape::field(parent.as_bytes()))
        };
        let walked = copy::write_tree(
            &mut tar,
            root.as_fd(),
            OsStr::new(&abs),
            Resolve::InRoot,
            self.follow,
            OsStr::new(&name),
            &mut report,
        );
        let summary = match walked {
            Ok(s) => s,
            Err(e) => {
                let read = e.kind() == io::ErrorKind::PermissionDenied;
                drop(tar);
                writeln!(
                    io.err,
                    "copy-out: {}: {}{}",
                    escape::field(abs.as_bytes()),
                    util::io_error(&e),
                    if read {
                        format!(" (`why {} read` explains)", escape::field(abs.as_bytes()))
                    } else {
                        String::new()
                    }
                )?;
                return Ok(1);
            }
        };
        tar.finish()?;
        drop(tar);
        out.flush()?;
        Ok(if summary.problems > 0 { 1 } else { 0 })
    }
}
