//! `entrypoint --test` runs the command as the engine would: the truth is
//! what the same program printed when the engine itself ran it as the
//! container (`docker logs`), in a replica of a container that exited and
//! beside one that runs.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::{Duration, Instant};

use common::{Container, Nosh, python_app_image, python_image_configured};

/// Prints what the engine gave it: environment, working directory,
/// hostname, and what `$HOME/.config` holds for it; a line on stderr;
/// then serves forever (`--serve`) or exits 3.
const REPORT: &str = r#"
import os, socket, sys, time
for k in ("PATH", "HOSTNAME", "HOME", "TERM", "MODE", "GREETING"):
    print(f"report env {k}={os.environ.get(k, '(unset)')}", flush=True)
print(f"report cwd {os.getcwd()}", flush=True)
print(f"report hostname {socket.gethostname()}", flush=True)
cfg = os.path.join(os.environ.get("HOME", "(unset)"), ".config/report/settings")
try:
    with open(cfg) as f:
        print(f"report config {cfg}: {f.read().strip()}", flush=True)
except OSError as e:
    print(f"report config {cfg}: {e.strerror}", flush=True)
print("report: done", file=sys.stderr, flush=True)
if "--serve" in sys.argv:
    while True:
        time.sleep(60)
sys.exit(3)
"#;

/// The Python fixture's files, configured as an image that sets no PATH
/// (the engine's default applies) and a MODE the container overrides.
fn image_without_path() -> String {
    python_image_configured(
        "python-no-path",
        &[
            "USER 65532:65532",
            "WORKDIR /app",
            "ENV MODE=image",
            r#"ENTRYPOINT ["/usr/bin/python3.11"]"#,
        ],
    )
}

/// A directory to mount at `$HOME/.config/report`, holding `settings`.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("settings"), "color=blue\n").unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(
        dir.path().join("settings"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    dir
}

/// The report container: `extra` arguments after the script.
fn report_container(config: &tempfile::TempDir, extra: &[&str]) -> Container {
    let mount = format!(
        "{}:/home/nonroot/.config/report:ro",
        config.path().display()
    );
    let mut cmd = vec!["-c", REPORT];
    cmd.extend_from_slice(extra);
    Container::run_cmd(
        &image_without_path(),
        &[
            "--hostname",
            "web-7",
            "-e",
            "MODE=container",
            "-e",
            "GREETING=hello",
            "-w",
            "/home/nonroot",
            "-v",
            &mount,
        ],
        &cmd,
    )
}

/// The `report ...` lines of `text`, in order.
fn report_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("report "))
        .map(str::to_owned)
        .collect()
}

/// Waits up to 20 s for `c` to print its whole report.
fn engine_report(c: &Container) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = report_lines(&c.logs());
        if lines.iter().any(|l| l.starts_with("report config ")) {
            return lines;
        }
        assert!(Instant::now() < deadline, "no report: {}", c.logs());
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn entrypoint_test_in_a_replica_runs_the_command_as_the_engine_ran_the_container() {
    let config = config_dir();
    let c = report_container(&config, &["--label=\x1b[31mred"]);
    c.wait_inspect("{{.State.Status}}", "exited");
    assert_eq!(c.exit_code(), 3, "{}", c.logs());
    let truth = engine_report(&c);
    // What the engine gave it, spelled out: its default PATH, the
    // container's hostname and Env over the image's, HOME from passwd.
    for line in [
        "report env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "report env HOSTNAME=web-7",
        "report env HOME=/home/nonroot",
        "report env MODE=container",
        "report env GREETING=hello",
        "report cwd /home/nonroot",
        "report hostname web-7",
        "report config /home/nonroot/.config/report/settings: color=blue",
    ] {
        assert!(
            truth.contains(&line.to_string()),
            "{line} not in {truth:#?}"
        );
    }

    let out = Nosh::new().arg(c.name()).c("entrypoint --test").run();
    out.code_is(3);
    assert_eq!(report_lines(out.stdout()), truth, "{out:?}");
    let stdout = out.stdout();
    // argv quoted as a shell reads it back, control characters escaped.
    out.stdout_has("entrypoint --test: running /usr/bin/python3.11 -c '\\nimport os")
        .stdout_has(" '--label=\\e[31mred' as uid 65532");
    assert!(!stdout.contains('\x1b'), "{out:?}");
    // The app's output, stderr included and in its order, then the verdict.
    let done = stdout
        .find("report: done\n")
        .expect("the app's stderr line");
    let verdict = stdout
        .find("entrypoint --test: exited 3\n")
        .expect("the verdict");
    assert!(done < verdict, "{out:?}");
    assert!(
        stdout[verdict..].contains("the app's own error status"),
        "{out:?}"
    );
}

#[test]
fn entrypoint_test_beside_a_running_container_runs_the_command_as_the_engine_did() {
    let config = config_dir();
    let c = report_container(&config, &["--serve"]);
    c.wait_running();
    let truth = engine_report(&c);
    let out = Nosh::new()
        .arg(c.name())
        .c("entrypoint --test --timeout 3")
        .run();
    out.code_is(0)
        .stdout_has("entrypoint --test: still running after 3 s");
    assert_eq!(report_lines(out.stdout()), truth, "{out:?}");
}

/// Overflows the C stack: a real SIGSEGV, which reaches a container's PID
/// 1 as it reaches any process.
const SEGFAULT: &str = r#"
import sys
sys.setrecursionlimit(10**7)
nested = []
for _ in range(10**6):
    nested = [nested]
print("about to overflow", flush=True)
repr(nested)
"#;

#[test]
fn a_command_killed_by_a_signal_reports_the_exit_code_the_engine_records() {
    let c = Container::run_cmd(
        &python_app_image(),
        &["--entrypoint", "/usr/bin/python3.11"],
        &["-c", SEGFAULT],
    );
    c.wait_inspect("{{.State.Status}}", "exited");
    let recorded = c.exit_code();
    assert_eq!(recorded, 139, "{}", c.logs());

    let out = Nosh::new().arg(c.name()).c("entrypoint --test").run();
    out.code_is(recorded)
        .stdout_has("about to overflow\n")
        .stdout_has("entrypoint --test: exited 139 (killed by SIGSEGV; the engine records 139)")
        .stdout_has("segmentation fault");
}
