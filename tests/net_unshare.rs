//! The network builtins against a target made with `unshare`, no Docker:
//! a fresh network namespace with only loopback up, a shell-less root, and
//! a static app as 65532 that listens on TCP 127.0.0.1:8080 (answering
//! HTTP with a chunked body) and holds UDP 127.0.0.1:8081. Runs as root.
//!
//! Nothing is skipped: without root, gcc or unshare the tests fail and say
//! which is missing.

#[path = "support/unshare.rs"]
mod unshare;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use unshare::{children, compile_static, put, run_bounded, spawn_namespaced, stderr, stdout};

const NET_APP_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int bound(int type, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int s = socket(AF_INET, type, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) _exit(3);
    return s;
}
int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int udp = bound(SOCK_DGRAM, 8081);
    int tcp = bound(SOCK_STREAM, 8080);
    (void)udp;
    if (listen(tcp, 64) != 0) return 4;
    static const char reply[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nok\n\r\n0\r\n\r\n";
    for (;;) {
        int c = accept(tcp, 0, 0);
        if (c < 0) continue;
        char buf[4096];
        if (read(c, buf, sizeof buf) > 0) write(c, reply, sizeof reply - 1);
        close(c);
    }
}
"#;

fn require_root_and_tools() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the network namespace tests need root (they create namespaces with unshare)"
    );
    for tool in ["unshare", "gcc", "ip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "`{tool}` is needed by the network namespace tests and is not installed"
        );
    }
}

/// Compile the listening app once per test binary.
fn net_app() -> &'static Path {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    APP.get_or_init(|| {
        require_root_and_tools();
        compile_static("netapp", NET_APP_C)
    })
}

/// The target: killed (its whole PID namespace with it) when dropped.
struct NetTarget {
    _root: tempfile::TempDir,
    unshare: Child,
    /// The app's pid as the host sees it.
    pid: i32,
}

impl NetTarget {
    fn start() -> NetTarget {
        let app = net_app();
        let root = tempfile::Builder::new()
            .prefix("nosh-net-target-")
            .tempdir()
            .unwrap();
        let r = root.path();
        fs::set_permissions(r, fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["proc", "etc", "app"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        put(
            r,
            "etc/passwd",
            b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            0o644,
        );
        put(r, "etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0o644);
        put(
            r,
            "etc/hosts",
            b"127.0.0.1 localhost\n127.0.0.1 app.internal app\n10.1.2.3 db.internal # primary\n",
            0o644,
        );
        // No nameserver answers in this namespace: names must come from hosts.
        put(r, "etc/resolv.conf", b"nameserver 127.0.0.1\n", 0o644);
        fs::copy(app, r.join("app/app")).unwrap();
        // 1. lo up (a new network namespace starts with it down), 2. the
        // target's own /proc, 3. the app as 65532 in its root. The `sh` runs
        // on the host side; the target has none.
        let script = format!(
            "ip link set lo up && mount -t proc proc {root}/proc && exec chroot --userspec=65532:65532 {root} /app/app",
            root = r.display()
        );
        let unshare = spawn_namespaced(&script);
        let upid = unshare.id() as i32;
        let mut target = NetTarget {
            _root: root,
            unshare,
            pid: 0,
        };
        // Ready when the app, a child of unshare, listens on 8080.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = app_child(upid)
                && fs::read_to_string(format!("/proc/{pid}/net/tcp"))
                    .is_ok_and(|t| t.contains("0100007F:1F90 00000000:0000 0A"))
            {
                target.pid = pid;
                return target;
            }
            if let Ok(Some(status)) = target.unshare.try_wait() {
                panic!("the unshare target exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the unshare target did not start listening within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn nosh(&self, line: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nosh"));
        cmd.args(["toolbox", "--pid", &self.pid.to_string(), "-c", line]);
        run_bounded(cmd, "")
    }

    fn json(&self, line: &str) -> (Value, Output) {
        let out = self.nosh(line);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`{line}` printed no JSON ({e}):\n{}\nstderr: {}",
                stdout(&out),
                stderr(&out)
            )
        });
        (v, out)
    }
}

impl Drop for NetTarget {
    fn drop(&mut self) {
        // unshare first (--kill-child then kills the app too), then the
        // app itself in case that raced: SIGKILL to the namespace's pid 1
        // ends every process in it.
        let _ = self.unshare.kill();
        if self.pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.unshare.wait();
    }
}

/// The child of `parent` that runs /app/app as 65532.
fn app_child(parent: i32) -> Option<i32> {
    children(parent).into_iter().find(|pid| {
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        cmd.starts_with(b"/app/app") && status.lines().any(|l| l.starts_with("Uid:\t65532"))
    })
}

fn find<'a>(rows: &'a Value, proto: &str, port: u64) -> Option<&'a Value> {
    rows.as_array()?
        .iter()
        .find(|r| r["proto"] == proto && r["local_port"] == port)
}

#[test]
fn ports_json_lists_the_apps_tcp_listener_and_udp_socket_with_pid_1() {
    let t = NetTarget::start();
    let (rows, out) = t.json("ports --json");
    assert!(out.status.success(), "{}", stderr(&out));
    let tcp = find(&rows, "tcp", 8080).unwrap_or_else(|| panic!("no tcp 8080 in {rows:#}"));
    assert_eq!(tcp["state"], "LISTEN");
    assert_eq!(tcp["local_addr"], "127.0.0.1");
    assert_eq!(tcp["pid"], 1);
    assert_eq!(tcp["process"], "app");
    assert_eq!(tcp["uid"], 65532);
    assert!(tcp["inode"].as_u64().unwrap() > 0);
    let udp = find(&rows, "udp", 8081).unwrap_or_else(|| panic!("no udp 8081 in {rows:#}"));
    assert_eq!(udp["state"], "UNCONN");
    assert_eq!(udp["pid"], 1);
    // Only the app's two sockets exist in this namespace.
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows:#}");
}

#[test]
fn ports_table_and_ss_alias_filter_by_protocol() {
    let t = NetTarget::start();
    let out = t.nosh("ss -t");
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.starts_with("PROTO"), "{text}");
    assert!(text.contains("127.0.0.1:8080"), "{text}");
    assert!(!text.contains("8081"), "{text}");
    assert!(!text.contains("owner not visible"), "{text}");
    let out = t.nosh("ports -u");
    assert!(stdout(&out).contains("127.0.0.1:8081"), "{}", stdout(&out));
}

#[test]
fn bind_check_names_pid_1_as_the_holder_of_8080() {
    let t = NetTarget::start();
    let (v, out) = t.json("bind-check 8080 127.0.0.1 --json");
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_eq!(v["bindable"], false);
    assert_eq!(v["holder_pid"], 1);
    assert_eq!(v["holder_process"], "app");
    assert_eq!(v["proto"], "tcp");
    let out = t.nosh("bind-check 8080");
    assert!(
        stdout(&out).contains("in use: pid 1 (app) holds 127.0.0.1:8080"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bind_check_80_fails_in_a_fresh_netns_and_explains_the_sysctl() {
    let t = NetTarget::start();
    let (v, out) = t.json("bind-check 80 --json");
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_eq!(v["bindable"], false);
    assert_eq!(v["unprivileged_port_start"], 1024);
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("ip_unprivileged_port_start (1024)"),
        "{reason}"
    );
    assert!(reason.contains("CAP_NET_BIND_SERVICE"), "{reason}");
    let fixes = v["fixes"].to_string();
    assert!(
        fixes.contains("--sysctl net.ipv4.ip_unprivileged_port_start=0"),
        "{fixes}"
    );
    assert!(fixes.contains("8080"), "{fixes}");
    // A free high port is bindable, and so is UDP.
    let out = t.nosh("bind-check 9090 && bind-check --udp 9090 127.0.0.1");
    assert!(out.status.success(), "{}", stdout(&out));
    // An address that is not in this namespace.
    let out = t.nosh("bind-check 9090 10.9.9.9");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out)
            .contains("not an address of this network namespace (local addresses: 127.0.0.1, ::1)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn connect_reaches_the_app_and_is_refused_on_a_closed_port() {
    let t = NetTarget::start();
    let out = t.nosh("connect 127.0.0.1:8080");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("connected to 127.0.0.1:8080 in "),
        "{}",
        stdout(&out)
    );
    let out = t.nosh("connect 127.0.0.1:1");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "127.0.0.1:1: refused\n");
    // A name from the target's /etc/hosts.
    let out = t.nosh("connect app.internal 8080");
    assert!(
        stdout(&out).starts_with("connected to app.internal (127.0.0.1:8080) in "),
        "{}",
        stdout(&out)
    );
    // No route out of a namespace with only loopback.
    let out = t.nosh("connect 192.0.2.1:80 --timeout 1");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "192.0.2.1:80: unreachable\n");
}

#[test]
fn resolve_reads_the_targets_hosts_file() {
    let t = NetTarget::start();
    let (v, out) = t.json("resolve --json db.internal");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(v["addresses"], serde_json::json!(["10.1.2.3"]));
    assert_eq!(v["source"], "hosts");
    let out = t.nosh("resolve APP");
    assert_eq!(stdout(&out), "APP 127.0.0.1 /etc/hosts\n");
    // Not in hosts, and the namespace's nameserver does not answer.
    let out = t.nosh("resolve missing.example");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("resolve: "), "{}", stderr(&out));
}

#[test]
fn http_gets_the_apps_chunked_response() {
    let t = NetTarget::start();
    let out = t.nosh("http -i http://app.internal:8080/healthz");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "HTTP/1.1 200 OK\nContent-Type: text/plain\nTransfer-Encoding: chunked\n\nok\n"
    );
    let out = t.nosh("http https://127.0.0.1:8080/");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no CA bundle in the target"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ip_and_route_show_only_loopback() {
    let t = NetTarget::start();
    let (v, out) = t.json("ip --json");
    assert!(out.status.success(), "{}", stderr(&out));
    let ifaces = v.as_array().unwrap();
    assert_eq!(ifaces.len(), 1, "{v:#}");
    assert_eq!(ifaces[0]["name"], "lo");
    assert_eq!(ifaces[0]["index"], 1);
    let addrs = ifaces[0]["addresses"].to_string();
    assert!(addrs.contains("127.0.0.1"), "{addrs}");
    assert!(addrs.contains("\"::1\""), "{addrs}");
    let (routes, _) = t.json("route --json");
    assert_eq!(routes, serde_json::json!([]), "{routes:#}");
}
