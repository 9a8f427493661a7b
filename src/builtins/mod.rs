//! The builtins: one file each, one clap-derived struct each whose doc
//! comments are its `--help`, registered in [`table`].

pub mod util;

pub mod bind_check;
mod caps;
mod cat;
mod cd;
pub(crate) mod cgroup;
mod clear;
mod connect;
mod copy_in;
mod copy_out;
mod cut;
mod date;
mod df;
pub mod doctor;
mod du;
mod echo;
pub mod entrypoint;
mod env;
mod exit;
mod export;
pub(crate) mod fds;
mod file;
pub(crate) mod find;
mod grep;
mod head;
mod help;
mod hexdump;
mod history;
pub(crate) mod http;
mod id;
mod ip;
pub(crate) mod kill;
pub(crate) mod less;
pub(crate) mod limits;
mod ls;
mod mounts;
mod ports;
mod ps;
mod pwd;
pub(crate) mod readlink;
mod resolve;
mod route;
pub(crate) mod run;
mod sleep;
mod sort;
mod stat;
mod strings;
mod tail;
pub mod tools;
mod top;
mod tr;
pub(crate) mod trace;
mod truefalse;
mod uniq;
mod unset;
mod wc;
mod which;
mod whoami;
mod why;
mod writable;
mod xxd;

use std::io::{self, Write};
use std::sync::OnceLock;

use clap::Parser;

use crate::shell::Ctx;
use crate::shell::io::Io;

/// A builtin: its arguments are a clap parser; `run` writes to the streams
/// it is given and returns the exit status (0 ok, 1 failed, 2 usage).
pub trait Builtin: Parser {
    const NAME: &'static str;
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32>;

    /// The arguments as clap should see them: a builtin rewrites the short
    /// forms people type that clap cannot express (`head -2`).
    fn rewrite_args(argv: &[String]) -> Vec<String> {
        argv.to_vec()
    }
}

/// A row of the builtin table.
pub struct Entry {
    pub name: &'static str,
    pub run: fn(&[String], &mut Io, &mut Ctx) -> i32,
    pub about: fn() -> String,
}

/// The width `--help` text is wrapped to: the terminal's ($COLUMNS), at
/// most 120 columns for readability, 80 when unknown.
fn help_width(ctx: &Ctx) -> usize {
    ctx.var("COLUMNS")
        .parse()
        .ok()
        .filter(|w| *w >= 20)
        .map_or(80, |w: usize| w.min(120))
}

fn dispatch<B: Builtin>(argv: &[String], io: &mut Io, ctx: &mut Ctx) -> i32 {
    let parsed = B::command()
        .term_width(help_width(ctx))
        .try_get_matches_from(B::rewrite_args(argv))
        .and_then(|mut m| B::from_arg_matches_mut(&mut m));
    let args = match parsed {
        Ok(args) => args,
        Err(e) => {
            let text = e.render().to_string();
            return if e.use_stderr() {
                let _ = write!(io.err, "{text}");
                2
            } else {
                let _ = write!(io.out, "{text}");
                0
            };
        }
    };
    match args.run(io, ctx) {
        Ok(status) => status,
        // The reader went away (`| head`): not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(io.err, "{}: {}", B::NAME, util::io_error(&e));
            1
        }
    }
}

fn about<B: Builtin>() -> String {
    B::command()
        .get_about()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn entry<B: Builtin>() -> Entry {
    Entry {
        name: B::NAME,
        run: dispatch::<B>,
        about: about::<B>,
    }
}

/// The same builtin under a second name (`ss` for `ports`).
fn alias<B: Builtin>(name: &'static str, about: fn() -> String) -> Entry {
    Entry {
        name,
        run: dispatch::<B>,
        about,
    }
}

/// Every builtin, sorted by name.
pub fn table() -> &'static [Entry] {
    static TABLE: OnceLock<Vec<Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![
            entry::<bind_check::BindCheck>(),
            entry::<caps::Caps>(),
            entry::<cat::Cat>(),
            entry::<cd::Cd>(),
            entry::<clear::Clear>(),
            entry::<connect::Connect>(),
            entry::<copy_in::CopyIn>(),
            entry::<copy_out::CopyOut>(),
            entry::<doctor::Doctor>(),
            entry::<cgroup::Cgroup>(),
            entry::<cut::Cut>(),
            entry::<date::Date>(),
            entry::<df::Df>(),
            entry::<du::Du>(),
            entry::<echo::Echo>(),
            entry::<entrypoint::Entrypoint>(),
            entry::<env::Env>(),
            entry::<exit::Exit>(),
            entry::<export::Export>(),
            entry::<truefalse::False>(),
            entry::<fds::Fds>(),
            entry::<file::FileCmd>(),
            entry::<find::Find>(),
            entry::<grep::Grep>(),
            entry::<head::Head>(),
            entry::<help::Help>(),
            entry::<hexdump::Hexdump>(),
            entry::<history::History>(),
            entry::<http::Http>(),
            entry::<id::Id>(),
            entry::<ip::Ip>(),
            entry::<ls::Ls>(),
            entry::<ports::Ports>(),
            alias::<ports::Ports>("ss", || "The same as `ports`".into()),
            entry::<ps::Ps>(),
            entry::<pwd::Pwd>(),
            entry::<resolve::Resolve>(),
            entry::<route::Route>(),
            entry::<kill::Kill>(),
            entry::<limits::Limits>(),
            entry::<less::Less>(),
            alias::<less::Less>("more", || "The same as `less`".into()),
            entry::<mounts::Mounts>(),
            entry::<readlink::Readlink>(),
            entry::<run::Run>(),
            entry::<sort::Sort>(),
            entry::<sleep::Sleep>(),
            entry::<stat::Stat>(),
            entry::<strings::Strings>(),
            entry::<tail::Tail>(),
            entry::<tools::Tools>(),
            entry::<trace::Trace>(),
            entry::<top::Top>(),
            entry::<tr::Tr>(),
            entry::<truefalse::True>(),
            entry::<uniq::Uniq>(),
            entry::<unset::Unset>(),
            entry::<wc::Wc>(),
            entry::<which::Which>(),
            entry::<whoami::Whoami>(),
            entry::<why::Why>(),
            entry::<writable::Writable>(),
            entry::<xxd::Xxd>(),
        ];
        t.sort_by_key(|e| e.name);
        t
    })
}

pub fn find(name: &str) -> Option<&'static Entry> {
    table().iter().find(|e| e.name == name)
}

/// The builtins that are the shell itself: a brought tool of the same
/// name does not take their place.
pub const SHELL_OWN: &[&str] = &[
    "cd", "exit", "export", "unset", "history", "help", "tools", "run", "which",
];

/// Programs people type out of habit, and the builtin that does their job.
const HABITS: &[(&str, &str)] = &[
    ("curl", "http"),
    ("dig", "resolve"),
    ("getent", "resolve"),
    ("hostname", "env"),
    ("ifconfig", "ip"),
    ("lsof", "fds"),
    ("more", "less"),
    ("nc", "connect"),
    ("netstat", "ports"),
    ("nslookup", "resolve"),
    ("od", "xxd"),
    ("printenv", "env"),
    ("telnet", "connect"),
    ("ulimit", "limits"),
    ("view", "less"),
    ("wget", "http"),
];

/// The builtin a mistyped or habitual command name most likely meant:
/// a known habit (`netstat` → `ports`), else the nearest builtin name by
/// edit distance (one edit for short names, two for longer ones).
pub fn suggest(name: &str) -> Option<&'static str> {
    if let Some((_, b)) = HABITS.iter().find(|(h, _)| *h == name) {
        return find(b).map(|e| e.name);
    }
    let limit = if name.chars().count() <= 3 { 1 } else { 2 };
    table()
        .iter()
        .map(|e| (edit_distance(name, e.name), e.name))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and transpositions of neighbours (`sl` → `ls`) each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Names are short; a long typo is not worth a quadratic table.
    if a.len() > 64 {
        return usize::MAX;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_has_a_consistent_cli_and_help() {
        for e in table() {
            assert!(!(e.about)().is_empty(), "{} has no description", e.name);
        }
    }

    #[test]
    fn long_help_wraps_to_the_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        for width in [80usize, 120] {
            ctx.vars.insert("COLUMNS".into(), width.to_string());
            for name in ["grep", "top", "sort", "run"] {
                let mut io = Io::buffers(b"");
                let st =
                    (find(name).unwrap().run)(&[name.into(), "--help".into()], &mut io, &mut ctx);
                assert_eq!(st, 0);
                let text = io.out_text();
                assert!(text.contains("Usage:"), "{text}");
                for line in text.lines() {
                    assert!(line.chars().count() <= width, "{name} at {width}: {line:?}");
                }
            }
        }
    }

    #[test]
    fn typos_and_habits_suggest_a_builtin() {
        assert_eq!(suggest("pss"), Some("ps"));
        assert_eq!(suggest("sl"), Some("ls"));
        assert_eq!(suggest("gerp"), Some("grep"));
        assert_eq!(suggest("netstat"), Some("ports"));
        assert_eq!(suggest("ifconfig"), Some("ip"));
        assert_eq!(suggest("kubectl"), None);
        assert_eq!(suggest("zz"), None);
        assert_eq!(suggest(&"x".repeat(1000)), None);
    }
}
