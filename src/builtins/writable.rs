//! `writable [DIR]`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::perm::{self, Who};
use crate::term::escape;

/// List every directory under DIR (default /) in which this identity can
/// create files, and why: owner, group, world, tmpfs. /proc, /sys and /dev
/// are skipped.
///
/// JSON (--json): [{path, reason, fstype, owner, mode}].
#[derive(Parser)]
#[command(name = "writable", disable_version_flag = true)]
pub struct Writable {
    dir: Option<String>,
    /// Maximum depth below DIR.
    #[arg(long, default_value_t = 32)]
    maxdepth: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    path: String,
    reason: String,
    fstype: String,
    owner: String,
    mode: String,
}

impl Builtin for Writable {
    const NAME: &'static str = "writable";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let start = ctx.abs(self.dir.as_deref().unwrap_or("/"));
        let who = Who::current();
        let mounts = perm::mounts();
        let mut rows = Vec::new();
        let mut stack = vec![(start, 0usize)];
        let mut seen = std::collections::HashSet::new();
        while let Some((dir, depth)) = stack.pop() {
            if crate::shell::interrupted() {
                break;
            }
            let real = ctx.resolve(&dir);
            let Ok(meta) = fs::symlink_metadata(&real) else {
                continue;
            };
            if !meta.is_dir() || !seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            let w = nix::unistd::access(
                &real,
                nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
            )
            .is_ok();
            if w {
                let mount = perm::mount_of(&mounts, &dir);
                rows.push(Row {
                    path: dir.clone(),
                    reason: perm::writable_reason(&meta, &who, mount),
                    fstype: mount.map(|m| m.fstype.clone()).unwrap_or_default(),
                    owner: ctx.user_name(meta.uid()),
                    mode: util::mode_string(meta.mode()),
                });
            }
            if depth >= self.maxdepth {
                continue;
            }
            let Ok(entries) = fs::read_dir(&real) else {
                continue;
            };
            let mut children: Vec<String> = entries
                .filter_map(|e| {
                    let e = e.ok()?;
                    e.file_type()
                        .ok()?
                        .is_dir()
                        .then(|| e.file_name().to_string_lossy().into_owned())
                })
                .map(|n| {
                    if dir == "/" {
                        format!("/{n}")
                    } else {
                        format!("{dir}/{n}")
                    }
                })
                .filter(|p| !matches!(p.as_str(), "/proc" | "/sys" | "/dev"))
                .collect();
            children.sort_unstable_by(|a, b| b.cmp(a));
            stack.extend(children.into_iter().map(|c| (c, depth + 1)));
        }
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            return Ok(0);
        }
        if rows.is_empty() {
            writeln!(
                io.out,
                "no writable directory for uid {} under {}",
                who.uid,
                escape::field(ctx.abs(self.dir.as_deref().unwrap_or("/")).as_bytes())
            )?;
            return Ok(1);
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.mode.clone(),
                    escape::field(r.owner.as_bytes()).into_owned(),
                    escape::field(r.path.as_bytes()).into_owned(),
                    r.reason.clone(),
                ]
            })
            .collect();
        util::write_table(
            &mut io.out,
            Some(&["MODE", "OWNER", "PATH", "WHY"]),
            &table,
            &[],
        )?;
        Ok(0)
    }
}
