//! Restricted mode: the toolbox started exactly as `kubectl debug
//! --profile=restricted --target=APP` starts it (the app's uid and gid, no
//! capabilities at all, no-new-privileges, the target's PID and network
//! namespaces shared: `--user 65532:65532`, as the image's USER says; with
//! gid 0 the kernel's ptrace rule, which compares gids too, closes
//! `/proc/1/root`), against a real Docker target whose files are reached
//! through absolute and relative symlinks. It cannot join the mount
//! namespace, so it sees the target through `/proc/1/root`, and every path
//! must resolve inside that root as it does for the app.

mod common;

use std::fs;
use std::sync::OnceLock;

use common::{Container, Nosh, Rootfs, demo_app_bin, ensure_image, short_hash};

const PEM: &str = "-----BEGIN CERTIFICATE-----\nroot-ca-of-the-target\n";

/// The demo app as 65532 with a distroless-style CA layout:
/// `/etc/ssl/certs/ca.pem -> /usr/share/ca/root.pem` (absolute),
/// `/etc/ssl/share -> /usr/share/ca` (a directory), `/etc/rel -> ../usr/share/ca/root.pem`,
/// `/etc/up -> ../../../../../usr/share` (more `..` than the root has).
fn linked_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let app = fs::read(demo_app_bin()).expect("read demo-app");
        let mut fs = Rootfs::new();
        fs.file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            0,
            0,
            0o644,
        )
        .file("etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0, 0, 0o644)
        .dir("tmp", 0, 0, 0o1777)
        .dir("app", 0, 0, 0o755)
        .file("app/demo-app", &app, 0, 0, 0o755)
        .dir("usr/share/ca", 0, 0, 0o755)
        .file("usr/share/ca/root.pem", PEM.as_bytes(), 0, 0, 0o644)
        .dir("etc/ssl/certs", 0, 0, 0o755)
        .symlink("etc/ssl/certs/ca.pem", "/usr/share/ca/root.pem")
        .symlink("etc/ssl/share", "/usr/share/ca")
        .symlink("etc/rel", "../usr/share/ca/root.pem")
        .symlink("etc/up", "../../../../../usr/share");
        let tar = fs.into_tar();
        let changes = [
            "USER 65532:65532",
            "WORKDIR /app",
            r#"ENTRYPOINT ["/app/demo-app"]"#,
            r#"CMD ["--port", "8443", "--log", "/tmp/app.log"]"#,
        ];
        let key = short_hash(&[&tar, changes.join("\n").as_bytes()]);
        ensure_image("linked-app", &key, &changes, || tar)
    })
}

/// `docker run` of the toolbox the way the restricted profile runs it.
fn restricted_sidecar(target: &Container) -> Nosh {
    restricted_sidecar_as(target, "65532:65532")
}

/// [`restricted_sidecar`] as `user` (`UID:GID`).
fn restricted_sidecar_as(target: &Container, user: &str) -> Nosh {
    Nosh::toolbox_beside(
        target,
        &[
            "--user",
            user,
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
        ],
    )
}

#[test]
fn restricted_toolbox_runs_as_the_app_uid_with_nothing_to_drop() {
    let target = Container::run(linked_image(), &[]);
    target.wait_running();
    let out = restricted_sidecar(&target)
        .c("id; cat /proc/self/status")
        .run();
    out.success().stdout_has("uid=65532(nonroot)");
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        out.stdout_has(&format!("{key}:\t0000000000000000"));
    }
    out.stdout_has("NoNewPrivs:\t1");
}

#[test]
fn restricted_toolbox_resolves_absolute_symlinks_inside_the_targets_root() {
    let target = Container::run(linked_image(), &[]);
    target.wait_running();
    restricted_sidecar(&target)
        .c("cat /etc/ssl/certs/ca.pem; cat /etc/ssl/share/root.pem; cat /etc/rel; cat /etc/up/ca/root.pem")
        .run()
        .success()
        .stdout_has(&PEM.repeat(4));
    // The link itself, as `readlink` and `ls -l` show it.
    restricted_sidecar(&target)
        .c("readlink /etc/ssl/certs/ca.pem; ls -l /etc/ssl/certs; readlink -f /etc/ssl/certs/ca.pem")
        .run()
        .success()
        .stdout_has("/usr/share/ca/root.pem\n")
        .stdout_has("ca.pem -> /usr/share/ca/root.pem")
        .stdout_lacks("No such file");
}

#[test]
fn restricted_toolbox_cannot_climb_out_of_the_targets_root() {
    let target = Container::run(linked_image(), &[]);
    target.wait_running();
    // `..` above the root stays at the root: /app of the target, not of
    // the toolbox (which has no /app at all).
    restricted_sidecar(&target)
        .c("ls /../../../app; ls /etc/up/../../../app")
        .run()
        .success()
        .stdout_has("demo-app\ndemo-app\n");
}

#[test]
fn restricted_toolbox_as_another_uid_says_which_uid_to_run_as() {
    let target = Container::run(linked_image(), &[]);
    target.wait_running();
    restricted_sidecar_as(&target, "1000:1000")
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("this container runs as uid 1000 gid 1000 with no CAP_SETUID and cannot become the app's uid 65532 gid 65532: start it as uid 65532 gid 65532");
}
