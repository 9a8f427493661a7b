//! Brought tools (`nosh T --with PROG`) against the real Docker Engine:
//! this host's curl, strace and tcpdump, and small probes compiled here
//! (static and dynamic), run inside shell-less targets as the app, with the
//! host's own loader and libraries, writing nothing to the target.
//!
//! The binary under test is the static build (`$NOSH_BIN`); curl, strace,
//! tcpdump and gcc come from scripts/test-deps.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{Container, NONROOT, Nosh, python_app_image, require_engine, static_app_image};

/// Prints what a brought tool is allowed: its open fds, ids and
/// capabilities, what a write through fd 3 (the bundle) gives, what `..`
/// of the bundle holds, and the first line of /etc/passwd as it sees it.
const PROBE_C: &str = r#"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    DIR *d = opendir("/proc/self/fd");
    int own = dirfd(d);
    struct dirent *e;
    printf("fds:");
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (atoi(e->d_name) == own) continue;
        printf(" %s", e->d_name);
    }
    printf("\n");
    closedir(d);
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "CapEff:", 7) ||
            !strncmp(line, "CapPrm:", 7) || !strncmp(line, "NoNewPrivs:", 11))
            fputs(line, stdout);
    FILE *w = fopen("/proc/self/fd/3/planted", "w");
    printf("write into fd 3: %s\n", w ? "written" : strerror(errno));
    DIR *up = opendir("/proc/self/fd/3/..");
    printf("above the bundle:");
    while (up && (e = readdir(up)))
        if (e->d_name[0] != '.') printf(" %s", e->d_name);
    printf("\n");
    FILE *p = fopen("/etc/passwd", "r");
    if (p && fgets(line, sizeof line, p)) printf("passwd: %s", line);
    return 0;
}
"#;

/// The probe, compiled twice: `probe-static` and `probe-dynamic` (linked
/// against this host's libc), in a directory that lives as long as the
/// test process.
fn probes() -> (&'static Path, &'static Path) {
    static PROBES: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    let (_, s, d) = PROBES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("probe.c");
        std::fs::write(&src, PROBE_C).unwrap();
        let build = |name: &str, extra: &[&str]| {
            let out = dir.path().join(name);
            let ok = Command::new("gcc")
                .args(extra)
                .arg("-O1")
                .arg("-o")
                .arg(&out)
                .arg(&src)
                .status()
                .expect("gcc");
            assert!(ok.success(), "gcc {extra:?} failed");
            out
        };
        let s = build("probe-static", &["-static"]);
        let d = build("probe-dynamic", &[]);
        (dir, s, d)
    });
    (s, d)
}

/// The Python service, once it listens and has started its child (the
/// process list compared before and after a session is then settled).
fn python_target() -> Container {
    let c = Container::run(&python_app_image(), &[]);
    c.wait_running();
    c.wait_port(8080);
    c.wait_children(1);
    c
}

fn diff(c: &Container) -> String {
    common::docker_ok(&["diff", c.name()])
}

fn processes(c: &Container) -> String {
    common::docker_ok(&["top", c.name(), "-eo", "pid,args"])
}

#[test]
fn curl_from_the_host_answers_from_a_distroless_app_and_the_target_is_unchanged() {
    require_engine();
    let target = python_target();
    let before = (diff(&target), processes(&target));
    Nosh::new()
        .arg(target.name())
        .args(["--with", "curl"])
        .c("curl -s http://127.0.0.1:8080/ | grep status; tools; which curl")
        .run()
        .success()
        .stdout_has("\"status\"")
        .stdout_has("curl /usr/bin/curl")
        .stdout_has("curl: brought tool (this host's /usr/bin/curl)");
    // The target has no curl, and `run` still means its own programs.
    Nosh::new()
        .arg(target.name())
        .args(["--with", "curl"])
        .c("run curl --version")
        .run()
        .code_is(127)
        .stderr_has("curl: not found in the target");
    assert_eq!((diff(&target), processes(&target)), before);
    target.assert_nothing_left();
}

#[test]
fn strace_from_the_host_traces_a_program_of_the_target_and_the_target_is_unchanged() {
    require_engine();
    let target = python_target();
    let before = (diff(&target), processes(&target));
    Nosh::new()
        .arg(target.name())
        .args(["--with", "strace"])
        .c("strace -f -qq -e trace=execve,openat python3.11 -c 'print(40 + 2)' 2>&1 | grep -E 'execve|/usr/lib/python3.11/encodings/__init__.py|42'")
        .run()
        .success()
        .stdout_has("execve(\"/usr/bin/python3.11\"")
        // The target's own Python library, opened by the traced program.
        .stdout_has("\"/usr/lib/python3.11/encodings/__init__.py\"")
        .stdout_has("42");
    assert_eq!((diff(&target), processes(&target)), before);
    target.assert_nothing_left();
}

fn assert_confined(text: &str, static_fds: bool) {
    let uid = format!("Uid:\t{NONROOT}\t{NONROOT}\t{NONROOT}\t{NONROOT}");
    assert!(text.contains(&uid), "{text}");
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
    assert!(text.contains("CapPrm:\t0000000000000000"), "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    // The target's passwd (the fixture's root has /sbin/nologin), not the host's.
    assert!(
        text.contains("passwd: root:x:0:0:root:/root:/sbin/nologin"),
        "{text}"
    );
    let fds = if static_fds {
        "fds: 0 1 2\n"
    } else {
        // fd 3 is the bundle, for the loader to reach the libraries.
        "fds: 0 1 2 3\n"
    };
    assert!(text.contains(fds), "{text}");
}

#[test]
fn brought_tools_run_as_the_app_with_no_capabilities_and_reach_only_their_read_only_bundle() {
    require_engine();
    let (stat, dynamic) = probes();
    let target = python_target();
    let before = diff(&target);
    for direct in [false, true] {
        let mut args: Vec<String> = Vec::new();
        if direct {
            args.push("--direct".into());
        }
        args.extend([target.name().to_string(), "--with".into()]);
        args.push(stat.display().to_string());
        args.push("--with".into());
        args.push(dynamic.display().to_string());
        args.extend(["-c".into(), "probe-dynamic; echo ---; probe-static".into()]);
        let out = with_only_stdio(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let (dyn_out, static_out) = out.split_once("---").unwrap();
        assert_confined(dyn_out, false);
        assert_confined(static_out, true);
        // The bundle is read-only, and `..` of it is itself: nothing of
        // the sidecar's or the host's filesystem is reachable through it.
        assert!(
            dyn_out.contains("write into fd 3: Read-only file system"),
            "{dyn_out}"
        );
        let above = dyn_out
            .lines()
            .find_map(|l| l.strip_prefix("above the bundle:"))
            .unwrap();
        let mut names: Vec<&str> = above.split_whitespace().collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["bin", "ld.so", "lib", "manifest.json"],
            "direct={direct}"
        );
    }
    assert_eq!(diff(&target), before);
    target.assert_nothing_left();
}

#[test]
fn a_packet_capture_fails_with_one_sentence_naming_cap_net_raw() {
    require_engine();
    let target = python_target();
    Nosh::new()
        .arg(target.name())
        .args(["--with", "tcpdump"])
        .c("tcpdump -i any -c 1 -n")
        .run()
        .code_is(1)
        .stderr_has("nosh: tcpdump needs CAP_NET_RAW and CAP_NET_ADMIN (packet capture)")
        .stderr_has("no capabilities");
}

#[test]
fn brought_tools_are_commands_in_pipes_that_take_a_builtins_place_but_not_the_shells() {
    require_engine();
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    // GNU ls and cat in place of the builtins, in pipes into builtins.
    Nosh::new()
        .arg(target.name())
        .args(["--with", "ls,cat"])
        .c("ls --version | head -1; ls -n /app | grep data.txt; cat /app/data.txt | grep 250; which ls")
        .run()
        .success()
        .stdout_has("ls (GNU coreutils)")
        .stdout_has(&format!("{NONROOT} {NONROOT}"))
        .stdout_has("2,250\n")
        .stdout_has("ls: brought tool (this host's");
    // A program brought under the name of the shell's own `cd` does not
    // replace it.
    let dir = tempfile::tempdir().unwrap();
    let fake_cd = dir.path().join("cd");
    std::fs::copy("/bin/echo", &fake_cd).unwrap();
    Nosh::new()
        .arg(target.name())
        .arg("--with")
        .arg(fake_cd.display().to_string())
        .c("cd /var/log; pwd")
        .run()
        .success()
        // A brought echo as `cd` would print /var/log and leave pwd at /app.
        .stdout_has("/var/log\n")
        .stdout_lacks("/app");
}

#[test]
fn the_second_session_with_the_same_tools_imports_nothing() {
    require_engine();
    let target = python_target();
    let first = Nosh::new()
        .arg(target.name())
        .args(["-v", "--with", "curl,strace"])
        .c("tools --json")
        .run();
    first.success();
    let second = Nosh::new()
        .arg(target.name())
        .args(["-v", "--with", "curl", "--with", "strace"])
        .c("tools --json")
        .run();
    second.success().stderr_has("is present");
    assert!(
        !second.stderr().contains("importing"),
        "imported again:\n{}",
        second.stderr()
    );
    let doc: serde_json::Value = serde_json::from_str(second.stdout()).unwrap();
    let names: Vec<&str> = doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["curl", "strace"]);
    assert!(doc["libraries"].as_array().unwrap().len() > 5, "{doc}");
}

#[test]
fn brought_tools_work_in_a_replica_of_a_stopped_container() {
    require_engine();
    let (_, dynamic) = probes();
    let target = python_target();
    common::docker_ok(&["stop", "-t", "1", target.name()]);
    let out = Nosh::new()
        .arg(target.name())
        .arg("--with")
        .arg(dynamic.display().to_string())
        .c("probe-dynamic")
        .run();
    out.success();
    assert_confined(out.stdout(), false);
}

#[test]
fn a_restricted_toolbox_runs_the_bundle_its_image_carries_and_streams_a_copy_out() {
    require_engine();
    let target = python_target();
    // `nosh bundle` writes what a toolbox image carries at /.nosh/tools.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("tools");
    Nosh::new()
        .args(["bundle", "--with", "curl"])
        .arg(bundle.display().to_string())
        .run()
        .success()
        .stdout_has("curl with");
    let mount = format!("{}:/.nosh/tools:ro", bundle.display());
    // As Kubernetes' restricted profile starts it: the app's uid, no
    // capabilities at all, the /proc/1/root view.
    Nosh::toolbox_beside(
        &target,
        &[
            "--user",
            "65532:65532",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "-v",
            &mount,
        ],
    )
    .c("curl -s http://127.0.0.1:8080/; copy-out /app/app.py")
    .run()
    .success()
    .stdout_has("\"status\"")
    // The tar stream: the file's name in its header, then its content.
    .stdout_has("app.py")
    .stdout_has("claims-api");
}

/// A prepared toolkit: `greet` needs `libgreet.so.1`, which only the
/// toolkit's own `lib/` has, and the static probe beside it.
fn toolkit() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("lib")).unwrap();
    std::fs::write(
        d.join("greet-lib.c"),
        "#include <stdio.h>\nvoid greet(void) { puts(\"hello from the toolkit's own library\"); }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("greet.c"),
        "void greet(void);\nint main(void) { greet(); return 0; }\n",
    )
    .unwrap();
    let gcc = |args: &[&str]| {
        let ok = Command::new("gcc")
            .current_dir(d)
            .args(args)
            .status()
            .expect("gcc");
        assert!(ok.success(), "gcc {args:?}");
    };
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libgreet.so.1",
        "-o",
        "lib/libgreet.so.1",
        "greet-lib.c",
    ]);
    gcc(&["-o", "greet", "greet.c", "-Llib", "-l:libgreet.so.1"]);
    for f in ["greet-lib.c", "greet.c"] {
        std::fs::remove_file(d.join(f)).unwrap();
    }
    std::fs::copy(probes().0, d.join("probe-static")).unwrap();
    dir
}

#[test]
fn a_prepared_toolkit_brings_every_program_with_its_own_libraries() {
    require_engine();
    let kit = toolkit();
    let target = python_target();
    Nosh::new()
        .arg(target.name())
        .arg("--with-dir")
        .arg(kit.path().display().to_string())
        .c("greet; probe-static | grep Uid; tools")
        .run()
        .success()
        .stdout_has("hello from the toolkit's own library")
        .stdout_has(&format!("Uid:\t{NONROOT}"))
        .stdout_has("greet ")
        .stdout_has("probe-static ");
}

#[test]
fn what_cannot_be_brought_is_refused_in_one_sentence() {
    require_engine();
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hello");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    set_mode(&script, 0o755);
    let huge = dir.path().join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    set_mode(&huge, 0o755);
    for (with, sentence) in [
        (
            "no-such-tool-here".to_string(),
            "--with no-such-tool-here: no such program in this host's PATH",
        ),
        (
            script.display().to_string(),
            "is a script for /bin/sh, not a program",
        ),
        (
            huge.display().to_string(),
            "over the 268 MB nosh brings into a session",
        ),
    ] {
        Nosh::new()
            .arg(target.name())
            .arg("--with")
            .arg(&with)
            .c("true")
            .run()
            .code_is(125)
            .stderr_has(sentence);
    }
    target.assert_nothing_left();
}

/// nosh started with only fds 0, 1 and 2 open, as a shell starts it
/// (attached directly, nosh is the process that enters the target, and a
/// descriptor its caller leaked would be its own to close).
fn with_only_stdio(args: &[String]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(common::nosh_bin());
    cmd.args(args).stdin(std::process::Stdio::null());
    // SAFETY: close_range is async-signal-safe and touches only this
    // child's descriptors above stderr (std's own exec-error pipe is
    // close-on-exec and kept open by CLOSE_RANGE_CLOEXEC).
    unsafe {
        cmd.pre_exec(|| {
            let rc = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    cmd.output().expect("run nosh")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
