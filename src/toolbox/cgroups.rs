//! Joining the target's cgroups (direct attach).
//!
//! A sidecar lives in cgroups of its own that the engine limits; a direct
//! session is started from the host's, so it moves itself into every
//! cgroup of the target before any target code runs: the target's pids,
//! memory, CPU and devices limits then apply to the shell and to all it
//! starts. cgroup v1 has one hierarchy per controller set (each line of
//! `/proc/PID/cgroup`), v2 one unified hierarchy (the `0::` line).
//!
//! Paths are read from the host's side, before any namespace is joined:
//! `/proc/PID/cgroup` as this process sees it, and the mounts of the
//! cgroup filesystems in its own `/proc/self/mountinfo`.
//!
//! Moving a process (a write to `cgroup.procs`) takes a global lock that
//! waits for an RCU grace period: milliseconds, tens on a loaded host. So
//! v1 hierarchies are entered through `tasks` (the calling thread only,
//! which is the whole process when it has one, without that lock), and
//! the unified one, where only whole processes move, by being born in it
//! when the toolbox forks anyway ([`crate::sys::fork_into_cgroup`]).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::sys::{self, SysError};
use crate::target::mountinfo::Mount;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("the {hierarchy} cgroup hierarchy is not mounted on this host")]
    NotMounted { hierarchy: String },
    #[error("the target's {hierarchy} cgroup {path} is outside what this host mounts")]
    Outside { hierarchy: String, path: String },
    #[error("the target's cgroups could not be read")]
    Unreadable,
    #[error(transparent)]
    Enter(#[from] SysError),
}

/// One cgroup of the target: its hierarchy's name (`memory`, `cpu,cpuacct`,
/// `unified`) and its directory on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub hierarchy: String,
    pub dir: PathBuf,
}

/// The directories of the target's cgroups, from its `/proc/PID/cgroup`
/// text and this host's mounts. A hierarchy that carries no controller
/// (a named v1 one, or v2 beside v1 controllers) may be missing from the
/// mounts: nothing limits through it, and it is skipped.
pub fn locate(cgroup_text: &str, mounts: &[Mount]) -> Result<Vec<Cgroup>, CgroupError> {
    let lines: Vec<(&str, &str)> = cgroup_text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            Some((f.next()?, f.next()?))
        })
        .collect();
    if lines.is_empty() {
        return Err(CgroupError::Unreadable);
    }
    let has_v1 = lines.iter().any(|(c, _)| !c.is_empty());
    let mut out = Vec::new();
    for (controllers, path) in lines {
        let wanted: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        let hierarchy = if wanted.is_empty() {
            UNIFIED.to_string()
        } else {
            controllers.to_string()
        };
        let mount = mounts.iter().find(|m| {
            if wanted.is_empty() {
                m.fstype == "cgroup2"
            } else {
                m.fstype == "cgroup"
                    && wanted
                        .iter()
                        .all(|c| m.super_options.iter().any(|o| o == c))
            }
        });
        let Some(mount) = mount else {
            let limits_nothing = if wanted.is_empty() {
                has_v1
            } else {
                wanted.iter().all(|c| c.starts_with("name="))
            };
            if limits_nothing {
                continue;
            }
            return Err(CgroupError::NotMounted { hierarchy });
        };
        let outside = || CgroupError::Outside {
            hierarchy: hierarchy.clone(),
            path: crate::term::escape::field(path.as_bytes()).into_owned(),
        };
        let below = if mount.root == "/" {
            Some(path)
        } else {
            path.strip_prefix(mount.root.as_str())
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        }
        .ok_or_else(outside)?;
        // Seen from another cgroup namespace a path can climb (`/../x`).
        if below.split('/').any(|c| c == ".." || c == ".") {
            return Err(outside());
        }
        let dir = Path::new(&mount.target).join(below.trim_start_matches('/'));
        out.push(Cgroup { hierarchy, dir });
    }
    Ok(out)
}

/// The target's cgroups, found and opened from the host's side.
pub struct Cgroups {
    v1: Vec<(Cgroup, OwnedFd)>,
    unified: Option<(Cgroup, OwnedFd)>,
}

/// Find and open every cgroup of the target (`/proc/PID/cgroup` text).
pub fn open(cgroup_text: &str) -> Result<Cgroups, CgroupError> {
    let mut cgroups = Cgroups {
        v1: Vec::new(),
        unified: None,
    };
    for cgroup in locate(cgroup_text, &crate::target::mountinfo::read_self())? {
        // A directory fd that clone3 accepts (not O_PATH).
        let dir = nix::fcntl::open(
            &cgroup.dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| SysError::Open {
            path: cgroup.dir.clone(),
            source: e.into(),
        })?;
        if cgroup.hierarchy == UNIFIED {
            cgroups.unified = Some((cgroup, dir));
        } else {
            cgroups.v1.push((cgroup, dir));
        }
    }
    Ok(cgroups)
}

/// The name [`locate`] gives the v2 hierarchy.
const UNIFIED: &str = "unified";

impl Cgroups {
    /// Enter every v1 hierarchy. The caller must have one thread.
    pub fn enter_v1(&self) -> Result<(), CgroupError> {
        for (cgroup, dir) in &self.v1 {
            sys::enter_cgroup(dir.as_fd(), "tasks", &cgroup.dir)?;
        }
        Ok(())
    }

    /// The unified hierarchy's directory, to be born into.
    pub fn unified(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(|(_, dir)| dir.as_fd())
    }

    /// Enter the unified hierarchy by moving this process.
    pub fn enter_unified(&self) -> Result<(), CgroupError> {
        match &self.unified {
            Some((cgroup, dir)) => Ok(sys::enter_cgroup(dir.as_fd(), "cgroup.procs", &cgroup.dir)?),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    fn mounts(text: &str) -> Vec<Mount> {
        crate::target::mountinfo::parse(text)
    }

    #[test]
    fn every_v1_hierarchy_and_the_unified_one_are_found() {
        let text = "\
9:name=systemd:/docker/c1
8:pids:/docker/c1
5:devices:/docker/c1
4:memory:/docker/c1
2:cpu,cpuacct:/docker/c1
0::/docker/c1
";
        let found = locate(text, &mounts(V1_MOUNTS)).unwrap();
        let dirs: Vec<String> = found.iter().map(|c| c.dir.display().to_string()).collect();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/systemd/docker/c1",
                "/sys/fs/cgroup/pids/docker/c1",
                "/sys/fs/cgroup/devices/docker/c1",
                "/sys/fs/cgroup/memory/docker/c1",
                "/sys/fs/cgroup/cpu,cpuacct/docker/c1",
                "/sys/fs/cgroup/unified/docker/c1",
            ]
        );
        assert_eq!(found[4].hierarchy, "cpu,cpuacct");
        assert_eq!(found[5].hierarchy, "unified");
    }

    #[test]
    fn a_controller_that_is_not_mounted_cannot_be_joined() {
        let e = locate("7:blkio:/docker/c1\n", &mounts(V1_MOUNTS)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the blkio cgroup hierarchy is not mounted on this host"
        );
        // A hierarchy that limits nothing may be missing.
        let no_v2: String = V1_MOUNTS
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        let found = locate("4:memory:/a\n0::/a\n1:name=elogind:/\n", &mounts(&no_v2)).unwrap();
        assert_eq!(found.len(), 1);
        // On a v2-only host, the unified hierarchy is the one that limits.
        assert!(locate("0::/a\n", &[]).is_err());
    }

    #[test]
    fn a_v2_host_and_a_mount_of_part_of_a_hierarchy() {
        let v2 = mounts("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        let found = locate("0::/system.slice/docker-ab.scope\n", &v2).unwrap();
        assert_eq!(
            found[0].dir,
            PathBuf::from("/sys/fs/cgroup/system.slice/docker-ab.scope")
        );
        let part = mounts("30 23 0:26 /kubepods /mnt/cg rw - cgroup2 cgroup2 rw\n");
        let found = locate("0::/kubepods/pod1/c\n", &part).unwrap();
        assert_eq!(found[0].dir, PathBuf::from("/mnt/cg/pod1/c"));
        let e = locate("0::/kubepodsX/c\n", &part).unwrap_err();
        assert!(matches!(e, CgroupError::Outside { .. }), "{e}");
        let e = locate("0::/../../x\n", &v2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the target's unified cgroup /../../x is outside what this host mounts"
        );
        assert!(matches!(locate("", &v2), Err(CgroupError::Unreadable)));
    }

    #[test]
    fn joining_writes_to_each_cgroup_procs() {
        // A stand-in for a cgroup filesystem: plain files take the write.
        let dir = tempfile::tempdir().unwrap();
        for sub in ["memory/docker/c1", "pids/docker/c1"] {
            let d = dir.path().join(sub);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cgroup.procs"), "").unwrap();
        }
        let root = dir.path().display();
        let mounts = mounts(&format!(
            "35 31 0:32 / {root}/memory rw - cgroup cgroup rw,memory\n39 31 0:36 / {root}/pids rw - cgroup cgroup rw,pids\n"
        ));
        let found = locate("4:memory:/docker/c1\n8:pids:/docker/c1\n", &mounts).unwrap();
        let open = |dir: &Path| {
            nix::fcntl::open(dir, OFlag::O_RDONLY, nix::sys::stat::Mode::empty()).unwrap()
        };
        for c in &found {
            sys::enter_cgroup(open(&c.dir).as_fd(), "cgroup.procs", &c.dir).unwrap();
            let written = std::fs::read_to_string(c.dir.join("cgroup.procs")).unwrap();
            assert_eq!(written, "0");
        }
        // A file that is not there (v1's `tasks` on this stand-in) is an
        // error naming it.
        let c = &found[0];
        let e = sys::enter_cgroup(open(&c.dir).as_fd(), "tasks", &c.dir).unwrap_err();
        assert!(e.to_string().ends_with("memory/docker/c1/tasks"), "{e}");
    }
}
