//! `env [PID]`.

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the shell's variables, or the environment of process PID as the
/// kernel holds it (/proc/PID/environ).
#[derive(Parser)]
#[command(name = "env", disable_version_flag = true)]
pub struct Env {
    /// A process id in the target's PID namespace.
    pid: Option<i32>,
}

/// Why a /proc file of `pid` cannot be read as this identity, in words.
pub fn proc_denied_reason(ctx: &Ctx, pid: i32) -> String {
    let me = nix::unistd::getuid().as_raw();
    match ctx.proc.status(pid) {
        Ok(st) if st.uid[0] != me || st.uid[1] != me => format!(
            "pid {pid} runs as uid {} ({}) and this shell is uid {me}; `nosh --root` can read it",
            st.uid[1],
            escape::field(ctx.user_name(st.uid[1]).as_bytes())
        ),
        Ok(_) => format!(
            "pid {pid} is not dumpable (it changed identity or holds capabilities); `nosh --root` can read it"
        ),
        Err(_) => format!("pid {pid} is gone"),
    }
}

impl Builtin for Env {
    const NAME: &'static str = "env";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let Some(pid) = self.pid else {
            util::write_vars(&mut io.out, &ctx.vars)?;
            return Ok(0);
        };
        match ctx.proc.environ(pid) {
            Ok(entries) => {
                for e in entries {
                    writeln!(io.out, "{}", escape::field(&e))?;
                }
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                writeln!(io.err, "env: no process {pid}")?;
                Ok(1)
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                writeln!(
                    io.err,
                    "env: cannot read the environment of pid {pid}: {}",
                    proc_denied_reason(ctx, pid)
                )?;
                Ok(1)
            }
            Err(e) => {
                writeln!(io.err, "env: pid {pid}: {}", util::io_error(&e))?;
                Ok(1)
            }
        }
    }
}
