//! Joining the target: open everything through `/proc/N` first, then enter.
//!
//! Steps, mirrored in [`Target::open`] and [`Target::enter`]:
//! 1. open `/proc/N` and read its status (ids, NSpid) — kernel data, not a
//!    target file;
//! 2. open the namespace files, the root and the cwd of N while our own
//!    `/proc` is still mounted;
//! 3. (caller) if N has its own user namespace, join it first: the other
//!    namespaces belong to it, and the ids the shell drops to are the ones
//!    inside it; then, if N lives in another PID namespace, join it and
//!    fork, so the shell and its children are inside it (a `kubectl
//!    debug`-like sidecar shares it already; an `unshare`-made target does
//!    not);
//! 4. join net, uts, ipc, cgroup, then mnt; `chroot` to N's root and `chdir`
//!    to its cwd. If the mount namespace is refused (no CAP_SYS_ADMIN, as in
//!    a Kubernetes ephemeral container under a restricted profile), view the
//!    target through `/proc/N/root` instead.

use std::fs::{self, File};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use crate::procinfo::{self, Status};
use crate::sys::{self, OVERFLOW_ID, SysError};

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(
        "no process {pid} in this PID namespace (is the sidecar sharing the target's PID namespace?)"
    )]
    NoProcess { pid: i32 },
    #[error("failed to read the status of process {pid}")]
    Status {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// How the shell sees the target's filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Inside the target's mount namespace, chrooted to its root.
    Joined,
    /// Through `/proc/N/root`, because the mount namespace was refused.
    ProcRoot(PathBuf),
}

/// Whether an open directory is the same inode as `path`.
fn same_file(fd: &OwnedFd, path: &str) -> bool {
    match (nix::sys::stat::fstat(fd), nix::sys::stat::stat(path)) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => false,
    }
}

/// One namespace of the target that differs from ours.
struct Ns {
    name: &'static str,
    kind: CloneFlags,
    fd: File,
}

/// Process N, opened.
pub struct Target {
    /// N as given (in our PID namespace).
    pub pid: i32,
    /// N's status, its ids as seen from inside N's user namespace.
    pub status: Status,
    user_ns: Option<Ns>,
    pid_ns: Option<Ns>,
    others: Vec<Ns>,
    mnt: Option<Ns>,
    root: Option<OwnedFd>,
    cwd: Option<OwnedFd>,
}

fn open_dir(path: &str) -> Result<OwnedFd, SysError> {
    open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SysError::Open {
        path: path.into(),
        source: e.into(),
    })
}

/// The namespace file of N if it is not the one we are in already.
fn other_ns(pid: i32, name: &'static str, kind: CloneFlags) -> Result<Option<Ns>, SysError> {
    let theirs = format!("/proc/{pid}/ns/{name}");
    let ours = format!("/proc/self/ns/{name}");
    let (Ok(t), Ok(o)) = (fs::metadata(&theirs), fs::metadata(&ours)) else {
        // A kernel without this namespace type: nothing to join.
        return Ok(None);
    };
    if (t.dev(), t.ino()) == (o.dev(), o.ino()) {
        return Ok(None);
    }
    let fd = File::open(&theirs).map_err(|source| SysError::Open {
        path: theirs.into(),
        source,
    })?;
    Ok(Some(Ns { name, kind, fd }))
}

impl Target {
    /// Steps 1 and 2.
    pub fn open(pid: i32) -> Result<Target, JoinError> {
        // 1.
        if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).is_dir() {
            return Err(JoinError::NoProcess { pid });
        }
        let mut status = procinfo::Proc::default()
            .status(pid)
            .map_err(|source| JoinError::Status { pid, source })?;
        // 2.
        let user_ns = other_ns(pid, "user", CloneFlags::CLONE_NEWUSER)?;
        if user_ns.is_some() {
            let read = |name: &str| {
                fs::read_to_string(format!("/proc/{pid}/{name}"))
                    .map_err(|source| JoinError::Status { pid, source })
            };
            ids_inside(&mut status, &read("uid_map")?, &read("gid_map")?);
        }
        let pid_ns = other_ns(pid, "pid", CloneFlags::CLONE_NEWPID)?;
        let mut others = Vec::new();
        for (name, kind) in [
            ("net", CloneFlags::CLONE_NEWNET),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ] {
            others.extend(other_ns(pid, name, kind)?);
        }
        let mnt = other_ns(pid, "mnt", CloneFlags::CLONE_NEWNS)?;
        // Root and cwd may be unreachable without CAP_SYS_PTRACE; the
        // fallback view then shows that as the first error the user meets.
        let root = open_dir(&format!("/proc/{pid}/root")).ok();
        let cwd = open_dir(&format!("/proc/{pid}/cwd")).ok();
        Ok(Target {
            pid,
            status,
            user_ns,
            pid_ns,
            others,
            mnt,
            root,
            cwd,
        })
    }

    /// The target's pid as the shell will see it once inside its PID
    /// namespace: the innermost NSpid entry.
    pub fn pid_inside(&self) -> i32 {
        if self.pid_ns.is_some() {
            self.status.nspid.last().copied().unwrap_or(self.pid)
        } else {
            self.pid
        }
    }

    /// Whether N has a user namespace of its own.
    pub fn has_user_ns(&self) -> bool {
        self.user_ns.is_some()
    }

    /// Join N's user namespace (step 3, first). From here on this process
    /// holds every capability inside it, which the other joins and the drop
    /// need, and none outside it.
    pub fn join_user_ns(&mut self) -> Result<(), SysError> {
        match self.user_ns.take() {
            Some(ns) => sys::setns(ns.fd.as_fd(), ns.name, ns.kind),
            None => Ok(()),
        }
    }

    /// Join N's PID namespace (step 3). Children forked afterwards are in it.
    pub fn join_pid_ns(&mut self) -> Result<bool, SysError> {
        match self.pid_ns.take() {
            Some(ns) => {
                sys::setns(ns.fd.as_fd(), ns.name, ns.kind)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Step 4. Namespaces other than mnt that are refused are skipped: the
    /// banner's view line tells what the shell sees.
    pub fn enter(self) -> Result<View, SysError> {
        let mut refused = Vec::new();
        for ns in &self.others {
            if sys::setns(ns.fd.as_fd(), ns.name, ns.kind).is_err() {
                refused.push(ns.name);
            }
        }
        let proc_root = || View::ProcRoot(PathBuf::from(format!("/proc/{}/root", self.pid)));
        if let Some(mnt) = &self.mnt
            && sys::setns(mnt.fd.as_fd(), mnt.name, mnt.kind).is_err()
        {
            return Ok(proc_root());
        }
        match (&self.root, &self.cwd) {
            (Some(root), cwd) => {
                // Already at the target's root (the toolbox is the target's
                // own PID 1, as in a replica): nothing to enter.
                let same_root = self.mnt.is_none() && same_file(root, "/");
                if !same_root && sys::chroot_to(root).is_err() {
                    return Ok(proc_root());
                }
                match cwd {
                    Some(cwd) => sys::fchdir(cwd)?,
                    None => nix::unistd::chdir("/").map_err(|source| SysError::Call {
                        op: "chdir to /",
                        source,
                    })?,
                }
                Ok(View::Joined)
            }
            (None, _) => Ok(proc_root()),
        }
    }
}

/// One id as seen inside a user namespace, from its `uid_map` or `gid_map`
/// as this process reads it (lines of "inside outside count"); an id the
/// map does not cover is the kernel's overflow id, as the kernel shows it.
pub fn id_inside(map: &str, outside: u32) -> u32 {
    map.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some((f.next()??, f.next()??, f.next()??))
        })
        .find(|&(_, out, count)| outside >= out && outside - out < count)
        .map_or(OVERFLOW_ID, |(inside, out, _)| inside + (outside - out))
}

/// Rewrite the ids of a status read from outside N's user namespace into
/// the ids inside it: those are the ones the shell drops to (and shows).
fn ids_inside(status: &mut Status, uid_map: &str, gid_map: &str) {
    for uid in &mut status.uid {
        *uid = id_inside(uid_map, *uid);
    }
    for gid in &mut status.gid {
        *gid = id_inside(gid_map, *gid);
    }
    // A supplementary group the map leaves out cannot be set inside it.
    status.groups = status
        .groups
        .iter()
        .map(|&g| id_inside(gid_map, g))
        .filter(|&g| g != OVERFLOW_ID)
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_mapped_into_the_user_namespace() {
        let map = "         0     100000      65536\n";
        assert_eq!(id_inside(map, 165532), 65532);
        assert_eq!(id_inside(map, 100000), 0);
        assert_eq!(id_inside(map, 165535), 65535);
        assert_eq!(id_inside(map, 165536), OVERFLOW_ID);
        assert_eq!(id_inside(map, 0), OVERFLOW_ID);
        let two = "0 1000 1\n1 200000 65535\n";
        assert_eq!(id_inside(two, 1000), 0);
        assert_eq!(id_inside(two, 265531), 65532);
        assert_eq!(id_inside("", 5), OVERFLOW_ID);
    }

    #[test]
    fn a_status_read_from_outside_gets_the_inside_ids() {
        let mut status = Status {
            uid: [165532; 4],
            gid: [165532; 4],
            groups: vec![165532, 4],
            ..Status::default()
        };
        ids_inside(&mut status, "0 100000 65536", "0 100000 65536");
        assert_eq!(status.uid, [65532; 4]);
        assert_eq!(status.gid, [65532; 4]);
        assert_eq!(status.groups, [65532]);
    }
}
