//! `export NAME=VALUE...`.

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Set shell variables (passed to programs started with `run`); with no
/// arguments, list them.
#[derive(Parser)]
#[command(name = "export", disable_version_flag = true)]
pub struct Export {
    /// NAME=VALUE, or NAME to keep its current value.
    assignments: Vec<String>,
}

impl Builtin for Export {
    const NAME: &'static str = "export";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        if self.assignments.is_empty() {
            util::write_vars(&mut io.out, &ctx.vars)?;
            return Ok(0);
        }
        let mut status = 0;
        for a in self.assignments {
            let (name, value) = match a.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                writeln!(
                    io.err,
                    "export: not a valid name: {}",
                    escape::field(name.as_bytes())
                )?;
                status = 1;
                continue;
            }
            let value = value.unwrap_or_else(|| ctx.var(&name));
            ctx.vars.insert(name, value);
        }
        Ok(status)
    }
}
