//! `strings [-n MIN] [-t d|o|x] [FILE...]`.

use std::io::{self, BufWriter, Read, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Print the runs of printable characters in files, as GNU strings -a does.
///
/// A run is at least MIN bytes of printable ASCII or tab; the whole file
/// is scanned. A run is printed as it is found, and at most 1 MiB of it is
/// held: a longer one is printed in pieces.
#[derive(Parser)]
#[command(name = "strings", disable_version_flag = true)]
pub struct Strings {
    /// Shortest run to print.
    #[arg(short = 'n', long = "bytes", value_name = "MIN", default_value_t = 4)]
    min: usize,
    /// Prefix each run with its offset: d decimal, o octal, x hex.
    #[arg(short = 't', long = "radix", value_name = "RADIX")]
    radix: Option<char>,
    /// Scan the whole file (always done; accepted for habit).
    #[arg(short = 'a', long = "all")]
    all: bool,
    files: Vec<String>,
}

fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || b == b'\t'
}

impl Strings {
    fn emit(&self, out: &mut dyn Write, at: u64, run: &[u8]) -> io::Result<()> {
        match self.radix {
            Some('d') => write!(out, "{at:7} ")?,
            Some('o') => write!(out, "{at:7o} ")?,
            Some('x') => write!(out, "{at:7x} ")?,
            _ => {}
        }
        out.write_all(run)?;
        out.write_all(b"\n")
    }

    fn scan(&self, input: &mut dyn Read, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut run = Vec::new();
        let mut run_at = 0u64;
        let mut offset = 0u64;
        loop {
            if crate::shell::interrupted() {
                return Ok(());
            }
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for &b in &buf[..n] {
                if printable(b) {
                    if run.is_empty() {
                        run_at = offset;
                    }
                    run.push(b);
                    if run.len() as u64 >= util::LINE_CAP {
                        self.emit(out, run_at, &run)?;
                        run.clear();
                    }
                } else {
                    if run.len() >= self.min {
                        self.emit(out, run_at, &run)?;
                    }
                    run.clear();
                }
                offset += 1;
            }
        }
        if run.len() >= self.min {
            self.emit(out, run_at, &run)?;
        }
        Ok(())
    }
}

impl Builtin for Strings {
    const NAME: &'static str = "strings";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let _ = self.all;
        if self.min == 0 {
            writeln!(io.err, "strings: invalid minimum string length 0")?;
            return Ok(2);
        }
        if let Some(r) = self.radix.filter(|r| !matches!(r, 'd' | 'o' | 'x')) {
            writeln!(
                io.err,
                "strings: invalid radix `{}' (d, o or x)",
                crate::term::escape::field(r.to_string().as_bytes())
            )?;
            return Ok(2);
        }
        util::each_input("strings", &self.files, io, ctx, |input, out| {
            let mut out = BufWriter::with_capacity(64 * 1024, out);
            self.scan(input, &mut out)?;
            out.flush()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str], stdin: &[u8]) -> (String, i32) {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["strings".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin);
        let st = (super::super::find("strings").unwrap().run)(&argv, &mut io, &mut ctx);
        (io.out_text() + &io.err_text(), st)
    }

    #[test]
    fn strings_prints_printable_runs_of_min_length() {
        let bin = b"\x7fELF\x00\x01abc\x00hello world\x1bGLIBC_2.34\x00\tx\ty";
        assert_eq!(strings(&[], bin).0, "hello world\nGLIBC_2.34\n\tx\ty\n");
        assert_eq!(
            strings(&["-n", "3"], bin).0,
            "ELF\nabc\nhello world\nGLIBC_2.34\n\tx\ty\n"
        );
        assert_eq!(strings(&["-t", "x"], b"\x00\x00abcd").0, "      2 abcd\n");
        assert_eq!(strings(&["-n", "0"], b"").1, 2);
        assert_eq!(strings(&["-t", "q"], b"").1, 2);
    }
}
