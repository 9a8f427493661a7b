//! `sort [-nhrufbs] [-t SEP] [-k KEYDEF]... [FILE...]`.

use std::cmp::Ordering;
use std::io::{self, BufWriter, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Sort lines of text, as GNU sort does in the C locale (bytes compared).
///
/// Lines are compared by each -k key in turn, then, unless -s or -u, by
/// the whole line. Without -t, fields are separated by the empty string
/// between a non-blank and a blank, so a field keeps its leading blanks
/// (-b ignores them).
///
/// KEYDEF is F[.C][OPTS][,F[.C][OPTS]]: fields and characters count from
/// 1; OPTS are the letters b f h n r and, when given, replace the global
/// ordering options for that key.
///
/// Memory: sort holds its whole input, and at most 256 MiB of it (nothing
/// is spilled to disk: that would write to the target). Larger input is
/// refused with a message and status 2; narrow it first with grep, cut or
/// head.
#[derive(Parser, Clone)]
#[command(name = "sort", disable_version_flag = true, disable_help_flag = true)]
pub struct Sort {
    /// Compare by string numerical value (leading blanks, sign, decimals).
    #[arg(short = 'n', long = "numeric-sort")]
    numeric: bool,
    /// Compare human-readable numbers (2K, 1G: suffixes in powers of 1024).
    #[arg(short = 'h', long = "human-numeric-sort")]
    human: bool,
    /// Reverse the result of comparisons.
    #[arg(short = 'r', long = "reverse")]
    reverse: bool,
    /// Output only the first of lines whose keys compare equal.
    #[arg(short = 'u', long = "unique")]
    unique: bool,
    /// Fold lower case to upper case when comparing.
    #[arg(short = 'f', long = "ignore-case")]
    fold: bool,
    /// Ignore leading blanks in keys.
    #[arg(short = 'b', long = "ignore-leading-blanks")]
    blanks: bool,
    /// Stable: no last-resort comparison of whole lines.
    #[arg(short = 's', long = "stable")]
    stable: bool,
    /// Field separator (one character) instead of blank-to-non-blank.
    #[arg(short = 't', long = "field-separator", value_name = "SEP")]
    sep: Option<String>,
    /// Sort by a key (repeatable).
    #[arg(short = 'k', long = "key", value_name = "KEYDEF")]
    keys: Vec<String>,
    /// Print help (-h is --human-numeric-sort, as in GNU sort).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    files: Vec<String>,
}

/// The most input sort holds.
const MAX_BYTES: usize = 256 << 20;
/// What a held line costs beyond its bytes (the Vec header, alignment).
const LINE_OVERHEAD: usize = 32;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Order {
    numeric: bool,
    human: bool,
    reverse: bool,
    fold: bool,
    blanks: bool,
}

impl Order {
    fn is_default(&self) -> bool {
        *self == Order::default()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    start_field: usize,
    /// 1-based character within the field; 1 = its start.
    start_char: usize,
    /// Last field (inclusive); None = end of line.
    end_field: Option<usize>,
    /// Last character within the end field; 0 = its end.
    end_char: usize,
    order: Order,
}

/// `F[.C][OPTS]`: (field, char, opts).
fn parse_pos(s: &str, order: &mut Order) -> Option<(usize, usize)> {
    let digits_end = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let f_end = digits_end(s);
    let field: usize = s[..f_end].parse().ok()?;
    let mut rest = &s[f_end..];
    let mut ch = 0;
    if let Some(r) = rest.strip_prefix('.') {
        let c_end = digits_end(r);
        ch = r[..c_end].parse().ok()?;
        rest = &r[c_end..];
    }
    for o in rest.chars() {
        match o {
            'n' => order.numeric = true,
            'h' => order.human = true,
            'r' => order.reverse = true,
            'f' => order.fold = true,
            'b' => order.blanks = true,
            _ => return None,
        }
    }
    Some((field, ch))
}

fn parse_key(s: &str, global: Order) -> Result<Key, String> {
    let bad = || format!("invalid key `{}'", crate::term::escape::field(s.as_bytes()));
    let mut order = Order::default();
    let (start, end) = match s.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let (start_field, start_char) = parse_pos(start, &mut order).ok_or_else(bad)?;
    if start_field == 0 {
        return Err(format!("{}: fields count from 1", bad()));
    }
    let (end_field, end_char) = match end {
        Some(e) => {
            let (f, c) = parse_pos(e, &mut order).ok_or_else(bad)?;
            if f == 0 {
                return Err(format!("{}: fields count from 1", bad()));
            }
            (Some(f), c)
        }
        None => (None, 0),
    };
    Ok(Key {
        start_field,
        start_char: start_char.max(1),
        end_field,
        end_char,
        order: if order.is_default() { global } else { order },
    })
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// (start, end) of each field of `line`.
fn fields(line: &[u8], sep: Option<u8>) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    match sep {
        Some(t) => {
            let mut start = 0;
            for (i, b) in line.iter().enumerate() {
                if *b == t {
                    v.push((start, i));
                    start = i + 1;
                }
            }
            v.push((start, line.len()));
        }
        None => {
            // A field is leading blanks then non-blanks.
            let mut i = 0;
            while i < line.len() {
                let start = i;
                while i < line.len() && is_blank(line[i]) {
                    i += 1;
                }
                while i < line.len() && !is_blank(line[i]) {
                    i += 1;
                }
                v.push((start, i));
            }
        }
    }
    v
}

/// The bytes of `key` in `line`.
fn key_bytes<'a>(line: &'a [u8], key: &Key, sep: Option<u8>) -> &'a [u8] {
    let f = fields(line, sep);
    let skip = |at: usize, end: usize| {
        let mut at = at;
        if key.order.blanks {
            while at < end && is_blank(line[at]) {
                at += 1;
            }
        }
        at
    };
    let Some(&(fs, fe)) = f.get(key.start_field - 1) else {
        return &[];
    };
    let fs = skip(fs, fe);
    let start = (fs + key.start_char - 1).min(fe.max(fs));
    let end = match key.end_field {
        None => line.len(),
        Some(ef) => match f.get(ef - 1) {
            None => line.len(),
            Some(&(es, ee)) => {
                if key.end_char == 0 {
                    ee
                } else {
                    (skip(es, ee) + key.end_char).min(ee)
                }
            }
        },
    };
    if end <= start { &[] } else { &line[start..end] }
}

/// The leading number of `s` (blanks skipped), 0 when there is none.
fn number(s: &[u8]) -> f64 {
    let s = &s[s.iter().take_while(|b| is_blank(**b)).count()..];
    let mut end = 0;
    if s.first() == Some(&b'-') {
        end = 1;
    }
    while end < s.len() && s[end].is_ascii_digit() {
        end += 1;
    }
    if s.get(end) == Some(&b'.') {
        end += 1;
        while end < s.len() && s[end].is_ascii_digit() {
            end += 1;
        }
    }
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

/// A human-readable number: 1.5K is 1536.
fn human_number(s: &[u8]) -> f64 {
    let n = number(s);
    let s = &s[s.iter().take_while(|b| is_blank(**b)).count()..];
    let after = s
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.' || *b == b'-'))
        .map(|i| s[i]);
    let power = match after {
        Some(b'K' | b'k') => 1,
        Some(b'M') => 2,
        Some(b'G') => 3,
        Some(b'T') => 4,
        Some(b'P') => 5,
        Some(b'E') => 6,
        _ => 0,
    };
    n * 1024f64.powi(power)
}

fn compare(a: &[u8], b: &[u8], o: &Order) -> Ordering {
    fn skip<'a>(s: &'a [u8], o: &Order) -> &'a [u8] {
        if o.blanks {
            s.iter()
                .position(|b| !is_blank(*b))
                .map_or(&[][..], |i| &s[i..])
        } else {
            s
        }
    }
    let ord = if o.human {
        human_number(a).total_cmp(&human_number(b))
    } else if o.numeric {
        number(a).total_cmp(&number(b))
    } else if o.fold {
        let (a, b) = (skip(a, o), skip(b, o));
        a.iter()
            .map(u8::to_ascii_uppercase)
            .cmp(b.iter().map(u8::to_ascii_uppercase))
    } else {
        skip(a, o).cmp(skip(b, o))
    };
    if o.reverse { ord.reverse() } else { ord }
}

struct Sorter {
    keys: Vec<Key>,
    global: Order,
    sep: Option<u8>,
    last_resort: bool,
}

impl Sorter {
    /// Compare by the keys (or the whole line when there are none).
    fn by_keys(&self, a: &[u8], b: &[u8]) -> Ordering {
        if self.keys.is_empty() {
            return compare(a, b, &self.global);
        }
        for k in &self.keys {
            let ord = compare(
                key_bytes(a, k, self.sep),
                key_bytes(b, k, self.sep),
                &k.order,
            );
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    fn cmp(&self, a: &[u8], b: &[u8]) -> Ordering {
        self.by_keys(a, b).then_with(|| {
            if self.last_resort {
                let ord = a.cmp(b);
                if self.global.reverse {
                    ord.reverse()
                } else {
                    ord
                }
            } else {
                Ordering::Equal
            }
        })
    }
}

/// Why the input could not be held.
struct TooBig;

/// Read every line of every input, up to `cap` bytes.
fn read_all(
    input: &mut dyn io::BufRead,
    lines: &mut Vec<Vec<u8>>,
    held: &mut usize,
    cap: usize,
) -> io::Result<Result<(), TooBig>> {
    let mut buf = Vec::new();
    loop {
        if crate::shell::interrupted() {
            return Ok(Ok(()));
        }
        if !util::read_line_capped(input, &mut buf)? {
            return Ok(Ok(()));
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        *held += buf.len() + LINE_OVERHEAD;
        if *held > cap {
            return Ok(Err(TooBig));
        }
        lines.push(std::mem::take(&mut buf));
    }
}

impl Sort {
    fn run_capped(self, io: &mut Io, ctx: &mut Ctx, cap: usize) -> io::Result<i32> {
        let sep = match self.sep.as_deref().map(str::as_bytes) {
            None => None,
            Some([b]) => Some(*b),
            Some(b"\\0") => Some(0),
            Some(_) => {
                writeln!(io.err, "sort: the separator must be one byte")?;
                return Ok(2);
            }
        };
        let global = Order {
            numeric: self.numeric,
            human: self.human,
            reverse: self.reverse,
            fold: self.fold,
            blanks: self.blanks,
        };
        let mut keys = Vec::new();
        for k in &self.keys {
            match parse_key(k, global) {
                Ok(k) => keys.push(k),
                Err(e) => {
                    writeln!(io.err, "sort: {e}")?;
                    return Ok(2);
                }
            }
        }
        let sorter = Sorter {
            keys,
            global,
            sep,
            last_resort: !(self.stable || self.unique),
        };
        let mut lines = Vec::new();
        let mut held = 0usize;
        let mut too_big = false;
        let status = util::each_input("sort", &self.files, io, ctx, |input, _| {
            if !too_big && read_all(input, &mut lines, &mut held, cap)?.is_err() {
                too_big = true;
            }
            Ok(())
        })?;
        if too_big {
            writeln!(
                io.err,
                "sort: the input is larger than {} MiB, the most sort holds in memory (it writes nothing to the target); narrow it first with grep, cut or head",
                cap >> 20
            )?;
            return Ok(2);
        }
        lines.sort_by(|a, b| sorter.cmp(a, b));
        if self.unique {
            lines.dedup_by(|b, a| sorter.by_keys(a, b) == Ordering::Equal);
        }
        let tty = io.out.is_terminal();
        let mut out = BufWriter::with_capacity(64 * 1024, &mut io.out);
        for l in &lines {
            util::write_text(&mut out, tty, l)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(if status != 0 { 2 } else { 0 })
    }
}

impl Builtin for Sort {
    const NAME: &'static str = "sort";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        self.run_capped(io, ctx, MAX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(args: &[&str], stdin: &str) -> (String, String, i32) {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["sort".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin.as_bytes());
        let st = (super::super::find("sort").unwrap().run)(&argv, &mut io, &mut ctx);
        (io.out_text(), io.err_text(), st)
    }

    #[test]
    fn sort_orders_like_gnu_sort_in_the_c_locale() {
        assert_eq!(sort(&[], "b\nB\na\n10\n9\n").0, "10\n9\nB\na\nb\n");
        assert_eq!(
            sort(&["-n"], "10\n9\n-1\nx\n1.5\n").0,
            "-1\nx\n1.5\n9\n10\n"
        );
        assert_eq!(sort(&["-rn"], "10\n9\n100\n").0, "100\n10\n9\n");
        assert_eq!(sort(&["-h"], "1G\n10K\n2M\n512\n").0, "512\n10K\n2M\n1G\n");
        assert_eq!(sort(&["-u"], "b\na\nb\na\n").0, "a\nb\n");
        assert_eq!(sort(&["-f"], "b\nA\na\nB\n").0, "A\na\nB\nb\n");
        assert_eq!(
            sort(&["-t:", "-k3n"], "x:1:30\ny:2:4\nz:3:100\n").0,
            "y:2:4\nx:1:30\nz:3:100\n"
        );
        assert_eq!(
            sort(&["-k2,2", "-k1,1r"], "a 2\nb 1\nc 2\n").0,
            "b 1\nc 2\na 2\n"
        );
        // Without -b the leading blanks of a field count (GNU).
        assert_eq!(sort(&["-k2"], "a  b\nc a\n").0, "a  b\nc a\n");
        assert_eq!(sort(&["-b", "-k2"], "a  b\nc a\n").0, "c a\na  b\n");
        assert_eq!(sort(&["-k1.2"], "ab\nba\n").0, "ba\nab\n");
        assert_eq!(
            sort(&["-k", "2nr", "-s"], "x 1\ny 2\nz 1\n").0,
            "y 2\nx 1\nz 1\n"
        );
        // `sort -n | uniq`-style key uniqueness: the first of equals stays.
        assert_eq!(sort(&["-u", "-k1,1"], "a 2\na 1\nb 0\n").0, "a 2\nb 0\n");
    }

    #[test]
    fn bad_keys_and_separators_are_usage_errors() {
        let (_, err, st) = sort(&["-k", "0"], "a\n");
        assert_eq!(st, 2);
        assert!(err.contains("fields count from 1"), "{err}");
        let (_, err, st) = sort(&["-k", "1x"], "a\n");
        assert_eq!((st, err.as_str()), (2, "sort: invalid key `1x'\n"));
        let (_, err, st) = sort(&["-t", "ab"], "a\n");
        assert_eq!(
            (st, err.as_str()),
            (2, "sort: the separator must be one byte\n")
        );
    }

    #[test]
    fn input_beyond_the_cap_is_refused_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let input = "line\n".repeat(100_000);
        let mut io = Io::buffers(input.as_bytes());
        let st = Sort::try_parse_from(["sort"])
            .unwrap()
            .run_capped(&mut io, &mut ctx, 1 << 20)
            .unwrap();
        assert_eq!(st, 2);
        assert_eq!(io.out_text(), "");
        assert!(
            io.err_text().contains("larger than 1 MiB"),
            "{}",
            io.err_text()
        );
    }
}
