//! `find [PATH...] [EXPRESSION]`: a subset of GNU find, fast.
//!
//! The walk opens each directory relative to its parent's descriptor
//! (`O_NOFOLLOW`: a symlink put in its place is not entered), reads it
//! whole with `getdents64` into a buffer kept per depth, and takes the file
//! type from the directory entry (`d_type`; `lstat` where it is
//! DT_UNKNOWN). Names are compared as bytes where they lie in that buffer;
//! a directory costs open, fstat (loops, -xdev), getdents64 and close, an
//! entry costs nothing more unless a predicate needs its inode.

use std::ffi::{CStr, CString};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;

use nix::fcntl::AtFlags;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, FileStat, Mode};
use nix::unistd::{self, AccessFlags};

use clap::{ArgAction, Parser};

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Search for files (GNU find's tests, no -exec), without following symlinks
///
/// Searches below each PATH (default `.`) and evaluates the expression for
/// every file, as GNU find does. Output streams as it is found.
///
/// Operators, by precedence:
///   ( EXPR )           grouping (quote or escape the parentheses: \( \))
///   ! EXPR, -not EXPR  negation
///   EXPR EXPR, EXPR -a EXPR, EXPR -and EXPR
///                      both (the right one only if the left is true)
///   EXPR -o EXPR, EXPR -or EXPR
///                      either (the right one only if the left is false)
///
/// Tests:
///   -name GLOB         the last component matches (`*`, `?`, `[...]`)
///   -iname GLOB        the same, ignoring case
///   -path GLOB         the whole path matches (`*` matches `/` too)
///   -type C            f d l p s c b
///   -user NAME|UID     -group NAME|GID (names from the target's files)
///   -perm MODE         exactly MODE; -perm -MODE: all of these bits;
///                      -perm /MODE: any of them (octal or u+w,g=r)
///   -writable          the kernel says this shell's identity may write
///   -empty             an empty regular file or directory
///   -newer FILE        modified after FILE
///   -mmin [+-]N        modified N minutes ago (+N more, -N less)
///   -mtime [+-]N       modified N days (24 hours) ago
///   -size [+-]N[ckMG]  in 512-byte blocks by default, rounded up;
///                      +N more than N, -N less than N
///   -true, -false
///
/// Actions (with none, -print is applied to what the expression matches):
///   -print             print the path and a newline
///   -print0            print the path and a NUL byte (for xargs -0)
///   -prune             true; do not descend into this directory
///
/// Options: -maxdepth N, -mindepth N, -xdev (do not descend into other
/// filesystems: the target's mounts, /proc, volumes).
///
/// Unreadable directories are reported on stderr and the walk goes on; the
/// exit status is then 1.
#[derive(Parser)]
#[command(
    name = "find",
    verbatim_doc_comment,
    disable_version_flag = true,
    disable_help_flag = true,
    override_usage = "find [PATH...] [-maxdepth N] [-mindepth N] [-xdev] [EXPRESSION]"
)]
pub struct Find {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Paths, then the expression.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// How `-size` and `-perm` compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Less,
    Exactly,
    More,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermMatch {
    Exactly(u32),
    AllOf(u32),
    AnyOf(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Name(Glob),
    IName(Glob),
    Path(Glob),
    Type(u8),
    User(u32),
    Group(u32),
    Perm(PermMatch),
    Writable,
    Newer(i64, i64),
    /// Modified this many `unit` seconds ago, counted in whole units
    /// before now (GNU rounds the age down).
    Age {
        cmp: Cmp,
        n: u64,
        unit: i64,
        now: i64,
    },
    Size {
        cmp: Cmp,
        n: u64,
        unit: u64,
    },
    Empty,
    Const(bool),
}

/// An expression: tests and actions joined by operators.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Test(Test),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Print,
    Print0,
    Prune,
}

impl Node {
    fn has_action(&self) -> bool {
        match self {
            Node::Print | Node::Print0 => true,
            Node::Not(a) => a.has_action(),
            Node::And(a, b) | Node::Or(a, b) => a.has_action() || b.has_action(),
            Node::Test(_) | Node::Prune => false,
        }
    }
}

/// A parsed command line.
#[derive(Debug)]
pub struct Expr {
    pub paths: Vec<String>,
    pub root: Node,
    pub min_depth: usize,
    pub max_depth: usize,
    /// -xdev: stay on the filesystem of each start path.
    pub xdev: bool,
}

/// GNU `-perm` mode: octal, or symbolic clauses applied to 0 (no umask).
pub fn parse_mode(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = 0u32;
    for clause in s.split(',') {
        let ops_at = clause.find(['+', '-', '='])?;
        let (who, rest) = clause.split_at(ops_at);
        let mut mask = 0u32;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return None,
            };
        }
        if mask == 0 {
            mask = 0o7777;
        }
        // One or more `op perms` actions: `u+r-w`.
        let mut chars = rest.chars().peekable();
        while let Some(op) = chars.next() {
            if !matches!(op, '+' | '-' | '=') {
                return None;
            }
            let mut bits = 0u32;
            while let Some(&c) = chars.peek() {
                if matches!(c, '+' | '-' | '=') {
                    break;
                }
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' | 'X' => 0o111,
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => return None,
                };
                chars.next();
            }
            let bits = bits & mask;
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => mode = (mode & !mask) | bits,
            }
        }
    }
    Some(mode)
}

/// `-size` argument: `[+-]N[bcwkMG]`.
pub fn parse_size(s: &str) -> Option<(Cmp, u64, u64)> {
    let (cmp, rest) = match s.as_bytes().first()? {
        b'+' => (Cmp::More, &s[1..]),
        b'-' => (Cmp::Less, &s[1..]),
        _ => (Cmp::Exactly, s),
    };
    let (digits, unit) = match rest.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&rest[..i], c),
        _ => (rest, 'b'),
    };
    let unit = match unit {
        'b' => 512,
        'c' => 1,
        'w' => 2,
        'k' => 1024,
        'M' => 1024 * 1024,
        'G' => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((cmp, digits.parse().ok()?, unit))
}

/// GNU find rounds sizes up to whole units: a 1-byte file is 1 block, and
/// `-size -1M` matches only empty files.
pub fn size_matches(size: u64, cmp: Cmp, n: u64, unit: u64) -> bool {
    let units = size.div_ceil(unit);
    match cmp {
        Cmp::Less => units < n,
        Cmp::Exactly => units == n,
        Cmp::More => units > n,
    }
}

pub fn perm_matches(mode: u32, m: &PermMatch) -> bool {
    let mode = mode & 0o7777;
    match *m {
        PermMatch::Exactly(p) => mode == p,
        PermMatch::AllOf(p) => mode & p == p,
        // GNU: `/000` matches everything.
        PermMatch::AnyOf(p) => p == 0 || mode & p != 0,
    }
}

/// fnmatch(3) without flags: `*`, `?`, `[...]` (ranges, `!` or `^`
/// negation) and `\` escapes; `*` and `?` match `/` too, as `-path` needs.
pub fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(&pat[p..], name[n]) {
                        if matched {
                            p += next;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == b'[' {
                        // An unclosed `[` is literal.
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == name[n] {
                        p += 2;
                        n += 1;
                        continue;
                    }
                }
                c => {
                    if c == name[n] {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|c| *c == b'*')
}

/// Match one byte against a bracket expression at the start of `pat`.
/// Returns (matched, length of the expression), or None if it is unclosed.
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        let lo = pat[i];
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == b'[' && pat.get(i + 1) == Some(&b':') {
            // Class names are short ("xdigit" is the longest): look no
            // further, or every `[:` would scan the rest of the pattern.
            let window = &pat[i + 2..pat.len().min(i + 2 + 8)];
            if let Some(end) = window.windows(2).position(|w| w == b":]") {
                let name = &pat[i + 2..i + 2 + end];
                matched |= match name {
                    b"alpha" => c.is_ascii_alphabetic(),
                    b"digit" => c.is_ascii_digit(),
                    b"alnum" => c.is_ascii_alphanumeric(),
                    b"upper" => c.is_ascii_uppercase(),
                    b"lower" => c.is_ascii_lowercase(),
                    b"space" => c.is_ascii_whitespace(),
                    b"punct" => c.is_ascii_punctuation(),
                    b"xdigit" => c.is_ascii_hexdigit(),
                    _ => false,
                };
                i += 2 + end + 2;
                continue;
            }
        }
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|h| *h != b']') {
            let hi = pat[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    None
}

#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String);

/// Parse the arguments after `find`.
pub fn parse_args(args: &[String], ctx: &Ctx) -> Result<Expr, Usage> {
    let mut paths = Vec::new();
    let mut i = 0;
    while i < args.len() && !is_expr_start(&args[i]) {
        paths.push(args[i].clone());
        i += 1;
    }
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut p = ExprParser {
        args: &args[i..],
        at: 0,
        ctx,
        min_depth: 0,
        max_depth: usize::MAX,
        xdev: false,
    };
    let root = if p.args.is_empty() {
        Node::Test(Test::Const(true))
    } else {
        let node = p.or()?;
        if let Some(extra) = p.args.get(p.at) {
            // Only a `)` can stop `or` early.
            return Err(Usage(format!(
                "invalid expression; you have too many ')' (at `{}')",
                escape::field(extra.as_bytes())
            )));
        }
        node
    };
    // With no action, -print applies to what the whole expression matches.
    let root = if root.has_action() {
        root
    } else {
        Node::And(Box::new(root), Box::new(Node::Print))
    };
    Ok(Expr {
        paths,
        root,
        min_depth: p.min_depth,
        max_depth: p.max_depth,
        xdev: p.xdev,
    })
}

/// Recursive descent over GNU find's grammar: `-o` binds loosest, then
/// `-a` (or nothing), then `!`, then `( )`.
struct ExprParser<'a> {
    args: &'a [String],
    at: usize,
    ctx: &'a Ctx,
    min_depth: usize,
    max_depth: usize,
    xdev: bool,
}

impl ExprParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.args.get(self.at).map(String::as_str)
    }

    fn value(&mut self, op: &str) -> Result<&str, Usage> {
        let v = self
            .args
            .get(self.at)
            .ok_or_else(|| Usage(format!("missing argument to `{op}'")))?;
        self.at += 1;
        Ok(v)
    }

    fn or(&mut self) -> Result<Node, Usage> {
        let mut left = self.and()?;
        while let Some(op @ ("-o" | "-or")) = self.peek() {
            let op = op.to_string();
            self.at += 1;
            if matches!(self.peek(), None | Some(")")) {
                return Err(Usage(format!("expected an expression after '{op}'")));
            }
            left = Node::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, Usage> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                None | Some("-o" | "-or" | ")") => return Ok(left),
                Some(op @ ("-a" | "-and")) => {
                    let op = op.to_string();
                    self.at += 1;
                    if matches!(self.peek(), None | Some(")" | "-o" | "-or")) {
                        return Err(Usage(format!("expected an expression after '{op}'")));
                    }
                }
                Some(_) => {}
            }
            left = Node::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Node, Usage> {
        match self.peek() {
            Some(op @ ("!" | "-not")) => {
                let op = op.to_string();
                self.at += 1;
                if matches!(self.peek(), None | Some(")" | "-o" | "-or" | "-a" | "-and")) {
                    return Err(Usage(format!("expected an expression after '{op}'")));
                }
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.at += 1;
                if self.peek() == Some(")") {
                    return Err(Usage(
                        "invalid expression; empty parentheses are not allowed".into(),
                    ));
                }
                let inner = self.or()?;
                if self.peek() != Some(")") {
                    return Err(Usage("invalid expression; I was expecting to find a ')' somewhere but did not see one".into()));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(op @ ("-o" | "-or" | "-a" | "-and")) => Err(Usage(format!(
                "invalid expression; you have used a binary operator '{op}' with nothing before it"
            ))),
            Some(")") => Err(Usage("invalid expression; you have too many ')'".into())),
            Some(_) => self.primary(),
            None => Err(Usage("expected an expression".into())),
        }
    }

    fn primary(&mut self) -> Result<Node, Usage> {
        let op = self.args[self.at].clone();
        self.at += 1;
        let op = op.as_str();
        let test = match op {
            "-print" => return Ok(Node::Print),
            "-print0" => return Ok(Node::Print0),
            "-prune" => return Ok(Node::Prune),
            "-true" => Test::Const(true),
            "-false" => Test::Const(false),
            "-xdev" | "-mount" => {
                self.xdev = true;
                Test::Const(true)
            }
            "-maxdepth" | "-mindepth" => {
                let v = self.value(op)?;
                let n: usize = v
                    .parse()
                    .map_err(|_| Usage(format!("{op}: `{v}' is not a number")))?;
                if op == "-maxdepth" {
                    self.max_depth = n;
                } else {
                    self.min_depth = n;
                }
                Test::Const(true)
            }
            "-name" => Test::Name(Glob::new(self.value(op)?.as_bytes().to_vec())),
            "-iname" => Test::IName(Glob::new(self.value(op)?.to_ascii_lowercase().into_bytes())),
            "-path" | "-wholename" => Test::Path(Glob::new(self.value(op)?.as_bytes().to_vec())),
            "-type" => {
                let v = self.value(op)?;
                match v.as_bytes() {
                    [c @ (b'f' | b'd' | b'l' | b'p' | b's' | b'c' | b'b')] => Test::Type(*c),
                    _ => return Err(Usage(format!("unknown argument to -type: {v}"))),
                }
            }
            "-user" => {
                let v = self.value(op)?.to_string();
                match self.ctx.users.user_by_name(&v) {
                    Some(u) => Test::User(u.uid),
                    None => Test::User(
                        v.parse()
                            .map_err(|_| Usage(format!("`{v}' is not the name of a known user")))?,
                    ),
                }
            }
            "-group" => {
                let v = self.value(op)?.to_string();
                match self.ctx.users.group_by_name(&v) {
                    Some(g) => Test::Group(g.gid),
                    None => Test::Group(v.parse().map_err(|_| {
                        Usage(format!("`{v}' is not the name of an existing group"))
                    })?),
                }
            }
            "-perm" => {
                let v = self.value(op)?;
                let bad = || Usage(format!("invalid mode `{v}'"));
                if let Some(m) = v.strip_prefix('-') {
                    Test::Perm(PermMatch::AllOf(parse_mode(m).ok_or_else(bad)?))
                } else if let Some(m) = v.strip_prefix('/') {
                    Test::Perm(PermMatch::AnyOf(parse_mode(m).ok_or_else(bad)?))
                } else {
                    Test::Perm(PermMatch::Exactly(parse_mode(v).ok_or_else(bad)?))
                }
            }
            "-writable" => Test::Writable,
            "-empty" => Test::Empty,
            "-newer" => {
                let v = self.value(op)?.to_string();
                let m = fs::symlink_metadata(self.ctx.resolve(&v)).map_err(|err| {
                    Usage(format!(
                        "'{}': {}",
                        escape::field(v.as_bytes()),
                        util::io_error(&err)
                    ))
                })?;
                Test::Newer(m.mtime(), m.mtime_nsec())
            }
            "-mmin" | "-mtime" => {
                let v = self.value(op)?;
                let (cmp, digits) = match v.as_bytes().first() {
                    Some(b'+') => (Cmp::More, &v[1..]),
                    Some(b'-') => (Cmp::Less, &v[1..]),
                    _ => (Cmp::Exactly, v),
                };
                let n = digits
                    .parse()
                    .map_err(|_| Usage(format!("invalid argument `{v}' to `{op}'")))?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let unit = if op == "-mmin" { 60 } else { 86_400 };
                Test::Age { cmp, n, unit, now }
            }
            "-size" => {
                let v = self.value(op)?;
                let (cmp, n, unit) =
                    parse_size(v).ok_or_else(|| Usage(format!("invalid -size `{v}'")))?;
                Test::Size { cmp, n, unit }
            }
            other if is_expr_start(other) => {
                return Err(Usage(format!(
                    "unknown predicate `{}' (no -exec or -delete: nosh does not change the target)",
                    escape::field(other.as_bytes())
                )));
            }
            other => {
                return Err(Usage(format!(
                    "paths must precede expression: `{}'",
                    escape::field(other.as_bytes())
                )));
            }
        };
        Ok(Node::Test(test))
    }
}

fn is_expr_start(a: &str) -> bool {
    (a.starts_with('-') && a.len() > 1) || a == "!" || a == "(" || a == ")"
}

/// `-name`, `-iname` and `-path` patterns. Most are a literal, `*` and a
/// literal (`*.log`) or a literal and `*`: those are compared as bytes,
/// which is what [`glob_match`] would answer, without its backtracking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pat: Vec<u8>,
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Exact,
    Suffix,
    Prefix,
    Any,
}

fn is_literal(s: &[u8]) -> bool {
    !s.iter().any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

impl Glob {
    pub fn new(pat: Vec<u8>) -> Glob {
        let shape = if is_literal(&pat) {
            Shape::Exact
        } else if pat.first() == Some(&b'*') && is_literal(&pat[1..]) {
            Shape::Suffix
        } else if pat.last() == Some(&b'*') && is_literal(&pat[..pat.len() - 1]) {
            Shape::Prefix
        } else {
            Shape::Any
        };
        Glob { pat, shape }
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        match self.shape {
            Shape::Exact => name == self.pat,
            Shape::Suffix => name.ends_with(&self.pat[1..]),
            Shape::Prefix => name.starts_with(&self.pat[..self.pat.len() - 1]),
            Shape::Any => glob_match(&self.pat, name),
        }
    }

    /// As `matches` for a pattern given in lower case, ignoring the case
    /// of `name` (ASCII, as GNU find in the C locale).
    pub fn matches_icase(&self, name: &[u8]) -> bool {
        let p = &self.pat;
        match self.shape {
            Shape::Exact => name.eq_ignore_ascii_case(p),
            Shape::Suffix => {
                name.len() >= p.len() - 1
                    && name[name.len() - (p.len() - 1)..].eq_ignore_ascii_case(&p[1..])
            }
            Shape::Prefix => {
                name.len() >= p.len() - 1
                    && name[..p.len() - 1].eq_ignore_ascii_case(&p[..p.len() - 1])
            }
            Shape::Any => glob_match(p, &name.to_ascii_lowercase()),
        }
    }
}

/// Directories whose descriptor stays open while their entries are
/// visited (entries are then looked up relative to it); deeper ones are
/// reached by whole paths, so that a deep tree cannot exhaust the
/// descriptor table.
const FD_DEPTH: usize = 64;

/// The `getdents64` buffer is grown by this much while a directory is read.
const DIRENT_CHUNK: usize = 64 * 1024;

/// Read all of directory `fd` into `buf` as raw `linux_dirent64` records;
/// on an error, what was read before it stays in `buf`.
fn read_dirents(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < DIRENT_CHUNK {
            buf.reserve(DIRENT_CHUNK);
        }
        let spare = buf.spare_capacity_mut();
        // SAFETY: the kernel writes at most `spare.len()` bytes to
        // `spare`, which is writable memory of that length, and `fd` is an
        // open descriptor for the duration of the call.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                spare.as_mut_ptr().cast::<libc::c_void>(),
                spare.len(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        let n = usize::try_from(n).unwrap_or(0).min(spare.len());
        // SAFETY: getdents64 initialised the first `n` bytes of the spare
        // capacity, and `n` is within it.
        unsafe { buf.set_len(buf.len() + n) };
    }
}

/// The entries of a `getdents64` buffer but `.` and `..`: each name (with
/// its NUL, ready for the `*at` calls) and `d_type`.
struct Dirents<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Dirents<'a> {
    type Item = (&'a CStr, u8);

    fn next(&mut self) -> Option<(&'a CStr, u8)> {
        // d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
        const NAME: usize = 19;
        loop {
            let rec = self.buf.get(self.at..)?;
            if rec.len() <= NAME {
                return None;
            }
            let len = usize::from(u16::from_ne_bytes([rec[16], rec[17]]));
            if len <= NAME || len > rec.len() {
                return None;
            }
            self.at += len;
            let Ok(name) = CStr::from_bytes_until_nul(&rec[NAME..len]) else {
                continue;
            };
            if matches!(name.to_bytes(), b"" | b"." | b"..") {
                continue;
            }
            return Some((name, rec[18]));
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: take every entry's type from `lstat`, as on a filesystem
    /// whose directory entries say DT_UNKNOWN.
    static IGNORE_D_TYPE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn ignore_d_type() -> bool {
    #[cfg(test)]
    return IGNORE_D_TYPE.with(std::cell::Cell::get);
    #[cfg(not(test))]
    false
}

/// `d_type` of an `st_mode`.
fn kind_of(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFREG => libc::DT_REG,
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFLNK => libc::DT_LNK,
        libc::S_IFIFO => libc::DT_FIFO,
        libc::S_IFSOCK => libc::DT_SOCK,
        libc::S_IFCHR => libc::DT_CHR,
        libc::S_IFBLK => libc::DT_BLK,
        _ => libc::DT_UNKNOWN,
    }
}

fn type_char(kind: u8) -> u8 {
    match kind {
        libc::DT_REG => b'f',
        libc::DT_DIR => b'd',
        libc::DT_LNK => b'l',
        libc::DT_FIFO => b'p',
        libc::DT_SOCK => b's',
        libc::DT_CHR => b'c',
        libc::DT_BLK => b'b',
        _ => b'?',
    }
}

fn lstat_at(dir: BorrowedFd<'_>, path: &CStr) -> io::Result<FileStat> {
    stat::fstatat(dir, path, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io::Error::from)
}

/// Open a directory without following a symlink put in its place.
fn open_dir(dir: BorrowedFd<'_>, path: &CStr) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    fcntl::openat(dir, path, flags, Mode::empty()).map_err(io::Error::from)
}

fn dir_is_empty(dir: BorrowedFd<'_>, path: &CStr) -> bool {
    let Ok(fd) = open_dir(dir, path) else {
        return false;
    };
    let mut buf = Vec::new();
    read_dirents(fd.as_fd(), &mut buf).is_ok() && Dirents { buf: &buf, at: 0 }.next().is_none()
}

/// One candidate: what the walk knows without a `stat`.
struct Candidate<'a> {
    /// The directory `path` is relative to (AT_FDCWD for whole paths).
    dir: BorrowedFd<'a>,
    path: &'a CStr,
    shown: &'a [u8],
    name: &'a [u8],
    /// `d_type`, from the directory entry or the `lstat`.
    kind: u8,
    meta: Option<Option<FileStat>>,
}

impl Candidate<'_> {
    fn meta(&mut self) -> Option<&FileStat> {
        if self.meta.is_none() {
            self.meta = Some(lstat_at(self.dir, self.path).ok());
        }
        self.meta.as_ref().and_then(Option::as_ref)
    }
}

fn test_one(t: &Test, c: &mut Candidate) -> bool {
    match t {
        Test::Name(p) => p.matches(c.name),
        Test::IName(p) => p.matches_icase(c.name),
        Test::Const(b) => *b,
        Test::Empty => {
            if c.kind == libc::DT_DIR {
                dir_is_empty(c.dir, c.path)
            } else {
                c.kind == libc::DT_REG && c.meta().is_some_and(|m| m.st_size == 0)
            }
        }
        Test::Age { cmp, n, unit, now } => c.meta().is_some_and(|m| {
            let age = (now - m.st_mtime).div_euclid(*unit);
            match cmp {
                Cmp::Less => age < *n as i64,
                Cmp::Exactly => age == *n as i64,
                Cmp::More => age > *n as i64,
            }
        }),
        Test::Path(p) => p.matches(c.shown),
        Test::Type(ch) => type_char(c.kind) == *ch,
        Test::Writable => {
            unistd::faccessat(c.dir, c.path, AccessFlags::W_OK, AtFlags::empty()).is_ok()
        }
        Test::User(uid) => c.meta().is_some_and(|m| m.st_uid == *uid),
        Test::Group(gid) => c.meta().is_some_and(|m| m.st_gid == *gid),
        Test::Perm(pm) => c.meta().is_some_and(|m| perm_matches(m.st_mode, pm)),
        Test::Newer(s, ns) => c
            .meta()
            .is_some_and(|m| (m.st_mtime, m.st_mtime_nsec) > (*s, *ns)),
        Test::Size { cmp, n, unit } => c
            .meta()
            .is_some_and(|m| size_matches(m.st_size.max(0) as u64, *cmp, *n, *unit)),
    }
}

struct Walk<'a, W: Write> {
    expr: &'a Expr,
    out: W,
    err: &'a mut dyn Write,
    tty: bool,
    status: i32,
    /// (dev, ino) of the directories from the start path down to here.
    ancestors: Vec<(u64, u64, Vec<u8>)>,
    /// The filesystem of the current start path (-xdev).
    start_dev: u64,
    /// The real path of the directory being listed, for the whole paths
    /// below [`FD_DEPTH`].
    real: Vec<u8>,
    /// A `getdents64` buffer per depth, kept for the next directory there.
    bufs: Vec<Vec<u8>>,
}

impl<W: Write> Walk<'_, W> {
    /// Evaluate `node` for one file, left to right with short circuits,
    /// running its actions; `prune` is set by -prune.
    fn eval(&mut self, node: &Node, c: &mut Candidate, prune: &mut bool) -> io::Result<bool> {
        Ok(match node {
            Node::Test(t) => test_one(t, c),
            Node::Not(a) => !self.eval(a, c, prune)?,
            Node::And(a, b) => self.eval(a, c, prune)? && self.eval(b, c, prune)?,
            Node::Or(a, b) => self.eval(a, c, prune)? || self.eval(b, c, prune)?,
            Node::Print => {
                self.emit(c.shown, b'\n')?;
                true
            }
            Node::Print0 => {
                self.emit(c.shown, 0)?;
                true
            }
            Node::Prune => {
                *prune = true;
                true
            }
        })
    }

    fn emit(&mut self, shown: &[u8], end: u8) -> io::Result<()> {
        if self.tty {
            self.out.write_all(escape::field(shown).as_bytes())?;
        } else {
            self.out.write_all(shown)?;
        }
        self.out.write_all(&[end])
    }

    fn report(&mut self, shown: &[u8], e: &io::Error) -> io::Result<()> {
        self.out.flush()?;
        writeln!(
            self.err,
            "find: '{}': {}",
            escape::field(shown),
            util::io_error(e)
        )?;
        self.status = 1;
        Ok(())
    }

    /// Visit one entry (`path` relative to `dir`); descend if it is a
    /// directory within -maxdepth.
    #[allow(clippy::too_many_arguments, reason = "the walk's state, passed down")]
    fn visit(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &CStr,
        shown: &mut Vec<u8>,
        name_at: usize,
        kind: u8,
        meta: Option<FileStat>,
        depth: usize,
    ) -> io::Result<()> {
        let mut c = Candidate {
            dir,
            path,
            shown,
            name: &shown[name_at..],
            kind,
            meta: meta.map(Some),
        };
        let mut prune = false;
        if depth >= self.expr.min_depth {
            let expr = self.expr;
            self.eval(&expr.root, &mut c, &mut prune)?;
        }
        if prune
            || kind != libc::DT_DIR
            || depth >= self.expr.max_depth
            || crate::shell::interrupted()
        {
            return Ok(());
        }
        self.descend(dir, path, shown, name_at, depth)
    }

    /// List directory `path` (relative to `dir`; its name starts at
    /// `name_at` in `shown`) and visit its entries.
    fn descend(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &CStr,
        shown: &mut Vec<u8>,
        name_at: usize,
        depth: usize,
    ) -> io::Result<()> {
        let fd = match open_dir(dir, path) {
            Ok(fd) => fd,
            Err(e) => return self.report(shown, &e),
        };
        let dir_meta = match stat::fstat(&fd) {
            Ok(m) => m,
            Err(e) => return self.report(shown, &e.into()),
        };
        let id = (dir_meta.st_dev, dir_meta.st_ino);
        if depth == 0 {
            self.start_dev = id.0;
        } else if self.expr.xdev && id.0 != self.start_dev {
            // -xdev: a mount point is listed, not entered.
            return Ok(());
        }
        if let Some((_, _, first)) = self.ancestors.iter().find(|(d, i, _)| (*d, *i) == id) {
            self.out.flush()?;
            writeln!(
                self.err,
                "find: File system loop detected; '{}' is part of the same file system loop as '{}'.",
                escape::field(shown),
                escape::field(first)
            )?;
            self.status = 1;
            return Ok(());
        }
        if self.bufs.len() <= depth {
            self.bufs.resize_with(depth + 1, Vec::new);
        }
        let mut buf = std::mem::take(&mut self.bufs[depth]);
        let read = read_dirents(fd.as_fd(), &mut buf);
        if let Err(e) = &read {
            self.report(shown, e)?;
        }
        // Below FD_DEPTH, entries are reached by whole paths instead.
        let fd = (depth < FD_DEPTH).then_some(fd);
        self.ancestors.push((id.0, id.1, shown.clone()));
        let real_base = self.real.len();
        if depth > 0 {
            if self.real.last() != Some(&b'/') {
                self.real.push(b'/');
            }
            self.real.extend_from_slice(&shown[name_at..]);
        }
        let base = shown.len();
        let mut whole = Vec::new();
        for (name, d_type) in (Dirents { buf: &buf, at: 0 }) {
            shown.truncate(base);
            if shown.last() != Some(&b'/') {
                shown.push(b'/');
            }
            let at = shown.len();
            shown.extend_from_slice(name.to_bytes());
            let (child_dir, child) = match &fd {
                Some(fd) => (fd.as_fd(), name),
                None => {
                    whole.clear();
                    whole.extend_from_slice(&self.real);
                    if whole.last() != Some(&b'/') {
                        whole.push(b'/');
                    }
                    whole.extend_from_slice(name.to_bytes_with_nul());
                    let Ok(whole) = CStr::from_bytes_with_nul(&whole) else {
                        continue;
                    };
                    (fcntl::AT_FDCWD, whole)
                }
            };
            let (kind, meta) = if d_type == libc::DT_UNKNOWN || ignore_d_type() {
                // Filesystems without d_type: ask the inode.
                match lstat_at(child_dir, child) {
                    Ok(m) => (kind_of(m.st_mode), Some(m)),
                    // Vanished since the listing.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        shown.truncate(base);
                        self.report(shown, &e)?;
                        break;
                    }
                }
            } else {
                (d_type, None)
            };
            self.visit(child_dir, child, shown, at, kind, meta, depth + 1)?;
        }
        shown.truncate(base);
        self.real.truncate(real_base);
        self.ancestors.pop();
        self.bufs[depth] = buf;
        Ok(())
    }
}

/// The last component of a start path, as GNU find's `-name` sees it.
fn base_name(shown: &[u8]) -> usize {
    let trimmed = shown.len()
        - shown
            .iter()
            .rev()
            .take_while(|b| **b == b'/')
            .count()
            .min(shown.len().saturating_sub(1));
    shown[..trimmed]
        .iter()
        .rposition(|b| *b == b'/')
        .map_or(0, |i| if i + 1 == trimmed { i } else { i + 1 })
}

impl Builtin for Find {
    const NAME: &'static str = "find";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let expr = match parse_args(&self.args, ctx) {
            Ok(e) => e,
            Err(Usage(msg)) => {
                writeln!(io.err, "find: {msg}")?;
                return Ok(2);
            }
        };
        let tty = io.out.is_terminal();
        // A terminal sees each line as it is found; a pipe gets big writes.
        let cap = if tty { 0 } else { 64 * 1024 };
        let mut walk = Walk {
            expr: &expr,
            out: BufWriter::with_capacity(cap, &mut io.out),
            err: &mut io.err,
            tty,
            status: 0,
            ancestors: Vec::new(),
            start_dev: 0,
            real: Vec::new(),
            bufs: Vec::new(),
        };
        for p in &expr.paths {
            let real = ctx.resolve(p);
            let mut shown = p.as_bytes().to_vec();
            let real = match CString::new(real.into_os_string().into_vec()) {
                Ok(r) => r,
                Err(_) => {
                    let e = io::Error::from(io::ErrorKind::InvalidInput);
                    walk.report(&shown, &e)?;
                    continue;
                }
            };
            match lstat_at(fcntl::AT_FDCWD, &real) {
                Ok(m) => {
                    let at = base_name(&shown);
                    walk.real.clear();
                    walk.real.extend_from_slice(real.to_bytes());
                    let kind = kind_of(m.st_mode);
                    walk.visit(fcntl::AT_FDCWD, &real, &mut shown, at, kind, Some(m), 0)?;
                }
                Err(e) => walk.report(&shown, &e)?,
            }
        }
        walk.out.flush()?;
        Ok(walk.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::io::Io;
    use std::os::unix::fs::PermissionsExt;

    fn run_find(ctx: &mut Ctx, args: &[&str]) -> (String, String, i32) {
        let mut argv = vec!["find".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(b"");
        let status = (super::super::find("find").unwrap().run)(&argv, &mut io, ctx);
        (io.out_text(), io.err_text(), status)
    }

    fn sorted(s: &str) -> Vec<&str> {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort();
        v
    }

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob_match(b"*.log", b"app.log"));
        assert!(!glob_match(b"*.log", b"app.log.1"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[!a-c]x", b"bx"));
        assert!(glob_match(b"[^a-c]x", b"dx"));
        assert!(glob_match(b"[]]", b"]"));
        assert!(glob_match(b"[[:digit:]]*", b"1abc"));
        assert!(glob_match(b"\\*", b"*"));
        assert!(!glob_match(b"\\*", b"a"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXXbYYc"));
        assert!(!glob_match(b"a*b*c", b"aXXbYY"));
        assert!(glob_match(b"[x", b"[x"));
        assert!(glob_match(b"/var/*/app", b"/var/log/x/app"));
    }

    #[test]
    fn many_unclosed_classes_match_in_linear_time() {
        let pat = format!("*{}*", "[[:a".repeat(1000));
        let started = std::time::Instant::now();
        assert!(!glob_match(pat.as_bytes(), &[b's'; 255]));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn perm_forms_follow_gnu() {
        assert_eq!(parse_mode("644"), Some(0o644));
        assert_eq!(parse_mode("u+w"), Some(0o200));
        assert_eq!(parse_mode("g=w,o=r"), Some(0o024));
        assert_eq!(parse_mode("+x"), Some(0o111));
        assert_eq!(parse_mode("u=rwx,g+s"), Some(0o2700));
        assert_eq!(parse_mode("q+r"), None);
        assert_eq!(parse_mode("99"), None);
        assert!(perm_matches(0o100644, &PermMatch::Exactly(0o644)));
        assert!(!perm_matches(0o100664, &PermMatch::Exactly(0o644)));
        assert!(perm_matches(0o100664, &PermMatch::AllOf(0o644)));
        assert!(!perm_matches(0o100600, &PermMatch::AllOf(0o644)));
        assert!(perm_matches(0o100602, &PermMatch::AnyOf(0o022)));
        assert!(!perm_matches(0o100600, &PermMatch::AnyOf(0o022)));
        assert!(perm_matches(0o100000, &PermMatch::AnyOf(0)));
        assert!(perm_matches(0o104755, &PermMatch::AllOf(0o4000)));
    }

    #[test]
    fn size_rounds_up_to_units_like_gnu() {
        assert_eq!(parse_size("+10k"), Some((Cmp::More, 10, 1024)));
        assert_eq!(parse_size("-1M"), Some((Cmp::Less, 1, 1 << 20)));
        assert_eq!(parse_size("3"), Some((Cmp::Exactly, 3, 512)));
        assert_eq!(parse_size("12c"), Some((Cmp::Exactly, 12, 1)));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("1x"), None);
        // -size -1M: only empty files (1 byte rounds up to 1M).
        assert!(size_matches(0, Cmp::Less, 1, 1 << 20));
        assert!(!size_matches(1, Cmp::Less, 1, 1 << 20));
        // -size 1 (blocks): 1..=512 bytes.
        assert!(size_matches(1, Cmp::Exactly, 1, 512));
        assert!(size_matches(512, Cmp::Exactly, 1, 512));
        assert!(!size_matches(513, Cmp::Exactly, 1, 512));
        assert!(size_matches(513, Cmp::More, 1, 512));
        assert!(size_matches(1025, Cmp::Exactly, 2, 1024));
    }

    #[test]
    fn start_path_base_names() {
        assert_eq!(&b"/var/log"[base_name(b"/var/log")..], b"log");
        assert_eq!(&b"/"[base_name(b"/")..], b"/");
        assert_eq!(&b"."[base_name(b".")..], b".");
        assert_eq!(&b"a/"[base_name(b"a/")..], b"a/");
    }

    fn tree() -> (tempfile::TempDir, Ctx) {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("var/log/app")).unwrap();
        fs::write(r.join("etc/passwd"), "nonroot:x:65532:65532::/:/x\n").unwrap();
        fs::write(r.join("var/log/app/a.log"), vec![b'x'; 1500]).unwrap();
        fs::write(r.join("var/log/app/b.log"), b"").unwrap();
        fs::write(r.join("var/log/readme.txt"), b"hi").unwrap();
        fs::set_permissions(
            r.join("var/log/readme.txt"),
            fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", r.join("var/etc-link")).unwrap();
        let ctx = Ctx::for_root(r.to_path_buf());
        (dir, ctx)
    }

    #[test]
    fn find_walks_the_target_root_with_names_as_the_target_sees_them() {
        let (_d, mut ctx) = tree();
        let (out, err, st) = run_find(&mut ctx, &["/var", "-name", "*.log"]);
        assert_eq!(st, 0, "{err}");
        assert_eq!(sorted(&out), ["/var/log/app/a.log", "/var/log/app/b.log"]);
        let (out, _, _) = run_find(&mut ctx, &["/", "-type", "l"]);
        assert_eq!(out, "/var/etc-link\n");
        let (out, _, _) = run_find(&mut ctx, &["/var", "-maxdepth", "1"]);
        assert_eq!(sorted(&out), ["/var", "/var/etc-link", "/var/log"]);
        let (out, _, _) = run_find(&mut ctx, &["/var", "-mindepth", "2", "-type", "d"]);
        assert_eq!(out, "/var/log/app\n");
        let (out, _, _) = run_find(&mut ctx, &["/var", "-size", "+1k", "-type", "f"]);
        assert_eq!(out, "/var/log/app/a.log\n");
        let (out, _, _) = run_find(&mut ctx, &["/var", "-perm", "640"]);
        assert_eq!(out, "/var/log/readme.txt\n");
        let (out, _, _) = run_find(&mut ctx, &["/var", "-path", "*/app/*", "!", "-name", "a*"]);
        assert_eq!(out, "/var/log/app/b.log\n");
        let (out, _, _) = run_find(
            &mut ctx,
            &["/etc", "-user", &nix::unistd::getuid().to_string()],
        );
        assert_eq!(sorted(&out), ["/etc", "/etc/passwd"]);
    }

    #[test]
    fn find_reports_missing_paths_and_bad_expressions() {
        let (_d, mut ctx) = tree();
        let (out, err, st) = run_find(&mut ctx, &["/nope", "/etc", "-name", "passwd"]);
        assert_eq!(out, "/etc/passwd\n");
        assert_eq!(err, "find: '/nope': No such file or directory\n");
        assert_eq!(st, 1);
        let (_, err, st) = run_find(&mut ctx, &["/", "-exec", "rm", "{}", ";"]);
        assert_eq!(st, 2);
        assert!(err.contains("unknown predicate `-exec'"), "{err}");
        let (_, err, st) = run_find(&mut ctx, &["/", "-user", "nobody-here"]);
        assert_eq!(st, 2);
        assert!(err.contains("not the name of a known user"), "{err}");
    }

    #[test]
    fn operators_group_and_bind_as_in_gnu_find() {
        let (_d, mut ctx) = tree();
        let (out, err, st) = run_find(
            &mut ctx,
            &[
                "/var",
                "(",
                "-name",
                "a.log",
                "-o",
                "-name",
                "readme.txt",
                ")",
            ],
        );
        assert_eq!(st, 0, "{err}");
        assert_eq!(sorted(&out), ["/var/log/app/a.log", "/var/log/readme.txt"]);
        // -a binds tighter than -o: `-type d -o -name a.log` with an
        // implicit -print around the whole.
        let (out, _, _) = run_find(
            &mut ctx,
            &["/var/log", "-type", "d", "-o", "-name", "a.log"],
        );
        assert_eq!(
            sorted(&out),
            ["/var/log", "/var/log/app", "/var/log/app/a.log"]
        );
        // An explicit -print binds to its own branch only.
        let (out, _, _) = run_find(
            &mut ctx,
            &["/var/log", "-type", "d", "-o", "-name", "a.log", "-print"],
        );
        assert_eq!(out, "/var/log/app/a.log\n");
        let (out, _, _) = run_find(
            &mut ctx,
            &[
                "/var/log", "!", "(", "-type", "d", "-o", "-name", "*.log", ")",
            ],
        );
        assert_eq!(out, "/var/log/readme.txt\n");
        let (out, _, _) = run_find(
            &mut ctx,
            &["/var/log", "-not", "-type", "d", "-not", "-name", "*.log"],
        );
        assert_eq!(out, "/var/log/readme.txt\n");
        let (out, _, _) = run_find(
            &mut ctx,
            &["/var", "-false", "-o", "-name", "b.log", "-a", "-true"],
        );
        assert_eq!(out, "/var/log/app/b.log\n");
        let (out, _, _) = run_find(&mut ctx, &["/var", "-iname", "README.TXT"]);
        assert_eq!(out, "/var/log/readme.txt\n");
    }

    #[test]
    fn prune_print0_and_empty() {
        let (d, mut ctx) = tree();
        fs::create_dir(d.path().join("var/empty-dir")).unwrap();
        let (out, _, _) = run_find(
            &mut ctx,
            &[
                "/var", "-name", "app", "-prune", "-o", "-type", "f", "-print",
            ],
        );
        assert_eq!(out, "/var/log/readme.txt\n");
        let (out, _, _) = run_find(&mut ctx, &["/var/log/app", "-type", "f", "-print0"]);
        let mut names: Vec<&str> = out.split_terminator('\0').collect();
        names.sort();
        assert_eq!(names, ["/var/log/app/a.log", "/var/log/app/b.log"]);
        assert!(out.ends_with('\0') && !out.contains('\n'));
        let (out, _, _) = run_find(&mut ctx, &["/var", "-empty"]);
        assert_eq!(sorted(&out), ["/var/empty-dir", "/var/log/app/b.log"]);
        let (out, _, _) = run_find(&mut ctx, &["/var/log/app", "-mmin", "-5", "-name", "a.log"]);
        assert_eq!(out, "/var/log/app/a.log\n");
        let (out, _, _) = run_find(&mut ctx, &["/var/log/app", "-mtime", "+0"]);
        assert_eq!(out, "");
    }

    #[test]
    fn malformed_expressions_are_one_sentence_and_status_2() {
        let (_d, mut ctx) = tree();
        for (args, says) in [
            (
                &["-o", "-name", "x"][..],
                "binary operator '-o' with nothing before it",
            ),
            (&["(", "-name", "x"][..], "expecting to find a ')'"),
            (&["(", ")"][..], "empty parentheses"),
            (
                &["-name", "x", "-o"][..],
                "expected an expression after '-o'",
            ),
            (&["-name", "x", ")"][..], "too many ')'"),
            (&["!"][..], "expected an expression after '!'"),
            (&["-mmin", "x"][..], "invalid argument `x' to `-mmin'"),
        ] {
            let (out, err, st) = run_find(&mut ctx, args);
            assert_eq!((out.as_str(), st), ("", 2), "{args:?}");
            assert!(
                err.starts_with("find: ") && err.contains(says),
                "{args:?}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn literal_affix_patterns_match_as_glob_match_does() {
        let pats: [&[u8]; 9] = [
            b"*.log", b"app*", b"app.log", b"*", b"", b"*a", b"a*", b"*[ab]", b"a?*",
        ];
        let names: [&[u8]; 8] = [
            b"app.log", b"app", b"x.log", b"", b"a", b"b.LOG", b"APP.log", b"ab",
        ];
        for p in pats {
            let g = Glob::new(p.to_vec());
            let lower = Glob::new(p.to_ascii_lowercase());
            for n in names {
                assert_eq!(g.matches(n), glob_match(p, n), "{p:?} {n:?}");
                assert_eq!(
                    lower.matches_icase(n),
                    glob_match(&p.to_ascii_lowercase(), &n.to_ascii_lowercase()),
                    "{p:?} {n:?}"
                );
            }
        }
        assert_eq!(Glob::new(b"*.log".to_vec()).shape, Shape::Suffix);
        assert_eq!(Glob::new(b"app*".to_vec()).shape, Shape::Prefix);
        assert_eq!(Glob::new(b"a\\*".to_vec()).shape, Shape::Any);
    }

    proptest::proptest! {
        #[test]
        fn compiled_patterns_agree_with_glob_match(
            pat in "[*]?[a.b]{0,4}[*]?",
            name in "[a.bA]{0,6}",
        ) {
            let g = Glob::new(pat.as_bytes().to_vec());
            proptest::prop_assert_eq!(g.matches(name.as_bytes()), glob_match(pat.as_bytes(), name.as_bytes()));
            proptest::prop_assert_eq!(
                g.matches_icase(name.as_bytes()),
                glob_match(pat.as_bytes(), &name.as_bytes().to_ascii_lowercase())
            );
        }
    }

    #[test]
    fn without_d_type_the_walk_takes_types_from_lstat_and_finds_the_same() {
        let (d, mut ctx) = tree();
        fs::create_dir(d.path().join("var/empty-dir")).unwrap();
        let exprs: [&[&str]; 6] = [
            &["/"],
            &["/var", "-type", "f"],
            &["/", "-type", "l"],
            &["/var", "-type", "d", "-empty"],
            &["/var", "-name", "*.log", "-size", "+1k"],
            &["/var", "-name", "app", "-prune", "-o", "-print"],
        ];
        for args in exprs {
            let with = run_find(&mut ctx, args);
            IGNORE_D_TYPE.with(|i| i.set(true));
            let without = run_find(&mut ctx, args);
            IGNORE_D_TYPE.with(|i| i.set(false));
            assert_eq!(sorted(&with.0), sorted(&without.0), "{args:?}");
            assert_eq!((with.1, with.2), (without.1, without.2), "{args:?}");
            assert!(!with.0.is_empty(), "{args:?}");
        }
    }

    #[test]
    fn a_tree_deeper_than_the_open_descriptors_is_walked_by_path() {
        let (d, mut ctx) = tree();
        let mut deep = d.path().join("deep");
        let mut shown = String::from("/deep");
        for i in 0..FD_DEPTH + 6 {
            let part = format!("d{i}");
            deep.push(&part);
            shown = format!("{shown}/{part}");
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("bottom.txt"), b"x").unwrap();
        fs::create_dir(deep.join("hollow")).unwrap();
        std::os::unix::fs::symlink("/etc", deep.join("link")).unwrap();
        let (out, err, st) = run_find(&mut ctx, &["/deep", "-name", "bottom.txt"]);
        assert_eq!(
            (out.as_str(), err.as_str(), st),
            (format!("{shown}/bottom.txt\n").as_str(), "", 0)
        );
        let (out, _, _) = run_find(&mut ctx, &["/deep", "-empty"]);
        assert_eq!(out, format!("{shown}/hollow\n"));
        let (out, _, _) = run_find(&mut ctx, &["/deep", "-type", "l"]);
        assert_eq!(out, format!("{shown}/link\n"));
        let (out, _, _) = run_find(
            &mut ctx,
            &["/deep", "-type", "f", "-size", "1", "-perm", "/444"],
        );
        assert_eq!(out, format!("{shown}/bottom.txt\n"));
        let (out, _, _) = run_find(&mut ctx, &["/deep"]);
        assert_eq!(out.lines().count(), FD_DEPTH + 6 + 4);
    }

    #[test]
    fn find_newer_compares_modification_times() {
        let (d, mut ctx) = tree();
        let old = fs::File::options()
            .write(true)
            .open(d.path().join("var/log/app/b.log"))
            .unwrap();
        old.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        let (out, _, _) = run_find(
            &mut ctx,
            &["/var/log/app", "-type", "f", "-newer", "/var/log/app/b.log"],
        );
        assert_eq!(out, "/var/log/app/a.log\n");
    }
}
