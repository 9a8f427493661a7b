//! Direct attach is as confined as a sidecar: the target's code never
//! reaches the operator's terminal, runs in the target's cgroups and under a
//! seccomp filter, holds only fds 0-2, and never sees what the operator
//! typed. Each test plays the target as an attacker would, with a static
//! probe program the test builds and puts into a real Docker container (or
//! an `unshare`-made one), and checks the outcome from the host.
//! Runs as root; the binary under test is the static build (`$NOSH_BIN`).

#[path = "support/pty.rs"]
mod pty;
#[path = "support/unshare.rs"]
mod unshare;

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Container, Rootfs, ensure_image, nosh_bin, short_hash};
use nix::sys::termios::Termios;
use pty::{Pty, set_size};
use unshare::{Target, compile_static, run_bounded, stderr, stdout};

/// The target's side: one static program, a mode per attack.
const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
    static char other[16];
    switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EAGAIN: return "EAGAIN";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    }
    snprintf(other, sizeof other, "E%d", e);
    return other;
}
static int err(long rc) { return rc < 0 ? errno : 0; }
static void bye(int s) { (void)s; _exit(0); }

/* Each call in a child of its own, so that one that works changes nothing
   for the next. */
static void call(const char *name, int (*fn)(void)) {
    pid_t p = fork();
    if (p == 0) _exit(fn());
    int st = 0;
    waitpid(p, &st, 0);
    printf("%s=%s\n", name, WIFEXITED(st) ? en(WEXITSTATUS(st)) : "killed");
}
static int c_unshare(void) { return err(unshare(CLONE_NEWUSER)); }
static int c_userns_mount(void) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return errno;
    return err(mount("none", "/tmp", "tmpfs", 0, 0));
}
static int c_mount(void) { return err(mount("none", "/tmp", "tmpfs", 0, 0)); }
static int c_keyctl(void) { return err(syscall(SYS_keyctl, 0, -3, 0)); }
static int c_bpf(void) {
    char attr[128] = {0};
    attr[0] = 2; /* BPF_MAP_TYPE_ARRAY */
    attr[4] = 4; attr[8] = 4; attr[12] = 1;
    return err(syscall(SYS_bpf, 0, attr, sizeof attr));
}
static int c_perf(void) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_SOFTWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    return err(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
}
static int c_userfaultfd(void) { return err(syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */)); }
static int c_getpid(void) { return err(getpid()); }
static int c_open(void) { return err(open("/probe", O_RDONLY)); }
static int c_socket(void) { return err(socket(AF_INET, SOCK_STREAM, 0)); }
static int c_fork(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    if (p < 0) return errno;
    waitpid(p, 0, 0);
    return 0;
}

static int inject(const char *text) {
    int fd0 = 0, tty = 0;
    for (const char *c = text; *c; c++)
        if (ioctl(0, TIOCSTI, c) < 0) { fd0 = errno; break; }
    int t = open("/dev/tty", O_RDWR);
    if (t < 0) tty = errno;
    else
        for (const char *c = text; *c; c++)
            if (ioctl(t, TIOCSTI, c) < 0) { tty = errno; break; }
    fprintf(stderr, "tiocsti fd0=%s ", en(fd0));
    fprintf(stderr, "tty=%s\n", en(tty));
    /* Its parent is the shell: gone, the terminal is the next reader's. */
    kill(getppid(), SIGKILL);
    sleep(2);
    return 0;
}

static int watch(const char *a, const char *b) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("watching\n");
    int seen_a = 0, seen_b = 0;
    static char buf[65536];
    for (;;) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            /* Its own command line holds both. */
            if (atoi(e->d_name) == getpid()) continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
            int fd = open(path, O_RDONLY);
            if (fd < 0) continue;
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n <= 0) continue;
            for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' ';
            buf[n] = 0;
            if (!seen_a && strstr(buf, a)) { seen_a = 1; printf("seen %s\n", a); }
            if (!seen_b && strstr(buf, b)) { seen_b = 1; printf("seen %s\n", b); }
        }
        if (d) closedir(d);
        usleep(1000);
    }
}

static int forks(int n) {
    int made = 0, why = 0;
    setpgid(0, 0);
    for (; made < n; made++) {
        pid_t p = fork();
        if (p == 0) { prctl(PR_SET_PDEATHSIG, SIGKILL); pause(); _exit(0); }
        if (p < 0) { why = errno; break; }
    }
    /* The children die with it (PR_SET_PDEATHSIG). */
    printf("forked=%d errno=%s\n", made, en(why));
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGTERM, bye);
    const char *mode = argc > 1 ? argv[1] : "pause";
    if (!strcmp(mode, "mknod") && argc > 4) {
        int rc = mknod(argv[2], S_IFCHR | 0666, makedev(atoi(argv[3]), atoi(argv[4])));
        chmod(argv[2], 0666);
        printf("mknod=%s\n", en(rc < 0 ? errno : 0));
        fflush(stdout);
        mode = "pause";
    }
    if (!strcmp(mode, "pause")) for (;;) pause();
    if (!strcmp(mode, "watch") && argc > 3) return watch(argv[2], argv[3]);
    if (!strcmp(mode, "inject") && argc > 2) {
        char text[4096];
        snprintf(text, sizeof text, "%s\n", argv[2]);
        return inject(text);
    }
    if (!strcmp(mode, "fork") && argc > 2) return forks(atoi(argv[2]));
    if (!strcmp(mode, "sleep") && argc > 2) { usleep(atoi(argv[2]) * 1000); return 0; }
    if (!strcmp(mode, "open") && argc > 2) {
        int flags = O_RDONLY;
        if (argc > 3 && argv[3][0] == 'w') flags = O_WRONLY;
        if (argc > 3 && argv[3][0] == 'c') flags = O_WRONLY | O_CREAT;
        int rc = open(argv[2], flags, 0644);
        printf("open=%s\n", en(rc < 0 ? errno : 0));
        return rc < 0;
    }
    if (!strcmp(mode, "calls")) {
        call("unshare", c_unshare);
        call("userns_mount", c_userns_mount);
        call("mount", c_mount);
        call("keyctl", c_keyctl);
        call("bpf", c_bpf);
        call("perf_event_open", c_perf);
        call("userfaultfd", c_userfaultfd);
        call("getpid", c_getpid);
        call("open", c_open);
        call("socket", c_socket);
        call("fork", c_fork);
        return 0;
    }
    fprintf(stderr, "probe: unknown mode %s\n", mode);
    return 2;
}
"#;

fn probe_bin() -> &'static Path {
    static BIN: OnceLock<std::path::PathBuf> = OnceLock::new();
    BIN.get_or_init(|| compile_static("confine-probe", PROBE_C))
}

/// A FROM-scratch image holding only the probe (entrypoint `/probe pause`),
/// passwd and group, `/tmp`; it runs as 65532 unless told otherwise.
fn probe_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let bin = std::fs::read(probe_bin()).unwrap();
            ensure_image(
                "confine-probe",
                &short_hash(&[&bin]),
                &[
                    "USER 65532:65532",
                    r#"ENTRYPOINT ["/probe"]"#,
                    r#"CMD ["pause"]"#,
                ],
                || {
                    let mut fs = Rootfs::new();
                    fs.file("probe", &bin, 0, 0, 0o755)
                        .file(
                            "etc/passwd",
                            b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n",
                            0,
                            0,
                            0o644,
                        )
                        .file("etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0, 0, 0o644)
                        .dir("tmp", 0, 0, 0o1777)
                        .dir("home/nonroot", 65532, 65532, 0o755);
                    fs.into_tar()
                },
            )
        })
        .clone()
}

/// A running probe container; `args` go before the image, `cmd` after.
fn target(args: &[&str], cmd: &[&str]) -> Container {
    let c = Container::run_cmd(&probe_image(), args, cmd);
    c.wait_running();
    c
}

/// `nosh --direct NAME -c LINE`, stdin and output pipes, bounded.
fn direct(c: &Container, line: &str) -> Output {
    let mut cmd = Command::new(nosh_bin());
    cmd.args(["--direct", c.name(), "-c", line]);
    run_bounded(cmd, "")
}

/// Lines of the form `name=value` in `text`, as a lookup.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

/// The marker the injected command would create exists (it runs as root
/// on the host, in the operator's bash).
#[test]
fn a_target_program_cannot_type_into_the_operators_shell() {
    let t = target(&[], &[]);
    let marker = std::env::temp_dir().join(unique("nosh-tiocsti"));
    let _ = std::fs::remove_file(&marker);
    let mut bash = Command::new("bash");
    bash.args(["--norc", "--noprofile", "-i"])
        .env("PS1", "host$ ")
        .env("NOSH", nosh_bin());
    let mut pty = Pty::spawn(bash, 100, 30);
    let at = pty.expect("host$ ", 0);
    // The probe pushes a command into its fd 0 and into the /dev/tty it
    // opens, then kills the shell that started it.
    pty.send(&format!(
        "\"$NOSH\" --direct {} -c 'run /probe inject \"touch {}\"'; echo nosh-\"\"exit=$?\r",
        t.name(),
        marker.display()
    ));
    let at = pty.expect("nosh-exit=", at);
    pty.send("echo host-$((40+2))\r");
    pty.expect("host-42", at);
    std::thread::sleep(Duration::from_millis(300));
    let screen = pty.screen();
    // The injection itself worked (into nosh's own terminal), so the
    // outcome below is the confinement's, not a refused ioctl's.
    assert!(screen.contains("tiocsti fd0=ok tty=ok"), "{screen}");
    let ran = marker.exists();
    let _ = std::fs::remove_file(&marker);
    assert!(
        !ran,
        "the operator's shell ran the injected command:\n{screen}"
    );
}

#[test]
fn direct_programs_run_in_the_targets_cgroups_under_its_pids_limit() {
    let t = target(&["--pids-limit", "40"], &[]);
    let out = direct(
        &t,
        "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup; echo ---; run /probe fork 200",
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    let parts: Vec<&str> = text.split("---\n").collect();
    // The shell's cgroups are the app's, hierarchy by hierarchy.
    assert_eq!(parts[0], parts[1], "{text}");
    assert!(parts[0].lines().count() > 1, "{text}");
    assert!(
        parts[0].lines().all(|l| l.contains(t.id())),
        "not the container's cgroups: {text}"
    );
    // Its pids limit holds the programs the shell starts.
    let forked: u32 = field(parts[2], "forked")
        .and_then(|f| f.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(forked < 40, "{text}");
    assert!(parts[2].contains("errno=EAGAIN"), "{text}");
}

#[test]
fn a_device_the_target_made_but_may_not_open_stays_closed_to_run() {
    // Root in the container may mknod (CAP_MKNOD); its devices cgroup
    // denies opening /dev/kmsg's numbers. (In /dev: the image's own files
    // may sit on a `nodev` mount.)
    let t = target(&["--user", "0"], &["mknod", "/dev/probe-kmsg", "1", "11"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.logs().contains("mknod=ok") {
        assert!(Instant::now() < deadline, "{}", t.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = direct(&t, "run /probe open /dev/probe-kmsg w");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert_eq!(field(&text, "open"), Some("EPERM"), "{text}");
}

#[test]
fn direct_programs_get_eperm_for_what_engines_deny_and_ordinary_calls_work() {
    let t = target(&[], &[]);
    let out = direct(&t, "run /probe calls");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for denied in [
        "unshare",
        "userns_mount",
        "mount",
        "keyctl",
        "bpf",
        "perf_event_open",
        "userfaultfd",
    ] {
        assert_eq!(field(&text, denied), Some("EPERM"), "{denied}: {text}");
    }
    for ordinary in ["getpid", "open", "socket", "fork"] {
        assert_eq!(field(&text, ordinary), Some("ok"), "{ordinary}: {text}");
    }
}

#[test]
fn trace_still_reads_its_tracee_under_the_filter() {
    let t = target(&[], &[]);
    let out = direct(&t, "trace -- /probe open /nonexistent");
    let text = stdout(&out);
    assert!(
        text.contains("\"/nonexistent\"") && text.contains("ENOENT"),
        "{text}\n{}",
        stderr(&out)
    );
}

#[test]
fn a_target_reading_command_lines_never_sees_what_the_operator_typed() {
    let secret = unique("SECRET");
    let visible = unique("VISIBLE");
    let t = target(&[], &["watch", &secret, &visible]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.logs().contains("watching") {
        assert!(Instant::now() < deadline, "{}", t.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The program `run` starts shows its own arguments, as any process
    // does: that one is seen, and proves the watcher watches.
    let out = direct(
        &t,
        &format!("export TOKEN={secret}; sleep 1; run /probe sleep 500 {visible}; sleep 1"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let logs = t.logs();
    assert!(logs.contains(&format!("seen {visible}")), "{logs}");
    assert!(!logs.contains(&format!("seen {secret}")), "{logs}");
}

/// fd 7 of nosh: an O_PATH directory of the host's `/`, left open the way a
/// calling script would.
fn with_host_root_at_fd_7(cmd: &mut Command) {
    let root = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    // SAFETY: dup2 and close between fork and exec, both async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            use std::os::fd::AsRawFd;
            if libc::dup2(root.as_raw_fd(), 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_program_started_by_run_reaches_no_fd_nosh_was_given() {
    let escape = std::env::temp_dir().join(unique("nosh-fd-escape"));
    let through = format!("/proc/self/fd/7{}", escape.display());
    // nosh with fd 7 open; its `run` tries to create a file through it.
    let attempt = |args: &[&str], program: &str| {
        let mut cmd = Command::new(nosh_bin());
        cmd.args(args)
            .arg("-c")
            .arg(format!("run {program} open {through} c"));
        with_host_root_at_fd_7(&mut cmd);
        let out = run_bounded(cmd, "");
        let created = escape.exists();
        let _ = std::fs::remove_file(&escape);
        assert!(!created, "a file was created on the host through fd 7");
        let opened = field(&stdout(&out), "open").map(str::to_string);
        assert_eq!(opened.as_deref(), Some("ENOENT"), "{}", stderr(&out));
    };
    let t = target(&[], &[]);
    attempt(&["--direct", t.name()], "/probe");
    // The same in the toolbox half a sidecar runs.
    let u = Target::start_with(|root| {
        std::fs::copy(probe_bin(), root.join("app/probe")).unwrap();
    });
    attempt(&["toolbox", "--pid", &u.pid.to_string()], "/app/probe");
}

/// `unshare -m sleep 300`: a host process with a mount namespace of its own.
struct HostProcess(std::process::Child);

impl HostProcess {
    fn start() -> HostProcess {
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sleep", "300"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let p = HostProcess(child);
        // unshare execs sleep in place once the namespace is made.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{}/comm", p.pid())).unwrap_or_default()
            != "sleep\n"
        {
            assert!(Instant::now() < deadline, "unshare -m sleep did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pid_target_refuses_a_host_process_with_only_a_mount_namespace_of_its_own() {
    let p = HostProcess::start();
    let mut cmd = Command::new(nosh_bin());
    cmd.args([&format!("pid://{}", p.pid()), "-c", "id"]);
    let out = run_bounded(cmd, "");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(125), "{err}\n{}", stdout(&out));
    assert!(
        err.contains(&format!(
            "nosh: process {} is not in a container: it shares the host's PID, network and user namespaces and cgroups",
            p.pid()
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("--any-process"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn any_process_attaches_to_a_host_process_on_purpose() {
    let p = HostProcess::start();
    let mut cmd = Command::new(nosh_bin());
    cmd.args([&format!("pid://{}", p.pid()), "--any-process", "-c", "id"]);
    let out = run_bounded(cmd, "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("uid=0(root)"), "{}", stdout(&out));
}

#[test]
fn where_the_cgroups_cannot_be_joined_target_programs_are_refused_in_one_sentence() {
    let t = target(&[], &[]);
    // nosh in a mount namespace where no cgroup filesystem is mounted.
    let line = "id; run /probe calls; entrypoint --test; trace -- /probe calls";
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("umount -R /sys/fs/cgroup && exec \"$0\" \"$@\"")
        .arg(nosh_bin())
        .args(["--direct", t.name(), "-c", line]);
    let out = run_bounded(cmd, "");
    let (text, err) = (stdout(&out), stderr(&out));
    // The shell still inspects.
    assert!(text.starts_with("uid=65532(nonroot)"), "{text}\n{err}");
    for who in ["run: /probe: ", "entrypoint --test: ", "trace: /probe: "] {
        let sentence = format!("{who}not started: nosh could not join the target's cgroups (");
        assert!(err.contains(&sentence), "{who}: {err}");
    }
    assert_eq!(
        err.matches(&format!("`nosh {}` without --direct", t.name()))
            .count(),
        3,
        "{err}"
    );
    assert!(field(&text, "unshare").is_none(), "a program ran: {text}");
    assert_eq!(out.status.code(), Some(126), "{err}");
}

/// An interactive `nosh --direct NAME` on a pty of the test's, and the
/// terminal settings it found there.
fn direct_on_a_pty(t: &Container, cols: u16, rows: u16) -> (Pty, Termios) {
    let mut cmd = Command::new(nosh_bin());
    cmd.args(["--direct", t.name()]);
    let pty = Pty::spawn(cmd, cols, rows);
    let before = pty.termios();
    (pty, before)
}

/// The terminal is as nosh found it (out of raw mode).
fn assert_given_back(pty: &Pty, before: &Termios) {
    let after = pty.termios();
    let screen = pty.screen();
    assert_eq!(before.local_flags, after.local_flags, "{screen}");
    assert_eq!(before.input_flags, after.input_flags, "{screen}");
    assert_eq!(before.output_flags, after.output_flags, "{screen}");
}

#[test]
fn a_direct_session_on_a_terminal_gets_a_pty_of_its_own_and_gives_the_terminal_back() {
    let t = target(&[], &[]);
    let (mut pty, before) = direct_on_a_pty(&t, 91, 21);
    let at = pty.expect("$ ", 0);
    pty.send("echo cols=$COLUMNS rows=$LINES\r");
    let at = pty.expect("cols=91 rows=21", at);
    set_size(&pty.master, 117, 33);
    std::thread::sleep(Duration::from_millis(300));
    pty.send("\r");
    std::thread::sleep(Duration::from_millis(200));
    pty.send("echo cols=$COLUMNS rows=$LINES\r");
    let at = pty.expect("cols=117 rows=33", at);
    // Its programs' terminal is nosh's pty, not this one.
    pty.send("run /probe open /dev/tty\r");
    pty.expect("open=ok", at);
    pty.send("exit 3\r");
    let status = pty.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(3), "{}", pty.screen());
    assert_given_back(&pty, &before);
}

#[test]
fn without_a_tty_direct_output_that_reaches_a_terminal_is_still_escaped() {
    let u = Target::start();
    // stdin from /dev/null: no TTY, but stdout and stderr are a terminal.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec \"$0\" \"pid://$1\" -c 'ls /app' < /dev/null")
        .arg(nosh_bin())
        .arg(u.pid.to_string());
    let mut pty = Pty::spawn(cmd, 100, 30);
    let status = pty.wait(Duration::from_secs(20));
    let screen = pty.screen();
    assert!(status.success(), "{screen}");
    assert!(screen.contains("evil\\e[31mname"), "{screen}");
    assert!(
        !screen.contains('\x1b'),
        "a raw escape reached the terminal: {screen:?}"
    );
}

#[test]
fn a_direct_session_ended_by_a_signal_gives_the_terminal_back() {
    let t = target(&[], &[]);
    let (mut pty, before) = direct_on_a_pty(&t, 80, 24);
    pty.expect("$ ", 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pty.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = pty.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(128 + 15), "{}", pty.screen());
    assert_given_back(&pty, &before);
    // Nothing of the session is left in the target.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let procs = direct(&t, "ps").stdout;
        let listed = String::from_utf8_lossy(&procs).lines().count();
        // The header, the app, and the shell that lists them.
        if listed <= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&procs)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
