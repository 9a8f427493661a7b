//! `/proc/PID/mountinfo` (see proc(5)): one parser for `mounts`, `df`,
//! `cgroup`, `why`, `writable` and `doctor`.

use serde::Serialize;

/// One line of `/proc/PID/mountinfo` (see proc(5)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub mount_id: u32,
    pub parent_id: u32,
    pub source: String,
    /// The mount point, relative to the reading process's root.
    pub target: String,
    pub fstype: String,
    /// The directory of the filesystem mounted here (not `/` for bind mounts).
    pub root: String,
    pub mount_options: Vec<String>,
    pub super_options: Vec<String>,
    pub flags: Vec<String>,
}

impl Mount {
    pub fn has_option(&self, opt: &str) -> bool {
        self.mount_options.iter().any(|o| o == opt) || self.super_options.iter().any(|o| o == opt)
    }
}

/// Undo the kernel's octal escapes (`\040` space, `\011` tab, `\012`
/// newline, `\134` backslash) in a mountinfo field.
pub fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one mountinfo line:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
pub fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 6 || r.len() < 2 {
        return None;
    }
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut m = Mount {
        mount_id: l[0].parse().ok()?,
        parent_id: l[1].parse().ok()?,
        root: unescape(l[3]),
        target: unescape(l[4]),
        mount_options: split(l[5]),
        fstype: unescape(r[0]),
        source: unescape(r[1]),
        super_options: r.get(2).map(|s| split(s)).unwrap_or_default(),
        flags: Vec::new(),
    };
    m.flags = ["ro", "noexec", "nosuid", "nodev"]
        .into_iter()
        .filter(|f| m.has_option(f))
        .map(str::to_string)
        .collect();
    Some(m)
}

/// Parse a whole mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

impl Mount {
    pub fn readonly(&self) -> bool {
        self.flags.iter().any(|f| f == "ro")
    }

    pub fn noexec(&self) -> bool {
        self.flags.iter().any(|f| f == "noexec")
    }

    pub fn nosuid(&self) -> bool {
        self.flags.iter().any(|f| f == "nosuid")
    }
}

/// The mounts this process sees (inside the target's mount namespace and
/// root, the target's own).
pub fn read_self() -> Vec<Mount> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// The mount holding `path` (absolute): the longest mount point that is a
/// prefix; the last one mounted wins on ties, as the kernel stacks them.
pub fn mount_of<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.target == "/"
                || path == m.target
                || path.starts_with(&format!("{}/", m.target.trim_end_matches('/')))
        })
        .max_by_key(|(i, m)| (m.target.len(), *i))
        .map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_of_picks_the_longest_prefix() {
        let text = "1 0 0:1 / / rw - overlay o rw\n2 1 0:2 / /var/log rw - tmpfs t rw\n";
        let m = parse(text);
        assert_eq!(mount_of(&m, "/var/log/app").unwrap().target, "/var/log");
        assert_eq!(mount_of(&m, "/var/logs").unwrap().target, "/");
        assert_eq!(mount_of(&m, "/var/log").unwrap().target, "/var/log");
    }

    #[test]
    fn flags_come_from_mount_and_super_options() {
        let text = "22 1 0:21 / / ro,relatime - overlay overlay rw\n31 22 0:6 / /my\\040dir rw,noexec shared:1 - ext4 /dev/sda1 rw,nosuid\n";
        let m = parse(text);
        assert!(m[0].readonly());
        assert_eq!(m[1].target, "/my dir");
        assert!(m[1].noexec() && m[1].nosuid() && !m[1].readonly());
    }

    const SAMPLE: &str = "\
1165 1042 0:97 / / rw,relatime master:490 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/u,workdir=/w
1166 1165 0:100 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1170 1165 0:101 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
1171 1170 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot
1180 1165 8:1 /var/lib/docker/volumes/my\\040data/_data /srv/my\\040data rw,relatime - ext4 /dev/sda1 rw
garbage line
";

    #[test]
    fn mountinfo_parses_options_flags_and_bind_roots() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].target, "/");
        assert_eq!(m[0].fstype, "overlay");
        assert!(m[0].flags.is_empty());
        assert_eq!(m[1].flags, ["noexec", "nosuid", "nodev"]);
        assert_eq!(m[2].flags, ["ro", "noexec", "nosuid", "nodev"]);
        assert_eq!(m[3].fstype, "cgroup2");
        assert_eq!(m[3].parent_id, 1170);
        assert_eq!(
            m[3].super_options,
            ["rw", "nsdelegate", "memory_recursiveprot"]
        );
    }

    #[test]
    fn mountinfo_escaped_spaces_are_decoded() {
        let m = parse(SAMPLE);
        assert_eq!(m[4].target, "/srv/my data");
        assert_eq!(m[4].root, "/var/lib/docker/volumes/my data/_data");
        assert_eq!(unescape("a\\011b\\012c\\134d"), "a\tb\nc\\d");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }
}
