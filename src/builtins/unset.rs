//! `unset NAME...`.

use std::io;

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Remove shell variables.
#[derive(Parser)]
#[command(name = "unset", disable_version_flag = true)]
pub struct Unset {
    #[arg(required = true)]
    names: Vec<String>,
}

impl Builtin for Unset {
    const NAME: &'static str = "unset";
    fn run(self, _io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        for n in &self.names {
            ctx.vars.remove(n);
        }
        Ok(0)
    }
}
