//! What a watched start saw: the evidence `nosh doctor IMAGE --run` hands
//! the doctor checks besides the image's files and `/proc`.
//!
//! The toolbox starts the image's command as its own traced child
//! ([`crate::toolbox::watch`]) and fills this in; the doctor checks read it
//! (failed binds name their port and errno, failed writes their path, the
//! exit code explains an app that died) and the host prints it with the
//! findings. Everything in it comes from the app, so it is bounded here and
//! escaped wherever it is shown.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::diagnosis::start::{Failed, Start};
use crate::trace::decode::Event;

/// Most distinct failed calls kept (each counted); later ones are counted
/// in [`Watched::calls_dropped`] only.
pub const MAX_CALLS: usize = 256;
/// Most log lines kept: the newest.
pub const MAX_LOG_LINES: usize = 200;
/// Longest log line kept, in bytes (cut on a character boundary).
pub const MAX_LOG_LINE: usize = 1024;

/// How the watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// Every awaited port listened.
    Ready,
    /// The app's first process exited.
    Exited,
    /// The duration passed first.
    #[default]
    TimedOut,
    /// The command could not be started at all (no such program, no exec
    /// permission): the container would not have started either.
    NotStarted,
}

impl Ending {
    pub fn describe(self) -> &'static str {
        match self {
            Ending::Ready => "ready: every exposed port listens",
            Ending::Exited => "the app exited",
            Ending::TimedOut => "still starting when the time was up",
            Ending::NotStarted => "the command could not be started",
        }
    }
}

/// One failed system call of the app, the same call on the same path or
/// address with the same errno counted once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct FailedCall {
    pub syscall: String,
    /// The path as the app named it, made absolute when it was relative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `ip:port` of a socket call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Open flags by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// The errno by name (EACCES) and as strerror says it.
    pub errno: String,
    pub error: String,
    /// What the call asked of the path: read, write or exec, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need: Option<String>,
    /// The call as strace would print it (arguments already escaped).
    pub line: String,
    /// The capability a failed privileged call lacked (`CAP_NET_BIND_SERVICE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The first process that made it.
    pub pid: i32,
    pub count: u64,
    /// The order of its first failure among the kept calls.
    #[serde(skip)]
    pub first: usize,
}

impl FailedCall {
    /// The port of a failed `bind`, if this is one.
    pub fn bind_port(&self) -> Option<u16> {
        if self.syscall != "bind" {
            return None;
        }
        let addr = self.address.as_deref()?;
        addr.rsplit_once(':')?.1.parse().ok()
    }

    /// Whether the call tried to write (create, open for writing, make a
    /// directory, remove, rename) and the kernel said no for permission or
    /// a read-only filesystem.
    pub fn denied_write(&self) -> bool {
        self.path.is_some()
            && self.need.as_deref() == Some("write")
            && matches!(self.errno.as_str(), "EACCES" | "EPERM" | "EROFS")
    }
}

/// Everything the watch saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Watched {
    /// The app's first process, as this PID namespace numbers it (0 when
    /// it never started).
    pub app_pid: i32,
    pub ending: Ending,
    /// Its exit status (128 + N for signal N), when it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// How long the watch took, in seconds.
    pub seconds: f64,
    /// The ports waited for (`8080/tcp`).
    pub awaited: Vec<String>,
    /// The ports listening when the watch ended (`tcp 0.0.0.0:8080`).
    pub listening: Vec<String>,
    /// Failed calls, the most frequent first.
    pub failed_calls: Vec<FailedCall>,
    /// Distinct failed calls not kept (over [`MAX_CALLS`]).
    pub calls_dropped: u64,
    /// The app's last lines on stdout and stderr.
    pub log_tail: Vec<String>,
    /// Why there is no trace, when there is none (a seccomp profile that
    /// refuses ptrace, for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_missing: Option<String>,
}

impl Watched {
    /// Failed binds, one per port.
    pub fn failed_binds(&self) -> Vec<(u16, &FailedCall)> {
        let mut out: Vec<(u16, &FailedCall)> = Vec::new();
        for c in &self.failed_calls {
            if let Some(port) = c.bind_port()
                && !out.iter().any(|(p, _)| *p == port)
            {
                out.push((port, c));
            }
        }
        out
    }

    /// The watched start as doctor reads a traced start: the failed calls
    /// in the order they first failed, and the exit. The output is not
    /// repeated here: it is the watched container's log already.
    pub fn as_start(&self) -> Start {
        let mut calls: Vec<&FailedCall> = self.failed_calls.iter().collect();
        calls.sort_by_key(|c| c.first);
        Start {
            exit: self.exit_code,
            failed: calls
                .into_iter()
                .map(|c| Failed {
                    syscall: c.syscall.clone(),
                    target: c
                        .path
                        .clone()
                        .or_else(|| c.address.clone())
                        .unwrap_or_default(),
                    errno: c.errno.clone(),
                    capability: c
                        .capability
                        .as_deref()
                        .and_then(crate::diagnosis::privileged::by_name)
                        .map(|n| n.capability),
                    flags: c.flags.clone(),
                    count: c.count,
                    first: c.first,
                })
                .collect(),
            ..Start::default()
        }
    }
}

/// Collects failed calls, bounded: the same call, target and errno once,
/// counted.
#[derive(Debug, Default)]
pub struct CallCounter {
    seen: HashMap<(String, String, String), usize>,
    calls: Vec<FailedCall>,
    dropped: u64,
}

impl CallCounter {
    pub fn add(&mut self, e: &Event) {
        let Some(errno) = e.errno.clone() else {
            return;
        };
        let path = e.absolute.clone().or_else(|| e.path.clone());
        let target = path
            .clone()
            .or_else(|| e.address.clone())
            .unwrap_or_default();
        let key = (e.syscall.clone(), target, errno.clone());
        if let Some(&i) = self.seen.get(&key) {
            self.calls[i].count += 1;
            return;
        }
        if self.calls.len() >= MAX_CALLS {
            self.dropped += 1;
            return;
        }
        self.seen.insert(key, self.calls.len());
        self.calls.push(FailedCall {
            syscall: e.syscall.clone(),
            path,
            address: e.address.clone(),
            flags: e.flags.clone(),
            errno,
            error: e.error.clone().unwrap_or_default(),
            need: e.need.map(str::to_string),
            line: e.line(),
            capability: e.capability.map(str::to_string),
            pid: e.pid,
            count: 1,
            first: self.calls.len(),
        });
    }

    /// The calls, the most frequent first (ties in the order seen), and
    /// how many were not kept.
    pub fn finish(self) -> (Vec<FailedCall>, u64) {
        let mut calls = self.calls;
        calls.sort_by_key(|c| std::cmp::Reverse(c.count));
        (calls, self.dropped)
    }
}

/// The newest lines of the app's output, bounded in count and length.
#[derive(Debug, Default)]
pub struct LogTail {
    lines: std::collections::VecDeque<String>,
    /// A line not yet ended by a newline.
    partial: Vec<u8>,
}

impl LogTail {
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                self.keep(&line);
            } else if self.partial.len() < MAX_LOG_LINE * 4 {
                self.partial.push(b);
            }
        }
    }

    fn keep(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = crate::target::info::truncate(text.trim_end_matches('\r'), MAX_LOG_LINE);
        if self.lines.len() == MAX_LOG_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(text);
    }

    pub fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.keep(&rest);
        }
        self.lines.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(syscall: &str, path: Option<&str>, address: Option<&str>, errno: &str) -> Event {
        let mut e = Event::default();
        e.pid = 7;
        e.syscall = syscall.into();
        e.path = path.map(str::to_string);
        e.address = address.map(str::to_string);
        e.result = -13;
        e.errno = Some(errno.into());
        e.error = Some("Permission denied".into());
        e.need = Some("write");
        e.has_path = path.is_some();
        e
    }

    #[test]
    fn the_same_failure_is_counted_once_and_the_list_is_bounded() {
        let mut c = CallCounter::default();
        for _ in 0..3 {
            c.add(&event("openat", Some("/var/log/x"), None, "EACCES"));
        }
        c.add(&event("bind", None, Some("0.0.0.0:80"), "EACCES"));
        for i in 0..MAX_CALLS + 10 {
            c.add(&event("openat", Some(&format!("/f{i}")), None, "ENOENT"));
        }
        let (calls, dropped) = c.finish();
        assert_eq!(calls.len(), MAX_CALLS);
        assert_eq!(dropped, 12);
        assert_eq!(calls[0].count, 3);
        assert!(calls[0].denied_write());
        let w = Watched {
            failed_calls: calls,
            ..Default::default()
        };
        let binds = w.failed_binds();
        assert_eq!(binds.len(), 1);
        assert_eq!(binds[0].0, 80);
    }

    #[test]
    fn log_lines_keep_the_newest_and_are_cut() {
        let mut t = LogTail::default();
        for i in 0..MAX_LOG_LINES + 5 {
            t.push(format!("line {i}\n").as_bytes());
        }
        t.push(&[b'x'; MAX_LOG_LINE * 10]);
        let lines = t.finish();
        assert_eq!(lines.len(), MAX_LOG_LINES);
        assert_eq!(lines[0], "line 6");
        assert_eq!(lines.last().unwrap().len(), MAX_LOG_LINE);
    }
}
