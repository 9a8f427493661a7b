//! Direct attach: when nosh runs as root on the target's host, the toolbox
//! half entered in-process is the whole attach (fork, join, drop, verify,
//! shell). No engine is needed to join, and no sidecar is created.
//!
//! Ways of finding the target, each giving a PID plus what is known of its
//! config ([`TargetInfo`]):
//! - `pid://PID`: any process on the host (LXC, systemd-nspawn, `unshare`);
//! - `--direct NAME`: a container of the local Docker or Podman engine, which
//!   is asked for its PID and config only;
//! - `containerd://[NS/]ID` and `pod://NS/POD[/CONTAINER]`: containerd's API
//!   ([`containerd`]), nerdctl and Kubernetes nodes.
//!
//! Steps of [`attach`]:
//! 1. refuse a caller that is not root;
//! 2. find the PID and the config (an engine lookup runs on a runtime that
//!    is gone before step 4: `setns` refuses a process with a second thread);
//! 3. refuse the host's init and anything in the host's mount namespace;
//! 4. hand over to [`toolbox::attach`], which joins (user namespace first),
//!    drops, verifies and runs the shell.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use super::containerd;
use super::engine::{self, Log};
use super::error::{Endpoint, HostError};
use super::target;
use crate::EXIT_NOSH_FAILED;
use crate::cli::{AttachArgs, shell_join};
use crate::target::TargetInfo;
use crate::toolbox;

/// The scheme of a target given as a host PID.
pub const PID_SCHEME: &str = "pid://";

#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("direct attach needs root on the target's host, and nosh runs as uid {0}")]
    NotRoot(u32),
    #[error("'{0}' is not a process id")]
    BadPid(String),
    #[error("no process {0} on this host")]
    NoProcess(i32),
    #[error("process {0} is the host's init, not a container")]
    HostInit(i32),
    #[error("process {0} shares the host's mount namespace: it is not in a container")]
    HostMountNs(i32),
    #[error("direct attach needs the engine on this host, and the engine is {0}")]
    RemoteEngine(String),
    #[error("{0} is an image, not a container: direct attach needs a running container")]
    Image(String),
    #[error("container {name} is not running (state: {state})")]
    NotRunning { name: String, state: String },
    #[error("the runtime says container {name} is process {pid}, which is not that container here")]
    NotOnThisHost { name: String, pid: i64 },
    #[error("process {0} exited while nosh was attaching")]
    Exited(i32),
    #[error("failed to attach to process {pid}: {reason}")]
    Attach { pid: i32, reason: String },
    #[error("'{0}' is not a containerd target")]
    BadTarget(String),
    #[error("containerd's socket {0} does not exist")]
    NoContainerd(String),
    #[error("containerd at {address}: {reason}")]
    Containerd { address: String, reason: String },
    #[error("no such containerd container: {0}")]
    NoSuchContainerd(String),
    #[error("'{wanted}' matches more than one containerd container: {}", .candidates.join(", "))]
    Ambiguous {
        wanted: String,
        candidates: Vec<String>,
    },
    #[error("no such pod on this node: {0}")]
    NoSuchPod(String),
    #[error("{wanted}: no such container in the pod (it has {})", .containers.join(", "))]
    NoSuchPodContainer {
        wanted: String,
        containers: Vec<String>,
    },
    #[error("{wanted} has more than one container: {}", .containers.join(", "))]
    PodHasMany {
        wanted: String,
        path: String,
        containers: Vec<String>,
    },
    #[error(transparent)]
    Engine(#[from] HostError),
    #[error(transparent)]
    Bundle(#[from] crate::tools::bundle::BundleError),
    #[error("failed to prepare the brought tools in {dir}")]
    Tools {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

impl DirectError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            DirectError::NotRoot(_) => {
                "run it with sudo, or attach through the engine with a sidecar: `nosh NAME`".into()
            }
            DirectError::BadPid(_) => "pid:// takes a process id as the host sees it: pid://4242".into(),
            DirectError::NoProcess(_) | DirectError::Exited(_) => {
                "list the host's processes with `ps -e`; a restarted container has a new pid".into()
            }
            DirectError::HostInit(_) | DirectError::HostMountNs(_) => {
                "give the pid of a process inside the container (its main process: `docker inspect -f '{{.State.Pid}}' NAME`, `ctr task ls`, `machinectl status`)".into()
            }
            DirectError::RemoteEngine(_) => {
                "run nosh on the engine's host, or leave out --direct to attach with a sidecar".into()
            }
            DirectError::Image(_) => {
                "leave out --direct: nosh then opens a replica of what is not running".into()
            }
            DirectError::NotRunning { .. } => {
                "start it first; without --direct, a stopped Docker container gets a replica".into()
            }
            DirectError::NotOnThisHost { .. } => {
                "the engine runs in another PID namespace or VM (rootless, Docker Desktop): leave out --direct".into()
            }
            DirectError::BadTarget(_) => {
                "write containerd://[NAMESPACE/]ID or pod://NAMESPACE/POD[/CONTAINER]".into()
            }
            DirectError::NoContainerd(_) => {
                "is containerd running on this host? give its socket with --containerd-address (k3s: /run/k3s/containerd/containerd.sock)".into()
            }
            DirectError::Containerd { .. } => {
                "check that containerd runs and that this is its socket (--containerd-address)".into()
            }
            DirectError::NoSuchContainerd(_) => {
                "see the containers with `ctr -n NAMESPACE containers ls` or `nerdctl ps -a`; containerd:// takes an id, a unique id prefix or a nerdctl name".into()
            }
            DirectError::Ambiguous { .. } => {
                "give more characters of the id, or NAMESPACE/ID".into()
            }
            DirectError::NoSuchPod(_) => {
                "see this node's pods with `crictl pods`; pod:// takes the Kubernetes namespace and the pod's name".into()
            }
            DirectError::NoSuchPodContainer { .. } => {
                "name one of the pod's containers: pod://NAMESPACE/POD/CONTAINER".into()
            }
            DirectError::PodHasMany {
                path, containers, ..
            } => format!(
                "name one: pod://{path}/{}",
                containers.first().map_or("CONTAINER", String::as_str)
            ),
            DirectError::Attach { .. } | DirectError::Tools { .. } => return None,
            DirectError::Bundle(e) => return e.hint(),
            DirectError::Engine(e) => return e.hint(),
        })
    }
}

/// Whether this attach goes direct: `--direct`, or a `pid://`,
/// `containerd://` or `pod://` target.
pub fn wanted(args: &AttachArgs) -> bool {
    args.direct
        || args
            .target
            .as_deref()
            .is_some_and(|t| t.starts_with(PID_SCHEME) || containerd::is_containerd(t))
}

/// `nosh pid://PID` and `nosh --direct NAME`: exits with the shell's
/// status, or 125 with a sentence and a hint when nosh fails.
pub fn attach(args: &AttachArgs) -> ExitCode {
    // Not dumpable from the start, as the sidecar's toolbox: the target's
    // processes must never open this process's fds (the operator's
    // terminal), memory or environment, not even during the lookup.
    if let Err(e) = crate::sys::set_not_dumpable() {
        eprintln!("nosh: {e}");
        return ExitCode::from(EXIT_NOSH_FAILED);
    }
    match prepare(args).and_then(|(req, pidfd)| run(req, &pidfd)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            super::report_with_hint(&e, e.hint());
            ExitCode::from(EXIT_NOSH_FAILED)
        }
    }
}

/// Steps 1 to 3: the toolbox request, and a pidfd of the target that says
/// later whether it exited meanwhile.
fn prepare(args: &AttachArgs) -> Result<(toolbox::Attach, OwnedFd), DirectError> {
    // 1.
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        return Err(DirectError::NotRoot(euid.as_raw()));
    }
    let given = args.target.clone().unwrap_or_default();
    // 2.
    let (pid, info) = match given.strip_prefix(PID_SCHEME) {
        Some(num) => {
            let pid = parse_pid(num)?;
            let info = TargetInfo {
                name: format!("pid:{pid}"),
                state: "running".into(),
                ..TargetInfo::default()
            };
            (pid, info)
        }
        None if containerd::is_containerd(&given) => {
            let wanted = containerd::parse(&given)?;
            let address = args
                .containerd_address
                .as_deref()
                .unwrap_or(containerd::DEFAULT_ADDRESS);
            let (pid, info) = containerd::find(address, &wanted)?;
            // As for an engine: the PID must be that container here.
            if !cgroup_names(pid, &info.id) {
                return Err(DirectError::NotOnThisHost {
                    name: info.display_name().into(),
                    pid: pid.into(),
                });
            }
            (pid, info)
        }
        None => engine_target(args, &given)?,
    };
    // 3.
    let pidfd = pidfd_open(pid)?;
    check_not_host(pid)?;
    let command = match (&args.command, args.args.is_empty()) {
        (Some(c), _) => Some(c.clone()),
        (None, false) => Some(shell_join(&args.args)),
        (None, true) => None,
    };
    let req = toolbox::Attach {
        pid,
        user: args.user.clone(),
        root: args.root,
        command,
        info,
        tools: brought(args)?,
    };
    Ok((req, pidfd))
}

/// The brought tools of `--with` and `--with-dir`: a directory on this
/// host, made once per set of host files, opened here as a detached,
/// read-only mount that only this process holds (the target never sees
/// it in its filesystem, and `..` from it leads nowhere on the host).
fn brought(args: &AttachArgs) -> Result<Option<crate::tools::Brought>, DirectError> {
    if args.with.is_empty() && args.with_dir.is_empty() {
        return Ok(None);
    }
    let plan = crate::tools::bundle::Plan::new(&args.with, &args.with_dir)?;
    let dir = crate::tools::bundle::cached_dir(&plan).map_err(|source| DirectError::Tools {
        dir: crate::tools::bundle::cache_root().display().to_string(),
        source,
    })?;
    let opened = crate::tools::Brought::open(&dir).map_err(|e| DirectError::Tools {
        dir: dir.display().to_string(),
        source: std::io::Error::other(crate::toolbox::report(&e)),
    })?;
    if !opened.detached {
        return Err(DirectError::Tools {
            dir: dir.display().to_string(),
            source: std::io::Error::other(
                "it could not be made a detached read-only mount, and a plain directory of the host is not handed to the target",
            ),
        });
    }
    Ok(Some(opened))
}

/// Step 4, on this very process: it has one thread now.
fn run(req: toolbox::Attach, pidfd: &OwnedFd) -> Result<u8, DirectError> {
    let pid = req.pid;
    let threads = fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    if threads > 1 {
        return Err(DirectError::Attach {
            pid,
            reason: format!("nosh has {threads} threads, and joining a namespace needs one"),
        });
    }
    toolbox::attach(req).map_err(|e| {
        if exited(pidfd) {
            DirectError::Exited(pid)
        } else {
            DirectError::Attach {
                pid,
                reason: toolbox::report(e.as_ref()),
            }
        }
    })
}

fn parse_pid(num: &str) -> Result<i32, DirectError> {
    match num.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(DirectError::BadPid(num.into())),
    }
}

/// A pidfd of `pid` (pidfd_open(2)): from here on, whether the process we
/// looked at exits is known for sure, whatever reuses its number.
fn pidfd_open(pid: i32) -> Result<OwnedFd, DirectError> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(DirectError::NoProcess(pid));
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A pidfd polls readable once its process has exited.
fn exited(pidfd: &OwnedFd) -> bool {
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let rc = unsafe { libc::poll(&mut poll, 1, 0) };
    rc > 0 && poll.revents & libc::POLLIN != 0
}

/// The host's init, or any process in its mount namespace (or in ours), is
/// not a container: a "shell in it" would be a root shell on the host.
fn check_not_host(pid: i32) -> Result<(), DirectError> {
    if pid == 1 {
        return Err(DirectError::HostInit(pid));
    }
    let ns = |p: &str| fs::metadata(format!("/proc/{p}/ns/mnt")).map(|m| (m.dev(), m.ino()));
    let theirs = ns(&pid.to_string()).map_err(|_| DirectError::NoProcess(pid))?;
    let host = [ns("1"), ns("self")];
    if host.iter().any(|h| h.as_ref().is_ok_and(|h| *h == theirs)) {
        return Err(DirectError::HostMountNs(pid));
    }
    Ok(())
}

/// A single-threaded runtime for one engine or containerd lookup, dropped
/// before the target's namespaces are joined: setns(2) into a user or
/// mount namespace refuses a multithreaded caller.
pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, DirectError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DirectError::Attach {
            pid: 0,
            reason: format!("cannot start the async runtime: {e}"),
        })
}

/// `--direct NAME`: the local engine gives the PID and the config. The
/// runtime is single-threaded and is dropped before this returns.
fn engine_target(args: &AttachArgs, name: &str) -> Result<(i32, TargetInfo), DirectError> {
    let endpoint = engine::chosen_endpoint(&args.engine)?;
    if !matches!(endpoint, Endpoint::Unix(_)) {
        return Err(DirectError::RemoteEngine(endpoint.to_string()));
    }
    let runtime = current_thread_runtime()?;
    let wants_log = args.command.as_deref().is_none_or(|c| c.contains("doctor"));
    let found = runtime.block_on(async {
        let engine = engine::connect_args(&args.engine, Log::new(args.engine.verbose)).await?;
        let mut target = target::resolve(&engine, name, false).await?;
        if target.is_image {
            return Err(DirectError::Image(name.into()));
        }
        if target.paused || target.info.state == "paused" {
            return Err(HostError::Paused(target.info.display_name().into()).into());
        }
        if target.info.state != "running" {
            return Err(DirectError::NotRunning {
                name: target.info.display_name().into(),
                state: target.info.state.clone(),
            });
        }
        let inspect = engine
            .docker
            .inspect_container(&target.info.id, None)
            .await
            .map_err(|e| super::error::from_engine(&engine.endpoint, "inspect", &e))?;
        let pid = inspect.state.and_then(|s| s.pid).unwrap_or(0);
        if wants_log {
            target.info.log_tail = target::log_tail(&engine, &target.info.id).await;
        }
        Ok((pid, target.info))
    });
    drop(runtime);
    let (pid, info) = found?;
    let not_here = || DirectError::NotOnThisHost {
        name: info.display_name().into(),
        pid,
    };
    let pid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(not_here)?;
    // The engine's PID must be that container in our PID namespace: its
    // cgroup names the container id (docker, libpod), else the engine sees
    // another PID namespace than ours.
    if !cgroup_names(pid, &info.id) {
        return Err(not_here());
    }
    Ok((pid, info))
}

/// Whether `/proc/PID/cgroup` names the container id (read bounded: it is
/// kernel text, but cgroup names below the container's are its own).
fn cgroup_names(pid: i32, id: &str) -> bool {
    use std::io::Read;
    let mut text = String::new();
    let read = fs::File::open(format!("/proc/{pid}/cgroup"))
        .and_then(|f| f.take(64 * 1024).read_to_string(&mut text));
    read.is_ok() && cgroup_text_names(&text, id)
}

/// A component of a cgroup path is the id (`/docker/ID`, containerd's
/// `/NAMESPACE/ID`, Kubernetes' cgroupfs `/kubepods/.../ID`), or the id
/// after a runtime's prefix, as a systemd scope or not (`docker-ID.scope`,
/// `/libpod_parent/libpod-ID`, `cri-containerd-ID.scope`, `crio-ID.scope`).
fn cgroup_text_names(text: &str, id: &str) -> bool {
    let named = |c: &str| {
        let c = c.strip_suffix(".scope").unwrap_or(c);
        c == id
            || ["docker-", "libpod-", "cri-containerd-", "crio-"]
                .iter()
                .any(|prefix| c.strip_prefix(prefix) == Some(id))
    };
    !id.is_empty()
        && text
            .lines()
            .filter_map(|l| l.splitn(3, ':').nth(2))
            .flat_map(|path| path.split('/'))
            .any(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_target_takes_a_positive_number() {
        assert_eq!(parse_pid("4242").unwrap(), 4242);
        for bad in ["", "0", "-3", "abc", "12x"] {
            let e = parse_pid(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("'{bad}' is not a process id"));
            assert!(e.hint().unwrap().contains("pid://4242"));
        }
    }

    #[test]
    fn the_hosts_own_processes_are_refused() {
        assert!(matches!(check_not_host(1), Err(DirectError::HostInit(1))));
        let me = std::process::id() as i32;
        assert!(matches!(
            check_not_host(me),
            Err(DirectError::HostMountNs(p)) if p == me
        ));
    }

    #[test]
    fn direct_is_wanted_for_a_pid_target_or_the_flag() {
        let mut args = AttachArgs {
            target: Some("pid://7".into()),
            ..AttachArgs::default()
        };
        assert!(wanted(&args));
        args.target = Some("api".into());
        assert!(!wanted(&args));
        args.direct = true;
        assert!(wanted(&args));
    }

    #[test]
    fn the_cgroup_must_name_the_container() {
        let v1 = "9:name=systemd:/test/c1\n8:pids:/test/c1\n";
        assert!(cgroup_text_names(v1, "c1"));
        assert!(!cgroup_text_names(v1, "c"));
        assert!(!cgroup_text_names(v1, "test/c1"));
        let v2 = "0::/system.slice/docker-0123abcd.scope\n";
        assert!(cgroup_text_names(v2, "0123abcd"));
        assert!(!cgroup_text_names(v2, "0123"));
        let k8s = "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-feed.scope\n";
        assert!(cgroup_text_names(k8s, "feed"));
        assert!(!cgroup_text_names("0::/\n", ""));
        let podman = "9:name=systemd:/libpod_parent/libpod-beef\n";
        assert!(cgroup_text_names(podman, "beef"));
        assert!(!cgroup_text_names(podman, "ef"));
        // Another container whose name merely ends in the id is not it.
        assert!(!cgroup_text_names("8:pids:/test/foo-c1\n", "c1"));
    }

    #[test]
    fn a_pidfd_tells_when_its_process_exited() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = pidfd_open(child.id() as i32).unwrap();
        assert!(!exited(&fd));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(exited(&fd));
    }
}
