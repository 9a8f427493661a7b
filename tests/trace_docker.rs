//! `trace` in real sessions: the demo app as uid 65532 in a FROM-scratch
//! container, traced from the sidecar as the same uid with no
//! capabilities; a crash at start traced in a replica. After every trace the
//! app must run on: no thread stopped, no tracer, its port answering.

mod common;
#[path = "support/pty.rs"]
mod pty;
#[path = "support/trace.rs"]
mod trace;
#[path = "support/unshare.rs"]
mod unshare;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Container, Nosh, http_get, nosh_bin, python_app_image, static_app_image};

/// The demo app retrying its root-owned log file every 100 ms, in a thread.
fn retrying_app() -> Container {
    let c = Container::run(
        &static_app_image(),
        &["-e", "DEMO_RETRY=/var/log/demo/app.log"],
    );
    c.wait_port(8443);
    c
}

/// (state letter, TracerPid) of every thread of a host pid.
fn threads_state(pid: u32) -> Vec<(char, i32)> {
    fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the app is gone")
        .filter_map(|e| {
            let tid = e.ok()?.file_name();
            let tid = tid.to_str()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            let status = fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
            let tracer = status
                .lines()
                .find_map(|l| l.strip_prefix("TracerPid:"))?
                .trim()
                .parse()
                .ok()?;
            Some((state, tracer))
        })
        .collect()
}

/// Every thread runs on, untraced and not stopped, and the app answers.
fn assert_app_runs_on(c: &Container) {
    assert_untraced_not_stopped(c);
    assert!(
        http_get(c.wait_port(8443)).ends_with("ok\n"),
        "the app no longer answers"
    );
}

#[test]
fn trace_in_a_sidecar_names_the_log_file_the_app_cannot_open() {
    let c = retrying_app();
    let out = Nosh::new()
        .arg(c.name())
        .c("id; trace -p 1 --timeout 2")
        .run();
    out.success()
        .stdout_has("uid=65532")
        .stdout_has(
            "openat(AT_FDCWD, \"/var/log/demo/app.log\", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0666) = -1 EACCES (Permission denied)",
        )
        .stdout_has("    -> why /var/log/demo/app.log write\n")
        .stderr_has("attached to pid 1 (2 threads) as uid 65532")
        .stderr_has("timed out; detached from pid 1, which runs on");
    // The failing call is the retry thread's, not the main thread's.
    let line = out.stdout().lines().find(|l| l.contains("EACCES")).unwrap();
    assert!(!line.starts_with("[pid 1]"), "{line}");
    assert_app_runs_on(&c);

    // What the pointer says, in the same kind of session.
    Nosh::new()
        .arg(c.name())
        .c("why /var/log/demo/app.log write")
        .run()
        .code_is(1)
        .stdout_has("/var/log/demo");
}

/// Waits (≤ 30 s) until a thread of `pid` is traced, lets the trace run
/// for half a second, then kills `client` mid-trace.
fn kill_once_tracing(pid: u32, client: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !threads_state(pid).iter().any(|(_, t)| *t != 0) {
        assert!(Instant::now() < deadline, "the app never got traced");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(500));
    client.kill().unwrap();
    client.wait().unwrap();
}

#[test]
fn killing_the_client_mid_trace_leaves_the_app_running() {
    let c = retrying_app();
    let pid = c.host_pid();
    let mut client = Command::new(nosh_bin())
        .args([c.name(), "-c", "trace -p 1 --timeout 120"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_once_tracing(pid, &mut client);
    assert_app_runs_on(&c);
}

#[test]
fn killing_a_terminal_client_mid_trace_leaves_the_app_running() {
    let c = retrying_app();
    let pid = c.host_pid();
    let pty = nix::pty::openpty(None, None).unwrap();
    // openpty(3) leaves the master inheritable: keep it out of nosh, or
    // the terminal never hangs up.
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .unwrap();
    let slave = std::fs::File::from(pty.slave);
    let mut client = Command::new(nosh_bin())
        .args(["-t", c.name(), "-c", "trace -p 1 --timeout 120"])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    kill_once_tracing(pid, &mut client);
    drop(pty.master);
    assert_app_runs_on(&c);
}

#[test]
fn entrypoint_test_trace_in_a_replica_shows_the_open_that_kills_the_app() {
    let c = Container::run(&python_app_image(), &["-e", "CRASH_ON_LOG_ERROR=1"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.inspect("{{.State.Status}}") != "exited" {
        assert!(Instant::now() < deadline, "the app did not crash");
        thread::sleep(Duration::from_millis(100));
    }
    let out = Nosh::new()
        .arg(c.name())
        .c("entrypoint --test --trace")
        .run();
    out.code_is(1)
        .stdout_has("entrypoint --test: exited 1")
        .stdout_has("-> why /var/log/claims-api/app.log write");
    let line = out
        .stdout()
        .lines()
        .find(|l| l.contains("\"/var/log/claims-api/app.log\""))
        .unwrap_or_else(|| panic!("no call on the log file: {out:?}"));
    assert!(
        line.contains("O_WRONLY|O_CREAT|O_APPEND") && line.ends_with("EACCES (Permission denied)"),
        "{line}"
    );
    let summary = out.stdout().split("summary: ").nth(1).unwrap();
    assert!(
        summary
            .lines()
            .any(|l| l.contains("EACCES") && l.contains("/var/log/claims-api/app.log")),
        "{summary}"
    );
}

#[test]
fn a_seccomp_profile_without_ptrace_is_named_as_the_reason() {
    let c = retrying_app();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("no-ptrace.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    // The toolbox as the host half starts it, with this profile added.
    let seccomp = format!("seccomp={}", profile.display());
    let out = Nosh::toolbox_beside(
        &c,
        &[
            "--cap-add",
            "SYS_ADMIN",
            "--cap-add",
            "SYS_PTRACE",
            "--cap-add",
            "SYS_CHROOT",
            "--security-opt",
            &seccomp,
        ],
    )
    .c("trace -p 1")
    .run();
    out.code_is(1)
        .stderr_has("trace: the kernel refused to trace pid 1 (Operation not permitted); this shell runs under a seccomp filter")
        .stderr_has("must allow ptrace");
    assert_app_runs_on(&c);
}

/// A container running `trace-app MODE` as 65532 (FROM scratch, no shell).
fn trace_app_container(mode: &str, args: &[&str]) -> Container {
    let image = common::static_program_image("trace-app", trace::trace_app());
    let c = Container::run_cmd(&image, args, &[mode]);
    c.wait_running();
    c
}

/// Every thread of the container's app is neither stopped nor traced.
fn assert_untraced_not_stopped(c: &Container) {
    let pid = c.host_pid();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let states = threads_state(pid);
        if states
            .iter()
            .all(|(s, t)| *t == 0 && !matches!(s, 't' | 'T'))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "threads of {pid} left as {states:?} (state, TracerPid)"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The app of a `vfork` container, asleep in the kernel in vfork (its
/// child pauses and never execs).
fn vforked_app() -> Container {
    let c = trace_app_container("vfork", &[]);
    let pid = c.host_pid();
    let deadline = Instant::now() + Duration::from_secs(20);
    while threads_state(pid) != [('D', 0)] {
        assert!(Instant::now() < deadline, "the app never sat in vfork");
        thread::sleep(Duration::from_millis(50));
    }
    c
}

/// Waits (≤ 30 s) until a thread of `pid` is traced; returns when.
fn traced_at(pid: u32) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !threads_state(pid).iter().any(|(_, t)| *t != 0) {
        assert!(Instant::now() < deadline, "the app never got traced");
        thread::sleep(Duration::from_millis(20));
    }
    Instant::now()
}

#[test]
fn a_sidecar_trace_ends_at_its_timeout_though_a_thread_never_stops() {
    let c = vforked_app();
    let pid = c.host_pid();
    let mut client = Command::new(nosh_bin())
        .args([c.name(), "-c", "trace -p 1 --timeout 2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let attached = traced_at(pid);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = client.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            let _ = client.wait();
            panic!("a 2 s trace still ran 30 s later");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let took = attached.elapsed();
    let out = client.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "{err}");
    assert!(
        took < Duration::from_secs(2 + 3),
        "a 2 s trace took {took:?} from attaching to the end of the session"
    );
    assert!(
        err.contains("trace: timed out; detached from pid 1"),
        "{err}"
    );
    assert!(err.contains("never stopped to be detached"), "{err}");
    assert_untraced_not_stopped(&c);
    assert_eq!(threads_state(pid), [('D', 0)], "no longer in its vfork");
}

#[test]
fn ctrl_c_on_the_terminal_ends_a_sidecar_trace_whose_thread_never_stops() {
    let c = vforked_app();
    let pid = c.host_pid();
    let mut cmd = Command::new(nosh_bin());
    cmd.args(["-t", c.name(), "-c", "trace -p 1"]);
    let mut term = pty::Pty::spawn(cmd, 120, 30);
    traced_at(pid);
    let took = trace::press_ctrl_c(&mut term);
    assert!(
        took < Duration::from_secs(3),
        "Ctrl-C took {took:?} to end the session"
    );
    assert_untraced_not_stopped(&c);
    assert_eq!(threads_state(pid), [('D', 0)], "no longer in its vfork");
}

#[test]
fn a_sidecar_tracing_an_app_that_opens_ever_new_paths_stays_small() {
    // 12,000 distinct 4 KiB paths: kept one by one, about 80 MiB.
    const CALLS: u64 = 12_000;
    let c = trace_app_container("paths", &[]);
    let client = Command::new(nosh_bin())
        .args([c.name(), "-c", "trace -p 1 --timeout 100"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    traced_at(c.host_pid());
    let sidecar = c.running_sidecars().pop().expect("a running sidecar");
    let sidecar_pid: i32 = common::docker_ok(&["inspect", "--format", "{{.State.Pid}}", &sidecar])
        .parse()
        .unwrap();
    let flood = trace::follow_flood(
        client,
        CALLS,
        48 * 1024,
        &|| unshare::tree_rss_kib(sidecar_pid),
        // Ctrl-C, as the toolbox gets it on a terminal.
        &|| {
            common::docker_ok(&["kill", "--signal", "INT", &sidecar]);
        },
    );
    flood.check_interrupted_with_a_folded_summary(CALLS);
    assert_untraced_not_stopped(&c);
}

#[test]
fn a_sidecar_trace_names_the_capability_a_privileged_call_lacked() {
    // Ports below 1024 privileged, as Kubernetes and host networking keep
    // them (Docker's own default is 0).
    let c = trace_app_container(
        "vfork",
        &["--sysctl", "net.ipv4.ip_unprivileged_port_start=1024"],
    );
    let out = Nosh::new()
        .arg(c.name())
        .c("trace -- /app/trace-app privileged")
        .run();
    out.success()
        .stdout_has("chroot(\"/\") = -1 EPERM (Operation not permitted)\n    -> needs CAP_SYS_CHROOT (an EPERM no chown fixes): ")
        .stdout_has("setuid(0) = -1 EPERM (Operation not permitted)\n    -> needs CAP_SETUID ")
        .stdout_has("setgroups(0, NULL) = -1 EPERM (Operation not permitted)\n    -> needs CAP_SETGID ")
        .stdout_has("chown(\"/app\", 0, 0) = -1 EPERM (Operation not permitted)\n    -> needs CAP_CHOWN ")
        .stdout_has("bind(3, 0.0.0.0:80, 16) = -1 EACCES (Permission denied)\n    -> needs CAP_NET_BIND_SERVICE (an EACCES no chown fixes): listen on an unprivileged port")
        .stdout_has("S_IFCHR|0600, makedev(0x1, 0x3)) = -1 EPERM (Operation not permitted)\n    -> needs CAP_MKNOD ")
        .stdout_has("; or grant it with --cap-add SYS_CHROOT\n")
        .stdout_lacks("-> why");
    assert_untraced_not_stopped(&c);
}
