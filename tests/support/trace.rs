//! What the trace tests share: the workloads of `trace_app.c`, and
//! following a trace of an app that fails on a new path every time.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::{pty, unshare};

/// Presses Ctrl-C on the trace `term` shows, once it has begun, and
/// returns how long the session took to end after it (successfully).
pub fn press_ctrl_c(term: &mut pty::Pty) -> Duration {
    term.expect("Ctrl-C to stop", 0);
    std::thread::sleep(Duration::from_millis(300));
    let pressed = Instant::now();
    term.send("\x03");
    let status = term.wait(Duration::from_secs(15));
    let took = pressed.elapsed();
    assert!(status.success(), "{}", term.screen());
    term.expect("trace: interrupted; detached from pid 1", 0);
    took
}

/// The workloads of `support/trace_app.c` (vfork, paths, calls,
/// privileged), built static once per test binary.
pub fn trace_app() -> &'static Path {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    APP.get_or_init(|| unshare::compile_static("trace-app", include_str!("trace_app.c")))
}

/// How a trace of `trace-app paths` went.
pub struct Flood {
    pub status: ExitStatus,
    /// The most the tracing side's memory reached, in KiB.
    pub peak_kib: u64,
    /// From the `summary:` line on.
    pub summary: Vec<String>,
    pub stderr: String,
}

impl Flood {
    /// The trace ended on Ctrl-C after at least `calls` failed calls, its
    /// summary folded past its 256 rows.
    pub fn check_interrupted_with_a_folded_summary(&self, calls: u64) {
        assert!(self.status.success(), "{}", self.stderr);
        assert!(
            self.stderr
                .contains("trace: interrupted; detached from pid 1"),
            "{}",
            self.stderr
        );
        assert!(check_folded_summary(&self.summary) >= calls);
        assert!(self.peak_kib > 0);
    }
}

/// Follows `shell`, a trace of `trace-app paths` (every call a 4 KiB
/// line): counts the calls on its stdout and keeps only its summary,
/// samples `rss_kib()` every 100 ms and fails past `limit_kib`, and calls
/// `interrupt()` (Ctrl-C) once `calls` calls were shown.
pub fn follow_flood(
    mut shell: Child,
    calls: u64,
    limit_kib: u64,
    rss_kib: &dyn Fn() -> u64,
    interrupt: &dyn Fn(),
) -> Flood {
    let stdout = shell.stdout.take().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut summary = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.starts_with("[pid ") {
                counter.fetch_add(1, Ordering::Relaxed);
            } else if line.starts_with("summary:") || !summary.is_empty() {
                summary.push(line);
            }
        }
        summary
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak_kib = 0;
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = shell.try_wait().unwrap() {
            break status;
        }
        peak_kib = peak_kib.max(rss_kib());
        if peak_kib > limit_kib || Instant::now() > deadline {
            let _ = shell.kill();
            let _ = shell.wait();
            panic!(
                "the tracing side reached {peak_kib} KiB (limit {limit_kib}) after {} calls, or never ended",
                seen.load(Ordering::Relaxed)
            );
        }
        if !interrupted && seen.load(Ordering::Relaxed) >= calls {
            interrupted = true;
            interrupt();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let summary = reader.join().unwrap();
    let mut stderr = String::new();
    shell
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Flood {
        status,
        peak_kib,
        summary,
        stderr,
    }
}

/// Checks a text summary of more distinct failures than it keeps: 256
/// rows, then one line counting the rest, and the counts adding up to the
/// total. Returns the total.
pub fn check_folded_summary(summary: &[String]) -> u64 {
    let total: u64 = summary
        .first()
        .and_then(|l| l.strip_prefix("summary: "))
        .and_then(|s| s.strip_suffix(" failed calls"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {:?}", summary.first()));
    let rows: Vec<&String> = summary
        .iter()
        .skip(2)
        .filter(|l| !l.starts_with('+'))
        .collect();
    assert_eq!(rows.len(), 256, "{:?}", &summary[..3.min(summary.len())]);
    let folded_line = summary.last().unwrap();
    assert!(
        folded_line.ends_with(
            "more failed calls on other paths and addresses (the summary lists the first 256 distinct ones)"
        ),
        "{folded_line}"
    );
    let folded: u64 = folded_line
        .strip_prefix("+ ")
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{folded_line}"));
    let counted: u64 = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted + folded, total);
    total
}
