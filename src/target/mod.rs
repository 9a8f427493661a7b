//! Everything that reads the target: the one room of hostile input. The
//! target has root in its container and controls all of this: its `/proc`
//! (process names, command lines, status, file descriptors), its sockets,
//! its mounts, its `/etc/passwd` and `/etc/group`, its DNS files, its
//! programs and their ELF headers. Each parser here takes bytes, bounds
//! them and never panics; [`fuzz`] feeds every one of them hostile input.
//!
//! - [`info`]: what the host half knows of the target and hands to the
//!   toolbox (entrypoint, user, restarts), and how an exit code reads;
//! - [`procinfo`]: `/proc/PID/{stat,status,cmdline,environ}`, capabilities;
//! - [`procnet`]: `/proc/net/{tcp,udp,unix}` and which process owns a socket;
//! - [`mountinfo`]: the target's mounts, and the one a path is on;
//! - [`users`]: the target's passwd and group;
//! - [`dns`]: resolv.conf, hosts and the lookups `resolve` makes;
//! - [`program`]: what a program is (ELF, script, its interpreter);
//! - [`libs`]: a program's shared libraries as the target's loader finds them;
//! - [`file`]: the target's files the toolbox reads on its own: regular,
//!   bounded, never blocking;
//! - [`perm`]: why an access is allowed or denied, component by component.

pub mod dns;
pub mod file;
#[cfg(test)]
mod fuzz;
pub mod info;
pub mod libs;
pub mod mountinfo;
pub mod perm;
pub mod procinfo;
pub mod procnet;
pub mod program;
pub mod users;
