//! `trace` without Docker: the toolbox against an `unshare`-made target
//! whose app runs as 65532. Every test checks, from the host, that the app
//! is left running, untraced and not stopped. Runs as root.

#[path = "support/unshare.rs"]
mod unshare;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use unshare::{Target, nosh, put, stderr, stdout};

/// The state letter of /proc/PID/stat and the TracerPid of a host pid.
fn state_and_tracer(pid: i32) -> (char, i32) {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("the app is gone");
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let tracer = unshare::status_field(&status, "TracerPid")
        .unwrap()
        .parse()
        .unwrap();
    (state, tracer)
}

/// The app (every thread) runs on: not stopped, not traced.
fn assert_running_untraced(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (state, tracer) = state_and_tracer(pid);
        if tracer == 0 && !matches!(state, 't' | 'T') {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} left in state {state}, TracerPid {tracer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A target whose app fails to open a root-only file every 50 ms.
fn poking(args: &[&str]) -> Target {
    Target::start_args(args, |r| put(r, "etc/root-log", b"", 0o600))
}

#[test]
fn trace_attached_as_the_app_uid_shows_the_failing_open_and_points_at_why() {
    let t = poking(&["poke", "/etc/root-log"]);
    let out = t.toolbox(&[], "trace -p 1 --timeout 1");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains(
            "openat(AT_FDCWD, \"/etc/root-log\", O_WRONLY|O_APPEND) = -1 EACCES (Permission denied)"
        ),
        "{text}"
    );
    assert!(text.contains("    -> why /etc/root-log write\n"), "{text}");
    // Successful calls (close, nanosleep) are not shown without --all.
    assert!(!text.contains("close("), "{text}");
    let summary = text.split("summary: ").nth(1).expect("a summary");
    assert!(summary.contains("failed calls"), "{summary}");
    assert!(
        summary
            .lines()
            .any(|l| l.contains("EACCES") && l.contains("openat") && l.contains("/etc/root-log")),
        "{summary}"
    );
    assert!(
        stderr(&out).contains("attached to pid 1 (1 thread) as uid 65532"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("timed out; detached from pid 1"));
    assert_running_untraced(t.pid);
}

#[test]
fn trace_all_shows_successful_calls_and_json_is_one_object_per_call() {
    let t = poking(&["poke", "/etc/root-log"]);
    let out = t.toolbox(&[], "trace -p 1 --all --json --timeout 1");
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let failed = lines
        .iter()
        .find(|e| e["syscall"] == "openat")
        .expect("an openat event");
    assert_eq!(failed["path"], "/etc/root-log");
    assert_eq!(failed["errno"], "EACCES");
    assert_eq!(failed["flags"], "O_WRONLY|O_APPEND");
    assert_eq!(failed["result"], -13);
    assert!(
        lines
            .iter()
            .any(|e| e["syscall"] == "clock_nanosleep" && e["result"] == 0),
        "--all shows successful calls"
    );
    let last = lines.last().unwrap();
    assert_eq!(last["end"], "timed out");
    let row = last["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["syscall"] == "openat")
        .expect("openat in the summary");
    assert_eq!(
        (&row["syscall"], &row["target"], &row["errno"]),
        (
            &serde_json::json!("openat"),
            &serde_json::json!("/etc/root-log"),
            &serde_json::json!("EACCES")
        )
    );
    assert_running_untraced(t.pid);
}

#[test]
fn trace_of_a_started_program_follows_its_fork_and_passes_its_status_on_from_a_non_dumpable_shell()
{
    let t = poking(&["poke", "/etc/root-log"]);
    // The shell itself is not dumpable (it changed its uid; /proc/self is
    // root's then): the kernel checks the tracee's dumpability, not the
    // tracer's, and the program is dumpable again from its exec.
    let out = t.toolbox(
        &[],
        "stat /proc/self/stat; trace --all -- /app/app forkopen /etc/secret",
    );
    let text = stdout(&out);
    assert!(
        text.contains("Uid: (    0/    root)"),
        "the shell is dumpable, the test proves less than it says:\n{text}"
    );
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    let line = text
        .lines()
        .find(|l| l.contains("\"/etc/secret\", O_RDONLY) = -1 EACCES"))
        .unwrap_or_else(|| panic!("no failed open in\n{text}"));
    // The open is the forked child's, not the program's own pid.
    let first_pid = text
        .lines()
        .find(|l| l.starts_with("[pid "))
        .map(|l| l.split(']').next().unwrap().to_string());
    assert!(
        stderr(&out).contains("exited with status 3"),
        "{}",
        stderr(&out)
    );
    let pid_of = |l: &str| l.split(']').next().unwrap().to_string();
    assert_ne!(Some(pid_of(line)), first_pid, "{text}");
    assert!(text.contains("fork(") || text.contains("clone("), "{text}");
    assert!(text.contains("-> why /etc/secret read"), "{text}");
    assert_running_untraced(t.pid);
}

#[test]
fn trace_names_why_the_kernel_refuses_and_never_hangs() {
    let t = poking(&["poke", "/etc/root-log"]);
    // Another uid: the ids are named, and the fix.
    let out = t.toolbox(&["--user", "1234"], "trace -p 1");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "trace: pid 1 runs as uid 65532/65532/65532 and this shell is uid 1234 with no capabilities"
        ) && stderr(&out).contains("--user 65532"),
        "{}",
        stderr(&out)
    );
    assert_running_untraced(t.pid);

    // A non-dumpable process of the same uid.
    let t = poking(&["nodump", "/etc/root-log"]);
    let out = t.toolbox(&[], "trace -p 1");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("trace: pid 1 is not dumpable"),
        "{}",
        stderr(&out)
    );
    assert_running_untraced(t.pid);
}

#[test]
fn trace_bad_input_is_one_sentence_and_a_non_zero_status() {
    let t = poking(&["poke", "/etc/root-log"]);
    let out = t.toolbox(&[], "trace -p 4242");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "trace: no process 4242 in the target (`ps` lists its processes)\n"
    );
    let out = t.toolbox(&[], "trace -p x1");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "trace: x1: not a process id\n");
    let out = t.toolbox(&[], "trace -- /app/nope");
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).starts_with("trace: /app/nope: not found in the target"),
        "{}",
        stderr(&out)
    );
    let out = t.toolbox(&[], "trace");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-p PID (a running process) or -- PROGRAM ARGS"));
    assert_running_untraced(t.pid);
}

#[test]
fn a_process_that_exits_mid_trace_ends_it_with_one_sentence() {
    // The default app has a child that pauses; killing PID 1 would take
    // the whole namespace (and the shell) down, so the child is traced.
    let t = Target::start();
    let deadline = Instant::now() + Duration::from_secs(10);
    let child = loop {
        if let Some(c) = unshare::children(t.pid).first() {
            break *c;
        }
        assert!(Instant::now() < deadline, "the app has no child");
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = fs::read_to_string(format!("/proc/{child}/status")).unwrap();
    let inner = unshare::status_field(&status, "NSpid")
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let mut shell = Command::new(nosh())
        .args([
            "toolbox",
            "--pid",
            &t.pid.to_string(),
            "-c",
            &format!("trace -p {inner}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_traced(child);
    Command::new("kill")
        .args(["-KILL", &child.to_string()])
        .status()
        .unwrap();
    let out = wait_bounded(&mut shell);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // One sentence, after the summary of what was seen.
    let err = stderr(&out);
    let said: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("trace: attached"))
        .collect();
    assert_eq!(
        said,
        [format!(
            "trace: pid {inner} exited during the trace (status 137)"
        )],
        "{}",
        stderr(&out)
    );
    assert_running_untraced(t.pid);
}

/// Waits until the app has a tracer, and returns the tracer's host pid.
fn wait_traced(pid: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, tracer) = state_and_tracer(pid);
        if tracer != 0 {
            return tracer;
        }
        assert!(Instant::now() < deadline, "pid {pid} never got traced");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_bounded(child: &mut std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the toolbox did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = std::process::Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut out.stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut out.stderr);
    }
    out
}

#[test]
fn ctrl_c_detaches_and_the_app_runs_on() {
    let t = poking(&["poke", "/etc/root-log"]);
    let mut shell = Command::new(nosh())
        .args(["toolbox", "--pid", &t.pid.to_string(), "-c", "trace -p 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tracer = wait_traced(t.pid);
    std::thread::sleep(Duration::from_millis(300));
    // Ctrl-C reaches the shell (the tracer) as SIGINT.
    Command::new("kill")
        .args(["-INT", &tracer.to_string()])
        .status()
        .unwrap();
    let out = wait_bounded(&mut shell);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("trace: interrupted; detached from pid 1, which runs on"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("EACCES"), "{}", stdout(&out));
    assert_running_untraced(t.pid);
    // Still doing its work: new failing calls keep coming, untraced.
    let (state, _) = state_and_tracer(t.pid);
    assert!(matches!(state, 'S' | 'R'), "{state}");
}

#[test]
fn a_killed_tracer_leaves_the_app_running() {
    let t = poking(&["poke", "/etc/root-log"]);
    let mut shell = Command::new(nosh())
        .args(["toolbox", "--pid", &t.pid.to_string(), "-c", "trace -p 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tracer = wait_traced(t.pid);
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-KILL", &tracer.to_string()])
        .status()
        .unwrap();
    let _ = wait_bounded(&mut shell);
    assert_running_untraced(t.pid);
}

#[test]
fn a_hung_up_terminal_ends_the_trace_and_detaches() {
    let t = poking(&["poke", "/etc/root-log"]);
    let pty = nix::pty::openpty(None, None).unwrap();
    // openpty(3) leaves the master inheritable: keep it out of nosh, or
    // the terminal never hangs up.
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .unwrap();
    let slave = std::fs::File::from(pty.slave);
    let mut shell = Command::new(nosh())
        .args(["toolbox", "--pid", &t.pid.to_string(), "-c", "trace -p 1"])
        .stdin(slave)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_traced(t.pid);
    std::thread::sleep(Duration::from_millis(300));
    // The terminal goes away, as when the session's client does.
    drop(pty.master);
    let out = wait_bounded(&mut shell);
    assert!(
        stderr(&out).contains("trace: session ended; detached from pid 1, which runs on"),
        "{}",
        stderr(&out)
    );
    assert_running_untraced(t.pid);
}

#[test]
fn failed_socket_calls_show_the_address_and_the_errno_by_name() {
    let t = Target::start();
    let out = t.toolbox(&[], "trace -- /app/app net");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{text}\n{}", stderr(&out));
    // The namespace's loopback is down: nothing is reachable.
    assert!(
        text.contains("connect(3, 127.0.0.1:9, 16) = -1 ENETUNREACH (Network is unreachable)"),
        "{text}"
    );
    assert!(
        text.contains("bind(5, 0.0.0.0:8099, 16) = -1 EADDRINUSE (Address already in use)"),
        "{text}"
    );
    let summary = text.split("summary: ").nth(1).expect("a summary");
    for (errno, addr) in [
        ("ENETUNREACH", "127.0.0.1:9"),
        ("EADDRINUSE", "0.0.0.0:8099"),
    ] {
        assert!(
            summary
                .lines()
                .any(|l| l.contains(errno) && l.ends_with(addr)),
            "{summary}"
        );
    }
    // No `why` pointer for a socket call.
    assert!(!text.contains("-> why"), "{text}");
}
