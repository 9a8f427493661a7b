//! Files in and out of the target as tar streams (`nosh cp`): a tree
//! written as a tar stream ([`write_tree`]) and a tar stream written out as
//! a tree ([`extract`]). The toolbox's `copy-out` and `copy-in` use them
//! inside the target, as the app's identity; the host half uses them on
//! the other end of the same stream.
//!
//! What a tree is read from, and a stream is written into, is hostile on
//! one side or the other (the target's files, or a stream the target
//! made), so:
//! - a path in the target is opened with `openat2(RESOLVE_IN_ROOT)` from
//!   the target's root: `..` and absolute symlinks stay inside it, even
//!   when the toolbox does not run chrooted there;
//! - below the top, every entry is opened relative to its directory with
//!   `O_NOFOLLOW`, checked with `fstat` on the open file, and only
//!   directories, regular files and symlinks are taken (a FIFO or a device
//!   is never opened: it could block or have side effects);
//! - an entry of a stream is written only below the destination directory
//!   (`RESOLVE_BENEATH`; on the host also `RESOLVE_NO_SYMLINKS`, so a link
//!   the stream itself made cannot carry a later entry elsewhere), never
//!   with `..` or an absolute name, never through a symlink at its last
//!   component;
//! - data streams in fixed-size chunks: a file is never held whole.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, UtimensatFlags, fchmod, fstat, fstatat, futimens};
use nix::sys::time::TimeSpec;

/// Reads exactly `size` bytes of `inner`: zeros after its end if it
/// shrank, nothing past `size` if it grew. A tar entry's header gives its
/// size before its data: a log file written while it is copied must not
/// break the stream.
pub struct ExactSize<R> {
    inner: R,
    left: u64,
    ended: bool,
}

impl<R: Read> ExactSize<R> {
    pub fn new(inner: R, size: u64) -> ExactSize<R> {
        ExactSize {
            inner,
            left: size,
            ended: false,
        }
    }
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = if self.ended {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        let n = if n == 0 {
            self.ended = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// How paths below a directory are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// The directory is a root: `..` and absolute symlinks stay inside it
    /// (the target's root).
    InRoot,
    /// Below the directory, symlinks followed only while they stay below it
    /// (a destination in the target).
    Beneath,
    /// Below the directory, no symlink followed at all (a destination on
    /// the host, filled from a stream the target made).
    BeneathNoSymlinks,
    /// As the kernel resolves any path of this process (the host's files,
    /// named by the user).
    Plain,
}

impl Resolve {
    fn flags(self) -> ResolveFlag {
        match self {
            Resolve::InRoot => ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            Resolve::Beneath => ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            Resolve::BeneathNoSymlinks => {
                ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS
            }
            Resolve::Plain => ResolveFlag::empty(),
        }
    }
}

/// Opens `path` below `dir` as `how` says.
pub fn open_below(
    dir: BorrowedFd<'_>,
    path: &OsStr,
    flags: OFlag,
    how: Resolve,
) -> io::Result<OwnedFd> {
    let path: &OsStr = if path.is_empty() {
        OsStr::new(".")
    } else {
        path
    };
    let open_how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(how.flags());
    loop {
        match openat2(dir, path, open_how) {
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// The directory fd of `path` (a directory of this process's own view).
pub fn open_dir(path: &std::path::Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn same(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// Pseudo filesystems a tree walk does not enter: their files have no
/// size until read, some never end (`/proc/kcore`, `trace_pipe`), and they
/// are the kernel's, not the app's.
fn pseudo_fs(dir: BorrowedFd<'_>) -> bool {
    use nix::sys::statfs::{
        CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC, PROC_SUPER_MAGIC, SECURITYFS_MAGIC,
        SYSFS_MAGIC, TRACEFS_MAGIC, fstatfs,
    };
    fstatfs(dir).is_ok_and(|s| {
        [
            PROC_SUPER_MAGIC,
            SYSFS_MAGIC,
            DEBUGFS_MAGIC,
            TRACEFS_MAGIC,
            SECURITYFS_MAGIC,
            CGROUP_SUPER_MAGIC,
            CGROUP2_SUPER_MAGIC,
        ]
        .contains(&s.filesystem_type())
    })
}

/// A file of a pseudo filesystem says size 0 and has content: read that
/// much at most into memory, and give that size.
const SMALL_READ: u64 = 1 << 20;

/// Where [`write_tree`] reports what it skipped or could not read (one
/// line each, the path as the archive names it), and how far it got.
pub trait Walk {
    /// A problem with one entry; the walk goes on.
    fn problem(&mut self, path: &[u8], what: &str);
    /// `bytes` more of file data written.
    fn progress(&mut self, _bytes: u64) {}
    /// Whether to stop (Ctrl-C).
    fn stop(&self) -> bool {
        false
    }
}

/// What a tree walk did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
    /// Entries skipped or unreadable (each reported).
    pub problems: u64,
}

/// Writes the tree at `path` below `root` (resolved as `how` says) into
/// `tar` under the name `name`: a directory with everything below it, a
/// regular file, or a symlink itself unless `follow`. Mode, owner ids and
/// mtime are kept. Entries that cannot be read are reported to `walk` and
/// left out; the error is the top's own (it does not exist, or cannot be
/// read at all).
pub fn write_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    root: BorrowedFd<'_>,
    path: &OsStr,
    how: Resolve,
    follow: bool,
    name: &OsStr,
    walk: &mut dyn Walk,
) -> io::Result<Summary> {
    let mut flags = OFlag::O_PATH;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    let top = open_below(root, path, flags, how)?;
    let st = fstat(top.as_fd())?;
    let mut sum = Summary::default();
    let name = name.as_bytes().to_vec();
    match kind(&st) {
        SFlag::S_IFDIR => {
            let dir = openat(
                top.as_fd(),
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            write_dir(tar, dir, &st, &name, walk, &mut sum)?;
        }
        SFlag::S_IFREG => {
            let file = open_below(root, path, flags_for_read(follow), how)?;
            let opened = fstat(file.as_fd())?;
            if !same(&st, &opened) || kind(&opened) != SFlag::S_IFREG {
                return Err(io::Error::other("changed while it was opened"));
            }
            write_file(tar, File::from(file), &opened, &name, walk, &mut sum)?;
        }
        SFlag::S_IFLNK => {
            let link = readlinkat(top.as_fd(), "")?;
            write_link(tar, &st, &name, link.as_bytes(), &mut sum)?;
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}, not a file, a directory or a symlink", what(&st)),
            ));
        }
    }
    Ok(sum)
}

fn flags_for_read(follow: bool) -> OFlag {
    let mut flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    flags
}

fn what(st: &FileStat) -> &'static str {
    match kind(st) {
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symlink",
        _ => "a regular file",
    }
}

fn header(st: &FileStat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h
}

fn write_link<W: Write>(
    tar: &mut tar::Builder<W>,
    st: &FileStat,
    name: &[u8],
    target: &[u8],
    sum: &mut Summary,
) -> io::Result<()> {
    let mut h = header(st, tar::EntryType::Symlink, 0);
    tar.append_link(&mut h, OsStr::from_bytes(name), OsStr::from_bytes(target))?;
    sum.links += 1;
    Ok(())
}

fn write_file<W: Write>(
    tar: &mut tar::Builder<W>,
    mut file: File,
    st: &FileStat,
    name: &[u8],
    walk: &mut dyn Walk,
    sum: &mut Summary,
) -> io::Result<()> {
    let size = st.st_size.max(0) as u64;
    if size == 0 {
        // A /proc or /sys file: its size is what a read gives.
        let mut small = Vec::new();
        (&mut file).take(SMALL_READ).read_to_end(&mut small)?;
        let mut h = header(st, tar::EntryType::Regular, small.len() as u64);
        tar.append_data(&mut h, OsStr::from_bytes(name), &small[..])?;
        walk.progress(small.len() as u64);
        sum.files += 1;
        sum.bytes += small.len() as u64;
        return Ok(());
    }
    let mut h = header(st, tar::EntryType::Regular, size);
    let reader = Progress {
        inner: ExactSize::new(file, size),
        walk,
    };
    tar.append_data(&mut h, OsStr::from_bytes(name), reader)?;
    sum.files += 1;
    sum.bytes += size;
    Ok(())
}

/// Reports bytes as they are read, and stops on request.
struct Progress<'a, R> {
    inner: R,
    walk: &'a mut dyn Walk,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.walk.stop() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let n = self.inner.read(buf)?;
        self.walk.progress(n as u64);
        Ok(n)
    }
}

/// A directory and everything below it, depth first, names sorted (the
/// same tree gives the same stream).
fn write_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: OwnedFd,
    st: &FileStat,
    name: &[u8],
    walk: &mut dyn Walk,
    sum: &mut Summary,
) -> io::Result<()> {
    let mut h = header(st, tar::EntryType::Directory, 0);
    tar.append_data(&mut h, OsStr::from_bytes(name), io::empty())?;
    sum.dirs += 1;
    let mut names: Vec<OsString> = Vec::new();
    let listing = nix::unistd::dup(dir.as_fd()).and_then(Dir::from_fd);
    match listing {
        Ok(mut d) => {
            for entry in d.iter() {
                match entry {
                    Ok(e) => {
                        let n = e.file_name().to_bytes();
                        if n != b"." && n != b".." {
                            names.push(OsString::from_vec(n.to_vec()));
                        }
                    }
                    Err(e) => {
                        walk.problem(name, &format!("cannot list it: {}", errno_text(e)));
                        sum.problems += 1;
                        break;
                    }
                }
            }
        }
        Err(e) => {
            walk.problem(name, &format!("cannot list it: {}", errno_text(e)));
            sum.problems += 1;
            return Ok(());
        }
    }
    names.sort();
    for child in names {
        if walk.stop() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let mut path = name.to_vec();
        path.push(b'/');
        path.extend_from_slice(child.as_bytes());
        let st = match fstatat(dir.as_fd(), child.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(e) => {
                walk.problem(&path, &errno_text(e));
                sum.problems += 1;
                continue;
            }
        };
        match kind(&st) {
            SFlag::S_IFDIR => match reopen(dir.as_fd(), &child, OFlag::O_DIRECTORY, &st) {
                Ok((_, fd)) if pseudo_fs(fd.as_fd()) => {
                    walk.problem(&path, "a kernel filesystem (proc, sys, cgroup): not copied");
                    sum.problems += 1;
                }
                Ok((now, fd)) => write_dir(tar, fd, &now, &path, walk, sum)?,
                Err(why) => {
                    walk.problem(&path, &why);
                    sum.problems += 1;
                }
            },
            SFlag::S_IFREG => match reopen(dir.as_fd(), &child, flags_for_read(false), &st) {
                Ok((now, fd)) => write_file(tar, File::from(fd), &now, &path, walk, sum)?,
                Err(why) => {
                    walk.problem(&path, &why);
                    sum.problems += 1;
                }
            },
            SFlag::S_IFLNK => match readlinkat(dir.as_fd(), child.as_os_str()) {
                Ok(target) => write_link(tar, &st, &path, target.as_bytes(), sum)?,
                Err(e) => {
                    walk.problem(&path, &errno_text(e));
                    sum.problems += 1;
                }
            },
            _ => {
                walk.problem(&path, &format!("{}: not copied", what(&st)));
                sum.problems += 1;
            }
        }
    }
    Ok(())
}

/// `name` in `dir` opened with `flags` (never following a symlink), if it
/// is still what `st`, read before, said: the same file of the same kind.
/// Else why not, in a few words.
fn reopen(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
    st: &FileStat,
) -> Result<(FileStat, OwnedFd), String> {
    let fd = openat(
        dir,
        name,
        flags | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_text)?;
    let now = fstat(fd.as_fd()).map_err(errno_text)?;
    if !same(st, &now) || kind(&now) != kind(st) {
        return Err("changed while it was read: not copied".into());
    }
    Ok((now, fd))
}

fn errno_text(e: Errno) -> String {
    crate::term::text::io_error(&io::Error::from(e))
}

/// What to do with the first component of every name in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Top {
    /// Keep it: the top lands in the destination directory under its own
    /// name (`cp SRC DIR/`).
    Keep,
    /// Give it this name (`cp SRC NEWNAME`, `cp FILE EXISTING-FILE`).
    Rename(OsString),
    /// Drop it: what is inside the top lands in the destination directory
    /// (`cp SRC/. DIR`).
    Strip,
}

/// Where a copy lands, as `docker cp` decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The directory entries are written into.
    pub dir: String,
    pub top: Top,
}

/// What is at a copy's destination path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Dir,
    Other,
    Missing,
}

/// `docker cp`'s rules: into an existing directory (its contents only when
/// the source ends in `/.`), else a new name in the parent (which must
/// exist), or over an existing file. `Err` is one sentence.
pub fn place(dest: &str, existing: Existing, contents: bool) -> Result<Placement, String> {
    match existing {
        Existing::Dir => Ok(Placement {
            dir: match dest.trim_end_matches('/') {
                "" => "/".to_string(),
                d => d.to_string(),
            },
            top: if contents { Top::Strip } else { Top::Keep },
        }),
        Existing::Missing if dest.ends_with('/') => Err(format!(
            "{dest} does not exist, and a destination ending in / must be a directory"
        )),
        Existing::Missing | Existing::Other => {
            let trimmed = dest.trim_end_matches('/');
            let (parent, base) = match trimmed.rsplit_once('/') {
                Some(("", base)) => ("/", base),
                Some((parent, base)) => (parent, base),
                None => (".", trimmed),
            };
            if base.is_empty() || base == "." || base == ".." {
                return Err(format!("{dest} is not a name a copy can take"));
            }
            Ok(Placement {
                dir: parent.to_string(),
                top: Top::Rename(OsString::from(base)),
            })
        }
    }
}

/// A stream entry that could not be written, with its path below the
/// destination directory.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", String::from_utf8_lossy(.path), crate::term::text::io_error(.source))]
pub struct ExtractError {
    pub path: Vec<u8>,
    #[source]
    pub source: io::Error,
}

/// Where [`extract`] reports entries it leaves out, and how far it got.
pub trait Sink {
    fn skipped(&mut self, path: &[u8], why: &str);
    /// A new entry begins: its path and size.
    fn entry(&mut self, _path: &[u8], _size: u64) {}
    fn progress(&mut self, _bytes: u64) {}
    fn stop(&self) -> bool {
        false
    }
}

/// The components of a name in a stream, or `None` for one that would
/// leave the destination (`..`) or is absolute.
fn components(name: &[u8]) -> Option<Vec<Vec<u8>>> {
    if name.starts_with(b"/") {
        return None;
    }
    let mut out = Vec::new();
    for c in name.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return None,
            c => out.push(c.to_vec()),
        }
    }
    Some(out)
}

/// Writes the stream `input` out below the directory `dest` (resolved as
/// `how` says, [`Resolve::Beneath`] or [`Resolve::BeneathNoSymlinks`]),
/// placing its top as `top` says. Regular files, directories, symlinks and
/// hard links to earlier entries are written, with their mode and mtime
/// (owners are whoever writes them); anything else is reported to `sink`
/// and left out. The first entry that cannot be written ends it.
pub fn extract<R: Read>(
    input: R,
    dest: BorrowedFd<'_>,
    how: Resolve,
    top: &Top,
    sink: &mut dyn Sink,
) -> Result<Summary, ExtractError> {
    let mut archive = tar::Archive::new(input);
    let fail = |path: &[u8], source: io::Error| ExtractError {
        path: path.to_vec(),
        source,
    };
    let entries = archive.entries().map_err(|e| fail(b"", e))?;
    let mut sum = Summary::default();
    // Directories get their mode and mtime last: a read-only directory
    // must first take its contents.
    let mut dirs: Vec<(Vec<Vec<u8>>, u32, i64)> = Vec::new();
    for entry in entries {
        if sink.stop() {
            return Err(fail(
                b"",
                io::Error::new(io::ErrorKind::Interrupted, "interrupted"),
            ));
        }
        let mut entry = entry.map_err(|e| fail(b"", e))?;
        let raw = entry.path_bytes().into_owned();
        let Some(comps) = components(&raw) else {
            sink.skipped(
                &raw,
                "a name outside the destination (absolute or with ..): not copied",
            );
            sum.problems += 1;
            continue;
        };
        let Some(comps) = placed(comps, top) else {
            continue;
        };
        let shown = comps.join(&b'/');
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let mtime = header.mtime().unwrap_or(0) as i64;
        let size = header.size().unwrap_or(0);
        let kind = header.entry_type();
        sink.entry(&shown, size);
        let (parent_comps, last) = comps.split_at(comps.len() - 1);
        let last = OsStr::from_bytes(&last[0]);
        let parent = parent_dir(dest, parent_comps, how).map_err(|e| fail(&shown, e))?;
        match kind {
            tar::EntryType::Directory => {
                make_dir(parent.as_fd(), last).map_err(|e| fail(&shown, e))?;
                dirs.push((comps.clone(), mode, mtime));
                sum.dirs += 1;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let file = create_file(parent.as_fd(), last).map_err(|e| fail(&shown, e))?;
                let mut file = File::from(file);
                copy_data(&mut entry, &mut file, sink).map_err(|e| fail(&shown, e))?;
                fchmod(file.as_fd(), Mode::from_bits_truncate(mode))
                    .map_err(|e| fail(&shown, e.into()))?;
                let t = TimeSpec::new(mtime, 0);
                futimens(file.as_fd(), &t, &t).map_err(|e| fail(&shown, e.into()))?;
                sum.files += 1;
                sum.bytes += size;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                make_symlink(parent.as_fd(), last, &target).map_err(|e| fail(&shown, e))?;
                let t = TimeSpec::new(mtime, 0);
                // A symlink's own time; some filesystems refuse it.
                let _ = nix::sys::stat::utimensat(
                    parent.as_fd(),
                    last,
                    &t,
                    &t,
                    UtimensatFlags::NoFollowSymlink,
                );
                sum.links += 1;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                let linked = components(&target)
                    .and_then(|c| placed(c, top))
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "a hard link to a name outside the destination",
                        )
                    })
                    .and_then(|c| make_hard_link(dest, &c, parent.as_fd(), last, how));
                match linked {
                    Ok(()) => sum.files += 1,
                    Err(e) => {
                        sink.skipped(
                            &shown,
                            &format!("a hard link not made: {}", crate::term::text::io_error(&e)),
                        );
                        sum.problems += 1;
                    }
                }
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                let what = match other {
                    tar::EntryType::Fifo => "a FIFO",
                    tar::EntryType::Char | tar::EntryType::Block => "a device",
                    _ => "an entry of an unknown kind",
                };
                sink.skipped(&shown, &format!("{what}: not copied"));
                sum.problems += 1;
            }
        }
    }
    // Deepest first, so a parent's mtime is set after its children change it.
    dirs.sort_by_key(|(c, _, _)| std::cmp::Reverse(c.len()));
    for (comps, mode, mtime) in dirs {
        let shown = comps.join(&b'/');
        let path = OsString::from_vec(shown.clone());
        let fd = open_below(dest, &path, OFlag::O_RDONLY | OFlag::O_DIRECTORY, how)
            .map_err(|e| fail(&shown, e))?;
        fchmod(fd.as_fd(), Mode::from_bits_truncate(mode)).map_err(|e| fail(&shown, e.into()))?;
        let t = TimeSpec::new(mtime, 0);
        futimens(fd.as_fd(), &t, &t).map_err(|e| fail(&shown, e.into()))?;
    }
    Ok(sum)
}

/// The components where an entry lands, or `None` for the top itself when
/// it is stripped (the destination directory, which is left as it is).
fn placed(mut comps: Vec<Vec<u8>>, top: &Top) -> Option<Vec<Vec<u8>>> {
    match top {
        Top::Keep => {}
        Top::Rename(name) => {
            if comps.is_empty() {
                comps.push(Vec::new());
            }
            comps[0] = name.as_bytes().to_vec();
        }
        Top::Strip => {
            if !comps.is_empty() {
                comps.remove(0);
            }
        }
    }
    (!comps.is_empty()).then_some(comps)
}

fn copy_data(input: &mut impl Read, out: &mut File, sink: &mut dyn Sink) -> io::Result<()> {
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        if sink.stop() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        sink.progress(n as u64);
    }
}

/// The directory `comps` below `dest`, made (0755 before umask) where it
/// is missing.
fn parent_dir(dest: BorrowedFd<'_>, comps: &[Vec<u8>], how: Resolve) -> io::Result<OwnedFd> {
    let path = OsString::from_vec(comps.join(&b'/'));
    match open_below(dest, &path, OFlag::O_PATH | OFlag::O_DIRECTORY, how) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let mut dir = open_below(
        dest,
        OsStr::new(""),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        how,
    )?;
    for c in comps {
        let name = OsStr::from_bytes(c);
        match nix::sys::stat::mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        dir = openat(
            dir.as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
    }
    Ok(dir)
}

/// A directory `name` in `parent`: made (0700 until its contents are in),
/// or one already there (not a symlink to one).
fn make_dir(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match nix::sys::stat::mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => {
            let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            if kind(&st) == SFlag::S_IFDIR {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("exists and is {}, not a directory", what(&st)),
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A regular file `name` in `parent`, created or truncated; a symlink in
/// its place is replaced, never followed; anything but a regular file is
/// refused.
fn create_file(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlag::O_WRONLY
        | OFlag::O_CREAT
        | OFlag::O_TRUNC
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(0o600);
    let fd = match openat(parent, name, flags, mode) {
        Err(Errno::ELOOP) => {
            nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir)?;
            openat(parent, name, flags | OFlag::O_EXCL, mode)?
        }
        other => other?,
    };
    let st = fstat(fd.as_fd())?;
    if kind(&st) != SFlag::S_IFREG {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("exists and is {}, not a regular file", what(&st)),
        ));
    }
    Ok(fd)
}

fn make_symlink(parent: BorrowedFd<'_>, name: &OsStr, target: &[u8]) -> io::Result<()> {
    let target = OsStr::from_bytes(target);
    match nix::unistd::symlinkat(target, parent, name) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => {
            let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            if kind(&st) == SFlag::S_IFDIR {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is a directory",
                ));
            }
            nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir)?;
            nix::unistd::symlinkat(target, parent, name).map_err(io::Error::from)
        }
        Err(e) => Err(e.into()),
    }
}

fn make_hard_link(
    dest: BorrowedFd<'_>,
    target: &[Vec<u8>],
    parent: BorrowedFd<'_>,
    name: &OsStr,
    how: Resolve,
) -> io::Result<()> {
    let (dir, last) = target.split_at(target.len() - 1);
    let from = parent_dir_existing(dest, dir, how)?;
    nix::unistd::linkat(
        from.as_fd(),
        OsStr::from_bytes(&last[0]),
        parent,
        name,
        AtFlags::empty(),
    )
    .map_err(io::Error::from)
}

fn parent_dir_existing(
    dest: BorrowedFd<'_>,
    comps: &[Vec<u8>],
    how: Resolve,
) -> io::Result<OwnedFd> {
    let path = OsString::from_vec(comps.join(&b'/'));
    open_below(dest, &path, OFlag::O_PATH | OFlag::O_DIRECTORY, how)
}

/// What is at `path` below `root` (resolved as `how` says), for
/// [`place`].
pub fn existing(root: BorrowedFd<'_>, path: &OsStr, how: Resolve) -> io::Result<Existing> {
    match open_below(root, path, OFlag::O_PATH, how) {
        Ok(fd) => Ok(if kind(&fstat(fd.as_fd())?) == SFlag::S_IFDIR {
            Existing::Dir
        } else {
            Existing::Other
        }),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(Existing::Missing),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    struct Quiet(Vec<String>);
    impl Walk for Quiet {
        fn problem(&mut self, path: &[u8], what: &str) {
            self.0
                .push(format!("{}: {what}", String::from_utf8_lossy(path)));
        }
    }
    impl Sink for Quiet {
        fn skipped(&mut self, path: &[u8], why: &str) {
            self.0
                .push(format!("{}: {why}", String::from_utf8_lossy(path)));
        }
    }

    fn tree_to_tar(root: &std::path::Path, path: &str, name: &str) -> (Vec<u8>, Vec<String>) {
        let fd = open_dir(root).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut q = Quiet(Vec::new());
        write_tree(
            &mut tar,
            fd.as_fd(),
            OsStr::new(path),
            Resolve::InRoot,
            false,
            OsStr::new(name),
            &mut q,
        )
        .unwrap();
        (tar.into_inner().unwrap(), q.0)
    }

    #[test]
    fn exact_size_pads_a_shrunk_file_and_cuts_a_grown_one() {
        let mut out = Vec::new();
        ExactSize::new(&b"abc"[..], 5)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"abc\0\0");
        out.clear();
        ExactSize::new(&b"abcdef"[..], 2)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"ab");
    }

    #[test]
    fn a_tree_round_trips_with_modes_times_and_links() {
        let src = tempfile::tempdir().unwrap();
        let top = src.path().join("data");
        fs::create_dir_all(top.join("sub/deeper")).unwrap();
        fs::write(top.join("a.txt"), b"alpha").unwrap();
        fs::write(top.join("sub/deeper/b.bin"), vec![7u8; 300_000]).unwrap();
        fs::set_permissions(top.join("a.txt"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("a.txt", top.join("link")).unwrap();
        let t = TimeSpec::new(1_600_000_000, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &top.join("a.txt"),
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        let (tar, problems) = tree_to_tar(src.path(), "/data", "data");
        assert!(problems.is_empty(), "{problems:?}");

        let dst = tempfile::tempdir().unwrap();
        let fd = open_dir(dst.path()).unwrap();
        let sum = extract(
            &tar[..],
            fd.as_fd(),
            Resolve::BeneathNoSymlinks,
            &Top::Rename("copy".into()),
            &mut Quiet(Vec::new()),
        )
        .unwrap();
        assert_eq!((sum.files, sum.dirs, sum.links), (2, 3, 1));
        let out = dst.path().join("copy");
        assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"alpha");
        assert_eq!(
            fs::read(out.join("sub/deeper/b.bin")).unwrap().len(),
            300_000
        );
        let m = fs::metadata(out.join("a.txt")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        assert_eq!(m.mtime(), 1_600_000_000);
        assert_eq!(
            fs::read_link(out.join("link")).unwrap().to_str(),
            Some("a.txt")
        );
    }

    #[test]
    fn a_symlink_in_the_source_root_stays_inside_it() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("etc")).unwrap();
        fs::write(root.path().join("etc/passwd"), b"target's passwd\n").unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("conf")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", root.path().join("up")).unwrap();
        let fd = open_dir(root.path()).unwrap();
        for path in ["/conf/passwd", "/up"] {
            let mut tar = tar::Builder::new(Vec::new());
            write_tree(
                &mut tar,
                fd.as_fd(),
                OsStr::new(path),
                Resolve::InRoot,
                true,
                OsStr::new("p"),
                &mut Quiet(Vec::new()),
            )
            .unwrap();
            let bytes = tar.into_inner().unwrap();
            let mut a = tar::Archive::new(&bytes[..]);
            let mut e = a.entries().unwrap().next().unwrap().unwrap();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            assert_eq!(text, "target's passwd\n", "{path} left the root");
        }
    }

    #[test]
    fn a_hostile_stream_cannot_write_outside_the_destination() {
        let outside = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        tar.append_link(&mut link, "top/escape", outside.path())
            .unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_entry_type(tar::EntryType::Regular);
        file.set_mode(0o644);
        file.set_size(4);
        tar.append_data(&mut file, "top/escape/owned", &b"evil"[..])
            .unwrap();
        let bytes = tar.into_inner().unwrap();
        let fd = open_dir(dst.path()).unwrap();
        let err = extract(
            &bytes[..],
            fd.as_fd(),
            Resolve::BeneathNoSymlinks,
            &Top::Keep,
            &mut Quiet(Vec::new()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("top/escape/owned"), "{err}");
        assert!(!outside.path().join("owned").exists());

        // Names with .. or a leading / are left out, and said so.
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_old();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(1);
        h.as_old_mut().name[..9].copy_from_slice(b"../x.txt\0");
        h.set_cksum();
        tar.append(&h, &b"x"[..]).unwrap();
        let bytes = tar.into_inner().unwrap();
        let mut q = Quiet(Vec::new());
        extract(
            &bytes[..],
            fd.as_fd(),
            Resolve::BeneathNoSymlinks,
            &Top::Keep,
            &mut q,
        )
        .unwrap();
        assert!(q.0[0].contains("outside the destination"), "{:?}", q.0);
        assert!(!dst.path().parent().unwrap().join("x.txt").exists());
    }

    #[test]
    fn fifos_and_kernel_filesystems_are_reported_never_opened() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("d")).unwrap();
        nix::unistd::mkfifo(&root.path().join("d/pipe"), Mode::from_bits_truncate(0o644)).unwrap();
        fs::write(root.path().join("d/ok"), b"fine").unwrap();
        let (tar, problems) = tree_to_tar(root.path(), "d", "d");
        assert_eq!(problems, ["d/pipe: a FIFO: not copied"]);
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["d", "d/ok"]);
    }

    #[test]
    fn placement_follows_docker_cp() {
        assert_eq!(
            place("/app", Existing::Dir, false).unwrap(),
            Placement {
                dir: "/app".into(),
                top: Top::Keep
            }
        );
        assert_eq!(place("/app", Existing::Dir, true).unwrap().top, Top::Strip);
        assert_eq!(
            place("/app/new", Existing::Missing, false).unwrap(),
            Placement {
                dir: "/app".into(),
                top: Top::Rename("new".into())
            }
        );
        assert_eq!(place("/new", Existing::Missing, false).unwrap().dir, "/");
        assert_eq!(place("out", Existing::Missing, false).unwrap().dir, ".");
        assert!(place("/app/missing/", Existing::Missing, false).is_err());
        assert_eq!(
            place("/app/file", Existing::Other, false).unwrap().top,
            Top::Rename("file".into())
        );
    }
}
