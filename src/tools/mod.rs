//! Brought tools: host programs (`--with curl`) run in the target as
//! commands of the shell, with the host's own loader and libraries.
//!
//! A bundle is a directory the host half prepares ([`bundle`]) and the
//! toolbox opens before it joins the target:
//!
//! ```text
//! manifest.json   what is in it (the tools, where they came from, sizes)
//! ld.so           the host's dynamic loader, when a tool is dynamically linked
//! lib/NAME        every shared library the tools need, by the name they ask for
//! bin/NAME        the tools
//! ```
//!
//! It lives in the sidecar's own filesystem (the toolbox image made with it,
//! at [`SIDECAR_DIR`]), in a directory on the host for direct attach, or in
//! a toolbox image built with one (Kubernetes) — never in the target. The
//! toolbox keeps one fd of it across `setns` and `chroot` (a detached,
//! read-only mount when it may make one, so that `..` never leads out of
//! it), and a tool runs as `ld.so --library-path /proc/self/fd/3/lib
//! /proc/self/fd/3/bin/NAME`: the target's libraries, cache and loader are
//! never mixed in. Tools start through the same path as `run` (the app's
//! identity, no capabilities, the shell's confinement).

pub mod copy;

pub mod bundle;

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

/// Where a sidecar (or a replica, through its helper's volume, or a
/// toolbox image built with tools) holds its bundle: beside the binary.
pub const SIDECAR_DIR: &str = "/.nosh/tools";
pub const MANIFEST: &str = "manifest.json";
pub const LOADER: &str = "ld.so";
pub const LIB_DIR: &str = "lib";
pub const BIN_DIR: &str = "bin";
/// The manifest's format; a toolbox refuses another.
pub const FORMAT: u32 = 1;
/// Where the bundle is for a brought tool: its fd is placed at 3.
const FD_DIR: &str = "/proc/self/fd/3";
/// Far above any real manifest.
const MAX_MANIFEST: u64 = 1 << 20;

/// What a bundle holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The loader at [`LOADER`], for the dynamically linked tools.
    pub loader: Option<Loader>,
    pub tools: Vec<Tool>,
    /// Every library in [`LIB_DIR`].
    pub libraries: Vec<Library>,
}

/// The host's dynamic loader, and what its command line takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loader {
    pub host_path: String,
    /// Options before the library path (`--inhibit-cache`: never read the
    /// target's ld.so.cache).
    pub options: Vec<String>,
    /// Whether it takes `--argv0 NAME` (glibc 2.33 and later, musl).
    pub argv0: bool,
}

/// One brought tool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// The command name in the shell, and its file in [`BIN_DIR`].
    pub name: String,
    pub host_path: String,
    /// The program's own size in bytes.
    pub size: u64,
    /// Run through the loader; a static program runs as it is.
    pub dynamic: bool,
    /// The libraries it loads, by the names in [`LIB_DIR`].
    pub libraries: Vec<String>,
    /// What it needs that a shell with no capabilities lacks, e.g.
    /// `CAP_NET_RAW`, from its file capabilities, a setuid bit or what is
    /// known of the program; said when it fails.
    pub needs: Vec<String>,
    /// Why, in a few words ("packet capture").
    pub needs_why: Option<String>,
}

/// One library of the bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    pub name: String,
    pub host_path: String,
    pub size: u64,
}

impl Manifest {
    pub fn find(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Bytes in the bundle: tools, libraries and loader.
    pub fn total_size(&self) -> u64 {
        self.tools.iter().map(|t| t.size).sum::<u64>()
            + self.libraries.iter().map(|l| l.size).sum::<u64>()
    }
}

/// Whether `name` may be a tool's name: one plain file name, as a command
/// is typed.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    #[error("failed to open the brought tools at {path}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("the brought tools at {path} have no readable manifest")]
    Manifest {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "the brought tools at {path} are of format {found}, and this nosh reads format {FORMAT}"
    )]
    Format { path: String, found: u32 },
    #[error("the brought tools at {path} name a tool {name:?}, which is not a plain command name")]
    BadName { path: String, name: String },
}

/// An open bundle, held by the toolbox from before the join to the end of
/// the session.
#[derive(Debug)]
pub struct Brought {
    dir: OwnedFd,
    pub manifest: Manifest,
    /// Whether `dir` is a detached read-only mount (else a plain directory).
    pub detached: bool,
}

impl Brought {
    /// The bundle's directory descriptor, for a fork that must keep it.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.dir.as_raw_fd()
    }

    /// Opens the bundle at `path` in this process's mount namespace (before
    /// any join): a detached read-only mount of it when this process may
    /// make one, else the directory itself. `None` when there is none.
    pub fn open_if_present(path: &Path) -> Result<Option<Brought>, ToolsError> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => Brought::open(path).map(Some),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ToolsError::Open {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Opens the bundle at `path`, as [`Brought::open_if_present`].
    pub fn open(path: &Path) -> Result<Brought, ToolsError> {
        let shown = path.display().to_string();
        let (dir, detached) = match crate::sys::open_detached_readonly(path) {
            Ok(fd) => (fd, true),
            Err(_) => {
                // No CAP_SYS_ADMIN (a restricted Kubernetes profile): the
                // directory itself, which lies in the toolbox's own image.
                let fd = crate::tools::copy::open_dir(path).map_err(|source| ToolsError::Open {
                    path: shown.clone(),
                    source,
                })?;
                (fd, false)
            }
        };
        let manifest = read_manifest(&dir).map_err(|source| ToolsError::Manifest {
            path: shown.clone(),
            source,
        })?;
        if manifest.format != FORMAT {
            return Err(ToolsError::Format {
                path: shown,
                found: manifest.format,
            });
        }
        if let Some(bad) = manifest.tools.iter().find(|t| !valid_name(&t.name)) {
            return Err(ToolsError::BadName {
                path: shown,
                name: bad.name.clone(),
            });
        }
        Ok(Brought {
            dir,
            manifest,
            detached,
        })
    }

    /// What is executed for `tool`: the bundle's loader for a dynamically
    /// linked one, else the program itself; either way through fd 3.
    pub fn program(&self, tool: &Tool) -> String {
        if self.through_loader(tool) {
            format!("{FD_DIR}/{LOADER}")
        } else {
            format!("{FD_DIR}/{BIN_DIR}/{}", tool.name)
        }
    }

    fn through_loader(&self, tool: &Tool) -> bool {
        tool.dynamic && self.manifest.loader.is_some()
    }

    /// Completes `cmd`, made for [`Brought::program`] by the shell's one
    /// way of starting target code, to run `tool` with `args`: the
    /// loader's options and the program, and the bundle put at fd 3 in the
    /// child ([`sys::place_at_fd3`]; registered after whatever closes the
    /// caller's fds, so that it is the last word on fd 3).
    ///
    /// [`sys::place_at_fd3`]: crate::sys::place_at_fd3
    pub fn prepare(&self, cmd: &mut Command, tool: &Tool, args: &[String]) {
        use std::os::unix::process::CommandExt;
        cmd.arg0(&tool.name);
        if let (Some(loader), true) = (&self.manifest.loader, self.through_loader(tool)) {
            cmd.args(&loader.options);
            cmd.args(["--library-path", &format!("{FD_DIR}/{LIB_DIR}")]);
            if loader.argv0 {
                cmd.args(["--argv0", &tool.name]);
            }
            cmd.arg(format!("{FD_DIR}/{BIN_DIR}/{}", tool.name));
        }
        cmd.args(args);
        let fd = self.dir.as_raw_fd();
        let inherit = self.through_loader(tool);
        // SAFETY: the closure runs in the forked child before exec and only
        // calls dup3 or fcntl, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || crate::sys::place_at_fd3(fd, inherit));
        }
    }
}

fn read_manifest(dir: &OwnedFd) -> io::Result<Manifest> {
    let fd = openat(
        dir.as_fd(),
        MANIFEST,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut text = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_MANIFEST)
        .read_to_end(&mut text)?;
    serde_json::from_slice(&text).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), manifest).unwrap();
        dir
    }

    #[test]
    fn a_bundle_whose_manifest_is_odd_is_refused_in_one_sentence() {
        let ok = bundle_with(
            r#"{"format":1,"loader":null,"tools":[{"name":"curl","host_path":"/usr/bin/curl","size":1,"dynamic":false,"libraries":[],"needs":[],"needs_why":null}],"libraries":[]}"#,
        );
        let b = Brought::open(ok.path()).unwrap();
        assert_eq!(b.manifest.find("curl").unwrap().host_path, "/usr/bin/curl");
        let newer = bundle_with(r#"{"format":2,"loader":null,"tools":[],"libraries":[]}"#);
        let e = Brought::open(newer.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("are of format 2, and this nosh reads format 1"),
            "{e}"
        );
        let bad = bundle_with(
            r#"{"format":1,"loader":null,"tools":[{"name":"../sh","host_path":"","size":1,"dynamic":false,"libraries":[],"needs":[],"needs_why":null}],"libraries":[]}"#,
        );
        let e = Brought::open(bad.path()).unwrap_err();
        assert!(
            e.to_string().contains("which is not a plain command name"),
            "{e}"
        );
        let none = tempfile::tempdir().unwrap();
        let e = Brought::open(none.path()).unwrap_err();
        assert!(e.to_string().contains("have no readable manifest"), "{e}");
        assert!(
            Brought::open_if_present(&none.path().join("absent"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn tool_names_are_plain_command_names() {
        assert!(valid_name("curl"));
        assert!(valid_name("python3.11"));
        assert!(valid_name("g++"));
        assert!(!valid_name(""));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name("../x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("evil\x1b]0;x"));
    }

    fn command(brought: &Brought, tool: &Tool, args: &[String]) -> Command {
        let mut cmd = Command::new(brought.program(tool));
        brought.prepare(&mut cmd, tool, args);
        cmd
    }

    #[test]
    fn a_dynamic_tool_runs_through_the_bundle_loader_and_a_static_one_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let fd = crate::tools::copy::open_dir(dir.path()).unwrap();
        let brought = Brought {
            dir: fd,
            manifest: Manifest {
                format: FORMAT,
                loader: Some(Loader {
                    host_path: "/lib64/ld-linux-x86-64.so.2".into(),
                    options: vec!["--inhibit-cache".into()],
                    argv0: true,
                }),
                ..Default::default()
            },
            detached: false,
        };
        let curl = Tool {
            name: "curl".into(),
            dynamic: true,
            ..Default::default()
        };
        let cmd = command(&brought, &curl, &["-s".into()]);
        assert_eq!(cmd.get_program(), "/proc/self/fd/3/ld.so");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--inhibit-cache",
                "--library-path",
                "/proc/self/fd/3/lib",
                "--argv0",
                "curl",
                "/proc/self/fd/3/bin/curl",
                "-s"
            ]
        );
        let tool = Tool {
            name: "busybox".into(),
            ..Default::default()
        };
        let cmd = command(&brought, &tool, &["ls".into()]);
        assert_eq!(cmd.get_program(), "/proc/self/fd/3/bin/busybox");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["ls"]);
    }
}
