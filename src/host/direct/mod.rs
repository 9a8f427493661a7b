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
//! 0. not dumpable, and nothing the operator typed left in this process's
//!    command line (the session's processes live in the target's PID
//!    namespace, where `/proc/PID/cmdline` is readable by all);
//! 1. refuse a caller that is not root;
//! 2. find the PID, the config and the engine's seccomp profile (an engine
//!    lookup runs on a runtime that is gone before step 4: `setns` refuses
//!    a process with a second thread);
//! 3. hold the process ([`join::Process`]: a pidfd, then its `/proc/PID`
//!    directory) and check it through that directory only: its cgroup names
//!    the container, it is not the host's init nor in the host's mount
//!    namespace, and a `pid://` target is a container;
//! 4. fork the session on a terminal or pipes of its own ([`relay`]); the
//!    child hands over to [`toolbox::attach`], which confirms the process,
//!    joins its cgroups and namespaces (user namespace first), drops,
//!    verifies, installs the seccomp filter and runs the shell.

pub mod containerd;
pub mod containerd_api;
pub mod error;
pub mod relay;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use crate::EXIT_NOSH_FAILED;
use crate::cli::{AttachArgs, shell_join};
use crate::host::engine::{self, Log};
use crate::host::error::{Endpoint, HostError};
use crate::host::target;
use crate::target::info::TargetInfo;
use crate::toolbox::{self, join, seccomp};
use error::{DirectError, current_thread_runtime};

/// The scheme of a target given as a host PID.
pub const PID_SCHEME: &str = "pid://";

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
    // 0. Not dumpable from the start, as the sidecar's toolbox: the
    // target's processes must never open this process's fds (the
    // operator's terminal), memory or environment, not even during the
    // lookup. The command line is what non-dumpability does not cover.
    let hidden = crate::sys::set_not_dumpable().and_then(|()| crate::sys::hide_argv("nosh"));
    if let Err(e) = hidden {
        eprintln!("nosh: {}", toolbox::report(&e));
        return ExitCode::from(EXIT_NOSH_FAILED);
    }
    match prepare(args).and_then(|prepared| run(prepared, args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            crate::host::report_with_hint(&e, e.hint());
            ExitCode::from(EXIT_NOSH_FAILED)
        }
    }
}

/// Steps 1 to 3: the toolbox request, with the process as it was checked.
fn prepare(args: &AttachArgs) -> Result<toolbox::Attach, DirectError> {
    // 1.
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        return Err(DirectError::NotRoot(euid.as_raw()));
    }
    let given = args.target.clone().unwrap_or_default();
    // 2.
    let (found, sidecar_hint) = match given.strip_prefix(PID_SCHEME) {
        Some(num) => {
            let pid = parse_pid(num)?;
            let info = TargetInfo {
                name: format!("pid:{pid}"),
                state: "running".into(),
                ..TargetInfo::default()
            };
            let found = containerd::Located {
                pid,
                info,
                seccomp: None,
            };
            let hint = "a sidecar through the container's engine (`nosh NAME`)".to_string();
            (found, hint)
        }
        None if containerd::is_containerd(&given) => {
            let wanted = containerd::parse(&given)?;
            let address = args
                .containerd_address
                .as_deref()
                .unwrap_or(containerd::DEFAULT_ADDRESS);
            let found = containerd::find(address, &wanted)?;
            let hint = "a toolbox beside it (`kubectl debug --target`, docs/kubernetes.md)";
            (found, hint.to_string())
        }
        None => {
            let found = engine_target(args, &given)?;
            let name =
                crate::term::escape::field(found.info.display_name().as_bytes()).into_owned();
            (found, format!("a sidecar (`nosh {name}` without --direct)"))
        }
    };
    // 3. Everything below reads the process through its own directory.
    let process = join::Process::open(found.pid).map_err(|e| match e {
        join::JoinError::Exited { pid } => DirectError::Exited(pid),
        _ => DirectError::NoProcess(found.pid),
    })?;
    if !found.info.id.is_empty() && !cgroup_names(&process, &found.info.id) {
        // The runtime's PID must be that container here: its cgroup names
        // the container's id, else the runtime sees another PID namespace.
        return Err(DirectError::NotOnThisHost {
            name: found.info.display_name().into(),
            pid: found.pid.into(),
        });
    }
    check_not_host(&process)?;
    if given.starts_with(PID_SCHEME) && !args.any_process {
        check_container(&process)?;
    }
    let command = match (&args.command, args.args.is_empty()) {
        (Some(c), _) => Some(c.clone()),
        (None, false) => Some(shell_join(&args.args)),
        (None, true) => None,
    };
    let seccomp = filter_for(found.seccomp.as_ref(), &found.info)?;
    Ok(toolbox::Attach {
        pid: found.pid,
        user: args.user.clone(),
        root: args.root,
        command,
        info: found.info,
        direct: Some(toolbox::Direct {
            process,
            seccomp,
            sidecar_hint,
        }),
        tools: brought(args)?,
    })
}

/// The engine's own profile for the target when it wrote one down, else
/// the built-in one; a profile nosh cannot follow is said in one line and
/// replaced by the built-in one.
fn filter_for(
    spec: Option<&serde_json::Value>,
    info: &TargetInfo,
) -> Result<seccomp::Filter, DirectError> {
    let engines = spec.cloned().or_else(|| bundle_seccomp(&info.id));
    if let Some(profile) = engines {
        match seccomp::from_oci(&profile, "the container's own profile".into()) {
            Ok(filter) => return Ok(filter),
            Err(e) => eprintln!(
                "nosh: {}; using the engines' default profile",
                toolbox::report(&e)
            ),
        }
    }
    seccomp::built_in().map_err(|e| DirectError::Attach {
        pid: 0,
        reason: toolbox::report(&e),
    })
}

/// Where Docker (through its containerd, private or the system's) and
/// Podman keep a running container's OCI spec.
const BUNDLES: &[&str] = &[
    "/run/containerd/io.containerd.runtime.v2.task/moby/{id}/config.json",
    "/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/{id}/config.json",
    "/var/lib/containers/storage/overlay-containers/{id}/userdata/config.json",
    "/run/containers/storage/overlay-containers/{id}/userdata/config.json",
];

/// The `linux.seccomp` of a Docker or Podman container's OCI spec, from
/// the engine's own files on this host (root's, not the target's).
fn bundle_seccomp(id: &str) -> Option<serde_json::Value> {
    use std::io::Read;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    BUNDLES.iter().find_map(|pattern| {
        let mut text = Vec::new();
        fs::File::open(pattern.replace("{id}", id))
            .and_then(|f| f.take(16 << 20).read_to_end(&mut text))
            .ok()?;
        let spec: serde_json::Value = serde_json::from_slice(&text).ok()?;
        Some(spec["linux"]["seccomp"].clone()).filter(|s| !s.is_null())
    })
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

/// Step 4: the session, forked from this process while it has one thread.
fn run(req: toolbox::Attach, args: &AttachArgs) -> Result<u8, DirectError> {
    let pid = req.pid;
    let threads = fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    if threads > 1 {
        return Err(DirectError::Attach {
            pid,
            reason: format!("nosh has {threads} threads, and joining a namespace needs one"),
        });
    }
    let watch = req.direct.as_ref().and_then(|d| d.process.watch());
    let mut keep: Vec<_> = req
        .direct
        .as_ref()
        .map(|d| d.process.fds())
        .unwrap_or_default();
    keep.extend(watch.as_ref().map(std::os::fd::AsRawFd::as_raw_fd));
    // The brought tools' bundle, opened before the fork.
    keep.extend(req.tools.as_ref().map(crate::tools::Brought::raw_fd));
    let plan = relay::Plan::choose(args.tty, args.no_tty);
    let session = move || match toolbox::attach(req) {
        Ok(code) => code,
        Err(e) => {
            let gone = watch
                .as_ref()
                .is_some_and(|fd| crate::sys::pidfd_exited(std::os::fd::AsFd::as_fd(fd)));
            let e = if gone
                || e.downcast_ref::<join::JoinError>()
                    .is_some_and(|j| matches!(j, join::JoinError::Exited { .. }))
            {
                DirectError::Exited(pid)
            } else {
                DirectError::Attach {
                    pid,
                    reason: toolbox::report(e.as_ref()),
                }
            };
            crate::host::report_with_hint(&e, e.hint());
            EXIT_NOSH_FAILED
        }
    };
    relay::run(plan, &keep, session).map_err(|e| DirectError::Attach {
        pid,
        reason: toolbox::report(&e),
    })
}

fn parse_pid(num: &str) -> Result<i32, DirectError> {
    match num.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(DirectError::BadPid(num.into())),
    }
}

/// The host's init, or any process in its mount namespace (or in ours), is
/// not a container: a "shell in it" would be a root shell on the host.
fn check_not_host(process: &join::Process) -> Result<(), DirectError> {
    let pid = process.pid;
    if pid == 1 {
        return Err(DirectError::HostInit(pid));
    }
    let theirs = process.ns_id("mnt").ok_or(DirectError::NoProcess(pid))?;
    if host_ns("mnt").contains(&theirs) {
        return Err(DirectError::HostMountNs(pid));
    }
    Ok(())
}

/// (device, inode) of a namespace of the host's init and of this process.
fn host_ns(name: &str) -> Vec<(u64, u64)> {
    ["1", "self"]
        .iter()
        .filter_map(|p| fs::metadata(format!("/proc/{p}/ns/{name}")).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// `pid://` is for containers: a process that shares the host's PID,
/// network and user namespaces and whose cgroups are the host's (those of
/// its init or of nosh itself), whatever its mount namespace, is a host
/// process (`unshare -m sleep`): the shell would be the host's own.
fn check_container(process: &join::Process) -> Result<(), DirectError> {
    let pid = process.pid;
    let shares = |name: &str| {
        process
            .ns_id(name)
            .is_some_and(|ns| host_ns(name).contains(&ns))
    };
    if !["pid", "net", "user"].iter().all(|ns| shares(ns)) {
        return Ok(());
    }
    let theirs = process.read("cgroup").unwrap_or_default();
    let host: Vec<String> = ["/proc/1/cgroup", "/proc/self/cgroup"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .collect();
    if host_cgroups(&theirs, &host) {
        return Err(DirectError::NotAContainer(pid));
    }
    Ok(())
}

/// Whether every line of a `/proc/PID/cgroup` text is the root cgroup or
/// the same line of one of the host's own processes.
fn host_cgroups(theirs: &str, host: &[String]) -> bool {
    theirs.lines().all(|line| {
        line.rsplit_once(':').is_some_and(|(_, path)| path == "/")
            || host.iter().any(|h| h.lines().any(|l| l == line))
    })
}

/// `--direct NAME`: the local engine gives the PID and the config. The
/// runtime is single-threaded and is dropped before this returns.
fn engine_target(args: &AttachArgs, name: &str) -> Result<containerd::Located, DirectError> {
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
            .map_err(|e| crate::host::error::from_engine(&engine.endpoint, "inspect", &e))?;
        let pid = inspect.state.and_then(|s| s.pid).unwrap_or(0);
        if wants_log {
            target.info.log_tail = target::log_tail(&engine, &target.info.id).await;
            target.info.changes = target::changes(&engine, &target.info.id).await;
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
    // The caller checks that the PID is that container in our PID
    // namespace (its cgroup names the container id).
    Ok(containerd::Located {
        pid,
        info,
        seccomp: None,
    })
}

/// Whether the process's `/proc/PID/cgroup` names the container id (read
/// through its own directory, bounded: cgroup names below the container's
/// are its own).
fn cgroup_names(process: &join::Process, id: &str) -> bool {
    process
        .read("cgroup")
        .is_ok_and(|text| cgroup_text_names(&text, id))
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
        let init = join::Process::open(1).unwrap();
        assert!(matches!(
            check_not_host(&init),
            Err(DirectError::HostInit(1))
        ));
        let me = std::process::id() as i32;
        let own = join::Process::open(me).unwrap();
        assert!(matches!(
            check_not_host(&own),
            Err(DirectError::HostMountNs(p)) if p == me
        ));
        // Whatever its mount namespace, a process in the host's other
        // namespaces and cgroups is not a container.
        assert!(matches!(
            check_container(&own),
            Err(DirectError::NotAContainer(p)) if p == me
        ));
    }

    #[test]
    fn a_container_has_cgroups_of_its_own() {
        let host = ["9:pids:/\n4:memory:/process_api/ab\n0::/\n".to_string()];
        assert!(host_cgroups(
            "9:pids:/\n4:memory:/process_api/ab\n0::/\n",
            &host
        ));
        assert!(host_cgroups("9:pids:/\n4:memory:/\n0::/\n", &host));
        assert!(!host_cgroups(
            "9:pids:/docker/c1\n4:memory:/docker/c1\n0::/\n",
            &host
        ));
        let v2 = ["0::/user.slice/session-1.scope\n".to_string()];
        assert!(!host_cgroups("0::/system.slice/docker-ab.scope\n", &v2));
        assert!(host_cgroups("0::/user.slice/session-1.scope\n", &v2));
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
        use std::os::fd::AsFd;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = crate::sys::pidfd_open(child.id() as i32).unwrap();
        let process = join::Process::open(child.id() as i32).unwrap();
        assert!(!crate::sys::pidfd_exited(fd.as_fd()));
        assert!(process.confirm().is_ok());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(crate::sys::pidfd_exited(fd.as_fd()));
        assert!(matches!(
            process.confirm(),
            Err(join::JoinError::Exited { .. })
        ));
        // Nothing is read through the directory of a process that is gone.
        assert!(process.read("status").is_err());
    }
}
