//! A target in its own user namespace, as `ctr run --uidmap 0:100000:65536`,
//! Podman `--userns` or Kubernetes `hostUsers: false` make one: uids 0-65535
//! inside are 100000-165535 on the host, and the app runs as 65532 inside
//! (165532 outside) in new PID, mount, UTS, IPC and network namespaces,
//! chrooted into a root with no shell.
//!
//! A small C launcher does it (util-linux `unshare --map-users` needs
//! newuidmap and an /etc/subuid entry): it clones into the new namespaces,
//! the parent writes the maps as host root, then the child becomes root
//! inside, mounts /proc, chroots, drops to 65532 and executes the app.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The first host id of the namespace's range.
pub const HOST_BASE: u32 = 100_000;

const LAUNCHER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
static int sync_pipe[2];
static char *root;
static char **app;
static char stack[1 << 16];
static pid_t child_pid;
static int child(void *arg) {
    (void)arg;
    char c;
    close(sync_pipe[1]);
    if (read(sync_pipe[0], &c, 1) != 1) return 90;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) return 91;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return 92;
    char proc[4096];
    snprintf(proc, sizeof proc, "%s/proc", root);
    if (mount("proc", proc, "proc", 0, NULL)) return 93;
    if (chroot(root) || chdir("/")) return 94;
    gid_t g = 65532;
    if (setgroups(1, &g) || setresgid(g, g, g) || setresuid(65532, 65532, 65532)) return 95;
    execv(app[0], app);
    return 96;
}
static int write_map(pid_t pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY);
    const char *map = "0 100000 65536\n";
    int ok = fd >= 0 && write(fd, map, strlen(map)) == (ssize_t)strlen(map);
    if (fd >= 0) close(fd);
    return ok ? 0 : -1;
}
static void forward(int s) { if (child_pid > 0) kill(child_pid, SIGKILL); (void)s; _exit(0); }
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    root = argv[1];
    app = argv + 2;
    if (pipe(sync_pipe)) return 3;
    child_pid = clone(child, stack + sizeof stack,
        CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD, NULL);
    if (child_pid < 0) { perror("clone"); return 4; }
    signal(SIGTERM, forward);
    if (write_map(child_pid, "uid_map") || write_map(child_pid, "gid_map")) { perror("map"); kill(child_pid, SIGKILL); return 5; }
    close(sync_pipe[0]);
    if (write(sync_pipe[1], "x", 1) != 1) return 6;
    int status;
    waitpid(child_pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
"#;

/// Compile the launcher once per test binary.
fn launcher() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| super::unshare::compile_static("userns-launcher", LAUNCHER_C))
}

/// The app running in its own user namespace; killed when dropped.
pub struct UsernsTarget {
    pub root: tempfile::TempDir,
    launcher: Child,
    /// The app's pid as the host sees it.
    pub pid: i32,
}

impl UsernsTarget {
    /// The distroless-like root of [`super::unshare::Target`], with `/app`
    /// and `/home/nonroot` owned by 65532 *inside* (165532 on the host).
    pub fn start() -> UsernsTarget {
        let root = tempfile::Builder::new()
            .prefix("nosh-userns-")
            .tempdir()
            .unwrap();
        let r = root.path();
        let inside = |id: u32| HOST_BASE + id;
        for d in ["proc", "etc", "app", "home/nonroot"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        super::unshare::put(
            r,
            "etc/passwd",
            b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            0o644,
        );
        super::unshare::put(r, "etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0o644);
        super::unshare::put(r, "app/data.txt", b"data\n", 0o600);
        fs::copy(super::unshare::static_app(), r.join("app/app")).unwrap();
        // Everything belongs to root inside, the app's files to 65532 inside.
        for entry in ["", "proc", "etc", "etc/passwd", "etc/group", "home"] {
            std::os::unix::fs::chown(r.join(entry), Some(inside(0)), Some(inside(0))).unwrap();
        }
        for entry in ["app", "app/app", "app/data.txt", "home/nonroot"] {
            std::os::unix::fs::chown(r.join(entry), Some(inside(65532)), Some(inside(65532)))
                .unwrap();
        }
        let launcher = Command::new(launcher())
            .arg(r)
            .arg("/app/app")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let lpid = launcher.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let app = super::unshare::children(lpid).into_iter().find(|p| {
                fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"/app/app"))
            });
            if let Some(pid) = app {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "the user-namespace target did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        UsernsTarget {
            root,
            launcher,
            pid,
        }
    }
}

impl Drop for UsernsTarget {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}
