//! The toolbox half without Docker: a target made with `unshare` (new PID,
//! mount and network namespaces, no shell, app as 65532) stands in for a
//! Kubernetes ephemeral-container setup. Runs as root.

#[path = "support/unshare.rs"]
mod unshare;

use std::fs;

use unshare::{Target, status_field, stderr, stdout};

#[test]
fn shell_runs_as_target_uid_with_names_from_target_passwd() {
    let t = Target::start();
    let out = t.toolbox(&[], "id");
    assert_eq!(
        stdout(&out),
        "uid=65532(nonroot) gid=65532(nonroot) groups=65532(nonroot)\n",
        "stderr: {}",
        stderr(&out)
    );
    assert!(out.status.success());
}

#[test]
fn shell_runs_with_no_capabilities_and_no_new_privs() {
    let t = Target::start();
    let out = t.toolbox(&[], "cat /proc/self/status");
    let status = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(&status, key),
            Some("0000000000000000"),
            "{key} in\n{status}"
        );
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), Some("1"));
    assert_eq!(
        status_field(&status, "Uid"),
        Some("65532\t65532\t65532\t65532")
    );
    assert_eq!(
        status_field(&status, "Gid"),
        Some("65532\t65532\t65532\t65532")
    );
    assert_eq!(status_field(&status, "Groups"), Some("65532"));
}

#[test]
fn root_flag_is_uid_zero_still_without_capabilities() {
    let t = Target::start();
    let out = t.toolbox(&["--root"], "id; cat /proc/self/status");
    let text = stdout(&out);
    assert!(text.starts_with("uid=0(root) gid=0(root)"), "{text}");
    assert_eq!(status_field(&text, "CapEff"), Some("0000000000000000"));
    assert_eq!(status_field(&text, "CapBnd"), Some("0000000000000000"));
    let out = t.toolbox(&["--user", "1234:4321"], "id");
    assert_eq!(stdout(&out), "uid=1234 gid=4321 groups=4321\n");
}

#[test]
fn ls_shows_the_target_root_not_the_toolbox_root() {
    let t = Target::start();
    let out = t.toolbox(&[], "ls /");
    let mut want: Vec<String> = fs::read_dir(t.root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    want.sort();
    let got: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(got, want, "stderr: {}", stderr(&out));
}

#[test]
fn root_only_file_is_denied_to_the_app_identity() {
    let t = Target::start();
    let out = t.toolbox(&[], "cat /etc/secret");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("/etc/secret: Permission denied"),
        "{}",
        stderr(&out)
    );
    // As root with no capabilities the file (root-owned, 0600) is readable.
    let out = t.toolbox(&["--root"], "cat /etc/secret");
    assert_eq!(stdout(&out), "root only\n");
}

#[test]
fn file_names_with_escape_bytes_are_printed_escaped() {
    let t = Target::start();
    let out = t.toolbox(&[], "ls /app");
    let text = stdout(&out);
    assert!(text.contains("evil\\e[31mname"), "{text}");
    assert!(!out.stdout.contains(&0x1b), "raw ESC reached the output");
}

#[test]
fn target_process_list_is_unchanged_after_a_session() {
    let t = Target::start();
    let before = t.processes();
    let out = t.toolbox(
        &[],
        "ps; run /app/app orphan; run /app/app exit 4; echo $?; id",
    );
    assert!(stdout(&out).contains("4\nuid=65532"), "{}", stderr(&out));
    let after = t.processes();
    assert_eq!(before, after, "the session left processes behind");
}

#[test]
fn ps_lists_the_target_pid_one_and_its_child() {
    let t = Target::start();
    let out = t.toolbox(&[], "ps --json");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let pid1 = rows.iter().find(|r| r["pid"] == 1).expect("pid 1 listed");
    assert_eq!(pid1["cmd"][0], "/app/app");
    assert_eq!(pid1["uid"], 65532);
    assert_eq!(pid1["user"], "nonroot");
    assert!(
        rows.iter()
            .any(|r| r["ppid"] == 1 && r["cmd"][0] == "/app/app"),
        "the app's child is missing: {rows:?}"
    );
}

#[test]
fn exit_status_follows_the_shell() {
    let t = Target::start();
    assert_eq!(t.toolbox(&[], "exit 3").status.code(), Some(3));
    assert_eq!(t.toolbox(&[], "false").status.code(), Some(1));
    assert_eq!(t.toolbox(&[], "false || true").status.code(), Some(0));
    let out = t.toolbox(&[], "nosuchbuiltin");
    assert_eq!(out.status.code(), Some(127));
    assert!(stderr(&out).contains("not a builtin"));
    assert_eq!(t.toolbox(&[], "ls --bogus").status.code(), Some(2));
}

#[test]
fn malformed_lines_are_reported_and_the_shell_goes_on() {
    let t = Target::start();
    let out = t.toolbox_stdin("echo 'unterminated\nls | | wc\nnosuch\necho still here\n");
    assert_eq!(stdout(&out), "still here\n");
    let err = stderr(&out);
    assert!(err.contains("unterminated single quote"), "{err}");
    assert!(err.contains("syntax error near `|`"), "{err}");
    assert!(err.contains("nosuch: not a builtin"), "{err}");
    assert!(out.status.success());
}

#[test]
fn grammar_expands_variables_globs_pipes_and_redirects() {
    let t = Target::start();
    let out = t.toolbox(
        &[],
        "export G=world; echo \"hello $G\" '$G'; ls /etc/*ss* | head -n 1; cd /tmp && echo hi > note && cat < note; pwd",
    );
    assert_eq!(
        stdout(&out),
        "hello world $G\n/etc/passwd\nhi\n/tmp\n",
        "{}",
        stderr(&out)
    );
    // The redirect wrote a file as the app's identity, because it was asked.
    let meta = fs::metadata(t.root.path().join("tmp/note")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65532);
}

#[test]
fn redirect_into_a_root_owned_directory_is_denied() {
    let t = Target::start();
    let out = t.toolbox(&[], "echo x > /var/log/app/app.log");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert!(!t.root.path().join("var/log/app/app.log").exists());
}

#[test]
fn environment_of_the_target_is_the_shell_environment() {
    let t = Target::start();
    // chroot --userspec passes the environment of unshare's caller on.
    let out = t.toolbox(&[], "env 1");
    assert!(out.status.success(), "{}", stderr(&out));
    let host_env = fs::read(format!("/proc/{}/environ", t.pid)).unwrap();
    let first = host_env.split(|b| *b == 0).next().unwrap();
    assert!(
        stdout(&out).contains(&*String::from_utf8_lossy(first)),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unknown_pid_is_one_clear_error() {
    let out = std::process::Command::new(unshare::nosh())
        .args(["toolbox", "--pid", "999999", "-c", "id"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no process 999999"), "{err}");
}

/// Kubernetes ephemeral containers under a restricted profile share the PID
/// namespace but have no CAP_SYS_ADMIN: the toolbox falls back to viewing
/// the target through /proc/1/root and says so.
#[test]
fn without_cap_sys_admin_the_view_falls_back_to_proc_root() {
    let t = Target::start();
    let script = format!(
        "mount -t proc proc /proc && exec setpriv --bounding-set -sys_admin --inh-caps -sys_admin -- {} toolbox --pid 1 -c 'ls /; id; cat /proc/self/status'",
        unshare::nosh().display()
    );
    let out = std::process::Command::new("nsenter")
        .arg(format!("--pid=/proc/{}/ns/pid", t.pid))
        .args([
            "--",
            "unshare",
            "--mount",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-c",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("app\netc\n"), "{text}");
    assert!(text.contains("uid=65532(nonroot)"), "{text}");
    assert_eq!(status_field(&text, "CapEff"), Some("0000000000000000"));
    assert_eq!(status_field(&text, "NoNewPrivs"), Some("1"));
}

#[test]
fn why_names_the_root_owned_log_directory_and_the_fixes() {
    let t = Target::start();
    let out = t.toolbox(&[], "why /var/log/app/app.log --json");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allowed"], false);
    assert_eq!(v["access"], "write");
    assert_eq!(v["deciding"]["path"], "/var/log/app");
    assert_eq!(v["deciding"]["owner"], "root");
    assert_eq!(v["deciding"]["mode"], "0755");
    assert_eq!(v["identity"]["uid"], 65532);
    let fixes = v["fixes"].to_string();
    assert!(fixes.contains("chown 65532:65532 /var/log/app"), "{fixes}");
    assert!(fixes.contains("log to stdout"), "{fixes}");
    assert!(fixes.contains("writable volume at /var/log/app"), "{fixes}");
    // Human output carries the same verdict.
    let out = t.toolbox(&[], "why /var/log/app/app.log");
    assert!(
        stdout(&out).contains("denied: /var/log/app is a directory root:root 0755"),
        "{}",
        stdout(&out)
    );
    // The app's own directory is writable; the verdict agrees with the kernel.
    let out = t.toolbox(&[], "why /app/new.txt write");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn writable_lists_exactly_the_directories_the_app_may_write() {
    let t = Target::start();
    let out = t.toolbox(&[], "writable --json");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut paths: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/app", "/home/nonroot", "/tmp"]);
}

#[test]
fn caps_of_the_target_and_of_the_shell_decode() {
    let t = Target::start();
    let out = t.toolbox(&[], "caps --json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The target's pid as seen inside its own namespace.
    assert_eq!(v["pid"], 1);
    let host = fs::read_to_string(format!("/proc/{}/status", t.pid)).unwrap();
    let bnd = u64::from_str_radix(status_field(&host, "CapBnd").unwrap(), 16).unwrap();
    assert_eq!(
        v["bounding"].as_array().unwrap().len(),
        bnd.count_ones() as usize
    );
    let out = t.toolbox(&[], "caps self --json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bounding"], serde_json::json!([]));
    assert_eq!(v["no_new_privs"], true);
}

#[test]
fn setuid_root_program_run_from_the_shell_keeps_the_app_uid() {
    let t = Target::start();
    let meta = fs::metadata(t.root.path().join("app/suid")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o4000,
        0o4000
    );
    let out = t.toolbox(&[], "run /app/suid ids");
    assert_eq!(stdout(&out), "uid=65532 euid=65532\n", "{}", stderr(&out));
}
