//! `cat [-f] [FILE...]`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print files (or stdin). To a terminal, control characters are shown
/// escaped and binary files are refused unless forced; to a pipe or a file
/// the bytes pass unchanged.
#[derive(Parser)]
#[command(name = "cat", disable_version_flag = true)]
pub struct Cat {
    /// Print a binary file to the terminal anyway (escaped).
    #[arg(short, long)]
    force: bool,
    /// Files; `-` or none reads stdin.
    files: Vec<String>,
}

/// Longest run read at once when escaping for a terminal.
const CHUNK: u64 = 64 * 1024;

/// Copy `input` to the output, escaping for a terminal when `tty`.
/// Returns false if the data looked binary and was refused.
pub fn copy(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    tty: bool,
    force: bool,
) -> io::Result<bool> {
    if !tty {
        let mut buf = [0u8; 64 * 1024];
        loop {
            if crate::shell::interrupted() {
                return Ok(true);
            }
            let n = input.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            out.write_all(&buf[..n])?;
        }
    }
    if !force && looks_binary(input.fill_buf()?) {
        return Ok(false);
    }
    let mut line = Vec::new();
    loop {
        if crate::shell::interrupted() {
            return Ok(true);
        }
        line.clear();
        let n = Read::take(&mut *input, CHUNK).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(true);
        }
        out.write_all(escape::text(&line).as_bytes())?;
    }
}

/// A NUL byte in the first block, as grep and less decide.
pub fn looks_binary(head: &[u8]) -> bool {
    head.iter().take(8192).any(|b| *b == 0)
}

impl Builtin for Cat {
    const NAME: &'static str = "cat";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let tty = io.out.is_terminal();
        let files = if self.files.is_empty() {
            vec!["-".to_string()]
        } else {
            self.files
        };
        let mut status = 0;
        for f in &files {
            let shown = escape::field(f.as_bytes());
            let ok = if f == "-" {
                copy(&mut io.stdin, &mut io.out, tty, self.force)
            } else {
                let path = ctx.resolve(f);
                match File::open(&path) {
                    Ok(file) if file.metadata().is_ok_and(|m| m.is_dir()) => {
                        writeln!(io.err, "cat: {shown}: Is a directory")?;
                        status = 1;
                        continue;
                    }
                    Ok(file) => copy(&mut BufReader::new(file), &mut io.out, tty, self.force),
                    Err(e) => {
                        writeln!(
                            io.err,
                            "cat: {shown}: {} (`why {shown} read` explains)",
                            util::io_error(&e)
                        )?;
                        status = 1;
                        continue;
                    }
                }
            };
            match ok {
                Ok(true) => {}
                Ok(false) => {
                    writeln!(
                        io.err,
                        "cat: {shown}: binary file not shown on a terminal (use -f, or `file {shown}`)"
                    )?;
                    status = 1;
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(e),
                Err(e) => {
                    writeln!(io.err, "cat: {shown}: {}", util::io_error(&e))?;
                    status = 1;
                }
            }
        }
        Ok(status)
    }
}
