//! `nosh cp` against the real Docker Engine: a 100 MB file and a directory
//! tree out of and into a running target (through a sidecar and attached
//! directly), out of a stopped one (a replica) and an image, tar streams on
//! stdin and stdout, the app's permissions, and symlinks of a hostile
//! target that must never lead a direct copy to the host's files.
//!
//! What the engine itself sees (`docker cp ... -` of the container's
//! layer, `docker diff`) is the ground truth.

mod common;
#[path = "support/pty.rs"]
mod pty;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{Container, NONROOT, Nosh, Rootfs, demo_app_bin, require_engine, static_app_image};

/// sha256 of a file, as sha256sum prints it.
fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// 100 MB of random bytes.
fn big_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("big.bin");
    let ok = Command::new("head")
        .args(["-c", "100000000", "/dev/urandom"])
        .stdout(fs::File::create(&path).unwrap())
        .status()
        .unwrap();
    assert!(ok.success());
    path
}

/// A small tree: nested directories, modes, a symlink and an old mtime.
fn tree(dir: &Path) -> std::path::PathBuf {
    let top = dir.join("tree");
    fs::create_dir_all(top.join("conf/deep")).unwrap();
    fs::write(top.join("conf/app.yaml"), b"port: 8080\n").unwrap();
    fs::write(top.join("conf/deep/secret"), b"s3cr3t\n").unwrap();
    fs::write(top.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(
        top.join("conf/deep/secret"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::set_permissions(top.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("conf/app.yaml", top.join("current")).unwrap();
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
    fs::File::options()
        .write(true)
        .open(top.join("conf/app.yaml"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    top
}

/// Every entry below `root` with its kind, mode, size, mtime and content
/// hash (or link target): two trees are the same copy when these are equal.
fn describe(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if m.file_type().is_symlink() {
                out.push(format!("{rel} -> {}", fs::read_link(&p).unwrap().display()));
            } else if m.is_dir() {
                out.push(format!("{rel}/ {:o}", m.mode() & 0o7777));
                walk(base, &p, out);
            } else {
                out.push(format!(
                    "{rel} {:o} {} {} {}",
                    m.mode() & 0o7777,
                    m.len(),
                    m.mtime(),
                    sha256(&p)
                ));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// `docker cp CONTAINER:PATH -` listed with numeric owners: who the engine
/// says owns what nosh wrote.
fn owners_in_layer(container: &str, path: &str) -> String {
    let mut cp = Command::new("docker")
        .args(["cp", &format!("{container}:{path}"), "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Command::new("tar")
        .args(["-tv", "--numeric-owner"])
        .stdin(cp.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(cp.wait().unwrap().success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cp(args: &[&str]) -> common::RunOutput {
    Nosh::new()
        .arg("cp")
        .args(args)
        .timeout(std::time::Duration::from_secs(180))
        .run()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_100_mb_file_and_a_tree_round_trip_into_and_out_of_a_running_target_as_the_app() {
    require_engine();
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    let here = tempfile::tempdir().unwrap();
    let big = big_file(here.path());
    let tree = tree(here.path());
    let t = target.name();

    // A local engine: the bytes skip the engine, over a socket of this host.
    cp(&["-v", &path(&big), &format!("{t}:/tmp/")])
        .success()
        .stderr_has("the copy goes over a socket of this host");
    cp(&[&path(&tree), &format!("{t}:/tmp/tree")]).success();
    // Written as the app: the engine's own view of the layer says 65532.
    let owners = owners_in_layer(t, "/tmp/tree");
    for line in owners.lines() {
        assert!(line.contains(&format!("{NONROOT}/{NONROOT}")), "{owners}");
    }
    assert!(owners_in_layer(t, "/tmp/big.bin").contains(&format!("{NONROOT}/{NONROOT}")));

    let back = here.path().join("back");
    fs::create_dir(&back).unwrap();
    // Out on a terminal: a progress bar on stderr while it streams.
    let mut cmd = Command::new(common::nosh_bin());
    cmd.args(["cp", &format!("{t}:/tmp/big.bin"), &path(&back)]);
    let mut term = pty::Pty::spawn(cmd, 100, 30);
    assert!(
        term.wait(std::time::Duration::from_secs(180)).success(),
        "{}",
        term.screen()
    );
    let screen = term.screen();
    assert!(
        // A fast copy may draw a single frame before it clears the bar.
        screen.contains("/95.37 MiB ["),
        "no progress bar: {screen:?}"
    );
    cp(&[&format!("{t}:/tmp/tree"), &path(&back.join("tree"))]).success();
    assert_eq!(sha256(&back.join("big.bin")), sha256(&big));
    assert_eq!(describe(&back.join("tree")), describe(&tree));
    target.assert_nothing_left();
}

#[test]
fn a_stopped_container_and_an_image_are_copied_from_through_a_replica_and_never_into() {
    require_engine();
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    let here = tempfile::tempdir().unwrap();
    let big = big_file(here.path());
    let t = target.name();
    cp(&[&path(&big), &format!("{t}:/home/nonroot/")]).success();
    common::docker_ok(&["stop", "-t", "1", t]);

    let out = here.path().join("out.bin");
    cp(&[&format!("{t}:/home/nonroot/big.bin"), &path(&out)]).success();
    assert_eq!(sha256(&out), sha256(&big));
    // A copy into the replica would be gone with it: refused.
    cp(&[&path(&big), &format!("{t}:/home/nonroot/again.bin")])
        .code_is(1)
        .stderr_has("is not running, and this is a replica of it");

    // An image: its own files, nothing run.
    let data = here.path().join("data.txt");
    cp(&[
        &format!("{}:/app/data.txt", static_app_image()),
        &path(&data),
    ])
    .success();
    assert_eq!(
        fs::read_to_string(&data).unwrap(),
        "id,amount\n1,100\n2,250\n"
    );
    assert_eq!(fs::metadata(&data).unwrap().mtime(), 1_700_000_000);
}

#[test]
fn a_copy_into_a_directory_the_app_cannot_write_is_refused_with_why_and_writes_nothing() {
    require_engine();
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    let here = tempfile::tempdir().unwrap();
    let file = here.path().join("note.txt");
    fs::write(&file, b"hello\n").unwrap();
    let before = common::docker_ok(&["diff", target.name()]);
    cp(&[&path(&file), &format!("{}:/var/log/demo/", target.name())])
        .code_is(1)
        .stderr_has("uid 65532 may not write /var/log/demo: nothing was copied")
        .stderr_has("/var/log/demo write  DENIED")
        .stderr_has("uid 65532 falls under others, which lacks 'w'");
    assert_eq!(common::docker_ok(&["diff", target.name()]), before);
    // --root is uid 0, still without capabilities: the root-owned 0755
    // directory takes the file.
    cp(&[
        "--root",
        &path(&file),
        &format!("{}:/var/log/demo/", target.name()),
    ])
    .success();
    let after = common::docker_ok(&["diff", target.name()]);
    assert!(
        after.lines().any(|l| l == "A /var/log/demo/note.txt"),
        "{after}"
    );
    target.assert_nothing_left();
}

#[test]
fn tar_streams_go_through_stdin_and_stdout_as_with_docker_cp() {
    require_engine();
    let target = Container::run(&static_app_image(), &[]);
    target.wait_running();
    let t = target.name();
    // Out: `nosh cp T:/app -` is a tar of /app.
    let out = Command::new(common::nosh_bin())
        .args(["cp", &format!("{t}:/app"), "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert!(names.contains(&"app/data.txt".to_string()), "{names:?}");
    assert!(names.contains(&"app/demo-app".to_string()), "{names:?}");

    // In: a tar on stdin lands in the directory named.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o640);
    h.set_mtime(1_234_567_890);
    tar.append_data(&mut h, "streamed/hello.txt", &b"hello\n"[..])
        .unwrap();
    let bytes = tar.into_inner().unwrap();
    let mut child = Command::new(common::nosh_bin())
        .args(["cp", "-", &format!("{t}:/tmp")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let listed = owners_in_layer(t, "/tmp/streamed/hello.txt");
    assert!(listed.contains("-rw-r-----"), "{listed}");
    assert!(listed.contains("2009-02-13"), "{listed}");
}

/// A target that holds symlinks out of itself: absolute ones to `/etc` and
/// `/`, and a relative one climbing far above its root. Its passwd names
/// its root `target-root`.
fn hostile_links_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let app = fs::read(demo_app_bin()).expect("read demo-app");
            let passwd = "root:x:0:0:target-root:/root:/sbin/nologin\n\
                          nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
            let mut fs = Rootfs::new();
            fs.file("etc/passwd", passwd.as_bytes(), 0, 0, 0o644)
                .file("etc/group", b"root:x:0:\nnonroot:x:65532:\n", 0, 0, 0o644)
                .dir("tmp", 0, 0, 0o1777)
                .dir("data", NONROOT, NONROOT, 0o755)
                .file("app/demo-app", &app, 0, 0, 0o755)
                .symlink("data/etc-link", "/etc")
                .symlink("data/root-link", "/")
                .symlink("data/up", "../../../../../../../../etc");
            let tar = fs.into_tar();
            let changes = [
                "USER 65532:65532",
                r#"ENTRYPOINT ["/app/demo-app", "--sleep-forever"]"#,
            ];
            let key = common::short_hash(&[&tar, changes.join("\n").as_bytes()]);
            common::ensure_image("hostile-links", &key, &changes, || tar)
        })
        .clone()
}

#[test]
fn attached_directly_copies_round_trip_and_symlinks_never_reach_the_hosts_files() {
    require_engine();
    let target = Container::run(&hostile_links_image(), &[]);
    target.wait_running();
    let t = target.name();
    let here = tempfile::tempdir().unwrap();
    let big = big_file(here.path());
    let tree = tree(here.path());

    // The round trip, with no sidecar.
    cp(&["--direct", &path(&big), &format!("{t}:/data/")]).success();
    cp(&["--direct", &path(&tree), &format!("{t}:/data/")]).success();
    let back = here.path().join("back");
    fs::create_dir(&back).unwrap();
    cp(&["--direct", &format!("{t}:/data/big.bin"), &path(&back)]).success();
    cp(&["--direct", &format!("{t}:/data/tree"), &path(&back)]).success();
    assert_eq!(sha256(&back.join("big.bin")), sha256(&big));
    assert_eq!(describe(&back.join("tree")), describe(&tree));
    let pid = format!("pid://{}", target.host_pid());
    cp(&[
        &format!("{pid}:/data/tree/conf/app.yaml"),
        &path(&back.join("via-pid.yaml")),
    ])
    .success();
    assert_eq!(
        fs::read(back.join("via-pid.yaml")).unwrap(),
        b"port: 8080\n"
    );

    // Out through links to /etc, / and above the root: the target's passwd.
    for link in [
        "/data/etc-link/passwd",
        "/data/root-link/etc/passwd",
        "/data/up/passwd",
    ] {
        let out = here.path().join("passwd");
        let _ = fs::remove_file(&out);
        cp(&["--direct", &format!("{t}:{link}"), &path(&out)]).success();
        let text = fs::read_to_string(&out).unwrap();
        assert!(text.contains("target-root"), "{link} read {text}");
    }
    // -L on a link to / copies the target's root, never the host's.
    let out = Command::new(common::nosh_bin())
        .args(["cp", "--direct", "-L", &format!("{t}:/data/root-link"), "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.contains(&"root-link/app/demo-app".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("root-link/usr")),
        "{names:?}"
    );

    // In through the same links, as root (still no capabilities): the
    // files land in the target's /etc, and the host's /etc is untouched.
    let marker = format!("nosh-cp-marker-{}", std::process::id());
    let file = here.path().join(&marker);
    fs::write(&file, b"planted\n").unwrap();
    for link in ["/data/etc-link/", "/data/up/", "/data/root-link/etc/"] {
        cp(&["--direct", "--root", &path(&file), &format!("{t}:{link}")]).success();
        assert!(
            !Path::new("/etc").join(&marker).exists(),
            "{link} wrote the host's /etc"
        );
    }
    let listed = owners_in_layer(t, &format!("/etc/{marker}"));
    assert!(listed.contains(&marker), "{listed}");
}
