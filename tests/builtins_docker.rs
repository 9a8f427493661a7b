//! The builtins against the distroless-style Python service (built from
//! Debian packages, no shell, uid 65532), each compared with ground truth
//! gathered independently: the host's view of the container's processes,
//! the engine's inspect data and the fixture's known layout.

mod common;
#[path = "support/pty.rs"]
mod pty;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::{Container, Nosh, python_app_image};
use serde_json::Value;

fn python() -> Container {
    let c = Container::run(&python_app_image(), &[]);
    c.wait_port(8080);
    c.wait_children(1);
    c
}

fn json(t: &Container, line: &str) -> Value {
    let out = Nosh::new().arg(t.name()).c(line).run();
    serde_json::from_str(out.stdout()).unwrap_or_else(|e| {
        panic!(
            "{line}: not JSON ({e}):\n{}\n{}",
            out.stdout(),
            out.stderr()
        )
    })
}

/// Host pid -> pid inside the container, from the host's /proc.
fn inner_pid(host_pid: u32) -> i64 {
    let status = fs::read_to_string(format!("/proc/{host_pid}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    nspid.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn ports_json_lists_the_python_tcp_listener_and_udp_socket_as_pid_one() {
    let t = python();
    let rows = json(&t, "ports --json");
    let rows = rows.as_array().unwrap();
    let tcp = rows
        .iter()
        .find(|r| r["proto"] == "tcp" && r["local_port"] == 8080 && r["state"] == "LISTEN")
        .unwrap_or_else(|| panic!("no tcp 8080 listener: {rows:?}"));
    assert_eq!(tcp["pid"], 1);
    assert_eq!(tcp["uid"], 65532);
    let udp = rows
        .iter()
        .find(|r| r["proto"] == "udp" && r["local_port"] == 8081)
        .unwrap_or_else(|| panic!("no udp 8081 socket: {rows:?}"));
    assert_eq!(udp["pid"], 1);
}

#[test]
fn ps_tree_matches_the_host_view_of_the_container() {
    let t = python();
    let child_host = t.wait_children(1)[0];
    let rows = json(&t, "ps --json");
    let rows = rows.as_array().unwrap();
    let pid1 = rows.iter().find(|r| r["pid"] == 1).unwrap();
    let host_cmd = fs::read(format!("/proc/{}/cmdline", t.host_pid())).unwrap();
    let host_argv: Vec<String> = host_cmd
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(pid1["cmd"], serde_json::json!(host_argv));
    assert_eq!(pid1["user"], "nonroot");
    let child = rows
        .iter()
        .find(|r| r["pid"] == inner_pid(child_host))
        .unwrap_or_else(|| panic!("the child is missing: {rows:?}"));
    assert_eq!(child["ppid"], 1);
    // The tree view indents the child under PID 1.
    let out = Nosh::new().arg(t.name()).c("ps -o pid,cmd").run();
    out.success()
        .stdout_has("\\_ /usr/bin/python3.11 -c import time");
}

#[test]
fn fds_of_pid_one_show_the_open_data_file_and_sockets() {
    let t = python();
    let rows = json(&t, "fds 1 --json");
    let text = rows.to_string();
    assert!(text.contains("/app/data.db"), "{text}");
    // The host sees the same number of descriptors.
    let host = fs::read_dir(format!("/proc/{}/fd", t.host_pid()))
        .unwrap()
        .count();
    let listed = rows
        .get("fds")
        .and_then(Value::as_array)
        .or_else(|| rows.as_array())
        .map(Vec::len)
        .unwrap();
    assert_eq!(listed, host, "{text}");
}

#[test]
fn file_and_entrypoint_see_the_dynamic_python_and_its_loader() {
    let t = python();
    let out = Nosh::new()
        .arg(t.name())
        .c("file /usr/bin/python3.11")
        .run();
    out.success()
        .stdout_has("dynamically linked")
        .stdout_has("/lib64/ld-linux-x86-64.so.2");
    let out = Nosh::new().arg(t.name()).c("entrypoint").run();
    out.success()
        .stdout_has("Entrypoint  [\"/usr/bin/python3.11\",\"/app/app.py\"]")
        .stdout_has("uid         65532 (nonroot)")
        .stdout_has("interpreter /lib64/ld-linux-x86-64.so.2 present");
}

#[test]
fn run_executes_the_targets_python_as_the_app_uid() {
    let t = python();
    let out = Nosh::new()
        .arg(t.name())
        .c("run python3.11 -c 'import os; print(os.getuid(), os.getcwd())'")
        .run();
    out.success().stdout_has("65532 /app\n");
}

#[test]
fn limits_and_cgroup_match_what_the_host_and_engine_say() {
    let t = Container::run(
        &python_app_image(),
        &["--memory", "256m", "--pids-limit", "77"],
    );
    t.wait_port(8080);
    let cg = json(&t, "cgroup --json");
    let text = cg.to_string();
    assert!(text.contains(&(256u64 * 1024 * 1024).to_string()), "{text}");
    assert!(text.contains("77"), "{text}");
    let out = Nosh::new().arg(t.name()).c("limits 1").run();
    let host = fs::read_to_string(format!("/proc/{}/limits", t.host_pid())).unwrap();
    let open_files = host
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let soft = open_files.split_whitespace().nth(3).unwrap();
    out.success().stdout_has("Max open files").stdout_has(soft);
}

#[test]
fn find_grep_wc_and_du_agree_with_the_image_layout() {
    let t = python();
    let out = Nosh::new()
        .arg(t.name())
        .c("find /app -type f -name '*.py'; grep -c SOCK_DGRAM /app/app.py; wc -l /etc/passwd; du -s /app")
        .run();
    out.success().stdout_has("/app/app.py\n").stdout_has("1\n");
    // Ground truth: the file as the engine copies it out of the container.
    let dir = tempfile::tempdir().unwrap();
    common::docker_ok(&[
        "cp",
        &format!("{}:/etc/passwd", t.id()),
        dir.path().to_str().unwrap(),
    ]);
    let lines = fs::read_to_string(dir.path().join("passwd"))
        .unwrap()
        .lines()
        .count();
    out.stdout_has(&format!("{lines} /etc/passwd"));
}

#[test]
fn why_and_writable_explain_the_log_directory() {
    let t = python();
    let v = json(&t, "why /var/log/claims-api/app.log write --json");
    assert_eq!(v["allowed"], false);
    assert_eq!(v["deciding"]["path"], "/var/log/claims-api");
    assert_eq!(v["deciding"]["owner"], "root");
    assert_eq!(v["deciding"]["mode"], "0755");
    let fixes = v["fixes"].to_string();
    assert!(fixes.contains("log to stdout"), "{fixes}");
    let rows = json(&t, "writable --json");
    let paths: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/tmp"), "{paths:?}");
    assert!(!paths.contains(&"/var/log/claims-api"), "{paths:?}");
}

#[test]
fn kill_zero_reaches_the_app_and_mounts_show_the_root_overlay() {
    let t = python();
    let out = Nosh::new()
        .arg(t.name())
        .c("kill -0 1 && echo alive; mounts")
        .run();
    out.success().stdout_has("alive\n").stdout_has("overlay");
    // kill -0 sent no signal: the app is still running.
    assert_eq!(t.inspect("{{.State.Running}}"), "true");
}

#[test]
fn lines_piped_into_a_terminal_session_all_run() {
    // `echo id | nosh -t T`: the lines reach the sidecar's TTY in one read;
    // each must run, and the session must end at the end of input.
    let t = python();
    let out = Nosh::new()
        .args(["-t", t.name()])
        .stdin("echo first\nid\nexit 3\n")
        .timeout(std::time::Duration::from_secs(60))
        .run();
    out.code_is(3).stdout_has("first").stdout_has("uid=65532");
}

#[test]
fn top_on_a_terminal_leaves_its_last_frame_and_names_the_memory_limit() {
    let t = Container::run(&common::static_app_image(), &["--memory", "256m"]);
    let mut cmd = Command::new(common::nosh_bin());
    cmd.args([t.name(), "-c", "top -n 1"]);
    let mut term = pty::Pty::spawn(cmd, 120, 40);
    let status = term.wait(Duration::from_secs(60));
    // top's last words: the cursor shown again.
    term.expect("\x1b[?25h", 0);
    assert!(status.success(), "{status}: {}", term.screen());
    let screen = term.screen();
    // The one frame, drawn on the screen itself: after its clear comes
    // the frame, and nothing that would clear or leave it.
    assert!(!screen.contains("\x1b[?1049"), "{screen:?}");
    let frame = &screen[screen.rfind("\x1b[2J").expect("a frame") + 4..];
    assert!(frame.starts_with("top - "), "{frame:?}");
    assert!(frame.contains("MiB Lim: 256.0 limit"), "{frame:?}");
    assert!(frame.contains("/app/demo-app"), "{frame:?}");
    for clear in [
        "\x1b[2J",
        "\x1b[J",
        "\x1b[0J",
        "\x1b[K",
        "\x1b[2K",
        "\x1b[?1049l",
    ] {
        assert!(
            !frame.contains(clear),
            "{clear:?} after the frame: {frame:?}"
        );
    }
    // No key help left under it, and the last line ends the frame.
    assert!(!frame.contains("q: quit"), "{frame:?}");
    assert!(
        frame.trim_end_matches("\x1b[?25h").ends_with("\r\n"),
        "{frame:?}"
    );

    // Without a limit, only the host's memory.
    let free = Container::run(&common::static_app_image(), &[]);
    let out = Nosh::new().arg(free.name()).c("top -b -n 1").run();
    out.success().stdout_has("MiB Mem: ");
    assert!(!out.stdout().contains("MiB Lim"), "{}", out.stdout());
}
