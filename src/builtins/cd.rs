//! `cd [DIR]`.

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Change the working directory (default: $HOME, else /).
#[derive(Parser)]
#[command(name = "cd", disable_version_flag = true)]
pub struct Cd {
    dir: Option<String>,
}

impl Builtin for Cd {
    const NAME: &'static str = "cd";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let target = match self.dir.as_deref() {
            Some("-") => ctx.var("OLDPWD"),
            Some(d) => d.to_string(),
            None => {
                let home = ctx.var("HOME");
                if home.is_empty() { "/".into() } else { home }
            }
        };
        let abs = ctx.abs(&target);
        // Entering needs search (x) permission, as for the app.
        match std::fs::read_dir(ctx.resolve(&abs)).map(drop).or_else(|e| {
            if e.kind() == io::ErrorKind::PermissionDenied {
                // Listable is not required to enter; search permission is.
                nix::unistd::access(&ctx.resolve(&abs), nix::unistd::AccessFlags::X_OK)
                    .map_err(io::Error::from)
            } else {
                Err(e)
            }
        }) {
            Ok(()) => {
                let old = std::mem::replace(&mut ctx.cwd, abs);
                ctx.vars.insert("OLDPWD".into(), old);
                ctx.vars.insert("PWD".into(), ctx.cwd.clone());
                Ok(0)
            }
            Err(e) => {
                writeln!(
                    io.err,
                    "cd: {}: {}",
                    escape::field(target.as_bytes()),
                    util::io_error(&e)
                )?;
                Ok(1)
            }
        }
    }
}
