//! Which process is the target: the one the caller names, checked, or found
//! when the PID namespace we share is not the target's own.
//!
//! A Docker sidecar joins `container:<target>`'s PID namespace. That is the
//! target's own unless the target shares another's: with `--pid host` the
//! sidecar is in the host's (PID 1 is the host's init), with `--pid
//! container:X` in X's (PID 1 is X's app). In a Kubernetes pod that shares
//! one PID namespace, PID 1 is the sandbox's pause process. Landing on any
//! of those would show the operator the wrong container, or the host.
//!
//! Rules, mirrored in [`choose`]:
//! 1. with the target's container id (`--container-id`, which the host half
//!    passes whenever the target does not own its PID namespace): the
//!    process given must belong to that container, i.e. a component of one
//!    of its cgroup paths names the id (`/docker/<id>`, `docker-<id>.scope`,
//!    `/../<id>` seen from a private cgroup namespace). If it does not, the
//!    container's main process is looked for: of the processes in its
//!    cgroup, those whose parent is not (its first process, and any orphan
//!    or `docker exec`), the one started first. None, or a tie, is refused;
//! 2. without one (and without `--exact`, which the host half passes for a
//!    target that owns its PID namespace, so that a target naming its own
//!    PID 1 `pause` cannot send the session elsewhere), PID 1 named `pause`
//!    is a pod's sandbox, not an app: the
//!    one other process whose parent is outside the namespace (PPid 0) and
//!    that is not a toolbox is the app. None, or several, are refused with
//!    the candidates named;
//! 3. either way, a process other than PID 1 that shares PID 1's mount
//!    namespace is refused: in the host's PID namespace that is the host.
//!
//! Everything read here is kernel data under `/proc` (cgroup, stat, the
//! namespace links): nothing of the target's filesystem, before the drop.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use crate::target::procinfo::Proc;
use crate::term::escape;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FindError {
    #[error(
        "no process of container {short} in this PID namespace: refusing to join another container's or the host's"
    )]
    NotFound { short: String },
    #[error(
        "container {short} has several first processes ({pids}): refusing to guess which is the app"
    )]
    Ambiguous { short: String, pids: String },
    #[error(
        "PID 1 is the pod's pause process and no app process shares its PID namespace: give the app's PID with --pid"
    )]
    PauseAlone,
    #[error(
        "PID 1 is the pod's pause process and several processes could be the app ({candidates}): choose one with --pid"
    )]
    PauseAmbiguous { candidates: String },
    #[error(
        "process {pid} runs in the mount namespace of PID 1, the host's or another container's: refusing to join it"
    )]
    HostMount { pid: i32 },
}

/// What was chosen, and why, for a note on stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct Chosen {
    pub pid: i32,
    /// Set when the process differs from the one asked for.
    pub note: Option<String>,
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// Whether a cgroup path names the container: a component equal to the
/// id, or the id between a `-` and `.scope` (systemd, podman, CRI).
fn path_names(path: &str, id: &str) -> bool {
    path.split('/').any(|part| {
        part == id
            || part
                .strip_suffix(".scope")
                .and_then(|p| p.strip_suffix(id))
                .is_some_and(|p| p.ends_with('-'))
    })
}

/// Whether process `pid`'s cgroup (any hierarchy, v1 or v2) names `id`.
fn in_container(proc: &Proc, pid: i32, id: &str) -> bool {
    let Ok(file) = fs::File::open(proc.path(pid, "cgroup")) else {
        return false;
    };
    let mut text = String::new();
    // A kernel-made file of a line per hierarchy; bounded all the same.
    if file.take(64 * 1024).read_to_string(&mut text).is_err() {
        return false;
    }
    text.lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .any(|path| path_names(path, id))
}

/// The (device, inode) of a namespace link of `pid`.
fn ns_id(proc: &Proc, pid: i32, name: &str) -> Option<(u64, u64)> {
    let meta = fs::metadata(proc.path(pid, &format!("ns/{name}"))).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Rule 3.
fn not_the_host(proc: &Proc, pid: i32) -> Result<i32, FindError> {
    if pid != 1
        && let (Some(theirs), Some(first)) = (ns_id(proc, pid, "mnt"), ns_id(proc, 1, "mnt"))
        && theirs == first
    {
        return Err(FindError::HostMount { pid });
    }
    Ok(pid)
}

/// Rule 1: the container's first process.
fn main_process_of(proc: &Proc, id: &str, me: i32) -> Result<i32, FindError> {
    let members: Vec<(i32, crate::target::procinfo::Stat)> = proc
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|&pid| pid != me && in_container(proc, pid, id))
        .filter_map(|pid| Some((pid, proc.stat(pid).ok()?)))
        .collect();
    let roots: Vec<&(i32, crate::target::procinfo::Stat)> = members
        .iter()
        .filter(|(_, st)| !members.iter().any(|(p, _)| *p == st.ppid))
        .collect();
    let Some(first) = roots.iter().map(|(_, st)| st.start_ticks).min() else {
        return Err(FindError::NotFound { short: short(id) });
    };
    match roots
        .iter()
        .filter(|(_, st)| st.start_ticks == first)
        .collect::<Vec<_>>()[..]
    {
        [(pid, _)] => Ok(*pid),
        ref tied => Err(FindError::Ambiguous {
            short: short(id),
            pids: tied
                .iter()
                .map(|(p, _)| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Rule 2: the app beside a pause process, if PID 1 is one.
fn beside_pause(proc: &Proc, me: i32) -> Result<Option<i32>, FindError> {
    let is_pause = proc.stat(1).is_ok_and(|st| st.comm == "pause");
    if !is_pause {
        return Ok(None);
    }
    let apps: Vec<(i32, String)> = proc
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|&pid| pid != 1 && pid != me)
        .filter_map(|pid| Some((pid, proc.stat(pid).ok()?)))
        .filter(|(_, st)| st.ppid == 0 && st.comm != "nosh")
        .map(|(pid, st)| (pid, st.comm))
        .collect();
    match &apps[..] {
        [] => Err(FindError::PauseAlone),
        [(pid, _)] => Ok(Some(*pid)),
        many => Err(FindError::PauseAmbiguous {
            candidates: many
                .iter()
                .map(|(pid, comm)| format!("{pid} {}", escape::field(comm.as_bytes())))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Rules 1–3 for process `pid` (as the caller gave it) and, if known, the
/// target's container id; `me` is this process, never a candidate.
pub fn choose(
    proc: &Proc,
    pid: i32,
    container_id: Option<&str>,
    me: i32,
) -> Result<Chosen, FindError> {
    let id = container_id.filter(|id| !id.is_empty());
    let chosen = match id {
        Some(id) if in_container(proc, pid, id) => Chosen { pid, note: None },
        Some(id) => {
            let found = main_process_of(proc, id, me)?;
            Chosen {
                pid: found,
                note: Some(format!(
                    "the target shares another PID namespace; its main process is PID {found} here"
                )),
            }
        }
        None if pid == 1 => match beside_pause(proc, me)? {
            Some(app) => Chosen {
                pid: app,
                note: Some(format!(
                    "PID 1 is the pod's pause process; joining the app, PID {app}"
                )),
            },
            None => Chosen { pid, note: None },
        },
        None => Chosen { pid, note: None },
    };
    not_the_host(proc, chosen.pid)?;
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const ID: &str = "0b141fa5ccdd84ba5d6a89c6a1ef78c6e432a29c794c5a0e15784c6b5dcfb92e";
    const OTHER: &str = "55246c67ee82181f28271e5c398a0cec055891598a140d1c16e0a9b5b6d614b4";

    /// A recorded-style /proc: each process with its stat line, cgroup file
    /// and a mount namespace (a file per namespace, so each has an inode).
    struct FakeProc {
        dir: tempfile::TempDir,
    }

    impl FakeProc {
        fn new() -> FakeProc {
            let dir = tempfile::tempdir().unwrap();
            for ns in ["host", "a", "b", "x"] {
                fs::write(dir.path().join(format!("mnt-{ns}")), ns).unwrap();
            }
            FakeProc { dir }
        }

        fn add(&self, pid: i32, comm: &str, ppid: i32, start: u64, cgroup: &str, mnt: &str) {
            let d = self.dir.path().join(pid.to_string());
            fs::create_dir_all(d.join("ns")).unwrap();
            fs::write(
                d.join("stat"),
                format!(
                    "{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {start} 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
                ),
            )
            .unwrap();
            fs::write(d.join("cgroup"), cgroup).unwrap();
            std::os::unix::fs::symlink(
                self.dir.path().join(format!("mnt-{mnt}")),
                d.join("ns/mnt"),
            )
            .unwrap();
        }

        fn proc(&self) -> Proc {
            Proc::new(Path::new(self.dir.path()))
        }
    }

    fn v1(id: &str) -> String {
        format!("12:pids:/docker/{id}\n1:name=systemd:/docker/{id}\n")
    }

    #[test]
    fn cgroup_paths_name_the_container_in_every_layout() {
        for path in [
            format!("/docker/{ID}"),
            format!("/../{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/kubepods/burstable/podx/{ID}"),
        ] {
            assert!(path_names(&path, ID), "{path}");
        }
        for path in [
            format!("/docker/{OTHER}"),
            format!("/docker/{ID}x"),
            format!("/system.slice/docker-{ID}x.scope"),
            format!("/{}", &ID[..12]),
            "/".to_string(),
            format!("/docker-{ID}"),
        ] {
            assert!(!path_names(&path, ID), "{path}");
        }
    }

    #[test]
    fn the_given_process_is_kept_when_it_belongs_to_the_container() {
        let p = FakeProc::new();
        p.add(1, "demo-app", 0, 100, &v1(ID), "a");
        p.add(9, "nosh", 0, 500, &v1("sidecar"), "x");
        assert_eq!(
            choose(&p.proc(), 1, Some(ID), 9),
            Ok(Chosen { pid: 1, note: None })
        );
    }

    #[test]
    fn in_another_containers_namespace_the_targets_first_process_is_found() {
        // --pid container:X: PID 1 is X's; the target's app (7) and its
        // child (8), an orphan of it reparented to X's PID 1 (12), and a
        // later `docker exec` (20) live beside it.
        let p = FakeProc::new();
        p.add(1, "python3", 0, 100, &v1(OTHER), "b");
        p.add(7, "demo-app", 0, 200, &v1(ID), "a");
        p.add(8, "demo-app", 7, 200, &v1(ID), "a");
        p.add(12, "orphan", 1, 300, &v1(ID), "a");
        p.add(20, "exec", 0, 400, &v1(ID), "a");
        p.add(30, "nosh", 0, 500, &v1("sidecar"), "x");
        let chosen = choose(&p.proc(), 1, Some(ID), 30).unwrap();
        assert_eq!(chosen.pid, 7);
        assert!(chosen.note.unwrap().contains("PID 7"));
    }

    #[test]
    fn no_process_of_the_container_or_a_tie_is_refused() {
        let p = FakeProc::new();
        p.add(1, "python3", 0, 100, &v1(OTHER), "b");
        let e = choose(&p.proc(), 1, Some(ID), 30).unwrap_err();
        assert_eq!(
            e,
            FindError::NotFound {
                short: ID[..12].into()
            }
        );
        p.add(7, "a", 0, 200, &v1(ID), "a");
        p.add(9, "b", 0, 200, &v1(ID), "a");
        let e = choose(&p.proc(), 1, Some(ID), 30).unwrap_err();
        assert!(
            matches!(e, FindError::Ambiguous { ref pids, .. } if pids == "7, 9"),
            "{e}"
        );
    }

    #[test]
    fn a_process_in_pid_1s_mount_namespace_is_refused() {
        // --pid host: a pid that names the container but runs in the host's
        // mount namespace (PID 1's) is the host, whatever its cgroup says.
        let p = FakeProc::new();
        p.add(1, "init", 0, 1, "12:pids:/\n", "host");
        p.add(4242, "demo-app", 1, 900, &v1(ID), "host");
        let e = choose(&p.proc(), 4242, Some(ID), 30).unwrap_err();
        assert_eq!(e, FindError::HostMount { pid: 4242 });
        p.add(4300, "demo-app", 1, 950, &v1(ID), "a");
        assert_eq!(choose(&p.proc(), 4300, Some(ID), 30).unwrap().pid, 4300);
    }

    #[test]
    fn beside_a_pause_process_the_one_app_is_chosen_or_the_candidates_named() {
        let p = FakeProc::new();
        p.add(1, "pause", 0, 100, "", "b");
        p.add(30, "nosh", 0, 500, "", "x");
        assert_eq!(
            choose(&p.proc(), 1, None, 30).unwrap_err(),
            FindError::PauseAlone
        );
        p.add(31, "nosh", 0, 600, "", "x");
        p.add(7, "demo-app", 0, 200, "", "a");
        p.add(8, "worker", 7, 210, "", "a");
        let chosen = choose(&p.proc(), 1, None, 30).unwrap();
        assert_eq!(chosen.pid, 7);
        p.add(9, "sidecar\x1b[31m", 0, 220, "", "a");
        let e = choose(&p.proc(), 1, None, 30).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PID 1 is the pod's pause process and several processes could be the app (7 demo-app, 9 sidecar\\e[31m): choose one with --pid"
        );
        // An explicit --pid is taken as given.
        assert_eq!(choose(&p.proc(), 9, None, 30).unwrap().pid, 9);
    }

    #[test]
    fn an_app_as_pid_1_is_kept() {
        let p = FakeProc::new();
        p.add(1, "demo-app", 0, 100, "", "a");
        p.add(7, "other", 0, 200, "", "b");
        assert_eq!(choose(&p.proc(), 1, None, 30).unwrap().pid, 1);
    }
}
