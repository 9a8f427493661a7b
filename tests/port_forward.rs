//! `nosh port-forward` against the real engine: a shell-less target whose
//! HTTP server listens on 127.0.0.1 only (unreachable from the host without
//! the forward), reached through the forward with 50 connections at once
//! and a 100 MB answer checked by its sha256; Ctrl-C and SIGKILL of the
//! client leave no sidecar behind. Each connection's forwarder runs as the
//! app (also beside a `--pid host` target), within a session sidecar's
//! limits, and no more than `--max-connections` are carried at once.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Container, Rootfs, docker_ok, ensure_image, nosh_bin, short_hash};
use sha2::{Digest, Sha256};

/// A static HTTP server on 127.0.0.1:8080, a process per connection:
/// `GET /big` answers BIG bytes of a fixed pseudo-random sequence, any other
/// path `hello PATH`.
const SERVER_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define BIG (100L * 1024 * 1024)
static int send_all(int fd, const char *p, long n) {
    while (n > 0) { long w = write(fd, p, n); if (w <= 0) return -1; p += w; n -= w; }
    return 0;
}
static void serve(int c) {
    char req[1024]; int n = 0;
    while (n < (int)sizeof req - 1) {
        int r = read(c, req + n, sizeof req - 1 - n);
        if (r <= 0) break;
        n += r; req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[n] = 0;
    char path[256] = "/";
    sscanf(req, "GET %255s", path);
    char head[256];
    if (strcmp(path, "/big") == 0) {
        int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n", BIG);
        if (send_all(c, head, h)) return;
        static char buf[65536];
        unsigned int x = 1;
        for (long sent = 0; sent < BIG; sent += sizeof buf) {
            for (unsigned i = 0; i < sizeof buf; i++) { x = x * 1103515245u + 12345u; buf[i] = (char)(x >> 16); }
            if (send_all(c, buf, sizeof buf)) return;
        }
    } else {
        char body[300];
        int b = snprintf(body, sizeof body, "hello %s\n", path);
        int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", b);
        send_all(c, head, h);
        send_all(c, body, b);
    }
}
int main(void) {
    signal(SIGCHLD, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8080) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128)) { perror("bind"); return 1; }
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        if (fork() == 0) { close(s); serve(c); shutdown(c, SHUT_WR); close(c); _exit(0); }
        close(c);
    }
}
"#;

/// The fixture: the server alone, FROM scratch, as 65532.
fn server_image() -> String {
    let key = short_hash(&[SERVER_C.as_bytes()]);
    ensure_image(
        "loopback-http",
        &key,
        &["ENTRYPOINT [\"/server\"]", "USER 65532"],
        || {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("server.c"), SERVER_C).unwrap();
            let bin = dir.path().join("server");
            let cc = Command::new("gcc")
                .args(["-static", "-O2", "-o"])
                .arg(&bin)
                .arg(dir.path().join("server.c"))
                .status()
                .expect("gcc is needed for the port-forward test");
            assert!(cc.success(), "gcc -static failed");
            let mut root = Rootfs::new();
            root.file("/server", &std::fs::read(&bin).unwrap(), 0, 0, 0o755);
            root.into_tar()
        },
    )
}

/// The first `GEN` bytes of the server's sequence, hashed.
fn expected_big_sha256() -> Vec<u8> {
    let mut hash = Sha256::new();
    let mut x: u32 = 1;
    let mut buf = vec![0u8; 65536];
    for _ in 0..(100 * 1024 * 1024 / buf.len()) {
        for b in buf.iter_mut() {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        hash.update(&buf);
    }
    hash.finalize().to_vec()
}

/// A running `nosh port-forward`, the local address it printed, and what
/// it has said on stderr so far.
struct Forward {
    child: Child,
    local: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Forward {
    fn start(target: &Container, spec: &str) -> Forward {
        Self::start_with(target, &[], spec)
    }

    /// `nosh port-forward OPTIONS TARGET SPEC`.
    fn start_with(target: &Container, options: &[&str], spec: &str) -> Forward {
        let mut child = Command::new(nosh_bin())
            .arg("port-forward")
            .args(options)
            .args([target.name(), spec])
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning nosh port-forward");
        // Kept for the test, and shown as the test's own stderr.
        let stderr = Arc::new(Mutex::new(String::new()));
        let said = stderr.clone();
        let from = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines().map_while(Result::ok) {
                eprintln!("{line}");
                said.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Forwarding from 127.0.0.1:PORT -> 127.0.0.1:8080 in NAME"
        let local = line
            .strip_prefix("Forwarding from ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(line.contains("-> 127.0.0.1:8080"), "{line}");
        Forward {
            child,
            local,
            stderr,
        }
    }

    /// Ctrl-C, and a clean end.
    fn stop(mut self) {
        self.signal(nix::sys::signal::Signal::SIGINT);
        assert_eq!(self.wait().code(), Some(0), "{}", self.stderr());
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "port-forward did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` through `addr`: the status line and the body.
fn get(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    (head, all[end + 4..].to_vec())
}

fn target() -> Container {
    let t = Container::run(&server_image(), &[]);
    t.wait_running();
    t
}

#[test]
fn a_service_bound_to_loopback_in_the_target_is_reached_from_the_host() {
    let t = target();
    // Without the forward, the port is not reachable from the host.
    let direct: SocketAddr = format!("{}:8080", t.ip()).parse().unwrap();
    assert!(
        TcpStream::connect_timeout(&direct, Duration::from_secs(2)).is_err(),
        "the fixture listens beyond loopback: the test proves nothing"
    );
    let mut fwd = Forward::start(&t, "0:8080");
    let (head, body) = get(fwd.local, "/hello");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), "hello /hello\n");
    // Ctrl-C: a clean end, and nothing left.
    fwd.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(fwd.wait().code(), Some(0));
    t.assert_nothing_left();
    assert_eq!(t.inspect("{{.State.Status}}"), "running");
}

#[test]
fn fifty_concurrent_connections_each_get_their_own_answer() {
    let t = target();
    let fwd = Forward::start(&t, "0:8080");
    let local = fwd.local;
    let clients: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let (head, body) = get(local, &format!("/client-{i}"));
                assert!(head.starts_with("HTTP/1.1 200"), "{i}: {head}");
                assert_eq!(
                    String::from_utf8_lossy(&body),
                    format!("hello /client-{i}\n")
                );
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    drop(fwd);
    t.assert_nothing_left();
}

#[test]
fn a_100_mb_answer_arrives_whole_with_its_checksum() {
    let t = target();
    let fwd = Forward::start(&t, "0:8080");
    let (head, body) = get(fwd.local, "/big");
    assert!(head.contains("Content-Length: 104857600"), "{head}");
    assert_eq!(body.len(), 100 * 1024 * 1024);
    assert_eq!(Sha256::digest(&body).to_vec(), expected_big_sha256());
}

#[test]
fn a_killed_forward_leaves_no_sidecar_behind() {
    let t = target();
    let mut fwd = Forward::start(&t, "0:8080");
    // A connection held open: its sidecar lives until the client ends it.
    // The connection is made as the app's user, with no capability left.
    let (held, forwarder) = hold_a_connection(&fwd, &t);
    wait_for_the_drop_to(forwarder, common::NONROOT);
    let status = std::fs::read_to_string(format!("/proc/{forwarder}/status")).unwrap();
    for set in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let line = status.lines().find(|l| l.starts_with(set)).unwrap();
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
    fwd.signal(nix::sys::signal::Signal::SIGKILL);
    fwd.wait();
    t.assert_nothing_left();
    drop(held);
}

/// The host pid of the forwarder of the one connection `target` has: its
/// sidecar's process.
fn forwarder_of(target: &Container) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let [id] = target.running_sidecars().as_slice() {
            let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", id]);
            if let Ok(pid @ 1..) = pid.parse::<u32>() {
                return pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no single running forward sidecar: {:?}",
            target.running_sidecars()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits up to 10 s until the forwarder `pid` has dropped to `uid` (it
/// starts as root, and drops before it connects); panics with its uids.
fn wait_for_the_drop_to(pid: u32, uid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::proc_uids(pid) != [uid; 4] {
        assert!(
            Instant::now() < deadline,
            "the forwarder never dropped to uid {uid}: {:?}",
            common::proc_uids(pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A connection held open (a request never finished), and its forwarder.
fn hold_a_connection(fwd: &Forward, target: &Container) -> (TcpStream, u32) {
    let mut held = TcpStream::connect(fwd.local).unwrap();
    held.write_all(b"GET /slow").unwrap();
    (held, forwarder_of(target))
}

#[test]
fn the_forwarder_of_a_host_pid_target_is_its_app_not_the_hosts_root() {
    // Sharing the host's PID namespace, PID 1 of the forward sidecar's
    // namespace is the host's init, root: the app is the container's own
    // process, uid 65532.
    let t = Container::run(&server_image(), &["--pid", "host"]);
    t.wait_running();
    let fwd = Forward::start(&t, "0:8080");
    let (held, forwarder) = hold_a_connection(&fwd, &t);
    wait_for_the_drop_to(forwarder, common::NONROOT);
    // Nothing but the program and its subcommand on its command line,
    // which every process of the host can read here.
    let cmdline = std::fs::read(format!("/proc/{forwarder}/cmdline")).unwrap();
    assert_eq!(cmdline, b"/nosh\0toolbox\0");
    drop(held);
    let (head, body) = get(fwd.local, "/as-the-app");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), "hello /as-the-app\n");
    fwd.stop();
    t.assert_nothing_left();
}

#[test]
fn forward_sidecars_hold_a_session_sidecars_limits() {
    let t = target();
    for (options, pids, memory) in [
        (&[][..], 1024, 1u64 << 30),
        (
            &["--pids-limit", "64", "--memory", "256m"][..],
            64,
            256 << 20,
        ),
    ] {
        let fwd = Forward::start_with(&t, options, "0:8080");
        let (held, _) = hold_a_connection(&fwd, &t);
        let id = t.running_sidecars().remove(0);
        let h: serde_json::Value =
            serde_json::from_str(&docker_ok(&["inspect", "-f", "{{json .HostConfig}}", &id]))
                .unwrap();
        assert_eq!(h["PidsLimit"], pids, "{options:?}: {h}");
        assert_eq!(h["Memory"], memory, "{options:?}: {h}");
        drop(held);
        fwd.stop();
        t.assert_nothing_left();
    }
}

#[test]
fn connections_beyond_the_cap_are_closed_and_each_is_logged_in_one_line() {
    let t = target();
    const CAP: usize = 3;
    let fwd = Forward::start_with(&t, &["--max-connections", &CAP.to_string()], "0:8080");
    // CAP idle connections, each with its sidecar.
    let mut held = Vec::new();
    for n in 1..=CAP {
        let mut s = TcpStream::connect(fwd.local).unwrap();
        s.write_all(b"GET /idle").unwrap();
        held.push(s);
        let deadline = Instant::now() + Duration::from_secs(20);
        while t.running_sidecars().len() < n {
            assert!(Instant::now() < deadline, "no sidecar for connection {n}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // One more is closed unanswered, and said so.
    let mut extra = TcpStream::connect(fwd.local).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = extra.write_all(b"GET /one-too-many HTTP/1.1\r\n\r\n");
    let mut answer = Vec::new();
    let read = extra.read_to_end(&mut answer);
    assert!(
        matches!(read, Ok(0)) || read.is_err() && answer.is_empty(),
        "the connection over the cap was answered: {read:?} {:?}",
        String::from_utf8_lossy(&answer)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fwd.stderr().contains("closed the connection") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged: {}",
            fwd.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(t.sidecars().len(), CAP, "{:?}", t.sidecars());
    let refusals: Vec<String> = fwd
        .stderr()
        .lines()
        .filter(|l| l.contains("closed the connection"))
        .map(str::to_owned)
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(
        refusals[0].contains(&format!("{CAP} connections are open")),
        "{}",
        refusals[0]
    );
    // A slot freed is a slot taken again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.sidecars().len() >= CAP {
        assert!(
            Instant::now() < deadline,
            "the ended connection's sidecar stayed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (head, body) = get(fwd.local, "/again");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), "hello /again\n");
    drop(held);
    fwd.stop();
    t.assert_nothing_left();
}

#[test]
fn bad_forwards_and_stopped_targets_are_one_sentence_and_125() {
    let t = target();
    let out = Command::new(nosh_bin())
        .args(["port-forward", t.name(), "8080:db:80"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad forward '8080:db:80': 'db' is not an IP address"),
        "{err}"
    );
    docker_ok(&["stop", "-t", "1", t.name()]);
    let out = Command::new(nosh_bin())
        .args(["port-forward", t.name(), "0:8080"])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not running"), "{err}");
}

#[test]
fn a_client_that_leaves_mid_answer_costs_nothing_and_the_forward_goes_on() {
    let t = target();
    let fwd = Forward::start(&t, "0:8080");
    let mut s = TcpStream::connect(fwd.local).unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut some = vec![0u8; 1024 * 1024];
    s.read_exact(&mut some).unwrap();
    drop(s);
    t.assert_nothing_left();
    let (_, body) = get(fwd.local, "/after");
    assert_eq!(String::from_utf8_lossy(&body), "hello /after\n");
}
