//! `tools`.

use std::io::{self, Write};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

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
