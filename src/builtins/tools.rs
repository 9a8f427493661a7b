//! `tools`.

use std::io::{self, Write};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;
use crate::tools::{Brought, Tool};

/// List the brought tools: programs of the host brought into this session
/// with `nosh TARGET --with PROG` (a name in the host's PATH or a path;
/// repeatable, or comma-separated) or `--with-dir DIR`.
///
/// A brought tool is a command like a builtin (`curl -s
/// http://127.0.0.1:8080/ | grep ok`), and takes the place of a builtin of
/// the same name, except the shell's own (cd, exit, export, unset, history,
/// help, tools, run, which). It runs in the target's namespaces as this
/// identity with no capabilities, exactly like `run`, and with the host's
/// own loader and libraries: the target's are never mixed in. `run NAME`
/// still means the target's own program. Nothing is written to the target:
/// the tools live in the sidecar (or, attached directly, in a read-only
/// mount only this session holds).
///
/// JSON (--json): {tools: [{name, host_path, size, dynamic, libraries,
/// needs, needs_why}], libraries: [{name, host_path, size}], loader}.
#[derive(Parser)]
#[command(name = "tools", disable_version_flag = true)]
pub struct Tools {
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Listing<'a> {
    tools: &'a [crate::tools::Tool],
    libraries: &'a [crate::tools::Library],
    loader: Option<&'a crate::tools::Loader>,
}

impl Builtin for Tools {
    const NAME: &'static str = "tools";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let Some(brought) = ctx.tools.as_ref() else {
            if self.json {
                util::write_json(
                    &mut io.out,
                    &Listing {
                        tools: &[],
                        libraries: &[],
                        loader: None,
                    },
                )?;
            } else {
                writeln!(
                    io.out,
                    "no brought tools: start nosh with --with PROG (a program of this host, e.g. --with curl,strace) or --with-dir DIR"
                )?;
            }
            return Ok(0);
        };
        let m = &brought.manifest;
        if self.json {
            util::write_json(
                &mut io.out,
                &Listing {
                    tools: &m.tools,
                    libraries: &m.libraries,
                    loader: m.loader.as_ref(),
                },
            )?;
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = m
            .tools
            .iter()
            .map(|t| {
                vec![
                    escape::field(t.name.as_bytes()).into_owned(),
                    escape::field(t.host_path.as_bytes()).into_owned(),
                    util::human(t.size),
                    if t.dynamic {
                        format!("{} libraries", t.libraries.len())
                    } else {
                        "static".into()
                    },
                    t.needs.join(","),
                ]
            })
            .collect();
        util::write_table(
            &mut io.out,
            Some(&["NAME", "HOST PATH", "SIZE", "LINKING", "NEEDS"]),
            &rows,
            &[2],
        )?;
        writeln!(
            io.out,
            "{} in all with {} libraries{}",
            util::human(m.total_size()),
            m.libraries.len(),
            m.loader
                .as_ref()
                .map(|l| format!(
                    " and the host's loader {}",
                    escape::field(l.host_path.as_bytes())
                ))
                .unwrap_or_default()
        )?;
        Ok(0)
    }
}

/// Variables of the target's environment a brought tool does not get:
/// they would make the host's loader or C library load code from the
/// target (`LD_LIBRARY_PATH` stays: the loader's `--library-path` takes its
/// place for the tool, and programs the tool starts still see it).
const LOADER_VARIABLES: &[&str] = &["LD_PRELOAD", "LD_AUDIT", "GCONV_PATH", "LOCPATH"];

/// Runs the brought tool `argv[0]` as `run` runs a program of the target.
/// Returns its exit status, or 126/127 as a shell does when it cannot start.
pub fn run(brought: &Brought, tool: &Tool, argv: &[String], io: &mut Io, ctx: &Ctx) -> i32 {
    let shown = escape::field(tool.name.as_bytes()).into_owned();
    if tool.dynamic && !ctx.resolve("/proc/self/fd").is_dir() {
        let _ = writeln!(
            io.err,
            "{shown}: a brought tool reaches its libraries through /proc/self/fd, and this target has no /proc mounted"
        );
        return 126;
    }
    if tool.dynamic && preloads(ctx) {
        let _ = writeln!(
            io.err,
            "nosh: note: the target's /etc/ld.so.preload names libraries that every glibc program loads, {shown} too"
        );
    }
    let mut cmd = match crate::toolbox::spawn::command(ctx, brought.program(tool)) {
        Ok(cmd) => cmd,
        Err(refused) => {
            let _ = writeln!(io.err, "{shown}: {refused}");
            return 126;
        }
    };
    brought.prepare(&mut cmd, tool, &argv[1..]);
    let env = ctx
        .vars
        .iter()
        .filter(|(k, _)| !LOADER_VARIABLES.contains(&k.as_str()));
    let status = match crate::builtins::run::start(cmd, env, io, ctx) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            let _ = writeln!(
                io.err,
                "{shown}: the brought tool could not start: {}",
                crate::term::text::io_error(&e)
            );
            return if e.kind() == io::ErrorKind::PermissionDenied {
                126
            } else {
                127
            };
        }
        Err(e) => {
            let _ = writeln!(io.err, "{shown}: {}", crate::term::text::io_error(&e));
            return 1;
        }
    };
    if status != 0
        && status < 128
        && !tool.needs.is_empty()
        && let Some(text) = needs_sentence(tool, ctx)
    {
        let _ = writeln!(io.err, "nosh: {text}");
    }
    status
}

/// Why a tool that needs privileges failed: one sentence.
pub fn needs_sentence(tool: &Tool, ctx: &Ctx) -> Option<String> {
    if tool.needs.is_empty() {
        return None;
    }
    let why = tool
        .needs_why
        .as_ref()
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    Some(format!(
        "{} needs {}{why}, and brought tools run as uid {} with no capabilities and no_new_privs, like `run`: it cannot do that here",
        escape::field(tool.name.as_bytes()),
        tool.needs.join(" and "),
        ctx.identity.uid,
    ))
}

/// Whether the target has a non-empty `/etc/ld.so.preload`.
fn preloads(ctx: &Ctx) -> bool {
    std::fs::symlink_metadata(ctx.resolve("/etc/ld.so.preload")).is_ok_and(|m| m.len() > 0)
}
