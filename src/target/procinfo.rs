//! Parsers for `/proc` files, shared by the toolbox's drop check and the
//! builtins. Each parser takes the file's text so tests feed recorded samples.
//!
//! Listings read forgivingly (a process that vanished or is unreadable is
//! skipped or shown partially); a single named target is read strictly.

use std::fs;
use std::io;
use std::path::PathBuf;

/// Capability names by bit number, as in `capabilities(7)`.
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub const CAP_NET_BIND_SERVICE: u32 = 10;

/// Decode a capability mask into names; unknown bits read `CAP_<n>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            CAP_NAMES
                .get(bit as usize)
                .map_or_else(|| format!("CAP_{bit}"), |n| (*n).to_string())
        })
        .collect()
}

/// The fields of `/proc/PID/status` nosh uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub name: String,
    pub state: String,
    pub ppid: i32,
    /// Real, effective, saved, filesystem.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
    /// The pid in each nested PID namespace, outermost first.
    pub nspid: Vec<i32>,
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    pub cap_bnd: u64,
    pub cap_amb: u64,
    pub no_new_privs: bool,
    pub seccomp: u32,
    pub vm_rss_kb: Option<u64>,
    pub threads: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("malformed /proc status: {0}")]
pub struct ParseError(pub String);

fn ids<const N: usize>(v: &str) -> Result<[u32; N], ParseError> {
    let parts: Vec<u32> = v
        .split_whitespace()
        .map(|x| x.parse().map_err(|_| ParseError(format!("bad id {x:?}"))))
        .collect::<Result<_, _>>()?;
    parts
        .try_into()
        .map_err(|_| ParseError(format!("expected {N} ids in {v:?}")))
}

fn hex(v: &str) -> Result<u64, ParseError> {
    u64::from_str_radix(v.trim(), 16).map_err(|_| ParseError(format!("bad mask {v:?}")))
}

/// Parse the text of `/proc/PID/status`.
pub fn parse_status(text: &str) -> Result<Status, ParseError> {
    let mut st = Status::default();
    let mut seen_uid = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => st.name = value.to_string(),
            "State" => st.state = value.to_string(),
            "PPid" => st.ppid = value.parse().unwrap_or(0),
            "Uid" => {
                st.uid = ids(value)?;
                seen_uid = true;
            }
            "Gid" => st.gid = ids(value)?,
            "Groups" => {
                st.groups = value
                    .split_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect()
            }
            "NSpid" => {
                st.nspid = value
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            }
            "CapInh" => st.cap_inh = hex(value)?,
            "CapPrm" => st.cap_prm = hex(value)?,
            "CapEff" => st.cap_eff = hex(value)?,
            "CapBnd" => st.cap_bnd = hex(value)?,
            "CapAmb" => st.cap_amb = hex(value)?,
            "NoNewPrivs" => st.no_new_privs = value == "1",
            "Seccomp" => st.seccomp = value.parse().unwrap_or(0),
            "VmRSS" => st.vm_rss_kb = value.split_whitespace().next().and_then(|n| n.parse().ok()),
            "Threads" => st.threads = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    if !seen_uid {
        return Err(ParseError("no Uid line".into()));
    }
    Ok(st)
}

/// The fields of `/proc/PID/stat` nosh uses (see proc(5)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub num_threads: i64,
    /// Clock ticks after boot.
    pub start_ticks: u64,
    /// Pages.
    pub rss_pages: i64,
}

/// Parse `/proc/PID/stat`. The command name is between the first '(' and the
/// last ')' because it may itself hold parentheses and spaces.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let bad = || {
        // The quoted start must end on a character boundary: the command
        // name may hold multibyte characters.
        let end = (0..=text.len().min(80))
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        ParseError(format!("bad stat line {:?}", &text[..end]))
    };
    let open = text.find('(').ok_or_else(bad)?;
    let close = text.rfind(')').ok_or_else(bad)?;
    if close < open {
        return Err(bad());
    }
    let pid = text[..open].trim().parse().map_err(|_| bad())?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let field = |n: usize| rest.get(n - 3).copied().ok_or_else(bad);
    Ok(Stat {
        pid,
        comm,
        state: field(3)?.chars().next().unwrap_or('?'),
        ppid: field(4)?.parse().map_err(|_| bad())?,
        pgrp: field(5)?.parse().map_err(|_| bad())?,
        num_threads: field(20)?.parse().map_err(|_| bad())?,
        start_ticks: field(22)?.parse().map_err(|_| bad())?,
        rss_pages: field(24)?.parse().map_err(|_| bad())?,
    })
}

/// Split a NUL-separated file (cmdline, environ) into its entries.
pub fn split_nul(bytes: &[u8]) -> Vec<Vec<u8>> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

/// Where `/proc` is, so tests can point it at recorded samples.
#[derive(Debug, Clone)]
pub struct Proc {
    pub root: PathBuf,
}

impl Default for Proc {
    fn default() -> Self {
        Proc {
            root: PathBuf::from("/proc"),
        }
    }
}

impl Proc {
    pub fn new(root: impl Into<PathBuf>) -> Proc {
        Proc { root: root.into() }
    }

    pub fn path(&self, pid: i32, file: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(file)
    }

    /// All numeric entries of /proc, ascending.
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        let mut pids: Vec<i32> = fs::read_dir(&self.root)?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    pub fn status(&self, pid: i32) -> io::Result<Status> {
        let text = fs::read_to_string(self.path(pid, "status"))?;
        parse_status(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    pub fn stat(&self, pid: i32) -> io::Result<Stat> {
        let text = fs::read_to_string(self.path(pid, "stat"))?;
        parse_stat(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    pub fn cmdline(&self, pid: i32) -> io::Result<Vec<Vec<u8>>> {
        Ok(split_nul(&fs::read(self.path(pid, "cmdline"))?))
    }

    pub fn environ(&self, pid: i32) -> io::Result<Vec<Vec<u8>>> {
        Ok(split_nul(&fs::read(self.path(pid, "environ"))?))
    }

    /// System boot time in seconds since the epoch (`btime` in /proc/stat).
    pub fn boot_time(&self) -> io::Result<u64> {
        let text = fs::read_to_string(self.root.join("stat"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no btime in /proc/stat"))
    }
}

/// Clock ticks per second for `/proc/PID/stat` times.
pub fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tdemo-app\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1\nNgid:\t0\nPid:\t1\nPPid:\t0\nTracerPid:\t0\nUid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\nFDSize:\t64\nGroups:\t65532 \nNStgid:\t4242\t1\nNSpid:\t4242\t1\nVmRSS:\t    1234 kB\nThreads:\t1\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t2\n";

    #[test]
    fn a_bad_stat_line_with_multibyte_text_at_byte_80_is_an_error() {
        let line = format!("1 ({}) S 0 1 1\n", "é".repeat(60));
        assert!(parse_stat(&line).is_err());
    }

    #[test]
    fn status_sample_parses() {
        let st = parse_status(STATUS).unwrap();
        assert_eq!(st.name, "demo-app");
        assert_eq!(st.uid, [65532; 4]);
        assert_eq!(st.groups, [65532]);
        assert_eq!(st.nspid, [4242, 1]);
        assert_eq!(st.cap_bnd, 0xa80425fb);
        assert_eq!(st.vm_rss_kb, Some(1234));
        assert_eq!(st.seccomp, 2);
        assert!(!st.no_new_privs);
    }

    #[test]
    fn status_without_uid_is_an_error() {
        assert!(parse_status("Name:\tx\n").is_err());
        assert!(parse_status("Uid:\t1 2\n").is_err());
    }

    #[test]
    fn docker_default_bounding_set_decodes() {
        let names = cap_names(0xa80425fb);
        assert!(names.contains(&"CAP_NET_BIND_SERVICE".to_string()));
        assert!(names.contains(&"CAP_CHOWN".to_string()));
        assert!(!names.contains(&"CAP_SYS_ADMIN".to_string()));
        assert_eq!(names.len(), 14);
        assert_eq!(cap_names(1 << 63), ["CAP_63"]);
    }

    #[test]
    fn stat_with_parentheses_in_name_parses() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 98765 1000 250 18446744073709551615";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.pid, 42);
        assert_eq!(st.comm, "a) b (c)");
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.num_threads, 3);
        assert_eq!(st.start_ticks, 98765);
        assert_eq!(st.rss_pages, 250);
    }

    #[test]
    fn truncated_stat_is_an_error() {
        assert!(parse_stat("1 (x) S 0").is_err());
        assert!(parse_stat("garbage").is_err());
    }

    #[test]
    fn nul_separated_lists_split() {
        assert_eq!(split_nul(b"a\0bc\0"), [b"a".to_vec(), b"bc".to_vec()]);
        assert!(split_nul(b"").is_empty());
    }
}
