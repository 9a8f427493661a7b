//! `top [-b] [-n N] [-d SECS] [-o cpu|mem]`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use clap::Parser;

use super::less::{Key, RawKeys, have_keyboard, screen_size};
use super::ps::{self, Row};
use super::{Builtin, cgroup, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procinfo;
use crate::term::escape;

/// A live view of the target's processes by CPU and memory, as procps top.
///
/// On a terminal the view refreshes every -d seconds until q (or Ctrl-C);
/// M sorts by memory, P by CPU. Without a terminal, or with -b, it prints
/// -n snapshots (default 1) and ends. %CPU is the share of one CPU used
/// since the previous snapshot (the first one measures half a second);
/// %MEM is RSS against the host's MemTotal; the target's memory limit and
/// use, when its cgroup has a limit, are on the line below the host's.
/// As procps top, it draws on the screen itself (no alternate screen):
/// the last frame stays when it ends (`top -n 1`). Command lines are
/// escaped.
#[derive(Parser)]
#[command(name = "top", disable_version_flag = true)]
pub struct Top {
    /// Batch mode: print snapshots, read no keys.
    #[arg(short = 'b', long = "batch")]
    batch: bool,
    /// Snapshots to show, then exit (default: 1 in batch mode, no limit on
    /// a terminal).
    #[arg(short = 'n', long = "iterations", value_name = "N")]
    iterations: Option<u64>,
    /// Seconds between snapshots (fractions allowed).
    #[arg(
        short = 'd',
        long = "delay",
        value_name = "SECS",
        default_value_t = 2.0
    )]
    delay: f64,
    /// Sort by cpu or mem.
    #[arg(
        short = 'o',
        long = "sort",
        value_name = "FIELD",
        default_value = "cpu"
    )]
    sort: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Cpu,
    Mem,
}

/// One process in one snapshot.
struct Line {
    row: Row,
    /// utime + stime, clock ticks.
    ticks: u64,
    cpu: f64,
}

/// utime + stime (fields 14 and 15 of /proc/PID/stat, after the command
/// name, which may hold spaces and parentheses).
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Percent of one CPU for `ticks` used over `elapsed`.
pub fn cpu_percent(ticks: u64, hz: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    ticks as f64 / hz.max(1) as f64 / secs * 100.0
}

/// `M:SS.hh` of CPU time, as top's TIME+.
pub fn time_plus(ticks: u64, hz: u64) -> String {
    let hz = hz.max(1);
    let hundredths = ticks * 100 / hz;
    format!(
        "{}:{:02}.{:02}",
        hundredths / 6000,
        (hundredths / 100) % 60,
        hundredths % 100
    )
}

struct Sampler {
    hz: u64,
    last: HashMap<i32, u64>,
    at: Instant,
}

impl Sampler {
    fn sample(&mut self, ctx: &Ctx) -> Vec<Line> {
        let now = Instant::now();
        let elapsed = now - self.at;
        let mut lines: Vec<Line> = ps::read_all(ctx)
            .into_iter()
            .filter_map(|row| {
                let stat = std::fs::read_to_string(ctx.proc.path(row.pid, "stat")).ok()?;
                let ticks = cpu_ticks(&stat)?;
                let before = self.last.get(&row.pid).copied().unwrap_or(ticks);
                Some(Line {
                    cpu: cpu_percent(ticks.saturating_sub(before), self.hz, elapsed),
                    row,
                    ticks,
                })
            })
            .collect();
        self.last = lines.iter().map(|l| (l.row.pid, l.ticks)).collect();
        self.at = now;
        lines.retain(|l| l.row.tid.is_none());
        lines
    }
}

/// (MemTotal, MemAvailable) in KiB.
fn meminfo(ctx: &Ctx) -> (u64, u64) {
    let text = std::fs::read_to_string(ctx.proc.root.join("meminfo")).unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(k)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    (get("MemTotal:"), get("MemAvailable:"))
}

/// The target's cgroup memory limit and use, in bytes: `None` when it has
/// no limit (or none can be read: no cgroup filesystem in the target).
pub fn container_memory(ctx: &Ctx) -> Option<(u64, Option<u64>)> {
    let mounts = super::mounts::read(ctx).ok()?;
    let report = cgroup::report(ctx, ctx.target_pid, &mounts).ok()?;
    match report.memory_limit_bytes? {
        cgroup::Limit::Value(limit) => Some((limit, report.memory_usage_bytes)),
        cgroup::Limit::Max => None,
    }
}

/// The memory lines: the host's, and the container's limit when it has one.
fn memory_lines(host: (u64, u64), limit: Option<(u64, Option<u64>)>) -> String {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let mut text = format!(
        "MiB Mem: {:.1} total, {:.1} available (the host's)\n",
        host.0 as f64 / 1024.0,
        host.1 as f64 / 1024.0,
    );
    if let Some((limit, used)) = limit {
        text.push_str(&format!("MiB Lim: {:.1} limit", mib(limit)));
        if let Some(used) = used {
            text.push_str(&format!(", {:.1} used", mib(used)));
        }
        text.push_str(" (the container's cgroup)\n");
    }
    text
}

fn header(ctx: &Ctx, lines: &[Line], mem: (u64, u64)) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let clock = &util::datetime(now)[11..];
    let read = |f: &str| std::fs::read_to_string(ctx.proc.root.join(f)).unwrap_or_default();
    let uptime: u64 = read("uptime")
        .split('.')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let (days, hours, mins) = (uptime / 86_400, (uptime / 3600) % 24, (uptime / 60) % 60);
    let up = match days {
        0 => format!("{hours:2}:{mins:02}"),
        1 => format!("1 day, {hours:2}:{mins:02}"),
        d => format!("{d} days, {hours:2}:{mins:02}"),
    };
    let load: Vec<String> = read("loadavg")
        .split_whitespace()
        .take(3)
        .map(str::to_string)
        .collect();
    let running = lines.iter().filter(|l| l.row.state == "R").count();
    let sleeping = lines
        .iter()
        .filter(|l| matches!(l.row.state.as_str(), "S" | "D" | "I"))
        .count();
    let zombie = lines.iter().filter(|l| l.row.state == "Z").count();
    format!(
        "top - {clock} up {up},  load average: {}\n\
         Tasks: {} total, {running} running, {sleeping} sleeping, {zombie} zombie\n\
         {}\n",
        load.join(", "),
        lines.len(),
        memory_lines(mem, container_memory(ctx)),
    )
}

fn table(lines: &mut [Line], by: SortBy, mem_total: u64, hz: u64, width: Option<usize>) -> String {
    match by {
        SortBy::Cpu => lines.sort_by(|a, b| {
            b.cpu
                .total_cmp(&a.cpu)
                .then(b.row.rss_kb.cmp(&a.row.rss_kb))
                .then(a.row.pid.cmp(&b.row.pid))
        }),
        SortBy::Mem => lines.sort_by(|a, b| {
            b.row
                .rss_kb
                .cmp(&a.row.rss_kb)
                .then(b.cpu.total_cmp(&a.cpu))
                .then(a.row.pid.cmp(&b.row.pid))
        }),
    }
    let mut out: String = format!(
        "{:>7} {:<10} S {:>5} {:>5} {:>8} {:>9} COMMAND",
        "PID", "USER", "%CPU", "%MEM", "RSS", "TIME+"
    )
    .chars()
    .take(width.unwrap_or(usize::MAX))
    .collect();
    out.push('\n');
    for l in lines.iter() {
        let user: String = escape::field(l.row.user.as_bytes())
            .chars()
            .take(10)
            .collect();
        let cmd = l
            .row
            .cmd
            .iter()
            .map(|a| escape::field(a.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mem = if mem_total > 0 {
            l.row.rss_kb as f64 * 100.0 / mem_total as f64
        } else {
            0.0
        };
        let mut row = format!(
            "{:>7} {:<10} {} {:>5.1} {:>5.1} {:>8} {:>9} {cmd}",
            l.row.pid,
            user,
            l.row.state,
            l.cpu,
            mem,
            l.row.rss_kb,
            time_plus(l.ticks, hz),
        );
        if let Some(w) = width {
            row = row.chars().take(w).collect();
        }
        out.push_str(&row);
        out.push('\n');
    }
    out
}

impl Builtin for Top {
    const NAME: &'static str = "top";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut by = match self.sort.as_str() {
            "cpu" | "%CPU" => SortBy::Cpu,
            "mem" | "%MEM" | "rss" => SortBy::Mem,
            other => {
                writeln!(
                    io.err,
                    "top: unknown sort field {} (cpu or mem)",
                    escape::field(other.as_bytes())
                )?;
                return Ok(2);
            }
        };
        if !(self.delay.is_finite() && self.delay >= 0.1) {
            writeln!(io.err, "top: the delay must be at least 0.1 seconds")?;
            return Ok(2);
        }
        let delay = Duration::from_secs_f64(self.delay);
        let hz = procinfo::ticks_per_second();
        let mut sampler = Sampler {
            hz,
            last: HashMap::new(),
            at: Instant::now(),
        };
        // A first sample to measure the first snapshot's CPU against.
        sampler.sample(ctx);
        let live = !self.batch && io.out.is_terminal() && have_keyboard();
        if !live {
            let n = self.iterations.unwrap_or(1);
            for i in 0..n {
                let wait = if i == 0 {
                    Duration::from_millis(500)
                } else {
                    delay
                };
                if nap(wait) {
                    return Ok(130);
                }
                let mut lines = sampler.sample(ctx);
                let mem = meminfo(ctx);
                if i > 0 {
                    writeln!(io.out)?;
                }
                io.out.write_all(header(ctx, &lines, mem).as_bytes())?;
                io.out
                    .write_all(table(&mut lines, by, mem.0, hz, None).as_bytes())?;
                io.out.flush()?;
            }
            return Ok(0);
        }
        let keys = RawKeys::new()?;
        // As procps top: no alternate screen. Each frame clears the screen
        // and is drawn from the top left, so the last one stays on screen
        // when top ends: `top -n 1` leaves its snapshot, as a snapshot.
        io.out.write_all(b"\x1b[?25l")?;
        let mut footer = false;
        let result = (|| -> io::Result<()> {
            let mut wait = Duration::from_millis(500);
            let mut shown = 0u64;
            loop {
                let until = Instant::now() + wait;
                while Instant::now() < until {
                    if crate::shell::interrupted() {
                        return Ok(());
                    }
                    if let Some(k) = keys.read(100)? {
                        match (key_of(&k), k.first()) {
                            (Key::Quit, _) => return Ok(()),
                            (_, Some(b'M')) => by = SortBy::Mem,
                            (_, Some(b'P')) => by = SortBy::Cpu,
                            _ => {}
                        }
                        break;
                    }
                }
                let mut lines = sampler.sample(ctx);
                let mem = meminfo(ctx);
                let (rows, cols) = screen_size(ctx);
                let mut frame = header(ctx, &lines, mem);
                frame.push_str(&table(&mut lines, by, mem.0, hz, Some(cols)));
                shown += 1;
                let last = self.iterations.is_some_and(|n| shown >= n);
                io.out.write_all(screen(&frame, rows, !last).as_bytes())?;
                io.out.flush()?;
                footer = !last;
                if last {
                    return Ok(());
                }
                wait = delay;
            }
        })();
        // The frame stays; only the key help goes, and the cursor is back.
        let end: &[u8] = if footer {
            b"\r\x1b[2K\x1b[?25h"
        } else {
            b"\x1b[?25h"
        };
        io.out.write_all(end)?;
        io.out.flush()?;
        drop(keys);
        result?;
        Ok(0)
    }
}

/// One frame on a terminal of `rows` rows: the screen cleared, as many
/// lines of `frame` as fit, then the key help on the last row, or (the
/// last frame) the cursor on the row after the frame, for what comes next.
fn screen(frame: &str, rows: usize, help: bool) -> String {
    let visible: Vec<&str> = frame.lines().take(rows.saturating_sub(1)).collect();
    let mut screen = String::from("\x1b[H\x1b[2J");
    screen.push_str(&visible.join("\r\n"));
    if help {
        screen.push_str("\r\n\x1b[7mq: quit  M: sort by memory  P: sort by CPU\x1b[27m");
    } else {
        screen.push_str("\r\n");
    }
    screen
}

fn key_of(k: &[u8]) -> Key {
    super::less::key(k)
}

/// Sleep `d` in short naps; true if Ctrl-C cut it short.
fn nap(d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if crate::shell::interrupted() {
            return true;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn cpu_percent_and_time_plus_follow_top() {
        assert_eq!(cpu_percent(50, 100, Duration::from_secs(1)), 50.0);
        assert_eq!(cpu_percent(200, 100, Duration::from_secs(1)), 200.0);
        assert_eq!(cpu_percent(10, 100, Duration::ZERO), 0.0);
        assert_eq!(time_plus(0, 100), "0:00.00");
        assert_eq!(time_plus(6123, 100), "1:01.23");
        assert_eq!(time_plus(360_000, 100), "60:00.00");
    }

    fn line(pid: i32, cpu: f64, rss_kb: u64) -> Line {
        Line {
            row: Row {
                pid,
                ppid: 0,
                uid: 0,
                user: "u\x1b".into(),
                state: "S".into(),
                rss_kb,
                start_time: String::new(),
                cmd: vec!["/app\x1b[2J".into(), "x".into()],
                threads: 1,
                comm: "app".into(),
                tid: None,
            },
            ticks: 0,
            cpu,
        }
    }

    #[test]
    fn table_sorts_by_cpu_or_memory_and_escapes() {
        let mut lines = vec![line(1, 0.5, 900), line(2, 30.0, 100), line(3, 0.0, 5000)];
        let t = table(&mut lines, SortBy::Cpu, 10_000, 100, None);
        let pids: Vec<&str> = t
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(pids, ["2", "1", "3"]);
        assert!(!t.contains('\x1b'), "{t:?}");
        assert!(t.contains("/app\\e[2J x"), "{t}");
        assert!(t.contains(" 50.0 "), "{t}");
        let t = table(&mut lines, SortBy::Mem, 10_000, 100, Some(20));
        let pids: Vec<&str> = t
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(pids, ["3", "1", "2"]);
        assert!(t.lines().all(|l| l.chars().count() <= 20));
    }

    fn put(root: &std::path::Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A target (PID 7) whose cgroup files are under `root`, with `mountinfo`.
    fn target_with(root: &std::path::Path, cgroup: &str, mountinfo: &str) -> Ctx {
        put(root, "proc/7/cgroup", cgroup);
        put(root, "proc/7/mountinfo", mountinfo);
        let mut ctx = Ctx::for_root(root.to_path_buf());
        ctx.proc = crate::target::procinfo::Proc::new(root.join("proc"));
        ctx.target_pid = 7;
        ctx
    }

    #[test]
    fn the_container_memory_limit_is_read_from_cgroup_v2() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let ctx = target_with(
            r,
            "0::/\n",
            "30 25 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        put(r, "sys/fs/cgroup/memory.max", "268435456\n");
        put(r, "sys/fs/cgroup/memory.current", "1048576\n");
        assert_eq!(container_memory(&ctx), Some((256 << 20, Some(1 << 20))));
        put(r, "sys/fs/cgroup/memory.max", "max\n");
        assert_eq!(container_memory(&ctx), None);
    }

    #[test]
    fn the_container_memory_limit_is_read_from_cgroup_v1() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let ctx = target_with(
            r,
            "4:memory:/docker/abc\n0::/\n",
            "40 30 0:40 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
        );
        put(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "268435456\n",
        );
        assert_eq!(container_memory(&ctx), Some((256 << 20, None)));
        // No limit: LONG_MAX rounded down to a page.
        put(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        assert_eq!(container_memory(&ctx), None);
    }

    #[test]
    fn a_fifo_or_a_huge_file_for_a_cgroup_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let ctx = target_with(
            r,
            "0::/\n",
            "30 25 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        let max = r.join("sys/fs/cgroup/memory.max");
        std::fs::create_dir_all(max.parent().unwrap()).unwrap();
        nix::unistd::mkfifo(&max, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(container_memory(&ctx), None);
        std::fs::remove_file(&max).unwrap();
        std::fs::File::create(&max)
            .unwrap()
            .set_len(1 << 32)
            .unwrap();
        assert_eq!(container_memory(&ctx), None);
    }

    #[test]
    fn the_limit_line_follows_the_hosts_only_when_there_is_a_limit() {
        let host = (2048 * 1024, 1024 * 1024);
        assert_eq!(
            memory_lines(host, None),
            "MiB Mem: 2048.0 total, 1024.0 available (the host's)\n"
        );
        assert_eq!(
            memory_lines(host, Some((256 << 20, Some(3 << 19)))),
            "MiB Mem: 2048.0 total, 1024.0 available (the host's)\n\
             MiB Lim: 256.0 limit, 1.5 used (the container's cgroup)\n"
        );
    }

    #[test]
    fn the_last_frame_ends_below_itself_and_the_others_with_the_key_help() {
        let frame = "a\nb\nc\nd\n";
        let s = screen(frame, 3, true);
        assert_eq!(
            s,
            "\x1b[H\x1b[2Ja\r\nb\r\n\x1b[7mq: quit  M: sort by memory  P: sort by CPU\x1b[27m"
        );
        assert_eq!(screen(frame, 3, false), "\x1b[H\x1b[2Ja\r\nb\r\n");
    }
}
