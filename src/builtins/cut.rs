//! `cut -f LIST [-d DELIM] [-s] | -c LIST | -b LIST [FILE...]`.

use std::io::{self, BufWriter, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Print selected fields, characters or bytes of each line, as GNU cut does.
///
/// LIST is comma-separated numbers and ranges, counted from 1: `N`, `N-M`,
/// `N-` (to the end), `-M` (from the start). Selected parts are printed in
/// the order of the line, each once. -c counts bytes, as GNU cut does.
#[derive(Parser)]
#[command(name = "cut", disable_version_flag = true)]
pub struct Cut {
    /// Select these fields.
    #[arg(
        short = 'f',
        long = "fields",
        value_name = "LIST",
        allow_hyphen_values = true
    )]
    fields: Option<String>,
    /// Select these characters.
    #[arg(
        short = 'c',
        long = "characters",
        value_name = "LIST",
        allow_hyphen_values = true
    )]
    chars: Option<String>,
    /// Select these bytes.
    #[arg(
        short = 'b',
        long = "bytes",
        value_name = "LIST",
        allow_hyphen_values = true
    )]
    bytes: Option<String>,
    /// Field delimiter (one character; default TAB).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    delim: Option<String>,
    /// With -f, skip lines that hold no delimiter.
    #[arg(short = 's', long = "only-delimited")]
    only_delimited: bool,
    /// Separate output fields with STRING (default: the delimiter).
    #[arg(long = "output-delimiter", value_name = "STRING")]
    output_delimiter: Option<String>,
    files: Vec<String>,
}

/// Inclusive 1-based ranges; `usize::MAX` is "to the end".
pub fn parse_list(s: &str) -> Result<Vec<(usize, usize)>, String> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let bad = || {
            format!(
                "invalid list `{}'",
                crate::term::escape::field(s.as_bytes())
            )
        };
        let num = |t: &str| -> Result<usize, String> {
            let n: usize = t.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err("fields and positions are numbered from 1".into());
            }
            Ok(n)
        };
        let range = match part.split_once('-') {
            None => {
                let n = num(part)?;
                (n, n)
            }
            Some(("", "")) => return Err(bad()),
            Some(("", b)) => (1, num(b)?),
            Some((a, "")) => (num(a)?, usize::MAX),
            Some((a, b)) => (num(a)?, num(b)?),
        };
        if range.0 > range.1 {
            return Err("invalid decreasing range".into());
        }
        v.push(range);
    }
    Ok(v)
}

fn selected(list: &[(usize, usize)], n: usize) -> bool {
    list.iter().any(|(a, b)| *a <= n && n <= *b)
}

enum Mode {
    Fields {
        list: Vec<(usize, usize)>,
        delim: u8,
        out_delim: Vec<u8>,
        only_delimited: bool,
    },
    Bytes(Vec<(usize, usize)>),
}

impl Mode {
    fn line(&self, line: &[u8], out: &mut Vec<u8>) -> bool {
        match self {
            Mode::Bytes(list) => {
                out.extend(
                    line.iter()
                        .enumerate()
                        .filter(|(i, _)| selected(list, i + 1))
                        .map(|(_, b)| *b),
                );
                true
            }
            Mode::Fields {
                list,
                delim,
                out_delim,
                only_delimited,
            } => {
                if !line.contains(delim) {
                    // A line without the delimiter passes whole (GNU).
                    out.extend_from_slice(line);
                    return !only_delimited;
                }
                let mut first = true;
                for (i, f) in line.split(|b| b == delim).enumerate() {
                    if selected(list, i + 1) {
                        if !first {
                            out.extend_from_slice(out_delim);
                        }
                        out.extend_from_slice(f);
                        first = false;
                    }
                }
                true
            }
        }
    }
}

impl Builtin for Cut {
    const NAME: &'static str = "cut";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let usage = |io: &mut Io, msg: &str| -> io::Result<i32> {
            writeln!(io.err, "cut: {msg}")?;
            Ok(2)
        };
        let given = [&self.fields, &self.chars, &self.bytes]
            .iter()
            .filter(|o| o.is_some())
            .count();
        if given != 1 {
            return usage(io, "give exactly one of -f, -c or -b (try `cut --help`)");
        }
        let list = match parse_list(
            self.fields
                .as_deref()
                .or(self.chars.as_deref())
                .or(self.bytes.as_deref())
                .unwrap_or_default(),
        ) {
            Ok(l) => l,
            Err(e) => return usage(io, &e),
        };
        let mode = if self.fields.is_some() {
            let delim = match self.delim.as_deref().map(str::as_bytes) {
                None => b'\t',
                Some([d]) => *d,
                Some(_) => return usage(io, "the delimiter must be a single character"),
            };
            Mode::Fields {
                list,
                delim,
                out_delim: self
                    .output_delimiter
                    .clone()
                    .map_or(vec![delim], String::into_bytes),
                only_delimited: self.only_delimited,
            }
        } else {
            if self.delim.is_some() || self.only_delimited {
                return usage(io, "-d and -s go with -f only");
            }
            Mode::Bytes(list)
        };
        let tty = io.out.is_terminal();
        util::each_input("cut", &self.files, io, ctx, |input, out| {
            let mut out = BufWriter::with_capacity(64 * 1024, out);
            let mut buf = Vec::new();
            let mut piece = Vec::new();
            while !crate::shell::interrupted() && util::read_line_capped(input, &mut buf)? {
                let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                piece.clear();
                if mode.line(line, &mut piece) {
                    util::write_text(&mut out, tty, &piece)?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(args: &[&str], stdin: &str) -> (String, String, i32) {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["cut".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin.as_bytes());
        let st = (super::super::find("cut").unwrap().run)(&argv, &mut io, &mut ctx);
        (io.out_text(), io.err_text(), st)
    }

    #[test]
    fn cut_selects_fields_and_bytes_like_gnu() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532::/home:/x\n";
        assert_eq!(cut(&["-d:", "-f1,3"], pw).0, "root:0\nnonroot:65532\n");
        assert_eq!(
            cut(&["-d", ":", "-f", "6-"], pw).0,
            "/root:/bin/sh\n/home:/x\n"
        );
        assert_eq!(
            cut(&["-d:", "-f3,1", "--output-delimiter= "], pw).0,
            "root 0\nnonroot 65532\n"
        );
        assert_eq!(cut(&["-f2"], "a\tb\tc\nnone\n").0, "b\nnone\n");
        assert_eq!(cut(&["-s", "-f2"], "a\tb\tc\nnone\n").0, "b\n");
        assert_eq!(cut(&["-c", "-3"], "abcdef\n").0, "abc\n");
        assert_eq!(cut(&["-b", "2,4-5"], "abcdef\n").0, "bde\n");
        assert_eq!(cut(&["-c1"], "x").0, "x\n");
    }

    #[test]
    fn cut_usage_errors_are_one_sentence() {
        assert_eq!(
            cut(&["-f0"], "").1,
            "cut: fields and positions are numbered from 1\n"
        );
        assert_eq!(cut(&["-f", "3-1"], "").1, "cut: invalid decreasing range\n");
        assert_eq!(cut(&["-f", "a"], "").1, "cut: invalid list `a'\n");
        let (_, err, st) = cut(&[], "");
        assert_eq!(st, 2);
        assert!(err.contains("exactly one of -f, -c or -b"));
        assert_eq!(
            cut(&["-c1", "-d:"], "").1,
            "cut: -d and -s go with -f only\n"
        );
    }
}
