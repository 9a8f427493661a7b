//! The calls trace reports, and the seccomp filter that stops a started
//! program at those calls only.
//!
//! A program `trace --` starts installs, between fork and exec, a filter
//! that answers `SECCOMP_RET_TRACE` for the [`REPORTED`] calls and
//! `SECCOMP_RET_ALLOW` for the rest: the tracer, with
//! `PTRACE_O_TRACESECCOMP`, resumes it with `PTRACE_CONT` and is woken
//! only at a reported call's entry (the seccomp stop), from which it asks
//! for that call's exit with `PTRACE_SYSCALL`. A busy app's reads, writes,
//! futexes and clocks run at full speed. The filter is inherited across
//! fork, clone and exec, so the program's children carry it too.
//!
//! A call of another architecture (an ia32 `int 0x80`, an x32 number)
//! stops at every call: the table here is x86_64's.
//!
//! What the filter cannot see: a call that a seccomp filter the program
//! was already under (a container engine's profile, the toolbox's own in
//! a direct session) refuses with an errno. The kernel answers with the
//! most severe verdict of all filters, and an errno outranks a trace, so
//! such a call fails without a stop. `trace --every-call` (and `trace -p`)
//! stop at every call's entry, before any filter runs, and see it.

use std::sync::OnceLock;

use super::names_x86_64::NAMES;

/// The calls whose failures trace reports (all of them with `--all`).
/// strace's `%file`, `%network` and `%process` classes, the identity
/// calls, and every call the capability pointer
/// ([`crate::diagnosis::privileged::needed`]) knows.
pub const REPORTED: &[&str] = &[
    // Paths (strace's %file).
    "open",
    "openat",
    "openat2",
    "creat",
    "access",
    "faccessat",
    "faccessat2",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "readlink",
    "readlinkat",
    "execve",
    "execveat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmodat",
    "chown",
    "lchown",
    "fchownat",
    "truncate",
    "chdir",
    "chroot",
    "pivot_root",
    "acct",
    "swapon",
    "swapoff",
    "mknod",
    "mknodat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "getxattr",
    "lgetxattr",
    "setxattr",
    "lsetxattr",
    "listxattr",
    "llistxattr",
    "removexattr",
    "lremovexattr",
    "inotify_add_watch",
    "fanotify_mark",
    "mount",
    "umount2",
    "name_to_handle_at",
    "open_by_handle_at",
    "quotactl",
    "uselib",
    "open_tree",
    "move_mount",
    "fsopen",
    "fspick",
    "mount_setattr",
    // Sockets (strace's %network).
    "socket",
    "socketpair",
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "setsockopt",
    "getsockopt",
    // Processes (strace's %process).
    "clone",
    "clone3",
    "fork",
    "vfork",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tkill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_send_signal",
    "unshare",
    "setns",
    // Identity and privilege.
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setgroups",
    "capset",
    "fchown",
    "fchmod",
    "setpriority",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
    "ioprio_set",
    "mlock",
    "mlock2",
    "mlockall",
    "setrlimit",
    "prlimit64",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "ptrace",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "iopl",
    "ioperm",
];

/// Whether trace reports the failures of the call `name` without `--all`.
pub fn reported(name: &str) -> bool {
    REPORTED.contains(&name)
}

/// `AUDIT_ARCH_X86_64`: what `seccomp_data.arch` holds for a 64-bit call.
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// x32 calls are numbered from here.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_TRACE: u32 = 0x7FF0_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7FFF_0000;
/// `seccomp(2)`'s operation that installs a filter.
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

// Classic BPF opcodes (linux/filter.h): BPF_LD|BPF_W|BPF_ABS, ...
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_LD_IMM: u16 = 0x00;
const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
const BPF_ALU_LSH_X: u16 = 0x04 | 0x60 | 0x08;
const BPF_ALU_RSH_K: u16 = 0x04 | 0x70;
const BPF_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JGE_K: u16 = 0x05 | 0x30;
const BPF_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;
const BPF_TAX: u16 = 0x07;
const BPF_TXA: u16 = 0x07 | 0x80;

/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// One bit per x86_64 call number, 32 to a word: the [`REPORTED`] ones set.
fn reported_words() -> Vec<u32> {
    let mut words = vec![0u32; NAMES.len().div_ceil(32)];
    for (nr, name) in NAMES.iter().enumerate() {
        if !name.is_empty() && reported(name) {
            words[nr / 32] |= 1 << (nr % 32);
        }
    }
    words
}

/// The filter: another architecture or an x32 call is traced; an x86_64
/// call is traced when its bit is set in [`reported_words`]. The number
/// picks its word (`nr >> 5`) through a chain of comparisons, one per word
/// that has a bit set, and its bit (`1 << (nr & 31)`, kept in X) is tested
/// against that word with `jset`: about 20 instructions run per call.
pub fn program() -> Vec<libc::sock_filter> {
    let words: Vec<(u32, u32)> = reported_words()
        .into_iter()
        .enumerate()
        .filter(|(_, w)| *w != 0)
        .map(|(i, w)| (i as u32, w))
        .collect();
    // Laid out as: head (12), three per word, ALLOW, TRACE.
    let head = 12;
    let allow = head + 3 * words.len();
    let trace = allow + 1;
    let to = |from: usize, target: usize| -> u8 {
        u8::try_from(target - from - 1).expect("a BPF jump of at most 255")
    };
    let mut p = Vec::with_capacity(trace + 1);
    p.push(stmt(BPF_LD_W_ABS, DATA_ARCH));
    p.push(jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
    p.push(stmt(BPF_LD_W_ABS, DATA_NR));
    p.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, to(4, trace), 0));
    p.push(stmt(BPF_ALU_AND_K, 31));
    p.push(stmt(BPF_TAX, 0));
    p.push(stmt(BPF_LD_IMM, 1));
    p.push(stmt(BPF_ALU_LSH_X, 0));
    p.push(stmt(BPF_TAX, 0));
    p.push(stmt(BPF_LD_W_ABS, DATA_NR));
    p.push(stmt(BPF_ALU_RSH_K, 5));
    for (index, mask) in words {
        // Not this word: A still holds the index for the next comparison.
        p.push(jump(BPF_JEQ_K, index, 0, 2));
        p.push(stmt(BPF_TXA, 0));
        let at = p.len();
        p.push(jump(BPF_JSET_K, mask, to(at, trace), to(at, allow)));
    }
    debug_assert_eq!(p.len(), allow);
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
    p
}

/// Install `program` on the calling thread. Runs between fork and exec:
/// no allocation, one system call. Needs no_new_privs (the toolbox set it
/// in its drop) or CAP_SYS_ADMIN.
pub fn install(program: &[libc::sock_filter]) -> Result<(), nix::errno::Errno> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: seccomp(2) reads `prog` and the instructions it points at,
    // both alive for the call; the filter only narrows what this thread's
    // calls may do (it traces or allows, never kills).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    nix::errno::Errno::result(rc).map(drop)
}

/// Whether this kernel reports a seccomp stop after the syscall-enter stop
/// (Linux 4.8 and newer), which the tracer's loop counts on. Older
/// kernels keep plain ptrace.
pub fn supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let Ok(uts) = nix::sys::utsname::uname() else {
            return false;
        };
        let release = uts.release().to_string_lossy().into_owned();
        at_least_4_8(&release)
    })
}

fn at_least_4_8(release: &str) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (4, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reported_call_is_an_x86_64_call() {
        for name in REPORTED {
            assert!(NAMES.contains(name), "{name} is not in the x86_64 table");
        }
    }

    #[test]
    fn every_call_the_capability_pointer_knows_is_reported() {
        // Arguments that make each privileged check apply: a bind below
        // the unprivileged ports, a device node, a raw socket.
        let calls = [
            crate::diagnosis::privileged::Call {
                args: [0; 6],
                port: Some(80),
                port_start: 1024,
            },
            crate::diagnosis::privileged::Call {
                args: [
                    libc::AF_PACKET as u64,
                    u64::from(libc::S_IFCHR),
                    u64::from(libc::S_IFCHR),
                    0,
                    0,
                    0,
                ],
                port: Some(80),
                port_start: 1024,
            },
        ];
        for name in NAMES.iter().filter(|n| !n.is_empty()) {
            for errno in [libc::EPERM, libc::EACCES] {
                for call in &calls {
                    if crate::diagnosis::privileged::needed(name, errno, call).is_some() {
                        assert!(
                            reported(name),
                            "{name} names a capability but is not reported"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_filter_is_small_and_its_jumps_land_inside_it() {
        let p = program();
        assert!(p.len() < 100, "{} instructions", p.len());
        for (i, ins) in p.iter().enumerate() {
            if ins.code & 0x07 == 0x05 {
                assert!(i + 1 + (ins.jt as usize) < p.len());
                assert!(i + 1 + (ins.jf as usize) < p.len());
            }
        }
        assert_eq!(p[p.len() - 1].k, SECCOMP_RET_TRACE);
        assert_eq!(p[p.len() - 2].k, SECCOMP_RET_ALLOW);
    }

    /// Runs the filter the way the kernel would, for one x86_64 call.
    fn verdict(p: &[libc::sock_filter], arch: u32, nr: u32) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        loop {
            let ins = p[pc];
            pc += 1;
            match ins.code {
                BPF_LD_W_ABS => a = if ins.k == DATA_ARCH { arch } else { nr },
                BPF_LD_IMM => a = ins.k,
                BPF_ALU_AND_K => a &= ins.k,
                BPF_ALU_LSH_X => a <<= x,
                BPF_ALU_RSH_K => a >>= ins.k,
                BPF_TAX => x = a,
                BPF_TXA => a = x,
                BPF_RET_K => return ins.k,
                BPF_JEQ_K | BPF_JGE_K | BPF_JSET_K => {
                    let taken = match ins.code {
                        BPF_JEQ_K => a == ins.k,
                        BPF_JGE_K => a >= ins.k,
                        _ => a & ins.k != 0,
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_traces_the_reported_calls_and_allows_the_rest() {
        let p = program();
        for (nr, name) in NAMES.iter().enumerate() {
            let want = if !name.is_empty() && reported(name) {
                SECCOMP_RET_TRACE
            } else {
                SECCOMP_RET_ALLOW
            };
            assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, nr as u32), want, "{name}");
        }
        // Past the table: allowed (no name to report it by).
        assert_eq!(verdict(&p, AUDIT_ARCH_X86_64, 460), SECCOMP_RET_ALLOW);
        // x32 and ia32: every call.
        assert_eq!(
            verdict(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39),
            SECCOMP_RET_TRACE
        );
        assert_eq!(verdict(&p, 0x4000_0003, 20), SECCOMP_RET_TRACE);
    }

    #[test]
    fn under_the_filter_with_no_tracer_a_reported_call_is_enosys_and_the_rest_run() {
        let p = program();
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        // SAFETY: the child makes plain system calls only.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                use std::os::fd::AsRawFd;
                // SAFETY: prctl, seccomp, getppid, chdir and write are
                // plain system calls; the path is a C string literal.
                unsafe {
                    let code: u8 = if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                        || install(&p).is_err()
                    {
                        3
                    } else if libc::getppid() <= 0 {
                        4
                    } else if libc::chdir(c"/".as_ptr()) == 0
                        || *libc::__errno_location() != libc::ENOSYS
                    {
                        // The kernel answers ENOSYS for a traced call
                        // that no tracer asked for.
                        5
                    } else {
                        0
                    };
                    libc::write(write_end.as_raw_fd(), (&raw const code).cast(), 1);
                    // exit_group is reported too, so it fails with ENOSYS
                    // here, and libc's _exit ends in a fault: the answer
                    // went through the pipe.
                    libc::_exit(0)
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(write_end);
                let mut code = [9u8];
                let n = nix::unistd::read(&read_end, &mut code).unwrap();
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!((n, code[0]), (1, 0));
            }
        }
    }

    #[test]
    fn kernels_from_4_8_on_use_the_filter() {
        assert!(at_least_4_8("4.8.0"));
        assert!(at_least_4_8("5.15.0-91-generic"));
        assert!(at_least_4_8("10.0"));
        assert!(!at_least_4_8("4.4.0-210-generic"));
        assert!(!at_least_4_8("3.10.0-1160.el7.x86_64"));
        assert!(!at_least_4_8("garbage"));
    }
}
