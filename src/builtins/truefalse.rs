//! `true` and `false`.

use std::io;

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Do nothing, successfully.
#[derive(Parser)]
#[command(name = "true", disable_version_flag = true)]
pub struct True;

impl Builtin for True {
    const NAME: &'static str = "true";
    fn run(self, _io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        Ok(0)
    }
}

/// Do nothing, unsuccessfully.
#[derive(Parser)]
#[command(name = "false", disable_version_flag = true)]
pub struct False;

impl Builtin for False {
    const NAME: &'static str = "false";
    fn run(self, _io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        Ok(1)
    }
}
