//! The corpus: real services from Debian 12 packages in their stock
//! configuration, moved as-is into hardened-shape images (no shell, no
//! package manager, uid 65532), the way a team migrating to distroless or
//! Docker Hardened Images does it. `doctor` is judged on these.
//!
//! Every package comes from one `apt-get download` (cached under the
//! fixture cache); `dpkg-deb -x` unpacks it, so no maintainer script runs:
//! what a postinst would add (users, the `sites-enabled` link, `/var/www`)
//! is added here when, and only when, a build stage would have it. The
//! base is what a distroless base has: `/etc/passwd` with root and nonroot,
//! `/tmp` 1777, `/home/nonroot`, and `/run` (root, 0755) with `/var/run`
//! pointing at it.
//!
//! Some services come in steps: the stock image, then the same image with
//! exactly the fix `doctor` gave for the previous step applied (the `FIX_*`
//! constants are those lines, asserted in the tests), until it runs. Each
//! step fails on the next real cause, which is how a fix is accepted: the
//! crash moves on, or the service runs.

use std::fs;
use std::path::{Path, PathBuf};

use super::{
    GROUP, NONROOT, PASSWD, Rootfs, cache_dir, debs, docker, ensure_image, short_hash, unpack_deb,
};

const BASE_LIBS: &[&str] = &[
    "libc6",
    "libgcc-s1",
    "libcrypt1",
    "libpcre2-8-0",
    "libssl3",
    "zlib1g",
];
const SYSTEMD_LIBS: &[&str] = &[
    "libsystemd0",
    "libcap2",
    "libgcrypt20",
    "libgpg-error0",
    "liblz4-1",
    "liblzma5",
    "libzstd1",
];
const KRB_LDAP_LIBS: &[&str] = &[
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libkrb5support0",
    "libcom-err2",
    "libkeyutils1",
    "libldap-2.5-0",
    "libsasl2-2",
    "libsasl2-modules-db",
    "libdb5.3",
    "libgnutls30",
    "libp11-kit0",
    "libffi8",
    "libidn2-0",
    "libunistring2",
    "libtasn1-6",
    "libnettle8",
    "libhogweed6",
    "libgmp10",
];

/// Every package of the corpus, downloaded at once: the groups below.
fn all_packages() -> Vec<&'static str> {
    let mut all: Vec<&str> = [
        BASE_LIBS,
        SYSTEMD_LIBS,
        KRB_LDAP_LIBS,
        NGINX,
        HAPROXY,
        UNBOUND,
        POSTGRES,
        &["dash"],
        CURL,
        PYTHON,
        &["tzdata"],
    ]
    .concat();
    all.sort_unstable();
    all.dedup();
    all
}

/// The .deb files of `packages`, from the corpus download.
fn pick(packages: &[&[&str]]) -> Vec<PathBuf> {
    let every = all_packages();
    let key = short_hash(&[every.join("\n").as_bytes()]);
    let all = debs(&format!("debs-corpus-{key}"), &every);
    let mut out = Vec::new();
    for name in packages.iter().flat_map(|p| p.iter()) {
        let deb = all
            .iter()
            .find(|d| {
                d.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{name}_")))
            })
            .unwrap_or_else(|| panic!("{name} is not in the corpus download"));
        if !out.contains(deb) {
            out.push(deb.clone());
        }
    }
    out
}

/// One image of the corpus.
pub struct Spec<'a> {
    /// `nosh-fixture-corpus-NAME`.
    pub name: &'a str,
    pub packages: &'a [&'a [&'a str]],
    /// Lines added to /etc/passwd and /etc/group (a build stage's users).
    pub passwd: &'a str,
    pub group: &'a str,
    /// Directories given to an owner: (path, uid, gid, mode).
    pub owned: &'a [(&'a str, u32, u32, u32)],
    /// Changes to the unpacked tree before it is packed, as a list of
    /// (file, from, to) text replacements in configuration files, then
    /// (link, target) symbolic links and (path, contents) files.
    pub edits: &'a [(&'a str, &'a str, &'a str)],
    pub links: &'a [(&'a str, &'a str)],
    pub files: &'a [(&'a str, &'a str)],
    /// Left out of the image (other programs of the same package).
    pub remove: &'a [&'a str],
    /// Dockerfile-style instructions (USER, ENTRYPOINT, ...).
    pub changes: &'a [&'a str],
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file.trim_start_matches('/'));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.contains(from), "{file} has no {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).expect("edit config");
}

/// The unpacked root of `spec`, edited, with its extra entries (`extra`
/// adds entries of its own, e.g. a data directory from a build stage).
fn rootfs(spec: &Spec, extra: impl FnOnce(&mut Rootfs)) -> Vec<u8> {
    let debs = pick(spec.packages);
    let work = tempfile::Builder::new()
        .prefix("corpus-rootfs-")
        .tempdir_in(cache_dir())
        .expect("temp dir");
    let root = work.path().join("root");
    fs::create_dir(&root).expect("create rootfs dir");
    for deb in &debs {
        unpack_deb(deb, &root);
    }
    for path in [
        "usr/share/doc",
        "usr/share/man",
        "usr/share/lintian",
        "usr/share/locale",
        "usr/lib/x86_64-linux-gnu/gconv",
    ]
    .iter()
    .chain(spec.remove)
    {
        let p = root.join(path);
        let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
    }
    for (file, from, to) in spec.edits {
        edit(&root, file, from, to);
    }
    for (link, target) in spec.links {
        std::os::unix::fs::symlink(target, root.join(link.trim_start_matches('/'))).expect("link");
    }
    let shells: Vec<PathBuf> = [
        "bin/sh",
        "bin/dash",
        "bin/bash",
        "usr/bin/sh",
        "usr/bin/dash",
    ]
    .iter()
    .map(|s| root.join(s))
    .filter(|p| p.exists() || p.is_symlink())
    .collect();
    let build_stage = spec.packages.iter().any(|p| p.contains(&"dash"));
    assert!(
        build_stage || shells.is_empty(),
        "a shell came with the packages: {shells:?}"
    );
    let mut fs = Rootfs::new();
    // Owned directories first: the tree's own entries for them are skipped.
    for (dir, uid, gid, mode) in spec.owned {
        fs.dir(dir, *uid, *gid, *mode);
    }
    fs.dir("run", 0, 0, 0o755);
    fs.tree(&root);
    if !root.join("var/run").exists() {
        fs.symlink("var/run", "/run");
    }
    fs.file(
        "etc/passwd",
        format!("{PASSWD}{}", spec.passwd).as_bytes(),
        0,
        0,
        0o644,
    )
    .file(
        "etc/group",
        format!("{GROUP}{}", spec.group).as_bytes(),
        0,
        0,
        0o644,
    )
    .dir("root", 0, 0, 0o700)
    .dir("home/nonroot", NONROOT, NONROOT, 0o755)
    .dir("tmp", 0, 0, 0o1777);
    for (path, contents) in spec.files {
        let mode = if contents.starts_with("#!") {
            0o755
        } else {
            0o644
        };
        fs.file(path, contents.as_bytes(), 0, 0, mode);
    }
    extra(&mut fs);
    fs.into_tar()
}

/// The key of `spec`: everything that goes into it. Bump `CORPUS_VERSION`
/// when the assembly above changes in a way the spec does not show.
fn key(spec: &Spec, more: &[u8]) -> String {
    const CORPUS_VERSION: &[u8] = b"corpus-v1";
    let names: Vec<String> = pick(spec.packages)
        .iter()
        .filter_map(|d| d.file_name()?.to_str().map(str::to_owned))
        .collect();
    let text = format!(
        "{names:?}{}{}{:?}{:?}{:?}{:?}{:?}{:?}",
        spec.passwd,
        spec.group,
        spec.owned,
        spec.edits,
        spec.links,
        spec.files,
        spec.remove,
        spec.changes
    );
    short_hash(&[CORPUS_VERSION, PASSWD.as_bytes(), text.as_bytes(), more])
}

/// The image of `spec`, built once and kept in the engine.
pub fn image(spec: &Spec) -> String {
    let key = key(spec, b"");
    ensure_image(&format!("corpus-{}", spec.name), &key, spec.changes, || {
        rootfs(spec, |_| {})
    })
}

// ---------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------

const NGINX: &[&str] = &["nginx", "nginx-common"];
const NGINX_ENTRY: &str = r#"ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]"#;

/// The fixes doctor gives for the steps of nginx, applied in the next.
pub const FIX_NGINX_TEMP: &str = "RUN chown 65532:65532 /var/lib/nginx";
pub const FIX_NGINX_LOGS: &str = "RUN chown 65532:65532 /var/log/nginx";
pub const FIX_NGINX_PID: &str = "RUN mkdir -p /run/nginx && chown 65532:65532 /run/nginx";
pub const FIX_NGINX_PID_FILE: &str = "/run/nginx/nginx.pid";

/// nginx in its stock configuration, as the package and its postinst leave
/// it (the default site enabled, /var/www/html), as 65532, after the first
/// `fixes` of doctor's (0 to 3): its temp directories' parent given to the
/// app, then its log directory, then a pid file directory of its own. With
/// all three and `port8080` (the privileged-port fix) it is healthy.
pub fn nginx(fixes: usize, port8080: bool) -> String {
    let mut owned: Vec<(&str, u32, u32, u32)> = Vec::new();
    let mut edits: Vec<(&str, &str, &str)> = Vec::new();
    if fixes >= 1 {
        owned.push(("var/lib/nginx", NONROOT, NONROOT, 0o755));
    }
    if fixes >= 2 {
        owned.push(("var/log/nginx", NONROOT, NONROOT, 0o755));
    }
    if fixes >= 3 {
        owned.push(("run/nginx", NONROOT, NONROOT, 0o755));
        edits.push((
            "/etc/nginx/nginx.conf",
            "pid /run/nginx.pid;",
            "pid /run/nginx/nginx.pid;",
        ));
    }
    if port8080 {
        edits.push((
            "/etc/nginx/sites-available/default",
            "listen 80 default_server;",
            "listen 8080 default_server;",
        ));
        edits.push((
            "/etc/nginx/sites-available/default",
            "listen [::]:80 default_server;",
            "listen [::]:8080 default_server;",
        ));
    }
    let expose = if port8080 {
        "EXPOSE 8080/tcp"
    } else {
        "EXPOSE 80/tcp"
    };
    let name = format!("nginx-{fixes}{}", if port8080 { "-8080" } else { "" });
    image(&Spec {
        name: &name,
        packages: &[NGINX, BASE_LIBS],
        passwd: "",
        group: "",
        owned: &owned,
        edits: &edits,
        links: &[(
            "/etc/nginx/sites-enabled/default",
            "/etc/nginx/sites-available/default",
        )],
        files: &[(
            "var/www/html/index.nginx-debian.html",
            "<html>nginx</html>\n",
        )],
        remove: &[],
        changes: &["USER 65532:65532", expose, NGINX_ENTRY],
    })
}

/// A docker-library style `docker-entrypoint.sh` (for /bin/sh) in front of
/// the healthy nginx: the script a team copies from the image it left.
pub fn nginx_with_entrypoint_script() -> String {
    const SCRIPT: &str = "#!/bin/sh\n# docker-library style: set up, then exec the server.\nset -e\nif [ \"$1\" = 'nginx' ]; then\n    mkdir -p /var/lib/nginx/body\nfi\nexec \"$@\"\n";
    image(&Spec {
        name: "nginx-entrypoint-script",
        packages: &[NGINX, BASE_LIBS],
        passwd: "",
        group: "",
        owned: &[
            ("var/lib/nginx", NONROOT, NONROOT, 0o755),
            ("var/log/nginx", NONROOT, NONROOT, 0o755),
            ("run/nginx", NONROOT, NONROOT, 0o755),
        ],
        edits: &[
            (
                "/etc/nginx/nginx.conf",
                "pid /run/nginx.pid;",
                "pid /run/nginx/nginx.pid;",
            ),
            (
                "/etc/nginx/sites-available/default",
                "listen 80 default_server;",
                "listen 8080 default_server;",
            ),
            (
                "/etc/nginx/sites-available/default",
                "listen [::]:80 default_server;",
                "listen [::]:8080 default_server;",
            ),
        ],
        links: &[(
            "/etc/nginx/sites-enabled/default",
            "/etc/nginx/sites-available/default",
        )],
        files: &[("docker-entrypoint.sh", SCRIPT)],
        remove: &[],
        changes: &[
            "USER 65532:65532",
            "EXPOSE 8080/tcp",
            r#"ENTRYPOINT ["/docker-entrypoint.sh"]"#,
            r#"CMD ["nginx", "-g", "daemon off;"]"#,
        ],
    })
}

// ---------------------------------------------------------------------------
// haproxy
// ---------------------------------------------------------------------------

const HAPROXY: &[&str] = &[
    "haproxy",
    "liblua5.3-0",
    "libopentracing-c-wrapper0",
    "libopentracing1",
    "libstdc++6",
];
const UNBOUND: &[&str] = &[
    "unbound",
    "libevent-2.1-7",
    "libnghttp2-14",
    "libprotobuf-c1",
    "libpython3.11",
    "libexpat1",
];
const HAPROXY_ENTRY: &str =
    r#"ENTRYPOINT ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg"]"#;

pub const FIX_HAPROXY_USER: [&str; 2] = [
    "`user haproxy` (/etc/haproxy/haproxy.cfg:7)",
    "`group haproxy` (/etc/haproxy/haproxy.cfg:8)",
];
pub const FIX_HAPROXY_RUN: &str = "RUN mkdir -p /run/haproxy && chown 65532:65532 /run/haproxy";
pub const FIX_HAPROXY_CHROOT: &str = "`chroot /var/lib/haproxy` (/etc/haproxy/haproxy.cfg:4)";

/// haproxy in its stock configuration (chroot, user and group, a stats
/// socket under /run/haproxy, logs to /dev/log) as 65532 in an image with
/// the distroless passwd, after the first `fixes` of doctor's (0 to 3):
/// the user and group lines removed, the socket's directory created for
/// the app, the chroot line removed. With all three it runs.
pub fn haproxy(fixes: usize) -> String {
    let mut edits: Vec<(&str, &str, &str)> = Vec::new();
    let mut owned: Vec<(&str, u32, u32, u32)> = Vec::new();
    if fixes >= 1 {
        edits.push(("/etc/haproxy/haproxy.cfg", "\tuser haproxy\n", ""));
        edits.push(("/etc/haproxy/haproxy.cfg", "\tgroup haproxy\n", ""));
    }
    if fixes >= 2 {
        owned.push(("run/haproxy", NONROOT, NONROOT, 0o755));
    }
    if fixes >= 3 {
        edits.push((
            "/etc/haproxy/haproxy.cfg",
            "\tchroot /var/lib/haproxy\n",
            "",
        ));
    }
    image(&Spec {
        name: &format!("haproxy-{fixes}"),
        packages: &[HAPROXY, BASE_LIBS, SYSTEMD_LIBS],
        passwd: "",
        group: "",
        owned: &owned,
        edits: &edits,
        links: &[],
        files: &[],
        remove: &[],
        changes: &["USER 65532:65532", HAPROXY_ENTRY],
    })
}

// ---------------------------------------------------------------------------
// unbound
// ---------------------------------------------------------------------------

/// unbound in its stock configuration with /etc/passwd from a Debian build
/// stage (the `unbound` user its postinst adds), its control socket moved
/// to a directory of the app's own (doctor's fix for /run/unbound.ctl),
/// run with an IPv6 loopback as Kubernetes pods have: its compiled-in
/// `username: "unbound"` makes it switch users, which fails with EPERM
/// (setgroups, setresgid) and nothing in its log, which goes to syslog.
pub fn unbound() -> String {
    image(&Spec {
        name: "unbound",
        packages: &[UNBOUND, BASE_LIBS, SYSTEMD_LIBS],
        passwd: "unbound:x:101:101::/var/lib/unbound:/usr/sbin/nologin\n",
        group: "unbound:x:101:\n",
        owned: &[("run/unbound", NONROOT, NONROOT, 0o755)],
        edits: &[(
            "/etc/unbound/unbound.conf.d/remote-control.conf",
            "control-interface: /run/unbound.ctl",
            "control-interface: /run/unbound/unbound.ctl",
        )],
        links: &[],
        files: &[],
        remove: &[],
        changes: &[
            "USER 65532:65532",
            r#"ENTRYPOINT ["/usr/sbin/unbound", "-d", "-p"]"#,
        ],
    })
}

// ---------------------------------------------------------------------------
// postgresql
// ---------------------------------------------------------------------------

const POSTGRES: &[&str] = &[
    "postgresql-15",
    "libpq5",
    "libxml2",
    "libicu72",
    "libstdc++6",
    "libpam0g",
    "libaudit1",
    "libcap-ng0",
    "libselinux1",
];
/// Only the server and initdb of the package's programs.
const POSTGRES_REMOVE: &[&str] = &[
    "usr/lib/postgresql/15/lib/bitcode",
    "usr/lib/postgresql/15/lib/llvmjit.so",
    "usr/lib/postgresql/15/lib/llvmjit_types.bc",
    "usr/lib/postgresql/15/bin/pg_upgrade",
    "usr/lib/postgresql/15/bin/pgbench",
    "usr/lib/postgresql/15/bin/pg_rewind",
    "usr/lib/postgresql/15/bin/pg_waldump",
    "usr/lib/postgresql/15/bin/pg_checksums",
    "usr/lib/postgresql/15/bin/oid2name",
    "usr/lib/postgresql/15/bin/vacuumlo",
];
/// The uid the data directory was initialised by: the postgres user of the
/// docker-library images.
pub const POSTGRES_UID: u32 = 999;

/// PostgreSQL 15 whose data directory was initialised by `initdb` as uid
/// 999 in a build stage (with a shell, which initdb needs) and copied into
/// the shell-less image as it is, run as 65532: the server refuses to
/// start (exit 2, "could not access the server configuration file").
pub fn postgres_data_of_another_uid() -> String {
    let changes = [
        "USER 65532:65532",
        "ENV PGDATA=/var/lib/postgresql/data",
        r#"ENTRYPOINT ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data"]"#,
    ];
    let runtime = Spec {
        name: "postgres-datadir",
        packages: &[POSTGRES, BASE_LIBS, SYSTEMD_LIBS, KRB_LDAP_LIBS],
        passwd: "",
        group: "",
        owned: &[("var/lib/postgresql", POSTGRES_UID, POSTGRES_UID, 0o755)],
        edits: &[],
        links: &[],
        files: &[],
        remove: POSTGRES_REMOVE,
        changes: &changes,
    };
    let key = key(&runtime, b"initdb as 999");
    ensure_image("corpus-postgres-datadir", &key, &changes, || {
        let data = initdb_as(POSTGRES_UID);
        rootfs(&runtime, |fs| append_tar(fs, &data, "var/lib/postgresql/"))
    })
}

/// The build stage: the same packages plus dash, `initdb` run as `uid`,
/// and the data directory it made as a tar (owners kept).
fn initdb_as(uid: u32) -> Vec<u8> {
    let passwd = format!("postgres:x:{uid}:{uid}::/var/lib/postgresql:/bin/sh\n");
    let group = format!("postgres:x:{uid}:\n");
    let build = image(&Spec {
        name: "postgres-build",
        packages: &[POSTGRES, &["dash"], BASE_LIBS, SYSTEMD_LIBS, KRB_LDAP_LIBS],
        passwd: &passwd,
        group: &group,
        owned: &[("var/lib/postgresql", uid, uid, 0o755)],
        edits: &[],
        links: &[],
        files: &[],
        remove: POSTGRES_REMOVE,
        changes: &[],
    });
    let name = format!("nosh-test-initdb-{}", std::process::id());
    let _ = docker(&["rm", "-f", &name]);
    let out = docker(&[
        "run",
        "--name",
        &name,
        "--label",
        super::TEST_LABEL,
        "--user",
        &format!("{uid}:{uid}"),
        "--entrypoint",
        "/usr/lib/postgresql/15/bin/initdb",
        &build,
        "-D",
        "/var/lib/postgresql/data",
    ]);
    let copied = docker(&["cp", &format!("{name}:/var/lib/postgresql/data"), "-"]);
    let _ = docker(&["rm", "-f", &name]);
    assert!(
        out.status.success(),
        "initdb failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        copied.status.success(),
        "docker cp of the data directory failed"
    );
    copied.stdout
}

/// The entries of the tar `data` below `under`, with their owners and modes.
fn append_tar(fs: &mut Rootfs, data: &[u8], under: &str) {
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("tar entry");
        let h = entry.header().clone();
        let path = format!("{under}{}", entry.path().expect("path").display());
        let (uid, gid) = (h.uid().expect("uid") as u32, h.gid().expect("gid") as u32);
        let mode = h.mode().expect("mode") & 0o7777;
        match h.entry_type() {
            tar::EntryType::Directory => {
                fs.dir(&path, uid, gid, mode);
            }
            tar::EntryType::Regular => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read entry");
                fs.file(&path, &bytes, uid, gid, mode);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// curl, python
// ---------------------------------------------------------------------------

const CURL: &[&str] = &[
    "curl",
    "libcurl4",
    "libbrotli1",
    "libnghttp2-14",
    "libpsl5",
    "librtmp1",
    "libssh2-1",
    "libzstd1",
];

/// curl as a job that calls an HTTPS API (`https://api.internal/`) from an
/// image without a CA bundle: exit 77, "error setting certificate file".
pub fn curl_job() -> String {
    image(&Spec {
        name: "curl-job",
        packages: &[
            CURL,
            BASE_LIBS,
            KRB_LDAP_LIBS,
            &["libgcrypt20", "libgpg-error0"],
        ],
        passwd: "",
        group: "",
        owned: &[],
        edits: &[],
        links: &[],
        files: &[],
        remove: &[],
        changes: &[
            "USER 65532:65532",
            r#"ENTRYPOINT ["/usr/bin/curl", "-fsS", "https://api.internal/v1/reports"]"#,
        ],
    })
}

const PYTHON: &[&str] = &[
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libexpat1",
    "libffi8",
];

/// A report scheduler that prints the next run in its time zone (`TZ`,
/// through Python's zoneinfo).
pub const REPORT_APP: &str = r#""""report-scheduler: runs a report every night in the team's time zone."""
import os
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

zone = ZoneInfo(os.environ.get("TZ", "UTC"))
now = datetime.now(zone)
nxt = (now + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
print(f"report-scheduler: next run at {nxt.isoformat()}", flush=True)
while True:
    time.sleep(3600)
"#;

/// Python 3.11 with its standard library (zoneinfo among it) running
/// [`REPORT_APP`]; with `tzdata` the zone files are there.
pub fn python_report(tzdata: bool) -> String {
    let packages: Vec<&[&str]> = if tzdata {
        vec![PYTHON, BASE_LIBS, &["tzdata"]]
    } else {
        vec![PYTHON, BASE_LIBS]
    };
    image(&Spec {
        name: if tzdata {
            "python-report-tzdata"
        } else {
            "python-report"
        },
        packages: &packages,
        passwd: "",
        group: "",
        owned: &[],
        edits: &[],
        links: &[],
        files: &[("app/report.py", REPORT_APP)],
        remove: &[],
        changes: &[
            "USER 65532:65532",
            "WORKDIR /app",
            "ENV TZ=Europe/Paris",
            r#"ENTRYPOINT ["/usr/bin/python3.11", "/app/report.py"]"#,
        ],
    })
}
