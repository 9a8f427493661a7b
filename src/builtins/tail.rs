//! `tail [-n N | -c N] [FILE...]`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::escape;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Print the last lines (or bytes) of files or stdin.
///
/// `-N` is short for `-n N`.
#[derive(Parser)]
#[command(name = "tail", disable_version_flag = true)]
pub struct Tail {
    /// Lines to print.
    #[arg(short = 'n', long = "lines", default_value_t = 10)]
    lines: usize,
    /// Bytes to print instead of lines.
    #[arg(short = 'c', long = "bytes")]
    bytes: Option<u64>,
    files: Vec<String>,
}

/// The last `lines` lines, keeping only those in memory.
fn last_lines(input: &mut dyn BufRead, lines: usize) -> io::Result<Vec<u8>> {
    let mut ring: VecDeque<Vec<u8>> = VecDeque::with_capacity(lines + 1);
    loop {
        if crate::shell::interrupted() {
            break;
        }
        let mut line = Vec::new();
        let n = Read::take(&mut *input, 1 << 20).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        ring.push_back(line);
        if ring.len() > lines {
            ring.pop_front();
        }
    }
    Ok(ring.into_iter().flatten().collect())
}

impl Tail {
    fn one(&self, input: &mut dyn BufRead, file: Option<&mut File>) -> io::Result<Vec<u8>> {
        match (self.bytes, file) {
            (Some(n), Some(f)) if f.metadata()?.is_file() => {
                let len = f.metadata()?.len();
                f.seek(SeekFrom::Start(len.saturating_sub(n)))?;
                let mut data = Vec::new();
                f.take(n).read_to_end(&mut data)?;
                Ok(data)
            }
            (Some(n), _) => {
                let mut ring: VecDeque<u8> = VecDeque::new();
                let mut buf = [0u8; 8192];
                loop {
                    let k = input.read(&mut buf)?;
                    if k == 0 {
                        break;
                    }
                    ring.extend(&buf[..k]);
                    while ring.len() as u64 > n {
                        ring.pop_front();
                    }
                }
                Ok(ring.into_iter().collect())
            }
            (None, _) => last_lines(input, self.lines),
        }
    }
}

impl Builtin for Tail {
    const NAME: &'static str = "tail";
    fn rewrite_args(argv: &[String]) -> Vec<String> {
        util::count_shorthand(argv)
    }
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let tty = io.out.is_terminal();
        let files = util::files_or_stdin(&self.files);
        let many = files.len() > 1;
        let mut status = 0;
        for (i, f) in files.iter().enumerate() {
            if many {
                util::write_file_header(&mut io.out, i, f)?;
            }
            let data = if f == "-" {
                self.one(&mut io.stdin, None)?
            } else {
                match File::open(ctx.resolve(f)) {
                    Ok(mut file) => {
                        let mut clone = file.try_clone()?;
                        let mut reader = BufReader::new(&mut file);
                        self.one(&mut reader, Some(&mut clone))?
                    }
                    Err(e) => {
                        writeln!(
                            io.err,
                            "tail: {}: {}",
                            escape::field(f.as_bytes()),
                            util::io_error(&e)
                        )?;
                        status = 1;
                        continue;
                    }
                }
            };
            if tty {
                io.out.write_all(escape::text(&data).as_bytes())?;
            } else {
                io.out.write_all(&data)?;
            }
        }
        Ok(status)
    }
}
