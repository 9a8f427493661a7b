//! Fixtures shared by the integration tests: shell-less images built on the
//! spot (no registry is reachable, so every image is a `docker import` of a
//! tar made here), an RAII guard for containers, and a builder that runs the
//! real static nosh binary.
//!
//! Images are tagged with a hash of what went into them, so a second run finds
//! them in the engine and costs one `docker image inspect`. Builds hold an
//! exclusive lock on a file in the cache directory, so test threads and
//! concurrent test binaries never build the same image twice at once.
//!
//! Every test crate uses a different part of this module.
#![allow(
    dead_code,
    reason = "each test crate uses a different part of the fixtures"
)]

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

pub mod corpus;

/// The uid and gid the fixture apps run as, as in distroless and Docker
/// Hardened Images.
pub const NONROOT: u32 = 65532;
/// The only capabilities the host half gives a sidecar (after `cap_drop
/// ALL`), as `src/host/error.rs` lists them.
pub const SIDECAR_CAPS: [&str; 7] = [
    "SYS_ADMIN",
    "SYS_PTRACE",
    "SYS_CHROOT",
    "DAC_READ_SEARCH",
    "SETPCAP",
    "SETGID",
    "SETUID",
];
/// Marks every container and image the tests make, for `make clean`.
pub const TEST_LABEL: &str = "io.nosh.test=1";

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
                      nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";
const PATH_ENV: &str = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// A file name that would recolour a terminal if printed raw.
pub const ESCAPE_FILE_NAME: &str = "evil\x1b[31mname";

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else the directory
/// above this test executable that Cargo marked with `CACHEDIR.TAG`, else
/// `<repo>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            repo_dir().join(dir)
        };
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|d| d.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| repo_dir().join("target"))
}

/// Downloaded packages and build locks live here, outside any test's temp dir.
pub fn cache_dir() -> PathBuf {
    let dir = target_dir().join("fixture-cache");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn static_dev_artifact(env: &str, relative: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| {
        target_dir()
            .join("x86_64-unknown-linux-gnu/static-dev")
            .join(relative)
    });
    assert!(
        path.is_file(),
        "{what} not found at {}: run `make static-dev` first (or set {env})",
        path.display()
    );
    path
}

/// The static nosh binary under test: `$NOSH_BIN`, else the `static-dev`
/// build. It must be static because the host half imports it as the toolbox.
pub fn nosh_bin() -> PathBuf {
    static_dev_artifact("NOSH_BIN", "nosh", "the static nosh binary")
}

/// Fails the test at once, with the fix, when no engine is running.
pub fn require_engine() {
    assert!(
        Path::new("/var/run/docker.sock").exists(),
        "no Docker engine socket at /var/run/docker.sock (start dockerd)"
    );
}

/// nosh started with `args` (the default engine, not `$DOCKER_HOST`) as an
/// interactive session with stdin held open.
pub fn session(args: &[&str]) -> std::process::Child {
    Command::new(nosh_bin())
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nosh")
}

/// The static demo service: `$NOSH_DEMO_APP`, else the `static-dev` example.
pub fn demo_app_bin() -> PathBuf {
    static_dev_artifact("NOSH_DEMO_APP", "examples/demo-app", "the static demo-app")
}

// ---------------------------------------------------------------------------
// The docker CLI
// ---------------------------------------------------------------------------

/// Runs `docker ARGS` and returns its output, whatever the status.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker: {e}"))
}

/// Runs `docker ARGS`, panics unless it succeeds, returns trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

// ---------------------------------------------------------------------------
// Image assembly
// ---------------------------------------------------------------------------

/// A root filesystem being written as a tar for `docker import`. Entries get
/// explicit owners and modes and a fixed mtime, so the same inputs give the
/// same bytes (and the same tag).
pub struct Rootfs {
    tar: tar::Builder<Vec<u8>>,
    dirs: BTreeSet<String>,
}

impl Default for Rootfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Rootfs {
    pub fn new() -> Self {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        Self {
            tar,
            dirs: BTreeSet::new(),
        }
    }

    fn header(kind: tar::EntryType, size: u64, uid: u32, gid: u32, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h
    }

    /// Adds a directory (and, owned by root, any missing parents).
    pub fn dir(&mut self, path: &str, uid: u32, gid: u32, mode: u32) -> &mut Self {
        let path = path.trim_matches('/');
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !self.dirs.contains(parent) {
                self.dir(parent, 0, 0, 0o755);
            }
        }
        if self.dirs.insert(path.to_owned()) {
            let mut h = Self::header(tar::EntryType::Directory, 0, uid, gid, mode);
            self.tar
                .append_data(&mut h, format!("{path}/"), std::io::empty())
                .unwrap_or_else(|e| panic!("tar: {path}: {e}"));
        }
        self
    }

    fn parent(&mut self, path: &str) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !self.dirs.contains(parent) {
                self.dir(parent, 0, 0, 0o755);
            }
        }
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: &str, data: &[u8], uid: u32, gid: u32, mode: u32) -> &mut Self {
        let path = path.trim_start_matches('/');
        self.parent(path);
        let mut h = Self::header(tar::EntryType::Regular, data.len() as u64, uid, gid, mode);
        self.tar
            .append_data(&mut h, path, data)
            .unwrap_or_else(|e| panic!("tar: {path}: {e}"));
        self
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let path = path.trim_start_matches('/');
        self.parent(path);
        let mut h = Self::header(tar::EntryType::Symlink, 0, 0, 0, 0o777);
        self.tar
            .append_link(&mut h, path, target)
            .unwrap_or_else(|e| panic!("tar: {path}: {e}"));
        self
    }

    /// Adds a host directory tree below `/`, owned by root, modes kept,
    /// entries in sorted order.
    pub fn tree(&mut self, host_dir: &Path) -> &mut Self {
        fn walk(fs: &mut Rootfs, base: &Path, dir: &Path) {
            let mut entries: Vec<_> = fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
                .map(|e| e.expect("directory entry").path())
                .collect();
            entries.sort();
            for path in entries {
                let rel = path
                    .strip_prefix(base)
                    .expect("entry below its base")
                    .to_str()
                    .expect("package paths are UTF-8")
                    .to_owned();
                let meta = fs::symlink_metadata(&path).expect("metadata");
                let mode = meta.permissions().mode() & 0o7777;
                if meta.file_type().is_symlink() {
                    let target = fs::read_link(&path).expect("readlink");
                    fs.symlink(&rel, target.to_str().expect("UTF-8 link"));
                } else if meta.is_dir() {
                    fs.dir(&rel, 0, 0, mode);
                    walk(fs, base, &path);
                } else if meta.is_file() {
                    let data = fs::read(&path).expect("read package file");
                    fs.file(&rel, &data, 0, 0, mode);
                }
            }
        }
        walk(self, host_dir, host_dir);
        self
    }

    /// The finished tar.
    pub fn into_tar(self) -> Vec<u8> {
        self.tar.into_inner().expect("finish tar")
    }
}

pub fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Holds an exclusive lock on `<cache>/NAME.lock` while alive.
fn lock(name: &str) -> Flock<File> {
    let path = cache_dir().join(format!("{name}.lock"));
    let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Flock::lock(file, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("lock {}: {e}", path.display()))
}

fn image_exists(tag: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", tag])
        .status
        .success()
}

/// Returns `nosh-fixture-NAME:KEY`, importing it from `build()` with the
/// Dockerfile-style `changes` unless the engine already has it. `key` must
/// change whenever the tar or the changes would.
pub fn ensure_image(
    name: &str,
    key: &str,
    changes: &[&str],
    build: impl FnOnce() -> Vec<u8>,
) -> String {
    let tag = format!("nosh-fixture-{name}:{key}");
    if image_exists(&tag) {
        return tag;
    }
    let _guard = lock(name);
    if image_exists(&tag) {
        return tag;
    }
    let tar = build();
    let mut args = vec!["import".to_owned()];
    for change in changes
        .iter()
        .copied()
        .chain([format!("LABEL {TEST_LABEL}").as_str()])
    {
        args.push("--change".to_owned());
        args.push(change.to_owned());
    }
    args.push("-".to_owned());
    args.push(tag.clone());
    let mut child = Command::new("docker")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = thread::spawn(move || stdin.write_all(&tar));
    let out = child.wait_with_output().expect("docker import");
    let written = writer.join().expect("tar writer");
    assert!(
        out.status.success(),
        "docker import {tag} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    written.unwrap_or_else(|e| panic!("writing the tar for {tag}: {e}"));
    remove_stale_tags(name, key);
    tag
}

/// Older builds of the same fixture are never used again: untag them so the
/// engine does not fill up over many edit-test cycles. Only tags made more
/// than a day ago go: two checkouts testing against one engine at once each
/// build their own key, and must not untag the other's mid-run. An image
/// still used by a container stays; that is fine.
fn remove_stale_tags(name: &str, key: &str) {
    const STALE_AFTER_SECS: i64 = 24 * 3600;
    let repo = format!("nosh-fixture-{name}");
    let listed = docker_ok(&["images", "--format", "{{.Tag}} {{.CreatedAt}}", &repo]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for line in listed.lines() {
        let Some((tag, created)) = line.split_once(' ') else {
            continue;
        };
        if tag == key || tag == "<none>" {
            continue;
        }
        // `CreatedAt` reads "2026-12-02 15:45:18 +0000 UTC".
        let created = Command::new("date")
            .args(["-d", created.trim_end_matches(" UTC"), "+%s"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<i64>().ok());
        if created.is_some_and(|t| now - t > STALE_AFTER_SECS) {
            let _ = docker(&["rmi", &format!("{repo}:{tag}")]);
        }
    }
}

/// The image's size in bytes, as `docker images` reports it.
pub fn image_size(image: &str) -> u64 {
    docker_ok(&["image", "inspect", "--format", "{{.Size}}", image])
        .parse()
        .expect("image size")
}

/// Every path in the image's own filesystem, as `/path` (directories end in
/// `/`), read from the layers of `docker save` — so the files the engine adds
/// to a container (`/etc/hosts`, `/dev`, ...) are not counted.
pub fn image_files(image: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["save", image])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
    assert!(
        out.status.success(),
        "docker save {image} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = Vec::new();
    let mut outer = tar::Archive::new(&out.stdout[..]);
    for layer in outer.entries().expect("image tar") {
        let layer = layer.expect("image tar entry");
        let is_layer = layer
            .path()
            .is_ok_and(|p| p.file_name().is_some_and(|n| n == "layer.tar"));
        if !is_layer {
            continue;
        }
        let mut inner = tar::Archive::new(layer);
        for entry in inner.entries().expect("layer tar") {
            let entry = entry.expect("layer entry");
            let path = entry.path().expect("entry path").display().to_string();
            files.push(format!("/{}", path.trim_start_matches("./")));
        }
    }
    files.sort();
    files
}

fn add_users(fs: &mut Rootfs) {
    fs.file("etc/passwd", PASSWD.as_bytes(), 0, 0, 0o644)
        .file("etc/group", GROUP.as_bytes(), 0, 0, 0o644)
        .dir("root", 0, 0, 0o700)
        .dir("home/nonroot", NONROOT, NONROOT, 0o755)
        .dir("tmp", 0, 0, 0o1777);
}

// ---------------------------------------------------------------------------
// The static app
// ---------------------------------------------------------------------------

/// A FROM-scratch image around the static demo-app, running as 65532:
///
/// - `/app/demo-app` (ENTRYPOINT, CMD `--port 8443 --log /var/log/demo/app.log`),
///   `/app/data.txt` (owned by 65532), `/app/evil\e[31mname`;
/// - `/etc/passwd` and `/etc/group` with root and nonroot, `/etc/secret.txt`
///   (root, 0600), `/home/nonroot` (65532), `/tmp` (1777);
/// - `/var/log/demo` owned by root, 0755, so the app cannot write its log;
/// - no shell, no other program.
pub fn static_app_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            static_app_image_with(
                "static-app",
                &[
                    "USER 65532:65532",
                    "WORKDIR /app",
                    "EXPOSE 8443/tcp",
                    r#"ENTRYPOINT ["/app/demo-app"]"#,
                    r#"CMD ["--port", "8443", "--log", "/var/log/demo/app.log"]"#,
                ],
            )
        })
        .clone()
}

/// The files of [`static_app_image`] as `nosh-fixture-NAME`, with these
/// Dockerfile-style `changes` (and `PATH`) instead of its own.
pub fn static_app_image_with(name: &str, changes: &[&str]) -> String {
    let app = fs::read(demo_app_bin()).expect("read demo-app");
    let mut fs = Rootfs::new();
    add_users(&mut fs);
    fs.file(
        "etc/secret.txt",
        b"s3cr3t: only root may read this\n",
        0,
        0,
        0o600,
    )
    .dir("app", 0, 0, 0o755)
    .file("app/demo-app", &app, 0, 0, 0o755)
    .file(
        "app/data.txt",
        b"id,amount\n1,100\n2,250\n",
        NONROOT,
        NONROOT,
        0o644,
    )
    .file(
        &format!("app/{ESCAPE_FILE_NAME}"),
        b"a file whose name holds an escape sequence\n",
        0,
        0,
        0o644,
    )
    .dir("var/log/demo", 0, 0, 0o755);
    let tar = fs.into_tar();
    let mut all = vec![PATH_ENV];
    all.extend_from_slice(changes);
    let key = short_hash(&[&tar, all.join("\n").as_bytes()]);
    ensure_image(name, &key, &all, || tar)
}

// ---------------------------------------------------------------------------
// The Python service
// ---------------------------------------------------------------------------

/// What the distroless-style Python image is made from. Only packages whose
/// files are needed: dpkg-deb -x runs no maintainer scripts.
const PYTHON_PACKAGES: &[&str] = &[
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libc6",
    "libgcc-s1",
    "libssl3",
    "zlib1g",
    "libexpat1",
    "ca-certificates",
];

/// Trimmed as distroless does (docs, and glibc's iconv modules, which Python's
/// own codecs never load); the shells are removed even though none of
/// these packages ships one today.
const PYTHON_REMOVE: &[&str] = &[
    "usr/share/doc",
    "usr/share/man",
    "usr/share/lintian",
    "usr/share/binfmts",
    "usr/lib/binfmt.d",
    "usr/lib/x86_64-linux-gnu/gconv",
    "bin/sh",
    "bin/dash",
    "bin/bash",
    "usr/bin/sh",
    "usr/bin/dash",
    "usr/bin/bash",
];

/// The service: TCP 8080 (HTTP), UDP 8081, a sleeping child, `/app/data.db`
/// held open, and a log file it may not write.
pub const PYTHON_APP: &str = r#""""claims-api: a stand-in for a small service in a distroless Python image."""
import os
import select
import signal
import socket
import subprocess
import sys

# LOG_FILE=- logs to stdout, as a container should.
LOG_PATH = os.environ.get("LOG_FILE", "/var/log/claims-api/app.log")
DATA_PATH = "/app/data.db"
TCP_PORT = int(os.environ.get("PORT", "8080"))
UDP_PORT = int(os.environ.get("UDP_PORT", "8081"))
BODY = b'{"status":"ok"}\n'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BODY), BODY)
)
child = None


def stop(*_):
    # As PID 1 the process gets no default action for SIGTERM: exit here.
    if child is not None:
        child.kill()
        child.wait()
    sys.exit(0)


def main():
    global child
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        log = sys.stdout if LOG_PATH == "-" else open(LOG_PATH, "a", buffering=1)
    except OSError as e:
        print(f"claims-api: cannot open log file: {e}", file=sys.stderr, flush=True)
        if os.environ.get("CRASH_ON_LOG_ERROR") == "1":
            sys.exit(1)
        log = sys.stdout
    data = open(DATA_PATH, "r+b")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(100000)"])
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", TCP_PORT))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", UDP_PORT))
    print(f"claims-api: listening on tcp {TCP_PORT}, udp {UDP_PORT}; "
          f"{len(data.read())} bytes of data", file=log, flush=True)
    while True:
        ready, _, _ = select.select([tcp, udp], [], [])
        if udp in ready:
            _, peer = udp.recvfrom(1500)
            udp.sendto(b"ok\n", peer)
        if tcp in ready:
            conn, peer = tcp.accept()
            with conn:
                conn.settimeout(0.5)
                try:
                    conn.recv(4096)
                    conn.sendall(RESPONSE)
                except OSError:
                    pass
            print(f"claims-api: 200 to {peer[0]}", file=log, flush=True)


if __name__ == "__main__":
    main()
"#;

/// Options for [`python_app_image_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PythonOpts {
    /// Install `/etc/ssl/certs/ca-certificates.crt` (Mozilla's bundle).
    pub ca_certificates: bool,
}

fn python_rootfs_tar(opts: PythonOpts, debs: &[PathBuf]) -> Vec<u8> {
    let work = tempfile::Builder::new()
        .prefix("python-rootfs-")
        .tempdir_in(cache_dir())
        .expect("temp dir");
    let root = work.path().join("root");
    fs::create_dir(&root).expect("create rootfs dir");
    let certs_dir = work.path().join("certs");
    for deb in debs {
        let is_certs = deb
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("ca-certificates_"));
        let into = if is_certs { &certs_dir } else { &root };
        unpack_deb(deb, into);
    }
    for path in PYTHON_REMOVE {
        let path = root.join(path);
        if let Ok(meta) = fs::symlink_metadata(&path) {
            if meta.is_dir() {
                fs::remove_dir_all(&path).expect("trim rootfs");
            } else {
                fs::remove_file(&path).expect("trim rootfs");
            }
        }
    }

    let mut fs = Rootfs::new();
    fs.tree(&root);
    add_users(&mut fs);
    if opts.ca_certificates {
        // update-ca-certificates would concatenate these in its postinst.
        let mozilla = certs_dir.join("usr/share/ca-certificates/mozilla");
        let mut certs: Vec<PathBuf> = fs::read_dir(&mozilla)
            .unwrap_or_else(|e| panic!("{}: {e}", mozilla.display()))
            .map(|e| e.expect("cert entry").path())
            .collect();
        certs.sort();
        let mut bundle = Vec::new();
        for cert in certs {
            bundle.extend(fs::read(cert).expect("read cert"));
        }
        fs.dir("etc/ssl/certs", 0, 0, 0o755).file(
            "etc/ssl/certs/ca-certificates.crt",
            &bundle,
            0,
            0,
            0o644,
        );
    }
    fs.dir("var/log/claims-api", 0, 0, 0o755)
        .dir("app", 0, 0, 0o755)
        .file("app/app.py", PYTHON_APP.as_bytes(), 0, 0, 0o644)
        .file(
            "app/data.db",
            b"SQLite format 3\0 (not really)\n",
            NONROOT,
            NONROOT,
            0o644,
        );
    let shells: Vec<_> = fs
        .dirs
        .iter()
        .filter(|d| d.ends_with("bin"))
        .flat_map(|d| ["sh", "dash", "bash"].map(|s| root.join(d).join(s)))
        .filter(|p| p.exists())
        .collect();
    assert!(
        shells.is_empty(),
        "a shell came with the packages: {shells:?}"
    );
    fs.into_tar()
}

fn python_image(name: &str, opts: PythonOpts, changes: &[&str]) -> String {
    let debs = debs("debs", PYTHON_PACKAGES);
    let names: Vec<String> = debs
        .iter()
        .filter_map(|d| d.file_name()?.to_str().map(str::to_owned))
        .collect();
    let key = short_hash(&[
        names.join("\n").as_bytes(),
        PYTHON_REMOVE.join("\n").as_bytes(),
        PYTHON_APP.as_bytes(),
        PASSWD.as_bytes(),
        GROUP.as_bytes(),
        format!("{opts:?}").as_bytes(),
        changes.join("\n").as_bytes(),
        // Bump when the assembly above changes in a way the inputs don't show.
        b"python-rootfs-v1",
    ]);
    ensure_image(name, &key, changes, || python_rootfs_tar(opts, &debs))
}

const PYTHON_ENTRYPOINT: &str = r#"ENTRYPOINT ["/usr/bin/python3.11", "/app/app.py"]"#;

/// The Python service without a CA bundle (see [`python_app_image_with`]).
pub fn python_app_image() -> String {
    python_app_image_with(PythonOpts::default())
}

/// A distroless-style Python service assembled from Debian 12 packages
/// (python3.11-minimal and its libraries, no shell), running [`PYTHON_APP`]
/// as 65532 in /app; `/var/log/claims-api` is root-owned, 0755.
pub fn python_app_image_with(opts: PythonOpts) -> String {
    static IMAGES: OnceLock<std::sync::Mutex<Vec<(PythonOpts, String)>>> = OnceLock::new();
    let images = IMAGES.get_or_init(Default::default);
    let mut images = images.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, tag)) = images.iter().find(|(o, _)| *o == opts) {
        return tag.clone();
    }
    let name = if opts.ca_certificates {
        "python-app-ca"
    } else {
        "python-app"
    };
    let tag = python_image(
        name,
        opts,
        &[
            "USER 65532:65532",
            "WORKDIR /app",
            PATH_ENV,
            "EXPOSE 8080/tcp",
            "EXPOSE 8081/udp",
            PYTHON_ENTRYPOINT,
        ],
    );
    images.push((opts, tag.clone()));
    tag
}

/// The Python rootfs (no CA bundle) under image configuration `changes` of a
/// test's own, tagged `nosh-fixture-NAME:...`: for images that differ from
/// the service only in their configuration (no `ENV PATH`, another
/// ENTRYPOINT).
pub fn python_image_configured(name: &str, changes: &[&str]) -> String {
    python_image(name, PythonOpts::default(), changes)
}

/// The same Python rootfs started the way a Dockerfile's shell form would:
/// `CMD ["sh", "-c", "python3 /app/app.py"]`. There is no shell, so the
/// container never starts and reports exit code 127.
pub fn shell_form_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            python_image(
                "shell-form",
                PythonOpts::default(),
                &[
                    "USER 65532:65532",
                    "WORKDIR /app",
                    PATH_ENV,
                    "EXPOSE 8080/tcp",
                    r#"CMD ["sh", "-c", "python3 /app/app.py"]"#,
                ],
            )
        })
        .clone()
}

// ---------------------------------------------------------------------------
// The toolbox image
// ---------------------------------------------------------------------------

/// A FROM-scratch image holding only the static nosh at `/nosh`, with
/// ENTRYPOINT `["/nosh", "toolbox"]` and CMD `["--pid", "1"]`: what
/// `toolbox/Dockerfile` builds, for driving the sidecar with plain docker.
pub fn toolbox_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let bin = fs::read(nosh_bin()).expect("read nosh");
            let mut fs = Rootfs::new();
            fs.file("nosh", &bin, 0, 0, 0o755);
            let tar = fs.into_tar();
            let changes = [
                r#"ENTRYPOINT ["/nosh", "toolbox"]"#,
                r#"CMD ["--pid", "1"]"#,
            ];
            let key = short_hash(&[&tar, changes.join("\n").as_bytes()]);
            ensure_image("toolbox", &key, &changes, || tar)
        })
        .clone()
}

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

/// A container removed (`docker rm -f -v`) when dropped. Named
/// `nosh-test-...` and labelled `io.nosh.test=1`.
pub struct Container {
    name: String,
    id: String,
}

impl Container {
    /// `docker run -d` of `image` with `args` before the image name; panics
    /// (after removing what was created) if it does not start.
    pub fn run(image: &str, args: &[&str]) -> Container {
        Self::run_cmd(image, args, &[])
    }

    /// Like [`Container::run`], with `cmd` after the image name (replacing CMD).
    pub fn run_cmd(image: &str, args: &[&str], cmd: &[&str]) -> Container {
        let (container, out) = Self::try_run(image, args, cmd);
        assert!(
            out.status.success(),
            "docker run {image} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        container
    }

    /// `docker run -d` that may fail (a container whose process cannot be
    /// started is still created): the guard and the CLI's output.
    pub fn try_run(image: &str, args: &[&str], cmd: &[&str]) -> (Container, Output) {
        let name = format!("nosh-test-{}", unique_suffix());
        let mut all = vec!["run", "-d", "--name", &name, "--label", TEST_LABEL];
        all.extend_from_slice(args);
        all.push(image);
        all.extend_from_slice(cmd);
        let out = docker(&all);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let id = if id.is_empty() { name.clone() } else { id };
        (Container { name, id }, out)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker inspect --format FORMAT`.
    pub fn inspect(&self, format: &str) -> String {
        docker_ok(&["inspect", "--format", format, &self.name])
    }

    /// The app's PID as the host sees it.
    pub fn host_pid(&self) -> u32 {
        self.inspect("{{.State.Pid}}").parse().expect("State.Pid")
    }

    /// The address on the default bridge network.
    pub fn ip(&self) -> String {
        self.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
    }

    /// Waits up to 10 s for the container to be running; panics with its
    /// logs if it stops or never starts.
    pub fn wait_running(&self) -> &Self {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.inspect("{{.State.Status}}");
            match state.as_str() {
                "running" => return self,
                "exited" | "dead" => panic!(
                    "{} stopped with code {}; logs:\n{}",
                    self.name,
                    self.inspect("{{.State.ExitCode}}"),
                    self.logs()
                ),
                _ if Instant::now() > deadline => {
                    panic!("{} still {state} after 10 s", self.name)
                }
                _ => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Polls `docker inspect --format FORMAT` every 50 ms until `done` says
    /// its reading will do, and returns that reading; panics with the last
    /// reading and the logs after `limit`.
    pub fn wait_until(&self, format: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let reading = self.inspect(format);
            if done(&reading) {
                return reading;
            }
            assert!(
                Instant::now() < deadline,
                "{} still reads {reading:?} for {format} after {limit:?}; logs:\n{}",
                self.name,
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Container::wait_until`] `format` reads `want`, for up to 30 s.
    pub fn wait_inspect(&self, format: &str, want: &str) {
        self.wait_until(format, Duration::from_secs(30), |r| r == want);
    }

    /// The nosh sidecars of this container, in any state.
    pub fn sidecars(&self) -> Vec<String> {
        self.sidecars_listed_by("-aq")
    }

    /// The nosh sidecars of this container that are running.
    pub fn running_sidecars(&self) -> Vec<String> {
        self.sidecars_listed_by("-q")
    }

    fn sidecars_listed_by(&self, ps_flags: &str) -> Vec<String> {
        docker_ok(&[
            "ps",
            ps_flags,
            "--filter",
            &format!("label=io.nosh.target={}", self.id()),
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// Waits up to 30 s for every sidecar of this container to be gone.
    pub fn assert_nothing_left(&self) {
        self.assert_nothing_left_within(Duration::from_secs(30));
    }

    /// Polls until no sidecar of this container is left; panics with those
    /// still there after `limit`.
    pub fn assert_nothing_left_within(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.sidecars();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sidecars left behind for {}: {left:?}",
                self.name()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits up to 10 s until something accepts TCP connections on `port`
    /// at the container's address, and returns that address.
    pub fn wait_port(&self, port: u16) -> SocketAddr {
        let addr: SocketAddr = format!("{}:{port}", self.ip())
            .parse()
            .expect("container address");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(_) => return addr,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "{addr} of {} not listening: {e}; logs:\n{}",
                        self.name,
                        self.logs()
                    )
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits until PID 1 has `n` or more children (a forked child is
    /// listed only once it exists), up to 10 s.
    pub fn wait_children(&self, n: usize) -> Vec<u32> {
        let pid = self.host_pid();
        let path = format!("/proc/{pid}/task/{pid}/children");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let children: Vec<u32> = fs::read_to_string(&path)
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if children.len() >= n || Instant::now() > deadline {
                return children;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// stdout and stderr of the container so far, one after the other.
    pub fn logs(&self) -> String {
        let out = docker(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// `.State.ExitCode` (0 while running).
    pub fn exit_code(&self) -> i32 {
        self.inspect("{{.State.ExitCode}}")
            .parse()
            .expect("State.ExitCode")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}

/// An HTTP GET of `/` at `addr`, returning the whole response.
pub fn http_get(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("send request");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read response");
    response
}

// ---------------------------------------------------------------------------
// Running nosh
// ---------------------------------------------------------------------------

/// Runs the real nosh binary (or the toolbox through `docker run`) with a
/// timeout: `Nosh::new().arg(target).c("id").run().code_is(0).stdout_has("uid=")`.
pub struct Nosh {
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Default for Nosh {
    fn default() -> Self {
        Self::new()
    }
}

impl Nosh {
    /// The static nosh from [`nosh_bin`].
    pub fn new() -> Self {
        Self::program(nosh_bin())
    }

    /// Any other program, with the same running and assertions.
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// The toolbox half in a sidecar of `target`, started with plain
    /// `docker run` from [`toolbox_image`] the way the host half starts it:
    /// sharing the target's PID and network namespaces, with the capabilities
    /// needed to join and drop. Arguments added later go after `--pid 1`.
    pub fn sidecar(target: &Container) -> Self {
        Self::sidecar_with_caps(target, &SIDECAR_CAPS)
    }

    /// [`Nosh::sidecar`] with all capabilities dropped but `caps`.
    pub fn sidecar_with_caps(target: &Container, caps: &[&str]) -> Self {
        let mut options = vec!["--cap-drop", "ALL", "--security-opt", "no-new-privileges"];
        for cap in caps {
            options.extend(["--cap-add", cap]);
        }
        Self::toolbox_beside(target, &options)
    }

    /// `docker run` of [`toolbox_image`] sharing `target`'s PID and network
    /// namespaces, with the `docker run` `options` given (capabilities,
    /// user, security options), as `--pid 1`.
    pub fn toolbox_beside(target: &Container, options: &[&str]) -> Self {
        let shared = format!("container:{}", target.id());
        let mut nosh = Self::program("docker");
        nosh.args([
            "run",
            "--rm",
            "-i",
            "--label",
            TEST_LABEL,
            "--pid",
            &shared,
            "--network",
            &shared,
        ]);
        nosh.args(options);
        nosh.args([toolbox_image().as_str(), "--pid", "1"]);
        nosh
    }

    pub fn arg(&mut self, arg: impl AsRef<str>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<str>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Self {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// `-c CMD`: one command line.
    pub fn c(&mut self, command: &str) -> &mut Self {
        self.arg("-c").arg(command)
    }

    /// Feeds `input` on stdin (otherwise stdin is empty).
    pub fn stdin(&mut self, input: &str) -> &mut Self {
        self.stdin = Some(input.as_bytes().to_vec());
        self
    }

    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Kill and fail after this long (default 60 s).
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    pub fn run(&self) -> RunOutput {
        let command_line = format!("{} {}", self.program.display(), self.args.join(" "));
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command_line}: {e}"));
        if let (Some(input), Some(mut pipe)) = (self.stdin.clone(), child.stdin.take()) {
            // A program that exits without reading all of it is not an error.
            thread::spawn(move || pipe.write_all(&input));
        }
        let read = |mut pipe: Box<dyn Read + Send>| {
            thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let stdout = read(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = read(Box::new(child.stderr.take().expect("piped stderr")));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait().expect("wait for child") {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{command_line} timed out after {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                        self.timeout,
                        stdout.join().unwrap_or_default(),
                        stderr.join().unwrap_or_default()
                    );
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        };
        RunOutput {
            command_line,
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        }
    }
}

/// What a [`Nosh`] run produced. The assertions print everything on failure.
#[derive(Debug)]
pub struct RunOutput {
    command_line: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl RunOutput {
    /// The exit code, or 128 + the signal number if it was killed.
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(-1)
    }

    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- command: {}\n--- exit code: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command_line,
            self.code(),
            self.stdout,
            self.stderr
        )
    }

    #[track_caller]
    pub fn code_is(&self, code: i32) -> &Self {
        if self.code() != code {
            self.fail(&format!("expected exit code {code}, got {}", self.code()));
        }
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code_is(0)
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        if !self.stdout.contains(needle) {
            self.fail(&format!("stdout lacks {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Self {
        if self.stdout.contains(needle) {
            self.fail(&format!("stdout has {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        if !self.stderr.contains(needle) {
            self.fail(&format!("stderr lacks {needle:?}"));
        }
        self
    }
}

/// The findings of a `doctor --json` document with this id.
pub fn findings<'a>(doc: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .expect("a findings list")
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

impl RunOutput {
    /// stdout as one JSON document; fails with both streams if it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not one JSON document: {e}")))
    }
}

/// The `Uid:` line of `/proc/PID/status` as four numbers (real, effective,
/// saved, filesystem).
pub fn proc_uids(pid: u32) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("Uid line")
        .split_whitespace()
        .map(|n| n.parse().expect("uid"))
        .collect()
}

// ---------------------------------------------------------------------------
// A C++ program without its C++ runtime
// ---------------------------------------------------------------------------

/// Downloads `packages` once into `<cache>/NAME` (running `apt-get update`
/// first if apt has no lists) and returns the .deb paths, sorted.
fn debs(name: &str, packages: &[&str]) -> Vec<PathBuf> {
    let dir = cache_dir().join(name);
    let done = dir.join(".complete");
    if !done.is_file() {
        let _guard = lock(name);
        if !done.is_file() {
            let partial = cache_dir().join(format!("{name}.partial-{}", unique_suffix()));
            fs::create_dir_all(&partial).expect("create deb download dir");
            let download = || {
                Command::new("apt-get")
                    .arg("download")
                    .args(packages)
                    .current_dir(&partial)
                    .output()
                    .expect("run apt-get")
            };
            let mut out = download();
            if !out.status.success() {
                let update = Command::new("apt-get")
                    .arg("update")
                    .output()
                    .expect("run apt-get");
                assert!(
                    update.status.success(),
                    "apt-get update failed:\n{}",
                    String::from_utf8_lossy(&update.stderr)
                );
                out = download();
            }
            assert!(
                out.status.success(),
                "apt-get download {} failed:\n{}",
                packages.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = fs::remove_dir_all(&dir);
            fs::rename(&partial, &dir).expect("move debs into the cache");
            fs::write(&done, "").expect("mark debs complete");
        }
    }
    let mut debs: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("read deb cache")
        .map(|e| e.expect("deb entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    debs.sort();
    debs
}

/// Every file of the package `deb` unpacked below `into` (`dpkg-deb -x`:
/// no maintainer scripts run).
fn unpack_deb(deb: &Path, into: &Path) {
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(into)
        .output()
        .expect("run dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb -x {} failed:\n{}",
        deb.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file of `debs` unpacked (`dpkg-deb -x`, no maintainer scripts)
/// into one root, docs left out, changed by `patch`, as a [`Rootfs`] with
/// the users added.
fn rootfs_from_debs(debs: &[PathBuf], patch: impl FnOnce(&Path)) -> Rootfs {
    let work = tempfile::Builder::new()
        .prefix("deb-rootfs-")
        .tempdir_in(cache_dir())
        .expect("temp dir");
    let root = work.path().join("root");
    fs::create_dir(&root).expect("create rootfs dir");
    for deb in debs {
        unpack_deb(deb, &root);
    }
    for path in ["usr/share/doc", "usr/share/man", "usr/share/lintian"] {
        let _ = fs::remove_dir_all(root.join(path));
    }
    patch(&root);
    let mut fs = Rootfs::new();
    fs.tree(&root);
    add_users(&mut fs);
    fs
}

/// A C++ program (ninja, from Debian 12's ninja-build) in a shell-less
/// image as 65532, `ENTRYPOINT ["/usr/bin/ninja", "--version"]`, with libc6
/// and libgcc-s1; with `libstdcxx` false libstdc++6 is left out, the
/// commonest mistake when a binary moves into a distroless image: the
/// container exits 127 with "error while loading shared libraries:
/// libstdc++.so.6: cannot open shared object file".
pub fn cpp_app_image(libstdcxx: bool) -> String {
    let mut packages = vec!["ninja-build", "libc6", "libgcc-s1"];
    if libstdcxx {
        packages.push("libstdc++6");
    }
    let name = if libstdcxx {
        "cpp-app"
    } else {
        "cpp-app-nolibstdcxx"
    };
    ninja_image(
        name,
        &format!("debs-{name}"),
        &packages,
        b"cpp-rootfs-v1",
        |_| {},
    )
}

/// [`cpp_app_image`] (with libstdc++) whose ninja needs `GLIBC_2.99`, as a
/// binary built on a newer distribution would: its `GLIBC_2.34` version
/// need is renamed in place. The container exits 1 with "version
/// `GLIBC_2.99' not found".
pub fn cpp_app_image_needing_a_newer_glibc() -> String {
    ninja_image(
        "cpp-app-newer-glibc",
        "debs-cpp-app",
        &["ninja-build", "libc6", "libgcc-s1", "libstdc++6"],
        b"cpp-newer-glibc-v1",
        |root| {
            let path = root.join("usr/bin/ninja");
            let mut bin = fs::read(&path).expect("read ninja");
            let (old, new) = (b"GLIBC_2.34\0", b"GLIBC_2.99\0");
            let at = bin
                .windows(old.len())
                .position(|w| w == old)
                .expect("ninja needs GLIBC_2.34");
            bin[at..at + old.len()].copy_from_slice(new);
            fs::write(&path, bin).expect("write ninja");
        },
    )
}

/// The image `name`: ninja from the Debian `packages` (downloaded once into
/// `<cache>/DEBS_DIR`) as 65532 with
/// `ENTRYPOINT ["/usr/bin/ninja", "--version"]`, its root changed by
/// `patch`; bump `version` when the assembly changes.
fn ninja_image(
    name: &str,
    debs_dir: &str,
    packages: &[&str],
    version: &[u8],
    patch: impl FnOnce(&Path),
) -> String {
    let debs = debs(debs_dir, packages);
    let names: Vec<String> = debs
        .iter()
        .filter_map(|d| d.file_name()?.to_str().map(str::to_owned))
        .collect();
    let changes = [
        "USER 65532:65532",
        "WORKDIR /home/nonroot",
        PATH_ENV,
        r#"ENTRYPOINT ["/usr/bin/ninja", "--version"]"#,
    ];
    let key = short_hash(&[
        names.join("\n").as_bytes(),
        PASSWD.as_bytes(),
        changes.join("\n").as_bytes(),
        version,
    ]);
    ensure_image(name, &key, &changes, || {
        rootfs_from_debs(&debs, patch).into_tar()
    })
}

/// Held by every test that runs `nosh gc`: gc is global to the engine, so
/// two tests running it at once remove each other's planted leftovers, and
/// the one whose gc came second finds nothing to report. A lock file in the
/// system's temp dir, not a mutex: test binaries of other checkouts that
/// share the engine take it too.
pub fn gc_lock() -> Flock<File> {
    let path = std::env::temp_dir().join("nosh-test-gc.lock");
    let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Flock::lock(file, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("lock {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// A static program of a test's own
// ---------------------------------------------------------------------------

/// A FROM-scratch image holding one static program (`bin`, built by the
/// test) at `/app/NAME`, the users, `/tmp` and an `/app` owned by 65532,
/// running as 65532 with `ENTRYPOINT ["/app/NAME"]`. No shell, nothing
/// else.
pub fn static_program_image(name: &str, bin: &Path) -> String {
    let program = fs::read(bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut fs = Rootfs::new();
    add_users(&mut fs);
    fs.dir("app", NONROOT, NONROOT, 0o755)
        .file(&format!("app/{name}"), &program, 0, 0, 0o755);
    let tar = fs.into_tar();
    let entrypoint = format!(r#"ENTRYPOINT ["/app/{name}"]"#);
    let changes = ["USER 65532:65532", "WORKDIR /app", PATH_ENV, &entrypoint];
    let key = short_hash(&[&tar, changes.join("\n").as_bytes()]);
    ensure_image(name, &key, &changes, || tar)
}

// ---------------------------------------------------------------------------
// doctor
// ---------------------------------------------------------------------------

/// Waits until the container has stopped (or was created but never started).
pub fn wait_exited(c: &Container) {
    c.wait_until("{{.State.Status}}", Duration::from_secs(20), |s| {
        matches!(s, "exited" | "created")
    });
}

/// `nosh doctor --json EXTRA TARGET`: the exit code and the document.
pub fn doctor(target: &Container, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Nosh::new()
        .arg("doctor")
        .arg("--json")
        .args(extra)
        .arg(target.name())
        .run();
    let v: serde_json::Value = serde_json::from_str(out.stdout()).unwrap_or_else(|e| {
        panic!(
            "doctor --json is not JSON ({e}):\n{}\n{}",
            out.stdout(),
            out.stderr()
        )
    });
    (out.code(), v)
}

/// The system directory a fix would chown, chmod, create or mount over,
/// if any (a tmpfs over /tmp is fine).
pub fn touches_system_dir(fix: &str) -> Option<String> {
    const SYSTEM: &[&str] = &[
        "/", "/usr", "/etc", "/bin", "/lib", "/var", "/var/log", "/var/lib", "/run", "/tmp",
    ];
    let words: Vec<&str> = fix
        .split([' ', ';', '(', ')', ','])
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        if !matches!(
            *w,
            "chown" | "chmod" | "chgrp" | "--tmpfs" | "-v" | "-p" | "-R"
        ) {
            continue;
        }
        for arg in words.iter().skip(i + 1).take(2) {
            let path = arg.split(':').find(|p| p.starts_with('/')).unwrap_or(arg);
            let under_etc = path.starts_with("/etc/") && *w != "-v";
            if (SYSTEM.contains(&path) && !(*w == "--tmpfs" && path == "/tmp")) || under_etc {
                return Some(format!("{w} {path}"));
            }
        }
    }
    None
}

/// Asserts that no fix of a doctor document touches a system directory.
#[track_caller]
pub fn assert_no_fix_touches_a_system_dir(v: &serde_json::Value) {
    for f in v["findings"].as_array().expect("findings") {
        let fix = f["fix"].as_str().unwrap_or_default();
        assert_eq!(touches_system_dir(fix), None, "{f:#}");
    }
}
