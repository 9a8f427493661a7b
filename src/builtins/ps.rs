//! `ps [--flat] [-T] [-o COLS] [--json]`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procinfo::{self, Proc};
use crate::term::escape;

/// List the processes of the target's PID namespace as a tree: pid, ppid,
/// user, state, rss, start time and command line.
///
/// JSON (--json): an array of {pid, ppid, uid, user, state, rss_kb,
/// start_time, cmd (array), threads, comm}.
#[derive(Parser)]
#[command(name = "ps", disable_version_flag = true)]
pub struct Ps {
    /// One line per process sorted by pid, no tree.
    #[arg(long)]
    flat: bool,
    /// Show threads too (one line per thread, marked with its tid).
    #[arg(short = 'T', long)]
    threads: bool,
    /// Columns to show, comma-separated: pid,ppid,user,uid,state,rss,start,threads,cmd.
    #[arg(short = 'o', value_delimiter = ',')]
    columns: Vec<String>,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

/// One process (or thread) row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub user: String,
    pub state: String,
    pub rss_kb: u64,
    pub start_time: String,
    pub cmd: Vec<String>,
    pub threads: i64,
    pub comm: String,
    #[serde(skip)]
    pub tid: Option<i32>,
}

/// Read one process forgivingly: a vanished process is None; an unreadable
/// command line falls back to `[comm]` as procps does.
pub fn read_row(proc: &Proc, ctx: &Ctx, pid: i32, boot: u64, hz: u64) -> Option<Row> {
    let stat = proc.stat(pid).ok()?;
    let uid = std::fs::metadata(proc.path(pid, "")).ok()?.uid();
    let cmd: Vec<String> = proc
        .cmdline(pid)
        .unwrap_or_default()
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cmd = if cmd.is_empty() {
        vec![format!("[{}]", stat.comm)]
    } else {
        cmd
    };
    let start = boot as i64 + (stat.start_ticks / hz.max(1)) as i64;
    Some(Row {
        pid,
        ppid: stat.ppid,
        uid,
        user: ctx.user_name(uid),
        state: stat.state.to_string(),
        rss_kb: stat.rss_pages.max(0) as u64 * page_kb(),
        start_time: util::iso8601(start),
        cmd,
        threads: stat.num_threads,
        comm: stat.comm,
        tid: None,
    })
}

fn page_kb() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4, |p| p as u64 / 1024)
}

/// Every process of the namespace, by pid.
pub fn read_all(ctx: &Ctx) -> Vec<Row> {
    let proc = &ctx.proc;
    let boot = proc.boot_time().unwrap_or(0);
    let hz = procinfo::ticks_per_second();
    proc.pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pid| read_row(proc, ctx, pid, boot, hz))
        .collect()
}

fn thread_rows(ctx: &Ctx, row: &Row) -> Vec<Row> {
    let task = Proc::new(ctx.proc.path(row.pid, "task"));
    let boot = ctx.proc.boot_time().unwrap_or(0);
    let hz = procinfo::ticks_per_second();
    task.pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|tid| *tid != row.pid)
        .filter_map(|tid| {
            let mut r = read_row(&task, ctx, tid, boot, hz)?;
            r.tid = Some(tid);
            r.pid = row.pid;
            r.ppid = row.pid;
            Some(r)
        })
        .collect()
}

const ALL: [&str; 8] = [
    "pid", "ppid", "user", "state", "rss", "start", "threads", "cmd",
];

impl Ps {
    fn cell(&self, row: &Row, col: &str, prefix: &str) -> String {
        match col {
            "pid" => row
                .tid
                .map_or(row.pid.to_string(), |t| format!("{}/{t}", row.pid)),
            "ppid" => row.ppid.to_string(),
            "user" => escape::field(row.user.as_bytes()).into_owned(),
            "uid" => row.uid.to_string(),
            "state" => row.state.clone(),
            "rss" => util::human(row.rss_kb * 1024),
            "start" => row.start_time.replace('T', " ").trim_end_matches('Z')[5..16].to_string(),
            "threads" => row.threads.to_string(),
            "cmd" => {
                let line = row
                    .cmd
                    .iter()
                    .map(|a| escape::field(a.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("{prefix}{line}")
            }
            _ => String::new(),
        }
    }
}

impl Builtin for Ps {
    const NAME: &'static str = "ps";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let cols: Vec<String> = if self.columns.is_empty() {
            ["pid", "ppid", "user", "state", "rss", "start", "cmd"]
                .map(String::from)
                .to_vec()
        } else {
            self.columns.clone()
        };
        if let Some(bad) = cols
            .iter()
            .find(|c| !ALL.contains(&c.as_str()) && c.as_str() != "uid")
        {
            writeln!(
                io.err,
                "ps: unknown column {}; known: {},uid",
                escape::field(bad.as_bytes()),
                ALL.join(",")
            )?;
            return Ok(2);
        }
        let rows = read_all(ctx);
        if self.json {
            let mut all = Vec::new();
            for r in &rows {
                all.push(r.clone());
                if self.threads {
                    all.extend(thread_rows(ctx, r));
                }
            }
            util::write_json(&mut io.out, &all)?;
            return Ok(0);
        }
        // Order: a depth-first walk from the roots (processes whose parent is
        // not in this namespace), children by pid.
        let mut ordered: Vec<(Row, String)> = Vec::new();
        if self.flat {
            ordered = rows.iter().map(|r| (r.clone(), String::new())).collect();
        } else {
            let mut children: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
            let pids: std::collections::HashSet<i32> = rows.iter().map(|r| r.pid).collect();
            let mut roots = Vec::new();
            for r in &rows {
                if pids.contains(&r.ppid) && r.ppid != r.pid {
                    children.entry(r.ppid).or_default().push(r);
                } else {
                    roots.push(r);
                }
            }
            fn walk<'a>(
                r: &'a Row,
                depth: usize,
                children: &BTreeMap<i32, Vec<&'a Row>>,
                out: &mut Vec<(Row, String)>,
                seen: &mut std::collections::HashSet<i32>,
            ) {
                if !seen.insert(r.pid) {
                    return;
                }
                let prefix = if depth == 0 {
                    String::new()
                } else {
                    format!("{}\\_ ", "   ".repeat(depth - 1))
                };
                out.push((r.clone(), prefix));
                for c in children.get(&r.pid).into_iter().flatten() {
                    walk(c, depth + 1, children, out, seen);
                }
            }
            let mut seen = std::collections::HashSet::new();
            for r in roots {
                walk(r, 0, &children, &mut ordered, &mut seen);
            }
        }
        let mut table = Vec::new();
        for (r, prefix) in &ordered {
            table.push(
                cols.iter()
                    .map(|c| self.cell(r, c, prefix))
                    .collect::<Vec<_>>(),
            );
            if self.threads {
                for t in thread_rows(ctx, r) {
                    let p = format!("{prefix}   ");
                    table.push(cols.iter().map(|c| self.cell(&t, c, &p)).collect());
                }
            }
        }
        let header: Vec<String> = cols.iter().map(|c| c.to_uppercase()).collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let right: Vec<usize> = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.as_str(), "pid" | "ppid" | "rss" | "uid" | "threads"))
            .map(|(i, _)| i)
            .collect();
        util::write_table(&mut io.out, Some(&header), &table, &right)?;
        Ok(0)
    }
}
