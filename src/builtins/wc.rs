//! `wc [-lwc] [FILE...]`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Count lines, words and bytes of files (or stdin), as coreutils wc does.
///
/// Words are runs of bytes that are not ASCII white space.
///
/// JSON (--json): an array of {file, lines, words, bytes}, with a "total"
/// entry when more than one file is counted.
#[derive(Parser)]
#[command(name = "wc", disable_version_flag = true)]
pub struct Wc {
    /// Count lines.
    #[arg(short = 'l', long = "lines")]
    lines: bool,
    /// Count words.
    #[arg(short = 'w', long = "words")]
    words: bool,
    /// Count bytes.
    #[arg(short = 'c', long = "bytes")]
    bytes: bool,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// Files; `-` or none reads stdin.
    files: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub file: String,
    pub lines: u64,
    pub words: u64,
    pub bytes: u64,
}

/// Count a stream in blocks; a word may span two blocks.
pub fn count(input: &mut dyn BufRead) -> io::Result<Counts> {
    let mut c = Counts::default();
    let mut in_word = false;
    loop {
        if crate::shell::interrupted() {
            break;
        }
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        c.bytes += buf.len() as u64;
        for &b in buf {
            if b == b'\n' {
                c.lines += 1;
            }
            let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
            if !space && !in_word {
                c.words += 1;
            }
            in_word = !space;
        }
        let n = buf.len();
        input.consume(n);
    }
    Ok(c)
}

impl Builtin for Wc {
    const NAME: &'static str = "wc";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let (l, w, b) = if self.lines || self.words || self.bytes {
            (self.lines, self.words, self.bytes)
        } else {
            (true, true, true)
        };
        let files = if self.files.is_empty() {
            vec!["-".to_string()]
        } else {
            self.files.clone()
        };
        let mut rows = Vec::new();
        let mut status = 0;
        for f in &files {
            let counted = if f == "-" {
                count(&mut io.stdin)
            } else {
                File::open(ctx.resolve(f)).and_then(|file| {
                    if file.metadata()?.is_dir() {
                        return Err(io::Error::from(io::ErrorKind::IsADirectory));
                    }
                    count(&mut BufReader::with_capacity(64 * 1024, file))
                })
            };
            match counted {
                Ok(mut c) => {
                    c.file = if self.files.is_empty() {
                        String::new()
                    } else {
                        f.clone()
                    };
                    rows.push(c);
                }
                Err(e) => {
                    writeln!(
                        io.err,
                        "wc: {}: {}",
                        escape::field(f.as_bytes()),
                        util::io_error(&e)
                    )?;
                    status = 1;
                }
            }
        }
        if files.len() > 1 {
            let mut total = Counts {
                file: "total".into(),
                ..Counts::default()
            };
            for r in &rows {
                total.lines += r.lines;
                total.words += r.words;
                total.bytes += r.bytes;
            }
            rows.push(total);
        }
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            return Ok(status);
        }
        let width = rows
            .iter()
            .flat_map(|r| {
                [(l, r.lines), (w, r.words), (b, r.bytes)]
                    .into_iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| n.to_string().len())
            })
            .max()
            .unwrap_or(1);
        for r in &rows {
            let mut cells: Vec<String> = [(l, r.lines), (w, r.words), (b, r.bytes)]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| format!("{n:>width$}"))
                .collect();
            if !r.file.is_empty() {
                cells.push(escape::field(r.file.as_bytes()).into_owned());
            }
            writeln!(io.out, "{}", cells.join(" "))?;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_words_and_bytes() {
        let c = count(&mut io::Cursor::new(
            b"one two\n  three\tfour\nfive".to_vec(),
        ))
        .unwrap();
        assert_eq!((c.lines, c.words, c.bytes), (2, 5, 25));
        let c = count(&mut io::Cursor::new(Vec::new())).unwrap();
        assert_eq!((c.lines, c.words, c.bytes), (0, 0, 0));
    }

    #[test]
    fn words_spanning_buffer_boundaries_count_once() {
        let data = b"abcdef ghij".to_vec();
        let mut r = BufReader::with_capacity(4, io::Cursor::new(data));
        assert_eq!(count(&mut r).unwrap().words, 2);
    }

    #[test]
    fn output_aligns_like_coreutils() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x\ny\n").unwrap();
        std::fs::write(dir.path().join("b"), "hello world\n").unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut io = Io::buffers(b"");
        let argv: Vec<String> = ["wc", "/a", "/b"].map(String::from).to_vec();
        let st = (super::super::find("wc").unwrap().run)(&argv, &mut io, &mut ctx);
        assert_eq!(st, 0);
        assert_eq!(io.out_text(), " 2  2  4 /a\n 1  2 12 /b\n 3  4 16 total\n");
        let mut io = Io::buffers(b"a b\n");
        let argv: Vec<String> = ["wc", "-l"].map(String::from).to_vec();
        (super::super::find("wc").unwrap().run)(&argv, &mut io, &mut ctx);
        assert_eq!(io.out_text(), "1\n");
    }
}
