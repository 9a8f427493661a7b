//! `why PATH [read|write|exec]`.

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::diagnosis;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::perm::{Access, Who};
use crate::term::escape;

/// Explain whether this identity (the app's) may read, write or execute
/// PATH: every component from / is checked (owner, group, mode, ACL, mount
/// flags), the one that decides is named, and fixes are suggested.
///
/// ACCESS defaults to the access that fails, or write for a path that does
/// not exist yet. Exit status: 0 allowed, 1 denied.
///
/// JSON (--json): {path, access, allowed, identity {uid, gid, groups},
/// deciding {path, owner, group, mode, reason} or null, components [{path,
/// type, owner, uid, group, gid, mode, acl, mount, mount_flags, need, ok,
/// class, symlink_to, exists}], fixes [string], note}.
#[derive(Parser)]
#[command(name = "why", disable_version_flag = true)]
pub struct Why {
    path: String,
    /// read, write or exec.
    access: Option<String>,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

impl Builtin for Why {
    const NAME: &'static str = "why";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let access = match self.access.as_deref() {
            None => None,
            Some(a) => match Access::parse(a) {
                Some(a) => Some(a),
                None => {
                    writeln!(
                        io.err,
                        "why: access must be read, write or exec, not {}",
                        escape::field(a.as_bytes())
                    )?;
                    return Ok(2);
                }
            },
        };
        let who = Who::current();
        let v = diagnosis::check(ctx, &self.path, access, &who);
        let status = if v.allowed { 0 } else { 1 };
        if self.json {
            util::write_json(&mut io.out, &v)?;
            return Ok(status);
        }
        let groups: Vec<String> = who.groups.iter().map(|g| g.to_string()).collect();
        writeln!(
            io.out,
            "{} {} as uid={}({}) gid={} groups={}",
            v.access.name(),
            escape::field(v.path.as_bytes()),
            who.uid,
            escape::field(ctx.user_name(who.uid).as_bytes()),
            who.gid,
            groups.join(",")
        )?;
        let rows: Vec<Vec<String>> = v
            .components
            .iter()
            .map(|c| {
                let mut path = escape::field(c.path.as_bytes()).into_owned();
                if let Some(t) = &c.symlink_to {
                    path = format!("{path} -> {t}");
                }
                let mut flags = c.mount_flags.join(",");
                if let Some(a) = &c.acl {
                    flags = if flags.is_empty() {
                        format!("acl {a}")
                    } else {
                        format!("{flags} acl {a}")
                    };
                }
                vec![
                    if c.exists {
                        c.mode.clone()
                    } else {
                        "(missing)".into()
                    },
                    if c.exists {
                        format!("{}:{}", c.owner, c.group)
                    } else {
                        String::new()
                    },
                    path,
                    c.need.clone(),
                    if c.ok { "ok".into() } else { "DENIED".into() },
                    flags,
                ]
            })
            .collect();
        util::write_table(&mut io.out, None, &rows, &[])?;
        match &v.deciding {
            None if v.allowed => writeln!(io.out, "allowed")?,
            None => writeln!(io.out, "denied by the kernel")?,
            Some(d) => writeln!(io.out, "denied: {}", escape::field(d.reason.as_bytes()))?,
        }
        if let Some(note) = &v.note {
            writeln!(io.out, "note: {note}")?;
        }
        if !v.fixes.is_empty() {
            writeln!(io.out, "fixes:")?;
            for f in &v.fixes {
                writeln!(io.out, "  - {}", escape::field(f.as_bytes()))?;
            }
        }
        Ok(status)
    }
}
