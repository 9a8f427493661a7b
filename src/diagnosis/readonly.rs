//! `readonly-rootfs`: with `--prod-like`, a read-only root filesystem is
//! flagged only for the paths the app is seen writing there: files it
//! holds open for writing, what the engine lists as changed since it
//! started (`docker diff`), and what its traced start wrote. Each with
//! that evidence; an app that writes nothing there passes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::facts::Facts;
use super::fix::{self, Kind};
use super::{Finding, Report};
use crate::target::perm::{self, Access};

/// A path the app writes, and what showed it.
#[derive(Debug, Clone, Serialize)]
pub struct Write {
    pub path: String,
    pub seen: String,
}

/// Files the app holds open for writing: (pid, fd, path).
pub fn open_for_writing(f: &Facts) -> Vec<(i32, String, String)> {
    let mut out = Vec::new();
    for pid in &f.pids {
        let Ok(fds) = std::fs::read_dir(f.ctx.proc.path(*pid, "fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if !target.starts_with('/') || target.starts_with("/dev/") {
                continue;
            }
            let name = fd.file_name().to_string_lossy().into_owned();
            let info = std::fs::read_to_string(f.ctx.proc.path(*pid, &format!("fdinfo/{name}")))
                .unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
                .unwrap_or(0);
            if flags & 3 != 0 {
                out.push((*pid, name, target));
            }
        }
    }
    out
}

/// Paths the engine manages in every container, never the app's writes.
fn engine_managed(path: &str) -> bool {
    [
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/etc/mtab",
    ]
    .contains(&path)
        || ["/proc", "/sys", "/dev", "/.nosh"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Everything the app is seen writing, each path once.
pub fn writes(f: &Facts) -> Vec<Write> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pid, fd, path) in open_for_writing(f) {
        seen.entry(path)
            .or_default()
            .push(format!("open for writing (pid {pid} fd {fd})"));
    }
    // `docker diff`: a changed directory is listed with each path below
    // it; the leaves are what was written.
    let changed: Vec<&str> = f
        .info
        .changes
        .iter()
        .filter_map(|c| c.split_once(' ').filter(|(k, _)| *k != "D").map(|(_, p)| p))
        .collect();
    for p in &changed {
        let parent_of_another = changed
            .iter()
            .any(|q| q.strip_prefix(p).is_some_and(|r| r.starts_with('/')));
        if !parent_of_another {
            seen.entry(p.to_string())
                .or_default()
                .push("changed since the container started (docker diff)".into());
        }
    }
    if let Some(s) = &f.start {
        for p in &s.written {
            seen.entry(p.clone())
                .or_default()
                .push("written by its traced start".into());
        }
    }
    seen.into_iter()
        .filter(|(p, _)| !engine_managed(p))
        .map(|(path, how)| Write {
            path,
            seen: how.join("; "),
        })
        .collect()
}

/// The check. With a read-only root already, an info line; with
/// `prod_like`, an error naming each directory to give a tmpfs, with the
/// writes that showed it.
pub fn check(f: &Facts, r: &mut Report, prod_like: bool) {
    if f.root_ro {
        let writable: Vec<String> = f
            .mounts
            .iter()
            .filter(|m| !m.readonly() && m.target != "/" && !engine_managed(&m.target))
            .map(|m| m.target.clone())
            .collect();
        r.add(
            "readonly-rootfs",
            "info",
            "",
            "the root filesystem is read-only".into(),
            json!({"writable_mounts": writable}),
            "mount a tmpfs or volume at every path the app writes",
        );
        return;
    }
    if !prod_like {
        return;
    }
    // The directory each write needs, as the fix engine gives it.
    let uid = f.who.uid;
    let mut dirs: BTreeMap<String, (Vec<Write>, fix::Fix)> = BTreeMap::new();
    for w in writes(f).into_iter().filter(|w| f.on_root(&w.path)) {
        let is_dir = std::fs::metadata(f.ctx.resolve(&w.path)).is_ok_and(|m| m.is_dir());
        let v = perm::check(f.ctx, &w.path, Some(Access::Write), &f.who);
        let cx = fix::Context {
            workdir: &f.workdir,
            kind: if is_dir { Kind::Dir } else { Kind::File },
        };
        let fx = fix::for_readonly_root(&v, &cx);
        let Some(dir) = fx.directory.clone() else {
            continue;
        };
        dirs.entry(dir)
            .or_insert_with(|| (Vec::new(), fx))
            .0
            .push(w);
    }
    // Sibling directories of one app directory: a tmpfs over it covers
    // them all, and the ones it creates next.
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in dirs.keys() {
        if let Some((p, _)) = d.rsplit_once('/')
            && !p.is_empty()
            && !fix::is_system_dir(p)
        {
            parents.entry(p.to_string()).or_default().push(d.clone());
        }
    }
    for (p, children) in parents.into_iter().filter(|(_, c)| c.len() > 1) {
        let mut writes = Vec::new();
        for c in children {
            if let Some((w, _)) = dirs.remove(&c) {
                writes.extend(w);
            }
        }
        let fx = fix::Fix {
            directory: Some(p.clone()),
            steps: vec![fix::tmpfs(&p, uid, f.who.gid)],
        };
        dirs.entry(p)
            .or_insert_with(|| (Vec::new(), fx))
            .0
            .extend(writes);
    }
    if dirs.is_empty() {
        return;
    }
    let names: Vec<&str> = dirs.keys().map(String::as_str).collect();
    let message = format!(
        "with readOnlyRootFilesystem the app cannot write where it does now: {}",
        names.join(", ")
    );
    let steps: Vec<String> = dirs
        .values()
        .map(|(_, fx)| fx.steps.join(", or "))
        .collect();
    let writes: Vec<serde_json::Value> = dirs
        .iter()
        .map(|(d, (w, _))| json!({"directory": d, "writes": w}))
        .collect();
    r.push(Finding::new(
        "readonly-rootfs",
        "error",
        "",
        message,
        json!({"paths": names, "writes": writes}),
        steps.join("; "),
    ));
}
