//! The target's users and groups, from its own `/etc/passwd` and `/etc/group`.
//!
//! Never through libc: a static glibc `getpwnam` would need NSS at run time,
//! and it would read the toolbox's files, not the target's.

use std::path::Path;

use crate::target::file::{DATABASE_CAP, read_or_note};

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The target's user database; empty when the files are absent or unreadable.
#[derive(Debug, Clone, Default)]
pub struct Users {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

/// Lines longer than this are skipped: a hostile passwd must not make every
/// `ls -l` slow or huge.
const MAX_LINE: usize = 4096;

impl Users {
    /// Read `etc/passwd` and `etc/group` below `root`: regular files of at
    /// most [`DATABASE_CAP`] bytes; anything else is noted once on stderr
    /// and ids are shown as numbers.
    pub fn load(root: &Path) -> Users {
        let read = |p: &str, instead: &str| {
            let data = read_or_note(&format!("/{p}"), &root.join(p), DATABASE_CAP, instead);
            String::from_utf8_lossy(&data).into_owned()
        };
        Users {
            users: parse_passwd(&read("etc/passwd", "users are shown as numbers")),
            groups: parse_group(&read("etc/group", "groups are shown as numbers")),
        }
    }

    pub fn user_by_uid(&self, uid: u32) -> Option<&User> {
        self.users.iter().find(|u| u.uid == uid)
    }

    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn group_by_gid(&self, gid: u32) -> Option<&Group> {
        self.groups.iter().find(|g| g.gid == gid)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The user name for `uid`, or the number when the target has none.
    pub fn user_name(&self, uid: u32) -> String {
        self.user_by_uid(uid)
            .map_or_else(|| uid.to_string(), |u| u.name.clone())
    }

    /// The group name for `gid`, or the number when the target has none.
    pub fn group_name(&self, gid: u32) -> String {
        self.group_by_gid(gid)
            .map_or_else(|| gid.to_string(), |g| g.name.clone())
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| l.len() <= MAX_LINE && !l.starts_with('#') && !l.trim().is_empty())
}

/// Parse `/etc/passwd`; malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<User> {
    lines(text)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[0].is_empty() {
                return None;
            }
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// Parse `/etc/group`; malformed lines are skipped.
pub fn parse_group(text: &str) -> Vec<Group> {
    lines(text)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        broken line\n\
        bad:x:notanumber:0::/:/x\n\
        nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";

    #[test]
    fn passwd_skips_malformed_lines() {
        let users = parse_passwd(PASSWD);
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].name, "nonroot");
        assert_eq!(users[1].uid, 65532);
        assert_eq!(users[1].home, "/home/nonroot");
    }

    #[test]
    fn huge_lines_are_ignored() {
        let huge = format!("{}:x:1:1::/:/x\nok:x:2:2::/:/x\n", "a".repeat(100_000));
        let users = parse_passwd(&huge);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "ok");
    }

    #[test]
    fn group_members_are_split() {
        let groups = parse_group("adm:x:4:syslog,nonroot\nnonroot:x:65532:\n");
        assert_eq!(groups[0].members, ["syslog", "nonroot"]);
        assert!(groups[1].members.is_empty());
    }

    #[test]
    fn unknown_ids_fall_back_to_numbers() {
        let db = Users {
            users: parse_passwd(PASSWD),
            groups: vec![],
        };
        assert_eq!(db.user_name(65532), "nonroot");
        assert_eq!(db.user_name(1234), "1234");
        assert_eq!(db.group_name(7), "7");
    }
}
