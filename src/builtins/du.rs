//! `du [-sha] [-d N] [PATH...]`.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Disk usage of directories (allocated blocks, hard links once).
///
/// Disk usage of each directory (from allocated blocks, as GNU du: a sparse
/// file counts what it occupies, a file with several hard links once), in
/// KiB. Symbolic links are not followed.
///
/// JSON (--json): an array of {path, disk_bytes} in the order printed.
#[derive(Parser)]
#[command(name = "du", disable_version_flag = true, disable_help_flag = true)]
pub struct Du {
    /// Only a total for each argument.
    #[arg(short = 's', long = "summarize")]
    summarize: bool,
    /// Human-readable sizes (1K, 23M).
    #[arg(short = 'h', long = "human-readable")]
    human: bool,
    /// Files too, not only directories.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Print totals only N levels below each argument.
    #[arg(short = 'd', long = "max-depth", value_name = "N")]
    max_depth: Option<usize>,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Paths (default `.`).
    paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub path: String,
    pub disk_bytes: u64,
}

struct Walk<'a, W: Write> {
    args: &'a Du,
    out: W,
    err: &'a mut dyn Write,
    tty: bool,
    seen: HashSet<(u64, u64)>,
    rows: Vec<Row>,
    status: i32,
}

impl<W: Write> Walk<'_, W> {
    fn show(&mut self, depth: usize, is_dir: bool, bytes: u64, shown: &[u8]) -> io::Result<()> {
        let wanted = if self.args.summarize {
            depth == 0
        } else {
            (is_dir || self.args.all || depth == 0)
                && self.args.max_depth.is_none_or(|d| depth <= d)
        };
        if !wanted {
            return Ok(());
        }
        if self.args.json {
            self.rows.push(Row {
                path: String::from_utf8_lossy(shown).into_owned(),
                disk_bytes: bytes,
            });
            return Ok(());
        }
        let size = if self.args.human {
            util::human(bytes)
        } else {
            bytes.div_ceil(1024).to_string()
        };
        write!(self.out, "{size}\t")?;
        if self.tty {
            self.out.write_all(escape::field(shown).as_bytes())?;
        } else {
            self.out.write_all(shown)?;
        }
        self.out.write_all(b"\n")
    }

    /// Total of `real`, printing directories (post-order) as it goes.
    fn walk(&mut self, real: &Path, shown: &mut Vec<u8>, depth: usize) -> io::Result<u64> {
        let m = match fs::symlink_metadata(real) {
            Ok(m) => m,
            Err(e) => {
                self.warn("cannot access", shown, &e)?;
                return Ok(0);
            }
        };
        if m.nlink() > 1 && !m.is_dir() && !self.seen.insert((m.dev(), m.ino())) {
            return Ok(0);
        }
        let mut total = m.blocks() * 512;
        if m.is_dir() && !crate::shell::interrupted() {
            match fs::read_dir(real) {
                Ok(rd) => {
                    let base = shown.len();
                    for ent in rd.filter_map(Result::ok) {
                        shown.truncate(base);
                        if shown.last() != Some(&b'/') {
                            shown.push(b'/');
                        }
                        shown.extend_from_slice(ent.file_name().as_bytes());
                        total += self.walk(&ent.path(), shown, depth + 1)?;
                    }
                    shown.truncate(base);
                }
                Err(e) => self.warn("cannot read directory", shown, &e)?,
            }
        }
        self.show(depth, m.is_dir(), total, shown)?;
        Ok(total)
    }

    fn warn(&mut self, what: &str, shown: &[u8], e: &io::Error) -> io::Result<()> {
        self.out.flush()?;
        writeln!(
            self.err,
            "du: {what} '{}': {}",
            escape::field(shown),
            util::io_error(e)
        )?;
        self.status = 1;
        Ok(())
    }
}

impl Builtin for Du {
    const NAME: &'static str = "du";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let paths = if self.paths.is_empty() {
            vec![".".to_string()]
        } else {
            self.paths.clone()
        };
        let tty = io.out.is_terminal();
        let mut w = Walk {
            args: &self,
            out: BufWriter::with_capacity(if tty { 0 } else { 64 * 1024 }, &mut io.out),
            err: &mut io.err,
            tty,
            seen: HashSet::new(),
            rows: Vec::new(),
            status: 0,
        };
        for p in &paths {
            let mut shown = p.as_bytes().to_vec();
            w.walk(&ctx.resolve(p), &mut shown, 0)?;
        }
        if self.json {
            let rows = std::mem::take(&mut w.rows);
            util::write_json(&mut w.out, &rows)?;
        }
        w.out.flush()?;
        Ok(w.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn du_counts_blocks_and_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("d/sub")).unwrap();
        fs::write(r.join("d/sub/big"), vec![1u8; 100_000]).unwrap();
        fs::hard_link(r.join("d/sub/big"), r.join("d/big-again")).unwrap();
        let expect: u64 = ["d", "d/sub", "d/sub/big"]
            .iter()
            .map(|p| fs::symlink_metadata(r.join(p)).unwrap().blocks() * 512)
            .sum();
        let mut ctx = Ctx::for_root(r.to_path_buf());
        let mut io = Io::buffers(b"");
        let argv: Vec<String> = ["du", "-s", "--json", "/d"].map(String::from).to_vec();
        let st = (super::super::find("du").unwrap().run)(&argv, &mut io, &mut ctx);
        assert_eq!(st, 0, "{}", io.err_text());
        let v: serde_json::Value = serde_json::from_str(&io.out_text()).unwrap();
        assert_eq!(v[0]["path"], "/d");
        assert_eq!(v[0]["disk_bytes"], expect);
        let mut io = Io::buffers(b"");
        let argv: Vec<String> = ["du", "/d"].map(String::from).to_vec();
        (super::super::find("du").unwrap().run)(&argv, &mut io, &mut ctx);
        let text = io.out_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("\t/d/sub"));
        assert_eq!(lines[1], format!("{}\t/d", expect.div_ceil(1024)));
    }
}
