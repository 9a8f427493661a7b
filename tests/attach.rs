//! `nosh TARGET` against the real Docker Engine, with a shell-less fixture
//! image the tests build themselves (a static C program imported FROM
//! scratch: no registry is reachable).
//!
//! The binary under test is the static build (`make static-dev`, or
//! `$NOSH_BIN`). Tests are skipped, loudly, when no engine socket is there.
//! The fixture app is local to this file: it also emits output that starts
//! with bytes a multiplex header starts with.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;
#[path = "support/pty.rs"]
mod pty;

use common::{TEST_LABEL, docker, docker_ok, gc_lock, nosh_bin, require_engine};
use pty::{Pty, set_size};

// ---------------------------------------------------------------- fixtures

const APP_C: &str = r#"
/* A shell-less app: `app` sleeps until SIGTERM, `app exit N` exits with N,
   `app emit` writes bytes that start with ^A ^B (a fake multiplex header). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void term(int s) { (void)s; _exit(0); }
int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
    if (argc > 1 && strcmp(argv[1], "emit") == 0) {
        static const char b[] = "\x01\x02\x00\x00\x00\x00\x00\x05hello-after-control\n";
        return write(1, b, sizeof b - 1) == (ssize_t)(sizeof b - 1) ? 0 : 1;
    }
    signal(SIGTERM, term);
    signal(SIGINT, term);
    for (;;) pause();
}
"#;

/// A file of the target that imitates the toolbox's end mark (with a
/// value of its own, as any target must: it cannot read the session's).
const FORGED_END: &[u8] = b"before\n\0nosh:end:0123456789abcdef0123456789abcdef:0\nafter\n";

/// The fixture image: `/app/app` (static), run as 65532. Built once per test
/// process; the tag is stable, so parallel test binaries share it.
fn app_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app.c");
        std::fs::write(&src, APP_C).unwrap();
        std::fs::create_dir_all(dir.path().join("root/app")).unwrap();
        std::fs::write(dir.path().join("root/app/forged-end"), FORGED_END).unwrap();
        let bin = dir.path().join("root/app/app");
        let cc = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&bin)
            .arg(&src)
            .status()
            .expect("gcc");
        assert!(cc.success(), "gcc -static failed");
        let tag = "nosh-test-app:attach".to_string();
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(dir.path().join("root"))
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let import = Command::new("docker")
            .args([
                "import",
                "-c",
                r#"ENTRYPOINT ["/app/app"]"#,
                "-c",
                "USER 65532",
                "-c",
                &format!("LABEL {TEST_LABEL}"),
                "-",
                &tag,
            ])
            .stdin(tar.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(tar.wait().unwrap().success(), "tar failed");
        assert!(
            import.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&import.stderr)
        );
        tag
    })
}

/// A running fixture container, removed when dropped.
struct Target {
    name: String,
    id: String,
}

impl Target {
    fn run(test: &str, extra: &[&str]) -> Target {
        let name = format!("nosh-t-{test}-{}", std::process::id());
        let _ = docker(&["rm", "-f", &name]);
        let mut args = vec!["run", "-d", "--label", TEST_LABEL, "--name", &name];
        args.extend_from_slice(extra);
        args.push(app_image());
        let id = docker_ok(&args);
        Target { name, id }
    }

    fn inspect(&self, format: &str) -> String {
        docker_ok(&["inspect", "-f", format, &self.id])
    }

    /// Sidecars of this target, any state.
    fn sidecars(&self) -> Vec<String> {
        docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.nosh.target={}", self.id),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Waits until a sidecar of this target is running (not just created:
    /// stopping the target between create and start is another case).
    fn wait_for_sidecar(&self) {
        let start = Instant::now();
        let running = || {
            docker_ok(&[
                "ps",
                "-q",
                "--filter",
                "status=running",
                "--filter",
                &format!("label=io.nosh.target={}", self.id),
            ])
            .trim()
            .is_empty()
        };
        while running() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no sidecar appeared"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Give it the moment between create and a started shell.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Polls until no sidecar of this target is left (≤ 10 s).
    fn assert_nothing_left(&self) {
        let start = Instant::now();
        loop {
            let left = self.sidecars();
            if left.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sidecars left behind for {}: {left:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Host-side view of the target's PID namespace: (pid, state) of each
    /// process in it.
    fn processes(&self) -> BTreeSet<(u32, char)> {
        let pid = self.inspect("{{.State.Pid}}");
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
        let mut found = BTreeSet::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if std::fs::read_link(format!("/proc/{p}/ns/pid"))
                .ok()
                .as_ref()
                != Some(&ns)
            {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.trim().chars().next())
                .unwrap_or('?');
            found.insert((p, state));
        }
        found
    }

    /// What must not change across a session.
    fn fingerprint(&self) -> String {
        format!(
            "{}\n{}",
            self.inspect("{{.RestartCount}} {{.State.StartedAt}} {{.State.Pid}} {{.State.Status}} {{json .ExecIDs}}"),
            docker_ok(&["diff", &self.id])
        )
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.id]);
    }
}

// ---------------------------------------------------------------- nosh runs

/// One `nosh` invocation: `Nosh::new().args([..]).stdin("..").run()`.
#[derive(Default)]
struct Nosh {
    args: Vec<String>,
    stdin: Option<String>,
    uid: Option<u32>,
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Nosh {
    fn new() -> Nosh {
        Nosh::default()
    }

    fn args<const N: usize>(mut self, args: [&str; N]) -> Nosh {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    fn stdin(mut self, text: &str) -> Nosh {
        self.stdin = Some(text.into());
        self
    }

    fn by_user(mut self, uid: u32) -> Nosh {
        self.uid = Some(uid);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(nosh_bin());
        cmd.args(&self.args).env_remove("DOCKER_HOST");
        if let Some(uid) = self.uid {
            cmd.uid(uid).gid(uid);
        }
        cmd
    }

    fn run(self) -> Ran {
        let mut cmd = self.command();
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning nosh");
        if let Some(text) = &self.stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let ran = Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !ran.stderr.contains("panicked"),
            "nosh panicked: {}",
            ran.stderr
        );
        ran
    }

    /// Starts nosh with its stdin held open, for sessions killed mid-way.
    fn spawn(self) -> Child {
        let mut cmd = self.command();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawning nosh")
    }
}

impl Ran {
    fn ok(self) -> Ran {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn stdout_has(self, what: &str) -> Ran {
        assert!(
            self.stdout.contains(what),
            "stdout lacks {what:?}:\n{}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// A nosh failure: exit 125, the sentence, and a hint line.
    fn fails_with(self, sentence: &str) -> Ran {
        assert_eq!(self.code, 125, "stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(sentence),
            "stderr lacks {sentence:?}:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.contains("\nhint: "),
            "no hint:\n{}",
            self.stderr
        );
        self
    }
}

// ---------------------------------------------------------------- sessions

#[test]
fn shell_runs_as_the_target_uid() {
    require_engine();
    let t = Target::run("uid", &[]);
    Nosh::new()
        .args([&t.name, "-c", "id"])
        .run()
        .ok()
        .stdout_has("uid=65532");
}

#[test]
fn exit_status_is_the_shells() {
    require_engine();
    let t = Target::run("status", &[]);
    assert_eq!(Nosh::new().args([&t.name, "-c", "exit 3"]).run().code, 3);
    assert_eq!(Nosh::new().args([&t.name, "--", "exit", "4"]).run().code, 4);
    t.assert_nothing_left();
}

#[test]
fn a_one_shot_session_ends_on_the_toolboxs_mark_with_all_of_both_streams() {
    require_engine();
    let t = Target::run("mark", &[]);
    let counted = Nosh::new()
        .args([&t.name, "-c", "xxd /app/app | wc -c"])
        .run()
        .ok();
    let bytes: usize = counted.stdout.trim().parse().expect("a byte count");
    assert!(bytes > 1 << 20, "{bytes}");
    let missing = Nosh::new().args([&t.name, "-c", "ls /missing"]).run();
    assert_ne!(missing.code, 0);
    // Megabytes on stdout, then a last line on stderr: the session ends on
    // the mark of both streams, never before the end of either.
    for _ in 0..3 {
        let ran = Nosh::new()
            .args(["-v", &t.name, "-c", "xxd /app/app; ls /missing"])
            .run();
        assert_eq!(ran.code, missing.code, "{}", ran.stderr);
        assert_eq!(ran.stdout.len(), bytes);
        assert!(ran.stdout.ends_with('\n'));
        assert!(ran.stderr.contains("/missing"), "{}", ran.stderr);
        assert!(
            ran.stderr
                .contains("ended (the toolbox's mark), exit status"),
            "{}",
            ran.stderr
        );
        assert!(!ran.stderr.contains("nosh:end:"), "{}", ran.stderr);
    }
    t.assert_nothing_left();
}

#[test]
fn output_that_imitates_the_end_mark_is_shown_and_ends_nothing() {
    require_engine();
    let t = Target::run("forged", &[]);
    let ran = Nosh::new()
        .args(["-v", &t.name, "-c", "cat /app/forged-end; exit 7"])
        .run();
    assert_eq!(ran.code, 7, "{}", ran.stderr);
    assert_eq!(ran.stdout.as_bytes(), FORGED_END);
    assert!(
        ran.stderr
            .contains("ended (the toolbox's mark), exit status 7"),
        "{}",
        ran.stderr
    );
}

#[test]
fn piped_commands_run_in_order_and_see_the_targets_files() {
    require_engine();
    let t = Target::run("piped", &[]);
    let ran = Nosh::new()
        .args(["-T", &t.name])
        .stdin("ls /\nid\n")
        .run()
        .ok();
    let ls_at = ran.stdout.find("app").expect("ls / lists /app");
    let id_at = ran.stdout.find("uid=65532").expect("id ran");
    assert!(ls_at < id_at, "{}", ran.stdout);
    assert!(
        !ran.stdout.contains("nosh"),
        "the toolbox's own / leaked:\n{}",
        ran.stdout
    );
}

#[test]
fn ps_shows_the_targets_pid_1() {
    require_engine();
    let t = Target::run("ps", &[]);
    let ran = Nosh::new().args([&t.name, "-c", "ps"]).run().ok();
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("/app/app")),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_target_can_be_named_by_id_or_unique_prefix() {
    require_engine();
    let t = Target::run("byid", &[]);
    Nosh::new().args([&t.id, "-c", "true"]).run().ok();
    Nosh::new().args([&t.id[..10], "-c", "true"]).run().ok();
}

#[test]
fn the_target_is_untouched_and_nothing_is_left() {
    require_engine();
    let t = Target::run("untouched", &[]);
    let before = t.fingerprint();
    let procs = t.processes();
    Nosh::new()
        .args(["-T", &t.name])
        .stdin("ls /app\nps\ncat /proc/1/status\nrun /app/app exit 0\n")
        .run()
        .ok();
    t.assert_nothing_left();
    assert_eq!(t.fingerprint(), before);
    let after = t.processes();
    assert_eq!(after, procs, "the target's process list changed");
    assert!(after.iter().all(|(_, s)| *s != 'Z'), "zombies: {after:?}");
}

#[test]
fn output_starting_with_control_bytes_arrives_intact_on_a_tty() {
    require_engine();
    let t = Target::run("ctl", &[]);
    for mode in ["-t", "-T"] {
        let out = Command::new(nosh_bin())
            .args([mode, &t.name, "-c", "run /app/app emit"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout
                .starts_with(b"\x01\x02\x00\x00\x00\x00\x00\x05hello-after-control"),
            "{mode}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn ten_concurrent_sessions_on_one_target() {
    require_engine();
    let t = Target::run("ten", &[]);
    let name = t.name.clone();
    let runs: Vec<_> = (0..10)
        .map(|i| {
            let name = name.clone();
            std::thread::spawn(move || {
                Nosh::new()
                    .args([&name, "-c", &format!("echo session-{i}")])
                    .run()
                    .ok()
                    .stdout_has(&format!("session-{i}"));
            })
        })
        .collect();
    for r in runs {
        r.join().unwrap();
    }
    t.assert_nothing_left();
}

#[test]
fn nothing_is_left_after_the_client_is_killed() {
    require_engine();
    let t = Target::run("kill9", &[]);
    let mut child = Nosh::new().args(["-T", &t.name]).spawn();
    t.wait_for_sidecar();
    child.kill().unwrap(); // SIGKILL: no cleanup code of ours runs.
    child.wait().unwrap();
    t.assert_nothing_left();
}

#[test]
fn the_sidecar_goes_when_the_target_stops() {
    require_engine();
    let t = Target::run("stopped", &[]);
    let child = Nosh::new().args(["-T", &t.name]).spawn();
    t.wait_for_sidecar();
    docker_ok(&["stop", "-t", "2", &t.id]);
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stopped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.assert_nothing_left();
}

#[test]
fn interrupting_the_client_removes_the_sidecar() {
    require_engine();
    let t = Target::run("sigint", &[]);
    let child = Nosh::new().args(["-T", &t.name]).spawn();
    t.wait_for_sidecar();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    t.assert_nothing_left();
}

#[test]
fn gc_removes_sidecars_whose_target_is_gone_and_ls_lists_live_ones() {
    let _gc = gc_lock();
    require_engine();
    let t = Target::run("gc", &[]);
    let child = Nosh::new().args(["-T", &t.name]).spawn();
    t.wait_for_sidecar();
    let ls = Nosh::new().args(["ls"]).run().ok();
    assert!(ls.stdout.starts_with("SESSION"), "{}", ls.stdout);
    assert!(ls.stdout.contains(&t.name), "{}", ls.stdout);
    drop(child); // its stdin closes: the session ends on its own.

    // A leftover as a crashed client would leave it: created, never started,
    // from the toolbox image (a label alone does not make it nosh's).
    let toolbox = current_toolbox_tag();
    let stale = docker_ok(&[
        "create",
        "--label",
        TEST_LABEL,
        "--label",
        "io.nosh.session=sidecar",
        "--label",
        "io.nosh.target=0000000000000000deadbeef",
        &toolbox,
    ]);
    // And one a live client has just created and is about to start.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let young = docker_ok(&[
        "create",
        "--label",
        TEST_LABEL,
        "--label",
        "io.nosh.session=sidecar",
        "--label",
        &format!("io.nosh.target={}", t.id),
        "--label",
        &format!("io.nosh.created={now}"),
        &toolbox,
    ]);
    let gc = Nosh::new().args(["gc"]).run().ok();
    assert!(gc.stdout.contains(&stale[..12]), "{}", gc.stdout);
    assert!(
        docker(&["inspect", &stale]).status.code() != Some(0),
        "gc left {stale}"
    );
    assert!(
        docker(&["inspect", &young]).status.success(),
        "gc removed a sidecar that was being started: {}",
        gc.stdout
    );
    docker_ok(&["rm", "-f", &young]);
}

/// The toolbox image this build imports (once a session has run).
fn current_toolbox_tag() -> String {
    let hash = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(std::fs::read(nosh_bin()).unwrap());
        digest
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    format!("nosh-toolbox:{}-{hash}", env!("CARGO_PKG_VERSION"))
}

/// The first 12 hex digits of the sha256 of `path`'s bytes.
fn content_hash(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_changed_binary_gets_a_toolbox_image_of_its_own_and_an_unchanged_one_is_not_hashed_again() {
    // gc would untag the changed binary's image: it is another build's.
    let _gc = gc_lock();
    require_engine();
    let t = Target::run("selfhash", &[]);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("nosh");
    std::fs::copy(nosh_bin(), &bin).unwrap();
    let cache = dir.path().join("cache");
    // `-v` says how the binary was named and which image it uses.
    let attach = || {
        let out = Command::new(&bin)
            .args(["-v", &t.name, "-c", "true"])
            .env("XDG_CACHE_HOME", &cache)
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{log}");
        log
    };
    let named = |log: &str, hash: &str, how: &str| {
        let line = format!("this binary is {hash} ({how})");
        assert!(log.contains(&line), "no {line:?} in:\n{log}");
        let tag = format!("nosh-toolbox:{}-{hash}", env!("CARGO_PKG_VERSION"));
        assert!(
            log.contains(&format!("toolbox image {tag} is present"))
                || log.contains(&format!("imported {tag}")),
            "{tag} not used:\n{log}"
        );
        tag
    };
    let first = attach();
    let tag = named(&first, &content_hash(&bin), "hashed");
    assert_eq!(tag, current_toolbox_tag());
    let second = attach();
    assert_eq!(named(&second, &content_hash(&bin), "remembered"), tag);

    // The same file, changed (a static ELF runs with bytes appended): a
    // new hash, a new image made of the changed bytes.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&bin)
        .unwrap()
        .write_all(&[0x5a; 4096])
        .unwrap();
    let changed = content_hash(&bin);
    assert_ne!(changed, content_hash(&nosh_bin()));
    let third = attach();
    let new_tag = named(&third, &changed, "hashed");
    assert!(third.contains(&format!("importing {new_tag}")), "{third}");
    let size: u64 = docker_ok(&["image", "inspect", "--format", "{{.Size}}", &new_tag])
        .trim()
        .parse()
        .unwrap();
    let len = std::fs::metadata(&bin).unwrap().len();
    assert!(
        (len..len + 64 * 1024).contains(&size),
        "{size} for {len} bytes"
    );
    let fourth = attach();
    assert_eq!(named(&fourth, &changed, "remembered"), new_tag);
    // The session ended at the toolbox's mark; the engine may still be
    // removing its sidecar, which uses the image.
    t.assert_nothing_left();
    docker_ok(&["rmi", &new_tag]);
}

#[test]
fn gc_untags_toolbox_images_of_other_builds_and_keeps_this_one() {
    let _gc = gc_lock();
    require_engine();
    let t = Target::run("gcimg", &[]);
    Nosh::new().args([&t.name, "-c", "true"]).run().ok();
    let current = current_toolbox_tag();
    let old = "nosh-toolbox:0.0.0-000000000000";
    docker_ok(&["tag", &current, old]);
    // Another test's gc may run at the same time and do it first: what
    // counts is that the old tag is gone and this build's image stays.
    Nosh::new().args(["gc"]).run().ok();
    assert!(
        docker(&["image", "inspect", old]).status.code() != Some(0),
        "gc left {old}"
    );
    assert!(docker(&["image", "inspect", &current]).status.success());
}

// ---------------------------------------------------------------- errors

#[test]
fn an_unknown_container_is_one_sentence_and_125() {
    require_engine();
    Nosh::new()
        .args(["no-such-container-here", "-c", "true"])
        .run()
        .fails_with("nosh: no such container: no-such-container-here");
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates() {
    require_engine();
    // Create containers until two share their first hex digit.
    let mut made: Vec<String> = Vec::new();
    let pair = loop {
        let id = docker_ok(&["create", "--label", TEST_LABEL, app_image()]);
        if let Some(other) = made.iter().find(|o| o.as_bytes()[0] == id.as_bytes()[0]) {
            break (other.clone(), id.clone());
        }
        made.push(id);
        assert!(made.len() <= 17);
    };
    made.push(pair.1.clone());
    // Every container sharing that digit is a candidate.
    let prefix = &pair.0[..1];
    let ran = Nosh::new().args([prefix, "-c", "true"]).run();
    for id in &made {
        let _ = docker(&["rm", "-f", id]);
    }
    let ran = ran.fails_with(&format!("container id prefix '{prefix}' is ambiguous"));
    assert!(
        ran.stderr.contains(&pair.0[..12]) && ran.stderr.contains(&pair.1[..12]),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_paused_container_says_unpause() {
    require_engine();
    let t = Target::run("paused", &[]);
    docker_ok(&["pause", &t.id]);
    let ran = Nosh::new().args([&t.name, "-c", "true"]).run();
    docker_ok(&["unpause", &t.id]);
    ran.fails_with(&format!("container {} is paused", t.name));
}

#[test]
fn an_exited_container_gets_a_replica() {
    require_engine();
    let t = Target::run("exited", &[]);
    docker_ok(&["rm", "-f", &t.id]);
    let name = format!("nosh-t-exited7-{}", std::process::id());
    let _ = docker(&["rm", "-f", &name]);
    let out = docker(&[
        "run",
        "--label",
        TEST_LABEL,
        "--name",
        &name,
        app_image(),
        "exit",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    let ran = Nosh::new().args([&name, "-c", "echo in-replica"]).run();
    let _ = docker(&["rm", "-f", &name]);
    ran.ok().stdout_has("in-replica");
}

#[test]
fn an_unreachable_engine_names_the_socket() {
    require_engine();
    Nosh::new()
        .args(["-H", "unix:///nonexistent.sock", "anything", "-c", "true"])
        .run()
        .fails_with("cannot connect to the Docker engine at unix:///nonexistent.sock");
}

#[test]
fn a_socket_this_user_cannot_open_is_permission_denied() {
    require_engine();
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test runs nosh as another user, which needs root (CI runs as root)"
    );
    // The engine socket is root:docker 0660; uid 65534 is in neither.
    Nosh::new()
        .by_user(65534)
        .args(["anything", "-c", "true"])
        .run()
        .fails_with("permission denied on the Docker engine socket unix:///var/run/docker.sock");
}

// ---------------------------------------------------------------- terminal

/// nosh on a pseudo-terminal, as a person at a terminal runs it.
fn nosh_on_a_pty(args: &[&str], cols: u16, rows: u16) -> Pty {
    let mut cmd = Command::new(nosh_bin());
    cmd.args(args);
    Pty::spawn(cmd, cols, rows)
}

#[test]
fn a_terminal_session_prompts_runs_follows_resizes_and_exits() {
    require_engine();
    let t = Target::run("tty", &[]);
    let mut pty = nosh_on_a_pty(&[&t.name], 90, 20);
    let before = pty.termios();
    let at = pty.expect("$ ", 0);
    // The first prompt may come before the first resize reaches the
    // sidecar's TTY (it is 0x0 until then); the shell reads the size each
    // time it prompts.
    pty.send("\r");
    let at = pty.expect("$ ", at);
    pty.send("echo cols=$COLUMNS rows=$LINES\r");
    let at = pty.expect("cols=90 rows=20", at);
    // The shell reads the size each time it prompts: resize, then prompt.
    set_size(&pty.master, 123, 41);
    std::thread::sleep(Duration::from_millis(500));
    pty.send("\r");
    std::thread::sleep(Duration::from_millis(300));
    pty.send("echo cols=$COLUMNS rows=$LINES\r");
    let at = pty.expect("cols=123 rows=41", at);
    pty.send("id\r");
    let at = pty.expect("\nuid=65532", at);
    pty.expect("$ ", at);
    pty.send("exit 5\r");
    let status = pty.child.wait().unwrap();
    assert_eq!(status.code(), Some(5));
    // Raw mode was undone.
    let after = pty.termios();
    assert_eq!(after.local_flags, before.local_flags);
    assert_eq!(after.input_flags, before.input_flags);
    t.assert_nothing_left();
}

#[test]
fn nothing_is_left_after_a_terminal_client_is_killed() {
    require_engine();
    let t = Target::run("tty-kill9", &[]);
    let mut pty = nosh_on_a_pty(&[&t.name], 80, 24);
    pty.expect("$ ", 0);
    pty.child.kill().unwrap();
    pty.child.wait().unwrap();
    t.assert_nothing_left();
}

// ------------------------------------------------------- the end of a session

/// A unix socket in front of the engine's that never answers a wait for a
/// container's *removal*: an engine whose clean-up lags (a slow storage
/// driver, a busy daemon). Everything else passes through untouched.
struct LaggingRemoval {
    dir: tempfile::TempDir,
}

impl LaggingRemoval {
    fn start() -> LaggingRemoval {
        let dir = tempfile::tempdir().unwrap();
        let listener =
            std::os::unix::net::UnixListener::bind(dir.path().join("engine.sock")).unwrap();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                std::thread::spawn(move || Self::serve(client));
            }
        });
        LaggingRemoval { dir }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("engine.sock").display())
    }

    fn serve(mut client: std::os::unix::net::UnixStream) {
        use std::net::Shutdown;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match client.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        if String::from_utf8_lossy(&head).contains("condition=removed") {
            // Held open, never answered, until the test ends.
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        let Ok(mut engine) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock") else {
            return;
        };
        if engine.write_all(&head).is_err() {
            return;
        }
        let (mut c2, mut e2) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut c2, &mut e2);
            let _ = e2.shutdown(Shutdown::Write);
        });
        let _ = std::io::copy(&mut engine, &mut client);
        let _ = client.shutdown(Shutdown::Write);
        let _ = up.join();
    }
}

#[test]
fn a_session_ends_when_the_shell_exits_not_when_the_engine_has_removed_the_sidecar() {
    require_engine();
    let t = Target::run("fastend", &[]);
    let front = LaggingRemoval::start();
    let mut child = Nosh::new()
        .args(["-H", &front.host(), &t.name, "-c", "echo bye; exit 3"])
        .spawn();
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the session waited for the sidecar's removal, which the engine had not finished"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bye\n");
    // Removing the sidecar is still the engine's job, and it does it.
    t.assert_nothing_left();
}
