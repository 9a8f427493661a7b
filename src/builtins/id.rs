//! `id [USER|UID]`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print user and group ids, with names from the target's /etc/passwd and
/// /etc/group (numbers when the target has no entry).
#[derive(Parser)]
#[command(name = "id", disable_version_flag = true)]
pub struct Id {
    /// A user name or uid from the target's passwd (default: the shell's identity).
    user: Option<String>,
}

/// `65532(nonroot)`, or just the number when the target has no name for
/// it, as coreutils prints.
fn named(id: u32, name: String) -> String {
    if name == id.to_string() {
        name
    } else {
        format!("{id}({})", escape::field(name.as_bytes()))
    }
}

impl Builtin for Id {
    const NAME: &'static str = "id";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let (uid, gid, groups) = match &self.user {
            None => {
                let groups: Vec<u32> = nix::unistd::getgroups()
                    .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
                    .unwrap_or_default();
                (
                    nix::unistd::getuid().as_raw(),
                    nix::unistd::getgid().as_raw(),
                    groups,
                )
            }
            Some(u) => {
                let user = match u.parse::<u32>() {
                    Ok(n) => ctx.users.user_by_uid(n).cloned(),
                    Err(_) => ctx.users.user_by_name(u).cloned(),
                };
                let Some(user) = user else {
                    writeln!(
                        io.err,
                        "id: {}: no such user in the target's /etc/passwd",
                        escape::field(u.as_bytes())
                    )?;
                    return Ok(1);
                };
                let mut groups = vec![user.gid];
                for g in &ctx.users.groups {
                    if g.members.contains(&user.name) && !groups.contains(&g.gid) {
                        groups.push(g.gid);
                    }
                }
                (user.uid, user.gid, groups)
            }
        };
        let mut groups = groups;
        if groups.is_empty() {
            groups.push(gid);
        }
        let groups: Vec<String> = groups
            .iter()
            .map(|g| named(*g, ctx.group_name(*g)))
            .collect();
        writeln!(
            io.out,
            "uid={} gid={} groups={}",
            named(uid, ctx.user_name(uid)),
            named(gid, ctx.group_name(gid)),
            groups.join(",")
        )?;
        Ok(0)
    }
}
