//! `tail [-n N | -c N] [FILE...]`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the last lines (or bytes) of files or stdin.
///
/// `-N` is short for `-n N`; `-n +N` prints from line N on (`tail -n +2`
/// drops a header line), streaming.
#[derive(Parser)]
#[command(name = "tail", disable_version_flag = true)]
pub struct Tail {
    /// Lines to print (+N: from line N on).
    #[arg(short = 'n', long = "lines", default_value = "10", value_parser = parse_lines, allow_hyphen_values = true)]
    lines: Lines,
    /// Bytes to print instead of lines.
    #[arg(short = 'c', long = "bytes")]
    bytes: Option<u64>,
    files: Vec<String>,
}

/// `-n N` or `-n +N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Last(usize),
    From(u64),
}

fn parse_lines(s: &str) -> Result<Lines, String> {
    let bad = || format!("`{s}' is not a number of lines (N, or +N to start at line N)");
    match s.strip_prefix('+') {
        Some(n) => n.parse().map(Lines::From).map_err(|_| bad()),
        None => s.parse().map(Lines::Last).map_err(|_| bad()),
    }
}

/// Copy `input` from line `n` (1-based) on, holding at most a 1 MiB piece.
fn from_line(input: &mut dyn BufRead, n: u64, out: &mut dyn Write, tty: bool) -> io::Result<()> {
    let mut line = Vec::new();
    let mut number = 1u64;
    while !crate::shell::interrupted() && util::read_line_capped(input, &mut line)? {
        if number >= n {
            util::write_text(out, tty, &line)?;
        }
        if line.last() == Some(&b'\n') {
            number += 1;
        }
    }
    Ok(())
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
            (None, _) => match self.lines {
                Lines::Last(n) => last_lines(input, n),
                // `run` streams this case; collected here only for completeness.
                Lines::From(n) => {
                    let mut data = Vec::new();
                    from_line(input, n, &mut data, false)?;
                    Ok(data)
                }
            },
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
            let from = match (self.bytes, self.lines) {
                (None, Lines::From(n)) => Some(n),
                _ => None,
            };
            let data = if f == "-" {
                if let Some(n) = from {
                    from_line(&mut io.stdin, n, &mut io.out, tty)?;
                    continue;
                }
                self.one(&mut io.stdin, None)?
            } else {
                match File::open(ctx.resolve(f)) {
                    Ok(file) if from.is_some() => {
                        let n = from.unwrap_or(1);
                        from_line(&mut BufReader::new(file), n, &mut io.out, tty)?;
                        continue;
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(args: &[&str], stdin: &str) -> (String, String, i32) {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["tail".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin.as_bytes());
        let st = (super::super::find("tail").unwrap().run)(&argv, &mut io, &mut ctx);
        (io.out_text(), io.err_text(), st)
    }

    #[test]
    fn tail_counts_from_the_end_or_from_line_n() {
        assert_eq!(tail(&["-2"], "a\nb\nc\n").0, "b\nc\n");
        assert_eq!(tail(&["-n", "+2"], "a\nb\nc\n").0, "b\nc\n");
        assert_eq!(tail(&["-n+3"], "a\nb\nc").0, "c");
        assert_eq!(tail(&["-n", "+1"], "a\n").0, "a\n");
        assert_eq!(tail(&["-n", "+9"], "a\n").0, "");
        let (_, err, st) = tail(&["-n", "x"], "");
        assert_eq!(st, 2);
        assert!(err.contains("is not a number of lines"), "{err}");
    }
}
