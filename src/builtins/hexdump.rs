//! `hexdump -C [-n LEN] [-s OFFSET] [-v] [FILE...]`.

use std::io::{self, BufWriter, Read, Write};

use clap::Parser;

use super::xxd::{printable, read_full};
use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Hex dump in the canonical layout of `hexdump -C` (the only one).
///
/// Each line: the offset, 16 bytes in hex, and the bytes as text between
/// bars (`.` for anything not printable ASCII). Lines equal to the one
/// before are shown once, then `*` (-v shows them all). The last line is
/// the length. Files are dumped as one stream.
#[derive(Parser)]
#[command(name = "hexdump", disable_version_flag = true)]
pub struct Hexdump {
    /// Canonical hex+ASCII display (the default; accepted for habit).
    #[arg(short = 'C')]
    canonical: bool,
    /// Stop after LEN bytes.
    #[arg(short = 'n', long = "length", value_name = "LEN")]
    len: Option<u64>,
    /// Skip OFFSET bytes first.
    #[arg(short = 's', long = "skip", value_name = "OFFSET", default_value_t = 0)]
    skip: u64,
    /// Show every line, also repeated ones.
    #[arg(short = 'v', long = "no-squeezing")]
    verbose: bool,
    files: Vec<String>,
}

/// One `hexdump -C` line.
pub fn canonical_line(offset: u64, bytes: &[u8]) -> String {
    let mut hex = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i == 8 {
            hex.push(' ');
        }
        hex.push_str(&format!("{b:02x} "));
    }
    let text: String = bytes.iter().map(|b| printable(*b)).collect();
    format!("{offset:08x}  {hex:49} |{text}|\n")
}

struct Dumper {
    offset: u64,
    /// Bytes waiting for a full line (input may end mid-line in one file).
    pending: Vec<u8>,
    prev: Option<Vec<u8>>,
    starred: bool,
    verbose: bool,
}

impl Dumper {
    fn line(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let line = std::mem::take(&mut self.pending);
        if !self.verbose && line.len() == 16 && self.prev.as_ref() == Some(&line) {
            if !self.starred {
                out.write_all(b"*\n")?;
                self.starred = true;
            }
        } else {
            out.write_all(canonical_line(self.offset, &line).as_bytes())?;
            self.starred = false;
        }
        self.offset += line.len() as u64;
        self.prev = Some(line);
        Ok(())
    }
}

impl Builtin for Hexdump {
    const NAME: &'static str = "hexdump";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let _ = self.canonical;
        let mut d = Dumper {
            offset: self.skip,
            pending: Vec::with_capacity(16),
            prev: None,
            starred: false,
            verbose: self.verbose,
        };
        let mut skip = self.skip;
        let mut left = self.len.unwrap_or(u64::MAX);
        let mut chunk = [0u8; 16];
        let status = util::each_input("hexdump", &self.files, io, ctx, |input, out| {
            skip -= io::copy(&mut Read::take(&mut *input, skip), &mut io::sink())?;
            let mut out = BufWriter::with_capacity(64 * 1024, out);
            while left > 0 && !crate::shell::interrupted() {
                let want = (16 - d.pending.len()).min(left.min(16) as usize);
                let n = read_full(input, &mut chunk[..want])?;
                if n == 0 {
                    break;
                }
                d.pending.extend_from_slice(&chunk[..n]);
                left -= n as u64;
                if d.pending.len() == 16 {
                    d.line(&mut out)?;
                }
            }
            out.flush()
        })?;
        if !d.pending.is_empty() {
            d.line(&mut io.out)?;
        }
        if d.offset > self.skip || status == 0 {
            writeln!(io.out, "{:08x}", d.offset)?;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexdump(args: &[&str], stdin: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["hexdump".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin);
        let st = (super::super::find("hexdump").unwrap().run)(&argv, &mut io, &mut ctx);
        assert_eq!(st, 0, "{}", io.err_text());
        io.out_text()
    }

    #[test]
    fn canonical_layout_and_squeezing_match_hexdump_c() {
        assert_eq!(
            hexdump(
                &["-C"],
                b"hello\n\x00\x01abcdefghijklmnopqrstuvwxyz0123456789"
            ),
            "00000000  68 65 6c 6c 6f 0a 00 01  61 62 63 64 65 66 67 68  |hello...abcdefgh|\n\
             00000010  69 6a 6b 6c 6d 6e 6f 70  71 72 73 74 75 76 77 78  |ijklmnopqrstuvwx|\n\
             00000020  79 7a 30 31 32 33 34 35  36 37 38 39              |yz0123456789|\n\
             0000002c\n"
        );
        assert_eq!(
            hexdump(&["-C"], &[0u8; 64]),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000040\n"
        );
        assert_eq!(
            hexdump(&["-C", "-v", "-n", "32"], &[0u8; 64])
                .lines()
                .count(),
            3
        );
        assert_eq!(
            hexdump(&["-C", "-s", "2", "-n", "1"], b"abc"),
            "00000002  63                                                |c|\n00000003\n"
        );
        assert_eq!(hexdump(&["-C"], b""), "00000000\n");
    }
}
