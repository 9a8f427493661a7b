//! `readlink [-f] PATH...`, and canonicalization inside the target.

use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the target of a symbolic link, or with -f the canonical path.
///
/// With -f, print the canonical path
/// inside the target: every symlink resolved against the target's root
/// (an absolute link never leads out of it); all but the last component
/// must exist.
#[derive(Parser)]
#[command(name = "readlink", disable_version_flag = true)]
pub struct Readlink {
    /// Canonicalize by following every symlink.
    #[arg(short = 'f', long = "canonicalize")]
    canonicalize: bool,
    #[arg(required = true)]
    paths: Vec<String>,
}

/// Links followed before giving up, as the kernel's MAXSYMLINKS.
const MAX_LINKS: usize = 40;

/// `path` with every symlink resolved as the target sees it. The last
/// component may be missing (GNU `readlink -f`); an earlier one may not.
pub fn canonicalize(ctx: &Ctx, path: &str) -> io::Result<String> {
    let mut todo: Vec<Vec<u8>> = ctx
        .abs(path)
        .as_bytes()
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(<[u8]>::to_vec)
        .collect();
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        match comp.as_slice() {
            b"." => continue,
            b".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        done.push(comp);
        let current = join(&done);
        let real = ctx.resolve_link(&current);
        match fs::symlink_metadata(&real) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = fs::read_link(&real)?;
                let t = target.as_os_str().as_bytes();
                done.pop();
                if t.starts_with(b"/") {
                    done.clear();
                }
                todo.extend(
                    t.split(|b| *b == b'/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(<[u8]>::to_vec),
                );
            }
            Ok(m) if !m.is_dir() && !todo.is_empty() => {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && todo.is_empty() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(join(&done))
}

fn join(parts: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(p));
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

impl Builtin for Readlink {
    const NAME: &'static str = "readlink";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut status = 0;
        for p in &self.paths {
            let shown = escape::field(p.as_bytes());
            let result = if self.canonicalize {
                canonicalize(ctx, p)
            } else {
                fs::read_link(ctx.resolve_link(p))
                    .map(|t| String::from_utf8_lossy(t.as_os_str().as_bytes()).into_owned())
            };
            match result {
                Ok(t) => writeln!(io.out, "{}", escape::field(t.as_bytes()))?,
                Err(e) => {
                    let why = if e.raw_os_error() == Some(libc::EINVAL) {
                        "not a symbolic link".to_string()
                    } else {
                        util::io_error(&e)
                    };
                    writeln!(io.err, "readlink: {shown}: {why}")?;
                    status = 1;
                }
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn canonicalize_resolves_links_inside_the_target_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("usr/lib")).unwrap();
        fs::write(r.join("usr/lib/libc.so.6"), b"").unwrap();
        fs::create_dir_all(r.join("etc")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/lib", r.join("lib64")).unwrap();
        symlink("/../../../etc/passwd", r.join("escape")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let ctx = Ctx::for_root(r.to_path_buf());
        assert_eq!(
            canonicalize(&ctx, "/lib64/libc.so.6").unwrap(),
            "/usr/lib/libc.so.6"
        );
        assert_eq!(
            canonicalize(&ctx, "/lib64/./../lib/x").unwrap(),
            "/usr/lib/x"
        );
        assert_eq!(canonicalize(&ctx, "/escape").unwrap(), "/etc/passwd");
        assert!(canonicalize(&ctx, "/nope/x").is_err());
        assert_eq!(
            canonicalize(&ctx, "/loop").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert_eq!(canonicalize(&ctx, "/").unwrap(), "/");
    }
}
