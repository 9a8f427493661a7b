//! `trace` without Docker: the toolbox against an `unshare`-made target
//! whose app runs as 65532. Every test checks, from the host, that the app
//! is left running, untraced and not stopped. Runs as root.

#[path = "support/pty.rs"]
mod pty;
#[path = "support/trace.rs"]
mod trace;
#[path = "support/unshare.rs"]
mod unshare;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use trace::trace_app;
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

/// `nosh toolbox --pid <app> -c LINE` started, stdin empty, the rest piped.
fn spawn_toolbox(t: &Target, line: &str) -> std::process::Child {
    Command::new(nosh())
        .args(["toolbox", "--pid", &t.pid.to_string(), "-c", line])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A target whose app is `trace-app MODE`.
fn running(mode: &str) -> Target {
    Target::start_args(&[mode], |r| {
        fs::copy(trace_app(), r.join("app/app")).unwrap();
    })
}

#[test]
fn a_trace_of_an_app_opening_ever_new_paths_stays_small_and_folds_the_rest_into_one_line() {
    // 12,000 distinct 4 KiB paths: kept one by one, about 100 MiB.
    const CALLS: u64 = 12_000;
    let t = running("paths");
    let shell = spawn_toolbox(&t, "trace -p 1 --timeout 100");
    let pid = shell.id() as i32;
    let flood = trace::follow_flood(
        shell,
        CALLS,
        48 * 1024,
        &|| unshare::tree_rss_kib(pid),
        // Ctrl-C, as the shell gets it (the process outside the namespace
        // ignores it).
        &|| {
            for child in unshare::children(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child),
                    nix::sys::signal::Signal::SIGINT,
                );
            }
        },
    );
    flood.check_interrupted_with_a_folded_summary(CALLS);
    assert_running_untraced(t.pid);
}

/// The app of a `vfork` target, asleep in the kernel until its child
/// execs, which it never does.
fn in_vfork(t: &Target) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while unshare::children(t.pid).is_empty() || state_and_tracer(t.pid).0 != 'D' {
        assert!(Instant::now() < deadline, "the app never sat in vfork");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_thread_that_never_stops_does_not_hold_the_trace_past_its_timeout() {
    let t = running("vfork");
    in_vfork(&t);
    let started = Instant::now();
    let mut shell = spawn_toolbox(&t, "trace -p 1 --timeout 2");
    let out = wait_bounded(&mut shell);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took < Duration::from_secs(5), "a 2 s trace took {took:?}");
    let err = stderr(&out);
    assert!(
        err.contains("trace: timed out; detached from pid 1"),
        "{err}"
    );
    assert!(
        err.contains("trace: thread 1 never stopped to be detached (asleep in the kernel"),
        "{err}"
    );
    assert_running_untraced(t.pid);
    // Still in its vfork, untouched.
    assert_eq!(state_and_tracer(t.pid), ('D', 0));
}

#[test]
fn ctrl_c_on_a_terminal_ends_a_trace_whose_thread_never_stops() {
    let t = running("vfork");
    in_vfork(&t);
    let mut cmd = Command::new(nosh());
    cmd.args(["toolbox", "--pid", &t.pid.to_string(), "-c", "trace -p 1"]);
    let mut term = pty::Pty::spawn(cmd, 100, 30);
    wait_traced(t.pid);
    let took = trace::press_ctrl_c(&mut term);
    assert!(
        took < Duration::from_secs(2),
        "Ctrl-C took {took:?} to end the trace"
    );
    assert_running_untraced(t.pid);
    assert_eq!(state_and_tracer(t.pid), ('D', 0));
}

/// `name(args) = result` (strace's, or nosh's after its `[pid N] `): the
/// name, the arguments split at their top-level commas, the result.
fn parse_call(line: &str) -> Option<(String, Vec<String>, String)> {
    let line = match line.strip_prefix("[pid ") {
        Some(rest) => rest.split_once("] ")?.1,
        None => line,
    };
    let open = line.find('(')?;
    let name = &line[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let (mut depth, mut quoted, mut escaped) = (0, false, false);
    let (mut args, mut arg) = (Vec::new(), String::new());
    for (i, c) in line[open + 1..].char_indices() {
        if quoted {
            arg.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '{' | '[' | '(' => depth += 1,
            '}' | ']' => depth -= 1,
            ')' if depth == 0 => {
                if !arg.trim().is_empty() {
                    args.push(arg.trim().to_string());
                }
                let result = line[open + 1 + i + 1..].trim_start().strip_prefix('=')?;
                return Some((name.to_string(), args, result.trim().to_string()));
            }
            ')' => depth -= 1,
            ',' if depth == 0 => {
                args.push(arg.trim().to_string());
                arg.clear();
                continue;
            }
            _ => {}
        }
        arg.push(c);
    }
    None
}

/// The calls of a trace from the workload's first `pipe2` on.
fn workload(text: &str) -> Vec<(String, Vec<String>, String)> {
    let calls: Vec<_> = text.lines().filter_map(parse_call).collect();
    let start = calls
        .iter()
        .position(|(name, ..)| name == "pipe2")
        .unwrap_or_else(|| panic!("no pipe2 in\n{text}"));
    calls[start..].to_vec()
}

#[test]
fn the_common_calls_read_as_strace_prints_them() {
    // The same program, traced by strace on the host and by trace in a
    // target, both as 65532.
    let t = Target::start_with(|r| {
        fs::copy(trace_app(), r.join("app/trace-app")).unwrap();
    });
    let out = t.toolbox(&[], "trace --all -- /app/trace-app calls");
    assert!(out.status.success(), "{}", stderr(&out));
    let ours = workload(&stdout(&out));
    let mut strace = Command::new("setpriv");
    strace
        .args(["--reuid", "65532", "--regid", "65532", "--clear-groups"])
        .args(["strace", "-f", "-qq"])
        .arg(trace_app())
        .arg("calls");
    // As a program trace starts, it holds fds 0-2 only: the lowest free fd
    // a dup returns is then the same for both.
    // SAFETY: close_range is async-signal-safe and allocates nothing.
    unsafe {
        use std::os::unix::process::CommandExt;
        strace.pre_exec(|| {
            let r = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let strace = strace
        .output()
        .expect("strace is needed: apt-get install strace");
    assert!(strace.status.success(), "{}", stderr(&strace));
    let theirs = workload(&stderr(&strace));
    // Which arguments to compare, per call: all of them unless an address
    // or a pid (which differ between runs) sits there; the result too,
    // unless it is an address or a state that differs (the shell's
    // dropped bounding set).
    let check = |name: &str, nth: usize, args: &[usize], result: bool| {
        let find = |calls: &[(String, Vec<String>, String)], who: &str| {
            calls
                .iter()
                .filter(|(n, ..)| n == name)
                .nth(nth)
                .cloned()
                .unwrap_or_else(|| panic!("{who}: no {name} #{nth}"))
        };
        let (a, b) = (find(&ours, "nosh"), find(&theirs, "strace"));
        for &i in args {
            assert_eq!(
                a.1.get(i),
                b.1.get(i),
                "{name} #{nth} argument {i}: nosh {a:?}, strace {b:?}"
            );
        }
        if result {
            assert_eq!(a.2, b.2, "{name} #{nth}: nosh {a:?}, strace {b:?}");
        }
    };
    check("pipe2", 0, &[0, 1], true);
    for nth in 0..3 {
        check("prctl", nth, &[0, 1, 2, 3, 4], nth != 1);
    }
    // ENOTTY in glibc's words, not "Not a typewriter".
    check("ioctl", 0, &[0, 1], true);
    check("ioctl", 1, &[0, 1], true);
    check("ioctl", 2, &[0, 1, 2], true);
    for nth in 0..5 {
        check("fcntl", nth, &[0, 1, 2], true);
    }
    check("dup2", 0, &[0, 1], true);
    for nth in 0..3 {
        check("socket", nth, &[0, 1, 2], true);
    }
    check("setsockopt", 0, &[0, 1, 2, 3, 4], true);
    check("listen", 0, &[0, 1], true);
    check("accept4", 0, &[0, 1, 2, 3], true);
    check("epoll_create1", 0, &[0], true);
    for nth in 0..3 {
        check("epoll_ctl", nth, &[0, 1, 2, 3], true);
    }
    check("mmap", 0, &[0, 1, 2, 3, 4, 5], false);
    check("mmap", 1, &[0, 1, 2, 3, 4, 5], true);
    check("mprotect", 0, &[1, 2], true);
    check("munmap", 0, &[1], true);
    check("openat", 0, &[0, 1, 2, 3], true);
    check("openat", 1, &[0, 1, 2, 3], true);
    check("close", 0, &[0], true);
    check("close", 1, &[0], true);
    check("kill", 0, &[1], true);
    check("lseek", 0, &[0, 1, 2], true);
    // What differs on purpose: a socket address is `ip:port`.
    let bind = ours.iter().find(|(n, ..)| n == "bind").unwrap();
    assert_eq!(bind.1[1], "0.0.0.0:0");
    let text = stdout(&out);
    assert!(
        text.contains("ioctl(3, TCGETS, ")
            && text.contains("= -1 ENOTTY (Inappropriate ioctl for device)"),
        "{text}"
    );
}

/// The host's dynamic loader and C library, into a target's root.
fn add_loader(root: &Path) {
    for (from, to) in [
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6",
        ),
    ] {
        let to = root.join(to);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(fs::canonicalize(from).unwrap(), &to).unwrap();
    }
}

/// A dynamic program needing `libfound.so.1` (in /opt/c) and
/// `libmissing.so.1` (nowhere), with RPATH /opt/a:/opt/b:/opt/c; built
/// once. Returns (program, libfound).
fn dynamic_program() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("nosh-ldso-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let gcc = |args: &[&str]| {
            let out = Command::new("gcc")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("gcc");
            assert!(out.status.success(), "{}", stderr(&out));
        };
        fs::write(dir.join("lib.c"), "int f(void) { return 0; }\n").unwrap();
        fs::write(
            dir.join("main.c"),
            "int f(void);\nint main(void) { return f(); }\n",
        )
        .unwrap();
        for lib in ["libfound.so.1", "libmissing.so.1"] {
            gcc(&[
                "-shared",
                "-fPIC",
                "-o",
                lib,
                &format!("-Wl,-soname,{lib}"),
                "lib.c",
            ]);
        }
        gcc(&[
            "-o",
            "dyn",
            "main.c",
            "-L.",
            "-l:libfound.so.1",
            "-Wl,--no-as-needed",
            "-l:libmissing.so.1",
            "-Wl,-rpath,/opt/a:/opt/b:/opt/c",
            "-Wl,--disable-new-dtags",
        ]);
        (dir.join("dyn"), dir.join("libfound.so.1"))
    })
}

#[test]
fn a_loaders_search_for_a_library_is_one_line_with_the_dirs_strace_shows() {
    let (program, found) = dynamic_program();
    let t = Target::start_with(|r| {
        add_loader(r);
        fs::copy(program, r.join("app/dyn")).unwrap();
        fs::create_dir_all(r.join("opt/c")).unwrap();
        fs::copy(found, r.join("opt/c/libfound.so.1")).unwrap();
    });
    // The test's own LD_LIBRARY_PATH (cargo's) stays out of the search.
    let shell = |line: &str| t.toolbox(&[], &format!("unset LD_LIBRARY_PATH; {line}"));
    // Text: one line per library instead of a line per place tried.
    let out = shell("trace -- /app/dyn");
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "ld.so: libfound.so.1: found at /opt/c/libfound.so.1; tried /opt/a, /opt/b and "
        ),
        "{text}"
    );
    let missing_line = text
        .lines()
        .find(|l| l.contains("ld.so: libmissing.so.1: not found; tried "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        missing_line.contains("/lib/x86_64-linux-gnu") && missing_line.ends_with(" opens, ENOENT)"),
        "{missing_line}"
    );
    assert!(
        text.contains("    -> file /app/dyn (every library it needs"),
        "{text}"
    );
    assert!(!text.contains("libmissing.so.1\", O_RDONLY"), "{text}");
    // The same search under strace, in the same root, as the same user.
    let strace = Command::new("strace")
        .args(["-f", "-qq", "chroot", "--userspec=65532:65532"])
        .arg(t.root.path())
        .arg("/app/dyn")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("strace is needed: apt-get install strace");
    let lines = stderr(&strace);
    let tried: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("/libmissing.so.1\", O_RDONLY|O_CLOEXEC) = -1 ENOENT"))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(
        tried.len() > 20,
        "strace saw only {} opens:\n{lines}",
        tried.len()
    );
    let mut dirs: Vec<&str> = Vec::new();
    for path in &tried {
        let dir = path.rsplit_once('/').unwrap().0;
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    assert!(
        missing_line.contains(&format!("({} opens, ENOENT)", tried.len())),
        "{missing_line}"
    );
    let out = shell("trace --json -- /app/dyn");
    let missing: serde_json::Value = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["library"] == "libmissing.so.1")
        .unwrap_or_else(|| panic!("no search for libmissing.so.1:\n{}", stdout(&out)));
    assert_eq!(missing["found"], serde_json::Value::Null);
    assert_eq!(missing["errno"], "ENOENT");
    assert_eq!(missing["opens"], tried.len());
    assert_eq!(missing["dirs"], serde_json::json!(dirs));
    assert_eq!(missing["program"], "/app/dyn");
}

#[test]
fn a_failed_privileged_call_names_the_capability_it_lacked_and_never_why() {
    let t = Target::start_with(|r| {
        fs::copy(trace_app(), r.join("app/trace-app")).unwrap();
    });
    let out = t.toolbox(&[], "trace -- /app/trace-app privileged");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (call, errno, cap) in [
        ("chroot(\"/\")", "EPERM", "CAP_SYS_CHROOT"),
        ("setuid(0)", "EPERM", "CAP_SETUID"),
        ("setgid(0)", "EPERM", "CAP_SETGID"),
        ("setgroups(0, NULL)", "EPERM", "CAP_SETGID"),
        ("chown(\"/app\", 0, 0)", "EPERM", "CAP_CHOWN"),
        ("bind(3, 0.0.0.0:80, 16)", "EACCES", "CAP_NET_BIND_SERVICE"),
        (
            "mknodat(AT_FDCWD, \"/tmp/nosh-null\", S_IFCHR|0600, makedev(0x1, 0x3))",
            "EPERM",
            "CAP_MKNOD",
        ),
        ("setpriority(PRIO_PROCESS, 0, -5)", "EACCES", "CAP_SYS_NICE"),
        ("mlock(", "EPERM", "CAP_IPC_LOCK"),
    ] {
        let at = text
            .lines()
            .position(|l| l.contains(call) && l.contains(&format!("= -1 {errno} (")))
            .unwrap_or_else(|| panic!("no {call} failing with {errno}:\n{text}"));
        let pointer = text.lines().nth(at + 1).unwrap_or_default();
        let engine_name = cap.trim_start_matches("CAP_");
        assert!(
            pointer.starts_with(&format!("    -> needs {cap} (an {errno} no chown fixes): "))
                && pointer.ends_with(&format!("; or grant it with --cap-add {engine_name}")),
            "{call}: {pointer}"
        );
    }
    assert!(!text.contains("-> why"), "{text}");
    // The same in JSON, for machines.
    let out = t.toolbox(&[], "trace --json -- /app/trace-app privileged");
    let chroot: serde_json::Value = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["syscall"] == "chroot")
        .unwrap();
    assert_eq!(chroot["capability"], "CAP_SYS_CHROOT");
    assert_eq!(chroot["errno"], "EPERM");
}

#[test]
fn the_library_api_returns_each_failed_call_with_the_capability_it_lacked() {
    use nosh::trace::session::{Options, Subject, failed_calls};
    // The program as 65532, traced by this test process.
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", "65532", "--regid", "65532", "--clear-groups"])
        .arg(trace_app())
        .arg("privileged")
        .stdout(Stdio::null());
    let traced = failed_calls(
        Subject::Program(cmd),
        Options {
            timeout: Some(Duration::from_secs(30)),
            ..Options::default()
        },
    )
    .expect("the trace");
    assert_eq!(traced.outcome.end, nosh::trace::End::Exited(0));
    let needs: Vec<(&str, Option<&str>, Option<&str>)> = traced
        .failures
        .iter()
        .map(|e| (e.syscall.as_str(), e.errno.as_deref(), e.capability))
        .collect();
    for want in [
        ("chroot", Some("EPERM"), Some("CAP_SYS_CHROOT")),
        ("setuid", Some("EPERM"), Some("CAP_SETUID")),
        ("setgroups", Some("EPERM"), Some("CAP_SETGID")),
        ("mknodat", Some("EPERM"), Some("CAP_MKNOD")),
        ("mlock", Some("EPERM"), Some("CAP_IPC_LOCK")),
    ] {
        assert!(needs.contains(&want), "{want:?} not in {needs:?}");
    }
    let chroot = traced
        .failures
        .iter()
        .find(|e| e.syscall == "chroot")
        .unwrap();
    assert_eq!(chroot.path.as_deref(), Some("/"));
    assert_eq!(
        traced.summary.total(),
        traced.failures.len() as u64,
        "{:#?} {:#?}",
        traced.summary.rows(),
        traced.libraries
    );
}

/// The last line of a `trace --json` run: its summary and counts.
fn json_end(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    let text = stdout(out);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"))
}

#[test]
fn a_started_program_stops_only_at_the_reported_calls_and_misses_none_of_their_failures() {
    let t = Target::start_with(|r| {
        fs::copy(trace_app(), r.join("app/trace-app")).unwrap();
    });
    for mode in ["reported", "privileged"] {
        let filtered = json_end(&t.toolbox(&[], &format!("trace --json -- /app/trace-app {mode}")));
        let every = json_end(&t.toolbox(
            &[],
            &format!("trace --json --every-call -- /app/trace-app {mode}"),
        ));
        assert_eq!(filtered["filter"], true, "{filtered}");
        assert_eq!(every["filter"], false, "{every}");
        // Every failure seen at every call is seen under the filter.
        assert_eq!(filtered["summary"], every["summary"], "{mode}");
        assert_eq!(filtered["total"], every["total"], "{mode}");
    }
    let out = t.toolbox(&[], "trace --json -- /app/trace-app reported");
    let end = json_end(&out);
    let failed: Vec<(String, String, String)> = end["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("syscall"), s("errno"), s("target"))
        })
        .collect();
    for (call, errno, target) in [
        ("openat", "ENOENT", "/nonexistent/app.conf"),
        ("access", "ENOENT", "/nonexistent/app.conf"),
        ("mkdir", "ENOENT", "/nonexistent/dir"),
        ("unlink", "ENOENT", "/nonexistent/file"),
        ("rename", "ENOENT", "/nonexistent/a"),
        ("chroot", "EPERM", "/"),
        ("setuid", "EPERM", ""),
        ("socket", "EPERM", ""),
        ("kill", "ESRCH", ""),
        ("execve", "ENOENT", "/nonexistent/bin"),
        // In a forked child: the filter is inherited.
        ("openat", "ENOENT", "/nonexistent/child.conf"),
    ] {
        let want = (call.to_string(), errno.to_string(), target.to_string());
        assert!(failed.contains(&want), "{want:?} not in {failed:?}");
    }
    assert!(
        failed
            .iter()
            .any(|(c, _, t)| c == "connect" && t == "127.0.0.1:1"),
        "{failed:?}"
    );
    // 40000 calls trace does not report (getppid, read) never stopped the
    // program; at every call they are two stops each.
    let stops = end["stops"].as_u64().unwrap();
    assert!(stops < 500, "{stops} stops under the filter");
    let every = json_end(&t.toolbox(&[], "trace --json --every-call -- /app/trace-app reported"));
    assert!(every["stops"].as_u64().unwrap() > 80_000, "{every}");
    // --all shows every call: it stops at each.
    let all = json_end(&t.toolbox(&[], "trace --json --all -- /app/trace-app reported"));
    assert_eq!(all["filter"], false, "{all}");
}

#[test]
fn a_program_that_cannot_be_executed_is_one_sentence_under_the_filter_too() {
    let t = Target::start_with(|r| {
        fs::write(r.join("app/script"), "#!/nonexistent/interpreter\n").unwrap();
        let mut perm = fs::metadata(r.join("app/script")).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        fs::set_permissions(r.join("app/script"), perm).unwrap();
    });
    for every in ["", "--every-call "] {
        let out = t.toolbox(&[], &format!("trace {every}-- /app/script"));
        assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("trace: /app/script: No such file or directory"),
            "{every}: {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("fatal runtime error"),
            "{}",
            stderr(&out)
        );
    }
}
