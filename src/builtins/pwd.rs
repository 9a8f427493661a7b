//! `pwd`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the working directory (as the target names it).
#[derive(Parser)]
#[command(name = "pwd", disable_version_flag = true)]
pub struct Pwd;

impl Builtin for Pwd {
    const NAME: &'static str = "pwd";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        writeln!(io.out, "{}", escape::field(ctx.cwd.as_bytes()))?;
        Ok(0)
    }
}
