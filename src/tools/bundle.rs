//! The host half of brought tools: which host files make a bundle
//! (`--with PROG`, `--with-dir DIR`), its key, and writing it as a
//! directory (direct attach, `nosh bundle`) or as entries of the toolbox
//! image's tar (a sidecar).
//!
//! Each program's libraries are found with nosh's own resolver
//! ([`crate::target::libs`]) against the host's root, as the host's loader would
//! find them; the host's loader comes along. Only this host's files are
//! read: nothing of the target.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{
    BIN_DIR, FORMAT, LIB_DIR, LOADER, Library, Loader, MANIFEST, Manifest, Tool, valid_name,
};
use crate::shell::Ctx;
use crate::target::program::{self, Program};

/// The most a bundle may hold: far above a handful of tools and their
/// libraries (curl and strace with theirs: about 8 MB), and low enough that
/// a mistake (a whole toolchain) is refused rather than imported.
pub const MAX_BUNDLE: u64 = 256 << 20;

/// What the shell cannot do for programs that need privileges: tools known
/// to need capabilities their files do not carry (tcpdump has no file
/// capabilities on Debian: it expects root).
const KNOWN_NEEDS: &[(&str, &[&str], &str)] = &[
    (
        "tcpdump",
        &["CAP_NET_RAW", "CAP_NET_ADMIN"],
        "packet capture",
    ),
    (
        "tshark",
        &["CAP_NET_RAW", "CAP_NET_ADMIN"],
        "packet capture",
    ),
    (
        "dumpcap",
        &["CAP_NET_RAW", "CAP_NET_ADMIN"],
        "packet capture",
    ),
    ("iptables", &["CAP_NET_ADMIN"], "firewall rules"),
    ("ip6tables", &["CAP_NET_ADMIN"], "firewall rules"),
    ("nft", &["CAP_NET_ADMIN"], "firewall rules"),
    ("tc", &["CAP_NET_ADMIN"], "traffic control"),
    ("nsenter", &["CAP_SYS_ADMIN"], "joining namespaces"),
    ("bpftrace", &["CAP_BPF", "CAP_PERFMON"], "eBPF tracing"),
];

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("--with {name}: no such program in this host's PATH ({path})")]
    NotInPath { name: String, path: String },
    #[error("--with {name}: {path} does not exist")]
    Missing { name: String, path: String },
    #[error("--with {name}: {path} is not a regular file")]
    NotAFile { name: String, path: String },
    #[error("--with {name}: {path} is not executable")]
    NotExecutable { name: String, path: String },
    #[error(
        "--with {name}: {path} is a script for {interpreter}, not a program: bring a program (the interpreter itself, or a static build)"
    )]
    Script {
        name: String,
        path: String,
        interpreter: String,
    },
    #[error("--with {name}: {path} is not a program (not an ELF file: {kind})")]
    NotElf {
        name: String,
        path: String,
        kind: String,
    },
    #[error(
        "--with {name}: {path} is a {class}-bit {machine} program, and nosh brings only {own} programs"
    )]
    Foreign {
        name: String,
        path: String,
        class: u8,
        machine: String,
        own: String,
    },
    #[error("--with {name}: {path} needs {library}, which this host's loader does not find either")]
    MissingLibrary {
        name: String,
        path: String,
        library: String,
    },
    #[error(
        "--with {name}: {path} is dynamically linked without an interpreter (a library, not a program)"
    )]
    NoInterpreter { name: String, path: String },
    #[error(
        "--with {name} and --with {other} use different loaders ({a} and {b}): bring them in two sessions, or a static build of one"
    )]
    TwoLoaders {
        name: String,
        other: String,
        a: String,
        b: String,
    },
    #[error("two brought tools would be called {name}: {a} and {b}")]
    SameName { name: String, a: String, b: String },
    #[error("--with {name}: the tool's name is not a plain command name")]
    BadName { name: String },
    #[error("{library} is needed from two places, {a} and {b}: bring these tools in two sessions")]
    LibraryConflict {
        library: String,
        a: String,
        b: String,
    },
    #[error(
        "the brought tools come to {} MB with their libraries, over the {} MB nosh brings into a session (largest: {largest})",
        .total / 1_000_000,
        MAX_BUNDLE / 1_000_000
    )]
    TooLarge { total: u64, largest: String },
    #[error("--with-dir {dir}: no executable file in it")]
    EmptyDir { dir: String },
    #[error("failed to read {path}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl BundleError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            BundleError::NotInPath { .. } | BundleError::Missing { .. } => {
                "give a path (--with ./bin/tool) or a program this host has (`command -v NAME`)"
                    .into()
            }
            BundleError::TooLarge { .. } => {
                "bring fewer tools, or static builds of them (a static binary comes without its libraries)".into()
            }
            BundleError::MissingLibrary { .. } => {
                "the program does not run on this host either (`ldd PATH` says which library); install it, or bring a static build".into()
            }
            _ => return None,
        })
    }
}

/// One program to bring, before inspection.
struct Wanted {
    name: String,
    path: PathBuf,
    /// A `--with-dir` toolkit's own `lib/`, searched first.
    lib_dir: Option<PathBuf>,
}

/// A bundle to make: its manifest, the host file behind every entry, and a
/// key that changes whenever any of them does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub manifest: Manifest,
    /// (path in the bundle, host file, mode).
    files: Vec<(String, PathBuf, u32)>,
    /// 12 hex digits: the bundle's identity (see [`Plan::key`]).
    pub key: String,
}

impl Plan {
    /// The bundle for `with` (names in the host's PATH or paths; each may be
    /// a comma-separated list) and `with_dirs` (toolkits: every executable
    /// file in each).
    pub fn new(with: &[String], with_dirs: &[PathBuf]) -> Result<Plan, BundleError> {
        let mut wanted = Vec::new();
        for given in with
            .iter()
            .flat_map(|w| w.split(','))
            .filter(|w| !w.is_empty())
        {
            wanted.push(locate(given)?);
        }
        for dir in with_dirs {
            wanted.extend(toolkit(dir)?);
        }
        let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
        for w in &wanted {
            if !valid_name(&w.name) {
                return Err(BundleError::BadName {
                    name: w.name.clone(),
                });
            }
            if let Some(a) = names.insert(w.name.clone(), w.path.clone()) {
                return Err(BundleError::SameName {
                    name: w.name.clone(),
                    a: a.display().to_string(),
                    b: w.path.display().to_string(),
                });
            }
        }
        build(wanted)
    }

    /// The bundle's bytes: tools, libraries and loader.
    pub fn total_size(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|(_, p, _)| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    fn manifest_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.manifest).unwrap_or_default()
    }

    /// Writes the bundle into `dest`, a directory that must not exist yet:
    /// directories 0755, programs and the loader 0755, libraries 0644,
    /// the manifest last (a bundle without one is not used).
    pub fn write_dir(&self, dest: &Path) -> io::Result<()> {
        fs::create_dir(dest)?;
        fs::set_permissions(dest, fs::Permissions::from_mode(0o755))?;
        for sub in [LIB_DIR, BIN_DIR] {
            let d = dest.join(sub);
            fs::create_dir(&d)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
        }
        for (rel, src, mode) in &self.files {
            let to = dest.join(rel);
            fs::copy(src, &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(*mode))?;
        }
        let manifest = dest.join(MANIFEST);
        fs::write(&manifest, self.manifest_json())?;
        fs::set_permissions(&manifest, fs::Permissions::from_mode(0o644))
    }

    /// Appends the bundle to a tar under `prefix` (`.nosh/tools`), owned
    /// by root, with the modes of [`Plan::write_dir`].
    pub fn append_to_tar<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        prefix: &str,
    ) -> io::Result<()> {
        let header = |kind: tar::EntryType, size: u64, mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h
        };
        for dir in ["", LIB_DIR, BIN_DIR] {
            let mut h = header(tar::EntryType::Directory, 0, 0o755);
            let path = format!("{prefix}/{dir}");
            tar.append_data(&mut h, path.trim_end_matches('/'), io::empty())?;
        }
        for (rel, src, mode) in &self.files {
            let f = fs::File::open(src)?;
            let size = f.metadata()?.len();
            let mut h = header(tar::EntryType::Regular, size, *mode);
            let data = crate::tools::copy::ExactSize::new(f, size);
            tar.append_data(&mut h, format!("{prefix}/{rel}"), data)?;
        }
        let json = self.manifest_json();
        let mut h = header(tar::EntryType::Regular, json.len() as u64, 0o644);
        tar.append_data(&mut h, format!("{prefix}/{MANIFEST}"), &json[..])
    }
}

/// Where direct attach keeps bundles on the host, one directory per key:
/// `$XDG_CACHE_HOME/nosh/tools`, else `~/.cache/nosh/tools`.
pub fn cache_root() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("nosh").join("tools")
}

/// The bundle of `plan` as a directory under [`cache_root`], written once
/// per key and reused. A directory found there is used only if this user
/// owns it and nobody else may write it (nor the directory holding it).
pub fn cached_dir(plan: &Plan) -> io::Result<PathBuf> {
    let root = cache_root();
    fs::create_dir_all(&root)?;
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700))?;
    let own = |p: &Path| -> io::Result<()> {
        let m = fs::symlink_metadata(p)?;
        if !m.is_dir() || m.uid() != nix::unistd::geteuid().as_raw() || m.mode() & 0o022 != 0 {
            return Err(io::Error::other(format!(
                "{} is not a directory only this user may write: not used",
                p.display()
            )));
        }
        Ok(())
    };
    own(&root)?;
    let dir = root.join(&plan.key);
    if dir.join(MANIFEST).is_file() {
        own(&dir)?;
        return Ok(dir);
    }
    let tmp = root.join(format!("{}.{}.tmp", plan.key, std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    plan.write_dir(&tmp)?;
    match fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another nosh made it meanwhile: theirs is the same.
        Err(_) if dir.join(MANIFEST).is_file() => {
            let _ = fs::remove_dir_all(&tmp);
            own(&dir)?;
            Ok(dir)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// `--with NAME` or `--with PATH`.
fn locate(given: &str) -> Result<Wanted, BundleError> {
    let path = if given.contains('/') {
        let p = PathBuf::from(given);
        if fs::metadata(&p).is_err() {
            return Err(BundleError::Missing {
                name: given.into(),
                path: given.into(),
            });
        }
        p
    } else {
        let search = std::env::var("PATH")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            });
        search
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(given))
            .find(|p| {
                fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .ok_or_else(|| BundleError::NotInPath {
                name: given.into(),
                path: search.clone(),
            })?
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    Ok(Wanted {
        name,
        path,
        lib_dir: None,
    })
}

/// `--with-dir DIR`: every executable regular file directly in DIR, with
/// DIR/lib searched first for their libraries.
fn toolkit(dir: &Path) -> Result<Vec<Wanted>, BundleError> {
    let read = |source| BundleError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let path = entry.path();
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        found.push(Wanted {
            name: name.to_string(),
            path: path.clone(),
            lib_dir: Some(dir.join(LIB_DIR)),
        });
    }
    if found.is_empty() {
        return Err(BundleError::EmptyDir {
            dir: dir.display().to_string(),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// What this binary itself is built for: the only kind of program brought.
fn own_machine() -> (u8, String) {
    std::fs::File::open("/proc/self/exe")
        .ok()
        .and_then(|f| program::parse_elf(&f).ok())
        .map(|e| (e.class, e.machine))
        .unwrap_or((64, "x86-64".into()))
}

fn build(wanted: Vec<Wanted>) -> Result<Plan, BundleError> {
    let (own_class, own_machine) = own_machine();
    let host = Ctx::for_root(PathBuf::from("/"));
    let mut manifest = Manifest {
        format: FORMAT,
        ..Default::default()
    };
    let mut files: Vec<(String, PathBuf, u32)> = Vec::new();
    // Library name -> host path.
    let mut libraries: BTreeMap<String, String> = BTreeMap::new();
    // (interpreter, the tool that brought it)
    let mut loader: Option<(String, String)> = None;
    let mut programs_size = 0u64;
    for w in wanted {
        let shown = w.path.display().to_string();
        let canon = fs::canonicalize(&w.path).map_err(|source| BundleError::Read {
            path: shown.clone(),
            source,
        })?;
        let meta = fs::metadata(&canon).map_err(|source| BundleError::Read {
            path: shown.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(BundleError::NotAFile {
                name: w.name,
                path: shown,
            });
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(BundleError::NotExecutable {
                name: w.name,
                path: shown,
            });
        }
        // Before reading it: a program alone over the cap is refused at once.
        programs_size += meta.len();
        if programs_size > MAX_BUNDLE {
            return Err(BundleError::TooLarge {
                total: programs_size,
                largest: format!("{shown} {} MB", meta.len() / 1_000_000),
            });
        }
        let elf = match program::inspect(&canon) {
            Ok(Program::Elf(elf)) => elf,
            Ok(Program::Script(s)) => {
                return Err(BundleError::Script {
                    name: w.name,
                    path: shown,
                    interpreter: s.interpreter,
                });
            }
            Ok(Program::Empty) => {
                return Err(BundleError::NotElf {
                    name: w.name,
                    path: shown,
                    kind: "empty".into(),
                });
            }
            Ok(Program::Other(kind)) => {
                return Err(BundleError::NotElf {
                    name: w.name,
                    path: shown,
                    kind: kind.into(),
                });
            }
            Err(source) => {
                return Err(BundleError::Read {
                    path: shown,
                    source,
                });
            }
        };
        if elf.class != own_class || elf.machine != own_machine {
            return Err(BundleError::Foreign {
                name: w.name,
                path: shown,
                class: elf.class,
                machine: elf.machine,
                own: format!("{own_class}-bit {own_machine}"),
            });
        }
        let (needs, needs_why) = needs_of(&w.name, &canon, &meta);
        let mut tool = Tool {
            name: w.name.clone(),
            host_path: canon.display().to_string(),
            size: meta.len(),
            dynamic: elf.linking == "dynamic",
            libraries: Vec::new(),
            needs,
            needs_why,
        };
        if tool.dynamic {
            let Some(interp) = elf.interpreter.clone() else {
                return Err(BundleError::NoInterpreter {
                    name: w.name,
                    path: shown,
                });
            };
            match &loader {
                Some((have, by)) if *have != interp => {
                    return Err(BundleError::TwoLoaders {
                        name: by.clone(),
                        other: w.name,
                        a: have.clone(),
                        b: interp,
                    });
                }
                Some(_) => {}
                None => loader = Some((interp.clone(), w.name.clone())),
            }
            let interp_name = interp.rsplit('/').next().unwrap_or_default().to_string();
            let env: Vec<String> = w
                .lib_dir
                .iter()
                .map(|d| format!("LD_LIBRARY_PATH={}", d.display()))
                .collect();
            let Some(path_text) = canon.to_str() else {
                return Err(BundleError::Read {
                    path: shown,
                    source: io::Error::other("the path is not UTF-8"),
                });
            };
            let resolution =
                crate::target::libs::resolve(&host, path_text, &env).unwrap_or_default();
            for needed in &resolution.needed {
                // The loader is already loaded when a library names it.
                if needed.name == interp_name {
                    continue;
                }
                let Some(found) = &needed.path else {
                    return Err(BundleError::MissingLibrary {
                        name: w.name,
                        path: shown,
                        library: needed.name.clone(),
                    });
                };
                if needed.name.contains('/') || !valid_name(&needed.name) {
                    return Err(BundleError::MissingLibrary {
                        name: w.name,
                        path: shown,
                        library: needed.name.clone(),
                    });
                }
                match libraries.get(&needed.name) {
                    Some(have) if have != found => {
                        return Err(BundleError::LibraryConflict {
                            library: needed.name.clone(),
                            a: have.clone(),
                            b: found.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        libraries.insert(needed.name.clone(), found.clone());
                    }
                }
                if !tool.libraries.contains(&needed.name) {
                    tool.libraries.push(needed.name.clone());
                }
            }
        }
        files.push((format!("{BIN_DIR}/{}", w.name), canon, 0o755));
        manifest.tools.push(tool);
    }
    if let Some((interp, _)) = loader {
        let canon = fs::canonicalize(&interp).map_err(|source| BundleError::Read {
            path: interp.clone(),
            source,
        })?;
        let bytes = fs::read(&canon).map_err(|source| BundleError::Read {
            path: interp.clone(),
            source,
        })?;
        let mut options = Vec::new();
        // glibc's loader reads the target's ld.so.cache unless told not to;
        // musl's has no cache (and no such option).
        if contains(&bytes, b"--inhibit-cache") {
            options.push("--inhibit-cache".to_string());
        }
        manifest.loader = Some(Loader {
            host_path: canon.display().to_string(),
            options,
            argv0: contains(&bytes, b"--argv0"),
        });
        files.push((LOADER.to_string(), canon, 0o755));
    }
    for (name, path) in &libraries {
        let size = fs::metadata(path).map(|m| m.len()).unwrap_or_default();
        manifest.libraries.push(Library {
            name: name.clone(),
            host_path: path.clone(),
            size,
        });
        files.push((format!("{LIB_DIR}/{name}"), PathBuf::from(path), 0o644));
    }
    let mut plan = Plan {
        manifest,
        files,
        key: String::new(),
    };
    let total = plan.total_size();
    if total > MAX_BUNDLE {
        let largest = plan
            .files
            .iter()
            .filter_map(|(_, p, _)| Some((fs::metadata(p).ok()?.len(), p)))
            .max_by_key(|(size, _)| *size)
            .map(|(size, p)| format!("{} {} MB", p.display(), size / 1_000_000))
            .unwrap_or_default();
        return Err(BundleError::TooLarge { total, largest });
    }
    plan.key = key(&plan)?;
    Ok(plan)
}

/// The bundle's key: the manifest and, for every file, its path, device,
/// inode, size, and modification and change times. Any change to a host
/// file (an upgrade replaces it or rewrites it: both move its ctime) gives
/// another key, without reading megabytes of libraries on every attach.
fn key(plan: &Plan) -> Result<String, BundleError> {
    let mut h = Sha256::new();
    h.update(b"nosh-tools-1\n");
    h.update(plan.manifest_json());
    for (rel, src, mode) in &plan.files {
        let m = fs::metadata(src).map_err(|source| BundleError::Read {
            path: src.display().to_string(),
            source,
        })?;
        h.update(
            format!(
                "\n{rel} {} {mode:o} {} {} {} {}.{} {}.{}",
                src.display(),
                m.dev(),
                m.ino(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            )
            .as_bytes(),
        );
    }
    Ok(h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What a program needs that a shell with no capabilities lacks: its file
/// capabilities, root through a setuid bit, or what is known of it.
fn needs_of(name: &str, path: &Path, meta: &fs::Metadata) -> (Vec<String>, Option<String>) {
    if let Some(caps) = crate::sys::file_capabilities(path).filter(|c| *c != 0) {
        return (
            crate::target::procinfo::cap_names(caps),
            Some("its file capabilities on this host".into()),
        );
    }
    if meta.mode() & 0o4000 != 0 && meta.uid() == 0 {
        return (
            vec!["root".into()],
            Some("it is setuid root on this host, and no_new_privs ignores the bit".into()),
        );
    }
    KNOWN_NEEDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, caps, why)| {
            (
                caps.iter().map(|c| c.to_string()).collect(),
                Some(why.to_string()),
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(name: &str) -> Option<String> {
        ["/usr/bin", "/bin"]
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| Path::new(p).exists())
    }

    #[test]
    fn a_dynamic_program_brings_its_library_closure_and_the_hosts_loader() {
        let plan = Plan::new(&["ls".into()], &[]).unwrap();
        let tool = &plan.manifest.tools[0];
        assert_eq!(tool.name, "ls");
        assert!(tool.dynamic);
        assert!(tool.libraries.iter().any(|l| l == "libc.so.6"), "{tool:?}");
        // The loader is brought once, as ld.so, not as a library.
        let loader = plan.manifest.loader.as_ref().unwrap();
        assert!(loader.host_path.contains("ld-linux"), "{loader:?}");
        assert!(!tool.libraries.iter().any(|l| l.starts_with("ld-linux")));
        assert!(loader.options.contains(&"--inhibit-cache".to_string()));
        let names: Vec<_> = plan.manifest.libraries.iter().map(|l| &l.name).collect();
        for lib in &tool.libraries {
            assert!(names.contains(&lib), "{lib} listed but not brought");
        }
        assert_eq!(plan.key.len(), 12);
    }

    #[test]
    fn the_key_is_stable_and_names_the_file_set() {
        let a = Plan::new(&["ls".into()], &[]).unwrap();
        let b = Plan::new(&["ls".into()], &[]).unwrap();
        assert_eq!(a.key, b.key);
        let c = Plan::new(&["ls,cat".into()], &[]).unwrap();
        assert_ne!(a.key, c.key);
    }

    #[test]
    fn a_written_bundle_holds_what_the_manifest_lists() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::new(&["ls".into()], &[]).unwrap();
        let dest = dir.path().join("b");
        plan.write_dir(&dest).unwrap();
        let m: Manifest = serde_json::from_slice(&fs::read(dest.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(m, plan.manifest);
        assert!(dest.join("bin/ls").is_file());
        assert!(dest.join(LOADER).is_file());
        for l in &m.libraries {
            assert!(dest.join("lib").join(&l.name).is_file(), "{}", l.name);
        }
        let mode = fs::metadata(dest.join("bin/ls"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn scripts_unknown_names_and_odd_files_are_refused_in_one_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("hello");
        fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let err = Plan::new(&[script.display().to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("is a script for /bin/sh"), "{err}");
        let err = Plan::new(&["no-such-tool-anywhere".into()], &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("no such program in this host's PATH")
        );
        let data = dir.path().join("data");
        fs::write(&data, "just text\n").unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        let err = Plan::new(&[data.display().to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("not a program"), "{err}");
        let plain = dir.path().join("plain");
        fs::write(&plain, "x").unwrap();
        let err = Plan::new(&[plain.display().to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");
        if let Some(ls) = bin("ls") {
            let err = Plan::new(&[ls.clone(), ls.clone()], &[]).unwrap_err();
            assert!(
                err.to_string()
                    .contains("two brought tools would be called ls")
            );
        }
    }

    #[test]
    fn a_bundle_over_the_cap_is_refused_naming_the_largest_file() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("huge");
        let f = fs::File::create(&big).unwrap();
        f.set_len(MAX_BUNDLE + (1 << 20)).unwrap();
        fs::set_permissions(&big, fs::Permissions::from_mode(0o755)).unwrap();
        let err = Plan::new(&[big.display().to_string()], &[]).unwrap_err();
        assert!(matches!(err, BundleError::TooLarge { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("over the 268 MB"), "{text}");
        assert!(text.contains("huge 269 MB"), "{text}");
    }

    #[test]
    fn known_privileged_tools_say_what_they_need() {
        let meta = fs::metadata("/proc/self/exe").unwrap();
        let (needs, why) = needs_of("tcpdump", Path::new("/proc/self/exe"), &meta);
        assert_eq!(needs, ["CAP_NET_RAW", "CAP_NET_ADMIN"]);
        assert_eq!(why.as_deref(), Some("packet capture"));
        assert!(
            needs_of("curl", Path::new("/proc/self/exe"), &meta)
                .0
                .is_empty()
        );
    }
}
