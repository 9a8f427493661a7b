//! `df [-ha] [--json]`.

use std::io;

use clap::Parser;
use serde::Serialize;

use super::{Builtin, mounts, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Free space on the target's filesystems.
///
/// Size, used, available, use%, type, read-only, mount point (statvfs of each mount point of the
/// target's mountinfo). Sizes are in KiB unless -h. Pseudo filesystems
/// (proc, sysfs, cgroup, ...) are hidden unless -a.
///
/// JSON (--json): an array of {source, fstype, target, size_bytes,
/// used_bytes, avail_bytes, use_percent, read_only}; the byte fields are
/// null when statvfs failed for this identity.
#[derive(Parser)]
#[command(name = "df", disable_version_flag = true, disable_help_flag = true)]
pub struct Df {
    /// Human-readable sizes (1K, 23M).
    #[arg(short = 'h', long = "human-readable")]
    human: bool,
    /// Pseudo filesystems too.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub source: String,
    pub fstype: String,
    pub target: String,
    pub size_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub avail_bytes: Option<u64>,
    pub use_percent: Option<u64>,
    pub read_only: bool,
}

/// Filesystems that hold no user data.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "rpc_pipefs",
    "selinuxfs",
    "efivarfs",
];

/// Use% as GNU df computes it: used / (used + available), rounded up.
pub fn use_percent(used: u64, avail: u64) -> Option<u64> {
    let all = used + avail;
    (all > 0).then(|| (used * 100).div_ceil(all))
}

impl Builtin for Df {
    const NAME: &'static str = "df";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut rows = Vec::new();
        for m in mounts::read(ctx)? {
            if !self.all && PSEUDO.contains(&m.fstype.as_str()) {
                continue;
            }
            let st = nix::sys::statvfs::statvfs(&ctx.resolve(&m.target)).ok();
            let mut row = Row {
                source: m.source.clone(),
                fstype: m.fstype.clone(),
                target: m.target.clone(),
                size_bytes: None,
                used_bytes: None,
                avail_bytes: None,
                use_percent: None,
                read_only: m.has_option("ro"),
            };
            if let Some(st) = st {
                let f = st.fragment_size();
                let size = st.blocks() * f;
                // Filesystems with no blocks are pseudo ones GNU df hides too.
                if size == 0 && !self.all {
                    continue;
                }
                let used = (st.blocks() - st.blocks_free()) * f;
                let avail = st.blocks_available() * f;
                row.size_bytes = Some(size);
                row.used_bytes = Some(used);
                row.avail_bytes = Some(avail);
                row.use_percent = use_percent(used, avail);
            }
            rows.push(row);
        }
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            return Ok(0);
        }
        let size = |b: Option<u64>| match b {
            None => "-".to_string(),
            Some(b) if self.human => util::human(b),
            Some(b) => b.div_ceil(1024).to_string(),
        };
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    escape::field(r.source.as_bytes()).into_owned(),
                    escape::field(r.fstype.as_bytes()).into_owned(),
                    size(r.size_bytes),
                    size(r.used_bytes),
                    size(r.avail_bytes),
                    r.use_percent.map_or("-".into(), |p| format!("{p}%")),
                    if r.read_only { "ro" } else { "rw" }.into(),
                    escape::field(r.target.as_bytes()).into_owned(),
                ]
            })
            .collect();
        let unit = if self.human { "SIZE" } else { "1K-BLOCKS" };
        util::write_table(
            &mut io.out,
            Some(&[
                "FILESYSTEM",
                "TYPE",
                unit,
                "USED",
                "AVAIL",
                "USE%",
                "RO",
                "MOUNTED ON",
            ]),
            &table,
            &[2, 3, 4, 5],
        )?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_percent_rounds_up_like_gnu() {
        assert_eq!(use_percent(0, 100), Some(0));
        assert_eq!(use_percent(1, 999), Some(1));
        assert_eq!(use_percent(50, 50), Some(50));
        assert_eq!(use_percent(0, 0), None);
    }
}
