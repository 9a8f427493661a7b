//! `head [-n N | -c N] [FILE...]`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the first lines (or bytes) of files or stdin.
///
/// `-N` is short for `-n N`.
#[derive(Parser)]
#[command(name = "head", disable_version_flag = true)]
pub struct Head {
    /// Lines to print.
    #[arg(short = 'n', long = "lines", default_value_t = 10)]
    lines: u64,
    /// Bytes to print instead of lines.
    #[arg(short = 'c', long = "bytes")]
    bytes: Option<u64>,
    files: Vec<String>,
}

fn head(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    lines: u64,
    bytes: Option<u64>,
    tty: bool,
) -> io::Result<()> {
    let mut data = Vec::new();
    match bytes {
        Some(n) => {
            input.take(n).read_to_end(&mut data)?;
        }
        None => {
            for _ in 0..lines {
                // Cap a line so a file without newlines is not read whole.
                let n = Read::take(&mut *input, 1 << 20).read_until(b'\n', &mut data)?;
                if n == 0 {
                    break;
                }
            }
        }
    }
    if tty {
        out.write_all(escape::text(&data).as_bytes())
    } else {
        out.write_all(&data)
    }
}

impl Builtin for Head {
    const NAME: &'static str = "head";
    fn rewrite_args(argv: &[String]) -> Vec<String> {
        util::count_shorthand(argv)
    }
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let tty = io.out.is_terminal();
        let files = util::files_or_stdin(&self.files);
        let mut status = 0;
        let many = files.len() > 1;
        for (i, f) in files.iter().enumerate() {
            if many {
                util::write_file_header(&mut io.out, i, f)?;
            }
            if f == "-" {
                head(&mut io.stdin, &mut io.out, self.lines, self.bytes, tty)?;
                continue;
            }
            match File::open(ctx.resolve(f)) {
                Ok(file) => head(
                    &mut BufReader::new(file),
                    &mut io.out,
                    self.lines,
                    self.bytes,
                    tty,
                )?,
                Err(e) => {
                    writeln!(
                        io.err,
                        "head: {}: {}",
                        escape::field(f.as_bytes()),
                        util::io_error(&e)
                    )?;
                    status = 1;
                }
            }
        }
        Ok(status)
    }
}
