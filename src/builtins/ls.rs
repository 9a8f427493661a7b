//! `ls [-laRdnh1] [FILE...]`.

use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use clap::{ArgAction, Parser};

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// List directory contents. Names are shown with control characters escaped.
#[derive(Parser)]
#[command(name = "ls", disable_version_flag = true, disable_help_flag = true)]
pub struct Ls {
    /// Long listing: mode, links, owner, group, size, time, name.
    #[arg(short = 'l')]
    long: bool,
    /// Show entries starting with '.'.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Numeric uids and gids (implies -l).
    #[arg(short = 'n', long = "numeric-uid-gid")]
    numeric: bool,
    /// Human-readable sizes (1K, 23M).
    #[arg(short = 'h', long = "human-readable")]
    human: bool,
    /// List subdirectories recursively.
    #[arg(short = 'R', long = "recursive")]
    recursive: bool,
    /// List directories themselves, not their contents.
    #[arg(short = 'd', long = "directory")]
    directory: bool,
    /// One name per line.
    #[arg(short = '1')]
    one: bool,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    files: Vec<String>,
}

struct Item {
    name: String,
    meta: Option<Metadata>,
    link: Option<String>,
}

impl Ls {
    fn long(&self) -> bool {
        self.long || self.numeric
    }

    fn item(&self, ctx: &Ctx, shown: String, path: &str) -> Item {
        let real = ctx.resolve_link(path);
        let meta = fs::symlink_metadata(&real).ok();
        let link = meta
            .as_ref()
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| fs::read_link(&real).ok())
            .map(|t| escape::os(t.as_os_str()).into_owned());
        Item {
            name: shown,
            meta,
            link,
        }
    }

    fn write_items(&self, io: &mut Io, ctx: &Ctx, items: &[Item]) -> io::Result<()> {
        if !self.long() {
            let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
            return columns(io, ctx, &names, self.one);
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|it| match &it.meta {
                Some(m) => {
                    let (user, group) = if self.numeric {
                        (m.uid().to_string(), m.gid().to_string())
                    } else {
                        (
                            escape::field(ctx.user_name(m.uid()).as_bytes()).into_owned(),
                            escape::field(ctx.group_name(m.gid()).as_bytes()).into_owned(),
                        )
                    };
                    let size = if m.file_type().is_char_device() || m.file_type().is_block_device()
                    {
                        format!("{}, {}", libc::major(m.rdev()), libc::minor(m.rdev()))
                    } else if self.human {
                        util::human(m.size())
                    } else {
                        m.size().to_string()
                    };
                    let mut name = it.name.clone();
                    if let Some(l) = &it.link {
                        name = format!("{name} -> {l}");
                    }
                    vec![
                        util::mode_string(m.mode()),
                        m.nlink().to_string(),
                        user,
                        group,
                        size,
                        util::datetime(m.mtime())[..16].to_string(),
                        name,
                    ]
                }
                None => vec![
                    "?????????".into(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    it.name.clone(),
                ],
            })
            .collect();
        util::write_table(&mut io.out, None, &rows, &[1, 4])
    }

    /// List one directory; returns false if it could not be read.
    fn dir(
        &self,
        io: &mut Io,
        ctx: &Ctx,
        path: &str,
        seen: &mut HashSet<(u64, u64)>,
    ) -> io::Result<bool> {
        let real = ctx.resolve(path);
        let entries = match fs::read_dir(&real) {
            Ok(e) => e,
            Err(e) => {
                writeln!(
                    io.err,
                    "ls: cannot open directory {}: {} (`why {} read` explains)",
                    escape::field(path.as_bytes()),
                    util::io_error(&e),
                    escape::field(path.as_bytes())
                )?;
                return Ok(false);
            }
        };
        let mut names: Vec<Vec<u8>> = entries
            .filter_map(|e| Some(e.ok()?.file_name().as_bytes().to_vec()))
            .filter(|n| self.all || !n.starts_with(b"."))
            .collect();
        if self.all {
            names.push(b".".to_vec());
            names.push(b"..".to_vec());
        }
        names.sort();
        let join = |n: &[u8]| {
            let n = String::from_utf8_lossy(n);
            if path.ends_with('/') {
                format!("{path}{n}")
            } else {
                format!("{path}/{n}")
            }
        };
        // Names that are not UTF-8 are shown escaped but looked up by bytes.
        let items: Vec<Item> = names
            .iter()
            .map(|n| {
                let real_child = real.join(std::ffi::OsStr::from_bytes(n));
                let meta = fs::symlink_metadata(&real_child).ok();
                let link = meta
                    .as_ref()
                    .filter(|m| m.file_type().is_symlink())
                    .and_then(|_| fs::read_link(&real_child).ok())
                    .map(|t| escape::os(t.as_os_str()).into_owned());
                Item {
                    name: escape::field(n).into_owned(),
                    meta,
                    link,
                }
            })
            .collect();
        self.write_items(io, ctx, &items)?;
        let mut ok = true;
        if self.recursive {
            for (n, it) in names.iter().zip(&items) {
                if n == b"." || n == b".." || crate::shell::interrupted() {
                    continue;
                }
                let Some(m) = &it.meta else { continue };
                if !m.is_dir() || !seen.insert((m.dev(), m.ino())) {
                    continue;
                }
                let child = join(n);
                writeln!(io.out, "\n{}:", escape::field(child.as_bytes()))?;
                ok &= self.dir(io, ctx, &child, seen)?;
            }
        }
        Ok(ok)
    }
}

/// Names in columns across the terminal width, or one per line off a terminal.
fn columns(io: &mut Io, ctx: &Ctx, names: &[&str], one: bool) -> io::Result<()> {
    let width: usize = ctx.var("COLUMNS").parse().unwrap_or(80);
    if one || !io.out.is_terminal() || names.is_empty() {
        for n in names {
            writeln!(io.out, "{n}")?;
        }
        return Ok(());
    }
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(1) + 2;
    let cols = (width / longest).max(1);
    let rows = names.len().div_ceil(cols);
    for r in 0..rows {
        let mut line = String::new();
        for c in 0..cols {
            if let Some(n) = names.get(c * rows + r) {
                line.push_str(n);
                line.push_str(&" ".repeat(longest - n.chars().count()));
            }
        }
        writeln!(io.out, "{}", line.trim_end())?;
    }
    Ok(())
}

impl Builtin for Ls {
    const NAME: &'static str = "ls";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let args = if self.files.is_empty() {
            vec![".".to_string()]
        } else {
            self.files.clone()
        };
        let mut status = 0;
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for a in &args {
            let real = ctx.resolve_link(a);
            match fs::symlink_metadata(&real) {
                Err(e) => {
                    writeln!(
                        io.err,
                        "ls: cannot access {}: {}",
                        escape::field(a.as_bytes()),
                        util::io_error(&e)
                    )?;
                    status = 2;
                }
                Ok(m) => {
                    // A symlink to a directory named on the command line is
                    // followed, as coreutils does without -l.
                    let is_dir = m.is_dir()
                        || (!self.long() && fs::metadata(&real).is_ok_and(|m| m.is_dir()));
                    if is_dir && !self.directory {
                        dirs.push(a.clone());
                    } else {
                        files.push(self.item(ctx, escape::field(a.as_bytes()).into_owned(), a));
                    }
                }
            }
        }
        if !files.is_empty() {
            self.write_items(io, ctx, &files)?;
        }
        let headers = dirs.len() + files.len() > 1 || self.recursive;
        let mut seen = HashSet::new();
        for (i, d) in dirs.iter().enumerate() {
            if headers {
                let sep = if i > 0 || !files.is_empty() { "\n" } else { "" };
                writeln!(io.out, "{sep}{}:", escape::field(d.as_bytes()))?;
            }
            if let Ok(m) = fs::metadata(ctx.resolve(d)) {
                seen.insert((m.dev(), m.ino()));
            }
            if !self.dir(io, ctx, d, &mut seen)? {
                status = status.max(1);
            }
        }
        Ok(status)
    }
}

use std::os::unix::fs::FileTypeExt;
