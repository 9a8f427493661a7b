//! Which capability a failed privileged system call lacked: the one place
//! that maps a call and its errno (and, where it decides, an argument) to
//! a capability, for `trace`'s pointer and doctor's findings alike.
//!
//! Such a failure is not about a path's owner or mode: a `chown` of
//! anything never fixes it. What fixes it is removing the setting that
//! asks for the privilege (a `chroot` or `user` directive, a port below
//! the unprivileged range) or granting the capability to the container.
//!
//! Each entry follows the errors its man page gives for "the caller is not
//! privileged": chroot(2) EPERM, setuid(2) EPERM, chown(2) EPERM, bind(2)
//! EACCES for a port below `net.ipv4.ip_unprivileged_port_start`,
//! mknod(2) EPERM for a device node, setpriority(2) EACCES (a lower nice
//! value), mlock(2) EPERM, setrlimit(2) EPERM (a higher hard limit), ...
//! The same call failing with another errno (chroot's EACCES: a directory
//! on the way may not be searched) is a path question, answered by `why`.

use serde::Serialize;

/// A capability a call needs, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Need {
    /// As capabilities(7) names it: `CAP_SYS_CHROOT`.
    pub capability: &'static str,
    /// The usual way out without the capability, in a few words.
    pub instead: &'static str,
}

impl Need {
    /// `SYS_CHROOT`: the name `docker run --cap-add` and Kubernetes'
    /// `capabilities.add` take.
    pub fn engine_name(&self) -> &'static str {
        self.capability.trim_start_matches("CAP_")
    }
}

/// What a decision may need besides the call's name and errno.
#[derive(Debug, Clone, Copy, Default)]
pub struct Call {
    /// The six argument registers.
    pub args: [u64; 6],
    /// The port of the socket address, for bind.
    pub port: Option<u16>,
    /// `net.ipv4.ip_unprivileged_port_start` in the caller's network
    /// namespace ([`unprivileged_port_start`]).
    pub port_start: u16,
}

const fn need(capability: &'static str, instead: &'static str) -> Need {
    Need {
        capability,
        instead,
    }
}

const CHROOT: Need = need(
    "CAP_SYS_CHROOT",
    "turn off the app's chroot setting (the container already confines its filesystem)",
);
const SETUID: Need = need(
    "CAP_SETUID",
    "run the container as the user the app switches to, and remove its user setting",
);
const SETGID: Need = need(
    "CAP_SETGID",
    "run the container with the group the app switches to, and remove its group setting",
);
const CHOWN: Need = need(
    "CAP_CHOWN",
    "create the files owned by the app's user at build time instead of chowning them at start",
);
const BIND: Need = need(
    "CAP_NET_BIND_SERVICE",
    "listen on an unprivileged port and publish it as the low one (-p 80:8080)",
);
const MKNOD: Need = need(
    "CAP_MKNOD",
    "pass the device in from the host (--device) instead of creating it",
);
const NICE: Need = need(
    "CAP_SYS_NICE",
    "remove the priority or scheduling setting from the app's configuration",
);
const IPC_LOCK: Need = need(
    "CAP_IPC_LOCK",
    "turn off memory locking in the app's configuration, or raise --ulimit memlock",
);
const RESOURCE: Need = need(
    "CAP_SYS_RESOURCE",
    "set the limit on the container (--ulimit) instead of raising it in the app",
);
const ADMIN: Need = need(
    "CAP_SYS_ADMIN",
    "leave mounts, namespaces and the hostname to the engine (volumes, --hostname)",
);
const TIME: Need = need(
    "CAP_SYS_TIME",
    "leave the clock to the host and turn off clock setting in the app",
);
const KILL: Need = need("CAP_KILL", "run the process it signals as the same user");
const NET_RAW: Need = need(
    "CAP_NET_RAW",
    "use an unprivileged ICMP socket instead of a raw or packet one",
);
const SETPCAP: Need = need(
    "CAP_SETPCAP",
    "grant the capabilities to the container instead of changing them in the app",
);

/// The capability the failed call `syscall` (errno `errno`) lacked, or
/// None when the failure is not about privilege.
pub fn needed(syscall: &str, errno: i32, call: &Call) -> Option<&'static Need> {
    let eperm = errno == libc::EPERM;
    let eacces = errno == libc::EACCES;
    let need: &'static Need = match syscall {
        "chroot" if eperm => &CHROOT,
        "setuid" | "setreuid" | "setresuid" | "setfsuid" if eperm => &SETUID,
        "setgid" | "setregid" | "setresgid" | "setfsgid" | "setgroups" if eperm => &SETGID,
        "chown" | "fchown" | "lchown" | "fchownat" if eperm => &CHOWN,
        "bind" if eacces => {
            let port = call.port?;
            if port == 0 || port >= call.port_start {
                return None;
            }
            &BIND
        }
        "mknod" | "mknodat" if eperm => {
            let mode = call.args[if syscall == "mknod" { 1 } else { 2 }] as u32;
            let kind = mode & libc::S_IFMT;
            if kind != libc::S_IFCHR && kind != libc::S_IFBLK {
                return None;
            }
            &MKNOD
        }
        "setpriority" | "sched_setscheduler" | "sched_setparam" | "sched_setattr"
        | "ioprio_set"
            if eperm || eacces =>
        {
            &NICE
        }
        "mlock" | "mlock2" | "mlockall" if eperm => &IPC_LOCK,
        "setrlimit" | "prlimit64" if eperm => &RESOURCE,
        "sethostname" | "setdomainname" | "mount" | "umount2" | "pivot_root" | "unshare"
        | "setns" | "swapon" | "swapoff"
            if eperm =>
        {
            &ADMIN
        }
        "settimeofday" | "clock_settime" | "adjtimex" | "clock_adjtime" if eperm => &TIME,
        "kill" | "tkill" | "tgkill" if eperm => &KILL,
        "socket" if eperm => {
            let (family, kind) = (call.args[0], call.args[1] & 0xf);
            if kind != libc::SOCK_RAW as u64 && family != libc::AF_PACKET as u64 {
                return None;
            }
            &NET_RAW
        }
        "capset" if eperm => &SETPCAP,
        _ => return None,
    };
    Some(need)
}

/// The capability called `name` (`CAP_SYS_CHROOT`), with its advice.
pub fn by_name(name: &str) -> Option<&'static Need> {
    [
        &CHROOT, &SETUID, &SETGID, &CHOWN, &BIND, &MKNOD, &NICE, &IPC_LOCK, &RESOURCE, &ADMIN,
        &TIME, &KILL, &NET_RAW, &SETPCAP,
    ]
    .into_iter()
    .find(|n| n.capability == name)
}

/// `net.ipv4.ip_unprivileged_port_start` of this process's network
/// namespace; 1024 (the kernel's default) if it cannot be read. Docker
/// sets it to 0 in its containers, Kubernetes and host networking keep
/// 1024.
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Call {
        Call {
            port_start: 1024,
            ..Call::default()
        }
    }

    #[test]
    fn privileged_calls_that_fail_with_eperm_name_their_capability() {
        let c = plain();
        for (call, cap) in [
            ("chroot", "CAP_SYS_CHROOT"),
            ("setuid", "CAP_SETUID"),
            ("setresuid", "CAP_SETUID"),
            ("setgid", "CAP_SETGID"),
            ("setgroups", "CAP_SETGID"),
            ("chown", "CAP_CHOWN"),
            ("fchownat", "CAP_CHOWN"),
            ("mlock", "CAP_IPC_LOCK"),
            ("setrlimit", "CAP_SYS_RESOURCE"),
            ("sethostname", "CAP_SYS_ADMIN"),
            ("capset", "CAP_SETPCAP"),
        ] {
            assert_eq!(
                needed(call, libc::EPERM, &c).map(|n| n.capability),
                Some(cap),
                "{call}"
            );
            assert_eq!(by_name(cap).map(|n| n.capability), Some(cap));
        }
        assert_eq!(
            needed("setpriority", libc::EACCES, &c).map(|n| n.capability),
            Some("CAP_SYS_NICE")
        );
        assert_eq!(CHROOT.engine_name(), "SYS_CHROOT");
    }

    #[test]
    fn the_same_calls_failing_for_a_path_reason_need_no_capability() {
        let c = plain();
        // EACCES of chroot and chown: a directory on the way is not
        // searchable, which `why` explains.
        assert_eq!(needed("chroot", libc::EACCES, &c), None);
        assert_eq!(needed("chown", libc::EACCES, &c), None);
        assert_eq!(needed("chown", libc::ENOENT, &c), None);
        assert_eq!(needed("openat", libc::EPERM, &c), None);
        assert_eq!(needed("mlock", libc::ENOMEM, &c), None);
    }

    #[test]
    fn bind_needs_the_capability_only_below_the_unprivileged_port_start() {
        let mut c = plain();
        c.port = Some(80);
        assert_eq!(
            needed("bind", libc::EACCES, &c).map(|n| n.capability),
            Some("CAP_NET_BIND_SERVICE")
        );
        c.port = Some(8080);
        assert_eq!(needed("bind", libc::EACCES, &c), None);
        // Docker's own setting: every port is unprivileged.
        c.port = Some(80);
        c.port_start = 0;
        assert_eq!(needed("bind", libc::EACCES, &c), None);
        // A unix socket's EACCES is a directory's permission.
        c.port = None;
        c.port_start = 1024;
        assert_eq!(needed("bind", libc::EACCES, &c), None);
        assert_eq!(needed("bind", libc::EADDRINUSE, &c), None);
    }

    #[test]
    fn mknod_needs_the_capability_for_devices_not_for_fifos() {
        let mut c = plain();
        c.args[1] = (libc::S_IFCHR | 0o600) as u64;
        assert_eq!(
            needed("mknod", libc::EPERM, &c).map(|n| n.capability),
            Some("CAP_MKNOD")
        );
        c.args[1] = (libc::S_IFIFO | 0o600) as u64;
        assert_eq!(needed("mknod", libc::EPERM, &c), None);
        c.args[2] = (libc::S_IFBLK | 0o600) as u64;
        assert_eq!(
            needed("mknodat", libc::EPERM, &c).map(|n| n.capability),
            Some("CAP_MKNOD")
        );
    }

    #[test]
    fn raw_sockets_need_net_raw_and_ordinary_ones_do_not() {
        let mut c = plain();
        c.args[0] = libc::AF_INET as u64;
        c.args[1] = libc::SOCK_RAW as u64;
        assert_eq!(
            needed("socket", libc::EPERM, &c).map(|n| n.capability),
            Some("CAP_NET_RAW")
        );
        c.args[1] = (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64;
        assert_eq!(needed("socket", libc::EPERM, &c), None);
    }
}
