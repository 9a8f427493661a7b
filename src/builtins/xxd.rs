//! `xxd [-l LEN] [-s OFFSET] [-c COLS] [-g BYTES] [-p] [FILE]`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Hex dump of a file (or stdin) in xxd's default layout.
///
/// Each line: the offset, the bytes in hex grouped by two, and the bytes
/// as text (`.` for anything not printable ASCII, so the output is safe on
/// a terminal). Streams: memory does not grow with the input.
#[derive(Parser)]
#[command(name = "xxd", disable_version_flag = true)]
pub struct Xxd {
    /// Stop after LEN bytes.
    #[arg(short = 'l', long = "len", value_name = "LEN")]
    len: Option<u64>,
    /// Start at byte OFFSET.
    #[arg(short = 's', long = "seek", value_name = "OFFSET", default_value_t = 0)]
    seek: u64,
    /// Bytes per line (default 16; 30 with -p).
    #[arg(short = 'c', long = "cols", value_name = "COLS")]
    cols: Option<usize>,
    /// Bytes per group (default 2).
    #[arg(
        short = 'g',
        long = "groupsize",
        value_name = "BYTES",
        default_value_t = 2
    )]
    group: usize,
    /// Plain hex, no offsets or text.
    #[arg(short = 'p', long = "plain")]
    plain: bool,
    file: Option<String>,
}

/// One line of xxd's layout for `bytes` at `offset`.
pub fn xxd_line(offset: u64, bytes: &[u8], cols: usize, group: usize) -> String {
    let mut hex = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && group > 0 && i % group == 0 {
            hex.push(' ');
        }
        hex.push_str(&format!("{b:02x}"));
    }
    let groups = if group == 0 { 1 } else { cols.div_ceil(group) };
    let width = cols * 2 + groups - 1;
    let text: String = bytes.iter().map(|b| printable(*b)).collect();
    format!("{offset:08x}: {hex:width$}  {text}\n")
}

/// A byte as the text column shows it.
pub fn printable(b: u8) -> char {
    if (0x20..0x7f).contains(&b) {
        b as char
    } else {
        '.'
    }
}

/// Read up to `buf.len()` bytes, fewer only at the end.
pub fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Xxd {
    fn dump(&self, input: &mut dyn Read, out: &mut dyn Write, start: u64) -> io::Result<()> {
        let cols = self
            .cols
            .unwrap_or(if self.plain { 30 } else { 16 })
            .clamp(1, 256);
        let mut left = self.len.unwrap_or(u64::MAX);
        let mut offset = start;
        let mut buf = vec![0u8; cols];
        while left > 0 && !crate::shell::interrupted() {
            let want = (cols as u64).min(left) as usize;
            let n = read_full(input, &mut buf[..want])?;
            if n == 0 {
                break;
            }
            if self.plain {
                for b in &buf[..n] {
                    write!(out, "{b:02x}")?;
                }
                writeln!(out)?;
            } else {
                out.write_all(xxd_line(offset, &buf[..n], cols, self.group).as_bytes())?;
            }
            offset += n as u64;
            left -= n as u64;
        }
        Ok(())
    }
}

impl Builtin for Xxd {
    const NAME: &'static str = "xxd";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut out = BufWriter::with_capacity(64 * 1024, &mut io.out);
        match self.file.as_deref() {
            None | Some("-") => {
                io::copy(&mut Read::take(&mut io.stdin, self.seek), &mut io::sink())?;
                self.dump(&mut io.stdin, &mut out, self.seek)?;
            }
            Some(f) => match File::open(ctx.resolve(f)) {
                Ok(mut file) => {
                    if file.metadata()?.is_file() {
                        file.seek(SeekFrom::Start(self.seek))?;
                    } else {
                        io::copy(&mut Read::take(&mut file, self.seek), &mut io::sink())?;
                    }
                    self.dump(&mut io::BufReader::new(file), &mut out, self.seek)?;
                }
                Err(e) => {
                    drop(out);
                    writeln!(
                        io.err,
                        "xxd: {}: {}",
                        crate::term::escape::field(f.as_bytes()),
                        util::io_error(&e)
                    )?;
                    return Ok(2);
                }
            },
        }
        out.flush()?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xxd(args: &[&str], stdin: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["xxd".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin);
        let st = (super::super::find("xxd").unwrap().run)(&argv, &mut io, &mut ctx);
        assert_eq!(st, 0, "{}", io.err_text());
        io.out_text()
    }

    #[test]
    fn xxd_layout_matches_xxd() {
        assert_eq!(
            xxd(&[], b"abc"),
            "00000000: 6162 63                                  abc\n"
        );
        assert_eq!(
            xxd(&[], b"hello\n\x00\x01abcdefghijkl\x1b"),
            "00000000: 6865 6c6c 6f0a 0001 6162 6364 6566 6768  hello...abcdefgh\n\
             00000010: 696a 6b6c 1b                             ijkl.\n"
        );
        assert_eq!(
            xxd(&["-l", "2", "-s", "1"], b"abcd"),
            "00000001: 6263                                     bc\n"
        );
        assert_eq!(xxd(&["-p"], b"\x00\xff"), "00ff\n");
        assert_eq!(
            xxd(&["-c", "4", "-g", "1"], b"abcde"),
            "00000000: 61 62 63 64  abcd\n00000004: 65           e\n"
        );
        assert_eq!(xxd(&[], b""), "");
    }
}
