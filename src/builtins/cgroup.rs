//! `cgroup [PID] [--json]`: memory, cpu and pids limits and usage.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Parser;
use serde::{Serialize, Serializer};

use super::mounts::{self, Mount};
use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Memory, CPU and pids limits and usage of a process's cgroup, OOM kills.
///
/// For PID (default: the target): memory limit, usage and peak, CPU quota,
/// pids limit and count, OOM kills. Reads
/// cgroup v2 (memory.max, cpu.max, pids.max, memory.events) or v1
/// (memory.limit_in_bytes, cpu.cfs_quota_us, pids.max, memory.oom_control)
/// under the cgroup filesystem the target has mounted, at the process's
/// cgroup from /proc/PID/cgroup.
///
/// JSON (--json): {pid, version (1 or 2), path, dir, memory_limit_bytes,
/// memory_usage_bytes, memory_peak_bytes, cpu_quota_us, cpu_period_us,
/// cpus, pids_limit, pids_current, oom_kills}; limits are a number or
/// "max" (unlimited); a field is null when its file is absent or unreadable.
#[derive(Parser)]
#[command(name = "cgroup", disable_version_flag = true)]
pub struct Cgroup {
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// A process id in the target's PID namespace.
    pid: Option<i32>,
}

/// A limit: a value, or unlimited ("max" in cgroup v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Value(u64),
    Max,
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Value(n) => s.serialize_u64(*n),
            Limit::Max => s.serialize_str("max"),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub pid: i32,
    pub version: u8,
    pub path: String,
    pub dir: String,
    pub memory_limit_bytes: Option<Limit>,
    pub memory_usage_bytes: Option<u64>,
    pub memory_peak_bytes: Option<u64>,
    pub cpu_quota_us: Option<Limit>,
    pub cpu_period_us: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<Limit>,
    pub pids_current: Option<u64>,
    pub oom_kills: Option<u64>,
}

/// One line of /proc/PID/cgroup: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub hierarchy: u32,
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let hierarchy = parts.next()?.parse().ok()?;
            let controllers = parts
                .next()?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            let path = parts.next()?.to_string();
            Some(Membership {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

/// A v2 limit file: `max` or a number.
pub fn parse_limit(text: &str) -> Option<Limit> {
    match text.trim() {
        "max" => Some(Limit::Max),
        n => n.parse().ok().map(Limit::Value),
    }
}

/// A v1 memory limit: "unlimited" is LONG_MAX rounded down to a page.
pub fn parse_v1_bytes_limit(text: &str) -> Option<Limit> {
    let n: u64 = text.trim().parse().ok()?;
    Some(if n >= 1 << 62 {
        Limit::Max
    } else {
        Limit::Value(n)
    })
}

/// `cpu.max`: `$MAX $PERIOD`, MAX being `max` or microseconds.
pub fn parse_cpu_max(text: &str) -> Option<(Limit, u64)> {
    let mut it = text.split_whitespace();
    let quota = parse_limit(it.next()?)?;
    let period = it.next().map_or(Some(100_000), |p| p.parse().ok())?;
    Some((quota, period))
}

/// A value of a flat-keyed file (`memory.events`, `memory.oom_control`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The directory of cgroup `path` under mount `m`: the path is relative to
/// the cgroup namespace, the mount shows the hierarchy from `m.root`.
fn dir_in(m: &Mount, path: &str) -> String {
    let rel = if m.root == "/" {
        path
    } else {
        path.strip_prefix(m.root.as_str()).unwrap_or("")
    };
    if rel.starts_with("/..") {
        // Outside our cgroup namespace: the mount's top is the best guess.
        return m.target.clone();
    }
    format!(
        "{}{}",
        m.target.trim_end_matches('/'),
        rel.trim_end_matches('/')
    )
}

/// A cgroup file under the target's root. The target may have put a FIFO
/// or a huge file where its cgroup files should be: regular files only,
/// of at most 64 KiB (a real one holds a line or a few dozen).
fn read(ctx: &Ctx, dir: &str, file: &str) -> Option<String> {
    let p: PathBuf = ctx.resolve(&format!("{dir}/{file}"));
    let bytes = crate::target::file::read(&p, 64 << 10).ok()?;
    String::from_utf8(bytes).ok()
}

fn num(text: Option<String>) -> Option<u64> {
    text?.trim().parse().ok()
}

/// Read the report for `pid` from its cgroup file and the target's mounts.
pub fn report(ctx: &Ctx, pid: i32, mounts: &[Mount]) -> Result<Report, String> {
    let text = fs::read_to_string(ctx.proc.path(pid, "cgroup")).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            format!("no process {pid}")
        } else {
            format!("/proc/{pid}/cgroup: {}", util::io_error(&e))
        }
    })?;
    let members = parse_proc_cgroup(&text);
    let mut r = Report {
        pid,
        ..Report::default()
    };
    let v1_mount = |controller: &str| -> Option<(String, String)> {
        let member = members
            .iter()
            .find(|m| m.hierarchy != 0 && m.controllers.iter().any(|c| c == controller))?;
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_options.iter().any(|o| o == controller))?;
        Some((member.path.clone(), dir_in(mount, &member.path)))
    };
    if let Some((path, mem_dir)) = v1_mount("memory") {
        r.version = 1;
        r.path = path;
        r.dir = mem_dir.clone();
        r.memory_limit_bytes =
            read(ctx, &mem_dir, "memory.limit_in_bytes").and_then(|t| parse_v1_bytes_limit(&t));
        r.memory_usage_bytes = num(read(ctx, &mem_dir, "memory.usage_in_bytes"));
        r.memory_peak_bytes = num(read(ctx, &mem_dir, "memory.max_usage_in_bytes"));
        r.oom_kills = read(ctx, &mem_dir, "memory.oom_control").and_then(|t| keyed(&t, "oom_kill"));
        if let Some((_, cpu)) = v1_mount("cpu") {
            let quota: Option<i64> =
                read(ctx, &cpu, "cpu.cfs_quota_us").and_then(|t| t.trim().parse().ok());
            r.cpu_quota_us = quota.map(|q| {
                if q < 0 {
                    Limit::Max
                } else {
                    Limit::Value(q as u64)
                }
            });
            r.cpu_period_us = num(read(ctx, &cpu, "cpu.cfs_period_us"));
        }
        if let Some((_, pids)) = v1_mount("pids") {
            r.pids_limit = read(ctx, &pids, "pids.max").and_then(|t| parse_limit(&t));
            r.pids_current = num(read(ctx, &pids, "pids.current"));
        }
    } else {
        let member = members.iter().find(|m| m.hierarchy == 0).ok_or_else(|| {
            format!("pid {pid} is in no cgroup v2 hierarchy and no v1 memory cgroup")
        })?;
        let mount = mounts.iter().find(|m| m.fstype == "cgroup2").ok_or(
            "no cgroup filesystem is mounted in the target (Docker mounts it at /sys/fs/cgroup)",
        )?;
        let dir = dir_in(mount, &member.path);
        r.version = 2;
        r.path = member.path.clone();
        r.memory_limit_bytes = read(ctx, &dir, "memory.max").and_then(|t| parse_limit(&t));
        r.memory_usage_bytes = num(read(ctx, &dir, "memory.current"));
        r.memory_peak_bytes = num(read(ctx, &dir, "memory.peak"));
        if let Some((q, p)) = read(ctx, &dir, "cpu.max").and_then(|t| parse_cpu_max(&t)) {
            r.cpu_quota_us = Some(q);
            r.cpu_period_us = Some(p);
        }
        r.pids_limit = read(ctx, &dir, "pids.max").and_then(|t| parse_limit(&t));
        r.pids_current = num(read(ctx, &dir, "pids.current"));
        r.oom_kills = read(ctx, &dir, "memory.events").and_then(|t| keyed(&t, "oom_kill"));
        r.dir = dir;
    }
    if let (Some(Limit::Value(q)), Some(p)) = (r.cpu_quota_us, r.cpu_period_us)
        && p > 0
    {
        r.cpus = Some(q as f64 / p as f64);
    }
    Ok(r)
}

fn show_limit(l: Option<Limit>, f: impl Fn(u64) -> String) -> String {
    match l {
        None => "?".into(),
        Some(Limit::Max) => "unlimited".into(),
        Some(Limit::Value(n)) => f(n),
    }
}

impl Builtin for Cgroup {
    const NAME: &'static str = "cgroup";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let pid = self.pid.unwrap_or(ctx.target_pid);
        let mounts = mounts::read(ctx)?;
        let r = match report(ctx, pid, &mounts) {
            Ok(r) => r,
            Err(e) => {
                writeln!(io.err, "cgroup: {e}")?;
                return Ok(1);
            }
        };
        if self.json {
            util::write_json(&mut io.out, &r)?;
            return Ok(0);
        }
        let opt = |v: Option<u64>| v.map_or("?".to_string(), util::human);
        let cpu = match (r.cpu_quota_us, r.cpu_period_us) {
            (Some(Limit::Value(q)), Some(p)) => {
                format!("{:.2} CPUs ({q}/{p} us)", r.cpus.unwrap_or_default())
            }
            (Some(Limit::Max), _) => "unlimited".into(),
            _ => "?".into(),
        };
        let rows = vec![
            vec![
                "cgroup".into(),
                format!(
                    "{} (v{}, {})",
                    escape::field(r.path.as_bytes()),
                    r.version,
                    escape::field(r.dir.as_bytes())
                ),
            ],
            vec![
                "memory limit".into(),
                show_limit(r.memory_limit_bytes, util::human),
            ],
            vec!["memory usage".into(), opt(r.memory_usage_bytes)],
            vec!["memory peak".into(), opt(r.memory_peak_bytes)],
            vec!["cpu quota".into(), cpu],
            vec![
                "pids".into(),
                format!(
                    "{} of {}",
                    r.pids_current.map_or("?".into(), |n| n.to_string()),
                    show_limit(r.pids_limit, |n| n.to_string())
                ),
            ],
            vec![
                "oom kills".into(),
                r.oom_kills.map_or("?".into(), |n| n.to_string()),
            ],
        ];
        util::write_table(&mut io.out, None, &rows, &[])?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::procinfo::Proc;

    #[test]
    fn cgroup_files_parse() {
        let m = parse_proc_cgroup("12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n");
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(m[2].hierarchy, 0);
        assert_eq!(m[2].path, "/");
        assert_eq!(parse_limit("max\n"), Some(Limit::Max));
        assert_eq!(parse_limit("536870912\n"), Some(Limit::Value(536_870_912)));
        assert_eq!(parse_cpu_max("max 100000\n"), Some((Limit::Max, 100_000)));
        assert_eq!(
            parse_cpu_max("50000 100000\n"),
            Some((Limit::Value(50_000), 100_000))
        );
        assert_eq!(
            parse_v1_bytes_limit("9223372036854771712\n"),
            Some(Limit::Max)
        );
        assert_eq!(
            parse_v1_bytes_limit("268435456"),
            Some(Limit::Value(1 << 28))
        );
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(2));
        assert_eq!(keyed(events, "oom"), Some(3));
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", "oom_kill"),
            Some(1)
        );
    }

    fn put(root: &std::path::Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn v2_report_reads_limits_under_the_mounted_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(r, "proc/7/cgroup", "0::/app.slice\n");
        let cg = "sys/fs/cgroup/app.slice";
        put(r, &format!("{cg}/memory.max"), "536870912\n");
        put(r, &format!("{cg}/memory.current"), "1048576\n");
        put(r, &format!("{cg}/memory.peak"), "2097152\n");
        put(r, &format!("{cg}/cpu.max"), "50000 100000\n");
        put(r, &format!("{cg}/pids.max"), "max\n");
        put(r, &format!("{cg}/pids.current"), "3\n");
        put(r, &format!("{cg}/memory.events"), "oom 1\noom_kill 1\n");
        let mut ctx = Ctx::for_root(r.to_path_buf());
        ctx.proc = Proc::new(r.join("proc"));
        let mounts = mounts::parse(
            "30 25 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        let rep = report(&ctx, 7, &mounts).unwrap();
        assert_eq!(rep.version, 2);
        assert_eq!(rep.dir, "/sys/fs/cgroup/app.slice");
        assert_eq!(rep.memory_limit_bytes, Some(Limit::Value(512 << 20)));
        assert_eq!(rep.memory_usage_bytes, Some(1 << 20));
        assert_eq!(rep.memory_peak_bytes, Some(2 << 20));
        assert_eq!(rep.cpus, Some(0.5));
        assert_eq!(rep.pids_limit, Some(Limit::Max));
        assert_eq!(rep.pids_current, Some(3));
        assert_eq!(rep.oom_kills, Some(1));
        let json = serde_json::to_value(&rep).unwrap();
        assert_eq!(json["pids_limit"], "max");
        assert_eq!(json["memory_limit_bytes"], 536_870_912);
    }

    #[test]
    fn v1_report_maps_the_mount_root_of_each_controller() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        put(
            r,
            "proc/9/cgroup",
            "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n8:pids:/docker/abc\n0::/\n",
        );
        put(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        put(r, "sys/fs/cgroup/memory/memory.usage_in_bytes", "4096\n");
        put(
            r,
            "sys/fs/cgroup/memory/memory.max_usage_in_bytes",
            "8192\n",
        );
        put(
            r,
            "sys/fs/cgroup/memory/memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n",
        );
        put(r, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
        put(r, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
        put(r, "sys/fs/cgroup/pids/pids.max", "100\n");
        put(r, "sys/fs/cgroup/pids/pids.current", "5\n");
        let mut ctx = Ctx::for_root(r.to_path_buf());
        ctx.proc = Proc::new(r.join("proc"));
        let mounts = mounts::parse(
            "40 30 0:40 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n\
             41 30 0:41 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n\
             42 30 0:42 /docker/abc /sys/fs/cgroup/pids ro - cgroup cgroup rw,pids\n",
        );
        let rep = report(&ctx, 9, &mounts).unwrap();
        assert_eq!(rep.version, 1);
        assert_eq!(rep.dir, "/sys/fs/cgroup/memory");
        assert_eq!(rep.memory_limit_bytes, Some(Limit::Max));
        assert_eq!(rep.memory_usage_bytes, Some(4096));
        assert_eq!(rep.memory_peak_bytes, Some(8192));
        assert_eq!(rep.oom_kills, Some(4));
        assert_eq!(rep.cpu_quota_us, Some(Limit::Max));
        assert_eq!(rep.cpus, None);
        assert_eq!(rep.pids_limit, Some(Limit::Value(100)));
        assert_eq!(rep.pids_current, Some(5));
    }

    #[test]
    fn no_cgroup_mount_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), "proc/3/cgroup", "0::/\n");
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        ctx.proc = Proc::new(dir.path().join("proc"));
        let err = report(&ctx, 3, &[]).unwrap_err();
        assert!(err.contains("no cgroup filesystem is mounted"), "{err}");
    }
}
