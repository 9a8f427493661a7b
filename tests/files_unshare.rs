//! The file and process builtins against a target made with `unshare`: new
//! PID, mount, UTS, IPC and network namespaces, a root filesystem with no
//! shell, a static app running as 65532 (and a second copy as root). Each
//! answer is checked against what the host sees of the same target: the
//! root filesystem directory, `/proc/<host pid>`. Runs as root.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

#[path = "support/unshare.rs"]
mod unshare;

#[path = "support/pty.rs"]
mod pty;

use unshare::{
    all_pids, children, mkdir_owned as mkdir, put_owned as put, run_bounded, spawn_namespaced,
    static_app, status_field as field, stderr, stdout,
};

/// Opens /app/data.txt for writing, starts one child, then waits.
/// The target; killed (with everything in its PID namespace) on drop.
struct Target {
    root: tempfile::TempDir,
    unshare: Child,
    /// The app (pid 1 inside) as the host sees it.
    pid: i32,
}

impl Target {
    fn start() -> Target {
        let root = tempfile::Builder::new()
            .prefix("nosh-files-")
            .tempdir()
            .unwrap();
        let r = root.path();
        mkdir(r, "", 0o755, 0);
        for d in ["proc", "etc", "lib", "sys/fs/cgroup"] {
            mkdir(r, d, 0o755, 0);
        }
        mkdir(r, "tmp", 0o1777, 0);
        mkdir(r, "app", 0o755, 65532);
        mkdir(r, "data/cache", 0o755, 65532);
        mkdir(r, "var/log/app", 0o755, 0);
        mkdir(r, "secret", 0o700, 0);
        put(
            r,
            "etc/passwd",
            b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            0o644,
            0,
        );
        put(r, "etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0o644, 0);
        put(
            r,
            "etc/app/app.conf",
            b"listen=:8080\n# port 80 needs root\nport=80\n",
            0o644,
            0,
        );
        put(r, "var/log/app/app.log", b"started\n", 0o644, 0);
        put(r, "secret/key", b"k", 0o600, 0);
        put(r, "data/a.bin", &vec![7u8; 100_000], 0o644, 65532);
        put(r, "data/cache/b.log", &vec![b'x'; 5000], 0o600, 65532);
        put(r, "data/empty.log", b"", 0o444, 65532);
        // Created ahead so the root copy of the app cannot take it first.
        put(r, "app/data.txt", b"", 0o644, 65532);
        put(r, "app/start.sh", b"#!/bin/sh\nexec /app/app\n", 0o755, 0);
        std::os::unix::fs::symlink("/lib", r.join("lib64")).unwrap();
        fs::copy(static_app(), r.join("app/app")).unwrap();
        fs::set_permissions(r.join("app/app"), fs::Permissions::from_mode(0o755)).unwrap();

        // `sh` runs on the host, before the chroot. The root is made a
        // mount point and the cgroup filesystem is bound in, as a container
        // runtime would; a copy of the app runs as root beside the 65532 one.
        let script = format!(
            "mount --bind {r} {r} && mount -t proc proc {r}/proc && mount --rbind /sys/fs/cgroup {r}/sys/fs/cgroup && \
             (chroot {r} /app/app &) && exec chroot --userspec=65532:65532 {r} /app/app",
            r = r.display()
        );
        let unshare = spawn_namespaced(&script);
        let upid = unshare.id() as i32;
        let mut t = Target {
            root,
            unshare,
            pid: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if t.pid == 0
                && let Some(pid) = children(upid).into_iter().find(|p| is_app(*p, 65532))
            {
                // From here on, drop kills the namespace.
                t.pid = pid;
            }
            // Wait for the root copy and both children too.
            if t.pid != 0 && t.host_pids().len() >= 4 {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "the unshare target did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run `nosh toolbox --pid <pid> -c LINE` as root (the shell drops to 65532).
    fn sh(&self, line: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nosh"));
        cmd.args(["toolbox", "--pid", &self.pid.to_string(), "-c", line]);
        run_bounded(cmd, "")
    }

    /// `nosh toolbox --pid <pid>` on a terminal, 100x30.
    fn terminal(&self) -> pty::Pty {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nosh"));
        cmd.args(["toolbox", "--pid", &self.pid.to_string()]);
        pty::Pty::spawn(cmd, 100, 30)
    }

    fn json(&self, line: &str) -> serde_json::Value {
        let out = self.sh(line);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{line}: {e}: {}{}", stdout(&out), stderr(&out)))
    }

    /// Host pids of every process in the target's PID namespace.
    fn host_pids(&self) -> Vec<i32> {
        let Ok(ns) = fs::read_link(format!("/proc/{}/ns/pid", self.pid)) else {
            return Vec::new();
        };
        let mut v: Vec<i32> = all_pids()
            .into_iter()
            .filter(|p| fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns))
            .collect();
        v.sort();
        v
    }

    /// (host pid, pid inside) of the root-owned app.
    fn root_app(&self) -> (i32, i32) {
        self.host_pids()
            .into_iter()
            .find(|p| is_app(*p, 0))
            .map(|p| {
                let st = fs::read_to_string(format!("/proc/{p}/status")).unwrap();
                let inner = field(&st, "NSpid")
                    .unwrap()
                    .split_whitespace()
                    .last()
                    .unwrap()
                    .parse()
                    .unwrap();
                (p, inner)
            })
            .expect("the root copy of the app runs")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // Killing pid 1 of the namespace kills every process in it.
        if self.pid > 0 {
            let _ = nix_kill(self.pid);
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn nix_kill(pid: i32) -> std::io::Result<()> {
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .map(|_| ())
}

fn is_app(pid: i32, uid: u32) -> bool {
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    cmd.starts_with(b"/app/app\0")
        && field(&status, "Uid")
            .is_some_and(|u| u.split_whitespace().next() == Some(&uid.to_string()))
        && field(&status, "PPid") != Some("0")
}

/// Every path below `root/rel` as the target names it, walked on the host
/// without following symlinks.
fn host_walk(root: &Path, rel: &str, out: &mut BTreeSet<String>) {
    out.insert(rel.to_string());
    let p = root.join(rel.trim_start_matches('/'));
    if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
        for e in fs::read_dir(&p).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            let child = if rel == "/" {
                format!("/{name}")
            } else {
                format!("{rel}/{name}")
            };
            host_walk(root, &child, out);
        }
    }
}

fn lines(s: &str) -> BTreeSet<String> {
    s.lines().map(str::to_string).collect()
}

#[test]
fn find_name_matches_a_host_side_walk_of_the_rootfs() {
    let t = Target::start();
    let out = t.sh("find / -name '*.log'");
    let mut all = BTreeSet::new();
    host_walk(t.root.path(), "/", &mut all);
    let want: BTreeSet<String> = all.into_iter().filter(|p| p.ends_with(".log")).collect();
    assert_eq!(want.len(), 3);
    // /proc is walked too (GNU find does), so some of it may be unreadable
    // for 65532; the secret directory certainly is.
    assert_eq!(lines(&stdout(&out)), want, "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("find: '/secret': Permission denied"));
    assert_eq!(out.status.code(), Some(1));

    // Everything below the non-proc top directories, names exactly.
    let out = t.sh("find /app /data /etc /var /lib64");
    let mut want = BTreeSet::new();
    for top in ["/app", "/data", "/etc", "/var", "/lib64"] {
        host_walk(t.root.path(), top, &mut want);
    }
    assert_eq!(lines(&stdout(&out)), want, "stderr: {}", stderr(&out));
    assert!(out.status.success());
}

#[test]
fn find_tests_that_need_stat_agree_with_the_host() {
    let t = Target::start();
    let r = t.root.path();
    let mut all = BTreeSet::new();
    for top in ["/data", "/var", "/etc", "/app"] {
        host_walk(r, top, &mut all);
    }
    let meta = |p: &String| fs::symlink_metadata(r.join(p.trim_start_matches('/'))).unwrap();
    let pick = |f: &dyn Fn(&fs::Metadata) -> bool| -> BTreeSet<String> {
        all.iter().filter(|p| f(&meta(p))).cloned().collect()
    };
    let run = |expr: &str| lines(&stdout(&t.sh(&format!("find /data /var /etc /app {expr}"))));

    assert_eq!(run("-user nonroot"), pick(&|m| m.uid() == 65532));
    assert_eq!(
        run("-group 0 -type f"),
        pick(&|m| m.gid() == 0 && m.is_file())
    );
    assert_eq!(run("-perm 644"), pick(&|m| m.mode() & 0o7777 == 0o644));
    assert_eq!(run("-perm /022"), pick(&|m| m.mode() & 0o022 != 0));
    assert_eq!(run("-size +4k"), pick(&|m| m.size().div_ceil(1024) > 4));
    assert_eq!(
        run("-size -1 -type f"),
        pick(&|m| m.is_file() && m.size() == 0)
    );
    // The kernel decides -writable for uid 65532: its own files with the
    // owner's write bit, nothing of root's.
    assert_eq!(
        run("-writable"),
        pick(&|m| m.uid() == 65532 && m.mode() & 0o200 != 0)
    );
    let out = t.sh("find /data -maxdepth 1 -mindepth 1 -type d");
    assert_eq!(stdout(&out), "/data/cache\n");
}

#[test]
fn fds_of_pid_one_match_the_host_view_of_its_fd_table() {
    let t = Target::start();
    let rows = t.json("fds 1 --json");
    let rows = rows.as_array().unwrap();
    let host_dir = format!("/proc/{}/fd", t.pid);
    let mut host: Vec<(i64, String)> = fs::read_dir(&host_dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let fd: i64 = e.file_name().to_str().unwrap().parse().unwrap();
            (
                fd,
                fs::read_link(e.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        })
        .collect();
    host.sort();
    let got: Vec<i64> = rows.iter().map(|r| r["fd"].as_i64().unwrap()).collect();
    assert_eq!(got, host.iter().map(|h| h.0).collect::<Vec<_>>());
    let root = t.root.path().to_str().unwrap();
    let data = rows
        .iter()
        .find(|r| r["target"] == "/app/data.txt")
        .unwrap_or_else(|| panic!("data file not listed: {rows:?}"));
    let fd = data["fd"].as_i64().unwrap();
    let host_target = &host.iter().find(|h| h.0 == fd).unwrap().1;
    assert_eq!(host_target, &format!("{root}/app/data.txt"));
    assert_eq!(data["mode"], "rw");
    assert!(data["flags"].as_array().unwrap().contains(&"append".into()));

    // The root copy's table is closed to 65532, and the reason is given.
    let (_, inner) = t.root_app();
    let out = t.sh(&format!("fds {inner}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("runs as uid 0 (root) and this shell is uid 65532"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn file_tells_a_static_app_from_a_script_without_its_interpreter() {
    let t = Target::start();
    let out = t.sh("file /app/app /app/start.sh /lib64 /etc/passwd /data/empty.log");
    let text = stdout(&out);
    let l: Vec<&str> = text.lines().collect();
    assert!(
        l[0].starts_with("/app/app: ELF 64-bit LSB")
            && (l[0].contains("statically linked") || l[0].contains("static-pie linked")),
        "{text}"
    );
    assert!(
        l[1].contains("#!/bin/sh") && l[1].contains("/bin/sh is MISSING"),
        "{text}"
    );
    assert_eq!(l[2], "/lib64: symbolic link to /lib");
    assert_eq!(l[3], "/etc/passwd: ASCII text");
    assert_eq!(l[4], "/data/empty.log: empty");
    let j = t.json("file --json /app/app");
    assert_eq!(j[0]["elf"]["interpreter"], serde_json::Value::Null);
    let out = t.sh("readlink /lib64; readlink -f /lib64/x");
    assert_eq!(stdout(&out), "/lib\n/lib/x\n");
}

#[test]
fn kill_signals_its_own_uid_and_explains_a_refusal() {
    let t = Target::start();
    let out = t.sh("kill -0 1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (host_root, inner) = t.root_app();
    let out = t.sh(&format!("kill -TERM {inner}"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "kill: ({inner}) - Operation not permitted: pid {inner} runs as uid 0 (root); this shell is uid 65532 with no capabilities\n"
        )
    );
    assert!(
        Path::new(&format!("/proc/{host_root}")).exists(),
        "the root process must still run"
    );
}

#[test]
fn mounts_df_limits_and_cgroup_read_the_target() {
    let t = Target::start();
    let m = t.json("mounts --json");
    let proc_mount = m
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["target"] == "/proc")
        .expect("/proc is listed");
    assert_eq!(proc_mount["fstype"], "proc");
    let out = t.sh("mounts");
    assert!(stdout(&out).lines().next().unwrap().contains("FLAGS"));
    let df = t.json("df --json");
    let rootfs = df
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == "/")
        .expect("/ is in df");
    let st = nix::sys::statvfs::statvfs(t.root.path()).unwrap();
    assert_eq!(
        rootfs["size_bytes"].as_u64().unwrap(),
        st.blocks() * st.fragment_size()
    );

    let limits = t.json("limits 1 --json");
    let host = fs::read_to_string(format!("/proc/{}/limits", t.pid)).unwrap();
    let host_nofile: u64 = host
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    let row = limits
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "max_open_files")
        .unwrap();
    assert_eq!(row["soft"].as_u64(), Some(host_nofile));

    let cg = t.json("cgroup 1 --json");
    let host_cg = fs::read_to_string(format!("/proc/{}/cgroup", t.pid)).unwrap();
    let v1 = host_cg
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()));
    let limit_file = match &v1 {
        Some(p) => format!("/sys/fs/cgroup/memory{p}/memory.limit_in_bytes"),
        None => format!(
            "/sys/fs/cgroup{}/memory.max",
            host_cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap()
        ),
    };
    assert_eq!(cg["version"], if v1.is_some() { 1 } else { 2 });
    let raw = fs::read_to_string(limit_file).unwrap();
    match raw.trim().parse::<u64>() {
        Ok(n) if n < 1 << 62 => assert_eq!(cg["memory_limit_bytes"].as_u64(), Some(n)),
        _ => assert_eq!(cg["memory_limit_bytes"], "max"),
    }
}

#[test]
fn du_grep_and_wc_agree_with_the_host() {
    let t = Target::start();
    let r = t.root.path();
    let mut all = BTreeSet::new();
    host_walk(r, "/data", &mut all);
    let blocks: u64 = all
        .iter()
        .map(|p| {
            fs::symlink_metadata(r.join(p.trim_start_matches('/')))
                .unwrap()
                .blocks()
                * 512
        })
        .sum();
    let du = t.json("du -s --json /data");
    assert_eq!(du[0]["disk_bytes"].as_u64(), Some(blocks));
    let out = t.sh("du -s /data");
    assert_eq!(stdout(&out), format!("{}\t/data\n", blocks.div_ceil(1024)));

    let out = t.sh("grep -rn port /etc");
    assert_eq!(
        stdout(&out),
        "/etc/app/app.conf:2:# port 80 needs root\n/etc/app/app.conf:3:port=80\n"
    );
    assert_eq!(
        t.sh("grep -c nonroot /etc/passwd /etc/group").stdout,
        b"/etc/passwd:1\n/etc/group:1\n"
    );
    let out = t.sh("grep -r k /secret");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/secret: Permission denied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.sh("grep nothing /etc/passwd").status.code(), Some(1));

    let out = t.sh("wc -l /etc/passwd; wc -c /data/a.bin");
    assert_eq!(stdout(&out), "2 /etc/passwd\n100000 /data/a.bin\n");
}

#[test]
fn habits_head_dash_n_clear_help_width_and_did_you_mean() {
    let t = Target::start();
    let out = t.sh("head -2 /etc/app/app.conf; tail -1 /etc/app/app.conf");
    assert_eq!(
        stdout(&out),
        "listen=:8080\n# port 80 needs root\nport=80\n",
        "{}",
        stderr(&out)
    );
    let out = t.sh("tail -n +2 /etc/app/app.conf | head -1");
    assert_eq!(stdout(&out), "# port 80 needs root\n", "{}", stderr(&out));
    assert_eq!(t.sh("clear").stdout, b"\x1b[H\x1b[2J\x1b[3J");
    let out = t.sh("pss");
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("pss: not a builtin; did you mean `ps`?"),
        "{}",
        stderr(&out)
    );
    for width in [80, 120] {
        let out = t.sh(&format!("COLUMNS={width}; help"));
        let text = stdout(&out);
        assert!(text.lines().count() > 40, "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= width, "{width}: {line:?}");
        }
    }
}

#[test]
fn lines_typed_ahead_in_one_read_on_a_terminal_all_run() {
    let t = Target::start();
    let mut term = t.terminal();
    // Three lines in one write before the first prompt, as `echo id | nosh
    // -t` or a paste delivers them: the line editor must not drop the
    // ones after the first.
    term.send("echo one\recho two\rexit 7\r");
    let status = term.wait(Duration::from_secs(15));
    let screen = term.screen();
    assert_eq!(status.code(), Some(7), "{screen}");
    assert!(screen.contains("\ntwo"), "{screen}");
}

#[test]
fn grep_quiet_only_matching_words_context_and_names() {
    let t = Target::start();
    let out =
        t.sh("grep -q nonroot /etc/passwd && echo found; grep -q nobody /etc/passwd || echo none");
    assert_eq!(stdout(&out), "found\nnone\n", "{}", stderr(&out));
    let out = t.sh("grep -oE '[0-9]+' /etc/app/app.conf");
    assert_eq!(stdout(&out), "8080\n80\n80\n");
    let out = t.sh("grep -w port /etc/app/app.conf");
    assert_eq!(stdout(&out), "# port 80 needs root\nport=80\n");
    let out = t.sh("grep -n -B1 '^port' /etc/app/app.conf");
    assert_eq!(stdout(&out), "2-# port 80 needs root\n3:port=80\n");
    let out = t.sh("grep -A1 listen /etc/app/app.conf");
    assert_eq!(stdout(&out), "listen=:8080\n# port 80 needs root\n");
    let out = t.sh("grep -l nonroot /etc/passwd /etc/app/app.conf; grep -L nonroot /etc/passwd /etc/app/app.conf");
    assert_eq!(stdout(&out), "/etc/passwd\n/etc/app/app.conf\n");
    let out = t.sh("grep -c root /etc/passwd /etc/group");
    assert_eq!(stdout(&out), "/etc/passwd:2\n/etc/group:2\n");
}

#[test]
fn find_operators_prune_xdev_empty_and_print0_agree_with_the_host() {
    let t = Target::start();
    let r = t.root.path();
    let mut all = BTreeSet::new();
    host_walk(r, "/", &mut all);
    // Everything but what lies below the proc and cgroup mounts (and in
    // the directory 65532 may not read).
    let hidden = |p: &String| {
        p.starts_with("/proc/") || p.starts_with("/sys/fs/cgroup/") || p.starts_with("/secret/")
    };
    let out = t.sh("find / -xdev");
    let want: BTreeSet<String> = all.iter().filter(|p| !hidden(p)).cloned().collect();
    assert_eq!(lines(&stdout(&out)), want, "stderr: {}", stderr(&out));
    assert_eq!(stderr(&out), "find: '/secret': Permission denied\n");

    // The pruning idiom, parentheses escaped as people type them.
    let out = t.sh(r"find / \( -name proc -o -name sys -o -name secret \) -prune -o -type f -name '*.log' -print");
    let logs: BTreeSet<String> = all
        .iter()
        .filter(|p| p.ends_with(".log") && !p.starts_with("/proc") && !p.starts_with("/sys"))
        .cloned()
        .collect();
    assert_eq!(lines(&stdout(&out)), logs, "stderr: {}", stderr(&out));
    assert!(out.status.success(), "{}", stderr(&out));

    let out = t.sh("find /data /var /etc /app -empty");
    let mut tops = BTreeSet::new();
    for top in ["/data", "/var", "/etc", "/app"] {
        host_walk(r, top, &mut tops);
    }
    let empty: BTreeSet<String> = tops
        .iter()
        .filter(|p| {
            let real = r.join(p.trim_start_matches('/'));
            let m = fs::symlink_metadata(&real).unwrap();
            (m.is_file() && m.len() == 0)
                || (m.is_dir() && fs::read_dir(&real).unwrap().next().is_none())
        })
        .cloned()
        .collect();
    assert!(!empty.is_empty());
    assert_eq!(lines(&stdout(&out)), empty);

    let out = t.sh("find /data -type f -print0");
    let mut got: Vec<&[u8]> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            &b"/data/a.bin"[..],
            b"/data/cache/b.log",
            b"/data/empty.log"
        ]
    );
}

#[test]
fn sort_uniq_cut_and_tr_in_pipelines_on_the_target_files() {
    let t = Target::start();
    let out = t.sh("cut -d: -f3,1 /etc/passwd | sort -t: -k2 -rn");
    assert_eq!(stdout(&out), "nonroot:65532\nroot:0\n", "{}", stderr(&out));
    let out = t.sh("grep -ohE '[a-z]+' /etc/app/app.conf /etc/group | sort | uniq -c | sort -k1,1nr -k2 | head -3");
    assert_eq!(
        stdout(&out),
        "      2 port\n      2 root\n      2 x\n",
        "{}",
        stderr(&out)
    );
    let out =
        t.sh("tr a-z A-Z < /etc/group; tr -d 0-9 < /etc/app/app.conf | tr -s '\\n' | head -1");
    assert_eq!(stdout(&out), "ROOT:X:0:\nNONROOT:X:65532:\nlisten=:\n");
    let out = t.sh("sort /etc/group /secret/key");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "nonroot:x:65532:\nroot:x:0:\n");
    assert_eq!(stderr(&out), "sort: /secret/key: Permission denied\n");
    for b in ["sort", "uniq", "cut", "tr"] {
        let out = t.sh(&format!("{b} --help"));
        assert!(
            out.status.success() && stdout(&out).contains("Usage:"),
            "{b}"
        );
    }
}

/// The output of a host program (which must be installed: scripts/test-deps.sh).
fn host(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed by this test ({e}): run scripts/test-deps.sh")
        });
    assert!(out.status.success(), "{program} {args:?}: {}", stderr(&out));
    out.stdout
}

#[test]
fn xxd_hexdump_and_strings_match_the_host_tools_on_the_app_binary() {
    let t = Target::start();
    let app = t.root.path().join("app/app");
    let app = app.to_str().unwrap();
    let cases: [(&str, &str, Vec<&str>); 6] = [
        ("xxd -l 1000 /app/app", "xxd", vec!["-l", "1000", app]),
        (
            "xxd -s 64 -l 100 /app/app",
            "xxd",
            vec!["-s", "64", "-l", "100", app],
        ),
        (
            "xxd -p -l 200 /app/app",
            "xxd",
            vec!["-p", "-l", "200", app],
        ),
        (
            "hexdump -C -n 4096 /app/app",
            "hexdump",
            vec!["-C", "-n", "4096", app],
        ),
        ("hexdump -C /app/app", "hexdump", vec!["-C", app]),
        (
            "strings -n 6 /app/app",
            "strings",
            vec!["-a", "-n", "6", app],
        ),
    ];
    for (line, program, args) in cases {
        let out = t.sh(line);
        assert!(out.status.success(), "{line}: {}", stderr(&out));
        let want = host(program, &args);
        assert!(
            out.stdout == want,
            "{line} differs from {program}:\n{}\n---\n{}",
            String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(2000)]),
            String::from_utf8_lossy(&want[..want.len().min(2000)])
        );
    }
    let out = t.sh("xxd /secret/key");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "xxd: /secret/key: Permission denied\n");
}

#[test]
fn date_agrees_with_gnu_date_and_sleep_ends_on_ctrl_c() {
    let t = Target::start();
    for (epoch, fmt) in [
        ("1796164693", "%a %b %e %H:%M:%S %Z %Y"),
        ("0", "%F %T %j %u %w %I %p %s %A %B %D %y %C %R"),
        ("951868800", "%c|%e|%k|%l|%h|%%"),
        ("1709210096.25", "%s.%N"),
    ] {
        let line = format!("date -u -d @{epoch} '+{fmt}'");
        let out = t.sh(&line);
        let want = host(
            "date",
            &["-u", "-d", &format!("@{epoch}"), &format!("+{fmt}")],
        );
        assert_eq!(
            stdout(&out),
            String::from_utf8(want).unwrap(),
            "{line}: {}",
            stderr(&out)
        );
    }
    // Now, in the default format, as the host says it (same second, or the next).
    let out = t.sh("date");
    let a = String::from_utf8(host("date", &["-u"])).unwrap();
    let got = stdout(&out);
    let b = String::from_utf8(host("date", &["-u"])).unwrap();
    assert!(got == a || got == b, "{got:?} vs {a:?}");

    let started = Instant::now();
    assert!(t.sh("sleep 0.3 0.2").status.success());
    assert!(started.elapsed() >= Duration::from_millis(500));

    let mut term = t.terminal();
    let at = term.expect("$ ", 0);
    term.send("sleep 30\r");
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    term.send("\x03");
    let at = term.expect("$ ", at);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "Ctrl-C did not end sleep"
    );
    term.send("echo status=$?\r");
    term.expect("status=130", at);
}

#[test]
fn less_pages_a_file_and_a_pipe_on_a_terminal_and_q_leaves() {
    let t = Target::start();
    let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    put(t.root.path(), "data/lines.txt", text.as_bytes(), 0o644, 0);
    // Without a terminal it copies.
    assert_eq!(stdout(&t.sh("less /data/lines.txt")), text);

    let mut term = t.terminal(); // 100x30: 29 lines a page
    let at = term.expect("$ ", 0);
    term.send("less /data/lines.txt\r");
    let at = term.expect("line 29\r\n", at);
    let at = term.expect("--More--", at);
    assert!(
        !term.screen()[..at].contains("line 30"),
        "{}",
        term.screen()
    );
    term.send(" ");
    let at = term.expect("line 58\r\n", at);
    let at = term.expect("--More--", at);
    assert!(
        !term.screen()[..at].contains("line 59"),
        "{}",
        term.screen()
    );
    term.send("\r");
    let at = term.expect("line 59\r\n", at);
    let at = term.expect("--More--", at);
    term.send("q");
    let at = term.expect("$ ", at);
    assert!(!term.screen()[at..].contains("line 60"));
    // Piped output pages the same way; keys come from the terminal.
    term.send("grep -v 'line 1' /data/lines.txt | less\r");
    let at = term.expect("--More--", at);
    term.send("q");
    let at = term.expect("$ ", at);
    term.send("echo status=$?\r");
    term.expect("status=0", at);
    term.send("exit\r");
    assert!(term.wait(Duration::from_secs(10)).success());
}

#[test]
fn top_prints_a_snapshot_without_a_terminal_and_refreshes_until_q_on_one() {
    let t = Target::start();
    // RSS of pid 1 as /proc/PID/stat counts it (ps and top read it there),
    // once the app has settled after starting its child.
    let rss = || {
        let stat = fs::read_to_string(format!("/proc/{}/stat", t.pid)).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        let pages: u64 = after_name
            .split_whitespace()
            .nth(21)
            .unwrap()
            .parse()
            .unwrap();
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .unwrap()
            .unwrap();
        (pages * page as u64 / 1024).to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut rss_before = rss();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = rss();
        if now == rss_before || Instant::now() > deadline {
            break;
        }
        rss_before = now;
    }
    let out = t.sh("top -b");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("top - "), "{text}");
    assert!(text.contains("load average: "), "{text}");
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("PID"))
        .expect("a header");
    assert!(header.contains("%CPU") && header.contains("%MEM") && header.contains("COMMAND"));
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("PID"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // Every process of the target, as the host counts them, and this
    // shell, which runs in the target's PID namespace.
    let others = rows.iter().filter(|r| !r[7].ends_with("/nosh")).count();
    assert_eq!(others, t.host_pids().len(), "{text}");
    assert_eq!(rows.len(), others + 1, "{text}");
    let one = rows.iter().find(|r| r[0] == "1").expect("pid 1");
    assert_eq!(one[1], "nonroot");
    assert_eq!(one[7], "/app/app");
    assert_eq!(one[5], rss_before, "RSS of pid 1");
    let out = t.sh("top -b -n 2 -d 0.2");
    assert_eq!(stdout(&out).matches("top - ").count(), 2);
    assert_eq!(t.sh("top -o nope").status.code(), Some(2));

    let mut term = t.terminal();
    let at = term.expect("$ ", 0);
    term.send("top -d 0.3\r");
    let at = term.expect("\x1b[H\x1b[2J", at);
    let at = term.expect("/app/app", at);
    // It refreshes: a second frame comes.
    let at = term.expect("\x1b[H\x1b[2J", at);
    let at = term.expect("/app/app", at);
    term.send("q");
    // The cursor comes back; the frame stays (no alternate screen).
    let at = term.expect("\x1b[?25h", at);
    let at = term.expect("$ ", at);
    term.send("echo status=$?\r");
    term.expect("status=0", at);
    assert!(!term.screen().contains("\x1b[?1049"), "{}", term.screen());
}
