//! `whoami`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the shell's user name (from the target's /etc/passwd, else the uid).
#[derive(Parser)]
#[command(name = "whoami", disable_version_flag = true)]
pub struct Whoami;

impl Builtin for Whoami {
    const NAME: &'static str = "whoami";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let uid = nix::unistd::getuid().as_raw();
        writeln!(io.out, "{}", escape::field(ctx.user_name(uid).as_bytes()))?;
        Ok(0)
    }
}
