//! A traced start of the entrypoint, for a container that exited or
//! crash-loops: in a replica (a copy, never the target), the configured
//! command runs under the tracer until it exits or a timeout, and what it
//! tried is kept: the calls that failed, the files it opened, what it
//! wrote, and the end of its output.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::trace::End;
use crate::trace::decode::{self, Event};
use crate::trace::ldso::Report;
use crate::trace::session::{Options, Subject, follow};

/// A failed call, with how often it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub syscall: String,
    /// The path (absolute when the tracer could tell) or address.
    pub target: String,
    pub errno: String,
    /// The capability a privileged call lacked ([`crate::diagnosis::privileged`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<&'static str>,
    /// The open flags, for an open.
    #[serde(skip)]
    pub flags: Option<String>,
    pub count: u64,
    /// The order of its first failure.
    #[serde(skip)]
    pub first: usize,
}

impl Failed {
    /// `chroot("/var/lib/haproxy") = -1 EPERM`, as a person reads it.
    pub fn line(&self) -> String {
        let times = if self.count > 1 {
            format!(" ({} times)", self.count)
        } else {
            String::new()
        };
        if self.target.is_empty() {
            format!("{}() = -1 {}{times}", self.syscall, self.errno)
        } else {
            format!(
                "{}(\"{}\") = -1 {}{times}",
                self.syscall, self.target, self.errno
            )
        }
    }
}

/// What a traced start showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Start {
    /// The exit status (128 + N for signal N); `None` when it still ran at
    /// the timeout and was stopped.
    pub exit: Option<i32>,
    /// The failed calls, in the order of their first failure.
    pub failed: Vec<Failed>,
    /// Regular files it opened for reading (its configuration among them).
    #[serde(skip)]
    pub opened: Vec<String>,
    /// Paths it opened for writing or created.
    pub written: Vec<String>,
    /// The last lines of its output (stdout and stderr together).
    #[serde(skip)]
    pub output: Vec<String>,
}

/// The most of each kind kept: a start that loops must not fill memory.
const MAX_KEPT: usize = 512;
/// The output kept: its end.
const MAX_OUTPUT: usize = 64 * 1024;

fn keep_tail(mut from: std::fs::File) -> Vec<u8> {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * MAX_OUTPUT {
            kept.drain(..kept.len() - MAX_OUTPUT);
        }
    }
    if kept.len() > MAX_OUTPUT {
        kept.drain(..kept.len() - MAX_OUTPUT);
    }
    kept
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

/// The calls that open or create a path.
fn opens(e: &Event) -> bool {
    matches!(
        e.syscall.as_str(),
        "open"
            | "openat"
            | "openat2"
            | "creat"
            | "mkdir"
            | "mkdirat"
            | "rename"
            | "renameat"
            | "renameat2"
    )
}

fn writes(e: &Event) -> bool {
    match e.syscall.as_str() {
        "open" | "openat" | "openat2" => e.flags.as_deref().is_some_and(|f| {
            f.contains("O_WRONLY") || f.contains("O_RDWR") || f.contains("O_CREAT")
        }),
        "creat" | "mkdir" | "mkdirat" | "rename" | "renameat" | "renameat2" | "unlink"
        | "unlinkat" | "truncate" => true,
        _ => false,
    }
}

/// Runs `cmd` (the configured command, as `entrypoint --test` starts it)
/// traced for at most `timeout`, its output kept. `None` when it cannot be
/// started (the entrypoint checks say why).
pub fn run(mut cmd: Command, timeout: Duration) -> Option<Start> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let (read_end, write_end) = pipe().ok()?;
    let err_end = write_end.try_clone().ok()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::from(err_end));
    // The write ends live in `cmd`, which the trace drops when it ends:
    // then the reader sees the end of the output.
    let reader = std::thread::spawn(move || keep_tail(std::fs::File::from(read_end)));
    let opts = Options {
        // Successful opens too: the config files read, the paths written.
        all: true,
        // At every call, not under trace's filter: a call the container's
        // seccomp profile refuses (chroot without CAP_SYS_CHROOT, under
        // Docker's default profile) fails before a filter of ours could
        // stop it, and that failure is often the cause doctor must name.
        every_call: true,
        timeout: Some(timeout),
        watch_terminal: false,
        until: None,
    };
    let mut failed: BTreeMap<(String, String, String), Failed> = BTreeMap::new();
    let mut opened: Vec<String> = Vec::new();
    let mut written: Vec<String> = Vec::new();
    let mut order = 0usize;
    let mut collect = |r: Report| -> std::io::Result<()> {
        let Report::Call(e) = r else { return Ok(()) };
        let target = e
            .absolute
            .clone()
            .or_else(|| e.path.clone())
            .or_else(|| e.address.clone())
            .unwrap_or_default();
        match &e.errno {
            Some(_) if decode::routine(&e.syscall, (-e.result) as i32) => {}
            Some(errno) => {
                let key = (e.syscall.clone(), target.clone(), errno.clone());
                if let Some(f) = failed.get_mut(&key) {
                    f.count += 1;
                } else if failed.len() < MAX_KEPT {
                    order += 1;
                    failed.insert(
                        key,
                        Failed {
                            syscall: e.syscall.clone(),
                            target,
                            errno: errno.clone(),
                            capability: e.capability,
                            flags: e.flags.clone(),
                            count: 1,
                            first: order,
                        },
                    );
                }
            }
            None if target.starts_with('/') && opens(&e) => {
                let list = if writes(&e) {
                    &mut written
                } else {
                    &mut opened
                };
                if list.len() < MAX_KEPT && !list.contains(&target) {
                    list.push(target);
                }
            }
            None => {}
        }
        Ok(())
    };
    let outcome = follow(Subject::Program(cmd), opts, &mut |_| Ok(()), &mut collect);
    let output = reader.join().unwrap_or_default();
    let outcome = outcome.ok()?;
    let mut failed: Vec<Failed> = failed.into_values().collect();
    failed.sort_by_key(|f| f.first);
    let text = String::from_utf8_lossy(&output);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.chars().take(400).collect())
        .collect();
    let output = lines[lines.len().saturating_sub(40)..].to_vec();
    Some(Start {
        exit: match outcome.end {
            End::Exited(code) => Some(code),
            _ => None,
        },
        failed,
        opened,
        written,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_calls_read_as_a_trace_line() {
        let f = Failed {
            syscall: "chroot".into(),
            target: "/var/lib/haproxy".into(),
            errno: "EPERM".into(),
            capability: Some("CAP_SYS_CHROOT"),
            flags: None,
            count: 1,
            first: 1,
        };
        assert_eq!(f.line(), "chroot(\"/var/lib/haproxy\") = -1 EPERM");
        let f = Failed {
            syscall: "setgroups".into(),
            target: String::new(),
            count: 2,
            ..f
        };
        assert_eq!(f.line(), "setgroups() = -1 EPERM (2 times)");
    }
}
