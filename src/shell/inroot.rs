//! Paths resolved inside the target's root when the shell sees it through
//! `/proc/N/root` (no mount namespace: restricted mode).
//!
//! The kernel follows an absolute symlink met under `/proc/N/root` from
//! *this* process's root, and `..` may climb above a chrooted target's
//! root; neither is how the app sees its files. So every component is
//! walked here, as `openat2(RESOLVE_IN_ROOT)` would: `..` stops at the
//! target's root, an absolute link restarts there, a relative one goes on
//! from its directory, at most [`MAX_LINKS`] links. The path handed to the
//! kernel then holds no symlink but the final one (kept when the caller
//! asks not to follow it, as `lstat` does).
//!
//! A target that swaps a directory for a link between this walk and the
//! caller's open reaches, at worst, this toolbox's own files, with the
//! app's uid and no capabilities.

use std::fs;
use std::path::{Path, PathBuf};

/// As the kernel's limit on links followed in one lookup.
pub const MAX_LINKS: usize = 40;

/// `abs` (an absolute path as the target names it) as a path below `root`
/// with every symlink resolved inside `root`; the final one only when
/// `follow`. A component that does not exist ends the walk: the rest is
/// appended as given (without `..` above the root), for the caller's open
/// to fail on as it would for the app.
pub fn resolve(root: &Path, abs: &str, follow: bool) -> PathBuf {
    let mut done: Vec<String> = Vec::new();
    // Components still to walk, last first.
    let mut todo: Vec<String> = split_rev(abs);
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        match comp.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        // A trailing slash leaves "" behind: then the link is followed.
        let last = todo.is_empty();
        let here = below(root, &done).join(&comp);
        let target = match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() && (follow || !last) => fs::read_link(&here).ok(),
            Ok(_) => None,
            Err(_) => {
                // Gone or unreadable: the rest as given, clamped at the root.
                done.push(comp);
                while let Some(rest) = todo.pop() {
                    match rest.as_str() {
                        "" | "." => {}
                        ".." => {
                            done.pop();
                        }
                        _ => done.push(rest),
                    }
                }
                break;
            }
        };
        match target {
            Some(link) if links < MAX_LINKS => {
                links += 1;
                let text = link.to_string_lossy().into_owned();
                if text.starts_with('/') {
                    done.clear();
                }
                todo.extend(split_rev(&text));
            }
            // Too many links: left to the kernel, which says ELOOP.
            _ => done.push(comp),
        }
    }
    below(root, &done)
}

fn split_rev(path: &str) -> Vec<String> {
    path.split('/').rev().map(str::to_string).collect()
}

fn below(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A root with the links a distroless image has: an absolute link to a
    /// file, an absolute link to a directory, relative ones, and a loop.
    fn root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("usr/share/ca")).unwrap();
        fs::write(r.join("usr/share/ca/root.pem"), "pem").unwrap();
        fs::create_dir_all(r.join("etc/ssl/certs")).unwrap();
        symlink("/usr/share/ca/root.pem", r.join("etc/ssl/certs/ca.pem")).unwrap();
        symlink("/usr/share/ca", r.join("etc/ssl/share")).unwrap();
        symlink("./share/../share/ca/root.pem", r.join("usr/lib-rel")).unwrap();
        symlink("../../../../../../../usr/share", r.join("etc/up")).unwrap();
        symlink("loop-b", r.join("loop-a")).unwrap();
        symlink("loop-a", r.join("loop-b")).unwrap();
        t
    }

    #[test]
    fn absolute_links_land_inside_the_root() {
        let t = root();
        let r = t.path();
        assert_eq!(
            resolve(r, "/etc/ssl/certs/ca.pem", true),
            r.join("usr/share/ca/root.pem")
        );
        assert_eq!(
            resolve(r, "/etc/ssl/share/root.pem", false),
            r.join("usr/share/ca/root.pem")
        );
        assert_eq!(
            resolve(r, "/usr/lib-rel", true),
            r.join("usr/share/ca/root.pem")
        );
    }

    #[test]
    fn dot_dot_and_relative_links_stop_at_the_root() {
        let t = root();
        let r = t.path();
        assert_eq!(resolve(r, "/../../etc", true), r.join("etc"));
        assert_eq!(resolve(r, "/etc/up/ca", true), r.join("usr/share/ca"));
    }

    #[test]
    fn the_final_link_is_kept_when_not_followed() {
        let t = root();
        let r = t.path();
        assert_eq!(
            resolve(r, "/etc/ssl/certs/ca.pem", false),
            r.join("etc/ssl/certs/ca.pem")
        );
        // Intermediate links are followed either way.
        assert_eq!(resolve(r, "/etc/ssl/share/", false), r.join("usr/share/ca"));
    }

    #[test]
    fn missing_paths_and_loops_are_left_for_the_open_to_fail() {
        let t = root();
        let r = t.path();
        assert_eq!(
            resolve(r, "/etc/ssl/share/nope/../x", true),
            r.join("usr/share/ca/x")
        );
        assert_eq!(resolve(r, "/nope/../../..", true), r.to_path_buf());
        let looped = resolve(r, "/loop-a", true);
        assert!(looped.starts_with(r), "{looped:?}");
        assert!(fs::metadata(&looped).is_err());
    }
}
