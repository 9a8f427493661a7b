//! `uniq [-cdui] [-f N] [-s N] [INPUT]`.

use std::io::{self, BufWriter, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Collapse adjacent equal lines into one, as GNU uniq does.
///
/// Only adjacent lines are compared (sort first for a global count:
/// `sort | uniq -c | sort -rn`). uniq holds one line at a time; a line is
/// compared in pieces of at most 1 MiB.
#[derive(Parser)]
#[command(name = "uniq", disable_version_flag = true)]
pub struct Uniq {
    /// Prefix lines with the number of occurrences.
    #[arg(short = 'c', long = "count")]
    count: bool,
    /// Print only lines that are repeated (one of each group).
    #[arg(short = 'd', long = "repeated")]
    repeated: bool,
    /// Print only lines that are not repeated.
    #[arg(short = 'u', long = "unique")]
    unique: bool,
    /// Ignore case when comparing.
    #[arg(short = 'i', long = "ignore-case")]
    ignore_case: bool,
    /// Skip the first N blank-separated fields when comparing.
    #[arg(
        short = 'f',
        long = "skip-fields",
        value_name = "N",
        default_value_t = 0
    )]
    skip_fields: usize,
    /// Skip the first N characters (after the fields) when comparing.
    #[arg(
        short = 's',
        long = "skip-chars",
        value_name = "N",
        default_value_t = 0
    )]
    skip_chars: usize,
    /// Input file (default: stdin). uniq never writes a file.
    input: Option<String>,
}

impl Uniq {
    /// The part of a line that is compared.
    fn part<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let mut i = 0;
        for _ in 0..self.skip_fields {
            while i < line.len() && blank(&line[i]) {
                i += 1;
            }
            while i < line.len() && !blank(&line[i]) {
                i += 1;
            }
        }
        &line[(i + self.skip_chars).min(line.len())..]
    }

    fn same(&self, a: &[u8], b: &[u8]) -> bool {
        let (a, b) = (self.part(a), self.part(b));
        if self.ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    fn emit(&self, out: &mut dyn Write, tty: bool, line: &[u8], n: u64) -> io::Result<()> {
        if (self.repeated && n < 2) || (self.unique && n > 1) {
            return Ok(());
        }
        if self.count {
            write!(out, "{n:7} ")?;
        }
        util::write_text(out, tty, line)?;
        out.write_all(b"\n")
    }

    fn filter(
        &self,
        input: &mut dyn io::BufRead,
        out: &mut dyn Write,
        tty: bool,
    ) -> io::Result<()> {
        let mut prev: Option<Vec<u8>> = None;
        let mut n = 0u64;
        let mut buf = Vec::new();
        while !crate::shell::interrupted() && util::read_line_capped(input, &mut buf)? {
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            match &prev {
                Some(p) if self.same(p, &buf) => n += 1,
                _ => {
                    if let Some(p) = prev.take() {
                        self.emit(out, tty, &p, n)?;
                    }
                    prev = Some(buf.clone());
                    n = 1;
                }
            }
        }
        if let Some(p) = prev {
            self.emit(out, tty, &p, n)?;
        }
        Ok(())
    }
}

impl Builtin for Uniq {
    const NAME: &'static str = "uniq";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let tty = io.out.is_terminal();
        let files: Vec<String> = self.input.iter().cloned().collect();
        let status = util::each_input("uniq", &files, io, ctx, |input, out| {
            let mut out = BufWriter::with_capacity(64 * 1024, out);
            self.filter(input, &mut out, tty)?;
            out.flush()
        })?;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniq(args: &[&str], stdin: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["uniq".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin.as_bytes());
        let st = (super::super::find("uniq").unwrap().run)(&argv, &mut io, &mut ctx);
        assert_eq!(st, 0, "{}", io.err_text());
        io.out_text()
    }

    #[test]
    fn uniq_counts_and_filters_adjacent_runs() {
        let input = "a\na\nb\na\nc\nc\nc\n";
        assert_eq!(uniq(&[], input), "a\nb\na\nc\n");
        assert_eq!(
            uniq(&["-c"], input),
            "      2 a\n      1 b\n      1 a\n      3 c\n"
        );
        assert_eq!(uniq(&["-d"], input), "a\nc\n");
        assert_eq!(uniq(&["-u"], input), "b\na\n");
        assert_eq!(uniq(&["-i"], "A\na\nb\n"), "A\nb\n");
        assert_eq!(uniq(&["-f", "1"], "1 x\n2 x\n3 y\n"), "1 x\n3 y\n");
        assert_eq!(uniq(&["-s", "2"], "aax\nbbx\n"), "aax\n");
        assert_eq!(uniq(&[], "last"), "last\n");
    }
}
