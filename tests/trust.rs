//! A hostile target against the session: it must not reach the operator's
//! terminal through the shell, land the shell outside itself (`--pid host`,
//! `--pid container:X`), or find the sidecar holding more than it needs.
//! Every test runs the real nosh against the real engine.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    Container, Nosh, SIDECAR_CAPS, docker_ok, python_app_image, require_engine, session,
    static_app_image,
};

/// Everything read from `out`, line by line, on a channel.
fn lines_of(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
            if tx
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Waits up to 30 s for a line containing `needle`; returns what was read.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return;
                }
            }
            Err(_) => break,
        }
    }
    panic!(
        "no line with {needle:?} within 30 s; read:\n{}",
        seen.join("\n")
    );
}

// ------------------------------------------------------ 1. not dumpable

/// Runs inside the target (`docker exec`) for a whole session: every 10 ms
/// it looks for the toolbox by its command line (`/nosh toolbox ...`) and
/// tries to open its memory, its environment and each of its fds, for
/// reading and for writing; what opens for writing gets `INJECTED` written
/// to it (spelt in two halves, so that `ps` of the poller does not show it),
/// as an attacker would write to the operator's terminal. It ends
/// once it has seen a toolbox come and go (or after 60 s), and prints what
/// it saw and every path that opened.
const POLLER: &str = r#"
import os, sys, time
print("polling", flush=True)
me = str(os.getpid())
seen, gone, opened = set(), False, set()
deadline = time.time() + 60
while time.time() < deadline and not gone:
    alive = set()
    for d in os.listdir("/proc"):
        if not d.isdigit() or d == me:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) < 2 or not argv[0].endswith(b"nosh") or argv[1] != b"toolbox":
            continue
        alive.add(d)
        paths = [f"/proc/{d}/mem", f"/proc/{d}/environ"]
        paths += [f"/proc/{d}/fd/{n}" for n in range(8)]
        try:
            paths += [f"/proc/{d}/fd/{n}" for n in os.listdir(f"/proc/{d}/fd")]
        except OSError:
            pass
        for p in paths:
            for mode in (os.O_RDONLY, os.O_WRONLY):
                try:
                    fd = os.open(p, mode | os.O_NONBLOCK | os.O_NOCTTY)
                except OSError:
                    continue
                if mode == os.O_WRONLY:
                    try:
                        os.write(fd, b"INJ" + b"ECTED\n")
                    except OSError:
                        pass
                os.close(fd)
                opened.add(f"{p} mode={mode}")
    seen |= alive
    gone = bool(seen) and not alive
    time.sleep(0.01)
print("seen", len(seen), flush=True)
for p in sorted(opened):
    print("opened", p, flush=True)
print("end", flush=True)
"#;

/// Starts [`POLLER`] in `target` and waits until it polls.
fn start_poller(target: &Container) -> (Child, mpsc::Receiver<String>) {
    start_poller_with(target, &[], POLLER)
}

/// Starts the Python `script` in `target` with `docker exec OPTIONS` (its
/// stdin a pipe, for `-i`) and waits until it prints "polling".
fn start_poller_with(
    target: &Container,
    options: &[&str],
    script: &str,
) -> (Child, mpsc::Receiver<String>) {
    let mut poller = Command::new("docker")
        .arg("exec")
        .args(options)
        .args([target.name(), "/usr/bin/python3.11", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("docker exec the poller");
    let lines = lines_of(poller.stdout.take().expect("poller stdout"));
    wait_for(&lines, "polling", &mut Vec::new());
    (poller, lines)
}

/// The poller's report, up to its "end", and the count it gives on the
/// line that starts with `counted`.
fn poller_report(
    mut poller: Child,
    lines: &mpsc::Receiver<String>,
    counted: &str,
) -> (String, usize) {
    let mut report = Vec::new();
    wait_for(lines, "end", &mut report);
    let _ = poller.wait();
    let report = report.join("\n");
    let count = report
        .lines()
        .find_map(|l| l.strip_prefix(counted))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    (report, count)
}

/// A whole session on `target` (a terminal session when `tty`) with the
/// poller running in the target from before it starts to after it ends:
/// the poller must have found the toolbox, opened nothing of it, and
/// nothing it wrote may reach the session's output.
fn assert_the_target_cannot_reach_the_shell(target: &Container, tty: bool, uid: &str) {
    let (poller, poller_lines) = start_poller(target);
    let mode = if tty { "-t" } else { "-T" };
    let mut nosh = session(&[mode, target.name()]);
    let mut stdin = nosh.stdin.take().expect("nosh stdin");
    let output = lines_of(nosh.stdout.take().expect("nosh stdout"));
    let mut seen = Vec::new();
    // The quotes keep the echoed command line from matching.
    let enter = if tty { "\r" } else { "\n" };
    write!(stdin, "id; echo rea''dy{enter}").expect("send command");
    wait_for(&output, "ready", &mut seen);
    // Let the poller hammer the shell while it idles, then while it works.
    thread::sleep(Duration::from_secs(2));
    write!(stdin, "ls /app; ps; echo don''e{enter}").expect("send command");
    wait_for(&output, "done", &mut seen);
    thread::sleep(Duration::from_secs(1));
    drop(stdin);
    let status = nosh.wait().expect("wait nosh");
    seen.extend(output.iter());
    let mut stderr = String::new();
    if let Some(mut e) = nosh.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let out = seen.join("\n");
    assert!(status.success(), "nosh: {status}\n{out}\n{stderr}");
    assert!(out.contains(&format!("uid={uid}")), "{out}");

    let (report, seen) = poller_report(poller, &poller_lines, "seen ");
    assert!(seen >= 1, "the poller never saw the toolbox: {report}");
    assert!(
        !report.contains("opened"),
        "the target opened the shell's files:\n{report}"
    );
    assert!(
        !out.contains("INJECTED"),
        "injected into the session: {out}"
    );
}

#[test]
fn a_root_target_cannot_open_the_shell_fds_memory_or_environment() {
    require_engine();
    let t = Container::run(&python_app_image(), &["--user", "0"]);
    t.wait_running();
    assert_the_target_cannot_reach_the_shell(&t, true, "0");
}

#[test]
fn a_nonroot_target_cannot_open_the_shell_fds_memory_or_environment() {
    require_engine();
    let t = Container::run(&python_app_image(), &[]);
    t.wait_running();
    assert_the_target_cannot_reach_the_shell(&t, false, "65532");
}

/// Lists the fds a program started by `run` holds, each with what it
/// points to, except the one the listing itself opens.
const LIST_FDS: &str = "import os; fds = os.listdir('/proc/self/fd'); \
    print('fds', *sorted(int(n) for n in fds if os.path.exists(f'/proc/self/fd/{n}') \
    and os.readlink(f'/proc/self/fd/{n}') != f'/proc/{os.getpid()}/fd'))";

#[test]
fn programs_started_by_run_inherit_only_stdin_stdout_and_stderr() {
    require_engine();
    let t = Container::run(&python_app_image(), &[]);
    t.wait_running();
    // Builtins before it open files, directories, pipes and sockets of
    // the shell's own; a pipeline gives `run` a pipe for stdout.
    for tty in ["-T", "-t"] {
        let out = Nosh::new()
            .args([tty, t.name()])
            .c(&format!(
                "ls -R /app > /dev/null; ports > /dev/null; cat /app/app.py | wc -l > /dev/null; \
                 run /usr/bin/python3.11 -c \"{LIST_FDS}\"; \
                 run /usr/bin/python3.11 -c \"{LIST_FDS}\" | cat"
            ))
            .run();
        out.success();
        let lists: Vec<&str> = out
            .stdout()
            .lines()
            .filter(|l| l.starts_with("fds"))
            .map(str::trim_end)
            .collect();
        assert_eq!(lists, ["fds 0 1 2", "fds 0 1 2"], "{}", out.stdout());
    }
}

// -------------------------------------- 2. the target's own processes

#[test]
fn a_host_pid_target_is_joined_as_its_own_app_not_the_host() {
    require_engine();
    let t = Container::run(&static_app_image(), &["--pid", "host"]);
    t.wait_running();
    let out = Nosh::new()
        .args(["-T", t.name()])
        .c("id; ls /app; pwd")
        .run();
    out.success()
        .stdout_has("uid=65532(nonroot) gid=65532(nonroot)")
        .stdout_has("demo-app\n")
        .stdout_has("data.txt\n");
    assert!(out.stdout().ends_with("/app\n"), "{}", out.stdout());
}

#[test]
fn a_target_sharing_another_containers_pid_namespace_is_joined_not_that_container() {
    require_engine();
    let x = Container::run(&python_app_image(), &[]);
    x.wait_running();
    let pid_of_x = format!("container:{}", x.id());
    let t = Container::run(&static_app_image(), &["--pid", &pid_of_x]);
    t.wait_running();
    let out = Nosh::new()
        .args(["-T", t.name()])
        .c("id; ls /app; cat /proc/self/cgroup")
        .run();
    out.success()
        .stdout_has("uid=65532(nonroot)")
        .stdout_has("demo-app\n")
        .stdout_lacks("app.py")
        .stderr_has("the target shares another PID namespace");
    // The shell itself is the sidecar's, neither the target's nor X's.
    out.stdout_lacks(x.id());
}

#[test]
fn a_container_id_with_no_process_in_the_namespace_is_refused_in_one_sentence() {
    require_engine();
    let x = Container::run(&python_app_image(), &[]);
    let elsewhere = Container::run(&static_app_image(), &[]);
    x.wait_running();
    elsewhere.wait_running();
    let out = Nosh::sidecar(&x)
        .args(["--container-id", elsewhere.id()])
        .c("id")
        .run();
    out.code_is(125).stdout_lacks("uid=");
    let lines: Vec<&str> = out.stderr().lines().collect();
    assert_eq!(
        lines,
        [format!(
            "nosh: no process of container {} in this PID namespace: refusing to join another container's or the host's",
            &elsewhere.id()[..12]
        )]
    );
}

/// A pod's sandbox: a FROM-scratch image whose only program is the static
/// demo app installed as `/pause`, so its process is named `pause` as the
/// Kubernetes one is.
fn pause_image() -> String {
    let app = std::fs::read(common::demo_app_bin()).expect("read demo-app");
    let mut fs = common::Rootfs::new();
    fs.file("pause", &app, 0, 0, 0o755);
    let tar = fs.into_tar();
    let changes = ["USER 65535:65535", r#"ENTRYPOINT ["/pause"]"#];
    let key = common::short_hash(&[&tar, changes.join("\n").as_bytes()]);
    common::ensure_image("pause", &key, &changes, || tar)
}

/// A pod sharing one PID namespace: the pause container, and one app
/// container per entry of `apps` joined to its PID namespace.
fn pod(apps: usize) -> (Container, Vec<Container>) {
    let pause = Container::run(&pause_image(), &[]);
    pause.wait_running();
    let shared = format!("container:{}", pause.id());
    let apps = (0..apps)
        .map(|_| {
            let app = Container::run(&static_app_image(), &["--pid", &shared]);
            app.wait_running();
            app
        })
        .collect();
    (pause, apps)
}

#[test]
fn beside_a_pause_process_the_toolbox_joins_the_one_app() {
    require_engine();
    let (_pause, apps) = pod(1);
    // As `kubectl debug --target` would run it: `nosh toolbox --pid 1`.
    let out = Nosh::sidecar(&apps[0]).c("id; ls /app").run();
    out.success()
        .stdout_has("uid=65532(nonroot)")
        .stdout_has("demo-app\n")
        .stderr_has("PID 1 is the pod's pause process; joining the app, PID ");
    // And from the host half, which names the container.
    Nosh::new()
        .args(["-T", apps[0].name()])
        .c("ls /app")
        .run()
        .success()
        .stdout_has("demo-app\n");
}

#[test]
fn beside_a_pause_process_with_two_apps_the_toolbox_refuses_in_one_sentence() {
    require_engine();
    let (_pause, apps) = pod(2);
    let out = Nosh::sidecar(&apps[0]).c("id").run();
    out.code_is(125).stdout_lacks("uid=");
    let lines: Vec<&str> = out.stderr().lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "nosh: PID 1 is the pod's pause process and several processes could be the app ("
        ) && lines[0].ends_with("): choose one with --pid"),
        "{lines:?}"
    );
}

#[test]
fn a_target_whose_pid_1_is_named_pause_is_still_joined_itself() {
    require_engine();
    // A target that calls its PID 1 `pause`, with another container joined
    // to its PID namespace: the session is the target's, not the other's.
    let (pause, _apps) = pod(1);
    let out = Nosh::new().args(["-T", pause.name()]).c("id; ls /").run();
    out.success()
        .stdout_has("uid=65535 gid=65535")
        .stdout_has("pause\n")
        .stdout_lacks("app\n");
    assert!(out.stderr().is_empty(), "{}", out.stderr());
}

// ------------------------------------------------ 3. least privilege

/// The id of `target`'s running sidecar (≤ 15 s).
fn sidecar_id(target: &Container) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(id) = target.running_sidecars().into_iter().next() {
            return id;
        }
        assert!(Instant::now() < deadline, "no running sidecar");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The live sidecar's `HostConfig` while a session held open with `args`
/// runs on `target`.
fn live_host_config(target: &Container, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["-T"];
    all.extend_from_slice(args);
    all.push(target.name());
    let mut nosh = session(&all);
    let mut stdin = nosh.stdin.take().expect("nosh stdin");
    let output = lines_of(nosh.stdout.take().expect("nosh stdout"));
    writeln!(stdin, "echo ready").expect("send command");
    wait_for(&output, "ready", &mut Vec::new());
    let id = sidecar_id(target);
    let config = docker_ok(&["inspect", "-f", "{{json .HostConfig}}", &id]);
    drop(stdin);
    let status = nosh.wait().expect("wait nosh");
    assert!(status.success(), "nosh: {status}");
    serde_json::from_str(&config).expect("HostConfig is JSON")
}

#[test]
fn the_live_sidecar_holds_only_what_the_join_and_drop_need() {
    require_engine();
    let t = Container::run(&static_app_image(), &[]);
    t.wait_running();
    let h = live_host_config(&t, &[]);
    assert_eq!(h["CapDrop"], serde_json::json!(["ALL"]), "{h}");
    assert_eq!(h["CapAdd"], serde_json::json!(SIDECAR_CAPS), "{h}");
    assert_eq!(h["Privileged"], false, "{h}");
    assert_eq!(
        h["SecurityOpt"],
        serde_json::json!(["no-new-privileges"]),
        "{h}"
    );
    assert_eq!(h["PidsLimit"], 1024, "{h}");
    assert_eq!(h["Memory"], 1u64 << 30, "{h}");
    assert_eq!(h["AutoRemove"], true, "{h}");

    let h = live_host_config(&t, &["--pids-limit", "64", "--memory", "256m"]);
    assert_eq!(h["PidsLimit"], 64, "{h}");
    assert_eq!(h["Memory"], 256u64 << 20, "{h}");
}

/// The toolbox started with plain `docker run`, all capabilities dropped
/// but `caps`, on a target whose working directory only its uid may search:
/// joined properly, the shell is the app's uid in that directory.
fn joins_with(target: &Container, caps: &[&str]) -> bool {
    let out = Nosh::sidecar_with_caps(target, caps)
        .c("id; pwd; cat /app/data.db")
        .run();
    out.code() == 0
        && out.stdout().starts_with("uid=65532(nonroot)")
        && out.stdout().contains("\n/private\nSQLite format 3")
}

#[test]
fn sidecar_capabilities_are_exactly_what_the_join_and_drop_need() {
    require_engine();
    let t = Container::run(
        &python_app_image(),
        &[
            "--tmpfs",
            "/private:uid=65532,gid=65532",
            "--workdir",
            "/private",
        ],
    );
    t.wait_running();
    docker_ok(&[
        "exec",
        t.name(),
        "/usr/bin/python3.11",
        "-c",
        "import os; os.chmod('/private', 0o700)",
    ]);
    assert!(joins_with(&t, &SIDECAR_CAPS), "the full set does not join");
    for left_out in SIDECAR_CAPS {
        let fewer: Vec<&str> = SIDECAR_CAPS
            .iter()
            .copied()
            .filter(|c| *c != left_out)
            .collect();
        assert!(
            !joins_with(&t, &fewer),
            "joined without {left_out}: it is not needed"
        );
    }
}

#[test]
fn a_target_that_could_trace_the_toolbox_is_warned_about_in_one_line() {
    require_engine();
    let image = static_app_image();
    let plain = Container::run(&image, &[]);
    let ptrace = Container::run(&image, &["--cap-add", "SYS_PTRACE"]);
    let privileged = Container::run(&image, &["--privileged"]);
    for (t, warning) in [
        (&plain, None),
        (&ptrace, Some("holds CAP_SYS_PTRACE: ")),
        (&privileged, Some("is privileged: ")),
    ] {
        t.wait_running();
        let out = Nosh::new().args(["-T", t.name()]).c("id").run();
        // Debugging such a target stays possible.
        out.success().stdout_has("uid=65532(nonroot)");
        let lines: Vec<&str> = out.stderr().lines().collect();
        match warning {
            None => assert!(lines.is_empty(), "{lines:?}"),
            Some(w) => {
                assert_eq!(lines.len(), 1, "{lines:?}");
                assert!(
                    lines[0].starts_with(&format!("nosh: warning: {} {w}", t.name())),
                    "{lines:?}"
                );
            }
        }
    }
}

// ------------------------------------- 4. the operator's words, unread

/// Runs inside the target as `nobody` (`docker exec -i -u 65534`) until its
/// stdin closes: every 5 ms it reads the command line of every process,
/// keeps those of toolboxes (`.../nosh toolbox ...`) and every one that
/// holds one of `$NEEDLES` (comma-separated; in the environment, so that
/// this poller's own command line holds none). Then it prints how many
/// toolboxes it saw, their distinct command lines, and each leak.
const CMDLINE_POLLER: &str = r#"
import os, select, time
needles = [n.encode() for n in os.environ["NEEDLES"].split(",")]
me = str(os.getpid())
toolboxes, leaks = {}, set()
print("polling", flush=True)
while not (select.select([0], [], [], 0)[0] and not os.read(0, 64)):
    for d in os.listdir("/proc"):
        if not d.isdigit() or d == me:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        argv = raw.split(b"\0")
        if len(argv) > 1 and argv[0].endswith(b"nosh") and argv[1] == b"toolbox":
            toolboxes[d] = raw
        for n in needles:
            if n in raw:
                leaks.add((d, raw))
    time.sleep(0.005)
print("toolboxes", len(toolboxes), flush=True)
for raw in sorted(set(toolboxes.values())):
    print("cmdline", repr(raw), flush=True)
for d, raw in sorted(leaks):
    print("leak", d, repr(raw), flush=True)
print("end", flush=True)
"#;

/// A secret no process could have by chance.
fn secret(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("SECRET-{what}-{}-{nanos:x}", std::process::id())
}

#[test]
fn nothing_the_operator_types_is_on_a_command_line_the_target_can_read() {
    require_engine();
    // The container's own configuration travels to the toolbox too (the
    // `doctor` evidence): an environment secret the poller, as another
    // uid, cannot read from the app's /proc/1/environ.
    let in_config = secret("CONFIG");
    let t = Container::run(
        &python_app_image(),
        &["-e", &format!("API_TOKEN={in_config}")],
    );
    t.wait_running();
    let typed = secret("TYPED");
    let needles = format!("NEEDLES={typed},{in_config},doctor");
    let (mut poller, lines) = start_poller_with(
        &t,
        &["-i", "-u", "65534:65534", "-e", &needles],
        CMDLINE_POLLER,
    );

    // A session whose command holds a token, alive for two seconds...
    let out = Nosh::new()
        .args(["-T", t.name()])
        .c(&format!("echo {typed}; sleep 2"))
        .run();
    out.success().stdout_has(&typed);
    // ... and the checklist, which reads the container's configuration.
    let doctor = Nosh::new()
        .args(["doctor", "--json", "--prod-like", t.name()])
        .run();
    let findings: serde_json::Value = serde_json::from_str(doctor.stdout())
        .unwrap_or_else(|e| panic!("doctor did not run ({e}): {}", doctor.stderr()));
    assert!(findings["findings"].is_array(), "{findings}");

    drop(poller.stdin.take());
    let (report, seen) = poller_report(poller, &lines, "toolboxes ");
    assert!(
        seen >= 2,
        "the poller did not see both toolboxes:\n{report}"
    );
    assert!(!report.contains("leak"), "the target read it:\n{report}");
    let cmdlines: Vec<&str> = report
        .lines()
        .filter_map(|l| l.strip_prefix("cmdline "))
        .collect();
    assert_eq!(cmdlines, [r"b'/nosh\x00toolbox\x00'"], "{report}");
}

#[test]
fn a_replicas_toolbox_shows_no_argument_and_run_inherits_no_word_of_the_host() {
    require_engine();
    let t = Container::run(&python_app_image(), &[]);
    t.wait_running();
    let typed = secret("REPLICA");
    // The program run lists every command line in the replica (the
    // toolbox is its PID 1) and every NOSH_ variable it was given.
    let list = "import os; \
        print('cmdlines', sorted(open('/proc/'+p+'/cmdline','rb').read() \
        for p in os.listdir('/proc') if p.isdigit())); \
        print('vars', sorted(k for k in os.environ if k.startswith('NOSH')))";
    // As the app, and as root: only root (with no capabilities) may read
    // the toolbox's own /proc/1/environ, where the shell takes its
    // variables from, and the host half's words are still in it.
    for identity in [&[][..], &["--root"][..]] {
        let out = Nosh::new()
            .args(["-T", "--replica"])
            .args(identity)
            .arg(t.name())
            .c(&format!(
                "echo {typed}; run /usr/bin/python3.11 -c \"{list}\""
            ))
            .run();
        out.success().stdout_has(&typed);
        let listed: Vec<&str> = out
            .stdout()
            .lines()
            .filter(|l| l.starts_with("cmdlines") || l.starts_with("vars"))
            .collect();
        assert_eq!(listed.len(), 2, "{identity:?}: {}", out.stdout());
        assert!(!listed[0].contains(&typed), "{identity:?}: {}", listed[0]);
        assert!(
            listed[0].contains(r"b'/.nosh/nosh\x00toolbox\x00'"),
            "{identity:?}: {}",
            listed[0]
        );
        assert_eq!(listed[1], "vars []", "{identity:?}");
    }
}
