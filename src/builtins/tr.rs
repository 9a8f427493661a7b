//! `tr [-cds] SET1 [SET2]`.

use std::io::{self, BufWriter, Read, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Translate, squeeze or delete bytes from stdin, as GNU tr does.
///
/// SETs are bytes: `a-z` ranges, `\n \t \r \\ \NNN` (octal) escapes and
/// the classes [:alnum:] [:alpha:] [:blank:] [:digit:] [:lower:] [:upper:]
/// [:punct:] [:space:] [:xdigit:] [:cntrl:]. When SET2 is shorter than
/// SET1, its last byte is repeated. tr reads stdin only (`tr a b < FILE`)
/// and streams: memory does not grow with the input.
#[derive(Parser)]
#[command(name = "tr", disable_version_flag = true)]
pub struct Tr {
    /// Use the complement of SET1 (every byte not in it).
    #[arg(short = 'c', short_alias = 'C', long = "complement")]
    complement: bool,
    /// Delete the bytes of SET1.
    #[arg(short = 'd', long = "delete")]
    delete: bool,
    /// Squeeze runs of a byte of the last SET into one.
    #[arg(short = 's', long = "squeeze-repeats")]
    squeeze: bool,
    set1: String,
    set2: Option<String>,
}

/// The bytes a SET names, in order.
pub fn parse_set(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    // One byte, with escapes; returns (byte, next index).
    let one = |i: usize| -> (u8, usize) {
        if b[i] != b'\\' || i + 1 >= b.len() {
            return (b[i], i + 1);
        }
        match b[i + 1] {
            b'n' => (b'\n', i + 2),
            b't' => (b'\t', i + 2),
            b'r' => (b'\r', i + 2),
            b'a' => (7, i + 2),
            b'b' => (8, i + 2),
            b'f' => (12, i + 2),
            b'v' => (11, i + 2),
            b'0'..=b'7' => {
                let mut v = 0u32;
                let mut j = i + 1;
                while j < b.len() && j < i + 4 && (b'0'..=b'7').contains(&b[j]) {
                    v = v * 8 + u32::from(b[j] - b'0');
                    j += 1;
                }
                ((v & 0xff) as u8, j)
            }
            c => (c, i + 2),
        }
    };
    while i < b.len() {
        if b[i] == b'['
            && b.get(i + 1) == Some(&b':')
            && let Some(end) = s[i + 2..].find(":]")
        {
            let name = &s[i + 2..i + 2 + end];
            let test: fn(&u8) -> bool = match name {
                "alnum" => u8::is_ascii_alphanumeric,
                "alpha" => u8::is_ascii_alphabetic,
                "blank" => |c| *c == b' ' || *c == b'\t',
                "digit" => u8::is_ascii_digit,
                "lower" => u8::is_ascii_lowercase,
                "upper" => u8::is_ascii_uppercase,
                "punct" => u8::is_ascii_punctuation,
                "space" => |c| c.is_ascii_whitespace() || *c == 11,
                "xdigit" => u8::is_ascii_hexdigit,
                "cntrl" => u8::is_ascii_control,
                _ => return Err(format!("invalid character class `{name}'")),
            };
            out.extend((0..=255u8).filter(test));
            i += 2 + end + 2;
            continue;
        }
        let (lo, next) = one(i);
        if b.get(next) == Some(&b'-') && next + 1 < b.len() {
            let (hi, after) = one(next + 1);
            if hi < lo {
                return Err(format!(
                    "range-endpoints of `{}-{}' are in reverse collating sequence order",
                    crate::term::escape::field(&[lo]),
                    crate::term::escape::field(&[hi])
                ));
            }
            out.extend(lo..=hi);
            i = after;
        } else {
            out.push(lo);
            i = next;
        }
    }
    Ok(out)
}

struct Plan {
    /// What each byte becomes; None: deleted.
    map: [Option<u8>; 256],
    /// Bytes whose runs are squeezed.
    squeeze: [bool; 256],
}

impl Tr {
    fn plan(&self) -> Result<Plan, String> {
        let mut set1 = parse_set(&self.set1)?;
        if self.complement {
            let mut in_set = [false; 256];
            for b in &set1 {
                in_set[*b as usize] = true;
            }
            set1 = (0..=255u8).filter(|b| !in_set[*b as usize]).collect();
        }
        let set2 = match &self.set2 {
            Some(s) => Some(parse_set(s)?),
            None => None,
        };
        let mut map: [Option<u8>; 256] = std::array::from_fn(|i| Some(i as u8));
        let mut squeeze = [false; 256];
        match (self.delete, self.squeeze, &set2) {
            (true, false, Some(_)) => {
                return Err("extra operand: with -d, only SET1 is given (unless -s)".into());
            }
            (true, _, _) => {
                for b in &set1 {
                    map[*b as usize] = None;
                }
                if let Some(s2) = &set2 {
                    for b in s2 {
                        squeeze[*b as usize] = true;
                    }
                }
            }
            (false, _, Some(s2)) => {
                let Some(&last) = s2.last() else {
                    return Err("when not truncating set1, string2 must be non-empty".into());
                };
                for (i, b) in set1.iter().enumerate() {
                    map[*b as usize] = Some(*s2.get(i).unwrap_or(&last));
                }
                if self.squeeze {
                    for b in s2 {
                        squeeze[*b as usize] = true;
                    }
                }
            }
            (false, true, None) => {
                for b in &set1 {
                    squeeze[*b as usize] = true;
                }
            }
            (false, false, None) => {
                return Err("missing operand after SET1: give SET2, or -d or -s".into());
            }
        }
        Ok(Plan { map, squeeze })
    }
}

fn apply(plan: &Plan, input: &mut dyn Read, out: &mut dyn Write, tty: bool) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut outbuf = Vec::with_capacity(buf.len());
    let mut last: Option<u8> = None;
    loop {
        if crate::shell::interrupted() {
            return Ok(());
        }
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        outbuf.clear();
        for &b in &buf[..n] {
            let Some(c) = plan.map[b as usize] else {
                continue;
            };
            if plan.squeeze[c as usize] && last == Some(c) {
                continue;
            }
            last = Some(c);
            outbuf.push(c);
        }
        util::write_text(out, tty, &outbuf)?;
        if tty {
            out.flush()?;
        }
    }
}

impl Builtin for Tr {
    const NAME: &'static str = "tr";
    fn run(self, io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        let plan = match self.plan() {
            Ok(p) => p,
            Err(e) => {
                writeln!(io.err, "tr: {e}")?;
                return Ok(2);
            }
        };
        let tty = io.out.is_terminal();
        let mut out = BufWriter::with_capacity(64 * 1024, &mut io.out);
        apply(&plan, &mut io.stdin, &mut out, tty)?;
        out.flush()?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(args: &[&str], stdin: &str) -> (String, String, i32) {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["tr".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin.as_bytes());
        let st = (super::super::find("tr").unwrap().run)(&argv, &mut io, &mut ctx);
        (io.out_text(), io.err_text(), st)
    }

    #[test]
    fn tr_translates_deletes_and_squeezes_like_gnu() {
        assert_eq!(tr(&["a-z", "A-Z"], "hello, World\n").0, "HELLO, WORLD\n");
        assert_eq!(tr(&["[:lower:]", "[:upper:]"], "abc\n").0, "ABC\n");
        assert_eq!(tr(&["abc", "x"], "aabbcc\n").0, "xxxxxx\n");
        assert_eq!(tr(&["-d", "0-9"], "a1b22c\n").0, "abc\n");
        assert_eq!(tr(&["-s", " "], "a   b  c\n").0, "a b c\n");
        assert_eq!(tr(&["-s", "a-z", "A-Z"], "aabbcc\n").0, "ABC\n");
        assert_eq!(tr(&["-d", "-s", "0-9", " "], "a1  2 b\n").0, "a b\n");
        assert_eq!(tr(&["-cd", "[:digit:]\\n"], "port=8080\n").0, "8080\n");
        assert_eq!(tr(&["\\0", "\\n"], "a\0b").0, "a\nb");
        assert_eq!(tr(&[":", "\\n"], "/bin:/usr/bin").0, "/bin\n/usr/bin");
        assert_eq!(tr(&["\\101", "b"], "A").0, "b");
    }

    #[test]
    fn tr_operand_errors_are_one_sentence() {
        let (_, err, st) = tr(&["a"], "");
        assert_eq!(st, 2);
        assert!(err.starts_with("tr: missing operand after SET1"), "{err}");
        let (_, err, _) = tr(&["z-a", "x"], "");
        assert!(err.contains("reverse collating sequence order"), "{err}");
        let (_, err, _) = tr(&["[:nope:]", "x"], "");
        assert_eq!(err, "tr: invalid character class `nope'\n");
        let (_, err, _) = tr(&["-d", "a", "b"], "");
        assert!(err.contains("extra operand"), "{err}");
    }
}
