//! A dynamic loader's search for a library, in one line.
//!
//! ld.so looks for each needed library in every directory of the search
//! path (RPATH, LD_LIBRARY_PATH, RUNPATH, the cache, the defaults) and,
//! with glibc, in each directory's hwcaps subdirectories first: one
//! `openat(AT_FDCWD, "DIR/libfoo.so.1", O_RDONLY|O_CLOEXEC) = -1 ENOENT`
//! per place, and a `newfstatat` of each directory that turned out to be
//! missing. A library that is not there at all is hundreds of lines. Here
//! those runs become one [`LibrarySearch`] per library: where it looked
//! and what came of it (found at a path, or not found).
//!
//! A run is a tracee's consecutive failed opens (ENOENT, ENOTDIR) of one
//! `*.so*` name with ld.so's flags; it ends with the open that finds it,
//! or, not found, with that tracee's next unrelated call or the end of the
//! trace. An EACCES is never folded: it is the failure worth a line of its
//! own.

use std::collections::HashMap;

use serde::Serialize;

use super::decode::Event;
use crate::term::escape;

/// Directories kept per search, and bytes of their names; more are only
/// counted.
const MAX_DIRS: usize = 256;
const MAX_DIR_BYTES: usize = 32 * 1024;
/// Searches followed at once (one per tracee at most); past that, the
/// loader's opens show one by one.
const MAX_PENDING: usize = 64;

/// One thing worth a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Report {
    Call(Event),
    Library(LibrarySearch),
}

/// One library the loader looked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibrarySearch {
    pub pid: i32,
    /// The file name searched for: `libssl.so.3`.
    pub library: String,
    /// Where it was not found, in order (at most 256, 32 KiB of names).
    pub dirs: Vec<String>,
    /// Directories tried past those listed.
    pub more_dirs: u64,
    /// How many failed opens the search made.
    pub opens: u64,
    /// Where it was found, or None.
    pub found: Option<String>,
    /// The errno of the last failed open (ENOENT), when not found.
    pub errno: Option<String>,
    pub error: Option<String>,
    /// The program being loaded (`/proc/PID/exe` when the search began).
    pub program: Option<String>,
}

impl LibrarySearch {
    /// The search path itself: the directories tried that are not a
    /// hardware subdirectory glibc tries first in each (`glibc-hwcaps/*`,
    /// and with RPATH the legacy `tls`, `x86_64`, `haswell` ones).
    pub fn base_dirs(&self) -> Vec<&str> {
        let found = self.found.as_deref().map(|f| split(f).0);
        self.dirs
            .iter()
            .map(String::as_str)
            .filter(|d| {
                !self.dirs.iter().any(|o| hardware_subdir(d, o))
                    && !found.is_some_and(|f| hardware_subdir(d, f))
            })
            .collect()
    }

    /// `ld.so: libfoo.so.1: not found; tried /opt/lib, /usr/lib and 20
    /// subdirectories (22 opens, ENOENT)`. At most 8 directories are
    /// named; `--json` has them all.
    pub fn line(&self) -> String {
        const SHOWN: usize = 8;
        let bases = self.base_dirs();
        let subdirs = self.dirs.len() - bases.len();
        let more = bases.len().saturating_sub(SHOWN) as u64 + self.more_dirs;
        let mut tried = bases
            .iter()
            .take(SHOWN)
            .map(|d| escape::field(d.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        let plural = |n: u64| if n == 1 { "y" } else { "ies" };
        if subdirs > 0 {
            tried.push_str(&format!(
                " and {subdirs} subdirector{}",
                plural(subdirs as u64)
            ));
        }
        if more > 0 {
            tried.push_str(&format!(" and {more} more director{}", plural(more)));
        }
        let library = escape::field(self.library.as_bytes());
        let opens = self.opens;
        let s = if opens == 1 { "" } else { "s" };
        match &self.found {
            Some(path) => format!(
                "ld.so: {library}: found at {}; tried {tried} first ({opens} failed open{s})",
                escape::field(path.as_bytes()),
            ),
            None => format!(
                "ld.so: {library}: not found; tried {tried} ({opens} open{s}, {})",
                self.errno.as_deref().unwrap_or("ENOENT")
            ),
        }
    }
}

/// Whether `dir` is one of the subdirectories glibc's loader looks in
/// below `base` for a library built for this hardware.
fn hardware_subdir(dir: &str, base: &str) -> bool {
    const LEGACY: [&str; 5] = ["tls", "x86_64", "haswell", "xeon_phi", "avx512_1"];
    let Some(rest) = dir
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|r| !r.is_empty())
    else {
        return false;
    };
    rest.starts_with("glibc-hwcaps/") || rest.split('/').all(|c| LEGACY.contains(&c))
}

/// `/a/b/libx.so.1` → (`/a/b`, `libx.so.1`).
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((dir, name)) => (dir, name),
        None => (".", path),
    }
}

fn is_open(syscall: &str) -> bool {
    matches!(syscall, "open" | "openat")
}

/// A failed open as ld.so makes them: read-only, close-on-exec, of a
/// shared object's name, not there.
fn is_attempt(e: &Event) -> Option<(String, String)> {
    if !is_open(&e.syscall) || !matches!(e.errno.as_deref(), Some("ENOENT" | "ENOTDIR")) {
        return None;
    }
    let flags = e.raw[if e.syscall == "open" { 1 } else { 2 }] as i32;
    // O_LARGEFILE is the kernel's own on 64-bit; nothing else may be set.
    if flags & !0o100000 != libc::O_RDONLY | libc::O_CLOEXEC {
        return None;
    }
    let path = e.absolute.as_deref().or(e.path.as_deref())?;
    let (dir, name) = split(path);
    (name.contains(".so") && name != CACHE).then(|| (dir.to_string(), name.to_string()))
}

/// glibc's list of libraries, read in the middle of a search (and missing
/// from most images).
const CACHE: &str = "ld.so.cache";

/// Turns runs of a loader's failed opens into [`LibrarySearch`]es; every
/// other call passes through.
#[derive(Default)]
pub struct Folder {
    /// Show successful calls too (`--all`).
    pub all: bool,
    pending: HashMap<i32, Pending>,
}

struct Pending {
    search: LibrarySearch,
    /// Bytes of directory names kept.
    bytes: usize,
    /// Where the last open looked, kept even past the cap: glibc stats it
    /// next when it is missing.
    last_dir: String,
}

impl Folder {
    pub fn new(all: bool) -> Folder {
        Folder {
            all,
            pending: HashMap::new(),
        }
    }

    /// Whether a successful call of `pid` must be decoded because it may
    /// end (or belong to) a search under way.
    pub fn wants(&self, pid: i32, syscall: &str) -> bool {
        self.pending.contains_key(&pid)
            && matches!(syscall, "open" | "openat" | "stat" | "newfstatat" | "statx")
    }

    /// Take one decoded call.
    pub fn feed(
        &mut self,
        e: Event,
        out: &mut dyn FnMut(Report) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if let Some((dir, name)) = is_attempt(&e) {
            if let Some(p) = self.pending.get_mut(&e.pid)
                && p.search.library == name
            {
                let s = &mut p.search;
                s.opens += 1;
                if !s.dirs.contains(&dir) {
                    if s.dirs.len() < MAX_DIRS && p.bytes + dir.len() <= MAX_DIR_BYTES {
                        p.bytes += dir.len();
                        s.dirs.push(dir.clone());
                    } else if p.last_dir != dir {
                        s.more_dirs += 1;
                    }
                }
                p.last_dir = dir;
                s.errno.clone_from(&e.errno);
                s.error.clone_from(&e.error);
                return Ok(());
            }
            self.end(e.pid, out)?;
            if self.pending.len() < MAX_PENDING {
                self.pending.insert(
                    e.pid,
                    Pending {
                        bytes: dir.len(),
                        last_dir: dir.clone(),
                        search: LibrarySearch {
                            pid: e.pid,
                            library: name,
                            dirs: vec![dir],
                            more_dirs: 0,
                            opens: 1,
                            found: None,
                            errno: e.errno.clone(),
                            error: e.error.clone(),
                            program: std::fs::read_link(format!("/proc/{}/exe", e.pid))
                                .ok()
                                .and_then(|p| p.to_str().map(str::to_string)),
                        },
                    },
                );
                return Ok(());
            }
        }
        if let Some(p) = self.pending.get(&e.pid) {
            let s = &p.search;
            let path = e.absolute.as_deref().or(e.path.as_deref()).unwrap_or("");
            let (_, name) = split(path);
            if is_open(&e.syscall) && !e.failed() && name == s.library {
                let mut s = self
                    .pending
                    .remove(&e.pid)
                    .expect("a search under way")
                    .search;
                s.found = Some(path.to_string());
                s.errno = None;
                s.error = None;
                out(Report::Library(s))?;
                return if self.all {
                    out(Report::Call(e))
                } else {
                    Ok(())
                };
            }
            // glibc stats each directory it found missing, and opens and
            // fstats (an empty path) its cache, there or not, in the middle
            // of a search: part of it.
            let of_search = match e.syscall.as_str() {
                "stat" | "newfstatat" | "statx" => {
                    path.is_empty() || path == p.last_dir || s.dirs.iter().any(|d| d == path)
                }
                "open" | "openat" => name == CACHE,
                _ => false,
            };
            if of_search {
                return if self.all {
                    out(Report::Call(e))
                } else {
                    Ok(())
                };
            }
            self.end(e.pid, out)?;
        }
        if e.failed() || self.all {
            out(Report::Call(e))
        } else {
            Ok(())
        }
    }

    /// The search of `pid` under way ended without finding its library.
    fn end(
        &mut self,
        pid: i32,
        out: &mut dyn FnMut(Report) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match self.pending.remove(&pid) {
            Some(p) => out(Report::Library(p.search)),
            None => Ok(()),
        }
    }

    /// The trace ended: every search under way found nothing.
    pub fn flush(
        &mut self,
        out: &mut dyn FnMut(Report) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut pids: Vec<i32> = self.pending.keys().copied().collect();
        pids.sort();
        for pid in pids {
            self.end(pid, out)?;
        }
        Ok(())
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::trace::decode::{Call, Memory, decode};

    /// One path at a time, at address 0x1000.
    struct Path(Vec<u8>);

    impl Memory for Path {
        fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
            (addr == 0x1000).then(|| self.0[..len.min(self.0.len())].to_vec())
        }
    }

    const OPENAT: u64 = 257;
    const NEWFSTATAT: u64 = 262;
    const WRITE: u64 = 1;
    const LD_FLAGS: u64 = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;

    fn event(pid: i32, nr: u64, path: &str, flags: u64, ret: i64) -> Event {
        let mem = Path(format!("{path}\0").into_bytes());
        decode(
            pid,
            &Call {
                nr,
                args: [AT_FDCWD, 0x1000, flags, 0, 0, 0],
                ret,
            },
            &mem,
        )
    }

    fn open(pid: i32, path: &str, ret: i64) -> Event {
        event(pid, OPENAT, path, LD_FLAGS, ret)
    }

    fn run(folder: &mut Folder, events: Vec<Event>) -> Vec<Report> {
        let mut out = Vec::new();
        for e in events {
            folder
                .feed(e, &mut |r| {
                    out.push(r);
                    Ok(())
                })
                .unwrap();
        }
        folder
            .flush(&mut |r| {
                out.push(r);
                Ok(())
            })
            .unwrap();
        out
    }

    fn library(r: &Report) -> &LibrarySearch {
        match r {
            Report::Library(l) => l,
            Report::Call(e) => panic!("a call, not a library: {}", e.line()),
        }
    }

    #[test]
    fn a_library_searched_in_vain_is_one_line_with_the_dirs_tried() {
        let mut events = Vec::new();
        for dir in ["/opt/a", "/opt/b"] {
            for sub in ["/glibc-hwcaps/x86-64-v3", "/tls", ""] {
                events.push(open(7, &format!("{dir}{sub}/libnt.so.1"), -2));
                events.push(event(7, NEWFSTATAT, &format!("{dir}{sub}"), 0, -2));
            }
        }
        // The loader then says so and exits: a successful write, not shown.
        events.push(event(7, WRITE, "", 0, 80));
        let out = run(&mut Folder::new(false), events);
        assert_eq!(out.len(), 1, "{out:?}");
        let l = library(&out[0]);
        assert_eq!(
            (l.library.as_str(), l.opens, l.found.as_deref()),
            ("libnt.so.1", 6, None)
        );
        assert_eq!(l.base_dirs(), ["/opt/a", "/opt/b"]);
        // A search path may nest: /lib/x86_64-linux-gnu is not /lib's
        // hardware subdirectory.
        assert!(!hardware_subdir("/lib/x86_64-linux-gnu", "/lib"));
        assert!(hardware_subdir("/lib/tls/x86_64", "/lib"));
        assert!(hardware_subdir("/lib/glibc-hwcaps/x86-64-v3", "/lib"));
        assert!(!hardware_subdir("/lib", "/lib"));
        assert_eq!(
            l.line(),
            "ld.so: libnt.so.1: not found; tried /opt/a, /opt/b and 4 subdirectories (6 opens, ENOENT)"
        );
    }

    #[test]
    fn a_library_found_after_failed_opens_names_where() {
        let events = vec![
            open(7, "/opt/a/libfound.so", -2),
            open(7, "/etc/ld.so.cache", -2),
            open(7, "/etc/ld.so.cache", 3),
            event(7, NEWFSTATAT, "", 0x1000, 0),
            open(7, "/usr/lib/libfound.so", 3),
            // Another library, found at once: nothing to say.
            open(7, "/usr/lib/libc.so.6", 4),
        ];
        let out = run(&mut Folder::new(false), events);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            library(&out[0]).line(),
            "ld.so: libfound.so: found at /usr/lib/libfound.so; tried /opt/a first (1 failed open)"
        );
    }

    #[test]
    fn other_failures_interleaved_by_other_processes_pass_through_unfolded() {
        let events = vec![
            open(7, "/opt/a/libx.so", -2),
            // Another process's failed open, and an EACCES: never folded.
            event(
                8,
                OPENAT,
                "/var/log/app.log",
                (libc::O_WRONLY | libc::O_CREAT) as u64,
                -13,
            ),
            open(7, "/opt/b/libx.so", -13),
            // Not ld.so's flags: the app's own open, unfolded.
            event(7, OPENAT, "/opt/c/liby.so", (libc::O_RDWR) as u64, -2),
        ];
        let out = run(&mut Folder::new(false), events);
        let lines: Vec<String> = out
            .iter()
            .map(|r| match r {
                Report::Call(e) => e.line(),
                Report::Library(l) => l.line(),
            })
            .collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].contains("/var/log/app.log"), "{lines:#?}");
        assert!(
            lines[1].starts_with("ld.so: libx.so: not found; tried /opt/a (1 open"),
            "{lines:#?}"
        );
        assert!(
            lines[2].contains("\"/opt/b/libx.so\"") && lines[2].contains("EACCES"),
            "{lines:#?}"
        );
        assert!(
            lines[3].contains("\"/opt/c/liby.so\", O_RDWR"),
            "{lines:#?}"
        );
    }

    #[test]
    fn hostile_library_names_are_escaped_and_dirs_bounded() {
        let mut events = Vec::new();
        for i in 0..300 {
            events.push(open(7, &format!("/d{i}/lib\x1b[2J.so"), -2));
            // glibc's stat of the missing directory, past the cap too.
            events.push(event(7, NEWFSTATAT, &format!("/d{i}"), 0, -2));
        }
        let out = run(&mut Folder::new(false), events);
        assert_eq!(out.len(), 1, "{out:?}");
        let l = library(&out[0]);
        assert_eq!((l.opens, l.dirs.len() as u64 + l.more_dirs), (300, 300));
        assert_eq!(l.dirs.len(), MAX_DIRS);
        assert!(l.line().contains("lib\\e[2J.so"), "{}", l.line());
        assert!(
            l.line()
                .ends_with(", /d7 and 292 more directories (300 opens, ENOENT)"),
            "{}",
            l.line()
        );
        // Long names: the bytes kept are bounded too.
        let long = "d".repeat(3000);
        let events = (0..100)
            .map(|i| open(7, &format!("/{long}{i}/libx.so"), -2))
            .collect();
        let out = run(&mut Folder::new(false), events);
        let l = library(&out[0]);
        assert!(l.dirs.iter().map(String::len).sum::<usize>() <= MAX_DIR_BYTES);
        assert_eq!(l.dirs.len() as u64 + l.more_dirs, 100);
    }
}
