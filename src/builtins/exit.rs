//! `exit [N]`.

use std::io;

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Leave the shell with status N (default: the last command's status).
#[derive(Parser)]
#[command(name = "exit", disable_version_flag = true)]
pub struct Exit {
    /// Exit status, 0-255.
    status: Option<i32>,
}

impl Builtin for Exit {
    const NAME: &'static str = "exit";
    fn run(self, _io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let status = self.status.unwrap_or(ctx.last_status) & 0xff;
        ctx.exit_requested = Some(status);
        Ok(status)
    }
}
