//! `which NAME...`.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Say whether NAME is a builtin or a brought tool (`--with`), and find
/// programs in the target's $PATH.
#[derive(Parser)]
#[command(name = "which", disable_version_flag = true)]
pub struct Which {
    #[arg(required = true)]
    names: Vec<String>,
}

/// Find `name` in the target's PATH; returns the target's path of the first
/// executable regular file.
pub fn search_path(ctx: &Ctx, name: &str) -> Option<String> {
    if name.contains('/') {
        let abs = ctx.abs(name);
        return is_executable(ctx, &abs).then_some(abs);
    }
    let path = ctx.var("PATH");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{}", d.trim_end_matches('/'), name))
        .find(|p| is_executable(ctx, p))
}

fn is_executable(ctx: &Ctx, path: &str) -> bool {
    std::fs::metadata(ctx.resolve(path))
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Builtin for Which {
    const NAME: &'static str = "which";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut status = 0;
        for name in &self.names {
            let shown = escape::field(name.as_bytes());
            let brought = ctx
                .tools
                .as_ref()
                .and_then(|b| b.manifest.find(name))
                .filter(|_| !super::SHELL_OWN.contains(&name.as_str()));
            if let Some(tool) = brought {
                writeln!(
                    io.out,
                    "{shown}: brought tool (this host's {})",
                    escape::field(tool.host_path.as_bytes())
                )?;
                continue;
            }
            let builtin = super::find(name).is_some();
            match (builtin, search_path(ctx, name)) {
                (true, Some(p)) => writeln!(
                    io.out,
                    "{shown}: nosh builtin (the target also has {})",
                    escape::field(p.as_bytes())
                )?,
                (true, None) => writeln!(io.out, "{shown}: nosh builtin")?,
                (false, Some(p)) => writeln!(io.out, "{}", escape::field(p.as_bytes()))?,
                (false, None) => {
                    writeln!(
                        io.err,
                        "which: no {shown} in the target's PATH ({})",
                        escape::field(ctx.var("PATH").as_bytes())
                    )?;
                    status = 1;
                }
            }
        }
        Ok(status)
    }
}
