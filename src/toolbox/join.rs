//! Joining the target: open everything through `/proc/N` first, then enter.
//!
//! Steps, mirrored in [`Target::open_at`] and [`Target::enter`]:
//! 1. hold N as one kernel object ([`Process`]: a pidfd, then its
//!    `/proc/N` directory) and read its status (ids, NSpid) through that
//!    directory — kernel data, not a target file;
//! 2. open the namespace files, the root and the cwd of N through the same
//!    directory while our own `/proc` is still mounted, then confirm with
//!    the pidfd that N is still the process that was checked;
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
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::fcntl::{AtFlags, OFlag, open, openat};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use crate::sys::{self, OVERFLOW_ID, SysError};
use crate::target::procinfo::{self, Status};

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
    #[error("process {pid} exited while nosh was attaching")]
    Exited { pid: i32 },
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

/// Process N held as one kernel object: a pidfd, and its `/proc/N`
/// directory opened after it. A `/proc/N` directory keeps naming the
/// process it was opened for (files opened through it after that process
/// is gone fail, they never reach a later process with the same number);
/// the pidfd says whether that process is still alive. So everything read
/// or opened through [`Process::dir`] before a successful
/// [`Process::confirm`] is that process's, and no other's.
pub struct Process {
    pub pid: i32,
    /// `None` on a kernel without pidfd_open(2) (before 5.3): the start
    /// time alone then tells a reused number.
    pidfd: Option<OwnedFd>,
    dir: OwnedFd,
    /// Field 22 of its stat: clock ticks after boot.
    start: u64,
}

impl Process {
    pub fn open(pid: i32) -> Result<Process, JoinError> {
        if pid <= 0 {
            return Err(JoinError::NoProcess { pid });
        }
        let pidfd = match sys::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(SysError::Call {
                source: nix::errno::Errno::ENOSYS,
                ..
            }) => None,
            Err(_) => return Err(JoinError::NoProcess { pid }),
        };
        let dir = open_dir(&format!("/proc/{pid}")).map_err(|_| JoinError::NoProcess { pid })?;
        let mut p = Process {
            pid,
            pidfd,
            dir,
            start: 0,
        };
        p.start = p.start_ticks()?;
        p.confirm()?;
        Ok(p)
    }

    fn start_ticks(&self) -> Result<u64, JoinError> {
        let stat = self.read("stat").map_err(|source| JoinError::Status {
            pid: self.pid,
            source,
        })?;
        procinfo::parse_stat(&stat)
            .map(|s| s.start_ticks)
            .map_err(|e| JoinError::Status {
                pid: self.pid,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })
    }

    /// Still alive, and still the process whose start time was recorded.
    pub fn confirm(&self) -> Result<(), JoinError> {
        let exited = JoinError::Exited { pid: self.pid };
        if self
            .pidfd
            .as_ref()
            .is_some_and(|fd| sys::pidfd_exited(fd.as_fd()))
        {
            return Err(exited);
        }
        match self.start_ticks() {
            Ok(start) if start == self.start => Ok(()),
            _ => Err(exited),
        }
    }

    /// A copy of the pidfd, to tell later whether the process exited.
    pub fn watch(&self) -> Option<OwnedFd> {
        self.pidfd.as_ref().and_then(|fd| fd.try_clone().ok())
    }

    /// The `/proc/N` directory, for `openat`.
    pub fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// The descriptors this holds, to keep across a close of all others.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.dir.as_raw_fd()];
        fds.extend(self.pidfd.as_ref().map(AsRawFd::as_raw_fd));
        fds
    }

    /// A file of `/proc/N` (kernel text: status, stat, cgroup, uid_map),
    /// read up to 1 MiB (cgroup names below a container's are its own).
    pub fn read(&self, file: &str) -> std::io::Result<String> {
        let fd = openat(
            self.dir(),
            file,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut text = String::new();
        File::from(fd).take(1 << 20).read_to_string(&mut text)?;
        Ok(text)
    }

    /// (device, inode) of one of its namespaces, `None` when the kernel
    /// lacks that type.
    pub fn ns_id(&self, name: &str) -> Option<(u64, u64)> {
        nix::sys::stat::fstatat(self.dir(), format!("ns/{name}").as_str(), AtFlags::empty())
            .ok()
            .map(|st| (st.st_dev, st.st_ino))
    }

    fn open_at(&self, path: &str, flags: OFlag) -> Result<OwnedFd, SysError> {
        openat(self.dir(), path, flags | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
            SysError::Open {
                path: format!("/proc/{}/{path}", self.pid).into(),
                source: e.into(),
            }
        })
    }
}

/// Process N, opened.
pub struct Target {
    /// N as given (in our PID namespace).
    pub pid: i32,
    /// N's status, its ids as seen from inside N's user namespace.
    pub status: Status,
    /// N's `/proc/N/cgroup`, as this process reads it.
    pub cgroups: String,
    process: Process,
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
fn other_ns(p: &Process, name: &'static str, kind: CloneFlags) -> Result<Option<Ns>, SysError> {
    let ours = fs::metadata(format!("/proc/self/ns/{name}")).map(|m| (m.dev(), m.ino()));
    let (Some(theirs), Ok(ours)) = (p.ns_id(name), ours) else {
        // A kernel without this namespace type: nothing to join.
        return Ok(None);
    };
    if theirs == ours {
        return Ok(None);
    }
    let fd = p.open_at(&format!("ns/{name}"), OFlag::O_RDONLY)?;
    Ok(Some(Ns {
        name,
        kind,
        fd: File::from(fd),
    }))
}

impl Target {
    /// Steps 1 and 2 for a pid.
    pub fn open(pid: i32) -> Result<Target, JoinError> {
        Target::open_at(Process::open(pid)?)
    }

    /// Steps 1 and 2, through a process already held.
    pub fn open_at(process: Process) -> Result<Target, JoinError> {
        // 1.
        let pid = process.pid;
        let read = |name: &str| {
            process
                .read(name)
                .map_err(|source| JoinError::Status { pid, source })
        };
        let mut status =
            procinfo::parse_status(&read("status")?).map_err(|e| JoinError::Status {
                pid,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
        // 2.
        let user_ns = other_ns(&process, "user", CloneFlags::CLONE_NEWUSER)?;
        if user_ns.is_some() {
            ids_inside(&mut status, &read("uid_map")?, &read("gid_map")?);
        }
        let pid_ns = other_ns(&process, "pid", CloneFlags::CLONE_NEWPID)?;
        let mut others = Vec::new();
        for (name, kind) in [
            ("net", CloneFlags::CLONE_NEWNET),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ] {
            others.extend(other_ns(&process, name, kind)?);
        }
        let mnt = other_ns(&process, "mnt", CloneFlags::CLONE_NEWNS)?;
        // Root and cwd may be unreachable without CAP_SYS_PTRACE; the
        // fallback view then shows that as the first error the user meets.
        let dir = OFlag::O_PATH | OFlag::O_DIRECTORY;
        let root = process.open_at("root", dir).ok();
        let cwd = process.open_at("cwd", dir).ok();
        let cgroups = read("cgroup").unwrap_or_default();
        process.confirm()?;
        Ok(Target {
            pid,
            status,
            cgroups,
            process,
            user_ns,
            pid_ns,
            others,
            mnt,
            root,
            cwd,
        })
    }

    /// Still the process that was opened (see [`Process::confirm`]).
    pub fn confirm(&self) -> Result<(), JoinError> {
        self.process.confirm()
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

    /// Whether N lives in another PID namespace (the toolbox forks into it).
    pub fn has_pid_ns(&self) -> bool {
        self.pid_ns.is_some()
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
