//! The toolbox half in a real Docker sidecar (started with plain `docker
//! run`, independently of the host half): the static binary checks its own
//! identity inside a shell-less container's namespaces.

mod common;

use common::{Container, ESCAPE_FILE_NAME, Nosh, static_app_image};

fn target() -> Container {
    let c = Container::run(&static_app_image(), &[]);
    c.wait_running();
    c
}

#[test]
fn sidecar_shell_runs_as_the_app_uid_with_nothing_left() {
    let t = target();
    let out = Nosh::sidecar(&t).c("id; cat /proc/self/status").run();
    out.success()
        .stdout_has("uid=65532(nonroot) gid=65532(nonroot) groups=65532(nonroot)");
    let status = out.stdout();
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
}

#[test]
fn sidecar_sees_the_target_filesystem_not_the_toolbox_image() {
    let t = target();
    let out = Nosh::sidecar(&t).c("ls /; ls /app; pwd").run();
    out.success()
        .stdout_has("app\n")
        .stdout_has("etc\n")
        .stdout_lacks("nosh\n");
    // The escape byte in the fixture's file name never reaches the output.
    let escaped = ESCAPE_FILE_NAME.replace('\x1b', "\\e");
    out.stdout_has(&escaped);
    assert!(!out.stdout().contains('\x1b'));
    // The image's WORKDIR is the app's cwd, and so the shell's.
    assert!(out.stdout().ends_with("/app\n"), "{}", out.stdout());
}

#[test]
fn sidecar_denies_a_root_only_file_and_shows_pid_one() {
    let t = target();
    let out = Nosh::sidecar(&t)
        .c("cat /etc/secret.txt; echo status=$?; ps -o pid,user,cmd")
        .run();
    out.success()
        .stdout_has("status=1\n")
        .stderr_has("/etc/secret.txt: Permission denied")
        .stdout_has("1 nonroot /app/demo-app --port 8443");
}

#[test]
fn sidecar_reads_commands_from_stdin_without_a_terminal() {
    let t = target();
    let out = Nosh::sidecar(&t)
        .stdin("whoami\necho $HOME\nexit 7\n")
        .run();
    out.code_is(7).stdout_has("nonroot\n/home/nonroot\n");
}
