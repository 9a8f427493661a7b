//! A stand-in for a shell-less container, made with `unshare`: new PID,
//! mount, UTS, IPC and network namespaces, a root filesystem with no shell,
//! and a static app running as 65532 chrooted into it. It is what a
//! Kubernetes ephemeral container or any non-Docker runtime looks like to
//! the toolbox.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A static program that sleeps as its own process tree: it opens
/// /app/data.txt for writing, starts one child, then waits for signals.
/// `app exit N` exits with N at once; `app ids` prints its real and
/// effective uid; `app orphan` leaves a sleeping child
/// behind and exits (to prove the toolbox reaps what it started);
/// `app poke PATH` tries to open PATH for appending every 50 ms (a failing
/// call on demand, for `trace`), `app nodump PATH` does the same after
/// making itself non-dumpable, and `app forkopen PATH` opens PATH in a
/// forked child and exits with the child's status; `app net` connects to
/// 127.0.0.1:9 and binds 0.0.0.0:8099 twice (failing socket calls).
const APP_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>
static void bye(int s) { (void)s; _exit(0); }
int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
    if (argc > 1 && strcmp(argv[1], "ids") == 0) {
        printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "orphan") == 0) {
        if (fork() == 0) { close(1); close(2); for (;;) pause(); }
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "net") == 0) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connect(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&a, sizeof a);
        struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(8099) };
        int s1 = socket(AF_INET, SOCK_STREAM, 0);
        bind(s1, (struct sockaddr *)&b, sizeof b);
        listen(s1, 1);
        int s2 = socket(AF_INET, SOCK_STREAM, 0);
        return bind(s2, (struct sockaddr *)&b, sizeof b) < 0 ? 4 : 0;
    }
    signal(SIGTERM, bye);
    if (argc > 2 && strcmp(argv[1], "nodump") == 0) prctl(PR_SET_DUMPABLE, 0);
    if (argc > 2 && (strcmp(argv[1], "poke") == 0 || strcmp(argv[1], "nodump") == 0))
        for (;;) { int fd = open(argv[2], O_WRONLY | O_APPEND); if (fd >= 0) close(fd); usleep(50000); }
    if (argc > 2 && strcmp(argv[1], "forkopen") == 0) {
        int st = 0;
        pid_t c = fork();
        if (c == 0) _exit(open(argv[2], O_RDONLY) < 0 ? 3 : 0);
        waitpid(c, &st, 0);
        return WEXITSTATUS(st);
    }
    open("/app/data.txt", O_RDWR | O_CREAT | O_APPEND, 0644);
    if (fork() == 0) { for (;;) pause(); }
    for (;;) pause();
}
"#;

/// Compile a C program with `gcc -static` into a directory of this test
/// process; the target has no libc to link against.
pub fn compile_static(name: &str, source: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nosh-{name}-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    fs::write(&src, source).unwrap();
    let bin = dir.join(name);
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc is needed to build the static test app");
    assert!(
        out.status.success(),
        "gcc -static failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Compile the app once per test binary.
pub fn static_app() -> &'static Path {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    APP.get_or_init(|| compile_static("unshare-app", APP_C))
}

/// Run `sh -c SCRIPT` in new PID, mount, UTS, IPC and network namespaces.
/// The `sh` runs on the host side, before the script chroots into a root
/// without a shell; `--kill-child` takes the namespace down with unshare.
pub fn spawn_namespaced(script: &str) -> Child {
    Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare (util-linux) is needed for the namespace tests")
}

/// The toolbox binary under test (not necessarily static: it is run
/// directly on the host here).
pub fn nosh() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nosh"))
}

pub struct Target {
    pub root: tempfile::TempDir,
    unshare: Child,
    /// The app's pid as the host sees it.
    pub pid: i32,
}

/// Write a file below `root` with a mode.
pub fn put(root: &Path, rel: &str, content: &[u8], mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Write a file below `root` with a mode and an owner (uid = gid).
pub fn put_owned(root: &Path, rel: &str, content: &[u8], mode: u32, owner: u32) {
    put(root, rel, content, mode);
    chown(&root.join(rel), owner, owner);
}

/// Make a directory below `root` with a mode and an owner (uid = gid).
pub fn mkdir_owned(root: &Path, rel: &str, mode: u32, owner: u32) {
    let p = root.join(rel);
    fs::create_dir_all(&p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    chown(&p, owner, owner);
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

impl Target {
    /// A distroless-like root: passwd and group with `nonroot`, the app in
    /// /app, a root-only secret, a root-owned /var/log/app, a file whose
    /// name holds an escape sequence, and no shell anywhere.
    pub fn start() -> Target {
        Self::start_with(|_| {})
    }

    /// As [`start`], letting the caller add files before the app starts.
    pub fn start_with(extra: impl FnOnce(&Path)) -> Target {
        Self::start_args(&[], extra)
    }

    /// As [`start_with`], the app started with `args` (`poke PATH`).
    pub fn start_args(args: &[&str], extra: impl FnOnce(&Path)) -> Target {
        let root = tempfile::Builder::new()
            .prefix("nosh-target-")
            .tempdir()
            .unwrap();
        let r = root.path();
        fs::set_permissions(r, fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["proc", "tmp", "etc", "app", "var/log/app", "home/nonroot"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        fs::set_permissions(r.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        chown(&r.join("home/nonroot"), 65532, 65532);
        chown(&r.join("app"), 65532, 65532);
        put(
            r,
            "etc/passwd",
            b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            0o644,
        );
        put(r, "etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0o644);
        put(r, "etc/secret", b"root only\n", 0o600);
        put(r, "app/evil\x1b[31mname", b"", 0o644);
        fs::copy(static_app(), r.join("app/app")).unwrap();
        // A setuid-root copy: no_new_privs must keep it at the app's uid.
        fs::copy(static_app(), r.join("app/suid")).unwrap();
        fs::set_permissions(r.join("app/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
        extra(r);

        let script = format!(
            "mount -t proc proc {root}/proc && exec chroot --userspec=65532:65532 {root} /app/app {args}",
            root = r.display(),
            args = args.join(" ")
        );
        let unshare = spawn_namespaced(&script);
        let upid = unshare.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = children(upid).into_iter().find(|p| is_app(*p)) {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "the unshare target did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Plain, the app starts one child right away: wait for it too, so
        // that a test reading the target's processes reads them settled.
        while args.is_empty() && children(pid).is_empty() {
            assert!(
                Instant::now() < deadline,
                "the unshare target did not start its child"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Target { root, unshare, pid }
    }

    /// Run `nosh toolbox --pid <pid> EXTRA -c LINE` as root.
    pub fn toolbox(&self, extra: &[&str], line: &str) -> Output {
        let mut cmd = Command::new(nosh());
        cmd.arg("toolbox")
            .arg("--pid")
            .arg(self.pid.to_string())
            .args(extra)
            .arg("-c")
            .arg(line);
        run_bounded(cmd, "")
    }

    /// Run the toolbox reading commands from stdin.
    pub fn toolbox_stdin(&self, input: &str) -> Output {
        let mut cmd = Command::new(nosh());
        cmd.args(["toolbox", "--pid", &self.pid.to_string()]);
        run_bounded(cmd, input)
    }

    /// The processes in the target's PID namespace, as the host sees them:
    /// (pid, parent, command name). Not the whole stat line: its state and
    /// counters move on their own.
    pub fn processes(&self) -> Vec<(i32, i32, String)> {
        let ns = fs::read_link(format!("/proc/{}/ns/pid", self.pid)).unwrap();
        let mut out: Vec<(i32, i32, String)> = all_pids()
            .into_iter()
            .filter(|p| fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns))
            .filter_map(|p| {
                let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                let (head, rest) = stat.rsplit_once(')')?;
                let comm = head.split_once('(')?.1.to_string();
                let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
                Some((p, ppid, comm))
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        let _ = self.unshare.wait();
    }
}

/// Run a command with `input` on stdin; kill it after 60 s so a broken
/// build fails the test instead of hanging it.
pub fn run_bounded(mut cmd: Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    out
}

/// Every pid the host sees.
pub fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The pids whose parent is `parent`.
pub fn children(parent: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

/// The resident memory of `pid` and every process below it, in KiB, as
/// the host sees it.
pub fn tree_rss_kib(pid: i32) -> u64 {
    let own = fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            status_field(&s, "VmRSS")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    own + children(pid).into_iter().map(tree_rss_kib).sum::<u64>()
}

fn is_app(pid: i32) -> bool {
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    cmd.starts_with(b"/app/app") && status.lines().any(|l| l.starts_with("Uid:\t65532"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A field of a `/proc/.../status` text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::trim))
}
