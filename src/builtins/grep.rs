//! `grep [-rinlvcFE] PATTERN [FILE...]`.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use clap::Parser;
use regex::bytes::{Regex, RegexBuilder};

use super::{Builtin, util};
use crate::escape;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Print lines matching a pattern, as GNU grep does.
///
/// PATTERN is a basic regular expression unless -E or -F. A file holding NUL bytes is binary: its lines are
/// not printed, only "Binary file X matches". Lines longer than 1 MiB are
/// matched in pieces. Exit status: 0 a line matched, 1 none did, 2 error.
#[derive(Parser)]
#[command(name = "grep", disable_version_flag = true)]
pub struct Grep {
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
pub fn compile(pattern: &str, fixed: bool, extended: bool, icase: bool) -> Result<Regex, String> {
    let src = if fixed {
        regex::escape(pattern)
    } else if extended {
        pattern.to_string()
    } else {
        bre_to_ere(pattern)
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

    /// Search one stream; `shown` is its name for output.
    fn stream(&mut self, input: &mut dyn BufRead, shown: &[u8]) -> io::Result<()> {
        let mut binary = super::cat::looks_binary(input.fill_buf()?);
        let mut line = Vec::new();
        let mut number = 0u64;
        let mut count = 0u64;
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
            if self.re.is_match(text) == self.args.invert {
                continue;
            }
            count += 1;
            self.matched = true;
            if self.args.files_with_matches {
                break;
            }
            if self.args.count {
                continue;
            }
            if binary {
                self.out.write_all(b"Binary file ")?;
                self.name(shown)?;
                self.out.write_all(b" matches\n")?;
                return Ok(());
            }
            if self.with_names {
                self.name(shown)?;
                self.out.write_all(b":")?;
            }
            if self.args.line_number {
                write!(self.out, "{number}:")?;
            }
            if self.tty {
                self.out.write_all(escape::text(text).as_bytes())?;
            } else {
                self.out.write_all(text)?;
            }
            self.out.write_all(b"\n")?;
        }
        if self.args.files_with_matches && count > 0 {
            self.name(shown)?;
            self.out.write_all(b"\n")?;
        } else if self.args.count {
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
            if crate::shell::interrupted() {
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
        let re = match compile(&self.pattern, self.fixed, self.extended, self.ignore_case) {
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
        let with_names = files.len() > 1 || self.recursive;
        let mut s = Search {
            args: &self,
            re,
            out: BufWriter::with_capacity(if tty { 0 } else { 64 * 1024 }, &mut io.out),
            err: &mut io.err,
            tty,
            with_names,
            matched: false,
            error: false,
        };
        if files.is_empty() {
            s.stream(&mut io.stdin, b"(standard input)")?;
        }
        for f in &files {
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
        Ok(if s.error {
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
        let re = compile("err.r", false, false, true).unwrap();
        assert!(re.is_match(b"ERROR"));
        let re = compile("a.c", true, false, false).unwrap();
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
