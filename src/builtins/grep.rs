//! `grep [-rinlLvcqowHhFE] [-A N] [-B N] [-C N] [-m N] PATTERN [FILE...]`.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use clap::Parser;
use regex::bytes::{Regex, RegexBuilder};

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print lines matching a pattern, as GNU grep does.
///
/// PATTERN is a basic regular expression unless -E or -F. A file holding
/// NUL bytes is binary: its lines are not printed, only "Binary file X
/// matches". Lines longer than 1 MiB are matched in pieces. Context lines
/// (-A, -B, -C) are marked with `-` instead of `:`, and groups that are not
/// adjacent are separated by `--`. Exit status: 0 a line matched, 1 none
/// did, 2 error (with -q, 0 as soon as a line matches).
#[derive(Parser)]
#[command(name = "grep", disable_version_flag = true, disable_help_flag = true)]
pub struct Grep {
    /// Print help (-h is --no-filename, as in GNU grep).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Search directories recursively (symbolic links met on the way are not followed).
    #[arg(short = 'r', short_alias = 'R', long = "recursive")]
    recursive: bool,
    /// Ignore case.
    #[arg(short = 'i', long = "ignore-case")]
    ignore_case: bool,
    /// Prefix each line with its line number.
    #[arg(short = 'n', long = "line-number")]
    line_number: bool,
    /// Print only the names of files with a match.
    #[arg(short = 'l', long = "files-with-matches")]
    files_with_matches: bool,
    /// Select the lines that do not match.
    #[arg(short = 'v', long = "invert-match")]
    invert: bool,
    /// Print only a count of selected lines per file.
    #[arg(short = 'c', long = "count")]
    count: bool,
    /// Print nothing; exit 0 at the first match.
    #[arg(short = 'q', long = "quiet", visible_alias = "silent")]
    quiet: bool,
    /// Print only the matching parts of lines, one per line.
    #[arg(short = 'o', long = "only-matching")]
    only_matching: bool,
    /// Match whole words only: the match is preceded and followed by a
    /// character that is not a letter, digit or underscore (or the line's ends).
    #[arg(short = 'w', long = "word-regexp")]
    word: bool,
    /// Print only the names of files without a match.
    #[arg(short = 'L', long = "files-without-match")]
    files_without_match: bool,
    /// Print NUM lines after each match.
    #[arg(short = 'A', long = "after-context", value_name = "NUM")]
    after: Option<usize>,
    /// Print NUM lines before each match.
    #[arg(short = 'B', long = "before-context", value_name = "NUM")]
    before: Option<usize>,
    /// Print NUM lines before and after each match.
    #[arg(short = 'C', long = "context", value_name = "NUM")]
    context: Option<usize>,
    /// Stop reading a file after NUM selected lines.
    #[arg(short = 'm', long = "max-count", value_name = "NUM")]
    max_count: Option<u64>,
    /// Prefix each line with its file name (the default with several files).
    #[arg(short = 'H', long = "with-filename", overrides_with = "no_filename")]
    with_filename: bool,
    /// Never prefix lines with file names.
    #[arg(short = 'h', long = "no-filename", overrides_with = "with_filename")]
    no_filename: bool,
    /// PATTERN is a fixed string.
    #[arg(short = 'F', long = "fixed-strings")]
    fixed: bool,
    /// PATTERN is an extended regular expression.
    #[arg(short = 'E', long = "extended-regexp")]
    extended: bool,
    /// The pattern.
    pattern: String,
    /// Files (default: stdin, or `.` with -r).
    files: Vec<String>,
}

/// Longest piece of a line matched at once.
const LINE_CAP: u64 = 1024 * 1024;

/// Translate a POSIX basic regular expression into the regex crate's
/// syntax: `\( \) \{ \} \| \+ \?` are the operators, their bare forms are
/// literal, and a leading `*` is literal.
pub fn bre_to_ere(bre: &str) -> String {
    let mut out = String::with_capacity(bre.len() + 8);
    let mut chars = bre.chars().peekable();
    let mut at_start = true;
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if in_class {
            out.push(c);
            if c == ']' {
                in_class = false;
            } else if c == '[' && chars.peek() == Some(&':') {
                // [:alpha:] inside a bracket expression.
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            continue;
        }
        match c {
            '\\' => match chars.next() {
                Some(o @ ('(' | ')' | '{' | '}' | '|' | '+' | '?')) => out.push(o),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push_str("\\\\"),
            },
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '*' if at_start => out.push_str("\\*"),
            '[' => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            _ => out.push(c),
        }
        at_start = c == '^' && out.len() == 1;
    }
    out
}

/// The compiled pattern for these flags.
/// The compiled pattern for these flags; with `word`, group 1 is the match and it stands
/// between non-word characters or the line's ends (GNU `-w`).
pub fn compile(
    pattern: &str,
    fixed: bool,
    extended: bool,
    icase: bool,
    word: bool,
) -> Result<Regex, String> {
    let src = if fixed {
        regex::escape(pattern)
    } else if extended {
        pattern.to_string()
    } else {
        bre_to_ere(pattern)
    };
    // The boundary characters are outside group 1; a search for the next
    // match resumes at the end of group 1, so a boundary can serve twice.
    let src = if word {
        format!(r"(?:^|[^_[:alnum:]])({src})(?:[^_[:alnum:]]|$)")
    } else {
        src
    };
    RegexBuilder::new(&src)
        .case_insensitive(icase)
        .unicode(false)
        .build()
        .map_err(|e| e.to_string())
}

struct Search<'a, W: Write> {
    args: &'a Grep,
    re: Regex,
    out: W,
    err: &'a mut dyn Write,
    tty: bool,
    with_names: bool,
    matched: bool,
    error: bool,
    /// -q saw a match: nothing more is read.
    done: bool,
    /// Lines of context before and after each match (0 without -A/-B/-C,
    /// or when only names or counts are printed).
    before: usize,
    after: usize,
    /// A group of lines has been printed (`--` goes before the next one).
    printed_group: bool,
}

impl<W: Write> Search<'_, W> {
    fn warn(&mut self, msg: std::fmt::Arguments) -> io::Result<()> {
        self.out.flush()?;
        writeln!(self.err, "grep: {msg}")?;
        self.error = true;
        Ok(())
    }

    fn name(&mut self, shown: &[u8]) -> io::Result<()> {
        if self.tty {
            self.out.write_all(escape::field(shown).as_bytes())
        } else {
            self.out.write_all(shown)
        }
    }

    fn bytes(&mut self, text: &[u8]) -> io::Result<()> {
        if self.tty {
            self.out.write_all(escape::text(text).as_bytes())
        } else {
            self.out.write_all(text)
        }
    }

    /// `name:12:` for a selected line, `name-12-` for a context line.
    fn prefix(&mut self, shown: &[u8], number: u64, sep: u8) -> io::Result<()> {
        if self.with_names {
            self.name(shown)?;
            self.out.write_all(&[sep])?;
        }
        if self.args.line_number {
            write!(self.out, "{number}")?;
            self.out.write_all(&[sep])?;
        }
        Ok(())
    }

    fn line(&mut self, shown: &[u8], number: u64, sep: u8, text: &[u8]) -> io::Result<()> {
        self.prefix(shown, number, sep)?;
        self.bytes(text)?;
        self.out.write_all(b"\n")
    }

    /// The matched parts of a line (-o): non-empty matches, left to right.
    fn parts(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        if self.args.word {
            let mut at = 0;
            while at <= text.len() {
                let Some(m) = self.re.captures_at(text, at).and_then(|c| c.get(1)) else {
                    break;
                };
                if m.end() > m.start() {
                    v.push((m.start(), m.end()));
                }
                at = m.end().max(m.start() + 1);
            }
        } else {
            v.extend(
                self.re
                    .find_iter(text)
                    .filter(|m| m.end() > m.start())
                    .map(|m| (m.start(), m.end())),
            );
        }
        v
    }

    /// Search one stream; `shown` is its name for output.
    fn stream(&mut self, input: &mut dyn BufRead, shown: &[u8]) -> io::Result<()> {
        let args = self.args;
        let mut binary = super::cat::looks_binary(input.fill_buf()?);
        let mut line = Vec::new();
        let mut number = 0u64;
        let mut count = 0u64;
        // The last lines not printed, for -B; bounded by its count.
        let mut held: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let mut after_left = 0usize;
        let mut last_printed: Option<u64> = None;
        let names_only = args.files_with_matches || args.files_without_match;
        loop {
            if crate::shell::interrupted() {
                break;
            }
            line.clear();
            let n = Read::take(&mut *input, LINE_CAP).read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            number += 1;
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if !binary && text.contains(&0) {
                binary = true;
            }
            if self.re.is_match(text) == args.invert {
                if after_left > 0 && !binary {
                    self.line(shown, number, b'-', text)?;
                    last_printed = Some(number);
                    after_left -= 1;
                } else if self.before > 0 {
                    if held.len() == self.before {
                        held.pop_front();
                    }
                    held.push_back((number, text.to_vec()));
                }
                continue;
            }
            count += 1;
            self.matched = true;
            if args.quiet {
                self.done = true;
                return Ok(());
            }
            if names_only {
                break;
            }
            if args.count {
                if args.max_count.is_some_and(|m| count >= m) {
                    break;
                }
                continue;
            }
            if binary {
                self.out.write_all(b"Binary file ")?;
                self.name(shown)?;
                self.out.write_all(b" matches\n")?;
                return Ok(());
            }
            if self.before > 0 || self.after > 0 {
                let first = held.front().map_or(number, |(n, _)| *n);
                let adjacent = last_printed.is_some_and(|l| l + 1 >= first);
                if self.printed_group && !adjacent {
                    self.out.write_all(b"--\n")?;
                }
                for (n, t) in std::mem::take(&mut held) {
                    self.line(shown, n, b'-', &t)?;
                }
                self.printed_group = true;
            }
            if args.only_matching {
                for (start, end) in self.parts(text) {
                    self.line(shown, number, b':', &text[start..end])?;
                }
            } else {
                self.line(shown, number, b':', text)?;
            }
            last_printed = Some(number);
            after_left = self.after;
            if args.max_count.is_some_and(|m| count >= m) {
                break;
            }
        }
        if (args.files_with_matches && count > 0) || (args.files_without_match && count == 0) {
            self.name(shown)?;
            self.out.write_all(b"\n")?;
        } else if args.count && !names_only {
            if self.with_names {
                self.name(shown)?;
                self.out.write_all(b":")?;
            }
            writeln!(self.out, "{count}")?;
        }
        Ok(())
    }

    fn file(&mut self, real: &Path, shown: &[u8]) -> io::Result<()> {
        match File::open(real) {
            Ok(f) => match self.stream(
                &mut BufReader::with_capacity(64 * 1024, SkipHoles::new(f)),
                shown,
            ) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => self.warn(format_args!(
                    "{}: {}",
                    escape::field(shown),
                    util::io_error(&e)
                )),
                r => r,
            },
            Err(e) => self.warn(format_args!(
                "{}: {} (`why {} read` explains)",
                escape::field(shown),
                util::io_error(&e),
                escape::field(shown)
            )),
        }
    }

    /// Walk a directory without following symlinks; only regular files are
    /// read (a FIFO would block, a device could be endless).
    fn dir(&mut self, real: &Path, shown: &[u8]) -> io::Result<()> {
        let rd = match fs::read_dir(real) {
            Ok(rd) => rd,
            Err(e) => {
                return self.warn(format_args!(
                    "{}: {}",
                    escape::field(shown),
                    util::io_error(&e)
                ));
            }
        };
        let mut entries: Vec<_> = rd
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name(), e.file_type().ok()?)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, ft) in entries {
            if crate::shell::interrupted() || self.done {
                break;
            }
            let mut child = shown.to_vec();
            if child.last() != Some(&b'/') {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            let real_child = real.join(&name);
            if ft.is_dir() {
                if is_kernel_fs(&real_child) {
                    self.out.flush()?;
                    writeln!(
                        self.err,
                        "grep: {}: a kernel filesystem, not searched (name it to search it)",
                        escape::field(&child)
                    )?;
                    continue;
                }
                self.dir(&real_child, &child)?;
            } else if ft.is_file() {
                self.file(&real_child, &child)?;
            }
        }
        Ok(())
    }
}

/// Whether `dir` is on /proc, /sys, debugfs or tracefs: files there are
/// generated on read, and some never end (`/proc/PID/pagemap` reads 256 GiB
/// of page table) or block (`trace_pipe`). `grep -r x /` skips them.
fn is_kernel_fs(dir: &Path) -> bool {
    use nix::sys::statfs::{DEBUGFS_MAGIC, PROC_SUPER_MAGIC, SYSFS_MAGIC, TRACEFS_MAGIC, statfs};
    statfs(dir).is_ok_and(|fs| {
        [PROC_SUPER_MAGIC, SYSFS_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC]
            .contains(&fs.filesystem_type())
    })
}

/// A file read without its holes. A sparse file's holes read as NUL bytes
/// (no newline, nothing a search wants), and a 10 GiB one would take
/// minutes; GNU grep skips them too. Files with as many blocks as bytes are
/// read as they are.
struct SkipHoles {
    file: File,
    /// Next offset to read, when the file is sparse.
    sparse_at: Option<u64>,
}

impl SkipHoles {
    fn new(file: File) -> SkipHoles {
        use std::os::unix::fs::MetadataExt;
        let sparse = file
            .metadata()
            .is_ok_and(|m| m.is_file() && m.blocks().saturating_mul(512) < m.size());
        SkipHoles {
            file,
            sparse_at: sparse.then_some(0),
        }
    }
}

impl Read for SkipHoles {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let Some(at) = self.sparse_at else {
            return self.file.read(buf);
        };
        // lseek(2) SEEK_DATA: the next offset holding data (`at` itself
        // inside data); ENXIO past the last data. A filesystem without
        // hole support reports the whole file as data.
        let at = match nix::unistd::lseek(&self.file, at as i64, nix::unistd::Whence::SeekData) {
            Ok(data) => data as u64,
            Err(nix::errno::Errno::ENXIO) => return Ok(0),
            Err(_) => at,
        };
        let n = self.file.read_at(buf, at)?;
        self.sparse_at = Some(at + n as u64);
        Ok(n)
    }
}

impl Builtin for Grep {
    const NAME: &'static str = "grep";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let re = match compile(
            &self.pattern,
            self.fixed,
            self.extended,
            self.ignore_case,
            self.word,
        ) {
            Ok(re) => re,
            Err(e) => {
                writeln!(io.err, "grep: invalid pattern: {e}")?;
                return Ok(2);
            }
        };
        let files = if self.files.is_empty() && self.recursive {
            vec![".".to_string()]
        } else {
            self.files.clone()
        };
        let tty = io.out.is_terminal();
        let with_names = if self.no_filename {
            false
        } else {
            self.with_filename || files.len() > 1 || self.recursive
        };
        // Context goes with printed lines only.
        let lines_printed = !(self.quiet
            || self.count
            || self.files_with_matches
            || self.files_without_match
            || self.only_matching);
        let context = |n: Option<usize>| {
            if lines_printed {
                n.or(self.context).unwrap_or(0)
            } else {
                0
            }
        };
        let mut s = Search {
            args: &self,
            re,
            out: BufWriter::with_capacity(if tty { 0 } else { 64 * 1024 }, &mut io.out),
            err: &mut io.err,
            tty,
            with_names,
            matched: false,
            error: false,
            done: false,
            before: context(self.before),
            after: context(self.after),
            printed_group: false,
        };
        if files.is_empty() {
            s.stream(&mut io.stdin, b"(standard input)")?;
        }
        for f in &files {
            if s.done {
                break;
            }
            let real = ctx.resolve(f);
            let shown = f.as_bytes();
            // A directory named on the command line is walked with -r (a
            // symlink to one is followed, as GNU grep does for arguments).
            match fs::metadata(&real) {
                Ok(m) if m.is_dir() => {
                    if self.recursive {
                        s.dir(&real, shown)?;
                    } else {
                        s.warn(format_args!("{}: Is a directory", escape::field(shown)))?;
                    }
                }
                _ => s.file(&real, shown)?,
            }
        }
        s.out.flush()?;
        Ok(if self.quiet && s.matched {
            0
        } else if s.error {
            2
        } else if s.matched {
            0
        } else {
            1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grep(ctx: &mut Ctx, args: &[&str], stdin: &[u8]) -> (String, String, i32) {
        let mut argv = vec!["grep".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(stdin);
        let status = (super::super::find("grep").unwrap().run)(&argv, &mut io, ctx);
        (io.out_text(), io.err_text(), status)
    }

    #[test]
    fn basic_regex_operators_are_escaped_forms() {
        assert_eq!(bre_to_ere(r"a\(b\)\{2\}"), "a(b){2}");
        assert_eq!(bre_to_ere("a+b?(c)|d"), r"a\+b\?\(c\)\|d");
        assert_eq!(bre_to_ere("*x"), r"\*x");
        assert_eq!(bre_to_ere("^*x"), r"^\*x");
        assert_eq!(bre_to_ere("[]a]"), r"[\]a]");
        assert_eq!(bre_to_ere("[[:digit:]+]x+"), r"[[:digit:]+]x\+");
        let re = compile("err.r", false, false, true, false).unwrap();
        assert!(re.is_match(b"ERROR"));
        let re = compile("a.c", true, false, false, false).unwrap();
        assert!(!re.is_match(b"abc"));
        assert!(re.is_match(b"xa.c"));
    }

    #[test]
    fn grep_reads_stdin_and_sets_status() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let (out, _, st) = grep(&mut ctx, &["-n", "b"], b"a\nb\nab\n");
        assert_eq!((out.as_str(), st), ("2:b\n3:ab\n", 0));
        let (out, _, st) = grep(&mut ctx, &["-c", "-v", "b"], b"a\nb\nab\n");
        assert_eq!((out.as_str(), st), ("1\n", 0));
        let (out, _, st) = grep(&mut ctx, &["zzz"], b"a\n");
        assert_eq!((out.as_str(), st), ("", 1));
        let (_, err, st) = grep(&mut ctx, &["-E", "("], b"a\n");
        assert_eq!(st, 2, "{err}");
    }

    #[test]
    fn quiet_only_matching_word_and_context_follow_gnu() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let (out, _, st) = grep(&mut ctx, &["-q", "b"], b"a\nb\n");
        assert_eq!((out.as_str(), st), ("", 0));
        let (out, _, st) = grep(&mut ctx, &["-q", "z"], b"a\nb\n");
        assert_eq!((out.as_str(), st), ("", 1));
        let (out, _, _) = grep(&mut ctx, &["-o", "-E", "[0-9]+"], b"a 12 b 345\nnone\n7\n");
        assert_eq!(out, "12\n345\n7\n");
        let (out, _, _) = grep(&mut ctx, &["-on", "o"], b"foo\n");
        assert_eq!(out, "1:o\n1:o\n");
        let (out, _, _) = grep(
            &mut ctx,
            &["-w", "foo"],
            b"foobar\na foo b\nfoo\nbarfoo\n(foo)\n",
        );
        assert_eq!(out, "a foo b\nfoo\n(foo)\n");
        let (out, _, _) = grep(&mut ctx, &["-ow", "foo"], b"foo foo foobar foo\n");
        assert_eq!(out, "foo\nfoo\nfoo\n");
        let (out, _, _) = grep(&mut ctx, &["-w", "-F", "a.b"], b"xa.b\n a.b \n");
        assert_eq!(out, " a.b \n");
        let input = b"1\n2\nx3\n4\n5\n6\n7\nx8\n9\n";
        let (out, _, _) = grep(&mut ctx, &["-n", "-A", "1", "x"], input);
        assert_eq!(out, "3:x3\n4-4\n--\n8:x8\n9-9\n");
        let (out, _, _) = grep(&mut ctx, &["-B", "2", "x"], input);
        assert_eq!(out, "1\n2\nx3\n--\n6\n7\nx8\n");
        let (out, _, _) = grep(&mut ctx, &["-C", "2", "x"], input);
        assert_eq!(out, "1\n2\nx3\n4\n5\n6\n7\nx8\n9\n");
        let (out, _, _) = grep(&mut ctx, &["-C", "1", "x"], input);
        assert_eq!(out, "2\nx3\n4\n--\n7\nx8\n9\n");
        let (out, _, _) = grep(&mut ctx, &["-m", "1", "x"], input);
        assert_eq!(out, "x3\n");
        let (out, _, _) = grep(&mut ctx, &["-c", "-m", "1", "x"], input);
        assert_eq!(out, "1\n");
    }

    #[test]
    fn names_with_and_without_matches() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::write(r.join("a"), "port=1\n").unwrap();
        fs::write(r.join("b"), "host=x\n").unwrap();
        let mut ctx = Ctx::for_root(r.to_path_buf());
        let (out, _, st) = grep(&mut ctx, &["-l", "port", "/a", "/b"], b"");
        assert_eq!((out.as_str(), st), ("/a\n", 0));
        let (out, _, _) = grep(&mut ctx, &["-L", "port", "/a", "/b"], b"");
        assert_eq!(out, "/b\n");
        let (out, _, _) = grep(&mut ctx, &["-h", "=", "/a", "/b"], b"");
        assert_eq!(out, "port=1\nhost=x\n");
        let (out, _, _) = grep(&mut ctx, &["-H", "port", "/a"], b"");
        assert_eq!(out, "/a:port=1\n");
        let (out, _, st) = grep(&mut ctx, &["-q", "port", "/none", "/a"], b"");
        assert_eq!((out.as_str(), st), ("", 0));
        let (out, _, _) = grep(&mut ctx, &["--help"], b"");
        assert!(out.contains("--only-matching"), "{out}");
    }

    #[test]
    fn holes_of_a_sparse_file_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        let f = File::create(&path).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"first line\n", 0).unwrap();
        f.write_all_at(b"last line\n", 1 << 40).unwrap();
        let mut text = Vec::new();
        let started = std::time::Instant::now();
        SkipHoles::new(File::open(&path).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // What is left: the data blocks, holes gone (a block holds zeros
        // after the written bytes).
        assert!(text.starts_with(b"first line\n"));
        assert!(text.windows(10).any(|w| w == b"last line\n"));
        assert!(text.len() < 1 << 20, "{} bytes", text.len());
    }

    #[test]
    fn grep_recurses_and_reports_binary_files() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("app/sub")).unwrap();
        fs::write(r.join("app/a.conf"), "port=80\nhost=x\n").unwrap();
        fs::write(r.join("app/sub/b.conf"), "port=8080\n").unwrap();
        fs::write(r.join("app/bin"), b"\x7fELF\0\0port=1\n").unwrap();
        std::os::unix::fs::symlink("/app/a.conf", r.join("app/sub/link")).unwrap();
        let mut ctx = Ctx::for_root(r.to_path_buf());
        let (out, _, st) = grep(&mut ctx, &["-r", "port", "/app"], b"");
        assert_eq!(st, 0);
        assert_eq!(
            out,
            "/app/a.conf:port=80\nBinary file /app/bin matches\n/app/sub/b.conf:port=8080\n"
        );
        let (out, _, _) = grep(&mut ctx, &["-rl", "8080", "/app"], b"");
        assert_eq!(out, "/app/sub/b.conf\n");
        let (out, err, st) = grep(&mut ctx, &["port", "/app/a.conf", "/app/none"], b"");
        assert_eq!(out, "/app/a.conf:port=80\n");
        assert!(
            err.contains("/app/none: No such file or directory"),
            "{err}"
        );
        assert_eq!(st, 2);
        let (_, err, st) = grep(&mut ctx, &["port", "/app"], b"");
        assert_eq!((err.as_str(), st), ("grep: /app: Is a directory\n", 2));
    }
}
