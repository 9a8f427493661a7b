//! Direct attach: root on the target's host joins it in-process, with no
//! engine and no sidecar. Targets: `pid://PID` of an `unshare`-made
//! container and of one in its own user namespace, and `--direct NAME` of a
//! real Docker container (the engine gives only the PID and the config).
//! Runs as root; the binary under test is the static build (`$NOSH_BIN`).

#[path = "support/unshare.rs"]
mod unshare;
#[path = "support/userns.rs"]
mod userns;

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Container, Nosh, docker_ok, static_app_image};
use unshare::{Target, run_bounded, status_field, stderr, stdout};
use userns::{HOST_BASE, UsernsTarget};

fn direct(target: &str, line: &str) -> std::process::Output {
    let mut cmd = Command::new(common::nosh_bin());
    cmd.arg(target).arg("-c").arg(line);
    run_bounded(cmd, "")
}

fn assert_refused(out: &std::process::Output, sentence: &str, hint: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(125), "stderr: {err}");
    assert!(err.contains(sentence), "wanted {sentence:?} in: {err}");
    assert!(err.contains(&format!("hint: {hint}")), "hint in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(out).is_empty());
}

#[test]
fn pid_target_runs_the_shell_as_the_app_uid_with_no_capabilities() {
    let t = Target::start();
    let out = direct(&format!("pid://{}", t.pid), "id; cat /proc/self/status");
    let text = stdout(&out);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(text.starts_with("uid=65532(nonroot)"), "{text}");
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(&text, key),
            Some("0000000000000000"),
            "{key}: {text}"
        );
    }
    assert_eq!(status_field(&text, "NoNewPrivs"), Some("1"));
    assert_eq!(
        status_field(&text, "Uid"),
        Some("65532\t65532\t65532\t65532")
    );
}

#[test]
fn pid_target_shows_the_targets_files_and_processes_and_leaves_them_unchanged() {
    let t = Target::start();
    let before = t.processes();
    let out = direct(&format!("pid://{}", t.pid), "ls /app; ps; cat /etc/secret");
    let text = stdout(&out);
    assert!(text.contains("app\n") && text.contains("suid"), "{text}");
    // PID 1 of the target's namespace is the app, as the app sees it.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("/app/app")),
        "{text}"
    );
    // The app's identity: the root-only file stays closed.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.processes(), before, "the target's processes changed");
}

#[test]
fn pid_target_refuses_the_hosts_init_and_the_hosts_mount_namespace() {
    assert_refused(
        &direct("pid://1", "id"),
        "nosh: process 1 is the host's init, not a container",
        "give the pid of a process inside the container",
    );
    let me = std::process::id();
    assert_refused(
        &direct(&format!("pid://{me}"), "id"),
        &format!("nosh: process {me} shares the host's mount namespace: it is not in a container"),
        "give the pid of a process inside the container",
    );
}

#[test]
fn pid_target_that_is_gone_or_not_a_number_is_one_sentence() {
    // A pid that just exited and was reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    assert_refused(
        &direct(&format!("pid://{pid}"), "id"),
        &format!("nosh: no process {pid} on this host"),
        "list the host's processes",
    );
    assert_refused(
        &direct("pid://12ab", "id"),
        "nosh: '12ab' is not a process id",
        "pid:// takes a process id",
    );
}

#[test]
fn pid_target_refuses_a_caller_that_is_not_root() {
    let t = Target::start();
    let mut cmd = Command::new(common::nosh_bin());
    cmd.arg(format!("pid://{}", t.pid))
        .args(["-c", "id"])
        .uid(65533)
        .gid(65533);
    assert_refused(
        &run_bounded(cmd, ""),
        "nosh: direct attach needs root on the target's host, and nosh runs as uid 65533",
        "run it with sudo",
    );
}

/// Starts `nosh pid://PID EXTRA` reading stdin, and returns it with the
/// host's view of its uids (the shell is the process in the target's PID
/// namespace that is not the app, once its uid is `host_uid`).
#[allow(
    clippy::zombie_processes,
    reason = "the child is returned to the caller, which waits for it (or killed and waited here)"
)]
fn shell_seen_from_the_host(
    t: &UsernsTarget,
    extra: &[&str],
    host_uid: u32,
) -> (std::process::Child, String) {
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", t.pid)).unwrap();
    let mut shell = Command::new(common::nosh_bin())
        .arg(format!("pid://{}", t.pid))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = unshare::all_pids().into_iter().find_map(|p| {
            let same = std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns);
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            let uid = status_field(&status, "Uid")?.to_string();
            (same && p != t.pid && uid.starts_with(&format!("{host_uid}\t"))).then_some(uid)
        });
        if let Some(uid) = found {
            return (shell, uid);
        }
        if Instant::now() >= deadline {
            let _ = shell.kill();
            let _ = shell.wait();
            panic!("no shell with host uid {host_uid} in the target's namespaces");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shell waits on stdin; meanwhile the host looks at it from outside.
#[test]
fn user_namespace_target_gets_in_namespace_ids_inside_and_mapped_ids_outside() {
    let t = UsernsTarget::start();
    let (mut shell, host_uids) = shell_seen_from_the_host(&t, &[], HOST_BASE + 65532);
    let mut stdin = shell.stdin.take().unwrap();
    assert_eq!(host_uids, "165532\t165532\t165532\t165532");
    use std::io::Write;
    stdin
        .write_all(b"id\nls -ln /app\nps\nwhy /app/data.txt write\ncat /proc/self/status\n")
        .unwrap();
    drop(stdin);
    let mut text = String::new();
    shell
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let status = shell.wait().unwrap();
    let mut err = String::new();
    shell
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}\n{text}");
    assert!(
        text.starts_with("uid=65532(nonroot) gid=65532(nonroot) groups=65532(nonroot)\n"),
        "{text}"
    );
    // Files and processes show the ids inside, as the app sees them.
    assert!(
        text.lines()
            .any(|l| l.contains(" 65532 65532 ") && l.ends_with(" data.txt")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("1 ")
            && l.contains(" nonroot ")
            && l.contains("/app/app")),
        "{text}"
    );
    assert!(!text.contains("165532"), "host ids leaked inside: {text}");
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(status_field(&text, key), Some("0000000000000000"), "{text}");
    }
}

/// Inside a user namespace host root's 0 reads as 65534 (unmapped): asking
/// for 65534 must still change the kernel's uid, to 165534, never leave it 0.
#[test]
fn user_namespace_target_as_the_overflow_uid_is_never_host_root() {
    let t = UsernsTarget::start();
    let (mut shell, host_uids) =
        shell_seen_from_the_host(&t, &["--user", "65534:65534"], HOST_BASE + 65534);
    assert_eq!(host_uids, "165534\t165534\t165534\t165534");
    drop(shell.stdin.take());
    assert!(shell.wait().unwrap().success());
}

#[test]
fn user_namespace_target_as_root_is_root_inside_only() {
    let t = UsernsTarget::start();
    let out = direct(&format!("pid://{}", t.pid), "id; cat /proc/self/status");
    let out_text = stdout(&out);
    // `--root` must be the namespace's root, not the host's.
    let mut cmd = Command::new(common::nosh_bin());
    cmd.arg(format!("pid://{}", t.pid)).args([
        "--root",
        "-c",
        "id; cat /proc/self/uid_map; cat /proc/self/status",
    ]);
    let root = run_bounded(cmd, "");
    let text = stdout(&root);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out_text.starts_with("uid=65532"), "{out_text}");
    assert!(root.status.success(), "{}", stderr(&root));
    assert!(text.starts_with("uid=0(root)"), "{text}");
    // Seen from inside, the map says inside 0 is host 100000.
    assert!(
        text.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f == ["0", "100000", "65536"]
        }),
        "{text}"
    );
    assert_eq!(status_field(&text, "CapEff"), Some("0000000000000000"));
}

#[test]
fn direct_flag_attaches_to_a_docker_container_with_no_sidecar() {
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    let sidecars = |id: &str| {
        docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.nosh.target={id}"),
        ])
    };
    Nosh::new()
        .args(["--direct", target.name()])
        .c("id; entrypoint; ps")
        .run()
        .success()
        .stdout_has("uid=65532(nonroot)")
        // The engine's config reached the shell.
        .stdout_has("/app/demo-app")
        .stdout_has("--port 8443");
    assert_eq!(sidecars(target.id()), "", "a sidecar was created");
}

#[test]
fn direct_flag_refuses_a_remote_engine_and_a_stopped_container() {
    Nosh::new()
        .args(["-H", "tcp://127.0.0.1:9", "--direct", "anything"])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("nosh: direct attach needs the engine on this host, and the engine is tcp://127.0.0.1:9")
        .stderr_has("hint: run nosh on the engine's host");
    let stopped = Container::run_cmd(
        &static_app_image(),
        &["--entrypoint", "/app/demo-app"],
        &["--version"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while stopped.inspect("{{.State.Status}}") == "running" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    Nosh::new()
        .args(["--direct", stopped.name()])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has(&format!(
            "nosh: container {} is not running",
            stopped.name()
        ))
        .stderr_has("hint: start it first");
    Nosh::new()
        .args(["--direct", "nosh-test-no-such-container-here"])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("no such container: nosh-test-no-such-container-here");
}
