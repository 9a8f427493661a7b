//! Cause before symptom: when the app exited or restarts, the finding that
//! explains the exit is the error, and `crash-loop` points to it.
//!
//! The explanation is, in order: the last of the app's own log lines that
//! names a failure (a zone lookup, certificate verification, the loader, a
//! user switch, a privileged call, an access to a path), the same in the
//! output of the traced start, then the last call of the traced start that
//! failed for want of a capability, then for want of a permission.

use super::access::{self, Seen};
use super::facts::Facts;
use super::logs::{self, Errno, Op};
use super::{Finding, Report, caps};

/// The finding that explains the exit: its id and subject.
pub fn find(f: &Facts, r: &Report) -> Option<(&'static str, String)> {
    let from_log = logs::last_signature(f.log(), &f.workdir);
    let from_start =
        || logs::last_signature(f.start_output(), &f.workdir).map(|(i, s)| (i + f.log_len, s));
    if let Some((i, _)) = from_log.or_else(from_start)
        && let Some(found) = r.shown_by(i)
    {
        return Some((found.id, found.subject.clone()));
    }
    let start = f.start.as_ref()?;
    // The last privileged call that failed, when the app is not root (the
    // replica has no capabilities; the original root app may have had).
    start
        .failed
        .iter()
        .rev()
        .filter(|_| f.who.uid != 0)
        .filter_map(|c| c.capability.and_then(caps::for_capability))
        .find(|need| r.get("needs-capability", need.capability).is_some())
        .map(|need| ("needs-capability", need.capability.to_string()))
}

/// The last access of the traced start that failed with EACCES or EROFS,
/// as a finding, for an exit nothing else explains. Not a write below
/// /usr or /lib, nor a bytecode cache: programs try those and go on.
pub fn from_trace(f: &Facts) -> Option<Finding> {
    let start = f.start.as_ref()?;
    start.failed.iter().rev().find_map(|c| {
        let errno = match c.errno.as_str() {
            "EACCES" => Errno::Denied,
            "EROFS" => Errno::ReadOnly,
            _ => return None,
        };
        let optional = ["/usr/", "/lib/", "/lib64/"]
            .iter()
            .any(|t| c.target.starts_with(t))
            || c.target.contains("__pycache__");
        if !c.target.starts_with('/') || c.syscall.starts_with("exec") || optional {
            return None;
        }
        let line = format!("trace: {}", c.line());
        let seen = Seen {
            path: &c.target,
            errno,
            op: traced_op(&c.syscall, c.flags.as_deref()),
            source: &line,
        };
        access::finding(f.ctx, &f.who, &f.workdir, &seen)
    })
}

/// What a traced call tried on its path.
pub fn traced_op(syscall: &str, flags: Option<&str>) -> Op {
    match syscall {
        "mkdir" | "mkdirat" => Op::MakeDir,
        "open" | "openat" | "openat2" => {
            let flags = flags.unwrap_or("");
            if flags.contains("O_WRONLY") || flags.contains("O_RDWR") || flags.contains("O_CREAT") {
                Op::WriteFile
            } else {
                Op::Read
            }
        }
        "creat" | "bind" | "rename" | "renameat" | "renameat2" | "unlink" | "unlinkat"
        | "truncate" | "link" | "linkat" | "symlink" | "symlinkat" => Op::WriteFile,
        "execve" | "execveat" => Op::Unknown,
        _ => Op::Read,
    }
}
