//! `mounts [--json]`, and the mountinfo parser `df` and `cgroup` share.

use std::io;

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// The target's mounts, with ro/noexec/nosuid/nodev spelled out.
///
/// From mountinfo as the target sees it: source, mount point, filesystem type, and the flags that usually
/// explain a failure (ro, noexec, nosuid, nodev) as words.
///
/// JSON (--json): an array of {mount_id, parent_id, source, target, fstype,
/// root, mount_options (array), super_options (array), flags (array of
/// "ro", "noexec", "nosuid", "nodev")}.
#[derive(Parser)]
#[command(name = "mounts", disable_version_flag = true)]
pub struct Mounts {
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

pub use crate::target::mountinfo::{Mount, parse};

/// The target's mounts: its own mountinfo (mount points relative to its
/// root), else ours (the same once joined and chrooted).
pub fn read(ctx: &Ctx) -> io::Result<Vec<Mount>> {
    let text = std::fs::read_to_string(ctx.proc.path(ctx.target_pid, "mountinfo"))
        .or_else(|_| std::fs::read_to_string(ctx.proc.root.join("self/mountinfo")))?;
    Ok(parse(&text))
}

impl Builtin for Mounts {
    const NAME: &'static str = "mounts";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mounts = read(ctx)?;
        if self.json {
            util::write_json(&mut io.out, &mounts)?;
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = mounts
            .iter()
            .map(|m| {
                vec![
                    escape::field(m.source.as_bytes()).into_owned(),
                    escape::field(m.target.as_bytes()).into_owned(),
                    escape::field(m.fstype.as_bytes()).into_owned(),
                    if m.flags.is_empty() {
                        "-".into()
                    } else {
                        m.flags.join(",")
                    },
                    escape::field(m.mount_options.join(",").as_bytes()).into_owned(),
                ]
            })
            .collect();
        util::write_table(
            &mut io.out,
            Some(&["SOURCE", "TARGET", "FSTYPE", "FLAGS", "OPTIONS"]),
            &rows,
            &[],
        )?;
        Ok(0)
    }
}
