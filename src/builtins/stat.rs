//! `stat [-L] FILE...`.

use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Show a file's type, size, owner, mode and times, as coreutils stat does.
#[derive(Parser)]
#[command(name = "stat", disable_version_flag = true)]
pub struct Stat {
    /// Follow symbolic links.
    #[arg(short = 'L', long)]
    dereference: bool,
    #[arg(required = true)]
    files: Vec<String>,
}

pub fn kind(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => "directory",
        libc::S_IFLNK => "symbolic link",
        libc::S_IFCHR => "character special file",
        libc::S_IFBLK => "block special file",
        libc::S_IFIFO => "fifo",
        libc::S_IFSOCK => "socket",
        _ => "regular file",
    }
}

impl Builtin for Stat {
    const NAME: &'static str = "stat";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut status = 0;
        for f in &self.files {
            let path = if self.dereference {
                ctx.resolve(f)
            } else {
                ctx.resolve_link(f)
            };
            let shown = escape::field(f.as_bytes());
            let meta = if self.dereference {
                std::fs::metadata(&path)
            } else {
                std::fs::symlink_metadata(&path)
            };
            let m = match meta {
                Ok(m) => m,
                Err(e) => {
                    writeln!(io.err, "stat: {shown}: {}", util::io_error(&e))?;
                    status = 1;
                    continue;
                }
            };
            let mut name = shown.to_string();
            if m.file_type().is_symlink()
                && let Ok(t) = std::fs::read_link(&path)
            {
                name = format!("{name} -> {}", escape::os(t.as_os_str()));
            }
            writeln!(io.out, "  File: {name}")?;
            writeln!(
                io.out,
                "  Size: {:<10} Blocks: {:<10} IO Block: {:<6} {}",
                m.size(),
                m.blocks(),
                m.blksize(),
                kind(m.mode())
            )?;
            writeln!(
                io.out,
                "Device: {:x}h/{}d  Inode: {:<10} Links: {}",
                m.dev(),
                m.dev(),
                m.ino(),
                m.nlink()
            )?;
            writeln!(
                io.out,
                "Access: ({:04o}/{})  Uid: ({:5}/{:>8})   Gid: ({:5}/{:>8})",
                m.mode() & 0o7777,
                util::mode_string(m.mode()),
                m.uid(),
                escape::field(ctx.user_name(m.uid()).as_bytes()),
                m.gid(),
                escape::field(ctx.group_name(m.gid()).as_bytes()),
            )?;
            writeln!(io.out, "Access: {} UTC", util::datetime(m.atime()))?;
            writeln!(io.out, "Modify: {} UTC", util::datetime(m.mtime()))?;
            writeln!(io.out, "Change: {} UTC", util::datetime(m.ctime()))?;
        }
        Ok(status)
    }
}
