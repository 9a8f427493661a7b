//! The one fix engine: `doctor`, `why` and `entrypoint` ask here what to do
//! about an access that fails, so one path gets one fix everywhere.
//!
//! The rules (DESIGN.md, "Diagnosis rules"):
//! - a write: give the app the nearest existing directory that is its own
//!   (never a system directory); when there is none, create the missing
//!   directory for it; a file that sits right in a system directory gets a
//!   directory of its own; a working directory that is a system directory
//!   gets a WORKDIR the app owns;
//! - a read of a file that is missing: copy it, or install its package, in
//!   the build stage (never an empty directory made for the app);
//! - a path that belongs to another non-root user: run as that user, or
//!   give the files to the app's;
//! - a read-only root: a tmpfs (an emptyDir) over the app's own directory.
//!
//! Every alternative is one line to paste into a Dockerfile or a `docker
//! run`; the first is the one to try.

use std::path::Path;

use crate::target::perm::{Access, Verdict};

/// Directories of the image's own tree: no fix chowns, chmods, creates or
/// mounts over one of these. Giving the app one breaks the image or hides
/// its files.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/include",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/local/lib",
    "/usr/local/share",
    "/usr/share",
    "/usr/src",
    "/etc",
    "/var",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/tmp",
    "/var/run",
    "/var/lock",
    "/var/mail",
    "/var/opt",
    "/var/local",
    "/var/backups",
    "/run",
    "/run/lock",
    "/tmp",
    "/home",
    "/root",
    "/opt",
    "/srv",
    "/mnt",
    "/media",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
];

/// Trees that belong to the image (or the kernel) all the way down.
const SYSTEM_TREES: &[&str] = &["/etc/", "/proc/", "/sys/", "/dev/", "/boot/"];

/// Whether `dir` is a system directory (see [`SYSTEM_DIRS`]): also anything
/// under /etc, and the multiarch library directories.
pub fn is_system_dir(dir: &str) -> bool {
    let d = if dir.len() > 1 {
        dir.trim_end_matches('/')
    } else {
        dir
    };
    SYSTEM_DIRS.contains(&d)
        || SYSTEM_TREES.iter().any(|t| d.starts_with(t))
        || ["/usr/lib/", "/lib/"].iter().any(|l| {
            d.strip_prefix(l)
                .is_some_and(|rest| rest.contains("-linux-"))
        })
}

/// Whether a path is a log the app writes: the engine could collect it.
pub fn looks_like_log(p: &str) -> bool {
    p.starts_with("/var/log/") || p.ends_with(".log") || p.contains("/log/") || p.contains("/logs/")
}

/// What kind of thing a path that does not exist yet is, as far as the
/// failure tells (`mkdir` makes a directory, `open` a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Unknown,
}

impl Kind {
    /// For a path nothing else tells about: a name with an extension
    /// (`app.log`, `nginx.pid`, `admin.sock`) is a file.
    pub fn guess(path: &str) -> Kind {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.contains('.') && !name.starts_with('.') {
            Kind::File
        } else {
            Kind::Unknown
        }
    }
}

/// What the engine needs besides the walk.
pub struct Context<'a> {
    /// The app's working directory.
    pub workdir: &'a str,
    /// The kind of the path, when it does not exist.
    pub kind: Kind,
}

/// The directory the fix gives the app (or the one it creates), and the
/// fixes, the first one to try first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fix {
    /// The directory the app gets: its own existing one, or one created
    /// for it. `None` for fixes that give no directory (a file to copy).
    pub directory: Option<String>,
    pub steps: Vec<String>,
}

impl Fix {
    /// The fixes as one line, alternatives joined by "; or ".
    pub fn line(&self) -> String {
        self.steps.join("; or ")
    }
}

fn parent(path: &str) -> String {
    Path::new(path)
        .parent()
        .and_then(|p| p.to_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .to_string()
}

/// A directory of the app's own beside a file it wants in a system
/// directory: `/run/nginx.pid` → `/run/nginx`.
fn own_dir_for(file: &str) -> String {
    let dir = parent(file);
    let name = file.rsplit('/').next().unwrap_or(file);
    let stem = name
        .trim_start_matches('.')
        .split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("app");
    format!("{}/{stem}", dir.trim_end_matches('/'))
}

/// `RUN mkdir -p DIR && chown UID:GID DIR`.
pub fn create_for_app(dir: &str, uid: u32, gid: u32) -> String {
    format!("RUN mkdir -p {dir} && chown {uid}:{gid} {dir}")
}

/// The fixes for the denied (or failed) access the walk `v` describes.
pub fn for_verdict(v: &Verdict, cx: &Context) -> Fix {
    let reason = v.deciding.as_ref().map(|d| d.reason.as_str()).unwrap_or("");
    // The walk stops at the component that denies: only a component it
    // found missing says the path is missing.
    let missing = v.components.iter().any(|c| !c.exists);
    if reason.contains("noexec mount") {
        let mount = v
            .components
            .iter()
            .rev()
            .find(|c| c.mount_flags.iter().any(|f| f == "noexec"))
            .map_or("/", |c| c.mount.as_str());
        return Fix {
            directory: None,
            steps: vec![format!(
                "the mount at {mount} is noexec: run the program from another filesystem, or mount it without noexec"
            )],
        };
    }
    match v.access {
        Access::Write => write(v, cx, reason.contains("read-only mount")),
        Access::Read | Access::Exec if missing => Fix {
            directory: None,
            steps: missing_file(&v.path),
        },
        Access::Read => read(v),
        Access::Exec => exec(v),
    }
}

/// The component the walk stopped at that belongs to another non-root
/// user than the app's: (path, uid, gid).
fn foreign_owner(v: &Verdict) -> Option<(String, u32, u32)> {
    let d = v.deciding.as_ref()?;
    let c = v.components.iter().find(|c| c.path == d.path && c.exists)?;
    (c.uid != 0 && c.uid != v.identity.uid).then(|| (c.path.clone(), c.uid, c.gid))
}

/// Files prepared for one base image's user, run as another's: run as
/// the owner, or give them to the app.
pub fn foreign_owner_steps(path: &str, owner: (u32, u32), app: (u32, u32)) -> Vec<String> {
    let (ouid, ogid) = owner;
    let (uid, gid) = app;
    vec![
        format!("run as the owner: USER {ouid}:{ogid} (docker run --user {ouid}:{ogid})"),
        format!(
            "give the files to the app's user: RUN chown -R {uid}:{gid} {path} (or COPY --chown={uid}:{gid})"
        ),
    ]
}

fn write(v: &Verdict, cx: &Context, readonly: bool) -> Fix {
    let uid = v.identity.uid;
    let gid = v.identity.gid;
    let path = v.path.as_str();
    let log = looks_like_log(path);
    let mut fix = Fix::default();
    if let Some((owned, ouid, ogid)) = foreign_owner(v).filter(|_| !readonly) {
        fix.directory = Some(owned.clone());
        fix.steps = foreign_owner_steps(&owned, (ouid, ogid), (uid, gid));
        return fix;
    }
    let last = v.components.last();
    let exists = last.is_some_and(|c| c.exists && c.path == path);
    let is_dir = exists && last.is_some_and(|c| c.kind == "directory");
    // The directory that must be writable, and whether it exists: the path
    // itself for a directory, else the file's directory.
    let kind = if exists {
        if is_dir { Kind::Dir } else { Kind::File }
    } else {
        cx.kind
    };
    // A missing path of unknown kind is a directory to create, as a
    // missing directory is what most often makes a write fail.
    let wanted = if kind != Kind::File {
        path.to_string()
    } else {
        parent(path)
    };
    let nearest = v
        .components
        .iter()
        .rev()
        .find(|c| {
            c.exists && c.kind == "directory" && (c.path == wanted || is_ancestor(&c.path, &wanted))
        })
        .map(|c| c.path.clone())
        .unwrap_or_else(|| "/".into());
    // 1. The app's own directory exists: give it that one. 2. The
    // directory it wants is missing below a system directory: create it.
    // 3. It wants a system directory itself: its working directory gets a
    // WORKDIR it owns, a file a directory of its own beside.
    // A temporary directory holds nothing of the image: a tmpfs over it
    // is the usual answer.
    if readonly && TEMP_DIRS.contains(&wanted.as_str()) {
        fix.directory = Some(wanted.clone());
        fix.steps.push(format!(
            "docker run --tmpfs {wanted} (or a Kubernetes emptyDir at {wanted})"
        ));
        return with_log_first(fix, log);
    }
    let (dir, create) = if !is_system_dir(&nearest) {
        (nearest, false)
    } else if nearest != wanted && !is_system_dir(&wanted) {
        (wanted, true)
    } else {
        // A new directory of the app's own, created for it (and, on a
        // read-only root, a tmpfs there).
        let (own, step) = if wanted == cx.workdir || wanted == "/" {
            let own = "/app/data".to_string();
            let step = format!(
                "give the app a WORKDIR it owns: {} and WORKDIR /app/data (or point the app's own data-directory option there)",
                create_for_app(&own, uid, gid)
            );
            (own, step)
        } else if kind == Kind::Dir || is_system_dir(&own_dir_for(path)) {
            let own = "/app/data".to_string();
            let step = format!(
                "point the app at a directory it owns instead of {wanted}: {} (its own data-directory option)",
                create_for_app(&own, uid, gid)
            );
            (own, step)
        } else {
            let own = own_dir_for(path);
            let file = format!("{own}/{}", path.rsplit('/').next().unwrap_or(path));
            let step = format!(
                "give the app a directory of its own instead of writing in {wanted}: {} and point the app's file there ({file})",
                create_for_app(&own, uid, gid)
            );
            (own, step)
        };
        fix.steps.push(step);
        if readonly {
            fix.steps.push(format!(
                "with a read-only root, mount a tmpfs there: {}",
                tmpfs(&own, uid, gid)
            ));
        }
        fix.directory = Some(own);
        return with_log_first(fix, log);
    };
    fix.directory = Some(dir.clone());
    if readonly {
        fix.steps.push(tmpfs(&dir, uid, gid));
        if create {
            fix.steps.push(create_for_app(&dir, uid, gid));
        }
    } else if create {
        fix.steps.push(format!(
            "create it for the app: {}",
            create_for_app(&dir, uid, gid)
        ));
        fix.steps.push(volume(&dir));
    } else {
        // Everything already below it (a file the app must rewrite) goes
        // with it.
        let below = v
            .components
            .iter()
            .any(|c| c.exists && is_ancestor(&dir, &c.path));
        fix.steps.push(format!(
            "give the app its directory: RUN chown {}{uid}:{gid} {dir} (or COPY --chown={uid}:{gid})",
            if below { "-R " } else { "" }
        ));
        fix.steps.push(volume(&dir));
    }
    with_log_first(fix, log)
}

/// Temporary directories: a tmpfs over them hides nothing of the image.
const TEMP_DIRS: [&str; 2] = ["/tmp", "/var/tmp"];

/// `docker run --tmpfs DIR:uid=U,gid=G` (or an emptyDir).
pub fn tmpfs(dir: &str, uid: u32, gid: u32) -> String {
    format!("docker run --tmpfs {dir}:uid={uid},gid={gid} (or a Kubernetes emptyDir at {dir})")
}

/// The fix for a path the app writes on a root filesystem that is (or
/// will be) read-only: a tmpfs over its own directory.
pub fn for_readonly_root(v: &Verdict, cx: &Context) -> Fix {
    write(v, cx, true)
}

fn volume(dir: &str) -> String {
    format!("mount a writable volume at {dir} (docker run -v DATA:{dir}, or a Kubernetes emptyDir)")
}

fn with_log_first(mut fix: Fix, log: bool) -> Fix {
    if log {
        fix.steps.insert(
            0,
            "log to stdout/stderr instead of a file (the engine collects it)".into(),
        );
    }
    fix
}

/// `a` is a proper ancestor directory of `b`.
fn is_ancestor(a: &str, b: &str) -> bool {
    a != b && (a == "/" || b.strip_prefix(a).is_some_and(|r| r.starts_with('/')))
}

fn read(v: &Verdict) -> Fix {
    let uid = v.identity.uid;
    let gid = v.identity.gid;
    if let Some((owned, ouid, ogid)) = foreign_owner(v) {
        return Fix {
            directory: Some(owned.clone()),
            steps: foreign_owner_steps(&owned, (ouid, ogid), (uid, gid)),
        };
    }
    let Some(d) = &v.deciding else {
        return Fix::default();
    };
    let is_dir = v
        .components
        .iter()
        .find(|c| c.path == d.path)
        .is_some_and(|c| c.kind == "directory");
    let mut steps = Vec::new();
    if d.path == v.path {
        steps.push(format!(
            "make it readable by uid {uid} in the build stage: COPY --chown={uid}:{gid} {p} {p}, or RUN chmod o+r{} {p}",
            if is_dir { "x" } else { "" },
            p = d.path
        ));
    } else {
        steps.push(format!(
            "{} blocks every path below it: RUN chmod o+x {} in the build stage",
            d.path, d.path
        ));
    }
    Fix {
        directory: None,
        steps,
    }
}

fn exec(v: &Verdict) -> Fix {
    let Some(d) = &v.deciding else {
        return Fix::default();
    };
    let is_dir = v
        .components
        .iter()
        .find(|c| c.path == d.path)
        .is_some_and(|c| c.kind == "directory");
    let step = if d.path != v.path || is_dir {
        format!(
            "RUN chmod o+x {} in the build stage so uid {} can pass through it",
            d.path, v.identity.uid
        )
    } else if d.reason.contains("not a regular file") {
        format!(
            "{} is not a program: point ENTRYPOINT at the program itself",
            d.path
        )
    } else {
        format!(
            "RUN chmod +x {} in the build stage (or COPY --chmod=755)",
            d.path
        )
    };
    Fix {
        directory: None,
        steps: vec![step],
    }
}

/// Where the CA bundle lives on the common distributions.
pub const CA_PATHS: [&str; 4] = [
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
    "/etc/ssl/cert.pem",
    "/etc/pki/tls/cert.pem",
];

/// Whether `path` is (in) a CA certificate location.
pub fn is_ca_path(path: &str) -> bool {
    CA_PATHS
        .iter()
        .any(|c| path == *c || path.strip_prefix(c).is_some_and(|r| r.starts_with('/')))
}

/// Whether `path` is time zone data.
pub fn is_zone_path(path: &str) -> bool {
    path == "/etc/localtime"
        || path == "/usr/share/zoneinfo"
        || path.starts_with("/usr/share/zoneinfo/")
}

/// The fix for the CA bundle the app reads and the image lacks.
pub fn ca_bundle_steps() -> Vec<String> {
    vec![
        "COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates in the build stage)".into(),
        "use a base image that has the CA certificates (distroless static or base)".into(),
    ]
}

/// The fix for a zone file (or all of them) the app reads and the image
/// lacks.
pub fn zone_steps(file: &str) -> Vec<String> {
    let mut steps = Vec::new();
    if file.starts_with("/usr/share/zoneinfo/") {
        steps.push(format!(
            "COPY --from=build {file} {file} (apt-get install tzdata in the build stage)"
        ));
    }
    steps.push(
        "COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo (all zones, from tzdata)".into(),
    );
    steps.push("use a base image with tzdata (distroless base)".into());
    steps
}

/// A file the app reads and the image lacks: copy it, or install the
/// package that has it, in the build stage. Never a directory made for it.
pub fn missing_file(path: &str) -> Vec<String> {
    if is_ca_path(path) {
        return ca_bundle_steps();
    }
    if is_zone_path(path) {
        return zone_steps(path);
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.contains(".so") {
        return vec![crate::target::libs::missing_library_fix(
            name,
            &parent(path),
        )];
    }
    vec![format!(
        "COPY --from=build {path} {path} (in the build stage, `dpkg -S {path}` names the package that has it)"
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::perm::{Component, Deciding, Who};

    /// A walk of `path` as uid 65532: `dirs` are the existing components
    /// after `/` as (path, owner uid); `missing` the first one missing;
    /// the last existing one (or the missing one) decides.
    fn walk(
        path: &str,
        access: Access,
        dirs: &[(&str, u32)],
        missing: Option<&str>,
        ro: bool,
    ) -> Verdict {
        let comp = |p: &str, uid: u32, exists: bool, kind: &str| Component {
            path: p.into(),
            kind: kind.into(),
            owner: String::new(),
            uid,
            group: String::new(),
            gid: uid,
            mode: "drwxr-xr-x".into(),
            acl: None,
            mount: "/".into(),
            mount_flags: if ro { vec!["ro".into()] } else { Vec::new() },
            need: "search".into(),
            ok: true,
            class: "other".into(),
            symlink_to: None,
            exists,
        };
        let mut components = vec![comp("/", 0, true, "directory")];
        for (d, uid) in dirs {
            let kind = if *d == path && access == Access::Read {
                "file"
            } else {
                "directory"
            };
            components.push(comp(d, *uid, true, kind));
        }
        if let Some(m) = missing {
            components.push(comp(m, 0, false, "missing"));
        }
        let decider = components.last().unwrap().path.clone();
        let reason = if ro {
            format!("{decider} is on a read-only mount (/, overlay)")
        } else if missing.is_some() {
            format!("{decider} cannot be reached: No such file or directory")
        } else {
            format!(
                "{decider} is a directory root:root 0755; uid 65532 falls under others, which lacks 'w' (write+search)"
            )
        };
        Verdict {
            path: path.into(),
            access,
            allowed: false,
            identity: Who {
                uid: 65532,
                gid: 65532,
                groups: vec![65532],
            },
            deciding: Some(Deciding {
                path: decider,
                owner: "root".into(),
                group: "root".into(),
                mode: "0755".into(),
                reason,
            }),
            components,
            fixes: Vec::new(),
            note: None,
        }
    }

    fn fix_for(v: &Verdict, workdir: &str, kind: Kind) -> Fix {
        for_verdict(v, &Context { workdir, kind })
    }

    /// The system directory a fix would chown, chmod, create or mount
    /// over, if any (a tmpfs over a temporary directory is fine).
    fn absurd(fix: &str) -> Option<String> {
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
                let target = arg.split(':').find(|p| p.starts_with('/')).unwrap_or(arg);
                if is_system_dir(target) && !(*w == "--tmpfs" && TEMP_DIRS.contains(&target)) {
                    return Some(format!("{w} {target}"));
                }
            }
        }
        None
    }

    #[test]
    fn a_temp_dir_of_the_app_s_own_directory_gives_the_app_that_directory() {
        // nginx: mkdir("/var/lib/nginx/body") under a root-owned /var/lib/nginx.
        let v = walk(
            "/var/lib/nginx/body",
            Access::Write,
            &[("/var", 0), ("/var/lib", 0), ("/var/lib/nginx", 0)],
            None,
            false,
        );
        let f = fix_for(&v, "/", Kind::Dir);
        assert_eq!(f.directory.as_deref(), Some("/var/lib/nginx"));
        assert!(
            f.steps[0].contains("RUN chown 65532:65532 /var/lib/nginx "),
            "{f:?}"
        );
        assert!(!f.line().contains("mkdir"), "{f:?}");
        // The same, read-only: a tmpfs over the app's directory.
        let v = walk(
            "/var/lib/nginx/body",
            Access::Write,
            &[("/var", 0), ("/var/lib", 0), ("/var/lib/nginx", 0)],
            None,
            true,
        );
        let f = fix_for(&v, "/", Kind::Dir);
        assert!(
            f.steps[0].starts_with("docker run --tmpfs /var/lib/nginx:uid=65532,gid=65532"),
            "{f:?}"
        );
    }

    #[test]
    fn a_missing_directory_below_a_system_directory_is_created_for_the_app() {
        let v = walk(
            "/var/log/claims/app.log",
            Access::Write,
            &[("/var", 0), ("/var/log", 0)],
            Some("/var/log/claims"),
            false,
        );
        let f = fix_for(&v, "/app", Kind::File);
        assert_eq!(f.directory.as_deref(), Some("/var/log/claims"));
        assert!(f.steps[0].starts_with("log to stdout/stderr"), "{f:?}");
        assert!(
            f.line()
                .contains("RUN mkdir -p /var/log/claims && chown 65532:65532 /var/log/claims"),
            "{f:?}"
        );
        let v = walk(
            "/run/haproxy/admin.sock",
            Access::Write,
            &[("/run", 0)],
            Some("/run/haproxy"),
            false,
        );
        let f = fix_for(&v, "/", Kind::File);
        assert!(
            f.steps[0].contains("RUN mkdir -p /run/haproxy && chown 65532:65532 /run/haproxy"),
            "{f:?}"
        );
    }

    #[test]
    fn a_file_right_in_a_system_directory_gets_a_directory_of_its_own() {
        let v = walk("/run/nginx.pid", Access::Write, &[("/run", 0)], None, false);
        let f = fix_for(&v, "/", Kind::File);
        assert_eq!(f.directory.as_deref(), Some("/run/nginx"));
        assert!(
            f.steps[0].contains("RUN mkdir -p /run/nginx && chown 65532:65532 /run/nginx"),
            "{f:?}"
        );
        assert!(f.steps[0].contains("(/run/nginx/nginx.pid)"), "{f:?}");
        assert_eq!(absurd(&f.line()), None);
    }

    #[test]
    fn a_root_owned_working_directory_gets_a_workdir_the_app_owns() {
        let v = walk("/app.log", Access::Write, &[], None, false);
        let f = fix_for(&v, "/", Kind::File);
        assert!(f.line().contains("WORKDIR /app/data"), "{f:?}");
        assert!(
            f.line()
                .contains("RUN mkdir -p /app/data && chown 65532:65532 /app/data"),
            "{f:?}"
        );
    }

    #[test]
    fn an_existing_directory_of_the_app_is_given_to_it() {
        let v = walk(
            "/var/log/claims-api/app.log",
            Access::Write,
            &[("/var", 0), ("/var/log", 0), ("/var/log/claims-api", 0)],
            None,
            false,
        );
        let f = fix_for(&v, "/app", Kind::File);
        assert!(
            f.line()
                .contains("RUN chown 65532:65532 /var/log/claims-api"),
            "{f:?}"
        );
        assert!(
            f.line().contains("writable volume at /var/log/claims-api"),
            "{f:?}"
        );
    }

    #[test]
    fn files_of_another_user_are_run_as_that_user_or_given_to_the_app() {
        let v = walk(
            "/var/lib/postgresql/data/postgresql.conf",
            Access::Read,
            &[
                ("/var", 0),
                ("/var/lib", 0),
                ("/var/lib/postgresql", 999),
                ("/var/lib/postgresql/data", 999),
            ],
            None,
            false,
        );
        let f = fix_for(&v, "/", Kind::File);
        assert!(f.steps[0].contains("USER 999:999"), "{f:?}");
        assert!(
            f.steps[1].contains("chown -R 65532:65532 /var/lib/postgresql/data"),
            "{f:?}"
        );
    }

    #[test]
    fn no_fix_touches_a_system_directory() {
        for sys in SYSTEM_DIRS {
            for ro in [false, true] {
                for (workdir, kind) in [
                    ("/", Kind::Dir),
                    ("/app", Kind::File),
                    (*sys, Kind::Unknown),
                ] {
                    let mut dirs: Vec<(&str, u32)> = Vec::new();
                    let mut acc = String::new();
                    let parts: Vec<String> = sys
                        .split('/')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            acc.push('/');
                            acc.push_str(p);
                            acc.clone()
                        })
                        .collect();
                    for p in &parts {
                        dirs.push((p.as_str(), 0));
                    }
                    // The directory itself, and a file in it.
                    for path in [
                        sys.to_string(),
                        format!("{}/app.log", sys.trim_end_matches('/')),
                    ] {
                        let v = walk(&path, Access::Write, &dirs, None, ro);
                        let f = fix_for(&v, workdir, kind);
                        assert_eq!(absurd(&f.line()), None, "{path} ro={ro}: {}", f.line());
                    }
                }
            }
        }
        assert_eq!(
            absurd("RUN chown 65532:65532 /").as_deref(),
            Some("chown /")
        );
        assert_eq!(
            absurd("docker run -v DATA:/var").as_deref(),
            Some("-v /var")
        );
    }

    #[test]
    fn system_directories_are_the_image_s_tree() {
        for d in [
            "/",
            "/etc",
            "/etc/nginx",
            "/etc/ssl/certs",
            "/var/lib",
            "/run",
            "/tmp",
            "/usr/lib/x86_64-linux-gnu",
            "/var/log/",
        ] {
            assert!(is_system_dir(d), "{d}");
        }
        for d in [
            "/var/lib/nginx",
            "/var/log/nginx",
            "/run/haproxy",
            "/app",
            "/app/data",
            "/home/nonroot",
            "/srv/www",
        ] {
            assert!(!is_system_dir(d), "{d}");
        }
    }

    #[test]
    fn a_file_in_a_system_directory_gets_a_directory_named_after_it() {
        assert_eq!(own_dir_for("/run/nginx.pid"), "/run/nginx");
        assert_eq!(own_dir_for("/run/unbound.ctl"), "/run/unbound");
        assert_eq!(own_dir_for("/var/log/app.log"), "/var/log/app");
        assert_eq!(own_dir_for("/tmp/.lock"), "/tmp/lock");
    }

    #[test]
    fn missing_files_are_copied_from_the_build_stage_never_made_empty() {
        let f = missing_file("/etc/ssl/certs/ca-certificates.crt");
        assert!(
            f[0].contains("COPY --from=build /etc/ssl/certs/ca-certificates.crt"),
            "{f:?}"
        );
        let f = missing_file("/usr/share/zoneinfo/Europe/Paris");
        assert!(
            f[0].contains("COPY --from=build /usr/share/zoneinfo/Europe/Paris"),
            "{f:?}"
        );
        let f = missing_file("/etc/app/app.conf");
        assert!(
            f[0].starts_with("COPY --from=build /etc/app/app.conf /etc/app/app.conf"),
            "{f:?}"
        );
        for step in [
            missing_file("/etc/ssl/certs/x.pem"),
            missing_file("/etc/app/app.conf"),
        ]
        .concat()
        {
            assert!(!step.contains("mkdir") && !step.contains("chown"), "{step}");
        }
    }
}
