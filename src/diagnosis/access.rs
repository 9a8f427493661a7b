//! A failed access the app reported (a log line, a traced call) turned
//! into a finding: the walk says who decides, the fix engine what to do.

use serde_json::json;

use super::Finding;
use super::fix::{self, Kind};
use super::logs::{Errno, Op};
use crate::shell::Ctx;
use crate::target::perm::{self, Access, Who};

/// One failed access, whatever showed it.
pub struct Seen<'a> {
    pub path: &'a str,
    pub errno: Errno,
    pub op: Op,
    /// The log line, or the traced call, that showed it.
    pub source: &'a str,
}

/// Directories whose files an app reads and never creates: a missing
/// path there is a file the image lacks.
pub fn read_only_tree(path: &str) -> bool {
    [
        "/usr/", "/etc/", "/lib/", "/lib64/", "/bin/", "/sbin/", "/opt/",
    ]
    .iter()
    .any(|t| path.starts_with(t))
}

fn exists(ctx: &Ctx, path: &str) -> bool {
    std::fs::symlink_metadata(ctx.resolve(path)).is_ok()
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// What the app tried on the path: (access, the path is a file to read
/// that is missing).
fn access_of(ctx: &Ctx, s: &Seen) -> Option<(Access, bool)> {
    let here = exists(ctx, s.path);
    match s.errno {
        Errno::NotPermitted => None,
        Errno::Missing => {
            if here {
                return None;
            }
            let parent_missing = !exists(ctx, parent(s.path));
            match s.op {
                Op::MakeDir | Op::WriteFile if parent_missing => Some((Access::Write, false)),
                Op::Unknown if parent_missing && !read_only_tree(s.path) => {
                    Some((Access::Write, false))
                }
                _ => Some((Access::Read, true)),
            }
        }
        Errno::Denied | Errno::ReadOnly => match s.op {
            Op::Read => Some((Access::Read, false)),
            Op::MakeDir | Op::WriteFile => Some((Access::Write, false)),
            Op::Unknown if !here || s.errno == Errno::ReadOnly => Some((Access::Write, false)),
            Op::Unknown => {
                // The access that fails first, as `why` picks it.
                let v = perm::check(ctx, s.path, None, &Who::current());
                Some((v.access, false))
            }
        },
    }
}

/// The finding for a failed access, or `None` when it is not one this
/// identity fails at (the path is fine now, or the errno is a capability's).
pub fn finding(ctx: &Ctx, who: &Who, workdir: &str, s: &Seen) -> Option<Finding> {
    let (access, missing_read) = access_of(ctx, s)?;
    let path = s.path;
    // A traced call is evidence of its own kind, not a log line.
    let (log, call) = match s.source.strip_prefix("trace: ") {
        Some(call) => (None, Some(call)),
        None => (Some(s.source.trim()), None),
    };
    if missing_read {
        let steps = fix::missing_file(path);
        let evidence = json!({"path": path, "access": "read", "errno": s.errno.name(), "log": log, "call": call});
        return Some(if fix::is_ca_path(path) {
            Finding::new(
                "missing-ca-bundle",
                "error",
                "ca-bundle",
                format!(
                    "the app reads the CA bundle {path}, which the image lacks: TLS certificate verification fails"
                ),
                evidence,
                steps.join("; or "),
            )
        } else if fix::is_zone_path(path) {
            Finding::new(
                "missing-tzdata",
                "warn",
                path,
                format!("the app reads {path}, which the image lacks: no time zone data"),
                evidence,
                steps.join("; or "),
            )
        } else {
            Finding::new(
                "missing-file",
                "warn",
                path,
                format!("the app reads {path}, which the image lacks"),
                evidence,
                steps.join("; or "),
            )
        });
    }
    let v = perm::check(ctx, path, Some(access), who);
    if v.allowed {
        return None;
    }
    let kind = match s.op {
        Op::MakeDir => Kind::Dir,
        Op::WriteFile => Kind::File,
        _ => Kind::guess(path),
    };
    let fx = fix::for_verdict(&v, &fix::Context { workdir, kind });
    let reason = v
        .deciding
        .as_ref()
        .map(|d| d.reason.clone())
        .unwrap_or_else(|| "the kernel refuses".into());
    // The directory that must be writable: an existing directory itself,
    // else the one the path is (to be) made in.
    let is_dir = std::fs::metadata(ctx.resolve(path)).is_ok_and(|m| m.is_dir());
    let dir = if access == Access::Write && !is_dir {
        parent(path).to_string()
    } else {
        path.to_string()
    };
    let dir_exists = exists(ctx, &dir);
    let evidence = json!({
        "path": path,
        "directory": dir,
        "exists": dir_exists,
        "access": access.name(),
        "errno": s.errno.name(),
        "source": s.source.trim(),
        "log": log,
        "call": call,
        "deciding": v.deciding,
        "uid": who.uid,
        "workdir": workdir,
        "fix_directory": fx.directory,
    });
    let foreign = v.deciding.as_ref().and_then(|d| {
        v.components
            .iter()
            .find(|c| c.path == d.path && c.exists && c.uid != 0 && c.uid != who.uid)
    });
    if let Some(c) = foreign {
        return Some(Finding::new(
            "uid-assumption",
            "error",
            c.path.clone(),
            format!(
                "{} belongs to uid {} but the app runs as uid {}: files prepared for one base image's user, run as another's",
                c.path, c.uid, who.uid
            ),
            json!({"path": c.path, "owner_uid": c.uid, "owner_gid": c.gid, "app_uid": who.uid, "configured_user": ctx.info.user, "accessed": path, "access": access.name(), "deciding": v.deciding, "log": log, "call": call}),
            fx.line(),
        ));
    }
    Some(match access {
        Access::Write if dir == workdir => Finding::new(
            "workdir-not-writable",
            "error",
            workdir,
            format!(
                "the app writes {path} in its working directory {workdir}, which uid {} cannot write: {reason}",
                who.uid
            ),
            evidence,
            fx.line(),
        ),
        Access::Write => {
            let subject = fx.directory.clone().unwrap_or_else(|| dir.clone());
            let message = if dir_exists {
                format!(
                    "the app needs to write {path} and uid {} cannot: {reason}",
                    who.uid
                )
            } else {
                format!("the app needs to write {path} but its directory {dir} does not exist")
            };
            Finding::new(
                "unwritable-path",
                "error",
                subject,
                message,
                evidence,
                fx.line(),
            )
        }
        _ => Finding::new(
            "unreadable-path",
            "error",
            path,
            format!(
                "the app needs to read {path} and uid {} cannot: {reason}",
                who.uid
            ),
            evidence,
            fx.line(),
        ),
    })
}
