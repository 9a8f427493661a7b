//! What the app's own last words say failed: paths named in failing-access
//! contexts (an errno text beside them), references to its configuration
//! (`[/etc/app/app.cfg:5]`), and the signatures of the failures that end a
//! program (a zone lookup, certificate verification, the loader, a user
//! switch, a privileged call).
//!
//! Log lines are the target's: bounded by the host (40 lines of at most
//! 400 characters) and never printed from here unescaped.

/// How an access failed, from the errno text beside the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    /// EACCES: "Permission denied".
    Denied,
    /// EPERM: "Operation not permitted".
    NotPermitted,
    /// EROFS: "Read-only file system".
    ReadOnly,
    /// ENOENT: "No such file or directory".
    Missing,
}

impl Errno {
    pub fn name(self) -> &'static str {
        match self {
            Errno::Denied => "EACCES",
            Errno::NotPermitted => "EPERM",
            Errno::ReadOnly => "EROFS",
            Errno::Missing => "ENOENT",
        }
    }
}

/// What the app tried, when the line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    /// Create or write a file (open for writing, a lock or pid file, a
    /// unix socket's bind).
    WriteFile,
    /// Create a directory (`mkdir`).
    MakeDir,
    Unknown,
}

/// One failed access a log line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub path: String,
    pub errno: Errno,
    pub op: Op,
    /// The index of the line in the tail.
    pub line: usize,
}

/// A `FILE:LINE` reference to the app's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRef {
    pub file: String,
    pub line: usize,
}

/// The kind of failure that ends a program, from one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// A time zone lookup failed: the key, when the line names it.
    Zone(Option<String>),
    /// TLS certificate verification, or loading the CA bundle.
    Certificate,
    /// The dynamic loader: a library or a symbol version is missing.
    Loader,
    /// A user or group the configuration names is not in the image.
    UnknownUser(String),
    /// A privileged call failed: the call (chroot, setuid, setgroups...).
    Privileged(&'static str),
    /// An access to a path failed.
    Access(Failure),
}

/// The errno a line reports, if any.
fn errno_of(line: &str) -> Option<Errno> {
    let has = |needles: &[&str]| needles.iter().any(|n| line.contains(n));
    if has(&[
        "Permission denied",
        "PermissionError",
        "EACCES",
        "permission denied",
    ]) {
        Some(Errno::Denied)
    } else if has(&["Read-only file system", "EROFS", "read-only file system"]) {
        Some(Errno::ReadOnly)
    } else if has(&[
        "Operation not permitted",
        "EPERM",
        "operation not permitted",
    ]) {
        Some(Errno::NotPermitted)
    } else if has(&[
        "No such file or directory",
        "ENOENT",
        "FileNotFoundError",
        "no such file or directory",
    ]) {
        Some(Errno::Missing)
    } else {
        None
    }
}

fn op_of(line: &str) -> Op {
    // "Read-only file system" is the errno, not what was tried.
    let l = line.to_ascii_lowercase().replace("read-only", "");
    let words: Vec<&str> = l
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect();
    let has = |needles: &[&str]| words.iter().any(|w| needles.contains(w));
    if has(&["mkdir", "mkdirat"]) || l.contains("create directory") {
        Op::MakeDir
    } else if has(&[
        "write", "writing", "create", "creating", "creat", "lock", "pid", "bind", "rename",
        "unlink", "o_wronly", "o_creat", "truncate", "append", "save", "saving",
    ]) || l.contains("log file")
    {
        Op::WriteFile
    } else if has(&[
        "read",
        "reading",
        "load",
        "loading",
        "access",
        "opendir",
        "certificate",
        "stat",
    ]) || l.contains("open directory")
    {
        Op::Read
    } else {
        Op::Unknown
    }
}

/// `/etc/app.cfg:5` (a config reference, not a path to access): the
/// file and the line number.
fn config_ref(word: &str) -> Option<ConfigRef> {
    let (file, n) = word.rsplit_once(':')?;
    let n: usize = n.parse().ok()?;
    (file.starts_with('/') && n > 0).then(|| ConfigRef {
        file: file.to_string(),
        line: n,
    })
}

/// Every `FILE:LINE` reference in `line`, bracketed (`[/x.cfg:5]`) or not
/// (`in /etc/nginx/nginx.conf:1`).
pub fn config_refs(line: &str) -> Vec<ConfigRef> {
    line.split(|c: char| c.is_whitespace() || "[](),;\"'".contains(c))
        .filter_map(config_ref)
        .collect()
}

fn plausible(part: &str) -> bool {
    !part.is_empty()
        && part.len() < 1024
        && !part.contains(char::is_whitespace)
        && !part.starts_with('-')
}

/// The paths `line` names, exactly as written: between quotes when it
/// quotes any (a relative one made absolute in `workdir` when the line is
/// a denial), else the words that start with '/' without the punctuation
/// around them. Never a `FILE:LINE` reference.
pub fn paths_in_line(line: &str, workdir: &str, relative_too: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |p: String| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    let mut quoted = false;
    for q in ['\'', '"'] {
        for (i, part) in line.split(q).enumerate() {
            if i % 2 == 0 || !plausible(part) || config_ref(part).is_some() {
                continue;
            }
            if part.starts_with('/') {
                quoted = true;
                push(crate::shell::normalize(part));
            } else if relative_too && (part.contains('.') || part.contains('/')) && part != "." {
                quoted = true;
                let base = workdir.trim_end_matches('/');
                push(crate::shell::normalize(&format!("{base}/{part}")));
            }
        }
    }
    if quoted {
        return out;
    }
    for w in line.split_whitespace() {
        let w = w
            .trim_start_matches(['(', '[', '<', '{'])
            .trim_end_matches([':', ',', ';', ')', ']', '>', '}', '.', '!']);
        if w.starts_with('/') && config_ref(w).is_none() && !w.contains('(') {
            push(crate::shell::normalize(w));
        }
    }
    out
}

/// The failed accesses the lines name: a path next to an errno text, one
/// per line and path, in the order of the lines.
pub fn failures(lines: &[String], workdir: &str) -> Vec<Failure> {
    let mut out: Vec<Failure> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(errno) = errno_of(line) else {
            continue;
        };
        let op = op_of(line);
        let relative = errno != Errno::Missing;
        for path in paths_in_line(line, workdir, relative) {
            out.push(Failure {
                path,
                errno,
                op,
                line: i,
            });
        }
    }
    out
}

/// The user or group a line says the image lacks: `user 'unbound' does not
/// exist`, `cannot find user id for 'haproxy'`, `unknown user nginx`.
fn unknown_user(line: &str) -> Option<String> {
    let l = line.to_ascii_lowercase();
    let said = [
        "does not exist",
        "cannot find user",
        "cannot find group",
        "unknown user",
        "unknown group",
        "no such user",
        "no such group",
        "getpwnam",
        "getgrnam",
        "user not found",
        "group not found",
    ]
    .iter()
    .any(|n| l.contains(n));
    if !said || !(l.contains("user") || l.contains("group")) {
        return None;
    }
    // The name: the first quoted word, else the word after user/group.
    for q in ['\'', '"', '`'] {
        if let Some(name) = line.split(q).nth(1).filter(|n| is_name(n)) {
            return Some(name.to_string());
        }
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| {
            let k = w[0].to_ascii_lowercase();
            k == "user" || k == "group"
        })
        .map(|w| w[1].trim_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-'))
        .filter(|n| is_name(n))
        .map(str::to_string)
}

fn is_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 32
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// The privileged call a line says failed: `Cannot chroot(/var/lib/x)`,
/// `unable to set group id of unbound: Operation not permitted`.
fn privileged(line: &str) -> Option<&'static str> {
    let l = line.to_ascii_lowercase();
    let failed = [
        "operation not permitted",
        "eperm",
        "cannot",
        "can't",
        "unable to",
        "failed",
        "could not",
        "not permitted",
    ]
    .iter()
    .any(|n| l.contains(n));
    if !failed {
        return None;
    }
    const CALLS: [(&str, &str); 13] = [
        ("chroot", "chroot"),
        ("chown", "chown"),
        ("setgroups", "setgroups"),
        ("initgroups", "setgroups"),
        ("setresuid", "setuid"),
        ("setresgid", "setgid"),
        ("setuid", "setuid"),
        ("setgid", "setgid"),
        ("set user id", "setuid"),
        ("set group id", "setgid"),
        ("mlock", "mlock"),
        ("setpriority", "setpriority"),
        ("mknod", "mknod"),
    ];
    CALLS
        .iter()
        .find(|(w, _)| l.contains(w))
        .map(|(_, call)| *call)
}

/// The zone a failed lookup names: Python's `No time zone found with key
/// Europe/Paris`, Go's `unknown time zone Europe/Paris`, Java's `Unknown
/// time-zone ID: Europe/Paris`, Node's `Invalid time zone specified`.
fn zone(line: &str) -> Option<Option<String>> {
    // A traceback's line of code that raises the error is not the error.
    let t = line.trim_start();
    if t.starts_with("raise ") || t.starts_with("throw ") {
        return None;
    }
    const SAID: [&str; 6] = [
        "No time zone found with key ",
        "ZoneInfoNotFoundError",
        "unknown time zone ",
        "Unknown time-zone ID: ",
        "Invalid time zone specified",
        "UnknownTimeZoneError",
    ];
    let hit = SAID.iter().find(|s| line.contains(*s))?;
    let key = line
        .split(hit)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|k| k.trim_matches(|c: char| "'\":,.()".contains(c)).to_string())
        .filter(|k| k.contains('/') || k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .filter(|k| !k.is_empty());
    Some(key)
}

/// Certificate verification or the CA bundle: curl's exits 77 and 60,
/// OpenSSL, Go, Python, Java and Node texts.
fn certificate(line: &str) -> bool {
    const SAID: [&str; 13] = [
        "curl: (77)",
        "curl: (60)",
        "certificate verify failed",
        "CERTIFICATE_VERIFY_FAILED",
        "unable to get local issuer certificate",
        "x509: certificate signed by unknown authority",
        "x509: failed to load system roots",
        "PKIX path building failed",
        "unable to find valid certification path",
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        "error setting certificate",
        "SSL certificate problem",
        "self-signed certificate in certificate chain",
    ];
    SAID.iter().any(|s| line.contains(s))
}

/// The signature of `line` (the `i`th of the tail), if it has one.
pub fn signature(line: &str, i: usize, workdir: &str) -> Option<Signature> {
    if let Some(key) = zone(line) {
        return Some(Signature::Zone(key));
    }
    if certificate(line) {
        return Some(Signature::Certificate);
    }
    if line.contains("error while loading shared libraries")
        || line.contains("' not found (required by ")
    {
        return Some(Signature::Loader);
    }
    if let Some(name) = unknown_user(line) {
        return Some(Signature::UnknownUser(name));
    }
    if let Some(call) = privileged(line) {
        return Some(Signature::Privileged(call));
    }
    let lines = [line.to_string()];
    failures(&lines, workdir).into_iter().next().map(|mut f| {
        f.line = i;
        Signature::Access(f)
    })
}

/// The last line of `lines` with a signature: the failure the program ended
/// on, and the line's index.
pub fn last_signature(lines: &[String], workdir: &str) -> Option<(usize, Signature)> {
    lines
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, l)| signature(l, i, workdir).map(|s| (i, s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_references_are_never_paths_to_access() {
        let l = "[ALERT]    (1) : Binding [/etc/haproxy/haproxy.cfg:5] for frontend GLOBAL: cannot bind UNIX socket (No such file or directory) [/run/haproxy/admin.sock]";
        assert_eq!(paths_in_line(l, "/", true), ["/run/haproxy/admin.sock"]);
        assert_eq!(
            config_refs(l),
            [ConfigRef {
                file: "/etc/haproxy/haproxy.cfg".into(),
                line: 5
            }]
        );
        let l = "2026/12/02 16:08:48 [warn] 1#1: the \"user\" directive makes sense only if the master process runs with super-user privileges, ignored in /etc/nginx/nginx.conf:1";
        assert!(failures(&lines(&[l]), "/").is_empty());
        assert_eq!(config_refs(l)[0].line, 1);
    }

    #[test]
    fn paths_are_read_from_log_lines_exactly() {
        let l = lines(&[
            "PermissionError: [Errno 13] Permission denied: '/var/log/claims-api/app.log'",
            "demo-app: cannot open log file /var/log/demo/app.log: Permission denied (os error 13); logging to stdout",
            "all good",
            "open() \"/var/lib/nginx/body\" failed (13: Permission denied)",
            "[Errno 13] Permission denied (/)",
            "PermissionError: [Errno 13] Permission denied: 'app.log'",
            "cannot create [/srv/data]: Permission denied.",
            "FileNotFoundError: [Errno 2] No such file or directory: '/var/log/claims/app.log'",
        ]);
        let paths: Vec<String> = failures(&l, "/app").into_iter().map(|f| f.path).collect();
        // A path a later line names again is a second failure of it.
        assert_eq!(
            failures(&lines(&[&l[0], &l[0]]), "/")
                .iter()
                .map(|f| f.line)
                .collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            paths,
            [
                "/var/log/claims-api/app.log",
                "/var/log/demo/app.log",
                "/var/lib/nginx/body",
                "/",
                "/app/app.log",
                "/srv/data",
                "/var/log/claims/app.log"
            ]
        );
    }

    #[test]
    fn failed_accesses_carry_their_errno_and_what_was_tried() {
        let f = failures(
            &lines(&[
                "2026/12/02 16:08:48 [emerg] 1#1: mkdir() \"/var/lib/nginx/body\" failed (13: Permission denied)",
                "nginx: [emerg] open() \"/run/nginx.pid\" failed (13: Permission denied)",
                "postgres: could not access the server configuration file \"/var/lib/postgresql/data/postgresql.conf\": Permission denied",
                "could not open directory \"/usr/share/zoneinfo\": No such file or directory",
            ]),
            "/",
        );
        let got: Vec<(&str, Errno, Op)> =
            f.iter().map(|f| (f.path.as_str(), f.errno, f.op)).collect();
        assert_eq!(
            got,
            [
                ("/var/lib/nginx/body", Errno::Denied, Op::MakeDir),
                ("/run/nginx.pid", Errno::Denied, Op::WriteFile),
                (
                    "/var/lib/postgresql/data/postgresql.conf",
                    Errno::Denied,
                    Op::Read
                ),
                ("/usr/share/zoneinfo", Errno::Missing, Op::Read),
            ]
        );
    }

    #[test]
    fn exit_signatures_are_read_from_the_last_words() {
        let sig = |l: &str| signature(l, 0, "/");
        assert_eq!(
            sig(
                "zoneinfo._common.ZoneInfoNotFoundError: 'No time zone found with key Europe/Paris'"
            ),
            Some(Signature::Zone(Some("Europe/Paris".into())))
        );
        assert_eq!(
            sig("panic: unknown time zone America/New_York"),
            Some(Signature::Zone(Some("America/New_York".into())))
        );
        assert_eq!(
            sig("curl: (77) error setting certificate file: /etc/ssl/certs/ca-certificates.crt"),
            Some(Signature::Certificate)
        );
        assert_eq!(
            sig("Get \"https://x\": x509: certificate signed by unknown authority"),
            Some(Signature::Certificate)
        );
        assert_eq!(
            sig(
                "[ALERT]    (1) : config : parsing [/etc/haproxy/haproxy.cfg:7] : cannot find user id for 'haproxy' (0:Success)"
            ),
            Some(Signature::UnknownUser("haproxy".into()))
        );
        assert_eq!(
            sig("[1796227654] unbound[1:0] fatal error: user 'unbound' does not exist."),
            Some(Signature::UnknownUser("unbound".into()))
        );
        assert_eq!(
            sig("[ALERT]    (8) : [/usr/sbin/haproxy.main()] Cannot chroot(/var/lib/haproxy)."),
            Some(Signature::Privileged("chroot"))
        );
        assert_eq!(
            sig("chown: changing ownership of '/data': Operation not permitted"),
            Some(Signature::Privileged("chown"))
        );
        assert_eq!(
            sig(
                "/usr/bin/ninja: error while loading shared libraries: libstdc++.so.6: cannot open shared object file: No such file or directory"
            ),
            Some(Signature::Loader)
        );
        assert_eq!(sig("all good"), None);
        assert_eq!(
            sig("    raise ZoneInfoNotFoundError(f\"No time zone found with key {key}\")"),
            None
        );
    }

    #[test]
    fn the_last_signature_is_the_one_the_program_ended_on() {
        let l = lines(&[
            "[NOTICE]   (8) : haproxy version is 2.6.12-1+deb12u4",
            "[ALERT]    (8) : [/usr/sbin/haproxy.main()] Cannot chroot(/var/lib/haproxy).",
            "[WARNING]  (1) : Current worker (8) exited with code 1 (Exit)",
            "[ALERT]    (1) : exit-on-failure: killing every processes with SIGTERM",
            "[WARNING]  (1) : All workers exited. Exiting... (1)",
        ]);
        assert_eq!(
            last_signature(&l, "/"),
            Some((1, Signature::Privileged("chroot")))
        );
    }
}
