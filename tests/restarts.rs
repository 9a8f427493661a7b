//! The same answer every time: `doctor` and `entrypoint --test` against
//! containers the engine keeps restarting (`--restart always`,
//! `on-failure:N`). Whatever phase nosh finds the container in — a run
//! that is about to die, between two runs, given up — the findings, their
//! severities, the exit code the answer names and nosh's own exit status
//! are the same; nothing exits 0 while the last run failed, nothing exits
//! 125 because the engine restarted the target under a session.

mod common;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{Container, Nosh, docker_ok, python_app_image};
use serde_json::Value;

/// A database-like app: it starts, then refuses its data directory after
/// 1.5 s with its own exit code 2.
const REFUSES_ITS_DATA_DIR: &str = r#"
import sys, time
print("db: starting", flush=True)
time.sleep(1.5)
print('FATAL: data directory "/app" has wrong ownership', file=sys.stderr, flush=True)
sys.exit(2)
"#;

/// A service that runs until someone connects to port 7000, then dies with
/// exit code 3.
const DIES_ON_CONNECT: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000))
s.listen(1)
print("serving", flush=True)
s.accept()
print("FATAL: lost the connection to the primary", file=sys.stderr, flush=True)
sys.exit(3)
"#;

/// `script` run by the Python fixture's interpreter under `restart`.
fn looping(restart: &str, script: &str) -> Container {
    Container::run_cmd(
        &python_app_image(),
        &["--restart", restart, "--entrypoint", "/usr/bin/python3.11"],
        &["-c", script],
    )
}

/// Waits (≤ 30 s) until the engine has restarted `c` at least `n` times.
fn wait_restarts(c: &Container, n: u32) {
    c.wait_until("{{.RestartCount}}", Duration::from_secs(30), |count| {
        count.parse::<u32>().is_ok_and(|count| count >= n)
    });
}

/// What must not change from one run to the next: nosh's exit status, the
/// findings with their severities, and the exit code the crash-loop
/// finding names.
#[derive(Debug, PartialEq)]
struct Answer {
    status: i32,
    findings: Vec<(String, String)>,
    exit_code: Value,
}

fn doctor(c: &Container) -> (Answer, Value) {
    let out = Nosh::new().args(["doctor", "--json", c.name()]).run();
    let v: Value =
        serde_json::from_str(out.stdout()).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    let findings = v["findings"].as_array().expect("findings");
    let mut ids: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or_default().to_string(),
                f["severity"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    ids.sort();
    let crash = findings
        .iter()
        .find(|f| f["id"] == "crash-loop")
        .cloned()
        .unwrap_or(Value::Null);
    let answer = Answer {
        status: out.code(),
        findings: ids,
        exit_code: crash["evidence"]["exit_code"].clone(),
    };
    (answer, crash)
}

/// The crash-loop finding of an app that exited 2 by its own choice.
#[track_caller]
fn assert_names_exit_2(answer: &Answer, crash: &Value) {
    assert_eq!(answer.status, 1, "{answer:?}");
    assert!(
        answer
            .findings
            .contains(&("crash-loop".to_string(), "error".to_string())),
        "{answer:?}"
    );
    assert_eq!(answer.exit_code, 2, "{crash}");
    let message = crash["message"].as_str().unwrap_or_default();
    assert!(message.contains("last exit code 2"), "{message}");
    assert!(message.contains("the app's own error status"), "{message}");
    assert!(!message.contains("usage error"), "{message}");
    assert!(!message.contains("restarted 0 times"), "{message}");
}

#[test]
fn doctor_gives_one_answer_over_ten_runs_against_a_crash_loop() {
    let c = looping("always", REFUSES_ITS_DATA_DIR);
    wait_restarts(&c, 1);
    let mut runs = Vec::new();
    for _ in 0..10 {
        let phase = c.inspect("{{.State.Status}} {{.RestartCount}}");
        let (answer, crash) = doctor(&c);
        runs.push((phase, answer, crash));
    }
    let (_, first, crash) = &runs[0];
    assert_names_exit_2(first, crash);
    for (phase, answer, crash) in &runs {
        assert_eq!(answer, first, "found {phase}: {crash}");
    }
}

#[test]
fn entrypoint_test_gives_one_answer_over_ten_runs_against_a_crash_loop() {
    let c = looping("always", REFUSES_ITS_DATA_DIR);
    wait_restarts(&c, 1);
    for run in 1..=10 {
        let phase = c.inspect("{{.State.Status}} {{.RestartCount}}");
        let out = Nosh::new().arg(c.name()).c("entrypoint --test").run();
        assert_eq!(out.code(), 2, "run {run}, found {phase}: {out:?}");
        let stdout = out.stdout();
        let fatal = stdout
            .find("FATAL: data directory \"/app\" has wrong ownership")
            .unwrap_or_else(|| panic!("run {run}: the app's own words are missing: {out:?}"));
        let verdict = stdout
            .find("entrypoint --test: exited 2\n")
            .unwrap_or_else(|| panic!("run {run}: no verdict: {out:?}"));
        assert!(
            fatal < verdict,
            "run {run}: the verdict came first: {out:?}"
        );
        out.stdout_has("the app's own error status");
        assert!(!stdout.contains("usage error"), "{out:?}");
    }
}

#[test]
fn doctor_caught_during_a_doomed_run_waits_for_its_end_and_names_its_exit_code() {
    let c = looping("always", REFUSES_ITS_DATA_DIR);
    wait_restarts(&c, 1);
    // Catch it running again after a restart: the engine has reset
    // State.ExitCode to 0, and the run dies in under 1.5 s.
    c.wait_inspect("{{.State.Status}}", "running");
    let (answer, crash) = doctor(&c);
    assert_names_exit_2(&answer, &crash);
    let source = crash["evidence"]["exit_code_source"]
        .as_str()
        .unwrap_or_default();
    assert!(["wait", "state"].contains(&source), "{crash}");
}

#[test]
fn a_loop_that_gives_up_gives_the_same_answer_before_and_after() {
    let c = looping("on-failure:2", REFUSES_ITS_DATA_DIR);
    let (during, crash) = doctor(&c);
    assert_names_exit_2(&during, &crash);
    c.wait_inspect("{{.RestartCount}} {{.State.Status}}", "2 exited");
    let (after, crash) = doctor(&c);
    assert_eq!(after, during, "{crash}");
    let message = crash["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("restarted 2 times; last exit code 2"),
        "{message}"
    );
    assert_eq!(
        crash["evidence"]["restart_policy"], "on-failure:2",
        "{crash}"
    );
}

/// Connects to port 7000 of `c` once it listens: the service dies.
fn make_it_die(c: &Container) {
    let addr = c.wait_port(7000);
    drop(TcpStream::connect(addr));
}

#[test]
fn a_session_whose_target_restarts_under_it_runs_again_and_answers_once() {
    let c = looping("always", DIES_ON_CONNECT);
    c.wait_running();
    make_it_die(&c);
    wait_restarts(&c, 1);
    // A run that has lasted 10 s counts as started, for the engine and for
    // nosh: a sidecar joins it.
    c.wait_running();
    thread::sleep(Duration::from_millis(10_500));
    // The engine reset State.ExitCode to 0; the run before ended with 3,
    // which its die event still tells.
    let (answer, crash) = doctor(&c);
    assert_eq!(answer.status, 1, "{answer:?}");
    assert_eq!(answer.exit_code, 3, "{crash}");
    assert_eq!(crash["evidence"]["exit_code_source"], "event", "{crash}");
    // Once the sidecar runs, the service dies under it.
    let out = thread::scope(|s| {
        s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.running_sidecars().is_empty() {
                assert!(Instant::now() < deadline, "no sidecar for {}", c.name());
                thread::sleep(Duration::from_millis(50));
            }
            thread::sleep(Duration::from_millis(500));
            drop(TcpStream::connect((c.ip().as_str(), 7000)));
        });
        Nosh::new()
            .arg(c.name())
            .c("echo before; sleep 3; echo after")
            .timeout(Duration::from_secs(90))
            .run()
    });
    out.code_is(0);
    assert_eq!(out.stdout(), "before\nafter\n", "{out:?}");
    assert!(!out.stderr().contains("stopped"), "{out:?}");
    let restarts: u32 = c.inspect("{{.RestartCount}}").parse().unwrap();
    assert!(
        restarts >= 2,
        "the target did not restart under the session"
    );
}

#[test]
fn an_oom_kill_is_told_apart_from_a_plain_sigkill_by_the_engines_record() {
    let oom = Container::run_cmd(
        &python_app_image(),
        &[
            "--memory",
            "48m",
            "--memory-swap",
            "48m",
            "--entrypoint",
            "/usr/bin/python3.11",
        ],
        &["-c", "b = []\nwhile True: b.append(bytearray(8 << 20))"],
    );
    let killed = Container::run_cmd(
        &python_app_image(),
        &["--entrypoint", "/usr/bin/python3.11"],
        &["-c", "import time\nwhile True: time.sleep(60)"],
    );
    killed.wait_running();
    docker_ok(&["kill", "--signal", "KILL", killed.name()]);
    for c in [&oom, &killed] {
        c.wait_inspect("{{.State.Status}}", "exited");
        assert_eq!(c.exit_code(), 137);
    }
    assert_eq!(oom.inspect("{{.State.OOMKilled}}"), "true");

    let (answer, crash) = doctor(&oom);
    assert_eq!(answer.exit_code, 137, "{crash}");
    assert_eq!(crash["severity"], "error");
    assert_eq!(crash["evidence"]["oom_killed"], true, "{crash}");
    let message = crash["message"].as_str().unwrap();
    assert!(
        message.starts_with("the container exited (exit code 137): "),
        "{message}"
    );
    assert!(
        message.contains("OOM killer ended it (State.OOMKilled)"),
        "{message}"
    );

    let (answer, crash) = doctor(&killed);
    assert_eq!(answer.exit_code, 137, "{crash}");
    assert_eq!(crash["evidence"]["oom_killed"], false, "{crash}");
    let message = crash["message"].as_str().unwrap();
    assert!(message.contains("not by the OOM killer"), "{message}");
}
