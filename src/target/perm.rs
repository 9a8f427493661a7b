//! Why an access is allowed or denied: the permission walk behind `why`,
//! `writable` and `doctor`.
//!
//! The kernel's answer (`faccessat` as the shell's own identity, which is
//! the app's) is the verdict; the walk over every path component (owner,
//! group, mode, ACL, mount flags) is the explanation. When they disagree the
//! output says so rather than guessing.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::AccessFlags;
use serde::Serialize;

use crate::shell::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Access {
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "read" | "r" => Some(Access::Read),
            "write" | "w" => Some(Access::Write),
            "exec" | "x" | "execute" => Some(Access::Exec),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Exec => "exec",
        }
    }
}

/// The identity the shell runs as (the app's).
#[derive(Debug, Clone, Serialize)]
pub struct Who {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl Who {
    pub fn current() -> Who {
        let gid = nix::unistd::getegid().as_raw();
        let mut groups: Vec<u32> = nix::unistd::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        if !groups.contains(&gid) {
            groups.insert(0, gid);
        }
        Who {
            uid: nix::unistd::geteuid().as_raw(),
            gid,
            groups,
        }
    }
}

pub use crate::target::mountinfo::{Mount, mount_of};

/// The mounts this process sees.
pub fn mounts() -> Vec<Mount> {
    crate::target::mountinfo::read_self()
}

/// One step of the walk.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub owner: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
    pub mode: String,
    pub acl: Option<String>,
    pub mount: String,
    pub mount_flags: Vec<String>,
    /// What this step needs: "search" (x on a directory), "read", "write",
    /// "exec", "write+search" (create in a directory).
    pub need: String,
    pub ok: bool,
    /// Which class of the mode applied: owner, group, other, acl.
    pub class: String,
    pub symlink_to: Option<String>,
    pub exists: bool,
}

/// The component and bit that decide.
#[derive(Debug, Clone, Serialize)]
pub struct Deciding {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub path: String,
    pub access: Access,
    pub allowed: bool,
    pub identity: Who,
    pub deciding: Option<Deciding>,
    pub components: Vec<Component>,
    /// What to do about a denial: filled by the fix engine
    /// ([`crate::diagnosis::check`]), empty from [`check`] alone.
    pub fixes: Vec<String>,
    /// Set when the kernel's answer and the walk disagree.
    pub note: Option<String>,
}

/// One ACL entry: (tag, id, permission bits).
type AclEntry = (u16, u32, u16);

/// POSIX ACL entries from the `system.posix_acl_access` xattr, rendered as
/// getfacl does (`user:1000:rw-`); None when the file has none.
fn acl(path: &Path) -> Option<(String, Vec<AclEntry>)> {
    let mut buf = vec![0u8; 1024];
    let c =
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())).ok()?;
    let name = c"system.posix_acl_access";
    // SAFETY: c and name are NUL-terminated; buf is writable for its length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 4 {
        return None;
    }
    let buf = &buf[..n as usize];
    // Version 2 header, then entries of (tag u16, perm u16, id u32).
    let mut entries = Vec::new();
    let mut shown = Vec::new();
    for e in buf[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let rwx = format!(
            "{}{}{}",
            if perm & 4 != 0 { 'r' } else { '-' },
            if perm & 2 != 0 { 'w' } else { '-' },
            if perm & 1 != 0 { 'x' } else { '-' }
        );
        let label = match tag {
            0x01 => "user::".to_string(),
            0x02 => format!("user:{id}:"),
            0x04 => "group::".to_string(),
            0x08 => format!("group:{id}:"),
            0x10 => "mask::".to_string(),
            0x20 => "other::".to_string(),
            _ => continue,
        };
        shown.push(format!("{label}{rwx}"));
        entries.push((tag, id, perm));
    }
    // Only extended ACLs (named entries) are worth showing.
    entries
        .iter()
        .any(|(t, _, _)| *t == 0x02 || *t == 0x08)
        .then(|| (shown.join(","), entries))
}

/// Which permission bits apply to `who` for a file, and under which class.
fn class_bits(
    who: &Who,
    uid: u32,
    gid: u32,
    mode: u32,
    acl: Option<&[AclEntry]>,
) -> (u32, &'static str) {
    if who.uid == uid {
        return ((mode >> 6) & 7, "owner");
    }
    if let Some(entries) = acl {
        let mask = entries
            .iter()
            .find(|e| e.0 == 0x10)
            .map_or(7, |e| u32::from(e.2));
        if let Some(e) = entries.iter().find(|e| e.0 == 0x02 && e.1 == who.uid) {
            return (u32::from(e.2) & mask, "acl");
        }
        let mut group_perm: Option<u32> = None;
        for e in entries {
            let matches = (e.0 == 0x04 && who.groups.contains(&gid))
                || (e.0 == 0x08 && who.groups.contains(&e.1));
            if matches {
                group_perm = Some(group_perm.unwrap_or(0) | u32::from(e.2));
            }
        }
        if let Some(p) = group_perm {
            return (p & mask, "acl");
        }
        return (mode & 7, "other");
    }
    if who.groups.contains(&gid) {
        return ((mode >> 3) & 7, "group");
    }
    (mode & 7, "other")
}

fn class_label(class: &str) -> &str {
    match class {
        "owner" => "its owner",
        "group" => "its group",
        "acl" => "an ACL entry",
        _ => "others",
    }
}

/// Walk `path` for `access` as `who`.
pub fn check(ctx: &Ctx, path: &str, access: Option<Access>, who: &Who) -> Verdict {
    let abs = ctx.abs(path);
    let mounts = mounts();
    let exists = fs::symlink_metadata(ctx.resolve(&abs)).is_ok();
    let access = access.unwrap_or_else(|| default_access(ctx, &abs, exists));

    // Components: "/", "/var", "/var/log", ... the last is the path itself.
    let mut prefixes = vec!["/".to_string()];
    let mut acc = String::new();
    for part in abs.split('/').filter(|p| !p.is_empty()) {
        acc.push('/');
        acc.push_str(part);
        prefixes.push(acc.clone());
    }
    let last = prefixes.len() - 1;
    let mut components = Vec::new();
    let mut deciding: Option<Deciding> = None;

    for (i, p) in prefixes.iter().enumerate() {
        // The component itself (a link shows as one), and what it leads to.
        let real = ctx.resolve_link(p);
        let is_last = i == last;
        let meta = fs::metadata(ctx.resolve(p));
        let lmeta = fs::symlink_metadata(&real);
        let mount = mount_of(&mounts, p);
        let mut flags = Vec::new();
        if let Some(m) = mount {
            if m.readonly() {
                flags.push("ro".to_string());
            }
            if m.noexec() {
                flags.push("noexec".to_string());
            }
            if m.nosuid() {
                flags.push("nosuid".to_string());
            }
        }
        let Ok(m) = meta else {
            // A missing last component: creating it needs write+search on
            // the parent, which the previous step already reported on.
            let err = meta
                .err()
                .map(|e| crate::term::text::io_error(&e))
                .unwrap_or_default();
            components.push(Component {
                path: p.clone(),
                kind: "missing".into(),
                owner: String::new(),
                uid: 0,
                group: String::new(),
                gid: 0,
                mode: String::new(),
                acl: None,
                mount: mount.map(|m| m.target.clone()).unwrap_or_default(),
                mount_flags: flags,
                need: if is_last {
                    "create".into()
                } else {
                    "search".into()
                },
                ok: is_last && err.contains("No such file"),
                class: String::new(),
                symlink_to: None,
                exists: false,
            });
            if !is_last && deciding.is_none() {
                deciding = Some(Deciding {
                    path: p.clone(),
                    owner: String::new(),
                    group: String::new(),
                    mode: String::new(),
                    reason: format!("{p} cannot be reached: {err}"),
                });
            }
            break;
        };
        let acl = acl(&ctx.resolve(p));
        let (bits, class) = class_bits(
            who,
            m.uid(),
            m.gid(),
            m.mode(),
            acl.as_ref().map(|a| a.1.as_slice()),
        );
        let is_dir = m.is_dir();
        // What this step needs.
        let parent_of_missing = !exists && i + 1 == last;
        let (need, want): (&str, u32) = if is_last {
            match access {
                Access::Read => ("read", 4),
                Access::Write => ("write", 2),
                Access::Exec if is_dir => ("search", 1),
                Access::Exec => ("exec", 1),
            }
        } else if parent_of_missing && access == Access::Write {
            ("write+search", 3)
        } else {
            ("search", 1)
        };
        let mut ok = bits & want == want;
        let mut reason = String::new();
        let owner = crate::term::escape::field(ctx.user_name(m.uid()).as_bytes()).into_owned();
        let group = crate::term::escape::field(ctx.group_name(m.gid()).as_bytes()).into_owned();
        let mode_str = format!("{:04o}", m.mode() & 0o7777);
        if !ok {
            let missing: Vec<&str> = [(4, "r"), (2, "w"), (1, "x")]
                .iter()
                .filter(|(b, _)| want & b != 0 && bits & b == 0)
                .map(|(_, n)| *n)
                .collect();
            reason = format!(
                "{p} is {} {owner}:{group} {mode_str}; uid {} falls under {}, which lacks '{}' ({need})",
                if is_dir { "a directory" } else { "a file" },
                who.uid,
                class_label(class),
                missing.join(""),
            );
        }
        let writes = (is_last && access == Access::Write) || need == "write+search";
        if ok && writes && mount.is_some_and(|mm| mm.readonly()) {
            ok = false;
            reason = format!(
                "{p} is on a read-only mount ({}, {})",
                mount.map(|mm| mm.target.as_str()).unwrap_or("/"),
                mount.map(|mm| mm.fstype.as_str()).unwrap_or("")
            );
        }
        if ok && is_last && access == Access::Exec && !is_dir && mount.is_some_and(|mm| mm.noexec())
        {
            ok = false;
            reason = format!(
                "{p} is on a noexec mount ({})",
                mount.map(|mm| mm.target.as_str()).unwrap_or("/")
            );
        }
        if ok && is_last && access == Access::Exec && !is_dir && !m.is_file() {
            ok = false;
            reason = format!("{p} is not a regular file");
        }
        let symlink_to = lmeta
            .ok()
            .filter(|l| l.file_type().is_symlink())
            .and_then(|_| fs::read_link(&real).ok())
            .map(|t| crate::term::escape::os(t.as_os_str()).into_owned());
        components.push(Component {
            path: p.clone(),
            kind: if is_dir {
                "directory"
            } else if m.is_file() {
                "file"
            } else {
                "other"
            }
            .into(),
            owner: owner.clone(),
            uid: m.uid(),
            group: group.clone(),
            gid: m.gid(),
            mode: crate::term::text::mode_string(m.mode()),
            acl: acl.map(|a| a.0),
            mount: mount.map(|mm| mm.target.clone()).unwrap_or_default(),
            mount_flags: flags,
            need: need.into(),
            ok,
            class: class.into(),
            symlink_to,
            exists: true,
        });
        if !ok && deciding.is_none() {
            deciding = Some(Deciding {
                path: p.clone(),
                owner: owner.clone(),
                group: group.clone(),
                mode: mode_str.clone(),
                reason: reason.clone(),
            });
            break;
        }
    }
    let walk_allows = deciding.is_none();
    // The kernel's verdict, as this very identity.
    let kernel = kernel_allows(ctx, &abs, access, exists);
    let note = match (walk_allows, kernel) {
        (true, Some(false)) => Some("the modes allow it but the kernel refuses: a security module (AppArmor, SELinux), a seccomp filter or an immutable attribute decides".to_string()),
        (false, Some(true)) => Some("the modes deny it but the kernel allows it: an ACL or capability nosh does not model decides".to_string()),
        _ => None,
    };
    Verdict {
        path: abs,
        access,
        allowed: kernel.unwrap_or(walk_allows),
        identity: who.clone(),
        deciding,
        components,
        fixes: Vec::new(),
        note,
    }
}

/// The access that fails first (read, write, exec for executables), or
/// write for a path that does not exist yet.
fn default_access(ctx: &Ctx, abs: &str, exists: bool) -> Access {
    if !exists {
        return Access::Write;
    }
    for a in [Access::Read, Access::Write] {
        if kernel_allows(ctx, abs, a, true) == Some(false) {
            return a;
        }
    }
    Access::Write
}

/// `faccessat(AT_EACCESS)` as the shell's identity; for a missing path,
/// write+search on its parent.
fn kernel_allows(ctx: &Ctx, abs: &str, access: Access, exists: bool) -> Option<bool> {
    let (path, flags) = if exists {
        let f = match access {
            Access::Read => AccessFlags::R_OK,
            Access::Write => AccessFlags::W_OK,
            Access::Exec => AccessFlags::X_OK,
        };
        (ctx.resolve(abs), f)
    } else {
        let parent = Path::new(abs).parent()?.to_str()?.to_string();
        (ctx.resolve(&parent), AccessFlags::W_OK | AccessFlags::X_OK)
    };
    match nix::unistd::faccessat(
        nix::fcntl::AT_FDCWD,
        &path,
        flags,
        nix::fcntl::AtFlags::AT_EACCESS,
    ) {
        Ok(()) => Some(true),
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EROFS | nix::errno::Errno::EPERM) => {
            Some(false)
        }
        Err(_) => None,
    }
}

/// Why the directory `dir` (existing) is writable for `who`, if it is.
pub fn writable_reason(meta: &fs::Metadata, who: &Who, mount: Option<&Mount>) -> String {
    let tmpfs = mount.is_some_and(|m| m.fstype == "tmpfs");
    let base = if meta.uid() == who.uid {
        "owner"
    } else if who.groups.contains(&meta.gid()) && meta.mode() & 0o020 != 0 {
        "group"
    } else if meta.mode() & 0o002 != 0 {
        if meta.mode() & 0o1000 != 0 {
            "world (sticky)"
        } else {
            "world"
        }
    } else {
        "acl"
    };
    if tmpfs {
        format!("{base}, tmpfs (not persisted)")
    } else {
        base.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_classes_follow_owner_then_group_then_other() {
        let who = Who {
            uid: 65532,
            gid: 65532,
            groups: vec![65532],
        };
        assert_eq!(class_bits(&who, 65532, 0, 0o700, None), (7, "owner"));
        assert_eq!(class_bits(&who, 0, 65532, 0o750, None), (5, "group"));
        assert_eq!(class_bits(&who, 0, 0, 0o755, None), (5, "other"));
        // The owner class applies even when it grants less than others.
        assert_eq!(class_bits(&who, 65532, 0, 0o077, None), (0, "owner"));
    }

    #[test]
    fn acl_named_user_is_limited_by_the_mask() {
        let who = Who {
            uid: 65532,
            gid: 65532,
            groups: vec![65532],
        };
        let entries = [
            (0x01, 0, 7),
            (0x02, 65532, 7),
            (0x04, 0, 5),
            (0x10, 0, 5),
            (0x20, 0, 0),
        ];
        assert_eq!(class_bits(&who, 0, 0, 0o750, Some(&entries)), (5, "acl"));
    }
}
