//! `history`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// List the lines typed in this session (kept in memory only: nothing is
/// written to the target).
#[derive(Parser)]
#[command(name = "history", disable_version_flag = true)]
pub struct History;

impl Builtin for History {
    const NAME: &'static str = "history";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        for (i, line) in ctx.history.iter().enumerate() {
            writeln!(io.out, "{:5}  {}", i + 1, escape::field(line.as_bytes()))?;
        }
        Ok(0)
    }
}
