//! The shared libraries a program needs, found the way the target's dynamic
//! loader would find them (ld.so(8)): `DT_RPATH`, `LD_LIBRARY_PATH`,
//! `DT_RUNPATH` (with `$ORIGIN`), the target's `/etc/ld.so.cache`, then the
//! default and multiarch directories; transitively, then the symbol
//! versions each object needs (`DT_VERNEED`) against what the library found
//! defines (`DT_VERDEF`). Shared by `file`, `entrypoint` and `doctor`.
//!
//! A musl program (interpreter `ld-musl-*`) is searched as musl does:
//! no cache, `/etc/ld-musl-ARCH.path` or `/lib:/usr/local/lib:/usr/lib`.
//!
//! Everything read here belongs to the target: the cache and every ELF are
//! hostile input, read bounded, and a bad one is reported, never a panic.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::builtins::readlink;
use crate::shell::Ctx;
use crate::target::file;
use crate::target::program::{self, Dynamic};

/// Far above a real cache (a full desktop's is ~200 KiB).
const MAX_CACHE: u64 = 16 << 20;
/// Objects loaded in one walk: far above real programs (a few dozen).
const MAX_OBJECTS: usize = 512;
/// Files tried in one walk: a hostile rpath of thousands of directories
/// on every library must not make `doctor` crawl.
const MAX_PROBES: usize = 20_000;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// `FLAG_ELF_LIBC6`: the entry is a glibc ELF library.
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_TYPE_MASK: i32 = 0x00ff;

/// One entry of ld.so.cache: the file name (soname) and the path ldconfig
/// found for it, with the flags that say which ABI it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub flags: i32,
    pub name: String,
    pub path: String,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn c_str(b: &[u8], at: usize) -> Option<String> {
    let rest = b.get(at..)?;
    let end = rest.iter().take(4096).position(|c| *c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Parse ld.so.cache as glibc's `dl-cache.h` lays it out: the new format
/// (`glibc-ld.so.cache1.1`, 48-byte header, 24-byte entries, string
/// offsets from the header), the old one (`ld.so-1.7.0`, 12-byte entries,
/// offsets from the end of the entries), or the old one followed by the
/// new (what ldconfig wrote until glibc 2.32). Native byte order, as the
/// loader reads it. Entries whose strings fall outside the file are
/// dropped; `None` when the header itself is not a cache.
pub fn parse_cache(data: &[u8]) -> Option<Vec<CacheEntry>> {
    let new_at = if data.starts_with(NEW_MAGIC) {
        0
    } else if data.starts_with(OLD_MAGIC) {
        let n = u32_at(data, 12)? as usize;
        let end = 16usize.checked_add(n.checked_mul(12)?)?;
        // The new format follows, 8-byte aligned, when there is one.
        let aligned = end.checked_add(7)? & !7;
        if data.get(aligned..)?.starts_with(NEW_MAGIC) {
            aligned
        } else {
            let strings = data.get(end..)?;
            let entries = data.get(16..end)?;
            return Some(cache_entries(entries, 12, strings));
        }
    } else {
        return None;
    };
    let new = data.get(new_at..)?;
    let n = u32_at(new, 20)? as usize;
    let entries = new.get(48..48usize.checked_add(n.checked_mul(24)?)?)?;
    Some(cache_entries(entries, 24, new))
}

/// The entries of either format, `size` bytes each: the flags, then the
/// offsets of the name and the path in `strings`. An entry whose strings
/// are out of bounds is skipped.
fn cache_entries(entries: &[u8], size: usize, strings: &[u8]) -> Vec<CacheEntry> {
    entries
        .chunks_exact(size)
        .filter_map(|e| {
            Some(CacheEntry {
                flags: u32_at(e, 0)? as i32,
                name: c_str(strings, u32_at(e, 4)? as usize)?,
                path: c_str(strings, u32_at(e, 8)? as usize)?,
            })
        })
        .collect()
}

/// One library a program needs, and where the loader would find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Needed {
    /// The `DT_NEEDED` name, e.g. `libstdc++.so.6`.
    pub name: String,
    /// The object (program or library) whose `DT_NEEDED` names it.
    pub needed_by: String,
    /// Where it was found in the target, or `None`: missing.
    pub path: Option<String>,
    /// How it was found: rpath, LD_LIBRARY_PATH, runpath, ld.so.cache,
    /// default directories.
    pub via: Option<&'static str>,
}

/// A symbol version an object needs that the library found does not define.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingVersion {
    pub version: String,
    pub library: String,
    pub library_path: String,
    pub needed_by: String,
    /// The newest version of the same family the library does define
    /// (`GLIBC_2.36` for a missing `GLIBC_2.38`).
    pub newest_defined: Option<String>,
}

/// The result of resolving one program's libraries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub needed: Vec<Needed>,
    pub missing_versions: Vec<MissingVersion>,
    /// Objects that could not be parsed (damaged, unreadable): (path, error).
    pub unreadable: Vec<(String, String)>,
    /// True when the walk stopped at its bound.
    pub truncated: bool,
    /// Where the loader looks by default for this program's libraries
    /// (`/usr/lib/x86_64-linux-gnu`): where a fix copies a missing one.
    pub lib_dir: String,
}

impl Resolution {
    pub fn missing(&self) -> impl Iterator<Item = &Needed> {
        self.needed.iter().filter(|n| n.path.is_none())
    }

    /// One sentence per problem, and a Dockerfile line that fixes it:
    /// (message, fix). Untrusted names are escaped.
    pub fn problems(&self) -> Vec<(String, String)> {
        use crate::term::escape::field;
        let mut out = Vec::new();
        for n in self.missing() {
            let name = field(n.name.as_bytes());
            out.push((
                format!(
                    "{name}, needed by {}, is not in the image: the loader exits 127 with \"error while loading shared libraries: {name}: cannot open shared object file\"",
                    field(n.needed_by.as_bytes())
                ),
                missing_library_fix(&name, &self.lib_dir),
            ));
        }
        for v in &self.missing_versions {
            out.push((
                format!(
                    "{} needs {} from {}, which the image's {} does not define{}: the loader fails with \"version `{}' not found\"",
                    field(v.needed_by.as_bytes()),
                    field(v.version.as_bytes()),
                    field(v.library.as_bytes()),
                    field(v.library_path.as_bytes()),
                    v.newest_defined
                        .as_ref()
                        .map(|d| format!(" (it has up to {})", field(d.as_bytes())))
                        .unwrap_or_default(),
                    field(v.version.as_bytes()),
                ),
                format!(
                    "build {} against the image's {} (a build stage on the same distribution release as the base image), or use a base image whose {} defines {}",
                    field(v.needed_by.as_bytes()),
                    field(v.library.as_bytes()),
                    field(v.library.as_bytes()),
                    field(v.version.as_bytes())
                ),
            ));
        }
        out
    }
}

/// The fix for library `name` missing from `dir`: copy it from a build
/// stage of the same release; for the C++ runtime, also linking it in or a
/// base image that has it. One text for `entrypoint`, `file` and `doctor`.
pub fn missing_library_fix(name: &str, dir: &str) -> String {
    let cxx = name.starts_with("libstdc++") || name.starts_with("libgcc_s");
    format!(
        "COPY --from=build {dir}/{name}* {dir}/ (from a build stage on the same distribution release){}",
        if cxx {
            "; or link it in (-static-libstdc++ -static-libgcc), or use a base image with the C++ runtime (distroless cc)"
        } else {
            ""
        },
    )
}

/// The Debian multiarch directory and `$PLATFORM` for an ELF machine.
fn multiarch(machine: &str, class: u8) -> (&'static str, &'static str) {
    match (machine, class) {
        ("x86-64", 64) => ("x86_64-linux-gnu", "x86_64"),
        ("Intel 80386", _) => ("i386-linux-gnu", "i686"),
        ("ARM aarch64", _) => ("aarch64-linux-gnu", "aarch64"),
        ("ARM", _) => ("arm-linux-gnueabihf", "v7l"),
        ("64-bit PowerPC", _) => ("powerpc64le-linux-gnu", "powerpc64le"),
        ("IBM S/390", _) => ("s390x-linux-gnu", "s390x"),
        ("RISC-V", _) => ("riscv64-linux-gnu", "riscv64"),
        _ => ("", ""),
    }
}

/// Expand the dynamic string tokens of an rpath entry (ld.so(8)).
fn expand(entry: &str, origin: &str, lib: &str, platform: &str) -> String {
    entry
        .replace("${ORIGIN}", origin)
        .replace("$ORIGIN", origin)
        .replace("${LIB}", lib)
        .replace("$LIB", lib)
        .replace("${PLATFORM}", platform)
        .replace("$PLATFORM", platform)
}

fn dir_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((d, _)) => d.to_string(),
    }
}

struct Walk<'a> {
    ctx: &'a Ctx,
    cache: Vec<CacheEntry>,
    ld_library_path: Vec<String>,
    class: u8,
    machine: String,
    defaults: Vec<String>,
    lib: String,
    platform: &'static str,
    probes: std::cell::Cell<usize>,
}

impl Walk<'_> {
    /// The object at `path` in the target if it is a loadable library of
    /// the program's class and machine (the loader skips others and goes
    /// on searching): (canonical path, its dynamic section).
    fn load(&self, path: &str) -> Option<(String, Option<Dynamic>, Option<String>)> {
        let n = self.probes.get();
        if n >= MAX_PROBES {
            return None;
        }
        self.probes.set(n + 1);
        let canon = readlink::canonicalize(self.ctx, path).ok()?;
        let f = file::open(&self.ctx.resolve(&canon)).ok()?;
        match program::parse_dynamic(&f) {
            Ok(Some(d)) if d.class == self.class && d.machine == self.machine => {
                Some((canon, Some(d), None))
            }
            Ok(Some(_)) => None,
            // A library with no dynamic section still loads: nothing more to follow.
            Ok(None) => Some((canon, None, None)),
            Err(e) => {
                let ok_elf = program::parse_elf(&f)
                    .is_ok_and(|elf| elf.class == self.class && elf.machine == self.machine);
                ok_elf.then(|| (canon, None, Some(e.to_string())))
            }
        }
    }

    /// Search one library name for `requester` (its rpath/runpath and
    /// origin), in the loader's order.
    #[allow(
        clippy::type_complexity,
        reason = "one private call site; the tuple is (where, how, object, parse error)"
    )]
    fn find(
        &self,
        name: &str,
        requester: &Dynamic,
        origin: &str,
        exe: &Dynamic,
        exe_origin: &str,
    ) -> Option<(String, &'static str, Option<Dynamic>, Option<String>)> {
        if name.contains('/') {
            return self
                .load(name)
                .map(|(p, d, e)| (p, "path in DT_NEEDED", d, e));
        }
        let dirs = |list: &str, origin: &str| -> Vec<String> {
            list.split(':')
                .filter(|d| !d.is_empty())
                .map(|d| expand(d, origin, &self.lib, self.platform))
                .collect()
        };
        let mut order: Vec<(Vec<String>, &'static str)> = Vec::new();
        if requester.runpath.is_none() {
            if let Some(r) = &requester.rpath {
                order.push((dirs(r, origin), "DT_RPATH"));
            }
            if exe.runpath.is_none()
                && let Some(r) = &exe.rpath
            {
                order.push((dirs(r, exe_origin), "DT_RPATH of the program"));
            }
        }
        order.push((self.ld_library_path.clone(), "LD_LIBRARY_PATH"));
        if let Some(r) = &requester.runpath {
            order.push((dirs(r, origin), "DT_RUNPATH"));
        }
        for (list, via) in &order {
            for d in list {
                if let Some((p, dy, e)) = self.load(&format!("{}/{name}", d.trim_end_matches('/')))
                {
                    return Some((p, via, dy, e));
                }
            }
        }
        if requester.nodeflib {
            return None;
        }
        for entry in self
            .cache
            .iter()
            .filter(|c| c.name == name && c.flags & FLAG_TYPE_MASK == FLAG_ELF_LIBC6)
        {
            if let Some((p, dy, e)) = self.load(&entry.path) {
                return Some((p, "ld.so.cache", dy, e));
            }
        }
        for d in &self.defaults {
            if let Some((p, dy, e)) = self.load(&format!("{d}/{name}")) {
                return Some((p, "default directories", dy, e));
            }
        }
        None
    }
}

/// The value of `LD_LIBRARY_PATH` in `env` (`KEY=VALUE` strings).
fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
}

/// Resolve every library `program` (a path in the target) needs, with the
/// target's environment `env` (for `LD_LIBRARY_PATH`). `None` when the
/// program is not a dynamically linked ELF.
pub fn resolve(ctx: &Ctx, program_path: &str, env: &[String]) -> Option<Resolution> {
    let exe_path = readlink::canonicalize(ctx, program_path).ok()?;
    let f = file::open(&ctx.resolve(&exe_path)).ok()?;
    let exe = program::parse_dynamic(&f).ok()??;
    let (arch, platform) = multiarch(&exe.machine, exe.class);
    let lib = if arch.is_empty() {
        "lib".to_string()
    } else {
        format!("lib/{arch}")
    };
    let interpreter = program::parse_elf(&f).ok().and_then(|e| e.interpreter);
    let musl = interpreter
        .as_deref()
        .and_then(|i| i.rsplit('/').next())
        .and_then(|i| i.strip_prefix("ld-musl-"))
        .and_then(|i| i.split('.').next())
        .map(str::to_string);
    let (cache, defaults) = match &musl {
        // musl's loader: no cache; /etc/ld-musl-ARCH.path (one directory a
        // line, or colon-separated) replaces the default /lib:/usr/local/lib:/usr/lib.
        Some(march) => {
            let listed = file::read(&ctx.resolve(&format!("/etc/ld-musl-{march}.path")), 1 << 16)
                .map(|d| {
                    String::from_utf8_lossy(&d)
                        .split(['\n', ':'])
                        .map(str::trim)
                        .filter(|d| d.starts_with('/'))
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let dirs = if listed.is_empty() {
                vec!["/lib".into(), "/usr/local/lib".into(), "/usr/lib".into()]
            } else {
                listed
            };
            (Vec::new(), dirs)
        }
        None => {
            let cache = file::read(&ctx.resolve("/etc/ld.so.cache"), MAX_CACHE)
                .ok()
                .and_then(|d| parse_cache(&d))
                .unwrap_or_default();
            // Debian's glibc loader: the multiarch directories first, then
            // the usual ones; lib64 for the 64-bit ports that use it.
            let mut defaults = Vec::new();
            if !arch.is_empty() {
                defaults.push(format!("/lib/{arch}"));
                defaults.push(format!("/usr/lib/{arch}"));
            }
            if exe.class == 64 {
                defaults.extend(["/lib64".into(), "/usr/lib64".into()]);
            }
            defaults.extend(["/lib".into(), "/usr/lib".into()]);
            (cache, defaults)
        }
    };
    let ld_library_path = env_value(env, "LD_LIBRARY_PATH")
        .unwrap_or("")
        .split([':', ';'])
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let walk = Walk {
        ctx,
        cache,
        ld_library_path,
        class: exe.class,
        machine: exe.machine.clone(),
        defaults,
        lib,
        platform,
        probes: std::cell::Cell::new(0),
    };
    let exe_origin = dir_of(&exe_path);
    let mut res = Resolution {
        lib_dir: walk
            .defaults
            .get(1)
            .cloned()
            .unwrap_or_else(|| "/usr/lib".into()),
        ..Default::default()
    };
    // Loaded objects: (path, soname or file name, dynamic section).
    let mut loaded: Vec<(String, String, Dynamic)> = Vec::new();
    let mut seen_names: BTreeSet<String> = BTreeSet::new();
    let mut seen_paths: BTreeSet<String> = BTreeSet::from([exe_path.clone()]);
    // Breadth first, as the loader orders its search list.
    let mut queue: std::collections::VecDeque<(String, Dynamic)> =
        std::collections::VecDeque::from([(exe_path.clone(), exe.clone())]);
    while let Some((obj_path, obj)) = queue.pop_front() {
        let origin = dir_of(&obj_path);
        for name in &obj.needed {
            if !seen_names.insert(name.clone()) {
                continue;
            }
            if loaded.len() >= MAX_OBJECTS {
                res.truncated = true;
                break;
            }
            match walk.find(name, &obj, &origin, &exe, &exe_origin) {
                Some((path, via, dy, err)) => {
                    res.needed.push(Needed {
                        name: name.clone(),
                        needed_by: obj_path.clone(),
                        path: Some(path.clone()),
                        via: Some(via),
                    });
                    if let Some(e) = err {
                        res.unreadable.push((path.clone(), e));
                    }
                    if let Some(dy) = dy {
                        if let Some(so) = &dy.soname {
                            seen_names.insert(so.clone());
                        }
                        loaded.push((path.clone(), name.clone(), dy.clone()));
                        if seen_paths.insert(path.clone()) {
                            queue.push_back((path, dy));
                        }
                    }
                }
                None => res.needed.push(Needed {
                    name: name.clone(),
                    needed_by: obj_path.clone(),
                    path: None,
                    via: None,
                }),
            }
        }
    }
    if walk.probes.get() >= MAX_PROBES {
        // What was not searched for is not known to be missing.
        res.truncated = true;
        res.needed.retain(|n| n.path.is_some());
    }
    // Symbol versions: each object's DT_VERNEED against the DT_VERDEF of
    // the library it names (found above; a missing one is reported already).
    let mut objects: Vec<(String, &Dynamic)> = vec![(exe_path.clone(), &exe)];
    objects.extend(loaded.iter().map(|(p, _, d)| (p.clone(), d)));
    for (path, obj) in &objects {
        for need in &obj.verneed {
            let Some((lib_path, _, lib)) = loaded
                .iter()
                .find(|(_, n, d)| *n == need.file || d.soname.as_deref() == Some(&need.file))
            else {
                continue;
            };
            for v in &need.versions {
                if !lib.verdef.contains(v) {
                    res.missing_versions.push(MissingVersion {
                        version: v.clone(),
                        library: need.file.clone(),
                        library_path: lib_path.clone(),
                        needed_by: path.clone(),
                        newest_defined: newest_of_family(&lib.verdef, v),
                    });
                }
            }
        }
    }
    Some(res)
}

/// The highest `FAMILY_x.y.z` in `defined` for the family of `wanted`
/// (`GLIBC_2.38` → the newest `GLIBC_*`).
fn newest_of_family(defined: &[String], wanted: &str) -> Option<String> {
    let (family, _) = wanted.rsplit_once('_')?;
    let key = |v: &str| -> Vec<u32> {
        v.rsplit_once('_')
            .map(|(_, n)| n.split('.').map(|x| x.parse().unwrap_or(0)).collect())
            .unwrap_or_default()
    };
    defined
        .iter()
        .filter(|d| d.rsplit_once('_').is_some_and(|(f, _)| f == family))
        .max_by_key(|d| key(d))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A cache in the new format with the given (flags, name, path).
    fn new_cache(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = 48 + 24 * entries.len();
        let mut table = Vec::new();
        for (flags, name, path) in entries {
            let k = strings_at + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let v = strings_at + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_ne_bytes());
            table.extend_from_slice(&(k as u32).to_ne_bytes());
            table.extend_from_slice(&(v as u32).to_ne_bytes());
            table.extend_from_slice(&[0; 12]);
        }
        let mut out = NEW_MAGIC.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_ne_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_ne_bytes());
        out.resize(48, 0);
        out.extend(table);
        out.extend(strings);
        out
    }

    #[test]
    fn the_hosts_own_cache_parses_and_finds_libc() {
        let Ok(data) = fs::read("/etc/ld.so.cache") else {
            panic!("this test needs the host's /etc/ld.so.cache");
        };
        let entries = parse_cache(&data).expect("a cache");
        assert!(
            entries
                .iter()
                .any(|e| e.name == "libc.so.6" && e.path.ends_with("/libc.so.6")),
            "{entries:?}"
        );
    }

    #[test]
    fn new_and_old_cache_formats_parse_and_lies_are_dropped() {
        let data = new_cache(&[(0x0303, "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1")]);
        let e = parse_cache(&data).unwrap();
        assert_eq!(e[0].name, "libz.so.1");
        assert_eq!(e[0].path, "/lib/x86_64-linux-gnu/libz.so.1");
        // The old format alone: offsets from the end of the entries.
        let mut old = OLD_MAGIC.to_vec();
        old.push(0);
        old.extend_from_slice(&1u32.to_ne_bytes());
        old.extend_from_slice(&3i32.to_ne_bytes());
        old.extend_from_slice(&0u32.to_ne_bytes());
        old.extend_from_slice(&6u32.to_ne_bytes());
        old.extend_from_slice(b"liba\0\0/lib/liba\0");
        let e = parse_cache(&old).unwrap();
        assert_eq!(
            (e[0].name.as_str(), e[0].path.as_str()),
            ("liba", "/lib/liba")
        );
        // A count far past the end, and a string offset past the end.
        let mut lying = data.clone();
        lying[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_cache(&lying).is_none());
        let mut lying = data;
        lying[52..56].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(parse_cache(&lying), Some(vec![]));
        assert!(parse_cache(b"not a cache").is_none());
    }

    /// An rpath of thousands of directories on a program: the walk stops
    /// at its bound, quickly, and calls nothing missing it did not search.
    #[test]
    fn a_hostile_rpath_is_bounded_and_reports_nothing_unsearched_as_missing() {
        let host = Ctx::for_root(std::path::PathBuf::from("/"));
        let dy = Dynamic {
            class: 64,
            machine: "x86-64".into(),
            rpath: Some(vec!["/nope"; 2000].join(":")),
            ..Default::default()
        };
        let walk = Walk {
            ctx: &host,
            cache: Vec::new(),
            ld_library_path: Vec::new(),
            class: 64,
            machine: "x86-64".into(),
            defaults: Vec::new(),
            lib: "lib".into(),
            platform: "x86_64",
            probes: std::cell::Cell::new(0),
        };
        let started = std::time::Instant::now();
        for i in 0..100 {
            assert!(
                walk.find(&format!("lib{i}.so"), &dy, "/", &dy, "/")
                    .is_none()
            );
        }
        assert_eq!(walk.probes.get(), MAX_PROBES);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn rpath_tokens_expand() {
        assert_eq!(
            expand(
                "$ORIGIN/../lib:${LIB}",
                "/opt/app/bin",
                "lib/x86_64-linux-gnu",
                "x86_64"
            ),
            "/opt/app/bin/../lib:lib/x86_64-linux-gnu"
        );
    }

    #[test]
    fn the_newest_version_of_a_family_is_named() {
        let defs: Vec<String> = ["GLIBC_2.2.5", "GLIBC_2.36", "GLIBC_2.4", "GLIBC_PRIVATE"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            newest_of_family(&defs, "GLIBC_2.38").as_deref(),
            Some("GLIBC_2.36")
        );
    }

    /// /bin/ls with one needed glibc version renamed to a future one, in
    /// a root with the host's libc: the version is named, with the newest
    /// one the image's libc defines.
    #[test]
    fn a_glibc_version_newer_than_the_images_libc_is_named() {
        let host = Ctx::for_root(std::path::PathBuf::from("/"));
        let full = resolve(&host, "/bin/ls", &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let mut ls = fs::read("/bin/ls").unwrap();
        let old = b"GLIBC_2.3.4\0";
        let at = ls
            .windows(old.len())
            .position(|w| w == old)
            .expect("ls needs GLIBC_2.3.4");
        ls[at..at + old.len()].copy_from_slice(b"GLIBC_9.9.9\0");
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::write(r.join("bin/ls"), &ls).unwrap();
        let libs = r.join("usr/lib/x86_64-linux-gnu");
        fs::create_dir_all(&libs).unwrap();
        for n in &full.needed {
            fs::copy(n.path.as_ref().unwrap(), libs.join(&n.name)).unwrap();
        }
        let ctx = Ctx::for_root(r.to_path_buf());
        let res = resolve(&ctx, "/bin/ls", &[]).unwrap();
        assert!(res.missing().next().is_none(), "{res:?}");
        let v = &res.missing_versions;
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].version, "GLIBC_9.9.9");
        assert_eq!(v[0].library, "libc.so.6");
        assert_eq!(v[0].needed_by, "/bin/ls");
        assert!(
            v[0].newest_defined
                .as_deref()
                .is_some_and(|n| n.starts_with("GLIBC_2."))
        );
    }

    /// A FIFO planted where a library should be is not opened for reading
    /// (that would block): it counts as missing, as the loader would fail.
    #[test]
    fn a_fifo_in_place_of_a_library_never_blocks_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::copy("/bin/ls", r.join("bin/ls")).unwrap();
        let libs = r.join("lib/x86_64-linux-gnu");
        fs::create_dir_all(&libs).unwrap();
        nix::unistd::mkfifo(
            &libs.join("libc.so.6"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        let ctx = Ctx::for_root(r.to_path_buf());
        let started = std::time::Instant::now();
        let res = resolve(&ctx, "/bin/ls", &[]).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(res.missing().any(|n| n.name == "libc.so.6"), "{res:?}");
    }

    /// /bin/ls made a musl program (its PT_INTERP rewritten): its
    /// libraries in /usr/local/lib are found as musl finds them, and
    /// `/etc/ld-musl-x86_64.path` replaces the default directories.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_musl_program_is_searched_as_musl_searches() {
        let host = Ctx::for_root(std::path::PathBuf::from("/"));
        let full = resolve(&host, "/bin/ls", &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let mut ls = fs::read("/bin/ls").unwrap();
        let glibc = b"/lib64/ld-linux-x86-64.so.2\0";
        let at = ls.windows(glibc.len()).position(|w| w == glibc).unwrap();
        let mut musl = b"/lib/ld-musl-x86_64.so.1".to_vec();
        musl.resize(glibc.len(), 0);
        ls[at..at + glibc.len()].copy_from_slice(&musl);
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::write(r.join("bin/ls"), &ls).unwrap();
        fs::create_dir_all(r.join("usr/local/lib")).unwrap();
        for n in &full.needed {
            fs::copy(
                n.path.as_ref().unwrap(),
                r.join("usr/local/lib").join(&n.name),
            )
            .unwrap();
        }
        let ctx = Ctx::for_root(r.to_path_buf());
        let res = resolve(&ctx, "/bin/ls", &[]).unwrap();
        assert!(res.missing().next().is_none(), "{res:?}");
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/ld-musl-x86_64.path"), "/opt/lib\n").unwrap();
        let res = resolve(&ctx, "/bin/ls", &[]).unwrap();
        assert!(res.missing().any(|n| n.name == "libc.so.6"), "{res:?}");
    }

    /// A root with the host's /bin/ls and the libraries its loader finds
    /// on the host, minus one: the missing one is named, the rest found.
    #[test]
    fn a_library_left_out_of_a_root_is_named_with_its_requester() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let host = Ctx::for_root(std::path::PathBuf::from("/"));
        let full = resolve(&host, "/bin/ls", &[]).expect("ls is dynamic");
        assert!(full.missing().next().is_none(), "{full:?}");
        assert!(full.missing_versions.is_empty(), "{full:?}");
        let libc = full.needed.iter().find(|n| n.name == "libc.so.6").unwrap();
        assert!(libc.path.is_some());
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::copy("/bin/ls", r.join("bin/ls")).unwrap();
        let mut skipped = None;
        for n in &full.needed {
            let p = n.path.as_ref().unwrap();
            if n.name == "libc.so.6" || n.name.starts_with("ld-linux") {
                let to = r.join("usr/lib/x86_64-linux-gnu").join(&n.name);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                fs::copy(p, to).unwrap();
            } else if n.needed_by == "/usr/bin/ls" || n.needed_by == "/bin/ls" {
                skipped.get_or_insert(n.name.clone());
            }
        }
        let ctx = Ctx::for_root(r.to_path_buf());
        let res = resolve(&ctx, "/bin/ls", &[]).unwrap();
        let missing: Vec<&str> = res.missing().map(|n| n.name.as_str()).collect();
        let skipped = skipped.expect("ls needs a library besides libc");
        assert!(missing.contains(&skipped.as_str()), "{res:?}");
        assert!(!missing.contains(&"libc.so.6"), "{res:?}");
        assert!(
            res.missing()
                .all(|n| n.needed_by == "/bin/ls" || n.needed_by.starts_with("/usr/lib")),
            "{res:?}"
        );
        // LD_LIBRARY_PATH is searched: put the libraries there instead.
        let alt = r.join("opt/libs");
        fs::create_dir_all(&alt).unwrap();
        for n in &full.needed {
            fs::copy(n.path.as_ref().unwrap(), alt.join(&n.name)).unwrap();
        }
        let res = resolve(&ctx, "/bin/ls", &["LD_LIBRARY_PATH=/opt/libs".into()]).unwrap();
        assert!(res.missing().next().is_none(), "{res:?}");
        assert!(res.needed.iter().any(|n| n.via == Some("LD_LIBRARY_PATH")));
    }
}
