//! The builtins: one file each, one clap-derived struct each whose doc
//! comments are its `--help`, registered in [`table`].

pub mod util;

mod bind_check;
mod caps;
mod cat;
mod cd;
pub(crate) mod cgroup;
mod connect;
mod df;
mod doctor;
mod du;
mod echo;
mod entrypoint;
mod env;
mod exit;
mod export;
pub(crate) mod fds;
mod file;
pub(crate) mod find;
mod grep;
mod head;
mod help;
mod history;
pub(crate) mod http;
mod id;
mod ip;
pub(crate) mod kill;
pub(crate) mod limits;
mod ls;
mod mounts;
mod ports;
mod ps;
mod pwd;
pub(crate) mod readlink;
mod resolve;
mod route;
mod run;
mod stat;
mod tail;
pub(crate) mod trace;
mod truefalse;
mod unset;
mod wc;
mod which;
mod whoami;
mod why;
mod writable;

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
}

/// A row of the builtin table.
pub struct Entry {
    pub name: &'static str,
    pub run: fn(&[String], &mut Io, &mut Ctx) -> i32,
    pub about: fn() -> String,
}

fn dispatch<B: Builtin>(argv: &[String], io: &mut Io, ctx: &mut Ctx) -> i32 {
    let args = match B::try_parse_from(argv) {
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
            entry::<connect::Connect>(),
            entry::<doctor::Doctor>(),
            entry::<cgroup::Cgroup>(),
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
            entry::<mounts::Mounts>(),
            entry::<readlink::Readlink>(),
            entry::<run::Run>(),
            entry::<stat::Stat>(),
            entry::<tail::Tail>(),
            entry::<trace::Trace>(),
            entry::<truefalse::True>(),
            entry::<unset::Unset>(),
            entry::<wc::Wc>(),
            entry::<which::Which>(),
            entry::<whoami::Whoami>(),
            entry::<why::Why>(),
            entry::<writable::Writable>(),
        ];
        t.sort_by_key(|e| e.name);
        t
    })
}

pub fn find(name: &str) -> Option<&'static Entry> {
    table().iter().find(|e| e.name == name)
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
}
