//! `run PROGRAM [ARGS...]`.

use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use clap::Parser;

use super::{Builtin, util, which};
use crate::shell::Ctx;
use crate::shell::io::{Io, Sink};
use crate::term::escape;
use crate::toolbox::join::View;
use crate::toolbox::spawn;

/// Execute a program from the target's filesystem as this identity, with the
/// shell's variables (the target's environment) and working directory.
/// Output is streamed; the exit status is the program's; Ctrl-C stops it.
/// no_new_privs holds: a setuid binary does not gain its owner's identity.
///
/// The program is the target's own code, run as the app's uid: while it runs,
/// the app's processes (same uid) may read its memory and reach its stdin and
/// stdout, which are your terminal. It inherits only fds 0, 1 and 2, never
/// the shell's own; the shell itself stays closed to the target.
#[derive(Parser)]
#[command(name = "run", disable_version_flag = true, trailing_var_arg = true)]
pub struct Run {
    /// The program: a path, or a name looked up in the target's $PATH.
    program: String,
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

impl Builtin for Run {
    const NAME: &'static str = "run";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let shown = escape::field(self.program.as_bytes()).into_owned();
        let Some(path) = which::search_path(ctx, &self.program) else {
            writeln!(
                io.err,
                "run: {shown}: not found in the target (PATH={})",
                escape::field(ctx.var("PATH").as_bytes())
            )?;
            return Ok(127);
        };
        if let View::ProcRoot(_) = ctx.view {
            writeln!(
                io.err,
                "run: note: the target is seen through /proc/N/root; a dynamically linked program will look for its libraries outside the target"
            )?;
        }
        let mut cmd = match spawn::command(ctx, ctx.resolve(&path)) {
            Ok(cmd) => cmd,
            Err(refused) => {
                writeln!(io.err, "run: {shown}: {refused}")?;
                return Ok(126);
            }
        };
        cmd.arg0(&self.program).args(&self.args);
        match start(cmd, &ctx.vars, io, ctx)? {
            Ok(status) => Ok(status),
            Err(e) => {
                let code = if e.kind() == io::ErrorKind::PermissionDenied {
                    126
                } else {
                    127
                };
                writeln!(
                    io.err,
                    "run: {shown}: {} (`file {}` and `why {} exec` explain)",
                    util::io_error(&e),
                    escape::field(path.as_bytes()),
                    escape::field(path.as_bytes())
                )?;
                Ok(code)
            }
        }
    }
}

/// Starts `cmd` (made by [`spawn::command`]: only fds 0-2, dying with the
/// shell, confined as the session is) in the target as `run` does, and
/// waits for it: with the environment `env` (the shell's variables), the
/// shell's working directory and streams. Every program the shell starts
/// in the target goes through here: the target's own (`run`) and brought
/// tools. The outer error is the shell's own (its streams); the
/// inner one says the program could not be started.
pub(crate) fn start<'a>(
    mut cmd: Command,
    env: impl IntoIterator<Item = (&'a String, &'a String)>,
    io: &mut Io,
    ctx: &Ctx,
) -> io::Result<Result<i32, io::Error>> {
    cmd.env_clear()
        .envs(env)
        .current_dir(ctx.resolve(&ctx.cwd))
        .stdin(io.stdin.stdio()?)
        .stderr(io.err.stdio()?);
    let capture = matches!(io.out, Sink::Buffer(_));
    cmd.stdout(if capture {
        Stdio::piped()
    } else {
        io.out.stdio()?
    });
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if capture && let Some(mut out) = child.stdout.take() {
        let mut buf = Vec::new();
        out.read_to_end(&mut buf)?;
        io.out.write_all(&buf)?;
    }
    let status = child.wait()?;
    Ok(Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))))
}

use std::os::unix::process::CommandExt;
