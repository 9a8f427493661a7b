//! Faults and load around a session: the target killed or removed under
//! it, the engine connection cut, and 20 sessions at once (on one target,
//! and on 20). After each, nothing of nosh's may be left.
//!
//! The client killed, the target stopped and Ctrl-C are in `attach.rs`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::{Container, docker_ok, nosh_bin, require_engine, session, static_app_image};

fn target() -> Container {
    let c = Container::run(&static_app_image(), &[]);
    c.wait_running();
    c
}

/// Waits until `target` has `n` running sidecars (≤ 20 s); returns them.
fn wait_for_sidecars(target: &Container, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let running = target.running_sidecars();
        if running.len() >= n {
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} sidecars running",
            running.len()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for `child` up to `limit`; its exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (i32, String, String) {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "nosh did not exit within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `/proc/PID/status` value in kB, 0 if the process is gone.
fn status_kb(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_session_ends_clearly_when_the_target_is_killed() {
    require_engine();
    let t = target();
    let child = session(&["-T", t.name()]);
    wait_for_sidecars(&t, 1);
    docker_ok(&["kill", t.name()]);
    let (code, _, stderr) = finish(child, Duration::from_secs(20));
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    t.assert_nothing_left_within(Duration::from_secs(10));
}

#[test]
fn the_session_ends_clearly_when_the_target_is_removed() {
    require_engine();
    let t = target();
    let child = session(&["-T", t.name()]);
    wait_for_sidecars(&t, 1);
    docker_ok(&["rm", "-f", t.name()]);
    let (code, _, stderr) = finish(child, Duration::from_secs(20));
    assert_ne!(code, 0, "{stderr}");
    assert!(!stderr.is_empty(), "no word on why the session ended");
    assert!(!stderr.contains("panicked"), "{stderr}");
    t.assert_nothing_left_within(Duration::from_secs(10));
}

/// A unix socket in front of the engine's that can be cut.
struct Proxy {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
    conns: Arc<Mutex<Vec<UnixStream>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&path).expect("bind proxy");
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let held = conns.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else {
                    break;
                };
                let mut list = held.lock().expect("proxy lock");
                list.push(client.try_clone().expect("clone"));
                list.push(engine.try_clone().expect("clone"));
                drop(list);
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        engine.try_clone().expect("clone"),
                    ),
                    (engine, client),
                ] {
                    thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Proxy {
            path,
            _dir: dir,
            conns,
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        let _ = std::fs::remove_file(&self.path);
        for c in self.conns.lock().expect("proxy lock").iter() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[test]
fn a_dropped_engine_connection_ends_the_session_with_a_clear_error() {
    require_engine();
    let t = target();
    let proxy = Proxy::start();
    let host = proxy.host();
    let mut child = session(&["-H", &host, "-T", t.name()]);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    writeln!(stdin, "echo before-the-cut").expect("send");
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l == "before-the-cut"),
        "the session never ran a command"
    );
    proxy.cut();
    let (code, _, stderr) = finish(child, Duration::from_secs(20));
    eprintln!("after the cut: exit {code}, stderr: {stderr}");
    assert_ne!(code, 0, "{stderr}");
    assert!(
        !stderr.trim().is_empty(),
        "no word on why the session ended"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("lost the connection"), "{stderr}");
    drop(stdin);
    // The engine closes the sidecar's stdin with the attach connection.
    t.assert_nothing_left_within(Duration::from_secs(10));
}

/// On a terminal, a cut engine connection must still give the terminal back
/// in the state it was found (raw mode off), with the reason on screen.
#[test]
fn a_dropped_engine_connection_restores_the_terminal() {
    use nix::sys::termios::{LocalFlags, tcgetattr};
    use std::io::Read;
    require_engine();
    let t = target();
    let proxy = Proxy::start();
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let before = tcgetattr(&pty.slave).expect("tcgetattr");
    assert!(before.local_flags.contains(LocalFlags::ICANON));
    let slave = std::fs::File::from(pty.slave);
    let mut child = Command::new(nosh_bin())
        .args(["-H", &proxy.host(), "-t", t.name()])
        .stdin(slave.try_clone().expect("clone"))
        .stdout(slave.try_clone().expect("clone"))
        .stderr(slave.try_clone().expect("clone"))
        .spawn()
        .expect("spawn nosh");
    let screen: Arc<Mutex<Vec<u8>>> = Arc::default();
    let seen = screen.clone();
    let mut master = std::fs::File::from(pty.master);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.lock().expect("screen").extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&screen.lock().expect("screen")).into_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !text().contains("uid=65532") {
        assert!(Instant::now() < deadline, "no prompt:\n{}", text());
        thread::sleep(Duration::from_millis(50));
    }
    let raw = tcgetattr(&slave).expect("tcgetattr");
    assert!(
        !raw.local_flags.contains(LocalFlags::ICANON),
        "not in raw mode"
    );
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "nosh did not end after the cut");
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(125), "{}", text());
    let after = tcgetattr(&slave).expect("tcgetattr");
    assert_eq!(
        after.local_flags, before.local_flags,
        "terminal left changed"
    );
    assert_eq!(after.input_flags, before.input_flags);
    assert_eq!(after.output_flags, before.output_flags);
    thread::sleep(Duration::from_millis(200));
    assert!(text().contains("lost the connection"), "{}", text());
    // The engine never closes a TTY sidecar's stdin and the watchdog's way
    // to the engine was cut too, so the sidecar outlives this cut (a real
    // dockerd restart takes it down): clean up here.
    for id in t.sidecars() {
        let _ = Command::new("docker").args(["rm", "-f", &id]).output();
    }
}

/// Holds `n` sessions open on `targets` (round-robin), reports each
/// sidecar's memory, then runs a command in each and ends them.
fn hold_sessions(targets: &[Container], n: usize) {
    let started = Instant::now();
    let mut children: Vec<Child> = (0..n)
        .map(|i| session(&["-T", targets[i % targets.len()].name()]))
        .collect();
    let per_target = n.div_ceil(targets.len());
    let mut kb = Vec::new();
    for t in targets {
        for id in wait_for_sidecars(t, per_target) {
            let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
            kb.push(status_kb(&pid, "VmRSS:"));
        }
    }
    let total: u64 = kb.iter().sum();
    eprintln!(
        "{n} sessions on {} target(s) held after {:?}; sidecar RSS: max {} kB, mean {} kB, total {} kB",
        targets.len(),
        started.elapsed(),
        kb.iter().max().unwrap_or(&0),
        total / kb.len().max(1) as u64,
        total
    );
    for (i, child) in children.iter_mut().enumerate() {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "echo session-{i}; id").expect("send");
        // stdin closes here: the session ends after the commands.
    }
    for (i, child) in children.into_iter().enumerate() {
        let (code, stdout, stderr) = finish(child, Duration::from_secs(60));
        assert_eq!(code, 0, "session {i}: {stderr}");
        assert!(
            stdout.contains("uid=65532"),
            "session {i}: {stdout}{stderr}"
        );
    }
    for t in targets {
        t.assert_nothing_left_within(Duration::from_secs(10));
    }
    eprintln!(
        "{n} sessions ended, 0 sidecars left, in {:?}",
        started.elapsed()
    );
}

#[test]
fn twenty_sessions_on_one_target_all_work_and_all_go() {
    require_engine();
    hold_sessions(&[target()], 20);
}

#[test]
fn twenty_sessions_on_twenty_targets_all_work_and_all_go() {
    require_engine();
    let targets: Vec<Container> = thread::scope(|s| {
        let made: Vec<_> = (0..20).map(|_| s.spawn(target)).collect();
        made.into_iter()
            .map(|h| h.join().expect("target"))
            .collect()
    });
    hold_sessions(&targets, 20);
}
