//! The seccomp filter of direct attach.
//!
//! A sidecar's programs run under the engine's seccomp profile; a direct
//! session has no engine around it, so the toolbox installs one itself,
//! after the drop (no_new_privs is set) and before the shell runs: the
//! shell and everything it starts inherit it.
//!
//! Which profile:
//! - the target's own, when its engine wrote one down (the OCI spec's
//!   `linux.seccomp`: containerd's spec of the container, Docker's and
//!   Podman's bundle `config.json`), so target code run by the shell gets
//!   exactly what the app gets;
//! - otherwise [`built_in`]: what container engines' default profile
//!   gives a container with the default capabilities: every x86_64 call but
//!   [`DENIED`], `clone` without namespace flags, `socket` without AF_ALG
//!   and AF_VSOCK, the usual `personality` values, and `clone3` answered
//!   ENOSYS so that libc falls back to `clone`, whose flags can be checked.
//!
//! Calls the filter does not know (newer than its table, x32 numbers) get
//! EPERM, as under an engine's profile. Only x86_64 calls pass: a 32-bit
//! program is killed at its first call.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

use crate::sys::{self, SysError};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("the seccomp profile {0}")]
    Profile(String),
    #[error("failed to compile the seccomp profile")]
    Compile(#[source] seccompiler::BackendError),
}

/// What a filter answers a call with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Allow,
    Errno(u32),
}

impl From<Verdict> for SeccompAction {
    fn from(v: Verdict) -> SeccompAction {
        match v {
            Verdict::Allow => SeccompAction::Allow,
            Verdict::Errno(e) => SeccompAction::Errno(e),
        }
    }
}

/// One call and when the verdict applies: every condition holds (none:
/// always).
#[derive(Debug, Clone)]
struct Rule {
    nr: i64,
    verdict: Verdict,
    conditions: Vec<SeccompCondition>,
}

/// A profile before compilation: a default verdict and the rules that
/// depart from it.
#[derive(Debug, Clone)]
struct Profile {
    default: Verdict,
    rules: Vec<Rule>,
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct Filter {
    program: BpfProgram,
    /// Where the profile comes from, for the banner.
    pub source: String,
}

/// What engines' default profile denies a container with the default
/// capabilities on x86_64 (moby's `profiles/seccomp/default.json` and
/// containerd's, resolved for CAP_CHOWN ... CAP_SYS_CHROOT): new namespaces
/// and mounts, keyrings, bpf, perf, userfaultfd, io_uring, kernel modules,
/// kexec, open_by_handle_at, clocks, swap, reboot, NUMA policy, and
/// another process's memory or fds.
pub const DENIED: &[&str] = &[
    "_sysctl",
    "acct",
    "add_key",
    "afs_syscall",
    "bpf",
    "clock_settime",
    "create_module",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "getpmsg",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "mbind",
    "migrate_pages",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_madvise",
    "putpmsg",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "security",
    "set_mempolicy",
    "set_mempolicy_home_node",
    "setdomainname",
    "sethostname",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "syslog",
    "tuxcall",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vserver",
];

/// x86_64 calls newer than the trace table (Linux 6.5 to 6.13), by number.
const NEWER: &[(&str, i64)] = &[
    ("cachestat", 451),
    ("fchmodat2", 452),
    ("map_shadow_stack", 453),
    ("futex_wake", 454),
    ("futex_wait", 455),
    ("futex_requeue", 456),
    ("statmount", 457),
    ("listmount", 458),
    ("lsm_get_self_attr", 459),
    ("lsm_set_self_attr", 460),
    ("lsm_list_modules", 461),
    ("mseal", 462),
    ("setxattrat", 463),
    ("getxattrat", 464),
    ("listxattrat", 465),
    ("removexattrat", 466),
];

/// `clone` flags that make a namespace (CLONE_NEWNS, NEWCGROUP, NEWUTS,
/// NEWIPC, NEWUSER, NEWPID, NEWNET): engines allow `clone` only without.
const NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// x86_64 call numbers by name.
fn numbers() -> &'static HashMap<&'static str, i64> {
    static TABLE: OnceLock<HashMap<&'static str, i64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: HashMap<&'static str, i64> = (0..512i64)
            .filter_map(|nr| {
                let name = crate::trace::decode::name(nr as u64);
                (!name.starts_with("syscall_")).then(|| (&*Box::leak(name.into_boxed_str()), nr))
            })
            .collect();
        table.extend(NEWER.iter().copied());
        table
    })
}

fn number(name: &str) -> Option<i64> {
    numbers().get(name).copied()
}

fn condition(index: u8, op: SeccompCmpOp, value: u64) -> SeccompCondition {
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
        .expect("argument index below 6")
}

/// The profile for targets whose engine profile cannot be read.
fn built_in_profile() -> Profile {
    let eperm = Verdict::Errno(libc::EPERM as u32);
    let mut rules: Vec<Rule> = numbers()
        .iter()
        .filter(|(name, _)| !DENIED.contains(name))
        .filter(|(name, _)| !["clone", "clone3", "socket", "personality"].contains(name))
        .map(|(_, &nr)| Rule {
            nr,
            verdict: Verdict::Allow,
            conditions: Vec::new(),
        })
        .collect();
    let allow_when = |name: &str, conditions: Vec<SeccompCondition>| Rule {
        nr: number(name).expect("a call of the table"),
        verdict: Verdict::Allow,
        conditions,
    };
    rules.push(allow_when(
        "clone",
        vec![condition(0, SeccompCmpOp::MaskedEq(NAMESPACE_FLAGS), 0)],
    ));
    // AF_ALG (38) and AF_VSOCK (40) stay closed.
    for (op, family) in [
        (SeccompCmpOp::Lt, 38),
        (SeccompCmpOp::Eq, 39),
        (SeccompCmpOp::Gt, 40),
    ] {
        rules.push(allow_when("socket", vec![condition(0, op, family)]));
    }
    // PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and the query.
    for persona in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        rules.push(allow_when(
            "personality",
            vec![condition(0, SeccompCmpOp::Eq, persona)],
        ));
    }
    rules.push(Rule {
        nr: number("clone3").expect("a call of the table"),
        verdict: Verdict::Errno(libc::ENOSYS as u32),
        conditions: Vec::new(),
    });
    Profile {
        default: eperm,
        rules,
    }
}

/// Engines' default profile, compiled.
pub fn built_in() -> Result<Filter, SeccompError> {
    compile(
        &built_in_profile(),
        "the engines' default profile (built in)".into(),
    )
}

/// The OCI spec's `linux.seccomp` (runtime-spec config-linux.md), compiled;
/// `source` says where it was read.
pub fn from_oci(seccomp: &serde_json::Value, source: String) -> Result<Filter, SeccompError> {
    compile(&parse_oci(seccomp)?, source)
}

fn verdict(action: &serde_json::Value, errno: &serde_json::Value) -> Result<Verdict, SeccompError> {
    let eperm = libc::EPERM as u32;
    let errno = errno
        .as_u64()
        .and_then(|e| u32::try_from(e).ok())
        .unwrap_or(eperm);
    match action.as_str().unwrap_or_default() {
        "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" => Ok(Verdict::Allow),
        "SCMP_ACT_ERRNO" => Ok(Verdict::Errno(errno)),
        // Stricter actions answer EPERM: the shell runs under the same
        // filter, and a killed shell ends the session.
        "SCMP_ACT_KILL"
        | "SCMP_ACT_KILL_PROCESS"
        | "SCMP_ACT_KILL_THREAD"
        | "SCMP_ACT_TRAP"
        | "SCMP_ACT_TRACE"
        | "SCMP_ACT_NOTIFY" => Ok(Verdict::Errno(eperm)),
        other => Err(SeccompError::Profile(format!(
            "has an unknown action '{}'",
            crate::term::escape::field(other.as_bytes())
        ))),
    }
}

fn oci_condition(arg: &serde_json::Value) -> Result<SeccompCondition, SeccompError> {
    let bad = |what: &str| SeccompError::Profile(format!("has an argument rule with {what}"));
    let index = arg["index"]
        .as_u64()
        .filter(|i| *i < 6)
        .ok_or_else(|| bad("no index below 6"))? as u8;
    let value = arg["value"].as_u64().unwrap_or(0);
    let two = arg["valueTwo"].as_u64().unwrap_or(0);
    let (op, value) = match arg["op"].as_str().unwrap_or_default() {
        "SCMP_CMP_NE" => (SeccompCmpOp::Ne, value),
        "SCMP_CMP_LT" => (SeccompCmpOp::Lt, value),
        "SCMP_CMP_LE" => (SeccompCmpOp::Le, value),
        "SCMP_CMP_EQ" => (SeccompCmpOp::Eq, value),
        "SCMP_CMP_GE" => (SeccompCmpOp::Ge, value),
        "SCMP_CMP_GT" => (SeccompCmpOp::Gt, value),
        // libseccomp: (arg & value) == valueTwo.
        "SCMP_CMP_MASKED_EQ" => (SeccompCmpOp::MaskedEq(value), two),
        _ => return Err(bad("an unknown operator")),
    };
    Ok(condition(index, op, value))
}

fn parse_oci(seccomp: &serde_json::Value) -> Result<Profile, SeccompError> {
    let default = verdict(&seccomp["defaultAction"], &seccomp["defaultErrnoRet"])?;
    let mut rules = Vec::new();
    for entry in seccomp["syscalls"].as_array().into_iter().flatten() {
        let verdict = verdict(&entry["action"], &entry["errnoRet"])?;
        let conditions = entry["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(oci_condition)
            .collect::<Result<Vec<_>, _>>()?;
        let names = entry["names"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&entry["name"]))
            .filter_map(|n| n.as_str());
        // Names of other architectures, or newer than the table: libseccomp
        // skips them as well.
        for nr in names.filter_map(number) {
            rules.push(Rule {
                nr,
                verdict,
                conditions: conditions.clone(),
            });
        }
    }
    Ok(Profile { default, rules })
}

/// One seccompiler filter per verdict that departs from the default (a
/// filter has one action on match and one on mismatch), chained into one
/// program: each errno filter first, where a call it does not match goes
/// on to the next one instead of being allowed, then the allowing filter,
/// whose mismatch is the default. So an errno rule wins over the default
/// and over an allowing rule of the same call, and the whole profile is
/// installed at once (it may not allow installing a second filter).
fn compile(profile: &Profile, source: String) -> Result<Filter, SeccompError> {
    // Verdict -> call -> its rules; `None` means "always".
    let mut grouped: BTreeMap<Verdict, BTreeMap<i64, Option<Vec<SeccompRule>>>> = BTreeMap::new();
    for rule in profile
        .rules
        .iter()
        .filter(|r| r.verdict != profile.default)
    {
        let chain = grouped
            .entry(rule.verdict)
            .or_default()
            .entry(rule.nr)
            .or_insert_with(|| Some(Vec::new()));
        if rule.conditions.is_empty() {
            *chain = None;
        } else if let Some(chain) = chain {
            chain.push(SeccompRule::new(rule.conditions.clone()).map_err(SeccompError::Compile)?);
        }
    }
    if grouped.is_empty() {
        return Err(SeccompError::Profile("denies nothing".into()));
    }
    // Errno verdicts sort after Allow: reversed, the allowing filter is last.
    let mut programs = Vec::new();
    for (verdict, calls) in grouped.into_iter().rev() {
        let mismatch = match verdict {
            Verdict::Allow => profile.default,
            Verdict::Errno(_) => Verdict::Allow,
        };
        let rules = calls
            .into_iter()
            .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
            .collect();
        let filter = SeccompFilter::new(rules, mismatch.into(), verdict.into(), TargetArch::x86_64)
            .map_err(SeccompError::Compile)?;
        programs.push(BpfProgram::try_from(filter).map_err(SeccompError::Compile)?);
    }
    let program = chain(programs);
    if program.len() >= BPF_MAXINSNS {
        return Err(SeccompError::Profile(format!(
            "needs {} instructions, more than the kernel's {BPF_MAXINSNS}",
            program.len()
        )));
    }
    Ok(Filter { program, source })
}

/// The kernel's limit on one filter's length.
const BPF_MAXINSNS: usize = 4096;

/// `BPF_RET | BPF_K` and `BPF_JMP | BPF_JA` (linux/bpf_common.h).
const RET_K: u16 = 0x06;
const JUMP_ALWAYS: u16 = 0x05;

/// Programs one after the other: in every program but the last, "allow"
/// becomes "go on to the next program". Jumps are relative and only go
/// forward, and no instruction moves within its program, so each one's
/// own jumps stay right.
fn chain(programs: Vec<BpfProgram>) -> BpfProgram {
    let last = programs.len().saturating_sub(1);
    let mut out = Vec::new();
    for (i, program) in programs.into_iter().enumerate() {
        let len = program.len();
        for (at, insn) in program.into_iter().enumerate() {
            let allows = insn.code == RET_K && insn.k == libc::SECCOMP_RET_ALLOW;
            out.push(if i != last && allows {
                sock_filter {
                    code: JUMP_ALWAYS,
                    jt: 0,
                    jf: 0,
                    // To the first instruction after this program.
                    k: (len - 1 - at) as u32,
                }
            } else {
                insn
            });
        }
    }
    out
}

impl Filter {
    /// Install the filter on this process, then check the kernel says so.
    pub fn install(&self) -> Result<(), SysError> {
        sys::install_seccomp(&self.program)?;
        match sys::seccomp_mode()? {
            2 => Ok(()),
            _ => Err(SysError::Call {
                op: "confirm the seccomp filter",
                source: nix::errno::Errno::EINVAL,
            }),
        }
    }

    /// BPF instructions, for tests and the curious.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `probe` in a forked child under `filter` (with no_new_privs)
    /// and returns its exit status. Only raw syscalls between fork and
    /// exit: the test harness has other threads.
    fn under(filter: &Filter, probe: fn() -> i32) -> i32 {
        // SAFETY: the child makes only raw system calls (prctl, seccomp via
        // seccompiler's apply, the probe's calls) and _exits.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: prctl takes integers; _exit never returns.
                unsafe {
                    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                        libc::_exit(200);
                    }
                }
                if seccompiler::apply_filter(&filter.program).is_err() {
                    // SAFETY: _exit never returns.
                    unsafe { libc::_exit(201) };
                }
                let code = probe();
                // SAFETY: _exit never returns.
                unsafe { libc::_exit(code) }
            }
            pid if pid > 0 => {
                let mut status = 0;
                // SAFETY: waits for our own child; status is a valid int.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert!(libc::WIFEXITED(status), "the child died: {status:#x}");
                libc::WEXITSTATUS(status)
            }
            _ => panic!("fork failed"),
        }
    }

    /// The errno of a raw call with integer arguments (0: it succeeded).
    fn errno_after(nr: libc::c_long, args: [libc::c_long; 5]) -> i32 {
        // SAFETY: the probes pass integers, null pointers or pointers to
        // static C strings, which these calls only read.
        let rc = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4]) };
        if rc == -1 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        } else {
            0
        }
    }

    #[test]
    fn the_built_in_profile_compiles_within_the_kernels_limit() {
        let f = built_in().unwrap();
        assert!(f.len() < BPF_MAXINSNS, "{}", f.len());
        let profile = built_in_profile();
        for nr in DENIED.iter().filter_map(|n| number(n)) {
            assert!(
                !profile
                    .rules
                    .iter()
                    .any(|r| r.nr == nr && r.verdict == Verdict::Allow),
                "call {nr} allowed"
            );
        }
    }

    #[test]
    fn under_the_built_in_filter_namespaces_keyrings_and_mounts_are_refused() {
        let f = built_in().unwrap();
        let unshare = || errno_after(libc::SYS_unshare, [libc::CLONE_NEWUSER as _, 0, 0, 0, 0]);
        assert_eq!(under(&f, unshare), libc::EPERM);
        let keyctl = || errno_after(libc::SYS_keyctl, [0, -3, 0, 0, 0]);
        assert_eq!(under(&f, keyctl), libc::EPERM);
        let mount = || {
            let s = |c: &'static std::ffi::CStr| c.as_ptr() as libc::c_long;
            errno_after(libc::SYS_mount, [s(c"none"), s(c"/"), s(c"tmpfs"), 0, 0])
        };
        assert_eq!(under(&f, mount), libc::EPERM);
        // A clone that makes a namespace is refused; clone3 says ENOSYS.
        let clone_ns = || {
            let flags = (libc::CLONE_NEWNET | libc::SIGCHLD) as libc::c_long;
            errno_after(libc::SYS_clone, [flags, 0, 0, 0, 0])
        };
        assert_eq!(under(&f, clone_ns), libc::EPERM);
        let clone3 = || errno_after(libc::SYS_clone3, [0; 5]);
        assert_eq!(under(&f, clone3), libc::ENOSYS);
        let vsock = || {
            let a = [libc::AF_VSOCK as _, libc::SOCK_STREAM as _, 0, 0, 0];
            errno_after(libc::SYS_socket, a)
        };
        assert_eq!(under(&f, vsock), libc::EPERM);
        // Ordinary calls work.
        let ordinary = || {
            let unix = [libc::AF_UNIX as _, libc::SOCK_STREAM as _, 0, 0, 0];
            let null = [
                libc::AT_FDCWD as _,
                c"/dev/null".as_ptr() as libc::c_long,
                libc::O_RDONLY as _,
                0,
                0,
            ];
            errno_after(libc::SYS_getpid, [0; 5])
                + errno_after(libc::SYS_socket, unix)
                + errno_after(libc::SYS_openat, null)
        };
        assert_eq!(under(&f, ordinary), 0);
        // An x32 call number is no way around it.
        let x32 = || errno_after(0x4000_0000 | libc::SYS_getpid, [0; 5]);
        assert_eq!(under(&f, x32), libc::EPERM);
    }

    /// The shape of the `linux.seccomp` an engine writes into a container's
    /// OCI spec.
    const OCI: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["read", "write", "exit", "exit_group", "getpid", "rt_sigreturn",
                       "brk", "mmap", "munmap", "openat", "close", "no_such_call"],
             "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]
    }"#;

    #[test]
    fn an_engines_oci_profile_is_followed_call_by_call() {
        let json: serde_json::Value = serde_json::from_str(OCI).unwrap();
        let f = from_oci(&json, "test".into()).unwrap();
        assert_eq!(f.source, "test");
        assert_eq!(under(&f, || errno_after(libc::SYS_getpid, [0; 5])), 0);
        let getppid = || errno_after(libc::SYS_getppid, [0; 5]);
        assert_eq!(under(&f, getppid), libc::EACCES);
        let getuid = || errno_after(libc::SYS_getuid, [0; 5]);
        assert_eq!(under(&f, getuid), libc::EPERM);
        let clone3 = || errno_after(libc::SYS_clone3, [0; 5]);
        assert_eq!(under(&f, clone3), libc::ENOSYS);
    }

    #[test]
    fn a_malformed_profile_is_one_sentence() {
        let bad: serde_json::Value =
            serde_json::from_str(r#"{"defaultAction": "SCMP_ACT_\u001b[31m"}"#).unwrap();
        let e = from_oci(&bad, "x".into()).unwrap_err().to_string();
        assert_eq!(
            e,
            "the seccomp profile has an unknown action 'SCMP_ACT_\\e[31m'"
        );
        let bad: serde_json::Value = serde_json::from_str(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        let e = from_oci(&bad, "x".into()).unwrap_err().to_string();
        assert_eq!(
            e,
            "the seccomp profile has an argument rule with no index below 6"
        );
        let allow_all: serde_json::Value =
            serde_json::from_str(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
        assert!(from_oci(&allow_all, "x".into()).is_err());
    }
}
